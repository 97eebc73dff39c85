r"""The finite-difference engine: every numerical derivative symgrad computes.

Two forms of the same quotients:

* the **scalar** form, ``f`` of one real ``x`` near ``x0``
  (:func:`central`, :func:`richardson`, :func:`complex_step`,
  :func:`mpmath_derivative`), used by :mod:`symgrad.numerics.numeric`;
* the **directional** form, :math:`\varphi(t) = f(x + t v)` near
  :math:`t = 0` (:func:`derivative_along`, :func:`remeasure`,
  :func:`central_along`, :func:`richardson_along`,
  :func:`complex_step_along`), used by the gradient checks and the catalog.

Both rest on the same primitives: the central quotient
:math:`D(h) = (f(x+h) - f(x-h)) / 2h`, the Richardson step that removes the
:math:`h^2` term of two quotients, the complex-step quotient
:math:`\operatorname{Im} f(x + ih)/h`, and step sizes chosen from the
:math:`\epsilon` of the dtype and the scale of the input.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Protocol, Sequence

import mpmath
import numpy as np
import sympy as sp

from ..core.errors import InputError, UnsupportedError

#: The machine epsilon of float64.
EPS = sys.float_info.epsilon
#: The smallest normal float64.
TINY = sys.float_info.min
_ComplexWarning: type[Warning] = getattr(
    getattr(np, "exceptions", np), "ComplexWarning", getattr(np, "ComplexWarning", Warning)
)

# Scalar form: the Neville tableau of :func:`richardson`.
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
_DOMAIN_SHRINK = 8.0

# Directional form: the three-level tableau of :func:`derivative_along`.
#: The rounding error of one value of phi is modelled as this many epsilons of
#: its largest value (the measured quantum usually rules).
_ROUNDING = 2.0
#: The first step of the directional tableau is this many eps**(1/5).
_STEP_FACTOR = 2.0
#: A tableau that does not settle is retried with its steps divided by this ...
_SHRINK = 4.0
#: ... at most this many times.
_MAX_SHRINKS = 6
#: Consecutive differences of a smooth f shrink by 4 (h**2) or 16 (h**4).
_RATIO_RANGE = (2.0, 40.0)
#: :func:`remeasure` runs this many more tableaux at steps h * (1 + j/32) ...
JITTERS = 4
#: ... and allows this many standard errors of the mean of the estimates
#: (two-sided Student t with 4 degrees of freedom beyond 30: 7e-6).
_T_FACTOR = 30.0


# ---------------------------------------------------------------------------
# Primitives: quotients, extrapolation, step sizes, rounding


def central_difference(plus: Any, minus: Any, h: float) -> Any:
    """``(plus - minus) / 2h``: the central quotient from ``f(x+h)`` and ``f(x-h)``.

    Computed in the type of the values (float, or ``numpy.longdouble``).
    """
    return (plus - minus) / (2 * h)


def second_difference(plus: float, centre: float, minus: float, h: float) -> float:
    """``((plus - centre) + (minus - centre)) / h**2``: the central quotient of ``f''``."""
    return ((plus - centre) + (minus - centre)) / (h * h)


def extrapolate(coarse: float, fine: float, ratio: float) -> float:
    """One Richardson step: ``fine + (fine - coarse) / (ratio - 1)``.

    For quotients ``D = f' + c h**2 + ...`` at steps whose squares differ by
    ``ratio`` (4 for ``h`` and ``h/2``) this removes the ``h**2`` term.
    """
    return fine + (fine - coarse) / (ratio - 1.0)


def central_step(eps: float, order: int = 1, scale: float = 1.0) -> float:
    """``eps**(1/(2+order)) * scale``: the step balancing truncation and rounding of one central quotient."""
    return eps ** (1.0 / (2 + order)) * scale


def extrapolation_step(eps: float) -> float:
    """``2 eps**(1/5)``: the first step of a tableau extrapolated once (error ``O(h**4)``), relative to the scale."""
    return _STEP_FACTOR * eps ** 0.2


def complex_step_size(x0: float) -> float:
    """``1e-100 min(1, |x0|)`` (at least ``1e-290``; ``1e-200`` at 0): a complex step below all truncation."""
    if x0 == 0:
        return 1e-200
    return max(1e-100 * min(1.0, abs(x0)), 1e-290)


def rounding(fmax: float, he: float, order: int) -> float:
    """Bound on the rounding error of a scalar difference quotient (f good to ~eps)."""
    if order == 1:
        return 2 * EPS * fmax / he
    return 8 * EPS * fmax / (he * he)


def rounding_level(eps: float, fmax: float, quantum: float) -> float:
    """The rounding noise of one value of phi: ``max(2 eps max|phi|, quantum)``."""
    return max(_ROUNDING * eps * fmax, quantum)


def difference_noise(level: float, h: float) -> float:
    """``1.5 level / h``: the rounding noise of a central quotient (or one Richardson step) at step ``h``."""
    return 1.5 * level / h


def quantum(value: float) -> float:
    """The spacing of the numbers ``value`` could have come from, read from its trailing zero bits.

    A sum that cancels (``1e10 - 1e10 + 1e3``) is exact but inherits the
    spacing of its large operands: its low mantissa bits are zero. For a
    value computed without cancellation this is about one ulp.
    """
    if value == 0 or not math.isfinite(value):
        return 0.0
    mantissa, exponent = math.frexp(value)
    bits = int(abs(mantissa) * 2.0 ** 53)
    trailing = (bits & -bits).bit_length() - 1
    return math.ldexp(1.0, exponent - 53 + trailing)


# ---------------------------------------------------------------------------
# Scalar form: evaluating f of one real number


class OutOfDomain(Exception):
    """f raised or was not finite (or not real) at a point: shrink the step."""

    step: float = math.inf  # the step whose stencil left the domain, when known


def unwrap(y: Any) -> Any:
    """A 0-d array as its scalar; InputError for any other array."""
    if isinstance(y, np.ndarray):
        if y.shape != ():
            raise InputError(f"f must return a scalar, got an array of shape {y.shape}")
        return y[()]
    return y


def real_value(fn: Callable[[Any], Any], x: float) -> float:
    """``f(x)`` as a finite float; :class:`OutOfDomain` when it is not one."""
    try:
        y = unwrap(fn(x))
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:
        raise OutOfDomain(f"f({x!r}) raised {type(exc).__name__}: {exc}") from exc
    if isinstance(y, (bool, np.bool_)):
        raise InputError(f"f must return a real number, got {y!r} at x={x!r}")
    if isinstance(y, (complex, np.complexfloating, mpmath.mpc)):
        c = complex(y)
        if c.imag != 0:
            raise OutOfDomain(f"f({x!r}) = {c!r} is not real")
        v = c.real
    elif isinstance(y, (numbers.Real, mpmath.mpf)):
        v = float(y)
    elif isinstance(y, sp.Expr) and y.is_number:
        c = complex(y)
        if c.imag != 0:
            raise OutOfDomain(f"f({x!r}) = {y} is not real")
        v = c.real
    else:
        raise InputError(f"f must return a real number, got {type(y).__name__} {y!r} at x={x!r}")
    if not math.isfinite(v):
        raise OutOfDomain(f"f({x!r}) = {v!r} is not finite")
    return v


def value_at(fn: Callable[[Any], Any], x0: float) -> float:
    """``f(x0)`` as a finite float; InputError when f cannot be evaluated there."""
    try:
        return real_value(fn, x0)
    except OutOfDomain as exc:
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


def _scalar_difference(
    fn: Callable[[Any], Any], x0: float, f0: float, h: float, order: int
) -> tuple[float, float, float]:
    """Central difference quotient at step ~h: ``(D, he, max|f|)``.

    Order 1: ``(f(x+h) - f(x-h)) / 2h``; order 2: ``(f(x+h) - 2 f(x) + f(x-h)) / h**2``.
    """
    xm, xp, he = _stencil(x0, h)
    try:
        fm = real_value(fn, xm)
        fp = real_value(fn, xp)
    except OutOfDomain as exc:
        exc.step = he
        raise
    if order == 1:
        d = central_difference(fp, fm, he)
    else:
        d = second_difference(fp, f0, fm, he)
    return d, he, max(abs(fm), abs(f0), abs(fp))


def _min_step(x0: float) -> float:
    """The smallest step worth trying when stencils leave the domain of f."""
    return 1e3 * EPS * abs(x0) if x0 != 0 else 1e-100


# ---------------------------------------------------------------------------
# Scalar form: the methods


def central(
    fn: Callable[[Any], Any], x0: float, f0: float, order: int, h: float | None
) -> tuple[float, float, float]:
    """``(D(h), error, step)``; error ``(4/3)|D(h) - D(h/2)|`` (truncation) + rounding bound.

    ``h = eps**(1/(2+order)) max(1, |x0|)`` unless given; divided by 8 while a
    stencil leaves the domain of ``f``.
    """
    step = h if h is not None else central_step(EPS, order, max(1.0, abs(x0)))
    while True:
        try:
            d, he, fmax = _scalar_difference(fn, x0, f0, step, order)
            d_half, _, fmax_half = _scalar_difference(fn, x0, f0, he / 2, order)
            break
        except OutOfDomain as exc:
            if h is not None or step < _min_step(x0):
                raise InputError(
                    f"f cannot be evaluated near x0={x0!r} with step {step!r}: {exc}"
                ) from exc.__cause__
            step /= _DOMAIN_SHRINK
    # D(h) - D(h/2) = (3/4) c h**2 for D(h) = f' + c h**2 + O(h**4)
    truncation = 4.0 / 3.0 * abs(d - d_half)
    error = truncation + rounding(max(fmax, fmax_half), he, order) + TINY
    return d, error, he


def richardson(
    fn: Callable[[Any], Any], x0: float, f0: float, order: int, h: float | None
) -> tuple[float, float, float]:
    """Extrapolate ``D(h_i)``, ``h_i = h0 / 2**i``, to ``h -> 0`` (Neville, in ``h**2``): ``(value, error, step)``.

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
            rows = [_scalar_difference(fn, x0, f0, h0 / 2**i, order) for i in range(4)]
            settled = h is not None or _asymptotic(rows, order)
            if not settled and probes < _PROBES and h0 / 16 >= _min_step(x0):
                probes += 1
                h0 /= 16
                continue
            value, error, step, fmax = _neville(fn, x0, f0, order, h0, rows)
            break
        except OutOfDomain as exc:
            # a stencil left the domain of f (or straddled a pole): start closer to x0
            h0 = min(h0, exc.step) / _DOMAIN_SHRINK
            if h0 < _min_step(x0):
                raise InputError(f"f cannot be evaluated near x0={x0!r}: {exc}") from exc.__cause__
    if not settled:  # never looked asymptotic: the quotients' spread is the honest error
        quotients = [row[0] for row in rows]
        error = max(error, max(quotients) - min(quotients))
    # the differences can vanish by luck: never claim less than the rounding level
    error = max(_SAFETY * error, rounding(fmax, step, order), 2 * EPS * abs(value), TINY)
    return value, error, step


