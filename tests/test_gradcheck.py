"""check_gradient / check_against / assert_gradient against independent oracles.

Oracles: gradients derived by hand and written out in NumPy (never through
symgrad), sympy.diff for the symbolic references, and PyTorch autograd when
torch is installed (those tests skip alone otherwise). The planted-bug cases
are the BatchNorm backward passes of ``benchmarks/batchnorm_cases.py``, the
same code the benchmark times: every bug must be detected and every correct
case passed, in NumPy and in torch.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad import calc
from symgrad.core.errors import InputError, UnsupportedError
from symgrad.numerics.gradcheck import (
    FAILED,
    INCONCLUSIVE,
    PASSED,
    GradientError,
    GradientReport,
    InconclusiveGradientWarning,
    assert_gradient,
    check_against,
    check_gradient,
    failure_message,
)


def _load_cases() -> Any:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "batchnorm_cases.py"
    spec = importlib.util.spec_from_file_location("batchnorm_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bn = _load_cases()


def numpy_backward(case: str) -> Callable[..., Any]:
    return lambda g, x, gamma, beta: bn.backward(case, g, x, gamma)


# ---------------------------------------------------------------------------
# The planted bugs of the benchmark, at small sizes


@pytest.mark.parametrize("m, d", [(8, 4), (32, 8)])
@pytest.mark.parametrize("case", list(bn.CASES))
def test_batchnorm_numpy_every_bug_detected_every_correct_case_passed(case: str, m: int, d: int) -> None:
    x, gamma, beta = bn.numpy_inputs(m, d, seed=m)
    report = check_gradient(bn.forward, numpy_backward(case), x, gamma, beta)
    assert report.verdict == (PASSED if case == "correct" else FAILED), report.explain()


@pytest.mark.parametrize("case", list(bn.CASES))
def test_batchnorm_full_mode_agrees_with_directional(case: str) -> None:
    x, gamma, beta = bn.numpy_inputs(6, 3, seed=1)
    report = check_gradient(bn.forward, numpy_backward(case), x, gamma, beta, mode="full")
    assert report.verdict == (PASSED if case == "correct" else FAILED), report.explain()
    assert report.evaluations >= 2 * (6 * 3 + 3 + 3)
    if case != "correct":  # the bugs are all in dx; the worst entries name it
        assert report.entries[0].input == "x" and report.entries[0].status == FAILED


@pytest.mark.parametrize("case", list(bn.CASES))
def test_batchnorm_torch_custom_function_through_autograd(case: str) -> None:
    torch = pytest.importorskip("torch")
    x, gamma, beta = bn.torch_inputs(8, 4, dtype=torch.float64)
    report = check_gradient(bn.torch_batchnorm(case).apply, "autograd", x, gamma, beta)
    assert report.verdict == (PASSED if case == "correct" else FAILED), report.explain()


@pytest.mark.parametrize("case", list(bn.CASES))
def test_batchnorm_torch_backward_written_in_torch(case: str) -> None:
    """f and grad_f written in torch, called directly (no autograd), float64 and float32."""
    torch = pytest.importorskip("torch")
    for dtype in (torch.float64, torch.float32):
        x, gamma, beta = bn.torch_inputs(8, 4, dtype=dtype)
        report = check_gradient(bn.forward, lambda g, x, gamma, beta: bn.backward(case, g, x, gamma),
                                x, gamma, beta)
        if dtype == torch.float32 and case == "eps-forward-only":
            assert report.passed  # a 1e-5 relative effect is below float32 resolution
        else:
            assert report.verdict == (PASSED if case == "correct" else FAILED), report.explain()


def test_torch_oracle_agrees_with_the_numpy_backward() -> None:
    """The correct NumPy backward is the gradient torch's autograd computes for the forward."""
    torch = pytest.importorskip("torch")
    x, gamma, beta = bn.torch_inputs(8, 4)
    g = torch.tensor(np.random.default_rng(3).standard_normal((8, 4)))
    out = bn.forward(x, gamma, beta)
    expected = torch.autograd.grad(out, (x, gamma, beta), g)
    got = bn.backward("correct", g.numpy(), x.detach().numpy(), gamma.detach().numpy())
    for e, a in zip(expected, got):
        np.testing.assert_allclose(a, e.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", list(bn.CASES))
def test_float32_never_fails_a_correct_gradient_and_still_sees_gross_bugs(case: str) -> None:
    """float32: honest rtol (sqrt(eps32)) with f re-evaluated in float64, or in float32."""
    x, gamma, beta = bn.numpy_inputs(16, 4, seed=2, dtype="float32")
    for precision in ("auto", "native"):
        report = check_gradient(bn.forward, numpy_backward(case), x, gamma, beta, precision=precision)
        assert report.rtol == pytest.approx(math.sqrt(np.finfo(np.float32).eps))
        if case == "correct":
            assert report.passed, report.explain()
        elif case == "eps-forward-only":  # a 1e-5 relative effect: below float32 resolution, honestly
            assert report.passed and max(report.rel_errors) < report.rtol
        else:
            assert report.failed, report.explain()
    assert "re-evaluated in float64" in check_gradient(bn.forward, numpy_backward("correct"), x, gamma,
                                                       beta).precision


def test_float32_torch_module_that_is_not_dtype_generic_is_checked_in_float32() -> None:
    torch = pytest.importorskip("torch")
    layer = torch.nn.Linear(5, 3).float()
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    report = check_gradient(lambda x: torch.tanh(layer(x)).sum(), "autograd", x)
    assert report.passed, report.explain()
    assert report.precision == "f evaluated in float32"


# ---------------------------------------------------------------------------
# Correct gradients of assorted functions: never failed


def _softmax_ce(labels: np.ndarray) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def f(z: np.ndarray) -> float:
        top = z.max(1, keepdims=True)
        return float(np.sum(top[:, 0] + np.log(np.exp(z - top).sum(1)) - z[np.arange(len(labels)), labels]))

    def grad(z: np.ndarray) -> np.ndarray:
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(labels)), labels] -= 1
        return p

    return f, grad


