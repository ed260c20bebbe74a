"""Every load-from-bucket parameter and lifecycle rule (issue 3), end to end."""
import json
import os
import socket
import time

import psycopg
import pytest

from conftest import (
    account,
    connect,
    count,
    create_table,
    generate_lines,
    indexes_of,
    load,
    load_via,
    loader_files,
    put_lines,
    restart_postgres_immediately,
    s3_object_path,
    status,
    wait_done,
    wait_for,
)


def patients(*ids, **extra):
    return [json.dumps({"resourceType": "Patient", "id": i, **extra}) for i in ids]


def disabled_indexes(conn):
    return {
        r[0]["indexname"]: r[0]
        for r in conn.execute("SELECT resource FROM disabledindex").fetchall()
    }


def test_disable_idx_drops_during_and_restores_after_even_with_a_failed_file(db, s3, bucket, stalling_proxy):
    create_table(db, "patient")
    db.execute("CREATE INDEX patient_resource_gin ON patient USING gin (resource)")
    db.execute("CREATE INDEX patient_txid_btree ON patient (txid)")
    before = indexes_of(db, "patient")
    assert set(before) == {"patient_pkey", "patient_resource_gin", "patient_txid_btree"}

    put_lines(s3, bucket, "Patient.good.ndjson.gz", patients("a", "b"))
    put_lines(s3, bucket, "Patient.stall.ndjson.gz", patients("c"))
    proxy = stalling_proxy("stall")
    result = load_via(db, bucket, proxy.url, **{"disable-idx?": True, "read-timeout": 1500, "thread-num": 2})
    assert result["disabled-indexes"] == 2

    # Seen from another session while the job runs: only the primary key is left.
    with connect(db.info.dbname) as other:
        assert status(other, bucket)["state"] == "in-progress"
        assert set(indexes_of(other, "patient")) == {"patient_pkey"}
        recorded = disabled_indexes(other)
    assert set(recorded) == {"patient_resource_gin", "patient_txid_btree"}
    gin = recorded["patient_resource_gin"]
    assert (gin["schemaname"], gin["tablename"], gin["status"]) == ("public", "patient", "disabled")
    assert gin["indexdef"] == before["patient_resource_gin"]

    st = wait_done(db, bucket, timeout=60)
    assert st["state"] == "completed" and st["error"] == 1 and st["disabled-indexes"] == []
    assert indexes_of(db, "patient") == before
    for name, rec in disabled_indexes(db).items():
        assert rec["status"] == "restored", name
        restore = rec["restore"]
        assert restore["start"] <= restore["end"] and isinstance(restore["duration"], int)
    stalled = loader_files(db, bucket)["Patient.stall.ndjson.gz"]
    assert stalled["status"] == "error"
    assert stalled["error"] == {"source": "aws", "code": "ReadTimeout"}
    assert stalled["message"] == "ReadTimeout: no data from S3 for 1500 ms"
    assert db.execute("SELECT array_agg(id ORDER BY id) FROM patient").fetchone()[0] == ["a", "b"]


def test_drop_primary_key_restores_it_or_reports_duplicates(db, s3, bucket):
    create_table(db, "patient")
    create_table(db, "device")
    put_lines(s3, bucket, "Patient.1.ndjson", patients("a", "b"))
    put_lines(s3, bucket, "Patient.2.ndjson", patients("b", "c"))  # b twice
    put_lines(s3, bucket, "Device.1.ndjson", [json.dumps({"id": "d1"})])
    result = load(db, bucket, **{"drop-primary-key?": True})
    assert result["disabled-indexes"] == 2
    st = wait_done(db, bucket)
    assert st["state"] == "completed" and st["error"] == 0
    assert count(db, "patient") == 4  # nothing checked duplicates while the key was off

    # device: restored as a real primary key
    assert "device_pkey" in indexes_of(db, "device")
    assert db.execute(
        "SELECT contype FROM pg_constraint WHERE conname = 'device_pkey'"
    ).fetchone()[0] == "p"
    # patient: the restore failed on the duplicate and says so
    rec = disabled_indexes(db)["patient_pkey"]
    assert rec["status"] == "disabled" and rec["primary-key"] is True
    assert rec["message"].startswith('23505: ERROR: could not create unique index "patient_pkey"')
    assert "patient_pkey" not in indexes_of(db, "patient")
    assert st["disabled-indexes"] == [
        {"indexname": "patient_pkey", "tablename": "patient", "message": rec["message"]}
    ]


