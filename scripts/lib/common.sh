# Shared helpers for LIMEN's scripts. Sourced, not run.
# Every daemon a script starts is recorded by PID under $LIMEN_STATE and stopped by that PID only.

LIMEN_ROOT="${LIMEN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
LIMEN_STATE="${LIMEN_STATE:-$LIMEN_ROOT/.state}"
mkdir -p "$LIMEN_STATE"

log() { printf '[limen] %s\n' "$*" >&2; }

# Node flags of the server process (`npm start`, docs/operations.md's unit, bench/memory).
# --v8-pool-size=1: V8's background threads (concurrent GC, compiling PGlite's 9 MB of WebAssembly)
# each keep a malloc arena of freed compiler memory; with the default 4 an idle server holds ~45 MiB
# more (bench/results/*-memory.md). One background thread is enough for a 1–2 core API server.
# --min-semi-space-size=4: a young-generation floor. V8 shrinks it to 1 MB semi-spaces while
# traffic is light and a console's small frames never grow it back (~4.4 KB allocated per input
# round trip by Node's streams and ws): a scavenge every ~200 round trips showed in the console's
# p99 (docs/performance.md, "console's tail latency"). Costs at most ~6 MB.
LIMEN_SERVER_NODE_FLAGS="${LIMEN_SERVER_NODE_FLAGS---v8-pool-size=1 --min-semi-space-size=4}"

# Debian packages the full product and its test suite use (RECIPES.md).
LIMEN_APT_PACKAGES=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 genisoimage
  qemu-utils libvirt-dev pkg-config prometheus prometheus-alertmanager postgresql chromium nginx
  grub-rescue-pc g++ make python3 openssh-client openssh-server netcat-openbsd)

# Installs the Debian packages in "$@" that are missing. As root it runs apt; otherwise it prints
# the exact command and exits 2 (CONTRACT.md §1).
ensure_apt_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local cmd="apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confnew ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "LIMEN needs system packages. Run as root:" >&2
    echo "  apt-get update && $cmd" >&2
    exit 2
  fi
  log "installing system packages: ${missing[*]}"
  if [ ! -f "$LIMEN_STATE/.apt-updated" ]; then
    apt-get update -qq >&2 && touch "$LIMEN_STATE/.apt-updated"
  fi
  # Packages like openssh-server, postgresql and nginx start their daemon on install (on all
  # interfaces, default ports). LIMEN starts its own on 127.0.0.1 by hand, so apt must not: a
  # policy-rc.d that refuses every start is put in place for the install if none exists.
  local policy=/usr/sbin/policy-rc.d ours=0 rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by LIMEN for the duration of an apt install\nexit 101\n' >"$policy" && chmod 755 "$policy" && ours=1
  fi
  DEBIAN_FRONTEND=noninteractive $cmd >&2 || rc=$?
  [ "$ours" = 1 ] && rm -f "$policy"
  return "$rc"
}

# npm deps: install when node_modules is missing or older than the lockfile.
ensure_npm_deps() {
  if [ ! -d "$LIMEN_ROOT/node_modules" ] || [ "$LIMEN_ROOT/package-lock.json" -nt "$LIMEN_ROOT/node_modules/.package-lock.json" ]; then
    log "installing npm dependencies"
    (cd "$LIMEN_ROOT" && npm ci --no-audit --no-fund >&2)
  fi
}

# True when PID is alive and not a zombie (daemonized children can linger as <defunct>).
pid_alive() {
  local pid="$1" st
  [ -n "$pid" ] || return 1
  st=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  case "$st" in Z*) return 1 ;; esac
  return 0
}

# Stops the process whose PID is in file $1 (TERM, then KILL after $2 seconds, default 10).
stop_pidfile() {
  local f="$1" wait="${2:-10}" pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < wait * 10; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    pid_alive "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Waits until command "$@" succeeds, at most $WAIT_SECONDS (default 60).
wait_for() {
  local deadline=$((SECONDS + ${WAIT_SECONDS:-60}))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

# Waits for a daemon started in the background to answer URL/-/ready (Prometheus, Alertmanager).
# On failure or when the process dies: prints its last log lines, stops it by PID, exits 1.
# usage: wait_http_ready NAME URL PIDFILE LOGFILE
wait_http_ready() {
  local name="$1" url="$2" pidfile="$3" logfile="$4" deadline=$((SECONDS + ${WAIT_SECONDS:-30}))
  until curl -fsS -o /dev/null "$url/-/ready" 2>/dev/null; do
    if ! pid_alive "$(cat "$pidfile")" || [ $SECONDS -ge "$deadline" ]; then
      log "$name did not become ready on $url; last log lines:"
      tail -n 20 "$logfile" >&2 || true
      stop_pidfile "$pidfile"
      exit 1
    fi
    sleep 0.1
  done
}

# Starts an HTTP daemon (Prometheus, Alertmanager) in the background on 127.0.0.1:PORT, records its
# PID and port under DIR, waits for URL/-/ready and prints the URL.
# usage: run_http_daemon NAME DIR PORT PIDFILE LOGFILE COMMAND [ARGS...]
run_http_daemon() {
  local name="$1" dir="$2" port="$3" pidfile="$4" logfile="$5"
  shift 5
  "$@" >"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  echo "$port" >"$dir/port"
  wait_http_ready "$name" "http://127.0.0.1:$port" "$pidfile" "$logfile"
  echo "http://127.0.0.1:$port"
}

# Prints the URL of a daemon run_http_daemon started under DIR; fails when it is not running.
# usage: http_daemon_url DIR PIDFILE
http_daemon_url() {
  [ -f "$1/port" ] && pid_alive "$(cat "$2" 2>/dev/null)" || return 1
  echo "http://127.0.0.1:$(cat "$1/port")"
}

# Destroys and undefines LIMEN's domains (limen-*) on the libvirt at URI $1: libvirtd leaves guests
# running when it exits, so a script stopping a daemon it started removes them first.
remove_limen_domains() {
  local uri="$1" d
  for d in $(virsh -q -c "$uri" list --all --name 2>/dev/null | grep '^limen-' || true); do
    virsh -q -c "$uri" destroy "$d" >/dev/null 2>&1 || true
    virsh -q -c "$uri" undefine "$d" --snapshots-metadata --nvram >/dev/null 2>&1 \
      || virsh -q -c "$uri" undefine "$d" --snapshots-metadata >/dev/null 2>&1 || true
  done
}
