"""Inequalities in one integer parameter, decided by induction with real algebra for the step.

``decide_sign(expr, domain, strict)`` decides ``expr(n) >= 0`` (``> 0``) for every
integer ``n >= n0`` of the domain, where ``expr`` is built from ``n`` and *sequence
atoms* whose value at ``n + 1`` is a law in their value at ``n``:

* ``(n + c)!``: ``(n + c + 1)! = (n + c + 1) (n + c)!``, and ``(n + c)! >= 1``;
* ``b**(a n + d)`` (``b > 0`` rational, ``a`` integer): ``b**(a (n + 1) + d) = b**a b**(a n + d) > 0``;
* ``H_{n+c}^{(r)}`` (SymPy's ``harmonic``): ``H_{u+1}^{(r)} = H_u^{(r)} + 1/(u + 1)**r``;
* ``Sum(f(k), (k, a, n + c))`` and ``Product(f(k), (k, a, n + c))`` with ``f`` free of ``n``:
  the next term added (multiplied).

Law (induction): if ``P(v)`` holds for ``v = n0, ..., n1`` and ``P(n)`` implies
``P(n + 1)`` for every integer ``n >= n1``, then ``P(n)`` holds for every integer
``n >= n0``. The base cases are evaluated exactly. For the step each atom becomes a
fresh real variable ``F`` with its true facts, ``n`` becomes a real ``m >= n1`` (a
weaker hypothesis than "integer", so the step proved over the reals holds over the
integers), ``P(n)`` (the claim at ``m``) is a hypothesis, and the claim at ``m + 1``,
written through the atoms' laws, goes to :func:`real_algebra.decide_sign`: its
negation unsatisfiable proves the step. The split point ``n1`` is tried at
``n0, n0 + 1, n0 + 3, ..., n0 + 63`` (a false base case is an exact counterexample).
Everything is bounded by counts (the base cases, z3's resource limit); the time is a
safety net only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sympy as sp

from . import real_algebra
from .domain import Domain
from .real_algebra import Decision

__all__ = ["decide_sign"]

#: Offsets from the first integer at which the step is attempted (base cases up to there).
_SPLITS = (0, 1, 3, 7, 15, 31, 63)
#: Induction starts no later than this: the base cases are evaluated exactly.
_MAX_START = 1000
#: Largest |a| in an atom b**(a n + d), and most terms of a sum or product (or the largest
#: factorial) a base case may evaluate exactly: beyond, the procedure does not apply.
_MAX_SLOPE = 64
_MAX_TERMS = 2000


@dataclass(frozen=True)
class _Atom:
    """A sequence atom: its value at ``n + 1`` from its value ``F`` at ``n``, and its facts."""

    variable: sp.Dummy
    successor: sp.Expr          # in n and variable
    facts: tuple[sp.Basic, ...]  # true of variable for every integer n >= first
    first: int                  # the smallest n for which successor and facts are laws


def _shift(u: sp.Expr, n: sp.Symbol) -> int | None:
    """``c`` when ``u = n + c`` with an integer ``c``, else None."""
    c = sp.expand(u - n)
    return int(c) if c.is_Integer else None


def _atom(e: sp.Basic, n: sp.Symbol, index: int) -> _Atom | None | bool:
    """The atom ``e`` stands for; False when ``e`` is not an atom (look inside); None: unsupported."""
    F = sp.Dummy(f"F{index}", real=True)
    if isinstance(e, sp.factorial):
        c = _shift(e.args[0], n)
        if c is None:
            return None
        return _Atom(F, (n + c + 1) * F, (F >= 1,), -c)
    if isinstance(e, sp.Pow) and e.exp.has(n) and not e.base.has(n):
        if not (e.base.is_Rational and e.base.is_positive):
            return None
        slope = sp.expand(e.exp).coeff(n)
        rest = sp.expand(e.exp - slope * n)
        if not (slope.is_Integer and rest.is_Rational) or rest.has(n) or abs(int(slope)) > _MAX_SLOPE:
            return None
        return _Atom(F, e.base**slope * F, (F > 0,), -(10**9))
    if isinstance(e, sp.harmonic):
        c = _shift(e.args[0], n)
        order = e.args[1] if len(e.args) > 1 else sp.S.One
        if c is None or not (order.is_Integer and order.is_positive):
            return None
        return _Atom(F, F + 1 / (n + c + 1) ** order, (F >= 1,), 1 - c)
    if isinstance(e, (sp.Sum, sp.Product)):
        if len(e.limits) != 1:
            return None
        k, low, high = e.limits[0]
        c = _shift(high, n)
        if c is None or not low.is_Integer or e.function.has(n):
            return None
        term = e.function.subs(k, n + c + 1)
        positive = bool(e.function.subs(k, low + sp.Dummy("j", integer=True, nonnegative=True)).is_positive)
        if isinstance(e, sp.Sum):  # a sum of positive terms is positive once it has one term
            return _Atom(F, F + term, (F > 0,) if positive else (), int(low) - c - (0 if positive else 1))
        return _Atom(F, F * term, (F > 0,) if positive else (), int(low) - 1 - c)
    return False


def _abstract(expr: sp.Expr, n: sp.Symbol) -> tuple[sp.Expr, dict[sp.Basic, _Atom]] | None:
    """``expr`` with every sequence atom replaced by its variable, and the atoms; None if unsupported."""
    atoms: dict[sp.Basic, _Atom] = {}

    def visit(e: sp.Basic) -> bool:
        if not e.has(n):
            return True
        if e == n:
            return True
        found = _atom(e, n, len(atoms))
        if found is None:
            return False
        if found is not False:
            atoms.setdefault(e, found)
            return True
        return all(visit(arg) for arg in e.args)

    if not visit(expr):
        return None
    return expr.xreplace({e: a.variable for e, a in atoms.items()}), atoms


def _too_big(expr: sp.Expr, n: sp.Symbol, v: int) -> bool:
    """Whether evaluating ``expr`` at ``n = v`` exactly means too many terms or too large a factorial."""
    for atom in expr.atoms(sp.Sum, sp.Product):
        for _, low, high in atom.limits:
            count = (high - low).subs(n, v)
            if not count.is_Integer or abs(int(count)) > _MAX_TERMS:
                return True
    return any(not (a.args[0].subs(n, v).is_Integer and abs(int(a.args[0].subs(n, v))) <= _MAX_TERMS)
               for a in expr.atoms(sp.factorial, sp.harmonic) if a.has(n))


def _exact_sign_fails(expr: sp.Expr, n: sp.Symbol, v: int, strict: bool) -> bool | None:
    """Whether ``P(v)`` fails, by exact evaluation; None when the value is not an exact rational."""
    if _too_big(expr, n, v):
        return None
    value = expr.subs(n, v).doit()
    if not value.is_Rational:
        return None
    return bool(value < 0 or (strict and value == 0))


def decide_sign(expr: sp.Expr, domain: Domain, strict: bool, *, seconds: float = 2.0,
                rlimit: int = 2_000_000) -> Decision | None:
    """Decide ``expr >= 0`` (strict: ``> 0``) for every integer of the domain by induction.

    None when the claim is not about one integer parameter bounded below, an atom is not
    one of the supported sequences, a base case cannot be evaluated exactly, or no step
    was proved within the counts.
    """
    started = time.perf_counter()
    symbols = expr.free_symbols
    if len(symbols) != 1 or domain.filters:
        return None
    (n,) = symbols
    interval = domain.intervals.get(n)
    if not isinstance(n, sp.Symbol) or interval is None or not interval.integer or not interval.lo.is_finite:
        return None
    if interval.hi.is_finite:
        return None  # finitely many integers: sampling and exact evaluation see them all
    first = int(sp.floor(interval.lo)) + 1 if (interval.lo_open or not interval.lo.is_Integer) \
        else int(interval.lo)
    if first > _MAX_START:
        return None
    abstracted = _abstract(expr, n)
    if abstracted is None:
        return None
    claim, atoms = abstracted
    if not atoms:
        return None  # a polynomial or rational claim: real algebra decides it directly
    m = sp.Dummy("m", real=True)
    at_m = claim.xreplace({n: m})
    successor = claim.xreplace({n: n + 1}).xreplace({a.variable: a.successor for a in atoms.values()})
    at_next = successor.xreplace({n: m})
    hypothesis = at_m > 0 if strict else at_m >= 0
    start = max(first, *(a.first for a in atoms.values()))
    if start - first > _MAX_START:
        return None
    checked = first - 1
    for offset in _SPLITS:
        split = start + offset
        for v in range(checked + 1, split + 1):
            if time.perf_counter() - started > seconds:
                return None
            fails = _exact_sign_fails(expr, n, v, strict)
            if fails is None:
                return None
            if fails:
                if not domain.satisfied({n: sp.Integer(v)}):
                    return None  # a hole of the domain (n != 0, n even): the chain of cases breaks here
                return Decision(False, f"induction: the base case {n} = {v} fails by exact evaluation",
                                {n: sp.Integer(v)})
        checked = split
        left = seconds - (time.perf_counter() - started)
        if left <= 0.05:
            return None
        facts = [f for a in atoms.values() for f in a.facts]
        step_domain = Domain.build({m, *(a.variable for a in atoms.values())}, [m >= split, hypothesis, *facts])
        step = real_algebra.decide_sign(at_next, step_domain, strict, rlimit=rlimit, seconds=left / 2)
        if step is not None and step.proved and "where the expression is defined" not in step.method:
            bases = f"{n} = {first}" if split == first else f"{n} = {first}, ..., {split}"
            return Decision(True, f"induction on {n}: base cases {bases} by exact evaluation; the step "
                                  f"from {n} to {n} + 1 for {n} >= {split} by {step.method}")
    return None
