"""What the kernel says about one relation: relations, statuses, verdicts.

A :class:`Verdict` is the kernel's finding on one step ``lhs REL rhs``: one of
four honest statuses (:class:`Status`), the procedure that decided it, and its
evidence (a :class:`Counterexample`, or the number of points sampled).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Union

import sympy as sp

from .errors import ChainError, InputError



class SubReport(Protocol):
    """What a verdict needs of the reports on its sub-proofs (``Verdict.details``)."""

    @property
    def ok(self) -> bool: ...

    @property
    def ok_given_lemmas(self) -> bool: ...

    @property
    def status(self) -> "Status": ...

    @property
    def lemmas(self) -> tuple[str, ...]: ...

__all__ = ["Relation", "Status", "Justification", "Counterexample", "Verdict"]


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


@dataclass(frozen=True)
class Counterexample:
    """A point where a step fails, with both sides' values there."""

    point: Mapping[sp.Symbol, sp.Expr]
    lhs_value: sp.Expr
    rhs_value: sp.Expr
    exact: bool = False

    def describe(self, digits: int = 6) -> str:
        pt = ", ".join(f"{k} = {_short(v, digits)}" for k, v in sorted(self.point.items(), key=lambda kv: str(kv[0])))
        lhs, rhs = _short(self.lhs_value, digits), _short(self.rhs_value, digits)
        text = f"at {pt or 'every point'}: lhs = {lhs}, rhs = {rhs}"
        if lhs == rhs:  # they differ beyond the digits shown: say by how much
            text += f" (lhs - rhs = {_short(self.lhs_value - self.rhs_value, 3)})"
        return text


def _short(value: sp.Expr, digits: int) -> str:
    if isinstance(value, sp.Rational) and max(int(value.p).bit_length(), int(value.q).bit_length()) <= 64:
        return str(value)
    if isinstance(value, sp.Rational):  # too long to read (or even to print): its value, rounded
        return str(sp.Float(value, digits))
    if value.is_number and not value.atoms(sp.Float) and value.is_real is False and len(str(value)) <= 24:
        return str(value)  # an exact complex point such as 1/2 + I
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
    details: tuple[SubReport, ...] = ()
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
