"""Sign and zero decisions by real algebra: z3's nonlinear real arithmetic (nlsat).

``decide_sign(expr, domain, strict)`` decides whether ``expr >= 0`` (``> 0``)
at every point of ``domain`` where ``expr`` is defined; ``decide_zero`` whether
``expr == 0`` there. The SymPy tree is walked node by node (never through
text) into a z3 term over real variables, and z3 is asked for a point of the
domain where ``expr`` is defined and the claim fails:

* ``unsat``: the claim is proved (``Decision(proved=True)``);
* ``sat``: the model's values for the original symbols become a candidate
  point, which is returned (``proved=False``) only after exact SymPy
  evaluation confirms that the claim fails there;
* ``unknown`` (resource limit, timeout), anything that cannot be encoded, or a
  candidate that does not verify: ``None``.

Soundness rests on one invariant. Every constraint is a *true law* about the
real functions involved, stated for every real value of its arguments (partial
operations are made total by guarding their law with their own domain
condition). So at any point of the domain where ``expr`` is defined, giving
each fresh variable the true value of what it stands for satisfies every
constraint, and the encoded term then has the value of ``expr``. If no
assignment at all satisfies the negated claim, no point of the domain does.

"Defined" is real-analytic: no division by zero, no root of a negative number,
no step function at 0, some Piecewise condition true. SymPy (the kernel's
evaluator) can still give a finite real value at such a point: ``1/(1/x + 1)``
is ``1/zoo = 0`` at ``x = 0``, ``exp(-Abs(1 + 1/x))`` is ``exp(-oo) = 0``, and
``(x + 1)*sqrt(x)`` is ``0*I = 0`` at ``x = -1``. So a proof is only returned
when z3 also shows that no such point lies in the domain: every root's base
is >= 0 wherever it is defined, and every division by zero, step at 0 or
Piecewise without a true condition sits only under Add, Mul, positive powers,
Abs and Piecewise values (where zoo, oo and nan stay non-finite) or inside a
side of an inequality (which raises on zoo and nan), or cannot happen on the
domain. A side condition failing this test is dropped (see below).

Exact encodings (no information lost):

* ``1/q`` (and ``q**-n``) -> ``w`` with ``q != 0 -> w*q = 1``; defined where ``q != 0``.
* ``a**(p/q)``, ``q > 1`` -> ``r**p`` with ``a >= 0 -> (r >= 0 and r**q = a)``;
  defined where ``a >= 0`` (``a > 0`` if ``p < 0``). SymPy's principal root of a
  negative number is complex, so a proof also needs ``a >= 0`` wherever ``a``
  is defined on the domain (above): ``sqrt(x) >= 0`` for real ``x`` gives None.
* ``Abs``, ``Max``, ``Min``, ``sign``, ``Piecewise`` (first true condition;
  undefined where none holds) by case split (z3 ``If``); ``floor(a)`` -> integer
  ``n`` with ``n <= a < n + 1``, ``ceiling(a)`` -> ``n - 1 < a <= n``.
* ``Heaviside(a, v)`` with a real number ``v``: ``1, 0, v`` for ``a > 0, a < 0,
  a = 0``. SymPy >= 1.9 stores ``v = 1/2`` even when no value was written, so
  ``Heaviside(a)`` is SymPy's ``Heaviside(a, 1/2)`` here. ``Heaviside(a, nan)``
  (the kernel's form) and a one-argument ``Heaviside(a)`` (older SymPy) are
  undefined at ``a = 0``: defined where ``a != 0``. A proof with value ``v``
  at 0 also holds under the convention "undefined at 0"; a counterexample is
  only returned where every Heaviside argument is nonzero, so it holds under
  any convention.
* Floats are the exact binary numbers they are (as in the kernel).
* Symbols: real variables (integer ones: z3 integers) with the domain's
  interval (open/closed ends) and their SymPy assumptions (positive,
  nonnegative, negative, nonpositive, zero, nonzero, integer, even, odd).
  Assumptions z3 cannot express (rational, prime, ...) are dropped, which is
  sound for a proof (it proves more); a counterexample must satisfy every
  declared assumption exactly. ``domain.filters`` that are (in)equalities of
  encodable terms (with And/Or/Not) are constraints; others are dropped and
  then only a proof, never a counterexample, is reported.

Abstractions (an atom becomes a fresh variable constrained by true laws; the
same atom is always the same variable; a claim proved for every value allowed
by the laws holds for the atom, but a z3 model is no longer a counterexample,
so only exactly re-checked points are returned):

* ``sigmoid(a)`` -> ``s``: ``0 < s < 1``; ``sign(s - 1/2) = sign(a)``;
  ``s <= 1/2 + a/4`` for ``a >= 0`` and ``>=`` for ``a <= 0`` (concave for
  ``a > 0``, convex for ``a < 0``, slope 1/4 at 0).
* ``tanh(a)`` -> ``t``: ``-1 < t < 1``; ``sign(t) = sign(a)``; ``t <= a`` for
  ``a >= 0``, ``t >= a`` for ``a <= 0`` (slope 1 at 0, concave for ``a > 0``).
* ``erf(a)`` -> ``t``: ``-1 < t < 1``; ``sign(t) = sign(a)``; ``t <= 1.1284 a``
  for ``a >= 0`` and ``>=`` for ``a <= 0`` (slope ``2/sqrt(pi) < 1.1284`` at 0,
  concave for ``a > 0``).
* ``atan(a)`` -> ``t``: ``-pi/2 < t < pi/2`` (``pi`` the same enclosed constant as
  elsewhere in the claim); ``sign(t) = sign(a)``; ``t <= a`` for ``a >= 0``, ``t >= a``
  for ``a <= 0`` (slope 1 at 0, concave for ``a > 0``).
* ``exp(a)`` -> ``e``: ``e > 0``; ``e >= 1 + a`` (convexity);
  ``e*(1 - a) <= 1`` for ``a < 1`` (from ``exp(-a) >= 1 - a``);
  ``sign(e - 1) = sign(a)``.
* Two atoms ``f(a)``, ``f(b)`` of the same increasing function:
  ``a < b -> f(a) < f(b)``, ``a = b -> f(a) = f(b)``; and for ``a + b = 0``:
  ``sigmoid(a) + sigmoid(b) = 1``, ``tanh``/``erf``: sum 0, ``exp``: product 1.
* Constants that are not rational numbers (``pi``, ``E``, ``log(2)``,
  ``sigmoid(1)``, ...): a variable in a closed rational interval of relative
  width ``2e-30`` around a 40-digit certified evaluation (``evalf(strict=True)``).

Counterexamples: a point (exact rationals, or real algebraic numbers from z3's
root objects, else a 30-digit rational rounding) is returned only when it lies
in the domain (intervals, every declared assumption, every side condition,
decided exactly), ``expr`` is defined there in the sense above (checked in the
Piecewise branch taken; no step function at its kink) and SymPy's value there
violates the claim: exactly for rationals, else by a certified 50-digit
evaluation, or a minimal polynomial for an exact zero of an algebraic number.

Determinism: every call builds its own z3 context, with a fixed seed and z3's
deterministic resource limit (``rlimit``); the wall-clock ``timeout`` is only
a safety net. Sizes are estimated before encoding (exponents, degree,
coefficient bits, node count) and oversized input is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Literal

import sympy as sp
import z3
from sympy.core.evalf import PrecisionExhausted
from sympy.core.relational import Relational
from sympy.functions.elementary.piecewise import ExprCondPair

from . import intervals

from .domain import Domain, Interval
from .functions import sigmoid

__all__ = ["Decision", "decide_sign", "decide_zero"]

MAX_EXPONENT = 128  # |n| in a**n, and the numerator of a rational exponent
MAX_ROOT = 12  # q in a**(p/q)
MAX_DEGREE = 128  # estimated degree of any polynomial handed to z3
MAX_BITS = 1024  # bits of any numerator or denominator (and Float mantissa)
MAX_NODES = 4000  # SymPy tree nodes (with repetitions)
MAX_ATOMS_FOR_PAIRS = 16  # pair laws only among this many atoms of one function
MAX_FIELD_DEGREE = 64  # exact zero tests (minimal polynomials) only in number fields this small

_Goal = Literal["nonnegative", "positive", "zero"]

# Contexts of a subterm, for where SymPy's evaluation (kernel semantics) may give a finite real
# value at a point where the encoding calls the expression undefined:
_TOP = 0  # on a path of Add, Mul, positive powers, Abs, Piecewise values from the top: zoo, oo
#           and nan stay non-finite (zoo*0 = nan, Abs(zoo) = oo, oo - oo = nan)
_INEQUALITY = 1  # the same inside a side of <, <=, >, >=, which raise on zoo and nan (not on oo)
_UNSAFE = 2  # anything else: 1/zoo = 0, exp(-oo) = 0, Min(oo, 1) = 1, Eq(zoo, 1) is False


@dataclass(frozen=True)
class Decision:
    """The answer of a decision procedure.

    ``proved``: the claim holds on the whole domain (where the expression is
    defined). Otherwise ``counterexample`` is a point (exact SymPy numbers for
    the expression's symbols and the domain's) where the claim was checked to
    fail by exact evaluation.
    """

    proved: bool
    method: str
    counterexample: dict[sp.Symbol, sp.Expr] | None = field(default=None)


class _Refuse(Exception):
    """The expression (or a part of it) cannot be encoded."""


# ---------------------------------------------------------------------------
# Size estimate before encoding


def _size_problem(expr: sp.Basic) -> str | None:
    """Why ``expr`` is too large to encode, or None."""
    nodes = 0
    for node in sp.preorder_traversal(expr):
        nodes += 1
        if nodes > MAX_NODES:
            return f"more than {MAX_NODES} nodes"
        if isinstance(node, sp.Rational):
            if int(node.p).bit_length() > MAX_BITS or int(node.q).bit_length() > MAX_BITS:
                return "a coefficient is too large"
        elif isinstance(node, sp.Float):
            if node._prec > MAX_BITS:
                return "a Float is too precise"
        elif isinstance(node, sp.Pow) and isinstance(node.exp, sp.Rational):
            if abs(int(node.exp.p)) > MAX_EXPONENT or int(node.exp.q) > MAX_ROOT:
                return f"the exponent {node.exp} is too large"
    worst = [0]
    _degree(expr, {}, worst)
    if worst[0] > MAX_DEGREE:
        return f"estimated degree {worst[0]} exceeds {MAX_DEGREE}"
    return None


def _degree(e: sp.Basic, memo: dict[sp.Basic, int], worst: list[int]) -> int:
    """An upper estimate of the degree of ``e``'s encoding; ``worst`` collects the largest seen."""
    if e in memo:
        return memo[e]
    if isinstance(e, sp.Symbol):
        d = 1
    elif not e.args:
        d = 0
    elif isinstance(e, sp.Mul):
        d = sum(_degree(a, memo, worst) for a in e.args)
    elif isinstance(e, sp.Pow):
        b = _degree(e.base, memo, worst)
        ex = e.exp
        if isinstance(ex, sp.Float):
            ex = sp.Rational(ex)
        if isinstance(ex, sp.Rational) and ex.q == 1 and ex.p > 0:
            d = int(ex.p) * b
        elif isinstance(ex, sp.Rational):
            # a fresh root or inverse w with w**q = base or w*base = 1
            worst[0] = max(worst[0], max(int(ex.q), b + 1))
            d = abs(int(ex.p))
        else:
            d = 1
    elif isinstance(e, (sp.Add, sp.Piecewise, sp.Max, sp.Min, sp.Abs, ExprCondPair,
                        sp.And, sp.Or, sp.Not, Relational)):
        d = max((_degree(a, memo, worst) for a in e.args), default=0)
    else:  # an atom: a fresh variable of degree 1 (its arguments are checked too)
        for a in e.args:
            _degree(a, memo, worst)
        d = 1
    worst[0] = max(worst[0], d)
    memo[e] = d
    return d


