"""SymPy functions of deep learning that SymPy lacks: the logistic sigmoid.

``sigmoid(x)`` is a :class:`sympy.Function` whose derivative is
``sigmoid(x) * (1 - sigmoid(x))``, that prints as ``\\sigma\\left(x\\right)``
in LaTeX, evaluates numerically at any precision and rewrites to
``1/(1 + exp(-x))``.
"""

from __future__ import annotations

from typing import Any

import mpmath
import sympy as sp

from .errors import InputError

__all__ = ["sigmoid"]

#: Extra bits carried through ``1/(1 + exp(-x))`` (no cancellation: both terms are positive for real x).
_GUARD_BITS = 20


class sigmoid(sp.Function):  # noqa: N801 - SymPy functions are lower-case
    r"""The logistic function :math:`\sigma(x) = 1/(1 + e^{-x})`.

    Law: :math:`\sigma'(x) = \sigma(x)(1 - \sigma(x))`; :math:`0 < \sigma(x) < 1`
    for real :math:`x`; :math:`\sigma(-x) = 1 - \sigma(x)`.
    """

    nargs = 1

    def __new__(cls, *args: Any, **options: Any) -> Any:
        # SymPy would parse a string argument as code (sympify): refuse it.
        for arg in args:
            if isinstance(arg, str):
                raise InputError(f"sigmoid: got the string {arg!r}; pass a SymPy expression "
                                 "(symgrad never parses text with sympify)")
        return super().__new__(cls, *args, **options)

    @classmethod
    def eval(cls, arg: sp.Expr) -> sp.Expr | None:
        if arg.is_zero:
            return sp.S.Half
        if arg is sp.S.Infinity:
            return sp.S.One
        if arg is sp.S.NegativeInfinity:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, arg: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 1 / (1 + sp.exp(-arg))

    def _eval_rewrite_as_tanh(self, arg: sp.Expr, **kwargs: Any) -> sp.Expr:
        return (1 + sp.tanh(arg / 2)) / 2

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        """``1/(1 + exp(-x))`` in mpmath at ``prec`` bits plus guard bits, for a finite real argument.

        Any other argument (symbolic, complex, infinite) is evaluated through
        the rewritten form, as before: its numbers evaluated, the rest kept.
        """
        try:
            arg = self.args[0]._to_mpmath(prec + _GUARD_BITS)
        except (ValueError, TypeError, AttributeError):
            arg = None
        if not isinstance(arg, mpmath.mpf) or not mpmath.isfinite(arg):
            return self.rewrite(sp.exp)._eval_evalf(prec)
        with mpmath.workprec(prec + _GUARD_BITS):
            value = 1 / (1 + mpmath.exp(-arg))
        return sp.Expr._from_mpmath(value, prec)

    def _eval_is_extended_real(self) -> bool | None:
        return self.args[0].is_extended_real

    def _eval_is_positive(self) -> bool | None:
        if self.args[0].is_extended_real:
            return True
        return None

    def _eval_is_finite(self) -> bool | None:
        if self.args[0].is_extended_real:
            return True
        return None

    def _latex(self, printer: Any, exp: Any = None) -> str:
        arg = printer._print(self.args[0])
        base = rf"\sigma\left({arg}\right)"
        return rf"{base}^{{{exp}}}" if exp is not None else base
