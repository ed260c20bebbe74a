"""The walking skeleton, end to end: real cluster, real S3 server."""
import json

import psycopg
import pytest

from conftest import (
    FIXTURE_COUNTS,
    account,
    count,
    fixture_lines,
    load,
    loader_files,
    put_lines,
    status,
    upload_fixture,
    wait_done,
)


@pytest.mark.parametrize("threads", [1, 4])
def test_fixture_loads_exact_counts(db, s3, bucket, threads):
    upload_fixture(s3, bucket)
    result = load(db, bucket, **{"thread-num": threads})
    assert result["message"] == f"Upload from bucket <s3://{bucket}> started. 13 new files added."
    assert result["new-files-count"] == 13
    assert result["progress"] == {"total": 13}

    st = wait_done(db, bucket)
    assert st["state"] == "completed"
    assert st["progress"] == {"total": 13, "pending": 0, "done": 13}
    assert st["loaded"] == 7160

    files = loader_files(db, bucket)
    assert "log.ndjson.gz" not in files
    assert sorted(files) == sorted(f"{t}.000.ndjson.gz" for t in FIXTURE_COUNTS)
    for t, n in FIXTURE_COUNTS.items():
        lf = files[f"{t}.000.ndjson.gz"]
        assert (lf["status"], lf["type"], lf["loaded"]) == ("done", t, n)
        assert lf["bucket"] == f"s3://{bucket}"
        assert lf["size"] > 0 and lf["last-modified"] and lf["start"] and lf["end"]
        assert count(db, t.lower()) == n, t
    total = sum(count(db, t.lower()) for t in FIXTURE_COUNTS)
    assert total == 7160


def test_stored_rows_follow_the_aidbox_layout(db, s3, bucket):
    upload_fixture(s3, bucket)
    load(db, bucket)
    wait_done(db, bucket)

    # The stored body is the line minus id, resourceType and version meta, in Aidbox
    # format: to_fhir gives the line back exactly.
    first = json.loads(fixture_lines("Patient.000.ndjson.gz")[0])
    stored = db.execute(
        "SELECT resource, aidbox_bulk.to_fhir(resource_type, resource, id), resource_type, status::text"
        " FROM patient WHERE id = %s",
        [first["id"]],
    ).fetchone()
    expected = dict(first)
    meta = {k: v for k, v in expected.pop("meta", {}).items() if k not in ("versionId", "lastUpdated")}
    if meta:
        expected["meta"] = meta
    assert "id" not in stored[0] and "resourceType" not in stored[0]
    assert stored[1:] == (expected, "Patient", "created")

    for t in FIXTURE_COUNTS:
        table = t.lower()
        bad = db.execute(
            f"SELECT count(*) FROM {table} WHERE resource ? 'id' OR resource ? 'resourceType' "
            f"OR resource_type <> %s OR status <> 'created' OR ts <> cts",
            [t],
        ).fetchone()[0]
        assert bad == 0, table
    # MedicationRequest is not mistaken for Medication.
    assert db.execute("SELECT to_regclass('medication')").fetchone()[0] is None
    txids = db.execute(
        "SELECT count(*), count(DISTINCT txid) FROM ("
        + " UNION ALL ".join(f"SELECT txid FROM {t.lower()}" for t in FIXTURE_COUNTS)
        + ") x"
    ).fetchone()
    assert txids == (7160, 7160)


def test_second_call_adds_nothing_and_changes_nothing(db, s3, bucket):
    upload_fixture(s3, bucket)
    load(db, bucket)
    wait_done(db, bucket)
    before = db.execute("SELECT max(txid), count(*) FROM patient").fetchone()
    files_before = loader_files(db, bucket)

    again = load(db, bucket)
    assert again == {
        "message": f"Upload from bucket <s3://{bucket}> started. 0 new files added.",
        "progress": {"total": 13},
        "new-files-count": 0,
    }
    assert wait_done(db, bucket)["state"] == "completed"
    assert db.execute("SELECT max(txid), count(*) FROM patient").fetchone() == before
    assert loader_files(db, bucket) == files_before


def test_wrong_secret_is_invalid_account_and_queues_nothing(db, s3, bucket):
    upload_fixture(s3, bucket)
    body = {"bucket": f"s3://{bucket}", "account": account(secret="wrong-secret")}
    with pytest.raises(psycopg.Error) as err:
        db.execute("SELECT aidbox_bulk.load_from_bucket(%s::jsonb)", [json.dumps(body)])
    assert "InvalidAccount" in err.value.diag.message_primary
    assert "wrong-secret" not in str(err.value)
    assert err.value.sqlstate == "28000"
    # The call rolled back whole: not even the bookkeeping tables exist.
    assert db.execute("SELECT to_regclass('loaderfile')").fetchone()[0] is None


