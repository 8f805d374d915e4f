#!/usr/bin/env bash
# Private Prometheus for tests and local development (RECIPES.md), on loopback only.
# usage: prometheus.sh start CONFIG_FILE [PORT] | stop | url
#   PORT defaults to $LIMEN_PROMETHEUS_PORT or 19090. State (TSDB, log, PID) lives in
#   $LIMEN_STATE/prometheus; the TSDB is wiped on start so no alert state survives a restart.
#   Extra flags: $LIMEN_PROMETHEUS_ARGS (e.g. "--rules.alert.resend-delay=1s").
#   `start` waits for /-/ready and prints the base URL on stdout; a running instance is
#   replaced. `stop` ends the recorded PID only and is a no-op when nothing runs.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

DIR="$LIMEN_STATE/prometheus"
PIDFILE="$DIR/prometheus.pid"
LOGFILE="$DIR/prometheus.log"

case "${1:-}" in
  start)
    CONFIG="${2:-}"
    PORT="${3:-${LIMEN_PROMETHEUS_PORT:-19090}}"
    [ -n "$CONFIG" ] && [ -f "$CONFIG" ] || { echo "usage: $0 start CONFIG_FILE [PORT] (config file not found: '$CONFIG')" >&2; exit 64; }
    command -v prometheus >/dev/null || { echo "prometheus not installed: apt-get install prometheus" >&2; exit 1; }
    CONFIG="$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")"
    mkdir -p "$DIR"
    stop_pidfile "$PIDFILE"
    rm -rf "$DIR/data"
    URL="http://127.0.0.1:$PORT"
    # shellcheck disable=SC2086
    prometheus --config.file="$CONFIG" --storage.tsdb.path="$DIR/data" \
      --web.listen-address="127.0.0.1:$PORT" --web.enable-lifecycle \
      ${LIMEN_PROMETHEUS_ARGS:-} >"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    echo "$PORT" >"$DIR/port"
    wait_http_ready prometheus "$URL" "$PIDFILE" "$LOGFILE"
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
