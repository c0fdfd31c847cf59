"""The evolutionary search: regularized evolution on (operations, error), from single-operation programs.

A genome is a straight-line list of instructions ``(op, left, right)`` whose operands are
x, a constant ``("k", value)`` or an earlier instruction ``("v", j)``; the last
instruction is the output. A child is a mutated copy of a tournament winner (insert,
delete, rewire an input, change an operation); its constants, inherited from the parent,
are refitted towards minimax relative error before it joins the population and the
oldest member leaves (Real et al.'s regularized evolution). The tournament picks among
the sample's members that no other sample member beats on both operations and error,
so the population spreads along the Pareto front.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from papers.autonumerics.fitting import chebyshev_grid, fit_constants
from papers.autonumerics.program import OPS, Program, X

Genome = tuple  # tuple of (op, left, right)


@dataclass(frozen=True)
class Individual:
    """A genome with its fitted program, operation count and grid error."""

    genome: Genome
    program: Program
    error: float

    @property
    def ops(self) -> int:
        return len(self.genome)


@dataclass
class SearchResult:
    """Best program found at each operation count, and how many programs were evaluated."""

    best: dict[int, Individual] = field(default_factory=dict)
    evaluated: int = 0

    def merge(self, other: "SearchResult") -> "SearchResult":
        """The better individual per operation count of two searches."""
        best = dict(self.best)
        for ops, ind in other.best.items():
            if ops not in best or ind.error < best[ops].error:
                best[ops] = ind
        return SearchResult(best, self.evaluated + other.evaluated)

    def front(self) -> dict[int, Individual]:
        """For each operation count k, the best individual of at most k operations."""
        out, best = {}, None
        for ops in sorted(self.best):
            if best is None or self.best[ops].error < best.error:
                best = self.best[ops]
            out[ops] = best
        return out


def to_program(genome: Genome) -> Program:
    """The `Program` of a genome (each constant operand becomes a free constant)."""
    consts, instrs = [], []
    for op, left, right in genome:
        operands = []
        for operand in (left, right):
            if operand[0] == "k":
                operands.append(("c", len(consts)))
                consts.append(operand[1])
            else:
                operands.append(operand)
        instrs.append((op, *operands))
    output = ("v", len(genome) - 1) if genome else X
    return Program.from_instructions(instrs, output, consts)


def with_fitted_constants(genome: Genome, consts) -> Genome:
    """The genome with its constants, in order of appearance, replaced by `consts`."""
    values = iter(float(c) for c in consts)
    return tuple((op, *(("k", next(values)) if o[0] == "k" else o for o in (left, right)))
                 for op, left, right in genome)


def prune(genome: Genome) -> Genome:
    """Drop instructions the output does not depend on, renumbering references."""
    if not genome:
        return genome
    live, stack = set(), [len(genome) - 1]
    while stack:
        j = stack.pop()
        if j not in live:
            live.add(j)
            stack += [o[1] for o in genome[j][1:] if o[0] == "v"]
    order = sorted(live)
    new_index = {j: i for i, j in enumerate(order)}
    return tuple((genome[j][0], *(("v", new_index[o[1]]) if o[0] == "v" else o for o in genome[j][1:]))
                 for j in order)


class Mutator:
    """Random edits of a genome; constants of new operands are drawn log-uniformly in ±[0.1, 10]."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def constant(self) -> tuple:
        return ("k", float(self.rng.choice([-1.0, 1.0]) * 10 ** self.rng.uniform(-1, 1)))

    def operand(self, position: int, allow_constant: bool = True) -> tuple:
        """x, a new constant, or the output of an instruction before `position`."""
        choices = 2 + position if allow_constant else 1 + position
        pick = int(self.rng.integers(choices))
        if pick == 0:
            return X
        if allow_constant and pick == 1:
            return self.constant()
        return ("v", pick - (2 if allow_constant else 1))

    def instruction(self, position: int) -> tuple:
        op = OPS[int(self.rng.integers(len(OPS)))]
        left = self.operand(position)
        right = self.operand(position, allow_constant=left[0] != "k")
        return (op, left, right) if self.rng.random() < 0.5 else (op, right, left)

    def random_genome(self, length: int) -> Genome:
        """A random program of `length` instructions, each on x, a constant or the previous result."""
        genome: Genome = ()
        for _ in range(length):
            genome = self.insert(genome) if genome else (self.instruction(0),)
        return genome

    def mutate(self, genome: Genome) -> Genome:
        kind = self.rng.choice(["insert", "delete", "rewire", "op"], p=[0.5, 0.1, 0.25, 0.15])
        if kind == "delete" and len(genome) > 1:
            return self.delete(genome)
        if kind == "rewire":
            return self.rewire(genome)
        if kind == "op":
            return self.change_op(genome)
        return self.insert(genome)

    def insert(self, genome: Genome) -> Genome:
        n = len(genome)
        position = int(self.rng.integers(n + 1))
        shifted = [_shift(instr, position, +1) for instr in genome]
        new = self.instruction(position)
        if position == n and n > 0 and ("v", n - 1) not in new[1:]:
            last = ("v", n - 1)
            new = (new[0], new[1], last) if self.rng.random() < 0.5 else (new[0], last, new[2])
        genome = shifted[:position] + [new] + shifted[position:]
        if position < n:
            j = int(self.rng.integers(position + 1, n + 1))
            side = 1 + int(self.rng.integers(2))
            instr = list(genome[j])
            instr[side] = ("v", position)
            genome[j] = tuple(instr)
        return prune(tuple(genome))

    def delete(self, genome: Genome) -> Genome:
        position = int(self.rng.integers(len(genome)))
        replacement = genome[position][1 + int(self.rng.integers(2))]
        out = []
        for j, (op, left, right) in enumerate(genome):
            if j == position:
                continue
            operands = [replacement if o == ("v", position) else o for o in (left, right)]
            out.append(_shift((op, *operands), position, -1))
        if out and all(o[0] == "k" for o in out[-1][1:]):  # the output would be a constant
            return genome
        return prune(tuple(out))

    def rewire(self, genome: Genome) -> Genome:
        j = int(self.rng.integers(len(genome)))
        op, left, right = genome[j]
        side = int(self.rng.integers(2))
        other = (right, left)[side]
        new = self.operand(j, allow_constant=other[0] != "k")
        instr = (op, new, right) if side == 0 else (op, left, new)
        return prune(genome[:j] + (instr,) + genome[j + 1:])

    def change_op(self, genome: Genome) -> Genome:
        j = int(self.rng.integers(len(genome)))
        op, left, right = genome[j]
        new_op = OPS[int(self.rng.integers(len(OPS)))]
        return genome[:j] + ((new_op, left, right),) + genome[j + 1:]


