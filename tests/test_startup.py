"""Start-up: the command line's light paths and ``import symgrad`` import neither SymPy nor NumPy.

Each check runs in a fresh interpreter (this test process has imported
everything already) and reads ``sys.modules`` afterwards. The lazy public
surface must still be complete, and the model's display methods must answer
through the real presenter even though the root no longer imports the renderer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("sympy", "numpy", "mpmath", "jinja2", "z3")


def fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON value, returned."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv, code", [
    (["--help"], 0),
    (["--version"], 0),
    (["list"], 0),
    (["render", "--help"], 0),
    (["cache", "path"], 0),
    (["frobnicate"], 2),
    (["render", "no-such-entry"], 2),
    (["render"], 2),
    (["render", "--all", "--jobs", "0"], 2),
    (["show", "no-such-entry"], 2),
    (["check", "notes.txt"], 2),
])
def test_light_commands_import_no_sympy_or_numpy(argv: list[str], code: int) -> None:
    result = fresh(f"""
        import io, json, sys
        from symgrad.cli import main
        out, err = io.StringIO(), io.StringIO()
        code = main({argv!r}, out=out, err=err)
        print(json.dumps({{"code": code, "err": err.getvalue(),
                          "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
    """)
    assert result["code"] == code, result["err"]
    assert "Traceback" not in result["err"]
    assert result["heavy"] == [], f"symgrad {' '.join(argv)} imported {result['heavy']}"


def test_list_prints_every_entry_without_importing_entry_modules() -> None:
    result = fresh("""
        import io, json, sys
        from symgrad.cli import main
        out = io.StringIO()
        main(["list"], out=out, err=io.StringIO())
        print(json.dumps({"out": out.getvalue(),
                          "entries": sorted(m for m in sys.modules if m.startswith("symgrad.catalog."))}))
    """)
    from symgrad import catalog

    assert result["entries"] == []
    assert [line.split()[0] for line in result["out"].splitlines()] == catalog.names()


def test_import_symgrad_is_light() -> None:
    result = fresh(f"""
        import json, sys
        import symgrad
        print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
    """)
    assert result == []


def test_lazy_public_surface_is_complete() -> None:
    """``dir``, ``from symgrad import *`` and attribute access give every public name, the same objects."""
    result = fresh("""
        import json
        import symgrad
        listed = dir(symgrad)
        namespace = {}
        exec("from symgrad import *", namespace)
        import symgrad.core.functions, symgrad.core.rules, symgrad.numerics.gradcheck, symgrad.proofs.proof
        import symgrad.numerics.numeric
        same = (symgrad.sigmoid is symgrad.core.functions.sigmoid
                and symgrad.rules is symgrad.core.rules.registry
                and symgrad.check_layer is symgrad.numerics.gradcheck.check_layer
                and symgrad.calc is symgrad.proofs.proof.calc
                and symgrad.numeric is symgrad.numerics.numeric
                and namespace["calc"] is symgrad.calc)
        missing_dir = [n for n in symgrad.__all__ if n not in listed]
        missing_star = [n for n in symgrad.__all__ if n not in namespace]
        print(json.dumps({"dir": missing_dir, "star": missing_star, "same": same}))
    """)
    assert result == {"dir": [], "star": [], "same": True}


def test_unknown_attribute_is_an_attribute_error() -> None:
    import symgrad

    with pytest.raises(AttributeError, match="no_such_name"):
        symgrad.no_such_name  # noqa: B018
    assert not hasattr(symgrad, "no_such_name")


def test_model_objects_display_through_the_real_presenter() -> None:
    """A proof made from its own module (the root's lazy names untouched) still shows rendered text."""
    result = fresh("""
        import json, sys
        import sympy as sp
        from symgrad.proofs.proof import calc
        x = sp.Symbol("x", real=True)
        p = calc(x**2 + 1).ge(1, by="a square is non-negative")
        rendered_before = "symgrad.rendering.render" in sys.modules
        text = repr(p)
        bundle = p._repr_mimebundle_()
        report_text = repr(p.check())
        markdown = p.to_markdown()
        from symgrad.interactive import Presenter
        print(json.dumps({"before": rendered_before, "text": text, "expected": Presenter().text(p),
                          "bundle": sorted(bundle), "markdown_ok": markdown == Presenter().render(p, "markdown"),
                          "report": report_text}))
    """)
    assert result["before"] is False  # the renderer was imported by the first display, not by the import
    assert result["text"] == result["expected"] and not result["text"].startswith("<Proof")
    assert {"text/plain", "text/markdown", "text/latex"} <= set(result["bundle"])
    assert result["markdown_ok"]
    assert "proved" in result["report"]
