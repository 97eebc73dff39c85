r"""The normalization layers' backward passes on the adjoint engine, every equation a checked proof.

The backward pass applies the adjoint-sum law of :mod:`symgrad.derivation.adjoint` at the level
of the paper's nodes: :math:`\bar v = \sum_{c} \bar c\, \partial c/\partial v` over the
consumers :math:`c` of :math:`v`. Every adjoint is stated as a proof that starts at the true
derivative (SymPy's ``Derivative`` of :math:`\ell` as a function of that node's value, every node
that does not depend on it held fixed), so the kernel checks each equation on its own; no adjoint is
trusted. On top: the paper's six equations, the compact form of :math:`\partial\ell/\partial x_i`
and its :math:`\epsilon = 0` edge case.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import sympy as sp

from ....core.errors import InputError, UnsupportedError
from ....derivation import adjoint as engine
from ....derivation.adjoint import Term, true_derivative
from ....proofs.proof import Proof, calc
from .layers import Named, Setup, define_all, paper_sum

__all__ = [
    "LOSS", "inputs", "loss_definition", "true_adjoint", "adjoint_sum", "adjoint_terms", "adjoint_values", "definitions", "adjoint_proof",
    "paper_equations", "paper_proofs", "parameter_proof", "mean_zero_proof", "compact_form", "compact_sums", "compact_proof",
    "epsilon_zero_proof",
]


def _loss_as_function_of(s: Setup, node: sp.Symbol, variable: sp.Symbol) -> sp.Expr:
    """:math:`\\ell` with ``node``'s value replaced by ``variable`` and everything above it rebuilt.

    Nodes that do not depend on ``node`` keep their symbols (defined by ``where=``).
    """
    affected = s.depends_on(node)
    values: dict[sp.Symbol, sp.Expr] = {node: variable}
    for n, d in s.nodes:
        if n in affected and n != node:
            values[n] = d.xreplace(values)
    return s.loss.xreplace(values)


#: The loss as a function of the inputs, :math:`\\ell(x_1, \\dots, \\gamma, \\beta)`: a chain for an input starts
#: at its partial derivative, with the function defined by ``where=`` (:func:`loss_definition`).
LOSS = sp.Function("ell", real=True)


def inputs(s: Setup) -> tuple[sp.Symbol, ...]:
    """The leaves of the graph: ``x_1..x_m``, then the scales and the shifts."""
    return (*s.x, *s.gamma, *s.beta)


def is_input(s: Setup, node: sp.Symbol) -> bool:
    return node in inputs(s)


def loss_definition(s: Setup) -> dict[Any, sp.Expr]:
    """``where=`` for the input chains: :data:`LOSS` as the loss written in the inputs alone."""
    return {LOSS: sp.Lambda(inputs(s), define_all(s, s.loss))}


def true_adjoint(s: Setup, node: sp.Symbol) -> sp.Expr:
    """:math:`\\partial\\ell/\\partial v` as SymPy's derivative (unevaluated), the start of every chain.

    For an input (``x_i``, ``gamma``, ``beta``) it is the partial derivative of :data:`LOSS`, which
    :func:`loss_definition` defines as the loss written in the inputs alone (a derivative of an
    expression in the node symbols would not see their dependence on the input): with that definition
    substituted it is SymPy's derivative of the forward pass. For an inner node, the derivative of the
    loss with that node's value replaced by a variable and the nodes above it rebuilt, taken at the
    node's value.
    """
    if is_input(s, node):
        return sp.Derivative(LOSS(*inputs(s)), node)
    variable = Named(f"t_{node.name}", "t", real=True)  # printed as t: the node's value as a variable
    return true_derivative(_loss_as_function_of(s, node, variable), variable, node)


def adjoint_sum(s: Setup, node: sp.Symbol) -> sp.Expr:
    """The backward law at ``node``: :math:`\\sum_c \\bar c\\, \\partial c / \\partial v` over its consumers
    (the engine's :func:`~symgrad.derivation.adjoint.adjoint_sum` of :func:`adjoint_terms`).

    The adjoint of ``y_i`` is the upstream gradient ``g_i``.
    """
    if node in s.y:
        return s.g[s.y.index(node)]
    return engine.adjoint_sum(adjoint_terms(s, node))


def adjoint_terms(s: Setup, node: sp.Symbol) -> tuple[Term, ...]:
    """The terms of the adjoint sum at ``node``, one per consumer (a definition, read as a whole, is
    one slot): the consumer's adjoint (``g_i`` for ``y_i``, else its adjoint symbol) times the
    derivative of the consumer's definition with respect to ``node``."""
    def upstream(consumer: sp.Symbol) -> sp.Expr:
        return s.g[s.y.index(consumer)] if consumer in s.y else s.adjoints[consumer]

    def local(consumer: sp.Symbol, slot: int) -> sp.Expr:
        return sp.diff(s.definition[consumer], node)

    return engine.terms(((c, 0) for c in s.consumers(node)), upstream, local)


def adjoint_values(s: Setup) -> dict[sp.Symbol, sp.Expr]:
    r"""The closed forms of the inner adjoints, keyed by adjoint symbol.

    :math:`\partial\ell/\partial\hat x_j = h_j` (:math:`h_j = \gamma g_j`),
    :math:`\partial\ell/\partial\sigma^2 = -\tfrac12 (\sigma^2+\epsilon)^{-3/2} \sum_j h_j (x_j - \mu)`,
    :math:`\partial\ell/\partial\mu = -(\sigma^2+\epsilon)^{-1/2} \sum_j h_j`; each is proved equal to
    the true derivative by :func:`adjoint_proof`.
    """
    a, m = s.adjoints, s.m
    out: dict[sp.Symbol, sp.Expr] = {a[s.xhat[j]]: s.h(j) for j in range(m)}
    out[a[s.var]] = sp.Rational(-1, 2) * (s.var + s.eps) ** sp.Rational(-3, 2) \
        * paper_sum([s.h(j) * s.centred(j) for j in range(m)])
    if s.mu is not None:
        out[a[s.mu]] = -paper_sum([s.h(j) for j in range(m)]) / s.std
    return out


def definitions(s: Setup, exprs: Sequence[sp.Expr], nodes: Sequence[sp.Symbol] = ()) -> dict[Any, sp.Expr]:
    """Definitions for ``calc(where=...)``: the given ``nodes`` by their forward definitions, and
    every adjoint symbol that occurs in ``exprs`` by its value (:func:`adjoint_values`), which its
    own chain (:func:`adjoint_proof`) proves equal to the true derivative.

    A node left undefined is a free variable: a step proved so holds for every value of it,
    in particular for the value the forward pass gives it.
    """
    wanted = set(nodes)
    out: dict[Any, sp.Expr] = {n: d for n, d in s.nodes if n in wanted}
    values = adjoint_values(s)
    for expr in exprs:
        for sym in sorted(expr.free_symbols & set(values), key=lambda v: v.name):
            out[sym] = values[sym]
    return out


def _adjoint_chain(s: Setup, node: sp.Symbol, by: str, steps: Sequence[tuple[sp.Expr, str, str]], title: str,
                   nodes: Sequence[sp.Symbol] = ()) -> Proof:
    """The engine's adjoint proof at ``node`` (true derivative = adjoint sum [adjoint-sum], justified
    by ``by``), then ``steps`` (expression, rule, justification); ``where=`` defines ``nodes`` and
    every adjoint symbol the chain mentions."""
    start, summands = true_adjoint(s, node), adjoint_terms(s, node)
    exprs = [start, engine.adjoint_sum(summands), *(e for e, _, _ in steps)]
    where = {**(loss_definition(s) if is_input(s, node) else {}), **definitions(s, exprs, nodes)}
    proof = engine.adjoint_proof(start, summands, title=title, by=by, where=where)
    for expr, rule, why in steps:
        proof = proof.eq(expr, rule=rule, by=why)
    return proof


def _needed(s: Setup, node: sp.Symbol) -> list[sp.Symbol]:
    """The forward definitions a chain for ``node``'s adjoint needs (the fewer, the faster)."""
    if node in s.xhat or node == s.var or node in s.beta:
        return []
    if node in s.gamma:
        return [n for n in (s.mu, s.var, *s.xhat) if n is not None]
    return [n for n in (s.mu, s.var) if n is not None]


def _tex(expr: sp.Basic) -> str:
    """``expr`` as inline math for a justification or a heading: ``$...$``."""
    return f"${sp.latex(expr)}$"


def _consumers_text(s: Setup, node: sp.Symbol, lead: str = "sum over the consumers of") -> str:
    """The adjoint-sum justification: the node and the nodes that read it, as inline math."""
    names = ", ".join(sp.latex(c) for c in s.consumers(node))
    return f"{lead} {_tex(node)}: ${names}$"


def _centred_text(s: Setup) -> str:
    r"""``$x_j - \mu$`` for the layer (``$x_j$`` for RMSNorm), as inline math."""
    return "$x_j$" if s.mu is None else f"$x_j - {sp.latex(s.mu)}$"


def _std_tex(s: Setup) -> str:
    r""":math:`\sqrt{\sigma^2 + \epsilon}` of the layer, as LaTeX."""
    return rf"\sqrt{{{sp.latex(s.var)} + \epsilon}}"


def adjoint_proof(s: Setup, node: sp.Symbol, title: str | None = None) -> Proof:
    """True derivative = adjoint sum [adjoint-sum] = closed form [algebra] (inner nodes only).

    The closed forms are :func:`adjoint_values`; for :math:`\\mu` the step uses that the
    centred values sum to zero (the forward definitions are in ``where=``).
    """
    value = adjoint_values(s).get(s.adjoints[node])
    if value is None:
        raise InputError(f"adjoint_proof: {node} is not an inner node (xhat_j, the variance or the mean)")
    why = "insert the adjoints of the consumers"
    if node == s.mu:
        why += rf"; the second term has the factor $\sum_j (x_j - {sp.latex(s.mu)}) = 0$"
    steps = [(value, "algebra", why)] if value != adjoint_sum(s, node) else []  # no step x = x
    return _adjoint_chain(s, node, _consumers_text(s, node), steps,
                          title or rf"$\partial\ell/\partial {sp.latex(node)}$", _needed(s, node))


def paper_equations(s: Setup, i: int = 0) -> dict[str, tuple[sp.Symbol, sp.Expr]]:
    """Ioffe & Szegedy's six backward equations, as printed, for index ``i`` (0-based).

    Returned as name -> (the adjoint's node, the printed right-hand side).
    """
    if s.kind != "batchnorm":
        raise UnsupportedError("paper_equations: the paper's six equations are for batchnorm")
    a, m, std = s.adjoints, s.m, s.std
    half = sp.Rational(-1, 2)
    dvar = sp.Mul(paper_sum([a[s.xhat[j]] * (s.x[j] - s.mu) for j in range(m)]), half,
                  (s.var + s.eps) ** sp.Rational(-3, 2), evaluate=False)
    dmu = sp.Add(paper_sum([a[s.xhat[j]] * (-1 / std) for j in range(m)]),
                 a[s.var] * paper_sum([-2 * (s.x[j] - s.mu) for j in range(m)]) / m, evaluate=False)
    dx = sp.Add(a[s.xhat[i]] / std, a[s.var] * 2 * (s.x[i] - s.mu) / m, a[s.mu] / m, evaluate=False)
    return {
        "xhat": (s.xhat[i], sp.Mul(s.g[i], s.gamma[0], evaluate=False)),
        "var": (s.var, dvar),
        "mu": (s.mu, dmu),  # type: ignore[dict-item]
        "x": (s.x[i], dx),
        "gamma": (s.gamma[0], paper_sum([s.g[j] * s.xhat[j] for j in range(m)])),
        "beta": (s.beta[0], paper_sum(list(s.g))),
    }


def paper_proofs(s: Setup, i: int = 0) -> dict[str, Proof]:
    """The six equations, each a chain from the true derivative through the backward law to the
    paper's printed form (and, for the inner nodes, on to the closed form the next equations use).

    For :math:`\\partial\\ell/\\partial\\mu` the chain shows the second term vanishing as a step.
    """
    out: dict[str, Proof] = {}
    values = adjoint_values(s)
    for name, (node, printed) in paper_equations(s, i).items():
        title = rf"$\partial\ell/\partial {sp.latex(node)}$"
        if name in ("gamma", "beta"):
            by, steps = f"{_tex(node)} feeds every $y_j$", [(printed, "algebra", "the paper's printed form")]
        else:
            by, steps = _consumers_text(s, node), []
            if printed != adjoint_sum(s, node):
                steps.append((printed, "algebra", "the paper's printed form"))
            if name == "mu" and s.mu is not None:
                first = paper_sum([s.adjoints[s.xhat[j]] * (-1 / s.std) for j in range(s.m)])
                collected = sp.Mul(-2, sp.Add(*s.x) - s.m * s.mu, evaluate=False)
                mu = sp.latex(s.mu)
                steps.append((sp.Add(first, s.adjoints[s.var] * collected / s.m, evaluate=False), "algebra",
                              rf"$\sum_j -2(x_j - {mu}) = -2(x_1 + \dots + x_m - m{mu})$"))
                steps.append((first, "centred-sum-zero",
                              rf"$x_1 + \dots + x_m = m{mu}$, so the second term is $0$"))
            last = steps[-1][0] if steps else adjoint_sum(s, node)
            if name in ("xhat", "var", "mu") and values[s.adjoints[node]] != last:
                steps.append((values[s.adjoints[node]], "algebra",
                              r"insert $\partial\ell/\partial\hat{x}_j = \gamma g_j$; collect"))
        out[name] = _adjoint_chain(s, node, by, steps, title, _needed(s, node))
    return out


def parameter_proof(s: Setup, param: sp.Symbol) -> Proof:
    r"""The gradient of a scale or shift parameter: the true :math:`\partial\ell/\partial\gamma`
    (or :math:`\beta`) = the sum over the outputs that read it [adjoint-sum].

    :math:`y_j = \gamma_j \hat x_j + \beta_j` gives :math:`\partial\ell/\partial\gamma_j = g_j \hat x_j` and
    :math:`\partial\ell/\partial\beta_j = g_j` per feature; with one shared :math:`\gamma, \beta` (BatchNorm)
    the sums over the batch.
    """
    if param not in s.gamma and param not in s.beta:
        raise InputError(f"parameter_proof: {param} is not a scale or shift of this layer")
    readers = s.consumers(param)
    by = f"{_tex(param)} feeds " + (f"${sp.latex(readers[0])}$ only" if len(readers) == 1 else "every $y_j$")
    steps: list[tuple[sp.Expr, str, str]] = []
    if param in s.beta:  # the local derivatives are 1: drop the factors
        reader = sp.latex(readers[0]) if len(readers) == 1 else "y_j"
        steps.append((paper_sum([s.g[s.y.index(c)] for c in readers]), "algebra",
                      f"$\\partial {reader}/\\partial {sp.latex(param)} = 1$"))
    return _adjoint_chain(s, param, by, steps, rf"$\partial\ell/\partial {sp.latex(param)}$", _needed(s, param))


def mean_zero_proof(s: Setup) -> Proof:
    """:math:`\\sum_i (x_i - \\mu) = 0`: why the paper's second term of :math:`\\partial\\ell/\\partial\\mu` vanishes."""
    if s.mu is None:
        raise UnsupportedError("mean_zero_proof: RMSNorm does not centre")
    terms = paper_sum([xi - s.mu for xi in s.x])
    return (calc(terms, where={s.mu: s.definition[s.mu]}, title="The centred values sum to zero")
            .eq(sp.Add(*s.x) - s.m * s.mu, rule="algebra", by=f"collect the $m$ copies of {_tex(s.mu)}")
            .eq(0, rule="substitution", by=rf"$m{sp.latex(s.mu)} = x_1 + \dots + x_m$"))


def _h(s: Setup, j: int) -> sp.Expr:
    """The weight of ``g_j`` in the compact form: ``g_j`` (BatchNorm), ``gamma_j g_j`` (per feature)."""
    return s.g[j] if s.kind == "batchnorm" else s.gamma_at(j) * s.g[j]


def compact_sums(s: Setup) -> tuple[sp.Expr, sp.Expr]:
    r"""The two sums of the compact form, :math:`\sum_j h_j` and :math:`\sum_j h_j \hat x_j`: the same for
    every ``i``, so built once for all of them (:func:`compact_form` with ``sums``)."""
    h = [_h(s, j) for j in range(s.m)]
    return paper_sum(h), paper_sum([h[j] * s.xhat[j] for j in range(s.m)])


def compact_form(s: Setup, i: int, sums: tuple[sp.Expr, sp.Expr] | None = None) -> sp.Expr:
    r"""The compact :math:`\partial\ell/\partial x_i` in the node symbols (0-based ``i``).

    BatchNorm: :math:`\frac{\gamma}{m\sqrt{\sigma^2+\epsilon}}\,(m g_i - \sum_j g_j - \hat x_i \sum_j g_j \hat x_j)`;
    LayerNorm: the same with :math:`h_j = \gamma_j g_j` for :math:`\gamma g_j`;
    RMSNorm: :math:`\frac{1}{m\sqrt{\nu^2+\epsilon}}\,(m h_i - \hat x_i \sum_j h_j \hat x_j)`.
    ``sums`` are :func:`compact_sums` ``(s)``, when the caller builds the form for every ``i``.
    """
    m, std = s.m, s.std
    sum_h, sum_hx = compact_sums(s) if sums is None else sums
    inner_terms = [m * _h(s, i)]
    if s.kind != "rmsnorm":
        inner_terms.append(-sum_h)
    inner_terms.append(-s.xhat[i] * sum_hx)
    scale = s.gamma[0] / (m * std) if s.kind == "batchnorm" else 1 / (m * std)
    return sp.Mul(scale, sp.Add(*inner_terms, evaluate=False), evaluate=False)


def compact_proof(s: Setup, i: int = 0) -> Proof:
    """From the true :math:`\\partial\\ell/\\partial x_i` through the adjoint sum to the compact form."""
    x_i = s.x[i]
    m, std = s.m, s.std
    sum_h, sum_hx = compact_sums(s)
    scale = s.gamma[0] if s.kind == "batchnorm" else sp.S.One
    hi = _h(s, i)
    expanded_terms = [scale * hi / std, -scale * s.xhat[i] * sum_hx / (m * std)]
    if s.kind != "rmsnorm":
        expanded_terms.insert(1, -scale * sum_h / (m * std))
    centred = f"; the sum of the {_centred_text(s)} vanishes" if s.kind != "rmsnorm" else ""
    factor = rf"\gamma/(m{_std_tex(s)})" if s.kind == "batchnorm" else rf"1/(m{_std_tex(s)})"
    steps = [
        (sp.Add(*expanded_terms, evaluate=False), "algebra",
         f"insert the adjoints; {_centred_text(s)[:-1]} = \\hat{{x}}_j {_std_tex(s)}$" + centred),
        (compact_form(s, i, (sum_h, sum_hx)), "factor", f"factor out ${factor}$"),
    ]
    return _adjoint_chain(s, x_i, _consumers_text(s, x_i, "consumers of"),
                          steps, rf"$\partial\ell/\partial {sp.latex(x_i)}$ in compact form",
                          [n for n in (s.mu, s.var, *s.xhat) if n is not None])


def epsilon_zero_proof(s: Setup, i: int = 0) -> Proof:
    """The compact-form chain with epsilon = 0, under the side condition x_1 > x_2 (so sigma^2 > 0).

    Without epsilon the forward pass divides by sigma, so it is only defined when not all x_j are equal.
    """
    if s.m < 2:
        raise InputError("epsilon_zero_proof: needs m >= 2 (with m = 1, sigma^2 = 0 always)")
    proof = compact_proof(s, i)
    return replace(proof, definitions=proof.definitions + ((s.eps, sp.S.Zero),),
                   title=rf"$\epsilon = 0$, $m = {s.m}$: the compact form where ${sp.latex(s.var)} > 0$"
                   ).assuming(s.x[0] > s.x[1])
