"""Tests of symgrad.intervals: rigorous arb enclosures and the branch-and-bound sign decision.

The oracle is an independent mpmath evaluator written here (not SymPy's evalf, not arb):
it walks the SymPy tree at 50 or 60 digits and raises ``Undefined`` where SymPy's real
semantics leave the expression undefined (log of a non-positive number, a zero
denominator, a fractional power of a negative number).
"""

from __future__ import annotations

import random
import time
from fractions import Fraction
from typing import Callable

import mpmath
import pytest
import sympy as sp

from symgrad.core.domain import Domain
from symgrad.core.functions import sigmoid
from symgrad.core.intervals import Decision, Enclosure, decide_sign, enclose

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
p = sp.Symbol("p", positive=True)
q = sp.Symbol("q", nonnegative=True)

SILU_SLOPE = sp.diff(x * sigmoid(x), x)  # x*(1 - sigmoid(x))*sigmoid(x) + sigmoid(x)
GELU_SLOPE = sp.diff(x * (1 + sp.erf(x / sp.sqrt(2))) / 2, x)
#: The catalog's sup |SiLU'|: a 30-digit Float (103 bits), 1.35e-31 above the true maximum.
SILU_SUP = sp.Float("1.09983932012886691695818492432071", precision=103)
#: The catalog's sup |GELU'|, attained at x = sqrt(2).
GELU_SUP = (1 + sp.erf(1)) / 2 + sp.exp(-1) / sp.sqrt(sp.pi)


# ---------------------------------------------------------------------------
# An independent mpmath oracle


class Undefined(Exception):
    pass


def mp_value(e: sp.Basic, env: dict[sp.Symbol, mpmath.mpf]) -> mpmath.mpf:
    if isinstance(e, sp.Symbol):
        return env[e]
    if e.is_Rational:
        return mpmath.mpf(int(e.p)) / int(e.q)
    if e.is_Float:
        return mpmath.mpf(e._mpf_)
    if e is sp.pi:
        return +mpmath.pi
    if e is sp.E:
        return +mpmath.e
    args = [mp_value(a, env) for a in e.args] if not isinstance(e, sp.Pow) else None
    if isinstance(e, sp.Add):
        return mpmath.fsum(args)
    if isinstance(e, sp.Mul):
        out = mpmath.mpf(1)
        for a in args:
            out *= a
        return out
    if isinstance(e, sp.Pow):
        base = mp_value(e.args[0], env)
        ex = e.args[1]
        if ex.is_Integer:
            if base == 0 and ex < 0:
                raise Undefined("0 ** negative")
            return base ** int(ex)
        if ex.is_Rational:
            if base < 0 or (base == 0 and ex < 0):
                raise Undefined("fractional power of a negative number")
            return mpmath.root(base, int(ex.q)) ** int(ex.p) if base != 0 else mpmath.mpf(0)
        if base <= 0:
            raise Undefined("real power of a non-positive number")
        return mpmath.exp(mp_value(ex, env) * mpmath.log(base))
    (a0, *_) = args
    if isinstance(e, sp.exp):
        return mpmath.exp(a0)
    if isinstance(e, sp.log):
        if a0 <= 0:
            raise Undefined("log of a non-positive number")
        return mpmath.log(a0)
    if isinstance(e, sigmoid):
        return 1 / (1 + mpmath.exp(-a0))
    simple: dict[type, Callable[[mpmath.mpf], mpmath.mpf]] = {
        sp.sin: mpmath.sin, sp.cos: mpmath.cos, sp.tanh: mpmath.tanh, sp.atan: mpmath.atan,
        sp.erf: mpmath.erf, sp.erfc: mpmath.erfc, sp.Abs: abs,
    }
    if type(e) in simple:
        return simple[type(e)](a0)
    if isinstance(e, sp.Max):
        return max(args)
    if isinstance(e, sp.Min):
        return min(args)
    raise NotImplementedError(type(e))


def mp_at(e: sp.Expr, point: dict[sp.Symbol, sp.Expr], digits: int) -> mpmath.mpf:
    with mpmath.workdps(digits):
        env = {s: mpmath.mpf(int(v.p)) / int(v.q) for s, v in point.items()}
        return mp_value(e, env)


def exact(a: object) -> Fraction | float:
    """An exact arb end, or an mpmath number, as an exact Fraction (infinite ends as +-inf floats)."""
    if isinstance(a, mpmath.mpf):
        sign, man, exp, _ = a._mpf_
        if not man:
            return Fraction(0)
        value = Fraction(int(man)) * Fraction(2) ** int(exp)
        return -value if sign else value
    if not a.is_finite():  # type: ignore[attr-defined]
        return float("inf") if a > 0 else float("-inf")  # type: ignore[operator]
    man, exp = a.man_exp()  # type: ignore[attr-defined]
    return Fraction(int(man)) * Fraction(2) ** int(exp)


def inside(value: mpmath.mpf, enc: Enclosure, rel: Fraction) -> bool:
    """value in [lo, hi] up to a relative slack (the oracle's own rounding), compared exactly."""
    v = exact(value)
    assert isinstance(v, Fraction)
    slack = rel * (1 + abs(v))
    lo, hi = exact(enc.lo), exact(enc.hi)
    return (lo == float("-inf") or lo - slack <= v) and (hi == float("inf") or v <= hi + slack)


# ---------------------------------------------------------------------------
# 1. Enclosure soundness against mpmath

