#!/usr/bin/env python3
"""Benchmark: load_from_bucket against PostgreSQL COPY of the same rows, in one run,
one cluster, same settings, same table layout.

usage: make bench            (or: python3 bench/bench.py [--mb 1000] [--objects 48] [--big-mb 1024])

1. Generates resources from the Synthea fixture's shapes with fresh ids (--mb MB of NDJSON,
   gzipped, in --objects objects, one type each) into the local S3 server, plus one object
   of --big-mb MB (uncompressed) for the memory check.
2. Measures, each on empty tables after a CHECKPOINT:
   (a) COPY of the same rows, already converted, from server-side files: the baseline;
       also two COPY sessions in parallel;
   (b) load_from_bucket with thread-num 1, 2, 4;
   (c) with a GIN index on every table: COPY into the indexed tables, against
       load_from_bucket with disable-idx? (index rebuild included);
   and the peak private memory (RssAnon) of the workers, including on the big object.
3. Checks the loaded tables equal the COPY ones (md5 over id and resource).
Prints a Markdown table for BENCHMARKS.md.
"""
import argparse
import gzip
import io
import json
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from conftest import FIXTURE, S3_URL, account, connect, fixture_lines  # noqa: E402

import boto3  # noqa: E402

RUN_DIR = Path(os.environ.get("AIDBOX_BULK_RUN_DIR", "/tmp/aidbox_bulk"))
BUCKET = "bench"
BIG_BUCKET = "bench-big"


def s3_client():
    return boto3.client(
        "s3",
        endpoint_url=S3_URL,
        aws_access_key_id=os.environ.get("AIDBOX_BULK_S3_KEY", "aidbox-bulk-key"),
        aws_secret_access_key=os.environ.get("AIDBOX_BULK_S3_SECRET", "aidbox-bulk-secret"),
        region_name="us-east-1",
    )


def templates():
    out = {}
    for path in sorted(FIXTURE.iterdir()):
        rt = path.name.split(".")[0]
        if rt == "log":
            continue
        out[rt] = [json.loads(line) for line in fixture_lines(path.name)]
    return out


def make_object(rt, shapes, target_bytes, tag):
    """NDJSON of one type with fresh ids, about target_bytes long; returns (gz bytes, n, raw bytes)."""
    raw = io.BytesIO()
    gz = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1)
    written = n = 0
    while written < target_bytes:
        r = dict(shapes[n % len(shapes)])
        r["id"] = f"{tag}-{n}"
        line = (json.dumps(r, separators=(",", ":")) + "\n").encode()
        gz.write(line)
        written += len(line)
        n += 1
    gz.close()
    return raw.getvalue(), n, written


def generate(s3, mb, objects, big_mb):
    shapes = templates()
    types = sorted(shapes)
    for b in (BUCKET, BIG_BUCKET):
        try:
            s3.create_bucket(Bucket=b)
        except Exception:
            pass
    total = raw_total = 0
    per_object = mb * 1_000_000 // objects
    for i in range(objects):
        rt = types[i % len(types)]
        body, n, raw = make_object(rt, shapes[rt], per_object, f"g{i}")
        s3.put_object(Bucket=BUCKET, Key=f"gen/{rt}.{i:04}.ndjson.gz", Body=body)
        total += n
        raw_total += raw
    big = None
    if big_mb:
        body, n, raw = make_object("Encounter", shapes["Encounter"], big_mb * 1_000_000, "big")
        s3.put_object(Bucket=BIG_BUCKET, Key="Encounter.big.ndjson.gz", Body=body)
        big = (n, raw, len(body))
    return total, raw_total, big


def sql(conn, q, args=None):
    return conn.execute(q, args).fetchall()


def tables(conn):
    return [r[0] for r in sql(conn, "SELECT lower(resource->>'type') FROM loaderfile GROUP BY 1 ORDER BY 1")]


def reset(conn, tbls, bucket=BUCKET):
    for t in tbls:
        conn.execute(f"TRUNCATE {t}")
    conn.execute("DELETE FROM loaderfile WHERE resource->>'bucket' = %s", [f"s3://{bucket}"])
    conn.execute("DELETE FROM disabledindex")
    conn.execute("CHECKPOINT")


