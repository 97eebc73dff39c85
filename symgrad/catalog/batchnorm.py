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
from ..proofs.documents import Block, Document, Equation, Figure, Listing, Prose, ProofBlock, Section, Table
from ..proofs.proof import calc

#: The size of the batch in the document's explicit proofs (tests prove m = 1..8).
DOC_M = 3
#: Sizes of the exact rational verification table.
EXACT_SIZES = (1, 2, 4, 8, 16, 32, 64, 256)
#: The shape of the numerical check.
NUMERIC_SHAPE = (64, 16)
EPS = 1e-5
#: Sizes for which the sum lemmas of the general-m chain are proved in the document.
LEMMA_SIZES = (1, 2, 3, 4)


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


def _status_table(proofs: list[tuple[str, Any]], sizes: tuple[int, ...]) -> Table:
    """The kernel's verdict on each explicit instance of a sum lemma."""
    rows = []
    for label, proof in proofs:
        report = check(proof)
        rows.append((label, "proved" if report.ok else report.status.value))
    return Table(columns=("statement", "kernel"), rows=tuple(rows),
                 caption=(f"The sum lemmas for the explicit sizes $m = {sizes[0]}, \\dots, {sizes[-1]}$, each "
                          "checked by the kernel: evidence for the general chain, not a proof for every $m$."))


def _exact_table(kind: str) -> Table:
    """Exact rational checks of the compact form and the paper's equations for the sizes :data:`EXACT_SIZES`."""
    var = {"batchnorm": r"\sigma_B^2", "layernorm": r"\sigma^2", "rmsnorm": r"\nu^2"}[kind]
    rows = []
    for m in EXACT_SIZES:
        result = nz.verify_exact(kind, m)
        rows.append((str(m), str(result.comparisons), "all equal" if result.ok else
                     f"{len(result.mismatches)} mismatches"))
    return Table(columns=("$m$", "exact comparisons", "result"), rows=tuple(rows),
                 caption=("The symbolic forms evaluated exactly at a rational point ($\\epsilon$ chosen so that "
                          f"$\\sqrt{{{var} + \\epsilon}}$ is rational) against the exact gradient of the forward pass, "
                          "computed by reverse-mode differentiation in rational arithmetic."))


def _edge_cases() -> list[Block]:
    one = nz.setup("batchnorm", 1)
    xhat_zero = (calc(one.xhat[0], where={one.mu: one.definition[one.mu], one.var: one.definition[one.var],
                                         one.xhat[0]: one.definition[one.xhat[0]]},
                      title="$m = 1$: the normalized value is $0$")
                 .eq(0, rule="algebra", by=r"$x_1 - \mu_B = 0$"))
    dx_zero = nz.compact_proof(one, 0).eq(0, rule="algebra", by=r"$m g_1 - g_1 = 0$ and $\hat{x}_1 = 0$") \
        .titled(r"$m = 1$: the gradient is $0$ ($\epsilon > 0$)")
    two = nz.setup("batchnorm", 2)
    no_eps = nz.epsilon_zero_proof(two)
    mu_r, var_r = sp.Symbol("mu_r", real=True), nz.Named("sigma_r2", r"\sigma_{r}^{2}", positive=True)
    x, g, gamma, beta, eps = two.x, two.g, two.gamma[0], two.beta[0], two.eps
    y = [gamma * (xi - mu_r) / sp.sqrt(var_r + eps) + beta for xi in x]
    loss = sum(gi * yi for gi, yi in zip(g, y))
    ell = nz.LOSS(*x)  # the loss as a function of the batch, defined with where=
    where = {nz.LOSS: sp.Lambda(x, loss)}
    inference = (calc(sp.Derivative(ell, x[0]), where=where, title="Inference mode: running statistics")
                 .eq(gamma * g[0] / sp.sqrt(var_r + eps), rule="derivative",
                     by=r"differentiate; $\mu_r$ and $\sigma_r^2$ are constants"))
    affine = (calc(sp.ImmutableMatrix(2, 2, lambda i, j: sp.Derivative(ell, x[i], x[j])), where=where,
                   title="Inference mode: the backward is affine (second derivatives vanish)")
              .eq(sp.ImmutableMatrix.zeros(2, 2), rule="derivative", by=r"$\ell$ is affine in $x_1, x_2$"))
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


