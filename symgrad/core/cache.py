"""A persistent cache of kernel verdicts, keyed on exactly what decides them.

A verdict of :func:`symgrad.core.kernel.decide` depends only on the step (both
sides, the relation, the assumptions, the definitions, whether it is searched
symbolically), the kernel's options and the code that computes it. The cache
key is a SHA-256 of exactly that content:

- a canonical text of every SymPy object of the step: ``sympy.srepr`` (which
  spells out each symbol's assumptions), with Dummy symbols renumbered in order
  of first appearance (their indices differ from process to process) and the
  assumptions of undefined functions added (``srepr`` omits them);
- every field of :class:`~symgrad.core.kernel.CheckOptions`;
- the versions of symgrad, SymPy, mpmath and Python, a hash of the kernel's own
  source (every module of ``symgrad.core``), and a hash of the source file of
  every module that defines a non-SymPy class appearing in the step (e.g. a
  custom ``sp.Function``). A step using a class with no source file (defined in
  ``__main__``) is never cached.

Only verdicts that do not depend on the clock are stored. The kernel's budget
is wall-clock time, so under load a step near its budget may end differently.
The kernel counts, per phase of a decision (preparing the sides, the quick
sample, the symbolic attempts, the full sample), every time the clock cut a
computation short (:func:`symgrad.core.budget.cutoffs`): a budget ran out or a
sampling loop stopped early. A verdict is stored only when no phase it depends
on was cut: ``proved`` when no symbolic attempt was cut (an earlier, cheaper
procedure might otherwise have succeeded and be named); ``refuted`` when no
sampling was cut (an earlier point might otherwise have failed);
``numeric`` and ``unknown`` only when nothing at all was cut (every sample
point was tried and no proof attempt ran out of time) — so never an
``unknown`` caused by the budget.

Entries are plain data: JSON text in an SQLite table (standard library),
never pickle. SymPy values (counterexample points and values, the smallest
slack) are stored as ``srepr`` text and read back by :func:`parse_number`, a
parser that builds only whitelisted numeric SymPy classes and never evaluates
text. A point's symbols are stored as their canonical text and looked up among
the step's own symbols. Before an entry is written it is decoded again and must
reproduce the verdict exactly; on reading, anything that does not decode and
validate (a corrupt or foreign file or row) is a miss, never trusted.

The library leaves the cache off; the command line turns it on
(:func:`configure`), ``--no-cache`` or ``SYMGRAD_NO_CACHE=1`` keep it off, and
``SYMGRAD_CACHE_DIR`` moves it from the platform's user cache directory.
Configuring, locating and clearing the cache import neither SymPy nor the
kernel (the command line's start-up stays light).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import sqlite3
import sys
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import sympy as sp

    from .kernel import CheckOptions
    from .verdicts import Counterexample, Justification, Relation, Verdict

# SymPy and the kernel are imported by the functions that use them: turning the cache on or off,
# locating or clearing it (``symgrad cache path``) import neither.

__all__ = ["VerdictCache", "RenderCache", "CacheWarning", "configure", "active", "cached_decide",
           "default_directory", "clear", "step_key", "encode_verdict", "decode_verdict", "parse_number",
           "renders", "unsettled"]

#: The format of the cache file: part of its name and checked in its ``meta`` table.
FORMAT = "symgrad-verdicts-1"
FILE_NAME = f"{FORMAT}.sqlite3"

#: Environment variables: the cache directory, and a switch that keeps the cache off.
ENV_DIR = "SYMGRAD_CACHE_DIR"
ENV_OFF = "SYMGRAD_NO_CACHE"


class CacheWarning(UserWarning):
    """The verdict cache cannot be used (the run goes on without it)."""


# ---------------------------------------------------------------------------
# The key: a canonical text of everything a verdict depends on.
# ---------------------------------------------------------------------------

_SOURCE_HASHES: dict[str, str | None] = {}


def _file_hash(path: str | None) -> str | None:
    if path is None:
        return None
    if path not in _SOURCE_HASHES:
        try:
            _SOURCE_HASHES[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            _SOURCE_HASHES[path] = None
    return _SOURCE_HASHES[path]


def _kernel_fingerprint() -> str:
    """A hash of every module of ``symgrad.core`` (the kernel and what it uses)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + (_file_hash(str(path)) or "").encode() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _environment() -> str:
    import mpmath
    import sympy as sp

    try:
        version = importlib.metadata.version("symgrad")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return json.dumps({"format": FORMAT, "symgrad": version, "sympy": sp.__version__,
                       "mpmath": mpmath.__version__, "python": list(sys.version_info[:2]),
                       "kernel": _kernel_fingerprint()}, sort_keys=True)


