"""Readable text for terminals and rich display for notebooks.

- :func:`proof_text`, :func:`report_text`, :func:`document_text`: the reprs
  of the model (plain Unicode text; SymPy expressions via :func:`sympy.sstr`).
  A step's sub-proofs (``Step.details``) are shown indented under it, each
  headed by ``↳ sub-proof`` and its claim. They never run the kernel.
- :func:`terminal_text`: a whole document (or proof, report) as terminal text
  with each proof's steps and verdicts, for ``symgrad show``.
- :func:`mimebundle`: ``text/plain``, ``text/markdown`` and (for a proof or a
  report) ``text/latex`` for Jupyter. Displaying a Proof or a Document does not
  check it (checking can take seconds); display ``proof.check()`` or
  ``document.check()`` to see verdicts.
"""

from __future__ import annotations

import re
import textwrap
from typing import Mapping, Any, Sequence

import sympy as sp

from ..core.errors import InputError, SymgradError
from .escape import split_math
from .render import render, render_template
from .views import proof_view
from ..proofs.documents import (
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
from ..proofs.proof import Proof, Report
from ..core.verdicts import Status, Verdict

__all__ = [
    "proof_text",
    "report_text",
    "document_text",
    "terminal_text",
    "mimebundle",
    "expr_text",
    "latex_to_text",
]

#: Justifications start at most this far right, so long expressions don't
#: push them off screen.
_MAX_EXPR_COLUMN = 48
_WIDTH = 78


# ---------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------

_REL_TEXT = {"==": "=", "<=": "≤", ">=": "≥", "<": "<", ">": ">", "!=": "≠"}


def expr_text(obj: Any) -> str:
    """A SymPy object as compact one-line text (``sstr``; relations with ≤ ≥)."""
    if isinstance(obj, sp.Rel) and obj.rel_op in _REL_TEXT:
        return f"{expr_text(obj.lhs)} {_REL_TEXT[obj.rel_op]} {expr_text(obj.rhs)}"
    if isinstance(obj, (sp.Basic, sp.MatrixBase)):
        return " ".join(sp.sstr(obj).split())
    return str(obj)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _numbers(items: Sequence[int]) -> str:
    return _join_words([str(i) for i in items])


def _join_words(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _assuming(proof: Proof) -> str:
    return ", ".join(expr_text(a) for a in proof.assumptions)


def _chain_lines(proof: Proof, verdicts: dict[int, Verdict] | None, indent: str = "") -> list[str]:
    """The calc chain one step per line, justifications in a column; with
    ``verdicts``, each step is followed by its verdict line. A step's
    sub-proofs (``Step.details``) follow it, indented, each headed by its claim."""
    links = proof.links()
    exprs = [expr_text(rhs) for _, _, rhs, _ in links]
    column = min(max([len(e) for e in exprs] + [0]), _MAX_EXPR_COLUMN)
    lines = [f"{indent}    {expr_text(proof.start)}"]
    for i, ((_, rel, _, by), text, step) in enumerate(zip(links, exprs, proof.steps), start=1):
        line = f"{indent}  {rel.unicode} {text}"
        if not by.empty:
            line = f"{line:<{len(indent) + 4 + column}}    by {by}"
        lines.append(line.rstrip())
        verdict = verdicts.get(i) if verdicts is not None else None
        if verdicts is not None:
            lines.append(f"{indent}      {_verdict_line(i, verdict)}")
        sub_reports = verdict.details if verdict is not None else ()
        for j, sub in enumerate(step.details):
            sub_report = sub_reports[j] if j < len(sub_reports) else None
            lines += _sub_proof_lines(sub, sub_report, verdicts is not None, indent + "      ")
    return lines


def _sub_proof_lines(proof: Proof, report: Report | None, checked: bool, indent: str) -> list[str]:
    """A sub-proof under its step: a head line with its claim (and status), then its chain."""
    status = f" ({report.status.value})" if report is not None else (" (not checked)" if checked else "")
    title = f" {proof.title!r}" if proof.title else ""
    head = f"{indent}↳ sub-proof{title}{status}: {_claim_text(proof)}"
    verdicts = {v.index: v for v in report.steps} if report is not None else ({} if checked else None)
    return [head, *_chain_lines(proof, verdicts, indent + "  ")]


def _verdict_line(index: int, verdict: Verdict | None) -> str:
    if verdict is None:
        return f"step {index} not checked"
    evidence = " ".join(verdict.evidence().split())
    return f"step {index} {verdict.status.value}" + (f" — {evidence}" if evidence else "")


def _claim_text(proof: Proof) -> str:
    return f"{expr_text(proof.start)} {proof.relation.unicode} {expr_text(proof.end)}"


def _conclusion(report: Report) -> str:
    if not report.steps or not report.proof.steps:
        return "empty chain, nothing to check"
    claim = _claim_text(report.proof)
    if report.ok:
        return f"{claim} is proved"
    status = report.status
    weak = [v for v in report.steps if v.overall_status is status]
    # A step can be weak only through its sub-proofs (Step.details): say so.
    labels = [str(v.index) if v.status is status else f"{v.index} (in a sub-proof)" for v in weak]
    steps = f"{'step' if len(weak) == 1 else 'steps'} {_join_words(labels)}"
    if status is Status.NUMERIC:
        return f"{claim} is checked numerically, not proved ({steps} without symbolic proof)"
    if status is Status.REFUTED:
        return f"{claim} is not established: {steps} {'is' if len(weak) == 1 else 'are'} refuted"
    return f"{claim} is not established: {steps} could not be decided"


# ---------------------------------------------------------------------------
# Reprs
# ---------------------------------------------------------------------------


def proof_text(proof: Proof) -> str:
    """The chain with Unicode relations and justifications, one step per line."""
    details = [_plural(len(proof.steps), "step")]
    if proof.assumptions:
        details.append(f"assuming {_assuming(proof)}")
    title = f" {proof.title!r}" if proof.title else ""
    head = f"Proof{title} ({', '.join(details)}):"
    return "\n".join([head, *_chain_lines(proof, None)])


def report_text(report: Report) -> str:
    """A head line with the overall status and the conclusion, then each step
    with its justification and, below it, its verdict and evidence."""
    proof = report.proof
    title = f" on {proof.title!r}" if proof.title else ""
    lines = [f"Report{title} ({report.status.value}): {_conclusion(report)}"]
    if proof.assumptions:
        lines.append(f"  assuming {_assuming(proof)}")
    lines += _chain_lines(proof, {v.index: v for v in report.steps})
    return "\n".join(lines)


def document_text(document: Document) -> str:
    """A short outline of a document: title, summary and one line per block."""
    counts: dict[str, int] = {}
    for block in document.blocks:
        kind = type(block).__name__.lower().replace("proofblock", "proof")
        counts[kind] = counts.get(kind, 0) + 1
    kinds = ", ".join(_plural(n, k) if k != "prose" else f"{n} prose" for k, n in counts.items())
    lines = [f"Document {document.name!r}: {_oneline(document.title)}"]
    if document.summary.strip():
        lines += textwrap.wrap(_prose_text(document.summary), _WIDTH, initial_indent="  ",
                               subsequent_indent="  ")
    lines.append(f"  {_plural(len(document.blocks), 'block')}" + (f": {kinds}" if kinds else ""))
    for block in document.blocks:
        lines.append("  " + _block_outline(block))
    return "\n".join(lines)


def _oneline(text: str, width: int | None = None) -> str:
    text = " ".join(text.split())
    if width is not None and len(text) > width:
        return text[: width - 1] + "…"
    return text


def _figure_caption(figure: Any) -> str:
    """A figure's caption for the terminal: the Markdown one if given per format."""
    caption = figure.caption
    if isinstance(caption, Mapping):
        return caption.get("markdown") or next(iter(caption.values()), "")
    return caption or ""


def _block_outline(block: Any) -> str:
    if isinstance(block, Section):
        return f"{'#' * block.level} {_oneline(block.title)}"
    if isinstance(block, Prose):
        return f"prose: {_oneline(_prose_text(block.text), 60)}"
    if isinstance(block, Equation):
        return f"equation: {_oneline(_math_text(block.math), 60)}"
    if isinstance(block, ProofBlock):
        title = block.title or block.proof.title
        label = f" {title!r}" if title else ""
        return f"proof{label}: {_oneline(_claim_text(block.proof), 60)} ({_plural(len(block.proof.steps), 'step')})"
    if isinstance(block, Table):
        caption = f": {_oneline(_prose_text(block.caption), 50)}" if block.caption else ""
        return f"table {len(block.rows)}×{len(block.columns)}{caption}"
    if isinstance(block, Listing):
        caption = f": {_oneline(_prose_text(block.caption), 50)}" if block.caption else ""
        return f"listing ({block.language or 'text'}, {_plural(len(block.code.splitlines()), 'line')}){caption}"
    if isinstance(block, Figure):
        return f"figure: {_oneline(_prose_text(_figure_caption(block)), 60)}".rstrip(": ")
    return type(block).__name__


# ---------------------------------------------------------------------------
# LaTeX made readable (prose math and LaTeX-string equations, for terminals)
# ---------------------------------------------------------------------------

_TEX_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ",
    "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ",
    "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ",
    "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ",
    "Omega": "Ω", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "neq": "≠", "ne": "≠",
    "approx": "≈", "equiv": "≡", "to": "→", "rightarrow": "→", "leftarrow": "←",
    "Rightarrow": "⇒", "mapsto": "↦", "infty": "∞", "partial": "∂", "nabla": "∇",
    "sum": "Σ", "prod": "Π", "int": "∫", "in": "∈", "cdot": "·", "times": "×", "pm": "±",
    "odot": "⊙", "otimes": "⊗", "circ": "∘", "ldots": "…", "cdots": "⋯", "dots": "…",
    "top": "T", "prime": "′", "forall": "∀", "exists": "∃", "sqrt": "√", "log": "log",
    "exp": "exp", "ln": "ln", "sin": "sin", "cos": "cos", "tanh": "tanh", "max": "max",
    "min": "min", "quad": "  ", "qquad": "    ", "lvert": "|", "rvert": "|", "mid": "|",
    "langle": "⟨", "rangle": "⟩", "ell": "ℓ",
}


def latex_to_text(latex: str) -> str:
    r"""Best-effort readable text for simple LaTeX math, for terminals.

    ``\frac{1}{1 + e^{-x}}`` -> ``1/(1 + e^(-x))``, ``\sigma`` -> ``σ``,
    ``\left(`` -> ``(``; unknown commands lose their backslash. Not a LaTeX
    parser: it never fails, it only reads simple formulas well.
    """
    tokens = re.findall(r"\\[A-Za-z]+|\\.|\s+|.", latex, flags=re.S)
    text, _ = _tex_sequence(tokens, 0, stop_at_brace=False)
    return re.sub(r" ([)\],.;:])", r"\1", " ".join(text.split()))


_FONT_COMMANDS = {"mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathcal", "mathbb", "text",
                  "textrm", "textbf", "textit", "operatorname", "boldsymbol", "mathbb", "bm"}
_SIZE_COMMANDS = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
                  "displaystyle", "textstyle", "limits", "nolimits"}


