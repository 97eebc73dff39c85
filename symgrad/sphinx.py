r"""A Sphinx extension: ``.. symgrad::`` checks a derivation and puts it into the page.

In ``conf.py``: ``extensions = ["symgrad.sphinx"]`` (install with ``pip install symgrad[sphinx]``).
Then, in a page::

    .. symgrad:: sigmoid-derivative-bound

    .. symgrad:: mypackage.derivations:softmax_proof
       :budget: 5

The argument is a catalog entry name (``symgrad list``) or ``module:attribute``
naming a :class:`~symgrad.Document`, a :class:`~symgrad.Proof`, or a function
of no arguments returning one (imported like autodoc imports code; no text is
ever evaluated). The kernel checks every proof, and the page gets the
document's prose (with ``$...$`` as math), each chain as display math and a
table of every step's verdict and evidence, tables, code listings and figure
sources.

The build **fails** (exit status 1, an error naming the file, line and each
offending step) when a step is refuted (config ``symgrad_fail_on =
"refuted"``, the default), or when any step is not proved
(``symgrad_fail_on = "unproved"``; a step resting on a cited lemma counts as
proved given the lemma); the page still shows the derivation with its
verdicts. A target that cannot be loaded is an error too. ``symgrad_budget`` (seconds per step) sets the
kernel's budget for every directive; the ``:budget:`` option sets one.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any, Sequence

from docutils import nodes
from docutils.parsers.rst import Directive, directives

from .core.errors import SymgradError
from .core.kernel import CheckOptions
from .proofs.documents import Document, DocumentReport, ProofBlock
from .proofs.proof import Proof
from .rendering import views
from .rendering.escape import split_math
from .rendering.render import render_template

if TYPE_CHECKING:  # pragma: no cover
    from sphinx.application import Sphinx

__all__ = ["SymgradDirective", "SymgradBuildError", "setup", "load", "document_nodes"]

FAIL_ON = ("refuted", "unproved")
_TARGET = re.compile(r"\A[A-Za-z_][\w.]*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\Z")
_ENTRY = re.compile(r"\A[a-z0-9][a-z0-9-]*\Z")


class SymgradBuildError(SymgradError):
    """A ``.. symgrad::`` derivation that may not be published: a step is refuted (or not proved)."""


def _extension_error(message: str) -> Exception:
    from sphinx.errors import ExtensionError

    return ExtensionError(message)


# ---------------------------------------------------------------------------
# What the directive names


def load(target: str) -> Document | Proof:
    """The Document or Proof that ``target`` names: a catalog entry, or ``module:attribute``."""
    target = target.strip()
    if _ENTRY.match(target):
        from . import catalog

        return catalog.get(target)
    if not _TARGET.match(target):
        raise SymgradError(f"{target!r} is neither a catalog entry name (see 'symgrad list') nor module:attribute")
    module_name, _, attribute = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise SymgradError(f"cannot import {module_name!r} for {target!r}: {exc}") from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SymgradError(f"{module_name!r} has no attribute {attribute!r}") from None
    if callable(obj) and not isinstance(obj, (Document, Proof)):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 - the user's function: report it, do not crash the build
            raise SymgradError(f"calling {target} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, (Document, Proof)):
        raise SymgradError(f"{target!r} is a {type(obj).__name__}, not a symgrad Document or Proof")
    return obj


def checked(obj: Document | Proof, budget: float | None) -> DocumentReport:
    """The kernel's report on ``obj``, as a document (a lone proof becomes a document of one proof)."""
    options = CheckOptions(budget=budget) if budget is not None else None
    if isinstance(obj, Proof):
        title = obj.title or "Proof"
        obj = Document(name="proof", title=title, summary="", blocks=(ProofBlock(obj),))
    return obj.check(options)


def failures(report: DocumentReport, fail_on: str) -> list[str]:
    """One line per step that makes the build fail: ``proof title, step N: lhs REL rhs: status — evidence``."""
    from .rendering.display import expr_text

    lines = []
    for block, proof_report in zip(report.document.proofs, report.reports):
        name = block.title or block.proof.title or "a proof"
        for verdict in proof_report.steps:
            bad = verdict.overall_status.value == "refuted" if fail_on == "refuted" else not verdict.ok_given_lemmas
            if bad:
                lines.append(f"{name}, step {verdict.index}: {expr_text(verdict.lhs)} {verdict.relation.unicode} "
                             f"{expr_text(verdict.rhs)}: {verdict.label} — {' '.join(verdict.evidence().split())}")
    return lines


