"""Catalog entry ``residual-gradient``: the Jacobian of x + F(x), its product over L blocks, the identity path."""

from __future__ import annotations

import itertools

import sympy as sp

from ..core.verdicts import Status
from ..proofs.proof import check
from ..proofs.documents import Document, Equation, Prose, ProofBlock, Section, Table
from ..proofs.proof import Proof, calc
from ..numerics.numeric import derivative
from .support.numbers import agreement

NAME = "residual-gradient"

x = sp.Symbol("x", real=True)
u = sp.Symbol("u", real=True)
x1, x2 = sp.symbols("x1 x2", real=True)
delta = sp.Symbol("delta", nonnegative=True)
#: Depths for which the statements about L blocks are checked.
DEPTHS = (1, 2, 3, 4)
#: Depth shown in full in the document (the others are in tables).
SHOWN_DEPTH = 3
#: Concrete scalar blocks F_l(h) = w_l tanh(h + b_l) for the kernel and numeric cross-checks.
BLOCK_WEIGHTS = ((sp.Rational(1, 2), sp.Rational(1, 10)), (sp.Rational(-3, 10), sp.Rational(-1, 5)),
                 (sp.Rational(4, 5), sp.Rational(3, 10)), (sp.Rational(-1, 4), sp.Rational(1, 2)))
NUMERIC_POINTS = (sp.Rational(-3, 2), sp.Rational(1, 4), sp.Rational(2, 1))
#: Weights of the concrete 2-D two-block network h_l = h_{l-1} + tanh(W_l h_{l-1}).
W1 = sp.ImmutableMatrix([[1, -1], [0, 1]])
W2 = sp.ImmutableMatrix([[1, 0], [1, 1]])
#: delta and depths of the comparison table of the two bounds.
TABLE_DELTA = sp.Rational(1, 10)
TABLE_DEPTHS = (1, 2, 5, 10, 20, 50)
#: Seconds per step for the concrete nested-tanh checks of the depth table: the kernel's quick sampler
#: may use a quarter of it, and evaluating nested tanh at 50 digits is slow, so a smaller budget than the
#: default keeps the document fast; the symbolic proof (expansion) needs well under a second.
CONCRETE_BUDGET = 4.0


def block_functions(depth: int) -> list[sp.Function]:
    """Undefined residual branches F_1 ... F_L."""
    return [sp.Function(f"F_{l}") for l in range(1, depth + 1)]


def forward(depth: int, x0: sp.Expr = x) -> list[sp.Expr]:
    """``h_0 = x`` and ``h_l = h_{l-1} + F_l(h_{l-1})`` for undefined ``F_l``."""
    hs = [x0]
    for F in block_functions(depth):
        hs.append(hs[-1] + F(hs[-1]))
    return hs


def single_block_proof() -> Proof:
    """``d/dx (x + F(x)) = 1 + F'(x)``."""
    F = sp.Function("F")
    return (calc(sp.Derivative(x + F(x), x), title="One block: $(x + F(x))' = 1 + F'(x)$")
            .eq(1 + sp.Derivative(F(x), x), by=r"linearity; $\frac{d}{dx}\, x = 1$"))


def jacobian_block_proof() -> Proof:
    """``J_G = I + J_F`` for ``G(x) = x + F(x)`` and a generic ``F: R^2 -> R^2``."""
    F1, F2 = sp.Function("F_1"), sp.Function("F_2")
    G1, G2 = sp.Function("G_1"), sp.Function("G_2")
    xs = (x1, x2)
    comps, outputs = (F1(*xs), F2(*xs)), (G1(*xs), G2(*xs))
    pending = sp.ImmutableMatrix(2, 2, lambda i, j: sp.Derivative(outputs[i], xs[j]))
    jac = sp.ImmutableMatrix(2, 2, lambda i, j: sp.Derivative(comps[i], xs[j]))
    return (calc(pending, where={G1: sp.Lambda(xs, x1 + comps[0]), G2: sp.Lambda(xs, x2 + comps[1])},
                 title=r"Jacobian form for $F: \mathbb{R}^2 \to \mathbb{R}^2$: $J_G = I + J_F$")
            .eq(sp.MatAdd(sp.ImmutableMatrix(sp.eye(2)), jac, evaluate=False),
                by="the Jacobian of the identity is $I$; Jacobians add"))


