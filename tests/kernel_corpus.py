"""The adversarial corpus that measures the kernel's honesty.

Each :class:`Case` is a one-step calc chain with its mathematical truth under the
kernel's semantics: a step is *true* when it holds at every point of the declared
domain (symbol assumptions plus ``assume=`` conditions) where both sides are defined.
For real symbols "defined" means a finite real number: a side that is complex or
infinite at a point (``log(-1) = i*pi``) is undefined there, so that point is outside
the claim. Symbols declared without ``real=True`` range over the complex numbers.

Categories of false steps (see :data:`FALSE_CATEGORIES`): values the user wrote that a
convention replaces, non-real symbols, failures on a tiny set or far out in a tail,
tiny constant offsets, sums and products that fail only for large integers, plain
algebra slips, and hard inequalities. True steps are textbook facts (``textbook``),
true twins of the false cases (``near-miss``), and steps that only test that the
kernel returns within its budget (``budget``).

Expressions are built lazily, inside ``build``, with SymPy objects only (never
strings), so importing this module costs only the symbols.

Besides the data, this module holds the corpus's own *oracle*: :func:`judge_at`
decides whether a step fails at a point by substituting it and evaluating with mpmath
(at 60 digits, more when the difference is too small to be resolved), independently
of the kernel. The test re-checks every counterexample with it, and checks each false
case's ``witness`` and each true case's sample points with it. :func:`run_case` runs
one case in a forked child with a hard time cap, so a kernel that overruns its budget
slows the corpus down by at most the cap.
"""

from __future__ import annotations

import enum
import functools
import multiprocessing
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

import mpmath
import sympy as sp

import symgrad as sg
from symgrad.core.verdicts import Relation

__all__ = [
    "Case", "CASES", "FALSE_CATEGORIES", "TRUE_CATEGORIES", "CATEGORIES", "MAY_STAY_UNDECIDED",
    "Outcome", "run_case", "run_isolated", "cap_for", "Finding", "Judgement", "judge_at", "in_domain", "the_step", "by_name",
    "scalars",
]

Point = Mapping[sp.Symbol, sp.Expr]

#: Categories of false steps, in the order of the brief.
FALSE_CATEGORIES: tuple[str, ...] = (
    "convention", "non-real", "tiny-interval", "tail", "tiny-offset", "sum-product", "algebra-slip",
    "hard-inequality",
)
#: Categories of true steps.
TRUE_CATEGORIES: tuple[str, ...] = ("textbook", "near-miss", "budget")
CATEGORIES: tuple[str, ...] = FALSE_CATEGORIES + TRUE_CATEGORIES


@dataclass(frozen=True)
class Case:
    """One step of the corpus.

    ``truth`` is the step's truth under the semantics above (``None`` exactly when
    ``expect_error``: the step is misuse and checking it must raise ``sg.InputError``).
    ``convention`` marks a false step whose failing side has no value (a derivative at a
    kink, a two-sided limit that does not exist, by the team convention that ``Limit``
    without a direction means the two-sided limit): no numeric counterexample exists, so
    ``unknown`` is an acceptable verdict. ``witness`` returns a point where a false step
    fails (the oracle checks it); ``note`` says why the step is true or false.
    """

    name: str
    category: str
    build: Callable[[], sg.Proof]
    truth: bool | None
    note: str
    witness: Callable[[], dict[sp.Symbol, sp.Expr]] | None = None
    convention: bool = False
    expect_error: bool = False

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"{self.name}: unknown category {self.category!r}")
        if self.expect_error != (self.truth is None):
            raise ValueError(f"{self.name}: truth is None exactly for expect_error cases")
        if self.convention and self.truth is not False:
            raise ValueError(f"{self.name}: a convention case is a false step")
        if self.truth is False and not self.convention and self.witness is None:
            raise ValueError(f"{self.name}: a false step needs a witness point")
        if self.truth is True and self.category in FALSE_CATEGORIES:
            raise ValueError(f"{self.name}: a true step in the false category {self.category!r}")
        if self.truth is False and self.category in TRUE_CATEGORIES:
            raise ValueError(f"{self.name}: a false step in the true category {self.category!r}")

    @property
    def is_false(self) -> bool:
        return self.truth is False

    @property
    def is_true(self) -> bool:
        return self.truth is True


# ---------------------------------------------------------------------------
# Symbols (cheap); expressions are built inside each case's ``build``.

x, y = sp.symbols("x y", real=True)
t = sp.Symbol("t", real=True)            # a logit
w = sp.Symbol("w", real=True)            # a weight
bias = sp.Symbol("bias", real=True)
z1, z2 = sp.symbols("z1 z2", real=True)  # logits
a, b, c = sp.symbols("a b c", positive=True)
p, q, r = sp.symbols("p q r", nonnegative=True)
n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)   # summation index
j = sp.Symbol("j", integer=True, nonnegative=True)  # summation index from 0
xs = sp.symbols("x1:4", real=True)
ys = sp.symbols("y1:4", real=True)
var = sp.Symbol("sigma2", nonnegative=True)
eps = sp.Symbol("epsilon", positive=True)
z, u = sp.symbols("z u")                 # complex: no assumptions
zi = sp.Symbol("zi", imaginary=True)
xnz = sp.Symbol("x_nz", real=True, nonzero=True)  # a hole at 0: two intervals, not one
ii = sp.Symbol("ii", integer=True)       # a size that may be negative: sums run backwards (Karr)
kk = sp.Symbol("kk", integer=True)       # its summation index
n0 = sp.Symbol("n0", integer=True, nonnegative=True)  # a size that may be 0
# Indexed families: a claim about sum_j f(v_j) speaks of every vector v_1, ..., v_m.
m = sp.Symbol("m", integer=True, positive=True)   # a vector's size
jj = sp.Symbol("jj", integer=True)                # an index into it
ix = sp.Symbol("ix", integer=True, positive=True)  # a free index (i in dx_i)
vv = sp.IndexedBase("v", real=True)
gg = sp.IndexedBase("g", real=True)
pp = sp.IndexedBase("pos", positive=True)

S = sp.S
R = sp.Rational
D = sp.Derivative
calc = sg.calc
sigmoid = sg.sigmoid


def _softmax1(first: sp.Expr, second: sp.Expr) -> sp.Expr:
    return sp.exp(first) / (sp.exp(first) + sp.exp(second))


def _mean(values: tuple[sp.Symbol, ...]) -> sp.Expr:
    return sp.Add(*values) / len(values)


def _silu() -> sp.Expr:
    from symgrad.catalog.activations import ACTIVATIONS

    return next(act for act in ACTIVATIONS if act.name.startswith("SiLU")).pieces[0].expr


def _gelu() -> sp.Expr:
    from symgrad.catalog.activations import ACTIVATIONS

    return next(act for act in ACTIVATIONS if act.name.startswith("GELU")).pieces[0].expr


def _gelu_sup() -> sp.Expr:
    """sup GELU' = Phi(sqrt 2) + sqrt(2) phi(sqrt 2), as proved in the catalog's GELU section."""
    return (1 + sp.erf(1)) / 2 + sp.exp(-1) / sp.sqrt(sp.pi)


def _motzkin(u1: sp.Expr, u2: sp.Expr) -> sp.Expr:
    return u1**4 * u2**2 + u1**2 * u2**4 - 3 * u1**2 * u2**2 + 1


def _at(**values: Any) -> Callable[[], dict[sp.Symbol, sp.Expr]]:
    """A witness point by symbol name (values are SymPy numbers or ints), built lazily."""
    symbols = {str(s): s for s in (x, y, t, w, bias, z1, z2, a, b, c, p, q, r, n, var, eps, z, u, zi, xnz,
                                   ii, *xs, *ys)}

    def point() -> dict[sp.Symbol, sp.Expr]:
        return {symbols[name]: sp.sympify(value) for name, value in values.items()}

    return point


# ---------------------------------------------------------------------------
# 1. Values the user wrote, replaced by a convention.

_CONVENTION: list[Case] = [
    Case("heaviside-0-vs-1", "convention",
         lambda: calc(sp.Heaviside(x, 0)).eq(sp.Heaviside(x, 1)), False,
         "the user wrote H(0) = 0 on the left and H(0) = 1 on the right: fails only at x = 0 (0 vs 1)",
         _at(x=0)),
    Case("heaviside-default-vs-0", "convention",
         lambda: calc(sp.Heaviside(x)).eq(sp.Heaviside(x, 0)), False,
         "SymPy's Heaviside(x) is Heaviside(x, 1/2): fails only at x = 0 (1/2 vs 0)",
         _at(x=0)),
    Case("heaviside-1-le-0", "convention",
         lambda: calc(sp.Heaviside(x, 1)).le(sp.Heaviside(x, 0)), False,
         "equal for x != 0; at x = 0 it says 1 <= 0",
         _at(x=0)),
    Case("piecewise-step-vs-heaviside-0", "convention",
         lambda: calc(sp.Piecewise((1, x >= 0), (0, True))).eq(sp.Heaviside(x, 0)), False,
         "the Piecewise is 1 at x = 0, Heaviside(x, 0) is 0 there: fails only at x = 0",
         _at(x=0)),
    Case("relu-prime-at-0-is-half", "convention",
         lambda: calc(sp.Subs(D(sp.Max(x, 0), x), x, 0)).eq(S.Half), False,
         "ReLU has no derivative at 0 (one-sided slopes 0 and 1); SymPy's Heaviside(0) = 1/2 is a "
         "convention, so the claimed value does not exist",
         convention=True),
    Case("relu-prime-at-0-is-0", "convention",
         lambda: calc(sp.Subs(D(sp.Max(x, 0), x), x, 0)).eq(0), False,
         "PyTorch's convention relu'(0) = 0; mathematically the derivative does not exist at 0",
         convention=True),
    Case("abs-prime-at-0", "convention",
         lambda: calc(sp.Subs(D(sp.Abs(x), x), x, 0)).eq(0), False,
         "|x| has no derivative at 0 (one-sided slopes -1 and 1); SymPy's sign(0) = 0 is a convention",
         convention=True),
    # SymPy's Limit(f, x, a) is the right-hand limit (dir='+'), rendered x -> a^+ by symgrad: a limit
    # without a direction is one-sided, so the false claims are the two-sided ones the user asks for.
    Case("limit-abs-over-x", "convention",
         lambda: calc(sp.Limit(sp.Abs(x) / x, x, 0, "+-")).eq(1), False,
         "the two-sided limit does not exist (left -1, right 1)",
         convention=True),
    Case("limit-exp-minus-inverse", "convention",
         lambda: calc(sp.Limit(sp.exp(-1 / x), x, 0, "+-")).eq(0), False,
         "the two-sided limit does not exist: exp(-1/x) -> 0 from the right, -> oo from the left",
         convention=True),
    Case("limit-atan-inverse", "convention",
         lambda: calc(sp.Limit(sp.atan(1 / x), x, 0, "+-")).eq(sp.pi / 2), False,
         "the two-sided limit does not exist: pi/2 from the right, -pi/2 from the left",
         convention=True),
    Case("limit-sign", "convention",
         lambda: calc(sp.Limit(sp.sign(x), x, 0, "+-")).eq(1), False,
         "the two-sided limit of sign at 0 does not exist (left -1, right 1)",
         convention=True),
]

# ---------------------------------------------------------------------------
# 2. Non-real symbols. Inequalities over them are misuse (InputError); equalities are
#    legitimate, and these fail off the real line.

