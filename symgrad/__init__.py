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
from .graph import Graph, Node
from .derive import derive
from .diffrules import register_derivative
from .testing import assert_proof
from .gradcheck import GradientError, GradientReport, assert_gradient, check_against, check_gradient
from .render import render
from . import catalog, numeric
from .notes import check_text

__version__ = "0.1.0"

__all__ = [
    "ChainError", "CheckOptions", "Counterexample", "Document", "InputError", "Justification",
    "Proof", "ProofError", "Relation", "Report", "Rule", "Status", "Step", "SymgradError",
    "TemplateError", "UnknownEntryError", "UnknownRuleError", "UnsupportedError", "Verdict",
    "assert_proof", "assert_gradient", "check_gradient", "check_against", "GradientReport", "GradientError", "calc", "catalog", "numeric", "render", "check", "check_relation", "register_rule", "rules", "derive", "register_derivative", "sigmoid", "__version__",
]
__all__ += ["Graph", "Node"]
from . import experiments  # noqa: E402
__all__ += ["experiments"]
from . import normalization  # noqa: E402
__all__ += ["normalization"]
