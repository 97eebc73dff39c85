r"""Numerical derivatives of a scalar function of one real variable.

symgrad uses these to cross-check every symbolic derivative it claims.
:func:`derivative` offers four methods:

``"central"``
    :math:`D(h) = (f(x+h) - f(x-h)) / 2h` with
    :math:`h = \epsilon^{1/3} \max(1, |x|)`; about 10 correct digits.
``"richardson"`` (default)
    central differences at :math:`h, h/2, h/4, \dots` extrapolated to
    :math:`h \to 0` in a Neville tableau; 12 to 15 correct digits.
``"complex"``
    the complex-step derivative :math:`\operatorname{Im} f(x + ih) / h` with a
    tiny :math:`h`; exact to rounding for real-analytic ``f`` written with
    complex-capable operations.
``"mpmath"``
    :func:`mpmath.diff` at ``dps`` significant digits (default 50).

``order=2`` gives second derivatives (all methods but ``"complex"``).
:func:`compare_derivative` sets the methods against the exact derivative
:func:`sympy.diff` of a SymPy expression, for the tables of the catalog.

``f`` is a Python callable or a SymPy expression with ``wrt=<Symbol>``; an
expression is turned into a function with :func:`sympy.lambdify` (NumPy for
the floating-point methods, mpmath for ``"mpmath"``), never from a string.

This module checks the input and reports; the quotients are computed by the
finite-difference engine, :mod:`symgrad.numerics.differences`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Sequence, Union

import mpmath
import numpy as np
import sympy as sp

from ..core.errors import InputError, UnsupportedError
from . import differences

__all__ = [
    "METHODS",
    "NumericDerivative",
    "DerivativeComparison",
    "derivative",
    "compare_derivative",
]

Method = Literal["central", "richardson", "complex", "mpmath"]
RealLike = Union[int, float, mpmath.mpf, sp.Expr]
Function = Union[Callable[[Any], Any], sp.Expr]

#: The valid values of ``method``, in the order of increasing accuracy.
METHODS: tuple[str, ...] = ("central", "richardson", "complex", "mpmath")


# ---------------------------------------------------------------------------
# Results


def _format_value(value: float | mpmath.mpf) -> str:
    if isinstance(value, mpmath.mpf):
        return f"mpf('{mpmath.nstr(value, 20)}')"
    return repr(value)


@dataclass(frozen=True)
class NumericDerivative:
    """A numerical derivative with its error estimate.

    ``value`` is a float, or an :class:`mpmath.mpf` for method ``"mpmath"``;
    ``error_estimate`` estimates ``|value - exact|``; ``step`` is the step the
    value was computed with (``None`` for ``"mpmath"``, whose steps are below
    float resolution); ``evaluations`` counts the calls of ``f``, the check of
    ``f(x0)`` included.
    """

    value: float | mpmath.mpf
    error_estimate: float
    method: str
    step: float | None
    evaluations: int

    def __repr__(self) -> str:
        return (
            f"NumericDerivative(value={_format_value(self.value)}, "
            f"error_estimate={self.error_estimate:.3g}, method={self.method!r}, "
            f"step={self.step!r}, evaluations={self.evaluations})"
        )


@dataclass(frozen=True)
class DerivativeComparison:
    """One row of :func:`compare_derivative`: a method against the exact value.

    ``exact`` is the symbolic derivative evaluated at ``point`` to ``dps``
    digits; ``abs_error`` is ``|value - exact|``.
    """

    point: float
    exact: mpmath.mpf
    method: str
    value: float | mpmath.mpf
    abs_error: float

    def __repr__(self) -> str:
        return (
            f"DerivativeComparison(point={self.point!r}, exact={_format_value(self.exact)}, "
            f"method={self.method!r}, value={_format_value(self.value)}, "
            f"abs_error={self.abs_error:.3g})"
        )


# ---------------------------------------------------------------------------
# Checking the input


def _check_method(method: object) -> Method:
    if not isinstance(method, str) or method not in METHODS:
        valid = ", ".join(repr(m) for m in METHODS)
        raise InputError(f"unknown derivative method {method!r}; valid methods: {valid}")
    return method  # type: ignore[return-value]  # checked against METHODS above


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


def _check_order(order: object, method: str) -> int:
    order = _check_int(order, "order", 1)
    if method == "complex" and order != 1:
        raise UnsupportedError(
            f"method 'complex' computes first derivatives only, got order={order}; "
            "use 'richardson' or 'mpmath' for higher orders"
        )
    if method in ("central", "richardson") and order > 2:
        raise UnsupportedError(
            f"method {method!r} supports order 1 and 2, got order={order}; use 'mpmath'"
        )
    return order


def _check_step(h: object, method: str) -> float | None:
    if h is None:
        return None
    if method == "mpmath":
        raise InputError("h is not used by method 'mpmath', which chooses its step from dps")
    if isinstance(h, bool) or not isinstance(h, (numbers.Real, mpmath.mpf)):
        raise InputError(f"h must be a positive real number, got {h!r}")
    step = float(h)
    if not (math.isfinite(step) and step > 0):
        raise InputError(f"h must be a positive finite number, got {h!r}")
    return step


@dataclass(frozen=True)
class _Point:
    """A checked evaluation point: its float and what to make an mpf from."""

    value: float
    source: float | mpmath.mpf | sp.Expr

    def mpf(self) -> mpmath.mpf:
        """The point at the current mpmath precision."""
        if isinstance(self.source, sp.Expr):
            return mpmath.mpf(sp.Float(sp.N(self.source, mpmath.mp.dps + 5), mpmath.mp.dps + 5))
        return mpmath.mpf(self.source)


def _check_point(x0: object, name: str = "x0") -> _Point:
    if isinstance(x0, (bool, np.bool_)):
        raise InputError(f"{name} must be a real number, got {x0!r}")
    source: float | mpmath.mpf | sp.Expr
    if isinstance(x0, mpmath.mpf):
        if not mpmath.isfinite(x0):
            raise InputError(f"{name} must be finite, got {x0!r}")
        source = x0
        value = float(x0)
    elif isinstance(x0, sp.Basic):  # before numbers.Real, which SymPy numbers register with
        if not isinstance(x0, sp.Expr) or not x0.is_number:
            raise InputError(f"{name} must be a number, got the expression {x0}")
        if x0.is_extended_real is False or x0.is_finite is False:
            raise InputError(f"{name} must be a finite real number, got {x0}")
        approx = sp.N(x0, 30)
        if not approx.is_Number:
            raise InputError(f"{name} must be a finite real number, got {x0}")
        value = float(approx)
        source = x0
    elif isinstance(x0, numbers.Real):
        try:
            value = float(x0)
        except OverflowError:
            raise InputError(f"{name} is too large for a float: {x0!r}") from None
        source = value
    else:
        raise InputError(f"{name} must be a real number, got {type(x0).__name__} {x0!r}")
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite, got {x0!r}")
    return _Point(value, source)


def _check_expr(expr: sp.Expr, wrt: object) -> sp.Expr:
    """Check ``expr`` is a function of ``wrt`` alone; rewrite ``sigmoid`` to ``exp``."""
    if not isinstance(expr, sp.Expr):
        raise InputError(f"f must be a callable or a SymPy expression, got {type(expr).__name__}")
    if wrt is None:
        raise InputError(f"a SymPy expression needs wrt=<Symbol>: which variable of {expr}?")
    if not isinstance(wrt, sp.Symbol):
        raise InputError(f"wrt must be a SymPy Symbol, got {type(wrt).__name__} {wrt!r}")
    others = expr.free_symbols - {wrt}
    if others:
        names = ", ".join(sorted(str(s) for s in others))
        raise InputError(f"{expr} has free symbols other than {wrt}: {names}")
    undefined = expr.atoms(sp.core.function.AppliedUndef)
    if undefined:
        names = ", ".join(sorted(str(u) for u in undefined))
        raise UnsupportedError(f"cannot evaluate the undefined function(s) {names} numerically")

    from ..core.functions import sigmoid  # lazy: keep this module light to import

    if expr.has(sigmoid):
        t = sp.Dummy("t")
        as_exp = sigmoid(t).rewrite(sp.exp)
        expr = expr.replace(sigmoid, lambda arg: as_exp.xreplace({t: arg}))
    return expr


class _Counted:
    """Wrap ``fn``, counting its calls."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.calls = 0

    def __call__(self, x: Any) -> Any:
        self.calls += 1
        return self.fn(x)


