"""Where checking meets rendering: ``symgrad.render`` and the model's display methods.

The renderer (:mod:`symgrad.rendering`) never runs the kernel; the model
(:mod:`symgrad.proofs`) never imports the renderer. This module sees both: it
checks a proof or document, then renders the report, and its
:class:`Presenter` is what ``repr(proof)``, ``proof.to_markdown()`` and
Jupyter's display use (installed by the package root).
"""

from __future__ import annotations

from typing import Any, Sequence, Union

from .core.errors import InputError
from .proofs.documents import Document, DocumentReport
from .proofs.proof import Proof, Report
from .rendering import display
from .rendering import render as rendering
from .rendering.render import TemplateDir

__all__ = ["render", "terminal_text", "Presenter"]

Renderable = Union[Proof, Report, Document, DocumentReport]


def checked(obj: Renderable) -> Report | DocumentReport:
    """``obj`` with the kernel's verdicts: a Proof or Document is checked, a report is kept."""
    if isinstance(obj, (Proof, Document)):
        return obj.check()
    if isinstance(obj, (Report, DocumentReport)):
        return obj
    raise InputError(f"expected a Proof, Report, Document or DocumentReport, got {type(obj).__name__}")


def render(obj: Renderable, fmt: str, *, template_dir: TemplateDir | Sequence[TemplateDir] | None = None,
           check: bool = True) -> str:
    """Render ``obj`` as ``"markdown"``/``"md"`` or ``"latex"``/``"tex"``.

    A Proof or Document is checked first, so the output shows each step's
    verdict; ``check=False`` renders a draft without verdicts and never runs
    the kernel. ``template_dir`` (a path or a list of paths) is searched
    before the shipped templates.
    """
    target = checked(obj) if check else obj
    return rendering.render(target, fmt, template_dir=template_dir)


def terminal_text(obj: Renderable, *, check: bool = True) -> str:
    """Terminal text of ``obj`` with each step's verdict (checked first unless ``check=False``)."""
    return display.terminal_text(checked(obj) if check else obj)


class Presenter:
    """The model's display methods, answered with the renderer (see :mod:`symgrad.proofs.presentation`)."""

    def text(self, obj: Any) -> str:
        if isinstance(obj, Proof):
            return display.proof_text(obj)
        if isinstance(obj, Report):
            return display.report_text(obj)
        if isinstance(obj, Document):
            return display.document_text(obj)
        return display.terminal_text(obj)

    def render(self, obj: Any, fmt: str, **options: Any) -> str:
        return render(obj, fmt, **options)

    def mimebundle(self, obj: Any) -> dict[str, str]:
        return display.mimebundle(obj)
