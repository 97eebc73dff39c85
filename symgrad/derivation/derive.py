r"""Step-by-step differentiation: ``derive(expr, x)`` returns a derivation for the kernel to check.

The derivation is a :class:`~symgrad.model.Proof` that starts at the
unevaluated ``Derivative(expr, x)``. Each step rewrites one pending
derivative ``d/dx f`` by one rule of a :class:`~symgrad.diffrules.DiffRegistry`
and names it:

- a structural rule (sum, product, quotient, ...) leaves the derivatives of
  the parts pending, to be rewritten by later steps;
- an outer-function rule (exp, log, power, sigmoid, ReLU, ...) applied to the
  variable itself gives the derivative at once; applied to a composite
  argument ``u`` it is a **chain-rule** step that names ``u = ...`` and
  carries the derivation of ``du/dx`` as its sub-proof (``Step.details``);
- a function without a rule falls back to a step labelled "by SymPy's diff"
  (rule ``sympy-diff``), so nothing is skipped silently.

When no derivative is pending, a last step tidies the result if a cheap,
deterministic normal form (``cancel``, ``factor_terms``, ``together``) is shorter. Nothing here is trusted: the kernel
checks every step (and every sub-proof) by evaluating the derivatives with
SymPy, so a proved derivation proves ``end == sympy.diff(expr, x)``.

``derive(expr, [x, y])`` gives a :class:`Gradient` (one derivation per
variable); ``derive(expr, x, n=2)`` a derivation of the second derivative
whose first step rests on the derivation of the first (as its sub-proof).

A derivative of an undefined function of a symbol (``sympy.Function("f")(x)``)
is SymPy's notation for ``f'(x)`` and stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, Union

import sympy as sp
from sympy.core.function import AppliedUndef

from ..core.budget import OutOfTime, run_within
from .diffrules import (
    CHAIN_RULE,
    FALLBACK_RULE,
    HIGHER_ORDER_RULE,
    SIMPLIFY_RULE,
    UNDEFINED_RULE,
    DiffRegistry,
    DiffRule,
    registry as default_registry,
)
from ..core.errors import InputError, UnsupportedError
from ..proofs.documents import Document, ProofBlock, Prose, Section
from ..proofs.proof import Proof, calc
from ..core.expressions import as_expr as _as_expr

if TYPE_CHECKING:  # pragma: no cover
    from ..core.kernel import CheckOptions
    from ..proofs.proof import Report

__all__ = ["derive", "Gradient", "MAX_STEPS", "SIMPLIFY_SECONDS"]

#: A derivation longer than this is a runaway rule (one that never finishes).
MAX_STEPS = 400
#: Time allowed for each final tidying method (a safety net: they take milliseconds on
#: typical results); results with more than ``SIMPLIFY_MAX_OPS`` operations are left as they are.
SIMPLIFY_SECONDS = 5.0
SIMPLIFY_MAX_OPS = 400


def _text(expr: sp.Basic) -> str:
    return " ".join(sp.sstr(expr).split())


# ---------------------------------------------------------------------------
# The gradient container
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Gradient:
    """The derivations of ``∂expr/∂v`` for each variable ``v``, in order.

    Iterate it (or index it by position or by symbol) to get the proofs;
    ``components`` are their results, ``check()`` checks them all and
    ``document()`` makes a :class:`~symgrad.model.Document` to render.
    """

    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]
    proofs: tuple[Proof, ...]
    order: int = 1

    def __iter__(self) -> Iterator[Proof]:
        return iter(self.proofs)

    def __len__(self) -> int:
        return len(self.proofs)

    def __getitem__(self, key: int | sp.Symbol) -> Proof:
        if isinstance(key, sp.Symbol):
            try:
                return self.proofs[self.variables.index(key)]
            except ValueError:
                raise InputError(f"{key} is not one of the gradient's variables "
                                 f"({', '.join(map(str, self.variables))})") from None
        return self.proofs[key]

    @property
    def components(self) -> tuple[sp.Expr, ...]:
        """The derivative with respect to each variable (each derivation's end)."""
        return tuple(p.end for p in self.proofs)

    def check(self, options: "CheckOptions | None" = None, **kwargs: Any) -> tuple["Report", ...]:
        """Check every derivation with the kernel; one report per variable."""
        return tuple(p.check(options, **kwargs) for p in self.proofs)

    def document(self, name: str = "gradient", title: str | None = None) -> Document:
        """A document with one section and one derivation per variable."""
        blocks: list[Any] = [Prose(f"The derivative of ${sp.latex(self.expr)}$ with respect to each variable.")]
        for v, proof in zip(self.variables, self.proofs):
            blocks += [Section(f"With respect to {v}"), ProofBlock(proof)]
        return Document(name=name, title=title or f"Gradient of {_text(self.expr)}",
                        summary="", blocks=tuple(blocks))

    def __repr__(self) -> str:
        order = "" if self.order == 1 else f", order {self.order}"
        lines = [f"Gradient of {_text(self.expr)} with respect to "
                 f"{', '.join(map(str, self.variables))} ({len(self.proofs)} derivations{order}):"]
        for v, proof in zip(self.variables, self.proofs):
            lines.append(f"  [{v}] {_text(proof.end)}")
            lines += ["      " + line for line in repr(proof).splitlines()]
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# The differentiator
# ---------------------------------------------------------------------------


class _Deriver:
    """Differentiates with respect to one variable, one rule per step."""

    def __init__(self, x: sp.Symbol, rules: DiffRegistry, assume: tuple[Any, ...], simplify: bool) -> None:
        self.x = x
        self.rules = rules
        self.assume = assume
        self.simplify = simplify

    # -- which derivatives are pending -----------------------------------------
    def _is_terminal(self, d: sp.Derivative) -> bool:
        """``d/dx f(x)`` of an undefined ``f`` (without a registered rule of its own) is
        SymPy's notation for ``f'(x)``: nothing to do."""
        f = d.expr
        if not (isinstance(f, AppliedUndef) and all(isinstance(a, sp.Symbol) for a in f.args)):
            return False
        rule = self.rules.match(f, self.x)
        return rule is None or rule.name == UNDEFINED_RULE

    def _next_pending(self, expr: sp.Expr) -> sp.Derivative | None:
        for node in sp.preorder_traversal(expr):
            if (isinstance(node, sp.Derivative) and node.variable_count == ((self.x, 1),)
                    and not self._is_terminal(node)):
                return node
        return None

    # -- derivations ------------------------------------------------------------
    def derivation(self, f: sp.Expr) -> Proof:
        """The derivation of ``d/dx f``."""
        return self._finish(calc(sp.Derivative(f, self.x, evaluate=False), assume=self.assume))

    def higher(self, f: sp.Expr, n: int) -> Proof:
        """The derivation of ``d^n/dx^n f``: the first step rests on the one of order n - 1."""
        if n == 1:
            return self.derivation(f)
        below = self.higher(f, n - 1)
        start = sp.Derivative(f, (self.x, n), evaluate=False)
        x = self.x
        below_text = f"d/d{x} f" if n == 2 else f"d^{n - 1}/d{x}^{n - 1} f"
        text = f"d^{n}/d{x}^{n} f = d/d{x} ({below_text}); order {n - 1} derived in the sub-proof"
        proof = calc(start, assume=self.assume).eq(sp.Derivative(below.end, self.x, evaluate=False),
                                                   by=text, rule=HIGHER_ORDER_RULE, details=[below])
        return self._finish(proof)

    def _finish(self, proof: Proof) -> Proof:
        expr = proof.end
        for _ in range(MAX_STEPS):
            pending = self._next_pending(expr)
            if pending is None:
                break
            result, rule, text, details = self._rewrite(pending)
            new = expr.xreplace({pending: result})
            if new == expr:
                raise InputError(f"differentiation rule {rule!r} did not change {_text(pending)}: "
                                 "derive would loop forever")
            proof = proof.eq(new, by=text, rule=rule, details=details)
            expr = new
        else:
            raise UnsupportedError(f"derive: more than {MAX_STEPS} steps for {_text(proof.start)}; "
                                   "a rule keeps producing new pending derivatives")
        if self.simplify:
            tidied = _simplified(expr)
            if tidied is not None:
                shorter, method = tidied
                proof = proof.eq(shorter, by=f"simplify the result ({method})", rule=SIMPLIFY_RULE)
        return proof

    def _rewrite(self, pending: sp.Derivative) -> tuple[sp.Expr, str, str, tuple[Proof, ...]]:
        """Rewrite ``pending`` by one rule: ``(result, rule name, justification, sub-proofs)``."""
        f, x = pending.expr, self.x
        rule = self.rules.match(f, x)
        if rule is None:
            return self._fallback(pending)
        if not rule.is_outer:
            result = _call(rule, "result", f, lambda: rule.apply(f, x))
            return result, rule.name, _join(rule.text_for(x), _note(rule, f, x)), ()
        argument = rule.argument
        assert argument is not None
        u = _call(rule, "argument", f, lambda: argument(f))
        outer = _call(rule, "result", f, lambda: rule.apply(f, x))
        if u == x:
            return outer, rule.name, _join(rule.text_for(x), _note(rule, f, x)), ()
        inner = self.derivation(u)
        text = _join(f"chain rule with u = {_text(u)} (du/d{x} in the sub-proof)",
                     f"{rule.name}: {rule.text_for(x)}", _note(rule, f, x))
        return sp.Mul(outer, inner.end), CHAIN_RULE, text, (inner,)

    def _fallback(self, pending: sp.Derivative) -> tuple[sp.Expr, str, str, tuple[Proof, ...]]:
        f = pending.expr
        result = sp.diff(f, self.x)
        if result == pending:
            raise UnsupportedError(
                f"cannot differentiate {_text(f)}: symgrad has no rule for {_head(f)} and SymPy leaves its "
                "derivative unevaluated; register one with symgrad.register_derivative (and give the "
                "function an fdiff so that the kernel can check it)")
        return result, FALLBACK_RULE, f"SymPy's diff (symgrad has no rule for {_head(f)})", ()


def _head(f: sp.Expr) -> str:
    name = getattr(f.func, "__name__", type(f).__name__)
    return f"{name}(...)" if f.args else name


def _note(rule: DiffRule, f: sp.Expr, x: sp.Symbol) -> str:
    return rule.note(f, x) if rule.note is not None else ""


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _call(rule: DiffRule, what: str, f: sp.Expr, compute: Callable[[], Any]) -> sp.Expr:
    """Run a (possibly user-written) rule; its failures are misuse, named with the rule."""
    try:
        value = compute()
    except Exception as exc:
        raise InputError(f"differentiation rule {rule.name!r} failed to compute the {what} "
                         f"for {_text(f)}: {exc}") from exc
    if not isinstance(value, sp.Expr):
        raise InputError(f"differentiation rule {rule.name!r} returned {type(value).__name__} as the {what} "
                         f"for {_text(f)}; it must return a SymPy expression")
    return value


#: The final tidying: cheap, deterministic SymPy normal forms, tried in this order.
TIDY_METHODS: tuple[tuple[str, Callable[[sp.Expr], sp.Expr]], ...] = (
    ("cancel", sp.cancel),
    ("factor_terms", sp.factor_terms),
    ("together, then factor_terms", lambda e: sp.factor_terms(sp.together(e))),
)


def _simplified(expr: sp.Expr) -> tuple[sp.Expr, str] | None:
    """The shortest (by ``count_ops``) of :data:`TIDY_METHODS` applied to ``expr``, with
    the method's name, if it is strictly shorter than ``expr``; else None.

    ``sympy.simplify`` is not used: on sigmoid/tanh compositions it can take many
    seconds, and a time limit would make the derivation depend on the machine.
    """
    before = sp.count_ops(expr)
    if before > SIMPLIFY_MAX_OPS or before == 0:
        return None
    best: tuple[sp.Expr, str] | None = None
    best_ops = before
    for name, method in TIDY_METHODS:
        try:
            candidate = run_within(lambda: method(expr), SIMPLIFY_SECONDS)
        except OutOfTime:
            continue
        if candidate.has(sp.Piecewise) and not expr.has(sp.Piecewise):
            continue
        ops = sp.count_ops(candidate)
        if ops < best_ops:
            best, best_ops = (candidate, name), ops
    return best


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------


def _variables(wrt: Any) -> tuple[sp.Symbol, ...] | sp.Symbol:
    if isinstance(wrt, sp.Symbol):
        return wrt
    if isinstance(wrt, (list, tuple)):
        if not wrt:
            raise InputError("derive: the list of variables is empty")
        for i, v in enumerate(wrt):
            if not isinstance(v, sp.Symbol):
                raise InputError(f"derive: variable {i + 1} must be a SymPy Symbol, got {v!r}")
        if len(set(wrt)) != len(wrt):
            raise InputError(f"derive: the variables {list(wrt)} repeat one")
        return tuple(wrt)
    if isinstance(wrt, str):
        raise InputError(f"derive: got the string {wrt!r} as the variable; pass sympy.Symbol({wrt!r})")
    raise InputError(f"derive: the variable must be a SymPy Symbol or a list of them, got {type(wrt).__name__}")


def derive(expr: Any, wrt: Union[sp.Symbol, Sequence[sp.Symbol]], n: int = 1, *,
           rules: DiffRegistry | None = None, assume: Sequence[Any] = (),
           simplify: bool = True) -> Union[Proof, Gradient]:
    r"""The step-by-step derivation of ``d^n/dx^n expr`` (a :class:`Proof`).

    ``wrt`` is a Symbol, or a list of Symbols for a :class:`Gradient` (one
    derivation per variable). ``n`` is the order. ``rules`` is the registry of
    rules (default: :data:`symgrad.diffrules.registry`, which
    :func:`~symgrad.diffrules.register_derivative` extends); ``assume`` are
    side conditions such as ``x > 0`` for the proof; ``simplify=False`` omits
    the final simplification step. Check the result with ``.check()``.
    """
    f = _as_expr(expr, "derive: the expression")
    if isinstance(f, sp.MatrixBase) or not isinstance(f, sp.Expr):
        raise InputError(f"derive: expected a scalar SymPy expression, got {type(f).__name__}")
    if f.has(sp.Derivative):
        raise InputError(f"derive: {_text(f)} already contains a Derivative; call .doit() on it "
                         "first, or ask for a higher order with n=")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"derive: the order n must be a positive integer, got {n!r}")
    registry = default_registry if rules is None else rules
    if not isinstance(registry, DiffRegistry):
        raise InputError(f"derive: rules must be a DiffRegistry, got {type(registry).__name__}")
    conditions = (assume,) if isinstance(assume, sp.Basic) else tuple(assume)
    variables = _variables(wrt)
    if isinstance(variables, sp.Symbol):
        return _Deriver(variables, registry, conditions, simplify).higher(f, n)
    proofs = tuple(_Deriver(v, registry, conditions, simplify).higher(f, n) for v in variables)
    return Gradient(f, variables, proofs, n)
