"""The chain rule: instances, the Jacobian form, lemma-resting steps, definitions (where=)."""

from __future__ import annotations

import pytest
import sympy as sp

import symgrad as sg
from symgrad.catalog import chain_rule as entry
from symgrad.derivation.chainrule import chain_rule_instance, jacobian_chain

x, w, b = sp.symbols("x w b", real=True)
x1, x2, y1, y2 = sp.symbols("x1 x2 y1 y2", real=True)


def test_at_least_twenty_instances_each_proved_and_numerically_confirmed() -> None:
    cases = entry.instances()
    assert len(cases) >= 20
    for case in cases:
        report = case.proof.check()
        assert report.ok, report.steps[0].explain()
        # independent oracle: sympy.diff of the whole composition
        assert sp.simplify(sp.diff(case.composed, case.variable) - case.derivative) == 0, case.name
        assert entry.numeric_agreement(case) < 1e-9, case.name


def test_a_wrong_chain_rule_answer_is_refuted() -> None:
    case = chain_rule_instance(sg.sigmoid, w * x + b, x)
    forgot_inner = sg.calc(case.proof.start).eq(sg.sigmoid(w * x + b) * (1 - sg.sigmoid(w * x + b)))
    verdict = forgot_inner.check().steps[0]
    assert verdict.status is sg.Status.REFUTED


def test_jacobian_chain_states_shapes_and_is_proved() -> None:
    proof = jacobian_chain([sp.exp(y1) * y2, y1 + y2**2, sp.sin(y1)], [x1 * x2, x1 + x2], [x1, x2], [y1, y2])
    assert "(3x2) = (3x2) * (2x2)" in proof.title
    report = proof.check()
    assert report.ok
    f = sp.Matrix([sp.exp(y1) * y2, y1 + y2**2, sp.sin(y1)]).subs({y1: x1 * x2, y2: x1 + x2})
    assert sp.simplify(sp.Matrix(proof.end.doit()) - f.jacobian([x1, x2])) == sp.zeros(3, 2)


def test_jacobian_chain_rejects_mismatched_shapes() -> None:
    with pytest.raises(sg.InputError, match="g has 1 components but f takes 2"):
        jacobian_chain([y1 * y2], [x1], [x1], [y1, y2])


def test_matrix_step_with_a_wrong_entry_is_refuted() -> None:
    good = sp.ImmutableMatrix([[x**2, x * w]])
    bad = sp.ImmutableMatrix([[x**2, w]])
    verdict = sg.calc(good).eq(bad).check().steps[0]
    assert verdict.status is sg.Status.REFUTED
    assert "entry (1, 2)" in verdict.note
    with pytest.raises(sg.InputError, match="shapes differ"):
        sg.calc(good).eq(sp.ImmutableMatrix([[x]])).check()


def test_chain_rule_entry_rests_only_on_the_named_lemma() -> None:
    report = sg.catalog.get("chain-rule").check()
    assert not report.ok  # analytic steps are never shown as proved
    assert report.ok_given_lemmas
    assert report.lemmas == ("caratheodory-criterion",)
    lemma_steps = [v for r in report.reports for v in r.steps if v.rests_on]
    assert lemma_steps and all(v.status is sg.Status.UNKNOWN and v.label == "rests on a lemma"
                               for v in lemma_steps)


def test_lemma_steps_are_still_refuted_when_false() -> None:
    wrong = sg.calc(sp.sin(x)).eq(sp.cos(x), rule="caratheodory-criterion")
    assert wrong.check().steps[0].status is sg.Status.REFUTED


def test_where_definitions_are_used_by_the_kernel() -> None:
    a, y = sp.symbols("a y", real=True)
    f, psi = sp.Function("f"), sp.Function("psi")
    hypothesis = {f: sp.Lambda(y, f(a) + psi(y) * (y - a))}
    holds = sg.calc(f(x) - f(a), where=hypothesis).eq(psi(x) * (x - a))
    assert holds.check().ok
    wrong = sg.calc(f(x) - f(a), where=hypothesis).eq(psi(x) * (x + a))
    assert not wrong.check().ok
    with pytest.raises(sg.InputError, match="sympy.Lambda"):
        sg.calc(f(x), where={f: x**2})
