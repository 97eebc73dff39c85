r"""Render proofs, reports and documents as Markdown or LaTeX through Jinja.

The renderer is a pure function of the model plus templates:

1. the model (a :class:`~symgrad.model.Proof`, :class:`~symgrad.model.Report`,
   :class:`~symgrad.model.Document` or :class:`~symgrad.model.DocumentReport`)
   is turned into *views*: small frozen records whose math is already LaTeX
   (via :func:`sympy.latex`) and whose user text is still raw;
2. a template of the chosen format lays the views out, escaping user text
   explicitly with the format's filters (``md``/``md_line``/``md_prose`` for
   Markdown, ``tex``/``tex_text``/``tex_prose`` for LaTeX). Autoescaping is
   off: it knows only HTML.

Template search path (see :func:`environment`): the user's ``template_dir``
first, then the templates shipped in ``symgrad.templates``. Every shipped
template is also reachable as ``"symgrad/<name>"``, so a user template named
like one of ours shadows it and can still extend it::

    {% extends "symgrad/proof.md.j2" %}
    {% block verdicts %}{% endblock %}

LaTeX templates use other delimiters, because ``{{{`` and ``{#1}`` are
everyday LaTeX: ``((* block *))``, ``((( variable )))``, ``((# comment #))``.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence, Union

import jinja2
import sympy as sp
from sympy.core.function import AppliedUndef

from ..core.errors import InputError, TemplateError
from .escape import (
    escape_latex,
    escape_latex_math_text,
    escape_markdown,
    escape_markdown_line,
    latex_code_ascii,
    latex_math_ascii,
    split_math,
)
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
from ..core.verdicts import Justification, Status, Verdict
from ..proofs.proof import Proof, Report

if TYPE_CHECKING:  # pragma: no cover
    from importlib.resources.abc import Traversable

__all__ = [
    "render",
    "environment",
    "shipped_templates",
    "normalize_format",
    "math_latex",
    "proof_view",
    "document_view",
    "render_template",
    "FORMATS",
    "ProofView",
    "StepView",
    "DocumentView",
]

#: Accepted format names and the file extension of their templates.
FORMATS: dict[str, str] = {"markdown": "md", "md": "md", "latex": "tex", "tex": "tex"}

TemplateDir = Union[str, "os.PathLike[str]"]


def normalize_format(fmt: str) -> str:
    """``"markdown"``/``"md"`` -> ``"md"``, ``"latex"``/``"tex"`` -> ``"tex"``."""
    key = fmt.strip().lower() if isinstance(fmt, str) else fmt
    if key not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: use one of 'markdown' (or 'md'), 'latex' (or 'tex')")
    return FORMATS[key]


# ---------------------------------------------------------------------------
# Math
# ---------------------------------------------------------------------------


def math_latex(obj: Any) -> str:
    r"""LaTeX for a SymPy object (``sympy.latex``); a ``str`` is taken as LaTeX.

    The result is ASCII (Unicode symbol names become commands) and has no
    blank lines, so it is safe in ``$$...$$``, ``align*`` and table cells.
    """
    if isinstance(obj, str):
        text = obj.strip()
    elif isinstance(obj, (sp.Basic, sp.MatrixBase)):
        text = sp.latex(with_safe_names(obj))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        text = sp.latex(sp.sympify(obj))
    else:
        raise InputError(f"cannot typeset {type(obj).__name__} {obj!r} as math: use a SymPy object or a LaTeX string")
    text = "\n".join(line for line in text.splitlines() if line.strip())
    return latex_math_ascii(text)


#: LaTeX commands a symbol or function name may use (letters, accents, fonts); any other
#: command (``\input``, ``\write``, ``\def`` ...) or special character makes the name text.
_NAME_COMMANDS = frozenset("""
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi varpi
    rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma
    Upsilon Phi Psi Omega ell nabla partial hat bar tilde vec dot ddot breve check acute grave widehat
    widetilde overline underline mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak boldsymbol
    operatorname prime star ast dagger infty cdot ldots dots
