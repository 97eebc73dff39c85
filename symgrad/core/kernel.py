"""The checking kernel: one verdict per step, honestly labelled.

For a step ``lhs REL rhs`` under a proof's assumptions the kernel:

1. samples a few exact rational points of the domain and evaluates both sides
   there (exactly, or at high precision) — a cheap refuter;
2. tries symbolic procedures within the time budget: for ``=``, the difference
   simplifies to zero; for ``<=``/``<``, ``rhs - lhs`` is shown non-negative
   (positive) by :mod:`symgrad.positivity`;
3. if no symbolic proof was found, samples many more points at high precision.

The verdict is ``proved`` (2 succeeded), ``refuted`` (a counterexample with
both sides' values), ``numeric`` (no proof, no counterexample at N points), or
``unknown`` (the budget ran out before there was evidence either way). The
kernel never trusts a step's justification: rules are reported, not believed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import sympy as sp
from sympy.core.evalf import PrecisionExhausted

from .budget import Deadline, OutOfTime
from .domain import Domain, stable_seed
from .errors import InputError
from .functions import sigmoid
from .positivity import prove_nonnegative
from .verdicts import Counterexample, Justification, Relation, Status, Verdict

__all__ = ["CheckOptions", "DEFAULT_OPTIONS", "decide", "options_with", "substitute_definitions"]

#: Seconds spent looking for a counterexample to a step that rests on a lemma.
LEMMA_SEARCH_SECONDS = 2.0

#: Functions the kernel may expand into their definitions when simplifying.
DEFINITIONS: tuple[type, ...] = (sigmoid,)


@dataclass(frozen=True)
class CheckOptions:
    """Knobs of the kernel. ``budget`` is seconds per step."""

    budget: float = 10.0
    samples: int = 200
    quick_samples: int = 12
    digits: int = 50
    min_samples: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if not (self.budget > 0 and math.isfinite(self.budget)):
            raise InputError(f"budget must be a positive number of seconds, got {self.budget!r}")
        if self.digits < 30:
            raise InputError(f"digits must be at least 30, got {self.digits}")
        if self.samples < self.min_samples or self.quick_samples < 1:
            raise InputError("samples must be at least min_samples, quick_samples at least 1")


DEFAULT_OPTIONS = CheckOptions()


def options_with(options: CheckOptions | None, overrides: dict[str, Any]) -> CheckOptions:
    """``options`` (default :data:`DEFAULT_OPTIONS`) with the named fields replaced."""
    base = options or DEFAULT_OPTIONS
    if overrides:
        unknown = set(overrides) - set(CheckOptions.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown check option(s) {sorted(unknown)}; "
                             f"known: {sorted(CheckOptions.__dataclass_fields__)}")
        base = replace(base, **overrides)
    return base


def decide(lhs: Any, relation: Relation, rhs: Any, assumptions: Sequence[sp.Basic] = (),
           definitions: Sequence[tuple[sp.Basic, sp.Basic]] = (), options: CheckOptions | None = None, *,
           index: int = 1, by: Justification = Justification(), symbolic: bool = True) -> Verdict:
    """The verdict on ``lhs REL rhs`` at every point of the domain where both sides are defined.

    The domain is given by the symbols' SymPy assumptions and the side
    conditions ``assumptions``; ``definitions`` (symbol or function, value)
    are substituted into both sides first. ``symbolic=False`` only searches
    for a counterexample (for a step that rests on a lemma). ``index`` and
    ``by`` are copied into the verdict.
    """
    options = options or DEFAULT_OPTIONS
    assumptions, definitions = tuple(assumptions), tuple(definitions)
    if _is_matrix(lhs) or _is_matrix(rhs):
        return _check_matrix_link(index, lhs, relation, rhs, by, assumptions, definitions, options)
    return _check_link(index, lhs, relation, rhs, by, assumptions, options, definitions, symbolic=symbolic)


# ---------------------------------------------------------------------------


@dataclass
class _Evidence:
    """What sampling found: points tried, worst slack, a counterexample."""

    evaluated: int = 0
    skipped: int = 0
    worst: sp.Expr | None = None  # smallest slack (inequalities) / largest residual (=)
    counterexample: Counterexample | None = None


def _prepare(expr: sp.Expr) -> sp.Expr:
    """Evaluate the unevaluated derivatives, substitutions, sums and limits the user wrote.

    Inside a limit, sigmoid is rewritten as ``1/(1 + exp(-x))`` first, so
    that SymPy's limit algorithm (Gruntz) sees only functions it knows.
    """
    if expr.has(sp.Limit):
        expr = expr.replace(lambda e: isinstance(e, sp.Limit),
                            lambda e: sp.Limit(e.args[0].doit().rewrite(sigmoid, sp.exp), *e.args[1:]).doit())
    if expr.has(sp.Derivative, sp.Integral, sp.Sum, sp.Product, sp.Subs):
        expr = expr.doit()
    if expr.has(sp.Heaviside):
        # The step function's value at 0 is a convention (SymPy's 1/2, PyTorch's 0 for ReLU'):
        # make it undefined, so no claim is proved or refuted by the value at the kink.
        expr = expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Heaviside(e.args[0], sp.nan))
    return expr


def _is_matrix(expr: Any) -> bool:
    return isinstance(expr, (sp.MatrixBase, sp.MatrixExpr))


def _explicit(expr: Any) -> sp.ImmutableMatrix:
    """A matrix expression (e.g. an unevaluated product of matrices) as explicit entries."""
    if isinstance(expr, sp.MatrixExpr) and not isinstance(expr, sp.MatrixBase):
        expr = expr.doit()
        if isinstance(expr, sp.MatrixExpr):
            expr = expr.as_explicit()
    return sp.ImmutableMatrix(expr)


def substitute_definitions(expr: sp.Expr, definitions: tuple[tuple[sp.Basic, sp.Basic], ...]) -> sp.Expr:
    """Substitute a proof's definitions (``where=``) into ``expr`` until nothing changes.

    Raises :class:`InputError` when the definitions refer to each other in a cycle.
    """
    for _ in range(10):
        new = expr
        for key, value in definitions:
            new = new.subs(key, value)
        if new == expr:
            return new
        expr = new
    raise InputError("the proof's definitions (where=) refer to each other in a cycle")


def _check_matrix_link(index: int, lhs: Any, rel: Relation, rhs: Any, by: Justification,
                       assumptions: tuple[sp.Basic, ...], definitions: tuple[tuple[sp.Basic, sp.Basic], ...],
                       options: CheckOptions) -> Verdict:
    """``=`` between matrices: every entry is checked; the weakest entry decides."""
    if rel is not Relation.EQ:
        raise InputError(f"step {index}: matrices can only be related by '=', not '{rel.value}'")
    if not (_is_matrix(lhs) and _is_matrix(rhs)):
        raise InputError(f"step {index}: one side is a matrix and the other is not")
    shown_lhs, shown_rhs = lhs, rhs
    lhs, rhs = _explicit(lhs), _explicit(rhs)
    if lhs.shape != rhs.shape:
        raise InputError(f"step {index}: shapes differ, {lhs.shape[0]}x{lhs.shape[1]} on the left "
                         f"and {rhs.shape[0]}x{rhs.shape[1]} on the right")
    entries = []
    for i in range(lhs.shape[0]):
        for j in range(lhs.shape[1]):
            entries.append(((i, j), _check_link(index, lhs[i, j], rel, rhs[i, j], by, assumptions,
                                                options, definitions)))
    status = Status.weakest(v.status for _, v in entries)
    (i, j), worst = next((ij, v) for ij, v in entries if v.status is status)
    methods = sorted({v.method for _, v in entries})
    note = f"entry ({i + 1}, {j + 1}) of {lhs.shape[0]}x{lhs.shape[1]}: {worst.evidence()}"
    return replace(worst, lhs=shown_lhs, rhs=shown_rhs, method=("every entry: " + "; ".join(methods))
                   if status is Status.PROVED else worst.method, note=note,
                   seconds=round(sum(v.seconds for _, v in entries), 3))


def _check_link(index: int, lhs: sp.Expr, rel: Relation, rhs: sp.Expr, by: Justification,
                assumptions: tuple[sp.Basic, ...], options: CheckOptions,
                definitions: tuple[tuple[sp.Basic, sp.Basic], ...] = (), symbolic: bool = True) -> Verdict:
    started = time.perf_counter()
    # A lemma step is only searched for a counterexample: a short budget suffices.
    deadline = Deadline(options.budget if symbolic else min(options.budget, LEMMA_SEARCH_SECONDS))

    def verdict(status: Status, method: str, evidence: _Evidence | None = None, note: str = "") -> Verdict:
        ev = evidence or _Evidence()
        return Verdict(index=index, lhs=lhs, relation=rel, rhs=rhs, status=status, method=method, by=by,
                       counterexample=ev.counterexample, samples=ev.evaluated,
                       digits=options.digits, min_slack=ev.worst,
                       seconds=round(time.perf_counter() - started, 3), note=note)

    # Orient every inequality as small <= big (or small < big).
    try:
        left, right = deadline.run(lambda: (_prepare(substitute_definitions(lhs, definitions)),
                                            _prepare(substitute_definitions(rhs, definitions))), 0.3)
    except ValueError as exc:  # e.g. a where= definition of a variable something is differentiated by
        raise InputError(f"step {index}: cannot substitute the definitions or evaluate the derivatives "
                         f"({exc}); a symbol defined with where= cannot also be a differentiation "
                         "variable: use Subs") from None
    except OutOfTime:
        return verdict(Status.UNKNOWN, "budget", note="the budget ran out while evaluating derivatives")
    if rel.direction > 0:
        small, big = right, left
    else:
        small, big = left, right
    domain = Domain.build(left.free_symbols | right.free_symbols, assumptions)
    seed = stable_seed(options.seed, lhs, rel.value, rhs)

    # 1. A few exact points: a fast refuter.
    quick = _sample(small, big, rel, domain, options.quick_samples, seed, options.digits, deadline, 0.25)
    if quick.counterexample is not None:
        return verdict(Status.REFUTED, "counterexample at a sampled point", _swap_back(quick, rel))

    # 2. Symbolic proof within (most of) the remaining budget.
    method: str | None = None
    try:
        if not symbolic:
            method = None
        elif rel is Relation.EQ:
            method = _prove_equal(small, big, deadline)
        else:
            method = prove_nonnegative(big - small, domain, rel.strict, _Sub(deadline, 0.75))
    except OutOfTime:
        method = None
    if method is not None:
        if definitions and (left, right) != (lhs, rhs):
            method = f"substituting the definitions (where=), then {method}"
        elif left != lhs or right != rhs:
            done = sorted({type(e).__name__.lower() for side in (lhs, rhs)
                           for e in side.atoms(sp.Derivative, sp.Limit, sp.Subs, sp.Integral, sp.Sum, sp.Product)})
            method = f"SymPy evaluated the {', '.join(done) or 'expression'}; then {method}"
        return verdict(Status.PROVED, method, quick)

    # 3. Numbers: many points at high precision.
    full = _sample(small, big, rel, domain, options.samples, seed + 1, options.digits, deadline, 1.0)
    merged = _merge(quick, full)
    if merged.counterexample is not None:
        return verdict(Status.REFUTED, "counterexample at a sampled point", _swap_back(merged, rel))
    if merged.evaluated >= options.min_samples:
        return verdict(Status.NUMERIC, "sampling", merged)
    why = ("the budget ran out" if deadline.expired else
           "too few sample points where both sides are real and defined")
    return verdict(Status.UNKNOWN, "no evidence", merged,
                   note=f"no proof and no counterexample: {why} ({merged.evaluated} points evaluated)")


class _Sub(Deadline):
    """A deadline that ends at ``fraction`` of its parent's remaining time."""

    def __init__(self, parent: Deadline, fraction: float) -> None:
        super().__init__(parent.remaining * fraction)


