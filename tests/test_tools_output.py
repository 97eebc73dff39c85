"""The committed derivations/ build with real tools and match the catalog.

- every derivations/*.tex compiles with pdflatex (as many passes as its log asks for);
- every formula in derivations/*.md renders with KaTeX (strict);
- derivations/ equals a fresh `symgrad render --all` byte for byte (rendered once per session);
- self-tests of the harness, so it cannot pass by accident.
Tests marked `tools` skip locally without the tools and fail in CI.
"""

from __future__ import annotations

import re
import subprocess

import pytest

try:
    from . import tooling
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    import tooling

REPO_ROOT = tooling.REPO_ROOT
DERIVATIONS = REPO_ROOT / "derivations"
TEX_FILES = sorted(DERIVATIONS.glob("*.tex"))
MD_FILES = sorted(DERIVATIONS.glob("*.md"))
RENDER_HINT = "run `bash scripts/render.sh`"


# ----------------------------------------------------------- the derivations


_BUILDS: dict[str, object] = {}  # tex name -> build directory, or the LatexError message


def _build(tex, tmp_path_factory):
    """The directory where ``tex`` was compiled (once per session); fails the test if it does not compile."""
    if tex.name not in _BUILDS:
        workdir = tmp_path_factory.mktemp(tex.stem)
        try:
            tooling.compile_latex(tex, workdir)
            _BUILDS[tex.name] = workdir
        except tooling.LatexError as e:
            _BUILDS[tex.name] = str(e)
    built = _BUILDS[tex.name]
    if isinstance(built, str):
        pytest.fail(built, pytrace=False)  # outside `except`: no chained traceback
    return built


def _log(tex, tmp_path_factory) -> str:
    return (_build(tex, tmp_path_factory) / tex.with_suffix(".log").name).read_text(encoding="utf-8",
                                                                                   errors="replace")


@pytest.mark.tools
@pytest.mark.parametrize("tex", TEX_FILES, ids=[p.name for p in TEX_FILES])
def test_derivation_tex_compiles(tex, tmp_path_factory):
    assert (_build(tex, tmp_path_factory) / tex.with_suffix(".pdf").name).is_file()


@pytest.mark.tools
@pytest.mark.parametrize("tex", TEX_FILES, ids=[p.name for p in TEX_FILES])
def test_derivation_pdf_has_no_type3_font(tex, tmp_path_factory):
    """Type 3 fonts are bitmaps (blurry, unsearchable): every font must be Type 1 (lmodern)."""
    pdffonts = tooling.require_tool("pdffonts")
    pdf = _build(tex, tmp_path_factory) / tex.with_suffix(".pdf").name
    out = subprocess.run([str(pdffonts), str(pdf)], capture_output=True, text=True, check=True).stdout
    type3 = [line for line in out.splitlines()[2:] if "Type 3" in line]
    assert not type3, f"{tex.name} embeds Type 3 fonts:\n" + "\n".join(type3)


_OVERFULL = re.compile(r"^Overfull \\[hv]box \((\d+(?:\.\d+)?)pt too (?:wide|high)\) (.*)$", re.M)

@pytest.mark.tools
@pytest.mark.parametrize("tex", TEX_FILES, ids=[p.name for p in TEX_FILES])
def test_derivation_has_no_overfull_box(tex, tmp_path_factory):
    """Nothing sticks out of the text block by more than 1pt."""
    bad = [f"{m.group(1)}pt {m.group(2)}" for m in _OVERFULL.finditer(_log(tex, tmp_path_factory))
           if float(m.group(1)) > 1.0]
    assert not bad, f"{tex.name}: {len(bad)} overfull box(es) wider than 1pt:\n" + "\n".join(bad)


