"""Errors of the notation parser: every one names the line and column.

Line and column count from 1; the parsers take the position where their text
starts in its file, so a message can say ``notes.md:14:9: unknown macro \\foo``.
"""

from __future__ import annotations

from ...core.errors import InputError, UnsupportedError

__all__ = ["ParseError", "UnsupportedNotation"]


class ParseError(InputError):
    """Math that cannot be read: a syntax error, an unknown macro, a size limit.

    ``message`` is the bare description; ``line`` and ``column`` (1-based, or
    None when unknown) say where; ``str(error)`` joins them.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(self._text())

    def _text(self) -> str:
        if self.line is None:
            return self.message
        where = f"line {self.line}" if self.column is None else f"line {self.line}, column {self.column}"
        return f"{where}: {self.message}"

    @property
    def location(self) -> str:
        """``LINE:COLUMN`` (or ``LINE``, or empty) for ``path:LINE:COLUMN`` messages."""
        if self.line is None:
            return ""
        return str(self.line) if self.column is None else f"{self.line}:{self.column}"


class UnsupportedNotation(ParseError, UnsupportedError):
    """Well-formed notation that symgrad cannot give a meaning (vectors, integrals, ...)."""
