"""Build ``examples/tour.ipynb`` and run it in a real Jupyter kernel, so that it ships with its outputs.

    python examples/make_tour.py examples/tour.ipynb

Needs nbclient and ipykernel (the test extras). The kernel is this Python
(``sys.executable``), so the outputs are those of the symgrad installed here.
``tests/test_tour_notebook.py`` runs the shipped notebook again and fails when
its saved outputs differ from a fresh run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNEL = "python3"


def execute(nb: nbformat.NotebookNode, workdir: str | os.PathLike[str] = ".") -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel of this Python; outputs are stored in ``nb`` (no timings)."""
    with tempfile.TemporaryDirectory() as jupyter:
        spec = Path(jupyter) / "kernels" / KERNEL
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3", "language": "python"}), encoding="utf-8")
        old = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = jupyter + (os.pathsep + old if old else "")
        try:
            NotebookClient(nb, timeout=120, kernel_name=KERNEL, record_timing=False,
                           resources={"metadata": {"path": str(workdir)}}).execute()
        finally:
            if old is None:
                del os.environ["JUPYTER_PATH"]
            else:
                os.environ["JUPYTER_PATH"] = old
    return nb


md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
CELLS = [
    md("# A tour of symgrad\n\n"
       "Build a chain of (in)equalities, let the kernel check every step, and display the result "
       "as typeset math. Each displayed proof carries `text/markdown` and `text/latex`, so Jupyter "
       "shows it rendered."),
    code("import sympy as sp\nimport symgrad as sg\n\n"
         "x = sp.Symbol(\"x\", real=True)\n"
         "s = sg.sigmoid(x)  # a SymPy function: diff(s, x) == s*(1 - s)"),
    md("## A proof, before it is checked\n\n"
       "The derivative of the sigmoid $\\sigma$ is $\\sigma(1 - \\sigma)$, at most $\\frac14$: "
       "complete the square."),
    code("p = (sg.calc(sp.Derivative(s, x))\n"
         "       .eq(s * (1 - s), by=\"derivative of the logistic function\")\n"
         "       .eq(sp.Rational(1, 4) - (s - sp.Rational(1, 2)) ** 2, by=\"complete the square\")\n"
         "       .le(sp.Rational(1, 4), by=\"a square is non-negative\"))\n"
         "p"),
    md("## Checked\n\nEvery step goes through the kernel; the report shows each verdict and how it was decided."),
    code("r = p.check()\nr"),
    code("r.ok, [v.status.value for v in r.steps]"),
    md("## A wrong step is a verdict, not an exception"),
    code("sg.calc(s * (1 - s)).le(sp.Rational(1, 5), by=\"a guess\").check()"),
    md("## The same chain in Markdown\n\n"
       "`symgrad check tour.ipynb` reads the Markdown cells of this notebook and checks the chain below "
       "(a declaration in a comment names $s$):\n\n"
       "<!-- symgrad: let s = \\sigma(x) -->\n\n"
       "$$\n\\begin{aligned}\n\\sigma'(x) &= s (1 - s) \\\\\n"
       "&= \\frac14 - \\left(s - \\frac12\\right)^2 \\\\\n&\\le \\frac14\n\\end{aligned}\n$$"),
]


def build() -> nbformat.NotebookNode:
    """The tour, without outputs."""
    nb = nbformat.v4.new_notebook(cells=CELLS)
    for number, cell in enumerate(nb.cells, start=1):
        cell["id"] = f"tour-{number}"  # fixed ids: the file is the same on every run
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/make_tour.py OUT.ipynb")
    notebook = execute(build())
    notebook.metadata["language_info"] = {"name": "python"}  # no interpreter version: the file stays the same
    nbformat.write(notebook, sys.argv[1])
