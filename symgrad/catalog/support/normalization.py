r"""Normalization layers (BatchNorm, LayerNorm, RMSNorm): checked backward passes.

For an explicit size :math:`m` the forward algorithm is a small computation
graph whose nodes are the paper's quantities (Ioffe & Szegedy, 2015):

.. math:: \mu = \tfrac1m \sum_i x_i,\quad \sigma^2 = \tfrac1m \sum_i (x_i - \mu)^2,\quad
          \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}},\quad y_i = \gamma \hat x_i + \beta,

and the loss is :math:`\ell = \sum_i g_i y_i`, whose gradient with respect to
:math:`y` is the upstream gradient :math:`g`. LayerNorm normalizes over the
features with a per-feature :math:`\gamma_i, \beta_i`; RMSNorm does not centre
(:math:`\sigma^2` is the mean square) and has no :math:`\beta`.

The backward pass applies the adjoint-sum law at the level of these nodes:
:math:`\bar v = \sum_{c} \bar c\, \partial c/\partial v` over the consumers
:math:`c` of :math:`v`. Every adjoint is stated as a proof that starts at the
true derivative (SymPy's ``Derivative`` of :math:`\ell` as a function of that
node's value, every node that does not depend on it held fixed), so the kernel
checks each equation on its own; no adjoint is trusted.

Beyond explicit proofs the module has an exact verifier
(:func:`verify_exact`: every quantity at rational points, with :math:`\epsilon`
chosen so that :math:`\sqrt{\sigma^2 + \epsilon}` is rational, so the
comparison is exact), the general-:math:`m` derivation with indexed sums whose
sum manipulations rest on registered lemmas (each lemma checked by the kernel
for explicit sizes), and numpy code generated from the compact form with its
latexify rendering (:func:`numpy_backward`).
"""

from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass
from fractions import Fraction
from math import isqrt
from typing import Any, Callable, Mapping, Sequence

import sympy as sp

from ...core.errors import InputError, UnsupportedError
from ...proofs.proof import Proof, calc

__all__ = [
    "KINDS", "Setup", "setup", "true_adjoint", "adjoint_sum", "adjoint_values", "adjoint_proof",
    "paper_equations", "paper_proofs", "mean_zero_proof", "compact_form", "compact_proof", "epsilon_zero_proof",
    "ExactCheck", "verify_exact", "exact_value", "exact_gradient", "rational_point",
    "SUM_LEMMAS", "General", "general", "general_compact", "general_proof", "general_paper_proof",
    "general_mean_zero_proof", "general_start_instance", "lemma_instances",
    "numpy_backward_source", "numpy_backward", "latexify_backward",
]

#: The three layers: batch norm (shared gamma, beta), layer norm (per-feature), RMS norm.
KINDS = ("batchnorm", "layernorm", "rmsnorm")
#: Largest explicit size for symbolic setups (beyond it use :func:`verify_exact`).
MAX_SYMBOLIC = 64


class Named(sp.Symbol):
    """A real symbol with its own LaTeX (``_latex_form`` is kept in a registry by name)."""

    _forms: dict[str, str] = {}

    def __new__(cls, name: str, latex: str, **assumptions: Any) -> "Named":
        obj = super().__new__(cls, name, **assumptions)
        cls._forms[name] = latex
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return ((self.name, self._forms[self.name]), self.assumptions0)

    def _latex(self, printer: Any) -> str:
        return str(self._forms.get(self.name, self.name))


CENTRED_SUM_ZERO = "centred-sum-zero"


def _adjoint_latex(node_latex: str) -> str:
    return rf"\frac{{\partial \ell}}{{\partial {node_latex}}}"


@dataclass(frozen=True)
class Setup:
    """The symbols and forward definitions of one layer of explicit size ``m``.

    ``nodes`` are ``(symbol, definition)`` in topological order (the inputs
    ``x_i`` are not nodes); ``adjoints`` maps every node and input to the
    symbol shown as its adjoint :math:`\\partial\\ell/\\partial v`.
    """

    kind: str
    m: int
    x: tuple[sp.Symbol, ...]
    g: tuple[sp.Symbol, ...]
    gamma: tuple[sp.Symbol, ...]
    beta: tuple[sp.Symbol, ...]
    eps: sp.Symbol
    mu: sp.Symbol | None
    var: sp.Symbol
    xhat: tuple[sp.Symbol, ...]
    y: tuple[sp.Symbol, ...]
    nodes: tuple[tuple[sp.Symbol, sp.Expr], ...]
    adjoints: Mapping[sp.Symbol, sp.Symbol]

    def gamma_at(self, i: int) -> sp.Symbol:
        return self.gamma[0] if len(self.gamma) == 1 else self.gamma[i]

    def beta_at(self, i: int) -> sp.Expr:
        if not self.beta:
            return sp.S.Zero
        return self.beta[0] if len(self.beta) == 1 else self.beta[i]

    @property
    def loss(self) -> sp.Expr:
        """:math:`\\ell = \\sum_i g_i y_i` in the node symbols ``y_i``."""
        return sp.Add(*(gi * yi for gi, yi in zip(self.g, self.y)))

    @property
    def definition(self) -> dict[sp.Symbol, sp.Expr]:
        return dict(self.nodes)

    @property
    def std(self) -> sp.Expr:
        """:math:`\\sqrt{\\sigma^2 + \\epsilon}` in the node symbols."""
        return sp.sqrt(self.var + self.eps)

    def where(self, exprs: Sequence[sp.Expr], nodes: Sequence[sp.Symbol] = ()) -> dict[Any, sp.Expr]:
        """Definitions for ``calc(where=...)``: the given ``nodes`` by their forward definitions, and
        every adjoint symbol that occurs in ``exprs`` by its value (:func:`adjoint_values`), which its
        own chain (:func:`adjoint_proof`) proves equal to the true derivative.

        A node left undefined is a free variable: a step proved so holds for every value of it,
        in particular for the value the forward pass gives it.
        """
        wanted = set(nodes)
        out: dict[Any, sp.Expr] = {n: d for n, d in self.nodes if n in wanted}
        values = adjoint_values(self)
        for expr in exprs:
            for sym in sorted(expr.free_symbols & set(values), key=lambda v: v.name):
                out[sym] = values[sym]
        return out

    def h(self, j: int) -> sp.Expr:
        """:math:`\\partial\\ell/\\partial\\hat x_j`: ``gamma g_j`` (``gamma_j g_j`` per feature)."""
        return self.gamma_at(j) * self.g[j]

    def centred(self, j: int) -> sp.Expr:
        """:math:`x_j - \\mu` (just :math:`x_j` for RMSNorm)."""
        return self.x[j] - self.mu if self.mu is not None else self.x[j]

    def consumers(self, node: sp.Symbol) -> list[sp.Symbol]:
        return [n for n, d in self.nodes if node in d.free_symbols]

    def depends_on(self, node: sp.Symbol) -> set[sp.Symbol]:
        """The nodes whose value changes with ``node`` (``node`` included)."""
        found = {node}
        for n, d in self.nodes:
            if d.free_symbols & found:
                found.add(n)
        return found


