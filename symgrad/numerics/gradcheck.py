r"""Check hand-written gradients: numerical evidence, never a proof.

People write backward passes by hand (custom autograd functions, NumPy layers,
kernels). :func:`check_gradient` compares such a gradient with finite
differences of the forward function; :func:`check_against` compares it with a
symbolic reference (a SymPy objective, gradient formulas, or a symgrad
derivation) at sample points; :func:`assert_gradient` raises
:class:`GradientError` with a short, pointed message unless the check passed.

**Directional mode** (the default). For a few random directions :math:`v`
(signed entries, each input's block scaled by that input's RMS) the check
compares :math:`a = \langle \nabla f, v\rangle` from ``grad_f`` with the
derivative :math:`n` of :math:`\varphi(t) = f(x + t v)` at 0: central
differences :math:`D(h) = (\varphi(h) - \varphi(-h))/2h` at :math:`h, h/2,
h/4` with :math:`h = 2\epsilon^{1/5}` (:math:`\epsilon` of the dtype f is
evaluated in) and one Richardson step :math:`R = D(h/2) + (D(h/2) - D(h))/3`,
which removes the :math:`h^2` term. Six evaluations of ``f`` per direction,
however large the input, plus one at the inputs (shared). For an array-valued
``f``, :math:`\varphi = \langle u, f\rangle` with an upstream gradient
:math:`u`.

The *noise floor* :math:`\eta` is measured from the differences themselves:
the spread :math:`|R(h/2, h/4) - R(h, h/2)|`, at least the rounding level of
:math:`R`, :math:`3\delta/h` with :math:`\delta = \max(2\epsilon|\varphi|,
q)` where :math:`q` is the spacing the values of :math:`\varphi` are quantised
to (read from their trailing zero bits: a sum that cancels is exact but
inherits the spacing of its large terms). A direction passes when

.. math:: |a - n| \le \max(\mathrm{rtol}\cdot\max(|a|,|n|),\ 4\eta,\ 8\epsilon_g \textstyle\sum_i |a_i v_i|)

with ``rtol`` defaulting to :math:`\sqrt{\epsilon_g}` of the gradient's dtype
(1.5e-8 for float64, 3.5e-4 for float32): a relative criterion, not an atol
that grows with the input size. A single spread is an unreliable noise
estimate when rounding dominates, so a disagreement within :math:`10^5\eta`
is re-measured at four jittered steps :math:`h(1 + j/32)` (fresh rounding,
nearly the same truncation) and must exceed 30 standard errors of the mean of
the five estimates (plus their largest spread) to count.

The steps shrink by 4 (reusing the finest level, up to six times) when the
differences do not shrink like a smooth function's (ratios of successive
differences outside [2, 40]), when the even part :math:`\varphi(h) +
\varphi(-h) - 2\varphi(0)` shrinks like :math:`h` rather than :math:`h^2` (a
kink at the inputs), when truncation keeps :math:`\eta` above the tolerance,
and (by 8) when :math:`\varphi` is not finite. A direction that never settles
is *inconclusive*, not failed; so is one where :math:`\varphi` is flat to
rounding, or the tolerance exceeds 10%. The checks stop at the first failing
direction, which is then restricted to each input in turn to say whose
gradient is wrong (the last input's share follows by linearity).

Inputs of a lower precision than float64 are re-evaluated in float64 when ``f``
is dtype-generic (it returns float64 for float64 inputs); otherwise ``f`` is
evaluated in their own dtype and the measured noise floor widens the
tolerance. Either way a correct float32 gradient is never failed for float32
rounding: ``rtol`` is that of float32.

**Full mode** (``mode="full"``): central differences for every entry
(:math:`2N` evaluations, step :math:`\epsilon^{1/3}` times the input's scale);
entries that exceed the tolerance, or whose even part betrays a kink, are
re-examined with the directional machinery along their coordinate before they
are called wrong. The report lists the worst entries. Meant for small inputs.

Verdicts are ``"passed"``, ``"failed"`` and ``"inconclusive"``. A passed check
is evidence, never a proof: a gradient can agree along the sampled directions
and still be wrong elsewhere; the directions and their number are in the
report.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, Mapping, Sequence

import numpy as np

from ..core.errors import GradientError, InputError, UnsupportedError

if TYPE_CHECKING:  # pragma: no cover
    import sympy as sp

__all__ = [
    "PASSED",
    "FAILED",
    "INCONCLUSIVE",
    "Probe",
    "Entry",
    "GradientReport",
    "GradientError",
    "check_gradient",
    "check_against",
    "assert_gradient",
    "failure_message",
    "InconclusiveGradientWarning",
]

PASSED, FAILED, INCONCLUSIVE = "passed", "failed", "inconclusive"

Mode = Literal["directional", "full"]
Precision = Literal["auto", "native", "float64"]

#: A direction passes when the disagreement is within this many noise floors.
_SAFETY = 4.0
#: The rounding error of one evaluation of the scalarised f is modelled as
#: this many epsilons of its largest value (the measured noise usually rules).
_ROUNDING = 2.0
#: The first step of the directional tableau is this many eps**(1/5).
_STEP_FACTOR = 2.0
#: A tableau that does not settle is retried with its steps divided by this ...
_SHRINK = 4.0
#: ... at most this many times.
_MAX_SHRINKS = 6
#: Consecutive differences of a smooth f shrink by 4 (h**2) or 16 (h**4).
_RATIO_RANGE = (2.0, 40.0)
#: A tolerance wider than this (relative) cannot tell a bug from noise: inconclusive.
_RESOLVE = 0.1
#: A disagreement within this many noise floors is re-measured before it counts ...
_CONFIRM_BELOW = 1e5
#: ... at this many jittered steps h * (1 + j/32) (fresh rounding, nearly the same truncation) ...
_JITTERS = 4
#: ... and must exceed this many standard errors of the mean of the estimates
#: (two-sided Student t with 4 degrees of freedom beyond 30: 7e-6).
_T_FACTOR = 30.0
#: Full mode: at most this many suspicious entries are re-examined.
_REFINE = 16
#: Entries listed in a report.
_SHOW = 5


# ---------------------------------------------------------------------------
# Results


def _g(value: float, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}e}" if value != 0 else "0"


@dataclass(frozen=True)
class Probe:
    """One comparison of your gradient with a reference number.

    ``kind`` is ``"direction"`` (a random direction of :func:`check_gradient`),
    ``"input"`` (the same direction restricted to one input, to localise a
    failure) or ``"point"`` (a sample point of :func:`check_against`).
    ``yours`` is :math:`\\langle\\nabla f, v\\rangle` from ``grad_f`` (or, at a
    point, your worst entry) and ``reference`` the finite-difference (or
    symbolic) value. ``rel_error`` is ``abs_error / max(|yours|, |reference|)``;
    ``noise`` the measured noise floor of the reference on the same scale;
    ``tolerance`` the relative tolerance that was applied.
    """

    kind: str
    label: str
    yours: float
    reference: float
    abs_error: float
    rel_error: float
    noise: float
    tolerance: float
    status: str
    step: float | None = None
    note: str = ""

    def line(self) -> str:
        """One line: label, both values, errors and status."""
        note = f"  ({self.note})" if self.note else ""
        return (f"{self.label:<14} yours {self.yours: .12e}   reference {self.reference: .12e}   "
                f"rel. error {_g(self.rel_error)}   noise {_g(self.noise)}   "
                f"tol. {_g(self.tolerance)}   {self.status}{note}")


@dataclass(frozen=True)
class Entry:
    """One entry of a gradient (``mode="full"`` and :func:`check_against`).

    ``rel_error`` is relative to the largest reference entry of the same input
    (so entries near zero are not judged by their own tiny size); ``where``
    describes the sample point and the reference formula for
    :func:`check_against`.
    """

    input: str
    index: tuple[int, ...]
    yours: float
    reference: float
    abs_error: float
    rel_error: float
    tolerance: float
    status: str
    where: str = ""

    @property
    def label(self) -> str:
        if not self.index:
            return self.input
        return f"{self.input}[{', '.join(str(i) for i in self.index)}]"

    def line(self) -> str:
        """One line: label, both values, errors and status (``where`` is left out)."""
        return (f"{self.label:<14} yours {self.yours: .12e}   reference {self.reference: .12e}   "
                f"rel. error {_g(self.rel_error)}   tol. {_g(self.tolerance)}   {self.status}")


@dataclass(frozen=True)
class GradientReport:
    """The outcome of a gradient check: verdict, evidence, and what was used.

    ``verdict`` is ``"passed"``, ``"failed"`` or ``"inconclusive"``. ``passed``
    means numerical agreement along the probes, which is evidence and not a
    proof. ``probes`` holds the per-direction (or per-point) comparisons,
    ``by_input`` the failing direction restricted to each input (directional
    mode, on failure), ``entries`` the worst entries (full and reference modes).
    ``noise_floor`` is the largest relative noise floor measured, ``step`` the
    first finite-difference step as a fraction of each input's scale
    (``scales``), ``evaluations`` the number of calls of ``f``.
    ``bool(report)`` is ``report.passed``.
    """

    verdict: str
    mode: str
    reason: str
    probes: tuple[Probe, ...]
    entries: tuple[Entry, ...]
    by_input: tuple[Probe, ...]
    inputs: tuple[str, ...]
    scales: tuple[float, ...]
    upstream: str
    precision: str
    rtol: float
    noise_floor: float
    step: float | None
    evaluations: int
    seed: int
    seconds: float = field(compare=False)
    reference: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    @property
    def failed(self) -> bool:
        return self.verdict == FAILED

    @property
    def inconclusive(self) -> bool:
        return self.verdict == INCONCLUSIVE

    ok = passed

    def __bool__(self) -> bool:
        return self.passed

    @property
    def worst(self) -> Probe | None:
        """The probe that failed (or was inconclusive) first, else the one with the largest error."""
        def size(probe: Probe) -> float:
            return probe.rel_error if math.isfinite(probe.rel_error) else -1.0

        for status in (FAILED, INCONCLUSIVE):
            found = [p for p in self.probes if p.status == status]
            if found:
                return max(found, key=size)
        return max(self.probes, key=size, default=None)

    @property
    def rel_errors(self) -> tuple[float, ...]:
        """The relative error of each probe, in order."""
        return tuple(p.rel_error for p in self.probes)

    def explain(self) -> str:
        """The report as a few lines of text (what :func:`repr` shows)."""
        if self.mode == "full":
            what = f"full check, {len(self.entries)} worst entries shown"
        elif self.mode == "reference":
            what = f"against a symbolic reference, {len(self.probes)} sample points"
        else:
            what = f"directional check, {len(self.probes)} random direction{'s' if len(self.probes) != 1 else ''}"
        lines = [f"GradientReport: {self.verdict} ({what})", f"  {self.reason}"]
        lines.append("  inputs: " + "; ".join(self.inputs))
        setup = [f"upstream {self.upstream}"] if self.upstream else []
        setup.append(self.precision)
        if self.step is not None:
            setup.append(f"step {_g(self.step, 2)} × input scale")
        lines.append("  " + ", ".join(setup))
        if self.reference:
            lines.append(f"  reference: {self.reference}")
        calls = (f"{self.evaluations} calls of grad_f" if self.mode == "reference"
                 else f"{self.evaluations} evaluations of f")
        noise = "" if self.mode == "reference" else f", noise floor {_g(self.noise_floor, 2)}"
        lines.append(f"  rtol {_g(self.rtol, 2)}{noise}, {calls}, seed {self.seed}")
        for probe in self.probes:
            lines.append("    " + probe.line())
        if self.by_input:
            worst = self.worst
            lines.append(f"  {worst.label if worst else 'the failing direction'}, one input at a time:")
            for probe in self.by_input:
                lines.append("    " + probe.line())
        if self.entries:
            lines.append("  worst entries:")
            for entry in self.entries:
                lines.append("    " + entry.line())
            if self.entries[0].where:
                lines.append(f"  the worst is {self.entries[0].where}")
        if self.passed:
            lines.append("  (numerical evidence, not a proof)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.explain()

    def _repr_markdown_(self) -> str:
        return "```text\n" + self.explain() + "\n```"


def failure_message(report: GradientReport) -> str:
    """A short, pointed description of why ``report`` did not pass."""
    if report.passed:
        return f"gradient check passed: {report.reason}"
    lines = [f"gradient check {report.verdict} ({report.mode}, seed {report.seed}): {report.reason}"]
    probe = report.worst
    if report.mode == "directional" and probe is not None and probe.status == INCONCLUSIVE:
        lines.append(f"  yours:               <grad_f, v> = {probe.yours: .12e}")
        if math.isfinite(probe.reference):
            lines.append(f"  finite differences:  d/dt f(x+tv) = {probe.reference: .12e}, "
                         f"noise floor {_g(probe.noise)} (relative)")
        else:
            lines.append(f"  finite differences:  no usable value down to step {_g(probe.step or 0.0, 2)} "
                         "× input scale")
        lines.append("  not a failure of your gradient: the numbers cannot decide here. At a kink, check at "
                     "points away from it; for a noisy f, use float64 or pass step= or rtol=")
        lines.append(f"  reproduce with seed={report.seed}")
    elif report.mode == "directional" and probe is not None:
        lines.append(f"  yours:               <grad_f, v> = {probe.yours: .12e}")
        lines.append(f"  finite differences:  d/dt f(x+tv) = {probe.reference: .12e}   "
                     f"(Richardson, step {_g(probe.step or 0.0, 2)} × input scale)")
        lines.append(f"  relative error {_g(probe.rel_error)}, tolerance {_g(probe.tolerance)}, "
                     f"noise floor {_g(probe.noise)}" + (f"; {probe.note}" if probe.note else ""))
        if report.by_input:
            bad = [p.label for p in report.by_input if p.status == FAILED]
            good = [p.label for p in report.by_input if p.status == PASSED]
            parts = [f"{p.label} {_g(p.rel_error, 1)}" for p in report.by_input]
            verdict = (f"the gradient of {', '.join(bad)} is wrong" if bad else
                       "no single input disagrees on its own")
            if good and bad:
                verdict += f"; {', '.join(good)} agree"
            lines.append(f"  by input: {verdict} (relative errors: {', '.join(parts)})")
        lines.append(f"  counterexample: the inputs given, {probe.label} (random signed entries × input "
                     f"scale; reproduce with seed={report.seed})")
    elif report.entries:
        entry = report.entries[0]
        label = "reference" if report.mode == "reference" else "finite differences"
        lines.append(f"  worst entry {entry.label}: yours = {entry.yours: .12e}, {label} = {entry.reference: .12e}")
        lines.append(f"  relative error {_g(entry.rel_error)} (to the largest entry of {entry.input}), "
                     f"tolerance {_g(entry.tolerance)}")
        if entry.where:
            lines.append(f"  counterexample: {entry.where}")
        others = []
        for e in report.entries[1:]:
            if e.status == FAILED and e.label != entry.label and e.label not in others:
                others.append(e.label)
        if others:
            lines.append(f"  also wrong: {', '.join(others)}")
    if report.reference:
        lines.append(f"  reference: {report.reference}")
    lines.append(f"  inputs: {'; '.join(report.inputs)}; {report.precision}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Arrays: NumPy and (optionally) torch, never importing torch ourselves


def _torch_of(value: Any) -> Any:
    """The torch module if ``value`` is a torch tensor, else None."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return torch
    return None


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


