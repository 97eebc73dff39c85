r"""Line breaking of display math: long formulas become several lines, not smaller ones.

:func:`break_lines` cuts LaTeX math (as ``sympy.latex`` prints it) into lines
no wider than a width in em, at top-level relation signs and binary ``+``/``-``
(and ``\quad`` separators); a single term still too wide is broken inside its
widest group (a ``\left(...\right)`` body, a fraction's numerator or
denominator, a square root), which then holds an ``aligned`` block. Both
LaTeX (amsmath) and KaTeX accept the result. Widths are estimated from the
source (:func:`width`): a typesetter-free guess, so the LaTeX templates keep a
last-resort scaling that never goes below 80%.

Pure functions of strings; deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["width", "break_lines", "CONTINUATION_INDENT"]

#: Indentation of a continuation line, in em (``\quad``).
CONTINUATION_INDENT = 1.0

_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|\s+|.", re.S)

_RELATIONS = frozenset(r"""= < > \le \leq \ge \geq \ne \neq \lt \gt \approx \equiv \sim \simeq \to
    \mapsto \ll \gg \propto \leqslant \geqslant \Rightarrow \Leftrightarrow \implies \iff""".split())
_BINOPS = frozenset(r"+ - \pm \mp \cdot \times".split())
_SEPARATORS = frozenset([r"\quad", r"\qquad"])
_ACCENTS = frozenset(r"""\hat \bar \tilde \vec \dot \ddot \breve \check \acute \grave \widehat \widetilde
    \overline \underline \mathbf \boldsymbol \mathit \mathsf \mathtt \mathcal \mathbb \mathfrak""".split())
_TEXTLIKE = frozenset([r"\operatorname", r"\mathrm", r"\text", r"\textrm", r"\textit", r"\textbf", r"\mbox"])
_WIDTHS: dict[str, float] = {
    r"\partial": 0.57, r"\ell": 0.42, r"\infty": 1.0, r"\sum": 1.45, r"\prod": 1.3, r"\int": 0.6,
    r"\ldots": 1.2, r"\dots": 1.2, r"\cdots": 1.2, r"\vdots": 0.3, r"\ddots": 1.2, r"\epsilon": 0.42,
    r"\,": 0.17, r"\;": 0.28, r"\:": 0.22, r"\!": -0.17, r"\ ": 0.33, r"\quad": 1.0, r"\qquad": 2.0,
    r"\{": 0.5, r"\}": 0.5, r"\|": 0.5, r"\vert": 0.28, r"\Vert": 0.5, r"\nabla": 0.83, r"\log": 1.3,
    r"\exp": 1.6, r"\ln": 0.9, r"\sin": 1.3, r"\cos": 1.4, r"\tanh": 2.2, r"\max": 1.8, r"\min": 1.7,
    r"\lim": 1.3, r"\sup": 1.4, r"\inf": 1.1, r"\det": 1.3, r"\limits": 0.0, r"\displaystyle": 0.0,
    r"\left": 0.0, r"\right": 0.0, r"\top": 0.78, r"\prime": 0.3, r"\star": 0.5, r"\circ": 0.5,
}
_CHAR_WIDTHS: dict[str, float] = {
    "(": 0.39, ")": 0.39, "[": 0.28, "]": 0.28, ",": 0.45, ".": 0.28, ";": 0.45, ":": 0.28,
    "!": 0.28, "'": 0.28, "|": 0.28, "/": 0.5, "m": 0.88, "w": 0.72, "M": 0.97, "W": 1.05,
    "i": 0.35, "j": 0.41, "l": 0.3, "f": 0.49, "t": 0.36, "r": 0.45,
}


@dataclass
class _Node:
    """A piece of math: ``kind`` is ``atom``, ``group`` ({...}), ``leftright`` or ``env``."""

    kind: str
    text: str = ""  # atom: the token; leftright: the two delimiters "open|close"; env: the source
    children: list["_Node"] = field(default_factory=list)
    arg_of: str = ""  # for groups: the command they are an argument of (\frac, \sqrt, ...)


def _tokens(latex: str) -> list[str]:
    return [t for t in _TOKEN.findall(latex)]


def _parse(tokens: list[str], i: int = 0, stop: str = "") -> tuple[list[_Node], int]:
    """Parse until ``stop`` (``}`` or ``\\right``); returns (nodes, index after the stop)."""
    nodes: list[_Node] = []
    pending_args: list[str] = []  # commands waiting for brace arguments
    while i < len(tokens):
        t = tokens[i]
        if stop and t == stop:
            return nodes, i + 1
        if t.isspace():
            i += 1
            continue
        if t == "{":
            owner = pending_args.pop(0) if pending_args else ""
            if owner in _TEXTLIKE:  # text: keep verbatim (spaces matter)
                depth, j = 1, i + 1
                while j < len(tokens) and depth:
                    depth += {"{": 1, "}": -1}.get(tokens[j], 0)
                    j += 1
                raw = "".join(tokens[i:j])
                nodes.append(_Node("group", children=[_Node("atom", text=raw[1:-1])], arg_of=owner))
                i = j
                continue
            children, i = _parse(tokens, i + 1, "}")
            nodes.append(_Node("group", children=children, arg_of=owner))
            continue
        pending_args = []
        if t == r"\left":
            open_delim, i = _delimiter(tokens, i + 1)
            children, i = _parse(tokens, i, r"\right")
            close_delim, i = _delimiter(tokens, i)
            nodes.append(_Node("leftright", text=f"{open_delim}|{close_delim}", children=children))
            continue
        if t == r"\begin":
            depth, j = 0, i
            while j < len(tokens):
                if tokens[j] == r"\begin":
                    depth += 1
                elif tokens[j] == r"\end":
                    depth -= 1
                    if depth == 0:
                        j += 4 if j + 3 < len(tokens) and tokens[j + 1] == "{" else 1
                        while j < len(tokens) and tokens[j - 1] != "}":
                            j += 1
                        break
                j += 1
            nodes.append(_Node("env", text="".join(tokens[i:j])))
            i = j
            continue
        if t in (r"\frac", r"\dfrac", r"\tfrac", r"\binom"):
            pending_args = [t, t + "/2"]
        elif t == r"\sqrt" or t in _ACCENTS or t in _TEXTLIKE or t == r"\substack":
            pending_args = [t]
        nodes.append(_Node("atom", text=t))
        i += 1
    return nodes, i


def _delimiter(tokens: list[str], i: int) -> tuple[str, int]:
    while i < len(tokens) and tokens[i].isspace():
        i += 1
    return (tokens[i], i + 1) if i < len(tokens) else ("", i)


def _source(nodes: list[_Node]) -> str:
    """LaTeX for ``nodes`` (spacing normalised)."""
    out: list[str] = []
    for n in nodes:
        if n.kind == "atom":
            piece = n.text
        elif n.kind == "group":
            piece = "{" + _source(n.children) + "}"
        elif n.kind == "leftright":
            open_delim, close_delim = n.text.split("|", 1)
            gap = " " if re.search(r"\\[A-Za-z]+$", open_delim) else ""  # \left\langle x, but \left(x
            piece = rf"\left{open_delim}{gap}" + _source(n.children) + rf"\right{close_delim}"
        else:
            piece = n.text
        if (out and piece.startswith(r"\left") and re.search(r"[A-Za-z0-9}']$", out[-1])
                and out[-1] not in _BINOPS and out[-1] not in _RELATIONS):
            pass  # a function's argument follows its name without a space: \sigma\left(z\right)
        elif out and re.match(r"\\[A-Za-z]+\*?$", out[-1]) and re.match(r"[A-Za-z]", piece):
            out.append(" ")
        elif out and out[-1] not in ("{", "_", "^") and piece not in ("_", "^") and not out[-1].endswith(" "):
            out.append(" ")
        out.append(piece)
    return "".join(out).replace("{ ", "{").replace(" }", "}").replace(" _", "_").replace(" ^", "^")


# ---------------------------------------------------------------------------
# Widths
# ---------------------------------------------------------------------------


def _is_operator(node: _Node | None) -> bool:
    return node is None or (node.kind == "atom" and (node.text in _RELATIONS or node.text in _BINOPS
                                                     or node.text in ("(", "[", ",", r"\{")))


def _atom_width(t: str) -> float:
    if t in _WIDTHS:
        return _WIDTHS[t]
    if t in _CHAR_WIDTHS:
        return _CHAR_WIDTHS[t]
    if t in _RELATIONS:
        return 1.34
    if t in _BINOPS:
        return 1.22
    if t.startswith("\\"):
        return 0.58 if len(t) > 2 else 0.3
    return 0.5 if t.isdigit() else (0.72 if t.isupper() else 0.52)


def _env_width(source: str, scale: float) -> float:
    body = re.sub(r"^\\begin\{[^}]*\}(\[[^]]*\])?|\\end\{[^}]*\}$", "", source)
    rows = re.split(r"\\\\", body)
    columns: dict[int, float] = {}
    for row in rows:
        for k, cell in enumerate(row.split("&")):
            columns[k] = max(columns.get(k, 0.0), width(cell, scale))
    return sum(columns.values()) + 1.0 * max(0, len(columns) - 1) + 1.0


def _width(nodes: list[_Node], scale: float, frac_depth: int) -> float:
    total = 0.0
    i = 0
    prev: _Node | None = None
    while i < len(nodes):
        n = nodes[i]
        w = 0.0
        if n.kind == "atom" and n.text in ("_", "^"):
            script = 0.0
            if i + 1 < len(nodes):
                script = _width([nodes[i + 1]], max(0.5, scale * 0.7), frac_depth)
                i += 1
            # A subscript and a superscript stack: count the wider one only.
            if i + 1 < len(nodes) and nodes[i + 1].kind == "atom" and nodes[i + 1].text in ("_", "^"):
                other = _width([nodes[i + 2]], max(0.5, scale * 0.7), frac_depth) if i + 2 < len(nodes) else 0.0
                script = max(script, other)
                i += 2
            total += script
            i += 1
            continue
        if n.kind == "atom":
            t = n.text
            if t in (r"\frac", r"\dfrac", r"\tfrac", r"\binom") and i + 2 < len(nodes):
                inner = scale if frac_depth == 0 else max(0.5, scale * 0.7)
                w = max(_width([nodes[i + 1]], inner, frac_depth + 1),
                        _width([nodes[i + 2]], inner, frac_depth + 1)) + 0.3 * scale
                i += 2
            elif t == r"\sqrt" and i + 1 < len(nodes):
                w = _width([nodes[i + 1]], scale, frac_depth) + 0.9 * scale
                i += 1
            elif (t in _ACCENTS or t == r"\substack") and i + 1 < len(nodes):
                w = _width([nodes[i + 1]], scale, frac_depth) * (1.1 if t in (r"\mathbf", r"\boldsymbol") else 1)
                i += 1
            elif t in _TEXTLIKE and i + 1 < len(nodes):
                arg = nodes[i + 1]
                w = 0.5 * scale * len(_source(arg.children) if arg.kind == "group" else arg.text)
                w += 0.17 * scale if t == r"\operatorname" else 0
                i += 1
            elif (t in _BINOPS) and _is_operator(prev):
                w = 0.78 * scale  # unary
            elif t in _BINOPS or t in _RELATIONS:
                w = _atom_width(t) * (scale if scale >= 1 else scale * 0.7)
            else:
                w = _atom_width(t) * scale
        elif n.kind == "group":
            w = _width(n.children, scale, frac_depth)
        elif n.kind == "leftright":
            open_delim, close_delim = n.text.split("|", 1)
            w = _width(n.children, scale, frac_depth) + sum(
                0.1 if d == "." else 0.5 * scale for d in (open_delim, close_delim))
        else:
            w = _env_width(n.text, scale)
        total += w
        prev = n
        i += 1
    return total


def width(latex: str, scale: float = 1.0) -> float:
    """The estimated width of display math ``latex`` in em of the surrounding font."""
    nodes, _ = _parse(_tokens(latex))
    return _width(nodes, scale, 0)


# ---------------------------------------------------------------------------
# Breaking
# ---------------------------------------------------------------------------


def _segments(nodes: list[_Node]) -> list[list[_Node]]:
    """Split a top-level sequence before each relation, binary +/- and \\quad separator."""
    segments: list[list[_Node]] = [[]]
    prev: _Node | None = None
    for n in nodes:
        is_break = n.kind == "atom" and (
            n.text in _RELATIONS or n.text in _SEPARATORS
            or (n.text in ("+", "-") and not _is_operator(prev) and not (prev and prev.text in ("_", "^"))))
        if is_break and segments[-1]:
            segments.append([])
        segments[-1].append(n)
        prev = n
    return [s for s in segments if s]


def _w(nodes: list[_Node]) -> float:
    return _width(nodes, 1.0, 0)


def _leading(line: list[_Node]) -> str:
    """A line's source; a leading binary operator gets an empty left operand ({}+)."""
    if line and line[0].kind == "atom" and line[0].text in _SEPARATORS:
        line = line[1:]
    text = _source(line)
    if line and line[0].kind == "atom" and (line[0].text in _BINOPS or line[0].text in _RELATIONS):
        text = "{}" + text
    return text


