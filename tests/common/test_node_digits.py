from types import SimpleNamespace

import matplotlib.colors
import numpy as np
import pytest
import torch
import torchdiffeq

from papers.common.mlp_digits import digits_tensors
from papers.common.node_digits import (
    DTYPE,
    ArmResult,
    Evaluation,
    ODEClassifier,
    Settings,
    Trainer,
    build_classifier,
    compare_arms,
    comparison_metrics,
    evaluate,
    plot_comparison,
    predictor,
    train_interleaved,
    unregularised,
)
from papers.harness.policy import use_agg

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: threads = 1, as the harness runs it


def _small_data():
    d = digits_tensors(0, dtype=DTYPE)
    return type(d)(d.X_train[:256], d.y_train[:256], d.X_test[:64], d.y_test[:64])


def test_field_is_the_documented_mlp():
    m = build_classifier(hidden=8, seed=1)
    z = torch.randn(3, 64, dtype=DTYPE)
    tz = torch.cat([z, torch.full((3, 1), 0.25, dtype=DTYPE)], dim=1)
    expected = torch.tanh(tz @ m.inner.weight.T + m.inner.bias) @ m.outer.weight.T + m.outer.bias
    assert torch.allclose(m.field(0.25, z), expected, atol=1e-14)
    assert torch.allclose(m.field(torch.tensor(0.25, dtype=DTYPE), z), expected, atol=1e-14)


def test_solve_agrees_with_torchdiffeq_dopri5():
    m = build_classifier(hidden=16, seed=2)
    x = _small_data().X_train[:5]
    with torch.no_grad():
        ours = m.solve(x).ys[-1]
        ref = torchdiffeq.odeint(
            m.field, x, torch.tensor([0.0, 1.0], dtype=DTYPE), method="dopri5", rtol=1e-11, atol=1e-11
        )[-1]
    assert torch.allclose(ours, ref, rtol=0, atol=1e-7)


def test_training_is_deterministic_and_lowers_the_loss():
    data = _small_data()
    runs = []
    for _ in range(2):
        tr = Trainer(
            build_classifier(16, seed=3), data, unregularised, steps=12, batch_size=32, lr=1e-2, seed=3
        )
        train_interleaved({"a": tr}, 12)
        runs.append(tr)
    assert runs[0].losses == runs[1].losses and runs[0].nfe == runs[1].nfe
    assert np.mean(runs[0].losses[-3:]) < 0.5 * np.mean(runs[0].losses[:3])
    assert runs[0].train_time > 0


def test_evaluate_and_predictor_agree_with_per_batch_solves():
    data = _small_data()
    m = build_classifier(16, seed=4)
    ev = evaluate(m, data.X_test, data.y_test, batch_size=40)
    with torch.no_grad():
        sols = [m.solve(data.X_test[:40]), m.solve(data.X_test[40:])]
        logits = torch.cat([m.head(s.ys[-1]) for s in sols])
    assert ev.accuracy == (logits.argmax(1) == data.y_test).double().mean().item()
    assert ev.mean_nfe == np.mean([s.nfe for s in sols])
    assert ev.mean_steps == np.mean([len(s.steps) for s in sols])
    assert all(s.nfe == 2 + 6 * (len(s.steps) + s.n_rejected) for s in sols)
    assert torch.equal(predictor(m, data.X_test, 40)(), logits)
    assert isinstance(m, ODEClassifier)


def test_comparison_metrics_are_ratios_to_the_baseline():
    results = {
        "vanilla": ArmResult(Evaluation(0.90, 100.0, 16.5), 4.0, [100], []),
        "reg": ArmResult(Evaluation(0.88, 40.0, 6.3), 1.0, [40], [2.0, 3.0]),
    }
    m = comparison_metrics(results)
    assert m["reg_nfe_ratio"].value == pytest.approx(0.4)
    assert m["reg_accuracy_drop_pts"].value == pytest.approx(2.0)
    assert m["reg_train_time_ratio"].value == pytest.approx(0.25)
    assert m["reg_speedup"].samples == (2.0, 3.0) and m["reg_speedup"].value == pytest.approx(2.5)
    assert m["vanilla_test_steps"].value == 16.5 and m["vanilla_error_pts"].value == pytest.approx(10.0)
    assert "vanilla_nfe_ratio" not in m
    kinds = {name: (x.unit, x.lower_is_better, x.volatile) for name, x in m.items()}
    assert kinds == {
        "vanilla_error_pts": ("points", True, False),
        "vanilla_test_steps": ("steps", True, False),
        "vanilla_accuracy": ("fraction", False, False),
        "vanilla_test_nfe": ("evaluations", True, False),
        "vanilla_train_s": ("s", True, True),
        "reg_accuracy": ("fraction", False, False),
        "reg_test_nfe": ("evaluations", True, False),
        "reg_train_s": ("s", True, True),
        "reg_nfe_ratio": ("x", True, False),
        "reg_accuracy_drop_pts": ("points", True, False),
        "reg_train_time_ratio": ("x", True, True),
        "reg_speedup": ("x", False, True),
    }
    assert (m["reg_accuracy"].value, m["reg_test_nfe"].value, m["reg_train_s"].value) == (0.88, 40.0, 1.0)


