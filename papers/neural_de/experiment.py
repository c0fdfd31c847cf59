"""Reproduction of the reversible Heun method (Kidger 2022, §5.4): order, NFE, reversibility,
gradient accuracy of the reversible adjoint against the continuous adjoint, the training-step speed-up
over Heun, and the thesis's small neural ODE / neural CDE examples."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from papers.harness import Metric

ODE_T = 5.0
ODE_STEPS = (256, 512, 1024, 2048, 4096)   # asymptotic range (the parasitic mode has decayed)
SDE_T = 1.0
OU_THETA, OU_SIGMA = 1.0, 0.5
SDE_STEPS = (8, 16, 32, 64, 128)
GENERAL_STEPS = (4, 8, 16, 32)
GENERAL_FINE = 2048                        # reference steps (Heun) for the non-commutative SDE
SPIRAL_T, SPIRAL_STEPS, SPIRAL_OBS = 10.0, 1000, 50
ADJOINT_RTOL, ADJOINT_ATOL = 1e-3, 1e-6


@dataclass(frozen=True)
class Settings:
    """Sizes of one seed's run."""

    ou_paths: int            # Monte Carlo paths of the additive-noise (OU) strong order
    general_paths: int       # paths of the non-commutative SDE's strong order
    timing_steps: int        # solver steps of the timed neural SDE training step
    timing_batch: int        # its batch of paths
    timing_rounds: int       # interleaved rounds of the timing (each gives one ratio)
    examples: bool           # gradient accuracy on the spiral, neural ODE and neural CDE training
    ode_iterations: int = 0  # Adam steps of the neural ODE example
    cde_epochs: int = 0      # epochs of the neural CDE example


SETTINGS = {
    "quick": Settings(ou_paths=2000, general_paths=500, timing_steps=100, timing_batch=256, timing_rounds=15,
                      examples=False),
    "full": Settings(ou_paths=2000, general_paths=500, timing_steps=100, timing_batch=256, timing_rounds=3,
                     examples=True, ode_iterations=500, cde_epochs=15),
}


