#!/usr/bin/env bash
# `npm start`: installs what is missing (apt as root, else prints the command and exits 2), npm
# deps, builds, starts libvirt by hand when it is not running (root only), then runs LIMEN in the
# foreground with the embedded defaults. Migrations run as part of `limen serve`.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$LIMEN_ROOT"

# What running LIMEN needs (the test suite adds Prometheus, Alertmanager, PostgreSQL, Chromium).
ensure_apt_packages libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 \
  qemu-utils libvirt-dev pkg-config grub-rescue-pc g++ make python3
ensure_npm_deps

if [ ! -f dist/cli/main.js ] || [ -n "$(find src web migrations package.json -newer dist/cli/main.js -print -quit 2>/dev/null)" ]; then
  log "building"
  npm run --silent build
fi

if [ -z "${LIBVIRT_URI:-}" ] && [ "$(id -u)" = 0 ] && [ -x scripts/services/libvirt.sh ]; then
  bash scripts/services/libvirt.sh start >/dev/null
fi

# shellcheck disable=SC2086
exec node $LIMEN_SERVER_NODE_FLAGS bin/limen.js serve
