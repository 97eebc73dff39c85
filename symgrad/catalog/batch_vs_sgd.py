r"""Catalog entry ``full-batch-vs-sgd``: what a step costs, and the noise that lets SGD leave a saddle.

Cost: the full-batch gradient of ``(1/N) sum_i ell_i`` is the mean of ``N`` per-example gradients, a
minibatch gradient costs ``|B|``; one pass over the data buys one full-batch step or ``N/|B|`` SGD steps.

Saddle: ``f(x, y) = x^2 - y^2`` has a saddle at the origin. Gradient descent maps ``(x, y)`` to
``((1 - 2 eta) x, (1 + 2 eta) y)``; started on the stable manifold ``y = 0`` it stays there
(``y_k = 0``) and ``x_k = (1 - 2 eta)^k x_0 -> 0`` for ``0 < eta < 1``: it converges to the saddle. The
loss is the mean of per-example losses ``x^2 - y^2 + a_i x + b_i y`` with ``sum a_i = sum b_i = 0``;
SGD with one example per step adds ``-eta b_i`` to ``y``, leaves the manifold, and the unstable factor
``1 + 2 eta`` carries it away. The runs are exact rational arithmetic with numpy-seeded batch choices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..proofs.documents import Document, Figure, ProofBlock, Prose, Section, Table
from ..proofs.proof import Proof, calc
from ..rendering import plots

NAME = "full-batch-vs-sgd"
PLOT_NAME = f"{NAME}-plot.svg"

x, y = sp.symbols("x y", real=True)
eta = sp.Symbol("eta", positive=True)
k = sp.Symbol("k", integer=True, nonnegative=True)
x0 = sp.Symbol("x_0", real=True)
theta = sp.Symbol("theta", real=True)
#: The per-example shifts of the example data set (each sums to 0, so the mean loss is x^2 - y^2).
A = (sp.Rational(1, 5), sp.Rational(-1, 5), sp.Rational(1, 10), sp.Rational(-1, 10))
B = (sp.Rational(1, 10), sp.Rational(-1, 5), sp.Rational(1, 5), sp.Rational(-1, 10))
#: Step size, start, number of steps, the seed of the run shown, and the seeds of the escape count.
ETA = sp.Rational(1, 10)
START = (sp.Integer(1), sp.Integer(0))
STEPS = 40
SEED = 0
FIGURE_SEEDS = (0, 1, 2)
ESCAPE_RUNS = 1000
#: |y| at which a run counts as having left the saddle.
ESCAPED = 1
#: Data-set size and batch sizes of the cost table (ImageNet-1k has 1,281,167 training images).
COST_N = 1_281_167
COST_BATCHES = (1, 32, 256, 4096, COST_N)


def loss(xv: sp.Expr = x, yv: sp.Expr = y) -> sp.Expr:
    """``f(x, y) = x^2 - y^2``."""
    return xv ** 2 - yv ** 2


# -- cost per step -----------------------------------------------------------------------------


def average_gradient_proof(n: int = 3) -> Proof:
    """``d/dtheta (1/N) sum ell_i(theta) = (1/N) sum ell_i'(theta)``: N per-example gradients per step."""
    ells = [sp.Function(f"ell_{i}")(theta) for i in range(1, n + 1)]
    return (calc(sp.Derivative(sp.Mul(sp.Rational(1, n), sp.Add(*ells), evaluate=False), theta),
                 title=f"The full-batch gradient over $N = {n}$ examples needs all {n} per-example gradients")
            .eq(sp.Mul(sp.Rational(1, n), sp.Add(*(sp.Derivative(e, theta) for e in ells), evaluate=False),
                       evaluate=False), by="the derivative is linear"))


def cost_rows() -> tuple[tuple[object, ...], ...]:
    rows = []
    for size in COST_BATCHES:
        label = f"{size:,} (full batch)" if size == COST_N else f"{size:,}"
        rows.append((label, f"{size:,}", f"{COST_N / size:,.1f}" if COST_N % size else f"{COST_N // size:,}"))
    return tuple(rows)


