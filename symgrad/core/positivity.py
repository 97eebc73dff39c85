"""Symbolic procedures that show an expression is non-negative (or positive).

Each procedure is sound: it answers with the name of the argument it used, or
``None`` when it cannot decide. Nothing here samples points. The kernel uses
them to prove ``lhs <= rhs`` by showing ``rhs - lhs >= 0`` on the domain.

Procedures, cheapest first:

1. SymPy's assumption system on the expression (squares of reals, sums and
   products of non-negative terms, ``exp`` of a real, ...).
2. Atom abstraction: an atom with a known range (``sigmoid`` in (0, 1),
   ``tanh`` in (-1, 1), ``exp`` in (0, oo) for real arguments) becomes a fresh
   variable with that range. A claim proved for every value of the fresh
   variable holds for the atom.
3. Interval reparametrisation: a variable ``t`` in ``(a, b)`` becomes
   ``(a + b u)/(1 + u)`` with ``u > 0``; in ``(a, oo)`` it becomes ``a + u``.
   The claim is then about positive variables, where 2. and 4. apply.
4. For a rational function of one variable: square-free factorisation of
   numerator and denominator; every factor of odd multiplicity must have no
   real root inside the interval (checked with exact real roots), and the
   sign at one interior point decides the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from . import intervals
from .budget import Deadline, OutOfTime
from .domain import Domain, Interval
from .functions import sigmoid

__all__ = ["AtomRange", "ATOM_RANGES", "prove_nonnegative"]


@dataclass(frozen=True)
class AtomRange:
    """The range of ``func(arg)`` for real ``arg``, by the sign of ``arg``.

    ``anywhere`` holds for every real argument; ``positive``/``negative`` are
    the (narrower) ranges for a positive/negative argument, from monotonicity.
    """

    func: type
    law: str
    anywhere: Interval
    positive: Interval
    negative: Interval


def _open(lo: sp.Expr, hi: sp.Expr) -> Interval:
    return Interval(sp.sympify(lo), sp.sympify(hi), True, True)


ATOM_RANGES: list[AtomRange] = [
    AtomRange(sigmoid, "0 < sigmoid(x) < 1, increasing, sigmoid(0) = 1/2",
              _open(0, 1), _open(sp.S.Half, 1), _open(0, sp.S.Half)),
    AtomRange(sp.tanh, "-1 < tanh(x) < 1, increasing, tanh(0) = 0", _open(-1, 1), _open(0, 1), _open(-1, 0)),
    AtomRange(sp.exp, "exp(x) > 0, increasing, exp(0) = 1",
              _open(0, sp.oo), _open(1, sp.oo), _open(0, 1)),
    AtomRange(sp.erf, "-1 < erf(x) < 1, increasing, erf(0) = 0", _open(-1, 1), _open(0, 1), _open(-1, 0)),
]


def _sign_of(arg: sp.Expr, intervals: dict[sp.Symbol, Interval]) -> int:
    """+1 / -1 when ``arg`` is known positive / negative (assumptions or bounds), else 0."""
    if arg.is_positive:
        return 1
    if arg.is_negative:
        return -1
    if arg.is_Symbol and arg in intervals:
        iv = intervals[arg]
        if iv.lo.is_finite and (iv.lo > 0 or (iv.lo == 0 and iv.lo_open)):
            return 1
        if iv.hi.is_finite and (iv.hi < 0 or (iv.hi == 0 and iv.hi_open)):
            return -1
    return 0


def _decided(expr: sp.Expr, strict: bool) -> bool:
    """Whether SymPy's assumptions show ``expr > 0`` (``>= 0``), closed numbers decided in balls.

    SymPy decides the sign of a closed number by evalf, which is wrong for logarithms of numbers
    within about 1e-60 of 1 (``log(1 + 10**-100)`` evaluates to exactly 0): such numbers are
    decided by ball arithmetic (:func:`.intervals.number_sign`), alone or as the constant term or
    factor of a larger expression, which then sees only their certain sign.
    """
    if _has_closed_log(expr):
        if not expr.free_symbols:
            sign = intervals.number_sign(expr)
            return sign == 1 or (not strict and sign is None and expr == 0)
        expr = _constants_by_sign(expr)
    value = expr.is_positive if strict else expr.is_nonnegative
    return value is True


def _has_closed_log(expr: sp.Expr) -> bool:
    return any(not atom.free_symbols for atom in expr.atoms(sp.log))


def _constants_by_sign(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the closed-number part of each sum and product that holds a logarithm replaced
    by a fresh symbol of its certain sign (a real symbol when the sign is not certain)."""
    def by_sign(number: sp.Expr) -> sp.Expr:
        sign = intervals.number_sign(number)
        return sp.Dummy("c", positive=True) if sign == 1 else sp.Dummy("c", negative=True) if sign == -1 \
            else sp.Dummy("c", real=True)

    def rebuilt(node: sp.Basic) -> sp.Basic:
        if not node.args or not node.free_symbols:
            return by_sign(node) if node.free_symbols == set() and _has_closed_log(node) else node
        args = [rebuilt(a) if a.free_symbols else a for a in node.args]
        if isinstance(node, (sp.Add, sp.Mul)):
            closed = [a for a in args if not a.free_symbols]
            if closed and any(_has_closed_log(a) for a in closed):
                rest = [a for a in args if a.free_symbols]
                return node.func(by_sign(node.func(*closed)), *rest)
        else:
            args = [by_sign(a) if not a.free_symbols and _has_closed_log(a) else a for a in args]
        return node.func(*args)

    return rebuilt(expr)