class _Uncacheable(Exception):
    """The step contains something the key cannot describe faithfully."""


def _class_source(cls: type) -> str:
    """The hash of the source file of a non-SymPy class's module."""
    module = sys.modules.get(cls.__module__)
    digest = _file_hash(getattr(module, "__file__", None))
    if digest is None:
        raise _Uncacheable(f"{cls.__module__}.{cls.__qualname__} has no source file")
    return f"{cls.__module__}.{cls.__qualname__}={digest}"


class StepKey:
    """The cache key of one step, and the step's symbols by their canonical text."""

    def __init__(self, digest: str, symbols: dict[str, sp.Symbol], canon: Callable[[sp.Basic], str]) -> None:
        self.digest = digest
        self.symbols = symbols
        self.canon = canon


def step_key(lhs: Any, relation: Relation, rhs: Any, assumptions: Sequence[sp.Basic],
             definitions: Sequence[tuple[Any, Any]], options: CheckOptions, symbolic: bool) -> StepKey | None:
    """The key of a step, or None when the step cannot be described faithfully (then it is not cached)."""
    try:
        return _step_key(lhs, relation, rhs, assumptions, definitions, options, symbolic)
    except (_Uncacheable, TypeError, ValueError, AttributeError, RecursionError):
        return None


def _step_key(lhs: Any, relation: Relation, rhs: Any, assumptions: Sequence[sp.Basic],
              definitions: Sequence[tuple[Any, Any]], options: CheckOptions, symbolic: bool) -> StepKey:
    import sympy as sp

    parts: list[Any] = [lhs, rhs, *assumptions]
    for key, value in definitions:
        parts += [key, value]
    basics: list[sp.Basic] = []
    for part in parts:
        if isinstance(part, sp.MatrixBase) and not isinstance(part, sp.Basic):
            part = sp.ImmutableMatrix(part)
        if isinstance(part, sp.Basic):
            basics.append(part)
        elif not isinstance(part, sp.core.function.UndefinedFunction):
            raise _Uncacheable(f"not a SymPy object: {type(part).__name__}")
    # Dummies, numbered in order of first appearance, replaced by canonical Dummies all at once.
    dummies: dict[sp.Dummy, sp.Dummy] = {}
    classes: set[type] = set()
    functions: set[Any] = set()
    symbols: list[sp.Symbol] = []
    for basic in basics:
        for node in sp.preorder_traversal(basic):
            cls = type(node)
            if isinstance(node, sp.core.function.AppliedUndef):
                functions.add(node.func)
            elif not cls.__module__.startswith("sympy."):
                classes.add(cls)
            if isinstance(node, sp.Dummy) and node not in dummies:
                dummies[node] = sp.Dummy(node.name, dummy_index=len(dummies), **node.assumptions0)
            if isinstance(node, sp.Symbol):
                symbols.append(node)

    def canon(obj: Any) -> str:
        if isinstance(obj, sp.core.function.UndefinedFunction):
            return f"UndefinedFunction({obj.__name__!r}, {sorted(obj._kwargs.items())!r})"
        if isinstance(obj, sp.MatrixBase) and not isinstance(obj, sp.Basic):
            return f"{type(obj).__name__}:{canon(sp.ImmutableMatrix(obj))}"
        return sp.srepr(obj.xreplace(dummies) if dummies else obj)

    for part in parts:
        if isinstance(part, sp.core.function.UndefinedFunction):
            functions.add(part)
    content = {
        "environment": _environment(),
        "options": asdict(options),
        "symbolic": symbolic,
        "relation": relation.value,
        "lhs": canon(lhs),
        "rhs": canon(rhs),
        "assumptions": [canon(a) for a in assumptions],
        "definitions": [[canon(k), canon(v)] for k, v in definitions],
        "functions": sorted(canon(f) for f in functions),
        "classes": sorted(_class_source(c) for c in classes),
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=True)
    by_text: dict[str, sp.Symbol] = {}
    for symbol in symbols:
        by_text.setdefault(canon(symbol), symbol)
    return StepKey(hashlib.sha256(text.encode()).hexdigest(), by_text, canon)


