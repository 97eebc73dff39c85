r"""Escaping user text for LaTeX and Markdown, and splitting prose into text and math.

Every function here is pure and total on ``str``: whatever the input, the
output is safe to paste into the target format and shows the input literally
(up to Unicode that the target cannot show, which is transliterated).

- :func:`escape_latex`: text mode of a pdflatex document (T1 fontenc, utf8).
  Characters outside what T1/TS1 provide are transliterated; Greek letters and
  common math symbols become ``\ensuremath{...}``; anything else becomes a
  visible ``[U+XXXX]`` marker, so no input can stop pdflatex.
- :func:`escape_latex_math_text`: the content of ``\text{...}`` inside math,
  valid both for pdflatex (amsmath) and KaTeX/MathJax.
- :func:`escape_markdown`: GitHub-flavoured Markdown text with no active markup
  and no raw HTML.
- :func:`split_math`: ``$...$`` segments of prose; ``\$`` is a literal dollar.
- :func:`latex_code_ascii`: code for ``lstlisting`` (pdflatex reads bytes).
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from ..core.errors import InputError

__all__ = [
    "escape_latex",
    "escape_latex_math_text",
    "escape_markdown",
    "escape_markdown_line",
    "split_math",
    "Segment",
    "latex_code_ascii",
    "latex_math_ascii",
]

# ---------------------------------------------------------------------------
# Character tables
# ---------------------------------------------------------------------------

#: Specials inside ``\\text{...}`` in math: only commands KaTeX knows in text mode.
_LATEX_MATH_TEXT_SPECIALS: dict[str, str] = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}

#: In running text: the same, plus characters T1 would show wrongly or that
#: start an optional argument (``[`` after ``\\`` in a table row).
_LATEX_TEXT_SPECIALS: dict[str, str] = {
    **_LATEX_MATH_TEXT_SPECIALS,
    "[": "{[}",
    "]": "{]}",
    "*": "{*}",
    "`": r"\textasciigrave{}",
    '"': r"\textquotedbl{}",
}

#: Unicode that is math: Greek letters and common symbols, as LaTeX commands.
_MATH_CHARS: dict[str, str] = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon",
    "ϵ": r"\epsilon", "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "ϑ": r"\vartheta",
    "ι": r"\iota", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi",
    "ο": "o", "π": r"\pi", "ϖ": r"\varpi", "ρ": r"\rho", "ϱ": r"\varrho", "σ": r"\sigma",
    "ς": r"\varsigma", "τ": r"\tau", "υ": r"\upsilon", "φ": r"\varphi", "ϕ": r"\phi",
    "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega",
    "Α": "A", "Β": "B", "Γ": r"\Gamma", "Δ": r"\Delta", "Ε": "E", "Ζ": "Z", "Η": "H",
    "Θ": r"\Theta", "Ι": "I", "Κ": "K", "Λ": r"\Lambda", "Μ": "M", "Ν": "N", "Ξ": r"\Xi",
    "Ο": "O", "Π": r"\Pi", "Ρ": "P", "Σ": r"\Sigma", "Τ": "T", "Υ": r"\Upsilon",
    "Φ": r"\Phi", "Χ": "X", "Ψ": r"\Psi", "Ω": r"\Omega",
    "≤": r"\le", "≥": r"\ge", "≠": r"\neq", "≈": r"\approx", "≡": r"\equiv",
    "∼": r"\sim", "≪": r"\ll", "≫": r"\gg", "∝": r"\propto",
    "→": r"\rightarrow", "←": r"\leftarrow", "↔": r"\leftrightarrow", "⇒": r"\Rightarrow",
    "⇐": r"\Leftarrow", "⇔": r"\Leftrightarrow", "↦": r"\mapsto", "↑": r"\uparrow",
    "↓": r"\downarrow",
    "∞": r"\infty", "∂": r"\partial", "∇": r"\nabla", "∑": r"\sum", "∏": r"\prod",
    "∫": r"\int", "√": r"\surd", "∈": r"\in", "∉": r"\notin", "∀": r"\forall",
    "∃": r"\exists", "∅": r"\emptyset", "∩": r"\cap", "∪": r"\cup", "⊂": r"\subset",
    "⊆": r"\subseteq", "⊃": r"\supset", "⊇": r"\supseteq", "∧": r"\wedge", "∨": r"\vee",
    "⊕": r"\oplus", "⊗": r"\otimes", "⊙": r"\odot", "∘": r"\circ", "⋅": r"\cdot",
    "∙": r"\cdot", "−": "-", "∓": r"\mp", "ℓ": r"\ell", "ℝ": r"\mathbb{R}",
    "ℕ": r"\mathbb{N}", "ℤ": r"\mathbb{Z}", "ℚ": r"\mathbb{Q}", "ℂ": r"\mathbb{C}",
    "⟨": r"\langle", "⟩": r"\rangle", "‖": r"\|", "⊤": r"\top", "⊥": r"\perp",
    "′": r"\prime",
}

#: Latin-1 symbols that are math in KaTeX's eyes (for ``\text{}`` in math).
_MATH_TEXT_LATIN1: dict[str, str] = {
    "×": r"\times", "÷": r"\div", "±": r"\pm", "¬": r"\neg", "·": r"\cdot", "µ": r"\mu",
    "²": "^{2}", "³": "^{3}", "¹": "^{1}",
}

#: Latin-1 symbols KaTeX lacks in text mode, spelled with what it has.
_MATH_TEXT_LATIN1_TEXT: dict[str, str] = {
    "¡": "!", "¢": "c", "¤": "[U+00A4]", "¦": r"\textbar{}", "§": r"\S{}", "¨": '"', "ª": "a",
    "«": r"\textless{}\textless{}", "\u00ad": "", "¯": "-", "´": "'", "¶": r"\P{}", "¸": ",",
    "º": "o", "»": r"\textgreater{}\textgreater{}", "¼": "1/4", "½": "1/2", "¾": "3/4", "¿": "?",
}

#: Typographic punctuation: (LaTeX text mode, ``\text{}`` in math, ASCII code).
_PUNCT: dict[str, tuple[str, str, str]] = {
    "\u2013": ("--", "--", "-"),
    "\u2014": ("---", "---", "--"),
    "\u2012": ("--", "--", "-"),
    "\u2010": ("-", "-", "-"),
    "\u2011": ("-", "-", "-"),
    "\u2018": ("`", "`", "'"),
    "\u2019": ("'", "'", "'"),
    "\u201a": (r"\quotesinglbase{}", ",", ","),
    "\u201c": ("``", "``", '"'),
    "\u201d": ("''", "''", '"'),
    "\u201e": (r"\quotedblbase{}", ",,", '"'),
    "\u2026": (r"\ldots{}", "...", "..."),
    "\u2022": (r"\textbullet{}", r"$\bullet$", "*"),
    "\u20ac": (r"\texteuro{}", "EUR", "EUR"),
    "\u2122": (r"\texttrademark{}", "TM", "(TM)"),
    "\u2020": (r"\textdagger{}", r"\dag{}", "+"),
    "\u2021": (r"\textdaggerdbl{}", r"\ddag{}", "++"),
    "\u00a0": (r"\nobreakspace{}", " ", " "),
    "\u2009": (r"\,", " ", " "),
    "\u202f": (r"\,", " ", " "),
    "\u200b": ("", "", ""),
    "\ufeff": ("", "", ""),
}

# Latin-1 Supplement and Latin Extended-A: pdflatex's utf8 + T1/TS1 define
# all of these except the few listed.
_LATIN_MISSING = {0x126, 0x127, 0x138, 0x13F, 0x140, 0x149, 0x166, 0x167, 0x17F}


def _latin_ok(ch: str) -> bool:
    cp = ord(ch)
    return 0xA1 <= cp <= 0x17E and cp not in _LATIN_MISSING


def _marker(ch: str) -> str:
    return f"[U+{ord(ch):04X}]"


def _fallback_ascii(ch: str) -> str | None:
    """ASCII letters of a decomposable character (e.g. ``ħ`` has none, ``ǎ`` -> ``a``)."""
    decomposed = unicodedata.normalize("NFKD", ch)
    ascii_only = "".join(c for c in decomposed if ord(c) < 128)
    return ascii_only or None


def _normalize_ws(text: str, keep_newlines: bool) -> str:
    """Tabs to spaces, CRLF to LF, drop other control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = "".join(c for c in text if c == "\n" or unicodedata.category(c) != "Cc")
    if keep_newlines:
        # A blank line is a paragraph break, fatal in a moving argument.
        return re.sub(r"\n[ \n]*\n", "\n", text)
    return text.replace("\n", " ")