#: The BatchNorm graph for one i: (id, position in cm, LaTeX label, HTML label for Mermaid,
#: backward stage, the adjoint as LaTeX / HTML). Stages are the order the backward pass computes them.
_GRAPH_NODES: tuple[tuple[str, tuple[float, float], str, str, int, str, str], ...] = (
    ("x", (0.0, 0.0), "x_i", "x<sub>i</sub>", 5, r"\partial\ell/\partial x_i", "∂ℓ/∂x<sub>i</sub>"),
    ("mu", (2.6, 1.7), r"\mu_B", "μ<sub>B</sub>", 4, r"\partial\ell/\partial\mu_B", "∂ℓ/∂μ<sub>B</sub>"),
    ("var", (5.4, 1.7), r"\sigma_B^2", "σ<sub>B</sub><sup>2</sup>", 3, r"\partial\ell/\partial\sigma_B^2",
     "∂ℓ/∂σ<sub>B</sub><sup>2</sup>"),
    ("xhat", (7.8, 0.0), r"\hat{x}_i", "x̂<sub>i</sub>", 2, r"\partial\ell/\partial\hat{x}_i = \gamma g_i",
     "∂ℓ/∂x̂<sub>i</sub> = γ g<sub>i</sub>"),
    ("gamma", (9.6, 1.7), r"\gamma", "γ", 2, r"\partial\ell/\partial\gamma", "∂ℓ/∂γ"),
    ("beta", (12.0, 1.7), r"\beta", "β", 2, r"\partial\ell/\partial\beta", "∂ℓ/∂β"),
    ("y", (10.8, 0.0), "y_i", "y<sub>i</sub>", 1, r"\partial\ell/\partial y_i = g_i",
     "∂ℓ/∂y<sub>i</sub> = g<sub>i</sub>"),
    ("loss", (13.6, 0.0), r"\ell", "ℓ", 0, "", ""),
)
#: The forward edges (reader after read): the adjoint of a node sums over the nodes that read it.
_GRAPH_EDGES: tuple[tuple[str, str], ...] = (
    ("x", "mu"), ("x", "var"), ("mu", "var"), ("x", "xhat"), ("mu", "xhat"), ("var", "xhat"),
    ("xhat", "y"), ("gamma", "y"), ("beta", "y"), ("y", "loss"),
)


def _graph_tikz() -> str:
    """The BatchNorm graph in plain TikZ: forward edges in black, each node's adjoint in red with its stage."""
    lines = [r"\begin{tikzpicture}[x=1cm, y=1cm, font=\small,",
             r"  v/.style={draw, rounded corners=2pt, fill=black!4, minimum width=9mm, minimum height=7mm}]"]
    for name, (px, py), label, _, stage, adjoint, _ in _GRAPH_NODES:
        lines.append(rf"\node[v] ({name}) at ({px}, {py}) {{${label}$}};")
        if adjoint:
            side, anchor = ("above", "north") if py > 0 else ("below", "south")
            lines.append(rf"\node[{side}=1mm, text=sgrefuted, font=\footnotesize] at ({name}.{anchor}) "
                         rf"{{({stage})~${adjoint}$}};")
    for source, target in _GRAPH_EDGES:
        lines.append(rf"\draw[->, thick] ({source}) -- ({target});")
    lines.append(r"\draw[->, thick, dashed, sgrefuted] (14.2, -1.35) -- node[below, font=\footnotesize] "
                 r"{backward pass: stages (1) to (5)} (-0.5, -1.35);")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def _graph_mermaid() -> str:
    """The same graph as a Mermaid flowchart: each node shows its adjoint and stage under its name."""
    lines = ["```mermaid", "flowchart LR"]
    for name, _, _, html, stage, _, adjoint in _GRAPH_NODES:
        text = html if not adjoint else f"{html}<br/>({stage}) {adjoint}"
        lines.append(f'  {name}["{text}"]')
    lines += [f"  {source} --> {target}" for source, target in _GRAPH_EDGES]
    lines.append("```")
    return "\n".join(lines)


def _graph_figure() -> Figure:
    """The computation graph with its backward stages, one caption per format."""
    common = ("The computation graph of batch normalization, drawn for one index $i$ ($\\mu_B$ and "
              "$\\sigma_B^2$ read every $x_j$ of the batch). Arrows are the forward pass: a node reads the "
              "nodes that point to it. ")
    return Figure(
        sources={"latex": _graph_tikz(), "markdown": _graph_mermaid()},
        caption={"latex": common + "In red, the adjoint each node receives in the backward pass, numbered by "
                                   "stage: $\\partial\\ell/\\partial y_i = g_i$ first, $\\partial\\ell/\\partial x_i$, "
                                   "which adds the contributions through $\\mu_B$, $\\sigma_B^2$ and "
                                   "$\\hat{x}_i$, last.",
                 "markdown": common + "Under each name, the adjoint the node receives in the backward pass and "
                                      "its stage: $\\partial\\ell/\\partial y_i = g_i$ first, "
                                      "$\\partial\\ell/\\partial x_i$, which adds the contributions through "
                                      "$\\mu_B$, $\\sigma_B^2$ and $\\hat{x}_i$, last."})


