"""Terminal text (the reprs, `symgrad show`) and Jupyter mime bundles."""

from __future__ import annotations

import re

import pytest
import sympy as sp

from symgrad.rendering.display import (
    document_text,
    latex_to_text,
    mimebundle,
    proof_text,
    report_text,
    terminal_text,
)
from symgrad.core.errors import InputError
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

x = sp.Symbol("x", real=True)
t = sp.Symbol("t", real=True)
s = sigmoid(x)


def make_proof(title: str | None = None):
    return (calc(sp.Derivative(s, x), assume=[0 < t], title=title)
            .eq((1 - s) * s, by="derivative of the logistic function")
            .le(sp.Rational(1, 4), by="square-nonnegative"))


def make_report(second: Status, title: str | None = None) -> Report:
    proof = make_proof(title)
    (l1, r1, e1, b1), (l2, r2, e2, b2) = proof.links()
    v1 = Verdict(1, l1, r1, e1, Status.PROVED, "identical after differentiating", b1)
    if second is Status.PROVED:
        v2 = Verdict(2, l2, r2, e2, Status.PROVED, "rhs - lhs is a square", b2)
    elif second is Status.REFUTED:
        v2 = Verdict(2, l2, r2, e2, Status.REFUTED, "sampling", b2,
                     counterexample=Counterexample({x: sp.Integer(0)}, sp.Rational(1, 4), sp.Rational(1, 8), True))
    elif second is Status.NUMERIC:
        v2 = Verdict(2, l2, r2, e2, Status.NUMERIC, "sampling", b2, samples=100, digits=30)
    else:
        v2 = Verdict(2, l2, r2, e2, Status.UNKNOWN, "budget", b2, note="time budget ran out")
    return Report(proof, (v1, v2))


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("display must not run the kernel")
    monkeypatch.setattr("symgrad.proofs.proof.check", refuse)


# ----------------------------------------------------------------- proofs


GOLDEN_PROOF = """\
Proof (2 steps, assuming t > 0):
    Derivative(sigmoid(x), x)
  = (1 - sigmoid(x))*sigmoid(x)    by derivative of the logistic function
  ≤ 1/4                            by square-nonnegative"""


def test_proof_text_golden(no_kernel: None) -> None:
    proof = make_proof()
    assert proof_text(proof) == GOLDEN_PROOF
    assert repr(proof) == GOLDEN_PROOF


def test_proof_text_title_and_no_justification() -> None:
    proof = calc(x, title="tiny").ge(x - 1)
    assert proof_text(proof) == "Proof 'tiny' (1 step):\n    x\n  ≥ x - 1"
    assert proof_text(calc(x)) == "Proof (0 steps):\n    x"


def test_proof_text_long_expression_keeps_column() -> None:
    long = sum(sp.Symbol(f"a{i}") for i in range(30))
    text = proof_text(calc(x).eq(long, by="expand").eq(x, by="collapse"))
    lines = text.splitlines()
    assert lines[2].endswith("    by expand")
    assert lines[3].index("by collapse") == 4 + 48 + 4


# ----------------------------------------------------------------- reports


GOLDEN_REPORT = """\
Report on 'Slope' (refuted): Derivative(sigmoid(x), x) ≤ 1/4 is not established: step 2 is refuted
  assuming t > 0
    Derivative(sigmoid(x), x)
  = (1 - sigmoid(x))*sigmoid(x)    by derivative of the logistic function
      step 1 proved — identical after differentiating
  ≤ 1/4                            by square-nonnegative
      step 2 refuted — counterexample at x = 0: lhs = 1/4, rhs = 1/8"""


def test_report_text_golden() -> None:
    report = make_report(Status.REFUTED, title="Slope")
    assert report_text(report) == GOLDEN_REPORT
    assert repr(report) == GOLDEN_REPORT


@pytest.mark.parametrize("status, head", [
    (Status.PROVED, "Report (proved): Derivative(sigmoid(x), x) ≤ 1/4 is proved"),
    (Status.NUMERIC, "Report (numeric): Derivative(sigmoid(x), x) ≤ 1/4 is checked numerically, "
                     "not proved (step 2 without symbolic proof)"),
    (Status.UNKNOWN, "Report (unknown): Derivative(sigmoid(x), x) ≤ 1/4 is not established: "
                     "step 2 could not be decided"),
])
def test_report_head_line(status: Status, head: str) -> None:
    text = report_text(make_report(status))
    assert text.splitlines()[0] == head
    assert f"step 2 {status.value}" in text


def test_report_numeric_evidence() -> None:
    assert "no counterexample at 100 sampled points at 30 digits" in report_text(make_report(Status.NUMERIC))


