r"""The reverse-mode adjoint engine: one law, one sweep, one shape of proof.

Write :math:`\bar v = \partial f/\partial v` for the *adjoint* of a node
:math:`v` of a computation, the derivative of the output :math:`f` with
respect to :math:`v`'s value while every node that does not depend on
:math:`v` is held fixed. The output's adjoint is its seed (``adjoint-seed``)
and every other node's is the **adjoint sum** (``adjoint-sum``)

.. math:: \bar v = \sum_{c \in \mathrm{consumers}(v)} \bar c \,
          \frac{\partial c}{\partial v},

one :class:`Term` per input slot of a consumer that reads :math:`v` (a node
read twice contributes twice). :func:`sweep` accumulates the adjoints from the
output back; :func:`adjoint_proof` states one adjoint as a chain that starts at
the true derivative (:func:`true_derivative`) and then states the sum, so the
kernel checks each equation on its own: a wrong local derivative is refuted,
never trusted. Nodes are any hashable keys (graph node names, SymPy symbols).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence, TypeVar

import sympy as sp

from ..proofs.proof import Proof, calc

__all__ = ["ADJOINT_SUM", "ADJOINT_SEED", "Term", "terms", "adjoint_sum", "sweep", "true_derivative",
           "adjoint_proof"]

#: The two laws every backward step cites (declared in symgrad.core.rules; the kernel checks the steps).
ADJOINT_SUM = "adjoint-sum"
ADJOINT_SEED = "adjoint-seed"

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Term:
    """One term of an adjoint: the ``consumer``'s adjoint (``upstream``) times the
    local derivative of the consumer with respect to its input ``slot``."""

    consumer: Any
    slot: int
    upstream: sp.Expr
    local: sp.Expr

    @property
    def contribution(self) -> sp.Expr:
        return self.upstream * self.local


def terms(readers: Iterable[tuple[K, int]], upstream: Callable[[K], sp.Expr],
          local: Callable[[K, int], sp.Expr]) -> tuple[Term, ...]:
    """The terms of the adjoint sum over ``readers`` (``(consumer, slot)`` pairs, in order):
    each consumer's ``upstream`` adjoint and its ``local`` derivative at that slot."""
    return tuple(Term(c, slot, upstream(c), local(c, slot)) for c, slot in readers)


def adjoint_sum(summands: Sequence[Term]) -> sp.Expr:
    r"""The right-hand side of the adjoint-sum law, :math:`\sum \bar c\,\partial c/\partial v`,
    unevaluated so that it prints term by term in consumer order."""
    products = [sp.Mul(t.upstream, t.local, evaluate=False) for t in summands]
    return products[0] if len(products) == 1 else sp.Add(*products, evaluate=False)


def sweep(order: Sequence[K], readers: Callable[[K], Iterable[tuple[K, int]]],
          local: Callable[[K, int], sp.Expr], seed: sp.Expr = sp.S.One,
          tidy: Callable[[sp.Expr], sp.Expr] = lambda e: e) -> dict[K, tuple[sp.Expr, tuple[Term, ...]]]:
    """Reverse mode: every node's adjoint and its terms, from the output (last of the topological
    ``order``, adjoint ``seed``) back; ``readers(v)`` are the ``(consumer, slot)`` pairs reading ``v``
    (consumers outside ``order`` are ignored). Each value is ``tidy`` of the sum of its terms."""
    live = set(order)
    out: dict[K, tuple[sp.Expr, tuple[Term, ...]]] = {order[-1]: (seed, ())}
    for node in reversed(order[:-1]):
        found = terms(((c, slot) for c, slot in readers(node) if c in live), lambda c: out[c][0], local)
        out[node] = (tidy(sp.Add(*(t.contribution for t in found))), found)
    return out


def true_derivative(function: sp.Expr, variable: sp.Symbol, at: sp.Expr) -> sp.Expr:
    """The true adjoint, where every chain starts: SymPy's unevaluated derivative of the output as a
    ``function`` of the node's value ``variable``, taken at the node's value ``at``."""
    derivative = sp.Derivative(function, variable)
    return derivative if at == variable else sp.Subs(derivative, variable, at)


def adjoint_proof(start: sp.Expr, summands: Sequence[Term], *, title: str, by: str,
                  where: Mapping[Any, sp.Expr] | None = None, assume: Sequence[Any] = ()) -> Proof:
    """``start`` (the true derivative) = the adjoint sum of ``summands`` [adjoint-sum], justified by
    ``by``; with no summands the node is the output and the step is its seed 1 [adjoint-seed]."""
    proof = calc(start, assume=assume, where=where, title=title)
    if not summands:
        return proof.eq(sp.S.One, by=by, rule=ADJOINT_SEED)
    return proof.eq(adjoint_sum(summands), by=by, rule=ADJOINT_SUM)
