r"""TeX's lexical rules, from lark's raw tokens to the grammar's tokens.

The grammar's lexer (``latex.lark``) only cuts text into characters, numbers,
letters and control sequences. :func:`scan` then, in one left-to-right pass:

- gives each control sequence its type from the tables below (``\frac`` is
  FRAC, ``\alpha`` GREEK, ``\le`` LE, ``\cdot`` MULOP, ...); an unknown macro
  becomes an UNKNOWN token and a known but unsupported one (``\int``,
  ``\mathbf{x}``) an UNSUPPORTED token, so the parser can name it exactly;
- drops spacing (``\,``, ``\quad``, ``~``) and the inner ``aligned``/``split``
  environments;
- merges ``\left(`` and ``\bigr]`` into one bracket token, and decides for a
  plain ``|`` whether it opens or closes an absolute value;
- moves a trailing ``\text{...}`` of a row (its justification) aside, with
  everything after it up to the row break, and drops ``\tag{}``/``\label{}``
  and the sentence punctuation at the end of a row;
- splits TeX's one-token arguments: ``x^10`` is ``x^1 0`` and ``\frac12`` is
  ``\frac{1}{2}``, exactly as TeX typesets them;
- refuses input over :data:`MAX_CHARS` characters or nested deeper than
  :data:`MAX_DEPTH`, so that parsing stays fast and never recurses deeply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput

from .errors import ParseError
from .grammar import grammar

__all__ = ["MAX_CHARS", "MAX_DEPTH", "Annotation", "Scan", "scan", "GREEK_LETTERS",
           "CHECKED_RELATIONS", "OTHER_RELATION", "UNKNOWN", "UNSUPPORTED"]

#: Longest text the parser reads (characters); longer input is refused.
MAX_CHARS = 20_000
#: Deepest nesting of brackets and braces the parser accepts.
MAX_DEPTH = 40

UNKNOWN = "UNKNOWN"
UNSUPPORTED = "UNSUPPORTED"
OTHER_RELATION = "OTHER_RELATION"
PUNCT = "PUNCT"
CHECKED_RELATIONS = frozenset({"EQ", "LT", "LE", "GT", "GE"})

GREEK_LETTERS: dict[str, str] = {name: name for name in (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "rho varrho sigma varsigma tau upsilon phi varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell").split()}
GREEK_LETTERS["pi"] = "pi"  # the constant; see build.py

_UNICODE_GREEK = dict(zip("αβγδεζηθικλμνξπρστυφχψωΓΔΘΛΞΠΣΥΦΨΩ",
                          ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho "
                           "sigma tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon "
                           "Phi Psi Omega").split()))

FUNCTION_MACROS = frozenset("exp log ln sin cos tan sinh cosh tanh arcsin arccos arctan max min".split())

_RELATION_WORDS = {"le": "LE", "leq": "LE", "leqslant": "LE", "ge": "GE", "geq": "GE", "geqslant": "GE",
                   "lt": "LT", "gt": "GT"}
_OTHER_RELATION_WORDS = frozenset((
    "ne neq approx in notin ni equiv sim simeq cong propto eqqcolon doteq "
    "subset subseteq supset supseteq Rightarrow implies impliedby iff Leftrightarrow Longrightarrow "
    "mapsto ll gg perp parallel mid nmid leftarrow Leftarrow longrightarrow prec succ preceq succeq "
    "lesssim gtrsim asymp").split())
_TO_WORDS = frozenset({"to", "rightarrow"})
_MULOP_WORDS = {"cdot": "*", "times": "*", "ast": "*", "div": "/"}
_SPACING_WORDS = frozenset((
    "quad qquad displaystyle textstyle scriptstyle scriptscriptstyle limits nolimits nonumber notag "
    "allowbreak nobreak hfill relax").split())
ACCENTS: dict[str, str] = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
                           "widetilde": "tilde", "dot": "dot", "ddot": "ddot", "check": "check",
                           "breve": "breve", "acute": "acute", "grave": "grave", "mathring": "mathring"}
_SIZE_WORDS = frozenset("left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr".split())
_INNER_ENVIRONMENTS = frozenset((
    "aligned alignedat split gathered align align* equation equation* gather gather* multline multline* "
    "flalign flalign* eqnarray eqnarray* displaymath").split())

_UNSUPPORTED_WORDS: dict[str, str] = {
    "int": "integrals are not supported", "iint": "integrals are not supported",
    "oint": "integrals are not supported",
    "nabla": "\\nabla (gradients of vectors) is not supported; write partial derivatives of components",
    "top": "transposes (vectors and matrices) are not supported; write the components",
    "intercal": "transposes (vectors and matrices) are not supported; write the components",
    "odot": "element-wise products of vectors are not supported; write the components",
    "otimes": "tensor products are not supported", "oplus": "direct sums are not supported",
    "circ": "composition (\\circ) is not supported; write f(g(x))",
    "dots": "an ellipsis cannot be checked; write the sum with \\sum and its limits",
    "ldots": "an ellipsis cannot be checked; write the sum with \\sum and its limits",
    "cdots": "an ellipsis cannot be checked; write the sum with \\sum and its limits",
    "vdots": "an ellipsis cannot be checked", "ddots": "an ellipsis cannot be checked",
    "pm": "\\pm stands for two expressions; write each one", "mp": "\\mp stands for two expressions; write each one",
    "binom": "binomial coefficients are not supported", "det": "determinants are not supported",
    "sup": "\\sup is not supported", "inf": "\\inf is not supported", "arg": "\\arg is not supported",
    "argmax": "\\argmax is not supported", "argmin": "\\argmin is not supported",
    "langle": "inner products are not supported", "rangle": "inner products are not supported",
    "stackrel": "\\stackrel is not supported", "overset": "\\overset is not supported",
    "underset": "\\underset is not supported", "forall": "quantifiers are not supported",
    "exists": "quantifiers are not supported", "prime": "\\prime only after ^, as in f^\\prime",
    "cases": "cases are not supported",
}


@dataclass(frozen=True)
class Annotation:
    """A trailing ``\\text{...}`` of a row: the justification of the step ending there."""

    row: int
    text: str
    line: int
    column: int
    condition: tuple[Token, ...] = ()  #: the math after ``\\text{if}`` or after ``, `` (``i \\neq j``)


@dataclass(frozen=True)
class Scan:
    """The grammar's tokens, the annotations moved aside, and where each token's row is."""

    tokens: tuple[Token, ...]
    annotations: tuple[Annotation, ...]

    def first_problem(self) -> Token | None:
        """The first token the grammar must refuse (unknown macro, unsupported notation)."""
        for token in self.tokens:
            if token.type in (UNKNOWN, UNSUPPORTED, OTHER_RELATION, PUNCT):
                return token
        return None

    @property
    def has_checked_relation(self) -> bool:
        """Whether a relation symgrad checks (= < <= > >=) stands outside all brackets."""
        depth = 0
        for token in self.tokens:
            if token.type in _OPENERS:
                depth += 1
            elif token.type in _CLOSERS:
                depth = max(0, depth - 1)
            elif depth == 0 and (token.type in CHECKED_RELATIONS or token.type == "DEF"):
                return True
        return False


_OPENERS = frozenset({"LPAREN", "LBRACK", "LCURLY", "LBRACE", "LVERT"})
_CLOSERS = frozenset({"RPAREN", "RBRACK", "RCURLY", "RBRACE", "RVERT"})
_OPERAND_ENDS = frozenset({"NUMBER", "LETTER", "GREEK", "INFTY", "NAME", "CAL", "RPAREN", "RBRACK",
                           "RCURLY", "RBRACE", "RVERT", "PRIME"})
_SINGLE_CHARS = {"(": "LPAREN", ")": "RPAREN", "[": "LBRACK", "]": "RBRACK", "{": "LBRACE", "}": "RBRACE",
                 "+": "PLUSMINUS", "-": "PLUSMINUS", "*": "MULOP", "/": "MULOP", "=": "EQ", "<": "LT",
                 ">": "GT", "^": "SUP", "_": "SUB", "'": "PRIME", ",": "COMMA", "&": "AMP",
                 ".": PUNCT, ";": PUNCT, ":": PUNCT}
_UNICODE_CHARS = {"≤": ("LE", "\\le"), "≥": ("GE", "\\ge"), "·": ("MULOP", "*"), "×": ("MULOP", "*"),
                  "−": ("PLUSMINUS", "-"), "∂": ("PARTIAL", "\\partial"), "∞": ("INFTY", "\\infty")}
_DELIMITERS = {"(": "(", ")": ")", "[": "[", "]": "]", "\\{": "{", "\\}": "}", "\\lbrace": "{",
               "\\rbrace": "}", "\\lbrack": "[", "\\rbrack": "]", "|": "|", "\\vert": "|", "\\lvert": "|",
               "\\rvert": "|", ".": ".", "\\|": "||", "\\Vert": "||", "\\lVert": "||", "\\rVert": "||",
               "\\langle": "<", "\\rangle": ">"}
_OPEN_TYPE = {"(": "LPAREN", "[": "LBRACK", "{": "LCURLY", "|": "LVERT"}
_CLOSE_TYPE = {")": "RPAREN", "]": "RBRACK", "}": "RCURLY", "|": "RVERT"}
_NEEDS_BRACES = frozenset(("mathrm mathit mathsf mathtt mathnormal operatorname mathcal mathscr mathfrak "
                           "mathbb mathbf boldsymbol bm vec text textrm textit textbf mbox tag label begin end"
                           ).split())
_NAMED_ARG = re.compile(r"\\([A-Za-z]+\*?)\s*\{([^{}]*)\}\Z")
_ENVIRONMENT = re.compile(r"\\(?:begin|end)\s*\{([^{}]*)\}")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")


def _retype(token: Token, type_: str, value: str | None = None) -> Token:
    return Token.new_borrow_pos(type_, token.value if value is None else value, token)


def describe(token: Token) -> str:
    """What the parser should say about an unexpected token."""
    text = str(token.value)
    if token.type == UNKNOWN:
        if text.startswith("\\"):
            return f"unknown macro {text}"
        return f"unexpected character {text!r}"
    if token.type == UNSUPPORTED:
        return f"{text} is not supported"
    if token.type in (OTHER_RELATION, "TO"):
        return f"the relation {text} cannot be checked (symgrad checks = < \\le > \\ge)"
    if token.type == PUNCT:
        return f"unexpected {text!r}"
    if token.type == "$END":
        return "unexpected end of the formula"
    return f"unexpected {text!r}"


class RefusedToken(Token):
    """A token the grammar must refuse, with the message that says why."""

    message: str


def _unsupported(token: Token, message: str) -> Token:
    refused = RefusedToken.new_borrow_pos(UNSUPPORTED, token.value, token)
    refused.message = message
    return refused


def message_for(token: Token) -> str:
    """The message for a refused or unexpected token."""
    message = getattr(token, "message", None)
    return message if isinstance(message, str) else describe(token)


def _named_argument(token: Token) -> Token:
    """``\\mathrm{d}``, ``\\operatorname{softmax}``, ``\\mathcal{L}``, ``\\mathbb{E}``, ``\\mathbf{x}``."""
    match = _NAMED_ARG.match(str(token.value))
    if match is None:  # pragma: no cover - the lexer's regex guarantees the shape
        return _retype(token, UNKNOWN)
    command, content = match.group(1), match.group(2).strip()
    if command in ("mathrm", "mathit", "mathsf", "mathtt", "mathnormal"):
        if _WORD.match(content):
            return _retype(token, "NAME", content)
        return _unsupported(token, f"\\{command}{{{content}}}: symgrad reads only a name (letters and digits) here")
    if command.startswith("operatorname"):
        if _WORD.match(content):
            return _retype(token, "OPNAME", content)
        return _unsupported(token, f"\\operatorname{{{content}}}: the name must be letters and digits")
    if command in ("mathcal", "mathscr", "mathfrak"):
        if len(content) == 1 and content.isalpha():
            return _retype(token, "CAL", content + {"mathcal": "cal", "mathscr": "scr", "mathfrak": "frak"}[command])
        return _unsupported(token, f"\\{command}{{{content}}}: symgrad reads one letter here")
    if command == "mathbb":
        if content == "E":
            return _retype(token, "EXPECT", "E")
        return _unsupported(token, f"\\mathbb{{{content}}}: sets are not supported (only \\mathbb{{E}}, the expectation)")
    if len(content) == 1 and content.isalpha():
        return _vector(token, "LETTER", content)
    if content.startswith("\\") and content[1:] in GREEK_LETTERS and content[1:] != "pi":
        return _vector(token, "GREEK", GREEK_LETTERS[content[1:]])
    return _unsupported(token, f"not checked: matrix calculus (\\{command}{{{content}}}); "
                               "write the components, such as x_1, x_2")


class VectorToken(Token):
    """``\\mathbf{x}``, ``\\boldsymbol{\\delta}``, ``\\vec{v}``: a letter that names a vector or a matrix."""

    vector: bool = True


def _vector(token: Token, type_: str, value: str) -> Token:
    """A bold (or arrowed) letter: its entries ``\\mathbf{x}_i`` are the names ``x_i``; alone it is a vector."""
    return VectorToken.new_borrow_pos(type_, value, token)


def _control_word(token: Token, following: Token | None) -> tuple[Token | None, bool]:
    """The grammar token for ``\\name`` (None to drop it), and whether ``following`` was used."""
    name = str(token.value)[1:]
    if name in GREEK_LETTERS:
        return _retype(token, "GREEK", GREEK_LETTERS[name]), False
    if name in FUNCTION_MACROS:
        return _retype(token, "FUNC", name), False
    if name in _RELATION_WORDS:
        return _retype(token, _RELATION_WORDS[name]), False
    if name in ("coloneqq", "triangleq", "defeq", "eqdef"):
        return _retype(token, "DEF"), False
    if name in _OTHER_RELATION_WORDS:
        return _retype(token, OTHER_RELATION), False
    if name in _TO_WORDS:
        return _retype(token, "TO"), False
    if name in _MULOP_WORDS:
        return _retype(token, "MULOP", _MULOP_WORDS[name]), False
    if name in _SPACING_WORDS:
        return None, False
    if name in ACCENTS:
        return _retype(token, "ACCENT", ACCENTS[name]), False
    if name in ("frac", "dfrac", "tfrac", "cfrac"):
        return _retype(token, "FRAC"), False
    if name == "sqrt":
        return _retype(token, "SQRT"), False
    if name in ("sum", "prod"):
        return _retype(token, "BIGOP", name), False
    if name == "lim":
        return _retype(token, "LIM"), False
    if name == "partial":
        return _retype(token, "PARTIAL"), False
    if name == "infty":
        return _retype(token, "INFTY"), False
    if name in ("lvert", "vert", "rvert", "lbrace", "rbrace", "lbrack", "rbrack", "Vert", "lVert", "rVert", "langle",
                "rangle"):
        return _delimiter(token, "\\" + name, None), False
    if name in _SIZE_WORDS:
        if following is None or str(following.value) not in _DELIMITERS:
            return _unsupported(token, f"\\{name} must be followed by a delimiter such as ( or ["), False
        return _delimiter(token, str(following.value), name), True
    if name in _UNSUPPORTED_WORDS:
        return _unsupported(token, _UNSUPPORTED_WORDS[name]), False
    if name in _NEEDS_BRACES:
        return _unsupported(token, f"\\{name} needs its argument in braces, as in \\{name}{{x}}"), False
    return _retype(token, UNKNOWN), False


def _delimiter(token: Token, delimiter: str, size: str | None) -> Token:
    """A bracket token for ``delimiter``; ``size`` is left, right, bigl, ... or None."""
    kind = _DELIMITERS[delimiter]
    text = f"\\{size}{delimiter}" if size else delimiter
    if kind in (".", "||", "<", ">"):
        what = {".": "invisible delimiters (\\left. ... \\right|) are not supported",
                "||": "norms are not supported", "<": "inner products are not supported",
                ">": "inner products are not supported"}[kind]
        return _unsupported(_retype(token, UNSUPPORTED, text), what)
    if delimiter == "\\lvert":
        return _retype(token, "LVERT", text)
    if delimiter == "\\rvert":
        return _retype(token, "RVERT", text)
    if kind == "|":
        if size is not None and (size == "left" or size.endswith("l")):
            return _retype(token, "LVERT", text)
        if size is not None and (size == "right" or size.endswith("r")):
            return _retype(token, "RVERT", text)
        return _retype(token, "BAR", text)
    if kind in _OPEN_TYPE:
        return _retype(token, _OPEN_TYPE[kind], text)
    return _retype(token, _CLOSE_TYPE[kind], text)


def _environment(token: Token) -> Token | None:
    match = _ENVIRONMENT.match(str(token.value))
    name = match.group(1).strip() if match else ""
    if name in _INNER_ENVIRONMENTS:
        return None
    if name in ("bmatrix", "pmatrix", "matrix", "Bmatrix", "smallmatrix"):
        return _retype(token, "MATRIX_BEGIN" if str(token.value).lstrip().startswith("\\begin") else "MATRIX_END")
    if name in ("cases", "dcases", "cases*"):
        return _retype(token, "CASES_BEGIN" if str(token.value).lstrip().startswith("\\begin") else "CASES_END")
    return _unsupported(token, f"the environment {name or '?'} is not supported here")


def shift(line: int, column: int, at_line: int, at_column: int) -> tuple[int, int]:
    """Position ``line:column`` of a text that starts at ``at_line:at_column`` of its file."""
    return line + at_line - 1, (column + at_column - 1 if line == 1 else column)


def raw_tokens(text: str, line: int = 1, column: int = 1) -> list[Token]:
    """Lark's raw tokens of ``text``, positioned as if ``text`` started at ``line:column``.

    Raises :class:`ParseError` on a character no rule matches.
    """
    try:
        tokens = list(grammar().lex(text))
    except UnexpectedCharacters as exc:
        where = exc.pos_in_stream or 0
        char = text[where] if 0 <= where < len(text) else "?"
        raise ParseError(f"unexpected character {char!r}", *shift(exc.line, exc.column, line, column)) from None
    except UnexpectedInput as exc:  # pragma: no cover - other lexer failures
        raise ParseError(f"cannot read the formula: {exc}", line, column) from None
    if line != 1 or column != 1:
        for token in tokens:
            token.line, token.column = shift(token.line or 1, token.column or 1, line, column)
            token.end_line, token.end_column = shift(token.end_line or 1, token.end_column or 1, line, column)
    return tokens


def scan(text: str, line: int = 1, column: int = 1) -> Scan:
    """The grammar's tokens for ``text``, which starts at ``line:column`` of its file."""
    if len(text) > MAX_CHARS:
        raise ParseError(f"the formula is {len(text)} characters long; symgrad reads at most {MAX_CHARS}",
                         line, column)
    raw = raw_tokens(text, line, column)
    raw = _words(_layout(raw))
    typed = list(_typed(raw))
    typed = _text_functions(typed)
    typed = _primes(typed)
    typed = _matrices(_transposes(typed))
    typed = _cases(typed)
    typed, annotations = _annotations(typed)
    typed = _bars_and_depth(typed)
    typed = _trailing_punctuation(typed)
    typed = _split_arguments(typed)
    return Scan(tuple(typed), tuple(annotations))


