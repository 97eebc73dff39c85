"""Catalog entry ``gradient-clipping``: clip-by-norm keeps direction and bounds the norm; clip-by-value does not."""

from __future__ import annotations

import math
from typing import Sequence

import sympy as sp

from ..proofs.proof import check
from ..proofs.documents import Document, Equation, Figure, Prose, ProofBlock, Section, Table
from ..proofs.proof import Proof, calc
from ..core.verdicts import Verdict
from ..rendering import plots

NAME = "gradient-clipping"
PLOT_NAME = f"{NAME}-directions.svg"

c = sp.Symbol("c", positive=True)
#: ‖g‖ and the factor λ = min(1, c/‖g‖) as inline math, for titles and justifications.
NG = r"\lVert g \rVert"
LAMBDA = rf"\lambda = \min(1, c/{NG})"
#: Case variables: ``c = ‖g‖(1 + s)`` with ``s >= 0`` is the case ``‖g‖ <= c``;
#: ``c = ‖g‖/(1 + u)`` with ``u > 0`` is the case ``‖g‖ > c`` (for ``g != 0``).
s = sp.Symbol("s", nonnegative=True)
u = sp.Symbol("u", positive=True)
G2 = sp.symbols("g1 g2", real=True)
G3 = sp.symbols("g1 g2 g3", real=True)
#: The vector of the clip-by-value counterexample and its threshold.
COUNTER_G, COUNTER_C = (3, 1), 1
#: Example gradients for the comparison table (threshold 1).
TABLE_VECTORS: tuple[tuple[int, int], ...] = ((3, 1), (1, 2), (-4, 3), (2, 2), (1, -5), (1, 0))


def norm(vector: Sequence[sp.Expr]) -> sp.Expr:
    """The Euclidean norm ``sqrt(sum g_i^2)``."""
    return sp.sqrt(sum(g**2 for g in vector))


def clip_factor(vector: Sequence[sp.Expr], threshold: sp.Expr = c) -> sp.Expr:
    """The scale of clip-by-norm, ``min(1, c/‖g‖)``."""
    return sp.Min(1, threshold / norm(vector))


def clip_by_norm(vector: Sequence[sp.Expr], threshold: sp.Expr = c) -> list[sp.Expr]:
    """Clip-by-norm: ``g ↦ g · min(1, c/‖g‖)`` (for ``g != 0``)."""
    factor = clip_factor(vector, threshold)
    return [g * factor for g in vector]


def clip_value(component: sp.Expr, threshold: sp.Expr = c) -> sp.Expr:
    """Clip-by-value of one component, ``max(-c, min(c, g_i))`` (kept unevaluated on numbers)."""
    return sp.Max(-threshold, sp.Min(threshold, component, evaluate=False), evaluate=False)


def _nonzero(vector: Sequence[sp.Expr]) -> sp.Basic:
    return sum(g**2 for g in vector) > 0


def _small_case(vector: Sequence[sp.Expr]) -> dict[sp.Basic, sp.Expr]:
    return {c: norm(vector) * (1 + s)}


def _large_case(vector: Sequence[sp.Expr]) -> dict[sp.Basic, sp.Expr]:
    return {c: norm(vector) / (1 + u)}


def norm_bound_proofs(vector: Sequence[sp.Expr]) -> tuple[Proof, Proof]:
    """``‖clip(g)‖ <= c`` in the case ``‖g‖ <= c`` and ``‖clip(g)‖ = c`` in the case ``‖g‖ > c``."""
    dim = len(vector)
    clipped = clip_by_norm(vector)
    start = norm(clipped)
    scaled = norm(vector) * clip_factor(vector)
    small = (calc(start, assume=[_nonzero(vector)], where=_small_case(vector),
                  title=f"{dim}-D, case ${NG} \\le c$: the norm is at most $c$")
             .eq(scaled, by=f"$\\lVert \\lambda g \\rVert = \\lambda {NG}$ for ${LAMBDA} \\ge 0$")
             .eq(norm(vector), by=f"$c/{NG} \\ge 1$, so $\\min(1, c/{NG}) = 1$")
             .le(c, by=f"the case ${NG} \\le c$"))
    large = (calc(start, assume=[_nonzero(vector)], where=_large_case(vector),
                  title=f"{dim}-D, case ${NG} > c$: the norm is exactly $c$")
             .eq(scaled, by=f"$\\lVert \\lambda g \\rVert = \\lambda {NG}$ for ${LAMBDA} \\ge 0$")
             .eq(c, by=f"$c/{NG} < 1$, so $\\min(1, c/{NG}) = c/{NG}$"))
    return small, large


