"""Our EK-FAC influence scores next to kronfluence's (the open-source EK-FAC influence library of the
paper's second author, Juhan Bae) on the same model, data and damping.

Definitional differences, matched before comparing:
- Expectation over labels: we take the GGN's expectation over the model's own predictive
  distribution exactly (output-Hessian factor H = Σ_k u_k u_kᵀ, u_k = √p_k (p - e_k)); kronfluence
  samples one label per example (or uses the true labels, the empirical Fisher). Its `Task` defines
  the "sampled" loss, so `ExactGGNTask` makes it exact: the factor data set holds every (x_n, k) pair,
  and the sampled loss of a pair is √C u_k · f(x_n) (gradient √C u_k with respect to the logits; the
  √C undoes kronfluence's mean over N·C rows instead of N examples).
- Damping: both use the paper's heuristic, 0.1 × the mean of each layer's EK-FAC eigenvalues
  (kronfluence: `damping_factor=None`), per layer.
- Sign: kronfluence's score is ∇f_qᵀ (G + λI)⁻¹ ∇L_m; the paper's influence (ours) is its negative.
- Precision: every kronfluence dtype is set to float64 (its defaults are float32).

Needs the optional `reference` dependencies (kronfluence, installed without its dependencies so
that torch stays pinned); imported by the experiment's checks, the tests and the asv reference
suite, never by method.py.
"""
from __future__ import annotations

import copy
import tempfile
import warnings

import torch
import torch.nn.functional as F


def _task():
    from kronfluence.task import Task

    class ExactGGNTask(Task):
        """Cross-entropy; the sampled loss takes the expectation over labels exactly (module docstring)."""

        def compute_train_loss(self, batch, model, sample=False):
            x, y = batch
            logits = model(x)
            if not sample:
                return F.cross_entropy(logits, y, reduction="sum")
            p = torch.softmax(logits.detach(), dim=1)
            classes = p.shape[1]
            e = F.one_hot(y, classes).to(p.dtype)
            u = (classes * p.gather(1, y[:, None])).sqrt() * (p - e)
            return (u * logits).sum()

        def compute_measurement(self, batch, model):
            x, y = batch
            return F.cross_entropy(model(x), y, reduction="sum")

    return ExactGGNTask()


def kronfluence_scores(model, X_fit, queries: tuple, candidates: tuple) -> torch.Tensor:
    """Influence (queries × candidates) of the candidates' losses on the queries' losses by kronfluence's
    EK-FAC fitted on inputs `X_fit`, in the paper's sign and with the exact label expectation (module
    docstring); float64 on the CPU."""
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from torch.utils.data import TensorDataset

    task = _task()
    tracked = prepare_model(copy.deepcopy(model).cpu(), task)
    classes = model(X_fit[:1]).shape[1]
    pairs = TensorDataset(X_fit.repeat_interleave(classes, dim=0).cpu(),
                          torch.arange(classes).repeat(len(X_fit)))
    f64 = torch.float64
    factor_args = FactorArguments(strategy="ekfac", activation_covariance_dtype=f64,
                                  gradient_covariance_dtype=f64, per_sample_gradient_dtype=f64,
                                  lambda_dtype=f64)
    score_args = ScoreArguments(damping_factor=None, score_dtype=f64, per_sample_gradient_dtype=f64,
                                precondition_dtype=f64)
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # kronfluence's own use of a deprecated torch.amp API
        analyzer = Analyzer("reference", tracked, task, cpu=True, disable_tqdm=True, output_dir=out)
        analyzer.fit_all_factors("ekfac", pairs, per_device_batch_size=len(pairs), factor_args=factor_args)
        analyzer.compute_pairwise_scores(
            "scores", "ekfac", query_dataset=TensorDataset(*(t.cpu() for t in queries)),
            train_dataset=TensorDataset(*(t.cpu() for t in candidates)),
            per_device_query_batch_size=len(queries[0]), per_device_train_batch_size=len(candidates[0]),
            score_args=score_args)
        scores = analyzer.load_pairwise_scores("scores")["all_modules"]
    return -scores


def our_scores(model, X_fit, queries: tuple, candidates: tuple) -> torch.Tensor:
    """The same influence by our EK-FAC (method.py) with the paper's damping."""
    from papers.influence_ekfac.method import (
        eigenbasis_ihvp,
        heuristic_damping,
        influence_scores,
        kronecker_factors,
    )

    factors = kronecker_factors(model, X_fit)
    ihvp = eigenbasis_ihvp(model, factors, factors.corrected, heuristic_damping(factors))
    return influence_scores(ihvp, model, queries, candidates)


def relative_difference(ours: torch.Tensor, reference: torch.Tensor) -> float:
    """max |ours - reference| / max |reference|."""
    return float((ours - reference).abs().max() / reference.abs().max())


def _digits_problem(sizes, n_fit: int, n_queries: int, seed: int = 0):
    from papers.common.mlp_digits import build_mlp, digits_tensors

    data = digits_tensors(seed=seed)
    model = build_mlp(sizes, seed=seed)
    fit = data.X_train[:n_fit], data.y_train[:n_fit]
    return model, fit, (data.X_test[:n_queries], data.y_test[:n_queries])


def fit_and_score_pair(n: int, width: int):
    """Timed pair (ours, kronfluence's): fit EK-FAC on n digits and score their influence on 50 test
    queries, MLP 64-`width`-10 (tanh, float64); kronfluence writes its factors to a temporary folder,
    as it always does."""
    model, (X, y), queries = _digits_problem((64, width, 10), n, 50)
    ours = lambda: our_scores(model, X, queries, (X, y))
    theirs = lambda: kronfluence_scores(model, X, queries, (X, y))
    ours(), theirs()
    return ours, theirs


PAIRS = {"ekfac_fit_and_score": (fit_and_score_pair, {"n": [1000], "width": [128]})}