""".split())
_NAME_TOKEN = re.compile(r"\\([A-Za-z]+)|([A-Za-z0-9_^{}',. ()\[\]+\-*/|:;!?=]|[^\W\d_])|(.)", re.S)


def safe_name(name: str) -> str:
    r"""``name`` if it is plain LaTeX for a symbol (letters, digits, ``_ ^ { }``, Greek, accents,
    fonts), else the name as escaped text (``\text{...}``), so no name can run a command
    (``\input``) or carry raw HTML into a document."""
    depth = 0
    for command, plain, other in _NAME_TOKEN.findall(name):
        if other or (command and command not in _NAME_COMMANDS):
            return r"\text{" + escape_latex_math_text(name) + "}"
        depth += plain == "{"
        depth -= plain == "}"
        if depth < 0:
            break
    if depth != 0:
        return r"\text{" + escape_latex_math_text(name) + "}"
    return name


def with_safe_names(obj: Any) -> Any:
    """``obj`` with every symbol and undefined function whose name is not :func:`safe_name` renamed."""
    if isinstance(obj, sp.MatrixBase):
        return obj.applyfunc(with_safe_names)
    if not isinstance(obj, sp.Basic):
        return obj
    renames: dict[sp.Basic, sp.Basic] = {}
    for symbol in obj.atoms(sp.Symbol):
        safe = safe_name(symbol.name)
        if safe != symbol.name:
            renames[symbol] = sp.Symbol(safe)
    for call in obj.atoms(AppliedUndef):
        safe = safe_name(call.func.__name__)
        if safe != call.func.__name__:
            renames[call] = sp.Function(safe)(*call.args)
    return obj.xreplace(renames) if renames else obj


def _value_latex(value: Any, digits: int = 6) -> str:
    """A number as LaTeX: exact rationals stay exact, others get ``digits`` digits."""
    try:
        if isinstance(value, sp.Rational):
            return sp.latex(value)
        if isinstance(value, sp.Basic) and value.is_number:
            return sp.latex(sp.N(value, digits))
    except (TypeError, ValueError):  # pragma: no cover - defensive
        pass
    return math_latex(value) if isinstance(value, (sp.Basic, int, float)) else escape_latex_math_text(str(value))


# ---------------------------------------------------------------------------
# Views: what templates see
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CounterexampleView:
    """A counterexample: ``point`` is ``(symbol, value)`` pairs, all LaTeX."""

    point: tuple[tuple[str, str], ...]
    lhs_value: str
    rhs_value: str
    exact: bool
    text: str


@dataclass(frozen=True)
class StepView:
    r"""One step ``lhs REL rhs`` with its justification and (if checked) verdict.

    ``lhs``/``rhs``/``relation`` are LaTeX (``relation`` is ``=``, ``\le`` ...);
    ``justification``, ``rule``, ``text``, ``evidence`` and ``method`` are raw
    user/kernel text to be escaped by the template. ``status`` is ``None``
    when the proof was not checked. ``details`` are the views of the step's
    sub-proofs (``Step.details``); ``overall_status`` is the weakest of
    ``status`` and the sub-proofs' statuses.
    """

    index: int
    lhs: str
    relation: str
    relation_word: str
    rhs: str
    justification: str
    rule: str | None
    text: str | None
    status: str | None = None
    method: str = ""
    evidence: str = ""
    counterexample: CounterexampleView | None = None
    samples: int = 0
    digits: int = 0
    min_slack: str | None = None
    overall_status: str | None = None
    details: tuple["ProofView", ...] = ()
    label: str | None = None


@dataclass(frozen=True)
class ProofView:
    """A proof and, when checked, its verdicts; math is LaTeX, text raw."""

    kind: str
    title: str | None
    start: str
    steps: tuple[StepView, ...]
    assumptions: tuple[str, ...]
    claim: str
    checked: bool
    status: str | None
    ok: bool
    not_proved: tuple[int, ...]
    first_failure: int | None
    lemmas: tuple[str, ...] = ()
    ok_given_lemmas: bool = False
    definitions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProseView:
    kind: str
    text: str


@dataclass(frozen=True)
class SectionView:
    kind: str
    title: str
    level: int


@dataclass(frozen=True)
class EquationView:
    kind: str
    latex: str
    label: str | None


@dataclass(frozen=True)
class CellView:
    """A table cell: LaTeX math if ``math`` else raw text."""

    math: bool
    text: str


@dataclass(frozen=True)
class TableView:
    kind: str
    columns: tuple[str, ...]
    rows: tuple[tuple[CellView, ...], ...]
    caption: str | None


@dataclass(frozen=True)
class ListingView:
    kind: str
    code: str
    language: str
    caption: str | None


@dataclass(frozen=True)
class FigureView:
    kind: str
    sources: Mapping[str, str]
    caption: str | None


BlockView = Union[ProseView, SectionView, EquationView, ProofView, TableView, ListingView, FigureView]


@dataclass(frozen=True)
class DocumentView:
    """A document: ``summary`` is raw prose; ``blocks`` are views in order."""

    name: str
    title: str
    summary: str
    blocks: tuple[BlockView, ...]
    checked: bool
    status: str | None
    ok: bool
    proof_count: int
    status_counts: tuple[tuple[str, int], ...]


#: The document-level label of a proof that is proved except for steps resting on cited lemmas.
CONDITIONAL = "conditional"


def _step_view(index: int, lhs: sp.Expr, relation: Any, rhs: sp.Expr, by: Justification,
               verdict: Verdict | None, details: Sequence[Proof] = ()) -> StepView:
    sub_reports: Sequence[Report] = verdict.details if verdict is not None else ()
    sub_views = tuple(proof_view(sub, sub_reports[j] if j < len(sub_reports) else None)
                      for j, sub in enumerate(details))
    base: dict[str, Any] = dict(
        index=index,
        lhs=math_latex(lhs),
        relation=relation.latex,
        relation_word=relation.word,
        rhs=math_latex(rhs),
        justification=str(by),
        rule=by.rule,
        text=by.text,
        details=sub_views,
    )
    if verdict is None:
        return StepView(**base)
    cex = None
    if verdict.counterexample is not None:
        c = verdict.counterexample
        point = tuple(
            (math_latex(k), _value_latex(v))
            for k, v in sorted(c.point.items(), key=lambda kv: str(kv[0]))
        )
        cex = CounterexampleView(point, _value_latex(c.lhs_value), _value_latex(c.rhs_value), c.exact, c.describe())
    return StepView(
        **base,
        status=verdict.status.value,
        method=verdict.method,
        evidence=verdict.evidence(),
        counterexample=cex,
        samples=verdict.samples,
        digits=verdict.digits,
        min_slack=None if verdict.min_slack is None else _value_latex(verdict.min_slack, 3),
        overall_status=Status.weakest([verdict.status, *(r.status for r in sub_reports)]).value,
        label=verdict.label,
    )


def _definition_latex(key: sp.Basic, value: sp.Basic) -> str:
    """``b = g(a)`` or ``f(y) = ...`` for a definition given with ``where=``."""
    if isinstance(value, sp.Lambda):
        return f"{math_latex(key(*value.variables))} = {math_latex(value.expr)}"
    return f"{math_latex(key)} = {math_latex(value)}"


def proof_view(proof: Proof, report: Report | None = None, title: str | None = None) -> ProofView:
    """The view of ``proof``; with ``report``, each step carries its verdict."""
    verdicts = {v.index: v for v in report.steps} if report is not None else {}
    steps = tuple(
        _step_view(i, lhs, rel, rhs, by, verdicts.get(i), step.details)
        for i, ((lhs, rel, rhs, by), step) in enumerate(zip(proof.links(), proof.steps), start=1)
    )
    checked = report is not None
    not_proved = tuple(s.index for s in steps if checked and s.overall_status != Status.PROVED.value)
    first = report.first_failure if report is not None else None
    return ProofView(
        kind="proof",
        title=title if title is not None else proof.title,
        start=math_latex(proof.start),
        steps=steps,
        assumptions=tuple(math_latex(a) for a in proof.assumptions),
        claim=math_latex(proof.claim),
        checked=checked,
        status=report.status.value if report is not None else None,
        ok=bool(report is not None and report.ok),
        not_proved=not_proved,
        first_failure=first.index if first is not None else None,
        lemmas=report.lemmas if report is not None else (),
        definitions=tuple(_definition_latex(k, v) for k, v in proof.definitions),
        ok_given_lemmas=bool(report is not None and report.ok_given_lemmas),
    )


def _cell(value: Any) -> CellView:
    if isinstance(value, str):
        return CellView(False, value)
    if value is None:
        return CellView(False, "")
    if isinstance(value, bool):
        return CellView(False, str(value))
    if isinstance(value, (int, float)):
        return CellView(False, repr(value) if isinstance(value, float) else str(value))
    if isinstance(value, (sp.Basic, sp.MatrixBase)):
        return CellView(True, math_latex(value))
    raise InputError(f"table cell: expected text, a number or a SymPy object, got {type(value).__name__}")


_LABEL_BAD = re.compile(r"[^A-Za-z0-9:.\-]")
_LANGUAGE_BAD = re.compile(r"[^A-Za-z0-9_+\-]")


def _block_view(block: Any, reports: Mapping[int, Report]) -> BlockView:
    if isinstance(block, Prose):
        split_math(block.text)  # validate early: unbalanced $ is an input error
        return ProseView("prose", block.text)
    if isinstance(block, Section):
        return SectionView("section", block.title, max(1, min(6, int(block.level))))
    if isinstance(block, Equation):
        label = _LABEL_BAD.sub("-", block.label) if block.label else None
        return EquationView("equation", math_latex(block.math), label)
    if isinstance(block, ProofBlock):
        return proof_view(block.proof, reports.get(id(block)), title=block.title or block.proof.title)
    if isinstance(block, Table):
        columns = tuple(str(c) for c in block.columns)
        if not columns:
            raise InputError("a table needs at least one column")
        rows = []
        for r, row in enumerate(block.rows, start=1):
            if len(row) != len(columns):
                raise InputError(f"table row {r} has {len(row)} cells, the header has {len(columns)}")
            rows.append(tuple(_cell(v) for v in row))
        return TableView("table", columns, tuple(rows), block.caption)
    if isinstance(block, Listing):
        language = _LANGUAGE_BAD.sub("", block.language or "")
        return ListingView("listing", block.code.replace("\r\n", "\n").rstrip("\n"), language, block.caption)
    if isinstance(block, Figure):
        return FigureView("figure", dict(block.sources), block.caption)
    raise InputError(f"unknown document block {type(block).__name__}")


def document_view(document: Document, report: DocumentReport | None = None) -> DocumentView:
    """The view of ``document``; with ``report``, proofs carry their verdicts."""
    reports: dict[int, Report] = {}
    if report is not None:
        reports = {id(b): r for b, r in zip(document.proofs, report.reports)}
    blocks = tuple(_block_view(b, reports) for b in document.blocks)
    proofs = [b for b in blocks if isinstance(b, ProofView)]
    counts: dict[str, int] = {}
    for p in proofs:
        if p.status is not None:
            key = CONDITIONAL if (p.ok_given_lemmas and not p.ok) else p.status
            counts[key] = counts.get(key, 0) + 1
    order = [Status.PROVED.value, CONDITIONAL, *(s.value for s in Status if s is not Status.PROVED)]
    split_math(document.summary)
    return DocumentView(
        name=document.name,
        title=document.title,
        summary=document.summary,
        blocks=blocks,
        checked=report is not None,
        status=report.status.value if report is not None and proofs else None,
        ok=bool(report is not None and report.ok),
        proof_count=len(proofs),
        status_counts=tuple((s, counts[s]) for s in order if s in counts),
    )


# ---------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------


def _paragraphs(prose: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t]*\n", prose.replace("\r\n", "\n")) if p.strip()]


def md_prose(prose: str, inline: bool = False) -> str:
    """Prose as Markdown: text escaped, ``$...$`` math kept; paragraphs by blank lines.

    ``inline=True`` (captions) makes one line of it.
    """
    if inline:
        prose = " ".join(prose.split())
    out = []
    for para in _paragraphs(prose):
        out.append("".join(
            f"${md_math(' '.join(seg.text.split()))}$" if seg.math
            else escape_markdown(seg.text, line_starts=not inline)
            for seg in split_math(para)
        ))
    return "\n\n".join(out)


def tex_prose(prose: str, inline: bool = False) -> str:
    """Prose as LaTeX: text escaped, ``$...$`` math kept; paragraphs by blank lines.

    ``inline=True`` (captions, moving arguments) makes one paragraph of it.
    """
    if inline:
        prose = " ".join(prose.split())
    out = []
    for para in _paragraphs(prose):
        out.append("".join(
            f"${latex_math_ascii(' '.join(seg.text.split()))}$" if seg.math else escape_latex(seg.text)
            for seg in split_math(para)
        ))
    return "\n\n".join(out)


_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!?])")


def md_math(latex: str) -> str:
    r"""Math for Markdown: a ``<`` that could open an HTML tag (``<b``, ``</``) becomes ``\lt``.

    Markdown renderers read HTML before they see math, so ``$a<b$`` could
    otherwise become a tag; KaTeX and MathJax both know ``\lt``.
    """
    return _TAG_LIKE.sub(r"\\lt ", latex)


def md_math_cell(latex: str) -> str:
    r"""Math for a GFM table cell: a ``|`` would split the cell, so use ``\vert``."""
    latex = latex.replace(r"\|", r"\Vert ")
    latex = re.sub(r"\\(left|right)\|", r"\\\1\\vert ", latex)
    latex = latex.replace("|", r"\vert ")
    return md_math(" ".join(latex.split()))


def md_quote(text: str) -> str:
    """``text`` as a Markdown block quote: each line prefixed with ``> `` (blank lines ``>``)."""
    lines = text.strip("\n").split("\n")
    return "\n".join(f"> {line}" if line.strip() else ">" for line in lines) + "\n"


def md_fence(code: str) -> str:
    """A backtick fence longer than any backtick run in ``code`` (at least 3)."""
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


#: Languages ``listings`` knows, keyed by lower-case name.
_LST_LANGUAGES = {
    "python": "Python", "py": "Python", "bash": "bash", "sh": "sh", "shell": "bash",
    "c": "C", "c++": "C++", "cpp": "C++", "java": "Java", "r": "R", "sql": "SQL",
    "tex": "TeX", "latex": "TeX", "matlab": "Matlab", "octave": "Octave",
    "haskell": "Haskell", "ruby": "Ruby", "perl": "Perl", "xml": "XML", "html": "HTML",
    "make": "make", "fortran": "Fortran", "lisp": "Lisp", "ml": "ML",
}


def lst_language(language: str) -> str:
    """The ``listings`` name of ``language``, or ``""`` if listings lacks it."""
    return _LST_LANGUAGES.get(language.lower(), "")


def tex_listing(code: str) -> str:
    r"""Code for ``lstlisting``: ASCII, and unable to end the environment early."""
    code = latex_code_ascii(code)
    return re.sub(r"\\end(\s*)\{lstlisting\}", r"\\end \1{lstlisting}", code)


def tex_table_columns(table: "TableView") -> str:
    r"""A tabularx column spec for ``table``.

    All ``l`` when the table fits (the template then uses plain ``tabular``);
    otherwise a column whose text is long *and* can break between words
    becomes a ragged ``X`` column, the others stay ``l``.
    """
    def width(text: str, math: bool) -> float:
        return len(text) * (0.5 if math else 1.0)

    widths, words = [], []
    for i, header in enumerate(table.columns):
        cells = [(header, False)] + [(row[i].text, row[i].math) for row in table.rows]
        widths.append(max(width(t, m) for t, m in cells))
        words.append(max(width(w, m) for t, m in cells for w in (t.split() or [""])))
    if sum(widths) + 3 * len(widths) <= _TABLE_CHARS:
        return "l" * len(widths)
    return "".join(r">{\raggedright\arraybackslash}X" if w > 12 and w > 1.5 * longest else "l"
                   for w, longest in zip(widths, words))


#: About how many characters of \small text fit across the text width.
_TABLE_CHARS = 80


def tex_label(label: str) -> str:
    """A string safe inside ``\\label{}``."""
    return _LABEL_BAD.sub("-", label)


def _join_numbers(numbers: Iterable[int]) -> str:
    items = [str(n) for n in numbers]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_FILTERS: dict[str, dict[str, Callable[..., Any]]] = {
    "md": {
        "md": escape_markdown,
        "md_line": escape_markdown_line,
        "md_prose": md_prose,
        "md_math_cell": md_math_cell,
        "md_math": md_math,
        "md_fence": md_fence,
        "md_quote": md_quote,
        "numbers": _join_numbers,
    },
    "tex": {
        "tex": escape_latex,
        "tex_text": escape_latex_math_text,
        "tex_prose": tex_prose,
        "tex_listing": tex_listing,
        "tex_label": tex_label,
        "tex_table_columns": tex_table_columns,
        "lst_language": lst_language,
        "numbers": _join_numbers,
    },
}

_DELIMITERS: dict[str, dict[str, Any]] = {
    "md": {},
    "tex": {
        "block_start_string": "((*",
        "block_end_string": "*))",
        "variable_start_string": "(((",
        "variable_end_string": ")))",
        "comment_start_string": "((#",
        "comment_end_string": "#))",
    },
}


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------


def shipped_templates() -> "Traversable":
    """The directory of the shipped templates.

    ``symgrad.templates`` when installed (``templates/`` is mapped to that
    package in the wheel), else the top-level ``templates/`` of a checkout.
    """
    try:
        root = importlib.resources.files("symgrad.templates")
        if root.joinpath("document.md.j2").is_file():
            return root
    except (ModuleNotFoundError, TypeError):
        pass
    fallback = Path(__file__).resolve().parents[2] / "templates"
    if not (fallback / "document.md.j2").is_file():
        raise TemplateError(
            "cannot find symgrad's templates: neither the package symgrad.templates "
            f"nor {fallback} holds document.md.j2 (a broken installation?)"
        )
    return fallback


class _TraversableLoader(jinja2.BaseLoader):
    """Load templates from an ``importlib.resources`` Traversable (a dir or a zip)."""

    def __init__(self, root: "Traversable") -> None:
        self.root = root

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        parts = [p for p in template.split("/") if p]
        if any(p in (".", "..") for p in parts) or not parts:
            raise jinja2.TemplateNotFound(template)
        node = self.root
        for part in parts:
            node = node.joinpath(part)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        source = node.read_text(encoding="utf-8")
        filename = str(node) if isinstance(node, Path) else None
        return source, filename, lambda: True

    def list_templates(self) -> list[str]:
        names: list[str] = []

        def walk(node: "Traversable", prefix: str) -> None:
            for child in node.iterdir():
                if child.is_dir():
                    walk(child, prefix + child.name + "/")
                elif child.name.endswith(".j2"):
                    names.append(prefix + child.name)

        walk(self.root, "")
        return sorted(names)


def _template_dirs(template_dir: TemplateDir | Sequence[TemplateDir] | None) -> tuple[str, ...]:
    if template_dir is None:
        return ()
    items: Sequence[Any]
    if isinstance(template_dir, (str, os.PathLike)):
        items = [template_dir]
    else:
        items = list(template_dir)
    dirs = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise InputError(f"template_dir: expected a path or a list of paths, got {type(item).__name__}")
        path = Path(item).expanduser().resolve()
        if not path.is_dir():
            raise InputError(f"template_dir {str(item)!r} is not a directory")
        dirs.append(str(path))
    return tuple(dirs)


def environment(fmt: str, template_dir: TemplateDir | Sequence[TemplateDir] | None = None) -> jinja2.Environment:
    """The Jinja environment of ``fmt`` with the user's directories first.

    Loader: ``ChoiceLoader([user dirs..., shipped, PrefixLoader({"symgrad": shipped})])``:
    a name like ``proof.md.j2`` finds the user's file if there is one, and
    ``symgrad/proof.md.j2`` always finds ours.
    """
    return _environment(normalize_format(fmt), _template_dirs(template_dir))


@functools.lru_cache(maxsize=16)
def _environment(ext: str, dirs: tuple[str, ...]) -> jinja2.Environment:
    shipped = _TraversableLoader(shipped_templates())
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(list(dirs))] if dirs else []
    loaders += [jinja2.PrefixLoader({"symgrad": shipped}), shipped]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        **_DELIMITERS[ext],
    )
    env.filters.update(_FILTERS[ext])
    env.globals["fmt"] = ext
    return env


def render_template(name: str, fmt: str, template_dir: TemplateDir | Sequence[TemplateDir] | None = None,
                    **context: Any) -> str:
    """Render the template ``name`` of ``fmt`` with ``context``; errors become TemplateError."""
    env = environment(fmt, template_dir)
    try:
        template = env.get_template(name)
        return template.render(**context)
    except jinja2.TemplateNotFound as exc:
        where = ", ".join([*_template_dirs(template_dir), str(shipped_templates())])
        raise TemplateError(f"template {exc.name!r} not found (searched: {where})") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template {exc.filename or exc.name or name!r}, line {exc.lineno}: {exc.message}"
        ) from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {name!r} (or one it includes) uses an undefined value: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template {name!r} failed: {exc}") from None


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------


def render(obj: Proof | Report | Document | DocumentReport, fmt: str, *,
           template_dir: TemplateDir | Sequence[TemplateDir] | None = None) -> str:
    """Render ``obj`` as ``"markdown"``/``"md"`` or ``"latex"``/``"tex"``; never runs the kernel.

    A :class:`Report` or :class:`DocumentReport` shows each step's verdict; a
    bare :class:`Proof` or :class:`Document` renders as a draft, without
    verdicts. (``symgrad.render`` checks first, then calls this.) Markdown of
    a proof is a fragment; LaTeX is always a complete document.
    ``template_dir`` (a path or a list of paths) is searched before the
    shipped templates.
    """
    ext = normalize_format(fmt)
    if isinstance(obj, Proof):
        return render_template(f"report.{ext}.j2", ext, template_dir, proof=proof_view(obj))
    if isinstance(obj, Report):
        return render_template(f"report.{ext}.j2", ext, template_dir, proof=proof_view(obj.proof, obj))
    if isinstance(obj, Document):
        return render_template(f"document.{ext}.j2", ext, template_dir, document=document_view(obj))
    if isinstance(obj, DocumentReport):
        view = document_view(obj.document, obj)
        return render_template(f"document.{ext}.j2", ext, template_dir, document=view)
    raise InputError(
        f"render: expected a Proof, Report, Document or DocumentReport, got {type(obj).__name__}"
    )
