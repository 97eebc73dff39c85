"""The core model: relations, steps, proofs, verdicts, reports, documents.

Everything here is a small frozen value. Producing steps (the catalog, the
differentiator) and checking them (:mod:`symgrad.kernel`) live elsewhere; the
renderers read these objects and nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence, Union

import sympy as sp

from .errors import ChainError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from .kernel import CheckOptions

__all__ = [
    "Relation",
    "Status",
    "Justification",
    "Step",
    "Proof",
    "Counterexample",
    "Verdict",
    "Report",
    "calc",
    "Prose",
    "Section",
    "Equation",
    "ProofBlock",
    "Table",
    "Listing",
    "Figure",
    "Block",
    "Document",
    "DocumentReport",
]


class Relation(enum.Enum):
    """A relation between consecutive expressions of a chain."""

    EQ = "="
    LE = "<="
    LT = "<"
    GE = ">="
    GT = ">"

    @property
    def direction(self) -> int:
        """0 for ``=``, -1 for ``<=``/``<``, +1 for ``>=``/``>``."""
        return {"=": 0, "<=": -1, "<": -1, ">=": 1, ">": 1}[self.value]

    @property
    def strict(self) -> bool:
        return self in (Relation.LT, Relation.GT)

    @property
    def latex(self) -> str:
        return {"=": "=", "<=": r"\le", "<": "<", ">=": r"\ge", ">": ">"}[self.value]

    @property
    def unicode(self) -> str:
        return {"=": "=", "<=": "≤", "<": "<", ">=": "≥", ">": ">"}[self.value]

    @property
    def word(self) -> str:
        return {"=": "eq", "<=": "le", "<": "lt", ">=": "ge", ">": "gt"}[self.value]

    def then(self, other: "Relation") -> "Relation":
        """Compose: ``a R b`` and ``b S c`` give ``a (R.then(S)) c``.

        Law (transitivity): ``=`` is neutral; ``<=`` then ``<`` is ``<``;
        a chain may not mix the two directions.
        """
        if self.direction == 0:
            return other
        if other.direction == 0:
            return self
        if self.direction != other.direction:
            raise ChainError(
                f"cannot chain '{self.value}' with '{other.value}': a calc chain "
                "may not mix <= and >= (it would prove nothing)"
            )
        return self if self.strict else other

    def holds(self, lhs: Any, rhs: Any) -> Any:
        """Evaluate ``lhs REL rhs`` on numbers."""
        if self is Relation.EQ:
            return lhs == rhs
        if self is Relation.LE:
            return lhs <= rhs
        if self is Relation.LT:
            return lhs < rhs
        if self is Relation.GE:
            return lhs >= rhs
        return lhs > rhs

    def sympy(self, lhs: sp.Expr, rhs: sp.Expr) -> sp.Basic:
        """The unevaluated SymPy relational ``lhs REL rhs``."""
        cls = {"=": sp.Eq, "<=": sp.Le, "<": sp.Lt, ">=": sp.Ge, ">": sp.Gt}[self.value]
        return cls(lhs, rhs, evaluate=False)

    @classmethod
    def parse(cls, value: Union["Relation", str]) -> "Relation":
        if isinstance(value, Relation):
            return value
        aliases = {"==": "=", "≤": "<=", "≥": ">=", "eq": "=", "le": "<=", "lt": "<",
                   "ge": ">=", "gt": ">"}
        text = aliases.get(value, value)
        try:
            return cls(text)
        except ValueError:
            raise InputError(f"unknown relation {value!r}: use one of = <= < >= >") from None


class Status(str, enum.Enum):
    """The four honest statuses of a verdict, weakest last but one.

    - ``proved``: a symbolic procedure established the step.
    - ``numeric``: no symbolic proof; no counterexample at the sampled points.
    - ``refuted``: a counterexample was found.
    - ``unknown``: the time budget ran out with no evidence either way.
    """

    PROVED = "proved"
    NUMERIC = "numeric"
    REFUTED = "refuted"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """Order of strength: proved < numeric < unknown < refuted."""
        return {"proved": 0, "numeric": 1, "unknown": 2, "refuted": 3}[self.value]

    @staticmethod
    def weakest(statuses: Iterable["Status"]) -> "Status":
        result = Status.PROVED
        for status in statuses:
            if status.rank > result.rank:
                result = status
        return result


@dataclass(frozen=True)
class Justification:
    """Why a step holds: a registered rule, free text, or both."""

    rule: str | None = None
    text: str | None = None

    def __str__(self) -> str:
        if self.rule and self.text:
            return f"{self.text} [{self.rule}]"
        return self.rule or self.text or ""

    @property
    def empty(self) -> bool:
        return not (self.rule or self.text)


def _as_expr(value: Any, where: str) -> sp.Expr:
    """Convert a Python number or SymPy object to a SymPy expression.

    Strings are refused: symgrad never parses untrusted text with sympify.
    """
    if isinstance(value, sp.MatrixBase) and not isinstance(value, sp.ImmutableMatrix):
        return sp.ImmutableMatrix(value)  # type: ignore[return-value]
    if isinstance(value, sp.Basic):
        if isinstance(value, sp.logic.boolalg.Boolean) and not isinstance(value, sp.Expr):
            raise InputError(f"{where}: expected an expression, got the boolean {value}")
        return value  # type: ignore[return-value]
    if isinstance(value, bool):
        raise InputError(f"{where}: expected an expression, got the boolean {value!r}")
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        return sp.Float(value)
    try:
        from fractions import Fraction

        if isinstance(value, Fraction):
            return sp.Rational(value.numerator, value.denominator)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, str):
        raise InputError(
            f"{where}: got the string {value!r}; build expressions with SymPy "
            "(symgrad does not sympify text)"
        )
    raise InputError(f"{where}: expected a SymPy expression or a number, got {type(value).__name__}")


def _as_condition(value: Any, where: str) -> sp.Basic:
    if isinstance(value, bool):
        raise InputError(f"{where}: the assumption is the constant {value}; pass a SymPy relation")
    if isinstance(value, (sp.logic.boolalg.BooleanTrue, sp.logic.boolalg.BooleanFalse)):
        raise InputError(f"{where}: the assumption evaluated to {value} before symgrad saw it")
    if isinstance(value, sp.Rel) or isinstance(value, (sp.And, sp.Or, sp.Not)):
        return value
    raise InputError(f"{where}: an assumption must be a SymPy relation such as 0 < t, got {value!r}")


@dataclass(frozen=True)
class Step:
    """One link of a chain: ``previous REL expr``, justified ``by``.

    ``details`` are sub-proofs the step uses (e.g. the derivative of the inner
    function in a chain-rule step); the kernel checks them too.
    """

    relation: Relation
    expr: sp.Expr
    by: Justification = field(default_factory=Justification)
    details: tuple["Proof", ...] = ()


@dataclass(frozen=True)
class Proof:
    """A calc chain ``start REL1 e1 REL2 e2 ...`` with its assumptions.

    Build one with :func:`calc` and the methods ``eq le lt ge gt``; each
    returns a new proof. ``a = b <= c`` proves ``a <= c``.
    """

    start: sp.Expr
    steps: tuple[Step, ...] = ()
    assumptions: tuple[sp.Basic, ...] = ()
    title: str | None = None
    definitions: tuple[tuple[sp.Basic, sp.Basic], ...] = ()

    # -- building ---------------------------------------------------------
    def step(self, relation: Relation | str, expr: Any, by: str | None = None,
             rule: str | None = None, details: Sequence["Proof"] = ()) -> "Proof":
        """Append ``REL expr``; ``by`` is free text or a registered rule name.

        ``details`` are sub-proofs that the step uses; they are checked too.
        """
        rel = Relation.parse(relation)
        where = f"step {len(self.steps) + 1} ({rel.value})"
        new_expr = _as_expr(expr, where)
        justification = _justification(by, rule)
        for i, sub in enumerate(details):
            if not isinstance(sub, Proof):
                raise InputError(f"{where}: details[{i}] must be a Proof, got {type(sub).__name__}")
        self.relation.then(rel) if self.steps else None  # raises ChainError on mixing
        return replace(self, steps=self.steps + (Step(rel, new_expr, justification, tuple(details)),))

    def eq(self, expr: Any, by: str | None = None, rule: str | None = None,
           details: Sequence["Proof"] = ()) -> "Proof":
        return self.step(Relation.EQ, expr, by, rule, details)

    def le(self, expr: Any, by: str | None = None, rule: str | None = None,
           details: Sequence["Proof"] = ()) -> "Proof":
        return self.step(Relation.LE, expr, by, rule, details)

    def lt(self, expr: Any, by: str | None = None, rule: str | None = None,
           details: Sequence["Proof"] = ()) -> "Proof":
        return self.step(Relation.LT, expr, by, rule, details)

    def ge(self, expr: Any, by: str | None = None, rule: str | None = None,
           details: Sequence["Proof"] = ()) -> "Proof":
        return self.step(Relation.GE, expr, by, rule, details)

    def gt(self, expr: Any, by: str | None = None, rule: str | None = None,
           details: Sequence["Proof"] = ()) -> "Proof":
        return self.step(Relation.GT, expr, by, rule, details)

    def assuming(self, *conditions: Any) -> "Proof":
        """A copy with more side conditions (SymPy relations)."""
        extra = tuple(_as_condition(c, f"assumption {i + 1}") for i, c in enumerate(conditions))
        return replace(self, assumptions=self.assumptions + extra)

    def titled(self, title: str) -> "Proof":
        return replace(self, title=title)

    # -- reading ----------------------------------------------------------
    @property
    def end(self) -> sp.Expr:
        return self.steps[-1].expr if self.steps else self.start

    @property
    def relation(self) -> Relation:
        """The composed relation between ``start`` and ``end``."""
        rel = Relation.EQ
        for step in self.steps:
            rel = rel.then(step.relation)
        return rel

    @property
    def claim(self) -> sp.Basic:
        """The relation the chain claims, ``start REL end`` (unevaluated)."""
        return self.relation.sympy(self.start, self.end)

    def links(self) -> list[tuple[sp.Expr, Relation, sp.Expr, Justification]]:
        """Each step as ``(lhs, relation, rhs, justification)``."""
        out = []
        prev = self.start
        for step in self.steps:
            out.append((prev, step.relation, step.expr, step.by))
            prev = step.expr
        return out

    # -- checking and display (delegated) ---------------------------------
    def check(self, options: "CheckOptions | None" = None, **kwargs: Any) -> "Report":
        """Check every step with the kernel; see :func:`symgrad.kernel.check`."""
        from .kernel import check

        return check(self, options, **kwargs)

    def to_markdown(self, **kwargs: Any) -> str:
        from .render import render

        return render(self, "markdown", **kwargs)

    def to_latex(self, **kwargs: Any) -> str:
        from .render import render

        return render(self, "latex", **kwargs)

    def __repr__(self) -> str:
        from .display import proof_text

        return proof_text(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from .display import mimebundle

        return mimebundle(self)


def _justification(by: str | None, rule: str | None) -> Justification:
    from .rules import registry

    if by is not None and not isinstance(by, str):
        raise InputError(f"by= must be a string (free text or a rule name), got {type(by).__name__}")
    if rule is not None:
        registry.get(rule)  # raises UnknownRuleError with the known names
        return Justification(rule=rule, text=by)
    if by is not None and by in registry:
        return Justification(rule=by)
    return Justification(text=by)


def calc(start: Any, assume: Sequence[Any] = (), title: str | None = None,
         where: Mapping[Any, Any] | None = None) -> Proof:
    """Start a calc chain at ``start`` under the side conditions ``assume``.

    Symbol assumptions (``Symbol("x", positive=True)``) are read from the
    symbols themselves; ``assume`` adds relations such as ``0 < t``.
    ``where`` defines symbols or undefined functions for the whole proof, e.g.
    ``{b: g(a), f: Lambda(y, f(b) + psi(y)*(y - b))}`` (a hypothesis that holds
    for every ``y`` may be used as such a definition); the kernel substitutes
    the definitions into both sides of every step before checking it.
    """
    expr = _as_expr(start, "calc start")
    if isinstance(assume, (sp.Basic, bool)):
        assume = [assume]
    conditions = tuple(_as_condition(c, f"assumption {i + 1}") for i, c in enumerate(assume))
    definitions = []
    for key, value in (where or {}).items():
        if not (isinstance(key, sp.Symbol) or isinstance(key, sp.core.function.UndefinedFunction)):
            raise InputError(f"where: can only define a Symbol or an undefined Function, got {key!r}")
        if isinstance(key, sp.Symbol):
            value = _as_expr(value, f"where[{key}]")
        elif not isinstance(value, sp.Lambda):
            raise InputError(f"where[{key}]: define a function with sympy.Lambda, got {type(value).__name__}")
        definitions.append((key, value))
    return Proof(start=expr, steps=(), assumptions=conditions, title=title, definitions=tuple(definitions))


@dataclass(frozen=True)
class Counterexample:
    """A point where a step fails, with both sides' values there."""

    point: Mapping[sp.Symbol, sp.Expr]
    lhs_value: sp.Expr
    rhs_value: sp.Expr
    exact: bool = False

    def describe(self, digits: int = 6) -> str:
        pt = ", ".join(f"{k} = {_short(v, digits)}" for k, v in sorted(self.point.items(), key=lambda kv: str(kv[0])))
        return f"at {pt or 'every point'}: lhs = {_short(self.lhs_value, digits)}, rhs = {_short(self.rhs_value, digits)}"


