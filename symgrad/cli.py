"""The ``symgrad`` command line: list, show and render catalog entries; check notes.

Exit codes: 0 when every step is proved (a step that cites a named lemma
counts as proved given that lemma, and the lemma is listed), 1 when some step
is not, 2 for bad
usage or input (a one-line error, never a traceback), 3 for an internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TextIO, TypeVar

from . import catalog
from .core.errors import SymgradError, TemplateError

if TYPE_CHECKING:  # pragma: no cover - imported where used: --help, list and usage errors import no SymPy
    from importlib.resources.abc import Traversable

    from .core.kernel import CheckOptions
    from .proofs.documents import Document, DocumentReport

if TYPE_CHECKING:  # pragma: no cover
    from .notes.notebook import NotebookText
    from .terminal import Style

__all__ = ["main"]

T = TypeVar("T")

FORMATS = {"md": ("markdown", ".md"), "markdown": ("markdown", ".md"),
           "tex": ("latex", ".tex"), "latex": ("latex", ".tex")}
NOTE_FORMATS = {"md": "markdown", "markdown": "markdown", "tex": "latex", "latex": "latex",
                "ipynb": "notebook", "notebook": "notebook"}
NOTE_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".mdown": "markdown", ".mkd": "markdown",
                 ".tex": "latex", ".latex": "latex", ".ltx": "latex", ".ipynb": "notebook"}
#: What ``symgrad check`` prints: the text lines, a JSON array of steps, or GitHub workflow commands.
OUTPUT_FORMATS = ("text", "json", "github")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as ``symgrad: error: ...`` with exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symgrad", description="Checked symbolic derivations for the calculus of deep learning.")
    parser.add_argument("--version", action="version", version=f"symgrad {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    sub.add_parser("list", help="list the catalog entries")

    show = sub.add_parser("show", help="print an entry with each step's verdict")
    show.add_argument("name", help="catalog entry name (see 'symgrad list')")
    _add_budget(show)
    _add_cache(show)

    render = sub.add_parser("render", help="render entries as Markdown and/or LaTeX files")
    render.add_argument("names", nargs="*", metavar="NAME", help="catalog entry names")
    render.add_argument("--all", action="store_true", help="render every catalog entry")
    render.add_argument("--format", "-f", action="append", choices=sorted(FORMATS), dest="formats",
                        help="output format; repeat for several (default: md)")
    render.add_argument("--out", "-o", default="derivations", help="output directory (default: derivations)")
    render.add_argument("--template-dir", action="append", default=[],
                        help="directory of templates searched before the shipped ones")
    _add_budget(render)
    _add_cache(render)
    _add_jobs(render)

    check = sub.add_parser("check", help="check the derivations in Markdown or LaTeX notes and Jupyter notebooks, "
                                         "step by step")
    check.add_argument("files", nargs="+", metavar="FILE",
                       help="a .md, .tex or .ipynb file ('-' reads standard input)")
    check.add_argument("--format", "-f", choices=sorted(NOTE_FORMATS) + list(OUTPUT_FORMATS), action="append",
                       dest="check_formats", default=[], metavar="FORMAT",
                       help="the output: text (default), json (an array of steps) or github (workflow "
                            "annotations); or the files' format: md, tex or ipynb (default: from the file "
                            "name's extension); repeat to give both")
    _add_budget(check)
    _add_cache(check)
    _add_jobs(check)

    cache = sub.add_parser("cache", help="the verdict cache: where it is, or clear it")
    cache.add_argument("action", choices=["clear", "path"],
                       help="clear: remove the cached verdicts; path: print the cache directory")
    return parser


def _add_budget(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                        help="time budget per step (default: 10)")


def _add_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the verdict cache (also: SYMGRAD_NO_CACHE=1)")


def _add_jobs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                        help="processes to check in (default: the number of cores; 1: no extra process)")


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _version() -> str:
    from . import __version__

    return __version__


def _options(args: argparse.Namespace) -> CheckOptions | None:
    if args.budget is None:
        return None
    from .core.kernel import CheckOptions

    return CheckOptions(budget=args.budget)


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    names = catalog.names()
    width = max(len(n) for n in names)
    for name in names:
        out.write(f"{name:<{width}}  {catalog.describe(name)}\n")
    return 0


def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    catalog.describe(args.name)  # fail fast on an unknown name, before importing SymPy
    from .rendering.display import terminal_text
    from .terminal import Style

    document = catalog.get(args.name)
    report = document.check(_options(args))
    text = terminal_text(report)
    out.write(Style.for_stream(out).report_text(text))
    if not text.endswith("\n"):
        out.write("\n")
    return 0 if report.ok_given_lemmas else 1


def _cmd_render(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.all and args.names:
        raise SymgradError("give entry names or --all, not both")
    names = catalog.names() if args.all else args.names
    if not names:
        raise SymgradError("name at least one entry to render, or pass --all (see 'symgrad list')")
    for name in names:
        catalog.describe(name)  # fail fast on an unknown name, before writing anything
    formats = []
    for f in args.formats or ["md"]:
        if FORMATS[f] not in formats:
            formats.append(FORMATS[f])
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SymgradError(f"cannot create the output directory {out_dir}: {exc.strerror}") from None
    options = _options(args)
    template_dir = args.template_dir or None
    results = _in_order(_render_entry, [(name, options, tuple(formats), template_dir) for name in names],
                        args.jobs, args.no_cache)
    with contextlib.closing(results):
        return _write_rendered(names, results, out_dir, out, err)


def _write_rendered(names: list[str], results: Iterator[Callable[[], tuple[list[tuple[str, str]], bool, str]]],
                    out_dir: Path, out: TextIO, err: TextIO) -> int:
    """Write each entry's files as its result comes, in the order of ``names``.

    On a terminal's standard error a progress bar replaces the ``checking ...``
    lines; elsewhere standard error gets one line before and one after each entry.
    """
    from . import terminal

    all_ok = True
    with terminal.progress(len(names), "rendering", err, enabled=len(names) > 1 and terminal.is_terminal(err)) as bar:
        for i, (name, result) in enumerate(zip(names, results), start=1):
            if bar.active:
                bar.describe(f"checking {name}")
            else:
                err.write(f"[{i}/{len(names)}] {name}: checking ...\n")
                err.flush()
            files, ok, outcome = result()
            all_ok = all_ok and ok
            for file_name, text in files:
                path = out_dir / file_name
                try:
                    path.write_text(text, encoding="utf-8", newline="\n")
                except OSError as exc:
                    raise SymgradError(f"cannot write {path}: {exc.strerror}") from None
                with bar.cleared() if bar.active and terminal.is_terminal(out) else contextlib.nullcontext():
                    out.write(f"{path}\n")
                    out.flush()
            done = f"[{i}/{len(names)}] {name}: {outcome}"
            if bar.active:
                bar.log(done)
                bar.advance()
            else:
                err.write(done + "\n")
    return 0 if all_ok else 1


def _render_entry(name: str, options: CheckOptions | None, formats: tuple[tuple[str, str], ...],
                  template_dir: list[str] | None) -> tuple[list[tuple[str, str]], bool, str]:
    """Check and render one entry: its files (name, text) in writing order, whether it is proved, the outcome.

    With the cache on, an entry rendered before from the same sources,
    templates, library versions and options is read back instead (see
    :func:`_render_key`). A fresh rendering is stored only when every verdict
    it used was answered from the verdict cache or stored in it (none depended
    on the clock), so the stored files are what any run would write.
    """
    from .core import cache

    store = cache.renders() if catalog.built_from_modules() else None  # not for a stand-in catalog
    key = _render_key(name, options, formats, template_dir) if store is not None else None
    if store is not None and key is not None:
        hit = store.get(key)
        if hit is not None:
            return hit
    start = cache.unsettled()
    if start:  # results kept in this process may rest on unsettled verdicts: decide this entry afresh
        _forget_in_process_results()
    from .rendering.render import render

    document: Document = catalog.get(name)
    report = document.check(options)
    files = [(f"{name}{suffix}", render(report, fmt, template_dir=template_dir)) for fmt, suffix in formats]
    files += list(_assets(document).items())
    result = files, report.ok_given_lemmas, _outcome(report)
    if store is not None and key is not None and cache.unsettled() == start and cache.renders() is not None:
        store.put(key, *result)
    return result


def _forget_in_process_results() -> None:
    """Drop the built documents and checked proofs this process keeps (they are rebuilt on demand)."""
    from .proofs import proof

    catalog.forget()
    proof._check_cached.cache_clear()


#: The distributions whose versions a rendered entry depends on (besides symgrad's own source).
_RENDER_DEPENDENCIES = ("sympy", "mpmath", "numpy", "jinja2", "markupsafe", "latexify-py", "lark", "python-flint",
                        "matplotlib", "z3-solver")


def _render_key(name: str, options: CheckOptions | None, formats: tuple[tuple[str, str], ...],
                template_dir: list[str] | None) -> str | None:
    """SHA-256 of everything an entry's rendered files depend on, or None when that cannot be read.

    The entry's sources (:func:`symgrad.catalog.source_fingerprint`: the whole
    package except the other entries' modules), the shipped templates and
    every file of ``template_dir``, the versions of Python and of the
    libraries symgrad uses, the kernel options and the formats.
    """
    import dataclasses
    import hashlib
    import json

    from .rendering.locations import shipped_templates

    try:
        content = {
            "format": "symgrad-render-1", "entry": name, "sources": catalog.source_fingerprint(name),
            "templates": _tree_digest(shipped_templates()),
            "template_dirs": [[str(d), _tree_digest(Path(d)) if Path(d).is_dir() else "missing"]
                              for d in template_dir or ()],
            "environment": _environment(),
            "options": None if options is None else dataclasses.asdict(options),
            "formats": [list(f) for f in formats], "symgrad": _version(),
        }
    except (OSError, ValueError, TemplateError):
        return None
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def _environment() -> dict[str, Any]:
    """Python, the platform and the versions of the libraries a rendering depends on."""
    import importlib.metadata
    import platform

    versions: dict[str, str | None] = {}
    for distribution in _RENDER_DEPENDENCIES:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = None
    return {"python": [platform.python_implementation(), *map(str, sys.version_info[:3])],
            "platform": [sys.platform, platform.machine()], "versions": versions}


def _tree_digest(root: "Traversable") -> str:
    """SHA-256 over the relative names and contents of every file under ``root`` (a directory)."""
    import hashlib

    digest = hashlib.sha256()
    todo: list[tuple[str, Traversable]] = [("", root)]
    while todo:
        prefix, directory = todo.pop()
        for child in sorted(directory.iterdir(), key=lambda c: c.name):
            name = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    todo.append((f"{name}/", child))
            elif child.is_file():
                digest.update(f"{name}\0{hashlib.sha256(child.read_bytes()).hexdigest()}\0".encode())
    return digest.hexdigest()


def _in_order(task: Callable[..., T], arguments: list[tuple[Any, ...]], jobs: int | None,
              no_cache: bool) -> Iterator[Callable[[], T]]:
    """``task(*a)`` for each ``a``, in the order given: each item is a call that returns the result.

    With more than one job the tasks run in a pool of processes (forked on
    Linux) and results are still taken in the order given, so the output does
    not depend on which finishes first. An exception is raised when its item
    is reached, as if the tasks ran one after another.
    """
    workers = min(jobs or _cores(), len(arguments))
    if workers <= 1:
        for a in arguments:
            yield functools.partial(task, *a)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .core import cache

    context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    active = cache.active()
    directory = active.directory if active is not None and not no_cache else None
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                               initargs=(directory,))
    try:
        futures = [pool.submit(task, *a) for a in arguments]
        for future in futures:
            yield future.result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _init_worker(cache_dir: Path | None) -> None:
    """A worker process uses the parent's verdict cache (or none)."""
    from .core import cache

    cache.configure(enabled=cache_dir is not None, directory=cache_dir, warn=_warn_stderr)


