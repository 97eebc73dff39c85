r"""Render proofs, reports and documents as Markdown or LaTeX through Jinja.

The renderer is a pure function of the model plus templates:

1. the model (a Proof, Report, Document or DocumentReport) is turned into
   *views* (:mod:`symgrad.rendering.views`): small frozen records whose math is
   already LaTeX and whose user text is still raw;
2. a template of the chosen format lays the views out, escaping user text
   explicitly with the format's filters (:mod:`symgrad.rendering.filters`:
   ``md``/``md_line``/``md_prose`` for
   Markdown, ``tex``/``tex_text``/``tex_prose`` for LaTeX). Autoescaping is
   off: it knows only HTML.

Template search path (see :func:`environment`): the user's ``template_dir``
first, then the templates shipped in ``symgrad.templates``. Every shipped
template is also reachable as ``"symgrad/<name>"``, so a user template named
like one of ours shadows it and can still extend it::

    {% extends "symgrad/proof.md.j2" %}
    {% block verdicts %}{% endblock %}

LaTeX templates use other delimiters, because ``{{{`` and ``{#1}`` are
everyday LaTeX: ``((* block *))``, ``((( variable )))``, ``((# comment #))``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, Union

import jinja2

from ..core.errors import InputError, TemplateError
from ..proofs.documents import Document, DocumentReport
from ..proofs.proof import Proof, Report
from .filters import DELIMITERS, FILTERS
from .locations import shipped_templates
from .views import document_view, math_latex, proof_view

if TYPE_CHECKING:  # pragma: no cover
    from importlib.resources.abc import Traversable

__all__ = [
    "render",
    "environment",
    "shipped_templates",
    "normalize_format",
    "math_latex",
    "proof_view",
    "document_view",
    "render_template",
    "FORMATS",
]

#: Accepted format names and the file extension of their templates.
FORMATS: dict[str, str] = {"markdown": "md", "md": "md", "latex": "tex", "tex": "tex"}

TemplateDir = Union[str, "os.PathLike[str]"]


def normalize_format(fmt: str) -> str:
    """``"markdown"``/``"md"`` -> ``"md"``, ``"latex"``/``"tex"`` -> ``"tex"``."""
    key = fmt.strip().lower() if isinstance(fmt, str) else fmt
    if key not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: use one of 'markdown' (or 'md'), 'latex' (or 'tex')")
    return FORMATS[key]


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------


class _TraversableLoader(jinja2.BaseLoader):
    """Load templates from an ``importlib.resources`` Traversable (a dir or a zip)."""

    def __init__(self, root: "Traversable") -> None:
        self.root = root

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        parts = [p for p in template.split("/") if p]
        if any(p in (".", "..") for p in parts) or not parts:
            raise jinja2.TemplateNotFound(template)
        node = self.root
        for part in parts:
            node = node.joinpath(part)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        source = node.read_text(encoding="utf-8")
        filename = str(node) if isinstance(node, Path) else None
        return source, filename, lambda: True

    def list_templates(self) -> list[str]:
        names: list[str] = []

        def walk(node: "Traversable", prefix: str) -> None:
            for child in node.iterdir():
                if child.is_dir():
                    walk(child, prefix + child.name + "/")
                elif child.name.endswith(".j2"):
                    names.append(prefix + child.name)

        walk(self.root, "")
        return sorted(names)


def _template_dirs(template_dir: TemplateDir | Sequence[TemplateDir] | None) -> tuple[str, ...]:
    if template_dir is None:
        return ()
    items: Sequence[Any]
    if isinstance(template_dir, (str, os.PathLike)):
        items = [template_dir]
    else:
        items = list(template_dir)
    dirs = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise InputError(f"template_dir: expected a path or a list of paths, got {type(item).__name__}")
        path = Path(item).expanduser().resolve()
        if not path.is_dir():
            raise InputError(f"template_dir {str(item)!r} is not a directory")
        dirs.append(str(path))
    return tuple(dirs)


def environment(fmt: str, template_dir: TemplateDir | Sequence[TemplateDir] | None = None) -> jinja2.Environment:
    """The Jinja environment of ``fmt`` with the user's directories first.

    Loader: ``ChoiceLoader([user dirs..., shipped, PrefixLoader({"symgrad": shipped})])``:
    a name like ``proof.md.j2`` finds the user's file if there is one, and
    ``symgrad/proof.md.j2`` always finds ours.
    """
    return _environment(normalize_format(fmt), _template_dirs(template_dir))


@functools.lru_cache(maxsize=16)
def _environment(ext: str, dirs: tuple[str, ...]) -> jinja2.Environment:
    shipped = _TraversableLoader(shipped_templates())
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(list(dirs))] if dirs else []
    loaders += [jinja2.PrefixLoader({"symgrad": shipped}), shipped]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        **DELIMITERS[ext],
    )
    env.filters.update(FILTERS[ext])
    env.globals["fmt"] = ext
    return env


def render_template(name: str, fmt: str, template_dir: TemplateDir | Sequence[TemplateDir] | None = None,
                    **context: Any) -> str:
    """Render the template ``name`` of ``fmt`` with ``context``; errors become TemplateError."""
    env = environment(fmt, template_dir)
    try:
        template = env.get_template(name)
        return template.render(**context)
    except jinja2.TemplateNotFound as exc:
        where = ", ".join([*_template_dirs(template_dir), str(shipped_templates())])
        raise TemplateError(f"template {exc.name!r} not found (searched: {where})") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template {exc.filename or exc.name or name!r}, line {exc.lineno}: {exc.message}"
        ) from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {name!r} (or one it includes) uses an undefined value: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template {name!r} failed: {exc}") from None


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------


def render(obj: Proof | Report | Document | DocumentReport, fmt: str, *,
           template_dir: TemplateDir | Sequence[TemplateDir] | None = None) -> str:
    """Render ``obj`` as ``"markdown"``/``"md"`` or ``"latex"``/``"tex"``; never runs the kernel.

    A :class:`Report` or :class:`DocumentReport` shows each step's verdict; a
    bare :class:`Proof` or :class:`Document` renders as a draft, without
    verdicts. (``symgrad.render`` checks first, then calls this.) Markdown of
    a proof is a fragment; LaTeX is always a complete document.
    ``template_dir`` (a path or a list of paths) is searched before the
    shipped templates.
    """
    ext = normalize_format(fmt)
    if isinstance(obj, Proof):
        return render_template(f"report.{ext}.j2", ext, template_dir, proof=proof_view(obj))
    if isinstance(obj, Report):
        return render_template(f"report.{ext}.j2", ext, template_dir, proof=proof_view(obj.proof, obj))
    if isinstance(obj, Document):
        return render_template(f"document.{ext}.j2", ext, template_dir, document=document_view(obj))
    if isinstance(obj, DocumentReport):
        view = document_view(obj.document, obj)
        return render_template(f"document.{ext}.j2", ext, template_dir, document=view)
    raise InputError(
        f"render: expected a Proof, Report, Document or DocumentReport, got {type(obj).__name__}"
    )
