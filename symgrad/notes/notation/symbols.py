"""Names in notes: real symbols, subscripted families, and the symbol table.

- A name is a real SymPy symbol: ``x`` is ``Symbol("x", real=True)``; accents
  and calligraphic letters become SymPy's name modifiers, so ``\\hat{x}`` is the
  symbol ``xhat`` and prints as ``\\hat{x}`` again.
- A subscript is part of the name: ``x_i`` and ``x_{i}`` are the real symbol
  ``x_i``; ``\\hat{x}_i`` is ``xhat_i`` (printed ``\\hat{x}_{i}``).
- Inside ``\\sum_{j=1}^{m}`` the name ``x_j`` depends on the summation index. It
  is held as :class:`subscripted` ``(x, j)``, which turns into the symbol
  ``x_2`` as soon as ``j`` is an integer, so ``Sum(...).doit()`` produces the
  same symbols that ``x_1 + x_2 + x_3`` written out would. :func:`freeze` turns
  every family member whose index is not bound by a sum into its symbol.
- :class:`SymbolTable` holds what a document declares: functions, names that
  stay plain symbols, and ``let`` definitions (also of whole families, like
  ``let \\hat{x}_j = ...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

import sympy as sp
from sympy.core.symbol import Str

__all__ = ["subscripted", "subscript_name", "index_symbol", "real_symbol", "freeze", "diff_members", "member_family",
           "rename_bound", "Definition", "SymbolTable"]


def real_symbol(name: str) -> sp.Symbol:
    """The real symbol every name in notes stands for."""
    return sp.Symbol(name, real=True)


def index_symbol(name: str) -> sp.Symbol:
    """The integer symbol an index (a subscript letter, a summation variable) stands for."""
    return sp.Symbol(name, integer=True)


def _index_text(index: sp.Expr) -> str:
    if isinstance(index, sp.Symbol):
        return index.name
    return "".join(sp.sstr(index).split())


def subscript_name(base: str, indices: Sequence[sp.Expr]) -> str:
    """The symbol name of ``base`` with ``indices``: ``x_i``, ``w_ij``, ``x_12``, ``x_1,2``.

    Single-letter indices are run together (``w_{ij}`` and ``w_{i,j}`` are the
    same name, ``w_ij``); other lists are joined with commas, so ``x_{12}``
    (twelve) and ``x_{1,2}`` stay different names.
    """
    texts = [_index_text(i) for i in indices]
    if all(len(t) == 1 and t.isalpha() for t in texts):
        return f"{base}_{''.join(texts)}"
    return f"{base}_{','.join(texts)}"


def _member_indices(name: str, base: str, count: int) -> tuple[sp.Expr, ...] | None:
    """The indices of the symbol ``name`` if it is a member ``base_{...}`` of a family with ``count`` indices."""
    if not name.startswith(base + "_"):
        return None
    rest = name[len(base) + 1:]
    parts = rest.split(",") if "," in rest else ([rest] if count == 1 else list(rest))
    if len(parts) != count:
        return None
    out: list[sp.Expr] = []
    for part in parts:
        if part.isdigit():
            out.append(sp.Integer(int(part)))
        elif len(part) == 1 and part.isalpha():
            out.append(index_symbol(part))
        else:
            return None
    return tuple(out)


class subscripted(sp.Function):  # noqa: N801 - SymPy functions are lower-case
    """The member ``base_{indices}`` of a family of real symbols.

    Law: with integer indices it *is* the real symbol named
    :func:`subscript_name` ``(base, indices)``; with a symbolic index (a
    summation variable) it stays unevaluated until the index is known.
    """

    _diff_wrt = True

    @classmethod
    def eval(cls, base: sp.Basic, *indices: sp.Expr) -> sp.Expr | None:
        if not isinstance(base, Str):
            raise TypeError("subscripted(base, ...) takes the base name as sympy.core.symbol.Str")
        if indices and all(i.is_Integer for i in indices):
            return real_symbol(subscript_name(base.name, indices))
        return None

    @property
    def base_name(self) -> str:
        return self.args[0].name  # type: ignore[attr-defined,no-any-return]

    @property
    def indices(self) -> tuple[sp.Expr, ...]:
        return self.args[1:]  # type: ignore[return-value]

    @property
    def free_symbols(self) -> set[sp.Basic]:  # type: ignore[override]
        """The index's symbols and a marker for the family (``x[]``).

        A sum over a family with symbolic limits depends on the unknown members;
        the marker says so, so that SymPy never mistakes ``Sum(x[i], (i, 1, 2))``
        for a number it could evaluate.
        """
        marker = sp.Symbol(f"{self.base_name}[]", real=True)
        return {marker}.union(*(i.free_symbols for i in self.indices))

    def _eval_is_extended_real(self) -> bool:
        return True

    def _eval_derivative(self, s: sp.Basic) -> sp.Expr:
        """``d x_k / d x_j`` is the Kronecker delta of the indices; by any other name, 0."""
        if isinstance(s, subscripted):
            if s.base_name != self.base_name or len(s.indices) != len(self.indices):
                return sp.S.Zero
            return sp.Mul(*(sp.KroneckerDelta(a, b) for a, b in zip(self.indices, s.indices)))
        if isinstance(s, sp.Symbol):
            indices = _member_indices(s.name, self.base_name, len(self.indices))
            if indices is not None:
                return sp.Mul(*(sp.KroneckerDelta(a, b) for a, b in zip(self.indices, indices)))
        return sp.S.Zero

    def _eval_is_finite(self) -> bool:
        return True

    def _eval_evalf(self, prec: int) -> None:
        return None  # a family member with an unknown index has no value

    def _sympystr(self, printer: Any) -> str:
        return f"{self.base_name}[{', '.join(printer._print(i) for i in self.indices)}]"

    def _latex(self, printer: Any, exp: Any = None) -> str:
        base = printer._print(real_symbol(self.base_name))
        text = f"{base}_{{{','.join(printer._print(i) for i in self.indices)}}}"
        return f"{text}^{{{exp}}}" if exp is not None else text


def member_family(expr: sp.Basic, variable: sp.Basic) -> tuple[str, tuple[sp.Expr, ...]] | None:
    """``(base, indices)`` when ``variable`` is a member ``x_j`` of a family ``x`` that ``expr`` holds under a sum."""
    if isinstance(variable, subscripted):
        return variable.base_name, variable.indices
    if not isinstance(variable, sp.Symbol):
        return None
    for atom in expr.atoms(subscripted):
        indices = _member_indices(variable.name, atom.base_name, len(atom.indices))
        if indices is not None:
            return atom.base_name, indices
    return None


def rename_bound(expr: sp.Expr, taken: set[sp.Symbol] | frozenset[sp.Symbol]) -> sp.Expr:
    """``expr`` with every sum or product index in ``taken`` renamed (``k`` to ``k'``): the same value.

    ``\\partial / \\partial w_{jk}`` of ``\\sum_k w_{jk} a_k``: the free ``k`` of the variable is not the
    bound ``k`` of the sum; renamed, they cannot be confused (a bound variable's name is immaterial).
    """
    if not taken or not expr.has(sp.Sum, sp.Product):
        return expr

    def clashes(e: sp.Basic) -> bool:
        return isinstance(e, (sp.Sum, sp.Product)) and any(lim[0] in taken for lim in e.limits)

    def renamed(e: sp.Basic) -> sp.Basic:
        used = {str(s) for s in e.atoms(sp.Symbol)} | {str(s) for s in taken}
        mapping: dict[sp.Basic, sp.Basic] = {}
        for lim in e.limits:
            if lim[0] in taken:
                name = lim[0].name + "'"
                while name in used:
                    name += "'"
                used.add(name)
                mapping[lim[0]] = index_symbol(name)
        body = e.function.xreplace(mapping)
        limits = [(mapping.get(lim[0], lim[0]), *lim[1:]) for lim in e.limits]
        return type(e)(body, *limits)

    return expr.replace(clashes, renamed)


def diff_members(expr: sp.Expr, variables: Sequence[tuple[sp.Expr, int]]) -> sp.Expr:
    """``d expr / d x_j`` where ``expr`` holds other members ``x_k`` of the family: Kronecker deltas.

    Every member ``x_k`` is moved to ``x_k + δ_kj t``; the derivative in ``t`` at 0
    is the derivative in ``x_j``, also for members under a sum (``k`` bound).
    """
    for variable, count in variables:
        family = member_family(expr, variable)
        taken = {s for s in variable.free_symbols if isinstance(s, sp.Symbol) and s.is_integer}
        if family is not None:
            taken |= {s for i in family[1] for s in i.free_symbols}
        expr = rename_bound(expr, taken)
        if family is None:
            expr = sp.diff(expr, (variable, count))
            continue
        base, indices = family
        t = sp.Dummy("t", real=True)

        def shifted(member: sp.Expr, own: Sequence[sp.Expr]) -> sp.Expr:
            return member + sp.Mul(*(sp.KroneckerDelta(a, b) for a, b in zip(own, indices))) * t

        def is_member(e: sp.Basic) -> bool:
            if isinstance(e, subscripted):
                return e.base_name == base and len(e.indices) == len(indices)
            return isinstance(e, sp.Symbol) and _member_indices(e.name, base, len(indices)) is not None

        def shift(e: sp.Basic) -> sp.Expr:
            if isinstance(e, subscripted):
                return shifted(e, e.indices)
            own = _member_indices(e.name, base, len(indices))  # type: ignore[attr-defined]
            assert own is not None
            return shifted(e, own)

        moved = expr.replace(is_member, shift)
        expr = sp.diff(moved, t, count).subs(t, 0)
    return expr


def freeze(expr: sp.Basic, bound: frozenset[sp.Symbol] = frozenset()) -> sp.Basic:
    """Replace every family member whose index is not a bound summation variable by its symbol.

    ``subscripted(x, i)`` with a free ``i`` is just the name ``x_i``; inside
    ``Sum(..., (j, 1, m))`` the member ``subscripted(x, j)`` stays, so that
    evaluating the sum gives ``x_1 + ... + x_m``.
    """
    if isinstance(expr, subscripted):
        indices = [freeze(i, bound) for i in expr.indices]
        if not any(s in bound for i in indices for s in i.free_symbols):
            return real_symbol(subscript_name(expr.base_name, indices))
        return subscripted(expr.args[0], *indices)
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: freeze(e, bound))
    if not expr.args or isinstance(expr, Str):
        return expr
    if isinstance(expr, (sp.Sum, sp.Product)):
        inner = bound | {lim[0] for lim in expr.limits}
        body = freeze(expr.function, inner)
        limits = [(lim[0], *(freeze(a, bound) for a in lim[1:])) for lim in expr.limits]
        return type(expr)(body, *limits)
    args = [freeze(a, bound) for a in expr.args]
    if all(new is old for new, old in zip(args, expr.args)):
        return expr
    return expr.func(*args)


@dataclass(frozen=True)
class Definition:
    """``let target = body``: a name (``target``) or a family (``base`` with ``params``).

    ``body`` is kept as parsed (family members not yet frozen), so that it can
    be put under a summation sign.
    """

    source: str
    body: sp.Expr
    target: sp.Symbol | None = None
    base: str | None = None
    params: tuple[sp.Symbol, ...] = ()
    function: bool = False  #: ``f(x) = ...``: ``base`` applied to ``params``

    def instantiate(self, indices: Sequence[sp.Expr]) -> sp.Expr:
        """The body of a family definition at ``indices`` (summation variables in it stay bound)."""
        return self.body.subs(list(zip(self.params, indices)), simultaneous=True)

    def instantiate_function(self, *args: sp.Expr) -> sp.Expr:
        """The body of a function definition ``f(x) = ...`` at ``args``."""
        return self.body.xreplace(dict(zip(self.params, args)))


@dataclass(frozen=True)
class SymbolTable:
    """What a document declares about its names.

    - ``functions``: names applied to arguments, ``f(x)`` (otherwise ``f(x)``
      is ``f`` times ``x``); uninterpreted real functions.
    - ``plain``: names that stay symbols even where symgrad gives them a
      default meaning (``\\sigma(x)`` is the sigmoid unless ``sigma`` is plain).
    - ``definitions``: ``let`` substitutions, applied as the text is read.
    """

    functions: frozenset[str] = frozenset()
    plain: frozenset[str] = frozenset()
    definitions: tuple[Definition, ...] = ()
    ranges: tuple[tuple[str, sp.Expr, sp.Expr], ...] = ()  #: ``index i from 1 to n``: sums over i without limits
    _by_symbol: dict[sp.Symbol, Definition] = field(init=False, compare=False, repr=False)
    _by_family: dict[tuple[str, int], Definition] = field(init=False, compare=False, repr=False)
    _by_function: dict[str, Definition] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_symbol: dict[sp.Symbol, Definition] = {}
        by_family: dict[tuple[str, int], Definition] = {}
        by_function: dict[str, Definition] = {}
        for d in self.definitions:
            if d.target is not None:
                by_symbol[d.target] = d
            elif d.function and d.base is not None:
                by_function[d.base] = d
            elif d.base is not None:
                by_family[(d.base, len(d.params))] = d
        object.__setattr__(self, "_by_symbol", by_symbol)
        object.__setattr__(self, "_by_family", by_family)
        object.__setattr__(self, "_by_function", by_function)

    def with_range(self, names: Iterable[str], lower: sp.Expr, upper: sp.Expr) -> "SymbolTable":
        """Sums over these index names without written limits run from ``lower`` to ``upper``."""
        kept = tuple(r for r in self.ranges if r[0] not in set(names))
        return replace(self, ranges=kept + tuple((n, lower, upper) for n in names))

    def range_of(self, name: str) -> tuple[sp.Expr, sp.Expr] | None:
        for index, lower, upper in reversed(self.ranges):
            if index == name:
                return lower, upper
        return None

    def function_definition(self, name: str) -> Definition | None:
        return self._by_function.get(name)

    def with_functions(self, names: Iterable[str]) -> "SymbolTable":
        names = frozenset(names)
        return replace(self, functions=self.functions | names, plain=self.plain - names)

    def with_plain(self, names: Iterable[str]) -> "SymbolTable":
        names = frozenset(names)
        return replace(self, plain=self.plain | names, functions=self.functions - names)

    def with_definition(self, definition: Definition) -> "SymbolTable":
        return replace(self, definitions=self.definitions + (definition,))

    def merged(self, other: "SymbolTable") -> "SymbolTable":
        """This table with ``other``'s declarations added (``other`` wins)."""
        table = self.with_functions(other.functions).with_plain(other.plain)
        if other.ranges:
            table = replace(table, ranges=table.ranges + other.ranges)
        for d in other.definitions:
            table = table.with_definition(d)
        return table

    def is_function(self, name: str) -> bool:
        return name in self.functions or name in self._by_function

    def is_plain(self, name: str) -> bool:
        return name in self.plain

    def definition_of(self, symbol: sp.Symbol) -> Definition | None:
        return self._by_symbol.get(symbol)

    def family(self, base: str, arity: int) -> Definition | None:
        return self._by_family.get((base, arity))

    def substitute(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every ``let`` name replaced by its body, repeatedly, until none is left.

        So ``let s = \\sigma(x)`` followed by ``let x = 0`` makes ``s`` read
        ``\\sigma(0)``. Raises ValueError when definitions refer to each other in a cycle.
        """
        mapping = {d.target: d.body for d in self.definitions if d.target is not None}
        if not mapping:
            return expr
        for _ in range(len(mapping) + 1):
            new = expr.xreplace(mapping)
            if new == expr:
                return new
            expr = new
        raise ValueError("the let definitions refer to each other in a cycle")

    def where(self, exprs: Iterable[sp.Basic]) -> dict[sp.Symbol, sp.Expr]:
        """The definitions the names in ``exprs`` need (directly or through other definitions)."""
        needed: dict[sp.Symbol, sp.Expr] = {}
        frontier = set().union(*(e.free_symbols for e in exprs))
        while frontier:
            symbol = frontier.pop()
            definition = self._by_symbol.get(symbol) if isinstance(symbol, sp.Symbol) else None
            if definition is not None and symbol not in needed:
                body = freeze(definition.body)
                needed[symbol] = body  # type: ignore[assignment]
                frontier |= body.free_symbols
        return needed

    @property
    def empty(self) -> bool:
        return not (self.functions or self.plain or self.definitions or self.ranges)
