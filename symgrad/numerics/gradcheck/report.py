"""The outcome of a gradient check: probes, entries, the report, its verdict and its messages."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from ...core.errors import InputError

PASSED, FAILED, INCONCLUSIVE = "passed", "failed", "inconclusive"

#: Entries listed in a report.
SHOW = 5


def sci(value: float, digits: int = 3) -> str:
    """``value`` in scientific notation with ``digits`` decimals (``"0"`` for zero, ``"nan"``/``"inf"`` as is)."""
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
                f"rel. error {sci(self.rel_error)}   noise {sci(self.noise)}   "
                f"tol. {sci(self.tolerance)}   {self.status}{note}")


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
        """``input[i, j]`` (the input's name alone for a scalar)."""
        if not self.index:
            return self.input
        return f"{self.input}[{', '.join(str(i) for i in self.index)}]"

    def line(self) -> str:
        """One line: label, both values, errors and status (``where`` is left out)."""
        return (f"{self.label:<14} yours {self.yours: .12e}   reference {self.reference: .12e}   "
                f"rel. error {sci(self.rel_error)}   tol. {sci(self.tolerance)}   {self.status}")


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
    ``notes`` are remarks that do not change the verdict (grad_f edited its
    arguments in place, returned None for an input, inputs left unchecked).
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
    notes: tuple[str, ...] = ()
    cause: str = ""  # "nondeterministic" when f gave two values at the same inputs

    @property
    def passed(self) -> bool:
        """The verdict is ``"passed"``."""
        return self.verdict == PASSED

    @property
    def failed(self) -> bool:
        """The verdict is ``"failed"``."""
        return self.verdict == FAILED

    @property
    def inconclusive(self) -> bool:
        """The verdict is ``"inconclusive"``."""
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
            setup.append(f"step {sci(self.step, 2)} × input scale")
        lines.append("  " + ", ".join(setup))
        if self.reference:
            lines.append(f"  reference: {self.reference}")
        calls = (f"{self.evaluations} calls of grad_f" if self.mode == "reference"
                 else f"{self.evaluations} evaluations of f")
        noise = "" if self.mode == "reference" else f", noise floor {sci(self.noise_floor, 2)}"
        lines.append(f"  rtol {sci(self.rtol, 2)}{noise}, {calls}, seed {self.seed}")
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
        for note in self.notes:
            lines.append(f"  note: {note}")
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
    if report.cause == "nondeterministic":
        lines.append("  not a failure of your gradient: the numbers cannot decide until f is deterministic")
    elif report.mode == "directional" and probe is not None and probe.status == INCONCLUSIVE:
        lines.append(f"  yours:               <grad_f, v> = {probe.yours: .12e}")
        if math.isfinite(probe.reference):
            lines.append(f"  finite differences:  d/dt f(x+tv) = {probe.reference: .12e}, "
                         f"noise floor {sci(probe.noise)} (relative)")
        else:
            lines.append(f"  finite differences:  no usable value down to step {sci(probe.step or 0.0, 2)} "
                         "× input scale")
        lines.append("  not a failure of your gradient: the numbers cannot decide here. At a kink, check at "
                     "points away from it; for a noisy f, use float64 or pass step= or rtol=")
        lines.append(f"  reproduce with seed={report.seed}")
    elif report.mode == "directional" and probe is not None:
        lines.append(f"  yours:               <grad_f, v> = {probe.yours: .12e}")
        lines.append(f"  finite differences:  d/dt f(x+tv) = {probe.reference: .12e}   "
                     f"(Richardson, step {sci(probe.step or 0.0, 2)} × input scale)")
        lines.append(f"  relative error {sci(probe.rel_error)}, tolerance {sci(probe.tolerance)}, "
                     f"noise floor {sci(probe.noise)}" + (f"; {probe.note}" if probe.note else ""))
        if report.by_input:
            bad = [p.label for p in report.by_input if p.status == FAILED]
            good = [p.label for p in report.by_input if p.status == PASSED]
            parts = [f"{p.label} {sci(p.rel_error, 1)}" for p in report.by_input]
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
        lines.append(f"  relative error {sci(entry.rel_error)} (to the largest entry of {entry.input}), "
                     f"tolerance {sci(entry.tolerance)}")
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
    for note in report.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def verdict_of(probes: Sequence[Probe]) -> str:
    """Failed if any probe failed, else inconclusive if any was (or there are none), else passed."""
    statuses = {p.status for p in probes}
    if FAILED in statuses:
        return FAILED
    if INCONCLUSIVE in statuses or not probes:
        return INCONCLUSIVE
    return PASSED


def summarize(probes: Sequence[Probe], verdict: str, total: int | None = None) -> str:
    """The one-line reason of a report: the worst probe of the verdict's kind, of ``total`` planned."""
    n = total or len(probes)
    if verdict == PASSED:
        worst = max(p.rel_error for p in probes)
        return f"all {n} {probes[0].kind}s agree (largest relative error {sci(worst, 2)})"
    bad = [p for p in probes if p.status == verdict]
    first = max(bad, key=lambda p: p.rel_error if math.isfinite(p.rel_error) else -1.0)
    if verdict == FAILED:
        also = f"; {len(bad)} of {len(probes)} probed disagree" if len(bad) > 1 else ""
        return (f"{first.label} of {n} disagrees: relative error {sci(first.rel_error, 2)} > "
                f"tolerance {sci(first.tolerance, 2)}" + (f" ({first.note})" if first.note else "") + also)
    return f"{first.label} of {n} is inconclusive: {first.note or 'no usable finite differences'}"


def resolve_rtol(rtol: float | None, eps_grad: float) -> float:
    """The relative tolerance: ``rtol`` checked, or ``sqrt(eps)`` of the gradient's dtype."""
    if rtol is None:
        return math.sqrt(eps_grad)
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not (0 < rtol < 1):
        raise InputError(f"rtol must be a number in (0, 1), got {rtol!r}")
    return float(rtol)
