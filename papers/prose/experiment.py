"""PROSE (fusion of data and symbolic input) against its data-only ablation on four 2D ODE families,
with the symbolic output decoded, a noise sweep and corrupted symbolic input (one seed; the harness
runs the seeds)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from papers.harness import Metric
from papers.prose import method

T_IN = np.linspace(0.0, 2.0, 32)  # the 32 input samples on [0, 2]
T_OUT = np.linspace(2.0, 4.0, 33)[1:]  # the 32 query times on (2, 4]
PARAM_RANGE = 0.1  # coefficients uniform in nominal * (1 +- 0.1) (authors' code)
TERM_ERROR_RATE = 0.1  # fraction of symbolic-input terms dropped or added
TRAIN_NOISE = 0.02  # relative data noise during training (authors' code)
NOISE_LEVELS = (0.0, 0.01, 0.05)  # relative data noise at test time
DATA_LOSS_WEIGHT = 6.0  # loss = 6 * MSE(data) + CE(symbols) (authors' code)
BATCH, LR, WARMUP = 32, 1e-3, 0.05
MODEL = {"d_model": 32, "heads": 2, "ff": 64, "layers": 1}


@dataclass(frozen=True)
class Settings:
    """n_train: training samples (a quarter per family); steps: Adam steps of each model (batch 64);
    n_test: test samples."""

    n_train: int
    steps: int
    n_test: int


SETTINGS = {
    "quick": Settings(n_train=2_000, steps=400, n_test=400),
    "full": Settings(n_train=20_000, steps=2_000, n_test=800),
}


def sample_systems(n: int, rng: np.random.Generator):
    """n systems, families in equal shares: (family index, parameters, y0, clean terms) per system; the
    coefficients are rounded to the 3 significant digits their tokens carry."""
    names = list(method.FAMILIES)
    families = np.arange(n) % len(names)
    rng.shuffle(families)
    out = []
    for f in families:
        spec = method.FAMILIES[names[f]]
        params = {
            k: float(method.round_significant(v * rng.uniform(1 - PARAM_RANGE, 1 + PARAM_RANGE)))
            for k, v in spec["params"].items()
        }
        y0 = np.array([rng.uniform(*r) for r in spec["y0"]])
        out.append((int(f), params, y0, method.family_terms(names[f], params)))
    return out


def make_data(n: int, rng: np.random.Generator) -> dict:
    """Systems, their trajectories at T_IN and T_OUT (tight-tolerance DOP853, each family's systems as
    one vectorised solve), the exact output tokens and symbolic inputs with TERM_ERROR_RATE errors."""
    systems = sample_systems(n, rng)
    times = np.concatenate([T_IN, T_OUT])
    u = np.empty((n, len(times), 2))
    families = np.array([s[0] for s in systems])
    for f, name in enumerate(method.FAMILIES):
        idx = np.flatnonzero(families == f)
        params = {k: np.array([systems[i][1][k] for i in idx]) for k in method.FAMILIES[name]["params"]}
        u[idx] = method.simulate(name, params, np.stack([systems[i][2] for i in idx]), times)
    terms = [s[3] for s in systems]
    return {
        "family": families,
        "terms": terms,
        "u_in": u[:, : len(T_IN)],
        "u_out": u[:, len(T_IN) :],
        "symbols": symbol_input(terms, TERM_ERROR_RATE, rng),
        "target": method.pad_tokens([method.system_tokens(t) for t in terms], bos_eos=True),
    }


def symbol_input(terms: list, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Padded token ids of the symbolic inputs, each system's terms corrupted at `rate`."""
    return method.pad_tokens([method.system_tokens(method.corrupt_terms(t, rate, rng)) for t in terms])


def one_wrong_term(terms: list, rng: np.random.Generator) -> np.ndarray:
    """Symbolic inputs with exactly one wrong term each (a uniformly chosen term dropped, or joined by
    an added one, equally likely)."""
    return method.pad_tokens(
        [
            method.system_tokens(method.corrupt_terms(t, 0.0, rng, which=[rng.integers(sum(map(len, t)))]))
            for t in terms
        ]
    )