# -- the saddle ----------------------------------------------------------------------------------


def gradient_proof(variable: sp.Symbol) -> Proof:
    """``df/dx = 2x``, ``df/dy = -2y``: the origin is a stationary point."""
    value = 2 * x if variable == x else -2 * y
    return (calc(sp.Derivative(loss(), variable), title=f"The gradient of the saddle, ${variable}$-component")
            .eq(value, by="power rule"))


def not_a_minimum_proof() -> Proof:
    """``f(0, t) = -t^2 < 0 = f(0, 0)`` for ``t != 0``: the origin is not a minimum."""
    t = sp.Symbol("t", real=True)
    return (calc(loss(sp.S.Zero, t), assume=[sp.Ne(t, 0)],
                 title="The origin is not a minimum: along the $y$-axis the loss falls below $f(0, 0) = 0$")
            .eq(-t ** 2, by="substitute $x = 0$, $y = t$")
            .lt(0, by="$t \\ne 0$"))


def gd_step_proof(variable: sp.Symbol) -> Proof:
    """One gradient step: ``x - eta 2x = (1 - 2 eta) x`` and ``y + eta 2y = (1 + 2 eta) y``."""
    factor = 1 - 2 * eta if variable == x else 1 + 2 * eta
    return (calc(variable - eta * sp.Derivative(loss(), variable),
                 title=f"One gradient-descent step multiplies ${variable}$ by a constant factor")
            .eq(factor * variable, by="the gradient above"))


def manifold_step_proof() -> Proof:
    """``y_k = 0`` gives ``y_{k+1} = (1 + 2 eta) y_k = 0``: the x-axis is invariant."""
    yk = sp.Symbol("y_k", real=True)
    return (calc((1 + 2 * eta) * yk, where={yk: sp.S.Zero},
                 title="Started on the stable manifold $y = 0$, a full-batch step stays on it (inductive step)")
            .eq(0, by="$y_k = 0$"))


def x_inductive_step() -> Proof:
    """``x_k = (1 - 2 eta)^k x_0`` gives ``x_{k+1} = (1 - 2 eta)^{k+1} x_0``."""
    xk = sp.Symbol("x_k", real=True)
    return (calc((1 - 2 * eta) * xk, where={xk: (1 - 2 * eta) ** k * x0},
                 title="The closed form of the $x$-coordinate passes from $k$ to $k + 1$ (inductive step)")
            .eq((1 - 2 * eta) ** (k + 1) * x0, by="induction hypothesis, then collect the powers"))


def closed_form_conclusion() -> Proof:
    """``x_k = (1 - 2 eta)^k x_0`` and ``y_k = 0`` for every ``k``: rests on the induction principle."""
    X, Y = sp.Function("x"), sp.Function("y")
    return (calc(sp.Matrix([X(k), Y(k)]),
                 title="Full-batch gradient descent started on the $x$-axis, for every $k$ (a lemma: it rests on induction)")
            .eq(sp.Matrix([(1 - 2 * eta) ** k * x0, 0]), rule="induction",
                by="base case $k = 0$ and the two inductive steps above"))


def contraction_proof() -> Proof:
    """``|1 - 2 eta| < 1`` for ``0 < eta < 1``: the x-coordinate shrinks geometrically."""
    return (calc(sp.Abs(1 - 2 * eta), assume=[eta < 1], title="For $0 < \\eta < 1$ the factor along $x$ is a contraction")
            .lt(1, by="$-1 < 1 - 2\\eta < 1$"))


def limit_proof() -> Proof:
    """With ``eta = 1/10``: ``lim (4/5)^k x_0 = 0``: full-batch descent converges to the saddle."""
    return (calc(sp.Limit((1 - 2 * ETA) ** k * x0, k, sp.oo),
                 title=f"With $\\eta = {ETA}$ the full-batch iterates converge to the saddle $(0, 0)$")
            .eq(0, by="a geometric sequence with ratio $4/5$"))


