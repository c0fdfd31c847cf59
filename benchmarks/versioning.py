"""Benchmark versions from what is measured, not from the generator's source."""

import hashlib


def version_of(*parts: str) -> str:
    """A short hash of the given texts (a claims file and tier, or a kernel's source)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
