r"""Catalog entry ``relu-family``: PReLU, RReLU, Maxout and ReLU's dead unit, beside the activation table.

ReLU: ``d/dx max(0, x) = 0`` on the whole negative side, so a unit whose pre-activation is negative on
every input gets zero gradient in its weight and bias and gradient descent never moves it (the dead unit).
PReLU ``max(0, x) + a min(0, x)``: derivative ``1`` or ``a`` in ``x`` (undefined at 0), ``min(0, x)`` in
``a`` (everywhere). RReLU: slope ``s ~ U(l, u)`` on the negative side, expected derivative ``(l + u)/2``.
Maxout ``max_j z_j``: the derivative selects the strict arg max; at a tie it is a kink, and the kernel
leaves it undefined rather than adopting SymPy's ``H(0) = 1/2``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy import UnevaluatedExpr as U

from ..proofs.documents import Document, Equation, ProofBlock, Prose, Section, Table
from ..proofs.proof import Proof, calc, check

NAME = "relu-family"

x = sp.Symbol("x", real=True)
a = sp.Symbol("a", real=True)
s = sp.Symbol("s", real=True)
w, b = sp.symbols("w b", real=True)
lo, up = sp.Symbol("l", real=True), sp.Symbol("u", real=True)
z1, z2, z3 = sp.symbols("z_1 z_2 z_3", real=True)
#: RReLU's default bounds in PyTorch (``lower=1/8``, ``upper=1/3``), the Monte Carlo sample size and seed.
RRELU_LOWER, RRELU_UPPER = sp.Rational(1, 8), sp.Rational(1, 3)
SAMPLES, SEED = 100_000, 0
#: The dead unit of the numeric example and its inputs (all pre-activations negative).
DEAD_W, DEAD_B = -1.0, -0.5
DEAD_INPUTS = (0.0, 0.5, 1.0, 2.0)


def prelu(value: sp.Expr, slope: sp.Expr) -> sp.Expr:
    """``max(0, x) + a min(0, x)``: ``x`` on the positive side, ``a x`` on the negative side."""
    return sp.Max(0, value) + slope * sp.Min(0, value)


# -- ReLU's dead unit ------------------------------------------------------------------------


def relu_negative_proof() -> Proof:
    """``d/dx max(0, x) = 0`` for every ``x < 0``."""
    return (calc(sp.Derivative(sp.Max(0, x), x), assume=[x < 0],
                 title="ReLU: on the whole negative side the derivative is $0$")
            .eq(0, by="$\\max(0, x) = 0$ for every $x < 0$"))


def dead_unit_proof(parameter: sp.Symbol) -> Proof:
    """A unit ``max(0, w x + b)`` with ``w x + b < 0``: zero derivative in ``w`` and in ``b``."""
    which = "weight" if parameter == w else "bias"
    return (calc(sp.Derivative(sp.Max(0, w * x + b), parameter), assume=[w * x + b < 0],
                 title=f"A ReLU unit with negative pre-activation: zero gradient in its {which}")
            .eq(0, by="the unit's output is $0$ for every nearby value of the parameter"))


def dead_batch_proof(size: int = 3) -> Proof:
    """Over a batch with every pre-activation negative, the gradient in ``w`` of ``sum_i c_i relu(w x_i + b)``
    is 0, whatever the upstream gradients ``c_i``."""
    xi = sp.symbols(f"x_1:{size + 1}", real=True)
    ci = sp.symbols(f"c_1:{size + 1}", real=True)
    loss = sp.Add(*(c * sp.Max(0, w * xv + b) for c, xv in zip(ci, xi)))
    return (calc(sp.Derivative(loss, w), assume=[w * xv + b < 0 for xv in xi],
                 title=f"A dead unit over a batch of ${size}$: the gradient in its weight is $0$, whatever flows back")
            .eq(0, by="each term has derivative $0$: every pre-activation is negative"))


# -- PReLU ---------------------------------------------------------------------------------------


def prelu_x_proof() -> Proof:
    """``d/dx (max(0, x) + a min(0, x)) = 1`` for ``x > 0`` and ``a`` for ``x < 0`` (undefined at 0)."""
    return (calc(sp.Derivative(prelu(x, a), x), title="PReLU: the derivative in the input is $1$ or the slope $a$")
            .eq(sp.Piecewise((1, x > 0), (a, x < 0)),
                by="differentiate each side; at $x = 0$ (a kink unless $a = 1$) no value is claimed"))


def prelu_slope_proof() -> Proof:
    """``d/da (max(0, x) + a min(0, x)) = min(0, x)``, at every ``x``."""
    return (calc(sp.Derivative(prelu(x, a), a), title="PReLU: the derivative in the learnable slope $a$ is $\\min(0, x)$")
            .eq(sp.Min(0, x), by="the output is linear in $a$; $\\min(0, x)$ is its coefficient"))


def prelu_bound_proof() -> Proof:
    """``|d/dx PReLU| <= max(1, |a|)`` wherever the derivative exists."""
    return (calc(sp.Abs(sp.Derivative(prelu(x, a), x)), title="PReLU: the slope is at most $\\max(1, |a|)$ in absolute value")
            .le(sp.Max(1, sp.Abs(a)), by="the derivative is $1$ or $a$"))


# -- RReLU ---------------------------------------------------------------------------------------


def rrelu_derivative_proof() -> Proof:
    """With the slope ``s`` drawn for this pass, ``d/dx (max(0, x) + s min(0, x)) = s`` for ``x < 0``."""
    return (calc(sp.Derivative(prelu(x, s), x), assume=[x < 0],
                 title="RReLU in training, negative side: the derivative is the drawn slope $s$")
            .eq(s, by="on $x < 0$ the unit is $s x$"))


def rrelu_expectation_proof() -> Proof:
    """``E[s] = (l + u)/2`` for ``s ~ U(l, u)``: the expected derivative on the negative side."""
    return (calc(sp.Integral(s / (up - lo), (s, lo, up)), assume=[lo < up],
                 title="RReLU: the expected derivative on the negative side is $(l + u)/2$")
            .eq(U(lo + up) / 2, by="the mean of the uniform density $1/(u - l)$ on $[l, u]$"))


def rrelu_test_time_proof() -> Proof:
    """``E_s[max(0, x) + s min(0, x)] = max(0, x) + (l + u)/2 min(0, x)``: the fixed test-time slope."""
    return (calc(sp.Integral(prelu(x, s) / (up - lo), (s, lo, up)), assume=[lo < up],
                 title="RReLU: averaged over the slope, the unit is the leaky ReLU with slope $(l + u)/2$ used at test time")
            .eq(prelu(x, U(lo + up) / 2), by="the unit is linear in $s$"))


def rrelu_monte_carlo(samples: int = SAMPLES, seed: int = SEED) -> tuple[float, float, float]:
    """Slopes ``s ~ U(l, u)`` (numpy, ``seed``) and central differences of ``s x`` at ``x = -1``:
    the mean of the differenced derivatives, its standard error, and the mean of the slopes."""
    rng = np.random.default_rng(seed)
    slopes = rng.uniform(float(RRELU_LOWER), float(RRELU_UPPER), samples)
    h, at = 1e-6, -1.0

    def unit(v: float) -> np.ndarray:
        return np.maximum(0.0, v) + slopes * np.minimum(0.0, v)

    differenced = (unit(at + h) - unit(at - h)) / (2 * h)
    return float(differenced.mean()), float(differenced.std(ddof=1) / np.sqrt(samples)), float(slopes.mean())


# -- Maxout ----------------------------------------------------------------------------------------


def maxout_argmax_proof() -> Proof:
    """``d/dz_1 max(z_1, z_2, z_3)`` is 1 where ``z_1`` is the strict maximum, 0 where it is not a maximum."""
    return (calc(sp.Derivative(sp.Max(z1, z2, z3), z1),
                 title="Maxout over three pieces: the derivative selects the arg max")
            .eq(sp.Piecewise((1, sp.And(z1 > z2, z1 > z3)), (0, sp.Or(z1 < z2, z1 < z3))),
                by="near a point with a strict maximum the unit equals that piece; ties are kinks, where no value is claimed"))


def maxout_weight_proof(selected: bool) -> Proof:
    """A Maxout unit ``max(w_1 x + b_1, w_2 x + b_2)``: ``d/dw_1`` is ``x`` if piece 1 is the strict arg max, else 0."""
    w1, w2, b1, b2 = sp.symbols("w_1 w_2 b_1 b_2", real=True)
    z_1, z_2 = w1 * x + b1, w2 * x + b2
    if selected:
        return (calc(sp.Derivative(sp.Max(z_1, z_2), w1), assume=[z_1 > z_2],
                     title="Maxout: the selected piece's weight receives the input")
                .eq(x, by="piece 1 is the strict maximum, so the unit is $w_1 x + b_1$ nearby"))
    return (calc(sp.Derivative(sp.Max(z_1, z_2), w1), assume=[z_1 < z_2],
                 title="Maxout: a piece that is not selected receives no gradient")
            .eq(0, by="piece 2 is the strict maximum, so the unit does not depend on $w_1$ nearby"))


def kink_claims() -> tuple[tuple[str, sp.Basic, sp.Expr], ...]:
    """Claims about the derivative exactly at a kink (and one away from it), for the kernel's verdicts."""
    at_tie = sp.Subs(sp.Derivative(sp.Max(z1, z2), z1), (z1, z2), (0, 0))
    at_zero = sp.Subs(sp.Derivative(sp.Max(0, x), x), x, 0)
    off_tie = sp.Subs(sp.Derivative(sp.Max(z1, z2), z1), (z1, z2), (1, 0))
    return (("Maxout at a tie of two pieces (both 0): SymPy's convention, the step function's value 1/2 at 0", at_tie, sp.Rational(1, 2)),
            ("Maxout at the tie, the left piece's derivative", at_tie, sp.S.One),
            ("Maxout at the tie, the right piece's derivative", at_tie, sp.S.Zero),
            ("ReLU at 0, the value frameworks use", at_zero, sp.S.Zero),
            ("Maxout away from the tie (pieces 1 and 0): the larger piece's slope", off_tie, sp.S.One))


