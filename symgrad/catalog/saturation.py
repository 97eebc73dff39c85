r"""Catalog entry ``batchnorm-saturation``: why normalizing the inputs of a sigmoid keeps its gradient alive.

Inputs ``N(-6, 1)`` sit in the sigmoid's flat tail (95% in ``[-8, -4]``), where ``E[sigma'(x)]`` is
tiny; after batch normalization, ``N(0, 1)``, they sit in the steep middle. Both expectations are
computed with mpmath at a stated precision (the saturated one also bounded exactly by
``E[e^x] = e^{-11/2}``), and the learnable ``gamma, beta`` are shown to represent the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy as sp

from ..core.functions import sigmoid
from ..proofs.documents import Document, Equation, ProofBlock, Prose, Section, Table
from ..proofs.proof import Proof, calc
from .support.normalization.layers import Named

NAME = "batchnorm-saturation"

x = sp.Symbol("x", real=True)
#: Means of the unit-variance inputs before and after batch normalization.
BEFORE, AFTER = -6, 0
#: Working precision (decimal digits) of the quadratures, and the precision of the cross-check.
DIGITS, CHECK_DIGITS = 30, 60
#: Digits printed in the document (the two precisions must agree to more than this).
SHOWN = 10


def _n(value: int) -> str:
    """An integer with a typographic minus sign."""
    return f"−{-value}" if value < 0 else str(value)


def _phi(u: sp.Expr) -> sp.Expr:
    """The standard normal density."""
    return sp.exp(-u ** 2 / 2) / sp.sqrt(2 * sp.pi)


# -- proofs ----------------------------------------------------------------------------


def mass_proof(mean: int) -> Proof:
    """``P(|X - mean| <= 2) = erf(sqrt 2) > 0.95`` for ``X ~ N(mean, 1)``."""
    return (calc(sp.Integral(_phi(x - mean), (x, mean - 2, mean + 2)),
                 title=f"For $N({mean}, 1)$, the interval $[{mean - 2}, {mean + 2}]$ holds more than 95% of the mass")
            .eq(sp.erf(sp.sqrt(2)), by="the normal integral over two standard deviations either side of the mean")
            .gt(sp.Rational(95, 100), by="$\\operatorname{erf}(\\sqrt 2) \\approx 0.9545$"))


def slope_bound_proof() -> Proof:
    """``sigma'(x) = e^x / (1 + e^x)^2 <= e^x``: far left, the slope is at most the exponential."""
    s = sigmoid(x)
    return (calc(sp.Derivative(s, x), title="The sigmoid's slope is below the exponential: $\\sigma'(x) \\le e^x$")
            .eq(s * (1 - s), rule="sigmoid-derivative", by="$\\sigma' = \\sigma(1 - \\sigma)$")
            .eq(sp.exp(x) / (1 + sp.exp(x)) ** 2, by="multiply numerator and denominator by $e^{2x}$")
            .le(sp.exp(x), by="the denominator $(1 + e^x)^2$ is at least $1$"))


def saturated_bound_proof() -> Proof:
    """``E[e^X] = e^{-11/2}`` for ``X ~ N(-6, 1)``: an exact upper bound for ``E[sigma'(X)]``."""
    return (calc(sp.Integral(sp.exp(x) * _phi(x - BEFORE), (x, -sp.oo, sp.oo)),
                 title="For $X \\sim N(-6, 1)$: $\\mathbb{E}[e^X] = e^{-11/2} \\approx 0.0041$, an upper bound for $\\mathbb{E}[\\sigma'(X)]$")
            .eq(sp.exp(sp.Rational(2 * BEFORE + 1, 2)), by="complete the square in the exponent"))


def middle_bound_proof() -> Proof:
    """``sigma'(x) <= 1/4`` everywhere (the base of the comparison after normalization)."""
    s = sigmoid(x)
    return (calc(sp.Derivative(s, x), title="Everywhere $\\sigma'(x) \\le 1/4$")
            .eq(s * (1 - s), rule="sigmoid-derivative", by="$\\sigma' = \\sigma(1 - \\sigma)$")
            .eq(sp.Rational(1, 4) - (s - sp.S.Half) ** 2, rule="complete-the-square", by="complete the square in $\\sigma$")
            .le(sp.Rational(1, 4), rule="square-nonnegative", by="a square is non-negative"))