def direction_proofs(vector: Sequence[sp.Expr]) -> tuple[Proof, Proof, Proof]:
    """``clip(g)`` is a positive multiple of ``g``: the factor is positive in both cases, and
    ``g · clip(g) = λ‖g‖² > 0`` (the chain reaches ``> 0``)."""
    dim = len(vector)
    factor = clip_factor(vector)
    small = (calc(factor, assume=[_nonzero(vector)], where=_small_case(vector),
                  title=f"{dim}-D: the factor ${LAMBDA}$ is positive (case ${NG} \\le c$)")
             .eq(1, by=f"$c/{NG} \\ge 1$").gt(0))
    large = (calc(factor, assume=[_nonzero(vector)], where=_large_case(vector),
                  title=f"{dim}-D: the factor ${LAMBDA}$ is positive (case ${NG} > c$)")
             .eq(c / norm(vector), by=f"$c/{NG} < 1$").gt(0, by=f"$c > 0$ and ${NG} > 0$"))
    clipped = clip_by_norm(vector)
    dot = sum(g * h for g, h in zip(vector, clipped))
    title = (f"{dim}-D: $g \\cdot \\operatorname{{clip}}(g) = \\lambda {NG}^2 > 0$: "
             "the clipped vector points the same way")
    inner = (calc(dot, assume=[_nonzero(vector)], title=title)
             .eq(factor * norm(vector) ** 2, by="factor out $\\lambda$")
             .gt(0, by=f"$\\lambda > 0$ and ${NG} > 0$"))
    return small, large, inner


def parallel_proof(vector: Sequence[sp.Expr]) -> Proof:
    """The cross product of ``g`` and ``clip(g)`` vanishes (the two are parallel)."""
    clipped = clip_by_norm(vector)
    if len(vector) == 2:
        return (calc(_cross2(vector, clipped), assume=[_nonzero(vector)],
                     title="2-D: $g$ and $\\operatorname{clip}(g)$ are parallel")
                .eq(0, by="$g_1 (\\lambda g_2) - g_2 (\\lambda g_1) = 0$"))
    g1, g2, g3 = vector
    h1, h2, h3 = clipped
    cross = sp.ImmutableMatrix([_cross2((g2, g3), (h2, h3)), _cross2((g3, g1), (h3, h1)), _cross2((g1, g2), (h1, h2))])
    return (calc(cross, assume=[_nonzero(vector)],
                 title="3-D: $g \\times \\operatorname{clip}(g) = 0$, so the two are parallel")
            .eq(sp.ImmutableMatrix([0, 0, 0]), by="$g \\times (\\lambda g) = \\lambda\\,(g \\times g) = 0$"))


def _cross2(a: Sequence[sp.Expr], b: Sequence[sp.Expr]) -> sp.Expr:
    """``a1 b2 - a2 b1``, kept unevaluated so that the document shows both terms."""
    return sp.Add(sp.Mul(a[0], b[1], evaluate=False), sp.Mul(-1, a[1], b[0], evaluate=False), evaluate=False)


def clip_by_value_claim() -> Proof:
    """The wrong claim that clip-by-value keeps the direction (2-D cross product zero)."""
    g1, g2 = G2
    return (calc(g1 * clip_value(g2) - g2 * clip_value(g1),
                 title="Wrong claim: clip-by-value keeps the direction")
            .eq(0, by=("claimed: $g_1 \\operatorname{clip}(g_2) - g_2 \\operatorname{clip}(g_1) = 0$ for every $g$ "
                "and $c > 0$")))


def clip_by_value_counterexample() -> Proof:
    """At ``g = (3, 1)``, ``c = 1``: clip-by-value gives (1, 1), and the cross product is 2, not 0."""
    (a, b), k = COUNTER_G, COUNTER_C
    cross = sp.Add(sp.Mul(a, clip_value(b, k), evaluate=False),
                   sp.Mul(-b, clip_value(a, k), evaluate=False), evaluate=False)
    return (calc(cross, title="$g = (3, 1)$, $c = 1$: clipping by value gives $(1, 1)$, not parallel to $g$")
            .eq(sp.Add(sp.Mul(3, 1, evaluate=False), sp.Mul(-1, 1, evaluate=False), evaluate=False),
                by="$\\operatorname{clip}(1) = 1$ and $\\operatorname{clip}(3) = 1$")
            .eq(2)
            .gt(0, by="a non-zero cross product: the vectors are not parallel"))


def _cosine(vector: Sequence[int], clipped: Sequence[sp.Expr]) -> sp.Expr:
    dot = sum(sp.Integer(g) * h for g, h in zip(vector, clipped))
    return sp.nsimplify(sp.radsimp(dot / (norm([sp.Integer(g) for g in vector]) * norm(clipped))))


