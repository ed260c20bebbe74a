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