def _check_size(kind: str, m: int) -> None:
    if kind not in KINDS:
        raise InputError(f"normalization: unknown kind {kind!r}; known: {', '.join(KINDS)}")
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise InputError(f"normalization: the size m must be a positive integer, got {m!r}")
    if m > MAX_SYMBOLIC:
        raise UnsupportedError(f"normalization: symbolic setups go up to m = {MAX_SYMBOLIC} (got {m}); "
                               "use verify_exact for larger sizes")


@functools.lru_cache(maxsize=None)
def setup(kind: str = "batchnorm", m: int = 3) -> Setup:
    """The symbols and forward graph of ``kind`` for ``m`` normalized values."""
    _check_size(kind, m)
    idx = range(1, m + 1)
    x = tuple(sp.Symbol(f"x_{i}", real=True) for i in idx)
    g = tuple(sp.Symbol(f"g_{i}", real=True) for i in idx)
    if kind == "batchnorm":
        gamma = (sp.Symbol("gamma", real=True),)
        beta: tuple[sp.Symbol, ...] = (sp.Symbol("beta", real=True),)
    else:
        gamma = tuple(sp.Symbol(f"gamma_{i}", real=True) for i in idx)
        beta = tuple(sp.Symbol(f"beta_{i}", real=True) for i in idx) if kind == "layernorm" else ()
    eps = sp.Symbol("epsilon", positive=True)
    sub = "B" if kind == "batchnorm" else ""
    mu = Named("mu_B" if sub else "mu", rf"\mu_{{{sub}}}" if sub else r"\mu", real=True) \
        if kind != "rmsnorm" else None
    var_tex = rf"\sigma_{{{sub}}}^{{2}}" if sub else (r"\sigma^{2}" if kind == "layernorm" else r"\nu^{2}")
    var = Named("sigma_B2" if sub else ("sigma2" if kind == "layernorm" else "nu2"), var_tex, nonnegative=True)
    xhat = tuple(Named(f"xhat_{i}", rf"\hat{{x}}_{{{i}}}", real=True) for i in idx)
    y = tuple(Named(f"y_{i}", rf"y_{{{i}}}", real=True) for i in idx)
    nodes: list[tuple[sp.Symbol, sp.Expr]] = []
    if mu is not None:
        nodes.append((mu, sp.Add(*x) / m))
        nodes.append((var, sp.Add(*((xi - mu) ** 2 for xi in x)) / m))
    else:
        nodes.append((var, sp.Add(*(xi ** 2 for xi in x)) / m))
    std = sp.sqrt(var + eps)
    for i in range(m):
        nodes.append((xhat[i], ((x[i] - mu) if mu is not None else x[i]) / std))
    partial = Setup(kind, m, x, g, gamma, beta, eps, mu, var, xhat, y, (), {})
    for i in range(m):
        nodes.append((y[i], partial.gamma_at(i) * xhat[i] + partial.beta_at(i)))
    adjoints: dict[sp.Symbol, sp.Symbol] = {}
    for symbol in (*x, *([mu] if mu is not None else []), var, *xhat, *y):
        adjoints[symbol] = Named(f"dl_d{symbol.name}", _adjoint_latex(sp.latex(symbol)), real=True)
    return Setup(kind, m, x, g, gamma, beta, eps, mu, var, xhat, y, tuple(nodes), adjoints)


# ---------------------------------------------------------------------------
# The backward pass
# ---------------------------------------------------------------------------


def _loss_as_function_of(s: Setup, node: sp.Symbol, variable: sp.Symbol) -> sp.Expr:
    """:math:`\\ell` with ``node``'s value replaced by ``variable`` and everything above it rebuilt.

    Nodes that do not depend on ``node`` keep their symbols (defined by ``where=``).
    """
    affected = s.depends_on(node)
    values: dict[sp.Symbol, sp.Expr] = {node: variable}
    for n, d in s.nodes:
        if n in affected and n != node:
            values[n] = d.xreplace(values)
    return s.loss.xreplace(values)


def true_adjoint(s: Setup, node: sp.Symbol) -> sp.Expr:
    """:math:`\\partial\\ell/\\partial v` as SymPy's derivative (unevaluated), the start of every chain.

    For an input (``x_i``, ``gamma``, ``beta``) it is the derivative of the loss written in the inputs
    alone (a derivative of an expression in the node symbols would not see their dependence on the
    input); for an inner node, the derivative of the loss with that node's value replaced by a variable
    and the nodes above it rebuilt, taken at the node's value.
    """
    if node in s.x or node in s.gamma or node in s.beta:
        return sp.Derivative(_define_all(s, s.loss), node)
    variable = sp.Symbol(f"t_{node.name}", real=True)
    return sp.Subs(sp.Derivative(_loss_as_function_of(s, node, variable), variable), variable, node)


def _define_all(s: Setup, expr: sp.Expr) -> sp.Expr:
    """``expr`` in the inputs only (every node replaced by its definition)."""
    for n, d in reversed(s.nodes):
        expr = expr.xreplace({n: d})
    return expr