def _asymptotic(rows: Sequence[tuple[float, float, float]], order: int) -> bool:
    """Do ``D(h), D(h/2), D(h/4), D(h/8)`` converge like ``c h**2`` (or ``c h**4``)?

    True when successive differences shrink by consistent factors between 2
    and 80 (4 for ``h**2``, 16 for ``h**4``), or are already at the rounding level.
    """
    d = [row[0] for row in rows]
    _, he, fmax = rows[-1]
    diffs = [d[k] - d[k + 1] for k in range(len(d) - 1)]
    if max(abs(x) for x in diffs) <= 16 * rounding(fmax, he, order):
        return True  # already down to rounding: f is (nearly) polynomial here
    ratios = []
    for a, b in zip(diffs, diffs[1:]):
        if b == 0 or a / b < 0:
            return False
        ratios.append(a / b)
    return all(2.0 <= r <= 80.0 for r in ratios) and max(ratios) <= 2.5 * min(ratios)


def _neville(
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
            d, he, fmax = _scalar_difference(fn, x0, f0, h0 / 2**i, order)
        if i == 0:
            best, best_step, best_fmax = d, he, fmax
        steps.append(he)
        row = [d]
        for j in range(1, i + 1):
            row.append(extrapolate(previous[j - 1], row[j - 1], (steps[i - j] / he) ** 2))
            estimate = max(abs(row[j] - row[j - 1]), abs(row[j] - previous[j - 1]))
            if estimate <= error:
                best, error, best_step, best_fmax = row[j], estimate, he, fmax
        # stop once the diagonal moves by more than SAFE times the error: rounding
        # has taken over (not in the first rows, where truncation still dominates)
        if i >= _MIN_ROWS and abs(row[i] - previous[i - 1]) >= _SAFE * error:
            break
        previous = row
    return best, error, best_step, best_fmax


def complex_step(
    fn: Callable[[Any], Any], x0: float, h: float | None
) -> tuple[float, float, float]:
    """``Im f(x0 + ih) / h``, checked against the same at ``2h``: ``(value, error, step)``.

    ``Im f(x+ih)/h = f'(x) - h**2 f'''(x)/6 + ...`` has no subtraction, so a
    tiny step leaves only rounding (:func:`complex_step_size` unless given).
    The truncation is estimated as ``|D(h) - D(2h)| / 3``, which flags a step
    too large for ``f``.
    """
    step = h if h is not None else complex_step_size(x0)
    value = imaginary_quotient(fn, x0, step)
    truncation = abs(value - imaginary_quotient(fn, x0, 2 * step)) / 3
    error = truncation + 8 * EPS * abs(value) + TINY / step
    return value, error, step


def imaginary_quotient(fn: Callable[[Any], Any], x0: float, step: float) -> float:
    """``Im f(x0 + i step) / step``; UnsupportedError unless f computes in complex."""
    z = complex(x0, step)
    try:
        with warnings.catch_warnings():
            # NumPy warns when it casts a complex to a real: the step is lost
            warnings.simplefilter("error", _ComplexWarning)
            y = unwrap(fn(z))
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
    y = unwrap(y)
    if isinstance(y, mpmath.mpc):
        if y.imag != 0:
            raise OutOfDomain(f"f returned the non-real value {mpmath.nstr(y, 15)}")
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
        raise OutOfDomain(f"f returned {mpmath.nstr(y, 15)}")
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


def mpmath_derivative(
    fn: Callable[[Any], Any], point: Callable[[], mpmath.mpf], x0: float, order: int, dps: int
) -> tuple[mpmath.mpf, float]:
    """``mpmath.diff(f, x0, order)`` at ``dps`` and at ``dps + extra`` digits: ``(value, error)``.

    ``point()`` gives ``x0`` at the current mpmath precision (``x0`` the float,
    for messages). Returns the second run, rounded to ``dps`` digits, with
    twice the difference of the two (plus ``10**-dps max(1, |value|)``) as
    its error estimate.
    """

    def g(x: mpmath.mpf) -> mpmath.mpf:
        return _mpmath_real(fn(x))

    extra = max(10, dps // 2)
    try:
        with mpmath.workdps(dps):
            x = point()
            try:
                g(x)
            except OutOfDomain as exc:
                raise InputError(f"f cannot be evaluated at x0={x0!r}: {exc}") from None
            except (TypeError, AttributeError) as exc:
                raise UnsupportedError(
                    "method 'mpmath' needs a function that accepts mpmath numbers: "
                    f"f({x}) raised {type(exc).__name__}: {exc}"
                ) from exc
            rough = mpmath.diff(g, x, order, **_mpmath_step(x))
        with mpmath.workdps(dps + extra):
            x = point()
            better = mpmath.diff(g, x, order, **_mpmath_step(x))
            error = 2 * abs(rough - better) + mpmath.mpf(10) ** (-dps) * max(1, abs(better))
        with mpmath.workdps(dps):
            value = +better  # the more accurate run, rounded to dps digits
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:
        raise InputError(
            f"f cannot be evaluated near x0={x0!r}: {type(exc).__name__}: {exc}"
        ) from exc
    return value, float(error)


# ---------------------------------------------------------------------------
# Directional form: phi(t) = f(x + t v) near t = 0


class Line(Protocol):
    """A function restricted to a line, ``t -> phi(x + t v)``, that knows its value at ``t = 0``."""

    def __call__(self, t: float) -> float:
        """``phi(x + t v)``."""
        ...

    def at_zero(self) -> float:
        """``phi(x)``."""
        ...


def central_along(line: Callable[[float], Any], h: float) -> float:
    """``D(h) = (line(h) - line(-h)) / 2h`` as a float (``line`` may compute in extended precision)."""
    return float(central_difference(line(h), line(-h), h))


def richardson_along(line: Callable[[float], Any], h: float) -> float:
    """``D(h/2) + (D(h/2) - D(h)) / 3``: central differences at ``h`` and ``h/2`` extrapolated once.

    The ``h**2`` term cancels, leaving an error of order ``h**4``.
    """
    return extrapolate(central_along(line, h), central_along(line, h / 2), 4.0)


def complex_step_along(line: Callable[[complex], Any], h: float) -> float:
    """``Im line(ih) / h``: the derivative at 0 of a ``line`` that computes in complex, exact to rounding."""
    return imaginary_quotient(line, 0.0, h)


class Level(NamedTuple):
    """One level of the directional tableau, from ``phi(+h)`` and ``phi(-h)``.

    ``even = phi(h) + phi(-h) - 2 phi(0)`` is about ``phi'' h**2`` for a
    smooth f and proportional to ``h`` at a kink.
    """

    value: float
    fmax: float
    quantum: float
    even: float


def directional_difference(line: Line, h: float) -> Level:
    """The central quotient of ``line`` at step ``h`` with ``max |phi|``, the quantum of phi and the even part."""
    plus = line(h)
    minus = line(-h)
    even = plus + minus - 2 * line.at_zero()
    return Level(central_difference(plus, minus, h), max(abs(plus), abs(minus)),
                 min(quantum(plus), quantum(minus)), even)


class Tableau(NamedTuple):
    """The directional tableau at ``h, h/2, h/4``: the extrapolated value and what bounds its error."""

    value: float
    spread: float
    rounding: float
    fmax: float
    finite: bool
    smooth: bool


def _tableau(line: Line, h: float, eps: float, levels: dict[float, Level]) -> Tableau:
    """``R = R(h/2, h/4)`` from central differences at h, h/2, h/4, with ``|R(h/2, h/4) - R(h, h/2)|``.

    Law: for smooth phi, ``D(h) = phi' + c h**2 + O(h**4)``, so
    ``R = D(h/2) + (D(h/2) - D(h))/3 = phi' + O(h**4)`` and successive
    differences ``D(h) - D(h/2)`` shrink by 4 (by 16 when c = 0). ``levels``
    caches the levels already computed, by step.
    """
    steps = (h, h / 2, h / 4)
    for s in steps:
        if s not in levels:
            levels[s] = directional_difference(line, s)
    d0, d1, d2 = (levels[s].value for s in steps)
    fmax = max(levels[s].fmax for s in steps)
    if not (math.isfinite(d0) and math.isfinite(d1) and math.isfinite(d2) and math.isfinite(fmax)):
        return Tableau(math.nan, math.inf, math.inf, fmax, False, False)
    quanta = [levels[s].quantum for s in steps if levels[s].quantum > 0]
    level = rounding_level(eps, fmax, min(quanta, default=0.0))
    noise = difference_noise(level, steps[2])  # that of R, from D(h/4)
    r0 = extrapolate(d0, d1, 4.0)
    r1 = extrapolate(d1, d2, 4.0)
    first, second = d0 - d1, d1 - d2
    if abs(second) <= 10 * noise:
        smooth = abs(first) <= 400 * noise
    else:
        smooth = _RATIO_RANGE[0] <= first / second <= _RATIO_RANGE[1]
    e0, e1, e2 = (levels[s].even for s in steps)
    if min(abs(e0), abs(e1), abs(e2)) > 80 * level and e0 * e1 > 0 and e1 * e2 > 0:
        if e0 / e1 < 3 and e1 / e2 < 3:  # the even part shrinks like h, not h**2: a kink at the inputs
            smooth = False
    return Tableau(r1, abs(r1 - r0), noise, fmax, True, smooth)


@dataclass
class Directional:
    """The derivative along one direction and what is known about its error.

    ``noise`` is the absolute noise floor: the Richardson spread
    ``|R(h/2, h/4) - R(h, h/2)|``, at least the rounding level.
    """

    value: float
    noise: float
    step: float
    fmax: float
    converged: bool
    note: str = ""


def derivative_along(line: Line, h0: float, eps: float, resolved: Callable[[float, float], bool]) -> Directional:
    """``d/dt phi(x + t v)`` at 0: a Richardson tableau whose steps adapt.

    Steps shrink by 4 (reusing the finest level) when the differences do not
    behave like a smooth function's, or when truncation keeps the noise floor
    above what ``resolved(value, noise)`` accepts; by 8 when f is not finite.
    ``eps`` is that of the dtype phi is evaluated in.
    """
    h = h0
    levels: dict[float, Level] = {}
    note = ""
    for attempt in range(_MAX_SHRINKS + 1):
        value, spread, noise_of_r, fmax, finite, smooth = _tableau(line, h, eps, levels)
        if not finite:
            note = "f is not finite (or raised) near the inputs along this direction"
            levels = {}
            h /= 2 * _SHRINK
            continue
        if not smooth:
            note = ("the finite differences do not behave like a smooth function's "
                    "(a kink at or near the inputs, or steps too large?)")
            h /= _SHRINK
            continue
        noise = max(spread, noise_of_r)
        if attempt < _MAX_SHRINKS and spread > 8 * noise_of_r and not resolved(value, noise):
            h /= _SHRINK  # truncation dominates: smaller steps resolve better
            continue
        return Directional(value, noise, h, fmax, True)
    return Directional(math.nan, math.inf, h * _SHRINK, math.nan, False, note or "did not settle")


def remeasure(line: Line, found: Directional, eps: float) -> tuple[float, float]:
    """The derivative again at jittered steps: ``(mean, allowance)``.

    Rounding noise makes a single spread an unreliable noise estimate (its
    ratio to the true error has heavy tails). Here :data:`JITTERS` more
    tableaux at steps ``h (1 + j/32)`` give fresh rounding and nearly the same
    truncation; the allowance is 30 standard errors of their mean plus the
    largest Richardson spread among them.
    """
    values = [found.value]
    spreads = [found.noise]
    for j in range(1, JITTERS + 1):
        value, spread, noise_of_r, _, finite, smooth = _tableau(line, found.step * (1 + j / 32), eps, {})
        if not (finite and smooth):
            return math.nan, math.inf
        values.append(value)
        spreads.append(max(spread, noise_of_r))
    mean = float(np.mean(values))
    standard_error = float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return mean, _T_FACTOR * standard_error + max(spreads)