# ---------------------------------------------------------------------------
# Translation


@dataclass(frozen=True)
class _AtomLaw:
    name: str
    summary: str  # what the fresh variable satisfies, for the method line; {a} is the argument
    laws: Callable[[z3.ArithRef, z3.ArithRef], list[z3.BoolRef]]
    symmetry: Callable[[z3.ArithRef, z3.ArithRef], z3.BoolRef]  # f(a), f(b) when a + b = 0


def _sigmoid_laws(a: z3.ArithRef, s: z3.ArithRef) -> list[z3.BoolRef]:
    half = z3.RealVal(Fraction(1, 2), a.ctx)
    return [s > 0, s < 1,
            z3.Implies(a > 0, s > half), z3.Implies(a < 0, s < half), z3.Implies(a == 0, s == half),
            z3.Implies(a >= 0, s <= half + a / 4), z3.Implies(a <= 0, s >= half + a / 4)]


def _tanh_laws(a: z3.ArithRef, t: z3.ArithRef) -> list[z3.BoolRef]:
    return [t > -1, t < 1,
            z3.Implies(a > 0, t > 0), z3.Implies(a < 0, t < 0), z3.Implies(a == 0, t == 0),
            z3.Implies(a >= 0, t <= a), z3.Implies(a <= 0, t >= a)]


