"""Full mode: every entry of the gradient by central differences, suspects re-examined along their coordinate."""

from __future__ import annotations

import math
import time
from typing import Any, Mapping

import numpy as np

from ..differences import (
    Level,
    central_step,
    difference_noise,
    directional_difference,
    extrapolation_step,
    rounding_level,
)
from .adapters import Arg, Objective
from .directional import SAFETY, probe_direction
from .report import FAILED, INCONCLUSIVE, PASSED, SHOW, Entry, GradientReport, sci

#: At most this many suspicious entries are re-examined.
_REFINE = 16


def _coordinate(phi: Objective, arg: Arg, k: int, h: float) -> Level:
    """Central difference of phi along entry ``k`` of ``arg`` with absolute step ``h``."""
    v = np.zeros(arg.shape)
    v.reshape(-1)[k] = 1.0
    return directional_difference(phi.along([(arg, phi.working(arg, v))]), h)


def check_entries(phi: Objective, args: list[Arg], checked: list[int], grads: Mapping[int, np.ndarray],
                  rtol: float, eps_work: float, eps_grad: float, step: float | None, started: float,
                  common: dict[str, Any]) -> GradientReport:
    """Every entry by central differences; suspicious entries re-examined with Richardson."""
    h_rel = step if step is not None else central_step(eps_work)
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
    level = rounding_level(eps_work, fmax, float(np.median(quanta)))  # rounding noise of one value of phi
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
        noise = difference_noise(level, h_rel * arg.scale)  # rounding of one central difference
        noise_floor = max(noise_floor, noise / sizes[pos])
        tol = np.maximum(rtol * size, SAFETY * noise) + 8 * eps_grad * np.abs(yours)
        error = np.where(np.isfinite(theirs), np.abs(yours - theirs), np.inf)
        bent = bends[pos] > 1e-2 * np.maximum(size, np.abs(theirs))  # a kink within the step?
        statuses = np.where((error <= tol) & ~bent, PASSED, INCONCLUSIVE).astype(object)
        rows[pos] = {"theirs": theirs.copy(), "error": error, "tol": tol, "status": statuses}
        suspects += [(float(error[k] / tol[k]) if tol[k] > 0 else math.inf, pos, int(k))
                     for k in np.nonzero((error > tol) | bent)[0]]
    suspects.sort(key=lambda s: -s[0])
    h0 = extrapolation_step(eps_work) if step is None else step
    for rank, (_, pos, k) in enumerate(suspects[:_REFINE]):
        arg = args[pos]
        v = np.zeros(arg.shape)
        v.reshape(-1)[k] = arg.scale
        probe, _ = probe_direction(phi, args, grads, {pos: v}, -1 - rank, "entry", "entry", h0, rtol, eps_work,
                                   eps_grad)
        row = rows[pos]
        if probe.status == INCONCLUSIVE:
            continue  # stays inconclusive
        mine = float(grads[pos].reshape(-1)[k])
        refined = probe.reference / arg.scale
        noise_k = probe.noise * max(abs(probe.yours), abs(probe.reference)) / arg.scale
        tol_k = max(rtol * sizes[pos], SAFETY * noise_k) + 8 * eps_grad * abs(mine)
        row["theirs"][k], row["error"][k], row["tol"][k] = refined, abs(mine - refined), tol_k
        row["status"][k] = FAILED if abs(mine - refined) > tol_k else PASSED
    ranked: list[tuple[int, float, Entry]] = []
    for pos in checked:
        arg, row = args[pos], rows[pos]
        yours = grads[pos].reshape(-1)
        badness = {FAILED: 2, INCONCLUSIVE: 1, PASSED: 0}
        ratio = row["error"] / np.maximum(row["tol"], 1e-300)
        for k in np.argsort(-ratio, kind="stable")[:SHOW]:
            index = tuple(int(i) for i in np.unravel_index(int(k), arg.shape)) if arg.shape else ()
            status = str(row["status"][k])
            entry = Entry(arg.name, index, float(yours[k]), float(row["theirs"][k]), float(row["error"][k]),
                          float(row["error"][k] / sizes[pos]), float(row["tol"][k] / sizes[pos]), status)
            ranked.append((badness[status], float(ratio[k]), entry))
    ranked.sort(key=lambda t: (-t[0], -t[1]))
    shown = tuple(e for _, _, e in ranked[:SHOW])
    counts = {s: sum(int(np.sum(rows[p]["status"] == s)) for p in checked) for s in (FAILED, INCONCLUSIVE)}
    total = sum(args[p].size for p in checked)
    examined = min(len(suspects), _REFINE)
    if counts[FAILED]:
        verdict = FAILED
        first = shown[0]
        worst = f"worst {first.label}: relative error {sci(first.rel_error, 2)} > tolerance {sci(first.tolerance, 2)}"
        if len(suspects) > examined:  # count them all, and say how many were examined
            reason = (f"{len(suspects)} of {total} entries exceed the tolerance at the central-difference step; "
                      f"the {examined} worst were re-examined with Richardson and {counts[FAILED]} of them "
                      f"disagree (the other {len(suspects) - examined} were not re-examined); {worst}")
        else:
            reason = f"{counts[FAILED]} of {total} entries disagree (each confirmed with Richardson); {worst}"
            if counts[INCONCLUSIVE]:
                reason += f"; {counts[INCONCLUSIVE]} more suspects not re-examined"
    elif counts[INCONCLUSIVE]:
        verdict = INCONCLUSIVE
        reason = (f"{counts[INCONCLUSIVE]} of {total} entries exceed the tolerance at the central-difference "
                  "step and could not be settled")
    else:
        verdict = PASSED
        worst = max((e.rel_error for e in shown), default=0.0)
        reason = f"all {total} entries agree (largest error {sci(worst, 2)}, relative to each input's largest entry)"
    return GradientReport(verdict, "full", reason, (), shown, (), noise_floor=noise_floor, step=h_rel,
                          evaluations=phi.calls, seconds=time.perf_counter() - started, **common)
