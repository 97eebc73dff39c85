"""Step-by-step differentiation (`symgrad.derive`) and its rule registry.

Oracles, all independent of symgrad's rules: `sympy.diff` (via `simplify` of
the difference), numerical differentiation (`symgrad.numeric.derivative`,
mpmath at 30 digits) and PyTorch autograd when torch is importable. The
kernel's verdicts are checked too, including sub-proofs, and a wrong rule
must be refuted by it.
"""

from __future__ import annotations

import math
import re
import time

import mpmath
import pytest
import sympy as sp

import symgrad
from symgrad import derive, numeric, register_derivative
from symgrad.derivation.derive import Gradient
from symgrad.derivation.diffrules import (
    CHAIN_RULE,
    FALLBACK_RULE,
    HIGHER_ORDER_RULE,
    DiffRegistry,
    DiffRule,
    registry,
)
from symgrad.core.errors import InputError, UnknownRuleError, UnsupportedError
from symgrad.core.functions import sigmoid
from symgrad.proofs.proof import Proof, Report
from symgrad.core.verdicts import Status
from symgrad.interactive import render

# Its module-scoped fixtures are built once: the whole module runs on one xdist worker.
pytestmark = pytest.mark.xdist_group("derive")

try:
    from . import tooling
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    import tooling

x, w, b, y, z1, z2, z3 = sp.symbols("x w b y z1 z2 z3", real=True)
p = sp.Symbol("p", positive=True)
LSE = sp.exp(z1) + sp.exp(z2) + sp.exp(z3)

#: (id, expression, variable): derivations that must be proved and equal sympy.diff.
CASES = [
    ("square", x**2, x),
    ("polynomial", 3 * x**3 - 2 * x + 7, x),
    ("inverse-square", x**-2, x),
    ("sqrt", sp.sqrt(p), p),
    ("three-halves", p ** sp.Rational(3, 2), p),
    ("inverse-sqrt", 1 / sp.sqrt(1 + x**2), x),
    ("x-exp", x * sp.exp(x), x),
    ("triple-product", x**2 * sp.sin(x) * sp.cos(x), x),
    ("rational", x / (1 + x**2), x),
    ("sinc", sp.sin(x) / x, x),
    ("gaussian", sp.exp(-x**2 / 2), x),
    ("log", sp.log(p), p),
    ("log-quadratic", sp.log(1 + x**2), x),
    ("sigmoid", sigmoid(x), x),
    ("sigmoid-affine-x", sigmoid(w * x + b), x),
    ("sigmoid-affine-w", sigmoid(w * x + b), w),
    ("tanh-affine", sp.tanh(w * x + b), w),
    ("softplus", sp.log(1 + sp.exp(x)), x),
    ("logistic-loss", sp.log(1 + sp.exp(-y * (w * x + b))), w),
    ("log-sum-exp", sp.log(LSE), z1),
    ("softmax-ce-own-logit", -sp.log(sp.exp(z1) / LSE), z1),
    ("softmax-ce-other-logit", -sp.log(sp.exp(z1) / LSE), z2),
    ("relu-affine", sp.Max(0, w * x + b), w),
    ("nested-chain", sp.sin(sp.cos(sp.exp(x))), x),
    ("sigmoid-of-tanh-squared", sigmoid(sp.tanh(w * x)) ** 2, w),
    ("squared-error", (w * x + b - y) ** 2 / 2, w),
    ("exp-base-2", 2**x, x),
    ("p-to-the-p", p**p, p),
    ("atan", sp.atan(x**2), x),
    ("abs", sp.Abs(x), x),
    ("swish", x * sigmoid(x), x),
    ("gelu", x * (1 + sp.erf(x / sp.sqrt(2))) / 2, x),
    ("tan", sp.tan(x), x),
    ("cosh", sp.cosh(2 * x), x),
    ("asin", sp.asin(x / 2), x),
    ("bessel-fallback", x * sp.besselj(0, x), x),
]
IDS = [c[0] for c in CASES]
#: Values for the symbols other than the variable, for numerical oracles (exact rationals).
FIXED = {x: sp.Rational(3, 5), w: sp.Rational(-7, 10), b: sp.Rational(1, 4), y: sp.Integer(-1),
         z1: sp.Rational(1, 3), z2: sp.Rational(-1, 2), z3: sp.Rational(6, 5), p: sp.Rational(7, 4)}