@dataclass
class _Arg:
    """One positional input of f: how to perturb it and at what precision."""

    position: int
    name: str
    kind: str  # "numpy" | "torch" | "scalar" | "const"
    value: Any
    shape: tuple[int, ...] = ()
    dtype: str = ""
    eps: float = 0.0
    scale: float = 1.0
    work: Any = None  # the value f is evaluated at (possibly cast to float64)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def describe(self) -> str:
        return f"{self.name} {self.shape} {self.dtype}"


def _classify(position: int, name: str, value: Any) -> _Arg:
    torch = _torch_of(value)
    if torch is not None:
        if value.is_complex():
            return _Arg(position, name, "complex", value, tuple(value.shape), _dtype_name(value.dtype))
        if value.is_floating_point():
            return _Arg(position, name, "torch", value, tuple(value.shape), _dtype_name(value.dtype),
                        float(torch.finfo(value.dtype).eps))
        return _Arg(position, name, "const", value, tuple(value.shape), _dtype_name(value.dtype))
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "c":
            return _Arg(position, name, "complex", value, value.shape, str(value.dtype))
        if value.dtype.kind == "f":
            return _Arg(position, name, "numpy", value, value.shape, str(value.dtype),
                        float(np.finfo(value.dtype).eps))
        return _Arg(position, name, "const", value, value.shape, str(value.dtype))
    if isinstance(value, np.floating):
        return _Arg(position, name, "scalar", value, (), str(value.dtype), float(np.finfo(value.dtype).eps))
    if isinstance(value, (complex, np.complexfloating)):
        return _Arg(position, name, "complex", value, (), type(value).__name__)
    if isinstance(value, float):
        return _Arg(position, name, "scalar", value, (), "float64", float(np.finfo(np.float64).eps))
    return _Arg(position, name, "const", value, (), type(value).__name__)


