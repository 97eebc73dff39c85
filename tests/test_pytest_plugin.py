"""The pytest plugin: fixture, failure messages, SymPy equality explanations, -p no:symgrad.

Each test writes a test file and runs pytest on it with ``pytester`` (in
process, or in a subprocess where plugin loading itself is under test), then
checks what a user would read.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import numpy  # noqa: F401 - imported before any in-process run (see below)
import pytest
import sympy as sp

from symgrad.pytest_plugin import explain_sympy_equality, pytest_assertrepr_compare

pytest_plugins = ["pytester"]
# pytester's in-process runs drop the modules their test files imported; numpy cannot be imported
# twice in one process, so it is imported here, before them (this module alone then passes too).


@pytest.fixture(autouse=True)
def _plugins_load_as_for_a_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pytest runs below load plugins from their entry points, as a user's do.

    ``scripts/test.sh`` turns that off for the suite itself (it names the plugins it needs, so that
    pytest does not rewrite the asserts of every module of every plugin's distribution).
    """
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)

GRADIENT_TESTS = """
import numpy as np

def f(x):
    return float(np.sum(np.tanh(x) ** 2))

def good(x):
    t = np.tanh(x)
    return 2 * t * (1 - t ** 2)

def bad(x):
    t = np.tanh(x)
    return 2 * t * (1 - t)

X = np.linspace(-1.5, 2.0, 12).reshape(3, 4)

def test_good(symgrad_check):
    assert symgrad_check.gradient(f, good, X).passed

def test_bad(symgrad_check):
    symgrad_check.gradient(f, good, X)
    symgrad_check.gradient(f, bad, X)
"""

SYMPY_TESTS = """
import sympy as sp

x = sp.Symbol("x", real=True)

def test_same_function_different_trees():
    assert sp.sin(x) ** 2 + sp.cos(x) ** 2 == 1

def test_wrong_derivative():
    assert sp.diff(sp.tanh(x), x) == 1 - sp.tanh(x)
"""


def test_entry_point_is_registered() -> None:
    points = [p for p in metadata.entry_points(group="pytest11") if p.name == "symgrad"]
    assert [p.value for p in points] == ["symgrad.pytest_plugin"]


def test_gradient_failure_names_direction_both_sides_and_counterexample(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grad=GRADIENT_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        ">       symgrad_check.gradient(f, bad, X)",
        "E       symgrad.core.errors.GradientError: gradient check failed (directional, seed 0): "
        "direction 1 of 3 disagrees: relative error *",
        "E         yours:               <grad_f, v> = *",
        "E         finite differences:  d/dt f(x+tv) = *",
        "E         counterexample: the inputs given, direction 1 (*reproduce with seed=0)",
        "test_grad.py:*: GradientError",
        "*symgrad checks*",
        "1. gradient check (directional) passed: all 3 directions agree*",
        "2. gradient check (directional) failed: direction 1 of 3 disagrees*",
    ])
    assert "gradcheck.py:" not in result.stdout.str()  # the helper's frames are hidden


LAYER_TESTS = """
import numpy as np

def scale_forward(x, w, param):
    return x * w * param["k"], (x, w, param["k"])

def scale_backward(dout, cache):
    x, w, k = cache
    return dout * w * k, (dout * x * k).sum(axis=0)

def scale_backward_keepdims(dout, cache):
    x, w, k = cache
    return dout * w * k, (dout * x * k).sum(axis=0, keepdims=True)

X = np.linspace(-1.0, 2.0, 12).reshape(4, 3)
W = np.array([0.5, -1.5, 2.0])

def test_layer_good(symgrad_check):
    assert symgrad_check.layer(scale_forward, scale_backward, X, W, static=({"k": 3.0},)).passed

def test_layer_bad(symgrad_check):
    symgrad_check.layer(scale_forward, scale_backward_keepdims, X, W, static={"k": 3.0})
"""


def test_layer_through_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_layer=LAYER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--symgrad-seed=2")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        ">       symgrad_check.layer(scale_forward, scale_backward_keepdims, X, W, static={\"k\": 3.0})",
        "E       symgrad.core.errors.GradientError: gradient check failed (directional, seed 2): "
        "the gradient for w has shape (1, 3); the input has shape (3,)",
        "*symgrad checks*",
        "1. gradient check (directional) failed: the gradient for w has shape (1, 3)*",
    ])


def test_seed_option_reaches_the_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grad=GRADIENT_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--symgrad-seed=5", "-k", "bad")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*gradient check failed (directional, seed 5)*"])


def test_sympy_equality_shows_both_sides_difference_and_verdict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sym=SYMPY_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "E       AssertionError: assert sin(x)**2 + cos(x)**2 == 1",
        "E         SymPy's == compares expression trees, and these differ:",
        "E           left:  sin(x)**2 + cos(x)**2",
        "E           right: 1",
        "E           left - right simplifies to: 0",
        "E           as functions they are equal (the kernel proves it: *); only the trees differ*",
    ])
    result.stdout.fnmatch_lines([
        "E       AssertionError: assert 1 - tanh(x)**2 == 1 - tanh(x)",
        "E           left - right simplifies to: *tanh(x)*",
        "E           counterexample: at x = *: lhs = *, rhs = *",
    ])


