#!/usr/bin/env bash
# Private Alertmanager for tests and local development (RECIPES.md), on loopback only and without
# the cluster gossip port.
# usage: alertmanager.sh start CONFIG_FILE [PORT] | stop | url
#   PORT defaults to $LIMEN_ALERTMANAGER_PORT or 19093. State (silences, notification log, log
#   file, PID) lives in $LIMEN_STATE/alertmanager and is wiped on start.
#   Extra flags: $LIMEN_ALERTMANAGER_ARGS.
#   `start` waits for /-/ready and prints the base URL on stdout; a running instance is
#   replaced. `stop` ends the recorded PID only and is a no-op when nothing runs.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

DIR="$LIMEN_STATE/alertmanager"
PIDFILE="$DIR/alertmanager.pid"
LOGFILE="$DIR/alertmanager.log"

am_binary() {
  # Debian calls it prometheus-alertmanager, upstream alertmanager.
  command -v prometheus-alertmanager || command -v alertmanager
}

case "${1:-}" in
  start)
    CONFIG="${2:-}"
    PORT="${3:-${LIMEN_ALERTMANAGER_PORT:-19093}}"
    [ -n "$CONFIG" ] && [ -f "$CONFIG" ] || { echo "usage: $0 start CONFIG_FILE [PORT] (config file not found: '$CONFIG')" >&2; exit 64; }
    AM="$(am_binary)" || { echo "alertmanager not installed: apt-get install prometheus-alertmanager" >&2; exit 1; }
    CONFIG="$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")"
    mkdir -p "$DIR"
    stop_pidfile "$PIDFILE"
    rm -rf "$DIR/data"
    URL="http://127.0.0.1:$PORT"
    # shellcheck disable=SC2086
    "$AM" --config.file="$CONFIG" --storage.path="$DIR/data" \
      --web.listen-address="127.0.0.1:$PORT" --cluster.listen-address= \
      ${LIMEN_ALERTMANAGER_ARGS:-} >"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    echo "$PORT" >"$DIR/port"
    wait_http_ready alertmanager "$URL" "$PIDFILE" "$LOGFILE"
    echo "$URL"
    ;;
  stop)
    stop_pidfile "$PIDFILE"
    ;;
  url)
    [ -f "$DIR/port" ] && pid_alive "$(cat "$PIDFILE" 2>/dev/null)" || exit 1
    echo "http://127.0.0.1:$(cat "$DIR/port")"
    ;;
  *) echo "usage: $0 start CONFIG_FILE [PORT] | stop | url" >&2; exit 64 ;;
esac
