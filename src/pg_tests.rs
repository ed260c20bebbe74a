//! Tests that need a backend: DDL, LoaderFile bookkeeping, claim order, job locks,
//! and the SQL functions' errors. Run by `cargo pgrx test` (`make pgtest`).

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use crate::bucket::listing::ObjectInfo;
    use crate::bucket::naming::TypeSet;
    use crate::db::{job_lock, loader_files, schema};
    use crate::error::LoadError;
    use crate::fhir::FHIR_R4_RESOURCE_TYPES;
    use crate::params::Scheduler;
    use pgrx::prelude::*;

    fn object(key: &str, size: i64, modified: &str) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size,
            last_modified: modified.into(),
        }
    }

    fn columns(table: &str) -> String {
        Spi::get_one_with_args::<String>(
            "SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
               FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
            &[table.into()],
        )
        .unwrap()
        .unwrap()
    }

    #[pg_test]
    fn tables_are_created_with_the_aidbox_layout() {
        schema::ensure_base("public").unwrap();
        schema::ensure_resource_tables("public", ["MedicationRequest"]).unwrap();
        let layout =
            "id:text,txid:bigint,ts:timestamp with time zone,cts:timestamp with time zone,\
                      resource_type:text,status:resource_status,resource:jsonb";
        for t in [
            "medicationrequest",
            "medicationrequest_history",
            "loaderfile",
            "disabledindex",
        ] {
            assert_eq!(columns(t), layout, "{t}");
        }
        let pk =
            Spi::get_one::<String>("SELECT pg_get_indexdef('medicationrequest_pkey'::regclass)")
                .unwrap()
                .unwrap();
        assert_eq!(pk, "CREATE UNIQUE INDEX medicationrequest_pkey ON public.medicationrequest USING btree (id)");
        assert!(
            Spi::get_one::<i64>("SELECT nextval('transaction_id_seq')")
                .unwrap()
                .unwrap()
                >= 1
        );
        // Idempotent.
        schema::ensure_base("public").unwrap();
        schema::ensure_resource_tables("public", ["MedicationRequest"]).unwrap();
    }

    #[pg_test]
    fn custom_resource_tables_are_known_types() {
        schema::ensure_base("public").unwrap();
        schema::ensure_resource_tables("public", ["Patient"]).unwrap();
        Spi::run(
            "CREATE TABLE mything (id text primary key, txid bigint not null, ts timestamptz, cts timestamptz,
               resource_type text, status resource_status not null, resource jsonb not null);
             CREATE TABLE notaresource (id text, resource jsonb);",
        )
        .unwrap();
        let mut tables = schema::aidbox_layout_tables("public").unwrap();
        tables.sort();
        assert_eq!(tables, vec!["mything".to_string(), "patient".to_string()]);
        let types = TypeSet::new(FHIR_R4_RESOURCE_TYPES, tables);
        assert_eq!(
            types.resource_type_of("x/MyThing.01.ndjson").as_deref(),
            Some("MyThing")
        );
        assert_eq!(types.resource_type_of("NotAResource.ndjson"), None);
    }

    #[pg_test]
    fn files_are_claimed_largest_first_or_oldest_first() {
        schema::ensure_base("public").unwrap();
        let small = object("a/Patient.1.ndjson", 10, "2026-01-03T00:00:00Z");
        let big = object("b/Patient.2.ndjson", 500, "2026-01-02T00:00:00Z");
        let old = object("c/Patient.3.ndjson", 20, "2026-01-01T00:00:00Z");
        let files = [
            (&small, "Patient".to_string()),
            (&big, "Patient".to_string()),
            (&old, "Patient".to_string()),
        ];
        loader_files::insert_pending("public", "s3://one", &files).unwrap();
        loader_files::insert_pending("public", "s3://two", &files).unwrap();

        let claim = |bucket, s| {
            loader_files::claim_next("public", bucket, s, None)
                .unwrap()
                .map(|f| f.key)
        };
        let optimal: Vec<_> =
            std::iter::from_fn(|| claim("s3://one", Scheduler::Optimal)).collect();
        assert_eq!(
            optimal,
            vec![big.key.clone(), old.key.clone(), small.key.clone()]
        );
        let by_time: Vec<_> =
            std::iter::from_fn(|| claim("s3://two", Scheduler::ByLastModified)).collect();
        assert_eq!(
            by_time,
            vec![old.key.clone(), big.key.clone(), small.key.clone()]
        );

        let c = loader_files::counts("public", "s3://one").unwrap();
        assert_eq!((c.pending, c.in_progress, c.total()), (0, 3, 3));
        loader_files::requeue_in_progress("public", "s3://one").unwrap();
        let c = loader_files::counts("public", "s3://one").unwrap();
        assert_eq!((c.pending, c.in_progress), (3, 0));
        assert_eq!(
            loader_files::known_keys("public", "s3://one")
                .unwrap()
                .len(),
            3
        );
    }

    #[pg_test]
    fn optimal_puts_types_other_workers_load_last() {
        schema::ensure_base("public").unwrap();
        let big = object("Patient.big.ndjson", 100, "2026-01-01T00:00:00Z");
        let mid = object("Patient.mid.ndjson", 50, "2026-01-01T00:00:00Z");
        let small = object("Device.small.ndjson", 10, "2026-01-01T00:00:00Z");
        let files = [
            (&big, "Patient".to_string()),
            (&mid, "Patient".to_string()),
            (&small, "Device".to_string()),
        ];
        for bucket in ["s3://two-workers", "s3://one-worker"] {
            loader_files::insert_pending("public", bucket, &files).unwrap();
        }
        let claim = |bucket, current: Option<&str>| {
            loader_files::claim_next("public", bucket, Scheduler::Optimal, current)
                .unwrap()
                .unwrap()
        };
        // Another worker loads the big Patient file: Device comes before the other Patient.
        let first = claim("s3://two-workers", None);
        assert_eq!(first.key, big.key);
        assert_eq!(claim("s3://two-workers", None).key, small.key);
        assert_eq!(claim("s3://two-workers", None).key, mid.key);
        // The worker's own current file does not count: largest first.
        let first = claim("s3://one-worker", None);
        assert_eq!(first.key, big.key);
        assert_eq!(claim("s3://one-worker", Some(&first.id)).key, mid.key);
    }

    #[pg_test]
    fn final_states_carry_aidbox_fields() {
        schema::ensure_base("public").unwrap();
        let f = object("Patient.ndjson", 1, "2026-01-01T00:00:00Z");
        loader_files::insert_pending("public", "s3://b", &[(&f, "Patient".to_string())]).unwrap();
        let claimed = loader_files::claim_next("public", "s3://b", Scheduler::Optimal, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (claimed.key.as_str(), claimed.resource_type.as_str()),
            ("Patient.ndjson", "Patient")
        );
        loader_files::mark_done("public", &claimed.id, 42).unwrap();
        let done = Spi::get_one::<pgrx::JsonB>("SELECT resource FROM loaderfile")
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(done["status"], "done");
        assert_eq!(done["loaded"], 42);
        assert!(done["start"].is_string() && done["end"].is_string());

        let err = LoadError::Postgres {
            sqlstate: "23505".into(),
            message: "duplicate key value violates unique constraint \"patient_pkey\"".into(),
        };
        loader_files::mark_failed("public", &claimed.id, &err).unwrap();
        let failed = Spi::get_one::<pgrx::JsonB>("SELECT resource FROM loaderfile")
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(failed["status"], "error");
        assert_eq!(
            failed["error"],
            serde_json::json!({"source": "postgres", "code": "23505"})
        );
        assert_eq!(
            failed["message"],
            "23505: ERROR: duplicate key value violates unique constraint \"patient_pkey\""
        );
        assert!(failed.get("loaded").is_none());
    }

    #[pg_test]
    fn the_call_takes_the_bucket_job_lock() {
        assert_eq!(job_lock::holders("s3://locked").unwrap(), 0);
        assert!(job_lock::try_lock_for_call("s3://locked").unwrap());
        assert_eq!(job_lock::holders("s3://locked").unwrap(), 1);
        assert_eq!(job_lock::holders("s3://other").unwrap(), 0);
    }

    /// jsonb_in's own bytes for a JSON text.
    fn postgres_jsonb(text: &str) -> Vec<u8> {
        let c = std::ffi::CString::new(text).unwrap();
        unsafe {
            let d = pgrx::fcinfo::direct_function_call_as_datum(
                pg_sys::jsonb_in,
                &[Some(pg_sys::Datum::from(c.as_ptr()))],
            )
            .unwrap();
            let p = d.cast_mut_ptr::<u8>();
            let len = (u32::from_le_bytes(*(p as *const [u8; 4])) >> 2) as usize;
            std::slice::from_raw_parts(p, len).to_vec()
        }
    }

    fn assert_same_jsonb(text: &str) {
        let ours = crate::jsonb::encode(
            &crate::json::parse(text, &crate::json::Bump::new()).unwrap(),
            true,
        )
        .unwrap();
        assert!(ours == postgres_jsonb(text), "jsonb differs for {text}");
    }

    #[pg_test]
    fn jsonb_is_byte_identical_to_jsonb_in_for_every_fixture_resource() {
        let converter = crate::fhir::Converter::default();
        let lines = crate::fixture::resource_lines();
        assert_eq!(lines.len(), 7160);
        for (rt, line) in &lines {
            assert_same_jsonb(line);
            let arena = crate::json::Bump::new();
            let crate::json::Json::Object(mut value) = crate::json::parse(line, &arena).unwrap()
            else {
                panic!("not an object")
            };
            converter.to_aidbox(rt, &mut value);
            assert_same_jsonb(&crate::json::Json::Object(value).to_serde().to_string());
        }
    }

    #[pg_test]
    fn jsonb_is_byte_identical_to_jsonb_in_for_edge_cases() {
        let many_keys: String = (0..100)
            .map(|i| format!("\"k{i}\": {i}"))
            .collect::<Vec<_>>()
            .join(",");
        let many_items: String = (0..70)
            .map(|i| format!("\"{}\"", "x".repeat(i)))
            .collect::<Vec<_>>()
            .join(",");
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        for text in [
            "{}",
            "[]",
            "{\"a\": {}, \"b\": [], \"c\": [{}], \"d\": null}",
            "\"scalar\"",
            "42",
            "true",
            "null",
            "{\"dup\": 1, \"dup\": 2, \"x\": {\"dup\": [1], \"dup\": \"last\"}}",
            "{\"esc\": \"\\u00e9\\u4e2d\\ud83d\\ude00 \\n\\t\\\"\\\\ \\/\", \"utf8\": \"é中😀\"}",
            "[0, -0, 1, -1, 1.0, 1.50, -0.001, 123456789012345678901234567890.123456789, 1e5, 1E-5, 2.5e+3, -7e-10, 1e300, 1e-300, 0.000, 9999, 10000, 99999999]",
            "{\"b\": 1, \"a\": 2, \"aa\": 3, \"B\": 4, \"\": 5, \"é\": 6}",
            "[true, false, null, \"\", 1.5, [1, [2, [3]]], {\"n\": {\"m\": {}}}]",
            &format!("{{{many_keys}}}"),
            &format!("[{many_items}]"),
            &deep,
        ] {
            assert_same_jsonb(text);
        }
    }

    fn row(id: &str, json: &str) -> crate::load::row::Row {
        crate::load::row::Row {
            id: id.into(),
            jsonb: crate::jsonb::encode(
                &crate::json::parse(json, &crate::json::Bump::new()).unwrap(),
                true,
            )
            .unwrap(),
        }
    }

    #[pg_test]
    fn the_direct_sink_writes_heap_and_indexes_like_insert() {
        use crate::db::direct_sink::DirectSink;
        schema::ensure_base("public").unwrap();
        schema::ensure_resource_tables("public", ["Patient", "Device"]).unwrap();
        Spi::run("CREATE INDEX patient_gin ON patient USING gin (resource)").unwrap();
        let mut sink = DirectSink::open("public", "Patient")
            .unwrap()
            .expect("patient qualifies");
        sink.insert(&[row("a", r#"{"active": true}"#), row("b", r#"{"n": 1.50}"#)])
            .unwrap();
        sink.insert(&[row("c", "{}")]).unwrap();
        sink.finish();
        Spi::run("SET LOCAL enable_seqscan = off").unwrap();
        let found = Spi::get_one::<String>(
            "SELECT string_agg(id || '=' || resource::text || ':' || resource_type || ':' || status::text, ' ' ORDER BY id)
               FROM patient WHERE id IN ('a', 'b', 'c')",
        )
        .unwrap()
        .unwrap();
        assert_eq!(found, "a={\"active\": true}:Patient:created b={\"n\": 1.50}:Patient:created c={}:Patient:created");
        let by_gin = Spi::get_one::<i64>(
            "SELECT count(*) FROM patient WHERE resource @> '{\"active\": true}'",
        )
        .unwrap();
        assert_eq!(by_gin, Some(1));
        let same_ts =
            Spi::get_one::<bool>("SELECT bool_and(ts = now() AND cts = now()) FROM patient")
                .unwrap();
        assert_eq!(same_ts, Some(true));
        let txids = Spi::get_one::<i64>("SELECT count(DISTINCT txid) FROM patient").unwrap();
        assert_eq!(txids, Some(3));

        // Tables it cannot serve exactly go through SQL instead.
        Spi::run(
            "CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
             CREATE TRIGGER t BEFORE INSERT ON device FOR EACH ROW EXECUTE FUNCTION noop();",
        )
        .unwrap();
        assert!(DirectSink::open("public", "Device").unwrap().is_none());
        Spi::run("CREATE TABLE mything (id text, extra int)").unwrap();
        assert!(DirectSink::open("public", "MyThing").unwrap().is_none());
    }

    #[pg_test]
    fn pglz_datums_built_off_the_main_thread_read_back_as_postgres_own() {
        use crate::db::direct_sink::DirectSink;
        use crate::load::row::compress_like_toast;
        schema::ensure_base("public").unwrap();
        schema::ensure_resource_tables("public", ["Patient", "Device"]).unwrap();
        let mut sink = DirectSink::open("public", "Patient").unwrap().unwrap();
        assert!(sink.compresses_with_pglz, "pglz is the default method");
        let mut rows = Vec::new();
        let mut texts = Vec::new();
        // Every fixture resource (a few over the threshold), plus one far over it (kept
        // compressed, then moved out of line by the toaster).
        let lines = crate::fixture::resource_lines();
        let names: Vec<String> = (0..20_000)
            .map(|i| format!(r#"{{"text":"n{i}"}}"#))
            .collect();
        let huge = format!(r#"{{"id":"huge","name":[{}]}}"#, names.join(","));
        for (i, (_, line)) in lines
            .iter()
            .map(|(t, l)| (t, l.as_str()))
            .chain([(&"Patient".to_string(), huge.as_str())])
            .enumerate()
        {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let mut r = row(&format!("r{i}"), line);
            compress_like_toast(&mut r, "Patient");
            texts.push(value);
            rows.push(r);
        }
        let compressed = rows.iter().filter(|r| r.jsonb[0] & 0x03 == 0x02).count();
        assert!(compressed >= 100, "{compressed}");
        for chunk in rows.chunks(1000) {
            sink.insert(chunk).unwrap();
        }
        sink.finish();
        let methods = Spi::get_one::<String>(
            "SELECT string_agg(DISTINCT coalesce(pg_column_compression(resource), 'none'), ',') FROM patient",
        )
        .unwrap()
        .unwrap();
        assert_eq!(methods, "none,pglz");
        Spi::connect(|client| {
            let found = client
                .select(
                    "SELECT id, resource::text FROM patient ORDER BY substr(id, 2)::int",
                    None,
                    &[],
                )
                .unwrap();
            let mut n = 0;
            for (r, expected) in found.zip(&texts) {
                let text = r.get::<String>(2).unwrap().unwrap();
                let stored: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    &stored,
                    expected,
                    "{}",
                    r.get::<String>(1).unwrap().unwrap()
                );
                n += 1;
            }
            assert_eq!(n, texts.len());
        });
        let outside = Spi::get_one::<bool>(
            "SELECT pg_column_size(resource) < 100000 AND pg_total_relation_size(reltoastrelid) > 8192
               FROM patient, pg_class WHERE id = 'r7160' AND relname = 'patient'",
        )
        .unwrap();
        assert_eq!(outside, Some(true));

        // A column set to lz4 is left to the backend.
        Spi::run("ALTER TABLE device ALTER COLUMN resource SET COMPRESSION lz4").unwrap();
        let device = DirectSink::open("public", "Device").unwrap().unwrap();
        assert!(!device.compresses_with_pglz);
        device.finish();
    }

    #[pg_test(error = "duplicate key value violates unique constraint \"patient_pkey\"")]
    fn the_direct_sink_enforces_the_primary_key() {
        schema::ensure_base("public").unwrap();
        schema::ensure_resource_tables("public", ["Patient"]).unwrap();
        let mut sink = crate::db::direct_sink::DirectSink::open("public", "Patient")
            .unwrap()
            .unwrap();
        sink.insert(&[row("a", "{}"), row("a", "{}")]).unwrap();
    }

    #[pg_test(error = "No imports for bucket <s3://nothing-here>")]
    fn status_of_an_unknown_bucket_is_an_error() {
        Spi::run(
            "SELECT aidbox_bulk.load_from_bucket_status('{\"bucket\": \"s3://nothing-here\"}')",
        )
        .unwrap();
    }

    #[pg_test(
        error = "\"upsert?\" cannot be combined with \"drop-primary-key?\": an upsert needs the primary key"
    )]
    fn upsert_with_drop_primary_key_is_refused() {
        Spi::run(
            "SELECT aidbox_bulk.load_from_bucket('{\"bucket\": \"s3://b\", \"upsert?\": true, \"drop-primary-key?\": true}')",
        )
        .unwrap();
    }
}