_NON_REAL: list[Case] = [
    Case("complex-square-nonneg", "non-real", lambda: calc(z**2).ge(0), None,
         "z is complex (no assumptions): z**2 is not real in general, an inequality is misuse",
         expect_error=True),
    Case("complex-square-plus-one-pos", "non-real", lambda: calc(z**2 + 1).gt(0), None,
         "z complex: misuse (and at z = i the left side is 0)", expect_error=True),
    Case("complex-lt-shift", "non-real", lambda: calc(z).lt(z + 1), None,
         "both sides non-real: misuse", expect_error=True),
    Case("imaginary-square-nonneg", "non-real", lambda: calc(zi**2).ge(0), None,
         "zi is imaginary: zi**2 = -|zi|**2 is real and negative, so as a real statement this is false; "
         "the team rule calls an inequality over a symbol declared non-real misuse (InputError)",
         expect_error=True),
    Case("imaginary-square-plus-one-pos", "non-real", lambda: calc(zi**2 + 1).gt(0), None,
         "zi imaginary: misuse by the team rule (as a real statement, false for |zi| >= 1)",
         expect_error=True),
    Case("exp-i-x-le-1", "non-real", lambda: calc(sp.exp(sp.I * x)).le(1), None,
         "x is real but exp(i x) is not: an inequality between non-real quantities is misuse",
         expect_error=True),
    Case("complex-abs-squared", "non-real", lambda: calc(sp.Abs(z)**2).eq(z**2), False,
         "true on the real line; at z = i: |i|**2 = 1, i**2 = -1",
         _at(z=sp.I)),
    Case("complex-log-exp", "non-real", lambda: calc(sp.log(sp.exp(z))).eq(z), False,
         "principal log: log(exp(4i)) = (4 - 2 pi) i != 4i; true on the real line",
         _at(z=4 * sp.I)),
    Case("complex-log-product", "non-real", lambda: calc(sp.log(z * u)).eq(sp.log(z) + sp.log(u)), False,
         "z = u = -1: log(1) = 0, log(-1) + log(-1) = 2 pi i (both sides defined as complex numbers)",
         _at(z=-1, u=-1)),
    Case("complex-sqrt-square-is-abs", "non-real", lambda: calc(sp.sqrt(z**2)).eq(sp.Abs(z)), False,
         "true on the real line; at z = i: sqrt(-1) = i, |i| = 1",
         _at(z=sp.I)),
    Case("complex-conjugate", "non-real", lambda: calc(sp.conjugate(z)).eq(z), False,
         "true exactly on the real line; at z = i: -i vs i",
         _at(z=sp.I)),
    Case("complex-abs-exp", "non-real", lambda: calc(sp.Abs(sp.exp(z))).eq(sp.exp(z)), False,
         "true on the real line; at z = i pi: |-1| = 1 vs -1",
         _at(z=sp.I * sp.pi)),
]

# ---------------------------------------------------------------------------
# 3. False only on a tiny set (a point, a curve, a tiny disc).

_TINY_SET: list[Case] = [
    Case("square-shifted-2-7-positive", "tiny-interval", lambda: calc((x - R(2, 7))**2).gt(0), False,
         "fails only at x = 2/7 (0 > 0)", _at(x=R(2, 7))),
    Case("two-squares-positive", "tiny-interval", lambda: calc(x**2 + y**2).gt(0), False,
         "fails only at (0, 0)", _at(x=0, y=0)),
    Case("abs-shifted-1-3-positive", "tiny-interval", lambda: calc(sp.Abs(x - R(1, 3))).gt(0), False,
         "fails only at x = 1/3", _at(x=R(1, 3))),
    Case("sigmoid-derivative-shifted-strict", "tiny-interval",
         lambda: calc(sigmoid(x - R(2, 7)) * (1 - sigmoid(x - R(2, 7)))).lt(R(1, 4)), False,
         "sigma'(x - 2/7) < 1/4 fails only at x = 2/7, where it equals 1/4", _at(x=R(2, 7))),
    Case("double-root-sqrt2-positive", "tiny-interval", lambda: calc((x**2 - 2)**2).gt(0), False,
         "fails only at x = +-sqrt(2), irrational double roots", _at(x=sp.sqrt(2))),
    Case("double-root-cubic-positive", "tiny-interval", lambda: calc((x**3 - 3 * x + 1)**2).gt(0), False,
         "fails only at the three real roots of x**3 - 3x + 1 (2 cos(2 pi/9) and its conjugates)",
         lambda: {x: sp.CRootOf(x**3 - 3 * x + 1, 0)}),
    Case("floor-plus-one-is-ceiling", "tiny-interval", lambda: calc(sp.floor(x) + 1).eq(sp.ceiling(x)), False,
         "true off the integers; at x = 0: 1 vs 0", _at(x=0)),
    Case("sin-below-one", "tiny-interval", lambda: calc(sp.sin(x)).lt(1), False,
         "fails exactly at x = pi/2 + 2 pi k", _at(x=sp.pi / 2)),
    Case("x-pow-x-above-min", "tiny-interval", lambda: calc(a**a).gt(sp.exp(-sp.exp(-1))), False,
         "a**a has its minimum exp(-1/e) at a = 1/e: fails only there", _at(a=sp.exp(-1))),
    Case("off-parabola-positive", "tiny-interval", lambda: calc((y - x**2)**2).gt(0), False,
         "fails on the curve y = x**2, e.g. (1/3, 1/9)", _at(x=R(1, 3), y=R(1, 9))),
    Case("tiny-disc-distance", "tiny-interval",
         lambda: calc((x - R(1, 10**6))**2 + (y - 1)**2).ge(R(1, 10**20)), False,
         "fails in the disc of radius 1e-10 around (1e-6, 1)", _at(x=R(1, 10**6), y=1)),
    Case("exp-tangent-plus-1e-30", "tiny-interval",
         lambda: calc(sp.exp(x - R(2, 7))).ge(x + R(5, 7) + R(1, 10**30)), False,
         "exp(x - 2/7) - (x + 5/7) = (x - 2/7)**2/2 + ...: below 1e-30 only for |x - 2/7| < ~1.4e-15",
         _at(x=R(2, 7))),
]

# ---------------------------------------------------------------------------
# 4. False only far out in a tail.

_TAIL: list[Case] = [
    Case("cubic-vs-quadratic-plus-1e6", "tail", lambda: calc(x**3).le(1000 * x**2 + 10**6), False,
         "x**3 - 1000 x**2 - 10**6 has its only real root at x ~ 1000.998: fails for x > 1000.998 "
         "(x = 1001: 1003003001 > 1003001000)", _at(x=1001)),
    Case("exp-le-1e1000", "tail", lambda: calc(sp.exp(x)).le(S(10)**1000), False,
         "fails for x > 1000 log(10) ~ 2302.59", _at(x=2303)),
    Case("tanh-below-1-minus-1e-40", "tail", lambda: calc(sp.tanh(x)).lt(1 - R(1, 10**40)), False,
         "1 - tanh(x) ~ 2 exp(-2x) < 1e-40 for x > ~46.4 (x = 47: 3.0e-41)", _at(x=47)),
    Case("log-le-100", "tail", lambda: calc(sp.log(a)).le(100), False,
         "a > 0: fails for a > exp(100) ~ 2.7e43", _at(a=sp.exp(101))),
    Case("x-le-1e8", "tail", lambda: calc(x).le(10**8), False,
         "fails for x > 10**8", _at(x=10**8 + 1)),
    Case("reciprocal-ge-1e-9", "tail", lambda: calc(1 / a).ge(R(1, 10**9)), False,
         "a > 0: fails for a > 10**9", _at(a=2 * 10**9)),
    Case("log-log-le-2", "tail", lambda: calc(sp.log(sp.log(x)), assume=[x > 1]).le(2), False,
         "x > 1: fails for x > exp(exp(2)) ~ 1618 (x = 10**4: 2.22)", _at(x=10**4)),
    Case("exp-minus-x-ge-1e-50", "tail", lambda: calc(sp.exp(-x)).ge(R(1, 10**50)), False,
         "fails for x > 50 log(10) ~ 115.13 (x = 116: 4.2e-51)", _at(x=116)),
    Case("two-pow-x-le-x-pow-100", "tail", lambda: calc(2**x, assume=[x >= 2]).le(x**100), False,
         "x >= 2: x log 2 = 100 log x at x ~ 996.0002; fails beyond (x = 1000)", _at(x=1000)),
    Case("atan-below-pi-half-minus-1e-20", "tail", lambda: calc(sp.atan(x)).le(sp.pi / 2 - R(1, 10**20)),
         False, "pi/2 - atan(x) = atan(1/x) < 1e-20 for x > ~1e20", _at(x=10**21)),
    Case("sigmoid-le-1-minus-1e-30", "tail", lambda: calc(sigmoid(x)).le(1 - R(1, 10**30)), False,
         "1 - sigma(x) = 1/(1 + e^x) < 1e-30 for x > ~69.08 (x = 70: 4.0e-31)", _at(x=70)),
    Case("cube-ge-minus-1e9", "tail", lambda: calc(x**3).ge(-10**9), False,
         "fails for x < -1000", _at(x=-1001)),
]

# ---------------------------------------------------------------------------
# 5. Tiny constant offsets.

_OFFSET: list[Case] = [
    Case("log-of-1-plus-1e-100-below-1e-101", "tiny-offset",
         lambda: calc(sp.log(1 + R(1, 10**100))).lt(R(1, 10**101)), False,
         "log(1 + u) is about u = 1e-100 > 1e-101; SymPy's evalf of the logarithm gives exactly 0 "
         "(the argument rounds to 1 first)", _at()),
    Case("log1p-exp-tail-at-most-0", "tiny-offset",
         lambda: calc(sp.log(1 + sp.exp(-x)), assume=[x >= 400]).le(0), False,
         "log(1 + e^-x) > 0 for every x; at x = 400 it is 1.9e-174, which SymPy's evalf calls 0",
         _at(x=400)),
    Case("sine-of-log1p-slip-negative", "tiny-offset",
         lambda: calc(sp.sin(sp.log(1 + R(1, 10**100)) - R(1, 10**101))).lt(0), False,
         "the argument is 9e-101 > 0, and so is its sine (a constant enclosed by evalf was -1e-101)", _at()),
    Case("square-plus-log1p-slip-nonneg", "tiny-offset",
         lambda: calc(x**2 + R(1, 10**101) - sp.log(1 + R(1, 10**100))).ge(0), False,
         "the constant is 1e-101 - log(1 + 1e-100) = -9e-101 < 0: false at x = 0", _at(x=0)),
    Case("log1p-2e-16-ge-its-argument", "tiny-offset",
         lambda: calc(sp.log(1 + R(2, 10**16))).ge(R(2, 10**16)), False,
         "log(1 + u) < u; at u = 2e-16 the argument is the double next to 1, where the kernel's check for a "
         "logarithm near 1 lets evalf decide", _at()),
    Case("log-1-minus-1e-18-ge-minus-argument", "tiny-offset",
         lambda: calc(sp.log(1 - R(1, 10**18))).ge(-R(1, 10**18)), False,
         "log(1 - u) < -u for 0 < u < 1", _at()),
    Case("log1p-exp-window-ge-quarter-square", "tail",
         lambda: calc(sp.log(1 + sp.exp(-x)), assume=[x >= 35, x <= 36]).ge(sp.exp(-x) - sp.exp(-2 * x) / 4),
         False, "log(1 + t) = t - t^2/2 + ... < t - t^2/4 for small t > 0: off by 1e-31 next to values of 6e-16",
         _at(x=35)),
    Case("log1p-exp-at-the-point-40-ge-exp", "tiny-interval",
         lambda: calc(sp.log(1 + sp.exp(-x)), assume=[sp.Eq(x, 40)]).ge(sp.exp(-x)), False,
         "a one-point domain (x = 40, not a special value of the sampler): log(1 + t) < t",
         _at(x=40)),
    Case("log-on-a-window-above-1-le-0", "tiny-interval",
         lambda: calc(sp.log(x), assume=[x >= 1, x <= 1 + R(1, 10**25)]).le(0), False,
         "log x > 0 for every x > 1 in the window (1e-25 wide)", _at(x=1 + R(1, 10**26))),
    Case("exp-plus-1e-45-le-exp", "tiny-offset",
         lambda: calc(sp.exp(a) + R(1, 10**45)).le(sp.exp(a)), False,
         "a > 0: says 1e-45 <= 0; false everywhere", _at(a=1)),
    Case("pythagoras-plus-1e-60", "tiny-offset",
         lambda: calc(sp.sin(x)**2 + sp.cos(x)**2).eq(1 + R(1, 10**60)), False,
         "the left side is exactly 1: false everywhere by 1e-60", _at(x=1)),
    Case("pi-le-50-digit-truncation", "tiny-offset",
         lambda: calc(sp.pi).le(R(314159265358979323846264338327950288419716939937510, 10**50)), False,
         "the rational is pi truncated after 50 decimals: pi exceeds it by ~5.8e-51", lambda: {}),
    Case("sigmoid-symmetry-minus-1e-50", "tiny-offset",
         lambda: calc(sigmoid(x) + sigmoid(-x)).le(1 - R(1, 10**50)), False,
         "sigma(x) + sigma(-x) = 1 exactly: false everywhere by 1e-50", _at(x=0)),
    Case("binomial-square-plus-1e-70", "tiny-offset",
         lambda: calc((x + 1)**2).eq(x**2 + 2 * x + 1 + R(1, 10**70)), False,
         "off by exactly 1e-70 everywhere", _at(x=3)),
    Case("log-exp-plus-1e-50-le-x", "tiny-offset",
         lambda: calc(sp.log(sp.exp(x) + R(1, 10**50))).le(x), False,
         "log(e^x + d) > x for every x when d > 0 (at x = 0 by ~1e-50; smaller gap for larger x)",
         _at(x=0)),
    Case("derivative-cube-plus-1e-50", "tiny-offset",
         lambda: calc(D(x**3, x)).eq(3 * x**2 + R(1, 10**50)), False,
         "d/dx x**3 = 3x**2 exactly: off by 1e-50 everywhere", _at(x=1)),
    # Against the sampler's ball-arithmetic fast path: a point counts there only if the balls show the
    # claim holds, so a difference below the balls' width must still reach SymPy and be refuted.
    Case("sigmoid-symmetry-eq-1-plus-1e-150", "tiny-offset",
         lambda: calc(sigmoid(x) + sigmoid(-x)).eq(1 + R(1, 10**150)), False,
         "sigma(x) + sigma(-x) = 1 exactly: off by 1e-150 everywhere", _at(x=0)),
    Case("tanh-sech-pythagoras-plus-1e-100", "tiny-offset",
         lambda: calc(sp.tanh(x)**2 + 1 / sp.cosh(x)**2).eq(1 + R(1, 10**100)), False,
         "tanh^2 + sech^2 = 1 exactly: off by 1e-100 everywhere", _at(x=0)),
    Case("exp-above-tangent-by-1e-40", "tiny-offset",
         lambda: calc(sp.exp(x)).ge(1 + x + R(1, 10**40)), False,
         "exp(x) - 1 - x is below 1e-40 only for |x| < ~1.4e-20: fails at x = 0 alone among simple points",
         _at(x=0)),
    Case("softplus-minus-relu-below-log2", "tiny-offset",
         lambda: calc(sp.log(1 + sp.exp(x)) - sp.Max(x, 0)).le(sp.log(2) - R(1, 10**60)), False,
         "log(1 + e^x) - max(x, 0) attains log 2 at x = 0 (its maximum): false there by 1e-60", _at(x=0)),
    Case("abs-plus-1e-40-le-smoothed", "tiny-offset",
         lambda: calc(sp.Abs(x) + R(1, 10**40)).le(sp.sqrt(x**2 + R(1, 10**80))), False,
         "sqrt(x**2 + d**2) < |x| + d for x != 0 (d = 1e-40); equality only at x = 0", _at(x=1)),
]

