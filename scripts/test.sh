#!/usr/bin/env bash
# The test command: bash scripts/test.sh [pytest args...]
# Installs what the tests need (TeX Live, KaTeX, .venv with the
# package editable + test extras), skipping whatever is already there, then
# runs pytest with the given arguments (in parallel on every core: pytest-xdist).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$REPO_ROOT"

# KaTeX release line the Markdown math is checked against (0.x: minor = major).
KATEX_LINE="0.16"
KATEX_DIR="$TOOLS/node/node_modules/katex"

lock_setup

# --- TeX Live + lmodern (compiles derivations/*.tex) --------------------------
if tex_ready; then
    log "TeX: found pdflatex and lmodern"
else
    apt_install "${TEX_APT_PACKAGES[@]}" \
        || tool_missing "cannot install TeX Live (need root or sudo)"
fi

# --- poppler-utils (pdffonts: the PDFs embed no bitmap Type 3 fonts) ----------
if command -v pdffonts >/dev/null 2>&1; then
    log "poppler-utils: found pdffonts"
else
    apt_install poppler-utils || tool_missing "cannot install poppler-utils (need root or sudo)"
fi

# --- node + KaTeX (checks the math in derivations/*.md) ----------------------
katex_version() {
    node -p "require(process.argv[1]).version" "$KATEX_DIR/package.json" 2>/dev/null || true
}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm || tool_missing "cannot install node/npm (need root or sudo)"
fi
if command -v node >/dev/null 2>&1; then
    if [[ "$(katex_version)" == "$KATEX_LINE".* ]]; then
        log "KaTeX: found $(katex_version) in .tools/node"
    elif command -v npm >/dev/null 2>&1; then
        log "npm install katex@$KATEX_LINE into .tools/node"
        mkdir -p "$TOOLS/node"
        npm install --prefix "$TOOLS/node" --no-audit --no-fund --loglevel=error \
            "katex@$KATEX_LINE" || tool_missing "npm install katex failed"
    fi
fi
if [ -f "$KATEX_DIR/package.json" ]; then
    export SYMGRAD_KATEX_DIR="$KATEX_DIR"
fi

# --- .venv with symgrad (editable) + test extras -----------------------------
# Editable: the tests exercise the working tree as edited, with no reinstall
# per change (`python -m pytest` puts the repo root on sys.path anyway);
# tests/test_packaging.py separately checks the built wheel.
ensure_venv
stamp="$VENV/.symgrad-test-install"
want="$(install_fingerprint) editable"
# Installed editable from this tree? (scripts/render.sh replaces it with a
# regular install, so the stamp alone is not enough.)
is_editable_here() {
    # -I: keep the cwd (and its symgrad.egg-info) off sys.path.
    "$VENV/bin/python" -I - "$REPO_ROOT" <<'EOF' >/dev/null 2>&1
import json, sys, importlib.metadata as md
from pathlib import Path
from urllib.parse import urlparse, unquote
info = json.loads(md.distribution("symgrad").read_text("direct_url.json") or "{}")
assert info.get("dir_info", {}).get("editable")
assert Path(unquote(urlparse(info["url"]).path)).resolve() == Path(sys.argv[1]).resolve()
EOF
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && is_editable_here; then
    log "symgrad[test] already installed (editable) in .venv"
else
    log "pip install -e '.[test]' into .venv"
    rm -f "$stamp"
    # setuptools/wheel in the venv: the packaging test builds without isolation.
    "$VENV/bin/python" -m pip install --quiet 'setuptools>=68' wheel
    "$VENV/bin/python" -m pip install --quiet -e '.[test]'
    printf '%s\n' "$want" >"$stamp"
fi

# --- PyTorch (an optional oracle: tests compare against autograd when it is there) ---
# Installed in CI only, pinned to the CPU build this machine kind keeps on disk; a
# new user's run skips those oracles rather than downloading several GB.
if is_ci && ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    log "pip install torch==2.13.0 (CI: the autograd oracle)"
    "$VENV/bin/python" -m pip install --quiet torch==2.13.0 \
        || warn "torch could not be installed; tests skip the autograd oracle"
fi

unlock_setup

# --- tests --------------------------------------------------------------------
# In parallel on every core (pytest-xdist), a module's tests on one worker (`loadscope`), so a
# module fixture is built once (`loadgroup` no longer keeps `xdist_group` tests together with
# pytest 9; fixtures wanted once per run share a locked directory, tests/conftest.py).
# Pass your own -n (e.g. -n 0 for one process) to override.
# --no-loadscope-reorder: modules go out in collection order (long ones first, tests/conftest.py).
xdist=(-n auto --dist loadscope --no-loadscope-reorder)
for arg in "$@"; do
    case "$arg" in -n | -n* | --numprocesses* | no:xdist) xdist=() ;; esac
done
# The plugins the suite uses, by name, instead of every installed one: pytest rewrites the asserts
# of every module of a distribution that declares a plugin, in every worker (about a second each,
# nothing is cached when PYTHONDONTWRITEBYTECODE is set). tests/test_pytest_plugin.py still
# loads plugins from their entry points, as a user's pytest does.
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
plugins=(-p xdist.plugin -p _hypothesis_pytestplugin -p symgrad.pytest_plugin)
log "python -m pytest ${plugins[*]} ${xdist[*]} $*"
set +e
"$VENV/bin/python" -m pytest "${plugins[@]}" "${xdist[@]}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    die "pytest collected no tests (exit 5): check the arguments / tests/ directory"
fi
exit "$rc"
