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

import functools
import math
import time
from fractions import Fraction
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import sympy as sp
from sympy.core.evalf import PrecisionExhausted
from sympy.core.function import AppliedUndef

from .budget import Deadline, OutOfTime, note_cutoff, phase
from .domain import Domain, stable_seed
from .errors import InputError
from .functions import sigmoid
from . import constancy, induction, intervals, real_algebra
from .families import Families, scalar_symbols
from .positivity import prove_nonnegative
from .verdicts import Counterexample, Justification, Relation, Status, Verdict

__all__ = ["CheckOptions", "DEFAULT_OPTIONS", "decide", "options_with", "substitute_definitions"]

#: Points at which a step that rests on a lemma is searched for a counterexample: a count, so the
#: evidence does not depend on the machine's load (the step's budget is only a safety net).
LEMMA_SEARCH_POINTS = 40

#: The share of a step's budget the quick refuter (a few exact points before any symbolic attempt) may
#: use: it finds the usual wrong step in milliseconds; a slow evaluation waits for the full sample.
QUICK_SHARE = 0.1

#: What SymPy raises when a procedure cannot handle an expression (never a verdict).
_SYMPY_FAILURES = (TypeError, ValueError, ArithmeticError, NotImplementedError, AttributeError, RecursionError,
                   sp.PolynomialError, StopIteration)

#: Functions the kernel may expand into their definitions when simplifying.
DEFINITIONS: tuple[type, ...] = (sigmoid,)