# ---------------------------------------------------------------------------
# 6. Finite sums and products that fail only for large integers.

_SUMS: list[Case] = [
    Case("harmonic-le-6", "sum-product", lambda: calc(sp.Sum(1 / k, (k, 1, n))).le(6), False,
         "H_226 = 5.9990..., H_227 = 6.0043...: fails for n >= 227", _at(n=227)),
    Case("basel-partial-le-1.64", "sum-product", lambda: calc(sp.Sum(1 / k**2, (k, 1, n))).le(R(164, 100)),
         False, "partial sums of 1/k**2 pass 1.64 at n = 203 (1.640020...)", _at(n=203)),
    Case("triangular-le-1e6", "sum-product", lambda: calc(sp.Sum(k, (k, 1, n))).le(10**6), False,
         "n(n+1)/2: 998991 at n = 1413, 1000405 at n = 1414", _at(n=1414)),
    Case("geometric-le-2-minus-1e-30", "sum-product",
         lambda: calc(sp.Sum(S.Half**j, (j, 0, n))).le(2 - R(1, 10**30)), False,
         "2 - 2**-n: 2**-99 = 1.6e-30 > 1e-30 > 2**-100 = 7.9e-31: fails for n >= 100", _at(n=100)),
    Case("factorial-le-10-pow-n", "sum-product", lambda: calc(sp.factorial(n)).le(10**n), False,
         "24! = 6.2e23 < 1e24, 25! = 1.55e25 > 1e25: fails for n >= 25", _at(n=25)),
    Case("two-pow-n-le-n-pow-10", "sum-product", lambda: calc(2**n, assume=[n >= 2]).le(n**10), False,
         "n >= 2: 2**58 = 2.9e17 < 58**10 = 4.3e17, 2**59 = 5.8e17 > 59**10 = 5.1e17: fails for n >= 59",
         _at(n=59)),
    Case("product-1-plus-inverse-square-le-3.67", "sum-product",
         lambda: calc(sp.Product(1 + 1 / k**2, (k, 1, n))).le(R(367, 100)), False,
         "increases to sinh(pi)/pi = 3.67607...; passes 3.67 at n = 604", _at(n=604)),
    Case("wallis-ge-2-over-pi-plus-1e-4", "sum-product",
         lambda: calc(sp.Product(1 - 1 / (4 * k**2), (k, 1, n))).ge(2 / sp.pi + R(1, 10**4)), False,
         "Wallis: the product decreases to 2/pi; within 1e-4 of it from n = 1592 on", _at(n=1592)),
    Case("sum-inverse-sqrt-le-100", "sum-product",
         lambda: calc(sp.Sum(1 / sp.sqrt(k), (k, 1, n))).le(100), False,
         "~ 2 sqrt(n) + zeta(1/2): passes 100 at n = 2574", _at(n=2574)),
    Case("telescoping-le-1-minus-1e-4", "sum-product",
         lambda: calc(sp.Sum(1 / (k * (k + 1)), (k, 1, n))).le(1 - R(1, 10**4)), False,
         "the sum is 1 - 1/(n + 1): fails for n >= 10**4", _at(n=10**4)),
    # Aimed at how sums are evaluated at sample points (no closed form, kinks, Karr, single points).
    Case("sum-of-signs-ge-minus-1", "sum-product", lambda: calc(sp.Sum(sp.sign(k - 3), (k, 1, n))).ge(-1), False,
         "sign(k - 3) is -1, -1, 0, 1, ...: the sum is -2 at n = 2 (SymPy has no closed form)", _at(n=2)),
    Case("sum-of-steps-heaviside-half", "sum-product",
         lambda: calc(sp.Sum(sp.Heaviside(k - 2), (k, 1, n))).eq(n - 1), False,
         "Heaviside(0) = 1/2 as written (SymPy's convention): the sum is n - 3/2 for n >= 2", _at(n=2)),
    Case("sqrt-sum-peeled-plus-1e-60", "sum-product",
         lambda: calc(sp.Sum(1 / sp.sqrt(k), (k, 1, n))).eq(sp.Sum(1 / sp.sqrt(k), (k, 1, n - 1))
                                                            + 1 / sp.sqrt(n) + R(1, 10**60)), False,
         "peeling off the last term is exact: the 1e-60 is wrong at every n (e.g. n = 1: 1 vs 1 + 1e-60)",
         _at(n=1)),
    Case("reversed-sum-off-at-one-point", "sum-product",
         lambda: calc(sp.Sum(1, (kk, 1, ii)), assume=[ii >= -10]).eq(ii + sp.KroneckerDelta(ii, -5)), False,
         "by Karr's convention sum_{kk=1}^{ii} 1 = ii for every integer ii; the delta adds 1 at ii = -5 only",
         _at(ii=-5)),
    Case("gauss-sum-off-at-seven", "sum-product",
         lambda: calc(sp.Sum(k, (k, 1, n))).eq(n * (n + 1) / 2 + sp.KroneckerDelta(n, 7)), False,
         "n (n + 1)/2 is the sum; the delta breaks it at n = 7 only", _at(n=7)),
    Case("alternating-binomial-sum-is-zero", "sum-product",
         lambda: calc(sp.Sum((-1)**j * sp.binomial(n0, j), (j, 0, n0))).eq(0), False,
         "(1 - 1)^n = 0 only for n >= 1: at n = 0 the sum is 1 (SymPy's doit says 0 for every n)",
         lambda: {n0: sp.S.Zero}),
    Case("alternating-binomial-fifth-moment-nonneg", "sum-product",
         lambda: calc(sp.Sum((-1)**j * j**5 * sp.binomial(n0, j), (j, 0, n0))).ge(0), False,
         "the sums are 0, -1, 30, -150, 240, -120 for n = 0..5 (SymPy's doit says 0)", lambda: {n0: sp.S.One}),
    Case("binomial-sum-closed-form-hole-at-0", "sum-product",
         lambda: calc(sp.Sum((-1)**kk * sp.binomial(n0, kk), (kk, n0, 2 * n0)), assume=[sp.Eq(n0, 0)])
         .eq((-1)**n0 - sp.binomial(n0, 2 * n0)), False,
         "true for n >= 1; at n = 0 the sum is its one term 1, the right side 0 (SymPy's closed form divides "
         "by n and its cancelled value is wrong there)", lambda: {n0: sp.S.Zero}),
    Case("delta-sum-even-index-hits-odd", "sum-product",
         lambda: calc(sp.Sum(sp.KroneckerDelta(2 * kk, ii), (kk, 1, 3)), assume=[sp.Eq(ii, 3)])
         .eq(sp.Piecewise((1, (ii >= 2) & (ii <= 6)), (0, True))), False,
         "2k = 3 has no integer solution: the sum is 0 (SymPy's delta summation takes k = 3/2)",
         lambda: {ii: sp.Integer(3)}),
    Case("product-through-a-zero-factor-is-zero", "sum-product",
         lambda: calc(sp.Product(k - 3, (k, 1, n))).eq(0), False,
         "the factor k - 3 vanishes only once k reaches 3: the product is -2 at n = 1 and 2 at n = 2",
         _at(n=1)),
    Case("complex-geometric-off-by-one", "sum-product",
         lambda: calc(sp.Sum(z**j, (j, 0, n))).eq((1 - z**n) / (1 - z)), False,
         "the partial geometric sum to n is (1 - z**(n + 1))/(1 - z); at n = 1, z = 2: 3 vs 1", _at(n=1, z=2)),
]


def _over(term: sp.Expr, upper: sp.Expr = m) -> sp.Expr:
    """``sum_{jj=1}^{upper} term``."""
    return sp.Sum(term, (jj, 1, upper))


def _centered_squares() -> sp.Expr:
    return _over((vv[jj] - _over(vv[jj]) / m)**2)


def _vector(**values: Any) -> Callable[[], dict[sp.Basic, sp.Expr]]:
    """A witness with family entries: ``_vector(m=2, v=(1, -1))`` gives m = 2, v[1] = 1, v[2] = -1."""
    scalars_by_name = {str(s): s for s in (m, ix)}
    families = {str(f): f for f in (vv, gg, pp)}

    def point() -> dict[sp.Basic, sp.Expr]:
        out: dict[sp.Basic, sp.Expr] = {}
        for name, value in values.items():
            if name in families:
                out.update({families[name][i]: sp.sympify(e) for i, e in enumerate(value, start=1)})
            else:
                out[scalars_by_name[name]] = sp.sympify(value)
        return out

    return point


