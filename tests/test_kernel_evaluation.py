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
    assert kernel._exact_finite(irrational, {n: sp.Integer(10)}) is irrational
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
