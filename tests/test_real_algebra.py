"""The real-algebra decision procedure (z3 nlsat): proofs, exactly checked refutations, honest None.

Every counterexample the procedure returns is re-checked here with an oracle
of the test's own: exact SymPy arithmetic for rational points, a 60-digit
evaluation far from zero or an exact minimal polynomial for algebraic points,
and the domain's own membership test.
"""

from __future__ import annotations

import time

import pytest
import sympy as sp

from symgrad.core.domain import Domain
from symgrad.core.functions import sigmoid
from symgrad.core.real_algebra import Decision, decide_sign, decide_zero

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
a = sp.Symbol("a", positive=True)
b = sp.Symbol("b", positive=True)
c = sp.Symbol("c", positive=True)
n = sp.Symbol("n", integer=True)
xnz = sp.Symbol("x", real=True, nonzero=True)
half = sp.S.Half
quarter = sp.Rational(1, 4)


def dom(*symbols: sp.Symbol, conditions: tuple[sp.Basic, ...] = ()) -> Domain:
    return Domain.build(symbols, conditions)


def oracle_sign(value: sp.Expr) -> int:
    """The sign of a closed real number, decided independently of the module under test."""
    assert not value.free_symbols
    assert not value.has(sp.nan, sp.zoo, sp.oo, -sp.oo), value
    if value.is_Rational:
        return int(bool(value > 0)) - int(bool(value < 0))
    approx = sp.N(value, 60)
    assert approx.is_real, value
    if abs(approx) > sp.Float("1e-40"):
        return 1 if approx > 0 else -1
    t = sp.Dummy("t")
    assert sp.minimal_polynomial(value, t) == t, f"cannot decide the sign of {value}"
    return 0


def assert_fails(expr: sp.Expr, domain: Domain, kind: str, point: dict[sp.Symbol, sp.Expr]) -> None:
    """The claim (``>= 0``, ``> 0`` or ``== 0``) fails at ``point``, a point of ``domain``."""
    assert expr.free_symbols <= set(point), (expr, point)
    assert domain.satisfied(point), (domain.describe(), point)
    for s, v in point.items():
        for name, holds in s.assumptions0.items():
            if holds:
                assert getattr(v, f"is_{name}") is True, (s, name, v)
    exact = expr.xreplace({f: sp.Rational(f) for f in expr.atoms(sp.Float)})
    sign = oracle_sign(exact.xreplace(point))
    if kind == ">=":
        assert sign < 0, (expr, point)
    elif kind == ">":
        assert sign <= 0, (expr, point)
    else:
        assert sign != 0, (expr, point)


def run(expr: sp.Expr, domain: Domain, kind: str) -> Decision | None:
    if kind == "==":
        return decide_zero(expr, domain)
    return decide_sign(expr, domain, strict=(kind == ">"))


# ---------------------------------------------------------------------------
# proved