#: Sums over indexed families (every vector, not one value for all entries), false.
_FAMILY_SLIPS: list[Case] = [
    Case("family-reverse-cauchy-schwarz", "sum-product",
         lambda: calc(m * _over(vv[jj]**2)).le(_over(vv[jj])**2), False,
         "Cauchy-Schwarz reversed: equality only for constant vectors; v = (1, -1) gives 4 <= 0",
         _vector(m=2, v=(1, -1))),
    Case("family-square-of-sum-is-sum-of-squares", "sum-product",
         lambda: calc(_over(vv[jj])**2).eq(_over(vv[jj]**2)), False,
         "the cross terms are missing: v = (1, 1) gives 4 vs 2 (true for m = 1 and for one nonzero entry)",
         _vector(m=2, v=(1, 1))),
    Case("family-kronecker-index-beyond-size", "sum-product",
         lambda: calc(_over(sp.KroneckerDelta(ix, jj) * gg[jj]), assume=[ix <= m + 1]).eq(gg[ix]), False,
         "the delta picks g_i only when 1 <= i <= m; at i = m + 1 the sum is 0", _vector(m=1, ix=2, g=(0, 1))),
    Case("family-variance-bessel-slip", "sum-product",
         lambda: calc(_centered_squares(), assume=[m >= 2]).eq(_over(vv[jj]**2) - _over(vv[jj])**2 / (m - 1)),
         False, "the centred sum of squares is sum v^2 - (sum v)^2/m, not /(m - 1): v = (0, 2) gives 2 vs 0",
         _vector(m=2, v=(0, 2))),
    Case("family-softmax-entry-below-1", "sum-product",
         lambda: calc(sp.exp(vv[1]) / _over(sp.exp(vv[jj]))).lt(1), False,
         "a softmax entry is < 1 only when there are at least two entries: m = 1 gives exactly 1",
         _vector(m=1, v=(0,))),
    Case("family-triangle-is-half-the-square", "sum-product",
         lambda: calc(_over(sp.Sum(vv[jj] * vv[ix], (ix, 1, jj)))).eq(_over(vv[jj])**2 / 2), False,
         "the triangle sum_{i <= j} v_i v_j double-counts nothing: it is ((sum v)^2 + sum v^2)/2; "
         "m = 1, v = (1,) gives 1 vs 1/2", _vector(m=1, v=(1,))),
    Case("family-am-gm-reversed", "sum-product",
         lambda: calc(_over(pp[jj]) / m).le(sp.Product(pp[jj], (jj, 1, m))**(1 / m)), False,
         "AM-GM the wrong way: (1 + 4)/2 > sqrt(4)", _vector(m=2, pos=(1, 4))),
]

# ---------------------------------------------------------------------------
# 7. Plain algebra slips.

def _mse_loss() -> sp.Expr:
    """Mean squared error of the linear model w x over m = 3 examples."""
    return sp.Add(*[(w * xi - yi)**2 for xi, yi in zip(xs, ys)]) / 3


def _binary_xent(label: sp.Expr, logit: sp.Expr) -> sp.Expr:
    return -(label * sp.log(sigmoid(logit)) + (1 - label) * sp.log(1 - sigmoid(logit)))


_SLIPS: list[Case] = [
    Case("sigmoid-derivative-plus", "algebra-slip",
         lambda: calc(D(sigmoid(x), x)).eq(sigmoid(x) * (1 + sigmoid(x))), False,
         "sigma' = sigma (1 - sigma); at x = 0: 1/4 vs 3/4", _at(x=0)),
    Case("square-of-sum", "algebra-slip", lambda: calc((x + y)**2).eq(x**2 + y**2), False,
         "drops 2xy; at (1, 1): 4 vs 2", _at(x=1, y=1)),
    Case("sqrt-of-square", "algebra-slip", lambda: calc(sp.sqrt(x**2)).eq(x), False,
         "sqrt(x**2) = |x|; at x = -1: 1 vs -1", _at(x=-1)),
    Case("tanh-via-shifted-sigmoid", "algebra-slip",
         lambda: calc(sp.tanh(x)).eq(2 * sigmoid(2 * x - 1)), False,
         "tanh(x) = 2 sigma(2x) - 1; at x = 0: 0 vs 2 sigma(-1) = 0.538", _at(x=0)),
    Case("rsqrt-is-sqrt", "algebra-slip",
         lambda: calc((var + eps)**R(-1, 2)).eq(sp.sqrt(var + eps)), False,
         "BatchNorm's 1/sqrt(var + eps) is not sqrt(var + eps) unless var + eps = 1; at (1, 1): "
         "1/sqrt(2) vs sqrt(2)", _at(sigma2=1, epsilon=1)),
    Case("softmax-xent-gradient-sign", "algebra-slip",
         lambda: calc(D(-sp.log(_softmax1(z1, z2)), z1)).eq(1 - _softmax1(z1, z2)), False,
         "d/dz1 -log softmax_1 = softmax_1 - 1; at z1 = z2 = 0: -1/2 vs 1/2", _at(z1=0, z2=0)),
    Case("mse-gradient-drops-1-over-m", "algebra-slip",
         lambda: calc(D(_mse_loss(), w)).eq(2 * sp.Add(*[xi * (w * xi - yi) for xi, yi in zip(xs, ys)])),
         False, "the mean over m = 3 examples keeps the factor 1/3; at x_i = 1, y_i = 0, w = 1: 2 vs 6",
         _at(w=1, x1=1, x2=1, x3=1, y1=0, y2=0, y3=0)),
    Case("derivative-exp-minus-x-sign", "algebra-slip", lambda: calc(D(sp.exp(-x), x)).eq(sp.exp(-x)), False,
         "d/dx exp(-x) = -exp(-x); at x = 0: -1 vs 1", _at(x=0)),
    Case("chain-rule-sin-squared", "algebra-slip", lambda: calc(D(sp.sin(x)**2, x)).eq(2 * sp.sin(x)), False,
         "forgets the inner derivative cos(x); at x = 1: sin 2 = 0.909 vs 2 sin 1 = 1.683", _at(x=1)),
    Case("exp-of-sum", "algebra-slip", lambda: calc(sp.exp(x + y)).eq(sp.exp(x) + sp.exp(y)), False,
         "exp(x + y) = exp(x) exp(y); at (0, 0): 1 vs 2", _at(x=0, y=0)),
    Case("log-of-sum", "algebra-slip", lambda: calc(sp.log(a + b)).eq(sp.log(a) + sp.log(b)), False,
         "log(a + b) != log a + log b (equal only on ab = a + b); at (1, 1): log 2 vs 0", _at(a=1, b=1)),
    Case("reciprocal-of-sum", "algebra-slip", lambda: calc(1 / (a + b)).eq(1 / a + 1 / b), False,
         "at (1, 1): 1/2 vs 2", _at(a=1, b=1)),
    Case("sigmoid-sign-flip", "algebra-slip", lambda: calc(sigmoid(x)).eq(1 / (1 + sp.exp(x))), False,
         "sigma(x) = 1/(1 + exp(-x)); the slip is sigma(-x); at x = 1: 0.731 vs 0.269", _at(x=1)),
    Case("tanh-derivative-sech", "algebra-slip", lambda: calc(D(sp.tanh(x), x)).eq(sp.sech(x)), False,
         "tanh' = sech(x)**2; at x = 1: 0.420 vs 0.648", _at(x=1)),
    Case("variance-plus-sign", "algebra-slip",
         lambda: calc(sp.Add(*[(xi - _mean(xs))**2 for xi in xs]) / 3)
         .eq(sp.Add(*[xi**2 for xi in xs]) / 3 + _mean(xs)**2), False,
         "Var = E[x**2] - E[x]**2; at x_i = 1: 0 vs 2", _at(x1=1, x2=1, x3=1)),
    Case("softplus-derivative-is-sigmoid-minus-x", "algebra-slip",
         lambda: calc(D(sp.log(1 + sp.exp(x)), x)).eq(sigmoid(-x)), False,
         "softplus' = sigma(x); at x = 1: 0.731 vs 0.269", _at(x=1)),
    Case("silu-derivative-drops-product-term", "algebra-slip",
         lambda: calc(D(x * sigmoid(x), x)).eq(x * sigmoid(x) * (1 - sigmoid(x))), False,
         "product rule: SiLU' = sigma + x sigma (1 - sigma); at x = 0: 1/2 vs 0", _at(x=0)),
    Case("log-sigmoid-derivative", "algebra-slip", lambda: calc(D(sp.log(sigmoid(x)), x)).eq(sigmoid(x)), False,
         "(log sigma)' = 1 - sigma(x); equal only at x = 0; at x = 1: 0.269 vs 0.731", _at(x=1)),
    Case("centred-squares-drop-m", "algebra-slip",
         lambda: calc(sp.Add(*[(xi - _mean(xs))**2 for xi in xs]))
         .eq(sp.Add(*[xi**2 for xi in xs]) - _mean(xs)**2), False,
         "sum (x_i - mu)**2 = sum x_i**2 - m mu**2 with m = 3; at x_i = 1: 0 vs 2", _at(x1=1, x2=1, x3=1)),
    Case("atan-reciprocal-all-reals", "algebra-slip",
         lambda: calc(sp.atan(x) + sp.atan(1 / x)).eq(sp.pi / 2), False,
         "pi/2 only for x > 0; for x < 0 it is -pi/2 (at x = -1)", _at(x=-1)),
    Case("atan-reciprocal-nonzero-reals", "algebra-slip",
         lambda: calc(sp.atan(xnz) + sp.atan(1 / xnz)).eq(sp.pi / 2), False,
         "x != 0 splits the line: the difference is constant on each half, -pi on x < 0 (found by review: "
         "a zero derivative must not be read across the hole)", _at(x_nz=-1)),
    Case("cosh-squared-plus-sinh-squared", "algebra-slip",
         lambda: calc(sp.cosh(x)**2 + sp.sinh(x)**2).eq(1), False,
         "cosh**2 - sinh**2 = 1; the sum is cosh(2x); at x = 1: 3.76 vs 1", _at(x=1)),
    Case("chain-rule-exp-square", "algebra-slip", lambda: calc(D(sp.exp(x**2), x)).eq(2 * x * sp.exp(x)), False,
         "d/dx exp(x**2) = 2x exp(x**2); at x = 2: 4 e^4 vs 4 e^2", _at(x=2)),
    Case("abs-of-sum", "algebra-slip", lambda: calc(sp.Abs(x + y)).eq(sp.Abs(x) + sp.Abs(y)), False,
         "equal only when x y >= 0; at (1, -1): 0 vs 2", _at(x=1, y=-1)),
    Case("weight-gradient-drops-input", "algebra-slip",
         lambda: calc(D((w * x - y)**2, w)).eq(2 * (w * x - y)), False,
         "d/dw (w x - y)**2 = 2 x (w x - y); at w = 1, x = 2, y = 0: 8 vs 4", _at(w=1, x=2, y=0)),
    Case("strict-after-identity", "algebra-slip", lambda: calc(sp.exp(sp.log(a))).lt(a), False,
         "exp(log a) = a for a > 0: the strict inequality fails everywhere", _at(a=1)),
    Case("quotient-rule-sign", "algebra-slip",
         lambda: calc(D(x / (1 + x**2), x)).eq((x**2 - 1) / (1 + x**2)**2), False,
         "the derivative is (1 - x**2)/(1 + x**2)**2; at x = 0: 1 vs -1", _at(x=0)),
    Case("sqrt-of-sum", "algebra-slip", lambda: calc(sp.sqrt(a + b)).eq(sp.sqrt(a) + sp.sqrt(b)), False,
         "at (1, 1): sqrt 2 vs 2", _at(a=1, b=1)),
    Case("binary-xent-gradient-sign", "algebra-slip",
         lambda: calc(D(_binary_xent(y, t), t), assume=[0 <= y, y <= 1]).eq(y - sigmoid(t)), False,
         "d/dt of the binary cross-entropy is sigma(t) - y; at t = 0, y = 0: 1/2 vs -1/2", _at(t=0, y=0)),
]

# ---------------------------------------------------------------------------
# 8. Hard inequalities that are false.

