"""The kernel on the adversarial corpus (``tests/kernel_corpus.py``), beside a sampling-only anchor.

    .venv/bin/python benchmarks/kernel_corpus.py [--budget 3] [--cap SECONDS] [--samples 200] [--cases]

Every case is checked by the kernel with ``budget`` seconds per step, in a forked child
killed after ``cap`` seconds (default ``max(6 budget, 2 budget + 10)``). In the same run
each case is also classified by *sampling only* -- what the kernel would say with its
symbolic phase disabled: the ``samples`` points of
``Domain.build(symbols, assumptions).sample(samples, seed)`` (``seed`` is the kernel's own
seed for its full sampling phase), both sides evaluated with ``evalf(50)`` (exactly when both
are rational); ``refuted`` at the first point where the relation fails by more than the kernel's
own tolerance (10**-38 relative), else ``numeric`` (``unknown`` when no point could be
evaluated). Sampling only can never prove, and it has no time budget (only the cap).

The kernel's sampling stops at its deadline, so on a loaded machine a few verdicts near the
budget can move from refuted to numeric between runs.

Printed: per category and per deciding procedure, how many steps each decided (proved or
refuted) and the seconds spent; the counts of false steps proved / refuted / numeric /
unknown and of true steps proved / numeric / refuted; misuse and budget targets; and the
ratio of steps decided by the kernel to steps decided by sampling only. Every refutation
(kernel's and sampling-only's) is re-checked by the corpus oracle (substitution, mpmath).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Iterable

import sympy as sp

from symgrad.core.domain import Domain, stable_seed
from symgrad.core.verdicts import Relation
from symgrad.core.positivity import ATOM_RANGES


def _load_corpus() -> ModuleType:
    if "kernel_corpus" in sys.modules:
        return sys.modules["kernel_corpus"]
    path = Path(__file__).resolve().parents[1] / "tests" / "kernel_corpus.py"
    spec = importlib.util.spec_from_file_location("kernel_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kernel_corpus"] = module  # outcomes cross a pipe and unpickle by this name
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:  # this file has the same name: the checker reads the corpus as tests.kernel_corpus
    from tests import kernel_corpus as kc
else:
    kc = _load_corpus()

DIGITS = 50
#: A failure must exceed rounding: the kernel's own tolerance at 50 digits, 10**-(50 - 12) relative.
TOLERANCE_DIGITS = DIGITS - 12
OTHER = ("error", "timeout", "crash")


# ---------------------------------------------------------------------------
# Sampling only


@dataclass(frozen=True)
class Sampled:
    """The sampling-only classification of one case."""

    status: str  # refuted / numeric / unknown, or timeout / crash from the runner
    evaluated: int = 0
    seconds: float = 0.0
    point: dict[sp.Symbol, sp.Expr] | None = None


def _calculus_done(expr: sp.Expr) -> sp.Expr:
    return expr.replace(lambda e: isinstance(e, (sp.Derivative, sp.Subs, sp.Limit)), lambda e: e.doit())


def _finite_real(value: sp.Expr) -> bool:
    return bool((value.is_Float or value.is_Rational) and value.is_finite)


def _fails(left: sp.Expr, rel: Relation, right: sp.Expr) -> bool | None:
    """Whether ``left REL right`` fails at a point (both sides substituted); None: a side is undefined."""
    if left.is_Rational and right.is_Rational:
        return not rel.holds(left, right)
    lv, rv = left.evalf(DIGITS), right.evalf(DIGITS)
    if not (_finite_real(lv) and _finite_real(rv)):
        return None
    difference = (right - left).evalf(DIGITS)  # one expression, so evalf can manage cancellation
    if not _finite_real(difference):
        return None
    tolerance = sp.Float(10) ** (-TOLERANCE_DIGITS) * max(sp.Float(1), abs(lv), abs(rv))
    if rel is Relation.EQ:
        return bool(abs(difference) > tolerance)
    slack = difference if rel.direction < 0 else -difference
    return bool(slack < -tolerance)


def sampling_only(case: kc.Case, samples: int) -> Sampled:
    started = time.perf_counter()
    proof = case.build()
    lhs, rel, rhs = kc.the_step(proof)
    left, right = _calculus_done(lhs), _calculus_done(rhs)
    domain = Domain.build(left.free_symbols | right.free_symbols, proof.assumptions)
    points = domain.sample(samples, stable_seed(0, lhs, rel.value, rhs) + 1)
    evaluated = 0
    for point in points:
        try:
            failed = _fails(left.xreplace(point), rel, right.xreplace(point))
        except (ZeroDivisionError, ValueError, TypeError, ArithmeticError, RecursionError):
            failed = None
        if failed is None:
            continue
        evaluated += 1
        if failed:
            return Sampled("refuted", evaluated, time.perf_counter() - started, dict(point))
    return Sampled("numeric" if evaluated else "unknown", evaluated, time.perf_counter() - started)


def run_sampling_only(case: kc.Case, samples: int, cap: float) -> Sampled:
    kind, value, seconds = kc.run_isolated(lambda: sampling_only(case, samples), cap)
    if kind == "ok":
        assert isinstance(value, Sampled)
        return value
    return Sampled(kind, seconds=seconds)


# ---------------------------------------------------------------------------
# Reading the kernel's method strings


def procedure(method: str) -> str:
    """The deciding procedure named by a verdict's ``method``.

    The kernel prefixes how it prepared the step ("SymPy evaluated the derivative; then",
    "substituting the definitions (where=), then", "using <ranges of atoms>;", "bounded
    variables mapped to positive ones;"); the procedure is what follows, up to its ':' detail.
    """
    text = method.strip()
    if text.startswith("SymPy evaluated the") and "; then " in text:
        text = text.split("; then ", 1)[1]
    prefix = "substituting the definitions (where=), then "
    if text.startswith(prefix):
        text = text[len(prefix):]
    if text.startswith("using "):
        rest = text[len("using "):]
        for law in sorted({a.law for a in ATOM_RANGES}, key=len, reverse=True):
            rest = rest.replace(law + "; ", "")
        text = rest
    prefix = "bounded variables mapped to positive ones; "
    if text.startswith(prefix):
        text = text[len(prefix):]
    return text.split(":", 1)[0].strip() or "(none)"


# ---------------------------------------------------------------------------
# Re-checking refutations with the oracle


def rechecked(case: kc.Case, point: dict[sp.Symbol, sp.Expr] | None) -> bool:
    if point is None:
        return False
    proof = case.build()
    lhs, rel, rhs = kc.the_step(proof)
    return kc.judge_at(lhs, rel, rhs, point, proof.assumptions).finding is kc.Finding.FAILS


# ---------------------------------------------------------------------------
# Tables


def _ratio(kernel: int, sampling: int) -> str:
    if sampling == 0:
        return "-" if kernel == 0 else "inf"
    return f"{kernel / sampling:.2f}"


def _table(header: tuple[str, ...], rows: Iterable[tuple[object, ...]], first: int = 22) -> None:
    rows = list(rows)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    widths[0] = max(widths[0], first)
    line = "  ".join(f"{h:<{widths[0]}}" if i == 0 else f"{h:>{widths[i]}}" for i, h in enumerate(header))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(f"{str(c):<{widths[0]}}" if i == 0 else f"{str(c):>{widths[i]}}" for i, c in enumerate(row)))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--budget", type=float, default=3.0, help="kernel seconds per step (default 3)")
    parser.add_argument("--cap", type=float, default=None, help="hard seconds per case (default max(6b, 2b + 10))")
    parser.add_argument("--samples", type=int, default=200, help="points for sampling only (default 200)")
    parser.add_argument("--cases", action="store_true", help="also print one line per case")
    args = parser.parse_args()
    cap = args.cap if args.cap is not None else kc.cap_for(args.budget)

    started = time.perf_counter()
    kernel: dict[str, kc.Outcome] = {}
    sampled: dict[str, Sampled] = {}
    for case in kc.CASES:
        kernel[case.name] = kc.run_case(case, args.budget, cap)
        if not case.expect_error and case.category != "budget":
            sampled[case.name] = run_sampling_only(case, args.samples, cap)
    wall = time.perf_counter() - started

    print(f"kernel corpus: {len(kc.CASES)} cases, budget {args.budget:g} s per step, cap {cap:g} s per case, "
          f"sampling only at {args.samples} points ({wall:.0f} s wall)\n")

    if args.cases:
        _table(("case", "category", "truth", "kernel", "s", "procedure", "sampling"),
               ((c.name, c.category, c.truth, kernel[c.name].status, f"{kernel[c.name].seconds:.2f}",
                 procedure(kernel[c.name].method) if kernel[c.name].method else kernel[c.name].error_type,
                 sampled[c.name].status if c.name in sampled else "")
                for c in kc.CASES), first=40)

    # -- per category
    rows = []
    for category in kc.CATEGORIES:
        cases = [c for c in kc.CASES if c.category == category and not c.expect_error]
        if not cases:
            continue
        outs = [kernel[c.name] for c in cases]
        samp = [sampled[c.name] for c in cases if c.name in sampled]
        k_decided = sum(o.decided for o in outs)
        s_decided = sum(s.status == "refuted" for s in samp)
        rows.append((category, len(cases), *(sum(o.status == st for o in outs) for st in
                                              ("proved", "refuted", "numeric", "unknown")),
                     sum(o.status in OTHER for o in outs), k_decided, f"{sum(o.seconds for o in outs):.1f}",
                     s_decided if samp else "-", f"{sum(s.seconds for s in samp):.1f}" if samp else "-",
                     _ratio(k_decided, s_decided) if samp else "-"))
    print("Per category (misuse cases excluded; sampling only is not run on budget cases)")
    _table(("category", "steps", "proved", "refuted", "numeric", "unknown", "no verdict", "decided", "seconds",
            "sampling decided", "sampling s", "ratio"), rows)

    # -- per procedure
    groups: dict[str, list[kc.Outcome]] = defaultdict(list)
    for case in kc.CASES:
        outcome = kernel[case.name]
        label = procedure(outcome.method) if outcome.method else f"({outcome.status}: {outcome.error_type or '-'})"
        groups[label].append(outcome)
    rows = [(label, len(outs), sum(o.decided for o in outs), sum(o.status == "proved" for o in outs),
             sum(o.status == "refuted" for o in outs), f"{sum(o.seconds for o in outs):.1f}")
            for label, outs in sorted(groups.items(), key=lambda kv: (-sum(o.decided for o in kv[1]), kv[0]))]
    samp_all = list(sampled.values())
    rows.append(("sampling only (anchor)", len(samp_all), sum(s.status == "refuted" for s in samp_all), 0,
                 sum(s.status == "refuted" for s in samp_all), f"{sum(s.seconds for s in samp_all):.1f}"))
    print("Per deciding procedure (the verdict's method, preparation prefixes removed)")
    _table(("procedure", "steps", "decided", "proved", "refuted", "seconds"), rows, first=40)

    # -- the honesty figures
    false_cases = [c for c in kc.CASES if c.is_false]
    true_cases = [c for c in kc.CASES if c.is_true and c.category != "budget"]
    budget_cases = [c for c in kc.CASES if c.category == "budget"]
    misuse = [c for c in kc.CASES if c.expect_error]

    def count(cases: list[kc.Case], status: str | tuple[str, ...]) -> int:
        wanted = (status,) if isinstance(status, str) else status
        return sum(kernel[c.name].status in wanted for c in cases)

    def s_count(cases: list[kc.Case], status: str) -> int:
        return sum(sampled[c.name].status == status for c in cases if c.name in sampled)

    k_refuted = [c for c in false_cases if kernel[c.name].status == "refuted"]
    k_checked = sum(rechecked(c, kernel[c.name].point) for c in k_refuted if not c.convention)
    s_refuted = [c for c in kc.CASES if c.name in sampled and sampled[c.name].status == "refuted"]
    s_checked = sum(rechecked(c, sampled[c.name].point) for c in s_refuted if not c.convention)
    proved_false = [c.name for c in false_cases if kernel[c.name].status == "proved"]

    rows = [
        ("false: proved", count(false_cases, "proved"), 0),
        ("false: refuted", count(false_cases, "refuted"), s_count(false_cases, "refuted")),
        ("false: numeric", count(false_cases, "numeric"), s_count(false_cases, "numeric")),
        ("false: unknown", count(false_cases, "unknown"), s_count(false_cases, "unknown")),
        ("false: no verdict", count(false_cases, OTHER), s_count(false_cases, "timeout") + s_count(false_cases, "crash")),
        ("true: proved", count(true_cases, "proved"), 0),
        ("true: numeric", count(true_cases, "numeric"), s_count(true_cases, "numeric")),
        ("true: refuted", count(true_cases, "refuted"), s_count(true_cases, "refuted")),
        ("true: unknown", count(true_cases, "unknown"), s_count(true_cases, "unknown")),
        ("true: no verdict", count(true_cases, OTHER), s_count(true_cases, "timeout") + s_count(true_cases, "crash")),
    ]
    print(f"Counts ({len(false_cases)} false steps, {len(true_cases)} true facts)")
    _table(("", "kernel", "sampling only"), rows)

    k_decided = sum(kernel[c.name].decided for c in false_cases + true_cases)
    s_decided = sum(sampled[c.name].status == "refuted" for c in false_cases + true_cases if c.name in sampled)
    in_time = [c for c in budget_cases if kernel[c.name].status in ("proved", "numeric", "refuted", "unknown")
               and kernel[c.name].seconds <= 2 * args.budget + 1]
    print(f"decided (false + true): kernel {k_decided}, sampling only {s_decided}, "
          f"ratio {_ratio(k_decided, s_decided)}")
    print(f"false steps decided: kernel {sum(kernel[c.name].decided for c in false_cases)}, sampling only "
          f"{s_count(false_cases, 'refuted')}, ratio "
          f"{_ratio(sum(kernel[c.name].decided for c in false_cases), s_count(false_cases, 'refuted'))}")
    print(f"true facts proved: {count(true_cases, 'proved')} of {len(true_cases)} "
          f"({count(true_cases, 'proved') / len(true_cases):.0%}; target 90%)")
    print(f"counterexamples re-checked by the oracle: kernel {k_checked} of "
          f"{len([c for c in k_refuted if not c.convention])}, sampling only {s_checked} of "
          f"{len([c for c in s_refuted if not c.convention])} (convention cases have none to check)")
    print(f"misuse raising InputError: {sum(kernel[c.name].error_type == 'InputError' for c in misuse)} "
          f"of {len(misuse)} (proved instead: {count(misuse, 'proved')})")
    print(f"budget cases with a verdict within 2 x budget + 1 s: {len(in_time)} of {len(budget_cases)}")
    print(f"false steps proved: {', '.join(proved_false) if proved_false else 'none'}")


if __name__ == "__main__":
    main()
