"""papers.common.node_digits against independent references: the field against a numpy formula, the
solver's R_E and R_S (and their gradients) against the eager torch solver papers/common/dp5.py on the
same weights, the training step against Adam with cosine annealing written out in numpy."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import matplotlib.colors
import matplotlib.font_manager
import numpy as np
import pytest
import torch

import papers.common.node_digits as nd
from papers.common import dp5 as torch_dp5
from papers.common.datasets import load_split
from papers.common.jax_dp5 import OK, STEP_TOO_SMALL, TOO_MANY_STEPS
from papers.common.jax_env import float64
from papers.common.node_digits import (
    ATOL,
    RTOL,
    ArmResult,
    Evaluation,
    Settings,
    Trainer,
    batch_loss,
    check_status,
    comparison_metrics,
    digits_arrays,
    evaluate,
    field,
    heuristic_penalty,
    init_params,
    plot_comparison,
    predict_batch,
    predictor,
    train_interleaved,
    unregularised,
)
from papers.harness.policy import use_agg

pytestmark = pytest.mark.usefixtures("one_thread", "x64")  # threads = 1, as the harness runs it


@pytest.fixture
def x64():
    with float64():
        yield


def _small_data():
    d = digits_arrays(0)
    return type(d)(d.X_train[:256], d.y_train[:256], d.X_test[:64], d.y_test[:64])


def _torch_field(params, requires_grad=False):
    """The documented field in torch on copies of the same weights: (f(t, z), [W1, b1, W2, b2])."""
    weights = [
        torch.tensor(np.asarray(params[layer][k]), requires_grad=requires_grad)
        for layer in ("inner", "outer")
        for k in ("w", "b")
    ]
    w1, b1, w2, b2 = weights

    def f(t, z):
        tz = torch.cat([z, t * torch.ones_like(z[:, :1])], dim=1)
        return torch.tanh(tz @ w1.T + b1) @ w2.T + b2

    return f, weights


def test_field_is_the_documented_mlp():
    p = init_params(hidden=8, seed=1)
    z = np.random.default_rng(0).standard_normal((3, 64))
    tz = np.concatenate([z, np.full((3, 1), 0.25)], axis=1)
    w1, b1, w2, b2 = (np.asarray(p[layer][k]) for layer in ("inner", "outer") for k in ("w", "b"))
    expected = np.tanh(tz @ w1.T + b1) @ w2.T + b2
    np.testing.assert_allclose(np.asarray(field(0.25, jnp.asarray(z), p)), expected, rtol=0, atol=1e-14)
    head = np.asarray(nd.head(p, jnp.asarray(z)))
    np.testing.assert_allclose(
        head, z @ np.asarray(p["head"]["w"]).T + np.asarray(p["head"]["b"]), atol=1e-14
    )


def test_initialisation_is_torchs_default_and_seeded():
    p = init_params(hidden=16, seed=3)
    shapes = {(layer, k): p[layer][k].shape for layer in p for k in ("w", "b")}
    assert shapes == {
        ("inner", "w"): (16, 65),
        ("inner", "b"): (16,),
        ("outer", "w"): (64, 16),
        ("outer", "b"): (64,),
        ("head", "w"): (10, 64),
        ("head", "b"): (10,),
    }
    for layer, fan_in in (("inner", 65), ("outer", 16), ("head", 64)):
        for k in ("w", "b"):
            a = np.asarray(p[layer][k])
            assert a.dtype == np.float64
            assert (
                np.abs(a).max() <= fan_in**-0.5 and np.abs(a).max() > 0.8 * fan_in**-0.5
            )  # U(±1/sqrt(fan_in))
            assert a.min() < 0 < a.max()
    assert init_params()["inner"]["w"].shape == (64, 65)  # 64 hidden units by default
    again, other = init_params(hidden=16, seed=3), init_params(hidden=16, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(again)))
    assert not np.array_equal(p["inner"]["w"], other["inner"]["w"])


def test_solve_and_heuristics_are_the_torch_solvers_on_the_same_weights():
    """z(1), NFE, R_E and R_S of the training solve, and their gradients in the field's weights, against
    backpropagation through papers/common/dp5.py on copies of the weights."""
    p = init_params(hidden=8, seed=1)
    x = np.random.default_rng(0).standard_normal((3, 64))
    f_t, weights = _torch_field(p, requires_grad=True)
    ref = torch_dp5.dp5_solve(f_t, torch.tensor(x), [0.0, 1.0], rtol=RTOL, atol=ATOL)
    sol = nd.solve(p, jnp.asarray(x))
    assert int(sol.status) == OK and (int(sol.nfe), int(sol.n_accepted)) == (ref.nfe, ref.n_accepted)
    np.testing.assert_allclose(np.asarray(sol.ys[-1]), ref.ys[-1].detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(float(sol.error_sum), float(ref.error_sum()), rtol=1e-7)
    np.testing.assert_allclose(float(sol.stiffness_sum), float(ref.stiffness_sum()), rtol=1e-7)
    for ew, sw in ((2.0, 0.0), (0.0, 3.0), (2.0, 3.0)):
        out = heuristic_penalty(ew, sw)(p, jnp.asarray(x), 0.5)
        np.testing.assert_allclose(
            float(out.penalty), ew * float(sol.error_sum) + sw * float(sol.stiffness_sum), rtol=1e-12
        )
        assert int(out.nfe) == ref.nfe
    grads = jax.grad(lambda q: heuristic_penalty(2.0, 3.0)(q, jnp.asarray(x), 0.5).penalty)(p)
    expected = torch.autograd.grad(2.0 * ref.error_sum() + 3.0 * ref.stiffness_sum(), weights)
    got = [grads[layer][k] for layer in ("inner", "outer") for k in ("w", "b")]
    for a, b in zip(got, expected):  # E_j is a difference of nearly equal stages: round-off ~1e-6 of it
        np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-5, atol=1e-6 * np.abs(b.numpy()).max())
    assert not np.any(np.asarray(grads["head"]["w"]))
    assert unregularised(p, jnp.asarray(x), 0.5).penalty == 0.0
    np.testing.assert_allclose(np.asarray(out.z_end), ref.ys[-1].detach().numpy(), rtol=0, atol=1e-10)
    assert heuristic_penalty() == unregularised  # both weights 0 by default


def test_a_heuristic_penalty_solves_the_field_it_is_given():
    p = init_params(hidden=8, seed=2)
    x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 64)))
    slower = lambda t, z, q: 0.5 * field(t, z, q)  # noqa: E731
    out = nd.HeuristicPenalty(error_weight=2.0, f=slower)(p, x, 0.5)
    sol = nd.solve(p, x, f=slower)
    np.testing.assert_array_equal(np.asarray(out.z_end), np.asarray(sol.ys[-1]))
    assert float(out.penalty) == 2.0 * float(sol.error_sum) and int(out.nfe) == int(sol.nfe)
    assert not np.allclose(np.asarray(out.z_end), np.asarray(nd.solve(p, x).ys[-1]))


def test_batch_loss_is_the_heads_cross_entropy_plus_the_penalty_and_hands_u_over():
    p = init_params(hidden=4, seed=0)
    x = np.random.default_rng(2).standard_normal((3, 64))
    y = np.array([1, 7, 3])
    seen = []

    def identity_flow(params, x, u):
        seen.append(u)
        return nd.Forward(x, 0.25, None, OK)

    loss, out = batch_loss(p, jnp.asarray(x), jnp.asarray(y), 0.7, identity_flow)
    logits = x @ np.asarray(p["head"]["w"]).T + np.asarray(p["head"]["b"])
    log_norm = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    assert float(loss) == pytest.approx(np.mean(log_norm - logits[np.arange(3), y]) + 0.25, rel=1e-12)
    assert seen == [0.7] and out.penalty == 0.25


def _adam_cosine_reference(params, grads_of, steps, lr):
    """torch's Adam (betas 0.9, 0.999, eps 1e-8 added to sqrt(v_hat)) with CosineAnnealingLR(T_max =
    steps), written out in numpy; grads_of(params, k) gives step k's gradient."""
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(a) for k, a in params.items()}
    for k in range(steps):
        g = grads_of(params, k)
        rate = lr * (1 + np.cos(np.pi * k / steps)) / 2
        params = dict(params)
        for name in params:
            m[name] = 0.9 * m[name] + 0.1 * g[name]
            v[name] = 0.999 * v[name] + 0.001 * g[name] ** 2
            m_hat, v_hat = m[name] / (1 - 0.9 ** (k + 1)), v[name] / (1 - 0.999 ** (k + 1))
            params[name] = params[name] - rate * m_hat / (np.sqrt(v_hat) + 1e-8)
    return params