_ERF_SLOPE = Fraction(2821, 2500)  # 1.1284 > 2/sqrt(pi) = 1.12837916...


def _erf_laws(a: z3.ArithRef, t: z3.ArithRef) -> list[z3.BoolRef]:
    k = z3.RealVal(_ERF_SLOPE, a.ctx)
    return [t > -1, t < 1,
            z3.Implies(a > 0, t > 0), z3.Implies(a < 0, t < 0), z3.Implies(a == 0, t == 0),
            z3.Implies(a >= 0, t <= k * a), z3.Implies(a <= 0, t >= k * a)]


def _atan_laws(a: z3.ArithRef, t: z3.ArithRef) -> list[z3.BoolRef]:
    # |t| < pi/2 is added by the translator, with the same enclosure of pi as the claim's
    return [z3.Implies(a > 0, t > 0), z3.Implies(a < 0, t < 0), z3.Implies(a == 0, t == 0),
            z3.Implies(a >= 0, t <= a), z3.Implies(a <= 0, t >= a)]


def _exp_laws(a: z3.ArithRef, e: z3.ArithRef) -> list[z3.BoolRef]:
    return [e > 0, e >= 1 + a, z3.Implies(a < 1, e * (1 - a) <= 1),
            z3.Implies(a > 0, e > 1), z3.Implies(a < 0, e < 1), z3.Implies(a == 0, e == 1)]


_ATOMS: dict[type, _AtomLaw] = {
    sigmoid: _AtomLaw("sigmoid", "s in (0, 1), sign(s - 1/2) = sign({a}), s - 1/2 between 0 and {a}/4",
                      _sigmoid_laws, lambda u, v: u + v == 1),
    sp.tanh: _AtomLaw("tanh", "t in (-1, 1), sign(t) = sign({a}), t between 0 and {a}",
                      _tanh_laws, lambda u, v: u + v == 0),
    sp.erf: _AtomLaw("erf", "t in (-1, 1), sign(t) = sign({a}), t between 0 and 1.1284*{a}",
                     _erf_laws, lambda u, v: u + v == 0),
    sp.atan: _AtomLaw("atan", "t in (-pi/2, pi/2), sign(t) = sign({a}), t between 0 and {a}",
                      _atan_laws, lambda u, v: u + v == 0),
    sp.exp: _AtomLaw("exp", "e > 0, e >= 1 + {a}, e*(1 - {a}) <= 1 if {a} < 1, sign(e - 1) = sign({a})",
                     _exp_laws, lambda u, v: u * v == 1),
}

# Elementary functions whose value at a constant argument is enclosed by certified evalf.
_CONSTANT_FUNCTIONS: tuple[type, ...] = (
    sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.asin, sp.acos, sp.atan,
    sp.sinh, sp.cosh, sp.tanh, sp.erf, sigmoid,
)


