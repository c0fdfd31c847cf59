"""Timed influence kernels: a batch of EK-FAC IHVPs and one LiSSA iteration's GGN-vector products."""

from papers.harness import kernel


def _setup(hidden, device):
    import torch

    from papers.common.mlp_digits import build_mlp

    sizes = (64, 10) if hidden == 0 else (64, hidden, 10)
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(512, 64, generator=gen, dtype=torch.float64).to(device)
    model = build_mlp(sizes, seed=0, device=device)
    d = sum(p.numel() for p in model.parameters())
    V = torch.randn(50, d, generator=gen, dtype=torch.float64).to(device)
    return model, X, V


@kernel(params={"hidden": [0, 32]}, devices=("cpu", "cuda"))
def ekfac_ihvp_batch(hidden, device):
    """EK-FAC inverse-GGN products of 50 vectors (hidden = 0: logistic regression; else MLP 64-hidden-10)."""
    from papers.influence_ekfac.method import ekfac_ihvp

    model, X, V = _setup(hidden, device)
    ihvp = ekfac_ihvp(model, X, 1e-3)
    return lambda: ihvp(V)


@kernel(params={"hidden": [0, 32]}, devices=("cpu", "cuda"))
def ggn_vector_products(hidden, device):
    """One LiSSA iteration's work: GGN-vector products of 50 vectors on 128 examples (jvp + vjp, vmap)."""
    from papers.influence_ekfac.baselines import ggn_vector_product

    model, X, V = _setup(hidden, device)
    return lambda: ggn_vector_product(model, X[:128], V)