#: Macros that only change how their argument looks: ``\\cancel{x}`` is ``{x}``.
_TRANSPARENT = frozenset("cancel bcancel xcancel boxed underline overbrace underbrace phantom_ hbox".split())
#: Macros whose first braced argument is a colour or a target: dropped with it (``\\textcolor{red}{x}``).
_DROP_ONE_ARG = {"textcolor": True, "colorbox": True, "color": False, "cancelto": True}
#: Font switches and connective symbols that carry no mathematical content.
_DROP_WORDS = frozenset("bf rm it sf tt bfseries mdseries itshape boldmath unboldmath because therefore "
                        "displaystyle scriptsize small footnotesize large Large normalsize".split())
#: Words written without a backslash that every reader takes as a function name.
FUNCTION_WORDS: dict[str, str] = {
    **{w: "FUNC" for w in "exp log ln sin cos tan sinh cosh tanh max min".split()},
    **{w: "OPNAME" for w in "sigmoid softmax relu softplus swish gelu sign sgn erf".split()},
}


def _group_end(raw: list[Token], start: int) -> int:
    """The index after the braced group opening at ``raw[start]`` (``start`` if none opens there)."""
    if start >= len(raw) or raw[start].type != "RAW_CHAR" or raw[start].value != "{":
        return start
    depth = 0
    for k in range(start, len(raw)):
        if raw[k].type == "RAW_CHAR" and raw[k].value == "{":
            depth += 1
        elif raw[k].type == "RAW_CHAR" and raw[k].value == "}":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(raw)


