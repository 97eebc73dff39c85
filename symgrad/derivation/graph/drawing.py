"""Drawing a backward pass: the graph laid out in columns, as TikZ (LaTeX) and Mermaid (Markdown),
each edge labelled with the value it carries forward and the gradient flowing back along it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from .ops import OPS

if TYPE_CHECKING:
    from .backward import Backward
    from .structure import Graph

__all__ = ["layout", "tikz", "mermaid"]


def layout(graph: "Graph") -> dict[str, tuple[int, float]]:
    """``(column, height)`` of every node the output depends on.

    Columns by depth (longest path from an input; an input sits just left
    of its first consumer). Heights as a tidy tree from the output: inputs
    get rows in the order a depth-first walk from the output meets them,
    each gate sits at the mean height of its inputs, and nodes of a column
    that would come closer than one row are pushed apart (a DAG is not a
    tree).
    """
    live = graph.ancestors()
    depth: dict[str, int] = {}
    for node in live:
        depth[node.name] = 1 + max((depth[i] for i in node.inputs), default=-1)
    live_names = {n.name for n in live}
    for node in live:
        if OPS[node.op].is_leaf:
            users = [depth[c] for c, _ in graph.consumers(node.name) if c in live_names]
            depth[node.name] = max(0, min(users, default=1) - 1)
    shift = min(depth.values())
    rows: dict[str, float] = {}
    visited: dict[str, int] = {}

    def walk(name: str) -> None:
        if name in visited:
            return
        visited[name] = len(visited)
        node = graph[name]
        if OPS[node.op].is_leaf:
            rows[name] = -float(sum(1 for n in rows))
        for child in node.inputs:
            walk(child)

    walk(graph.output.name)
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


def _obstacle(places: Mapping[str, tuple[int, float]], source: str, target: str) -> str:
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


def tikz(back: "Backward", digits: int = 2) -> str:
    """A ``tikzpicture`` (plain TikZ, no libraries): forward values in green
    above each edge, gradients in red below."""
    graph = back.graph
    places = layout(graph)
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
    for source, target, value, gradient in back.edges(digits):
        target = target or "sg-output"
        count = seen.get((source, target), 0)
        seen[(source, target)] = count + 1
        # A repeated edge, or one that would cross a node, arcs (away from the node).
        side = _obstacle(places, source, target) if target in places else ""
        turns = count + (1 if side else 0)
        first, second = ("left", "right") if side == "below" else ("right", "left")
        # An arc around a node bends further (its labels clear the node it passes).
        angle = 20 * ((turns + 1) // 2) + (15 if side else 0)
        bend = "" if turns == 0 else f", bend {first if turns % 2 else second}={angle}"
        lines.append(rf"\draw[->{bend}] ({source}) to node[fwd] {{${value}$}} node[bwd] {{${gradient}$}} "
                     rf"({target});")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def mermaid(back: "Backward", digits: int = 2) -> str:
    """A fenced Mermaid flowchart; each edge reads ``value / gradient``."""
    graph = back.graph
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
    for source, target, value, gradient in back.edges(digits):
        lines.append(f'  {ids[source]} -- "{value} / {gradient}" --> {ids[target] if target else "n__output"}')
    if gates:
        lines += ["  classDef gate fill:#f4f4f4,stroke:#333", f"  class {','.join(gates)} gate"]
    lines.append("```")
    return "\n".join(lines)


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;")


def _tikz_text(text: str) -> str:
    return text.replace("_", r"\_")