def test_comparison_figure_shows_every_arm():
    use_agg()
    results = {
        "vanilla": ArmResult(Evaluation(0.90, 100.0, 16.5), 4.0, [100] * 40, []),
        "reg": ArmResult(Evaluation(0.88, 40.0, 6.3), 1.0, list(range(40, 80)), [2.0, 4.0, 3.0]),
    }
    saved = {}
    plot_comparison(SimpleNamespace(save_figure=lambda fig, name: saved.update({name: fig})), results)
    fig = saved["nfe_and_times"]
    left, right, twin = fig.axes
    assert [line.get_label() for line in left.get_lines()] == ["vanilla", "reg"]
    assert len(left.get_lines()[1].get_ydata()) == 40 - 2 + 1  # moving mean over a window of 40 // 20
    assert left.get_lines()[1].get_ydata()[0] == pytest.approx(40.5)
    assert [t.get_text() for t in right.get_xticklabels()] == ["vanilla", "reg"]
    assert [b.get_height() for b in right.patches] == [100.0, 40.0]
    assert [b.get_height() for b in twin.patches] == [1.0, 3.0]  # no rounds: 1; else the median round
    assert right.get_ylim()[1] == pytest.approx(130.0) and twin.get_ylim()[1] == pytest.approx(3.9)
    assert right.get_ylim()[0] == twin.get_ylim()[0] == 0
    # the labels a reader sees
    assert (left.get_xlabel(), left.get_ylabel(), left.get_title()) == (
        "training step", "NFE per training solve (moving mean)", "Solver cost during training",
    )  # fmt: skip
    assert (right.get_ylabel(), right.get_title(), twin.get_ylabel()) == (
        "NFE per test batch", "Test cost and prediction speed-up", "speed-up over vanilla (x)",
    )  # fmt: skip
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["vanilla", "reg"]
    assert [t.get_text() for t in right.get_legend().get_texts()] == [
        "test NFE per batch", "prediction speed-up (median round)",
    ]  # fmt: skip
    assert right.get_legend()._ncols == 2
    assert [t.get_rotation() for t in right.get_xticklabels()] == [30.0, 30.0]
    # NFE bars left of each tick, speed-up bars right of it, 0.4 wide, the speed-ups in orange
    geometry = [v for b in right.patches + twin.patches for v in (b.get_x(), b.get_width())]
    assert geometry == pytest.approx([-0.4, 0.4, 0.6, 0.4, 0.0, 0.4, 1.0, 0.4])
    assert twin.patches[0].get_facecolor() == pytest.approx(matplotlib.colors.to_rgba("tab:orange"))
    assert tuple(fig.get_size_inches()) == (11.0, 4.0)
    assert len(left.get_lines()[0].get_ydata()) == 39 and left.get_lines()[0].get_ydata()[0] == 100.0


def test_arms_start_alike_and_see_the_same_batches(monkeypatch):
    import papers.common.node_digits as nd

    monkeypatch.setattr(nd, "digits_tensors", lambda seed, device, dtype: _small_data())
    ctx = SimpleNamespace(
        seed=5, seed_index=0, device="cpu", synchronize=lambda: None, progress=lambda it, **kwargs: it
    )
    out = compare_arms(
        ctx,
        {"vanilla": unregularised, "twin": unregularised},
        Settings(train_steps=2, batch_size=32, hidden=8, timing_rounds=2),
    )
    assert out["vanilla"].train_nfe == out["twin"].train_nfe
    assert out["vanilla"].evaluation == out["twin"].evaluation
    assert out["vanilla"].speedups == [] and len(out["twin"].speedups) == 2


def test_heuristic_penalty_weights_the_solver_error_and_stiffness_sums(one_thread):
    from papers.common.node_digits import heuristic_penalty

    m = build_classifier(hidden=8, seed=1)
    x = torch.randn(3, 64, generator=torch.Generator().manual_seed(0), dtype=DTYPE)
    sol = m.solve(x)
    errors = sum(float(s.error.detach()) * abs(float(s.h)) for s in sol.steps)
    stiffness = sum(float(s.stiffness.detach()) for s in sol.steps)
    assert errors > 0 and stiffness > 0
    for ew, sw in ((0.0, 0.0), (2.0, 0.0), (0.0, 3.0), (2.0, 3.0)):
        out = heuristic_penalty(error_weight=ew, stiffness_weight=sw)(m, x, torch.Generator())
        penalty = float(torch.as_tensor(out.penalty).detach())
        assert penalty == pytest.approx(ew * errors + sw * stiffness, rel=1e-12)
        assert out.nfe == sol.nfe and torch.equal(out.z_end, sol.ys[-1])
    assert heuristic_penalty()(m, x, torch.Generator()).penalty == 0.0


