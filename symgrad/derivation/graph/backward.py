r"""The backward pass of a graph: every adjoint by the adjoint engine, each with its checked proof.

:func:`backward_pass` runs :func:`symgrad.derivation.adjoint.sweep` over the
nodes the output depends on (local derivatives from the ops) and states each
adjoint with :func:`~symgrad.derivation.adjoint.adjoint_proof`: the true
derivative of the output as a function of the node's value (every node that
does not depend on it held fixed) = the adjoint sum [adjoint-sum] = its
simplified value [algebra]. :class:`Backward` holds the result and renders it
as a forward/backward table and a figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import sympy as sp

from ...core.budget import OutOfTime, run_within
from ...core.errors import InputError
from ...core.verdicts import Status
from ...proofs.documents import Figure, Table
from ...proofs.proof import Proof, Report
from ..adjoint import Term, adjoint_proof, sweep, true_derivative
from . import drawing
from .nodes import Node, NodeSymbol
from .ops import OPS

if TYPE_CHECKING:
    from .structure import Graph, ValueMap

__all__ = ["Adjoint", "Backward", "backward_pass", "TIDY_SECONDS"]

#: Seconds each simplifier may spend tidying one adjoint (it is kept unsimplified otherwise).
TIDY_SECONDS = 2.0


@dataclass(frozen=True)
class Adjoint:
    """A node's adjoint ``df/dnode``: its ``value``, the ``terms`` it sums, its
    ``proof``, and the kernel's ``report`` on that proof (None if not checked)."""

    node: str
    value: sp.Expr
    terms: tuple[Term, ...]
    proof: Proof
    report: Report | None = None

    @property
    def status(self) -> Status | None:
        return None if self.report is None else self.report.status

    @property
    def ok(self) -> bool:
        return self.report is not None and self.report.ok

    def __float__(self) -> float:
        return float(sp.N(self.value, 30))


def backward_pass(graph: "Graph", values: "ValueMap | None", check: bool) -> "Backward":
    """Every adjoint ``df/dnode`` of the nodes the output depends on, with its proof (checked when
    ``check``): exact numbers at ``values``, or expressions in the inputs without them."""
    fwd = graph.forward(values)
    local = graph.local_derivatives(forward=fwd)
    live = graph.ancestors()
    swept = sweep([n.name for n in live], graph.consumers, lambda c, slot: local[c][slot], tidy=tidy)
    adjoints: dict[str, Adjoint] = {}
    for node in reversed(live):
        value, terms = swept[node.name]
        proof = _adjoint_proof(graph, node, terms, value, fwd, values is not None)
        adjoints[node.name] = Adjoint(node.name, value, terms, proof, proof.check() if check else None)
    return Backward(graph, adjoints, fwd, values is not None)


def _adjoint_proof(graph: "Graph", node: Node, terms: tuple[Term, ...], value: sp.Expr,
                   fwd: Mapping[str, sp.Expr], numeric: bool) -> Proof:
    """True derivative = adjoint sum [adjoint-sum] = ``value`` [algebra]; the output's is its seed."""
    variable = node.param if node.op == "input" else _node_symbol(graph, node.name)
    start = true_derivative(_output_with(graph, node.name, variable, fwd if numeric else None), variable,
                            fwd[node.name])
    kind = "the input" if node.op == "input" else f"the {OPS[node.op].tex_label(node.param)} gate"
    here = f"${sp.latex(variable)}$"
    title = f"Adjoint of {here}, {kind}" if node.op != "const" else f"Adjoint of the constant {here}"
    if not terms:  # the output (every other node the output depends on has a consumer)
        return adjoint_proof(start, terms, title=title, by="the output's adjoint is 1")

    def part(t: Term) -> str:
        c, v = sp.latex(_node_symbol(graph, t.consumer)), sp.latex(variable)
        return (rf"$(\partial f/\partial {c})(\partial {c}/\partial {v})$ with "
                f"{OPS[graph[t.consumer].op].rule}")

    parts = "; ".join(part(t) for t in terms)
    proof = adjoint_proof(start, terms, title=title, by=f"sum over the consumers of {here}: {parts}")
    return proof if value == proof.end else proof.eq(value, rule="algebra")


