"""The rule registry: named laws that justify steps.

A rule is data (a name, the law it states, and what kind of evidence backs
it), kept apart from the kernel that checks steps. The kernel never trusts a
rule name: a step citing a rule is still checked on its own. Rules of kind
``lemma`` are analytic facts symgrad cannot check by computation; a step that
rests on one is reported as resting on it, never as proved by computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from .errors import InputError, UnknownRuleError

__all__ = ["Rule", "RuleRegistry", "registry", "register_rule"]


@dataclass(frozen=True)
class Rule:
    """A named law: ``statement`` in LaTeX, ``law`` in plain text (optional).

    ``kind`` is ``algebra``, ``calculus`` or ``lemma`` (an analytic fact a
    step may rest on, never shown as proved by computation).
    """

    name: str
    statement: str
    summary: str
    kind: str = "algebra"
    law: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("algebra", "calculus", "lemma"):
            raise InputError(f"rule {self.name!r}: kind must be algebra, calculus or lemma, got {self.kind!r}")
        if not self.name or self.name != self.name.strip():
            raise InputError(f"rule name {self.name!r} must be non-empty without surrounding spaces")


class RuleRegistry:
    """A mapping from rule names to :class:`Rule`; extend it with :meth:`register`."""

    def __init__(self, rules: "Iterable[Rule]" = ()) -> None:
        self._rules: dict[str, Rule] = {}
        for rule in rules:
            self.register(rule)

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


def _algebra(name: str, statement: str, summary: str) -> Rule:
    return Rule(name, statement, summary, "algebra")


def _calculus(name: str, statement: str, summary: str) -> Rule:
    return Rule(name, statement, summary, "calculus")


def _derivative(name: str, statement: str, summary: str, law: str) -> Rule:
    return Rule(name, statement, summary, "calculus", law=law)


def _lemma(name: str, statement: str, summary: str) -> Rule:
    return Rule(name, statement, summary, "lemma")


#: Every rule symgrad itself cites, in one table: the laws of algebra, the
#: calculus steps (the derivative rules, whose matchers and rewrites live in
#: :mod:`symgrad.derivation.diffrules`), and the lemmas that computation
#: cannot check. Users add their own with :func:`register_rule` (and
#: ``symgrad.register_derivative``).
BUILTIN_RULES: tuple[Rule, ...] = (
    # -- algebra ----------------------------------------------------------------
    _algebra("algebra", r"a = b \text{ when } a - b \text{ simplifies to } 0", "algebraic simplification"),
    _algebra("expand", r"(a+b)c = ac + bc", "expand products and powers"),
    _algebra("factor", r"ac + bc = (a+b)c", "factor a common term"),
    _algebra("complete-the-square", r"s(1-s) = \tfrac14 - \left(s - \tfrac12\right)^2",
             "rewrite a quadratic as a constant minus a square"),
    _algebra("square-nonnegative", r"a^2 \ge 0 \text{ for real } a", "a real square is non-negative"),
    _algebra("sigmoid-definition", r"\sigma(x) = \frac{1}{1 + e^{-x}}", "definition of the logistic function"),
    _algebra("substitution", r"f(a) \text{ where } x = a", "substitute a value or a definition"),
    _algebra("drop-nonnegative-term", r"a - b \le a \text{ when } b \ge 0", "drop a non-negative term"),
    _algebra("monotonicity", r"a \le b \Rightarrow f(a) \le f(b) \text{ for increasing } f",
             "apply an increasing function"),
    _algebra("centred-sum-zero",
             r"\sum_{i=1}^{m} (x_i - \mu) = 0 \text{ for } \mu = \tfrac1m \sum_{i=1}^{m} x_i",
             "the centred values of a batch sum to zero"),
    # -- calculus: the steps derive() and the graph's backward pass write ------------
    _calculus("derivative", r"\frac{d}{dx} f(x) \text{ computed symbolically}", "differentiate"),
    _calculus("sympy-diff", r"\frac{d}{dx} f \text{ computed by SymPy's } \texttt{diff}",
              "a derivative taken by SymPy's diff, for a function without a symgrad rule"),
    _calculus("chain-rule", r"\frac{d}{dx} f(u) = f'(u)\,\frac{du}{dx}", "chain rule"),
    _calculus("higher-derivative", r"\frac{d^{n}}{dx^{n}} f = \frac{d}{dx}\,\frac{d^{n-1}}{dx^{n-1}} f",
              "a higher derivative is the derivative of the one below it"),
    _calculus("adjoint-sum",
              r"\bar v = \sum_{c \in \operatorname{consumers}(v)} \bar c\,\frac{\partial c}{\partial v}",
              "backpropagation: a node's adjoint sums, over its consumers, the consumer's adjoint "
              "times the local derivative"),
    _calculus("adjoint-seed", r"\bar f = \frac{\partial f}{\partial f} = 1",
              "the backward pass starts with adjoint 1 at the output"),
    # -- calculus: the derivative rules (their matchers are in symgrad.derivation.diffrules) --
    _derivative("constant-rule", r"\frac{d}{dx} c = 0",
                "the derivative of a constant is 0", "d/d{x} c = 0 for c free of {x}"),
    _derivative("variable-rule", r"\frac{d}{dx} x = 1",
                "the derivative of the variable is 1", "d/d{x} {x} = 1"),
    _derivative("sum-rule", "(f + g)' = f' + g'",
                "differentiate a sum term by term", "(f + g)' = f' + g'"),
    _derivative("constant-multiple-rule", r"(c\,f)' = c\,f'",
                "a constant factor stays outside", "(c·f)' = c·f'"),
    _derivative("quotient-rule", r"\left(\frac{f}{g}\right)' = \frac{f' g - f g'}{g^{2}}",
                "derivative of a quotient", "(f/g)' = (f'·g − f·g')/g²"),
    _derivative("product-rule", "(f g)' = f' g + f g'",
                "derivative of a product", "(f·g)' = f'·g + f·g' (each factor in turn)"),
    _derivative("power-rule", r"\frac{d}{du} u^{n} = n\,u^{n-1}",
                "power rule (any constant exponent: negative, rational, square root)", "d/du u^n = n·u^(n−1)"),
    _derivative("exponential-rule", r"\frac{d}{du} a^{u} = a^{u} \ln a",
                "derivative of an exponential with a constant base", "d/du a^u = a^u·ln a"),
    _derivative("general-power-rule", r"(f^{g})' = f^{g} \left(g' \ln f + \frac{g f'}{f}\right)",
                "derivative of a variable power of a variable base", "(f^g)' = f^g·(g'·ln f + g·f'/f)"),
    _derivative("exp-derivative", r"\frac{d}{du} e^{u} = e^{u}",
                "derivative of the exponential", "d/du exp(u) = exp(u)"),
    _derivative("log-derivative", r"\frac{d}{du} \ln u = \frac{1}{u}",
                "derivative of the natural logarithm", "d/du log(u) = 1/u"),
    _derivative("sin-derivative", r"\frac{d}{du} \sin u = \cos u",
                "derivative of the sine", "d/du sin(u) = cos(u)"),
    _derivative("cos-derivative", r"\frac{d}{du} \cos u = -\sin u",
                "derivative of the cosine", "d/du cos(u) = −sin(u)"),
    _derivative("tan-derivative", r"\frac{d}{du} \tan u = 1 + \tan^{2} u",
                "derivative of the tangent", "d/du tan(u) = 1 + tan(u)²"),
    _derivative("sinh-derivative", r"\frac{d}{du} \sinh u = \cosh u",
                "derivative of the hyperbolic sine", "d/du sinh(u) = cosh(u)"),
    _derivative("cosh-derivative", r"\frac{d}{du} \cosh u = \sinh u",
                "derivative of the hyperbolic cosine", "d/du cosh(u) = sinh(u)"),
    _derivative("tanh-derivative", r"\frac{d}{du} \tanh u = 1 - \tanh^{2} u",
                "derivative of the hyperbolic tangent", "d/du tanh(u) = 1 − tanh(u)²"),
    _derivative("atan-derivative", r"\frac{d}{du} \arctan u = \frac{1}{1 + u^{2}}",
                "derivative of the arctangent", "d/du atan(u) = 1/(1 + u²)"),
    _derivative("asin-derivative", r"\frac{d}{du} \arcsin u = \frac{1}{\sqrt{1 - u^{2}}}",
                "derivative of the arcsine", "d/du asin(u) = 1/√(1 − u²)"),
    _derivative("acos-derivative", r"\frac{d}{du} \arccos u = -\frac{1}{\sqrt{1 - u^{2}}}",
                "derivative of the arccosine", "d/du acos(u) = −1/√(1 − u²)"),
    _derivative("erf-derivative", r"\frac{d}{du} \operatorname{erf} u = \frac{2}{\sqrt{\pi}} e^{-u^{2}}",
                "derivative of the error function", "d/du erf(u) = 2·exp(−u²)/√π"),
    _derivative("sigmoid-derivative", r"\sigma'(x) = \sigma(x)\,(1 - \sigma(x))",
                "derivative of the logistic function", "σ'(u) = σ(u)·(1 − σ(u))"),
    _derivative("relu-derivative", r"\frac{d}{du} \max(0, u) = H(u) \quad (u \ne 0)",
                "derivative of the rectified linear unit", "ReLU'(u) = H(u) (Heaviside step) for u ≠ 0"),
    _derivative("abs-derivative", r"\frac{d}{du} |u| = \operatorname{sign} u \quad (u \ne 0)",
                "derivative of the absolute value", "d/du |u| = sign(u) for real u"),
    _derivative("undefined-function", r"\frac{d}{dx} f(u) = f'(u)\,\frac{du}{dx}",
                "an undefined function's derivative stays symbolic", "d/du f(u) = f'(u), left symbolic"),
    # -- lemmas: analytic facts a computation cannot check ---------------------------
    _lemma("caratheodory-criterion",
           r"f \text{ is differentiable at } a \iff \exists\, \varphi \text{ continuous at } a:\ "
           r"f(x) - f(a) = \varphi(x)\,(x - a),\ \text{and then } f'(a) = \varphi(a)",
           "Caratheodory's criterion for differentiability"),
    _lemma("continuity-of-composition-and-product",
           r"\varphi, \psi \text{ continuous} \Rightarrow (\psi \circ g)\,\varphi \text{ continuous}",
           "compositions and products of continuous functions are continuous"),
    _lemma("induction",
           r"S(1) \wedge \bigl(\forall n \ge 1:\ S(n) \Rightarrow S(n+1)\bigr) \Rightarrow "
           r"\forall n \ge 1:\ S(n)",
           "mathematical induction: a base case and an inductive step give the statement for every n"),
    _lemma("operator-norm-submultiplicative",
           r"\lVert A B v \rVert \le \lVert A \rVert\, \lVert B \rVert\, \lVert v \rVert,\ "
           r"\lVert A^{\top} \rVert = \lVert A \rVert,\ "
           r"\lVert \operatorname{diag}(d) \rVert = \max_i |d_i|",
           "the spectral norm is submultiplicative, invariant under transposition, and the norm of "
           "a diagonal matrix is its largest entry in absolute value"),
    # Finite sums for every m: the general-m BatchNorm derivation rests on these (each is
    # checked for explicit m in the catalog entry and the tests).
    _lemma("sum-linearity",
           r"\sum_{j=1}^{m} (a\,u_j + b\,v_j) = a \sum_{j=1}^{m} u_j + b \sum_{j=1}^{m} v_j",
           "a finite sum is linear (a, b do not depend on j)"),
    _lemma("kronecker-collapse", r"\sum_{j=1}^{m} \delta_{ij}\, u_j = u_i \quad (1 \le i \le m)",
           "a Kronecker delta collapses a sum to one term"),
    _lemma("sum-of-constant", r"\sum_{j=1}^{m} c = m\,c", "summing a term that does not depend on j m times"),
    _lemma("centred-sum-zero-general",
           r"\sum_{j=1}^{m} (x_j - \mu) = 0 \text{ for } \mu = \tfrac1m \sum_{j=1}^{m} x_j",
           "the centred values of a batch sum to zero, for every m"),
)

#: The rules steps may cite: the built-in table, the derivative rules, and the user's.
registry = RuleRegistry(BUILTIN_RULES)


def register_rule(name: str, statement: str, summary: str, kind: str = "algebra", *,
                  replace: bool = False) -> Rule:
    """Register a rule in the global registry and return it."""
    return registry.register(Rule(name, statement, summary, kind), replace=replace)