def test_compare_arms_passes_the_settings_and_context_through(monkeypatch):
    """Every collaborator replaced by a recording fake: which arguments each one gets."""
    import papers.common.node_digits as nd
    import papers.common.timing as timing

    calls = []
    data = SimpleNamespace(X_test="X_test", y_test="y_test")
    monkeypatch.setattr(
        nd, "digits_tensors", lambda seed, device, dtype: calls.append(("data", seed, device, dtype)) or data
    )
    models = iter(["m1", "m2"])
    monkeypatch.setattr(
        nd, "build_classifier", lambda hidden, seed, device: (next(models), hidden, seed, device)
    )

    class FakeTrainer:
        def __init__(self, model, data_, reg, **kwargs):
            calls.append(("trainer", model, data_ is data, reg, kwargs))
            self.model, self.train_time, self.nfe = (
                model,
                {"f": 1.5, "g": 2.5}[reg],
                (7, 8) if reg == "f" else (9,),
            )

    def interleaved(trainers, steps, progress):
        calls.append(("train", list(trainers), steps, progress(range(2))))

    monkeypatch.setattr(nd, "Trainer", FakeTrainer)
    monkeypatch.setattr(nd, "train_interleaved", interleaved)
    monkeypatch.setattr(nd, "predictor", lambda model, X, batch_size: (model[0], X, batch_size))
    monkeypatch.setattr(nd, "evaluate", lambda model, X, y, batch_size: ("eval", X, y, batch_size))
    monkeypatch.setattr(
        timing, "interleaved_ratios", lambda a, b, rounds, synchronize: [a, b, rounds, synchronize()]
    )  # a, b: (model, X_test, batch size) from the fake predictor
    ctx = SimpleNamespace(
        seed=5, seed_index=2, device="dev", synchronize=lambda: "synced",
        progress=lambda it, total, desc: (list(it), total, desc),
    )  # fmt: skip
    settings = Settings(train_steps=3, batch_size=16, hidden=8, lr=0.5, timing_rounds=4)
    out = compare_arms(ctx, {"base": "f", "arm": "g"}, settings, baseline="base")
    trainer_kwargs = {"steps": 3, "batch_size": 16, "lr": 0.5, "seed": 5, "synchronize": ctx.synchronize}
    assert calls == [
        ("data", 5, "dev", DTYPE),
        ("trainer", ("m1", 8, 5, "dev"), True, "f", trainer_kwargs),
        ("trainer", ("m2", 8, 5, "dev"), True, "g", trainer_kwargs),
        ("train", ["base", "arm"], 3, ([0, 1], 3, "seed 2")),
    ]
    assert out == {
        "base": ArmResult(("eval", "X_test", "y_test", 16), 1.5, [7, 8], []),
        "arm": ArmResult(
            ("eval", "X_test", "y_test", 16),
            2.5,
            [9],
            [("m1", "X_test", 16), ("m2", "X_test", 16), 4, "synced"],
        ),
    }


def test_a_training_step_adds_the_penalty_its_time_and_nfe(monkeypatch):
    """One step with a regulariser of known penalty and NFE, and a fake clock: the loss is the
    cross-entropy of the model's logits plus the penalty; train_time adds each step's clock span."""
    import papers.common.node_digits as nd

    ticks = iter([10.0, 11.5, 20.0, 22.0])
    monkeypatch.setattr(nd, "clock", lambda device: next(ticks))
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(8, 64, generator=g, dtype=DTYPE), torch.arange(8) % 10
    data = SimpleNamespace(X_train=X, y_train=y)
    seen = []

    def regulariser(model, x, gen):
        seen.append(gen)
        return nd.Forward(x, torch.tensor(0.75, dtype=DTYPE), 17)

    model = build_classifier(hidden=4, seed=0)
    model.head = torch.nn.Linear(64, 10).to(DTYPE)
    trainer = Trainer(model, data, regulariser, steps=2, batch_size=8, seed=1)
    state = torch.Generator().manual_seed(1)
    idx = torch.randint(8, (8,), generator=state)
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(model.head(X[idx]), y[idx]).item() + 0.75
    loss = trainer.step()
    assert loss == pytest.approx(expected, rel=1e-12)
    assert seen == [trainer.gen] and trainer.nfe == [17] and trainer.train_time == 1.5
    trainer.step()
    assert trainer.nfe == [17, 17] and trainer.train_time == 3.5 and len(trainer.losses) == 2


def test_the_clock_is_cpu_time_on_cpu_and_wall_time_on_cuda(monkeypatch):
    import papers.common.node_digits as nd

    monkeypatch.setattr(nd.time, "process_time", lambda: 1.0)
    monkeypatch.setattr(nd.time, "perf_counter", lambda: 2.0)
    assert (nd.clock("cpu"), nd.clock(torch.device("cpu")), nd.clock("cuda")) == (1.0, 1.0, 2.0)
