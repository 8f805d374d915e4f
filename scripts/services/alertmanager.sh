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
    # shellcheck disable=SC2086
    run_http_daemon alertmanager "$DIR" "$PORT" "$PIDFILE" "$LOGFILE" \
      "$AM" --config.file="$CONFIG" --storage.path="$DIR/data" \
      --web.listen-address="127.0.0.1:$PORT" --cluster.listen-address= \
      ${LIMEN_ALERTMANAGER_ARGS:-}
    ;;
  stop)
    stop_pidfile "$PIDFILE"
    ;;
  url)
    http_daemon_url "$DIR" "$PIDFILE" || exit 1
    ;;
  *) echo "usage: $0 start CONFIG_FILE [PORT] | stop | url" >&2; exit 64 ;;
esac
