r"""Catalog entry ``dense-connections``: the gradient in a densely connected block (DenseNet).

Layer ``l`` reads the concatenation of every earlier output, ``x_l = H_l([x_0, ..., x_{l-1}])``, and
the loss reads the block's output ``[x_0, ..., x_L]``. So ``x_l`` has a consumer in every later layer
and one in the loss, and its adjoint is the sum over them (the adjoint-sum law):

    dL/dx_l = g_l + sum_{k > l} (dL/dx_k) (dH_k/dx_l),   g_l = d ell / d x_l (the direct term).

At a point only the layers' Jacobians ``J_kj = dH_k/dx_j`` enter, so the scalar case with symbolic
``J_kj`` and ``g_k`` is the general law at a point: the adjoint engine sums over the consumers, the kernel
checks each adjoint against SymPy's derivative of the composed block, and the expansion over the
``2^(L-l)`` paths shows the direct term ``g_l``, which carries no Jacobian factor at any depth. A
concrete block with tanh layers runs through the graph engine (every adjoint proved by the kernel) and is
compared with ``sympy.diff`` and Richardson differences.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import sympy as sp

from ..derivation.adjoint import ADJOINT_SUM, Term, sweep, true_derivative
from ..derivation.graph import Backward, Graph
from ..numerics.numeric import derivative
from ..proofs.documents import Document, Equation, Figure, ProofBlock, Prose, Section, Table
from ..proofs.proof import Proof, calc
from .support.numbers import agreement

NAME = "dense-connections"

#: Layers of the block (x_0 is the block's input, x_1 ... x_DEPTH its layers).
DEPTH = 3
#: Seconds per step for the kernel on the concrete block's adjoints (closed numbers: each is proved
#: symbolically in well under a second).
CONCRETE_BUDGET = 10.0
#: The point of the concrete block.
X0 = sp.Rational(1, 2)

xs = sp.symbols(f"x_0:{DEPTH + 1}", real=True)
gs = sp.symbols(f"g_0:{DEPTH + 1}", real=True)
delta = sp.Symbol("delta", nonnegative=True)


def jacobian_symbol(k: int, j: int, **assumptions: Any) -> sp.Symbol:
    """``J_kj``: the derivative of layer ``k`` with respect to its input ``x_j`` at the point."""
    return sp.Symbol(f"J_{k}{j}", real=True, **assumptions)


def adjoint_symbol(l: int) -> sp.Symbol:
    r"""``\bar{x}_l``, the adjoint of ``x_l``."""
    return sp.Symbol(rf"\bar{{x}}_{{{l}}}", real=True)


J = {(k, j): jacobian_symbol(k, j) for k in range(1, DEPTH + 1) for j in range(k)}


# -- the general law at a point -----------------------------------------------------------


def linearized_output(l: int, depth: int = DEPTH) -> sp.Expr:
    """The loss as a function of ``x_l``'s value: later layers recomputed from it, earlier ones fixed.

    At a point the chain rule sees only the first-order part of each map, so ``H_k`` is its linear part
    ``sum_j J_kj x_j`` and the loss ``sum_k g_k x_k``.
    """
    values: list[sp.Expr] = list(xs[:l + 1])
    for k in range(l + 1, depth + 1):
        values.append(sp.Add(*(J[(k, j)] * values[j] for j in range(k))))
    return sp.Add(*(gs[k] * values[k] for k in range(depth + 1)))


def _readers(node: Any, depth: int = DEPTH) -> list[tuple[Any, int]]:
    """Consumers of ``x_j``: every later layer (slot j of its concatenation) and the loss (slot j)."""
    j = xs.index(node)
    return [(xs[k], j) for k in range(j + 1, depth + 1)] + [("loss", j)]


def _local(consumer: Any, slot: int) -> sp.Expr:
    return gs[slot] if consumer == "loss" else J[(xs.index(consumer), slot)]


def general_adjoints(depth: int = DEPTH) -> dict[Any, tuple[sp.Expr, tuple[Term, ...]]]:
    """The adjoint engine's sweep over the block (output: the loss, adjoint 1)."""
    return sweep([*xs[:depth + 1], "loss"], lambda v: _readers(v, depth), _local)