def identity_proof() -> Proof:
    """``gamma = sqrt(sigma_B^2 + eps)``, ``beta = mu_B`` undo the normalization: ``y = x``."""
    mu_b = sp.Symbol("mu_B", real=True)
    var_b = Named("sigma_B2", r"\sigma_{B}^{2}", nonnegative=True)
    eps = sp.Symbol("epsilon", positive=True)
    gamma, beta = sp.symbols("gamma beta", real=True)
    xhat = sp.Symbol(r"\hat{x}", real=True)
    return (calc(gamma * xhat + beta, where={xhat: (x - mu_b) / sp.sqrt(var_b + eps),
                                             gamma: sp.sqrt(var_b + eps), beta: mu_b},
                 title="Batch normalization can represent the identity: $\\gamma = \\sqrt{\\sigma_B^2 + \\epsilon}$ and $\\beta = \\mu_B$ give $y = x$")
            .eq(sp.Add(sp.Mul(sp.sqrt(var_b + eps), x - mu_b, sp.Pow(sp.sqrt(var_b + eps), -1, evaluate=False),
                           evaluate=False), mu_b, evaluate=False),
                by="substitute the normalized value and the chosen $\\gamma$, $\\beta$")
            .eq(x, by="the square roots cancel ($\\epsilon > 0$), then the means cancel"))


def shift_back_proof() -> Proof:
    """With batch statistics ``mu_B = -6``, ``sigma_B^2 = 1``: ``gamma = sqrt(1 + eps)``, ``beta = -6`` restore the input."""
    eps = sp.Symbol("epsilon", positive=True)
    root = sp.sqrt(1 + eps)
    start = sp.Add(sp.Mul(root, x - BEFORE, sp.Pow(root, -1, evaluate=False), evaluate=False), BEFORE, evaluate=False)
    return (calc(start,
                 title="In the example: $\\gamma = \\sqrt{1 + \\epsilon}$, $\\beta = -6$ give back the saturated input $x$")
            .eq(x, by="the square roots cancel, then $-6 + 6 = 0$"))


# -- numbers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """``E[sigma'(X)]`` for ``X ~ N(mean, 1)`` by mpmath quadrature, with its cross-check."""

    mean: int
    value: mpmath.mpf
    agreeing_digits: int

    def shown(self) -> str:
        return mpmath.nstr(self.value, SHOWN)


def _slope(t: mpmath.mpf) -> mpmath.mpf:
    e = mpmath.exp(-abs(t))  # sigma'(t) = e^{-|t|} / (1 + e^{-|t|})^2, stable on both sides
    return e / (1 + e) ** 2


def _quad(mean: int, digits: int) -> mpmath.mpf:
    with mpmath.workdps(digits):
        density = lambda t: mpmath.npdf(t, mean, 1)  # noqa: E731
        pieces = [-mpmath.inf, mean - 8, mean - 2, mean, 0, mean + 2, mean + 8, mpmath.inf]
        return +mpmath.quad(lambda t: _slope(t) * density(t), sorted(set(pieces)))


def expected_slope(mean: int) -> Expectation:
    """``E[sigma'(X)]``, ``X ~ N(mean, 1)``, at :data:`DIGITS` digits, compared with :data:`CHECK_DIGITS`."""
    value, check = _quad(mean, DIGITS), _quad(mean, CHECK_DIGITS)
    with mpmath.workdps(CHECK_DIGITS):
        diff = abs(value - check) / abs(check)
        agreeing = int(-mpmath.log10(diff)) if diff > 0 else DIGITS
    return Expectation(mean, value, min(agreeing, DIGITS))


def slope_at(t: int) -> str:
    """``sigma'(t)`` to four significant digits."""
    return mpmath.nstr(_slope(mpmath.mpf(t)), 4)


def linear_deviation(limit: int = 2) -> float:
    """Largest ``|sigma(t) - (1/2 + t/4)|`` on ``[-limit, limit]`` (attained at the ends)."""
    return float(abs(1 / (1 + mpmath.exp(-limit)) - (mpmath.mpf(1) / 2 + mpmath.mpf(limit) / 4)))


