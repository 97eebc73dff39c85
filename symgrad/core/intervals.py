r"""Rigorous interval arithmetic (python-flint's ``arb`` balls) deciding ``expr >= 0`` on a box.

:func:`decide_sign` answers ``proved`` (naming the argument), ``refuted`` (with an exact
rational counterexample) or ``None`` (not applicable, or not decided within ``max_boxes``).

What is rigorous, and why
-------------------------
* **Numbers.** Every real number is an arb ball ``[m +/- r]`` that Arb guarantees to
  contain the exact value. Rationals enter exactly; a SymPy Float is replaced up front by
  the exact binary rational it is (so no later SymPy step rounds); pi, e and function
  values are balls. Precision is 53 bits, raised per box (up to 1024) where the sign at
  the box's test point cannot be read.
* **Enclosures.** An :class:`Enclosure` is ``[lo, hi]`` with exact arb ends (possibly
  infinite), each flagged *open* when that value is certainly not attained. The
  evaluator walks the SymPy tree (compiled once into a tape; no strings, no ``sympify``)
  and returns an enclosure of ``{expr(p) : p in box}``, or ``None`` when the expression
  may be undefined somewhere on the box (a denominator interval containing 0, ``log`` or
  a fractional power of a possibly non-positive argument). Monotone functions are
  evaluated at their ends (balls, rounded outward), at infinite ends by their limits
  (``exp(-oo) = 0``, ``sigmoid(+oo) = 1``) and clamped to their never-attained range
  bounds (``0 < sigmoid < 1``, ``|tanh| < 1``). Products of ends use ``0 * oo = 0``,
  exact for sets of reals. ``sin``/``cos`` take +-1 whenever an extremum may lie inside.
* **Indeterminate forms** (``0 * oo`` in a product, ``oo - oo`` in a sum) of a
  sub-expression ``g`` of one variable ``v`` are refined by monotonicity: when the
  enclosure of ``dg/dv`` has one sign on the box, ``g`` lies between its plain enclosure
  and its values at the finite ends of ``v``'s interval (``x exp(-x) <= 3 exp(-3)`` on
  ``x >= 3``). This is what closes tails.
* **Branch and bound.** A box is closed when one of these enclosures is ``>= 0``
  (``> 0`` if strict): (1) the plain one; (2) monotonicity (``dF/dv`` of one sign: the
  box shrinks to a face); (3) the mean-value form ``F(m) + sum dF/dv(X) (X - m)``;
  (4) in one variable, concavity (``F'' <= 0``: the minimum is at an end) or convexity
  (``F'' >= 0``: ``F(x) >= F(c) + F'(c)(x - c)`` for ``c`` in the box, with ``c`` put at
  the minimum by Newton's method at 128-1024 bits). ``F`` itself is also enclosed through
  equal forms (SymPy's ``factor``; ``log(1 + e^u) = u + log(1 + e^-u)``), intersected with
  its own enclosure, which must be defined. Derivatives are SymPy's formal ones;
  they are the true derivatives wherever their enclosure is defined, because the only
  non-smooth primitives (``Abs``, ``Max``, ``Min``) differentiate to ``sign`` or
  ``Heaviside``, which the evaluator rejects, and ``t**(p/q)`` is one-sided
  differentiable at 0 exactly when its formal derivative is defined there. A factored
  form of a derivative is only intersected with the formal one (equal where both are
  defined). Unbounded variables are split geometrically (``[R, oo)`` into ``[R, 2R+1]``
  and ``[2R+1, oo)``), up to ``|R| = 2**256``.
* **Tight minima.** A minimum equal to 0 (``exp(x) >= 1 + x`` at 0, GELU' at
  ``sqrt(2)``) cannot be closed by balls alone. Exact candidates near Newton's root are
  tried too: a short rational convergent, or SymPy's ``nsimplify`` (``sqrt(2)``).
  ``F(c) = 0`` and ``F'(c) = 0`` are accepted only when SymPy's own evaluation at ``c``
  gives the integer 0 (no Floats involved; the trust the kernel gives SymPy), and then
  the tangent bound is exactly ``F >= 0``. Heuristics only *propose* points.
* **Counterexamples** are exact rational points of the domain (bounds, symbol
  assumptions and side conditions certified) where the ball of ``expr`` is certainly
  ``< 0``, or, for a strict claim, where SymPy evaluates ``expr`` to exactly 0.

Evidence is bounded by counts (boxes, Newton steps, precisions), so the answer does not
depend on machine load; ``seconds`` is a safety net that returns ``None``. Python-flint's
working precision is process-global: it is set and restored around each use.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence, TypeVar, cast

import mpmath
import sympy as sp
from flint import arb, ctx, fmpq

from .budget import Deadline, OutOfTime, run_within
from .domain import Domain
from .functions import sigmoid

__all__ = ["Decision", "Enclosure", "PointValues", "decide_sign", "enclose", "finite_value", "midpoint_float",
           "point_values",
           "within_of_zero", "BASE_PREC", "MAX_PREC"]

T = TypeVar("T")
#: Runs a SymPy computation under the safety net (or directly).
SympyCall = Callable[[Callable[[], Any]], Any]

#: Working precision (bits) of the branch and bound; raised per box up to MAX_PREC.
BASE_PREC = 53
MAX_PREC = 1024
#: Precisions of the tight-minimum step (Newton's method and the tangent bound).
TIGHT_PRECS = (128, 256, 512, 1024)
#: Refinement depth for indeterminate forms (derivatives of derivatives) in F, and in F' and F''.
REFINE_DEPTH = 2
DERIVATIVE_REFINE_DEPTH = 1
#: Sub-expressions larger than this (tree nodes) are not refined; derivatives larger are not factored.
REFINE_SIZE = 120
FACTOR_SIZE = 150
NEWTON_STEPS = 60
#: At most this many exact evaluations by SymPy at candidate minimisers per decision.
EXACT_CHECKS = 40
#: Boxes per decision: a count, so the answer does not depend on the machine's load (the proofs seen
#: need tens; a claim still open after this many is left to the other procedures and sampling).
MAX_BOXES = 1500
#: At most this many minimisers per decision are identified as algebraic numbers (PSLQ, ~16 ms each).
ALGEBRAIC_GUESSES = 8
#: Tails are not split beyond |x| >= 2**256 (an undecided tail there leaves the claim undecided).
TAIL_LIMIT = 2**256

_ZERO = arb(0)
_ONE = arb(1)
_POS_INF = arb.pos_inf()
_NEG_INF = arb.neg_inf()


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Decision:
    """``proved``: ``expr >= 0`` (``> 0``) holds on the domain; else ``counterexample`` is
    an exact rational point of the domain where it fails."""

    proved: bool
    method: str
    counterexample: dict[sp.Symbol, sp.Expr] | None = None


class _Unsupported(Exception):
    """The expression uses something the evaluator does not enclose."""


class _GiveUp(Exception):
    """Undecidable by this procedure (e.g. a strict claim that fails only at an irrational point)."""


class _Precision:
    """Set python-flint's (global) working precision, restoring it on exit."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.saved = 0

    def __enter__(self) -> None:
        self.saved = ctx.prec
        ctx.prec = self.bits

    def __exit__(self, *exc: object) -> None:
        ctx.prec = self.saved


# ---------------------------------------------------------------------------
# Enclosures: [lo, hi] with exact (radius-0) arb ends, possibly infinite


class Enclosure(NamedTuple):
    """A closed-or-open real interval containing a set of values.

    ``lo``/``hi`` are exact arb numbers (or -oo/+oo); ``lo_open`` means the value ``lo``
    is certainly not attained (always true at an infinite end).
    """

    lo: arb
    hi: arb
    lo_open: bool = False
    hi_open: bool = False

    def nonnegative(self, strict: bool) -> bool:
        if strict:
            return bool(self.lo > 0 or (self.lo.is_zero() and self.lo_open))
        return bool(self.lo >= 0)

    def negative(self, strict: bool) -> bool:
        """Every value is < 0 (strict claims: <= 0), i.e. the claim fails everywhere."""
        if strict:
            return bool(self.hi <= 0)
        return bool(self.hi < 0 or (self.hi.is_zero() and self.hi_open))

    def __str__(self) -> str:
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"{left}{_show(self.lo)}, {_show(self.hi)}{right}"


def _show(x: arb) -> str:
    if not x.is_finite():
        return "oo" if x > 0 else "-oo"
    return x.str(5, radius=False)


def _make(lo: arb, hi: arb, lo_open: bool, hi_open: bool) -> Enclosure | None:
    if lo.is_nan() or hi.is_nan():
        return None
    if not lo.is_finite():
        if lo > 0:
            return None
        lo, lo_open = _NEG_INF, True
    if not hi.is_finite():
        if hi < 0:
            return None
        hi, hi_open = _POS_INF, True
    if lo > hi:  # impossible for a correct enclosure: refuse rather than guess
        return None
    return Enclosure(lo, hi, lo_open, hi_open)