ENCLOSED: list[tuple[sp.Expr, dict[sp.Symbol, str]]] = [
    # (expression, kind of box per variable: "any" (may be unbounded), "pos" (>= 0), "small")
    (sp.exp(x) * sp.sin(y) + sp.cos(x * y), {x: "small", y: "small"}),
    (sp.log(1 + x**2) - sp.atan(y) / 3, {x: "any", y: "any"}),
    (sp.sqrt(x**2 + 1) * sp.tanh(y - x), {x: "any", y: "any"}),
    (sp.erf(x) - sp.erfc(y) + sigmoid(x * y), {x: "any", y: "any"}),
    (sp.Abs(x - y) + sp.Max(x, y) - sp.Min(x, 2 * y), {x: "any", y: "any"}),
    (x**3 - 2 * x * y + y**-2, {x: "any", y: "any"}),
    (x * sp.exp(-x), {x: "any"}),
    (SILU_SLOPE, {x: "any"}),
    (GELU_SLOPE, {x: "any"}),
    ((x**2 + 1) ** sp.Rational(1, 3) + x ** sp.Rational(3, 2) - x ** sp.Rational(-1, 2), {x: "pos"}),
    (2**x - x**2 + sp.pi * y - sp.E, {x: "any", y: "small"}),
    (sp.sin(x) ** 2 + sp.cos(x) ** 2 - sp.Float("0.1") * y, {x: "any", y: "any"}),
    (1 / (1 + x**2) - sp.exp(-(x**2)), {x: "any"}),
    (sp.atan(1 / x) + sp.atan(x), {x: "any"}),
    (sp.log(x) / x, {x: "pos"}),
    (x**x - sp.sqrt(x), {x: "pos"}),
    (sp.tanh(x) * x - sp.Abs(x) + sp.sin(3 * x) * sp.cos(x / 2), {x: "any"}),
    (sigmoid(-x) * x**2 + sp.erfc(-x) * sp.exp(-(x**2)), {x: "any"}),
    ((x - y) ** 4 - x * y + sp.Float(1.5) ** x, {x: "small", y: "small"}),
    (sp.log(sigmoid(x)) + x * (1 - sigmoid(x)) - sp.exp(x) * sp.erfc(x), {x: "any"}),
    (x ** sp.Float(0.5) + x ** sp.Float(-0.25) * sp.cos(x), {x: "pos"}),
    (sp.exp(x) - 1 - x - x**2 / 2, {x: "any"}),
]


def random_end(rng: random.Random, scale: float) -> Fraction:
    value = rng.uniform(-scale, scale)
    if rng.random() < 0.5:
        return Fraction(value).limit_denominator(rng.choice([1, 7, 64, 1000, 10**6]))
    return Fraction(value)


def random_side(rng: random.Random, kind: str) -> tuple[sp.Expr, sp.Expr]:
    scale = rng.choice([0.01, 1.0, 5.0, 40.0]) if kind != "small" else rng.choice([0.01, 1.0, 3.0])
    a, b = sorted((random_end(rng, scale), random_end(rng, scale)))
    if rng.random() < 0.1:
        b = a  # a point
    lo: sp.Expr = sp.Rational(a.numerator, a.denominator)
    hi: sp.Expr = sp.Rational(b.numerator, b.denominator)
    if kind == "pos":
        lo, hi = abs(lo), abs(hi)
        lo, hi = min(lo, hi), max(lo, hi)
        if rng.random() < 0.2:
            lo = sp.S.Zero
    if kind in ("any", "pos") and rng.random() < 0.3:
        hi = sp.oo
    if kind == "any" and rng.random() < 0.3:
        lo = -sp.oo
    return lo, hi


def random_point(rng: random.Random, lo: sp.Expr, hi: sp.Expr) -> sp.Rational:
    if rng.random() < 0.15 and lo.is_finite:
        return lo  # ends of closed boxes are points of the box
    if rng.random() < 0.15 and hi.is_finite:
        return hi
    if lo.is_finite and hi.is_finite:
        t = Fraction(rng.random())
        v = Fraction(int(lo.p), int(lo.q)) + t * Fraction(int((hi - lo).p), int((hi - lo).q))
    else:
        anchor = lo if lo.is_finite else hi if hi.is_finite else sp.S.Zero
        step = Fraction(10 ** rng.uniform(-3, 3))
        sign = 1 if lo.is_finite else -1 if hi.is_finite else rng.choice([1, -1])
        v = Fraction(int(anchor.p), int(anchor.q)) + sign * step
    v = v.limit_denominator(10**12) if rng.random() < 0.5 else v
    r = sp.Rational(v.numerator, v.denominator)
    if lo.is_finite and r < lo:
        r = lo
    if hi.is_finite and r > hi:
        r = hi
    return r


@pytest.mark.parametrize("index", range(len(ENCLOSED)))
def test_enclosure_contains_mpmath_value(index: int) -> None:
    expr, kinds = ENCLOSED[index]
    rng = random.Random(1000 + index)
    checked = 0
    for _ in range(25):
        box = {v: random_side(rng, kind) for v, kind in kinds.items()}
        prec = rng.choice([53, 53, 113, 300])
        enc = enclose(expr, box, prec=prec)
        for _ in range(6):
            point = {v: random_point(rng, *box[v]) for v in kinds}
            try:
                value = mp_at(expr, point, 50)
            except (Undefined, ZeroDivisionError):
                # a point where the expression is undefined: the box must not get an enclosure
                assert enc is None, (expr, box, point, enc)
                continue
            if enc is None:
                continue
            assert inside(value, enc, Fraction(1, 10**40)), (expr, box, point, value, enc)
            checked += 1
    assert checked > 20


