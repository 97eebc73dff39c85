"""Numerical experiments on gradient flow in deep networks (numpy only, seeded).

``gradient_flow(...)`` builds fully connected networks at initialization,
feeds a batch of synthetic inputs forward, backpropagates the cost (the
quadratic cost ``C = mean_x ||a^L(x) - y(x)||^2 / 2`` or the cross-entropy
``C = -mean_x sum_j [y_j ln a^L_j + (1 - y_j) ln(1 - a^L_j)]``) and reports, for each hidden layer
``l``, the norm of ``delta^l = dC/db^l`` (the gradient of the cost with
respect to the layer's biases; with batch normalization the layer's shift
``beta^l``). This is the quantity Nielsen plots in *Neural Networks and Deep
Learning*, ch. 5. Norms are averaged over seeds.

Backward pass (the law applied): ``delta^L = (a^L - y) * f'(z^L)`` for the
quadratic cost, ``delta^L = a^L - y`` for the cross-entropy with a sigmoid
output layer (the sigmoid's slope cancels), each divided by the batch size;
``delta^l = f'(z^l) * (W^{l+1})^T delta^{l+1}``, with ``a^l = a^{l-1} + f(z^l)``
adding ``dC/da^l`` to ``dC/da^{l-1}`` in residual layers, and the batch-norm
backward formula where batch normalization is on.

``plot_svg`` and ``plot_tikz`` draw the norms per layer on a log scale,
deterministically (no dates, no random ids).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..core.errors import InputError

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "COSTS",
    "NIELSEN_NETWORK2",
    "NIELSEN_SIGMOID_NORMAL",
    "GradientFlow",
    "gradient_flow",
    "hidden_deltas",
    "synthetic_inputs",
    "plot_svg",
    "plot_tikz",
]

#: Nielsen's ||delta^l|| for [784, 30, 30, 30, 30, 10] (Neural Networks and Deep Learning, ch. 5):
#: ``network2`` defaults (sigmoid units, weights N(0, 1/n_in), biases N(0, 1), cross-entropy cost),
#: gradient of the cost over 1,000 MNIST training images.
NIELSEN_NETWORK2: tuple[float, ...] = (0.003, 0.017, 0.070, 0.285)
#: The former name of :data:`NIELSEN_NETWORK2` (the values were never for N(0, 1) weights).
NIELSEN_SIGMOID_NORMAL = NIELSEN_NETWORK2

ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITS = ("network2", "normal", "he", "xavier")
COSTS = ("cross-entropy", "quadratic")
BATCHNORM_EPS = 1e-5


def _activation(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(f(z), f'(z))`` for the activation ``name``."""
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s, s * (1.0 - s)
    if name == "tanh":
        t = np.tanh(z)
        return t, 1.0 - t * t
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(z.dtype)
    raise InputError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")


