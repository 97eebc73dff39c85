"""The rule registry: named laws that justify steps.

A rule is data (a name, the law it states, and what kind of evidence backs
it), kept apart from the kernel that checks steps. The kernel never trusts a
rule name: a step citing a rule is still checked on its own. Rules of kind
``lemma`` are analytic facts symgrad cannot check by computation; a step that
rests on one is reported as resting on it, never as proved by computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .errors import InputError, UnknownRuleError

__all__ = ["Rule", "RuleRegistry", "registry", "register_rule"]


@dataclass(frozen=True)
class Rule:
    """A named law. ``statement`` is LaTeX; ``kind`` is ``algebra`` or ``lemma``."""

    name: str
    statement: str
    summary: str
    kind: str = "algebra"

    def __post_init__(self) -> None:
        if self.kind not in ("algebra", "calculus", "lemma"):
            raise InputError(f"rule {self.name!r}: kind must be algebra, calculus or lemma, got {self.kind!r}")
        if not self.name or self.name != self.name.strip():
            raise InputError(f"rule name {self.name!r} must be non-empty without surrounding spaces")


class RuleRegistry:
    """A mapping from rule names to :class:`Rule`; extend it with :meth:`register`."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}

    def register(self, rule: Rule, *, replace: bool = False) -> Rule:
        if rule.name in self._rules and not replace:
            raise InputError(f"rule {rule.name!r} is already registered (pass replace=True to override)")
        self._rules[rule.name] = rule
        return rule

    def get(self, name: str) -> Rule:
        try:
            return self._rules[name]
        except KeyError:
            known = ", ".join(sorted(self._rules))
            raise UnknownRuleError(f"unknown rule {name!r}; known rules: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def __iter__(self) -> Iterator[Rule]:
        return iter(sorted(self._rules.values(), key=lambda r: r.name))

    def names(self) -> list[str]:
        return sorted(self._rules)


registry = RuleRegistry()


def register_rule(name: str, statement: str, summary: str, kind: str = "algebra", *,
                  replace: bool = False) -> Rule:
    """Register a rule in the global registry and return it."""
    return registry.register(Rule(name, statement, summary, kind), replace=replace)


_BUILTIN = [
    ("algebra", r"a = b \text{ when } a - b \text{ simplifies to } 0", "algebraic simplification"),
    ("expand", r"(a+b)c = ac + bc", "expand products and powers"),
    ("factor", r"ac + bc = (a+b)c", "factor a common term"),
    ("complete-the-square", r"s(1-s) = \tfrac14 - \left(s - \tfrac12\right)^2",
     "rewrite a quadratic as a constant minus a square"),
    ("square-nonnegative", r"a^2 \ge 0 \text{ for real } a", "a real square is non-negative"),
    ("sigmoid-derivative", r"\sigma'(x) = \sigma(x)\,(1 - \sigma(x))",
     "derivative of the logistic function"),
    ("sigmoid-definition", r"\sigma(x) = \frac{1}{1 + e^{-x}}", "definition of the logistic function"),
    ("derivative", r"\frac{d}{dx} f(x) \text{ computed symbolically}", "differentiate"),
    ("substitution", r"f(a) \text{ where } x = a", "substitute a value or a definition"),
    ("drop-nonnegative-term", r"a - b \le a \text{ when } b \ge 0", "drop a non-negative term"),
    ("monotonicity", r"a \le b \Rightarrow f(a) \le f(b) \text{ for increasing } f",
     "apply an increasing function"),
]
_LEMMAS = [
    ("caratheodory-criterion",
     r"f \text{ is differentiable at } a \iff \exists\, \varphi \text{ continuous at } a:\ "
     r"f(x) - f(a) = \varphi(x)\,(x - a),\ \text{and then } f'(a) = \varphi(a)",
     "Caratheodory's criterion for differentiability"),
    ("continuity-of-composition-and-product",
     r"\varphi, \psi \text{ continuous} \Rightarrow (\psi \circ g)\,\varphi \text{ continuous}",
     "compositions and products of continuous functions are continuous"),
]
for _name, _statement, _summary in _BUILTIN:
    register_rule(_name, _statement, _summary)
for _name, _statement, _summary in _LEMMAS:
    register_rule(_name, _statement, _summary, kind="lemma")