def expansion_proof() -> Proof:
    """``1 + 2 eta > 1``: off the manifold ``|y|`` grows by this factor every step."""
    return (calc(1 + 2 * eta, title="Along $y$ the factor exceeds $1$: any distance from the manifold grows")
            .gt(1, by="$\\eta > 0$"))


# -- the data set and SGD -------------------------------------------------------------------------


def per_example(i: int, xv: sp.Expr = x, yv: sp.Expr = y) -> sp.Expr:
    """``f_i(x, y) = x^2 - y^2 + a_i x + b_i y`` with the example data set's shifts."""
    return loss(xv, yv) + A[i] * xv + B[i] * yv


def mean_loss_proof() -> Proof:
    """``(1/N) sum_i f_i = x^2 - y^2`` for ``f_i = x^2 - y^2 + a_i x + b_i y`` whose shifts sum to 0 (N = 4):
    the per-example losses are named and defined with ``where=``, the last shifts fixed by the zero sums."""
    n = 4
    a = sp.symbols(f"a_1:{n + 1}", real=True)
    b = sp.symbols(f"b_1:{n + 1}", real=True)
    f = sp.symbols(f"f_1:{n + 1}", real=True)
    where: dict[sp.Symbol, sp.Expr] = {fi: loss() + ai * x + bi * y for fi, ai, bi in zip(f, a, b)}
    where.update({a[-1]: -sp.Add(*a[:-1]), b[-1]: -sp.Add(*b[:-1])})
    return (calc(sp.Mul(sp.Rational(1, n), sp.Add(*f), evaluate=False), where=where,
                 title="Per-example losses whose shifts sum to zero average to the saddle")
            .eq(loss(), by="the shifts cancel in the mean"))


def sgd_step_proof() -> Proof:
    """One SGD step on example ``i``, y-component: ``y - eta d f_i/dy = (1 + 2 eta) y - eta b_i``."""
    bi, ai = sp.symbols("b_i a_i", real=True)
    fi = loss() + ai * x + bi * y
    return (calc(y - eta * sp.Derivative(fi, y), title="One SGD step on example $i$, $y$-component")
            .eq((1 + 2 * eta) * y - eta * bi, by="differentiate $f_i$ in $y$"))


def sgd_leaves_proof() -> Proof:
    """From ``y = 0`` an SGD step on an example with ``b_i != 0`` lands at ``y = -eta b_i != 0``."""
    bi, yk = sp.Symbol("b_i", real=True), sp.Symbol("y_k", real=True)
    return (calc(sp.Abs((1 + 2 * eta) * yk - eta * bi), where={yk: sp.S.Zero}, assume=[sp.Ne(bi, 0)],
                 title="On the manifold, one SGD step on an example with a nonzero shift leaves it")
            .eq(eta * sp.Abs(bi), by="$y_k = 0$ and $\\eta > 0$")
            .gt(0, by="$b_i \\ne 0$"))


@dataclass(frozen=True)
class Run:
    """Iterates ``(x_k, y_k)``, ``k = 0..STEPS``, in exact rationals, and the example used at each step."""

    label: str
    points: tuple[tuple[sp.Rational, sp.Rational], ...]
    examples: tuple[int, ...]

    def escape_step(self) -> int | None:
        """The first ``k`` with ``|y_k| >= ESCAPED``, or None."""
        return next((i for i, (_, yv) in enumerate(self.points) if abs(yv) >= ESCAPED), None)


def full_batch_run(steps: int = STEPS) -> Run:
    """Gradient descent on the mean loss, exact: each step uses the mean of all per-example gradients."""
    xv, yv = START
    points = [(xv, yv)]
    n = len(A)
    for _ in range(steps):
        gx = sum((2 * xv + A[i] for i in range(n)), sp.S.Zero) / n
        gy = sum((-2 * yv + B[i] for i in range(n)), sp.S.Zero) / n
        xv, yv = xv - ETA * gx, yv - ETA * gy
        points.append((xv, yv))
    return Run("full batch", tuple(points), ())