def paths(l: int, depth: int = DEPTH) -> sp.Expr:
    """The sum over increasing paths ``l < k_1 < ... < k_m`` of ``g_{k_m} J_{k_m k_{m-1}} ... J_{k_1 l}``."""
    terms = []
    later = range(l + 1, depth + 1)
    for m in range(depth - l + 1):
        for chosen in itertools.combinations(later, m):
            chain = (l, *chosen)
            factors = [gs[chain[-1]]] + [J[(chain[i + 1], chain[i])] for i in reversed(range(len(chain) - 1))]
            terms.append(sp.Mul(*factors, evaluate=False) if len(factors) > 1 else factors[0])
    return sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]


def adjoint_law_proof(l: int, depth: int = DEPTH) -> Proof:
    """``dL/dx_l`` (SymPy, through the composed block) = direct term + one term per later layer."""
    swept = general_adjoints(depth)
    _, found = swept[xs[l]]
    where = {adjoint_symbol(k): paths(k, depth) for k in range(l + 1, depth + 1)}
    later = ", ".join(f"$\\bar{{x}}_{{{k}}}$" for k in range(l + 1, depth + 1))
    node = "the block's input" if l == 0 else f"layer {l}'s output"
    title = (f"The adjoint of {node}: the loss's direct term plus one term per later layer"
             if l < depth else "The adjoint of the last layer's output: only the direct term")
    summands = [gs[l]] + [sp.Mul(adjoint_symbol(xs.index(t.consumer)), t.local, evaluate=False)
                          for t in found if t.consumer != "loss"]
    proof = calc(true_derivative(linearized_output(l, depth), xs[l], xs[l]), where=where or None, title=title)
    proof = proof.eq(sp.Add(*summands, evaluate=False) if len(summands) > 1 else summands[0], rule=ADJOINT_SUM,
                     by=(f"sum over the consumers of $x_{{{l}}}$: the loss (slot {l} of the concatenation, local "
                         f"derivative $g_{{{l}}}$, adjoint $1$)"
                         + (f" and layers {', '.join(str(k) for k in range(l + 1, depth + 1))}, "
                            f"whose adjoints {later} are the path sums above" if l < depth else "")))
    if l < depth:
        proof = proof.eq(paths(l, depth), by=f"substitute the later adjoints and expand: one term for each of "
                                              f"the {2 ** (depth - l)} paths from $x_{{{l}}}$ to the loss")
    return proof


def direct_term_proof(depth: int = DEPTH) -> Proof:
    """Saturated later layers (all ``J_kj = 0`` for ``k >= 1``) leave ``dL/dx_0 = g_0``."""
    zero = {J[key]: sp.S.Zero for key in J}
    return (calc(paths(0, depth), where=zero,
                 title="If every layer's Jacobian vanishes (saturated units), the input still receives its direct term")
            .eq(gs[0], by="every path but the direct one carries a factor $J_{kj} = 0$"))


def nonnegative_bound_proof(depth: int = DEPTH) -> Proof:
    """With ``g_k >= 0`` and ``J_kj >= 0``: ``dL/dx_0 >= g_0``, whatever the depth."""
    g = sp.symbols(f"g_0:{depth + 1}", nonnegative=True)
    Jn = {key: jacobian_symbol(*key, nonnegative=True) for key in J}
    expanded = paths(0, depth).xreplace({**dict(zip(gs, g)), **{J[key]: Jn[key] for key in J}})
    return (calc(expanded, title="With non-negative direct terms $g_k \\ge 0$ and Jacobians $J_{kj} \\ge 0$ the gradient is at "
                                     "least the direct term")
            .ge(g[0], by="every other path is a product of non-negative factors"))


