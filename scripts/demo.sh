#!/usr/bin/env bash
# The demo: the example project against the embedded emulator, from a fresh emulator world.
set -euo pipefail
cd "$(dirname "$0")/.."
mpctl() { .venv/bin/mpctl "$@"; }
step() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }
export MPCTL_MANIFESTS=manifests

rm -rf manifests/.mpctl

step "mpctl validate --all-environments"
mpctl validate --all-environments
