"""Numerical derivatives against independent oracles.

The oracles are closed-form derivatives written out by hand and evaluated with
mpmath at 60 digits at the very float the methods see; none of them goes
through :mod:`symgrad.numeric` or :func:`sympy.diff`.
"""

from __future__ import annotations

import cmath
import dataclasses
import math
from typing import Any, Callable

import mpmath
import numpy as np
import pytest
import sympy as sp

from symgrad.core.errors import InputError, UnsupportedError
from symgrad.core.functions import sigmoid
from symgrad.numerics.numeric import (
    METHODS,
    DerivativeComparison,
    NumericDerivative,
    compare_derivative,
    derivative,
)

X = sp.Symbol("x")
Y = sp.Symbol("y")
EPS = float(np.finfo(float).eps)


def _msig(t: Any) -> Any:
    return 1 / (1 + mpmath.exp(-t))


# name: (SymPy expression, NumPy callable, mpmath callable, f', f'') with the
# derivatives as mpmath closed forms
FUNCTIONS: dict[str, tuple[sp.Expr, Callable[[Any], Any], Callable[[Any], Any],
                           Callable[[Any], Any], Callable[[Any], Any]]] = {
    "exp": (sp.exp(X), np.exp, mpmath.exp, mpmath.exp, mpmath.exp),
    "sin": (sp.sin(X), np.sin, mpmath.sin, mpmath.cos, lambda t: -mpmath.sin(t)),
    "tanh": (sp.tanh(X), np.tanh, mpmath.tanh,
             lambda t: 1 / mpmath.cosh(t) ** 2,
             lambda t: -2 * mpmath.tanh(t) / mpmath.cosh(t) ** 2),
    "log": (sp.log(X), np.log, mpmath.log, lambda t: 1 / t, lambda t: -1 / t**2),
    "cube": (X**3, lambda t: t**3, lambda t: t**3, lambda t: 3 * t**2, lambda t: 6 * t),
    "sigmoid": (sigmoid(X), lambda t: 1 / (1 + np.exp(-t)), _msig,
                lambda t: _msig(t) * (1 - _msig(t)),
                lambda t: _msig(t) * (1 - _msig(t)) * (1 - 2 * _msig(t))),
}

# points where f' is not tiny next to f, so a relative accuracy is meaningful
# for finite differences (saturated tails are tested separately)
POINTS = {
    "exp": [-30.0, -2.5, -1e-3, 1e-3, 0.7, 3.0, 30.0],
    "sin": [-30.0, -2.5, -1e-3, 1e-3, 0.7, 3.0, 30.0],
    "tanh": [-2.5, -1e-3, 1e-3, 0.7, 3.0],
    "log": [1e-3, 0.7, 3.0, 30.0],
    "cube": [-30.0, -2.5, -1e-3, 1e-3, 0.7, 3.0, 30.0],
    "sigmoid": [-30.0, -2.5, -1e-3, 1e-3, 0.7, 3.0],
}
CASES = [(name, p) for name, points in POINTS.items() for p in points]


def exact(name: str, x0: float, order: int = 1) -> mpmath.mpf:
    with mpmath.workdps(60):
        return +FUNCTIONS[name][2 + order](mpmath.mpf(x0))


def rel_error(value: Any, reference: mpmath.mpf) -> float:
    with mpmath.workdps(60):
        return float(abs(mpmath.mpf(value) - reference) / abs(reference))


def abs_error(value: Any, reference: mpmath.mpf) -> float:
    with mpmath.workdps(60):
        return float(abs(mpmath.mpf(value) - reference))


# ---------------------------------------------------------------------------
# First derivatives, per method


@pytest.mark.parametrize(("name", "x0"), CASES)
def test_richardson_sympy_is_accurate_to_1e10(name: str, x0: float) -> None:
    result = derivative(FUNCTIONS[name][0], x0, "richardson", wrt=X)
    ref = exact(name, x0)
    assert rel_error(result.value, ref) <= 1e-10
    assert abs_error(result.value, ref) <= result.error_estimate
    assert result.method == "richardson" and isinstance(result.value, float)