def _flat(tree):
    return {f"{layer}.{k}": np.asarray(tree[layer][k]) for layer in tree for k in tree[layer]}


def _nested(flat):
    out = {}
    for name, a in flat.items():
        layer, k = name.split(".")
        out.setdefault(layer, {})[k] = jnp.asarray(a)
    return out


def test_training_steps_are_adam_on_the_loss_gradient_over_the_seeded_batches():
    data, steps = _small_data(), 3
    params = init_params(hidden=8, seed=3)
    trainer = Trainer(params, data, unregularised, steps=steps, batch_size=16, lr=1e-2, seed=3)
    trainer.compile()
    train_interleaved({"a": trainer}, steps)
    batches = np.random.default_rng([3, 0])  # the documented minibatch stream

    grad = jax.jit(jax.grad(lambda q, x, y: batch_loss(q, x, y, 0.0, unregularised)[0]))

    def grads_of(flat, k):
        idx = batches.integers(len(data.y_train), size=16)
        return _flat(grad(_nested(flat), data.X_train[idx], data.y_train[idx]))

    expected = _adam_cosine_reference(_flat(params), grads_of, steps, 1e-2)
    for name, value in _flat(trainer.params).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-9, atol=1e-12)
    assert len(trainer.losses) == len(trainer.nfe) == steps and trainer.train_time > 0
    assert trainer.compile_time > 0


