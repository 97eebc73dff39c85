"""Catalog entry ``chain-rule``: statement, Caratheodory's proof, Jacobian form, instances."""

from __future__ import annotations

from typing import Callable

import sympy as sp

from ..derivation.chainrule import ChainInstance, chain_rule_instance, jacobian_chain
from ..core.functions import sigmoid
from ..proofs.proof import check
from ..proofs.documents import Document, Equation, Prose, ProofBlock, Section, Table
from ..proofs.proof import Proof, calc
from ..rendering.views import math_latex
from ..numerics.numeric import derivative
from .support.numbers import agreement

NAME = "chain-rule"

x, w, b, z, t = sp.symbols("x w b z t", real=True)
z1, z2, z3 = sp.symbols("z1 z2 z3", real=True)
y1, y2 = sp.symbols("y1 y2", real=True)
x1, x2 = sp.symbols("x1 x2", real=True)
#: Values of the parameters other than the differentiation variable in the numeric check.
PARAMETERS = {x: sp.Rational(3, 2), w: sp.Rational(7, 10), b: sp.Rational(-3, 10), t: sp.Rational(1, 2), z2: sp.Rational(1, 5),
              z3: sp.Rational(-1, 2)}
NUMERIC_POINTS = (sp.Rational(-13, 10), sp.Rational(1, 4), sp.Rational(9, 10))

Outer = Callable[[sp.Expr], sp.Expr]
#: (name with ``$...$`` math, outer f, inner g, variable): the compositions f(g(variable)) of the entry.
INSTANCES: list[tuple[str, Outer, sp.Expr, sp.Symbol]] = [
    ("$\\sin(x^2)$", sp.sin, x**2, x),
    ("$e^{3x + 1}$", sp.exp, 3 * x + 1, x),
    ("$\\log(1 + x^2)$", sp.log, 1 + x**2, x),
    ("$\\sqrt{1 + x^2}$", sp.sqrt, 1 + x**2, x),
    ("$(2x + 1)^5$", lambda u: u**5, 2 * x + 1, x),
    ("$1/(1 + x^2)$", lambda u: 1 / u, 1 + x**2, x),
    ("$\\arctan(x^3)$", sp.atan, x**3, x),
    ("$e^{\\sin x}$", sp.exp, sp.sin(x), x),
    ("$\\cos(e^x)$", sp.cos, sp.exp(x), x),
    ("$\\tanh(\\tanh x)$", sp.tanh, sp.tanh(x), x),
    ("Gaussian $e^{-x^2/2}$", sp.exp, -x**2 / 2, x),
    ("log-cosh loss $\\log \\cosh x$", sp.log, sp.cosh(x), x),
    ("A neuron $\\sigma(wx + b)$, derivative in $x$", sigmoid, w * x + b, x),
    ("A neuron $\\sigma(wx + b)$, derivative in $w$", sigmoid, w * x + b, w),
    ("$\\tanh(wx + b)$, derivative in $x$", sp.tanh, w * x + b, x),
    ("softplus $\\log(1 + e^{wx + b})$, derivative in $x$", lambda u: sp.log(1 + sp.exp(u)), w * x + b, x),
    ("$\\operatorname{ReLU}(wx + b)$, derivative in $x$ where $wx + b \\ne 0$", lambda u: sp.Max(0, u), w * x + b, x),
    ("$\\log \\sigma(z)$", sp.log, sigmoid(z), z),
    ("logistic loss $-\\log \\sigma(z)$", lambda u: -sp.log(u), sigmoid(z), z),
    ("$\\sigma(z)^2$", lambda u: u**2, sigmoid(z), z),
    ("squared error $(t - \\sigma(wx + b))^2$, derivative in $w$", lambda u: (t - u) ** 2, sigmoid(w * x + b), w),
    ("log-sum-exp, derivative in $z_1$", sp.log, sp.exp(z1) + sp.exp(z2) + sp.exp(z3), z1),
]


def instances() -> list[ChainInstance]:
    """The concrete compositions of the entry, each with its chain-rule proof."""
    return [chain_rule_instance(outer, inner, var, name) for name, outer, inner, var in INSTANCES]


def factors(case: ChainInstance) -> tuple[sp.Expr, sp.Expr]:
    """The outer derivative ``f'(g(x))`` and the inner derivative ``g'(x)`` of ``case``."""
    u = sp.Dummy("u", real=True)
    return sp.diff(case.outer(u), u).subs(u, case.inner), sp.diff(case.inner, case.variable)


