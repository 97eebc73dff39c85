"""symgrad: checked symbolic derivations for the calculus of deep learning.

SymPy does the algebra; symgrad turns it into derivations — chains of steps,
each justified and each checked by a small kernel — and renders them as
LaTeX or Markdown. This module is the public surface; the layers below it
are ``core`` (the kernel), ``proofs``, ``derivation``, ``rendering``,
``numerics``, ``notes`` and ``catalog`` (see ARCHITECTURE.md).
"""

from __future__ import annotations

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
from .numerics import experiments
from .numerics import numeric
from .numerics.gradcheck import (
    GradientReport,
    assert_gradient,
    check_against,
    check_gradient,
    check_layer,
)
from .proofs import presentation as _presentation
from .proofs.assertions import assert_proof
from .proofs.documents import (
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
from .proofs.proof import Proof, Report, Step, calc, check, check_relation

# The composition root: the model's display methods answer through the renderer.
_presentation.install(Presenter())

__version__ = "0.1.0"

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