def _init_layer(rng: np.random.Generator, init: str, fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights (fan_out x fan_in) and biases for ``init``.

    ``network2``: weights N(0, 1/fan_in), biases N(0, 1) (Nielsen's ``network2``
    default); ``normal``: weights and biases N(0, 1); ``he``: weights
    N(0, 2/fan_in), biases 0; ``xavier``: weights N(0, 1/fan_in), biases 0.
    """
    if init == "network2":
        return rng.standard_normal((fan_out, fan_in)) / math.sqrt(fan_in), rng.standard_normal((fan_out, 1))
    if init == "normal":
        return rng.standard_normal((fan_out, fan_in)), rng.standard_normal((fan_out, 1))
    if init == "he":
        return rng.standard_normal((fan_out, fan_in)) * math.sqrt(2.0 / fan_in), np.zeros((fan_out, 1))
    if init == "xavier":
        return rng.standard_normal((fan_out, fan_in)) * math.sqrt(1.0 / fan_in), np.zeros((fan_out, 1))
    raise InputError(f"unknown init {init!r}; known: {', '.join(INITS)}")


def synthetic_inputs(rng: np.random.Generator, size: int, count: int, classes: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like inputs (columns) and one-hot targets.

    Each input has about 19% non-zero "pixels" with intensities uniform in
    [0.5, 1] (MNIST: ~19% non-zero, mean intensity ~0.13); targets are
    uniformly random classes.
    """
    mask = rng.random((size, count)) < 0.19
    x = np.where(mask, rng.uniform(0.5, 1.0, (size, count)), 0.0)
    y = np.zeros((classes, count))
    y[rng.integers(0, classes, count), np.arange(count)] = 1.0
    return x, y


@dataclass(frozen=True)
class GradientFlow:
    """Per-hidden-layer gradient norms ``||delta^l||`` at initialization.

    ``norms[l]`` is the mean over seeds of hidden layer ``l + 1``'s norm;
    ``per_seed[s][l]`` the value for seed number ``s``; ``per_example[l]`` the
    mean over seeds and inputs of ``||delta^l_x||`` for one input's cost alone
    (with batch normalization the batch sum of ``delta`` loses its mean
    component, so this is the better measure there); ``weight_norms[l]`` the
    mean over seeds of the spectral norm ``||W^{l+1}||`` of the weights layer
    ``l + 1`` receives (``W^1`` is 30 x 784 in Nielsen's network).
    """

    layers: tuple[int, ...]
    activation: str
    init: str
    cost: str
    batchnorm: bool
    residual: bool
    seeds: tuple[int, ...]
    inputs: int
    norms: tuple[float, ...]
    per_seed: tuple[tuple[float, ...], ...]
    per_example: tuple[float, ...]
    weight_norms: tuple[float, ...] = ()

    @property
    def label(self) -> str:
        """A short description such as ``sigmoid, N(0, 1) weights, batch norm`` (no formulas: it goes in table cells)."""
        init = {"network2": "network2 init", "normal": "N(0, 1) weights", "he": "He init",
                "xavier": "Xavier init"}[self.init]
        parts = [self.activation, init]
        if self.batchnorm:
            parts.append("batch norm")
        if self.residual:
            parts.append("residual")
        return ", ".join(parts)

    @property
    def ratio(self) -> float:
        """``||delta^1|| / ||delta^last hidden||``: below 1 means gradients vanish towards the input."""
        return self.norms[0] / self.norms[-1]


def hidden_deltas(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], x: np.ndarray, y: np.ndarray,
                  activation: str = "sigmoid", *, batchnorm: bool = False, residual: bool = False,
                  cost: str = "quadratic") -> list[np.ndarray]:
    """Backpropagate the cost and return ``delta^l`` per hidden layer.

    ``cost="quadratic"``: ``C = sum_x ||a^L(x) - y(x)||^2 / (2N)``; ``cost="cross-entropy"``:
    ``C = -sum_x sum_j [y_j ln a^L_j + (1 - y_j) ln(1 - a^L_j)] / N`` (output layer a sigmoid).

    ``delta^l`` (shape width x N) is the gradient of ``C`` with respect to the
    input of layer ``l``'s activation, per example; its row sums are ``dC/db^l``
    (``dC/dbeta^l`` with batch normalization). Columns of ``x``/``y`` are examples.
    """
    if len(weights) != len(biases) or not weights:
        raise InputError("hidden_deltas: give one bias vector per weight matrix")
    if cost not in COSTS:
        raise InputError(f"unknown cost {cost!r}; known: {', '.join(COSTS)}")
    hidden = len(weights) - 1
    a = x
    cache = []
    for index, (w, b) in enumerate(zip(weights, biases)):
        is_hidden = index < hidden
        z = w @ a + b
        bn = None
        if batchnorm and is_hidden:
            mean = z.mean(axis=1, keepdims=True)
            inv_std = 1.0 / np.sqrt(z.var(axis=1, keepdims=True) + BATCHNORM_EPS)
            z_hat = (z - mean) * inv_std
            bn = (z_hat, inv_std)
            z = z_hat  # gamma = 1, beta = 0
        f, df = _activation(activation, z) if is_hidden else _activation("sigmoid", z)
        skip = residual and is_hidden and w.shape[0] == w.shape[1]
        cache.append((df, bn, skip))
        a = a + f if skip else f
    count = x.shape[1]
    grad_a = (a - y) / count  # quadratic: dC/da^L
    deltas: list[np.ndarray] = []
    for index in range(len(weights) - 1, -1, -1):
        df, bn, skip = cache[index]
        # cross-entropy with a sigmoid output: dC/dz^L = (a^L - y)/N, the slope cancels
        delta = grad_a if (cost == "cross-entropy" and index == len(weights) - 1) else grad_a * df
        if index < hidden:
            deltas.append(delta)
        if bn is not None:
            z_hat, inv_std = bn
            delta = inv_std * (delta - delta.mean(axis=1, keepdims=True)
                               - z_hat * (delta * z_hat).mean(axis=1, keepdims=True))
        grad_prev = weights[index].T @ delta
        grad_a = grad_prev + grad_a if skip else grad_prev
    return list(reversed(deltas))


