"""Rendering proofs, reports and documents as Markdown and LaTeX through Jinja.

Reports are built by hand (Verdict objects), so these tests do not depend on
the kernel; where render() must call the kernel, the kernel is replaced.
Compiling the LaTeX and running KaTeX is tested in test_tools_output.py.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import sympy as sp

from symgrad.core.errors import InputError, TemplateError
from symgrad.core.functions import sigmoid
from symgrad.core.verdicts import Counterexample, Status, Verdict
from symgrad.proofs.documents import (
    Document,
    DocumentReport,
    Equation,
    Figure,
    Listing,
    ProofBlock,
    Prose,
    Section,
    Table,
)
from symgrad.proofs.proof import Report, calc
from symgrad.rendering.render import environment, math_latex, shipped_templates
from symgrad.interactive import render

# symgrad/__init__.py re-exports the function render, which shadows the module.
render_module = importlib.import_module("symgrad.rendering.render")

HOSTILE = r"50% of \input{x} & _y_"
x = sp.Symbol("x", real=True)
t = sp.Symbol("t", real=True)
s = sigmoid(x)


def make_proof():
    return (calc(sp.Derivative(s, x), assume=[t > 0], title="Slope of the sigmoid")
            .eq(s * (1 - s), by="derivative of the logistic function")
            .le(sp.Rational(1, 4), by=HOSTILE))


def make_report(second: Status = Status.PROVED) -> Report:
    proof = make_proof()
    (l1, r1, e1, b1), (l2, r2, e2, b2) = proof.links()
    v1 = Verdict(1, l1, r1, e1, Status.PROVED, "identical after differentiating", b1)
    if second is Status.PROVED:
        v2 = Verdict(2, l2, r2, e2, Status.PROVED, "rhs - lhs = (2*sigmoid(x) - 1)**2/4 >= 0", b2)
    elif second is Status.REFUTED:
        v2 = Verdict(2, l2, r2, e2, Status.REFUTED, "sampling", b2,
                     counterexample=Counterexample({x: sp.Integer(0)}, sp.Rational(1, 4), sp.Rational(1, 8), True))
    elif second is Status.NUMERIC:
        v2 = Verdict(2, l2, r2, e2, Status.NUMERIC, "sampling", b2, samples=200, digits=30,
                     min_slack=sp.Float("1e-9"))
    else:
        v2 = Verdict(2, l2, r2, e2, Status.UNKNOWN, "budget", b2, note="time budget of 10 s ran out")
    return Report(proof, (v1, v2))


def make_document(report: Report | None = None) -> tuple[Document, DocumentReport]:
    report = report or make_report()
    block = ProofBlock(report.proof)
    doc = Document(
        name="sample",
        title=HOSTILE,
        summary=r"The slope of $\sigma$ is at most $1/4$; costs \$0.",
        blocks=(
            Section("The logistic function"),
            Prose("It is *smooth* | bounded <b>: $\\sigma(x) = 1/(1 + e^{-x})$.\n\n- not a list"),
            Equation(sp.Eq(sp.Symbol("y"), s), label="def sigma"),
            Equation(r"\sigma'(x) = \sigma(x)\,(1 - \sigma(x))"),
            block,
            Section("Values", level=3),
            Table(("point", "value", "note"), ((sp.Integer(0), sp.Abs(x - 1), "a|b"), (1, sp.Rational(1, 2), "_c_")),
                  caption="Values of $|x - 1|$"),
            Listing("def sigmoid(x):\n    return 1 / (1 + exp(-x))  # σ ≤ 1, ``` inside\n", caption="Code"),
            Figure({"latex": r"\begin{tikzpicture}\draw (0,0) -- (1,1);\end{tikzpicture}",
                    "markdown": "```mermaid\ngraph LR\n  x --> s\n```"}, caption="The graph"),
        ),
    )
    return doc, DocumentReport(doc, (report,))


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if anything calls the kernel."""
    def refuse(*args, **kwargs):
        raise AssertionError("the kernel must not be called here")
    monkeypatch.setattr("symgrad.proofs.proof.check", refuse)


# ----------------------------------------------------------------- Markdown