@pytest.mark.slow
def test_training_is_deterministic_and_lowers_the_loss():
    data = _small_data()
    runs = []
    for _ in range(2):
        tr = Trainer(init_params(16, seed=3), data, unregularised, steps=12, batch_size=32, lr=1e-2, seed=3)
        train_interleaved({"a": tr}, 12)
        runs.append(tr)
    assert runs[0].losses == runs[1].losses and runs[0].nfe == runs[1].nfe
    assert np.mean(runs[0].losses[-3:]) < 0.5 * np.mean(runs[0].losses[:3])


def test_batches_and_regulariser_draws_are_separate_streams(monkeypatch):
    """Every arm of a seed gets the same minibatches, whatever its regulariser draws; the draws come
    from a second stream of the same seed."""
    seen = []

    def fake_step(params, opt_state, X, Y, idx, u, *, regulariser, lr, steps):
        seen.append((regulariser, tuple(idx), u))
        return params, opt_state, jnp.asarray(1.0), jnp.asarray(20), jnp.asarray(OK)

    monkeypatch.setattr(nd, "train_step", fake_step)
    data = SimpleNamespace(X_train=None, y_train=np.zeros(100))
    trainers = {
        name: Trainer({"w": jnp.zeros(2)}, data, name, steps=3, batch_size=5, seed=7) for name in "ab"
    }
    train_interleaved(trainers, 3)
    batches, draws = np.random.default_rng([7, 0]), np.random.default_rng([7, 1])
    expected = []
    for _ in range(3):
        idx, u = tuple(batches.integers(100, size=5)), draws.random()
        expected += [("a", idx, u), ("b", idx, u)]
    assert seen == expected
    assert trainers["a"].nfe == [20, 20, 20]


