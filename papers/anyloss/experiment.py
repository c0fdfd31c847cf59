"""AnyLoss against MSE, BCE, BCE + SMOTE and BCE + undersampling, by stratified k-fold CV of a
single-layer perceptron and a small MLP on imbalanced data: a grid of generated sets (the stand-in
for the paper's 102 data sets), the public code's synthetic set and an imbalanced breast_cancer
subset; and the learning-time ratio of AnyLoss to BCE."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import product

import numpy as np

from papers.anyloss import baselines, method
from papers.harness import Metric

# method -> (loss, resampling of the training folds)
METHODS = {
    "mse": ("mse", None),
    "bce": ("bce", None),
    "bce_smote": ("bce", "smote"),
    "bce_under": ("bce", "under"),
    "anyloss_f1": ("anyloss_f1", None),
    "anyloss_bacc": ("anyloss_balanced_accuracy", None),
    "anyloss_gmean": ("anyloss_gmean", None),
}
MLP_METHODS = ("bce", "anyloss_f1")
SCORES = ("f1", "bacc", "gmean", "acc")
LR, ITERATIONS = 0.1, 1000


@dataclass(frozen=True)
class Settings:
    """The generated grid (make_classification with 10 features: sizes x informative features x
    minority fraction x class separation), CV folds, the MLP's hidden width and the timing rounds."""

    sizes: tuple[int, ...]
    informative: tuple[int, ...]
    minority: tuple[float, ...]
    separation: tuple[float, ...]
    folds: int
    hidden: int
    timing_rounds: int


SETTINGS = {
    "quick": Settings(sizes=(400,), informative=(4,), minority=(0.05, 0.1, 0.2), separation=(0.5, 1.0),
                      folds=3, hidden=8, timing_rounds=5),
    "full": Settings(sizes=(300, 600), informative=(2, 6), minority=(0.05, 0.1, 0.2), separation=(0.5, 1.0),
                     folds=10, hidden=8, timing_rounds=15),
}


@dataclass(frozen=True)
class Dataset:
    name: str
    X: np.ndarray
    y: np.ndarray


def generated_grid(s: Settings, seed: int) -> list[Dataset]:
    """The imbalanced stand-in sets: make_classification(n, 10 features, n_informative, 2 redundant,
    weights [1 - m, m], class_sep), one draw per grid point and seed."""
    from sklearn.datasets import make_classification

    sets = []
    for i, (n, k, m, sep) in enumerate(product(s.sizes, s.informative, s.minority, s.separation)):
        X, y = make_classification(n_samples=n, n_features=10, n_informative=k, n_redundant=2,
                                   weights=[1 - m, m], class_sep=sep, random_state=(seed + i) % 2**32)
        sets.append(Dataset(f"n{n}_k{k}_m{m}_sep{sep}", X, y))
    return sets


def public_synthetic(seed: int) -> Dataset:
    """The public code's example: make_classification(1000, weights [0.9, 0.1]), then PCA to 2."""
    from sklearn.datasets import make_classification
    from sklearn.decomposition import PCA

    X, y = make_classification(n_samples=1000, weights=[0.9, 0.1], random_state=seed % 2**32)
    return Dataset("synthetic", PCA(n_components=2).fit_transform(X), y)


def imbalanced_breast_cancer(rng: np.random.Generator) -> Dataset:
    """breast_cancer with malignant as the positive class, all 357 benign and 36 malignant drawn at
    random (9 % positives)."""
    from sklearn.datasets import load_breast_cancer

    X, target = load_breast_cancer(return_X_y=True)
    y = 1 - target
    keep = np.concatenate([np.flatnonzero(y == 0), rng.choice(np.flatnonzero(y == 1), 36, replace=False)])
    return Dataset("breast_cancer", X[np.sort(keep)], y[np.sort(keep)])


