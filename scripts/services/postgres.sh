#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for tests and local development (RECIPES.md).
# usage: postgres.sh start|stop|url      (port: $LIMEN_PG_PORT, default 55432)
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

DIR="$LIMEN_STATE/pg"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The port this cluster uses is remembered; a first start skips ports another process holds.
if [ -f "$DIR/port" ]; then
  PORT=$(cat "$DIR/port")
else
  PORT="${LIMEN_PG_PORT:-55432}"
  if [ "${1:-}" = start ]; then
    for _ in $(seq 1 50); do port_busy "$PORT" || break; PORT=$((PORT + 1)); done
  fi
fi
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    [ -n "$PGBIN" ] || { echo "PostgreSQL server not installed" >&2; exit 1; }
    if as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then echo "$URL"; exit 0; fi
    mkdir -p "$DIR"
    echo "$PORT" > "$DIR/port"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
    # postgres must traverse the state dir; the data dir itself stays private to postgres.
    chmod o+x "$LIMEN_STATE" "$DIR" 2>/dev/null || true
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
      as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 >"$DIR/initdb.log" 2>&1
    fi
    as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    echo "$URL"
    ;;
  stop)
    [ -n "$PGBIN" ] && [ -d "$DIR/data" ] && as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 64 ;;
esac
