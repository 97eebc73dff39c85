"""Escaping user text for LaTeX and Markdown, and splitting prose into text and math."""

from __future__ import annotations

import importlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symgrad.core.errors import InputError
from symgrad.rendering.escape import (
    Segment,
    escape_latex,
    escape_latex_math_text,
    escape_markdown,
    escape_markdown_line,
    latex_code_ascii,
    latex_math_ascii,
    split_math,
)

escape_module = importlib.import_module("symgrad.rendering.escape")  # for its tables

HOSTILE = r"50% of \input{x} & _y_"

# Any text, including control characters and astral-plane Unicode.
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
# Text leaning on the characters that matter.
special_text = st.text(alphabet=st.sampled_from(list("\\{}$&#^_%~<>|[]*`'\",- \n\tab1σ≤•×§½中é") + ["\u00a0"]),
                       max_size=60)

# ----------------------------------------------------------------- helpers

# Commands escape_latex may emit, and the characters that may follow a backslash.
_TEXT_COMMANDS = {"textbackslash", "textasciicircum", "textasciitilde", "textless", "textgreater",
                  "textbar", "textasciigrave", "textquotedbl", "ensuremath", "ldots", "textbullet",
                  "texteuro", "texttrademark", "textdagger", "textdaggerdbl", "quotesinglbase", "nobreakspace",
                  "quotedblbase"}
# KaTeX's text-mode commands (src/symbols.js), used by escape_latex_math_text.
_KATEX_TEXT_COMMANDS = {"textbackslash", "textasciicircum", "textasciitilde", "textless",
                        "textgreater", "textbar", "dag", "ddag", "S", "P"}


def _pdflatex_safe_char(ch: str) -> bool:
    """ASCII printable/newline, or Latin-1/Latin Extended-A that T1+utf8 define."""
    cp = ord(ch)
    if ch == "\n" or 32 <= cp < 127:
        return True
    return 0xA1 <= cp <= 0x17E and cp not in {0x126, 0x127, 0x138, 0x13F, 0x140, 0x149, 0x166, 0x167}


def _assert_latex_text_safe(out: str) -> None:
    """No active special outside a command; braces balanced; known commands only."""
    depth = 0
    i = 0
    while i < len(out):
        ch = out[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+)", out[i:])
            if m:
                assert m.group(1) in _TEXT_COMMANDS | _MATH_COMMANDS, f"unexpected command {m.group(0)} in {out!r}"
                i += len(m.group(0))
                continue
            assert out[i + 1] in "{}$&#_%,|", f"bad escape {out[i:i + 2]!r} in {out!r}"
            i += 2
            continue
        assert ch not in "$&#^_%~", f"unescaped {ch!r} in {out!r}"
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            assert depth >= 0, f"unbalanced braces in {out!r}"
        i += 1
    assert depth == 0, f"unbalanced braces in {out!r}"
    assert all(_pdflatex_safe_char(c) for c in out), f"non-pdflatex character in {out!r}"
    assert not re.search(r"\n[ ]*\n", out), "a blank line would end a paragraph in a moving argument"


# Math commands \ensuremath{...} may hold: those of the Unicode table.
_MATH_COMMANDS = {m.group(1) for cmd in escape_module._MATH_CHARS.values()
                  for m in re.finditer(r"\\([A-Za-z]+)", cmd)}


