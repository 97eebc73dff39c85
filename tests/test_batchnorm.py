"""BatchNorm backward: the six equations and the compact form proved for explicit m, the exact
verifier at any size m, general m with lemmas, edge cases, generated numpy code, numbers vs
finite differences / complex step / PyTorch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad.catalog.support import normalization as nz
from symgrad.catalog.support.normalization import codegen, exact, layers
from symgrad.catalog.support.normalization import indexed
from symgrad.catalog import batchnorm as entry
from symgrad.core.errors import InputError, UnsupportedError
from symgrad.core.kernel import substitute_definitions
from symgrad.core.verdicts import Status
from symgrad.proofs.documents import ProofBlock, Table

FAST_SIZES = (1, 2, 3, 4)
SLOW_SIZES = (5, 6, 7, 8)


def _all_proofs(m: int) -> list[sg.Proof]:
    s = nz.setup("batchnorm", m)
    proofs = list(nz.paper_proofs(s, m - 1).values())  # the last index, the document shows the first
    proofs += [nz.compact_proof(s, 0), nz.mean_zero_proof(s)]
    proofs += [nz.adjoint_proof(s, n) for n in (s.mu, s.var, s.xhat[0])]
    return proofs


@pytest.mark.parametrize("m", FAST_SIZES)
def test_six_equations_and_compact_form_proved(m: int) -> None:
    for proof in _all_proofs(m):
        report = proof.check()
        assert report.ok, (m, proof.title, [v.explain() for v in report.steps if not v.ok])


@pytest.mark.expensive
@pytest.mark.parametrize("m", SLOW_SIZES)
def test_six_equations_and_compact_form_proved_large(m: int) -> None:
    for proof in _all_proofs(m):
        report = proof.check(budget=120)
        assert report.ok, (m, proof.title, [v.explain() for v in report.steps if not v.ok])


def test_every_proof_starts_at_sympys_derivative() -> None:
    """The start of each chain is SymPy's derivative (independent oracle), not the claimed form."""
    s = nz.setup("batchnorm", 3)
    full = layers.define_all(s, s.loss)
    for name, variable in (("x", s.x[1]), ("gamma", s.gamma[0]), ("beta", s.beta[0])):
        proof = nz.paper_proofs(s, 1)[name]
        assert proof.start == sp.Derivative(nz.LOSS(*nz.inputs(s)), variable)  # the named loss ...
        assert substitute_definitions(proof.start, proof.definitions) == sp.Derivative(full, variable)  # ... is it


def test_mu_equation_shows_the_vanishing_term_as_a_step() -> None:
    s = nz.setup("batchnorm", 3)
    proof = nz.paper_proofs(s)["mu"]
    rules = [step.by.rule for step in proof.steps]
    assert "centred-sum-zero" in rules
    report = proof.check()
    assert report.ok
    # the term really is there before the step and gone after it
    index = rules.index("centred-sum-zero")
    before, after = proof.steps[index - 1].expr, proof.steps[index].expr
    assert before.has(s.adjoints[s.var]) and not after.has(s.adjoints[s.var])


def test_wrong_printed_form_is_refuted() -> None:
    s = nz.setup("batchnorm", 3)
    good = nz.paper_proofs(s)["var"]
    wrong_value = good.steps[-1].expr * 2
    bad = dataclasses.replace(good, steps=good.steps[:-1] + (dataclasses.replace(good.steps[-1], expr=wrong_value),))
    assert bad.check().steps[-1].status is Status.REFUTED


def test_dropped_term_in_compact_form_is_refuted() -> None:
    s = nz.setup("batchnorm", 3)
    proof = nz.compact_proof(s, 0)
    wrong = sp.Mul(s.gamma[0] / (3 * s.std), 3 * s.g[0] - sum(s.g), evaluate=False)  # x̂ Σ g x̂ dropped
    bad = dataclasses.replace(proof, steps=proof.steps[:-1] + (dataclasses.replace(proof.steps[-1], expr=wrong),))
    assert bad.check().steps[-1].status is Status.REFUTED


# -- exact verification ---------------------------------------------------------------


@pytest.mark.parametrize("kind", nz.KINDS)
def test_verify_exact_has_no_size_limit(kind: str) -> None:
    """Beyond the 64 the first version refused (its time per size is in benchmarks/startup_and_render.py)."""
    result = nz.verify_exact(kind, 300)
    assert result.ok
    assert result.comparisons == (300 + 2 + 300 if kind == "batchnorm" else 300)


@pytest.mark.parametrize("kind", nz.KINDS)
def test_verify_exact_small_and_several_points(kind: str) -> None:
    for m in (1, 2, 5, 13):
        assert nz.verify_exact(kind, m, points=2).ok


def test_verify_exact_catches_a_wrong_compact_form(monkeypatch: pytest.MonkeyPatch) -> None:
    original = nz.compact_form

    def wrong(s: nz.Setup, i: int, sums: tuple[sp.Expr, sp.Expr] | None = None) -> sp.Expr:
        return original(s, i, sums) * (1 + sp.Rational(1, 10**9))

    monkeypatch.setattr(exact, "compact_form", wrong)  # where verify_exact looks it up
    result = nz.verify_exact("batchnorm", 16)
    assert not result.ok and result.mismatches


