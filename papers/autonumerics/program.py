"""Programs over x and constants built of +, -, ×, ÷: parse, count operations, evaluate.

A program is a straight-line list of instructions ``(op, left, right)``; an operand is
``("x",)``, a free constant ``("c", k)``, a fixed literal ``("lit", value)`` or an earlier
instruction ``("v", j)``. Its cost is the number of instructions the output depends on
(the paper's operation count); identical instructions are shared, so a value used twice
is computed, and counted, once.
"""
from __future__ import annotations

import ast
import operator
import re

import mpmath
import numpy as np

OPS = ("+", "-", "*", "/")
X = ("x",)
_AST_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_CONST_NAME = re.compile(r"^c(\d+)$")


class ProgramSyntaxError(ValueError):
    """An expression string outside the program language."""


class Program:
    """A program approximating a function of one variable x.

    ``Program("t = c3/x + x; (c4/(c1/t + c2 + t) - c5)**8", consts)`` builds the program
    from statements separated by ``;`` or newlines (assignments, then the result).
    Names ``c<k>`` are free constants, numbers are fixed literals, ``**n`` with an integer
    literal n is expanded into multiplications by repeated squaring. ``consts`` is a
    sequence in the order of the constant indices, or a dict by name; missing ones are 1.
    """

    def __init__(self, source: str, consts=None):
        builder = _Builder()
        output, names = builder.parse(source)
        self._init(builder.instrs, output, names, consts)

    @classmethod
    def from_instructions(cls, instrs, output, consts, names=None) -> "Program":
        """A program from instructions ``(op, left, right)`` whose constants ``("c", k)`` index ``consts``."""
        program = cls.__new__(cls)
        names = names or [f"c{k}" for k in range(len(consts))]
        program._init(list(instrs), output, names, consts)
        return program

    def _init(self, instrs, output, names, consts) -> None:
        self.instrs = tuple(instrs)
        self.output = output
        self.const_names = tuple(names)
        if consts is None:
            values = np.ones(len(names))
        elif isinstance(consts, dict):
            values = np.array([float(consts.get(n, 1.0)) for n in names])
        else:
            values = np.array(consts, dtype=float).reshape(-1)
            if len(values) != len(names):
                raise ValueError(f"program has {len(names)} constants, got {len(values)} values")
        self.consts = values

    @property
    def n_consts(self) -> int:
        return len(self.const_names)

    @property
    def ops(self) -> int:
        """Number of operations the output depends on."""
        return len(self.live())

    def live(self) -> set[int]:
        """Indices of the instructions the output depends on."""
        live, stack = set(), [self.output]
        while stack:
            operand = stack.pop()
            if operand[0] == "v" and operand[1] not in live:
                live.add(operand[1])
                _, left, right = self.instrs[operand[1]]
                stack += [left, right]
        return live

    def with_consts(self, consts) -> "Program":
        """The same program with other constant values."""
        return Program.from_instructions(self.instrs, self.output, consts, self.const_names)

    def __call__(self, x):
        """Evaluate at x: a numpy array (in its floating dtype), an mpmath number, or a jax array."""
        if isinstance(x, (mpmath.mpf, mpmath.mpc)):
            return self._evaluate(x, [mpmath.mpf(float(c)) for c in self.consts], _mp_div, mpmath.mpf)
        if not isinstance(x, (np.ndarray, np.generic, float, int, list, tuple)) and hasattr(x, "dtype"):
            scalar = np.dtype(x.dtype).type  # another array library (jax, torch): its own operators
            return self._evaluate(x, [scalar(c) for c in self.consts], operator.truediv, scalar)
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(float)
        dtype = x.dtype
        with np.errstate(all="ignore"):
            return self._evaluate(x, [dtype.type(c) for c in self.consts], np.divide, dtype.type)

    def _evaluate(self, x, consts, divide, scalar):
        values = []

        def get(operand):
            kind = operand[0]
            if kind == "v":
                return values[operand[1]]
            if kind == "x":
                return x
            if kind == "c":
                return consts[operand[1]]
            return scalar(operand[1])

        for op, left, right in self.instrs:
            a, b = get(left), get(right)
            if op == "+":
                values.append(a + b)
            elif op == "-":
                values.append(a - b)
            elif op == "*":
                values.append(a * b)
            else:
                values.append(divide(a, b))
        result = get(self.output)
        if self.output[0] != "v" and isinstance(x, np.ndarray):
            result = np.broadcast_to(np.asarray(result, dtype=x.dtype), x.shape).copy()
        return result

    @property
    def source(self) -> str:
        """The program as an expression string that `Program` parses back (values shared by
        several operations become assignments ``t<j> = ...``)."""
        live = sorted(self.live())
        uses: dict[int, int] = {}
        for j in live:
            for operand in self.instrs[j][1:]:
                if operand[0] == "v":
                    uses[operand[1]] = uses.get(operand[1], 0) + 1
        shared = {j for j, n in uses.items() if n > 1}
        text: dict[int, str] = {}

        def show(operand, parent_op=None, right=False):
            kind = operand[0]
            if kind == "x":
                return "x"
            if kind == "c":
                return self.const_names[operand[1]]
            if kind == "lit":
                return repr(float(operand[1])) if operand[1] >= 0 else f"({float(operand[1])!r})"
            j = operand[1]
            if j in shared:
                return f"t{j}"
            return _parenthesise(text[j], self.instrs[j][0], parent_op, right)

        lines = []
        for j in live:
            op, left, right = self.instrs[j]
            text[j] = f"{show(left, op)} {op} {show(right, op, right=True)}"
            if j in shared:
                lines.append(f"t{j} = {text[j]}")
        lines.append(show(self.output))
        return "; ".join(lines)

    def __repr__(self) -> str:
        return f"Program({self.source!r}, ops={self.ops})"


