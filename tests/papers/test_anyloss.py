"""Tests of anyloss against independent references: scikit-learn's exact confusion matrix and
metrics, central finite differences, the closed-form BCE gradient and problems trained one by one."""
import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    fbeta_score,
    recall_score,
)

from papers.anyloss import baselines, method


def labels_and_probs(seed, n=300, margin=0.0):
    """Labels with 30 % positives and probabilities at least `margin` away from 1/2."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    p = np.where(rng.random(n) < 0.5, rng.uniform(0, 0.5 - margin, n), rng.uniform(0.5 + margin, 1, n))
    return y, p


def exact(name, y, pred):
    if name == "accuracy":
        return accuracy_score(y, pred)
    if name == "f1":
        return f1_score(y, pred)
    if name in ("f0.5", "f2"):
        return fbeta_score(y, pred, beta=float(name[1:]))
    if name == "balanced_accuracy":
        return balanced_accuracy_score(y, pred)
    return np.sqrt(recall_score(y, pred) * recall_score(y, pred, pos_label=0))


def test_approximate_is_the_paper_formula_and_its_limits():
    p = np.array([0.0, 0.3, 0.5, 0.51, 1.0])
    np.testing.assert_allclose(method.approximate(p, 73.0), 1 / (1 + np.exp(-73.0 * (p - 0.5))), rtol=1e-12)
    np.testing.assert_allclose(method.approximate(np.array([0.0, 1.0])), [0.0, 1.0], atol=1e-15)
    assert method.approximate(0.5) == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_approximated_confusion_matrix_matches_exact_one_near_0_and_1(seed):
    y, p = labels_and_probs(seed, margin=0.3)
    tn, fp, fn, tp = confusion_matrix(y, (p >= 0.5).astype(int)).ravel()
    c = method.confusion(y, p)
    np.testing.assert_allclose([c.tn, c.fp, c.fn, c.tp], [tn, fp, fn, tp], atol=len(y) * 1e-9)


@pytest.mark.parametrize("name", method.METRICS)
@pytest.mark.parametrize("seed", [0, 1])
def test_soft_metric_at_large_L_equals_scikit_learns_exact_metric(name, seed):
    y, p = labels_and_probs(seed, margin=1e-3)
    assert float(method.soft_metric(name, y, p, L=1e5)) == pytest.approx(exact(name, y, (p >= 0.5)), abs=1e-9)


@pytest.mark.parametrize("name", method.METRICS)
def test_soft_metric_at_small_L_matches_an_explicit_loop(name):
    import math

    y, p = labels_and_probs(1, n=50)
    cm = {"tp": 0.0, "fp": 0.0, "fn": 0.0, "tn": 0.0}
    for yi, pi in zip(y, p):
        a = 1 / (1 + math.exp(-5.0 * (pi - 0.5)))
        cm["tp" if yi else "fp"] += a
        cm["fn" if yi else "tn"] += 1 - a
    tpr, tnr = cm["tp"] / (cm["tp"] + cm["fn"]), cm["tn"] / (cm["tn"] + cm["fp"])
    beta = {"f1": 1.0, "f0.5": 0.5, "f2": 2.0}.get(name)
    expected = {"accuracy": (cm["tp"] + cm["tn"]) / 50, "balanced_accuracy": (tpr + tnr) / 2,
                "gmean": math.sqrt(tpr * tnr)}.get(name)
    if beta is not None:
        precision = cm["tp"] / (cm["tp"] + cm["fp"])
        expected = (1 + beta**2) * precision * tpr / (beta**2 * precision + tpr)
    assert float(method.soft_metric(name, y, p, L=5.0)) == pytest.approx(expected, rel=1e-12)
    assert abs(expected - exact(name, y, p >= 0.5)) > 1e-3


def test_unknown_metric_is_rejected():
    with pytest.raises(ValueError, match="unknown metric"):
        method.soft_metric("mcc", np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="unknown"):
        method.loss_fn("anyloss_mcc")


@pytest.mark.parametrize("loss", ["anyloss_f1", "anyloss_balanced_accuracy", "anyloss_gmean", "anyloss_f2",
                                  "bce", "mse"])
def test_loss_gradient_matches_central_finite_differences(loss, one_thread):
    import torch

    rng = np.random.default_rng(3)
    X = rng.standard_normal((1, 60, 3))
    y = (rng.random((1, 60)) < 0.3).astype(float)
    w0, b0 = 0.05 * rng.standard_normal((1, 3)), np.array([-0.02])
    weight = np.ones((1, 60))
    f = method.loss_fn(loss)

    def value(w, b):
        t = [torch.tensor(w), torch.tensor(b)]
        return float(f(torch.tensor(y), method.predict(t, torch.tensor(X)), torch.tensor(weight)).sum())

    params = [torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    total = f(torch.tensor(y), method.predict(params, torch.tensor(X)), torch.tensor(weight)).sum()
    gw, gb = (g.numpy() for g in torch.autograd.grad(total, params))
    h = 1e-6
    fd_w = [(value(w0 + h * e, b0) - value(w0 - h * e, b0)) / (2 * h) for e in np.eye(3)[:, None, :]]
    fd_b = (value(w0, b0 + h) - value(w0, b0 - h)) / (2 * h)
    assert np.abs(gw).max() > 1e-3
    np.testing.assert_allclose(gw[0], fd_w, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(gb[0], fd_b, rtol=1e-5, atol=1e-8)


def test_one_gd_step_with_bce_is_the_closed_form_logistic_gradient(one_thread):
    import torch

    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((50, 4)), (rng.random(50) < 0.4).astype(float)
    w, b = rng.standard_normal(4), 0.3
    p = 1 / (1 + np.exp(-(X @ w + b)))
    t = lambda a: torch.tensor(np.asarray(a, dtype=float))  # noqa: E731
    new_w, new_b = method.train("bce", t(X[None]), t(y[None]), t(np.ones((1, 50))), [t(w[None]), t([b])],
                                lr=0.1, iterations=1)
    np.testing.assert_allclose(new_w.numpy()[0], w - 0.1 * X.T @ (p - y) / 50, rtol=1e-12)
    np.testing.assert_allclose(new_b.numpy()[0], b - 0.1 * np.mean(p - y), rtol=1e-12)


@pytest.mark.parametrize("hidden", [0, 4])
def test_batched_padded_training_equals_training_each_problem_alone(hidden, one_thread):
    import torch

    rng = np.random.default_rng(5)
    sizes, losses = [40, 25], ["anyloss_f1", "bce"]
    data = [(rng.standard_normal((n, 3)), (rng.random(n) < 0.3).astype(float)) for n in sizes]
    inits = [method.init_params(rng, 1, 3, hidden) for _ in sizes]
    X, y, w = np.zeros((2, 40, 3)), np.zeros((2, 40)), np.zeros((2, 40))
    for i, (Xi, yi) in enumerate(data):
        X[i, : len(yi)], y[i, : len(yi)], w[i, : len(yi)] = Xi, yi, 1.0
    t = torch.tensor
    stacked = [t(np.concatenate(p)) for p in zip(*inits)]
    batched = method.train(losses, t(X), t(y), t(w), stacked, iterations=50)
    for i, ((Xi, yi), init) in enumerate(zip(data, inits)):
        ones = t(np.ones((1, len(yi))))
        alone = method.train(losses[i], t(Xi[None]), t(yi[None]), ones, [t(p) for p in init], iterations=50)
        for a, b in zip(alone, batched):
            np.testing.assert_allclose(a.numpy()[0], b.numpy()[i], rtol=1e-10, atol=1e-12)


def test_anyloss_f1_training_raises_the_soft_f1_of_an_imbalanced_problem(one_thread):
    import torch

    rng = np.random.default_rng(6)
    X = rng.standard_normal((1, 400, 2))
    y = (X[0, :, 0] + 0.5 * rng.standard_normal(400) > 1.3).astype(float)[None]
    t = torch.tensor
    params0 = [t(p) for p in method.init_params(rng, 1, 2)]
    before = method.soft_metric("f1", t(y), method.predict(params0, t(X)))
    params = method.train("anyloss_f1", t(X), t(y), t(np.ones((1, 400))), params0, iterations=300)
    after = method.soft_metric("f1", t(y), method.predict(params, t(X)))
    assert float(after) > float(before) + 0.2


@pytest.mark.parametrize("kind", ["smote", "under"])
def test_resampling_balances_the_classes(kind):
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((200, 3)), np.r_[np.ones(20), np.zeros(180)].astype(int)
    Xr, yr = baselines.resample(X, y, kind, seed=0)
    assert np.bincount(yr)[0] == np.bincount(yr)[1] == (180 if kind == "smote" else 20)
    assert baselines.resample(X, y, None, 0)[0] is X
