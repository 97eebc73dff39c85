r"""BatchNorm's backward for a general size :math:`m`: indexed symbols and sums.

The sum manipulations rest on the lemmas of :data:`SUM_LEMMAS`, each checked by the kernel for
explicit sizes (:func:`lemma_instances`); :func:`general_start_instance` checks, for an explicit
:math:`m`, that the general chain starts at the true derivative.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from ....proofs.proof import Proof, calc
from .adjoints import definitions, loss_definition, mean_zero_proof, true_adjoint
from .layers import Named, Setup, paper_sum, setup

__all__ = [
    "SUM_LEMMAS", "General", "general", "general_compact", "general_proof", "general_paper_proof",
    "general_mean_zero_proof", "general_start_instance", "lemma_instances",
]

#: Lemmas about finite sums the general-m derivation rests on (each checked for explicit m in the tests
#: and in the catalog entry by :func:`lemma_instances`).
SUM_LEMMAS: tuple[str, ...] = ("sum-linearity", "kronecker-collapse", "sum-of-constant", "centred-sum-zero-general")


@dataclass(frozen=True)
class General:
    """Indexed symbols for general ``m``: ``x[j]``, ``g[j]``, ``xhat[j]``, the index ``i``, ``j``."""

    m: sp.Symbol
    i: sp.Symbol
    j: sp.Symbol
    x: sp.IndexedBase
    g: sp.IndexedBase
    xhat: sp.IndexedBase
    gamma: sp.Symbol
    eps: sp.Symbol
    mu: sp.Symbol
    var: sp.Symbol

    def total(self, term: sp.Expr) -> sp.Sum:
        return sp.Sum(term, (self.j, 1, self.m))

    @property
    def std(self) -> sp.Expr:
        return sp.sqrt(self.var + self.eps)

    @property
    def xhat_symbols(self) -> dict[sp.Symbol, sp.Symbol]:
        r"""The index (``i`` or ``j``) -> the symbol printed :math:`\hat x_i`, :math:`\hat x_j`."""
        return {self.i: Named("xhat_i", r"\hat{x}_{i}", real=True),
                self.j: Named("xhat_j", r"\hat{x}_{j}", real=True)}

    def xhat_definitions(self) -> dict[sp.Symbol, sp.Expr]:
        r""":math:`\hat x_k = (x_k - \mu_B)/\sqrt{\sigma_B^2 + \epsilon}` for ``k`` in ``i, j``, for ``where=``.

        Inside a sum over ``j`` the symbol :math:`\hat x_j` is a name for the summand's
        :math:`(x_j - \mu_B)/\sqrt{\sigma_B^2 + \epsilon}`: the kernel substitutes it before it
        decides a step, so what it checks is the statement with the quotient written out.
        """
        return {sym: (self.x[k] - self.mu) / self.std for k, sym in self.xhat_symbols.items()}


@functools.lru_cache(maxsize=None)
def general() -> General:
    m = sp.Symbol("m", integer=True, positive=True)
    i, j = sp.symbols("i j", integer=True, positive=True)
    return General(m, i, j, sp.IndexedBase("x", real=True), sp.IndexedBase("g", real=True),
                   sp.IndexedBase(Named("xhat", r"\hat{x}")), sp.Symbol("gamma", real=True),
                   sp.Symbol("epsilon", positive=True), Named("mu_B", r"\mu_{B}", real=True),
                   Named("sigma_B2", r"\sigma_{B}^{2}", nonnegative=True))


def general_compact(G: General | None = None, xhat: Callable[[sp.Expr], sp.Expr] | None = None) -> sp.Expr:
    r"""The compact :math:`\partial\ell/\partial x_i` for general m with indexed sums.

    ``xhat(k)`` is how :math:`\hat x_k` is written (default :math:`(x_k - \mu)/\sqrt{\sigma^2 + \epsilon}`).
    """
    G = G or general()
    if xhat is None:
        def xhat(k: sp.Expr) -> sp.Expr:
            return (G.x[k] - G.mu) / G.std

    return sp.Mul(G.gamma / (G.m * G.std),
                  G.m * G.g[G.i] - G.total(G.g[G.j]) - xhat(G.i) * G.total(G.g[G.j] * xhat(G.j)),
                  evaluate=False)


def _general_parts(G: General) -> dict[str, sp.Expr]:
    m, i, j, x, g, gamma, std = G.m, G.i, G.j, G.x, G.g, G.gamma, G.std
    d = sp.KroneckerDelta(i, j)
    dvar = sp.Rational(-1, 2) * gamma * G.total(g[j] * (x[j] - G.mu)) * (G.var + G.eps) ** sp.Rational(-3, 2)
    dmu = -gamma / std * G.total(g[j]) + dvar * G.total(-2 * (x[j] - G.mu)) / m
    s_g, s_gc = G.total(g[j]), G.total(g[j] * (x[j] - G.mu))
    return {
        "start": G.total(gamma * g[j] * ((d - sp.S.One / m) / std
                                         - (x[j] - G.mu) * (x[i] - G.mu) / (m * std ** 3))),
        "split": gamma / std * G.total(d * g[j]) - gamma / (m * std) * s_g
        - gamma * (x[i] - G.mu) / (m * std ** 3) * s_gc,
        "collapsed": gamma * g[i] / std - gamma / (m * std) * s_g - gamma * (x[i] - G.mu) / (m * std ** 3) * s_gc,
        "paper": gamma * g[i] / std + dvar * 2 * (x[i] - G.mu) / m + dmu / m,
    }


def general_proof(G: General | None = None) -> Proof:
    r"""For general m, from :math:`\sum_j \frac{\partial\ell}{\partial\hat x_j}\frac{\partial\hat x_j}{\partial x_i}`
    to the compact form :math:`\frac{\gamma}{m\sqrt{\sigma_B^2+\epsilon}}(m g_i - \sum_j g_j - \hat x_i
    \sum_j g_j \hat x_j)`, with indexed sums.

    The steps that move terms in or out of a sum or collapse a Kronecker delta cite the lemmas of
    :data:`SUM_LEMMAS` and rest on them; writing :math:`\hat x_i, \hat x_j` (defined with ``where=``)
    and the last step (pure algebra, sums as atoms) are proved.
    :math:`\mu` and :math:`\sigma^2` are free here: none of these steps needs their values. The
    starting sum uses :math:`\partial\sigma^2/\partial x_i = 2(x_i - \mu)/m`, which rests on
    ``centred-sum-zero-general``; :func:`general_start_instance` checks it for explicit m.
    """
    G = G or general()
    m, i, j, x, g, gamma, std = G.m, G.i, G.j, G.x, G.g, G.gamma, G.std
    xhat = G.xhat_symbols
    parts = _general_parts(G)
    std_tex = r"\sqrt{\sigma_B^2 + \epsilon}"
    return (calc(parts["start"], assume=[i <= m], where=G.xhat_definitions(),
                 title="General $m$: the compact form from indexed sums")
            .eq(parts["split"], rule="sum-linearity",
                by=rf"split the sum; take $\gamma$, $m$, ${std_tex}$ and $x_i - \mu_B$ out of it")
            .eq(parts["collapsed"], rule="kronecker-collapse", by=r"$\sum_j \delta_{ij} g_j = g_i$ for $1 \le i \le m$")
            .eq(gamma * g[i] / std - gamma / (m * std) * G.total(g[j])
                - gamma * ((x[i] - G.mu) / std) / (m * std) * G.total(g[j] * ((x[j] - G.mu) / std)),
                rule="sum-linearity",
                by=rf"move one factor $1/{std_tex}$ into the sum and one onto $x_i - \mu_B$")
            .eq(gamma * g[i] / std - gamma / (m * std) * G.total(g[j])
                - gamma * xhat[i] / (m * std) * G.total(g[j] * xhat[j]),
                rule="substitution", by=rf"$\hat{{x}}_k = (x_k - \mu_B)/{std_tex}$ for $k = i, j$")
            .eq(general_compact(G, lambda k: xhat[k]), rule="factor",
                by=rf"factor out $\gamma/(m{std_tex})$"))


def general_paper_proof(G: General | None = None) -> Proof:
    r"""For general m, the paper's :math:`\partial\ell/\partial x_i` (with :math:`\partial\ell/\partial\hat x_j
    = \gamma g_j` inserted) equals the collapsed sum of :func:`general_proof`: the second term of
    :math:`\partial\ell/\partial\mu` vanishes by ``centred-sum-zero-general``."""
    G = G or general()
    parts = _general_parts(G)
    return (calc(parts["paper"], where={G.mu: G.total(G.x[G.j]) / G.m},
                 title=r"General $m$: the paper's form, the second term of $\partial\ell/\partial\mu_B$ dropped")
            .eq(parts["collapsed"], rule="centred-sum-zero-general",
                by=r"the second term of $\partial\ell/\partial\mu_B$ has the factor "
                   r"$\sum_j (x_j - \mu_B) = 0$; the rest regroups"))


def general_mean_zero_proof(G: General | None = None) -> Proof:
    r""":math:`\sum_j (x_j - \mu) = 0` for general m: linearity and the sum of a constant (lemmas), then
    algebra with :math:`\mu` defined."""
    G = G or general()
    j, x, m = G.j, G.x, G.m
    return (calc(G.total(x[j] - G.mu), where={G.mu: G.total(x[j]) / m},
                 title="General $m$: the centred values sum to zero")
            .eq(G.total(x[j]) - G.total(G.mu), rule="sum-linearity", by="split the sum")
            .eq(G.total(x[j]) - m * G.mu, rule="sum-of-constant", by=r"$\sum_j \mu_B = m\mu_B$")
            .eq(0, rule="algebra", by=r"$m\mu_B = \sum_j x_j$"))


def general_start_instance(s: Setup, i: int = 0) -> Proof:
    r"""For explicit m: the true :math:`\partial\ell/\partial x_i` equals the start of :func:`general_proof`
    with m, i substituted and the sum written out (so the general chain starts from the right place)."""
    G = general()
    start = general_proof(G).start
    explicit = start.subs({G.m: s.m, G.i: i + 1}).doit()  # the sum written out
    explicit = explicit.replace(lambda e: isinstance(e, sp.Indexed),
                                lambda e: _indexed_to_symbol(s, e))
    explicit = explicit.xreplace({G.gamma: s.gamma[0], G.eps: s.eps, G.mu: s.mu, G.var: s.var})
    return (calc(true_adjoint(s, s.x[i]),
                 where={**loss_definition(s), **definitions(s, [], [n for n in (s.mu, s.var)])},
                 title=f"$m = {s.m}$: the general chain's starting sum, written out")
            .eq(explicit, rule="derivative", by="differentiate the forward definitions"))


def _indexed_to_symbol(s: Setup, e: sp.Indexed) -> sp.Symbol:
    base, index = e.base.label.name, int(e.indices[0])
    table = {"x": s.x, "g": s.g, "xhat": s.xhat}
    return table[base][index - 1]


def lemma_instances(m: int) -> list[Proof]:
    """The sum lemmas for explicit ``m`` (concrete u_j, v_j, a, b, c), each for the kernel to prove."""
    s = setup("batchnorm", m)
    a, b, c = sp.symbols("a b c", real=True)
    u = [sp.Symbol(f"u_{j}", real=True) for j in range(1, m + 1)]
    v = [sp.Symbol(f"v_{j}", real=True) for j in range(1, m + 1)]
    out = [
        calc(paper_sum([a * uj + b * vj for uj, vj in zip(u, v)]), title=f"sum-linearity, m = {m}")
        .eq(a * paper_sum(u) + b * paper_sum(v), rule="algebra"),
        calc(paper_sum([sp.KroneckerDelta(1, j) * u[j - 1] for j in range(1, m + 1)]),
             title=f"kronecker-collapse, m = {m}, i = 1").eq(u[0], rule="algebra"),
        calc(paper_sum([c] * m) if m > 1 else c, title=f"sum-of-constant, m = {m}").eq(m * c, rule="algebra"),
        mean_zero_proof(s).titled(f"centred-sum-zero, m = {m}"),
    ]
    return out
