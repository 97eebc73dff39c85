"""``symgrad check --format json|github``, notebooks, colour and progress on a terminal."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import nbformat
import pytest
import sympy as sp

import symgrad as sg
from symgrad import terminal
from symgrad.cli import main

CORPUS = Path(__file__).parent / "notes_corpus"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(*argv: str, out: io.StringIO | None = None, err: io.StringIO | None = None) -> tuple[int, str, str]:
    out = out if out is not None else io.StringIO()
    err = err if err is not None else io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------
# JSON


def test_json_has_one_record_per_step_and_the_counterexample_holds() -> None:
    path = CORPUS / "wrong_sign.tex"
    code_text, text, _ = run("check", str(path), "--budget", "5")
    code, out, _ = run("check", str(path), "--budget", "5", "--format", "json")
    assert code == code_text == 1
    records = json.loads(out)
    step_lines = [line for line in text.splitlines() if ": step " in line]
    assert [r["text"] for r in records] == step_lines
    assert all(r["file"] == str(path) and r["cell"] is None and r["file_line"] == r["line"] for r in records)
    refuted = [r for r in records if r["status"] == "refuted"]
    assert len(refuted) == 1 and refuted[0]["line"] == 11 and refuted[0]["relation"] == "="
    cx = refuted[0]["counterexample"]
    assert cx["point"] == {"z": "0"} and cx["exact"] is True
    # the oracle: SymPy's own derivative of the left side at the point, against the right side
    z = sp.Symbol("z")
    assert sp.Rational(cx["lhs"]) == sp.diff(sp.log(1 + sp.exp(-z)), z).subs(z, 0)
    assert sp.Rational(cx["rhs"]) == (sp.exp(-z) / (1 + sp.exp(-z))).subs(z, 0)
    assert {r["status"] for r in records} == {"proved", "refuted"}
    assert all(r["method"] for r in records)


def test_json_reports_unreadable_math_and_unreadable_files(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("Text.\n\n$$\nx = \\frac{1}{\n$$\n", encoding="utf-8")
    code, out, err = run("check", str(note), str(tmp_path / "missing.md"), "-f", "json", "--budget", "5")
    assert code == 2
    records = json.loads(out)
    assert [r["kind"] for r in records] == ["error", "error"]
    assert records[0]["file"] == str(note) and records[0]["line"] >= 3 and records[0]["status"] == "error"
    assert records[1]["file"].endswith("missing.md") and records[1]["line"] is None
    assert "cannot read" in err


def test_one_output_format_only(tmp_path: Path) -> None:
    code, _, err = run("check", str(CORPUS / "sigmoid_bound.md"), "-f", "json", "-f", "github")
    assert code == 2 and "one output format" in err
    code, _, err = run("check", str(CORPUS / "sigmoid_bound.md"), "-f", "md", "-f", "tex")
    assert code == 2 and "one input format" in err


# ---------------------------------------------------------------------------
# GitHub workflow commands


def test_github_escaping_follows_the_runner_rules() -> None:
    assert terminal.github_escape("a%b\r\nc") == "a%25b%0D%0Ac"
    assert terminal.github_property("dir,x/a:b%.md") == "dir%2Cx/a%3Ab%25.md"


def test_github_annotates_the_refuted_line_only(tmp_path: Path) -> None:
    path = CORPUS / "wrong_sign.tex"
    code, out, _ = run("check", str(path), "--budget", "5", "--format", "github")
    assert code == 1
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    assert len(annotations) == 1
    match = re.fullmatch(r"::error file=(?P<file>[^,]+),line=(?P<line>\d+),title=(?P<title>[^:]+)::(?P<msg>.+)",
                         annotations[0])
    assert match, annotations[0]
    assert match["file"] == terminal.github_property(str(path)) and match["line"] == "11"
    assert "counterexample at z = 0" in match["msg"] and "\n" not in match["msg"]
    assert out.splitlines()[-1].endswith("— not proved")
    code, out, _ = run("check", str(CORPUS / "chain_rule.tex"), "--budget", "5", "--format", "github")
    assert code == 0 and not [line for line in out.splitlines() if line.startswith("::")]


def test_github_warns_for_numeric_and_errors_for_unreadable_files(tmp_path: Path) -> None:
    note = tmp_path / "a,b.md"
    note.write_text("$$\n\\sin(x) \\le 1\n$$\n", encoding="utf-8")  # true; proved or numeric, never refuted
    code, out, _ = run("check", str(note), str(tmp_path / "nope.md"), "-f", "github", "--budget", "5")
    assert code == 2
    lines = out.splitlines()
    assert any(line.startswith("::error file=") and "nope.md" in line and "cannot read" in line for line in lines)
    assert not any(line.startswith("::error") and "a%2Cb.md" in line for line in lines)


# ---------------------------------------------------------------------------
# Notebooks


def _notebook(tmp_path: Path, *cells: tuple[str, str], name: str = "nb.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
                for kind, src in cells]
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def test_a_notebook_is_checked_cell_by_cell_with_declarations_carried_over(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path,
        ("md", "# Notes\n<!-- symgrad: let s = \\sigma(x) -->\nThe sigmoid."),
        ("code", "x = 1\n$$ 1 = 2 $$"),  # code cells are not read
        ("md", "Its derivative:\n\n$$\n\\frac{d s}{d x} = s (1 - s)\n$$\n"),
        ("md", "A slip:\n$$\n(x+1)^2 = x^2 + 1\n$$"),
    )
    code, out, _ = run("check", str(path), "--budget", "5")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}:cell 3:line 4: step 1: ") and "  [proved] " in lines[0]
    assert lines[1].startswith(f"{path}:cell 4:line 3: step 1: ") and "[refuted]" in lines[1]
    assert lines[2] == f"{path}: 2 steps in 2 chains: 1 proved, 1 refuted — not proved"
    # --format json: file_line is the line of the .ipynb file where the step is written
    records = json.loads(run("check", str(path), "--budget", "5", "-f", "json")[1])
    raw = path.read_text(encoding="utf-8").splitlines()
    assert [(r["cell"], r["line"]) for r in records] == [(3, 4), (4, 3)]
    assert "\\\\frac{d s}{d x}" in raw[records[0]["file_line"] - 1]
    assert "(x+1)^2" in raw[records[1]["file_line"] - 1]
    annotations = [l for l in run("check", str(path), "--budget", "5", "-f", "github")[1].splitlines()
                   if l.startswith("::")]
    assert annotations == [a for a in annotations if a.startswith(f"::error file={path},line="
                                                                  f"{records[1]['file_line']},")]
    assert len(annotations) == 1 and "::cell 4, line 3: " in annotations[0]


def test_check_text_and_problems_in_notebooks(tmp_path: Path) -> None:
    path = _notebook(tmp_path, ("md", "intro"), ("md", "$$\nx = \\frac{1}{\n$$"))
    report = sg.check_text(path.read_text(encoding="utf-8"), "notebook", path="nb.ipynb")
    assert not report.ok and len(report.problems) == 1
    problem = report.problems[0]
    assert (problem.cell, problem.path) == (2, "nb.ipynb")
    assert problem.text().startswith("nb.ipynb:cell 2:line ")
    assert sg.check_text(path.read_text(encoding="utf-8"), "ipynb").steps == ()


@pytest.mark.parametrize("content, fragment", [
    ("not json", "invalid JSON"),
    ('{"cells": 3}', "no list of cells"),
    ('{"cells": [{"cell_type": "markdown"}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
     "nbformat can read"),
])
def test_a_broken_notebook_exits_2_and_the_others_are_checked(tmp_path: Path, content: str, fragment: str) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text(content, encoding="utf-8")
    good = _notebook(tmp_path, ("md", "$$ (x+1)^2 = x^2 + 2x + 1 $$"), name="good.ipynb")
    code, out, err = run("check", str(bad), str(good), "--budget", "5")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"symgrad: error: cannot read {bad}: ") and fragment in err
    assert "Traceback" not in err
    assert f"{good}:cell 1:line 1: step 1: " in out and "[proved]" in out
    with pytest.raises(sg.SymgradError, match=fragment):
        sg.check_text(content, "notebook")


# ---------------------------------------------------------------------------
# Colour and progress


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    path = str(CORPUS / "wrong_sign.tex")
    _, plain, _ = run("check", path, "--budget", "5")
    assert not ANSI.search(plain)
    _, coloured, _ = run("check", path, "--budget", "5", out=_Terminal())
    assert ANSI.search(coloured) and ANSI.sub("", coloured) == plain
    refuted = next(line for line in coloured.splitlines() if "refuted]" in line)
    assert re.search(r"\x1b\[[0-9;]*31m\[refuted\]\x1b\[0m", refuted), repr(refuted)
    monkeypatch.setenv("NO_COLOR", "1")
    assert run("check", path, "--budget", "5", out=_Terminal())[1] == plain


def test_a_progress_bar_only_on_a_terminal_and_stdout_unchanged(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    files = []
    for name, chain in (("a.md", "(x + 1)^2 = x^2 + 2 x + 1"), ("b.md", "(x + 1)^2 = x^2 + 1")):
        (tmp_path / name).write_text(f"$$\n{chain}\n$$\n", encoding="utf-8")
        files.append(str(tmp_path / name))
    code, out, err = run("check", *files, "--budget", "5", "-j", "1")
    code_tty, out_tty, err_tty = run("check", *files, "--budget", "5", "-j", "1", err=_Terminal())
    assert code == code_tty and out == out_tty and err == ""
    assert err_tty  # the bar drew on the terminal's standard error
    # both on a terminal: the bar's line is erased before each note's lines, and stdout carries no bar
    out_both, err_both = _Terminal(), _Terminal()
    assert run("check", *files, "--budget", "5", "-j", "1", out=out_both, err=err_both)[0] == code
    assert out_both.getvalue() == out
    assert err_both.getvalue().count("\r\x1b[2K") >= 2


def test_render_progress_replaces_the_checking_lines_only_on_a_terminal(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from symgrad import cli

    monkeypatch.setenv("NO_COLOR", "1")
    names = ["a", "b"]

    def results():  # type: ignore[no-untyped-def]
        for name in names:
            yield lambda name=name: ([(f"{name}.md", f"# {name}\n")], name == "a", "proved" if name == "a" else "refuted")

    out, err = io.StringIO(), io.StringIO()
    assert cli._write_rendered(names, results(), tmp_path, out, err) == 1
    assert err.getvalue() == "[1/2] a: checking ...\n[1/2] a: proved\n[2/2] b: checking ...\n[2/2] b: refuted\n"
    out_tty, err_tty = io.StringIO(), _Terminal()
    assert cli._write_rendered(names, results(), tmp_path, out_tty, err_tty) == 1
    assert out_tty.getvalue() == out.getvalue() == f"{tmp_path / 'a.md'}\n{tmp_path / 'b.md'}\n"
    assert "checking ..." not in err_tty.getvalue()
    assert "[1/2] a: proved" in err_tty.getvalue() and "[2/2] b: refuted" in err_tty.getvalue()
    assert (tmp_path / "b.md").read_text(encoding="utf-8") == "# b\n"
    out_both, err_both = _Terminal(), _Terminal()  # both on one terminal: the bar's line is erased first
    assert cli._write_rendered(names, results(), tmp_path, out_both, err_both) == 1
    assert out_both.getvalue() == out.getvalue() and err_both.getvalue().count("\r\x1b[2K") >= 2


def test_show_colours_the_step_verdicts_only_when_wanted() -> None:
    text = "Title\n  step 1 proved — SymPy\n  step 2 refuted — counterexample at x = 1\nstep 3 proved by hand\n"
    coloured = terminal.Style(True).report_text(text)
    assert ANSI.sub("", coloured) == text
    assert re.search(r"step 2 \x1b\[[0-9;]*31mrefuted\x1b\[0m — ", coloured)
    assert "step 3 proved by hand" in coloured  # not a verdict line: untouched
    assert terminal.Style(False).report_text(text) == text


def test_a_display_left_open_ends_with_its_cell(tmp_path: Path) -> None:
    path = _notebook(tmp_path, ("md", "Open: $$ x + 1"), ("md", "$$\n(x+1)^2 = x^2 + 1\n$$"),
                     ("md", "```python\nnever closed"), ("md", "$$\n(x+1)^2 = x^2 + 2x + 1\n$$"))
    code, out, _ = run("check", str(path), "--budget", "5")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{path}:cell 1:line 1:7: error: $$ is never closed"
    assert lines[1].startswith(f"{path}:cell 2:line 2: step 1: ") and "[refuted]" in lines[1]
    assert lines[2].startswith(f"{path}:cell 4:line 2: step 1: ") and "[proved]" in lines[2]
    assert lines[3] == f"{path}: 2 steps in 2 chains: 1 proved, 1 refuted; 1 error — not proved"


def test_a_notebook_with_large_outputs_is_read(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    image = "A" * (10 * 1024 * 1024)  # a 10 MiB output: larger than a Markdown note may be, never read
    code = nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": image, "text/plain": "<Figure>"})])
    nb.cells = [code, nbformat.v4.new_markdown_cell("$$\n(x+1)^2 = x^2 + 2x + 1\n$$")]
    path = tmp_path / "big.ipynb"
    nbformat.write(nb, str(path))
    assert path.stat().st_size > 10 * 1024 * 1024
    code_, out, err = run("check", str(path), "--budget", "5", "-f", "json")
    assert code_ == 0, err
    [record] = json.loads(out)
    assert (record["cell"], record["line"], record["status"]) == (2, 2, "proved")
    assert "(x+1)^2" in path.read_text(encoding="utf-8").splitlines()[record["file_line"] - 1]
