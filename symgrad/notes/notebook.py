"""Jupyter notebooks as notes: the Markdown cells, read with nbformat, as one Markdown text.

:func:`read_notebook` joins the Markdown cells of an ``.ipynb`` (in order, a
blank line between cells) so that the checker reads them as one Markdown file:
a declaration (``<!-- symgrad: ... -->``) or a definition in one cell holds in
the cells after it, exactly as further down a Markdown file. The checker scans
each cell on its own (:meth:`NotebookText.pieces`), so a display or fence left
open ends with its cell instead of swallowing the next. Code and raw cells
are not read. :meth:`NotebookText.relocate` turns the lines of that text back
into cells: a step is reported at ``notebook.ipynb:cell 7:line 3`` (cells are
counted from 1 over all cells, code cells included, as they appear in the
notebook; lines from 1 within the cell's source). :meth:`NotebookText.file_line`
gives the line of the ``.ipynb`` file itself where that source line is written,
for annotations on the raw file (GitHub).

A file that is not a notebook nbformat can read raises :class:`InputError`.
This module never imports the checker: it maps lines, and the checker calls it.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from ..core.errors import InputError

__all__ = ["NotebookText", "read_notebook"]

_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class NotebookText:
    """The Markdown cells of a notebook joined into one text, with where each cell starts."""

    markdown: str
    cells: tuple[int, ...]  #: 1-based cell number of each Markdown cell, in order
    starts: tuple[int, ...]  #: 1-based line of ``markdown`` where that cell begins
    file_lines: tuple[tuple[int, ...], ...]  #: per Markdown cell, the raw file line of each source line
    offsets: tuple[int, ...] = ()  #: the offset in ``markdown`` where that cell's source begins
    sources: tuple[str, ...] = ()  #: each Markdown cell's source (newlines normalized, ending in one)

    def pieces(self) -> list[tuple[str, int]]:
        """``(source, offset in markdown)`` of each Markdown cell: scan cells one by one, shift by the offset."""
        return list(zip(self.sources, self.offsets))

    def locate(self, line: int) -> tuple[int, int]:
        """``(cell, line in cell)`` of a line of :attr:`markdown` (both 1-based)."""
        if not self.starts:
            return 0, line
        k = max(0, bisect.bisect_right(self.starts, line) - 1)
        return self.cells[k], line - self.starts[k] + 1

    def file_line(self, cell: int, line: int) -> int | None:
        """The line of the ``.ipynb`` file holding line ``line`` of cell ``cell``, if it can be told."""
        try:
            lines = self.file_lines[self.cells.index(cell)]
        except ValueError:
            return None
        if not lines:
            return None
        return lines[min(max(line, 1), len(lines)) - 1]

    def relocate(self, report: Any) -> Any:
        """A checker report on :attr:`markdown` with each chain, step and problem placed in its cell."""
        chains = []
        for chain in report.chains:
            cell, first = self.locate(chain.line)
            where = [self.locate(line) for line in chain.lines]
            # A display lies within one cell, so its links' lines share the chain's cell.
            chains.append(replace(chain, cell=cell, line=first, lines=tuple(line for _, line in where)))
        problems = []
        for problem in report.problems:
            cell, line = self.locate(problem.line)
            problems.append(replace(problem, cell=cell, line=line))
        return replace(report, chains=tuple(chains), problems=tuple(problems))


def read_notebook(text: str, path: str = "<notebook>") -> NotebookText:
    """The Markdown cells of the notebook ``text`` (JSON, any nbformat version nbformat reads)."""
    try:
        import nbformat
    except ImportError as exc:  # pragma: no cover - nbformat is a dependency
        raise InputError(f"cannot read {path}: reading notebooks needs nbformat ({exc})") from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise InputError(f"cannot read {path}: not a notebook (invalid JSON: {exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", []), list):
        raise InputError(f"cannot read {path}: not a notebook (no list of cells)")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for a bad file
        message = " ".join(str(exc).split())[:200]
        raise InputError(f"cannot read {path}: not a notebook nbformat can read ({message})") from None
    positions = _source_lines(text)
    pieces: list[str] = []
    sources: list[str] = []
    offsets: list[int] = []
    offset = 0
    cells: list[int] = []
    starts: list[int] = []
    file_lines: list[tuple[int, ...]] = []
    line = 1
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if not isinstance(source, str):
            raise InputError(f"cannot read {path}: cell {number} has no text source")
        source = source.replace("\r\n", "\n").replace("\r", "\n")
        if not source.endswith("\n"):
            source += "\n"
        cells.append(number)
        starts.append(line)
        file_lines.append(positions[number - 1] if number - 1 < len(positions) else ())
        pieces.append(source + "\n")
        sources.append(source)
        offsets.append(offset)
        offset += len(source) + 1
        line += source.count("\n") + 1
    return NotebookText("".join(pieces), tuple(cells), tuple(starts), tuple(file_lines), tuple(offsets),
                        tuple(sources))


# ---------------------------------------------------------------------------
# Where a cell's source lines are written in the raw JSON
# ---------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def _source_lines(text: str) -> list[tuple[int, ...]]:
    """For each cell of the notebook JSON ``text``, the 1-based file line of each of its source lines.

    A source written as a list of strings (as Jupyter writes it) gives one line
    per element; a source written as one string gives that string's line for
    each of its lines. Anything unexpected gives ``[]`` (annotations then fall
    back to the cell's first line, or to line 1).
    """
    walker = _Walker(text)
    try:
        return walker.cells()
    except (ValueError, IndexError):
        return []


class _Walker:
    """A minimal JSON reader that records where ``cells[k].source`` is written."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [m.start() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1

    def skip_space(self, pos: int) -> int:
        match = _WHITESPACE.match(self.text, pos)
        return match.end() if match else pos

    def string(self, pos: int) -> tuple[str, int]:
        if self.text[pos] != '"':
            raise ValueError("expected a string")
        return json.decoder.scanstring(self.text, pos + 1)  # type: ignore[attr-defined,no-any-return]

    def value(self, pos: int) -> int:
        """Skip one JSON value starting at ``pos``; the offset after it."""
        pos = self.skip_space(pos)
        char = self.text[pos]
        if char == '"':
            return self.string(pos)[1]
        if char in "[{":
            close = "]" if char == "[" else "}"
            pos = self.skip_space(pos + 1)
            if self.text[pos] == close:
                return pos + 1
            while True:
                if char == "{":
                    _, pos = self.string(self.skip_space(pos))
                    pos = self.skip_space(pos)
                    if self.text[pos] != ":":
                        raise ValueError("expected ':'")
                    pos += 1
                pos = self.skip_space(self.value(pos))
                if self.text[pos] == close:
                    return pos + 1
                if self.text[pos] != ",":
                    raise ValueError("expected ','")
                pos += 1
        match = _SCALAR.match(self.text, pos)
        if not match:
            raise ValueError("unexpected character")
        return match.end()

    def members(self, pos: int) -> list[tuple[str, int, int]]:
        """The members ``(key, value start, value end)`` of the object at ``pos``."""
        pos = self.skip_space(pos)
        if self.text[pos] != "{":
            raise ValueError("expected an object")
        out = []
        pos = self.skip_space(pos + 1)
        if self.text[pos] == "}":
            return out
        while True:
            key, pos = self.string(self.skip_space(pos))
            pos = self.skip_space(pos)
            if self.text[pos] != ":":
                raise ValueError("expected ':'")
            start = self.skip_space(pos + 1)
            end = self.value(start)
            out.append((key, start, end))
            pos = self.skip_space(end)
            if self.text[pos] == "}":
                return out
            pos += 1

    def elements(self, pos: int) -> list[tuple[int, int]]:
        """The elements ``(start, end)`` of the array at ``pos``."""
        pos = self.skip_space(pos)
        if self.text[pos] != "[":
            raise ValueError("expected an array")
        out = []
        pos = self.skip_space(pos + 1)
        if self.text[pos] == "]":
            return out
        while True:
            start = self.skip_space(pos)
            end = self.value(start)
            out.append((start, end))
            pos = self.skip_space(end)
            if self.text[pos] == "]":
                return out
            pos += 1

    def cells(self) -> list[tuple[int, ...]]:
        top = {key: (start, end) for key, start, end in self.members(0)}
        if "cells" not in top:
            return []
        out: list[tuple[int, ...]] = []
        for start, _ in self.elements(top["cells"][0]):
            members = {key: (s, e) for key, s, e in self.members(start)}
            if "source" not in members:
                out.append(())
                continue
            s, _ = members["source"]
            if self.text[s] == '"':
                source, _ = self.string(s)
                out.append((self.line(s),) * max(1, source.count("\n") + 1))
                continue
            lines: list[int] = []
            for element, _ in self.elements(s):
                piece, _ = self.string(element)
                lines += [self.line(element)] * max(1, piece.count("\n") + (0 if piece.endswith("\n") else 1))
            out.append(tuple(lines))
        return out
