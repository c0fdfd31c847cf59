import torch
from threadpoolctl import threadpool_info

from papers.common.threads import single_threaded


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_thread_inside_and_previous_setting_after():
    torch.set_num_threads(2)
    blas_before = blas_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
        assert set(blas_threads()) <= {1}
    assert torch.get_num_threads() == 2 and blas_threads() == blas_before


def test_setting_restored_when_the_body_raises():
    torch.set_num_threads(2)
    try:
        with single_threaded():
            raise ValueError
    except ValueError:
        pass
    assert torch.get_num_threads() == 2
