"""Indexed families at sample points: a sum over ``x[j]`` is evaluated with a vector.

A claim about ``Sum(f(x[j]), (j, 1, m))`` speaks of every vector ``x_1, ..., x_m``. At a
sample point the sizes and free indices get values from the domain (``m = 5``, ``i = 2``);
the sums are then written out term by term (``f(x[1]) + ... + f(x[5])``) and every entry
(``x[1]``, ..., ``x[5]``) gets a value of its own, drawn per point. One entry has one value
wherever it appears: ``x[i]`` at ``i = 2`` *is* ``x[2]``, and ``KroneckerDelta(2, j)``
picks it out of the sum. The point shown for a counterexample lists the entries.

Law: a finite sum (product) is the sum (product) of its terms,
``sum_{j=a}^{b} f(j) = f(a) + ... + f(b)``; for ``b = a - 1`` it is empty (0, or 1 for a
product) and for ``b < a - 1`` SymPy's convention ``sum_{a}^{b} = -sum_{b+1}^{a-1}``
(``prod_{a}^{b} = 1/prod_{b+1}^{a-1}``) holds, as for sums evaluated by the kernel elsewhere.

Without this, an indexed entry inside a sum is one symbol with one value for every ``j``
(a constant vector, inconsistent with ``x[i]`` at ``j = i``): evidence for false claims
and counterexamples to true ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Sequence

import sympy as sp

from .domain import Domain

__all__ = ["MAX_TERMS", "Families", "scalar_symbols"]

#: Terms written out per point, over every sum and product (a point needing more is skipped).
MAX_TERMS = 120

#: Values drawn per family and seed (the domain's special values come first).
_COLUMN = 48


def scalar_symbols(expr: sp.Basic) -> set[sp.Basic]:
    """The free symbols of ``expr`` with each entry ``x[k]`` seen through its index only.

    Neither the entry (``x[i]``) nor the family's label (``x``) is a coordinate of the
    domain: an entry's value follows from its index, which is.
    """
    if not expr.has(sp.Indexed):
        return set(expr.free_symbols)
    entry = sp.Function("_entry")
    masked = expr.replace(lambda e: isinstance(e, sp.Indexed), lambda e: entry(*e.indices))
    return set(masked.free_symbols)


@dataclass
class Families:
    """Evaluation of expressions with indexed families at the points of a domain."""

    seed: int
    _columns: dict[sp.Basic, list[sp.Expr]] = field(default_factory=dict)

    @staticmethod
    def present(*exprs: sp.Basic) -> bool:
        """Whether any of ``exprs`` has an indexed entry (``x[j]``)."""
        return any(isinstance(e, sp.Basic) and e.has(sp.Indexed) for e in exprs)

    @staticmethod
    def complex_labels(*exprs: sp.Basic) -> list[sp.Basic]:
        """Families declared complex (``IndexedBase("z", complex=True)``): their entries are drawn as
        ``a + b i``. A family declared nothing (``IndexedBase("x")``) has real entries."""
        labels = {entry.base.label for e in exprs if isinstance(e, sp.Basic) for entry in e.atoms(sp.Indexed)}
        return sorted((label for label in labels if _declared_complex(label)), key=str)

    def at(self, exprs: Sequence[sp.Expr], point: dict[sp.Basic, sp.Expr], number: int
           ) -> tuple[list[sp.Expr], dict[sp.Basic, sp.Expr]] | None:
        """``exprs`` at ``point`` with their sums written out and every entry given a value.

        Returns the numbers' expressions and the whole point (``point`` and the entries), or
        None when a sum's limits are not integers there, more than :data:`MAX_TERMS` terms
        would be written out, or an entry's index is not a number.
        """
        rng = random.Random(f"{self.seed}:{number}")
        values: dict[sp.Basic, sp.Expr] = {}

        def value(entry: sp.Indexed) -> sp.Expr:
            """The entry's value at this point (drawn when first met; traversal order is fixed)."""
            if entry not in values:
                if not all(index.is_number for index in entry.indices):
                    raise _Unwritable
                column = self._column(entry)
                if number % 3 == 2:  # every third vector from the few simplest values (0/1 vectors, ...)
                    column = column[:3]
                values[entry] = rng.choice(column)
                if _declared_complex(entry.base.label):
                    values[entry] += sp.I * rng.choice(column)
            return values[entry]

        writer = _Writer(dict(point), value)
        try:
            written = [writer.write(e) for e in exprs]
        except _Unwritable:
            return None
        shown = {**point, **{k: values[k] for k in sorted(values, key=sp.default_sort_key)}}
        return written, shown

    def _column(self, entry: sp.Indexed) -> list[sp.Expr]:
        """Candidate values for an entry of ``entry``'s family, by the family's assumptions."""
        label = entry.base.label
        if label not in self._columns:
            assumptions = {k: v for k, v in getattr(label, "assumptions0", {}).items() if v is not None}
            assumptions.setdefault("real", True)
            stand_in = sp.Symbol("entry", **assumptions)
            points = Domain.build([stand_in]).sample(_COLUMN, self.seed)
            self._columns[label] = [p[stand_in] for p in points] or [sp.S.Zero]
        return self._columns[label]


