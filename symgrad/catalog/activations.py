r"""Catalog entry ``activation-derivative-bounds``: sup |f'| of common activations, derived.

For each activation the derivative is computed by SymPy (piece by piece for
piecewise functions). The supremum of ``|f'|`` on each piece is the largest of
``|f'|`` at the critical points inside the piece (zeros of ``f''``) and the
one-sided limits at the piece's ends: a continuous function on an interval
takes values only up to these. Critical points come from ``sympy.solve`` when
it can, else from ``mpmath.findroot`` at 30 digits (residual below 1e-12).
The sup is attained when it is the value at a critical point or on a constant
piece, and not attained when only a limit reaches it. Every bound
``-S <= f'(x) <= S`` is then checked by the kernel on each piece.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import mpmath
import sympy as sp

from ..core.functions import sigmoid
from ..core.kernel import CheckOptions
from ..proofs.proof import check_relation
from ..proofs.documents import Document, Equation, ProofBlock, Prose, Section, Table
from ..proofs.proof import Proof, calc
from ..core.verdicts import Status

NAME = "activation-derivative-bounds"
x = sp.Symbol("x", real=True)
ALPHA = sp.Symbol("alpha", positive=True)  # leaky ReLU slope, 0 < alpha < 1
#: Kernel options for the table's bounds. Interval arithmetic decides them by counting boxes (about
#: a second each on an idle machine); the generous budget is only a safety net, so that a loaded
#: machine renders the same verdicts.
TABLE_CHECK = CheckOptions(budget=30.0, samples=40)
DIGITS = 30


@dataclass(frozen=True)
class Piece:
    """``f(x) = expr`` on the open interval ``(lo, hi)``."""

    expr: sp.Expr
    lo: sp.Expr
    hi: sp.Expr

    def __post_init__(self) -> None:
        for name in ("expr", "lo", "hi"):
            object.__setattr__(self, name, sp.sympify(getattr(self, name)))


@dataclass(frozen=True)
class Activation:
    """An activation, piecewise on open intervals; ``assume`` are side conditions on parameters."""

    name: str
    pieces: tuple[Piece, ...]
    hint: tuple[float, ...] = ()  # starting points for mpmath when SymPy cannot solve f'' = 0
    assume: tuple[sp.Basic, ...] = ()


@dataclass(frozen=True)
class Supremum:
    """``sup |f'|``, where it is attained (or ``None``), and how it was found."""

    activation: Activation
    derivative: sp.Expr
    value: sp.Expr
    attained_at: sp.Basic | str  # x = point (a SymPy Eq), a region in words, or "not attained"
    method: str  # "symbolic" or "numeric"
    verdict: Status
    evidence: str

    @property
    def numeric_value(self) -> float:
        return float(sp.N(self.value, DIGITS))


def _whole(expr: sp.Expr) -> tuple[Piece, ...]:
    return (Piece(expr, -sp.oo, sp.oo),)


ACTIVATIONS: tuple[Activation, ...] = (
    Activation("sigmoid", _whole(sigmoid(x))),
    Activation("tanh", _whole(sp.tanh(x))),
    Activation("ReLU", (Piece(sp.S.Zero, -sp.oo, 0), Piece(x, 0, sp.oo))),
    Activation("leaky ReLU (slope alpha, 0 < alpha < 1)", (Piece(ALPHA * x, -sp.oo, 0), Piece(x, 0, sp.oo)),
               assume=(ALPHA < 1,)),
    Activation("ELU (alpha = 1)", (Piece(sp.exp(x) - 1, -sp.oo, 0), Piece(x, 0, sp.oo))),
    Activation("softplus", _whole(sp.log(1 + sp.exp(x)))),
    Activation("SiLU / swish", _whole(x * sigmoid(x)), hint=(2.4, -2.4)),
    Activation("GELU (exact, erf)", _whole(x * (1 + sp.erf(x / sp.sqrt(2))) / 2)),
)


def derivative_of(activation: Activation) -> sp.Expr:
    """``f'`` (a Piecewise for piecewise activations; undefined at the break points)."""
    parts = [(sp.diff(p.expr, x), _inside(p)) for p in activation.pieces]
    if len(parts) == 1:
        return parts[0][0]
    return sp.Piecewise(*parts)


