r"""Computation graphs: a forward pass of values and a backward pass of adjoints.

A :class:`Graph` is a topologically ordered tuple of :class:`Node` records,
each naming its op and its input nodes. Tracing (:meth:`Graph.from_expr`,
:meth:`Graph.add`) knows nothing of derivatives; the local derivatives of the
ops are data in :data:`OPS` (one :class:`Op` per primitive, registered with
:func:`register_op`), like HIPS/autograd's ``defvjp``.

The backward pass applies one law. Write :math:`\bar v = \partial f/\partial v`
for the *adjoint* of node :math:`v`, the derivative of the output :math:`f`
with respect to :math:`v`'s value while every node that does not depend on
:math:`v` is held fixed. Then :math:`\bar f = 1` and

.. math:: \bar v = \sum_{c \in \mathrm{consumers}(v)} \bar c \,
          \frac{\partial c}{\partial v},

one term per input slot of a consumer that reads :math:`v` (a node read twice
contributes twice). :meth:`Graph.backward` returns each adjoint with a
:class:`~symgrad.model.Proof` of it: the chain starts at the true derivative
(SymPy's ``Derivative`` of the output as a function of that node's value),
states the sum above, then its simplified value; the kernel checks every
step, so a wrong local-derivative rule is *refuted*, never trusted.

:meth:`Backward.table` and :meth:`Backward.figure` (or :meth:`Graph.table`
and :meth:`Graph.figure` at a point) give the document blocks: a
forward/backward table and a figure (TikZ for LaTeX, Mermaid for Markdown)
with values and gradients on the edges.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Callable, Iterator, Mapping, Sequence

import sympy as sp

from ..core.budget import OutOfTime, run_within
from ..core.errors import InputError, UnsupportedError
from ..core.functions import sigmoid
from ..proofs.documents import Figure, Table
from ..proofs.proof import Proof, Report, calc
from ..core.verdicts import Status

__all__ = [
    "Op",
    "OPS",
    "register_op",
    "Node",
    "NodeSymbol",
    "Graph",
    "Term",
    "Adjoint",
    "Backward",
]

# ---------------------------------------------------------------------------
# Ops: how each primitive computes, and its local derivatives (data).
# ---------------------------------------------------------------------------

#: What a node (or op) name looks like: it is also a TikZ and Mermaid identifier.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

Args = tuple[sp.Expr, ...]
Param = Any  # a SymPy number (scale, shift, pow, const), a Symbol (input) or None


@dataclass(frozen=True)
class Op:
    r"""A primitive operation of a graph.

    ``apply(args, param)`` is the node's value from its inputs' values;
    ``partials(out, args, param)`` are the local derivatives
    :math:`\partial\,\mathrm{out}/\partial\,\mathrm{args}_i`, one per input
    slot (``out`` is the node's own value, so ``exp`` can say "itself").
    ``arity`` is the number of inputs (``None``: two or more). ``label`` and
    ``tex_label`` name the gate in figures (ASCII for Mermaid, LaTeX for
    TikZ); ``rule`` states the local derivative law in ASCII for
    justifications. ``param`` is required when ``takes_param``.
    """

    name: str
    arity: int | None
    apply: Callable[[Args, Param], sp.Expr]
    partials: Callable[[sp.Expr, Args, Param], Args]
    label: Callable[[Param], str]
    tex_label: Callable[[Param], str]
    rule: str
    takes_param: bool = False

    @property
    def is_leaf(self) -> bool:
        return self.arity == 0


#: The registered ops by name. Extend with :func:`register_op`.
OPS: dict[str, Op] = {}

#: SymPy function classes that :meth:`Graph.from_expr` turns into one node of an op.
FUNCTION_OPS: dict[type, str] = {}


def register_op(op: Op, function: type | None = None, *, replace: bool = False) -> Op:
    """Register ``op``; with ``function`` (a one-argument SymPy function class),
    :meth:`Graph.from_expr` traces ``function(a)`` as one node of this op."""
    if not isinstance(op, Op):
        raise InputError(f"register_op: expected an Op, got {type(op).__name__}")
    if not _NAME.match(op.name):
        raise InputError(f"register_op: op name {op.name!r} must be a letter followed by letters, digits or _")
    if op.name in OPS and not replace:
        raise InputError(f"op {op.name!r} is already registered (pass replace=True to override)")
    OPS[op.name] = op
    if function is not None:
        FUNCTION_OPS[function] = op.name
    return op


def _op(name: str, where: str) -> Op:
    try:
        return OPS[name]
    except KeyError:
        raise InputError(f"{where}: unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None


def _text(value: Param) -> str:
    """A number in ASCII, parenthesised unless it is a plain integer or decimal."""
    text = sp.sstr(value)
    return text if re.fullmatch(r"-?[0-9.]+|[A-Za-z]\w*", text) else f"({text})"


def _tex(value: Param) -> str:
    return sp.latex(value)


def _product(items: Sequence[sp.Expr]) -> sp.Expr:
    return sp.Mul(*items) if items else sp.S.One


def _mul_partials(out: sp.Expr, args: Args, param: Param) -> Args:
    return tuple(_product(args[:i] + args[i + 1:]) for i in range(len(args)))


def _unary(name: str, fn: Callable[[sp.Expr], sp.Expr], partial: Callable[[sp.Expr, sp.Expr], sp.Expr],
           label: str, tex_label: str, rule: str, function: type | None = None) -> None:
    register_op(Op(name, 1, lambda a, p: fn(a[0]), lambda out, a, p: (partial(out, a[0]),),
                   lambda p: label, lambda p: tex_label, rule), function)


register_op(Op("input", 0, lambda a, p: p, lambda out, a, p: (), lambda p: "input", lambda p: f"${sp.latex(p)}$",
               "an input has no inputs", takes_param=True))
register_op(Op("const", 0, lambda a, p: p, lambda out, a, p: (), _text, lambda p: f"${_tex(p)}$",
               "a constant has no inputs", takes_param=True))
register_op(Op("add", None, lambda a, p: sp.Add(*a), lambda out, a, p: (sp.S.One,) * len(a),
               lambda p: "+", lambda p: "$+$", "d(a + b)/da = 1"))
register_op(Op("mul", None, lambda a, p: sp.Mul(*a), _mul_partials,
               lambda p: "*", lambda p: r"$\times$", "d(a*b)/da = b"))
register_op(Op("neg", 1, lambda a, p: -a[0], lambda out, a, p: (sp.S.NegativeOne,),
               lambda p: "-x", lambda p: "$-x$", "d(-a)/da = -1"))
register_op(Op("scale", 1, lambda a, p: p * a[0], lambda out, a, p: (p,),
               lambda p: f"*{_text(p)}", lambda p: rf"$\times {_tex(p)}$", "d(c*a)/da = c", takes_param=True))
register_op(Op("shift", 1, lambda a, p: a[0] + p, lambda out, a, p: (sp.S.One,),
               lambda p: f"+{_text(p)}" if not sp.sstr(p).startswith("-") else _text(p),
               lambda p: f"${'+' if not sp.sstr(p).startswith('-') else ''}{_tex(p)}$",
               "d(a + c)/da = 1", takes_param=True))
register_op(Op("recip", 1, lambda a, p: 1 / a[0], lambda out, a, p: (-1 / a[0] ** 2,),
               lambda p: "1/x", lambda p: "$1/x$", "d(1/a)/da = -1/a^2"))
register_op(Op("pow", 1, lambda a, p: a[0] ** p, lambda out, a, p: (p * a[0] ** (p - 1),),
               lambda p: f"^{_text(p)}", lambda p: f"$x^{{{_tex(p)}}}$", "d(a^c)/da = c*a^(c-1)",
               takes_param=True))
register_op(Op("power", 2, lambda a, p: a[0] ** a[1],
               lambda out, a, p: (a[1] * a[0] ** (a[1] - 1), out * sp.log(a[0])),
               lambda p: "a^b", lambda p: "$a^b$", "d(a^b)/da = b*a^(b-1), d(a^b)/db = a^b*log(a)"))
_unary("exp", sp.exp, lambda out, a: out, "exp", r"$\exp$", "d exp(a)/da = exp(a)", sp.exp)
_unary("log", sp.log, lambda out, a: 1 / a, "log", r"$\log$", "d log(a)/da = 1/a", sp.log)
_unary("sigmoid", sigmoid, lambda out, a: out * (1 - out), "sigmoid", r"$\sigma$",
       "d sigma(a)/da = sigma(a)*(1 - sigma(a))", sigmoid)
_unary("tanh", sp.tanh, lambda out, a: 1 - out ** 2, "tanh", r"$\tanh$", "d tanh(a)/da = 1 - tanh(a)^2", sp.tanh)
_unary("sin", sp.sin, lambda out, a: sp.cos(a), "sin", r"$\sin$", "d sin(a)/da = cos(a)", sp.sin)
_unary("cos", sp.cos, lambda out, a: -sp.sin(a), "cos", r"$\cos$", "d cos(a)/da = -sin(a)", sp.cos)

#: Seconds each simplifier may spend tidying one adjoint (it is kept unsimplified otherwise).
TIDY_SECONDS = 2.0

# The two laws every backward step cites (declared in symgrad.core.rules; the kernel checks the steps).
ADJOINT_SUM = "adjoint-sum"
ADJOINT_SEED = "adjoint-seed"

# ---------------------------------------------------------------------------
# Nodes and graphs
# ---------------------------------------------------------------------------


class NodeSymbol(sp.Symbol):
    r"""The value of an intermediate node as a variable; ``mul1`` prints as :math:`\mathrm{mul}_{1}`."""

    def _latex(self, printer: Any) -> str:
        match = re.fullmatch(r"([A-Za-z]+)_?([0-9]*)", self.name)
        if match is None:
            return printer._print_Symbol(self)
        letters, digits = match.groups()
        return rf"\mathrm{{{letters}}}_{{{digits}}}" if digits else rf"\mathrm{{{letters}}}"


@dataclass(frozen=True)
class Node:
    """A node: its ``name``, the ``op`` that makes it, the names of its ``inputs``.

    ``param`` is the op's parameter (the symbol of an ``input``, the number of
    a ``const``, ``scale``, ``shift`` or ``pow``). ``expr`` is the node's value
    as an expression of the inputs; a :class:`Graph` fills it in.
    """

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    param: Param = None
    expr: sp.Expr | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        head = self.op if self.param is None or self.op == "input" else f"{self.op}[{sp.sstr(self.param)}]"
        return f"{self.name} = {head}({', '.join(self.inputs)})" if self.inputs else f"{self.name} = {head}"


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
        tracer = _Tracer(expr, binary)
        tracer.trace(expr)
        return cls(tuple(tracer.nodes))

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
        return {n.name: OPS[n.op].partials(fwd[n.name], tuple(fwd[i] for i in n.inputs), n.param)
                for n in self.nodes}

    def backward(self, values: ValueMap | None = None, *, check: bool = True) -> "Backward":
        """Every adjoint ``df/dnode`` with its proof, from the output back to the inputs.

        With ``values``, adjoints are exact numbers at that point; without,
        expressions in the inputs. ``check`` runs the kernel on every proof
        (its report is on the :class:`Adjoint`). Nodes the output does not
        depend on are left out.
        """
        fwd = self.forward(values)
        local = self.local_derivatives(forward=fwd)
        live = self.ancestors()
        live_names = {n.name for n in live}
        out_name = self.output.name
        adjoints: dict[str, Adjoint] = {}
        for node in reversed(live):
            if node.name == out_name:
                terms: tuple[Term, ...] = ()
                value: sp.Expr = sp.S.One
            else:
                terms = tuple(Term(c, slot, adjoints[c].value, local[c][slot])
                              for c, slot in self.consumers(node.name) if c in live_names)
                value = _tidy(sp.Add(*(t.contribution for t in terms)))
            proof = self._adjoint_proof(node, terms, value, fwd, values is not None)
            report = proof.check() if check else None
            adjoints[node.name] = Adjoint(node.name, value, terms, proof, report)
        return Backward(self, adjoints, fwd, values is not None)

    def gradient(self, values: ValueMap | None = None, *, check: bool = True) -> dict[str, sp.Expr]:
        """The adjoints of the inputs (``df/dx`` for each input ``x``)."""
        return self.backward(values, check=check).gradient

    # -- proofs -----------------------------------------------------------
    def _adjoint_proof(self, node: Node, terms: tuple["Term", ...], value: sp.Expr,
                       fwd: Mapping[str, sp.Expr], numeric: bool) -> Proof:
        variable = node.param if node.op == "input" else self._node_symbol(node.name)
        as_function = self._output_with(node.name, variable, fwd if numeric else None)
        derivative = sp.Derivative(as_function, variable)
        here = fwd[node.name]
        start = derivative if here == variable else sp.Subs(derivative, variable, here)
        kind = "the input" if node.op == "input" else f"the {OPS[node.op].label(node.param)} gate"
        title = f"Adjoint of {node.name}, {kind}" if node.op != "const" else f"Adjoint of the constant {node.name}"
        proof = calc(start, title=title)
        if not terms:  # the output (every other node the output depends on has a consumer)
            return proof.eq(sp.S.One, by="the output's adjoint is 1", rule=ADJOINT_SEED)
        products = [sp.Mul(t.upstream, t.local, evaluate=False) for t in terms]
        chain = products[0] if len(products) == 1 else sp.Add(*products, evaluate=False)
        parts = "; ".join(f"(df/d{t.consumer})(d{t.consumer}/d{node.name}) with {OPS[self[t.consumer].op].rule}"
                          for t in terms)
        proof = proof.eq(chain, by=f"sum over the consumers of {node.name}: {parts}", rule=ADJOINT_SUM)
        if value != chain:
            proof = proof.eq(value, rule="algebra")
        return proof

    def _node_symbol(self, name: str) -> sp.Symbol:
        taken = {s.name for n in self.inputs for s in n.param.free_symbols}
        label = name
        while label in taken:
            label += "_"
        return NodeSymbol(label, real=True)

    def _output_with(self, name: str, variable: sp.Expr, fwd: Mapping[str, sp.Expr] | None) -> sp.Expr:
        """The output as a function of node ``name``'s value (``variable``).

        Every node the output depends on is recomputed from its inputs, with
        ``name`` replaced by ``variable`` and (when ``fwd`` is given) every
        other input fixed at its value there.
        """
        exprs: dict[str, sp.Expr] = {}
        for node in self.ancestors():
            if node.name == name:
                exprs[node.name] = variable
            elif node.op == "input":
                exprs[node.name] = fwd[node.name] if fwd is not None else node.param
            else:
                exprs[node.name] = OPS[node.op].apply(tuple(exprs[i] for i in node.inputs), node.param)
        return exprs[self.output.name]

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
            given[name] = _number(value, f"{where}: value of input {name!r}")
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

    def _layout(self) -> dict[str, tuple[int, float]]:
        """``(column, height)`` of every node the output depends on.

        Columns by depth (longest path from an input; an input sits just left
        of its first consumer). Heights as a tidy tree from the output: inputs
        get rows in the order a depth-first walk from the output meets them,
        each gate sits at the mean height of its inputs, and nodes of a column
        that would come closer than one row are pushed apart (a DAG is not a
        tree).
        """
        live = self.ancestors()
        depth: dict[str, int] = {}
        for node in live:
            depth[node.name] = 1 + max((depth[i] for i in node.inputs), default=-1)
        live_names = {n.name for n in live}
        for node in live:
            if OPS[node.op].is_leaf:
                users = [depth[c] for c, _ in self.consumers(node.name) if c in live_names]
                depth[node.name] = max(0, min(users, default=1) - 1)
        shift = min(depth.values())
        rows: dict[str, float] = {}
        visited: dict[str, int] = {}

        def walk(name: str) -> None:
            if name in visited:
                return
            visited[name] = len(visited)
            node = self[name]
            if OPS[node.op].is_leaf:
                rows[name] = -float(sum(1 for n in rows))
            for child in node.inputs:
                walk(child)

        walk(self.output.name)
        height: dict[str, float] = {}
        for column in sorted(set(depth.values())):
            members = [n for n in live if depth[n.name] == column]
            wanted = {n.name: rows[n.name] if OPS[n.op].is_leaf else
                      sum(height[i] for i in n.inputs) / len(n.inputs) for n in members}
            previous: float | None = None
            for name in sorted(wanted, key=lambda m: (-wanted[m], visited[m])):
                y = wanted[name] if previous is None else min(wanted[name], previous - 1.0)
                height[name] = previous = y
        return {n.name: (depth[n.name] - shift, height[n.name]) for n in live}

    def _obstacle(self, places: Mapping[str, tuple[int, float]], source: str, target: str) -> str:
        """Where the nearest node close to the straight edge ``source -> target`` lies:
        ``"above"``, ``"below"`` or ``""`` (none within half a row)."""
        (x0, y0), (x1, y1) = places[source], places[target]
        nearest, side = 0.45, ""
        for name, (x, y) in places.items():
            if x0 < x < x1 and name not in (source, target):
                offset = y - (y0 + (y1 - y0) * (x - x0) / (x1 - x0))
                if abs(offset) < nearest:
                    nearest, side = abs(offset), "above" if offset >= 0 else "below"
        return side


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;")


def _tikz_text(text: str) -> str:
    return text.replace("_", r"\_")


# ---------------------------------------------------------------------------
# Results of the backward pass
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One term of an adjoint: the ``consumer``'s adjoint (``upstream``) times the
    local derivative of the consumer with respect to its input ``slot``."""

    consumer: str
    slot: int
    upstream: sp.Expr
    local: sp.Expr

    @property
    def contribution(self) -> sp.Expr:
        return self.upstream * self.local


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


