"""The lark parser of ``latex.lark``, the grammar symgrad owns (shipped as package data)."""

from __future__ import annotations

import functools
from importlib import resources

from lark import Lark

__all__ = ["grammar", "grammar_text"]


def grammar_text() -> str:
    """The text of ``latex.lark``."""
    return resources.files(__package__).joinpath("latex.lark").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def grammar() -> Lark:
    """The LALR(1) parser with a basic lexer, built once (the tests check it has no conflicts).

    Two start symbols: ``start`` (what the parser reads) and ``raw_tokens``
    (so that lark keeps every raw terminal in its lexer).
    """
    return Lark(grammar_text(), parser="lalr", lexer="basic", start=["start", "raw_tokens"],
                maybe_placeholders=False, propagate_positions=False)
