"""What "proved" means: values the user wrote, kinks, complex symbols, certified numbers, the budget."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import sympy as sp

import symgrad as sg
from symgrad import Status, calc

x = sp.Symbol("x", real=True)
n = sp.Symbol("n", integer=True, positive=True)


def status(proof: sg.Proof, **options: object) -> Status:
    return proof.check(**options).steps[0].status


# -- values the user wrote are kept; derivatives are undefined at their kinks ---------------

def test_step_function_values_the_user_wrote_are_kept() -> None:
    assert status(calc(sp.Heaviside(x, 0)).eq(sp.Heaviside(x, 1))) is Status.REFUTED
    assert status(calc(sp.Heaviside(x)).eq(sp.Heaviside(x, 0))) is Status.REFUTED  # SymPy's H(0) is 1/2
    assert status(calc(sp.Heaviside(x, 1)).ge(sp.Heaviside(x, 0))) is Status.PROVED


@pytest.mark.parametrize("lhs, rhs", [
    (sp.Subs(sp.Derivative(sp.Abs(x), x), x, 0), 0),
    (sp.Subs(sp.Derivative(sp.Max(x, 0), x), x, 0), sp.S.Half),
    (sp.Subs(sp.Derivative(sp.Max(x, 0), x), x, 0), 0),
])
def test_a_derivative_at_its_kink_is_never_proved(lhs: sp.Expr, rhs: sp.Expr) -> None:
    assert status(calc(lhs).eq(rhs)) is not Status.PROVED


def test_derivatives_agree_with_step_functions_where_defined() -> None:
    for value in (0, sp.S.Half, 1):
        verdict = calc(sp.Derivative(sp.Max(x, 0), x)).eq(sp.Heaviside(x, value)).check().steps[0]
        assert verdict.status is Status.PROVED and "where both sides are defined" in verdict.method
    assert status(calc(sp.Derivative(sp.Abs(x), x)).eq(sp.sign(x))) is Status.PROVED


def test_proved_where_defined_is_said() -> None:
    verdict = calc(sp.Mul(x, 1 / x, evaluate=False)).eq(1).check().steps[0]
    assert verdict.status is Status.PROVED and "where both sides are defined" in verdict.method
    assert "defined" not in calc((x + 1) ** 2).eq(x**2 + 2 * x + 1).check().steps[0].method


def test_a_limit_is_checked_as_written() -> None:
    # SymPy's Limit(f, x, a) is the right-hand limit, and it renders as such.
    assert status(calc(sp.Limit(sp.Abs(x) / x, x, 0)).eq(1)) is Status.PROVED
    assert "0^+" in sg.render(calc(sp.Limit(sp.Abs(x) / x, x, 0)).eq(1), "markdown")
    assert status(calc(sp.Limit(sp.Abs(x) / x, x, 0, "+-")).eq(1)) is not Status.PROVED
    no_limit = calc(sp.Limit(sp.Abs(x) / x, x, 0, "+-")).eq(1).check(budget=3).steps[0]
    assert no_limit.status is Status.UNKNOWN and "does not exist" in no_limit.note
    assert "left-hand limit = -1" in no_limit.note
    assert status(calc(sp.Limit(sp.sin(x) / x, x, 0, "+-")).eq(1)) is Status.PROVED


# -- symbols are what SymPy says they are ------------------------------------------------

@pytest.mark.parametrize("symbol", [sp.Symbol("z"), sp.Symbol("z", imaginary=True), sp.Symbol("z", complex=True)])
def test_inequalities_between_non_real_quantities_are_refused(symbol: sp.Symbol) -> None:
    with pytest.raises(sg.InputError, match="need not be real"):
        calc(symbol**2).ge(0).check()


def test_equalities_in_complex_symbols_are_sampled_at_complex_points() -> None:
    z = sp.Symbol("z")
    assert status(calc((z + 1) ** 2).eq(z**2 + 2 * z + 1)) is Status.PROVED
    wrong = calc(sp.sqrt(z**2)).eq(z).check().steps[0]
    assert wrong.status is Status.REFUTED
    point = wrong.counterexample.point
    assert sp.N(sp.sqrt(point[z] ** 2) - point[z]) != 0  # independent re-check
    w = sp.Symbol("w", imaginary=True)
    assert status(calc(sp.Abs(w) ** 2).eq(w**2)) is Status.REFUTED


# -- certified numbers decide ---------------------------------------------------------------

def test_a_tiny_certified_offset_is_refuted() -> None:
    verdict = calc(sp.exp(x) + sp.Rational(1, 10**45), assume=[x > 0]).le(sp.exp(x)).check().steps[0]
    assert verdict.status is Status.REFUTED
    point = verdict.counterexample.point
    assert (sp.exp(x) + sp.Rational(1, 10**45) - sp.exp(x)).xreplace(point) > 0
    assert "lhs - rhs = 1.00e-45" in verdict.evidence()
    assert status(calc(sp.sin(x) ** 2 + sp.cos(x) ** 2).eq(1 + sp.Rational(1, 10**60))) is Status.REFUTED


def test_claims_false_only_in_a_tail_are_refuted() -> None:
    k = sp.Symbol("k", integer=True, positive=True)
    assert status(calc(x**3).le(1000 * x**2 + 10**6), budget=3) is Status.REFUTED
    assert status(calc(sp.exp(x)).le(10**1000), budget=3) is Status.REFUTED
    assert status(calc(sp.Sum(1 / k, (k, 1, n))).le(6), budget=3) is Status.REFUTED  # false from n = 227


# -- the budget holds ----------------------------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda: calc(x ** (10**7)).ge(0),
    lambda: calc(x ** (10**7)).le(2),
    lambda: calc(sp.factorial(n), assume=[n > 10**6]).ge(1),
    lambda: calc(sp.factorial(n)).le(10**n),
])
def test_huge_powers_and_factorials_return_within_the_budget(build) -> None:
    started = time.perf_counter()
    build().check(budget=1)
    assert time.perf_counter() - started < 3.0


def test_a_note_with_a_huge_power_returns_quickly(tmp_path) -> None:
    note = tmp_path / "power.md"
    note.write_text("$$ x^{10^{7}} \\le 2 $$\n", encoding="utf-8")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "symgrad", "check", "--budget", "1", str(note)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr
    assert time.perf_counter() - started < 15.0  # interpreter start-up included


# -- misuse is an error, never a traceback -----------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: sg.sigmoid("__import__('os')"),
    lambda: sg.chain_rule_instance(sp.sin, "x**2", x),
    lambda: sg.jacobian_chain(["x"], [x], [x], [x]),
    lambda: sg.CheckOptions(budget="x"),
    lambda: sg.CheckOptions(budget=1e308),
    lambda: sg.CheckOptions(budget=True),
])
def test_strings_and_bad_options_are_input_errors(call) -> None:
    with pytest.raises(sg.InputError):
        call()


def test_cli_refuses_a_huge_budget_and_an_endless_file() -> None:
    proc = subprocess.run([sys.executable, "-m", "symgrad", "check", "--budget", "1e308", "README.md"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "at most" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "symgrad", "check", "--format", "md", "/dev/zero"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "larger than" in proc.stderr


# -- hostile names are text in every output -----------------------------------------------

@pytest.mark.parametrize("name", [r"\input{/etc/passwd}", "<script>alert(1)</script>", r"x\write18{rm -rf}"])
def test_hostile_names_are_escaped(name: str) -> None:
    hostile = sp.Symbol(name, real=True)
    proof = calc(hostile).eq(hostile)
    latex, markdown = sg.render(proof, "latex"), sg.render(proof, "markdown")
    assert r"\input{" not in latex and r"\write18" not in latex
    assert "<script" not in markdown and r"\input{" not in markdown


# -- found while trying to break the decision procedures: each must stay refuted --------------

y = sp.Symbol("y", real=True)


@pytest.mark.parametrize("build", [
    lambda: calc(sg.sigmoid(x) * (1 - sg.sigmoid(x))).lt(sp.Rational(1, 4)),       # equality at 0
    lambda: calc(sp.cosh(x)).gt(1),                                                # equality at 0
    lambda: calc(sp.exp(2 * x)).ge(2 * sp.exp(x) - 1 + sp.Rational(1, 10**30)),  # (e^x - 1)^2 >= 0, tight at 0
    lambda: calc(sp.tanh(x)).eq(2 * sg.sigmoid(2 * x) - 1 + sp.Rational(1, 10**40)),
    lambda: calc(sp.Max(x, y)).eq((x + y + sp.Abs(x - y)) / 2 + sp.Rational(1, 10**50)),
    lambda: calc(sp.Piecewise((x, x >= 0), (1, True))).eq(sp.Max(x, 0)),
    lambda: calc(sp.atan(x)).lt(sp.pi / 2 - sp.Rational(1, 10**20)),             # false far out
    lambda: calc(sp.exp(x) - 1 - x).ge(x**2 / 2 - sp.Rational(1, 10**9)),        # false for x < 0
    lambda: calc(sp.Heaviside(x)).le(sp.Heaviside(x, 0)),                         # 1/2 > 0 at the kink
])
def test_tight_false_claims_are_refuted(build) -> None:
    verdict = build().check(budget=5).steps[0]
    assert verdict.status is Status.REFUTED, (verdict.status, verdict.method)


def test_a_strict_bound_attained_at_an_irrational_point_is_not_proved() -> None:
    gelu_slope = sp.diff(x * (1 + sp.erf(x / sp.sqrt(2))) / 2, x)
    supremum = (1 + sp.erf(1)) / 2 + 1 / (sp.E * sp.sqrt(sp.pi))  # attained at x = sqrt(2)
    assert status(calc(gelu_slope).lt(supremum), budget=5) is not Status.PROVED
    assert status(calc(gelu_slope).le(supremum), budget=30) is Status.PROVED


def test_assumptions_about_defined_names_use_their_definitions() -> None:
    """``assume=[s > s_-]`` with ``where={s_-: 1/4}`` restricts s to s > 1/4 (no false alarm at s = 0)."""
    s = sp.Symbol("s", real=True)
    lo, hi = sp.Symbol("s_-", real=True), sp.Symbol("s_+", real=True)
    bounds = dict(assume=[s > lo, s < hi], where={lo: sp.Rational(1, 4), hi: sp.Rational(3, 4)})
    step = calc(s * (1 - s), **bounds).gt(sp.Rational(3, 16)).check().steps[0]
    assert step.status is Status.PROVED, (step.method, step.counterexample)
    assert status(calc(s * (1 - s), **bounds).gt(sp.Rational(1, 6))) is Status.PROVED
    assert status(calc(s * (1 - s), **bounds).gt(sp.Rational(1, 5))) is Status.REFUTED  # 3/16 < 1/5 near s = 1/4
    assert status(calc(s * (1 - s), **bounds).gt(sp.Rational(1, 4))) is Status.REFUTED


def test_an_alarm_inside_a_precision_manager_leaves_the_working_precision_as_it_was() -> None:
    """A step cut off by its budget inside mpmath.workprec must not change mpmath's global precision."""
    import mpmath

    from symgrad.core.budget import OutOfTime, run_within

    before = mpmath.mp.prec

    def lowered_forever() -> None:
        mpmath.mp.prec = 10  # what an interrupted PrecisionManager.__enter__ leaves behind
        time.sleep(1)

    with pytest.raises(OutOfTime):
        run_within(lowered_forever, 0.05)
    assert mpmath.mp.prec == before
