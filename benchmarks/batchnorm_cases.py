"""BatchNorm (training mode): a forward pass and hand-written backward passes, one
correct and four with planted bugs.

Shared by ``benchmarks/gradcheck_vs_torch.py`` (timings) and
``tests/test_gradcheck.py`` (every bug detected, every correct case passed). It
lives here, not in the ``symgrad`` package, because code with planted bugs is
test material, not library API.

The formulas use only operations NumPy arrays and torch tensors share
(``.sum(0)``, ``.mean(0)``, ``** -0.5``, ``[:, None]``), so one implementation
serves both; :func:`torch_batchnorm` wraps it in a ``torch.autograd.Function``.

For ``x`` of shape (m, d), ``x̂ = (x - mean) / sqrt(var + eps)``,
``y = gamma * x̂ + beta``; with upstream gradient ``g`` the correct backward is
the compact form

    dx = gamma / (m sqrt(var + eps)) * (m g - Σ_batch g - x̂ Σ_batch(g x̂)),
    dgamma = Σ_batch g x̂,   dbeta = Σ_batch g.
"""

from __future__ import annotations

from typing import Any

EPS = 1e-5

#: The backward passes: name -> what is wrong with it.
CASES: dict[str, str] = {
    "correct": "the compact form",
    "dropped-term": "drops the x̂·Σ g x̂ term of dx",
    "eps-forward-only": "leaves eps out of the backward (1/sqrt(var) instead of 1/sqrt(var + eps))",
    "wrong-sign": "adds Σ g instead of subtracting it in dx",
    "wrong-axis": "takes the mean of g over the features instead of the batch (mis-broadcast sum)",
}
BUGS = tuple(name for name in CASES if name != "correct")

#: (m, d) sizes of the benchmark.
SIZES = ((8, 4), (64, 16), (256, 64))


def forward(x: Any, gamma: Any, beta: Any, eps: float = EPS) -> Any:
    """``gamma * (x - mean) / sqrt(var + eps) + beta`` over the batch (axis 0)."""
    centred = x - x.mean(0)
    var = (centred * centred).mean(0)
    return gamma * centred * (var + eps) ** -0.5 + beta


def backward(case: str, g: Any, x: Any, gamma: Any, beta: Any = None, eps: float = EPS) -> tuple[Any, Any, Any]:
    """``(dx, dgamma, dbeta)`` for the upstream gradient ``g``, as written in ``case``."""
    if case not in CASES:
        raise KeyError(f"unknown case {case!r}; known: {', '.join(CASES)}")
    m = x.shape[0]
    centred = x - x.mean(0)
    var = (centred * centred).mean(0)
    inv = (var + (0.0 if case == "eps-forward-only" else eps)) ** -0.5
    xhat = centred * inv
    dbeta = g.sum(0)
    dgamma = (g * xhat).sum(0)
    scale = gamma * inv / m
    if case == "dropped-term":
        dx = scale * (m * g - dbeta)
    elif case == "wrong-sign":
        dx = scale * (m * g + dbeta - xhat * dgamma)
    elif case == "wrong-axis":
        dx = scale * (m * g - m * g.mean(1)[:, None] - xhat * dgamma)
    else:  # correct and eps-forward-only
        dx = scale * (m * g - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


_TORCH_FUNCTIONS: dict[str, Any] = {}


def torch_batchnorm(case: str) -> Any:
    """A ``torch.autograd.Function`` whose ``backward`` is :func:`backward` for ``case``."""
    if case in _TORCH_FUNCTIONS:
        return _TORCH_FUNCTIONS[case]
    if case not in CASES:
        raise KeyError(f"unknown case {case!r}; known: {', '.join(CASES)}")
    import torch

    class BatchNorm(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, gamma: Any, beta: Any) -> Any:
            ctx.save_for_backward(x, gamma)
            return forward(x, gamma, beta)

        @staticmethod
        def backward(ctx: Any, g: Any) -> tuple[Any, Any, Any]:
            x, gamma = ctx.saved_tensors
            return backward(case, g, x, gamma)

    BatchNorm.__name__ = BatchNorm.__qualname__ = "BatchNorm_" + case.replace("-", "_")
    _TORCH_FUNCTIONS[case] = BatchNorm
    return BatchNorm


def numpy_inputs(m: int, d: int, seed: int = 0, dtype: Any = "float64") -> tuple[Any, Any, Any]:
    """``(x, gamma, beta)``: x standard normal, gamma around 1, beta standard normal."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, d))
    gamma = 1.0 + 0.5 * rng.standard_normal(d)
    beta = rng.standard_normal(d)
    return x.astype(dtype), gamma.astype(dtype), beta.astype(dtype)


def torch_inputs(m: int, d: int, seed: int = 0, dtype: Any = None) -> tuple[Any, Any, Any]:
    """The same values as :func:`numpy_inputs`, as torch tensors that require grad."""
    import torch

    dtype = dtype or torch.float64
    return tuple(torch.tensor(a, dtype=dtype, requires_grad=True)  # type: ignore[return-value]
                 for a in numpy_inputs(m, d, seed))