GOLDEN_REPORT_MD = r"""**Slope of the sigmoid**

Assuming $t > 0$.

```math
\begin{aligned}
\frac{d}{d x} \sigma{\left(x\right)} &= \left(1 - \sigma{\left(x\right)}\right) \sigma{\left(x\right)} && \text{(1)} \\
&\le \frac{1}{4} && \text{(2)}
\end{aligned}
```

| Step | Justification | Status | Evidence |
|---:|---|---|---|
| 1 | derivative of the logistic function | **proved** | identical after differentiating |
| 2 | 50% of \\input\{x\} \& \_y\_ | **refuted** | counterexample at $x = 0$: lhs $= \frac{1}{4}$, rhs $= \frac{1}{8}$ |

**Refuted:** step 2 is false, so the chain does not establish $\frac{d}{d x} \sigma{\left(x\right)} \leq \frac{1}{4}$.
"""


def test_report_markdown_golden() -> None:
    assert render(make_report(Status.REFUTED), "markdown") == GOLDEN_REPORT_MD


@pytest.mark.parametrize("status, phrase", [
    (Status.PROVED, r"**Proved:** $\frac{d}{d x} \sigma{\left(x\right)} \leq \frac{1}{4}$."),
    (Status.NUMERIC, "**Checked numerically, not proved:**"),
    (Status.UNKNOWN, "**Unknown:** step 2 could not be decided"),
])
def test_report_markdown_conclusion(status: Status, phrase: str) -> None:
    md = render(make_report(status), "md")
    assert phrase in md
    assert f"**{status.value}**" in md


def test_numeric_evidence_in_markdown() -> None:
    md = render(make_report(Status.NUMERIC), "md")
    assert "200 sampled points at 30 digits" in md


def test_proof_is_checked_by_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_check(proof, options=None, **kwargs):
        calls.append(proof)
        return make_report(Status.REFUTED)

    monkeypatch.setattr("symgrad.proofs.proof.check", fake_check)
    proof = make_proof()
    assert render(proof, "md") == GOLDEN_REPORT_MD
    assert calls == [proof]


def test_unchecked_proof(no_kernel: None) -> None:
    md = render(make_proof(), "md", check=False)
    assert "**Claim** (not checked):" in md
    assert "| Step | Justification |\n|---:|---|\n| 1 | derivative of the logistic function |" in md
    assert "Status" not in md
    tex = render(make_proof(), "tex", check=False)
    assert r"\textbf{Claim} (not checked)" in tex and r"\sgstatus" not in tex.split(r"\begin{document}")[1]


def test_document_markdown() -> None:
    doc, report = make_document()
    md = render(report, "markdown")
    assert md.startswith("# 50% of \\\\input\\{x\\} \\& \\_y\\_\n\nThe slope of $\\sigma$ is at most $1/4$; costs \\$0.\n")
    assert "*Checked by symgrad: 1 of 1 proof is proved.*" in md
    assert "\n## The logistic function\n" in md and "\n### Values\n" in md
    assert r"It is \*smooth\* \| bounded \<b\>: $\sigma(x) = 1/(1 + e^{-x})$." in md
    assert "\n\\- not a list\n" in md
    assert "```math\ny = \\sigma{\\left(x\\right)}\n```" in md
    # tables: pipes in text escaped, in math spelled \vert; numbers as text
    assert "| point | value | note |\n|---|---|---|\n" in md
    assert r"| $0$ | $\left\vert {x - 1}\right\vert$ | a\|b |" in md
    assert r"| 1 | $\frac{1}{2}$ | \_c\_ |" in md
    assert "*Table: Values of $|x - 1|$*" in md
    # the listing's fence outgrows the backticks inside it
    assert "\n````python\ndef sigmoid(x):\n" in md and "inside\n````\n" in md
    assert "```mermaid\ngraph LR\n  x --> s\n```\n\n*Figure: The graph*\n" in md
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_document_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    doc, report = make_document(make_report(Status.NUMERIC))
    monkeypatch.setattr("symgrad.proofs.proof.check", lambda proof, options=None, **kw: report.reports[0])
    assert render(doc, "md") == render(report, "md")
    assert "*Checked by symgrad: 0 of 1 proof is proved; 1 checked numerically only.*" in render(doc, "md")


def test_markdown_math_blocks_are_katex_friendly() -> None:
    """Display math is a fenced ```math block (GitHub's form): no $$, no blank line inside."""
    md = render(make_document()[1], "md")
    assert "$$" not in md
    lines = md.split("\n")
    inside = False
    for line in lines:
        if line in ("```math", "```"):
            inside = line == "```math"
            continue
        if inside:
            assert line.strip(), "no blank line inside a math block"
            assert "$" not in line
    assert not inside


