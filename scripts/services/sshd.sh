#!/usr/bin/env bash
# A private OpenSSH server for the remote-host tests and for trying qemu+ssh:// hosts locally:
# binds 127.0.0.1 on a free port, its own host key, ONE authorized key (generated here), key-only
# authentication, root login with that key allowed for this instance only (the system's
# /etc/ssh/sshd_config is never read nor changed). Everything lives under $LIMEN_STATE/sshd; the
# daemon's PID is recorded and it is stopped by that PID only.
# usage: sshd.sh start|stop|uri [LIBVIRT_SOCKET]|port|key
#   start  prints the port;  uri prints qemu+ssh://root@127.0.0.1:<port>/system?keyfile=…&no_verify=1
#          (with &socket=LIBVIRT_SOCKET when given: a libvirtd on another socket, e.g. libvirt-host2.sh)
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

DIR="$LIMEN_STATE/sshd"
PIDFILE="$DIR/sshd.pid"
KEY="$DIR/id_ed25519"

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Entries for [127.0.0.1]:<port> in the caller's known_hosts are stale by definition (an earlier
# instance on the same port had another host key): with no_verify=1 libvirt still refuses nothing,
# but OpenSSH disables forwarding (-W) on a changed key. Forget them on start and stop.
forget_host_key() {
  local kh="$HOME/.ssh/known_hosts"
  [ -f "$kh" ] && ssh-keygen -q -f "$kh" -R "[127.0.0.1]:$1" >/dev/null 2>&1 || true
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

prepare() {
  mkdir -p "$DIR"
  # sshd's StrictModes: the key files and every directory above them must not be group/world writable
  chmod 700 "$DIR"
  [ -f "$DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C limen-test-host -f "$DIR/ssh_host_ed25519_key"
  [ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C limen-test-client -f "$KEY"
  cp "$KEY.pub" "$DIR/authorized_keys"
  chmod 600 "$DIR/authorized_keys" "$KEY"
  # the privilege-separation directory Debian's sshd expects (normally made by its service unit)
  mkdir -p /run/sshd && chmod 755 /run/sshd
  cat >"$DIR/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $1
HostKey $DIR/ssh_host_ed25519_key
PidFile $PIDFILE
AuthorizedKeysFile $DIR/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin prohibit-password
UsePAM no
# -W (stdio forwarding to the guest's VNC port) is TCP forwarding; nothing else is needed
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
PermitTTY no
PrintMotd no
MaxStartups 50:30:100
# DEBUG1 logs every forwarded channel's target ("server_request_direct_tcpip: … target 127.0.0.1
# port 5900"): the tests read it to prove a console's bytes went through this server
LogLevel DEBUG1
CONF
}

case "${1:-}" in
  start)
    [ "$(id -u)" = 0 ] || { echo "the test sshd logs in as root: run as root" >&2; exit 2; }
    [ -x /usr/sbin/sshd ] || { echo "openssh-server is not installed (apt-get install openssh-server)" >&2; exit 1; }
    if pid_alive "$(cat "$PIDFILE" 2>/dev/null || true)"; then cat "$DIR/port"; exit 0; fi
    port=$(free_port)
    prepare "$port"
    forget_host_key "$port"
    /usr/sbin/sshd -t -f "$DIR/sshd_config"
    # -E: its own log (auth lines prove which sessions went through it); daemonizes, writes PidFile
    /usr/sbin/sshd -f "$DIR/sshd_config" -E "$DIR/sshd.log"
    WAIT_SECONDS=30 wait_for listening "$port" || { tail -n 20 "$DIR/sshd.log" >&2; stop_pidfile "$PIDFILE" 5; exit 1; }
    echo "$port" >"$DIR/port"
    log "sshd listening on 127.0.0.1:$port (key $KEY)"
    echo "$port"
    ;;
  stop)
    stop_pidfile "$PIDFILE" 10
    if [ -f "$DIR/port" ]; then forget_host_key "$(cat "$DIR/port")"; fi
    ;;
  port) cat "$DIR/port" ;;
  key) echo "$KEY" ;;
  uri)
    port=$(cat "$DIR/port")
    q="keyfile=$KEY&no_verify=1"
    [ -n "${2:-}" ] && q="socket=$2&$q"
    echo "qemu+ssh://root@127.0.0.1:$port/system?$q"
    ;;
  *) echo "usage: $0 start|stop|uri [LIBVIRT_SOCKET]|port|key" >&2; exit 64 ;;
esac
