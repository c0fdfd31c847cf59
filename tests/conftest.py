"""Fixtures shared by every test folder."""
import pytest

from papers.harness.policy import limit_threads


@pytest.fixture
def one_thread():
    """The `threads = 1` a paper declares, as the harness applies it around run(): tiny networks on
    shared cores run far faster on one compute thread than on several."""
    with limit_threads(1):
        yield
