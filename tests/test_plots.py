"""The plot engine (symgrad.rendering.plots) and the pictures of sigmoid-derivative-bound and
gradient-clipping: one description, SVG and TikZ in the same colours; what the pictures show
is checked against the mathematics (the peak of sigma' at 0, the clipped vectors)."""

from __future__ import annotations

import math
import re

import pytest
import sympy as sp

import symgrad as sg
from symgrad.catalog import clipping, minibatch, sigmoid
from symgrad.proofs.documents import Figure
from symgrad.rendering import plots

try:
    from . import tooling
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    import tooling


def _small_plot(label: str = "$\\sigma(x)$ & 50% #1") -> plots.Plot:
    return plots.Plot(items=(plots.Curve(((0.0, 0.0), (1.0, 1.0)), "blue", label),
                             plots.Curve(((0.0, 1.0), (1.0, 0.0)), "red", "$x'$", dashed=True),
                             plots.Arrow((0.0, 0.0), (0.5, 0.2), "green", "arrow"),
                             plots.Dot((0.5, 0.5), "black", "$f(1/2)$")),
                      xlim=(0.0, 1.0), ylim=(0.0, 1.0), xticks=((0.0, "$0$"), (1.0, "$1$")),
                      yticks=((0.5, "$1/2$"),), xlabel="$x$", legend_at=(0.05, 0.95))


def _svg_strokes(svg: str) -> set[str]:
    return {m.lower() for m in re.findall(r"stroke: (#[0-9a-fA-F]{6})", svg)}


def _tikz_colours(tikz: str) -> dict[str, str]:
    return {name: "#" + hexa.lower() for name, hexa in re.findall(r"\\definecolor\{sgplot(\w+)\}\{HTML\}\{(\w+)\}", tikz)}


def test_same_series_same_colour_in_svg_and_tikz() -> None:
    plot = _small_plot()
    svg, tikz = plots.svg(plot), plots.tikz(plot)
    defined = _tikz_colours(tikz)
    for item in plot.items:
        rgb = plots.COLOURS[item.colour]
        assert defined[item.colour] == rgb
        assert rf"sgplot{item.colour}" in tikz
        if not isinstance(item, plots.Dot):
            assert rgb in _svg_strokes(svg), (item, _svg_strokes(svg))
    assert plots.colours_used(plot) == {"$\\sigma(x)$ & 50% #1": "#1f77b4", "$x'$": "#d62728", "arrow": "#2ca02c"}


def test_output_is_deterministic_and_labels_are_escaped() -> None:
    plot = _small_plot()
    assert plots.svg(plot) == plots.svg(_small_plot()) and plots.tikz(plot) == plots.tikz(_small_plot())
    tikz = plots.tikz(plot)
    assert r"$\sigma(x)$ \& 50\% \#1" in tikz
    assert "usetikzlibrary" not in tikz and "pgfplots" not in tikz and tikz.isascii()
    svg = plots.svg(plot)
    assert "<dc:date>" not in svg and "′" in svg  # primes as Unicode, readable in any font
    assert "cmsy10" not in svg and "cmmi10" not in svg


def test_bad_plots_are_input_errors() -> None:
    with pytest.raises(sg.InputError, match="unknown colour"):
        plots.Plot(items=(plots.Curve(((0.0, 0.0), (1.0, 1.0)), "teal"),), xlim=(0.0, 1.0), ylim=(0.0, 1.0))
    with pytest.raises(sg.InputError, match="increasing"):
        plots.Plot(items=(), xlim=(1.0, 0.0), ylim=(0.0, 1.0))
    with pytest.raises(sg.InputError, match="two points"):
        plots.series(math.exp, 0.0, 1.0, 1)


def test_sigmoid_plot_peaks_at_one_quarter_at_zero() -> None:
    plot = sigmoid.plot()
    curves = {item.colour: item for item in plot.items if isinstance(item, plots.Curve)}
    derivative = curves["red"].points
    peak = max(derivative, key=lambda p: p[1])
    assert peak == (0.0, 0.25)
    x = sp.Symbol("x", real=True)
    exact = sp.diff(sg.sigmoid(x), x)
    for px, py in derivative[::10]:  # the drawn points are sigma' (checked against SymPy's derivative)
        assert py == pytest.approx(float(exact.subs(x, px).evalf(30)), abs=6e-5)
    assert all(y <= 0.25 for _, y in derivative)
    assert curves["grey"].points == ((-6.0, 0.25), (6.0, 0.25)) and curves["grey"].dashed
    document = sg.catalog.get("sigmoid-derivative-bound")
    figure = next(b for b in document.blocks if isinstance(b, Figure))
    assert set(figure.assets) == {sigmoid.PLOT_NAME} and sigmoid.PLOT_NAME in figure.sources["markdown"]
    assert figure.sources["latex"] == plots.tikz(plot)


