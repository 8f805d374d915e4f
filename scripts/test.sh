#!/usr/bin/env bash
# `npm test`: installs what the suite needs (as `npm start` does), then runs lint, typecheck and
# every test tier against the real components, which this script starts by hand and stops by PID.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$LIMEN_ROOT"

ensure_apt_packages "${LIMEN_APT_PACKAGES[@]}"
ensure_npm_deps

export LIMEN_STATE="$LIMEN_STATE/test"
rm -rf "$LIMEN_STATE"; mkdir -p "$LIMEN_STATE"
chmod 755 "$LIMEN_STATE" "$(dirname "$LIMEN_STATE")"

log "lint + typecheck"
npx eslint . --max-warnings=0
npx tsc -p tsconfig.json --noEmit
log "build"
npm run --silent build

cleanup() {
  local rc=$?
  for s in scripts/services/*.sh; do bash "$s" stop >/dev/null 2>&1 || true; done
  exit $rc
}
trap cleanup EXIT INT TERM

log "starting PostgreSQL"
export LIMEN_TEST_PG_URL="$(bash scripts/services/postgres.sh start)"
if [ -x scripts/services/libvirt.sh ]; then
  log "starting libvirt"
  export LIMEN_TEST_LIBVIRT_URI="$(bash scripts/services/libvirt.sh start)"
fi
# Tests that need the real components refuse to skip when this is set.
export LIMEN_TEST_REAL=1

# test/disruptive/ takes shared components down (e.g. restarts libvirtd): it runs alone, last.
files=$(find test -name '*.test.ts' -not -path 'test/disruptive/*' | sort)
disruptive=$(find test/disruptive -name '*.test.ts' 2>/dev/null | sort)
if [ -n "${LIMEN_TEST_FILTER:-}" ]; then
  files=$(echo "$files" | grep -E "$LIMEN_TEST_FILTER" || true)
  disruptive=$(echo "$disruptive" | grep -E "$LIMEN_TEST_FILTER" || true)
fi
log "running $(echo "$files" $disruptive | wc -w) test files"
# One node --test run over both phases would interleave them; two runs, one summary line each,
# then the combined plain summary line CI reads.
summary() { grep -E '^ℹ (pass|fail) ' "$1" | awk '{print $3}' | paste -sd' '; }
rc=0
if [ -n "$files" ]; then
  # shellcheck disable=SC2086
  node --import tsx --test --test-concurrency="${LIMEN_TEST_CONCURRENCY:-2}" --test-reporter=spec $files 2>&1 | tee "$LIMEN_STATE/main.out" || rc=1
fi
if [ -n "$disruptive" ]; then
  # shellcheck disable=SC2086
  node --import tsx --test --test-concurrency=1 --test-reporter=spec $disruptive 2>&1 | tee "$LIMEN_STATE/disruptive.out" || rc=1
fi
pass=0; fail=0
for f in "$LIMEN_STATE/main.out" "$LIMEN_STATE/disruptive.out"; do
  [ -f "$f" ] || continue
  read -r p q <<<"$(summary "$f")"
  pass=$((pass + ${p:-0})); fail=$((fail + ${q:-0}))
done
echo "$pass passed, $fail failed"
exit $rc