def _short(value: sp.Expr, digits: int) -> str:
    if isinstance(value, sp.Rational):
        return str(value)
    if isinstance(value, sp.Float) or value.is_number:
        try:
            return str(sp.Float(value, digits)) if value.is_real is not False else str(sp.N(value, digits))
        except (TypeError, ValueError):
            return str(value)
    return str(value)


@dataclass(frozen=True)
class Verdict:
    """The kernel's finding on one step ``lhs REL rhs``.

    ``method`` names the procedure that decided it. For ``numeric``,
    ``samples``/``digits``/``min_slack`` say what was tried; for ``refuted``,
    ``counterexample`` holds the point and both values.
    """

    index: int
    lhs: sp.Expr
    relation: Relation
    rhs: sp.Expr
    status: Status
    method: str
    by: Justification = field(default_factory=Justification)
    counterexample: Counterexample | None = None
    samples: int = 0
    digits: int = 0
    min_slack: sp.Expr | None = None
    seconds: float = 0.0
    note: str = ""
    details: tuple["Report", ...] = ()
    rests_on: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Proved, and so is every sub-proof in ``details``."""
        return self.status is Status.PROVED and all(d.ok for d in self.details)

    @property
    def label(self) -> str:
        """The status as shown to people: ``rests on a lemma`` for a lemma step."""
        if self.rests_on and self.status is Status.UNKNOWN:
            return "rests on a lemma"
        return self.status.value

    @property
    def ok_given_lemmas(self) -> bool:
        """Proved, or resting on a cited lemma and not refuted (sub-proofs likewise)."""
        own = self.status is Status.PROVED or (bool(self.rests_on) and self.status is Status.UNKNOWN)
        return own and all(d.ok_given_lemmas for d in self.details)

    @property
    def overall_status(self) -> Status:
        """The weakest of this step's status and its sub-proofs' statuses."""
        return Status.weakest([self.status, *(d.status for d in self.details)])

    def explain(self) -> str:
        """One line: what was checked, the verdict and its evidence."""
        head = f"step {self.index}: {self.lhs} {self.relation.unicode} {self.rhs}  [{self.status.value}]"
        return f"{head} {self.evidence()}".rstrip()

    def evidence(self) -> str:
        if self.status is Status.PROVED:
            return self.method
        if self.status is Status.NUMERIC:
            label = "largest residual" if self.relation is Relation.EQ else "smallest slack"
            slack = "" if self.min_slack is None else f", {label} {_short(self.min_slack, 3)}"
            return (f"no symbolic proof; no counterexample at {self.samples} sampled points "
                    f"at {self.digits} digits{slack}")
        if self.status is Status.REFUTED and self.counterexample is not None:
            return f"counterexample {self.counterexample.describe()}"
        if self.rests_on and self.status is Status.UNKNOWN:
            return f"rests on lemma {', '.join(self.rests_on)}: {self.note}"
        return self.note or self.method


@dataclass(frozen=True)
class Report:
    """The kernel's verdicts on every step of a proof."""

    proof: Proof
    steps: tuple[Verdict, ...]

    @property
    def status(self) -> Status:
        if not self.steps:
            return Status.UNKNOWN
        return Status.weakest(v.overall_status for v in self.steps)

    @property
    def ok(self) -> bool:
        """True only if the chain has steps and every one (with its sub-proofs) is proved."""
        return bool(self.steps) and all(v.ok for v in self.steps)

    @property
    def ok_given_lemmas(self) -> bool:
        """Every step proved, except steps that rest on a cited lemma (see :attr:`lemmas`)."""
        return bool(self.steps) and all(v.ok_given_lemmas for v in self.steps)

    @property
    def lemmas(self) -> tuple[str, ...]:
        """Names of the lemmas that unproved steps rest on (sub-proofs included)."""
        names: list[str] = []
        for v in self.steps:
            for name in (*v.rests_on, *(n for d in v.details for n in d.lemmas)):
                if name not in names:
                    names.append(name)
        return tuple(names)

    @property
    def claim(self) -> sp.Basic:
        return self.proof.claim

    @property
    def conclusion(self) -> sp.Basic | None:
        """The relation proved (``start REL end``), or None if not proved."""
        return self.proof.claim if self.ok else None

    @property
    def first_failure(self) -> Verdict | None:
        """The first step that is not proved (itself or in its sub-proofs)."""
        for verdict in self.steps:
            if not verdict.ok:
                return verdict
        return None

    def __repr__(self) -> str:
        from .display import report_text

        return report_text(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from .display import mimebundle

        return mimebundle(self)


# ---------------------------------------------------------------------------
# Documents: what a catalog entry returns and a template renders.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Prose:
    """A paragraph. ``$...$`` marks inline LaTeX math; all else is text.

    Text is escaped for the output format; math passes through as LaTeX.
    """

    text: str


@dataclass(frozen=True)
class Section:
    """A heading that starts a section of a document."""

    title: str
    level: int = 2


@dataclass(frozen=True)
class Equation:
    """A displayed formula: a SymPy object or a LaTeX string."""

    math: Any
    label: str | None = None


@dataclass(frozen=True)
class ProofBlock:
    """A proof shown with its verdicts; ``title`` is user text."""

    proof: Proof
    title: str | None = None


@dataclass(frozen=True)
class Table:
    """A table; cells are text, SymPy objects (shown as math), or numbers."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str | None = None


@dataclass(frozen=True)
class Listing:
    """A code listing (shown verbatim)."""

    code: str
    language: str = "python"
    caption: str | None = None


@dataclass(frozen=True)
class Figure:
    """A figure: per-format sources (e.g. ``{"latex": tikz, "markdown": mermaid}``).

    ``assets`` are files (name -> text, e.g. an SVG plot the Markdown links to)
    that ``symgrad render`` writes next to the rendered documents.
    """

    sources: Mapping[str, str]
    caption: str | None = None
    assets: Mapping[str, str] = field(default_factory=dict)


Block = Union[Prose, Section, Equation, ProofBlock, Table, Listing, Figure]


@dataclass(frozen=True)
class Document:
    """A titled sequence of blocks: the unit a template renders."""

    name: str
    title: str
    summary: str
    blocks: tuple[Block, ...]

    @property
    def proofs(self) -> tuple[ProofBlock, ...]:
        return tuple(b for b in self.blocks if isinstance(b, ProofBlock))

    def check(self, options: "CheckOptions | None" = None) -> "DocumentReport":
        from .kernel import check

        return DocumentReport(self, tuple(check(b.proof, options) for b in self.proofs))

    def to_markdown(self, **kwargs: Any) -> str:
        from .render import render

        return render(self, "markdown", **kwargs)

    def to_latex(self, **kwargs: Any) -> str:
        from .render import render

        return render(self, "latex", **kwargs)

    def __repr__(self) -> str:
        from .display import document_text

        return document_text(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from .display import mimebundle

        return mimebundle(self)


@dataclass(frozen=True)
class DocumentReport:
    """The reports of every proof in a document, in order."""

    document: Document
    reports: tuple[Report, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def ok_given_lemmas(self) -> bool:
        return all(r.ok_given_lemmas for r in self.reports)

    @property
    def lemmas(self) -> tuple[str, ...]:
        names: list[str] = []
        for r in self.reports:
            names += [n for n in r.lemmas if n not in names]
        return tuple(names)

    @property
    def status(self) -> Status:
        return Status.weakest(r.status for r in self.reports)

    def __repr__(self) -> str:
        from .display import terminal_text

        return terminal_text(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from .display import mimebundle

        return mimebundle(self)

    def report_for(self, block: ProofBlock) -> Report:
        for b, r in zip(self.document.proofs, self.reports):
            if b is block:
                return r
        raise KeyError(block)
