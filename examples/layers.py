"""A small NumPy layer library in the (out, cache) convention, checked with ``sg.check_layer``.

Each layer is a pair: ``*_forward(inputs..., params) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients``, one per input (a bare array for
one input). Hyperparameters travel in dicts (``bn_param``, ``conv_param``,
``pool_param``, ``dropout_param``) that the forward pass reads (and, for
batch normalisation, updates with running statistics). ``tests/test_layer_library.py``
checks every backward pass here, and planted bugs, with ``sg.check_layer``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Cache = Any


# ---------------------------------------------------------------------------
# Affine and ReLU


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """``x`` of shape (N, d_1, ..., d_k) flattened to (N, D), times ``w`` (D, M), plus ``b`` (M,)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of an affine layer: ``dx`` (shaped like x), ``dw`` (D, M), ``db`` (M,)."""
    x, w = cache
    flat = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = flat.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """``max(x, 0)`` entrywise."""
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """The upstream gradient where the input was positive, zero elsewhere (0 at the kink x = 0)."""
    return dout * (cache > 0)


# ---------------------------------------------------------------------------
# Normalisation


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      bn_param: dict[str, Any]) -> tuple[np.ndarray, Cache]:
    """Batch normalisation of ``x`` (N, D) over the batch axis, per feature.

    ``bn_param``: ``mode`` ("train" or "test"), ``eps`` (1e-5), ``momentum``
    (0.9); in training the running mean and variance are updated in it.
    """
    mode = bn_param.get("mode", "train")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d))
    running_var = bn_param.get("running_var", np.ones(d))
    if mode == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        mean, var = running_mean, running_var
    else:
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}")
    std = np.sqrt(var + eps)
    xhat = (x - mean) / std
    return gamma * xhat + beta, (mode, xhat, gamma, std)


def batchnorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch normalisation: ``dx`` (N, D), ``dgamma`` (D,), ``dbeta`` (D,).

    In training the mean and variance depend on every row, so ``dx`` has
    the two correction terms (sums over the batch axis); in test mode they
    are constants.
    """
    mode, xhat, gamma, std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    if mode == "test":
        return dxhat / std, dgamma, dbeta
    n = dout.shape[0]
    dx = (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (n * std)
    return dx, dgamma, dbeta


def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      ln_param: dict[str, Any]) -> tuple[np.ndarray, Cache]:
    """Layer normalisation of ``x`` (N, D) over the feature axis, per example; ``ln_param``: ``eps``."""
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    xhat = (x - mean) / std
    return gamma * xhat + beta, (xhat, gamma, std)


def layernorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of layer normalisation: the batch-norm formula with the axes exchanged.

    ``gamma`` varies along the axis the statistics are taken over, so it stays
    inside the sums (through ``dxhat``).
    """
    xhat, gamma, std = cache
    d = dout.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = (d * dxhat - dxhat.sum(axis=1, keepdims=True)
          - xhat * (dxhat * xhat).sum(axis=1, keepdims=True)) / (d * std)
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------
# Dropout


def dropout_forward(x: np.ndarray, dropout_param: dict[str, Any]) -> tuple[np.ndarray, Cache]:
    """Inverted dropout: keep each entry with probability ``p`` and scale by ``1/p`` (training only).

    ``dropout_param``: ``p``, ``mode`` ("train" or "test") and an optional
    ``seed`` (a fixed mask: what a gradient check needs).
    """
    p, mode = dropout_param["p"], dropout_param.get("mode", "train")
    if mode == "test":
        return x.copy(), (dropout_param, None)
    rng = np.random.default_rng(dropout_param.get("seed"))
    mask = (rng.random(x.shape) < p) / p
    return x * mask, (dropout_param, mask)


def dropout_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """The upstream gradient through the same mask (unchanged in test mode)."""
    _, mask = cache
    return dout if mask is None else dout * mask


# ---------------------------------------------------------------------------
# Convolution and max pooling (naive: loops over output positions)


def _windows(h: int, w: int, size: tuple[int, int], stride: int) -> list[tuple[int, int, slice, slice]]:
    """Each output position ``(i, j)`` with the rows and columns of its input window."""
    hh, ww = size
    rows, cols = 1 + (h - hh) // stride, 1 + (w - ww) // stride
    return [(i, j, slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww))
            for i in range(rows) for j in range(cols)]


def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                       conv_param: dict[str, int]) -> tuple[np.ndarray, Cache]:
    """Cross-correlation of ``x`` (N, C, H, W) with filters ``w`` (F, C, HH, WW), plus ``b`` (F,).

    ``conv_param``: ``stride`` and ``pad`` (zeros on every side).
    """
    stride, pad = conv_param["stride"], conv_param["pad"]
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    f, _, hh, ww = w.shape
    windows = _windows(padded.shape[2], padded.shape[3], (hh, ww), stride)
    out = np.zeros((x.shape[0], f, windows[-1][0] + 1, windows[-1][1] + 1))
    for i, j, rows, cols in windows:
        out[:, :, i, j] = np.tensordot(padded[:, :, rows, cols], w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, conv_param)


def conv_backward_naive(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the convolution: ``dx``, ``dw`` and ``db`` (sum over batch and positions)."""
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dpadded = np.zeros_like(padded)
    dw = np.zeros_like(w)
    for i, j, rows, cols in _windows(padded.shape[2], padded.shape[3], w.shape[2:], stride):
        g = dout[:, :, i, j]  # (N, F)
        dw += np.tensordot(g, padded[:, :, rows, cols], axes=([0], [0]))
        dpadded[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))
    h, wd = x.shape[2], x.shape[3]
    dx = dpadded[:, :, pad:pad + h, pad:pad + wd]  # not pad:-pad, which is empty for pad = 0
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def max_pool_forward_naive(x: np.ndarray, pool_param: dict[str, int]) -> tuple[np.ndarray, Cache]:
    """The maximum of each window: ``pool_param`` has ``pool_height``, ``pool_width`` and ``stride``."""
    size, stride = (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]
    windows = _windows(x.shape[2], x.shape[3], size, stride)
    out = np.zeros(x.shape[:2] + (windows[-1][0] + 1, windows[-1][1] + 1))
    for i, j, rows, cols in windows:
        out[:, :, i, j] = x[:, :, rows, cols].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Each window's upstream gradient goes to its maximum (the first one, in row-major order, on a tie).

    Windows may overlap (stride below the pool size): contributions add up.
    """
    x, pool_param = cache
    size, stride = (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]
    n, c = x.shape[:2]
    dx = np.zeros_like(x)
    for i, j, rows, cols in _windows(x.shape[2], x.shape[3], size, stride):
        flat = x[:, :, rows, cols].reshape(n, c, -1)
        routed = np.zeros_like(flat)
        np.put_along_axis(routed, flat.argmax(axis=2)[..., None], dout[:, :, i, j][..., None], axis=2)
        dx[:, :, rows, cols] += routed.reshape(n, c, *size)
    return dx