def _abstract_atoms(expr: sp.Expr, bounds: dict[sp.Symbol, Interval]
                    ) -> tuple[sp.Expr, dict[sp.Symbol, Interval], list[str]]:
    """Replace range-known atoms with fresh real variables."""
    replacements: dict[sp.Expr, sp.Symbol] = {}
    intervals: dict[sp.Symbol, Interval] = {}
    laws: list[str] = []
    for known in ATOM_RANGES:
        for atom in sorted(expr.atoms(known.func), key=sp.default_sort_key):
            if atom.args and atom.args[0].is_extended_real and atom not in replacements:
                fresh = sp.Dummy(f"a{len(replacements)}", real=True)
                replacements[atom] = fresh
                sign = _sign_of(atom.args[0], bounds)
                intervals[fresh] = known.positive if sign > 0 else known.negative if sign < 0 else known.anywhere
                if known.law not in laws:
                    laws.append(known.law)
    if not replacements:
        return expr, {}, []
    return expr.xreplace(replacements), intervals, laws


def _reparametrise(expr: sp.Expr, intervals: dict[sp.Symbol, Interval]
                   ) -> list[tuple[sp.Expr, dict[sp.Symbol, Interval]]]:
    """Map bounded variables onto non-negative ones; every returned case must hold.

    ``t`` in ``(a, b]`` is ``(b + a u)/(1 + u)`` with ``u >= 0``; in ``[a, b)``
    it is ``(a + b u)/(1 + u)``; a closed ``[a, b]`` is covered by both cases;
    ``t >= a`` is ``a + u`` and ``t <= b`` is ``b - u``.
    """
    cases: list[tuple[sp.Expr, dict[sp.Symbol, Interval]]] = [(expr, {})]
    for v, iv in intervals.items():
        if v not in expr.free_symbols:
            continue
        lo_fin, hi_fin = iv.lo.is_finite, iv.hi.is_finite
        if iv.integer or (not lo_fin and not hi_fin):
            cases = [(e, {**ivs, v: iv}) for e, ivs in cases]
            continue
        subs: list[tuple[sp.Expr, bool]] = []  # (replacement in u, u may be 0)
        if lo_fin and hi_fin:
            if iv.lo_open and iv.hi_open:
                subs.append(((iv.lo + iv.hi * _U) / (1 + _U), False))
            if not iv.lo_open:
                subs.append(((iv.lo + iv.hi * _U) / (1 + _U), True))
            if not iv.hi_open:
                subs.append(((iv.hi + iv.lo * _U) / (1 + _U), True))
        elif lo_fin:
            subs.append((iv.lo + _U, not iv.lo_open))
        else:
            subs.append((iv.hi - _U, not iv.hi_open))
        new_cases = []
        for e, ivs in cases:
            for replacement, closed in subs:
                u = sp.Dummy("u", nonnegative=True) if closed else sp.Dummy("u", positive=True)
                new_cases.append((e.xreplace({v: replacement.xreplace({_U: u})}),
                                  {**ivs, u: Interval(sp.S.Zero, sp.S.Infinity, not closed, True)}))
        cases = new_cases
        if len(cases) > 8:
            return []
    return cases


_U = sp.Dummy("u")


def _interior_point(iv: Interval) -> sp.Expr:
    if iv.lo.is_finite and iv.hi.is_finite:
        return (iv.lo + iv.hi) / 2
    if iv.lo.is_finite:
        return iv.lo + 1
    if iv.hi.is_finite:
        return iv.hi - 1
    return sp.S.Zero


def _root_in(root: sp.Expr, iv: Interval, closed: bool) -> bool:
    lo_ok = (not iv.lo.is_finite) or root > iv.lo or (closed and not iv.lo_open and root == iv.lo)
    hi_ok = (not iv.hi.is_finite) or root < iv.hi or (closed and not iv.hi_open and root == iv.hi)
    return bool(lo_ok and hi_ok)


