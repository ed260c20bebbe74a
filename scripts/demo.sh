#!/usr/bin/env bash
# `make demo`: load the Synthea fixture from a local S3 bucket and show the result.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/.."

bash scripts/cluster.sh fresh
bash scripts/s3.sh fresh
python3 scripts/upload.py demo fixtures/synthea-10

PSQL=(psql -X -q -h 127.0.0.1 -p "$AIDBOX_BULK_PGPORT" -U postgres -v ON_ERROR_STOP=1)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE demo" >/dev/null
"${PSQL[@]}" -d demo -c "CREATE EXTENSION aidbox_bulk" >/dev/null

PARAMS=$(cat <<JSON
{"bucket": "s3://demo", "thread-num": 4,
 "account": {"access-key-id": "$AIDBOX_BULK_S3_KEY", "secret-access-key": "$AIDBOX_BULK_S3_SECRET",
             "region": "us-east-1", "host": "http://127.0.0.1:$AIDBOX_BULK_S3_PORT"}}
JSON
)
echo
echo "demo=# SELECT aidbox_bulk.load_from_bucket('{\"bucket\": \"s3://demo\", \"thread-num\": 4, \"account\": {...}}');"
"${PSQL[@]}" -d demo -At -v params="$PARAMS" <<'SQL'
SELECT jsonb_pretty(aidbox_bulk.load_from_bucket(:'params'));
SQL

echo
echo "progress (aidbox_bulk.load_from_bucket_status):"
deadline=$((SECONDS + 300))
while :; do
  status=$("${PSQL[@]}" -d demo -At -c "SELECT aidbox_bulk.load_from_bucket_status('{\"bucket\":\"s3://demo\"}')")
  echo "  $status"
  case "$status" in *'"state": "in-progress"'*) ;; *) break ;; esac
  [ $SECONDS -lt $deadline ] || { echo "still in progress after 300 s" >&2; exit 1; }
  sleep 0.5
done

echo
echo "final status:"
"${PSQL[@]}" -d demo -At -c "SELECT jsonb_pretty(aidbox_bulk.load_from_bucket_status('{\"bucket\":\"s3://demo\"}'))"
echo
echo "rows per table:"
"${PSQL[@]}" -d demo <<'SQL'
SELECT lf.resource->>'type' AS resource_type, lf.resource->>'status' AS file_status,
       (lf.resource->>'loaded')::int AS loaded,
       (xpath('/row/n/text()', query_to_xml(
          format('SELECT count(*) AS n FROM %I', lower(lf.resource->>'type')), false, true, '')))[1]::text::int AS table_rows
  FROM loaderfile lf
 WHERE lf.resource->>'bucket' = 's3://demo'
 ORDER BY 1;
SQL
