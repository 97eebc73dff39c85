r"""Catalog entry ``learning-rate-momentum``: step sizes and heavy-ball momentum on a quadratic.

For ``f(w) = w^T H w / 2`` with the eigenvalues of ``H`` in ``[mu, L]``, ``0 < mu <= L``:
gradient descent contracts every eigen-direction iff ``0 < eta < 2/L``; the step
``eta* = 2/(mu + L)`` minimises the worst factor, which is then ``(kappa - 1)/(kappa + 1)``;
heavy-ball momentum with Polyak's parameters has spectral radius
``(sqrt(kappa) - 1)/(sqrt(kappa) + 1)``. Checked on explicit rational matrices by exact iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
from sympy import UnevaluatedExpr as U

from ..proofs.documents import Document, Equation, Figure, ProofBlock, Prose, Section, Table
from ..proofs.proof import Proof, calc
from ..rendering import plots

NAME = "learning-rate-momentum"
PLOT_NAME = f"{NAME}-plot.svg"

mu, L, eta, lam = sp.symbols("mu L eta lambda", positive=True)
kappa = sp.Symbol("kappa", positive=True)
beta = sp.Symbol("beta", positive=True)
#: ``a = sqrt(L)``, ``b = sqrt(mu)``: the momentum parameters are rational in them.
a, b = sp.symbols("a b", positive=True)
w1, w2 = sp.symbols("w_1 w_2", real=True)
h11, h12, h22 = sp.symbols("h_11 h_12 h_22", real=True)
z = sp.Symbol("z")
s = sp.Symbol("s", real=True)
c = sp.Symbol("c", real=True)
theta = sp.Symbol("theta", real=True)

#: The explicit example: ``H = Q diag(1, 4, 9) Q^T`` with a rational orthogonal ``Q``.
Q = sp.ImmutableMatrix([[1, 2, 2], [2, 1, -2], [2, -2, 1]]) / 3
EIGENVALUES = (1, 4, 9)
H = sp.ImmutableMatrix(Q * sp.diag(*EIGENVALUES) * Q.T)
W0 = sp.ImmutableMatrix([1, 1, 1])
STEPS = 40
TABLE_STEPS = (0, 1, 2, 5, 10, 20, 30, 40)


# -- proofs ----------------------------------------------------------------------------


def gradient_proof() -> Proof:
    """``grad (w^T H w / 2) = H w`` for a symmetric 2x2 ``H``."""
    f = (h11 * w1 ** 2 + 2 * h12 * w1 * w2 + h22 * w2 ** 2) / 2
    hess = sp.ImmutableMatrix([[h11, h12], [h12, h22]])
    return (calc(sp.ImmutableMatrix([sp.Derivative(f, w1), sp.Derivative(f, w2)]),
                 title="The gradient of $\\tfrac12 w^{\\top} H w$ is $H w$ ($H$ symmetric, two dimensions)")
            .eq(sp.MatMul(hess, sp.ImmutableMatrix([w1, w2]), evaluate=False),
                by="differentiate each coordinate; $H$ is symmetric"))


def eigen_direction_proof() -> Proof:
    """Along an eigenvector (``H v = lambda v``) one step multiplies the coordinate by ``1 - eta lambda``."""
    return (calc(c - eta * U(lam * c), title="One step along an eigenvector: the coordinate is multiplied by $1 - \\eta\\lambda$")
            .eq((1 - U(eta * lam)) * c, by="$H v = \\lambda v$, so the gradient's coordinate along $v$ is $\\lambda c$"))


def converges_proof() -> Proof:
    """``0 < eta < 2/L`` and ``mu <= lambda <= L`` give ``|1 - eta lambda| < 1``."""
    return (calc(sp.Abs(1 - U(eta * lam)), assume=[mu <= lam, lam <= L, eta < 2 / L],
                 title="If $0 < \\eta < 2/L$, every eigen-direction contracts")
            .lt(1, by="$0 < \\eta\\lambda \\le \\eta L < 2$, so $-1 < 1 - \\eta\\lambda < 1$"))


def diverges_large_proof() -> Proof:
    """``eta >= 2/L``: the top direction does not contract."""
    return (calc(sp.Abs(1 - U(eta * L)), assume=[eta >= 2 / L],
                 title="If $\\eta \\ge 2/L$, the direction of the largest eigenvalue does not contract")
            .ge(U(eta * L - 1), by="$|x| \\ge -x$")
            .ge(1, by="$\\eta L \\ge 2$"))


def diverges_negative_proof() -> Proof:
    """``eta <= 0``: the bottom direction does not contract (eta a real symbol here)."""
    e = sp.Symbol("eta", real=True)
    return (calc(sp.Abs(1 - U(e * mu)), assume=[e <= 0],
                 title="If $\\eta \\le 0$, no direction contracts (shown for $\\lambda = \\mu$)")
            .ge(1 - U(e * mu), by="$|x| \\ge x$")
            .ge(1, by="$\\eta\\mu \\le 0$"))


def optimal_factor_proof() -> Proof:
    """At ``eta* = 2/(mu + L)`` both extreme factors have modulus ``(L - mu)/(L + mu) = (kappa - 1)/(kappa + 1)``."""
    star = 2 / (mu + L)
    return (calc(1 - U(star * mu), assume=[mu <= L], where={kappa: L / mu},
                 title="At the step $2/(\\mu + L)$ the factor for $\\lambda = \\mu$ is $(\\kappa - 1)/(\\kappa + 1)$")
            .eq((L - mu) / (L + mu), by="common denominator")
            .eq((kappa - 1) / (kappa + 1), by="divide numerator and denominator by $\\mu$; $\\kappa = L/\\mu$"))


def optimal_factor_top_proof() -> Proof:
    """At ``eta*`` the factor for ``lambda = L`` is ``-(L - mu)/(L + mu)``: the two moduli are equal."""
    star = 2 / (mu + L)
    return (calc(1 - U(star * L), title="At that step the factor for $\\lambda = L$ is the opposite number")
            .eq(-U((L - mu) / (L + mu)), by="common denominator"))


def optimal_rate_proof() -> Proof:
    """At ``eta*`` every ``lambda`` in ``[mu, L]`` has ``|1 - eta* lambda| <= (L - mu)/(L + mu)``."""
    return (calc(sp.Abs(1 - U(2 * lam / (mu + L))), assume=[mu <= lam, lam <= L],
                 title="With the step $2/(\\mu + L)$, every eigen-direction contracts by the factor "
                       "$(\\kappa - 1)/(\\kappa + 1)$ or better")
            .le((L - mu) / (L + mu), by="$1 - 2\\lambda/(\\mu + L)$ decreases in $\\lambda$, from $(L - \\mu)/(L + \\mu)$ "
                                        "at $\\lambda = \\mu$ to its opposite at $\\lambda = L$"))


def smaller_step_proof() -> Proof:
    """A step ``eta <= eta*`` leaves the ``mu``-direction factor at least ``(L - mu)/(L + mu)``."""
    return (calc(sp.Abs(1 - U(eta * mu)), assume=[mu <= L, eta <= 2 / (mu + L)],
                 title="No step does better, case $\\eta \\le 2/(\\mu + L)$: the direction of $\\mu$")
            .ge(1 - U(eta * mu), by="$|x| \\ge x$")
            .ge((L - mu) / (L + mu), by="$\\eta\\mu \\le 2\\mu/(\\mu + L)$"))


def larger_step_proof() -> Proof:
    """A step ``eta >= eta*`` leaves the ``L``-direction factor at least ``(L - mu)/(L + mu)``."""
    return (calc(sp.Abs(1 - U(eta * L)), assume=[mu <= L, eta >= 2 / (mu + L)],
                 title="No step does better, case $\\eta \\ge 2/(\\mu + L)$: the direction of $L$")
            .ge(U(eta * L - 1), by="$|x| \\ge -x$")
            .ge((L - mu) / (L + mu), by="$\\eta L \\ge 2L/(\\mu + L)$"))


def norm_contraction_proof() -> Proof:
    """Two orthonormal coordinates, each multiplied by a factor of modulus at most rho: the norm by at most rho."""
    c1, c2 = sp.symbols("c_1 c_2", real=True)
    rho = sp.Symbol("rho", positive=True)
    t1, t2 = sp.symbols("t_1 t_2", nonnegative=True)
    f1, f2 = sp.symbols("r_1 r_2", real=True)
    return (calc((f1 * c1) ** 2 + (f2 * c2) ** 2, assume=[t1 <= 1, t2 <= 1],
                 where={f1: rho * t1, f2: -rho * t2},
                 title="In an orthonormal eigenbasis the squared norm shrinks by the factor $\\rho^2$ or better")
            .le(rho ** 2 * (c1 ** 2 + c2 ** 2),
                by="each factor has modulus at most $\\rho$: written $\\rho t$ or $-\\rho t$ with $0 \\le t \\le 1$"))


def companion_proof() -> Proof:
    """The characteristic polynomial of the heavy-ball 2x2 step along one eigen-direction."""
    shown = 1 + beta - U(eta * lam)
    # det [[tr - z, -beta], [1, -z]] = (z - tr) z + beta
    det_expansion = sp.Add(sp.Mul(z - shown, z, evaluate=False), beta, evaluate=False)
    return (calc(det_expansion, title="Heavy ball along one eigen-direction: the characteristic polynomial "
                                      "$\\det(zI - M)$")
            .eq(z ** 2 - U(shown * z) + beta, by="expand"))


def discriminant_proof() -> Proof:
    """With Polyak's parameters the discriminant is non-positive for every ``lambda`` in ``[mu, L]``."""
    return (calc((1 + beta - U(eta * lam)) ** 2 - U(4 * beta), assume=[b <= a, b ** 2 <= lam, lam <= a ** 2],
                 where={beta: (a - b) ** 2 / (a + b) ** 2, eta: 4 / (a + b) ** 2},
                 title="With Polyak's $\\eta$ and $\\beta$ the discriminant is never positive: the roots are "
                       "complex or double")
            .le(0, by="$a = \\sqrt L$, $b = \\sqrt\\mu$; for $\\lambda$ between $\\mu$ and $L$, $1 + \\beta - "
                      "\\eta\\lambda$ lies between $\\pm 2(a - b)/(a + b) = \\pm 2\\sqrt\\beta$"))


