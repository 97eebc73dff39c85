"""symgrad: checked symbolic derivations for the calculus of deep learning.

SymPy does the algebra; symgrad turns it into derivations — chains of steps,
each justified by a named rule and each checked by a small kernel — and
renders them as LaTeX or Markdown.
"""

from __future__ import annotations

from .errors import (
    ChainError,
    InputError,
    ProofError,
    SymgradError,
    TemplateError,
    UnknownEntryError,
    UnknownRuleError,
    UnsupportedError,
)
from .functions import sigmoid
from .kernel import CheckOptions, check, check_relation
from .model import (
    Counterexample,
    Document,
    Justification,
    Proof,
    Relation,
    Report,
    Status,
    Step,
    Verdict,
    calc,
)
from .rules import Rule, register_rule, registry as rules
from .testing import assert_proof
from .render import render
from .derive import derive
from .diffrules import register_derivative
from .chainrule import chain_rule_instance, jacobian_chain
from .graph import Graph, Node
from .gradcheck import GradientError, GradientReport, assert_gradient, check_against, check_gradient
from .notes import check_text
from . import catalog, experiments, normalization, numeric

__version__ = "0.1.0"

__all__ = [
    # the model and the kernel
    "Counterexample", "Document", "Justification", "Proof", "Relation", "Report", "Status", "Step",
    "Verdict", "calc", "check", "check_relation", "CheckOptions", "assert_proof",
    # rules and functions
    "Rule", "register_rule", "rules", "sigmoid",
    # producers of steps
    "derive", "register_derivative", "chain_rule_instance", "jacobian_chain", "Graph", "Node",
    # rendering, notes, gradients
    "render", "check_text", "check_gradient", "check_against", "assert_gradient", "GradientReport",
    "GradientError",
    # modules
    "catalog", "experiments", "normalization", "numeric",
    # errors
    "SymgradError", "ChainError", "InputError", "ProofError", "TemplateError", "UnknownEntryError",
    "UnknownRuleError", "UnsupportedError",
    "__version__",
]