def _short(e: sp.Basic, limit: int = 50) -> str:
    text = str(sp.sstr(e))
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Translator:
    """SymPy -> z3, node by node, with memoised (value, definedness) pairs."""

    def __init__(self, ctx: z3.Context) -> None:
        self.ctx = ctx
        self.true = z3.BoolVal(True, ctx)
        self.false = z3.BoolVal(False, ctx)
        self.vars: dict[sp.Symbol, z3.ArithRef] = {}
        self.int_vars: dict[sp.Symbol, z3.ArithRef] = {}  # the z3 Int behind an integer symbol
        self.facts: list[z3.BoolRef] = []  # true laws about fresh variables
        self.memo: dict[sp.Basic, tuple[z3.ArithRef, z3.BoolRef]] = {}
        self.bool_memo: dict[sp.Basic, tuple[z3.BoolRef, z3.BoolRef]] = {}
        self.inverses: dict[tuple[sp.Basic, int], z3.ArithRef] = {}
        self.roots: dict[tuple[sp.Basic, int], z3.ArithRef] = {}
        self.atoms: dict[type, list[tuple[z3.ArithRef, z3.ArithRef]]] = {}
        self.notes: list[str] = []  # abstractions, in the order met
        self.dropped: list[str] = []  # hypotheses not encoded
        self.abstracted = False
        self.uses_int = False
        self.count = 0

    # -- helpers ----------------------------------------------------------
    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def fresh_real(self) -> z3.ArithRef:
        return z3.Real(self._name("k"), self.ctx)

    def fresh_int(self) -> z3.ArithRef:
        self.uses_int = True
        return z3.Int(self._name("n"), self.ctx)

    def num(self, value: sp.Rational) -> z3.ArithRef:
        # A numeral from two Python integers (z3 takes numerals as decimal text; no formula is parsed).
        if max(int(value.p).bit_length(), int(value.q).bit_length()) > 2 * MAX_BITS:
            raise _Refuse("a number is too large")  # e.g. the enclosure of exp(exp(10))
        return z3.RealVal(Fraction(int(value.p), int(value.q)), self.ctx)

    def conj(self, items: list[z3.BoolRef]) -> z3.BoolRef:
        kept = [c for c in items if not z3.is_true(c)]
        if any(z3.is_false(c) for c in kept):
            return self.false
        if not kept:
            return self.true
        return kept[0] if len(kept) == 1 else z3.And(*kept)

    # -- symbols ----------------------------------------------------------
    def add_symbol(self, s: sp.Symbol, iv: Interval | None) -> list[z3.BoolRef]:
        """Register ``s``; return the constraints from its assumptions and interval."""
        integer = s.is_integer is True or (iv is not None and iv.integer)
        cons: list[z3.BoolRef] = []
        if integer:
            n = self.fresh_int()
            v = z3.ToReal(n)
            self.int_vars[s] = n
            if s.is_even is True:
                cons.append(n == 2 * self.fresh_int())
            if s.is_odd is True:
                cons.append(n == 2 * self.fresh_int() + 1)
        else:
            v = z3.Real(self._name("x"), self.ctx)
        self.vars[s] = v
        if s.is_zero is True:
            cons.append(v == 0)
        if s.is_positive is True:
            cons.append(v > 0)
        elif s.is_nonnegative is True:
            cons.append(v >= 0)
        if s.is_negative is True:
            cons.append(v < 0)
        elif s.is_nonpositive is True:
            cons.append(v <= 0)
        if s.is_nonzero is True:
            cons.append(v != 0)
        for name in ("rational", "irrational", "algebraic", "transcendental", "prime", "composite",
                     "noninteger"):
            if getattr(s, f"is_{name}") is True and not (integer and name in ("rational", "algebraic")):
                self.dropped.append(f"{name} {s}")
        if iv is not None:
            for end, is_open, lower in ((iv.lo, iv.lo_open, True), (iv.hi, iv.hi_open, False)):
                if end.is_finite is not True:
                    continue
                if _size_problem(end) is not None:
                    raise _Refuse("a bound is too large")
                b, bdef = self.real(_exact_floats(end))
                if not z3.is_true(bdef):
                    raise _Refuse("a bound that is not a number")
                if lower:
                    cons.append(v > b if is_open else v >= b)
                else:
                    cons.append(v < b if is_open else v <= b)
        return cons

    # -- terms ------------------------------------------------------------
    def real(self, e: sp.Basic) -> tuple[z3.ArithRef, z3.BoolRef]:
        """``e``'s value (total extension) and the condition under which ``e`` is defined."""
        hit = self.memo.get(e)
        if hit is None:
            hit = self._real(e)
            self.memo[e] = hit
        return hit

    def _real(self, e: sp.Basic) -> tuple[z3.ArithRef, z3.BoolRef]:
        if isinstance(e, sp.Symbol):
            if e not in self.vars:
                raise _Refuse(f"unregistered symbol {e}")
            return self.vars[e], self.true
        if isinstance(e, sp.Rational):
            return self.num(e), self.true
        if isinstance(e, sp.Float):
            if e.is_finite is not True:
                raise _Refuse("a Float that is not finite")
            return self.num(sp.Rational(e)), self.true
        if isinstance(e, sp.Number):  # oo, zoo, nan
            raise _Refuse(f"the number {e}")
        if isinstance(e, sp.Add):
            parts = [self.real(a) for a in e.args]
            return z3.Sum([p[0] for p in parts]), self.conj([p[1] for p in parts])
        if isinstance(e, sp.Mul):
            parts = [self.real(a) for a in e.args]
            return z3.Product([p[0] for p in parts]), self.conj([p[1] for p in parts])
        if isinstance(e, sp.Pow):
            return self._pow(e)
        if isinstance(e, sp.Abs):
            a, d = self.real(e.args[0])
            return z3.If(a >= 0, a, -a), d
        if isinstance(e, (sp.Max, sp.Min)):
            parts = [self.real(a) for a in e.args]
            value = parts[0][0]
            for p in parts[1:]:
                value = z3.If(p[0] >= value, p[0], value) if isinstance(e, sp.Max) \
                    else z3.If(p[0] <= value, p[0], value)
            return value, self.conj([p[1] for p in parts])
        if isinstance(e, sp.sign):
            a, d = self.real(e.args[0])
            one = z3.RealVal(1, self.ctx)
            zero = z3.RealVal(0, self.ctx)
            return z3.If(a > 0, one, z3.If(a < 0, -one, zero)), d
        if isinstance(e, sp.Heaviside):
            return self._heaviside(e)
        if isinstance(e, (sp.floor, sp.ceiling)):
            a, d = self.real(e.args[0])
            n = z3.ToReal(self.fresh_int())
            if isinstance(e, sp.floor):
                self.facts += [n <= a, a < n + 1]
            else:
                self.facts += [n - 1 < a, a <= n]
            return n, d
        if isinstance(e, sp.Piecewise):
            return self._piecewise(e)
        if not e.free_symbols and (isinstance(e, sp.NumberSymbol) or isinstance(e, _CONSTANT_FUNCTIONS)):
            return self._enclose(e), self.true
        law = _ATOMS.get(type(e))
        if law is not None and len(e.args) == 1:
            return self._atom(e, law)
        raise _Refuse(f"cannot encode {_short(e)}")

    def _power(self, b: z3.ArithRef, n: int) -> z3.ArithRef:
        if n == 0:
            return z3.RealVal(1, self.ctx)
        if n == 1:
            return b
        return b ** n

    def _inverse(self, key: tuple[sp.Basic, int], q: z3.ArithRef) -> z3.ArithRef:
        """``w`` with ``q != 0 -> w*q = 1`` (one per SymPy term)."""
        w = self.inverses.get(key)
        if w is None:
            w = self.fresh_real()
            self.facts.append(z3.Implies(q != 0, w * q == 1))
            self.inverses[key] = w
        return w

    def _pow(self, e: sp.Pow) -> tuple[z3.ArithRef, z3.BoolRef]:
        base, ex = e.args
        if isinstance(ex, sp.Float):
            ex = sp.Rational(ex)
        if not isinstance(ex, sp.Rational):
            raise _Refuse(f"a power with exponent {_short(ex)}")
        p, q = int(ex.p), int(ex.q)
        if abs(p) > MAX_EXPONENT or q > MAX_ROOT:
            raise _Refuse(f"the exponent {ex} is too large")
        b, bdef = self.real(base)
        if q == 1:
            if p >= 0:
                return self._power(b, p), bdef
            w = self._inverse((base, 1), b)
            return self._power(w, -p), self.conj([bdef, b != 0])
        r = self.roots.get((base, q))
        if r is None:
            r = self.fresh_real()
            self.facts.append(z3.Implies(b >= 0, z3.And(r >= 0, r ** q == b)))
            self.roots[(base, q)] = r
        if p > 0:
            return self._power(r, p), self.conj([bdef, b >= 0])
        w = self._inverse((base, q), r)
        return self._power(w, -p), self.conj([bdef, b > 0])

    def _heaviside(self, e: sp.Heaviside) -> tuple[z3.ArithRef, z3.BoolRef]:
        a, d = self.real(e.args[0])
        one = z3.RealVal(1, self.ctx)
        zero = z3.RealVal(0, self.ctx)
        at_zero = e.args[1] if len(e.args) > 1 else sp.nan
        if at_zero is sp.nan:
            # the value at 0 is undefined: a point with a = 0 is not in the domain of expr
            return z3.If(a > 0, one, zero), self.conj([d, a != 0])
        if not isinstance(at_zero, (sp.Rational, sp.Float)):
            raise _Refuse(f"Heaviside with value {_short(at_zero)} at 0")
        v, _ = self.real(at_zero)
        return z3.If(a > 0, one, z3.If(a < 0, zero, v)), d

    def _piecewise(self, e: sp.Piecewise) -> tuple[z3.ArithRef, z3.BoolRef]:
        value: z3.ArithRef | None = None
        defined = self.false  # no condition holds: undefined (SymPy gives nan)
        for pair in reversed(e.args):
            c, cdef = self.boolean(pair.cond)
            v, vdef = self.real(pair.expr)
            value = v if value is None else z3.If(c, v, value)
            if z3.is_true(c):
                defined = self.conj([cdef, vdef])
            else:
                defined = self.conj([cdef, z3.If(c, vdef, defined)])
        if value is None:
            raise _Refuse("an empty Piecewise")
        return value, defined

    def _enclose(self, e: sp.Expr) -> z3.ArithRef:
        """A constant as a variable in a certified rational interval."""
        if e.has(sp.log):
            # SymPy's evalf gives log(u) = 0 "exactly" for u within ~1e-60 of 1: balls, or nothing.
            value = intervals.number_value(e, 40)
            if value is None:
                raise _Refuse(f"cannot evaluate {_short(e)} in ball arithmetic")
        else:
            try:
                value = e.evalf(40, strict=True, maxn=400)
            except (PrecisionExhausted, ValueError, TypeError) as exc:
                raise _Refuse(f"cannot evaluate {_short(e)}") from exc
        if not isinstance(value, sp.Float) or value == 0:
            raise _Refuse(f"{_short(e)} is not a nonzero real number")
        centre = sp.Rational(value)
        margin = abs(centre) / 10 ** 30
        c = self.fresh_real()
        self.facts += [c >= self.num(centre - margin), c <= self.num(centre + margin)]
        self.notes.append(f"{_short(e)} enclosed in a rational interval of relative width 2e-30")
        self.abstracted = True
        return c

    def _atom(self, e: sp.Expr, law: _AtomLaw) -> tuple[z3.ArithRef, z3.BoolRef]:
        a, d = self.real(e.args[0])
        v = self.fresh_real()
        self.facts += law.laws(a, v)
        if isinstance(e, sp.atan):  # atan maps the reals onto (-pi/2, pi/2)
            half_pi = self.real(sp.pi)[0] / 2
            self.facts += [v > -half_pi, v < half_pi]
        seen = self.atoms.setdefault(type(e), [])
        if len(seen) < MAX_ATOMS_FOR_PAIRS:
            for b, u in seen:
                # increasing: a < b -> f(a) < f(b); a function: a = b -> f(a) = f(b)
                self.facts += [z3.Implies(a < b, v < u), z3.Implies(b < a, u < v),
                               z3.Implies(a == b, v == u), z3.Implies(a + b == 0, law.symmetry(v, u))]
            seen.append((a, v))
        arg = e.args[0]
        if isinstance(arg, (sp.Symbol, sp.Number)):
            summary = law.summary.format(a=str(arg))
        else:
            summary = f"{law.summary.format(a='a')} (a = {_short(arg, 40)})"
        self.notes.append(f"{_short(e)} abstracted to {summary}")
        self.abstracted = True
        return v, d

    # -- where SymPy's value and the real-analytic value may part -----------
    def risks(self, e: sp.Basic, context: int, out: list[z3.BoolRef], seen: set[tuple[sp.Basic, int]]) -> None:
        """Collect the conditions under which SymPy's evaluation of ``e`` may be a finite real
        number although ``e`` is undefined here (see ``_TOP``); ``e`` must have been translated."""
        if (e, context) in seen or not e.args:
            return
        seen.add((e, context))
        if isinstance(e, sp.Pow):
            ex = sp.Rational(e.exp) if isinstance(e.exp, sp.Float) else e.exp
            b, bdef = self.real(e.base)
            if isinstance(ex, sp.Rational) and ex.q != 1:
                # SymPy's principal root of a negative number is complex, and complex values can
                # combine into real ones: (x + 1)*sqrt(x) is 0 at x = -1.
                out.append(self.conj([bdef, b < 0]))
            if ex.is_negative and context == _UNSAFE:
                out.append(self.conj([bdef, b == 0]))  # 1/0 = zoo, and e.g. 1/zoo = 0
            self.risks(e.base, context if ex.is_positive else _UNSAFE, out, seen)
        elif isinstance(e, (sp.Add, sp.Mul)):
            for a in e.args:
                self.risks(a, context, out, seen)
        elif isinstance(e, sp.Abs):  # Abs(zoo) = oo: not finite, but oo > 0 is True
            self.risks(e.args[0], context if context == _TOP else _UNSAFE, out, seen)
        elif isinstance(e, sp.Piecewise):
            conditions = [self.boolean(pair.cond)[0] for pair in e.args]
            if context == _UNSAFE and not any(z3.is_true(c) for c in conditions):
                out.append(z3.And(*[z3.Not(c) for c in conditions]))  # no branch: nan
            for pair in e.args:
                self.risks(pair.expr, context, out, seen)
                self.condition_risks(pair.cond, out, seen)
        elif isinstance(e, sp.Heaviside):
            a, adef = self.real(e.args[0])
            if (len(e.args) == 1 or e.args[1] is sp.nan) and context == _UNSAFE:
                out.append(self.conj([adef, a == 0]))  # nan
            self.risks(e.args[0], _UNSAFE, out, seen)
        else:  # atoms (exp(-oo) = 0, tanh(oo) = 1), Max, Min (Min(oo, 1) = 1), sign, floor, ...
            for a in e.args:
                self.risks(a, _UNSAFE, out, seen)

    def condition_risks(self, c: sp.Basic, out: list[z3.BoolRef], seen: set[tuple[sp.Basic, int]]) -> None:
        """Inequalities raise on zoo, nan and complex sides (undefined, as encoded); Eq and Ne do not."""
        if isinstance(c, (sp.And, sp.Or, sp.Not)):
            for a in c.args:
                self.condition_risks(a, out, seen)
        elif isinstance(c, (sp.Lt, sp.Le, sp.Gt, sp.Ge)):
            self.risks(c.lhs, _INEQUALITY, out, seen)
            self.risks(c.rhs, _INEQUALITY, out, seen)
        elif isinstance(c, (sp.Eq, sp.Ne)):
            self.risks(c.lhs, _UNSAFE, out, seen)
            self.risks(c.rhs, _UNSAFE, out, seen)

    # -- conditions -------------------------------------------------------
    def boolean(self, c: sp.Basic) -> tuple[z3.BoolRef, z3.BoolRef]:
        """A condition's truth value and the condition under which it is defined."""
        hit = self.bool_memo.get(c)
        if hit is None:
            hit = self._boolean(c)
            self.bool_memo[c] = hit
        return hit

    def _boolean(self, c: sp.Basic) -> tuple[z3.BoolRef, z3.BoolRef]:
        if c is sp.true:
            return self.true, self.true
        if c is sp.false:
            return self.false, self.true
        if isinstance(c, (sp.And, sp.Or)):
            parts = [self.boolean(a) for a in c.args]
            values = [p[0] for p in parts]
            combined = z3.And(*values) if isinstance(c, sp.And) else z3.Or(*values)
            return combined, self.conj([p[1] for p in parts])
        if isinstance(c, sp.Not):
            v, d = self.boolean(c.args[0])
            return z3.Not(v), d
        if isinstance(c, (sp.Eq, sp.Ne, sp.Lt, sp.Le, sp.Gt, sp.Ge)):
            (lhs, ldef), (rhs, rdef) = self.real(c.lhs), self.real(c.rhs)
            relation = {sp.Eq: lhs == rhs, sp.Ne: lhs != rhs, sp.Lt: lhs < rhs, sp.Le: lhs <= rhs,
                        sp.Gt: lhs > rhs, sp.Ge: lhs >= rhs}[type(c)]
            return relation, self.conj([ldef, rdef])
        raise _Refuse(f"cannot encode the condition {_short(c)}")


