"""How the kernel evaluates what was written: sums and products at integer sizes exactly, term by term;
display devices (UnevaluatedExpr) by their value.
The oracle: Python's ``fractions`` summing (multiplying) the terms one by one.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp

import symgrad as sg
from symgrad.core import kernel

n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
p = sp.Symbol("p", positive=True)
R = sp.Rational


def _oracle_product(count: int) -> Fraction:
    out = Fraction(1)
    for i in range(1, count + 1):
        out *= 1 - Fraction(1, 4 * i * i)
    return out


def test_exact_finite_matches_term_by_term_oracle() -> None:
    wallis = sp.Product(1 - 1 / (4 * k**2), (k, 1, n))
    value = kernel._exact_finite(wallis, {n: sp.Integer(300)})
    assert value.is_Rational and Fraction(int(value.p), int(value.q)) == _oracle_product(300)
    harmonic = kernel._exact_finite(sp.Sum(1 / k, (k, 1, n)), {n: sp.Integer(200)})
    assert harmonic == sp.harmonic(200)
    assert kernel._exact_finite(sp.Sum(p / k, (k, 1, n)), {n: sp.Integer(3), p: R(1, 2)}) == R(11, 12)


def test_exact_finite_leaves_what_it_cannot_add_up_exactly() -> None:
    irrational = sp.Sum(1 / sp.sqrt(k), (k, 1, n))
    # a few terms that are not ratios of polynomials: SymPy's exact value of each, added up
    assert sp.simplify(kernel._exact_finite(irrational, {n: sp.Integer(10)})
                       - sum(1 / sp.sqrt(i) for i in range(1, 11))) == 0
    beyond = sp.Integer(kernel._MAX_SYMPY_TERMS + 1)
    assert kernel._exact_finite(irrational, {n: beyond}) is irrational
    assert kernel._exact_finite(sp.Sum(sp.sign(k - 3), (k, 1, n)), {n: sp.Integer(5)}) == 0
    too_many = sp.Sum(1 / k, (k, 1, n))
    assert kernel._exact_finite(too_many, {n: sp.Integer(10**9)}) is too_many
    undefined = sp.Sum(1 / (k - 3), (k, 1, n))
    assert kernel._exact_finite(undefined, {n: sp.Integer(5)}) is undefined
    assert kernel._exact_finite(sp.Sum(1 / k, (k, 1, n)), {n: sp.Integer(0)}) == 0  # empty sum
    assert kernel._exact_finite(sp.Product(1 / k, (k, 1, n)), {n: sp.Integer(0)}) == 1  # empty product


def test_products_false_only_for_large_n_are_refuted_exactly() -> None:
    # prod (1 + 1/k^2) -> sinh(pi)/pi = 3.676...; exceeds 3.67 from n = 604 on. SymPy's closed form
    # goes through rising factorials at 1 +- i, so the product is evaluated as written.
    step = sg.calc(sp.Product(1 + 1 / k**2, (k, 1, n))).le(R(367, 100)).check(budget=3).steps[0]
    assert step.status == "refuted"
    point = step.counterexample.point[n]
    exact = Fraction(1)
    for i in range(1, int(point) + 1):
        exact *= 1 + Fraction(1, i * i)
    assert exact > Fraction(367, 100)
    # Wallis: the partial products decrease to 2/pi and pass 2/pi + 1e-4 at n = 1592.
    wallis = sg.calc(sp.Product(1 - 1 / (4 * k**2), (k, 1, n))).ge(2 / sp.pi + R(1, 10**4)).check(budget=3)
    step = wallis.steps[0]
    assert step.status == "refuted" and step.counterexample.point[n] >= 1592


def test_a_true_bound_on_a_product_is_never_refuted() -> None:
    step = sg.calc(sp.Product(1 + 1 / k**2, (k, 1, n))).le(R(368, 100)).check(budget=3).steps[0]
    assert step.status in ("numeric", "proved")


def test_unevaluated_expressions_are_checked_by_their_value() -> None:
    x = sp.Symbol("x", real=True)
    half = sp.UnevaluatedExpr(sp.Rational(1, 2))
    wrong = sg.calc(half * (x + 1)).eq(x / 2 + 1).check(budget=3).steps[0]
    assert wrong.status == "refuted"
    right = sg.calc(half * (x + 1)).eq(x / 2 + sp.Rational(1, 2)).check(budget=3).steps[0]
    assert right.status == "proved"


# -- the ball fast path of sampling ------------------------------------------------

from symgrad.core import intervals  # noqa: E402
from symgrad.core.verdicts import Relation  # noqa: E402

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)


def _passes(small: sp.Expr, big: sp.Expr, relation: Relation, point: dict[sp.Symbol, sp.Expr]) -> sp.Expr | None:
    balls = intervals.point_values((small, big, big - small), sorted(point, key=str))
    assert balls is not None
    return kernel._passes_in_balls(balls, point, relation, 50)


def test_balls_pass_only_points_where_the_claim_certainly_holds() -> None:
    at = {x: R(3, 7)}
    slack = _passes(1 + x, sp.exp(x), Relation.GE, at)  # exp(x) >= 1 + x, as (small, big)
    assert slack == (sp.exp(x) - 1 - x).subs(x, R(3, 7)).evalf(50)  # every digit, as SymPy's evalf
    assert _passes(sp.exp(x), 1 + x, Relation.LE, at) is None  # fails here: left to SymPy
    assert _passes(sp.sin(x) ** 2 + sp.cos(x) ** 2, sp.Integer(1), Relation.EQ, at).is_zero
    assert _passes(sp.log(x), sp.log(x) + x - x, Relation.LE, {x: R(-1, 2)}) is None  # undefined there
    assert _passes(sp.Integer(0), sp.sqrt(x - 1), Relation.LE, at) is None  # sqrt of a negative


def test_balls_leave_a_tiny_nonzero_difference_to_sympy() -> None:
    """exp(x) = exp(x) + 10**-150 is false everywhere: the ball never calls the difference zero."""
    for exponent in (45, 150):
        assert _passes(sp.exp(x), sp.exp(x) + R(1, 10**exponent), Relation.EQ, {x: R(3, 7)}) is None
        report = sg.calc(sp.exp(x)).eq(sp.exp(x) + R(1, 10**exponent)).check()
        assert report.steps[0].status is sg.Status.REFUTED


CLAIMS = [
    sg.calc(sp.exp(x)).ge(1 + x),
    sg.calc(sp.exp(x)).ge(1 + x + x**2 / 3),  # false for negative x
    sg.calc(sp.sin(x) ** 2 + sp.cos(x) ** 2).eq(1),
    sg.calc(sg.sigmoid(x) * (1 - sg.sigmoid(x))).le(sp.Rational(1, 4)),
    sg.calc(sg.sigmoid(x) * (1 - sg.sigmoid(x))).lt(sp.Rational(1, 4)),  # equality at 0
    sg.calc(sp.tanh(x) ** 2).le(1 - sp.exp(-x**2) * 0),
    sg.calc(sp.log(1 + sp.exp(x))).ge(x),
    sg.calc(sp.log(1 + sp.exp(x))).gt(x + sp.exp(-x)),  # false
    sg.calc(sp.atan(x) + sp.atan(y)).eq(sp.atan(x + y)),  # false
    sg.calc(sp.Abs(sp.sin(x))).le(sp.Abs(x)),
]


def test_the_fast_path_changes_no_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every claim's verdict, evidence and counterexample, with and without the ball fast path."""
    from symgrad.proofs import proof as proof_module

    def run() -> list[tuple[object, ...]]:
        proof_module._check_cached.cache_clear()
        return [(v.status, v.method, None if v.counterexample is None else
                 (sorted(v.counterexample.point.items(), key=str), v.counterexample.exact))
                for claim in CLAIMS for v in claim.check().steps]

    with_balls = run()
    monkeypatch.setattr(intervals, "point_values", lambda *args: None)
    assert run() == with_balls