PROVED: list[tuple[str, sp.Expr, Domain, str]] = [
    ("perfect square", x**2 - 2 * x + 1, dom(x), ">="),
    ("two squares", x**2 + y**2 - 2 * x * y, dom(x, y), ">="),
    ("AM-GM two", (a + b) / 2 - sp.sqrt(a * b), dom(a, b), ">="),
    ("AM-GM three (cube root)", (a + b + c) / 3 - sp.cbrt(a * b * c), dom(a, b, c), ">="),
    ("AM-GM three (cubes)", (a**3 + b**3 + c**3) / 3 - a * b * c, dom(a, b, c), ">="),
    ("sigmoid variance", quarter - sigmoid(x) * (1 - sigmoid(x)), dom(x), ">="),
    ("positive fraction", (x**2 + 1) / (x**2 + 2), dom(x), ">"),
    ("max + min", sp.Max(x, y) + sp.Min(x, y) - x - y, dom(x, y), "=="),
    ("triangle inequality", sp.Abs(x) + sp.Abs(y) - sp.Abs(x + y), dom(x, y), ">="),
    ("nonzero square", xnz**2 + y**2, dom(xnz, y), ">"),
    ("exp above tangent", sp.exp(x) - (1 + x), dom(x), ">="),
    ("sigmoid symmetry", sigmoid(x) + sigmoid(-x) - 1, dom(x), "=="),
    ("same atom, same variable", sigmoid(x) * (1 - sigmoid(x)) - sigmoid(x) + sigmoid(x)**2, dom(x), "=="),
    ("tanh below identity", x - sp.tanh(x), dom(x, conditions=(x >= 0,)), ">="),
    ("tanh increasing", sp.tanh(y) - sp.tanh(x), dom(x, y, conditions=(y > x,)), ">"),
    ("erf odd sign", x * sp.erf(x), dom(x), ">="),
    ("exp below 1/(1-x)", 1 - sp.exp(x) * (1 - x), dom(x, conditions=(x < 1,)), ">="),
    ("sign times abs", sp.sign(x) * sp.Abs(x) - x, dom(x), "=="),
    ("relu", sp.Max(0, x) - x * sp.Heaviside(x), dom(x), "=="),
    ("step squared (undefined at 0)", sp.Heaviside(x, sp.nan)**2 - sp.Heaviside(x, sp.nan), dom(x), "=="),
    ("floor", x - sp.floor(x), dom(x), ">="),
    ("ceiling", sp.ceiling(x) - x, dom(x), ">="),
    ("integers", n**2 - n, dom(n), ">="),
    ("side condition", x * y - 1, dom(x, y, conditions=(x > 1, y > 1)), ">"),
    ("polynomial side condition", 2 - x - y, dom(x, y, conditions=(x**2 + y**2 <= 1,)), ">"),
    ("pi enclosed", x**2 - sp.pi * x + 3, dom(x), ">"),
    ("removable singularity", (x**2 - 1) / (x - 1) - x - 1, dom(x), "=="),
    ("piecewise", sp.Piecewise((x, x > 0), (-x, True)) - sp.Abs(x), dom(x), "=="),
    ("closed end", 1 - x, dom(x, conditions=(x > 0, x <= 1)), ">="),
    ("open end", 1 - x, dom(x, conditions=(x > 0, x < 1)), ">"),
    ("Float as its exact binary value", x**2 - sp.Float(0.5) * x + sp.Float(0.0625), dom(x), ">="),
]


@pytest.mark.parametrize("name,expr,domain,kind", PROVED, ids=[p[0] for p in PROVED])
def test_proved(name: str, expr: sp.Expr, domain: Domain, kind: str) -> None:
    result = run(expr, domain, kind)
    assert result is not None and result.proved, result
    assert result.counterexample is None
    assert result.method.startswith("real algebra (z3 nlsat")
    assert "\n" not in result.method


def test_abstractions_are_named_in_the_method() -> None:
    result = decide_sign(quarter - sigmoid(x) * (1 - sigmoid(x)), dom(x), strict=False)
    assert result is not None and result.proved
    assert "sigmoid(x) abstracted to s in (0, 1)" in result.method
    exact = decide_sign(x**2 - 2 * x + 1, dom(x), strict=False)
    assert exact is not None and "abstracted" not in exact.method


# ---------------------------------------------------------------------------
# refuted, with points checked exactly

REFUTED: list[tuple[str, sp.Expr, Domain, str, dict[sp.Symbol, sp.Expr] | None]] = [
    ("double root", (x - sp.Rational(2, 7))**2, dom(x), ">", {x: sp.Rational(2, 7)}),
    ("origin", x**2 + y**2, dom(x, y), ">", {x: 0, y: 0}),
    ("cubic eventually wins", 1000 * x**2 + 10**6 - x**3, dom(x), ">=", None),
    ("x^2 >= x", x**2 - x, dom(x), ">=", None),
    ("irrational double root", (x**2 - 2)**2, dom(x, conditions=(x > 0,)), ">", {x: sp.sqrt(2)}),
    ("cubic double root", (x**3 - x - 1)**2, dom(x), ">", None),
    ("strict at the closed end", 1 - x, dom(x, conditions=(x > 0, x <= 1)), ">", {x: 1}),
    ("integer point", n**2 - 2, dom(n), ">", None),
    ("sigmoid not above 9/10", sigmoid(x) - sp.Rational(9, 10), dom(x), ">=", None),
    ("piecewise root branch", sp.Piecewise((sp.sqrt(x), x >= 0), (-1, True)), dom(x), ">=", None),
]