def modulus_proof() -> Proof:
    """Complex roots ``(s +- i sqrt(4 beta - s^2))/2`` of ``z^2 - s z + beta`` have modulus squared ``beta``."""
    im = sp.sqrt(4 * beta - s ** 2)
    start = sp.Add(sp.Pow(s / 2, 2, evaluate=False), sp.Pow(im / 2, 2, evaluate=False), evaluate=False)
    return (calc(start, assume=[s ** 2 <= 4 * beta],
                 title="When the discriminant is not positive, both roots have squared modulus $\\beta$")
            .eq(beta, by="real part $s/2$ and imaginary part $\\pm\\sqrt{4\\beta - s^2}/2$: the squared modulus is "
                         "the sum of their squares"))


def momentum_rate_proof() -> Proof:
    """``sqrt(beta) = (a - b)/(a + b) = (sqrt(kappa) - 1)/(sqrt(kappa) + 1)`` with ``a = sqrt(L)``, ``b = sqrt(mu)``."""
    return (calc(sp.sqrt(beta), assume=[b <= a], where={beta: (a - b) ** 2 / (a + b) ** 2, kappa: a ** 2 / b ** 2},
                 title="The heavy-ball rate: $\\sqrt\\beta = (\\sqrt\\kappa - 1)/(\\sqrt\\kappa + 1)$")
            .eq((a - b) / (a + b), by="$a \\ge b > 0$")
            .eq((sp.sqrt(kappa) - 1) / (sp.sqrt(kappa) + 1),
                by="$\\sqrt\\kappa = a/b$; divide numerator and denominator by $b$"))