def _declared_complex(label: sp.Basic) -> bool:
    return label.is_real is not True and bool(label.is_complex or label.is_imaginary)


class _Unwritable(Exception):
    """A sum cannot be written out at this point."""


class _Writer:
    """Writes sums and products out term by term, with the point's values for free symbols."""

    def __init__(self, env: dict[sp.Basic, sp.Expr], value: Callable[[sp.Indexed], sp.Expr]) -> None:
        self.env, self.value = env, value
        self.terms = 0
        self.memo: dict[tuple[sp.Basic, tuple[tuple[sp.Basic, sp.Expr], ...]], sp.Expr] = {}

    def write(self, e: sp.Basic, env: dict[sp.Basic, sp.Expr] | None = None) -> sp.Expr:
        env = self.env if env is None else env
        if e.is_Symbol:
            return env.get(e, e)
        if not e.args or e.is_Number:
            return e
        if isinstance(e, sp.Indexed):
            return self.value(sp.Indexed(e.base, *(self.write(index, env) for index in e.indices)))
        if isinstance(e, (sp.Sum, sp.Product)):
            return self._written_out(e, env)
        if isinstance(e, (sp.Integral, sp.Limit, sp.Subs, sp.Derivative, sp.Lambda)) or \
                (hasattr(e, "variables") and e.variables and env.keys() & set(e.variables)):
            raise _Unwritable  # a variable it binds: not written out here
        return e.func(*(self.write(a, env) for a in e.args))

    def _written_out(self, e: sp.Sum | sp.Product, env: dict[sp.Basic, sp.Expr]) -> sp.Expr:
        key = (e, tuple(sorted(((s, env[s]) for s in e.free_symbols if s in env), key=lambda kv: str(kv[0]))))
        if key in self.memo:
            return self.memo[key]
        is_sum = isinstance(e, sp.Sum)
        # Sum(f, (j, a, b), (k, c, d)) is the sum over k of the sum over j: the first limit is innermost.
        inner = type(e)(e.function, *e.limits[:-1]) if len(e.limits) > 1 else e.function
        k, low, high = e.limits[-1]
        low, high = self.write(low, env), self.write(high, env)
        if not (low.is_Integer and high.is_Integer):
            raise _Unwritable
        a, b = int(low), int(high)
        reversed_limits = b < a - 1
        if reversed_limits:
            a, b = b + 1, a - 1
        self.terms += b - a + 1
        if self.terms > MAX_TERMS:
            raise _Unwritable
        terms = [self.write(inner, {**env, k: sp.Integer(n)}) for n in range(a, b + 1)]
        value = sp.Add(*terms) if is_sum else sp.Mul(*terms)
        if reversed_limits:
            value = -value if is_sum else 1 / value
        self.memo[key] = value
        return value