@pytest.mark.parametrize("name,expr,domain,kind,expected", REFUTED, ids=[r[0] for r in REFUTED])
def test_refuted(name: str, expr: sp.Expr, domain: Domain, kind: str,
                 expected: dict[sp.Symbol, sp.Expr] | None) -> None:
    result = run(expr, domain, kind)
    assert result is not None and not result.proved, result
    assert result.counterexample is not None
    assert_fails(expr, domain, kind, result.counterexample)
    if expected is not None:
        assert result.counterexample == expected


def test_large_counterexample_of_the_cubic() -> None:
    result = decide_sign(1000 * x**2 + 10**6 - x**3, dom(x), strict=False)
    assert result is not None and result.counterexample is not None
    point = result.counterexample[x]
    assert point.is_Rational and point > 1000  # x**3 - 1000 x**2 > 10**6 needs x > 1000
    assert point**3 > 1000 * point**2 + 10**6


def test_x_squared_below_x_in_the_unit_interval() -> None:
    result = decide_sign(x**2 - x, dom(x), strict=False)
    assert result is not None and result.counterexample is not None
    point = result.counterexample[x]
    assert 0 < point < 1 and point**2 < point


def test_tanh_close_to_one_is_not_proved() -> None:
    # tanh(x) < 1 - 10**-40 is false (tanh(x) -> 1), but the abstraction t in (-1, 1) cannot
    # show it: None is the honest answer; a counterexample would have to check out exactly.
    expr = 1 - sp.Rational(1, 10**40) - sp.tanh(x)
    result = decide_sign(expr, dom(x), strict=True)
    assert result is None or not result.proved
    if result is not None:
        assert result.counterexample is not None
        assert_fails(expr, dom(x), ">", result.counterexample)


def test_a_piecewise_branch_constrains_only_where_it_is_taken() -> None:
    # sqrt(x) is a branch for x >= 0 only: its law r**2 = x must not exclude negative x.
    result = decide_sign(sp.Piecewise((sp.sqrt(x), x >= 0), (-1, True)), dom(x), strict=False)
    assert result is not None and not result.proved
    assert result.counterexample is not None and result.counterexample[x] < 0


# ---------------------------------------------------------------------------
# None: not applicable, or nothing that checks out


@pytest.mark.parametrize("symbol", [sp.Symbol("z"), sp.Symbol("z", imaginary=True), sp.Symbol("z", complex=True),
                                    sp.Symbol("z", extended_real=True)])
def test_non_real_symbols_give_none(symbol: sp.Symbol) -> None:
    assert decide_sign(symbol**2, Domain({}, ()), strict=False) is None
    assert decide_zero(symbol - symbol**2, Domain({}, ())) is None


@pytest.mark.parametrize("expr", [sp.Function("f")(x)**2, sp.sin(x)**2 + 1, 2**x, x**x, sp.log(x) - x,
                                  sp.Integral(x, (y, 0, 1)) + x**2])
def test_unsupported_structure_gives_none(expr: sp.Expr) -> None:
    assert decide_sign(expr, dom(x), strict=False) is None


@pytest.mark.parametrize("expr", [x**(10**7), x**(-10**7) + 1, (x + 1)**100 * (x - 1)**100,
                                  x**2 + 10**(10**4), x**2 + sp.Rational(1, 3**5000)])
def test_oversized_input_is_refused_quickly(expr: sp.Expr) -> None:
    start = time.perf_counter()
    result = decide_sign(expr, dom(x), strict=False)
    assert time.perf_counter() - start < 1.0
    assert result is None or result.proved  # all of these are true claims


@pytest.mark.parametrize("constant", [sp.exp(sp.exp(10)), sp.exp(-sp.exp(10)), sp.log(sp.exp(sp.exp(9)))])
def test_huge_constants_are_refused_not_raised(constant: sp.Expr) -> None:
    result = decide_sign(x**2 + constant, dom(x), strict=True)
    assert result is None or result.proved


def test_huge_exponent_returns_quickly() -> None:
    start = time.perf_counter()
    result = decide_sign(x**(10**7), dom(x), strict=False)
    assert time.perf_counter() - start < 1.0
    assert result is None or result.proved


def test_step_function_value_at_zero_is_never_a_counterexample() -> None:
    # SymPy's Heaviside(0) = 1/2 makes H**2 - H nonzero only at 0, where the value is a convention.
    result = decide_zero(sp.Heaviside(x)**2 - sp.Heaviside(x), dom(x))
    assert result is None


