"""Catalog entry ``computational-graph``: forward and backward passes on the classic neuron."""

from __future__ import annotations

import sympy as sp

from ..core.functions import sigmoid
from ..derivation.graph import Backward, Graph
from ..derivation.graph.nodes import NodeSymbol
from ..proofs.documents import Block, Document, Equation, Figure, Prose, ProofBlock, Section, Table
from ..proofs.proof import calc
from ..numerics.numeric import derivative

NAME = "computational-graph"

w0, x0, w1, x1, w2 = sp.symbols("w0 x0 w1 x1 w2", real=True)
#: The inputs in the order of the gradient vector.
INPUTS = (w0, x0, w1, x1, w2)
#: The classic point: w = (2, -3, -3), x = (-1, -2).
POINT = {w0: 2, x0: -1, w1: -3, x1: -2, w2: -3}
Z = w0 * x0 + w1 * x1 + w2
NEURON = 1 / (1 + sp.exp(-Z))
NEURON_SIGMOID = sigmoid(Z)
#: The same sum through a SiLU (swish) activation z sigma(z): z feeds two gates (fan-out).
NEURON_SILU = Z * sigmoid(Z)

POINT_TEXT = "$w = (2, -3, -3)$, $x = (-1, -2)$"
#: The heading of the fan-out node's adjoint (the sum over its two consumers).
FAN_OUT_TITLE = "The adjoint of $z$ in the SiLU neuron: one term per consumer"


def neuron_graph() -> Graph:
    """The neuron traced gate by gate: two products, two sums, *-1, exp, +1, 1/x."""
    return Graph.from_expr(NEURON, binary=True)


def sigmoid_graph() -> Graph:
    """The same neuron with one sigmoid gate in place of the last four."""
    return Graph.from_expr(NEURON_SIGMOID, binary=True)


def silu_graph() -> Graph:
    """The sum z through z * sigma(z): the node z has two consumers, the sigma gate and the product."""
    return Graph.from_expr(NEURON_SILU, binary=True)


def _gradient_table(back: Backward, function: sp.Expr, shortcut: Backward | None = None) -> Table:
    """Each input's adjoint beside two independent oracles: sympy.diff and Richardson."""
    rows = []
    for symbol in INPUTS:
        name = symbol.name
        exact = back[name].value
        by_sympy = sp.diff(function, symbol).subs(POINT)
        others = {s: v for s, v in POINT.items() if s != symbol}
        numeric = derivative(function.subs(others), POINT[symbol], wrt=symbol)
        gate = () if shortcut is None else (f"{float(shortcut[name].value):.2f}",)
        rows.append((symbol, exact, f"{float(exact):.2f}", *gate,
                     f"{float(sp.N(by_sympy, 30)):.12f}", f"{float(numeric.value):.12f}"))
    gate_column = () if shortcut is None else ("$\\sigma$ gate",)
    return Table(columns=("input", "adjoint (exact)", "rounded", *gate_column, "sympy.diff", "numerical (Richardson)"),
                 rows=tuple(rows),
                 caption=("The backward pass against two independent oracles at the point: SymPy's derivative "
                          "of $f$ and a numerical derivative (central differences with Richardson extrapolation)."))


def _figure(back: Backward, what: str) -> Figure:
    """The graph drawn as TikZ (PDF) and Mermaid (Markdown), each with a caption that describes it."""
    return Figure(sources={"latex": back.tikz(), "markdown": back.mermaid()},
                  caption={"latex": (f"{what} at {POINT_TEXT}. Each edge carries the forward value (above, green) "
                                     "and the gradient of $f$ with respect to that value (below, red)."),
                           "markdown": (f"{what} at {POINT_TEXT}. Each edge is labelled value / gradient: the "
                                        "forward value it carries and the gradient of $f$ with respect to it.")})