def build_batchnorm() -> Document:
    s = nz.setup("batchnorm", DOC_M)
    proofs = nz.paper_proofs(s, 0)
    G = nz.general()
    lemma_rows: list[tuple[str, Any]] = []
    for m in LEMMA_SIZES:
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
        _graph_figure(),
        Prose("The graph above has the nodes of the forward algorithm: $\\mu_B$ reads every $x_i$; $\\sigma_B^2$ "
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
        ProofBlock(proofs["xhat"], title=r"$\partial\ell/\partial\hat{x}_i = \gamma\,\partial\ell/\partial y_i$"),
        ProofBlock(proofs["var"], title=r"$\partial\ell/\partial\sigma_B^2$"),
        Prose("In $\\partial\\ell/\\partial\\mu_B$ the paper prints a second term, "
              "$\\frac{\\partial\\ell}{\\partial\\sigma_B^2} \\cdot \\frac{\\sum_i -2(x_i - \\mu_B)}{m}$. "
              "It vanishes, because the centred values of a batch sum to zero:"),
        ProofBlock(nz.mean_zero_proof(s)),
        ProofBlock(proofs["mu"], title=r"$\partial\ell/\partial\mu_B$, the second term vanishing as a step"),
        ProofBlock(proofs["x"], title=r"$\partial\ell/\partial x_i$"),
        ProofBlock(proofs["gamma"], title=r"$\partial\ell/\partial\gamma$"),
        ProofBlock(proofs["beta"], title=r"$\partial\ell/\partial\beta$"),
        Section("The compact form"),
        Prose("Inserting the adjoints into $\\partial\\ell/\\partial x_i$ and writing "
              "$x_j - \\mu_B = \\hat{x}_j \\sqrt{\\sigma_B^2 + \\epsilon}$ gives one expression in $g$ and "
              "$\\hat{x}$:"),
        Equation(r"\frac{\partial\ell}{\partial x_i} = \frac{\gamma}{m\sqrt{\sigma_B^2 + \epsilon}}"
                 r"\Bigl( m g_i - \sum_{j=1}^{m} g_j - \hat{x}_i \sum_{j=1}^{m} g_j \hat{x}_j \Bigr), "
                 r"\qquad g_i = \frac{\partial\ell}{\partial y_i}."),
        ProofBlock(nz.compact_proof(s, 0)),
        Section("General $m$"),
        Prose("For a symbolic batch size the sums stay sums. The chain below starts from "
              "$\\sum_j \\frac{\\partial\\ell}{\\partial\\hat{x}_j}\\frac{\\partial\\hat{x}_j}{\\partial x_i}$ "
              "with $\\partial\\ell/\\partial\\hat{x}_j = \\gamma g_j$ and ends at the compact form above. "
              "Moving factors into or out of a sum, splitting it, and collapsing a Kronecker delta are lemmas "
              "about finite sums, which the kernel does not prove for a symbolic $m$: those steps rest on them. "
              "Writing $\\hat{x}_i$ and $\\hat{x}_j$ for the normalized values and the final factoring, with "
              "the sums as atoms, are proved."),
        ProofBlock(nz.general_proof(G)),
        Prose("The starting sum uses $\\partial\\sigma_B^2/\\partial x_i = 2(x_i - \\mu_B)/m$, which itself "
              "rests on $\\sum_j (x_j - \\mu_B) = 0$. The paper's form of $\\partial\\ell/\\partial x_i$ "
              "reaches the collapsed sum of the chain above by that lemma, and the lemma follows from "
              "linearity once $\\mu_B$ is defined:"),
        ProofBlock(nz.general_paper_proof(G)),
        ProofBlock(nz.general_mean_zero_proof(G)),
        Prose(f"For explicit $m$ the starting sum is SymPy's derivative of $\\ell$ (proved for "
              f"$m = 1, \\dots, 4$ in the tests; here $m = {DOC_M}$, $i = 1$):"),
        ProofBlock(nz.general_start_instance(s, 0)),
        Prose("Each lemma the general chains rest on, stated for explicit sizes, is proved by the kernel. This "
              "is evidence that the lemmas hold, not a proof for every $m$, so the banner above counts the "
              "chains that cite them as resting on lemmas, not as proved."),
        _status_table(lemma_rows, LEMMA_SIZES),
        Section(f"Explicit $m$ up to {EXACT_SIZES[-1]}"),
        Prose("Symbolic proofs grow quickly with $m$ (SymPy expands polynomials in $m$ variables). For larger "
              "batches the same identities are verified exactly instead: the compact form, the paper's "
              "equations run in order, $\\partial\\ell/\\partial\\gamma$ and $\\partial\\ell/\\partial\\beta$ "
              "at a rational point, compared as rationals with the exact gradient. This is evidence for each "
              "$m$, not a proof; a script in the repository's benchmarks folder times it beside "
              "SymPy's simplify."),
        _exact_table("batchnorm"),
        *_edge_cases(),
        Section("Generated numpy code"),
        Prose("The compact form, printed by SymPy's NumPy printer with the two sums named, gives the backward "
              "of a batch of shape $(m, d)$; the tests check that it equals the symbolic result."),
        Listing(nz.numpy_backward_source(), caption="The backward function, generated from the compact form."),
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
                 "- \\hat{x}_i \\sum_j g_j \\hat{x}_j)$, proved for $m = 3$. For every $m$ the same form "
                 "follows from a chain that rests on lemmas about finite sums, which the kernel checks for "
                 "$m = 1, \\dots, 4$ only."),
        blocks=tuple(blocks),
    )


