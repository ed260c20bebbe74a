#!/usr/bin/env bash
# Installs what `make demo` / `make test` need on a fresh Debian 12 machine (root).
# Idempotent and quiet when everything is already present.
set -euo pipefail

PGRX_VERSION=0.18.1
S3S_FS_VERSION=0.14.1
PG_MAJOR=15
APT_PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libclang-dev clang pkg-config libssl-dev sudo"

log() { echo "setup: $*"; }

missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "apt-get install$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  log "cargo install cargo-pgrx $PGRX_VERSION (takes a few minutes)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
fi
if ! grep -q "pg$PG_MAJOR" "$HOME/.pgrx/config.toml" 2>/dev/null; then
  log "cargo pgrx init --pg$PG_MAJOR"
  cargo pgrx init --pg$PG_MAJOR "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" >/dev/null
fi
if ! s3s-fs --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
  log "cargo install s3s-fs $S3S_FS_VERSION (takes a few minutes)"
  cargo install s3s-fs --version "$S3S_FS_VERSION" --locked --features binary --quiet
fi

py_missing=""
python3 -c 'import boto3' 2>/dev/null || py_missing="$py_missing boto3"
python3 -c 'import psycopg' 2>/dev/null || py_missing="$py_missing psycopg[binary]"
python3 -c 'import pytest' 2>/dev/null || py_missing="$py_missing pytest"
if [ -n "$py_missing" ]; then
  log "pip install$py_missing"
  python3 -m pip install -q $py_missing 2>/dev/null || python3 -m pip install -q --break-system-packages $py_missing
fi