@pytest.mark.parametrize(("name", "x0"), CASES)
def test_richardson_callable_is_accurate_to_1e10(name: str, x0: float) -> None:
    result = derivative(FUNCTIONS[name][1], x0)  # richardson is the default
    assert result.method == "richardson"
    assert rel_error(result.value, exact(name, x0)) <= 1e-10


# h = eps**(1/3) ~ 6e-6 is coarse where f' is small next to h**2 f'''/6 (x**3
# near 0) or next to the pole of log: there the estimate, not the accuracy, is tested
COARSE = [("log", 1e-3), ("cube", 1e-3), ("cube", -1e-3)]


@pytest.mark.parametrize(
    ("name", "x0"), [(n, p) for n, p in CASES if abs(p) <= 3 and (n, p) not in COARSE]
)
def test_central_is_accurate_to_1e7_at_moderate_points(name: str, x0: float) -> None:
    result = derivative(FUNCTIONS[name][0], x0, "central", wrt=X)
    ref = exact(name, x0)
    assert rel_error(result.value, ref) <= 1e-7
    assert abs_error(result.value, ref) <= result.error_estimate
    assert result.evaluations == 5


@pytest.mark.parametrize(("name", "x0"), COARSE)
def test_central_error_estimate_covers_a_coarse_step(name: str, x0: float) -> None:
    # truncation h**2 |f'''| / 6: (h/x0)**2 / 3 ~ 1e-5 relative for log, h**2 for x**3
    result = derivative(FUNCTIONS[name][0], x0, "central", wrt=X)
    ref = exact(name, x0)
    err = abs_error(result.value, ref)
    assert 1e-7 < err / float(abs(ref)) < 1e-4
    assert err <= result.error_estimate <= 10 * err


@pytest.mark.parametrize(("name", "x0"), CASES)
def test_complex_step_is_accurate_to_1e14(name: str, x0: float) -> None:
    for f, kwargs in ((FUNCTIONS[name][0], {"wrt": X}), (FUNCTIONS[name][1], {})):
        result = derivative(f, x0, "complex", **kwargs)
        ref = exact(name, x0)
        assert rel_error(result.value, ref) <= 1e-14
        assert abs_error(result.value, ref) <= result.error_estimate
        assert result.evaluations == 3


@pytest.mark.parametrize(("name", "x0"), CASES)
def test_mpmath_is_accurate_to_1e40(name: str, x0: float) -> None:
    for f, kwargs in ((FUNCTIONS[name][0], {"wrt": X}), (FUNCTIONS[name][2], {})):
        result = derivative(f, x0, "mpmath", **kwargs)
        assert isinstance(result.value, mpmath.mpf)
        ref = exact(name, x0)
        scale = max(1.0, float(abs(ref)))
        assert abs_error(result.value, ref) <= 1e-40 * scale
        assert abs_error(result.value, ref) <= result.error_estimate <= 1e-44 * scale
        assert result.step is None


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("x0", [30.0, -30.0])
def test_saturated_tails(name: str, x0: float) -> None:
    """Where f' is ~1e-13 (or ~1e-26) of f, differences of rounded values of f
    can only give it to an absolute accuracy near eps; complex step and mpmath
    keep full relative accuracy."""
    expr = FUNCTIONS[name][0]
    ref = exact(name, x0)
    for method in ("central", "richardson"):
        result = derivative(expr, x0, method, wrt=X)
        err = abs_error(result.value, ref)
        assert err <= result.error_estimate
        assert err <= (1e-14 if method == "richardson" else 1e-11)
    assert rel_error(derivative(expr, x0, "complex", wrt=X).value, ref) <= 1e-14
    assert rel_error(derivative(expr, x0, "mpmath", wrt=X).value, ref) <= 1e-45


def test_methods_rank_as_documented() -> None:
    ref = exact("sin", 1.0)
    errors = {m: abs_error(derivative(sp.sin(X), 1.0, m, wrt=X).value, ref) for m in METHODS}
    assert 1e-13 < errors["central"] < 1e-7
    assert errors["richardson"] < errors["central"] / 100
    assert errors["complex"] <= 2 * EPS
    assert errors["mpmath"] < 1e-45