def test_empty_report() -> None:
    assert report_text(Report(calc(x), ())) == "Report (unknown): empty chain, nothing to check\n    x"


# ----------------------------------------------------------------- documents


def make_document(report: Report) -> tuple[Document, DocumentReport]:
    doc = Document(
        name="sigmoid-slope",
        title="Slope of the sigmoid",
        summary=r"We bound $\frac{d}{dx}\sigma(x)$ by $\frac{1}{4}$.",
        blocks=(
            Section("Claim"),
            Prose(r"For real $x$, $\sigma'(x) \le \frac14$ holds."),
            Equation(sp.Eq(sp.Symbol("y"), s)),
            Equation(r"\sigma(x) = \frac{1}{1 + e^{-x}}"),
            ProofBlock(report.proof, title="The bound"),
            Table(("x", "value"), ((0, sp.Rational(1, 4)), ("large", sp.Integer(0)))),
            Listing("print(1)\n", caption="Code"),
            Figure({"latex": r"\begin{tikzpicture}\end{tikzpicture}"}, caption="A picture"),
        ),
    )
    return doc, DocumentReport(doc, (report,))


def test_document_text_outline(no_kernel: None) -> None:
    doc, _ = make_document(make_report(Status.PROVED))
    text = document_text(doc)
    assert repr(doc) == text
    assert text.splitlines() == [
        "Document 'sigmoid-slope': Slope of the sigmoid",
        "  We bound d/dx σ(x) by 1/4.",
        "  8 blocks: 1 section, 1 prose, 2 equations, 1 proof, 1 table, 1 listing, 1 figure",
        "  ## Claim",
        "  prose: For real x, σ'(x) ≤ 1/4 holds.",
        "  equation: y = sigmoid(x)",
        "  equation: σ(x) = 1/(1 + e^(-x))",
        "  proof 'The bound': Derivative(sigmoid(x), x) ≤ 1/4 (2 steps)",
        "  table 2×2",
        "  listing (python, 1 line): Code",
        "  figure: A picture",
    ]


def test_terminal_text_of_a_document_report() -> None:
    _, report = make_document(make_report(Status.REFUTED))
    text = terminal_text(report)
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert text.startswith("Slope of the sigmoid\n====================\n[sigmoid-slope]\n")
    assert "Checked: 1 proof; 1 refuted." in text
    assert "Proof: The bound\n  Report (refuted):" in text
    assert "      step 2 refuted — counterexample at x = 0: lhs = 1/4, rhs = 1/8" in text
    assert "    y = sigmoid(x)\n" in text
    assert "For real x, σ'(x) ≤ 1/4 holds." in text
    assert "    σ(x) = 1/(1 + e^(-x))\n" in text
    assert "    x      value\n    -----  -----\n    0      1/4\n    large  0\n" in text
    assert "    print(1)\n    Listing: Code\n" in text
    assert "    [Figure: A picture]\n" in text
    # no LaTeX source dumps
    assert not re.search(r"\\(frac|begin|sigma|left|tikz)", text), text


def test_terminal_text_checks_documents_and_proofs(monkeypatch: pytest.MonkeyPatch) -> None:
    from symgrad import interactive

    report = make_report(Status.PROVED)
    doc, doc_report = make_document(report)
    monkeypatch.setattr("symgrad.proofs.proof.check", lambda proof, options=None, **kw: report)
    assert interactive.terminal_text(doc) == terminal_text(doc_report)
    assert "Checked: the proof is proved." in interactive.terminal_text(doc)
    assert interactive.terminal_text(report.proof) == report_text(report) + "\n"


def test_terminal_text_without_checking(no_kernel: None) -> None:
    doc, _ = make_document(make_report(Status.PROVED))
    text = terminal_text(doc)
    assert "Checked" not in text and "  Proof (2 steps, assuming t > 0):" in text
    assert terminal_text(make_proof()) == GOLDEN_PROOF + "\n"
    with pytest.raises(InputError):
        terminal_text(42)  # type: ignore[arg-type]


def test_latex_to_text() -> None:
    assert latex_to_text(r"\frac{1}{1 + e^{-x}}") == "1/(1 + e^(-x))"
    assert latex_to_text(r"\sigma'(x) \le \frac14.") == "σ'(x) ≤ 1/4."
    assert latex_to_text(r"\frac{d}{dx}\sigma(x)") == "d/dx σ(x)"
    assert latex_to_text(r"\left(\alpha \cdot \beta\right) \le \mathrm{Var}") == "(α · β) ≤ Var"
    assert latex_to_text(r"\left.\frac{\partial L}{\partial x}\right|_{x=0}") == "(∂ L)/(∂ x) |_(x=0)"
    assert latex_to_text(r"\sqrt{x^{2}+1}, \{a\}") == "√(x^2+1), {a}"
    for broken in ("{", "}", r"\frac", "a^", "\\"):
        latex_to_text(broken)  # never raises


