r"""From the parse tree to SymPy: what deep-learning notation means.

The grammar leaves a product as a flat list of *pieces* (``2``, ``\sigma``,
``(x)``, ``\sum_{j=1}^{m}``, ``\frac{d}{dx}``) with the operators between them;
:meth:`Builder.resolve` reads the list from the right, which settles the usual
conventions without guessing:

- a name declared as a function, and ``\sigma`` (the sigmoid unless declared
  plain), applies to a bracket right after it: ``\sigma(x)``; otherwise a name
  times a bracket is a product: ``s(1 - s)``;
- ``\log``, ``\exp``, ``\tanh`` ... apply to the bracket or the one factor after
  them: ``\log \sigma(x)`` is ``log(sigmoid(x))``, ``\log x\, y`` is ``log(x) y``;
- ``\sum``, ``\prod``, ``\lim``, ``\frac{d}{dx}`` and ``\partial_x`` apply to the
  rest of the product: ``\sum_{j=1}^{m} g_j \hat{x}_j`` sums ``g_j \hat{x}_j``;
- ``a / b c`` is ambiguous and refused (write ``\frac{a}{b c}`` or ``(a/b) c``).

Leibniz fractions ``\frac{\partial L}{\partial x_i}`` and ``\frac{d}{dx}`` are
derivatives (:class:`sympy.Derivative`, left unevaluated). The derivative of a
plain symbol (``\frac{dy}{dx}`` with ``y`` undeclared) is refused rather than
silently read as 0.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence, Union

import sympy as sp
from lark import Token, Transformer, v_args
from sympy.core.symbol import Str

from ...core.functions import sigmoid
from .errors import ParseError, UnsupportedNotation
from .symbols import (SymbolTable, diff_members, freeze, index_symbol, member_family, real_symbol, rename_bound,
                      subscript_name, subscripted)

__all__ = ["Builder", "SumNode", "Product", "MathArg", "TextArg", "SignArg"]

#: Longest number literal accepted (digits).
MAX_DIGITS = 100
#: Highest derivative order accepted.
MAX_ORDER = 20

_EXPECTATION = sp.Function("E", real=True)
#: Letters read as functions when a bracket follows them, unless declared ``symbol``.
CONVENTIONAL_FUNCTIONS = frozenset({"f", "g"})


def _fail(message: str, at: Any, unsupported: bool = False) -> ParseError:
    line = getattr(at, "line", None)
    column = getattr(at, "column", None)
    cls = UnsupportedNotation if unsupported else ParseError
    return cls(message, line, column)


# ---------------------------------------------------------------------------
# Arguments of ^ _ \frac \sqrt \hat
# ---------------------------------------------------------------------------


@dataclass
class MathArg:
    """A braced argument ``{a, b}`` or ``{j = 1}`` or ``{x \\to 0}``, or one token."""

    exprs: list["SumNode"]
    relation: str | None = None
    rhs: "SumNode | None" = None
    line: int | None = None
    column: int | None = None

    def single(self, what: str) -> "SumNode":
        if self.relation is not None or len(self.exprs) != 1:
            raise _fail(f"{what} must be a single expression", self)
        return self.exprs[0]


@dataclass
class TextArg:
    """``{\\text{in}}`` in a subscript: a label."""

    text: str
    line: int | None = None
    column: int | None = None


@dataclass
class SignArg:
    """``^+`` or ``^-``: the side of a one-sided limit."""

    sign: str
    line: int | None = None
    column: int | None = None


Arg = Union[MathArg, TextArg, SignArg]


# ---------------------------------------------------------------------------
# Pieces of a product
# ---------------------------------------------------------------------------


@dataclass
class Piece:
    """One factor of a product with its superscript, subscript and primes."""

    line: int | None
    column: int | None
    power: sp.Expr | None = field(default=None, init=False)
    sub: Arg | None = field(default=None, init=False)
    primes: int = field(default=0, init=False)
    direction: str | None = field(default=None, init=False)

    what = "this"

    def add_sup(self, arg: Arg, builder: "Builder", at: Any = None) -> None:
        if self.power is not None or self.direction is not None:
            raise _fail("double superscript: write x^{ab} or {x^a}^b", at or arg)
        if isinstance(arg, SignArg):
            self.direction = arg.sign
            return
        if isinstance(arg, TextArg):
            raise _fail("\\text in a superscript", arg)
        self.power = builder.value(arg.single("a superscript"))

    def add_sub(self, arg: Arg, builder: "Builder", at: Any = None) -> None:
        if self.sub is not None:
            raise _fail("double subscript: write x_{ij}", at or arg)
        self.sub = arg

    def add_prime(self, token: Token) -> None:
        self.primes += 1

    def check_plain(self) -> None:
        """Refuse decorations this piece cannot carry."""
        if self.sub is not None:
            raise _fail(f"a subscript on {self.what} (subscripts belong to names, like x_i)", self.sub)
        if self.primes:
            raise _fail(f"a prime on {self.what} (primes belong to names and functions)", self)
        if self.direction is not None:
            raise _fail("^+ and ^- mark the side of a limit: \\lim_{x \\to 0^+}", self)


@dataclass
class Value(Piece):
    """A finished value; ``args`` holds a bracket's contents, which a function may take."""

    expr: sp.Expr = sp.S.Zero
    args: tuple[sp.Expr, ...] | None = None
    what_text: str = "a number"
    vectors: bool = field(default=False, init=False)  #: a bracket holding a whole vector, (\mathbf{z})

    @property
    def what(self) -> str:  # type: ignore[override]
        return self.what_text

    @property
    def is_bracket(self) -> bool:
        return self.args is not None

    def check_plain(self) -> None:
        """A bracket with a subscript, ``(a + b)_i``, is a component of an expression of vectors."""
        if self.sub is not None and self.is_bracket:
            raise _fail("not checked: matrix calculus (a component (...)_i of an expression of vectors); "
                        "write the components, such as a_i + b_i", self.sub, unsupported=True)
        if self.vectors:
            raise _fail("not checked: matrix calculus (a function of a whole vector); write its components, "
                        "such as f(z)_i", self, unsupported=True)
        super().check_plain()


@dataclass
class NamePiece(Piece):
    """A name: ``x``, ``\\alpha``, ``\\hat{x}``, ``\\mathrm{lr}``, ``\\mathcal{L}``."""

    base: str = ""
    kind: str = "letter"  # letter, greek, roman, cal, accented

    what = "a name"

    def add_sup(self, arg: Arg, builder: "Builder", at: Any = None) -> None:
        """``W^{(l)}``, ``b^{[2]}``, ``a_j^L``, ``w^{l+1}``: a layer label is part of the name, not a power.

        ``x^T`` (a transpose of a name) is matrix calculus: refused, never read as a power.
        Declared plain (``symbol L``, ``symbol T``), the letter is a power again.
        """
        if self.power is None and not self.primes and not (self.base == "e" and self.kind == "letter"):
            label = _layer_label(arg)
            if label is not None and not builder.table.is_plain(label.rstrip("+-0123456789")):
                self.base = f"{self.base}^({label})"
                return
            if _is_letter_t(arg) and not builder.table.is_plain("T"):
                raise _fail("not checked: matrix calculus (a transpose of a name); write the matrix out, "
                            "or the entries with an index", at or arg, unsupported=True)
        super().add_sup(arg, builder, at)

    def check_plain(self) -> None:
        if self.direction is not None:
            raise _fail("^+ and ^- mark the side of a limit: \\lim_{x \\to 0^+}", self)