def shown_proof(case: ChainInstance) -> Proof:
    """``case``'s chain-rule step with its justification in math (``u = g(x)``)."""
    return (calc(case.proof.start, title=case.name)
            .eq(case.derivative, by=f"chain rule with $u = {math_latex(case.inner)}$"))


def numeric_agreement(instance: ChainInstance) -> float:
    """Largest relative difference between the chain-rule answer and Richardson differences."""
    worst = 0.0
    values = {k: v for k, v in PARAMETERS.items() if k != instance.variable}
    composed = instance.composed.xreplace(values)
    answer = instance.derivative.xreplace(values)
    for point in NUMERIC_POINTS:
        exact = float(answer.xreplace({instance.variable: point}).evalf(30))
        numeric = derivative(composed, float(point), method="richardson", wrt=instance.variable)
        worst = max(worst, abs(float(numeric.value) - exact) / max(1.0, abs(exact)))
    return worst


def _softmax_cross_entropy() -> sp.Expr:
    """-sum_k y_k log p_k with p = softmax(z) and y = (y1, y2, 1 - y1 - y2)."""
    total = sp.exp(z1) + sp.exp(z2) + sp.exp(z3)
    labels = (y1, y2, 1 - y1 - y2)
    return -sum(yk * sp.log(sp.exp(zk) / total) for yk, zk in zip(labels, (z1, z2, z3)))


def _jacobian_shown(proof: Proof, what: str, shape: tuple[int, int, int]) -> Proof:
    """``proof`` (one step ``J_{f o g} = J_f(g) J_g``) with its heading and justification in math."""
    m, k, n = shape
    return (calc(proof.start, title=f"{what}: $J_{{f \\circ g}} = J_f(g(x))\\,J_g(x)$")
            .eq(proof.end, by=f"the Jacobians multiply; shapes ${m} \\times {n} = "
                              f"({m} \\times {k})({k} \\times {n})$"))


