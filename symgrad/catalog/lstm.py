r"""Catalog entry ``lstm-gating``: the LSTM cell state's backward path against a plain RNN's.

Scalar case. LSTM: ``c_t = f_t c_{t-1} + i_t g_t`` with gates that read ``h_{t-1}`` (and the input);
along the cell state, holding ``h_{t-1}`` fixed, ``dc_t/dc_{t-1} = f_t`` and over T steps ``prod f_t``;
the full one-step derivative through ``h_{t-1} = o_{t-1} tanh(c_{t-1})`` is derived too. RNN:
``h_t = sigma(w h_{t-1} + u x_t + b)``, ``dh_T/dh_0 = prod w sigma'(z_t)`` and, by induction,
``|prod w sigma'(z_t)| <= (|w|/4)^T``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..core.functions import sigmoid
from ..proofs.documents import Document, Equation, ProofBlock, Prose, Section, Table
from ..proofs.proof import Proof, calc

NAME = "lstm-gating"

#: Depth of the explicit chains.
SHOWN_STEPS = 3
QUARTER = sp.Rational(1, 4)
T_sym = sp.Symbol("T", integer=True, positive=True)
#: Forget-gate values and sequence lengths of the comparison table.
FORGET_VALUES = (sp.Rational(1, 2), sp.Rational(9, 10), sp.Rational(99, 100), sp.Rational(999, 1000))
LENGTHS = (10, 50, 100)
RNN_WEIGHTS = (1, 2, 4)
#: The simulated LSTM: forget-gate bias, sequence length, seed.
SIM_BIAS, SIM_LENGTH, SIM_SEED = 4.0, 100, 0


def _sigmoid_prime(z: sp.Expr) -> sp.Expr:
    return sigmoid(z) * (1 - sigmoid(z))


# -- the LSTM cell state --------------------------------------------------------------------


def direct_path_proof() -> Proof:
    """``d/dc (F(h) c + I(h) G(h)) = F(h)``: the cell state's derivative with ``h_{t-1}`` held fixed."""
    c, h = sp.symbols("c_{t-1} h_{t-1}", real=True)
    F, I, G = sp.Function("f"), sp.Function("i"), sp.Function("g")
    return (calc(sp.Derivative(F(h) * c + I(h) * G(h), c),
                 title="Along the cell state, with the previous hidden state held fixed, the derivative is the forget gate")
            .eq(F(h), by="the gates read the previous hidden state and the input, not the previous cell state"))


def full_step_proof() -> Proof:
    """The total one-step derivative when the gates are seen as functions of ``c_{t-1}`` (through ``h_{t-1}``)."""
    c = sp.Symbol("c", real=True)  # the previous cell state
    F, I, G = sp.Function("f"), sp.Function("i"), sp.Function("g")
    return (calc(sp.Derivative(F(c) * c + I(c) * G(c), c),
                 title="The full one-step derivative, with the gates seen as functions of the previous cell state")
            .eq(F(c) + c * sp.Derivative(F(c), c) + G(c) * sp.Derivative(I(c), c) + I(c) * sp.Derivative(G(c), c),
                by="product rule; $c$ is the previous cell state"))


def gate_through_hidden_proof() -> Proof:
    """A gate ``q(h_{t-1})`` with ``h_{t-1} = o tanh(c_{t-1})`` (``o`` held fixed): its derivative in ``c_{t-1}``."""
    c, o = sp.symbols("c_{t-1} o_{t-1}", real=True)
    u = sp.Symbol("u", real=True)
    q = sp.Function("q")
    h = o * sp.tanh(c)
    return (calc(sp.Derivative(q(h), c), title="Each gate term: the derivative through the hidden state $o \\tanh c$")
            .eq(sp.Subs(sp.Derivative(q(u), u), u, h) * o * (1 - sp.tanh(c) ** 2),
                by="chain rule; the derivative of $\\tanh$ is $1 - \\tanh^2$"))