_HARD: list[Case] = [
    Case("exp-ge-second-order-taylor", "hard-inequality", lambda: calc(sp.exp(x)).ge(1 + x + x**2 / 2), False,
         "true for x >= 0, false for x < 0 (x = -1: 0.368 vs 0.5)", _at(x=-1)),
    Case("log-le-x-minus-2", "hard-inequality", lambda: calc(sp.log(a)).le(a - 2), False,
         "a > 0: at a = 1, 0 <= -1", _at(a=1)),
    Case("sin-le-x-all-reals", "hard-inequality", lambda: calc(sp.sin(x)).le(x), False,
         "true for x >= 0 only; at x = -1: -0.841 <= -1 is false", _at(x=-1)),
    Case("quartic-with-negative-dip", "hard-inequality",
         lambda: calc(x**4 - 4 * x**3 + 5 * x**2 - 2 * x + R(6, 25)).ge(0), False,
         "x(x - 2)(x - 1)**2 + 6/25 = (v - 1) v + 6/25 with v = (x - 1)**2: minimum -1/100 at "
         "x = 1 +- 1/sqrt 2", _at(x=1 + sp.sqrt(2) / 2)),
    Case("silu-derivative-le-1.09", "hard-inequality", lambda: calc(D(_silu(), x)).le(R(109, 100)), False,
         "sup SiLU' = 1.09984 at x = 2.39936 (f'(12/5) = 1.09984)", _at(x=R(12, 5))),
    Case("gelu-derivative-le-1.12", "hard-inequality", lambda: calc(D(_gelu(), x)).le(R(112, 100)), False,
         "sup GELU' = (1 + erf 1)/2 + 1/(e sqrt pi) = 1.12890 at x = sqrt 2", _at(x=sp.sqrt(2))),
    Case("gelu-is-monotone", "hard-inequality", lambda: calc(D(_gelu(), x)).ge(0), False,
         "GELU' = Phi(x) + x phi(x) < 0 for x < ~-0.75 (x = -1: -0.0833)", _at(x=-1)),
    Case("silu-ge-minus-quarter", "hard-inequality", lambda: calc(_silu()).ge(-R(1, 4)), False,
         "min SiLU = -0.27846 at x = -1.27846 (x = -5/4: -0.27838)", _at(x=-R(5, 4))),
    Case("motzkin-ge-1-100", "hard-inequality", lambda: calc(_motzkin(x, y)).ge(R(1, 100)), False,
         "the Motzkin polynomial is 0 at |x| = |y| = 1", _at(x=1, y=1)),
    Case("x-exp-minus-x-le-0.36", "hard-inequality", lambda: calc(x * sp.exp(-x)).le(R(36, 100)), False,
         "max 1/e = 0.3679 at x = 1", _at(x=1)),
    Case("sin-plus-cos-le-1.414", "hard-inequality", lambda: calc(sp.sin(x) + sp.cos(x)).le(R(1414, 1000)),
         False, "max sqrt 2 = 1.41421 at x = pi/4", _at(x=sp.pi / 4)),
    Case("x-pow-x-ge-0.693", "hard-inequality", lambda: calc(a**a).ge(R(693, 1000)), False,
         "min a**a = exp(-1/e) = 0.69220 at a = 1/e; below 0.693 for a in ~(0.34, 0.40)",
         _at(a=sp.exp(-1))),
    Case("x-root-x-le-1.444", "hard-inequality", lambda: calc(a**(1 / a)).le(R(1444, 1000)), False,
         "max a**(1/a) = exp(1/e) = 1.44467 at a = e", _at(a=sp.E)),
    Case("log1p-ge-cubic-taylor-variant", "hard-inequality",
         lambda: calc(sp.log(1 + a)).ge(a - a**2 / 2 + a**3 / 4), False,
         "holds near 0 (gap ~ a**3/12) but at a = 2: log 3 = 1.099 vs 2", _at(a=2)),
    Case("exp-ge-cube", "hard-inequality", lambda: calc(sp.exp(a)).ge(a**3), False,
         "a > 0: fails on ~(1.857, 4.536) (a = 3: 20.1 vs 27)", _at(a=3)),
    Case("cos-ge-quartic-minorant", "hard-inequality",
         lambda: calc(sp.cos(x)).ge(1 - x**2 / 2 + x**4 / 25), False,
         "holds near 0 (x**4/24 > x**4/25) but at x = 2: -0.416 vs -0.36", _at(x=2)),
    Case("am-gm-without-positivity", "hard-inequality", lambda: calc((x + y) / 2).ge(sp.sqrt(x * y)), False,
         "x = y = -1: -1 >= 1 is false (both sides real)", _at(x=-1, y=-1)),
    Case("log-concave-wrong-direction", "hard-inequality",
         lambda: calc(sp.log((a + b) / 2)).le((sp.log(a) + sp.log(b)) / 2), False,
         "log is concave: the reverse holds; at (1, 2): 0.405 vs 0.347", _at(a=1, b=2)),
    Case("softplus-le-relu-plus-0.69", "hard-inequality",
         lambda: calc(sp.log(1 + sp.exp(x))).le(sp.Max(x, 0) + R(69, 100)), False,
         "softplus - relu = log(1 + e^-|x|) reaches log 2 = 0.6931 at x = 0", _at(x=0)),
    Case("logsumexp-le-max-plus-0.69", "hard-inequality",
         lambda: calc(sp.log(sp.exp(x) + sp.exp(y))).le(sp.Max(x, y) + R(69, 100)), False,
         "equality case x = y gives max + log 2 = max + 0.6931", _at(x=0, y=0)),
    Case("relu-minus-gelu-le-0.169", "hard-inequality",
         lambda: calc(sp.Max(x, 0) - _gelu()).le(R(169, 1000)), False,
         "max of relu - GELU = |x| (1 - Phi(|x|)) is 0.169971 at |x| = 0.75179; above 0.169 on a short "
         "interval around it (x = 3/4)", _at(x=R(3, 4))),
    Case("bernoulli-cubic-all-reals", "hard-inequality", lambda: calc((1 + x)**3).ge(1 + 3 * x), False,
         "needs x >= -3; at x = -4: -27 vs -11", _at(x=-4)),
]

# ---------------------------------------------------------------------------
# True textbook facts.