@dataclass(frozen=True)
class Backward(Mapping[str, Adjoint]):
    """The backward pass: the adjoint of every node, from the output back.

    ``forward`` holds the forward values it used; ``numeric`` says whether
    they are numbers (a point was given) or expressions.
    """

    graph: Graph
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
                value: Any = _fixed(self.forward[node.name], digits)
                adjoint: Any = _fixed(self[node.name].value, digits)
                slopes = ", ".join(f"{i}: {_fixed(d, digits)}" for i, d in pairs)
            else:
                value, adjoint = self.forward[node.name], self[node.name].value
                slopes = ", ".join(f"{i}: {sp.sstr(_tidy(d))}" for i, d in pairs)
            rows.append((node.name, OPS[node.op].label(node.param), ", ".join(node.inputs) or "-",
                         value, slopes or "-", adjoint))
        return Table(columns=("node", "op", "inputs", "value", "local derivative per input", "adjoint df/dnode"),
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
        self._require_numbers("edges")
        graph = self.graph
        out = []
        for node in graph.ancestors():
            for slot, name in enumerate(node.inputs):
                term = next(t for t in self[name].terms if t.consumer == node.name and t.slot == slot)
                out.append((name, node.name, _fixed(self.forward[name], digits), _fixed(term.contribution, digits)))
        last = graph.output.name
        out.append((last, "", _fixed(self.forward[last], digits), _fixed(sp.S.One, digits)))
        return out

    def tikz(self, *, digits: int = 2) -> str:
        """A ``tikzpicture`` (plain TikZ, no libraries): forward values in green
        above each edge, gradients in red below."""
        graph = self.graph
        places = graph._layout()
        steps = max(x for x, _ in places.values()) + 1  # column steps, the output edge included
        step = min(2.4, round(14.8 / steps, 2))  # the picture fits a 16 cm text width
        lines = [
            rf"\begin{{tikzpicture}}[x={step}cm, y=1.5cm, font=\footnotesize,",
            r"  gate/.style={draw, circle, inner sep=1.5pt, minimum size=7mm, fill=black!4},",
            r"  leaf/.style={inner sep=2pt},",
            r"  gatename/.style={font=\tiny, text=black!55},",
            r"  fwd/.style={above, sloped, pos=0.42, text=green!45!black, inner sep=1.5pt},",
            r"  bwd/.style={below, sloped, pos=0.42, text=red!75!black, inner sep=1.5pt}]",
        ]
        for node in graph.ancestors():
            x, y = places[node.name]
            label = OPS[node.op].tex_label(node.param)
            if OPS[node.op].is_leaf:
                lines.append(rf"\node[leaf] ({node.name}) at ({x},{_num(y)}) {{{label}}};")
            else:
                lines.append(rf"\node[gate, label={{[gatename]above:{_tikz_text(node.name)}}}] ({node.name}) "
                             rf"at ({x},{_num(y)}) {{{label}}};")
        ox, oy = places[graph.output.name]
        lines.append(rf"\node[leaf] (sg-output) at ({ox + 1},{_num(oy)}) {{$f$}};")
        seen: dict[tuple[str, str], int] = {}
        for source, target, value, gradient in self.edges(digits):
            target = target or "sg-output"
            count = seen.get((source, target), 0)
            seen[(source, target)] = count + 1
            # A repeated edge, or one that would cross a node, arcs (away from the node).
            side = graph._obstacle(places, source, target) if target in places else ""
            turns = count + (1 if side else 0)
            first, second = ("left", "right") if side == "below" else ("right", "left")
            bend = "" if turns == 0 else f", bend {first if turns % 2 else second}={20 * ((turns + 1) // 2)}"
            lines.append(rf"\draw[->{bend}] ({source}) to node[fwd] {{${value}$}} node[bwd] {{${gradient}$}} "
                         rf"({target});")
        lines.append(r"\end{tikzpicture}")
        return "\n".join(lines)

    def mermaid(self, *, digits: int = 2) -> str:
        """A fenced Mermaid flowchart; each edge reads ``value / gradient``."""
        graph = self.graph
        ids = {n.name: f"n_{n.name}" for n in graph.nodes}
        lines = ["```mermaid", "flowchart LR"]
        gates = []
        for node in graph.ancestors():
            op = OPS[node.op]
            label = _mermaid_text(node.name if node.op == "input" else op.label(node.param))
            lines.append(f'  {ids[node.name]}["{label}"]' if op.is_leaf else f'  {ids[node.name]}(("{label}"))')
            if not op.is_leaf:
                gates.append(ids[node.name])
        lines.append('  n__output["f"]')
        for source, target, value, gradient in self.edges(digits):
            lines.append(f'  {ids[source]} -- "{value} / {gradient}" --> {ids[target] if target else "n__output"}')
        if gates:
            lines += ["  classDef gate fill:#f4f4f4,stroke:#333", f"  class {','.join(gates)} gate"]
        lines.append("```")
        return "\n".join(lines)

    def _require_numbers(self, what: str) -> None:
        if not self.numeric:
            raise InputError(f"{what}: the figure needs numbers; run the backward pass at a point "
                             "(graph.backward(values))")

    def __repr__(self) -> str:
        lines = ["Backward("]
        for adjoint in self.adjoints.values():
            status = "" if adjoint.status is None else f"  [{adjoint.status.value}]"
            lines.append(f"  d{self.graph.output.name}/d{adjoint.node} = {sp.sstr(adjoint.value)}{status}")
        return "\n".join(lines) + "\n)"


# ---------------------------------------------------------------------------
# Helpers: validation, tracing, numbers
# ---------------------------------------------------------------------------


def _names(nodes: Sequence[Node]) -> str:
    return "nodes: " + (", ".join(n.name for n in nodes) or "none")


def _validated(node: Node) -> Node:
    where = f"node {node.name!r}"
    op = _op(node.op, where)
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
        node = replace(node, param=_number(node.param, where))
    return node


def _topological(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
    """The nodes in a topological order (the given order where it is one).

    Raises InputError for a bad or duplicate name, an input that is not a
    node, or a cycle (naming its nodes).
    """
    index: dict[str, Node] = {}
    for node in nodes:
        if not isinstance(node.name, str) or not _NAME.match(node.name):
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


def _number(value: Any, where: str) -> sp.Expr:
    """An exact SymPy number; floats are read as the decimal they print as."""
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a number, got the boolean {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{where}: expected a finite number, got {value!r}")
        fraction = Fraction(repr(value))
        return sp.Rational(fraction.numerator, fraction.denominator)
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, sp.Basic) and isinstance(value, sp.Expr) and value.is_number:
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise InputError(f"{where}: expected a finite number, got {value}")
        if isinstance(value, sp.Float):
            return sp.nsimplify(value, rational=True)
        return value
    raise InputError(f"{where}: expected a number (int, float, Fraction or a SymPy number), got {value!r}")


def _tidy(expr: sp.Expr) -> sp.Expr:
    """The simplest of ``expr`` and its cancelled, factored and simplified forms
    (fewest operations), among those that use no function ``expr`` does not
    (``simplify`` likes to trade ``exp`` for ``cosh``)."""
    if expr.is_Atom:
        return expr
    functions = {type(f) for f in expr.atoms(sp.Function)}
    candidates = [expr]
    for simplifier in (sp.cancel, sp.factor, sp.simplify):
        try:
            candidate = run_within(lambda: simplifier(expr), TIDY_SECONDS)
        except (OutOfTime, sp.PolynomialError, TypeError, ValueError):
            continue
        if {type(f) for f in candidate.atoms(sp.Function)} <= functions:
            candidates.append(candidate)
    return min(candidates, key=lambda e: (sp.count_ops(e), len(sp.srepr(e))))


def _fixed(value: sp.Expr, digits: int) -> str:
    """``value`` rounded to ``digits`` decimals (``-0.00`` shown as ``0.00``)."""
    number = float(sp.N(value, 30))
    text = f"{number:.{digits}f}"
    return text[1:] if re.fullmatch(r"-0\.?0*", text) else text


class _Tracer:
    """Walks a SymPy expression into nodes; knows nothing of derivatives."""

    def __init__(self, expr: sp.Expr, binary: bool) -> None:
        self.binary = binary
        self.nodes: list[Node] = []
        self.by_expr: dict[sp.Expr, str] = {}
        self.counts: dict[str, int] = {}
        self.taken = {s.name for s in expr.free_symbols}

    def trace(self, expr: sp.Expr) -> str:
        if expr in self.by_expr:
            return self.by_expr[expr]
        op, param, children = self.decompose(expr)
        inputs = tuple(self.trace(child) for child in children)
        if op == "input":
            name = expr.name  # type: ignore[attr-defined]
            if not _NAME.match(name):
                raise InputError(f"Graph.from_expr: the symbol {name!r} cannot name a node (a name is a letter "
                                 "followed by letters, digits or _); rename the symbol")
        else:
            name = self.fresh("c" if op == "const" else op)
        self.nodes.append(Node(name, op, inputs, param))
        self.by_expr[expr] = name
        return name

    def fresh(self, base: str) -> str:
        while True:
            self.counts[base] = self.counts.get(base, 0) + 1
            name = f"{base}{self.counts[base]}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def decompose(self, expr: sp.Expr) -> tuple[str, Param, tuple[sp.Expr, ...]]:
        """``(op, param, children)`` of one node for ``expr``."""
        if isinstance(expr, sp.Symbol):
            return "input", expr, ()
        if expr.is_number:
            return "const", _number(expr, f"Graph.from_expr: the constant {expr}"), ()
        if isinstance(expr, sp.Add):
            terms = list(expr.as_ordered_terms())
            constant = sp.Add(*(t for t in terms if t.is_number))
            rest = [t for t in terms if not t.is_number]
            if constant != 0:
                return "shift", constant, (sp.Add(*rest),)
            if all(t.could_extract_minus_sign() for t in terms):
                return "neg", None, (-expr,)
            if self.binary and len(terms) > 2:
                return "add", None, (sp.Add(*terms[:-1]), terms[-1])
            return "add", None, tuple(terms)
        if isinstance(expr, sp.Mul):
            factors = list(expr.as_ordered_factors())
            coefficient = sp.Mul(*(f for f in factors if f.is_number))
            rest = [f for f in factors if not f.is_number]
            if coefficient == -1:
                return "neg", None, (sp.Mul(*rest),)
            if coefficient != 1:
                return "scale", coefficient, (sp.Mul(*rest),)
            if self.binary and len(rest) > 2:
                return "mul", None, (sp.Mul(*rest[:-1]), rest[-1])
            return "mul", None, tuple(rest)
        if isinstance(expr, sp.Pow):
            base, exponent = expr.args
            if exponent.is_number:
                if exponent == -1:
                    return "recip", None, (base,)
                return "pow", exponent, (base,)
            return "power", None, (base, exponent)
        if isinstance(expr, sp.Function) and type(expr) in FUNCTION_OPS and len(expr.args) == 1:
            return FUNCTION_OPS[type(expr)], None, (expr.args[0],)
        known = ", ".join(sorted({*(f.__name__ for f in FUNCTION_OPS)}))
        raise UnsupportedError(f"Graph.from_expr: cannot trace {expr} (a {type(expr).__name__}); supported: "
                               f"sums, products, powers and the functions {known}")