def cell_chain_proof(steps: int = SHOWN_STEPS) -> Proof:
    """``c_T`` after ``steps`` updates with gates held fixed: ``dc_T/dc_0 = f_1 ... f_T``."""
    c0 = sp.Symbol("c_0", real=True)
    f = sp.symbols(f"f_1:{steps + 1}", real=True)
    a = sp.symbols(f"a_1:{steps + 1}", real=True)  # a_t = i_t g_t
    c = c0
    for t in range(steps):
        c = f[t] * c + a[t]
    return (calc(sp.Derivative(c, c0), title=f"{steps} steps along the cell state: the forget gates multiply")
            .eq(sp.Mul(*f, evaluate=False), by="the input terms (input gate times candidate) do not depend on the first cell state"))


def forget_lower_bound_proof(steps: int = SHOWN_STEPS) -> Proof:
    """Forget gates ``f_t >= 1 - delta`` give ``f_1 ... f_T >= (1 - delta)^T``."""
    delta = sp.Symbol("delta", nonnegative=True)
    f = sp.symbols(f"f_1:{steps + 1}", real=True)
    s = sp.symbols(f"s_1:{steps + 1}", nonnegative=True)
    return (calc(sp.Mul(*f, evaluate=False), assume=[delta < 1], where={ft: 1 - delta + st for ft, st in zip(f, s)},
                 title=f"{steps} steps: forget gates at least $1 - \\delta$ keep the product at least $(1 - \\delta)^{{{steps}}}$")
            .ge((1 - delta) ** steps, by="each forget gate, written $1 - \\delta + s$ with $s \\ge 0$, is at least $1 - \\delta > 0$"))


# -- the plain RNN ----------------------------------------------------------------------------


def rnn_chain_proof(steps: int = SHOWN_STEPS) -> Proof:
    """``h_t = sigma(w h_{t-1} + u x_t + b)``: ``dh_T/dh_0 = prod_t w sigma'(z_t)``."""
    h0, w, u_, b = sp.symbols("h_0 w u b", real=True)
    xs = sp.symbols(f"x_1:{steps + 1}", real=True)
    z = sp.symbols(f"z_1:{steps + 1}", real=True)
    definitions: dict[sp.Basic, sp.Basic] = {}
    h: sp.Expr = h0
    for t in range(steps):
        definitions[z[t]] = w * h + u_ * xs[t] + b
        h = sigmoid(z[t])
    factors = [sp.Mul(w, _sigmoid_prime(z[t]), evaluate=False) for t in reversed(range(steps))]
    return (calc(sp.Derivative(h, h0), where=definitions, title=f"Plain RNN, {steps} steps: one factor $w\\,\\sigma'(z_t)$ per step")
            .eq(sp.Mul(*factors, evaluate=False), by="chain rule through every step; $\\sigma' = \\sigma(1 - \\sigma)$"))


def rnn_base_case() -> Proof:
    """``|w sigma'(z)| <= |w|/4``."""
    m = sp.Symbol("m", nonnegative=True)  # |w|
    z = sp.Symbol("z_1", real=True)
    s = sigmoid(z)
    return (calc(m * _sigmoid_prime(z), title="Base case $T = 1$: $|w\\,\\sigma'(z)| = m\\,\\sigma'(z) \\le m/4$ with $m = |w|$")
            .eq(m * (QUARTER - (s - sp.S.Half) ** 2), rule="complete-the-square", by="complete the square: $\\sigma(1 - \\sigma) = 1/4 - (\\sigma - 1/2)^2$")
            .le(m / 4, by="a square is non-negative and $m \\ge 0$"))