def adjoint_sum(s: Setup, node: sp.Symbol) -> sp.Expr:
    """The backward law at ``node``: :math:`\\sum_c \\bar c\\, \\partial c / \\partial v` over its consumers.

    The adjoint of ``y_i`` is the upstream gradient ``g_i``; consumers' adjoints
    appear as their adjoint symbols, local derivatives by differentiating the
    consumers' definitions.
    """
    if node in s.y:
        return s.g[s.y.index(node)]
    terms = []
    for consumer in s.consumers(node):
        local = sp.diff(s.definition[consumer], node)
        upstream = s.g[s.y.index(consumer)] if consumer in s.y else s.adjoints[consumer]
        terms.append(sp.Mul(upstream, local, evaluate=False))
    return sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]


def adjoint_values(s: Setup) -> dict[sp.Symbol, sp.Expr]:
    r"""The closed forms of the inner adjoints, keyed by adjoint symbol.

    :math:`\partial\ell/\partial\hat x_j = h_j` (:math:`h_j = \gamma g_j`),
    :math:`\partial\ell/\partial\sigma^2 = -	frac12 (\sigma^2+\epsilon)^{-3/2} \sum_j h_j (x_j - \mu)`,
    :math:`\partial\ell/\partial\mu = -(\sigma^2+\epsilon)^{-1/2} \sum_j h_j`; each is proved equal to
    the true derivative by :func:`adjoint_proof`.
    """
    a, m = s.adjoints, s.m
    out: dict[sp.Symbol, sp.Expr] = {a[s.xhat[j]]: s.h(j) for j in range(m)}
    out[a[s.var]] = sp.Rational(-1, 2) * (s.var + s.eps) ** sp.Rational(-3, 2) \
        * _paper_sum([s.h(j) * s.centred(j) for j in range(m)])
    if s.mu is not None:
        out[a[s.mu]] = -_paper_sum([s.h(j) for j in range(m)]) / s.std
    return out


def _chain(s: Setup, start: sp.Expr, steps: Sequence[tuple[sp.Expr, str, str]], title: str,
           nodes: Sequence[sp.Symbol] = (), assume: Sequence[Any] = ()) -> Proof:
    """A calc chain whose ``where=`` defines ``nodes`` and every adjoint symbol the steps mention."""
    exprs = [start, *(e for e, _, _ in steps)]
    proof = calc(start, assume=assume, where=s.where(exprs, nodes), title=title)
    for expr, rule, by in steps:
        proof = proof.eq(expr, rule=rule, by=by)
    return proof


def _needed(s: Setup, node: sp.Symbol) -> list[sp.Symbol]:
    """The forward definitions a chain for ``node``'s adjoint needs (the fewer, the faster)."""
    if node in s.xhat or node == s.var:
        return []
    if node in s.gamma:
        return [n for n in (s.mu, s.var, *s.xhat) if n is not None]
    return [n for n in (s.mu, s.var) if n is not None]


def _paper_sum(terms: Sequence[sp.Expr]) -> sp.Expr:
    """``terms`` added without evaluation (so a printed sum keeps its order)."""
    return sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]


def _sum_step(s: Setup, node: sp.Symbol) -> tuple[sp.Expr, str, str]:
    return (adjoint_sum(s, node), "adjoint-sum",
            f"sum over the consumers of {node.name}: " + ", ".join(c.name for c in s.consumers(node)))


def adjoint_proof(s: Setup, node: sp.Symbol, title: str | None = None) -> Proof:
    """True derivative = adjoint sum [adjoint-sum] = closed form [algebra] (inner nodes only).

    The closed forms are :func:`adjoint_values`; for :math:`\\mu` the step uses that the
    centred values sum to zero (the forward definitions are in ``where=``).
    """
    value = adjoint_values(s).get(s.adjoints[node])
    if value is None:
        raise InputError(f"adjoint_proof: {node} is not an inner node (xhat_j, the variance or the mean)")
    steps = [_sum_step(s, node)]
    why = "insert the adjoints of the consumers"
    if node == s.mu:
        why += "; the second term has the factor sum_j (x_j - mu) = 0"
    steps.append((value, "algebra", why))
    return _chain(s, true_adjoint(s, node), steps, title or f"Adjoint of {node.name}", _needed(s, node))


def paper_equations(s: Setup, i: int = 0) -> dict[str, tuple[sp.Symbol, sp.Expr]]:
    """Ioffe & Szegedy's six backward equations, as printed, for index ``i`` (0-based).

    Returned as name -> (the adjoint's node, the printed right-hand side).
    """
    if s.kind != "batchnorm":
        raise UnsupportedError("paper_equations: the paper's six equations are for batchnorm")
    a, m, std = s.adjoints, s.m, s.std
    half = sp.Rational(-1, 2)
    dvar = sp.Mul(_paper_sum([a[s.xhat[j]] * (s.x[j] - s.mu) for j in range(m)]), half,
                  (s.var + s.eps) ** sp.Rational(-3, 2), evaluate=False)
    dmu = sp.Add(_paper_sum([a[s.xhat[j]] * (-1 / std) for j in range(m)]),
                 a[s.var] * _paper_sum([-2 * (s.x[j] - s.mu) for j in range(m)]) / m, evaluate=False)
    dx = sp.Add(a[s.xhat[i]] / std, a[s.var] * 2 * (s.x[i] - s.mu) / m, a[s.mu] / m, evaluate=False)
    return {
        "xhat": (s.xhat[i], sp.Mul(s.g[i], s.gamma[0], evaluate=False)),
        "var": (s.var, dvar),
        "mu": (s.mu, dmu),  # type: ignore[dict-item]
        "x": (s.x[i], dx),
        "gamma": (s.gamma[0], _paper_sum([s.g[j] * s.xhat[j] for j in range(m)])),
        "beta": (s.beta[0], _paper_sum(list(s.g))),
    }


