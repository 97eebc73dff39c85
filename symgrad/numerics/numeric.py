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
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Sequence, Union

import mpmath
import numpy as np
import sympy as sp

from ..core.errors import InputError, UnsupportedError

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

_EPS = sys.float_info.epsilon
_TINY = sys.float_info.min
_ComplexWarning: type[Warning] = getattr(
    getattr(np, "exceptions", np), "ComplexWarning", getattr(np, "ComplexWarning", Warning)
)
#: Rows of the Richardson tableau at most (steps h0 ... h0 / 2**(_MAX_ROWS-1)).
_MAX_ROWS = 20
#: The tableau stops once its diagonal moves by more than _SAFE times the error.
_SAFE = 2.0
#: The stopping rule of the tableau applies from this row on.
_MIN_ROWS = 3
#: The tableau's error estimate is multiplied by this (it is an estimate, not a bound).
_SAFETY = 4.0
#: h0 is divided by 16 at most this many times to reach the asymptotic regime.
_PROBES = 12
#: Each restart of a tableau whose steps leave the domain of f divides h0 by this.
_SHRINK = 8.0


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


class _OutOfDomain(Exception):
    """f raised or was not finite (or not real) at a point: shrink the step."""

    step: float = math.inf  # the step whose stencil left the domain, when known


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


# ---------------------------------------------------------------------------
# Evaluating f


def _unwrap(y: Any) -> Any:
    if isinstance(y, np.ndarray):
        if y.shape != ():
            raise InputError(f"f must return a scalar, got an array of shape {y.shape}")
        return y[()]
    return y


def _real(fn: Callable[[Any], Any], x: float) -> float:
    """``f(x)`` as a finite float; :class:`_OutOfDomain` when it is not one."""
    try:
        y = _unwrap(fn(x))
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:
        raise _OutOfDomain(f"f({x!r}) raised {type(exc).__name__}: {exc}") from exc
    if isinstance(y, (bool, np.bool_)):
        raise InputError(f"f must return a real number, got {y!r} at x={x!r}")
    if isinstance(y, (complex, np.complexfloating, mpmath.mpc)):
        c = complex(y)
        if c.imag != 0:
            raise _OutOfDomain(f"f({x!r}) = {c!r} is not real")
        v = c.real
    elif isinstance(y, (numbers.Real, mpmath.mpf)):
        v = float(y)
    elif isinstance(y, sp.Expr) and y.is_number:
        c = complex(y)
        if c.imag != 0:
            raise _OutOfDomain(f"f({x!r}) = {y} is not real")
        v = c.real
    else:
        raise InputError(f"f must return a real number, got {type(y).__name__} {y!r} at x={x!r}")
    if not math.isfinite(v):
        raise _OutOfDomain(f"f({x!r}) = {v!r} is not finite")
    return v


def _value_at_x0(fn: Callable[[Any], Any], x0: float) -> float:
    try:
        return _real(fn, x0)
    except _OutOfDomain as exc:
        raise InputError(f"f cannot be evaluated at x0={x0!r}: {exc}") from exc.__cause__


def _stencil(x0: float, h: float) -> tuple[float, float, float]:
    """``(x0 - he, x0 + he, he)``: float points exactly symmetric about ``x0``.

    Step away from zero first, so that ``he`` (close to ``h``) and the mirrored
    point are exact floats.
    """
    if x0 >= 0:
        xp = x0 + h
        he = xp - x0
        xm = x0 - he
    else:
        xm = x0 - h
        he = x0 - xm
        xp = x0 + he
    if not he > 0:
        raise InputError(f"the step h={h!r} is below the resolution of floats at x0={x0!r}")
    return xm, xp, he


def _difference(
    fn: Callable[[Any], Any], x0: float, f0: float, h: float, order: int
) -> tuple[float, float, float]:
    """Central difference quotient at step ~h: ``(D, he, max|f|)``.

    Order 1: ``(f(x+h) - f(x-h)) / 2h``; order 2: ``(f(x+h) - 2 f(x) + f(x-h)) / h**2``.
    """
    xm, xp, he = _stencil(x0, h)
    try:
        fm = _real(fn, xm)
        fp = _real(fn, xp)
    except _OutOfDomain as exc:
        exc.step = he
        raise
    if order == 1:
        d = (fp - fm) / (2 * he)
    else:
        d = ((fp - f0) + (fm - f0)) / (he * he)
    return d, he, max(abs(fm), abs(f0), abs(fp))