def test_a_sum_up_to_a_non_integer_is_not_evaluated() -> None:
    """``sum_{k=1}^{K}`` at K = 5/2 has no value (SymPy would extrapolate): such points are skipped."""
    size = sp.Symbol("K", positive=True)  # a size written as a real number, as in notes
    with pytest.raises(ValueError, match="not an integer"):
        kernel._Substituted(sp.Sum(sp.sin(k), (k, 1, size)), {size: R(5, 2)}).evalf(30)
    assert kernel._Substituted(sp.Sum(sp.sin(k), (k, 1, size)), {size: sp.Integer(2)}).evalf(30) == \
        (sp.sin(1) + sp.sin(2)).evalf(30)
    # a false claim about such a sum is refuted at an integer size
    verdict = sg.Proof(sp.Sum(k * sp.sin(k) ** 2, (k, 1, size))).eq(sp.Sum(k, (k, 1, size)) * sp.sin(1) ** 2) \
        .check(budget=3).steps[0]
    assert verdict.status is sg.Status.REFUTED and verdict.counterexample.point[size].is_integer


def test_sums_of_irrational_terms_are_added_up_in_balls() -> None:
    """Oracle: mpmath adding the terms at twice the precision."""
    import mpmath

    from symgrad.core import intervals

    value = intervals.finite_value(1 / sp.sqrt(k), k, 1, 10_000, True, 50)
    with mpmath.workdps(120):
        oracle = mpmath.fsum(1 / mpmath.sqrt(i) for i in range(1, 10_001))
        assert abs(mpmath.mpf(str(value)) - oracle) < mpmath.mpf(10) ** -49 * oracle
        product = intervals.finite_value(1 + sp.sin(k) / k ** 2, k, 1, 300, False, 40)
        oracle = mpmath.fprod(1 + mpmath.sin(i) / i ** 2 for i in range(1, 301))
        assert abs(mpmath.mpf(str(product)) - oracle) < mpmath.mpf(10) ** -39 * abs(oracle)
    # a term with no value, an exact cancellation, a symbol the tape does not know: not evaluated
    assert intervals.finite_value(sp.log(k - 1), k, 1, 5, True, 30) is None
    assert intervals.finite_value(sp.sin(sp.pi * k / 2) * sp.sqrt(2), k, 1, 4, True, 30) is None
    assert intervals.finite_value(p / sp.sqrt(k), k, 1, 5, True, 30) is None
    # the kernel refutes a bound that fails only beyond n = 2573, where no closed form exists
    verdict = sg.Proof(sp.Sum(1 / sp.sqrt(k), (k, 1, n))).le(100).check(budget=3).steps[0]
    assert verdict.status is sg.Status.REFUTED and verdict.counterexample.point[n] >= 2574