def _ball(b: arb) -> Enclosure | None:
    """The closed enclosure of one ball."""
    if b.is_nan():
        return None
    return _make(b.lower(), b.upper(), False, False)


def _point(x: arb) -> Enclosure:
    return Enclosure(x, x, False, False)


def _lower(b: arb) -> arb:
    return _NEG_INF if b.is_nan() else b.lower()


def _upper(b: arb) -> arb:
    return _POS_INF if b.is_nan() else b.upper()


def _emin(x: arb, y: arb) -> arb:
    return x if x <= y else y


def _emax(x: arb, y: arb) -> arb:
    return x if x >= y else y


def _frac(x: arb) -> Fraction:
    """An exact finite arb number as a Fraction."""
    man, exp = x.man_exp()
    m, e = int(man), int(exp)
    return Fraction(m * (1 << e)) if e >= 0 else Fraction(m, 1 << -e)


def _arb_of(q: Fraction) -> arb:
    """A ball containing ``q`` (exact when ``q`` is dyadic and fits the precision)."""
    return arb(fmpq(q.numerator, q.denominator))


def _rational_point(q: Fraction) -> Enclosure:
    """The closed enclosure of the ball around a rational (exact when dyadic)."""
    enc = _ball(_arb_of(q))
    if enc is None:  # pragma: no cover - a finite rational always has a ball
        raise _Unsupported(f"no ball for {q}")
    return enc


def _sympy_zero(e: sp.Expr, point: dict[sp.Symbol, sp.Expr]) -> bool:
    """SymPy's own evaluation of ``e`` at ``point`` is the integer 0.

    Never with Floats: SymPy rounds Float arithmetic (``Float(0.1)*3 - 3/10`` may come out
    0 although the binary 0.1 is not 1/10), and a rounded 0 is no certificate.
    """
    if e.has(sp.Float) or any(v.has(sp.Float) for v in point.values()):
        return False
    v = e.xreplace(point)
    if v == 0:
        return True
    return bool(v.is_number and not v.has(sp.Float) and sp.expand(v) == 0)


def _intersect(a: Enclosure | None, b: Enclosure | None) -> Enclosure | None:
    """Both are enclosures of the same set: so is their intersection."""
    if a is None:
        return b
    if b is None:
        return a
    if a.lo > b.lo:
        lo, lo_open = a.lo, a.lo_open
    elif b.lo > a.lo:
        lo, lo_open = b.lo, b.lo_open
    else:
        lo, lo_open = a.lo, a.lo_open or b.lo_open
    if a.hi < b.hi:
        hi, hi_open = a.hi, a.hi_open
    elif b.hi < a.hi:
        hi, hi_open = b.hi, b.hi_open
    else:
        hi, hi_open = a.hi, a.hi_open or b.hi_open
    if lo > hi:
        return None
    return Enclosure(lo, hi, lo_open, hi_open)


# -- arithmetic ---------------------------------------------------------------


def _neg(a: Enclosure) -> Enclosure:
    return Enclosure(-a.hi, -a.lo, a.hi_open, a.lo_open)


def _add(a: Enclosure, b: Enclosure) -> Enclosure | None:
    lo = _NEG_INF if not (a.lo.is_finite() and b.lo.is_finite()) else (a.lo + b.lo).lower()
    hi = _POS_INF if not (a.hi.is_finite() and b.hi.is_finite()) else (a.hi + b.hi).upper()
    # a sum attains lo only where both terms attain theirs
    return _make(lo, hi, a.lo_open or b.lo_open, a.hi_open or b.hi_open)


def _mul_end(x: arb, y: arb, up: bool) -> arb:
    """A bound on the product of two endpoints; 0 * oo = 0 (exact for sets of reals)."""
    if x.is_zero() or y.is_zero():
        return _ZERO
    if not (x.is_finite() and y.is_finite()):
        return _POS_INF if (x > 0) == (y > 0) else _NEG_INF
    p = x * y
    return p.upper() if up else p.lower()


def _mul_nonneg(a: Enclosure, b: Enclosure) -> Enclosure | None:
    """Both factors >= 0: the product is increasing in each."""
    lo = _mul_end(a.lo, b.lo, False)
    hi = _mul_end(a.hi, b.hi, True)
    if a.lo > 0 and b.lo > 0:
        lo_open = a.lo_open or b.lo_open
    elif a.lo > 0:  # b.lo == 0: the product is 0 exactly where b is
        lo_open = b.lo_open
    elif b.lo > 0:
        lo_open = a.lo_open
    else:
        lo_open = a.lo_open and b.lo_open
    hi_open = (a.hi_open or b.hi_open) if (a.hi > 0 and b.hi > 0) else False
    return _make(lo, hi, lo_open, hi_open)