def test_a_solve_that_runs_out_of_attempts_stops_training(monkeypatch):
    p = init_params(hidden=8, seed=1)
    x = _small_data().X_train[:4]
    assert int(nd.solve(p, x, max_attempts=3).status) == TOO_MANY_STEPS
    check_status(OK, "ok")
    with pytest.raises(RuntimeError, match=r"^here: the DP5 solve needed more than MAX_ATTEMPTS = \d+ "
                       r"iterations of its bounded scan \(papers\.common\.node_digits\.MAX_ATTEMPTS\)$"):
        check_status(TOO_MANY_STEPS, "here")
    with pytest.raises(RuntimeError, match="step size"):
        check_status(STEP_TOO_SMALL, "here")

    def truncated(params, opt_state, X, Y, idx, u, *, regulariser, lr, steps):
        return params, opt_state, jnp.asarray(1.0), jnp.asarray(20), jnp.asarray(TOO_MANY_STEPS)

    monkeypatch.setattr(nd, "train_step", truncated)
    trainer = Trainer(
        p, SimpleNamespace(X_train=None, y_train=np.zeros(10)), unregularised, steps=2, batch_size=2
    )
    with pytest.raises(RuntimeError, match="training step 1 .* more than MAX_ATTEMPTS"):
        trainer.step()
    assert trainer.losses == []


def test_evaluate_and_predictor_agree_with_per_batch_torch_solves():
    data = _small_data()
    p = init_params(16, seed=4)
    ev = evaluate(p, data.X_test, data.y_test, batch_size=40)
    f_t, _ = _torch_field(p)
    with torch.no_grad():
        sols = [
            torch_dp5.dp5_solve(f_t, torch.tensor(np.asarray(xb)), [0.0, 1.0], rtol=RTOL, atol=ATOL)
            for xb in (data.X_test[:40], data.X_test[40:])
        ]
    w, b = np.asarray(p["head"]["w"]), np.asarray(p["head"]["b"])
    logits = np.concatenate([s.ys[-1].numpy() @ w.T + b for s in sols])
    assert ev.accuracy == np.mean(logits.argmax(1) == np.asarray(data.y_test))
    assert ev.mean_nfe == np.mean([s.nfe for s in sols])
    assert ev.mean_steps == np.mean([s.n_accepted for s in sols])
    np.testing.assert_allclose(np.asarray(predictor(p, data.X_test, 40)()), logits, rtol=0, atol=1e-9)
    assert int(predict_batch(p, data.X_test[:40])[3]) == OK


