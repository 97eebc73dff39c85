"""The layers of ARCHITECTURE.md, enforced: contracts, no import circles, rules as data."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "symgrad"


def test_import_linter_contracts_hold() -> None:
    """The layers contract (pyproject.toml) counts function-level imports too."""
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail("lint-imports is missing: install the test extras (pip install -e '.[test]')")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_no_import_circle_among_modules() -> None:
    """No cycle in the module graph, counting imports inside functions (TYPE_CHECKING aside)."""
    import grimp

    graph = grimp.build_graph("symgrad", exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    # Importing a submodule always runs its package's __init__ first; that is not an edge we draw.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in edges.get(module, ()):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in modules:
        if module not in state:
            visit(module)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _calls(path: Path, names: set[str]) -> list[str]:
    """Module-level calls (outside any function or class) to one of ``names``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ():
            if isinstance(sub, ast.Call):
                func = sub.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in names:
                    found.append(f"{path.relative_to(ROOT)}:{sub.lineno} {name}")
    return found


def test_no_rule_is_registered_as_a_side_effect_of_an_import() -> None:
    """Rules are data (symgrad.core.rules.BUILTIN_RULES); no module registers one when imported."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        offenders += _calls(path, {"register_rule", "register", "register_derivative", "register_op"})
    assert not offenders, offenders


def test_every_cited_rule_is_declared_in_the_one_table() -> None:
    """Every name the catalog and the producers cite with rule= is in the built-in table."""
    from symgrad.core.rules import BUILTIN_RULES

    declared = {rule.name for rule in BUILTIN_RULES}
    cited = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "rule" and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                cited.add(node.value.value)
    assert cited and cited <= declared, sorted(cited - declared)


def test_the_kernel_and_the_renderer_stay_in_their_layers() -> None:
    """Spelled out beside the contract: the core imports nothing above it; rendering never checks."""
    above = ("proofs", "derivation", "rendering", "numerics", "notes", "catalog", "interactive", "cli")
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = ("." * node.level) + (node.module or "")
                assert not any(target.startswith(f"..{layer}") or target.startswith(f"symgrad.{layer}")
                               for layer in above), f"{path.relative_to(ROOT)}:{node.lineno} imports {target}"
    for path in sorted((PACKAGE / "rendering").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "check":
                pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} calls .check(): rendering must not run the kernel")
