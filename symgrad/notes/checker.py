r"""Check the derivations in Markdown and LaTeX notes, step by step.

:func:`check_text` finds the display math of a document (Markdown: ``$$...$$``,
``\[...\]``, fenced ``math`` blocks, ``align``/``equation`` environments;
LaTeX: ``\[...\]``, ``$$...$$`` and the ``equation``/``align``/``gather``/
``multline`` environments, with ``aligned``/``split`` inside), reads each with
:mod:`symgrad.notation`, turns every chain ``a &= b \\ &\le c`` into a calc
proof and checks each link with the kernel. The report names each step by its
file and line.

Declarations live in comments, one statement per ``;``::

    <!-- symgrad: assume 0 < s < 1; let s = \sigma(x) -->      (Markdown)
    % symgrad: function f, g; let m = 3                           (LaTeX)

- ``symgrad:`` applies from there to the end of the file; ``symgrad-next:``
  only to the next display.
- ``let NAME = EXPR`` defines ``NAME``: the chain keeps the name and the proof
  carries the definition (``calc(..., where={NAME: EXPR})``), which the kernel
  substitutes; ``let \hat{x}_j = ...`` defines a whole family (substituted as
  the text is read); ``assume A < B <= C`` adds side conditions (with the
  definitions substituted);
  ``function f, g`` makes ``f(x)`` an application; ``symbol \sigma`` keeps a
  name a plain symbol; ``skip`` skips the next display.

A display without a checkable relation (``=``, ``<``, ``\le``, ``>``, ``\ge``)
is counted as "not a chain"; math that cannot be read is reported with its
line and column, and the document is then not proved.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import sympy as sp

from ..core.errors import ChainError, InputError, SymgradError
from ..core.kernel import CheckOptions, decide
from ..proofs.proof import check
from ..proofs.proof import Proof, Report, calc
from ..core.verdicts import Justification, Relation, Status, Verdict
from .notation import (
    ParseError,
    SymbolTable,
    parse_definition,
    parse_display,
    parse_names,
    parse_relations,
    scan,
)

__all__ = ["NoteStep", "NoteChain", "NoteProblem", "NotesReport", "check_text", "FORMATS"]

#: Accepted names of the two formats.
FORMATS = {"markdown": "markdown", "md": "markdown", "latex": "latex", "tex": "latex"}


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteStep:
    """One checked link: where it is written and the kernel's verdict."""

    path: str
    line: int
    verdict: Verdict

    def text(self) -> str:
        """``path:line: step N: lhs REL rhs  [status] evidence``."""
        from ..rendering.display import expr_text

        v = self.verdict
        lhs, rhs = _clip(expr_text(v.lhs)), _clip(expr_text(v.rhs))
        head = f"{self.path}:{self.line}: step {v.index}: {lhs} {v.relation.unicode} {rhs}"
        evidence = " ".join(v.evidence().split())
        return f"{head}  [{v.status.value}] {evidence}".rstrip()


@dataclass(frozen=True)
class NoteChain:
    """A chain of a document: the proof built from it, its report, and each link's line."""

    path: str
    line: int
    proof: Proof
    report: Report
    lines: tuple[int, ...]

    @property
    def steps(self) -> tuple[NoteStep, ...]:
        return tuple(NoteStep(self.path, line, verdict) for line, verdict in zip(self.lines, self.report.steps))


@dataclass(frozen=True)
class NoteProblem:
    """Something that could not be read or checked, with its position."""

    path: str
    line: int
    column: int | None
    message: str

    def text(self) -> str:
        where = f"{self.line}:{self.column}" if self.column is not None else f"{self.line}"
        return f"{self.path}:{where}: error: {self.message}"