def _node_symbol(graph: "Graph", name: str) -> sp.Symbol:
    """A real symbol for node ``name``'s value, named apart from every input symbol."""
    taken = {s.name for n in graph.inputs for s in n.param.free_symbols}
    label = name
    while label in taken:
        label += "_"
    return NodeSymbol(label, real=True)


def _output_with(graph: "Graph", name: str, variable: sp.Expr, fwd: Mapping[str, sp.Expr] | None) -> sp.Expr:
    """The output as a function of node ``name``'s value (``variable``).

    Every node the output depends on is recomputed from its inputs, with
    ``name`` replaced by ``variable`` and (when ``fwd`` is given) every
    other input fixed at its value there.
    """
    exprs: dict[str, sp.Expr] = {}
    for node in graph.ancestors():
        if node.name == name:
            exprs[node.name] = variable
        elif node.op == "input":
            exprs[node.name] = fwd[node.name] if fwd is not None else node.param
        else:
            exprs[node.name] = OPS[node.op].apply(tuple(exprs[i] for i in node.inputs), node.param)
    return exprs[graph.output.name]


@dataclass(frozen=True)
class Backward(Mapping[str, Adjoint]):
    """The backward pass: the adjoint of every node, from the output back.

    ``forward`` holds the forward values it used; ``numeric`` says whether
    they are numbers (a point was given) or expressions.
    """

    graph: "Graph"
    adjoints: Mapping[str, Adjoint]
    forward: Mapping[str, sp.Expr]
    numeric: bool

    def __getitem__(self, name: str) -> Adjoint:
        try:
            return self.adjoints[name]
        except KeyError:
            raise InputError(f"backward: no adjoint for {name!r} (nodes: {', '.join(self.adjoints)})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.adjoints)

    def __len__(self) -> int:
        return len(self.adjoints)

    def __contains__(self, name: object) -> bool:
        return name in self.adjoints

    def get(self, name: str, default: Any = None) -> Any:
        return self.adjoints.get(name, default)

    @property
    def gradient(self) -> dict[str, sp.Expr]:
        """``df/dx`` for each input ``x`` of the graph, in input order (0 if unused)."""
        return {n.name: self.adjoints[n.name].value if n.name in self.adjoints else sp.S.Zero
                for n in self.graph.inputs}

    @property
    def proofs(self) -> tuple[Proof, ...]:
        return tuple(a.proof for a in self.adjoints.values())

    @property
    def ok(self) -> bool:
        """Every adjoint's proof was checked and proved."""
        return all(a.ok for a in self.adjoints.values())

    # -- rendering --------------------------------------------------------
    def table(self, *, digits: int = 2, caption: str | None = None) -> Table:
        """The forward/backward table: node, op, inputs, value, local derivative per
        input, adjoint. Numbers are rounded to ``digits`` decimals; without a point
        the cells are expressions."""
        graph = self.graph
        local = graph.local_derivatives(forward=self.forward)
        rows = []
        for node in graph.ancestors():
            pairs = list(zip(node.inputs, local[node.name]))
            if self.numeric:
                value: Any = fixed(self.forward[node.name], digits)
                adjoint: Any = fixed(self[node.name].value, digits)
                slopes = ", ".join(f"{i}: {fixed(d, digits)}" for i, d in pairs)
            else:
                value, adjoint = self.forward[node.name], self[node.name].value
                slopes = ", ".join(f"{i}: {sp.sstr(tidy(d))}" for i, d in pairs)
            rows.append((node.name, OPS[node.op].label(node.param), ", ".join(node.inputs) or "\u2014",
                         value, slopes or "\u2014", adjoint))
        return Table(columns=("node $v$", "op", "inputs", "value", "local derivative per input",
                              "adjoint $\\partial f / \\partial v$"),
                     rows=tuple(rows), caption=caption)

    def figure(self, *, digits: int = 2, caption: str | None = None) -> Figure:
        """The graph as a figure: TikZ (LaTeX) and Mermaid (Markdown), each edge
        labelled with the value it carries forward and the gradient of the output
        with respect to it (the consumer's adjoint times the local derivative)."""
        return Figure(sources={"latex": self.tikz(digits=digits), "markdown": self.mermaid(digits=digits)},
                      caption=caption)

    def edges(self, digits: int = 2) -> list[tuple[str, str, str, str]]:
        """``(source, target, value, gradient)`` for every edge, rounded to ``digits``
        decimals, then the output's own edge (target ``""``, gradient 1)."""
        if not self.numeric:
            raise InputError("edges: the figure needs numbers; run the backward pass at a point "
                             "(graph.backward(values))")
        graph = self.graph
        out = []
        for node in graph.ancestors():
            for slot, name in enumerate(node.inputs):
                term = next(t for t in self[name].terms if t.consumer == node.name and t.slot == slot)
                out.append((name, node.name, fixed(self.forward[name], digits), fixed(term.contribution, digits)))
        last = graph.output.name
        out.append((last, "", fixed(self.forward[last], digits), fixed(sp.S.One, digits)))
        return out

    def tikz(self, *, digits: int = 2) -> str:
        """The figure's TikZ source (:func:`~symgrad.derivation.graph.drawing.tikz`)."""
        return drawing.tikz(self, digits)

    def mermaid(self, *, digits: int = 2) -> str:
        """The figure's Mermaid source (:func:`~symgrad.derivation.graph.drawing.mermaid`)."""
        return drawing.mermaid(self, digits)

    def __repr__(self) -> str:
        lines = ["Backward("]
        for adjoint in self.adjoints.values():
            status = "" if adjoint.status is None else f"  [{adjoint.status.value}]"
            lines.append(f"  d{self.graph.output.name}/d{adjoint.node} = {sp.sstr(adjoint.value)}{status}")
        return "\n".join(lines) + "\n)"


def _sign_absorbed(expr: sp.Expr) -> sp.Expr:
    """``expr`` with a leading minus sign moved into its first sum factor: -(a - 2) b = (2 - a) b."""
    if not (expr.is_Mul and expr.could_extract_minus_sign()):
        return expr
    factors = list(expr.args)
    for i, factor in enumerate(factors):
        if factor.is_Add:
            rest = sp.Mul(*factors[:i], *factors[i + 1:])
            return sp.Mul(-rest, -factor)  # the same product: (-rest)(-factor) = rest * factor
    return expr


def tidy(expr: sp.Expr) -> sp.Expr:
    """The simplest of ``expr`` and its cancelled and factored forms (fewest operations, then the
    shortest), a leading minus sign moved into a sum factor.

    Only algorithms whose result does not depend on the clock: ``sympy.simplify`` took 1.5 to over
    10 s on the dense block's 13- to 60-operation adjoints, so any time limit on it would make the
    document depend on the machine's load. The limit here is a safety net that counts as a cutoff.
    """
    if expr.is_Atom:
        return expr
    candidates = [expr]
    for simplifier in (sp.cancel, sp.factor):
        try:
            candidate = run_within(lambda: simplifier(expr), TIDY_SECONDS)
        except (OutOfTime, sp.PolynomialError, TypeError, ValueError):
            continue
        candidates += [candidate, _sign_absorbed(candidate)]
    return min(candidates, key=lambda e: (sp.count_ops(e), len(sp.srepr(e))))


def fixed(value: sp.Expr, digits: int) -> str:
    """``value`` rounded to ``digits`` decimals (``-0.00`` shown as ``0.00``)."""
    number = float(sp.N(value, 30))
    text = f"{number:.{digits}f}"
    return text[1:] if re.fullmatch(r"-0\.?0*", text) else text