def build() -> Document:
    a, y = sp.symbols("a y", real=True)
    f, g, phi, psi = (sp.Function(n) for n in ("f", "g", "varphi", "psi"))
    beta = sp.Symbol("b", real=True)
    hypotheses = {f: sp.Lambda(y, f(beta) + psi(y) * (y - beta)), g: sp.Lambda(x, g(a) + phi(x) * (x - a)),
                  beta: g(a)}
    factorization = (
        calc(f(g(x)) - f(g(a)), where=hypotheses, title="The difference quotient factors")
        .eq(psi(g(x)) * (g(x) - g(a)), by="the hypothesis on $f$ at $y = g(x)$, with $b = g(a)$")
        .eq(psi(g(x)) * phi(x) * (x - a), by="the hypothesis on $g$")
    )
    conclusion = (
        calc(sp.Subs(sp.Derivative(f(g(x)), x), x, a), where=hypotheses, title="Reading off the derivative")
        .eq(psi(g(a)) * phi(a), rule="caratheodory-criterion",
            by=r"$\chi(x) = \psi(g(x))\,\varphi(x)$ is continuous at $a$ (compositions and products of "
               r"continuous functions are), so $(f \circ g)'(a) = \chi(a)$")
        .eq(sp.Subs(sp.Derivative(f(y), y), y, g(a)) * sp.Subs(sp.Derivative(g(x), x), x, a),
            rule="caratheodory-criterion", by=r"$\psi(b) = f'(b)$ and $\varphi(a) = g'(a)$")
    )

    G1, G2, F = (sp.Function(n) for n in ("g1", "g2", "F"))
    u1, u2 = sp.symbols("u1 u2", real=True)
    partials = {k: sp.Function(f"F_{k}") for k in (1, 2)}  # F_k = dF/du_k
    inner1, inner2 = G1(x1, x2), G2(x1, x2)
    total = sum(partials[k](inner1, inner2) * sp.Derivative(gk, x1) for k, gk in ((1, inner1), (2, inner2)))
    multivariate = (calc(sp.Derivative(F(inner1, inner2), x1),
                         title="Total derivative with two intermediate variables, as SymPy differentiates it",
                         where={partials[k]: sp.Lambda((u1, u2), sp.Derivative(F(u1, u2), uk))
                                for k, uk in ((1, u1), (2, u2))})
                    .eq(total, by="sum over the paths from $x_1$ to $F$"))
    # the same rule on explicit functions: the path sum built from the partial derivatives of F, g1, g2
    # separately, against SymPy's derivative of the explicit composition (an independent computation)
    outer_f = u1 * u2**2 + sp.sin(u1)
    g_explicit = (sp.sin(x1 * x2), x1 + x2**2)
    at = {u1: g_explicit[0], u2: g_explicit[1]}
    path_sum = sp.Add(*[sp.Mul(sp.diff(outer_f, uk).subs(at), sp.diff(gk, x1), evaluate=False)
                        for uk, gk in ((u1, g_explicit[0]), (u2, g_explicit[1]))], evaluate=False)
    concrete_multivariate = (
        calc(sp.Derivative(outer_f.subs(at), x1),
             title=r"The path sum for $F(u_1, u_2) = u_1 u_2^2 + \sin u_1$, $g_1 = \sin(x_1 x_2)$, "
                   r"$g_2 = x_1 + x_2^2$")
        .eq(path_sum, by=r"$F_1(g_1, g_2)\,\partial g_1/\partial x_1 + F_2(g_1, g_2)\,\partial g_2/\partial x_1$"))

    weights = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"W{i + 1}{j + 1}", real=True))
    hidden = weights * sp.Matrix([x1, x2])
    layer = _jacobian_shown(jacobian_chain([sp.tanh(y1), sp.tanh(y2)], list(hidden), [x1, x2], [y1, y2]),
                            "A $\\tanh$ layer", (2, 2, 2))
    generic = _jacobian_shown(jacobian_chain([sp.exp(y1) * y2, y1 + y2**2, sp.sin(y1)], [x1 * x2, x1 + x2],
                                             [x1, x2], [y1, y2]),
                              "A generic composition", (3, 2, 2))

    cases = instances()
    rows = []
    for case in cases:
        verdict = check(case.proof).steps[0]
        rows.append((case.composed, case.variable, *factors(case), verdict.label,
                     agreement(numeric_agreement(case))))
    highlighted = [c for c in cases if c.name.startswith(("A neuron $\\sigma(wx + b)$, derivative in $x$",
                                                            "$\\tanh(wx + b)$", "log-sum-exp"))]
    p = [sp.exp(zk) / (sp.exp(z1) + sp.exp(z2) + sp.exp(z3)) for zk in (z1, z2, z3)]
    cross_entropy = (calc(sp.Derivative(_softmax_cross_entropy(), z1),
                          title="Softmax cross-entropy: the gradient with respect to a logit is $p_1 - y_1$")
                     .eq(p[0] - y1, by="chain rule through $\\log$ and softmax; $y_1 + y_2 + y_3 = 1$"))

    return Document(
        name=NAME,
        title="The chain rule",
        summary=("The derivative of a composition is the product of the derivatives along it. Backpropagation "
                 "is this rule applied node by node. Below: the statement in Lagrange and Leibniz notation "
                 "and for several variables, a proof whose algebra is checked and whose analytic steps cite "
                 "their lemmas, the Jacobian form with its shapes, and checked instances from deep learning."),
        blocks=(
            Section("Statement"),
            Prose("If $g$ is differentiable at $x$ and $f$ is differentiable at $g(x)$, then $f \\circ g$ is "
                  "differentiable at $x$, and"),
            Equation(r"(f \circ g)'(x) = f'\bigl(g(x)\bigr)\, g'(x)"
                     r" \qquad\text{(Lagrange)}"),
            Equation(r"\frac{dz}{dx} = \frac{dz}{dy}\,\frac{dy}{dx} \quad\text{for } z = f(y),\ y = g(x)"
                     r" \qquad\text{(Leibniz)}"),
            Prose("With intermediate variables $y_1, \\dots, y_k$ that all depend on $x_1, \\dots, x_n$, "
                  "each $y_j$ differentiable at $x$ and $z$ differentiable at $y(x)$, "
                  "the total derivative sums over every path:"),
            Equation(r"\frac{\partial z}{\partial x_i} = \sum_{j=1}^{k} \frac{\partial z}{\partial y_j}\,"
                     r"\frac{\partial y_j}{\partial x_i}"),
            Prose("In matrix form, for $g: \\mathbb{R}^n \\to \\mathbb{R}^k$ and $f: \\mathbb{R}^k \\to "
                  "\\mathbb{R}^m$, $g$ differentiable at $x$ and $f$ differentiable at $g(x)$, the Jacobians "
                  "multiply, and the shapes match as in a matrix product:"),
            Equation(r"\underbrace{J_{f \circ g}(x)}_{m \times n} = \underbrace{J_f\bigl(g(x)\bigr)}_{m \times k}"
                     r"\; \underbrace{J_g(x)}_{k \times n}"),
            Section("Proof (Caratheodory)"),
            Prose("Caratheodory's criterion: $g$ is differentiable at $a$ exactly when there is a function "
                  "$\\varphi$, continuous at $a$, with $g(x) - g(a) = \\varphi(x)(x - a)$; then $g'(a) = "
                  "\\varphi(a)$. Likewise $f(y) - f(b) = \\psi(y)(y - b)$ with $\\psi$ continuous at $b = g(a)$ "
                  "and $\\psi(b) = f'(b)$. Because these identities hold for every $x$ and every $y$, the "
                  "checker may use them as definitions of $g$ and $f$; the algebra is then checked."),
            ProofBlock(factorization),
            Prose("The remaining steps are analytic: the product $\\chi(x) = \\psi(g(x))\\,\\varphi(x)$ is "
                  "continuous at $a$, so by the criterion again $(f \\circ g)'(a) = \\chi(a)$. symgrad cannot "
                  "check continuity by computation, so these steps rest on the cited lemma and are reported "
                  "as such, not as proved."),
            ProofBlock(conclusion),
            Section("Several variables"),
            Prose("If $g_1, g_2$ are differentiable at $(x_1, x_2)$ and $F$ is differentiable at "
                  "$(g_1(x_1, x_2), g_2(x_1, x_2))$, the total derivative of $F(g_1(x_1, x_2), g_2(x_1, x_2))$ "
                  "with respect to $x_1$ has one term per intermediate variable; $F_k$ denotes the partial "
                  "derivative of $F$ in its $k$-th argument, $\\partial F / \\partial u_k$. For undefined "
                  "functions the kernel can only compare the formula with SymPy's own derivative, which applies "
                  "this very rule: what is proved below is that SymPy's differentiation agrees with the path "
                  "sum, which confirms the formula's shape, not the theorem."),
            ProofBlock(multivariate),
            Prose("On explicit functions the check is independent: the path sum is assembled from the partial "
                  "derivatives of $F$, $g_1$ and $g_2$ taken one at a time, and the kernel proves it equal to "
                  "SymPy's derivative of the whole explicit composition."),
            ProofBlock(concrete_multivariate),
            Section("Jacobian form"),
            Prose("The matrix form needs the same hypotheses: $g$ differentiable at $x$ and $f$ differentiable "
                  "at $g(x)$ (every entry of both Jacobians exists). A layer $h = \\tanh(Wx)$ with "
                  "$W \\in \\mathbb{R}^{2 \\times 2}$: the Jacobian of the "
                  "composition is the diagonal matrix of $1 - \\tanh^2$ times $W$."),
            ProofBlock(layer),
            Prose("A generic composition $\\mathbb{R}^2 \\to \\mathbb{R}^2 \\to \\mathbb{R}^3$."),
            ProofBlock(generic),
            Section("Instances"),
            Prose("For each composition the outer derivative is taken in a fresh variable $u$, evaluated at "
                  "$u = g(x)$ and multiplied by $g'(x)$; the kernel checks the product against SymPy's "
                  "derivative of the whole composition, and the last column compares it with central "
                  "differences and Richardson extrapolation at three points (other parameters fixed at "
                  "$x = 1.5$ (when differentiating in $w$), $w = 0.7$, $b = -0.3$, $t = 0.5$, $z_2 = 0.2$, $z_3 = -0.5$)."),
            *(ProofBlock(shown_proof(c)) for c in highlighted),
            ProofBlock(cross_entropy),
            Table(columns=("composition", "in", "outer derivative", "inner derivative", "kernel", "rel. error"),
                  rows=tuple(rows),
                  caption=f"{len(rows)} compositions $f(g(x))$: the derivative is the outer derivative "
                          "$f'(g(x))$ times the inner derivative $g'(x)$ in the variable of the second column, "
                          "checked by the kernel and compared with numerical differentiation (largest relative "
                          "error). The ReLU row holds where $wx + b \\ne 0$: there ReLU has no derivative "
                          "($\\theta$ is the unit step)."),
        ),
    )


__all__ = ["build", "instances", "numeric_agreement", "INSTANCES"]
