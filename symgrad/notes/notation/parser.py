r"""Parse display math into chains: ``a &= b \\ &\le c`` is ``calc(a).eq(b).le(c)``.

:func:`parse_display` reads one display (the inside of ``$$...$$`` or of an
``align`` environment) and returns its chains, each link with the line and
column of its relation and the justification written after it. Rows that
start with a relation continue the chain above; a row that starts with ``+``
or ``-`` continues the expression above; a row that starts with an expression
starts a new chain. :func:`parse_latex` reads a single expression.

Positions are 1-based. Pass ``line`` and ``column`` (where the text starts in
its file) to get positions in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import sympy as sp
from lark import Token
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ...core.verdicts import Relation
from .build import Builder, Item, NamePiece, TreeToPieces
from .errors import ParseError, UnsupportedNotation
from .grammar import grammar
from .symbols import Definition, SymbolTable, freeze, index_symbol, subscripted
from .tokens import CHECKED_RELATIONS, OTHER_RELATION, UNSUPPORTED, Annotation, Scan, message_for, scan

__all__ = ["Link", "ChainSource", "Display", "parse_display", "parse_latex", "parse_relations",
           "parse_definition", "parse_names"]

_RELATIONS = {"EQ": Relation.EQ, "LT": Relation.LT, "LE": Relation.LE, "GT": Relation.GT, "GE": Relation.GE}


@dataclass(frozen=True)
class Link:
    """``REL rhs`` of a chain: the relation's position and the step's justification."""

    relation: Relation
    rhs: sp.Expr
    line: int
    column: int
    note: str | None = None
    conditions: tuple[sp.Basic, ...] = ()  #: ``i \\neq j``, ``x > 0``, ``z = w x + b`` written after the step
    condition_word: str = ""  #: the word before them: ``if``, ``where``, ... (empty after a comma)
    condition_error: str | None = None  #: why the math after the step could not be read as conditions


@dataclass(frozen=True)
class ChainSource:
    """A chain read from a display: its start and its links, with positions."""

    start: sp.Expr
    links: tuple[Link, ...]
    line: int
    column: int
    raw_start: sp.Expr | None = None  #: the start as read, family members not frozen (for definitions)
    defines: bool = False  #: the first link is written ``:=`` (or ``\triangleq``): a definition


@dataclass(frozen=True)
class Display:
    """What a display holds: its chains, and how many expressions stand alone (not chains)."""

    chains: tuple[ChainSource, ...]
    fragments: int


_PAIRS = {"RPAREN": "LPAREN", "RBRACK": "LBRACK", "RCURLY": "LCURLY", "RBRACE": "LBRACE", "RVERT": "LVERT"}


def _check_brackets(tokens: Iterable[Token]) -> None:
    """Every bracket closes the one opened last, within its row; name the first that does not."""
    stack: list[Token] = []
    for token in tokens:
        kind = token.type
        if kind in _PAIRS.values():
            stack.append(token)
        elif kind in _PAIRS:
            if not stack:
                raise _error_at(token, f"unmatched {str(token.value)!r}")
            if stack[-1].type != _PAIRS[kind]:
                opener = stack[-1]
                raise _error_at(token, f"{str(token.value)!r} closes {str(opener.value)!r} opened at line "
                                       f"{opener.line}, column {opener.column}")
            stack.pop()
        elif kind == "ROWSEP" and stack:
            opener = stack[-1]
            raise _error_at(token, f"a row break inside {str(opener.value)!r} opened at line {opener.line}, "
                                   f"column {opener.column}")
    if stack:
        opener = stack[-1]
        raise _error_at(opener, f"{str(opener.value)!r} is never closed")


def _tree(scanned: Scan) -> Any:
    problem = scanned.first_problem()
    if problem is not None:
        cls = UnsupportedNotation if problem.type in (UNSUPPORTED, OTHER_RELATION, "TO") else ParseError
        raise cls(message_for(problem), problem.line, problem.column)
    _check_brackets(scanned.tokens)
    parser = grammar().parse_interactive(start="start")
    last: Token | None = None
    try:
        for token in scanned.tokens:
            parser.feed_token(token)
            last = token
        if last is None:
            return None
        return parser.feed_eof(last)
    except UnexpectedToken as exc:
        raise _unexpected(exc.token, last) from None
    except UnexpectedEOF as exc:  # pragma: no cover - feed_eof reports UnexpectedToken
        raise ParseError("unexpected end of the formula", getattr(exc, "line", None),
                         getattr(exc, "column", None)) from None
    except UnexpectedInput as exc:  # pragma: no cover
        raise ParseError(f"cannot read the formula: {exc}", getattr(exc, "line", None),
                         getattr(exc, "column", None)) from None


def _error_at(at: Any, message: str) -> ParseError:
    """A ParseError at ``at`` (a token or a node: anything with ``line`` and ``column``)."""
    return ParseError(message, getattr(at, "line", None), getattr(at, "column", None))


def _unexpected(token: Token, last: Token | None) -> ParseError:
    if token.type == "$END":
        at = last or token
        return ParseError("the formula ends too early", at.end_line or at.line, at.end_column or at.column or 1)
    text = str(token.value)
    if token.type in CHECKED_RELATIONS:
        return _error_at(token, f"unexpected relation {text!r} here")
    if token.type in ("ROWSEP", "AMP"):
        return _error_at(token, f"unexpected {text!r}: an expression is incomplete")
    return _error_at(token, f"unexpected {text!r}")


def _items(text: str, table: SymbolTable, line: int, column: int, substitute: bool = True
           ) -> tuple[list[Item], tuple[Annotation, ...], Builder]:
    scanned = scan(text, line, column)
    tree = _tree(scanned)
    builder = Builder(table, substitute)
    if tree is None:
        return [], scanned.annotations, builder
    try:
        items = TreeToPieces(builder).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ParseError):
            raise exc.orig_exc from None
        raise
    return items, scanned.annotations, builder


class _ChainBuilder:
    def __init__(self, start: sp.Expr, line: int, column: int) -> None:
        self.start = start
        self.line = line
        self.column = column
        self.links: list[list[Any]] = []  # [relation, rhs, line, column, note]
        self.defines = False

    def extend_last(self, more: sp.Expr) -> None:
        if self.links:
            self.links[-1][1] = sp.Add(self.links[-1][1], more)
        else:
            self.start = sp.Add(self.start, more)


def parse_display(text: str, table: SymbolTable | None = None, *, line: int = 1, column: int = 1,
                  substitute: bool = True, continues: sp.Expr | None = None) -> Display:
    """The chains of one display; raises :class:`ParseError` (with file positions) on bad math.

    ``substitute=False`` keeps ``let`` names as symbols (see :class:`~symgrad.notation.build.Builder`).
    ``continues``: a display that opens with a relation (``= ...``) continues a chain from this expression
    (the last one of the display before).
    """
    try:
        return _parse_display(text, table or SymbolTable(), line, column, substitute, continues)
    except RecursionError:
        raise ParseError("the formula is nested too deeply", line, column) from None


def _parse_display(text: str, table: SymbolTable, line: int, column: int, substitute: bool,
                   continues: sp.Expr | None = None) -> Display:
    items, annotations, builder = _items(text, table, line, column, substitute)
    chains: list[_ChainBuilder] = []
    notes_by_row = {a.row: a.text for a in annotations}
    row_link: dict[int, tuple[int, int]] = {}
    current: _ChainBuilder | None = None
    previous: str | None = None  # "expr" | "rel"
    previous_row = -1
    pending: Token | None = None
    row = 0
    for item in items:
        if item.kind == "row":
            row += 1
            continue
        if item.kind == "amp":
            continue
        if item.kind == "rel":
            token = item.token
            if previous is None and continues is not None and not chains:
                current = _ChainBuilder(continues, token.line, token.column)
                chains.append(current)
                previous = "expr"
                previous_row = row
            if previous is None:
                raise _error_at(token, f"the relation {token.value} has nothing on its left")
            if previous == "rel":
                raise _error_at(token, f"two relations in a row ({pending.value if pending else ''} "
                                       f"and {token.value})")
            pending = token
            previous = "rel"
            continue
        node = item.node
        assert node is not None
        value = builder.value(node)
        if previous == "rel":
            assert current is not None and pending is not None
            if pending.type == "DEF":
                if current.links:
                    raise _error_at(pending, f"a definition ({pending.value}) can only open a chain: NAME := ...")
                current.defines = True
            relation = Relation.EQ if pending.type == "DEF" else _RELATIONS[pending.type]
            current.links.append([relation, value, pending.line, pending.column, None])
            row_link[row] = (len(chains) - 1, len(current.links) - 1)
        elif previous == "expr" and row == previous_row:
            raise _error_at(node, "two expressions side by side: several equations on one row "
                                  "(alignment columns) are not supported")
        elif previous == "expr" and node.leading_sign:
            assert current is not None
            current.extend_last(value)  # a row that starts with + or - continues the expression above
            if current.links:
                row_link[row] = (len(chains) - 1, len(current.links) - 1)
        else:
            current = _ChainBuilder(value, node.line or line, node.column or column)
            chains.append(current)
        previous = "expr"
        previous_row = row
    if previous == "rel" and pending is not None:
        raise _error_at(pending, f"the relation {pending.value} has nothing on its right")
    for note_row, text_ in notes_by_row.items():
        if note_row in row_link:
            chain_index, link_index = row_link[note_row]
            chains[chain_index].links[link_index][4] = text_
    conditions: dict[tuple[int, int], tuple[tuple[sp.Basic, ...], str, str | None]] = {}
    for annotation in annotations:
        if annotation.row in row_link and annotation.condition:
            words = annotation.text.lower().split()
            conditions[row_link[annotation.row]] = _read_conditions(annotation, builder, words)
    out: list[ChainSource] = []
    fragments = 0
    for chain_index, chain in enumerate(chains):
        if not chain.links:
            fragments += 1
            continue
        links = tuple(Link(rel, _finish(rhs), line_, column_, note,
                           *conditions.get((chain_index, link_index), ((), "", None)))
                      for link_index, (rel, rhs, line_, column_, note) in enumerate(chain.links))
        out.append(ChainSource(_finish(chain.start), links, chain.line, chain.column, chain.start, chain.defines))
    return Display(tuple(out), fragments)


_INDEX_RELATIONS = {"\\ne": sp.Ne, "\\neq": sp.Ne}


def _read_conditions(annotation: Annotation, builder: Builder, words: list[str]
                     ) -> tuple[tuple[sp.Basic, ...], str, str | None]:
    """The conditions after a step: ``i \\neq j``, ``x > 0``, ``z = w x + b``; ``\\in`` (a type) is dropped."""
    word = words[-1] if words else ""
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in annotation.condition:
        if token.type in _PAIRS.values():
            depth += 1
        elif token.type in _PAIRS:
            depth = max(0, depth - 1)
        if token.type == "COMMA" and depth == 0:
            parts.append([])
        else:
            parts[-1].append(token)
    out: list[sp.Basic] = []
    try:
        for part in parts:
            if not part:
                continue
            others = [k for k, t in enumerate(part) if t.type == OTHER_RELATION]
            if others:
                k = others[0]
                op = str(part[k].value)
                if op in ("\\in", "\\notin"):
                    continue  # membership: the type of a name, not a condition symgrad checks
                left, right = part[:k], part[k + 1:]
                if (op in _INDEX_RELATIONS and len(left) == 1 == len(right)
                        and left[0].type == right[0].type == "LETTER"):
                    out.append(sp.Ne(index_symbol(str(left[0].value)), index_symbol(str(right[0].value))))
                    continue
                return tuple(out), word, f"the condition {op} cannot be read"
            if (len(part) == 3 and part[1].type == "EQ" and part[0].type == part[2].type == "LETTER"
                    and word != "where"):
                out.append(sp.Eq(index_symbol(str(part[0].value)), index_symbol(str(part[2].value)),
                                 evaluate=False))
                continue
            out += _token_relations(part, builder)
    except ParseError as exc:
        return tuple(out), word, exc.message
    return tuple(out), word, None


def _token_relations(tokens: list[Token], builder: Builder) -> list[sp.Basic]:
    """``a < b \\le c`` (grammar tokens) as unevaluated relationals; ``z = ...`` as an Eq."""
    tree = _tree(Scan(tuple(tokens), ()))
    if tree is None:
        return []
    try:
        items = TreeToPieces(builder).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ParseError):
            raise exc.orig_exc from None
        raise
    out: list[sp.Basic] = []
    previous: sp.Expr | None = None
    relation: Token | None = None
    for item in items:
        if item.kind == "rel":
            relation = item.token
        elif item.kind == "expr":
            assert item.node is not None
            value = _finish(builder.value(item.node))
            if previous is not None and relation is not None:
                rel = Relation.EQ if relation.type in ("EQ", "DEF") else _RELATIONS[relation.type]
                out.append(sp.Eq(previous, value, evaluate=False) if rel is Relation.EQ
                           else rel.sympy(previous, value))
            previous = value
    if not out:
        raise ParseError("expected a condition such as i \\neq j or x > 0")
    return out


def _finish(expr: sp.Expr) -> sp.Expr:
    return freeze(expr)  # type: ignore[return-value]


def parse_latex(text: str, table: SymbolTable | None = None, *, line: int = 1, column: int = 1,
                substitute: bool = True) -> sp.Expr:
    """One expression (no relation) as SymPy; raises :class:`ParseError` otherwise.

    >>> parse_latex(r"\\frac{1}{1 + e^{-x}}")
    1/(1 + exp(-x))
    """
    if not isinstance(text, str):
        raise ParseError(f"parse_latex takes a string, got {type(text).__name__}")
    try:
        items, _, builder = _items(text, table or SymbolTable(), line, column, substitute)
        exprs = [i for i in items if i.kind == "expr"]
        others = [i for i in items if i.kind != "expr"]
        if others:
            token = others[0].token
            raise _error_at(token, f"expected one expression, found {str(token.value)!r}")
        if len(exprs) != 1:
            raise ParseError("expected an expression, found nothing", line, column)
        node = exprs[0].node
        assert node is not None
        return _finish(builder.value(node))
    except RecursionError:
        raise ParseError("the formula is nested too deeply", line, column) from None


def parse_relations(text: str, table: SymbolTable | None = None, *, line: int = 1, column: int = 1,
                    substitute: bool = True) -> list[sp.Basic]:
    """A chain of relations as SymPy relationals: ``0 < s < 1`` gives ``[0 < s, s < 1]``.

    The relationals are built unevaluated, so ``0 < \\sigma(x)`` stays a
    condition instead of collapsing to ``True``.
    """
    display = parse_display(text, table, line=line, column=column, substitute=substitute)
    if display.fragments or len(display.chains) != 1:
        raise ParseError("expected one chain of relations, such as 0 < s < 1", line, column)
    chain = display.chains[0]
    out: list[sp.Basic] = []
    previous = chain.start
    for link in chain.links:
        out.append(link.relation.sympy(previous, link.rhs))
        previous = link.rhs
    return out


def parse_definition(text: str, table: SymbolTable | None = None, *, line: int = 1,
                     column: int = 1) -> Definition:
    r"""``NAME = EXPR`` as a :class:`Definition`: ``s = \sigma(x)``, or a family ``\hat{x}_j = ...``.

    A subscript of single letters on the left makes a family: ``\hat{x}_j``
    defines ``\hat{x}_1``, ``\hat{x}_i`` and ``\hat{x}_j`` under a sum alike.
    A subscript the body does not use is part of a plain name (``\mu_B``).
    The body keeps the names defined before (see :meth:`SymbolTable.substitute`).
    """
    table = table or SymbolTable()
    items, _, builder = _items(text, table, line, column, substitute=False)
    kinds = [i.kind for i in items]
    if kinds != ["expr", "rel", "expr"] or items[1].token.type not in ("EQ", "DEF"):
        raise ParseError("a definition reads NAME = EXPRESSION", line, column)
    lhs, rhs = items[0].node, items[2].node
    assert lhs is not None and rhs is not None
    product = lhs.single_product()
    piece = product.entries[0][1] if product is not None and len(product.entries) == 1 else None
    if not isinstance(piece, NamePiece) or piece.power is not None:
        raise _error_at(lhs, "the left side of a definition must be a name")
    target = builder.name_value(piece, expand=False)
    body = builder.value(rhs)
    source = " ".join(text.split())
    if isinstance(target, sp.Symbol) and target.is_real:
        if table.definition_of(target) is not None:
            raise _error_at(lhs, f"{target} is already defined")
        return Definition(source, body, target=target)
    if isinstance(target, subscripted) and not (body.free_symbols & set(target.indices)):
        name = freeze(target)  # \mu_B = ... with no B on the right: the name mu_B
        if isinstance(name, sp.Symbol) and name.is_real:
            if table.definition_of(name) is not None:
                raise _error_at(lhs, f"{name} is already defined")
            return Definition(source, body, target=name)
    if isinstance(target, subscripted) and all(isinstance(i, sp.Symbol) for i in target.indices):
        if table.family(target.base_name, len(target.indices)) is not None:
            raise _error_at(lhs, f"{target.base_name}_... is already defined")
        if len(set(target.indices)) != len(target.indices):
            raise _error_at(lhs, "the indices of a family definition must differ")
        return Definition(source, body, base=target.base_name, params=tuple(target.indices))
    raise _error_at(lhs, "the left side of a definition must be a name such as s, x_1 or \\hat{x}_j")


def parse_names(text: str, *, line: int = 1, column: int = 1) -> list[str]:
    r"""Comma-separated names (``f, g, \phi, h_\theta, sigmoid``) as the names the symbol table uses.

    Raises the first :class:`ParseError`; :func:`read_names` keeps the good names and every error.
    """
    names, errors = read_names(text, line=line, column=column)
    if errors:
        raise errors[0]
    return names


def read_names(text: str, *, line: int = 1, column: int = 1) -> tuple[list[str], list[ParseError]]:
    r"""The names of a ``function``/``symbol`` declaration, and an error for each one that is not a name.

    A subscripted name is one name: ``h_\theta`` is ``h_theta``, ``h_{W,b}`` is ``h_Wb``,
    ``\sigma_i`` is ``sigma_i``; a word (``sigmoid``, ``\mathrm{softmax}``) is its letters.
    """
    tokens = scan(text, line, column).tokens
    groups: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.type in ("LBRACE", "LPAREN", "LBRACK", "LCURLY"):
            depth += 1
        elif token.type in ("RBRACE", "RPAREN", "RBRACK", "RCURLY"):
            depth = max(0, depth - 1)
        if token.type == "COMMA" and depth == 0:
            groups.append([])
        else:
            groups[-1].append(token)
    names: list[str] = []
    errors: list[ParseError] = []
    for group in groups:
        if not group:
            errors.append(ParseError("expected a name", line, column))
            continue
        try:
            names.append(_one_name(group))
        except ParseError as exc:
            errors.append(exc)
    return names, errors


def _one_name(group: list[Token]) -> str:
    first = group[0]
    if len(group) == 1 and first.type in ("LETTER", "GREEK", "NAME", "OPNAME", "FUNC"):
        return str(first.value)
    if first.type in ("LETTER", "GREEK", "NAME") and len(group) > 2 and group[1].type == "SUB":
        parser = grammar().parse_interactive(start="start")
        try:
            for token in group:
                parser.feed_token(token)
            tree = parser.feed_eof(group[-1])
            builder = Builder(SymbolTable(), substitute=False)
            items = TreeToPieces(builder).transform(tree)
        except (UnexpectedInput, VisitError, ParseError):
            raise _error_at(first, "expected a name such as f, h_\\theta or \\sigma_i") from None
        if len(items) == 1 and items[0].node is not None:
            product = items[0].node.single_product()
            if product is not None and len(product.entries) == 1:
                piece = product.entries[0][1]
                if isinstance(piece, NamePiece) and piece.power is None and not piece.primes:
                    key = builder._function_key(piece)
                    if key is not None:
                        return key
    return _raise_name(first)


def _raise_name(token: Token) -> str:
    raise _error_at(token, f"expected a name, found {str(token.value)!r}")