def block_outputs(depth: int) -> list[sp.Function]:
    """Named block outputs ``h_1 ... h_L`` (undefined functions of ``x``)."""
    return [sp.Function(f"h_{l}") for l in range(1, depth + 1)]


def product_proof(depth: int) -> Proof:
    """``dh_L/dx = prod_l (1 + F_l'(h_{l-1}))`` for undefined branches; ``h_l`` named with ``where=``."""
    named = block_outputs(depth)
    inputs = [x] + [h(x) for h in named[:-1]]  # block l's input h_{l-1}(x), with h_0(x) = x
    definitions = {h: sp.Lambda(x, sp.Add(before, F(before), evaluate=False))
                   for F, h, before in zip(block_functions(depth), named, inputs)}
    factors = [1 + sp.Subs(sp.Derivative(F(u), u), u, h) for F, h in zip(block_functions(depth), inputs)]
    return (calc(sp.Derivative(named[-1](x), x), where=definitions,
                 title=f"{_words(depth)} blocks: the derivative is a product of factors $1 + F_l'$")
            .eq(sp.Mul(*reversed(factors), evaluate=False),
                by="chain rule through each block, last block first"))


def _words(depth: int) -> str:
    return {1: "One", 2: "Two", 3: "Three", 4: "Four"}.get(depth, str(depth))


def concrete_two_block_proof() -> Proof:
    """2-D, two blocks ``h_l = h_{l-1} + tanh(W_l h_{l-1})``: ``J = (I + D_2 W_2)(I + D_1 W_1)``.

    The outputs ``y_i`` and the pre-activations ``z_{l,i}`` are named with ``where=``, so the matrices
    show the structure and the kernel checks the substituted forms.
    """
    xs = (x1, x2)
    h0 = sp.ImmutableMatrix(xs)
    z1 = W1 * h0
    h1 = h0 + z1.applyfunc(sp.tanh)
    z2 = W2 * h1
    h2 = h1 + z2.applyfunc(sp.tanh)
    outputs = [sp.Function(f"y_{i}") for i in (1, 2)]
    pre = {(l, i): sp.Symbol(f"z_{{{l},{i}}}", real=True) for l in (1, 2) for i in (1, 2)}
    definitions: dict[sp.Basic, sp.Basic] = {y: sp.Lambda(xs, h2[i]) for i, y in enumerate(outputs)}
    definitions.update({pre[l, i]: z[i - 1] for l, z in ((1, z1), (2, z2)) for i in (1, 2)})
    pending = sp.ImmutableMatrix(2, 2, lambda i, j: sp.Derivative(outputs[i](*xs), xs[j]))
    eye = sp.ImmutableMatrix(sp.eye(2))

    def slope(l: int) -> sp.ImmutableMatrix:
        return sp.ImmutableMatrix(sp.diag(*[1 - sp.tanh(pre[l, i]) ** 2 for i in (1, 2)]))

    product = sp.MatMul(eye + slope(2) * W2, eye + slope(1) * W1, evaluate=False)
    return (calc(pending, where=definitions,
                 title=r"Two $\tanh$ blocks in $\mathbb{R}^2$: $J = (I + D_2 W_2)(I + D_1 W_1)$")
            .eq(product, by=r"one factor $I + D_l W_l$ per block, $D_l = \operatorname{diag}(1 - \tanh^2 z_l)$"))


