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
  ``function f, h_\theta`` makes ``f(x)`` an application (a bad name costs only
  itself); ``symbol \sigma`` keeps a name a plain symbol; ``index i from 1 to n``
  gives ``\sum_i`` its limits; ``skip`` skips the next display.

The text itself is read as a reader reads it: a chain that opens with a new name
(``z = w x + b``, ``a := ...``, ``f(x) = ...``, ``\sigma^2 = ...``, ``... \text{where } z = ...``)
defines it for the rest of the file instead of claiming it; a derivative of a name
never defined is an opaque quantity (``∂L/∂z_i``), and a step relating different
ones is "not checked"; a condition after a step (``, i \neq j``, ``\text{if } x > 0``,
a case of ``cases``) is the case it is checked in. Steps over a symbolic number of
terms or with free indices are also checked at small instances (never ``proved``
that way). Whatever the kernel cannot evaluate is "not checked" with the reason.

A display without a checkable relation (``=``, ``<``, ``\le``, ``>``, ``\ge``)
is counted as "not a chain"; math that cannot be read is reported with its
line and column (the rest of the file goes on), and the document is then not proved.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.core.symbol import Str

from ..core.errors import ChainError, InputError, SymgradError
from ..core.cache import cached_decide
from ..core.kernel import CheckOptions
from ..proofs.proof import Proof, Report, calc
from ..core.verdicts import Justification, Relation, Status, Verdict
from .notation import (
    ChainSource,
    Definition,
    Display,
    Link,
    ParseError,
    SymbolTable,
    UnsupportedNotation,
    diff_members,
    freeze,
    member_family,
    index_symbol,
    real_symbol,
    subscript_name,
    subscripted,
    parse_definition,
    parse_display,
    parse_latex,
    parse_names,
    read_names,
    parse_relations,
    scan,
)
from .notation.tokens import GREEK_LETTERS

__all__ = ["NoteStep", "NoteChain", "NoteProblem", "NotesReport", "check_text", "FORMATS"]

#: Accepted names of the two formats.
FORMATS = {"markdown": "markdown", "md": "markdown", "latex": "latex", "tex": "latex",
           "notebook": "notebook", "ipynb": "notebook"}


def _where(path: str, line: int, cell: int | None) -> str:
    """``path:line``, or ``path:cell C:line L`` in a notebook."""
    return f"{path}:{line}" if cell is None else f"{path}:cell {cell}:line {line}"


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteStep:
    """One checked link: where it is written and the kernel's verdict."""

    path: str
    line: int
    verdict: Verdict
    cell: int | None = None  #: the notebook cell (1-based); ``line`` is then the line in the cell

    @property
    def location(self) -> str:
        return _where(self.path, self.line, self.cell)

    def text(self) -> str:
        """``path:line: step N: lhs REL rhs  [status] evidence``."""
        from ..rendering.display import expr_text

        v = self.verdict
        lhs, rhs = _clip(expr_text(v.lhs)), _clip(expr_text(v.rhs))
        head = f"{self.location}: step {v.index}: {lhs} {v.relation.unicode} {rhs}"
        evidence = " ".join(v.evidence().split())
        if v.note and v.status in (Status.NUMERIC, Status.REFUTED) and v.note not in evidence:
            evidence = f"{evidence}; {v.note}"
        return f"{head}  [{v.status.value}] {evidence}".rstrip()


@dataclass(frozen=True)
class NoteChain:
    """A chain of a document: the proof built from it, its report, and each link's line."""

    path: str
    line: int
    proof: Proof
    report: Report
    lines: tuple[int, ...]
    cell: int | None = None

    @property
    def steps(self) -> tuple[NoteStep, ...]:
        return tuple(NoteStep(self.path, line, verdict, self.cell)
                     for line, verdict in zip(self.lines, self.report.steps))


@dataclass(frozen=True)
class NoteProblem:
    """Something that could not be read or checked, with its position."""

    path: str
    line: int
    column: int | None
    message: str
    cell: int | None = None

    @property
    def location(self) -> str:
        return _where(self.path, self.line, self.cell)

    def text(self) -> str:
        where = f"{self.location}:{self.column}" if self.column is not None else self.location
        return f"{where}: error: {self.message}"


@dataclass(frozen=True)
class NotesReport:
    """Everything :func:`check_text` found in one document."""

    path: str
    chains: tuple[NoteChain, ...] = ()
    problems: tuple[NoteProblem, ...] = ()
    not_chains: int = 0
    skipped: int = 0
    definitions: int = 0

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
        entries: list[tuple[int, int, int, str]] = []
        for step in self.steps:
            entries.append((step.cell or 0, step.line, 0, step.text()))
        for problem in self.problems:
            entries.append((problem.cell or 0, problem.line, 1, problem.text()))
        return [text for *_, text in sorted(entries, key=lambda e: e[:3])]

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
        if self.definitions:
            parts.append(_plural(self.definitions, "definition"))
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


@dataclass(frozen=True)
class _Inline:
    """Inline math (``$...$``, ``\\(...\\)``) and the words of its sentence before it."""

    text: str
    offset: int
    before: str


_Event = _Math | _Directive | _Unclosed | _Inline

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
    r"|(?P<code>`+)"
    r"|(?P<inline>\$|\\\()",
    re.M)