def test_mpmath_keeps_an_exact_sympy_point() -> None:
    # d/dx x**3 at 1/3 is 1/3; a float 1/3 would be off by ~1e-17
    result = derivative(X**3, sp.Rational(1, 3), "mpmath", wrt=X)
    with mpmath.workdps(60):
        assert abs(result.value - mpmath.mpf(1) / 3) < 1e-45
    assert derivative(X**3, mpmath.mpf(2), "mpmath", wrt=X).value == 12


def test_mpmath_leaves_global_precision_alone() -> None:
    before = mpmath.mp.dps
    try:
        mpmath.mp.dps = 20
        result = derivative(sp.exp(X), 1.0, "mpmath", wrt=X, dps=80)
        assert mpmath.mp.dps == 20
        with mpmath.workdps(90):
            assert abs(result.value - mpmath.e) < mpmath.mpf(10) ** -75
    finally:
        mpmath.mp.dps = before


def test_mpmath_dps_controls_the_accuracy() -> None:
    ref = exact("sigmoid", 0.7)
    low = derivative(sigmoid(X), 0.7, "mpmath", wrt=X, dps=20)
    high = derivative(sigmoid(X), 0.7, "mpmath", wrt=X, dps=50)
    assert abs_error(high.value, ref) < 1e-45
    assert 1e-45 < low.error_estimate <= 1e-17
    assert abs_error(low.value, ref) <= low.error_estimate


@pytest.mark.parametrize("x0", [1e-3, 1e-8])
def test_richardson_stays_inside_the_domain(x0: float) -> None:
    # the default first step 0.1 would cross the pole of log and the edge of sqrt
    for expr, d in ((sp.log(X), lambda t: 1 / t), (sp.sqrt(X), lambda t: 1 / (2 * mpmath.sqrt(t)))):
        result = derivative(expr, x0, wrt=X)
        with mpmath.workdps(40):
            ref = d(mpmath.mpf(x0))
        assert rel_error(result.value, ref) <= 1e-10


def test_richardson_shrinks_a_start_step_too_coarse_for_f() -> None:
    # h0 = 0.1 * 100 = 10 spans many periods of sin; h0 is reduced until the
    # quotients converge like h**2
    result = derivative(sp.sin(X), 100.0, wrt=X)
    assert rel_error(result.value, exact("sin", 100.0)) <= 1e-10
    assert result.step is not None and result.step < 1


def test_user_step_is_used() -> None:
    result = derivative(sp.sin(X), 1.0, "central", wrt=X, h=1e-3)
    assert result.step == pytest.approx(1e-3, rel=1e-12)
    # (sin(1+h) - sin(1-h)) / 2h = cos(1) sin(h)/h
    assert result.value == pytest.approx(math.cos(1.0) * math.sin(1e-3) / 1e-3, rel=1e-12)
    tiny = derivative(sp.sin(X), 1.0, "complex", wrt=X, h=1e-20)
    assert tiny.step == 1e-20
    assert rel_error(tiny.value, exact("sin", 1.0)) <= 1e-15


def test_nested_sigmoid_and_silu() -> None:
    silu = derivative(X * sigmoid(X), 1.5, "complex", wrt=X)
    with mpmath.workdps(60):
        s = _msig(mpmath.mpf(1.5))
        assert rel_error(silu.value, s + 1.5 * s * (1 - s)) <= 1e-14
        nested = derivative(sigmoid(sigmoid(X)), 0.3, "mpmath", wrt=X)
        inner = _msig(mpmath.mpf(0.3))
        outer = _msig(inner)
        assert abs(nested.value - outer * (1 - outer) * inner * (1 - inner)) < 1e-45


def test_constant_expression_has_zero_derivative() -> None:
    for method in METHODS:
        result = derivative(sp.Integer(3), 0.5, method, wrt=X)
        assert result.value == 0


def test_numeric_points_of_several_types() -> None:
    for x0 in (1, np.float64(1.0), mpmath.mpf(1), sp.Integer(1), sp.Float(1.0)):
        result = derivative(sp.exp(X), x0, "complex", wrt=X)
        assert rel_error(result.value, exact("exp", 1.0)) <= 1e-15


# ---------------------------------------------------------------------------
# Second derivatives