def path_expansion_proof(depth: int) -> Proof:
    """``prod_l (1 + a_l) = sum over subsets S of prod_{l in S} a_l``: 2^L paths, one of them the identity."""
    a = sp.symbols(f"a_1:{depth + 1}", real=True)
    terms = [sp.Mul(*(a[i] for i in subset), evaluate=False) if subset else sp.Integer(1)
             for k in range(depth + 1) for subset in itertools.combinations(range(depth), k)]
    return (calc(sp.Mul(*[1 + ai for ai in a], evaluate=False),
                 title=f"{_words(depth)} blocks: {2 ** depth} paths, one of which is the identity")
            .eq(sp.Add(*terms, evaluate=False), by="expand: one term per subset of blocks whose branch is taken"))


def lower_bound_proof(depth: int) -> Proof:
    """If every ``a_l = F_l' >= -delta`` with ``0 <= delta < 1``, then ``prod (1 + a_l) >= (1 - delta)^L``."""
    a = sp.symbols(f"a_1:{depth + 1}", real=True)
    slack = sp.symbols(f"s_1:{depth + 1}", nonnegative=True)
    return (calc(sp.Mul(*[1 + ai for ai in a], evaluate=False), assume=[delta < 1],
                 where={ai: si - delta for ai, si in zip(a, slack)},
                 title=f"{_words(depth)} blocks: if every $a_l \\ge -\\delta$, the product is at least "
                       f"$(1 - \\delta)^{depth}$")
            .ge((1 - delta) ** depth,
                by=r"each factor $1 + a_l = 1 - \delta + s_l$ is at least $1 - \delta > 0$"))


def positive_bound_proof(depth: int) -> Proof:
    """``(1 - delta)^L > 0`` for ``0 <= delta < 1``: the lower bound keeps the gradient away from 0."""
    return (calc((1 - delta) ** depth, assume=[delta < 1],
                 title=f"The lower bound is positive: $(1 - \\delta)^{depth} > 0$")
            .gt(0, by=r"$0 < 1 - \delta$ because $\delta < 1$"))


def plain_chain_proof(depth: int) -> Proof:
    """Without the skip: if ``|a_l| <= delta`` then ``|prod a_l| <= delta^L``."""
    b = sp.symbols(f"b_1:{depth + 1}", nonnegative=True)  # b_l = |a_l|
    t = sp.symbols(f"t_1:{depth + 1}", positive=True)
    last = f"a_{depth}"
    return (calc(sp.Mul(*b, evaluate=False), assume=[ti <= 1 for ti in t],
                 where={bi: delta * ti for bi, ti in zip(b, t)},
                 title=f"{_words(depth)} plain layers: $|a_1 \\cdots {last}| = b_1 \\cdots b_{depth} "
                       f"\\le \\delta^{depth}$")
            .le(delta ** depth, by=r"each $|a_l| = b_l = \delta t_l$ with $0 < t_l \le 1$"))


def concrete_chain(depth: int) -> tuple[sp.Expr, sp.Expr]:
    """Scalar blocks ``h_l = h_{l-1} + w_l tanh(h_{l-1} + b_l)``: the output and the product formula."""
    h = x
    product = sp.Integer(1)
    for w, bias in BLOCK_WEIGHTS[:depth]:
        product = product * (1 + w * (1 - sp.tanh(h + bias) ** 2))
        h = h + w * sp.tanh(h + bias)
    return h, product


def numeric_agreement(depth: int) -> float:
    """Largest relative difference between the product formula and Richardson differences."""
    output, product = concrete_chain(depth)
    worst = 0.0
    for point in NUMERIC_POINTS:
        exact = float(product.xreplace({x: point}).evalf(30))
        numeric = float(derivative(output, float(point), method="richardson", wrt=x).value)
        worst = max(worst, abs(numeric - exact) / max(1.0, abs(exact)))
    return worst