def _layout(raw: list[Token]) -> list[Token]:
    r"""Make layout macros transparent: ``\textcolor{c}{x}``, ``\cancel{x}``, ``\underbrace{x}_{note}``."""
    out: list[Token] = []
    i = 0
    drop_script_after: set[int] = set()
    while i < len(raw):
        token = raw[i]
        name = str(token.value)[1:] if token.type == "CONTROL_WORD" else ""
        if i in drop_script_after and token.type == "RAW_CHAR" and token.value in "_^":
            end = _group_end(raw, i + 1)
            i = end if end > i + 1 else i + 2
            continue
        if name in _DROP_ONE_ARG:
            end = _group_end(raw, i + 1)
            i = end if end > i + 1 else i + 1
            continue
        if name in _TRANSPARENT:
            end = _group_end(raw, i + 1)
            if name in ("underbrace", "overbrace") and end > i + 1:
                drop_script_after.add(end)
            i += 1
            continue
        if name in _DROP_WORDS:
            i += 1
            continue
        if name == "newline":
            out.append(Token.new_borrow_pos("ROWSEP", "\\\\", token))
            i += 1
            continue
        out.append(token)
        i += 1
    return out


def _words(raw: list[Token]) -> list[Token]:
    """``sigmoid(x)`` and ``tanh x`` written without a backslash: one function name, not letters."""
    out: list[Token] = []
    i = 0
    while i < len(raw):
        j = i
        while (j < len(raw) and raw[j].type == "RAW_LETTER"
               and (j == i or raw[j].start_pos == raw[j - 1].end_pos)):
            j += 1
        if j - i >= 2:
            word = "".join(str(t.value) for t in raw[i:j])
            previous = out[-1] if out else None
            in_script = previous is not None and previous.type == "RAW_CHAR" and previous.value in "_^{"
            if word.lower() in FUNCTION_WORDS and not in_script:
                token = Token("CONTROL_WORD", "\\" + word.lower() if FUNCTION_WORDS[word.lower()] == "FUNC"
                              else "\\operatorname{" + word + "}", start_pos=raw[i].start_pos,
                              line=raw[i].line, column=raw[i].column, end_line=raw[j - 1].end_line,
                              end_column=raw[j - 1].end_column, end_pos=raw[j - 1].end_pos)
                if FUNCTION_WORDS[word.lower()] == "OPNAME":
                    token = Token.new_borrow_pos("NAMEDARG", token.value, token)
                out.append(token)
                i = j
                continue
        if j > i:
            out.extend(raw[i:j])
            i = j
        else:
            out.append(raw[i])
            i += 1
    return out


