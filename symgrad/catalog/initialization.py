"""Catalog entry ``he-initialization``: variance propagation, Var(w) = 2/n for ReLU, and Xavier/Glorot beside it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy import stats

from ..proofs.proof import check
from ..proofs.documents import Document, Equation, Prose, ProofBlock, Section, Table
from ..proofs.proof import Proof, calc

NAME = "he-initialization"

n = sp.Symbol("n", positive=True, integer=True)
n_in, n_out = sp.symbols("n_in n_out", positive=True, integer=True)
L = sp.Symbol("L", positive=True, integer=True)
l, j = sp.symbols("l j", positive=True, integer=True)
v_w = sp.Symbol(r"\operatorname{Var}(w)", positive=True)
q = sp.Symbol(r"\mathbb{E}[a^{2}]", positive=True)
V = sp.Symbol(r"\operatorname{Var}(z_{l-1})", positive=True)
V1 = sp.Symbol(r"\operatorname{Var}(z_{1})", positive=True)
sigma = sp.Symbol("sigma", positive=True)
sigma_w = sp.Symbol("sigma_w", positive=True)
rate = sp.Symbol("lambda", positive=True)
r = sp.Symbol("r", positive=True)
E_w, E_a = sp.Symbol(r"\mathbb{E}[w]", real=True), sp.Symbol(r"\mathbb{E}[a]", real=True)
E_w2, E_a2 = sp.Symbol(r"\mathbb{E}[w^{2}]", positive=True), q

#: Fan-ins for which SymPy's stats module computes Var(z) exactly.
STATS_FAN_INS = (1, 2)
#: Monte Carlo: seed, sample count and the relative tolerance stated in the document.
SEED = 0
SAMPLES = 100_000
TOLERANCE = 0.02
#: The deep-network simulation: width, depth, batch.
WIDTH, DEPTH, BATCH = 512, 10, 200
#: The standard deviation of z in the one-dimensional Monte Carlo check.
MC_SIGMA = 1.7


def gaussian_density(z: sp.Symbol) -> sp.Expr:
    """The density of ``N(0, sigma^2)``, as SymPy's stats module writes it."""
    return stats.density(stats.Normal("Z", 0, sigma))(z)


def relu_second_moment_proof() -> Proof:
    """``E[max(0, Z)^2] = sigma^2/2 = Var(Z)/2`` for ``Z ~ N(0, sigma^2)``.

    ``max(0, z)^2`` vanishes for ``z < 0``, so the expectation is the integral over ``z > 0``; the kernel
    evaluates that integral and the variance integral (integrating ``max`` over the whole line directly
    takes SymPy seconds, too close to the kernel's budget).
    """
    z = sp.Symbol("z", real=True)
    density = gaussian_density(z)
    return (calc(sp.Integral(z**2 * density, (z, 0, sp.oo)),
                 title=r"ReLU of a centered Gaussian: $\mathbb{E}[\max(0, z)^2] = \operatorname{Var}(z)/2$")
            .eq(sigma**2 / 2, by="SymPy integrates $z^2$ against the density over $z > 0$")
            .eq(sp.Integral(z**2 * density, (z, -sp.oo, sp.oo)) / 2,
                by=r"$\operatorname{Var}(z) = \mathbb{E}[z^2]$, the integral over the whole line"))


def relu_uniform_proof() -> Proof:
    """The same for ``Z ~ U(-r, r)``: ``E[max(0, Z)^2] = r^2/6 = Var(Z)/2`` (integrals against the density 1/(2r))."""
    z = sp.Symbol("z", real=True)
    moment = sp.Integral(sp.Max(0, z) ** 2 / (2 * r), (z, -r, r))
    var = sp.Integral(z**2 / (2 * r), (z, -r, r))
    return (calc(moment, title=r"ReLU of a centered uniform variable: $\mathbb{E}[\max(0, z)^2] = "
                               r"\operatorname{Var}(z)/2$")
            .eq(r**2 / 6, by=r"SymPy integrates the density against $\max(0, z)^2$")
            .eq(var / 2, by=r"$\operatorname{Var}(z) = \mathbb{E}[z^2] = r^2/3$"))