def _break_inside(segment: list[_Node], available: float, depth: int) -> list[_Node] | None:
    """``segment`` with its widest breakable group broken into an ``aligned`` block, or None."""
    if depth > 3:
        return None
    best: tuple[float, int] | None = None
    for k, n in enumerate(segment):
        if n.kind == "leftright" or (n.kind == "group" and n.arg_of in (r"\frac", r"\frac/2", r"\sqrt",
                                                                         r"\dfrac", r"\dfrac/2")):
            w = _w(n.children)
            if len(_segments(n.children)) > 1 or any(c.kind in ("leftright", "group") for c in n.children):
                if best is None or w > best[0]:
                    best = (w, k)
    if best is None:
        return None
    w, k = best
    target = available - (_w(segment) - w)
    node = segment[k]
    if target < 6:
        target = 6.0
    lines = _line_nodes(node.children, target, depth + 1)
    if len(lines) == 1:
        if lines[0] == node.children:
            return None
        children = lines[0]
    else:
        body = r"\begin{aligned}" + r" \\ ".join(
            ("&" if j == 0 else r"&\quad ") + _leading(line) for j, line in enumerate(lines)) + r"\end{aligned}"
        children = [_Node("env", text=body)]
    replacement = _Node(node.kind, text=node.text, children=children, arg_of=node.arg_of)
    return segment[:k] + [replacement] + segment[k + 1:]