def test_comparison_metrics_are_ratios_to_the_baseline():
    results = {
        "vanilla": ArmResult(Evaluation(0.90, 100.0, 16.5), 4.0, [100], [], 3.0),
        "reg": ArmResult(Evaluation(0.88, 40.0, 6.3), 1.0, [40], [2.0, 3.0], 3.5),
    }
    m = comparison_metrics(results)
    assert m["reg_nfe_ratio"].value == pytest.approx(0.4)
    assert m["reg_accuracy_drop_pts"].value == pytest.approx(2.0)
    assert m["reg_train_time_ratio"].value == pytest.approx(0.25)
    assert m["reg_speedup"].samples == (2.0, 3.0) and m["reg_speedup"].value == pytest.approx(2.5)
    assert m["vanilla_test_steps"].value == 16.5 and m["vanilla_error_pts"].value == pytest.approx(10.0)
    assert (m["vanilla_compile_s"].value, m["reg_compile_s"].value) == (3.0, 3.5)
    assert "vanilla_nfe_ratio" not in m
    kinds = {name: (x.unit, x.lower_is_better, x.volatile) for name, x in m.items()}
    assert kinds == {
        "vanilla_error_pts": ("points", True, False),
        "vanilla_test_steps": ("steps", True, False),
        "vanilla_accuracy": ("fraction", False, False),
        "vanilla_test_nfe": ("evaluations", True, False),
        "vanilla_train_s": ("s", True, True),
        "vanilla_compile_s": ("s", True, True),
        "reg_accuracy": ("fraction", False, False),
        "reg_test_nfe": ("evaluations", True, False),
        "reg_train_s": ("s", True, True),
        "reg_compile_s": ("s", True, True),
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
        "uncounted": ArmResult(Evaluation(0.88, 50.0, 7.0), 1.0, [], [1.0]),  # skipped, not the end
        "reg": ArmResult(Evaluation(0.88, 40.0, 6.3), 1.0, list(range(40, 80)), [2.0, 4.0, 3.0]),
        "short": ArmResult(Evaluation(0.80, 30.0, 5.0), 1.0, [7, 9, 8], [1.5]),  # fewer than 40: no mean
    }
    saved = {}
    plot_comparison(SimpleNamespace(save_figure=lambda fig, name: saved.update({name: fig})), results)
    fig = saved["nfe_and_times"]
    left, right, twin = fig.axes
    assert [line.get_label() for line in left.get_lines()] == ["vanilla", "reg", "short"]  # no NFE: no line
    assert list(left.get_lines()[2].get_ydata()) == [7, 9, 8]
    assert len(left.get_lines()[1].get_ydata()) == 40 - 2 + 1  # moving mean over a window of 40 // 20
    assert left.get_lines()[1].get_ydata()[0] == pytest.approx(40.5)
    assert [t.get_text() for t in right.get_xticklabels()] == ["vanilla", "uncounted", "reg", "short"]
    assert {t.get_rotation() for t in right.get_xticklabels()} == {30.0}
    assert [b.get_height() for b in right.patches] == [100.0, 50.0, 40.0, 30.0]
    assert [b.get_height() for b in twin.patches] == [1.0, 1.0, 3.0, 1.5]  # no rounds: 1; else the median
    assert right.get_ylim()[1] == pytest.approx(130.0) and twin.get_ylim()[1] == pytest.approx(3.9)
    assert right.get_ylim()[0] == twin.get_ylim()[0] == 0
    assert (left.get_xlabel(), left.get_ylabel(), left.get_title()) == (
        "training step", "NFE per training solve (moving mean)", "Solver cost during training",
    )  # fmt: skip
    assert (right.get_ylabel(), right.get_title(), twin.get_ylabel()) == (
        "NFE per test batch", "Test cost and prediction speed-up", "speed-up over vanilla (x)",
    )  # fmt: skip
    assert [t.get_text() for t in right.get_legend().get_texts()] == [
        "test NFE per batch", "prediction speed-up (median round)",
    ]  # fmt: skip
    small = matplotlib.font_manager.FontProperties(size="small").get_size_in_points()
    assert {t.get_fontsize() for t in right.get_legend().get_texts()} == {small}
    assert left.get_position().x1 < right.get_position().x0  # side by side
    geometry = [v for b in right.patches[:2] + twin.patches[:2] for v in (b.get_x(), b.get_width())]
    assert geometry == pytest.approx([-0.4, 0.4, 0.6, 0.4, 0.0, 0.4, 1.0, 0.4])
    assert twin.patches[0].get_facecolor() == pytest.approx(matplotlib.colors.to_rgba("tab:orange"))
    assert tuple(fig.get_size_inches()) == (11.0, 4.0)


def test_arms_start_alike_and_see_the_same_batches(monkeypatch):
    monkeypatch.setattr(nd, "digits_arrays", lambda seed: _small_data())
    ctx = SimpleNamespace(seed=5, seed_index=0, device="cpu", progress=lambda it, **kwargs: it)
    out = nd.compare_arms(
        ctx,
        {"vanilla": unregularised, "twin": heuristic_penalty()},
        Settings(train_steps=3, batch_size=16, hidden=8, timing_rounds=2),  # the step compiled above
    )
    assert out["vanilla"].train_nfe == out["twin"].train_nfe and len(out["twin"].train_nfe) == 3
    assert out["vanilla"].evaluation == out["twin"].evaluation
    assert out["vanilla"].speedups == [] and len(out["twin"].speedups) == 2