def product_variance_proof() -> Proof:
    """``Var(w a) = E[w^2] E[a^2] - (E[w] E[a])^2 = Var(w) E[a^2]`` for independent ``w, a`` with ``E[w] = 0``."""
    second = sp.Mul(E_w2, E_a2, evaluate=False)
    mean_squared = sp.Pow(sp.Mul(E_w, E_a, evaluate=False), 2, evaluate=False)
    return (calc(sp.Add(second, sp.Mul(-1, mean_squared, evaluate=False), evaluate=False),
                 where={E_w: 0, E_w2: v_w},
                 title=r"One term: $\operatorname{Var}(wa) = \operatorname{Var}(w)\,\mathbb{E}[a^2]$ when "
                       r"$\mathbb{E}[w] = 0$")
            .eq(sp.Mul(v_w, E_a2, evaluate=False), by=r"$\mathbb{E}[w] = 0$, so $\mathbb{E}[w^2] = \operatorname{Var}(w)$"))


def propagation_proof() -> Proof:
    """``sum_{j=1}^n Var(w) E[a^2] = n Var(w) E[a^2]`` for every fan-in ``n``.

    That ``Var(z_l)`` is this sum (the variance of a sum of uncorrelated terms is the sum of their
    variances) is the stated assumption, not part of the chain.
    """
    return (calc(sp.Sum(sp.Mul(v_w, q, evaluate=False), (j, 1, n)),
                 title=r"The $n$ terms add up: $\sum_{j=1}^{n} \operatorname{Var}(w)\,\mathbb{E}[a^2] = "
                       r"n \operatorname{Var}(w)\,\mathbb{E}[a^2]$ for every $n$")
            .eq(sp.Mul(n, v_w, q, evaluate=False), by="$n$ equal terms"))


def he_step_proof() -> Proof:
    """With ReLU, ``E[a^2] = Var(z_{l-1})/2``; with ``Var(w) = 2/n`` the variance is kept."""
    return (calc(sp.Mul(n, v_w, q, evaluate=False), where={q: V / 2, v_w: 2 / n},
                 title=r"He: $\operatorname{Var}(w) = 2/n$ keeps the variance")
            .eq(V, by=r"$\mathbb{E}[a^2] = \operatorname{Var}(z_{l-1})/2$ for ReLU of a symmetric $z$; "
                      r"$\operatorname{Var}(w) = 2/n$"))


def depth_proofs() -> tuple[Proof, Proof]:
    """Over ``L`` layers: He keeps ``Var(z_L) = Var(z_1)``; ``Var(w) = 1/n`` halves it per layer."""
    he = (calc(sp.Product(n * v_w / 2, (l, 2, L)) * V1, where={v_w: 2 / n},
               title=r"$L$ layers with He initialization: $\operatorname{Var}(z_L) = \operatorname{Var}(z_1)$")
          .eq(V1, by=r"each factor $n \operatorname{Var}(w)/2$ is $1$"))
    halving = (calc(sp.Product(n * v_w / 2, (l, 2, L)) * V1, where={v_w: 1 / n},
                    title=r"$L$ ReLU layers with $\operatorname{Var}(w) = 1/n$ (Xavier for $n_{in} = n_{out}$): "
                          "the variance halves per layer")
               .eq(V1 / 2 ** (L - 1), by=r"each factor $n \operatorname{Var}(w)/2$ is $1/2$"))
    return he, halving


def xavier_proofs() -> tuple[Proof, Proof, Proof]:
    """Glorot: ``1/Var(w)`` is the mean of the fan-in and fan-out; equal fans give ``1/n``; the uniform bound."""
    mean = (calc(sp.Pow(2 / (n_in + n_out), -1, evaluate=False),
                 title=r"Xavier/Glorot: $1/\operatorname{Var}(w)$ is the mean of $n_{in}$ and $n_{out}$")
            .eq((n_in + n_out) / 2, by=r"the compromise between $n_{in} \operatorname{Var}(w) = 1$ and "
                                       r"$n_{out} \operatorname{Var}(w) = 1$"))
    equal = (calc(2 / (n_in + n_out), where={n_in: n, n_out: n}, title="Equal fans: Xavier gives $1/n$")
             .eq(1 / n))
    w = sp.Symbol("w", real=True)
    uniform = (calc(sp.Integral(w**2 / (2 * r), (w, -r, r)), where={r: sp.sqrt(6 / (n_in + n_out))},
                    title=r"Xavier uniform: $U(-r, r)$ with $r = \sqrt{6/(n_{in} + n_{out})}$")
               .eq(r**2 / 3, by=r"the variance of $U(-r, r)$: integrate $w^2$ against the density $1/(2r)$")
               .eq(2 / (n_in + n_out)))
    return mean, equal, uniform