def _mul(a: Enclosure, b: Enclosure) -> Enclosure | None:
    if a.lo >= 0 and b.lo >= 0:
        return _mul_nonneg(a, b)
    if a.hi <= 0 and b.lo >= 0:
        r = _mul_nonneg(_neg(a), b)
        return None if r is None else _neg(r)
    if a.lo >= 0 and b.hi <= 0:
        r = _mul_nonneg(a, _neg(b))
        return None if r is None else _neg(r)
    if a.hi <= 0 and b.hi <= 0:
        return _mul_nonneg(_neg(a), _neg(b))
    los = [_mul_end(x, y, False) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    his = [_mul_end(x, y, True) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    lo, hi = los[0], his[0]
    for v in los[1:]:
        lo = _emin(lo, v)
    for v in his[1:]:
        hi = _emax(hi, v)
    return _make(lo, hi, False, False)


def _recip(a: Enclosure) -> Enclosure | None:
    """1/a, or None when a may contain 0."""
    if a.lo > 0 or (a.lo.is_zero() and a.lo_open and a.hi > 0):
        lo = _ZERO if not a.hi.is_finite() else (_ONE / a.hi).lower()
        hi = _POS_INF if a.lo.is_zero() else (_ONE / a.lo).upper()
        return _make(_emax(lo, _ZERO), hi, a.hi_open or lo <= 0, a.lo_open)
    if a.hi < 0 or (a.hi.is_zero() and a.hi_open and a.lo < 0):
        r = _recip(_neg(a))
        return None if r is None else _neg(r)
    return None


def _abs(a: Enclosure) -> Enclosure:
    if a.lo >= 0:
        return a
    if a.hi <= 0:
        return _neg(a)
    if -a.lo > a.hi:
        hi, hi_open = -a.lo, a.lo_open
    elif a.hi > -a.lo:
        hi, hi_open = a.hi, a.hi_open
    else:
        hi, hi_open = a.hi, a.lo_open and a.hi_open
    return Enclosure(_ZERO, hi, False, hi_open)


def _powi(a: Enclosure, n: int) -> Enclosure | None:
    if n == 0:
        return _point(_ONE)
    if n < 0:
        t = _powi(a, -n)
        return None if t is None else _recip(t)
    if n == 1:
        return a
    if n % 2 == 1:  # increasing
        lo = a.lo if not a.lo.is_finite() else (a.lo ** n).lower()
        hi = a.hi if not a.hi.is_finite() else (a.hi ** n).upper()
        return _make(lo, hi, a.lo_open, a.hi_open)
    t = _abs(a)
    lo = (t.lo ** n).lower()
    lo_open = t.lo_open
    if lo < 0:
        lo, lo_open = _ZERO, bool(t.lo > 0 or t.lo_open)
    hi = t.hi if not t.hi.is_finite() else (t.hi ** n).upper()
    return _make(lo, hi, lo_open, t.hi_open)


def _root_pow(v: arb, p: int, q: int) -> arb:
    """v**(p/q) for an exact v > 0, p > 0."""
    r = v.sqrt() if q == 2 else v.root(q)
    return r if p == 1 else r ** p


def _powq(a: Enclosure, p: int, q: int) -> Enclosure | None:
    """a**(p/q), q > 1: real only for a >= 0 (SymPy's principal root), > 0 if p < 0."""
    if a.lo < 0:
        return None
    if p < 0:
        t = _powq(a, -p, q)
        return None if t is None else _recip(t)
    lo = _ZERO if a.lo.is_zero() else _root_pow(a.lo, p, q).lower()
    lo_open = a.lo_open
    if lo < 0:
        lo, lo_open = _ZERO, bool(a.lo > 0 or a.lo_open)
    hi = a.hi if not a.hi.is_finite() else (_ZERO if a.hi.is_zero() else _root_pow(a.hi, p, q).upper())
    return _make(lo, hi, lo_open, a.hi_open)


def _monotone(a: Enclosure, f: Callable[[arb], arb], at_minus_inf: arb, at_plus_inf: arb,
              floor: arb | None, ceiling: arb | None, increasing: bool = True) -> Enclosure | None:
    """A strictly monotone function of its argument, with its limits and its (never attained) range bounds."""
    first, first_open, last, last_open = (a.lo, a.lo_open, a.hi, a.hi_open) if increasing else \
        (a.hi, a.hi_open, a.lo, a.lo_open)
    if first.is_finite():
        lo, lo_open = _lower(f(first)), first_open
    else:
        lo, lo_open = _lower(at_minus_inf if increasing else at_plus_inf), True
    if last.is_finite():
        hi, hi_open = _upper(f(last)), last_open
    else:
        hi, hi_open = _upper(at_plus_inf if increasing else at_minus_inf), True
    if floor is not None and lo <= floor:
        lo, lo_open = floor, True
    if ceiling is not None and hi >= ceiling:
        hi, hi_open = ceiling, True
    return _make(lo, hi, lo_open, hi_open)


def _sigmoid_arb(v: arb) -> arb:
    return _ONE / (_ONE + (-v).exp())


def _exp(a: Enclosure) -> Enclosure | None:
    return _monotone(a, arb.exp, _ZERO, _POS_INF, _ZERO, None)


def _log(a: Enclosure) -> Enclosure | None:
    if not (a.lo > 0 or (a.lo.is_zero() and a.lo_open)) or not a.hi > 0:
        return None
    lo, lo_open = (_NEG_INF, True) if a.lo.is_zero() else (_lower(a.lo.log()), a.lo_open)
    hi = a.hi if not a.hi.is_finite() else _upper(a.hi.log())
    return _make(lo, hi, lo_open, a.hi_open)


def _has_integer(u: arb, v: arb) -> bool:
    """Whether some integer may lie in [u, v] (u, v balls)."""
    lo, hi = u.lower(), v.upper()
    if not (lo.is_finite() and hi.is_finite()):
        return True
    first, last = lo.ceil(), hi.floor()  # exact integers (lo, hi are exact)
    return not bool(first > last)


def _periodic(a: Enclosure, f: Callable[[arb], arb], max_at: arb, min_at: arb) -> Enclosure | None:
    """sin or cos: extrema at max_at + 2k pi and min_at + 2k pi."""
    full = Enclosure(-_ONE, _ONE, False, False)
    if not (a.lo.is_finite() and a.hi.is_finite()):
        return full
    two_pi = 2 * arb.pi()
    if not (a.hi - a.lo) < two_pi:
        return full
    fa, fb = f(a.lo), f(a.hi)
    if fa.is_nan() or fb.is_nan():
        return full
    lo, hi = _emin(fa.lower(), fb.lower()), _emax(fa.upper(), fb.upper())
    if _has_integer((a.lo - max_at) / two_pi, (a.hi - max_at) / two_pi):
        hi = _ONE
    if _has_integer((a.lo - min_at) / two_pi, (a.hi - min_at) / two_pi):
        lo = -_ONE
    return _make(_emax(lo, -_ONE), _emin(hi, _ONE), False, False)


def _sin(a: Enclosure) -> Enclosure | None:
    half_pi = arb.pi() / 2
    return _periodic(a, arb.sin, half_pi, -half_pi)


def _cos(a: Enclosure) -> Enclosure | None:
    return _periodic(a, arb.cos, _ZERO, arb.pi())


def _maxmin(args: Sequence[Enclosure], pick: Callable[[arb, arb], arb]) -> Enclosure | None:
    lo, hi = args[0].lo, args[0].hi
    for a in args[1:]:
        lo, hi = pick(lo, a.lo), pick(hi, a.hi)
    return _make(lo, hi, False, False)


_UNARY: dict[str, Callable[[Enclosure], Enclosure | None]] = {
    "exp": _exp,
    "log": _log,
    "sin": _sin,
    "cos": _cos,
    "abs": _abs,
    "tanh": lambda a: _monotone(a, arb.tanh, -_ONE, _ONE, -_ONE, _ONE),
    "atan": lambda a: _monotone(a, arb.atan, -arb.pi() / 2, arb.pi() / 2, None, None),
    "erf": lambda a: _monotone(a, arb.erf, -_ONE, _ONE, -_ONE, _ONE),
    "erfc": lambda a: _monotone(a, arb.erfc, arb(2), _ZERO, _ZERO, arb(2), increasing=False),
    "sigmoid": lambda a: _monotone(a, _sigmoid_arb, _ZERO, _ONE, _ZERO, _ONE),
}
_FUNCTIONS: dict[type, str] = {
    sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.Abs: "abs", sp.tanh: "tanh",
    sp.atan: "atan", sp.erf: "erf", sp.erfc: "erfc", sigmoid: "sigmoid",
}


# ---------------------------------------------------------------------------
# The tape: SymPy trees compiled once, shared sub-expressions evaluated once


def _softplus_split(t: sp.Basic) -> sp.Basic:
    """log(1 + exp(u)) = u + log(1 + exp(-u)) (every real u): the oo - oo of softplus(u) - u disappears."""
    if isinstance(t, sp.log) and isinstance(t.args[0], sp.Add) and len(t.args[0].args) == 2:
        one, other = sorted(t.args[0].args, key=lambda a: a != 1)
        if one == 1 and isinstance(other, sp.exp):
            u = other.args[0]
            return u + sp.log(1 + sp.exp(-u))
    return t


@functools.lru_cache(maxsize=1024)
def _equal_forms(e: sp.Expr) -> tuple[sp.Expr, ...]:
    """Other expressions equal to ``e`` wherever ``e`` is defined: factored, softplus split.

    Their enclosures are intersected with that of ``e`` (whose own must be defined), so a
    form may be tighter (``(x - y)**2`` for ``x**2 - 2*x*y + y**2``) but never decides alone.
    """
    forms: list[sp.Expr] = []
    if not e.has(sp.Float) and _size(e) <= FACTOR_SIZE:
        try:
            factored = sp.factor(e)
            if factored != e:
                forms.append(factored)
        except (sp.PolynomialError, ValueError, TypeError):
            pass
    logs = {t: _softplus_split(t) for t in e.atoms(sp.log)}
    split = e.xreplace({t: u for t, u in logs.items() if u is not t})
    if split != e:
        forms.append(split)
    return tuple(forms)


def _size(e: sp.Basic) -> int:
    return sum(1 for _ in sp.preorder_traversal(e))


@functools.lru_cache(maxsize=4096)
def _derivative_forms(e: sp.Expr, v: sp.Symbol) -> tuple[sp.Expr, ...]:
    """SymPy's formal derivative, then its factored form when that differs (equal where both are defined)."""
    raw = sp.diff(e, v)
    if raw.has(sp.Float):  # factoring with Float coefficients rounds: not an identity
        return (raw,)
    if _size(raw) > FACTOR_SIZE:  # factoring big expressions costs more than it helps
        return (raw,)
    try:
        factored = sp.factor(raw)
    except (sp.PolynomialError, ValueError, TypeError):
        return (raw,)
    return (raw,) if factored == raw else (raw, factored)


@dataclass
class _Op:
    kind: str
    args: tuple[int, ...]
    data: object
    expr: sp.Expr
    variables: frozenset[int]


class _Tape:
    """Ops in dependency order; ``node(expr)`` compiles (memoised) and returns an index."""

    def __init__(self, variables: Sequence[sp.Symbol]) -> None:
        self.variables = list(variables)
        self.index = {v: i for i, v in enumerate(self.variables)}
        self.ops: list[_Op] = []
        self.memo: dict[sp.Basic, int] = {}
        self.orders: dict[tuple[int, ...], list[int]] = {}
        self.derivatives: dict[int, tuple[int, ...] | None] = {}

    def _push(self, kind: str, args: tuple[int, ...], data: object, expr: sp.Expr) -> int:
        variables: frozenset[int] = frozenset().union(*(self.ops[i].variables for i in args)) if args \
            else frozenset()
        if kind == "var":
            variables = frozenset({cast(int, data)})
        self.ops.append(_Op(kind, args, data, expr, variables))
        return len(self.ops) - 1

    def node(self, e: sp.Basic) -> int:
        if e in self.memo:
            return self.memo[e]
        i = self._compile(e)
        self.memo[e] = i
        return i

    def _compile(self, e: sp.Basic) -> int:
        if isinstance(e, sp.Symbol):
            if e not in self.index:
                raise _Unsupported(f"symbol {e} is not a variable")
            return self._push("var", (), self.index[e], e)
        if e.is_Rational:
            return self._push("num", (), Fraction(int(e.p), int(e.q)), e)
        if e.is_Float:
            if not e.is_finite:
                raise _Unsupported("non-finite Float")
            sign, man, exp, _ = e._mpf_
            value = Fraction(int(man)) * (Fraction(2) ** int(exp))
            return self._push("num", (), -value if sign else value, e)
        if e is sp.pi:
            return self._push("pi", (), None, e)
        if e is sp.E:
            return self._push("e", (), None, e)
        if isinstance(e, sp.Add):
            return self._push("add", tuple(self.node(a) for a in e.args), None, e)
        if isinstance(e, sp.Mul):
            return self._push("mul", tuple(self.node(a) for a in e.args), None, e)
        if isinstance(e, sp.Pow):
            base, ex = e.args
            if ex.is_Integer:
                return self._push("powi", (self.node(base),), int(ex), e)
            if ex.is_Rational and ex.q <= 64:
                return self._push("powq", (self.node(base),), (int(ex.p), int(ex.q)), e)
            if ex.is_Float and ex.is_finite:
                sign, man, exp, _ = ex._mpf_
                q = Fraction(int(man)) * (Fraction(2) ** int(exp)) * (-1 if sign else 1)
                if q.denominator == 1:
                    return self._push("powi", (self.node(base),), int(q), e)
                if q.denominator <= 64:
                    return self._push("powq", (self.node(base),), (q.numerator, q.denominator), e)
            return self._push("powg", (self.node(base), self.node(ex)), None, e)
        if isinstance(e, (sp.Max, sp.Min)):
            return self._push("max" if isinstance(e, sp.Max) else "min",
                              tuple(self.node(a) for a in e.args), None, e)
        kind = _FUNCTIONS.get(type(e))
        if kind is not None and len(e.args) == 1:
            return self._push(kind, (self.node(e.args[0]),), None, e)
        raise _Unsupported(f"cannot enclose {type(e).__name__}")

    def order(self, roots: tuple[int, ...]) -> list[int]:
        """The nodes the roots depend on, in evaluation order."""
        cached = self.orders.get(roots)
        if cached is not None:
            return cached
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            stack.extend(self.ops[i].args)
        result = sorted(seen)
        self.orders[roots] = result
        return result


def _compile_forms(tape: _Tape, forms: Sequence[sp.Expr]) -> tuple[int, ...] | None:
    """Tape roots of equal forms; the first (formal derivative) must be enclosable, others are optional."""
    try:
        roots = [tape.node(forms[0])]
    except _Unsupported:
        return None
    for other in forms[1:]:
        try:
            roots.append(tape.node(other))
        except _Unsupported:
            pass
    return tuple(roots)


class _Evaluator:
    """Evaluates tape nodes over a box; refines indeterminate forms by monotonicity."""

    def __init__(self, tape: _Tape, sympy_call: SympyCall) -> None:
        self.tape = tape
        self.sympy_call = sympy_call
        self.refinements = 0

    def run(self, roots: Sequence[int], env: Sequence[Enclosure], depth: int = REFINE_DEPTH
            ) -> list[Enclosure | None]:
        ops = self.tape.ops
        vals: dict[int, Enclosure | None] = {}
        for i in self.tape.order(tuple(roots)):
            op = ops[i]
            v = self._compute(op, vals, env)
            if v is not None and depth > 0 and op.kind in ("add", "mul") and len(op.variables) == 1 \
                    and self._indeterminate(op, v, vals):
                v = self._refine(i, v, env, depth - 1)
            vals[i] = v
        return [vals[r] for r in roots]

    @staticmethod
    def _compute(op: _Op, vals: dict[int, Enclosure | None], env: Sequence[Enclosure]) -> Enclosure | None:
        kind = op.kind
        if kind == "var":
            return env[cast(int, op.data)]
        if kind == "num":
            return _ball(_arb_of(cast(Fraction, op.data)))
        if kind == "pi":
            return _ball(arb.pi())
        if kind == "e":
            return _ball(arb.const_e())
        maybe = [vals[a] for a in op.args]
        if any(a is None for a in maybe):
            return None
        args = cast("list[Enclosure]", maybe)
        a0 = args[0]
        acc: Enclosure | None = a0
        if kind == "add":
            for a in args[1:]:
                acc = None if acc is None else _add(acc, a)
            return acc
        if kind == "mul":
            for a in args[1:]:
                acc = None if acc is None else _mul(acc, a)
            return acc
        if kind == "powi":
            return _powi(a0, cast(int, op.data))
        if kind == "powq":
            p, q = cast("tuple[int, int]", op.data)
            return _powq(a0, p, q)
        if kind == "powg":  # b**e = exp(e log b), b > 0
            lb = _log(a0)
            prod = None if lb is None else _mul(args[1], lb)
            return None if prod is None else _exp(prod)
        if kind == "max":
            return _maxmin(args, _emax)
        if kind == "min":
            return _maxmin(args, _emin)
        return _UNARY[kind](a0)

    def _indeterminate(self, op: _Op, v: Enclosure, vals: dict[int, Enclosure | None]) -> bool:
        """0 * oo in a product, or oo - oo in a sum, with an infinite result."""
        if v.lo.is_finite() and v.hi.is_finite():
            return False
        args = [vals[a] for a in op.args]
        if op.kind == "mul":
            infinite = any(not (a.lo.is_finite() and a.hi.is_finite()) for a in args if a is not None)
            touches_zero = any(a.lo.is_zero() or a.hi.is_zero() for a in args if a is not None)
            return infinite and touches_zero
        down = any(a is not None and not a.lo.is_finite() for a in args)
        up = any(a is not None and not a.hi.is_finite() for a in args)
        return down and up

    def derivative_roots(self, i: int) -> tuple[int, ...] | None:
        """Tape roots of d(node)/dv: SymPy's formal derivative, then its factored form."""
        tape = self.tape
        if i in tape.derivatives:
            return tape.derivatives[i]
        op = tape.ops[i]
        (k,) = op.variables
        v = tape.variables[k]
        roots: tuple[int, ...] | None = None
        if _size(op.expr) <= REFINE_SIZE:
            forms = self.sympy_call(lambda: _derivative_forms(op.expr, v))
            roots = _compile_forms(tape, forms)
        tape.derivatives[i] = roots
        return roots

    def forms(self, roots: Sequence[int], env: Sequence[Enclosure], depth: int) -> Enclosure | None:
        """Intersect equal forms; the first (formal) one must be defined on the box."""
        vals = self.run(roots, env, depth)
        if vals[0] is None:
            return None
        acc: Enclosure | None = vals[0]
        for v in vals[1:]:
            acc = _intersect(acc, v)
        return acc

    def _refine(self, i: int, v: Enclosure, env: Sequence[Enclosure], depth: int) -> Enclosure:
        roots = self.derivative_roots(i)
        if roots is None:
            return v
        d = self.forms(roots, env, depth)
        if d is None:
            return v
        if d.lo >= 0:
            increasing = True
        elif d.hi <= 0:
            increasing = False
        else:
            return v
        (k,) = self.tape.ops[i].variables
        x = env[k]
        result: Enclosure | None = v
        for end, is_lo in ((x.lo, True), (x.hi, False)):
            if not end.is_finite():
                continue
            point_env = list(env)
            point_env[k] = _point(end)
            (g,) = self.run([i], point_env, depth)
            if g is None:
                continue
            # increasing: g >= g(lo) and g <= g(hi); decreasing: the other way round
            if is_lo == increasing:
                bound = Enclosure(g.lo, _POS_INF, False, True)
            else:
                bound = Enclosure(_NEG_INF, g.hi, True, False)
            result = _intersect(result, bound)
        if result is None:  # cannot happen for a correct enclosure; stay with the plain one
            return v
        self.refinements += 1
        return result


# ---------------------------------------------------------------------------
# Public helper: enclose an expression over a box


def enclose(expr: sp.Expr, box: dict[sp.Symbol, tuple[object, object]], prec: int = BASE_PREC
            ) -> Enclosure | None:
    """An enclosure of ``expr`` over the closed box (ends: Rationals, ints, or +-oo), or None.

    None: unsupported, or possibly undefined somewhere on the box.
    """
    variables = sorted(box, key=str)
    tape = _Tape(variables)
    try:
        root = tape.node(_exact_floats(expr))
    except _Unsupported:
        return None
    evaluator = _Evaluator(tape, lambda fn: fn())
    with _Precision(prec):
        env = []
        for v in variables:
            lo, hi = (sp.sympify(t) for t in box[v])
            env.append(_Side(_to_fraction(lo), _to_fraction(hi), False, False).enclosure())
        (value,) = evaluator.run([root], env)
    return value


class PointValues:
    """Enclosures of several expressions at rational points: compiled once onto a tape (shared
    sub-expressions evaluated once), each point evaluated in ball arithmetic. None for an expression
    that is undefined at the point (SymPy's real domain: principal roots, log of positives) or
    whose enclosure is not finite there."""

    def __init__(self, tape: _Tape, roots: tuple[int, ...]) -> None:
        self._tape, self._roots = tape, roots
        self._evaluator = _Evaluator(tape, lambda fn: fn())

    def at(self, point: Mapping[sp.Symbol, sp.Expr], bits: int) -> list[Enclosure | None] | None:
        """The enclosures at ``point`` with ``bits`` of working precision; None if a coordinate
        is not a rational number."""
        coordinates = [point.get(v) for v in self._tape.variables]
        if not all(isinstance(q, sp.Rational) for q in coordinates):
            return None
        with _Precision(bits):  # the coordinates' balls too (a non-dyadic rational is rounded)
            env = [_rational_point(Fraction(int(q.p), int(q.q))) for q in coordinates]  # type: ignore[union-attr]
            values = self._evaluator.run(self._roots, env, 0)
        return [v if v is not None and v.lo.is_finite() and v.hi.is_finite() else None for v in values]


def point_values(exprs: Sequence[sp.Expr], variables: Sequence[sp.Symbol]) -> PointValues | None:
    """:class:`PointValues` of ``exprs`` in ``variables``, or None when an expression uses
    something the tape cannot enclose (sums, factorials, unknown functions, other symbols)."""
    tape = _Tape(variables)
    try:
        roots = tuple(tape.node(_exact_floats(e)) for e in exprs)
    except _Unsupported:
        return None
    return PointValues(tape, roots)


def finite_value(function: sp.Expr, index: sp.Symbol, low: int, high: int, is_sum: bool,
                 digits: int) -> sp.Float | None:
    """``sum`` (or ``prod``) of ``function`` for ``index = low, ..., high`` as a Float whose ``digits``
    digits are certain, added up (multiplied) term by term in ball arithmetic.

    None when a term is beyond the tape (other symbols, sums, unknown functions), undefined or
    not finite, or when the result is not known to that many digits (cancellation, an exact 0).
    """
    values = point_values((function,), [index])
    if values is None:
        return None
    bits = int(digits * 3.33) + 64 + 2 * max(high - low + 1, 1).bit_length()
    with _Precision(bits):
        total = arb(0) if is_sum else arb(1)
        for i in range(low, high + 1):
            found = values.at({index: sp.Integer(i)}, bits)
            if found is None or found[0] is None:
                return None
            term = found[0].lo.union(found[0].hi)  # a ball that contains the enclosure
            total = total + term if is_sum else total * term
        if not total.is_finite() or total.mid().is_zero() or \
                total.rad() > abs(total.mid()) * arb(10) ** (-(digits + 5)):
            return None
        middle = total.mid()
    return midpoint_float(Enclosure(middle, middle), digits + 5)


#: Working precision for arithmetic on the exact ends of point enclosures (beyond any point's precision).
_EXACT_ENDS_PREC = 4096


def midpoint_float(enclosure: Enclosure, digits: int) -> sp.Float:
    """The midpoint of a finite enclosure as a SymPy Float of ``digits`` digits (any exponent)."""
    with _Precision(_EXACT_ENDS_PREC):  # the two exact ends' mean, to far more bits than are shown
        man, exp = ((enclosure.lo + enclosure.hi) / 2).mid().man_exp()
    man, exp = int(man), int(exp)
    with mpmath.workprec(max(man.bit_length(), 1) + 8):  # as it is (mpmath rounds to its precision)
        value = mpmath.mpf((man, exp))
    return sp.Float(value, digits)


#: Working precisions (bits) tried for a closed number, smallest first.
NUMBER_BITS: tuple[int, ...] = (128, 512, 2048, 8192)


def number_enclosure(expr: sp.Expr, bits: int, point: Mapping[sp.Symbol, sp.Expr] | None = None
                     ) -> Enclosure | None:
    """An enclosure of the real number ``expr`` (at ``point``, whose values must be rationals) at
    ``bits`` of working precision, or None (unsupported, undefined, or not finite)."""
    box: dict[sp.Symbol, tuple[object, object]] = {}
    for symbol, value in (point or {}).items():
        if symbol in expr.free_symbols:
            if not isinstance(value, sp.Rational):
                return None
            box[symbol] = (value, value)
    if not expr.free_symbols <= set(box):
        return None
    found = enclose(expr, box, prec=bits)
    if found is None or not (found.lo.is_finite() and found.hi.is_finite()):
        return None
    return found


def number_sign(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr] | None = None) -> int | None:
    """The sign (-1 or 1; 0 is never returned) of the real number ``expr`` (at ``point``), certain
    in ball arithmetic; None when no enclosure up to :data:`NUMBER_BITS` excludes 0 or none exists.

    SymPy's evalf is not enough for this: ``log(1 + 10**-100)`` evaluates to exactly 0 (the
    argument rounds to 1 before the logarithm), so ``log(1 + 10**-100) - 10**-101`` is "negative".
    """
    for bits in NUMBER_BITS:
        found = number_enclosure(expr, bits, point)
        if found is None:
            return None
        if found.lo > 0:
            return 1
        if found.hi < 0:
            return -1
    return None


def number_value(expr: sp.Expr, digits: int, point: Mapping[sp.Symbol, sp.Expr] | None = None
                 ) -> sp.Float | None:
    """The real number ``expr`` (at ``point``) to ``digits`` correct significant digits by ball
    arithmetic (the enclosure's midpoint, once its relative width is below ``10**-(digits + 2)``),
    or None."""
    for bits in NUMBER_BITS:
        if bits < digits * 3.33 + 16 and bits != NUMBER_BITS[-1]:
            continue
        found = number_enclosure(expr, bits, point)
        if found is None:
            return None
        with _Precision(_EXACT_ENDS_PREC):
            width, size = found.hi - found.lo, min(abs(found.lo), abs(found.hi))
            narrow = bool(found.lo > 0 or found.hi < 0) and bool(width <= size / arb(10) ** (digits + 2))
        if narrow:
            return midpoint_float(found, digits)
    return None


def within_of_zero(enclosure: Enclosure, scales: Sequence[Enclosure], exponent: int) -> bool:
    """Whether ``enclosure`` contains 0 and is narrower than ``10**-exponent`` times the largest
    magnitude among ``scales`` (at least 1): certainly, in ball arithmetic."""
    if not (enclosure.lo <= 0 and enclosure.hi >= 0):
        return False
    scale = _ONE
    for other in scales:
        for end in (other.lo, other.hi):
            if abs(end) > scale:
                scale = abs(end)
    with _Precision(_EXACT_ENDS_PREC):
        return bool(enclosure.hi - enclosure.lo <= scale / arb(10) ** exponent)


def _exact_floats(expr: sp.Expr) -> sp.Expr:
    """Floats replaced by the exact rationals they are (binary numbers): later SymPy steps stay exact."""
    floats = expr.atoms(sp.Float)
    if not floats:
        return expr
    return expr.xreplace({f: sp.Rational(f) for f in floats if f.is_finite})


def _to_fraction(v: sp.Expr) -> Fraction | None:
    if v.is_infinite:
        return None
    if not v.is_Rational:
        raise ValueError(f"box ends must be rational or infinite, not {v}")
    return Fraction(int(v.p), int(v.q))


# ---------------------------------------------------------------------------
# Boxes


@dataclass(frozen=True)
class _Side:
    """One variable's interval: Fraction ends (None = infinite) and openness."""

    lo: Fraction | None
    hi: Fraction | None
    lo_open: bool
    hi_open: bool

    def enclosure(self) -> Enclosure:
        lo = _NEG_INF if self.lo is None else _arb_of(self.lo).lower()
        hi = _POS_INF if self.hi is None else _arb_of(self.hi).upper()
        return Enclosure(lo, hi, self.lo is None or self.lo_open, self.hi is None or self.hi_open)

    @property
    def bounded(self) -> bool:
        return self.lo is not None and self.hi is not None

    @property
    def width(self) -> float:
        if self.lo is None or self.hi is None:
            return math.inf
        return float(self.hi - self.lo)

    @functools.cached_property
    def split_point(self) -> Fraction:
        """A point inside: a short dyadic near the middle, or geometric steps into a tail."""
        lo, hi = self.lo, self.hi
        if lo is None and hi is None:
            return Fraction(0)
        if hi is None:
            assert lo is not None
            return Fraction(2 * max(math.ceil(lo), 0) + 1)
        if lo is None:
            return -Fraction(2 * max(math.ceil(-hi), 0) + 1)
        if lo == hi:
            return lo
        w = hi - lo
        mid = (lo + hi) / 2
        e = w.numerator.bit_length() - w.denominator.bit_length() - 6
        grid = Fraction(2) ** e
        s = Fraction(round(mid / grid)) * grid
        return s if lo < s < hi else mid


@dataclass(frozen=True)
class _Box:
    sides: tuple[_Side, ...]
    prec: int
    depth: int

    def enclosures(self) -> list[Enclosure]:
        return [s.enclosure() for s in self.sides]

    def test_point(self) -> list[Fraction]:
        return [s.split_point for s in self.sides]

    @property
    def unbounded(self) -> bool:
        return not all(s.bounded for s in self.sides)


# ---------------------------------------------------------------------------
# The decision procedure


@dataclass
class _Stats:
    boxes: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    tails: dict[tuple[str, str], tuple[Fraction, str]] = field(default_factory=dict)
    minima: list[str] = field(default_factory=list)
    max_prec: int = BASE_PREC

    def close(self, how: str) -> None:
        self.closed[how] = self.closed.get(how, 0) + 1


class _Counterexample(Exception):
    def __init__(self, point: dict[sp.Symbol, sp.Expr], how: str) -> None:
        super().__init__(how)
        self.point = point
        self.how = how


class _Search:
    def __init__(self, expr: sp.Expr, domain: Domain, strict: bool, max_boxes: int, deadline: Deadline) -> None:
        self.expr = expr
        self.domain = domain
        self.strict = strict
        self.max_boxes = max_boxes
        self.deadline = deadline
        self.variables: list[sp.Symbol] = sorted(expr.free_symbols, key=str)
        self.tape = _Tape(self.variables)
        self.ev = _Evaluator(self.tape, self.sympy)
        self.f_root = self.tape.node(expr)
        self.f_roots: tuple[int, ...] = (self.f_root,)
        self.stats = _Stats()
        self.grad: list[tuple[int, ...] | None] = []
        self.grad_exprs: list[list[sp.Expr]] = []
        self.hess: tuple[int, ...] | None = None
        self.roots_cache: list[Fraction] = []
        self.exact_cache: dict[tuple[sp.Expr, sp.Expr], bool] = {}
        self.tried_algebraic: set[Fraction] = set()
        self.abandoned = 0
        self.exact_checks = 0

    # -- SymPy under the safety net ------------------------------------------
    def sympy(self, fn: Callable[[], T]) -> T:
        if self.deadline.expired:
            raise OutOfTime("the safety net ran out")
        return run_within(fn, self.deadline.remaining)

    def prepare(self) -> None:
        forms = self.sympy(lambda: _equal_forms(self.expr))
        self.f_roots = _compile_forms(self.tape, (self.expr, *forms)) or (self.f_root,)
        for v in self.variables:
            forms = self.sympy(lambda: _derivative_forms(self.expr, v))
            self.grad.append(_compile_forms(self.tape, forms))
            self.grad_exprs.append(list(forms))
        if len(self.variables) == 1 and self.grad[0] is not None:
            raw = self.grad_exprs[0][0]
            second = self.sympy(lambda: _derivative_forms(raw, self.variables[0]))
            self.hess = _compile_forms(self.tape, second)

    # -- evaluation helpers ----------------------------------------------------
    def f_on(self, env: Sequence[Enclosure]) -> Enclosure | None:
        """F over the box: the given expression's enclosure, intersected with equal forms'."""
        return self.ev.forms(self.f_roots, env, REFINE_DEPTH)

    def point_env(self, point: Sequence[Fraction]) -> list[Enclosure]:
        return [_rational_point(q) for q in point]

    def f_at(self, point: Sequence[Fraction], prec: int) -> Enclosure | None:
        with _Precision(prec):
            return self.f_on(self.point_env(point))

    # -- the loop ----------------------------------------------------------------
    def initial_box(self) -> _Box:
        sides = []
        for v in self.variables:
            iv = self.domain.intervals[v]
            lo = None if iv.lo.is_infinite else _to_fraction(iv.lo)
            hi = None if iv.hi.is_infinite else _to_fraction(iv.hi)
            sides.append(_Side(lo, hi, bool(iv.lo_open), bool(iv.hi_open)))
        return _Box(tuple(sides), BASE_PREC, 0)

    def run(self) -> Decision | None:
        start = self.initial_box()
        heap: list[tuple[float, int, int]] = []
        fifo: deque[int] = deque()
        boxes: dict[int, _Box] = {}
        seq = 0

        def push(box: _Box, key: float) -> None:
            nonlocal seq
            boxes[seq] = box
            heapq.heappush(heap, (key, seq, seq))
            fifo.append(seq)
            seq += 1

        push(start, -math.inf)
        turn = 0
        while boxes:
            # alternate worst-first (finds counterexamples) and oldest-first (fairness)
            turn += 1
            if turn % 2:
                while heap and heap[0][2] not in boxes:
                    heapq.heappop(heap)
                ident = heapq.heappop(heap)[2]
            else:
                while fifo[0] not in boxes:
                    fifo.popleft()
                ident = fifo.popleft()
            box = boxes.pop(ident)
            self.stats.boxes += 1
            if self.stats.boxes > self.max_boxes or self.deadline.expired:
                return None
            children = self.process(box)
            for child, key in children:
                push(child, key)
        if self.abandoned:
            return None
        return Decision(True, self.describe())

    # -- one box ---------------------------------------------------------------
    def process(self, box: _Box) -> list[tuple[_Box, float]]:
        strict = self.strict
        with _Precision(box.prec):
            env = box.enclosures()
            f = self.f_on(env)
            if f is not None and f.nonnegative(strict):
                return self.closed(box, "enclosure")
            if f is not None and self.try_derivatives(box, env):
                return []
            point = box.test_point()
            fm = self.f_on(self.point_env(point))
        self.check_point(point, fm, box.prec)
        # the sign at the test point was unreadable: the children work at twice the precision
        prec = box.prec
        if fm is not None and fm.lo < 0 < fm.hi and prec < MAX_PREC:
            prec = min(2 * prec, MAX_PREC)
            self.stats.max_prec = max(self.stats.max_prec, prec)
        key = _priority(f)
        return [(child, key) for child in self.split(box, prec)]

    def closed(self, box: _Box, how: str) -> list[tuple[_Box, float]]:
        self.stats.close(how)
        for side, v in zip(box.sides, self.variables):
            if side.hi is None and side.lo is not None:
                self.stats.tails[(str(v), ">=")] = (side.lo, how)
            if side.lo is None and side.hi is not None:
                self.stats.tails[(str(v), "<=")] = (side.hi, how)
        return []

    def split(self, box: _Box, prec: int) -> list[_Box]:
        widths = [s.width for s in box.sides]
        if box.unbounded:
            candidates = [i for i, w in enumerate(widths) if w > 0]
            k = candidates[box.depth % len(candidates)] if candidates else -1
        else:
            k = max(range(len(widths)), key=lambda i: (widths[i], -i))
            if widths[k] <= 0:
                k = -1
        side = box.sides[k] if k >= 0 else None
        if side is None or (not side.bounded and max(abs(side.lo or Fraction(0)),
                                                         abs(side.hi or Fraction(0))) >= TAIL_LIMIT):
            # a point, or a tail beyond 2**256: it stays undecided; keep searching the rest for a
            # counterexample, but the claim can no longer be proved
            self.abandoned += 1
            return []
        s = side.split_point
        left = _Side(side.lo, s, side.lo_open, False)
        right = _Side(s, side.hi, False, side.hi_open)
        out = []
        for part in (left, right):
            sides = list(box.sides)
            sides[k] = part
            out.append(_Box(tuple(sides), prec, box.depth + 1))
        return out

    # -- derivative arguments ----------------------------------------------------
    def gradient(self, env: Sequence[Enclosure]) -> list[Enclosure | None]:
        return [None if roots is None else self.ev.forms(roots, env, DERIVATIVE_REFINE_DEPTH) for roots in self.grad]

    def try_derivatives(self, box: _Box, env: list[Enclosure]) -> bool:
        strict = self.strict
        grad = self.gradient(env)
        # 1. monotonicity: move each monotone variable to the end where F is smallest
        reduced = list(env)
        center = box.test_point()
        fixed: list[int] = []
        strict_gain = False
        for k, (g, side) in enumerate(zip(grad, box.sides)):
            if g is None or (side.lo is not None and side.lo == side.hi):
                continue
            if g.lo >= 0 and side.lo is not None:
                reduced[k] = _point(env[k].lo)
                center[k] = _frac(env[k].lo)
                strict_gain = strict_gain or bool(g.lo > 0 and side.lo_open)
                fixed.append(k)
            elif g.hi <= 0 and side.hi is not None:
                reduced[k] = _point(env[k].hi)
                center[k] = _frac(env[k].hi)
                strict_gain = strict_gain or bool(g.hi < 0 and side.hi_open)
                fixed.append(k)
        best: Enclosure | None = None
        if fixed:
            best = self.f_on(reduced)
            if best is not None and (best.nonnegative(strict) or (strict_gain and best.nonnegative(False))):
                self.closed(box, "monotonicity")
                return True
            if best is None:  # F is undefined on a face (e.g. log at an excluded 0): do not reduce
                reduced, center, fixed, strict_gain = list(env), box.test_point(), [], False
        # 2. the mean-value form around the test point, on the reduced box
        if all(g is not None for k, g in enumerate(grad) if k not in fixed):
            fm = self.f_on(self.point_env(center))
            mv: Enclosure | None = fm
            for k, g in enumerate(grad):
                if k in fixed or mv is None:
                    continue
                dx = _add(reduced[k], _neg(self.point_env([center[k]])[0]))
                term = None if dx is None or g is None else _mul(g, dx)
                mv = None if term is None else _add(mv, term)
            if mv is not None:
                best = _intersect(best, mv) if fixed else mv
                if best is not None and (best.nonnegative(strict) or (strict_gain and best.nonnegative(False))):
                    self.closed(box, "mean-value form")
                    return True
        # 3. one variable: concavity or convexity
        if len(self.variables) == 1 and self.hess is not None and grad[0] is not None and not box.unbounded:
            return self.try_curvature(box, env)
        return False

    def try_curvature(self, box: _Box, env: list[Enclosure]) -> bool:
        assert self.hess is not None
        h = self.ev.forms(self.hess, env, DERIVATIVE_REFINE_DEPTH)
        if h is None:
            return False
        side = box.sides[0]
        if h.hi <= 0:  # concave: the minimum over the box is at an end
            ends = []
            for end, open_ in ((env[0].lo, side.lo_open), (env[0].hi, side.hi_open)):
                value = self.f_on([_point(end)])
                if value is None:
                    return False
                ends.append((value, open_))
            if self.strict:
                ok = all(v.nonnegative(True) or (o and v.nonnegative(False)) for v, o in ends) and \
                    any(v.nonnegative(True) for v, _ in ends)
            else:
                ok = all(v.nonnegative(False) for v, _ in ends)
            if ok:
                self.closed(box, "concavity")
                return True
            return False
        if h.lo >= 0:
            return self.tangent(box)
        return False

    # -- convex boxes: tangent lines at a point near the minimum -----------------
    def derivative_at(self, env: Sequence[Enclosure]) -> tuple[Enclosure | None, Enclosure | None]:
        assert self.grad[0] is not None and self.hess is not None
        return (self.ev.forms(self.grad[0], env, DERIVATIVE_REFINE_DEPTH),
                self.ev.forms(self.hess, env, DERIVATIVE_REFINE_DEPTH))

    def newton(self, lo: Fraction, hi: Fraction, prec: int) -> Fraction:
        """A point of [lo, hi] where F' (increasing there) is 0 to about ``prec`` bits."""
        a, b = lo, hi
        with _Precision(prec):
            # F' is increasing: if it has one sign at an end, that end is the minimiser
            d_lo, _ = self.derivative_at(self.point_env([lo]))
            if d_lo is not None and d_lo.lo >= 0:
                return lo
            d_hi, _ = self.derivative_at(self.point_env([hi]))
            if d_hi is not None and d_hi.hi <= 0:
                return hi
            c = next((r for r in self.roots_cache if lo <= r <= hi), None)
            if c is None:
                c = _Side(lo, hi, False, False).split_point
            for _ in range(NEWTON_STEPS):
                if b - a <= Fraction(1 + abs(c)) / (1 << prec):  # the root is pinned (maybe at an end)
                    break
                d1, d2 = self.derivative_at(self.point_env([c]))
                if d1 is None or d2 is None:
                    break
                if d1.lo <= 0 <= d1.hi:
                    break
                if d1.lo > 0:
                    b = c
                else:
                    a = c
                step: Fraction | None = None
                if d2.lo > 0 and d1.lo.is_finite() and d1.hi.is_finite():
                    mid1 = (d1.lo + d1.hi) / 2
                    mid2 = (d2.lo + d2.hi) / 2
                    q = (mid1 / mid2).mid()
                    if q.is_finite():
                        step = c - _frac(q)
                if step is not None and a < step < b:
                    c = step
                else:
                    c = _Side(a, b, False, False).split_point
        if c not in self.roots_cache:
            self.roots_cache.append(c)
        return c

    def candidates(self, c: Fraction, prec: int) -> list[sp.Expr]:
        """Exact numbers near c that may be the minimiser itself: a short rational, an algebraic number."""
        out: list[sp.Expr] = []
        # a convergent p/q much closer to c than 1/q**2 (the usual distance) is likely the root itself
        tol = Fraction(1, 1 << (prec // 2)) * max(Fraction(1), abs(c))
        for conv in _convergents(c):
            if conv.denominator > 1 << (prec // 8):
                break
            if abs(conv - c) <= tol:
                out.append(sp.Rational(conv.numerator, conv.denominator))
                break
        if not out and prec >= 256 and c not in self.tried_algebraic and \
                len(self.tried_algebraic) < ALGEBRAIC_GUESSES:  # a count: the answer stays deterministic
            self.tried_algebraic.add(c)
            approx = sp.Float(sp.Rational(c.numerator, c.denominator), 50)
            guess = self.sympy(lambda: sp.nsimplify(approx, tolerance=sp.Rational(1, 10**30), rational=False))
            if isinstance(guess, sp.Expr) and not guess.free_symbols and not guess.is_Float and \
                    not guess.is_Rational and guess.is_real:
                out.append(guess)
        return out

    def exactly_zero(self, e: sp.Expr, at: sp.Expr) -> bool:
        """SymPy's own evaluation of ``e`` at ``x = at`` gives the integer 0 (no Floats involved)."""
        key = (e, at)
        if key not in self.exact_cache:
            if self.exact_checks >= EXACT_CHECKS:  # a count, so the answer stays deterministic
                return False
            self.exact_checks += 1
            self.exact_cache[key] = self.sympy(lambda: _sympy_zero(e, {self.variables[0]: at}))
        return self.exact_cache[key]

    def tangent(self, box: _Box) -> bool:
        side = box.sides[0]
        assert side.lo is not None and side.hi is not None
        x = self.variables[0]
        for prec in TIGHT_PRECS:
            if prec < box.prec:
                continue
            self.stats.max_prec = max(self.stats.max_prec, prec)
            c = self.newton(side.lo, side.hi, prec)
            exact = self.candidates(c, prec)
            limited = False
            for cand in [*exact, sp.Rational(c.numerator, c.denominator)]:
                verdict = self.tangent_at(box, cand, prec)
                if verdict:
                    shown = sp.sstr(cand) if cand in exact else f"{float(cand):.6g}"
                    note = f"tangent at the convex minimum {x} = {shown}"
                    # named only at a critical point (at a box end with F' != 0 it is just the box's minimum)
                    if note not in self.stats.minima and self.critical(cand, prec):
                        self.stats.minima.append(note)
                    self.closed(box, "convexity")
                    return True
                limited = limited or verdict is None
            if not limited:  # more bits would not help: bisect instead
                return False
        return False

    def critical(self, c: sp.Expr, prec: int) -> bool:
        """Whether F'(c) may be 0 (for the description only)."""
        with _Precision(prec):
            at = _rational_point(Fraction(int(c.p), int(c.q))) if c.is_Rational else _constant_enclosure(c)
            d1 = None if at is None else self.ev.forms(cast("tuple[int, ...]", self.grad[0]), [at], 0)
        return d1 is None or bool(d1.lo <= 0 <= d1.hi)

    def tangent_at(self, box: _Box, c: sp.Expr, prec: int) -> bool | None:
        """F convex on the box, c in the box: F(x) >= F(c) + F'(c)(x - c), bounded below on the box.

        True: the box is closed. False: it is not. None: not at this precision, but the
        bound failed by less than about 2**(-prec/4): more bits may close it.
        """
        side = box.sides[0]
        assert side.lo is not None and side.hi is not None
        assert self.grad[0] is not None
        with _Precision(prec):
            if c.is_Rational:
                cq = Fraction(int(c.p), int(c.q))
                if not side.lo <= cq <= side.hi:
                    return False
                cball = _ball(_arb_of(cq))
            else:
                cball = _constant_enclosure(c)
            if cball is None:
                return False
            lo_end, hi_end = box.enclosures()[0].lo, box.enclosures()[0].hi
            if not (cball.lo >= lo_end and cball.hi <= hi_end):
                return False
            env = [cball]
            ball = self.f_on(env)
            # SymPy is asked only when the ball cannot tell, and only about short numbers
            short = not c.is_Rational or c.q <= 1 << max(16, prec // 8)
            f_zero = bool(short and (ball is None or ball.lo <= 0 <= ball.hi) and self.exactly_zero(self.expr, c))
            d_zero = f_zero and any(self.exactly_zero(g, c) for g in self.grad_exprs[0])
            if f_zero and c.is_Rational and self.strict:
                self.report(dict(zip(self.variables, [c])), "SymPy evaluates the expression to exactly 0 there "
                            "(a strict claim fails)")
            if f_zero and self.strict:
                if self.domain.intervals[self.variables[0]].contains(c) if c.is_Rational else \
                        _strictly_inside(cball, box.sides[0]):
                    raise _GiveUp("a strict claim fails at a point that is no certified rational counterexample")
            fc = Enclosure(_ZERO, _ZERO) if f_zero else ball
            if fc is None:
                return False
            if fc.negative(self.strict) and c.is_Rational:
                self.report_simplest(box.sides[0], Fraction(int(c.p), int(c.q)), prec)
                self.report(dict(zip(self.variables, [c])), f"the {prec}-bit ball of the expression is {fc}")
            if d_zero:
                return fc.nonnegative(self.strict)
            d1 = self.ev.forms(self.grad[0], env, DERIVATIVE_REFINE_DEPTH)
            if d1 is None:
                return False
            # the tangent line's range over the box: F(c) + F'(c) ([lo, hi] - c)
            dx = _add(Enclosure(lo_end, hi_end), _neg(cball))
            term = None if dx is None else _mul(d1, dx)
            line = None if term is None else _add(fc, term)
            if line is None:
                return False
            bound = line.lo
            if bound > 0 or (bound >= 0 and not self.strict):
                return True
            slack = arb(2) ** (-(prec // 4))
            near = bool(fc.hi >= 0 and (fc.hi - bound) <= slack * (1 + _abs(fc).hi))
            return None if near else False

    # -- counterexamples ---------------------------------------------------------
    def check_point(self, point: list[Fraction], fm: Enclosure | None, prec: int) -> None:
        """Certify the claim false at the test point if the ball there says so (raising precision)."""
        values = dict(zip(self.variables, (sp.Rational(q.numerator, q.denominator) for q in point)))
        for bits in [prec] + [p for p in (128, 256, 512, MAX_PREC) if p > prec]:
            if bits != prec:
                fm = self.f_at(point, bits)
            if fm is None:
                return
            if fm.negative(self.strict):
                self.report(values, f"the {bits}-bit ball of the expression is {fm}")
                return
            if fm.lo > 0 or (fm.lo >= 0 and not self.strict):
                return
        if self.strict and fm is not None and fm.lo <= 0 <= fm.hi:
            if self.sympy(lambda: _sympy_zero(self.expr, values)):
                self.report(values, "SymPy evaluates the expression to exactly 0 there (a strict claim fails)")

    def report_simplest(self, side: _Side, c: Fraction, prec: int) -> None:
        """Report the shortest convergent of c (in the box) where the claim certainly fails, if any."""
        for conv in _convergents(c):
            if conv == c or conv.denominator > 1 << 64:
                return
            if not ((side.lo is None or side.lo <= conv) and (side.hi is None or conv <= side.hi)):
                continue
            value = self.f_at([conv], prec)
            if value is not None and value.negative(self.strict):
                self.report({self.variables[0]: sp.Rational(conv.numerator, conv.denominator)},
                            f"the {prec}-bit ball of the expression is {value}")

    def report(self, point: dict[sp.Symbol, sp.Expr], how: str) -> None:
        if self.valid_point(point):
            raise _Counterexample(point, how)

    def valid_point(self, point: dict[sp.Symbol, sp.Expr]) -> bool:
        for s, value in point.items():
            if not self.domain.intervals[s].contains(value):
                return False
            for name, holds in s.assumptions0.items():
                if getattr(value, f"is_{name}", None) is not holds:
                    return False
        for cond in self.domain.filters:
            if not _certified_condition(cond, point, self.sympy):
                return False
        return True

    # -- description -------------------------------------------------------------
    def describe(self) -> str:
        s = self.stats
        order = ("enclosure", "monotonicity", "mean-value form", "concavity", "convexity")
        parts = [f"{s.closed[k]} by {'plain enclosures' if k == 'enclosure' else k}" for k in order
                 if s.closed.get(k)]
        bits = f"{BASE_PREC}-bit balls" + (f", up to {s.max_prec} bits" if s.max_prec > BASE_PREC else "")
        text = (f"interval arithmetic (arb, {bits}): {s.boxes} box{'es' if s.boxes != 1 else ''} over "
                f"{', '.join(map(str, self.variables))}, closed {'; '.join(parts)}")
        if s.tails:
            tails = [f"{v} {rel} {_fmt(end)} by {'plain enclosure' if how == 'enclosure' else how}"
                     for (v, rel), (end, how) in sorted(s.tails.items())]
            text += "; tails " + ", ".join(tails)
        if s.minima:
            text += "; " + "; ".join(s.minima)
        if self.ev.refinements:
            text += "; 0*oo and oo-oo forms refined by monotone sub-expressions"
        return text


def _priority(f: Enclosure | None) -> float:
    """Worst-first order: the lower end of the enclosure (-oo when unknown)."""
    if f is None or not f.lo.is_finite():
        return -math.inf
    try:
        return float(f.lo)
    except (OverflowError, ValueError):  # pragma: no cover - float() of a huge arb
        return -math.inf if f.lo < 0 else math.inf


def _fmt(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def _strictly_inside(c: Enclosure, side: _Side) -> bool:
    lo = side.enclosure().lo
    hi = side.enclosure().hi
    return bool(c.lo > lo and c.hi < hi)


def _convergents(q: Fraction) -> Iterable[Fraction]:
    """Continued-fraction convergents of q."""
    h0, h1, k0, k1 = 0, 1, 1, 0
    x = q
    while True:
        a = math.floor(x)
        h0, h1 = h1, a * h1 + h0
        k0, k1 = k1, a * k1 + k0
        yield Fraction(h1, k1)
        frac = x - a
        if frac == 0:
            return
        x = 1 / frac


def _constant_enclosure(c: sp.Expr) -> Enclosure | None:
    """An enclosure of a constant SymPy expression at the current precision."""
    tape = _Tape([])
    try:
        root = tape.node(c)
    except _Unsupported:
        return None
    (value,) = _Evaluator(tape, lambda fn: fn()).run([root], [])
    return value


def _certified_condition(cond: sp.Basic, point: dict[sp.Symbol, sp.Expr],
                         sympy_call: SympyCall) -> bool:
    """Whether a side condition certainly holds at the point (unknown counts as no)."""
    if cond is sp.true:
        return True
    if not isinstance(cond, sp.core.relational.Relational) or not cond.free_symbols <= set(point):
        return False
    if isinstance(cond, sp.Eq):
        return sympy_call(lambda: _sympy_zero(cond.lhs - cond.rhs, point))
    diff = sympy_call(lambda: (cond.lhs - cond.rhs).xreplace(point))
    for bits in (BASE_PREC, 256, MAX_PREC):
        with _Precision(bits):
            value = _constant_enclosure(diff)
        if value is None:
            return False
        if isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)):
            if value.nonnegative(isinstance(cond, sp.StrictGreaterThan)):
                return True
        elif isinstance(cond, (sp.StrictLessThan, sp.LessThan)):
            if _neg(value).nonnegative(isinstance(cond, sp.StrictLessThan)):
                return True
        elif isinstance(cond, sp.Ne):
            if value.lo > 0 or value.hi < 0:
                return True
        else:
            return False
    return False


def decide_sign(expr: sp.Expr, domain: Domain, strict: bool, *, max_boxes: int = MAX_BOXES, seconds: float = 3.0
                ) -> Decision | None:
    """Decide ``expr >= 0`` (strict: ``> 0``) on the domain, by rigorous enclosures and branch and bound.

    Returns a :class:`Decision` (proved, or refuted with an exact rational counterexample
    of the domain), or None when the procedure does not apply (an unsupported function,
    a symbol not declared real, a non-rational bound) or ``max_boxes`` boxes do not
    decide it. Side conditions in ``domain.filters`` are not used for proofs (a sign on
    the larger box holds on the smaller domain); a counterexample must satisfy them
    (certified), else it is not reported.
    """
    if not isinstance(expr, sp.Expr):
        return None
    deadline = Deadline(seconds)
    for s in expr.free_symbols:
        if not isinstance(s, sp.Symbol) or s not in domain.intervals or s.is_real is not True:
            return None
        iv = domain.intervals[s]
        if not ((iv.lo.is_Rational or iv.lo is sp.S.NegativeInfinity)
                and (iv.hi.is_Rational or iv.hi is sp.S.Infinity)):
            return None
    try:
        expr = run_within(lambda: _exact_floats(expr), seconds)
        if not expr.free_symbols:
            return _decide_constant(expr, domain, strict, deadline)
        search = _Search(expr, domain, strict, max_boxes, deadline)
        search.prepare()
        return search.run()
    except _Counterexample as found:
        text = ", ".join(f"{k} = {v}" for k, v in found.point.items())
        return Decision(False, f"interval arithmetic (arb): counterexample {text}: {found.how}", found.point)
    except (_Unsupported, _GiveUp, OutOfTime, RecursionError, ArithmeticError, ValueError):
        # ArithmeticError/ValueError: an arb or SymPy corner case; never a reason to guess
        return None


def _decide_constant(expr: sp.Expr, domain: Domain, strict: bool, deadline: Deadline) -> Decision | None:
    for bits in (BASE_PREC, 128, 256, 512, MAX_PREC):
        if deadline.expired:
            return None
        with _Precision(bits):
            value = _constant_enclosure(expr)
        if value is None:
            return None
        if value.nonnegative(strict):
            return Decision(True, f"interval arithmetic (arb, {bits}-bit balls): the constant is in {value}")
        if value.negative(strict) and not domain.filters:
            return Decision(False, f"interval arithmetic (arb, {bits}-bit balls): the constant is in {value}", {})
    if strict and not domain.filters and run_within(lambda: _sympy_zero(expr, {}), deadline.remaining):
        return Decision(False, "SymPy evaluates the constant to exactly 0 (a strict claim fails)", {})
    return None
