"""Filters: how templates escape and lay out text, math and code in each format."""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from .escape import escape_latex, escape_latex_math_text, escape_markdown, escape_markdown_line, \
    latex_code_ascii, latex_math_ascii, split_math
from ..core.errors import InputError
from .linebreak import break_lines, width as math_width
from .views import LABEL_BAD, TableView

__all__ = ["FILTERS", "DELIMITERS", "md_prose", "tex_prose", "md_math", "md_math_cell"]


# ---------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------


def _paragraphs(prose: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t]*\n", prose.replace("\r\n", "\n")) if p.strip()]


def md_prose(prose: str, inline: bool = False) -> str:
    """Prose as Markdown: text escaped, ``$...$`` math kept; paragraphs by blank lines.

    ``inline=True`` (captions) makes one line of it.
    """
    if inline:
        prose = " ".join(prose.split())
    out = []
    for para in _paragraphs(prose):
        out.append("".join(
            f"${md_math(' '.join(seg.text.split()))}$" if seg.math
            else escape_markdown(seg.text, line_starts=not inline)
            for seg in split_math(para)
        ))
    return "\n\n".join(out)


def tex_prose(prose: str, inline: bool = False) -> str:
    """Prose as LaTeX: text escaped, ``$...$`` math kept; paragraphs by blank lines.

    ``inline=True`` (captions, moving arguments) makes one paragraph of it.
    """
    if inline:
        prose = " ".join(prose.split())
    out = []
    for para in _paragraphs(prose):
        out.append("".join(
            f"${latex_math_ascii(' '.join(seg.text.split()))}$" if seg.math else escape_latex(seg.text)
            for seg in split_math(para)
        ))
    return "\n\n".join(out)


_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!?])")


def _note(text: str, render: Callable[[str], str], plain: Callable[[str], str]) -> str:
    """A one-line note (a justification): prose with ``$...$`` math, or all text if its ``$`` don't pair."""
    try:
        split_math(text)
    except InputError:
        return plain(" ".join(text.split()))
    return render(text)


def md_note(text: str) -> str:
    r"""A justification for a Markdown table cell: text escaped, ``$...$`` math kept (``|`` as ``\vert``)."""
    def render(prose: str) -> str:
        return "".join(f"${md_math_cell(seg.text)}$" if seg.math else escape_markdown(seg.text, line_starts=False)
                       for seg in split_math(" ".join(prose.split())))
    return _note(text, render, escape_markdown_line)


def tex_note(text: str) -> str:
    """A justification for LaTeX text (a table cell): text escaped, ``$...$`` math kept."""
    return _note(text, lambda prose: tex_prose(prose, inline=True), escape_latex)


def tex_math_note(text: str) -> str:
    r"""A justification inside math, as the content of ``\text{...}``: its ``$...$`` math stays math."""
    def render(prose: str) -> str:
        return "".join(f"${latex_math_ascii(' '.join(seg.text.split()))}$" if seg.math
                       else escape_latex_math_text(seg.text) for seg in split_math(" ".join(prose.split())))
    return _note(text, render, escape_latex_math_text)


def md_math(latex: str) -> str:
    r"""Math for Markdown: a ``<`` that could open an HTML tag (``<b``, ``</``) becomes ``\lt``.

    Markdown renderers read HTML before they see math, so ``$a<b$`` could
    otherwise become a tag; KaTeX and MathJax both know ``\lt``.
    """
    return _TAG_LIKE.sub(r"\\lt ", latex)


def md_claim(latex: str, end: str = "") -> str:
    r"""A claim inside a sentence: inline ``$...$`` then ``end``, or a fenced ``math`` block when it
    holds rows (``end`` then goes inside the math, as a display's closing punctuation).

    GitHub's Markdown pass eats the ``\\\\`` of a matrix or ``cases`` written in ``$...$``
    before the math is rendered; a fenced ``math`` block keeps it.
    """
    if "\\\\" in latex or "\\begin{" in latex:
        closing = f" \\text{{{end}}}" if end else ""
        return "\n\n```math\n" + md_math(latex) + closing + "\n```\n\n"
    return "$" + md_math(latex) + "$" + end


def md_math_cell(latex: str) -> str:
    r"""Math for a GFM table cell: a ``|`` would split the cell, so use ``\vert``."""
    latex = latex.replace(r"\|", r"\Vert ")
    latex = re.sub(r"\\(left|right)\|", r"\\\1\\vert ", latex)
    latex = latex.replace("|", r"\vert ")
    return md_math(" ".join(latex.split()))


def md_quote(text: str) -> str:
    """``text`` as a Markdown block quote: each line prefixed with ``> `` (blank lines ``>``)."""
    lines = text.strip("\n").split("\n")
    return "\n".join(f"> {line}" if line.strip() else ">" for line in lines) + "\n"


