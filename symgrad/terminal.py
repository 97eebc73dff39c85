"""What ``symgrad check`` and ``symgrad render`` print, besides the plain text.

- :func:`step_records`: one JSON-ready object per step and per problem of a
  checked note (``symgrad check --format json``);
- :func:`github_annotation`: a GitHub Actions workflow command
  (``::error file=...,line=...::message``), escaped by GitHub's rules
  (``--format github``);
- :class:`Style`: verdicts in colour (rich) when the stream is a terminal and
  ``NO_COLOR`` is not set; otherwise the text is returned unchanged;
- :func:`progress`: a rich progress bar on a terminal's standard error, and
  nothing at all elsewhere (piped output stays byte-identical).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from typing import TYPE_CHECKING, Any, Iterator, TextIO

if TYPE_CHECKING:  # pragma: no cover - SymPy is imported where used: the progress bar of a warm render needs none
    import sympy as sp

    from .core.verdicts import Counterexample, Verdict
    from .notes.checker import NotesReport
    from .notes.notebook import NotebookText

__all__ = ["step_records", "github_annotation", "github_escape", "github_property", "Style", "progress",
           "is_terminal"]

#: Significant digits of an inexact number in a JSON record.
DIGITS = 15
#: Longest expression text in a JSON record (the rest is elided with ``…``).
MAX_TEXT = 2000


# ---------------------------------------------------------------------------
# Records (JSON)
# ---------------------------------------------------------------------------


def _text(expr: Any) -> str:
    from .rendering.display import expr_text

    text = expr_text(expr)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _value(value: sp.Expr) -> str:
    """An exact rational as ``p/q`` when short; anything else to :data:`DIGITS` digits."""
    import sympy as sp

    if isinstance(value, sp.Rational) and max(int(value.p).bit_length(), int(value.q).bit_length()) <= 64:
        return str(value)
    try:
        if value.is_number:
            return str(sp.N(value, DIGITS))
    except (TypeError, ValueError):  # pragma: no cover - SymPy refuses to evaluate
        pass
    return _text(value)


def _counterexample(cx: "Counterexample | None") -> dict[str, Any] | None:
    if cx is None:
        return None
    point = {str(k): _value(v) for k, v in sorted(cx.point.items(), key=lambda kv: str(kv[0]))}
    return {"point": point, "lhs": _value(cx.lhs_value), "rhs": _value(cx.rhs_value), "exact": cx.exact,
            "text": cx.describe()}


def _step_record(path: str, line: int, cell: int | None, file_line: int, verdict: "Verdict",
                 text: str) -> dict[str, Any]:
    return {
        "kind": "step", "file": path, "line": line, "column": None, "cell": cell, "file_line": file_line,
        "step": verdict.index, "lhs": _text(verdict.lhs), "relation": verdict.relation.value,
        "rhs": _text(verdict.rhs), "status": verdict.status.value, "label": verdict.label,
        "overall_status": verdict.overall_status.value,
        "method": verdict.method, "evidence": " ".join(verdict.evidence().split()),
        "counterexample": _counterexample(verdict.counterexample), "text": text,
    }


def step_records(report: "NotesReport", notebook: "NotebookText | None" = None) -> list[dict[str, Any]]:
    """One object per step and per problem of ``report``, in the order of its text lines.

    A step: ``kind: "step"``, ``file``, ``line`` (in the file; in the cell for a
    notebook), ``column`` (``null``: steps are placed by line), ``cell`` (the
    notebook cell or ``null``), ``file_line`` (the line of the file itself: for
    a notebook, where the cell's source line sits in the JSON), ``step``,
    ``lhs``, ``relation``, ``rhs``, ``status``, ``label`` (``rests on a lemma``
    for a step citing a lemma), ``overall_status`` (with its sub-proofs), ``method``,
    ``evidence``, ``counterexample`` (``null``, or ``point``, ``lhs``, ``rhs``,
    ``exact``, ``text``) and ``text`` (the line ``symgrad check`` prints).
    A problem: ``kind: "error"``, ``file``, ``line``, ``column``, ``cell``,
    ``file_line``, ``status: "error"``, ``message``, ``text``.
    """
    def file_line(cell: int | None, line: int) -> int:
        if cell is None or notebook is None:
            return line
        return notebook.file_line(cell, line) or 1

    entries: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
    for step in report.steps:
        record = _step_record(report.path, step.line, step.cell, file_line(step.cell, step.line), step.verdict,
                              step.text())
        entries.append(((step.cell or 0, step.line, 0), record))
    for problem in report.problems:
        record = {"kind": "error", "file": report.path, "line": problem.line, "column": problem.column,
                  "cell": problem.cell, "file_line": file_line(problem.cell, problem.line), "status": "error",
                  "message": problem.message, "text": problem.text()}
        entries.append(((problem.cell or 0, problem.line, 1), record))
    return [record for _, record in sorted(entries, key=lambda e: e[0])]


# ---------------------------------------------------------------------------
# GitHub workflow commands
# ---------------------------------------------------------------------------


def github_escape(text: str) -> str:
    """A command's message as GitHub's runner reads it: ``%`` ``\\r`` ``\\n`` percent-encoded."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A command's property value: as :func:`github_escape`, and ``:`` ``,`` percent-encoded too."""
    return github_escape(text).replace(":", "%3A").replace(",", "%2C")


#: The workflow command for each status (a proved step is not annotated).
GITHUB_LEVEL = {"refuted": "error", "error": "error", "numeric": "warning", "unknown": "warning"}


def github_annotation(record: dict[str, Any]) -> str | None:
    """``::error file=F,line=L[,col=C],title=T::message`` for a record that is not proved, else ``None``."""
    level = GITHUB_LEVEL.get(record["status"])
    if level is None:
        return None
    where = f"cell {record['cell']}, line {record['line']}: " if record.get("cell") is not None else ""
    if record["kind"] == "step":
        title = f"symgrad: step {record['step']} {record['label']}"
        message = (f"{where}{record['lhs']} {record['relation']} {record['rhs']}: {record['label']} — "
                   f"{record['evidence']}")
    else:
        title = "symgrad: cannot read"
        message = f"{where}{record['message']}"
    props = [f"file={github_property(record['file'])}"]
    if record.get("file_line") is not None:
        props.append(f"line={int(record['file_line'])}")
    if record.get("column") is not None and record.get("cell") is None:
        props.append(f"col={int(record['column'])}")
    props.append(f"title={github_property(title)}")
    return f"::{level} {','.join(props)}::{github_escape(message)}"


# ---------------------------------------------------------------------------
# Colour and progress on a terminal
# ---------------------------------------------------------------------------



def is_terminal(stream: Any) -> bool:
    """``stream`` is an interactive terminal (``isatty``), whatever the environment says about colour."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def colour_wanted(stream: Any) -> bool:
    """Colour for ``stream``: a terminal, ``NO_COLOR`` unset or empty (no-color.org), ``TERM`` not ``dumb``."""
    if os.environ.get("NO_COLOR", ""):
        return False
    if os.environ.get("TERM", "") == "dumb":
        return False
    return is_terminal(stream)


#: rich styles of the verdicts.
STYLES = {"proved": "bold green", "numeric": "yellow", "unknown": "magenta", "refuted": "bold red",
          "error": "bold red", "rests on a lemma": "cyan"}


_STEP_STATUS = re.compile(
    r"(?m)^\s*step \d+ (?P<status>proved|numeric|refuted|unknown|rests on a lemma) — ")


class Style:
    """Colours the verdict words of report lines; plain text when colour is off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: Any) -> "Style":
        return cls(colour_wanted(stream))

    def _ansi(self, pieces: list[tuple[str, str | None]]) -> str:
        from rich.console import Console
        from rich.text import Text

        text = Text()
        for piece, style in pieces:
            text.append(piece, style=style)
        buffer = io.StringIO()
        console = Console(file=buffer, force_terminal=True, color_system="standard", no_color=False,
                          highlight=False, width=max(80, len(text.plain) + 1), legacy_windows=False)
        console.print(text, end="", soft_wrap=True)
        return buffer.getvalue()

    def step_line(self, text: str, status: str) -> str:
        """The ``[status]`` of a step line in its colour."""
        marker = f"  [{status}]"
        if not self.enabled or marker not in text:
            return text
        head, _, tail = text.rpartition(marker)
        return self._ansi([(head, None), ("  ", None), (f"[{status}]", STYLES.get(status)), (tail, None)])

    def error_line(self, text: str) -> str:
        marker = ": error: "
        if not self.enabled or marker not in text:
            return text
        head, _, tail = text.partition(marker)
        return self._ansi([(head, None), (": ", None), ("error", STYLES["error"]), (": " + tail, None)])

    def report_text(self, text: str) -> str:
        """``step N <status> —`` in the terminal text of a report (``symgrad show``) in colour."""
        if not self.enabled:
            return text
        pieces: list[tuple[str, str | None]] = []
        last = 0
        for match in _STEP_STATUS.finditer(text):
            pieces += [(text[last:match.start("status")], None),
                       (match["status"], STYLES.get(match["status"]))]
            last = match.end("status")
        pieces.append((text[last:], None))
        return self._ansi(pieces)

    def summary(self, text: str) -> str:
        """The verdict after ``—`` at the end of a summary line in colour."""
        if not self.enabled or " — " not in text:
            return text
        head, _, verdict = text.rpartition(" — ")
        style = STYLES["proved"] if verdict == "all proved" else (
            None if verdict == "nothing to check" else STYLES["refuted"])
        return self._ansi([(head, None), (" — ", None), (verdict, style)])


