r"""numpy code generated from BatchNorm's general compact form, and its latexify rendering."""

from __future__ import annotations

import functools
from typing import Any, Callable

import sympy as sp

from ....core.errors import UnsupportedError
from .indexed import general, general_compact

__all__ = ["GENERATED_FILENAME", "numpy_backward_source", "numpy_backward", "latexify_backward"]

GENERATED_FILENAME = "<symgrad-generated batchnorm_backward>"


def _code_expression() -> str:
    """The compact form of :func:`general_compact` printed by SymPy's NumPy printer, with the two
    sums and the indexed values replaced by array names (the sums run over the batch, axis 0)."""
    from sympy.printing.numpy import NumPyPrinter

    G = general()
    xh = sp.IndexedBase("xhat")
    names = {name: sp.Symbol(name) for name in ("g", "xhat", "sum_g", "sum_g_xhat", "m", "gamma", "eps", "var")}
    expr = general_compact(G, xhat=lambda k: xh[k])
    expr = expr.xreplace({G.total(G.g[G.j]): names["sum_g"], G.total(G.g[G.j] * xh[G.j]): names["sum_g_xhat"],
                          xh[G.i]: names["xhat"]})
    expr = expr.xreplace({G.g[G.i]: names["g"], G.m: names["m"], G.gamma: names["gamma"], G.eps: names["eps"],
                          G.var: names["var"]})
    leftover = expr.atoms(sp.Indexed, sp.Sum)
    if leftover:
        raise UnsupportedError(f"numpy code generation: could not name {leftover} in the compact form")
    return NumPyPrinter().doprint(expr).replace("numpy.", "np.")


def numpy_backward_source() -> str:
    """Python source of ``batchnorm_backward(g, x, gamma, eps) -> dx`` for arrays of shape (m, d)."""
    return (
        "def batchnorm_backward(g, x, gamma, eps):\n"
        "    m = x.shape[0]\n"
        "    mu = np.mean(x, axis=0)\n"
        "    var = np.mean((x - mu) ** 2, axis=0)\n"
        "    xhat = (x - mu) / np.sqrt(var + eps)\n"
        "    sum_g = np.sum(g, axis=0)\n"
        "    sum_g_xhat = np.sum(g * xhat, axis=0)\n"
        f"    return {_code_expression()}\n"
    )


@functools.lru_cache(maxsize=None)
def numpy_backward() -> Callable[..., Any]:
    """The generated function (compiled from :func:`numpy_backward_source`, our own text).

    Its source is registered with :mod:`linecache` so that :mod:`inspect` (and latexify) can read it.
    """
    import linecache

    import numpy as np

    source = numpy_backward_source()
    linecache.cache[GENERATED_FILENAME] = (len(source), None, source.splitlines(True), GENERATED_FILENAME)
    namespace: dict[str, Any] = {"np": np}
    exec(compile(source, GENERATED_FILENAME, "exec"), namespace)  # our generated code, no user text
    return namespace["batchnorm_backward"]


#: Reductions over the batch whose latexify rendering we fix: call name -> (replacement name, LaTeX).
_REDUCTIONS = {"sum": ("batch_sum", r"\sum_{i=1}^{m}"), "mean": ("batch_mean", r"\frac{1}{m} \sum_{i=1}^{m}")}


def _rewrite_reductions(source: str) -> str:
    """``np.sum(E, axis=0)`` / ``np.mean(E, axis=0)`` become ``batch_sum(E)`` / ``batch_mean(E)``.

    latexify-py 0.4 renders ``np.sum(E, axis=0)`` as :math:`\\sum E` (the axis is lost) and does not
    know ``np.mean``; the rewritten calls survive latexify as named functions that
    :func:`latexify_backward` then turns into sums over the batch.
    """
    import ast

    tree = ast.parse(source)

    class Rewrite(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            func = node.func
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "np"
                    and func.attr in _REDUCTIONS):
                axis = [k for k in node.keywords if k.arg == "axis"]
                if len(node.args) != 1 or len(axis) != 1 or not (
                        isinstance(axis[0].value, ast.Constant) and axis[0].value.value == 0):
                    raise UnsupportedError(f"latexify fix: only np.{func.attr}(E, axis=0) is supported")
                return ast.Call(ast.Name(_REDUCTIONS[func.attr][0], ast.Load()), node.args, [])
            return node

    return ast.unparse(ast.fix_missing_locations(Rewrite().visit(tree))) + "\n"


def _replace_calls(latex: str, name: str, prefix: str) -> str:
    r"""Replace ``\mathrm{name} \mathopen{}\left( ARG \mathclose{}\right)`` by ``prefix \left( ARG \right)``."""
    escaped = name.replace("_", "\\_")
    head = rf"\mathrm{{{escaped}}} \mathopen{{}}\left("
    out = latex
    while head in out:
        start = out.index(head)
        pos, depth = start + len(head), 1
        while depth:
            opening, closing = out.find(r"\left(", pos), out.find(r"\right)", pos)
            if closing < 0:
                raise UnsupportedError(f"latexify fix: unbalanced parentheses after {name}")
            if 0 <= opening < closing:
                depth, pos = depth + 1, opening + len(r"\left(")
            else:
                depth, pos = depth - 1, closing + len(r"\right)")
        inner = out[start + len(head):pos - len(r"\right)")]
        inner = inner.removesuffix(r"\mathclose{}").strip()
        out = out[:start] + rf"{prefix} \left( {inner} \right)" + out[pos:]
    return out


def latexify_backward(fix: bool = True) -> str:
    """The latexify-py rendering of the generated function; with ``fix``, sums and means over the batch
    are shown with their index (see :func:`_rewrite_reductions`)."""
    import latexify

    if not fix:
        return str(latexify.get_latex(numpy_backward(), use_math_symbols=True))
    import linecache

    import numpy as np

    source = _rewrite_reductions(numpy_backward_source())
    filename = GENERATED_FILENAME + " (for rendering)"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"np": np}
    exec(compile(source, filename, "exec"), namespace)  # our generated code, no user text
    latex = str(latexify.get_latex(namespace["batchnorm_backward"], use_math_symbols=True))
    for name, prefix in _REDUCTIONS.values():
        latex = _replace_calls(latex, name, prefix)
    return latex.replace(r"x.\mathrm{shape}_{0}", r"\#\mathrm{rows}(x)")