def sgd_run(seed: int = SEED, steps: int = STEPS) -> Run:
    """SGD with one example per step, chosen uniformly by ``numpy.random.default_rng(seed)``; exact arithmetic."""
    rng = np.random.default_rng(seed)
    picks = tuple(int(i) for i in rng.integers(0, len(A), steps))
    xv, yv = START
    points = [(xv, yv)]
    for i in picks:
        xv, yv = xv - ETA * (2 * xv + A[i]), yv - ETA * (-2 * yv + B[i])
        points.append((xv, yv))
    return Run(f"SGD, seed {seed}", tuple(points), picks)


def full_batch_matches_closed_form(run: Run) -> bool:
    """``x_k = (1 - 2 eta)^k x_0`` and ``y_k = 0`` exactly at every step of ``run``."""
    factor = 1 - 2 * ETA
    return all(xv == factor ** i * START[0] and yv == 0 for i, (xv, yv) in enumerate(run.points))


def escape_count(runs: int = ESCAPE_RUNS, steps: int = STEPS) -> tuple[int, int]:
    """Of ``runs`` SGD runs (seeds ``0 .. runs-1``, float64), how many reach ``|y| >= ESCAPED`` within
    ``steps``, and the largest first-escape step among them."""
    b, h = np.array([float(v) for v in B]), float(ETA)
    escaped, latest = 0, 0
    for seed in range(runs):
        picks = np.random.default_rng(seed).integers(0, len(A), steps)
        yv = 0.0
        for step, i in enumerate(picks, start=1):
            yv = yv - h * (-2 * yv + b[i])
            if abs(yv) >= ESCAPED:
                escaped += 1
                latest = max(latest, step)
                break
    return escaped, latest


# -- the figure --------------------------------------------------------------------------------------


def _clipped(run: Run) -> list[tuple[float, float]]:
    """The run's points up to and including the first with ``|y| >= 1.2`` (the plot's window)."""
    out = []
    for xv, yv in run.points:
        out.append((float(xv), float(yv)))
        if abs(float(yv)) >= 1.2:
            break
    return out


#: The window of the figure, and the contour levels of ``f`` drawn in grey.
_XLIM, _YLIM = (-0.3, 1.1), (-1.3, 1.3)
_LEVELS = (-1.0, -0.5, -0.2, 0.0, 0.2, 0.5, 1.0)


def _contour(level: float) -> list[tuple[tuple[float, float], ...]]:
    """The level set ``x^2 - y^2 = level`` in the window, as polylines: for ``level > 0`` the right
    branch ``x = sqrt(level + y^2)``, for ``level < 0`` the branches ``y = +-sqrt(x^2 - level)``, for
    ``0`` the lines ``y = +-x``."""
    (x0, x1), (y0, y1) = _XLIM, _YLIM
    if level > 0:
        return [tuple((round(float(np.sqrt(level + yv * yv)), 4), round(float(yv), 4))
                      for yv in np.linspace(y0, y1, 61))]
    if level < 0:
        branch = [(round(float(xv), 4), round(float(np.sqrt(xv * xv - level)), 4)) for xv in np.linspace(x0, x1, 61)]
        return [tuple(branch), tuple((xv, -yv) for xv, yv in branch)]
    return [((x0, x0), (x1, x1)), ((x0, -x0), (x1, -x1))]


def plot(runs: tuple[Run, ...]) -> plots.Plot:
    """The runs in the ``(x, y)`` plane over grey contours of ``f``: the full-batch run (black, its
    iterates marked) on the stable manifold, the SGD runs in colour until ``|y| >= 1.2``; the saddle marked."""
    items: list[plots.Item] = []
    for level in _LEVELS:
        items += [plots.Curve(points, "grey", width=0.6) for points in _contour(level)]
    colours = ("black", "blue", "red", "green")
    for run, colour in zip(runs, colours):  # the full-batch run's iterates are marked on top below
        points = tuple((round(px, 4), round(py, 4)) for px, py in _clipped(run))
        items.append(plots.Curve(points, colour, run.label, width=1.3))
    items += [plots.Dot(point, "black") for point in tuple(_clipped(runs[0]))[:12]]
    items.append(plots.Dot((0.0, 0.0), "black", "saddle", offset=(-6.0, -6.0)))
    return plots.Plot(
        items=tuple(items), xlim=_XLIM, ylim=_YLIM,
        xticks=tuple((v, f"${v:g}$") for v in (0.0, 0.5, 1.0)),
        yticks=tuple((v, f"${v:g}$") for v in (-1.0, -0.5, 0.0, 0.5, 1.0)),
        xlabel="$x$", ylabel="$y$", width_cm=8.0, height_cm=8.0, legend_at=(0.55, -0.55),
        description="Full-batch gradient descent converges along y = 0 to the saddle of x^2 - y^2; "
                    "SGD runs leave the line and escape along y")


