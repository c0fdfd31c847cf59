"""Tests of prose against independent references: closed-form ODE solutions and invariants, hand-written
prefix expressions and their hand-computed values, explicit counts, and the model's shapes and its
data-only ablation."""

import math

import numpy as np
import pytest
import sympy

from papers.prose import experiment, method

X, Y = sympy.symbols("x y")


def test_simulate_damped_oscillator_matches_closed_form():
    """x'' + c x' + k x = 0: x = exp(-c t/2) (x0 cos wt + (v0 + c x0 / 2) / w sin wt), w = sqrt(k - c^2/4)."""
    k, c, x0, v0 = 3.7, 0.45, 1.3, -0.8
    t = np.linspace(0.0, 4.0, 41)
    u = method.simulate("damped_oscillator", {"k": k, "c": c}, [x0, v0], t)
    w = math.sqrt(k - c**2 / 4)
    x = [math.exp(-c * s / 2) * (x0 * math.cos(w * s) + (v0 + c * x0 / 2) / w * math.sin(w * s)) for s in t]
    v = np.gradient(np.array(x), t)  # a second-order finite difference, loose on purpose
    assert u.shape == (41, 2)
    np.testing.assert_allclose(u[:, 0], x, atol=1e-9)
    np.testing.assert_allclose(u[1:-1, 1], v[1:-1], atol=2e-2)


def test_simulate_batched_lotka_volterra_conserves_its_invariant():
    """V = d x - c log x + b y - a log y is constant along x' = a x - b x y, y' = d x y - c y."""
    rng = np.random.default_rng(0)
    p = {"a": rng.uniform(0.5, 1.5, 5), "b": 0.5, "c": rng.uniform(0.5, 1.5, 5), "d": 0.7}
    t = np.linspace(0.0, 4.0, 33)
    u = method.simulate("lotka_volterra", p, rng.uniform(1.0, 3.0, (5, 2)), t)
    assert u.shape == (5, 33, 2)
    x, y = u[..., 0], u[..., 1]
    v = 0.7 * x - p["c"][:, None] * np.log(x) + 0.5 * y - p["a"][:, None] * np.log(y)
    np.testing.assert_allclose(v, v[:, :1] * np.ones_like(v), rtol=1e-9)
    assert np.ptp(x, axis=1).min() > 0.1  # the orbits actually move


def test_simulate_batch_equals_single_solves():
    t = np.linspace(0.0, 4.0, 17)
    y0 = np.array([[1.0, 0.0], [-1.5, 0.5]])
    both = method.simulate("duffing", {"delta": [0.3, 0.2], "alpha": 1.0, "beta": [1.0, 0.9]}, y0, t)
    for i, (delta, beta) in enumerate([(0.3, 1.0), (0.2, 0.9)]):
        one = method.simulate("duffing", {"delta": delta, "alpha": 1.0, "beta": beta}, y0[i], t)
        np.testing.assert_allclose(both[i], one, atol=1e-9)


def test_decode_hand_written_expression_and_its_value():
    # 1.50 x - 0.200 x y  |  0.0123 y^2 + 2
    tokens = [
        "add",
        "mul",
        "+",
        "1",
        "5",
        "0",
        "E0",
        "x",
        "mul",
        "-",
        "2",
        "0",
        "0",
        "E-1",
        "mul",
        "x",
        "y",
        "|",
        "add",
        "mul",
        "+",
        "1",
        "2",
        "3",
        "E-2",
        "mul",
        "y",
        "y",
        "+",
        "2",
        "0",
        "0",
        "E0",
    ]
    fx, fy = method.decode_expression(tokens)
    assert sympy.simplify(fx - (sympy.Rational(3, 2) * X - sympy.Rational(1, 5) * X * Y)) == 0
    assert float(fx.subs({X: 2, Y: 3})) == pytest.approx(1.5 * 2 - 0.2 * 6)
    assert float(fy.subs({X: 2, Y: 3})) == pytest.approx(0.0123 * 9 + 2)
    ids = [method.TOKEN_ID[w] for w in tokens]
    assert method.decode_expression(ids) == (fx, fy)


@pytest.mark.parametrize(
    "tokens",
    [
        ["add", "x"],
        ["x", "y"],
        ["mul", "+", "1", "2", "E0", "x"],
        ["+", "0", "1", "2", "E0"],
        ["x", "|"],
        ["<EOS>"],
    ],
)
def test_decode_rejects_invalid_sequences(tokens):
    with pytest.raises(ValueError):
        method.decode_expression(tokens)


@pytest.mark.parametrize(
    "value, tokens",
    [
        (-0.0123, ["-", "1", "2", "3", "E-2"]),
        (4.0, ["+", "4", "0", "0", "E0"]),
        (999.6, ["+", "1", "0", "0", "E3"]),
        (0.30549, ["+", "3", "0", "5", "E-1"]),
    ],
)
def test_coefficient_tokens(value, tokens):
    assert method.coefficient_tokens(value) == tokens


@pytest.mark.parametrize(
    "family, params, expected",
    [
        ("damped_oscillator", {"k": 4.1, "c": 0.52}, (Y, -4.1 * X - 0.52 * Y)),
        (
            "lotka_volterra",
            {"a": 1.05, "b": 0.5, "c": 0.96, "d": 0.48},
            (1.05 * X - 0.5 * X * Y, 0.48 * X * Y - 0.96 * Y),
        ),
        ("van_der_pol", {"mu": 1.1}, (Y, 1.1 * (1 - X**2) * Y - X)),
        ("duffing", {"delta": 0.31, "alpha": 0.95, "beta": 1.02}, (Y, -0.31 * Y - 0.95 * X - 1.02 * X**3)),
    ],
)
def test_family_tokens_round_trip_to_the_written_equations(family, params, expected):
    decoded = method.decode_expression(method.system_tokens(method.family_terms(family, params)))
    for got, want in zip(decoded, expected, strict=True):
        for point in [(0.7, -1.3), (2.0, 0.5)]:
            assert float(got.subs(dict(zip((X, Y), point)))) == pytest.approx(
                float(want.subs(dict(zip((X, Y), point)))), rel=1e-12
            )


