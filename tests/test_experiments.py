"""The gradient-flow experiment: backward pass against autograd and finite differences, determinism."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symgrad as sg
from symgrad.core.errors import InputError
from symgrad.numerics.experiments import gradient_flow, hidden_deltas, plot_svg, plot_tikz


def _small_network(seed: int, layers=(5, 4, 4, 4, 3), count: int = 6):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((o, i)) for i, o in zip(layers[:-1], layers[1:])]
    biases = [rng.standard_normal((o, 1)) for o in layers[1:]]
    x = rng.random((layers[0], count))
    y = rng.random((layers[-1], count))
    return weights, biases, x, y


def _cost(weights, biases, x, y, activation, batchnorm, residual) -> float:
    """Forward pass written independently of symgrad.experiments."""
    funcs = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}
    a = x
    for index, (w, b) in enumerate(zip(weights, biases)):
        z = w @ a + b
        last = index == len(weights) - 1
        if batchnorm and not last:
            z = (z - z.mean(axis=1, keepdims=True)) / np.sqrt(z.var(axis=1, keepdims=True) + 1e-5)
        f = funcs["sigmoid" if last else activation](z)
        a = a + f if (residual and not last and w.shape[0] == w.shape[1]) else f
    return float(((a - y) ** 2).sum() / (2 * x.shape[1]))


def _assert_bias_deltas_match_central_differences(deltas, biases, cost) -> None:
    """Each delta's sum over the batch is dC/db: compare with central differences of ``cost(biases)``."""
    h = 1e-6
    for layer, delta in enumerate(deltas):
        for unit in range(delta.shape[0]):
            up = [b.copy() for b in biases]
            down = [b.copy() for b in biases]
            up[layer][unit] += h
            down[layer][unit] -= h
            numeric = (cost(up) - cost(down)) / (2 * h)
            assert delta[unit].sum() == pytest.approx(numeric, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("activation,residual", [("sigmoid", False), ("tanh", True), ("relu", False)])
def test_bias_gradients_match_finite_differences(activation, residual):
    batchnorm = False  # with batch normalization the bias cancels; the torch test covers that case
    weights, biases, x, y = _small_network(3)
    deltas = hidden_deltas(weights, biases, x, y, activation, batchnorm=batchnorm, residual=residual)
    _assert_bias_deltas_match_central_differences(
        deltas, biases, lambda b: _cost(weights, b, x, y, activation, batchnorm, residual))


@pytest.mark.parametrize("activation,batchnorm,residual", [
    ("sigmoid", False, False), ("relu", True, False), ("tanh", True, True), ("sigmoid", False, True)])
def test_deltas_match_torch_autograd(activation, batchnorm, residual):
    torch = pytest.importorskip("torch")
    weights, biases, x, y = _small_network(7)
    deltas = hidden_deltas(weights, biases, x, y, activation, batchnorm=batchnorm, residual=residual)
    tw = [torch.tensor(w, dtype=torch.float64) for w in weights]
    tb = [torch.tensor(b, dtype=torch.float64) for b in biases]
    a = torch.tensor(x, dtype=torch.float64)
    shifts = []
    for index, (w, b) in enumerate(zip(tw, tb)):
        last = index == len(tw) - 1
        z = w @ a + b
        if batchnorm and not last:
            z = (z - z.mean(dim=1, keepdim=True)) / torch.sqrt(z.var(dim=1, unbiased=False, keepdim=True) + 1e-5)
        shift = torch.zeros_like(z, requires_grad=True)  # d cost / d shift = delta per example
        z = z + shift
        shifts.append(shift)
        f = torch.sigmoid(z) if last else {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation](z)
        a = a + f if (residual and not last and w.shape[0] == w.shape[1]) else f
    cost = ((a - torch.tensor(y)) ** 2).sum() / (2 * x.shape[1])
    grads = torch.autograd.grad(cost, shifts[:-1])
    for mine, theirs in zip(deltas, grads):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-9, atol=1e-14)


def test_sigmoid_normal_gradients_vanish_towards_the_input():
    result = gradient_flow(seeds=(0, 1), inputs=200)
    assert len(result.norms) == 4
    assert all(a < b for a, b in zip(result.norms, result.norms[1:]))  # like Nielsen's 0.003 < ... < 0.285
    assert result.ratio < 0.2
    relu = gradient_flow(activation="relu", init="he", seeds=(0, 1), inputs=200)
    assert relu.ratio > 2 * result.ratio
    assert result.label == "sigmoid, network2 init"
    old = gradient_flow(init="normal", cost="quadratic", seeds=(0, 1), inputs=200)
    assert old.label == "sigmoid, N(0, 1) weights" and old.ratio < 0.2


def test_results_are_deterministic_and_averaged_over_seeds():
    a = gradient_flow(seeds=(0, 1), inputs=100)
    b = gradient_flow(seeds=(0, 1), inputs=100)
    assert a == b
    one = gradient_flow(seeds=(0,), inputs=100)
    two = gradient_flow(seeds=(1,), inputs=100)
    assert a.norms == pytest.approx([(p + q) / 2 for p, q in zip(one.norms, two.norms)])
    assert a.per_seed == (one.norms, two.norms)