# Input characters that form ligatures when doubled (``--`` is a dash, ``,,``
# and ``''`` are quotes): the second of a pair is preceded by ``{}``.
_LIGATURE_CHARS = frozenset("-,'")


# ---------------------------------------------------------------------------
# LaTeX
# ---------------------------------------------------------------------------


def escape_latex(text: str) -> str:
    r"""Escape ``text`` for LaTeX text mode so it compiles and shows literally.

    >>> escape_latex(r"50% of \input{x} & _y_")
    '50\\% of \\textbackslash{}input\\{x\\} \\& \\_y\\_'
    """
    text = _normalize_ws(text, keep_newlines=True)
    out: list[str] = []
    prev = ""
    for ch in text:
        if ch in _LIGATURE_CHARS and ch == prev:
            out.append("{}")
        prev = ch
        if ch in _LATEX_TEXT_SPECIALS:
            out.append(_LATEX_TEXT_SPECIALS[ch])
        elif ord(ch) < 128:
            out.append(ch)
        elif ch in _PUNCT:
            out.append(_PUNCT[ch][0])
        elif _latin_ok(ch):
            out.append(ch)
        elif ch in _MATH_CHARS:
            out.append(r"\ensuremath{" + _MATH_CHARS[ch] + "}")
        else:
            ascii_form = _fallback_ascii(ch)
            out.append(escape_latex(ascii_form) if ascii_form else _marker_tex(ch))
    return "".join(out)


