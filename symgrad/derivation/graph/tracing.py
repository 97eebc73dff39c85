"""Tracing: a SymPy expression walked into graph nodes, one primitive op each (no derivatives here)."""

from __future__ import annotations

import sympy as sp

from ...core.errors import InputError, UnsupportedError
from .nodes import Node
from .ops import FUNCTION_OPS, NAME, Param, number

__all__ = ["trace"]


def trace(expr: sp.Expr, binary: bool) -> list[Node]:
    """The nodes of ``expr`` in topological order, its output last (see :meth:`Graph.from_expr`)."""
    tracer = _Tracer(expr, binary)
    tracer.trace(expr)
    return tracer.nodes


class _Tracer:
    """Walks a SymPy expression into nodes; equal subexpressions share one node."""

    def __init__(self, expr: sp.Expr, binary: bool) -> None:
        self.binary = binary
        self.nodes: list[Node] = []
        self.by_expr: dict[sp.Expr, str] = {}
        self.counts: dict[str, int] = {}
        self.taken = {s.name for s in expr.free_symbols}

    def trace(self, expr: sp.Expr) -> str:
        if expr in self.by_expr:
            return self.by_expr[expr]
        op, param, children = self.decompose(expr)
        inputs = tuple(self.trace(child) for child in children)
        if op == "input":
            name = expr.name  # type: ignore[attr-defined]
            if not NAME.match(name):
                raise InputError(f"Graph.from_expr: the symbol {name!r} cannot name a node (a name is a letter "
                                 "followed by letters, digits or _); rename the symbol")
        else:
            name = self.fresh("c" if op == "const" else op)
        self.nodes.append(Node(name, op, inputs, param))
        self.by_expr[expr] = name
        return name

    def fresh(self, base: str) -> str:
        while True:
            self.counts[base] = self.counts.get(base, 0) + 1
            name = f"{base}{self.counts[base]}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def decompose(self, expr: sp.Expr) -> tuple[str, Param, tuple[sp.Expr, ...]]:
        """``(op, param, children)`` of one node for ``expr``."""
        if isinstance(expr, sp.Symbol):
            return "input", expr, ()
        if expr.is_number:
            return "const", number(expr, f"Graph.from_expr: the constant {expr}"), ()
        if isinstance(expr, sp.Add):
            terms = list(expr.as_ordered_terms())
            constant = sp.Add(*(t for t in terms if t.is_number))
            rest = [t for t in terms if not t.is_number]
            if constant != 0:
                return "shift", constant, (sp.Add(*rest),)
            if all(t.could_extract_minus_sign() for t in terms):
                return "neg", None, (-expr,)
            if self.binary and len(terms) > 2:
                return "add", None, (sp.Add(*terms[:-1]), terms[-1])
            return "add", None, tuple(terms)
        if isinstance(expr, sp.Mul):
            factors = list(expr.as_ordered_factors())
            coefficient = sp.Mul(*(f for f in factors if f.is_number))
            rest = [f for f in factors if not f.is_number]
            if coefficient == -1:
                return "neg", None, (sp.Mul(*rest),)
            if coefficient != 1:
                return "scale", coefficient, (sp.Mul(*rest),)
            if self.binary and len(rest) > 2:
                return "mul", None, (sp.Mul(*rest[:-1]), rest[-1])
            return "mul", None, tuple(rest)
        if isinstance(expr, sp.Pow):
            base, exponent = expr.args
            if exponent.is_number:
                if exponent == -1:
                    return "recip", None, (base,)
                return "pow", exponent, (base,)
            return "power", None, (base, exponent)
        if isinstance(expr, sp.Function) and type(expr) in FUNCTION_OPS and len(expr.args) == 1:
            return FUNCTION_OPS[type(expr)], None, (expr.args[0],)
        known = ", ".join(sorted({*(f.__name__ for f in FUNCTION_OPS)}))
        raise UnsupportedError(f"Graph.from_expr: cannot trace {expr} (a {type(expr).__name__}); supported: "
                               f"sums, products, powers and the functions {known}")
