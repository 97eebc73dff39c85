"""check_gradient (f and grad_f against finite differences) and assert_gradient (raise unless it passed)."""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import replace
from typing import Any, Callable, Iterable, Literal, Sequence

import numpy as np

from ...core.errors import GradientError, InputError, UnsupportedError
from .adapters import (
    LAYER_HINT,
    Arg,
    Autograd,
    Objective,
    as_float64,
    cast,
    choose_upstream,
    classify,
    copy_value,
    input_names,
    modified,
    output_info,
    positional_parameters,
    prepare_gradient,
    rms,
    split_gradients,
    torch_of,
)
from .directional import check_directions
from .full import check_entries
from .report import FAILED, INCONCLUSIVE, GradientReport, failure_message, resolve_rtol, sci

Mode = Literal["directional", "full"]
Precision = Literal["auto", "native", "float64"]


def _checked_positions(args: list[Arg], wrt: Sequence[int] | int | None) -> list[int]:
    """The positions of the inputs to check: ``wrt`` validated, else every floating-point input."""
    if wrt is None:  # arrays and tensors; Python floats (hyperparameters, mostly) only when there is nothing else
        positions = [a.position for a in args if a.kind in ("numpy", "torch")]
        positions = positions or [a.position for a in args if a.kind == "scalar"]
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