def paper_proofs(s: Setup, i: int = 0) -> dict[str, Proof]:
    """The six equations, each a chain from the true derivative through the backward law to the
    paper's printed form (and, for the inner nodes, on to the closed form the next equations use).

    For :math:`\\partial\\ell/\\partial\\mu` the chain shows the second term vanishing as a step.
    """
    out: dict[str, Proof] = {}
    values = adjoint_values(s)
    for name, (node, printed) in paper_equations(s, i).items():
        title = f"dl/d{node.name}"
        if name in ("gamma", "beta"):
            local = [sp.Mul(s.g[j], sp.diff(s.definition[s.y[j]], node), evaluate=False) for j in range(s.m)]
            steps = [(_paper_sum(local), "adjoint-sum", f"{node.name} feeds every y_j"),
                     (printed, "algebra", "the paper's printed form")]
        else:
            steps = [_sum_step(s, node)]
            if printed != steps[0][0]:
                steps.append((printed, "algebra", "the paper's printed form"))
            if name == "mu" and s.mu is not None:
                first = _paper_sum([s.adjoints[s.xhat[j]] * (-1 / s.std) for j in range(s.m)])
                collected = sp.Mul(-2, sp.Add(*s.x) - s.m * s.mu, evaluate=False)
                steps.append((sp.Add(first, s.adjoints[s.var] * collected / s.m, evaluate=False), "algebra",
                              "sum_j -2(x_j - mu) = -2(x_1 + ... + x_m - m mu)"))
                steps.append((first, "centred-sum-zero", "x_1 + ... + x_m = m mu, so the second term is 0"))
            if name in ("xhat", "var", "mu") and values[s.adjoints[node]] != steps[-1][0]:
                steps.append((values[s.adjoints[node]], "algebra", "insert dl/dxhat_j = g_j gamma; collect"))
        out[name] = _chain(s, true_adjoint(s, node), steps, title, _needed(s, node))
    return out


def mean_zero_proof(s: Setup) -> Proof:
    """:math:`\\sum_i (x_i - \\mu) = 0`: why the paper's second term of :math:`\\partial\\ell/\\partial\\mu` vanishes."""
    if s.mu is None:
        raise UnsupportedError("mean_zero_proof: RMSNorm does not centre")
    terms = _paper_sum([xi - s.mu for xi in s.x])
    return (calc(terms, where={s.mu: s.definition[s.mu]}, title="The centred values sum to zero")
            .eq(sp.Add(*s.x) - s.m * s.mu, rule="algebra", by="collect the m copies of mu")
            .eq(0, rule="substitution", by="m mu = x_1 + ... + x_m"))


def compact_form(s: Setup, i: int) -> sp.Expr:
    r"""The compact :math:`\partial\ell/\partial x_i` in the node symbols (0-based ``i``).

    BatchNorm: :math:`\frac{\gamma}{m\sqrt{\sigma^2+\epsilon}}\,(m g_i - \sum_j g_j - \hat x_i \sum_j g_j \hat x_j)`;
    LayerNorm: the same with :math:`h_j = \gamma_j g_j` for :math:`\gamma g_j`;
    RMSNorm: :math:`\frac{1}{m\sqrt{\nu^2+\epsilon}}\,(m h_i - \hat x_i \sum_j h_j \hat x_j)`.
    """
    m, std = s.m, s.std
    h = [s.g[j] if s.kind == "batchnorm" else s.gamma_at(j) * s.g[j] for j in range(m)]
    inner_terms = [m * h[i]]
    if s.kind != "rmsnorm":
        inner_terms.append(-_paper_sum(h))
    inner_terms.append(-s.xhat[i] * _paper_sum([h[j] * s.xhat[j] for j in range(m)]))
    scale = s.gamma[0] / (m * std) if s.kind == "batchnorm" else 1 / (m * std)
    return sp.Mul(scale, sp.Add(*inner_terms, evaluate=False), evaluate=False)


def compact_proof(s: Setup, i: int = 0) -> Proof:
    """From the true :math:`\\partial\\ell/\\partial x_i` through the adjoint sum to the compact form."""
    x_i = s.x[i]
    m, std = s.m, s.std
    h = [s.g[j] if s.kind == "batchnorm" else s.gamma_at(j) * s.g[j] for j in range(m)]
    sum_h = _paper_sum(h)
    sum_hx = _paper_sum([h[j] * s.xhat[j] for j in range(m)])
    scale = s.gamma[0] if s.kind == "batchnorm" else sp.S.One
    hi = s.g[i] if s.kind == "batchnorm" else h[i]
    expanded_terms = [scale * hi / std, -scale * s.xhat[i] * sum_hx / (m * std)]
    if s.kind != "rmsnorm":
        expanded_terms.insert(1, -scale * sum_h / (m * std))
    centred = "; the sum of (x_j - mu) vanishes" if s.kind != "rmsnorm" else ""
    steps = [
        (adjoint_sum(s, x_i), "adjoint-sum",
         f"consumers of {x_i.name}: " + ", ".join(c.name for c in s.consumers(x_i))),
        (sp.Add(*expanded_terms, evaluate=False), "algebra",
         "insert the adjoints; x_j - mu = xhat_j sqrt(sigma^2 + eps)" + centred),
        (compact_form(s, i), "factor", "factor out 1/(m sqrt(sigma^2 + eps))"),
    ]
    return _chain(s, true_adjoint(s, x_i), steps, f"dl/d{x_i.name} in compact form",
                  [n for n in (s.mu, s.var, *s.xhat) if n is not None])


# ---------------------------------------------------------------------------
# Exact verification at rational points
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExactCheck:
    """The outcome of :func:`verify_exact`: every compared pair equal as exact rationals?"""

    kind: str
    m: int
    points: int
    comparisons: int
    mismatches: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.comparisons > 0 and not self.mismatches


def _rational_sqrt(value: Fraction, where: str) -> Fraction:
    """The exact square root of a rational square (InputError otherwise)."""
    if value < 0:
        raise InputError(f"{where}: square root of the negative number {value}")
    num, den = value.numerator, value.denominator
    rn, rd = isqrt(num), isqrt(den)
    if rn * rn != num or rd * rd != den:
        raise InputError(f"{where}: {value} is not the square of a rational")
    return Fraction(rn, rd)