POINTS = (sp.Rational(3, 10), sp.Rational(-13, 10))


def steps_of(proof: Proof):
    """Every step of a proof and of its sub-proofs, depth first."""
    for step in proof.steps:
        yield step
        for sub in step.details:
            yield from steps_of(sub)


def verdicts_of(report: Report):
    for verdict in report.steps:
        yield verdict
        for sub in verdict.details:
            yield from verdicts_of(sub)


def rules_used(proof: Proof) -> set[str]:
    return {s.by.rule for s in steps_of(proof)}


@pytest.fixture(scope="module")
def derived() -> dict[str, tuple[Proof, Report, float]]:
    """Each case derived and checked once; value: (proof, report, seconds to derive + check)."""
    out = {}
    for name, expr, var in CASES:
        start = time.perf_counter()
        proof = derive(expr, var)
        report = proof.check()
        out[name] = (proof, report, time.perf_counter() - start)
    return out


# ----------------------------------------------------------------- the corpus


@pytest.mark.parametrize("name,expr,var", CASES, ids=IDS)
def test_every_step_is_proved_by_the_kernel(derived, name, expr, var):
    proof, report, _ = derived[name]
    assert proof.start == sp.Derivative(expr, var)
    statuses = [v.status for v in verdicts_of(report)]
    assert statuses and all(s is Status.PROVED for s in statuses), report
    assert report.ok and report.status is Status.PROVED
    assert report.conclusion == sp.Eq(proof.start, proof.end, evaluate=False)


@pytest.mark.parametrize("name,expr,var", CASES, ids=IDS)
def test_result_equals_sympy_diff(derived, name, expr, var):
    proof, _, _ = derived[name]
    assert not proof.end.has(sp.Derivative)
    assert sp.simplify(proof.end - sp.diff(expr, var)) == 0
    # The kernel proves it too, as a relation of its own.
    verdict = symgrad.check_relation(proof.end, "=", sp.diff(expr, var))
    assert verdict.status is Status.PROVED, verdict.explain()


@pytest.mark.parametrize("name,expr,var", [c for c in CASES if c[0] not in ("relu-affine", "abs")],
                         ids=[i for i in IDS if i not in ("relu-affine", "abs")])
def test_result_matches_numerical_differentiation(derived, name, expr, var):
    proof, _, _ = derived[name]
    others = {s: v for s, v in FIXED.items() if s != var}
    f, d = expr.xreplace(others), proof.end.xreplace(others)
    points = (sp.Rational(7, 5), sp.Rational(3, 10)) if var == p else POINTS
    for point in points:
        numerical = numeric.derivative(f, point, "mpmath", dps=30, wrt=var)
        exact = d.xreplace({var: point}).evalf(40)
        assert abs(mpmath.mpf(numerical.value) - mpmath.mpf(sp.Float(exact, 40))) < 1e-20, (name, point)


def test_kinks_are_checked_away_from_the_kink(derived):
    """ReLU and |x| are checked numerically on both sides of their kink."""
    relu, _, _ = derived["relu-affine"]
    for wv in (sp.Rational(-3, 2), sp.Rational(2, 3)):  # b + w*x with x = 3/5, b = 1/4: both signs
        at = {x: sp.Rational(3, 5), b: sp.Rational(1, 4), w: wv}
        h = sp.Rational(1, 10**12)
        f = sp.Max(0, w * x + b)
        quotient = (f.xreplace({**at, w: wv + h}) - f.xreplace({**at, w: wv - h})) / (2 * h)
        assert relu.end.xreplace(at) == quotient
    absolute, _, _ = derived["abs"]
    assert [absolute.end.xreplace({x: v}) for v in (-2, 3)] == [-1, 1]


def test_derivations_are_fast(derived):
    """Deriving and checking each case takes well under the kernel's budget."""
    slow = {name: round(t, 2) for name, (_, _, t) in derived.items() if t > 8}
    assert not slow, slow