def momentum_beats_gd_proof() -> Proof:
    """``(sqrt(kappa) - 1)/(sqrt(kappa) + 1) <= (kappa - 1)/(kappa + 1)`` for ``kappa >= 1``."""
    r = sp.Symbol("r", positive=True)  # sqrt(kappa)
    return (calc((r - 1) / (r + 1), assume=[r >= 1], where={kappa: r ** 2},
                 title="Momentum's rate is never worse: $(\\sqrt\\kappa - 1)/(\\sqrt\\kappa + 1) \\le "
                       "(\\kappa - 1)/(\\kappa + 1)$")
            .le((kappa - 1) / (kappa + 1),
                by="$r = \\sqrt\\kappa \\ge 1$; the difference is $2r(r - 1)/\\bigl((r + 1)(r^2 + 1)\\bigr) \\ge 0$"))


# -- the explicit example ----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Exact squared error norms ``||w_k||^2`` of one method on the example, k = 0..STEPS."""

    label: str
    squared_norms: tuple[sp.Rational, ...]
    rate: sp.Expr

    def norm(self, k: int) -> float:
        return math.sqrt(float(self.squared_norms[k]))


def parameters() -> dict[str, sp.Expr]:
    """Exact ``mu, L, kappa``, the best GD step and Polyak's ``eta, beta`` for the example."""
    lo, hi = sp.Integer(min(EIGENVALUES)), sp.Integer(max(EIGENVALUES))
    ra, rb = sp.sqrt(lo), sp.sqrt(hi)
    return {"mu": lo, "L": hi, "kappa": hi / lo, "eta_gd": 2 / (lo + hi),
            "eta_hb": sp.nsimplify(4 / (ra + rb) ** 2), "beta": sp.nsimplify(((rb - ra) / (rb + ra)) ** 2),
            "rate_gd": (hi - lo) / (hi + lo), "rate_hb": sp.nsimplify((rb - ra) / (rb + ra))}


