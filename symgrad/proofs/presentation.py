"""How proofs, reports and documents present themselves, without knowing the renderer.

The model lives below the renderer, so its display methods (``repr``,
``to_markdown``, ``to_latex``, Jupyter's ``_repr_mimebundle_``) cannot import
it. They ask the *presenter* installed here instead. The package root
(``symgrad/__init__.py``, where checking and rendering are both visible)
installs :class:`symgrad.interactive.Presenter` once; until then a plain
presenter answers with the objects' type and size. This is the only wiring
that crosses the layers upwards, and it is done by the root, never by a
module's import.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Presenter", "Presentable", "Renderable", "install", "current"]


class Presenter(Protocol):
    """What the model needs from the layers above it."""

    def text(self, obj: Any) -> str:
        """Readable terminal text (``repr``)."""

    def render(self, obj: Any, fmt: str, **options: Any) -> str:
        """Check ``obj`` and render it as ``fmt`` (``markdown`` or ``latex``)."""

    def mimebundle(self, obj: Any) -> dict[str, str]:
        """Jupyter's rich display: ``text/plain``, ``text/markdown``, ``text/latex``."""


class _Plain:
    """The presenter before the package root installs the real one."""

    def text(self, obj: Any) -> str:
        return f"<{type(obj).__name__}>"

    def render(self, obj: Any, fmt: str, **options: Any) -> str:
        raise RuntimeError("no renderer installed: import symgrad")

    def mimebundle(self, obj: Any) -> dict[str, str]:
        return {"text/plain": self.text(obj)}


_current: Presenter = _Plain()


def install(presenter: Presenter) -> None:
    """Make ``presenter`` the one the model's display methods use."""
    global _current
    _current = presenter


def current() -> Presenter:
    """The installed presenter."""
    return _current


class Presentable:
    """``repr`` and Jupyter's rich display through the installed presenter (a mixin)."""

    def __repr__(self) -> str:
        return current().text(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return current().mimebundle(self)


class Renderable(Presentable):
    """Also ``to_markdown()`` and ``to_latex()``: checked, then rendered (see ``symgrad.render``)."""

    def to_markdown(self, **options: Any) -> str:
        """Check and render as Markdown."""
        return current().render(self, "markdown", **options)

    def to_latex(self, **options: Any) -> str:
        """Check and render as LaTeX."""
        return current().render(self, "latex", **options)