def build() -> Document:
    graph = neuron_graph()
    back = graph.backward(POINT, check=False)
    short_graph = sigmoid_graph()
    short = short_graph.backward(POINT, check=False)
    output = float(sp.N(back.forward[graph.output.name], 30))
    grads = {s.name: float(back[s.name].value) for s in INPUTS}
    gradient_text = ", ".join(f"{grads[s.name]:.2f}" for s in INPUTS)
    partials_text = ", ".join(f"$\\partial f/\\partial {sp.latex(s)} \\approx {grads[s.name]:.2f}$" for s in INPUTS)

    z_gate = graph["neg1"].inputs[0]  # the sum z that feeds the four sigmoid gates
    s_gate = short_graph.output.name
    z_short = short_graph[s_gate].inputs[0]
    same_adjoint = (
        calc(short[z_short].value, title="The $\\sigma$ gate passes back what the four gates did")
        .eq(back[z_gate].value, by="$\\sigma(1) = 1/(1 + e^{-1})$: write $\\sigma$ by its definition and simplify")
    )
    gradient_lines = r" \\ ".join(
        rf"\frac{{\partial f}}{{\partial {sp.latex(s)}}} &= {sp.latex(back[s.name].value)} \approx {grads[s.name]:.2f}"
        for s in INPUTS)

    fan_graph = silu_graph()
    fan = fan_graph.backward(POINT, check=False)
    z_fan = fan_graph["sigmoid1"].inputs[0]  # the sum z, consumed by the sigma gate and by the product
    fan_terms = fan[z_fan].terms
    zs = sp.Symbol("z", real=True)
    product_rule = (calc(sp.Derivative(zs * sigmoid(zs), zs), title="The two paths from $z$, for every $z$")
                    .eq(sigmoid(zs) + zs * sigmoid(zs) * (1 - sigmoid(zs)),
                        by=("product rule: the path through the product gives $\\sigma(z)$, the path through "
                            "the $\\sigma$ gate gives $z\\,\\sigma'(z)$")))
    blocks: list[Block] = [
        Section("Forward and backward passes"),
        Prose("A computation graph writes a function as a sequence of nodes: the inputs, and gates that "
              "each apply one primitive operation (a sum, a product, $\\exp$, ...) to the values of earlier "
              "nodes. The forward pass visits the nodes in order and computes every value from the values "
              "of its inputs."),
        Prose("The backward pass visits them in reverse. The adjoint $\\bar v = \\partial f / \\partial v$ of a "
              "node $v$ is the rate at which the output $f$ changes with $v$'s value, every node that does "
              "not depend on $v$ held fixed; at the output it is $\\bar f = 1$. A gate $c$ only knows its "
              "local derivatives $\\partial c / \\partial v$ with respect to its own inputs: it multiplies "
              "them by its adjoint $\\bar c$ and hands each product back to the input it belongs to."),
        Prose("A node that feeds several gates (or one gate twice) reaches $f$ along several paths. "
              "Nudging $v$ by $\\delta$ moves each consumer $c$ by about $\\delta\\,\\partial c / \\partial v$, "
              "and to first order these moves change $f$ independently, so their effects add. This is the "
              "multivariable chain rule, and the reason the adjoint is a sum over consumers:"),
        Equation(r"\bar f = 1, \qquad \bar v = \sum_{c \,\in\, \operatorname{consumers}(v)} "
                 r"\bar c \, \frac{\partial c}{\partial v}."),
        Prose("symgrad checks each adjoint it computes. The chain for a node starts at SymPy's own derivative "
              "of $f$ as a function of that node's value (the node replaced by a variable, the graph above it "
              "rebuilt on top, the other inputs at their values), states the sum over consumers, and ends "
              "at the exact number; the kernel proves every link, so a wrong local-derivative rule would be "
              "refuted rather than believed."),
        Section("The neuron as a graph"),
        Equation(r"f(w, x) = \frac{1}{1 + e^{-(w_0 x_0 + w_1 x_1 + w_2)}}"),
        Prose(f"Traced gate by gate, $f$ is two products, two sums, a negation, $\\exp$, $+1$ and $1/x$. "
              f"At {POINT_TEXT} the forward pass gives $f \\approx {output:.2f}$, and the backward pass "
              "the gradient"),
        Equation(r"\left(\frac{\partial f}{\partial w_0}, \frac{\partial f}{\partial x_0}, "
                 r"\frac{\partial f}{\partial w_1}, \frac{\partial f}{\partial x_1}, "
                 rf"\frac{{\partial f}}{{\partial w_2}}\right) \approx ({gradient_text})."),
        _figure(back, "The neuron"),
        back.table(caption=(f"Forward values and backward adjoints at {POINT_TEXT}, rounded to two decimals. "
                            "The local derivative of a gate is taken with respect to each of its inputs.")),
        Section("The backward pass, gate by gate"),
        Prose("From the output back to the inputs. In each chain the start is the derivative of $f$ with "
              "respect to the node's value at the point, step 1 is the sum over the node's consumers of "
              "(consumer's adjoint) times (local derivative), with the numbers of the forward pass, and the "
              "last step is its exact value. Here every node has one consumer, so each sum has one term; the last "
              "section has a node with two."),
        *(ProofBlock(adjoint.proof) for adjoint in back.values()),
        Section("The gradient"),
        Equation(r"\begin{aligned}" + gradient_lines + r"\end{aligned}"),
        _gradient_table(back, NEURON, short),
        Section("The sigmoid-gate shortcut"),
        Prose("The last four gates ($-x$, $\\exp$, $+1$, $1/x$) compute the logistic function "
              "$\\sigma(z) = 1/(1 + e^{-z})$ of the sum $z = w_0 x_0 + w_1 x_1 + w_2$. A single $\\sigma$ gate "
              "can replace them, because its local derivative has the closed form "
              "$\\sigma'(z) = \\sigma(z)\\,(1 - \\sigma(z))$, computed from the gate's own output: at $z = 1$ "
              f"the output is $\\sigma(1) \\approx {output:.2f}$ and the local derivative "
              f"$\\sigma(1)(1 - \\sigma(1)) \\approx {float(short[z_short].value):.2f}$. "
              "Fewer gates, one multiplication on the way back, and the same adjoint at $z$; since the graph "
              "below $z$ is unchanged, every gradient is the same."),
        _figure(short, "The neuron with one sigmoid gate"),
        short.table(caption="Forward values and backward adjoints with the sigmoid gate, rounded to two decimals."),
        ProofBlock(short[s_gate].proof),
        ProofBlock(short[z_short].proof),
        ProofBlock(same_adjoint),
        Section("Fan-out: where gradients add"),
        Prose("Every node of the neuron has one consumer. Put the same sum $z = w_0 x_0 + w_1 x_1 + w_2$ "
              "through the SiLU (swish) activation instead, $f = z\\,\\sigma(z)$, and the node $z$ feeds two "
              "gates: the $\\sigma$ gate and the product. Nudging $z$ moves $f$ along both paths, so the "
              "adjoint of $z$ is the sum of the two gradients flowing back into it:"),
        Equation(r"\bar z = \underbrace{\bar f \cdot s}_{\text{product}} "
                 r"+ \underbrace{\bar s \cdot \sigma'(z)}_{\sigma\ \text{gate}} = \sigma(z) + z\,\sigma'(z)."),
        Prose("Here $s = \\sigma(z)$ is the output of the $\\sigma$ gate, $\\bar f = 1$, and "
              "$\\bar s = \\partial f/\\partial s = z$."),
        _figure(fan, "The SiLU neuron $f = z\\,\\sigma(z)$, whose node $z$ feeds two gates,"),
        Prose(f"In the graph and in the chain below, $z$ is the node ${sp.latex(NodeSymbol(z_fan))}$. "
              f"At $z = 1$ the product passes back $\\sigma(1) \\approx "
              f"{float(sp.N(fan_terms[[t.consumer for t in fan_terms].index(fan_graph.output.name)].contribution, 30)):.2f}$ "
              f"and the $\\sigma$ gate passes back $1 \\cdot \\sigma'(1) \\approx "
              f"{float(sp.N(fan_terms[[t.consumer for t in fan_terms].index('sigmoid1')].contribution, 30)):.2f}$; "
              f"their sum is $\\bar z \\approx {float(fan[z_fan].value):.2f}$. The kernel checks the sum against "
              "SymPy's derivative of $f$ as a function of $z$, and the product rule shows the same two terms for "
              "every $z$. Below $z$ the graph is the neuron's, so each input's gradient is $\\bar z$ times the "
              "same local derivatives as before."),
        ProofBlock(fan[z_fan].proof.titled(FAN_OUT_TITLE)),
        ProofBlock(product_rule),
        _gradient_table(fan, NEURON_SILU),
    ]
    return Document(
        name=NAME,
        title="Computation graphs: the forward and the backward pass",
        summary=("A computation graph breaks a function into primitive gates. The forward pass computes every "
                 "node's value; the backward pass computes every node's adjoint $\\partial f/\\partial v$ as the "
                 "sum, over the gates that consume it, of the gate's adjoint times its local derivative. "
                 f"Worked on the classic neuron $f(w, x) = 1/(1 + e^{{-(w_0 x_0 + w_1 x_1 + w_2)}})$ at "
                 f"{POINT_TEXT}: $f \\approx {output:.2f}$ and {partials_text}, every adjoint checked; "
                 "and again with a single sigmoid gate. A SiLU neuron, $z\\,\\sigma(z)$, shows a node with two "
                 "consumers, whose gradients add."),
        blocks=tuple(blocks),
    )
