import time

from papers.common.timing import best_seconds


def test_counts_calls_and_synchronises():
    calls, syncs = [], []
    best_seconds(lambda: calls.append(1), lambda: syncs.append(1), repeats=3, min_batch_seconds=1e-4)
    assert len(calls) > 3 and len(syncs) >= 2 * 3


def test_measures_a_sleep():
    t = best_seconds(lambda: time.sleep(0.002), repeats=3)
    assert 0.0019 < t < 0.05


def test_interleaved_ratios_alternate_and_measure_both_sides(monkeypatch):
    """On a fake clock that each call advances (a by 2 ms, b by 1 ms): no dependence on load."""
    from papers.common import timing

    clock, order = [0.0], []

    def tick(name, seconds):
        order.append(name)
        clock[0] += seconds

    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    ratios = timing.interleaved_ratios(lambda: tick("a", 2e-3), lambda: tick("b", 1e-3), rounds=4)
    assert ratios == [2.0] * 4
    runs = "".join(k for i, k in enumerate(order) if i == 0 or order[i - 1] != k)
    assert runs.endswith("abababab")


def test_jax_results_are_waited_for():
    import jax.numpy as jnp

    from papers.common import timing

    waited = []

    class Lazy:
        def block_until_ready(self):
            waited.append(1)
            return self

    jnp.zeros(1)  # jax is imported, so results are blocked on
    best_seconds(lambda: Lazy(), repeats=2, min_batch_seconds=1e-4)
    assert waited and timing._wait(jnp.ones(3)) is None


def test_best_seconds_keeps_the_fastest_of_five_batches_per_call(monkeypatch):
    from papers.common import timing

    batches = iter([0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01])
    asked = []
    monkeypatch.setattr(timing, "_calls_per_batch", lambda fn, sync, min_s: asked.append(min_s) or 4)
    monkeypatch.setattr(timing, "_batch", lambda fn, number, sync: next(batches))
    assert timing.best_seconds(lambda: None) == 0.1 / 4
    assert asked == [2e-3]
    assert next(batches) == 0.05, "five batches were timed, no more"


def test_batches_double_up_to_2_to_the_20_calls(monkeypatch):
    from papers.common import timing

    sizes = []
    monkeypatch.setattr(timing, "_batch", lambda fn, number, sync: sizes.append(number) or 0.0)
    assert timing._calls_per_batch(lambda: None, lambda: None, 1.0) == 1 << 20
    assert sizes == [1 << k for k in range(21)]


def test_interleaved_ratios_default_to_15_rounds_of_per_call_seconds(monkeypatch):
    from papers.common import timing

    monkeypatch.setattr(timing, "_calls_per_batch", lambda fn, sync, min_s: {"a": 4, "b": 2}[fn()])
    monkeypatch.setattr(timing, "_batch", lambda fn, number, sync: {"a": 2.0, "b": 0.5}[fn()])
    assert timing.interleaved_ratios(lambda: "a", lambda: "b") == [(2.0 / 4) / (0.5 / 2)] * 15