def test_enclosure_contains_mpmath_value_at_many_tight_boxes() -> None:
    """Tiny boxes (width 2^-60) around random points: the enclosure is tight and still sound."""
    rng = random.Random(7)
    for expr, kinds in ENCLOSED:
        for _ in range(5):
            centre = {v: random_point(rng, *random_side(rng, "small" if k != "pos" else "pos")) for v, k in
                      kinds.items()}
            centre = {v: (c if c.is_finite else sp.S.One) for v, c in centre.items()}
            box = {v: (c, c + sp.Rational(1, 2**60)) for v, c in centre.items()}
            enc = enclose(expr, box, prec=200)
            try:
                value = mp_at(expr, centre, 50)
            except (Undefined, ZeroDivisionError):
                assert enc is None
                continue
            if enc is None:
                continue
            assert inside(value, enc, Fraction(1, 10**45)), (expr, box, value, enc)


def test_enclosure_ends_and_flags() -> None:
    e = enclose(sp.exp(x), {x: (-sp.oo, 0)})
    assert e is not None and e.lo == 0 and e.lo_open and e.hi == 1 and not e.hi_open
    e = enclose(sigmoid(x), {x: (-sp.oo, sp.oo)})
    assert e is not None and (e.lo, e.hi, e.lo_open, e.hi_open) == (0, 1, True, True)
    e = enclose(sp.tanh(x), {x: (20, sp.oo)})
    assert e is not None and e.hi == 1 and e.hi_open  # clamped to the never-attained sup
    e = enclose(1 / x, {x: (1, sp.oo)})
    assert e is not None and e.lo == 0 and e.lo_open and e.hi == 1
    e = enclose(x * sp.exp(-x), {x: (3, sp.oo)})  # 0*oo refined by monotonicity: x e^-x <= 3 e^-3
    assert e is not None and e.lo == 0 and 0.149 < float(exact(e.hi)) < 0.1494
    e = enclose(sp.sin(x), {x: (1, 2)})  # contains pi/2
    assert e is not None and e.hi == 1
    e = enclose(sp.cos(x), {x: (sp.Rational(1, 10), 3)})  # no multiple of 2 pi, no pi
    assert e is not None and e.lo > -1 and e.hi < 1


@pytest.mark.parametrize("expr, box", [
    (sp.log(x), {x: (0, 1)}),  # log 0
    (1 / x, {x: (-1, 1)}),
    (x ** sp.Rational(1, 3), {x: (-1, 1)}),  # SymPy's principal cube root is not real for x < 0
    (sp.sqrt(x - 1), {x: (0, 2)}),
    (x**x, {x: (0, 1)}),
    (sp.gamma(x), {x: (1, 2)}),  # unsupported function
    (sp.I * x, {x: (1, 2)}),
])
def test_enclosure_refuses(expr: sp.Expr, box: dict[sp.Symbol, tuple[object, object]]) -> None:
    assert enclose(expr, box) is None


# ---------------------------------------------------------------------------
# 2. Proofs

def claim(small: sp.Expr, big: sp.Expr, *, strict: bool = False, symbols: tuple[sp.Symbol, ...] = (),
          assume: tuple[sp.Basic, ...] = (), **kw: object) -> Decision | None:
    """Decide small <= big (small < big when strict)."""
    expr = big - small
    domain = Domain.build(symbols or tuple(expr.free_symbols), assume)
    return decide_sign(expr, domain, strict, **kw)  # type: ignore[arg-type]


PROVED: list[tuple[str, sp.Expr, sp.Expr, bool, tuple[sp.Basic, ...]]] = [
    ("exp(x) >= 1 + x", 1 + x, sp.exp(x), False, ()),
    ("log(p) <= p - 1", sp.log(p), p - 1, False, ()),
    ("|sin x| <= 1", sp.Abs(sp.sin(x)), sp.S.One, False, ()),
    ("tanh x <= 1", sp.tanh(x), sp.S.One, False, ()),
    ("tanh x < 1", sp.tanh(x), sp.S.One, True, ()),
    ("sigmoid x > 0", sp.S.Zero, sigmoid(x), True, ()),
    ("atan p + atan(1/p) <= pi/2 + 1e-30", sp.atan(p) + sp.atan(1 / p), sp.pi / 2 + sp.Float("1e-30"), False, ()),
    ("atan x + atan(1/x) >= -pi/2 - 1e-30 (x < 0)", -sp.pi / 2 - sp.Float("1e-30"), sp.atan(x) + sp.atan(1 / x),
     False, (x < 0,)),
    ("sigmoid' <= 1/4", sp.diff(sigmoid(x), x), sp.Rational(1, 4), False, ()),
    ("x exp(-x) <= exp(-1)", x * sp.exp(-x), sp.exp(-1), False, ()),
    ("SiLU' <= catalog sup", SILU_SLOPE, SILU_SUP, False, ()),
    ("SiLU' >= -catalog sup", -SILU_SUP, SILU_SLOPE, False, ()),
    ("GELU' <= (1 + erf 1)/2 + 1/(e sqrt pi)", GELU_SLOPE, GELU_SUP, False, ()),
    ("GELU' >= -(1 + erf 1)/2 - 1/(e sqrt pi)", -GELU_SUP, GELU_SLOPE, False, ()),
    ("exp(x) > 0", sp.S.Zero, sp.exp(x), True, ()),
    ("sqrt(q) <= (q + 1)/2", sp.sqrt(q), (q + 1) / 2, False, ()),
    ("x^2 - x + 1 > 0", sp.S.Zero, x**2 - x + 1, True, ()),
    ("sin x <= x on x >= 0", sp.sin(x), x, False, (x >= 0,)),
    ("erf x < 1", sp.erf(x), sp.S.One, True, ()),
    ("log(1 + p) <= p", sp.log(1 + p), p, False, ()),
    ("log(1 + p) >= p/(1 + p)", p / (1 + p), sp.log(1 + p), False, ()),
    ("softplus(x) > x", x, sp.log(1 + sp.exp(x)), True, ()),
    ("x**2 + y**2 >= 2 x y", 2 * x * y, x**2 + y**2, False, ()),
    ("x y <= 1 on the unit square", x * y, sp.S.One, False, (x >= 0, x <= 1, y >= 0, y <= 1)),
    ("exp(x) + exp(y) >= 2 exp((x + y)/2) - 1/100 on [-1, 1]^2", 2 * sp.exp((x + y) / 2) - sp.Rational(1, 100),
     sp.exp(x) + sp.exp(y), False, (x >= -1, x <= 1, y >= -1, y <= 1)),
]


