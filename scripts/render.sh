#!/usr/bin/env bash
# The main-job command: bash scripts/render.sh
# Installs symgrad into .venv and renders every catalog entry into
# derivations/NAME.md and derivations/NAME.tex; files of entries no longer in
# the catalog are removed, so derivations/ matches the catalog exactly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$REPO_ROOT"

lock_setup
ensure_venv
log "pip install . into .venv"
# A leftover build/ can carry deleted modules into the wheel: start clean.
rm -rf "$REPO_ROOT/build"
"$VENV/bin/python" -m pip install --quiet .
unlock_setup

log "symgrad render --all --format md --format tex --out derivations"
mkdir -p derivations
"$VENV/bin/symgrad" render --all --format md --format tex --out derivations

# Drop files of entries that left the catalog (the tests reject orphans).
names="$("$VENV/bin/python" -I -c 'import symgrad.catalog as c; print("\n".join(c.names()))')"
[ -n "$names" ] || die "the catalog is empty"
shopt -s nullglob
for f in derivations/*.md derivations/*.tex; do
    stem="$(basename "${f%.*}")"
    if ! grep -qxF -- "$stem" <<<"$names"; then
        log "removing $f (no catalog entry '$stem')"
        rm -f -- "$f"
    fi
done
log "derivations/ ($REPO_ROOT/derivations):"
ls -1 derivations/*.md derivations/*.tex | sed 's/^/    /'
