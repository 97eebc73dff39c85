"""A computation graph: nodes in topological order, how to build one, and its forward pass.

Tracing (:meth:`Graph.from_expr`, :mod:`.tracing`) and building node by node
(:meth:`Graph.add`) know nothing of derivatives; the ops say how each node
computes (:mod:`.ops`), and :meth:`Graph.backward` hands the graph to the
adjoint engine (:mod:`.backward`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Mapping, Sequence

import sympy as sp

from ...core.errors import InputError
from ...proofs.documents import Figure, Table
from .backward import Backward, backward_pass
from .nodes import Node
from .ops import NAME, OPS, Args, Param, local_derivatives, number, op_named
from .tracing import trace

__all__ = ["Graph", "ValueMap"]

ValueMap = Mapping[Any, Any]


@dataclass(frozen=True)
class Graph:
    """A computation graph: nodes in topological order and the name of its output.

    Build one with :meth:`from_expr` or node by node with :meth:`add` (each
    call returns a new graph). The output is ``output_name`` or, if that is
    None, the last node.
    """

    nodes: tuple[Node, ...] = ()
    output_name: str | None = None
    _index: dict[str, Node] = field(default_factory=dict, init=False, repr=False, compare=False)
    _consumers: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict, init=False, repr=False,
                                                               compare=False)

    def __post_init__(self) -> None:
        nodes = tuple(self.nodes)
        for i, node in enumerate(nodes):
            if not isinstance(node, Node):
                raise InputError(f"graph: nodes[{i}] must be a Node, got {type(node).__name__}")
        ordered = _topological(nodes)
        filled: list[Node] = []
        exprs: dict[str, sp.Expr] = {}
        for node in ordered:
            node = _validated(node)
            value = OPS[node.op].apply(tuple(exprs[name] for name in node.inputs), node.param)
            if node.expr is not None and node.expr != value:
                raise InputError(f"node {node.name!r}: its expr {node.expr} is not what its op computes ({value})")
            exprs[node.name] = value
            filled.append(replace(node, expr=value))
        object.__setattr__(self, "nodes", tuple(filled))
        object.__setattr__(self, "_index", {n.name: n for n in filled})
        readers: dict[str, list[tuple[str, int]]] = {n.name: [] for n in filled}
        for node in filled:
            for slot, name in enumerate(node.inputs):
                readers[name].append((node.name, slot))
        object.__setattr__(self, "_consumers", {name: tuple(r) for name, r in readers.items()})
        if self.output_name is not None and self.output_name not in self._index:
            raise InputError(f"graph: the output {self.output_name!r} is not a node ({_names(filled)})")

    # -- building ---------------------------------------------------------
    @staticmethod
    def builder() -> "Graph":
        """An empty graph, to be extended node by node with :meth:`add`."""
        return Graph()

    def add(self, name: str, op: str, *inputs: str, param: Param = None) -> "Graph":
        """A new graph with the node ``name = op(*inputs)`` appended.

        ``op="input"`` makes an input (``param``: its SymPy symbol, default a
        real symbol named ``name``); ``op="const"`` a constant (``param``: the
        number). Misuse (unknown op or input, wrong arity) raises
        :class:`~symgrad.errors.InputError` naming the node.
        """
        if op == "input" and param is None and isinstance(name, str):
            param = sp.Symbol(name, real=True)
        return Graph(self.nodes + (Node(name, op, tuple(inputs), param),), self.output_name)

    def input(self, name: str, symbol: sp.Symbol | None = None) -> "Graph":
        """A new graph with an input node (its symbol defaults to a real symbol ``name``)."""
        return self.add(name, "input", param=symbol)

    def const(self, name: str, value: Any) -> "Graph":
        """A new graph with a constant node of ``value``."""
        return self.add(name, "const", param=value)

    def with_output(self, name: str) -> "Graph":
        """The same nodes with ``name`` as the output."""
        return Graph(self.nodes, name)

    @classmethod
    def from_expr(cls, expr: sp.Expr, *, binary: bool = False) -> "Graph":
        """Trace a SymPy expression into primitive ops (the output is the whole expression).

        Sums and products become ``add``/``mul`` nodes (n-ary, or left-nested
        pairs when ``binary``); a numeric term is a ``shift``, a numeric
        factor a ``scale`` (``neg`` for -1), and a sum whose terms are all
        negated becomes ``neg`` of the positive sum; ``x**-1`` is ``recip``,
        ``x**c`` is ``pow``; ``exp``, ``log``, ``sigmoid``, ``tanh``, ``sin``,
        ``cos`` are one node each. Equal subexpressions share one node. Nodes
        are named after their op and numbered in order (``mul1``, ``mul2``,
        ``add1``); inputs after their symbols.
        """
        if not isinstance(expr, sp.Expr):
            raise InputError(f"Graph.from_expr: expected a SymPy expression, got {type(expr).__name__}")
        return cls(tuple(trace(expr, binary)))

    # -- reading ----------------------------------------------------------
    def __getitem__(self, name: str) -> Node:
        try:
            return self._index[name]
        except KeyError:
            raise InputError(f"graph: no node named {name!r} ({_names(self.nodes)})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def output(self) -> Node:
        if not self.nodes:
            raise InputError("graph: an empty graph has no output")
        return self[self.output_name] if self.output_name is not None else self.nodes[-1]

    @property
    def expr(self) -> sp.Expr:
        """The output as an expression of the inputs."""
        return self.output.expr  # type: ignore[return-value]

    @property
    def inputs(self) -> tuple[Node, ...]:
        """The input nodes, in order."""
        return tuple(n for n in self.nodes if n.op == "input")

    def consumers(self, name: str) -> tuple[tuple[str, int], ...]:
        """``(consumer, slot)`` for every input slot that reads node ``name``, in order."""
        self[name]
        return self._consumers[name]

    def ancestors(self) -> tuple[Node, ...]:
        """The nodes the output depends on (itself included), in topological order."""
        needed = {self.output.name}
        for node in reversed(self.nodes):
            if node.name in needed:
                needed.update(node.inputs)
        return tuple(n for n in self.nodes if n.name in needed)

    def __repr__(self) -> str:
        lines = [f"Graph(output={self.output.name if self.nodes else None!s})"]
        lines += [f"  {node!r}" for node in self.nodes]
        return "\n".join(lines)

    # -- the passes -------------------------------------------------------
    def forward(self, values: ValueMap | None = None) -> dict[str, sp.Expr]:
        """Each node's value, in topological order.

        ``values`` maps every input (by node name or by its symbol) to a
        number; values stay exact (a float is read as the decimal it prints
        as, ``0.1`` as ``1/10``). Without ``values``, each node's value is its
        expression in the inputs.
        """
        if values is None:
            return {n.name: n.expr for n in self.nodes}  # type: ignore[misc]
        given = self._input_values(values, "forward")
        out: dict[str, sp.Expr] = {}
        for node in self.nodes:
            if node.op == "input":
                out[node.name] = given[node.name]
            else:
                out[node.name] = OPS[node.op].apply(tuple(out[i] for i in node.inputs), node.param)
        return out

    def local_derivatives(self, values: ValueMap | None = None,
                          forward: Mapping[str, sp.Expr] | None = None) -> dict[str, Args]:
        """For each node, its local derivatives with respect to each input slot."""
        fwd = dict(forward) if forward is not None else self.forward(values)
        return {n.name: local_derivatives(OPS[n.op], fwd[n.name], tuple(fwd[i] for i in n.inputs), n.param)
                for n in self.nodes}

    def backward(self, values: ValueMap | None = None, *, check: bool = True) -> Backward:
        """Every adjoint ``df/dnode`` with its proof, from the output back to the inputs.

        With ``values``, adjoints are exact numbers at that point; without,
        expressions in the inputs. ``check`` runs the kernel on every proof
        (its report is on the :class:`Adjoint`). Nodes the output does not
        depend on are left out.
        """
        return backward_pass(self, values, check)

    def gradient(self, values: ValueMap | None = None, *, check: bool = True) -> dict[str, sp.Expr]:
        """The adjoints of the inputs (``df/dx`` for each input ``x``)."""
        return self.backward(values, check=check).gradient

    def _input_values(self, values: ValueMap, where: str) -> dict[str, sp.Expr]:
        if not isinstance(values, Mapping):
            raise InputError(f"{where}: values must be a mapping from input names (or symbols) to numbers, "
                             f"got {type(values).__name__}")
        by_symbol = {n.param: n.name for n in self.inputs}
        given: dict[str, sp.Expr] = {}
        for key, value in values.items():
            name = key if isinstance(key, str) else by_symbol.get(key)
            if name is None or name not in self._index or self._index[name].op != "input":
                raise InputError(f"{where}: {key!r} is not an input of the graph (inputs: "
                                 f"{', '.join(n.name for n in self.inputs) or 'none'})")
            if name in given:
                raise InputError(f"{where}: input {name!r} is given twice")
            given[name] = number(value, f"{where}: value of input {name!r}")
        missing = [n.name for n in self.inputs if n.name not in given]
        if missing:
            raise InputError(f"{where}: no value for input node{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(repr(m) for m in missing)}")
        return given


    # -- rendering --------------------------------------------------------
    def table(self, values: ValueMap | None = None, *, digits: int = 2, caption: str | None = None) -> Table:
        """The forward/backward table at ``values``; see :meth:`Backward.table`."""
        return self.backward(values, check=False).table(digits=digits, caption=caption)

    def figure(self, values: ValueMap, *, digits: int = 2, caption: str | None = None) -> Figure:
        """The graph at ``values`` as a figure; see :meth:`Backward.figure`."""
        return self.backward(values, check=False).figure(digits=digits, caption=caption)


def _names(nodes: Sequence[Node]) -> str:
    return "nodes: " + (", ".join(n.name for n in nodes) or "none")


def _validated(node: Node) -> Node:
    where = f"node {node.name!r}"
    op = op_named(node.op, where)
    if op.arity is None and len(node.inputs) < 2:
        raise InputError(f"{where}: op {op.name!r} takes two or more inputs, got {len(node.inputs)}")
    if op.arity is not None and len(node.inputs) != op.arity:
        raise InputError(f"{where}: op {op.name!r} takes {op.arity} input{'s' if op.arity != 1 else ''}, "
                         f"got {len(node.inputs)}")
    if op.takes_param and node.param is None:
        raise InputError(f"{where}: op {op.name!r} needs a param (e.g. the number of a scale or shift)")
    if not op.takes_param and node.param is not None:
        raise InputError(f"{where}: op {op.name!r} takes no param, got {node.param!r}")
    if node.op == "input":
        if not isinstance(node.param, sp.Symbol):
            raise InputError(f"{where}: the param of an input must be a SymPy Symbol, got {node.param!r}")
    elif op.takes_param:
        node = replace(node, param=number(node.param, where))
    return node


def _topological(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
    """The nodes in a topological order (the given order where it is one).

    Raises InputError for a bad or duplicate name, an input that is not a
    node, or a cycle (naming its nodes).
    """
    index: dict[str, Node] = {}
    for node in nodes:
        if not isinstance(node.name, str) or not NAME.match(node.name):
            raise InputError(f"node {node.name!r}: a name is a letter followed by letters, digits or _")
        if node.name in index:
            raise InputError(f"node {node.name!r} is defined twice")
        if not isinstance(node.inputs, tuple) or not all(isinstance(i, str) for i in node.inputs):
            raise InputError(f"node {node.name!r}: inputs must be a tuple of node names, got {node.inputs!r}")
        index[node.name] = node
    for node in nodes:
        for name in node.inputs:
            if name not in index:
                raise InputError(f"node {node.name!r}: input {name!r} is not a node of the graph "
                                 f"({_names(nodes)})")
    done: dict[str, bool] = {}  # False while on the stack, True when placed
    order: list[Node] = []

    def visit(node: Node, path: list[str]) -> None:
        state = done.get(node.name)
        if state is True:
            return
        if state is False:
            cycle = path[path.index(node.name):] + [node.name]
            raise InputError(f"node {node.name!r} is on a cycle: {' -> '.join(reversed(cycle))}")
        done[node.name] = False
        for name in node.inputs:
            visit(index[name], path + [node.name])
        done[node.name] = True
        order.append(node)

    for node in nodes:
        visit(node, [])
    return tuple(order)
