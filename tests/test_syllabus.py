"""Entries learning-rate-momentum, batchnorm-saturation and lstm-gating.

Every proof is checked with the kernel (which steps are proved, which rest on lemmas); the
numbers are compared with oracles that do not go through the kernel: numpy iteration,
mpmath quadrature, explicit products.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad.catalog import learning_rate
from symgrad.proofs.documents import Figure
from symgrad.rendering import plots


def _figures(name: str) -> list[Figure]:
    return [b for b in sg.catalog.get(name).blocks if isinstance(b, Figure)]


# -- learning-rate-momentum ----------------------------------------------------------------

def test_learning_rate_every_proof_is_proved() -> None:
    assert learning_rate.NAME in sg.catalog.names()
    report = sg.catalog.get(learning_rate.NAME).check()
    assert report.ok, "\n".join(v.explain() for r in report.reports for v in r.steps if not v.ok)
    assert report.lemmas == ()
    assert len(report.reports) == 16


def test_learning_rate_parameters_match_the_eigenvalues() -> None:
    eigs = np.linalg.eigvalsh(np.array(learning_rate.H.tolist(), dtype=float))
    assert np.allclose(eigs, learning_rate.EIGENVALUES)
    assert learning_rate.exact_eigenvalues() == {1: 1, 4: 1, 9: 1}
    p = learning_rate.parameters()
    mu, L = min(eigs), max(eigs)
    assert float(p["eta_gd"]) == pytest.approx(2 / (mu + L))
    assert float(p["eta_hb"]) == pytest.approx(4 / (np.sqrt(L) + np.sqrt(mu)) ** 2)
    assert float(p["beta"]) == pytest.approx(((np.sqrt(L) - np.sqrt(mu)) / (np.sqrt(L) + np.sqrt(mu))) ** 2)
    assert float(p["rate_gd"]) == pytest.approx((L / mu - 1) / (L / mu + 1))
    assert float(p["rate_hb"]) == pytest.approx((np.sqrt(L / mu) - 1) / (np.sqrt(L / mu) + 1))


def _numpy_runs(steps: int) -> tuple[np.ndarray, np.ndarray]:
    H = np.array(learning_rate.H.tolist(), dtype=float)
    w0 = np.array(learning_rate.W0.tolist(), dtype=float).ravel()
    gd, hb = [w0], [w0]
    w = w0.copy()
    for _ in range(steps):
        w = w - 0.2 * H @ w
        gd.append(w)
    prev, w = w0.copy(), w0.copy()
    for _ in range(steps):
        prev, w = w, w - 0.25 * H @ w + 0.25 * (w - prev)
        hb.append(w)
    return np.linalg.norm(gd, axis=1), np.linalg.norm(hb, axis=1)


def test_exact_iterates_agree_with_numpy_and_the_rates() -> None:
    gd, hb = learning_rate.runs()
    gd_np, hb_np = _numpy_runs(learning_rate.STEPS)
    assert np.allclose([gd.norm(k) for k in range(learning_rate.STEPS + 1)], gd_np, rtol=1e-9)
    assert np.allclose([hb.norm(k) for k in range(learning_rate.STEPS + 1)], hb_np, rtol=1e-9)
    assert learning_rate.gd_bound_holds(gd)
    assert learning_rate.observed_rate(gd) == pytest.approx(0.8, abs=1e-9)
    # heavy ball: spectral radius 1/2, with at most a linear factor from the double roots
    ks = np.arange(learning_rate.STEPS + 1)
    assert np.all(hb_np <= (ks + 1) * 0.5 ** ks * hb_np[0] * 1.01)
    assert hb_np[-1] ** (1 / learning_rate.STEPS) < 0.6 < gd_np[-1] ** (1 / learning_rate.STEPS)


def test_step_size_boundary_numerically() -> None:
    H = np.array(learning_rate.H.tolist(), dtype=float)
    w0 = np.ones(3)
    for eta, converges in ((0.21, True), (0.23, False), (-0.01, False)):
        w = w0.copy()
        for _ in range(400):
            w = w - eta * H @ w
        assert bool(np.linalg.norm(w) < 1e-6) is converges


def test_learning_rate_figure_in_both_formats() -> None:
    (figure,) = _figures(learning_rate.NAME)
    assert figure.sources["latex"].startswith(r"\begin{tikzpicture}")
    assert "![" in figure.sources["markdown"]
    (svg,) = figure.assets.values()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    plot = learning_rate.plot(learning_rate.runs())
    assert svg == plots.svg(plot) and figure.sources["latex"] == plots.tikz(plot)  # one engine, deterministic
    assert "tab:" not in svg and r"\definecolor{sgplotblue}" in figure.sources["latex"]
    # the drawn curves are the exact runs: log10 of the error norm at every step
    gd, hb = learning_rate.runs()
    drawn = {c.label: c.points for c in plot.items if isinstance(c, plots.Curve)}
    for run in (gd, hb):
        assert len(drawn[run.label]) == learning_rate.STEPS + 1
        assert all(abs(y - math.log10(run.norm(k))) < 1e-4 for k, (_, y) in enumerate(drawn[run.label]))


# -- batchnorm-saturation --------------------------------------------------------------------

def test_saturation_every_proof_is_proved() -> None:
    from symgrad.catalog import saturation

    assert saturation.NAME in sg.catalog.names()
    report = sg.catalog.get(saturation.NAME).check()
    assert report.ok, "\n".join(v.explain() for r in report.reports for v in r.steps if not v.ok)
    assert report.lemmas == ()
    assert len(report.reports) == 7


def test_saturation_expectations_against_independent_oracles() -> None:
    import mpmath

    from symgrad.catalog import saturation

    for mean in (saturation.BEFORE, saturation.AFTER):
        e = saturation.expected_slope(mean)
        assert e.agreeing_digits >= 20
        # mpmath Gauss-Hermite-free route: substitute x = mean + t and integrate in t with tanh-sinh
        with mpmath.workdps(40):
            f = lambda t: mpmath.npdf(t) / (4 * mpmath.cosh((mean + t) / 2) ** 2)  # noqa: E731
            oracle = mpmath.quad(f, [-mpmath.inf, -6, 0, 6, mpmath.inf])
        assert abs(e.value - oracle) < mpmath.mpf(10) ** -20
        # numpy: a dense Riemann sum
        t = np.linspace(-12.0, 12.0, 240_001)
        y = np.exp(-t ** 2 / 2) / np.sqrt(2 * np.pi) / (4 * np.cosh((mean + t) / 2) ** 2)
        assert float(np.sum(y) * (t[1] - t[0])) == pytest.approx(float(e.value), rel=1e-9)
    before = saturation.expected_slope(saturation.BEFORE).value
    assert before <= mpmath.exp(-5.5)
    ratio = saturation.expected_slope(saturation.AFTER).value / before
    assert 50 < ratio < 53


def test_saturation_masses_with_mpmath() -> None:
    import mpmath

    for mean in (-6, 0):
        mass = mpmath.ncdf(mean + 2, mean, 1) - mpmath.ncdf(mean - 2, mean, 1)
        assert float(mass) == pytest.approx(float(sp.erf(sp.sqrt(2))), rel=1e-14)
        assert mass > 0.95


def test_batchnorm_identity_with_numpy() -> None:
    rng = np.random.default_rng(0)
    xs = rng.normal(-6, 1, 64)
    eps = 1e-5
    mu, var = xs.mean(), xs.var()
    y = np.sqrt(var + eps) * (xs - mu) / np.sqrt(var + eps) + mu
    assert np.allclose(y, xs, atol=1e-12)


# -- lstm-gating -------------------------------------------------------------------------------

def test_lstm_proofs_proved_and_the_induction_is_a_lemma() -> None:
    from symgrad.catalog import lstm

    assert lstm.NAME in sg.catalog.names()
    report = sg.catalog.get(lstm.NAME).check()
    assert report.ok_given_lemmas and not report.ok
    assert report.lemmas == ("induction",)
    *proved, conclusion = report.reports
    assert all(r.ok for r in proved) and len(proved) == 9
    assert conclusion.proof.steps[-1].by.rule == "induction"
    assert [v.status for v in conclusion.steps] != [sg.Status.PROVED]


def test_lstm_direct_path_against_finite_differences() -> None:
    from symgrad.catalog import lstm

    forget, factors = lstm.simulate()
    rng = np.random.default_rng(1)
    inputs = rng.standard_normal(forget.size)
    for T in (5, 20):
        h = 1e-6
        fd = (lstm.cell_state_after(h, forget[:T], inputs[:T]) - lstm.cell_state_after(-h, forget[:T], inputs[:T])) / (2 * h)
        assert fd == pytest.approx(float(np.prod(forget[:T])), rel=1e-6)
    # the RNN factors obey the bound (|w|/4)^T with w = 1, and sigma' <= 1/4
    assert np.all(factors <= 0.25)
    assert np.all(np.cumprod(factors) <= 0.25 ** np.arange(1, factors.size + 1) * (1 + 1e-12))


def test_rnn_product_against_numeric_derivative() -> None:
    w, u, b = 1.7, 0.6, -0.3
    xs = np.array([0.5, -1.0, 2.0, 0.1])

    def run(h0: float) -> tuple[float, float]:
        h, prod = h0, 1.0
        for x in xs:
            s = 1 / (1 + np.exp(-(w * h + u * x + b)))
            prod *= w * s * (1 - s)
            h = s
        return h, prod

    eps = 1e-6
    numeric = (run(0.2 + eps)[0] - run(0.2 - eps)[0]) / (2 * eps)
    assert numeric == pytest.approx(run(0.2)[1], rel=1e-6)
    assert abs(run(0.2)[1]) <= (abs(w) / 4) ** xs.size


def test_lstm_comparison_table_values() -> None:
    from symgrad.catalog import lstm

    rows = {row[0]: row for row in lstm.comparison_rows()}
    assert float(rows[100][3]) == pytest.approx(0.99 ** 100, rel=1e-2)
    assert float(rows[100][5]) == pytest.approx(0.25 ** 100, rel=1e-2)