def exact_eigenvalues() -> dict[sp.Expr, int]:
    """SymPy's exact eigenvalues of ``H`` (with multiplicities)."""
    return H.eigenvals()


def gd_run(step: sp.Expr, steps: int = STEPS) -> list[sp.ImmutableMatrix]:
    """Exact iterates of ``w <- w - eta H w`` from ``W0``."""
    w = W0
    out = [w]
    for _ in range(steps):
        w = sp.ImmutableMatrix(w - step * (H * w))
        out.append(w)
    return out


def heavy_ball_run(step: sp.Expr, momentum: sp.Expr, steps: int = STEPS) -> list[sp.ImmutableMatrix]:
    """Exact iterates of ``w <- w - eta H w + beta (w - w_prev)`` from ``w_{-1} = w_0 = W0``."""
    prev, w = W0, W0
    out = [w]
    for _ in range(steps):
        prev, w = w, sp.ImmutableMatrix(w - step * (H * w) + momentum * (w - prev))
        out.append(w)
    return out


def runs() -> tuple[Run, Run]:
    """Gradient descent with ``eta*`` and heavy ball with Polyak's parameters, exact."""
    p = parameters()
    gd = gd_run(p["eta_gd"])
    hb = heavy_ball_run(p["eta_hb"], p["beta"])
    return (Run("gradient descent", tuple(sp.Rational((v.T * v)[0]) for v in gd), p["rate_gd"]),
            Run("heavy ball", tuple(sp.Rational((v.T * v)[0]) for v in hb), p["rate_hb"]))


def gd_bound_holds(run: Run) -> bool:
    """Exact check of ``||w_k||^2 <= rate^(2k) ||w_0||^2`` at every k."""
    return all(q <= run.rate ** (2 * k) * run.squared_norms[0] for k, q in enumerate(run.squared_norms))


def observed_rate(run: Run, start: int = 30, stop: int = STEPS) -> float:
    """``(||w_stop|| / ||w_start||)^(1/(stop - start))``: the contraction per step late in the run."""
    return (run.norm(stop) / run.norm(start)) ** (1.0 / (stop - start))


def step_table_rows() -> tuple[tuple[object, ...], ...]:
    """For a few step sizes on the example: the worst factor max |1 - eta lambda| and whether GD converges."""
    rows = []
    for step in (sp.Rational(1, 20), sp.Rational(1, 9), sp.Rational(1, 5), sp.Rational(2, 9), sp.Rational(1, 4)):
        worst = max(abs(1 - step * l) for l in EIGENVALUES)
        rows.append((step, sp.Rational(worst), "yes" if worst < 1 else "no"))
    return tuple(rows)


# -- the figure ----------------------------------------------------------------------------


