"""How much of everyday notes ``symgrad check`` reads and checks, and how honestly.

Runs :func:`symgrad.check_text` over ``tests/notes_corpus/everyday`` (notes written
for the tests in the styles of course solutions, blog posts and cheat sheets, with
planted mistakes listed in ``manifest.json``) and prints:

- the share of claimed relations that reach the kernel (a step with a verdict,
  not "not checked", among all steps and unreadable displays; definitions such as
  ``z = w x + b`` are counted apart: they are read, not claimed);
- the relations not checked, by cause;
- the refutations that are real (at a planted line) and the false alarms;
- false proved: a planted (false) step reported proved; must be 0;
- the planted mistakes caught at their line.

::

    .venv/bin/python benchmarks/notes_corpus.py            # about 20 s on 2 shared cores
    .venv/bin/python benchmarks/notes_corpus.py --budget 5 DIR...
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import symgrad as sg
from symgrad.core.kernel import CheckOptions
from symgrad.notes.checker import NOT_CHECKED, NotesReport, check_text

ROOT = Path(__file__).resolve().parent.parent
EVERYDAY = ROOT / "tests" / "notes_corpus" / "everyday"

#: Causes of "not checked", by a phrase of the reason.
CAUSES: tuple[tuple[str, str], ...] = (
    ("chain rule through an undefined function", "derivatives of a function never written down (chain rule)"),
    ("matrix calculus", "matrix calculus (a vector and its components)"),
    ("vectors and matrices", "vectors and matrices"),
    ("transposes", "vectors and matrices"),
    ("\\nabla", "vectors and matrices"),
    ("element-wise", "vectors and matrices"),
    ("norms are not supported", "vectors and matrices"),
    ("ellipsis", "ellipses"),
    ("condition", "conditions symgrad does not read"),
    ("small size", "no proof, and small sizes undecided"),
    ("SymPy could not", "SymPy could not evaluate it"),
    ("budget", "the time budget ran out"),
    ("too few sample points", "too few sample points"),
    ("cannot be checked", "relations symgrad does not check"),
    ("is not supported", "notation not supported"),
)


def cause(reason: str) -> str:
    """A short name for why a relation was not checked."""
    for phrase, name in CAUSES:
        if phrase in reason:
            return name
    return reason.removeprefix("not checked: ").split(":")[0][:60]


def planted_lines(manifest: dict[str, dict[str, dict[str, str]]], name: str) -> set[int]:
    return {int(line) for line in manifest.get(name, {}).get("planted", {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="*", type=Path, default=[EVERYDAY],
                        help="directories of notes (each may hold a manifest.json)")
    parser.add_argument("--budget", type=float, default=3.0, help="kernel seconds per step")
    args = parser.parse_args(argv)
    options = CheckOptions(budget=args.budget)

    totals: Counter[str] = Counter()
    not_checked: Counter[str] = Counter()
    started = time.perf_counter()
    rows: list[tuple[str, int, int, int, int, int, int]] = []
    for directory in args.dirs:
        manifest_path = directory / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))["files"] if manifest_path.exists() else {}
        for path in sorted(p for p in directory.iterdir() if p.suffix in (".md", ".tex")):
            fmt = "latex" if path.suffix == ".tex" else "markdown"
            report: NotesReport = check_text(path.read_text(encoding="utf-8"), fmt, path=path.name,
                                             options=options)
            planted = planted_lines(manifest, path.name)
            claims = len(report.steps) + len(report.problems)
            reached = [s for s in report.steps if s.verdict.method != NOT_CHECKED]
            refuted = {s.line for s in report.steps if s.verdict.status is sg.Status.REFUTED}
            real = refuted & planted
            false_alarms = [s for s in report.steps
                            if s.verdict.status is sg.Status.REFUTED and s.line not in planted]
            false_proved = [s for s in report.steps if s.verdict.status is sg.Status.PROVED and s.line in planted]
            for step in report.steps:
                if step.verdict.method == NOT_CHECKED:
                    not_checked[cause(step.verdict.note)] += 1
                elif step.verdict.status is sg.Status.UNKNOWN:
                    not_checked[f"kernel undecided: {cause(step.verdict.note)}"] += 1
            for problem in report.problems:
                not_checked[f"display not read: {cause(problem.message)}"] += 1
            totals.update(claims=claims, reached=len(reached), definitions=report.definitions,
                          proved=sum(1 for s in reached if s.verdict.status is sg.Status.PROVED),
                          numeric=sum(1 for s in reached if s.verdict.status is sg.Status.NUMERIC),
                          refuted=len(refuted), real=len(real), false_alarms=len(false_alarms),
                          false_proved=len(false_proved), planted=len(planted), caught=len(real))
            rows.append((path.name, claims, len(reached), report.definitions, len(real), len(false_alarms),
                         len(false_proved)))

    print(f"{'file':32} {'claims':>6} {'kernel':>6} {'defs':>5} {'real':>5} {'false+':>6} {'false proved':>12}")
    for name, claims, reached, defs, real, alarms, proved in rows:
        print(f"{name:32} {claims:6} {reached:6} {defs:5} {real:5} {alarms:6} {proved:12}")
    claims = totals["claims"] or 1
    print()
    print(f"relations claimed: {totals['claims']} (and {totals['definitions']} definitions, read as such)")
    print(f"reach the kernel: {totals['reached']} = {100 * totals['reached'] / claims:.0f}%  "
          f"({totals['proved']} proved, {totals['numeric']} numeric, {totals['refuted']} refuted)")
    print(f"refuted: {totals['real']} real, {totals['false_alarms']} false alarms")
    print(f"false proved: {totals['false_proved']}")
    print(f"planted mistakes caught at their line: {totals['caught']} of {totals['planted']}")
    print("not checked, by cause:")
    for name, count in not_checked.most_common():
        print(f"  {count:3}  {name}")
    print(f"({time.perf_counter() - started:.0f} s, budget {args.budget:g} s per step)")
    return 1 if totals["false_proved"] else 0


if __name__ == "__main__":
    sys.exit(main())
