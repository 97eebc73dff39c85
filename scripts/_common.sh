# Shared helpers for scripts/test.sh and scripts/render.sh. Source it; don't run it.
# Expects the caller to have `set -euo pipefail`.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
TOOLS="$REPO_ROOT/.tools"
PYTHON="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf '==> %s\n' "$*"; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() { printf '==> ERROR: %s\n' "$*" >&2; exit 1; }

# CI is "set" when non-empty and not 0/false/no (same rule as tests/tooling.py).
is_ci() {
    case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
        "" | 0 | false | no) return 1 ;;
        *) return 0 ;;
    esac
}

# A tool the tests need could not be installed: fatal in CI, a warning locally
# (the tests that need it then skip).
tool_missing() {
    if is_ci; then die "$1 (CI is set, so this is fatal)"; fi
    warn "$1; tests that need it will be skipped"
}

# Serialise setup between concurrent runs of these scripts in one tree
# (two `pip install`s into one venv corrupt it). Released by `unlock_setup`.
lock_setup() {
    mkdir -p "$TOOLS"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$TOOLS/.setup.lock"
        flock 9
    fi
}
unlock_setup() { exec 9>&-; }

# Run a command as root: directly, or through sudo. Fails when neither works.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
        sudo "$@"
    else
        return 1
    fi
}

# apt_install PKG...: `apt-get update` (once per script run), then install.
_APT_UPDATED=
apt_install() {
    command -v apt-get >/dev/null 2>&1 || { warn "apt-get not found"; return 1; }
    if [ -z "$_APT_UPDATED" ]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        _APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" || return 1
}

# Create .venv (or reuse a working one). Debian's python3 lacks ensurepip until
# python3-venv is installed, so on failure install it and retry once.
ensure_venv() {
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
        log "reusing virtualenv .venv"
        return 0
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (need Python >= 3.10)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); need Python >= 3.10"
    log "creating virtualenv .venv with $("$PYTHON" -V 2>&1)"
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        log "python venv failed; installing Debian python3-venv"
        apt_install python3-venv || die "cannot install python3-venv (need root or sudo)"
        "$PYTHON" -m venv "$VENV" || die "python -m venv still fails"
    fi
}

# Hash of the files that decide what `pip install` does (not the code itself).
install_fingerprint() {
    {
        "$VENV/bin/python" -V 2>&1
        for f in pyproject.toml setup.cfg setup.py; do
            if [ -f "$REPO_ROOT/$f" ]; then cat "$REPO_ROOT/$f"; fi
        done
    } | sha256sum | cut -d' ' -f1
}

# --- TeX: what the rendered .tex files need ----------------------------------
# pdflatex, and Latin Modern as Type 1 fonts (Debian `lmodern`; the
# documents load \usepackage{lmodern}, so T1 text never falls back to bitmap
# Type 3 fonts). `--no-install-recommends` (apt_install) keeps cm-super and the
# docs out.
TEX_APT_PACKAGES=(texlive-latex-base texlive-latex-recommended texlive-pictures lmodern)

# True when pdflatex and lmodern.sty are there.
tex_ready() {
    command -v pdflatex >/dev/null 2>&1 \
        && command -v kpsewhich >/dev/null 2>&1 && [ -n "$(kpsewhich lmodern.sty 2>/dev/null)" ]
}