def test_exact_gradient_matches_sympy_diff() -> None:
    """The forward-mode oracle against sympy.diff at a rational point (m = 3)."""
    s = nz.setup("batchnorm", 3)
    point = nz.rational_point(s, 1)
    exact = nz.exact_gradient(s, point)
    full = layers.define_all(s, s.loss)
    values = {k: sp.Rational(v.numerator, v.denominator) for k, v in point.items()}
    for v in (*s.x, s.gamma[0], s.beta[0]):
        by_sympy = sp.nsimplify(sp.diff(full, v).xreplace(values))
        assert by_sympy == sp.Rational(exact[v].numerator, exact[v].denominator)


def test_exact_value_refuses_irrational_and_unknown() -> None:
    x = sp.Symbol("x")
    with pytest.raises(InputError):
        nz.exact_value(sp.sqrt(x), {x: 2})
    with pytest.raises(UnsupportedError):
        nz.exact_value(sp.exp(x), {x: 0})


def test_setup_misuse() -> None:
    with pytest.raises(InputError):
        nz.setup("groupnorm", 3)
    with pytest.raises(InputError):
        nz.setup("batchnorm", 0)
    with pytest.raises(InputError):
        nz.setup("batchnorm", 2.0)  # type: ignore[arg-type]


# -- general m -------------------------------------------------------------------------


def test_general_proof_rests_only_on_named_lemmas() -> None:
    report = nz.general_proof().check()  # the options the catalog entry uses: its verdicts are shared in a run
    assert report.ok_given_lemmas and not report.ok
    assert set(report.lemmas) == {"sum-linearity", "kronecker-collapse"}
    assert report.steps[-1].status is Status.PROVED
    for name in report.lemmas:
        assert sg.rules.get(name).kind == "lemma"


def test_general_proof_substitutes_xhat_and_ends_at_the_compact_form() -> None:
    """The chain's last two steps write xhat_i, xhat_j (proved with their definitions) and factor."""
    G = nz.general()
    proof = nz.general_proof(G)
    xhat = G.xhat_symbols
    assert proof.steps[-1].expr == nz.general_compact(G, lambda k: xhat[k])
    assert set(xhat.values()) <= proof.steps[-1].expr.free_symbols
    assert [s.by.rule for s in proof.steps[-2:]] == ["substitution", "factor"]
    report = proof.check()
    assert [v.status for v in report.steps[-2:]] == [Status.PROVED, Status.PROVED]


def test_general_proof_wrong_compact_form_is_not_proved() -> None:
    """Dropping the sum of g_j from the compact form: the last step is not proved (with symbolic m the
    kernel finds no sample point within the budget, so it says unknown, never proved)."""
    G = nz.general()
    proof = nz.general_proof(G)
    xhat = G.xhat_symbols
    wrong = sp.Mul(G.gamma / (G.m * G.std), G.m * G.g[G.i] - xhat[G.i] * G.total(G.g[G.j] * xhat[G.j]),
                   evaluate=False)
    bad = dataclasses.replace(proof, steps=proof.steps[:-1] + (dataclasses.replace(proof.steps[-1], expr=wrong),))
    report = bad.check(budget=4)
    assert report.steps[-1].status in (Status.REFUTED, Status.UNKNOWN) and not report.ok_given_lemmas


def test_general_mean_zero_and_paper_form() -> None:
    report = nz.general_mean_zero_proof().check()
    assert report.ok_given_lemmas and report.lemmas == ("sum-linearity", "sum-of-constant")
    assert report.steps[-1].status is Status.PROVED
    paper = nz.general_paper_proof().check()
    assert paper.ok_given_lemmas and paper.lemmas == ("centred-sum-zero-general",)


@pytest.mark.parametrize("m", (1, 2, 3, 4))
def test_lemmas_and_general_start_for_explicit_m(m: int) -> None:
    for proof in nz.lemma_instances(m):
        assert proof.check().ok, proof.title
    s = nz.setup("batchnorm", m)
    assert nz.general_start_instance(s, m - 1).check().ok


def test_general_compact_specialises_to_the_explicit_one() -> None:
    G = nz.general()
    s = nz.setup("batchnorm", 3)
    general = nz.general_compact(G).subs({G.m: 3, G.i: 2}).doit()
    general = general.replace(lambda e: isinstance(e, sp.Indexed), lambda e: indexed._indexed_to_symbol(s, e))
    general = general.xreplace({G.gamma: s.gamma[0], G.eps: s.eps, G.mu: s.mu, G.var: s.var})
    explicit = nz.compact_form(s, 1)
    definitions = {s.xhat[j]: s.definition[s.xhat[j]] for j in range(3)}
    assert sp.simplify(general - explicit.xreplace(definitions)) == 0