def _inside(piece: Piece) -> sp.Basic:
    conditions = []
    if piece.lo.is_finite:
        conditions.append(x > piece.lo)
    if piece.hi.is_finite:
        conditions.append(x < piece.hi)
    return sp.And(*conditions) if conditions else sp.true


def _critical_points(slope: sp.Expr, piece: Piece, hint: Sequence[float]) -> tuple[list[sp.Expr], bool]:
    """Zeros of ``slope'`` inside the piece, and whether SymPy found them all (else mpmath)."""
    curvature = sp.diff(slope, x)
    if curvature.free_symbols.isdisjoint({x}):
        return [], True  # constant slope: no interior extremum to find
    try:
        roots = sp.solve(curvature, x)
        exact = True
    except NotImplementedError:
        exact = False
        function = sp.lambdify(x, curvature, "mpmath")
        roots = []
        with mpmath.workdps(DIGITS):
            for start in hint:
                root = mpmath.findroot(function, start)
                if abs(function(root)) > mpmath.mpf("1e-12"):
                    continue
                roots.append(sp.Float(root, DIGITS))
    inside = [r for r in roots if r.is_real and bool(piece.lo < r) and bool(r < piece.hi)]
    return inside, exact


def _limit(slope: sp.Expr, point: sp.Expr, side: str) -> sp.Expr:
    if point.is_infinite:
        return sp.limit(slope.rewrite(sp.exp) if slope.has(sigmoid) else slope, x, point)
    return sp.limit(slope.rewrite(sp.exp) if slope.has(sigmoid) else slope, x, point, side)


def _larger(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether ``a > b``; parameters are decided with the activation's assumptions (0 < alpha < 1)."""
    diff = (a - b).subs(ALPHA, sp.Rational(1, 2)) if (a - b).has(ALPHA) else a - b
    return bool(sp.N(diff, DIGITS) > sp.Float(10) ** (-(DIGITS - 5)))


@functools.lru_cache(maxsize=None)
def supremum(activation: Activation) -> Supremum:
    """``sup |f'|`` from critical points and one-sided limits, then the kernel's verdict on the bound (cached)."""
    method = "symbolic"
    best: sp.Expr | None = None
    where: sp.Basic | str = ""
    for piece in activation.pieces:
        slope = sp.diff(piece.expr, x)
        points, exact = _critical_points(slope, piece, activation.hint)
        if not exact:
            method = "numeric"
        candidates: list[tuple[sp.Expr, sp.Basic | str]] = []
        if slope.free_symbols.isdisjoint({x}):
            region = ("every positive x" if piece.lo == 0 and piece.hi.is_infinite else
                      "every negative x" if piece.hi == 0 and piece.lo.is_infinite else "every x")
            candidates.append((sp.Abs(slope), region))
        for point in points:
            value = sp.Abs(slope.subs(x, point))
            value = sp.nsimplify(value) if not exact else sp.simplify(value)
            candidates.append((value if exact else sp.Float(sp.N(sp.Abs(slope.subs(x, point)), DIGITS), DIGITS),
                               sp.Eq(x, point if exact else sp.Float(_short(point), 13), evaluate=False)))
        for end, side in ((piece.lo, "+"), (piece.hi, "-")):
            candidates.append((sp.Abs(_limit(slope, end, side)), ""))  # a limit: not attained
        for value, at in candidates:
            if best is None or _larger(value, best) or (where == "" and at != "" and not _larger(best, value)):
                best, where = value, at
    assert best is not None
    verdict, evidence = _kernel_bound(activation, best)
    return Supremum(activation, derivative_of(activation), best, where if where != "" else "not attained (a limit)", method,
                    verdict, evidence)


def _short(point: sp.Expr) -> str:
    return f"{float(point):.12f}"


def _kernel_bound(activation: Activation, bound: sp.Expr) -> tuple[Status, str]:
    """The kernel's weakest verdict on ``-S <= f'(x) <= S`` over the pieces."""
    verdicts = []
    for piece in activation.pieces:
        slope = sp.diff(piece.expr, x)
        assume = list(activation.assume)
        if piece.lo.is_finite:
            assume.append(x > piece.lo)
        if piece.hi.is_finite:
            assume.append(x < piece.hi)
        verdicts.append(check_relation(slope, "<=", bound, assume, TABLE_CHECK))
        verdicts.append(check_relation(-bound, "<=", slope, assume, TABLE_CHECK))
    worst = Status.weakest(v.status for v in verdicts)
    detail = next(v for v in verdicts if v.status is worst)
    return worst, detail.evidence()


#: Short names for the tables; the parameters are stated in the text (leaky slope alpha, ELU scale 1, exact GELU).
SHORT_NAMES = {"leaky ReLU (slope alpha, 0 < alpha < 1)": "leaky ReLU", "ELU (alpha = 1)": "ELU",
               "SiLU / swish": "SiLU (swish)", "GELU (exact, erf)": "GELU"}


def _short_name(activation: Activation) -> str:
    return SHORT_NAMES.get(activation.name, activation.name)


def function_of(activation: Activation) -> sp.Expr:
    """``f`` itself (a Piecewise for piecewise activations, as given on open intervals)."""
    if len(activation.pieces) == 1:
        return activation.pieces[0].expr
    return sp.Piecewise(*[(p.expr, _inside(p)) for p in activation.pieces])


def derivative_rows(sups: Sequence[Supremum]) -> tuple[tuple[object, ...], ...]:
    """(name, f, f') per activation."""
    return tuple((_short_name(s.activation), function_of(s.activation), s.derivative) for s in sups)


def table_rows(sups: Sequence[Supremum]) -> tuple[tuple[object, ...], ...]:
    """(name, sup |f'|, its value, where it is attained, how it was found, the kernel's verdict)."""
    rows = []
    for s in sups:
        value = s.value if s.method == "symbolic" else f"{s.numeric_value:.12f}"
        rows.append((_short_name(s.activation), value, f"{s.numeric_value:.12f}", s.attained_at,
                     s.method, s.verdict.value))
    return tuple(rows)


def gelu_proofs() -> tuple[Proof, Proof]:
    """GELU: ``f''(x) = phi(x) (2 - x^2)``, so the critical points are ``+-sqrt 2``; the value there."""
    gelu = ACTIVATIONS[-1].pieces[0].expr
    phi = sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)
    second = (calc(sp.Derivative(gelu, (x, 2)), title="GELU: the second derivative")
              .eq(phi * (2 - x**2), by=r"differentiate twice; $\Phi' = \varphi$, $\varphi' = -x\,\varphi$"))
    value = (calc(sp.Subs(sp.Derivative(gelu, x), x, sp.sqrt(2)), title=r"GELU: the slope at $x = \sqrt{2}$")
             .eq((1 + sp.erf(1)) / 2 + sp.exp(-1) / sp.sqrt(sp.pi),
                 by=r"$\Phi(\sqrt{2}) + \sqrt{2}\,\varphi(\sqrt{2})$"))
    return second, value


