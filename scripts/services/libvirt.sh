#!/usr/bin/env bash
# Starts libvirt (virtlogd + libvirtd) by hand for tests and local development (RECIPES.md): no
# systemd here, so daemons run with --daemon, their PIDs are recorded under $LIMEN_STATE/libvirt and
# they are stopped by those PIDs only. A daemon we did not start is never stopped.
# usage: libvirt.sh start|stop|uri|owned|stop-daemon|start-daemon
#        (start prints the URI on stdout; logs go to stderr)
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

DIR="$LIMEN_STATE/libvirt"
STARTED_MARK="$DIR/started-by-limen"
if [ "$(id -u)" = 0 ]; then URI="qemu:///system"; else URI="qemu:///session"; fi

virsh_ok() { virsh -q -c "$URI" version >/dev/null 2>&1; }

case "${1:-}" in
  start)
    mkdir -p "$DIR"
    command -v libvirtd >/dev/null || { echo "libvirtd is not installed (apt-get install libvirt-daemon-system)" >&2; exit 1; }
    # Without this, libvirtd re-probes /dev/kvm for 10-40 s on every start.
    if [ -c /dev/kvm ] && [ "$(id -u)" = 0 ]; then chgrp kvm /dev/kvm && chmod 660 /dev/kvm || true; fi
    if virsh_ok; then
      if pid_alive "$(cat "$DIR/libvirtd.pid" 2>/dev/null || true)"; then
        # Ours from an earlier start (same state dir): still ours.
        touch "$STARTED_MARK"
        log "libvirt already running at $URI (started by LIMEN, pid $(cat "$DIR/libvirtd.pid"))"
      else
        log "libvirt already running at $URI (not started by LIMEN; stop will leave it alone)"
        rm -f "$STARTED_MARK"
      fi
      echo "$URI"; exit 0
    fi
    t0=$(date +%s%N)
    if [ "$(id -u)" = 0 ]; then
      pid_alive "$(cat "$DIR/virtlogd.pid" 2>/dev/null || true)" || virtlogd --daemon --pid-file="$DIR/virtlogd.pid"
      libvirtd --daemon --pid-file="$DIR/libvirtd.pid"
    else
      # Unprivileged: qemu:///session autostarts a per-user libvirtd on first connect.
      :
    fi
    touch "$STARTED_MARK"
    if ! WAIT_SECONDS=60 wait_for virsh_ok; then
      echo "libvirtd did not answer on $URI within 60 s" >&2; exit 1
    fi
    log "libvirt ready at $URI after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    echo "$URI"
    ;;
  stop)
    [ -f "$STARTED_MARK" ] || exit 0
    # libvirtd leaves guests running when it exits: destroy LIMEN's domains first (only when we
    # started the daemon, so a developer's own libvirt is never touched).
    if virsh_ok; then
      remove_limen_domains "$URI"
    fi
    stop_pidfile "$DIR/libvirtd.pid" 15
    stop_pidfile "$DIR/virtlogd.pid" 10
    rm -f "$STARTED_MARK"
    ;;
  stop-daemon)
    # Stops only libvirtd (guests keep running, as after a libvirtd crash or upgrade); for the
    # libvirt-restart test. Refused unless LIMEN started the daemon.
    [ -f "$STARTED_MARK" ] || { echo "libvirtd was not started by LIMEN: refusing to stop it" >&2; exit 3; }
    stop_pidfile "$DIR/libvirtd.pid" 15
    ;;
  start-daemon)
    [ -f "$STARTED_MARK" ] || { echo "libvirtd was not started by LIMEN: refusing to start it" >&2; exit 3; }
    pid_alive "$(cat "$DIR/libvirtd.pid" 2>/dev/null || true)" || libvirtd --daemon --pid-file="$DIR/libvirtd.pid"
    WAIT_SECONDS=60 wait_for virsh_ok || { echo "libvirtd did not answer within 60 s" >&2; exit 1; }
    echo "$URI"
    ;;
  owned) [ -f "$STARTED_MARK" ] ;;
  uri) echo "$URI" ;;
  *) echo "usage: $0 start|stop|uri|owned|stop-daemon|start-daemon" >&2; exit 64 ;;
esac
