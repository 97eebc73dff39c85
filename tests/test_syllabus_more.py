"""Entries dense-connections, relu-family and full-batch-vs-sgd.

Every proof is checked with the kernel; the numbers are compared with oracles that do not go through the
kernel: sympy.diff of the composed block, central differences, numpy sampling, and PyTorch autograd where
it is installed (with CI set a missing PyTorch is a failure).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad.catalog import batch_vs_sgd, dense, relu_family
from symgrad.core.verdicts import Status
from symgrad.proofs.documents import Figure
from symgrad.rendering import plots

from tooling import in_ci


def _torch():
    try:
        return importlib.import_module("torch")
    except ImportError:
        if in_ci():
            pytest.fail("PyTorch is not installed (CI is set, so this is a failure)", pytrace=False)
        pytest.skip("PyTorch is not installed")


# -- dense-connections -----------------------------------------------------------------------

def test_dense_listed_and_general_proofs_proved() -> None:
    assert dense.NAME in sg.catalog.names()
    proofs = [dense.adjoint_law_proof(l) for l in range(dense.DEPTH + 1)]
    proofs += [dense.direct_term_proof(), dense.nonnegative_bound_proof(), dense.plain_chain_proof()]
    for proof in proofs:
        report = proof.check()
        assert report.ok, str(report)


def test_dense_path_sum_matches_sympy_diff_of_the_composed_block() -> None:
    # The expansion is compared with SymPy's derivative of the linearized block, computed here directly.
    for l in range(dense.DEPTH + 1):
        total = sp.diff(dense.linearized_output(l), dense.xs[l])
        assert sp.expand(total - dense.paths(l)) == 0
        assert len(sp.Add.make_args(sp.expand(dense.paths(l)))) == 2 ** (dense.DEPTH - l)
        # the direct term g_l is one of the terms, alone
        assert dense.gs[l] in sp.Add.make_args(sp.expand(dense.paths(l)))


def test_dense_a_wrong_adjoint_is_refuted() -> None:
    # dropping the direct term: the kernel must not accept it
    wrong = sg.calc(sp.Derivative(dense.linearized_output(1), dense.xs[1])).eq(
        sp.expand(dense.paths(1)) - dense.gs[1])
    assert wrong.check().status is Status.REFUTED


def _concrete_numpy(x0: float, perturb_at: int | None = None, eps: float = 0.0) -> float:
    xs = [x0]
    for l in range(1, dense.DEPTH + 1):
        xs.append(np.tanh(sum(xs)))
        if perturb_at == l:
            xs[-1] += eps
    if perturb_at == 0:
        raise AssertionError
    return float(sum(xs))


def test_dense_concrete_adjoints_against_differences_and_sympy() -> None:
    back = dense.concrete_backward(check=False)
    x0 = float(dense.X0)
    h = 1e-6
    # d loss / d x0 by central differences of an independent numpy forward pass
    fd0 = (_concrete_numpy(x0 + h) - _concrete_numpy(x0 - h)) / (2 * h)
    assert float(back["x0"].value) == pytest.approx(fd0, rel=1e-8)
    # d loss / d x_l (later layers recomputed, earlier held): perturb x_l after it is computed
    for l in range(1, dense.DEPTH + 1):
        fd = (_concrete_numpy(x0, l, h) - _concrete_numpy(x0, l, -h)) / (2 * h)
        assert float(back[f"x{l}"].value) == pytest.approx(fd, rel=1e-8)
    # sympy.diff of the whole block as a function of x0
    block = dense.concrete_graph().expr
    assert float(sp.N(sp.diff(block, dense.xs[0]).subs(dense.xs[0], dense.X0), 30)) == pytest.approx(
        float(back["x0"].value), rel=1e-12)
    rows = dense.concrete_rows(back)
    assert [r[2] for r in rows] == [3, 2, 1, 0] and all(r[3] == "1" for r in rows)


def test_dense_concrete_block_every_adjoint_proved_in_the_document() -> None:
    from symgrad.proofs.documents import Table

    document = sg.catalog.get(dense.NAME)
    (table,) = [b for b in document.blocks if isinstance(b, Table) and b.columns[-1] == "kernel"]
    assert [row[-1] for row in table.rows] == ["proved"] * (dense.DEPTH + 1)
    assert all(row[5] == "< 1e-12" and row[6] == "< 1e-12" for row in table.rows)


def test_dense_concrete_adjoints_against_torch() -> None:
    torch = _torch()
    x0 = torch.tensor(float(dense.X0), dtype=torch.float64, requires_grad=True)
    xs = [x0]
    for _ in range(dense.DEPTH):
        nxt = torch.tanh(sum(xs))
        nxt.retain_grad()
        xs.append(nxt)
    sum(xs).backward()
    back = dense.concrete_backward(check=False)
    for l, t in enumerate(xs):
        assert float(back[f"x{l}"].value) == pytest.approx(t.grad.item(), rel=1e-12)


# -- relu-family --------------------------------------------------------------------------------

def test_relu_family_every_proof_is_proved() -> None:
    assert relu_family.NAME in sg.catalog.names()
    report = sg.catalog.get(relu_family.NAME).check()
    assert report.ok, "\n".join(v.explain() for r in report.reports for v in r.steps if not v.ok)
    assert report.lemmas == ()


def test_relu_family_ties_are_never_proved() -> None:
    rows = relu_family.kink_rows()
    verdicts = [r[2] for r in rows]
    assert verdicts[:4] == ["unknown"] * 4  # at the kink no value is proved, not even SymPy's 1/2
    assert verdicts[4] == "proved"
    # SymPy itself does give a value at the tie: the kernel does not adopt it
    z1, z2 = sp.symbols("z_1 z_2", real=True)
    assert sp.diff(sp.Max(z1, z2), z1).subs({z1: 0, z2: 0}) == sp.Rational(1, 2)
    forward, backward, central = relu_family.tie_differences()
    assert forward == pytest.approx(1) and backward == pytest.approx(0) and central == pytest.approx(0.5)


def test_relu_family_wrong_claims_are_refuted() -> None:
    x, a = relu_family.x, relu_family.a
    xn = sp.Symbol("x", negative=True)
    assert sg.calc(sp.Derivative(sp.Max(0, xn), xn)).eq(1).check().status is Status.REFUTED
    wrong = sg.calc(sp.Derivative(relu_family.prelu(x, a), a)).eq(sp.Max(0, x))
    assert wrong.check().status is Status.REFUTED


def test_relu_family_numbers_against_oracles() -> None:
    mean_d, se, mean_s = relu_family.rrelu_monte_carlo()
    expected = float((relu_family.RRELU_LOWER + relu_family.RRELU_UPPER) / 2)
    assert abs(mean_d - expected) < 4 * se
    assert mean_d == pytest.approx(mean_s, abs=1e-8)
    rows = {r[0]: r for r in relu_family.dead_unit_gradients()}
    assert float(rows["dead"][4]) == 0.0 and float(rows["dead"][5]) == 0.0
    assert float(rows["live"][4]) == pytest.approx(3.5) and float(rows["live"][5]) == pytest.approx(4.0)


def test_prelu_derivatives_against_differences() -> None:
    x, a = relu_family.x, relu_family.a
    f = sp.lambdify((x, a), relu_family.prelu(x, a))
    h = 1e-6
    for xv, av in ((-1.3, 0.25), (0.7, 0.25), (-0.2, -0.5), (2.0, 3.0)):
        dx = (f(xv + h, av) - f(xv - h, av)) / (2 * h)
        da = (f(xv, av + h) - f(xv, av - h)) / (2 * h)
        assert dx == pytest.approx(1.0 if xv > 0 else av, rel=1e-8)
        assert da == pytest.approx(min(0.0, xv), abs=1e-8)


def test_prelu_and_maxout_against_torch() -> None:
    torch = _torch()
    xs = torch.tensor([-1.3, -0.2, 0.7, 2.0], dtype=torch.float64, requires_grad=True)
    a = torch.tensor([0.25], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.prelu(xs, a).sum().backward()
    assert xs.grad.tolist() == pytest.approx([0.25, 0.25, 1.0, 1.0])
    assert a.grad.item() == pytest.approx(-1.5)
    z = torch.tensor([[0.3, 1.2, -0.4]], dtype=torch.float64, requires_grad=True)
    z.max(dim=1).values.sum().backward()
    assert z.grad.tolist() == [[0.0, 1.0, 0.0]]


# -- full-batch-vs-sgd ---------------------------------------------------------------------------

def test_batch_vs_sgd_proofs_and_the_induction_is_a_lemma() -> None:
    assert batch_vs_sgd.NAME in sg.catalog.names()
    report = sg.catalog.get(batch_vs_sgd.NAME).check()
    assert report.ok_given_lemmas, "\n".join(v.explain() for r in report.reports for v in r.steps
                                             if not v.ok_given_lemmas)
    assert report.lemmas == ("induction",)
    assert not report.ok  # the conclusion for every k rests on induction: never shown as proved
    assert sum(r.ok for r in report.reports) == len(report.reports) - 1


def test_batch_vs_sgd_full_batch_against_numpy_and_closed_form() -> None:
    run = batch_vs_sgd.full_batch_run()
    assert batch_vs_sgd.full_batch_matches_closed_form(run)
    # independent float iteration of gradient descent on the mean of the per-example losses
    a = np.array([float(v) for v in batch_vs_sgd.A])
    b = np.array([float(v) for v in batch_vs_sgd.B])
    eta = float(batch_vs_sgd.ETA)
    p = np.array([1.0, 0.0])
    for k in range(1, batch_vs_sgd.STEPS + 1):
        grad = np.array([np.mean(2 * p[0] + a), np.mean(-2 * p[1] + b)])
        p = p - eta * grad
        assert p[0] == pytest.approx((1 - 2 * eta) ** k, rel=1e-12)
        assert abs(p[1]) < 1e-15


def test_batch_vs_sgd_sgd_run_against_float_iteration_and_gradients() -> None:
    run = batch_vs_sgd.sgd_run()
    eta = float(batch_vs_sgd.ETA)
    f = [sp.lambdify((batch_vs_sgd.x, batch_vs_sgd.y), batch_vs_sgd.per_example(i)) for i in range(4)]
    h = 1e-6
    p = np.array([1.0, 0.0])
    for k, i in enumerate(run.examples, start=1):
        # the per-example gradient by central differences, not by the formula the module uses
        gx = (f[i](p[0] + h, p[1]) - f[i](p[0] - h, p[1])) / (2 * h)
        gy = (f[i](p[0], p[1] + h) - f[i](p[0], p[1] - h)) / (2 * h)
        p = p - eta * np.array([gx, gy])
        xk, yk = (float(v) for v in run.points[k])
        assert p[0] == pytest.approx(xk, rel=1e-6, abs=1e-9) and p[1] == pytest.approx(yk, rel=1e-6, abs=1e-9)
    assert run.points[1][1] != 0
    assert run.escape_step() is not None
    escaped, latest = batch_vs_sgd.escape_count(runs=50)
    assert 40 <= escaped <= 50 and latest <= batch_vs_sgd.STEPS


def test_batch_vs_sgd_figure_deterministic() -> None:
    doc = sg.catalog.get(batch_vs_sgd.NAME)
    (figure,) = [blk for blk in doc.blocks if isinstance(blk, Figure)]
    assert figure.sources["latex"].startswith(r"\begin{tikzpicture}")
    (svg,) = figure.assets.values()
    assert "<svg" in svg
    runs = (batch_vs_sgd.full_batch_run(), *(batch_vs_sgd.sgd_run(s) for s in batch_vs_sgd.FIGURE_SEEDS))
    plot = batch_vs_sgd.plot(runs)
    assert svg == plots.svg(plot) and figure.sources["latex"] == plots.tikz(plot)  # one engine, deterministic
    assert "tab:" not in svg
    # the full-batch run is drawn on the stable manifold y = 0; each SGD run leaves it
    drawn = {c.label: c.points for c in plot.items if isinstance(c, plots.Curve) and c.label}
    assert all(py == 0 for _, py in drawn["full batch"])
    assert all(any(abs(py) >= 1 for _, py in drawn[run.label]) for run in runs[1:])


# -- the six newer entries read as a lecturer would ----------------------------------------------

_NEWER = ("learning-rate-momentum", "lstm-gating", "batchnorm-saturation", "dense-connections", "relu-family",
          "full-batch-vs-sgd")
#: Characters that are mathematics: outside ``$...$`` they mean a formula was written as text.
_MATH_CHARS = set("αβγδεηθκλμρσφψωΣΠ∂∇√≤≥≠±×·′−²³∈∞ᵀ½")


@pytest.mark.parametrize("name", _NEWER)
def test_newer_titles_and_justifications_write_math_as_math(name: str) -> None:
    """Every proof title and step justification of the six newer entries writes its mathematics as
    ``$...$`` (typeset in both formats, checked by KaTeX), never as Unicode or ASCII text; a rule-only
    step also says in words why it holds."""
    from symgrad.proofs.documents import ProofBlock
    from symgrad.rendering.escape import split_math

    for block in sg.catalog.get(name).blocks:
        if not isinstance(block, ProofBlock):
            continue
        texts = [block.proof.title or ""]
        for *_, by in block.proof.links():
            assert by.text, (name, block.proof.title, by.rule)  # a rule name alone is not an explanation
            texts.append(by.text)
        for text in texts:
            outside = "".join(seg.text for seg in split_math(text) if not seg.math)
            assert not (_MATH_CHARS & set(outside)), (name, text)
            assert "**" not in outside and "sigma_" not in outside, (name, text)


def test_relu_negative_side_chain_starts_at_the_relu() -> None:
    """The chain starts at the derivative of max(0, x) under the hypothesis x < 0 (not at SymPy's
    already-evaluated d/dx 0, which would prove nothing about ReLU) and is proved."""
    proof = relu_family.relu_negative_proof()
    x = relu_family.x
    assert proof.start == sp.Derivative(sp.Max(0, x), x)
    assert proof.check().ok