def comparison_rows() -> tuple[tuple[object, ...], ...]:
    """For each example vector (threshold 1): both clipped vectors, their norms, the cosine to g."""
    rows = []
    for vector in TABLE_VECTORS:
        exact = [sp.Integer(g) for g in vector]
        by_norm = [sp.nsimplify(sp.radsimp(h)) for h in clip_by_norm(exact, sp.Integer(1))]
        by_value = [sp.Max(-1, sp.Min(1, g)) for g in exact]
        rows.append((sp.ImmutableMatrix([exact]), sp.ImmutableMatrix([by_norm]), sp.radsimp(norm(by_norm)),
                     _cosine(vector, by_norm), sp.ImmutableMatrix([by_value]), sp.radsimp(norm(by_value)),
                     _cosine(vector, by_value)))
    return tuple(rows)


def plot() -> plots.Plot:
    """The counterexample's vector g = (3, 1) and both clippings at c = 1: by norm onto the circle
    (blue, along g), by value into the box (red, (1, 1))."""
    (a, b), k = COUNTER_G, COUNTER_C
    length = math.hypot(a, b)
    by_norm = (a * k / length, b * k / length) if length > k else (float(a), float(b))
    by_value = (float(max(-k, min(k, a))), float(max(-k, min(k, b))))
    origin = (0.0, 0.0)
    axes = (plots.Curve(((-1.5, 0.0), (3.5, 0.0)), "grey", width=0.5),
            plots.Curve(((0.0, -1.5), (0.0, 1.6)), "grey", width=0.5))
    return plots.Plot(
        items=(*axes,
               plots.Circle(origin, k, "blue", "the ball $\\Vert v \\Vert \\leq c$", dashed=True),
               plots.Rect((-k, -k), (k, k), "red", "the box $|v_i| \\leq c$", dashed=True),
               plots.Arrow(origin, (float(a), float(b)), "black", f"$g = ({a}, {b})$"),
               plots.Arrow(origin, by_value, "red", f"clip by value: $({by_value[0]:g}, {by_value[1]:g})$"),
               plots.Arrow(origin, by_norm, "blue", f"clip by norm: $g/\\sqrt{{{a * a + b * b}}}$")),
        xlim=(-1.5, 3.5), ylim=(-1.5, 1.6), equal=True, width_cm=11.0,
        xticks=tuple((float(v), f"${v}$") for v in range(-1, 4)),
        yticks=tuple((float(v), f"${v}$") for v in range(-1, 2)),
        legend_at=(1.2, -0.15),
        description="Gradient (3, 1) clipped at c = 1 by norm and by value")


def refutation_verdict() -> Verdict:
    """The kernel's verdict on the wrong claim (expected: refuted, with a counterexample)."""
    return check(clip_by_value_claim()).steps[0]


