#!/usr/bin/env bash
# `npm run bench [-- filter…]`: installs what the benches need (as `npm test` does), builds dist/
# (the memory and console benches start LIMEN from it), starts libvirt by hand when no daemon
# answers (the provision and class benches drive real QEMU guests) and stops what it started, by
# PID. PostgreSQL is started by the benches that use it (bench/api/fixture.ts benchPostgres), on a
# private port. Then bench/run.ts runs every bench, one after another.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$LIMEN_ROOT"

ensure_apt_packages "${LIMEN_APT_PACKAGES[@]}"
ensure_npm_deps
npm run --silent build

export LIMEN_STATE="$LIMEN_STATE/bench"
mkdir -p "$LIMEN_STATE"
chmod 755 "$LIMEN_STATE" "$(dirname "$LIMEN_STATE")"

# libvirt.sh stops only a daemon it started (never one that was already running).
trap 'bash scripts/services/libvirt.sh stop >/dev/null 2>&1 || true' EXIT INT TERM
log "libvirt for the benches that boot guests"
LIBVIRT_URI="$(bash scripts/services/libvirt.sh start)"
export LIBVIRT_URI

node --import tsx bench/run.ts "$@"
