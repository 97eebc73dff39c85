"""Induction on an integer parameter and constancy by a zero derivative: proofs, and no false proof.

Oracles of the tests' own: exact evaluation of the claim at integers (``doit`` of the
sum, product or factorial, then rational comparison), mpmath at real points.
"""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp

import symgrad as sg
from symgrad.core import constancy, induction
from symgrad.core.domain import Domain

n = sp.Symbol("n", integer=True, positive=True)
m = sp.Symbol("m", integer=True, nonnegative=True)
k = sp.Symbol("k", integer=True, positive=True)
x = sp.Symbol("x", real=True)
a = sp.Symbol("a", positive=True)
R = sp.Rational


def _holds_at(expr: sp.Expr, symbol: sp.Symbol, value: int, strict: bool) -> bool:
    v = expr.subs(symbol, value).doit()
    assert v.is_Rational
    return bool(v > 0 if strict else v >= 0)


TRUE_BY_INDUCTION = [
    ("bernoulli", 2**n - (n + 1), False),
    ("factorial-vs-power", sp.factorial(n) - 2**(n - 1), False),
    ("basel-partial", 2 - 1 / n - sp.Sum(1 / k**2, (k, 1, n)).doit(), False),
    ("basel-partial-unevaluated", 2 - 1 / n - sp.Sum(1 / k**2, (k, 1, n)), False),
    ("power-beats-quintic-late", 2**n + 10**7 - n**5, False),
    ("factorial-beats-power-from-4", sp.factorial(n + 3) - 2**(n + 3), True),
    ("telescoping-sum", 1 - 1 / (n + 1) - sp.Sum(1 / (k * (k + 1)), (k, 1, n)), False),
]


@pytest.mark.parametrize("expr, strict", [(e, s) for _, e, s in TRUE_BY_INDUCTION],
                         ids=[name for name, _, _ in TRUE_BY_INDUCTION])
def test_induction_proves_true_claims(expr: sp.Expr, strict: bool) -> None:
    decision = induction.decide_sign(expr, Domain.build(expr.free_symbols), strict, seconds=20)
    assert decision is not None and decision.proved, decision
    assert decision.method.startswith("induction on n")
    for value in range(1, 40):  # the oracle agrees where it can look
        assert _holds_at(expr, n, value, strict)


FALSE_CLAIMS = [
    # (name, expr >= 0 claimed, first integer where it fails)
    ("quintic-late", 2**n + 10**6 - n**5, 17),
    ("factorial-vs-power-from-1", sp.factorial(n) - 2**n, 1),
    ("harmonic-le-3", 3 - sp.Sum(1 / k, (k, 1, n)), 11),
    ("factorial-le-10-pow", 10**n - sp.factorial(n), 25),
]


@pytest.mark.parametrize("expr, fails_at", [(e, f) for _, e, f in FALSE_CLAIMS], ids=[c[0] for c in FALSE_CLAIMS])
def test_induction_never_proves_a_false_claim(expr: sp.Expr, fails_at: int) -> None:
    assert not _holds_at(expr, n, fails_at, False) and all(_holds_at(expr, n, v, False) for v in range(1, fails_at))
    decision = induction.decide_sign(expr, Domain.build(expr.free_symbols), False, seconds=20)
    assert decision is None or not decision.proved
    if decision is not None:  # a base case: the first failing integer, exactly
        assert decision.counterexample == {n: fails_at}


def test_induction_counterexample_beyond_the_first_split_is_exact() -> None:
    decision = induction.decide_sign(2**n + 10**6 - n**5, Domain.build({n}), False, seconds=20)
    assert decision is not None and not decision.proved
    assert "base case n = 17" in decision.method


@pytest.mark.parametrize("expr", [
    sp.Sum(1 / k, (k, 1, 2 * n)) - 1,          # upper limit 2n: no one-term successor law
    (-2)**n + 2**n,                            # a negative base
    sp.factorial(n) - sp.Symbol("c", positive=True),  # a second parameter
    sp.harmonic(n) - sp.log(n) - R(1, 2),      # log(n + 1) is no law of log(n): the step is not encodable
])
def test_induction_declines_what_it_cannot_state(expr: sp.Expr) -> None:
    """True claims outside the procedure's laws: no answer, never a guess."""
    assert induction.decide_sign(expr, Domain.build(expr.free_symbols), False, seconds=5) is None


def test_induction_needs_an_integer_bounded_below() -> None:
    real_n = sp.Symbol("t", positive=True)
    assert induction.decide_sign(2**real_n - real_n - 1, Domain.build({real_n}), False) is None
    unbounded = sp.Symbol("z", integer=True)
    assert induction.decide_sign(2**unbounded - 1, Domain.build({unbounded}), False) is None


def test_kernel_reports_induction_and_refutes_base_cases() -> None:
    proved = sg.calc(sp.factorial(n)).ge(2**(n - 1)).check(budget=3).steps[0]
    assert proved.status == "proved" and "induction on n" in proved.method
    refuted = sg.calc(n**5).le(2**n + 10**6).check(budget=3).steps[0]
    assert refuted.status == "refuted" and refuted.counterexample.point == {n: 17}


# -- constancy ---------------------------------------------------------------------------