def kink_rows() -> tuple[tuple[object, ...], ...]:
    """The kernel's verdict and its note on each claim of :func:`kink_claims`."""
    rows = []
    for label, lhs, rhs in kink_claims():
        verdict = check(calc(lhs).eq(rhs)).steps[0]
        evidence = verdict.note or verdict.method
        rows.append((label, sp.Eq(lhs, rhs, evaluate=False), verdict.status.value, evidence))
    return tuple(rows)


def tie_differences(h: float = 1e-6) -> tuple[float, float, float]:
    """Forward, backward and central differences of ``max(z_1, 0)`` in ``z_1`` at the tie ``z_1 = 0``."""
    f = lambda v: max(v, 0.0)  # noqa: E731
    return (f(h) - f(0.0)) / h, (f(0.0) - f(-h)) / h, (f(h) - f(-h)) / (2 * h)


def dead_unit_gradients() -> tuple[tuple[object, ...], ...]:
    """Central differences of ``sum_i relu(w x_i + b)`` in ``w`` and ``b`` for the dead unit and a live one."""
    inputs = np.array(DEAD_INPUTS)
    h = 1e-6

    def loss(weight: float, bias: float) -> float:
        return float(np.maximum(0.0, weight * inputs + bias).sum())

    rows = []
    for label, weight, bias in (("dead", DEAD_W, DEAD_B), ("live", -DEAD_W, -DEAD_B)):
        dw = (loss(weight + h, bias) - loss(weight - h, bias)) / (2 * h)
        db = (loss(weight, bias + h) - loss(weight, bias - h)) / (2 * h)
        pre = weight * inputs + bias
        rows.append((label, f"{weight:g}", f"{bias:g}", f"{pre.min():g} to {pre.max():g}", f"{dw:.6f}", f"{db:.6f}"))
    return tuple(rows)


