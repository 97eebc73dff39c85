"""Corpora of proofs: wrong ones must be REFUTED (never proved), right ones PROVED.

Every counterexample the kernel gives is re-checked here by an independent
evaluation (SymPy evalf at 30 digits of the original, unprepared sides).
"""

from __future__ import annotations

from typing import Callable

import pytest
import sympy as sp

import symgrad as sg
from symgrad import calc, sigmoid

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
t = sp.Symbol("t", real=True)
w = sp.Symbol("w", real=True)
b = sp.Symbol("b", real=True)
z1, z2 = sp.symbols("z1 z2", real=True)
a_pos, b_pos = sp.symbols("a b", positive=True)
xs = sp.symbols("x1:4", real=True)
s = sigmoid(x)
half, quarter = sp.Rational(1, 2), sp.Rational(1, 4)
D = sp.Derivative


def softmax1(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    return sp.exp(u) / (sp.exp(u) + sp.exp(v))


# (name, proof, index of the first wrong step)
WRONG: list[tuple[str, Callable[[], sg.Proof], int]] = [
    ("sign error in sigma'", lambda: calc(D(s, x)).eq(s * (s - 1)), 1),
    ("missing inner factor 2", lambda: calc(D(sigmoid(2 * x), x)).eq(sigmoid(2 * x) * (1 - sigmoid(2 * x))), 1),
    ("reversed inequality", lambda: calc(D(s, x)).eq(s * (1 - s)).ge(quarter), 2),
    ("off by a constant", lambda: calc(s * (1 - s)).eq(half - (s - half) ** 2), 1),
    ("sqrt(x^2) = x without x >= 0", lambda: calc(sp.sqrt(x**2)).eq(x), 1),
    ("wrong tanh derivative", lambda: calc(D(sp.tanh(x), x)).eq(1 + sp.tanh(x) ** 2), 1),
    ("softplus derivative is not 1/(1+e^x)", lambda: calc(D(sp.log(1 + sp.exp(x)), x)).eq(1 / (1 + sp.exp(x))), 1),
    ("power rule keeps the exponent", lambda: calc(D(x**3, x)).eq(3 * x**3), 1),
    ("quotient rule sign", lambda: calc(D(1 / x, x)).eq(1 / x**2), 1),
    ("chain rule forgets the inner derivative", lambda: calc(D(sp.exp(x**2), x)).eq(sp.exp(x**2)), 1),
    ("softplus(-x) derivative sign", lambda: calc(D(sp.log(1 + sp.exp(-x)), x)).eq(sigmoid(x)), 1),
    ("exp(x) >= 1 + x + x^2", lambda: calc(sp.exp(x)).ge(1 + x + x**2), 1),
    ("log t <= t - 2", lambda: calc(sp.log(a_pos)).le(a_pos - 2), 1),
    ("(a+b)^2 = a^2 + b^2", lambda: calc((x + y) ** 2).eq(x**2 + y**2), 1),
    ("strict bound attained at 0", lambda: calc(D(s, x)).eq(s * (1 - s)).lt(quarter), 2),
    ("third step wrong in a longer chain", lambda: calc(D(s, x)).eq(s * (1 - s))
        .eq(quarter - (s - half) ** 2).le(sp.Rational(1, 5)), 3),
    ("tanh x <= x for all real x", lambda: calc(sp.tanh(x)).le(x), 1),
    ("ReLU' = 1 everywhere", lambda: calc(D(sp.Max(0, x), x)).eq(1), 1),
    ("sum of deviations is the mean", lambda: calc(sum(xi - sum(xs) / 3 for xi in xs)).eq(sum(xs) / 3), 1),
    ("variance with a plus sign", lambda: calc(sum((xi - sum(xs) / 3) ** 2 for xi in xs) / 3)
        .eq(sum(xi**2 for xi in xs) / 3 + (sum(xs) / 3) ** 2), 1),
    ("softmax cross-entropy gradient missing -1", lambda: calc(D(-sp.log(softmax1(z1, z2)), z1))
        .eq(softmax1(z1, z2)), 1),
    ("x sigma(x) >= 0 needs x >= 0", lambda: calc(x * s).ge(0), 1),
    ("AM-GM without positivity", lambda: calc((x + y) / 2).ge(sp.sqrt(x * y)), 1),
    ("affine neuron derivative drops w", lambda: calc(D(sigmoid(w * x + b), x))
        .eq(sigmoid(w * x + b) * (1 - sigmoid(w * x + b))), 1),
    ("t(1-t) <= 1/5 on (0, 1)", lambda: calc(t * (1 - t), assume=[0 < t, t < 1]).le(sp.Rational(1, 5)), 1),
    ("valid step then a wrong assumption-free step", lambda: calc(t**3, assume=[0 <= t, t <= 1]).le(t).le(t**2), 2),
]

RIGHT: list[tuple[str, Callable[[], sg.Proof]]] = [
    ("sigmoid derivative bound", lambda: calc(D(s, x)).eq(s * (1 - s))
        .eq(quarter - (s - half) ** 2).le(quarter)),
    ("sigma' <= 1/4 directly", lambda: calc(s * (1 - s)).le(quarter)),
    ("tanh derivative", lambda: calc(D(sp.tanh(x), x)).eq(1 - sp.tanh(x) ** 2).le(1)),
    ("sigma' in exp form", lambda: calc(D(s, x)).eq(sp.exp(-x) / (1 + sp.exp(-x)) ** 2)),
    ("sigma(-x) = 1 - sigma(x)", lambda: calc(sigmoid(-x)).eq(1 - s)),
    ("softplus' = sigma", lambda: calc(D(sp.log(1 + sp.exp(x)), x)).eq(s)),
    ("affine neuron", lambda: calc(D(sigmoid(w * x + b), x)).eq(w * sigmoid(w * x + b) * (1 - sigmoid(w * x + b)))),
    ("two squares", lambda: calc(x**2 + y**2).ge(2 * x * y)),
    ("AM-GM for positives", lambda: calc((a_pos + b_pos) / 2 - sp.sqrt(a_pos * b_pos))
        .eq((sp.sqrt(a_pos) - sp.sqrt(b_pos)) ** 2 / 2).ge(0)),
    ("t(1-t) <= 1/4 on (0, 1)", lambda: calc(t * (1 - t), assume=[0 < t, t < 1]).le(quarter)),
    ("t^3 <= t on [0, 1]", lambda: calc(t**3, assume=[0 <= t, t <= 1]).le(t)),
    ("softmax cross-entropy gradient", lambda: calc(D(-sp.log(softmax1(z1, z2)), z1))
        .eq(softmax1(z1, z2) - 1)),
    ("sum of deviations", lambda: calc(sum(xi - sum(xs) / 3 for xi in xs)).eq(0)),
    ("variance shortcut", lambda: calc(sum((xi - sum(xs) / 3) ** 2 for xi in xs) / 3)
        .eq(sum(xi**2 for xi in xs) / 3 - (sum(xs) / 3) ** 2)),
    ("sigmoid below one", lambda: calc(s).lt(1)),
    ("strict bound away from the peak", lambda: calc(t * (1 - t), assume=[0 < t, t < sp.Rational(1, 3)])
        .lt(quarter)),
]


def _independent_violation(verdict: sg.Verdict) -> bool:
    """Re-evaluate both sides at the counterexample and confirm the relation fails."""
    point = verdict.counterexample.point
    lhs = sp.N(verdict.lhs.doit().subs(point), 30)
    rhs = sp.N(verdict.rhs.doit().subs(point), 30)
    holds = verdict.relation.holds(lhs, rhs)
    if verdict.relation is sg.Relation.EQ:
        return abs(lhs - rhs) > 1e-20
    return not bool(holds)


@pytest.mark.parametrize("name, build, wrong_step", WRONG, ids=[w[0] for w in WRONG])
def test_wrong_proof_is_refuted(name: str, build: Callable[[], sg.Proof], wrong_step: int) -> None:
    report = build().check()
    statuses = [v.status for v in report.steps]
    assert sg.Status.PROVED not in statuses[wrong_step - 1:wrong_step], statuses
    verdict = report.steps[wrong_step - 1]
    assert verdict.status is sg.Status.REFUTED, verdict.explain()
    assert verdict.counterexample is not None
    assert _independent_violation(verdict), verdict.explain()
    assert not report.ok
    assert report.conclusion is None
    # the steps before the wrong one are still judged on their own
    for earlier in report.steps[: wrong_step - 1]:
        assert earlier.status is sg.Status.PROVED, earlier.explain()


@pytest.mark.parametrize("name, build", RIGHT, ids=[r[0] for r in RIGHT])
def test_right_proof_is_proved(name: str, build: Callable[[], sg.Proof]) -> None:
    report = build().check()
    assert report.ok, "\n".join(v.explain() for v in report.steps)
    assert report.conclusion is not None


def test_corpus_sizes() -> None:
    assert len(WRONG) >= 20
    assert len(RIGHT) >= 10


def test_assert_proof_names_the_failing_step() -> None:
    name, build, index = WRONG[15]
    with pytest.raises(sg.ProofError) as info:
        sg.assert_proof(build())
    message = str(info.value)
    assert message.startswith(f"step {index} of 3 is refuted")
    assert "1/4 - (sigmoid(x) - 1/2)**2 ≤ 1/5" in message
    assert "counterexample at x = 0" in message
    assert info.value.verdict.index == index
