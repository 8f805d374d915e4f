#!/usr/bin/env bash
# A second, independent libvirt host on this machine, for the multi-host tests and for trying
# several hosts locally: a privileged libvirtd in its own mount namespace, where /etc/libvirt,
# /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt are bind mounts of
# directories under $LIMEN_STATE/libvirt-host2 — so it has its own domains, its own QEMU state and
# its own socket, and never sees the main daemon's guests (nor they it). It listens on
# $DIR/sock/libvirt-sock only; LIMEN reaches it as qemu+unix:///system?socket=<that path>.
# Its VNC ports (6100-6199) and migration ports (49400-49499) do not collide with the main daemon's.
# Root only (mount namespaces). PIDs recorded; stopped by PID only.
# `start DIR[:SIZE]…` also gives the daemon an EMPTY private directory at each DIR, in its
# namespace only: a bind mount of $LIMEN_STATE/libvirt-host2/private/<n>, or with SIZE (e.g. 48m)
# a tmpfs of that size (a small disk that fills up). A host that does NOT share that directory
# with this machine, e.g. LIMEN's disk directory. Kept for start-daemon (a tmpfs starts empty again).
# `pid` prints the daemon's PID (`nsenter -t PID -m` sees what the host sees).
# usage: libvirt-host2.sh start [DIR[:SIZE]…]|stop|uri|pid|stop-daemon|kill-daemon|start-daemon
#        (start prints the URI on stdout; stop-daemon kills only libvirtd: guests keep running,
#        exactly like a hypervisor host whose management daemon went away; kill-daemon does the
#        same with SIGKILL — a crash: no cleanup, its socket left behind — for the fault tests,
#        which so never touch the shared daemon)
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

DIR="$LIMEN_STATE/libvirt-host2"
SOCK="$DIR/sock/libvirt-sock"
URI="qemu+unix:///system?socket=$SOCK"
PIDFILE="$DIR/libvirtd.pid"
PRIVATE_LIST="$DIR/private-dirs"

virsh_ok() { virsh -q -c "$URI" version >/dev/null 2>&1; }

prepare() {
  mkdir -p "$DIR"/{etc,run,lib,cache,log,sock}
  chmod 755 "$DIR" "$DIR/lib" "$DIR/run"
  cat >"$DIR/etc/libvirtd.conf" <<CONF
unix_sock_dir = "$DIR/sock"
unix_sock_rw_perms = "0700"
# a host UUID of its own: libvirt refuses to migrate a guest to "the same host"
host_uuid = "7f3c2a10-4c1b-4c4e-9a51-000000000002"
CONF
  cat >"$DIR/etc/qemu.conf" <<CONF
# guest console logs go to files: this namespace has no virtlogd
stdio_handler = "file"
remote_display_port_min = 6100
remote_display_port_max = 6199
migration_port_min = 49400
migration_port_max = 49499
CONF
}

# records the directories this host must not share (one per line) and makes their private twins
set_private_dirs() {
  : >"$PRIVATE_LIST"
  local i=0 d
  for d in "$@"; do
    case "$d" in /*) ;; *) echo "private directory must be absolute: $d" >&2; exit 64 ;; esac
    case "$d" in *:*) ;; *) d="$d:" ;; esac
    mkdir -p "${d%:*}" "$DIR/private/$i"
    chmod 711 "$DIR/private/$i"
    printf '%s\n' "$d" >>"$PRIVATE_LIST"
    i=$((i + 1))
  done
}

start_daemon() {
  pid_alive "$(cat "$PIDFILE" 2>/dev/null || true)" && return 0
  unshare -m --propagation private sh -c '
    D="$1"
    mount --bind "$D/etc" /etc/libvirt && mount --bind "$D/run" /run/libvirt &&
    mount --bind "$D/lib" /var/lib/libvirt && mount --bind "$D/cache" /var/cache/libvirt &&
    mount --bind "$D/log" /var/log/libvirt || exit 1
    i=0
    if [ -f "$D/private-dirs" ]; then
      while IFS= read -r line; do
        p="${line%:*}" size="${line##*:}"
        if [ -n "$size" ]; then mount -t tmpfs -o "size=$size,mode=0711" limen-host2 "$p" || exit 1
        else mount --bind "$D/private/$i" "$p" || exit 1; fi
        i=$((i + 1))
      done <"$D/private-dirs"
    fi
    exec libvirtd --daemon --config "$D/etc/libvirtd.conf" --pid-file "$D/libvirtd.pid"' sh "$DIR"
  WAIT_SECONDS=60 wait_for virsh_ok || { echo "second libvirtd did not answer on $URI within 60 s" >&2; exit 1; }
}

case "${1:-}" in
  start)
    [ "$(id -u)" = 0 ] || { echo "the second libvirt host needs root (mount namespace)" >&2; exit 2; }
    command -v libvirtd >/dev/null || { echo "libvirtd is not installed" >&2; exit 1; }
    prepare
    shift
    set_private_dirs "$@"
    t0=$(date +%s%N)
    start_daemon
    log "second libvirt host ready at $URI after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    echo "$URI"
    ;;
  stop)
    if virsh_ok; then
      remove_limen_domains "$URI"
    fi
    stop_pidfile "$PIDFILE" 15
    # guests left running while the daemon was away (the daemon was stopped first): their QEMU
    # PIDs are in the host's own run directory
    for f in "$DIR"/run/qemu/*.pid; do if [ -f "$f" ]; then stop_pidfile "$f" 10; fi; done
    ;;
  stop-daemon) stop_pidfile "$PIDFILE" 15 ;;
  kill-daemon)
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if pid_alive "$pid"; then
      kill -9 "$pid"
      for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    fi
    rm -f "$PIDFILE"
    ;;
  start-daemon) start_daemon; echo "$URI" ;;
  uri) echo "$URI" ;;
  pid) cat "$PIDFILE" ;;
  *) echo "usage: $0 start [DIR[:SIZE]…]|stop|uri|pid|stop-daemon|kill-daemon|start-daemon" >&2; exit 64 ;;
esac