def bound_proofs() -> tuple[Proof, ...]:
    """Kernel proofs of the symbolic bounds that hold on the whole line."""
    s = sigmoid(x)
    return (
        calc(sp.Derivative(s, x), title="sigmoid").eq(s * (1 - s), rule="sigmoid-derivative")
        .eq(sp.Rational(1, 4) - (s - sp.S.Half) ** 2, rule="complete-the-square")
        .le(sp.Rational(1, 4), rule="square-nonnegative"),
        calc(sp.Derivative(sp.tanh(x), x), title="tanh").eq(1 - sp.tanh(x) ** 2, by="derivative of tanh")
        .le(1, rule="square-nonnegative"),
        calc(sp.Derivative(sp.log(1 + sp.exp(x)), x),
             title=r"softplus: the slope is $\sigma(x) < 1$, never $1$")
        .eq(sigmoid(x), by=r"$\frac{d}{dx} \log(1 + e^x) = \frac{e^x}{1 + e^x} = \sigma(x)$")
        .lt(1, by=r"$0 < \sigma < 1$"),
        calc(sp.Limit(sp.Derivative(sp.log(1 + sp.exp(x)), x), x, sp.oo),
             title="softplus: the slope tends to $1$")
        .eq(1),
        calc(sp.Derivative(sp.exp(x) - 1, x), assume=[x < 0],
             title="ELU for $x < 0$: the slope $e^x$ is below $1$")
        .eq(sp.exp(x)).lt(1, by="$\\exp$ is increasing and $e^0 = 1$"),
    )