def exact_value(expr: sp.Expr, point: Mapping[sp.Symbol, Fraction], memo: dict[Any, Fraction] | None = None) -> Fraction:
    """``expr`` evaluated exactly at ``point`` with Python fractions.

    Supports sums, products, integer powers and half-integer powers whose
    base is a rational square, numbers, symbols, and derivatives taken
    beforehand; anything else is an :class:`UnsupportedError`.
    """
    memo = {} if memo is None else memo

    def value(e: sp.Basic) -> Fraction:
        if e in memo:
            return memo[e]
        if isinstance(e, sp.Symbol):
            if e not in point:
                raise InputError(f"exact_value: no value for the symbol {e}")
            out = Fraction(point[e])
        elif isinstance(e, sp.Rational):
            out = Fraction(int(e.p), int(e.q))
        elif isinstance(e, sp.Add):
            out = sum((value(a) for a in e.args), Fraction(0))
        elif isinstance(e, sp.Mul):
            out = Fraction(1)
            for a in e.args:
                out *= value(a)
        elif isinstance(e, sp.Pow) and isinstance(e.exp, sp.Rational) and e.exp.q in (1, 2):
            base = value(e.base)
            if e.exp.q == 2:
                base = _rational_sqrt(base, f"exact_value({e})")
            power = int(e.exp.p)
            out = base ** power
        else:
            raise UnsupportedError(f"exact_value: cannot evaluate {type(e).__name__} {e} exactly")
        memo[e] = out
        return out

    return value(expr)


def rational_point(s: Setup, seed: int = 0) -> dict[sp.Symbol, Fraction]:
    """A rational point of the inputs with epsilon > 0 chosen so that sqrt(sigma^2 + epsilon) is rational."""
    rng = random.Random(f"{s.kind}:{s.m}:{seed}")
    point: dict[sp.Symbol, Fraction] = {}
    for sym in (*s.x, *s.g, *s.gamma, *s.beta):
        point[sym] = Fraction(rng.randint(-40, 40), rng.randint(1, 12))
    xs = [point[x] for x in s.x]
    mean = sum(xs, Fraction(0)) / s.m
    var = (sum(((v - mean) ** 2 for v in xs), Fraction(0)) / s.m) if s.mu is not None else \
        sum((v * v for v in xs), Fraction(0)) / s.m
    # smallest "nice" rational r with r^2 > var, then eps = r^2 - var > 0
    root = Fraction(isqrt(int(var) + 1) + 1) + Fraction(rng.randint(1, 9), 10)
    point[s.eps] = root * root - var
    return point


@dataclass(frozen=True)
class _Dual:
    """A number with one tangent, both exact: forward-mode differentiation over the rationals."""

    value: Fraction
    tangent: Fraction = Fraction(0)

    def __add__(self, other: "_Dual") -> "_Dual":
        return _Dual(self.value + other.value, self.tangent + other.tangent)

    def __sub__(self, other: "_Dual") -> "_Dual":
        return _Dual(self.value - other.value, self.tangent - other.tangent)

    def __mul__(self, other: "_Dual") -> "_Dual":
        return _Dual(self.value * other.value, self.value * other.tangent + self.tangent * other.value)

    def __truediv__(self, other: "_Dual") -> "_Dual":
        return _Dual(self.value / other.value,
                     (self.tangent * other.value - self.value * other.tangent) / (other.value * other.value))

    def scaled(self, factor: Fraction) -> "_Dual":
        return _Dual(self.value * factor, self.tangent * factor)

    def sqrt(self) -> "_Dual":
        root = _rational_sqrt(self.value, "forward pass")
        return _Dual(root, self.tangent / (2 * root))


def _forward_loss(kind: str, x: Sequence[_Dual], g: Sequence[Fraction], gamma: Sequence[_Dual],
                  beta: Sequence[_Dual], eps: Fraction) -> _Dual:
    """The forward algorithm of ``kind`` and the loss sum_i g_i y_i, in dual numbers."""
    m = len(x)
    total = x[0]
    for v in x[1:]:
        total = total + v
    mean = total.scaled(Fraction(1, m)) if kind != "rmsnorm" else _Dual(Fraction(0))
    centred = [v - mean for v in x]
    square = centred[0] * centred[0]
    for c in centred[1:]:
        square = square + c * c
    std = (square.scaled(Fraction(1, m)) + _Dual(eps)).sqrt()
    loss = _Dual(Fraction(0))
    for i in range(m):
        y = (gamma[0] if len(gamma) == 1 else gamma[i]) * (centred[i] / std)
        if beta:
            y = y + (beta[0] if len(beta) == 1 else beta[i])
        loss = loss + y.scaled(g[i])
    return loss


def exact_gradient(s: Setup, point: Mapping[sp.Symbol, Fraction]) -> dict[sp.Symbol, Fraction]:
    """The exact derivative of the loss with respect to each x_i, gamma and beta at ``point``,
    by forward-mode differentiation of the forward algorithm (an oracle independent of the backward
    formulas and of SymPy)."""
    variables = (*s.x, *s.gamma, *s.beta)
    out: dict[sp.Symbol, Fraction] = {}
    for seeded in variables:
        def dual(sym: sp.Symbol) -> _Dual:
            return _Dual(Fraction(point[sym]), Fraction(int(sym == seeded)))
        loss = _forward_loss(s.kind, [dual(v) for v in s.x], [Fraction(point[v]) for v in s.g],
                             [dual(v) for v in s.gamma], [dual(v) for v in s.beta], Fraction(point[s.eps]))
        out[seeded] = loss.tangent
    return out


def verify_exact(kind: str = "batchnorm", m: int = 64, points: int = 1, seed: int = 0) -> ExactCheck:
    """Compare the compact form (and, for batchnorm, the paper's equations run in order, and
    dl/dgamma, dl/dbeta) with the exact gradient at rational points.

    The symbolic forms are evaluated exactly (:func:`exact_value`) at a rational point whose epsilon
    makes sqrt(sigma^2 + epsilon) rational; the gradient comes from :func:`exact_gradient`. Evidence
    for this ``m`` at these points, not a proof.
    """
    started = time.perf_counter()
    s = setup(kind, m)
    mismatches: list[str] = []
    comparisons = 0
    for p in range(points):
        point = rational_point(s, seed + p)
        true = exact_gradient(s, point)
        nodes: dict[sp.Symbol, Fraction] = dict(point)
        for n, d in s.nodes:
            nodes[n] = exact_value(d, nodes, {})
        memo: dict[Any, Fraction] = {}
        for i, xi in enumerate(s.x):
            comparisons += 1
            got = exact_value(compact_form(s, i), nodes, memo)
            if got != true[xi]:
                mismatches.append(f"point {p}: compact dl/d{xi} = {got}, exact {true[xi]}")
        if kind == "batchnorm":
            for v, rhs in ((s.gamma[0], sp.Add(*(g * xh for g, xh in zip(s.g, s.xhat)))),
                           (s.beta[0], sp.Add(*s.g))):
                comparisons += 1
                got = exact_value(rhs, nodes, memo)
                if got != true[v]:
                    mismatches.append(f"point {p}: dl/d{v} = {got}, exact {true[v]}")
            found = _paper_chain_exact(s, nodes, true, p)
            comparisons += s.m
            mismatches += found
    return ExactCheck(kind, m, points, comparisons, tuple(mismatches), round(time.perf_counter() - started, 3))