def _univariate(expr: sp.Expr, v: sp.Symbol, iv: Interval, strict: bool) -> bool:
    """Decide ``expr >= 0`` (or ``> 0``) on ``iv`` for a rational function of ``v``."""
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    if not (num.is_polynomial(v) and den.is_polynomial(v)):
        return False
    sign = sp.S.One
    at = _interior_point(iv)
    for part, is_den in ((num, False), (den, True)):
        poly = sp.Poly(part, v)
        if not poly.domain.is_Exact or not (poly.domain.is_ZZ or poly.domain.is_QQ):
            return False
        coeff, factors = sp.sqf_list(poly)
        sign *= sp.sign(coeff)
        for factor, multiplicity in factors:
            roots = sp.real_roots(factor)
            odd = multiplicity % 2 == 1
            if is_den or strict:
                # a pole, or a zero where positivity is claimed, anywhere in the interval
                if any(_root_in(r, iv, closed=True) for r in roots):
                    return False
            if odd:
                if any(_root_in(r, iv, closed=False) for r in roots):
                    return False
                value = factor.as_expr().xreplace({v: at})
                if value == 0:  # pragma: no cover - excluded by the root test
                    return False
                sign *= sp.sign(value)
    return bool(sign > 0)


def prove_nonnegative(expr: sp.Expr, domain: Domain, strict: bool, deadline: Deadline) -> str | None:
    """Return how ``expr >= 0`` (``> 0`` if strict) was shown on ``domain``, else None.

    Raises :class:`~symgrad.budget.OutOfTime` when the deadline passes.
    """
    want = "> 0" if strict else ">= 0"

    def attempt(fn: Callable[[], bool]) -> bool:
        return bool(deadline.run(fn))

    # 0. A constant: SymPy decides the sign of numbers with certified evaluation.
    #    (A Float is an exact binary number: its sign is decided as it is, never rounded.)
    if not expr.free_symbols:
        value = expr
        if attempt(lambda: _decided(value, strict)):
            return f"sign of a constant: rhs - lhs {want}"
        return None

    # 1. The symbols' own assumptions. Side conditions only shrink the domain,
    #    so a sign shown without them holds with them.
    if attempt(lambda: _decided(expr, strict)):
        return f"SymPy's assumptions: rhs - lhs {want}"
    factored = deadline.run(lambda: sp.factor(sp.together(expr)))
    if attempt(lambda: _decided(factored, strict)):
        return f"factoring and SymPy's assumptions: rhs - lhs {want}"

    # 2. + 3. Abstract atoms with known ranges, then reparametrise bounded
    #    variables. Filters (conditions that are not bounds) are not used:
    #    a sign shown on the larger domain holds on the smaller one.
    free_intervals = {s: iv for s, iv in domain.intervals.items() if s in expr.free_symbols}
    abstracted, atom_intervals, laws = deadline.run(lambda: _abstract_atoms(expr, domain.intervals))
    intervals = {**free_intervals, **atom_intervals}
    cases = deadline.run(lambda: _reparametrise(abstracted, intervals))
    if not cases:
        return None
    how = "; ".join(laws)
    mapped = any(e != abstracted for e, _ in cases)
    prefix = (f"using {how}; " if how else "") + ("bounded variables mapped to positive ones; " if mapped else "")
    methods = [_prove_case(e, ivs, strict, want, deadline) for e, ivs in cases]
    if all(methods):
        return prefix + " and ".join(sorted(set(m for m in methods if m)))
    return None


def _prove_case(expr: sp.Expr, intervals: dict[sp.Symbol, Interval], strict: bool, want: str,
                deadline: Deadline) -> str | None:
    def attempt(fn: Callable[[], bool]) -> bool:
        return bool(deadline.run(fn))

    for label, candidate in (
        ("SymPy's assumptions", lambda: expr),
        ("factoring and SymPy's assumptions", lambda: sp.factor(sp.together(expr))),
        ("expanding the numerator and SymPy's assumptions", lambda: _expanded_fraction(expr)),
    ):
        value = deadline.run(candidate)
        if attempt(lambda: _decided(value, strict)):
            return f"{label}: rhs - lhs {want}"

    # 4. One variable: exact real roots of the square-free factors.
    symbols = sorted(expr.free_symbols, key=str)
    if len(symbols) == 1:
        (v,) = symbols
        iv = intervals.get(v, Interval())
        if attempt(lambda: _univariate(expr, v, iv, strict)):
            return f"exact real roots of the square-free factors: rhs - lhs {want}"

    # 5. Last resort: simplify, then the assumption system again.
    simplified = deadline.run(lambda: sp.simplify(expr))
    if attempt(lambda: _decided(simplified, strict)):
        return f"simplify and SymPy's assumptions: rhs - lhs {want}"
    return None


def _expanded_fraction(expr: sp.Expr) -> sp.Expr:
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    return sp.expand(num) / sp.factor(den)


__all__ += ["OutOfTime"]