def test_upsert_overwrites_and_duplicates_fail_files(db, s3, bucket):
    put_lines(s3, bucket, "a/Patient.ndjson", patients("p1", "p2", active=False))
    load(db, bucket, prefixes=["a/"])
    wait_done(db, bucket)
    first = dict((r[0], r[1:]) for r in db.execute("SELECT id, txid, ts, cts FROM patient").fetchall())

    put_lines(s3, bucket, "b/Patient.ndjson", patients("p2", "p3", active=True))
    load(db, bucket, prefixes=["b/"], **{"upsert?": True})
    wait_done(db, bucket)
    rows = {r[0]: r[1:] for r in db.execute("SELECT id, status::text, resource, txid, ts, cts FROM patient")}
    assert rows["p1"][:2] == ("created", {"active": False})
    assert rows["p2"][:2] == ("updated", {"active": True})
    assert rows["p3"][:2] == ("created", {"active": True})
    assert rows["p2"][2] > first["p2"][0]  # new txid
    assert rows["p2"][3] > first["p2"][1]  # new ts
    assert rows["p2"][4] == first["p2"][2]  # cts kept

    # without upsert an existing id fails the file, with Aidbox's message
    put_lines(s3, bucket, "c/Patient.ndjson", patients("p9", "p1"))
    # with upsert a duplicate inside one file still fails it
    put_lines(s3, bucket, "d/Patient.ndjson", patients("p7", "p7"))
    load(db, bucket, prefixes=["c/"])
    wait_done(db, bucket)
    load(db, bucket, prefixes=["d/"], **{"upsert?": True})
    wait_done(db, bucket)
    files = loader_files(db, bucket)
    assert files["c/Patient.ndjson"]["error"] == {"source": "postgres", "code": "23505"}
    assert files["c/Patient.ndjson"]["message"] == (
        '23505: ERROR: duplicate key value violates unique constraint "patient_pkey"'
    )
    assert files["d/Patient.ndjson"]["error"] == {"source": "postgres", "code": "21000"}
    assert files["d/Patient.ndjson"]["message"].startswith(
        "21000: ERROR: ON CONFLICT DO UPDATE command cannot affect row a second time"
    )
    assert db.execute("SELECT count(*) FROM patient WHERE id IN ('p9', 'p7')").fetchone()[0] == 0


def test_a_file_failing_after_the_next_was_claimed_ahead_loses_nothing(db, s3, bucket):
    # One worker, largest file first: "a" is read to its end (so the worker claims and starts
    # "b" in a's transaction), then a's upsert merge fails and rolls back, claim of b included.
    put_lines(s3, bucket, "a/Patient.ndjson", patients(*[f"a{i}" for i in range(300)], "a0"))
    put_lines(s3, bucket, "b/Patient.ndjson", patients(*[f"b{i}" for i in range(200)]))
    put_lines(s3, bucket, "c/Patient.ndjson", patients(*[f"c{i}" for i in range(100)]))
    load(db, bucket, **{"upsert?": True, "thread-num": 1})
    st = wait_done(db, bucket)
    files = loader_files(db, bucket)
    assert files["a/Patient.ndjson"]["error"] == {"source": "postgres", "code": "21000"}
    assert [files[k]["status"] for k in ("b/Patient.ndjson", "c/Patient.ndjson")] == ["done", "done"]
    assert [files[k]["loaded"] for k in ("b/Patient.ndjson", "c/Patient.ndjson")] == [200, 100]
    assert (st["state"], st["progress"]["done"], st["error"], st["loaded"]) == ("completed", 3, 1, 300)
    assert db.execute("SELECT count(*) FROM patient").fetchone()[0] == 300


def test_a_bad_last_line_after_the_next_file_was_claimed_loses_nothing(db, s3, bucket):
    # The worker claims and starts "b" as soon as a's last line is read, while a's last
    # batches are still parsed; the bad last line then fails "a", and b's claim with it.
    good = patients(*[f"a{i}" for i in range(2500)])
    put_lines(s3, bucket, "a/Patient.ndjson", good + ["{oops"])
    put_lines(s3, bucket, "b/Patient.ndjson", patients(*[f"b{i}" for i in range(200)]))
    put_lines(s3, bucket, "c/Patient.ndjson", patients(*[f"c{i}" for i in range(100)]))
    load(db, bucket, **{"thread-num": 1})
    st = wait_done(db, bucket)
    files = loader_files(db, bucket)
    assert files["a/Patient.ndjson"]["error"] == {"source": "aidbox", "code": "invalid-json"}
    assert files["a/Patient.ndjson"]["message"].startswith("invalid-json: line 2501: ")
    assert [files[k]["status"] for k in ("b/Patient.ndjson", "c/Patient.ndjson")] == ["done", "done"]
    assert (st["state"], st["progress"]["done"], st["error"], st["loaded"]) == ("completed", 3, 1, 300)
    assert db.execute("SELECT count(*) FROM patient").fetchone()[0] == 300