def _as_float64(value: Any) -> np.ndarray:
    """Any array, tensor or number as a float64 NumPy array (a copy for tensors)."""
    torch = _torch_of(value)
    if torch is not None:
        return value.detach().to("cpu", torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def _cast(arg: _Arg, value: Any, float64: bool) -> Any:
    """``value`` (the input or a perturbed copy) in the working precision."""
    if arg.kind == "torch":
        torch = _torch_of(arg.value)
        target = torch.float64 if float64 else arg.value.dtype
        return value.detach().to(dtype=target).clone()
    if arg.kind == "numpy":
        return np.array(value, dtype=np.float64 if float64 else value.dtype)
    if arg.kind == "scalar":
        return float(value) if float64 or isinstance(value, float) else type(arg.value)(value)
    return value


def _rms(array: np.ndarray) -> float:
    if array.size == 0:
        return 1.0
    value = float(np.sqrt(np.mean(np.square(array))))
    return value if value > 0 and math.isfinite(value) else 1.0


def _signed(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random entries of random sign and magnitude in [0.5, 1.5)."""
    magnitude = 0.5 + rng.random(shape)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return sign * magnitude


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``sum(a * b)`` in float64 by pairwise summation.

    Not ``np.dot``: BLAS reductions start thread pools that fight torch's on a
    busy machine (milliseconds per call); pairwise summation is also accurate.
    """
    return float(np.multiply(a.reshape(-1), b.reshape(-1), dtype=np.float64).sum())


# ---------------------------------------------------------------------------
# The scalarised function phi(t) = <u, f(x + t v)>


class _Objective:
    """Evaluates ``<u, f(...)>`` (or a scalar f) at perturbed working inputs."""

    def __init__(self, f: Callable[..., Any], args: list[_Arg], upstream: np.ndarray | None,
                 out_shape: tuple[int, ...] | None) -> None:
        self.f = f
        self.args = args
        self.base = [a.work for a in args]
        self.upstream = upstream
        self.out_shape = out_shape
        self.calls = 0
        self.torch: Any = next((_torch_of(a.value) for a in args if a.kind == "torch"), None)
        self._phi0: float | None = None
        self._v_cache: dict[tuple[int, int], Any] = {}

    def at_zero(self) -> float:
        """``phi`` at the unperturbed inputs (evaluated once)."""
        if self._phi0 is None:
            self._phi0 = self(0.0, ())
        return self._phi0

    def direction_for(self, arg: _Arg, key: int, v: np.ndarray) -> Any:
        """``v`` in the working type of ``arg`` (cached per direction ``key``)."""
        cache_key = (key, arg.position)
        found = self._v_cache.get(cache_key)
        if found is None:
            if arg.kind == "torch":
                found = self.torch.as_tensor(v, dtype=arg.work.dtype, device=arg.work.device)
            elif arg.kind == "numpy":
                found = v.astype(arg.work.dtype, copy=False)
            else:
                found = float(v)
            self._v_cache[cache_key] = found
        return found

    def _scalar(self, out: Any) -> float:
        if self.torch is not None and isinstance(out, self.torch.Tensor):
            out = out.detach().cpu().numpy()
        value = np.asarray(out)
        if self.upstream is None:
            return float(value.reshape(-1)[0]) if value.size == 1 else math.nan
        return _dot(self.upstream, value)

    def __call__(self, t: float, direction: Sequence[tuple[_Arg, Any]]) -> float:
        """``phi`` at ``x + t v`` (``direction`` pairs each perturbed input with its v).

        Call inside :meth:`quiet`.
        """
        values = list(self.base)
        for arg, v in direction:
            if arg.kind == "torch":
                values[arg.position] = self.torch.add(arg.work, v, alpha=t)  # one kernel, not two
            elif arg.kind == "scalar":
                values[arg.position] = type(arg.work)(arg.work + t * v)
            else:
                values[arg.position] = arg.work + t * v
        self.calls += 1
        try:
            return self._scalar(self.f(*values))
        except (InputError, UnsupportedError):
            raise
        except Exception:  # f's domain ends near x: treated like a non-finite value
            return math.nan

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Evaluate without warnings, floating-point errors or (torch) autograd graphs."""
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            if self.torch is None:
                yield
            else:
                with self.torch.no_grad():
                    yield


# ---------------------------------------------------------------------------
# One directional derivative, Richardson-extrapolated, with its noise floor


@dataclass
class _Directional:
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


def _quantum(value: float) -> float:
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


def _difference(phi: _Objective, h: float,
                direction: Sequence[tuple[_Arg, Any]]) -> tuple[float, float, float, float]:
    """``(D(h), max |phi|, quantum of phi, e(h))`` from ``phi(+h)`` and ``phi(-h)``.

    ``e(h) = phi(h) + phi(-h) - 2 phi(0)`` is the even part: about
    ``phi'' h**2`` for a smooth f, proportional to ``h`` at a kink.
    """
    plus = phi(h, direction)
    minus = phi(-h, direction)
    even = plus + minus - 2 * phi.at_zero()
    return (plus - minus) / (2 * h), max(abs(plus), abs(minus)), min(_quantum(plus), _quantum(minus)), even


def _tableau(phi: _Objective, direction: Sequence[tuple[_Arg, Any]], h: float, eps: float,
             levels: dict[float, tuple[float, float, float, float]]) -> tuple[float, float, float, float, bool, bool]:
    """``(R, spread, rounding, fmax, finite, smooth)`` from central differences at h, h/2, h/4.

    Law: for smooth phi, ``D(h) = phi' + c h**2 + O(h**4)``, so
    ``R = D(h/2) + (D(h/2) - D(h))/3 = phi' + O(h**4)`` and successive
    differences ``D(h) - D(h/2)`` shrink by 4 (by 16 when c = 0).
    """
    steps = (h, h / 2, h / 4)
    for s in steps:
        if s not in levels:
            levels[s] = _difference(phi, s, direction)
    d0, d1, d2 = (levels[s][0] for s in steps)
    fmax = max(levels[s][1] for s in steps)
    if not (math.isfinite(d0) and math.isfinite(d1) and math.isfinite(d2) and math.isfinite(fmax)):
        return math.nan, math.inf, math.inf, fmax, False, False
    quanta = [levels[s][2] for s in steps if levels[s][2] > 0]
    level = max(_ROUNDING * eps * fmax, min(quanta, default=0.0))  # rounding noise of one value of phi
    rounding = 1.5 * level / steps[2]  # that of R, from D(h/4)
    r0 = d1 + (d1 - d0) / 3
    r1 = d2 + (d2 - d1) / 3
    first, second = d0 - d1, d1 - d2
    if abs(second) <= 10 * rounding:
        smooth = abs(first) <= 400 * rounding
    else:
        smooth = _RATIO_RANGE[0] <= first / second <= _RATIO_RANGE[1]
    e0, e1, e2 = (levels[s][3] for s in steps)
    if min(abs(e0), abs(e1), abs(e2)) > 80 * level and e0 * e1 > 0 and e1 * e2 > 0:
        if e0 / e1 < 3 and e1 / e2 < 3:  # the even part shrinks like h, not h**2: a kink at the inputs
            smooth = False
    return r1, abs(r1 - r0), rounding, fmax, True, smooth


def _derivative_along(phi: _Objective, direction: Sequence[tuple[_Arg, Any]], h0: float, eps: float,
                      resolved: Callable[[float, float], bool]) -> _Directional:
    """``d/dt phi(x + t v)`` at 0: a Richardson tableau whose steps adapt.

    Steps shrink by 4 (reusing the finest level) when the differences do not
    behave like a smooth function's, or when truncation keeps the noise floor
    above what ``resolved(value, noise)`` accepts; by 8 when f is not finite.
    """
    h = h0
    levels: dict[float, tuple[float, float, float, float]] = {}
    note = ""
    for attempt in range(_MAX_SHRINKS + 1):
        value, spread, rounding, fmax, finite, smooth = _tableau(phi, direction, h, eps, levels)
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
        noise = max(spread, rounding)
        if attempt < _MAX_SHRINKS and spread > 8 * rounding and not resolved(value, noise):
            h /= _SHRINK  # truncation dominates: smaller steps resolve better
            continue
        return _Directional(value, noise, h, fmax, True)
    return _Directional(math.nan, math.inf, h * _SHRINK, math.nan, False, note or "did not settle")


def _remeasure(phi: _Objective, direction: Sequence[tuple[_Arg, Any]], found: _Directional,
               eps: float) -> tuple[float, float]:
    """The derivative again at jittered steps: ``(mean, allowance)``.

    Rounding noise makes a single spread an unreliable noise estimate (its
    ratio to the true error has heavy tails). Here ``_JITTERS`` more tableaux
    at steps ``h (1 + j/32)`` give fresh rounding and nearly the same
    truncation; the allowance is ``_T_FACTOR`` standard errors of their mean
    plus the largest Richardson spread among them.
    """
    values = [found.value]
    spreads = [found.noise]
    for j in range(1, _JITTERS + 1):
        value, spread, rounding, _, finite, smooth = _tableau(phi, direction, found.step * (1 + j / 32), eps, {})
        if not (finite and smooth):
            return math.nan, math.inf
        values.append(value)
        spreads.append(max(spread, rounding))
    mean = float(np.mean(values))
    standard_error = float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return mean, _T_FACTOR * standard_error + max(spreads)


def _judge(yours: float, reference: float, noise: float, allowance: float, rtol: float, rounding: float,
           fmax: float, eps: float) -> tuple[str, float, float, float, str]:
    """Status, relative error, relative tolerance, relative noise and a note for one comparison.

    ``tolerance = max(rtol * max(|yours|, |reference|), allowance, rounding)``.
    """
    size = max(abs(yours), abs(reference))
    error = abs(yours - reference)
    tolerance = max(rtol * size, allowance, rounding)
    if error > tolerance:
        return FAILED, error / size, tolerance / size, noise / size, ""
    if size <= tolerance:  # both are zero within the noise
        relative_error = error / size if size > 0 else 0.0
        if noise <= math.sqrt(eps) * fmax:
            return PASSED, relative_error, 1.0, noise / max(size, noise, 1e-300), "both ≈ 0 within the noise floor"
        return INCONCLUSIVE, relative_error, 1.0, 1.0, "f is flat to rounding along this direction"
    if tolerance / size > _RESOLVE:
        return INCONCLUSIVE, error / size, tolerance / size, noise / size, \
            "the noise floor is too high to tell a bug from rounding"
    return PASSED, error / size, tolerance / size, noise / size, ""


def _yours(grads: Mapping[int, np.ndarray], vs: Mapping[int, np.ndarray], eps_grad: float) -> tuple[float, float]:
    """``<grad, v>`` and the rounding allowance ``8 eps sum |grad_i v_i|`` of computing it."""
    yours = 0.0
    magnitude = 0.0
    for pos, v in vs.items():
        yours += _dot(grads[pos], v)
        magnitude += _dot(np.abs(grads[pos]), np.abs(v))
    return yours, 8 * eps_grad * magnitude


def _probe(phi: _Objective, args: list[_Arg], grads: Mapping[int, np.ndarray], vs: Mapping[int, np.ndarray],
           key: int, label: str, kind: str, h0: float, rtol: float, eps_work: float,
           eps_grad: float) -> tuple[Probe, _Directional]:
    """Compare ``<grad, v>`` with the derivative of f along ``v`` (``vs``: one block per input)."""
    yours, rounding = _yours(grads, vs, eps_grad)

    def resolved(value: float, noise: float) -> bool:
        return _SAFETY * noise <= 0.25 * rtol * max(abs(value), abs(yours))

    pairs = [(args[p], phi.direction_for(args[p], key, v)) for p, v in vs.items()]
    found = _derivative_along(phi, pairs, h0, eps_work, resolved)
    if not found.converged:
        return Probe(kind, label, yours, math.nan, math.nan, math.nan, math.inf, math.nan, INCONCLUSIVE,
                     found.step, found.note), found
    allowance = _SAFETY * found.noise
    error = abs(yours - found.value)
    if max(rtol * max(abs(yours), abs(found.value)), allowance, rounding) < error <= _CONFIRM_BELOW * found.noise:
        mean, allowance = _remeasure(phi, pairs, found, eps_work)  # not overwhelming: confirm first
        if not math.isfinite(mean):
            return Probe(kind, label, yours, found.value, error, math.nan, math.inf, math.nan, INCONCLUSIVE,
                         found.step, "the re-measurement at jittered steps did not settle"), found
        found = _Directional(mean, allowance / _SAFETY, found.step, found.fmax, True, "re-measured")
    status, rel, tol, noise, note = _judge(yours, found.value, found.noise, allowance, rtol, rounding,
                                           found.fmax, eps_work)
    if found.note == "re-measured":
        note = (note + "; " if note else "") + f"re-measured at {_JITTERS} jittered steps"
    return Probe(kind, label, yours, found.value, abs(yours - found.value), rel, noise, tol, status,
                 found.step, note), found


def _localise(phi: _Objective, args: list[_Arg], checked: list[int], grads: Mapping[int, np.ndarray],
              vs: Mapping[int, np.ndarray], key: int, joint: _Directional, h0: float, rtol: float,
              eps_work: float, eps_grad: float) -> list[Probe]:
    """The failing direction restricted to each input in turn.

    The last input is not probed: by linearity of the derivative,
    ``phi'(v) = sum_i phi'(v_i)``, so its value is the joint one minus the
    others', with the sum of their noise floors.
    """
    probes: list[Probe] = []
    value, noise = joint.value, joint.noise
    for pos in checked[:-1]:
        probe, found = _probe(phi, args, grads, {pos: vs[pos]}, key, f"{args[pos].name}", "input", h0, rtol,
                              eps_work, eps_grad)
        probes.append(probe)
        if not found.converged:
            value = math.nan
        value -= found.value
        noise += found.noise
    last = checked[-1]
    if not math.isfinite(value):
        probe, _ = _probe(phi, args, grads, {last: vs[last]}, key, f"{args[last].name}", "input", h0, rtol,
                          eps_work, eps_grad)
        return probes + [probe]
    yours, rounding = _yours(grads, {last: vs[last]}, eps_grad)
    status, rel, tol, rel_noise, note = _judge(yours, value, noise, _SAFETY * noise, rtol, rounding, joint.fmax,
                                               eps_work)
    inferred = "the joint derivative minus the other inputs'"
    return probes + [Probe("input", f"{args[last].name}", yours, value, abs(yours - value), rel, rel_noise, tol,
                           status, joint.step, f"{note}; {inferred}" if note else inferred)]


# ---------------------------------------------------------------------------
# Calling the user's gradient


def _names(f: Callable[..., Any], count: int, names: Sequence[str] | None) -> list[str]:
    if names is not None:
        if isinstance(names, str) or len(names) != count:
            raise InputError(f"names must be a sequence of {count} strings, one per input, got {names!r}")
        return [str(n) for n in names]
    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if len(params) >= count:
        return [p.name for p in params[:count]]
    return [f"input {i}" for i in range(count)]


def _gradients(result: Any, count: int, checked: list[int], call: str) -> list[Any]:
    """Split grad_f's result into one entry per input (None = no gradient)."""
    if isinstance(result, (tuple, list)):
        items = list(result)
    elif count == 1 or len(checked) == 1:
        items = [result]
    else:
        raise InputError(f"{call} must return a tuple with one gradient per input ({count}), "
                         f"got a single {type(result).__name__}")
    if len(items) == count:
        return items
    if len(items) == len(checked):
        full: list[Any] = [None] * count
        for pos, item in zip(checked, items):
            full[pos] = item
        return full
    raise InputError(f"{call} returned {len(items)} gradients for {count} inputs ({len(checked)} checked); "
                     "return one per input (None for a constant)")


class _Autograd:
    """One forward pass with autograd recording (its output doubles as f at the inputs), then backward."""

    def __init__(self, f: Callable[..., Any], args: list[_Arg], checked: list[int]) -> None:
        self.torch = next(_torch_of(a.value) for a in args if a.kind == "torch")
        values = [a.value for a in args]
        self.leaves = []
        for pos in checked:
            leaf = values[pos].detach().clone().requires_grad_(True)
            values[pos] = leaf
            self.leaves.append(leaf)
        self.count, self.checked = len(args), checked
        with self.torch.enable_grad():
            self.out = f(*values)
        if not getattr(self.out, "requires_grad", False):
            raise InputError("grad_f='autograd': the output of f does not require grad, so autograd "
                             "has no gradient to check (does f detach or leave torch?)")

    def gradients(self, upstream: Any) -> list[Any]:
        grads = self.torch.autograd.grad(self.out, self.leaves, grad_outputs=upstream, allow_unused=True)
        full: list[Any] = [None] * self.count
        for pos, grad in zip(self.checked, grads):
            full[pos] = grad
        return full


def _prepare_gradient(grad: Any, arg: _Arg) -> tuple[np.ndarray | None, str]:
    """The gradient as float64 NumPy, or the reason it is wrong."""
    if grad is None:
        return np.zeros(arg.shape), ""
    try:
        array = _as_float64(grad)
    except (TypeError, ValueError) as exc:
        return None, f"the gradient for {arg.name} is not numeric ({type(grad).__name__}: {exc})"
    if array.shape != arg.shape:
        return None, f"the gradient for {arg.name} has shape {array.shape}; the input has shape {arg.shape}"
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        return None, f"the gradient for {arg.name} is not finite at index {bad}"
    return array, ""


def _output_info(out: Any) -> tuple[tuple[int, ...], str]:
    torch = _torch_of(out)
    if torch is not None:
        if out.is_complex():
            raise UnsupportedError("f returns a complex tensor; gradients of complex outputs are not supported")
        return tuple(out.shape), _dtype_name(out.dtype)
    if isinstance(out, (tuple, list)):
        raise UnsupportedError(f"f returns a {type(out).__name__} of outputs; return one array "
                               "(e.g. a sum or a concatenation) to check one gradient at a time")
    array = np.asarray(out)
    if array.dtype.kind not in "fiu":
        raise InputError(f"f must return a real number or array, got {type(out).__name__} of dtype {array.dtype}")
    return array.shape, str(array.dtype)


def _upstream(out: Any, upstream: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    """The upstream gradient in float64 (for ``<u, f>``) and in f's output type (for grad_f).

    A random upstream is rounded to the output's dtype first, so both agree exactly.
    """
    torch = _torch_of(out)
    shape = tuple(out.shape) if torch is not None else np.shape(out)
    if upstream is not None:
        u64 = _as_float64(upstream)
        if u64.shape != shape:
            raise InputError(f"upstream has shape {u64.shape}; f returns shape {shape}")
        native = upstream
        if torch is not None and _torch_of(upstream) is None:
            native = torch.as_tensor(u64, dtype=out.dtype, device=out.device)
        return u64, native
    u64 = _signed(rng, shape)
    if torch is not None:
        native = torch.as_tensor(u64, dtype=out.dtype, device=out.device)
    else:
        dtype = np.asarray(out).dtype
        native = u64.astype(dtype if dtype.kind == "f" else np.float64)
    return _as_float64(native), native


# ---------------------------------------------------------------------------
# check_gradient


def _checked_positions(args: list[_Arg], wrt: Sequence[int] | int | None) -> list[int]:
    if wrt is None:
        positions = [a.position for a in args if a.kind in ("numpy", "torch", "scalar")]
        if not positions:
            raise InputError("no floating-point input to check: pass float arrays, tensors or floats")
        return positions
    items: Iterable[Any] = [wrt] if isinstance(wrt, (int, np.integer)) else wrt
    positions = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)) or not 0 <= item < len(args):
            raise InputError(f"wrt must hold input positions 0..{len(args) - 1}, got {item!r}")
        arg = args[int(item)]
        if arg.kind == "complex":
            raise UnsupportedError(f"input {arg.name} is complex; only real inputs are supported")
        if arg.kind == "const":
            raise InputError(f"input {arg.name} ({arg.dtype}) is not floating point and cannot be perturbed")
        positions.append(int(item))
    if not positions:
        raise InputError("wrt is empty: name at least one input to check")
    return positions


def _rtol(rtol: float | None, eps_grad: float) -> float:
    if rtol is None:
        return math.sqrt(eps_grad)
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not (0 < rtol < 1):
        raise InputError(f"rtol must be a number in (0, 1), got {rtol!r}")
    return float(rtol)


def _check_options(f: Any, grad_f: Any, inputs: tuple[Any, ...], mode: str, precision: str, directions: Any,
                   seed: Any, step: Any) -> None:
    if not callable(f):
        raise InputError(f"f must be callable, got {type(f).__name__}")
    if not (callable(grad_f) or (isinstance(grad_f, str) and grad_f == "autograd")):
        raise InputError(f"grad_f must be callable or the string 'autograd', got {grad_f!r}")
    if not inputs:
        raise InputError("check_gradient(f, grad_f, *inputs) needs at least one input")
    if mode not in ("directional", "full"):
        raise InputError(f"mode must be 'directional' or 'full', got {mode!r}")
    if precision not in ("auto", "native", "float64"):
        raise InputError(f"precision must be 'auto', 'native' or 'float64', got {precision!r}")
    if isinstance(directions, bool) or not isinstance(directions, (int, np.integer)) or directions < 1:
        raise InputError(f"directions must be a positive integer, got {directions!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step < 1):
        raise InputError(f"step must be a number in (0, 1) (a fraction of each input's scale), got {step!r}")


def check_gradient(
    f: Callable[..., Any],
    grad_f: Callable[..., Any] | str,
    *inputs: Any,
    upstream: Any = None,
    mode: Mode = "directional",
    directions: int = 3,
    wrt: Sequence[int] | int | None = None,
    rtol: float | None = None,
    step: float | None = None,
    seed: int = 0,
    precision: Precision = "auto",
    names: Sequence[str] | None = None,
) -> GradientReport:
    r"""Compare the hand-written gradient ``grad_f`` of ``f`` with finite differences.

    ``f(*inputs)`` returns a scalar, or an array: then the check is of a
    vector-Jacobian product, and ``grad_f(upstream, *inputs)`` must return
    the gradient of :math:`\langle u, f(x)\rangle`. ``upstream`` is that
    :math:`u`; by default random signed entries (seeded), because a constant
    upstream such as ones can hide bugs (the BatchNorm input gradient vanishes
    for it). Whenever ``upstream`` is given, ``grad_f`` is called this way,
    even for a scalar ``f``. ``grad_f`` returns one gradient per input (a bare array when there
    is one input; ``None`` for an input without gradient, read as zeros), or is
    the string ``"autograd"`` for torch inputs: the gradient torch's autograd
    computes through ``f``, so a custom ``torch.autograd.Function`` is checked
    through its ``backward``.

    Inputs are NumPy arrays, floats or torch tensors. Floating-point inputs
    are checked (or those at the positions in ``wrt``); the others are passed
    through. ``mode="directional"`` compares ``directions`` random directional
    derivatives (six evaluations of ``f`` each, whatever the input size);
    ``mode="full"`` compares every entry (:math:`2N` evaluations; for small
    inputs). ``rtol`` defaults to :math:`\sqrt{\epsilon}` of the gradient's
    dtype; ``step`` (a fraction of each input's RMS) overrides the first
    finite-difference step; ``precision`` is ``"auto"`` (evaluate f in float64
    for lower-precision inputs when f is dtype-generic), ``"native"`` or
    ``"float64"``. The module docstring gives the criterion.

    The verdict is ``passed``/``failed``/``inconclusive``; passed is evidence,
    never a proof. A gradient of the wrong shape or with non-finite entries is
    a failed verdict. Misuse (no inputs, an ``upstream`` of the wrong shape,
    ``f`` raising at the inputs, ``grad_f`` returning the wrong number of
    gradients) raises :class:`~symgrad.errors.InputError`.
    """
    started = time.perf_counter()
    _check_options(f, grad_f, inputs, mode, precision, directions, seed, step)
    args = [_classify(i, n, v) for i, (n, v) in enumerate(zip(_names(f, len(inputs), names), inputs))]
    checked = _checked_positions(args, wrt)
    if grad_f == "autograd" and not any(args[p].kind == "torch" for p in checked):
        raise InputError("grad_f='autograd' needs torch tensor inputs")
    eps_grad = max(args[p].eps for p in checked)
    rtol_value = _rtol(rtol, eps_grad)

    recorder = None
    try:
        if grad_f == "autograd":
            recorder = _Autograd(f, args, checked)
            out = recorder.out.detach()
        else:
            torch = next((_torch_of(a.value) for a in args if a.kind == "torch"), None)
            with contextlib.nullcontext() if torch is None else torch.no_grad():
                out = f(*inputs)
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:
        raise InputError(f"f raised at the inputs given: {type(exc).__name__}: {exc}") from exc
    out_shape, _ = _output_info(out)
    scalar_out = upstream is None and int(np.prod(out_shape)) == 1
    float64 = _choose_precision(f, args, checked, precision, out_shape)
    for arg in args:
        if arg.position in checked:
            arg.work = _cast(arg, arg.value, float64)
            arg.scale = _rms(_as_float64(arg.value))
        else:
            arg.work = arg.value
    eps_work = float(np.finfo(np.float64).eps) if float64 else eps_grad
    dtypes = _dtype_list(args, checked)
    if float64 and eps_grad > eps_work:
        precision_text = f"f re-evaluated in float64 (inputs {dtypes}; rtol is {dtypes}'s)"
    else:
        precision_text = f"f evaluated in {dtypes}"

    if scalar_out:
        u64, u_native, upstream_text = None, None, "none (f is scalar)"
    else:
        u64, u_native = _upstream(out, upstream, np.random.default_rng([int(seed), 1]))
        upstream_text = ("random signed entries" if upstream is None else "given") + f" {tuple(out_shape)}"

    call = "grad_f(*inputs)" if scalar_out else "grad_f(upstream, *inputs)"
    try:
        if recorder is not None:
            raw = recorder.gradients(u_native)
        else:
            result = grad_f(*inputs) if scalar_out else grad_f(u_native, *inputs)  # type: ignore[operator]
            raw = _gradients(result, len(args), checked, call)
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:
        raise InputError(f"{call} raised: {type(exc).__name__}: {exc}") from exc
    grads: dict[int, np.ndarray] = {}
    problems = []
    for pos in checked:
        array, problem = _prepare_gradient(raw[pos], args[pos])
        if problem:
            problems.append(problem)
        else:
            grads[pos] = array  # type: ignore[assignment]

    phi = _Objective(f, args, u64, None if scalar_out else out_shape)
    tried = eps_grad > float(np.finfo(np.float64).eps) and precision != "native"
    phi.calls = 1 + int(tried)  # f at the inputs, and its trial in float64
    if not float64 or eps_grad == eps_work:  # f was evaluated at exactly the working inputs already
        with phi.quiet():
            phi._phi0 = phi._scalar(out)
    common: dict[str, Any] = dict(
        inputs=tuple(f"{args[p].describe()}, scale {_g(args[p].scale, 2)}" for p in checked),
        scales=tuple(args[p].scale for p in checked), upstream=upstream_text, precision=precision_text,
        rtol=rtol_value, seed=int(seed))
    if problems:
        return GradientReport(FAILED, mode, "; ".join(problems), (), (), (), noise_floor=0.0, step=None,
                              evaluations=0, seconds=time.perf_counter() - started, **common)
    with phi.quiet():
        if mode == "full":
            return _full(phi, args, checked, grads, rtol_value, eps_work, eps_grad, step, started, common)
        return _directional(phi, args, checked, grads, rtol_value, eps_work, eps_grad, step, int(directions),
                            np.random.default_rng([int(seed), 0]), started, common)


def _dtype_list(args: list[_Arg], checked: list[int]) -> str:
    names: list[str] = []
    for p in checked:
        if args[p].dtype not in names:
            names.append(args[p].dtype)
    return "/".join(names)


def _choose_precision(f: Callable[..., Any], args: list[_Arg], checked: list[int], precision: str,
                      out_shape: tuple[int, ...]) -> bool:
    """Whether f is evaluated in float64 (True) or in the inputs' own dtypes."""
    low = any(args[p].eps > float(np.finfo(np.float64).eps) for p in checked)
    if not low or precision == "native":
        return not low
    trial = [_cast(a, a.value, True) if a.position in checked else a.value for a in args]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shape, dtype = _output_info(f(*trial))
        generic = dtype == "float64" and shape == out_shape
    except Exception:
        generic = False
    if not generic and precision == "float64":
        raise InputError("precision='float64' needs f to return float64 for float64 inputs, "
                         "but it does not (it is not dtype-generic)")
    return generic


def _directional(phi: _Objective, args: list[_Arg], checked: list[int], grads: Mapping[int, np.ndarray],
                 rtol: float, eps_work: float, eps_grad: float, step: float | None, count: int,
                 rng: np.random.Generator, started: float, common: dict[str, Any]) -> GradientReport:
    """``count`` random directions; stops at the first that fails and localises it by input."""
    h0 = step if step is not None else _STEP_FACTOR * eps_work ** 0.2
    probes: list[Probe] = []
    by_input: list[Probe] = []
    for j in range(count):
        vs = {p: _signed(rng, args[p].shape) * args[p].scale for p in checked}
        probe, found = _probe(phi, args, grads, vs, j, f"direction {j + 1}", "direction", h0, rtol,
                              eps_work, eps_grad)
        probes.append(probe)
        if probe.status == FAILED:
            if len(checked) > 1:
                by_input = _localise(phi, args, checked, grads, vs, j, found, h0, rtol, eps_work, eps_grad)
            break
    verdict = _overall(probes)
    reason = _reason(probes, verdict, count)
    if len(probes) < count:
        reason += f"; stopped there ({count - len(probes)} more directions not needed for the verdict)"
    noise = max((p.noise for p in probes if math.isfinite(p.noise)), default=math.inf)
    return GradientReport(verdict, "directional", reason, tuple(probes), (), tuple(by_input),
                          noise_floor=noise, step=h0, evaluations=phi.calls,
                          seconds=time.perf_counter() - started, **common)


def _overall(probes: Sequence[Probe]) -> str:
    statuses = {p.status for p in probes}
    if FAILED in statuses:
        return FAILED
    if INCONCLUSIVE in statuses or not probes:
        return INCONCLUSIVE
    return PASSED


def _reason(probes: Sequence[Probe], verdict: str, total: int | None = None) -> str:
    n = total or len(probes)
    if verdict == PASSED:
        worst = max(p.rel_error for p in probes)
        return f"all {n} {probes[0].kind}s agree (largest relative error {_g(worst, 2)})"
    bad = [p for p in probes if p.status == verdict]
    first = max(bad, key=lambda p: p.rel_error if math.isfinite(p.rel_error) else -1.0)
    if verdict == FAILED:
        also = f"; {len(bad)} of {len(probes)} probed disagree" if len(bad) > 1 else ""
        return (f"{first.label} of {n} disagrees: relative error {_g(first.rel_error, 2)} > "
                f"tolerance {_g(first.tolerance, 2)}" + (f" ({first.note})" if first.note else "") + also)
    return f"{first.label} of {n} is inconclusive: {first.note or 'no usable finite differences'}"


# -- full mode -----------------------------------------------------------------


def _coordinate(phi: _Objective, arg: _Arg, k: int, h: float) -> tuple[float, float, float, float]:
    """Central difference of phi along entry ``k`` of ``arg`` with absolute step ``h``."""
    v = np.zeros(arg.shape)
    v.reshape(-1)[k] = 1.0
    if arg.kind == "torch":
        direction: Any = _torch_of(arg.value).as_tensor(v, dtype=arg.work.dtype, device=arg.work.device)
    elif arg.kind == "numpy":
        direction = v.astype(arg.work.dtype, copy=False)
    else:
        direction = 1.0
    return _difference(phi, h, [(arg, direction)])


def _full(phi: _Objective, args: list[_Arg], checked: list[int], grads: Mapping[int, np.ndarray],
          rtol: float, eps_work: float, eps_grad: float, step: float | None, started: float,
          common: dict[str, Any]) -> GradientReport:
    """Every entry by central differences; suspicious entries re-examined with Richardson."""
    h_rel = step if step is not None else eps_work ** (1 / 3)
    fd: dict[int, np.ndarray] = {}
    bends: dict[int, np.ndarray] = {}  # |e(h)| / h: about phi'' h when smooth, the jump at a kink
    fmax = 0.0
    quanta: list[float] = []
    for pos in checked:
        arg = args[pos]
        values = np.empty(arg.size)
        bend = np.empty(arg.size)
        h = h_rel * arg.scale
        for k in range(arg.size):
            values[k], top, quantum, even = _coordinate(phi, arg, k, h)
            bend[k] = abs(even) / h
            fmax = max(fmax, top)
            quanta.append(quantum)
        fd[pos] = values
        bends[pos] = bend
    level = max(_ROUNDING * eps_work * fmax, float(np.median(quanta)))  # rounding noise of one value of phi
    rows: dict[int, dict[str, Any]] = {}
    suspects: list[tuple[float, int, int]] = []
    sizes: dict[int, float] = {}
    noise_floor = 0.0
    for pos in checked:
        arg = args[pos]
        yours = grads[pos].reshape(-1)
        theirs = fd[pos]
        size = max(float(np.max(np.abs(theirs), initial=0.0)), float(np.max(np.abs(yours), initial=0.0)))
        sizes[pos] = size if size > 0 else 1.0
        noise = 1.5 * level / (h_rel * arg.scale)  # rounding of one central difference
        noise_floor = max(noise_floor, noise / sizes[pos])
        tol = np.maximum(rtol * size, _SAFETY * noise) + 8 * eps_grad * np.abs(yours)
        error = np.where(np.isfinite(theirs), np.abs(yours - theirs), np.inf)
        bent = bends[pos] > 1e-2 * np.maximum(size, np.abs(theirs))  # a kink within the step?
        statuses = np.where((error <= tol) & ~bent, PASSED, INCONCLUSIVE).astype(object)
        rows[pos] = {"theirs": theirs.copy(), "error": error, "tol": tol, "status": statuses}
        suspects += [(float(error[k] / tol[k]) if tol[k] > 0 else math.inf, pos, int(k))
                     for k in np.nonzero((error > tol) | bent)[0]]
    suspects.sort(key=lambda s: -s[0])
    h0 = _STEP_FACTOR * eps_work ** 0.2 if step is None else step
    for rank, (_, pos, k) in enumerate(suspects[:_REFINE]):
        arg = args[pos]
        v = np.zeros(arg.shape)
        v.reshape(-1)[k] = arg.scale
        probe, _ = _probe(phi, args, grads, {pos: v}, -1 - rank, "entry", "entry", h0, rtol, eps_work, eps_grad)
        row = rows[pos]
        if probe.status == INCONCLUSIVE:
            continue  # stays inconclusive
        mine = float(grads[pos].reshape(-1)[k])
        refined = probe.reference / arg.scale
        noise_k = probe.noise * max(abs(probe.yours), abs(probe.reference)) / arg.scale
        tol_k = max(rtol * sizes[pos], _SAFETY * noise_k) + 8 * eps_grad * abs(mine)
        row["theirs"][k], row["error"][k], row["tol"][k] = refined, abs(mine - refined), tol_k
        row["status"][k] = FAILED if abs(mine - refined) > tol_k else PASSED
    ranked: list[tuple[int, float, Entry]] = []
    for pos in checked:
        arg, row = args[pos], rows[pos]
        yours = grads[pos].reshape(-1)
        badness = {FAILED: 2, INCONCLUSIVE: 1, PASSED: 0}
        ratio = row["error"] / np.maximum(row["tol"], 1e-300)
        for k in np.argsort(-ratio, kind="stable")[:_SHOW]:
            index = tuple(int(i) for i in np.unravel_index(int(k), arg.shape)) if arg.shape else ()
            status = str(row["status"][k])
            entry = Entry(arg.name, index, float(yours[k]), float(row["theirs"][k]), float(row["error"][k]),
                          float(row["error"][k] / sizes[pos]), float(row["tol"][k] / sizes[pos]), status)
            ranked.append((badness[status], float(ratio[k]), entry))
    ranked.sort(key=lambda t: (-t[0], -t[1]))
    shown = tuple(e for _, _, e in ranked[:_SHOW])
    counts = {s: sum(int(np.sum(rows[p]["status"] == s)) for p in checked) for s in (FAILED, INCONCLUSIVE)}
    total = sum(args[p].size for p in checked)
    if counts[FAILED]:
        verdict = FAILED
        first = shown[0]
        reason = (f"{counts[FAILED]} of {total} entries disagree (each confirmed with Richardson); worst "
                  f"{first.label}: relative error {_g(first.rel_error, 2)} > tolerance {_g(first.tolerance, 2)}")
        if counts[INCONCLUSIVE]:
            reason += f"; {counts[INCONCLUSIVE]} more suspects not re-examined"
    elif counts[INCONCLUSIVE]:
        verdict = INCONCLUSIVE
        reason = (f"{counts[INCONCLUSIVE]} of {total} entries exceed the tolerance at the central-difference "
                  "step and could not be settled")
    else:
        verdict = PASSED
        worst = max((e.rel_error for e in shown), default=0.0)
        reason = f"all {total} entries agree (largest error {_g(worst, 2)}, relative to each input's largest entry)"
    return GradientReport(verdict, "full", reason, (), shown, (), noise_floor=noise_floor, step=h_rel,
                          evaluations=phi.calls, seconds=time.perf_counter() - started, **common)


# ---------------------------------------------------------------------------
# check_against: a symbolic reference at sample points


def _symbol_array(item: Any, where: str) -> np.ndarray:
    import sympy as sp

    if isinstance(item, sp.Symbol):
        array = np.empty((), dtype=object)
        array[()] = item
        return array
    if isinstance(item, sp.MatrixBase):
        item = item.tolist()
    elif isinstance(item, sp.NDimArray):
        item = item.tolist()
    if not isinstance(item, (list, tuple, np.ndarray)):
        raise InputError(f"{where}: expected a SymPy Symbol or a (nested) list of Symbols, got {type(item).__name__}")
    array = np.array(item, dtype=object)
    if array.size == 0:
        raise InputError(f"{where}: an empty list of symbols")
    for s in array.flat:
        if not isinstance(s, sp.Symbol):
            raise InputError(f"{where}: every entry must be a SymPy Symbol, got {s!r}")
    return array


def _array_name(array: np.ndarray, index: int) -> str:
    names = {re.sub(r"[_\[\(]?\d+[\]\)]?$|_\{?\d+\}?$", "", str(s)) for s in array.flat}
    if len(names) == 1 and (name := names.pop()):
        return name
    return f"arg {index}"


def _expr_text(expr: Any, limit: int = 80) -> str:
    """A SymPy expression on one line, elided after ``limit`` characters."""
    import sympy as sp

    text = " ".join(sp.sstr(expr).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reference_gradients(reference: Any, symbols: Sequence[Any], wrt_symbols: Sequence[Any],
                         options: Any) -> tuple[dict[Any, Any], str, tuple[Any, ...]]:
    """``{symbol: gradient expression}``, a description, and extra side conditions."""
    import sympy as sp

    from ..core.kernel import substitute_definitions
    from ..proofs.proof import Proof, Report, check
    from ..core.verdicts import Relation, Status

    if isinstance(reference, (Proof, Report)):
        reference = [reference]
    if isinstance(reference, Mapping):
        table = {}
        for key, value in reference.items():
            if not isinstance(key, sp.Symbol) or not isinstance(value, sp.Expr):
                raise InputError(f"a reference mapping takes Symbol -> SymPy expression, got {key!r}: {value!r}")
            table[key] = value
        return table, f"the gradient formulas given for {len(table)} symbols", ()
    if isinstance(reference, sp.Expr) and not isinstance(reference, sp.Derivative):
        table = {s: sp.diff(reference, s) for s in wrt_symbols}
        return table, f"sympy.diff of {_expr_text(reference)}", ()
    if isinstance(reference, (list, tuple)) and reference and all(isinstance(r, (Proof, Report)) for r in reference):
        table = {}
        names: dict[str, list[str]] = {}
        conditions: list[Any] = []
        for item in reference:
            report = item if isinstance(item, Report) else check(item, options)
            proof = report.proof
            start = proof.start
            if not (isinstance(start, sp.Derivative) and len(start.variable_count) == 1
                    and start.variable_count[0][1] == 1 and isinstance(start.variables[0], sp.Symbol)):
                raise InputError("a reference derivation must start at a first derivative d/ds of something, "
                                 f"got {_expr_text(start)}")
            symbol = start.variables[0]
            if proof.relation is not Relation.EQ:
                raise InputError(f"the reference derivation of d/d{symbol} is a chain of "
                                 f"'{proof.relation.value}', not of equalities")
            if report.status is Status.REFUTED:
                bad = report.first_failure
                raise InputError(f"the reference derivation of d/d{symbol} is refuted by the kernel at "
                                 f"step {bad.index if bad else '?'}: fix the derivation before checking against it")
            expr = substitute_definitions(proof.end, proof.definitions)
            table[symbol] = expr.doit() if expr.has(sp.Derivative, sp.Sum) else expr
            names.setdefault(report.status.value, []).append(f"'{proof.title}'" if proof.title else f"d/d{symbol}")
            conditions += list(proof.assumptions)
        text = "; ".join(f"derivation{'s' if len(group) > 1 else ''} of {', '.join(group)} ({status} by the kernel)"
                         for status, group in names.items())
        return table, text, tuple(conditions)
    raise InputError("reference must be a SymPy expression (an objective to differentiate), a mapping "
                     "Symbol -> gradient expression, or symgrad derivations (Proof/Report) of d/ds, "
                     f"got {type(reference).__name__}")


def check_against(
    reference: Any,
    grad_f: Callable[..., Any],
    args: Sequence[Any],
    *,
    wrt: Sequence[int] | int | None = None,
    points: int = 4,
    seed: int = 0,
    rtol: float | None = None,
    assume: Sequence[Any] = (),
    constants: Mapping[Any, float] | None = None,
    backend: Literal["numpy", "torch"] = "numpy",
    names: Sequence[str] | None = None,
) -> GradientReport:
    r"""Compare ``grad_f`` with a symbolic reference gradient at sample points.

    ``args`` lists ``grad_f``'s arguments as SymPy symbols: a Symbol (passed
    as a float) or a nested list / Matrix of Symbols (passed as a float64
    array of that shape; a torch tensor with ``backend="torch"``).
    ``reference`` is

    * a SymPy expression :math:`L`: the objective; the reference gradient is
      :func:`sympy.diff` of it;
    * a mapping ``{symbol: expression}`` of gradient formulas;
    * a symgrad derivation (``Proof`` or ``Report``), or a list of them, each a
      calc chain ``Derivative(L, s) = ... = G``: ``G`` is the reference for
      ``s``. Proofs are checked by the kernel first; a refuted one is refused
      and the kernel's status of each is in the report.

    ``grad_f(*arrays)`` returns one gradient per argument (or per argument
    in ``wrt``, positions in ``args``; default: every argument the reference
    covers). The points are drawn from the symbols' assumptions, ``assume``
    and the derivations' side conditions (exact rationals, seeded);
    ``constants`` fixes symbols that are not arguments (e.g. ``{eps: 1e-5}``).
    The reference is evaluated at 30 digits, so all the disagreement is
    yours: an entry passes when it is within ``rtol`` (default
    :math:`\sqrt{\epsilon_{64}}`) of the largest reference entry of its
    argument, plus a rounding allowance. Evidence at the points tried, not a
    proof.
    """
    import mpmath
    import sympy as sp

    from ..core.domain import Domain, stable_seed
    from ..core.functions import sigmoid

    started = time.perf_counter()
    if not callable(grad_f):
        raise InputError(f"grad_f must be callable, got {type(grad_f).__name__}")
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence) or isinstance(args, sp.Basic) or not args:
        raise InputError("args must be a non-empty list of Symbols or lists of Symbols (grad_f's arguments)")
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise InputError(f"points must be a positive integer, got {points!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if backend not in ("numpy", "torch"):
        raise InputError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    arrays = [_symbol_array(item, f"args[{i}]") for i, item in enumerate(args)]
    if names is not None:
        if isinstance(names, str) or len(names) != len(arrays):
            raise InputError(f"names must be a sequence of {len(arrays)} strings, got {names!r}")
        labels = [str(n) for n in names]
    else:
        labels = [str(a[()]) if a.shape == () else _array_name(a, i) for i, a in enumerate(arrays)]
    symbols = [s for a in arrays for s in a.flat]
    seen: set[Any] = set()
    for s in symbols:
        if s in seen:
            raise InputError(f"the symbol {s} appears twice in args")
        seen.add(s)
    constants = dict(constants or {})
    for key, value in constants.items():
        if not isinstance(key, sp.Symbol) or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"constants maps Symbols to numbers, got {key!r}: {value!r}")
        if key in seen:
            raise InputError(f"{key} is an argument of grad_f and cannot also be a constant")

    # which arguments are checked, and the reference gradient of each of their symbols
    if wrt is not None:
        positions = [wrt] if isinstance(wrt, int) else list(wrt)
        for p in positions:
            if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < len(arrays):
                raise InputError(f"wrt must hold argument positions 0..{len(arrays) - 1}, got {p!r}")
    else:
        positions = list(range(len(arrays)))
    from ..core.kernel import CheckOptions

    table, description, conditions = _reference_gradients(
        reference, symbols, [s for p in positions for s in arrays[p].flat], CheckOptions())
    if wrt is None and not isinstance(reference, sp.Expr):
        positions = [i for i, a in enumerate(arrays) if any(s in table for s in a.flat)]
        if not positions:
            raise InputError("the reference gives no gradient for any symbol in args")
    for p in positions:
        missing = [str(s) for s in arrays[p].flat if s not in table]
        if missing:
            raise InputError(f"the reference has no gradient for {', '.join(missing)} (argument {labels[p]})")
    exprs = []
    for p in positions:
        for s in arrays[p].flat:
            expr = table[s].subs({k: sp.Float(v, 30) for k, v in constants.items()})
            if expr.has(sigmoid):
                expr = expr.rewrite(sigmoid, sp.exp)
            unknown = expr.free_symbols - seen
            if unknown:
                raise InputError(f"the reference gradient for {s} uses {', '.join(sorted(map(str, unknown)))}, "
                                 "which are neither arguments nor constants")
            exprs.append(expr)
    evaluate = sp.lambdify(symbols, exprs, modules="mpmath")

    condition_list = [c for c in (*conditions, *(assume if isinstance(assume, (list, tuple)) else [assume]))]
    domain = Domain.build(symbols, condition_list)
    candidates = domain.sample(4 * points + 8, stable_seed(seed, "check_against", *symbols))
    rtol_value = _rtol(rtol, float(np.finfo(np.float64).eps))
    eps = float(np.finfo(np.float64).eps)
    probes: list[Probe] = []
    entries: list[tuple[float, Entry]] = []
    torch: Any = None
    if backend == "torch":
        try:
            import torch as torch_module  # optional dependency, imported only on request
        except ImportError:
            raise UnsupportedError("backend='torch' needs torch installed") from None
        torch = torch_module
    calls = 0
    for point in candidates:
        if len(probes) >= points:
            break
        values = [float(point[s]) for s in symbols]
        with mpmath.workdps(30):
            try:
                raw_reference = evaluate(*[mpmath.mpf(point[s].p) / point[s].q for s in symbols])
                reference_values = [complex(r) for r in raw_reference]
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                continue
        if any(r.imag != 0 or not math.isfinite(r.real) for r in reference_values):
            continue
        flat_reference = np.array([r.real for r in reference_values])
        call_args: list[Any] = []
        offset = 0
        for a in arrays:
            block = np.array(values[offset:offset + a.size], dtype=np.float64).reshape(a.shape)
            offset += a.size
            if a.shape == ():
                call_args.append(float(block))
            elif torch is not None:
                call_args.append(torch.tensor(block, dtype=torch.float64))
            else:
                call_args.append(block)
        try:
            result = grad_f(*call_args)
        except (InputError, UnsupportedError):
            raise
        except Exception as exc:
            raise InputError(f"grad_f raised at a sample point: {type(exc).__name__}: {exc}") from exc
        calls += 1
        raw = _gradients(result, len(arrays), positions, "grad_f(*args)")
        fake = [_Arg(i, labels[i], "numpy", None, a.shape, "float64", eps) for i, a in enumerate(arrays)]
        where = _point_text(symbols, point)
        offset = 0
        worst: tuple[float, Entry] | None = None
        problem = ""
        blocks = []
        for p in positions:
            array, problem = _prepare_gradient(raw[p], fake[p])
            if problem or array is None:
                break
            count = arrays[p].size
            blocks.append((p, array.reshape(-1), flat_reference[offset:offset + count]))
            offset += count
        if problem:
            return GradientReport(FAILED, "reference", problem, tuple(probes), (), (),
                                  inputs=tuple(f"{labels[p]} {arrays[p].shape}" for p in positions), scales=(),
                                  upstream="", precision="float64; reference at 30 digits", rtol=rtol_value,
                                  noise_floor=0.0, step=None, evaluations=calls, seed=seed,
                                  seconds=time.perf_counter() - started, reference=description)
        largest = max((float(np.max(np.abs(r))) for _, _, r in blocks), default=0.0)
        for (p, yours, theirs), start in zip(blocks, np.cumsum([0] + [arrays[q].size for q in positions])):
            size = float(np.max(np.abs(theirs)))
            scale = size if size > 0 else (largest if largest > 0 else 1.0)
            tol = rtol_value * size + 64 * eps * max(largest, float(np.max(np.abs(yours))))
            error = np.abs(yours - theirs)
            for k in np.argsort(-error, kind="stable")[:_SHOW]:
                index = tuple(int(i) for i in np.unravel_index(int(k), arrays[p].shape)) if arrays[p].shape else ()
                status = FAILED if error[k] > tol else PASSED
                formula = _expr_text(exprs[int(start) + int(k)], 90)
                entry = Entry(labels[p], index, float(yours[k]), float(theirs[k]), float(error[k]),
                              float(error[k] / scale), float(tol / scale), status,
                              f"at {where}; d/d{arrays[p].flat[int(k)]} = {formula}")
                ratio = float(error[k] / tol) if tol > 0 else math.inf
                entries.append((ratio, entry))
                if worst is None or ratio > worst[0]:
                    worst = (ratio, entry)
        assert worst is not None
        w = worst[1]
        probes.append(Probe("point", f"point {len(probes) + 1}", w.yours, w.reference, w.abs_error, w.rel_error,
                            0.0, w.tolerance, w.status, None, f"worst entry {w.label}"))
    entries.sort(key=lambda t: -t[0])
    shown: list[Entry] = []
    for _, entry in entries:
        if len(shown) >= _SHOW:
            break
        shown.append(entry)
    if not probes:
        verdict, reason = INCONCLUSIVE, "the reference is not finite and real at any sampled point"
    else:
        verdict = _overall(probes)
        reason = _reason(probes, verdict)
        if len(probes) < points:
            reason += f" (only {len(probes)} of {points} points were usable)"
    return GradientReport(verdict, "reference", reason, tuple(probes), tuple(shown), (),
                          inputs=tuple(f"{labels[p]} {arrays[p].shape}" for p in positions), scales=(),
                          upstream="", precision="float64; reference at 30 digits", rtol=rtol_value,
                          noise_floor=0.0, step=None, evaluations=calls, seed=seed,
                          seconds=time.perf_counter() - started, reference=description)


def _point_text(symbols: Sequence[Any], point: Mapping[Any, Any], limit: int = 8) -> str:
    parts = [f"{s} = {float(point[s]):.6g}" for s in symbols[:limit]]
    if len(symbols) > limit:
        parts.append(f"… ({len(symbols) - limit} more)")
    return ", ".join(parts)


# ---------------------------------------------------------------------------
# assert_gradient


class InconclusiveGradientWarning(UserWarning):
    """A gradient check that could not decide, accepted with ``allow_inconclusive=True``."""


def assert_gradient(f: Callable[..., Any] | GradientReport, grad_f: Callable[..., Any] | str | None = None,
                    *inputs: Any, allow_inconclusive: bool = False, **options: Any) -> GradientReport:
    """Run :func:`check_gradient` (or take a finished report) and raise unless it passed.

    Raises :class:`GradientError` (an ``AssertionError``) whose message names
    the failing direction or entry, both sides, the tolerance and how to
    reproduce it. An inconclusive check raises too, unless
    ``allow_inconclusive=True`` (then it warns with
    :class:`InconclusiveGradientWarning`). Returns the report.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    if isinstance(f, GradientReport):
        if grad_f is not None or inputs or options:
            raise InputError("assert_gradient(report) takes a finished report and nothing else")
        report = f
    else:
        if grad_f is None:
            raise InputError("assert_gradient(f, grad_f, *inputs) needs grad_f")
        report = check_gradient(f, grad_f, *inputs, **options)
    if report.failed or (report.inconclusive and not allow_inconclusive):
        raise GradientError(failure_message(report), report)
    if report.inconclusive:
        warnings.warn(failure_message(report), InconclusiveGradientWarning, stacklevel=2)
    return report