class _Source:
    """The function to differentiate, lambdified once per backend."""

    def __init__(self, f: Function, wrt: object) -> None:
        if isinstance(f, sp.Basic):
            self.expr: sp.Expr | None = _check_expr(f, wrt)  # type: ignore[arg-type]
            self.wrt: sp.Symbol | None = wrt  # type: ignore[assignment]
            self.callable: Callable[[Any], Any] | None = None
        else:
            if wrt is not None:
                raise InputError("wrt= is for SymPy expressions; f is a callable")
            if not callable(f):
                raise InputError(
                    f"f must be a callable or a SymPy expression, got {type(f).__name__} {f!r}"
                )
            self.expr, self.wrt, self.callable = None, None, f
        self._cache: dict[str, Callable[[Any], Any]] = {}

    def function(self, backend: str) -> Callable[[Any], Any]:
        """``f`` as a callable; ``backend`` is ``"numpy"`` or ``"mpmath"``."""
        if self.callable is not None:
            return self.callable
        if backend not in self._cache:
            assert self.expr is not None and self.wrt is not None
            fn = sp.lambdify([self.wrt], self.expr, modules=backend, dummify=True)
            if self.wrt not in self.expr.free_symbols:
                constant = fn

                def fn(x: Any) -> Any:  # keep the type of x: complex, mpf
                    return constant(x) + 0 * x

            self._cache[backend] = fn
        return self._cache[backend]


