r"""The normalization layers' forward graphs for an explicit size :math:`m`: symbols and definitions.

The nodes are the paper's quantities (Ioffe & Szegedy, 2015):

.. math:: \mu = \tfrac1m \sum_i x_i,\quad \sigma^2 = \tfrac1m \sum_i (x_i - \mu)^2,\quad
          \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}},\quad y_i = \gamma \hat x_i + \beta,

and the loss is :math:`\ell = \sum_i g_i y_i`. LayerNorm normalizes over the features with a
per-feature :math:`\gamma_i, \beta_i`; RMSNorm does not centre (:math:`\sigma^2` is the mean
square) and has no :math:`\beta`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import sympy as sp

from ....core.errors import InputError

__all__ = ["KINDS", "Named", "Setup", "setup", "define_all", "paper_sum"]

#: The three layers: batch norm (shared gamma, beta), layer norm (per-feature), RMS norm.
KINDS = ("batchnorm", "layernorm", "rmsnorm")


class Named(sp.Symbol):
    """A real symbol with its own LaTeX (``_latex_form`` is kept in a registry by name)."""

    _forms: dict[str, str] = {}

    def __new__(cls, name: str, latex: str, **assumptions: Any) -> "Named":
        obj = super().__new__(cls, name, **assumptions)
        cls._forms[name] = latex
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return ((self.name, self._forms[self.name]), self.assumptions0)

    def _latex(self, printer: Any) -> str:
        return str(self._forms.get(self.name, self.name))


def _adjoint_latex(node_latex: str) -> str:
    return rf"\frac{{\partial \ell}}{{\partial {node_latex}}}"


@dataclass(frozen=True)
class Setup:
    """The symbols and forward definitions of one layer of explicit size ``m``.

    ``nodes`` are ``(symbol, definition)`` in topological order (the inputs
    ``x_i`` are not nodes); ``adjoints`` maps every node and input to the
    symbol shown as its adjoint :math:`\\partial\\ell/\\partial v`.
    """

    kind: str
    m: int
    x: tuple[sp.Symbol, ...]
    g: tuple[sp.Symbol, ...]
    gamma: tuple[sp.Symbol, ...]
    beta: tuple[sp.Symbol, ...]
    eps: sp.Symbol
    mu: sp.Symbol | None
    var: sp.Symbol
    xhat: tuple[sp.Symbol, ...]
    y: tuple[sp.Symbol, ...]
    nodes: tuple[tuple[sp.Symbol, sp.Expr], ...]
    adjoints: Mapping[sp.Symbol, sp.Symbol]

    def gamma_at(self, i: int) -> sp.Symbol:
        return self.gamma[0] if len(self.gamma) == 1 else self.gamma[i]

    def beta_at(self, i: int) -> sp.Expr:
        if not self.beta:
            return sp.S.Zero
        return self.beta[0] if len(self.beta) == 1 else self.beta[i]

    @property
    def loss(self) -> sp.Expr:
        """:math:`\\ell = \\sum_i g_i y_i` in the node symbols ``y_i``."""
        return sp.Add(*(gi * yi for gi, yi in zip(self.g, self.y)))

    @property
    def definition(self) -> dict[sp.Symbol, sp.Expr]:
        return dict(self.nodes)

    @property
    def std(self) -> sp.Expr:
        """:math:`\\sqrt{\\sigma^2 + \\epsilon}` in the node symbols."""
        return sp.sqrt(self.var + self.eps)

    def h(self, j: int) -> sp.Expr:
        """:math:`\\partial\\ell/\\partial\\hat x_j`: ``gamma g_j`` (``gamma_j g_j`` per feature)."""
        return self.gamma_at(j) * self.g[j]

    def centred(self, j: int) -> sp.Expr:
        """:math:`x_j - \\mu` (just :math:`x_j` for RMSNorm)."""
        return self.x[j] - self.mu if self.mu is not None else self.x[j]

    def consumers(self, node: sp.Symbol) -> list[sp.Symbol]:
        return [n for n, d in self.nodes if node in d.free_symbols]

    def depends_on(self, node: sp.Symbol) -> set[sp.Symbol]:
        """The nodes whose value changes with ``node`` (``node`` included)."""
        found = {node}
        for n, d in self.nodes:
            if d.free_symbols & found:
                found.add(n)
        return found


def _check_size(kind: str, m: int) -> None:
    if kind not in KINDS:
        raise InputError(f"normalization: unknown kind {kind!r}; known: {', '.join(KINDS)}")
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise InputError(f"normalization: the size m must be a positive integer, got {m!r}")


@functools.lru_cache(maxsize=None, typed=True)  # typed: setup("batchnorm", 2.0) is an error, not m = 2
def setup(kind: str = "batchnorm", m: int = 3) -> Setup:
    """The symbols and forward graph of ``kind`` for ``m`` normalized values."""
    _check_size(kind, m)
    idx = range(1, m + 1)
    x = tuple(sp.Symbol(f"x_{i}", real=True) for i in idx)
    g = tuple(sp.Symbol(f"g_{i}", real=True) for i in idx)
    if kind == "batchnorm":
        gamma = (sp.Symbol("gamma", real=True),)
        beta: tuple[sp.Symbol, ...] = (sp.Symbol("beta", real=True),)
    else:
        gamma = tuple(sp.Symbol(f"gamma_{i}", real=True) for i in idx)
        beta = tuple(sp.Symbol(f"beta_{i}", real=True) for i in idx) if kind == "layernorm" else ()
    eps = sp.Symbol("epsilon", positive=True)
    sub = "B" if kind == "batchnorm" else ""
    mu = Named("mu_B" if sub else "mu", rf"\mu_{{{sub}}}" if sub else r"\mu", real=True) \
        if kind != "rmsnorm" else None
    var_tex = rf"\sigma_{{{sub}}}^{{2}}" if sub else (r"\sigma^{2}" if kind == "layernorm" else r"\nu^{2}")
    var = Named("sigma_B2" if sub else ("sigma2" if kind == "layernorm" else "nu2"), var_tex, nonnegative=True)
    xhat = tuple(Named(f"xhat_{i}", rf"\hat{{x}}_{{{i}}}", real=True) for i in idx)
    y = tuple(Named(f"y_{i}", rf"y_{{{i}}}", real=True) for i in idx)
    nodes: list[tuple[sp.Symbol, sp.Expr]] = []
    if mu is not None:
        nodes.append((mu, sp.Add(*x) / m))
        nodes.append((var, sp.Add(*((xi - mu) ** 2 for xi in x)) / m))
    else:
        nodes.append((var, sp.Add(*(xi ** 2 for xi in x)) / m))
    std = sp.sqrt(var + eps)
    for i in range(m):
        nodes.append((xhat[i], ((x[i] - mu) if mu is not None else x[i]) / std))
    partial = Setup(kind, m, x, g, gamma, beta, eps, mu, var, xhat, y, (), {})
    for i in range(m):
        nodes.append((y[i], partial.gamma_at(i) * xhat[i] + partial.beta_at(i)))
    adjoints: dict[sp.Symbol, sp.Symbol] = {}
    for symbol in (*x, *([mu] if mu is not None else []), var, *xhat, *y):
        adjoints[symbol] = Named(f"dl_d{symbol.name}", _adjoint_latex(sp.latex(symbol)), real=True)
    return Setup(kind, m, x, g, gamma, beta, eps, mu, var, xhat, y, tuple(nodes), adjoints)


def define_all(s: Setup, expr: sp.Expr) -> sp.Expr:
    """``expr`` in the inputs only (every node replaced by its definition)."""
    for n, d in reversed(s.nodes):
        expr = expr.xreplace({n: d})
    return expr


def paper_sum(terms: Sequence[sp.Expr]) -> sp.Expr:
    """``terms`` added without evaluation (so a printed sum keeps its order)."""
    return sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]