def _network_norms(layers: Sequence[int], activation: str, init: str, batchnorm: bool, residual: bool,
                   seed: int, inputs: int, cost: str
                   ) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """``(||dC/db^l||, mean over examples of ||delta^l_x||)`` per hidden layer and ``||W^l||`` per layer, one seed."""
    rng = np.random.default_rng(seed)
    params = [_init_layer(rng, init, fan_in, fan_out) for fan_in, fan_out in zip(layers[:-1], layers[1:])]
    x, y = synthetic_inputs(rng, layers[0], inputs, layers[-1])
    deltas = hidden_deltas([w for w, _ in params], [b for _, b in params], x, y, activation,
                           batchnorm=batchnorm, residual=residual, cost=cost)
    count = x.shape[1]
    norms = tuple(float(np.linalg.norm(d.sum(axis=1))) for d in deltas)
    examples = tuple(float(np.linalg.norm(d * count, axis=0).mean()) for d in deltas)
    spectral = tuple(float(np.linalg.norm(w, 2)) for w, _ in params)
    return norms, examples, spectral


def gradient_flow(layers: Sequence[int] = (784, 30, 30, 30, 30, 10), activation: str = "sigmoid",
                  init: str = "network2", *, batchnorm: bool = False, residual: bool = False,
                  seeds: Sequence[int] = (0, 1, 2, 3, 4), inputs: int = 1000,
                  cost: str = "cross-entropy") -> GradientFlow:
    """Gradient norms ``||dC/db^l||`` per hidden layer at initialization, averaged over ``seeds``.

    ``layers`` are the widths, input first; hidden layers use ``activation``
    (``sigmoid``, ``tanh``, ``relu``), the output layer a sigmoid; ``init`` is
    ``network2`` (weights N(0, 1/n_in), biases N(0, 1): Nielsen's default),
    ``normal`` (N(0, 1) weights and biases), ``he`` or ``xavier``; ``cost`` is
    ``cross-entropy`` (Nielsen's ``network2`` default) or ``quadratic``.
    The defaults are Nielsen's ch. 5 setup, on synthetic inputs.
    ``batchnorm`` normalizes each hidden pre-activation over the batch;
    ``residual`` adds the input of each square hidden layer to its output.
    """
    widths = tuple(int(n) for n in layers)
    if len(widths) < 3 or any(n < 1 for n in widths):
        raise InputError(f"layers: need at least input, one hidden and output width, all positive; got {layers!r}")
    if activation not in ACTIVATIONS:
        raise InputError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
    if init not in INITS:
        raise InputError(f"unknown init {init!r}; known: {', '.join(INITS)}")
    if cost not in COSTS:
        raise InputError(f"unknown cost {cost!r}; known: {', '.join(COSTS)}")
    seed_list = tuple(int(s) for s in seeds)
    if not seed_list:
        raise InputError("seeds: give at least one seed")
    if inputs < (2 if batchnorm else 1):
        raise InputError(f"inputs must be at least {2 if batchnorm else 1}, got {inputs}")
    runs = [_network_norms(widths, activation, init, batchnorm, residual, s, inputs, cost) for s in seed_list]
    per_seed = tuple(run[0] for run in runs)
    hidden = range(len(widths) - 2)
    means = tuple(float(np.mean([row[l] for row in per_seed])) for l in hidden)
    examples = tuple(float(np.mean([run[1][l] for run in runs])) for l in hidden)
    spectral = tuple(float(np.mean([run[2][l] for run in runs])) for l in range(len(widths) - 1))
    return GradientFlow(widths, activation, init, cost, batchnorm, residual, seed_list, int(inputs), means,
                        per_seed, examples, spectral)


# -- plots --------------------------------------------------------------------

_MARKERS = ("o", "s", "^", "D", "v", "P")
#: One colour per series, the same in the SVG and the TikZ plot (RGB 0-255).
_COLORS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75))


def _labels(results: Sequence[GradientFlow], labels: Sequence[str] | None) -> list[str]:
    """The legend entries: ``labels`` if given (one per result), else each result's own label."""
    if labels is None:
        return [r.label for r in results]
    if len(labels) != len(results):
        raise InputError(f"plot: give one label per result ({len(results)}), got {len(labels)}")
    return [str(label) for label in labels]