@pytest.mark.parametrize("name, small, big, strict, assume", PROVED, ids=[p[0] for p in PROVED])
def test_proved(name: str, small: sp.Expr, big: sp.Expr, strict: bool, assume: tuple[sp.Basic, ...]) -> None:
    started = time.perf_counter()
    decision = claim(small, big, strict=strict, assume=assume)
    elapsed = time.perf_counter() - started
    assert decision is not None and decision.proved, (name, decision)
    assert decision.counterexample is None
    assert decision.method.startswith("interval arithmetic (arb")
    assert elapsed < 10, elapsed


def test_tight_bounds_name_their_minimiser() -> None:
    gelu = claim(GELU_SLOPE, GELU_SUP)
    assert gelu is not None and gelu.proved and "x = sqrt(2)" in gelu.method
    bump = claim(x * sp.exp(-x), sp.exp(-1))
    assert bump is not None and "x = 1" in bump.method
    silu = claim(SILU_SLOPE, SILU_SUP)
    assert silu is not None and "x = 2.39936" in silu.method  # Newton's point, tangent bound at >= 128 bits


def test_catalog_bounds_are_the_ones_proved() -> None:
    """The catalog's SiLU and GELU bounds (as check_relation sees them: bound - slope) are proved."""
    from symgrad.catalog.activations import ACTIVATIONS, derivative_of

    by_name = {a.name: a for a in ACTIVATIONS}
    silu_slope = derivative_of(by_name["SiLU / swish"])
    gelu_slope = derivative_of(by_name["GELU (exact, erf)"])
    assert sp.simplify(silu_slope - SILU_SLOPE) == 0 and sp.simplify(gelu_slope - GELU_SLOPE) == 0
    for slope, sup in ((silu_slope, SILU_SUP), (gelu_slope, GELU_SUP)):
        domain = Domain.build([x])
        assert (d := decide_sign(sup - slope, domain, False)) is not None and d.proved
        assert (d := decide_sign(slope + sup, domain, False)) is not None and d.proved


# ---------------------------------------------------------------------------
# 3. Refutations with certified rational counterexamples


def assert_certified(expr: sp.Expr, strict: bool, decision: Decision | None, domain: Domain) -> None:
    """The counterexample is exact, in the domain, and mpmath (60 digits, more if needed) confirms it."""
    assert decision is not None and not decision.proved and decision.counterexample is not None, decision
    point = decision.counterexample
    assert set(point) == expr.free_symbols
    assert all(isinstance(v, sp.Rational) for v in point.values())
    assert domain.satisfied(point)
    assert fails_at(expr, strict, point), (expr, point)


REFUTED: list[tuple[str, sp.Expr, bool, tuple[sp.Basic, ...]]] = [
    ("exp(x) <= 10**1000", sp.Integer(10) ** 1000 - sp.exp(x), False, ()),
    ("tanh(x) < 1 - 10**-40", 1 - sp.Integer(10) ** -40 - sp.tanh(x), True, ()),
    ("sigmoid'(x - 2/7) < 1/4", sp.Rational(1, 4) - sigmoid(x - sp.Rational(2, 7)) * (1 - sigmoid(x - sp.Rational(2, 7))),
     True, ()),
    ("x**3 <= 1000 x**2 + 10**6", 1000 * x**2 + 10**6 - x**3, False, ()),
]


@pytest.mark.parametrize("name, expr, strict, assume", REFUTED, ids=[r[0] for r in REFUTED])
def test_refuted(name: str, expr: sp.Expr, strict: bool, assume: tuple[sp.Basic, ...]) -> None:
    domain = Domain.build(list(expr.free_symbols), assume)
    decision = decide_sign(expr, domain, strict)
    assert_certified(expr, strict, decision, domain)


def test_exp_tail_counterexample_is_past_the_crossing() -> None:
    domain = Domain.build([x])
    d = decide_sign(sp.Integer(10) ** 1000 - sp.exp(x), domain, False)
    assert d is not None and d.counterexample is not None
    assert d.counterexample[x] > sp.Rational(23026, 10)


