"""Views: the model turned into what templates see.

A view is a small frozen record whose math is already LaTeX (``sympy.latex``,
with names made safe by :func:`safe_name`) and whose user text is still raw;
the templates escape text with the format's filters. Building views never runs
the kernel: a proof without a report is a draft without verdicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence, Union

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter

from ..core.errors import InputError
from ..core.functions import sigmoid
from ..core.rules import BUILTIN_RULES
from ..core.verdicts import Justification, Status, Verdict
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
from .escape import escape_latex_math_text, latex_math_ascii, split_math

__all__ = ["math_latex", "notation_latex", "tidy_numbers", "safe_name", "with_safe_names", "proof_view", "document_view", "ProofView", "StepView",
           "DocumentView", "TableView"]


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
        text = notation_latex(with_safe_names(obj))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        text = notation_latex(sp.sympify(obj))
    else:
        raise InputError(f"cannot typeset {type(obj).__name__} {obj!r} as math: use a SymPy object or a LaTeX string")
    text = "\n".join(line for line in text.splitlines() if line.strip())
    return latex_math_ascii(text)


def _is_rational_sum(expr: sp.Basic) -> bool:
    return isinstance(expr, sp.Add) and all(isinstance(a, sp.Rational) for a in expr.args)


def _rebuild(expr: sp.Basic, args: Sequence[sp.Basic]) -> sp.Basic:
    """``expr`` with new ``args``; sums, products and powers stay as unevaluated as they were."""
    if isinstance(expr, (sp.Add, sp.Mul, sp.Pow, sp.MatAdd, sp.MatMul, sp.core.relational.Relational)):
        return expr.func(*args, evaluate=False)
    try:
        return expr.func(*args)
    except (TypeError, ValueError):  # a node that cannot be rebuilt from its arguments is printed as it is
        return expr


def tidy_numbers(expr: Any) -> Any:
    """``expr`` with every nested sum of rational numbers replaced by its value (law: ``-1/2 + 1 = 1/2``).

    The value of the whole expression is unchanged; the outermost node is kept, so a chain that
    starts from ``1 + 2`` still shows it. Unevaluated products and powers are left as written.
    """
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(tidy_numbers)
    if not isinstance(expr, sp.Basic) or not expr.args:
        return expr

    def walk(node: sp.Basic) -> sp.Basic:
        if _is_rational_sum(node):
            return sp.Add(*node.args)
        if not node.args or isinstance(node, sp.MatrixBase):
            return node
        args = [walk(a) for a in node.args]
        if all(a is b for a, b in zip(args, node.args)):
            return node
        return _rebuild(node, args)

    args = [walk(a) for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args)):
        return expr
    return _rebuild(expr, args)


def _without_minus_one(expr: sp.Mul) -> list[sp.Basic] | None:
    """The factors of an unevaluated product with one factor ``-1`` (also one level down) removed, or ``None``."""
    args = list(expr.args)
    if len(args) < 2:
        return None
    if sp.S.NegativeOne in args:
        args.remove(sp.S.NegativeOne)
        return args
    for k, arg in enumerate(args):
        if isinstance(arg, sp.Mul) and len(arg.args) > 1 and sp.S.NegativeOne in arg.args:
            inner = list(arg.args)
            inner.remove(sp.S.NegativeOne)
            args[k] = inner[0] if len(inner) == 1 else sp.Mul(*inner, evaluate=False)
            return args
    return None


def _ties_broken(terms: list[sp.Basic], printed: Callable[[sp.Basic], str]) -> list[sp.Basic]:
    """SymPy's order of terms, with terms it cannot tell apart (equal sort keys, such as
    ``(g_1 + g_3)/2`` and ``(g_3 + g_1)/2`` built unevaluated) ordered by how they print:
    otherwise their order follows Python's hash order, which changes from run to run."""
    out: list[sp.Basic] = []
    k = 0
    while k < len(terms):
        key = sp.default_sort_key(terms[k])
        end = k + 1
        while end < len(terms) and sp.default_sort_key(terms[end]) == key:
            end += 1
        out += sorted(terms[k:end], key=printed) if end - k > 1 else terms[k:end]
        k = end
    return out