def _marker_tex(ch: str) -> str:
    return "{[}U+" + f"{ord(ch):04X}" + "{]}"


def escape_latex_math_text(text: str) -> str:
    r"""Escape ``text`` for ``\text{...}`` inside math (pdflatex and KaTeX, strict).

    Newlines become spaces; Greek and math symbols become inline math, one
    ``{$...$}`` per run (so no ``$$`` appears); Latin letters pass, the
    Latin-1 symbols KaTeX lacks are spelled out.
    """
    text = _normalize_ws(text, keep_newlines=False)
    pieces: list[tuple[bool, str]] = []  # (is_math, latex)
    prev = ""
    for ch in text:
        if ch in _LIGATURE_CHARS and ch == prev:
            pieces.append((False, "{}"))
        prev = ch
        if ch in _LATEX_MATH_TEXT_SPECIALS:
            pieces.append((False, _LATEX_MATH_TEXT_SPECIALS[ch]))
        elif ord(ch) < 128:
            pieces.append((False, ch))
        elif ch in _PUNCT:
            latex = _PUNCT[ch][1]
            pieces.append((True, latex[1:-1]) if latex.startswith("$") else (False, latex))
        elif ch in _MATH_TEXT_LATIN1:
            pieces.append((True, _MATH_TEXT_LATIN1[ch]))
        elif ch in _MATH_TEXT_LATIN1_TEXT:
            pieces.append((False, _MATH_TEXT_LATIN1_TEXT[ch]))
        elif _latin_ok(ch):
            pieces.append((False, ch))
        elif ch in _MATH_CHARS:
            pieces.append((True, _MATH_CHARS[ch]))
        else:
            ascii_form = _fallback_ascii(ch)
            pieces.append((False, escape_latex_math_text(ascii_form) if ascii_form else _marker(ch)))
    # Each run of math is one braced {$...$}: never $$, not even beside \$.
    out: list[str] = []
    in_math = False
    for is_math, latex in pieces:
        if is_math and in_math:
            out.append(" " + latex)
        elif is_math:
            out.append("{$" + latex)
        elif in_math:
            out.append("$}" + latex)
        else:
            out.append(latex)
        in_math = is_math
    if in_math:
        out.append("$}")
    return "".join(out)


def latex_math_ascii(latex: str) -> str:
    r"""Make LaTeX math source ASCII: ``σ`` becomes ``\sigma``, unknowns ``\text{[U+XXXX]}``.

    SymPy prints a Symbol named with Unicode as that Unicode; pdflatex cannot
    read it in math mode.
    """
    if latex.isascii():
        return latex
    out: list[str] = []
    for ch in latex:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in _MATH_CHARS:
            out.append("{" + _MATH_CHARS[ch] + "}")
        elif ch in _MATH_TEXT_LATIN1:
            out.append("{" + _MATH_TEXT_LATIN1[ch] + "}")
        else:
            out.append(r"\text{" + escape_latex_math_text(ch) + "}")
    return "".join(out)


_CODE_ASCII: dict[str, str] = {
    "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~=", "→": "->", "←": "<-", "⇒": "=>",
    "×": "*", "·": "*", "⋅": "*", "÷": "/", "−": "-", "±": "+/-", "∞": "inf",
    "∂": "d", "∇": "grad", "√": "sqrt", "∑": "sum", "∏": "prod", "∈": "in",
    "²": "**2", "³": "**3", "°": "deg", "µ": "u", "«": "<<", "»": ">>", "¬": "not ",
    "ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "Ł": "L",
    "ł": "l", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "Th", "þ": "th", "Ħ": "H",
    "ħ": "h", "ı": "i", "Ŧ": "T", "ŧ": "t",
}
_GREEK_NAMES: dict[str, str] = {
    ch: cmd.lstrip("\\").replace("var", "") for ch, cmd in _MATH_CHARS.items()
    if "GREEK" in unicodedata.name(ch, "")
}


