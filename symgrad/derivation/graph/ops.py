r"""The ops of a computation graph: how each primitive computes (data), and its local derivatives.

An :class:`Op` says how a node's value follows from its inputs' values. Its
local derivatives :math:`\partial\,\mathrm{out}/\partial\,\mathrm{args}_i` are not
restated here: :func:`local_derivatives` applies the table of differentiation
rules (:mod:`symgrad.derivation.diffrules`, through :func:`~symgrad.derive`) to
the op's value at fresh variables, one per input slot, so that each law
(e.g. :math:`\sigma' = \sigma(1 - \sigma)`) is stated once. An op may instead
carry its own ``partials``; the kernel checks every adjoint built from them,
so a wrong one is refuted, never trusted.

The built-in ops are the literal table :data:`OPS`; :func:`register_op` adds
one at run time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import sympy as sp

from ...core.errors import InputError
from ...core.functions import sigmoid
from ..derive import derive

__all__ = ["Op", "OPS", "FUNCTION_OPS", "register_op", "op_named", "local_derivatives"]

#: What a node (or op) name looks like: it is also a TikZ and Mermaid identifier.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

Args = tuple[sp.Expr, ...]
Param = Any  # a SymPy number (scale, shift, pow, const), a Symbol (input) or None
Partials = Callable[[sp.Expr, Args, Param], Args]


@dataclass(frozen=True)
class Op:
    r"""A primitive operation of a graph.

    ``apply(args, param)`` is the node's value from its inputs' values.
    ``partials(out, args, param)``, when given, are the local derivatives
    :math:`\partial\,\mathrm{out}/\partial\,\mathrm{args}_i`, one per input slot
    (``out`` is the node's own value); ``None`` derives them with the table of
    differentiation rules (:func:`local_derivatives`). ``arity`` is the number
    of inputs (``None``: two or more). ``label`` and ``tex_label`` name the gate
    in figures (ASCII for Mermaid, LaTeX for TikZ); ``rule`` states the local
    derivative law for justifications (text with inline ``$...$`` math). ``param`` is required when
    ``takes_param``.
    """

    name: str
    arity: int | None
    apply: Callable[[Args, Param], sp.Expr]
    partials: Partials | None
    label: Callable[[Param], str]
    tex_label: Callable[[Param], str]
    rule: str
    takes_param: bool = False

    @property
    def is_leaf(self) -> bool:
        return self.arity == 0


def text(value: Param) -> str:
    """A number in ASCII, parenthesised unless it is a plain integer or decimal."""
    out = sp.sstr(value)
    return out if re.fullmatch(r"-?[0-9.]+|[A-Za-z]\w*", out) else f"({out})"


def _negative(value: Param) -> bool:
    return sp.sstr(value).startswith("-")


def _fixed_label(label: str) -> Callable[[Param], str]:
    """The label of an op whose look does not depend on its param."""
    return lambda p: label


#: The ops by name: the built-ins, and any :func:`register_op` adds.
OPS: dict[str, Op] = {op.name: op for op in (
    Op("input", 0, lambda a, p: p, None, _fixed_label("input"), lambda p: f"${sp.latex(p)}$",
       "an input has no inputs", takes_param=True),
    Op("const", 0, lambda a, p: p, None, text, lambda p: f"${sp.latex(p)}$",
       "a constant has no inputs", takes_param=True),
    Op("add", None, lambda a, p: sp.Add(*a), None, _fixed_label("+"), _fixed_label("$+$"), r"$\partial(a + b)/\partial a = 1$"),
    Op("mul", None, lambda a, p: sp.Mul(*a), None, _fixed_label("*"), _fixed_label(r"$\times$"),
       r"$\partial(a b)/\partial a = b$"),
    Op("neg", 1, lambda a, p: -a[0], None, _fixed_label("-x"), _fixed_label("$-x$"), r"$\partial(-a)/\partial a = -1$"),
    Op("scale", 1, lambda a, p: p * a[0], None, lambda p: f"*{text(p)}", lambda p: rf"$\times {sp.latex(p)}$",
       r"$\partial(c a)/\partial a = c$", takes_param=True),
    Op("shift", 1, lambda a, p: a[0] + p, None, lambda p: text(p) if _negative(p) else f"+{text(p)}",
       lambda p: f"${'' if _negative(p) else '+'}{sp.latex(p)}$", r"$\partial(a + c)/\partial a = 1$", takes_param=True),
    Op("recip", 1, lambda a, p: 1 / a[0], None, _fixed_label("1/x"), _fixed_label("$1/x$"), r"$\partial(1/a)/\partial a = -1/a^2$"),
    Op("pow", 1, lambda a, p: a[0] ** p, None, lambda p: f"^{text(p)}", lambda p: f"$x^{{{sp.latex(p)}}}$",
       r"$\partial a^c/\partial a = c a^{c-1}$", takes_param=True),
    Op("power", 2, lambda a, p: a[0] ** a[1], None, _fixed_label("a^b"), _fixed_label("$a^b$"),
       r"$\partial a^b/\partial a = b a^{b-1}$, $\partial a^b/\partial b = a^b \log a$"),
    Op("exp", 1, lambda a, p: sp.exp(a[0]), None, _fixed_label("exp"), _fixed_label(r"$\exp$"),
       r"$\partial e^a/\partial a = e^a$"),
    Op("log", 1, lambda a, p: sp.log(a[0]), None, _fixed_label("log"), _fixed_label(r"$\log$"),
       r"$\partial \log a/\partial a = 1/a$"),
    Op("sigmoid", 1, lambda a, p: sigmoid(a[0]), None, _fixed_label("sigmoid"), _fixed_label(r"$\sigma$"),
       r"$\partial \sigma(a)/\partial a = \sigma(a)\,(1 - \sigma(a))$"),
    Op("tanh", 1, lambda a, p: sp.tanh(a[0]), None, _fixed_label("tanh"), _fixed_label(r"$\tanh$"),
       r"$\partial \tanh a/\partial a = 1 - \tanh^2 a$"),
    Op("sin", 1, lambda a, p: sp.sin(a[0]), None, _fixed_label("sin"), _fixed_label(r"$\sin$"),
       r"$\partial \sin a/\partial a = \cos a$"),
    Op("cos", 1, lambda a, p: sp.cos(a[0]), None, _fixed_label("cos"), _fixed_label(r"$\cos$"),
       r"$\partial \cos a/\partial a = -\sin a$"),
)}

#: SymPy function classes that :meth:`Graph.from_expr` traces as one node of an op.
FUNCTION_OPS: dict[type, str] = {sp.exp: "exp", sp.log: "log", sigmoid: "sigmoid", sp.tanh: "tanh",
                                 sp.sin: "sin", sp.cos: "cos"}


def register_op(op: Op, function: type | None = None, *, replace: bool = False) -> Op:
    """Add ``op`` to :data:`OPS`; with ``function`` (a one-argument SymPy function class),
    :meth:`Graph.from_expr` traces ``function(a)`` as one node of this op."""
    if not isinstance(op, Op):
        raise InputError(f"register_op: expected an Op, got {type(op).__name__}")
    if not NAME.match(op.name):
        raise InputError(f"register_op: op name {op.name!r} must be a letter followed by letters, digits or _")
    if op.name in OPS and not replace:
        raise InputError(f"op {op.name!r} is already registered (pass replace=True to override)")
    OPS[op.name] = op
    if function is not None:
        FUNCTION_OPS[function] = op.name
    return op


def op_named(name: str, where: str) -> Op:
    """The op ``name`` (InputError naming ``where`` and the known ops otherwise)."""
    try:
        return OPS[name]
    except KeyError:
        raise InputError(f"{where}: unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None


def local_derivatives(op: Op, out: sp.Expr, args: Args, param: Param) -> Args:
    r""":math:`\partial\,\mathrm{out}/\partial\,\mathrm{args}_i` for every input slot ``i``.

    The op's own ``partials`` if it has them; otherwise the derivation of the
    op's value at fresh variables :math:`u_i` (one per slot, so an input read
    twice gets two partials), by the rules :func:`~symgrad.derive` applies,
    taken at :math:`u_i = \mathrm{args}_i`.
    """
    if op.partials is not None:
        return op.partials(out, args, param)
    slots = tuple(sp.Dummy(f"u{i}") for i in range(len(args)))
    value = op.apply(slots, param)
    at = dict(zip(slots, args))
    return tuple(derive(value, u, simplify=False).end.xreplace(at) for u in slots)  # type: ignore[union-attr]


def number(value: Any, where: str) -> sp.Expr:
    """An exact SymPy number; floats are read as the decimal they print as."""
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a number, got the boolean {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{where}: expected a finite number, got {value!r}")
        fraction = Fraction(repr(value))
        return sp.Rational(fraction.numerator, fraction.denominator)
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, sp.Basic) and isinstance(value, sp.Expr) and value.is_number:
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise InputError(f"{where}: expected a finite number, got {value}")
        if isinstance(value, sp.Float):
            return sp.nsimplify(value, rational=True)
        return value
    raise InputError(f"{where}: expected a number (int, float, Fraction or a SymPy number), got {value!r}")
