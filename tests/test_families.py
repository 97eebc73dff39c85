"""Indexed families at sample points: sums over ``x[j]`` are checked with vectors, not constants.

Before, an entry inside a sum (``x[j]``) was one coordinate with one value for every ``j``,
independent of ``x[i]``: true steps were refuted at points no vector has (``sum_j delta_ij g_j``
against ``g_i``) and false steps that hold for constant vectors got numeric evidence. The oracle
here is SymPy's own ``doit`` of the sum at the counterexample's size, with the entries substituted.
"""

from __future__ import annotations

import pytest
import sympy as sp

import symgrad as sg
from symgrad.core.families import MAX_TERMS, Families, scalar_symbols

m = sp.Symbol("m", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True, positive=True)
x, g = sp.IndexedBase("x", real=True), sp.IndexedBase("g", real=True)
w = sp.IndexedBase("w", positive=True)


def total(f: sp.Expr) -> sp.Expr:
    return sp.Sum(f, (j, 1, m))


def verdict(lhs: sp.Expr, rel: str, rhs: sp.Expr, assume: tuple[sp.Basic, ...] = ()) -> sg.Verdict:
    return sg.Proof(lhs, assumptions=assume).step(rel, rhs, by="claim").check(budget=3).steps[0]


def value_by_sympy(expr: sp.Expr, point: dict[sp.Basic, sp.Expr]) -> sp.Expr:
    """The oracle: sizes and indices substituted, sums done by SymPy, then the entries."""
    scalars = {s: v for s, v in point.items() if isinstance(s, sp.Symbol)}
    entries = {s: v for s, v in point.items() if isinstance(s, sp.Indexed)}
    return expr.subs(scalars).doit().xreplace(entries)


#: False steps that hold for every constant vector (where one value for all x[j] finds nothing).
FALSE_FOR_SOME_VECTOR = [
    ("reverse Cauchy-Schwarz", m * total(x[j] ** 2), "<=", total(x[j]) ** 2),
    ("square of the sum", m * total(x[j] ** 2), "=", total(x[j]) ** 2),
    ("the sum is m times an entry", total(x[j]), "=", m * x[1]),
    ("the centred values are zero", total((x[j] - total(x[j]) / m) ** 2), "=", sp.S.Zero),
    ("a weighted mean is the mean", total(w[j] * x[j]) / total(w[j]), "=", total(x[j]) / m),
    ("product of the entries", sp.Product(x[j], (j, 1, m)), "=", x[1] ** m),
]


@pytest.mark.parametrize("lhs, rel, rhs", [c[1:] for c in FALSE_FOR_SOME_VECTOR],
                         ids=[c[0] for c in FALSE_FOR_SOME_VECTOR])
def test_false_steps_about_vectors_are_refuted_with_a_vector_sympy_confirms(lhs, rel, rhs) -> None:
    v = verdict(lhs, rel, rhs)
    assert v.status is sg.Status.REFUTED, v
    point = dict(v.counterexample.point)
    size = int(point[m])
    entries = {s for s in point if isinstance(s, sp.Indexed)}
    assert entries and all(1 <= int(s.indices[0]) <= size for s in entries)
    assert not any(isinstance(s, sp.Symbol) and s.name in ("x", "w", "x[j]") for s in point)
    left, right = value_by_sympy(lhs, point), value_by_sympy(rhs, point)
    assert left.is_number and right.is_number
    holds = {"=": sp.Eq, "<=": sp.Le}[rel](left, right)
    assert holds is sp.false, (point, left, right)


#: True steps about vectors; each was refuted, or could be, at points no vector has. (The delta
#: collapse, Cauchy-Schwarz and the centred sum are cases of the kernel corpus, tests/kernel_corpus.py.)
TRUE_FOR_EVERY_VECTOR = [
    ("linearity", total(3 * x[j] + g[j]), "=", 3 * total(x[j]) + total(g[j]), ()),
    ("an entry below the sum of squares", x[i] ** 2, "<=", total(x[j] ** 2), (i <= m,)),
    ("double sum of a product", sp.Sum(x[j] * g[k], (j, 1, m), (k, 1, m)), "=", total(x[j]) * total(g[j]), ()),
]