#: The shape (examples, features) of the numerical check of LayerNorm and RMSNorm.
NORM_NUMERIC_SHAPE = (8, 16)


def _norm_forward_np(kind: str, x: Any, gamma: Any, beta: Any, eps: float = EPS) -> Any:
    """LayerNorm or RMSNorm over the last axis; works for complex arrays (no abs, no conj)."""
    centred = x - x.mean(-1, keepdims=True) if kind == "layernorm" else x
    y = gamma * centred / np.sqrt((centred ** 2).mean(-1, keepdims=True) + eps)
    return y + beta if kind == "layernorm" else y


def norm_numeric_check(kind: str, seed: int = 0) -> dict[str, float]:
    r"""The proved forms of LayerNorm/RMSNorm against the complex step on the forward pass alone.

    :math:`\partial\ell/\partial x` is the compact form (one expression per feature, lambdified);
    :math:`\partial\ell/\partial\gamma_j`, :math:`\partial\ell/\partial\beta_j` are the closed forms their
    chains end at, per example, summed over the examples. Returns ``name -> relative error``.
    """
    rows, d = NORM_NUMERIC_SHAPE
    rng = np.random.default_rng(seed)
    x, g = rng.standard_normal((rows, d)), rng.standard_normal((rows, d))
    gamma, beta = 1.0 + 0.5 * rng.standard_normal(d), rng.standard_normal(d)
    if kind == "rmsnorm":
        beta = np.zeros(d)
    s = nz.setup(kind, d)
    centred = x - x.mean(-1, keepdims=True) if kind == "layernorm" else x
    var = (centred ** 2).mean(-1)
    xhat = centred / np.sqrt(var[:, None] + EPS)
    dx_fn = sp.lambdify((s.g, s.gamma, s.xhat, s.var, s.eps), [nz.compact_form(s, i) for i in range(d)], "numpy")
    got = {"x": np.array([dx_fn(g[r], gamma, xhat[r], var[r], EPS) for r in range(rows)], dtype=float)}
    for name, params in (("gamma", s.gamma), ("beta", s.beta)):
        if params:
            closed = [nz.parameter_proof(s, p).steps[-1].expr for p in params]
            fn = sp.lambdify((s.g, s.xhat), closed, "numpy")
            got[name] = np.sum([fn(g[r], xhat[r]) for r in range(rows)], axis=0)

    def loss(xv: Any, gv: Any, bv: Any) -> Any:
        return np.sum(g * _norm_forward_np(kind, xv, gv, bv))

    by_step = {"x": np.empty_like(x)}
    for index in np.ndindex(*x.shape):
        e = _unit(x.shape, index)
        by_step["x"][index] = complex_step_along(lambda h: loss(x + h * e, gamma, beta), 1e-30)
    by_step["gamma"] = np.array([complex_step_along(lambda h: loss(x, gamma + h * _unit((d,), (j,)), beta), 1e-30)
                                 for j in range(d)])
    if "beta" in got:
        by_step["beta"] = np.array([complex_step_along(lambda h: loss(x, gamma, beta + h * _unit((d,), (j,))),
                                                       1e-30) for j in range(d)])
    return {name: relative_error(got[name], by_step[name]) for name in got}


