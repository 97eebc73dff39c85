"""The nodes of a computation graph: a record per node, and the symbol of a node's value."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .ops import Param

__all__ = ["Node", "NodeSymbol"]


class NodeSymbol(sp.Symbol):
    r"""The value of an intermediate node as a variable; ``mul1`` prints as :math:`\mathrm{mul}_{1}`."""

    def _latex(self, printer: Any) -> str:
        match = re.fullmatch(r"([A-Za-z]+)_?([0-9]*)", self.name)
        if match is None:
            return printer._print_Symbol(self)
        letters, digits = match.groups()
        return rf"\mathrm{{{letters}}}_{{{digits}}}" if digits else rf"\mathrm{{{letters}}}"


@dataclass(frozen=True)
class Node:
    """A node: its ``name``, the ``op`` that makes it, the names of its ``inputs``.

    ``param`` is the op's parameter (the symbol of an ``input``, the number of
    a ``const``, ``scale``, ``shift`` or ``pow``). ``expr`` is the node's value
    as an expression of the inputs; a :class:`Graph` fills it in.
    """

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    param: Param = None
    expr: sp.Expr | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        head = self.op if self.param is None or self.op == "input" else f"{self.op}[{sp.sstr(self.param)}]"
        return f"{self.name} = {head}({', '.join(self.inputs)})" if self.inputs else f"{self.name} = {head}"
