"""The sigmoid evaluates in mpmath directly (no rewrite to exp per call), correctly to the precision asked."""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy as sp

from symgrad.core.functions import sigmoid


def reference(q: sp.Rational, dps: int) -> mpmath.mpf:
    """An independent oracle: mpmath at far more digits, from the exact rational."""
    with mpmath.workdps(dps + 60):
        return 1 / (1 + mpmath.exp(-mpmath.mpf(q.p) / q.q))


@pytest.mark.parametrize("dps", [15, 50, 200])
def test_real_values_are_accurate_to_the_precision_asked(dps: int) -> None:
    rng = random.Random(dps)
    for _ in range(60):
        q = sp.Rational(rng.randint(-10**7, 10**7), rng.randint(1, 10**4))
        got = sigmoid(q).evalf(dps)
        assert isinstance(got, sp.Float) and got._prec >= sp.core.evalf.dps_to_prec(dps)
        ref = reference(q, dps)
        with mpmath.workdps(dps + 60):
            error = abs(mpmath.mpf(got._mpf_) - ref) / ref
        assert error <= mpmath.mpf(2) ** (1 - got._prec), (q, dps, got)


def test_floats_and_exact_constants() -> None:
    assert sigmoid(sp.Float(0.5)).evalf() == pytest.approx(1 / (1 + mpmath.e ** -0.5), rel=1e-15)
    assert abs(sigmoid(sp.pi).evalf(40) - (1 / (1 + sp.exp(-sp.pi))).evalf(40)) < sp.Float(10) ** -39
    assert sigmoid(-sp.Integer(10) ** 6).evalf() > 0  # far in the tail: tiny, not zero


@pytest.mark.parametrize("arg", [sp.Symbol("x"), 2 * sp.Symbol("x", real=True) + 1, 1 + 2 * sp.I, sp.I * sp.pi,
                                 sp.oo, -sp.oo, sp.nan])
def test_other_arguments_evaluate_as_the_rewritten_form(arg: sp.Expr) -> None:
    assert sp.srepr(sigmoid(arg).evalf(30)) in (sp.srepr((1 / (1 + sp.exp(-arg))).evalf(30)),
                                                  sp.srepr(sigmoid(arg)))


def test_no_rewrite_on_real_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: sigmoid, *args: object, **kwargs: object) -> None:
        raise AssertionError("rewrote to exp")

    monkeypatch.setattr(sigmoid, "_eval_rewrite_as_exp", refuse)
    assert sigmoid(sp.Rational(1, 3)).evalf(50) > sp.Rational(1, 2)