def exact_scores(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """F1, balanced accuracy, G-mean and accuracy of the predictions p >= 1/2."""
    from imblearn.metrics import geometric_mean_score
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    pred = (prob >= 0.5).astype(int)
    return {"f1": f1_score(y, pred, zero_division=0.0), "bacc": balanced_accuracy_score(y, pred),
            "gmean": geometric_mean_score(y, pred), "acc": accuracy_score(y, pred)}


def _tensor(a, device: str):
    """A float32 torch tensor on `device` (training runs in float32)."""
    import torch

    return torch.as_tensor(a, dtype=torch.float32, device=device)


def cross_validate(datasets: list[Dataset], methods, folds: int, hidden: int, seed: int,
                   rng: np.random.Generator, device: str) -> dict[tuple[str, str], dict[str, float]]:
    """Stratified `folds`-fold CV of every method on every data set (same feature count), all
    trainings in one batched full-batch GD run (lr 0.1, 1000 iterations); features standardised on
    each training fold; every method of a fold starts from the same weights. Returns the fold-mean
    scores per (data set, method)."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    problems, tests = [], []
    for data in datasets:
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed % 2**32)
        for fold, (tr, te) in enumerate(cv.split(data.X, data.y)):
            scaler = StandardScaler().fit(data.X[tr])
            init = method.init_params(rng, 1, data.X.shape[1], hidden)
            for name in methods:
                loss, kind = METHODS[name]
                X, y = baselines.resample(scaler.transform(data.X[tr]), data.y[tr], kind,
                                          (seed + fold) % 2**32)
                problems.append((X, y, loss, init))
                tests.append((data.name, name, scaler.transform(data.X[te]), data.y[te]))
    tensor = partial(_tensor, device=device)
    params = [None] * len(problems)
    for chunk in _chunks_by_length([len(p[1]) for p in problems]):
        n_max, d = max(len(problems[i][1]) for i in chunk), problems[0][0].shape[1]
        X, y, w = np.zeros((len(chunk), n_max, d)), *np.zeros((2, len(chunk), n_max))
        for row, i in enumerate(chunk):
            Xi, yi = problems[i][0], problems[i][1]
            X[row, : len(yi)], y[row, : len(yi)], w[row, : len(yi)] = Xi, yi, 1.0
        params0 = [tensor(np.concatenate(parts)) for parts in zip(*(problems[i][3] for i in chunk))]
        trained = method.train([problems[i][2] for i in chunk], tensor(X), tensor(y), tensor(w), params0, LR,
                               ITERATIONS)
        for row, i in enumerate(chunk):
            params[i] = [p[row : row + 1] for p in trained]
    scores: dict[tuple[str, str], list[dict[str, float]]] = {}
    for i, (data_name, name, X_te, y_te) in enumerate(tests):
        prob = method.predict(params[i], tensor(X_te)[None])[0].cpu().numpy()
        scores.setdefault((data_name, name), []).append(exact_scores(y_te, prob))
    return {key: {s: float(np.mean([f[s] for f in per_fold])) for s in SCORES}
            for key, per_fold in scores.items()}


def _chunks_by_length(lengths: list[int], spread: float = 1.3) -> list[list[int]]:
    """Indices grouped so that within a group the longest problem is at most `spread` times the
    shortest (padding wastes little), shortest first."""
    chunks: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if chunks and lengths[i] <= spread * lengths[chunks[-1][0]]:
            chunks[-1].append(i)
        else:
            chunks.append([i])
    return chunks


def summarise(prefix: str, results, datasets: list[Dataset], methods) -> dict[str, Metric]:
    """Per method and score, the mean over data sets; with several sets, the fraction of sets on
    which AnyLoss for a metric scores strictly higher than BCE on that metric."""
    out = {}
    for name, score in product(methods, SCORES):
        mean = float(np.mean([results[d.name, name][score] for d in datasets]))
        out[f"{prefix}_{name}_{score}"] = Metric(mean, score, lower_is_better=False)
    if len(datasets) > 1:
        for score in ("f1", "bacc", "gmean"):
            if f"anyloss_{score}" in methods:
                wins = [results[d.name, f"anyloss_{score}"][score] > results[d.name, "bce"][score]
                        for d in datasets]
                out[f"{prefix}_{score}_win_fraction"] = Metric(float(np.mean(wins)), "fraction",
                                                               lower_is_better=False)
    return out


def approximation_gap(rng: np.random.Generator) -> float:
    """Largest |soft metric - exact metric| over the six metrics, for 20 label/probability draws of
    200 samples with every p at least 0.25 away from 1/2 (A(p) within 5e-9 of the rounded label)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, fbeta_score, recall_score

    gaps = []
    for _ in range(20):
        y = (rng.random(200) < 0.3).astype(float)
        p = np.where(rng.random(200) < 0.5, rng.uniform(0, 0.25, 200), rng.uniform(0.75, 1, 200))
        pred = (p >= 0.5).astype(int)
        tpr, tnr = recall_score(y, pred), recall_score(y, pred, pos_label=0)
        exact = {"accuracy": accuracy_score(y, pred), "f1": fbeta_score(y, pred, beta=1),
                 "f0.5": fbeta_score(y, pred, beta=0.5), "f2": fbeta_score(y, pred, beta=2),
                 "gmean": np.sqrt(tpr * tnr), "balanced_accuracy": balanced_accuracy_score(y, pred)}
        gaps += [abs(float(method.soft_metric(name, y, p)) - exact[name]) for name in method.METRICS]
    return max(gaps)


def time_ratio(ctx, data: Dataset, rounds: int) -> Metric:
    """Seconds of training the perceptron (1000 full-batch GD steps on the whole set) with AnyLoss-F1
    over the same with BCE, interleaved rounds (one thread)."""
    import torch

    from papers.common.timing import interleaved_ratios

    tensor = partial(_tensor, device=ctx.device)
    X, y = tensor((data.X - data.X.mean(0)) / data.X.std(0))[None], tensor(data.y)[None]
    w = torch.ones_like(y)
    params0 = [tensor(p) for p in method.init_params(ctx.rng(9), 1, X.shape[-1])]
    ratios = interleaved_ratios(lambda: method.train("anyloss_f1", X, y, w, params0, LR, ITERATIONS),
                                lambda: method.train("bce", X, y, w, params0, LR, ITERATIONS),
                                rounds=rounds, synchronize=ctx.synchronize)
    return Metric(samples=ratios, unit="x", volatile=True)


def plot(ctx, grid_results, grid: list[Dataset], summary: dict[str, Metric]) -> None:
    """(a) A(p) for several L; (b) per generated set, AnyLoss against BCE on F1 and balanced
    accuracy (perceptron); (c) mean F1 and balanced accuracy of every method over the grid."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    p = np.linspace(0, 1, 401)
    for L in (5.0, 20.0, 73.0):
        axes[0].plot(p, method.approximate(p, L), label=f"L = {L:g}")
    axes[0].plot(p, p, "k:", label="identity")
    axes[0].set(xlabel="predicted probability p", ylabel="A(p)", title="approximation function")
    axes[0].legend()
    for score, name, marker in (("f1", "anyloss_f1", "o"), ("bacc", "anyloss_bacc", "s")):
        bce = [grid_results[d.name, "bce"][score] for d in grid]
        ours = [grid_results[d.name, name][score] for d in grid]
        axes[1].scatter(bce, ours, marker=marker, label=f"{score}: AnyLoss-{score} vs BCE")
    axes[1].plot([0, 1], [0, 1], "k:")
    axes[1].set(xlabel="BCE", ylabel="AnyLoss", title="generated sets, perceptron (seed 0)")
    axes[1].legend()
    names = list(METHODS)
    x = np.arange(len(names))
    for j, score in enumerate(("f1", "bacc", "gmean")):
        axes[2].bar(x + (j - 1) * 0.27, [summary[f"slp_{n}_{score}"].value for n in names], 0.27, label=score)
    axes[2].set_xticks(x, names, rotation=30, ha="right")
    axes[2].set(ylabel="mean over generated sets", title="perceptron, stratified CV")
    axes[2].legend()
    fig.tight_layout()
    ctx.save_figure(fig, "anyloss")


def run(ctx) -> dict:
    """One seed: CV of the perceptron (all methods) on the grid, the synthetic and the breast_cancer
    sets, of the MLP (BCE, AnyLoss-F1) on the grid; the time ratio and the approximation check."""
    s = SETTINGS[ctx.tier]
    grid = generated_grid(s, ctx.seed)
    synthetic, cancer = public_synthetic(ctx.seed), imbalanced_breast_cancer(ctx.rng(1))
    out = {}
    cv = lambda data, methods, hidden, stream: cross_validate(  # noqa: E731
        data, methods, s.folds, hidden, ctx.seed, ctx.rng(stream), ctx.device)
    grid_slp = cv(grid, METHODS, 0, 2)
    out.update(summarise("slp", grid_slp, grid, METHODS))
    out.update(summarise("mlp", cv(grid, MLP_METHODS, s.hidden, 3), grid, MLP_METHODS))
    out.update(summarise("synthetic", cv([synthetic], METHODS, 0, 4), [synthetic], METHODS))
    out.update(summarise("cancer", cv([cancer], METHODS, 0, 5), [cancer], METHODS))
    out["slp_anyloss_f1_one_minus_f1"] = Metric(1 - out["slp_anyloss_f1_f1"].value, "1 - f1")
    out["slp_anyloss_bacc_one_minus_bacc"] = Metric(1 - out["slp_anyloss_bacc_bacc"].value, "1 - bacc")
    out["slp_time_ratio"] = time_ratio(ctx, synthetic, s.timing_rounds)
    out["approximation_max_gap"] = Metric(approximation_gap(ctx.rng(6)), "abs")
    plot(ctx, grid_slp, grid, out)
    return out
