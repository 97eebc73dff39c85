"""LayerNorm and RMSNorm backward: adjoints and compact forms proved for explicit sizes, the
exact verifier, and the compact forms against PyTorch and the complex step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad.catalog.support import normalization as nz
from symgrad.core.kernel import substitute_definitions
from symgrad.core.verdicts import Status

SIZES = (1, 2, 3)


@pytest.mark.parametrize("kind", ("layernorm", "rmsnorm"))
@pytest.mark.parametrize("m", SIZES)
def test_adjoints_and_compact_form_proved(kind: str, m: int) -> None:
    s = nz.setup(kind, m)
    proofs = [nz.adjoint_proof(s, n) for n in (s.mu, s.var, s.xhat[m - 1]) if n is not None]
    proofs.append(nz.compact_proof(s, m - 1))
    for proof in proofs:
        report = proof.check()
        assert report.ok, (kind, m, proof.title, [v.explain() for v in report.steps if not v.ok])


@pytest.mark.parametrize("kind", ("layernorm", "rmsnorm"))
def test_a_wrong_compact_form_is_refuted(kind: str) -> None:
    s = nz.setup(kind, 3)
    proof = nz.compact_proof(s, 0)
    wrong = nz.compact_form(nz.setup("batchnorm" if kind == "layernorm" else "layernorm", 3), 0)
    wrong = wrong.xreplace({sp.Symbol("gamma", real=True): s.gamma[0]})
    bad = dataclasses.replace(proof, steps=proof.steps[:-1] + (dataclasses.replace(proof.steps[-1], expr=wrong),))
    assert bad.check().steps[-1].status is Status.REFUTED


def test_rmsnorm_has_no_mean() -> None:
    s = nz.setup("rmsnorm", 3)
    assert s.mu is None and not s.beta
    with pytest.raises(sg.UnsupportedError):
        nz.mean_zero_proof(s)
    with pytest.raises(sg.UnsupportedError):
        nz.paper_equations(s)


@pytest.mark.parametrize("kind", ("layernorm", "rmsnorm"))
def test_verify_exact_up_to_64(kind: str) -> None:
    result = nz.verify_exact(kind, 64)
    assert result.ok and result.comparisons == 64


def _compact_numpy(kind: str, m: int):  # type: ignore[no-untyped-def]
    """The proved compact forms for size m, lambdified in (g, gamma, xhat, variance, eps)."""
    s = nz.setup(kind, m)
    exprs = [nz.compact_form(s, i) for i in range(m)]
    return s, sp.lambdify((s.g, s.gamma, s.xhat, s.var, s.eps), exprs, "numpy")


def _forward(kind: str, x, gamma, beta, eps):  # type: ignore[no-untyped-def]
    if kind == "layernorm":
        mu = x.mean(-1, keepdims=True)
        return gamma * (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) + beta
    return gamma * x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps)


@pytest.mark.parametrize("kind", ("layernorm", "rmsnorm"))
def test_compact_form_numbers_complex_step_and_torch(kind: str) -> None:
    rows, d, eps = 8, 16, 1e-5
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((rows, d)), rng.standard_normal((rows, d))
    gamma, beta = 1 + 0.5 * rng.standard_normal(d), rng.standard_normal(d)
    _, fn = _compact_numpy(kind, d)
    centred = x - x.mean(-1, keepdims=True) if kind == "layernorm" else x
    var = (centred ** 2).mean(-1)
    xhat = centred / np.sqrt(var[:, None] + eps)
    got = np.array([fn(list(g[r]), list(gamma), list(xhat[r]), var[r], eps) for r in range(rows)], dtype=float)
    by_step = np.empty_like(x)
    for index in np.ndindex(*x.shape):
        z = x.astype(complex)
        z[index] += 1e-30j
        by_step[index] = np.sum(g * _forward(kind, z, gamma, beta, eps)).imag / 1e-30
    scale = max(1.0, float(np.abs(by_step).max()))
    assert np.abs(got - by_step).max() / scale < 1e-10
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    if kind == "layernorm":
        y = torch.nn.functional.layer_norm(xt, (d,), torch.tensor(gamma), torch.tensor(beta), eps=eps)
    else:
        y = torch.nn.functional.rms_norm(xt, (d,), torch.tensor(gamma), eps=eps)
    (y * torch.tensor(g)).sum().backward()
    assert np.abs(got - xt.grad.numpy()).max() / scale < 1e-10


@pytest.mark.parametrize("name", ("layernorm-backward", "rmsnorm-backward"))
def test_entries_proved(name: str) -> None:
    report = sg.catalog.get(name).check()
    assert report.ok, [r.proof.title for r in report.reports if not r.ok]


@pytest.mark.tools
@pytest.mark.parametrize("name", ("batchnorm-backward",))  # the others share its symbols and blocks
def test_entries_render_katex_and_compile(name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tooling import compile_latex, katex_check

    report = sg.catalog.get(name).check()
    markdown = sg.render(report, "markdown")
    assert katex_check(markdown, name) == []
    tex = tmp_path / f"{name}.tex"
    tex.write_text(sg.render(report, "latex"), encoding="utf-8")
    compile_latex(tex, tmp_path / "build")


# -- the scale and the shift ------------------------------------------------------------


@pytest.mark.parametrize("kind", ("layernorm", "rmsnorm"))
@pytest.mark.parametrize("m", SIZES)
def test_parameter_gradients_proved(kind: str, m: int) -> None:
    s = nz.setup(kind, m)
    for param in (s.gamma[m - 1], *s.beta[m - 1:m]):
        proof = nz.parameter_proof(s, param)
        expanded = substitute_definitions(proof.start, proof.definitions)
        assert expanded == sp.Derivative(nz.layers.define_all(s, s.loss), param)  # SymPy's derivative
        report = proof.check()
        assert report.ok, (kind, m, param, [v.explain() for v in report.steps if not v.ok])


def test_parameter_gradient_wrong_form_is_refuted() -> None:
    s = nz.setup("layernorm", 2)
    proof = nz.parameter_proof(s, s.gamma[0])
    bad = proof.eq(s.g[0] * s.xhat[1], rule="algebra")
    assert bad.check().steps[-1].status is Status.REFUTED
    with pytest.raises(sg.InputError):
        nz.parameter_proof(s, s.x[0])


@pytest.mark.parametrize("kind", ("layernorm", "rmsnorm"))
def test_parameter_gradients_numbers_complex_step_and_torch(kind: str) -> None:
    """The proved dl/dgamma_j, dl/dbeta_j (per example, summed over a batch) against the complex step on
    the forward pass, and PyTorch autograd where installed."""
    rows, d, eps = 5, 4, 1e-5
    rng = np.random.default_rng(2)
    x, g = rng.standard_normal((rows, d)), rng.standard_normal((rows, d))
    gamma, beta = 1 + 0.5 * rng.standard_normal(d), rng.standard_normal(d)
    s = nz.setup(kind, d)
    centred = x - x.mean(-1, keepdims=True) if kind == "layernorm" else x
    xhat = centred / np.sqrt((centred ** 2).mean(-1, keepdims=True) + eps)
    params = {"gamma": (gamma, s.gamma), "beta": (beta, s.beta)} if kind == "layernorm" else {"gamma": (gamma, s.gamma)}
    proved: dict[str, np.ndarray] = {}
    for name, (values, symbols) in params.items():
        got = proved[name] = np.empty(d)
        for j, param in enumerate(symbols):
            expr = nz.parameter_proof(s, param).steps[-1].expr  # the proved closed form, per example
            fn = sp.lambdify([list(s.g), list(s.xhat)], expr, "numpy")
            got[j] = sum(fn(list(g[r]), list(xhat[r])) for r in range(rows))
        by_step = np.empty(d)
        for j in range(d):
            shifted = {"gamma": gamma.astype(complex), "beta": beta.astype(complex)}
            shifted[name][j] += 1e-30j
            by_step[j] = np.sum(g * _forward(kind, x, shifted["gamma"], shifted["beta"], eps)).imag / 1e-30
        assert np.abs(got - by_step).max() / max(1.0, np.abs(by_step).max()) < 1e-10, name
    torch = pytest.importorskip("torch")
    gt = torch.tensor(gamma, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(beta, dtype=torch.float64, requires_grad=True)
    xt = torch.tensor(x, dtype=torch.float64)
    if kind == "layernorm":
        y = torch.nn.functional.layer_norm(xt, (d,), gt, bt, eps=eps)
    else:
        y = torch.nn.functional.rms_norm(xt, (d,), gt, eps=eps)
    (y * torch.tensor(g)).sum().backward()
    assert np.abs(proved["gamma"] - gt.grad.numpy()).max() < 1e-10
    if kind == "layernorm":
        assert np.abs(proved["beta"] - bt.grad.numpy()).max() < 1e-10


@pytest.mark.parametrize("kind", ("layernorm", "rmsnorm"))
def test_document_numbers_and_a_wrong_form_caught(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry's numbers table: the proved forms agree with the complex step; a wrong compact form does not."""
    from symgrad.catalog import batchnorm as entry

    errors = entry.norm_numeric_check(kind)
    assert set(errors) == ({"x", "gamma", "beta"} if kind == "layernorm" else {"x", "gamma"})
    assert max(errors.values()) < 1e-10
    original = nz.compact_form
    monkeypatch.setattr(nz, "compact_form", lambda s, i: 1.01 * original(s, i))
    assert entry.norm_numeric_check(kind)["x"] > 1e-4