def test_by_last_modified_with_one_thread_lets_the_newest_file_win(db, s3, bucket):
    # Key order is the opposite of time order, so only LastModified can give this result.
    base = time.time() - 3600
    for n, key in enumerate(["c/Patient.ndjson", "b/Patient.ndjson", "a/Patient.ndjson"]):
        put_lines(s3, bucket, key, patients("same", version=n))
        os.utime(s3_object_path(bucket, key), (base + n * 60, base + n * 60))
    load(db, bucket, scheduler="by-last-modified", **{"thread-num": 1, "upsert?": True})
    wait_done(db, bucket)
    assert db.execute("SELECT resource FROM patient WHERE id = 'same'").fetchone()[0] == {"version": 2}
    files = loader_files(db, bucket)
    order = sorted(files, key=lambda k: files[k]["start"])
    assert order == ["c/Patient.ndjson", "b/Patient.ndjson", "a/Patient.ndjson"]


def test_optimal_scheduler_takes_the_largest_file_first(db, s3, bucket):
    put_lines(s3, bucket, "Patient.small.ndjson", patients("s"))
    put_lines(s3, bucket, "Patient.large.ndjson", patients(*[f"l{i}" for i in range(500)]))
    put_lines(s3, bucket, "Patient.medium.ndjson", patients(*[f"m{i}" for i in range(50)]))
    load(db, bucket, **{"thread-num": 1})
    wait_done(db, bucket)
    files = loader_files(db, bucket)
    order = sorted(files, key=lambda k: files[k]["start"])
    assert order == ["Patient.large.ndjson", "Patient.medium.ndjson", "Patient.small.ndjson"]


def test_prefixes_list_per_prefix_across_pages(db, s3, bucket):
    for i in range(1050):
        s3.put_object(Bucket=bucket, Key=f"many/Patient.{i:04}.ndjson", Body=f'{{"id":"p{i}"}}\n'.encode())
    put_lines(s3, bucket, "other/Patient.ndjson", patients("not-me"))
    put_lines(s3, bucket, "more/Device.ndjson", [json.dumps({"id": "d"})])
    result = load(db, bucket, prefixes=["many/", "more/Dev"], **{"thread-num": 4})
    assert result["new-files-count"] == 1051
    st = wait_done(db, bucket, timeout=300)
    assert st["progress"] == {"total": 1051, "pending": 0, "done": 1051}
    assert count(db, "patient") == 1050 and count(db, "device") == 1


def test_unreachable_host_is_connect_timeout(db, bucket):
    # A listener whose accept queue is full drops new connections' SYNs: connect hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    try:
        started = time.monotonic()
        with pytest.raises(psycopg.Error) as err:
            # read-timeout bounds the test even if a connection were accepted.
            load_via(db, bucket, f"http://127.0.0.1:{port}", **{"connect-timeout": 300, "read-timeout": 5000})
        assert err.value.diag.message_primary == "ConnectTimeout: could not connect to S3 within 300 ms"
        assert time.monotonic() - started < 20
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_rerun_rules(db, s3, bucket, stalling_proxy):
    put_lines(s3, bucket, "Patient.ndjson", patients("a", "b"))
    put_lines(s3, bucket, "Device.ndjson", [json.dumps({"id": "d"})])
    load(db, bucket)
    wait_done(db, bucket)
    device_txid = db.execute("SELECT txid FROM device").fetchone()[0]

    # Delete a LoaderFile (and its rows) to reload that file alone.
    db.execute("DELETE FROM loaderfile WHERE resource->>'file' = 'Patient.ndjson'")
    db.execute("DELETE FROM patient")
    assert load(db, bucket)["new-files-count"] == 1
    wait_done(db, bucket)
    assert count(db, "patient") == 2
    assert db.execute("SELECT txid FROM device").fetchone()[0] == device_txid

    # A call while a job runs for the bucket is an error, and queues nothing.
    put_lines(s3, bucket, "Patient.stall.ndjson", patients("s"))
    proxy = stalling_proxy("stall")
    load_via(db, bucket, proxy.url, **{"read-timeout": 3000})
    put_lines(s3, bucket, "Device.late.ndjson", [json.dumps({"id": "late"})])
    with pytest.raises(psycopg.Error) as err:
        load(db, bucket)
    assert err.value.sqlstate == "55006"
    assert f"a load from bucket <s3://{bucket}> is already running" in err.value.diag.message_primary
    assert "Device.late.ndjson" not in loader_files(db, bucket)
    assert wait_done(db, bucket)["state"] == "completed"