def test_a_sum_added_up_in_balls_never_certifies_a_tiny_difference() -> None:
    """Floats from ball sums are right to their digits, not exact: a true step whose two sides are
    such sums (their difference below every digit) is not refuted; nor is one with a closed form
    whose residual is 2**-1000 (the geometric sum is summed by SymPy's closed form, exactly)."""
    peel = sg.Proof(sp.Sum(1 / sp.sqrt(k), (k, 1, n))).eq(
        sp.Sum(1 / sp.sqrt(k), (k, 1, n - 1)) + 1 / sp.sqrt(n)).check(budget=3).steps[0]
    assert peel.status in (sg.Status.PROVED, sg.Status.NUMERIC), peel
    geometric = sg.Proof(sp.Sum(R(1, 2) ** k, (k, 0, n))).eq(2 - R(1, 2) ** n).check(budget=3).steps[0]
    assert geometric.status in (sg.Status.PROVED, sg.Status.NUMERIC), geometric


def test_a_sum_with_no_closed_form_beyond_the_term_limit_has_no_value() -> None:
    """SymPy's evalf extrapolates such a sum by Euler-Maclaurin, whose error estimate fails on a narrow
    peak (here at k = 1000): a wrong value it would certify. The point is skipped instead; with few
    enough terms the sum is added up in balls (oracle: mpmath adding the terms)."""
    import mpmath

    peak = sp.exp(-(k - 1000) ** 2)
    with pytest.raises(ValueError, match="no closed form"):
        kernel._Substituted(sp.Sum(peak, (k, 1, n)), {n: sp.Integer(kernel._MAX_TERMS + 1)}).evalf(30)
    value, how = kernel._certified(kernel._Substituted(sp.Sum(peak, (k, 1, n)), {n: sp.Integer(5000)}), 30)
    with mpmath.workdps(60):
        oracle = mpmath.fsum(mpmath.exp(-(i - 1000) ** 2) for i in range(1, 5001))
        assert how == "rough" and abs(mpmath.mpf(str(value)) - oracle) < mpmath.mpf(10) ** -28 * oracle


