"""prose: the paper's method as reusable functions (its public API), in the paper's notation.

The four ODE families, their simulation (`simulate`), the symbolic input in prefix notation with
coefficient tokens (`system_tokens`, `corrupt_terms`, `decode_expression`) and the multimodal
transformer `ProseModel` (data encoder, symbol encoder, fusion encoder, data decoder queried at
times, symbol decoder; `use_symbols=False` is the data-only ablation).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

# A system is two right-hand sides (u_x, u_y); each is a list of terms (coefficient, (i, j)) standing
# for coefficient * x^i * y^j. The families below write their parameters as such terms.
FAMILIES = {
    "damped_oscillator": {"params": {"k": 4.0, "c": 0.5},
                          "terms": lambda p: ([(1.0, (0, 1))], [(-p["k"], (1, 0)), (-p["c"], (0, 1))]),
                          "y0": ((-2.0, 2.0), (-2.0, 2.0))},
    "lotka_volterra": {"params": {"a": 1.0, "b": 0.5, "c": 1.0, "d": 0.5},
                       "terms": lambda p: ([(p["a"], (1, 0)), (-p["b"], (1, 1))],
                                           [(p["d"], (1, 1)), (-p["c"], (0, 1))]),
                       "y0": ((1.0, 3.0), (1.0, 3.0))},
    "van_der_pol": {"params": {"mu": 1.0},
                    "terms": lambda p: ([(1.0, (0, 1))],
                                        [(p["mu"], (0, 1)), (-p["mu"], (2, 1)), (-1.0, (1, 0))]),
                    "y0": ((-2.0, 2.0), (-2.0, 2.0))},
    "duffing": {"params": {"delta": 0.3, "alpha": 1.0, "beta": 1.0},
                "terms": lambda p: ([(1.0, (0, 1))],
                                    [(-p["delta"], (0, 1)), (-p["alpha"], (1, 0)), (-p["beta"], (3, 0))]),
                "y0": ((-2.0, 2.0), (-2.0, 2.0))},
}
# Monomials x^i y^j a wrongly added term may carry (degree at most 3).
MONOMIALS = [(i, j) for i in range(4) for j in range(4) if i + j <= 3]

SIGNIFICANT = 3                 # digits of a coefficient token (the authors' float precision 2 + 1)
EXPONENTS = range(-4, 5)
PAD, BOS, EOS = "<PAD>", "<BOS>", "<EOS>"
VOCAB = ([PAD, BOS, EOS, "add", "mul", "x", "y", "|", "+", "-"] + [str(d) for d in range(10)]
         + [f"E{e}" for e in EXPONENTS])
TOKEN_ID = {w: i for i, w in enumerate(VOCAB)}


def round_significant(value: np.ndarray | float) -> np.ndarray:
    """The value as a coefficient token writes it: rounded to SIGNIFICANT digits (the nearest double
    of that decimal)."""
    value = np.asarray(value, dtype=float)
    return np.array([float(f"{v:.{SIGNIFICANT}g}") for v in value.ravel()]).reshape(value.shape)


def family_terms(family: str, params: dict) -> tuple[list, list]:
    """The two right-hand sides of `family` with parameters `params`, as lists of (coefficient, (i, j))."""
    return FAMILIES[family]["terms"](params)


def simulate(family: str, params: dict, y0, t: np.ndarray, rtol: float = 1e-11,
             atol: float = 1e-12) -> np.ndarray:
    """Solve u' = f(u) of `family` (scipy's DOP853) and return u at the times t (increasing; starts at t[0]).

    `params` maps the family's parameter names to numbers or to arrays of n values, y0 is (2,) or
    (n, 2); all n systems are integrated as one vectorised system. The families: damped oscillator
    x' = y, y' = -k x - c y; Lotka-Volterra x' = a x - b x y, y' = d x y - c y; Van der Pol x' = y,
    y' = mu (1 - x^2) y - x; Duffing x' = y, y' = -delta y - alpha x - beta x^3. Returns (len(t), 2)
    for one system, (n, len(t), 2) for n.
    """
    from scipy.integrate import solve_ivp

    y0 = np.asarray(y0, dtype=float)
    single = y0.ndim == 1
    y0 = np.atleast_2d(y0)
    n = len(y0)
    arrays = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for k, v in params.items()}
    rhs = family_terms(family, arrays)

    def field(_, state):
        x, y = state[:n], state[n:]
        return np.concatenate([sum(np.asarray(c) * x**i * y**j for c, (i, j) in side) for side in rhs])

    t = np.asarray(t, dtype=float)
    sol = solve_ivp(field, (t[0], t[-1]), np.concatenate([y0[:, 0], y0[:, 1]]), method="DOP853",
                    t_eval=t, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"simulate({family!r}) failed: {sol.message}")
    out = np.stack([sol.y[:n], sol.y[n:]], axis=-1)
    return out[0] if single else out


def coefficient_tokens(value: float) -> list[str]:
    """A coefficient as tokens: sign, SIGNIFICANT mantissa digits d1 d2 d3, exponent E<e>, standing for
    sign * d1.d2d3 * 10^e."""
    value = float(round_significant(value))
    if value == 0:
        raise ValueError("a term's coefficient is never zero")
    exponent = math.floor(math.log10(abs(value)))
    mantissa = round(abs(value) / 10.0 ** (exponent - SIGNIFICANT + 1))
    if mantissa >= 10**SIGNIFICANT:
        mantissa, exponent = mantissa // 10, exponent + 1
    if exponent not in EXPONENTS:
        raise ValueError(f"coefficient {value} is outside the token range")
    return ["+" if value > 0 else "-", *str(mantissa), f"E{exponent}"]


def term_tokens(coefficient: float, monomial: tuple[int, int]) -> list[str]:
    """coefficient * x^i y^j in prefix notation: mul <coefficient> <x * ... * y>."""
    factors = ["x"] * monomial[0] + ["y"] * monomial[1]
    if not factors:
        return coefficient_tokens(coefficient)
    product = ["mul"] * (len(factors) - 1)
    chain = [tok for pair in zip(product, factors) for tok in pair] + [factors[-1]]
    return ["mul", *coefficient_tokens(coefficient), *chain]


def system_tokens(system: tuple[list, list]) -> list[str]:
    """A system (two lists of terms) in prefix notation: <u_x> | <u_y>, a sum of terms as
    add t1 add t2 t3, an empty right-hand side as 0."""
    out = []
    for k, side in enumerate(system):
        if k:
            out.append("|")
        if not side:
            out.append("0")
        for m, term in enumerate(side):
            if m < len(side) - 1:
                out.append("add")
            out += term_tokens(*term)
    return out


def decode_expression(tokens) -> tuple:
    """Prefix tokens (strings, or ids into VOCAB) -> the right-hand sides as sympy expressions in x, y,
    one per component separated by '|'. Raises ValueError on a sequence the grammar does not parse."""
    import sympy

    words = [VOCAB[int(t)] if not isinstance(t, str) else t for t in tokens]
    x, y = sympy.symbols("x y")
    pos = 0

    def take():
        nonlocal pos
        if pos >= len(words):
            raise ValueError("expression ends early")
        pos += 1
        return words[pos - 1]

    def expression():
        word = take()
        if word in ("add", "mul"):
            left, right = expression(), expression()
            return left + right if word == "add" else left * right
        if word in ("+", "-"):
            digits = [take() for _ in range(SIGNIFICANT)]
            exponent = take()
            if not all(d.isdigit() and len(d) == 1 for d in digits) or digits[0] == "0" \
                    or not exponent.startswith("E"):
                raise ValueError(f"bad coefficient {word} {digits} {exponent}")
            scale = sympy.Rational(10) ** (int(exponent[1:]) - SIGNIFICANT + 1)
            value = sympy.Rational(int("".join(digits))) * scale
            return value if word == "+" else -value
        if word in ("x", "y"):
            return x if word == "x" else y
        if word == "0":
            return sympy.Integer(0)
        raise ValueError(f"unexpected token {word!r}")

    sides = [expression()]
    while pos < len(words):
        if take() != "|":
            raise ValueError("trailing tokens")
        sides.append(expression())
    return tuple(sides)


def corrupt_terms(system: tuple[list, list], rate: float, rng: np.random.Generator,
                  which=None) -> tuple[list, list]:
    """The symbolic input's errors: each term independently, with probability `rate`, is either dropped
    or (equally likely) joined by a wrongly added term (a monomial of degree <= 3 absent from that
    right-hand side, coefficient +-U(0.1, 2)) at a random place. The expected number of terms is kept;
    the expected number of changed terms is rate * (number of terms). `which` (indices of terms,
    counted across both sides) picks the changed terms instead of `rate`."""
    n = sum(map(len, system))
    hit = rng.random(n) < rate if which is None else np.isin(np.arange(n), which)
    out, k = [], 0
    for side in system:
        new = []
        present = {m for _, m in side}
        for term in side:
            k += 1
            if not hit[k - 1]:
                new.append(term)
                continue
            if rng.random() < 0.5:
                continue
            new.append(term)
            free = [m for m in MONOMIALS if m not in present]
            monomial = free[rng.integers(len(free))]
            present.add(monomial)
            coefficient = float(round_significant(rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 2.0)))
            new.insert(int(rng.integers(len(new) + 1)), (coefficient, monomial))
        out.append(new)
    return out[0], out[1]


def pad_tokens(sequences: list[list[str]], bos_eos: bool = False) -> np.ndarray:
    """Token sequences as an (n, L) array of ids into VOCAB, padded with <PAD> (with <BOS>/<EOS> around
    each for the symbol decoder's targets)."""
    ids = [[TOKEN_ID[w] for w in ([BOS, *s, EOS] if bos_eos else s)] for s in sequences]
    out = np.full((len(ids), max(map(len, ids))), TOKEN_ID[PAD], dtype=np.int64)
    for row, seq in zip(out, ids):
        row[: len(seq)] = seq
    return out


def relative_l2(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-sample relative L2 error ||u_pred - u|| / ||u|| over all query times and components."""
    axes = tuple(range(1, truth.ndim))
    return np.sqrt(np.sum((prediction - truth) ** 2, axis=axes) / np.sum(truth**2, axis=axes))


def _encoder(d_model, heads, ff, layers):
    layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout=0.0, batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def _decoder(d_model, heads, ff, layers):
    layer = nn.TransformerDecoderLayer(d_model, heads, ff, dropout=0.0, batch_first=True, norm_first=True)
    return nn.TransformerDecoder(layer, layers)


class ProseModel(nn.Module):
    """PROSE: data encoder (the input samples (t, x, y) as a sequence), symbol encoder (the prefix
    tokens), fusion encoder (self-attention over both, with a modality embedding), data decoder
    (cross-attention from query times t to the fused sequence, -> u(t)) and symbol decoder
    (autoregressive over the output expression's tokens). `use_symbols=False` is the data-only
    ablation: the symbol input is never read and the fusion encoder sees the data features alone."""

    def __init__(self, d_model: int = 64, heads: int = 4, ff: int = 128, layers: int = 1,
                 use_symbols: bool = True, max_len: int = 96, dim: int = 2):
        super().__init__()
        self.use_symbols = use_symbols
        vocab = len(VOCAB)
        self.data_embed = nn.Sequential(nn.Linear(dim + 1, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.data_encoder = _encoder(d_model, heads, ff, layers)
        if use_symbols:
            self.symbol_embed = nn.Embedding(vocab, d_model, padding_idx=TOKEN_ID[PAD])
            self.symbol_encoder = _encoder(d_model, heads, ff, layers)
        self.position = nn.Embedding(max_len, d_model)
        self.modality = nn.Embedding(2, d_model)
        self.fusion = _encoder(d_model, heads, ff, layers)
        self.query_embed = nn.Sequential(nn.Linear(1, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.data_decoder = _decoder(d_model, heads, ff, layers)
        self.data_head = nn.Linear(d_model, dim)
        self.output_embed = nn.Embedding(vocab, d_model, padding_idx=TOKEN_ID[PAD])
        self.symbol_decoder = _decoder(d_model, heads, ff, layers)
        self.symbol_head = nn.Linear(d_model, vocab)

    def _positions(self, length, device):
        return self.position(torch.arange(length, device=device))

    def encode(self, data_t, data_u, symbols=None):
        """Fused sequence and its padding mask from input samples (B, N), (B, N, 2) and symbol ids (B, L)."""
        h = self.data_embed(torch.cat([data_t[..., None], data_u], dim=-1))
        h = self.data_encoder(h + self._positions(h.shape[1], h.device)) + self.modality.weight[0]
        mask = torch.zeros(h.shape[:2], dtype=torch.bool, device=h.device)
        if self.use_symbols:
            pad = symbols == TOKEN_ID[PAD]
            s = self.symbol_embed(symbols) + self._positions(symbols.shape[1], symbols.device)
            s = self.symbol_encoder(s, src_key_padding_mask=pad) + self.modality.weight[1]
            h, mask = torch.cat([h, s], dim=1), torch.cat([mask, pad], dim=1)
        return self.fusion(h, src_key_padding_mask=mask), mask

    def predict_data(self, memory, mask, query_t):
        """u at the query times (B, Q) -> (B, Q, 2)."""
        q = self.query_embed(query_t[..., None])
        return self.data_head(self.data_decoder(q, memory, memory_key_padding_mask=mask))

    def symbol_logits(self, memory, mask, tokens_in):
        """Next-token logits (B, L, vocab) of the output expression given its tokens so far
        (teacher forcing)."""
        length = tokens_in.shape[1]
        h = self.output_embed(tokens_in) + self._positions(length, tokens_in.device)
        causal = torch.ones(length, length, dtype=torch.bool, device=tokens_in.device).triu(1)
        h = self.symbol_decoder(h, memory, tgt_mask=causal, tgt_is_causal=True,
                                tgt_key_padding_mask=tokens_in == TOKEN_ID[PAD],
                                memory_key_padding_mask=mask)
        return self.symbol_head(h)

    def forward(self, data_t, data_u, symbols, query_t, tokens_in):
        """(data prediction (B, Q, 2), symbol logits (B, L, vocab))."""
        memory, mask = self.encode(data_t, data_u, symbols)
        return self.predict_data(memory, mask, query_t), self.symbol_logits(memory, mask, tokens_in)

    @torch.no_grad()
    def generate(self, memory, mask, max_len: int = 40):
        """Greedy decoding of the output expression: (B, <= max_len) token ids, <EOS> and what follows
        replaced by <PAD>."""
        tokens = torch.full((memory.shape[0], 1), TOKEN_ID[BOS], dtype=torch.long, device=memory.device)
        done = torch.zeros(memory.shape[0], dtype=torch.bool, device=memory.device)
        for _ in range(max_len):
            nxt = self.symbol_logits(memory, mask, tokens)[:, -1].argmax(-1)
            nxt = torch.where(done, TOKEN_ID[PAD], nxt)
            done |= nxt == TOKEN_ID[EOS]
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            if done.all():
                break
        out = tokens[:, 1:]
        return torch.where(out == TOKEN_ID[EOS], TOKEN_ID[PAD], out)