def test_immediate_restart_mid_load_is_interrupted_then_resumed_exactly(db, s3, bucket):
    files, per_file = 40, 5000
    for f in range(files):
        put_lines(s3, bucket, f"gen/Condition.{f:03}.ndjson.gz", generate_lines("Condition.000.ndjson.gz", per_file, f"c{f}"))
    create_table(db, "condition")
    db.execute("CREATE INDEX condition_txid_btree ON condition (txid)")
    load(db, bucket, **{"thread-num": 2, "disable-idx?": True})

    wait_for(
        lambda: (lambda s: s["progress"]["done"] >= 2 and s["in-progress"] > 0 and s)(status(db, bucket)),
        timeout=300,
        what="some files done and some in progress",
    )
    dbname = db.info.dbname
    restart_postgres_immediately()

    with connect(dbname) as conn:
        st = status(conn, bucket)
        assert st["state"] == "interrupted", st
        assert 0 < st["progress"]["pending"] < files
        assert "condition_txid_btree" not in indexes_of(conn, "condition")
        done_before = st["progress"]["done"]
        # Committed files are whole: rows = 5000 per done file, none from the others.
        assert count(conn, "condition") == done_before * per_file

        result = load(conn, bucket, **{"thread-num": 2})
        assert result["new-files-count"] == 0
        st = wait_done(conn, bucket, timeout=600)
        assert st["state"] == "completed"
        assert st["progress"] == {"total": files, "pending": 0, "done": files}
        assert st["loaded"] == files * per_file
        assert count(conn, "condition") == files * per_file
        assert conn.execute("SELECT count(DISTINCT id) FROM condition").fetchone()[0] == files * per_file
        assert all(lf["status"] == "done" and lf["loaded"] == per_file for lf in loader_files(conn, bucket).values())
        assert "condition_txid_btree" in indexes_of(conn, "condition")


def test_thread_num_beyond_free_worker_slots_runs_with_what_it_gets(db, s3, bucket):
    for i in range(40):
        put_lines(s3, bucket, f"Patient.{i:02}.ndjson", patients(f"p{i}"), gz=False)
    notices = []
    db.add_notice_handler(lambda d: notices.append(d.message_primary))
    result = load(db, bucket, **{"thread-num": 40})
    assert 0 < result["workers"] < 40  # max_worker_processes = 32 in the test cluster
    assert result["thread-num"] == 40
    assert any("workers started; max_worker_processes has no more free slots" in n for n in notices), notices
    assert wait_done(db, bucket)["progress"]["done"] == 40
    assert count(db, "patient") == 40


def test_no_free_worker_slot_is_an_error_and_sigterm_interrupts(db, s3, bucket, stalling_proxy):
    # Hold every worker slot with a job whose files all stall (no read-timeout).
    busy = bucket + "-busy"
    s3.create_bucket(Bucket=busy)
    for i in range(40):
        put_lines(s3, busy, f"Patient.stall{i:02}.ndjson", patients(f"s{i}"), gz=False)
    proxy = stalling_proxy("stall")
    started = load_via(db, busy, proxy.url, **{"thread-num": 40})["workers"]
    put_lines(s3, bucket, "Patient.ndjson", patients("p"))
    try:
        with pytest.raises(psycopg.Error) as err:
            load(db, bucket)
        assert err.value.diag.message_primary == (
            "no background worker could be started: max_worker_processes has no free slot"
        )
        assert db.execute(
            "SELECT count(*) FROM loaderfile WHERE resource->>'bucket' = %s", [f"s3://{bucket}"]
        ).fetchone()[0] == 0
    finally:
        # SIGTERM every worker: each stops inside its file, which stays unfinished. Some
        # may still be starting when the call returns, so repeat until none is left.
        terminated = set()

        def stop_all():
            pids = [r[0] for r in db.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'aidbox_bulk worker'"
            ).fetchall()]
            for pid in pids:
                db.execute("SELECT pg_terminate_backend(%s)", [pid])
                terminated.add(pid)
            return not pids and len(terminated) >= started

        wait_for(stop_all, timeout=60, what="every worker to stop")
    assert len(terminated) == started
    st = wait_for(lambda: (lambda s: s["state"] != "in-progress" and s)(status(db, busy)), what="workers to stop")
    assert st["state"] == "interrupted"
    assert 0 < st["in-progress"] <= started and count(db, "patient") == 0