def plot(results: tuple[Run, ...]) -> plots.Plot:
    """Error norm against iteration on a log scale (log10 drawn, ticks at powers of ten), each method
    solid with its predicted rate ``rate^k ||w_0||`` dashed in the same colour."""
    ks = range(STEPS + 1)
    logs = [math.log10(r.norm(k)) for r in results for k in ks]
    lo, hi = math.floor(min(logs)), math.ceil(max(logs))
    items: list[plots.Item] = []
    for run, colour in zip(results, ("blue", "red")):
        items.append(plots.Curve(tuple((float(k), round(math.log10(run.norm(k)), 4)) for k in ks), colour, run.label))
        items.append(plots.Curve(tuple((float(k), round(math.log10(float(run.rate) ** k * run.norm(0)), 4))
                                       for k in (0, STEPS)), colour,
                                 f"rate ${run.rate}$ per step", dashed=True, width=1.0))
    return plots.Plot(
        items=tuple(items), xlim=(0.0, float(STEPS)), ylim=(float(lo), float(hi)),
        xticks=tuple((float(k), f"${k}$") for k in range(0, STEPS + 1, 10)),
        yticks=tuple((float(e), f"$10^{{{e}}}$") for e in range(lo, hi + 1, 2)),
        xlabel="iteration $k$", ylabel="$\\Vert w_k - w^* \\Vert$ (log scale)",
        width_cm=10.0, height_cm=6.0, legend_at=(1.0, lo + 4.6),
        description="Error norm against iteration on a log scale: gradient descent and heavy ball with "
                    "their predicted rates")


# -- the document --------------------------------------------------------------------------


def _exact_rows(results: tuple[Run, Run]) -> tuple[tuple[object, ...], ...]:
    gd, hb = results
    rows = []
    for k in TABLE_STEPS:
        rows.append((k, f"{gd.norm(k):.3e}", f"{float(gd.rate) ** k * gd.norm(0):.3e}",
                     f"{hb.norm(k):.3e}", f"{float(hb.rate) ** k * hb.norm(0):.3e}",
                     f"{hb.norm(k) / (float(hb.rate) ** k * hb.norm(0)):.2f}"))
    return tuple(rows)