# ---------------------------------------------------------------------------
# Checking a candidate point exactly


def _exact_floats(e: sp.Basic) -> sp.Basic:
    """Floats replaced by the exact rationals they are (so evaluation rounds nothing)."""
    floats = e.atoms(sp.Float)
    if not floats:
        return e
    return e.xreplace({f: sp.Rational(f) for f in floats if f.is_finite})


def _sign(value: sp.Basic) -> int | None:
    """The exact sign of a number, or None (not a finite real number, or undecided)."""
    if not isinstance(value, sp.Expr) or value.free_symbols:
        return None
    if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo, sp.I):
        return None
    if isinstance(value, sp.Rational):
        return int(bool(value > 0)) - int(bool(value < 0))
    if value.is_extended_real is False:
        return None
    certain = _certified_sign(value, 100)
    if certain is not None:
        return certain
    # An exact zero never reaches full relative precision: decide it exactly if algebraic, with
    # a bounded amount of work (the degree of the number field), so the answer is deterministic.
    degree = _algebraic_degree(value)
    if degree is not None and degree <= MAX_FIELD_DEGREE and sp.count_ops(value) <= MAX_NODES // 10:
        x = sp.Dummy("x")
        try:
            if sp.minimal_polynomial(value, x) == x:
                return 0
        except (NotImplementedError, ValueError, TypeError, ArithmeticError):
            return None
    return _certified_sign(value, 800)