class RssSampler:
    """Samples RssAnon of every aidbox_bulk worker while a load runs."""

    def __init__(self, dbname):
        self.conn = connect(dbname)
        self.peak_kb = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            for (pid,) in sql(self.conn, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'aidbox_bulk worker'"):
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("RssAnon:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    pass
            time.sleep(0.05)

    def finish(self):
        self.stop = True
        self.thread.join()
        self.conn.close()
        return self.peak_kb / 1024


def timed_load(conn, dbname, bucket, **params):
    body = {"bucket": f"s3://{bucket}", "account": account(), **params}
    sampler = RssSampler(dbname)
    start = time.monotonic()
    conn.execute("SELECT aidbox_bulk.load_from_bucket(%s::jsonb)", [json.dumps(body)])
    while True:
        st = sql(conn, "SELECT aidbox_bulk.load_from_bucket_status(%s::jsonb)", [json.dumps({"bucket": f"s3://{bucket}"})])[0][0]
        if st["state"] != "in-progress":
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    peak = sampler.finish()
    assert st["state"] == "completed" and st["error"] == 0, st
    return elapsed, st["loaded"], peak


def copy_in(dbname, files):
    """COPY each (table, file) in one session; returns seconds."""
    with connect(dbname) as c:
        start = time.monotonic()
        for t, f in files:
            c.execute(f"COPY {t} (id, txid, ts, cts, resource_type, status, resource) FROM '{f}'")
        return time.monotonic() - start


def checksum(conn, tbls):
    return {
        t: sql(conn, f"SELECT md5(string_agg(id || ':' || resource::text, ',' ORDER BY id)) FROM {t}")[0][0]
        for t in tbls
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1000)
    ap.add_argument("--objects", type=int, default=48)
    ap.add_argument("--big-mb", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3, help="runs per path, interleaved; the median is reported")
    ap.add_argument("--paths", default="copy,copy2,t1,t2,t4,sql,gin", help="which paths to measure")
    args = ap.parse_args()
    paths = set(args.paths.split(","))

    s3 = s3_client()
    t0 = time.monotonic()
    n, raw, big = generate(s3, args.mb, args.objects, args.big_mb)
    print(f"generated {n} resources, {raw / 1e6:.0f} MB NDJSON in {args.objects} objects ({time.monotonic() - t0:.0f} s)", flush=True)

    dbname = "bench_" + uuid.uuid4().hex[:8]
    with connect("postgres") as admin:
        admin.execute(f"CREATE DATABASE {dbname}")
    conn = connect(dbname)
    conn.execute("CREATE EXTENSION aidbox_bulk")
    results = []

    # First load creates the tables and gives the converted rows to COPY.
    secs, loaded, peak = timed_load(conn, dbname, BUCKET, **{"thread-num": 2})
    assert loaded == n, (loaded, n)
    tbls = tables(conn)
    expected = checksum(conn, tbls)
    dump = RUN_DIR / "bench"
    dump.mkdir(exist_ok=True)
    os.system(f"chown postgres {dump}")
    files, halves = [], ([], [])
    for t in tbls:
        f = dump / f"{t}.copy"
        conn.execute(f"COPY (SELECT id, txid, ts, cts, resource_type, status, resource FROM {t}) TO '{f}'")
        files.append((t, f))
        for k in (0, 1):
            h = dump / f"{t}.{k}.copy"
            conn.execute(
                f"COPY (SELECT id, txid, ts, cts, resource_type, status, resource FROM {t} WHERE hashtext(id) & 1 = {k}) TO '{h}'"
            )
            halves[k].append((t, h))
    mb = raw / 1e6

    def row(name, secs, peak=None, base=None):
        rate = n / secs
        results.append((name, rate, mb / secs, (rate / base) if base else None, peak))
        print(f"{name}: {secs:.1f} s, {rate:.0f} rows/s", flush=True)
        return rate

    sizes = {}

    def total_size():
        return sum(sql(conn, "SELECT pg_total_relation_size(%s::regclass)", [t])[0][0] for t in tbls)

    def copy_one():
        reset(conn, tbls)
        secs = copy_in(dbname, files)
        assert checksum(conn, tbls) == expected
        sizes["copy"] = total_size()
        return secs, None

    def copy_two():
        reset(conn, tbls)
        start = time.monotonic()
        workers = [threading.Thread(target=copy_in, args=(dbname, halves[k])) for k in (0, 1)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return time.monotonic() - start, None

    def load(threads, sql_insert=False):
        def run():
            if sql_insert:
                conn.execute(f"ALTER DATABASE {dbname} SET aidbox_bulk.direct_insert = off")
            reset(conn, tbls)
            secs, loaded, peak = timed_load(conn, dbname, BUCKET, **{"thread-num": threads})
            if sql_insert:
                conn.execute(f"ALTER DATABASE {dbname} RESET aidbox_bulk.direct_insert")
            assert loaded == n
            assert checksum(conn, tbls) == expected, "loaded tables differ from COPY's"
            sizes[f"t{threads}"] = total_size()
            return secs, peak

        return run

    # Each selected path runs --repeat times, interleaved (round-robin), so that the disk's
    # slow and fast minutes fall on every path alike; the median of the runs is reported.
    plan = [
        ("copy", "(a) COPY, one session", copy_one, None),
        ("copy2", "(a) COPY, two sessions in parallel", copy_two, "copy"),
        ("t1", "(b) load_from_bucket, thread-num 1", load(1), "copy"),
        ("t2", "(b) load_from_bucket, thread-num 2", load(2), "copy"),
        ("t4", "(b) load_from_bucket, thread-num 4", load(4), "copy"),
        ("sql", "(b) thread-num 1 through SQL INSERT (aidbox_bulk.direct_insert = off)", load(1, True), "copy"),
    ]
    plan = [p for p in plan if p[0] in paths]
    times = {key: [] for key, *_ in plan}
    peaks = {key: 0 for key, *_ in plan}
    for rep in range(args.repeat):
        for key, name, fn, _ in plan:
            secs, peak = fn()
            times[key].append(secs)
            peaks[key] = max(peaks[key], peak or 0)
            print(f"  run {rep + 1}: {name}: {secs:.1f} s, {n / secs:.0f} rows/s", flush=True)
    rates = {}
    for key, name, _, base in plan:
        secs = statistics.median(times[key])
        rates[key] = n / secs
        row(name, secs, peaks[key] if key.startswith(("t", "sql")) else None, rates.get(base))
    if "t2" in rates and "copy2" in rates:
        results.append(("(b) thread-num 2 vs two COPY sessions", None, None, rates["t2"] / rates["copy2"], None))

    if "copy" in sizes and "t1" in sizes:
        print(f"tables' size on disk: COPY {sizes['copy'] / 1e6:.0f} MB, load_from_bucket {sizes['t1'] / 1e6:.0f} MB", flush=True)

    if "gin" in paths:
        for t in tbls:
            conn.execute(f"CREATE INDEX {t}_resource_gin ON {t} USING gin (resource)")
        reset(conn, tbls)
        gin_copy = row("(c) COPY into tables with a GIN index", copy_in(dbname, files))
        reset(conn, tbls)
        secs, loaded, peak = timed_load(conn, dbname, BUCKET, **{"thread-num": 2, "disable-idx?": True})
        row("(c) load_from_bucket, disable-idx?, thread-num 2 (GIN rebuilt)", secs, peak, base=gin_copy)
        assert all(f"{t}_resource_gin" in [r[0] for r in sql(conn, "SELECT indexname FROM pg_indexes WHERE tablename = %s", [t])] for t in tbls)
        for t in tbls:
            conn.execute(f"DROP INDEX {t}_resource_gin")

    big_line = None
    if big:
        bn, braw, bgz = big
        reset(conn, tbls, BIG_BUCKET)
        secs, loaded, peak = timed_load(conn, dbname, BIG_BUCKET, **{"thread-num": 1})
        assert loaded == bn
        big_line = f"one object of {braw / 1e6:.0f} MB NDJSON ({bgz / 1e6:.0f} MB gzipped, {bn} resources), thread-num 1: {secs:.1f} s, {bn / secs:.0f} rows/s, worker peak RssAnon {peak:.0f} MB"
        print(big_line, flush=True)

    print()
    print(f"Data: {n} resources, {mb:.0f} MB NDJSON ({args.objects} gzipped objects, 13 Synthea types, fresh ids).")
    print()
    print("| path | rows/s | MB/s | ratio | worker peak RssAnon |")
    print("|---|---:|---:|---:|---:|")
    for name, rate, mbs, ratio, peak in results:
        print(
            f"| {name} | {'' if rate is None else f'{rate:,.0f}'} | {'' if mbs is None else f'{mbs:.1f}'} | "
            f"{'' if ratio is None else f'{ratio:.2f}x'} | {'' if peak is None else f'{peak:.0f} MB'} |"
        )
    if big_line:
        print()
        print(f"Big object: {big_line}.")
    conn.close()
    with connect("postgres") as admin:
        admin.execute(f"DROP DATABASE {dbname} WITH (FORCE)")


if __name__ == "__main__":
    main()