def _run_rows(full: Run, sgd: Run) -> tuple[tuple[object, ...], ...]:
    rows = []
    for step in range(0, STEPS + 1, 5):
        fx, fy = full.points[step]
        sx, sy = sgd.points[step]
        rows.append((step, f"{float(fx):.3e}", f"{float(fy):g}", f"{float(sx):.3e}", f"{float(sy):.3e}",
                     f"{float(loss(sx, sy)):.3e}"))
    return tuple(rows)


def build() -> Document:
    full = full_batch_run()
    sgd = sgd_run()
    figure_runs = (full, *(sgd_run(s) for s in FIGURE_SEEDS))
    escaped, latest = escape_count()
    first = sgd.escape_step()
    return Document(
        name=NAME,
        title="Full batch against SGD: the cost of a step and the escape from a saddle",
        summary=("A full-batch gradient step evaluates all $N$ per-example gradients, a minibatch step $|B|$ "
                 "of them; the minibatch entry shows the minibatch gradient is unbiased with variance "
                 "falling as $1/|B|$. That noise is not only a cost: on $f(x, y) = x^2 - y^2$ started on the "
                 "stable manifold $y = 0$, full-batch gradient descent stays on it and converges to the saddle "
                 "($y_k = 0$ and $x_k = (1 - 2\\eta)^k x_0$: both inductive steps are proved, the statement for every "
                 "$k$ rests on the induction principle), while SGD steps leave the manifold and "
                 "the unstable direction carries them away (an exact computation with a fixed seed, and a "
                 "figure)."),
        blocks=(
            Section("The cost of a step"),
            Prose("The training loss is the mean of the per-example losses, "
                  "$\\mathcal{L}(\\theta) = \\frac1N \\sum_i \\ell_i(\\theta)$, and its gradient is the mean of "
                  "the $N$ per-example gradients: a full-batch step costs $N$ gradient evaluations. A minibatch "
                  "step uses the mean over a batch $B$ instead, $|B|$ evaluations; the entry minibatch-gradient "
                  "proves that this estimate is unbiased and that its variance is $\\sigma^2/|B|$."),
            ProofBlock(average_gradient_proof()),
            Table(columns=("batch size $|B|$", "gradient evaluations per step", "steps per pass over the data"),
                  rows=cost_rows(),
                  caption=(f"For $N = {COST_N:,}$".replace(",", "{,}") + " examples (the ImageNet-1k training "
                           "set): one pass over the data buys one full-batch step or $N/|B|$ minibatch steps.")),
            Section("A saddle and its stable manifold"),
            Prose("Take $f(x, y) = x^2 - y^2$. Its gradient $(2x, -2y)$ vanishes at the origin, which is a "
                  "saddle: a minimum along $x$ and a maximum along $y$."),
            ProofBlock(gradient_proof(x)),
            ProofBlock(gradient_proof(y)),
            ProofBlock(not_a_minimum_proof()),
            Prose("A gradient step $(x, y) \\mapsto (x, y) - \\eta \\nabla f$ acts on each coordinate "
                  "separately:"),
            ProofBlock(gd_step_proof(x)),
            ProofBlock(gd_step_proof(y)),
            Prose("The $x$-axis, $y = 0$, is the saddle's stable manifold: the points that gradient descent "
                  "carries to it. Started there, every step keeps $y = 0$, and $x$ shrinks by the factor "
                  "$1 - 2\\eta$ per step:"),
            ProofBlock(manifold_step_proof()),
            ProofBlock(x_inductive_step()),
            ProofBlock(closed_form_conclusion()),
            ProofBlock(contraction_proof()),
            ProofBlock(limit_proof()),
            Prose("So with $0 < \\eta < 1$, full-batch gradient descent started on $y = 0$ converges to the saddle, "
                  "although the loss is unbounded below a step away. Off the manifold the factor along $y$ "
                  "exceeds $1$, so any nonzero $y$ grows geometrically; the question is only whether "
                  "something puts the iterate off the manifold."),
            ProofBlock(expansion_proof()),
            Section("Minibatch noise leaves the manifold"),
            Prose("Let the loss be the mean of $N = 4$ per-example losses "
                  "$f_i(x, y) = x^2 - y^2 + a_i x + b_i y$ whose shifts sum to zero, "
                  "$a = (" + ", ".join(sp.latex(v) for v in A) + ")$ and "
                  "$b = (" + ", ".join(sp.latex(v) for v in B) + ")$. The full-batch loss is exactly the "
                  "saddle, but each example's gradient is tilted:"),
            ProofBlock(mean_loss_proof()),
            ProofBlock(sgd_step_proof()),
            ProofBlock(sgd_leaves_proof()),
            Prose(f"The runs below use $\\eta = {sp.latex(ETA)}$, start at $(1, 0)$ and take {STEPS} steps, in "
                  "exact rational arithmetic. Full batch: the iterates equal $((4/5)^k, 0)$ exactly at every "
                  f"step ({'checked: yes' if full_batch_matches_closed_form(full) else 'checked: NO'}). SGD with "
                  f"one example per step, chosen uniformly by numpy's generator with seed {SEED}: $y$ becomes "
                  "nonzero at the first step and then grows by the factor $6/5$ per step plus noise; "
                  + (f"$|y_k| \\ge {ESCAPED}$ first at step {first}." if first is not None else
                     f"$|y_k|$ did not reach {ESCAPED} within {STEPS} steps.")
                  + f" Over {ESCAPE_RUNS} seeds (floating point), {escaped} runs reached $|y| \\ge {ESCAPED}$ "
                    f"within {STEPS} steps, the slowest at step {latest}. These runs are computations, "
                    "not proofs: they show what the proved step formulas do for these draws."),
            Table(columns=("$k$", "full batch $x$", "full batch $y$", "SGD $x$", "SGD $y$", "SGD loss"),
                  rows=_run_rows(full, sgd),
                  caption=f"Iterates of the two runs (SGD with seed {SEED}), printed to four digits."),
            Figure(sources={"markdown": f"![Full batch and SGD from (1, 0) on the saddle]({PLOT_NAME})",
                            "latex": plots.tikz(plot(figure_runs))},
                   caption=("Full-batch gradient descent (black) runs along the stable manifold into the saddle "
                            "at the origin; SGD runs with seeds "
                            + ", ".join(str(s) for s in FIGURE_SEEDS)
                            + " leave it and escape along $y$ (shown until $|y| \\ge 1.2$). Grey: the level sets "
                              "$f = c$ for $c \\in \\{" + ", ".join(f"{v:g}" for v in _LEVELS) + "\\}$; the level set $f = 0$ is the "
                              "pair of lines $y = \\pm x$."),
                   assets={PLOT_NAME: plots.svg(plot(figure_runs))}),
        ),
    )


__all__ = ["build", "NAME", "A", "B", "ETA", "START", "STEPS", "SEED", "loss", "per_example", "Run",
           "full_batch_run", "sgd_run", "full_batch_matches_closed_form", "escape_count", "plot",
           "average_gradient_proof", "gd_step_proof", "manifold_step_proof", "x_inductive_step",
           "closed_form_conclusion", "contraction_proof", "limit_proof", "mean_loss_proof", "sgd_step_proof",
           "sgd_leaves_proof", "cost_rows"]
