"""gradient-product-bound and gradient-flow entries: the proofs, the bound on random networks, rendering."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad import Status, calc, sigmoid
from symgrad.catalog import gradient_bound as gb
from tooling import compile_latex, katex_check


@pytest.mark.parametrize("n", [1, 2, 3])
def test_explicit_chain_is_proved_and_matches_numeric_differentiation(n):
    proof = gb.explicit_chain(n)
    assert proof.check().ok
    # independent oracle: numeric d a_n / d b_1 of the chain, against the product form
    rng = np.random.default_rng(n)
    w, b, x = rng.normal(size=n), rng.normal(size=n), 0.7

    def a_n(b1: float) -> float:
        a = x
        for k in range(n):
            a = 1 / (1 + np.exp(-(w[k] * a + (b1 if k == 0 else b[k]))))
        return a

    h = 1e-6
    numeric = (a_n(b[0] + h) - a_n(b[0] - h)) / (2 * h)
    a, product = x, 1.0
    for k in range(n):
        s = 1 / (1 + np.exp(-(w[k] * a + b[k])))
        product *= s * (1 - s) * (w[k] if k > 0 else 1.0)
        a = s
    assert numeric == pytest.approx(product, rel=1e-7)


def test_base_case_and_inductive_steps_are_proved():
    assert gb.base_case().check().ok
    assert gb.inductive_step(+1).check().ok
    assert gb.inductive_step(-1).check().ok


def test_a_wrong_inductive_step_is_refuted():
    wrong = gb.inductive_step(+1)
    n = gb.n_sym
    q_next = sp.Symbol("Q_{n+1}", nonnegative=True)
    # claim a factor 1/16 per layer instead of 1/4: the kernel must find a counterexample
    bad = calc(wrong.start, assume=wrong.assumptions, where=dict(wrong.definitions)).le(
        sp.Rational(1, 4) ** (2 * n + 2) * q_next)
    assert bad.check().status is Status.REFUTED


def test_conclusion_rests_on_the_induction_lemma_only():
    report = gb.conclusion().check()
    assert not report.ok and report.ok_given_lemmas
    assert report.lemmas == ("induction",)
    assert sg.rules.get("induction").kind == "lemma"


def test_consequences_are_proved():
    for proof in (gb.small_weights_decay(), gb.large_weight_needed(), gb.large_weight_needed_negative(),
                  gb.exploding_example(), gb.vector_inductive_step()):
        assert proof.check().ok, proof.title
    layer = gb.vector_layer_step().check()
    assert layer.ok_given_lemmas and layer.lemmas == ("operator-norm-submultiplicative",)


def test_the_off_by_one_vector_form_is_false():
    # n = 2, one neuron, z_2 = 0: dC/da_1 = w_2 sigma'(0) dC/da_2 exceeds 4^{-2} |w_2| |dC/da_2|
    w, g = sp.symbols("w g", positive=True)
    z = sp.Symbol("z", real=True)
    lhs = sp.Subs(w * sp.Derivative(sigmoid(z), z), z, 0) * g
    assert sg.check_relation(lhs, "<=", w * g / 16).status is Status.REFUTED
    assert sg.check_relation(lhs, "<=", w * g / 4).status is Status.PROVED


def test_random_networks_respect_the_bound():
    result = gb.random_network_check(networks=10_000)
    assert result.networks == 10_000 and result.violations == 0
    assert 0.9 < result.tightest_ratio <= 1.0
    assert result.depths == tuple(range(1, 9))


def test_random_network_check_can_detect_a_violation():
    # with 1/5 per layer instead of 1/4 the same sampler must report violations
    assert gb.random_network_check(networks=2000, slope_bound=0.2).violations > 0


def test_entries_check_render_and_compile(tmp_path):
    document = sg.catalog.get(gb.NAME)
    report = document.check()
    assert report.ok_given_lemmas
    assert set(report.lemmas) == {"induction", "operator-norm-submultiplicative"}
    flow = sg.catalog.get(gb.FLOW_NAME)
    assert flow.check().ok
    (figure,) = [b for b in flow.blocks if isinstance(b, sg.Figure)]
    assert set(figure.assets) == {gb.PLOT_NAME} and figure.assets[gb.PLOT_NAME].count("<svg") == 1
    assert gb.PLOT_NAME in figure.sources["markdown"] and r"\begin{tikzpicture}" in figure.sources["latex"]
    for doc in (document, flow):
        markdown = sg.render(doc.check(), "markdown")
        assert katex_check(markdown, doc.name) == []
        tex = tmp_path / f"{doc.name}.tex"
        tex.write_text(sg.render(doc.check(), "latex"), encoding="utf-8")
        compile_latex(tex, tmp_path / f"build-{doc.name}")
    assert "0.003" in sg.render(flow, "markdown")  # Nielsen's value beside ours


def test_general_product_step_and_flow_facts_are_proved():
    assert gb.product_step().check().ok
    assert gb.batchnorm_shift_invariance().check().ok
    assert gb.residual_factor().check().ok
    # the residual factor is 1 + w sigma'(z), not w sigma'(z): dropping the 1 is refuted
    wrong = gb.residual_factor()
    bad = calc(wrong.start).eq(wrong.end - 1)
    assert bad.check().status is Status.REFUTED