def by_definitions(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every function of :data:`DEFINITIONS` rewritten by its definition in ``exp``."""
    for function in DEFINITIONS:
        if expr.has(function):
            expr = expr.rewrite(function, sp.exp)
    return expr


#: The largest budget per step, in seconds (a day): beyond it the timer cannot be set.
MAX_BUDGET = 86_400.0


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
        for name in ("budget", "samples", "quick_samples", "digits", "min_samples", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float) if name == "budget" else int):
                kind = "a number of seconds" if name == "budget" else "an integer"
                raise InputError(f"CheckOptions: {name} must be {kind}, got {type(value).__name__} {value!r}")
        if not (0 < self.budget <= MAX_BUDGET and math.isfinite(self.budget)):
            raise InputError(f"budget must be a positive number of seconds, at most {MAX_BUDGET:g}, "
                             f"got {self.budget!r}")
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


def _prepare(expr: sp.Expr, keep_sums: bool = False) -> sp.Expr:
    """Evaluate the unevaluated derivatives, substitutions, sums and limits the user wrote.

    Inside a limit, sigmoid is rewritten by its definition first (:func:`by_definitions`), so
    that SymPy's limit algorithm (Gruntz) sees only functions it knows.
    Derivatives are evaluated before substitutions, and where SymPy answers
    with a convention at a kink (``d/dx max(x, 0) = H(x)`` with ``H(0) = 1/2``,
    ``d/dx |x| = sign(x)`` with ``sign(0) = 0``) the derivative is made
    undefined at the kink (:func:`_undefined_at_kinks`), so no claim is proved
    or refuted by the value there. Step functions the user wrote keep the
    value the user gave them. With ``keep_sums`` sums and products stay as written
    (sampling evaluates them term by term at integer sizes, :func:`_exact_finite`).
    """
    if expr.has(sp.UnevaluatedExpr):  # a display device (keeps a product unexpanded): its value is its argument
        expr = expr.replace(lambda e: isinstance(e, sp.UnevaluatedExpr), lambda e: e.args[0])
    if expr.has(sp.Limit):
        expr = expr.replace(lambda e: isinstance(e, sp.Limit), _limit_value)
    if expr.has(sp.Derivative):
        written = expr.atoms(sp.Heaviside, sp.sign)
        expr = expr.replace(lambda e: isinstance(e, sp.Derivative),
                            lambda e: _undefined_at_kinks(e.doit(), written))
    if expr.has(sp.Integral, sp.Subs, sp.Derivative):
        expr = expr.replace(lambda e: isinstance(e, (sp.Integral, sp.Subs, sp.Derivative)), lambda e: e.doit())
    if expr.has(sp.Sum, sp.Product) and not keep_sums:
        expr = expr.replace(lambda e: isinstance(e, (sp.Sum, sp.Product)), _closed_form)
    return expr


@functools.lru_cache(maxsize=256)
def _closed_form(written: sp.Expr) -> sp.Expr:
    """SymPy's closed form of a sum or product, unless it passes through complex numbers.

    ``prod (1 + 1/k**2)`` becomes a ratio of rising factorials at ``1 +- i``, which no
    procedure can use and which evaluates slowly and with a spurious imaginary part: such
    a sum or product stays as written (induction and exact evaluation at integers use it).
    """
    value = written.doit()
    if value.has(sp.I) and not written.has(sp.I):
        return written
    return value


def _limit_value(limit: sp.Limit) -> sp.Expr:
    """The limit exactly as written (SymPy's ``Limit(f, x, a)`` is one-sided, ``x -> a+``).

    A two-sided limit (``dir='+-'``) whose one-sided limits differ does not exist:
    it is undefined (``nan``), so no claim about its value is proved.
    """
    body = by_definitions(limit.args[0].doit())
    try:
        return sp.Limit(body, *limit.args[1:]).doit()
    except ValueError:  # "the limit does not exist since left hand limit = ... and right hand limit = ..."
        return _KINK


def _no_limit(side: sp.Expr) -> str:
    """Why a side written with a limit has no value (a two-sided limit whose one-sided limits differ)."""
    for limit in side.atoms(sp.Limit):
        try:
            sp.Limit(by_definitions(limit.args[0].doit()), *limit.args[1:]).doit()
        except ValueError as exc:
            reason = str(exc).replace("The limit does not exist since ", "").replace(" hand limit", "-hand limit")
            return f"a side has no value: the two-sided limit {limit.args[0]} as {limit.args[1]} -> " \
                   f"{limit.args[2]} does not exist ({reason})"
    return "a side has no value: a limit written in it does not exist"


#: The value a derivative takes at a kink: undefined (``nan``), never a convention.
_KINK = sp.nan


def _undefined_at_kinks(value: sp.Expr, written: set[sp.Basic]) -> sp.Expr:
    """Step functions that differentiation introduced, made undefined where their argument is 0."""
    def undefined_at_zero(e: sp.Expr) -> sp.Expr:
        if e in written:
            return e
        if isinstance(e, sp.Heaviside):
            return sp.Heaviside(e.args[0], _KINK)
        return sp.Piecewise((e, sp.Ne(e.args[0], 0)), (_KINK, True))

    return value.replace(lambda e: isinstance(e, (sp.Heaviside, sp.sign)) and e not in written, undefined_at_zero)


def _defined_extension(expr: sp.Expr, written: dict[sp.Expr, sp.Expr] | None = None) -> sp.Expr:
    """``expr`` with the kink markers of :func:`_undefined_at_kinks` removed.

    A step function ``H(a)`` left undefined at ``a = 0`` takes the value at 0
    that ``written`` gives for the same argument (what the other side of the
    step says), else SymPy's 1/2.

    Law: a claim proved for an expression that agrees with ``expr`` wherever
    ``expr`` is defined holds at every point where ``expr`` is defined. So the
    symbolic procedures may work on this extension; sampling never does.
    """
    def is_marker(e: sp.Basic) -> bool:
        if isinstance(e, sp.Heaviside):
            return len(e.args) == 2 and e.args[1] is _KINK
        return (isinstance(e, sp.Piecewise) and len(e.args) == 2 and e.args[1].expr is _KINK
                and e.args[1].cond is sp.true)

    def unmarked(e: sp.Basic) -> sp.Basic:
        if isinstance(e, sp.Heaviside):
            return sp.Heaviside(e.args[0], (written or {}).get(e.args[0], sp.S.Half))
        return e.args[0].expr

    return expr.replace(is_marker, unmarked) if expr.has(_KINK) else expr


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
    if definitions:  # an assumption about a defined name is an assumption about what it stands for
        assumptions = tuple(substitute_definitions(a, definitions) if isinstance(a, sp.Basic) else a
                            for a in assumptions)
    # A lemma step is only searched for a counterexample, at LEMMA_SEARCH_POINTS points.
    deadline = Deadline(options.budget)

    def verdict(status: Status, method: str, evidence: _Evidence | None = None, note: str = "") -> Verdict:
        ev = evidence or _Evidence()
        return Verdict(index=index, lhs=lhs, relation=rel, rhs=rhs, status=status, method=method, by=by,
                       counterexample=ev.counterexample, samples=ev.evaluated,
                       digits=options.digits, min_slack=ev.worst,
                       seconds=round(time.perf_counter() - started, 3), note=note)

    # Orient every inequality as small <= big (or small < big).
    try:
        with phase("prepare"):
            left, right = deadline.run(lambda: (_prepare(substitute_definitions(lhs, definitions)),
                                                _prepare(substitute_definitions(rhs, definitions))), 0.5)
    except ValueError as exc:  # e.g. a where= definition of a variable something is differentiated by
        raise InputError(f"step {index}: cannot substitute the definitions or evaluate the derivatives "
                         f"({exc}); a symbol defined with where= cannot also be a differentiation "
                         "variable: use Subs") from None
    except OutOfTime:
        left = right = None  # SymPy's closed forms of sums can take minutes: the sums as written remain
    with_sums = any(isinstance(side, sp.Basic) and side.has(sp.Sum, sp.Product) for side in (lhs, rhs))
    if left is None and not with_sums:
        return verdict(Status.UNKNOWN, "budget", note="the budget ran out while evaluating derivatives")
    # Sampling evaluates sums and products as written: exactly, term by term, at integer sizes.
    written_left, written_right = left, right
    unwritten = False  # no proof on closed forms: the sums as written are not at hand, or no closed form is
    if with_sums:
        try:
            with phase("prepare"):
                written_left, written_right = deadline.run(
                    lambda: (_prepare(substitute_definitions(lhs, definitions), keep_sums=True),
                             _prepare(substitute_definitions(rhs, definitions), keep_sums=True)), 0.4)
        except OutOfTime:
            unwritten = True
        if left is None:
            if unwritten:
                return verdict(Status.UNKNOWN, "budget", note="the budget ran out while evaluating the sides")
            left, right, unwritten = written_left, written_right, True
    if rel.direction > 0:
        small, big = right, left
        written_small, written_big = written_right, written_left
    else:
        small, big = left, right
        written_small, written_big = written_left, written_right
    for side, prepared in ((lhs, left), (rhs, right)):
        if prepared is _KINK and isinstance(side, sp.Basic) and side.has(sp.Limit):
            return verdict(Status.UNKNOWN, "no value", note=_no_limit(side))
    complex_symbols = _complex_symbols(left, right, assumptions)
    written = [side for side in (lhs, rhs) if isinstance(side, sp.Basic) and side.has(sp.I)
               and not side.is_extended_real]
    if rel is not Relation.EQ and written:  # as the user wrote it (SymPy's closed forms may pass through i)
        raise InputError(f"step {index}: '{rel.value}' between quantities that need not be real "
                         f"({written[0]} involves i); only '=' is checked over the complex numbers")
    complex_families = Families.complex_labels(lhs, rhs)
    if complex_families and rel is not Relation.EQ:
        names = ", ".join(map(str, complex_families))
        raise InputError(f"step {index}: '{rel.value}' between quantities that need not be real: the entries of "
                         f"{names} are declared complex; only '=' is checked over the complex numbers")
    if complex_symbols and rel is not Relation.EQ:
        names = ", ".join(sorted(map(str, complex_symbols)))
        raise InputError(f"step {index}: '{rel.value}' between quantities that need not be real: {names} "
                         "may be complex (declare Symbol(..., real=True), or positive=True, ...); only '=' "
                         "is checked over the complex numbers")
    # Sampling sees real coordinates only: z = a + b i for each complex symbol (b alone if imaginary),
    # and an equality through the modulus of the difference.
    sample_small, sample_big, to_complex = written_small, written_big, _complex_coordinates(complex_symbols)
    if to_complex:
        sample_small, sample_big = sp.S.Zero, (big - small).xreplace(to_complex)
    # Indexed entries (x[j] in a sum over j) are not coordinates: each point gives them values of their own.
    domain = Domain.build(scalar_symbols(sample_small) | scalar_symbols(sample_big)
                          | scalar_symbols(left) - set(complex_symbols)
                          | scalar_symbols(right) - set(complex_symbols), assumptions)
    seed = stable_seed(options.seed, lhs, rel.value, rhs)
    families = Families(seed) if Families.present(sample_small, sample_big) else None
    # A sum that may run backwards is decided by sampling (Karr's convention) only, never proved; so is
    # one whose closed form from SymPy is not certified (SymPy's summation has bugs).
    in_order = not unwritten
    sides = [side for side in (written_small, written_big) if isinstance(side, sp.Basic)]
    if in_order and any(side.has(sp.Sum, sp.Product) for side in sides):
        try:
            in_order = deadline.run(lambda: _limits_in_order((written_small, written_big), domain)
                                    and _closed_forms_certified((written_small, written_big)), CERTIFY_SHARE)
        except OutOfTime:
            in_order = False

    def sample(count: int, offset: int, fraction: float) -> _Evidence:
        found = _sample(sample_small, sample_big, rel, domain, count, seed + offset, options.digits, deadline,
                        fraction, modulus=bool(to_complex or complex_families), families=families)
        if to_complex and found.counterexample is not None:
            found.counterexample = _complex_counterexample(found.counterexample, to_complex, small, big)
        return found

    # 1. A few exact points: a fast refuter. (A claim between closed numbers has one "point",
    #    evaluated once, after the symbolic attempt: an exact zero is slow to evaluate.)
    #    Sides that are the same expression (after the definitions) cannot disagree: no search first.
    constant = not (sample_small.free_symbols or sample_big.free_symbols)
    identical = symbolic and in_order and not rel.strict and (big - small) == 0
    with phase("quick"):
        quick = _Evidence() if constant or identical else sample(options.quick_samples, 0, QUICK_SHARE)
    if quick.counterexample is not None:
        return verdict(Status.REFUTED, "counterexample at a sampled point", _swap_back(quick, rel))

    # 2. Symbolic proof within (most of) the remaining budget, on the sides extended to the
    #    points where a derivative was left undefined (sound for "where both sides are defined").
    method: str | None = None
    step_values = {h.args[0]: h.args[1] for h in (small.atoms(sp.Heaviside) | big.atoms(sp.Heaviside))
                   if h.args[1] is not _KINK}
    sym_small, sym_big = _defined_extension(small, step_values), _defined_extension(big, step_values)
    decided: _Decided | None = None
    try:
        with phase("symbolic"):
            if not symbolic:
                method = None
            elif rel is Relation.EQ:
                method = _prove_equal(sym_small, sym_big, deadline)
            else:
                method = prove_nonnegative(sym_big - sym_small, domain, rel.strict, _Sub(deadline, 0.35))
    except OutOfTime:
        method = None
    except _SYMPY_FAILURES:  # SymPy gave up on an expression: no proof, the numbers still decide
        method = None
    if method is None and symbolic and not to_complex and not deadline.expired:
        with phase("symbolic"):
            # A procedure's point is re-evaluated by the kernel on the sides as written.
            decided = _decide(sym_big - sym_small, rel, domain, deadline,
                              lambda point: _recheck(written_small, written_big, rel, point, options.digits,
                                                     families) if families or not in_order else
                              _recheck(small, big, rel, point, options.digits))
        if decided is not None and decided.proved:
            method = decided.method
        elif decided is not None and decided.evidence is not None:
            return verdict(Status.REFUTED, f"{decided.method}; re-checked at the point",
                           _swap_back(_merge(quick, decided.evidence), rel))
    if method is not None and not in_order:
        method = None  # proved with SymPy's closed forms, which need not hold where a sum runs backwards
    if method is not None:
        if definitions and (left, right) != (lhs, rhs):
            method = f"substituting the definitions (where=), then {method}"
        elif left != lhs or right != rhs:
            done = sorted({type(e).__name__.lower() for side in (lhs, rhs)
                           for e in side.atoms(sp.Derivative, sp.Limit, sp.Subs, sp.Integral, sp.Sum, sp.Product)})
            method = f"SymPy evaluated the {', '.join(done) or 'expression'}; then {method}"
        if _may_be_undefined(left) or _may_be_undefined(right) or small.has(_KINK) or big.has(_KINK):
            method += WHERE_DEFINED
        return verdict(Status.PROVED, method, quick)

    # 3. Numbers: many points at high precision.
    with phase("full"):
        full = sample(options.samples if symbolic else min(options.samples, LEMMA_SEARCH_POINTS), 1, 1.0)
    merged = _merge(quick, full)
    if merged.counterexample is not None:
        return verdict(Status.REFUTED, "counterexample at a sampled point", _swap_back(merged, rel))
    if merged.evaluated >= options.min_samples:
        return verdict(Status.NUMERIC, "sampling", merged)
    why = ("the budget ran out" if deadline.expired else
           "too few sample points where both sides are real and defined")
    return verdict(Status.UNKNOWN, "no evidence", merged,
                   note=f"no proof and no counterexample: {why} ({merged.evaluated} points evaluated)")


#: Added to a proof's method when a side may be undefined somewhere: what "proved" means there.
WHERE_DEFINED = " (at every point where both sides are defined)"


def _may_be_undefined(expr: sp.Expr) -> bool:
    """Whether ``expr`` may be undefined somewhere: a divisor, logarithm or root not known safe."""
    if not isinstance(expr, sp.Basic):
        return False
    for power in expr.atoms(sp.Pow):
        if power.exp.is_negative and power.base.is_zero is not False:
            return True
        if power.exp.is_Rational and not power.exp.is_Integer and power.base.is_nonnegative is not True:
            return True
    return any(arg.is_positive is not True for call in expr.atoms(sp.log) for arg in call.args[:1])


def _complex_symbols(left: sp.Expr, right: sp.Expr, assumptions: tuple[sp.Basic, ...]) -> list[sp.Symbol]:
    """The free symbols not declared real (SymPy's plain ``Symbol('z')`` is complex)."""
    symbols = left.free_symbols | right.free_symbols
    for condition in assumptions:
        symbols |= condition.free_symbols
    # Labels and indices of indexed families (x[i]) name entries, whose values the sampler draws as reals.
    indexed = set()
    for side in (left, right):
        for entry in side.atoms(sp.Indexed):
            indexed |= entry.free_symbols
    return sorted((s for s in symbols - indexed if isinstance(s, sp.Symbol) and s.is_real is not True), key=str)


def _complex_coordinates(symbols: list[sp.Symbol]) -> dict[sp.Symbol, sp.Expr]:
    """``z -> a + b i`` with fresh real ``a``, ``b`` (``b i`` alone for an imaginary ``z``)."""
    out: dict[sp.Symbol, sp.Expr] = {}
    for z in symbols:
        im = sp.Symbol(f"Im({z})", real=True, nonzero=True) if z.is_imaginary else sp.Symbol(f"Im({z})", real=True)
        out[z] = sp.I * im if z.is_imaginary else sp.Symbol(f"Re({z})", real=True) + sp.I * im
    return out


def _complex_counterexample(found: Counterexample, to_complex: dict[sp.Symbol, sp.Expr], small: sp.Expr,
                            big: sp.Expr) -> Counterexample:
    """A point found in real coordinates, given back as complex values, with both sides there."""
    point = {s: v for s, v in found.point.items() if not str(s).startswith(("Re(", "Im("))}
    for z, coordinates in to_complex.items():
        # a coordinate the difference does not depend on was not sampled: it is 0 at this point
        unsampled = {c: sp.S.Zero for c in coordinates.free_symbols if c not in found.point}
        point[z] = sp.expand(coordinates.xreplace(found.point).xreplace(unsampled))
    small_v, big_v = sp.N(small.xreplace(point), 50), sp.N(big.xreplace(point), 50)
    return Counterexample(point, small_v, big_v, found.exact)


@dataclass(frozen=True)
class _Decided:
    """What a decision procedure answered: a proof (``method``) or a candidate counterexample."""

    proved: bool
    method: str
    evidence: "_Evidence | None" = None


def _decide(expr: sp.Expr, rel: Relation, domain: Domain, deadline: Deadline,
            recheck: Callable[[dict[sp.Symbol, sp.Expr]], "_Evidence | None"]) -> _Decided | None:
    """Real algebra (z3) first, then rigorous interval arithmetic (arb), each under the budget.

    Each procedure is sound on its own: it proves the claim on the whole domain or
    proposes a point, which ``recheck`` evaluates again on the sides as written; a point
    that does not re-check is dropped and the next procedure tries. Points found on an
    abstraction (exponentials as powers of a free positive variable) are never proposed.
    """
    # (what was done to the claim first, the procedure)
    attempts: list[tuple[str, Callable[[float], Any]]] = []
    powers = _exponentials_as_powers(expr, domain)
    via_powers = "exponentials written as powers of t = exp(g x) > 0 with t >= 1 + g x; "
    if rel is Relation.EQ:
        attempts.append(("", lambda seconds: real_algebra.decide_zero(expr, domain, seconds=seconds)))
        if powers is not None:
            attempts.append((via_powers, lambda seconds: real_algebra.decide_zero(*powers, seconds=seconds)))
        attempts.append(("", lambda seconds: deadline.run(
            lambda: constancy.decide_zero(expr, domain, seconds=seconds), _PROCEDURE_SHARE + 0.05)))
    else:
        attempts.append(("", lambda seconds: real_algebra.decide_sign(expr, domain, rel.strict, seconds=seconds)))
        attempts.append(("", lambda seconds: deadline.run(
            lambda: induction.decide_sign(expr, domain, rel.strict, seconds=seconds), _PROCEDURE_SHARE + 0.05)))
        if powers is not None:
            attempts.append((via_powers,
                             lambda seconds: real_algebra.decide_sign(*powers, rel.strict, seconds=seconds)))
        attempts.append(("", lambda seconds: intervals.decide_sign(expr, domain, rel.strict, seconds=seconds)))
        if expr.has(*_HYPERBOLIC):
            rewritten = expr.rewrite(sp.exp)
            attempts.append(("hyperbolic functions written with exp; ",
                             lambda seconds: intervals.decide_sign(rewritten, domain, rel.strict, seconds=seconds)))
    for done_first, attempt in attempts:
        seconds = deadline.remaining * _PROCEDURE_SHARE
        if seconds <= 0.05:
            break
        started = time.perf_counter()
        try:
            answer = attempt(seconds)
        except (OutOfTime, *_SYMPY_FAILURES):
            continue
        finally:
            if time.perf_counter() - started >= 0.9 * seconds:
                note_cutoff()  # the safety net, not a count, may have decided: never cache this
        if answer is None:
            continue
        if answer.proved:
            return _Decided(True, done_first + answer.method)
        if answer.counterexample and not done_first and domain.satisfied(dict(answer.counterexample)):
            evidence = recheck(dict(answer.counterexample))
            if evidence is not None:
                return _Decided(False, answer.method, evidence)
    return None


_HYPERBOLIC = (sp.sinh, sp.cosh, sp.tanh)


def _exponentials_as_powers(expr: sp.Expr, domain: Domain) -> tuple[sp.Expr, Domain] | None:
    """``expr`` with exponentials of linear forms as powers of one positive variable per symbol.

    Law: ``exp(c x + d) = exp(d) t**(c/g)`` with ``t = exp(g x)`` and ``g`` the gcd of the
    coefficients of ``x`` in every exponent, so exponents become integers. The fresh ``t``
    is positive and ``t >= 1 + g x`` (both true laws of ``exp``), so a claim proved for
    every such ``t`` holds for ``exp(g x)``; ``sinh``, ``cosh``, ``tanh`` and the
    functions of :data:`DEFINITIONS` are written with ``exp`` first. None when nothing
    changes or an exponent is not linear with rational coefficients.
    """
    rewritten = by_definitions(expr)
    if rewritten.has(*_HYPERBOLIC):
        rewritten = rewritten.rewrite(sp.exp)
    exponentials = rewritten.atoms(sp.exp)
    if not exponentials:
        return None
    gcds: dict[sp.Symbol, sp.Rational] = {}
    for e in exponentials:
        for term, coefficient in sp.expand(e.args[0]).as_coefficients_dict().items():
            if term == 1:
                if not coefficient.is_Rational:
                    return None
                continue
            if not (isinstance(term, sp.Symbol) and term.is_real and coefficient.is_Rational):
                return None
            gcds[term] = sp.gcd(gcds.get(term, coefficient), coefficient)
    fresh = {x: sp.Dummy(f"exp_{x}", positive=True) for x in sorted(gcds, key=str)}

    def as_power(e: sp.exp) -> sp.Expr:
        out: sp.Expr = sp.S.One
        for term, coefficient in sp.expand(e.args[0]).as_coefficients_dict().items():
            out *= sp.exp(coefficient) if term == 1 else fresh[term] ** (coefficient / gcds[term])
        return out

    powered = rewritten.xreplace({e: as_power(e) for e in exponentials})
    if powered == expr or powered.has(sp.exp) and not powered.free_symbols & set(fresh.values()):
        return None
    laws = [t >= 1 + gcds[x] * x for x, t in fresh.items()]
    try:
        return powered, Domain.build(powered.free_symbols | set(domain.intervals), (*domain.conditions, *laws))
    except InputError:
        return None


#: The share of the step's remaining budget a decision procedure may use. Their answers are
#: bounded by counts (z3's resource limit, arb's number of boxes), so the same step gets the
#: same answer on a loaded machine; the time is only a safety net that turns an answer into none.
_PROCEDURE_SHARE = 0.6


def _recheck(small: sp.Expr, big: sp.Expr, rel: Relation, point: dict[sp.Symbol, sp.Expr],
             digits: int, families: Families | None = None) -> _Evidence | None:
    """The evidence at ``point`` if the claim certainly fails there (exactly, or certified).

    With indexed families the point's sums are written out with entries drawn for it (the
    procedure's own values for entries, if any, are not used).
    """
    if families is not None:
        written = families.at((small, big), point, 0)
        if written is None:
            return None
        (small, big), shown = written
        point = {}
    else:
        shown = point
    slack_expr = big - small
    try:
        outcome = _evaluate(small, big, slack_expr, point, digits, _is_heavy(slack_expr))
    except (ZeroDivisionError, ValueError, TypeError, ArithmeticError, RecursionError):
        return None
    if outcome is None:
        return None
    lhs_v, rhs_v, slack, how = outcome
    if rel is Relation.EQ:
        fails = (lambda v: v != 0)
    else:
        fails = (lambda v: v < 0 or (rel.strict and v == 0)) if how == _EXACT else (lambda v: v < 0)
    if how == _EXACT:
        failed = fails(slack)
    elif how == _CERTIFIED:
        failed = fails(slack) and _confirmed(slack_expr, point, digits, fails)
    else:
        failed = False
    if not failed:
        return None
    return _Evidence(1, 0, slack, Counterexample(dict(shown), lhs_v, rhs_v, how == _EXACT))


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
    """Whether ``expr`` is structurally zero (SymPy's assumptions; for a closed number only ``== 0``,
    since asking a closed number ``is_zero`` evaluates it numerically, which proves nothing)."""
    if expr == 0:
        return True
    return bool(expr.free_symbols) and expr.is_zero is True


def _prove_equal(a: sp.Expr, b: sp.Expr, deadline: Deadline) -> str | None:
    """Return the procedure by which ``a - b`` is zero, else None."""
    diff = a - b
    attempts: list[tuple[str, Callable[[], sp.Expr]]] = [
        ("identical expressions", lambda: diff),
        ("expansion", lambda: sp.expand(diff)),
        ("rational simplification (cancel)", lambda: sp.cancel(sp.together(diff))),
        ("simplify", lambda: sp.simplify(diff)),
    ]
    if diff.has(sp.Sum, sp.Product):
        # sum_j (f_j + g_j) = sum_j f_j + sum_j g_j: the expanded sums split, and SymPy evaluates the
        # parts it can (sum_j c = m c); an unsplit sum of a difference is left as written.
        attempts.append(("expansion into sums of terms, then SymPy's sums", lambda: _split_sums(diff)))
    if diff.has(*DEFINITIONS):
        defined = by_definitions(diff)
        attempts += [
            ("rewriting sigmoid as 1/(1 + exp(-x)), then cancel", lambda: sp.cancel(sp.together(defined))),
            ("rewriting sigmoid as 1/(1 + exp(-x)), then simplify", lambda: sp.simplify(defined)),
        ]
    for name, attempt in attempts:
        if deadline.expired:
            note_cutoff()
            raise OutOfTime("budget")
        try:
            value = deadline.run(attempt, 0.8)
        except OutOfTime:
            continue  # a cheaper later attempt may still finish
        except _SYMPY_FAILURES:
            continue  # SymPy failed on this form; another attempt may succeed
        if _is_zero(value):
            return name
    return None


# -- sampling ----------------------------------------------------------------

def _real_number(value: sp.Expr) -> bool:
    """A finite real number as evaluated (a Float or a Rational), not an unevaluated object."""
    return bool((value.is_Float or value.is_Rational) and value.is_finite is not False
                and not value.has(sp.nan, sp.zoo, sp.oo, -sp.oo))


def _sample(small: sp.Expr, big: sp.Expr, rel: Relation, domain: Domain, count: int, seed: int,
            digits: int, deadline: Deadline, fraction: float, modulus: bool = False,
            families: Families | None = None) -> _Evidence:
    """Evaluate ``big - small`` at sample points; stop at the first counterexample.

    A point is a counterexample only when the failure is certain: exactly (rational
    values), or by a difference evaluated with all ``digits`` digits certified and
    confirmed at twice the precision. A difference known only roughly counts as a
    failure only beyond a tolerance far above its error. With indexed ``families``, each
    point's sums are written out with entries drawn for that point (:mod:`.families`).
    """
    evidence = _Evidence()
    stop_at = time.perf_counter() + deadline.remaining * fraction
    slack_expr = big - small
    tolerance = sp.Float(10) ** (-(digits - 12))
    heavy = _is_heavy(slack_expr)
    try:
        points = deadline.run(lambda: domain.sample(count, seed), fraction)
    except OutOfTime:
        return evidence
    if families is not None:
        # A point of few coordinates (only m) is visited again with another vector, up to ``count``.
        points = [points[n % len(points)] for n in range(count)] if points else points
        # Small sizes first: a counterexample with a short vector is one a person can read.
        points.sort(key=lambda p: max((abs(int(v)) for v in p.values() if v.is_Integer), default=0))
    # Ball arithmetic first where SymPy would not be exact anyway (see _passes_in_balls).
    balls = None if heavy or modulus or families or _rational_functions(small, big) else \
        intervals.point_values((small, big, slack_expr), domain.symbols)
    variable_powers = any(p.exp.free_symbols and not p.base.free_symbols for p in slack_expr.atoms(sp.Pow))
    for number, point in enumerate(points):
        if time.perf_counter() > stop_at:
            note_cutoff()
            break
        passed = None
        if balls is not None and not (variable_powers and _huge_power_at(slack_expr, point)):
            share = min(1.0, max(stop_at - time.perf_counter(), 1e-3) / max(deadline.remaining, 1e-9))
            try:
                passed = deadline.run(lambda: _passes_in_balls(balls, point, rel, digits), share)
            except OutOfTime:
                break
        if passed is not None:  # certainly no counterexample here: the point is evidence
            evidence.evaluated += 1
            if rel is Relation.EQ:
                evidence.worst = passed if evidence.worst is None else max(evidence.worst, passed)
            elif evidence.worst is None or passed < evidence.worst:
                evidence.worst = passed
            continue
        # What is evaluated here: the sides at the point, or (families) the sides written out.
        at_small, at_big, at_slack, at_point, at_heavy, shown = small, big, slack_expr, point, heavy, point
        try:
            remaining = max(stop_at - time.perf_counter(), 1e-3)
            if families is not None:
                written = deadline.run(lambda: families.at((small, big), point, number),
                                       min(1.0, remaining / max(deadline.remaining, 1e-9)))
                if written is None:
                    evidence.skipped += 1
                    continue
                (at_small, at_big), shown = written
                at_slack, at_point = at_big - at_small, {}
                at_heavy = _is_heavy(at_slack)
                remaining = max(stop_at - time.perf_counter(), 1e-3)
            outcome = deadline.run(lambda: _evaluate(at_small, at_big, at_slack, at_point, digits, at_heavy,
                                                     modulus),
                                   min(1.0, remaining / max(deadline.remaining, 1e-9)))
        except OutOfTime:
            break
        except (ZeroDivisionError, ValueError, TypeError, ArithmeticError, RecursionError):
            evidence.skipped += 1
            continue
        if outcome is None:
            evidence.skipped += 1
            continue
        lhs_v, rhs_v, slack, how = outcome
        evidence.evaluated += 1
        if rel is Relation.EQ:
            residual = abs(slack)
            if evidence.worst is None or residual > evidence.worst:
                evidence.worst = residual
            if how == _EXACT:
                failed = residual != 0
            elif how == _CERTIFIED:
                failed = residual != 0 and _confirmed(at_slack, at_point, digits, lambda v: v != 0)
            else:
                failed = residual > tolerance * _scale(lhs_v, rhs_v)
        else:
            if evidence.worst is None or slack < evidence.worst:
                evidence.worst = slack
            if how == _EXACT:
                failed = slack < 0 or (rel.strict and slack == 0)
            elif how == _CERTIFIED and slack < 0:
                failed = _confirmed(at_slack, at_point, digits, lambda v: v < 0)
            else:
                scale = _scale(lhs_v, rhs_v)
                failed = slack < -tolerance * scale
                if not failed and rel.strict and abs(slack) <= tolerance * scale:
                    failed = not at_heavy and _exactly_zero(at_slack, at_point, deadline)
        if failed:
            evidence.counterexample = Counterexample(dict(shown), lhs_v, rhs_v, how == _EXACT)
            break
    return evidence


#: How a value at a point is known: exactly, to all requested digits (certified by
#: evalf's error tracking), or only roughly.
_EXACT, _CERTIFIED, _ROUGH = "exact", "certified", "rough"

#: Integer exponents and factorial-like arguments beyond this are not evaluated exactly:
#: the exact rational would have millions of digits (and big-integer arithmetic in C
#: cannot be interrupted by the budget).
_HEAVY_EXPONENT = 4096
_FACTORIAL_LIKE = (sp.factorial, sp.factorial2, sp.subfactorial, sp.binomial, sp.gamma, sp.RisingFactorial,
                   sp.FallingFactorial, sp.harmonic, sp.fibonacci, sp.lucas, sp.Sum, sp.Product)


def _rational_functions(*sides: sp.Expr) -> bool:
    """Whether every side is a ratio of polynomials (with rational coefficients): exact at rational points."""
    return all(side.is_rational_function() and not side.has(sp.Float, sp.NumberSymbol, sp.I) for side in sides)


#: Working precision of the ball fast path, beyond the digits asked for: an exact zero difference must
#: enclose in a ball as small as SymPy's evalf can resolve (it works up to 400 bits).
_BALL_EXTRA_BITS = 480


def _passes_in_balls(balls: intervals.PointValues, point: dict[sp.Symbol, sp.Expr], rel: Relation,
                     digits: int) -> sp.Expr | None:
    """The fast path of sampling: the point's slack (for '=' its residual, 0) when ball arithmetic shows
    that the claim certainly holds there; None when it cannot (a side undefined or not finite there, a
    possible failure, anything uncertain): the point is then evaluated by SymPy as before, so every
    counterexample and every skipped point is still decided there.

    An inequality holds when the ball of ``big - small`` is >= 0 (> 0 when strict). An equality holds
    when that ball contains 0 and is narrower than the tolerance a rough SymPy value gets (relative to
    the sides); at this precision a ball is as narrow as SymPy's own evaluation can resolve.
    """
    try:
        found = balls.at(point, int(digits * 3.33) + _BALL_EXTRA_BITS)
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        return None
    if found is None or any(v is None for v in found):
        return None
    small, big, slack = found
    if rel is Relation.EQ:
        return sp.Float(0, digits) if intervals.within_of_zero(slack, (small, big), digits - 12) else None
    return intervals.midpoint_float(slack, digits) if slack.nonnegative(rel.strict) else None


def _is_heavy(expr: sp.Expr) -> bool:
    """Whether exact evaluation at a rational point could produce enormous numbers."""
    for power in expr.atoms(sp.Pow):
        exponent = power.exp
        if exponent.is_Integer and abs(int(exponent)) > _HEAVY_EXPONENT and power.base.free_symbols:
            return True
        if exponent.free_symbols and power.base.free_symbols:
            return True
    return any(atom.free_symbols for atom in expr.atoms(*_FACTORIAL_LIKE))


def _huge_power_at(expr: sp.Expr, point: dict[sp.Symbol, sp.Expr]) -> bool:
    """Whether a power with a variable exponent (``2**(10**9 n)``) is enormous at ``point``:
    then it is evaluated numerically, never as an exact integer with millions of digits."""
    for power in expr.atoms(sp.Pow):
        if power.exp.free_symbols and not power.base.free_symbols and power.base not in (0, 1, -1):
            exponent = power.exp.xreplace(point)
            if exponent.is_number and exponent.is_Rational and abs(exponent) > _HEAVY_EXPONENT:
                return True
    return False


def _scale(lhs: sp.Expr, rhs: sp.Expr) -> sp.Expr:
    """The magnitude the tolerance of a rough comparison is relative to (at least 1)."""
    try:
        return max(sp.Float(1), abs(sp.Float(lhs)), abs(sp.Float(rhs)))
    except (TypeError, ValueError):  # not a plain number: no scale to be relative to
        return sp.Float(1)


def _confirmed(expr: sp.Expr, point: dict[sp.Symbol, sp.Expr], digits: int,
               fails: Callable[[sp.Expr], bool]) -> bool:
    """Re-evaluate ``expr`` at twice the precision: the failure must still be certain."""
    value, how = _certified(_at(expr, point, heavy=True), 2 * digits)
    if how != _CERTIFIED or value is None or not value.is_number:
        return False
    if not _real_number(value):  # a complex difference (an equality over the complex numbers)
        re, im = value.as_real_imag()
        value = sp.sqrt(re**2 + im**2).evalf(2 * digits)
    return _real_number(value) and fails(value)


def _at(expr: sp.Expr, point: dict[sp.Symbol, sp.Expr], heavy: bool) -> sp.Expr:
    """``expr`` at ``point``: substituted exactly, or (heavy) kept for numerical substitution."""
    if not heavy:
        return expr.xreplace(point)
    return _Substituted(expr, point)  # type: ignore[return-value]


class _Substituted:
    """An expression with a point, evaluated by ``evalf(subs=...)`` (no exact powers).

    Finite sums and products that the point gives integer limits are added up (multiplied
    out) exactly first, term by term, when there are at most :data:`_MAX_TERMS` rational terms.
    A sum added up in ball arithmetic (no closed form) makes the value :attr:`approximate`: its
    digits are right, but SymPy would take the Float for an exact number, so the value is never
    certified (a counterexample then needs a failure far beyond the error).
    """

    def __init__(self, expr: sp.Expr, point: dict[sp.Symbol, sp.Expr]) -> None:
        self.expr, self.point = expr, point
        self.approximate = False

    def evalf(self, digits: int, **options: Any) -> sp.Expr:
        expr = self.expr
        if expr.has(sp.Sum, sp.Product):
            expr = _outermost_sums(expr, lambda e: self._written(e, digits))
        return expr.evalf(digits, subs=self.point, **options)

    def _written(self, written: sp.Expr, digits: int) -> sp.Expr:
        value = _at_point(written, self.point, digits)
        if value.is_Float:
            self.approximate = True
        return value


#: Terms a sum or product at a sample point is evaluated with exactly (else left to evalf).
_MAX_TERMS = 20_000
#: ... as long as the exact value stays below this many bits.
_MAX_EXACT_BITS = 2_000_000


def _outermost_sums(expr: sp.Basic, value: Callable[[sp.Expr], sp.Expr]) -> sp.Basic:
    """``expr`` with each outermost sum or product replaced by ``value`` of it (an inner one is part of
    its outer one's terms: its limits may use the outer summation index, which the point must not fix)."""
    if isinstance(expr, (sp.Sum, sp.Product)):
        return value(expr)
    if not expr.args or not expr.has(sp.Sum, sp.Product):
        return expr
    return expr.func(*(_outermost_sums(a, value) for a in expr.args))


def _at_point(written: sp.Expr, point: dict[sp.Symbol, sp.Expr], digits: int) -> sp.Expr:
    """A sum or product for evaluation at ``point``: exact term by term, else SymPy's closed form,
    else term by term in ball arithmetic (about ``2 digits`` certain digits), else no value (ValueError).

    A limit that is a number but not an integer there (``sum_{k=1}^{K}`` at ``K = 5/2``) has no
    value: the point is not evaluated (SymPy would extrapolate by Euler-Maclaurin).
    """
    for limit in written.limits:
        for bound in limit[1:]:
            at = bound.xreplace(point)
            if at.is_number and not at.is_integer and at.is_finite is not False:
                raise ValueError(f"the limit {bound} of a sum or product is {at} at this point, not an integer")
    exact = _exact_finite(written, point)
    if exact is not written:
        return exact
    if _reversed_at(written, point):  # SymPy's closed forms need not follow Karr's convention there
        raise ValueError(f"{written} runs backwards at this point and has no exact value")
    closed = _closed_form(written)
    if not closed.has(sp.Sum, sp.Product):
        return closed
    # No closed form: the terms in ball arithmetic, with twice the digits asked for, so the Float's
    # error is far below the tolerance of a rough value. Not SymPy's evalf: it extrapolates by
    # Euler-Maclaurin, whose error estimate fails on terms with a narrow peak (a wrong value that
    # it certifies), so a sum neither summed in balls nor in closed form gives the point no value.
    in_balls = _ball_finite(written, point, 2 * digits + 20)
    if in_balls is None:
        raise ValueError(f"{written} has no closed form and cannot be added up term by term here")
    return in_balls


def _reversed_at(written: sp.Expr, point: dict[sp.Symbol, sp.Expr]) -> bool:
    """Whether a limit pair of ``written`` is ``b < a - 1`` at ``point`` (or cannot be compared there)."""
    for _, low, high in written.limits:
        size = (high - low + 1).xreplace(point)
        if not (size.is_number and size.is_nonnegative):
            return True
    return False


def _limits_in_order(exprs: Sequence[sp.Basic], domain: Domain) -> bool:
    """Whether every sum and product in ``exprs`` has ``upper >= lower - 1`` on the whole domain.

    Where a sum may run backwards, SymPy's closed forms and its sign assumptions about sums do not
    follow Karr's convention (``sum_{a}^{b} = -sum_{b+1}^{a-1}``, which sampling follows): the
    delta sum ``Sum(KroneckerDelta(i, j), (j, 1, M))`` is 0 or 1 by ``doit`` but -1 at M = -3, i = 0.
    """
    for expr in exprs:
        if not isinstance(expr, sp.Basic):
            continue
        for written in expr.atoms(sp.Sum, sp.Product):
            for index, low, high in written.limits:
                size = high - low + 1
                if size.is_nonnegative:
                    continue
                box = {v: (domain.intervals[v].lo, domain.intervals[v].hi)
                       for v in size.free_symbols if v in domain.intervals}
                found = intervals.enclose(size, box) if len(box) == len(size.free_symbols) else None
                if found is not None and found.nonnegative(False):
                    continue
                # Running backwards, the index takes values below the lower limit: a sign declared for
                # it (j positive) need not hold there, and SymPy has already used it (sign(j) -> 1).
                signed = any(index.assumptions0.get(p) for p in ("positive", "negative", "nonnegative",
                                                                 "nonpositive", "nonzero"))
                if signed or not _karr_consistent(written):
                    return False
    return True


def _split_sums(expr: sp.Expr) -> sp.Expr:
    """``expr`` expanded, its sums split term by term and evaluated by SymPy where every closed form
    used is certified (:func:`_closed_forms_certified`); else ``expr`` unchanged. Run it under a budget."""
    expanded = sp.expand(expr)
    return expanded.doit() if _closed_forms_certified((expanded,)) else expr


def _closed_forms_certified(exprs: Sequence[sp.Basic]) -> bool:
    """Whether every sum and product in ``exprs`` that SymPy evaluates has a certified closed form.

    A step proved on SymPy's closed forms is only as right as its summation, which has bugs:
    ``sum_{k=0}^{n} (-1)^k binomial(n, k)`` is 0 by ``doit`` but 1 at n = 0, and a delta sum with
    a real index is 1 where it is 0. A closed form is used only when the telescoping laws certify it
    (:func:`_certified_closed_form`); a sum SymPy leaves as written needs no certificate. Run it under
    a budget (SymPy's summation can take minutes): :class:`OutOfTime` propagates and is not cached.
    """
    for expr in exprs:
        if not isinstance(expr, sp.Basic):
            continue
        for written in expr.atoms(sp.Sum, sp.Product):
            if not _certified_closed_form(written):
                return False
    return True


@functools.lru_cache(maxsize=512)
def _certified_closed_form(written: sp.Expr) -> bool:
    """Whether SymPy's value of ``written`` is certified by telescoping, or SymPy leaves it as written.

    For one index ``k`` and fresh integer limits ``A``, ``B``, SymPy's closed form ``C(A, B)`` of
    ``sum_{k=A}^{B} f(k)`` is right for all integers when ``C(A, A - 1) = 0`` (the empty sum) and
    ``C(A, B) - C(A, B - 1) = f(B)`` hold as identities: by induction on ``B`` upwards and downwards
    they are the sum and Karr's convention for ``B < A - 1``. (A product: ``C(A, A - 1) = 1`` and
    ``C(A, B) = C(A, B - 1) f(B)``.) Then SymPy's value at the written limits must equal ``C`` there.
    """
    try:
        value = written.doit()
        if value == written:
            return True
        if len(written.limits) != 1:
            return False
        k, low, high = written.limits[0]
        if low.is_Integer and high.is_Integer and -_MAX_WRITTEN_OUT <= high - low + 1 <= _MAX_WRITTEN_OUT:
            # Fewer than 100 terms between number limits: SymPy adds them up one by one (eval_sum_direct),
            # unless a delta takes its own path first (it solves 2k = j as k = j/2, integer or not).
            if abs(high - low) < 100 and _plain_deltas(written.function, k):
                return True
            return _is_identically_zero(value - _written_out(written))
        b = sp.Dummy("B", integer=True)
        function, at_b = written.function, written.function.subs(k, b)  # subs: an inner sum binding k stays
        # The written lower limit first (its closed forms are the familiar ones: harmonic(B, 2)), then
        # a free one; with the written lower limit the laws certify the sum for every integer B.
        for a in (low, sp.Dummy("A", integer=True)):
            closed = type(written)(function, (k, a, b)).doit()
            free_limits = {a, b} - {low}  # the written lower limit (n in sum_{k=n}^{2n}) is a parameter
            pieces = _pieces(closed, free_limits)
            if pieces is None or not _defined_for_every_parameter(pieces, free_limits, function):
                continue
            laws = []
            for piece, given in pieces:  # a piece holds under a condition free of the limits: its own laws
                term = at_b.xreplace(given)
                if isinstance(written, sp.Sum):
                    laws += [piece.xreplace({b: a - 1}), piece - piece.xreplace({b: b - 1}) - term]
                else:
                    laws += [piece.xreplace({b: a - 1}) - 1, piece - piece.xreplace({b: b - 1}) * term]
            here = closed.xreplace({b: high}) if a is low else closed.xreplace({a: low, b: high})
            if all(_is_identically_zero(_successors(e, b)) for e in laws) and _is_identically_zero(value - here):
                return True
        return False
    except _SYMPY_FAILURES:
        return False


#: Share of a step's remaining budget for certifying SymPy's closed forms of its sums.
CERTIFY_SHARE = 0.4


def _plain_deltas(function: sp.Expr, k: sp.Symbol) -> bool:
    """Whether every delta in ``function`` compares integers and holds ``k`` only as ``+-k + c``: then
    SymPy's delta summation picks the right term (it solves ``2k = j`` as ``k = j/2``, integer or not)."""
    for delta in function.atoms(sp.KroneckerDelta):
        for argument in delta.args:
            if argument.is_integer is not True:
                return False
            if argument.has(k) and not (sp.diff(argument, k) in (1, -1) and not sp.diff(argument, k, 2)):
                return False
    return True


#: Terms of a sum with number limits that its certificate writes out (``sum_{j=1}^{3} x_j``).
_MAX_WRITTEN_OUT = 200


def _written_out(written: sp.Expr) -> sp.Expr:
    """A sum (product) with integer limits as its terms added (multiplied) up; backwards limits by
    Karr's convention, ``sum_{a}^{b} = -sum_{b+1}^{a-1}`` (``1/prod``)."""
    k, low, high = written.limits[0]
    first, last = int(low), int(high)
    backwards = last < first - 1
    if backwards:
        first, last = last + 1, first - 1
    terms = [written.function.subs(k, i) for i in range(first, last + 1)]
    if isinstance(written, sp.Sum):
        total = sp.Add(*terms)
        return -total if backwards else total
    product = sp.Mul(*terms)
    return 1 / product if backwards else product


def _pieces(closed: sp.Expr, limits: set[sp.Basic]) -> list[tuple[sp.Expr, dict[sp.Basic, sp.Basic]]] | None:
    """A closed form as (expression, substitution) pieces: one piece, or the pieces of a Piecewise
    whose conditions do not involve ``limits`` (``Eq(x, 1)``: the piece is taken at x = 1). None when
    it is no closed form (a sum over the limits left) or a condition involves a limit. A sum that does
    not involve the limits (``m c`` with ``c`` an inner sum over another index) is a constant there."""
    if any(inner.free_symbols & limits for inner in closed.atoms(sp.Sum, sp.Product)):
        return None
    if not isinstance(closed, sp.Piecewise):
        return None if closed.has(sp.Piecewise) else [(closed, {})]
    out = []
    for piece, condition in closed.args:
        if piece.has(sp.Piecewise) or condition.free_symbols & limits:
            return None
        given = {condition.lhs: condition.rhs} if isinstance(condition, sp.Eq) and condition.lhs.is_Symbol else {}
        out.append((piece.xreplace(given), given))
    return out


def _defined_for_every_parameter(pieces: list[tuple[sp.Expr, dict[sp.Basic, sp.Basic]]],
                                 limits: set[sp.Basic], function: sp.Expr) -> bool:
    """Whether no piece divides by a factor of the parameters alone that can vanish where the piece
    applies: the laws hold as identities of rational functions, which says nothing where a denominator
    is 0 (``(...)/n`` at n = 0, where SymPy's cancelled value may be wrong). A factor ``x - 1`` after a
    piece for ``Eq(x, 1)`` is fine (the geometric sum), and so is one the summand divides by itself."""
    own = set(_denominator_factors(function))
    covered: list[dict[sp.Basic, sp.Basic]] = []
    for piece, given in pieces:
        for factor in _denominator_factors(piece):
            if factor.free_symbols & limits or not factor.free_symbols or factor in own:
                continue
            if len(factor.free_symbols) != 1:
                return False
            (parameter,) = factor.free_symbols
            try:
                roots = sp.roots(sp.Poly(factor, parameter))
            except sp.PolynomialError:
                return False
            if sum(roots.values()) != sp.degree(factor, parameter):
                return False  # roots SymPy cannot list
            if not all(any(earlier.get(parameter) == root for earlier in covered) for root in roots):
                return False
        covered.append(given)
    return True


def _denominator_factors(expr: sp.Expr) -> list[sp.Expr]:
    """The factors of ``expr``'s denominator that hold a symbol (the whole denominator if it does not
    factor as a polynomial)."""
    denominator = sp.denom(sp.together(expr))
    if not denominator.free_symbols:
        return []
    try:
        return [factor for factor, _ in sp.factor_list(denominator)[1] if factor.free_symbols]
    except sp.PolynomialError:
        return [denominator]


def _successors(expr: sp.Expr, b: sp.Symbol) -> sp.Expr:
    """``expr`` with ``harmonic(b + c, m)`` and ``factorial(b + c)`` (integer c) written through their
    values at ``b``, by the successor laws ``H(n, m) = H(n - 1, m) + 1/n^m`` and ``n! = n (n - 1)!``."""
    def shifted(e: sp.Basic) -> sp.Basic:
        argument = e.args[0]
        c = argument - b
        if not (c.is_Integer and c != 0 and abs(int(c)) <= 64):
            return e
        steps = range(1, int(c) + 1) if c > 0 else range(int(c) + 1, 1)
        if isinstance(e, sp.harmonic):
            order = e.args[1] if len(e.args) > 1 else sp.S.One
            total = sp.Add(*(1 / (b + i)**order for i in steps))
            return sp.harmonic(b, order) + total if c > 0 else sp.harmonic(b, order) - total
        product = sp.Mul(*(b + i for i in steps))
        return sp.factorial(b) * product if c > 0 else sp.factorial(b) / product

    return expr.replace(lambda e: isinstance(e, (sp.harmonic, sp.factorial)) and e.args[0].has(b), shifted)


def _is_identically_zero(expr: sp.Expr) -> bool:
    """``expr`` is 0 by expansion of its special functions and simplification (False: not shown)."""
    if expr == 0:
        return True
    for attempt in (sp.expand, lambda e: sp.simplify(sp.expand_func(e)), lambda e: sp.simplify(sp.combsimp(e))):
        if attempt(expr) == 0:
            return True
    return False


@functools.lru_cache(maxsize=256)
def _karr_consistent(written: sp.Expr) -> bool:
    """Whether SymPy's closed form ``C(a, b)`` of ``written`` over any limits obeys Karr's laws:
    ``C(a, a - 1)`` is empty (0; 1 for a product) and ``C(a, b) + C(b + 1, c) = C(a, c)`` (times for a
    product). Those laws define the convention for every a, b, c, so such a closed form holds for
    sums that run backwards too (``sum_{k=1}^{j} 1 = j`` at ``j = -1``); a Piecewise one need not.
    Run it under a budget: :class:`OutOfTime` propagates and is not cached.
    """
    if len(written.limits) != 1:
        return False
    k = written.limits[0][0]
    a, b, c = (sp.Dummy(name, integer=True) for name in "abc")
    try:
        def closed(low: sp.Expr, high: sp.Expr) -> sp.Expr:
            value = type(written)(written.function, (k, low, high)).doit()
            if value.has(sp.Sum, sp.Product, sp.Piecewise):
                raise ValueError("no closed form without conditions")
            return value
        if isinstance(written, sp.Sum):
            empty, joined = closed(a, a - 1), closed(a, b) + closed(b + 1, c) - closed(a, c)
            return bool(sp.expand(empty) == 0 and sp.expand(joined) == 0)
        empty, joined = closed(a, a - 1), closed(a, b) * closed(b + 1, c) / closed(a, c)
        return bool(sp.cancel(empty - 1) == 0 and sp.cancel(joined - 1) == 0)
    except _SYMPY_FAILURES:
        return False


def _ball_finite(written: sp.Expr, point: dict[sp.Symbol, sp.Expr], digits: int) -> sp.Float | None:
    """A sum or product with integer limits at ``point`` (in order, at most :data:`_MAX_TERMS` terms)
    whose terms are not all rational, to ``digits`` certain digits by ball arithmetic; else None."""
    limits = _limits_at(written, point)
    if limits is None or not 0 <= limits[2] - limits[1] + 1 <= _MAX_TERMS:
        return None
    k, low, high, function = limits
    return intervals.finite_value(function, k, low, high, isinstance(written, sp.Sum), digits)


def _rational_terms(function: sp.Expr, k: sp.Symbol) -> Callable[[int], tuple[int, int] | None] | None:
    """``i -> (p, q)`` with ``function(i) = p/q`` exactly, for a ratio of polynomials in ``k``.

    The polynomials must have rational coefficients (cleared to integers, so each term costs
    two integer Horner evaluations). None when ``function`` is not such a ratio; the
    callable gives None where the denominator of the reduced ratio vanishes. The ratio is
    reduced first, as SymPy's own evaluation of the sum does (``(k**2 - 9)/(k - 3)`` is 6 at 3).
    """
    if function.free_symbols - {k}:
        return None
    try:
        top, bottom = sp.fraction(sp.cancel(function))
        polys = [sp.Poly(top, k), sp.Poly(bottom, k)]
    except (sp.PolynomialError, sp.GeneratorsNeeded, ValueError, TypeError):
        return None
    if not all(c.is_Rational for poly in polys for c in poly.all_coeffs()):
        return None
    scale = sp.ilcm(*[c.q for poly in polys for c in poly.all_coeffs()])
    coefficients = [[int(c * scale) for c in poly.all_coeffs()] for poly in polys]

    def horner(cs: list[int], i: int) -> int:
        value = 0
        for c in cs:
            value = value * i + c
        return value

    def term(i: int) -> tuple[int, int] | None:
        below = horner(coefficients[1], i)
        return None if below == 0 else (horner(coefficients[0], i), below)

    return term


def _exact_finite(written: sp.Expr, point: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    """A sum or product with integer limits at ``point`` and rational terms, as an exact rational.

    Law: a finite sum (product) is the sum (product) of its terms; ``sum_{k=a}^{a-1} f(k) = 0``,
    ``prod = 1``, and for ``b < a - 1`` SymPy's convention ``sum_{a}^{b} = -sum_{b+1}^{a-1}``
    (``prod_{a}^{b} = 1/prod_{b+1}^{a-1}``), so that sampling agrees with SymPy's closed forms
    and with induction. ``written`` itself when the limits are not integers there,
    a term is not rational (or undefined), or the count or size bounds are exceeded.
    """
    limits = _limits_at(written, point)
    if limits is None or abs(limits[2] - limits[1]) + 1 > _MAX_TERMS:
        return written
    k, low, high, function = limits
    is_sum = isinstance(written, sp.Sum)
    if high < low - 1:  # SymPy's (Karr's) convention: sum_{a}^{b} = -sum_{b+1}^{a-1}, prod = 1/prod
        value = _finite_value(is_sum, function, k, high + 1, low - 1)
        if value is None or (not is_sum and value == 0):
            return written
        return -value if is_sum else 1 / value
    value = _finite_value(is_sum, function, k, low, high)
    return written if value is None else value


def _limits_at(written: sp.Expr, point: dict[sp.Symbol, sp.Expr]) -> tuple[sp.Symbol, int, int, sp.Expr] | None:
    """``(k, low, high, term)`` of a one-limit sum or product whose limits are integers at ``point``, its
    term with the point's other values in; None otherwise, or when the term holds an inner sum (which
    binds its own variables: the point's values must not reach them)."""
    if len(written.limits) != 1 or written.function.has(sp.Sum, sp.Product):
        return None
    k, low, high = (lim.xreplace(point) for lim in written.limits[0])
    if not (low.is_Integer and high.is_Integer):
        return None
    return k, int(low), int(high), written.function.xreplace({s: v for s, v in point.items() if s != k})


#: Terms other than ratios of polynomials (sign(k - 3), sqrt(k), ...) added up exactly by SymPy, one by one.
_MAX_SYMPY_TERMS = 200


@functools.lru_cache(maxsize=64)
def _finite_value(is_sum: bool, function: sp.Expr, k: sp.Symbol, low: int, high: int) -> sp.Expr | None:
    """The exact sum (product) of the terms for ``k = low..high``: integer arithmetic for a ratio of
    polynomials, else SymPy's own value of each term for at most :data:`_MAX_SYMPY_TERMS` terms; None
    when a term is not a finite number."""
    terms = _rational_terms(function, k)
    if terms is None:
        if high - low + 1 > _MAX_SYMPY_TERMS:
            return None
        values = [function.xreplace({k: sp.Integer(i)}) for i in range(low, high + 1)]
        if not all(v.is_number and v.is_finite for v in values):
            return None
        return sp.Add(*values) if is_sum else sp.Mul(*values)
    tops: list[int] = []
    bottoms: list[int] = []
    bits = 0
    for i in range(low, high + 1):
        term = terms(i)
        if term is None:
            return None
        tops.append(term[0])
        bottoms.append(term[1])
        bits += term[0].bit_length() + term[1].bit_length()
        if bits > _MAX_EXACT_BITS:
            return None
    if is_sum:
        total = sum((Fraction(p, q) for p, q in zip(tops, bottoms)), Fraction(0))
        return sp.Rational(total.numerator, total.denominator)
    # A product tree: numerators and denominators multiplied in balanced pairs, reduced once.
    return sp.Rational(_product(tops), _product(bottoms))


def _product(factors: list[int]) -> int:
    """The product of ``factors`` by a balanced tree (fast for big integers)."""
    while len(factors) > 1:
        factors = [factors[i] * factors[i + 1] if i + 1 < len(factors) else factors[i]
                   for i in range(0, len(factors), 2)]
    return factors[0] if factors else 1


def _exactly_zero(expr: sp.Expr, point: dict[sp.Symbol, sp.Expr], deadline: Deadline) -> bool:
    """Whether ``expr`` is exactly 0 at ``point`` (a strict inequality fails there)."""
    try:
        value = deadline.run(lambda: sp.simplify(expr.xreplace(point)), 0.2)
    except OutOfTime:
        return False
    return _is_zero(value)


def _evaluate(small: sp.Expr, big: sp.Expr, slack_expr: sp.Expr, point: dict[sp.Symbol, sp.Expr],
              digits: int, heavy: bool = False, modulus: bool = False) -> tuple[sp.Expr, sp.Expr, sp.Expr, str] | None:
    """Both sides and ``big - small`` at ``point``, and how well the difference is known.

    Exact if both sides are rational there; else ``digits`` digits, certified when
    evalf can guarantee them. Returns None when a side is not a finite real number
    there (outside its domain).
    """
    heavy = heavy or _huge_power_at(slack_expr, point)
    undefined = slack_expr.has(AppliedUndef)
    if undefined and heavy:
        # A function with no definition has no value: a side is a number only where it is multiplied by
        # an exact zero, which is not looked for among enormous powers (evalf would search for digits
        # of the undefined value at ever higher precision, for seconds).
        return None
    if modulus:  # an equality over the complex numbers: |big - small| at the point
        value, how = _certified(_at(slack_expr, point, heavy), digits)
        if value is None or not value.is_number or value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            return None
        re, im = value.as_real_imag()
        size = sp.sqrt(re**2 + im**2).evalf(digits)
        return sp.S.Zero, size, size, how if _real_number(size) else _ROUGH
    if not heavy:
        s_val = small.xreplace(point)
        b_val = big.xreplace(point)
        if s_val.is_Rational and b_val.is_Rational:
            return s_val, b_val, b_val - s_val, _EXACT
        if undefined and (s_val.has(AppliedUndef) or b_val.has(AppliedUndef)):
            return None  # the value of a function with no definition: not a number
    s_num, _ = _certified(_at(small, point, heavy), digits)
    b_num, _ = _certified(_at(big, point, heavy), digits)
    if s_num is None or b_num is None or not (_real_number(s_num) and _real_number(b_num)):
        return None
    # The difference is evaluated as one expression so evalf can manage cancellation.
    slack, how = _certified(_at(slack_expr, point, heavy), digits)
    if slack is None or not _real_number(slack):
        return None
    return s_num, b_num, slack, how


def _log_near_one(expr: sp.Expr, point: dict[sp.Symbol, sp.Expr] | None) -> bool:
    """Whether a logarithm in ``expr`` (at ``point``) has an argument within 1e-20 of 1, or one that
    cannot be evaluated: where SymPy's evalf of the logarithm may be exactly 0 with no correct digit."""
    for atom in expr.atoms(sp.log):
        argument = atom.args[0]
        try:
            if argument.is_Rational:  # exact already: no evaluation
                distance = abs(float(argument) - 1.0)
            else:
                used = {s: v for s, v in (point or {}).items() if s in argument.free_symbols}
                value = argument.evalf(30, subs=used) if used else argument.evalf(30)
                if value.free_symbols:  # no value (an entry of a family, a sum it cannot add up)
                    return True
                # a real value needs no second evaluation by complex() (its distance is the same)
                distance = abs(float(value) - 1.0) if value.is_Float else abs(complex(value) - 1)
        except (TypeError, ValueError, ArithmeticError):
            return True
        if distance < 1e-20:
            return True
    return False


def _certified(value: Any, digits: int) -> tuple[sp.Expr | None, str]:
    """``value`` to ``digits`` digits and whether they are certified (:data:`_CERTIFIED`).

    Without ``strict``, evalf may return a number with no correct digit after a
    heavy cancellation, which must never become a counterexample: such a value
    is returned only when its precision is usable, marked :data:`_ROUGH`.
    """
    expr, point = (value.expr, value.point) if isinstance(value, _Substituted) else (value, None)
    distrusted = False
    if (isinstance(expr, sp.Expr) and expr.has(sp.log) and (point is not None or not expr.free_symbols)
            and _log_near_one(expr, point)):
        # SymPy's evalf of log(u) for u within ~1e-60 of 1 is exactly 0 and "certified"; balls are not
        # fooled (intervals.number_value). A value the balls cannot pin down is not certified.
        balls = intervals.number_value(expr, digits, point)
        if balls is not None:
            return balls, _CERTIFIED
        near = intervals.number_enclosure(expr, intervals.NUMBER_BITS[-1], point)
        if near is not None:  # enclosed, yet too close to 0 for the largest precision tried
            if intervals.within_of_zero(near, (), digits - 12):
                return sp.Float(0, digits), _ROUGH  # as evalf's own "zero up to a tiny bound" below
            return None, _ROUGH
        distrusted = True  # no enclosure (tan, gamma, a complex value): evalf's digits may be wrong

    def trusted() -> str:  # after evalf: a sum added up in balls marks the value approximate then
        return _ROUGH if distrusted or getattr(value, "approximate", False) else _CERTIFIED

    try:
        found = value.evalf(digits, strict=True)
        return found, trusted()
    except PrecisionExhausted:
        pass
    try:  # a higher working precision often resolves the cancellation
        found = value.evalf(digits, strict=True, maxn=max(400, 8 * digits))
        return found, trusted()
    except PrecisionExhausted:
        pass
    # An exact zero never reaches full relative precision: evalf then returns a
    # number known only up to a magnitude bound. Tiny bound: zero. Otherwise: unknown.
    rough = value.evalf(digits)
    if not rough.is_Float:
        return None, _ROUGH
    if abs(float(rough)) <= 10.0 ** (-(digits - 12)):
        return sp.Float(0, digits), _ROUGH
    return (rough if rough._prec >= 53 else None), _ROUGH