def test_markdown_table_rows_stay_rows() -> None:
    proof = calc(x).eq(x, by="a | b\nc").le(sp.Abs(x), by="|x|")
    verdicts = tuple(Verdict(i, l, r, e, Status.REFUTED, "m", b,
                             counterexample=Counterexample({x: sp.Integer(-1)}, sp.Abs(x), sp.Integer(0)))
                     for i, (l, r, e, b) in enumerate(proof.links(), start=1))
    md = render(Report(proof, verdicts), "md")
    rows = [line for line in md.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 2
    for row in rows:
        assert len(re.findall(r"(?<!\\)\|", row)) == 5, row
    assert r"lhs $= \left\vert {x}\right\vert$" in md


def test_prose_with_unbalanced_dollar_is_an_input_error() -> None:
    doc = Document("bad", "Bad", "", (Prose("costs $5"),))
    with pytest.raises(InputError, match="unclosed"):
        render(doc, "md", check=False)


# ----------------------------------------------------------------- LaTeX


def test_report_latex() -> None:
    tex = render(make_report(Status.REFUTED), "latex")
    assert tex.startswith("\\documentclass[11pt]{article}\n")
    assert tex.endswith("\\end{document}\n")
    assert "\\title{Slope of the sigmoid}\n\\author{}\n\\date{}\n\\maketitle\n" in tex
    assert "Assuming $t > 0$.\n\\begin{align*}\n" in tex
    # each step tagged with its number; its justification is printed once, in the table
    assert (r"\frac{d}{d x} \sigma{\left(x\right)} &= "
            r"\sgfit[0.787\linewidth]{\left(1 - \sigma{\left(x\right)}\right) \sigma{\left(x\right)}}"
            r" \tag*{(1)} \\") in tex
    assert r"&\le \sgfit[0.787\linewidth]{\frac{1}{4}} \tag*{(2)}" + "\n\\end{align*}" in tex
    assert tex.count("derivative of the logistic function") == 1
    assert "\\toprule\nStep & Justification & Status & Evidence \\\\\n\\midrule\n" in tex
    assert (r"2 & 50\% of \textbackslash{}input\{x\} \& \_y\_ & \sgstatus{refuted} & "
            r"counterexample at $x = 0$: lhs $= \frac{1}{4}$, rhs $= \frac{1}{8}$ \\") in tex
    assert r"\sgstatus{refuted}: step 2 is false" in tex


def test_document_latex() -> None:
    tex = render(make_document()[1], "tex")
    # the hostile title, escaped verbatim
    assert "\\title{50\\% of \\textbackslash{}input\\{x\\} \\& \\_y\\_}\n" in tex
    assert "\\begin{abstract}\nThe slope of $\\sigma$ is at most $1/4$; costs \\$0.\n\\end{abstract}" in tex
    assert "\\section{The logistic function}" in tex and "\\subsection{Values}" in tex
    assert r"It is {*}smooth{*} \textbar{} bounded \textless{}b\textgreater{}: $\sigma(x) = 1/(1 + e^{-x})$." in tex
    assert "\\begin{equation}\n\\label{eq:def-sigma}\ny = \\sigma{\\left(x\\right)}\n\\end{equation}" in tex
    assert "\\[\n\\sigma'(x) = \\sigma(x)\\,(1 - \\sigma(x))\n\\]" in tex
    assert r"$0$ & $\left|{x - 1}\right|$ & a\textbar{}b \\" in tex
    assert "\\caption{Values of $|x - 1|$}" in tex
    assert "\\begin{lstlisting}[language=Python, caption={Code}]\n" in tex
    assert "# sigma <= 1, ``` inside\n\\end{lstlisting}" in tex
    assert "\\begin{tikzpicture}\\draw (0,0) -- (1,1);\\end{tikzpicture}\n\\caption{The graph}" in tex
    assert "\\date{}" in tex and "\\today" not in tex


def test_latex_is_pdflatex_safe() -> None:
    """Only ASCII and T1/utf8-defined Latin letters reach pdflatex."""
    doc = Document("u", "Über σ-Funktionen – 中文", "Naïve ≤ “quoted”.", (
        Section("Λ and ħ"), Prose("α ≥ 0 and $x$"),
        Table(("σ",), (("≤ 中",),)),
        Listing("x = 'σ' ≤ 1  # Größe — ok\n"),
        ProofBlock(calc(sp.Symbol("σ")).eq(sp.Symbol("σ"), by="trivial, ħ ≈ 1")),
    ))
    tex = render(doc, "tex", check=False)
    bad = {c for c in tex if not (c.isascii() or 0xA1 <= ord(c) <= 0x17E)}
    assert not bad, bad
    listing = tex.split("\\begin{lstlisting}")[1].split("\\end{lstlisting}")[0]
    assert listing.isascii()
    assert "x = 'sigma' <= 1  # Grosse -- ok" in listing
    assert re.search(r"\{\\sigma\} &= \\sgfit\[[0-9.]+\\linewidth\]\{\{\\sigma\}\}", tex)  # a Unicode name becomes a command


def test_listing_cannot_end_early() -> None:
    code = "a = 1\n\\end{lstlisting}\n\\input{evil}\n"
    doc = Document("l", "L", "", (Listing(code, language="no such language!"),))
    tex = render(doc, "tex", check=False)
    body = tex.split("\\begin{document}")[1]
    assert body.count("\\end{lstlisting}") == 1
    assert "\\begin{lstlisting}\n" in body  # unknown language: no language= option


def test_section_levels_and_labels() -> None:
    doc = Document("s", "S", "", tuple(Section(f"L{n}", level=n) for n in (1, 2, 3, 4, 5))
                   + (Equation(x, label="a b$c"),))
    tex = render(doc, "tex", check=False)
    assert [m for m in re.findall(r"\\(section|subsection|subsubsection|paragraph)\{L", tex)] == \
        ["section", "section", "subsection", "subsubsection", "paragraph"]
    assert "\\label{eq:a-b-c}" in tex
    md = render(doc, "md", check=False)
    assert "\n# L1\n" in md and "\n##### L5\n" in md


def test_math_latex() -> None:
    assert math_latex(sp.Derivative(s, x)) == r"\frac{d}{d x} \sigma{\left(x\right)}"
    assert math_latex("  a \\\\\n\n b ") == "a \\\\\n b"
    with pytest.raises(InputError):
        math_latex(object())


# ----------------------------------------------------------------- the notation pass of the printer

_mu, _x1, _c, _eta, _lam = sp.symbols("mu_B x_1 c eta lambda", real=True)
_n_in, _n_out, _b, _w = sp.symbols("n_in n_out b w", positive=True)
_HALF = sp.Rational(1, 2)

#: (expression, exact LaTeX the printer must give): the order a person writes, numbers evaluated.
NOTATION_CASES = [
    (_x1 - _mu, r"x_{1} - \mu_{B}"),
    (_c - _c * _eta * _lam, r"c - c \eta \lambda"),
    (_b - _w * _x1, r"b - w x_{1}"),
    (-_x1 - 1, r"- x_{1} - 1"),  # no positive term: SymPy's order
    (_x1**2 - 2 * _x1 + 1, r"x_{1}^{2} - 2 x_{1} + 1"),  # already starts positive: unchanged
    (sp.Add(_x1, _c, evaluate=False), r"x_{1} + c"),  # written unevaluated: the author's order
    (sp.Add(-_c, _x1, _eta, evaluate=False), r"x_{1} - c + \eta"),
    (1 - sp.tanh(_x1) ** 2, r"1 - \tanh^{2}{\left(x_{1} \right)}"),
    (sp.Mul(sp.Add(-_HALF, 1, evaluate=False), _HALF, evaluate=False), r"\frac{1}{2} \cdot \frac{1}{2}"),
    (sp.Pow(2 / (_n_in + _n_out), -1, evaluate=False), r"\left(\frac{2}{n_{in} + n_{out}}\right)^{-1}"),
    (sp.Mul(sp.Mul(-1, sp.Pow(sp.exp(-1) + 1, -2), evaluate=False), sp.exp(-1), evaluate=False),
     r"- \frac{1}{e \left(e^{-1} + 1\right)^{2}}"),
    (sp.Mul(-1, _x1 + 1, evaluate=False), r"- \left(x_{1} + 1\right)"),
    (s, r"\sigma{\left(x\right)}"),
    (1 + sp.Subs(sp.Derivative(sp.Function("F")(t), t), t, x**2), r"F'\left(x^{2}\right) + 1"),
    (sp.Subs(sp.Derivative(sp.Function("F")(t), (t, 2)), t, 0), r"F''\left(0\right)"),
    # an unevaluated product keeps its order (f'(g(x)) g'(x)); a number or fraction after a factor gets \cdot
    (sp.Mul(sp.cos(_x1**2), 2 * _x1, evaluate=False), r"\cos{\left(x_{1}^{2} \right)} \cdot 2 x_{1}"),
    (sp.Mul(s, 1 - s, evaluate=False), r"\sigma{\left(x\right)} \left(1 - \sigma{\left(x\right)}\right)"),
]


@pytest.mark.parametrize("expr, expected", NOTATION_CASES, ids=[c[1] for c in NOTATION_CASES])
def test_printer_notation(expr, expected) -> None:
    assert math_latex(expr) == expected


#: Cases SymPy's LaTeX parser reads (it knows no sigmoid, no Subs and no ``\cos{\left(x\right)}`` form).
PARSEABLE = [c for c in NOTATION_CASES if not c[0].has(sigmoid, sp.tanh, sp.cos, sp.Subs)]


@pytest.mark.parametrize("expr, expected", PARSEABLE, ids=[c[1] for c in PARSEABLE])
def test_printer_prints_the_same_expression(expr, expected) -> None:
    """Parsed back (SymPy's LaTeX parser, an independent reader), the printed text is the expression."""
    pytest.importorskip("lark")
    from sympy.parsing.latex import parse_latex

    text = math_latex(expr)
    parsed = parse_latex(text, backend="lark")
    # an ambiguous parse (``e(...)`` may be read as a call): the printed text must mean the expression
    readings = parsed.children if not isinstance(parsed, sp.Basic) else [parsed]
    plain = expr.xreplace({v: sp.Symbol(sp.latex(v).replace("\\", "")) for v in expr.free_symbols})

    def means_expr(reading: sp.Basic) -> bool:
        names = {sym: sp.E if sym.name == "e" else sp.Symbol(sym.name) for sym in reading.free_symbols}
        return sp.simplify(reading.xreplace(names) - plain) == 0

    assert any(means_expr(r) for r in readings if isinstance(r, sp.Basic)), (text, readings)


def test_printer_is_pure_and_keeps_the_outer_sum() -> None:
    sum_of_numbers = sp.Add(1, 2, evaluate=False)
    assert math_latex(sum_of_numbers) == "1 + 2"  # a chain may start from it: the root is kept
    expr = sp.Mul(sp.Add(-_HALF, 1, evaluate=False), _x1, evaluate=False)
    before = sp.srepr(expr)
    assert math_latex(expr) == math_latex(expr) == r"\frac{x_{1}}{2}"
    assert sp.srepr(expr) == before  # the argument is not changed
    relation = sp.Eq(sp.Add(1, -_HALF, evaluate=False), _HALF, evaluate=False)
    assert math_latex(relation) == r"\frac{1}{2} = \frac{1}{2}"  # evaluated inside, never to "True"


# ----------------------------------------------------------------- formats and errors


def test_format_names() -> None:
    report = make_report()
    assert render(report, "md") == render(report, "markdown") == render(report, " Markdown ")
    assert render(report, "tex") == render(report, "latex") == render(report, "LaTeX")
    with pytest.raises(InputError, match="unknown format 'html'"):
        render(report, "html")


def test_render_rejects_other_objects() -> None:
    with pytest.raises(InputError, match="expected a Proof, Report, Document or DocumentReport"):
        render("a string", "md")


def test_deterministic() -> None:
    doc, report = make_document()
    first = (render(report, "md"), render(report, "tex"))
    render_module._environment.cache_clear()
    doc2, report2 = make_document()
    assert (render(report2, "md"), render(report2, "tex")) == first


# ----------------------------------------------------------------- templates


def test_shipped_templates_cover_every_block() -> None:
    root = shipped_templates()
    for kind in ("document", "report", "proof", "prose", "section", "equation", "table", "listing",
                 "figure", "status"):
        for ext in ("md", "tex"):
            assert root.joinpath(f"{kind}.{ext}.j2").is_file(), f"{kind}.{ext}.j2"
    assert root.joinpath("__init__.py").is_file()


def test_override_one_block_by_extending(tmp_path: Path) -> None:
    (tmp_path / "proof.md.j2").write_text(
        '{% extends "symgrad/proof.md.j2" %}\n'
        "{% block verdicts %}\n\n"
        "{% for s in block.steps %}\n"
        "- step {{ s.index }}: {{ s.status }} ({{ evidence(s) }})\n"
        "{% endfor %}\n"
        "{% endblock %}\n", encoding="utf-8")
    (tmp_path / "document.md.j2").write_text(
        '{% extends "symgrad/document.md.j2" %}\n'
        "{% block title %}\n{{ super() }}<!-- by a user -->\n{% endblock %}\n", encoding="utf-8")
    _, report = make_document(make_report(Status.REFUTED))
    md = render(report, "md", template_dir=tmp_path)
    assert "| Step | Justification | Status | Evidence |" not in md
    assert "- step 2: refuted (counterexample at $x = 0$:" in md
    assert "\\begin{aligned}" in md  # the rest of our proof template still renders
    assert md.startswith("# 50% of \\\\input\\{x\\} \\& \\_y\\_\n<!-- by a user -->\n")
    # without the user directory, ours again
    assert "| Step | Justification | Status | Evidence |" in render(report, "md")


def test_override_latex_preamble(tmp_path: Path) -> None:
    (tmp_path / "layout.tex.j2").write_text(
        '((* extends "symgrad/layout.tex.j2" *))\n'
        "((* block preamble *))\n((( super() )))\\usepackage{mathtools}\n((* endblock *))\n",
        encoding="utf-8")
    tex = render(make_report(), "tex", template_dir=str(tmp_path))
    assert "\\usepackage[hidelinks]{hyperref}\n" in tex
    assert "\\usepackage{mathtools}\n\\begin{document}" in tex


def test_template_dirs_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "section.md.j2").write_text("FIRST {{ block.title }}\n", encoding="utf-8")
    (second / "section.md.j2").write_text("SECOND {{ block.title }}\n", encoding="utf-8")
    (second / "prose.md.j2").write_text("PROSE\n", encoding="utf-8")
    doc = Document("d", "D", "", (Section("S"), Prose("p")))
    md = render(doc, "md", template_dir=[first, second], check=False)
    assert "FIRST S" in md and "SECOND" not in md and "PROSE" in md