def plain_chain_proof(depth: int = DEPTH) -> Proof:
    """A plain chain ``x_l = H_l(x_{l-1})``, loss reading ``x_L``: ``dL/dx_0 = g_L J_L,L-1 ... J_10``,
    at most ``g_L delta^L`` when every ``|J| <= delta`` (written ``delta t`` with ``0 < t <= 1``)."""
    g = sp.Symbol(f"g_{depth}", nonnegative=True)
    b = sp.symbols(f"b_1:{depth + 1}", nonnegative=True)
    t = sp.symbols(f"t_1:{depth + 1}", positive=True)
    return (calc(sp.Mul(g, *b, evaluate=False), assume=[ti <= 1 for ti in t],
                 where={bi: delta * ti for bi, ti in zip(b, t)},
                 title=(f"A plain chain of {depth} layers: the only path multiplies every Jacobian; with "
                        f"$g_{{{depth}}} \\ge 0$ and each $|J_{{l,l-1}}| \\le \\delta$ its modulus is at most "
                        f"$\\delta^{{{depth}}} g_{{{depth}}}$"))
            .le(g * delta ** depth, by="each $b_l = |J_{l,l-1}|$ is written $\\delta t_l$ with $0 < t_l \\le 1$"))


# -- a concrete block on the graph engine ---------------------------------------------------


def concrete_graph() -> Graph:
    """``x_l = tanh(x_0 + ... + x_{l-1})`` for l = 1..3 (unit weights) and the loss ``x_0 + ... + x_3``."""
    graph = Graph.builder().input("x0", xs[0]).add("x1", "tanh", "x0")
    for l in range(2, DEPTH + 1):
        graph = graph.add(f"z{l}", "add", *(f"x{j}" for j in range(l))).add(f"x{l}", "tanh", f"z{l}")
    return graph.add("loss", "add", *(f"x{l}" for l in range(DEPTH + 1)))


def concrete_output(l: int) -> sp.Expr:
    """The concrete loss as an expression of ``x_l``'s value (earlier outputs at the point)."""
    graph = concrete_graph()
    point = graph.forward({"x0": X0})
    values: list[sp.Expr] = [point[f"x{j}"] for j in range(l)] + [xs[l]]
    for k in range(l + 1, DEPTH + 1):
        values.append(sp.tanh(sp.Add(*values)))
    return sp.Add(*values)


def concrete_backward(check: bool = True) -> Backward:
    """The backward pass of the concrete block at ``x_0 = 1/2``; with ``check`` every adjoint's proof is
    checked by the kernel with :data:`CONCRETE_BUDGET` seconds per step."""
    back = concrete_graph().backward({"x0": X0}, check=False)
    if not check:
        return back
    adjoints = {name: replace(a, report=a.proof.check(budget=CONCRETE_BUDGET)) for name, a in back.items()}
    return replace(back, adjoints=adjoints)


def concrete_rows(back: Backward) -> tuple[tuple[object, ...], ...]:
    """Each layer output's adjoint against ``sympy.diff`` of the composed loss and Richardson differences."""
    point = back.forward
    rows = []
    for l in range(DEPTH + 1):
        adj = back[f"x{l}"]
        output = concrete_output(l)
        at = point[f"x{l}"]
        exact = float(sp.N(adj.value, 30))
        by_sympy = float(sp.N(sp.diff(output, xs[l]).subs(xs[l], at), 30))
        numeric = float(derivative(output, float(sp.N(at, 30)), method="richardson", wrt=xs[l]).value)
        direct = next(t for t in adj.terms if t.consumer == "loss")
        rows.append((xs[l], f"{float(sp.N(at, 30)):.6f}", len(adj.terms) - 1, f"{float(direct.contribution):g}",
                     f"{exact:.12f}", agreement(abs(by_sympy - exact) / max(1.0, abs(exact))),
                     agreement(abs(numeric - exact) / max(1.0, abs(exact))),
                     adj.status.value if adj.status is not None else "not checked"))
    return tuple(rows)


def _depth_rows() -> tuple[tuple[object, ...], ...]:
    rows = []
    for depth in (1, 2, 3, 4, 6, 10):
        rows.append((depth, 2 ** depth, gs[0], f"{0.25 ** depth:.1e}"))
    return tuple(rows)