def test_proof_through_the_fixture_reuses_assert_proof_messages(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_proof="""
import sympy as sp
import symgrad as sg

def test_power_rule(symgrad_check):
    x = sp.Symbol("x", real=True)
    symgrad_check.proof(sg.calc(sp.diff(x ** 3, x)).eq(2 * x ** 2, by="power rule"))

def test_true(symgrad_check):
    x = sp.Symbol("x", real=True)
    assert symgrad_check.proof(sg.calc(sp.diff(x ** 3, x)).eq(3 * x ** 2)).ok
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "E       symgrad.core.errors.ProofError: step 1 of 1 is refuted: 3*x**2 = 2*x**2",
        "E         justified by: power rule",
        "E         counterexample at x = *: lhs = *, rhs = *",
        "1. proof 3*x**2 = 2*x**2: refuted",
    ])


def test_against_and_inconclusive_through_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_more="""
import numpy as np
import pytest
import sympy as sp
from symgrad.numerics.gradcheck import InconclusiveGradientWarning

def test_against(symgrad_check):
    x = sp.symbols("x_1:4", real=True)
    symgrad_check.against(sum(sp.exp(v) for v in x), lambda x: np.exp(x) * 1.001, [list(x)])

def test_kink_fails_unless_allowed(symgrad_check):
    x = np.array([0.0, 1.0])
    with pytest.warns(InconclusiveGradientWarning):
        symgrad_check.gradient(lambda x: np.sum(np.maximum(x, 0)), lambda x: (x > 0) * 1.0, x,
                               allow_inconclusive=True)
    symgrad_check.gradient(lambda x: np.sum(np.maximum(x, 0)), lambda x: (x > 0) * 1.0, x)
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "E       symgrad.core.errors.GradientError: gradient check failed (reference, seed 0): point * of 4 disagrees*",
        "E         worst entry x?*?: yours = *, reference = *",
        "E         counterexample: at x_1 = *",
    ])
    result.stdout.fnmatch_lines([
        "E       symgrad.core.errors.GradientError: gradient check inconclusive*kink*",
        "E         finite differences:  no usable value down to step * × input scale",
        "E         not a failure of your gradient: the numbers cannot decide here.*",
    ])


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grad=GRADIENT_TESTS, test_sym=SYMPY_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:symgrad", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2, errors=2)
    result.stdout.fnmatch_lines(["*fixture 'symgrad_check' not found*"])
    assert "SymPy's == compares" not in result.stdout.str()


def test_plugin_loads_from_its_entry_point_in_a_fresh_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grad=GRADIENT_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "good")
    result.assert_outcomes(passed=1, deselected=1)


def test_importing_the_plugin_imports_neither_torch_nor_the_gradient_checker() -> None:
    code = ("import sys, symgrad.pytest_plugin; "
            "print(sorted(m for m in ('torch', 'symgrad.gradcheck') if m in sys.modules and "
            "sys.modules[m] is not None))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # symgrad's package __init__ imports symgrad.gradcheck; the plugin module itself adds nothing heavy
    assert "torch" not in done.stdout


# ---------------------------------------------------------------------------
# The assertrepr hook directly


def test_hook_ignores_what_is_not_sympy() -> None:
    assert pytest_assertrepr_compare(None, "==", 1, 2) is None  # type: ignore[arg-type]
    assert pytest_assertrepr_compare(None, "!=", sp.Symbol("x"), 1) is None  # type: ignore[arg-type]


def test_explanations_for_mismatched_kinds_and_shapes() -> None:
    x = sp.Symbol("x")
    lines = explain_sympy_equality(x, "x")
    assert lines[2:] == ["  left:  x", "  right: 'x'", "  (a Symbol and a str: no difference to simplify)"]
    lines = explain_sympy_equality(sp.Matrix([x, 1]), sp.Matrix([[x, 1]]))
    assert lines[-1] == "  (the shapes differ)"
    lines = explain_sympy_equality(sp.Matrix([x, 1]), sp.Matrix([x, 2]))
    assert "  left - right simplifies to: Matrix([[0], [-1]])" in lines


def test_long_expressions_are_elided() -> None:
    x = sp.Symbol("x")
    big = sum(x ** k / sp.factorial(k) for k in range(60))
    lines = explain_sympy_equality(big, sp.exp(x))
    assert all(len(line) < 400 for line in lines)
    assert lines[2].endswith("…")


NOTE_TESTS = """
def test_good_notebook(symgrad_check):
    report = symgrad_check.note("good.ipynb", budget=5)
    assert len(report.steps) == 1

def test_bad_notebook(symgrad_check):
    symgrad_check.note("bad.ipynb", budget=5)

def test_bad_markdown(symgrad_check):
    symgrad_check.note("bad.md", budget=5)
"""


def test_notes_and_notebooks_through_the_fixture(pytester: pytest.Pytester) -> None:
    import nbformat

    for name, source in (("good", "$$ (x+1)^2 = x^2 + 2x + 1 $$"), ("bad", "intro\n\n$$\n(x+1)^2 = x^2 + 1\n$$")):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("1 + 1"), nbformat.v4.new_markdown_cell(source)]
        nbformat.write(nb, str(pytester.path / f"{name}.ipynb"))
    (pytester.path / "bad.md").write_text("$$\n\\sin(x)^2 \\le \\sin(x)\n$$\n", encoding="utf-8")
    pytester.makepyfile(test_symgrad_note_fixture=NOTE_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*bad.ipynb:cell 2:line 4: step 1: (x + 1)**2 = x**2 + 1  [[]refuted[]] counterexample at x = *",
        "*bad.ipynb: 1 step in 1 chain: 1 refuted — not proved",
    ])
    result.stdout.fnmatch_lines(["*bad.md:2: step 1: *[[]refuted[]] counterexample at x = *"])