@dataclass(frozen=True)
class NotesReport:
    """Everything :func:`check_text` found in one document."""

    path: str
    chains: tuple[NoteChain, ...] = ()
    problems: tuple[NoteProblem, ...] = ()
    not_chains: int = 0
    skipped: int = 0

    @property
    def steps(self) -> tuple[NoteStep, ...]:
        return tuple(step for chain in self.chains for step in chain.steps)

    @property
    def ok(self) -> bool:
        """Every step proved (sub-proofs included) and nothing unreadable."""
        return not self.problems and all(chain.report.ok for chain in self.chains)

    @property
    def status(self) -> Status:
        """The weakest status of any step (``proved`` when there are none)."""
        return Status.weakest(chain.report.status for chain in self.chains)

    def counts(self) -> dict[Status, int]:
        out = {status: 0 for status in Status}
        for step in self.steps:
            out[step.verdict.overall_status] += 1
        return out

    def refuted(self) -> tuple[NoteStep, ...]:
        return tuple(s for s in self.steps if s.verdict.status is Status.REFUTED)

    def lines(self) -> list[str]:
        """One line per step and per problem, in the order of the document."""
        entries: list[tuple[int, int, str]] = []
        for step in self.steps:
            entries.append((step.line, 0, step.text()))
        for problem in self.problems:
            entries.append((problem.line, 1, problem.text()))
        return [text for _, _, text in sorted(entries, key=lambda e: (e[0], e[1]))]

    def summary(self) -> str:
        """``path: N steps in C chains: ...; E errors; K not chains; S skipped``."""
        steps = self.steps
        parts = []
        if steps:
            counts = self.counts()
            found = ", ".join(f"{n} {status.value}" for status, n in counts.items() if n)
            parts.append(f"{_plural(len(steps), 'step')} in {_plural(len(self.chains), 'chain')}: {found}")
        else:
            parts.append("no chains")
        if self.problems:
            parts.append(_plural(len(self.problems), "error"))
        if self.not_chains:
            parts.append(f"{self.not_chains} not {'a chain' if self.not_chains == 1 else 'chains'}")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        verdict = "not proved" if not self.ok else ("all proved" if steps else "nothing to check")
        return f"{self.path}: {'; '.join(parts)} — {verdict}"

    def __repr__(self) -> str:
        return "\n".join([*self.lines(), self.summary()])


