"""Proofs: calc chains of steps, their assumptions, and the reports on them.

A :class:`Proof` is a chain ``start REL1 e1 REL2 e2 ...`` like Lean's ``calc``;
:meth:`Proof.check` hands every link to the kernel
(:func:`symgrad.core.kernel.decide`, through the verdict cache of
:mod:`symgrad.core.cache` when one is in use) and collects the verdicts in a
:class:`Report`. How a proof looks (text, Markdown, LaTeX) is not decided
here: the display methods ask the installed presenter
(:mod:`symgrad.proofs.presentation`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import sympy as sp

from ..core.errors import InputError
from ..core.cache import cached_decide
from ..core.kernel import options_with
from ..core.expressions import as_condition, as_expr
from ..core.rules import registry as rule_registry
from ..core.verdicts import Justification, Relation, Status, Verdict
from . import presentation

if TYPE_CHECKING:  # pragma: no cover
    from ..core.kernel import CheckOptions

__all__ = ["Step", "Proof", "Report", "calc", "check", "check_relation"]


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


@dataclass(frozen=True, repr=False)
class Proof(presentation.Renderable):
    """A calc chain ``start REL1 e1 REL2 e2 ...`` with its assumptions.

    Build one with :func:`calc` and the methods ``eq le lt ge gt``; each
    returns a new proof. ``a = b <= c`` proves ``a <= c``.
    """

    start: sp.Expr
    steps: tuple[Step, ...] = ()
    assumptions: tuple[sp.Basic, ...] = ()
    title: str | None = None
    definitions: tuple[tuple[sp.Basic, sp.Basic], ...] = ()

    def __post_init__(self) -> None:
        # Built directly (Proof(x, assumptions=[x > 0])) as well as by calc: the assumptions are
        # conditions, kept as a tuple (a list would make the proof unhashable for the verdict cache).
        assume = self.assumptions
        if isinstance(assume, (sp.Basic, bool)):
            assume = (assume,)
        if not isinstance(assume, tuple) or not all(isinstance(c, sp.Basic) for c in assume):
            assume = tuple(as_condition(c, f"assumption {i + 1}") for i, c in enumerate(assume))
            object.__setattr__(self, "assumptions", assume)
        elif assume is not self.assumptions:
            object.__setattr__(self, "assumptions", assume)
        if not isinstance(self.definitions, tuple):
            object.__setattr__(self, "definitions", tuple(tuple(d) for d in self.definitions))

    # -- building ---------------------------------------------------------
    def step(self, relation: Relation | str, expr: Any, by: str | None = None,
             rule: str | None = None, details: Sequence["Proof"] = ()) -> "Proof":
        """Append ``REL expr``, justified by the free text ``by`` and/or the registered ``rule``.

        ``details`` are sub-proofs that the step uses; they are checked too.
        """
        rel = Relation.parse(relation)
        where = f"step {len(self.steps) + 1} ({rel.value})"
        new_expr = as_expr(expr, where)
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
        extra = tuple(as_condition(c, f"assumption {i + 1}") for i, c in enumerate(conditions))
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

    # -- checking and display ---------------------------------------------
    def check(self, options: "CheckOptions | None" = None, **kwargs: Any) -> "Report":
        """Check every step with the kernel; see :func:`check`."""
        return check(self, options, **kwargs)


def _justification(by: str | None, rule: str | None) -> Justification:
    """``by`` is always free text; a rule is cited only by name with ``rule=``."""
    if by is not None and not isinstance(by, str):
        raise InputError(f"by= must be a string (free text), got {type(by).__name__}")
    if rule is not None:
        if not isinstance(rule, str):
            raise InputError(f"rule= must be the name of a registered rule, got {type(rule).__name__}")
        rule_registry.get(rule)  # raises UnknownRuleError with the known names
    return Justification(rule=rule, text=by)


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
    expr = as_expr(start, "calc start")
    if isinstance(assume, (sp.Basic, bool)):
        assume = [assume]
    conditions = tuple(as_condition(c, f"assumption {i + 1}") for i, c in enumerate(assume))
    definitions = []
    for key, value in (where or {}).items():
        if not (isinstance(key, sp.Symbol) or isinstance(key, sp.core.function.UndefinedFunction)):
            raise InputError(f"where: can only define a Symbol or an undefined Function, got {key!r}")
        if isinstance(key, sp.Symbol):
            value = as_expr(value, f"where[{key}]")
        elif not isinstance(value, sp.Lambda):
            raise InputError(f"where[{key}]: define a function with sympy.Lambda, got {type(value).__name__}")
        definitions.append((key, value))
    return Proof(start=expr, steps=(), assumptions=conditions, title=title, definitions=tuple(definitions))


@dataclass(frozen=True, repr=False)
class Report(presentation.Presentable):
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



# ---------------------------------------------------------------------------
# Checking: every link of a chain goes through the kernel.
# ---------------------------------------------------------------------------


def check(proof: Proof, options: "CheckOptions | None" = None, **overrides: Any) -> Report:
    """Check every step of ``proof`` with the kernel and collect the verdicts.

    A step that cites a rule of kind ``lemma`` is only searched for a
    counterexample; unless refuted it is reported as resting on that lemma.
    Sub-proofs in a step's ``details`` are checked too.
    """
    if not isinstance(proof, Proof):
        raise InputError(f"check() takes a Proof (built with symgrad.calc), got {type(proof).__name__}")
    return _check_cached(proof, options_with(options, overrides))


@functools.lru_cache(maxsize=512)
def _check_cached(proof: Proof, options: "CheckOptions") -> Report:
    verdicts = []
    for index, ((lhs, rel, rhs, by), step) in enumerate(zip(proof.links(), proof.steps), start=1):
        # A step citing a lemma can never be proved by computation: only look for a counterexample.
        symbolic = not (by.rule and rule_registry.get(by.rule).kind == "lemma")
        verdict = cached_decide(lhs, rel, rhs, proof.assumptions, proof.definitions, options, index=index, by=by,
                         symbolic=symbolic)
        verdict = _apply_lemma(verdict)
        if step.details:
            verdict = replace(verdict, details=tuple(_check_cached(sub, options) for sub in step.details))
        verdicts.append(verdict)
    return Report(proof, tuple(verdicts))


def check_relation(lhs: Any, relation: Relation | str, rhs: Any, assume: Sequence[Any] = (),
                   options: "CheckOptions | None" = None, **overrides: Any) -> Verdict:
    """Check the single relation ``lhs REL rhs`` under ``assume``."""
    proof = calc(lhs, assume=assume).step(relation, rhs)
    return check(proof, options, **overrides).steps[0]


def _apply_lemma(verdict: Verdict) -> Verdict:
    """A step citing a lemma rule is never shown as proved by computation.

    Unless refuted, it is ``unknown`` and marked as resting on the lemma, which
    the report lists (``Report.lemmas``).
    """
    rule_name = verdict.by.rule
    if not rule_name or verdict.status is Status.REFUTED:
        return verdict
    rule = rule_registry.get(rule_name)
    if rule.kind != "lemma":
        return verdict
    # The note is fixed text: what the computation happened to find before the budget ran
    # out must not change a rendered document from one run to the next.
    return replace(verdict, status=Status.UNKNOWN, method="rests on a lemma", rests_on=(rule_name,),
                   note=f"{rule.summary} (not checked by computation)")