# ---------------------------------------------------------------------------
# docutils nodes


def _inline(text: str) -> list[nodes.Node]:
    """Prose with ``$...$`` as inline math nodes (text is never markup)."""
    out: list[nodes.Node] = []
    for segment in split_math(text):
        out.append(nodes.math(segment.text, segment.text) if segment.math else nodes.Text(segment.text))
    return out


def _paragraph(text: str) -> nodes.paragraph:
    paragraph = nodes.paragraph()
    paragraph.extend(_inline(text))
    return paragraph


def _table(header: Sequence[list[nodes.Node]], rows: Sequence[Sequence[list[nodes.Node]]],
           caption: str | None = None, classes: Sequence[str] = ()) -> nodes.table:
    table = nodes.table(classes=list(classes))
    if caption:
        title = nodes.title()
        title.extend(_inline(caption))
        table += title
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)

    def row(cells: Sequence[list[nodes.Node]]) -> nodes.row:
        out = nodes.row()
        for content in cells:
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            paragraph.extend(content)
            entry += paragraph
            out += entry
        return out

    thead = nodes.thead()
    thead += row(header)
    group += thead
    body = nodes.tbody()
    for cells in rows:
        body += row(cells)
    group += body
    return table


_MATH_FENCE = re.compile(r"^```math\n(?P<math>.*?)\n```$", re.M | re.S)


def _chain_math(view: views.ProofView) -> str:
    """The chain as the Markdown rendering sets it: ``aligned`` rows tagged (1), (2), ... (justifications in the table)."""
    markdown = render_template("proof.md.j2", "markdown", block=view)
    match = _MATH_FENCE.search(markdown)
    if match is None:  # pragma: no cover - the shipped template always writes one
        raise SymgradError("the proof template wrote no math block")
    return match["math"].strip()


def _proof_nodes(view: views.ProofView) -> list[nodes.Node]:
    out: list[nodes.Node] = []
    if view.title:
        rubric = nodes.rubric()
        rubric.extend(_inline(view.title))
        out.append(rubric)
    if view.assumptions or view.definitions:
        paragraph = nodes.paragraph()
        parts = [*(f"${a}$" for a in view.assumptions)]
        paragraph += nodes.Text("Assuming ") if view.assumptions else nodes.Text("")
        paragraph.extend(_inline(", ".join(parts)))
        if view.definitions:
            paragraph += nodes.Text("; where " if view.assumptions else "Where ")
            paragraph.extend(_inline(", ".join(f"${d}$" for d in view.definitions)))
        paragraph += nodes.Text(".")
        out.append(paragraph)
    math = _chain_math(view)
    out.append(nodes.math_block(math, math, nowrap=False, number=None, classes=["symgrad-chain"]))
    rows = []
    for step in view.steps:
        status = step.label or step.status or "not checked"
        evidence = step.evidence or step.method
        rows.append([[nodes.Text(str(step.index))], _inline(step.justification) if step.justification else [],
                     [nodes.strong(status, status)], [nodes.Text(evidence)]])
    if rows:
        header = [[nodes.Text(h)] for h in ("Step", "Justification", "Status", "Evidence")]
        out.append(_table(header, rows, classes=["symgrad-verdicts"]))
    verdict = nodes.paragraph(classes=["symgrad-conclusion"])
    word = ("Proved" if view.ok else "Proved given the cited lemmas" if view.ok_given_lemmas
            else (view.status or "not checked").capitalize())
    verdict += nodes.strong(word + ":", word + ":")
    verdict += nodes.Text(" ")
    verdict += nodes.math(view.claim, view.claim)
    out.append(verdict)
    return out