def build() -> Document:
    p = parameters()
    results = runs()
    gd, hb = results
    eig = exact_eigenvalues()
    eig_text = ", ".join(f"${sp.latex(v)}$" for v in sorted(eig))
    return Document(
        name=NAME,
        title="Learning rate, step size and momentum",
        summary=("On a quadratic loss gradient descent acts on each eigen-direction of the Hessian separately, "
                 "multiplying it by $1 - \\eta\\lambda$ at every step. From this one fact follow the largest "
                 "step that converges, $2/L$, the best fixed step $2/(\\mu + L)$ with its rate "
                 "$(\\kappa - 1)/(\\kappa + 1)$, and the faster rate $(\\sqrt\\kappa - 1)/(\\sqrt\\kappa + 1)$ of "
                 "heavy-ball momentum. Each step below is checked by the kernel; an explicit matrix is iterated "
                 "exactly to confirm the rates."),
        blocks=(
            Section("Setting"),
            Prose("Take the loss $f(w) = \\tfrac12 w^{\\top} H w$ with $H$ symmetric and its eigenvalues in "
                  "$[\\mu, L]$, $0 < \\mu \\le L$. The minimiser is $w^* = 0$, so $w_k$ is also the error after "
                  "$k$ steps. The condition number is $\\kappa = L/\\mu \\ge 1$. Gradient descent with step size "
                  "(learning rate) $\\eta$ is $w_{k+1} = w_k - \\eta \\nabla f(w_k)$, and the gradient is $H w$:"),
            ProofBlock(gradient_proof()),
            Prose("Write $w$ in an orthonormal basis of eigenvectors of $H$ (one exists because $H$ is "
                  "symmetric: the spectral theorem, used here without proof). If $c$ is the coordinate along an "
                  "eigenvector with eigenvalue $\\lambda$, one step replaces $c$ by $(1 - \\eta\\lambda)c$, and the "
                  "coordinates do not mix:"),
            ProofBlock(eigen_direction_proof()),
            Prose("So after $k$ steps the coordinate is $(1 - \\eta\\lambda)^k c$. It tends to $0$ for every "
                  "starting point exactly when $|1 - \\eta\\lambda| < 1$, and the slowest direction sets the rate "
                  "of the whole vector: with $\\rho(\\eta) = \\max_{\\lambda} |1 - \\eta\\lambda|$ over the "
                  "eigenvalues, $\\lVert w_k \\rVert \\le \\rho(\\eta)^k \\lVert w_0 \\rVert$. The norm step, "
                  "shown for two coordinates (more coordinates are the same computation):"),
            ProofBlock(norm_contraction_proof()),
            Section("Which step sizes converge"),
            Prose("Claim: gradient descent converges from every starting point if and only if "
                  "$0 < \\eta < 2/L$. Since $1 - \\eta\\lambda$ is linear in $\\lambda$, its modulus over "
                  "$[\\mu, L]$ is largest at an end, and the condition only involves $L$ (and the sign of $\\eta$)."),
            ProofBlock(converges_proof()),
            Prose("Conversely, a step of $2/L$ or more leaves the direction of $L$ oscillating or growing, and "
                  "a step of zero or less never shrinks anything:"),
            ProofBlock(diverges_large_proof()),
            ProofBlock(diverges_negative_proof()),
            Section("The best fixed step"),
            Prose("The rate $\\rho(\\eta) = \\max(|1 - \\eta\\mu|, |1 - \\eta L|)$ is the larger of a "
                  "function that grows with $\\eta$ (once $\\eta > 1/\\mu$) and one that shrinks and then grows; "
                  "the maximum is smallest where the two are equal, $1 - \\eta\\mu = \\eta L - 1$, that is at "
                  "$\\eta^* = 2/(\\mu + L)$. There the two end factors are opposite numbers:"),
            ProofBlock(optimal_factor_proof()),
            ProofBlock(optimal_factor_top_proof()),
            ProofBlock(optimal_rate_proof()),
            Prose("And no fixed step does better: a smaller step leaves more of the $\\mu$-direction, a larger "
                  "one more of the $L$-direction."),
            ProofBlock(smaller_step_proof()),
            ProofBlock(larger_step_proof()),
            Equation(r"\eta^* = \frac{2}{\mu + L}, \qquad \lVert w_k \rVert \le "
                     r"\left(\frac{\kappa - 1}{\kappa + 1}\right)^{k} \lVert w_0 \rVert."),
            Prose("For large $\\kappa$ the rate is about $1 - 2/\\kappa$: the number of steps needed to gain a "
                  "fixed factor grows in proportion to $\\kappa$."),
            Section("Heavy-ball momentum"),
            Prose("Polyak's heavy-ball method adds a fraction $\\beta$ of the previous step: "
                  "$w_{k+1} = w_k - \\eta H w_k + \\beta (w_k - w_{k-1})$. Along an eigen-direction the pair "
                  "$(c_k, c_{k-1})$ is multiplied by the matrix"),
            Equation(r"M = \begin{pmatrix} 1 + \beta - \eta\lambda & -\beta \\ 1 & 0 \end{pmatrix},"),
            Prose("so the rate is the largest modulus of its eigenvalues, the roots of the characteristic "
                  "polynomial:"),
            ProofBlock(companion_proof()),
            Prose("Polyak's parameters are $\\eta = 4/(\\sqrt L + \\sqrt\\mu)^2$ and "
                  "$\\beta = \\bigl((\\sqrt\\kappa - 1)/(\\sqrt\\kappa + 1)\\bigr)^2$. Writing $a = \\sqrt L$ and "
                  "$b = \\sqrt\\mu$ makes both rational, and the kernel proves that the discriminant "
                  "$s^2 - 4\\beta$, with $s = 1 + \\beta - \\eta\\lambda$, is never positive on $[\\mu, L]$:"),
            ProofBlock(discriminant_proof()),
            Prose("So the two roots are complex conjugates (or, at $\\lambda = \\mu$ and $\\lambda = L$, a double "
                  "real root), and in every case their modulus is $\\sqrt\\beta$, the same for every eigenvalue:"),
            ProofBlock(modulus_proof()),
            ProofBlock(momentum_rate_proof()),
            ProofBlock(momentum_beats_gd_proof()),
            Prose("Two honest caveats. First, $\\sqrt\\beta$ is the spectral radius of the iteration, which gives "
                  "the rate asymptotically: where the root is double the error carries an extra factor that grows "
                  "linearly in $k$ (visible in the last column of the table below), so the bound is "
                  "$\\lVert w_k \\rVert \\le C (k + 1) \\rho^k \\lVert w_0 \\rVert$ rather than "
                  "$\\rho^k \\lVert w_0 \\rVert$; the document does not prove this constant. Second, that these "
                  "parameters are the best possible for heavy ball is Polyak's result and is not checked here: "
                  "what is checked is the rate they give."),
            Equation(r"\eta = \frac{4}{(\sqrt L + \sqrt\mu)^2}, \quad "
                     r"\beta = \left(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\right)^2, \qquad "
                     r"\text{rate } \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1} \approx 1 - \frac{2}{\sqrt\kappa}."),
            Section("An explicit example"),
            Prose("Take $H = Q \\operatorname{diag}(1, 4, 9) Q^{\\top}$ with the rational orthogonal matrix"),
            Equation(r"Q = \tfrac13 \begin{pmatrix} 1 & 2 & 2 \\ 2 & 1 & -2 \\ 2 & -2 & 1 \end{pmatrix},"),
            Equation(sp.Eq(sp.Symbol("H"), H, evaluate=False)),
            Prose(f"SymPy finds its eigenvalues exactly: {eig_text}. So $\\mu = {sp.latex(p['mu'])}$, "
                  f"$L = {sp.latex(p['L'])}$, $\\kappa = {sp.latex(p['kappa'])}$; the best gradient step is "
                  f"$\\eta^* = {sp.latex(p['eta_gd'])}$ with rate ${sp.latex(p['rate_gd'])}$, and Polyak's "
                  f"parameters are $\\eta = {sp.latex(p['eta_hb'])}$, $\\beta = {sp.latex(p['beta'])}$ with rate "
                  f"${sp.latex(p['rate_hb'])}$, all rational. Starting from $w_0 = (1, 1, 1)$, both methods are "
                  f"iterated {STEPS} times in exact rational arithmetic."),
            Table(columns=("step $\\eta$", "worst factor $\\max_\\lambda |1 - \\eta\\lambda|$", "converges"), rows=step_table_rows(),
                  caption="The worst factor for a few step sizes on this example; $2/L = 2/9$ is the boundary."),
            Table(columns=("$k$", "GD error", "GD bound, rate $4/5$", "heavy-ball error", "rate $1/2$ from the start",
                           "heavy ball over rate $1/2$"),
                  rows=_exact_rows(results),
                  caption="Error norms from the exact iterates, printed to four digits; the bounds are $\\rho^k \\lVert w_0 \\rVert$."),
            Prose(f"The gradient-descent bound holds at every one of the {STEPS} steps, checked exactly in "
                  f"rational arithmetic: {'yes' if gd_bound_holds(gd) else 'no'}. The contraction per step "
                  f"between steps 30 and {STEPS} is {observed_rate(gd):.4f} for gradient descent (predicted "
                  f"{float(gd.rate):.4f}) and {observed_rate(hb):.4f} for heavy ball (predicted "
                  f"{float(hb.rate):.4f}; the gap is the linear factor of the double root)."),
            Figure(sources={"markdown": f"![Error against iteration, log scale]({PLOT_NAME})",
                            "latex": plots.tikz(plot(results))},
                   caption=("Error against iteration on the example ($H$ with eigenvalues $1, 4, 9$, so "
                            "$\\kappa = 9$), log scale: gradient descent (blue) and heavy ball (red), each "
                            "dashed at its predicted rate."),
                   assets={PLOT_NAME: plots.svg(plot(results))}),
        ),
    )


__all__ = ["build", "NAME", "H", "W0", "EIGENVALUES", "STEPS", "parameters", "runs", "gd_run", "heavy_ball_run",
           "gd_bound_holds", "observed_rate", "exact_eigenvalues", "Run", "plot"]