def latex_code_ascii(code: str) -> str:
    """Transliterate code to ASCII for a pdflatex ``lstlisting``.

    ``listings`` under pdflatex reads bytes, so non-ASCII characters in a
    listing break the build. Typographic punctuation and math symbols get
    ASCII spellings (``≤`` -> ``<=``, ``σ`` -> ``sigma``), accented letters
    lose their accents, anything else becomes ``<U+XXXX>``.
    """
    code = code.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4)
    code = "".join(c for c in code if c == "\n" or unicodedata.category(c) != "Cc")
    if code.isascii():
        return code
    out: list[str] = []
    for ch in code:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in _CODE_ASCII:
            out.append(_CODE_ASCII[ch])
        elif ch in _PUNCT:
            out.append(_PUNCT[ch][2])
        elif ch in _GREEK_NAMES:
            out.append(_GREEK_NAMES[ch])
        else:
            ascii_form = _fallback_ascii(ch)
            out.append(ascii_form if ascii_form else f"<U+{ord(ch):04X}>")
    return "".join(out)


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------

# Characters that can start markup anywhere in a GFM line. '&' would start an
# entity, '<' raw HTML or an autolink, '$' math, '~' strikethrough.
_MD_SPECIALS = set("\\`*_{}[]<>#|$~&")
_MD_LINE_START = re.compile(r"^([-+=])|^(\d{1,9})([.)])")


def escape_markdown(text: str, *, line_starts: bool = True) -> str:
    r"""Backslash-escape ``text`` so GitHub Markdown shows it literally.

    Escapes ``\ ` * _ { } [ ] < > # | $ ~ &`` everywhere, and list, heading
    and setext markers at the start of a line; removes leading indentation of
    continuation lines (an indented code block) and trailing spaces (a hard
    break). The result contains no active HTML: every ``<`` and ``&`` is escaped.
    ``line_starts=False`` skips the line-start rules (for text that never
    starts a Markdown line, e.g. a table cell).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = "".join(c for c in text if c == "\n" or unicodedata.category(c) != "Cc")
    lines = text.split("\n")
    out_lines = []
    for i, line in enumerate(lines):
        if i > 0:
            line = line.lstrip(" ")
        if i < len(lines) - 1:
            line = line.rstrip(" ")
        escaped = "".join("\\" + c if c in _MD_SPECIALS else c for c in line)
        stripped = escaped.lstrip(" ")
        indent = escaped[: len(escaped) - len(stripped)]
        match = _MD_LINE_START.match(stripped) if line_starts else None
        if match:
            if match.group(1):
                stripped = "\\" + stripped
            else:
                digits = match.group(2)
                stripped = digits + "\\" + stripped[len(digits):]
        out_lines.append(indent + stripped)
    return "\n".join(out_lines)


def escape_markdown_line(text: str) -> str:
    """Escape ``text`` for a one-line Markdown context (heading, table cell).

    Whitespace runs, including newlines, become one space; the result is
    stripped. The caller puts it after a marker (``#``, ``|``, ``**``), so
    list markers need no escaping.
    """
    return escape_markdown(" ".join(text.split()), line_starts=False)


# ---------------------------------------------------------------------------
# Prose
# ---------------------------------------------------------------------------


class Segment(NamedTuple):
    """A piece of prose: ``math`` is LaTeX (without ``$``), else plain text."""

    math: bool
    text: str


def split_math(prose: str) -> list[Segment]:
    r"""Split prose into text and ``$...$`` math segments.

    In text, ``\$`` is a literal dollar (the backslash is dropped); every
    other backslash is literal text. In math, a backslash escapes the next
    character (so ``\$`` stays LaTeX's dollar and does not close the math).
    Adjacent text is merged; empty text segments are omitted.

    Raises :class:`~symgrad.errors.InputError` for an unclosed ``$`` or an
    empty ``$$`` (display math belongs in an ``Equation`` block).
    """
    segments: list[Segment] = []
    text: list[str] = []
    i, n = 0, len(prose)
    while i < n:
        ch = prose[i]
        if ch == "\\" and i + 1 < n and prose[i + 1] == "$":
            text.append("$")
            i += 2
        elif ch == "$":
            start = i
            j = i + 1
            math: list[str] = []
            while j < n and prose[j] != "$":
                if prose[j] == "\\" and j + 1 < n:
                    math.append(prose[j : j + 2])
                    j += 2
                else:
                    math.append(prose[j])
                    j += 1
            if j >= n:
                raise InputError(
                    f"prose: unclosed '$' at character {start} in {_clip(prose)!r}; "
                    "write \\$ for a literal dollar"
                )
            body = "".join(math)
            if not body.strip():
                raise InputError(
                    f"prose: empty math '$$' at character {start} in {_clip(prose)!r}; "
                    "use an Equation block for display math, \\$ for a literal dollar"
                )
            if text:
                segments.append(Segment(False, "".join(text)))
                text = []
            segments.append(Segment(True, body))
            i = j + 1
        else:
            text.append(ch)
            i += 1
    if text:
        segments.append(Segment(False, "".join(text)))
    return segments


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