def test_step_function_kinks_are_avoided_when_searching_for_a_counterexample() -> None:
    # z3's first point may sit at the kink x = 0; the search is repeated away from it
    result = decide_zero(sp.Heaviside(x) - half, dom(x))
    assert result is not None and not result.proved and result.counterexample is not None
    assert result.counterexample[x] != 0
    assert_fails(sp.Heaviside(x) - half, dom(x), "==", result.counterexample)
    # a side condition that admits x = 0 only by SymPy's convention H(0) = 1/2
    only_kink = dom(x, conditions=(sp.Heaviside(x) >= half, x <= 0))
    result = decide_sign(x, only_kink, strict=True)
    assert result is None or (not result.proved and result.counterexample is None)


def test_dropped_side_condition_allows_proofs_but_no_counterexample() -> None:
    weird = sp.sin(x) > 0
    domain = dom(x, y, conditions=(x > 0, y > 0, weird))
    assert domain.filters == (weird,)
    proved = decide_sign(x + y, domain, strict=True)
    assert proved is not None and proved.proved and "not used" in proved.method
    assert decide_sign(x + y - 1, domain, strict=False) is None


def test_assumption_z3_cannot_express_is_checked_on_the_point() -> None:
    p = sp.Symbol("p", prime=True)
    # true for every prime; z3 only knows p is a positive integer, and p = 1 is no prime
    result = decide_sign(p - 2, dom(p), strict=False)
    assert result is None or result.proved


def test_nowhere_defined_is_not_proved() -> None:
    assert decide_sign(sp.sqrt(-1 - x**2) - 5, dom(x), strict=False) is None
    assert decide_sign(x, dom(x, conditions=(x**2 < -1,)), strict=False) is None


def test_where_defined_is_stated() -> None:
    result = decide_sign(1 / x**2, dom(x), strict=True)  # SymPy: 1/0 = zoo, not a real number
    assert result is not None and result.proved and "where the expression is defined" in result.method
    everywhere = decide_sign(sp.sqrt(x), dom(x, conditions=(x >= 0,)), strict=False)
    assert everywhere is not None and everywhere.proved and "where" not in everywhere.method


# SymPy (the kernel's evaluator) gives these a finite real value where the real-analytic
# expression is undefined; a proof "where defined" would be contradicted by the kernel there.
SYMPY_SEMANTICS: list[tuple[sp.Expr, str, dict[sp.Symbol, sp.Expr]]] = [
    ((x + 1) * sp.sqrt(x) + x + half, ">=", {x: -1}),  # I*0 = 0: value -1/2
    ((1 / (1 / x + 1))**2, ">", {x: 0}),  # 1/(zoo + 1) = 0: value 0
    (sp.sqrt(x) * sp.sqrt(x - 1), ">=", {x: -1}),  # I * sqrt(2)*I: value -sqrt(2)
    (sp.exp(-sp.Abs(1 + 1 / x)), ">", {x: 0}),  # exp(-Abs(zoo)) = exp(-oo) = 0: value 0
    (1 - sp.Min(sp.Abs(1 + 1 / x), 1) + x**2, ">", {x: 0}),  # Min(oo, 1) = 1: value 0
    (sp.Piecewise((1, sp.Ne(1 / x, 5)), (2, True)) - 2, "==", {x: 0}),  # Ne(zoo, 5) is True: value -1
]


@pytest.mark.parametrize("expr,kind,point", SYMPY_SEMANTICS, ids=[str(i) for i in range(len(SYMPY_SEMANTICS))])
def test_no_proof_where_sympy_has_a_value_the_encoding_lacks(expr: sp.Expr, kind: str,
                                                              point: dict[sp.Symbol, sp.Expr]) -> None:
    value = expr.xreplace(point)
    assert value.is_finite and value.is_real  # the kernel evaluates the expression there ...
    sign = oracle_sign(value)
    assert {">=": sign < 0, ">": sign <= 0, "==": sign != 0}[kind]  # ... and the claim fails
    result = run(expr, dom(x), kind)
    assert result is None or not result.proved


