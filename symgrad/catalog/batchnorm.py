"""Catalog entries ``batchnorm-backward``, ``layernorm-backward``, ``rmsnorm-backward``.

The backward passes of the three normalization layers, derived on the paper-level
computation graph (:mod:`symgrad.normalization`), each equation checked by the kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from .support import normalization as nz
from ..numerics.differences import complex_step_along, richardson_along
from ..proofs.proof import check
from ..proofs.documents import Block, Document, Equation, Listing, Prose, ProofBlock, Section, Table
from ..proofs.proof import calc

#: The size of the batch in the document's explicit proofs (tests prove m = 1..8).
DOC_M = 3
#: Sizes of the exact rational verification table.
EXACT_SIZES = (1, 2, 4, 8, 16, 32, 64)
#: The shape of the numerical check.
NUMERIC_SHAPE = (64, 16)
EPS = 1e-5


def _forward_np(x: Any, gamma: Any, beta: Any, eps: float = EPS) -> Any:
    """BatchNorm forward over axis 0; works for real and complex arrays (no abs, no conj)."""
    mu = x.mean(0)
    var = ((x - mu) ** 2).mean(0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def numeric_inputs(m: int = NUMERIC_SHAPE[0], d: int = NUMERIC_SHAPE[1], seed: int = 0) -> tuple[Any, ...]:
    """(x, g, gamma, beta) in float64, fixed seed."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, d)), rng.standard_normal((m, d)), 1.0 + 0.5 * rng.standard_normal(d),
            rng.standard_normal(d))


def _unit(shape: tuple[int, ...], index: tuple[int, ...], dtype: Any = float) -> Any:
    """The array of ``shape`` that is 1 at ``index`` and 0 elsewhere."""
    e = np.zeros(shape, dtype=dtype)
    e[index] = 1
    return e


def complex_step_gradient(x: Any, g: Any, gamma: Any, beta: Any, h: float = 1e-30) -> Any:
    """d(sum g*y)/dx by the complex step, one input at a time (exact to rounding for analytic code)."""
    out = np.empty_like(x)
    for index in np.ndindex(*x.shape):
        e = _unit(x.shape, index)
        out[index] = complex_step_along(lambda t: np.sum(g * _forward_np(x + t * e, gamma, beta)), h)
    return out


def central_difference_gradient(x: Any, g: Any, gamma: Any, beta: Any, h: float = 1e-3) -> Any:
    """Central differences at ``h`` and ``h/2`` with one Richardson step (error O(h^4)), one input at a time.

    The forward pass is evaluated in ``numpy.longdouble`` (80-bit extended on x86-64),
    so that rounding (about eps/h) stays below the 1e-10 the comparison needs.
    """
    xw, gw, gammaw, betaw = (np.asarray(a, dtype=np.longdouble) for a in (x, g, gamma, beta))
    out = np.empty_like(x)
    for index in np.ndindex(*x.shape):
        e = _unit(x.shape, index, np.longdouble)
        out[index] = richardson_along(lambda t: np.sum(gw * _forward_np(xw + t * e, gammaw, betaw)), h)
    return out


def relative_error(a: Any, b: Any) -> float:
    """``max|a - b| / max(1, max|b|)``."""
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _status_table(proofs: list[tuple[str, Any]]) -> Table:
    rows = []
    for label, proof in proofs:
        report = check(proof)
        rows.append((label, "proved" if report.ok else report.status.value))
    return Table(columns=("statement", "kernel"), rows=tuple(rows),
                 caption="Sum lemmas for explicit sizes, each checked by the kernel.")


def _exact_table(kind: str) -> Table:
    rows = []
    for m in EXACT_SIZES:
        result = nz.verify_exact(kind, m)
        rows.append((str(m), str(result.comparisons), "all equal" if result.ok else
                     f"{len(result.mismatches)} mismatches"))
    return Table(columns=("m", "exact comparisons", "result"), rows=tuple(rows),
                 caption=("The symbolic forms evaluated exactly at a rational point (epsilon chosen so that "
                          "sqrt(sigma^2 + epsilon) is rational) against the exact gradient from forward-mode "
                          "differentiation in rational arithmetic."))