# ----------------------------------------------------------------- rules named where they apply


RULE_CASES = [
    # (expression, variable, rule of step 1, rhs of step 1)
    (w**2 + 1, x, "constant-rule", sp.S.Zero),
    (x, x, "variable-rule", sp.S.One),
    (x**2 + sp.sin(x) + 5, x, "sum-rule", sp.Derivative(x**2, x) + sp.Derivative(sp.sin(x), x)),
    (3 * sp.sin(x), x, "constant-multiple-rule", 3 * sp.Derivative(sp.sin(x), x)),
    (x * sp.exp(x), x, "product-rule", sp.Derivative(x, x) * sp.exp(x) + x * sp.Derivative(sp.exp(x), x)),
    (sp.sin(x) / (1 + x**2), x, "quotient-rule",
     (sp.Derivative(sp.sin(x), x) * (1 + x**2) - sp.sin(x) * sp.Derivative(1 + x**2, x)) / (1 + x**2) ** 2),
    (x**-2, x, "power-rule", -2 * x**-3),
    (sp.sqrt(p), p, "power-rule", 1 / (2 * sp.sqrt(p))),
    (p ** sp.Rational(3, 2), p, "power-rule", sp.Rational(3, 2) * sp.sqrt(p)),
    (2**x, x, "exponential-rule", 2**x * sp.log(2)),
    (p**p, p, "general-power-rule", p**p * (sp.Derivative(p, p) * sp.log(p) + p * sp.Derivative(p, p) / p)),
    (sp.exp(x), x, "exp-derivative", sp.exp(x)),
    (sp.log(x), x, "log-derivative", 1 / x),
    (sp.sin(x), x, "sin-derivative", sp.cos(x)),
    (sp.cos(x), x, "cos-derivative", -sp.sin(x)),
    (sp.tan(x), x, "tan-derivative", 1 + sp.tan(x) ** 2),
    (sp.sinh(x), x, "sinh-derivative", sp.cosh(x)),
    (sp.cosh(x), x, "cosh-derivative", sp.sinh(x)),
    (sp.tanh(x), x, "tanh-derivative", 1 - sp.tanh(x) ** 2),
    (sp.atan(x), x, "atan-derivative", 1 / (1 + x**2)),
    (sp.asin(x), x, "asin-derivative", 1 / sp.sqrt(1 - x**2)),
    (sp.acos(x), x, "acos-derivative", -1 / sp.sqrt(1 - x**2)),
    (sp.erf(x), x, "erf-derivative", 2 * sp.exp(-x**2) / sp.sqrt(sp.pi)),
    (sigmoid(x), x, "sigmoid-derivative", sigmoid(x) * (1 - sigmoid(x))),
    (sp.Max(0, x), x, "relu-derivative", sp.Heaviside(x)),
    (sp.Abs(x), x, "abs-derivative", sp.sign(x)),
    (sp.exp(x**2), x, CHAIN_RULE, 2 * x * sp.exp(x**2)),
    (sp.besselj(0, x), x, FALLBACK_RULE, -sp.besselj(1, x)),
]


@pytest.mark.parametrize("expr,var,rule,rhs", RULE_CASES, ids=[f"{c[2]}:{c[0]}" for c in RULE_CASES])
def test_each_rule_is_named_on_the_step_where_it_applies(expr, var, rule, rhs):
    proof = derive(expr, var, simplify=False)
    first = proof.steps[0]
    assert first.by.rule == rule
    assert first.by.rule in symgrad.rules  # citable with by=/rule=
    assert sp.simplify(first.expr - rhs) == 0 and first.expr.atoms(sp.Derivative) == rhs.atoms(sp.Derivative)
    report = proof.check()
    assert report.ok, report


def test_every_builtin_rule_is_exercised():
    used = {rule for _, _, rule, _ in RULE_CASES} | {"undefined-function"}
    builtins = set(DiffRegistry.with_builtins().names())
    assert builtins <= used, builtins - used


def test_sum_rule_says_which_constant_terms_drop():
    step = derive(w * x + b, x).steps[0]
    assert step.by.rule == "sum-rule" and "constant term b has derivative 0" in step.by.text
    assert step.expr == sp.Derivative(w * x, x)