def _paper_chain_exact(s: Setup, nodes: dict[sp.Symbol, Fraction], true: Mapping[sp.Symbol, Fraction],
                       p: int) -> list[str]:
    """Run the paper's equations in order (each adjoint from the ones before) and compare dl/dx_i."""
    values = dict(nodes)
    a = s.adjoints
    for j in range(s.m):
        values[a[s.xhat[j]]] = values[s.g[j]] * values[s.gamma[0]]
    first = paper_equations(s, 0)
    memo: dict[Any, Fraction] = {}
    values[a[s.var]] = exact_value(first["var"][1], values, memo)
    values[a[s.mu]] = exact_value(first["mu"][1], values, memo)
    out = []
    for i in range(s.m):
        dx = sp.Add(a[s.xhat[i]] / s.std, a[s.var] * 2 * (s.x[i] - s.mu) / s.m, a[s.mu] / s.m, evaluate=False)
        got = exact_value(dx, values, memo)
        if got != true[s.x[i]]:
            out.append(f"point {p}: paper dl/d{s.x[i]} = {got}, exact {true[s.x[i]]}")
    return out


# ---------------------------------------------------------------------------
# General m: indexed symbols and sums
# ---------------------------------------------------------------------------

#: Lemmas about finite sums the general-m derivation rests on (each checked for explicit m in the tests
#: and in the catalog entry by :func:`lemma_instances`).
SUM_LEMMAS: tuple[str, ...] = ("sum-linearity", "kronecker-collapse", "sum-of-constant", "centred-sum-zero-general")


@dataclass(frozen=True)
class General:
    """Indexed symbols for general ``m``: ``x[j]``, ``g[j]``, ``xhat[j]``, the index ``i``, ``j``."""

    m: sp.Symbol
    i: sp.Symbol
    j: sp.Symbol
    x: sp.IndexedBase
    g: sp.IndexedBase
    xhat: sp.IndexedBase
    gamma: sp.Symbol
    eps: sp.Symbol
    mu: sp.Symbol
    var: sp.Symbol

    def total(self, term: sp.Expr) -> sp.Sum:
        return sp.Sum(term, (self.j, 1, self.m))

    @property
    def std(self) -> sp.Expr:
        return sp.sqrt(self.var + self.eps)


@functools.lru_cache(maxsize=None)
def general() -> General:
    m = sp.Symbol("m", integer=True, positive=True)
    i, j = sp.symbols("i j", integer=True, positive=True)
    return General(m, i, j, sp.IndexedBase("x", real=True), sp.IndexedBase("g", real=True),
                   sp.IndexedBase(Named("xhat", r"\hat{x}")), sp.Symbol("gamma", real=True),
                   sp.Symbol("epsilon", positive=True), Named("mu_B", r"\mu_{B}", real=True),
                   Named("sigma_B2", r"\sigma_{B}^{2}", nonnegative=True))


def general_compact(G: General | None = None, xhat: Callable[[sp.Expr], sp.Expr] | None = None) -> sp.Expr:
    r"""The compact :math:`\partial\ell/\partial x_i` for general m with indexed sums.

    ``xhat(k)`` is how :math:`\hat x_k` is written (default :math:`(x_k - \mu)/\sqrt{\sigma^2 + \epsilon}`).
    """
    G = G or general()
    if xhat is None:
        def xhat(k: sp.Expr) -> sp.Expr:
            return (G.x[k] - G.mu) / G.std

    return sp.Mul(G.gamma / (G.m * G.std),
                  G.m * G.g[G.i] - G.total(G.g[G.j]) - xhat(G.i) * G.total(G.g[G.j] * xhat(G.j)),
                  evaluate=False)


def _general_parts(G: General) -> dict[str, sp.Expr]:
    m, i, j, x, g, gamma, std = G.m, G.i, G.j, G.x, G.g, G.gamma, G.std
    d = sp.KroneckerDelta(i, j)
    dvar = sp.Rational(-1, 2) * gamma * G.total(g[j] * (x[j] - G.mu)) * (G.var + G.eps) ** sp.Rational(-3, 2)
    dmu = -gamma / std * G.total(g[j]) + dvar * G.total(-2 * (x[j] - G.mu)) / m
    s_g, s_gc = G.total(g[j]), G.total(g[j] * (x[j] - G.mu))
    return {
        "start": G.total(gamma * g[j] * ((d - sp.S.One / m) / std
                                         - (x[j] - G.mu) * (x[i] - G.mu) / (m * std ** 3))),
        "split": gamma / std * G.total(d * g[j]) - gamma / (m * std) * s_g
        - gamma * (x[i] - G.mu) / (m * std ** 3) * s_gc,
        "collapsed": gamma * g[i] / std - gamma / (m * std) * s_g - gamma * (x[i] - G.mu) / (m * std ** 3) * s_gc,
        "paper": gamma * g[i] / std + dvar * 2 * (x[i] - G.mu) / m + dmu / m,
    }


