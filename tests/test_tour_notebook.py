"""``examples/tour.ipynb`` in a real Jupyter kernel (nbclient + ipykernel), its math through real KaTeX.

The shipped notebook is run again from scratch; its saved outputs must be what
a fresh run gives (so the file shows what symgrad really displays), the proofs
must display as ``text/markdown`` and ``text/latex``, and KaTeX must accept
every formula in them. ``symgrad check`` must prove the chain in its Markdown
cells. Skips locally when nbclient/ipykernel or KaTeX is missing; fails when
``CI`` is set.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import nbformat
import pytest

from symgrad.cli import main
from tooling import REPO_ROOT, in_ci, katex_check

TOUR = REPO_ROOT / "examples" / "tour.ipynb"
RICH = ("text/markdown", "text/latex", "text/plain")


def _load_maker():  # type: ignore[no-untyped-def]
    for module in ("nbclient", "ipykernel"):
        if importlib.util.find_spec(module) is None:
            message = f"{module} is not installed (pip install -e '.[test]')"
            if in_ci():
                pytest.fail(f"{message} (CI is set, so this is a failure)", pytrace=False)
            pytest.skip(message)
    spec = importlib.util.spec_from_file_location("make_tour", REPO_ROOT / "examples" / "make_tour.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outputs(nb: nbformat.NotebookNode) -> list[list[dict[str, str]]]:
    """Per code cell, the rich data of its results (what a reader sees)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        out.append([{k: v for k, v in o.get("data", {}).items() if k in RICH} | (
            {"stream": o["text"]} if o.output_type == "stream" else {}) for o in cell.outputs])
    return out


@pytest.mark.tools
def test_the_tour_runs_in_a_real_kernel_and_ships_its_outputs(tmp_path: Path) -> None:
    maker = _load_maker()
    shipped = nbformat.read(TOUR, as_version=4)
    # the file is the one make_tour.py builds
    assert [c.source for c in maker.build().cells] == [c.source for c in shipped.cells]
    fresh = maker.execute(copy.deepcopy(shipped), tmp_path)
    errors = [o for cell in fresh.cells if cell.cell_type == "code" for o in cell.outputs
              if o.output_type == "error"]
    assert not errors, errors
    assert _outputs(fresh) == _outputs(shipped), "examples/tour.ipynb is stale: python examples/make_tour.py " \
                                                  "examples/tour.ipynb"
    bundles = [o.data for cell in fresh.cells if cell.cell_type == "code" for o in cell.outputs if "data" in o]
    rich = [b for b in bundles if "text/markdown" in b and "text/latex" in b]
    assert len(rich) >= 3  # the proof, its report, the refuted chain
    assert any("**proved**" in b["text/markdown"] for b in rich)
    assert any("**refuted**" in b["text/markdown"] and "counterexample" in b["text/markdown"] for b in rich)
    for n, bundle in enumerate(rich):
        assert not katex_check(bundle["text/markdown"], f"output {n} text/markdown")
        latex = bundle["text/latex"]
        assert latex.lstrip().startswith("$$") and latex.rstrip().endswith("$$")
        assert not katex_check(latex, f"output {n} text/latex")


def test_symgrad_check_proves_the_chain_in_the_tour_cells() -> None:
    import io

    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(TOUR), "--budget", "5"], out=out, err=err) == 0, out.getvalue() + err.getvalue()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and all(":cell 10:line " in line and "[proved]" in line for line in lines[:3])
    assert lines[-1].endswith("3 steps in 1 chain: 3 proved — all proved")