def stats_rows() -> tuple[tuple[object, ...], ...]:
    """Var(z) from SymPy's stats module for small fan-ins, with w ~ N(0, sigma_w^2) and a ~ Exp(lambda).

    ``a`` has a non-zero mean, like a ReLU output, so the right factor is ``E[a^2] = 2/lambda^2``,
    not ``Var(a) = 1/lambda^2``; the kernel checks the first and refutes the second.
    """
    rows = []
    for fan_in in STATS_FAN_INS:
        ws = [stats.Normal(f"w{k}", 0, sigma_w) for k in range(fan_in)]
        acts = [stats.Exponential(f"a{k}", rate) for k in range(fan_in)]
        computed = sp.simplify(stats.variance(sum(w * a for w, a in zip(ws, acts))))
        right = fan_in * sigma_w**2 * stats.E(acts[0] ** 2)
        wrong = fan_in * sigma_w**2 * stats.variance(acts[0])
        rows.append((fan_in, computed, right, check(calc(computed).eq(right)).steps[0].label, wrong,
                     check(calc(computed).eq(wrong)).steps[0].label))
    return tuple(rows)


@dataclass(frozen=True)
class MonteCarlo:
    """One Monte Carlo estimate beside its predicted value."""

    quantity: str
    estimate: float
    predicted: float

    @property
    def relative_error(self) -> float:
        return abs(self.estimate - self.predicted) / abs(self.predicted)

    @property
    def within_tolerance(self) -> bool:
        return self.relative_error < TOLERANCE


def monte_carlo() -> tuple[MonteCarlo, MonteCarlo]:
    """Seeded estimates: E[relu(z)^2]/Var(z) (1/2), and Var(z) of one He layer fed ReLU(N(0, 1)) (1)."""
    rng = np.random.default_rng(SEED)
    z = rng.normal(0.0, MC_SIGMA, SAMPLES)
    ratio = float(np.mean(np.maximum(z, 0.0) ** 2) / np.var(z))
    batch = 400
    fan_in, fan_out = WIDTH, SAMPLES // batch  # 400 inputs x 250 outputs = 10^5 pre-activations
    inputs = np.maximum(rng.normal(0.0, 1.0, (batch, fan_in)), 0.0)
    weights = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
    layer = float(np.var(inputs @ weights))
    return (MonteCarlo("ReLU's second moment over the variance, Gaussian with standard deviation 1.7",
                       ratio, 0.5),
            MonteCarlo(f"variance of one layer of fan-in {fan_in} with He weights, fed ReLU of standard normals",
                       layer, 1.0))


def deep_variances() -> dict[str, list[float]]:
    """Var(z_l) for l = 1..DEPTH in a seeded ReLU network of width WIDTH: He, Xavier, and Var(w) = 1/(2n)."""
    out: dict[str, list[float]] = {}
    for label, scale in (("He", 2.0), ("Xavier", 1.0), ("half of Xavier", 0.5)):
        rng = np.random.default_rng(SEED + 1)
        z = rng.normal(0.0, 1.0, (BATCH, WIDTH))
        variances = [float(np.var(z))]
        for _ in range(DEPTH - 1):
            weights = rng.normal(0.0, np.sqrt(scale / WIDTH), (WIDTH, WIDTH))
            z = np.maximum(z, 0.0) @ weights
            variances.append(float(np.var(z)))
        out[label] = variances
    return out


def _monte_carlo_rows() -> tuple[tuple[object, ...], ...]:
    return tuple((m.quantity, f"{m.estimate:.4f}", f"{m.predicted:g}", f"{100 * m.relative_error:.2f}%",
                  "yes" if m.within_tolerance else "NO") for m in monte_carlo())