def _swap_back(ev: _Evidence, rel: Relation) -> _Evidence:
    """Counterexamples are found on (small, big); report them as (lhs, rhs)."""
    if ev.counterexample is None or rel.direction <= 0:
        return ev
    c = ev.counterexample
    return replace(ev, counterexample=Counterexample(c.point, c.rhs_value, c.lhs_value, c.exact))


def _merge(a: _Evidence, b: _Evidence) -> _Evidence:
    worst = a.worst
    if b.worst is not None and (worst is None or b.worst < worst):
        worst = b.worst
    return _Evidence(a.evaluated + b.evaluated, a.skipped + b.skipped, worst,
                     a.counterexample or b.counterexample)


# -- equality ----------------------------------------------------------------

def _is_zero(expr: sp.Expr) -> bool:
    return expr == 0 or expr.is_zero is True


def _prove_equal(a: sp.Expr, b: sp.Expr, deadline: Deadline) -> str | None:
    """Return the procedure by which ``a - b`` is zero, else None."""
    diff = a - b
    attempts: list[tuple[str, Callable[[], sp.Expr]]] = [
        ("identical expressions", lambda: diff),
        ("expansion", lambda: sp.expand(diff)),
        ("rational simplification (cancel)", lambda: sp.cancel(sp.together(diff))),
        ("simplify", lambda: sp.simplify(diff)),
    ]
    if diff.has(*DEFINITIONS):
        defined = diff.rewrite(sigmoid, sp.exp)
        attempts += [
            ("rewriting sigmoid as 1/(1 + exp(-x)), then cancel", lambda: sp.cancel(sp.together(defined))),
            ("rewriting sigmoid as 1/(1 + exp(-x)), then simplify", lambda: sp.simplify(defined)),
        ]
    for name, attempt in attempts:
        if deadline.expired:
            raise OutOfTime("budget")
        try:
            value = deadline.run(attempt, 0.8)
        except OutOfTime:
            continue  # a cheaper later attempt may still finish
        if _is_zero(value):
            return name
    return None


