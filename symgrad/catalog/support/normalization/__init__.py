r"""Normalization layers (BatchNorm, LayerNorm, RMSNorm): checked backward passes.

For an explicit size :math:`m` the forward algorithm is a small computation graph whose nodes are
the paper's quantities (Ioffe & Szegedy, 2015); its backward pass runs on the one adjoint engine,
:mod:`symgrad.derivation.adjoint`. The modules, one job each:

- :mod:`.layers`: the symbols and forward definitions of each layer (:func:`setup`);
- :mod:`.adjoints`: every adjoint as a checked proof, the paper's six equations, the compact form;
- :mod:`.exact`: exact verification at rational points against the exact (reverse-mode) gradient;
- :mod:`.indexed`: general :math:`m` with indexed sums, resting on sum lemmas;
- :mod:`.codegen`: numpy code generated from the compact form, and its latexify rendering.
"""

from .adjoints import (LOSS, adjoint_proof, adjoint_sum, adjoint_values, compact_form, compact_proof,
                       epsilon_zero_proof, inputs, loss_definition, mean_zero_proof, paper_equations, paper_proofs,
                       parameter_proof, true_adjoint)
from .codegen import latexify_backward, numpy_backward, numpy_backward_source
from .exact import ExactCheck, exact_gradient, exact_value, rational_point, verify_exact
from .indexed import (SUM_LEMMAS, General, general, general_compact, general_mean_zero_proof, general_paper_proof,
                      general_proof, general_start_instance, lemma_instances)
from .layers import KINDS, Named, Setup, setup

__all__ = [
    "KINDS", "Named", "Setup", "setup", "LOSS", "inputs", "loss_definition", "true_adjoint", "adjoint_sum", "adjoint_values", "adjoint_proof",
    "paper_equations", "paper_proofs", "parameter_proof", "mean_zero_proof", "compact_form", "compact_proof",
    "epsilon_zero_proof",
    "ExactCheck", "verify_exact", "exact_value", "exact_gradient", "rational_point",
    "SUM_LEMMAS", "General", "general", "general_compact", "general_proof", "general_paper_proof",
    "general_mean_zero_proof", "general_start_instance", "lemma_instances",
    "numpy_backward_source", "numpy_backward", "latexify_backward",
]