ORDER2 = [("exp", 0.7), ("exp", 3.0), ("sin", 0.7), ("sin", -2.5), ("tanh", 0.7),
          ("log", 0.7), ("log", 3.0), ("cube", 3.0), ("sigmoid", -2.5), ("sigmoid", 3.0)]


@pytest.mark.parametrize(("name", "x0"), ORDER2)
def test_second_derivatives(name: str, x0: float) -> None:
    expr = FUNCTIONS[name][0]
    ref = exact(name, x0, order=2)
    central = derivative(expr, x0, "central", wrt=X, order=2)
    assert rel_error(central.value, ref) <= 1e-5
    assert abs_error(central.value, ref) <= central.error_estimate
    richardson = derivative(expr, x0, "richardson", wrt=X, order=2)
    assert rel_error(richardson.value, ref) <= 1e-9
    assert abs_error(richardson.value, ref) <= richardson.error_estimate
    mp = derivative(FUNCTIONS[name][2], x0, "mpmath", order=2)
    assert abs_error(mp.value, ref) <= 1e-40 * max(1.0, float(abs(ref)))


def test_mpmath_higher_orders() -> None:
    result = derivative(sp.sin(X), 0.5, "mpmath", wrt=X, order=4)
    with mpmath.workdps(60):
        assert abs(result.value - mpmath.sin(mpmath.mpf(0.5))) < 1e-40


# ---------------------------------------------------------------------------
# Results


def test_results_are_frozen_and_readable() -> None:
    result = derivative(sp.sin(X), 1.0, "richardson", wrt=X)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = 0.0  # type: ignore[misc]
    text = repr(result)
    assert text.startswith("NumericDerivative(value=0.5403023058")
    assert "method='richardson'" in text and "evaluations=" in text
    mp = repr(derivative(sp.sin(X), 1.0, "mpmath", wrt=X))
    assert "mpf('0.5403023058681397174" in mp and len(mp) < 200


def test_compare_derivative_rows() -> None:
    expr = sp.tanh(X) + sigmoid(X) ** 2
    points = [0, 1e-3, 1.0, 30.0, sp.Rational(1, 3)]
    rows = compare_derivative(expr, X, points)
    assert [(r.point, r.method) for r in rows] == [
        (float(p), m) for p in points for m in ("richardson", "complex", "mpmath")
    ]
    for row in rows:
        assert isinstance(row, DerivativeComparison)
        with mpmath.workdps(60):
            s = _msig(mpmath.mpf(row.point))
            truth = 1 / mpmath.cosh(row.point) ** 2 + 2 * s * s * (1 - s)
            assert abs(row.exact - truth) < 1e-45
            assert row.abs_error == pytest.approx(float(abs(mpmath.mpf(row.value) - row.exact)))
        bound = {"richardson": 1e-10 * float(truth) + 1e-15,
                 "complex": 1e-14 * float(truth),
                 "mpmath": 1e-40}[row.method]
        assert row.abs_error <= bound, row
    assert compare_derivative(expr, X, points) == rows  # deterministic
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows[0].abs_error = 0.0  # type: ignore[misc]


def test_compare_derivative_measures_real_errors() -> None:
    rows = compare_derivative(sp.sin(X), X, [1.0], methods=("central",))
    assert len(rows) == 1
    assert 1e-13 < rows[0].abs_error < 1e-7
    assert rows[0].value == derivative(sp.sin(X), 1.0, "central", wrt=X).value


# ---------------------------------------------------------------------------
# Misuse


def test_unknown_method_lists_the_valid_ones() -> None:
    with pytest.raises(InputError) as info:
        derivative(sp.sin(X), 1.0, "forward", wrt=X)  # type: ignore[arg-type]
    for method in METHODS:
        assert repr(method) in str(info.value)
    with pytest.raises(InputError):
        compare_derivative(sp.sin(X), X, [1.0], methods=("richardson", "bogus"))  # type: ignore[arg-type]
    with pytest.raises(InputError):
        compare_derivative(sp.sin(X), X, [1.0], methods="mpmath")  # type: ignore[arg-type]


@pytest.mark.parametrize("x0", [math.inf, -math.inf, math.nan, mpmath.inf, sp.oo, sp.nan,
                                sp.zoo, sp.I, X, "1.0", None, True, 1e400 * 0])