@dataclass
class FunctionPiece(Piece):
    """``\\log``, ``\\exp``, ``\\max``, ``\\operatorname{softmax}``, ``\\mathbb{E}``."""

    name: str = ""
    func: Callable[..., sp.Expr] | None = None
    arity: int = 1  # 0 = any number of arguments

    @property
    def what(self) -> str:  # type: ignore[override]
        return self.name


@dataclass
class PartialPiece(Piece):
    """``\\partial`` (inside a Leibniz fraction) or ``\\partial_x`` (an operator)."""

    what = "\\partial"


@dataclass
class OperatorPiece(Piece):
    """``\\sum``, ``\\prod``, ``\\lim``, or a derivative operator: applies to the rest of the product."""

    kind: str = "sum"  # sum, prod, lim, deriv
    variables: tuple[tuple[sp.Expr, int], ...] = ()

    @property
    def what(self) -> str:  # type: ignore[override]
        return {"sum": "\\sum", "prod": "\\prod", "lim": "\\lim", "deriv": "a derivative"}[self.kind]


# ---------------------------------------------------------------------------
# Sums and products (resolved on demand)
# ---------------------------------------------------------------------------


@dataclass
class Product:
    """Pieces with the operator before each: '' (first), 'impl', '*' or '/'."""

    entries: list[tuple[str, Piece]]

    @property
    def line(self) -> int | None:
        return self.entries[0][1].line

    @property
    def column(self) -> int | None:
        return self.entries[0][1].column


@dataclass
class SumNode:
    """``[+-] product (+- product)*``; ``leading_sign`` marks a row that continues a sum."""

    terms: list[tuple[int, Product]]
    leading_sign: bool
    line: int | None
    column: int | None
    _value: sp.Expr | None = field(default=None, init=False, repr=False)

    def single_product(self) -> Product | None:
        if len(self.terms) == 1 and not self.leading_sign:
            return self.terms[0][1]
        return None

    @classmethod
    def of_piece(cls, piece: Piece) -> "SumNode":
        return cls([(1, Product([("", piece)]))], False, piece.line, piece.column)


# ---------------------------------------------------------------------------
# Function tables
# ---------------------------------------------------------------------------


def _relu(x: sp.Expr) -> sp.Expr:
    return sp.Max(0, x)


def _softplus(x: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(x))


_FUNCTIONS: dict[str, tuple[Callable[..., sp.Expr], int]] = {
    "exp": (sp.exp, 1), "log": (sp.log, 1), "ln": (sp.log, 1), "sin": (sp.sin, 1), "cos": (sp.cos, 1),
    "tan": (sp.tan, 1), "sinh": (sp.sinh, 1), "cosh": (sp.cosh, 1), "tanh": (sp.tanh, 1),
    "arcsin": (sp.asin, 1), "arccos": (sp.acos, 1), "arctan": (sp.atan, 1), "max": (sp.Max, 0),
    "min": (sp.Min, 0),
}
_OPERATOR_NAMES: dict[str, tuple[Callable[..., sp.Expr], int]] = {
    **_FUNCTIONS, "sigmoid": (sigmoid, 1), "relu": (_relu, 1), "softplus": (_softplus, 1),
    "erf": (sp.erf, 1), "sign": (sp.sign, 1), "sgn": (sp.sign, 1), "abs": (sp.Abs, 1),
}


#: Letters that, as a bare superscript of a name, are a layer index (``a_j^L``, ``w^l``), not a power.
LAYER_LETTERS = frozenset({"L", "l", "ell"})


def _layer_letter(node: "SumNode") -> str | None:
    """``L``, ``l``, ``L-1``, ``l+1`` (a layer letter, maybe shifted by an integer): the label, else None."""
    if len(node.terms) > 2 or (node.leading_sign and node.terms[0][0] < 0):
        return None
    sign, first = node.terms[0]
    if len(first.entries) != 1:
        return None
    piece = first.entries[0][1]
    if not (isinstance(piece, NamePiece) and piece.base in LAYER_LETTERS and piece.kind in ("letter", "greek")
            and piece.sub is None and piece.power is None and not piece.primes and sign > 0):
        return None
    label = "l" if piece.base == "ell" else piece.base
    if len(node.terms) == 1:
        return label
    shift_sign, shift = node.terms[1]
    if len(shift.entries) != 1:
        return None
    number = shift.entries[0][1]
    if not (isinstance(number, Value) and not number.is_bracket and number.expr.is_Integer
            and number.power is None and number.sub is None and 0 < int(number.expr) < 100):
        return None
    return f"{label}{'-' if shift_sign < 0 else '+'}{int(number.expr)}"


#: Functions applied entry by entry: component ``i`` of ``f(z)`` is ``f(z_i)``.
_ELEMENTWISE = frozenset("exp log ln sin cos tan sinh cosh tanh sigmoid relu softplus erf".split())
#: The summation index of softmax's denominator (a name no note uses as an index).
SOFTMAX_INDEX = "kappa"


def _layer_label(arg: Arg) -> str | None:
    """``(l)``, ``[2]``, ``(l-1)``, or a bare layer letter ``L``/``l``/``L-1`` as a superscript: the label."""
    if not isinstance(arg, MathArg) or arg.relation is not None or len(arg.exprs) != 1:
        return None
    bare = _layer_letter(arg.exprs[0])
    if bare is not None:
        return bare
    product = arg.exprs[0].single_product()
    if product is None or len(product.entries) != 1:
        return None
    piece = product.entries[0][1]
    if not isinstance(piece, Value) or not piece.is_bracket or piece.args is None or len(piece.args) != 1:
        return None
    if piece.power is not None or piece.sub is not None:
        return None
    (inner,) = piece.args
    if isinstance(inner, sp.Integer) and inner >= 0:
        return str(inner)
    if isinstance(inner, sp.Symbol) and len(inner.name) <= 2:
        return inner.name
    if isinstance(inner, sp.Add) and len(inner.args) == 2:  # (l-1), (l+1)
        number, letter = sorted(inner.args, key=lambda a: not a.is_Integer)
        if (number.is_Integer and 0 < abs(int(number)) < 100 and isinstance(letter, sp.Symbol)
                and len(letter.name) == 1):
            return f"{letter.name}{'-' if number < 0 else '+'}{abs(int(number))}"
    return None


def _is_matrix(expr: Any) -> bool:
    return isinstance(expr, sp.MatrixBase)


def _is_letter_t(arg: Any) -> bool:
    """``^T`` (a transpose, on a matrix)."""
    if not isinstance(arg, MathArg) or arg.relation is not None or len(arg.exprs) != 1:
        return False
    product = arg.exprs[0].single_product()
    if product is None or len(product.entries) != 1:
        return False
    piece = product.entries[0][1]
    return isinstance(piece, NamePiece) and piece.base == "T" and piece.sub is None and piece.power is None