# ---------------------------------------------------------------------------
# Values: srepr text out, a whitelisting parser back in.
# ---------------------------------------------------------------------------

_MAX_TEXT = 200_000
_CONSTANTS = ("I", "nan", "oo", "zoo")


def parse_number(text: str) -> sp.Expr:
    """Rebuild a number from its ``srepr`` text, building only whitelisted numeric classes.

    Accepts ``Integer``, ``Rational``, ``Float`` (with its binary precision),
    ``Add``, ``Mul``, ``Pow`` and the constants ``I``, ``nan``, ``oo``, ``zoo``;
    anything else raises ValueError. The text is parsed, never evaluated.
    """
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        raise ValueError("not a short string")
    try:
        tree = ast.parse(text, mode="eval")
        return _build(tree.body)
    except (SyntaxError, RecursionError, TypeError) as exc:
        raise ValueError(f"not a number's srepr: {exc}") from None


def _int(node: ast.AST) -> int:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_int(node.operand)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    raise ValueError("expected an integer literal")


def _build(node: ast.AST) -> sp.Expr:
    import sympy as sp

    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return getattr(sp, node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Name):
        if node.operand.id == "oo":
            return -sp.oo
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ValueError("unexpected syntax")
    name, args, keywords = node.func.id, node.args, node.keywords
    if name == "Integer" and len(args) == 1 and not keywords:
        return sp.Integer(_int(args[0]))
    if name == "Rational" and len(args) == 2 and not keywords:
        return sp.Rational(_int(args[0]), _int(args[1]))
    if name == "Float" and len(args) == 1 and len(keywords) == 1 and keywords[0].arg == "precision":
        digits = args[0]
        if not (isinstance(digits, ast.Constant) and isinstance(digits.value, str)):
            raise ValueError("Float needs a string")
        return sp.Float(digits.value, precision=_int(keywords[0].value))
    if name in ("Add", "Mul") and args and not keywords:
        built = [_build(a) for a in args]
        return sp.Add(*built) if name == "Add" else sp.Mul(*built)
    if name == "Pow" and len(args) == 2 and not keywords:
        return sp.Pow(_build(args[0]), _build(args[1]))
    raise ValueError(f"{name} is not allowed here")


def _number_text(value: Any) -> str:
    import sympy as sp

    text = sp.srepr(value)
    if sp.srepr(parse_number(text)) != text:
        raise _Uncacheable("does not read back exactly")
    return text


# ---------------------------------------------------------------------------
# Verdicts <-> plain data.
# ---------------------------------------------------------------------------

_FIELDS = ("status", "method", "samples", "digits", "min_slack", "seconds", "note", "counterexample")


def encode_verdict(verdict: Verdict, key: StepKey) -> dict[str, Any]:
    """The plain data of a verdict's findings (the step itself comes from the caller)."""
    cx = verdict.counterexample
    data: dict[str, Any] = {
        "status": verdict.status.value, "method": verdict.method, "samples": verdict.samples,
        "digits": verdict.digits, "seconds": verdict.seconds, "note": verdict.note,
        "min_slack": None if verdict.min_slack is None else _number_text(verdict.min_slack),
        "counterexample": None,
    }
    if cx is not None:
        point = []
        for symbol, value in cx.point.items():
            name = key.canon(symbol)
            if key.symbols.get(name) != symbol:
                raise _Uncacheable(f"the point's symbol {symbol} is not a symbol of the step")
            point.append([name, _number_text(value)])
        data["counterexample"] = {"point": point, "lhs": _number_text(cx.lhs_value),
                                  "rhs": _number_text(cx.rhs_value), "exact": bool(cx.exact)}
    return data