def rnn_step_factor_proof() -> Proof:
    """``P_{T+1} = P_T w sigma'(z_{T+1})`` gives ``|P_{T+1}| = |P_T| |w| sigma'(z_{T+1})``, any signs."""
    p_next, p_t = sp.Symbol("P_{T+1}", real=True), sp.Symbol("P_T", real=True)
    w, z = sp.Symbol("w", real=True), sp.Symbol("z_{T+1}", real=True)
    return (calc(sp.Abs(p_next), where={p_next: p_t * w * _sigmoid_prime(z)},
                 title="Inductive step, part 1: one more step multiplies the modulus by $|w|\\,\\sigma'(z_{T+1})$")
            .eq(sp.Abs(p_t) * sp.Abs(w) * _sigmoid_prime(z), by="$|ab| = |a|\\,|b|$ and $\\sigma' > 0$"))


def rnn_inductive_step() -> Proof:
    """``A = |P_T| <= (m/4)^T`` (written ``theta (m/4)^T``) gives ``A m sigma'(z) <= (m/4)^{T+1}``."""
    A, m = sp.Symbol("A", nonnegative=True), sp.Symbol("m", nonnegative=True)
    z = sp.Symbol("z_{T+1}", real=True)
    theta = sp.Symbol("theta", real=True)
    bound = (m / 4) ** T_sym
    return (calc(A * m * _sigmoid_prime(z), assume=[theta >= 0, theta <= 1], where={A: theta * bound},
                 title="Inductive step, part 2: with $A$ the modulus after $T$ steps and $m = |w|$, the bound passes to $T + 1$")
            .le(bound * m * _sigmoid_prime(z), by="induction hypothesis $A \\le (m/4)^T$, written $A = \\theta (m/4)^T$ with $0 \\le \\theta \\le 1$")
            .le(bound * m / 4, by="$\\sigma' \\le 1/4$ (the base case)")
            .eq((m / 4) ** (T_sym + 1), by="collect the powers"))


def rnn_conclusion() -> Proof:
    """``|prod_t w sigma'(z_t)| <= (|w|/4)^T`` for every ``T``: the induction rule."""
    P = sp.Function("P")
    w = sp.Symbol("w", real=True)
    return (calc(sp.Abs(P(T_sym)), title="The RNN bound for every $T \\ge 1$ (a lemma: it rests on the induction principle)")
            .le((sp.Abs(w) / 4) ** T_sym, rule="induction", by="base case and inductive step above"))


# -- numbers ----------------------------------------------------------------------------------


def comparison_rows() -> tuple[tuple[object, ...], ...]:
    """``f^T`` for constant forget gates against the RNN bounds ``(|w|/4)^T``."""
    rows = []
    for T in LENGTHS:
        rows.append((T, *(f"{float(f) ** T:.3g}" for f in FORGET_VALUES),
                     *(f"{(w / 4) ** T:.3g}" for w in RNN_WEIGHTS)))
    return tuple(rows)


