"""check_against: a hand-written gradient against a symbolic reference (an objective, formulas or derivations)."""

from __future__ import annotations

import math
import re
import time
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from ...core.errors import InputError, UnsupportedError
from .adapters import Arg, prepare_gradient, split_gradients
from .report import (
    FAILED,
    INCONCLUSIVE,
    PASSED,
    SHOW,
    Entry,
    GradientReport,
    Probe,
    resolve_rtol,
    summarize,
    verdict_of,
)


def _symbol_array(item: Any, where: str) -> np.ndarray:
    """One argument of grad_f as an object array of SymPy Symbols (0-d for a Symbol)."""
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
    """The common stem of an array's symbol names (``w`` for ``w_1, w_2``), else ``arg <index>``."""
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

    from ...core.kernel import substitute_definitions
    from ...proofs.proof import Proof, Report, check
    from ...core.verdicts import Relation, Status

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

    from ...core.domain import Domain, stable_seed
    from ...core.functions import sigmoid

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
    from ...core.kernel import CheckOptions

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
    rtol_value = resolve_rtol(rtol, float(np.finfo(np.float64).eps))
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
        raw = split_gradients(result, len(arrays), positions, "grad_f(*args)")
        fake = [Arg(i, labels[i], "numpy", None, a.shape, "float64", eps) for i, a in enumerate(arrays)]
        where = _point_text(symbols, point)
        offset = 0
        worst: tuple[float, Entry] | None = None
        problem = ""
        blocks = []
        for p in positions:
            array, problem = prepare_gradient(raw[p], fake[p])
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
            for k in np.argsort(-error, kind="stable")[:SHOW]:
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
        if len(shown) >= SHOW:
            break
        shown.append(entry)
    if not probes:
        verdict, reason = INCONCLUSIVE, "the reference is not finite and real at any sampled point"
    else:
        verdict = verdict_of(probes)
        reason = summarize(probes, verdict)
        if len(probes) < points:
            reason += f" (only {len(probes)} of {points} points were usable)"
    return GradientReport(verdict, "reference", reason, tuple(probes), tuple(shown), (),
                          inputs=tuple(f"{labels[p]} {arrays[p].shape}" for p in positions), scales=(),
                          upstream="", precision="float64; reference at 30 digits", rtol=rtol_value,
                          noise_floor=0.0, step=None, evaluations=calls, seed=seed,
                          seconds=time.perf_counter() - started, reference=description)


def _point_text(symbols: Sequence[Any], point: Mapping[Any, Any], limit: int = 8) -> str:
    """A sample point as ``s = value, ...``, the first ``limit`` symbols."""
    parts = [f"{s} = {float(point[s]):.6g}" for s in symbols[:limit]]
    if len(symbols) > limit:
        parts.append(f"… ({len(symbols) - limit} more)")
    return ", ".join(parts)
