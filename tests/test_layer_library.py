"""``sg.check_layer`` on the example layer library (``examples/layers.py``) and on planted bugs.

Every correct layer must pass; every planted bug (the kinds found in real
students' and researchers' backward passes) must fail, with a message that
names the cause; what the numbers cannot decide (ties in max pooling,
unseeded dropout) must be inconclusive, never passed or failed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import symgrad as sg
from symgrad.core.errors import InputError, UnsupportedError
from symgrad.numerics.gradcheck import FAILED, INCONCLUSIVE, PASSED, GradientReport, failure_message


def _load_layers() -> Any:
    path = Path(__file__).resolve().parents[1] / "examples" / "layers.py"
    spec = importlib.util.spec_from_file_location("example_layers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


L = _load_layers()
RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 6))
W, B = RNG.standard_normal((6, 5)), RNG.standard_normal(5)
GAMMA, BETA = 1 + 0.3 * RNG.standard_normal(6), RNG.standard_normal(6)
X_IMG = RNG.standard_normal((2, 3, 5, 5))
W_CONV, B_CONV = RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)
X_POOL = RNG.standard_normal((2, 3, 4, 4))
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
OVERLAPPING = {"pool_height": 2, "pool_width": 2, "stride": 1}


# ---------------------------------------------------------------------------
# Planted bugs, each a backward pass as it was written


def affine_backward_db_keepdims(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parameter gradient of the wrong shape: db is (1, M) for b of shape (M,)."""
    dx, dw, _ = L.affine_backward(dout, cache)
    return dx, dw, dout.sum(axis=0, keepdims=True)


def relu_backward_scaled_in_place(dout: np.ndarray, cache: Any) -> np.ndarray:
    """Edits dout in place (once a false pass) and scales by 1.5."""
    dx = dout
    dx[cache <= 0] = 0
    dx *= 1.5
    return dx


def relu_backward_in_place(dout: np.ndarray, cache: Any) -> np.ndarray:
    """Edits dout in place, otherwise correct: passes, with a note."""
    dx = dout
    dx[cache <= 0] = 0
    return dx


