"""The built-in catalog of checked derivations.

The catalog is a table (:data:`ENTRIES`): each entry's name, one-line
summary, and the module and function that build its
:class:`~symgrad.proofs.documents.Document`. Listing and describing entries
imports nothing heavy; :func:`get` imports the entry's module when the
document is first asked for, builds it once and keeps it. A new entry is a
module with a ``build()`` function plus one row here.
"""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import InputError, UnknownEntryError

if TYPE_CHECKING:  # pragma: no cover
    from ..proofs.documents import Document

__all__ = ["Entry", "ENTRIES", "names", "describe", "get", "forget", "built_from_modules", "source_files",
           "source_fingerprint"]


@dataclass(frozen=True)
class Entry:
    """One catalog entry: ``symgrad.catalog.<module>.<builder>()`` builds the document ``name``."""

    name: str
    module: str
    builder: str
    summary: str


ENTRIES: tuple[Entry, ...] = (
    Entry('activation-derivative-bounds', 'activations', 'build',
          "sup |f'| for sigmoid, tanh, ReLU, leaky ReLU, ELU, softplus, SiLU and GELU, derived and checked"),
    Entry('batchnorm-backward', 'batchnorm', 'build_batchnorm',
          'Batch normalization backward: the six equations of Ioffe & Szegedy derived on the computation graph, the compact form, general m with sum lemmas, edge cases, generated numpy code'),
    Entry('batchnorm-saturation', 'saturation', 'build',
          'Inputs N(-6, 1) saturate a sigmoid (E[sigma\'] about 0.004); after batch normalization, N(0, 1), E[sigma\'] is about 0.21; gamma and beta can undo the normalization'),
    Entry('chain-rule', 'chain_rule', 'build',
          "The chain rule: statement, Caratheodory's proof, Jacobian form and 22 checked instances"),
    Entry('computational-graph', 'graph', 'build',
          'Forward and backward passes on a computation graph, worked on the classic neuron, with the sigmoid-gate shortcut'),
    Entry('dense-connections', 'dense', 'build',
          'Dense connections (DenseNet): the gradient at x_l is its direct term plus a sum over the later layers; the direct term carries no Jacobian at any depth'),
    Entry('full-batch-vs-sgd', 'batch_vs_sgd', 'build',
          'A full-batch step costs N gradient evaluations, a minibatch step |B|; on x^2 - y^2 started on the stable manifold full-batch descent converges to the saddle (proved) while SGD noise leaves it'),
    Entry('gradient-clipping', 'clipping', 'build',
          'Clip-by-norm keeps the direction and gives norm at most c; clip-by-value changes the direction'),
    Entry('gradient-flow', 'gradient_bound', 'build_flow',
          'Gradient norms per hidden layer at initialization: sigmoid, tanh, ReLU, batch norm, residual'),
    Entry('gradient-product-bound', 'gradient_bound', 'build',
          "Backpropagated gradients through n sigmoid layers are at most 4^-n times the weights' product"),
    Entry('he-initialization', 'initialization', 'build',
          'He initialization: Var(z_l) = n Var(w) E[a^2], E[relu(z)^2] = Var(z)/2, so Var(w) = 2/n; Xavier beside it'),
    Entry('layernorm-backward', 'batchnorm', 'build_layernorm',
          'Layer normalization backward: normalizing over the features, compact form proved'),
    Entry('learning-rate-momentum', 'learning_rate', 'build',
          'Gradient descent on a quadratic converges iff 0 < eta < 2/L; the best step 2/(mu + L) gives (kappa - 1)/(kappa + 1), heavy-ball momentum (sqrt(kappa) - 1)/(sqrt(kappa) + 1)'),
    Entry('lstm-gating', 'lstm', 'build',
          'Along the LSTM cell state the gradient is multiplied by the forget gate f_t; a sigmoid RNN multiplies it by w sigma\'(z_t), at most (|w|/4)^T over T steps (induction)'),
    Entry('minibatch-gradient', 'minibatch', 'build',
          'The minibatch gradient is unbiased; its variance is sigma^2/|B|, times (N-|B|)/(N-1) without replacement'),
    Entry('relu-family', 'relu_family', 'build',
          'PReLU (derivatives in x and in the slope a), RReLU (expected slope (l + u)/2), Maxout (the arg max; ties are kinks left undefined), and the dead ReLU unit (zero gradient on the negative side)'),
    Entry('residual-gradient', 'residual', 'build',
          'The Jacobian of a residual block is I + J_F; over L blocks the identity path keeps a term 1'),
    Entry('rmsnorm-backward', 'batchnorm', 'build_rmsnorm',
          'RMS normalization backward: no centring, compact form proved'),
    Entry('sigmoid-derivative-bound', 'sigmoid', 'build',
          "The logistic sigmoid's derivative is sigma(1 - sigma) and at most 1/4, with equality only at 0"),
)