def decode_verdict(data: Any, key: StepKey, index: int, lhs: Any, relation: Relation, rhs: Any,
                   by: Justification) -> Verdict:
    """The verdict from plain data; raises ValueError on anything malformed."""
    from .verdicts import Counterexample, Status, Verdict

    def typed(name: str, kind: type | tuple[type, ...]) -> Any:
        value = data[name]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise ValueError(f"{name} has the wrong type")
        return value

    try:
        if not isinstance(data, dict) or set(data) != set(_FIELDS):
            raise ValueError("unexpected fields")
        status = Status(typed("status", str))
        slack = data["min_slack"]
        counterexample = None
        if data["counterexample"] is not None:
            cx = data["counterexample"]
            if not isinstance(cx, dict) or set(cx) != {"point", "lhs", "rhs", "exact"}:
                raise ValueError("malformed counterexample")
            point: dict[sp.Symbol, sp.Expr] = {}
            for pair in cx["point"]:
                name, value = pair
                if name not in key.symbols:
                    raise ValueError("a point symbol not in the step")
                point[key.symbols[name]] = parse_number(value)
            if not isinstance(cx["exact"], bool):
                raise ValueError("exact must be a boolean")
            counterexample = Counterexample(point, parse_number(cx["lhs"]), parse_number(cx["rhs"]), cx["exact"])
        return Verdict(index=index, lhs=lhs, relation=relation, rhs=rhs, status=status,
                       method=typed("method", str), by=by, counterexample=counterexample,
                       samples=typed("samples", int), digits=typed("digits", int),
                       min_slack=None if slack is None else parse_number(slack),
                       seconds=float(typed("seconds", (int, float))), note=typed("note", str))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed entry: {exc}") from None


def _same(a: Verdict, b: Verdict) -> bool:
    """Field by field, SymPy values compared by their exact srepr text."""
    import sympy as sp

    def text(v: Any) -> Any:
        return None if v is None else sp.srepr(v)

    def cx_text(c: Counterexample | None) -> Any:
        if c is None:
            return None
        return ([(sp.srepr(k), sp.srepr(v)) for k, v in c.point.items()], text(c.lhs_value), text(c.rhs_value),
                c.exact)

    return (a.status == b.status and a.method == b.method and a.samples == b.samples and a.digits == b.digits
            and a.seconds == b.seconds and a.note == b.note and text(a.min_slack) == text(b.min_slack)
            and cx_text(a.counterexample) == cx_text(b.counterexample) and a.details == b.details
            and a.rests_on == b.rests_on)


# ---------------------------------------------------------------------------
# Storage: one SQLite file in the cache directory.
# ---------------------------------------------------------------------------


def default_directory() -> Path:
    """``$SYMGRAD_CACHE_DIR``, else the platform's user cache directory for symgrad."""
    given = os.environ.get(ENV_DIR, "").strip()
    if given:
        return Path(given).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("symgrad", appauthor=False))


class VerdictCache:
    """Verdicts in ``DIRECTORY/symgrad-verdicts-1.sqlite3``; any storage failure means "no cache"."""

    def __init__(self, directory: Path, warn: Callable[[str], None] | None = None) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self._warn = warn or (lambda message: warnings.warn(message, CacheWarning, stacklevel=3))
        self._connection: sqlite3.Connection | None = None
        self._pid = -1
        self.usable = True
        self.hits = self.misses = self.stores = 0

    def _fail(self, doing: str, exc: BaseException) -> None:
        if self.usable:
            self.usable = False
            self._warn(f"verdict cache {self.path} cannot be used ({doing}: {exc}); running without it"
                       " (`symgrad cache clear` removes it)")
        self._connection = None

    def _connect(self) -> sqlite3.Connection | None:
        """The connection of this process (a forked child opens its own)."""
        if not self.usable:
            return None
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            connection.execute("PRAGMA busy_timeout = 30000")
            connection.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            connection.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, data TEXT NOT NULL)")
            connection.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
            row = connection.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
            if row is None or row[0] != FORMAT:
                raise sqlite3.DatabaseError(f"a cache of another format ({row[0] if row else 'none'!r})")
            columns = [r[1] for r in connection.execute("PRAGMA table_info(verdicts)")]
            if columns != ["key", "data"]:
                raise sqlite3.DatabaseError("an unexpected table layout")
        except (sqlite3.Error, OSError) as exc:
            self._fail("opening", exc)
            return None
        self._connection, self._pid = connection, os.getpid()
        return connection

    def probe(self) -> bool:
        """Open (creating if need be) and close again: whether the cache can be used."""
        ok = self._connect() is not None
        self.close()
        return ok and self.usable

    def close(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None

    def get(self, key: str) -> Any:
        """The stored data under ``key`` (decoded JSON), or None."""
        connection = self._connect()
        if connection is None:
            return None
        try:
            row = connection.execute("SELECT data FROM verdicts WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            self._fail("reading", exc)
            return None
        if row is None or not isinstance(row[0], str):
            return None
        try:
            return json.loads(row[0])
        except ValueError:
            return None

    def put(self, key: str, data: Any) -> None:
        connection = self._connect()
        if connection is None:
            return
        try:
            connection.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?)",
                               (key, json.dumps(data, sort_keys=True, ensure_ascii=True)))
        except sqlite3.Error as exc:
            self._fail("writing", exc)