def test_compare_arms_passes_the_settings_and_context_through(monkeypatch):
    """Every collaborator replaced by a recording fake: which arguments each one gets."""
    import papers.common.timing as timing

    calls = []
    data = SimpleNamespace(X_test="X_test", y_test="y_test")
    monkeypatch.setattr(nd, "digits_arrays", lambda seed: calls.append(("data", seed)) or data)
    monkeypatch.setattr(nd, "init_params", lambda hidden, seed: ("p", hidden, seed))

    class FakeTrainer:
        def __init__(self, params, data_, reg, **kwargs):
            calls.append(("trainer", params, data_ is data, reg, kwargs))
            self.params, self.regulariser = params + (reg,), reg
            self.train_time, self.nfe = {"f": 1.5, "g": 2.5}[reg], (7, 8) if reg == "f" else (9,)
            self.compile_time = {"f": 0.5, "g": 0.25}[reg]

        def compile(self):
            calls.append(("compile", self.regulariser))

    def interleaved(trainers, steps, progress):
        calls.append(("train", list(trainers), steps, progress(range(2))))

    monkeypatch.setattr(nd, "Trainer", FakeTrainer)
    monkeypatch.setattr(nd, "train_interleaved", interleaved)
    monkeypatch.setattr(nd, "predictor", lambda params, X, batch_size: (params[-1], X, batch_size))
    monkeypatch.setattr(
        nd, "evaluate", lambda params, X, y, batch_size: ("eval", params[-1], X, y, batch_size)
    )
    monkeypatch.setattr(timing, "interleaved_ratios", lambda a, b, rounds: [a, b, rounds])
    ctx = SimpleNamespace(
        seed=5, seed_index=2, device="cpu", progress=lambda it, total, desc: (list(it), total, desc)
    )
    settings = Settings(train_steps=3, batch_size=16, hidden=8, lr=0.5, timing_rounds=4)
    out = nd.compare_arms(ctx, {"base": "f", "arm": "g"}, settings, baseline="base")
    kwargs = {"steps": 3, "batch_size": 16, "lr": 0.5, "seed": 5, "device": "cpu"}
    assert calls == [
        ("data", 5),
        ("trainer", ("p", 8, 5), True, "f", kwargs),
        ("trainer", ("p", 8, 5), True, "g", kwargs),
        ("compile", "f"),
        ("compile", "g"),
        ("train", ["base", "arm"], 3, ([0, 1], 3, "seed 2")),
    ]
    assert out == {
        "base": ArmResult(("eval", "f", "X_test", "y_test", 16), 1.5, [7, 8], [], 0.5),
        "arm": ArmResult(
            ("eval", "g", "X_test", "y_test", 16),
            2.5,
            [9],
            [("f", "X_test", 16), ("g", "X_test", 16), 4],
            0.25,
        ),
    }


def test_the_clock_is_cpu_time_on_cpu_and_wall_time_on_cuda(monkeypatch):
    monkeypatch.setattr(nd.time, "process_time", lambda: 1.0)
    monkeypatch.setattr(nd.time, "perf_counter", lambda: 2.0)
    assert (nd.clock("cpu"), nd.clock("cuda")) == (1.0, 2.0)


def test_a_training_step_adds_its_clock_span_and_nfe(monkeypatch):
    ticks, devices = iter([10.0, 11.5, 20.0, 22.0]), []
    monkeypatch.setattr(nd, "clock", lambda device: devices.append(device) or next(ticks))
    monkeypatch.setattr(
        nd,
        "train_step",
        lambda params, opt_state, X, Y, idx, u, **kw: (
            params,
            opt_state,
            jnp.asarray(0.75),
            jnp.asarray(17),
            jnp.asarray(OK),
        ),
    )
    trainer = Trainer({"w": jnp.zeros(2)}, SimpleNamespace(X_train=None, y_train=np.zeros(8)), steps=2,
                      batch_size=4, device="cuda")
    assert trainer.step() == 0.75
    assert trainer.nfe == [17] and trainer.train_time == 1.5
    trainer.step()
    assert trainer.nfe == [17, 17] and trainer.train_time == 3.5 and trainer.losses == [0.75, 0.75]
    assert devices == ["cuda"] * 4  # the trainer's device picks the clock