def plot_svg(results: Sequence[GradientFlow], reference: Sequence[float] | None = NIELSEN_NETWORK2,
             title: str = "Gradient norm per hidden layer at initialization",
             labels: Sequence[str] | None = None) -> str:
    """An SVG line plot of ``||delta^l||`` per hidden layer on a log scale; deterministic.

    Series ``i`` is drawn in colour ``_COLORS[i]``, as in :func:`plot_tikz`.
    """
    names = _labels(results, labels)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "symgrad", "svg.fonttype": "none", "path.simplify": False}):
        fig, ax = plt.subplots(figsize=(8.0, 4.0))
        try:
            for i, result in enumerate(results):
                layers = range(1, len(result.norms) + 1)
                rgb = tuple(c / 255 for c in _COLORS[i % len(_COLORS)])
                ax.plot(layers, result.norms, marker=_MARKERS[i % len(_MARKERS)], color=rgb, label=names[i])
            if reference is not None:
                ax.plot(range(1, len(reference) + 1), reference, linestyle="--", color="black",
                        marker="x", label="Nielsen, ch. 5 (MNIST)")
            ax.set_yscale("log")
            ax.set_xlabel(r"hidden layer $l$")
            ax.set_ylabel(r"$\Vert\delta^l\Vert$")
            ax.set_title(title)
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
            fig.tight_layout()
            out = io.StringIO()
            fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    return out.getvalue()


def plot_tikz(results: Sequence[GradientFlow], reference: Sequence[float] | None = NIELSEN_NETWORK2,
              width_cm: float = 7.0, height_cm: float = 5.5, labels: Sequence[str] | None = None) -> str:
    """The same plot as plain TikZ (no pgfplots): log10 of the norms against the layer, same colours."""
    series = [(label, r.norms) for label, r in zip(_labels(results, labels), results)]
    if reference is not None:
        series.append(("Nielsen, ch. 5 (MNIST)", tuple(reference)))
    logs = [math.log10(v) for _, values in series for v in values if v > 0]
    if not logs:
        raise InputError("plot_tikz: no positive norms to plot")
    lo, hi = math.floor(min(logs)), math.ceil(max(logs))
    hi = max(hi, lo + 1)
    count = max(len(values) for _, values in series)
    xs = (lambda l: (l - 1) * width_cm / max(count - 1, 1))
    ys = (lambda v: (math.log10(v) - lo) * height_cm / (hi - lo))
    colors = tuple(f"color={{rgb,255:red,{r};green,{g};blue,{b}}}" for r, g, b in _COLORS)
    lines = [r"\begin{tikzpicture}[x=1cm,y=1cm,font=\scriptsize]",
             rf"\draw[->] (0,0) -- ({width_cm + 0.3:.2f},0);",
             rf"\node[below] at ({width_cm / 2:.2f},-0.5) {{hidden layer $l$}};",
             rf"\draw[->] (0,0) -- (0,{height_cm + 0.3:.2f}) node[above] {{$\lVert\delta^l\rVert$ (log scale)}};"]
    for l in range(1, count + 1):
        lines.append(rf"\draw ({xs(l):.3f},0) -- ({xs(l):.3f},-0.1) node[below] {{{l}}};")
    for e in range(lo, hi + 1):
        y = (e - lo) * height_cm / (hi - lo)
        lines.append(rf"\draw (0,{y:.3f}) -- (-0.1,{y:.3f}) node[left] {{$10^{{{e}}}$}};")
    for i, (label, values) in enumerate(series):
        is_reference = reference is not None and i == len(series) - 1
        color = "color=black" if is_reference else colors[i % len(colors)]
        style = f"{color},dashed" if is_reference else color
        points = " -- ".join(f"({xs(l):.3f},{ys(v):.3f})" for l, v in enumerate(values, start=1) if v > 0)
        lines.append(rf"\draw[{style},thick] {points};")
        for l, v in enumerate(values, start=1):
            if v > 0:
                lines.append(rf"\fill[{color}] ({xs(l):.3f},{ys(v):.3f}) circle (1.5pt);")
        legend_y = height_cm - 0.4 * i
        safe = label.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&").replace("#", r"\#")
        lines.append(rf"\draw[{style},thick] ({width_cm + 0.6:.2f},{legend_y:.2f}) -- ++(0.5,0) "
                     rf"node[right,black] {{{safe}}};")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)
