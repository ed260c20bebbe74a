#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1:$AIDBOX_BULK_PGPORT.
#   cluster.sh fresh   stop any old one, initdb anew, start
#   cluster.sh start   start the existing one (initdb if none)
#   cluster.sh stop
set -euo pipefail
. "$(dirname "$0")/env.sh"
PGDATA="$AIDBOX_BULK_RUN_DIR/pg"
LOG="$AIDBOX_BULK_RUN_DIR/pg.log"
as_pg() { sudo -u postgres "$@"; }

stop() {
  if [ -f "$PGDATA/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

init() {
  # A fresh cluster gets a fresh log too (tests read the whole log).
  rm -rf "$PGDATA" "$LOG"
  mkdir -p "$AIDBOX_BULK_RUN_DIR"
  chmod 755 "$AIDBOX_BULK_RUN_DIR"
  install -d -o postgres -g postgres -m 700 "$PGDATA"
  as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust --no-sync >/dev/null
  cat >> "$PGDATA/postgresql.conf" <<CONF
port = $AIDBOX_BULK_PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDATA'
max_worker_processes = 32
max_connections = 100
shared_buffers = 256MB
log_min_messages = warning
CONF
}

start() {
  [ -f "$PGDATA/PG_VERSION" ] || init
  touch "$LOG" && chown postgres "$LOG"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOG" -w -t 60 start >/dev/null
  fi
}

case "${1:-start}" in
  fresh) stop; init; start ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 fresh|start|stop" >&2; exit 2 ;;
esac