def _general_blocks(proof: Any) -> list[Block]:
    """The general-m chain as an aligned equation and a table of each step's kernel verdict.

    The status column is the kernel's label for each step: a lemma step can only be
    "rests on a lemma" (or refuted), the algebra steps are checked like any other.
    """
    from ..proofs.proof import check

    report = check(proof)
    lines = [rf"& {sp.latex(proof.start)}"] + [rf"&= {sp.latex(step.expr)}" for step in proof.steps]
    rows = tuple((str(v.index), step.by.text or "", step.by.rule or "", v.label)
                 for v, step in zip(report.steps, proof.steps))
    return [
        Equation(r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"),
        Table(columns=("step", "why", "rule", "kernel"), rows=rows,
              caption="The general-m chain: the kernel's verdict on each step; lemma steps rest on the named lemma."),
    ]


def _edge_cases() -> list[Block]:
    one = nz.setup("batchnorm", 1)
    xhat_zero = (calc(one.xhat[0], where={one.mu: one.definition[one.mu], one.var: one.definition[one.var],
                                         one.xhat[0]: one.definition[one.xhat[0]]},
                      title="m = 1: the normalized value is 0")
                 .eq(0, rule="algebra", by="x_1 - mu_B = 0"))
    dx_zero = nz.compact_proof(one, 0).eq(0, rule="algebra", by="m g_1 - g_1 = 0 and xhat_1 = 0") \
        .titled("m = 1: the gradient is 0 (epsilon > 0)")
    two = nz.setup("batchnorm", 2)
    no_eps = nz.epsilon_zero_proof(two)
    mu_r, var_r = sp.Symbol("mu_r", real=True), sp.Symbol("sigma_r2", positive=True)
    x, g, gamma, beta, eps = two.x, two.g, two.gamma[0], two.beta[0], two.eps
    y = [gamma * (xi - mu_r) / sp.sqrt(var_r + eps) + beta for xi in x]
    loss = sum(gi * yi for gi, yi in zip(g, y))
    inference = (calc(sp.Derivative(loss, x[0]), title="Inference mode: running statistics")
                 .eq(gamma * g[0] / sp.sqrt(var_r + eps), rule="derivative"))
    affine = (calc(sp.ImmutableMatrix(2, 2, lambda i, j: sp.Derivative(loss, x[i], x[j])),
                   title="Inference mode: the backward is affine (second derivatives vanish)")
              .eq(sp.ImmutableMatrix.zeros(2, 2), rule="derivative"))
    return [
        Section("Edge cases"),
        Prose("A batch of one: $\\mu_B = x_1$, so $\\hat{x}_1 = 0$ whatever $x_1$, the output is $\\beta$, and "
              "no gradient reaches $x_1$. This needs $\\epsilon > 0$: with $\\epsilon = 0$ the normalized value "
              "is $0/0$."),
        ProofBlock(xhat_zero),
        ProofBlock(dx_zero),
        Prose("Without $\\epsilon$ the forward pass divides by $\\sigma_B$, so it requires $\\sigma_B^2 > 0$ "
              "(not all $x_i$ equal). Where that holds, the compact form is the gradient; here for $m = 2$ with "
              "$x_1 > x_2$ (the side condition the checker samples from)."),
        ProofBlock(no_eps),
        Prose("In inference mode the statistics are fixed running averages $\\mu_r, \\sigma_r^2$, not functions "
              "of the batch, so the layer is affine in $x$ and its backward is a constant scaling of $g$."),
        ProofBlock(inference),
        ProofBlock(affine),
    ]


def _numbers() -> list[Block]:
    x, g, gamma, beta = numeric_inputs()
    generated = nz.numpy_backward()(g, x, gamma, EPS)
    by_complex = complex_step_gradient(x, g, gamma, beta)
    by_central = central_difference_gradient(x, g, gamma, beta)
    rows = (("complex step (h = 1e-30)", "yes" if relative_error(generated, by_complex) < 1e-10 else "NO"),
            ("central differences + Richardson (h = 1e-3, extended precision)",
             "yes" if relative_error(generated, by_central) < 1e-10 else "NO"))
    return [
        Section("Numbers"),
        Prose(f"The generated numpy function on a batch of shape $({NUMERIC_SHAPE[0]}, {NUMERIC_SHAPE[1]})$ in "
              "float64 (fixed seed) against the gradient of $\\ell = \\sum g \\odot y$ computed numerically from "
              "the forward pass alone, both within $10^{-10}$ relative: the complex step is exact up to rounding, "
              "and the central differences evaluate the forward pass in extended precision (numpy longdouble), "
              "so that their cancellation error stays below the bound. "
              "The tests also compare with PyTorch autograd when it is installed."),
        Table(columns=("oracle", "within the bound"), rows=rows,
              caption="Largest absolute difference relative to the largest gradient entry."),
    ]


def build_batchnorm() -> Document:
    s = nz.setup("batchnorm", DOC_M)
    proofs = nz.paper_proofs(s, 0)
    G = nz.general()
    lemma_rows: list[tuple[str, Any]] = []
    for m in (1, 2, 3, 4):
        lemma_rows += [(p.title or "", p) for p in nz.lemma_instances(m)]
    blocks: list[Block] = [
        Section("The forward algorithm"),
        Prose("Over a mini-batch $x_1, \\dots, x_m$ (one feature; every feature is independent) batch "
              "normalization computes"),
        Equation(r"\mu_B = \frac1m \sum_{i=1}^{m} x_i, \quad \sigma_B^2 = \frac1m \sum_{i=1}^{m} (x_i - \mu_B)^2, "
                 r"\quad \hat{x}_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}, \quad "
                 r"y_i = \gamma \hat{x}_i + \beta."),
        Prose("The upstream gradient $g_i = \\partial \\ell / \\partial y_i$ is taken as given, so the loss is, "
              "to first order, $\\ell = \\sum_i g_i y_i$: its gradient with respect to $y$ is $g$ and every "
              "gradient below is the backward pass of the layer."),
        Section("The backward pass on the graph"),
        Prose("The graph has the nodes of the forward algorithm: $\\mu_B$ reads every $x_i$; $\\sigma_B^2$ "
              "reads every $x_i$ and $\\mu_B$; $\\hat{x}_i$ reads $x_i$, $\\mu_B$ and $\\sigma_B^2$; $y_i$ reads "
              "$\\hat{x}_i$, $\\gamma$ and $\\beta$. A node's adjoint is the sum over the nodes that read it of "
              "their adjoint times the local derivative. Each chain below starts at SymPy's derivative of "
              "$\\ell$ with respect to the node's value (the nodes above it rebuilt, the rest held fixed), "
              "applies that law, and arrives at the form printed in the paper; the closed forms of "
              "$\\partial\\ell/\\partial\\hat{x}_j$, $\\partial\\ell/\\partial\\sigma_B^2$ and "
              "$\\partial\\ell/\\partial\\mu_B$ proved in one chain are the definitions the later chains use. "
              f"The explicit proofs are for $m = {DOC_M}$ and $i = 1$; the tests prove them for "
              "$m = 1, \\dots, 8$."),
        Section("The six equations"),
        ProofBlock(proofs["xhat"], title="dl/dxhat_i = dl/dy_i * gamma"),
        ProofBlock(proofs["var"], title="dl/dsigma_B^2"),
        Prose("In $\\partial\\ell/\\partial\\mu_B$ the paper prints a second term, "
              "$\\frac{\\partial\\ell}{\\partial\\sigma_B^2} \\cdot \\frac{\\sum_i -2(x_i - \\mu_B)}{m}$. "
              "It vanishes, because the centred values of a batch sum to zero:"),
        ProofBlock(nz.mean_zero_proof(s)),
        ProofBlock(proofs["mu"], title="dl/dmu_B, the second term vanishing as a step"),
        ProofBlock(proofs["x"], title="dl/dx_i"),
        ProofBlock(proofs["gamma"], title="dl/dgamma"),
        ProofBlock(proofs["beta"], title="dl/dbeta"),
        Section("The compact form"),
        Prose("Inserting the adjoints into $\\partial\\ell/\\partial x_i$ and writing "
              "$x_j - \\mu_B = \\hat{x}_j \\sqrt{\\sigma_B^2 + \\epsilon}$ gives one expression in $g$ and "
              "$\\hat{x}$:"),
        Equation(r"\frac{\partial\ell}{\partial x_i} = \frac{\gamma}{m\sqrt{\sigma_B^2 + \epsilon}}"
                 r"\Bigl( m g_i - \sum_{j=1}^{m} g_j - \hat{x}_i \sum_{j=1}^{m} g_j \hat{x}_j \Bigr), "
                 r"\qquad g_i = \frac{\partial\ell}{\partial y_i}."),
        ProofBlock(nz.compact_proof(s, 0)),
        Section("General m"),
        Prose("For a symbolic batch size the sums stay sums. The chain below starts from "
              "$\\sum_j \\frac{\\partial\\ell}{\\partial\\hat{x}_j}\\frac{\\partial\\hat{x}_j}{\\partial x_i}$ "
              "with $\\partial\\ell/\\partial\\hat{x}_j = \\gamma g_j$. Moving factors out of a sum, splitting it, "
              "and collapsing a Kronecker delta are lemmas about finite sums: those steps rest on them; the final "
              "algebra, with the sums as atoms, is proved by the kernel (the chain is "
              "normalization.general_proof, checked in the tests). The starting sum uses "
              "$\\partial\\sigma_B^2/\\partial x_i = 2(x_i - \\mu_B)/m$, which itself rests on "
              "$\\sum_j (x_j - \\mu_B) = 0$; for explicit $m$ the tests check the starting sum against SymPy's "
              "derivative."),
        *_general_blocks(nz.general_proof(G)),
        Prose("The centred sum for general $m$ (normalization.general_mean_zero_proof, checked in the tests): "
              "splitting the sum is a lemma; what remains, $\\sum_j x_j - m\\mu_B = 0$, is proved once "
              "$\\mu_B$ is defined."),
        Prose("Each lemma the general chain rests on, stated for explicit sizes, is proved by the kernel:"),
        _status_table(lemma_rows),
        Section("Explicit m up to 64"),
        Prose("Symbolic proofs grow quickly with $m$ (SymPy expands polynomials in $m$ variables). For larger "
              "batches the same identities are verified exactly instead: the compact form, the paper's "
              "equations run in order, $\\partial\\ell/\\partial\\gamma$ and $\\partial\\ell/\\partial\\beta$ "
              "at a rational point, compared as rationals with the exact gradient. This is evidence for each "
              "$m$, not a proof; benchmarks/batchnorm_scaling.py times it beside sympy.simplify."),
        _exact_table("batchnorm"),
        *_edge_cases(),
        Section("Generated numpy code"),
        Prose("The compact form, printed by SymPy's NumPy printer with the two sums named, gives the backward "
              "of a batch of shape $(m, d)$; the tests check that it equals the symbolic result."),
        Listing(nz.numpy_backward_source(), caption="batchnorm_backward, generated from the compact form"),
        Prose("latexify-py renders it as below. latexify-py 0.4 drops the axis=0 of np.sum and does not "
              "know np.mean; symgrad rewrites those calls before rendering so that they appear as sums over "
              "the batch."),
        Equation(nz.latexify_backward()),
        *_numbers(),
    ]
    return Document(
        name="batchnorm-backward",
        title="Batch normalization: the backward pass",
        summary=("The six backward equations of Ioffe and Szegedy (2015) for batch normalization, each derived "
                 "from the forward algorithm by the backward pass on its computation graph and checked, the "
                 "vanishing term of the mean's gradient, and the compact form "
                 "$\\partial\\ell/\\partial x_i = \\frac{\\gamma}{m\\sqrt{\\sigma_B^2+\\epsilon}}(m g_i - \\sum_j g_j "
                 "- \\hat{x}_i \\sum_j g_j \\hat{x}_j)$."),
        blocks=tuple(blocks),
    )


def _norm_document(kind: str, name: str, title: str, summary: str, forward: str, compact: str) -> Document:
    s = nz.setup(kind, DOC_M)
    inner = [n for n in (s.mu, s.var, s.xhat[0]) if n is not None]
    blocks: list[Block] = [
        Section("The forward algorithm"),
        Equation(forward),
        Prose("The upstream gradient $g_i = \\partial\\ell/\\partial y_i$ is given, so $\\ell = \\sum_i g_i y_i$; "
              "write $h_i = \\gamma_i g_i$ for $\\partial\\ell/\\partial\\hat{x}_i$. The backward pass runs on "
              f"the same node-level graph as for batch normalization; explicit proofs for $m = {DOC_M}$ "
              "features and $i = 1$ (the tests prove $m = 1, \\dots, 6$)."),
        Section("Adjoints of the inner nodes"),
        *(ProofBlock(nz.adjoint_proof(s, n)) for n in reversed(inner)),
        Section("The compact form"),
        Equation(compact),
        ProofBlock(nz.compact_proof(s, 0)),
        Section("Explicit m up to 64"),
        _exact_table(kind),
    ]
    return Document(name=name, title=title, summary=summary, blocks=tuple(blocks))


def build_layernorm() -> Document:
    return _norm_document(
        "layernorm", "layernorm-backward", "Layer normalization: the backward pass",
        ("Layer normalization normalizes the features of one example, with a per-feature scale and shift. "
         "Its backward is batch normalization's with $h_i = \\gamma_i g_i$ in place of $\\gamma g_i$."),
        r"\mu = \frac1m \sum_{i=1}^{m} x_i, \quad \sigma^2 = \frac1m \sum_{i=1}^{m} (x_i - \mu)^2, \quad "
        r"\hat{x}_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y_i = \gamma_i \hat{x}_i + \beta_i",
        r"\frac{\partial\ell}{\partial x_i} = \frac{1}{m\sqrt{\sigma^2 + \epsilon}}"
        r"\Bigl( m h_i - \sum_{j=1}^{m} h_j - \hat{x}_i \sum_{j=1}^{m} h_j \hat{x}_j \Bigr)")


def build_rmsnorm() -> Document:
    return _norm_document(
        "rmsnorm", "rmsnorm-backward", "RMS normalization: the backward pass",
        ("RMS normalization divides the features by their root mean square, without centring and without a "
         "shift. Its backward lacks the $\\sum_j h_j$ term of layer normalization."),
        r"\nu^2 = \frac1m \sum_{i=1}^{m} x_i^2, \quad \hat{x}_i = \frac{x_i}{\sqrt{\nu^2 + \epsilon}}, \quad "
        r"y_i = \gamma_i \hat{x}_i",
        r"\frac{\partial\ell}{\partial x_i} = \frac{1}{m\sqrt{\nu^2 + \epsilon}}"
        r"\Bigl( m h_i - \hat{x}_i \sum_{j=1}^{m} h_j \hat{x}_j \Bigr)")


__all__ = ["build_batchnorm", "build_layernorm", "build_rmsnorm", "complex_step_gradient",
           "central_difference_gradient", "numeric_inputs", "relative_error"]
