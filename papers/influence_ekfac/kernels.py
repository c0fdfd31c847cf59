"""Timed influence kernels: one batch of EK-FAC IHVPs and one LiSSA minibatch GGN-vector product."""
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
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    return model, X, V, sync


@kernel(params={"hidden": [0, 32, 256]}, devices=("cpu", "cuda"))
def ekfac_ihvp_batch(hidden, device):
    """EK-FAC inverse-GGN products of 50 vectors (hidden = 0: logistic regression; else MLP 64-hidden-10)."""
    from papers.influence_ekfac.method import ekfac_ihvp

    model, X, V, sync = _setup(hidden, device)
    ihvp = ekfac_ihvp(model, X, 1e-3)

    def call():
        ihvp(V)
        sync()

    return call


@kernel(params={"hidden": [0, 32, 256]}, devices=("cpu", "cuda"))
def ggn_vector_products(hidden, device):
    """One LiSSA step's work: GGN-vector products of 50 vectors on a minibatch of 128 (jvp + vjp, vmap)."""
    from papers.influence_ekfac.baselines import ggn_vector_product

    model, X, V, sync = _setup(hidden, device)

    def call():
        ggn_vector_product(model, X[:128], V)
        sync()

    return call
