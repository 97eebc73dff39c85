"""check_layer: a layer written as ``forward(*inputs, *static) -> (out, cache)`` and ``backward(dout, cache)``."""

from __future__ import annotations

from typing import Any, Callable

from ...core.errors import InputError
from .adapters import input_names
from .check import check_gradient
from .report import GradientReport


def _statics(static: Any) -> tuple[Any, ...]:
    """``static`` as a tuple: a tuple or list as is, any other value as the only one."""
    return tuple(static) if isinstance(static, (tuple, list)) else (static,)


def check_layer(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    *inputs: Any,
    static: Any = (),
    **options: Any,
) -> GradientReport:
    """Check a layer's hand-written ``backward`` against its ``forward``.

    The convention of many educational and research layer libraries:
    ``forward(*inputs, *static)`` returns ``(out, cache)`` and
    ``backward(dout, cache)`` returns one gradient per input (a bare array for
    one input), e.g. ``batchnorm_forward(x, gamma, beta, bn_param)`` and
    ``batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)``. ``inputs`` are
    checked; ``static`` values (``bn_param``, ``conv_param``, a seeded
    ``dropout_param``; a tuple, or a single value) are passed through
    unchanged, after the inputs. Each call of ``backward`` gets the cache of a
    forward pass at exactly the inputs it is compared at.

    Runs :func:`check_gradient` (``f`` is ``forward(...)[0]``) and takes its
    options (``upstream``, ``mode``, ``wrt``, ``seed``...); inputs are named
    from ``forward``'s signature. The verdict is passed / failed /
    inconclusive: evidence, never a proof.
    """
    if not callable(forward) or not callable(backward):
        raise InputError("check_layer(forward, backward, *inputs) needs two callables: "
                         "forward(*inputs, *static) -> (out, cache) and backward(dout, cache)")
    if not inputs:
        raise InputError("check_layer(forward, backward, *inputs) needs at least one input")
    statics = _statics(static)
    count = len(inputs)

    def run(values: tuple[Any, ...]) -> tuple[Any, Any]:
        result = forward(*values, *statics)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise InputError(f"forward must return (out, cache), got {type(result).__name__}"
                             + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
                             + "; for a forward that returns the output alone, use sg.check_gradient")
        return result[0], result[1]

    def f(*values: Any) -> Any:
        return run(values)[0]

    def grad_f(*args: Any) -> Any:
        dout, values = (args[0], args[1:]) if len(args) == count + 1 else (1.0, args)  # 1.0: a scalar output
        return backward(dout, run(values)[1])

    names = options.pop("names", None)
    if names is None:
        names = input_names(forward, count, None)
    return check_gradient(f, grad_f, *inputs, names=names, **options)
