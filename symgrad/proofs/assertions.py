"""Assertions for pytest (and any test runner) on proofs.

``assert_proof(proof)`` passes only when every step is proved; otherwise it
raises :class:`~symgrad.errors.ProofError` naming the first step that is not,
both of its sides, the verdict and the counterexample if there is one.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..core.errors import InputError, ProofError
from ..core.kernel import CheckOptions
from .proof import check
from .proof import Proof, Report
from ..core.verdicts import Status, Verdict

__all__ = ["assert_proof", "failure_message"]


def failure_message(report: Report) -> str:
    """A short, pointed description of why ``report`` is not a proof."""
    if not report.steps:
        return "the proof has no steps: a calc chain proves nothing until a step is added"
    failing = [v for v in report.steps if not v.ok]
    if not failing:
        return "every step is proved"
    first = failing[0]
    if first.status is Status.PROVED:  # the step holds; one of its sub-proofs does not
        sub_index, sub = next((i, d) for i, d in enumerate(first.details, start=1) if not d.ok)
        title = f" ({sub.proof.title})" if sub.proof.title else ""
        inner = failure_message(sub).replace("\n", "\n  ")
        return f"step {first.index} of {len(report.steps)}: its sub-proof {sub_index}{title} fails:\n  {inner}"
    lines = [f"step {first.index} of {len(report.steps)} is {first.status.value}: "
             f"{_side(first.lhs)} {first.relation.unicode} {_side(first.rhs)}"]
    if not first.by.empty:
        lines.append(f"  justified by: {first.by}")
    lines.append(f"  {_detail(first)}")
    if report.proof.assumptions:
        lines.append("  assuming: " + ", ".join(sp.sstr(a) for a in report.proof.assumptions))
    others = failing[1:]
    if others:
        lines.append("  also not proved: " + ", ".join(f"step {v.index} ({v.status.value})" for v in others))
    return "\n".join(lines)


def _side(expr: sp.Expr) -> str:
    return sp.sstr(expr)


def _detail(verdict: Verdict) -> str:
    if verdict.status is Status.REFUTED and verdict.counterexample is not None:
        return "counterexample " + verdict.counterexample.describe(digits=10)
    return verdict.evidence()


def assert_proof(proof: Proof | Report, options: CheckOptions | None = None, **overrides: Any) -> Report:
    """Check ``proof`` and return its report; raise :class:`ProofError` unless every step is proved.

    Given a Report, its proof is checked again by the kernel (a Report can be built by hand).
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    if isinstance(proof, Report):
        # A Report can be built by hand: only the kernel's own verdicts count.
        report = check(proof.proof, options, **overrides)
    elif isinstance(proof, Proof):
        report = check(proof, options, **overrides)
    else:
        raise InputError(f"assert_proof() takes a Proof or a Report, got {type(proof).__name__}")
    if not report.ok:
        raise ProofError(failure_message(report), report=report, verdict=report.first_failure)
    return report
