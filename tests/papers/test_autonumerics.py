"""AutoNumerics-Zero: programs, error metrics, baselines and fitting against independent references."""
import math

import mpmath
import numpy as np
import pytest
from scipy.optimize import linprog

from papers.autonumerics import baselines, float32
from papers.autonumerics.evolution import Evolution, Mutator, evolve, to_program
from papers.autonumerics.fitting import chebyshev_grid, fit_constants, max_grid_error
from papers.autonumerics.method import (
    PUBLISHED_TEN_OP,
    Program,
    digits,
    max_rel_error,
    refit_published_ten_op,
    ulp_error,
)
from papers.autonumerics.program import ProgramSyntaxError

LN2 = math.log(2)


def test_program_counts_shared_values_and_squarings_once():
    assert Program(PUBLISHED_TEN_OP).ops == 10
    assert Program("x**8").ops == 3
    assert Program("x**7").ops == 4  # x^2, x^4, x·x^2, ·x^4
    assert Program("(x + c0) * (x + c0)").ops == 2
    assert Program("c0 + x * (c1 + x * c2)").ops == 4


def test_program_numpy_and_mpmath_agree_and_source_round_trips():
    p = Program("t = c0/x + x; (c1/(c2/t + c3 + t) - c4)**3", [0.7, -1.3, 2.1, 0.4, -1.0])
    x = np.linspace(0.1, 1, 7)
    exact = [float(p(mpmath.mpf(v))) for v in x]
    np.testing.assert_allclose(p(x), exact, rtol=1e-13)
    q = Program(p.source, p.consts)
    assert q.ops == p.ops
    np.testing.assert_array_equal(q(x), p(x))
    assert p(x.astype(np.float32)).dtype == np.float32


def test_program_division_by_zero_follows_ieee_in_mpmath():
    p = Program("c0 / (c1/x + x)", [2.0, 3.0])
    assert float(p(mpmath.mpf(0))) == 0.0
    assert p(np.array([0.0]))[0] == 0.0


@pytest.mark.parametrize("source", ["sin(x)", "x ** 0.5", "x = 1; x", "y + 1"])
def test_program_rejects_sources_outside_the_language(source):
    with pytest.raises(ProgramSyntaxError):
        Program(source)


@pytest.mark.parametrize("degree", [2, 4, 6])
def test_max_rel_error_of_taylor_is_its_remainder_at_one(degree):
    # 1 - T_d(x ln2)/2^x grows with x, so the maximum is at x = 1.
    with mpmath.workdps(40):
        closed = 1 - sum(mpmath.log(2) ** j / mpmath.factorial(j) for j in range(degree + 1)) / 2
    measured = max_rel_error(baselines.taylor_exp2(degree), 0, 1, 101)
    assert measured == pytest.approx(float(closed), rel=1e-9)
    assert digits(measured) == pytest.approx(-math.log10(float(closed)), rel=1e-9)


def test_longdouble_error_matches_mpmath_error():
    p = baselines.minimax_exp2(3, 2)
    assert max_rel_error(p, 0, 1, 300, arithmetic="longdouble") == pytest.approx(max_rel_error(p, 0, 1, 300),
                                                                                 rel=1e-6)


@pytest.mark.parametrize("p,q", [(1, 1), (2, 3), (3, 2)])
def test_pade_matches_mpmath_pade(p, q):
    with mpmath.workdps(30):
        taylor = [mpmath.log(2) ** j / mpmath.factorial(j) for j in range(p + q + 1)]
        a, b = mpmath.pade(taylor, p, q)
        for x in (0.1, 0.5, 0.9):
            ref = mpmath.polyval(a[::-1], x) / mpmath.polyval(b[::-1], x)
            assert float(baselines.pade_exp2(p, q)(np.array(x))) == pytest.approx(float(ref), rel=1e-13)


def test_chebyshev_interpolant_is_exact_at_chebyshev_points():
    degree = 5
    nodes = 0.5 + 0.5 * np.cos(np.pi * (np.arange(degree + 1) + 0.5) / (degree + 1))
    np.testing.assert_allclose(baselines.chebyshev_exp2(degree)(nodes), np.exp2(nodes), rtol=1e-14)


def _lp_minimax_polynomial(degree, grid):
    """Discrete minimax relative error of a polynomial by linear programming (independent of Remez)."""
    f = np.exp2(grid)
    vander = grid[:, None] ** np.arange(degree + 1) / f[:, None]
    ones = np.ones((len(grid), 1))
    a_ub = np.block([[vander, -ones], [-vander, -ones]])
    b_ub = np.concatenate([np.ones(len(grid)), -np.ones(len(grid))])
    cost = np.zeros(degree + 2)
    cost[-1] = 1
    return linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * (degree + 2)).fun