_TEXTBOOK: list[Case] = [
    Case("exp-ge-1-plus-x", "textbook", lambda: calc(sp.exp(x)).ge(1 + x), True,
         "tangent line of a convex function at 0"),
    Case("log-le-x-minus-1", "textbook", lambda: calc(sp.log(a)).le(a - 1), True,
         "a > 0: tangent line of the concave log at 1"),
    Case("am-gm-2", "textbook", lambda: calc((a + b) / 2).ge(sp.sqrt(a * b)), True,
         "a, b > 0: (sqrt a - sqrt b)**2 >= 0"),
    Case("am-gm-3", "textbook", lambda: calc((a + b + c) / 3).ge((a * b * c)**R(1, 3)), True,
         "a, b, c > 0: AM-GM for three numbers"),
    Case("triangle-inequality", "textbook", lambda: calc(sp.Abs(x + y)).le(sp.Abs(x) + sp.Abs(y)), True,
         "the triangle inequality on the real line"),
    Case("max-plus-min", "textbook", lambda: calc(sp.Max(x, y) + sp.Min(x, y)).eq(x + y), True,
         "one of them is x, the other y"),
    Case("abs-sin-le-1", "textbook", lambda: calc(sp.Abs(sp.sin(x))).le(1), True, "|sin x| <= 1"),
    Case("tanh-via-sigmoid", "textbook", lambda: calc(sp.tanh(x)).eq(2 * sigmoid(2 * x) - 1), True,
         "2/(1 + e^-2x) - 1 = (1 - e^-2x)/(1 + e^-2x) = tanh x"),
    Case("atan-plus-atan-reciprocal", "textbook", lambda: calc(sp.atan(a) + sp.atan(1 / a)).eq(sp.pi / 2), True,
         "a > 0: complementary angles of a right triangle"),
    Case("sigmoid-derivative", "textbook", lambda: calc(D(sigmoid(x), x)).eq(sigmoid(x) * (1 - sigmoid(x))),
         True, "sigma' = e^-x/(1 + e^-x)**2 = sigma (1 - sigma)"),
    Case("sigmoid-derivative-le-quarter", "textbook",
         lambda: calc(sigmoid(x) * (1 - sigmoid(x))).le(R(1, 4)), True,
         "s (1 - s) = 1/4 - (s - 1/2)**2"),
    Case("sigmoid-symmetry", "textbook", lambda: calc(sigmoid(-x)).eq(1 - sigmoid(x)), True,
         "1/(1 + e^x) = 1 - 1/(1 + e^-x)"),
    Case("tanh-derivative", "textbook", lambda: calc(D(sp.tanh(x), x)).eq(1 - sp.tanh(x)**2), True,
         "tanh' = sech**2 = 1 - tanh**2"),
    Case("abs-tanh-derivative-le-1", "textbook", lambda: calc(sp.Abs(D(sp.tanh(x), x))).le(1), True,
         "0 < 1 - tanh**2 <= 1"),
    Case("softplus-derivative", "textbook", lambda: calc(D(sp.log(1 + sp.exp(x)), x)).eq(sigmoid(x)), True,
         "e^x/(1 + e^x) = sigma(x)"),
    Case("softplus-ge-x", "textbook", lambda: calc(sp.log(1 + sp.exp(x))).ge(x), True,
         "log(1 + e^x) > log(e^x) = x"),
    Case("softplus-nonneg", "textbook", lambda: calc(sp.log(1 + sp.exp(x))).ge(0), True, "1 + e^x > 1"),
    Case("cauchy-schwarz-2d", "textbook",
         lambda: calc((x * y + z1 * z2)**2).le((x**2 + z1**2) * (y**2 + z2**2)), True,
         "Lagrange's identity: the difference is (x z2 - z1 y)**2"),
    Case("two-squares", "textbook", lambda: calc(x**2 + y**2).ge(2 * x * y), True, "(x - y)**2 >= 0"),
    Case("bernoulli-cubic", "textbook", lambda: calc((1 + x)**3, assume=[x >= -1]).ge(1 + 3 * x), True,
         "x >= -1: (1 + x)**3 - 1 - 3x = x**2 (x + 3) >= 0"),
    Case("silu-derivative-le-1.0999", "textbook", lambda: calc(D(_silu(), x)).le(R(10999, 10000)), True,
         "sup SiLU' = 1.0998393 (catalog: activation-derivative-bounds)"),
    Case("gelu-derivative-le-1.129", "textbook", lambda: calc(D(_gelu(), x)).le(R(1129, 1000)), True,
         "sup GELU' = 1.1289041 at sqrt 2 (catalog)"),
    Case("gelu-derivative-le-exact-sup", "textbook", lambda: calc(D(_gelu(), x)).le(_gelu_sup()), True,
         "sup GELU' = Phi(sqrt 2) + sqrt 2 phi(sqrt 2) = (1 + erf 1)/2 + 1/(e sqrt pi), attained at sqrt 2"),
    Case("jensen-exp-midpoint", "textbook",
         lambda: calc(sp.exp((x + y) / 2)).le((sp.exp(x) + sp.exp(y)) / 2), True,
         "AM-GM on e^x, e^y: the difference is (e^(x/2) - e^(y/2))**2 / 2"),
    Case("cosh-ge-1", "textbook", lambda: calc(sp.cosh(x)).ge(1), True, "(e^x + e^-x)/2 >= 1 by AM-GM"),
    Case("x-over-1-plus-square-le-half", "textbook", lambda: calc(x / (1 + x**2)).le(S.Half), True,
         "1 + x**2 - 2x = (1 - x)**2 >= 0"),
    Case("sqrt-product-le-mean", "textbook", lambda: calc(sp.sqrt(p * q)).le((p + q) / 2), True,
         "p, q >= 0: AM-GM with zero allowed"),
    Case("one-minus-x-le-exp-minus-x", "textbook", lambda: calc(1 - x).le(sp.exp(-x)), True,
         "exp(u) >= 1 + u at u = -x"),
    Case("batchnorm-centred-sum-zero", "textbook",
         lambda: calc(sp.Add(*[xi - _mean(xs) for xi in xs])).eq(0), True,
         "m = 3: sum (x_i - mu) = sum x_i - 3 mu = 0"),
    Case("relu-derivative-positive-side", "textbook", lambda: calc(D(sp.Max(x, 0), x), assume=[x > 0]).eq(1),
         True, "x > 0: Max(x, 0) = x near x"),
    Case("relu-derivative-negative-side", "textbook", lambda: calc(D(sp.Max(x, 0), x), assume=[x < 0]).eq(0),
         True, "x < 0: Max(x, 0) = 0 near x"),
    Case("relu-minus-relu-of-negative", "textbook", lambda: calc(sp.Max(x, 0) - sp.Max(-x, 0)).eq(x), True,
         "positive part minus negative part"),
    Case("x-exp-minus-x-le-inverse-e", "textbook", lambda: calc(x * sp.exp(-x)).le(sp.exp(-1)), True,
         "max at x = 1; equivalently e^(x-1) >= x"),
    Case("sin-le-x-nonneg", "textbook", lambda: calc(sp.sin(p)).le(p), True, "p >= 0: sin' = cos <= 1"),
    Case("sum-first-n", "textbook", lambda: calc(sp.Sum(k, (k, 1, n))).eq(n * (n + 1) / 2), True, "Gauss"),
    Case("sum-odd-numbers", "textbook", lambda: calc(sp.Sum(2 * k - 1, (k, 1, n))).eq(n**2), True,
         "the first n odd numbers sum to n**2"),
    Case("geometric-sum", "textbook", lambda: calc(sp.Sum(S.Half**j, (j, 0, n))).eq(2 - S.Half**n), True,
         "sum_{j=0}^n 2**-j = 2 - 2**-n"),
    Case("telescoping-product", "textbook", lambda: calc(sp.Product(k / (k + 1), (k, 1, n))).eq(1 / (n + 1)),
         True, "the product telescopes"),
    Case("variance-identity", "textbook",
         lambda: calc(sp.Add(*[(xi - _mean(xs))**2 for xi in xs]) / 3)
         .eq(sp.Add(*[xi**2 for xi in xs]) / 3 - _mean(xs)**2), True, "Var = E[x**2] - E[x]**2, m = 3"),
    Case("softmax-xent-gradient", "textbook",
         lambda: calc(D(-sp.log(_softmax1(z1, z2)), z1)).eq(_softmax1(z1, z2) - 1), True,
         "d/dz1 -log softmax_1 = softmax_1 - 1"),
    Case("binary-xent-gradient", "textbook",
         lambda: calc(D(_binary_xent(y, t), t), assume=[0 <= y, y <= 1]).eq(sigmoid(t) - y), True,
         "y (1 - sigma) - (1 - y) sigma = y - sigma, negated"),
    Case("affine-neuron-chain-rule", "textbook",
         lambda: calc(D(sigmoid(w * x + bias), x)).eq(w * sigmoid(w * x + bias) * (1 - sigmoid(w * x + bias))),
         True, "chain rule through w x + b"),
    Case("limit-sin-over-x", "textbook", lambda: calc(sp.Limit(sp.sin(x) / x, x, 0)).eq(1), True,
         "the two-sided limit exists and is 1"),
    Case("limit-compound-interest", "textbook", lambda: calc(sp.Limit((1 + 1 / x)**x, x, sp.oo)).eq(sp.E), True,
         "(1 + 1/x)**x -> e"),
    Case("sqrt-square-is-abs", "textbook", lambda: calc(sp.sqrt(x**2)).eq(sp.Abs(x)), True, "x real"),
    Case("hm-le-gm", "textbook", lambda: calc(2 / (1 / a + 1 / b)).le(sp.sqrt(a * b)), True,
         "a, b > 0: 2ab/(a + b) <= sqrt(ab) iff 2 sqrt(ab) <= a + b"),
    Case("mean-le-quadratic-mean", "textbook", lambda: calc((x + y) / 2).le(sp.sqrt((x**2 + y**2) / 2)), True,
         "trivial if x + y < 0; else square: (x - y)**2 >= 0"),
    Case("exp-ge-e-x", "textbook", lambda: calc(sp.exp(x)).ge(sp.E * x), True, "e^(x-1) >= 1 + (x - 1) = x"),
    Case("log1p-le-x", "textbook", lambda: calc(sp.log(1 + x), assume=[x > -1]).le(x), True,
         "x > -1: tangent line of log(1 + x) at 0"),
    Case("x-over-1-plus-x-le-log1p", "textbook", lambda: calc(x / (1 + x), assume=[x > -1]).le(sp.log(1 + x)),
         True, "x > -1: log(1 + x) = -log(1 - x/(1 + x)) >= x/(1 + x)"),
    Case("motzkin-nonneg", "textbook", lambda: calc(_motzkin(x, y)).ge(0), True,
         "AM-GM on x**4 y**2, x**2 y**4, 1 (not a sum of squares)"),
    Case("schur-degree-1", "textbook",
         lambda: calc(p * (p - q) * (p - r) + q * (q - p) * (q - r) + r * (r - p) * (r - q)).ge(0), True,
         "Schur's inequality, t = 1, p, q, r >= 0"),
    Case("pythagoras", "textbook", lambda: calc(sp.sin(x)**2 + sp.cos(x)**2).eq(1), True, "sin**2 + cos**2 = 1"),
    Case("hyperbolic-pythagoras", "textbook", lambda: calc(sp.cosh(x)**2 - sp.sinh(x)**2).eq(1), True,
         "cosh**2 - sinh**2 = 1"),
    Case("tanh-le-x-nonneg", "textbook", lambda: calc(sp.tanh(p)).le(p), True, "p >= 0: tanh' <= 1, tanh 0 = 0"),
    Case("abs-atan-below-pi-half", "textbook", lambda: calc(sp.Abs(sp.atan(x))).lt(sp.pi / 2), True,
         "atan maps the reals onto (-pi/2, pi/2)"),
    Case("sigmoid-below-1", "textbook", lambda: calc(sigmoid(x)).lt(1), True, "1/(1 + e^-x) < 1"),
    Case("complex-square-of-sum", "textbook", lambda: calc((z + u)**2).eq(z**2 + 2 * z * u + u**2), True,
         "z, u complex: a polynomial identity holds over any commutative ring"),
    Case("complex-pythagoras", "textbook", lambda: calc(sp.sin(z)**2 + sp.cos(z)**2).eq(1), True,
         "z complex: an identity of entire functions"),
    Case("sqrt-1-plus-x-le", "textbook", lambda: calc(sp.sqrt(1 + x), assume=[x >= -1]).le(1 + x / 2), True,
         "x >= -1: (1 + x/2)**2 = 1 + x + x**2/4"),
    Case("two-pow-n-ge-n-plus-1", "textbook", lambda: calc(2**n).ge(n + 1), True, "Bernoulli: (1 + 1)**n >= 1 + n"),
    Case("factorial-ge-two-pow", "textbook", lambda: calc(sp.factorial(n)).ge(2**(n - 1)), True,
         "each factor 2, ..., n is >= 2"),
    Case("log-of-product-positive", "textbook", lambda: calc(sp.log(a * b)).eq(sp.log(a) + sp.log(b)), True,
         "a, b > 0"),
    Case("young-3-3-2", "textbook", lambda: calc(a * b).le(a**3 / 3 + 2 * b**R(3, 2) / 3), True,
         "Young's inequality with p = 3, q = 3/2"),
]

# ---------------------------------------------------------------------------
# True twins of false cases: a refuter that loosens its tolerance or misreads the
# semantics refutes these.

_NEAR_MISS: list[Case] = [
    Case("square-shifted-2-7-nonneg", "near-miss", lambda: calc((x - R(2, 7))**2).ge(0), True,
         "the non-strict twin of square-shifted-2-7-positive"),
    Case("log1p-exp-at-the-point-40-le-exp", "near-miss",
         lambda: calc(sp.log(1 + sp.exp(-x)), assume=[sp.Eq(x, 40)]).le(sp.exp(-x)), True,
         "the true twin of log1p-exp-at-the-point-40-ge-exp"),
    Case("sigmoid-derivative-shifted-le-quarter", "near-miss",
         lambda: calc(sigmoid(x - R(2, 7)) * (1 - sigmoid(x - R(2, 7)))).le(R(1, 4)), True,
         "equality at x = 2/7 only"),
    Case("tanh-below-1", "near-miss", lambda: calc(sp.tanh(x)).lt(1), True,
         "1 - tanh x = 2/(e^2x + 1) > 0, however small"),
    Case("exp-plus-1e-45-gt-exp", "near-miss", lambda: calc(sp.exp(x) + R(1, 10**45)).gt(sp.exp(x)), True,
         "the difference is exactly 1e-45 > 0"),
    Case("sign-is-x-over-abs", "near-miss", lambda: calc(sp.sign(x)).eq(x / sp.Abs(x)), True,
         "at x = 0 the right side 0/0 is undefined, so that point is outside the claim; elsewhere equal"),
    Case("heaviside-0-times-x-is-relu", "near-miss", lambda: calc(sp.Heaviside(x, 0) * x).eq(sp.Max(x, 0)), True,
         "at x = 0 both sides are 0 whatever H(0) is"),
    Case("heaviside-0-vs-1-off-zero", "near-miss",
         lambda: calc(sp.Heaviside(x, 0), assume=[x > 0]).eq(sp.Heaviside(x, 1)), True,
         "x > 0: both are 1"),
    Case("log-of-product-reals", "near-miss", lambda: calc(sp.log(x * y)).eq(sp.log(x) + sp.log(y)), True,
         "x, y real: the right side is real only for x, y > 0 (for x, y < 0 it is log|x| + log|y| + 2 pi i, "
         "for mixed signs it has imaginary part pi), and there both sides agree; complex values are "
         "undefined for real symbols, so the step is true. Over the complex numbers it is false: see "
         "complex-log-product"),
    Case("basel-partial-le-2-minus-1-over-n", "near-miss",
         lambda: calc(sp.Sum(1 / k**2, (k, 1, n))).le(2 - 1 / n), True,
         "1/k**2 <= 1/(k - 1) - 1/k telescopes; equality at n = 1"),
    Case("harmonic-le-log-plus-1", "near-miss", lambda: calc(sp.Sum(1 / k, (k, 1, n))).le(sp.log(n) + 1), True,
         "1/k <= integral of 1/s over [k - 1, k] for k >= 2; equality at n = 1"),
    Case("n-pow-5-le-two-pow-n-plus-1e7", "near-miss", lambda: calc(n**5).le(2**n + 10**7), True,
         "n <= 22: n**5 <= 22**5 = 5153632 < 1e7; n >= 23: 2**n >= n**5 (2**23 = 8388608 > 23**5 = 6436343, "
         "and (1 + 1/n)**5 < 2 after)"),
    Case("limit-abs-over-x-default-right", "near-miss", lambda: calc(sp.Limit(sp.Abs(x) / x, x, 0)).eq(1), True,
         "SymPy's Limit without a direction is the right-hand limit (rendered x -> 0^+): 1"),
    Case("limit-abs-over-x-from-left", "near-miss", lambda: calc(sp.Limit(sp.Abs(x) / x, x, 0, "-")).eq(-1), True,
         "the user wrote the direction '-': the left limit is -1"),
    Case("softplus-le-relu-plus-log2", "near-miss",
         lambda: calc(sp.log(1 + sp.exp(x))).le(sp.Max(x, 0) + sp.log(2)), True,
         "softplus - relu = log(1 + e^-|x|) <= log 2, equality at 0"),
    Case("logsumexp-le-max-plus-log2", "near-miss",
         lambda: calc(sp.log(sp.exp(x) + sp.exp(y))).le(sp.Max(x, y) + sp.log(2)), True,
         "e^x + e^y <= 2 e^max"),
    Case("x-pow-x-ge-min", "near-miss", lambda: calc(a**a).ge(sp.exp(-sp.exp(-1))), True,
         "a > 0: the minimum exp(-1/e) is attained at a = 1/e"),
    Case("relu-minus-gelu-le-0.17", "near-miss", lambda: calc(sp.Max(x, 0) - _gelu()).le(R(17, 100)), True,
         "the maximum is 0.169971 (see relu-minus-gelu-le-0.169): margin 2.9e-5"),
    Case("family-kronecker-collapse", "near-miss",
         lambda: calc(_over(sp.KroneckerDelta(ix, jj) * gg[jj]), assume=[ix <= m]).eq(gg[ix]), True,
         "1 <= i <= m: the delta picks the i-th term (the true twin of family-kronecker-index-beyond-size)"),
    Case("family-cauchy-schwarz", "near-miss", lambda: calc(_over(vv[jj])**2).le(m * _over(vv[jj]**2)), True,
         "Cauchy-Schwarz with the all-ones vector; equality for constant vectors"),
]