def build() -> Document:
    two_small, two_large = norm_bound_proofs(G2)
    three_small, three_large = norm_bound_proofs(G3)
    factor_small, factor_large, inner = direction_proofs(G2)
    factor_small3, factor_large3, inner3 = direction_proofs(G3)
    refuted = refutation_verdict()
    counterexample = refuted.counterexample.describe() if refuted.counterexample else "none found"
    return Document(
        name=NAME,
        title="Gradient clipping: by norm and by value",
        summary=("Clipping by norm rescales the gradient, $g \\mapsto g \\cdot \\min(1, c/\\lVert g \\rVert)$: "
                 "the result points the same way as $g$ and has norm at most $c$. Clipping by value clamps each "
                 "component to $[-c, c]$: it also bounds the gradient, but it changes its direction. Below, "
                 "both facts are checked in two and three dimensions with symbolic components, and the "
                 "kernel refutes the claim that clipping by value keeps the direction."),
        blocks=(
            Section("Definitions"),
            Prose("For a gradient $g \\ne 0$ and a threshold $c > 0$:"),
            Equation(r"\operatorname{clip}_{\text{norm}}(g) = g \cdot \min\!\Bigl(1, \frac{c}{\lVert g \rVert}\Bigr),"
                     r"\qquad \operatorname{clip}_{\text{value}}(g)_i = \max\bigl(-c, \min(c, g_i)\bigr)."),
            Prose("(For $g = 0$ both give $0$.) Clipping by norm is what PyTorch's clip_grad_norm_ does, "
                  "with the norm of all parameters' gradients taken together; clipping by value is its "
                  "clip_grad_value_. Both guard against exploding gradients, e.g. in "
                  "recurrent networks."),
            Section("Clip-by-norm bounds the norm"),
            Prose("There are two cases. The kernel cannot use a side condition such as $\\lVert g \\rVert \\le c$ "
                  "to decide $\\min(1, c/\\lVert g \\rVert)$, so each case is written as a definition of $c$: "
                  "$c = \\lVert g \\rVert (1 + s)$ with $s \\ge 0$ is exactly the case $\\lVert g \\rVert \\le c$, "
                  "and $c = \\lVert g \\rVert / (1 + u)$ with $u > 0$ is exactly the case $\\lVert g \\rVert > c$ "
                  "(for $g \\ne 0$). In the first case the gradient is unchanged; in the second its norm "
                  "becomes exactly $c$. Together: $\\lVert \\operatorname{clip}_{\\text{norm}}(g) \\rVert = "
                  "\\min(\\lVert g \\rVert, c) \\le c$."),
            ProofBlock(two_small),
            ProofBlock(two_large),
            ProofBlock(three_small),
            ProofBlock(three_large),
            Section("Clip-by-norm keeps the direction"),
            Prose("The clipped vector is $\\lambda g$ with $\\lambda = \\min(1, c/\\lVert g \\rVert)$. The factor "
                  "is positive in both cases, so $\\lambda g$ points the same way as $g$ (not the opposite "
                  "way): its cross product with $g$ vanishes and its inner product with $g$ is "
                  "$\\lambda \\lVert g \\rVert^2 > 0$. An update along the clipped gradient is a step no longer "
                  "than $c$ times the learning rate, in the same descent direction."),
            ProofBlock(factor_small),
            ProofBlock(factor_large),
            ProofBlock(inner),
            ProofBlock(parallel_proof(G2)),
            ProofBlock(factor_small3),
            ProofBlock(factor_large3),
            ProofBlock(inner3),
            ProofBlock(parallel_proof(G3)),
            Section("Clip-by-value changes the direction"),
            Prose("Clamping the components one by one shrinks the large components and leaves the small ones, "
                  "so the direction moves towards the diagonal. Asked to check the claim that the 2-D cross "
                  "product of $g$ and $\\operatorname{clip}_{\\text{value}}(g)$ is always zero, the kernel "
                  "finds a counterexample; the table records its verdict. The expected verdict is a "
                  "refutation: the claim is false."),
            Table(columns=("claim", "kernel verdict (expected: refuted)", "counterexample found by the kernel"),
                  rows=((sp.Eq(clip_by_value_claim().start, 0), refuted.label, counterexample),),
                  caption="The kernel's verdict on the wrong claim, produced when this document was built."),
            Prose("A concrete instance, proved: for $g = (3, 1)$ and $c = 1$ clipping by value gives $(1, 1)$, "
                  "and the cross product $3 \\cdot 1 - 1 \\cdot 1 = 2$ is not zero."),
            ProofBlock(clip_by_value_counterexample()),
            Figure(sources={"markdown": f"![Clipping the gradient (3, 1) at c = 1 by norm and by value]({PLOT_NAME})",
                            "latex": plots.tikz(plot())},
                   caption=(f"The gradient $g = ({COUNTER_G[0]}, {COUNTER_G[1]})$ (black) clipped at "
                            f"$c = {COUNTER_C}$. By norm (blue) it is scaled onto the circle "
                            "$\\lVert v \\rVert = c$ and keeps its direction; by value (red) each component is "
                            "clamped into the box $|v_i| \\le c$, and the result $(1, 1)$ is not parallel to $g$."),
                   assets={PLOT_NAME: plots.svg(plot())}),
            Section("Side by side"),
            Prose("Both clippings with threshold $c = 1$. The cosine of the angle between the clipped vector "
                  "and $g$ is $1$ for clipping by norm; for clipping by value it is below $1$ whenever "
                  "clamping changes the ratio of the components. Clipping by value can also leave a norm above $c$, "
                  "as the table shows."),
            Table(columns=("$g$", "clip by norm", "its norm", "cosine of the angle to $g$", "clip by value",
                           "its norm", "cosine of the angle to $g$"),
                  rows=comparison_rows(),
                  caption="Exact values; threshold $c = 1$."),
            Prose("The cosine is $g \\cdot g' / (\\lVert g \\rVert\\, \\lVert g' \\rVert)$ for the "
                  "clipped vector $g'$."),
        ),
    )


__all__ = ["build", "clip_by_norm", "clip_factor", "clip_value", "norm", "norm_bound_proofs",
           "direction_proofs", "parallel_proof", "clip_by_value_claim", "clip_by_value_counterexample",
           "comparison_rows", "refutation_verdict"]