@pytest.mark.parametrize("lhs, rel, rhs, assume", [c[1:] for c in TRUE_FOR_EVERY_VECTOR],
                         ids=[c[0] for c in TRUE_FOR_EVERY_VECTOR])
def test_true_steps_about_vectors_are_never_refuted(lhs, rel, rhs, assume) -> None:
    v = verdict(lhs, rel, rhs, assume)
    assert v.status in (sg.Status.PROVED, sg.Status.NUMERIC), v
    if v.status is sg.Status.NUMERIC:
        assert v.samples >= 20


def test_an_index_outside_the_range_is_a_real_counterexample() -> None:
    """Without ``i <= m`` the delta collapse is false: at i > m the sum has no term j = i."""
    v = verdict(total(sp.KroneckerDelta(i, j) * g[j]), "=", g[i])
    assert v.status is sg.Status.REFUTED
    point = v.counterexample.point
    assert point[i] > point[m] and v.counterexample.lhs_value == 0
    assert v.counterexample.rhs_value == point[g[point[i]]] != 0


def test_entries_are_the_same_wherever_they_appear_and_follow_the_assumptions() -> None:
    families = Families(seed=7)
    exprs = [total(sp.KroneckerDelta(i, j) * x[j]), x[i], total(w[j])]
    (collapsed, entry, weights), point = families.at(exprs, {m: sp.Integer(4), i: sp.Integer(3)}, 0)
    assert collapsed == entry == point[x[3]]
    # the whole vectors x and w of size 4 (the delta picks x[3] out of the sum)
    assert set(point) == {m, i, *(x[n] for n in range(1, 5)), *(w[n] for n in range(1, 5))}
    assert all(point[w[n]] > 0 for n in range(1, 5))
    assert weights == sum(point[w[n]] for n in range(1, 5))
    # one seed, one number: the same vector; another number: another vector
    assert families.at(exprs, {m: sp.Integer(4), i: sp.Integer(3)}, 0)[1] == point
    assert families.at(exprs, {m: sp.Integer(4), i: sp.Integer(3)}, 1)[1] != point


@pytest.mark.parametrize("low, high", [(1, 4), (3, 3), (4, 3), (6, 2), (-2, 1)])
def test_written_out_sums_and_products_agree_with_sympy(low: int, high: int) -> None:
    """SymPy's (Karr's) convention for reversed limits included."""
    families = Families(seed=3)
    for expr in (sp.Sum(x[j] ** 2 + j, (j, low, high)), sp.Product(1 + x[j] ** 2, (j, low, high))):
        (value,), point = families.at([expr], {}, 0)
        entries = {s: v for s, v in point.items() if isinstance(s, sp.Indexed)}
        assert value == expr.doit().xreplace(entries), expr


def test_a_bound_index_shadowing_a_free_one_is_respected() -> None:
    """``x[j] + Sum(x[j], (j, 1, m))`` with j = 2 outside: the sum still runs over every j."""
    families = Families(seed=5)
    (value,), point = families.at([x[j] + total(x[j])], {m: sp.Integer(3), j: sp.Integer(2)}, 0)
    assert value == point[x[2]] + sum(point[x[n]] for n in (1, 2, 3))


def test_coordinates_are_sizes_and_indices_not_entries() -> None:
    expr = total(sp.KroneckerDelta(i, j) * x[j]) + x[i] * sp.Symbol("gamma", real=True)
    assert {str(s) for s in scalar_symbols(expr)} == {"m", "i", "gamma"}


def test_too_many_terms_skip_the_point_and_never_hang() -> None:
    families = Families(seed=1)
    assert families.at([total(x[j])], {m: sp.Integer(MAX_TERMS + 1)}, 0) is None
    assert families.at([total(x[j])], {m: sp.Integer(10) ** 9}, 0) is None
    assert families.at([sp.Sum(x[k], (k, 1, m))], {}, 0) is None  # no size: not written out
    # every size huge: no evidence either way, and quickly
    v = verdict(total(x[j] ** 2), ">", sp.S(-1), (m >= 10 ** 6,))
    assert v.status in (sg.Status.PROVED, sg.Status.UNKNOWN) and v.seconds < 5


# Found by an adversarial review: each was a wrong verdict.