def _bits(n: int) -> int:
    return abs(int(n)).bit_length()


def safe_power(base: sp.Expr, exponent: sp.Expr, at: Any) -> sp.Expr:
    """``base**exponent``, refusing numbers too large to write down (``9^{9^{9}}``)."""
    if base.is_number and exponent.is_number and exponent.is_Rational and base not in (0, 1, -1):
        p, q = int(exponent.p), int(exponent.q)
        too_big = abs(p) > 100_000 or q > 1000
        if base.is_Rational and not too_big:
            too_big = abs(p) * max(_bits(base.p), _bits(base.q)) > 100_000
        elif not base.is_Rational:
            too_big = too_big or abs(p) > 1000
        if too_big:
            raise _fail("this power is too large a number to evaluate", at)
    return sp.Pow(base, exponent)


# ---------------------------------------------------------------------------
# The builder: pieces to SymPy, with the document's symbol table
# ---------------------------------------------------------------------------


class Builder:
    """Turns sums, products and pieces into SymPy expressions (names as in ``table``).

    With ``substitute`` a ``let`` name is replaced by its body; without, it
    stays a symbol (for the kernel to substitute, ``calc(..., where=...)``).
    Families (``let \\hat{x}_j = ...``) and integer indices (``x_m`` with
    ``let m = 3``) are always substituted: a symbol cannot stand for them.
    """

    def __init__(self, table: SymbolTable, substitute: bool = True) -> None:
        self.table = table
        self.substitute = substitute

    def _substituted(self, expr: sp.Expr, at: Any) -> sp.Expr:
        try:
            return self.table.substitute(expr)
        except ValueError as exc:
            raise _fail(str(exc), at) from None

    # -- values -----------------------------------------------------------
    def value(self, node: SumNode) -> sp.Expr:
        if node._value is None:
            terms = []
            for sign, product in node.terms:
                term = self.resolve(product)
                terms.append(-term if sign < 0 else term)
            node._value = sp.Add(*terms)
        return node._value

    def resolve(self, product: Product) -> sp.Expr:
        """The product's value, reading its pieces from the right (see the module docstring)."""
        rest: deque[list[Any]] = deque()  # [operator, piece or expression]
        for op, piece in reversed(product.entries):
            if isinstance(piece, (FunctionPiece, OperatorPiece, PartialPiece)) and piece.direction is not None:
                raise _fail("^+ and ^- mark the side of a limit: \\lim_{x \\to 0^+}", piece)
            if isinstance(piece, PartialPiece) and piece.primes:
                raise _fail("a prime on \\partial", piece)
            if isinstance(piece, OperatorPiece) or (isinstance(piece, PartialPiece) and piece.sub is not None):
                if not rest or rest[0][0] != "impl":
                    raise _fail(f"{piece.what} needs an expression after it", piece)
                body = self._fold(rest)
                rest = deque([[op, self._apply_operator(piece, body)]])
            elif isinstance(piece, FunctionPiece):
                if not rest or rest[0][0] != "impl":
                    raise _fail(f"{piece.what} needs an argument", piece)
                rest[0] = [op, self._apply_function(piece, rest[0][1])]
            elif isinstance(piece, NamePiece) and self._applicable(piece):
                if rest and rest[0][0] == "impl" and isinstance(rest[0][1], Value) and rest[0][1].is_bracket:
                    rest[0] = [op, self._apply_name(piece, rest[0][1])]
                elif self.table.function_definition(self._function_key(piece) or piece.base) is not None:
                    definition = self.table.function_definition(self._function_key(piece) or piece.base)
                    assert definition is not None  # J written alone, as in dJ/dw: J(w, b) as defined
                    rest.appendleft([op, definition.instantiate_function(*definition.params)])
                elif piece.base != "sigma" and not self._word(piece):
                    raise _fail(f"{piece.base} is declared a function: write {piece.base}(x)", piece)
                else:
                    rest.appendleft([op, piece])
            else:
                rest.appendleft([op, piece])
        return self._fold(rest)

    def _fold(self, rest: Sequence[list[Any]]) -> sp.Expr:
        factors: list[sp.Expr] = []
        items = list(rest)
        for k, (op, item) in enumerate(items):
            value = self._item_value(item)
            if op == "/":
                if k + 1 < len(items) and items[k + 1][0] == "impl":
                    at = item if isinstance(item, Piece) else None
                    raise _fail("a / b c is ambiguous: write \\frac{a}{b c} or (a/b) c", at)
                factors.append(sp.Pow(value, -1))
            else:
                factors.append(value)
        result = sp.Mul(*factors)
        if isinstance(result, sp.MatrixBase) and result.shape == (1, 1):
            return result[0, 0]  # type: ignore[no-any-return]  # x^T y: a 1 by 1 matrix is its entry
        return result

    def _item_value(self, item: Any) -> sp.Expr:
        if isinstance(item, sp.Basic):
            return item  # type: ignore[return-value]
        if isinstance(item, NamePiece):
            return self.name_value(item)
        if isinstance(item, Value):
            item.check_plain()
            if item.args is not None and len(item.args) != 1:
                raise _fail("a list (a, b) is only allowed as the arguments of a function", item)
            base = item.args[0] if item.args is not None else item.expr
            return base if item.power is None else safe_power(base, item.power, item)
        if isinstance(item, PartialPiece):
            raise _fail("\\partial outside a derivative: write \\frac{\\partial f}{\\partial x} or \\partial_x f",
                        item)
        raise _fail(f"{item.what} needs an argument", item)  # pragma: no cover - resolved above

    # -- names ------------------------------------------------------------
    def _applicable(self, piece: NamePiece) -> bool:
        if piece.sub is not None:
            key = self._function_key(piece)
            return key is not None and self.table.is_function(key)
        if piece.base == "sigma" and piece.kind == "greek":
            return not self.table.is_plain("sigma")
        return self.table.is_function(piece.base) or self._word(piece)

    def _word(self, piece: NamePiece) -> bool:
        """``\\mathrm{softmax}``, or ``f``/``g``: a function when a bracket follows (``f(2x)`` is not ``2 f x``)."""
        if piece.sub is not None or self.table.is_plain(piece.base):
            return False
        if piece.kind == "letter" and piece.base in CONVENTIONAL_FUNCTIONS:
            return True
        return piece.kind == "roman" and len(piece.base) > 1

    def _function_key(self, piece: NamePiece) -> str | None:
        """The declared name of a subscripted function: ``h_\\theta`` is ``h_theta``, ``h_{W,b}`` is ``h_Wb``."""
        if piece.sub is None:
            return piece.base
        try:
            indices = self.indices(piece.sub)
        except ParseError:
            return None
        return subscript_name(piece.base, indices)

    def indices(self, arg: Arg) -> tuple[sp.Expr, ...]:
        """The indices of a subscript: ``x_i`` (i), ``w_{ij}`` (i, j), ``x_{i+1}``, ``W_{\\text{out}}``."""
        if isinstance(arg, TextArg):
            words = arg.text.split()
            if len(words) != 1 or not words[0].isalnum():
                raise _fail(f"the subscript \\text{{{arg.text}}} must be one word", arg)
            return (index_symbol(words[0]),)
        if isinstance(arg, SignArg):
            raise _fail("a sign as a subscript", arg)
        if arg.relation is not None:
            raise _fail("a relation in a subscript (only \\sum_{i=1} and \\lim_{x \\to a} take one)", arg)
        if len(arg.exprs) == 1:
            product = arg.exprs[0].single_product()
            if product is not None and all(
                    isinstance(p, NamePiece) and p.kind in ("letter", "greek", "roman") and p.sub is None
                    and p.power is None and not p.primes for _, p in product.entries):
                return tuple(self._index_name(p.base, arg) for _, p in product.entries)  # type: ignore[attr-defined]
        out = []
        for node in arg.exprs:
            value = self.value(node)
            value = value.xreplace({s: index_symbol(s.name) for s in value.free_symbols
                                    if isinstance(s, sp.Symbol) and s.is_integer is not True})
            if value.is_number and not value.is_Integer:
                raise _fail("a subscript must be a name or an integer", node)
            out.append(value)
        return tuple(out)

    def _index_name(self, name: str, at: Any) -> sp.Expr:
        value = self._substituted(real_symbol(name), at)
        return value if value.is_Integer else index_symbol(name)

    def name_value(self, piece: NamePiece, expand: bool = True) -> sp.Expr:
        """The symbol (or ``let`` body) a name stands for, raised to its power.

        ``expand=False`` gives the name as written (for the left side of a
        ``let`` and for variables of differentiation).
        """
        piece.check_plain()
        base = piece.base + "prime" * piece.primes
        value: sp.Expr
        if piece.kind == "vector" and piece.sub is None:
            raise _fail(f"not checked: matrix calculus (the vector or matrix {base} as a whole); write its "
                        f"entries with an index, such as {base}_i, or a small one as a bmatrix", piece,
                        unsupported=True)
        if piece.sub is None:
            if base == "e" and piece.kind == "letter":
                value = sp.E
            elif base == "pi" and piece.kind == "greek":
                value = sp.pi
            else:
                value = real_symbol(base)
        else:
            indices = self.indices(piece.sub)
            entry = self._vector_entry(piece, indices) if piece.kind == "vector" else None
            if entry is not None:
                return entry if piece.power is None else safe_power(entry, piece.power, piece)
            if (base == "delta" and piece.kind == "greek" and len(indices) == 2 and expand
                    and not self.table.is_plain("delta") and self.table.family(base, 2) is None):
                value = sp.KroneckerDelta(*indices)  # \delta_{ij}: the Kronecker delta
                return value if piece.power is None else safe_power(value, piece.power, piece)
            family = self.table.family(base, len(indices)) if expand else None
            value = family.instantiate(indices) if family is not None else subscripted(Str(base), *indices)
        if expand and self.substitute:
            value = self._substituted(value, piece)
        return value if piece.power is None else safe_power(value, piece.power, piece)

    def variable(self, piece: Piece) -> sp.Expr:
        """A variable of differentiation, summation or a limit: a name as written (no ``let``)."""
        if not isinstance(piece, NamePiece) or piece.primes or (piece.base == "e" and piece.kind == "letter"):
            raise _fail("expected a variable (a name such as x or x_i)", piece)
        saved, piece.power = piece.power, None
        try:
            variable = self.name_value(piece, expand=False)
        finally:
            piece.power = saved
        if not isinstance(variable, (sp.Symbol, subscripted)):
            raise _fail("expected a variable (a name such as x or x_i)", piece)
        if isinstance(variable, sp.Symbol) and self.table.definition_of(variable) is not None and self.substitute:
            raise _fail(f"cannot vary {variable}: it is defined by a let declaration", piece)
        if (isinstance(variable, subscripted) and self.table.family(variable.base_name, len(variable.indices))
                and self.substitute):
            raise _fail(f"cannot vary {variable.base_name}_...: it is defined by a let declaration", piece)
        return variable

    def _apply_name(self, piece: NamePiece, bracket: Value) -> sp.Expr:
        func: Callable[..., sp.Expr]
        key = self._function_key(piece) or piece.base
        args = bracket.args or ()
        definition = self.table.function_definition(key)
        if definition is not None:
            if len(args) != len(definition.params):
                raise _fail(f"{key} is defined with {len(definition.params)} argument(s)", bracket)
            func = definition.instantiate_function
        elif piece.base == "sigma" and piece.sub is None and not self.table.is_function("sigma"):
            func = sigmoid
        elif self._word(piece) and piece.base.lower() in _OPERATOR_NAMES:
            func = _OPERATOR_NAMES[piece.base.lower()][0]
        else:
            func = sp.Function(key, real=True)
        if piece.sub is not None:
            piece.sub = None  # part of the function's name
        if bracket.sub is not None:
            func = self._component_function(key, func, bracket)
        if func is sigmoid and len(args) != 1:
            raise _fail("\\sigma takes one argument", bracket)
        if func is sigmoid and any(real_symbol("sigma") in a.free_symbols for a in args):
            raise _fail("\\sigma(... \\sigma ...) is ambiguous: the sigmoid of an expression in the symbol "
                        "\\sigma, or \\sigma times a bracket? Write \\sigma(x)(1 - \\sigma(x)), or declare "
                        "'symbol \\sigma' to make \\sigma a plain symbol", piece)
        result = self._call(func, args, piece.primes, piece)
        if piece.power is not None:
            if piece.power == -1:
                raise _fail(f"{piece.base}^{{-1}}(x) is ambiguous (inverse or reciprocal?): write "
                            f"({piece.base}(x))^{{-1}} for the reciprocal", piece)
            result = safe_power(result, piece.power, piece)
        bracket.check_plain()
        if bracket.power is not None:
            result = safe_power(result, bracket.power, bracket)
        return result

    # -- functions and operators -------------------------------------------
    def _apply_function(self, piece: FunctionPiece, target: Any) -> sp.Expr:
        assert piece.func is not None
        func = piece.func
        if isinstance(target, Value) and target.is_bracket:
            if target.sub is not None:
                func = self._component_function(piece.name, func, target)
            target.check_plain()
            args = target.args or ()
            power_after = target.power
        else:
            args = (self._item_value(target),)
            power_after = None
        if piece.arity and len(args) != piece.arity:
            raise _fail(f"{piece.what} takes {piece.arity} argument{'s' if piece.arity > 1 else ''}", piece)
        if piece.sub is not None:
            if piece.name != "\\log":
                raise _fail(f"a subscript on {piece.what}", piece.sub)
            assert isinstance(piece.sub, MathArg)
            log_base = self.value(piece.sub.single("the base of a logarithm"))
            func = lambda x: sp.log(x, log_base)  # noqa: E731
        result = self._call(func, args, piece.primes, piece)
        if piece.power is not None:
            if piece.power == -1:
                raise _fail(f"{piece.what}^{{-1}} is ambiguous (inverse or reciprocal?): write \\arcsin "
                            "or (\\sin x)^{-1}", piece)
            result = safe_power(result, piece.power, piece)
        if power_after is not None:
            result = safe_power(result, power_after, target)
        return result

    def _component_function(self, name: str, func: Callable[..., sp.Expr], bracket: Value) -> Callable[..., sp.Expr]:
        r"""``\sigma(z)_i`` is ``\sigma(z_i)``; ``\mathrm{softmax}(z)_i`` is ``e^{z_i} / \sum_k e^{z_k}``.

        Component ``i`` of a function of a vector ``z`` (a plain name): an element-wise
        function applies to ``z_i``; softmax sums over the declared range of its index
        (``index i, k from 1 to n``). Anything else is matrix calculus, not checked.
        The bracket's subscript is consumed; the returned function takes the bracket's arguments.
        """
        assert bracket.sub is not None
        sub, bracket.sub = bracket.sub, None
        bracket.vectors = False  # its components are read below, or the whole is refused
        args = bracket.args or ()
        word = name.split("{")[-1].rstrip("}").lstrip("\\").lower()
        vector = args[0] if len(args) == 1 else None
        if (isinstance(vector, sp.Symbol) and vector.is_real and self.table.definition_of(vector) is None
                and not vector.name.startswith("∂")):
            indices = self.indices(sub)
            if len(indices) == 1:
                (index,) = indices
                member = self._entry(vector, index, sub)
                if func is sigmoid or (word in _ELEMENTWISE and func is _OPERATOR_NAMES[word][0]):
                    return lambda _z: func(member)
                if word == "softmax":
                    bounds = self._vector_range(index)
                    if bounds is not None:
                        k = index_symbol(SOFTMAX_INDEX)
                        total = sp.Sum(sp.exp(self._entry(vector, k, sub)), (k, *bounds))
                        return lambda _z: sp.exp(member) / total
                    raise _fail(f"not checked: matrix calculus (component {index} of softmax({vector}), a vector "
                                "function, over a range the note does not give); declare it, as in "
                                "<!-- symgrad: index i, j from 1 to n -->", sub, unsupported=True)
        raise _fail(f"not checked: matrix calculus (a component of {name}(...), a function of a vector); "
                    "write the components, such as f(z)_i = f(z_i) for an element-wise f", sub, unsupported=True)

    def _entry(self, vector: sp.Symbol, index: sp.Expr, at: Any) -> sp.Expr:
        """Entry ``index`` of the vector ``vector``, exactly as ``z_i`` written out reads (families, lets)."""
        family = self.table.family(vector.name, 1)
        value = family.instantiate((index,)) if family is not None else subscripted(Str(vector.name), index)
        return self._substituted(value, at) if self.substitute else value

    def explicit_vector(self, piece: Piece) -> Piece:
        r"""``\mathbf{x}`` defined as an explicit matrix (``\mathbf{x} = \begin{bmatrix} ... \end{bmatrix}``): that matrix."""
        if not (isinstance(piece, NamePiece) and piece.kind == "vector" and piece.sub is None):
            return piece
        definition = self.table.family(piece.base, 0)
        if definition is None or not isinstance(definition.body, sp.MatrixBase):
            return piece
        return Value(piece.line, piece.column, expr=definition.body, what_text="a matrix")

    def _vector_entry(self, piece: NamePiece, indices: tuple[sp.Expr, ...]) -> sp.Expr | None:
        r"""``\mathbf{x}_2`` of an explicitly defined ``\mathbf{x}``: that entry (1-based); None if not defined."""
        definition = self.table.family(piece.base, 0)
        if definition is None or not isinstance(definition.body, sp.MatrixBase):
            return None
        matrix = definition.body
        if not all(i.is_Integer for i in indices):
            raise _fail(f"not checked: matrix calculus (an entry with a symbolic index of {piece.base}, defined "
                        "as an explicit matrix)", piece, unsupported=True)
        positions = [int(i) - 1 for i in indices]
        if len(positions) == 1 and 1 in matrix.shape:
            positions = [positions[0], 0] if matrix.shape[1] == 1 else [0, positions[0]]
        if len(positions) != 2 or not all(0 <= p < n for p, n in zip(positions, matrix.shape)):
            raise _fail(f"{piece.base} has no entry {', '.join(map(str, indices))} (it is {matrix.shape[0]} by "
                        f"{matrix.shape[1]})", piece)
        return matrix[positions[0], positions[1]]  # type: ignore[no-any-return]

    def _vector_range(self, index: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
        """The declared range of ``index`` (or the one range the note declares, for an integer index)."""
        if isinstance(index, sp.Symbol):
            declared = self.table.range_of(index.name)
            if declared is not None:
                return declared
        ranges = {(lower, upper) for _, lower, upper in self.table.ranges}
        return next(iter(ranges)) if len(ranges) == 1 else None

    def _call(self, func: Callable[..., sp.Expr], args: Sequence[sp.Expr], primes: int, at: Any) -> sp.Expr:
        if primes == 0:
            return func(*args)
        if len(args) != 1:
            raise _fail("a prime (f') needs a function of one argument", at)
        (arg,) = args
        if isinstance(arg, sp.Symbol):
            return sp.Derivative(func(arg), (arg, primes))
        t = sp.Dummy("t", real=True)
        return sp.Subs(sp.Derivative(func(t), (t, primes)), t, arg)

    def _apply_operator(self, piece: Piece, body: sp.Expr) -> sp.Expr:
        if isinstance(piece, PartialPiece):  # \partial_x f
            assert piece.sub is not None
            if not isinstance(piece.sub, MathArg) or piece.sub.relation is not None:
                raise _fail("\\partial_x needs a variable", piece)
            order = self._order(piece.power, piece)
            product = piece.sub.single("the variable of \\partial_x").single_product()
            if product is None or len(product.entries) != 1:
                raise _fail("\\partial_x needs one variable", piece)
            return self.derivative(body, ((self.variable(product.entries[0][1]), order),), piece)
        assert isinstance(piece, OperatorPiece)
        if piece.kind == "deriv":
            return self.derivative(body, piece.variables, piece)
        if piece.kind == "lim":
            return self._limit(piece, body)
        return self._big_operator(piece, body)

    def _big_operator(self, piece: OperatorPiece, body: sp.Expr) -> sp.Expr:
        declared = self._declared_range(piece)
        if declared is not None:
            index, lower, upper = declared
            body = body.xreplace({real_symbol(index.name): index})
            return (sp.Sum if piece.kind == "sum" else sp.Product)(body, (index, lower, upper))
        if not isinstance(piece.sub, MathArg) or piece.sub.relation != "=" or piece.power is None:
            raise _fail(f"give {piece.what} its limits, as in {piece.what}_{{j=1}}^{{m}}, or declare the "
                    "range of its index: <!-- symgrad: index j from 1 to m -->", piece, unsupported=True)
        if len(piece.sub.exprs) != 1:
            raise _fail(f"{piece.what} takes one index, as in {piece.what}_{{j=1}}", piece.sub)
        product = piece.sub.exprs[0].single_product()
        if product is None or len(product.entries) != 1 or not isinstance(product.entries[0][1], NamePiece):
            raise _fail(f"the index of {piece.what} must be a name, as in {piece.what}_{{j=1}}", piece.sub)
        name_piece = product.entries[0][1]
        assert isinstance(name_piece, NamePiece)
        if name_piece.sub is not None or name_piece.power is not None or name_piece.primes:
            raise _fail(f"the index of {piece.what} must be a plain name", piece.sub)
        assert piece.sub.rhs is not None
        lower = self.value(piece.sub.rhs)
        upper = piece.power
        index = index_symbol(name_piece.base)
        body = body.xreplace({real_symbol(name_piece.base): index})
        cls = sp.Sum if piece.kind == "sum" else sp.Product
        return cls(body, (index, lower, upper))

    def _declared_range(self, piece: OperatorPiece) -> tuple[sp.Symbol, sp.Expr, sp.Expr] | None:
        """``\\sum_i`` (no limits) over an index declared ``index i from 1 to n``."""
        if piece.power is not None or not isinstance(piece.sub, MathArg) or piece.sub.relation is not None:
            return None
        if len(piece.sub.exprs) != 1:
            return None
        product = piece.sub.exprs[0].single_product()
        if product is None or len(product.entries) != 1 or not isinstance(product.entries[0][1], NamePiece):
            return None
        name = product.entries[0][1]
        assert isinstance(name, NamePiece)
        if name.sub is not None or name.power is not None or name.primes:
            return None
        declared = self.table.range_of(name.base)
        if declared is None:
            return None
        return index_symbol(name.base), declared[0], declared[1]

    def _limit(self, piece: OperatorPiece, body: sp.Expr) -> sp.Expr:
        if not isinstance(piece.sub, MathArg) or piece.sub.relation != "TO" or piece.power is not None:
            raise _fail("write a limit as \\lim_{x \\to a}", piece)
        if len(piece.sub.exprs) != 1:
            raise _fail("a limit takes one variable, as in \\lim_{x \\to 0}", piece.sub)
        product = piece.sub.exprs[0].single_product()
        if product is None or len(product.entries) != 1:
            raise _fail("the variable of a limit must be a name", piece.sub)
        variable = self.variable(product.entries[0][1])
        assert piece.sub.rhs is not None
        target_node = piece.sub.rhs
        direction = "+-"
        target_product = target_node.single_product()
        if target_product is not None and len(target_product.entries) == 1:
            target_piece = target_product.entries[0][1]
            if target_piece.direction is not None:
                direction = target_piece.direction
                target_piece.direction = None
        target = self.value(target_node)
        if target in (sp.oo, -sp.oo):
            direction = "-" if target is sp.oo else "+"
        return sp.Limit(body, variable, target, direction)

    def _order(self, power: sp.Expr | None, at: Any) -> int:
        if power is None:
            return 1
        if not (power.is_Integer and 1 <= int(power) <= MAX_ORDER):
            raise _fail(f"the order of a derivative must be an integer from 1 to {MAX_ORDER}", at)
        return int(power)

    def derivative(self, body: sp.Expr, variables: Sequence[tuple[sp.Expr, int]], at: Any) -> sp.Expr:
        """``Derivative(body, *variables)``, refusing the derivative of a bare, undefined name."""
        names = [v for v, _ in variables]
        frozen = freeze(body)
        if isinstance(frozen, sp.Symbol) and self.table.definition_of(frozen) is not None:
            return sp.Derivative(frozen, *variables)  # let h_\theta = ...: differentiate the definition
        if isinstance(body, (sp.Symbol, subscripted)) and body not in names:
            if isinstance(body, subscripted) and any(
                    isinstance(v, subscripted) and v.base_name == body.base_name for v in names):
                return diff_members(body, variables)  # d x_i / d x_j: a Kronecker delta
            return self.opaque_derivative(body, variables, at)
        for variable in names:
            if isinstance(variable, subscripted) and self.table.family(variable.base_name, len(variable.indices)):
                raise _fail(f"the derivative by {_name_text(variable)}, which is defined as an expression: "
                            "symgrad cannot hold it fixed inside other definitions", at, unsupported=True)
        meaning = self._substituted(body, at)
        taken: set[sp.Symbol] = set()
        for variable in names:  # d/dw_jk of a sum over k: the sum's k is another k
            family = member_family(meaning, variable)
            taken |= {s for s in variable.free_symbols if isinstance(s, sp.Symbol) and s.is_integer}
            if family is not None:
                taken |= {s for i in family[1] for s in i.free_symbols if isinstance(s, sp.Symbol)}
        meaning, body = rename_bound(meaning, taken), rename_bound(body, taken)
        for variable in names:
            family = member_family(meaning, variable)
            if family is not None and any(s.base_name == family[0] and s != variable
                                          for s in meaning.atoms(subscripted)):
                # d/dx_i of a sum over x_j: evaluate now, with Kronecker deltas (SymPy would say 0)
                return diff_members(meaning, variables)
        return sp.Derivative(body, *variables)

    def opaque_derivative(self, body: sp.Expr, variables: Sequence[tuple[sp.Expr, int]], at: Any) -> sp.Expr:
        """``\\partial L / \\partial z_i`` of a name the note never defines: an opaque quantity.

        It is the symbol ``∂L/∂z_i`` (a family ``∂L/∂z`` indexed by ``i``, so that
        under a sum ``∂L/∂z_j`` depends on ``j``), the same wherever it is written.
        """
        def parts(expr: sp.Expr) -> tuple[str, tuple[sp.Expr, ...]]:
            if isinstance(expr, subscripted):
                return expr.base_name, expr.indices
            return str(expr), ()

        top, indices = parts(body)
        order = sum(n for _, n in variables)
        bottom = ""
        for variable, n in variables:
            name, more = parts(variable)
            bottom += f"∂{name}" + (f"^{n}" if n > 1 else "")
            indices += more
        base = f"∂{order if order > 1 else ''}{top}/{bottom}"
        if not indices:
            return real_symbol(base)
        family = self.table.family(base, len(indices))
        if family is not None:
            return family.instantiate(indices)
        return subscripted(Str(base), *indices)

    def leibniz(self, numerator: SumNode, denominator: SumNode, at: Any) -> Piece | None:
        """``\\frac{\\partial^n f}{\\partial x \\partial y}`` or ``\\frac{d}{dx}``: a derivative, else None."""
        num = numerator.single_product()
        den = denominator.single_product()
        if num is None or den is None or not num.entries or not den.entries:
            return None
        head = num.entries[0][1]
        if isinstance(head, PartialPiece) and head.sub is None:
            marker = "partial"
        elif _is_d(head):
            marker = "d"
        else:
            return None
        head.check_plain()
        order = self._order(head.power, head)
        variables = self._denominator(den.entries, marker)
        if variables is None:
            if marker == "d":
                return None  # d/(something else): an ordinary fraction with a variable named d
            raise _fail("the denominator of a partial derivative must read \\partial x \\partial y ...",
                        den.entries[0][1])
        if marker == "d" and len(variables) != 1:
            return None
        if order == 1 and len(variables) == 1 and variables[0][1] > 1 and isinstance(variables[0][0], sp.Symbol):
            variable, power = variables[0]  # \\partial \\sigma^2: the variable is sigma^2 (the variance)
            variables = [(real_symbol(f"{variable.name}^{power}"), 1)]
        if sum(n for _, n in variables) != order:
            raise _fail(f"the orders do not match: {order} on top, {sum(n for _, n in variables)} below", at)
        rest = num.entries[1:]
        if rest and rest[0][0] != "impl":
            raise _fail("write \\frac{\\partial f}{\\partial x} with f right after \\partial", at)
        merged: dict[sp.Expr, int] = {}
        for v, n in variables:
            merged[v] = merged.get(v, 0) + n
        pairs = tuple(merged.items())
        if not rest:
            op_piece = OperatorPiece(head.line, head.column, kind="deriv", variables=pairs)
            return op_piece
        body = self.resolve(Product([("", rest[0][1])] + list(rest[1:])))
        return Value(head.line, head.column, expr=self.derivative(body, pairs, at), what_text="a derivative")

    def _denominator(self, entries: Sequence[tuple[str, Piece]], marker: str
                     ) -> list[tuple[sp.Expr, int]] | None:
        """``\\partial x \\partial y^2`` (or ``dx``): the variables with their orders; None if it reads otherwise."""
        variables: list[tuple[sp.Expr, int]] = []
        for k in range(0, len(entries), 2):
            op, mark = entries[k]
            is_mark = isinstance(mark, PartialPiece) if marker == "partial" else _is_d(mark)
            if (not is_mark or mark.power is not None or mark.sub is not None or (k and op != "impl")
                    or k + 1 >= len(entries) or entries[k + 1][0] != "impl"):
                return None
            piece = entries[k + 1][1]
            variables.append((self.variable(piece), self._order(piece.power, piece)))
        return variables


def _name_text(expr: sp.Expr) -> str:
    """A name as the user wrote it: ``x_i`` for a family member, the symbol's name otherwise."""
    if isinstance(expr, subscripted):
        return subscript_name(expr.base_name, expr.indices)
    return str(expr)


def _is_d(piece: Piece) -> bool:
    return (isinstance(piece, NamePiece) and piece.base == "d" and piece.kind in ("letter", "roman")
            and piece.sub is None and not piece.primes)


# ---------------------------------------------------------------------------
# The lark transformer: tree nodes to pieces, sums and chain items
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One top-level item of a display: an expression, a relation, ``&`` or a row break."""

    kind: str  # expr, rel, amp, row
    token: Any
    node: SumNode | None = None


@v_args(inline=True)
class TreeToPieces(Transformer):  # type: ignore[type-arg]
    """Bottom-up: tokens to pieces, factors with their postfixes, products, sums."""

    def __init__(self, builder: Builder) -> None:
        super().__init__()
        self.b = builder

    # -- top level --------------------------------------------------------
    def start(self, *children: Any) -> list[Item]:
        items = []
        for child in children:
            if isinstance(child, SumNode):
                items.append(Item("expr", child, child))
            elif isinstance(child, Token) and child.type == "AMP":
                items.append(Item("amp", child))
            elif isinstance(child, Token) and child.type == "ROWSEP":
                items.append(Item("row", child))
            else:
                items.append(Item("rel", child))
        return items

    def rel(self, token: Token) -> Token:
        return token

    # -- sums, products, factors --------------------------------------------
    def sum(self, *children: Any) -> SumNode:
        terms: list[tuple[int, Product]] = []
        sign = 1
        leading = isinstance(children[0], Token)
        first = children[0]
        for child in children:
            if isinstance(child, Token):
                sign = -1 if str(child.value) in ("-", "−") else 1
            else:
                terms.append((sign, child))
                sign = 1
        return SumNode(terms, leading, getattr(first, "line", None), getattr(first, "column", None))

    def product(self, *children: Any) -> Product:
        entries: list[tuple[str, Piece]] = []
        op = ""
        for child in children:
            if isinstance(child, Token):
                op = str(child.value)
            else:
                entries.append((op if entries else "", child))
                op = "impl"
        return Product(entries)

    def factor(self, piece: Piece, *posts: Any) -> Piece:
        if not any(isinstance(t, Token) and t.type == "SUB" for t in posts):
            piece = self.b.explicit_vector(piece)  # \mathbf{x}_2 stays a name: an entry
        k = 0
        while k < len(posts):
            token = posts[k]
            if token.type == "TRANSPOSE" or (token.type == "SUP" and _is_letter_t(posts[k + 1])
                                             and isinstance(piece, Value)
                                             and (_is_matrix(piece.expr)
                                                  or (piece.is_bracket and not self.b.table.is_plain("T")))):
                if not (isinstance(piece, Value) and _is_matrix(piece.expr)) or piece.power is not None:
                    raise _fail("not checked: matrix calculus (a transpose of a name or an expression); "
                                "write the matrix out, or the entries with an index", token, unsupported=True)
                piece.expr = piece.expr.T
                k += 1 if token.type == "TRANSPOSE" else 2
                continue
            if token.type == "PRIME":
                if isinstance(piece, (Value, OperatorPiece)):
                    raise _fail(f"a prime on {piece.what}", token)
                piece.add_prime(token)
                k += 1
                continue
            arg = posts[k + 1]
            if token.type == "SUP":
                if isinstance(piece, OperatorPiece) and piece.kind in ("sum", "prod"):
                    if piece.power is not None:
                        raise _fail("double superscript", token)
                    piece.power = self.b.value(arg.single(f"the upper limit of {piece.what}")) \
                        if isinstance(arg, MathArg) else self._bad_arg(arg)
                else:
                    piece.add_sup(arg, self.b, token)
            else:
                if isinstance(piece, Value) and not (piece.is_bracket and piece.sub is None):
                    raise _fail(f"a subscript on {piece.what} (subscripts belong to names, like x_i)", token)
                piece.add_sub(arg, self.b, token)  # on a bracket: a component, f(z)_i
            k += 2
        return piece

    def _bad_arg(self, arg: Arg) -> sp.Expr:
        raise _fail("expected an expression here", arg)

    # -- primaries --------------------------------------------------------
    def number(self, token: Token) -> Value:
        text = str(token.value)
        if len(text) > MAX_DIGITS:
            raise _fail(f"a number with more than {MAX_DIGITS} digits", token)
        fraction = Fraction(text)
        return Value(token.line, token.column, expr=sp.Rational(fraction.numerator, fraction.denominator))

    def letter(self, token: Token) -> NamePiece:
        kind = "vector" if getattr(token, "vector", False) else "letter"
        return NamePiece(token.line, token.column, base=str(token.value), kind=kind)

    def greek(self, token: Token) -> NamePiece:
        kind = "vector" if getattr(token, "vector", False) else "greek"
        return NamePiece(token.line, token.column, base=str(token.value), kind=kind)

    def roman_name(self, token: Token) -> Piece:
        name = str(token.value)
        if name.lower() in _FUNCTIONS and name.lower() not in ("max", "min"):
            func, arity = _FUNCTIONS[name.lower()]
            return FunctionPiece(token.line, token.column, name=f"\\mathrm{{{name}}}", func=func, arity=arity)
        if len(name) > 1 and name.lower() in _OPERATOR_NAMES and not self.b.table.is_plain(name):
            func, arity = _OPERATOR_NAMES[name.lower()]
            return FunctionPiece(token.line, token.column, name=f"\\mathrm{{{name}}}", func=func, arity=arity)
        return NamePiece(token.line, token.column, base=name, kind="roman")

    def calligraphic(self, token: Token) -> NamePiece:
        return NamePiece(token.line, token.column, base=str(token.value), kind="cal")

    def infinity(self, token: Token) -> Value:
        return Value(token.line, token.column, expr=sp.oo, what_text="\\infty")

    def operator_name(self, token: Token) -> FunctionPiece:
        name = str(token.value)
        known = _OPERATOR_NAMES.get(name.lower())
        if known is not None:
            func, arity = known
            return FunctionPiece(token.line, token.column, name=f"\\operatorname{{{name}}}", func=func, arity=arity)
        return FunctionPiece(token.line, token.column, name=f"\\operatorname{{{name}}}",
                             func=sp.Function(name, real=True), arity=0)

    def function_macro(self, token: Token) -> FunctionPiece:
        name = str(token.value)
        func, arity = _FUNCTIONS[name]
        return FunctionPiece(token.line, token.column, name=f"\\{name}", func=func, arity=arity)

    def expectation(self, token: Token) -> FunctionPiece:
        return FunctionPiece(token.line, token.column, name="\\mathbb{E}", func=_EXPECTATION, arity=1)

    def partial(self, token: Token) -> PartialPiece:
        return PartialPiece(token.line, token.column)

    def big_operator(self, token: Token) -> OperatorPiece:
        return OperatorPiece(token.line, token.column, kind=str(token.value))

    def limit(self, token: Token) -> OperatorPiece:
        return OperatorPiece(token.line, token.column, kind="lim")

    def accent(self, token: Token, arg: Arg) -> NamePiece:
        inner = self._name_in(arg, f"\\{token.value}", token)
        if inner.power is not None or inner.primes:
            raise _fail(f"write the power outside the accent: \\{token.value}{{x}}^2", arg)
        piece = NamePiece(token.line, token.column, base=inner.base + str(token.value), kind="accented")
        if inner.sub is not None:
            piece.sub = inner.sub
        return piece

    def _name_in(self, arg: Arg, what: str, at: Token) -> NamePiece:
        if isinstance(arg, MathArg) and arg.relation is None and len(arg.exprs) == 1:
            product = arg.exprs[0].single_product()
            if product is not None and len(product.entries) == 1 and isinstance(product.entries[0][1], NamePiece):
                return product.entries[0][1]
        raise _fail(f"{what} takes one name, as in {what}{{x}}", at)

    def fraction(self, token: Token, top: Arg, bottom: Arg) -> Piece:
        if not isinstance(top, MathArg) or not isinstance(bottom, MathArg):
            raise _fail("\\frac takes two expressions", token)
        numerator = top.single("the numerator")
        denominator = bottom.single("the denominator")
        derivative = self.b.leibniz(numerator, denominator, token)
        if derivative is not None:
            return derivative
        value = sp.Mul(self.b.value(numerator), sp.Pow(self.b.value(denominator), -1))
        return Value(token.line, token.column, expr=value, what_text="a fraction")

    def root(self, token: Token, *children: Any) -> Value:
        arg = children[-1]
        if not isinstance(arg, MathArg):
            raise _fail("\\sqrt takes an expression", token)
        radicand = self.b.value(arg.single("the argument of \\sqrt"))
        if len(children) > 1:
            degree = self.b.value(children[1])
            if degree == 0:
                raise _fail("a root of degree 0", token)
            return Value(token.line, token.column, expr=safe_power(radicand, sp.Pow(degree, -1), token),
                         what_text="a root")
        return Value(token.line, token.column, expr=sp.sqrt(radicand), what_text="a root")

    def matrix(self, token: Token) -> Value:
        """An explicit matrix: every cell is an expression (rows of equal length)."""
        cells: list[list[list[Token]]] = getattr(token, "cells", [])
        rows: list[list[sp.Expr]] = []
        for row in cells:
            values: list[sp.Expr] = []
            for cell in row:
                if not cell:
                    raise _fail("an empty cell in a matrix", token)
                values.append(self._cell(cell))
            rows.append(values)
        if not rows or len({len(r) for r in rows}) != 1:
            raise _fail("the rows of a matrix must have the same number of entries", token)
        return Value(token.line, token.column, expr=sp.ImmutableMatrix(rows), what_text="a matrix")

    def _cell(self, tokens: list[Token]) -> sp.Expr:
        from lark.exceptions import UnexpectedInput

        from .grammar import grammar

        parser = grammar().parse_interactive(start="start")
        try:
            for t in tokens:
                parser.feed_token(t)
            tree = parser.feed_eof(tokens[-1])
        except UnexpectedInput:
            raise _fail("cannot read this entry of the matrix", tokens[0]) from None
        items = TreeToPieces(self.b).transform(tree)
        if len(items) != 1 or items[0].node is None:
            raise _fail("an entry of a matrix must be one expression", tokens[0])
        return self.b.value(items[0].node)

    def brackets(self, opener: Token, values: list[SumNode], closer: Token) -> Value:
        args: list[sp.Expr] = []
        vectors = False
        for node in values:
            product = node.single_product()
            piece = product.entries[0][1] if product is not None and len(product.entries) == 1 else None
            if (isinstance(piece, NamePiece) and piece.kind == "vector" and piece.sub is None
                    and piece.power is None and not piece.primes):
                args.append(real_symbol(piece.base))  # (\mathbf{z}): only its components f(z)_i are read
                vectors = True
            else:
                args.append(self.b.value(node))
        value = Value(opener.line, opener.column, args=tuple(args), what_text="a bracket")
        value.vectors = vectors
        return value

    def group(self, opener: Token, node: SumNode, closer: Token) -> Value:
        return Value(opener.line, opener.column, expr=self.b.value(node), what_text="a group")

    def absolute(self, opener: Token, node: SumNode, closer: Token) -> Value:
        return Value(opener.line, opener.column, expr=sp.Abs(self.b.value(node)), what_text="an absolute value")

    def exprlist(self, *children: Any) -> list[SumNode]:
        return [c for c in children if isinstance(c, SumNode)]

    # -- arguments ----------------------------------------------------------
    def braced_arg(self, opener: Token, body: Arg, closer: Token) -> Arg:
        if body.line is None:
            body.line, body.column = opener.line, opener.column
        return body

    def token_arg(self, token: Token) -> Arg:
        if token.type == "PLUSMINUS":
            return SignArg("-" if str(token.value) in ("-", "−") else "+", token.line, token.column)
        piece = {"NUMBER": self.number, "LETTER": self.letter, "GREEK": self.greek,
                 "INFTY": self.infinity, "PARTIAL": self.partial}[token.type](token)
        return MathArg([SumNode.of_piece(piece)], line=token.line, column=token.column)

    def math_arg(self, exprs: list[SumNode], relation: Token | None = None, rhs: SumNode | None = None) -> MathArg:
        first = exprs[0]
        rel = None if relation is None else ("=" if relation.type == "EQ" else "TO")
        return MathArg(exprs, rel, rhs, first.line, first.column)

    def text_arg(self, token: Token) -> TextArg:
        value = str(token.value)
        inner = value[value.index("{") + 1:-1]
        return TextArg(" ".join(inner.split()), token.line, token.column)
