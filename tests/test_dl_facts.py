"""Entries residual-gradient, gradient-clipping, he-initialization, minibatch-gradient.

Each claim is compared with an oracle that does not go through the kernel: exact
enumeration with fractions, sympy.diff, mpmath quadrature, numpy Monte Carlo and,
when importable, PyTorch (autograd, clip_grad_*, nn.init).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad.catalog import clipping, initialization, minibatch, residual
from symgrad.proofs.documents import Table

ENTRIES = (residual.NAME, clipping.NAME, initialization.NAME, minibatch.NAME)


def _tables(name: str) -> list[Table]:
    return [b for b in sg.catalog.get(name).blocks if isinstance(b, Table)]


@pytest.mark.parametrize("name", ENTRIES)
def test_entry_is_registered_and_every_proof_is_proved(name: str) -> None:
    assert name in sg.catalog.names()
    report = sg.catalog.get(name).check()
    assert report.ok, "\n".join(v.explain() for r in report.reports for v in r.steps if not v.ok)
    assert report.lemmas == ()


# -- gradient clipping --------------------------------------------------------

def _clip_numeric(g: np.ndarray, c: float) -> np.ndarray:
    symbols = clipping.G3[: len(g)]
    exprs = clipping.clip_by_norm(list(symbols), sp.Float(c))
    return np.array([float(e.subs(dict(zip(symbols, g)))) for e in exprs])


def test_clip_by_norm_keeps_direction_and_bounds_the_norm_numerically() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        g = rng.normal(0, 3, 3)
        c = float(rng.uniform(0.1, 5))
        clipped = _clip_numeric(g, c)
        assert np.linalg.norm(clipped) <= c * (1 + 1e-12)
        assert np.isclose(np.linalg.norm(clipped), min(np.linalg.norm(g), c))
        cosine = clipped @ g / (np.linalg.norm(clipped) * np.linalg.norm(g))
        assert cosine == pytest.approx(1.0, abs=1e-12)


def test_clipping_agrees_with_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    for c in (0.5, 2.0, 50.0):
        g = rng.normal(0, 2, 3)
        p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
        p.grad = torch.tensor(g)
        torch.nn.utils.clip_grad_norm_([p], c)
        assert np.allclose(p.grad.numpy(), _clip_numeric(g, c), rtol=1e-5)  # torch adds 1e-6 to the norm
        p.grad = torch.tensor(g)
        torch.nn.utils.clip_grad_value_([p], c)
        symbolic = [float(clipping.clip_value(sp.Float(x), sp.Float(c))) for x in g]
        assert np.allclose(p.grad.numpy(), symbolic)


def test_clip_by_value_claim_is_refuted_with_a_genuine_counterexample() -> None:
    verdict = clipping.refutation_verdict()
    assert verdict.status is sg.Status.REFUTED
    point = verdict.counterexample.point
    g1, g2 = (point[s] for s in clipping.G2)
    c = point[clipping.c]
    clamp = lambda t: max(-c, min(c, t))  # noqa: E731 - an independent re-implementation
    assert g1 * clamp(g2) - g2 * clamp(g1) != 0
    (table,) = [t for t in _tables(clipping.NAME) if "kernel verdict" in " ".join(t.columns)]
    assert table.rows[0][1] == "refuted"


def test_wrong_clipping_claims_are_refuted() -> None:
    small, _ = clipping.norm_bound_proofs(clipping.G2)
    # In the case ‖g‖ <= c the norm is ‖g‖, not c: claiming "= c" must fail.
    wrong = sg.calc(small.start, assume=small.assumptions, where=dict(small.definitions)).eq(clipping.c)
    assert wrong.check().status is sg.Status.REFUTED
    half = sg.calc(small.start, assume=small.assumptions).le(clipping.c / 2)
    assert half.check().status is sg.Status.REFUTED


def test_comparison_table_cosines() -> None:
    (table,) = [t for t in _tables(clipping.NAME) if "cosine of the angle to $g$" in t.columns]
    for g, _, norm_n, cos_n, by_value, _, cos_v in table.rows:
        assert cos_n == 1 and norm_n <= 1
        a, b = (int(v) for v in g)
        va, vb = (max(-1, min(1, v)) for v in (a, b))
        assert list(by_value) == [va, vb]
        expected = Fraction(a * va + b * vb) ** 2 / ((a * a + b * b) * (va * va + vb * vb))
        assert sp.Rational(expected.numerator, expected.denominator) == sp.nsimplify(cos_v**2)
    first = table.rows[0]
    assert first[6] < 1  # (3, 1) -> (1, 1) changes the direction


# -- residual connections ------------------------------------------------------

def test_residual_product_formula_matches_sympy_diff_and_torch() -> None:
    x = residual.x
    for depth in residual.DEPTHS:
        output, product = residual.concrete_chain(depth)
        for point in (-1.2, 0.3, 1.7):
            oracle = float(sp.diff(output, x).subs(x, point))
            assert float(product.subs(x, point)) == pytest.approx(oracle, rel=1e-12)
        assert residual.numeric_agreement(depth) < 1e-9
    torch = pytest.importorskip("torch")
    h = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    out = h
    for w, b in residual.BLOCK_WEIGHTS:
        out = out + float(w) * torch.tanh(out + float(b))
    out.backward()
    _, product = residual.concrete_chain(len(residual.BLOCK_WEIGHTS))
    assert h.grad.item() == pytest.approx(float(product.subs(x, 0.3)), rel=1e-12)


def test_two_block_jacobian_matches_finite_differences() -> None:
    proof = residual.concrete_two_block_proof()
    point = {residual.x1: 0.4, residual.x2: -0.7}
    named = {k: v for k, v in proof.definitions if isinstance(k, sp.Symbol)}  # the pre-activations z_{l,i}
    claimed = np.array(sp.Matrix(proof.end.doit()).xreplace(named).subs(point), dtype=float)

    def forward(v: np.ndarray) -> np.ndarray:
        h1 = v + np.tanh(np.array(residual.W1, dtype=float) @ v)
        return h1 + np.tanh(np.array(residual.W2, dtype=float) @ h1)

    v0, eps = np.array([0.4, -0.7]), 1e-6
    numeric = np.column_stack([(forward(v0 + eps * e) - forward(v0 - eps * e)) / (2 * eps) for e in np.eye(2)])
    assert np.allclose(claimed, numeric, atol=1e-8)


def test_path_expansion_has_two_to_the_L_terms_including_the_identity() -> None:
    for depth in residual.DEPTHS:
        proof = residual.path_expansion_proof(depth)
        assert len(proof.end.args) == 2**depth and sp.Integer(1) in proof.end.args
        assert sp.expand(proof.start - proof.end) == 0


def test_lower_bound_needs_its_hypothesis() -> None:
    a = sp.symbols("a_1:3", real=True)
    unrestricted = sg.calc(sp.Mul(*[1 + ai for ai in a]), assume=[residual.delta < 1]).ge((1 - residual.delta) ** 2)
    assert unrestricted.check().status is sg.Status.REFUTED
    # and the bound itself is tight: equality when every slope is exactly -delta
    proof = residual.lower_bound_proof(2)
    s = sp.symbols("s_1:3", nonnegative=True)
    tight = proof.start.subs(dict(proof.definitions)).subs({si: 0 for si in s})
    assert sp.expand(tight - (1 - residual.delta) ** 2) == 0


def test_lower_bound_conclusion_is_the_promised_relation() -> None:
    """The chain under the heading "at least (1 - delta)^L" concludes exactly that, not a weaker > 0."""
    for depth in residual.DEPTHS:
        report = residual.lower_bound_proof(depth).check()
        assert report.ok
        assert report.conclusion == sp.GreaterThan(residual.lower_bound_proof(depth).start,
                                                   (1 - residual.delta) ** depth, evaluate=False)
        assert residual.positive_bound_proof(depth).check().ok

def test_depth_table_is_all_proved() -> None:
    table = [t for t in _tables(residual.NAME) if "product formula" in t.columns][0]
    assert [row[0] for row in table.rows] == list(residual.DEPTHS)
    for row in table.rows:
        assert set(row[1:6]) == {"proved"}
        assert row[6] == "< 1e-12" or float(row[6]) < 1e-9


# -- minibatch gradients -------------------------------------------------------

def _exact_moments(values: list[int], size: int, replacement: bool) -> tuple[Fraction, Fraction]:
    draws = (itertools.product(values, repeat=size) if replacement else itertools.combinations(values, size))
    means = [Fraction(sum(d), size) for d in draws]
    expectation = sum(means, Fraction(0)) / len(means)
    variance = sum(((m - expectation) ** 2 for m in means), Fraction(0)) / len(means)
    return expectation, variance


def test_minibatch_formulas_against_exact_enumeration_with_fractions() -> None:
    rng = np.random.default_rng(7)
    for n, size in minibatch.CASES + ((6, 3), (7, 2)):
        values = [int(v) for v in rng.integers(-9, 10, n)]
        full = Fraction(sum(values), n)
        sigma2 = sum((Fraction(v) - full) ** 2 for v in values) / n
        for replacement in (False, True):
            if replacement and n**size > 400:
                continue
            expectation, variance = _exact_moments(values, size, replacement)
            assert expectation == full
            formula = minibatch.variance_formula(n, size, replacement).subs(minibatch.sigma2, sp.Rational(
                sigma2.numerator, sigma2.denominator))
            assert sp.Rational(variance.numerator, variance.denominator) == sp.nsimplify(formula)


def test_minibatch_table_is_all_proved_where_enumerated() -> None:
    table = [t for t in _tables(minibatch.NAME) if "unbiased (without)" in t.columns][0]
    assert len(table.rows) == len(minibatch.CASES)
    for n, size, *cells in table.rows:
        expected = {"proved"} if n**size <= minibatch.MAX_SEQUENCES else {"proved", "not enumerated"}
        assert set(cells) == expected


def test_wrong_variance_formula_is_refuted() -> None:
    good = minibatch.variance_proof(3, 2, replacement=False)
    # forgetting the finite-population correction
    wrong = sg.calc(good.start, where=dict(good.definitions)).eq(minibatch.sigma2 / 2)
    assert wrong.check().status is sg.Status.REFUTED
    biased = sg.calc(minibatch.unbiased_proof(4, 2, True).start,
                     where=minibatch.definitions(4)).eq(minibatch.gbar * sp.Rational(3, 4))
    assert biased.check().status is sg.Status.REFUTED


# -- He / Xavier initialization ------------------------------------------------

def test_relu_second_moment_by_quadrature() -> None:
    for s in (0.4, 1.3, 3.0):
        density = lambda z: mpmath.npdf(z, 0, s)  # noqa: E731
        moment = mpmath.quad(lambda z: max(z, 0) ** 2 * density(z), [-mpmath.inf, 0, mpmath.inf])
        assert moment == pytest.approx(s**2 / 2, rel=1e-12)
    proof = initialization.relu_second_moment_proof()
    assert proof.steps[0].expr == initialization.sigma**2 / 2


def test_monte_carlo_within_the_stated_tolerance_and_deterministic() -> None:
    first = initialization.monte_carlo()
    assert all(m.within_tolerance for m in first)
    assert first == initialization.monte_carlo()
    deep = initialization.deep_variances()
    he, xavier, quarter = deep.values()
    assert 0.5 < he[-1] < 2.0
    for layer in range(1, initialization.DEPTH):
        assert xavier[layer] / xavier[0] == pytest.approx(2.0**-layer, rel=0.35)
        assert quarter[layer] / quarter[0] == pytest.approx(4.0**-layer, rel=0.35)


def test_stats_table_confirms_second_moment_and_refutes_variance() -> None:
    rows = initialization.stats_rows()
    for fan_in, computed, right, right_label, wrong, wrong_label in rows:
        assert right_label == "proved" and wrong_label == "refuted"
        # independent: E[(sum w a)^2] = n E[w^2] E[a^2] with E[a^2] = 2/lambda^2 for Exp(lambda)
        assert sp.simplify(computed - fan_in * initialization.sigma_w**2 * 2 / initialization.rate**2) == 0


def test_initialization_variances_agree_with_torch_init() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    fan_out, fan_in = 300, 500
    weight = torch.empty(fan_out, fan_in, dtype=torch.float64)
    torch.nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")
    he = initialization.he_step_proof().definitions
    v_he = dict(he)[initialization.v_w].subs(initialization.n, fan_in)
    assert weight.var().item() == pytest.approx(float(v_he), rel=0.02)
    torch.nn.init.xavier_uniform_(weight)
    assert weight.var().item() == pytest.approx(2 / (fan_in + fan_out), rel=0.02)
    bound = sp.sqrt(sp.Rational(6, fan_in + fan_out))
    assert weight.abs().max().item() <= float(bound)


def test_markdown_of_the_four_entries_renders_in_katex() -> None:
    from tooling import katex_check, require_tool

    require_tool("katex")
    text = "\n\n".join(sg.render(sg.catalog.get(name), "markdown") for name in ENTRIES)
    assert katex_check(text, "four entries") == []
