r"""Differentiation rules as data: the registry that :func:`symgrad.derive` applies.

A :class:`DiffRule` is a frozen record: a name, a test of where it applies, the
law it states (LaTeX for documents, plain text for justifications) and a
function that applies it. Rules come in two shapes:

- **structural** rules (constant, variable, sum, constant multiple, product,
  quotient, general power) rewrite ``d/dx f`` into an expression in which the
  derivatives of ``f``'s parts stay pending as unevaluated
  :class:`sympy.Derivative` objects;
- **outer-function** rules (power, exponential, exp, log, sin, cos, tanh,
  sigmoid, ReLU, ...) know the derivative ``f'(u)`` of a function ``f`` of one
  argument ``u``; :func:`~symgrad.derive.derive` multiplies by ``du/dx`` and,
  when ``u`` is not the variable itself, names the step a chain-rule step
  (``u = ...``) whose sub-proof derives ``du/dx``.

The kernel never trusts a rule: each step a rule produces is checked on its
own (a wrong rule gives a *refuted* step). The built-in rules' laws are
declared once, in :data:`symgrad.core.rules.BUILTIN_RULES`; a rule a user
registers is added there too, so every name can be cited with ``rule=``.

Registering the derivative of your own function::

    import sympy as sp
    from symgrad import register_derivative

    class softsign(sp.Function):
        nargs = 1
        def fdiff(self, argindex=1):          # SymPy's own derivative: what the
            u = self.args[0]                  # kernel checks the rule against
            return 1 / (1 + sp.Abs(u)) ** 2

    register_derivative(softsign, lambda u: 1 / (1 + sp.Abs(u)) ** 2,
                        statement=r"\operatorname{softsign}'(u) = \frac{1}{(1 + |u|)^2}")

The kernel checks a step by evaluating the derivative with SymPy, so a
function without ``fdiff`` (or another way for SymPy to differentiate it) gives
steps the kernel cannot decide (``unknown``), never ``proved``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import sympy as sp
from sympy.core.function import AppliedUndef, FunctionClass

from ..core.errors import InputError, UnknownRuleError, UnsupportedError
from ..core.functions import sigmoid
from ..core.rules import register_rule as _register_rule, registry as _rule_registry

__all__ = [
    "DiffRule",
    "DiffRegistry",
    "registry",
    "register_derivative",
    "FALLBACK_RULE",
    "CHAIN_RULE",
    "HIGHER_ORDER_RULE",
    "SIMPLIFY_RULE",
    "UNDEFINED_RULE",
]

Applies = Callable[[sp.Expr, sp.Symbol], bool]
Apply = Callable[[sp.Expr, sp.Symbol], sp.Expr]


@dataclass(frozen=True)
class DiffRule:
    r"""One differentiation rule.

    - ``name``: the registry name (also cited in justifications), e.g. ``"product-rule"``.
    - ``applies_to(f, x)``: whether the rule rewrites ``d/dx f``.
    - ``statement_latex``: the law in LaTeX, e.g. ``(fg)' = f'g + fg'``.
    - ``apply(f, x)``: for a structural rule, ``d/dx f`` with the parts'
      derivatives left pending as ``Derivative(part, x)``; for an outer-function
      rule (``argument`` given), the outer derivative ``f'(u)`` at ``u = argument(f)``.
    - ``law``: the law as plain (Unicode) text, used in step justifications;
      ``{x}`` in it stands for the variable of differentiation.
    - ``argument``: for outer-function rules, returns the argument ``u`` of ``f``.
    - ``note(f, x)``: extra text for the justification (e.g. a convention at a kink).
    - ``order``: rules are tried by increasing order and, within one order, the
      last registered first (so a new rule for a function overrides an older one);
      user rules default to 5 (after constant/variable, before the built-ins).
    """

    name: str
    applies_to: Applies
    statement_latex: str
    apply: Apply
    law: str = ""
    summary: str = ""
    argument: Callable[[sp.Expr], sp.Expr] | None = None
    note: Callable[[sp.Expr, sp.Symbol], str] | None = None
    order: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip():
            raise InputError(f"a differentiation rule needs a non-empty name without surrounding spaces, got {self.name!r}")
        for attr in ("applies_to", "apply"):
            if not callable(getattr(self, attr)):
                raise InputError(f"rule {self.name!r}: {attr} must be callable")
        if self.argument is not None and not callable(self.argument):
            raise InputError(f"rule {self.name!r}: argument must be callable or None")

    @property
    def is_outer(self) -> bool:
        """True for outer-function rules (applied with the chain rule)."""
        return self.argument is not None

    @property
    def text(self) -> str:
        """The law as plain text (``law``, else ``summary``, else the name)."""
        return self.law or self.summary or self.name

    def text_for(self, x: sp.Symbol) -> str:
        """:attr:`text` with ``{x}`` replaced by the variable's name."""
        return self.text.replace("{x}", str(x))