def simulate(bias: float = SIM_BIAS, length: int = SIM_LENGTH, seed: int = SIM_SEED
             ) -> tuple[np.ndarray, np.ndarray]:
    """A scalar LSTM whose gates read only the input (the dependency modelled), and an RNN on the same input.

    Returns the forget gates ``f_t`` and the RNN factors ``w sigma'(z_t)`` (``w = 1``, ``u = 1``, ``b = 0``,
    ``h_0 = 0``), with inputs ``x_t ~ N(0, 1)`` (numpy, ``seed``). ``f_t = sigma(x_t + bias)``.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(length)
    forget = 1.0 / (1.0 + np.exp(-(x + bias)))
    h, factors = 0.0, np.empty(length)
    for t in range(length):
        s = 1.0 / (1.0 + np.exp(-(h + x[t])))
        factors[t] = s * (1.0 - s)
        h = s
    return forget, factors


def cell_state_after(c0: float, forget: np.ndarray, inputs: np.ndarray) -> float:
    """``c_T`` from ``c_0`` by ``c_t = f_t c_{t-1} + a_t`` (gates fixed): for finite differences."""
    c = c0
    for f, a in zip(forget, inputs):
        c = f * c + a
    return float(c)


def _simulation_rows() -> tuple[tuple[object, ...], ...]:
    forget, factors = simulate()
    rows = []
    for T in (10, 50, 100):
        rows.append((T, f"{np.prod(forget[:T]):.3g}", f"{np.prod(factors[:T]):.3g}", f"{0.25 ** T:.3g}"))
    return tuple(rows)


def build() -> Document:
    forget, _ = simulate()
    return Document(
        name=NAME,
        title="Gating in the LSTM: why the cell state keeps the gradient",
        summary=("In a plain recurrent network the gradient flowing back through $T$ steps is multiplied by "
                 "$w\\,\\sigma'(z_t)$ at every step, and with sigmoid units that product is at most "
                 "$(|w|/4)^T$. The LSTM's cell state is updated additively, $c_t = f_t c_{t-1} + i_t g_t$, so "
                 "along it the gradient is multiplied by the forget gate $f_t$ instead, which the network can "
                 "hold close to $1$. Below: both products derived for the scalar case, the RNN bound by "
                 "induction, and numbers."),
        blocks=(
            Section("The two recurrences"),
            Prose("A plain recurrent network with one sigmoid unit computes $z_t = w h_{t-1} + u x_t + b$ and "
                  "$h_t = \\sigma(z_t)$. A scalar LSTM computes gates from the previous hidden state and the "
                  "input, each of the form $\\sigma(w_\\ast h_{t-1} + u_\\ast x_t + b_\\ast)$ (the forget gate "
                  "$f_t$, the input gate $i_t$, the output gate $o_t$) and a candidate "
                  "$g_t = \\tanh(w_g h_{t-1} + u_g x_t + b_g)$, and then"),
            Equation(r"c_t = f_t\, c_{t-1} + i_t\, g_t, \qquad h_t = o_t \tanh(c_t)."),
            Section("The LSTM's cell state"),
            Prose("The dependency modelled first: the gates $f_t, i_t, g_t$ depend on $h_{t-1}$ and $x_t$, and "
                  "we take the partial derivative with respect to $c_{t-1}$ with $h_{t-1}$ held fixed. This is "
                  "the direct path along the cell state (the original LSTM's constant error carousel; in the "
                  "original training scheme the gradient through the gates was in fact cut). The gates are "
                  "written as arbitrary differentiable functions $f, i, g$ of $h_{t-1}$ (sigmoid and $\\tanh$ gates "
                  "are):"),
            ProofBlock(direct_path_proof()),
            Prose("For completeness, the full one-step derivative. Since $h_{t-1} = o_{t-1} \\tanh(c_{t-1})$, "
                  "the gates also depend on $c_{t-1}$ through $h_{t-1}$. Seen as functions of $c_{t-1}$, they "
                  "add three terms by the product rule, and the derivative of each gate is its derivative with "
                  "respect to $h_{t-1}$ (at most $|w_\\ast|/4$ in modulus for a sigmoid gate) times "
                  "$o_{t-1}(1 - \\tanh^2 c_{t-1})$. Here $o_{t-1}$ is held fixed: its own dependency on earlier "
                  "steps is not followed."),
            ProofBlock(full_step_proof()),
            ProofBlock(gate_through_hidden_proof()),
            Prose(f"Along the direct path the updates compose, and the derivative over $T$ steps is the product "
                  f"of the forget gates; with {SHOWN_STEPS} steps (the input terms $a_t = i_t g_t$ are held "
                  f"fixed, as above):"),
            ProofBlock(cell_chain_proof()),
            Equation(r"\left.\frac{\partial c_T}{\partial c_0}\right|_{\text{direct path}} = \prod_{t=1}^{T} f_t."),
            Prose("The same computation with one more factor gives every $T$ (induction on $T$; the case shown "
                  "is checked, the general statement is not machine-checked). Each $f_t$ lies in $(0, 1)$, so "
                  "the product still decays, but if the network keeps $f_t \\ge 1 - \\delta$ it decays no faster "
                  "than $(1 - \\delta)^T$:"),
            ProofBlock(forget_lower_bound_proof()),
            Section("The plain RNN"),
            Prose(f"For the plain network the chain rule gives one factor $w\\,\\sigma'(z_t)$ per step; with "
                  f"{SHOWN_STEPS} steps, the $z_t$ being definitions that the checker substitutes:"),
            ProofBlock(rnn_chain_proof()),
            Equation(r"\frac{\partial h_T}{\partial h_0} = \prod_{t=1}^{T} w\, \sigma'(z_t) = P_T, \qquad "
                     r"|P_T| \le \left(\frac{|w|}{4}\right)^{T}."),
            Prose("The bound, by induction on $T$ with $m = |w|$. Base case:"),
            ProofBlock(rnn_base_case()),
            Prose("Inductive step: $P_{T+1} = P_T\\, w\\, \\sigma'(z_{T+1})$, so the modulus is multiplied by "
                  "$|w|\\,\\sigma'(z_{T+1})$ whatever the signs; then, with $A = |P_T|$ and the hypothesis "
                  "$A \\le (m/4)^T$ written as $A = \\theta (m/4)^T$, $0 \\le \\theta \\le 1$:"),
            ProofBlock(rnn_step_factor_proof()),
            ProofBlock(rnn_inductive_step()),
            Prose("The induction principle itself is a logical rule, not a computation: the step that uses it "
                  "is cited as the lemma named induction and is reported as resting on it, not as proved."),
            ProofBlock(rnn_conclusion()),
            Prose("So the RNN's gradient factor after $T$ steps is at most $(|w|/4)^T$, which shrinks geometrically "
                  "whenever $|w| < 4$; the bound allows it to survive only with $|w| \\ge 4$, weights large enough "
                  "to push the units towards saturation, where $\\sigma'(z_t)$ is far below $1/4$ and the actual "
                  "factor is smaller than the bound."),
            Section("When the forget gate keeps the gradient alive"),
            Prose("Constant forget gates against the RNN bound with weights $|w| = 1, 2, 4$: a forget gate of "
                  "$0.99$ keeps over a third of the gradient after $100$ steps, while the RNN bound with $|w| = 1$ "
                  "is below $10^{-60}$. A forget gate of $1/2$ is no better than a plain network."),
            Table(columns=("$T$", *(f"$f = {f.p}/{f.q}$" for f in FORGET_VALUES), *(f"RNN bound, $|w| = {w}$" for w in RNN_WEIGHTS)),
                  rows=comparison_rows(),
                  caption="The product $f^T$ of $T$ equal forget gates $f$, and the bound $(|w|/4)^T$ on the RNN's product."),
            Prose(f"A simulation (numpy, seed {SIM_SEED}): inputs $x_t \\sim N(0, 1)$, a forget gate "
                  f"$f_t = \\sigma(x_t + {SIM_BIAS:g})$ (a large forget-gate bias, as is common in practice, "
                  f"makes $f_t$ close to $1$: here its mean is {float(np.mean(forget)):.3f}), and the RNN "
                  "$h_t = \\sigma(h_{t-1} + x_t)$ on the same inputs."),
            Table(columns=("$T$", "LSTM direct path, product of $f$", "RNN, product of $w \\, \\sigma'(z)$", "RNN bound with $|w| = 1$"),
                  rows=_simulation_rows(),
                  caption="The gradient factor after $T$ steps in the simulation: $\\prod_t f_t$ for the LSTM, $\\prod_t w\\,\\sigma'(z_t)$ with $w = 1$ for the RNN."),
        ),
    )


__all__ = ["build", "NAME", "direct_path_proof", "full_step_proof", "gate_through_hidden_proof", "cell_chain_proof", "forget_lower_bound_proof",
           "rnn_chain_proof", "rnn_base_case", "rnn_step_factor_proof", "rnn_inductive_step", "rnn_conclusion", "simulate",
           "cell_state_after", "comparison_rows"]
