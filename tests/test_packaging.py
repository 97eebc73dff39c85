"""The built wheel is complete and works when installed away from the repo."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging")]  # module fixtures: one worker

# Not part of the package; copying .venv/.tools would also be slow.
_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".tools", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".pytest_cache", ".hypothesis", ".benchmarks", "node_modules", "derivations",
)


def _run(cmd, timeout=180, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if proc.returncode != 0:
        shown = " ".join(str(c) for c in cmd)
        shown = shown if len(shown) < 300 else shown[:300] + " ..."
        pytest.fail(f"command failed (exit {proc.returncode}): {shown}\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}", pytrace=False)
    return proc


def _can_build_without_isolation() -> bool:
    """This env's setuptools is new enough for pyproject.toml (>=68)."""
    try:
        st = tuple(int(x) for x in importlib.metadata.version("setuptools").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    try:
        importlib.metadata.version("wheel")
        has_wheel = True
    except importlib.metadata.PackageNotFoundError:
        has_wheel = False
    return st >= (68, 0) and (has_wheel or st >= (70, 1))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("packaging")


@pytest.fixture(scope="module")
def wheel(workdir) -> Path:
    # Build from a clean copy: an in-tree build/ could leak deleted modules
    # into the wheel and would race with other builds in the work tree.
    src = workdir / "src"
    shutil.copytree(REPO_ROOT, src, ignore=_IGNORE)
    dist = workdir / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", src, "-w", dist]
    if _can_build_without_isolation():  # no download of setuptools
        cmd.insert(5, "--no-build-isolation")
    _run(cmd, cwd=workdir)
    wheels = list(dist.glob("symgrad-*.whl"))
    assert len(wheels) == 1, f"expected one symgrad wheel, got {wheels}"
    return wheels[0]


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "symgrad/py.typed" in names
    templates = {f"symgrad/templates/{p.relative_to(REPO_ROOT / 'templates').as_posix()}"
                 for p in (REPO_ROOT / "templates").rglob("*.j2")}
    assert templates, "no templates/*.j2 in the repo"
    assert not templates - names, f"templates missing from the wheel: {sorted(templates - names)}"
    # Every module of the source tree ships (pyproject lists packages by hand).
    modules = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "symgrad").rglob("*.py")}
    missing = sorted(modules - names)
    assert not missing, f"modules missing from the wheel (add their package to pyproject.toml): {missing}"


_PROBE = r"""
import importlib.resources, json, sys
import symgrad as sg
from symgrad import render
names = list(sg.catalog.names())
doc = sg.catalog.get(names[0])
print(json.dumps({
    "file": sg.__file__,
    "names": names,
    "markdown": render(doc, "markdown"),
    "latex": render(doc, "latex"),
    "templates": sorted(p.name for p in importlib.resources.files("symgrad.templates").iterdir()
                        if p.name.endswith(".j2")),
}))
"""


def test_installed_wheel_renders_outside_repo(wheel, workdir):
    venv = workdir / "venv"
    # No pip of its own (fast; no ensurepip needed): the dependencies and pip
    # come from the system site-packages and, via a .pth, from the env running
    # the tests (e.g. .venv, which has latexify-py & co).
    _run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv])
    py = venv / "bin" / "python"
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                   .stdout.strip())
    (purelib / "_parent_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    # --ignore-installed: the test env's own symgrad is visible through the
    # .pth; don't treat it as installed or try to uninstall it.
    _run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
          "--ignore-installed", wheel])

    outside = workdir / "outside"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONNOUSERSITE="1", PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")

    info = json.loads(_run([py, "-c", _PROBE], cwd=outside, env=env).stdout)
    assert Path(info["file"]).resolve().is_relative_to(venv.resolve()), \
        f"imported symgrad from {info['file']}, not from the installed wheel"
    assert info["names"], "the installed catalog is empty"
    assert info["templates"], "no .j2 templates in the installed symgrad.templates"
    assert isinstance(info["markdown"], str) and info["markdown"].strip()
    assert isinstance(info["latex"], str) and info["latex"].strip()

    listed = _run([venv / "bin" / "symgrad", "list"], cwd=outside, env=env).stdout
    assert info["names"][0] in listed, f"`symgrad list` printed:\n{listed}"