class DiffRegistry:
    """An ordered collection of :class:`DiffRule`; :meth:`match` finds the rule for ``d/dx f``."""

    def __init__(self, rules: Iterable[DiffRule] = ()) -> None:
        self._rules: dict[str, DiffRule] = {}
        self._serial: dict[str, int] = {}
        self._counter = 0
        self._tried: tuple[DiffRule, ...] | None = None  # match order, rebuilt after a change
        for rule in rules:
            self.register(rule)

    # -- building ---------------------------------------------------------
    def register(self, rule: DiffRule, *, replace: bool = False) -> DiffRule:
        """Add ``rule`` (and its name to :data:`symgrad.rules.registry`); return it."""
        if not isinstance(rule, DiffRule):
            raise InputError(f"register() takes a DiffRule, got {type(rule).__name__}")
        if rule.name in self._rules and not replace:
            raise InputError(f"differentiation rule {rule.name!r} is already registered (pass replace=True to override)")
        _publish(rule, replace)
        self._counter += 1
        self._rules[rule.name] = rule
        self._serial[rule.name] = self._counter
        self._tried = None
        return rule

    def register_derivative(self, func: Any, derivative: Callable[[sp.Expr], sp.Expr], *,
                            name: str | None = None, statement: str | None = None,
                            law: str | None = None, summary: str | None = None,
                            replace: bool = False) -> DiffRule:
        r"""Register ``d/du func(u) = derivative(u)`` for a SymPy function of one argument.

        ``func`` is a :class:`sympy.Function` subclass (or ``sympy.Function("f")``);
        ``derivative`` maps the argument ``u`` to ``func'(u)`` (a Python callable or a
        ``sympy.Lambda``). ``name`` defaults to ``"<func>-derivative"``; ``statement``
        (LaTeX) and ``law`` (text) default to ``func'(u) = derivative(u)``. Composite
        arguments get the chain rule automatically.
        """
        if not (isinstance(func, FunctionClass) and issubclass(func, sp.Function)):
            raise InputError(f"register_derivative: func must be a SymPy Function class, got {func!r}")
        nargs = getattr(func, "nargs", None)
        if isinstance(nargs, sp.Set) and 1 not in nargs:
            raise UnsupportedError(f"register_derivative: {func.__name__} takes {nargs} arguments; "
                                   "only functions of one argument are supported")
        if not callable(derivative):
            raise InputError(f"register_derivative({func.__name__}): derivative must be callable (u -> f'(u)), "
                             f"got {type(derivative).__name__}")
        u = sp.Symbol("u")
        try:
            sample = derivative(u)
        except Exception as exc:  # a user's callable: report any failure as misuse
            raise InputError(f"register_derivative({func.__name__}): derivative(u) failed: {exc}") from exc
        if not isinstance(sample, sp.Expr):
            raise InputError(f"register_derivative({func.__name__}): derivative(u) must return a SymPy "
                             f"expression, got {type(sample).__name__}")
        fname = func.__name__
        rule_name = name or f"{fname}-derivative"
        if statement is None:
            statement = sp.latex(sp.Eq(sp.Derivative(func(u), u), sample, evaluate=False))
        if law is None:
            law = f"d/du {fname}(u) = {_text(sample)}"

        def applies(f: sp.Expr, x: sp.Symbol, _func: Any = func) -> bool:
            return isinstance(f, _func) and len(f.args) == 1

        rule = DiffRule(rule_name, applies, statement, _at_argument(derivative), law=law,
                        summary=summary or f"derivative of {fname}", argument=_only_argument, order=5)
        return self.register(rule, replace=replace)

    def copy(self) -> "DiffRegistry":
        """An independent registry with the same rules (to extend without touching this one)."""
        new = DiffRegistry()
        new._rules = dict(self._rules)
        new._serial = dict(self._serial)
        new._counter = self._counter
        return new

    # -- reading ----------------------------------------------------------
    def match(self, f: sp.Expr, x: sp.Symbol) -> DiffRule | None:
        """The first rule (by ``order``, then latest registration) that applies to ``d/dx f``."""
        if self._tried is None:
            self._tried = tuple(sorted(self._rules.values(), key=lambda r: (r.order, -self._serial[r.name])))
        for rule in self._tried:
            try:
                if rule.applies_to(f, x):
                    return rule
            except Exception as exc:  # a user rule's test failing is misuse, named here
                raise InputError(f"differentiation rule {rule.name!r}: applies_to({_text(f)}, {x}) failed: {exc}") from exc
        return None

    def get(self, name: str) -> DiffRule:
        try:
            return self._rules[name]
        except KeyError:
            raise UnknownRuleError(f"no differentiation rule {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return [rule.name for rule in self]

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def __iter__(self) -> Iterator[DiffRule]:
        """The rules in registration order (see :meth:`match` for the order they are tried in)."""
        return iter(sorted(self._rules.values(), key=lambda r: self._serial[r.name]))

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        lines = [f"DiffRegistry ({len(self)} rules):"]
        width = max((len(r.name) for r in self), default=0)
        lines += [f"  {r.name:<{width}}  {r.text}" for r in self]
        return "\n".join(lines)

    @classmethod
    def with_builtins(cls) -> "DiffRegistry":
        """A registry holding symgrad's built-in rules."""
        return cls(tuple(_builtin_rules()))


def _publish(rule: DiffRule, replace: bool) -> None:
    """Make ``rule.name`` citable in :data:`symgrad.rules.registry` (kind calculus)."""
    reg = _rule_registry
    if rule.name in reg:
        existing = reg.get(rule.name)
        if existing.statement == rule.statement_latex:
            return
        if existing.kind != "calculus":
            raise InputError(f"the name {rule.name!r} is already the {existing.kind} rule "
                             f"{existing.statement!r}; choose another name")
        if not replace:
            raise InputError(f"the rule {rule.name!r} is already registered with the law "
                             f"{existing.statement!r} (pass replace=True to override)")
    _register_rule(rule.name, rule.statement_latex, rule.summary or rule.text, "calculus", replace=True)


def _text(expr: sp.Basic) -> str:
    return " ".join(sp.sstr(expr).split())


def _only_argument(f: sp.Expr) -> sp.Expr:
    return f.args[0]


def _depends(f: sp.Expr, x: sp.Symbol) -> bool:
    return f.has(x)


# ---------------------------------------------------------------------------
# Structural rules
# ---------------------------------------------------------------------------


def _pending(f: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """The unevaluated ``d/dx f``."""
    return sp.Derivative(f, x, evaluate=False)


def _sum(f: sp.Expr, x: sp.Symbol) -> sp.Expr:
    return sp.Add(*[_pending(t, x) for t in f.args if _depends(t, x)])


def _sum_note(f: sp.Expr, x: sp.Symbol) -> str:
    dropped = [t for t in f.args if not _depends(t, x)]
    if not dropped:
        return ""
    return f"the constant term {_text(sp.Add(*dropped))} has derivative 0"


def _split_constant(f: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    constant = [a for a in f.args if not _depends(a, x)]
    rest = [a for a in f.args if _depends(a, x)]
    return sp.Mul(*constant), sp.Mul(*rest)


def _constant_multiple(f: sp.Expr, x: sp.Symbol) -> sp.Expr:
    c, rest = _split_constant(f, x)
    return sp.Mul(c, _pending(rest, x))


def _has_constant_factor(f: sp.Expr, x: sp.Symbol) -> bool:
    return isinstance(f, sp.Mul) and any(not _depends(a, x) for a in f.args) and _depends(f, x)


def _denominator_factor(a: sp.Expr, x: sp.Symbol) -> bool:
    """``a`` is ``g**(-n)`` with a number ``n > 0`` and ``g`` depending on ``x``."""
    return (isinstance(a, sp.Pow) and a.exp.is_number and bool(a.exp.is_negative)
            and _depends(a.base, x))


def _numerator_denominator(f: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    num = [a for a in f.args if not _denominator_factor(a, x)]
    den = [sp.Pow(a.base, -a.exp) for a in f.args if _denominator_factor(a, x)]
    return sp.Mul(*num), sp.Mul(*den)


def _is_quotient(f: sp.Expr, x: sp.Symbol) -> bool:
    if not isinstance(f, sp.Mul):
        return False
    num, den = _numerator_denominator(f, x)
    return den != 1 and _depends(num, x)


def _quotient(f: sp.Expr, x: sp.Symbol) -> sp.Expr:
    g, h = _numerator_denominator(f, x)
    top = sp.Add(sp.Mul(_pending(g, x), h), -sp.Mul(g, _pending(h, x)))
    return sp.Mul(top, sp.Pow(h, -2))


def _product(f: sp.Expr, x: sp.Symbol) -> sp.Expr:
    factors = list(f.args)
    terms = []
    for i, a in enumerate(factors):
        others = factors[:i] + factors[i + 1:]
        terms.append(sp.Mul(_pending(a, x), *others))
    return sp.Add(*terms)


def _general_power(f: sp.Expr, x: sp.Symbol) -> sp.Expr:
    u, v = f.base, f.exp
    return f * (_pending(v, x) * sp.log(u) + v * _pending(u, x) / u)


# ---------------------------------------------------------------------------
# Outer-function rules
# ---------------------------------------------------------------------------


def _function(cls: Any) -> Applies:
    def applies(f: sp.Expr, x: sp.Symbol) -> bool:
        return isinstance(f, cls) and len(f.args) == 1

    return applies


def _at_argument(derivative: Callable[[sp.Expr], sp.Expr]) -> Apply:
    """An outer-function rule's ``apply``: ``derivative`` at the function's argument."""
    def apply(f: sp.Expr, x: sp.Symbol) -> sp.Expr:
        return derivative(f.args[0])

    return apply


def _is_relu(f: sp.Expr, x: sp.Symbol) -> bool:
    return isinstance(f, sp.Max) and len(f.args) == 2 and any(a == 0 for a in f.args)


def _relu_argument(f: sp.Expr) -> sp.Expr:
    return next(a for a in f.args if a != 0)


def _relu_note(f: sp.Expr, x: sp.Symbol) -> str:
    return "ReLU is not differentiable at u = 0; there H(0) = 1/2 is SymPy's convention"


def _is_real_abs(f: sp.Expr, x: sp.Symbol) -> bool:
    return isinstance(f, sp.Abs) and f.args[0].is_extended_real is True


def _abs_note(f: sp.Expr, x: sp.Symbol) -> str:
    return "|u| is not differentiable at u = 0; SymPy's sign(0) = 0 is a convention there"


def _is_undefined(f: sp.Expr, x: sp.Symbol) -> bool:
    return isinstance(f, AppliedUndef) and len(f.args) == 1


def _undefined_derivative(f: sp.Expr, x: sp.Symbol) -> sp.Expr:
    return f.fdiff(1)


def _constant_exponent(f: sp.Expr, x: sp.Symbol) -> bool:
    return isinstance(f, sp.Pow) and not _depends(f.exp, x)


def _constant_base(f: sp.Expr, x: sp.Symbol) -> bool:
    return isinstance(f, sp.Pow) and not _depends(f.base, x) and _depends(f.exp, x)


def _power_note(f: sp.Expr, x: sp.Symbol) -> str:
    n = f.exp
    if n == sp.S.Half:
        return "with √u = u^(1/2)"
    if n == -sp.S.Half:
        return "with 1/√u = u^(-1/2)"
    return f"with n = {_text(n)}"


FALLBACK_RULE = "sympy-diff"
CHAIN_RULE = "chain-rule"
HIGHER_ORDER_RULE = "higher-derivative"
SIMPLIFY_RULE = "algebra"
UNDEFINED_RULE = "undefined-function"


def _declared(name: str, applies_to: Applies, apply: Apply, **options: Any) -> DiffRule:
    """A built-in rule whose law (LaTeX, text, summary) is declared in :data:`symgrad.core.rules.BUILTIN_RULES`."""
    law = _rule_registry.get(name)
    return DiffRule(name, applies_to, law.statement, apply, law=law.law, summary=law.summary, **options)


def _builtin_rules() -> list[DiffRule]:
    S = sp.S
    rules = [
        _declared("constant-rule", lambda f, x: not _depends(f, x), lambda f, x: S.Zero, order=0),
        _declared("variable-rule", lambda f, x: f == x, lambda f, x: S.One, order=1),
        _declared("sum-rule", lambda f, x: isinstance(f, sp.Add), _sum, note=_sum_note, order=10),
        _declared("constant-multiple-rule", _has_constant_factor, _constant_multiple, order=11),
        _declared("quotient-rule", _is_quotient, _quotient, order=12),
        _declared("product-rule", lambda f, x: isinstance(f, sp.Mul), _product, order=13),
        _declared("power-rule", _constant_exponent, lambda f, x: f.exp * f.base ** (f.exp - 1), argument=lambda f: f.base, note=_power_note, order=20),
        _declared("exponential-rule", _constant_base, lambda f, x: f * sp.log(f.base), argument=lambda f: f.exp, order=21),
        _declared("general-power-rule", lambda f, x: isinstance(f, sp.Pow), _general_power, order=22),
    ]
    outer: list[tuple[str, Any, Callable[[sp.Expr], sp.Expr]]] = [
        ("exp-derivative", sp.exp, lambda u: sp.exp(u)),
        ("log-derivative", sp.log, lambda u: 1 / u),
        ("sin-derivative", sp.sin, lambda u: sp.cos(u)),
        ("cos-derivative", sp.cos, lambda u: -sp.sin(u)),
        ("tan-derivative", sp.tan, lambda u: 1 + sp.tan(u) ** 2),
        ("sinh-derivative", sp.sinh, lambda u: sp.cosh(u)),
        ("cosh-derivative", sp.cosh, lambda u: sp.sinh(u)),
        ("tanh-derivative", sp.tanh, lambda u: 1 - sp.tanh(u) ** 2),
        ("atan-derivative", sp.atan, lambda u: 1 / (1 + u ** 2)),
        ("asin-derivative", sp.asin, lambda u: 1 / sp.sqrt(1 - u ** 2)),
        ("acos-derivative", sp.acos, lambda u: -1 / sp.sqrt(1 - u ** 2)),
        ("erf-derivative", sp.erf, lambda u: 2 * sp.exp(-u ** 2) / sp.sqrt(sp.pi)),
        ("sigmoid-derivative", sigmoid, lambda u: sigmoid(u) * (1 - sigmoid(u))),
    ]
    for name, cls, derivative in outer:
        rules.append(_declared(name, _function(cls), _at_argument(derivative), argument=_only_argument, order=30))
    rules += [
        _declared("relu-derivative", _is_relu, lambda f, x: sp.Heaviside(_relu_argument(f)), argument=_relu_argument, note=_relu_note, order=30),
        _declared("abs-derivative", _is_real_abs, lambda f, x: sp.sign(f.args[0]), argument=_only_argument, note=_abs_note, order=30),
        _declared(UNDEFINED_RULE, _is_undefined, _undefined_derivative, argument=_only_argument, order=40),
    ]
    return rules


#: The registry :func:`symgrad.derive` uses unless given another.
registry = DiffRegistry.with_builtins()


def register_derivative(func: Any, derivative: Callable[[sp.Expr], sp.Expr], *, name: str | None = None,
                        statement: str | None = None, law: str | None = None, summary: str | None = None,
                        replace: bool = False) -> DiffRule:
    """Register ``d/du func(u) = derivative(u)`` in the global :data:`registry`.

    See :meth:`DiffRegistry.register_derivative`. Example::

        register_derivative(softsign, lambda u: 1 / (1 + sp.Abs(u)) ** 2)
    """
    return registry.register_derivative(func, derivative, name=name, statement=statement, law=law,
                                        summary=summary, replace=replace)