def _wrap(text: str) -> str:
    text = text.strip()
    return text if re.fullmatch(r"[\w.′]+", text) else f"({text})"


def _tex_argument(tokens: list[str], i: int) -> tuple[str, int]:
    """One argument: a braced group, a command or a single character."""
    while i < len(tokens) and tokens[i].isspace():
        i += 1
    if i >= len(tokens):
        return "", i
    if tokens[i] == "{":
        return _tex_sequence(tokens, i + 1, stop_at_brace=True)
    return _tex_token(tokens, i)


def _tex_token(tokens: list[str], i: int) -> tuple[str, int]:
    tok = tokens[i]
    if tok.startswith("\\") and len(tok) > 1:
        name = tok[1:]
        if name in ("frac", "dfrac", "tfrac"):
            num, i = _tex_argument(tokens, i + 1)
            den, i = _tex_argument(tokens, i)
            return f"{_wrap(num)}/{_wrap(den)} ", i
        if name == "sqrt":
            arg, i = _tex_argument(tokens, i + 1)
            return f"√{_wrap(arg)}", i
        if name in _FONT_COMMANDS:
            return _tex_argument(tokens, i + 1)
        if name in _SIZE_COMMANDS:
            j = i + 1
            if j < len(tokens) and tokens[j] == ".":
                j += 1  # \left. is an invisible delimiter
            return "", j
        if name in ",;:! ":
            return " ", i + 1
        if name == "\\":
            return "; ", i + 1
        if len(name) == 1 and not name.isalpha():
            return name, i + 1
        return _TEX_SYMBOLS.get(name, name), i + 1
    if tok in ("^", "_"):
        arg, i = _tex_argument(tokens, i + 1)
        return tok + _wrap(arg), i
    if tok == "{":
        return _tex_sequence(tokens, i + 1, stop_at_brace=True)
    if tok == "&":
        return "", i + 1
    if tok == "~":
        return " ", i + 1
    return tok, i + 1