#: Sums over indexed families, true (the BatchNorm statistics).
_FAMILY_FACTS: list[Case] = [
    Case("family-centred-squares-nonneg", "textbook", lambda: calc(_centered_squares()).ge(0), True,
         "a sum of squares of reals with m >= 1 terms"),
    Case("family-variance-identity", "textbook",
         lambda: calc(_centered_squares()).eq(_over(vv[jj]**2) - _over(vv[jj])**2 / m), True,
         "expand the square; the mean's cross term is -2 (sum v)^2/m and its square adds (sum v)^2/m"),
    Case("family-centred-sum-is-zero", "textbook", lambda: calc(_over(vv[jj] - _over(vv[jj]) / m)).eq(0), True,
         "sum of v_j minus m times the mean"),
    Case("family-softmax-sums-to-one", "textbook",
         lambda: calc(_over(sp.exp(vv[jj]) / _over(sp.exp(vv[jj])))).eq(1), True,
         "the denominator does not depend on the outer j"),
]

# ---------------------------------------------------------------------------
# Budget: true steps that are expensive; they test that the kernel returns in time.

_BUDGET: list[Case] = [
    Case("huge-even-power-nonneg", "budget", lambda: calc(x**(10**7)).ge(0), True,
         "an even power; exact evaluation at a rational point has millions of digits"),
    Case("huge-harmonic-le-15", "budget", lambda: calc(sp.Sum(1 / k, (k, 1, 10**6))).le(15), True,
         "H_{10**6} = 14.3927...; evaluating the sum exactly is slow"),
    Case("huge-factorial-ge", "budget", lambda: calc(sp.factorial(10**5)).ge(10**5), True,
         "100000! is far larger than 100000"),
    Case("expanded-power-identity", "budget", lambda: calc(sp.expand((x + y)**60)).eq((x + y)**60), True,
         "the binomial theorem; 61 terms with large coefficients"),
    Case("big-product-polynomial-ge-1", "budget",
         lambda: calc(sp.Product(1 + p / k, (k, 1, 2000))).ge(1), True,
         "p >= 0: every factor is >= 1; doit gives a polynomial of degree 2000"),
    Case("tower-of-exponentials-positive", "budget", lambda: calc(sp.exp(sp.exp(sp.exp(x)))).gt(0), True,
         "exp is positive; evaluating at x = 30 overflows any float"),
]

CASES: tuple[Case, ...] = tuple(_CONVENTION + _NON_REAL + _TINY_SET + _TAIL + _OFFSET + _SUMS + _FAMILY_SLIPS
                                + _SLIPS + _HARD + _TEXTBOOK + _FAMILY_FACTS + _NEAR_MISS + _BUDGET)

#: False steps that may stay numeric/unknown, with the reason (at most 10% of the false steps).
#: Each needs an exact algebraic counterexample of degree 3, or an equality certified at a
#: transcendental point. (sum-inverse-sqrt-le-100 left the list: its sum is added up in ball
#: arithmetic at n = 10**4, where it passes 100.)
MAY_STAY_UNDECIDED: dict[str, str] = {
    "double-root-cubic-positive":
        "the counterexamples are the roots of an irreducible cubic (casus irreducibilis): the refuter "
        "must return an exact algebraic point and certify a zero there",
    "sin-below-one":
        "fails only at the transcendental points pi/2 + 2 pi k, where an equality must be certified "
        "exactly: intervals only ever see sin x < 1 + tiny, and sin is not real algebra",
    "x-pow-x-above-min":
        "fails only at the transcendental point 1/e, where an equality of transcendental numbers must "
        "be certified exactly",
}


