"""Drawing a backward pass: the graph laid out in columns, as TikZ (LaTeX) and Mermaid (Markdown),
each edge labelled with the value it carries forward and the gradient flowing back along it."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Lane:
    """A detour below (or above) the nodes: the edge leaves its source diagonally to height ``y`` at
    ``start``, runs level to ``end`` and rises (or falls) to its target; its labels sit at ``pos``
    (0 to 1) of the level run."""

    y: float
    start: float
    end: float
    pos: float


#: Column units: the diagonal run of a lane's ends; the half width of a label; the gap between lanes (rows).
_RUN, _HALF_LABEL, _LANE_GAP = 0.3, 0.2, 0.5


def _lanes(places: Mapping[str, tuple[int, float]], detours: list[tuple[str, str]]) -> dict[tuple[str, str, int], Lane]:
    """Lanes for the edges that would pass a node, when there are several (several arcs cross each
    other's labels). Shorter edges run nearer the nodes; an edge runs one gap beyond every placed edge
    whose span overlaps its own and beyond the nodes it passes, so level runs never meet. Each edge's labels
    go where its level run is farthest from the diagonal ends of the edges that cross it."""
    def span(edge: tuple[str, str]) -> tuple[float, float]:
        return float(places[edge[0]][0]), float(places[edge[1]][0])

    def below(edge: tuple[str, str]) -> bool:
        return _obstacle(places, *edge) != "below"  # route away from the node it passes

    order = sorted(range(len(detours)), key=lambda i: (span(detours[i])[1] - span(detours[i])[0], span(detours[i]), i))
    placed: list[tuple[int, float]] = []
    heights: dict[int, float] = {}
    for i in order:
        (x0, x1), down = span(detours[i]), below(detours[i])
        sign = -1.0 if down else 1.0
        ends = [places[detours[i][0]][1], places[detours[i][1]][1]]
        between = [y for x, y in places.values() if x0 <= x <= x1]
        bound = min(ends + between) if down else max(ends + between)
        for j, y in placed:
            a0, a1 = span(detours[j])
            if a0 < x1 and x0 < a1 and below(detours[j]) == down:
                bound = min(bound, y) if down else max(bound, y)
        heights[i] = bound + sign * _LANE_GAP
        placed.append((i, heights[i]))
    out: dict[tuple[str, str, int], Lane] = {}
    counts: dict[tuple[str, str], int] = {}
    for i, (source, target) in enumerate(detours):
        count = counts.get((source, target), 0)
        counts[(source, target)] = count + 1
        x0, x1 = span((source, target))
        start, end = x0 + _RUN, x1 - _RUN
        # the diagonal ends of the edges running beyond this one cross its level run
        crossings = [x for j, (s, t) in enumerate(detours) if abs(heights[j]) > abs(heights[i])
                     for x in (span((s, t))[0] + _RUN / 2, span((s, t))[1] - _RUN / 2) if start < x < end]
        candidates = [start + _HALF_LABEL + k * (end - start - 2 * _HALF_LABEL) / 40 for k in range(41)]
        # clear of every crossing by a label's width if possible; then as central as possible
        best = max(candidates, key=lambda c: (min(min((abs(c - x) for x in crossings), default=1.0),
                                                  2 * _HALF_LABEL + 0.1), -abs(c - (start + end) / 2)))
        out[(source, target, count)] = Lane(heights[i], start, end, (best - start) / (end - start))
    return out


def tikz(back: "Backward", digits: int = 2) -> str:
    """A ``tikzpicture`` (plain TikZ, no libraries): forward values in green
    above each edge, gradients in red below. An edge that would pass a node arcs
    around it; when several would, each runs in a lane of its own (see :func:`_lanes`)."""
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
    edges = [(source, target or "sg-output", value, gradient) for source, target, value, gradient in back.edges(digits)]
    detours = [(s, t) for s, t, _, _ in edges if t in places and _obstacle(places, s, t)]
    lanes = _lanes(places, detours) if len(detours) > 1 else {}
    seen: dict[tuple[str, str], int] = {}
    for source, target, value, gradient in edges:
        count = seen.get((source, target), 0)
        seen[(source, target)] = count + 1
        if (source, target, count) in lanes:
            lane = lanes[(source, target, count)]
            at = f", pos={_num(lane.pos)}"
            lines.append(rf"\draw[->, rounded corners=6pt] ({source}) -- ({_num(lane.start)},{_num(lane.y)}) -- "
                         rf"node[fwd{at}] {{${value}$}} node[bwd{at}] {{${gradient}$}} "
                         rf"({_num(lane.end)},{_num(lane.y)}) -- ({target});")
            continue
        labels = rf"node[fwd] {{${value}$}} node[bwd] {{${gradient}$}}"
        # A repeated edge, or one that would cross a node, arcs (away from the node).
        side = _obstacle(places, source, target) if target in places else ""
        turns = count + (1 if side else 0)
        first, second = ("left", "right") if side == "below" else ("right", "left")
        # An arc around a node bends further (its labels clear the node it passes).
        angle = 20 * ((turns + 1) // 2) + (15 if side else 0)
        bend = "" if turns == 0 else f", bend {first if turns % 2 else second}={angle}"
        lines.append(rf"\draw[->{bend}] ({source}) to {labels} ({target});")
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