@pytest.mark.tools
@pytest.mark.parametrize("tex", TEX_FILES, ids=[p.name for p in TEX_FILES])
def test_derivation_scales_no_formula_below_80_percent(tex, tmp_path_factory):
    r"""\sgfit logs every scaling; a formula that would need less than 80% must be broken instead."""
    log = _log(tex, tmp_path_factory)
    scales = [int(m) for m in re.findall(r"^sgfit: scaled to (\d+)%", log, re.M)]
    needs = [int(m) for m in re.findall(r"^sgfit: scaled to \d+% \(too wide: needs (\d+)%\)", log, re.M)]
    assert all(s >= 80 for s in scales) and not needs, (
        f"{tex.name}: {len(needs)} formula(s) too wide even at 80% (would need {sorted(needs)}%): "
        "break them into lines")
    assert len(re.findall(r"\\(?:resize|scale)box", tex.read_text(encoding="utf-8"))) <= 2, \
        "formulas are scaled only through \\sgfit"


@pytest.mark.tools
@pytest.mark.parametrize("md", MD_FILES, ids=[p.name for p in MD_FILES])
def test_derivation_md_math_renders_in_katex(md):
    errors = tooling.katex_check(md.read_text(encoding="utf-8"),
                                 source=str(md.relative_to(REPO_ROOT)))
    if errors:
        pytest.fail(f"KaTeX rejects {len(errors)} formula(s):\n" + "\n".join(map(str, errors)),
                    pytrace=False)


def test_derivations_not_empty():
    assert TEX_FILES and MD_FILES, f"derivations/ has no .md/.tex files: {RENDER_HINT}"


@pytest.fixture
def rendered(rendered_catalog):
    """The fresh render of the whole catalog (once per test session, see conftest.py)."""
    return rendered_catalog


def _outputs(d):
    """Every rendered file: documents and their assets (e.g. SVG plots)."""
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}


@pytest.mark.xdist_group("catalog")
def test_derivations_not_stale(rendered):
    fresh, committed = _outputs(rendered), _outputs(DERIVATIONS)
    assert fresh, "symgrad render --all wrote no .md/.tex files"
    problems = (
        [f"  missing:  derivations/{n}" for n in sorted(fresh.keys() - committed.keys())]
        + [f"  orphan (entry no longer in the catalog): derivations/{n}"
           for n in sorted(committed.keys() - fresh.keys())]
        + [f"  differs:  derivations/{n}" for n in sorted(fresh.keys() & committed.keys())
           if fresh[n] != committed[n]]
    )
    if problems:
        pytest.fail(f"derivations/ is stale: {RENDER_HINT}\n" + "\n".join(problems), pytrace=False)


@pytest.mark.xdist_group("catalog")
def test_render_all_covers_catalog(rendered):
    import symgrad.catalog

    names = list(symgrad.catalog.names())
    assert names, "the catalog is empty"
    files = {p.name for p in rendered.iterdir()}
    missing = [f"{n}.{ext}" for n in names for ext in ("md", "tex") if f"{n}.{ext}" not in files]
    assert not missing, f"`symgrad render --all` did not write: {missing}"


# ----------------------------------------------------- self-tests of the harness

SAMPLE_MD = r"""# Sample $x^2$

Costs \$5, `code $not math$` and $5 or $10 are not math.

$$
\frac{\partial L}{\partial w} = x^\top (\hat y - y)
$$

```python
s = "$not math$"
```

Bad: $\frac{1}{$ then fine $\sigma(z)$ then $\unknownmacro x$.
$$\left( \right.$$
"""


def test_extract_formulas_finds_math_and_skips_code():
    got = [(f.line, f.display, f.tex.strip()) for f in tooling.extract_formulas(SAMPLE_MD)]
    assert got == [
        (1, False, "x^2"),
        (5, True, r"\frac{\partial L}{\partial w} = x^\top (\hat y - y)"),
        (13, False, r"\frac{1}{"),
        (13, False, r"\sigma(z)"),
        (13, False, r"\unknownmacro x"),
        (14, True, r"\left( \right."),
    ]


def test_extract_formulas_github_syntax_and_unclosed_display():
    md = ("Inline $`a_1`$.\n\n```math\n\\sum_i a_i\n```\n\n"
          "> quoted\n>\n> ```math\n> a \\\\ b\n> ```\n")
    got = [(f.line, f.display, f.tex) for f in tooling.extract_formulas(md)]
    assert got == [(1, False, "a_1"), (4, True, r"\sum_i a_i"), (10, True, r"a \\ b")]
    _, problems = tooling._scan("text $$ x + y\nno close")
    assert problems == [(1, "unclosed $$ (display math)")]