def build() -> Document:
    mean_d, se, mean_s = rrelu_monte_carlo()
    expected = (RRELU_LOWER + RRELU_UPPER) / 2
    forward, backward, central = tie_differences()
    return Document(
        name=NAME,
        title="The ReLU family: PReLU, RReLU, Maxout and the dead unit",
        summary=("ReLU passes no gradient on its whole negative side, so a unit whose pre-activation is "
                 "negative on every input gets a zero gradient in its weight and bias (proved below), so gradient "
                 "steps leave it where it is and it never changes again: the dead unit. Its relatives "
                 "keep a slope there: PReLU learns it (derivatives in the input and in the slope), RReLU draws "
                 "it at random (expected derivative $(l + u)/2$), and Maxout takes the largest of several "
                 "linear pieces (the derivative selects the arg max; at a tie it is a kink, which the kernel "
                 "leaves undefined). The table of bounds for ReLU, leaky ReLU and the smooth activations is "
                 "the entry activation-derivative-bounds."),
        blocks=(
            Section("ReLU and the dead unit"),
            Prose("$\\mathrm{ReLU}(x) = \\max(0, x)$ has derivative $1$ for $x > 0$ and $0$ for $x < 0$; at "
                  "$x = 0$ it has none (the one-sided slopes differ). The entry activation-derivative-bounds "
                  "lists $\\sup |f'| = 1$ for ReLU and leaky ReLU beside the smooth activations; here is the "
                  "other side of that coin: the derivative is exactly $0$ on the whole negative half-line."),
            ProofBlock(relu_negative_proof()),
            Prose("Take a unit $\\max(0, w x + b)$. Where its pre-activation $w x + b$ is negative, neither its "
                  "weight nor its bias receives any gradient:"),
            ProofBlock(dead_unit_proof(w)),
            ProofBlock(dead_unit_proof(b)),
            Prose("If this holds for every input of the training data (hypothesis: $w x_i + b < 0$ for all $i$, "
                  "strictly), the gradient of the loss in $w$ and $b$ is $0$ whatever the rest of the network "
                  "sends back, so a gradient step $w \\leftarrow w - \\eta \\cdot 0$ leaves the unit where it is "
                  "and the hypothesis still holds at the next step. The unit is dead: it outputs $0$ and never "
                  "learns again (it can only be revived by changes elsewhere that move its inputs, e.g. in "
                  "earlier layers). Shown for a batch of three with arbitrary upstream gradients $c_i$:"),
            ProofBlock(dead_batch_proof()),
            Table(columns=("unit", "$w$", "$b$", "pre-activations", "$\\partial L/\\partial w$ (differences)", "$\\partial L/\\partial b$ (differences)"),
                  rows=dead_unit_gradients(),
                  caption=("The loss $\\sum_i \\max(0, w x_i + b)$ on the inputs "
                           + ", ".join(f"${v:g}$" for v in DEAD_INPUTS)
                           + ", differentiated by central differences (step $10^{-6}$): the dead unit's "
                             "gradient is exactly $0$.")),
            Section("PReLU: a learnable negative slope"),
            Prose("PReLU replaces the flat negative side by a line of slope $a$ learned with the other weights "
                  "(leaky ReLU is the same unit with $a$ fixed, e.g. $0.01$):"),
            Equation(r"\mathrm{PReLU}(x; a) = \max(0, x) + a \min(0, x)."),
            Prose("Its derivative in the input is $1$ or $a$: on the negative side the gradient is scaled by "
                  "$a$ instead of being cut to $0$, so no unit dies. At $x = 0$ the derivative does not exist "
                  "unless $a = 1$; the kernel proves the formula where both sides are defined, and the "
                  "right-hand side says nothing at $0$."),
            ProofBlock(prelu_x_proof()),
            Prose("Its derivative in the slope is $\\min(0, x)$, defined everywhere (the unit is linear in "
                  "$a$): only inputs on the negative side teach the slope. In a layer where one $a$ is shared, "
                  "$\\partial \\mathcal{L}/\\partial a$ is the sum of $\\bar y_i \\min(0, x_i)$ over the units "
                  "and the batch."),
            ProofBlock(prelu_slope_proof()),
            ProofBlock(prelu_bound_proof()),
            Section("RReLU: a random negative slope"),
            Prose(f"RReLU draws the negative slope $s$ in training, uniformly from $[l, u]$, afresh for every "
                  f"element and pass ($l = {sp.latex(RRELU_LOWER)}$ and $u = {sp.latex(RRELU_UPPER)}$ by "
                  "default in PyTorch), and uses the fixed slope $(l + u)/2$ at test time. For one draw the "
                  "backward pass is that of a leaky ReLU with slope $s$:"),
            ProofBlock(rrelu_derivative_proof()),
            Prose("Averaged over the draw, the derivative on the negative side is the mean of the uniform "
                  "distribution, and the unit itself averages to the leaky ReLU used at test time:"),
            ProofBlock(rrelu_expectation_proof()),
            ProofBlock(rrelu_test_time_proof()),
            Prose(f"A check by sampling: {SAMPLES} slopes drawn with numpy (seed {SEED}), and the derivative of "
                  "each drawn unit at $x = -1$ taken by central differences. This is statistical evidence, not "
                  "a proof."),
            Table(columns=("quantity", "value"),
                  rows=(("expected slope, exact", sp.nsimplify(expected)),
                        ("expected slope, decimal", f"{float(expected):.6f}"),
                        ("mean of the differenced derivatives", f"{mean_d:.6f}"),
                        ("its standard error", f"{se:.1e}"),
                        ("distance from the expected slope in standard errors", f"{abs(mean_d - float(expected)) / se:.2f}"),
                        ("mean of the drawn slopes", f"{mean_s:.6f}")),
                  caption="RReLU's expected derivative on the negative side, sampled."),
            Section("Maxout: the derivative selects the arg max"),
            Prose("A Maxout unit outputs the largest of $k$ linear pieces, $h = \\max_j z_j$ with "
                  "$z_j = w_j^\\top x + b_j$ (ReLU is Maxout with the pieces $x$ and $0$). Near a point where "
                  "one piece is strictly the largest, the unit equals that piece, so the gradient flows to "
                  "the arg max alone:"),
            ProofBlock(maxout_argmax_proof()),
            ProofBlock(maxout_weight_proof(True)),
            ProofBlock(maxout_weight_proof(False)),
            Section("Ties are kinks"),
            Prose("Where two pieces tie for the maximum the unit has a corner: the one-sided derivatives are "
                  f"the two pieces' slopes. For $\\max(z_1, 0)$ at $z_1 = 0$ the forward difference gives "
                  f"{forward:g}, the backward difference {backward:g}, and the central difference "
                  f"{central:g}, which is the slope of neither piece. SymPy differentiates $\\max$ with the "
                  "Heaviside step and its convention $H(0) = 1/2$; the kernel does not adopt it: a derivative "
                  "that SymPy evaluates with such a convention is left undefined at the kink, so no value "
                  "there is proved. The verdicts the kernel gives on claims about the value at a tie, computed "
                  "when this document was built:"),
            Table(columns=("claim about the derivative", "the claim", "kernel verdict", "kernel's note"),
                  rows=kink_rows(),
                  caption=("The claims at a kink are not proved: no point is found where the derivative is "
                           "defined. Away from the tie the same derivative is proved. Frameworks pick a "
                           "subgradient at a tie (one of the tied pieces); any choice is a convention.")),
        ),
    )


__all__ = ["build", "NAME", "prelu", "relu_negative_proof", "dead_unit_proof", "dead_batch_proof", "prelu_x_proof",
           "prelu_slope_proof", "prelu_bound_proof", "rrelu_derivative_proof", "rrelu_expectation_proof",
           "rrelu_test_time_proof", "rrelu_monte_carlo", "maxout_argmax_proof", "maxout_weight_proof",
           "kink_claims", "kink_rows", "tie_differences", "dead_unit_gradients", "RRELU_LOWER", "RRELU_UPPER"]