def test_power_rule_states_the_exponent_and_sqrt():
    assert "n = -2" in derive(x**-2, x).steps[0].by.text
    assert "√u = u^(1/2)" in derive(sp.sqrt(p), p).steps[0].by.text


def test_relu_step_states_the_convention_at_zero():
    text = derive(sp.Max(0, x), x).steps[0].by.text
    assert "H(u)" in text and "not differentiable at u = 0" in text and "H(0) = 1/2" in text
    assert sp.Heaviside(0) == sp.S.Half  # the convention the text states


def test_variable_names_appear_in_justifications():
    proof = derive(sp.exp(3 * w), w)
    assert "du/dw" in proof.steps[0].by.text
    assert [s.by.text for s in steps_of(proof)][-1] == "d/dw w = 1"


# ----------------------------------------------------------------- chain rule: inner function and sub-proof


def test_chain_rule_names_the_inner_function_and_carries_its_derivation():
    proof = derive(sigmoid(w * x + b), x)
    (step,) = proof.steps
    assert step.by.rule == CHAIN_RULE
    assert "u = b + w*x" in step.by.text
    assert "sigmoid-derivative: σ'(u) = σ(u)·(1 − σ(u))" in step.by.text
    (inner,) = step.details
    assert inner.start == sp.Derivative(w * x + b, x) and inner.end == w
    assert [s.by.rule for s in inner.steps] == ["sum-rule", "constant-multiple-rule", "variable-rule"]
    assert step.expr == w * sigmoid(w * x + b) * (1 - sigmoid(w * x + b))


def test_sub_proofs_nest_and_are_checked():
    proof = derive(sp.log(1 + sp.exp(-y * (w * x + b))), w)
    report = proof.check()
    outer = report.steps[0]
    assert outer.details and outer.details[0].steps[1].details  # two levels of sub-proofs
    inner_most = outer.details[0].steps[1].details[0]
    assert inner_most.proof.start == sp.Derivative(-y * (w * x + b), w)
    assert inner_most.proof.end == -x * y and inner_most.ok


def test_each_step_rewrites_one_pending_derivative():
    proof = derive(x**2 * sp.sin(x) + sp.exp(x) / x, x, simplify=False)
    previous = proof.start
    for step in proof.steps:
        gone = previous.atoms(sp.Derivative) - step.expr.atoms(sp.Derivative)
        assert len(gone) == 1, (previous, step.expr)
        previous = step.expr
    assert not proof.end.has(sp.Derivative)


# ----------------------------------------------------------------- higher order and gradients


def test_second_derivative_rests_on_the_first():
    proof = derive(sigmoid(x), x, n=2)
    assert proof.start == sp.Derivative(sigmoid(x), (x, 2))
    first = proof.steps[0]
    assert first.by.rule == HIGHER_ORDER_RULE
    (below,) = first.details
    assert below.start == sp.Derivative(sigmoid(x), x)
    assert first.expr == sp.Derivative(below.end, x)
    assert sp.simplify(proof.end - sp.diff(sigmoid(x), x, 2)) == 0
    assert proof.check().ok


def test_third_derivative():
    proof = derive(x**5 + sp.sin(x), x, n=3)
    assert sp.simplify(proof.end - (60 * x**2 - sp.cos(x))) == 0
    assert proof.steps[0].details[0].start == sp.Derivative(x**5 + sp.sin(x), (x, 2))
    assert proof.check().ok


def test_gradient_gives_one_derivation_per_variable():
    loss = sp.log(1 + sp.exp(-y * (w * x + b)))
    grad = derive(loss, [w, b])
    assert isinstance(grad, Gradient) and len(grad) == 2 and grad.variables == (w, b)
    assert grad[w] is grad[0] and grad[b] is grad[1]
    for proof, var in zip(grad, (w, b)):
        assert proof.start == sp.Derivative(loss, var)
        assert sp.simplify(proof.end - sp.diff(loss, var)) == 0
    assert all(r.ok for r in grad.check())
    assert grad.components == (grad[0].end, grad[1].end)
    text = repr(grad)
    assert text.startswith("Gradient of log(1 + exp(-y*(b + w*x))) with respect to w, b (2 derivations):")
    assert "  [w] -x*y/(exp(y*(b + w*x)) + 1)" in text
    with pytest.raises(InputError, match="not one of"):
        grad[x]
    markdown = render(grad.document(), "md")
    assert "## With respect to w" in markdown and "## With respect to b" in markdown