def _certified_sign(value: sp.Expr, maxn: int) -> int | None:
    """The sign from a certified 50-digit evaluation (None: not certified, or zero)."""
    try:
        num = value.evalf(50, strict=True, maxn=maxn)
    except (PrecisionExhausted, ValueError, TypeError, ArithmeticError):
        return None
    if isinstance(num, sp.Float) and num != 0:
        return 1 if num > 0 else -1
    return None


def _algebraic_degree(value: sp.Basic) -> int | None:
    """A bound on the degree of the field generated by a real algebraic number built from
    rationals and real roots of polynomials (CRootOf) by +, * and rational powers; else None."""
    generators: dict[sp.Basic, int] = {}

    def walk(e: sp.Basic) -> bool:
        if isinstance(e, sp.Rational):
            return True
        if isinstance(e, sp.CRootOf):
            generators[e] = int(e.poly.degree())
            return True
        if isinstance(e, sp.Pow) and isinstance(e.exp, sp.Rational):
            if e.exp.q != 1:
                generators[e] = int(e.exp.q) * 2  # a root, and a sign choice
            return walk(e.base)
        if isinstance(e, (sp.Add, sp.Mul)):
            return all(walk(a) for a in e.args)
        return False

    if not walk(value):
        return None
    degree = 1
    for d in generators.values():
        degree *= d
    return degree


def _holds(c: sp.Basic, point: dict[sp.Symbol, sp.Expr]) -> bool:
    """Whether condition ``c`` is exactly true at ``point`` (undecided counts as no)."""
    if c is sp.true:
        return True
    if isinstance(c, sp.And):
        return all(_holds(a, point) for a in c.args)
    if isinstance(c, sp.Or):
        return any(_holds(a, point) for a in c.args)
    if isinstance(c, sp.Not):
        inner = c.args[0]
        if isinstance(inner, (sp.Eq, sp.Ne, sp.Lt, sp.Le, sp.Gt, sp.Ge)):
            return _holds(inner.negated, point)
        return False
    if isinstance(c, (sp.Eq, sp.Ne, sp.Lt, sp.Le, sp.Gt, sp.Ge)):
        try:
            lhs, rhs = c.lhs.xreplace(point), c.rhs.xreplace(point)
        except (TypeError, ValueError, ArithmeticError):
            return False
        if _sign(lhs) is None or _sign(rhs) is None:
            return False  # a side that is not a finite real number there
        if not (_defined_at(c.lhs, point, {}) and _defined_at(c.rhs, point, {})):
            return False
        s = _sign(lhs - rhs)
        if s is None:
            return False
        return {sp.Eq: s == 0, sp.Ne: s != 0, sp.Lt: s < 0, sp.Le: s <= 0,
                sp.Gt: s > 0, sp.Ge: s >= 0}[type(c)]
    return False