def _deep_rows(table: dict[str, list[float]]) -> tuple[tuple[object, ...], ...]:
    labels = list(table)
    rows = []
    for layer in range(DEPTH):
        rows.append((layer + 1, *(f"{table[k][layer]:.3g}" for k in labels),
                     f"{2.0 ** -layer:.3g}", f"{4.0 ** -layer:.3g}"))
    return tuple(rows)


def build() -> Document:
    he, halving = depth_proofs()
    mean, equal, uniform = xavier_proofs()
    deep = deep_variances()
    return Document(
        name=NAME,
        title="He initialization: keeping the variance through ReLU layers",
        summary=("A layer computes $z_l = W_l a_{l-1}$ with $a_{l-1} = \\operatorname{ReLU}(z_{l-1})$. With "
                 "independent zero-mean weights the variance of a pre-activation is $n_l \\operatorname{Var}(w_l)\\,"
                 "\\mathbb{E}[a_{l-1}^2]$, and for a symmetric $z$ the ReLU keeps half of the second moment, "
                 "$\\mathbb{E}[a^2] = \\operatorname{Var}(z)/2$. So $\\operatorname{Var}(w) = 2/n_l$ keeps the "
                 "variance from layer to layer (He et al., 2015). Below: the algebra checked by the kernel, the "
                 "expectations computed with SymPy's stats module, Xavier/Glorot's $2/(n_{in} + n_{out})$ beside it, "
                 "and seeded Monte Carlo checks with a stated tolerance."),
        blocks=(
            Section("Assumptions"),
            Prose("Within a layer the weights $w_{ij}$ are independent, with mean $0$ and the same variance "
                  "$\\operatorname{Var}(w_l)$, and independent of the inputs $a_{l-1,j}$, which are identically "
                  "distributed; biases are $0$; $z_{l-1}$ is symmetric about $0$. Then $z_l = \\sum_{j=1}^{n_l} "
                  "w_j a_j$ has mean $0$ and its terms are uncorrelated, so its variance is the sum of theirs. "
                  "These are assumptions of the model, not checked by the kernel: the chains below prove the "
                  "variance of one term and the sum of $n$ equal terms."),
            Section("Variance propagation"),
            ProofBlock(product_variance_proof()),
            ProofBlock(propagation_proof()),
            Equation(r"\operatorname{Var}(z_l) = n_l \operatorname{Var}(w_l)\, \mathbb{E}[a_{l-1}^2]"),
            Prose("The factor is $\\mathbb{E}[a^2]$, not $\\operatorname{Var}(a)$: a ReLU output has a positive "
                  "mean. SymPy's stats module computes $\\operatorname{Var}(z)$ exactly for small fan-ins with "
                  "$w \\sim N(0, \\sigma_w^2)$ and $a \\sim \\operatorname{Exp}(\\lambda)$ (non-negative, with "
                  "$\\mathbb{E}[a^2] = 2/\\lambda^2$ but $\\operatorname{Var}(a) = 1/\\lambda^2$); the kernel "
                  "confirms the formula with $\\mathbb{E}[a^2]$ and refutes the one with $\\operatorname{Var}(a)$ "
                  "(the expected verdict)."),
            Table(columns=("fan-in", "by sympy.stats", "with second moment", "kernel",
                           "with variance (wrong)", "kernel (expected: refuted)"),
                  rows=stats_rows(),
                  caption="$\\operatorname{Var}(z)$ for fan-in $n$ computed by sympy.stats, beside "
                          "$n \\sigma_w^2\\, \\mathbb{E}[a^2]$ and the wrong $n \\sigma_w^2 \\operatorname{Var}(a)$; "
                          "computed when this document was built."),
            Section("ReLU keeps half of the second moment"),
            Prose("When $z$ is symmetric about $0$, the square $\\max(0, z)^2$ equals $z^2$ on one half of "
                  "the line and $0$ on the other half, so "
                  "$\\mathbb{E}[\\max(0, z)^2] = \\mathbb{E}[z^2]/2$, which is $\\operatorname{Var}(z)/2$. "
                  "For a Gaussian $z$ the expectation is the integral of $z^2$ against the density (SymPy stats' "
                  "own) over $z > 0$; for a uniform $z$ it is the integral of $\\max(0, z)^2$ against the density "
                  "$1/(2r)$ on $[-r, r]$. SymPy evaluates the integrals; the kernel checks the equalities."),
            ProofBlock(relu_second_moment_proof()),
            ProofBlock(relu_uniform_proof()),
            Section("He initialization"),
            ProofBlock(he_step_proof()),
            Prose("Over $L$ layers the variances multiply: each layer contributes the factor $n \\operatorname{Var}"
                  "(w)/2$. With He's choice it is $1$ at every depth; with $\\operatorname{Var}(w) = 1/n$ "
                  "(what Xavier/Glorot gives for equal fans, designed for symmetric activations such as tanh) it "
                  "is $1/2$, and the signal fades exponentially with depth. The kernel evaluates the product "
                  "for symbolic $L$."),
            ProofBlock(he),
            ProofBlock(halving),
            Prose("The same argument for the backward pass, where the gradient flows through $n_{l+1}$ outputs "
                  "and the ReLU passes half of it, gives $\\operatorname{Var}(w) = 2/n_{out}$; He et al. show "
                  "that either choice keeps both passes stable up to a constant factor."),
            Section("Xavier/Glorot beside it"),
            Prose("For a linear (or tanh near $0$) activation, the forward pass needs $n_{in} \\operatorname{Var}(w)"
                  " = 1$ and the backward pass $n_{out} \\operatorname{Var}(w) = 1$. Glorot and Bengio (2010) take "
                  "the compromise $\\operatorname{Var}(w) = 2/(n_{in} + n_{out})$, often drawn from a uniform "
                  "distribution."),
            Equation(r"\operatorname{Var}(w) = \frac{2}{n_{in} + n_{out}} \ \text{(Xavier/Glorot)}, \qquad "
                     r"\operatorname{Var}(w) = \frac{2}{n_{in}} \ \text{(He, ReLU)}"),
            ProofBlock(mean),
            ProofBlock(equal),
            ProofBlock(uniform),
            Section("Monte Carlo"),
            Prose(f"Seeded numpy simulations (seed {SEED}), $10^5$ samples each; the stated tolerance is a "
                  f"relative error below {100 * TOLERANCE:g}%. The standard error of the first estimate is "
                  "about 0.7% (the standard deviation of $\\max(0, z)^2/\\sigma^2$ is $\\sqrt{5}/2$), so the "
                  "tolerance is about three standard errors."),
            Table(columns=("quantity", "Monte Carlo", "predicted", "relative error", "within tolerance"),
                  rows=_monte_carlo_rows(),
                  caption=f"numpy's default generator with seed {SEED}; relative tolerance {TOLERANCE}."),
            Prose(f"A ReLU network of width {WIDTH} and depth {DEPTH} (batch {BATCH}, inputs $N(0, 1)$, seed "
                  f"{SEED + 1}): the empirical variance of the pre-activations at each layer for three weight "
                  "variances, beside the predictions $1$ (He, $\\operatorname{Var}(w) = 2/n$), $2^{-(l-1)}$ "
                  "(Xavier, $\\operatorname{Var}(w) = 1/n$) and $4^{-(l-1)}$ (half of Xavier, "
                  "$\\operatorname{Var}(w) = 1/(2n)$). Finite width and a finite batch add fluctuations of a few per cent per layer, "
                  "which compound: with He's choice the variance wanders around $1$ but neither explodes nor "
                  "vanishes, while the other two fall by factors of about $2$ and $4$ per layer as predicted."),
            Table(columns=("layer", *deep, "predicted, Xavier", "predicted, half of Xavier"),
                  rows=_deep_rows(deep),
                  caption="Empirical variances $\\operatorname{Var}(z_l)$ per layer $l$ and the predictions "
                          "$2^{-(l-1)}$ and $4^{-(l-1)}$; the prediction for He is $1$ at every layer."),
        ),
    )


__all__ = ["build", "relu_second_moment_proof", "relu_uniform_proof", "product_variance_proof",
           "propagation_proof", "he_step_proof", "depth_proofs", "xavier_proofs", "stats_rows", "monte_carlo",
           "deep_variances", "MonteCarlo", "TOLERANCE", "SAMPLES", "SEED"]