def _derivative(
    source: _Source, point: _Point, method: str, h: float | None, dps: int, order: int
) -> NumericDerivative:
    """Dispatch to a method of :mod:`symgrad.numerics.differences`, with checked arguments."""
    if method == "mpmath":
        fn = _Counted(source.function("mpmath"))
        mp_value, error = differences.mpmath_derivative(fn, point.mpf, point.value, order, dps)
        return NumericDerivative(mp_value, error, method, None, fn.calls)
    fn = _Counted(source.function("numpy"))
    x0 = point.value
    with np.errstate(all="ignore"):
        f0 = differences.value_at(fn, x0)
        if method == "central":
            value, error, step = differences.central(fn, x0, f0, order, h)
        elif method == "richardson":
            value, error, step = differences.richardson(fn, x0, f0, order, h)
        else:
            value, error, step = differences.complex_step(fn, x0, h)
    if not math.isfinite(value):
        raise InputError(f"the {method} derivative at x0={x0!r} is not finite: {value!r}")
    return NumericDerivative(float(value), float(error), method, float(step), fn.calls)


# ---------------------------------------------------------------------------
# Public API


def derivative(
    f: Function,
    x0: RealLike,
    method: Method = "richardson",
    *,
    h: float | None = None,
    dps: int = 50,
    order: int = 1,
    wrt: sp.Symbol | None = None,
) -> NumericDerivative:
    r"""The ``order``-th derivative of ``f`` at ``x0``, computed numerically.

    ``f`` is a callable of one real number, or a SymPy expression in the
    symbol ``wrt`` (``sigmoid`` is rewritten to ``1/(1 + exp(-x))``, then the
    expression is lambdified). ``method`` is one of :data:`METHODS`:

    * ``"central"``: :math:`D(h) = (f(x+h) - f(x-h))/2h`, or
      :math:`(f(x+h) - 2f(x) + f(x-h))/h^2` for ``order=2``, with
      :math:`h = \epsilon^{1/(2+n)} \max(1, |x|)` unless given; error estimate
      :math:`\tfrac43 |D(h) - D(h/2)|` (truncation) plus the rounding bound
      :math:`2\epsilon \max|f| / h` (order 2: :math:`8\epsilon \max|f|/h^2`).
    * ``"richardson"``: the same quotients at :math:`h_0, h_0/2, h_0/4, \dots`,
      :math:`h_0 = 0.1\max(1,|x|)` (or ``h``; divided by 16 until the quotients
      converge like :math:`h^2`), extrapolated to :math:`h \to 0` in a Neville
      tableau that eliminates :math:`h^2, h^4, \dots`; error estimate: 4 times
      the difference of successive tableau entries, at least the rounding
      level. Where ``f`` varies on scales far below :math:`0.1|x|` (``sin`` at
      ``x = 1e5``) pass a suitable ``h``.
    * ``"complex"``: :math:`\operatorname{Im} f(x + ih)/h` with
      :math:`h = 10^{-100}\min(1,|x|)` (at least :math:`10^{-290}`;
      :math:`10^{-200}` at 0); ``f`` must accept complex input; error estimate
      :math:`8\epsilon|f'|` plus :math:`|D(h) - D(2h)|/3`. First derivatives only.
    * ``"mpmath"``: :func:`mpmath.diff` at ``dps`` digits with step
      :math:`2^{-p-10}\min(1,|x|)` (:math:`p` the precision in bits) and extra
      working precision; the global mpmath precision is left unchanged;
      ``value`` is an :class:`mpmath.mpf`; error estimate: twice the difference
      from a rerun at more digits plus :math:`10^{-\mathrm{dps}}\max(1,|f^{(n)}|)`.
      ``f`` must compute in mpmath (a float result is refused).

    Error estimates are estimates, not bounds: a function that loses digits
    inside (cancellation, as in ``log(1 + exp(x))`` at large ``-x``) can exceed
    them for the floating-point methods.

    Raises :class:`~symgrad.errors.InputError` on malformed input (unknown
    method, non-finite ``x0``, ``f`` not finite at ``x0``, an expression
    without ``wrt`` or with other free symbols) and
    :class:`~symgrad.errors.UnsupportedError` for what a method cannot do
    (complex input, orders above what it supports, undefined functions).
    """
    method = _check_method(method)
    order = _check_order(order, method)
    dps = _check_int(dps, "dps", 5)
    step = _check_step(h, method)
    point = _check_point(x0)
    source = _Source(f, wrt)
    return _derivative(source, point, method, step, dps, order)