def build() -> Document:
    back = concrete_backward()
    ok = sum(1 for a in back.values() if a.ok)
    return Document(
        name=NAME,
        title="Dense connections: every layer has a direct path to the loss",
        summary=("In a densely connected block (DenseNet) layer $l$ reads the concatenation of all earlier "
                 "outputs, $x_l = H_l([x_0, \\dots, x_{l-1}])$, and the loss reads $[x_0, \\dots, x_L]$. The "
                 "gradient at $x_l$ is therefore a sum over its consumers: the loss directly, and every later "
                 "layer. Below: the law derived on the adjoint engine and checked against SymPy's derivative "
                 "of the composed block for three layers, its expansion over the paths with the direct term "
                 "that carries no Jacobian factor at any depth, the comparison with a plain chain and with "
                 "residual connections, and a concrete tanh block on the computation graph."),
        blocks=(
            Section("The block"),
            Prose("A dense block starts from its input $x_0$ and computes, for $l = 1, \\dots, L$,"),
            Equation(r"x_l = H_l\bigl([x_0, x_1, \dots, x_{l-1}]\bigr),"),
            Prose("where $[\\cdot]$ is concatenation and $H_l$ is a layer (in DenseNet: batch normalization, "
                  "ReLU, convolution). The block's output is the concatenation $[x_0, \\dots, x_L]$ of "
                  "everything computed, and the rest of the network, up to the loss $\\mathcal{L}$, reads it. "
                  "So $x_l$ has $L - l + 1$ consumers: each later layer $H_k$, $k > l$, and the loss itself "
                  "through the block's output."),
            Section("The gradient is a sum over the later layers"),
            Prose("The adjoint of a node is the sum over its consumers of the consumer's adjoint times the "
                  "local derivative (the adjoint-sum law of the computation-graph entry). With "
                  "$g_l = \\partial \\mathcal{L}/\\partial x_l$ taken through the block's output only (the "
                  "direct term) and $J_{kl} = \\partial H_k/\\partial x_l$ (the block of layer $k$'s Jacobian "
                  "that reads $x_l$):"),
            Equation(r"\bar{x}_l = \frac{\partial \mathcal{L}}{\partial x_l} = g_l + "
                     r"\sum_{k = l + 1}^{L} \bar{x}_k \, J_{kl}, \qquad \bar{x}_L = g_L."),
            Prose(f"The chains below check it for $L = {DEPTH}$ scalar layers. At a point the chain rule uses "
                  "only the first-order part of each map, so each layer is written as its linear part "
                  "$H_k = \\sum_j J_{kj} x_j$ and the loss as $\\sum_k g_k x_k$, with $J_{kj}$ and $g_k$ "
                  "arbitrary real symbols. Each chain starts at SymPy's derivative of the loss as a function "
                  "of $x_l$ (later layers recomputed from it, earlier outputs held fixed), states the sum the "
                  "adjoint engine produced, and expands it; the kernel checks every link."),
            *(ProofBlock(adjoint_law_proof(l)) for l in reversed(range(DEPTH + 1))),
            Section("The direct term no depth can multiply away"),
            Prose("Expanded, $\\bar{x}_l$ has one term for each increasing path "
                  "$l < k_1 < \\dots < k_m$ from $x_l$ to the loss, "
                  "$g_{k_m} J_{k_m k_{m-1}} \\cdots J_{k_1 l}$: $2^{L - l}$ paths. The empty path is the "
                  "concatenation carrying $x_l$ straight to the block's output, and its term is $g_l$, with no "
                  "Jacobian in it. However deep the block and however small the layers' Jacobians, this "
                  "term is untouched. If every later layer is saturated the gradient at the input is "
                  "exactly its direct term:"),
            ProofBlock(direct_term_proof()),
            Prose("As with residual connections, the other terms can in principle cancel the direct one "
                  "(they have signs). Under the hypothesis that all direct terms and Jacobian entries are "
                  "non-negative they cannot, and the gradient is at least $g_0$:"),
            ProofBlock(nonnegative_bound_proof()),
            Prose("A plain chain $x_l = H_l(x_{l-1})$ whose loss reads only $x_L$ has one path, and its term "
                  "multiplies every Jacobian. If each is at most $\\delta$ in absolute value (a sigmoid layer "
                  "with weights at most $1$ has $\\delta \\le 1/4$), the gradient at the input is at most "
                  "$g_L \\delta^L$:"),
            ProofBlock(plain_chain_proof()),
            Table(columns=("$L$", "dense: paths from the input", "dense: Jacobian-free term",
                           "plain chain: bound over the last direct term, $\\delta = 1/4$"),
                  rows=_depth_rows(),
                  caption="Paths and the surviving term by depth; the plain chain's bound is $\\delta^L$ times $g_L$."),
            Section("Compared with residual connections"),
            Prose("A residual block $h_l = h_{l-1} + F_l(h_{l-1})$ (entry residual-gradient) multiplies one "
                  "factor $1 + F_l'$ per block, so $\\partial \\mathcal{L}/\\partial h_l = "
                  "\\partial \\mathcal{L}/\\partial h_L \\prod_{k > l} (1 + F_k')$; expanded, the identity path "
                  "contributes $\\partial \\mathcal{L}/\\partial h_L$: the gradient at the last layer reaches "
                  "every layer unchanged. A dense block has the same $2^{L-l}$ paths, but its direct term is "
                  "$g_l$, the loss's own derivative with respect to $x_l$ through the concatenated output: "
                  "each layer is supervised directly rather than through the last one. The residual sum adds "
                  "outputs, so one vector carries everything; the dense concatenation keeps every layer's "
                  "output as a separate input of the loss, and that separate input is the Jacobian-free path."),
            Section("A concrete block on the computation graph"),
            Prose("Three tanh layers whose weights are all $1$, "
                  "$x_1 = \\tanh(x_0)$, $x_2 = \\tanh(x_0 + x_1)$, $x_3 = \\tanh(x_0 + x_1 + x_2)$, and the loss "
                  "$\\mathcal{L} = x_0 + x_1 + x_2 + x_3$ (a classifier that sums the concatenated features, so "
                  f"every direct term is $1$), at $x_0 = {sp.latex(X0)}$. The graph engine computes every adjoint "
                  "exactly and the kernel checks each one against SymPy's derivative of the loss as a function "
                  f"of that node's value ({ok} of {len(back)} proved). The table compares the adjoints of the "
                  "layer outputs with SymPy's derivative of the composed loss and with central differences and "
                  "Richardson extrapolation."),
            Figure(sources={"latex": back.tikz(), "markdown": back.mermaid()},
                   caption={"latex": (f"The concrete block at $x_0 = {sp.latex(X0)}$: each edge carries its forward "
                                      "value (above, green) and the gradient of the loss along it (below, red). "
                                      "Every output $x_l$ has an edge straight into the loss; the edges that would "
                                      "pass other nodes run below them, one level each."),
                            "markdown": (f"The concrete block at $x_0 = {sp.latex(X0)}$: each edge reads value / "
                                         "gradient, the forward value it carries and the gradient of the loss along "
                                         "it. Every output $x_l$ has an edge straight into the loss.")}),
            Table(columns=("node", "value", "later layers reading it", "direct term", "adjoint",
                           "rel. error vs sympy.diff", "rel. error vs Richardson", "kernel"),
                  rows=concrete_rows(back),
                  caption="Adjoints of the layer outputs in the concrete block."),
        ),
    )


__all__ = ["build", "NAME", "DEPTH", "CONCRETE_BUDGET", "X0", "linearized_output", "general_adjoints", "paths",
           "adjoint_law_proof", "direct_term_proof", "nonnegative_bound_proof", "plain_chain_proof",
           "concrete_graph", "concrete_output", "concrete_backward", "concrete_rows"]