def _md_unescape(text: str) -> str:
    """CommonMark: a backslash before ASCII punctuation yields the punctuation."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


# ----------------------------------------------------------------- LaTeX text


def test_escape_latex_hostile_title() -> None:
    assert escape_latex(HOSTILE) == r"50\% of \textbackslash{}input\{x\} \& \_y\_"


@pytest.mark.parametrize("char, expected", [
    ("\\", r"\textbackslash{}"), ("{", r"\{"), ("}", r"\}"), ("$", r"\$"), ("&", r"\&"),
    ("#", r"\#"), ("^", r"\textasciicircum{}"), ("_", r"\_"), ("%", r"\%"),
    ("~", r"\textasciitilde{}"), ("<", r"\textless{}"), (">", r"\textgreater{}"),
    ("|", r"\textbar{}"), ("[", "{[}"), ("]", "{]}"),
])
def test_escape_latex_each_special(char: str, expected: str) -> None:
    assert escape_latex(char) == expected


def test_escape_latex_keeps_plain_text_and_latin() -> None:
    assert escape_latex("Gradient of a layer, naïve façade") == "Gradient of a layer, naïve façade"


def test_escape_latex_ligatures_stay_literal() -> None:
    assert escape_latex("a--b") == "a-{}-b"
    assert escape_latex("x,,y ''") == "x,{},y '{}'"
    # An en dash typed as Unicode is meant as a dash.
    assert escape_latex("1–2") == "1--2"


def test_escape_latex_unicode() -> None:
    assert escape_latex("σ ≤ 1") == r"\ensuremath{\sigma} \ensuremath{\le} 1"
    assert escape_latex("中") == "{[}U+4E2D{]}"
    assert escape_latex("ǎ") == "a"  # decomposes to a + caron


def test_escape_latex_paragraphs_collapse() -> None:
    assert escape_latex("a\n\n\nb\r\nc\td") == "a\nb\nc d"


@given(any_text)
def test_escape_latex_is_always_safe(text: str) -> None:
    _assert_latex_text_safe(escape_latex(text))


@given(special_text)
def test_escape_latex_specials_are_safe(text: str) -> None:
    _assert_latex_text_safe(escape_latex(text))


# ----------------------------------------------------------------- \text{} in math


def test_escape_latex_math_text() -> None:
    assert escape_latex_math_text(HOSTILE) == r"50\% of \textbackslash{}input\{x\} \& \_y\_"
    assert escape_latex_math_text("a\nb [c]") == "a b [c]"
    assert escape_latex_math_text("σ ≤ 1") == r"{$\sigma$} {$\le$} 1"
    assert escape_latex_math_text("2×3") == r"2{$\times$}3"
    assert escape_latex_math_text("σ≤•1 § ½") == r"{$\sigma \le \bullet$}1 \S{} 1/2"
    assert escape_latex_math_text("×$×") == r"{$\times$}\${$\times$}"


@given(st.one_of(any_text, special_text))
def test_escape_latex_math_text_is_katex_text(text: str) -> None:
    out = escape_latex_math_text(text)
    assert "\n" not in out
    # Outside $...$, only KaTeX text-mode commands and escapes.
    outside = re.sub(r"(?<!\\)\$[^$]*(?<!\\)\$", "", out)
    assert "$" not in outside.replace(r"\$", ""), out
    for m in re.finditer(r"\\([A-Za-z]+|.)", outside):
        name = m.group(1)
        assert name in _KATEX_TEXT_COMMANDS or name in set("{}$&#_%"), f"{m.group(0)} in {out!r}"
    assert not re.search(r"(?<!\\)[&#^_%~]", outside), out
    assert all(_pdflatex_safe_char(c) for c in out), out
    assert "$$" not in out, "adjacent math would read as display math"
    # Latin-1 symbols KaTeX (0.16, strict) rejects in text mode never get through.
    assert not set(out) & set("¡¢¤¦§¨ª«¬\xad¯±²³´µ¶¸¹º»¼½¾¿×÷"), out


def test_latex_math_ascii() -> None:
    assert latex_math_ascii(r"\frac{1}{σ}") == r"\frac{1}{{\sigma}}"
    assert latex_math_ascii("x") == "x"
    assert latex_math_ascii("中").isascii()


# ----------------------------------------------------------------- code


def test_latex_code_ascii() -> None:
    assert latex_code_ascii("if x ≤ σ:  # naïve – ok") == "if x <= sigma:  # naive - ok"
    assert latex_code_ascii("a\tb") == "a   b"
    assert latex_code_ascii("中") == "<U+4E2D>"


@given(any_text)
def test_latex_code_ascii_is_ascii(text: str) -> None:
    out = latex_code_ascii(text)
    assert out.isascii()
    assert all(c == "\n" or 32 <= ord(c) < 127 for c in out)


# ----------------------------------------------------------------- Markdown


def test_escape_markdown_specials() -> None:
    assert escape_markdown("_y_") == r"\_y\_"
    assert escape_markdown("a*b*c #1 | x < y $5 `code` &amp;") == \
        r"a\*b\*c \#1 \| x \< y \$5 \`code\` \&amp;"
    assert escape_markdown(HOSTILE) == r"50% of \\input{x} \& \_y\_".replace("{x}", r"\{x\}")


def test_escape_markdown_no_html() -> None:
    out = escape_markdown("<script>alert(1)</script> &lt; <!-- c --> <http://x>")
    assert not re.search(r"(?<!\\)[<&]", out)


def test_escape_markdown_line_starts() -> None:
    assert escape_markdown("- item\n+ item\n1. first\n2) second\n===\n# h\n> q") == \
        "\\- item\n\\+ item\n1\\. first\n2\\) second\n\\===\n\\# h\n\\> q"
    # Continuation lines lose their indentation (no code block) and trailing spaces (no hard break).
    assert escape_markdown("a  \n        code") == "a\ncode"


def test_escape_markdown_line() -> None:
    assert escape_markdown_line("  a\n\n b | c  ") == r"a b \| c"
    assert escape_markdown_line("1. not a list") == "1. not a list"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=80))
def test_escape_markdown_roundtrips_one_line(text: str) -> None:
    out = escape_markdown(text)
    assert _md_unescape(out) == text
    assert not re.search(r"(?<!\\)[<&`*_|$]", out.replace("\\\\", ""))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_escape_markdown_never_emits_html(text: str) -> None:
    out = escape_markdown(text).replace("\\\\", "")
    assert not re.search(r"(?<!\\)[<&]", out)


# ----------------------------------------------------------------- split_math


def test_split_math_examples() -> None:
    assert split_math("plain") == [Segment(False, "plain")]
    assert split_math(r"a $x^2$ b") == [Segment(False, "a "), Segment(True, "x^2"), Segment(False, " b")]
    assert split_math(r"costs \$5, $\$ x$ ok") == [
        Segment(False, "costs $5, "), Segment(True, r"\$ x"), Segment(False, " ok")]
    assert split_math(r"$a$$b$") == [Segment(True, "a"), Segment(True, "b")]
    assert split_math("") == []
    assert split_math(r"a \ b") == [Segment(False, r"a \ b")]


@pytest.mark.parametrize("bad", ["unclosed $x", "$$", "a $ $ b", "$"])
def test_split_math_errors(bad: str) -> None:
    with pytest.raises(InputError, match=r"\$"):
        split_math(bad)


text_part = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="$\\"),
                    min_size=1, max_size=20)
math_part = st.text(alphabet=st.sampled_from(list("x^2+{}\\frac ab")), min_size=1, max_size=12).filter(
    lambda m: m.strip() and not m.endswith("\\"))
segment = st.one_of(st.tuples(st.just(False), text_part), st.tuples(st.just(True), math_part))


@settings(max_examples=150)
@given(st.lists(segment, max_size=6))
def test_split_math_roundtrip(parts: list[tuple[bool, str]]) -> None:
    prose = "".join(f"${t}$" if m else t for m, t in parts)
    expected: list[Segment] = []
    for m, t in parts:
        if not m and expected and not expected[-1].math:
            expected[-1] = Segment(False, expected[-1].text + t)
        else:
            expected.append(Segment(m, t))
    assert split_math(prose) == expected