def _tex_sequence(tokens: list[str], i: int, stop_at_brace: bool) -> tuple[str, int]:
    out: list[str] = []
    while i < len(tokens):
        if tokens[i] == "}":
            if stop_at_brace:
                return "".join(out), i + 1
            i += 1
            continue
        piece, i = _tex_token(tokens, i)
        out.append(piece)
    return "".join(out), i


def _prose_text(prose: str) -> str:
    try:
        segments = split_math(prose)
    except InputError:
        return prose
    return "".join(latex_to_text(seg.text) if seg.math else seg.text for seg in segments)


def _math_text(math: Any) -> str:
    if isinstance(math, str):
        return latex_to_text(math)
    return expr_text(math)


# ---------------------------------------------------------------------------
# Terminal text of a whole document
# ---------------------------------------------------------------------------


def _heading(text: str, underline: str) -> list[str]:
    text = _oneline(text)
    return [text, underline * max(3, min(len(text), _WIDTH))]


def _wrap_prose(prose: str, indent: str = "") -> list[str]:
    out: list[str] = []
    for para in re.split(r"\n[ \t]*\n", prose.replace("\r\n", "\n")):
        if para.strip():
            if out:
                out.append("")
            out += textwrap.wrap(" ".join(_prose_text(para).split()), _WIDTH,
                                 initial_indent=indent, subsequent_indent=indent)
    return out


