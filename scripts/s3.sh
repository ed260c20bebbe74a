#!/usr/bin/env bash
# A local S3 server (s3s-fs, which checks SigV4 signatures) on 127.0.0.1:$AIDBOX_BULK_S3_PORT.
#   s3.sh fresh | start | stop
set -euo pipefail
. "$(dirname "$0")/env.sh"
DATA="$AIDBOX_BULK_RUN_DIR/s3"
PIDFILE="$AIDBOX_BULK_RUN_DIR/s3.pid"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

stop() {
  if running; then kill "$(cat "$PIDFILE")"; fi
  rm -f "$PIDFILE"
}

start() {
  running && return 0
  mkdir -p "$DATA"
  nohup s3s-fs --host 127.0.0.1 --port "$AIDBOX_BULK_S3_PORT" \
    --access-key "$AIDBOX_BULK_S3_KEY" --secret-key "$AIDBOX_BULK_S3_SECRET" \
    "$DATA" >"$AIDBOX_BULK_RUN_DIR/s3.log" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$AIDBOX_BULK_S3_PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "s3s-fs did not start; see $AIDBOX_BULK_RUN_DIR/s3.log" >&2
  exit 1
}

case "${1:-start}" in
  fresh) stop; rm -rf "$DATA"; start ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 fresh|start|stop" >&2; exit 2 ;;
esac