# -- edge cases ------------------------------------------------------------------------


def test_m1_gradient_is_zero_and_xhat_is_zero() -> None:
    s = nz.setup("batchnorm", 1)
    assert sp.simplify(layers.define_all(s, s.xhat[0])) == 0
    assert sp.diff(layers.define_all(s, s.loss), s.x[0]).doit() == 0


def test_epsilon_zero_needs_positive_variance() -> None:
    s = nz.setup("batchnorm", 2)
    assert nz.epsilon_zero_proof(s).check().ok
    undefined = layers.define_all(s, s.xhat[0]).xreplace({s.eps: 0}).xreplace({s.x[0]: 1, s.x[1]: 1})
    assert undefined.has(sp.nan, sp.zoo) or undefined is sp.nan
    with pytest.raises(InputError):
        nz.epsilon_zero_proof(nz.setup("batchnorm", 1))


# -- generated code, latexify ----------------------------------------------------------


def test_generated_numpy_equals_the_symbolic_result() -> None:
    s = nz.setup("batchnorm", 4)
    point = nz.rational_point(s, 3)
    fn = nz.numpy_backward()
    x = np.array([[float(point[v])] for v in s.x])
    g = np.array([[float(point[v])] for v in s.g])
    got = fn(g, x, float(point[s.gamma[0]]), float(point[s.eps]))
    exact = nz.exact_gradient(s, point)
    for i, v in enumerate(s.x):
        assert abs(got[i, 0] - float(exact[v])) <= 1e-12 * max(1.0, abs(float(exact[v])))


def test_latexify_rendering_fixed() -> None:
    raw = nz.latexify_backward(fix=False)
    fixed = nz.latexify_backward()
    assert r"\mathrm{np}.\mathrm{mean}" in raw  # latexify does not know np.mean ...
    assert r"\sum g" in raw  # ... and drops axis=0 of np.sum
    assert "np" not in fixed.replace(r"\mathrm{np}", "") or r"\mathrm{np}" not in fixed
    assert r"\mathrm{np}" not in fixed
    assert fixed.count(r"\sum_{i=1}^{m}") == 4 and fixed.count(r"\frac{1}{m} \sum_{i=1}^{m}") == 2


def test_latexify_fix_refuses_other_axes() -> None:
    with pytest.raises(UnsupportedError):
        codegen._rewrite_reductions("def f(x):\n    return np.sum(x, axis=1)\n")


# -- numbers ---------------------------------------------------------------------------


def test_numbers_against_complex_step_and_differences() -> None:
    x, g, gamma, beta = entry.numeric_inputs()
    got = nz.numpy_backward()(g, x, gamma, entry.EPS)
    assert entry.relative_error(got, entry.complex_step_gradient(x, g, gamma, beta)) < 1e-10
    # Differences in extended precision reach 1e-10; where longdouble is plain double, 1e-8.
    fd_tolerance = 1e-10 if np.finfo(np.longdouble).eps < 1e-17 else 1e-8
    assert entry.relative_error(got, entry.central_difference_gradient(x, g, gamma, beta)) < fd_tolerance
    # and the oracle notices a planted bug
    assert entry.relative_error(got * (1 + 1e-6), entry.complex_step_gradient(x, g, gamma, beta)) > 1e-10


def test_numbers_against_torch() -> None:
    torch = pytest.importorskip("torch")
    x, g, gamma, beta = entry.numeric_inputs()
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.batch_norm(xt, None, None, torch.tensor(gamma), torch.tensor(beta), training=True,
                                       eps=entry.EPS)
    (y * torch.tensor(g)).sum().backward()
    got = nz.numpy_backward()(g, x, gamma, entry.EPS)
    assert entry.relative_error(got, xt.grad.numpy()) < 1e-10


# -- the entry -------------------------------------------------------------------------


def test_entry_is_proved_except_the_lemma_resting_general_chains() -> None:
    """Every explicit proof is proved; the general-m chains rest on the sum lemmas and are shown as such."""
    document = sg.catalog.get("batchnorm-backward")
    report = document.check()
    assert report.ok_given_lemmas and not report.ok
    assert set(report.lemmas) == {"sum-linearity", "kronecker-collapse", "centred-sum-zero-general",
                                  "sum-of-constant"}
    resting = [r.proof.title for r in report.reports if not r.ok]
    assert resting and all(title.startswith("General $m$") for title in resting)
    general = [b.proof for b in document.blocks if isinstance(b, ProofBlock) and b.proof.title
               and "compact form from indexed sums" in b.proof.title]
    assert general and general[0].steps[-1].expr == nz.general_proof().steps[-1].expr
    lemma_table = [b for b in document.blocks if isinstance(b, Table) and "sum lemmas" in (b.caption or "")]
    assert lemma_table and {row[1] for row in lemma_table[0].rows} == {"proved"}
    markdown = sg.render(report, "markdown")
    assert "Checked by symgrad: 14 of 17 proofs are proved; 3 rest on the cited lemmas" in markdown
