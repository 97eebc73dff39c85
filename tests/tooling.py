"""Helpers for tests that need external tools (LaTeX, node + KaTeX).

Not a test module. Missing tools skip the test locally and fail it when the
``CI`` environment variable is set (non-empty, not "0"/"false"/"no"), so CI
can't go green by skipping. ``bash scripts/test.sh`` installs the tools.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
KATEX_SCRIPT = Path(__file__).resolve().parent / "katex_check.mjs"
LATEX_TIMEOUT = 120  # seconds per pdflatex pass
KATEX_TIMEOUT = 120  # seconds per katex_check call (one node process)
INSTALL_HINT = "run `bash scripts/test.sh` to install it"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(message: str):
    if in_ci():
        pytest.fail(f"{message} (CI is set, so this is a failure)", pytrace=False)
    pytest.skip(message)


def _katex_candidates() -> list[Path]:
    out = []
    env = os.environ.get("SYMGRAD_KATEX_DIR")
    if env:
        # Either the katex package dir itself or a prefix holding node_modules/.
        out += [Path(env), Path(env) / "node_modules" / "katex"]
    out.append(REPO_ROOT / ".tools" / "node" / "node_modules" / "katex")
    return out


def find_katex() -> Path | None:
    for cand in _katex_candidates():
        try:
            meta = json.loads((cand / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("name") == "katex":
            return cand.resolve()
    return None


def require_tool(name: str) -> Path:
    """Return the tool's path, or skip (locally) / fail (CI) the calling test.

    Names: "pdflatex", "node", "pdffonts" (poppler-utils), "katex" (the KaTeX package
    directory; also needs node).
    """
    if name in ("pdflatex", "node", "pdffonts"):
        if shutil.which(name) is None:
            _missing(f"{name} not found on PATH; {INSTALL_HINT}")
        return Path(shutil.which(name))
    if name == "katex":
        require_tool("node")
        found = find_katex()
        if found is None:
            where = ", ".join(str(p) for p in _katex_candidates())
            _missing(f"KaTeX package not found (looked in {where}); {INSTALL_HINT}")
        return found
    raise ValueError(f"unknown tool {name!r}")


# --------------------------------------------------------------------------- LaTeX


class LatexError(AssertionError):
    """A document failed to compile (message carries the log's tail)."""


def _log_excerpt(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return f"(no log at {log})"
    # TeX errors ("! ..." or "file:line: ...") with the context lines after
    # them ("l.12 \\badmacro"), then the log's tail.
    parts = []
    for i, ln in enumerate(lines):
        if ln.startswith("!") or re.match(r"^\S+:\d+: ", ln):
            parts.append("\n".join(lines[i:i + 4]))
            if len(parts) == 5:
                break
    tail = 10 if parts else 40
    if parts:
        parts.insert(0, "errors:")
    parts.append(f"--- last {tail} lines of {log.name} ---\n" + "\n".join(lines[-tail:]))
    return "\n".join(parts)


#: What pdflatex writes to its log when the document needs another pass (cross-references,
#: outlines without the bookmark package, anything rerunfilecheck watches).
_RERUN = re.compile(r"Rerun to get|Label\(s\) may have changed|Please rerun LaTeX|rerunfilecheck Warning")
#: Passes before a document that keeps asking for another one is a failure.
LATEX_PASSES = 4


def compile_latex(path_or_source: str | os.PathLike, workdir: str | os.PathLike):
    """Compile a .tex file (a path) or LaTeX source (a str with a backslash or a
    newline) to PDF with pdflatex inside ``workdir``, pass after pass while the log asks for
    another (as latexmk would, without its extra pass after the .aux file first appears).
    Returns the last pass's CompletedProcess; raises LatexError with the log's tail on failure,
    or when the document still asks for a rerun after :data:`LATEX_PASSES` passes.
    The source is copied into ``workdir`` so nothing is written beside it.
    """
    pdflatex = require_tool("pdflatex")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, max_print_line="1000")  # don't wrap log lines
    if isinstance(path_or_source, str) and ("\\" in path_or_source or "\n" in path_or_source):
        name, label = "document.tex", "<LaTeX source>"
        (workdir / name).write_text(path_or_source, encoding="utf-8")
    else:
        src = Path(path_or_source).resolve()
        name, label = src.name, str(src)
        shutil.copyfile(src, workdir / name)
        # \input / \includegraphics relative to the original still resolve.
        env["TEXINPUTS"] = f"{src.parent}{os.pathsep}{env.get('TEXINPUTS', '')}"
    cmd = [str(pdflatex), "-halt-on-error", "-interaction=nonstopmode", "-file-line-error", name]
    log = workdir / Path(name).with_suffix(".log")
    pdf = workdir / Path(name).with_suffix(".pdf")
    for _ in range(LATEX_PASSES):
        # Own process group so a timeout kills everything pdflatex started.
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                errors="replace", start_new_session=True)
        try:
            out, err = proc.communicate(timeout=LATEX_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise LatexError(f"pdflatex timed out after {LATEX_TIMEOUT}s on {label}\n" + _log_excerpt(log))
        result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
        if proc.returncode != 0 or not pdf.is_file():
            detail = (_log_excerpt(log) if log.is_file()
                      else f"(no {log.name}) pdflatex output:\n{(out + err)[-3000:]}")
            raise LatexError(f"LaTeX compile of {label} failed (pdflatex exit {proc.returncode})\n" + detail)
        if not _RERUN.search(log.read_text(encoding="utf-8", errors="replace")):
            return result
    raise LatexError(f"{label} still asks for another pdflatex pass after {LATEX_PASSES} passes\n"
                     + _log_excerpt(log))


# --------------------------------------------------------------------------- KaTeX


@dataclass(frozen=True)
class Formula:
    tex: str
    display: bool
    line: int  # 1-based line of the opening delimiter


@dataclass(frozen=True)
class FormulaError:
    source: str
    line: int
    tex: str
    display: bool
    message: str

    def __str__(self) -> str:
        d = "$$" if self.display else "$"
        return f"{self.source}:{self.line}: {d}{self.tex}{d}: {self.message}"


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_QUOTE = re.compile(r"( {0,3}> ?)*")


def _blank(s: str) -> str:
    """Same length and line breaks, no content."""
    return re.sub(r"[^\n]", " ", s)


def _scan(text: str) -> tuple[list[Formula], list[tuple[int, str]]]:
    """Find math in Markdown: ``$$...$$`` (may span lines), ``$...$``
    (pandoc rules: no space after the opener or before the closer, closer not
    followed by a digit, no blank line inside), GitHub's ``$`...`$`` and
    ```` ```math ```` blocks. Code (fenced or inline), HTML comments and
    backslash-escaped dollars are skipped. Returns (formulas, problems)."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(pos: int) -> int:
        return bisect.bisect_right(starts, pos)

    formulas: list[Formula] = []
    problems: list[tuple[int, str]] = []

    # Pass 1: blank out fenced code blocks (keeping ```math contents) and comments.
    s = _COMMENT.sub(lambda m: _blank(m.group()), text)
    lines = s.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        quote = _QUOTE.match(lines[i]).group()  # a fence may sit in a block quote
        m = _FENCE.match(lines[i][len(quote):])
        if not m or (m.group(1)[0] == "`" and "`" in m.group(2)):
            out.append(lines[i])
            i += 1
            continue
        fence, info = m.group(1), m.group(2).strip()
        close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{%d,}\\s*$" % len(fence))
        depth = quote.count(">")

        def unquote(line: str) -> str:
            for _ in range(depth):
                line = re.sub(r"^ {0,3}> ?", "", line, count=1)
            return line

        j = i + 1
        while j < len(lines) and not close.match(unquote(lines[j])):
            j += 1
        if info.split()[:1] == ["math"]:
            formulas.append(Formula("\n".join(unquote(ln) for ln in lines[i + 1:j]), True, i + 2))
        out.extend(_blank(ln) for ln in lines[i:j + 1])
        i = j + 1
    s = "\n".join(out)[: len(text)]

    # Pass 2: inline code spans and dollar math.
    n = len(s)

    def ticks(k: int) -> int:
        """Length of the backtick run starting at k."""
        j = k
        while j < n and s[j] == "`":
            j += 1
        return j - k

    def code_span_end(k: int) -> tuple[int, int] | None:
        """At a backtick run starting at k: (content end, span end) or None."""
        m = re.compile(r"(?<!`)`{%d}(?!`)" % ticks(k)).search(s, k + ticks(k))
        return (m.start(), m.end()) if m else None

    k = 0
    while k < n:
        c = s[k]
        if c == "\\":
            k += 2
            continue
        if c == "`":
            span = code_span_end(k)
            k = span[1] if span else k + ticks(k)  # unmatched: literal backticks
            continue
        if c != "$":
            k += 1
            continue
        if s.startswith("$$", k):
            j = k + 2
            while j < n and not s.startswith("$$", j):
                j += 2 if s[j] == "\\" else 1
            if j >= n:
                problems.append((line_of(k), "unclosed $$ (display math)"))
                break
            formulas.append(Formula(s[k + 2:j], True, line_of(k)))
            k = j + 2
            continue
        if s.startswith("$`", k):  # GitHub: $`...`$
            span = code_span_end(k + 1)
            if span and s.startswith("$", span[1]):
                tex = s[k + 1 + ticks(k + 1):span[0]].strip()
                formulas.append(Formula(tex, False, line_of(k)))
                k = span[1] + 1
                continue
        if k + 1 < n and not s[k + 1].isspace():
            j = k + 1
            while j < n:
                ch = s[j]
                if ch == "\\":
                    j += 2
                    continue
                if ch == "\n" and re.match(r"[ \t]*(\n|$)", s[j + 1:]):
                    j = n  # paragraph ended: not math
                    break
                if ch == "$" and not s[j - 1].isspace() and not s[j + 1:j + 2].isdigit():
                    break
                j += 1
            if j < n:
                formulas.append(Formula(s[k + 1:j], False, line_of(k)))
                k = j + 1
                continue
        k += 1  # a literal dollar
    formulas.sort(key=lambda f: f.line)
    return formulas, problems


def extract_formulas(markdown_text: str) -> list[Formula]:
    return _scan(markdown_text)[0]


def katex_check(markdown_text: str, source: str = "<markdown>") -> list[FormulaError]:
    """Render every formula in the Markdown with KaTeX (throwOnError, strict
    "error") in one node process; return one FormulaError per failure."""
    katex_dir = require_tool("katex")
    node = require_tool("node")
    formulas, problems = _scan(markdown_text)
    errors = [FormulaError(source, line, "", True, msg) for line, msg in problems]
    if not formulas:
        return errors
    payload = json.dumps([{"tex": f.tex, "display": f.display} for f in formulas])
    proc = subprocess.run([str(node), str(KATEX_SCRIPT)], input=payload, text=True,
                          capture_output=True, timeout=KATEX_TIMEOUT,
                          env=dict(os.environ, SYMGRAD_KATEX_DIR=str(katex_dir)))
    if proc.returncode != 0:
        raise RuntimeError(f"{KATEX_SCRIPT.name} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    results = json.loads(proc.stdout)
    assert len(results) == len(formulas), "katex_check.mjs returned the wrong count"
    errors += [FormulaError(source, f.line, f.tex, f.display, r["error"])
               for f, r in zip(formulas, results) if not r["ok"]]
    return sorted(errors, key=lambda e: e.line)