def test_equality_at_two_sevenths_is_found_exactly() -> None:
    u = x - sp.Rational(2, 7)
    bump = sigmoid(u) * (1 - sigmoid(u))
    d = claim(bump, sp.Rational(1, 4), strict=True)
    assert d is not None and d.counterexample == {x: sp.Rational(2, 7)}
    # the non-strict claim is true, with equality at 2/7
    d = claim(bump, sp.Rational(1, 4))
    assert d is not None and d.proved


def test_strict_claim_failing_only_at_an_irrational_point_is_undecided() -> None:
    """GELU' < sup fails only at x = sqrt(2): no rational counterexample exists, so None (never proved)."""
    assert claim(GELU_SLOPE, GELU_SUP, strict=True) is None


# ---------------------------------------------------------------------------
# 4. Soundness sweep: false claims are never proved; every counterexample is certified

R = sp.Rational
#: (name, expr, strict, assumptions, a witness point where ``expr >= 0`` (``> 0``) fails, or None).
#: Constants are exact Rationals: SymPy would round ``1 - Float("1e-300")`` to ``1.0`` (a true claim).
FALSE: list[tuple[str, sp.Expr, bool, tuple[sp.Basic, ...], dict[sp.Symbol, sp.Expr] | None]] = [
    ("SiLU' <= sup - 10**-25", SILU_SUP - R(1, 10**25) - SILU_SLOPE, False, (),
     {x: R(2399357280515467667832739697, 10**27)}),
    ("SiLU' <= true max - 10**-40", sp.Float("1.09983932012886691695818492432057097213072939420930360445774", 60)
     - R(1, 10**40) - SILU_SLOPE, False, (), {x: R(2399357280515467667832739697283883888523, 10**39)}),
    ("GELU' <= sup - 10**-20", GELU_SUP - R(1, 10**20) - GELU_SLOPE, False, (), {x: R(141421356237309504880, 10**20)}),
    ("GELU' < sup", GELU_SUP - GELU_SLOPE, True, (), None),
    ("sigmoid' <= 1/4 - 10**-30", R(1, 4) - R(1, 10**30) - sigmoid(x) * (1 - sigmoid(x)), False, (), {x: 0}),
    ("sigmoid' < 1/4", R(1, 4) - sigmoid(x) * (1 - sigmoid(x)), True, (), {x: 0}),
    ("exp(x) >= 1 + x + 10**-40", sp.exp(x) - 1 - x - R(1, 10**40), False, (), {x: 0}),
    ("exp(x) > 1 + x", sp.exp(x) - 1 - x, True, (), {x: 0}),
    ("log(p) <= p - 1 - 10**-30", p - 1 - R(1, 10**30) - sp.log(p), False, (), {p: 1}),
    ("x exp(-x) <= exp(-1) - 10**-35", sp.exp(-1) - R(1, 10**35) - x * sp.exp(-x), False, (), {x: 1}),
    ("x exp(-x) < exp(-1)", sp.exp(-1) - x * sp.exp(-x), True, (), {x: 1}),
    ("tanh(x) <= 1 - 10**-300", 1 - R(1, 10**300) - sp.tanh(x), False, (), {x: 400}),
    ("sin(x) <= 9999/10000", R(9999, 10000) - sp.sin(x), False, (), {x: R(157, 100)}),
    ("cos(x) >= -99999/100000", sp.cos(x) + R(99999, 100000), False, (), {x: R(314159, 100000)}),
    ("|x| >= 10**-9", sp.Abs(x) - R(1, 10**9), False, (), {x: 0}),
    ("(x - y)**2 > 0", (x - y) ** 2, True, (), {x: 0, y: 0}),
    ("x**2 + y**2 >= 2 x y + 10**-12", x**2 + y**2 - 2 * x * y - R(1, 10**12), False, (), {x: 1, y: 1}),
    ("sin(x) cos(y) <= 99/100", R(99, 100) - sp.sin(x) * sp.cos(y), False, (), {x: R(157, 100), y: 0}),
    ("exp(-x**2) < 1", 1 - sp.exp(-(x**2)), True, (), {x: 0}),
    ("atan(x) < pi/2 - 10**-20", sp.pi / 2 - R(1, 10**20) - sp.atan(x), True, (), {x: 10**21}),
    ("sqrt(q) <= 1000", 1000 - sp.sqrt(q), False, (), {q: 10**7}),
    ("erf(x) <= 1 - 10**-100", 1 - R(1, 10**100) - sp.erf(x), False, (), {x: 20}),
    ("sigmoid(x) >= 10**-50", sigmoid(x) - R(1, 10**50), False, (), {x: -200}),
    ("x**3 - x >= 0 on x >= 0", x**3 - x, False, (x >= 0,), {x: R(1, 2)}),
    ("Max(x, -x) >= 1", sp.Max(x, -x) - 1, False, (), {x: 0}),
    ("1/p <= 1000", 1000 - 1 / p, False, (), {p: R(1, 10**4)}),
    ("x y <= 1 on [0, 2]^2", 1 - x * y, False, (x >= 0, x <= 2, y >= 0, y <= 2), {x: 2, y: 2}),
    ("log(1 + x) >= x - x**2/2 + 10**-20 (x >= 0)", sp.log(1 + x) - x + x**2 / 2 - R(1, 10**20), False, (x >= 0,),
     {x: 0}),
    ("x sin(x) >= -1", x * sp.sin(x) + 1, False, (), {x: R(47, 10)}),
    ("exp(x) >= x**10", sp.exp(x) - x**10, False, (), {x: 10}),
    ("2**x >= x**2 on x >= 0", 2**x - x**2, False, (x >= 0,), {x: 3}),
    ("atan(p) + atan(1/p) < pi/2", sp.pi / 2 - sp.atan(p) - sp.atan(1 / p), True, (), {p: 1}),
]