# -- sampling ----------------------------------------------------------------

def _real_number(value: sp.Expr) -> bool:
    """A finite real number as evaluated (a Float or a Rational), not an unevaluated object."""
    return bool((value.is_Float or value.is_Rational) and value.is_finite is not False
                and not value.has(sp.nan, sp.zoo, sp.oo, -sp.oo))


def _sample(small: sp.Expr, big: sp.Expr, rel: Relation, domain: Domain, count: int, seed: int,
            digits: int, deadline: Deadline, fraction: float) -> _Evidence:
    """Evaluate ``big - small`` at sample points; stop at the first counterexample."""
    evidence = _Evidence()
    stop_at = time.perf_counter() + deadline.remaining * fraction
    slack_expr = big - small
    tolerance = sp.Float(10) ** (-(digits - 12))
    try:
        points = deadline.run(lambda: domain.sample(count, seed), fraction)
    except OutOfTime:
        return evidence
    for point in points:
        if time.perf_counter() > stop_at:
            break
        try:
            remaining = max(stop_at - time.perf_counter(), 1e-3)
            outcome = deadline.run(lambda: _evaluate(small, big, slack_expr, point, digits),
                                   min(1.0, remaining / max(deadline.remaining, 1e-9)))
        except OutOfTime:
            break
        except (ZeroDivisionError, ValueError, TypeError, ArithmeticError, RecursionError):
            evidence.skipped += 1
            continue
        if outcome is None:
            evidence.skipped += 1
            continue
        lhs_v, rhs_v, slack, exact = outcome
        evidence.evaluated += 1
        scale = max(sp.Float(1), abs(lhs_v), abs(rhs_v))
        if rel is Relation.EQ:
            residual = abs(slack)
            if evidence.worst is None or residual > evidence.worst:
                evidence.worst = residual
            failed = residual != 0 if exact else residual > tolerance * scale
        else:
            if evidence.worst is None or slack < evidence.worst:
                evidence.worst = slack
            if exact:
                failed = slack < 0 or (rel.strict and slack == 0)
            else:
                failed = slack < -tolerance * scale
                if not failed and rel.strict and abs(slack) <= tolerance * scale:
                    failed = _exactly_zero(slack_expr, point, deadline)
        if failed:
            evidence.counterexample = Counterexample(dict(point), lhs_v, rhs_v, exact)
            break
    return evidence