def test_template_errors(tmp_path: Path) -> None:
    doc = Document("d", "D", "", (Section("S"),))
    with pytest.raises(InputError, match="not a directory"):
        render(doc, "md", template_dir=tmp_path / "missing", check=False)
    (tmp_path / "section.md.j2").write_text('{% include "nope.md.j2" %}\n', encoding="utf-8")
    with pytest.raises(TemplateError, match="'nope.md.j2' not found"):
        render(doc, "md", template_dir=tmp_path, check=False)
    (tmp_path / "section.md.j2").write_text("ok\n{% if %}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="line 2"):
        render(doc, "md", template_dir=tmp_path, check=False)
    (tmp_path / "section.md.j2").write_text("{{ block.no_such_field }}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="no_such_field"):
        render(doc, "md", template_dir=tmp_path, check=False)


def test_latex_environment_delimiters() -> None:
    env = environment("latex")
    # {#1} and {{ are LaTeX, not Jinja, in .tex.j2 templates
    out = env.from_string(r"\newcommand{\x}[1]{#1}{{a}} ((( v ))) ((# gone #))((* if v *))yes((* endif *))").render(v=1)
    assert out == r"\newcommand{\x}[1]{#1}{{a}} 1 yes"
    assert environment("md").from_string("{{ v }}{# gone #}").render(v=2) == "2"


def test_justifications_printed_once_with_their_math() -> None:
    long_by = "a rather long justification with $\\sum_i x_i$ that would run off the margin"
    proof = calc(x).eq(x + 0, by=long_by).eq(x, by="short")
    tex = render(proof, "tex", check=False)
    assert "\\tag*{(1)}" in tex and "\\tag*{(2)}" in tex
    body = tex.split("\\begin{document}")[1]
    assert body.count("a rather long justification") == 1  # in the table, not beside the chain
    assert "1 & a rather long justification with $\\sum_i x_i$ that would run off the margin \\\\" in body
    md = render(proof, "md", check=False)
    assert md.count("a rather long justification") == 1
    assert "| 1 | a rather long justification with $\\sum_i x_i$ that would run off the margin |" in md
    # the notebook's math has no table: the justification follows its step, math kept as math
    from symgrad.rendering.display import mimebundle

    assert r"\text{(a rather long justification with $\sum_i x_i$ that" in mimebundle(proof)["text/latex"]
    # a lone dollar is text, not an error
    assert "costs \\$5" in render(calc(x).eq(x, by="costs $5"), "md", check=False)


def test_wide_tables_become_tabularx() -> None:
    narrow = Table(("a", "b"), (("1", "2"),))
    wide = Table(("point", "a long header that needs to wrap somewhere", "another long header, also wrapping"),
                 (("0.000335237670756474", "1e-18", "2e-20"),))
    tex = render(Document("t", "T", "", (narrow, wide)), "tex", check=False)
    assert "\\begin{tabular}{@{}ll@{}}" in tex
    spec = r"@{}l>{\raggedright\arraybackslash}X>{\raggedright\arraybackslash}X@{}"
    assert "\\begin{tabularx}{\\linewidth}{" + spec + "}" in tex and "\\end{tabularx}" in tex
    with pytest.raises(InputError, match="at least one column"):
        render(Document("t", "T", "", (Table((), ()),)), "tex", check=False)
    with pytest.raises(InputError, match="row 1 has 1 cells"):
        render(Document("t", "T", "", (Table(("a", "b"), (("1",),)),)), "md", check=False)


def test_table_headers_hold_math_and_printed_numbers_are_typeset() -> None:
    """Headers are text with $...$ math (as prose); a number a program printed with a hyphen or an
    exponent is math in both formats, and a hyphen before a digit in text is a minus sign."""
    table = Table(("$x$", "error, $|w| = 1$", "cost"),
                  (("-0.5", "9.54e-07", "w0: -1.00, x-1"), ("3", 1.5e-20, "up to 1,000")))
    tex = render(Document("t", "T", "", (table,)), "tex", check=False)
    assert "$x$ & error, $|w| = 1$ & cost \\" in tex
    assert "$-0.5$ & $9.54 \\times 10^{-7}$ & w0: \\ensuremath{-}1.00, x-1 \\" in tex
    assert "3 & $1.5 \\times 10^{-20}$ & up to 1,000 \\" in tex
    md = render(Document("t", "T", "", (table,)), "md", check=False)
    assert "| $x$ | error, $\\vert w\\vert = 1$ | cost |" in md
    assert "| $-0.5$ | $9.54 \\times 10^{-7}$ | w0: \u22121.00, x-1 |" in md
    with pytest.raises(InputError, match=r"table column 2 \('costs \$5'\)"):
        render(Document("t", "T", "", (Table(("a", "costs $5"), ()),)), "md", check=False)


# ----------------------------------------------------------------- sub-proofs (Step.details)

w_, b_ = sp.symbols("w b", real=True)


def make_nested_report(inner: Status = Status.PROVED) -> Report:
    """A chain-rule step whose sub-proof (du/dx) is built and judged by hand."""
    u = w_ * x + b_
    sub = (calc(sp.Derivative(u, x)).eq(sp.Derivative(w_ * x, x), by="sum rule")
           .eq(w_ if inner is Status.PROVED else 2 * w_, by="constant multiple"))
    proof = calc(sp.Derivative(sigmoid(u), x), title="Chain").eq(
        w_ * sigmoid(u) * (1 - sigmoid(u)), by="chain rule with u = w*x + b", details=[sub])
    (sl1, sr1, se1, sb1), (sl2, sr2, se2, sb2) = sub.links()
    second = (Verdict(2, sl2, sr2, se2, Status.PROVED, "identical", sb2) if inner is Status.PROVED else
              Verdict(2, sl2, sr2, se2, Status.REFUTED, "sampling", sb2,
                      counterexample=Counterexample({w_: sp.Integer(1)}, sp.Integer(1), sp.Integer(2), True)))
    sub_report = Report(sub, (Verdict(1, sl1, sr1, se1, Status.PROVED, "identical", sb1), second))
    (l1, r1, e1, b1), = proof.links()
    return Report(proof, (Verdict(1, l1, r1, e1, Status.PROVED, "identical", b1, details=(sub_report,)),))


def test_sub_proofs_render_as_quoted_markdown() -> None:
    md = render(make_nested_report(), "md")
    quoted = [line for line in md.splitlines() if line.startswith(">")]
    assert quoted[0] == r"> *Sub-proof for step 1:* $\frac{\partial}{\partial x} \left(b + w x\right)$"
    assert "> | 1.1 | sum rule | **proved** | identical |" in quoted
    assert any(line.endswith(r"&& \text{(1.2)}") for line in quoted) and "> ```math" in quoted
    assert quoted[-1].startswith("> **Proved:**")
    assert md.rstrip().splitlines()[-1].startswith("**Proved:**")
    # Without verdicts the sub-proof is still shown, with its justifications.
    draft = render(make_nested_report().proof, "md", check=False)
    assert "> | 1.2 | constant multiple |" in draft and "> **Claim** (not checked)" in draft


def test_refuted_sub_proof_is_named_in_the_conclusion() -> None:
    report = make_nested_report(Status.REFUTED)
    assert report.steps[0].status is Status.PROVED and report.status is Status.REFUTED
    md = render(report, "md")
    assert "| 1 | chain rule with u = w\\*x + b | **proved** (sub-proof: **refuted**) | identical |" in md
    assert "**Refuted:** the sub-proof of step 1 is refuted" in md
    assert "> **Refuted:** step 1.2 is false" in md
    tex = render(report, "latex")
    assert r"\sgstatus{proved} (sub-proof: \sgstatus{refuted})" in tex
    assert "the sub-proof of step 1 is refuted" in tex and "step 1.2 is false" in tex


def test_sub_proofs_render_in_latex_quotes() -> None:
    tex = render(make_nested_report(), "latex")
    body = tex[tex.index(r"\begin{document}"):]
    assert body.count(r"\begin{quote}") == body.count(r"\end{quote}") == 1
    assert body.index(r"\begin{quote}") < body.index(r"\textit{Sub-proof for step 1:}") < body.index(r"\end{quote}")
    assert body.count(r"\begin{align*}") == 2 and "1.2 &" in body


def test_deeply_nested_sub_proofs_stop_indenting_in_latex() -> None:
    proof = calc(sp.Derivative(x, x)).eq(1)
    for depth in range(7):
        proof = calc(sp.Derivative(x, x)).eq(1, by=f"level {depth}", details=[proof])
    tex = render(proof, "latex", check=False)
    assert tex.count(r"\begin{quote}") == 4  # below LaTeX's list-nesting limit of 6
    assert "Sub-proof for step 1.1.1.1.1.1.1:" in tex


def test_a_claim_with_rows_is_a_math_block_in_markdown() -> None:
    """GitHub eats the \\\\ of a matrix written in $...$: such a claim is a fenced math block."""
    from symgrad.rendering.filters import md_claim
    assert md_claim("x^2 + 1", ".") == "$x^2 + 1$."
    block = md_claim(r"\left[\begin{matrix}1 & 2\\3 & 4\end{matrix}\right] = M", ".")
    assert "```math\n" in block and block.rstrip().endswith("```") and r"\text{.}" in block
    x = sp.Symbol("x", real=True)
    import symgrad as sg
    proof = sg.calc(sp.Matrix([[x, 0], [0, x]])).eq(sp.Matrix([[x, 0], [0, x]]) * 1)
    md = sg.render(proof, "markdown")
    proved = md[md.index("**Proved:**"):]
    assert proved.split("\n")[2] == "```math" and "$" not in proved.split("```math")[1].split("```")[0]


def test_terms_sympy_cannot_order_print_the_same_in_every_process() -> None:
    """Unevaluated (g_1 + g_2)/2 and (g_2 + g_1)/2 tie in SymPy's order; their printed order must
    not follow Python's hash order (it changes from process to process)."""
    import subprocess
    import sys
    code = ("import sympy as sp\nfrom symgrad.rendering.views import math_latex\n"
            "g = sp.symbols('g_1:4')\nh = sp.Rational(1, 2)\n"
            "terms = [sp.Mul(h, sp.Add(a, b, evaluate=False), evaluate=False) for a in g for b in g]\n"
            "print(math_latex(sp.Add(*terms)))\n")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**__import__("os").environ, "PYTHONHASHSEED": str(seed)}).stdout
               for seed in (1, 2, 3, 4)}
    assert len(outputs) == 1, outputs