def document_nodes(report: DocumentReport, title: bool = True) -> list[nodes.Node]:
    """The checked document as docutils nodes: title (unless ``title`` is False) and summary, then every block."""
    view = views.document_view(report.document, report)
    container = nodes.container(classes=["symgrad-document"])
    if title:
        rubric = nodes.rubric(classes=["symgrad-title"])
        rubric.extend(_inline(view.title))
        container += rubric
    if view.summary:
        container += _paragraph(view.summary)
    for block in view.blocks:
        if isinstance(block, views.ProseView):
            for paragraph in re.split(r"\n\s*\n", block.text.strip()):
                if paragraph:
                    container += _paragraph(paragraph)
        elif isinstance(block, views.SectionView):
            heading = nodes.rubric(classes=[f"symgrad-section-{block.level}"])
            heading.extend(_inline(block.title))
            container += heading
        elif isinstance(block, views.EquationView):
            container += nodes.math_block(block.latex, block.latex, nowrap=False, number=None)
        elif isinstance(block, views.ProofView):
            container.extend(_proof_nodes(block))
        elif isinstance(block, views.TableView):
            header = [_inline(c) for c in block.columns]
            rows = [[[nodes.math(c.text, c.text)] if c.math else _inline(c.text) for c in row] for row in block.rows]
            container += _table(header, rows, block.caption)
        elif isinstance(block, views.ListingView):
            listing = nodes.literal_block(block.code, block.code, language=block.language or "text")
            container += listing
            if block.caption:
                container += _paragraph(block.caption)
        elif isinstance(block, views.FigureView):
            for kind, source in sorted(block.sources.items()):
                container += nodes.literal_block(source, source, language=kind if kind != "tikz" else "latex")
            caption = block.caption.get("markdown") if isinstance(block.caption, dict) else block.caption
            if caption:
                container += _paragraph(caption)
    return [container]


# ---------------------------------------------------------------------------
# The directive


def _budget(text: str | None) -> float:
    value = directives.unchanged_required(text)
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"budget must be a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise ValueError(f"budget must be positive, got {value!r}")
    return seconds


class SymgradDirective(Directive):
    """``.. symgrad:: ENTRY-OR-module:attribute`` (option ``:budget: SECONDS``)."""

    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = {"budget": _budget}

    def run(self) -> list[nodes.Node]:
        from sphinx.util import logging

        logger = logging.getLogger(__name__)
        env = self.state.document.settings.env
        config = env.config
        target = self.arguments[0]
        location = (env.docname, self.lineno)
        fail_on = config.symgrad_fail_on
        if fail_on not in FAIL_ON:
            raise _extension_error(f"symgrad_fail_on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
        budget = self.options.get("budget", config.symgrad_budget)
        try:
            obj = load(target)
            report = checked(obj, budget)
        except SymgradError as exc:
            message = f"symgrad:: {target}: {exc}"
            logger.error(message, location=location)
            _failed(env).setdefault(env.docname, []).append(message)
            return []
        bad = failures(report, fail_on)
        if bad:
            what = "refuted" if fail_on == "refuted" else "not proved"
            message = f"symgrad:: {target}: {len(bad)} step(s) {what}:\n  " + "\n  ".join(bad)
            logger.error(message, location=location)
            _failed(env).setdefault(env.docname, []).append(message)
        return document_nodes(report, title=isinstance(obj, Document))


# ---------------------------------------------------------------------------
# Failing the build: the failures of each page live in the environment (so an
# incremental build that does not re-read a failing page still fails)


def _failed(env: Any) -> dict[str, list[str]]:
    if not hasattr(env, "symgrad_failures"):
        env.symgrad_failures = {}
    return env.symgrad_failures  # type: ignore[no-any-return]


def _purge(app: "Sphinx", env: Any, docname: str) -> None:
    _failed(env).pop(docname, None)


def _merge(app: "Sphinx", env: Any, docnames: Sequence[str], other: Any) -> None:
    failed = _failed(env)
    for docname, messages in _failed(other).items():
        if docname in docnames:
            failed[docname] = messages


def _finish(app: "Sphinx", exception: BaseException | None) -> None:
    """A build with a failing derivation ends with exit status 1."""
    if exception is not None or app.env is None:
        return
    failed = _failed(app.env)
    if any(failed.values()):
        from sphinx.util import logging

        pages = ", ".join(sorted(name for name, messages in failed.items() if messages))
        logging.getLogger(__name__).error(f"symgrad: derivations that may not be published in: {pages}")
        app.statuscode = 1


def setup(app: "Sphinx") -> dict[str, Any]:
    """Register the directive and its settings (``symgrad_budget``, ``symgrad_fail_on``)."""
    app.add_config_value("symgrad_budget", None, "env", types=(float, int, type(None)))
    app.add_config_value("symgrad_fail_on", "refuted", "env", types=(str,))
    app.add_directive("symgrad", SymgradDirective)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("build-finished", _finish)
    from . import __version__

    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