def test_empty_right_hand_side_is_zero():
    assert method.system_tokens(([], [(2.0, (1, 0))])) == ["0", "|", "mul", "+", "2", "0", "0", "E0", "x"]
    assert method.decode_expression(["0", "|", "x"]) == (0, X)


def test_corruption_rate_zero_keeps_and_one_changes_every_term():
    system = method.family_terms("duffing", {"delta": 0.3, "alpha": 1.0, "beta": 1.0})
    rng = np.random.default_rng(1)
    assert method.corrupt_terms(system, 0.0, rng) == system
    for _ in range(50):
        out = method.corrupt_terms(system, 1.0, rng)
        for old, new in zip(system, out):
            kept = [t for t in new if t in old]
            added = [t for t in new if t not in old]
            dropped = len(old) - len(kept)
            assert dropped + len(added) == len(old)  # every term: dropped, or joined by one new term
            assert len({m for _, m in new}) == len(new)  # no monomial twice


def test_corruption_keeps_the_expected_number_of_terms():
    """Each of the n = 4 terms is changed with probability p: E[#terms] = n, P(system unchanged) = (1-p)^n."""
    system = method.family_terms("duffing", {"delta": 0.3, "alpha": 1.0, "beta": 1.0})
    rng = np.random.default_rng(2)
    p, trials = 0.1, 4000
    counts, unchanged = [], 0
    for _ in range(trials):
        out = method.corrupt_terms(system, p, rng)
        counts.append(sum(map(len, out)))
        unchanged += out == system
    se = np.std(counts) / np.sqrt(trials)
    assert abs(np.mean(counts) - 4) < 4 * se
    q = 0.9**4
    assert abs(unchanged / trials - q) < 4 * np.sqrt(q * (1 - q) / trials)


def test_one_wrong_term_changes_exactly_one_term():
    terms = [method.family_terms("lotka_volterra", {"a": 1.0, "b": 0.5, "c": 1.0, "d": 0.5})] * 30
    ids = experiment.one_wrong_term(terms, np.random.default_rng(3))
    clean = method.decode_expression(method.system_tokens(terms[0]))
    for row in ids:
        sides = method.decode_expression([t for t in row if t != method.TOKEN_ID[method.PAD]])
        n_changed = sum(len(sympy.Add.make_args(sympy.expand(a - b))) for a, b in zip(sides, clean) if a != b)
        assert n_changed == 1


def test_add_noise_is_relative_to_the_rms():
    rng = np.random.default_rng(4)
    u = np.stack([np.full((32, 2), 1.0), np.full((32, 2), 10.0)])
    noise = experiment.add_noise(np.repeat(u, 200, axis=0), 0.05, rng) - np.repeat(u, 200, axis=0)
    assert np.std(noise[:200]) == pytest.approx(0.05, rel=0.05)
    assert np.std(noise[200:]) == pytest.approx(0.5, rel=0.05)


def test_relative_l2_matches_an_explicit_loop():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    want = [
        math.sqrt(
            sum((a[i, j, k] - b[i, j, k]) ** 2 for j in range(4) for k in range(2))
            / sum(b[i, j, k] ** 2 for j in range(4) for k in range(2))
        )
        for i in range(3)
    ]
    np.testing.assert_allclose(method.relative_l2(a, b), want, rtol=1e-12)


def _inputs(torch, batch=3):
    g = torch.Generator().manual_seed(0)
    t_in = torch.linspace(0, 2, 32).expand(batch, -1)
    u_in = torch.randn(batch, 32, 2, generator=g)
    symbols = torch.as_tensor(
        method.pad_tokens(
            [
                method.system_tokens(method.family_terms(f, method.FAMILIES[f]["params"]))
                for f in list(method.FAMILIES)[:batch]
            ]
        )
    )
    return t_in, u_in, symbols, torch.linspace(2, 4, 7).expand(batch, -1)


def test_model_output_shapes(one_thread):
    import torch

    torch.manual_seed(0)
    model = method.ProseModel(d_model=16, heads=2, ff=32)
    t_in, u_in, symbols, t_out = _inputs(torch)
    tokens_in = torch.full((3, 12), method.TOKEN_ID[method.BOS])
    pred, logits = model(t_in, u_in, symbols, t_out, tokens_in)
    assert pred.shape == (3, 7, 2)
    assert logits.shape == (3, 12, len(method.VOCAB))
    memory, mask = model.encode(t_in, u_in, symbols)
    assert memory.shape[:2] == (3, 32 + symbols.shape[1]) and mask.shape == memory.shape[:2]
    generated = model.generate(memory, mask, max_len=5)
    assert generated.shape[0] == 3 and generated.shape[1] <= 5


def test_data_only_ablation_ignores_the_symbols_and_fusion_does_not(one_thread):
    import torch

    t_in, u_in, symbols, t_out = _inputs(torch)
    other = torch.as_tensor(method.pad_tokens([["x", "|", "y"]] * 3))
    for use_symbols in (False, True):
        torch.manual_seed(0)
        model = method.ProseModel(d_model=16, heads=2, ff=32, use_symbols=use_symbols).eval()
        with torch.no_grad():
            a = model.predict_data(*model.encode(t_in, u_in, symbols), t_out)
            b = model.predict_data(*model.encode(t_in, u_in, other), t_out)
        assert torch.equal(a, b) is (not use_symbols)