def md_fence(code: str) -> str:
    """A backtick fence longer than any backtick run in ``code`` (at least 3)."""
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


#: Languages ``listings`` knows, keyed by lower-case name.
_LST_LANGUAGES = {
    "python": "Python", "py": "Python", "bash": "bash", "sh": "sh", "shell": "bash",
    "c": "C", "c++": "C++", "cpp": "C++", "java": "Java", "r": "R", "sql": "SQL",
    "tex": "TeX", "latex": "TeX", "matlab": "Matlab", "octave": "Octave",
    "haskell": "Haskell", "ruby": "Ruby", "perl": "Perl", "xml": "XML", "html": "HTML",
    "make": "make", "fortran": "Fortran", "lisp": "Lisp", "ml": "ML",
}


def lst_language(language: str) -> str:
    """The ``listings`` name of ``language``, or ``""`` if listings lacks it."""
    return _LST_LANGUAGES.get(language.lower(), "")


def tex_listing(code: str) -> str:
    r"""Code for ``lstlisting``: ASCII, and unable to end the environment early."""
    code = latex_code_ascii(code)
    return re.sub(r"\\end(\s*)\{lstlisting\}", r"\\end \1{lstlisting}", code)


def tex_table_columns(table: "TableView") -> str:
    r"""A tabularx column spec for ``table``.

    All ``l`` when the table fits (the template then uses plain ``tabular``);
    otherwise a column whose text is long *and* can break between words
    becomes a ragged ``X`` column, the others stay ``l``.
    """
    def width(text: str, math: bool) -> float:
        return len(text) * (0.5 if math else 1.0)

    def header_segments(header: str) -> list[tuple[str, bool]]:
        try:
            return [(seg.text, seg.math) for seg in split_math(header)]
        except InputError:  # unpaired $: shown as text
            return [(header, False)]

    widths, words, maths = [], [], []
    for i, header in enumerate(table.columns):
        heading = header_segments(header)
        cells = [(row[i].text, row[i].math) for row in table.rows]
        maths.append(any(row[i].math for row in table.rows))
        shown = sum(len(_COMMAND.sub("x", t)) if m else len(t) for t, m in heading)  # \partial is one glyph
        widths.append(max([shown] + [width(t, m) for t, m in cells]))
        words.append(max(width(w, m) for t, m in heading + cells for w in (t.split() or [""])))
    if sum(widths) + 3 * len(widths) <= _TABLE_CHARS:
        return "l" * len(widths)
    # Inline math wraps in a paragraph column too (at its + and = signs), so a long
    # math column is an X column as well.
    return "".join(r">{\raggedright\arraybackslash}X" if w > 12 and (w > 1.5 * longest or math) else "l"
                   for w, longest, math in zip(widths, words, maths))


#: A LaTeX command and the spaces after it (one glyph in print).
_COMMAND = re.compile(r"\\[A-Za-z]+\s*")
#: About how many characters of \small text fit across the text width.
_TABLE_CHARS = 80


def tex_label(label: str) -> str:
    """A string safe inside ``\\label{}``."""
    return LABEL_BAD.sub("-", label)


def _join_numbers(numbers: Iterable[int]) -> str:
    items = [str(n) for n in numbers]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def math_lines(latex: str, available: float) -> list[str]:
    """Display math ``latex`` as lines of at most ``available`` em (see :mod:`.linebreak`)."""
    return break_lines(latex, available)


_LAYOUT: dict[str, Callable[..., Any]] = {"math_lines": math_lines, "math_width": math_width}

FILTERS: dict[str, dict[str, Callable[..., Any]]] = {
    "md": {
        "md": escape_markdown,
        "md_line": escape_markdown_line,
        "md_prose": md_prose,
        "md_math_cell": md_math_cell,
        "md_math": md_math,
        "md_claim": md_claim,
        "md_fence": md_fence,
        "md_note": md_note,
        "md_quote": md_quote,
        "numbers": _join_numbers,
        **_LAYOUT,
    },
    "tex": {
        "tex": escape_latex,
        "tex_text": escape_latex_math_text,
        "tex_prose": tex_prose,
        "tex_note": tex_note,
        "tex_math_note": tex_math_note,
        "tex_listing": tex_listing,
        "tex_label": tex_label,
        "tex_table_columns": tex_table_columns,
        "lst_language": lst_language,
        "numbers": _join_numbers,
        **_LAYOUT,
    },
}

DELIMITERS: dict[str, dict[str, Any]] = {
    "md": {},
    "tex": {
        "block_start_string": "((*",
        "block_end_string": "*))",
        "variable_start_string": "(((",
        "variable_end_string": ")))",
        "comment_start_string": "((#",
        "comment_end_string": "#))",
    },
}