def test_missing_bucket_is_no_such_key(db):
    with pytest.raises(psycopg.Error) as err:
        load(db, "no-such-bucket-here")
    assert err.value.diag.message_primary.startswith("NoSuchKey: ")
    assert err.value.sqlstate == "58P01"
    with pytest.raises(psycopg.Error) as err:
        status(db, "no-such-bucket-here")
    assert "No imports for bucket <s3://no-such-bucket-here>" in err.value.diag.message_primary


def test_bad_line_fails_only_its_file(db, s3, bucket):
    lines = fixture_lines("Patient.000.ndjson.gz")
    lines[6] = '{"resourceType": "Patient", "id": "broken", '  # line 7
    put_lines(s3, bucket, "Patient.000.ndjson.gz", lines)
    s3.upload_file("fixtures/synthea-10/Condition.000.ndjson.gz", bucket, "Condition.000.ndjson.gz")

    load(db, bucket, **{"thread-num": 2})
    st = wait_done(db, bucket)
    assert st["state"] == "completed"
    assert st["progress"] == {"total": 2, "pending": 0, "done": 2}
    assert st["error"] == 1

    files = loader_files(db, bucket)
    bad = files["Patient.000.ndjson.gz"]
    assert bad["status"] == "error"
    assert bad["error"] == {"source": "aidbox", "code": "invalid-json"}
    assert bad["message"].startswith("invalid-json: line 7: invalid JSON: ")
    assert "loaded" not in bad
    assert count(db, "patient") == 0
    assert files["Condition.000.ndjson.gz"]["status"] == "done"
    assert count(db, "condition") == 555


def test_naming_rules_plain_ndjson_and_prefixes(db, s3, bucket):
    put_lines(s3, bucket, "fhir/1/patient-01.ndjson", ['{"id":"a"}', "", '{"id":"b"}'], gz=False)
    put_lines(s3, bucket, "fhir/1/Observation.ndjson.gz", ['{"id":"o1","status":"final"}'])
    put_lines(s3, bucket, "fhir/2/Patient.ndjson", ['{"id":"c"}'])
    # gzip found from the bytes even without a .gz name
    put_lines(s3, bucket, "fhir/1/Device.x.ndjson", ['{"id":"d"}'], gz=True)
    for ignored in ["fhir/1/import.ndjson", "fhir/1/01-patient.ndjson.gz", "fhir/Patient", "fhir/1/Patient.json"]:
        put_lines(s3, bucket, ignored, ['{"id":"x"}'])

    result = load(db, bucket, prefixes=["fhir/1/"])
    assert result["new-files-count"] == 3
    wait_done(db, bucket)
    assert sorted(loader_files(db, bucket)) == [
        "fhir/1/Device.x.ndjson",
        "fhir/1/Observation.ndjson.gz",
        "fhir/1/patient-01.ndjson",
    ]
    assert db.execute("SELECT array_agg(id ORDER BY id) FROM patient").fetchone()[0] == ["a", "b"]
    assert count(db, "observation") == 1 and count(db, "device") == 1

    assert load(db, bucket)["new-files-count"] == 1  # now fhir/2/Patient.ndjson too
    wait_done(db, bucket)
    assert count(db, "patient") == 3


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, '"bucket" is required'),
        ({"bucket": "s3://b", "scheduler": "fast"}, 'unknown "scheduler" "fast"'),
        ({"bucket": "s3://b", "upsert?": True, "drop-primary-key?": True}, "cannot be combined"),
        ({"bucket": "s3://b", "thread-num": "4"}, '"thread-num" must be an integer'),
    ],
)
def test_bad_calls_raise_and_queue_nothing(db, params, message):
    with pytest.raises(psycopg.Error) as err:
        db.execute("SELECT aidbox_bulk.load_from_bucket(%s::jsonb)", [json.dumps(params)])
    assert message in err.value.diag.message_primary
    assert err.value.sqlstate == "22023"


def test_secrets_never_reach_a_table_or_the_server_log(db, s3, bucket):
    from conftest import RUN_DIR, S3_SECRET

    upload_fixture(s3, bucket)
    body = {"bucket": f"s3://{bucket}", "account": account(secret="wrong-" + S3_SECRET)}
    with pytest.raises(psycopg.Error):
        db.execute("SELECT aidbox_bulk.load_from_bucket(%s::jsonb)", [json.dumps(body)])
    load(db, bucket, **{"disable-idx?": True})
    wait_done(db, bucket)
    for table in ("loaderfile", "disabledindex", "patient"):
        leaked = db.execute(f"SELECT count(*) FROM {table} WHERE resource::text LIKE %s", [f"%{S3_SECRET}%"])
        assert leaked.fetchone()[0] == 0, table
    assert S3_SECRET not in (RUN_DIR / "pg.log").read_text(errors="replace")