def _norm_numbers(kind: str) -> list[Block]:
    errors = norm_numeric_check(kind)
    names = {"x": r"\partial\ell/\partial x", "gamma": r"\partial\ell/\partial\gamma",
             "beta": r"\partial\ell/\partial\beta"}
    rows = tuple((nz.Named(f"numbers_{name}", names[name]), "yes" if err < 1e-10 else "NO")
                 for name, err in errors.items())
    rows_, d = NORM_NUMERIC_SHAPE
    return [
        Section("Numbers"),
        Prose(f"The proved forms, evaluated in float64 on ${rows_}$ examples of ${d}$ features (fixed seed), "
              "against the gradients of $\\ell = \\sum g \\odot y$ computed by the complex step from the forward "
              "pass alone: the compact form for $\\partial\\ell/\\partial x$, and the closed forms of the scale"
              + (" and shift" if kind == "layernorm" else "") + " summed over the examples. The tests also "
              "compare them with PyTorch autograd when it is installed."),
        Table(columns=("gradient", "within the bound"), rows=rows,
              caption=("Whether the largest absolute difference, relative to the largest gradient entry, is "
                       "below $10^{-10}$.")),
    ]


def _norm_document(kind: str, name: str, title: str, summary: str, forward: str, compact: str,
                   params: str) -> Document:
    """LayerNorm or RMSNorm: the inner adjoints, the compact form, the parameters' gradients, exact checks."""
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
        Section("The scale and the shift"),
        Prose(params),
        *(ProofBlock(nz.parameter_proof(s, p)) for p in (s.gamma[0], *s.beta[:1])),
        Section(f"Explicit $m$ up to {EXACT_SIZES[-1]}"),
        _exact_table(kind),
        *_norm_numbers(kind),
    ]
    return Document(name=name, title=title, summary=summary, blocks=tuple(blocks))


def build_layernorm() -> Document:
    return _norm_document(
        "layernorm", "layernorm-backward", "Layer normalization: the backward pass",
        ("Layer normalization normalizes the features of one example, with a per-feature scale and shift. "
         "Its backward is batch normalization's with $h_i = \\gamma_i g_i$ in place of $\\gamma g_i$; the scale "
         "and shift get $\\partial\\ell/\\partial\\gamma_i = g_i \\hat{x}_i$ and "
         "$\\partial\\ell/\\partial\\beta_i = g_i$."),
        r"\mu = \frac1m \sum_{i=1}^{m} x_i, \quad \sigma^2 = \frac1m \sum_{i=1}^{m} (x_i - \mu)^2, \quad "
        r"\hat{x}_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y_i = \gamma_i \hat{x}_i + \beta_i",
        r"\frac{\partial\ell}{\partial x_i} = \frac{1}{m\sqrt{\sigma^2 + \epsilon}}"
        r"\Bigl( m h_i - \sum_{j=1}^{m} h_j - \hat{x}_i \sum_{j=1}^{m} h_j \hat{x}_j \Bigr)",
        ("Each $\\gamma_i$ and $\\beta_i$ is read by $y_i$ alone, so their gradients have one term each: "
         "$\\partial\\ell/\\partial\\gamma_i = g_i \\hat{x}_i$ and $\\partial\\ell/\\partial\\beta_i = g_i$ "
         "for one example; over a batch of examples they add up, as $\\gamma$ and $\\beta$ do in batch "
         "normalization."))


def build_rmsnorm() -> Document:
    return _norm_document(
        "rmsnorm", "rmsnorm-backward", "RMS normalization: the backward pass",
        ("RMS normalization divides the features by their root mean square, without centring and without a "
         "shift. Its backward lacks the $\\sum_j h_j$ term of layer normalization; the scale gets "
         "$\\partial\\ell/\\partial\\gamma_i = g_i \\hat{x}_i$."),
        r"\nu^2 = \frac1m \sum_{i=1}^{m} x_i^2, \quad \hat{x}_i = \frac{x_i}{\sqrt{\nu^2 + \epsilon}}, \quad "
        r"y_i = \gamma_i \hat{x}_i",
        r"\frac{\partial\ell}{\partial x_i} = \frac{1}{m\sqrt{\nu^2 + \epsilon}}"
        r"\Bigl( m h_i - \hat{x}_i \sum_{j=1}^{m} h_j \hat{x}_j \Bigr)",
        ("Each $\\gamma_i$ is read by $y_i$ alone, so $\\partial\\ell/\\partial\\gamma_i = g_i \\hat{x}_i$ for "
         "one example (over a batch of examples the terms add up). RMS normalization has no shift $\\beta$, so "
         "there is no $\\partial\\ell/\\partial\\beta$."))


__all__ = ["build_batchnorm", "build_layernorm", "build_rmsnorm", "complex_step_gradient",
           "central_difference_gradient", "numeric_inputs", "relative_error"]