@pytest.mark.parametrize("degree", [2, 3])
def test_remez_polynomial_matches_linear_programming(degree):
    remez = max_rel_error(baselines.minimax_exp2(degree), 0, 1, 2001, arithmetic="longdouble")
    assert remez == pytest.approx(_lp_minimax_polynomial(degree, np.linspace(0, 1, 2001)), rel=1e-3)


@pytest.mark.parametrize("p,q", [(2, 2), (3, 2)])
def test_remez_rational_equioscillates_and_beats_pade_and_polynomial(p, q):
    program = baselines.minimax_exp2(p, q)
    x = np.linspace(0, 1, 4001, dtype=np.longdouble)
    r = np.asarray(program(x) / np.exp2(x) - 1, dtype=float)
    peaks = baselines._alternating_extrema(r, p + q + 2)
    assert peaks is not None
    assert np.ptp(np.abs(r[peaks])) < 1e-3 * np.max(np.abs(r))
    error = np.max(np.abs(r))
    assert error < max_rel_error(baselines.pade_exp2(p, q), 0, 1, 1001, arithmetic="longdouble")
    assert error < max_rel_error(baselines.minimax_exp2(p + q), 0, 1, 1001, arithmetic="longdouble")


def test_baselines_cost_two_operations_per_degree():
    assert baselines.taylor_exp2(5).ops == 10
    assert baselines.pade_exp2(2, 3).ops == 10
    assert baselines.minimax_exp2(3, 2).ops == 10


def test_fit_constants_reaches_the_remez_polynomial_from_taylor():
    x = chebyshev_grid(0, 1, 200)
    fitted, _ = fit_constants(baselines.taylor_exp2(3), x, np.exp2(x), lawson_rounds=20)
    remez = max_rel_error(baselines.minimax_exp2(3), 0, 1, 1001, arithmetic="longdouble")
    assert max_rel_error(fitted, 0, 1, 1001, arithmetic="longdouble") == pytest.approx(remez, rel=0.02)


def test_published_form_refit_reaches_fourteen_digits():
    program, _ = refit_published_ten_op(polish=1)
    assert program.ops == 10
    assert digits(max_rel_error(program, 0, 1, 500)) > 14


def test_mutations_keep_programs_well_formed():
    rng = np.random.default_rng(3)
    mutator = Mutator(rng)
    genome = mutator.random_genome(3)
    for _ in range(300):
        genome = mutator.mutate(genome)
        assert len(genome) >= 1
        for j, (op, left, right) in enumerate(genome):
            assert op in "+-*/"
            assert not (left[0] == "k" and right[0] == "k")
            assert all(o[1] < j for o in (left, right) if o[0] == "v")
        assert to_program(genome).ops == len(genome)  # pruned: every instruction is live


def test_evolve_is_deterministic_and_its_front_is_monotone():
    a = evolve(40, seed=5, population_size=10, tournament_size=4, max_ops=8)
    b = evolve(40, seed=5, population_size=10, tournament_size=4, max_ops=8)
    assert {k: v.error for k, v in a.best.items()} == {k: v.error for k, v in b.best.items()}
    front = a.front()
    errors = [front[k].error for k in sorted(front)]
    assert errors == sorted(errors, reverse=True)
    search = Evolution(seed=0, population_size=5)
    for ind in a.best.values():
        assert ind.ops <= 8
        assert max_grid_error(ind.program, search.x, search.y) == pytest.approx(ind.error, rel=1e-9)


def test_ulp_error_counts_float32_steps():
    exact = np.array([1.0, 3.5, 1e-20, 7e30], dtype=np.float32).astype(np.float64)
    one_up = np.nextafter(exact.astype(np.float32), np.float32(np.inf))
    np.testing.assert_allclose(ulp_error(one_up, exact), 1.0)
    np.testing.assert_allclose(ulp_error(exact.astype(np.float32), exact), 0.0)
    quarter = exact + 0.25 * np.spacing(exact.astype(np.float32)).astype(np.float64)
    np.testing.assert_allclose(ulp_error(exact.astype(np.float32), quarter), 0.25)


def test_float32_exp_is_close_to_exp_over_its_range():
    program, _ = float32.refit_for_exp(baselines.minimax_exp2(7))
    x = float32.dense_sample(100_000)
    assert float32.max_ulp(lambda v: float32.exp_numpy(program, v), x) < 2
    compiled = float32.exp_jax(program)
    np.testing.assert_allclose(np.asarray(compiled(x)), float32.exp_numpy(program, x), rtol=3e-7)
