r"""Plots drawn twice from one description: SVG for Markdown and plain TikZ for LaTeX.

A :class:`Plot` lists what to draw in data coordinates (curves, arrows,
circles, rectangles, marked points, a legend). :func:`svg` draws it with
matplotlib, :func:`tikz` as a ``tikzpicture`` that needs no TikZ library and
no pgfplots. Both take every colour from :data:`COLOURS` by name, so a series
has the same RGB colour in the Markdown and in the PDF. Labels are text with
inline ``$...$`` math written in the common subset of LaTeX and matplotlib's
mathtext (``\sigma``, ``\prime``, ``\frac``, ``\Vert``, sub- and superscripts).
Output is deterministic: fixed hash salt, no dates, numbers printed with a
fixed number of decimals.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Callable, Union

from ..core.errors import InputError
from .escape import escape_latex, latex_math_ascii, split_math

__all__ = ["COLOURS", "Curve", "Arrow", "Circle", "Rect", "Dot", "Plot", "Point", "svg", "tikz", "series",
           "colours_used"]

#: The palette (matplotlib's tab10 hues): name -> RGB hex, used by both outputs.
COLOURS: dict[str, str] = {
    "blue": "#1f77b4", "red": "#d62728", "green": "#2ca02c", "orange": "#ff7f0e",
    "purple": "#9467bd", "grey": "#7f7f7f", "black": "#000000",
}

Point = tuple[float, float]


@dataclass(frozen=True)
class Curve:
    """A polyline through ``points``; ``label`` (text with ``$...$`` math) goes in the legend."""

    points: tuple[Point, ...]
    colour: str
    label: str | None = None
    dashed: bool = False
    width: float = 1.5  # points


@dataclass(frozen=True)
class Arrow:
    """An arrow from ``start`` to ``end`` (a vector drawn at ``start``)."""

    start: Point
    end: Point
    colour: str
    label: str | None = None
    dashed: bool = False
    width: float = 1.8


@dataclass(frozen=True)
class Circle:
    """The outline of the circle of ``radius`` about ``centre`` (needs ``Plot.equal``)."""

    centre: Point
    radius: float
    colour: str
    label: str | None = None
    dashed: bool = False
    width: float = 1.0


@dataclass(frozen=True)
class Rect:
    """The outline of the axis-parallel rectangle with corners ``low`` and ``high``."""

    low: Point
    high: Point
    colour: str
    label: str | None = None
    dashed: bool = False
    width: float = 1.0


@dataclass(frozen=True)
class Dot:
    """A marked point, with an optional note placed ``offset`` points away (x right, y up)."""

    at: Point
    colour: str
    note: str | None = None
    offset: tuple[float, float] = (6.0, 6.0)


Item = Union[Curve, Arrow, Circle, Rect, Dot]


@dataclass(frozen=True)
class Plot:
    """What to draw: items in data coordinates within ``xlim`` x ``ylim``, ticks at the given
    values (labels are text with ``$...$`` math), a legend whose top-left corner is
    ``legend_at`` (data coordinates). ``equal``: one unit is as long on both axes
    (the height then follows from the width)."""

    items: tuple[Item, ...]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    xticks: tuple[tuple[float, str], ...] = ()
    yticks: tuple[tuple[float, str], ...] = ()
    xlabel: str = ""
    ylabel: str = ""
    width_cm: float = 10.0
    height_cm: float = 6.0
    equal: bool = False
    legend_at: Point | None = None
    grid: bool = True
    description: str = field(default="", compare=False)  # the SVG's <title>, for screen readers

    def __post_init__(self) -> None:
        for lo, hi in (self.xlim, self.ylim):
            if not lo < hi:
                raise InputError(f"Plot: an axis range must be increasing, got ({lo}, {hi})")
        for item in self.items:
            if item.colour not in COLOURS:
                raise InputError(f"Plot: unknown colour {item.colour!r} (known: {', '.join(COLOURS)})")

    @property
    def height(self) -> float:
        """The height in cm (from the width when ``equal``)."""
        if self.equal:
            return self.width_cm * (self.ylim[1] - self.ylim[0]) / (self.xlim[1] - self.xlim[0])
        return self.height_cm

    @property
    def labelled(self) -> tuple[Item, ...]:
        """The items that appear in the legend, in order."""
        return tuple(i for i in self.items if not isinstance(i, Dot) and i.label)


# -- SVG (matplotlib) -----------------------------------------------------------------------------


def _mpl(text: str | None) -> str | None:
    """A label for matplotlib: in its math, a prime as the Unicode prime (mathtext would take it
    from a TeX font whose code points a browser shows as other characters); text as it is."""
    if text is None:
        return None
    return "".join(f"${seg.text.replace(chr(39), chr(0x2032))}$" if seg.math else seg.text
                   for seg in split_math(text))


_CM = 1 / 2.54


def svg(plot: Plot) -> str:
    """The plot as a deterministic SVG document (matplotlib, text kept as text)."""
    return _save(plot, "svg").decode("utf-8")


def _save(plot: Plot, fmt: str) -> bytes:
    """The plot drawn by matplotlib in ``fmt`` ("svg"; "png" to look at it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle as CirclePatch, Rectangle

    rc = {"svg.hashsalt": "symgrad", "svg.fonttype": "none", "path.simplify": False, "font.size": 9,
          "mathtext.fontset": "dejavusans"}  # Unicode glyphs: the SVG's text reads right in any font
    with matplotlib.rc_context(rc):
        fig, ax = plt.subplots(figsize=((plot.width_cm + 2.2) * _CM, (plot.height + 1.6) * _CM))
        try:
            handles = []
            for item in plot.items:
                colour = COLOURS[item.colour]
                style = "--" if getattr(item, "dashed", False) else "-"
                if isinstance(item, Curve):
                    xs, ys = zip(*item.points)
                    ax.plot(xs, ys, color=colour, linestyle=style, linewidth=item.width)
                elif isinstance(item, Arrow):
                    ax.annotate("", xy=item.end, xytext=item.start,
                                arrowprops={"arrowstyle": "-|>", "color": colour, "lw": item.width,
                                            "linestyle": style, "shrinkA": 0, "shrinkB": 0,
                                            "mutation_scale": 12})
                elif isinstance(item, Circle):
                    ax.add_patch(CirclePatch(item.centre, item.radius, fill=False, edgecolor=colour,
                                             linestyle=style, linewidth=item.width))
                elif isinstance(item, Rect):
                    (x0, y0), (x1, y1) = item.low, item.high
                    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour,
                                           linestyle=style, linewidth=item.width))
                else:
                    ax.plot([item.at[0]], [item.at[1]], marker="o", markersize=4, color=colour)
                    if item.note:
                        dx, dy = item.offset
                        ax.annotate(_mpl(item.note), xy=item.at, xytext=(dx, dy), textcoords="offset points",
                                    ha="left" if dx >= 0 else "right", va="bottom" if dy >= 0 else "top",
                                    color="black")
                if not isinstance(item, Dot) and item.label:
                    handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=item.width,
                                          label=_mpl(item.label)))
            ax.set_xlim(*plot.xlim)
            ax.set_ylim(*plot.ylim)
            if plot.equal:
                ax.set_aspect("equal")
            if plot.xticks:
                ax.set_xticks([v for v, _ in plot.xticks], [_mpl(t) for _, t in plot.xticks])
            if plot.yticks:
                ax.set_yticks([v for v, _ in plot.yticks], [_mpl(t) for _, t in plot.yticks])
            ax.set_xlabel(_mpl(plot.xlabel))
            ax.set_ylabel(_mpl(plot.ylabel))
            if plot.grid:
                ax.grid(True, color="#000000", alpha=0.12, linewidth=0.6)
            if handles and plot.legend_at is not None:
                ax.legend(handles=handles, loc="upper left", bbox_to_anchor=plot.legend_at,
                          bbox_transform=ax.transData, fontsize=8, framealpha=0.9, borderaxespad=0.0)
            fig.tight_layout()
            out = io.BytesIO()
            metadata: dict[str, str | None] = ({"Date": None, "Creator": None} if fmt == "svg"
                                               else {"Software": None})
            if plot.description and fmt == "svg":
                metadata["Title"] = plot.description
            fig.savefig(out, format=fmt, metadata=metadata, dpi=100)
        finally:
            plt.close(fig)
    return out.getvalue()


