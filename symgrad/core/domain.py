"""The domain of a step: symbol assumptions plus side conditions.

A :class:`Domain` knows, for every free symbol, the interval it ranges over
(read from SymPy assumptions such as ``positive=True`` and from side
conditions such as ``0 < t`` or ``t <= 1``), plus the side conditions that are
not simple bounds. It draws deterministic sample points with exact rational
coordinates that respect all of them.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Iterator, Sequence

import sympy as sp

from .errors import InputError

__all__ = ["Interval", "Domain", "stable_seed"]


@dataclass(frozen=True)
class Interval:
    """A real interval with exact rational (or infinite) ends."""

    lo: sp.Expr = sp.S.NegativeInfinity
    hi: sp.Expr = sp.S.Infinity
    lo_open: bool = True
    hi_open: bool = True
    integer: bool = False

    def meet_lower(self, value: sp.Expr, open_: bool) -> "Interval":
        if value > self.lo or (value == self.lo and open_ and not self.lo_open):
            return Interval(value, self.hi, open_, self.hi_open, self.integer)
        return self

    def meet_upper(self, value: sp.Expr, open_: bool) -> "Interval":
        if value < self.hi or (value == self.hi and open_ and not self.hi_open):
            return Interval(self.lo, value, self.lo_open, open_, self.integer)
        return self

    def contains(self, value: sp.Expr) -> bool:
        if self.lo.is_finite and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        if self.hi.is_finite and (value > self.hi or (self.hi_open and value == self.hi)):
            return False
        return True

    @property
    def empty(self) -> bool:
        if self.lo.is_finite and self.hi.is_finite:
            return bool(self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open)))
        return False

    def describe(self, name: str) -> str:
        left = "-oo" if not self.lo.is_finite else str(self.lo)
        right = "oo" if not self.hi.is_finite else str(self.hi)
        lb = "(" if self.lo_open else "["
        rb = ")" if self.hi_open else "]"
        return f"{name} in {lb}{left}, {right}{rb}"


#: Far-out points every unbounded interval is probed at, geometrically: a claim false only
#: in a tail (``x**3 <= 1000 x**2 + 10**6``, a sum false from n = 227 on) fails there.
_MAGNITUDES = tuple(sp.Integer(10) ** k for k in (2, 3, 4, 6, 9))


def _huge_integers(expr: sp.Basic) -> dict[sp.Basic, sp.Basic]:
    """Integers too long for ``str`` (Python refuses beyond 4300 digits), named by a digest of their bytes."""
    out: dict[sp.Basic, sp.Basic] = {}
    for number in expr.atoms(sp.Integer):
        value = int(number)
        if value.bit_length() > 12_000:
            raw = value.to_bytes((value.bit_length() + 8) // 8, "big", signed=True)
            out[number] = sp.Symbol("_integer_" + hashlib.sha256(raw).hexdigest()[:16])
    return out


def stable_seed(*parts: object) -> int:
    """A seed that depends only on the text of ``parts`` (not on PYTHONHASHSEED).

    Dummy symbols get process-dependent indices, so they are renamed to
    canonical symbols, numbered in order of first appearance, before hashing.
    """
    texts = []
    dummies: dict[sp.Dummy, sp.Symbol] = {}
    for p in parts:
        if isinstance(p, sp.Basic):
            for d in sorted(p.atoms(sp.Dummy), key=lambda d: sp.srepr(p).find(sp.srepr(d))):
                dummies.setdefault(d, sp.Symbol(f"_dummy{len(dummies)}", **d.assumptions0))
            texts.append(sp.srepr(p.xreplace(dummies).xreplace(_huge_integers(p))))
        else:
            texts.append(str(p))
    digest = hashlib.sha256("\x1f".join(texts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _respects_assumptions(symbol: sp.Symbol, value: sp.Expr) -> bool:
    """Whether ``value`` has every property the symbol is declared with (nonzero, odd, prime, ...)."""
    for name, holds in symbol.assumptions0.items():
        if holds is True and getattr(value, f"is_{name}", None) is False:
            return False
    return True


def _interval_from_assumptions(symbol: sp.Symbol) -> Interval:
    integer = bool(symbol.is_integer)
    if symbol.is_positive:
        return Interval(sp.S.Zero, sp.S.Infinity, True, True, integer)
    if symbol.is_nonnegative:
        return Interval(sp.S.Zero, sp.S.Infinity, False, True, integer)
    if symbol.is_negative:
        return Interval(sp.S.NegativeInfinity, sp.S.Zero, True, True, integer)
    if symbol.is_nonpositive:
        return Interval(sp.S.NegativeInfinity, sp.S.Zero, True, False, integer)
    return Interval(integer=integer)


def _flatten(conditions: Iterable[sp.Basic]) -> Iterator[sp.Basic]:
    for cond in conditions:
        if isinstance(cond, sp.And):
            yield from _flatten(cond.args)
        else:
            yield cond


def _as_bound(cond: sp.Basic) -> tuple[sp.Symbol, str, sp.Expr, bool] | None:
    """``c*s + k REL 0`` with numeric c, k -> (s, 'lower'|'upper', value, open)."""
    if not isinstance(cond, (sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan, sp.GreaterThan)):
        return None
    g = sp.expand(cond.lhs - cond.rhs)  # g REL 0
    symbols = g.free_symbols
    if len(symbols) != 1:
        return None
    (s,) = symbols
    poly = sp.Poly(g, s) if g.is_polynomial(s) else None
    if poly is None or poly.degree() != 1:
        return None
    c, k = poly.all_coeffs()
    if not (c.is_Rational and k.is_Rational) or c == 0:
        return None
    value = -k / c
    strict = isinstance(cond, (sp.StrictLessThan, sp.StrictGreaterThan))
    less = isinstance(cond, (sp.StrictLessThan, sp.LessThan))  # g < 0  or g <= 0
    # c*s + k < 0  <=>  s < value when c > 0, s > value when c < 0
    upper = less if c > 0 else not less
    return s, ("upper" if upper else "lower"), value, strict


@dataclass(frozen=True)
class Domain:
    """Symbols with their intervals, and side conditions kept as filters."""

    intervals: dict[sp.Symbol, Interval]
    filters: tuple[sp.Basic, ...] = ()
    conditions: tuple[sp.Basic, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def build(cls, symbols: Iterable[sp.Symbol], conditions: Sequence[sp.Basic] = ()) -> "Domain":
        conds = tuple(_flatten(conditions))
        all_symbols = set(symbols)
        for cond in conds:
            all_symbols |= cond.free_symbols
        intervals = {s: _interval_from_assumptions(s) for s in sorted(all_symbols, key=str)}
        filters = []
        for cond in conds:
            if isinstance(cond, sp.Eq):
                # s = v (linear in one symbol): the interval [v, v], so that v is sampled (a filter alone
                # would keep only sampled points that happen to equal v); still checked as a filter.
                bounds = [_as_bound(sp.Ge(cond.lhs, cond.rhs)), _as_bound(sp.Le(cond.lhs, cond.rhs))]
                filters.append(cond)
                if None in bounds:
                    continue
            else:
                bounds = [_as_bound(cond)]
                if bounds[0] is None:
                    filters.append(cond)
                    continue
            for s, side, value, strict in bounds:
                iv = intervals[s]
                intervals[s] = iv.meet_lower(value, strict) if side == "lower" else iv.meet_upper(value, strict)
        for s, iv in intervals.items():
            if iv.empty:
                raise InputError(f"the assumptions leave no value for {s}: {iv.describe(str(s))}")
        return cls(intervals, tuple(filters), conds)

    @property
    def symbols(self) -> list[sp.Symbol]:
        return list(self.intervals)

    def satisfied(self, point: dict[sp.Symbol, sp.Expr]) -> bool:
        """Whether ``point`` meets every side condition (undecidable counts as no)."""
        for s, iv in self.intervals.items():
            if s in point and not iv.contains(point[s]):
                return False
            if s in point and not _respects_assumptions(s, point[s]):
                return False
        for cond in self.filters:
            try:
                value = cond.xreplace(point)
                if value is not sp.true:
                    value = sp.sympify(bool(value))  # numeric comparison via evalf
            except (TypeError, ValueError):
                return False
            if value is not sp.true:
                return False
        return True

    # -- sampling ---------------------------------------------------------
    def _candidates(self, iv: Interval, rng: random.Random, count: int) -> list[sp.Expr]:
        """Special values first, then random rationals, all inside ``iv``."""
        lo, hi = iv.lo, iv.hi
        specials: list[sp.Expr]
        if lo.is_finite and hi.is_finite:
            width = hi - lo
            specials = [lo + width * sp.Rational(k, d) for k, d in
                        ((1, 2), (1, 3), (2, 3), (1, 10), (9, 10), (1, 1000), (999, 1000))]
        elif lo.is_finite:
            specials = [lo + sp.Rational(v) for v in ("1", "1/2", "2", "1/10", "3", "10", "1/1000", "30")]
            specials += [lo + m for m in _MAGNITUDES]
        elif hi.is_finite:
            specials = [hi - sp.Rational(v) for v in ("1", "1/2", "2", "1/10", "3", "10", "1/1000", "30")]
            specials += [hi - m for m in _MAGNITUDES]
        else:
            specials = [sp.Rational(v) for v in
                        ("0", "1", "-1", "1/2", "-1/2", "2", "-2", "1/3", "-3", "3", "-1/10", "10", "-10")]
            specials += [v for m in _MAGNITUDES for v in (m, -m)]
        if iv.integer:  # every small integer too (after the far probes): a step may fail at one of them only
            if lo.is_finite:
                specials += [lo + d for d in range(13)]
            if hi.is_finite:
                specials += [hi - d for d in range(13)]
            if not (lo.is_finite or hi.is_finite):
                specials += [sp.Integer(d) for d in range(-12, 13)]
        if not lo.is_finite:
            lo_f = -30.0 if not hi.is_finite else float(hi) - 30.0
        else:
            lo_f = float(lo)
        if not hi.is_finite:
            hi_f = lo_f + 60.0 if lo.is_finite else 30.0
        else:
            hi_f = float(hi)
        out = list(specials)
        while len(out) < count + len(specials):
            roll = rng.random()
            if roll < 0.6:  # mostly near the middle of the usable range
                centre = (lo_f + hi_f) / 2 if (lo.is_finite and hi.is_finite) else \
                    (lo_f + 2.0 if lo.is_finite else (hi_f - 2.0 if hi.is_finite else 0.0))
                half = min(4.0, (hi_f - lo_f) / 2)
                value = rng.uniform(centre - half, centre + half)
            elif roll < 0.9:
                value = rng.uniform(lo_f, hi_f)
            else:  # small magnitudes near the lower end (or zero)
                anchor = lo_f if lo.is_finite else (hi_f if hi.is_finite else 0.0)
                sign = 1.0 if lo.is_finite else (-1.0 if hi.is_finite else rng.choice((-1.0, 1.0)))
                value = anchor + sign * 10 ** rng.uniform(-4, -1)
            frac = Fraction(value).limit_denominator(1 << 10)
            if iv.integer:
                frac = Fraction(round(value))
            out.append(sp.Rational(frac.numerator, frac.denominator))
        if iv.integer:
            out = [sp.Integer(round(float(v))) for v in out]
        return [v for v in out if iv.contains(v)]

    def sample(self, count: int, seed: int) -> list[dict[sp.Symbol, sp.Expr]]:
        """Up to ``count`` distinct points in the domain (exact rationals)."""
        rng = random.Random(seed)
        columns = {s: self._candidates(iv, rng, count) for s, iv in self.intervals.items()}
        points: list[dict[sp.Symbol, sp.Expr]] = []
        seen: set[tuple[sp.Expr, ...]] = set()
        attempts = 0
        order = list(columns)
        while len(points) < count and attempts < 20 * count + 50:
            i = attempts
            attempts += 1
            point = {}
            for j, s in enumerate(order):
                col = columns[s]
                if not col:
                    break
                # the first rounds walk the special values (shifted per symbol), then random
                point[s] = col[(i + j) % len(col)] if i < len(col) else rng.choice(col)
            else:
                key = tuple(point[s] for s in order)
                if key in seen or not self.satisfied(point):
                    continue
                seen.add(key)
                points.append(point)
        if not order:
            return [{}]
        return points

    def describe(self) -> list[str]:
        parts = [iv.describe(str(s)) for s, iv in self.intervals.items()]
        parts += [str(c) for c in self.filters]
        return parts
