import time

from papers.common.timing import best_seconds


def test_counts_calls_and_synchronises():
    calls, syncs = [], []
    best_seconds(lambda: calls.append(1), lambda: syncs.append(1), repeats=3, min_batch_seconds=1e-4)
    assert len(calls) > 3 and len(syncs) >= 2 * 3


def test_measures_a_sleep():
    t = best_seconds(lambda: time.sleep(0.002), repeats=3)
    assert 0.0019 < t < 0.05
