"""The built-in catalog of checked derivations.

Each entry is a function that builds a :class:`~symgrad.model.Document`;
entries register themselves with :func:`entry`. ``names()`` lists them and
``get(name)`` builds (once) and returns one.
"""

from __future__ import annotations

import difflib
import functools
from typing import Callable

from ..errors import InputError, UnknownEntryError
from ..model import Document

__all__ = ["entry", "names", "get", "describe"]

_BUILDERS: dict[str, Callable[[], Document]] = {}
_SUMMARIES: dict[str, str] = {}


def entry(name: str, summary: str) -> Callable[[Callable[[], Document]], Callable[[], Document]]:
    """Register ``builder`` as the catalog entry ``name``."""

    def register(builder: Callable[[], Document]) -> Callable[[], Document]:
        if name in _BUILDERS:
            raise InputError(f"catalog entry {name!r} is registered twice")
        _BUILDERS[name] = builder
        _SUMMARIES[name] = summary
        return builder

    return register


def names() -> list[str]:
    """The names of all catalog entries, sorted."""
    return sorted(_BUILDERS)


def describe(name: str) -> str:
    """The one-line summary of an entry."""
    _require(name)
    return _SUMMARIES[name]


def _require(name: str) -> None:
    if name not in _BUILDERS:
        close = difflib.get_close_matches(name, _BUILDERS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownEntryError(f"no catalog entry named {name!r}{hint} (known: {', '.join(names())})")


@functools.lru_cache(maxsize=None)
def get(name: str) -> Document:
    """Build and return the document of entry ``name``."""
    _require(name)
    document = _BUILDERS[name]()
    if document.name != name:
        raise InputError(f"catalog entry {name!r} built a document named {document.name!r}")
    return document


# Entries register themselves on import.
from . import sigmoid as _sigmoid  # noqa: E402,F401
from . import chain_rule as _chain_rule  # noqa: E402,F401
from . import graph as _graph  # noqa: E402,F401
from . import gradient_bound as _gradient_bound  # noqa: E402,F401
from . import activations as _activations  # noqa: E402,F401
from . import batchnorm as _batchnorm  # noqa: E402,F401
from . import clipping as _clipping, initialization as _initialization, minibatch as _minibatch, residual as _residual  # noqa: E402,F401,E501