# ----------------------------------------------------------------- Jupyter


def test_mimebundle_of_a_proof(no_kernel: None) -> None:
    proof = make_proof()
    bundle = mimebundle(proof)
    assert set(bundle) == {"text/plain", "text/markdown", "text/latex"}
    assert bundle["text/plain"] == GOLDEN_PROOF
    assert "**Claim** (not checked)" in bundle["text/markdown"]
    assert bundle["text/latex"] == (
        "$$\n\\begin{aligned}\n"
        "\\frac{d}{d x} \\sigma{\\left(x\\right)} &= \\left(1 - \\sigma{\\left(x\\right)}\\right) "
        "\\sigma{\\left(x\\right)} && \\text{(derivative of the logistic function)} \\\\\n"
        "&\\le \\frac{1}{4} && \\text{(square-nonnegative)}\n"
        "\\end{aligned}\n$$\n"
    )
    assert proof._repr_mimebundle_() == bundle


def test_mimebundle_of_a_report() -> None:
    report = make_report(Status.NUMERIC)
    bundle = mimebundle(report)
    assert bundle["text/plain"] == report_text(report)
    assert "| 2 | square-nonnegative | **numeric** |" in bundle["text/markdown"]
    assert bundle["text/latex"].startswith("$$\n\\begin{aligned}\n")
    assert "documentclass" not in bundle["text/latex"]


def test_mimebundle_of_documents(no_kernel: None) -> None:
    doc, doc_report = make_document(make_report(Status.PROVED))
    bundle = mimebundle(doc)
    assert set(bundle) == {"text/plain", "text/markdown"}
    assert bundle["text/markdown"].startswith("# Slope of the sigmoid\n")
    assert "Checked by symgrad" not in bundle["text/markdown"]
    rich = mimebundle(doc_report)
    assert rich["text/plain"] == terminal_text(doc_report)
    assert "*Checked by symgrad: 1 of 1 proof is proved.*" in rich["text/markdown"]


def test_mimebundle_survives_bad_prose() -> None:
    doc = Document("bad", "Bad", "", (Prose("an unclosed $ sign"),))
    assert set(mimebundle(doc)) == {"text/plain"}
    with pytest.raises(InputError):
        mimebundle(3)  # type: ignore[arg-type]


# ----------------------------------------------------------------- sub-proofs (Step.details)


def make_nested(refuted: bool) -> Report:
    u = 2 * x
    sub = calc(sp.Derivative(u, x)).eq(3 if refuted else 2, by="constant multiple")
    proof = calc(sp.Derivative(sp.exp(u), x)).eq(2 * sp.exp(u), by="chain rule", details=[sub])
    (sl, sr, se, sb), = sub.links()
    sub_verdict = (Verdict(1, sl, sr, se, Status.REFUTED, "sampling", sb,
                           counterexample=Counterexample({}, sp.Integer(2), sp.Integer(3), True))
                   if refuted else Verdict(1, sl, sr, se, Status.PROVED, "identical", sb))
    (l, r, e, by), = proof.links()
    return Report(proof, (Verdict(1, l, r, e, Status.PROVED, "identical", by,
                                  details=(Report(sub, (sub_verdict,)),)),))


GOLDEN_NESTED_REPORT = """\
Report (refuted): Derivative(exp(2*x), x) = 2*exp(2*x) is not established: step 1 (in a sub-proof) is refuted
    Derivative(exp(2*x), x)
  = 2*exp(2*x)    by chain rule
      step 1 proved — identical
      ↳ sub-proof (refuted): Derivative(2*x, x) = 3
            Derivative(2*x, x)
          = 3    by constant multiple
              step 1 refuted — counterexample at every point: lhs = 2, rhs = 3"""


def test_report_text_shows_sub_proofs_indented() -> None:
    assert report_text(make_nested(refuted=True)) == GOLDEN_NESTED_REPORT
    assert "↳ sub-proof (proved): Derivative(2*x, x) = 2" in report_text(make_nested(refuted=False))


def test_proof_text_shows_sub_proofs_indented(no_kernel: None) -> None:
    assert proof_text(make_nested(refuted=False).proof).splitlines() == [
        "Proof (1 step):",
        "    Derivative(exp(2*x), x)",
        "  = 2*exp(2*x)    by chain rule",
        "      ↳ sub-proof: Derivative(2*x, x) = 2",
        "            Derivative(2*x, x)",
        "          = 2    by constant multiple",
    ]