class _Bar:
    """A progress bar's handle: ``advance()`` one task, ``log(text)`` a line above the bar.

    The bar is redrawn only here (no background thread), so text written to
    the same terminal between two calls never lands on the bar's line: call
    :meth:`cleared` around it.
    """

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self.progress, self.task = progress, task

    def advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)
            self.progress.refresh()

    def describe(self, description: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=description)
            self.progress.refresh()

    def log(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    @contextlib.contextmanager
    def cleared(self) -> Iterator[None]:
        """Erase the bar's line while the caller writes to the terminal (e.g. standard output), then redraw it."""
        if self.progress is None:
            yield
            return
        stream = self.progress.console.file
        stream.write("\r\x1b[2K")
        stream.flush()
        try:
            yield
        finally:
            self.progress.refresh()

    @property
    def active(self) -> bool:
        return self.progress is not None


@contextlib.contextmanager
def progress(total: int, description: str, stream: TextIO, *, enabled: bool | None = None) -> Iterator[_Bar]:
    """A transient rich progress bar on ``stream`` when it is a terminal (and ``enabled`` is not False).

    Off a terminal the handle does nothing, so piped output is exactly what it
    was without a bar.
    """
    on = is_terminal(stream) if enabled is None else enabled
    if not on or total <= 0:
        yield _Bar()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(file=stream, no_color=bool(os.environ.get("NO_COLOR", "")), highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True, auto_refresh=False) as bar:
        task = bar.add_task(description, total=total)
        yield _Bar(bar, task)