@pytest.mark.parametrize("expr,kind,condition", [
    (SYMPY_SEMANTICS[0][0], ">=", x >= 0),
    (SYMPY_SEMANTICS[1][0], ">", x > 0),
    (SYMPY_SEMANTICS[2][0], ">=", x >= 1),
    (SYMPY_SEMANTICS[3][0], ">", x > 0),
])
def test_those_claims_are_proved_where_sympy_agrees(expr: sp.Expr, kind: str, condition: sp.Basic) -> None:
    result = run(expr, dom(x, conditions=(condition,)), kind)
    assert result is not None and result.proved, (expr, result)


@pytest.mark.parametrize("expr,point,defined", [
    ((x + 1) * sp.sqrt(x), {x: sp.Integer(-1)}, False),  # SymPy: 0
    ((x + 1) * sp.sqrt(x), {x: sp.Integer(2)}, True),
    (sp.Piecewise((sp.sqrt(x), x >= 0), (-1, True)), {x: sp.Integer(-1)}, True),  # root not evaluated
    (1 / (1 / x + 1), {x: sp.Integer(0)}, False),  # SymPy: 0
    (1 / (1 / x + 1), {x: sp.Integer(-2)}, True),
    (sp.Heaviside(x), {x: sp.Integer(0)}, False),  # SymPy: 1/2, a convention
    (x**-2 + sp.cbrt(x), {x: sp.Rational(1, 8)}, True),
    ((-x)**sp.Rational(1, 3), {x: sp.Integer(8)}, False),  # SymPy: a complex number
])
def test_counterexamples_are_checked_for_real_analytic_definedness(
        expr: sp.Expr, point: dict[sp.Symbol, sp.Expr], defined: bool) -> None:
    from symgrad.core.real_algebra import _defined_at
    assert _defined_at(expr, point, {}) is defined


def test_side_condition_sympy_may_satisfy_outside_the_encoding_is_dropped() -> None:
    # Ne(1/x, 5) holds at x = 0 for SymPy (Ne(zoo, 5) is True): x**2 > 0 fails there
    result = decide_sign(x**2, dom(x, conditions=(sp.Ne(1 / x, 5),)), strict=True)
    assert result is None or not result.proved
    # an inequality raises on zoo, so 1/x > 0 excludes x = 0 for SymPy too
    result = decide_sign(x, dom(x, conditions=(1 / x > 0,)), strict=True)
    assert result is not None and result.proved


def test_non_expressions_give_none() -> None:
    assert decide_sign(sp.Lt(x, 1), dom(x), strict=False) is None  # type: ignore[arg-type]
    assert decide_sign(sp.Matrix([x]), dom(x), strict=False) is None  # type: ignore[arg-type]


def test_no_budget_gives_none() -> None:
    assert decide_sign(x**2, dom(x), strict=False, seconds=0) is None
    assert decide_sign(x**2, dom(x), strict=False, rlimit=0) is None


def test_resource_limit_gives_none_not_a_guess() -> None:
    hard = (a**3 + b**3 + c**3) / 3 - a * b * c
    assert decide_sign(hard, dom(a, b, c), strict=False, rlimit=1_000) is None


# ---------------------------------------------------------------------------
# soundness sweep: false claims are never proved; every point checks out