def _exactly_zero(expr: sp.Expr, point: dict[sp.Symbol, sp.Expr], deadline: Deadline) -> bool:
    """Whether ``expr`` is exactly 0 at ``point`` (a strict inequality fails there)."""
    try:
        value = deadline.run(lambda: sp.simplify(expr.xreplace(point)), 0.2)
    except OutOfTime:
        return False
    return _is_zero(value)


def _evaluate(small: sp.Expr, big: sp.Expr, slack_expr: sp.Expr, point: dict[sp.Symbol, sp.Expr],
              digits: int) -> tuple[sp.Expr, sp.Expr, sp.Expr, bool] | None:
    """Both sides and ``big - small`` at ``point``: exact if rational, else ``digits`` digits.

    Returns None when a side is not a finite real number there (outside its domain).
    """
    s_val = small.xreplace(point)
    b_val = big.xreplace(point)
    if s_val.is_Rational and b_val.is_Rational:
        return s_val, b_val, b_val - s_val, True
    s_num = _certified(s_val, digits)
    b_num = _certified(b_val, digits)
    if s_num is None or b_num is None or not (_real_number(s_num) and _real_number(b_num)):
        return None
    # The difference is evaluated as one expression so evalf can manage cancellation.
    slack = _certified(slack_expr.xreplace(point), digits)
    if slack is None or not _real_number(slack):
        return None
    return s_num, b_num, slack, False


def _certified(value: sp.Expr, digits: int) -> sp.Expr | None:
    """``value`` to ``digits`` correct digits, or None when evalf cannot guarantee them.

    Without ``strict``, evalf may return a number with no correct digit after a
    heavy cancellation, which must never become a counterexample.
    """
    try:
        return value.evalf(digits, strict=True)
    except PrecisionExhausted:
        pass
    try:  # a higher working precision often resolves the cancellation
        return value.evalf(digits, strict=True, maxn=max(400, 8 * digits))
    except PrecisionExhausted:
        pass
    # An exact zero never reaches full relative precision: evalf then returns a
    # number known only up to a magnitude bound. Tiny bound: zero. Otherwise: unknown.
    rough = value.evalf(digits)
    if not rough.is_Float:
        return None
    if abs(float(rough)) <= 10.0 ** (-(digits - 12)):
        return sp.Float(0, digits)
    return rough if rough._prec >= 53 else None
