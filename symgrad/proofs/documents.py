"""Documents: what a catalog entry returns and a template renders.

A :class:`Document` is a titled sequence of blocks (prose, sections,
equations, proofs, tables, listings, figures); :meth:`Document.check` checks
every proof in it and returns a :class:`DocumentReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Union

from ..core.verdicts import Status
from . import presentation
from .proof import Proof, Report

if TYPE_CHECKING:  # pragma: no cover
    from ..core.kernel import CheckOptions

__all__ = ["Prose", "Section", "Equation", "ProofBlock", "Table", "Listing", "Figure", "Block", "Document",
           "DocumentReport"]


@dataclass(frozen=True)
class Prose:
    """A paragraph. ``$...$`` marks inline LaTeX math; all else is text.

    Text is escaped for the output format; math passes through as LaTeX.
    """

    text: str


@dataclass(frozen=True)
class Section:
    """A heading that starts a section of a document."""

    title: str
    level: int = 2


@dataclass(frozen=True)
class Equation:
    """A displayed formula: a SymPy object or a LaTeX string."""

    math: Any
    label: str | None = None


@dataclass(frozen=True)
class ProofBlock:
    """A proof shown with its verdicts; ``title`` is user text."""

    proof: Proof
    title: str | None = None


@dataclass(frozen=True)
class Table:
    """A table; cells are text, SymPy objects (shown as math), or numbers; headers are text with ``$...$`` math."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str | None = None


@dataclass(frozen=True)
class Listing:
    """A code listing (shown verbatim)."""

    code: str
    language: str = "python"
    caption: str | None = None


@dataclass(frozen=True)
class Figure:
    """A figure: per-format sources (e.g. ``{"latex": tikz, "markdown": mermaid}``).

    ``assets`` are files (name -> text, e.g. an SVG plot the Markdown links to)
    that ``symgrad render`` writes next to the rendered documents.
    """

    sources: Mapping[str, str]
    #: One caption, or one per format (``{"latex": ..., "markdown": ...}``; a format without one has none).
    caption: str | Mapping[str, str] | None = None
    assets: Mapping[str, str] = field(default_factory=dict)


Block = Union[Prose, Section, Equation, ProofBlock, Table, Listing, Figure]


@dataclass(frozen=True, repr=False)
class Document(presentation.Renderable):
    """A titled sequence of blocks: the unit a template renders."""

    name: str
    title: str
    summary: str
    blocks: tuple[Block, ...]

    @property
    def proofs(self) -> tuple[ProofBlock, ...]:
        return tuple(b for b in self.blocks if isinstance(b, ProofBlock))

    def check(self, options: "CheckOptions | None" = None) -> "DocumentReport":
        """Check every proof of the document with the kernel."""
        return DocumentReport(self, tuple(b.proof.check(options) for b in self.proofs))


@dataclass(frozen=True, repr=False)
class DocumentReport(presentation.Presentable):
    """The reports of every proof in a document, in order."""

    document: Document
    reports: tuple[Report, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def ok_given_lemmas(self) -> bool:
        return all(r.ok_given_lemmas for r in self.reports)

    @property
    def lemmas(self) -> tuple[str, ...]:
        names: list[str] = []
        for r in self.reports:
            names += [n for n in r.lemmas if n not in names]
        return tuple(names)

    @property
    def status(self) -> Status:
        return Status.weakest(r.status for r in self.reports)

    def report_for(self, block: ProofBlock) -> Report:
        for b, r in zip(self.document.proofs, self.reports):
            if b is block:
                return r
        raise KeyError(block)