_TEXT_WORD = re.compile(r"\\[A-Za-z]+\s*\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\Z")


def _text_functions(tokens: list[Token]) -> list[Token]:
    r"""``\text{ReLU}(x)``, ``\text{swish}(x)``: a word in ``\text`` used as a function is a function name.

    Never dropped: a known word maps to its function, an unknown word applied to a
    bracket is an uninterpreted function of its own.
    """
    out: list[Token] = []
    for k, token in enumerate(tokens):
        if token.type == "TEXT":
            match = _TEXT_WORD.match(str(token.value))
            following = tokens[k + 1] if k + 1 < len(tokens) else None
            if match is not None:
                word = match.group(1)
                kind = FUNCTION_WORDS.get(word.lower())
                if kind == "FUNC":
                    out.append(_retype(token, "FUNC", word.lower()))
                    continue
                if kind == "OPNAME" or (following is not None and following.type in ("LPAREN", "LBRACK")):
                    out.append(_retype(token, "OPNAME", word))
                    continue
        out.append(token)
    return out


def _typed(raw: list[Token]) -> Iterator[Token]:
    """First pass: every raw token gets its grammatical type (or is dropped)."""
    i = 0
    while i < len(raw):
        token = raw[i]
        following = raw[i + 1] if i + 1 < len(raw) else None
        kind = token.type
        value = str(token.value)
        i += 1
        if kind == "CONTROL_WORD":
            new, used = _control_word(token, following)
            if used:
                i += 1
            if new is not None:
                yield new
        elif kind == "CONTROL_SYMBOL":
            char = value[1:]
            if char in ",;:! \t\n\r>":
                continue
            if char in "{}":
                yield _delimiter(token, value, None)
            elif char == "|":
                yield _unsupported(token, "norms are not supported")
            else:
                yield _retype(token, UNKNOWN)
        elif kind == "RAW_NUMBER":
            yield _retype(token, "NUMBER")
        elif kind == "RAW_LETTER":
            yield _retype(token, "LETTER")
        elif kind == "RAW_CHAR":
            if value == "~":
                continue
            if value == "|":
                yield _retype(token, "BAR")
            elif value == "!":
                yield _unsupported(token, "factorials (!) are not supported")
            elif value in _SINGLE_CHARS:
                yield _retype(token, _SINGLE_CHARS[value])
            else:
                yield _retype(token, UNKNOWN)
        elif kind == "UNICODE":
            if value in _UNICODE_CHARS:
                type_, text = _UNICODE_CHARS[value]
                yield _retype(token, type_, text)
            elif value in _UNICODE_GREEK:
                yield _retype(token, "GREEK", _UNICODE_GREEK[value])
            else:
                yield _retype(token, UNKNOWN)
        elif kind == "NAMEDARG":
            yield _named_argument(token)
        elif kind in ("BEGIN", "END"):
            env = _environment(token)
            if env is not None:
                yield env
        elif kind == "DEFINE":
            yield _retype(token, "DEF")
        elif kind in ("TEXT", "TAG", "LABEL", "ROWSEP"):
            yield token
        else:  # pragma: no cover - every lexer terminal is handled above
            yield _retype(token, UNKNOWN)