def _shift(instr: tuple, position: int, delta: int) -> tuple:
    """Renumber references to instructions at or after `position` by `delta`."""
    op, left, right = instr
    return (op, *(("v", o[1] + delta) if o[0] == "v" and o[1] >= position else o for o in (left, right)))


class Evolution:
    """Regularized evolution of programs approximating 2^x on [lo, hi] (state of one search)."""

    def __init__(self, seed: int, population_size: int = 40, tournament_size: int = 8, max_ops: int = 12,
                 grid: int = 96, lawson_rounds: int = 3, lo: float = 0.0, hi: float = 1.0,
                 pareto: bool = False):
        self.rng = np.random.default_rng(seed)
        self.mutator = Mutator(self.rng)
        self.tournament_size = tournament_size
        self.pareto = pareto
        self.max_ops = max_ops
        self.lawson_rounds = lawson_rounds
        self.x = chebyshev_grid(lo, hi, grid)
        self.y = np.exp2(self.x)
        self.result = SearchResult()
        self.population: deque[Individual] = deque(maxlen=population_size)
        while len(self.population) < population_size:
            self.population.append(self.evaluate(self.mutator.random_genome(int(self.rng.integers(1, 5)))))

    def evaluate(self, genome: Genome) -> Individual:
        """Fit the genome's constants, record it in the result, return it."""
        program, error = fit_constants(to_program(genome), self.x, self.y, lawson_rounds=self.lawson_rounds,
                                       max_nfev=100)
        individual = Individual(with_fitted_constants(genome, program.consts), program, error)
        self.result.evaluated += 1
        best = self.result.best.get(individual.ops)
        if np.isfinite(error) and (best is None or error < best.error):
            self.result.best[individual.ops] = individual
        return individual

    def select(self) -> Individual:
        """The tournament winner: in a random sample, the member of lowest error (fewer ops on ties) when
        `pareto` is False; else a random member of the sample's Pareto set on (operations, error)."""
        picks = self.rng.choice(len(self.population), size=min(self.tournament_size, len(self.population)),
                                replace=False)
        sample = [self.population[i] for i in picks]
        if not self.pareto:
            return min(sample, key=lambda a: (a.error, a.ops))
        front = [a for a in sample
                 if not any((b.ops <= a.ops and b.error < a.error) or (b.ops < a.ops and b.error <= a.error)
                            for b in sample)]
        return front[int(self.rng.integers(len(front)))]

    def step(self) -> Individual:
        """One child: select, mutate (within max_ops), fit, and replace the oldest member."""
        parent = self.select()
        for _ in range(20):
            genome = self.mutator.mutate(parent.genome)
            if 0 < len(genome) <= self.max_ops and genome != parent.genome:
                break
        child = self.evaluate(genome)
        self.population.append(child)
        return child

    def generation(self) -> None:
        """As many children as the population has members."""
        for _ in range(self.population.maxlen):
            self.step()


def evolve(children: int, seed: int = 0, progress=None, **options) -> SearchResult:
    """Run regularized evolution for `children` evaluations; the best program per operation count.

    ``options`` go to `Evolution` (population_size, tournament_size, max_ops, grid, ...);
    ``progress`` wraps the loop (e.g. ``ctx.progress``).
    """
    search = Evolution(seed, **options)
    steps = range(children)
    for _ in (progress(steps, total=children, desc="evolution") if progress else steps):
        search.step()
    return search.result
