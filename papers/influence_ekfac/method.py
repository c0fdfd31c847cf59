"""Influence functions through the damped Gauss-Newton matrix with EK-FAC (arXiv 2308.03296).

For a model f_theta trained on N examples with loss L, the influence of training example z_m
on a query quantity f (here the query's loss) is

    I_f(z_m) = - grad f^T (G + lambda I)^{-1} grad L(z_m),    G = (1/N) sum_n J_n^T H_n J_n,

with G the Gauss-Newton matrix (J_n: output Jacobian, H_n: Hessian of the loss in the outputs).

Parameters are laid out per linear layer as the block [W | b] of shape (out, in + 1), flattened
row-major and concatenated over layers ("block coordinates"). With a = [input; 1] the layer's
homogeneous input and s the derivative with respect to its pre-activation, a per-example
gradient block is s a^T, so G's block of layer l is (1/N) sum_n sum_k (s_nk a_n^T)(s_nk a_n^T)^T
where the directions k run over a factor of H_n = sum_k u_k u_k^T.

K-FAC approximates a block by S (x) A, S = (1/N) sum s s^T, A = (1/N) sum a a^T; EK-FAC keeps
K-FAC's eigenbasis Q_S (x) Q_A and refits the eigenvalues to the diagonal of G in that basis,
Lambda_oi = (1/N) sum_nk ((Q_S^T s_nk)_o (Q_A^T a_n)_i)^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

LOSSES = ("ce", "mse")


def linear_layers(model: nn.Sequential) -> list[nn.Linear]:
    """The model's linear layers, in order."""
    return [layer for layer in model if isinstance(layer, nn.Linear)]


def block_shapes(model: nn.Sequential) -> list[tuple[int, int]]:
    """(out, in + 1) for each linear layer."""
    return [(layer.out_features, layer.in_features + 1) for layer in linear_layers(model)]


def split_blocks(model: nn.Sequential, V: torch.Tensor) -> list[torch.Tensor]:
    """Rows of V (k, d) in block coordinates, as per-layer tensors (k, out, in + 1)."""
    out, start = [], 0
    for o, i in block_shapes(model):
        out.append(V[:, start : start + o * i].reshape(len(V), o, i))
        start += o * i
    return out


