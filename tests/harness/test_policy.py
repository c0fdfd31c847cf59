import os
import subprocess
import sys

import scipy.linalg  # noqa: F401  (its own BLAS is loaded before the first measurement)
import torch
from threadpoolctl import threadpool_info

from papers.harness.policy import limit_threads, use_agg


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def run_fresh_python(code: str) -> None:
    """Run `code` in a new interpreter (nothing imported yet) and fail with its stderr if it fails."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_limit_inside_and_previous_setting_after():
    torch.set_num_threads(2)
    blas_before = blas_threads()
    with limit_threads(1):
        assert torch.get_num_threads() == 1
        assert set(blas_threads()) <= {1}
        assert "--xla_cpu_multi_thread_eigen=false" in os.environ.get("XLA_FLAGS", "") or "jax" in sys.modules
    assert torch.get_num_threads() == 2 and blas_threads() == blas_before


def test_setting_restored_when_the_body_raises():
    torch.set_num_threads(2)
    xla_before = os.environ.get("XLA_FLAGS")
    try:
        with limit_threads(1):
            raise ValueError
    except ValueError:
        pass
    assert torch.get_num_threads() == 2 and os.environ.get("XLA_FLAGS") == xla_before


def test_none_leaves_every_library_alone():
    torch.set_num_threads(2)
    with limit_threads(None):
        assert torch.get_num_threads() == 2


def test_limit_holds_for_torch_imported_after_the_harness():
    code = (
        "from papers.harness.policy import limit_threads\n"
        "with limit_threads(1):\n"
        "    import torch\n"
        "    assert torch.get_num_threads() == 1, torch.get_num_threads()\n"
    )
    run_fresh_python(code)


def test_agg_backend_is_selected():
    use_agg()
    import matplotlib

    assert matplotlib.get_backend().lower() == "agg"


def test_limit_covers_scipys_own_blas_loaded_inside_the_body():
    code = (
        "from threadpoolctl import threadpool_info\n"
        "from papers.harness.policy import limit_threads\n"
        "with limit_threads(1):\n"
        "    import scipy.linalg\n"
        "    counts = {lib['filepath']: lib['num_threads'] for lib in threadpool_info()\n"
        "              if lib['user_api'] in ('blas', 'openmp')}\n"
        "    assert set(counts.values()) == {1}, counts\n"
    )
    run_fresh_python(code)