def _min_step(x0: float) -> float:
    """The smallest step worth trying when stencils leave the domain of f."""
    return 1e3 * _EPS * abs(x0) if x0 != 0 else 1e-100


def _rounding(fmax: float, he: float, order: int) -> float:
    """Bound on the rounding error of a difference quotient (f good to ~eps)."""
    if order == 1:
        return 2 * _EPS * fmax / he
    return 8 * _EPS * fmax / (he * he)


# ---------------------------------------------------------------------------
# The methods


def _central(
    fn: Callable[[Any], Any], x0: float, f0: float, order: int, h: float | None
) -> tuple[float, float, float]:
    """``D(h)``, with error ``(4/3)|D(h) - D(h/2)|`` (truncation) + rounding bound."""
    scale = max(1.0, abs(x0))
    step = h if h is not None else _EPS ** (1.0 / (2 + order)) * scale
    while True:
        try:
            d, he, fmax = _difference(fn, x0, f0, step, order)
            d_half, _, fmax_half = _difference(fn, x0, f0, he / 2, order)
            break
        except _OutOfDomain as exc:
            if h is not None or step < _min_step(x0):
                raise InputError(
                    f"f cannot be evaluated near x0={x0!r} with step {step!r}: {exc}"
                ) from exc.__cause__
            step /= _SHRINK
    # D(h) - D(h/2) = (3/4) c h**2 for D(h) = f' + c h**2 + O(h**4)
    truncation = 4.0 / 3.0 * abs(d - d_half)
    error = truncation + _rounding(max(fmax, fmax_half), he, order) + _TINY
    return d, error, he


def _richardson(
    fn: Callable[[Any], Any], x0: float, f0: float, order: int, h: float | None
) -> tuple[float, float, float]:
    """Extrapolate ``D(h_i)``, ``h_i = h0 / 2**i``, to ``h -> 0`` (Neville, in ``h**2``).

    ``T[i][j] = T[i][j-1] + (T[i][j-1] - T[i-1][j-1]) / ((h_{i-j} / h_i)**2 - 1)``
    eliminates ``h**2, h**4, ...``; the error of ``T[i][j]`` is estimated as
    ``max(|T[i][j] - T[i][j-1]|, |T[i][j] - T[i-1][j-1]|)`` (times a safety
    factor) and the entry with the smallest estimate is returned.

    ``h0 = 0.1 max(1, |x0|)`` unless given. While the first four quotients are
    not in the asymptotic regime (:func:`_asymptotic`), ``h0`` is divided by
    16; while a stencil leaves the domain of ``f``, by 8.
    """
    h0 = h if h is not None else 0.1 * max(1.0, abs(x0))
    probes = 0
    while True:
        try:
            rows = [_difference(fn, x0, f0, h0 / 2**i, order) for i in range(4)]
            settled = h is not None or _asymptotic(rows, order)
            if not settled and probes < _PROBES and h0 / 16 >= _min_step(x0):
                probes += 1
                h0 /= 16
                continue
            value, error, step, fmax = _tableau(fn, x0, f0, order, h0, rows)
            break
        except _OutOfDomain as exc:
            # a stencil left the domain of f (or straddled a pole): start closer to x0
            h0 = min(h0, exc.step) / _SHRINK
            if h0 < _min_step(x0):
                raise InputError(f"f cannot be evaluated near x0={x0!r}: {exc}") from exc.__cause__
    if not settled:  # never looked asymptotic: the quotients' spread is the honest error
        quotients = [row[0] for row in rows]
        error = max(error, max(quotients) - min(quotients))
    # the differences can vanish by luck: never claim less than the rounding level
    error = max(_SAFETY * error, _rounding(fmax, step, order), 2 * _EPS * abs(value), _TINY)
    return value, error, step


