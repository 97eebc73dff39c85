"""Identities in one real variable, proved by a zero derivative and one exact value.

Law: if ``f`` is differentiable on an interval ``I`` and ``f' = 0`` there, ``f`` is
constant on ``I`` (the mean value theorem); if moreover ``f(p) = 0`` at one point ``p``
of ``I``, then ``f = 0`` on ``I``.

``decide_zero(expr, domain)`` applies it to ``expr`` (the difference of the two sides)
when the domain is one real variable in one interval (connected, no side conditions):

1. ``expr`` is differentiable on the interval: it is built from ``+``, ``*``, constants,
   and functions differentiable everywhere (exp, sin, cos, atan, tanh, sinh, cosh,
   asinh, erf, sigmoid), with every divisor shown nonzero, every root's and every
   logarithm's argument shown positive on the interval by real algebra (z3);
2. the derivative is zero: by rational simplification, else by real algebra;
3. the value at a rational point of the interval is exactly zero (SymPy's automatic
   evaluation of constants such as ``atan(1) = pi/4``).

Anything else is "not applicable" (None), never a guess.
"""

from __future__ import annotations

import time

import sympy as sp

from . import real_algebra
from .domain import Domain
from .functions import sigmoid
from .real_algebra import Decision

__all__ = ["decide_zero"]

#: Functions differentiable at every real argument.
_SMOOTH: tuple[type, ...] = (sp.exp, sp.sin, sp.cos, sp.atan, sp.tanh, sp.sinh, sp.cosh, sp.asinh, sp.erf,
                             sigmoid)


class _NotApplicable(Exception):
    pass


def _side_conditions(expr: sp.Expr, x: sp.Symbol, out: list[sp.Expr]) -> None:
    """Collect ``c`` that must be > 0 on the interval for ``expr`` to be differentiable there."""
    if not expr.has(x):
        if not (expr.is_number and expr.is_extended_real and expr.is_finite):
            raise _NotApplicable
        return
    if expr == x:
        return
    if isinstance(expr, (sp.Add, sp.Mul)):
        for arg in expr.args:
            _side_conditions(arg, x, out)
        return
    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        if exponent.has(x) or not exponent.is_Rational:
            out.append(base)  # b**e = exp(e log b): b > 0
            _side_conditions(exponent, x, out)
        elif exponent.is_Integer and exponent.is_negative:
            out.append(base**2)  # a divisor: b != 0
        elif not exponent.is_Integer:
            out.append(base)  # a root: differentiable where b > 0
        _side_conditions(base, x, out)
        return
    if isinstance(expr, sp.log):
        out.append(expr.args[0])
        _side_conditions(expr.args[0], x, out)
        return
    if isinstance(expr, _SMOOTH) and len(expr.args) == 1:
        _side_conditions(expr.args[0], x, out)
        return
    raise _NotApplicable


def _rational_points(domain: Domain, x: sp.Symbol) -> list[sp.Rational]:
    interval = domain.intervals[x]
    lo, hi = interval.lo, interval.hi
    candidates: list[sp.Expr] = [sp.S.One, sp.S.Zero, -sp.S.One]
    if lo.is_finite:
        candidates.append(lo + 1)
    if hi.is_finite:
        candidates.append(hi - 1)
    if lo.is_finite and hi.is_finite:
        candidates.append((lo + hi) / 2)
    return [p for p in candidates if p.is_Rational and interval.contains(p)]


def decide_zero(expr: sp.Expr, domain: Domain, *, seconds: float = 2.0, rlimit: int = 2_000_000) -> Decision | None:
    """Prove ``expr = 0`` on the domain by a zero derivative and one exact zero; None otherwise."""
    started = time.perf_counter()

    def left() -> float:
        return seconds - (time.perf_counter() - started)

    symbols = expr.free_symbols
    if len(symbols) != 1 or domain.filters:
        return None
    (declared,) = symbols
    interval = domain.intervals.get(declared)
    if not isinstance(declared, sp.Symbol) or declared.is_real is not True or interval is None or interval.integer:
        return None
    # The law needs the whole interval: a plain real variable on it, so that no declared assumption
    # (nonzero: a hole at 0) is used to show the difference differentiable where the domain has a hole.
    x = sp.Dummy(declared.name, real=True)
    expr = expr.xreplace({declared: x})
    bounds = []
    if interval.lo.is_finite:
        bounds.append(x > interval.lo if interval.lo_open else x >= interval.lo)
    if interval.hi.is_finite:
        bounds.append(x < interval.hi if interval.hi_open else x <= interval.hi)
    domain = Domain.build({x}, bounds)
    interval = domain.intervals[x]
    conditions: list[sp.Expr] = []
    try:
        _side_conditions(expr, x, conditions)
    except _NotApplicable:
        return None
    for condition in dict.fromkeys(conditions):
        if left() <= 0.05:
            return None
        shown = real_algebra.decide_sign(condition, domain, True, rlimit=rlimit, seconds=left() / 2)
        if shown is None or not shown.proved or "where the expression is defined" in shown.method:
            return None
    derivative = sp.diff(expr, x)
    how = "rational simplification"
    if sp.cancel(sp.together(derivative)) != 0:
        if left() <= 0.05:
            return None
        zero = real_algebra.decide_zero(derivative, domain, rlimit=rlimit, seconds=left() / 2)
        if zero is None or not zero.proved or "where the expression is defined" in zero.method:
            return None
        how = zero.method
    for point in _rational_points(domain, x):
        value = expr.subs(x, point)
        if value == 0 or sp.simplify(value) == 0:
            conditions_text = ", ".join(f"{c} > 0" for c in dict.fromkeys(conditions))
            where = f" (differentiable there: {conditions_text})" if conditions_text else ""
            return Decision(True, f"constant by its derivative: d/d{x} of the difference is 0 by {how} on "
                                  f"{interval.describe(str(x))}{where}, and the difference is 0 at {x} = {point}"
                            .replace(str(x), declared.name))
    return None