def _warn_stderr(message: str) -> None:
    sys.stderr.write(f"symgrad: warning: {message}\n")
    sys.stderr.flush()


def _assets(document: Document) -> dict[str, str]:
    """The files the document's figures link to (name -> text)."""
    assets: dict[str, str] = {}
    for block in document.blocks:
        for name, content in getattr(block, "assets", {}).items():
            if not name or "/" in name or "\\" in name or name.startswith("."):
                raise SymgradError(f"entry {document.name!r}: figure asset name {name!r} must be a plain file name")
            if name in assets and assets[name] != content:
                raise SymgradError(f"entry {document.name!r}: two figures write different files named {name!r}")
            assets[name] = content
    return assets


def _outcome(report: DocumentReport) -> str:
    """``proved``, ``proved given lemma(s) ...``, or the weakest status."""
    if report.ok:
        return "proved"
    if report.ok_given_lemmas:
        return f"proved given the cited lemma(s): {', '.join(report.lemmas)}"
    return report.status.value


#: A note larger than this is refused (it is not a note, and reading it all would exhaust memory).
MAX_NOTE_BYTES = 8 * 1024 * 1024
#: A notebook may be larger (its outputs, images included, are stored in it but never read).
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024


def _read_note(name: str, limit: int = MAX_NOTE_BYTES) -> str:
    """The text of a note (``-`` is standard input), at most ``limit`` bytes; unreadable input raises SymgradError."""
    try:
        if name == "-" and not hasattr(sys.stdin, "buffer"):  # a text stream (e.g. in tests)
            text = sys.stdin.read(limit + 1)
            if len(text) > limit:
                raise SymgradError(f"cannot read {name}: larger than {limit // (1024 * 1024)} MiB")
            return text
        if name == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(name, "rb") as handle:
                data = handle.read(limit + 1)
        if len(data) > limit:
            raise SymgradError(f"cannot read {name}: larger than {limit // (1024 * 1024)} MiB")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SymgradError(f"cannot read {name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise SymgradError(f"cannot read {name}: {exc.strerror or exc}") from None


def _note_format(name: str, given: str | None) -> str:
    if given is not None:
        return NOTE_FORMATS[given]
    fmt = NOTE_SUFFIXES.get(Path(name).suffix.lower())
    if fmt is None:
        raise SymgradError(f"cannot tell the format of {name}: name it .md or .tex, or pass --format md|tex")
    return fmt


def _check_formats(given: list[str]) -> tuple[str, str | None]:
    """``--format`` values: the output format (text, json, github) and the files' format (or None)."""
    outputs = [f for f in given if f in OUTPUT_FORMATS]
    inputs = [f for f in given if f in NOTE_FORMATS]
    if len(set(outputs)) > 1:
        raise SymgradError(f"give one output format, not {' and '.join(sorted(set(outputs)))}")
    if len({NOTE_FORMATS[f] for f in inputs}) > 1:
        raise SymgradError(f"give one input format, not {' and '.join(sorted(set(inputs)))}")
    return (outputs[0] if outputs else "text"), (inputs[0] if inputs else None)


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Per step ``file:line: step N: ...  [status] evidence``, then a summary per file.

    ``--format json`` prints instead one JSON array of every step and problem
    (see :func:`symgrad.terminal.step_records`); ``--format github`` prints a
    workflow command per step that is not proved (``::error`` for refuted,
    ``::warning`` for numeric or unknown) and per problem, then the summaries.
    Exit 0 when every step of every file is proved, 1 otherwise, 2 when a file
    cannot be read (the other files are still checked).
    """
    from . import terminal

    output, note_format = _check_formats(args.check_formats)
    formats = [_note_format(name, note_format) for name in args.files]  # fail before checking anything
    options = _options(args)
    unreadable = False
    all_ok = True
    totals = {"steps": 0, "files": 0}
    texts: list[tuple[str, str | None, str]] = []
    for name, fmt in zip(args.files, formats):
        try:
            text = _read_note(name, MAX_NOTEBOOK_BYTES if fmt == "notebook" else MAX_NOTE_BYTES)
            if fmt == "notebook":
                _notebook(text, "<stdin>" if name == "-" else name)  # a broken notebook is unreadable input
            texts.append((name, text, fmt))
        except SymgradError as exc:
            texts.append((name, None, str(exc)))
    readable = [(text, fmt, "<stdin>" if name == "-" else name, options) for name, text, fmt in texts
                if text is not None]
    style = terminal.Style.for_stream(out) if output == "text" else terminal.Style(False)
    records: list[dict[str, Any]] = []
    bar_wanted = len(readable) > 1 and terminal.is_terminal(err)
    with contextlib.closing(_in_order(_check_note, readable, args.jobs, args.no_cache)) as results, \
            terminal.progress(len(readable), "checking", err, enabled=bar_wanted) as bar:
        for name, text, fmt_or_error in texts:
            if text is None:
                message = f"symgrad: error: {fmt_or_error}"
                if bar.active:
                    bar.log(message)
                else:
                    err.write(message + "\n")
                if output == "json":
                    records.append({"kind": "error", "file": "<stdin>" if name == "-" else name, "line": None,
                                    "column": None, "cell": None, "file_line": None, "status": "error",
                                    "message": fmt_or_error, "text": message})
                elif output == "github":
                    with bar.cleared() if terminal.is_terminal(out) else contextlib.nullcontext():
                        out.write(f"::error file={terminal.github_property(name)},title=symgrad%3A cannot read::"
                                  f"{terminal.github_escape(fmt_or_error)}\n")
                unreadable = True
                continue
            bar.describe(f"checking {name}")
            lines, summary, ok, steps, found = next(results)()
            with bar.cleared() if terminal.is_terminal(out) else contextlib.nullcontext():
                _write_note(output, style, lines, summary, found, out)
            bar.advance()
            all_ok = all_ok and ok
            totals["steps"] += steps
            totals["files"] += 1
            if output == "json":
                records += found
    if output == "json":
        import json

        out.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    elif len(args.files) > 1:
        verdict = "all proved" if all_ok and not unreadable else "not all proved"
        out.write(style.summary(f"total: {totals['steps']} steps in {totals['files']} of {len(args.files)} files "
                                f"— {verdict}") + "\n")
    if unreadable:
        return 2
    return 0 if all_ok else 1


def _write_note(output: str, style: "Style", lines: list[str], summary: str, found: list[dict[str, Any]],
                out: TextIO) -> None:
    """One note's text lines and summary (text), or its annotations and summary (github); json waits for the end."""
    from . import terminal

    if output == "json":
        return
    if output == "github":
        for record in found:
            annotation = terminal.github_annotation(record)
            if annotation is not None:
                out.write(annotation + "\n")
        out.write(summary + "\n")
    else:
        for line, record in zip(lines, found):
            out.write((style.step_line(line, record["status"]) if record["kind"] == "step"
                       else style.error_line(line)) + "\n")
        out.write(style.summary(summary) + "\n")
    out.flush()


def _notebook(text: str, path: str) -> "NotebookText":
    """The Markdown cells of a notebook (raises SymgradError when it is not one)."""
    from .notes.notebook import read_notebook

    return read_notebook(text, path)


def _check_note(text: str, fmt: str, path: str, options: CheckOptions | None
                ) -> tuple[list[str], str, bool, int, list[dict[str, Any]]]:
    """Check one note: its step lines, its summary, whether all is proved, its number of steps, its records."""
    from .notes.checker import check_text
    from .terminal import step_records

    report = check_text(text, fmt, path=path, options=options)
    notebook = _notebook(text, path) if fmt == "notebook" else None
    records = step_records(report, notebook)
    lines = list(report.lines())
    if [r["text"] for r in records] != lines:
        raise RuntimeError("the records of a note disagree with its lines")
    return lines, report.summary(), report.ok, len(report.steps), records


def _cmd_cache(args: argparse.Namespace, out: TextIO) -> int:
    from .core import cache

    directory = cache.default_directory()
    if args.action == "path":
        out.write(f"{directory}\n")
        return 0
    try:
        removed = cache.clear(directory)
    except OSError as exc:
        raise SymgradError(f"cannot clear the verdict cache in {directory}: {exc.strerror or exc}") from None
    out.write(f"removed {len(removed)} file(s) from {directory}\n" if removed
              else f"no cached verdicts in {directory}\n")
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
        if args.command == "list":
            return _cmd_list(args, out)
        if args.command == "cache":
            return _cmd_cache(args, out)
        with _verdict_cache(args.no_cache, err):
            if args.command == "show":
                return _cmd_show(args, out)
            if args.command == "check":
                return _cmd_check(args, out, err)
            return _cmd_render(args, out, err)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    except SymgradError as exc:
        err.write(f"symgrad: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        err.write("symgrad: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback
        err.write(f"symgrad: internal error: {type(exc).__name__}: {exc} (please report this)\n")
        return 3


@contextlib.contextmanager
def _verdict_cache(no_cache: bool, err: TextIO) -> Iterator[None]:
    """The persistent verdict cache on (unless ``no_cache``) for one command, then as it was."""
    from .core import cache

    previous = cache.active()
    cache.configure(enabled=not no_cache, warn=lambda message: err.write(f"symgrad: warning: {message}\n"))
    try:
        yield
    finally:
        cache.use(previous)


def entry_point() -> None:
    sys.exit(main())