def _exact_derivative(dexpr: sp.Expr, wrt: sp.Symbol, point: float, dps: int) -> mpmath.mpf:
    """``dexpr`` at the float ``point`` (as an exact rational), to ``dps`` digits."""
    value = dexpr.evalf(dps, subs={wrt: sp.Rational(point)})
    if not (value.is_Number and value.is_finite and value.is_extended_real):
        raise InputError(
            f"the derivative {dexpr} is not a finite real number at {point!r}: {value}"
        )
    with mpmath.workdps(dps):
        return mpmath.mpf(sp.Float(value, dps))


def compare_derivative(
    expr: sp.Expr,
    wrt: sp.Symbol,
    points: Iterable[RealLike],
    methods: Sequence[Method] = ("richardson", "complex", "mpmath"),
    *,
    dps: int = 50,
) -> list[DerivativeComparison]:
    """Each method against the exact derivative ``sympy.diff(expr, wrt)``.

    Each point is first rounded to a float; the exact derivative (evaluated
    with :meth:`sympy.Expr.evalf` at ``dps`` digits) and every method use that
    same number. One row per point and method, in the order given.
    """
    checked = _check_expr(expr, wrt)  # validates expr and wrt
    if isinstance(methods, str):
        raise InputError(f"methods must be a sequence of method names, got the string {methods!r}")
    names = tuple(_check_method(m) for m in methods)
    dps = _check_int(dps, "dps", 5)
    if isinstance(points, (str, bytes)) or not isinstance(points, Iterable):
        raise InputError(f"points must be an iterable of real numbers, got {points!r}")
    floats = [_check_point(p, "point").value for p in points]
    dexpr = sp.diff(expr, wrt)
    source = _Source(checked, wrt)
    rows: list[DerivativeComparison] = []
    for x in floats:
        exact = _exact_derivative(dexpr, wrt, x, dps)
        point = _Point(x, x)
        for name in names:
            result = _derivative(source, point, name, None, dps, 1)
            with mpmath.workdps(dps + 10):
                abs_error = float(abs(mpmath.mpf(result.value) - exact))
            rows.append(DerivativeComparison(x, exact, name, result.value, abs_error))
    return rows