def fails_at(expr: sp.Expr, strict: bool, point: dict[sp.Symbol, sp.Expr]) -> bool:
    """mpmath at 60 digits (1200 when 60 cannot tell), or SymPy's exact 0 for a strict claim."""
    value = mp_at(expr, point, 60)
    if abs(value) < mpmath.mpf(10) ** -50:
        value = mp_at(expr, point, 1200)
    if abs(value) < mpmath.mpf(10) ** -1150:
        return strict and expr.xreplace(point) == 0
    return bool(value < 0)


@pytest.mark.parametrize("name, expr, strict, assume, witness", FALSE, ids=[f[0] for f in FALSE])
def test_the_false_claims_are_false(name: str, expr: sp.Expr, strict: bool, assume: tuple[sp.Basic, ...],
                                    witness: dict[sp.Symbol, sp.Expr] | None) -> None:
    if witness is None:  # GELU' < sup: equality exactly at sqrt(2)
        assert sp.simplify(expr.xreplace({x: sp.sqrt(2)})) == 0
        return
    point = {s: sp.Rational(v) for s, v in witness.items()}
    assert Domain.build(sorted(expr.free_symbols, key=str), assume).satisfied(point)
    assert fails_at(expr, strict, point)


@pytest.mark.parametrize("name, expr, strict, assume, witness", FALSE, ids=[f[0] for f in FALSE])
def test_false_claims_are_never_proved(name: str, expr: sp.Expr, strict: bool, assume: tuple[sp.Basic, ...],
                                       witness: dict[sp.Symbol, sp.Expr] | None) -> None:
    domain = Domain.build(sorted(expr.free_symbols, key=str), assume)
    decision = decide_sign(expr, domain, strict)
    assert decision is None or not decision.proved, (name, decision)
    if decision is not None:
        assert_certified(expr, strict, decision, domain)


def test_most_false_claims_are_refuted() -> None:
    """Not only "never proved": the search finds certified counterexamples for nearly all of them."""
    refuted = 0
    for name, expr, strict, assume, _ in FALSE:
        domain = Domain.build(sorted(expr.free_symbols, key=str), assume)
        decision = decide_sign(expr, domain, strict)
        refuted += decision is not None and decision.counterexample is not None
    assert refuted >= len(FALSE) - 4


# ---------------------------------------------------------------------------
# 5. Domains, side conditions, refusals


def test_side_conditions_are_respected_by_counterexamples() -> None:
    # x**2 >= 1 fails at 0, but the filter x**2 >= 1/4 (not a simple bound) excludes |x| < 1/2;
    # it still fails at x = 3/4, which satisfies the filter
    domain = Domain.build([x], [x**2 >= sp.Rational(1, 4)])
    assert domain.filters
    d = decide_sign(x**2 - 1, domain, False)
    assert d is not None and d.counterexample is not None
    assert d.counterexample[x] ** 2 >= sp.Rational(1, 4) and d.counterexample[x] ** 2 < 1


def test_proofs_ignore_filters_soundly() -> None:
    domain = Domain.build([x], [sp.sin(x) > 0])
    d = decide_sign(sp.exp(x) - 1 - x, domain, False)
    assert d is not None and d.proved


def test_counterexample_must_respect_assumptions() -> None:
    n = sp.Symbol("n", integer=True)
    # n**2 - n >= 0 holds for every integer; it fails at the rational 1/2, which is no integer
    d = decide_sign(n**2 - n, Domain.build([n]), False, max_boxes=100)
    assert d is None or (d.proved is False and d.counterexample is not None and d.counterexample[n].is_integer)


@pytest.mark.parametrize("expr, symbols", [
    (sp.gamma(x) - 1, [x]),  # unsupported function
    (sp.Symbol("z") ** 2, [sp.Symbol("z")]),  # not declared real
    (sp.log(x) + 100, [x]),  # undefined for x <= 0
    (1 / x**2 + 1, [x]),  # true where defined, undefined at 0
    (sp.Derivative(sp.Function("f")(x), x), [x]),
])
def test_returns_none_when_not_applicable(expr: sp.Expr, symbols: list[sp.Symbol]) -> None:
    assert decide_sign(expr, Domain.build(symbols), False, max_boxes=300) is None


def test_constants() -> None:
    empty = Domain.build([])
    assert (d := decide_sign(sp.pi - sp.Rational(314159, 100000), empty, True)) is not None and d.proved
    assert (d := decide_sign(sp.exp(1) - sp.Rational(27183, 10000), empty, False)) is not None
    assert not d.proved and d.counterexample == {}
    assert (d := decide_sign(sp.S.Zero, empty, True)) is not None and not d.proved
    assert (d := decide_sign(sp.S.Zero, empty, False)) is not None and d.proved


# ---------------------------------------------------------------------------
# 6. Determinism and budgets