class CountingField:
    """Wraps a vector field f(t, y) and counts its evaluations."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, t, y):
        self.calls += 1
        return self.f(t, y)


def run(ctx):
    import torch

    s = SETTINGS[ctx.tier]
    torch.manual_seed(ctx.seed)
    device = torch.device(ctx.device)
    metrics = {}
    ode = ode_convergence(device)
    metrics.update(ode["metrics"])
    sde = sde_convergence(ctx, device, s.ou_paths, s.general_paths)
    metrics.update(sde["metrics"])
    metrics.update(reconstruction_errors(ctx, device))
    metrics.update(training_step_speedup(ctx, device, s))
    metrics.update(diffrax_agreement(ctx))
    _figure_convergence(ctx, ode, sde)
    if not s.examples:
        return metrics
    grads = gradient_accuracy(ctx, device)
    metrics.update(grads["metrics"])
    node = neural_ode_example(ctx, device, s.ode_iterations)
    metrics.update(node["metrics"])
    metrics.update(neural_cde_example(ctx, device, s.cde_epochs))
    _figure_gradients(ctx, grads, node, metrics["neural_cde_test_accuracy"].value)
    return metrics


def _slope(h, err):
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


def ode_convergence(device):
    """Error at T = 5 of y' = -y + sin t, y(0) = 1 (exact 3/2 e^{-t} + (sin t - cos t)/2), and
    evaluations of f per step (difference of counts between N and 2N steps, over N)."""
    import torch

    from papers.neural_de.baselines import heun
    from papers.neural_de.method import reversible_heun

    exact = 1.5 * math.exp(-ODE_T) + 0.5 * (math.sin(ODE_T) - math.cos(ODE_T))
    y0 = torch.ones(1, dtype=torch.float64, device=device)
    out = {"h": ODE_T / np.array(ODE_STEPS)}
    metrics = {}
    for name, solver in (("reversible_heun", reversible_heun), ("heun", heun)):
        errors, calls = [], []
        for n in ODE_STEPS:
            f = CountingField(lambda t, y: -y + math.sin(t))
            ts = torch.linspace(0.0, ODE_T, n + 1, dtype=torch.float64)
            errors.append(abs(float(solver(f, y0, ts)[-1, 0]) - exact))
            calls.append(f.calls)
        out[name] = np.array(errors)
        metrics[f"ode_order_{name}"] = Metric(_slope(out["h"], out[name]), "", lower_is_better=False)
        metrics[f"nfe_per_step_{name}"] = Metric((calls[1] - calls[0]) / (ODE_STEPS[1] - ODE_STEPS[0]))
    metrics["ode_order_gap"] = Metric(abs(metrics["ode_order_reversible_heun"].value - 2.0))
    return {"metrics": metrics, **out}


def _ou_paths(generator, steps_fine, paths):
    """Brownian increments on a fine grid jointly with I_k = ∫ e^{-θ(t_{k+1}-s)} dW_s, and the
    exact OU solution X_T = e^{-θT} X_0 + σ Σ_k e^{-θ(T - t_{k+1})} I_k (X_0 = 1)."""
    import torch

    h, th = SDE_T / steps_fine, OU_THETA
    cov = torch.tensor([[h, (1 - math.exp(-th * h)) / th],
                        [(1 - math.exp(-th * h)) / th, (1 - math.exp(-2 * th * h)) / (2 * th)]],
                       dtype=torch.float64)
    z = torch.randn(steps_fine, paths, 2, generator=generator, dtype=torch.float64)
    z = z @ torch.linalg.cholesky(cov).T
    dW, integrals = z[..., :1], z[..., 1:]
    t_right = torch.linspace(0.0, SDE_T, steps_fine + 1, dtype=torch.float64)[1:]
    weights = torch.exp(-th * (SDE_T - t_right)).view(-1, 1, 1)
    return dW, math.exp(-th * SDE_T) + OU_SIGMA * (weights * integrals).sum(0)


def _general_sde():
    """dX = -½X dt + A₁X∘dW¹ + A₂X∘dW² with the non-commuting A₁ = 0.8 [[0, 1], [-1, 0]] and
    A₂ = 0.8 [[1, 0], [0, -1]] (general noise: the Lévy area matters). Written elementwise,
    which is much cheaper than tiny matrix products."""
    import torch

    f = lambda t, y: -0.5 * y
    g = lambda t, y: 0.8 * torch.stack([torch.stack([y[..., 1], -y[..., 0]], dim=-1),
                                        torch.stack([y[..., 0], -y[..., 1]], dim=-1)], dim=-1)
    return f, g


def sde_convergence(ctx, device, paths: int, general_paths: int):
    """Strong (RMS) error at T = 1 against the step size: OU with additive noise against its
    exact solution on the same Brownian path; the non-commutative linear SDE against Heun
    with 2048 steps on the same path."""
    import torch

    from papers.neural_de.baselines import heun
    from papers.neural_de.method import reversible_heun

    gen = torch.Generator().manual_seed(ctx.seed)
    fine = SDE_STEPS[-1] * 8
    dW_fine, exact = _ou_paths(gen, fine, paths)
    dW_fine, exact = dW_fine.to(device), exact.to(device)
    f_ou = lambda t, y: -OU_THETA * y
    g_ou = lambda t, y: OU_SIGMA * torch.ones_like(y)
    y0 = torch.ones(paths, 1, dtype=torch.float64, device=device)
    out = {"h_additive": SDE_T / np.array(SDE_STEPS), "h_general": SDE_T / np.array(GENERAL_STEPS)}
    metrics = {}
    for name, solver in (("reversible_heun", reversible_heun), ("heun", heun)):
        errors = []
        for n in SDE_STEPS:
            dW = dW_fine.view(n, fine // n, paths, 1).sum(1)
            ys = solver(f_ou, y0, torch.linspace(0.0, SDE_T, n + 1, dtype=torch.float64), g=g_ou, dW=dW)
            errors.append(float(((ys[-1] - exact) ** 2).mean().sqrt()))
        out[f"additive_{name}"] = np.array(errors)
    f, g = _general_sde()
    dW_fine = (torch.randn(GENERAL_FINE, general_paths, 2, generator=gen, dtype=torch.float64)
               * math.sqrt(SDE_T / GENERAL_FINE)).to(device)
    y0 = torch.tensor([1.0, 0.5], dtype=torch.float64, device=device).expand(general_paths, 2)
    fine_ts = torch.linspace(0.0, SDE_T, GENERAL_FINE + 1, dtype=torch.float64)
    reference = heun(f, y0, fine_ts, g=g, dW=dW_fine)[-1]
    for name, solver in (("reversible_heun", reversible_heun), ("heun", heun)):
        errors = []
        for n in GENERAL_STEPS:
            dW = dW_fine.view(n, GENERAL_FINE // n, general_paths, 2).sum(1)
            ys = solver(f, y0, torch.linspace(0.0, SDE_T, n + 1, dtype=torch.float64), g=g, dW=dW)
            errors.append(float(((ys[-1] - reference) ** 2).sum(-1).mean().sqrt()))
        out[f"general_{name}"] = np.array(errors)
    for kind, target in (("additive", 1.0), ("general", 0.5)):
        order = _slope(out[f"h_{kind}"], out[f"{kind}_reversible_heun"])
        metrics[f"sde_order_{kind}"] = Metric(order, "", lower_is_better=False)
        metrics[f"sde_order_{kind}_gap"] = Metric(abs(order - target))
        metrics[f"sde_order_{kind}_heun"] = Metric(_slope(out[f"h_{kind}"], out[f"{kind}_heun"]), "",
                                                   lower_is_better=False)
    return {"metrics": metrics, **out}


def reconstruction_errors(ctx, device, steps: int = 1000):
    """Largest |y_n(forward) - y_n(reconstructed backwards)| over the grid, for the ODE above,
    an OU sample path and a random neural ODE (float64)."""
    import torch

    from papers.neural_de.method import reversible_heun, reversible_heun_backward
    from papers.neural_de.models import CubicODEFunc

    gen = torch.Generator().manual_seed(ctx.seed + 1)
    ts = torch.linspace(0.0, ODE_T, steps + 1, dtype=torch.float64)
    dW = (torch.randn(steps, 16, 1, generator=gen, dtype=torch.float64) * math.sqrt(ODE_T / steps)).to(device)
    net = CubicODEFunc().to(device=device, dtype=torch.float64)
    cases = [
        (lambda t, y: -y + math.sin(t), None, torch.ones(1, dtype=torch.float64, device=device), None),
        (lambda t, y: -OU_THETA * y, lambda t, y: OU_SIGMA * torch.ones_like(y),
         torch.ones(16, 1, dtype=torch.float64, device=device), dW),
        (net, None, torch.tensor([[2.0, 0.0]], dtype=torch.float64, device=device), None),
    ]
    worst = 0.0
    with torch.no_grad():
        for f, g, y0, noise in cases:
            ys, state = reversible_heun(f, y0, ts, g=g, dW=noise, return_state=True)
            back = reversible_heun_backward(f, state, ts, g=g, dW=noise)
            worst = max(worst, float((ys - back).abs().max()))
    return {"reconstruction_error": Metric(worst)}


def training_step_speedup(ctx, device, s: Settings):
    """Seconds of one training step of a neural SDE (loss over the whole path and its gradient with
    respect to the drift and diffusion MLPs; 8 dims) by Heun with backpropagation through the solver
    over those by reversible Heun with the reversible adjoint: both compiled in JAX
    (`papers.neural_de.compiled`), same model, batch, grid and Brownian increments on both sides,
    warmed up, in interleaved rounds (one ratio per round). The same ratio for the forward solve
    alone is reported beside it, and so is the agreement of the compiled arms with the eager torch
    solvers (`method.reversible_heun`, `baselines.heun`) on the same problem."""
    import jax
    import jax.numpy as jnp
    import torch

    from papers.common.jax_env import float64, jax_device
    from papers.common.timing import interleaved_ratios
    from papers.neural_de import compiled
    from papers.neural_de.baselines import heun
    from papers.neural_de.method import reversible_heun
    from papers.neural_de.models import NeuralSDEFields

    torch.manual_seed(ctx.seed)
    sde = NeuralSDEFields().to(device=device, dtype=torch.float64)
    params = tuple(sde.parameters())
    gen = torch.Generator().manual_seed(ctx.seed + 2)
    n, batch = s.timing_steps, s.timing_batch
    dW = (torch.randn(n, batch, 8, generator=gen, dtype=torch.float64) * math.sqrt(1.0 / n)).to(device)
    y0 = torch.zeros(batch, 8, dtype=torch.float64, device=device)
    ts = torch.linspace(0.0, 1.0, n + 1, dtype=torch.float64)
    paths = {"heun": heun(sde.drift, y0, ts, g=sde.diffusion, dW=dW),
             "reversible_heun": reversible_heun(sde.drift, y0, ts, g=sde.diffusion, dW=dW, adjoint=True,
                                                params=params)}
    eager = {name: (ys.detach().cpu().numpy(), _flat(torch.autograd.grad((ys ** 2).mean(), params)))
             for name, ys in paths.items()}

    with float64(), jax.default_device(jax_device(ctx.device)):
        inputs = (compiled.sde_weights(sde), *(jnp.asarray(a.cpu().numpy()) for a in (y0, ts, dW)))
        step = {name: compiled.training_step(name) for name in eager}
        solve = {name: compiled.forward_solve(name) for name in eager}
        forward_diff, gradient_diff = 0.0, 0.0
        for name, (ys_ref, grad_ref) in eager.items():
            ys = np.asarray(solve[name](*inputs))
            grads = step[name](*inputs)[1]
            grad = _flat([*grads["drift"], *grads["diffusion"]])
            forward_diff = max(forward_diff, _max_rel_diff(ys, ys_ref))
            gradient_diff = max(gradient_diff, _norm_rel_diff(grad, grad_ref))

        def ratios(calls):
            heun_call = partial(calls["heun"], *inputs)
            reversible_call = partial(calls["reversible_heun"], *inputs)
            return interleaved_ratios(heun_call, reversible_call, rounds=s.timing_rounds)

        train, forward = ratios(step), ratios(solve)
    return {"training_step_speedup": Metric(samples=train, unit="x", lower_is_better=False, volatile=True),
            "forward_solve_speedup": Metric(samples=forward, unit="x", lower_is_better=False, volatile=True),
            "compiled_forward_rel_diff": Metric(forward_diff),
            "compiled_gradient_rel_diff": Metric(gradient_diff)}


def _flat(arrays) -> np.ndarray:
    """Arrays (torch or jax) flattened and concatenated into one numpy vector."""
    return np.concatenate([np.asarray(a.detach().cpu() if hasattr(a, "detach") else a).ravel()
                           for a in arrays])


def diffrax_agreement(ctx, batch: int = 16, steps: int = 1000, t1: float = 2.0):
    """Our reversible Heun against diffrax's ReversibleHeun on the same 2-64-2 MLP ODE, initial values
    and grid (float64, on the CPU): the largest difference of the solutions over the grid relative to
    the largest |y|, and the relative 2-norm difference of the gradients of mean(y²) over the grid
    with respect to y₀ and the weights (ours: reversible adjoint; diffrax: backpropagation)."""
    from papers.neural_de.reference import solve_and_gradient_both

    out = solve_and_gradient_both(ctx.seed, batch, steps, t1)
    (ys, grad), (ys_ref, grad_ref) = out["ours"], out["diffrax"]
    return {"diffrax_forward_rel_diff": Metric(_max_rel_diff(ys, ys_ref)),
            "diffrax_gradient_rel_diff": Metric(_norm_rel_diff(grad, grad_ref))}


def _max_rel_diff(ys, ys_ref) -> float:
    """The largest |ys - ys_ref| relative to the largest |ys_ref| (solutions on a grid)."""
    return float(np.abs(ys - ys_ref).max() / np.abs(ys_ref).max())


def _norm_rel_diff(grad, grad_ref) -> float:
    """||grad - grad_ref|| / ||grad_ref|| (flattened gradients)."""
    return float(np.linalg.norm(grad - grad_ref) / np.linalg.norm(grad_ref))


def _spiral_data(device):
    import torch

    ts = np.linspace(0.0, SPIRAL_T, SPIRAL_STEPS + 1)
    obs = np.arange(0, SPIRAL_STEPS + 1, SPIRAL_STEPS // SPIRAL_OBS)
    target = torch.tensor(spiral_trajectory_cached()[obs], dtype=torch.float64, device=device)
    return torch.tensor(ts, dtype=torch.float64), torch.tensor(obs, device=device), target


_SPIRAL = {}


def spiral_trajectory_cached():
    from papers.neural_de.models import spiral_trajectory

    if "y" not in _SPIRAL:
        _SPIRAL["y"] = spiral_trajectory(np.linspace(0.0, SPIRAL_T, SPIRAL_STEPS + 1))
    return _SPIRAL["y"]


def _saved_bytes_and_grads(loss_fn, params):
    """Run loss_fn counting the bytes autograd saves for backward, then its gradient."""
    import torch

    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = loss_fn()
    grads = torch.autograd.grad(loss, params)
    return torch.cat([g.reshape(-1) for g in grads]), saved[0]


def gradient_accuracy(ctx, device):
    """Gradient of the spiral loss for a random neural ODE by: backprop through reversible Heun
    (1000 steps), the reversible adjoint, backprop through dopri5 at rtol 1e-3
    (discretise-then-optimise), torchdiffeq's continuous adjoint at rtol 1e-3; reference:
    backprop through dopri5 at rtol 1e-12 (the exact gradient of the continuous problem)."""
    import torch
    from torchdiffeq import odeint, odeint_adjoint

    from papers.neural_de.method import reversible_heun
    from papers.neural_de.models import CubicODEFunc

    torch.manual_seed(ctx.seed)
    func = CubicODEFunc().to(device=device, dtype=torch.float64)
    params = tuple(func.parameters())
    ts, obs, target = _spiral_data(device)
    y0 = target[0]
    t_obs = ts[obs.cpu()].to(device)

    def loss_of(ys):
        return ((ys - target) ** 2).mean()

    methods = {
        "reversible_backprop": lambda: loss_of(reversible_heun(func, y0, ts)[obs]),
        "reversible_adjoint": lambda: loss_of(
            reversible_heun(func, y0, ts, adjoint=True, params=params)[obs]),
        "dopri5_backprop": lambda: loss_of(odeint(func, y0, t_obs, rtol=ADJOINT_RTOL, atol=ADJOINT_ATOL)),
        "continuous_adjoint": lambda: loss_of(odeint_adjoint(func, y0, t_obs, rtol=ADJOINT_RTOL,
                                                             atol=ADJOINT_ATOL,
                                                             adjoint_params=params)),
        "reference": lambda: loss_of(odeint(func, y0, t_obs, rtol=1e-12, atol=1e-12)),
    }
    grads, saved = {}, {}
    for name, loss_fn in ctx.progress(methods.items(), desc="gradients"):
        grads[name], saved[name] = _saved_bytes_and_grads(loss_fn, params)
    rel = lambda a, b: float((grads[a] - grads[b]).norm() / grads[b].norm())
    continuous = rel("continuous_adjoint", "dopri5_backprop")
    metrics = {
        "reversible_adjoint_grad_error": Metric(rel("reversible_adjoint", "reversible_backprop")),
        "continuous_adjoint_grad_error": Metric(continuous),
        "continuous_adjoint_grad_error_log10": Metric(math.log10(continuous), lower_is_better=False),
    }
    for name in ("reversible_backprop", "reversible_adjoint", "dopri5_backprop", "continuous_adjoint"):
        metrics[f"{name}_error_vs_exact"] = Metric(rel(name, "reference"))
        metrics[f"{name}_saved_bytes"] = Metric(saved[name], "bytes")
    return {"metrics": metrics, "vs_exact": {k: rel(k, "reference") for k in methods if k != "reference"},
            "vs_discrete": {"reversible_adjoint": metrics["reversible_adjoint_grad_error"].value,
                            "continuous_adjoint": metrics["continuous_adjoint_grad_error"].value}}


def neural_ode_example(ctx, device, iterations: int, stride: int = 5):
    """Fit the cubic neural ODE to the spiral (models.train_segments, reversible adjoint, h = 0.05) and
    report the full-trajectory MSE after training over that before."""
    import torch

    from papers.neural_de.method import reversible_heun
    from papers.neural_de.models import CubicODEFunc, train_segments

    torch.manual_seed(ctx.seed)
    func = CubicODEFunc().to(device=device, dtype=torch.float64)
    truth = torch.tensor(spiral_trajectory_cached()[::stride], dtype=torch.float64, device=device)
    ts = torch.linspace(0.0, SPIRAL_T, truth.shape[0], dtype=torch.float64)

    def full_mse():
        with torch.no_grad():
            return float(((reversible_heun(func, truth[0], ts) - truth) ** 2).mean())

    before = full_mse()
    train_segments(func, truth, ts, ctx.rng(3), iterations,
                   progress=lambda it: ctx.progress(it, desc="neural ODE"))
    after = full_mse()
    with torch.no_grad():
        fit = reversible_heun(func, truth[0], ts).cpu().numpy()
    return {"metrics": {"neural_ode_mse_ratio": Metric(after / before)},
            "fit": fit, "truth": truth.cpu().numpy()}


def neural_cde_example(ctx, device, epochs: int, train: int = 256, test: int = 256, steps: int = 48):
    """Classify irregularly sampled spirals by direction with a neural CDE (models.train_cde_classifier,
    reversible Heun on a 48-step grid); report the test accuracy."""
    import torch

    from papers.neural_de.models import NeuralCDE, cde_logits, irregular_spirals, train_cde_classifier

    torch.manual_seed(ctx.seed)
    gen = torch.Generator().manual_seed(ctx.seed + 4)
    knots, values, labels = (x.to(device) for x in irregular_spirals(train + test, gen))
    model = NeuralCDE().to(device=device, dtype=torch.float64)
    ts = torch.linspace(0.0, 4 * math.pi, steps + 1, dtype=torch.float64)
    train_cde_classifier(model, knots[:train], values[:train], labels[:train], ts, ctx.rng(5), epochs,
                         progress=lambda it: ctx.progress(it, desc="neural CDE"))
    with torch.no_grad():
        predicted = cde_logits(model, knots[train:], values[train:], ts, adjoint=False) > 0
        accuracy = float((predicted.to(torch.float64) == labels[train:]).to(torch.float64).mean())
    return {"neural_cde_test_accuracy": Metric(accuracy, "", lower_is_better=False),
            "neural_cde_test_error": Metric(1.0 - accuracy)}


def _figure_convergence(ctx, ode, sde):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = ((axes[0], ode["h"], "reversible_heun", "heun", "ODE y' = -y + sin t", "|error at T|"),
              (axes[1], sde["h_additive"], "additive_reversible_heun", "additive_heun",
               "OU, additive noise", "strong RMS error"),
              (axes[2], sde["h_general"], "general_reversible_heun", "general_heun",
               "non-commutative noise", "strong RMS error"))
    src = {**ode, **sde}
    for ax, h, rev, base, title, ylabel in panels:
        ax.loglog(h, src[rev], "o-", label=f"reversible Heun (slope {_slope(h, src[rev]):.2f})")
        ax.loglog(h, src[base], "s--", label=f"Heun (slope {_slope(h, src[base]):.2f})")
        ax.set(xlabel="step size h", ylabel=ylabel, title=title)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    fig.subplots_adjust(wspace=0.35)
    ctx.save_figure(fig, "convergence")


def _figure_gradients(ctx, grads, node, cde_accuracy):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = list(grads["vs_exact"])
    x = np.arange(len(names))
    axes[0].bar(x - 0.2, [max(grads["vs_exact"][n], 1e-17) for n in names], 0.4,
                label="vs exact continuous gradient")
    axes[0].bar(x + 0.2, [max(grads["vs_discrete"].get(n, np.nan), 1e-17) for n in names], 0.4,
                label="vs backprop through the same forward pass")
    axes[0].set_yscale("log")
    axes[0].set_xticks(x, [n.replace("_", "\n") for n in names], fontsize=8)
    axes[0].set_ylabel("relative gradient error")
    axes[0].set_title("Neural ODE on the spiral: gradient accuracy")
    axes[0].set_ylim(1e-17, 1.0)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[1].plot(node["truth"][:, 0], node["truth"][:, 1], "k-", label="true spiral")
    axes[1].plot(node["fit"][:, 0], node["fit"][:, 1], "r--", label="neural ODE (reversible Heun)")
    axes[1].set_title(f"Trained neural ODE; neural CDE test acc. "
                      f"{cde_accuracy:.2f}")
    axes[1].legend(fontsize=8)
    ctx.save_figure(fig, "gradients_and_fits")