def batchnorm_backward_no_batch_terms(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forgets that the batch mean and variance depend on x."""
    _, dgamma, dbeta = L.batchnorm_backward(dout, cache)
    _, _, gamma, std = cache
    return dout * gamma / std, dgamma, dbeta


def layernorm_backward_wrong_axis(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The batch-norm formula pasted unchanged: sums over the batch axis instead of the feature axis."""
    xhat, gamma, std = cache
    n = dout.shape[0]
    dxhat = dout * gamma
    dx = (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (n * std)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def layernorm_backward_gamma_outside(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """gamma pulled out of the sums over features, where it varies (fine in batch norm, wrong here)."""
    xhat, gamma, std = cache
    d = dout.shape[1]
    dx = gamma * (d * dout - dout.sum(axis=1, keepdims=True)
                  - xhat * (dout * xhat).sum(axis=1, keepdims=True)) / (d * std)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def layernorm_backward_unimplemented(dout: np.ndarray, cache: Any) -> tuple[None, None, None]:
    """The stub as handed out: nothing computed yet."""
    dx, dgamma, dbeta = None, None, None
    return dx, dgamma, dbeta


def dropout_backward_unimplemented(dout: np.ndarray, cache: Any) -> None:
    """The stub as handed out."""
    dx = None
    return dx


def conv_backward_pad_slice(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unpads with ``pad:-pad``: right for pad 1, an empty array for pad 0."""
    x, w, conv_param = cache
    pad = conv_param["pad"]
    _, dw, db = L.conv_backward_naive(dout, cache)
    padded_dx = _padded_input_gradient(dout, x, w, conv_param)
    return padded_dx[:, :, pad:-pad, pad:-pad], dw, db


def _padded_input_gradient(dout: np.ndarray, x: np.ndarray, w: np.ndarray, conv_param: dict[str, int]) -> np.ndarray:
    """The gradient with respect to the zero-padded input."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    dpadded = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad))
    hh, ww = w.shape[2:]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww)
            dpadded[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
    return dpadded


def max_pool_backward_overwrites(dout: np.ndarray, cache: Any) -> np.ndarray:
    """Assigns instead of adding: wrong where windows overlap (stride below the pool size)."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] = mask * dout[:, :, i, j][:, :, None, None]
    return dx


# ---------------------------------------------------------------------------
# The library: every layer, with its planted bugs


Layer = tuple[Callable[..., Any], Callable[..., Any], tuple[Any, ...], Any]

CORRECT: dict[str, Layer] = {
    "affine": (L.affine_forward, L.affine_backward, (X, W, B), ()),
    "affine, image input": (L.affine_forward, L.affine_backward, (X_IMG, RNG.standard_normal((75, 3)), B[:3]), ()),
    "relu": (L.relu_forward, L.relu_backward, (X,), ()),
    "batchnorm, train": (L.batchnorm_forward, L.batchnorm_backward, (X, GAMMA, BETA), {"mode": "train"}),
    "batchnorm, test": (L.batchnorm_forward, L.batchnorm_backward, (X, GAMMA, BETA),
                        {"mode": "test", "running_mean": X.mean(0) + 0.1, "running_var": X.var(0) + 0.2}),
    "layernorm": (L.layernorm_forward, L.layernorm_backward, (X, GAMMA, BETA), {"eps": 1e-5}),
    "dropout, seeded": (L.dropout_forward, L.dropout_backward, (X,), {"p": 0.6, "seed": 3}),
    "dropout, test mode": (L.dropout_forward, L.dropout_backward, (X,), {"p": 0.6, "mode": "test"}),
    "conv, pad 0": (L.conv_forward_naive, L.conv_backward_naive, (X_IMG, W_CONV, B_CONV), {"stride": 1, "pad": 0}),
    "conv, pad 1": (L.conv_forward_naive, L.conv_backward_naive, (X_IMG, W_CONV, B_CONV), {"stride": 1, "pad": 1}),
    "conv, pad 1, stride 2": (L.conv_forward_naive, L.conv_backward_naive, (X_IMG, W_CONV, B_CONV),
                              {"stride": 2, "pad": 1}),
    "max pool": (L.max_pool_forward_naive, L.max_pool_backward_naive, (X_POOL,), POOL),
    "max pool, overlapping windows": (L.max_pool_forward_naive, L.max_pool_backward_naive, (X_POOL,), OVERLAPPING),
}

#: name -> (layer, the phrase the failure message must contain)
BUGS: dict[str, tuple[Layer, str]] = {
    "affine: db of shape (1, M)": (
        (L.affine_forward, affine_backward_db_keepdims, (X, W, B), ()),
        "the gradient for b has shape (1, 5); the input has shape (5,)"),
    "relu: scaled by 1.5, dout edited in place": (
        (L.relu_forward, relu_backward_scaled_in_place, (X,), ()),
        "grad_f modified the upstream gradient in place"),
    "batchnorm: the batch statistics' terms dropped": (
        (L.batchnorm_forward, batchnorm_backward_no_batch_terms, (X, GAMMA, BETA), {"mode": "train"}),
        "by input: the gradient of x is wrong; gamma, beta agree"),
    "layernorm: reduction over the wrong axis": (
        (L.layernorm_forward, layernorm_backward_wrong_axis, (X, GAMMA, BETA), {}),
        "by input: the gradient of x is wrong; gamma, beta agree"),
    "layernorm: gamma pulled out of a sum": (
        (L.layernorm_forward, layernorm_backward_gamma_outside, (X, GAMMA, BETA), {}),
        "by input: the gradient of x is wrong; gamma, beta agree"),
    "layernorm: backward not implemented": (
        (L.layernorm_forward, layernorm_backward_unimplemented, (X, GAMMA, BETA), {}),
        "grad_f returned None for x, gamma, beta (read as zeros: is the backward implemented?)"),
    "dropout: backward not implemented": (
        (L.dropout_forward, dropout_backward_unimplemented, (X,), {"p": 0.6, "seed": 3}),
        "grad_f returned None for x"),
    "conv: pad:-pad at pad 0": (
        (L.conv_forward_naive, conv_backward_pad_slice, (X_IMG, W_CONV, B_CONV), {"stride": 1, "pad": 0}),
        "the gradient for x has shape (2, 3, 0, 0); the input has shape (2, 3, 5, 5)"),
    "max pool: overlapping windows overwritten": (
        (L.max_pool_forward_naive, max_pool_backward_overwrites, (X_POOL,), OVERLAPPING),
        "direction 1 of 3 disagrees"),
}


def _check(layer: Layer, **options: Any) -> GradientReport:
    forward, backward, inputs, static = layer
    return sg.check_layer(forward, backward, *inputs, static=static, **options)


@pytest.mark.parametrize("name", list(CORRECT))
def test_every_correct_layer_passes(name: str) -> None:
    report = _check(CORRECT[name])
    assert report.verdict == PASSED, report.explain()


@pytest.mark.parametrize("name", list(BUGS))
def test_every_planted_bug_fails_naming_its_cause(name: str) -> None:
    layer, phrase = BUGS[name]
    report = _check(layer)
    assert report.verdict == FAILED, report.explain()
    assert phrase in failure_message(report), failure_message(report)


@pytest.mark.parametrize("name", ["batchnorm: the batch statistics' terms dropped",
                                  "layernorm: gamma pulled out of a sum", "max pool: overlapping windows overwritten"])
def test_full_mode_agrees_on_the_planted_bugs(name: str) -> None:
    layer, _ = BUGS[name]
    assert _check(layer, mode="full").verdict == FAILED


def test_the_pad_slice_bug_is_invisible_at_pad_1() -> None:
    """Evidence, not proof: ``pad:-pad`` is right for pad 1, so only pad 0 exposes it."""
    layer = (L.conv_forward_naive, conv_backward_pad_slice, (X_IMG, W_CONV, B_CONV), {"stride": 1, "pad": 1})
    assert _check(layer).passed


def test_editing_dout_in_place_is_noted_not_failed() -> None:
    report = _check((L.relu_forward, relu_backward_in_place, (X,), ()))
    assert report.passed and "modified the upstream gradient in place" in report.notes[0]


def test_max_pool_ties_are_inconclusive_not_failed() -> None:
    """At a tie the maximum has a kink: routing to the first maximum is one valid choice, not a checkable one."""
    ties = np.random.default_rng(0).integers(0, 3, (2, 2, 4, 4)).astype(float)
    for backward in (L.max_pool_backward_naive, max_pool_backward_overwrites):
        report = sg.check_layer(L.max_pool_forward_naive, backward, ties, static=POOL)
        assert report.verdict == INCONCLUSIVE, report.explain()
        assert "kink" in report.reason


def test_unseeded_dropout_is_inconclusive_and_told_to_seed() -> None:
    report = sg.check_layer(L.dropout_forward, L.dropout_backward, X, static={"p": 0.6})
    assert report.verdict == INCONCLUSIVE, report.explain()
    assert "f is not deterministic" in failure_message(report) and "seed it" in failure_message(report)


def test_static_values_pass_through_unchanged_and_inputs_are_named_from_forward() -> None:
    bn_param = {"mode": "train"}
    report = sg.check_layer(L.batchnorm_forward, L.batchnorm_backward, X, GAMMA, BETA, static=(bn_param,))
    assert report.passed
    assert [i.split()[0] for i in report.inputs] == ["x", "gamma", "beta"]
    assert set(bn_param) == {"mode", "running_mean", "running_var"}  # the very dict, as forward updates it
    single = sg.check_layer(L.batchnorm_forward, L.batchnorm_backward, X, GAMMA, BETA, static=bn_param)
    assert single.passed  # a single non-tuple static value


def test_options_reach_check_gradient() -> None:
    upstream = np.random.default_rng(5).standard_normal((4, 5))
    report = sg.check_layer(L.affine_forward, L.affine_backward, X, W, B, upstream=upstream, wrt=[1], seed=3)
    assert report.passed and report.seed == 3 and report.upstream == "given (4, 5)"
    assert [i.split()[0] for i in report.inputs] == ["w"]


# ---------------------------------------------------------------------------
# The convention, recognised in check_gradient's errors


def test_passing_layer_functions_to_check_gradient_points_to_check_layer() -> None:
    with pytest.raises(UnsupportedError, match=r"f returns a tuple of outputs; return one array.*sg\.check_layer"):
        sg.check_gradient(L.affine_forward, L.affine_backward, X, W, B)
    with pytest.raises(InputError, match=r"takes 2 positional arguments but 4 were given.*sg\.check_layer"):
        sg.check_gradient(lambda x, w, b: L.affine_forward(x, w, b)[0], L.affine_backward, X, W, B)


def test_check_layer_misuse() -> None:
    with pytest.raises(InputError, match=r"forward must return \(out, cache\)"):
        sg.check_layer(lambda x: x * 2, lambda dout, cache: 2 * dout, X)
    with pytest.raises(InputError, match="at least one input"):
        sg.check_layer(L.relu_forward, L.relu_backward)
    with pytest.raises(InputError, match="two callables"):
        sg.check_layer(L.relu_forward, None, X)  # type: ignore[arg-type]


def test_export() -> None:
    assert "check_layer" in sg.__all__ and sg.check_layer is sg.numerics.gradcheck.check_layer


def test_the_readme_example_prints_what_the_readme_shows(capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("### Layers written as"):]
    code = section[section.index("```python\n") + 10:section.index("```\n\n```text")]
    shown = section[section.index("```text\n") + 8:]
    shown = shown[:shown.index("```")].splitlines()
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(shown[0].removesuffix("..."))
    assert shown[1] in printed
