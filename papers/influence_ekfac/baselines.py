"""The estimators EK-FAC is compared with: the exact damped Gauss-Newton solve (dense), LiSSA
(stochastic Neumann series of minibatch GGN-vector products from autodiff) and K-FAC."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call, jvp, vjp, vmap

from papers.influence_ekfac.method import (
    damping_vector,
    eigenbasis_ihvp,
    join_blocks,
    kronecker_factors,
    layer_data,
    linear_layers,
    split_blocks,
)


def exact_ggn(model: nn.Sequential, X: torch.Tensor, loss: str = "ce", chunk: int = 128) -> torch.Tensor:
    """The dense Gauss-Newton matrix G = (1/n) sum_n J_n^T H_n J_n (d x d, block coordinates),
    accumulated from the rows s_nk (x) a_n of every example and output-Hessian direction."""
    d = _dim(model)
    G = torch.zeros(d, d, dtype=X.dtype, device=X.device)
    for start in range(0, len(X), chunk):
        data = layer_data(model, X[start : start + chunk], None, loss)
        rows = torch.cat(
            [
                torch.einsum("nko,ni->nkoi", s, a).reshape(s.shape[0] * s.shape[1], -1)
                for a, s in zip(data.a, data.s)
            ],
            dim=1,
        )
        G += rows.T @ rows
    return G / len(X)


def _dim(model: nn.Sequential) -> int:
    return sum(layer.out_features * (layer.in_features + 1) for layer in linear_layers(model))


def exact_ihvp(model: nn.Sequential, X: torch.Tensor, damping, loss: str = "ce"):
    """V (k, d) -> rows of (G + D)^{-1} V by a Cholesky solve of the dense matrix; D = lambda_l I on layer l
    (`damping`: one number or one per layer)."""
    G = exact_ggn(model, X, loss)
    chol = torch.linalg.cholesky(G + torch.diag(damping_vector(model, damping, G.dtype, G.device)))
    return lambda V: torch.cholesky_solve(V.T, chol).T


def kfac_ihvp(model: nn.Sequential, X: torch.Tensor, damping, loss: str = "ce"):
    """V (k, d) -> rows of (S (x) A + lambda_l I)^{-1} V per layer (K-FAC, eigenvalues eig_S eig_A^T)."""
    f = kronecker_factors(model, X, loss)
    return eigenbasis_ihvp(model, f, [torch.outer(es, ea) for es, ea in zip(f.eigS, f.eigA)], damping)


def _block_params(model: nn.Sequential, blocks: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Parameter dict of the model from per-layer blocks [W | b] (one vector's blocks, no batch dim)."""
    names = [name for name, layer in model.named_children() if isinstance(layer, nn.Linear)]
    params = {}
    for name, block in zip(names, blocks):
        params[f"{name}.weight"], params[f"{name}.bias"] = block[:, :-1], block[:, -1]
    return params


def _params_to_blocks(model: nn.Sequential, params: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    names = [name for name, layer in model.named_children() if isinstance(layer, nn.Linear)]
    return [torch.cat([params[f"{n}.weight"], params[f"{n}.bias"][..., None]], dim=-1) for n in names]


def ggn_vector_product(
    model: nn.Sequential, X: torch.Tensor, V: torch.Tensor, loss: str = "ce"
) -> torch.Tensor:
    """Rows of G_X V for the GGN of the examples X: J v by forward-mode autodiff (jvp), the output
    Hessian applied in closed form, J^T by reverse mode (vjp); vectorised over the rows with vmap."""
    theta = {name: p.detach() for name, p in model.named_parameters()}

    def f(p):
        return functional_call(model, p, (X,))

    logits, pullback = vjp(f, theta)
    p = torch.softmax(logits, dim=1) if loss == "ce" else None

    def one(v_flat):
        tangent = _block_params(model, [b[0] for b in split_blocks(model, v_flat[None])])
        Jv = jvp(f, (theta,), (tangent,))[1]
        HJv = p * Jv - p * (p * Jv).sum(dim=1, keepdim=True) if loss == "ce" else Jv
        (grad,) = pullback(HJv / len(X))
        return join_blocks([b[None] for b in _params_to_blocks(model, grad)])[0]

    return vmap(one)(V)


def top_eigenvalue(matvec, d: int, dtype, device, iterations: int = 50, seed: int = 0) -> float:
    """Largest eigenvalue of a PSD operator by power iteration."""
    v = torch.randn(1, d, generator=torch.Generator().manual_seed(seed), dtype=dtype).to(device)
    value = 0.0
    for _ in range(iterations):
        w = matvec(v)
        value = torch.linalg.vector_norm(w).item() / torch.linalg.vector_norm(v).item()
        v = w / torch.linalg.vector_norm(w)
    return value


def lissa_ihvp(
    model: nn.Sequential,
    X: torch.Tensor,
    damping,
    loss: str = "ce",
    batch_size: int = 128,
    iterations: int | None = None,
    scale: float | None = None,
    seed: int = 0,
    tolerance: float = 1e-3,
):
    """LiSSA: V (k, d) -> h_J / scale with h_0 = V and
    h_j = V + h_{j-1} - (G_{B_j} + D) h_{j-1} / scale on random minibatches B_j
    (drawn without replacement; batch_size >= n is the full batch),
    whose fixed point is (G + D)^{-1} V, D = lambda_l I on layer l (`damping`: one number or one per layer).
    `scale` defaults to 1.1 (top eigenvalue of G) + max lambda_l (power iteration, full batch);
    `iterations` to what shrinks the slowest mode, 1 - min lambda_l / scale per step, by `tolerance`."""
    d = _dim(model)
    D = damping_vector(model, damping, X.dtype, X.device)
    if scale is None:
        scale = 1.1 * top_eigenvalue(lambda v: ggn_vector_product(model, X, v, loss), d, X.dtype, X.device)
        scale += D.max().item()
    if iterations is None:
        iterations = math.ceil(math.log(tolerance) / math.log1p(-D.min().item() / scale))

    def ihvp(V: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        h = V.clone()
        for _ in range(iterations):
            idx = torch.randperm(len(X), generator=gen)[:batch_size].to(X.device)
            h = V + h - (ggn_vector_product(model, X[idx], h, loss) + D * h) / scale
        return h / scale

    ihvp.iterations, ihvp.scale = iterations, scale
    return ihvp
