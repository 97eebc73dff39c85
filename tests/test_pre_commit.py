"""The pre-commit hook (``.pre-commit-hooks.yaml``), run by the real pre-commit on a scratch repository.

The manifest is validated by pre-commit itself; the hook it declares is then
run as a ``repo: local`` hook (same id, entry, file pattern, serial run) with
``language: system``, so the symgrad of this environment is the one that runs
and nothing is installed from the network. Skips locally when pre-commit or
git is missing, fails when ``CI`` is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tooling import REPO_ROOT, in_ci

MANIFEST = REPO_ROOT / ".pre-commit-hooks.yaml"


def _missing(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message} (CI is set, so this is a failure)", pytrace=False)
    pytest.skip(message)


def _pre_commit() -> list[str]:
    if shutil.which("git") is None:
        _missing("git not found on PATH")
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        _missing("pre-commit is not installed (pip install -e '.[test]')")
    return [sys.executable, "-m", "pre_commit"]


def _hook() -> dict[str, object]:
    """The ``symgrad-check`` hook of the manifest (PyYAML comes with pre-commit)."""
    import yaml

    return next(h for h in yaml.safe_load(MANIFEST.read_text(encoding="utf-8")) if h["id"] == "symgrad-check")


def _env(tmp_path: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)  # where this environment's `symgrad` script is
    return dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
                PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), NO_COLOR="1",
                GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", SYMGRAD_NO_CACHE="1")


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, text=True, capture_output=True, timeout=120)


def test_the_manifest_is_valid_and_declares_the_hook() -> None:
    pre_commit = _pre_commit()
    proc = subprocess.run([*pre_commit, "validate-manifest", str(MANIFEST)], text=True, capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hook = _hook()
    assert hook["entry"] == "symgrad check" and hook["language"] == "python"
    assert hook["files"] == r"\.(md|tex|ipynb)$"


def test_pre_commit_passes_a_good_note_and_fails_a_bad_one(tmp_path: Path) -> None:
    pre_commit = _pre_commit()
    import yaml

    local = {**_hook(), "language": "system", "args": ["--budget", "5"]}
    repo = tmp_path / "notes"
    repo.mkdir()
    env = _env(tmp_path)
    assert _run(["git", "init", "-q"], repo, env).returncode == 0
    (repo / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}), encoding="utf-8")
    (repo / "good.md").write_text("$$\n(x + 1)^2 = x^2 + 2 x + 1\n$$\n", encoding="utf-8")
    (repo / "readme.txt").write_text("$$ 1 = 2 $$\n", encoding="utf-8")  # not a note: not checked
    _run(["git", "add", "."], repo, env)
    proc = _run([*pre_commit, "run", "--all-files"], repo, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "symgrad check" in proc.stdout and "Passed" in proc.stdout

    (repo / "bad.tex").write_text("\\[\n(x + 1)^2 = x^2 + 1\n\\]\n", encoding="utf-8")
    _run(["git", "add", "bad.tex"], repo, env)
    proc = _run([*pre_commit, "run", "--all-files"], repo, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Failed" in proc.stdout
    assert "bad.tex:2: step 1: (x + 1)**2 = x**2 + 1  [refuted] counterexample at x = " in proc.stdout
    assert "good.md: 1 step in 1 chain: 1 proved — all proved" in proc.stdout
    assert "readme.txt" not in proc.stdout
