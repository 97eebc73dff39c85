"""symgrad: checked symbolic derivations for the calculus of deep learning.

SymPy does the algebra; symgrad turns it into derivations — chains of steps,
each justified and each checked by a small kernel — and renders them as
LaTeX or Markdown. This module is the public surface; the layers below it
are ``core`` (the kernel), ``proofs``, ``derivation``, ``rendering``,
``numerics``, ``notes`` and ``catalog`` (see ARCHITECTURE.md).

Importing the package is cheap: each public name is imported from its module
the first time it is used (PEP 562 ``__getattr__``), so ``symgrad --help``
and ``symgrad list`` never import SymPy or NumPy. ``dir(symgrad)`` and
``from symgrad import *`` see every public name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import catalog
from .core.errors import (
    ChainError,
    GradientError,
    InputError,
    ProofError,
    SymgradError,
    TemplateError,
    UnknownEntryError,
    UnknownRuleError,
    UnsupportedError,
)
from .proofs import presentation as _presentation

if TYPE_CHECKING:  # pragma: no cover - what the lazy names are, for type checkers and IDEs
    from .core.functions import sigmoid
    from .core.kernel import CheckOptions
    from .core.rules import Rule, register_rule, registry as rules
    from .core.verdicts import Counterexample, Justification, Relation, Status, Verdict
    from .derivation.chainrule import chain_rule_instance, jacobian_chain
    from .derivation.derive import derive
    from .derivation.diffrules import register_derivative
    from .derivation.graph import Graph, Node
    from .interactive import Presenter, render
    from .notes.checker import check_text
    from .numerics import experiments, numeric
    from .numerics.gradcheck import GradientReport, assert_gradient, check_against, check_gradient, check_layer
    from .proofs.assertions import assert_proof
    from .proofs.documents import (
        Document, DocumentReport, Equation, Figure, Listing, ProofBlock, Prose, Section, Table,
    )
    from .proofs.proof import Proof, Report, Step, calc, check, check_relation

__version__ = "0.1.0"

#: Each lazily imported public name: (the module that defines it, its name there; None: the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "sigmoid": ("symgrad.core.functions", "sigmoid"),
    "CheckOptions": ("symgrad.core.kernel", "CheckOptions"),
    "Rule": ("symgrad.core.rules", "Rule"),
    "register_rule": ("symgrad.core.rules", "register_rule"),
    "rules": ("symgrad.core.rules", "registry"),
    **{name: ("symgrad.core.verdicts", name)
       for name in ("Counterexample", "Justification", "Relation", "Status", "Verdict")},
    "chain_rule_instance": ("symgrad.derivation.chainrule", "chain_rule_instance"),
    "jacobian_chain": ("symgrad.derivation.chainrule", "jacobian_chain"),
    "derive": ("symgrad.derivation.derive", "derive"),
    "register_derivative": ("symgrad.derivation.diffrules", "register_derivative"),
    "Graph": ("symgrad.derivation.graph", "Graph"),
    "Node": ("symgrad.derivation.graph", "Node"),
    "Presenter": ("symgrad.interactive", "Presenter"),
    "render": ("symgrad.interactive", "render"),
    "check_text": ("symgrad.notes.checker", "check_text"),
    "experiments": ("symgrad.numerics.experiments", None),
    "numeric": ("symgrad.numerics.numeric", None),
    **{name: ("symgrad.numerics.gradcheck", name)
       for name in ("GradientReport", "assert_gradient", "check_against", "check_gradient", "check_layer")},
    "assert_proof": ("symgrad.proofs.assertions", "assert_proof"),
    **{name: ("symgrad.proofs.documents", name)
       for name in ("Document", "DocumentReport", "Equation", "Figure", "Listing", "ProofBlock", "Prose",
                    "Section", "Table")},
    **{name: ("symgrad.proofs.proof", name)
       for name in ("Proof", "Report", "Step", "calc", "check", "check_relation")},
}

#: The subpackages and modules reachable as attributes (``symgrad.numerics.gradcheck``) before any import.
_SUBMODULES = frozenset({"catalog", "cli", "core", "derivation", "interactive", "notes", "numerics", "proofs",
                         "pytest_plugin", "rendering"})


def __getattr__(name: str) -> Any:
    """PEP 562: import a public name's module on first use, then keep the name in this module."""
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attribute is None else getattr(module, attribute)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


class _DeferredPresenter:
    """:class:`symgrad.interactive.Presenter`, imported when a model object is first displayed.

    The model's display methods (``repr``, ``to_markdown``, Jupyter's
    ``_repr_mimebundle_``) ask :func:`symgrad.proofs.presentation.current`;
    every model object is made after this package root ran, so the real
    presenter answers every display, yet importing symgrad does not import
    the renderer.
    """

    def __init__(self) -> None:
        self._real: Any = None

    def _presenter(self) -> Any:
        if self._real is None:
            from .interactive import Presenter as _Presenter

            self._real = _Presenter()
        return self._real

    def text(self, obj: Any) -> str:
        return self._presenter().text(obj)

    def render(self, obj: Any, fmt: str, **options: Any) -> str:
        return self._presenter().render(obj, fmt, **options)

    def mimebundle(self, obj: Any) -> dict[str, str]:
        return self._presenter().mimebundle(obj)


# The composition root: the model's display methods answer through the renderer.
_presentation.install(_DeferredPresenter())

__all__ = [
    # the model and the kernel
    "Counterexample", "Justification", "Proof", "Relation", "Report", "Status", "Step",
    "Verdict", "calc", "check", "check_relation", "CheckOptions", "assert_proof",
    # documents
    "Document", "DocumentReport", "Prose", "Section", "Equation", "ProofBlock", "Table", "Listing", "Figure",
    # rules and functions
    "Rule", "register_rule", "rules", "sigmoid",
    # producers of steps
    "derive", "register_derivative", "chain_rule_instance", "jacobian_chain", "Graph", "Node",
    # rendering, notes, gradients
    "render", "check_text", "check_gradient", "check_layer", "check_against", "assert_gradient",
    "GradientReport",
    # modules
    "catalog", "experiments", "numeric",
    # errors
    "SymgradError", "ChainError", "InputError", "ProofError", "TemplateError", "UnknownEntryError",
    "UnknownRuleError", "UnsupportedError", "GradientError",
    "__version__",
]