def clear(directory: Path | None = None) -> list[Path]:
    """Remove the cache files from ``directory`` (default: :func:`default_directory`); the files removed."""
    directory = Path(directory) if directory is not None else default_directory()
    removed = []
    for suffix in ("", "-journal", "-wal", "-shm"):
        path = directory / (FILE_NAME + suffix)
        if path.exists():
            path.unlink()
            removed.append(path)
    renders = directory / RENDER_FORMAT
    if renders.is_dir():
        for path in sorted(renders.iterdir()):
            if path.is_file() and path.suffix in (".json", ".tmp"):
                path.unlink()
                removed.append(path)
        with contextlib.suppress(OSError):
            renders.rmdir()
    return removed


# ---------------------------------------------------------------------------
# Rendered documents: whole catalog entries, as plain JSON files.
# ---------------------------------------------------------------------------

#: The format of a rendered-entry file, and the name of the subdirectory that holds them.
RENDER_FORMAT = "symgrad-render-1"

_HEX = frozenset("0123456789abcdef")


def _valid_key(key: str) -> bool:
    return isinstance(key, str) and len(key) == 64 and set(key) <= _HEX


class RenderCache:
    """The rendered files of catalog entries, one JSON file per key in ``DIRECTORY/symgrad-render-1/``.

    The caller computes the key (a SHA-256 of everything the output depends
    on) and stores an entry only when its verdicts did not depend on the
    clock (:func:`unsettled`). A file is plain data; one that does not parse
    or validate exactly (a corrupt, truncated or foreign file) is a miss,
    never trusted. Writes go to a temporary file renamed into place, so a
    reader never sees half a file.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory) / RENDER_FORMAT
        self.hits = self.misses = self.stores = 0

    def _path(self, key: str) -> Path:
        if not _valid_key(key):
            raise ValueError("a render key is 64 lowercase hex digits")
        return self.directory / f"{key}.json"

    def get(self, key: str) -> tuple[list[tuple[str, str]], bool, str] | None:
        """The stored ``(files, ok, outcome)`` under ``key``, or None (absent or not valid)."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or set(data) != {"format", "key", "files", "ok", "outcome"}:
                raise ValueError("unexpected fields")
            if data["format"] != RENDER_FORMAT or data["key"] != key:
                raise ValueError("another format or key")
            files = data["files"]
            if not isinstance(files, list) or not all(
                    isinstance(f, list) and len(f) == 2 and all(isinstance(t, str) for t in f) for f in files):
                raise ValueError("malformed files")
            if not isinstance(data["ok"], bool) or not isinstance(data["outcome"], str):
                raise ValueError("malformed outcome")
        except (OSError, ValueError, RecursionError):
            self.misses += 1
            return None
        self.hits += 1
        return [(name, text) for name, text in files], data["ok"], data["outcome"]

    def put(self, key: str, files: Sequence[tuple[str, str]], ok: bool, outcome: str) -> None:
        """Store an entry's rendered files (failures to write are ignored: the cache is an optimisation)."""
        path = self._path(key)
        data = {"format": RENDER_FORMAT, "key": key, "files": [[name, text] for name, text in files],
                "ok": bool(ok), "outcome": outcome}
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(data, ensure_ascii=True, sort_keys=True), encoding="utf-8")
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()
            return
        self.stores += 1


# ---------------------------------------------------------------------------
# The switch, and the cached decision.
# ---------------------------------------------------------------------------

_ACTIVE: VerdictCache | None = None


def active() -> VerdictCache | None:
    """The cache in use, or None."""
    return _ACTIVE


def configure(enabled: bool = True, directory: Path | str | None = None,
              warn: Callable[[str], None] | None = None) -> VerdictCache | None:
    """Turn the cache on (in ``directory``, default :func:`default_directory`) or off; returns it.

    ``SYMGRAD_NO_CACHE=1`` keeps it off. A cache that cannot be opened (an
    unwritable directory, a corrupt or foreign file) is reported once through
    ``warn`` and left off.
    """
    global _ACTIVE
    if _ACTIVE is not None:
        _ACTIVE.close()
    _ACTIVE = None
    if enabled and os.environ.get(ENV_OFF, "").strip().lower() in ("", "0", "false", "no"):
        cache = VerdictCache(Path(directory) if directory is not None else default_directory(), warn)
        if cache.probe():
            _ACTIVE = cache
    return _ACTIVE