#: Longest side of a step shown in a report line; the full expressions are on the verdict.
MAX_SIDE = 120


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SIDE else text[:MAX_SIDE - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ---------------------------------------------------------------------------
# Finding display math and directives
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Math:
    text: str
    offset: int


@dataclass(frozen=True)
class _Directive:
    text: str
    offset: int
    next_only: bool


@dataclass(frozen=True)
class _Unclosed:
    what: str
    offset: int


_Event = _Math | _Directive | _Unclosed

_DISPLAY_ENVIRONMENTS = ("equation*", "equation", "align*", "align", "gather*", "gather", "multline*",
                         "multline", "flalign*", "flalign", "alignat*", "alignat", "eqnarray*", "eqnarray",
                         "displaymath")
_ENV_ALTERNATIVES = "|".join(re.escape(e) for e in _DISPLAY_ENVIRONMENTS)
_DIRECTIVE = re.compile(r"\s*symgrad(-next)?\s*:", re.I)

_MARKDOWN = re.compile(
    r"(?P<fence>^[ \t]{0,3}(?P<fchars>`{3,}|~{3,})(?P<info>[^\n]*)$)"
    r"|(?P<comment><!--)"
    r"|(?P<escape>\\[\\$`])"
    r"|(?P<dollars>\$\$)"
    r"|(?P<bracket>\\\[)"
    rf"|(?P<env>\\begin\{{(?P<envname>{_ENV_ALTERNATIVES})\}})"
    r"|(?P<code>`+)",
    re.M)

_LATEX = re.compile(
    r"(?P<escape>\\[\\$%])"
    r"|(?P<dollars>\$\$)"
    r"|(?P<bracket>\\\[)"
    rf"|(?P<env>\\begin\{{(?P<envname>{_ENV_ALTERNATIVES})\}})"
    r"|(?P<verbatim>\\begin\{(?P<verbname>verbatim\*?|lstlisting|minted|comment|Verbatim)\})")


def _directive(content: str, offset: int) -> _Directive | None:
    match = _DIRECTIVE.match(content)
    if match is None:
        return None
    return _Directive(content[match.end():], offset + match.end(), bool(match.group(1)))


def _markdown_events(text: str) -> Iterator[_Event]:
    pos = 0
    while True:
        m = _MARKDOWN.search(text, pos)
        if m is None:
            return
        kind = m.lastgroup or ""
        if m.group("fence") is not None:
            kind = "fence"
        if m.group("envname") is not None:
            kind = "env"
        if kind == "fence":
            chars = m.group("fchars")
            closing = re.compile(rf"^[ \t]{{0,3}}{re.escape(chars[0])}{{{len(chars)},}}[ \t]*$", re.M)
            body_start = m.end() + 1
            close = closing.search(text, body_start) if body_start <= len(text) else None
            body_end = close.start() if close else len(text)
            if m.group("info").strip().lower() == "math":
                yield _Math(text[body_start:body_end], body_start)
            pos = close.end() if close else len(text)
        elif kind == "comment":
            end = text.find("-->", m.end())
            content_end = end if end >= 0 else len(text)
            directive = _directive(text[m.end():content_end], m.end())
            if directive is not None:
                yield directive
            pos = end + 3 if end >= 0 else len(text)
        elif kind == "escape":
            pos = m.end()
        elif kind == "code":
            ticks = m.group("code")
            end = text.find(ticks, m.end())
            pos = end + len(ticks) if end >= 0 else m.end()
        else:
            yield from _display(text, m, kind)
            pos = _display_end(text, m, kind)


def _closing(kind: str, m: re.Match[str]) -> str:
    if kind == "dollars":
        return "$$"
    if kind == "bracket":
        return "\\]"
    return f"\\end{{{m.group('envname')}}}"


_COLUMN_COUNT = re.compile(r"\s*\{\s*\d+\s*\}")


def _display(text: str, m: re.Match[str], kind: str) -> Iterator[_Event]:
    closing = _closing(kind, m)
    end = text.find(closing, m.end())
    if end < 0:
        yield _Unclosed(m.group(0), m.start())
        return
    start = m.end()
    if kind == "env" and m.group("envname").startswith("alignat"):
        count = _COLUMN_COUNT.match(text, start)  # \begin{alignat}{2}: the number of columns
        if count is not None:
            start = count.end()
    yield _Math(text[start:end], start)


def _display_end(text: str, m: re.Match[str], kind: str) -> int:
    closing = _closing(kind, m)
    end = text.find(closing, m.end())
    return len(text) if end < 0 else end + len(closing)


def _latex_comments(text: str) -> tuple[str, list[_Directive]]:
    """The text with every ``%`` comment blanked (positions kept), and the directives among them."""
    chars = list(text)
    directives: list[_Directive] = []
    verbatim = re.compile(r"\\begin\{(verbatim\*?|lstlisting|minted|comment|Verbatim)\}")
    pos = 0
    length = len(text)
    while pos < length:
        percent = text.find("%", pos)
        vm = verbatim.search(text, pos)
        if vm is not None and (percent < 0 or vm.start() < percent):
            end = text.find(f"\\end{{{vm.group(1)}}}", vm.end())
            pos = length if end < 0 else end
            continue
        if percent < 0:
            break
        backslashes = 0
        k = percent - 1
        while k >= 0 and text[k] == "\\":
            backslashes += 1
            k -= 1
        if backslashes % 2 == 1:  # \% is a percent sign
            pos = percent + 1
            continue
        end = text.find("\n", percent)
        end = length if end < 0 else end
        directive = _directive(text[percent + 1:end], percent + 1)
        if directive is not None:
            directives.append(directive)
        for k in range(percent, end):
            chars[k] = " "
        pos = end
    return "".join(chars), directives


def _latex_events(text: str) -> Iterator[_Event]:
    clean, directives = _latex_comments(text)
    events: list[tuple[int, _Event]] = [(d.offset, d) for d in directives]
    pos = 0
    while True:
        m = _LATEX.search(clean, pos)
        if m is None:
            break
        kind = m.lastgroup or ""
        if m.group("envname") is not None:
            kind = "env"
        if m.group("verbname") is not None:
            end = clean.find(f"\\end{{{m.group('verbname')}}}", m.end())
            pos = len(clean) if end < 0 else end
            continue
        if kind == "escape":
            pos = m.end()
            continue
        for event in _display(clean, m, kind):
            events.append((m.start(), event))
        pos = _display_end(clean, m, kind)
    events.sort(key=lambda e: e[0])
    for _, event in events:
        yield event


class _Lines:
    """Offsets to 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1


# ---------------------------------------------------------------------------
# Declarations
# ---------------------------------------------------------------------------


@dataclass
class _Scope:
    table: SymbolTable = field(default_factory=SymbolTable)
    assumptions: tuple[sp.Basic, ...] = ()
    skip: bool = False


def _statements(text: str) -> Iterator[tuple[str, int]]:
    """Split on ``;`` outside braces (``\\;`` is a space, not a separator)."""
    depth = 0
    start = 0
    k = 0
    while k < len(text):
        char = text[k]
        if char == "\\":
            k += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0:
            yield text[start:k], start
            start = k + 1
        k += 1
    yield text[start:], start


_KEYWORD = re.compile(r"\s*([A-Za-z]+)\b\s*")


def _apply_directive(directive: _Directive, scope: _Scope, lines: _Lines, path: str,
                     problems: list[NoteProblem]) -> None:
    """Apply the statements of a directive to ``scope``: declarations first, then lets, then assumptions."""
    parsed: list[tuple[str, str, int]] = []
    for statement, start in _statements(directive.text):
        if not statement.strip():
            continue
        m = _KEYWORD.match(statement)
        offset = directive.offset + start
        if m is None:
            line, column = lines.at(offset + len(statement) - len(statement.lstrip()))
            problems.append(NoteProblem(path, line, column, f"cannot read the declaration {statement.strip()!r}"))
            continue
        parsed.append((m.group(1).lower(), statement[m.end():], offset + m.end()))
    order = {"function": 0, "functions": 0, "symbol": 0, "symbols": 0, "let": 1, "assume": 2, "skip": 3}
    for keyword, rest, offset in sorted(parsed, key=lambda p: order.get(p[0], 4)):
        line, column = lines.at(offset)
        try:
            if keyword in ("function", "functions"):
                scope.table = scope.table.with_functions(parse_names(rest, line=line, column=column))
            elif keyword in ("symbol", "symbols"):
                scope.table = scope.table.with_plain(parse_names(rest, line=line, column=column))
            elif keyword == "let":
                scope.table = scope.table.with_definition(
                    parse_definition(rest, scope.table, line=line, column=column))
            elif keyword == "assume":
                conditions = parse_relations(rest, scope.table, line=line, column=column, substitute=True)
                for condition in conditions:
                    if _evaluates_false(condition):
                        raise ParseError(f"the assumption {condition} is false", line, column)
                scope.assumptions += tuple(conditions)
            elif keyword == "skip":
                if rest.strip():
                    raise ParseError("skip takes nothing after it", line, column)
                scope.skip = True
            else:
                raise ParseError(f"unknown declaration {keyword!r}; use let, assume, function, symbol or skip",
                                 line, column)
        except ParseError as exc:
            problems.append(NoteProblem(path, exc.line or line, exc.column, exc.message))
        except Exception as exc:  # noqa: BLE001 - a bad declaration costs only itself
            problems.append(NoteProblem(path, line, column, f"cannot read the declaration: {_reason(exc)}"))


def _evaluates_false(condition: sp.Basic) -> bool:
    try:
        value = condition.func(*condition.args)
    except (TypeError, ValueError):
        return False
    return value is sp.false


# ---------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------


def check_text(text: str, fmt: str = "markdown", *, path: str | None = None,
               options: CheckOptions | None = None) -> NotesReport:
    """Check every chain in the display math of ``text`` (``fmt``: ``markdown`` or ``latex``).

    ``path`` names the document in the report (default ``<text>``);
    ``options`` are the kernel's (time budget per step, samples).
    """
    if not isinstance(text, str):
        raise InputError(f"check_text takes the document as a string, got {type(text).__name__}")
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: use 'markdown' or 'latex'")
    kind = FORMATS[fmt.lower()]
    name = path if path is not None else "<text>"
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = _Lines(text)
    events = _markdown_events(text) if kind == "markdown" else _latex_events(text)
    file_scope = _Scope()
    next_scope = _Scope()
    chains: list[NoteChain] = []
    problems: list[NoteProblem] = []
    not_chains = 0
    skipped = 0
    for event in events:
        if isinstance(event, _Directive):
            _apply_directive(event, next_scope if event.next_only else file_scope, lines, name, problems)
            if not event.next_only and file_scope.skip:
                next_scope.skip, file_scope.skip = True, False
            continue
        if isinstance(event, _Unclosed):
            line, column = lines.at(event.offset)
            problems.append(NoteProblem(name, line, column, f"{event.what} is never closed"))
            continue
        scope, next_scope = next_scope, _Scope()
        if scope.skip:
            skipped += 1
            continue
        table = file_scope.table.merged(scope.table)
        assumptions = file_scope.assumptions + scope.assumptions
        try:
            found, unreadable, fragments = _check_display(event, table, assumptions, lines, name, options)
        except Exception as exc:  # noqa: BLE001 - one bad display never costs the rest of the file
            line, column = lines.at(event.offset)
            found, unreadable, fragments = [], [NoteProblem(name, line, column, f"not checked: {_reason(exc)}")], 0
        chains += found
        problems += unreadable
        not_chains += fragments
    return NotesReport(name, tuple(chains), tuple(problems), not_chains, skipped)


def _check_display(math: _Math, table: SymbolTable, assumptions: Sequence[sp.Basic], lines: _Lines,
                   path: str, options: CheckOptions | None
                   ) -> tuple[list[NoteChain], list[NoteProblem], int]:
    line, column = lines.at(math.offset)
    try:
        display = parse_display(math.text, table, line=line, column=column, substitute=False)
    except ParseError as exc:
        if not _has_checked_relation(math.text):
            return [], [], 1  # a display without = < <= > >= is not a chain: nothing to check
        return [], [NoteProblem(path, exc.line or line, exc.column, exc.message)], 0
    chains: list[NoteChain] = []
    problems: list[NoteProblem] = []
    for source in display.chains:
        try:
            definitions = table.where([source.start, *(link.rhs for link in source.links)])
            proof = calc(source.start, assume=list(assumptions), where=definitions)
            for link in source.links:
                try:
                    proof = proof.step(link.relation, link.rhs, by=_justification_text(link.note))
                except ChainError as exc:
                    raise _Located(str(exc), link.line, link.column) from None
            report = _check_proof(proof, options)
        except _Located as exc:
            problems.append(NoteProblem(path, exc.line, exc.column, exc.message))
            continue
        except SymgradError as exc:
            problems.append(NoteProblem(path, source.line, source.column, str(exc)))
            continue
        chains.append(NoteChain(path, source.line, proof, report, tuple(link.line for link in source.links)))
    return chains, problems, display.fragments


def _check_proof(proof: Proof, options: CheckOptions | None) -> Report:
    """The kernel's report; a step the kernel cannot handle is "not checked" with the reason, never a crash."""
    try:
        return check(proof, options)
    except Exception:  # noqa: BLE001 - fall back to one step at a time, below
        pass
    verdicts: list[Verdict] = []
    for index, (lhs, relation, rhs, by) in enumerate(proof.links(), start=1):
        try:
            verdict = decide(lhs, relation, rhs, proof.assumptions, proof.definitions, options,
                             index=index, by=by)
        except Exception as exc:  # noqa: BLE001 - reported on the step, never raised
            verdict = not_checked(index, lhs, relation, rhs, _reason(exc), by)
        verdicts.append(verdict)
    return Report(proof, tuple(verdicts))


#: The method of a step the kernel was not asked to (or could not) decide.
NOT_CHECKED = "not checked"


def not_checked(index: int, lhs: sp.Expr, relation: Relation, rhs: sp.Expr, reason: str,
                by: Justification | None = None) -> Verdict:
    """An ``unknown`` verdict that says why the step was not checked."""
    return Verdict(index=index, lhs=lhs, relation=relation, rhs=rhs, status=Status.UNKNOWN,
                   method=NOT_CHECKED, by=by or Justification(), note=f"not checked: {reason}")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, SymgradError):
        return text or type(exc).__name__
    return f"SymPy could not evaluate it ({type(exc).__name__}: {text})" if text else \
        f"SymPy could not evaluate it ({type(exc).__name__})"


def _justification_text(note: str | None) -> str | None:
    """``(by the chain rule)`` -> ``the chain rule``; a registered rule name stays a rule name."""
    if not note:
        return None
    text = note.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if text.lower().startswith("by "):
        text = text[3:].strip()
    return text or None


class _Located(Exception):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def _has_checked_relation(text: str) -> bool:
    try:
        return scan(text).has_checked_relation
    except ParseError:
        return True