_LATEX = re.compile(
    r"(?P<escape>\\[\\$%])"
    r"|(?P<dollars>\$\$)"
    r"|(?P<bracket>\\\[)"
    rf"|(?P<env>\\begin\{{(?P<envname>{_ENV_ALTERNATIVES})\}})"
    r"|(?P<inline>\$|\\\()"
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
        elif kind == "inline":
            inline, pos = _inline(text, m)
            if inline is not None:
                yield inline
        else:
            yield from _display(text, m, kind)
            pos = _display_end(text, m, kind)


_SENTENCE_END = re.compile(r"(?:[.!?:]\s|\n\s*\n)")
#: Longest inline formula read (characters) and longest stretch of its sentence looked at before it.
MAX_INLINE = 400
SENTENCE_BEFORE = 200


def _inline(text: str, m: re.Match[str]) -> tuple[_Inline | None, int]:
    r"""The inline formula opening at ``m`` (``$...$`` within a paragraph, or ``\(...\)``), and where to go on."""
    start = m.end()
    if m.group(0) == "$":
        close = re.compile(r"(?<!\\)\$")
        found = close.search(text, start, min(len(text), start + MAX_INLINE))
        end = found.start() if found is not None else -1
        if text.startswith("$$", end):
            end = -1  # a stray $ before a display: the display's $$ is not its end
        after = end + 1
    else:
        end = text.find("\\)", start, min(len(text), start + MAX_INLINE))
        after = end + 2
    if end < 0 or "\n\n" in text[start:end].replace(" ", "").replace("\t", ""):
        return None, start
    before = text[max(0, m.start() - SENTENCE_BEFORE):m.start()]
    cut = None
    for cut in _SENTENCE_END.finditer(before):
        pass
    if cut is not None:
        before = before[cut.end():]
    return _Inline(text[start:end], start, before), after


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
    vm = verbatim.search(text)  # the next verbatim block: searched again only once passed (linear time)
    while pos < length:
        percent = text.find("%", pos)
        if vm is not None and vm.start() < pos:
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
        if kind == "inline":
            inline, pos = _inline(clean, m)
            if inline is not None:
                events.append((m.start(), inline))
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
        self.text = text
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
    order = {"function": 0, "functions": 0, "symbol": 0, "symbols": 0, "index": 0, "indices": 0, "let": 1,
             "assume": 2, "skip": 3}
    for keyword, rest, offset in sorted(parsed, key=lambda p: order.get(p[0], 4)):
        line, column = lines.at(offset)
        try:
            if keyword in ("function", "functions", "symbol", "symbols"):
                names, errors = read_names(rest, line=line, column=column)
                if keyword.startswith("function"):
                    scope.table = scope.table.with_functions(names)
                else:
                    scope.table = scope.table.with_plain(names)
                for error in errors:  # a bad name costs only itself
                    problems.append(NoteProblem(path, error.line or line, error.column, error.message))
            elif keyword in ("index", "indices"):
                scope.table = _with_range(rest, scope.table, line, column)
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
                raise ParseError(f"unknown declaration {keyword!r}; use let, assume, function, symbol, index or skip",
                                 line, column)
        except ParseError as exc:
            problems.append(NoteProblem(path, exc.line or line, exc.column, exc.message))
        except Exception as exc:  # noqa: BLE001 - a bad declaration costs only itself
            problems.append(NoteProblem(path, line, column, f"cannot read the declaration: {_reason(exc)}"))


_RANGE = re.compile(r"(?P<names>.*?)\s+(?:from|in)\s+(?P<lower>.+?)\s+(?:to|\.\.)\s+(?P<upper>.+)\Z", re.S)


def _with_range(text: str, table: SymbolTable, line: int, column: int) -> SymbolTable:
    """``index i, j from 1 to n``: sums over ``i`` or ``j`` written without limits run from 1 to n."""
    match = _RANGE.match(text.strip().replace("..", " .. "))
    if match is None:
        raise ParseError("an index declaration reads: index i, j from 1 to n", line, column)
    names = parse_names(match.group("names"), line=line, column=column)
    lower = parse_latex(match.group("lower"), table, line=line, column=column)
    upper = parse_latex(match.group("upper"), table, line=line, column=column)
    return table.with_range(names, lower, upper)


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
    """Check every chain in the display math of ``text`` (``fmt``: ``markdown``, ``latex`` or ``notebook``).

    ``path`` names the document in the report (default ``<text>``);
    ``options`` are the kernel's (time budget per step, samples). A notebook
    (the ``.ipynb`` JSON) is checked as the Markdown of its Markdown cells
    (:mod:`symgrad.notes.notebook`), each step placed in its cell.
    """
    if not isinstance(text, str):
        raise InputError(f"check_text takes the document as a string, got {type(text).__name__}")
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: use 'markdown', 'latex' or 'notebook'")
    kind = FORMATS[fmt.lower()]
    name = path if path is not None else "<text>"
    if kind == "notebook":
        from .notebook import read_notebook

        cells = read_notebook(text, name)
        # Each cell is scanned on its own (a display left open ends with its cell); one scope runs through all.
        events = [replace(event, offset=event.offset + start)
                  for source, start in cells.pieces() for event in _markdown_events(source)]
        return cells.relocate(_check_events(cells.markdown, iter(events), name, options))
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    events = _markdown_events(text) if kind == "markdown" else _latex_events(text)
    return _check_events(text, events, name, options)


def _check_events(text: str, events: Iterator[_Event], name: str, options: CheckOptions | None) -> NotesReport:
    """Apply the directives and check the displays ``events`` of ``text`` in order, in one scope."""
    lines = _Lines(text)
    file_scope = _Scope()
    next_scope = _Scope()
    found = _Found()
    for event in events:
        if isinstance(event, _Directive):
            _apply_directive(event, next_scope if event.next_only else file_scope, lines, name, found.problems)
            if not event.next_only and file_scope.skip:
                next_scope.skip, file_scope.skip = True, False
            continue
        if isinstance(event, _Unclosed):
            line, column = lines.at(event.offset)
            found.problems.append(NoteProblem(name, line, column, f"{event.what} is never closed"))
            continue
        if isinstance(event, _Inline):
            _inline_definition(event, file_scope, next_scope, lines, found)
            continue
        scope, next_scope = next_scope, _Scope()
        if scope.skip:
            found.skipped += 1
            continue
        try:
            _declare_functions(event.text, file_scope)
            _check_display(event, file_scope, scope, lines, name, options, found)
        except Exception as exc:  # noqa: BLE001 - one bad display never costs the rest of the file
            line, column = lines.at(event.offset)
            found.problems.append(NoteProblem(name, line, column, f"not checked: {_reason(exc)}"))
    return NotesReport(name, tuple(found.chains), tuple(found.problems), found.not_chains, found.skipped,
                       found.definitions)


@dataclass
class _Found:
    """What the displays of a document gave so far."""

    chains: list[NoteChain] = field(default_factory=list)
    problems: list[NoteProblem] = field(default_factory=list)
    not_chains: int = 0
    skipped: int = 0
    definitions: int = 0
    last: sp.Expr | None = None  #: the last expression of the display before (a display may open with =)
    unread: set[str] = field(default_factory=set)  #: names opening rows of displays that could not be read
    seen: set[str] = field(default_factory=set)  #: names (and family names) of the displays read so far


_ARGUMENT = r"\\?[A-Za-z]+(?:\s*_\s*(?:\{[^{}]*\}|\\?[A-Za-z0-9]))?"
_FUNCTION_DEFINITION = re.compile(
    r"(?:^|\\\\|&)\s*(\\?[A-Za-z]+)\s*(?:_\s*(?:\{[^{}]*\}|\\?[A-Za-z0-9]+)\s*)?"
    rf"\(\s*{_ARGUMENT}(?:\s*[,;]\s*{_ARGUMENT})*\s*\)\s*(?:=|:=|\\coloneqq|\\triangleq)(?!=)", re.M)
_PRIMED = re.compile(r"(?<![\\A-Za-z])([A-Za-z])\s*'+\s*\(")


def _declare_functions(text: str, scope: _Scope) -> None:
    r"""``f(x) = ...`` opening a row, or ``f'(x)``: the note uses ``f`` as a function, for the rest of the file."""
    names: list[str] = []
    for match in _FUNCTION_DEFINITION.finditer(text):
        head = match.group(0)
        try:
            found = parse_names(head[:head.index("(")].lstrip("\\&").strip())
        except ParseError:
            continue
        names += [n for n in found if n not in ("sigma", "e", "d")]
    names += [m.group(1) for m in _PRIMED.finditer(text) if m.group(1) not in ("e", "d")]
    fresh = [n for n in names if not scope.table.is_plain(n) and not scope.table.is_function(n)]
    if fresh:
        scope.table = scope.table.with_functions(fresh)


def _check_display(math: _Math, file_scope: _Scope, scope: _Scope, lines: _Lines, path: str,
                   options: CheckOptions | None, found: _Found) -> None:
    """Read one display and check its chains; definitions in it hold for the rest of the file."""
    line, column = lines.at(math.offset)
    if _vector_definition(math, file_scope, scope, lines, found):
        return

    def read() -> tuple[SymbolTable, Display]:
        table = file_scope.table.merged(scope.table)
        return table, parse_display(math.text, table, line=line, column=column, substitute=False,
                                    continues=found.last)

    try:
        table, display = read()
    except ParseError as exc:
        found.last = None  # a display after this one cannot continue a chain it cannot see
        found.unread |= _row_heads(math.text)
        if not _has_checked_relation(math.text):
            found.not_chains += 1  # a display without = < <= > >= is not a chain: nothing to check
            return
        found.problems.append(NoteProblem(path, exc.line or line, exc.column, _message(exc)))
        return
    found.not_chains += display.fragments
    sources = list(display.chains)
    found.last = None
    if sources:
        found.last = sources[-1].links[-1].rhs if sources[-1].links else sources[-1].start
    assumptions = file_scope.assumptions + scope.assumptions
    seen_before = set(found.seen)
    for source in sources:
        for expr in (source.start, *(link.rhs for link in source.links)):
            found.seen |= _names_in(expr)
    k = 0
    while k < len(sources):
        source = sources[k]
        k += 1
        start, links = source.start, source.links
        try:
            definition = _definition(source, table, _first_right_side(source, lines), found.unread, seen_before)
        except _Located as exc:
            found.problems.append(NoteProblem(path, exc.line, exc.column, exc.message))
            continue
        for link in links:  # "... where z = w x + b": definitions for this step and the rest of the file
            for condition in link.conditions:
                where = _where_definition(condition, link, table)
                if where is not None:
                    file_scope.table = file_scope.table.with_definition(where)
                    table = file_scope.table.merged(scope.table)
                    found.definitions += 1
        if definition is not None:
            definition = _expanded(definition, table)
            file_scope.table = file_scope.table.with_definition(definition)
            found.definitions += 1
            start, links = links[0].rhs, links[1:]
            try:
                table, again = read()  # the rest of the display reads the new name
            except ParseError as exc:
                found.problems.append(NoteProblem(path, exc.line or line, exc.column, _message(exc)))
                return
            if len(again.chains) == len(sources):
                sources = list(again.chains)
            if not links:
                continue
        try:
            found.chains.append(_check_chain(start, links, source, table, assumptions, path, options))
        except _Located as exc:
            found.problems.append(NoteProblem(path, exc.line, exc.column, exc.message))
        except SymgradError as exc:
            found.problems.append(NoteProblem(path, source.line, source.column, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one bad chain never costs the rest of the display
            found.problems.append(NoteProblem(path, source.line, source.column, f"not checked: {_reason(exc)}"))


#: Words after which an inline ``$name = expr$`` defines ``name`` (``where $h = \sigma(z)$``).
DEFINING_WORDS = frozenset("let where with define defines defined defining denote denotes set setting write "
                           "writing here given take taking put is be as by".split())


def _inline_definition(math: _Inline, file_scope: _Scope, scope: _Scope, lines: _Lines, found: _Found) -> None:
    r"""``where $h = \sigma(z)$``: a definition of a new name for the rest of the file.

    Only after a defining word (:data:`DEFINING_WORDS`, or ``and`` in a sentence that
    has one); other inline math (``at $x = 0$``, ``$\sigma'(x) = ...$``) is prose, not
    read. A formula that cannot be read, or is not ``NEW_NAME = EXPR``, is ignored, and so is a number
    (``with $n = 2$`` is a special case the prose looks at, not a value for the rest of the file).
    """
    prose = re.sub(r"\$[^$]*\$|\\\(.*?\\\)", " ", math.before)  # the other formulas of the sentence
    words = re.findall(r"[A-Za-z]+", prose.lower())
    if not words:
        return
    if words[-1] not in DEFINING_WORDS and not (words[-1] == "and" and DEFINING_WORDS & set(words)):
        return
    line, column = lines.at(math.offset)
    try:
        table = file_scope.table.merged(scope.table)
        display = parse_display(math.text, table, line=line, column=column, substitute=False)
        if display.fragments or len(display.chains) != 1 or len(display.chains[0].links) != 1:
            return
        _declare_functions(math.text, file_scope)
        table = file_scope.table.merged(scope.table)
        display = parse_display(math.text, table, line=line, column=column, substitute=False)
        (source,) = display.chains
        if source.links[0].conditions or source.links[0].condition_error:
            return
        definition = _definition(source, table, math.text.split("=", 1)[-1], found.unread)
    except (ParseError, _Located):
        return
    except Exception:  # noqa: BLE001 - prose math symgrad cannot read costs nothing
        return
    if definition is None or not definition.body.free_symbols:
        return  # "with $n = 2$": a case the prose looks at, not a name defined for the rest of the file
    file_scope.table = file_scope.table.with_definition(_expanded(definition, table))
    found.definitions += 1


_VECTOR_DEFINITION = re.compile(
    r"\s*\\(?:mathbf|boldsymbol|bm|vec)\s*\{\s*(?P<name>\\?[A-Za-z]+)\s*\}\s*(?:=|:=|\\coloneqq|\\triangleq)\s*"
    r"(?P<matrix>\\begin\{(?P<env>[bp]?matrix)\}.*?\\end\{(?P=env)\})\s*[.,]?\s*\Z", re.S)


def _vector_definition(math: _Math, file_scope: _Scope, scope: _Scope, lines: _Lines, found: _Found) -> bool:
    r"""``\mathbf{x} = \begin{bmatrix} x_1 \\ x_2 \end{bmatrix}``: the bold name is that matrix from here on.

    Then ``\mathbf{x}^\top \mathbf{x}`` and ``\mathbf{x}_2`` are read through it (explicit small sizes).
    Returns whether the display was such a definition (a name already defined makes it a claim).
    """
    match = _VECTOR_DEFINITION.match(math.text)
    if match is None:
        return False
    name = match.group("name").lstrip("\\")
    if match.group("name").startswith("\\") and name not in GREEK_LETTERS:
        return False
    table = file_scope.table.merged(scope.table)
    if table.family(name, 0) is not None:
        return False
    line, column = lines.at(math.offset + match.start("matrix"))
    try:
        body = parse_latex(match.group("matrix"), table, line=line, column=column, substitute=False)
    except ParseError:
        return False
    if not isinstance(body, sp.MatrixBase):
        return False
    source = " ".join(math.text.split())
    file_scope.table = file_scope.table.with_definition(Definition(source, body, base=name, params=()))
    found.definitions += 1
    found.last = None
    return True


def _row_heads(text: str) -> set[str]:
    """The names that open the rows of a display (``J`` of ``J(w, b) = ...``)."""
    try:
        tokens = scan(text).tokens
    except ParseError:
        return set()
    heads: set[str] = set()
    at_start = True
    for token in tokens:
        if token.type == "ROWSEP":
            at_start = True
        elif token.type != "AMP" and at_start:
            if token.type in ("LETTER", "GREEK", "NAME", "CAL"):
                heads.add(str(token.value))
            at_start = False
    return heads


def _message(exc: ParseError) -> str:
    """A parse error's message; notation symgrad cannot give a meaning is "not checked"."""
    if isinstance(exc, UnsupportedNotation) and not exc.message.startswith("not checked"):
        return f"not checked: {exc.message}"
    return exc.message


# ---------------------------------------------------------------------------
# Definitions written in the text: z = w x + b, f(x) := ..., \hat{x}_i = ...
# ---------------------------------------------------------------------------


def _first_right_side(source: ChainSource, lines: _Lines) -> str:
    """The text of a chain's first right side (up to the next relation, or the end of its row)."""
    text = lines.text
    first = source.links[0] if source.links else None
    if first is None:
        return ""
    start = lines.starts[first.line - 1] + first.column - 1
    if len(source.links) > 1:
        second = source.links[1]
        end = lines.starts[second.line - 1] + second.column - 1
    else:
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
    return text[start:end]


def _definition(source: ChainSource, table: SymbolTable, written: str = "",
                unread: set[str] | frozenset[str] = frozenset(), seen: set[str] | None = None) -> Definition | None:
    r"""The definition a chain opens with (``NAME = EXPR`` with ``NAME`` new, or ``:=``), else None.

    A name is definable when nothing defines it yet and its own definition does not
    use it: ``z = w x + b``, ``\hat{x}_i = ...`` (a family, when the body uses ``i``),
    ``f(x, y) = ...`` (a function, ``f`` used as one), ``∂L/∂z_i = p_i - y_i`` (the
    value of a derivative of a function the note never writes down).
    """
    if not source.links or source.links[0].relation is not Relation.EQ:
        return None
    raw = source.raw_start if source.raw_start is not None else source.start
    body = source.links[0].rhs
    text = f"{source.start} = {body}"
    free = set(body.free_symbols)
    if isinstance(raw, sp.Symbol) and raw.is_real:
        if table.definition_of(raw) is None and raw not in free and _opaque_ok(raw, body, written, unread):
            return Definition(text, body, target=raw)
    elif isinstance(raw, subscripted) and all(isinstance(i, sp.Symbol) for i in raw.indices):
        name = freeze(raw)
        uses_indices = bool(set(raw.indices) & _indices_of(body))
        if not uses_indices and isinstance(name, sp.Symbol):
            if table.definition_of(name) is None and name not in free and _opaque_ok(name, body, written, unread):
                return Definition(text, body, target=name)
        elif (uses_indices and table.family(raw.base_name, len(raw.indices)) is None
              and len(set(raw.indices)) == len(raw.indices) and _opaque_ok(name, body, written, unread)
              and not any(isinstance(n, sp.Symbol) and _member_of(n, raw.base_name) for n in free)):
            return Definition(text, _thaw(body, raw.indices), base=raw.base_name, params=tuple(raw.indices))
    elif (isinstance(raw, sp.Pow) and raw.exp == 2 and isinstance(raw.base, sp.Symbol)
          and table.definition_of(raw.base) is None and raw.base not in free):
        return Definition(text, sp.sqrt(body), target=raw.base)  # \sigma^2 = V: sigma is sqrt(V)
    elif isinstance(raw, AppliedUndef) and table.function_definition(raw.func.__name__) is None:
        params = raw.args
        if (all(isinstance(a, sp.Symbol) for a in params) and len(set(params)) == len(params)
                and not body.has(raw.func)):
            return Definition(text, body, base=raw.func.__name__, params=tuple(params),  # type: ignore[arg-type]
                              function=True)
    if source.defines:
        raise _Located("the left side of a definition (:=) must be a new name, such as z, \\hat{x}_i or f(x)",
                       source.line, source.column)
    return None if seen is None else _definition_on_the_right(source, table, seen)


def _names_in(expr: sp.Basic) -> set[str]:
    """The names in ``expr``: symbols (with the family name before ``_``) and indexed families."""
    names: set[str] = set()
    for atom in expr.atoms(sp.Symbol, subscripted):
        name = str(atom.base_name) if isinstance(atom, subscripted) else atom.name
        names |= {name, name.split("_", 1)[0]}
    return names


def _definition_on_the_right(source: ChainSource, table: SymbolTable, seen: set[str]) -> Definition | None:
    r"""``\frac1m \sum_i x_i = \mu`` or ``... = \sigma^2``: a one-link display ending in a new name names it.

    A reader takes "the variance is $$\frac1m\sum_i (x_i - \mu)^2 = \sigma^2$$" as the definition of
    ``sigma^2``, not as a claim about a ``sigma`` given elsewhere. Only for a name no earlier display
    of the file uses (``seen``) and nothing defines, not used by the left side, when the left side is
    not itself a bare name and holds no derivative, limit or integral (``\\partial z/\\partial w = a_i``
    states a result: a claim).
    """
    if len(source.links) != 1 or source.links[0].relation is not Relation.EQ:
        return None
    start, end = source.start, source.links[0].rhs
    if isinstance(start, sp.Symbol) or not start.free_symbols:
        return None
    if start.has(sp.Derivative, sp.Limit, sp.Integral) or _opaque_names(start):
        return None  # "dz/dw = a_i": the result of a calculation, a claim to check
    if _names_in(end) & seen:
        return None  # a name used before: the display is a claim about it
    text = f"{end} = {start}"
    if isinstance(end, sp.Symbol) and end.is_real and not end.name.startswith("∂"):
        if table.definition_of(end) is None and end not in start.free_symbols:
            return Definition(text, start, target=end)
    if (isinstance(end, sp.Pow) and end.exp == 2 and isinstance(end.base, sp.Symbol)
            and table.definition_of(end.base) is None and end.base not in start.free_symbols):
        return Definition(text, sp.sqrt(start), target=end.base)  # ... = \sigma^2: sigma is its square root
    return None


def _expanded(definition: Definition, table: SymbolTable) -> Definition:
    """The definition with the derivatives in its body evaluated (``δ = ∂L/∂z``): substituting it stays valid."""
    if not definition.body.has(sp.Derivative):
        return definition
    try:
        body = _expand_derivatives(freeze(definition.body), table.where([definition.body]))  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - keep the body as written
        return definition
    if definition.body.has(subscripted):
        return definition
    return replace(definition, body=body)


def _indices_of(expr: sp.Expr) -> set[sp.Basic]:
    """The index symbols a (frozen) expression uses: in names ``x_i`` and in free integer symbols."""
    out: set[sp.Basic] = {s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s.is_integer}
    for symbol in expr.free_symbols:
        if isinstance(symbol, sp.Symbol) and "_" in symbol.name and not symbol.is_integer:
            suffix = symbol.name.rsplit("_", 1)[1]
            if suffix.isalpha():
                out |= {index_symbol(c) for c in suffix}
    return out


def _member_of(symbol: sp.Symbol, base: str) -> bool:
    return symbol.name.startswith(base + "_")


def _thaw(body: sp.Expr, params: Sequence[sp.Basic]) -> sp.Expr:
    """A frozen body with the family's own indices made members again (``x_i`` -> ``x[i]``)."""
    letters = {p.name for p in params if isinstance(p, sp.Symbol)}
    mapping: dict[sp.Basic, sp.Expr] = {}
    for symbol in body.free_symbols:
        if not isinstance(symbol, sp.Symbol) or symbol.is_integer or "_" not in symbol.name:
            continue
        base, suffix = symbol.name.rsplit("_", 1)
        parts = suffix.split(",") if "," in suffix else list(suffix)
        if any(p in letters for p in parts) and all(p.isalpha() or p.isdigit() for p in parts):
            indices = [sp.Integer(int(p)) if p.isdigit() else index_symbol(p) for p in parts]
            mapping[symbol] = subscripted(Str(base), *indices)
    return body.xreplace(mapping)


def _opaque_ok(name: sp.Basic, body: sp.Expr, written: str = "",
               unread: set[str] | frozenset[str] = frozenset()) -> bool:
    """``∂L/∂z = ...`` gives the value of an opaque derivative only when its right side has no derivative.

    ``∂L/∂w = ∂L/∂z ∂z/∂w`` is a chain rule, a claim (not checked), never a definition.
    """
    if not isinstance(name, sp.Symbol) or not name.name.startswith("∂"):
        return True
    if any(mark in written for mark in ("\\partial", "∂", "\\frac{d", "\\nabla", "'")):
        return False
    if _opaque_key(name.name)[0][1:] in unread:
        return False  # its function was written in a display symgrad could not read: a claim, not a given
    top = _opaque_key(name.name)[0]
    return not any(_opaque_key(n)[0] == top for n in _opaque_names(body))


# ---------------------------------------------------------------------------
# Checking one chain, link by link
# ---------------------------------------------------------------------------


def _check_chain(start: sp.Expr, links: Sequence[Link], source: ChainSource, table: SymbolTable,
                 assumptions: Sequence[sp.Basic], path: str, options: CheckOptions | None) -> NoteChain:
    exprs = [start, *(link.rhs for link in links)]
    variables = [v for e in exprs for d in e.atoms(sp.Derivative) for v in d.variables]
    definitions = table.where([*exprs, *variables])  # a derivative's variables are bound: ask for them too
    expanded: list[sp.Expr] = []
    reasons: list[str | None] = []
    for expr in exprs:
        try:
            expanded.append(_expand_derivatives(expr, definitions))
            reasons.append(None)
        except _NotChecked as exc:
            expanded.append(expr)
            reasons.append(str(exc))
    proof = calc(expanded[0], assume=list(assumptions), where=table.where(expanded))
    for link, rhs in zip(links, expanded[1:]):
        try:
            proof = proof.step(link.relation, rhs, by=_justification_text(link.note))
        except ChainError as exc:
            raise _Located(str(exc), link.line, link.column) from None
    verdicts: list[Verdict] = []
    for index, ((lhs, relation, rhs, by), link) in enumerate(zip(proof.links(), links), start=1):
        case = _Case.of(link, table)
        if case.reason is None:
            lhs, rhs = case.apply(lhs), case.apply(rhs)
        reason = (reasons[index - 1] or reasons[index] or case.reason
                  or _uncheckable(lhs, rhs, proof.definitions))
        if reason is not None:
            verdicts.append(not_checked(index, lhs, relation, rhs, reason, by))
            continue
        verdicts.append(_decide(index, lhs, relation, rhs, by, proof, options, case))
    report = Report(proof, tuple(verdicts))
    return NoteChain(path, source.line, proof, report, tuple(link.line for link in links))


def _where_definition(condition: sp.Basic, link: Link, table: SymbolTable) -> Definition | None:
    """``z = w x + b`` after ``where`` (or ``with``): a definition of a new name."""
    if link.condition_word not in ("where", "with") or not isinstance(condition, sp.Eq):
        return None
    name, body = condition.lhs, condition.rhs
    if (isinstance(name, sp.Symbol) and name.is_real and table.definition_of(name) is None
            and name not in body.free_symbols):
        return Definition(f"{name} = {body}", body, target=name)
    return None


@dataclass(frozen=True)
class _Case:
    """The conditions written after a step: the case it is claimed for."""

    assumptions: tuple[sp.Basic, ...] = ()
    different: tuple[tuple[sp.Symbol, sp.Symbol], ...] = ()  #: i \neq j
    same: tuple[tuple[sp.Symbol, sp.Symbol], ...] = ()  #: i = j
    reason: str | None = None

    @staticmethod
    def of(link: Link, table: SymbolTable) -> "_Case":
        if link.condition_error is not None:
            return _Case(reason=f"the condition after the step cannot be read: {link.condition_error}")
        assumptions: list[sp.Basic] = []
        different: list[tuple[sp.Symbol, sp.Symbol]] = []
        same: list[tuple[sp.Symbol, sp.Symbol]] = []
        for condition in link.conditions:
            if isinstance(condition, sp.Ne):
                different.append((condition.lhs, condition.rhs))  # type: ignore[arg-type]
            elif isinstance(condition, sp.Eq):
                left, right = condition.lhs, condition.rhs
                if isinstance(left, sp.Symbol) and left.is_integer and isinstance(right, sp.Symbol):
                    same.append((left, right))
                elif link.condition_word in ("where", "with") and isinstance(left, sp.Symbol):
                    continue  # a definition, read before the step is checked
                else:
                    return _Case(reason=f"the condition {condition} is an equation symgrad does not assume")
            else:
                assumptions.append(condition)
        return _Case(tuple(assumptions), tuple(different), tuple(same))

    def apply(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` in this case: δ_ij is 0 when i ≠ j; with i = j, j is i (``x_j`` is ``x_i``)."""
        for i, j in self.different:
            expr = expr.xreplace({sp.KroneckerDelta(i, j): sp.S.Zero, sp.KroneckerDelta(j, i): sp.S.Zero})
        for i, j in self.same:
            expr = _rename_index(expr, j.name, i.name)
        return expr

    def allows(self, at: dict[sp.Symbol, sp.Integer]) -> bool:
        """Whether index values ``at`` belong to this case."""
        return all(at.get(i) is None or at.get(j) is None or at[i] != at[j] for i, j in self.different)


def _rename_index(expr: sp.Expr, old: str, new: str) -> sp.Expr:
    """Index ``old`` becomes ``new``, in free index symbols and in names (``x_j`` -> ``x_i``)."""
    mapping: dict[sp.Basic, sp.Basic] = {index_symbol(old): index_symbol(new)}
    for symbol in expr.free_symbols:
        if isinstance(symbol, sp.Symbol):
            parsed = _name_indices(symbol)
            if parsed is not None and old in parsed[1]:
                base, parts = parsed
                indices = [index_symbol(new) if p == old else
                           (sp.Integer(int(p)) if p.isdigit() else index_symbol(p)) for p in parts]
                mapping[symbol] = real_symbol(subscript_name(base, indices))
    return expr.xreplace(mapping)


class _NotChecked(Exception):
    """An expression the kernel must not be asked about; the message says why."""


def _substitute(expr: sp.Expr, definitions: dict[sp.Symbol, sp.Expr] | Sequence[tuple[sp.Basic, sp.Basic]]
                ) -> sp.Expr:
    mapping = dict(definitions)
    for _ in range(len(mapping) + 1):
        new = expr.xreplace(mapping)
        if new == expr:
            return new
        expr = new
    return expr


def _expand_derivatives(expr: sp.Expr, definitions: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    r"""Evaluate each derivative of a defined name, holding its variables fixed.

    ``\frac{\partial L}{\partial z}`` with ``L = -\log \sigma(z)`` and ``z = w x + b``
    differentiates ``-\log \sigma(z)`` by ``z`` (``z`` itself is not replaced),
    as a reader does; the kernel then substitutes ``z``.
    """
    if not expr.has(sp.Derivative):
        return expr

    def evaluate(derivative: sp.Derivative) -> sp.Expr:
        variables = [v for v, _ in derivative.variable_count]
        keep = {v for v in variables if isinstance(v, sp.Symbol)}
        powers = {v: _power_variable(v) for v in keep}
        held = keep | {p.base for p in powers.values() if p is not None}
        mapping = {k: v for k, v in definitions.items() if k not in held}
        body = _substitute(derivative.expr, mapping)
        for variable in keep:
            made_of = definitions.get(variable)
            if (made_of is not None and variable not in body.free_symbols
                    and made_of.free_symbols & body.free_symbols):
                raise _NotChecked(f"the derivative by {variable} of an expression written in terms of what "
                                  f"{variable} is made of ({variable} = {made_of}), not of {variable}")
        for variable in variables:
            base = _component_of(variable)
            if base is not None and base in body.free_symbols:
                raise _NotChecked(f"matrix calculus: the derivative by the component {variable} of an "
                                  f"expression in the whole vector {base}")
        members = any(member_family(body, v) is not None for v in variables)
        if (body == derivative.expr and not any(v in definitions for v in keep) and not any(powers.values())
                and not members):
            return derivative
        out = body
        for variable, count in derivative.variable_count:
            power = powers.get(variable)
            if power is not None:
                stand_in = sp.Dummy("v", real=True)
                replaced = out.xreplace({power: stand_in})
                if power.base in replaced.free_symbols:
                    raise _NotChecked(f"the derivative by {power} of an expression that uses {power.base} "
                                      "otherwise than through it")
                out = sp.diff(replaced, stand_in, count).xreplace({stand_in: power})
            else:
                out = diff_members(out, ((variable, count),))
        return out

    return expr.replace(lambda e: isinstance(e, sp.Derivative), evaluate)


def _power_variable(variable: sp.Basic) -> sp.Pow | None:
    r"""The variable ``\sigma^2`` of ``\partial L / \partial \sigma^2`` (a symbol named ``sigma^2``)."""
    if isinstance(variable, sp.Symbol) and "^" in variable.name and not variable.name.startswith("∂"):
        base, exponent = variable.name.rsplit("^", 1)
        if exponent.isdigit() and base:
            return sp.Pow(real_symbol(base), int(exponent), evaluate=False)
    return None


def _component_of(variable: sp.Basic) -> sp.Symbol | None:
    """``z`` for the variable ``z_i`` (a component), else None."""
    if isinstance(variable, subscripted):
        return real_symbol(variable.base_name)
    if isinstance(variable, sp.Symbol) and "_" in variable.name and not variable.name.startswith("∂"):
        return real_symbol(variable.name.split("_", 1)[0])
    return None


def _opaque_names(expr: sp.Expr) -> set[str]:
    """The opaque derivatives in ``expr``: ``∂L/∂z_i`` (and ``∂L/∂z[]`` for a family under a sum)."""
    return {s.name for s in expr.free_symbols if isinstance(s, sp.Symbol) and s.name.startswith("∂")}


def _opaque_key(name: str) -> tuple[str, str]:
    """``∂L/∂z_i`` -> (``∂L``, ``∂z``): the function and the variable, without indices."""
    top, _, bottom = name.partition("/")
    bottom = bottom.split("[", 1)[0]
    if "_" in bottom:
        bottom = bottom.rsplit("_", 1)[0]
    return top.rstrip("0123456789"), bottom


def _uncheckable(lhs: sp.Expr, rhs: sp.Expr, definitions: Sequence[tuple[sp.Basic, sp.Basic]]) -> str | None:
    """Why ``lhs REL rhs`` cannot be checked, or None.

    Derivatives of a function the note never writes down (``∂L/∂w`` and ``∂L/∂z``)
    are opaque quantities: a step that relates different ones rests on how ``L``
    depends on them (the chain rule through an unknown function), which symgrad
    cannot see; such a step is "not checked", never refuted.
    """
    left = _opaque_names(_substitute(lhs, definitions))
    right = _opaque_names(_substitute(rhs, definitions))
    if left == right:
        return None
    by_top: dict[str, tuple[set[str], set[str]]] = {}
    for side, names in ((0, left), (1, right)):
        for name in names:
            top, bottom = _opaque_key(name)
            by_top.setdefault(top, (set(), set()))[side].add(bottom)
    for top, (l_vars, r_vars) in by_top.items():
        if l_vars != r_vars:
            shown = ", ".join(sorted(left ^ right))
            return (f"{shown}: {top[1:]} is never written down, so how it depends on "
                    f"{', '.join(sorted(v[1:] for v in l_vars | r_vars))} cannot be checked "
                    "(a chain rule through an undefined function)")
    return None


def _index_assumptions(lhs: sp.Expr, rhs: sp.Expr) -> tuple[sp.Basic, ...]:
    """A free index in a step whose sums all run over one range lies in that range (``1 <= i <= m``)."""
    ranges = {tuple(limit[1:]) for side in (lhs, rhs) for s in side.atoms(sp.Sum, sp.Product)
              for limit in s.limits}
    free = {s for side in (lhs, rhs) for s in side.free_symbols if isinstance(s, sp.Symbol) and s.is_integer}
    if len(ranges) != 1 or not free:
        return ()
    ((lower, upper),) = ranges
    out: list[sp.Basic] = []
    for index in sorted(free, key=str):
        out += [sp.Le(lower, index, evaluate=False), sp.Le(index, upper, evaluate=False)]
    return tuple(out)


#: Sizes tried for a symbolic number of terms (``\sum_{i=1}^{m}``) when no proof for every size is found.
SIZES = (2, 3, 1)
#: Most instances (sizes and index values) tried per step.
MAX_INSTANCES = 6
#: Fewest instances without a counterexample for a ``numeric`` verdict (all of them, if fewer exist).
MIN_INSTANCES = 3
#: Seconds spent looking for a counterexample at one instance.
INSTANCE_BUDGET = 0.6


def _decide(index: int, lhs: sp.Expr, relation: Relation, rhs: sp.Expr, by: Justification, proof: Proof,
            options: CheckOptions | None, case: _Case | None = None) -> Verdict:
    """The kernel's verdict on one link; exceptions become "not checked".

    A step over a symbolic number of terms (``\\sum_{i=1}^{m}``) or with a free index
    that also names entries (``j`` in ``KroneckerDelta(i, j)`` and in ``x_j``) is
    also checked at small sizes and every index value: a counterexample there refutes
    it; if every instance holds it is ``numeric``, never ``proved``.
    """
    case = case or _Case()
    left, right = _substitute(lhs, proof.definitions), _substitute(rhs, proof.definitions)
    coupled = _coupled_indices(left, right)
    verdict: Verdict | None = None
    given = tuple(proof.assumptions) + case.assumptions
    sizes = _symbolic_sizes(left, right, proof.definitions)
    if not coupled and not case.different:
        assumptions = given + _index_assumptions(lhs, rhs) + tuple(sp.Ge(n, 1) for n in sizes)
        try:
            verdict = cached_decide(lhs, relation, rhs, assumptions, proof.definitions, options, index=index, by=by)
        except Exception as exc:  # noqa: BLE001 - reported on the step, never raised
            verdict = not_checked(index, lhs, relation, rhs, _reason(exc), by)
        # a symbolic number of terms is sampled as a real number: only a proof counts; else try sizes
        if verdict.status is Status.PROVED or (verdict.status is not Status.UNKNOWN and not sizes):
            return verdict
    if not sizes and not coupled and not case.different:
        assert verdict is not None
        return verdict
    if verdict is not None and verdict.status is not Status.UNKNOWN:
        verdict = not_checked(index, lhs, relation, rhs, "no proof for every size, and a small size "
                              "could not be evaluated", by)
    given_up = verdict or not_checked(index, lhs, relation, rhs, "a free index that also names entries "
                                      f"({', '.join(sorted(map(str, coupled)))}) could not be checked "
                                      "at small sizes", by)
    tried: list[str] = []
    samples, digits, undecided = 0, 0, 0
    base = options or CheckOptions()
    quick = replace(base, budget=min(base.budget, INSTANCE_BUDGET), samples=2 * base.min_samples,
                    quick_samples=min(base.quick_samples, 6), digits=30)
    letters = coupled | {s for pair in case.different for s in pair} | _name_letters(left, right, sizes)
    for at in _instances(left, right, sizes, letters):
        if not case.allows(at):
            continue
        if len(tried) + undecided >= MAX_INSTANCES:
            break
        shown = ", ".join(f"{k} = {v}" for k, v in at.items())
        try:
            small_lhs, small_rhs = _instance(left, at).doit(), _instance(right, at).doit()
            constant = not (small_lhs.free_symbols or small_rhs.free_symbols)
            small = cached_decide(small_lhs, relation, small_rhs, tuple(_instance(a, at) for a in given), (), quick,
                                  index=index, by=by, symbolic=constant)
        except Exception:  # noqa: BLE001 - an instance that cannot be evaluated proves nothing
            undecided += 1
            continue
        if small.status is Status.REFUTED:
            return replace(small, lhs=lhs, rhs=rhs, note=f"with {shown}")
        if small.status is Status.UNKNOWN:
            undecided += 1
            continue
        tried.append(shown)
        samples += small.samples
        digits = small.digits
    if not tried or len(tried) < min(MIN_INSTANCES, len(tried) + undecided):
        return given_up
    names = ", ".join(str(s) for s in [*sizes[:1], *sorted(coupled, key=str)])
    shown_instances = [t for t in tried if t]
    listed = (f" ({'; '.join(shown_instances[:4])}{'; ...' if len(shown_instances) > 4 else ''})"
              if shown_instances else "")
    return replace(given_up, status=Status.NUMERIC, method="small sizes", samples=samples, digits=digits, note=(
        f"no proof for every {names or 'case'}; holds at {len(tried)} instance{'s' if len(tried) != 1 else ''}"
        f"{listed}" + (f"; {undecided} undecided" if undecided else "")))


def _symbolic_sizes(lhs: sp.Expr, rhs: sp.Expr, definitions: Sequence[tuple[sp.Basic, sp.Basic]]
                    ) -> list[sp.Symbol]:
    """The free symbols that are the number of terms of a sum or product in the step."""
    defined = {k for k, _ in definitions}
    out: list[sp.Symbol] = []
    for side in (lhs, rhs):
        for s in side.atoms(sp.Sum, sp.Product):
            for limit in s.limits:
                for bound in limit[1:]:
                    for symbol in bound.free_symbols:
                        if (isinstance(symbol, sp.Symbol) and symbol not in defined and symbol not in out
                                and not symbol.is_integer):
                            out.append(symbol)
    return out


def _name_indices(symbol: sp.Symbol) -> tuple[str, list[str]] | None:
    """``x_j`` -> (``x``, [``j``]); ``W^(1)_ij`` -> (``W^(1)``, [``i``, ``j``]); else None."""
    if symbol.is_integer or "_" not in symbol.name:
        return None
    base, suffix = symbol.name.rsplit("_", 1)
    if not base or not suffix:
        return None
    if "," in suffix:
        parts = suffix.split(",")
    elif suffix.isalpha():
        parts = list(suffix)
    else:
        parts = [suffix]
    if not all(p.isalpha() and len(p) == 1 or p.isdigit() for p in parts):
        return None
    return base, parts


def _coupled_indices(lhs: sp.Expr, rhs: sp.Expr) -> set[sp.Symbol]:
    """Free integer indices that also name entries of the step (``j`` with ``x_j``)."""
    free = {s for side in (lhs, rhs) for s in side.free_symbols if isinstance(s, sp.Symbol) and s.is_integer}
    if not free:
        return set()
    letters: set[str] = set()
    for side in (lhs, rhs):
        for symbol in side.free_symbols:
            if isinstance(symbol, sp.Symbol):
                parsed = _name_indices(symbol)
                if parsed is not None:
                    letters.update(parsed[1])
    return {s for s in free if s.name in letters}


def _name_letters(lhs: sp.Expr, rhs: sp.Expr, sizes: Sequence[sp.Symbol]) -> set[sp.Symbol]:
    """The lower-case index letters of the names in a step (``i`` of ``a_i``), and its free integer indices."""
    out = {s for side in (lhs, rhs) for s in side.free_symbols if isinstance(s, sp.Symbol) and s.is_integer}
    taken = {str(s) for s in sizes}
    for side in (lhs, rhs):
        for symbol in side.free_symbols:
            if isinstance(symbol, sp.Symbol):
                parsed = _name_indices(symbol)
                if parsed is not None:
                    out |= {index_symbol(p) for p in parsed[1] if p.isalpha() and p.islower() and p not in taken}
    return out


def _instances(lhs: sp.Expr, rhs: sp.Expr, sizes: Sequence[sp.Symbol], coupled: set[sp.Symbol]
               ) -> Iterator[dict[sp.Symbol, sp.Integer]]:
    """Small sizes, and for each every value of the free indices in the range of the step's sums."""
    import itertools

    indices = sorted(coupled, key=str)
    for n in (SIZES if sizes else (None,)):
        at: dict[sp.Symbol, sp.Integer] = {} if n is None else {sizes[0]: sp.Integer(n)}
        for extra in sizes[1:]:
            at[extra] = sp.Integer(n if n is not None else 2)
        ranges = {tuple(a.xreplace(at) for a in limit[1:]) for side in (lhs, rhs)
                  for s in side.atoms(sp.Sum, sp.Product) for limit in s.limits}
        concrete = [r for r in ranges if all(isinstance(b, sp.Integer) for b in r)]
        if len(concrete) == 1:
            lower, upper = int(concrete[0][0]), int(concrete[0][1])
        elif not ranges:
            lower, upper = 1, 2
        else:
            return
        values = range(lower, min(upper, lower + 3) + 1)
        for count, combo in enumerate(itertools.product(values, repeat=len(indices))):
            if count >= MAX_INSTANCES:
                break
            yield {**at, **{i: sp.Integer(v) for i, v in zip(indices, combo)}}


def _instance(expr: sp.Basic, at: dict[sp.Symbol, sp.Integer]) -> sp.Basic:
    """``expr`` at the sizes and index values ``at``: ``x_j`` becomes ``x_2`` when ``j = 2``."""
    values = {k.name: int(v) for k, v in at.items() if k.is_integer}

    def rebound(e: sp.Basic) -> sp.Basic:  # a summation index named like a free index stays bound
        fresh = {lim[0]: sp.Dummy(lim[0].name, integer=True) for lim in e.limits if lim[0] in at}
        return e.xreplace(fresh)

    expr = expr.replace(lambda e: isinstance(e, (sp.Sum, sp.Product)) and any(lim[0] in at for lim in e.limits),
                        rebound)
    mapping: dict[sp.Basic, sp.Basic] = {}
    for symbol in expr.free_symbols:
        if not isinstance(symbol, sp.Symbol):
            continue
        parsed = _name_indices(symbol)
        if parsed is None or not any(p in values for p in parsed[1]):
            continue
        base, parts = parsed
        indices = [sp.Integer(values[p]) if p in values else
                   (sp.Integer(int(p)) if p.isdigit() else index_symbol(p)) for p in parts]
        mapping[symbol] = real_symbol(subscript_name(base, indices))
    return expr.xreplace(mapping).xreplace(at)


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