def by_name(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


# ---------------------------------------------------------------------------
# The oracle: does a step fail at a point? (independent of the kernel)


class Finding(str, enum.Enum):
    """What the oracle found at one point."""

    FAILS = "fails"            # both sides defined there and the relation is false
    HOLDS = "holds"            # both sides defined there and the relation is true
    UNDEFINED = "undefined"    # a side has no (finite, real for real symbols) value there
    UNDECIDED = "undecided"    # the difference could not be resolved or certified zero
    OUTSIDE = "outside"        # the point is not in the declared domain (or misses a symbol)


@dataclass(frozen=True)
class Judgement:
    finding: Finding
    lhs: Any = None
    rhs: Any = None
    digits: int = 0
    why: str = ""


class _Undefined(Exception):
    pass


def the_step(proof: sg.Proof) -> tuple[sp.Expr, Relation, sp.Expr]:
    """The single step ``lhs REL rhs`` of a one-step chain."""
    links = proof.links()
    if len(links) != 1:
        raise ValueError(f"a corpus case is a one-step chain, got {len(links)} steps")
    lhs, rel, rhs, _ = links[0]
    return lhs, rel, rhs


def _is_real_step(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    return all(s.is_extended_real for s in scalars(lhs) | scalars(rhs)) and all(
        _entry_property(i, "real") for side in (lhs, rhs) for i in side.atoms(sp.Indexed))


def scalars(expr: sp.Basic) -> set[sp.Symbol]:
    """The free symbols of ``expr`` that a point gives a value: not an indexed family's label or entry."""
    labels = {i.base.label for i in expr.atoms(sp.Indexed)}
    return {s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s not in labels}


def _entry_property(entry: sp.Indexed, prop: str) -> bool:
    """Whether ``entry``'s family declares ``prop`` (``IndexedBase("x", real=True)``: every entry is real)."""
    return entry.base.label.assumptions0.get(prop) is True


@functools.lru_cache(maxsize=1024)
def _evaluate_calculus(expr: sp.Expr) -> sp.Expr:
    """Derivatives, substitutions and limits by SymPy (before a point is substituted)."""
    return expr.replace(lambda e: isinstance(e, (sp.Derivative, sp.Subs, sp.Limit)), lambda e: e.doit())


_UNARY: dict[type, Callable[[Any], Any]] = {
    sp.exp: mpmath.exp, sp.log: mpmath.log, sp.sin: mpmath.sin, sp.cos: mpmath.cos, sp.tan: mpmath.tan,
    sp.sinh: mpmath.sinh, sp.cosh: mpmath.cosh, sp.tanh: mpmath.tanh, sp.sech: mpmath.sech,
    sp.asin: mpmath.asin, sp.acos: mpmath.acos, sp.atan: mpmath.atan, sp.erf: mpmath.erf,
    sp.gamma: mpmath.gamma, sp.factorial: mpmath.factorial, sp.conjugate: mpmath.conj,
    sp.re: mpmath.re, sp.im: mpmath.im,
}


def _real_part(value: Any, what: str) -> Any:
    if isinstance(value, mpmath.mpc):
        if value.imag != 0:
            raise _Undefined(f"{what} of a non-real number")
        return value.real
    return value


def _off_the_jump(value: Any, what: str) -> Any:
    """A real argument of a discontinuous function, refused when rounding could put it on the wrong side.

    An exact 0 (from exact inputs) is kept; a nonzero value below ``10**(-dps/2)`` may be a
    zero computed inexactly (``sin(pi)``), so the function's value there is not decided.
    """
    value = _real_part(value, what)
    if value != 0 and abs(value) < mpmath.mpf(10) ** (-(mpmath.mp.dps // 2)):
        raise _Undefined(f"{what}: the argument {mpmath.nstr(value, 5)} is within rounding of the jump")
    return value


def _mp(expr: sp.Basic, env: dict[sp.Basic, Any]) -> Any:
    """``expr`` as an mpmath number at the current precision (recursive, no SymPy evalf).

    ``env`` holds the values of symbols and of family entries (``x[2]``); an entry whose
    index is an expression (``x[j]`` inside a sum over ``j``) is looked up by the index's value.
    """
    if expr in env:
        return env[expr]
    if isinstance(expr, sp.Indexed):
        indices = []
        for index in expr.indices:
            value = _real_part(_mp(index, env), "index")
            if value != int(value):
                raise _Undefined(f"{expr}: the index {index} = {value} is not an integer")
            indices.append(int(value))
        entry = expr.base[tuple(indices)]
        if entry not in env:
            raise _Undefined(f"the point gives {entry} no value")
        return env[entry]
    if expr.is_Integer:
        return mpmath.mpf(int(expr))
    if expr.is_Rational:
        return mpmath.mpf(int(expr.p)) / int(expr.q)
    if expr.is_Float:
        return mpmath.mpf(expr._to_mpmath(max(expr._prec, mpmath.mp.prec)))
    if expr is S.Pi:
        return +mpmath.pi
    if expr is S.Exp1:
        return +mpmath.e
    if expr is S.ImaginaryUnit:
        return mpmath.mpc(0, 1)
    if expr in (S.NaN, S.ComplexInfinity, S.Infinity, S.NegativeInfinity):
        raise _Undefined(f"{expr} is not a finite number")
    if isinstance(expr, sp.Add):
        total = mpmath.mpf(0)
        for arg in expr.args:
            total += _mp(arg, env)
        return total
    if isinstance(expr, sp.Mul):
        product = mpmath.mpf(1)
        for arg in expr.args:
            product *= _mp(arg, env)
        return product
    if isinstance(expr, sp.Pow):
        base, exponent = _mp(expr.base, env), _mp(expr.exp, env)
        if base == 0 and _real_part(exponent, "exponent") < 0:
            raise _Undefined("0 to a negative power")
        return mpmath.power(base, exponent)
    if isinstance(expr, sg.sigmoid):
        return 1 / (1 + mpmath.exp(-_mp(expr.args[0], env)))
    if isinstance(expr, sp.Abs):
        return abs(_mp(expr.args[0], env))
    if isinstance(expr, sp.sign):
        v = _off_the_jump(_mp(expr.args[0], env), "sign")
        return mpmath.mpf((v > 0) - (v < 0))
    if isinstance(expr, sp.Heaviside):
        v = _off_the_jump(_mp(expr.args[0], env), "Heaviside")
        if v != 0:
            return mpmath.mpf(1 if v > 0 else 0)
        if len(expr.args) < 2:
            raise _Undefined("Heaviside(0) without a value")
        return _mp(expr.args[1], env)
    if isinstance(expr, (sp.floor, sp.ceiling)):
        v = _real_part(_mp(expr.args[0], env), "floor/ceiling")
        _off_the_jump(v - mpmath.nint(v), "floor/ceiling")
        return mpmath.floor(v) if isinstance(expr, sp.floor) else mpmath.ceil(v)
    if isinstance(expr, (sp.Max, sp.Min)):
        values = [_real_part(_mp(arg, env), "Max/Min") for arg in expr.args]
        return max(values) if isinstance(expr, sp.Max) else min(values)
    if isinstance(expr, sp.binomial):
        return mpmath.binomial(_mp(expr.args[0], env), _mp(expr.args[1], env))
    if isinstance(expr, sp.Piecewise):
        for value, condition in expr.args:
            if _holds(condition, env):
                return _mp(value, env)
        raise _Undefined("no piece of the Piecewise applies")
    if isinstance(expr, (sp.Sum, sp.Product)):
        return _sum_or_product(expr, env)
    if isinstance(expr, sp.log) and (expr.args[0].is_Rational or (
            isinstance(expr.args[0], sp.Add) and S.One in expr.args[0].args)):
        # log(1 + u) as log1p(u): 1 + 1e-400 rounds to 1 at any precision the oracle uses
        return mpmath.log1p(_mp(expr.args[0] - 1, env))
    func = _UNARY.get(type(expr))
    if func is not None and len(expr.args) == 1:
        return func(_mp(expr.args[0], env))
    # Anything else: SymPy's own numerical evaluation (used by no case at the time of writing).
    value = sp.N(expr.xreplace({s: sp.Float(v, mpmath.mp.dps) for s, v in env.items()}), mpmath.mp.dps)
    if not value.is_number:
        raise _Undefined(f"cannot evaluate {expr}")
    return mpmath.mpmathify(complex(value)) if not value.is_real else mpmath.mpf(value._to_mpmath(mpmath.mp.prec))


def _holds(condition: sp.Basic, env: dict[sp.Symbol, Any]) -> bool:
    if condition is sp.true:
        return True
    if condition is sp.false:
        return False
    if isinstance(condition, sp.And):
        return all(_holds(cond, env) for cond in condition.args)
    if isinstance(condition, sp.Or):
        return any(_holds(cond, env) for cond in condition.args)
    if isinstance(condition, (sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan, sp.GreaterThan,
                              sp.Equality, sp.Unequality)):
        left = _real_part(_mp(condition.lhs, env), "comparison")
        right = _real_part(_mp(condition.rhs, env), "comparison")
        _off_the_jump(left - right, "comparison")
        ops: dict[type, Callable[[Any, Any], bool]] = {
            sp.StrictLessThan: lambda l, r: l < r, sp.LessThan: lambda l, r: l <= r,
            sp.StrictGreaterThan: lambda l, r: l > r, sp.GreaterThan: lambda l, r: l >= r,
            sp.Equality: lambda l, r: l == r, sp.Unequality: lambda l, r: l != r,
        }
        return bool(ops[type(condition)](left, right))
    raise _Undefined(f"cannot decide the condition {condition}")


_MAX_TERMS = 200_000


def _sum_or_product(expr: sp.Sum | sp.Product, env: dict[sp.Symbol, Any]) -> Any:
    return _over_limits(isinstance(expr, sp.Sum), expr.function, expr.limits, env)


def _over_limits(is_sum: bool, function: sp.Expr, limits: tuple[tuple[sp.Basic, ...], ...],
                 env: dict[sp.Symbol, Any]) -> Any:
    """The sum (product) of ``function`` over ``limits``, the last limit outermost (SymPy's order)."""
    index, lo, hi = limits[-1]
    lo_v, hi_v = _real_part(_mp(lo, env), "bound"), _real_part(_mp(hi, env), "bound")
    if lo_v != int(lo_v) or hi_v != int(hi_v):
        raise _Undefined("non-integer bounds")
    first, last = int(lo_v), int(hi_v)
    backwards = last < first - 1  # SymPy's (Karr's) convention: sum_{a}^{b} = -sum_{b+1}^{a-1}, prod = 1/prod
    if backwards:
        first, last = last + 1, first - 1
    if last - first > _MAX_TERMS:
        raise _Undefined(f"more than {_MAX_TERMS} terms")
    acc = mpmath.mpf(0 if is_sum else 1)
    inner = dict(env)
    for i in range(first, last + 1):
        inner[index] = mpmath.mpf(i)
        term = _over_limits(is_sum, function, limits[:-1], inner) if len(limits) > 1 else _mp(function, inner)
        acc = acc + term if is_sum else acc * term
    if backwards:
        if not is_sum and acc == 0:
            raise _Undefined("a backwards product over a zero factor")
        return -acc if is_sum else 1 / acc
    return acc


def _numeric(expr: sp.Expr, real: bool, entries: Point | None = None) -> Any:
    value = _mp(expr, {e: _mp(sp.sympify(v), {}) for e, v in (entries or {}).items()})
    if not mpmath.isfinite(value):
        raise _Undefined("not finite")
    if real:
        if isinstance(value, mpmath.mpc):
            # Noise from complex intermediates (none in the corpus) is not a value.
            if abs(value.imag) > mpmath.mpf(10) ** (-(mpmath.mp.dps - 10)) * max(1, abs(value.real)):
                raise _Undefined("not real")
            value = value.real
    return value


def _certified_zero(difference: sp.Expr) -> bool:
    """An exact proof that ``difference`` (a number) is 0; False when none is found."""
    difference = sp.expand(difference)
    if difference == 0:
        return True
    try:
        if difference.is_algebraic:
            return bool(sp.minimal_polynomial(difference, sp.Dummy("m")).is_Symbol)
        return bool(sp.simplify(difference) == 0)
    except (NotImplementedError, ValueError, TypeError):
        return False


def _with_error(expr: sp.Expr, real: bool, digits: int, entries: Point | None = None) -> tuple[Any, Any]:
    """``expr`` at ``2 * digits`` digits and a bound on its error.

    The bound is ten times the change from ``digits`` to ``2 * digits`` digits (which
    exposes cancellation inside the expression) plus the rounding at ``2 * digits``.
    """
    with mpmath.workdps(digits):
        coarse = _numeric(expr, real, entries)
    with mpmath.workdps(2 * digits):
        fine = _numeric(expr, real, entries)
        error = 10 * abs(fine - coarse) + mpmath.mpf(10) ** (-(2 * digits - 10)) * max(1, abs(fine))
    return fine, error


def judge_at(lhs: sp.Expr, rel: Relation, rhs: sp.Expr, point: Point,
             assumptions: tuple[sp.Basic, ...] = (), certify: bool = True) -> Judgement:
    """Whether ``lhs REL rhs`` fails at ``point``, evaluated by substitution and mpmath.

    Exact when both sides become rational numbers. Otherwise each side is evaluated
    with mpmath at 60 and 120 digits, the change bounding its error; when the
    difference of the sides is within that bound, again at 120 and 240 digits. A
    difference that stays within the bound is decided only by an exact zero (which
    makes ``=`` and the non-strict relations hold and the strict ones fail), certified
    with SymPy (minimal polynomial or simplify) when ``certify``.
    """
    if not in_domain(point, scalars(lhs) | scalars(rhs), assumptions):
        return Judgement(Finding.OUTSIDE, why="the point is outside the declared domain or misses a symbol")
    real = _is_real_step(lhs, rhs)
    # Family entries (x[2]) are looked up while sums are added up term by term; symbols are substituted.
    entries = {k: v for k, v in point.items() if isinstance(k, sp.Indexed)}
    subs = {s: sp.sympify(v) for s, v in point.items() if not isinstance(s, sp.Indexed)}
    try:
        left = _evaluate_calculus(lhs).xreplace(subs)
        right = _evaluate_calculus(rhs).xreplace(subs)
    except (ValueError, TypeError, NotImplementedError) as exc:
        return Judgement(Finding.UNDECIDED, why=f"cannot substitute: {exc}")
    if left.is_Rational and right.is_Rational:
        return Judgement(Finding.FAILS if not rel.holds(left, right) else Finding.HOLDS, left, right, 0, "exact")
    lv = rv = None
    for digits in (60, 120):
        try:
            lv, l_err = _with_error(left, real, digits, entries)
            rv, r_err = _with_error(right, real, digits, entries)
        except (_Undefined, ZeroDivisionError, ValueError, OverflowError) as exc:
            return Judgement(Finding.UNDEFINED, why=str(exc), digits=digits)
        if not real and rel is not Relation.EQ:
            return Judgement(Finding.UNDEFINED, lv, rv, digits, "an inequality between non-real values")
        with mpmath.workdps(2 * digits):
            tolerance = l_err + r_err
            if rel is Relation.EQ:
                if abs(rv - lv) > tolerance:
                    return Judgement(Finding.FAILS, lv, rv, digits)
                continue
            # slack >= 0 is what the relation asks for: rhs - lhs for <=, <; lhs - rhs for >=, >
            slack = rv - lv if rel.direction < 0 else lv - rv
            if slack < -tolerance:
                return Judgement(Finding.FAILS, lv, rv, digits)
            if slack > tolerance:
                return Judgement(Finding.HOLDS, lv, rv, digits)
    if not certify:
        return Judgement(Finding.UNDECIDED, lv, rv, 240, "the sides agree to 240 digits (not certified)")
    difference = right - left
    if difference.has(sp.Sum, sp.Product):
        difference = difference.doit().xreplace({k: sp.sympify(v) for k, v in entries.items()})
    if _certified_zero(difference):
        return Judgement(Finding.FAILS if rel.strict else Finding.HOLDS, lv, rv, 240, "exact zero")
    return Judgement(Finding.UNDECIDED, lv, rv, 240, "the sides agree to 240 digits; no exact zero certified")


#: Symbol properties a point's values must have (the others follow from these or do not restrict).
_PROPERTIES: tuple[str, ...] = ("real", "imaginary", "integer", "rational", "positive", "negative", "nonnegative",
                                "nonpositive", "nonzero", "zero", "even", "odd")


def in_domain(point: Point, symbols: set[sp.Symbol] | frozenset[sp.Symbol],
              assumptions: tuple[sp.Basic, ...] = ()) -> bool:
    """Whether ``point`` gives every symbol a value with its declared properties and meets the conditions."""
    values = {s: sp.sympify(v) for s, v in point.items()}
    for symbol in symbols:
        if symbol not in values:
            return False
    for symbol, value in values.items():
        if not value.is_number:
            return False
        declared = symbol.base.label.assumptions0 if isinstance(symbol, sp.Indexed) else symbol.assumptions0
        for prop in _PROPERTIES:
            if declared.get(prop) is True and getattr(value, f"is_{prop}", None) is not True:
                return False
    for condition in assumptions:
        if not condition.free_symbols <= set(values):
            return False
        with mpmath.workdps(60):
            try:
                if not _holds(condition, {s: _mp(v, {}) for s, v in values.items()}):
                    return False
            except (_Undefined, ZeroDivisionError, ValueError):
                return False
    return True


# ---------------------------------------------------------------------------
# Running a case in a child process with a hard time cap.


@dataclass(frozen=True)
class Outcome:
    """What checking one case gave: a status (a ``sg.Status`` value, or ``error`` /
    ``timeout`` / ``crash``), the verdict's method, the seconds ``check`` took, and the
    counterexample if any."""

    name: str
    status: str
    method: str = ""
    seconds: float = 0.0
    point: dict[sp.Symbol, sp.Expr] | None = None
    lhs_value: sp.Expr | None = None
    rhs_value: sp.Expr | None = None
    error_type: str = ""
    error: str = ""

    @property
    def decided(self) -> bool:
        return self.status in ("proved", "refuted")


def _run_here(case: Case, budget: float) -> Outcome:
    try:
        proof = case.build()
        started = time.perf_counter()
        report = proof.check(budget=budget)
        seconds = time.perf_counter() - started
    except Exception as exc:  # any exception is an outcome: InputError is expected for misuse
        return Outcome(case.name, "error", error_type=type(exc).__name__, error=str(exc)[:500])
    verdict = report.steps[0]
    cx = verdict.counterexample
    return Outcome(case.name, verdict.status.value, verdict.method, seconds,
                   dict(cx.point) if cx is not None else None,
                   cx.lhs_value if cx is not None else None, cx.rhs_value if cx is not None else None)


T = TypeVar("T")


def _child(fn: Callable[[], Any], conn: Any) -> None:
    try:
        conn.send(("ok", fn()))
    except BaseException as exc:  # e.g. an unpicklable value: reported, never raised in the parent
        conn.send(("crash", f"{type(exc).__name__}: {str(exc)[:500]}"))
    finally:
        conn.close()


def run_isolated(fn: Callable[[], T], cap: float) -> tuple[str, T | str | None, float]:
    """Run ``fn()`` in a forked child killed after ``cap`` seconds.

    Returns ``("ok", value, seconds)``, ``("crash", message, seconds)`` or
    ``("timeout", None, seconds)``. The value crosses a pipe, so it must pickle.
    Without ``fork`` (Windows, macOS spawn) ``fn`` runs in this process, uncapped.
    """
    started = time.perf_counter()
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return "ok", fn(), time.perf_counter() - started
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(fn, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if receiver.poll(cap):
            try:
                kind, value = receiver.recv()
            except EOFError:
                kind, value = "crash", "the child exited without an answer"
        else:
            kind, value = "timeout", None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    return kind, value, time.perf_counter() - started


def run_case(case: Case, budget: float, cap: float) -> Outcome:
    """Check ``case`` with ``budget`` seconds per step, in a child killed after ``cap`` seconds."""
    kind, value, seconds = run_isolated(lambda: _run_here(case, budget), cap)
    if kind == "ok":
        assert isinstance(value, Outcome)
        return value
    if kind == "timeout":
        return Outcome(case.name, "timeout", seconds=seconds, error=f"no verdict within the cap of {cap:g} s")
    return Outcome(case.name, "crash", seconds=seconds, error=str(value))


def cap_for(budget: float) -> float:
    """The hard cap per case: generous beside the 2 x budget + 1 s target."""
    return max(6 * budget, 2 * budget + 10)

