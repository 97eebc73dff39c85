"""Everyday notes (course solutions, blog posts, cheat sheets) with planted mistakes.

Each planted mistake of ``tests/notes_corpus/everyday/manifest.json`` must be
refuted at its line; no other step may be refuted, and no planted step proved.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

import symgrad as sg
from symgrad.core.kernel import CheckOptions
from symgrad.notes.checker import NotesReport, check_text

EVERYDAY = Path(__file__).parent / "notes_corpus" / "everyday"
MANIFEST = json.loads((EVERYDAY / "manifest.json").read_text(encoding="utf-8"))["files"]
FAST = CheckOptions(budget=3)


@functools.lru_cache(maxsize=None)
def _report(name: str) -> NotesReport:
    fmt = "latex" if name.endswith(".tex") else "markdown"
    return check_text((EVERYDAY / name).read_text(encoding="utf-8"), fmt, path=name, options=FAST)


def test_the_corpus_has_both_formats_and_enough_planted_mistakes() -> None:
    names = set(MANIFEST)
    assert len(names) >= 8
    assert {n.rsplit(".", 1)[1] for n in names} == {"md", "tex"}
    assert names == {p.name for p in EVERYDAY.iterdir() if p.suffix in (".md", ".tex")}
    assert sum(len(spec["planted"]) for spec in MANIFEST.values()) >= 10


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_planted_mistakes_are_refuted_at_their_line_and_nothing_else(name: str) -> None:
    report = _report(name)
    planted = {int(line) for line in MANIFEST[name]["planted"]}
    lines = (EVERYDAY / name).read_text(encoding="utf-8").splitlines()
    refuted = {step.line for step in report.steps if step.verdict.status is sg.Status.REFUTED}
    assert refuted == planted, repr(report)
    for step in report.steps:
        if step.line in planted:
            assert step.verdict.status is not sg.Status.PROVED, step.text()
    for line in planted:  # the manifest points at the formula, not at prose
        assert "=" in lines[line - 1], lines[line - 1]
    assert not any(p.message.startswith("internal") for p in report.problems)


def test_most_relations_reach_the_kernel() -> None:
    reached = total = 0
    for name in MANIFEST:
        report = _report(name)
        total += len(report.steps) + len(report.problems)
        reached += sum(1 for s in report.steps if s.verdict.method != "not checked")
    assert reached / total > 0.8, (reached, total)
