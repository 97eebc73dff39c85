"""The symgrad pytest plugin (entry point ``pytest11``, name ``symgrad``).

Installed with symgrad and loaded by pytest automatically; ``-p no:symgrad``
disables it. It adds

- the fixture ``symgrad_check``: ``symgrad_check.gradient(f, grad_f, *inputs)``,
  ``symgrad_check.layer(forward, backward, *inputs, static=(...))``,
  ``symgrad_check.against(reference, grad_f, args)``,
  ``symgrad_check.proof(proof)`` and ``symgrad_check.note(path)`` (a Markdown,
  LaTeX or Jupyter notebook file, checked like ``symgrad check``) assert like :func:`symgrad.assert_gradient` and
  :func:`symgrad.assert_proof` (same messages), with the seed of
  ``--symgrad-seed``; a failing test gets a "symgrad" report section listing
  every check it made;
- explanations for failing ``assert a == b`` on SymPy objects: both sides,
  their simplified difference, and the kernel's counterexample (or its proof
  that they are equal as functions but differ as expression trees);
- the option ``--symgrad-seed`` (default 0).

This module imports only pytest at import time; symgrad's machinery is
imported when a hook or the fixture needs it, so the plugin costs pytest
nothing when unused, and a hook that fails internally falls back to pytest's
own output instead of breaking the run.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Generator

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from .notes.checker import NotesReport
    from .numerics.gradcheck import GradientReport
    from .proofs.proof import Proof, Report

__all__ = ["SymgradChecker", "symgrad_check", "explain_sympy_equality"]

#: Seconds the equality explanation may spend simplifying and checking.
EXPLAIN_BUDGET = 2.0
#: Longest expression text shown (the rest is elided).
MAX_TEXT = 300


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("symgrad", "symgrad gradient and proof checks")
    group.addoption("--symgrad-seed", action="store", type=int, default=None, metavar="N",
                    help="seed of the random directions and sample points of symgrad_check (default 0)")


class SymgradChecker:
    """The ``symgrad_check`` fixture: checks that raise on failure and are remembered.

    Each method returns the report; every report made in the test is in
    ``reports`` (in order), failed ones included.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.reports: list[Any] = []

    def gradient(self, f: Callable[..., Any], grad_f: Any, *inputs: Any, allow_inconclusive: bool = False,
                 **options: Any) -> "GradientReport":
        """:func:`symgrad.check_gradient`, then :func:`symgrad.assert_gradient` on its report."""
        __tracebackhide__ = True
        from .numerics.gradcheck import assert_gradient, check_gradient

        options.setdefault("seed", self.seed)
        report = check_gradient(f, grad_f, *inputs, **options)
        self.reports.append(report)
        return assert_gradient(report, allow_inconclusive=allow_inconclusive)

    def layer(self, forward: Callable[..., Any], backward: Callable[..., Any], *inputs: Any, static: Any = (),
              allow_inconclusive: bool = False, **options: Any) -> "GradientReport":
        """:func:`symgrad.check_layer` (``forward -> (out, cache)``, ``backward(dout, cache)``), asserted.

        Asserted like :meth:`gradient`: same messages, the same seed option.
        """
        __tracebackhide__ = True
        from .numerics.gradcheck import assert_gradient, check_layer

        options.setdefault("seed", self.seed)
        report = check_layer(forward, backward, *inputs, static=static, **options)
        self.reports.append(report)
        return assert_gradient(report, allow_inconclusive=allow_inconclusive)

    def against(self, reference: Any, grad_f: Callable[..., Any], args: Any, *, allow_inconclusive: bool = False,
                **options: Any) -> "GradientReport":
        """:func:`symgrad.check_against`, asserted like :meth:`gradient`."""
        __tracebackhide__ = True
        from .numerics.gradcheck import assert_gradient, check_against

        options.setdefault("seed", self.seed)
        report = check_against(reference, grad_f, args, **options)
        self.reports.append(report)
        return assert_gradient(report, allow_inconclusive=allow_inconclusive)

    def proof(self, proof: "Proof | Report", **options: Any) -> "Report":
        """:func:`symgrad.assert_proof`: every step proved, else a message naming the first that is not."""
        __tracebackhide__ = True
        from .proofs.proof import check
        from .proofs.proof import Proof
        from .proofs.assertions import assert_proof

        report = check(proof, **options) if isinstance(proof, Proof) else proof
        self.reports.append(report)
        return assert_proof(report)

    def note(self, path: "str | os.PathLike[str]", fmt: str | None = None, **options: Any) -> "NotesReport":
        """Check the note at ``path`` (``.md``, ``.tex`` or ``.ipynb``; or ``fmt``): every step must be proved.

        Fails the test with the lines of the steps and problems that are not
        proved (``file:line`` or ``file:cell C:line L``), and the note's summary.
        """
        __tracebackhide__ = True
        from .core.errors import InputError
        from .core.kernel import CheckOptions
        from .notes.checker import check_text

        suffixes = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".latex": "latex",
                    ".ipynb": "notebook"}
        name = os.fspath(path)
        kind = fmt or suffixes.get(os.path.splitext(name)[1].lower())
        if kind is None:
            raise InputError(f"cannot tell the format of {name}: name it .md, .tex or .ipynb, or pass fmt=")
        with open(name, encoding="utf-8-sig") as handle:
            text = handle.read()
        report = check_text(text, kind, path=name, options=CheckOptions(**options) if options else None)
        self.reports.append(report)
        if not report.ok:
            bad = [step.text() for step in report.steps if not step.verdict.ok]
            bad += [problem.text() for problem in report.problems]
            pytest.fail("\n".join([*bad, report.summary()]), pytrace=False)
        return report

    def summary(self) -> str:
        """One line per check made so far."""
        lines = []
        for i, report in enumerate(self.reports, start=1):
            lines.append(f"{i}. {_one_line(report)}")
        return "\n".join(lines)


