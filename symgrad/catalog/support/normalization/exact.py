r"""Exact verification at rational points: the symbolic backward forms against the exact gradient.

Every quantity is evaluated with Python fractions at a rational point whose :math:`\epsilon` makes
:math:`\sqrt{\sigma^2 + \epsilon}` rational, so each comparison is exact; the oracle
(:func:`exact_gradient`) differentiates the forward algorithm in reverse mode over the rationals
(checked against forward-mode dual numbers, :func:`exact_gradient_forward`), independent of the
backward formulas and of SymPy. Linear in m. Evidence for one size at some points, not a proof.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from fractions import Fraction
from math import isqrt
from typing import Any, Mapping, Sequence

import sympy as sp

from ....core.errors import InputError, UnsupportedError
from .adjoints import compact_form, compact_sums, paper_equations
from .layers import Setup, setup

__all__ = ["ExactCheck", "verify_exact", "exact_value", "exact_gradient", "rational_point"]


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


class _Tape:
    """Reverse-mode differentiation over the rationals: every value made records its parents and the
    exact partial derivatives with respect to them; one sweep backwards gives every input's derivative."""

    def __init__(self) -> None:
        self.parents: list[tuple[tuple[int, Fraction], ...]] = []

    def record(self, value: Fraction, *parents: tuple["_Rev", Fraction]) -> "_Rev":
        self.parents.append(tuple((p.index, d) for p, d in parents))
        return _Rev(self, len(self.parents) - 1, value)

    def const(self, value: Fraction) -> "_Rev":
        return self.record(Fraction(value))

    def gradient(self, output: "_Rev") -> list[Fraction]:
        """d output / d value, for every value on the tape (linear in the tape's length)."""
        adjoint = [Fraction(0)] * len(self.parents)
        adjoint[output.index] = Fraction(1)
        for k in range(output.index, -1, -1):
            if adjoint[k]:
                for parent, partial in self.parents[k]:
                    adjoint[parent] += adjoint[k] * partial
        return adjoint


@dataclass(frozen=True, eq=False)
class _Rev:
    """A value on a :class:`_Tape` (the same operations as :class:`_Dual`)."""

    tape: _Tape
    index: int
    value: Fraction

    def __add__(self, other: "_Rev") -> "_Rev":
        return self.tape.record(self.value + other.value, (self, Fraction(1)), (other, Fraction(1)))

    def __sub__(self, other: "_Rev") -> "_Rev":
        return self.tape.record(self.value - other.value, (self, Fraction(1)), (other, Fraction(-1)))

    def __mul__(self, other: "_Rev") -> "_Rev":
        return self.tape.record(self.value * other.value, (self, other.value), (other, self.value))

    def __truediv__(self, other: "_Rev") -> "_Rev":
        quotient = self.value / other.value
        return self.tape.record(quotient, (self, 1 / other.value), (other, -quotient / other.value))

    def scaled(self, factor: Fraction) -> "_Rev":
        return self.tape.record(self.value * factor, (self, Fraction(factor)))

    def sqrt(self) -> "_Rev":
        root = _rational_sqrt(self.value, "forward pass")
        return self.tape.record(root, (self, 1 / (2 * root)))


def _forward_loss(kind: str, x: Sequence[Any], g: Sequence[Fraction], gamma: Sequence[Any],
                  beta: Sequence[Any], eps: Fraction, const: Any = _Dual) -> Any:
    """The forward algorithm of ``kind`` and the loss sum_i g_i y_i, in dual numbers (or on a tape:
    ``const`` makes a constant of the number type used)."""
    m = len(x)
    total = x[0]
    for v in x[1:]:
        total = total + v
    mean = total.scaled(Fraction(1, m)) if kind != "rmsnorm" else const(Fraction(0))
    centred = [v - mean for v in x]
    square = centred[0] * centred[0]
    for c in centred[1:]:
        square = square + c * c
    std = (square.scaled(Fraction(1, m)) + const(eps)).sqrt()
    loss = const(Fraction(0))
    for i in range(m):
        y = (gamma[0] if len(gamma) == 1 else gamma[i]) * (centred[i] / std)
        if beta:
            y = y + (beta[0] if len(beta) == 1 else beta[i])
        loss = loss + y.scaled(g[i])
    return loss


def exact_gradient(s: Setup, point: Mapping[sp.Symbol, Fraction]) -> dict[sp.Symbol, Fraction]:
    """The exact derivative of the loss with respect to each x_i, gamma and beta at ``point``,
    by reverse-mode differentiation of the forward algorithm: one forward pass on a tape and one sweep
    back, linear in m (an oracle independent of the backward formulas and of SymPy)."""
    tape = _Tape()
    inputs = {v: tape.const(Fraction(point[v])) for v in (*s.x, *s.gamma, *s.beta)}
    loss = _forward_loss(s.kind, [inputs[v] for v in s.x], [Fraction(point[v]) for v in s.g],
                         [inputs[v] for v in s.gamma], [inputs[v] for v in s.beta], Fraction(point[s.eps]),
                         tape.const)
    adjoint = tape.gradient(loss)
    return {v: adjoint[node.index] for v, node in inputs.items()}


def exact_gradient_forward(s: Setup, point: Mapping[sp.Symbol, Fraction]) -> dict[sp.Symbol, Fraction]:
    """:func:`exact_gradient` by forward-mode dual numbers, one pass per input (quadratic in m): the
    second, independent oracle the reverse pass is tested against."""
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
        sums = compact_sums(s)  # evaluated once (memo), shared by every i: linear in m
        for i, xi in enumerate(s.x):
            comparisons += 1
            got = exact_value(compact_form(s, i, sums), nodes, memo)
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
