"""Integration tests: a real PostgreSQL cluster with the extension installed and a real
S3 server (s3s-fs) over loopback, driven as a user would (psycopg, boto3).

`make integration` starts both; the settings come from scripts/env.sh.
"""
import gzip
import io
import json
import os
import time
import uuid
from pathlib import Path

import boto3
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "synthea-10"
PGPORT = int(os.environ.get("AIDBOX_BULK_PGPORT", "55432"))
S3_PORT = int(os.environ.get("AIDBOX_BULK_S3_PORT", "59000"))
S3_KEY = os.environ.get("AIDBOX_BULK_S3_KEY", "aidbox-bulk-key")
S3_SECRET = os.environ.get("AIDBOX_BULK_S3_SECRET", "aidbox-bulk-secret")
S3_URL = f"http://127.0.0.1:{S3_PORT}"

# The fixture README's counts.
FIXTURE_COUNTS = {
    "AllergyIntolerance": 11,
    "Condition": 555,
    "Device": 16,
    "DocumentReference": 1215,
    "Encounter": 1215,
    "Immunization": 161,
    "Location": 44,
    "MedicationRequest": 1745,
    "Organization": 43,
    "Patient": 13,
    "Practitioner": 43,
    "PractitionerRole": 43,
    "Procedure": 2056,
}


def connect(dbname):
    return psycopg.connect(
        host="127.0.0.1", port=PGPORT, user="postgres", dbname=dbname, autocommit=True
    )


@pytest.fixture
def db():
    """A fresh database with the extension, dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    with connect("postgres") as admin:
        admin.execute(f"CREATE DATABASE {name}")
    conn = connect(name)
    conn.execute("CREATE EXTENSION aidbox_bulk")
    yield conn
    conn.close()
    with connect("postgres") as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def s3():
    return boto3.client(
        "s3",
        endpoint_url=S3_URL,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )


@pytest.fixture
def bucket(s3):
    """A new, empty bucket name."""
    name = "b-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    return name


def upload_fixture(s3, bucket, prefix=""):
    for path in sorted(FIXTURE.iterdir()):
        s3.upload_file(str(path), bucket, prefix + path.name)


def put_lines(s3, bucket, key, lines, gz=True):
    body = "".join(line + "\n" for line in lines).encode()
    if gz:
        body = gzip.compress(body)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def fixture_lines(name):
    with gzip.open(FIXTURE / name, "rt") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def account(secret=S3_SECRET):
    return {
        "access-key-id": S3_KEY,
        "secret-access-key": secret,
        "region": "us-east-1",
        "host": S3_URL,
    }


def load(conn, bucket, **params):
    body = {"bucket": f"s3://{bucket}", "account": account(), **params}
    return conn.execute(
        "SELECT aidbox_bulk.load_from_bucket(%s::jsonb)", [json.dumps(body)]
    ).fetchone()[0]


def status(conn, bucket):
    return conn.execute(
        "SELECT aidbox_bulk.load_from_bucket_status(%s::jsonb)",
        [json.dumps({"bucket": f"s3://{bucket}"})],
    ).fetchone()[0]


def wait_done(conn, bucket, timeout=120):
    """Polls the status call until the job is no longer in progress, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        st = status(conn, bucket)
        if st["state"] != "in-progress":
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"still in progress after {timeout} s: {st}")
        time.sleep(0.1)


def loader_files(conn, bucket):
    rows = conn.execute(
        "SELECT resource FROM loaderfile WHERE resource->>'bucket' = %s ORDER BY resource->>'file'",
        [f"s3://{bucket}"],
    ).fetchall()
    return {r[0]["file"]: r[0] for r in rows}


def count(conn, table):
    return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


RUN_DIR = Path(os.environ.get("AIDBOX_BULK_RUN_DIR", "/tmp/aidbox_bulk"))
PG_BIN = "/usr/lib/postgresql/15/bin"


def s3_object_path(bucket, key):
    """Where s3s-fs keeps an object: its mtime is the object's LastModified."""
    return RUN_DIR / "s3" / bucket / key


def restart_postgres_immediately():
    """A crash, as far as the loader can tell: no shutdown checkpoint, workers killed."""
    import subprocess

    subprocess.run(
        ["sudo", "-u", "postgres", f"{PG_BIN}/pg_ctl", "-D", str(RUN_DIR / "pg"), "-m", "immediate",
         "-w", "-t", "120", "restart", "-l", str(RUN_DIR / "pg.log")],
        check=True,
        capture_output=True,
    )


def generate_lines(template_file, n, id_prefix):
    """n resources with the fixture's shapes and fresh ids."""
    templates = [json.loads(line) for line in fixture_lines(template_file)]
    out = []
    for i in range(n):
        r = dict(templates[i % len(templates)])
        r["id"] = f"{id_prefix}-{i}"
        out.append(json.dumps(r, separators=(",", ":")))
    return out


def wait_for(predicate, timeout=60, what="condition"):
    """Polls `predicate` until it returns a truthy value, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class StallingProxy:
    """A TCP proxy to the S3 server that passes every request through, except those
    whose request line contains `marker`: their connection is held open, silent."""

    def __init__(self, marker):
        import socket
        import threading

        self.marker = marker.encode()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.held = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        import socket
        import threading

        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", S3_PORT))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src, dst, from_client):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client and self.marker in data.split(b"\r\n", 1)[0]:
                    self.held.append((src, dst))
                    return  # stall: neither forwarded nor answered
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not any(src is h[0] for h in self.held):
                for s in (src, dst):
                    try:
                        s.shutdown(2)
                    except OSError:
                        pass

    def close(self):
        self.closed = True
        self.listener.close()
        for a, b in self.held:
            a.close()
            b.close()


@pytest.fixture
def stalling_proxy():
    proxies = []

    def make(marker):
        p = StallingProxy(marker)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


def load_via(conn, bucket, host, **params):
    body = {"bucket": f"s3://{bucket}", "account": {**account(), "host": host}, **params}
    return conn.execute("SELECT aidbox_bulk.load_from_bucket(%s::jsonb)", [json.dumps(body)]).fetchone()[0]


AIDBOX_DDL = """
DO $$ BEGIN
  CREATE TYPE resource_status AS ENUM ('created', 'updated', 'deleted', 'recreated');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE IF NOT EXISTS {t} (id text PRIMARY KEY, txid bigint NOT NULL, ts timestamptz DEFAULT now(),
  cts timestamptz DEFAULT now(), resource_type text, status resource_status NOT NULL, resource jsonb NOT NULL);
"""


def create_table(conn, table):
    conn.execute(AIDBOX_DDL.format(t=table))


def indexes_of(conn, table):
    return {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s", [table]
        ).fetchall()
    }