@pytest.mark.tools
def test_katex_check_reports_bad_formulas():
    errors = tooling.katex_check(SAMPLE_MD, source="sample.md")
    assert [(e.line, e.tex) for e in errors] == [(13, r"\frac{1}{"), (13, r"\unknownmacro x")]
    assert str(errors[0]).startswith(r"sample.md:13: $\frac{1}{$: ")
    assert "unknownmacro" in errors[1].message


@pytest.mark.tools
def test_katex_check_strict_mode_and_unclosed_display():
    # strict: "error" turns KaTeX's warnings (here: Unicode text in math
    # mode, which LaTeX rejects) into errors; \\text{é} is fine.
    errors = tooling.katex_check("ok $\\text{é}$, $é$\n\n$$ x", source="s.md")
    assert [(e.line, e.tex) for e in errors] == [(1, "é"), (3, "")]
    assert "unicodeTextInMathMode" in errors[0].message
    assert "unclosed $$" in errors[1].message


@pytest.mark.tools
def test_katex_check_accepts_good_formulas():
    md = (r"$\operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}$ and" "\n"
          r"$$\begin{aligned} f'(x) &= \sigma(x)\,(1-\sigma(x)) \\ g &= 0 \end{aligned}$$")
    assert tooling.katex_check(md) == []


GOOD_TEX = r"""\documentclass{article}
\usepackage{amsmath}
\begin{document}
$\frac{\partial}{\partial x} \sigma(x) = \sigma(x)(1 - \sigma(x))$
\end{document}
"""


@pytest.mark.tools
def test_compile_latex_good_document(tmp_path):
    src = tmp_path / "src" / "good.tex"
    src.parent.mkdir()
    src.write_text(GOOD_TEX, encoding="utf-8")
    proc = tooling.compile_latex(src, tmp_path / "build")
    assert proc.returncode == 0
    assert (tmp_path / "build" / "good.pdf").is_file()
    assert sorted(p.name for p in src.parent.iterdir()) == ["good.tex"]  # no junk beside it


@pytest.mark.tools
def test_compile_latex_bad_document_fails(tmp_path):
    bad = GOOD_TEX.replace(r"\sigma(x) =", r"\undefinedmacro(x) =")
    with pytest.raises(tooling.LatexError, match="Undefined control sequence"):
        tooling.compile_latex(bad, tmp_path)


@pytest.mark.tools
def test_compile_latex_passes_until_cross_references_settle(tmp_path):
    source = ("\\documentclass{article}\\begin{document}\\section{One}\\label{one}"
              "Section~\\ref{one} is on page~\\pageref{one}.\\end{document}\n")
    tooling.compile_latex(source, tmp_path)
    log = (tmp_path / "document.log").read_text(encoding="utf-8", errors="replace")
    assert "undefined references" not in log and "Rerun to get" not in log


@pytest.mark.tools
def test_compile_latex_fails_a_document_that_always_asks_for_another_pass(tmp_path):
    # A label that counts the passes: the references never settle.
    source = r"""\documentclass{article}\begin{document}\makeatletter
\@ifundefined{r@x}{\count@=0}{\count@=\expandafter\expandafter\expandafter\@firstoftwo\csname r@x\endcsname\relax}
\advance\count@ by 1 \protected@write\@auxout{}{\string\newlabel{x}{{\the\count@}{1}}}\makeatother
Pass~\ref{x}.\end{document}
"""
    with pytest.raises(tooling.LatexError, match="still asks for another pdflatex pass"):
        tooling.compile_latex(source, tmp_path)


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception),
                                         ("false", pytest.skip.Exception),
                                         ("0", pytest.skip.Exception),
                                         ("true", pytest.fail.Exception),
                                         ("1", pytest.fail.Exception)])
def test_require_tool_skips_locally_fails_in_ci(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(tooling.shutil, "which", lambda name: None)
    for tool in ("pdflatex", "node", "katex"):
        with pytest.raises(outcome):
            tooling.require_tool(tool)
