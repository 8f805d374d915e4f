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
    # shellcheck disable=SC2086
    run_http_daemon prometheus "$DIR" "$PORT" "$PIDFILE" "$LOGFILE" \
      prometheus --config.file="$CONFIG" --storage.tsdb.path="$DIR/data" \
      --web.listen-address="127.0.0.1:$PORT" --web.enable-lifecycle \
      ${LIMEN_PROMETHEUS_ARGS:-}
    ;;
  stop)
    stop_pidfile "$PIDFILE"
    ;;
  url)
    http_daemon_url "$DIR" "$PIDFILE" || exit 1
    ;;
  *) echo "usage: $0 start CONFIG_FILE [PORT] | stop | url" >&2; exit 64 ;;
esac