def build() -> Document:
    sups = [supremum(a) for a in ACTIVATIONS]
    second, value = gelu_proofs()
    by_name = {sup.activation.name: sup for sup in sups}
    gelu, silu = by_name["GELU (exact, erf)"], by_name["SiLU / swish"]
    gelu_left = abs(sp.N(gelu.derivative.subs(x, -sp.sqrt(2)), DIGITS))
    silu_at = silu.attained_at.rhs if isinstance(silu.attained_at, sp.Eq) else sp.nan
    silu_left = sp.N(silu.derivative.subs(x, -silu_at), DIGITS)
    return Document(
        name=NAME,
        title="How steep can an activation be? The largest slope of common activations",
        summary=("Backpropagation multiplies the gradient by $f'(z)$ once per layer. The table gives, for "
                 "eight activations, the derivative and the largest value of $|f'|$ with where it is reached. "
                 "The sigmoid's $1/4$ makes gradients shrink geometrically with depth; ReLU's slope is exactly "
                 "$1$ wherever the unit is active, which is why it helps."),
        blocks=(
            Section("Method"),
            Prose("SymPy differentiates each activation (piece by piece for the piecewise ones; at the break "
                  "point $x = 0$ the derivative of ReLU and leaky ReLU does not exist). On each piece, "
                  "$\\sup |f'|$ is the largest of $|f'|$ at the zeros of $f''$ inside the piece and the "
                  "one-sided limits of $|f'|$ at the ends of the piece. The zeros come from SymPy's solve "
                  "(symbolic) or, when it cannot solve $f'' = 0$, from mpmath's findroot at 30 digits with a "
                  "residual below $10^{-12}$ (numeric). The sup is attained at a critical point or on a "
                  "constant piece; if only a limit reaches it, it is not attained. The last column is the "
                  "kernel's verdict on $-S \\le f'(x) \\le S$ on every piece (proved, or numeric when only "
                  "sampling found no counterexample)."),
            Table(columns=("activation", "function", "derivative"), rows=derivative_rows(sups),
                  caption="The activations $f$ and their derivatives $f'$ (leaky ReLU with slope "
                          "$0 < \\alpha < 1$, ELU with scale $1$, GELU in its exact form $x\\,\\Phi(x)$ with "
                          "$\\operatorname{erf}$); the piecewise ones have no derivative at $x = 0$."),
            Table(columns=("activation", "supremum", "value", "attained at", "found", "kernel"),
                  rows=table_rows(sups),
                  caption="$\\sup |f'|$ per activation, where it is attained, how it was found "
                          "(symbolic or numeric) and the kernel's verdict on $-S \\le f'(x) \\le S$."),
            Section("Proofs of the symbolic bounds"),
            *(ProofBlock(p) for p in bound_proofs()),
            Section("GELU"),
            Prose("For $f(x) = x\\,\\Phi(x)$, $f'' = \\varphi(x)(2 - x^2)$ vanishes at $x = \\pm\\sqrt{2}$. "
                  "The slope tends to $1$ as $x \\to \\infty$ and to $0$ as $x \\to -\\infty$, and "
                  f"$|f'(-\\sqrt 2)| \\approx {float(gelu_left):.3f}$, so the sup is the value at $\\sqrt 2$:"),
            ProofBlock(second),
            ProofBlock(value),
            Equation(r"\sup_x |\mathrm{GELU}'(x)| = \frac{1 + \operatorname{erf}(1)}{2} + \frac{1}{e\sqrt{\pi}}"
                     rf" \approx {gelu.numeric_value:.4f}"),
            Section("SiLU"),
            Prose("For $f(x) = x\\,\\sigma(x)$ the equation $f''(x) = 0$ is transcendental; its roots "
                  f"$x \\approx \\pm {float(silu_at):.4f}$ are found numerically, and "
                  f"$\\sup|f'| \\approx {silu.numeric_value:.4f}$ at $x \\approx {float(silu_at):.4f}$ "
                  f"(at ${-float(silu_at):.4f}$, $f' \\approx {float(silu_left):.4f}$). "
                  "The bound itself is proved: the kernel shows $-S \\le f'(x) \\le S$ for the 30-digit "
                  "value $S$ in the table by rigorous interval arithmetic, which isolates the critical point "
                  "and bounds $f'$ near it from the sign of $f''$."),
        ),
    )


__all__ = ["ACTIVATIONS", "Activation", "Piece", "Supremum", "supremum", "derivative_of", "build"]
