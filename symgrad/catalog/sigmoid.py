"""Catalog entry ``sigmoid-derivative-bound``: sigma'(x) = sigma(1 - sigma) <= 1/4."""

from __future__ import annotations

import sympy as sp

import math

from ..core.functions import sigmoid
from ..proofs.documents import Document, Equation, Figure, Prose, ProofBlock, Section, Table
from ..proofs.proof import calc
from ..numerics.numeric import Method, compare_derivative
from ..rendering import plots

NAME = "sigmoid-derivative-bound"
PLOT_NAME = f"{NAME}-plot.svg"
SAMPLE_POINTS = (-8, -2, sp.Rational(-1, 2), 0, sp.Rational(3, 4), 1, 4)  # exact in binary
METHOD_TITLES: dict[Method, str] = {"richardson": "central difference + Richardson", "complex": "complex step",
                 "mpmath": "mpmath, 50 digits"}


def build() -> Document:
    x = sp.Symbol("x", real=True)
    s = sigmoid(x)
    d = sp.Derivative(s, x)
    e = sp.exp(-x)
    half, quarter = sp.S.Half, sp.Rational(1, 4)

    derivative = (
        calc(sp.Derivative(1 / (1 + e), x), title="Derivative from the definition")
        .eq(e / (1 + e) ** 2, by=r"chain rule: $\frac{d}{dx}(1 + e^{-x})^{-1} = -(1 + e^{-x})^{-2} \cdot (-e^{-x})$")
        .eq(sp.Mul(1 / (1 + e), e / (1 + e), evaluate=False), by="split the fraction")
        .eq(sp.Mul(1 / (1 + e), 1 - 1 / (1 + e), evaluate=False), by=r"$\frac{e^{-x}}{1 + e^{-x}} = 1 - \frac{1}{1 + e^{-x}}$")
        .eq(s * (1 - s), rule="sigmoid-definition")
    )
    bound = (
        calc(d, title="The bound by completing the square")
        .eq(s * (1 - s), rule="sigmoid-derivative")
        .eq(quarter - (s - half) ** 2, rule="complete-the-square")
        .le(quarter, rule="square-nonnegative")
    )
    at_zero = (calc(sp.Subs(d, x, 0), title="Equality at $x = 0$")
               .eq(sp.Subs(s * (1 - s), x, 0), rule="sigmoid-derivative")
               .eq(sp.Mul(half, sp.Add(1, -half, evaluate=False), evaluate=False), by=r"$\sigma(0) = 1/2$")
               .eq(quarter))
    right = (calc(d, assume=[x > 0], title="Strict for $x > 0$")
             .eq(s * (1 - s), rule="sigmoid-derivative")
             .lt(quarter, by=r"$\sigma(x) > 1/2$ for $x > 0$, so $(\sigma(x) - 1/2)^2 > 0$"))
    left = (calc(d, assume=[x < 0], title="Strict for $x < 0$")
            .eq(s * (1 - s), rule="sigmoid-derivative")
            .lt(quarter, by=r"$\sigma(x) < 1/2$ for $x < 0$, so $(\sigma(x) - 1/2)^2 > 0$"))
    tail_pos = (calc(sp.Limit(d, x, sp.oo), title=r"Vanishing as $x \to +\infty$")
                .eq(sp.Limit(e / (1 + e) ** 2, x, sp.oo), by=r"$\sigma'(x) = e^{-x}/(1 + e^{-x})^2$, from the first chain").eq(0))
    tail_neg = (calc(sp.Limit(d, x, -sp.oo), title=r"Vanishing as $x \to -\infty$")
                .eq(sp.Limit(sp.exp(x) / (1 + sp.exp(x)) ** 2, x, -sp.oo), by=r"multiply numerator and denominator by $e^{2x}$").eq(0))

    rows = []
    for point in SAMPLE_POINTS:
        found = {c.method: c for c in compare_derivative(s, x, [point], methods=tuple(METHOD_TITLES))}
        exact = next(iter(found.values())).exact
        rows.append((sp.sympify(point), _digits(exact, 15), *(_error(found[m].abs_error) for m in METHOD_TITLES)))

    return Document(
        name=NAME,
        title="The sigmoid's derivative is at most 1/4",
        summary=("The logistic function $\\sigma(x) = 1/(1 + e^{-x})$ has derivative "
                 "$\\sigma'(x) = \\sigma(x)\\,(1 - \\sigma(x))$, which is at most $1/4$, "
                 "attains $1/4$ only at $x = 0$ and tends to $0$ as $x \\to \\pm\\infty$. "
                 "So every sigmoid layer a gradient passes backwards through multiplies it by a factor "
                 "$\\sigma' \\le 1/4$ (besides the weights): the root of vanishing gradients in deep sigmoid networks."),
        blocks=(
            Section("Statement"),
            Equation(sp.Eq(s, 1 / (1 + e), evaluate=False)),
            Equation(r"\sigma'(x) = \sigma(x)\,\bigl(1 - \sigma(x)\bigr) \le \tfrac14"
                     r" \quad\text{for all real } x,\ \text{with equality only at } x = 0."),
            Prose("The sigmoid rises from $0$ to $1$ and is steepest at $x = 0$, where it crosses $1/2$; "
                  "its slope $\\sigma'(x)$ is a bump of height $1/4$ that flattens out in both tails. The picture "
                  "is drawn from floating-point values; the statements it shows are proved below."),
            Figure(sources={"markdown": f"![The sigmoid and its derivative]({PLOT_NAME})", "latex": plots.tikz(plot())},
                   caption=("$\\sigma$ (blue) and $\\sigma'$ (red) on $[-6, 6]$. The derivative never exceeds "
                            "the dashed line $1/4$ and touches it only at $x = 0$."),
                   assets={PLOT_NAME: plots.svg(plot())}),
            Section("The derivative"),
            Prose("Differentiate the definition with the chain rule and regroup the result "
                  "as a product of $\\sigma(x)$ and $1 - \\sigma(x)$."),
            ProofBlock(derivative),
            Section("The bound"),
            Prose("Write $s = \\sigma(x)$. The product $s(1 - s)$ is a downward parabola in $s$ "
                  "whose vertex is at $s = 1/2$; completing the square shows it is $1/4$ minus a square."),
            ProofBlock(bound),
            Section("When the bound is attained"),
            Prose("Since $\\sigma(0) = 1/2$ the square vanishes at $x = 0$. For $x \\ne 0$ the sigmoid "
                  "is strictly on one side of $1/2$ (it is increasing), so the square is positive and "
                  "the bound is strict."),
            ProofBlock(at_zero),
            ProofBlock(right),
            ProofBlock(left),
            Section("The tails"),
            Prose("Far from the origin the sigmoid saturates and its slope vanishes: "
                  "this saturation is one reason deep sigmoid networks are hard to train."),
            ProofBlock(tail_pos),
            ProofBlock(tail_neg),
            Section("Numerical check"),
            Prose("The exact value of $\\sigma'(x)$ at sample points, beside the absolute error of three "
                  "numerical differentiation methods applied to $\\sigma$ itself."),
            Table(columns=("$x$", "exact derivative", *(f"error: {t}" for t in METHOD_TITLES.values())),
                  rows=tuple(rows),
                  caption="Absolute errors against the exact derivative evaluated at 50 digits."),
        ),
    )