def _one_line(report: Any) -> str:
    verdict = getattr(report, "verdict", None)
    if verdict is not None:  # a GradientReport
        return f"gradient check ({report.mode}) {verdict}: {report.reason}"
    if hasattr(report, "chains") and hasattr(report, "summary"):  # a NotesReport
        return f"note {report.summary()}"
    from .rendering.display import expr_text

    claim = getattr(report, "claim", None)
    status = getattr(report, "status", None)
    text = expr_text(claim) if claim is not None else "(empty)"
    return f"proof {_short(text, 120)}: {getattr(status, 'value', status)}"


@pytest.fixture
def symgrad_check(request: pytest.FixtureRequest) -> SymgradChecker:
    """Gradient and proof checks that fail the test with a pointed message."""
    seed = request.config.getoption("symgrad_seed", default=None)
    checker = SymgradChecker(0 if seed is None else int(seed))
    request.node.stash[_CHECKER] = checker
    return checker


_CHECKER = pytest.StashKey[SymgradChecker]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    try:
        report = outcome.get_result()
        checker = item.stash.get(_CHECKER, None)
        if checker is not None and checker.reports and report.when == "call" and report.failed:
            report.sections.append(("symgrad checks", checker.summary()))
    except Exception:  # never let the plugin break a run
        pass


# ---------------------------------------------------------------------------
# assert a == b on SymPy objects


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    if op != "==":
        return None
    sympy = sys.modules.get("sympy")
    if sympy is None:
        return None
    kinds = (sympy.Basic, sympy.MatrixBase)
    if not (isinstance(left, kinds) or isinstance(right, kinds)):
        return None
    try:
        return explain_sympy_equality(left, right)
    except Exception:  # fall back to pytest's own explanation
        return None


def _short(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explain_sympy_equality(left: Any, right: Any, budget: float = EXPLAIN_BUDGET) -> list[str]:
    """Lines explaining why ``left == right`` is False for SymPy objects.

    ``==`` on SymPy objects compares expression trees. The lines show both
    sides, their difference simplified within ``budget`` seconds, and the
    kernel's verdict on ``left = right`` as functions: a counterexample, or
    the procedure that proves them equal (then only the trees differ).
    """
    import sympy as sp

    from .core.budget import OutOfTime, run_within

    def text(obj: Any) -> str:
        if isinstance(obj, sp.MatrixBase):
            return _short(f"Matrix({sp.sstr(obj.tolist())})")
        return _short(sp.sstr(obj) if isinstance(obj, sp.Basic) else repr(obj))

    lines = [f"{_short(text(left), 60)} == {_short(text(right), 60)}",
             "SymPy's == compares expression trees, and these differ:",
             f"  left:  {text(left)}", f"  right: {text(right)}"]
    is_expr = lambda obj: isinstance(obj, (sp.Expr, sp.MatrixBase)) or (  # noqa: E731
        isinstance(obj, (int, float)) and not isinstance(obj, bool))
    if not (is_expr(left) and is_expr(right)):
        lines.append(f"  (a {type(left).__name__} and a {type(right).__name__}: no difference to simplify)")
        return lines
    left_e, right_e = sp.sympify(left), sp.sympify(right)  # numbers and SymPy objects only, never text
    if isinstance(left_e, sp.MatrixBase) != isinstance(right_e, sp.MatrixBase) or (
            isinstance(left_e, sp.MatrixBase) and left_e.shape != right_e.shape):
        lines.append("  (the shapes differ)")
        return lines
    try:
        difference = run_within(lambda: sp.simplify(left_e - right_e), budget / 2)
        lines.append(f"  left - right simplifies to: {text(difference)}")
    except OutOfTime:
        difference = None
        lines.append(f"  left - right: {text(left_e - right_e)} (simplification ran out of time)")
    from .proofs.proof import check_relation
    from .core.verdicts import Status

    verdict = check_relation(left_e, "=", right_e, budget=budget / 2)
    if verdict.status is Status.PROVED:
        lines.append(f"  as functions they are equal (the kernel proves it: {verdict.method}); only the trees "
                     "differ: compare sympy.simplify(left - right) == 0, or assert a calc chain with "
                     "symgrad.assert_proof")
    elif verdict.status is Status.REFUTED and verdict.counterexample is not None:
        lines.append(f"  counterexample: {verdict.counterexample.describe(digits=10)}")
    else:
        lines.append(f"  the kernel's verdict on left = right: {verdict.status.value} ({verdict.evidence()})")
    return lines