def _parenthesise(expr: str, op: str, parent_op: str | None, right: bool) -> str:
    """Parentheses that make the string parse back to the same instructions."""
    if parent_op is None:
        return expr
    inner, outer = _PRECEDENCE[op], _PRECEDENCE[parent_op]
    if inner < outer or (right and inner == outer):
        return f"({expr})"
    return expr


def _mp_div(a, b):
    """Division over the extended reals: a/0 is ±inf (as in IEEE arithmetic), 0/0 is nan."""
    if b == 0:
        if a == 0:
            return mpmath.nan
        return mpmath.inf if a > 0 else -mpmath.inf
    return a / b


class _Builder:
    """Turns an expression string into shared (hash-consed) instructions."""

    def __init__(self):
        self.instrs: list[tuple] = []
        self.index: dict[tuple, int] = {}
        self.consts: dict[int, None] = {}

    def emit(self, op: str, left: tuple, right: tuple) -> tuple:
        key = (op, left, right)
        if key not in self.index:
            self.index[key] = len(self.instrs)
            self.instrs.append(key)
        return ("v", self.index[key])

    def parse(self, source: str) -> tuple[tuple, list[str]]:
        try:
            tree = ast.parse(source.replace("^", "**"), mode="exec")
        except SyntaxError as exc:
            raise ProgramSyntaxError(f"not a program: {source!r} ({exc.msg})") from None
        if not tree.body or not isinstance(tree.body[-1], ast.Expr):
            raise ProgramSyntaxError(f"a program ends with an expression: {source!r}")
        env: dict[str, tuple] = {}
        for stmt in tree.body[:-1]:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)):
                raise ProgramSyntaxError(f"only `name = expression` statements before the result: {source!r}")
            name = stmt.targets[0].id
            if name == "x" or _CONST_NAME.match(name):
                raise ProgramSyntaxError(f"cannot assign to {name!r}")
            env[name] = self.expr(stmt.value, env)
        output = self.expr(tree.body[-1].value, env)
        order = sorted(self.consts)
        slot = {k: i for i, k in enumerate(order)}
        self.instrs = [(op, _renumber(a, slot), _renumber(b, slot)) for op, a, b in self.instrs]
        return _renumber(output, slot), [f"c{k}" for k in order]

    def expr(self, node, env) -> tuple:
        if isinstance(node, ast.BinOp) and type(node.op) in _AST_OPS:
            left, right = self.expr(node.left, env), self.expr(node.right, env)
            return self.emit(_AST_OPS[type(node.op)], left, right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self.power(self.expr(node.left, env), node.right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.expr(node.operand, env)
            if inner[0] == "lit":
                return ("lit", -inner[1])
            return self.emit("-", ("lit", 0.0), inner)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            return self.expr(node.operand, env)
        if (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
                and not isinstance(node.value, bool)):
            return ("lit", float(node.value))
        if isinstance(node, ast.Name):
            if node.id == "x":
                return X
            if node.id in env:
                return env[node.id]
            match = _CONST_NAME.match(node.id)
            if match:
                k = int(match.group(1))
                self.consts[k] = None
                return ("c", k)
            raise ProgramSyntaxError(f"unknown name {node.id!r} (use x, c<k> or an assigned name)")
        raise ProgramSyntaxError(f"not allowed in a program: {ast.unparse(node)!r}")

    def power(self, base: tuple, exponent) -> tuple:
        if not (isinstance(exponent, ast.Constant) and isinstance(exponent.value, int)
                and exponent.value >= 1):
            raise ProgramSyntaxError(
                f"exponent must be an integer literal >= 1, got {ast.unparse(exponent)!r}")
        result, square, n = None, base, exponent.value
        while True:
            if n & 1:
                result = square if result is None else self.emit("*", result, square)
            n >>= 1
            if not n:
                return result
            square = self.emit("*", square, square)


def _renumber(operand: tuple, slot: dict[int, int]) -> tuple:
    return ("c", slot[operand[1]]) if operand[0] == "c" else operand
