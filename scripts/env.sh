# Shared settings of the throwaway PostgreSQL cluster and local S3 server.
# Sourced by the other scripts and by the Makefile's recipes.
export PG_MAJOR=15
export PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
export PG_CONFIG="$PG_BIN/pg_config"
# Outside the work tree: the postgres user must be able to reach it.
export AIDBOX_BULK_RUN_DIR="${AIDBOX_BULK_RUN_DIR:-/tmp/aidbox_bulk}"
export AIDBOX_BULK_PGPORT="${AIDBOX_BULK_PGPORT:-55432}"
export AIDBOX_BULK_S3_PORT="${AIDBOX_BULK_S3_PORT:-59000}"
export AIDBOX_BULK_S3_KEY="${AIDBOX_BULK_S3_KEY:-aidbox-bulk-key}"
export AIDBOX_BULK_S3_SECRET="${AIDBOX_BULK_S3_SECRET:-aidbox-bulk-secret}"
export PATH="$HOME/.cargo/bin:$PATH"