def _asymptotic(rows: Sequence[tuple[float, float, float]], order: int) -> bool:
    """Do ``D(h), D(h/2), D(h/4), D(h/8)`` converge like ``c h**2`` (or ``c h**4``)?

    True when successive differences shrink by consistent factors between 2
    and 80 (4 for ``h**2``, 16 for ``h**4``), or are already at the rounding level.
    """
    d = [row[0] for row in rows]
    _, he, fmax = rows[-1]
    diffs = [d[k] - d[k + 1] for k in range(len(d) - 1)]
    if max(abs(x) for x in diffs) <= 16 * _rounding(fmax, he, order):
        return True  # already down to rounding: f is (nearly) polynomial here
    ratios = []
    for a, b in zip(diffs, diffs[1:]):
        if b == 0 or a / b < 0:
            return False
        ratios.append(a / b)
    return all(2.0 <= r <= 80.0 for r in ratios) and max(ratios) <= 2.5 * min(ratios)


def _tableau(
    fn: Callable[[Any], Any],
    x0: float,
    f0: float,
    order: int,
    h0: float,
    rows: Sequence[tuple[float, float, float]] = (),
) -> tuple[float, float, float, float]:
    """One Neville tableau from ``h0``: ``(value, error, step, max|f|)``.

    ``rows`` are quotients already computed at ``h0, h0/2, ...``.
    """
    steps: list[float] = []
    previous: list[float] = []
    best, error, best_step, best_fmax = math.nan, math.inf, h0, abs(f0)
    for i in range(_MAX_ROWS):
        if i < len(rows):
            d, he, fmax = rows[i]
        else:
            d, he, fmax = _difference(fn, x0, f0, h0 / 2**i, order)
        if i == 0:
            best, best_step, best_fmax = d, he, fmax
        steps.append(he)
        row = [d]
        for j in range(1, i + 1):
            ratio = (steps[i - j] / he) ** 2
            row.append(row[j - 1] + (row[j - 1] - previous[j - 1]) / (ratio - 1.0))
            estimate = max(abs(row[j] - row[j - 1]), abs(row[j] - previous[j - 1]))
            if estimate <= error:
                best, error, best_step, best_fmax = row[j], estimate, he, fmax
        # stop once the diagonal moves by more than SAFE times the error: rounding
        # has taken over (not in the first rows, where truncation still dominates)
        if i >= _MIN_ROWS and abs(row[i] - previous[i - 1]) >= _SAFE * error:
            break
        previous = row
    return best, error, best_step, best_fmax


def _complex_step(
    fn: Callable[[Any], Any], x0: float, h: float | None
) -> tuple[float, float, float]:
    """``Im f(x0 + ih) / h``, checked against the same at ``2h``.

    ``Im f(x+ih)/h = f'(x) - h**2 f'''(x)/6 + ...`` has no subtraction, so a
    tiny step leaves only rounding: ``h = 1e-100 min(1, |x0|)`` (at least
    ``1e-290``; ``1e-200`` at ``x0 = 0``). The truncation is estimated as
    ``|D(h) - D(2h)| / 3``, which flags a step too large for ``f``.
    """
    if h is not None:
        step = h
    elif x0 == 0:
        step = 1e-200
    else:
        step = max(1e-100 * min(1.0, abs(x0)), 1e-290)
    value = _imaginary_quotient(fn, x0, step)
    truncation = abs(value - _imaginary_quotient(fn, x0, 2 * step)) / 3
    error = truncation + 8 * _EPS * abs(value) + _TINY / step
    return value, error, step


