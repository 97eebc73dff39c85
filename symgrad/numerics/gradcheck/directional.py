"""Directional mode: random directions ``v``, ``<grad_f, v>`` against ``d/dt f(x + t v)``, and the verdict."""

from __future__ import annotations

import math
import time
from typing import Any, Mapping

import numpy as np

from ..differences import JITTERS, Directional, derivative_along, extrapolation_step, remeasure
from .adapters import Arg, Objective, dot, signed
from .report import FAILED, INCONCLUSIVE, PASSED, GradientReport, Probe, summarize, verdict_of

#: A direction passes when the disagreement is within this many noise floors.
SAFETY = 4.0
#: A tolerance wider than this (relative) cannot tell a bug from noise: inconclusive.
_RESOLVE = 0.1
#: A disagreement within this many noise floors is re-measured at jittered steps before it counts.
_CONFIRM_BELOW = 1e5


def check_directions(phi: Objective, args: list[Arg], checked: list[int], grads: Mapping[int, np.ndarray],
                     rtol: float, eps_work: float, eps_grad: float, step: float | None, count: int,
                     rng: np.random.Generator, started: float, common: dict[str, Any]) -> GradientReport:
    """``count`` random directions; stops at the first that fails and localises it by input."""
    h0 = step if step is not None else extrapolation_step(eps_work)
    probes: list[Probe] = []
    by_input: list[Probe] = []
    for j in range(count):
        vs = {p: signed(rng, args[p].shape) * args[p].scale for p in checked}
        probe, found = probe_direction(phi, args, grads, vs, j, f"direction {j + 1}", "direction", h0, rtol,
                                       eps_work, eps_grad)
        probes.append(probe)
        if probe.status == FAILED:
            if len(checked) > 1:
                by_input = _localise(phi, args, checked, grads, vs, j, found, h0, rtol, eps_work, eps_grad)
            break
    verdict = verdict_of(probes)
    reason = summarize(probes, verdict, count)
    if len(probes) < count:
        reason += f"; stopped there ({count - len(probes)} more directions not needed for the verdict)"
    noise = max((p.noise for p in probes if math.isfinite(p.noise)), default=math.inf)
    return GradientReport(verdict, "directional", reason, tuple(probes), (), tuple(by_input),
                          noise_floor=noise, step=h0, evaluations=phi.calls,
                          seconds=time.perf_counter() - started, **common)


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
        yours += dot(grads[pos], v)
        magnitude += dot(np.abs(grads[pos]), np.abs(v))
    return yours, 8 * eps_grad * magnitude


def probe_direction(phi: Objective, args: list[Arg], grads: Mapping[int, np.ndarray],
                    vs: Mapping[int, np.ndarray], key: int, label: str, kind: str, h0: float, rtol: float,
                    eps_work: float, eps_grad: float) -> tuple[Probe, Directional]:
    """Compare ``<grad, v>`` with the derivative of f along ``v`` (``vs``: one block per input)."""
    yours, rounding = _yours(grads, vs, eps_grad)

    def resolved(value: float, noise: float) -> bool:
        return SAFETY * noise <= 0.25 * rtol * max(abs(value), abs(yours))

    line = phi.along([(args[p], phi.direction_for(args[p], key, v)) for p, v in vs.items()])
    found = derivative_along(line, h0, eps_work, resolved)
    if not found.converged:
        return Probe(kind, label, yours, math.nan, math.nan, math.nan, math.inf, math.nan, INCONCLUSIVE,
                     found.step, found.note), found
    allowance = SAFETY * found.noise
    error = abs(yours - found.value)
    if max(rtol * max(abs(yours), abs(found.value)), allowance, rounding) < error <= _CONFIRM_BELOW * found.noise:
        mean, allowance = remeasure(line, found, eps_work)  # not overwhelming: confirm first
        if not math.isfinite(mean):
            return Probe(kind, label, yours, found.value, error, math.nan, math.inf, math.nan, INCONCLUSIVE,
                         found.step, "the re-measurement at jittered steps did not settle"), found
        found = Directional(mean, allowance / SAFETY, found.step, found.fmax, True, "re-measured")
    status, rel, tol, noise, note = _judge(yours, found.value, found.noise, allowance, rtol, rounding,
                                           found.fmax, eps_work)
    if found.note == "re-measured":
        note = (note + "; " if note else "") + f"re-measured at {JITTERS} jittered steps"
    return Probe(kind, label, yours, found.value, abs(yours - found.value), rel, noise, tol, status,
                 found.step, note), found


def _localise(phi: Objective, args: list[Arg], checked: list[int], grads: Mapping[int, np.ndarray],
              vs: Mapping[int, np.ndarray], key: int, joint: Directional, h0: float, rtol: float,
              eps_work: float, eps_grad: float) -> list[Probe]:
    """The failing direction restricted to each input in turn.

    The last input is not probed: by linearity of the derivative,
    ``phi'(v) = sum_i phi'(v_i)``, so its value is the joint one minus the
    others', with the sum of their noise floors.
    """
    probes: list[Probe] = []
    value, noise = joint.value, joint.noise
    for pos in checked[:-1]:
        probe, found = probe_direction(phi, args, grads, {pos: vs[pos]}, key, f"{args[pos].name}", "input", h0,
                                       rtol, eps_work, eps_grad)
        probes.append(probe)
        if not found.converged:
            value = math.nan
        value -= found.value
        noise += found.noise
    last = checked[-1]
    if not math.isfinite(value):
        probe, _ = probe_direction(phi, args, grads, {last: vs[last]}, key, f"{args[last].name}", "input", h0,
                                   rtol, eps_work, eps_grad)
        return probes + [probe]
    yours, rounding = _yours(grads, {last: vs[last]}, eps_grad)
    status, rel, tol, rel_noise, note = _judge(yours, value, noise, SAFETY * noise, rtol, rounding, joint.fmax,
                                               eps_work)
    inferred = "the joint derivative minus the other inputs'"
    return probes + [Probe("input", f"{args[last].name}", yours, value, abs(yours - value), rel, rel_noise, tol,
                           status, joint.step, f"{note}; {inferred}" if note else inferred)]