RNG = np.random.default_rng(2024)
LABELS = RNG.integers(0, 7, 12)
_CE = _softmax_ce(LABELS)
W_RELU = RNG.standard_normal((32, 6))
X_RELU = RNG.standard_normal((20, 6))

CORRECT: dict[str, tuple[Callable[..., Any], Callable[..., Any], tuple[Any, ...]]] = {
    "softmax cross-entropy, logits ~ 30": (_CE[0], _CE[1], (30 * RNG.standard_normal((12, 7)),)),
    "exp up to e^30": (lambda x: np.sum(np.exp(x)), np.exp, (RNG.uniform(-5, 30, 40),)),
    "x log x near 0": (lambda x: np.sum(x * np.log(x)), lambda x: np.log(x) + 1, (RNG.uniform(1e-3, 5, 30),)),
    "sin at scale 1e-8": (lambda x: np.sum(np.sin(1e8 * x)), lambda x: 1e8 * np.cos(1e8 * x),
                          (1e-8 * RNG.standard_normal(10),)),
    "quartic at scale 1e3": (lambda x: np.sum(x ** 4), lambda x: 4 * x ** 3, (1e3 * RNG.standard_normal(8),)),
    "cancelling sums of 1e10": (lambda x: np.sum(x ** 2) - np.sum(x ** 2 - 1e-3 * x),
                                lambda x: np.full_like(x, 1e-3), (1e4 + RNG.standard_normal(50),)),
    "relu layer (kinks)": (lambda w: np.sum(np.maximum(X_RELU @ w.T, 0)),
                           lambda w: ((X_RELU @ w.T) > 0).T.astype(float) @ X_RELU, (W_RELU,)),
    "python floats": (lambda a, b: math.sin(a) * math.exp(b),
                      lambda a, b: (math.cos(a) * math.exp(b), math.sin(a) * math.exp(b)), (0.7, -1.3)),
    "an unused input": (lambda a, b: np.sum(a ** 3), lambda a, b: (3 * a ** 2, None),
                        (RNG.standard_normal(5), RNG.standard_normal(3))),
    "f rounds to float32 inside": (lambda x: float(np.sum(np.float32(x) ** 2)), lambda x: 2 * x,
                                   (RNG.standard_normal(20),)),
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_gradients_are_never_failed(name: str) -> None:
    f, grad, inputs = CORRECT[name]
    for seed in range(6):
        report = check_gradient(f, grad, *inputs, seed=seed)
        assert not report.failed, report.explain()


@pytest.mark.parametrize("name", ["softmax cross-entropy, logits ~ 30", "exp up to e^30", "x log x near 0",
                                  "quartic at scale 1e3", "relu layer (kinks)", "python floats"])
def test_a_one_in_a_million_error_is_seen_in_float64(name: str) -> None:
    f, grad, inputs = CORRECT[name]

    def off(*args: Any) -> Any:
        result = grad(*args)
        if isinstance(result, tuple):
            return tuple(None if r is None else r * (1 + 1e-6) for r in result)
        return result * (1 + 1e-6)

    report = check_gradient(f, off, *inputs)
    assert report.failed, report.explain()
    assert report.passed is False and not report


def test_zero_gradient_of_a_flat_function_is_inconclusive_not_passed() -> None:
    """sum(BatchNorm(x)) is constant: the numbers cannot test anything, and the report says so."""
    x = bn.numpy_inputs(8, 3)[0]
    report = check_gradient(lambda x: np.sum(bn.forward(x, np.ones(3), np.zeros(3))), np.zeros_like, x)
    assert report.verdict == INCONCLUSIVE
    assert "flat to rounding" in report.explain()


@pytest.mark.parametrize("f, grad", [
    (lambda x: np.sum(np.maximum(x, 0)), lambda x: (x > 0).astype(float)),  # relu'(0) = 0 by convention
    (lambda x: np.sum(np.maximum(x, 0)), lambda x: (x >= 0).astype(float)),  # relu'(0) = 1 by convention
    (lambda x: np.sum(np.abs(x)), np.sign),
])
def test_at_a_kink_the_check_is_inconclusive_not_failed(f: Callable[..., Any], grad: Callable[..., Any]) -> None:
    """Not differentiable at x[0] = 0: no convention for the derivative there is wrong."""
    x = np.array([0.0, 1.0, -2.0])
    for mode in ("directional", "full"):
        report = check_gradient(f, grad, x, mode=mode)
        assert report.verdict == INCONCLUSIVE, report.explain()
    assert "kink" in check_gradient(f, grad, x).reason


def test_a_kink_near_but_not_at_the_inputs_is_stepped_over() -> None:
    x = np.array([1e-5, 1.0, -2.0])
    report = check_gradient(lambda x: np.sum(np.maximum(x, 0)), lambda x: (x > 0).astype(float), x)
    assert report.passed, report.explain()
    assert report.evaluations > 19  # the steps shrank


def test_evaluations_do_not_grow_with_the_input_size() -> None:
    counts = set()
    for n in (10, 1000, 100_000):
        x = np.linspace(-1, 1, n)
        report = check_gradient(lambda x: np.sum(np.sin(x)), np.cos, x)
        assert report.passed
        counts.add(report.evaluations)
    assert counts == {19}  # f at the inputs (reused as phi(0)), then 3 directions x 3 steps x 2 sides


def test_the_noise_floor_is_measured_not_a_fixed_atol() -> None:
    """Relative criterion: scaling f by 1e12 changes neither the relative errors nor the verdict."""
    x = np.linspace(0.1, 2, 20)
    small = check_gradient(lambda x: np.sum(np.log(x)), lambda x: 1 / x, x)
    large = check_gradient(lambda x: 1e12 * np.sum(np.log(x)), lambda x: 1e12 / x, x)
    assert small.passed and large.passed
    assert small.noise_floor < 1e-9 and large.noise_floor < 1e-9
    assert small.step == large.step == pytest.approx(2 * np.finfo(float).eps ** 0.2)


# ---------------------------------------------------------------------------
# Reports and messages


def _failing_report() -> GradientReport:
    x, gamma, beta = bn.numpy_inputs(8, 4)
    return check_gradient(bn.forward, numpy_backward("dropped-term"), x, gamma, beta)


def test_failure_message_names_direction_both_sides_input_and_reproduction() -> None:
    report = _failing_report()
    message = failure_message(report)
    assert message.startswith("gradient check failed (directional, seed 0): direction 1 of 3 disagrees")
    assert "yours:" in message and "finite differences:" in message
    assert "by input: the gradient of x is wrong; gamma, beta agree" in message
    assert "reproduce with seed=0" in message
    assert len(message.splitlines()) <= 8  # short and pointed: no Jacobian dumps
    by_input = {p.label: p.status for p in report.by_input}
    assert by_input == {"x": FAILED, "gamma": PASSED, "beta": PASSED}


def test_report_repr_is_readable_and_deterministic() -> None:
    x, gamma, beta = bn.numpy_inputs(8, 4)
    first = check_gradient(bn.forward, numpy_backward("correct"), x, gamma, beta)
    second = check_gradient(bn.forward, numpy_backward("correct"), x, gamma, beta)
    assert repr(first) == repr(second)
    text = repr(first)
    assert text.startswith("GradientReport: passed (directional check, 3 random directions)")
    for piece in ("x (8, 4) float64", "upstream random signed entries (8, 4)", "rtol 1.49e-08",
                  "noise floor", "step 1.48e-03 × input scale", "direction 3", "not a proof"):
        assert piece in text
    assert len(first.rel_errors) == 3 and all(e < 1e-10 for e in first.rel_errors)
    assert bool(first) is True


def test_other_seeds_probe_other_directions() -> None:
    x, gamma, beta = bn.numpy_inputs(8, 4)
    reports = [check_gradient(bn.forward, numpy_backward("correct"), x, gamma, beta, seed=s) for s in (0, 1)]
    assert reports[0].probes[0].yours != reports[1].probes[0].yours


def test_given_upstream_is_used_and_passed_to_grad_f() -> None:
    x, gamma, beta = bn.numpy_inputs(8, 4)
    seen: list[np.ndarray] = []
    g = np.random.default_rng(9).standard_normal((8, 4))

    def backward(u: np.ndarray, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> Any:
        seen.append(u)
        return bn.backward("correct", u, x, gamma)

    report = check_gradient(bn.forward, backward, x, gamma, beta, upstream=g)
    assert report.passed and "given" in report.upstream
    assert seen[0] is not g and np.array_equal(seen[0], g)  # a copy of it: grad_f may edit dout in place


def _doubles_dout_in_place(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    return dout.__imul__(2)


def _relu_backward_scaled_in_place(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    dx = dout  # the common idiom: edits dout
    dx[x <= 0] = 0
    dx *= 1.5
    return dx


def _relu_backward_in_place(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    dx = dout
    dx[x <= 0] = 0
    return dx


@pytest.mark.parametrize("given", [False, True])
def test_a_backward_that_edits_dout_in_place_cannot_change_what_it_is_compared_with(given: bool) -> None:
    """Once a false pass: grad_f got the very array used for the reference, and doubled it."""
    x = np.linspace(-1, 1, 6) + 0.05
    upstream = np.random.default_rng(3).standard_normal(6) if given else None
    kept = None if upstream is None else upstream.copy()
    doubled = check_gradient(lambda x: x, _doubles_dout_in_place, x, upstream=upstream)
    assert doubled.failed, doubled.explain()
    assert "grad_f modified the upstream gradient in place" in failure_message(doubled)
    if given:
        assert np.array_equal(upstream, kept)  # the caller's upstream is untouched
    scaled = check_gradient(lambda x: np.maximum(x, 0), _relu_backward_scaled_in_place, x, upstream=upstream)
    assert scaled.failed, scaled.explain()
    fine = check_gradient(lambda x: np.maximum(x, 0), _relu_backward_in_place, x, upstream=upstream)
    assert fine.passed, fine.explain()
    assert any("modified the upstream gradient in place" in n for n in fine.notes)
    assert "note: grad_f modified the upstream" in fine.explain()


def test_a_backward_that_edits_its_inputs_gets_copies_and_is_told() -> None:
    x = np.linspace(-1, 1, 5)
    original = x.copy()

    def grad(x: np.ndarray) -> np.ndarray:
        x *= 2  # edits the input, then uses it: 2x is the gradient of sum(x ** 2)
        return x

    report = check_gradient(lambda x: np.sum(x ** 2), grad, x)
    assert report.passed and np.array_equal(x, original)
    assert report.notes == ("grad_f modified x in place (it was handed copies)",)


def test_a_wrong_shape_or_non_finite_gradient_is_a_failed_verdict() -> None:
    x = np.linspace(-1, 1, 6)
    shape = check_gradient(lambda x: np.sum(x ** 2), lambda x: (2 * x)[None, :], x)
    assert shape.failed and "has shape (1, 6); the input has shape (6,)" in shape.reason
    nan = check_gradient(lambda x: np.sum(x ** 2), lambda x: np.where(x > 0.5, np.nan, 2 * x), x)
    assert nan.failed and "not finite at index (4,)" in nan.reason


def test_wrt_restricts_the_check_and_constants_pass_through() -> None:
    a, b = np.linspace(0, 1, 4), np.linspace(1, 2, 4)
    report = check_gradient(lambda a, b, n: np.sum(a ** n * b), lambda a, b, n: (n * a ** (n - 1) * b,),
                            a, b, 3, wrt=[0])
    assert report.passed and report.inputs == ("a (4,) float64, scale 6.24e-01",)


def test_names_come_from_the_signature_or_are_given() -> None:
    report = _failing_report()
    assert [p.label for p in report.by_input] == ["x", "gamma", "beta"]
    x, gamma, beta = bn.numpy_inputs(8, 4)
    named = check_gradient(bn.forward, numpy_backward("dropped-term"), x, gamma, beta, names=["X", "G", "B"])
    assert "the gradient of X is wrong" in failure_message(named)


# ---------------------------------------------------------------------------
# assert_gradient


def test_assert_gradient_passes_returns_report_and_raises_an_assertion_error() -> None:
    x = np.linspace(-1, 1, 5)
    assert assert_gradient(lambda x: np.sum(np.tanh(x)), lambda x: 1 - np.tanh(x) ** 2, x).passed
    with pytest.raises(GradientError) as info:
        assert_gradient(lambda x: np.sum(np.tanh(x)), lambda x: 1 - np.tanh(x), x)
    assert isinstance(info.value, AssertionError) and isinstance(info.value, sg.SymgradError)
    assert info.value.report is not None and info.value.report.failed and "direction 1 of 3 disagrees" in str(info.value)
    with pytest.raises(GradientError):
        assert_gradient(_failing_report())


def test_assert_gradient_inconclusive_raises_unless_allowed() -> None:
    x = np.array([0.0, 1.0])
    with pytest.raises(GradientError, match="inconclusive"):
        assert_gradient(lambda x: np.sum(np.abs(x)), np.sign, x)
    with pytest.warns(InconclusiveGradientWarning):
        report = assert_gradient(lambda x: np.sum(np.abs(x)), np.sign, x, allow_inconclusive=True)
    assert report.inconclusive


def test_exports() -> None:
    assert sg.check_gradient is check_gradient and sg.assert_gradient is assert_gradient
    assert sg.check_against is check_against and sg.GradientReport is GradientReport


# ---------------------------------------------------------------------------
# Misuse


@pytest.mark.parametrize("call, match", [
    (lambda: check_gradient(np.sum, np.ones_like), "at least one input"),
    (lambda: check_gradient(np.sum, np.ones_like, np.ones(3), mode="exact"), "mode"),  # type: ignore[arg-type]
    (lambda: check_gradient(np.sum, np.ones_like, np.ones(3), directions=0), "directions"),
    (lambda: check_gradient(np.sum, np.ones_like, np.ones(3), rtol=2.0), "rtol"),
    (lambda: check_gradient(np.sum, np.ones_like, np.ones(3), step=0.0), "step"),
    (lambda: check_gradient(np.sum, np.ones_like, np.ones(3), seed=-1), "seed"),
    (lambda: check_gradient(np.sum, "autograd", np.ones(3)), "torch tensor"),
    (lambda: check_gradient(np.sum, np.ones_like, np.arange(3)), "no floating-point input"),
    (lambda: check_gradient(np.sum, np.ones_like, np.ones(3), wrt=[1]), "positions 0..0"),
    (lambda: check_gradient(lambda x: x * 2, lambda u, x: 2 * u, np.ones(3), upstream=np.ones(4)), "shape"),
    (lambda: check_gradient(lambda x: 1 / 0, np.ones_like, np.ones(3)), "f raised at the inputs"),
    (lambda: check_gradient(lambda a, b: np.sum(a * b), lambda a, b: a, np.ones(2), np.ones(2)),
     "one gradient per input"),
    (lambda: check_gradient(lambda x: (x, x), np.ones_like, np.ones(3)), "one array"),
])
def test_misuse_raises_a_symgrad_error_naming_the_problem(call: Callable[[], Any], match: str) -> None:
    with pytest.raises((InputError, UnsupportedError), match=match):
        call()


# ---------------------------------------------------------------------------
# check_against: symbolic references


def _batchnorm_symbols(m: int) -> dict[str, Any]:
    xs = sp.symbols(f"x_1:{m + 1}", real=True)
    gs = sp.symbols(f"g_1:{m + 1}", real=True)
    gamma, beta = sp.symbols("gamma beta", real=True)
    eps = sp.Symbol("epsilon", positive=True)
    mean = sum(xs) / m
    sigma = sp.sqrt(sum((x - mean) ** 2 for x in xs) / m + eps)
    xhat = [(x - mean) / sigma for x in xs]
    loss = sum(g * (gamma * h + beta) for g, h in zip(gs, xhat))
    compact = [gamma / (m * sigma) * (m * gs[i] - sum(gs) - xhat[i] * sum(g * h for g, h in zip(gs, xhat)))
               for i in range(m)]
    return dict(xs=xs, gs=gs, gamma=gamma, beta=beta, eps=eps, loss=loss, compact=compact)


def _user_dx(case: str) -> Callable[..., Any]:
    def grad(g: np.ndarray, x: np.ndarray, gamma: float, beta: float) -> tuple[Any, ...]:
        dx, dgamma, dbeta = bn.backward(case, g[:, None], x[:, None], np.array([gamma]))
        return None, dx[:, 0], float(dgamma[0]), float(dbeta[0])
    return grad


@pytest.mark.parametrize("case", ["correct", "dropped-term", "eps-forward-only", "wrong-sign"])
def test_check_against_the_objective_by_sympy_diff(case: str) -> None:
    s = _batchnorm_symbols(3)
    report = check_against(s["loss"], _user_dx(case), [list(s["gs"]), list(s["xs"]), s["gamma"], s["beta"]],
                           wrt=[1, 2, 3], constants={s["eps"]: bn.EPS})
    assert report.verdict == (PASSED if case == "correct" else FAILED), report.explain()
    assert report.mode == "reference" and "sympy.diff" in report.reference


def test_check_against_a_kernel_checked_derivation_of_the_compact_form() -> None:
    s = _batchnorm_symbols(3)
    proofs = [calc(sp.Derivative(s["loss"], x), title=f"dL/d{x}").eq(s["compact"][i], by="BN compact form")
              for i, x in enumerate(s["xs"])]
    reports = [p.check() for p in proofs]
    assert all(r.ok for r in reports)
    args = [list(s["gs"]), list(s["xs"]), s["gamma"], s["beta"]]
    good = check_against(reports, _user_dx("correct"), args, constants={s["eps"]: bn.EPS})
    assert good.passed and "proved by the kernel" in good.reference and good.inputs == ("x (3,)",)
    bad = check_against(reports, _user_dx("eps-forward-only"), args, constants={s["eps"]: bn.EPS})
    assert bad.failed
    message = failure_message(bad)
    assert "counterexample: at g_1 = " in message and "d/dx_" in message


def test_check_against_refuses_a_refuted_derivation_and_unknown_symbols() -> None:
    x, y = sp.symbols("x y", real=True)
    wrong = calc(sp.Derivative(x ** 3, x)).eq(2 * x ** 2)
    with pytest.raises(InputError, match="refuted by the kernel"):
        check_against([wrong], lambda x: 3 * x ** 2, [x])
    with pytest.raises(InputError, match="neither arguments nor constants"):
        check_against({x: x * y}, lambda x: x, [x])
    with pytest.raises(InputError, match="no gradient for"):
        check_against({x: 2 * x}, lambda x, y: (2 * x, 0.0), [x, y], wrt=[0, 1])


def test_check_against_a_mapping_of_formulas_with_a_shaped_argument() -> None:
    w = sp.Matrix(2, 2, sp.symbols("w_1:5", real=True))
    loss = sum(sp.tanh(e) for e in w)
    formulas = {e: sp.diff(loss, e) for e in w}
    report = check_against(formulas, lambda w: 1 - np.tanh(w) ** 2, [w])
    assert report.passed and report.inputs == ("w (2, 2)",)
    wrong = check_against(formulas, lambda w: 1 - np.tanh(w), [w])
    assert wrong.failed and wrong.entries[0].input == "w"


def test_check_against_with_torch_backend() -> None:
    torch = pytest.importorskip("torch")
    x = sp.symbols("x_1:4", real=True)
    loss = sum(sp.exp(v) * v for v in x)
    report = check_against(loss, lambda t: torch.exp(t) * (t + 1), [list(x)], backend="torch")
    assert report.passed


# ---------------------------------------------------------------------------
# Advice that fits the cause


def test_unseeded_randomness_is_named_not_blamed_on_kinks_or_precision() -> None:
    x = np.random.default_rng(0).standard_normal((4, 5))

    def dropout(x: np.ndarray) -> np.ndarray:
        return x * (np.random.default_rng().random(x.shape) < 0.5) / 0.5

    report = check_gradient(dropout, lambda dout, x: dout, x)
    assert report.verdict == INCONCLUSIVE and report.cause == "nondeterministic", report.explain()
    message = failure_message(report)
    assert "f is not deterministic" in message and "seed it" in message
    assert "kink" not in message and "use float64" not in message


def test_a_none_gradient_is_named() -> None:
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 5)), rng.standard_normal((5, 2))
    report = check_gradient(lambda x, w: np.sum((x @ w) ** 2), lambda x, w: (None, None), x, w)
    assert report.failed and report.reason.startswith("grad_f returned None for x, w"), report.explain()
    single = check_gradient(lambda x: np.sum(x ** 2), lambda x: None, x)
    assert single.failed and "grad_f returned None for x" in failure_message(single)
    f, grad, inputs = CORRECT["an unused input"]
    unused = check_gradient(f, grad, *inputs)
    assert unused.passed and unused.notes == ("grad_f returned None for b: read as zeros",)


def test_python_floats_next_to_arrays_are_hyperparameters_not_inputs() -> None:
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((4, 5)), rng.standard_normal((5, 2))

    def f(x: np.ndarray, w: np.ndarray, scale: float) -> float:
        return scale * np.sum((x @ w) ** 2)

    def grad(x: np.ndarray, w: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        y = 2 * scale * (x @ w)
        return y @ w.T, x.T @ y

    report = check_gradient(f, grad, x, w, 0.5)  # 2 gradients for 3 inputs: fine, the float is not checked
    assert report.passed and len(report.inputs) == 2, report.explain()
    assert "not checked: scale" in report.notes[0] and "wrt=[0, 1, 2]" in report.notes[0]
    with pytest.raises(InputError, match="wrt="):
        check_gradient(f, grad, x, w, 0.5, wrt=[0, 1, 2])  # asked to check it: a gradient is owed
    both = check_gradient(f, lambda x, w, s: (*grad(x, w, s), np.sum((x @ w) ** 2)), x, w, 0.5, wrt=[0, 1, 2])
    assert both.passed and len(both.inputs) == 3


class _FakeFunction:
    """The shape of a torch.autograd.Function subclass, without torch."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, weight: np.ndarray) -> Any:
        return np.sum(x ** 2 * weight)

    @classmethod
    def apply(cls, *args: Any) -> Any:
        return cls.forward(None, *args)


def test_inputs_of_a_function_apply_are_named_from_its_forward() -> None:
    x, weight = np.linspace(-1, 1, 4), np.linspace(1, 2, 4)
    report = check_gradient(_FakeFunction.apply, lambda x, w: (2 * x * w, x ** 2 * 1.01), x, weight)
    assert report.failed and "the gradient of weight is wrong; x agree" in failure_message(report)


def test_full_mode_counts_every_suspect_and_says_how_many_were_examined() -> None:
    x = np.random.default_rng(0).standard_normal((18, 20))
    wrong = np.arange(360).reshape(18, 20) < 320
    report = check_gradient(lambda x: np.sum(np.sin(x)), lambda x: np.where(wrong, 2, 1) * np.cos(x), x, mode="full")
    assert report.failed
    assert report.reason.startswith("320 of 360 entries exceed the tolerance at the central-difference step; "
                                    "the 16 worst were re-examined with Richardson and 16 of them disagree "
                                    "(the other 304 were not re-examined)"), report.reason