def join_blocks(blocks: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of `split_blocks`: per-layer (k, out, in + 1) tensors to (k, d)."""
    return torch.cat([b.reshape(len(b), -1) for b in blocks], dim=1)


@dataclass(frozen=True)
class LayerData:
    """Per linear layer l: homogeneous inputs a[l] (n, in + 1) and pseudo-gradients s[l] (n, K, out)."""

    a: list[torch.Tensor]
    s: list[torch.Tensor]


def output_directions(logits: torch.Tensor, y: torch.Tensor | None, loss: str) -> torch.Tensor:
    """(n, K, out) vectors u_k with sum_k u_k u_k^T = H (the output Hessian of the loss) when y is
    None, or the single direction dL/df (K = 1) when y holds the labels/targets.

    ce: L = cross-entropy of softmax(f): H = diag(p) - p p^T = sum_k p_k (p - e_k)(p - e_k)^T,
        dL/df = p - e_y.  mse: L = 1/2 ||f - y||^2: H = I, dL/df = f - y.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known: {', '.join(LOSSES)}")
    logits = logits.detach()
    n, c = logits.shape
    eye = torch.eye(c, dtype=logits.dtype, device=logits.device)
    if loss == "ce":
        p = torch.softmax(logits, dim=1)
        if y is None:
            return p.sqrt()[:, :, None] * (p[:, None, :] - eye[None])
        return (p - eye[y])[:, None, :]
    if y is None:
        return eye.expand(n, c, c)
    return (logits - y)[:, None, :]


def layer_data(
    model: nn.Sequential, X: torch.Tensor, y: torch.Tensor | None = None, loss: str = "ce"
) -> LayerData:
    """Inputs and pseudo-gradients of every linear layer: s[l][n, k] = d(u_nk . f(x_n)) / dz_l(x_n),
    one backward pass per direction k (see `output_directions` for the u)."""
    a, z, h = [], [], X
    for layer in model:
        if isinstance(layer, nn.Linear):
            a.append(torch.cat([h, torch.ones_like(h[:, :1])], dim=1).detach())
            h = layer(h)
            z.append(h)
        else:
            h = layer(h)
    U = output_directions(h, y, loss)
    s = [torch.empty(len(X), U.shape[1], zl.shape[1], dtype=X.dtype, device=X.device) for zl in z]
    for k in range(U.shape[1]):
        grads = torch.autograd.grad(h, z, grad_outputs=U[:, k], retain_graph=k + 1 < U.shape[1])
        for layer, g in enumerate(grads):
            s[layer][:, k] = g
    return LayerData(a, s)


def per_example_gradients(
    model: nn.Sequential, X: torch.Tensor, y: torch.Tensor, loss: str = "ce"
) -> torch.Tensor:
    """(n, d) gradients of each example's loss in block coordinates: blocks s a^T."""
    data = layer_data(model, X, y, loss)
    return torch.cat(
        [torch.einsum("no,ni->noi", s[:, 0], a).reshape(len(X), -1) for a, s in zip(data.a, data.s)], dim=1
    )


@dataclass(frozen=True)
class KroneckerFactors:
    """Per layer: eigenvectors and eigenvalues of A and S, and EK-FAC's fitted eigenvalues (out, in + 1)."""

    QA: list[torch.Tensor]
    eigA: list[torch.Tensor]
    QS: list[torch.Tensor]
    eigS: list[torch.Tensor]
    corrected: list[torch.Tensor]


def kronecker_factors(model: nn.Sequential, X: torch.Tensor, loss: str = "ce") -> KroneckerFactors:
    """K-FAC factors A, S of every layer on inputs X (expectations over the model's own output
    distribution taken exactly through the output-Hessian factor), their eigendecompositions,
    and EK-FAC's eigenvalues: the mean squared projections of the pseudo-gradient blocks onto
    the Kronecker eigenbasis."""
    data = layer_data(model, X, None, loss)
    n = len(X)
    QA, eigA, QS, eigS, corrected = [], [], [], [], []
    for a, s in zip(data.a, data.s):
        ea, qa = torch.linalg.eigh(a.T @ a / n)
        es, qs = torch.linalg.eigh(torch.einsum("nko,nkp->op", s, s) / n)
        proj_s = (s @ qs).pow(2).sum(dim=1)  # (n, out): sum_k (Q_S^T s_nk)^2
        proj_a = (a @ qa).pow(2)  # (n, in + 1)
        QA.append(qa), eigA.append(ea.clamp_min(0)), QS.append(qs), eigS.append(es.clamp_min(0))
        corrected.append(proj_s.T @ proj_a / n)
    return KroneckerFactors(QA, eigA, QS, eigS, corrected)


DAMPING_SCALE = 0.1


def heuristic_damping(factors: KroneckerFactors) -> list[float]:
    """The paper's damping, per layer: lambda_l = 0.1 x the mean of EK-FAC's eigenvalues of layer l.
    Those eigenvalues are the diagonal of the layer's GGN block in the Kronecker eigenbasis, so their
    mean is also the mean eigenvalue of the exact block, tr(G_l) / dim_l."""
    return [DAMPING_SCALE * lam.mean().item() for lam in factors.corrected]


def layer_damping(model: nn.Sequential, damping) -> list[float]:
    """A damping given as one number (every layer) or one number per linear layer, as a per-layer list."""
    n = len(block_shapes(model))
    values = [float(damping)] * n if isinstance(damping, (int, float)) else [float(v) for v in damping]
    if len(values) != n:
        raise ValueError(f"damping has {len(values)} values for {n} linear layers")
    return values


def damping_vector(model: nn.Sequential, damping, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """The diagonal (d,) of the damping matrix D in block coordinates: lambda_l on layer l's entries."""
    return torch.cat(
        [
            torch.full((o * i,), lam, dtype=dtype, device=device)
            for (o, i), lam in zip(block_shapes(model), layer_damping(model, damping))
        ]
    )


def eigenbasis_ihvp(
    model: nn.Sequential, factors: KroneckerFactors, eigenvalues: list[torch.Tensor], damping
):
    """V (k, d) -> rows of (Q diag(eigenvalues) Q^T + D)^{-1} V, Q = Q_S (x) Q_A per layer, D = lambda_l I on
    layer l (`damping`: one number or one per layer)."""
    lams = layer_damping(model, damping)

    def ihvp(V: torch.Tensor) -> torch.Tensor:
        out = []
        for block, qa, qs, eig, lam in zip(split_blocks(model, V), factors.QA, factors.QS, eigenvalues, lams):
            rotated = qs.T @ block @ qa
            out.append(qs @ (rotated / (eig + lam)) @ qa.T)
        return join_blocks(out)

    return ihvp


def ekfac_ihvp(model: nn.Sequential, data: torch.Tensor, damping, loss: str = "ce"):
    """EK-FAC inverse-GGN-vector products fitted on inputs `data`: returns V (k, d) -> (G_EKFAC + D)^{-1} V
    row by row (block coordinates; `damping` one number or one per layer). Fitting costs one pass over
    the data; each product is two small matrix products per layer."""
    factors = kronecker_factors(model, data, loss)
    return eigenbasis_ihvp(model, factors, factors.corrected, damping)


def low_rank_blocks(model: nn.Sequential, V: torch.Tensor, rank: int):
    """Query batching: each row's per-layer block (out, in + 1) truncated to its top `rank` singular
    triplets, stored as factors (k, out, r) and (k, in + 1, r) per layer."""
    factors = []
    for block in split_blocks(model, V):
        U, S, Vh = torch.linalg.svd(block, full_matrices=False)
        r = min(rank, S.shape[1])
        factors.append((U[:, :, :r] * S[:, None, :r], Vh[:, :r, :].transpose(1, 2)))
    return factors


def low_rank_scores(model: nn.Sequential, query_factors, candidates: LayerData) -> torch.Tensor:
    """Influence scores (queries, candidates) from low-rank preconditioned query blocks and the
    candidates' layer data (K = 1): - sum_l (s^T U_l)(V_l^T a) without forming candidate gradients."""
    total = 0
    for (Uq, Vq), a, s in zip(query_factors, candidates.a, candidates.s):
        total = total + torch.einsum("qor,no,qir,ni->qn", Uq, s[:, 0], Vq, a)
    return -total


def influence_scores(
    ihvp, model: nn.Sequential, queries: tuple, candidates: tuple, loss: str = "ce"
) -> torch.Tensor:
    """I_f(z_m) = - grad f^T (G + D)^{-1} grad L(z_m) for every query (rows) and candidate training
    example (columns), with f = the query's loss; `ihvp` is an estimator's V -> rows of (G + D)^{-1} V
    (`ekfac_ihvp` here, or one of baselines.py), `queries` and `candidates` are (X, y) pairs."""
    query_grads = per_example_gradients(model, *queries, loss=loss)
    return -ihvp(query_grads) @ per_example_gradients(model, *candidates, loss=loss).T