def test_logarithms_near_1_are_evaluated_in_balls_not_by_evalf() -> None:
    """SymPy's evalf of log(u) for u within ~1e-60 of 1 is exactly 0 and claims full precision:
    it proved log(1 + 1e-100) < 1e-101 and refuted true tails log(1 + e^-x) >= e^-x / 2 at a point
    where it said lhs = 0. Closed numbers with a logarithm are now evaluated in ball arithmetic."""
    x = sp.Symbol("x", real=True)
    tiny = sp.Rational(1, 10**100)

    def status(lhs: sp.Expr, rel: str, rhs: sp.Expr, assume: tuple[sp.Basic, ...] = (),
               budget: float = 3) -> sg.Status:
        return sg.Proof(lhs, assumptions=assume).step(rel, rhs, by="claim").check(budget=budget).steps[0].status

    assert status(sp.log(1 + tiny), "<", tiny / 10) is sg.Status.REFUTED
    assert status(sp.log(1 + sp.exp(-300)), "<", sp.exp(-301)) is sg.Status.REFUTED
    assert status(sp.log(1 + tiny), ">", tiny / 2) is sg.Status.PROVED
    assert status(x**2 + tiny / 10 - sp.log(1 + tiny), ">=", 0) is sg.Status.REFUTED
    assert status(sp.log(1 + sp.exp(-x)), "<=", 0, (x >= 1000,)) is sg.Status.REFUTED
    for true_tail in ((sp.log(1 + sp.exp(-x**2)), ">=", sp.exp(-x**2) / 2, ()),
                      (sp.log(1 + sp.exp(-x)), ">=", sp.exp(-x) - sp.exp(-2 * x) / 2, (x >= 40,))):
        assert status(*true_tail, budget=1) is not sg.Status.REFUTED  # the bad point x = 100 comes early
    assert intervals.number_sign(sp.log(1 + tiny) - tiny / 10) == 1
    assert intervals.number_sign(sp.log(6) - sp.log(2) - sp.log(3)) is None  # an exact zero: no sign