def add_noise(u: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """u + sigma * rms(u) * N(0, 1), the rms over each sample's input window (relative noise)."""
    rms = np.sqrt(np.mean(u**2, axis=(1, 2), keepdims=True))
    return u + sigma * rms * rng.standard_normal(u.shape)


def attention_backend(device: str):
    """torch's plain (math) attention on cpu: its fused cpu kernels are several times slower for these
    short sequences and 16-wide heads; the default elsewhere."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.MATH]) if device == "cpu" else contextlib.nullcontext()


def trim(tokens):
    """A batch of padded token ids without the columns that are padding in every row."""
    return tokens[:, : int((tokens != method.TOKEN_ID[method.PAD]).sum(dim=1).max())]


def train(model, data: dict, steps: int, rng: np.random.Generator, device: str) -> list[float]:
    """Adam (warm-up then cosine decay, gradient clipping 1.0) on 6 * MSE(u on T_OUT) + CE(output tokens),
    mini-batches of BATCH samples, fresh relative input noise TRAIN_NOISE each step; returns the losses."""
    import torch

    tensor = {k: torch.as_tensor(data[k], device=device) for k in ("u_in", "u_out", "symbols", "target")}
    tensor["u_in"], tensor["u_out"] = tensor["u_in"].float(), tensor["u_out"].float()
    t_in = torch.as_tensor(T_IN, dtype=torch.float32, device=device).expand(BATCH, -1)
    t_out = torch.as_tensor(T_OUT, dtype=torch.float32, device=device).expand(BATCH, -1)
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    warmup = max(int(WARMUP * steps), 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda k: min((k + 1) / warmup, 0.5 * (1 + np.cos(np.pi * k / steps)))
    )
    pad = method.TOKEN_ID[method.PAD]
    losses = []
    for _ in range(steps):
        idx = torch.as_tensor(rng.integers(0, len(data["u_in"]), BATCH), device=device)
        u_in = tensor["u_in"][idx]
        rms = u_in.pow(2).mean(dim=(1, 2), keepdim=True).sqrt()
        u_in = u_in + TRAIN_NOISE * rms * torch.as_tensor(
            rng.standard_normal(u_in.shape), dtype=torch.float32, device=device
        )
        symbols, target = trim(tensor["symbols"][idx]), trim(tensor["target"][idx])
        pred, logits = model(t_in, u_in, symbols, t_out, target[:, :-1])
        loss = DATA_LOSS_WEIGHT * torch.mean(
            (pred - tensor["u_out"][idx]) ** 2
        ) + torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target[:, 1:].reshape(-1), ignore_index=pad
        )
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
    return losses


def predict(model, u_in: np.ndarray, symbols: np.ndarray, device: str, decode: bool = False):
    """The model's u on T_OUT (n, 32, 2) from input samples and symbol ids, and (decode=True) its greedily
    decoded output token ids."""
    import torch

    n = len(u_in)
    t_in = torch.as_tensor(T_IN, dtype=torch.float32, device=device).expand(n, -1)
    t_out = torch.as_tensor(T_OUT, dtype=torch.float32, device=device).expand(n, -1)
    with torch.no_grad(), attention_backend(device):
        memory, mask = model.encode(
            t_in,
            torch.as_tensor(u_in, dtype=torch.float32, device=device),
            torch.as_tensor(symbols, device=device),
        )
        u = model.predict_data(memory, mask, t_out).cpu().numpy().astype(float)
        tokens = model.generate(memory, mask).cpu().numpy() if decode else None
    return u, tokens


def symbolic_quality(tokens: np.ndarray, data: dict) -> tuple[float, float]:
    """(fraction of decoded outputs that parse as a two-component system, median relative L2 error on
    T_OUT of the decoded system integrated from the true u(2), over the valid ones)."""
    import sympy
    from scipy.integrate import solve_ivp

    x, y = sympy.symbols("x y")
    valid, errors = 0, []
    for row, u_in, u_out in zip(tokens, data["u_in"], data["u_out"]):
        try:
            sides = method.decode_expression([t for t in row if t != method.TOKEN_ID[method.PAD]])
        except ValueError:
            continue
        if len(sides) != 2:
            continue
        valid += 1
        f = sympy.lambdify((x, y), list(sides), "numpy")
        sol = solve_ivp(
            lambda _, s, f=f: np.asarray(f(*s), dtype=float),
            (T_IN[-1], T_OUT[-1]),
            u_in[-1],
            t_eval=T_OUT,
            rtol=1e-8,
            atol=1e-10,
        )
        ok = sol.success and sol.y.shape[1] == len(T_OUT)
        errors.append(float(method.relative_l2(sol.y.T[None], u_out[None])[0]) if ok else np.inf)
    return valid / len(tokens), float(np.median(errors)) if errors else np.inf


def closed_form_checks(rng: np.random.Generator) -> tuple[float, float]:
    """(max gap of simulate against the damped oscillator's closed form, max relative drift of the
    Lotka-Volterra invariant V = d x - c log x + b y - a log y), 8 random systems each, t in [0, 4]."""
    t = np.linspace(0.0, 4.0, 81)
    k, c = rng.uniform(2.0, 6.0, 8), rng.uniform(0.2, 1.0, 8)
    y0 = rng.uniform(-2.0, 2.0, (8, 2))
    u = method.simulate("damped_oscillator", {"k": k, "c": c}, y0, t)
    w = np.sqrt(k - c**2 / 4)
    a_, b_ = y0[:, 0], (y0[:, 1] + c / 2 * y0[:, 0]) / w
    exact = np.exp(-c[:, None] / 2 * t) * (
        a_[:, None] * np.cos(w[:, None] * t) + b_[:, None] * np.sin(w[:, None] * t)
    )
    gap = float(np.max(np.abs(u[..., 0] - exact)))

    p = {name: rng.uniform(0.5, 1.5, 8) for name in "abcd"}
    v = method.simulate("lotka_volterra", p, rng.uniform(1.0, 3.0, (8, 2)), t)
    col = {name: p[name][:, None] for name in p}
    inv = (
        col["d"] * v[..., 0]
        - col["c"] * np.log(v[..., 0])
        + col["b"] * v[..., 1]
        - col["a"] * np.log(v[..., 1])
    )
    drift = float(np.max(np.abs(inv - inv[:, :1]) / np.abs(inv[:, :1])))
    return gap, drift


def sympy_system(terms) -> tuple:
    """The right-hand sides of a system's terms as sympy expressions with exact decimal coefficients."""
    import sympy

    x, y = sympy.symbols("x y")
    return tuple(
        sum((sympy.Rational(repr(c)) * x**i * y**j for c, (i, j) in side), sympy.Integer(0)) for side in terms
    )


def run(ctx) -> dict:
    import torch

    s = SETTINGS[ctx.tier]
    gap, drift = closed_form_checks(ctx.rng(9))
    out = {
        "simulate_closed_form_gap": Metric(gap, "abs"),
        "lotka_volterra_invariant_drift": Metric(drift, "rel"),
    }

    train_data, test = make_data(s.n_train, ctx.rng(0)), make_data(s.n_test, ctx.rng(1))
    round_trip = np.mean(
        [method.decode_expression(method.system_tokens(t)) == sympy_system(t) for t in test["terms"]]
    )
    out["targets_round_trip_fraction"] = Metric(float(round_trip), "fraction", lower_is_better=False)

    models, losses = {}, {}
    for stream, name in enumerate(("fusion", "data_only")):
        torch.manual_seed(ctx.seed + stream)
        models[name] = method.ProseModel(**MODEL, use_symbols=name == "fusion").to(ctx.device)
        with attention_backend(ctx.device):
            losses[name] = train(models[name], train_data, s.steps, ctx.rng(2), ctx.device)
        models[name].eval()

    noise_rng = ctx.rng(3)
    noisy = {
        sigma: add_noise(test["u_in"], sigma, noise_rng) if sigma else test["u_in"] for sigma in NOISE_LEVELS
    }
    errors, predictions = {}, {}
    for name, model in models.items():
        for sigma in NOISE_LEVELS:
            u, tokens = predict(
                model, noisy[sigma], test["symbols"], ctx.device, decode=name == "fusion" and sigma == 0
            )
            errors[name, sigma] = method.relative_l2(u, test["u_out"])
            if sigma == 0:
                predictions[name] = u
                if tokens is not None:
                    valid, symbolic_error = symbolic_quality(tokens, test)
    clean_symbols = method.pad_tokens([method.system_tokens(t) for t in test["terms"]])
    clean = method.relative_l2(
        predict(models["fusion"], test["u_in"], clean_symbols, ctx.device)[0], test["u_out"]
    )
    wrong = method.relative_l2(
        predict(models["fusion"], test["u_in"], one_wrong_term(test["terms"], ctx.rng(4)), ctx.device)[0],
        test["u_out"],
    )
    shuffled = test["symbols"][np.roll(np.arange(s.n_test), 1)]
    sensitivity = float(
        np.max(
            np.abs(
                predict(models["data_only"], test["u_in"], shuffled, ctx.device)[0] - predictions["data_only"]
            )
        )
    )

    for name in models:
        out[f"{name}_rel_l2"] = Metric(float(np.mean(errors[name, 0.0])), "rel L2")
        for sigma in NOISE_LEVELS[1:]:
            out[f"{name}_rel_l2_noise_{sigma}"] = Metric(float(np.mean(errors[name, sigma])), "rel L2")
        for f, family in enumerate(method.FAMILIES):
            out[f"{name}_rel_l2_{family}"] = Metric(
                float(np.mean(errors[name, 0.0][test["family"] == f])), "rel L2"
            )
        out[f"{name}_final_loss"] = Metric(float(np.mean(losses[name][-20:])), "loss")
    out["fusion_rel_l2_clean_symbols"] = Metric(float(np.mean(clean)), "rel L2")
    out["fusion_rel_l2_one_wrong_term"] = Metric(float(np.mean(wrong)), "rel L2")
    out["fusion_valid_fraction"] = Metric(valid, "fraction", lower_is_better=False)
    out["fusion_symbolic_rel_l2_median"] = Metric(symbolic_error, "rel L2")
    out["data_only_symbol_sensitivity"] = Metric(sensitivity, "abs")

    if ctx.seed_index == 0:
        figure(ctx, test, predictions, {k: float(np.mean(v)) for k, v in errors.items()})
    return out


# the figure's prediction lines: (arm, line style, colour, legend label)
ARM_STYLES = (("fusion", "--", "C0", "fusion"), ("data_only", ":", "C1", "data-only"))


def figure(ctx, test: dict, predictions: dict, errors: dict) -> None:
    """The paper's pictures: true and predicted trajectories on (2, 4] for one test sample per family
    (fusion and data-only), and the mean relative L2 error against the data noise level."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(22, 4))
    for f, (family, ax) in enumerate(zip(method.FAMILIES, axes)):
        i = int(np.flatnonzero(test["family"] == f)[0])
        for c, (label, colour) in enumerate((("x", "k"), ("y", "0.5"))):
            ax.plot(T_IN, test["u_in"][i, :, c], ".", color=colour, ms=3)
            ax.plot(
                T_OUT,
                test["u_out"][i, :, c],
                "-",
                color=colour,
                lw=2,
                label=f"{label} true" if not f else None,
            )
            for arm, style, arm_colour, arm_label in ARM_STYLES:
                label_once = arm_label if not (f or c) else None
                ax.plot(T_OUT, predictions[arm][i, :, c], style, color=arm_colour, label=label_once)
        ax.axvline(2.0, color="0.8", lw=0.8)
        ax.set(xlabel="t", title=family.replace("_", " "))
    axes[0].legend(fontsize=8)
    for name, colour in (("fusion", "C0"), ("data_only", "C1")):
        axes[4].plot(
            NOISE_LEVELS,
            [errors[name, s] for s in NOISE_LEVELS],
            "o-",
            color=colour,
            label=name.replace("_", "-"),
        )
    axes[4].set(
        xlabel="relative data noise sigma",
        ylabel="mean relative L2 error on (2, 4]",
        title="error vs noise",
        ylim=(0, None),
    )
    axes[4].legend()
    fig.tight_layout()
    ctx.save_figure(fig, "prose")
