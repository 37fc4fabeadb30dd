#!/usr/bin/env bash
# The demo: the example project against the embedded emulator, from a fresh emulator world.
#   validate → plan → apply → verify → plan (no changes) → a key rotation through every phase.
set -euo pipefail
cd "$(dirname "$0")/.."
mpctl() { .venv/bin/mpctl "$@"; }
step() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }
export MPCTL_MANIFESTS=manifests
day() { date -u -d "+$1 days" +%Y-%m-%dT%H:%M:%SZ; }

rm -rf manifests/.mpctl

step "mpctl validate --all-environments"
mpctl validate --all-environments

step "mpctl plan --out .mpctl/plan.json   (the embedded emulator starts empty)"
mpctl plan --out manifests/.mpctl/plan.json

step "mpctl apply --plan .mpctl/plan.json --auto-approve"
mpctl apply --plan manifests/.mpctl/plan.json --auto-approve

step "mpctl verify   (a real token per client and per delegation)"
mpctl verify

step "mpctl plan --detailed-exitcode   (converged: exit 0)"
mpctl plan --detailed-exitcode

step "91 days later: keys are older than rotate_after (90d)"
MPCTL_NOW=$(day 91) mpctl plan --target altinn-sync

step "rotate: stage → register → test → promote (the old key stays registered for its grace)"
MPCTL_NOW=$(day 91) mpctl apply --target altinn-sync --auto-approve
grep -E '^MASKINPORTEN_(CLIENT_ID|KID)=' manifests/.mpctl/secrets/local/altinn-sync.env

step "92 days later: the grace (1d) is over, so the old key is retired"
MPCTL_NOW=$(day 92) mpctl apply --target altinn-sync --auto-approve

step "mpctl verify --client altinn-sync   (the new key mints a token)"
mpctl verify --client altinn-sync