def test_a_sum_that_may_run_backwards_is_never_proved_by_closed_forms() -> None:
    """SymPy's closed form of a delta sum (a Piecewise, 0 or 1) ignores Karr's convention, under which
    ``sum_{J=1}^{-3} delta(0, J) w_J = -w_0``: the sides agree after ``doit`` but not as written."""
    big_m, big_i, big_j = sp.symbols("M I J", integer=True)
    collapsed = sp.Sum(sp.KroneckerDelta(big_i, big_j) * w[big_j], (big_j, 1, big_m))
    as_piecewise = verdict(collapsed, "=", sp.Piecewise((w[big_i], (big_i >= 1) & (big_i <= big_m)), (0, True)))
    nonnegative = verdict(collapsed, ">=", sp.S.Zero)
    for v in (as_piecewise, nonnegative):
        assert v.status is sg.Status.REFUTED, v
        point = v.counterexample.point
        size, index = int(point[big_m]), point[big_i]
        assert size < 0  # both claims hold wherever the sum runs forwards
        karr = -sum(point[w[t]] for t in range(size + 1, 1) if t == index)  # -sum_{J=M+1}^{0}
        assert v.counterexample.lhs_value == karr != 0
    reversed_only = verdict(sp.Sum(sp.KroneckerDelta(big_i, big_j), (big_j, 1, big_m)), ">=", sp.S.Zero,
                            (big_m < 0,))
    assert reversed_only.status is not sg.Status.PROVED


def test_an_inner_sum_runs_over_the_outer_index_not_the_points_value_of_it() -> None:
    """``j`` is a coordinate (the assumption names it), yet inside the outer sum it is bound."""
    outer = sp.Sum(2 * sp.Sum(1 / k, (k, 1, j)), (j, 1, m))
    v = verdict(outer, "=", 2 * (m + 1) * sp.harmonic(m) - 2 * m, (j <= m,))
    assert v.status is not sg.Status.REFUTED, v
    irrational = verdict(j + sp.Sum(2 * sp.Sum(1 / sp.sqrt(k), (k, 1, j)), (j, 1, m)), "=",
                         j + sp.Sum(2 * (m - k + 1) / sp.sqrt(k), (k, 1, m)))
    assert irrational.status is not sg.Status.REFUTED, irrational


def test_families_declared_complex_have_complex_entries() -> None:
    z = sp.IndexedBase("z", complex=True)
    v = verdict(sp.Abs(z[1]) ** 2, "=", z[1] ** 2)
    assert v.status is sg.Status.REFUTED and not v.counterexample.point[z[1]].is_real
    assert verdict(sp.Abs(z[1]) ** 2, "=", z[1] * sp.conjugate(z[1])).status in (sg.Status.PROVED,
                                                                                  sg.Status.NUMERIC)
    with pytest.raises(sg.InputError, match="declared complex"):
        verdict(sp.Abs(z[1]), "<=", sp.S.One)


def test_vectors_of_the_simplest_values_are_tried() -> None:
    """False only for vectors of 0s and 1s (a nonnegative integer family)."""
    a = sp.IndexedBase("a", integer=True, nonnegative=True)
    v = verdict(total(a[j] ** 2), ">", total(a[j]))
    assert v.status is sg.Status.REFUTED
    assert all(v.counterexample.point[e] in (0, 1) for e in v.counterexample.point if isinstance(e, sp.Indexed))


def test_sums_of_differences_are_split_before_sympy_evaluates_them() -> None:
    """sum_j (x_j - mean) = 0 is proved once the sum is split into sum_j x_j - m mean (SymPy leaves
    the unsplit sum as written); the same split never proves a wrong constant."""
    mean = total(x[j]) / m
    proved = verdict(total(x[j] - mean), "=", sp.S.Zero)
    assert proved.status is sg.Status.PROVED and "sums" in proved.method
    for wrong in (total(x[j]) / (m + 1), total(x[j]) / m + 1, total(x[j] ** 2) / m):
        assert verdict(total(x[j] - wrong), "=", sp.S.Zero).status is sg.Status.REFUTED
    k_ = sp.Symbol("k_", integer=True, positive=True)
    telescoping = sp.Sum(1 / k_ - 1 / (k_ + 1), (k_, 1, m))
    assert verdict(telescoping, "=", sp.S.One).status is sg.Status.REFUTED
    assert verdict(telescoping, "=", 1 - 1 / (m + 1)).status is sg.Status.PROVED
