"""Inputs and callables as NumPy: arrays, torch tensors (never importing torch), f scalarised, grad_f's results."""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ...core.errors import InputError, UnsupportedError


# ---------------------------------------------------------------------------
# Arrays: NumPy and (optionally) torch


def torch_of(value: Any) -> Any:
    """The torch module if ``value`` is a torch tensor, else None."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return torch
    return None


def _dtype_name(dtype: Any) -> str:
    """A NumPy or torch dtype as a short name (``float32``)."""
    return str(dtype).replace("torch.", "")


@dataclass
class Arg:
    """One positional input of f: how to perturb it and at what precision."""

    position: int
    name: str
    kind: str  # "numpy" | "torch" | "scalar" | "const"
    value: Any
    shape: tuple[int, ...] = ()
    dtype: str = ""
    eps: float = 0.0
    scale: float = 1.0
    work: Any = None  # the value f is evaluated at (possibly cast to float64)

    @property
    def size(self) -> int:
        """The number of entries."""
        return int(np.prod(self.shape)) if self.shape else 1

    def describe(self) -> str:
        """Name, shape and dtype, for reports."""
        return f"{self.name} {self.shape} {self.dtype}"


def classify(position: int, name: str, value: Any) -> Arg:
    """How to treat one input: a float array, tensor or scalar to perturb, a complex one, or a constant."""
    torch = torch_of(value)
    if torch is not None:
        if value.is_complex():
            return Arg(position, name, "complex", value, tuple(value.shape), _dtype_name(value.dtype))
        if value.is_floating_point():
            return Arg(position, name, "torch", value, tuple(value.shape), _dtype_name(value.dtype),
                        float(torch.finfo(value.dtype).eps))
        return Arg(position, name, "const", value, tuple(value.shape), _dtype_name(value.dtype))
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "c":
            return Arg(position, name, "complex", value, value.shape, str(value.dtype))
        if value.dtype.kind == "f":
            return Arg(position, name, "numpy", value, value.shape, str(value.dtype),
                        float(np.finfo(value.dtype).eps))
        return Arg(position, name, "const", value, value.shape, str(value.dtype))
    if isinstance(value, np.floating):
        return Arg(position, name, "scalar", value, (), str(value.dtype), float(np.finfo(value.dtype).eps))
    if isinstance(value, (complex, np.complexfloating)):
        return Arg(position, name, "complex", value, (), type(value).__name__)
    if isinstance(value, float):
        return Arg(position, name, "scalar", value, (), "float64", float(np.finfo(np.float64).eps))
    return Arg(position, name, "const", value, (), type(value).__name__)


def as_float64(value: Any) -> np.ndarray:
    """Any array, tensor or number as a float64 NumPy array (a copy for tensors)."""
    torch = torch_of(value)
    if torch is not None:
        return value.detach().to("cpu", torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def copy_value(value: Any) -> Any:
    """A copy of an array or tensor (a tensor keeps its ``requires_grad``); anything else as is."""
    torch = torch_of(value)
    if torch is not None:
        return value.detach().clone().requires_grad_(bool(value.requires_grad))
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def modified(original: Any, handed: Any) -> bool:
    """Whether ``handed`` (a copy of ``original`` given to the user's code) no longer equals it."""
    if torch_of(original) is None and not isinstance(original, np.ndarray):
        return False
    try:
        before, after = as_float64(original), as_float64(handed)
    except (TypeError, ValueError):
        return False
    return before.shape != after.shape or not np.array_equal(before, after, equal_nan=True)


def cast(arg: Arg, value: Any, float64: bool) -> Any:
    """``value`` (the input or a perturbed copy) in the working precision."""
    if arg.kind == "torch":
        torch = torch_of(arg.value)
        target = torch.float64 if float64 else arg.value.dtype
        return value.detach().to(dtype=target).clone()
    if arg.kind == "numpy":
        return np.array(value, dtype=np.float64 if float64 else value.dtype)
    if arg.kind == "scalar":
        return float(value) if float64 or isinstance(value, float) else type(arg.value)(value)
    return value


def rms(array: np.ndarray) -> float:
    """The root mean square of ``array``: the scale of an input (1 when empty, zero or not finite)."""
    if array.size == 0:
        return 1.0
    value = float(np.sqrt(np.mean(np.square(array))))
    return value if value > 0 and math.isfinite(value) else 1.0


def signed(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random entries of random sign and magnitude in [0.5, 1.5)."""
    magnitude = 0.5 + rng.random(shape)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return sign * magnitude


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``sum(a * b)`` in float64 by pairwise summation.

    Not ``np.dot``: BLAS reductions start thread pools that fight torch's on a
    busy machine (milliseconds per call); pairwise summation is also accurate.
    """
    return float(np.multiply(a.reshape(-1), b.reshape(-1), dtype=np.float64).sum())


# ---------------------------------------------------------------------------
# The scalarised function phi(t) = <u, f(x + t v)>


class Objective:
    """Evaluates ``<u, f(...)>`` (or a scalar f) at perturbed working inputs."""

    def __init__(self, f: Callable[..., Any], args: list[Arg], upstream: np.ndarray | None,
                 out_shape: tuple[int, ...] | None) -> None:
        self.f = f
        self.args = args
        self.base = [a.work for a in args]
        self.upstream = upstream
        self.out_shape = out_shape
        self.calls = 0
        self.torch: Any = next((torch_of(a.value) for a in args if a.kind == "torch"), None)
        self._phi0: float | None = None
        self._v_cache: dict[tuple[int, int], Any] = {}

    def at_zero(self) -> float:
        """``phi`` at the unperturbed inputs (evaluated once)."""
        if self._phi0 is None:
            self._phi0 = self(0.0, ())
        return self._phi0

    def known_at_zero(self, out: Any) -> None:
        """Take ``phi(0)`` from ``out``, f's output at exactly the working inputs (saves an evaluation)."""
        self._phi0 = self._scalar(out)

    def working(self, arg: Arg, v: np.ndarray) -> Any:
        """``v`` in the working type of ``arg``: a tensor, an array of its dtype, or a float."""
        if arg.kind == "torch":
            return self.torch.as_tensor(v, dtype=arg.work.dtype, device=arg.work.device)
        if arg.kind == "numpy":
            return v.astype(arg.work.dtype, copy=False)
        return float(v)

    def direction_for(self, arg: Arg, key: int, v: np.ndarray) -> Any:
        """:meth:`working` ``v``, cached per direction ``key``."""
        cache_key = (key, arg.position)
        found = self._v_cache.get(cache_key)
        if found is None:
            found = self.working(arg, v)
            self._v_cache[cache_key] = found
        return found

    def along(self, direction: Sequence[tuple[Arg, Any]]) -> Along:
        """``phi`` on the line ``x + t v`` (``direction`` pairs each perturbed input with its v)."""
        return Along(self, direction)

    def _scalar(self, out: Any) -> float:
        """f's output as phi: the value of a scalar f, or ``<u, f>``."""
        if self.torch is not None and isinstance(out, self.torch.Tensor):
            out = out.detach().cpu().numpy()
        value = np.asarray(out)
        if self.upstream is None:
            return float(value.reshape(-1)[0]) if value.size == 1 else math.nan
        return dot(self.upstream, value)

    def __call__(self, t: float, direction: Sequence[tuple[Arg, Any]]) -> float:
        """``phi`` at ``x + t v`` (``direction`` pairs each perturbed input with its v).

        Call inside :meth:`quiet`.
        """
        values = list(self.base)
        for arg, v in direction:
            if arg.kind == "torch":
                values[arg.position] = self.torch.add(arg.work, v, alpha=t)  # one kernel, not two
            elif arg.kind == "scalar":
                values[arg.position] = type(arg.work)(arg.work + t * v)
            else:
                values[arg.position] = arg.work + t * v
        self.calls += 1
        try:
            return self._scalar(self.f(*values))
        except (InputError, UnsupportedError):
            raise
        except Exception:  # f's domain ends near x: treated like a non-finite value
            return math.nan

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Evaluate without warnings, floating-point errors or (torch) autograd graphs."""
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            if self.torch is None:
                yield
            else:
                with self.torch.no_grad():
                    yield


@dataclass(frozen=True)
class Along:
    """``t -> phi(x + t v)``: an :class:`Objective` on one line (a :class:`~symgrad.numerics.differences.Line`)."""

    phi: Objective
    direction: Sequence[tuple[Arg, Any]]

    def __call__(self, t: float) -> float:
        """``phi(x + t v)``."""
        return self.phi(t, self.direction)

    def at_zero(self) -> float:
        """``phi(x)``, evaluated once per objective."""
        return self.phi.at_zero()


# ---------------------------------------------------------------------------
# Calling the user's f and gradient

#: How to check a layer written as forward -> (out, cache), backward(dout, cache): quoted by the errors.
LAYER_HINT = "check the layer with sg.check_layer(forward, backward, *inputs, static=(...))"


def positional_parameters(f: Callable[..., Any]) -> list[inspect.Parameter]:
    """f's positional parameters (empty when its signature cannot be read)."""
    try:
        return [p for p in inspect.signature(f).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def function_apply_parameters(f: Callable[..., Any]) -> list[inspect.Parameter] | None:
    """For ``MyFunction.apply`` (a ``torch.autograd.Function``): the inputs of its ``forward``, else None.

    ``forward(ctx, x, w)`` gives ``x, w``; a class that defines its own
    ``setup_context`` has no ``ctx`` in ``forward``. Duck-typed: torch is not imported.
    """
    owner = getattr(f, "__self__", None)
    forward = getattr(owner, "forward", None)
    if getattr(f, "__name__", "") != "apply" or not inspect.isclass(owner) or not callable(forward):
        return None
    params = positional_parameters(forward)
    own_setup = any("setup_context" in vars(c) for c in owner.__mro__
                    if not (c.__module__ or "").startswith("torch"))
    return params if own_setup else params[1:]


def input_names(f: Callable[..., Any], count: int, names: Sequence[str] | None) -> list[str]:
    """The inputs' names: ``names`` checked, else f's positional parameters, else ``input i``."""
    if names is not None:
        if isinstance(names, str) or len(names) != count:
            raise InputError(f"names must be a sequence of {count} strings, one per input, got {names!r}")
        return [str(n) for n in names]
    params = function_apply_parameters(f)
    if params is None:
        params = positional_parameters(f)
    if len(params) >= count:
        return [p.name for p in params[:count]]
    return [f"input {i}" for i in range(count)]


def split_gradients(result: Any, count: int, checked: list[int], call: str) -> list[Any]:
    """Split grad_f's result into one entry per input (None = no gradient)."""
    if isinstance(result, (tuple, list)):
        items = list(result)
    elif count == 1 or len(checked) == 1:
        items = [result]
    else:
        raise InputError(f"{call} must return a tuple with one gradient per input ({count}), "
                         f"got a single {type(result).__name__}")
    if len(items) == count:
        return items
    if len(items) == len(checked):
        full: list[Any] = [None] * count
        for pos, item in zip(checked, items):
            full[pos] = item
        return full
    raise InputError(f"{call} returned {len(items)} gradients for {count} inputs ({len(checked)} checked); "
                     "return one per input (None for a constant), or one per checked input and name those "
                     "with wrt=[...]")


class Autograd:
    """One forward pass with autograd recording (its output doubles as f at the inputs), then backward."""

    def __init__(self, f: Callable[..., Any], args: list[Arg], checked: list[int]) -> None:
        self.torch = next(torch_of(a.value) for a in args if a.kind == "torch")
        values = [a.value for a in args]
        self.leaves = []
        for pos in checked:
            leaf = values[pos].detach().clone().requires_grad_(True)
            values[pos] = leaf
            self.leaves.append(leaf)
        self.count, self.checked = len(args), checked
        with self.torch.enable_grad():
            self.out = f(*values)
        if not getattr(self.out, "requires_grad", False):
            raise InputError("grad_f='autograd': the output of f does not require grad, so autograd "
                             "has no gradient to check (does f detach or leave torch?)")

    def gradients(self, upstream: Any) -> list[Any]:
        """The vector-Jacobian product with ``upstream``, one entry per input (None where unchecked)."""
        grads = self.torch.autograd.grad(self.out, self.leaves, grad_outputs=upstream, allow_unused=True)
        full: list[Any] = [None] * self.count
        for pos, grad in zip(self.checked, grads):
            full[pos] = grad
        return full


def prepare_gradient(grad: Any, arg: Arg) -> tuple[np.ndarray | None, str]:
    """The gradient as float64 NumPy, or the reason it is wrong."""
    if grad is None:
        return np.zeros(arg.shape), ""
    try:
        array = as_float64(grad)
    except (TypeError, ValueError) as exc:
        return None, f"the gradient for {arg.name} is not numeric ({type(grad).__name__}: {exc})"
    if array.shape != arg.shape:
        return None, f"the gradient for {arg.name} has shape {array.shape}; the input has shape {arg.shape}"
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        return None, f"the gradient for {arg.name} is not finite at index {bad}"
    return array, ""


def output_info(out: Any) -> tuple[tuple[int, ...], str]:
    """Shape and dtype of f's output; UnsupportedError/InputError for complex, tuple or non-numeric outputs."""
    torch = torch_of(out)
    if torch is not None:
        if out.is_complex():
            raise UnsupportedError("f returns a complex tensor; gradients of complex outputs are not supported")
        return tuple(out.shape), _dtype_name(out.dtype)
    if isinstance(out, (tuple, list)):
        hint = ""
        if len(out) == 2 and (torch_of(out[0]) is not None or isinstance(out[0], (np.ndarray, np.floating, float))):
            hint = f"; f looks like a layer's forward(...) -> (out, cache): {LAYER_HINT}"
        raise UnsupportedError(f"f returns a {type(out).__name__} of outputs; return one array "
                               "(e.g. a sum or a concatenation) to check one gradient at a time" + hint)
    array = np.asarray(out)
    if array.dtype.kind not in "fiu":
        raise InputError(f"f must return a real number or array, got {type(out).__name__} of dtype {array.dtype}")
    return array.shape, str(array.dtype)


def choose_upstream(out: Any, upstream: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    """The upstream gradient in float64 (for ``<u, f>``) and in f's output type (for grad_f).

    A random upstream is rounded to the output's dtype first, so both agree exactly.
    """
    torch = torch_of(out)
    shape = tuple(out.shape) if torch is not None else np.shape(out)
    if upstream is not None:
        u64 = as_float64(upstream)
        if u64.shape != shape:
            raise InputError(f"upstream has shape {u64.shape}; f returns shape {shape}")
        native = upstream
        if torch is not None and torch_of(upstream) is None:
            native = torch.as_tensor(u64, dtype=out.dtype, device=out.device)
        return u64.copy(), native
    u64 = signed(rng, shape)
    if torch is not None:
        native = torch.as_tensor(u64, dtype=out.dtype, device=out.device)
    else:
        dtype = np.asarray(out).dtype
        native = u64.astype(dtype if dtype.kind == "f" else np.float64)
    return as_float64(native).copy(), native  # a copy: grad_f never holds the u that phi uses