def _logistic(x: float) -> float:
    """sigma(x) in floats, stable for large |x| (for drawing only)."""
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def plot() -> plots.Plot:
    """sigma (blue) and sigma' (red) on [-6, 6], the bound 1/4 dashed, attained at 0."""
    ticks = tuple((float(v), f"${v}$") for v in range(-6, 7, 2))
    return plots.Plot(
        items=(
            plots.Curve(((-6.0, 0.25), (6.0, 0.25)), "grey", r"the bound $1/4$", dashed=True, width=1.0),
            plots.Curve(plots.series(_logistic, -6, 6, 121), "blue", r"$\sigma(x)$"),
            plots.Curve(plots.series(lambda x: _logistic(x) * (1 - _logistic(x)), -6, 6, 121), "red",
                        r"$\sigma'(x) = \sigma(x)(1 - \sigma(x))$"),
            plots.Dot((0.0, 0.5), "blue", r"$\sigma(0) = 1/2$", offset=(-6.0, 6.0)),
            plots.Dot((0.0, 0.25), "red", r"$\sigma'(0) = 1/4$", offset=(6.0, 6.0)),
        ),
        xlim=(-6.0, 6.0), ylim=(0.0, 1.0), xticks=ticks,
        yticks=((0.0, "$0$"), (0.25, "$1/4$"), (0.5, "$1/2$"), (0.75, "$3/4$"), (1.0, "$1$")),
        xlabel="$x$", width_cm=11.0, height_cm=6.0, legend_at=(-5.8, 0.97),
        description="The sigmoid and its derivative; the derivative peaks at 1/4 at x = 0")


def _digits(value: object, digits: int) -> str:
    return str(sp.N(value, digits))


def _error(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    if number == 0.0:
        return "0"
    return f"{number:.1e}"