def _defined_at(e: sp.Basic, point: dict[sp.Symbol, sp.Expr], memo: dict[sp.Basic, bool]) -> bool:
    """Whether ``e`` is defined at ``point`` in the real-analytic sense the encoding uses.

    Every evaluated root has a base >= 0 (> 0 for a negative exponent), every divisor is
    nonzero, every step function's argument is nonzero (its value at 0 is a convention), and
    a Piecewise is checked in the branch it takes. (SymPy may still give such a point a real
    value: ``(x + 1)*sqrt(x)`` is 0 at ``x = -1``; it is not a counterexample here.)
    """
    if e in memo:
        return memo[e]
    ok = True
    if isinstance(e, sp.Piecewise):
        ok = False
        for pair in e.args:
            if pair.cond is sp.true or _holds(pair.cond, point):
                ok = _defined_at(pair.expr, point, memo)
                break
            if not _holds(sp.Not(pair.cond), point):
                break  # undecided: not verified
    elif isinstance(e, (sp.Pow, sp.Heaviside)):
        arg = e.base if isinstance(e, sp.Pow) else e.args[0]
        ok = _defined_at(arg, point, memo)
        if ok:
            sign = _sign(arg.xreplace(point))
            if isinstance(e, sp.Heaviside):
                ok = sign is not None and sign != 0
            else:
                ex = sp.Rational(e.exp) if isinstance(e.exp, sp.Float) else e.exp
                ok = sign is not None and (sign > 0 or (sign == 0 and bool(ex > 0))
                                           or (sign < 0 and isinstance(ex, sp.Integer)))
    else:
        ok = all(_defined_at(a, point, memo) for a in e.args if isinstance(a, sp.Expr))
    memo[e] = ok
    return ok


def _in_interval(value: sp.Expr, iv: Interval) -> bool:
    if iv.lo.is_finite:
        s = _sign(value - iv.lo)
        if s is None or s < 0 or (s == 0 and iv.lo_open):
            return False
    if iv.hi.is_finite:
        s = _sign(iv.hi - value)
        if s is None or s < 0 or (s == 0 and iv.hi_open):
            return False
    return True


def _fails_at(expr: sp.Expr, goal: _Goal, point: dict[sp.Symbol, sp.Expr], domain: Domain) -> bool:
    """Whether ``point`` is in the domain, ``expr`` is defined there, and the claim fails."""
    try:
        return _check_point(expr, goal, point, domain)
    except (TypeError, ValueError, ArithmeticError, NotImplementedError, RecursionError):
        return False  # not verified


def _check_point(expr: sp.Expr, goal: _Goal, point: dict[sp.Symbol, sp.Expr], domain: Domain) -> bool:
    for s, value in point.items():
        if value.free_symbols or _sign(value) is None:
            return False
        for name, holds in s.assumptions0.items():
            if holds is True and getattr(value, f"is_{name}") is not True:
                return False
        iv = domain.intervals.get(s)
        if iv is not None and not (_in_interval(value, iv)
                                   and (not iv.integer or value.is_integer is True)):
            return False
    if not all(_holds(_exact_floats(f), point) for f in domain.filters):
        return False
    if not _defined_at(expr, point, {}):
        return False
    try:
        value = expr.xreplace(point)
    except (TypeError, ValueError, ArithmeticError):
        return False
    s = _sign(value)
    if s is None:
        return False
    if goal == "nonnegative":
        return s < 0
    if goal == "positive":
        return s <= 0
    return s != 0


def _to_sympy(v: z3.ExprRef) -> tuple[sp.Expr, sp.Expr | None] | None:
    """A z3 model value as (exact SymPy number, rational approximation or None)."""
    if z3.is_int_value(v):
        return sp.Integer(v.as_long()), None
    if z3.is_rational_value(v):
        return sp.Rational(v.numerator_as_long(), v.denominator_as_long()), None
    if z3.is_algebraic_value(v):
        approx = v.approx(30)
        rational = sp.Rational(approx.numerator_as_long(), approx.denominator_as_long())
        coeffs = [sp.Integer(c.as_long()) for c in v.poly()]  # constant term first
        x = sp.Dummy("x")
        poly = sp.Poly(list(reversed(coeffs)), x)
        if poly.degree() > 8:
            return rational, rational
        try:
            exact = sp.rootof(poly, v.index() - 1, radicals=True)  # z3 counts real roots from 1
        except (NotImplementedError, IndexError, ValueError, sp.PolynomialError):
            return rational, rational
        return exact, rational
    return None


# ---------------------------------------------------------------------------
# The procedures


def _logic_name(tr: _Translator) -> str:
    return "z3 nlsat + integers" if tr.uses_int else "z3 nlsat"


def _solver(tr: _Translator, rlimit: int, seconds: float) -> z3.Solver | None:
    """A fresh solver in the translator's context: fixed seed, resource limit, timeout as a safety net."""
    if seconds <= 0:
        return None
    solver = z3.SolverFor("QF_NIRA" if tr.uses_int else "QF_NRA", ctx=tr.ctx)
    solver.set("random_seed", 0)
    solver.set("rlimit", int(rlimit))  # per check, counted from the context's current use
    solver.set("timeout", max(1, int(seconds * 1000)))
    return solver


class _Budget:
    """z3 checks in one context with one deterministic resource limit each and a shared deadline."""

    def __init__(self, tr: _Translator, rlimit: int, seconds: float) -> None:
        self.tr = tr
        self.rlimit = rlimit
        self.end = time.perf_counter() + seconds

    @property
    def left(self) -> float:
        return self.end - time.perf_counter()

    def check(self, formulas: list[z3.BoolRef]) -> tuple[z3.CheckSatResult, z3.ModelRef | None]:
        solver = _solver(self.tr, self.rlimit, self.left)
        if solver is None:
            return z3.unknown, None
        solver.add(*formulas)
        answer = solver.check()
        return answer, (solver.model() if answer == z3.sat else None)

    def unsatisfiable(self, formulas: list[z3.BoolRef]) -> bool:
        """Whether z3 shows ``formulas`` unsatisfiable (unknown counts as no)."""
        return bool(self.check(formulas)[0] == z3.unsat)