def test_bad_points(x0: Any) -> None:
    with pytest.raises(InputError):
        derivative(sp.sin(X), x0, wrt=X)


@pytest.mark.parametrize("method", METHODS)
def test_f_not_finite_at_x0(method: str) -> None:
    with pytest.raises(InputError, match="x0=0.0"):
        derivative(sp.log(X), 0.0, method, wrt=X)
    with pytest.raises(InputError, match="ZeroDivisionError"):
        derivative(lambda t: 1 / t, 0.0, method)


def test_f_outside_its_real_domain() -> None:
    with pytest.raises(InputError):
        derivative(sp.log(X), -1.0, wrt=X)
    with pytest.raises(InputError, match="not real"):
        derivative(cmath.sqrt, -1.0, "central")
    with pytest.raises(InputError, match="scalar"):
        derivative(lambda t: np.array([t, t]), 1.0)
    with pytest.raises(InputError, match="real number"):
        derivative(lambda t: "one", 1.0)


def test_expression_needs_its_one_variable() -> None:
    with pytest.raises(InputError, match="wrt"):
        derivative(sp.sin(X), 1.0)
    with pytest.raises(InputError, match="y"):
        derivative(sp.sin(X) * Y, 1.0, wrt=X)
    with pytest.raises(InputError):
        derivative(sp.sin(X), 1.0, wrt="x")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        derivative(np.sin, 1.0, wrt=X)
    with pytest.raises(InputError):
        derivative(42, 1.0)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        compare_derivative(sp.sin(X) * Y, X, [1.0])
    with pytest.raises(UnsupportedError, match="g"):
        derivative(sp.Function("g")(X), 1.0, wrt=X)


@pytest.mark.parametrize("f", [abs, math.exp, np.abs, lambda t: max(t, 0.0), lambda t: float(t)])
def test_complex_step_refuses_real_only_functions(f: Callable[[Any], Any]) -> None:
    with pytest.raises(UnsupportedError, match="complex step needs a function that accepts complex"):
        derivative(f, 1.0, "complex")


def test_complex_step_refuses_a_silent_cast_to_real() -> None:
    # lambdify prints erf as math.erf, which NumPy complex scalars reach through
    # a cast to float that drops the imaginary part
    gelu = X * (1 + sp.erf(X / sp.sqrt(2))) / 2
    with pytest.raises(UnsupportedError):
        derivative(gelu, 1.0, "complex", wrt=X)
    assert derivative(gelu, 1.0, "richardson", wrt=X).value == pytest.approx(1.0833154705876864,
                                                                          rel=1e-10)


def test_unsupported_orders() -> None:
    with pytest.raises(UnsupportedError):
        derivative(sp.sin(X), 1.0, "complex", wrt=X, order=2)
    for method in ("central", "richardson"):
        with pytest.raises(UnsupportedError):
            derivative(sp.sin(X), 1.0, method, wrt=X, order=3)
    for order in (0, -1, 1.0, True):
        with pytest.raises(InputError):
            derivative(sp.sin(X), 1.0, wrt=X, order=order)  # type: ignore[arg-type]


@pytest.mark.parametrize("h", [0.0, -1e-3, math.inf, math.nan, "0.1", True])
def test_bad_steps(h: Any) -> None:
    with pytest.raises(InputError):
        derivative(sp.sin(X), 1.0, "central", wrt=X, h=h)


def test_mpmath_misuse() -> None:
    with pytest.raises(InputError, match="h is not used"):
        derivative(sp.sin(X), 1.0, "mpmath", wrt=X, h=1e-10)
    with pytest.raises(InputError):
        derivative(sp.sin(X), 1.0, "mpmath", wrt=X, dps=0)
    with pytest.raises(UnsupportedError, match="float"):
        derivative(math.sin, 1.0, "mpmath")
    with pytest.raises(UnsupportedError, match="accepts mpmath numbers"):
        derivative(np.sin, 1.0, "mpmath")


def test_result_types() -> None:
    result = derivative(sp.sin(X), 1.0, "central", wrt=X)
    assert isinstance(result, NumericDerivative)
    assert type(result.value) is float and type(result.error_estimate) is float
    assert isinstance(result.step, float) and isinstance(result.evaluations, int)