def general_proof(G: General | None = None) -> Proof:
    r"""For general m, from :math:`\sum_j rac{\partial\ell}{\partial\hat x_j}rac{\partial\hat x_j}{\partial x_i}`
    to the compact form, with indexed sums.

    The steps that move terms in or out of a sum or collapse a Kronecker delta cite the lemmas of
    :data:`SUM_LEMMAS` and rest on them; the last step (pure algebra, sums as atoms) is proved.
    :math:`\mu` and :math:`\sigma^2` are free here: none of these steps needs their values. The
    starting sum uses :math:`\partial\sigma^2/\partial x_i = 2(x_i - \mu)/m`, which rests on
    ``centred-sum-zero-general``; :func:`general_start_instance` checks it for explicit m.
    """
    G = G or general()
    m, i, j, x, g, gamma, std = G.m, G.i, G.j, G.x, G.g, G.gamma, G.std
    parts = _general_parts(G)
    return (calc(parts["start"], assume=[i <= m], title="General m: the compact form from indexed sums")
            .eq(parts["split"], rule="sum-linearity",
                by="split the sum; take gamma, m, sqrt(sigma^2 + eps) and x_i - mu out of it")
            .eq(parts["collapsed"], rule="kronecker-collapse", by="sum_j delta_ij g_j = g_i (1 <= i <= m)")
            .eq(gamma * g[i] / std - gamma / (m * std) * G.total(g[j])
                - gamma * ((x[i] - G.mu) / std) / (m * std) * G.total(g[j] * ((x[j] - G.mu) / std)),
                rule="sum-linearity", by="write x_j - mu = xhat_j sqrt(sigma^2 + eps) with xhat_j = (x_j - mu)/"
                "sqrt(sigma^2 + eps); take sqrt(sigma^2 + eps) out of the sum")
            .eq(general_compact(G), rule="factor", by="factor out gamma / (m sqrt(sigma^2 + eps))"))


def general_paper_proof(G: General | None = None) -> Proof:
    r"""For general m, the paper's :math:`\partial\ell/\partial x_i` (with :math:`\partial\ell/\partial\hat x_j
    = \gamma g_j` inserted) equals the collapsed sum of :func:`general_proof`: the second term of
    :math:`\partial\ell/\partial\mu` vanishes by ``centred-sum-zero-general``."""
    G = G or general()
    parts = _general_parts(G)
    return (calc(parts["paper"], where={G.mu: G.total(G.x[G.j]) / G.m},
                 title="General m: the paper's form, the second term of dl/dmu dropped")
            .eq(parts["collapsed"], rule="centred-sum-zero-general",
                by="the second term of dl/dmu_B has the factor sum_j (x_j - mu) = 0; the rest regroups"))


def general_mean_zero_proof(G: General | None = None) -> Proof:
    r""":math:`\sum_j (x_j - \mu) = 0` for general m: linearity (a lemma), then algebra with :math:`\mu` defined."""
    G = G or general()
    j, x, m = G.j, G.x, G.m
    return (calc(G.total(x[j] - G.mu), where={G.mu: G.total(x[j]) / m},
                 title="General m: the centred values sum to zero")
            .eq(G.total(x[j]) - m * G.mu, rule="sum-linearity", by="split the sum; sum_j mu = m mu")
            .eq(0, rule="algebra", by="m mu = sum_j x_j"))


def general_start_instance(s: Setup, i: int = 0) -> Proof:
    r"""For explicit m: the true :math:`\partial\ell/\partial x_i` equals the start of :func:`general_proof`
    with m, i substituted and the sum written out (so the general chain starts from the right place)."""
    G = general()
    start = general_proof(G).start
    explicit = start.subs({G.m: s.m, G.i: i + 1}).doit()  # the sum written out
    explicit = explicit.replace(lambda e: isinstance(e, sp.Indexed),
                                lambda e: _indexed_to_symbol(s, e))
    explicit = explicit.xreplace({G.gamma: s.gamma[0], G.eps: s.eps, G.mu: s.mu, G.var: s.var})
    return (calc(true_adjoint(s, s.x[i]), where=s.where([], [n for n in (s.mu, s.var)]),
                 title=f"m = {s.m}: the general chain's starting sum, written out")
            .eq(explicit, rule="derivative", by="differentiate the forward definitions"))


def _indexed_to_symbol(s: Setup, e: sp.Indexed) -> sp.Symbol:
    base, index = e.base.label.name, int(e.indices[0])
    table = {"x": s.x, "g": s.g, "xhat": s.xhat}
    return table[base][index - 1]


def lemma_instances(m: int) -> list[Proof]:
    """The sum lemmas for explicit ``m`` (concrete u_j, v_j, a, b, c), each for the kernel to prove."""
    s = setup("batchnorm", m)
    a, b, c = sp.symbols("a b c", real=True)
    u = [sp.Symbol(f"u_{j}", real=True) for j in range(1, m + 1)]
    v = [sp.Symbol(f"v_{j}", real=True) for j in range(1, m + 1)]
    out = [
        calc(_paper_sum([a * uj + b * vj for uj, vj in zip(u, v)]), title=f"sum-linearity, m = {m}")
        .eq(a * _paper_sum(u) + b * _paper_sum(v), rule="algebra"),
        calc(_paper_sum([sp.KroneckerDelta(1, j) * u[j - 1] for j in range(1, m + 1)]),
             title=f"kronecker-collapse, m = {m}, i = 1").eq(u[0], rule="algebra"),
        calc(_paper_sum([c] * m) if m > 1 else c, title=f"sum-of-constant, m = {m}").eq(m * c, rule="algebra"),
        mean_zero_proof(s).titled(f"centred-sum-zero, m = {m}"),
    ]
    return out


# ---------------------------------------------------------------------------
# numpy code generated from the compact form, and its latexify rendering
# ---------------------------------------------------------------------------

#: How the generated code names the quantities of the general compact form.
_CODE_NAMES = {"g": "g", "xhat": "xhat", "sum_g": "sum_g", "sum_g_xhat": "sum_g_xhat"}
GENERATED_FILENAME = "<symgrad-generated batchnorm_backward>"


