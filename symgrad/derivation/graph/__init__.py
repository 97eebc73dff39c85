r"""Computation graphs: a forward pass of values and a backward pass of adjoints.

A :class:`Graph` is a topologically ordered tuple of :class:`Node` records,
each naming its op and its input nodes. The package's modules, one job each:

- :mod:`.ops`: the op table :data:`OPS` (plain data; :func:`register_op` adds
  an op at run time), whose local derivatives come from the table of
  differentiation rules;
- :mod:`.nodes`: the node record and the symbol of a node's value;
- :mod:`.tracing`: a SymPy expression walked into nodes;
- :mod:`.structure`: the :class:`Graph` itself, building and the forward pass;
- :mod:`.backward`: the backward pass on the adjoint engine
  (:mod:`symgrad.derivation.adjoint`), every adjoint a checked proof;
- :mod:`.drawing`: the figure, TikZ for LaTeX and Mermaid for Markdown.
"""

from ..adjoint import Term
from .backward import Adjoint, Backward
from .nodes import Node, NodeSymbol
from .ops import OPS, Op, register_op
from .structure import Graph

__all__ = [
    "Op",
    "OPS",
    "register_op",
    "Node",
    "NodeSymbol",
    "Graph",
    "Term",
    "Adjoint",
    "Backward",
]