class NotationPrinter(LatexPrinter):
    r"""SymPy's LaTeX printer with terms in the order a person writes them.

    - a sum starts with a term that has no minus sign when it has one (``x_1 - \mu_B``,
      not ``- \mu_B + x_1``); the other terms keep SymPy's order, or the order they were
      written in when the sum was built unevaluated;
    - a factor ``-1`` of an unevaluated product is a leading minus sign (``-a``, not ``(-1) a``);
    - the reciprocal of a fraction is ``\left(\frac{a}{b}\right)^{-1}``, not ``1/(a \cdot 1/b)``.
    Only the layout changes: what is printed is the same expression.
    """

    def _print(self, expr: Any, **kwargs: Any) -> str:
        r"""``\sigma{\left(x\right)}``: braces make the call one ordinary atom, so TeX puts no space
        between the name and its parenthesis (``\sigma\left(x\right)`` prints as σ (x))."""
        if isinstance(expr, sigmoid):
            base = r"\sigma{\left(%s\right)}" % self._print(expr.args[0])
            exp = kwargs.get("exp")
            return rf"{base}^{{{exp}}}" if exp is not None else base
        return super()._print(expr, **kwargs)

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        if sp.Add(*expr.args) != expr:  # written unevaluated: the author's order is the reader's order
            terms = list(expr.args)
        else:
            terms = _ties_broken(list(self._as_ordered_terms(expr, order=order)), self._print)
        if terms and terms[0].could_extract_minus_sign():
            first = next((k for k, term in enumerate(terms) if not term.could_extract_minus_sign()), None)
            if first is not None:
                terms.insert(0, terms.pop(first))
        tex = ""
        for i, term in enumerate(terms):
            if i > 0:
                if term.could_extract_minus_sign():
                    tex += " - "
                    term = -term
                else:
                    tex += " + "
            term_tex = self._print(term)
            if self._needs_add_brackets(term):
                term_tex = r"\left(%s\right)" % term_tex
            tex += term_tex
        return tex

    def _print_Mul(self, expr: sp.Expr) -> str:
        rest = _without_minus_one(expr) if isinstance(expr, sp.Mul) else None
        if rest is not None:
            inner = rest[0] if len(rest) == 1 else sp.Mul(*rest, evaluate=False)
            body = self._print(inner)
            if isinstance(inner, sp.Add) or inner.could_extract_minus_sign():
                body = r"\left(%s\right)" % body
            return "- " + body
        if isinstance(expr, sp.Mul) and len(expr.args) > 1 and sp.Mul(*expr.args) != expr:
            return self._unevaluated_product(expr.args)
        return super()._print_Mul(expr)

    def _unevaluated_product(self, factors: Sequence[sp.Basic]) -> str:
        r"""Factors as written, side by side; ``\cdot`` before a factor that starts with a number or a fraction."""
        tex = ""
        for i, factor in enumerate(factors):
            term = self._print(factor)
            if self._needs_mul_brackets(factor, first=i == 0, last=i == len(factors) - 1):
                term = r"\left(%s\right)" % term
            if tex:
                tex += r" \cdot " if re.match(r"[0-9.]|\\frac|- ", term) else " "
            tex += term
        return tex

    def _print_Pow(self, expr: sp.Pow) -> str:
        base = expr.base
        if expr.exp == -1 and isinstance(base, sp.Mul) and base.is_commutative \
                and sp.fraction(base, exact=True)[1] != 1:
            return r"\left(%s\right)^{-1}" % self._print(base)
        return super()._print_Pow(expr)


    def _print_Subs(self, subs: sp.Subs) -> str:
        r"""``f'(a)`` for the derivative of a one-argument undefined function at a point (Lagrange)."""
        inner, variables, points = subs.args
        if (isinstance(inner, sp.Derivative) and len(variables) == 1 and isinstance(inner.expr, AppliedUndef)
                and inner.expr.args == variables and inner.variables == variables * len(inner.variables)
                and len(inner.variables) <= 2):
            primes = "'" * len(inner.variables)
            return r"%s%s\left(%s\right)" % (self._print(inner.expr.func), primes, self._print(points[0]))
        return super()._print_Subs(subs)