# -- TikZ --------------------------------------------------------------------------------------------


def _label(text: str) -> str:
    """A label as LaTeX: text escaped, ``$...$`` math kept."""
    return "".join(f"${latex_math_ascii(seg.text)}$" if seg.math else escape_latex(seg.text)
                   for seg in split_math(text))


def _n(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def tikz(plot: Plot) -> str:
    """The plot as a ``tikzpicture`` (plain TikZ, colours defined inside it from :data:`COLOURS`)."""
    (x0, x1), (y0, y1) = plot.xlim, plot.ylim
    width, height = plot.width_cm, plot.height
    sx, sy = width / (x1 - x0), height / (y1 - y0)

    def at(p: Point) -> str:
        return f"({_n((p[0] - x0) * sx)},{_n((p[1] - y0) * sy)})"

    used = sorted({item.colour for item in plot.items})
    lines = [r"\begin{tikzpicture}[font=\footnotesize]"]
    lines += [rf"\definecolor{{sgplot{name}}}{{HTML}}{{{COLOURS[name][1:].upper()}}}" for name in used]
    if plot.grid:
        for value, _ in plot.xticks:
            lines.append(rf"\draw[black!12, line width=0.3pt] {at((value, y0))} -- {at((value, y1))};")
        for value, _ in plot.yticks:
            lines.append(rf"\draw[black!12, line width=0.3pt] {at((x0, value))} -- {at((x1, value))};")
    lines.append(r"\begin{scope}")
    lines.append(rf"\clip (0,0) rectangle ({_n(width)},{_n(height)});")
    for item in plot.items:
        style = f"sgplot{item.colour}" + (", dashed" if getattr(item, "dashed", False) else "")
        if isinstance(item, Curve):
            lines.append(rf"\draw[{style}, line width={item.width:g}pt, line join=round] "
                         + " -- ".join(at(p) for p in item.points) + ";")
        elif isinstance(item, Arrow):
            lines.append(rf"\draw[{style}, line width={item.width:g}pt, -latex] {at(item.start)} -- {at(item.end)};")
        elif isinstance(item, Circle):
            lines.append(rf"\draw[{style}, line width={item.width:g}pt] {at(item.centre)} "
                         rf"ellipse[x radius={_n(item.radius * sx)}cm, y radius={_n(item.radius * sy)}cm];")
        elif isinstance(item, Rect):
            lines.append(rf"\draw[{style}, line width={item.width:g}pt] {at(item.low)} rectangle {at(item.high)};")
        else:
            lines.append(rf"\fill[sgplot{item.colour}] {at(item.at)} circle (2pt);")
    lines.append(r"\end{scope}")
    for item in plot.items:  # notes after the clip, so that they may reach over the frame
        if isinstance(item, Dot) and item.note:
            dx, dy = item.offset
            anchor = ("south" if dy >= 0 else "north") + (" west" if dx >= 0 else " east")
            lines.append(rf"\node[anchor={anchor}, inner sep=0pt, xshift={dx:g}pt, yshift={dy:g}pt] "
                         rf"at {at(item.at)} {{{_label(item.note)}}};")
    lines.append(rf"\draw[black, line width=0.4pt] (0,0) rectangle ({_n(width)},{_n(height)});")
    for value, text in plot.xticks:
        lines.append(rf"\draw[black, line width=0.4pt] {at((value, y0))} -- ++(0,-3pt) node[below] {{{_label(text)}}};")
    for value, text in plot.yticks:
        lines.append(rf"\draw[black, line width=0.4pt] {at((x0, value))} -- ++(-3pt,0) node[left] {{{_label(text)}}};")
    if plot.xlabel:
        lines.append(rf"\node[below=14pt] at ({_n(width / 2)},0) {{{_label(plot.xlabel)}}};")
    if plot.ylabel:
        lines.append(rf"\node[rotate=90, above=24pt] at (0,{_n(height / 2)}) {{{_label(plot.ylabel)}}};")
    if plot.labelled and plot.legend_at is not None:
        lines += _tikz_legend(plot, at(plot.legend_at))
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def _tikz_legend(plot: Plot, corner: str) -> list[str]:
    """The legend as one framed node holding a tabular: a line sample and the label per row."""
    rows = []
    for item in plot.labelled:
        dash = ", dashed" if getattr(item, "dashed", False) else ""
        sample = (rf"\tikz[baseline=-0.6ex]\draw[sgplot{item.colour}{dash}, line width={item.width:g}pt] "
                  r"(0,0) -- (0.6,0);")
        rows.append(rf"{sample} & {_label(item.label or '')}")
    body = r" \\ ".join(rows)
    return [rf"\node[anchor=north west, fill=white, fill opacity=0.9, text opacity=1, draw=black!25, "
            rf"inner sep=2pt, xshift=3pt, yshift=-3pt] at {corner} "
            rf"{{\begin{{tabular}}{{@{{}}l@{{\ }}l@{{}}}}{body}\end{{tabular}}}};"]


def colours_used(plot: Plot) -> dict[str, str]:
    """Each labelled series' label -> its RGB hex (what both outputs draw it in)."""
    return {item.label or "": COLOURS[item.colour] for item in plot.labelled}


def series(f: Callable[[float], float], lo: float, hi: float, count: int) -> tuple[Point, ...]:
    """``count`` evenly spaced points ``(x, f(x))`` on ``[lo, hi]``, rounded to 4 decimals."""
    if count < 2:
        raise InputError("series: at least two points")
    step = (hi - lo) / (count - 1)
    return tuple((round(lo + k * step, 4), round(float(f(lo + k * step)), 4)) for k in range(count))
