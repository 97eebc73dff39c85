"""The Sphinx extension ``symgrad.sphinx``: a tiny Sphinx project built for real in ``tmp_path``.

Skips locally when Sphinx is not installed (``pip install symgrad[sphinx]``); fails when ``CI`` is set.
"""

from __future__ import annotations

import html
import importlib
import io
import re
import sys
import textwrap
from pathlib import Path

import pytest

from tooling import in_ci

PROOFS = '''
import sympy as sp
import symgrad as sg

x = sp.Symbol("x", real=True)
s = sg.sigmoid(x)

good = (sg.calc(sp.Derivative(s, x), title="The sigmoid's slope")
          .eq(s * (1 - s), by="derivative of the logistic function")
          .eq(sp.Rational(1, 4) - (s - sp.Rational(1, 2)) ** 2, by="complete the square")
          .le(sp.Rational(1, 4), by="a square is non-negative"))

def wrong():
    return sg.calc((x + 1) ** 2, title="A slip").eq(x ** 2 + 1, by="expand")

def document():
    return sg.Document(name="tiny", title="A tiny document", summary="Where $x$ is real.",
                       blocks=(sg.Prose("The slope of $\\\\sigma$ first."), sg.ProofBlock(good),
                               sg.Table(columns=("$x$", "value"), rows=((0, "one half"),))))

not_a_proof = 42
'''


def _needs(module: str, name: str) -> None:
    """Skip when ``module`` is missing; fail instead when CI is set."""
    try:
        importlib.import_module(module)
    except ImportError:
        message = f"{name} is not installed (pip install -e '.[test]')"
        if in_ci():
            pytest.fail(f"{message} (CI is set, so this is a failure)", pytrace=False)
        pytest.skip(message)


def _sphinx() -> None:
    _needs("sphinx", "Sphinx")


def _project(tmp_path: Path, body: str, conf: str = "") -> Path:
    src = tmp_path / "src"
    src.mkdir(parents=True)
    (tmp_path / "tiny_proofs.py").write_text(PROOFS, encoding="utf-8")
    (src / "conf.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        project = "tiny"
        extensions = ["symgrad.sphinx"]
        {conf}
    """), encoding="utf-8")
    (src / "index.rst").write_text("Tiny\n====\n\n" + textwrap.dedent(body), encoding="utf-8")
    return src


def _build(src: Path, out: Path, fresh: bool = True) -> tuple[int, str]:
    from sphinx.cmd.build import build_main

    sys.modules.pop("tiny_proofs", None)
    err = io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        code = build_main(["-b", "html", "-q", *(["-E"] if fresh else []), "-j", "1", str(src), str(out)])
    finally:
        sys.stderr = old
    return code, err.getvalue()


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page)).replace("\u2019", "'")  # Sphinx's smart quotes


def test_a_proved_proof_and_a_document_go_into_the_page(tmp_path: Path) -> None:
    _sphinx()
    src = _project(tmp_path, """
        .. symgrad:: tiny_proofs:good
           :budget: 5

        .. symgrad:: tiny_proofs:document
    """)
    code, err = _build(src, tmp_path / "html")
    assert code == 0, err
    page = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    text = _text(page)
    assert text.count("The sigmoid's slope") == 2 and "A tiny document" in text  # the proof, the document's proof
    assert text.count("derivative of the logistic function") == 2 and "complete the square" in text
    assert re.search(r"Status.*Evidence", text, re.S)
    assert text.count("proved") >= 6  # three steps, twice
    assert "\\begin{aligned}" in page and "\\sigma" in page  # display math for MathJax
    assert 'class="math notranslate nohighlight">\\(x\\)' in page  # inline math from the prose
    assert "one half" in text and "refuted" not in text


def test_a_refuted_step_fails_the_build_with_its_location(tmp_path: Path) -> None:
    _sphinx()
    src = _project(tmp_path, """
        Some text.

        .. symgrad:: tiny_proofs:wrong
    """)
    code, err = _build(src, tmp_path / "html")
    assert code == 1
    assert f"{src / 'index.rst'}:7: ERROR: symgrad:: tiny_proofs:wrong: 1 step(s) refuted:" in err
    assert "A slip, step 1: (x + 1)**2 = x**2 + 1: refuted — counterexample at x = " in err
    assert "Traceback" not in err
    page = _text((tmp_path / "html" / "index.html").read_text(encoding="utf-8"))
    assert "refuted" in page and "counterexample" in page  # the page shows what is wrong
    code, err = _build(src, tmp_path / "html", fresh=False)  # nothing re-read: still a failing build
    assert code == 1 and "may not be published in: index" in err


def test_bad_targets_fail_the_build_with_a_clear_message(tmp_path: Path) -> None:
    _sphinx()
    src = _project(tmp_path, ".. symgrad:: tiny_proofs:not_a_proof\n")
    code, err = _build(src, tmp_path / "a")
    assert code == 1 and "index.rst:4: ERROR: symgrad:: tiny_proofs:not_a_proof: 'tiny_proofs:not_a_proof' is " \
        "a int, not a symgrad Document or Proof" in err
    src2 = _project(tmp_path / "b", ".. symgrad:: no-such-entry\n\n.. symgrad:: os:system\n\n.. symgrad:: 1+1\n")
    code, err = _build(src2, tmp_path / "b" / "html")
    assert code == 1 and "no-such-entry" in err and "Traceback" not in err
    assert "calling os:system failed: TypeError" in err
    assert "'1+1' is neither a catalog entry name" in err


def test_a_catalog_entry(tmp_path: Path) -> None:
    _sphinx()
    src = _project(tmp_path, ".. symgrad:: gradient-clipping\n", conf="symgrad_fail_on = 'unproved'")
    code, err = _build(src, tmp_path / "html")
    assert code == 0, err
    page = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    text = _text(page)
    assert "Gradient clipping: by norm and by value" in text
    assert "<strong>refuted</strong>" not in page and page.count("<strong>proved</strong>") >= 10  # step verdicts
    assert page.count('<table') >= 10  # verdict tables and the entry's own tables


def test_a_myst_markdown_page(tmp_path: Path) -> None:
    _sphinx()
    _needs("myst_parser", "myst-parser")
    src = _project(tmp_path, "", conf='extensions.append("myst_parser")')
    (src / "index.rst").unlink()
    (src / "index.md").write_text("# Tiny\n\nBefore.\n\n```{symgrad} tiny_proofs:wrong\n```\n", encoding="utf-8")
    code, err = _build(src, tmp_path / "html")
    assert code == 1
    assert f"{src / 'index.md'}:5: ERROR: symgrad:: tiny_proofs:wrong: 1 step(s) refuted:" in err
    (src / "index.md").write_text("# Tiny\n\n```{symgrad} tiny_proofs:good\n:budget: 5\n```\n", encoding="utf-8")
    code, err = _build(src, tmp_path / "html")
    assert code == 0, err
    page = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert page.count("<strong>proved</strong>") == 3 and "\\begin{aligned}" in page