def notation_latex(expr: Any) -> str:
    """LaTeX for a SymPy object by :class:`NotationPrinter`, after :func:`tidy_numbers`."""
    return NotationPrinter().doprint(tidy_numbers(expr))


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
    """A number as LaTeX: short exact rationals stay exact, others get ``digits`` digits."""
    try:
        if isinstance(value, sp.Rational) and max(int(value.p).bit_length(), int(value.q).bit_length()) <= 64:
            return sp.latex(value)
        if isinstance(value, sp.Rational):  # too long to read (or even to print): its value, rounded
            return sp.latex(sp.Float(value, digits))
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
    """A figure: ``caption`` is one raw caption or one per format (``latex``/``markdown``)."""

    kind: str
    sources: Mapping[str, str]
    caption: str | Mapping[str, str] | None


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


def _justification_text(by: Justification) -> str:
    """What a reader sees for a step's justification: the text given, else the cited rule in words.

    A step that only cites a built-in rule (``rule="sigmoid-definition"``) shows the rule's
    summary and its statement as math, not the rule's identifier; a rule registered by the
    user shows its name (its statement is the user's own text, never typeset as math).
    """
    if by.text or not by.rule:
        return str(by)
    builtin = next((r for r in BUILTIN_RULES if r.name == by.rule), None)
    if builtin is None or not builtin.statement:
        return str(by)
    return f"{builtin.summary}: ${builtin.statement}$"


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
        justification=_justification_text(by),
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


#: A cell that is one number as a program prints it: ``-0.20``, ``9.54e-07``, ``1.000e+00``.
_NUMBER = re.compile(r"(?P<sign>[-\u2212+]?)(?P<mantissa>\d+(?:\.\d+)?)(?:[eE](?P<exponent>[-+]?\d+))?")
#: A hyphen used as a minus sign in text: before a digit, not inside a word or a number (``w0: -1.00``).
_TEXT_MINUS = re.compile(r"(?<![\w.)\]])-(?=\d)")


def _text_cell(text: str) -> CellView:
    """Text as a cell; a number with a minus sign or an exponent is typeset as math.

    ``-0.2`` becomes :math:`-0.2` and ``9.54e-07`` becomes :math:`9.54 \\times 10^{-7}` (a hyphen is
    not a minus sign, and ``e-07`` is how programs print, not how people write); other hyphens
    before a digit in text become minus signs (U+2212).
    """
    number = _NUMBER.fullmatch(text.strip())
    if number is not None and (number["sign"] in ("-", "\u2212") or number["exponent"] is not None):
        sign = "-" if number["sign"] in ("-", "\u2212") else ""
        if number["exponent"] is None:
            return CellView(True, f"{sign}{number['mantissa']}")
        return CellView(True, f"{sign}{number['mantissa']} \\times 10^{{{int(number['exponent'])}}}")
    return CellView(False, _TEXT_MINUS.sub("\u2212", text))


def _cell(value: Any) -> CellView:
    if isinstance(value, str):
        return _text_cell(value)
    if value is None:
        return CellView(False, "")
    if isinstance(value, bool):
        return CellView(False, str(value))
    if isinstance(value, (int, float)):
        return _text_cell(repr(value) if isinstance(value, float) else str(value))
    if isinstance(value, (sp.Basic, sp.MatrixBase)):
        return CellView(True, math_latex(value))
    raise InputError(f"table cell: expected text, a number or a SymPy object, got {type(value).__name__}")


LABEL_BAD = re.compile(r"[^A-Za-z0-9:.\-]")
_LANGUAGE_BAD = re.compile(r"[^A-Za-z0-9_+\-]")


def _block_view(block: Any, reports: Mapping[int, Report]) -> BlockView:
    if isinstance(block, Prose):
        split_math(block.text)  # validate early: unbalanced $ is an input error
        return ProseView("prose", block.text)
    if isinstance(block, Section):
        return SectionView("section", block.title, max(1, min(6, int(block.level))))
    if isinstance(block, Equation):
        label = LABEL_BAD.sub("-", block.label) if block.label else None
        return EquationView("equation", math_latex(block.math), label)
    if isinstance(block, ProofBlock):
        return proof_view(block.proof, reports.get(id(block)), title=block.title or block.proof.title)
    if isinstance(block, Table):
        columns = tuple(str(c) for c in block.columns)
        if not columns:
            raise InputError("a table needs at least one column")
        for c, header in enumerate(columns, start=1):
            try:
                split_math(header)  # validate early, as prose: an unbalanced $ is an input error
            except InputError as exc:
                raise InputError(f"table column {c} ({header!r}): {exc}") from None
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
        caption = dict(block.caption) if isinstance(block.caption, Mapping) else block.caption
        return FigureView("figure", dict(block.sources), caption)
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