def test_gradient_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    loss = sp.log(1 + sp.exp(-y * (w * x + b)))
    grad = derive(loss, [w, b])
    values = {x: 0.6, y: -1.0, w: -0.7, b: 0.25}
    tw = torch.tensor(values[w], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(values[b], dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.softplus(-values[y] * (tw * values[x] + tb))
    out.backward()
    for proof, tensor in zip(grad, (tw, tb)):
        assert math.isclose(float(proof.end.subs(values)), tensor.grad.item(), rel_tol=1e-12)


@pytest.mark.parametrize("case", ["sigmoid-affine-w", "tanh-affine", "softmax-ce-own-logit", "softplus",
                                  "relu-affine"])
def test_deep_learning_derivatives_match_torch_autograd(derived, case):
    torch = pytest.importorskip("torch")
    proof, _, _ = derived[case]
    v = {x: 0.6, w: 0.7 if case == "relu-affine" else -0.7, b: 0.25, z1: 0.3, z2: -0.5, z3: 1.2}
    t = {k: torch.tensor(val, dtype=torch.float64, requires_grad=True) for k, val in v.items()}
    functions = {
        "sigmoid-affine-w": lambda: torch.sigmoid(t[w] * t[x] + t[b]),
        "tanh-affine": lambda: torch.tanh(t[w] * t[x] + t[b]),
        "softmax-ce-own-logit": lambda: torch.nn.functional.cross_entropy(
            torch.stack([t[z1], t[z2], t[z3]]).unsqueeze(0), torch.tensor([0])),
        "softplus": lambda: torch.nn.functional.softplus(t[x]),
        "relu-affine": lambda: torch.relu(t[w] * t[x] + t[b]),
    }
    var = {"sigmoid-affine-w": w, "tanh-affine": w, "softmax-ce-own-logit": z1, "softplus": x, "relu-affine": w}[case]
    functions[case]().backward()
    assert math.isclose(float(proof.end.subs(v)), t[var].grad.item(), rel_tol=1e-12, abs_tol=1e-15)


def test_two_layer_network_gradient_matches_torch_autograd():
    """Backpropagation through tanh hidden units and a sigmoid output, one derivation per weight."""
    x1, x2, w1, w2, w3, w4, v1, v2, c = sp.symbols("x1 x2 w1 w2 w3 w4 v1 v2 c", real=True)
    hidden = (sp.tanh(w1 * x1 + w2 * x2), sp.tanh(w3 * x1 + w4 * x2))
    loss = -sp.log(sigmoid(v1 * hidden[0] + v2 * hidden[1] + c))
    grad = derive(loss, [w1, v1, c])
    assert all(r.ok for r in grad.check())
    values = {x1: 0.5, x2: -1.5, w1: 0.3, w2: -0.8, w3: 1.1, w4: 0.2, v1: -0.6, v2: 0.9, c: 0.1}
    exact = {k: sp.Rational(str(v)) for k, v in values.items()}
    for proof, var in zip(grad, grad.variables):  # sympy.diff, evaluated at 40 digits
        assert abs((proof.end - sp.diff(loss, var)).xreplace(exact).evalf(40)) < 1e-35
    torch = pytest.importorskip("torch")
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    h = (torch.tanh(t[w1] * t[x1] + t[w2] * t[x2]), torch.tanh(t[w3] * t[x1] + t[w4] * t[x2]))
    (-torch.log(torch.sigmoid(t[v1] * h[0] + t[v2] * h[1] + t[c]))).backward()
    for proof, var in zip(grad, grad.variables):
        assert math.isclose(float(proof.end.subs(values)), t[var].grad.item(), rel_tol=1e-12)


def test_final_step_tidies_the_result_and_names_the_method():
    proof = derive(sp.log(1 + sp.exp(-y * (w * x + b))), w)
    last = proof.steps[-1]
    assert last.by.rule == "algebra" and last.by.text.startswith("simplify the result (")
    assert sp.count_ops(last.expr) < sp.count_ops(proof.steps[-2].expr)
    raw = derive(sp.log(1 + sp.exp(-y * (w * x + b))), w, simplify=False)
    assert raw.steps == proof.steps[:-1]
    assert derive(x**2, x).steps[-1].by.rule == "power-rule"  # nothing to tidy: no extra step


# ----------------------------------------------------------------- user rules, wrong rules, fallbacks


class softsign(sp.Function):  # noqa: N801 - SymPy functions are lower-case
    """softsign(u) = u / (1 + |u|); SymPy's own derivative (fdiff) is what the kernel checks against."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return 1 / (1 + sp.Abs(self.args[0])) ** 2

    def _eval_evalf(self, prec: int) -> sp.Expr:
        u = self.args[0]
        return (u / (1 + sp.Abs(u)))._eval_evalf(prec)


def test_user_registered_rule_is_used_and_proved():
    rule = register_derivative(softsign, lambda u: 1 / (1 + sp.Abs(u)) ** 2,
                               statement=r"\operatorname{softsign}'(u) = \frac{1}{(1 + |u|)^{2}}",
                               replace=True)
    assert rule.name == "softsign-derivative" and "softsign-derivative" in registry
    assert symgrad.rules.get("softsign-derivative").kind == "calculus"
    direct = derive(softsign(x), x)
    assert direct.steps[0].by.rule == "softsign-derivative"
    chained = derive(softsign(w * x + b), w)
    step = chained.steps[0]
    assert step.by.rule == CHAIN_RULE and "softsign-derivative" in step.by.text
    assert chained.check().ok and direct.check().ok
    assert sp.simplify(chained.end - sp.diff(softsign(w * x + b), w)) == 0


def test_wrong_user_rule_is_refuted_by_the_kernel():
    """The kernel does not trust rules: a wrong derivative gives a refuted step."""
    rules = registry.copy()
    rules.register_derivative(softsign, lambda u: 1 / (1 + sp.Abs(u)), name="softsign-derivative-wrong")
    assert "softsign-derivative-wrong" not in registry  # the copy is independent
    proof = derive(softsign(2 * x), x, rules=rules)
    report = proof.check()
    assert report.status is Status.REFUTED and not report.ok
    verdict = report.steps[0]
    assert verdict.status is Status.REFUTED and verdict.counterexample is not None
    assert "softsign-derivative-wrong" in verdict.by.text
    assert "step 1 is refuted" in repr(report)


def test_wrong_structural_rule_is_refuted_by_the_kernel():
    wrong = DiffRule("product-of-derivatives", lambda f, v: isinstance(f, sp.Mul) and f.has(v),
                     r"(fg)' = f'g'", lambda f, v: sp.Mul(*[sp.Derivative(a, v) for a in f.args]),
                     law="(f·g)' = f'·g'", order=3)
    rules = registry.copy()
    rules.register(wrong)
    report = derive(x * sp.sin(x), x, rules=rules).check()
    assert report.steps[0].by.rule == "product-of-derivatives"
    assert report.steps[0].status is Status.REFUTED
    assert [v.status for v in report.steps[1:]] == [Status.PROVED] * (len(report.steps) - 1)


def test_wrong_rule_in_a_sub_proof_refutes_the_derivation():
    rules = registry.copy()
    rules.register(DiffRule("variable-is-two", lambda f, v: f == v, r"\frac{d}{dx} x = 2",
                            lambda f, v: sp.Integer(2), law="d/dx x = 2", order=-1))
    report = derive(sp.exp(3 * x), x, rules=rules).check()
    assert report.steps[0].status is Status.REFUTED or report.steps[0].details[0].status is Status.REFUTED
    assert report.steps[0].details[0].status is Status.REFUTED
    assert report.status is Status.REFUTED and not report.ok
    assert "(in a sub-proof)" in repr(report) or "step 1 is refuted" in repr(report)


@pytest.mark.parametrize("expr,name", [(sp.besselj(0, x), "besselj"), (sp.gamma(x), "gamma")])
def test_unsupported_function_falls_back_to_a_labelled_sympy_step(expr, name):
    proof = derive(expr, x)
    step = proof.steps[0]
    assert step.by.rule == FALLBACK_RULE
    assert "SymPy's diff" in step.by.text and name in step.by.text
    assert "SymPy's diff" in str(step.by) and f"[{FALLBACK_RULE}]" in str(step.by)
    assert sp.simplify(proof.end - sp.diff(expr, x)) == 0 and proof.check().ok


def test_fallback_inside_a_chain():
    proof = derive(sp.gamma(x**2 + 1), x)
    assert FALLBACK_RULE in rules_used(proof)
    assert sp.simplify(proof.end - sp.diff(sp.gamma(x**2 + 1), x)) == 0 and proof.check().ok


def test_function_nobody_can_differentiate_is_an_unsupported_error():
    class opaque(sp.Function):  # noqa: N801
        nargs = 1

    with pytest.raises(UnsupportedError, match="register_derivative"):
        derive(opaque(x), x)


def test_undefined_functions_keep_their_derivative_symbolic():
    f = sp.Function("f")
    proof = derive(x * f(x**2), x)
    assert "undefined-function" in proof.steps[1].by.text
    assert sp.simplify((proof.end - sp.diff(x * f(x**2), x)).doit()) == 0
    assert proof.check().ok
    assert derive(f(x), x).steps == ()  # d/dx f(x) is already SymPy's f'(x)


def test_registry_is_data_and_misuse_is_reported():
    assert isinstance(registry, DiffRegistry) and len(registry) >= 25
    assert registry.get("product-rule").statement_latex == r"(f g)' = f' g + f g'"
    assert "product-rule" in repr(registry)
    with pytest.raises(UnknownRuleError):
        registry.get("no-such-rule")
    with pytest.raises(InputError, match="already registered"):
        registry.copy().register(registry.get("sum-rule"))
    with pytest.raises(InputError, match="SymPy Function class"):
        register_derivative(sp.sin(x), lambda u: u)
    with pytest.raises(InputError, match="must return a SymPy expression"):
        register_derivative(softsign, lambda u: "1/(1+|u|)^2")
    with pytest.raises(InputError, match="already the algebra rule"):
        registry.copy().register_derivative(softsign, lambda u: u, name="expand")
    bad = registry.copy()
    bad.register(DiffRule("returns-text", lambda f, v: f == v, "x", lambda f, v: "1", order=-1))
    with pytest.raises(InputError, match="returns-text"):
        derive(x, x, rules=bad)
    broken = registry.copy()
    broken.register(DiffRule("raises", lambda f, v: f == v, "x", lambda f, v: 1 / 0, order=-1))
    with pytest.raises(InputError, match="'raises' failed to compute the result for x: division by zero"):
        derive(x, x, rules=broken)
    idle = registry.copy()
    idle.register(DiffRule("idle", lambda f, v: f == v, "x", lambda f, v: sp.Derivative(v, v), order=-1))
    with pytest.raises(InputError, match="loop forever"):
        derive(x, x, rules=idle)


@pytest.mark.parametrize("call,match", [
    (lambda: derive("x**2", x), "string"),
    (lambda: derive(x**2, "x"), "sympy.Symbol"),
    (lambda: derive(x**2, x, n=0), "positive integer"),
    (lambda: derive(x**2, x, n=True), "positive integer"),
    (lambda: derive(x**2, [x, x]), "repeat"),
    (lambda: derive(x**2, []), "empty"),
    (lambda: derive(x**2, [x, 2]), "variable 2"),
    (lambda: derive(sp.Derivative(x**3, x), x), "already contains a Derivative"),
    (lambda: derive(x**2, x, rules={}), "DiffRegistry"),
    (lambda: derive(sp.Eq(x, 1), x), "boolean|scalar"),
])
def test_misuse_raises_input_errors(call, match):
    with pytest.raises(InputError, match=match):
        call()


# ----------------------------------------------------------------- display and rendering


def test_repr_shows_the_step_tree():
    proof = derive(sigmoid(w * x + b), x)
    text = repr(proof)
    lines = text.splitlines()
    assert lines[0] == "Proof (1 step):"
    assert lines[1] == "    Derivative(sigmoid(b + w*x), x)"
    assert lines[2].startswith("  = w*(1 - sigmoid(b + w*x))*sigmoid(b + w*x)    by chain rule with u = b + w*x")
    assert lines[3] == "      ↳ sub-proof: Derivative(b + w*x, x) = w"
    assert lines[4] == "            Derivative(b + w*x, x)"
    assert re.match(r"          = Derivative\(w\*x, x\) +by .*\[sum-rule\]$", lines[5])
    report_lines = repr(proof.check()).splitlines()
    assert report_lines[0].startswith("Report (proved): ")
    assert "      ↳ sub-proof (proved): Derivative(b + w*x, x) = w" in report_lines
    assert any(line.startswith("              step 1 proved") for line in report_lines)


def test_markdown_renders_sub_proofs_as_quoted_derivations():
    md = render(derive(sigmoid(w * x + b), x), "md")
    assert "> *Sub-proof for step 1:* $\\frac{\\partial}{\\partial x} \\left(b + w x\\right)$" in md
    assert "> | 1.1 | (f + g)' = f' + g'; the constant term b has derivative 0 \\[sum-rule\\] | **proved** |" in md
    assert "> **Proved:**" in md and md.rstrip().splitlines()[-1].startswith("**Proved:**")
    nested = render(derive(sp.log(1 + sp.exp(-y * (w * x + b))), w), "md")
    assert "> > *Sub-proof for step 1.2:*" in nested and "> > | 1.2.4 |" in nested
    assert render(derive(sigmoid(w * x + b), x), "md") == md  # deterministic


def test_latex_renders_sub_proofs_in_quotes():
    tex = render(derive(sigmoid(w * x + b), x), "tex")
    assert tex.count("\\begin{quote}") == tex.count("\\end{quote}") == 1
    assert "\\textit{Sub-proof for step 1:}" in tex and "1.1 &" in tex
    assert tex.count("\\begin{align*}") == 2


def _dequote(markdown: str) -> str:
    """What a Markdown renderer sees inside block quotes (the `> ` markers removed)."""
    return "\n".join(re.sub(r"^(> ?)+", "", line) for line in markdown.splitlines())


TOOL_EXAMPLES = {
    "sigmoid-affine": lambda: derive(sigmoid(w * x + b), x),
    "logistic-loss": lambda: derive(sp.log(1 + sp.exp(-y * (w * x + b))), w),
    "deep-nesting": lambda: derive(sp.sin(sp.sin(sp.sin(sp.sin(sp.sin(sp.sin(x**2)))))), x),
    "refuted-sub-proof": lambda: _refuted_example(),
}


def _refuted_example() -> Proof:
    rules = registry.copy()
    rules.register_derivative(softsign, lambda u: 1 / (1 + sp.Abs(u)), name="softsign-derivative-wrong")
    return derive(sp.exp(softsign(2 * x)), x, rules=rules)


@pytest.mark.tools
@pytest.mark.parametrize("name", sorted(TOOL_EXAMPLES))
def test_rendered_derivations_compile_and_render_in_katex(name, tmp_path):
    proof = TOOL_EXAMPLES[name]()
    tex = render(proof, "tex")
    tooling.compile_latex(tex, tmp_path)
    md = render(proof, "md")
    for text in (md, _dequote(md)):
        errors = tooling.katex_check(text, source=name)
        assert not errors, "\n".join(map(str, errors))


@pytest.mark.tools
def test_gradient_document_compiles(tmp_path):
    grad = derive(sigmoid(w * x + b), [w, b])
    tooling.compile_latex(render(grad.document(), "tex"), tmp_path)
    assert not tooling.katex_check(_dequote(render(grad.document(), "md")))


def test_refuted_derivation_renders_with_its_counterexamples():
    proof = _refuted_example()
    report = proof.check()
    assert report.status is Status.REFUTED
    assert report.steps[0].details[0].status is Status.REFUTED
    md = render(report, "md")
    assert "**Refuted:** step 1 is false" in md and "> **Refuted:** step 1.1 is false" in md
    assert "counterexample at $x = " in md
