"""The chain rule as checked statements: one variable, and the Jacobian form.

``chain_rule_instance(outer, inner, x)`` proves, for a concrete composition,
that differentiating ``outer(inner(x))`` equals ``outer'(inner(x)) * inner'(x)``.
``jacobian_chain(f, g, x, y)`` proves ``J(f∘g)(x) = Jf(g(x)) · Jg(x)`` for
vector functions given as column matrices, with the shapes stated:
``(m×n) = (m×k)·(k×n)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import sympy as sp

from ..core.errors import InputError
from ..core.expressions import as_expr
from ..proofs.proof import Proof, calc

__all__ = ["ChainInstance", "chain_rule_instance", "jacobian_chain"]


@dataclass(frozen=True)
class ChainInstance:
    """A composition ``outer(inner(x))`` and the chain-rule proof of its derivative."""

    name: str
    outer: sp.Lambda
    inner: sp.Expr
    variable: sp.Symbol
    proof: Proof

    @property
    def composed(self) -> sp.Expr:
        return self.outer(self.inner)

    @property
    def derivative(self) -> sp.Expr:
        """``outer'(inner(x)) * inner'(x)``, the chain rule's answer."""
        return self.proof.end


def chain_rule_instance(outer: sp.Lambda | Callable[[sp.Expr], sp.Expr], inner: sp.Expr, x: sp.Symbol,
                        name: str = "") -> ChainInstance:
    """Prove ``d/dx outer(inner(x)) = outer'(u)|_{u=inner(x)} · inner'(x)``.

    Law (chain rule): :math:`(f\\circ g)'(x) = f'(g(x))\\,g'(x)`. The outer
    derivative is taken with respect to a fresh variable ``u`` and then
    evaluated at ``u = inner(x)``, so each factor is computed on its own.
    """
    if not isinstance(x, sp.Symbol):
        raise InputError(f"chain_rule_instance: the variable must be a SymPy Symbol, got {x!r}")
    inner = as_expr(inner, "chain_rule_instance: inner")
    if not (isinstance(outer, sp.Lambda) or callable(outer)):
        raise InputError(f"chain_rule_instance: outer must be a sympy.Lambda or a function, got {type(outer).__name__}")
    u = sp.Dummy("u", real=True)
    if not isinstance(outer, sp.Lambda):
        body = outer(u)
        if not isinstance(body, sp.Basic):
            raise InputError("chain_rule_instance: outer must map a SymPy expression to a SymPy expression")
        outer = sp.Lambda(u, body)
    if outer.nargs != sp.FiniteSet(1):
        raise InputError("chain_rule_instance: outer must be a function of one variable")
    outer_derivative = sp.diff(outer(u), u)
    inner_derivative = sp.diff(inner, x)
    answer = sp.Mul(outer_derivative.subs(u, inner), inner_derivative, evaluate=False)
    proof = (calc(sp.Derivative(outer(inner), x), title=name or None)
             .eq(answer, by=f"chain rule with u = {sp.sstr(inner)}"))
    return ChainInstance(name or sp.sstr(outer(inner)), outer, inner, x, proof)


def _column(value: Any, what: str) -> sp.ImmutableMatrix:
    if isinstance(value, (list, tuple)):
        value = sp.ImmutableMatrix([as_expr(v, f"jacobian_chain: {what}[{i}]") for i, v in enumerate(value)])
    if isinstance(value, sp.MatrixBase):
        matrix = sp.ImmutableMatrix(value)
        if matrix.shape[1] != 1:
            matrix = matrix.T if matrix.shape[0] == 1 else matrix
        if matrix.shape[1] != 1:
            raise InputError(f"jacobian_chain: {what} must be a column of expressions, got shape {matrix.shape}")
        return matrix
    if isinstance(value, sp.Expr):
        return sp.ImmutableMatrix([value])
    as_expr(value, f"jacobian_chain: {what}")  # a string or another non-expression: a clear error
    raise InputError(f"jacobian_chain: {what} must be a SymPy expression, a list or a Matrix, got {type(value).__name__}")


def jacobian_chain(f: Any, g: Any, x: Sequence[sp.Symbol], y: Sequence[sp.Symbol]) -> Proof:
    """Prove ``J(f∘g)(x) = Jf(g(x)) · Jg(x)``.

    ``f`` is a column of m expressions in the k variables ``y``; ``g`` is a
    column of k expressions in the n variables ``x``. Shapes: ``J(f∘g)`` is
    m×n, ``Jf`` is m×k, ``Jg`` is k×n.
    """
    f_col, g_col = _column(f, "f"), _column(g, "g")
    x, y = list(x), list(y)
    if not all(isinstance(v, sp.Symbol) for v in (*x, *y)):
        raise InputError("jacobian_chain: x and y must be sequences of SymPy Symbols")
    if g_col.shape[0] != len(y):
        raise InputError(f"jacobian_chain: g has {g_col.shape[0]} components but f takes {len(y)} variables y")
    m, k, n = f_col.shape[0], len(y), len(x)
    composed = f_col.xreplace(dict(zip(y, g_col)))
    at_g = dict(zip(y, g_col))
    outer = sp.ImmutableMatrix(f_col.jacobian(y)).xreplace(at_g)
    inner = sp.ImmutableMatrix(g_col.jacobian(x))
    pending = sp.ImmutableMatrix(m, n, lambda i, j: sp.Derivative(composed[i], x[j]))
    return (calc(pending, title=f"Jacobian chain rule, ({m}x{n}) = ({m}x{k}) * ({k}x{n})")
            .eq(sp.MatMul(outer, inner, evaluate=False),
                by=f"J(f o g)(x) = Jf(g(x)) Jg(x): ({m}x{n}) = ({m}x{k})({k}x{n})"))