def _primes(tokens: list[Token]) -> list[Token]:
    """``f^\\prime`` and ``f^{\\prime\\prime}`` are primes, like ``f'`` and ``f''``."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "SUP" and i + 1 < len(tokens):
            nxt = tokens[i + 1]
            if nxt.type == UNSUPPORTED and str(nxt.value) == "\\prime":
                out.append(_retype(nxt, "PRIME", "'"))
                i += 2
                continue
            if nxt.type == "LBRACE":
                j = i + 2
                while j < len(tokens) and tokens[j].type == UNSUPPORTED and str(tokens[j].value) == "\\prime":
                    j += 1
                if j > i + 2 and j < len(tokens) and tokens[j].type == "RBRACE":
                    out.extend(_retype(t, "PRIME", "'") for t in tokens[i + 2:j])
                    i = j + 1
                    continue
        out.append(token)
        i += 1
    return out


#: Words that open a condition or a definition after a formula: ``\text{if } i \neq j``.
CONDITION_WORDS = frozenset("if for when where with whenever provided assuming since as".split())
_RELATION_TYPES = CHECKED_RELATIONS | {OTHER_RELATION, "DEF"}


class MatrixToken(Token):
    """``\\begin{bmatrix} a & b \\\\ c & d \\end{bmatrix}``: one token holding the tokens of each cell."""

    cells: list[list[list[Token]]]


def _matrices(tokens: list[Token]) -> list[Token]:
    """Each explicit matrix environment becomes one MATRIX token (its cells are read by the builder)."""
    if not any(t.type == "MATRIX_BEGIN" for t in tokens):
        return tokens
    out: list[Token] = []
    k = 0
    while k < len(tokens):
        token = tokens[k]
        if token.type != "MATRIX_BEGIN":
            if token.type == "MATRIX_END":
                out.append(_unsupported(token, "\\end of a matrix that was never begun"))
            else:
                out.append(token)
            k += 1
            continue
        end = next((i for i in range(k + 1, len(tokens)) if tokens[i].type in ("MATRIX_END", "MATRIX_BEGIN")),
                   len(tokens))
        if end == len(tokens) or tokens[end].type != "MATRIX_END":
            out.append(_unsupported(token, "nested or unclosed matrices are not supported"))
            return out + tokens[k + 1:]
        rows: list[list[list[Token]]] = [[[]]]
        for t in tokens[k + 1:end]:
            if t.type == "ROWSEP":
                rows.append([[]])
            elif t.type == "AMP":
                rows[-1].append([])
            else:
                rows[-1][-1].append(t)
        while rows and all(not cell for cell in rows[-1]):
            rows.pop()
        matrix = MatrixToken.new_borrow_pos("MATRIX", "\\begin{bmatrix}", token)
        matrix.cells = [[_bars_and_depth(_split_arguments(cell)) for cell in row] for row in rows]
        out.append(matrix)
        k = end + 1
    return out


def _transposes(tokens: list[Token]) -> list[Token]:
    r"""``^\\top``, ``^{\\top}``, ``^\\intercal``, ``^\\mathsf{T}``: one TRANSPOSE postfix token."""
    out: list[Token] = []
    k = 0
    while k < len(tokens):
        token = tokens[k]
        if token.type == "SUP" and k + 1 < len(tokens):
            nxt = tokens[k + 1]
            if _is_top(nxt):
                out.append(_retype(nxt, "TRANSPOSE", "^T"))
                k += 2
                continue
            if (nxt.type == "LBRACE" and k + 3 < len(tokens) and _is_top(tokens[k + 2])
                    and tokens[k + 3].type == "RBRACE"):
                out.append(_retype(tokens[k + 2], "TRANSPOSE", "^T"))
                k += 4
                continue
        out.append(token)
        k += 1
    return out


def _is_top(token: Token) -> bool:
    return str(token.value) in ("\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}")


def _cases(tokens: list[Token]) -> list[Token]:
    r"""``f = \\begin{cases} a & i = j \\\\ b & i \\neq j \\end{cases}``: one row ``f = a, i = j`` per case.

    A case without a condition symgrad can read (``\\text{otherwise}``, nothing) gets
    an unreadable condition, so that it is reported "not checked", never checked
    outside its case.
    """
    if not any(t.type == "CASES_BEGIN" for t in tokens):
        return tokens
    out: list[Token] = []
    k = 0
    while k < len(tokens):
        token = tokens[k]
        if token.type != "CASES_BEGIN":
            out.append(token)
            k += 1
            continue
        row_start = max((i + 1 for i, t in enumerate(out) if t.type == "ROWSEP"), default=0)
        prefix = out[row_start:]
        del out[row_start:]
        end = next((i for i in range(k + 1, len(tokens)) if tokens[i].type in ("CASES_END", "CASES_BEGIN")),
                   len(tokens))
        if end == len(tokens) or tokens[end].type != "CASES_END":
            out.extend(prefix)
            out.append(_unsupported(token, "nested or unclosed cases"))
            return out + tokens[k + 1:]
        rows: list[list[Token]] = [[]]
        for t in tokens[k + 1:end]:
            if t.type == "ROWSEP":
                rows.append([])
            else:
                rows[-1].append(t)
        rows = [r for r in rows if r]
        for n, case in enumerate(rows):
            amp = next((i for i, t in enumerate(case) if t.type == "AMP"), len(case))
            value, condition = case[:amp], case[amp + 1:]
            at = value[0] if value else token
            moved = [_retype(t, t.type) for t in prefix]
            for t in moved:
                if t.type in CHECKED_RELATIONS:
                    t.line, t.column = at.line, at.column
            out.extend(moved)
            out.extend(value)
            readable = [t for t in condition if t.type != "TEXT" or _text_content(str(t.value)).lower().split()[-1:]
                        in (["if"], ["for"], ["when"])]
            if not any(t.type != "TEXT" for t in readable):
                readable = [_retype(at, OTHER_RELATION, "\\otherwise")]
            elif readable[0].type == "TEXT":
                readable = readable[1:]
            out.append(_retype(at, "COMMA", ","))
            out.extend(readable)
            if n + 1 < len(rows):
                out.append(_retype(at, "ROWSEP", "\\\\"))
        k = end + 1
    return out


def _annotations(tokens: list[Token]) -> tuple[list[Token], list[Annotation]]:
    """Move trailing ``\\text{...}`` of each row aside; drop ``\\tag`` and ``\\label``.

    The math after a trailing ``\\text{if}`` (``for``, ``where``, ...) or after a comma
    that follows a relation (``a = b, \\quad i \\neq j``) is kept as the row's condition.
    """
    out: list[Token] = []
    notes: list[Annotation] = []
    row = 0
    depth = 0
    math_in_row = False
    relation_in_row = False
    inequality_in_row = False
    skipping = False
    condition: list[Token] | None = None
    note: tuple[str, int, int] | None = None

    def finish() -> None:
        if note is not None:
            notes.append(Annotation(row, note[0], note[1], note[2], tuple(condition or ())))

    for k, token in enumerate(tokens):
        kind = token.type
        if kind == "ROWSEP" and (depth == 0 or skipping):
            finish()
            note, condition = None, None
            row += 1
            math_in_row = relation_in_row = inequality_in_row = False
            skipping = False
            depth = 0
            out.append(token)
            continue
        if skipping:
            if condition is not None and kind not in ("TEXT", "AMP"):
                condition.append(token)
            elif condition is not None and kind == "TEXT":
                words = _text_content(str(token.value)).lower().split()
                if words and words[0] not in ("and",):
                    condition = None  # more prose: not a condition symgrad reads
            continue
        if kind in _OPENERS:
            depth += 1
        elif kind in _CLOSERS:
            depth = max(0, depth - 1)
        if depth == 0 and kind in ("TAG", "LABEL"):
            continue
        if kind in ("TAG", "LABEL"):
            out.append(_unsupported(token, f"{str(token.value).split('{')[0]} inside a formula"))
            continue
        if kind == "TEXT" and depth == 0:
            text = _text_content(str(token.value))
            if math_in_row:  # a trailing note: it and the rest of the row are not math
                note = (text, token.line or 1, token.column or 1)
                words = text.lower().split()
                condition = [] if words and words[-1] in CONDITION_WORDS else None
                skipping = True
            continue  # a leading label (\\text{Hence}) is dropped
        if (kind == "COMMA" and depth == 0 and relation_in_row
                and _row_tail_has_relation(tokens, k + 1)):
            if _another_equation(tokens, k + 1, inequality_in_row):  # a = b, \\qquad c = d: two rows
                finish()
                note, condition = None, None
                row += 1
                math_in_row = relation_in_row = inequality_in_row = False
                out.append(_retype(token, "ROWSEP", "\\\\"))
                continue
            note = ("", token.line or 1, token.column or 1)
            condition = []
            skipping = True
            continue
        if kind != "AMP":
            math_in_row = True
        if depth == 0 and kind in _RELATION_TYPES:
            relation_in_row = True
            inequality_in_row = inequality_in_row or kind in ("LT", "LE", "GT", "GE")
        out.append(token)
    finish()
    return out, notes


def _another_equation(tokens: list[Token], start: int, after_inequality: bool = False) -> bool:
    """Whether the row from ``start`` is another claim (``c = d``), not a condition (``i = j``, ``x > 0``).

    After an inequality (``a \\le b, \\ b \\le c``) an inequality is another claim too: a
    condition is read only after an identity (``\\sqrt{x^2} = x, \\ x > 0``).
    """
    tail: list[Token] = []
    for token in tokens[start:]:
        if token.type == "ROWSEP":
            break
        tail.append(token)
    relations = [t for t in tail if t.type in _RELATION_TYPES]
    if not relations or any(t.type == "TEXT" for t in tail) or any(t.type in (OTHER_RELATION, "DEF")
                                                                  for t in relations):
        return False
    if any(t.type != "EQ" for t in relations):
        return after_inequality
    return not (len(tail) == 3 and tail[0].type == tail[2].type == "LETTER")


def _row_tail_has_relation(tokens: list[Token], start: int) -> bool:
    """Whether the row from ``start`` holds a relation (``i \\neq j``, ``x > 0``) at its top level."""
    depth = 0
    for token in tokens[start:]:
        if token.type in _OPENERS:
            depth += 1
        elif token.type in _CLOSERS:
            depth = max(0, depth - 1)
        elif token.type == "ROWSEP" and depth == 0:
            return False
        elif depth == 0 and token.type in _RELATION_TYPES:
            return True
    return False


def _text_content(value: str) -> str:
    inner = value[value.index("{") + 1:-1]
    inner = re.sub(r"\\[A-Za-z]+|[{}$\\]", " ", inner)
    return " ".join(inner.split())


def _bars_and_depth(tokens: list[Token]) -> list[Token]:
    """Decide whether each plain | opens or closes; refuse nesting deeper than MAX_DEPTH."""
    out: list[Token] = []
    depth = 0
    open_bars: list[int] = []
    for token in tokens:
        kind = token.type
        if kind == "BAR":
            previous = out[-1].type if out else None
            closes = previous in _OPERAND_ENDS and open_bars and open_bars[-1] == depth
            token = _retype(token, "RVERT" if closes else "LVERT")
            kind = token.type
        if kind in _OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"brackets nested more than {MAX_DEPTH} deep", token.line, token.column)
            if kind == "LVERT":
                open_bars.append(depth)
        elif kind in _CLOSERS:
            if kind == "RVERT" and open_bars and open_bars[-1] == depth:
                open_bars.pop()
            depth = max(0, depth - 1)
        elif kind == "ROWSEP":
            depth = 0
            open_bars.clear()
        elif kind == PUNCT and str(token.value) == ";" and depth > 0:
            token = _retype(token, "COMMA", ",")  # J(W, b; x, y): the data after ; are arguments too
        out.append(token)
    return out


def _trailing_punctuation(tokens: list[Token]) -> list[Token]:
    """Drop the . , ; : that ends a row of a displayed sentence (``a = b.``)."""
    out: list[Token] = []
    depth = 0
    for i, token in enumerate(tokens):
        kind = token.type
        if kind in _OPENERS:
            depth += 1
        elif kind in _CLOSERS:
            depth = max(0, depth - 1)
        elif kind == "ROWSEP":
            depth = 0
        if depth == 0 and kind in (PUNCT, "COMMA"):
            j = i + 1
            while j < len(tokens) and tokens[j].type in (PUNCT, "COMMA", "AMP"):
                j += 1
            if j == len(tokens) or tokens[j].type == "ROWSEP":
                continue
        out.append(token)
    return out


_ONE_ARGUMENT = {"SUP": 1, "SUB": 1, "ACCENT": 1, "SQRT": 1, "FRAC": 2}


def _split_arguments(tokens: list[Token]) -> list[Token]:
    """TeX reads one token as an argument: ``x^10`` is ``x^1 0``, ``\\frac12`` is ``\\frac{1}{2}``."""
    if not any(t.type in _ONE_ARGUMENT for t in tokens):
        return tokens
    out = list(tokens)
    i = 0
    while i < len(out):
        count = _ONE_ARGUMENT.get(out[i].type, 0)
        j = i + 1
        if out[i].type == "SQRT" and j < len(out) and out[j].type == "LBRACK":
            j = _after_group(out, j, "LBRACK", "RBRACK")
        for _ in range(count):
            if j >= len(out):
                break
            token = out[j]
            if token.type == "NUMBER" and len(str(token.value)) > 1:
                value = str(token.value)
                first = Token("NUMBER" if value[0].isdigit() else UNKNOWN, value[0], start_pos=token.start_pos, line=token.line,
                              column=token.column, end_line=token.line,
                              end_column=(token.column or 0) + 1,
                              end_pos=(token.start_pos or 0) + 1)
                rest = Token("NUMBER", value[1:], start_pos=(token.start_pos or 0) + 1, line=token.line,
                             column=(token.column or 0) + 1, end_line=token.end_line,
                             end_column=token.end_column, end_pos=token.end_pos)
                out[j:j + 1] = [first, rest]
                j += 1
            elif token.type == "LBRACE":
                j = _after_group(out, j, "LBRACE", "RBRACE")
            else:
                j += 1
        i += 1
    return out


def _after_group(tokens: list[Token], start: int, opener: str, closer: str) -> int:
    """The index after the group that opens at ``start`` (or the end, if it never closes)."""
    depth = 0
    for k in range(start, len(tokens)):
        if tokens[k].type == opener:
            depth += 1
        elif tokens[k].type == closer:
            depth -= 1
            if depth == 0:
                return k + 1
    return len(tokens)