def test_sympy_closed_forms_of_sums_are_used_only_when_certified() -> None:
    """SymPy's summation has bugs: sum_k (-1)^k binomial(n, k) is 0 by doit (1 at n = 0), a delta
    sum with a real index is 1 where it is 0. Such steps were proved; now a closed form is used only
    when the telescoping laws certify it, and sampling the sums as written refutes them."""
    n = sp.Symbol("n", integer=True, nonnegative=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    m = sp.Symbol("m", integer=True, positive=True)
    j, r = sp.Symbol("j", integer=True), sp.Symbol("r", real=True)

    def status(lhs: sp.Expr, rel: str, rhs: sp.Expr, assume: tuple[sp.Basic, ...] = ()) -> sg.Status:
        return sg.Proof(lhs, assumptions=assume).step(rel, rhs, by="claim").check(budget=3).steps[0].status

    delta = sp.Sum(sp.KroneckerDelta(r, j), (j, 1, m))
    # (the alternating binomial sums themselves are must-refute cases of the kernel corpus)
    for false in ((m * sp.Sum((-1)**k * sp.binomial(m - 1, k), (k, 0, m - 1)), "=", sp.S.Zero),
                  (delta, "=", delta.doit())):
        assert status(*false) is sg.Status.REFUTED, false
    # certified closed forms keep their proofs: polynomial, telescoping, harmonic, geometric, factorial
    N = sp.Symbol("N", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    x = sp.Symbol("x", positive=True)
    for true in ((sp.Sum(i**2, (i, 1, N)), "=", N * (N + 1) * (2 * N + 1) / 6),
                 (sp.Sum(i * sp.factorial(i), (i, 1, N)), "=", sp.factorial(N + 1) - 1)):
        assert status(*true) is sg.Status.PROVED, true
    for certified in (sp.Sum(x**i, (i, 0, N)), sp.Product(1 + 1 / i, (i, 1, N)), sp.Sum(1 / i**3, (i, 1, N)),
                      sp.Sum(sp.S.Half**i, (i, 0, N)), sp.Sum(1 / (i * (i + 1)), (i, 1, N))):
        assert kernel._certified_closed_form(certified), certified
    assert not kernel._certified_closed_form(sp.Sum((-1)**k * sp.binomial(n, k), (k, 0, n)))
    assert not kernel._certified_closed_form(delta)


def test_a_signed_index_of_a_sum_that_may_run_backwards_blocks_proofs() -> None:
    """With j positive SymPy writes sign(j) as 1 inside the sum; running backwards (n < 0) the sum
    takes j = 0, where sign(j) = 0: sum_{j=1}^{n} sign(j) = n was proved, and is false at n = -1."""
    j = sp.Symbol("j", integer=True, positive=True)
    n = sp.Symbol("n", integer=True)
    verdict = sg.Proof(sp.Sum(sp.sign(j), (j, 1, n))).step("=", n, by="claim").check(budget=3).steps[0]
    assert verdict.status is not sg.Status.PROVED
    unsigned = sp.Symbol("i", integer=True)
    assert sg.Proof(sp.Sum(1, (unsigned, 1, n))).step("=", n, by="Karr").check(budget=3).steps[0].status \
        is sg.Status.PROVED


def test_second_review_closed_forms_and_logarithms() -> None:
    """A closed form dividing by a parameter (0/0 at n = 0), a delta solved at a non-integer index,
    a logarithm near 1 in a constant the real-algebra procedure enclosed by evalf, and one next to a
    function ball arithmetic cannot enclose (tan): none may be proved when false, nor refuted when
    true."""
    n = sp.Symbol("n", integer=True, nonnegative=True)
    k, j = sp.symbols("k j", integer=True)
    x = sp.Symbol("x", real=True)

    def status(lhs: sp.Expr, rel: str, rhs: sp.Expr, assume: tuple[sp.Basic, ...] = (),
               budget: float = 3) -> sg.Status:
        return sg.Proof(lhs, assumptions=assume).step(rel, rhs, by="claim").check(budget=budget).steps[0].status

    hole = sp.Sum((-1)**k * sp.binomial(n, k), (k, n, 2 * n))
    assert status(hole, "=", (-1)**n - sp.binomial(n, 2 * n), (sp.Eq(n, 0),)) is sg.Status.REFUTED
    odd = sp.Piecewise((1, (j >= 2) & (j <= 6)), (0, True))
    assert status(sp.Sum(sp.KroneckerDelta(2 * k, j), (k, 1, 3)), "=", odd, (sp.Eq(j, 3),)) is sg.Status.REFUTED
    tiny = sp.Rational(1, 10**100)
    assert status(sp.sin(sp.log(1 + tiny) - tiny / 10), "<", sp.S.Zero) is sg.Status.REFUTED
    c = sp.log(1 + sp.Rational(1, 10**300)) * sp.tan(1) - sp.Rational(1, 10**301)  # 1.46e-300 > 0
    assert status(x**2 + sp.atan(c), "<", x**2, budget=1) is not sg.Status.PROVED
    true_tan = sp.log(1 + sp.tan(1) / 10**300)
    assert status(true_tan, ">=", sp.Rational(1, 10**301), budget=1) is not sg.Status.REFUTED
    x_ = sp.Symbol("x_", positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    assert kernel._certified_closed_form(sp.Sum(x_**i, (i, 0, n)))  # a hole at x = 1 covered by its piece