def _decide(expr: sp.Expr, domain: Domain, goal: _Goal, rlimit: int, seconds: float) -> Decision | None:
    if seconds <= 0 or rlimit <= 0 or not isinstance(expr, sp.Expr):
        return None
    if isinstance(expr, (sp.MatrixBase, sp.MatrixExpr)) or expr.has(sp.Subs, sp.Derivative, sp.Integral):
        return None
    symbols = set(expr.free_symbols) | set(domain.intervals)
    if any(not isinstance(s, sp.Symbol) or s.is_real is not True for s in symbols):
        return None  # complex or extended-real symbols are handled elsewhere
    try:
        return _run(_exact_floats(expr), domain, symbols, goal, rlimit, seconds)
    except (_Refuse, z3.Z3Exception, RecursionError, ValueError, TypeError, ArithmeticError,
            NotImplementedError):
        return None  # not encodable, or SymPy / z3 refused an input: not applicable, never a guess


def _run(expr: sp.Expr, domain: Domain, symbols: set[sp.Symbol], goal: _Goal, rlimit: int,
         seconds: float) -> Decision | None:
    if _size_problem(expr) is not None:
        return None
    tr = _Translator(z3.Context())
    budget = _Budget(tr, rlimit, seconds)
    # The domain: intervals, assumptions, and the side conditions that can be encoded faithfully.
    constraints: list[z3.BoolRef] = []
    for s in sorted(symbols, key=lambda s: (str(s), sp.default_sort_key(s))):
        constraints += tr.add_symbol(s, domain.intervals.get(s))
    dropped_filters: list[sp.Basic] = []
    for f in domain.filters:
        f = _exact_floats(f)
        try:
            if _size_problem(f) is not None:
                raise _Refuse("too large")
            c, cdef = tr.boolean(f)
            filter_risks: list[z3.BoolRef] = []
            tr.condition_risks(f, filter_risks, set())
        except _Refuse:
            dropped_filters.append(f)
            continue
        if filter_risks and not budget.unsatisfiable([*constraints, *tr.facts, z3.Or(*filter_risks)]):
            dropped_filters.append(f)  # SymPy might count points the encoding leaves out
            continue
        constraints += [cdef, c]
    # The claim's negation.
    value, defined = tr.real(expr)
    expr_risks: list[z3.BoolRef] = []
    tr.risks(expr, _TOP, expr_risks, set())
    negation = {"nonnegative": value < 0, "positive": value <= 0, "zero": value != 0}[goal]
    answer, model = budget.check([*constraints, *tr.facts, defined, negation])

    logic = _logic_name(tr)
    notes = list(tr.notes)
    notes += [f"assumption {d} not used" for d in tr.dropped]
    notes += [f"side condition {_short(f)} not used" for f in dropped_filters]
    domain_facts = [*constraints, *tr.facts]
    if answer == z3.unsat:
        # Where SymPy might give a finite real value although the encoding has none (a root of a
        # negative number; 1/0 absorbed as in 1/(1/x + 1)), the claim was not checked: no proof.
        if expr_risks and not budget.unsatisfiable([*domain_facts, z3.Or(*expr_risks)]):
            return None
        # Not vacuous: an expression with no real value anywhere on the domain is not proved here.
        if budget.check([*domain_facts, defined])[0] != z3.sat:
            return None
        if not z3.is_true(defined) and not budget.unsatisfiable([*domain_facts, z3.Not(defined)]):
            notes.append("where the expression is defined")
        return Decision(True, "; ".join([f"real algebra ({logic}): negation unsatisfiable"] + notes))
    if model is None or dropped_filters:
        return None

    how = "a point of the z3 model" + (" (atoms abstracted)" if tr.abstracted else "")
    refuted = f"real algebra ({logic}): {how} where the claim fails by exact evaluation"
    for point in _points(model, tr):
        if _fails_at(expr, goal, point, domain):
            return Decision(False, refuted, point)
    # A step function at 0 has a conventional value, so such a point is never a counterexample:
    # look once more, away from every kink (a narrower search, so any model is still a candidate).
    steps = set(expr.atoms(sp.Heaviside)).union(*(f.atoms(sp.Heaviside) for f in domain.filters))
    if not steps:
        return None
    kinks = [tr.real(h.args[0])[0] != 0 for h in sorted(steps, key=sp.default_sort_key)]
    answer, model = budget.check([*domain_facts, defined, negation, *kinks])
    if model is None:
        return None
    for point in _points(model, tr):
        if _fails_at(expr, goal, point, domain):
            return Decision(False, refuted, point)
    return None


def _points(model: z3.ModelRef, tr: _Translator) -> list[dict[sp.Symbol, sp.Expr]]:
    """The model's point for the original symbols: exact, then rounded to rationals if it differs."""
    exact: dict[sp.Symbol, sp.Expr] = {}
    rounded: dict[sp.Symbol, sp.Expr] = {}
    for s, var in tr.vars.items():
        term = tr.int_vars.get(s, var)
        converted = _to_sympy(model.eval(term, model_completion=True))
        if converted is None:
            return []
        exact[s], approx = converted
        rounded[s] = exact[s] if approx is None else approx
    return [exact] if exact == rounded else [exact, rounded]


def decide_sign(expr: sp.Expr, domain: Domain, strict: bool, *, rlimit: int = 5_000_000,
                seconds: float = 2.0) -> Decision | None:
    """Decide whether expr >= 0 (strict: expr > 0) at every point of `domain` where expr is defined.

    Returns None when the expression cannot be encoded, z3 runs out of its
    resource limit or time, or z3's point does not verify exactly.
    """
    return _decide(expr, domain, "positive" if strict else "nonnegative", rlimit, seconds)


def decide_zero(expr: sp.Expr, domain: Domain, *, rlimit: int = 5_000_000,
                seconds: float = 2.0) -> Decision | None:
    """Decide whether expr == 0 at every point of `domain` where expr is defined (equalities a - b = 0)."""
    return _decide(expr, domain, "zero", rlimit, seconds)