def build() -> Document:
    before, after = expected_slope(BEFORE), expected_slope(AFTER)
    ratio = after.value / before.value
    bound = sp.exp(sp.Rational(2 * BEFORE + 1, 2))
    digits_ok = min(before.agreeing_digits, after.agreeing_digits)
    return Document(
        name=NAME,
        title="Batch normalization and the saturated sigmoid",
        summary=("A sigmoid unit whose inputs are mostly around $-6$ barely passes any gradient back: its slope "
                 "there is about $0.004$ on average. Normalizing the inputs to mean $0$ and variance $1$ moves "
                 "them to the steep middle of the sigmoid, where the average slope is about $0.21$, some fifty "
                 "times larger. Below: the two averages (one bounded exactly, both computed to stated "
                 "precision), and why the learnable scale and shift of batch normalization do not take away "
                 "what the non-linearity can express."),
        blocks=(
            Section("The setting"),
            Prose("Take one sigmoid unit $\\sigma(x) = 1/(1 + e^{-x})$ whose input $x$ over a batch looks like a "
                  "sample from the normal distribution $N(-6, 1)$: mean $-6$, standard deviation $1$. In "
                  "backpropagation the gradient reaching $x$ is the gradient at the output multiplied by "
                  "$\\sigma'(x)$, so the average slope $\\mathbb{E}[\\sigma'(x)]$ measures how much gradient the "
                  "unit lets through. Batch normalization replaces $x$ by $\\hat x = (x - \\mu_B)/\\sqrt{\\sigma_B^2 "
                  "+ \\epsilon}$, which here has (approximately, for a large batch and small $\\epsilon$) the "
                  "distribution $N(0, 1)$."),
            Section("Where the inputs lie"),
            Prose("Two standard deviations either side of the mean hold a little more than 95% of a normal "
                  "distribution: before normalization $[-8, -4]$, after it $[-2, 2]$."),
            ProofBlock(mass_proof(BEFORE)),
            ProofBlock(mass_proof(AFTER)),
            Table(columns=("$x$", *(f"${v}$" for v in (-8, -6, -4, -2, 0, 2))),
                  rows=(("σ′(x)", slope_at(-8), slope_at(-6), slope_at(-4), slope_at(-2), slope_at(0),
                         slope_at(2)),),
                  caption="The sigmoid's slope at a few points (four significant digits)."),
            Prose("On $[-8, -4]$ the slope is below $0.018$; on $[-2, 2]$ it is above $0.10$."),
            Section("The average slope before normalization"),
            Prose("Far to the left the slope is at most the exponential, and the exponential has an exact normal "
                  "average. This gives a bound that is proved, not just computed:"),
            ProofBlock(slope_bound_proof()),
            ProofBlock(saturated_bound_proof()),
            Equation(r"\mathbb{E}_{x \sim N(-6, 1)}[\sigma'(x)] \le \mathbb{E}[e^{x}] = e^{-11/2} \approx "
                     + f"{float(bound):.4f}."),
            Section("The two averages, computed"),
            Prose("Neither average has a closed form (it is a logistic-normal integral), so both are computed by "
                  f"mpmath's adaptive quadrature at {DIGITS} significant digits, with the real line cut into "
                  "pieces at the mean, at $0$ and two and eight standard deviations out. The same computation "
                  f"at {CHECK_DIGITS} digits agrees with it to at least {digits_ok} digits; {SHOWN} are shown. "
                  "These are numerical results, not proofs."),
            Table(columns=("input distribution", "$\\mathrm{E}[\\sigma'(x)]$", "digits agreeing at 60 digits' precision"),
                  rows=((f"N({_n(BEFORE)}, 1), before", before.shown(), before.agreeing_digits),
                        (f"N({AFTER}, 1), after", after.shown(), after.agreeing_digits)),
                  caption="The average slope of the sigmoid before and after normalization."),
            Prose(f"The computed value before normalization, {before.shown()}, is below the proved bound "
                  f"$e^{{-11/2}} \\approx {float(bound):.4f}$, as it must be. The ratio is"),
            Equation(r"\frac{\mathbb{E}_{N(0,1)}[\sigma'(x)]}{\mathbb{E}_{N(-6,1)}[\sigma'(x)]} \approx "
                     + mpmath.nstr(ratio, 4) + "."),
            Prose("So each sigmoid unit in the saturated regime passes back roughly fifty times less gradient "
                  "than after normalization, and in a deep network these factors multiply from layer to layer. "
                  "The proved upper bound alone already guarantees a factor above "
                  f"{int(after.value / mpmath.mpf(float(bound)))}, given the computed second average."),
            Section("Why the learnable scale and shift"),
            Prose("Normalizing alone would force every unit into the interval where the sigmoid is close to its "
                  "tangent line $\\tfrac12 + x/4$: on $[-2, 2]$ the two differ by at most "
                  f"{linear_deviation():.3f}, against a range of the sigmoid there of "
                  f"{float(1 / (1 + mpmath.exp(-2)) - 1 / (1 + mpmath.exp(2))):.3f}. The layer would lose much "
                  "of what the non-linearity contributes. Batch normalization therefore outputs "
                  "$y = \\gamma \\hat x + \\beta$ with learned $\\gamma$ and $\\beta$. With "
                  "$\\gamma = \\sqrt{\\sigma_B^2 + \\epsilon}$ and $\\beta = \\mu_B$ it gives back exactly its "
                  "input, so the normalized network can represent everything the original one could:"),
            ProofBlock(identity_proof()),
            Prose("In the example, $\\gamma = \\sqrt{1 + \\epsilon}$ and $\\beta = -6$ would put the unit back "
                  "into saturation. Training chooses: the normalization sets a good starting point and makes the "
                  "scale of each layer's inputs a parameter of its own, rather than a side effect of every weight "
                  "below it."),
            ProofBlock(shift_back_proof()),
            Prose("For comparison, the slope is never above $\\tfrac14$, which the normalized unit nearly reaches "
                  "on average:"),
            ProofBlock(middle_bound_proof()),
        ),
    )


__all__ = ["build", "NAME", "BEFORE", "AFTER", "DIGITS", "expected_slope", "Expectation", "linear_deviation",
           "mass_proof", "identity_proof", "saturated_bound_proof"]