def test_same_call_same_answer() -> None:
    domain = Domain.build([x])
    first = decide_sign(SILU_SUP - SILU_SLOPE, domain, False)
    second = decide_sign(SILU_SUP - SILU_SLOPE, domain, False)
    assert first == second and first is not None and first.proved
    a = decide_sign(1000 * x**2 + 10**6 - x**3, domain, False)
    b = decide_sign(1000 * x**2 + 10**6 - x**3, domain, False)
    assert a == b


def test_small_box_budget_returns_none_quickly() -> None:
    # equality at the irrational point (pi/3, pi/3) of a two-variable claim: boxes there never close
    hard = 3 * sp.sqrt(3) / 2 - sp.sin(x) - sp.sin(y) - sp.sin(x + y)
    domain = Domain.build([x, y], [x >= 0, x <= 3, y >= 0, y <= 3])
    started = time.perf_counter()
    assert decide_sign(hard, domain, False, max_boxes=50) is None
    assert time.perf_counter() - started < 2.0
    # a true claim that needs more boxes than allowed, proved with the default budget
    square = 2 * sp.exp((x + y) / 2) - sp.Rational(1, 100)
    domain = Domain.build([x, y], [x >= -1, x <= 1, y >= -1, y <= 1])
    assert decide_sign(sp.exp(x) + sp.exp(y) - square, domain, False, max_boxes=50) is None
    assert (d := decide_sign(sp.exp(x) + sp.exp(y) - square, domain, False)) is not None and d.proved


def test_safety_net_returns_none() -> None:
    assert decide_sign(SILU_SUP - SILU_SLOPE, Domain.build([x]), False, seconds=1e-4) is None


def test_decision_interface() -> None:
    d = Decision(True, "m")
    assert d.counterexample is None
    with pytest.raises(AttributeError):
        d.proved = False  # type: ignore[misc]
    assert isinstance(enclose(x, {x: (0, 1)}), Enclosure)


# ---------------------------------------------------------------------------
# 7. Open/closed ends of the arithmetic, checked with exact rational arithmetic

from flint import arb, fmpq  # noqa: E402

from symgrad.core.intervals import _abs, _add, _mul, _powi, _recip  # noqa: E402

INF = float("inf")


def random_interval(rng: random.Random) -> tuple[Fraction | float, Fraction | float, bool, bool]:
    """Dyadic ends (exact in arb), sometimes 0 or infinite, each open or closed."""
    def end() -> Fraction:
        return rng.choice([Fraction(0), Fraction(rng.randint(-16, 16), 8), Fraction(rng.randint(-3, 3))])
    a, b = sorted((end(), end()))
    lo: Fraction | float = -INF if rng.random() < 0.2 else a
    hi: Fraction | float = INF if rng.random() < 0.2 else b
    lo_open = lo == -INF or (rng.random() < 0.4 and lo != hi)
    hi_open = hi == INF or (rng.random() < 0.4 and lo != hi)
    if lo == hi and (lo_open or hi_open):
        lo_open = hi_open = False
    return lo, hi, lo_open, hi_open


def as_enclosure(iv: tuple[Fraction | float, Fraction | float, bool, bool]) -> Enclosure:
    lo, hi, lo_open, hi_open = iv
    a = arb.neg_inf() if lo == -INF else arb(fmpq(lo.numerator, lo.denominator))  # type: ignore[union-attr]
    b = arb.pos_inf() if hi == INF else arb(fmpq(hi.numerator, hi.denominator))  # type: ignore[union-attr]
    return Enclosure(a, b, lo_open, hi_open)


def members(iv: tuple[Fraction | float, Fraction | float, bool, bool], rng: random.Random) -> list[Fraction]:
    lo, hi, lo_open, hi_open = iv
    out = []
    if lo != -INF and not lo_open:
        out.append(lo)
    if hi != INF and not hi_open:
        out.append(hi)
    base = lo if lo != -INF else (hi - 100 if hi != INF else Fraction(-100))
    top = hi if hi != INF else base + 200
    for _ in range(6):
        t = Fraction(rng.randint(1, 1023), 1024)
        out.append(base + t * (top - base))  # type: ignore[operator]
    out += [Fraction(0)] if (lo == -INF or lo < 0 or (lo == 0 and not lo_open)) and \
        (hi == INF or hi > 0 or (hi == 0 and not hi_open)) else []
    return out


def respects(value: Fraction, enc: Enclosure) -> bool:
    lo, hi = exact(enc.lo), exact(enc.hi)
    if enc.lo_open:
        if not value > lo:
            return False
    elif not value >= lo:
        return False
    if enc.hi_open:
        return value < hi
    return value <= hi


def test_arithmetic_ends_and_flags_with_exact_rationals() -> None:
    rng = random.Random(99)
    for _ in range(1200):
        a, b = random_interval(rng), random_interval(rng)
        ea, eb = as_enclosure(a), as_enclosure(b)
        xs, ys = members(a, rng), members(b, rng)
        s, m = _add(ea, eb), _mul(ea, eb)
        r, sq, cube, ab = _recip(ea), _powi(ea, 2), _powi(ea, 3), _abs(ea)
        inv2 = _powi(ea, -2)
        for u in xs:
            assert ab is not None and respects(abs(u), ab)
            assert sq is not None and respects(u * u, sq)
            assert cube is not None and respects(u ** 3, cube)
            if u == 0:
                continue
            if r is not None:
                assert respects(1 / u, r), (a, u, r)
            if inv2 is not None:
                assert respects(1 / (u * u), inv2), (a, u, inv2)
        if r is None:
            assert 0 in xs or a[0] == -INF or a[1] == INF or a[0] <= 0 <= a[1]  # refused only near 0
        for u in xs:
            for v in ys:
                assert s is not None and respects(u + v, s), (a, b, u, v, s)
                assert m is not None and respects(u * v, m), (a, b, u, v, m)


