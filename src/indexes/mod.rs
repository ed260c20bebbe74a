//! DisabledIndex: an index (or the primary key) dropped for a load and restored
//! after it. The record is the `pg_indexes` row plus Aidbox's `status` / `restore`,
//! and a non-Aidbox `bucket` naming the job that disabled it.

use serde_json::{json, Value};

/// One `pg_indexes` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    pub schemaname: String,
    pub tablename: String,
    pub indexname: String,
    pub tablespace: Option<String>,
    pub indexdef: String,
}

/// The spec's id: `<schemaname>.<indexname>`, so disabling twice is idempotent.
pub fn disabled_index_id(row: &IndexRow) -> String {
    format!("{}.{}", row.schemaname, row.indexname)
}

/// The `resource` of a newly disabled index.
pub fn disabled_record(row: &IndexRow, bucket: &str, primary_key: bool) -> Value {
    let mut r = json!({
        "schemaname": row.schemaname,
        "tablename": row.tablename,
        "indexname": row.indexname,
        "indexdef": row.indexdef,
        "status": "disabled",
        "bucket": bucket,
    });
    if let Some(ts) = &row.tablespace {
        r["tablespace"] = json!(ts);
    }
    if primary_key {
        r["primary-key"] = json!(true);
    }
    r
}

/// The statements that bring a disabled index back, in one transaction. A primary
/// key is rebuilt as its unique index first, then attached as the constraint.
pub fn restore_statements(record: &Value) -> Option<Vec<String>> {
    let indexdef = record.get("indexdef")?.as_str()?.to_string();
    let mut stmts = vec![indexdef];
    if record.get("primary-key").and_then(Value::as_bool) == Some(true) {
        let schema = quote_ident(record.get("schemaname")?.as_str()?);
        let table = quote_ident(record.get("tablename")?.as_str()?);
        let index = quote_ident(record.get("indexname")?.as_str()?);
        stmts.push(format!(
            "ALTER TABLE {schema}.{table} ADD CONSTRAINT {index} PRIMARY KEY USING INDEX {index}"
        ));
    }
    Some(stmts)
}

/// Always-quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkey() -> IndexRow {
        IndexRow {
            schemaname: "public".into(),
            tablename: "patient".into(),
            indexname: "patient_pkey".into(),
            tablespace: None,
            indexdef: "CREATE UNIQUE INDEX patient_pkey ON public.patient USING btree (id)".into(),
        }
    }

    #[test]
    fn records_are_pg_indexes_rows() {
        let r = disabled_record(&pkey(), "s3://b", true);
        assert_eq!(disabled_index_id(&pkey()), "public.patient_pkey");
        assert_eq!(r["status"], "disabled");
        assert_eq!(r["indexdef"], pkey().indexdef);
        assert!(r.get("tablespace").is_none());
        assert_eq!(r["primary-key"], true);
    }

    #[test]
    fn a_primary_key_is_restored_as_index_then_constraint() {
        let stmts = restore_statements(&disabled_record(&pkey(), "s3://b", true)).unwrap();
        assert_eq!(
            stmts,
            vec![
                pkey().indexdef,
                "ALTER TABLE \"public\".\"patient\" ADD CONSTRAINT \"patient_pkey\" PRIMARY KEY USING INDEX \"patient_pkey\""
                    .to_string()
            ]
        );
        let mut gin = pkey();
        gin.indexname = "patient_resource_gin".into();
        gin.indexdef =
            "CREATE INDEX patient_resource_gin ON public.patient USING gin (resource)".into();
        assert_eq!(
            restore_statements(&disabled_record(&gin, "s3://b", false)).unwrap(),
            vec![gin.indexdef]
        );
    }
}
