#!/usr/bin/env bash
# The main-job command: bash scripts/render.sh
# Installs symgrad into .venv and renders every catalog entry into
# derivations/NAME.md and derivations/NAME.tex (plus figure files such as SVG
# plots); derivations/ is replaced as a whole, so it matches the catalog exactly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$REPO_ROOT"

lock_setup
ensure_venv
log "pip install . into .venv"
# A leftover build/ can carry deleted modules into the wheel: start clean.
rm -rf "$REPO_ROOT/build"
"$VENV/bin/python" -m pip install --quiet .
# The .tex files load lmodern: where pdflatex is installed, make sure they compile.
if command -v pdflatex >/dev/null 2>&1 && ! tex_ready; then
    apt_install "${TEX_APT_PACKAGES[@]}" \
        || warn "the .tex files need Latin Modern: install the Debian packages ${TEX_APT_PACKAGES[*]}"
fi
unlock_setup

log "symgrad render --all --format md --format tex --out derivations"
mkdir -p derivations
# Render into a fresh folder, then replace derivations/ with it: files of entries that
# left the catalog (and their figures) disappear, and a failed render changes nothing.
fresh="$(mktemp -d "$REPO_ROOT/.derivations.XXXXXX")"
trap 'rm -rf "$fresh"' EXIT
"$VENV/bin/symgrad" render --all --format md --format tex --out "$fresh"
[ -n "$(ls -A "$fresh")" ] || die "symgrad render wrote nothing"
mkdir -p derivations
find derivations -maxdepth 1 -type f -delete
cp -p "$fresh"/* derivations/
log "derivations/ ($REPO_ROOT/derivations):"
ls -1 derivations/* | sed 's/^/    /'
