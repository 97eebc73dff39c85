"""activation-derivative-bounds: sup |f'| against independent numeric oracles, verdicts, rendering."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad import Status
from symgrad.catalog import activations as act
from tooling import compile_latex, katex_check

# Its module-scoped fixtures are built once: the whole module runs on one xdist worker.
pytestmark = pytest.mark.xdist_group("activations")

# Independent numpy definitions of the activations (not derived from the catalog's SymPy ones).
_erf = np.vectorize(math.erf)
NUMPY = {
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "ReLU": lambda x: np.maximum(x, 0.0),
    "leaky ReLU (slope alpha, 0 < alpha < 1)": lambda x: np.where(x > 0, x, 0.01 * x),
    "ELU (alpha = 1)": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "softplus": lambda x: np.logaddexp(0, x),
    "SiLU / swish": lambda x: x / (1 + np.exp(-x)),
    "GELU (exact, erf)": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
}


@pytest.fixture(scope="module")
def sups():
    return {a.name: act.supremum(a) for a in act.ACTIVATIONS}


def test_every_activation_is_covered(sups):
    assert set(sups) == set(NUMPY)


@pytest.mark.parametrize("name", list(NUMPY))
def test_sup_matches_central_differences_on_a_grid(sups, name):
    f = NUMPY[name]
    grid = np.linspace(-30, 30, 120_001)
    if len(sups[name].activation.pieces) > 1:
        grid = grid[np.abs(grid) > 1e-3]  # away from the kink at 0
    h = 1e-5
    slopes = np.abs((f(grid + h) - f(grid - h)) / (2 * h))
    assert sups[name].numeric_value == pytest.approx(slopes.max(), abs=1e-6)


def test_silu_and_gelu_peaks_against_mpmath(sups):
    silu_second = lambda t: mpmath.diff(lambda u: u / (1 + mpmath.exp(-u)), t, 2)
    gelu_second = lambda t: mpmath.diff(lambda u: u * (1 + mpmath.erf(u / mpmath.sqrt(2))) / 2, t, 2)
    with mpmath.workdps(30):
        silu_peak = mpmath.findroot(silu_second, 2.5)
        gelu_peak = mpmath.findroot(gelu_second, 1.3)
        silu_value = mpmath.diff(lambda u: u / (1 + mpmath.exp(-u)), silu_peak)
    silu, gelu = sups["SiLU / swish"], sups["GELU (exact, erf)"]
    assert abs(float(silu.attained_at.rhs) - float(silu_peak)) < 1e-11
    assert abs(silu.numeric_value - float(silu_value)) < 1e-12
    assert gelu.attained_at.rhs == sp.sqrt(2) and abs(float(gelu_peak) - math.sqrt(2)) < 1e-12
    assert gelu.numeric_value == pytest.approx(1.1289041451851548, abs=1e-13)


def test_methods_attainment_and_verdicts(sups):
    symbolic = ["sigmoid", "tanh", "ReLU", "leaky ReLU (slope alpha, 0 < alpha < 1)", "ELU (alpha = 1)", "softplus"]
    for name in symbolic:
        assert sups[name].method == "symbolic" and sups[name].verdict is Status.PROVED, name
    assert sups["sigmoid"].value == sp.Rational(1, 4)
    assert sups["sigmoid"].attained_at == sp.Eq(act.x, 0, evaluate=False)
    assert sups["softplus"].attained_at.startswith("not attained")
    assert sups["ReLU"].attained_at == "every positive x"
    assert sups["GELU (exact, erf)"].method == "symbolic"  # critical points from solve
    # Both transcendental bounds are proved by rigorous interval arithmetic (critical points isolated).
    assert sups["GELU (exact, erf)"].verdict is Status.PROVED
    assert sups["SiLU / swish"].method == "numeric" and sups["SiLU / swish"].verdict is Status.PROVED


def test_derivatives_agree_with_numerical_differentiation(sups):
    """An oracle outside SymPy: mpmath's numerical derivative of each piece of f."""
    import mpmath

    for activation in act.ACTIVATIONS:
        derivative = sups[activation.name].derivative
        for piece in activation.pieces:
            point = sp.Rational(3, 7) if piece.hi.is_infinite else sp.Rational(-3, 7)
            f = sp.lambdify(act.x, piece.expr.subs(act.ALPHA, sp.Rational(1, 100))
                            if hasattr(act, "ALPHA") else piece.expr, "mpmath")
            with mpmath.workdps(30):
                numeric = mpmath.nstr(mpmath.diff(f, mpmath.mpf(3) / 7 if point > 0 else -mpmath.mpf(3) / 7), 30)
            claimed = derivative.subs(act.x, point)
            if hasattr(act, "ALPHA"):
                claimed = claimed.subs(act.ALPHA, sp.Rational(1, 100))
            assert abs(sp.N(claimed, 30) - sp.Float(numeric, 30)) < 1e-20, activation.name


def test_a_too_small_bound_is_refuted():
    verdict, _ = act._kernel_bound(act.ACTIVATIONS[1], sp.Rational(9, 10))  # tanh' reaches 1
    assert verdict is Status.REFUTED


def test_entry_checks_renders_and_compiles(tmp_path):
    document = sg.catalog.get(act.NAME)
    report = document.check()
    assert report.ok
    markdown = sg.render(report, "markdown")
    assert katex_check(markdown, act.NAME) == []
    assert "1.128904145185" in markdown and "1.099839320129" in markdown
    tex = tmp_path / f"{act.NAME}.tex"
    tex.write_text(sg.render(report, "latex"), encoding="utf-8")
    compile_latex(tex, tmp_path / "build")