def test_plots_are_deterministic_and_carry_no_dates_or_random_ids():
    results = [gradient_flow(seeds=(0,), inputs=100), gradient_flow(activation="tanh", seeds=(0,), inputs=100)]
    first, second = plot_svg(results), plot_svg(results)
    assert first == second
    assert first.lstrip().startswith("<?xml") and "<svg" in first
    assert "dc:date" not in first and not re.search(r"20\d\d-\d\d-\d\d", first)
    tikz = plot_tikz(results)
    assert tikz.startswith(r"\begin{tikzpicture}") and tikz.endswith(r"\end{tikzpicture}")
    assert "pgfplots" not in tikz and "axis" not in tikz


def test_misuse_raises_input_errors():
    with pytest.raises(InputError, match="activation"):
        gradient_flow(activation="swish")
    with pytest.raises(InputError, match="init"):
        gradient_flow(init="orthogonal")
    with pytest.raises(InputError, match="layers"):
        gradient_flow(layers=(10, 5))
    with pytest.raises(InputError, match="seeds"):
        gradient_flow(seeds=())


def test_exported_as_sg_experiments():
    assert sg.experiments.gradient_flow is gradient_flow


def _cross_entropy(weights, biases, x, y, activation) -> float:
    """Cross-entropy of a sigmoid output layer, written independently of symgrad.experiments."""
    funcs = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}
    a = x
    for index, (w, b) in enumerate(zip(weights, biases)):
        a = funcs["sigmoid" if index == len(weights) - 1 else activation](w @ a + b)
    return float(-(y * np.log(a) + (1 - y) * np.log(1 - a)).sum() / x.shape[1])


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_cross_entropy_bias_gradients_match_finite_differences(activation):
    weights, biases, x, y = _small_network(5)
    deltas = hidden_deltas(weights, biases, x, y, activation, cost="cross-entropy")
    _assert_bias_deltas_match_central_differences(
        deltas, biases, lambda b: _cross_entropy(weights, b, x, y, activation))
    # the quadratic cost's deltas are different numbers: the cost option is not ignored
    quadratic = hidden_deltas(weights, biases, x, y, activation, cost="quadratic")
    assert not np.allclose(deltas[0], quadratic[0])


def test_cross_entropy_deltas_match_torch_autograd():
    torch = pytest.importorskip("torch")
    weights, biases, x, y = _small_network(11)
    deltas = hidden_deltas(weights, biases, x, y, "sigmoid", cost="cross-entropy")
    a = torch.tensor(x, dtype=torch.float64)
    shifts = []
    for index, (w, b) in enumerate(zip(weights, biases)):
        z = torch.tensor(w) @ a + torch.tensor(b)
        shift = torch.zeros_like(z, requires_grad=True)
        shifts.append(shift)
        a = torch.sigmoid(z + shift)
    cost = torch.nn.functional.binary_cross_entropy(a, torch.tensor(y), reduction="sum") / x.shape[1]
    for mine, theirs in zip(deltas, torch.autograd.grad(cost, shifts[:-1])):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-9, atol=1e-14)


def test_network2_init_draws_weights_with_variance_one_over_fan_in():
    from symgrad.numerics.experiments import _init_layer
    w, b = _init_layer(np.random.default_rng(0), "network2", 784, 300)
    assert w.shape == (300, 784) and b.shape == (300, 1)
    assert w.var() == pytest.approx(1 / 784, rel=0.02)
    assert b.var() == pytest.approx(1.0, rel=0.25)


def test_nielsen_setup_is_the_default_and_reproduces_his_pattern():
    result = gradient_flow(seeds=(0,), inputs=1000)
    assert (result.init, result.cost) == ("network2", "cross-entropy")
    # Nielsen's ch. 5 numbers 0.003, 0.017, 0.070, 0.285 (MNIST); synthetic inputs land near them
    for mine, his in zip(result.norms, sg.experiments.NIELSEN_NETWORK2):
        assert his / 1.6 < mine < his * 1.6
    with pytest.raises(InputError, match="cost"):
        gradient_flow(cost="hinge")


def test_plot_colours_agree_between_svg_and_tikz():
    results = [gradient_flow(seeds=(0,), inputs=50), gradient_flow(activation="tanh", seeds=(0,), inputs=50)]
    svg, tikz = plot_svg(results, labels=["a", "b"]), plot_tikz(results, labels=["a", "b"])
    for r, g, b in ((31, 119, 180), (214, 39, 40)):
        assert f"#{r:02x}{g:02x}{b:02x}" in svg
        assert f"rgb,255:red,{r};green,{g};blue,{b}" in tikz
    with pytest.raises(InputError, match="label"):
        plot_tikz(results, labels=["only one"])