def _table_lines(table: Table) -> list[str]:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        return _oneline(value) if isinstance(value, str) else expr_text(value)

    rows = [[_oneline(_prose_text(str(c))) for c in table.columns]] + [[cell(v) for v in row] for row in table.rows]
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(table.columns))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("    " + "  ".join(f"{c:<{w}}" for c, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("    " + "  ".join("-" * w for w in widths))
    if table.caption:
        lines.append(f"    Table: {_oneline(_prose_text(table.caption))}")
    return lines


def _document_lines(document: Document, reports: dict[int, Report] | None) -> list[str]:
    lines = _heading(document.title, "=")
    lines.append(f"[{document.name}]")
    if document.summary.strip():
        lines += [""] + _wrap_prose(document.summary)
    if reports is not None and document.proofs:
        statuses = [r.status for r in reports.values()]
        if all(r.ok for r in reports.values()):
            lines += ["", f"Checked: {'the proof is' if len(statuses) == 1 else f'all {len(statuses)} proofs are'} proved."]
        else:
            counts = ", ".join(f"{sum(1 for s in statuses if s is st)} {st.value}"
                               for st in Status if any(s is st for s in statuses))
            lines += ["", f"Checked: {_plural(len(statuses), 'proof')}; {counts}."]
    for block in document.blocks:
        lines.append("")
        if isinstance(block, Section):
            lines += _heading(block.title, "-" if block.level <= 2 else "·")
        elif isinstance(block, Prose):
            lines += _wrap_prose(block.text)
        elif isinstance(block, Equation):
            lines.append("    " + _math_text(block.math))
        elif isinstance(block, ProofBlock):
            if block.title and block.title != block.proof.title:
                lines.append(f"Proof: {_oneline(block.title)}")
            report = reports.get(id(block)) if reports is not None else None
            text = report_text(report) if report is not None else proof_text(block.proof)
            lines += ["  " + line for line in text.splitlines()]
        elif isinstance(block, Table):
            lines += _table_lines(block)
        elif isinstance(block, Listing):
            lines += ["    " + line for line in block.code.rstrip("\n").splitlines()]
            if block.caption:
                lines.append(f"    Listing: {_oneline(_prose_text(block.caption))}")
        elif isinstance(block, Figure):
            caption = _figure_caption(block)
            lines.append(f"    [Figure{': ' + _oneline(_prose_text(caption)) if caption else ''}]")
    return lines


def terminal_text(obj: Proof | Report | Document | DocumentReport) -> str:
    """Plain terminal text with every proof's steps and, for reports, verdicts (ends with a newline).

    Never runs the kernel: a bare Proof or Document shows without verdicts.
    """
    if isinstance(obj, DocumentReport):
        reports = {id(b): r for b, r in zip(obj.document.proofs, obj.reports)}
        lines = _document_lines(obj.document, reports)
    elif isinstance(obj, Document):
        lines = _document_lines(obj, None)
    elif isinstance(obj, Report):
        lines = report_text(obj).splitlines()
    elif isinstance(obj, Proof):
        lines = proof_text(obj).splitlines()
    else:
        raise InputError(f"terminal_text: expected a Proof, Report, Document or DocumentReport, got {type(obj).__name__}")
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------
# Jupyter
# ---------------------------------------------------------------------------


def mimebundle(obj: Proof | Report | Document | DocumentReport) -> dict[str, str]:
    """``text/plain``, ``text/markdown`` and, for proofs and reports, ``text/latex``.

    Never runs the kernel: a Proof or Document shows without verdicts. A
    rendering failure (e.g. unbalanced ``$`` in prose) drops the rich keys
    rather than breaking the display.
    """
    bundle: dict[str, str]
    if isinstance(obj, Proof):
        bundle = {"text/plain": proof_text(obj)}
        view = lambda: proof_view(obj)  # noqa: E731
    elif isinstance(obj, Report):
        bundle = {"text/plain": report_text(obj)}
        view = lambda: proof_view(obj.proof, obj)  # noqa: E731
    elif isinstance(obj, Document):
        bundle = {"text/plain": document_text(obj)}
        view = None
    elif isinstance(obj, DocumentReport):
        bundle = {"text/plain": terminal_text(obj)}
        view = None
    else:
        raise InputError(f"mimebundle: expected a Proof, Report, Document or DocumentReport, got {type(obj).__name__}")
    try:
        bundle["text/markdown"] = render(obj, "markdown")
        if view is not None:
            bundle["text/latex"] = render_template("math.tex.j2", "latex", block=view()).strip() + "\n"
    except SymgradError:
        pass
    return bundle