def test_clipping_plot_shows_the_two_clipped_vectors() -> None:
    plot = clipping.plot()
    arrows = {item.colour: item for item in plot.items if isinstance(item, plots.Arrow)}
    g = clipping.COUNTER_G
    by_norm, by_value = arrows["blue"].end, arrows["red"].end
    assert arrows["black"].end == (float(g[0]), float(g[1]))
    exact = [float(v) for v in clipping.clip_by_norm([sp.Integer(v) for v in g], sp.Integer(clipping.COUNTER_C))]
    assert by_norm == pytest.approx(exact, abs=1e-15)
    assert math.hypot(*by_norm) == pytest.approx(clipping.COUNTER_C)
    assert by_norm[0] * g[1] - by_norm[1] * g[0] == pytest.approx(0.0, abs=1e-15)  # parallel to g
    assert by_value == (1.0, 1.0) and by_value[0] * g[1] - by_value[1] * g[0] != 0  # not parallel
    assert plot.equal  # the circle is drawn as a circle


def test_minibatch_general_chain_proves_the_inclusion_step_not_a_tautology() -> None:
    single, pair, unbiased = minibatch.inclusion_proofs()
    assert unbiased.start.has(sp.binomial)  # starts from the inclusion counts, not from b/N
    report = unbiased.check()
    assert report.ok and len(report.steps) == 2
    # the same chain with a wrong inclusion probability is not proved, so the step has content
    # (the kernel cannot sample a sum of symbolic length: unknown, never proved)
    N = sp.Symbol("N", integer=True, positive=True)
    b = sp.Symbol("b", integer=True, positive=True)
    g, i = sp.IndexedBase("g"), sp.Symbol("i", integer=True)
    wrong = sg.calc(unbiased.start, assume=[b <= N]).eq(sp.Sum(g[i] * (b + 1) / N, (i, 1, N)) / b)
    assert wrong.check(budget=3.0).steps[0].status is not sg.Status.PROVED


@pytest.mark.tools
def test_plots_compile_with_pdflatex(tmp_path) -> None:
    from symgrad.catalog import batch_vs_sgd, learning_rate

    sgd_runs = (batch_vs_sgd.full_batch_run(), *(batch_vs_sgd.sgd_run(s) for s in batch_vs_sgd.FIGURE_SEEDS))
    body = "\n\n".join(plots.tikz(p) for p in (_small_plot(), sigmoid.plot(), clipping.plot(),
                                                 learning_rate.plot(learning_rate.runs()), batch_vs_sgd.plot(sgd_runs)))
    source = ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{lmodern}\n"
              "\\usepackage{amsmath}\n\\usepackage{xcolor}\n\\usepackage{tikz}\n"
              "\\usepackage[margin=25mm]{geometry}\n\\begin{document}\n" + body + "\n\\end{document}\n")
    try:
        tooling.compile_latex(source, tmp_path / "plots")
    except tooling.LatexError as error:
        pytest.fail(str(error), pytrace=False)


def test_a_caption_per_format_reaches_only_its_format() -> None:
    """A figure captioned per format: the PDF never names the Markdown drawing and vice versa;
    a plot's SVG asset is linked from the Markdown and its TikZ drawn in the LaTeX."""
    from symgrad.proofs.documents import Document

    plot = _small_plot("series")
    figure = Figure(sources={"markdown": "![a plot](p.svg)", "latex": plots.tikz(plot)},
                    caption={"latex": "Drawn in $\\LaTeX$ colours.", "markdown": "Drawn as an SVG, see p.svg."},
                    assets={"p.svg": plots.svg(plot)})
    document = Document(name="figure-captions", title="Captions", summary="", blocks=(figure,))
    md, tex = sg.render(document, "markdown"), sg.render(document, "latex")
    assert "*Figure: Drawn as an SVG, see p.svg.*" in md and "LaTeX" not in md
    assert "![a plot](p.svg)" in md and "tikzpicture" not in md
    assert r"\caption{Drawn in $\LaTeX$ colours.}" in tex and "SVG" not in tex
    assert r"\definecolor{sgplotblue}{HTML}{1F77B4}" in tex


def test_only_math_primes_become_unicode_primes_in_the_svg() -> None:
    assert plots._mpl("PyTorch's $\\sigma'(x)$") == "PyTorch's $\\sigma\u2032(x)$"
    assert plots._mpl(None) is None