def _imaginary_quotient(fn: Callable[[Any], Any], x0: float, step: float) -> float:
    """``Im f(x0 + i step) / step``; UnsupportedError unless f computes in complex."""
    z = complex(x0, step)
    try:
        with warnings.catch_warnings():
            # NumPy warns when it casts a complex to a real: the step is lost
            warnings.simplefilter("error", _ComplexWarning)
            y = _unwrap(fn(z))
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:
        raise UnsupportedError(
            f"complex step needs a function that accepts complex input: f{z!r} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(y, mpmath.mpc):
        y = complex(y)
    if not isinstance(y, (complex, np.complexfloating)):
        raise UnsupportedError(
            "complex step needs a function that accepts complex input: "
            f"f{z!r} returned {type(y).__name__} {y!r}, not a complex number "
            "(abs, max, comparisons and real-only functions drop the imaginary part)"
        )
    y = complex(y)
    if not (math.isfinite(y.real) and math.isfinite(y.imag)):
        raise InputError(f"f{z!r} = {y!r} is not finite")
    return y.imag / step


def _mpmath_real(y: Any) -> mpmath.mpf:
    """``f``'s value in the mpmath method, checked to carry full precision."""
    y = _unwrap(y)
    if isinstance(y, mpmath.mpc):
        if y.imag != 0:
            raise _OutOfDomain(f"f returned the non-real value {mpmath.nstr(y, 15)}")
        y = y.real
    elif isinstance(y, (float, np.floating)):
        raise UnsupportedError(
            "method 'mpmath' needs f to compute with mpmath numbers, but it returned the "
            f"float {y!r} (double precision only); pass a SymPy expression with wrt= "
            "or use mpmath functions"
        )
    elif isinstance(y, (int, np.integer)) and not isinstance(y, (bool, np.bool_)):
        y = mpmath.mpf(int(y))
    elif not isinstance(y, mpmath.mpf):
        raise InputError(f"f must return a real number, got {type(y).__name__} {y!r}")
    if not mpmath.isfinite(y):
        raise _OutOfDomain(f"f returned {mpmath.nstr(y, 15)}")
    return y


def _mpmath_step(x: mpmath.mpf) -> dict[str, Any]:
    """Options for :func:`mpmath.diff` at the current precision ``p`` (bits).

    Step ``h = 2**-(p+10) min(1, |x|)`` (mpmath's own is ``2**-(p+10)``, too
    coarse near a tiny ``x``), evaluated with ``10 + |log2 |x||`` extra bits so
    that ``x + h`` and ``f(x + h) - f(x - h)`` are resolved at any ``|x|``.
    """
    magnitude = int(mpmath.mag(x)) if x != 0 else 0
    h = mpmath.ldexp(1, -(mpmath.mp.prec + 10))
    if x != 0 and magnitude < 1:
        h *= abs(x)
    return {"h": h, "addprec": 10 + abs(magnitude)}


def _mpmath(
    fn: Callable[[Any], Any], point: _Point, order: int, dps: int
) -> tuple[mpmath.mpf, float]:
    """``mpmath.diff(f, x0, order)`` at ``dps`` and at ``dps + extra`` digits.

    Returns the second, rounded to ``dps`` digits, with twice the difference of
    the two (plus ``10**-dps max(1, |value|)``) as its error estimate.
    """

    def g(x: mpmath.mpf) -> mpmath.mpf:
        return _mpmath_real(fn(x))

    extra = max(10, dps // 2)
    try:
        with mpmath.workdps(dps):
            x = point.mpf()
            try:
                g(x)
            except _OutOfDomain as exc:
                raise InputError(f"f cannot be evaluated at x0={point.value!r}: {exc}") from None
            except (TypeError, AttributeError) as exc:
                raise UnsupportedError(
                    "method 'mpmath' needs a function that accepts mpmath numbers: "
                    f"f({x}) raised {type(exc).__name__}: {exc}"
                ) from exc
            rough = mpmath.diff(g, x, order, **_mpmath_step(x))
        with mpmath.workdps(dps + extra):
            x = point.mpf()
            better = mpmath.diff(g, x, order, **_mpmath_step(x))
            error = 2 * abs(rough - better) + mpmath.mpf(10) ** (-dps) * max(1, abs(better))
        with mpmath.workdps(dps):
            value = +better  # the more accurate run, rounded to dps digits
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:
        raise InputError(
            f"f cannot be evaluated near x0={point.value!r}: {type(exc).__name__}: {exc}"
        ) from exc
    return value, float(error)


def _derivative(
    source: _Source, point: _Point, method: str, h: float | None, dps: int, order: int
) -> NumericDerivative:
    """Dispatch to a method, with checked arguments."""
    if method == "mpmath":
        fn = _Counted(source.function("mpmath"))
        mp_value, error = _mpmath(fn, point, order, dps)
        return NumericDerivative(mp_value, error, method, None, fn.calls)
    fn = _Counted(source.function("numpy"))
    x0 = point.value
    with np.errstate(all="ignore"):
        f0 = _value_at_x0(fn, x0)
        if method == "central":
            value, error, step = _central(fn, x0, f0, order, h)
        elif method == "richardson":
            value, error, step = _richardson(fn, x0, f0, order, h)
        else:
            value, error, step = _complex_step(fn, x0, h)
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
