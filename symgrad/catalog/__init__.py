"""The built-in catalog of checked derivations.

The catalog is a table (:data:`ENTRIES`): each entry's name, one-line
summary, and the module and function that build its
:class:`~symgrad.proofs.documents.Document`. Listing and describing entries
imports nothing heavy; :func:`get` imports the entry's module when the
document is first asked for, builds it once and keeps it. A new entry is a
module with a ``build()`` function plus one row here.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import InputError, UnknownEntryError

if TYPE_CHECKING:  # pragma: no cover
    from ..proofs.documents import Document

__all__ = ["Entry", "ENTRIES", "names", "describe", "get"]


@dataclass(frozen=True)
class Entry:
    """One catalog entry: ``symgrad.catalog.<module>.<builder>()`` builds the document ``name``."""

    name: str
    module: str
    builder: str
    summary: str


ENTRIES: tuple[Entry, ...] = (
    Entry('activation-derivative-bounds', 'activations', 'build',
          "sup |f'| for sigmoid, tanh, ReLU, leaky ReLU, ELU, softplus, SiLU and GELU, derived and checked"),
    Entry('batchnorm-backward', 'batchnorm', 'build_batchnorm',
          'Batch normalization backward: the six equations of Ioffe & Szegedy derived on the computation graph, the compact form, general m with sum lemmas, edge cases, generated numpy code'),
    Entry('batchnorm-saturation', 'saturation', 'build',
          'Inputs N(-6, 1) saturate a sigmoid (E[sigma\'] about 0.004); after batch normalization, N(0, 1), E[sigma\'] is about 0.21; gamma and beta can undo the normalization'),
    Entry('chain-rule', 'chain_rule', 'build',
          "The chain rule: statement, Caratheodory's proof, Jacobian form and 22 checked instances"),
    Entry('computational-graph', 'graph', 'build',
          'Forward and backward passes on a computation graph, worked on the classic neuron, with the sigmoid-gate shortcut'),
    Entry('dense-connections', 'dense', 'build',
          'Dense connections (DenseNet): the gradient at x_l is its direct term plus a sum over the later layers; the direct term carries no Jacobian at any depth'),
    Entry('full-batch-vs-sgd', 'batch_vs_sgd', 'build',
          'A full-batch step costs N gradient evaluations, a minibatch step |B|; on x^2 - y^2 started on the stable manifold full-batch descent converges to the saddle (proved) while SGD noise leaves it'),
    Entry('gradient-clipping', 'clipping', 'build',
          'Clip-by-norm keeps the direction and gives norm at most c; clip-by-value changes the direction'),
    Entry('gradient-flow', 'gradient_bound', 'build_flow',
          'Gradient norms per hidden layer at initialization: sigmoid, tanh, ReLU, batch norm, residual'),
    Entry('gradient-product-bound', 'gradient_bound', 'build',
          "Backpropagated gradients through n sigmoid layers are at most 4^-n times the weights' product"),
    Entry('he-initialization', 'initialization', 'build',
          'He initialization: Var(z_l) = n Var(w) E[a^2], E[relu(z)^2] = Var(z)/2, so Var(w) = 2/n; Xavier beside it'),
    Entry('layernorm-backward', 'batchnorm', 'build_layernorm',
          'Layer normalization backward: normalizing over the features, compact form proved'),
    Entry('learning-rate-momentum', 'learning_rate', 'build',
          'Gradient descent on a quadratic converges iff 0 < eta < 2/L; the best step 2/(mu + L) gives (kappa - 1)/(kappa + 1), heavy-ball momentum (sqrt(kappa) - 1)/(sqrt(kappa) + 1)'),
    Entry('lstm-gating', 'lstm', 'build',
          'Along the LSTM cell state the gradient is multiplied by the forget gate f_t; a sigmoid RNN multiplies it by w sigma\'(z_t), at most (|w|/4)^T over T steps (induction)'),
    Entry('minibatch-gradient', 'minibatch', 'build',
          'The minibatch gradient is unbiased; its variance is sigma^2/|B|, times (N-|B|)/(N-1) without replacement'),
    Entry('relu-family', 'relu_family', 'build',
          'PReLU (derivatives in x and in the slope a), RReLU (expected slope (l + u)/2), Maxout (the arg max; ties are kinks left undefined), and the dead ReLU unit (zero gradient on the negative side)'),
    Entry('residual-gradient', 'residual', 'build',
          'The Jacobian of a residual block is I + J_F; over L blocks the identity path keeps a term 1'),
    Entry('rmsnorm-backward', 'batchnorm', 'build_rmsnorm',
          'RMS normalization backward: no centring, compact form proved'),
    Entry('sigmoid-derivative-bound', 'sigmoid', 'build',
          "The logistic sigmoid's derivative is sigma(1 - sigma) and at most 1/4, with equality only at 0"),
)

_BY_NAME = {e.name: e for e in ENTRIES}


def names() -> list[str]:
    """The names of all catalog entries, sorted."""
    return sorted(_BY_NAME)


def describe(name: str) -> str:
    """The one-line summary of an entry."""
    return _require(name).summary


def _require(name: str) -> Entry:
    try:
        return _BY_NAME[name]
    except KeyError:
        close = difflib.get_close_matches(name, _BY_NAME, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownEntryError(f"no catalog entry named {name!r}{hint} (known: {', '.join(names())})") from None


@functools.lru_cache(maxsize=None)
def get(name: str) -> "Document":
    """Build and return the document of entry ``name``."""
    spec = _require(name)
    module = importlib.import_module(f"{__name__}.{spec.module}")
    document = getattr(module, spec.builder)()
    if document.name != name:
        raise InputError(f"catalog entry {name!r} built a document named {document.name!r}")
    return document