def _line_nodes(nodes: list[_Node], available: float, depth: int = 0) -> list[list[_Node]]:
    """Greedy lines of at most ``available`` em (continuations indented), as node lists."""
    if _w(nodes) <= available:
        return [nodes]
    lines: list[list[_Node]] = []
    current: list[_Node] = []
    for segment in _segments(nodes):
        room = available - (CONTINUATION_INDENT if lines else 0.0)
        if current and _w(current + segment) <= room:
            current = current + segment
            continue
        if current:
            lines.append(current)
            room = available - CONTINUATION_INDENT
        if _w(segment) > room:
            for part in _factors(segment, room, depth):
                if current and part is not segment:
                    lines.append(current)
                current = part
            continue
        current = list(segment)
    if current:
        lines.append(current)
    return lines


def _factors(segment: list[_Node], room: float, depth: int) -> list[list[_Node]]:
    """A segment too wide for ``room``: broken inside a group, or else cut between factors."""
    broken = _break_inside(segment, room, depth)
    if broken is not None and _w(broken) <= room * 1.05:
        return [broken]
    # A product: cut between top-level factors; the next line starts with \cdot.
    units: list[list[_Node]] = []
    for n in segment:
        if units and n.kind == "atom" and n.text in ("_", "^", "'") or (units and units[-1][-1].kind == "atom"
                                                                   and units[-1][-1].text in ("_", "^")):
            units[-1].append(n)
        elif units and n.kind == "group" and n.arg_of:
            units[-1].append(n)  # a command's argument
        else:
            units.append([n])
    if len(units) < 2:
        return [broken if broken is not None else segment]
    parts: list[list[_Node]] = []
    current: list[_Node] = []
    for unit in units:
        if current and _w(current + unit) > room - (2.0 if parts else 0.0) and _w(current) > 0.3 * room:
            parts.append(current)
            current = [_Node("atom", text=r"\cdot")] + unit
        else:
            current = current + unit
    parts.append(current)
    if len(parts) < 2:
        return [broken if broken is not None else segment]
    return parts


def _lines(nodes: list[_Node], available: float, depth: int = 0) -> list[str]:
    return [_leading(line) for line in _line_nodes(nodes, available, depth)]


def break_lines(latex: str, available: float) -> list[str]:
    r"""``latex`` as lines of at most ``available`` em (estimated); one line if it fits.

    A line after the first starts with the operator or relation it was cut
    before (as ``{}+ x``, so the operator keeps its spacing); the caller
    indents it. A term wider than a line is broken inside its widest group.
    """
    latex = latex.strip()
    nodes, _ = _parse(_tokens(latex))
    if _width(nodes, 1.0, 0) <= available:
        return [latex]
    return _lines(nodes, available)