def test_kernel_inputs_are_the_seed_0_split_weights_and_first_images_in_float64():
    from sklearn.datasets import load_digits

    was_x64 = jax.config.jax_enable_x64
    try:
        data, params, x = nd.kernel_inputs(5, "cpu")
        assert jax.config.jax_enable_x64
    finally:  # kernel_inputs switches the whole process to float64; other tests expect the default
        jax.config.update("jax_enable_x64", was_x64)
    assert x.dtype == jnp.float64 and x.shape == (5, 64)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(data.X_train[:5]))
    assert data.X_train.shape[0] + data.X_test.shape[0] == load_digits().data.shape[0]
    split = load_split("digits", seed=0)
    np.testing.assert_array_equal(np.asarray(data.X_train), split.X_train)
    np.testing.assert_array_equal(np.asarray(data.y_test), split.y_test)
    with float64():
        expected = init_params(64, 0)
    for layer in ("inner", "outer", "head"):
        np.testing.assert_array_equal(np.asarray(params[layer]["w"]), np.asarray(expected[layer]["w"]))
    assert params["inner"]["w"].shape == (64, 65)


def test_run_comparison_trains_draws_and_measures_the_same_results(monkeypatch):
    calls = []
    monkeypatch.setattr(nd, "compare_arms", lambda c, arms, s: calls.append(("arms", c, arms, s)) or "res")
    monkeypatch.setattr(nd, "plot_comparison", lambda ctx, results: calls.append(("plot", ctx, results)))
    monkeypatch.setattr(nd, "comparison_metrics", lambda results: calls.append(("metrics", results)) or "m")
    assert nd.run_comparison("ctx", {"a": 1}, "s") == ("res", "m")
    assert calls == [("arms", "ctx", {"a": 1}, "s"), ("plot", "ctx", "res"), ("metrics", "res")]


def _recording_predict_batch(calls, status=OK):
    def predict(params, xb):
        calls.append(len(xb))
        return jnp.zeros((len(xb), 10)).at[:, 0].set(1.0), 12, 3, status
    return predict


def test_evaluation_and_prediction_go_in_batches_of_128_and_name_a_failed_solve(monkeypatch):
    calls = []
    monkeypatch.setattr(nd, "predict_batch", _recording_predict_batch(calls))
    X, y = jnp.zeros((300, 64)), jnp.zeros(300, dtype=jnp.int32)
    assert evaluate({}, X, y) == Evaluation(1.0, 12.0, 3.0) and calls == [128, 128, 44]
    calls.clear()
    predict = predictor({}, X)
    assert calls == [128, 128, 44]  # run once (compiled) before it is returned
    assert predict().shape == (300, 10) and calls == [128, 128, 44] * 2
    monkeypatch.setattr(nd, "predict_batch", _recording_predict_batch([], status=TOO_MANY_STEPS))
    with pytest.raises(RuntimeError, match="^evaluation: the DP5 solve needed more than"):
        evaluate({}, X, y)


def test_compiling_a_trainer_runs_one_step_on_zero_indices_without_drawing(monkeypatch):
    calls = []
    monkeypatch.setattr(nd, "train_step", lambda params, opt, X, Y, idx, u, **kw: calls.append((idx, u)))
    data = SimpleNamespace(X_train=None, y_train=np.zeros(8))
    trainer, fresh = (Trainer({"w": jnp.zeros(2)}, data, steps=2, batch_size=4) for _ in range(2))
    ticks = iter([10.0, 11.0, 20.0, 22.0])
    monkeypatch.setattr(nd.time, "perf_counter", lambda: next(ticks))
    trainer.compile()
    [(idx, u)] = calls
    assert np.array_equal(idx, np.zeros(4)) and u == 0.5 and trainer.compile_time == 1.0
    trainer.compile()  # a second compile (another seed) adds its seconds
    assert trainer.compile_time == 3.0
    assert trainer.batches.random() == fresh.batches.random()  # neither stream was drawn from
    assert trainer.draws.random() == fresh.draws.random()


def test_interleaved_training_steps_every_arm_once_per_round_through_the_progress_wrapper():
    order, rounds = [], []
    trainers = {arm: SimpleNamespace(step=lambda arm=arm: order.append(arm)) for arm in ("a", "b")}
    train_interleaved(trainers, 3, progress=lambda it: rounds.append(list(it)) or it)
    assert rounds == [[0, 1, 2]] and order == ["a", "b"] * 3