FALSE_CLAIMS: list[tuple[sp.Expr, Domain, str]] = [
    (x**2 - 1, dom(x), ">="),
    (x - y, dom(x, y), ">="),
    (x * y, dom(x, y), ">"),
    (sigmoid(x) - half, dom(x), ">="),
    (sigmoid(x) - sp.Rational(9, 10), dom(x), ">="),
    (sp.tanh(x) - x, dom(x), ">="),
    (x - sp.tanh(x), dom(x), ">="),
    (sp.exp(x) - 1 - x - x**2, dom(x), ">="),
    (sp.exp(x) - 2, dom(x), ">"),
    (sp.exp(-x) - half, dom(x), ">="),
    (quarter - sigmoid(x) * (1 - sigmoid(x)), dom(x), ">"),
    (sp.Abs(x) - x, dom(x), ">"),
    (sp.Max(x, y) - x - y, dom(x, y), ">="),
    (sp.sqrt(a * b) - (a + b) / 2, dom(a, b), ">="),
    ((x**2 + 1) / (x**2 - 1), dom(x), ">="),
    (1 / x, dom(x), ">="),
    (sp.erf(x) - x / 2, dom(x), ">="),
    (sp.Heaviside(x, sp.nan) - half, dom(x), ">="),
    (sp.floor(x) - x, dom(x), ">="),
    (sigmoid(x) - half, dom(x), "=="),
    (sp.sqrt(x**2) - x, dom(x), "=="),
    ((x + 1)**2 - x**2 - 1, dom(x), "=="),
    (x**4 - 4 * x**3 + 6 * x**2 - 4 * x + 1, dom(x), ">"),
    (x + y - 1, dom(x, y, conditions=(x**2 + y**2 < 1,)), ">="),
    (sp.tanh(x) + sp.tanh(y) - sp.tanh(x + y), dom(x, y), ">="),
    (sigmoid(x) * sigmoid(-x) - sp.Rational(1, 5), dom(x), ">="),
    (n**2 - 2 * n, dom(n), ">="),
    (sp.pi - sp.Rational(22, 7), dom(), ">="),
    ((x - sp.sqrt(2))**2, dom(x), ">"),
    (x * sigmoid(x) - x, dom(x), ">="),
    (1 - sp.Rational(1, 10**40) - sp.tanh(x), dom(x), ">"),
    (sp.Piecewise((sp.sqrt(x), x >= 0), (-1, True)), dom(x), ">="),
    (sp.exp(x) * sp.exp(-x) - sp.exp(x), dom(x), ">="),
    (sp.Min(x, 1) - sp.Max(x, 0), dom(x), ">="),
    (sp.ceiling(x) - x - half, dom(x), ">="),
    (sp.Heaviside(x, 1) - 1, dom(x), "=="),
]


@pytest.mark.parametrize("expr,domain,kind", FALSE_CLAIMS, ids=[f"{i}" for i in range(len(FALSE_CLAIMS))])
def test_false_claims_are_never_proved(expr: sp.Expr, domain: Domain, kind: str) -> None:
    result = run(expr, domain, kind)
    assert result is None or not result.proved, (expr, result)
    if result is not None:
        assert result.counterexample is not None
        assert_fails(expr, domain, kind, result.counterexample)


def test_the_sweep_refutes_most_false_claims() -> None:
    refuted = sum(1 for e, d, k in FALSE_CLAIMS if (r := run(e, d, k)) is not None and not r.proved)
    assert refuted >= 25, refuted


TRUE_CLAIMS: list[tuple[sp.Expr, Domain, str]] = [
    (sigmoid(x), dom(x), ">"),
    (1 - sigmoid(x), dom(x), ">"),
    (sp.exp(x), dom(x), ">"),
    (1 - sp.tanh(x)**2, dom(x), ">"),
    (sp.erf(x) + 1, dom(x), ">"),
    (x**2 * sigmoid(x), dom(x), ">="),
    (sp.exp(x) - 1 - x - x**2 / 2, dom(x, conditions=(x >= 0,)), ">="),  # true; beyond the laws used
    (sigmoid(x) - sigmoid(x - 1), dom(x), ">"),
    (sp.Heaviside(x, half) * (1 - sp.Heaviside(x, half)), dom(x), ">="),
    (sp.pi - 3, dom(), ">"),
    (sp.Abs(sp.tanh(x)) - sp.tanh(x)**2, dom(x), ">="),
]


@pytest.mark.parametrize("expr,domain,kind", TRUE_CLAIMS, ids=[f"{i}" for i in range(len(TRUE_CLAIMS))])
def test_true_claims_are_never_refuted(expr: sp.Expr, domain: Domain, kind: str) -> None:
    result = run(expr, domain, kind)
    assert result is None or result.proved, (expr, result)


# ---------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("expr,kind", [
    ((a + b + c) / 3 - sp.cbrt(a * b * c), ">="),
    (1000 * a**2 + 10**6 - a**3, ">="),
    (quarter - sigmoid(a) * (1 - sigmoid(a)), ">"),
    (1 - sp.Rational(1, 10**40) - sp.tanh(a), ">"),
    ((a**3 - a - 1)**2, ">"),
])
def test_same_call_same_answer(expr: sp.Expr, kind: str) -> None:
    domain = dom(a, b, c)
    first = run(expr, domain, kind)
    second = run(expr, domain, kind)
    assert first == second