def test_constancy_proves_atan_reciprocal_on_the_positive_reals() -> None:
    expr = sp.atan(a) + sp.atan(1 / a) - sp.pi / 2
    decision = constancy.decide_zero(expr, Domain.build({a}), seconds=10)
    assert decision is not None and decision.proved
    assert "constant by its derivative" in decision.method
    with mpmath.workdps(60):
        for value in ("0.001", "0.7", "3", "1e6"):
            assert abs(mpmath.atan(mpmath.mpf(value)) + mpmath.atan(1 / mpmath.mpf(value)) - mpmath.pi / 2) < 1e-50


@pytest.mark.parametrize("expr, condition", [
    # false on (-oo, 0): the difference jumps at x = 0, where it is undefined
    (sp.atan(x) + sp.atan(1 / x) - sp.pi / 2, ()),
    # derivative 0 on each side of x = 1, constants differ: the addition formula of atan
    (sp.atan((1 + x) / (1 - x)) - sp.atan(x) - sp.pi / 4, ()),
    (sp.atan((1 + x) / (1 - x)) - sp.atan(x) - sp.pi / 4, (x > 1,)),
    # a kink: Abs is not differentiable at 0, and |x| - x is not constant
    (sp.Abs(x) - x, ()),
    # constant derivative but a nonzero constant
    (sp.atan(a) + sp.atan(1 / a) - sp.pi / 2 - R(1, 10**40), ()),
    (sp.floor(x) - x + sp.frac(x), ()),
])
def test_constancy_never_proves_a_false_identity(expr: sp.Expr, condition: tuple[sp.Basic, ...]) -> None:
    decision = constancy.decide_zero(expr, Domain.build(expr.free_symbols, condition), seconds=10)
    assert decision is None or not decision.proved


def test_constancy_on_the_piece_where_the_identity_holds() -> None:
    expr = sp.atan((1 + x) / (1 - x)) - sp.atan(x) - sp.pi / 4
    decision = constancy.decide_zero(expr, Domain.build({x}, [x < 1]), seconds=10)
    assert decision is not None and decision.proved


def test_kernel_proves_atan_identity_and_bounds() -> None:
    step = sg.calc(sp.atan(a) + sp.atan(1 / a)).eq(sp.pi / 2).check(budget=3).steps[0]
    assert step.status == "proved" and "constant by its derivative" in step.method
    bound = sg.calc(sp.Abs(sp.atan(x))).lt(sp.pi / 2).check(budget=3).steps[0]
    assert bound.status == "proved" and "atan" in bound.method
    too_tight = sg.calc(sp.atan(x)).le(sp.pi / 2 - R(1, 10**20)).check(budget=3).steps[0]
    assert too_tight.status == "refuted"


# -- found by an adversarial review ----------------------------------------------------------

def test_constancy_does_not_prove_across_a_hole_of_the_domain() -> None:
    nonzero = sp.Symbol("x", real=True, nonzero=True)  # (-oo, 0) and (0, oo): two intervals
    expr = sp.atan(nonzero) + sp.atan(1 / nonzero) - sp.pi / 2
    decision = constancy.decide_zero(expr, Domain.build({nonzero}), seconds=10)
    assert decision is None or not decision.proved
    step = sg.calc(sp.atan(nonzero) + sp.atan(1 / nonzero)).eq(sp.pi / 2).check(budget=3).steps[0]
    assert step.status != "proved"


def test_induction_never_refutes_at_a_point_the_assumptions_exclude() -> None:
    m = sp.Symbol("m", integer=True, nonzero=True)
    # m**2 >= 1 > 1/2 for every nonzero integer: true; m = 0 is not in the domain
    step = sg.calc(sp.factorial(m + 3) * m**2, assume=[m >= -3]).ge(sp.factorial(m + 3) / 2).check(budget=3).steps[0]
    assert step.status != "refuted"
    even = sp.Symbol("e", integer=True, even=True, positive=True)
    decision = induction.decide_sign(2**even - 3 * even, Domain.build({even}), False, seconds=5)
    assert decision is None or decision.proved or decision.counterexample[even] % 2 == 0


def test_sampling_and_closed_forms_agree_on_reversed_sums() -> None:
    """SymPy's (Karr's) convention sum_{1}^{-1} 1 = -1, at sample points as in closed forms. (The index
    has no sign: running backwards it takes 0, which an index declared positive excludes.)"""
    j = sp.Symbol("j", integer=True)
    index = sp.Symbol("i", integer=True)
    total = sp.Sum(1, (index, 1, j))
    as_n = sg.calc(total, assume=[j >= -1]).eq(j).check(budget=3).steps[0]
    nonnegative = sg.calc(total, assume=[j >= -1]).ge(0).check(budget=3).steps[0]
    assert as_n.status == "proved"  # sum_{k=1}^{j} 1 = j for every integer j under the convention
    assert nonnegative.status == "refuted" and nonnegative.counterexample.point[j] == -1


@pytest.mark.parametrize("claim", [
    lambda: sg.calc(sp.Product(1 + 1 / k**2, (k, 1, n + 5000))).ge(1),
    lambda: sg.calc(sp.S(0)).le(sp.Sum(1 / (k**2 + 1), (k, 3000, n)) + 10),
    lambda: sg.calc(7 * 2**(10**9 * n)).ge(n**2 + 1),
])
def test_induction_and_sampling_hold_the_budget(claim) -> None:
    import time
    started = time.perf_counter()
    step = claim().check(budget=2).steps[0]
    assert time.perf_counter() - started < 2 * 2 + 1
    assert step.status != "refuted"