def _code_expression() -> str:
    """The compact form of :func:`general_compact` printed by SymPy's NumPy printer, with the two
    sums and the indexed values replaced by array names (the sums run over the batch, axis 0)."""
    from sympy.printing.numpy import NumPyPrinter

    G = general()
    xh = sp.IndexedBase("xhat")
    names = {name: sp.Symbol(name) for name in ("g", "xhat", "sum_g", "sum_g_xhat", "m", "gamma", "eps", "var")}
    expr = general_compact(G, xhat=lambda k: xh[k])
    expr = expr.xreplace({G.total(G.g[G.j]): names["sum_g"], G.total(G.g[G.j] * xh[G.j]): names["sum_g_xhat"],
                          xh[G.i]: names["xhat"]})
    expr = expr.xreplace({G.g[G.i]: names["g"], G.m: names["m"], G.gamma: names["gamma"], G.eps: names["eps"],
                          G.var: names["var"]})
    leftover = expr.atoms(sp.Indexed, sp.Sum)
    if leftover:
        raise UnsupportedError(f"numpy code generation: could not name {leftover} in the compact form")
    return NumPyPrinter().doprint(expr).replace("numpy.", "np.")


def numpy_backward_source() -> str:
    """Python source of ``batchnorm_backward(g, x, gamma, eps) -> dx`` for arrays of shape (m, d)."""
    return (
        "def batchnorm_backward(g, x, gamma, eps):\n"
        "    m = x.shape[0]\n"
        "    mu = np.mean(x, axis=0)\n"
        "    var = np.mean((x - mu) ** 2, axis=0)\n"
        "    xhat = (x - mu) / np.sqrt(var + eps)\n"
        "    sum_g = np.sum(g, axis=0)\n"
        "    sum_g_xhat = np.sum(g * xhat, axis=0)\n"
        f"    return {_code_expression()}\n"
    )


@functools.lru_cache(maxsize=None)
def numpy_backward() -> Callable[..., Any]:
    """The generated function (compiled from :func:`numpy_backward_source`, our own text).

    Its source is registered with :mod:`linecache` so that :mod:`inspect` (and latexify) can read it.
    """
    import linecache

    import numpy as np

    source = numpy_backward_source()
    linecache.cache[GENERATED_FILENAME] = (len(source), None, source.splitlines(True), GENERATED_FILENAME)
    namespace: dict[str, Any] = {"np": np}
    exec(compile(source, GENERATED_FILENAME, "exec"), namespace)  # our generated code, no user text
    return namespace["batchnorm_backward"]


#: Reductions over the batch whose latexify rendering we fix: call name -> (replacement name, LaTeX).
_REDUCTIONS = {"sum": ("batch_sum", r"\sum_{i=1}^{m}"), "mean": ("batch_mean", r"\frac{1}{m} \sum_{i=1}^{m}")}


def _rewrite_reductions(source: str) -> str:
    """``np.sum(E, axis=0)`` / ``np.mean(E, axis=0)`` become ``batch_sum(E)`` / ``batch_mean(E)``.

    latexify-py 0.4 renders ``np.sum(E, axis=0)`` as :math:`\\sum E` (the axis is lost) and does not
    know ``np.mean``; the rewritten calls survive latexify as named functions that
    :func:`latexify_backward` then turns into sums over the batch.
    """
    import ast

    tree = ast.parse(source)

    class Rewrite(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            func = node.func
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "np"
                    and func.attr in _REDUCTIONS):
                axis = [k for k in node.keywords if k.arg == "axis"]
                if len(node.args) != 1 or len(axis) != 1 or not (
                        isinstance(axis[0].value, ast.Constant) and axis[0].value.value == 0):
                    raise UnsupportedError(f"latexify fix: only np.{func.attr}(E, axis=0) is supported")
                return ast.Call(ast.Name(_REDUCTIONS[func.attr][0], ast.Load()), node.args, [])
            return node

    return ast.unparse(ast.fix_missing_locations(Rewrite().visit(tree))) + "\n"


def _replace_calls(latex: str, name: str, prefix: str) -> str:
    r"""Replace ``\mathrm{name} \mathopen{}\left( ARG \mathclose{}\right)`` by ``prefix \left( ARG \right)``."""
    escaped = name.replace("_", "\\_")
    head = rf"\mathrm{{{escaped}}} \mathopen{{}}\left("
    out = latex
    while head in out:
        start = out.index(head)
        pos, depth = start + len(head), 1
        while depth:
            opening, closing = out.find(r"\left(", pos), out.find(r"\right)", pos)
            if closing < 0:
                raise UnsupportedError(f"latexify fix: unbalanced parentheses after {name}")
            if 0 <= opening < closing:
                depth, pos = depth + 1, opening + len(r"\left(")
            else:
                depth, pos = depth - 1, closing + len(r"\right)")
        inner = out[start + len(head):pos - len(r"\right)")]
        inner = inner.removesuffix(r"\mathclose{}").strip()
        out = out[:start] + rf"{prefix} \left( {inner} \right)" + out[pos:]
    return out


def latexify_backward(fix: bool = True) -> str:
    """The latexify-py rendering of the generated function; with ``fix``, sums and means over the batch
    are shown with their index (see :func:`_rewrite_reductions`)."""
    import latexify

    if not fix:
        return str(latexify.get_latex(numpy_backward(), use_math_symbols=True))
    import linecache

    import numpy as np

    source = _rewrite_reductions(numpy_backward_source())
    filename = GENERATED_FILENAME + " (for rendering)"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"np": np}
    exec(compile(source, filename, "exec"), namespace)  # our generated code, no user text
    latex = str(latexify.get_latex(namespace["batchnorm_backward"], use_math_symbols=True))
    for name, prefix in _REDUCTIONS.values():
        latex = _replace_calls(latex, name, prefix)
    return latex.replace(r"x.\mathrm{shape}_{0}", r"\#\mathrm{rows}(x)")


def epsilon_zero_proof(s: Setup, i: int = 0) -> Proof:
    """The compact-form chain with epsilon = 0, under the side condition x_1 > x_2 (so sigma^2 > 0).

    Without epsilon the forward pass divides by sigma, so it is only defined when not all x_j are equal.
    """
    from dataclasses import replace

    if s.m < 2:
        raise InputError("epsilon_zero_proof: needs m >= 2 (with m = 1, sigma^2 = 0 always)")
    proof = compact_proof(s, i)
    return replace(proof, definitions=proof.definitions + ((s.eps, sp.S.Zero),),
                   title=f"epsilon = 0, m = {s.m}: the compact form where sigma^2 > 0").assuming(s.x[0] > s.x[1])
