"""Where the shipped templates are: found without importing Jinja, SymPy or the renderer.

The command line's render cache keys on the templates' contents before anything heavy is
imported, so this lookup lives apart from :mod:`symgrad.rendering.render`, which uses it too.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import TemplateError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["shipped_templates"]


def shipped_templates() -> "Traversable":
    """The directory of the shipped templates.

    ``symgrad.templates`` when installed (``templates/`` is mapped to that
    package in the wheel), else the top-level ``templates/`` of a checkout.
    """
    try:
        root = importlib.resources.files("symgrad.templates")
        if root.joinpath("document.md.j2").is_file():
            return root
    except (ModuleNotFoundError, TypeError):
        pass
    fallback = Path(__file__).resolve().parents[2] / "templates"
    if not (fallback / "document.md.j2").is_file():
        raise TemplateError(
            "cannot find symgrad's templates: neither the package symgrad.templates "
            f"nor {fallback} holds document.md.j2 (a broken installation?)"
        )
    return fallback