def _depth_rows() -> tuple[tuple[object, ...], ...]:
    rows = []
    for depth in DEPTHS:
        output, product = concrete_chain(depth)
        concrete = calc(sp.Derivative(output, x)).eq(product)
        bound = Status.weakest([check(lower_bound_proof(depth)).status, check(positive_bound_proof(depth)).status])
        labels = [check(p).status.value for p in (product_proof(depth), path_expansion_proof(depth))]
        labels.append(bound.value)
        labels.append(check(plain_chain_proof(depth)).status.value)
        labels.append(check(concrete, budget=CONCRETE_BUDGET).status.value)
        rows.append((depth, *labels, agreement(numeric_agreement(depth))))
    return tuple(rows)


def _bound_rows() -> tuple[tuple[object, ...], ...]:
    rows = []
    for depth in TABLE_DEPTHS:
        residual = (1 - TABLE_DELTA) ** depth
        plain = sp.Float(TABLE_DELTA ** depth, 2)
        rows.append((depth, f"{float(residual):.4g}", plain))
    return tuple(rows)


def build() -> Document:
    return Document(
        name=NAME,
        title="Residual connections and the gradient",
        summary=("A residual block computes $h_l = h_{l-1} + F_l(h_{l-1})$. Its derivative is $1 + F_l'$, or "
                 "$I + J_{F_l}$ in several dimensions, so the derivative through $L$ blocks is a product of "
                 "such factors. Expanding the product gives one term for each of the $2^L$ paths through the "
                 "network, among them the identity path, whose term is $1$. Below: these identities checked, "
                 "and under a stated assumption on the branches a lower bound $(1 - \\delta)^L$ that a plain "
                 "chain of layers does not have."),
        blocks=(
            Section("One block"),
            Prose("The derivative of $x + F(x)$ is the derivative of the identity plus that of the branch. "
                  "This step, and the next one, are checked against SymPy's differentiation of undefined "
                  "functions, which applies the same linearity and chain rules: they confirm the shape of the "
                  "formula; the concrete networks further down are independent checks."),
            ProofBlock(single_block_proof()),
            Prose("For $F: \\mathbb{R}^n \\to \\mathbb{R}^n$ the Jacobian of $x \\mapsto x + F(x)$ is "
                  "$I + J_F$; here with $n = 2$:"),
            ProofBlock(jacobian_block_proof()),
            Section("A stack of blocks"),
            Prose("With $h_0 = x$ and $h_l = h_{l-1} + F_l(h_{l-1})$, the chain rule multiplies one factor per "
                  "block, evaluated at that block's input:"),
            Equation(r"\frac{\partial h_L}{\partial h_0} = \bigl(I + J_{F_L}(h_{L-1})\bigr)\,"
                     r"\bigl(I + J_{F_{L-1}}(h_{L-2})\bigr) \cdots \bigl(I + J_{F_1}(h_0)\bigr),"),
            Prose("the last block's factor first (matrices do not commute), and for the gradient of a loss "
                  "$\\mathcal{L}$ with respect to a hidden state,"),
            Equation(r"\frac{\partial \mathcal{L}}{\partial h_l} = \frac{\partial \mathcal{L}}{\partial h_L}\,"
                     r"\bigl(I + J_{F_L}(h_{L-1})\bigr) \cdots \bigl(I + J_{F_{l+1}}(h_l)\bigr)."),
            Prose(f"The scalar case with {SHOWN_DEPTH} blocks, where $h_l(x)$ names the output of block $l$:"),
            ProofBlock(product_proof(SHOWN_DEPTH)),
            Prose("A concrete network in $\\mathbb{R}^2$ with two blocks $h_l = h_{l-1} + \\tanh(W_l h_{l-1})$ "
                  "and fixed integer weights: the Jacobian is $(I + D_2 W_2)(I + D_1 W_1)$, where $D_l$ is the "
                  "diagonal matrix of $1 - \\tanh^2$ at block $l$'s pre-activations $z_{l,1}, z_{l,2}$ "
                  "($z_1 = W_1 x$, $z_2 = W_2 h_1$); $y_1, y_2$ are the two outputs $h_2$."),
            ProofBlock(concrete_two_block_proof()),
            Section("The identity path"),
            Prose("Write $a_l = F_l'(h_{l-1})$ for the branch slopes. Expanding the product gives one term for "
                  "each set of blocks whose branch the signal passes through; the empty set is the path that "
                  "skips every branch, and its term is $1$. The gradient at the input therefore contains the "
                  "gradient at the output unchanged, whatever the depth: "
                  "$\\partial \\mathcal{L}/\\partial h_l = \\partial \\mathcal{L}/\\partial h_L \\,(I + \\dots)$."),
            ProofBlock(path_expansion_proof(SHOWN_DEPTH)),
            Prose("The $1$ alone does not prevent vanishing: the other terms may cancel it (if $a_l = -1$ the "
                  "block's factor is $0$). The assumption that makes the statement true is that no branch "
                  "reverses the identity: $a_l \\ge -\\delta$ for some $0 \\le \\delta < 1$. Written as "
                  "$a_l = s_l - \\delta$ with $s_l \\ge 0$, the kernel proves that the product stays above "
                  "$(1 - \\delta)^L$, and that this bound is positive; with $\\delta = 0$ (branches with "
                  "non-negative slope) it stays above $1$."),
            ProofBlock(lower_bound_proof(SHOWN_DEPTH)),
            ProofBlock(positive_bound_proof(SHOWN_DEPTH)),
            Prose("A plain chain $h_l = F_l(h_{l-1})$ has the product $a_L \\cdots a_1$ instead, with no $1$ in it. "
                  "If every layer's slope is small, $|a_l| \\le \\delta$ (a sigmoid layer "
                  "with weights of size at most $1$ has $\\delta \\le 1/4$), the product is at most $\\delta^L$. Here $b_l = |a_l|$ is written as "
                  "$\\delta t_l$ with $0 < t_l \\le 1$ (for $a_l = 0$ the bound is trivial)."),
            ProofBlock(plain_chain_proof(SHOWN_DEPTH)),
            Prose(f"With branch slopes in $[-\\delta, \\delta]$ for $\\delta = {sp.latex(TABLE_DELTA)}$ the two "
                  "bounds part quickly: the residual network's derivative stays above $(1 - \\delta)^L$, while "
                  "the plain chain's is at most $\\delta^L$. The residual bound decays too, but far more slowly, "
                  "and with $\\delta = 0$ it is $1$ at every depth."),
            Table(columns=("$L$", "residual: lower bound", "plain chain: upper bound"),
                  rows=_bound_rows(),
                  caption=f"The residual lower bound $(1 - \\delta)^L$ and the plain upper bound $\\delta^L$ "
                          f"for $\\delta = {sp.latex(TABLE_DELTA)}$."),
            Section("Checked for depths 1 to 4"),
            Prose("Each statement above is checked by the kernel for every depth below; the claim for all $L$ "
                  "follows by induction on $L$ (multiply by one more factor), which is not itself "
                  "machine-checked. The last columns use concrete blocks "
                  "$h_l = h_{l-1} + w_l \\tanh(h_{l-1} + b_l)$ with fixed rational $w_l, b_l$: the kernel checks the product formula against "
                  "SymPy's derivative, and the formula is compared with central differences and Richardson "
                  "extrapolation at $x = -1.5, 0.25, 2$."),
            Table(columns=("$L$", "product formula", "paths", "residual lower bound",
                           "plain upper bound", "concrete tanh blocks", "max rel. error vs numeric"),
                  rows=_depth_rows(),
                  caption="Kernel verdicts for each depth $L$, produced when this document was built: the "
                          "product of the factors $1 + F_l'$, the $2^L$ paths, $(1 - \\delta)^L$ with its "
                          "positivity, $\\delta^L$, the concrete blocks."),
        ),
    )


__all__ = ["build", "forward", "single_block_proof", "jacobian_block_proof", "product_proof",
           "concrete_two_block_proof", "path_expansion_proof", "lower_bound_proof", "positive_bound_proof",
           "plain_chain_proof",
           "concrete_chain", "numeric_agreement", "DEPTHS"]