def renders() -> RenderCache | None:
    """The cache of rendered entries beside the verdict cache in use, or None (no cache in use)."""
    cache = _ACTIVE
    return RenderCache(cache.directory) if cache is not None and cache.usable else None


def use(cache: VerdictCache | None) -> None:
    """Make ``cache`` (or no cache) the one in use, e.g. to restore :func:`active` after :func:`configure`."""
    global _ACTIVE
    if _ACTIVE is not None and _ACTIVE is not cache:
        _ACTIVE.close()
    _ACTIVE = cache


#: Verdicts decided in this process that were not stored (they may depend on the clock), or decided with no cache.
_UNSETTLED = 0


def unsettled() -> int:
    """How many results this process computed that may depend on the clock (never decreases).

    A verdict answered from the cache, or stored in it, did not depend on the
    clock; every other one counts (with no cache in use, every verdict). So does
    every computation outside a decision that a time budget cut short (e.g. a
    producer's tidy-up simplification). A result built while this count stayed
    the same is reproducible, so the rendered entry may be cached.
    """
    from . import budget

    return _UNSETTLED + budget.cutoffs().get("other", 0)


#: The phases of a decision (:func:`symgrad.core.budget.phase`) whose cutoffs a status must not have seen.
_CLOCK_FREE = {
    "proved": ("prepare", "symbolic"),  # which procedure succeeded first (quick sampling cannot disprove it)
    "refuted": ("prepare", "quick", "full"),  # which sampled point failed first
}


def _storable(verdict: Verdict, cut: set[str]) -> bool:
    """Whether the verdict did not depend on the clock, given the phases in which the clock cut something."""
    if verdict.details or verdict.rests_on:
        return False
    from .verdicts import Status

    if verdict.status.value in _CLOCK_FREE:
        return not cut.intersection(_CLOCK_FREE[verdict.status.value])
    if verdict.status is Status.NUMERIC:  # every sample point was tried, no proof attempt was cut short
        return not cut
    return not cut and "budget" not in verdict.note  # unknown: too few points where both sides are defined


def cached_decide(lhs: Any, relation: Relation, rhs: Any, assumptions: Sequence[sp.Basic] = (),
                  definitions: Sequence[tuple[sp.Basic, sp.Basic]] = (), options: CheckOptions | None = None, *,
                  index: int = 1, by: Justification | None = None, symbolic: bool = True) -> Verdict:
    """:func:`~symgrad.core.kernel.decide`, answered from the cache in use when it holds the step.

    With no cache in use this is exactly ``decide``. A verdict is stored only
    when it did not depend on the clock (see the module docstring).
    """
    from . import budget
    from .kernel import DEFAULT_OPTIONS, decide
    from .verdicts import Justification

    global _UNSETTLED
    by = Justification() if by is None else by
    cache = _ACTIVE
    if cache is None or not cache.usable:
        _UNSETTLED += 1
        return decide(lhs, relation, rhs, assumptions, definitions, options, index=index, by=by,
                      symbolic=symbolic)
    options = options or DEFAULT_OPTIONS
    key = step_key(lhs, relation, rhs, tuple(assumptions), tuple(definitions), options, symbolic)
    if key is not None:
        data = cache.get(key.digest)
        if data is not None:
            try:
                verdict = decode_verdict(data, key, index, lhs, relation, rhs, by)
            except ValueError:
                pass  # a malformed entry is a miss; the fresh verdict replaces it
            else:
                cache.hits += 1
                return verdict
    cache.misses += 1
    before = budget.cutoffs()
    verdict = decide(lhs, relation, rhs, assumptions, definitions, options, index=index, by=by, symbolic=symbolic)
    after = budget.cutoffs()
    cut = {name for name, count in after.items() if count != before.get(name, 0)}
    stored = False
    if key is not None and _storable(verdict, cut):
        try:
            data = encode_verdict(verdict, key)
            if _same(decode_verdict(json.loads(json.dumps(data)), key, index, lhs, relation, rhs, by), verdict):
                cache.put(key.digest, data)
                cache.stores += 1
                stored = cache.usable
        except (_Uncacheable, ValueError, TypeError, RecursionError):
            pass
    if not stored:
        _UNSETTLED += 1
    return verdict