def test_strict_sign_from_open_ends() -> None:
    """sigmoid' > 0 everywhere: its inf 0 is a limit, never attained, and the procedure knows it."""
    e = enclose(sigmoid(x) * (1 - sigmoid(x)), {x: (-sp.oo, sp.oo)})
    assert e is not None and e.lo == 0 and e.lo_open
    d = claim(sp.S.Zero, sigmoid(x) * (1 - sigmoid(x)), strict=True)
    assert d is not None and d.proved
    # but x**2 > 0 is false at 0 (attained)
    d = claim(sp.S.Zero, x**2, strict=True)
    assert d is not None and d.counterexample == {x: 0}


# ---------------------------------------------------------------------------
# 8. Random claims: whatever is proved holds at every sampled point, every counterexample is certified

LEAVES = [x, x, x, sp.Rational(1, 3), sp.Integer(2), sp.pi]
UNARY = [sp.exp, sp.tanh, sp.atan, sp.erf, sigmoid, sp.sin, sp.cos, lambda t: t**2, lambda t: sp.sqrt(1 + t**2),
         lambda t: sp.log(1 + t**2), sp.Abs, lambda t: 1 / (1 + t**2), sp.erfc]
BINARY = [sp.Add, sp.Mul, lambda a, b: a - b, lambda a, b: a * sp.exp(-b**2)]


def random_expr(rng: random.Random, depth: int) -> sp.Expr:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(LEAVES)
    if rng.random() < 0.5:
        return rng.choice(UNARY)(random_expr(rng, depth - 1))
    return rng.choice(BINARY)(random_expr(rng, depth - 1), random_expr(rng, depth - 1))


def test_random_claims_are_sound() -> None:
    rng = random.Random(2024)
    outcomes = {"proved": 0, "refuted": 0, "none": 0}
    grid = [sp.Rational(k, 16) for k in range(-96, 97)] + [sp.Integer(k) for k in (-1000, -50, -20, 20, 50, 1000)]
    for _ in range(70):
        expr = random_expr(rng, 3)
        if x not in expr.free_symbols:
            continue
        values = []
        for g in grid:
            try:
                values.append((mp_at(expr, {x: g}, 30), g))
            except (Undefined, ZeroDivisionError, OverflowError):
                pass
        if not values:
            continue
        low, at = min(values, key=lambda t: t[0])
        # the claim expr >= c with c near the smallest sampled value: true, tight or false
        shift = rng.choice([sp.Rational(-1, 1000), sp.Rational(-1, 10**12), sp.S.Zero, sp.Rational(1, 10**9)])
        c = sp.Rational(Fraction(float(low)).limit_denominator(10**15)) + shift
        strict = rng.random() < 0.3
        claim_expr = expr - c
        domain = Domain.build([x])
        decision = decide_sign(claim_expr, domain, strict, max_boxes=400)
        if decision is None:
            outcomes["none"] += 1
            continue
        if decision.proved:
            outcomes["proved"] += 1
            for g in [at, *grid[::7]]:
                try:
                    value = mp_at(claim_expr, {x: g}, 60)
                except (Undefined, ZeroDivisionError, OverflowError):
                    continue
                if strict and abs(value) < mpmath.mpf(10) ** -50:
                    assert claim_expr.xreplace({x: g}) != 0, (claim_expr, g)
                else:
                    assert value >= -mpmath.mpf(10) ** -45, (claim_expr, strict, g, value, decision)
        else:
            outcomes["refuted"] += 1
            assert_certified(claim_expr, strict, decision, domain)
    assert outcomes["proved"] >= 5 and outcomes["refuted"] >= 5, outcomes


def test_sympy_zero_is_never_taken_through_floats() -> None:
    from symgrad.core.intervals import _sympy_zero

    assert _sympy_zero(sp.exp(x) - 1 - x, {x: sp.S.Zero})
    assert _sympy_zero(GELU_SUP - GELU_SLOPE, {x: sp.sqrt(2)})
    assert not _sympy_zero(sp.exp(x) - 1 - x, {x: sp.Rational(1, 3)})
    # exactly zero, but SymPy's Float arithmetic rounds, so it is not a certificate
    assert not _sympy_zero(x - sp.Float(0.5), {x: sp.S.Half})
    assert not _sympy_zero(x - sp.S.Half, {x: sp.Float(0.5)})


def test_floats_are_exact_binary_numbers() -> None:
    # Float(0.1) is 0.1000000000000000055511151231257827...: above 1/10. (Unevaluated sums:
    # SymPy's own Float arithmetic would round 0.1 - 1/10 to 0.0 before we see it.)
    domain = Domain.build([x])
    above = sp.Add(sp.Float(0.1), -sp.Rational(1, 10), x**2, evaluate=False)
    d = decide_sign(above, domain, True)
    assert d is not None and d.proved
    below = sp.Add(sp.Rational(1, 10), -sp.Float(0.1), x**2, evaluate=False)
    d = decide_sign(below, domain, False)
    assert d is not None and d.counterexample is not None and d.counterexample[x] ** 2 < sp.Rational(1, 10**16)
