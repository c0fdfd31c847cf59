"""Numerics and data shared by several papers, each module with its own tests in tests/common/."""
