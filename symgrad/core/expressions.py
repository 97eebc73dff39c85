"""Checked conversion of user values into SymPy objects.

Strings are refused everywhere: symgrad never parses text with ``sympify``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy as sp

from .errors import InputError

__all__ = ["as_expr", "as_condition"]


def as_expr(value: Any, where: str) -> sp.Expr:
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
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, str):
        raise InputError(
            f"{where}: got the string {value!r}; build expressions with SymPy "
            "(symgrad does not sympify text)"
        )
    raise InputError(f"{where}: expected a SymPy expression or a number, got {type(value).__name__}")


def as_condition(value: Any, where: str) -> sp.Basic:
    if isinstance(value, bool):
        raise InputError(f"{where}: the assumption is the constant {value}; pass a SymPy relation")
    if isinstance(value, (sp.logic.boolalg.BooleanTrue, sp.logic.boolalg.BooleanFalse)):
        raise InputError(f"{where}: the assumption evaluated to {value} before symgrad saw it")
    if isinstance(value, sp.Rel) or isinstance(value, (sp.And, sp.Or, sp.Not)):
        return value
    raise InputError(f"{where}: an assumption must be a SymPy relation such as 0 < t, got {value!r}")