_BY_NAME = {e.name: e for e in ENTRIES}


def names() -> list[str]:
    """The names of all catalog entries, sorted."""
    return sorted(_BY_NAME)


def describe(name: str) -> str:
    """The one-line summary of an entry."""
    return _require(name).summary


def _require(name: str) -> Entry:
    try:
        return _BY_NAME[name]
    except KeyError:
        close = difflib.get_close_matches(name, _BY_NAME, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownEntryError(f"no catalog entry named {name!r}{hint} (known: {', '.join(names())})") from None


@functools.lru_cache(maxsize=None)
def get(name: str) -> "Document":
    """Build and return the document of entry ``name``."""
    spec = _require(name)
    module = importlib.import_module(f"{__name__}.{spec.module}")
    document = getattr(module, spec.builder)()
    if document.name != name:
        raise InputError(f"catalog entry {name!r} built a document named {document.name!r}")
    return document


_GET = get


def forget() -> None:
    """Drop the documents built so far in this process (:func:`get` builds them again)."""
    _GET.cache_clear()


def built_from_modules() -> bool:
    """Whether :func:`get` is the catalog's own (documents come from the entries' modules, not a stand-in)."""
    return get is _GET


# ---------------------------------------------------------------------------
# What an entry is built from: its source files, for the cache of rendered entries.
# ---------------------------------------------------------------------------

_CATALOG = Path(__file__).resolve().parent
_PACKAGE = _CATALOG.parent


def _entry_module_files() -> dict[str, Path]:
    """The catalog's own modules (one per entry or group of entries), by module name."""
    return {p.stem: p for p in _CATALOG.glob("*.py") if p.stem != "__init__"}


def _catalog_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The catalog modules that the source file ``path`` imports (relative or absolute imports)."""
    stat = os.stat(path)
    memo = (str(path), stat.st_mtime_ns, stat.st_size, tuple(sorted(modules)))
    if memo not in _IMPORTS:
        _IMPORTS[memo] = _parse_catalog_imports(path, modules)
    return _IMPORTS[memo]


_IMPORTS: dict[tuple[str, int, int, tuple[str, ...]], set[str]] = {}


def _parse_catalog_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return set(modules)  # cannot tell: depend on all of them
    package = ".".join(("symgrad", "catalog", *path.parent.relative_to(_CATALOG).parts))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for name in targets:
            parts = name.split(".")
            if parts[:2] == ["symgrad", "catalog"] and len(parts) > 2 and parts[2] in modules:
                found.add(parts[2])
    return found


def source_files(name: str) -> list[Path]:
    """Every file entry ``name``'s document can depend on, sorted.

    All of the ``symgrad`` package (the kernel, the engines, the renderer, the
    catalog's ``support/`` and its table) except the other entries' modules:
    the entry's own module and the catalog modules it imports, transitively.
    The shipped templates are not in the package; the caller adds them.
    """
    spec = _require(name)
    modules = _entry_module_files()
    if spec.module not in modules:
        raise ValueError(f"catalog entry {name!r} has no module {spec.module!r} in the catalog")
    package_files = [p for p in _PACKAGE.rglob("*") if "__pycache__" not in p.parts
                     and p.suffix not in (".pyc", ".pyo") and p.is_file()]
    needed: set[str] = set()
    todo = [spec.module]
    for path in package_files:  # the catalog's common code (its table, support/) may import an entry module
        if path.suffix == ".py" and path.is_relative_to(_CATALOG) and not (
                path.parent == _CATALOG and path.stem in modules):
            todo += sorted(_catalog_imports(path, modules))
    while todo:
        module = todo.pop()
        if module in needed or module not in modules:
            continue
        needed.add(module)
        todo += sorted(_catalog_imports(modules[module], modules))
    return sorted(p for p in package_files
                  if not (p.parent == _CATALOG and p.suffix == ".py" and p.stem in modules and p.stem not in needed))


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (remembered while its size and modification time stay the same)."""
    stat = os.stat(path)
    memo = (str(path), stat.st_mtime_ns, stat.st_size)
    if memo not in _DIGESTS:
        _DIGESTS[memo] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _DIGESTS[memo]


def source_fingerprint(name: str) -> str:
    """SHA-256 over the names and contents of :func:`source_files` of entry ``name``."""
    digest = hashlib.sha256()
    for path in source_files(name):
        digest.update(f"{path.relative_to(_PACKAGE).as_posix()}\0{file_digest(path)}\0".encode())
    return digest.hexdigest()