def _check_options(f: Any, grad_f: Any, inputs: tuple[Any, ...], mode: str, precision: str, directions: Any,
                   seed: Any, step: Any) -> None:
    """InputError unless the options of :func:`check_gradient` are well-formed."""
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
    is one input; ``None`` for an input without gradient, read as zeros and
    named in the report), or is
    the string ``"autograd"`` for torch inputs: the gradient torch's autograd
    computes through ``f``, so a custom ``torch.autograd.Function`` is checked
    through its ``backward``. ``grad_f`` is handed copies of the upstream
    and of the array inputs, so a backward that edits ``dout`` in place
    cannot change what it is compared with; the report notes such edits.

    Inputs are NumPy arrays, floats or torch tensors. Floating-point arrays
    and tensors are checked (Python floats only when there are none: they
    are usually hyperparameters), or the inputs at the positions in ``wrt``;
    the others are passed through. ``mode="directional"`` compares ``directions`` random directional
    derivatives (six evaluations of ``f`` each, whatever the input size);
    ``mode="full"`` compares every entry (:math:`2N` evaluations; for small
    inputs). ``rtol`` defaults to :math:`\sqrt{\epsilon}` of the gradient's
    dtype; ``step`` (a fraction of each input's RMS) overrides the first
    finite-difference step; ``precision`` is ``"auto"`` (evaluate f in float64
    for lower-precision inputs when f is dtype-generic), ``"native"`` or
    ``"float64"``. The package docstring (:mod:`symgrad.numerics.gradcheck`) gives the criterion.

    The verdict is ``passed``/``failed``/``inconclusive``; passed is evidence,
    never a proof. A gradient of the wrong shape or with non-finite entries is
    a failed verdict. Misuse (no inputs, an ``upstream`` of the wrong shape,
    ``f`` raising at the inputs, ``grad_f`` returning the wrong number of
    gradients) raises :class:`~symgrad.errors.InputError`.
    """
    started = time.perf_counter()
    _check_options(f, grad_f, inputs, mode, precision, directions, seed, step)
    args = [classify(i, n, v) for i, (n, v) in enumerate(zip(input_names(f, len(inputs), names), inputs))]
    checked = _checked_positions(args, wrt)
    if grad_f == "autograd" and not any(args[p].kind == "torch" for p in checked):
        raise InputError("grad_f='autograd' needs torch tensor inputs")
    if grad_f == "autograd":
        floats = [args[p].name for p in checked if args[p].kind != "torch"]
        if floats:
            raise InputError(f"grad_f='autograd' checks tensors only; {', '.join(floats)} "
                             f"{'is not a tensor' if len(floats) == 1 else 'are not tensors'}: leave "
                             f"{'it' if len(floats) == 1 else 'them'} out of wrt=")
    eps_grad = max(args[p].eps for p in checked)
    rtol_value = resolve_rtol(rtol, eps_grad)

    recorder = None
    try:
        if grad_f == "autograd":
            recorder = Autograd(f, args, checked)
            out = recorder.out.detach()
        else:
            torch = next((torch_of(a.value) for a in args if a.kind == "torch"), None)
            with contextlib.nullcontext() if torch is None else torch.no_grad():
                out = f(*inputs)
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:
        raise InputError(f"f raised at the inputs given: {type(exc).__name__}: {exc}") from exc
    out_shape, _ = output_info(out)
    scalar_out = upstream is None and int(np.prod(out_shape)) == 1
    float64 = _choose_precision(f, args, checked, precision, out_shape)
    for arg in args:
        if arg.position in checked:
            arg.work = cast(arg, arg.value, float64)
            arg.scale = rms(as_float64(arg.value))
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
        u64, u_native = choose_upstream(out, upstream, np.random.default_rng([int(seed), 1]))
        upstream_text = ("random signed entries" if upstream is None else "given") + f" {tuple(out_shape)}"

    call = "grad_f(*inputs)" if scalar_out else "grad_f(upstream, *inputs)"
    notes: list[str] = []
    try:
        if recorder is not None:
            raw = recorder.gradients(u_native)
        else:
            # grad_f gets copies: a backward that edits dout (or x) in place must not change what it is compared with
            handed = [copy_value(v) for v in inputs]
            handed_u = copy_value(u_native)
            result = grad_f(*handed) if scalar_out else grad_f(handed_u, *handed)  # type: ignore[operator]
            raw = split_gradients(result, len(args), checked, call)
            if not scalar_out and modified(u_native, handed_u):
                notes.append("grad_f modified the upstream gradient in place; it was handed a copy, so the check "
                             "compares with the original, but a caller's dout would change (copy it first: "
                             "dx = dout.copy())")
            edited = [a.name for a, v in zip(args, handed) if modified(a.value, v)]
            if edited:
                notes.append(f"grad_f modified {', '.join(edited)} in place (it was handed copies)")
    except (InputError, UnsupportedError):
        raise
    except Exception as exc:
        hint = ""
        if (isinstance(exc, TypeError) and callable(grad_f) and len(inputs) + (not scalar_out) != 2
                and [p.name for p in positional_parameters(grad_f)][:1] != ["self"]
                and len(positional_parameters(grad_f)) == 2):
            hint = f"; grad_f looks like a layer's backward(dout, cache): {LAYER_HINT}"
        raise InputError(f"{call} raised: {type(exc).__name__}: {exc}{hint}") from exc
    grads: dict[int, np.ndarray] = {}
    problems = []
    for pos in checked:
        array, problem = prepare_gradient(raw[pos], args[pos])
        if problem:
            problems.append(problem)
        else:
            grads[pos] = array  # type: ignore[assignment]

    phi = Objective(f, args, u64, None if scalar_out else out_shape)
    tried = eps_grad > float(np.finfo(np.float64).eps) and precision != "native"
    phi.calls = 1 + int(tried)  # f at the inputs, and its trial in float64
    if not float64 or eps_grad == eps_work:  # f was evaluated at exactly the working inputs already
        with phi.quiet():
            phi.known_at_zero(out)
    common: dict[str, Any] = dict(
        inputs=tuple(f"{args[p].describe()}, scale {sci(args[p].scale, 2)}" for p in checked),
        scales=tuple(args[p].scale for p in checked), upstream=upstream_text, precision=precision_text,
        rtol=rtol_value, seed=int(seed), notes=tuple(notes))
    unset = [args[p].name for p in checked if raw[p] is None]
    if unset:
        notes.append(f"grad_f returned None for {', '.join(unset)}: read as zeros")
    unchecked = [a for a in args if a.kind == "scalar" and a.position not in checked]
    if unchecked and wrt is None:
        notes.append(f"not checked: {', '.join(a.name for a in unchecked)} (Python float"
                     f"{'s' if len(unchecked) > 1 else ''}, passed through; name the inputs to check with "
                     f"wrt=[...], e.g. wrt={sorted(checked + [a.position for a in unchecked])})")
    common["notes"] = tuple(notes)
    if problems:
        report = GradientReport(FAILED, mode, "; ".join(problems), (), (), (), noise_floor=0.0, step=None,
                                evaluations=0, seconds=time.perf_counter() - started, **common)
    else:
        with phi.quiet():
            if mode == "full":
                report = check_entries(phi, args, checked, grads, rtol_value, eps_work, eps_grad, step, started,
                                       common)
            else:
                report = check_directions(phi, args, checked, grads, rtol_value, eps_work, eps_grad, step,
                                          int(directions), np.random.default_rng([int(seed), 0]), started, common)
    if report.passed:
        return report
    if unset and report.failed:
        report = replace(report, reason=f"grad_f returned None for {', '.join(unset)} (read as zeros: is the "
                                        f"backward implemented?); {report.reason}",
                         notes=tuple(n for n in report.notes if not n.startswith("grad_f returned None")))
    if not problems:
        report = _unless_random(f, inputs, out, report, phi.quiet)
    return report


def _unless_random(f: Callable[..., Any], inputs: tuple[Any, ...], out: Any, report: GradientReport,
                   quiet: Callable[[], Any]) -> GradientReport:
    """``report``, or an inconclusive one if f gives another value at the same inputs (unseeded randomness)."""
    try:
        with quiet():
            again = f(*[copy_value(v) for v in inputs])
        first, second = as_float64(out), as_float64(again)
    except Exception:  # f raising now is not evidence of randomness
        return report
    if first.shape != second.shape:
        spread = math.inf
    else:
        size = float(np.max(np.abs(first), initial=0.0))
        spread = float(np.max(np.abs(first - second), initial=0.0)) / (size if size > 0 else 1.0)
    if not spread > 64 * float(np.finfo(np.float64).eps):  # equal up to rounding (or both nan)
        return report
    reason = (f"f is not deterministic: two evaluations at the same inputs differ (by {sci(spread, 2)} relative "
              "to its largest value): seed it (e.g. a dropout mask), or pass its random values as inputs; "
              "finite differences of a random f say nothing about grad_f")
    return replace(report, verdict=INCONCLUSIVE, reason=reason, evaluations=report.evaluations + 1,
                   cause="nondeterministic")


def _dtype_list(args: list[Arg], checked: list[int]) -> str:
    """The checked inputs' dtypes, each once, joined by ``/``."""
    names: list[str] = []
    for p in checked:
        if args[p].dtype not in names:
            names.append(args[p].dtype)
    return "/".join(names)


def _choose_precision(f: Callable[..., Any], args: list[Arg], checked: list[int], precision: str,
                      out_shape: tuple[int, ...]) -> bool:
    """Whether f is evaluated in float64 (True) or in the inputs' own dtypes."""
    low = any(args[p].eps > float(np.finfo(np.float64).eps) for p in checked)
    if not low or precision == "native":
        return not low
    trial = [cast(a, a.value, True) if a.position in checked else a.value for a in args]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shape, dtype = output_info(f(*trial))
        generic = dtype == "float64" and shape == out_shape
    except Exception:
        generic = False
    if not generic and precision == "float64":
        raise InputError("precision='float64' needs f to return float64 for float64 inputs, "
                         "but it does not (it is not dtype-generic)")
    return generic


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
