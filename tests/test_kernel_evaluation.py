"""How the kernel evaluates what was written: sums and products at integer sizes exactly, term by term;
display devices (UnevaluatedExpr) by their value.
The oracle: Python's ``fractions`` summing (multiplying) the terms one by one.
"""

from __future__ import annotations

from fractions import Fraction

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
