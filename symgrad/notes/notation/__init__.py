r"""Deep-learning notation in LaTeX, read into SymPy safely.

A grammar symgrad owns (``latex.lark``, parsed LALR(1) by lark) and a
transformer with a symbol table; nothing is ever ``eval``-ed or
``sympify``-ed. What it reads:

- ``\frac``, ``\dfrac``, ``\sqrt``, ``\sqrt[n]``, powers, ``\cdot``,
  ``\times``, ``/``, implicit multiplication, ``\left( \right)``, ``|x|``;
- names: letters and Greek letters are real symbols; subscripts are part of the
  name (``x_i``, ``x_{i}`` are ``x_i``); accents make new names
  (``\hat{x}_i`` is ``xhat_i``, printed ``\hat{x}_{i}``); ``\mathrm{lr}``,
  ``\mathcal{L}``; ``e`` is Euler's number and ``\pi`` the constant;
- functions: ``\sigma(x)`` is the sigmoid, ``\exp \log \ln \tanh \sin ...``,
  ``\max``/``\min``, ``\operatorname{relu|softplus|sigmoid|erf|...}`` (other
  operator names are uninterpreted real functions), ``\mathbb{E}[X]`` an
  uninterpreted real function ``E``; declared functions ``f(x)`` and primes
  ``f'(x)``;
- ``\sum_{j=1}^{m}``/``\prod`` (``sympy.Sum``/``Product`` over an integer
  index), ``\lim_{x \to a}``, Leibniz derivatives ``\frac{\partial L}{\partial x_i}``,
  ``\frac{d}{dx}``, ``\partial_x`` (``sympy.Derivative``, unevaluated).

Errors are :class:`ParseError` (an :class:`~symgrad.errors.InputError`) with
line and column, or :class:`UnsupportedNotation` for notation symgrad cannot
give a meaning (vectors, integrals, ``\approx``).
"""

from __future__ import annotations

from .errors import ParseError, UnsupportedNotation
from .parser import (
    ChainSource,
    Display,
    Link,
    parse_definition,
    parse_display,
    parse_latex,
    parse_names,
    parse_relations,
    read_names,
)
from .symbols import Definition, SymbolTable, diff_members, freeze, member_family, index_symbol, real_symbol, subscript_name, subscripted
from .tokens import MAX_CHARS, MAX_DEPTH, Scan, scan

__all__ = [
    "ParseError", "UnsupportedNotation", "ChainSource", "Display", "Link", "parse_display", "parse_latex",
    "parse_relations", "parse_definition", "parse_names", "read_names", "Definition", "SymbolTable", "diff_members", "member_family", "freeze", "index_symbol", "real_symbol", "subscript_name", "subscripted", "MAX_CHARS",
    "MAX_DEPTH", "Scan", "scan",
]
