"""The command line: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

import symgrad as sg
from symgrad.cli import main

ENTRY = "sigmoid-derivative-bound"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_list_names_every_entry() -> None:
    code, out, _ = run("list")
    assert code == 0
    for name in sg.catalog.names():
        assert name in out


def test_show_prints_verdicts_and_exits_0_when_proved() -> None:
    code, out, err = run("show", ENTRY)
    assert code == 0, err
    assert "proved" in out
    assert "sigmoid" in out


def test_render_writes_both_formats(tmp_path: Path) -> None:
    code, out, err = run("render", ENTRY, "--format", "md", "--format", "tex", "--out", str(tmp_path))
    assert code == 0, err
    assert (tmp_path / f"{ENTRY}.md").read_text(encoding="utf-8").startswith("#")
    assert "\\begin{document}" in (tmp_path / f"{ENTRY}.tex").read_text(encoding="utf-8")
    assert f"[1/1] {ENTRY}: proved" in err


@pytest.mark.parametrize("argv, fragment", [
    (("show", "no-such-entry"), "no catalog entry named 'no-such-entry'"),
    (("show", "sigmoid-derivative"), "did you mean sigmoid-derivative-bound"),
    (("render",), "name at least one entry"),
    (("render", ENTRY, "--all"), "not both"),
    (("render", ENTRY, "--format", "pdf"), "invalid choice: 'pdf'"),
    (("frobnicate",), "invalid choice: 'frobnicate'"),
    ((), "the following arguments are required"),
])
def test_bad_usage_exits_2_with_one_line(argv: tuple[str, ...], fragment: str) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("symgrad")


def test_unwritable_output_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, _, err = run("render", ENTRY, "--out", str(blocker / "sub"))
    assert code == 2
    assert "cannot create the output directory" in err


def add_entry(monkeypatch: pytest.MonkeyPatch, document: "sg.Document", summary: str) -> None:
    """Put ``document`` into the catalog for one test."""
    from symgrad import catalog

    original = catalog.get
    monkeypatch.setitem(catalog._BY_NAME, document.name, catalog.Entry(document.name, "", "", summary))
    monkeypatch.setattr(catalog, "get", lambda name: document if name == document.name else original(name))


def test_render_exit_code_1_when_a_step_is_not_proved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sympy as sp

    from symgrad.proofs.documents import Document, ProofBlock

    x = sp.Symbol("x", real=True)
    wrong = Document(name="wrong", title="Wrong", summary="A wrong step.",
                     blocks=(ProofBlock(sg.calc(x**2).ge(x)),))
    add_entry(monkeypatch, wrong, "a wrong proof")
    code, _, err = run("render", "wrong", "--out", str(tmp_path))
    assert code == 1
    assert "wrong: refuted" in err
    code, out, _ = run("show", "wrong")
    assert code == 1 and "refuted" in out


def test_module_entry_point_runs_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "symgrad", "show", "nope"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "no catalog entry" in proc.stderr


def test_render_writes_figure_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sympy as sp

    from symgrad.proofs.documents import Document, Figure, ProofBlock

    x = sp.Symbol("x", real=True)
    svg = '<svg xmlns="http://www.w3.org/2000/svg"></svg>\n'
    doc = Document(name="plotted", title="Plotted", summary="A figure with a file.",
                   blocks=(ProofBlock(sg.calc(x).eq(x)),
                           Figure({"markdown": "![plot](plotted-plot.svg)", "latex": r"\fbox{plot}"},
                                  caption="A plot.", assets={"plotted-plot.svg": svg})))
    add_entry(monkeypatch, doc, "a document with a plot")
    code, out, err = run("render", "plotted", "--out", str(tmp_path))
    assert code == 0, err
    assert (tmp_path / "plotted-plot.svg").read_text(encoding="utf-8") == svg
    assert "![plot](plotted-plot.svg)" in (tmp_path / "plotted.md").read_text(encoding="utf-8")

    bad = Document(name="plotted", title="Plotted", summary="A figure with a bad file name.",
                   blocks=(Figure({"markdown": "x"}, assets={"../escape.svg": svg}),))
    add_entry(monkeypatch, bad, "a bad figure")
    code, _, err = run("render", "plotted", "--out", str(tmp_path))
    assert code == 2 and "must be a plain file name" in err
