"""One compute thread for code made of small operations."""
from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def single_threaded():
    """Run numpy's BLAS and torch (when torch is imported) on one thread, restoring both after.

    For the small matrices most reproductions use, intra-op threads only add synchronisation; on
    a machine whose cores are shared their spinning made runs 10-50x slower."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=1):
        if torch is not None:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)
