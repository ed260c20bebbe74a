//! `disable-idx?` / `drop-primary-key?`: record the target tables' indexes as
//! DisabledIndex resources and drop them (in the caller's transaction); restore them
//! when the job ends (in a worker).

use super::{spi_error, update_resource, NOW_ISO};
use crate::error::Result;
use crate::indexes::{disabled_index_id, disabled_record, IndexRow};
use pgrx::prelude::*;
use pgrx::spi::quote_identifier;
use pgrx::JsonB;
use serde_json::Value;

fn table(schema: &str) -> String {
    format!("{}.disabledindex", quote_identifier(schema))
}

fn seq(schema: &str) -> String {
    format!("{}.transaction_id_seq", quote_identifier(schema))
}

/// Disables the indexes of `tables`: secondary ones with `regular`, the primary
/// key with `primary_key`. Other constraint indexes (unique, exclusion) stay.
/// Returns how many were disabled.
pub fn disable(
    schema: &str,
    tables: &[String],
    bucket: &str,
    regular: bool,
    primary_key: bool,
) -> Result<usize> {
    if tables.is_empty() || !(regular || primary_key) {
        return Ok(0);
    }
    let found: Vec<(IndexRow, Option<String>)> = Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT i.schemaname::text, i.tablename::text, i.indexname::text, i.tablespace::text,
                        i.indexdef, c.contype::text
                   FROM pg_indexes i
                   JOIN pg_namespace n ON n.nspname = i.schemaname
                   JOIN pg_class ic ON ic.relname = i.indexname AND ic.relnamespace = n.oid
                   LEFT JOIN pg_constraint c ON c.conindid = ic.oid
                  WHERE i.schemaname = $1 AND i.tablename = ANY($2)
                  ORDER BY i.tablename, i.indexname",
                None,
                &[schema.into(), tables.to_vec().into()],
            )
            .map_err(spi_error)?;
        let mut out = Vec::new();
        for row in rows {
            let text = |i| row.get::<String>(i).map_err(spi_error);
            out.push((
                IndexRow {
                    schemaname: text(1)?.unwrap_or_default(),
                    tablename: text(2)?.unwrap_or_default(),
                    indexname: text(3)?.unwrap_or_default(),
                    tablespace: text(4)?,
                    indexdef: text(5)?.unwrap_or_default(),
                },
                text(6)?,
            ));
        }
        Ok::<_, crate::error::LoadError>(out)
    })?;
    let mut disabled = 0;
    for (index, constraint) in found {
        let is_pk = constraint.as_deref() == Some("p");
        let drop_sql = match constraint.as_deref() {
            Some("p") if primary_key => format!(
                "ALTER TABLE {}.{} DROP CONSTRAINT {}",
                quote_identifier(&index.schemaname),
                quote_identifier(&index.tablename),
                quote_identifier(&index.indexname)
            ),
            None if regular => format!(
                "DROP INDEX {}.{}",
                quote_identifier(&index.schemaname),
                quote_identifier(&index.indexname)
            ),
            _ => continue,
        };
        record(
            schema,
            &disabled_index_id(&index),
            &disabled_record(&index, bucket, is_pk),
        )?;
        Spi::run(&drop_sql).map_err(spi_error)?;
        disabled += 1;
    }
    Ok(disabled)
}

fn record(schema: &str, id: &str, resource: &Value) -> Result<()> {
    Spi::run_with_args(
        &format!(
            "INSERT INTO {t} (id, txid, ts, cts, resource_type, status, resource)
             VALUES ($1, nextval('{seq}'), now(), now(), 'DisabledIndex', 'created', $2::jsonb)
             ON CONFLICT (id) DO UPDATE SET resource = excluded.resource, txid = excluded.txid,
                ts = excluded.ts, status = 'updated'",
            t = table(schema),
            seq = seq(schema)
        ),
        &[id.into(), resource.to_string().into()],
    )
    .map_err(spi_error)
}

/// DisabledIndex records of the bucket's jobs that are still `disabled`.
pub fn still_disabled(schema: &str, bucket: &str) -> Result<Vec<(String, Value)>> {
    if !super::schema::relation_exists(schema, "disabledindex")? {
        return Ok(Vec::new());
    }
    Spi::connect(|client| {
        let rows = client
            .select(
                &format!(
                    "SELECT id, resource FROM {} WHERE resource->>'bucket' = $1
                        AND resource->>'status' = 'disabled' ORDER BY id",
                    table(schema)
                ),
                None,
                &[bucket.into()],
            )
            .map_err(spi_error)?;
        let mut out = Vec::new();
        for row in rows {
            let id = row.get::<String>(1).map_err(spi_error)?.unwrap_or_default();
            let resource = row
                .get::<JsonB>(2)
                .map_err(spi_error)?
                .map(|j| j.0)
                .unwrap_or(Value::Null);
            out.push((id, resource));
        }
        Ok(out)
    })
}

/// Marks a DisabledIndex restored, with Aidbox's `restore {start, end, duration}`.
pub fn mark_restored(schema: &str, id: &str, duration_ms: i64) -> Result<()> {
    let start = NOW_ISO.replace(
        "clock_timestamp()",
        "(clock_timestamp() - make_interval(secs => $2 / 1000.0))",
    );
    update_resource(
        schema,
        "disabledindex",
        &format!(
            "(resource - 'message') || jsonb_build_object('status', 'restored',
               'restore', jsonb_build_object('start', {start}, 'end', {NOW_ISO}, 'duration', $2))"
        ),
        &[id.into(), duration_ms.into()],
    )
}

/// Keeps a DisabledIndex `disabled`, with why its restore failed.
pub fn mark_restore_failed(schema: &str, id: &str, message: &str) -> Result<()> {
    update_resource(
        schema,
        "disabledindex",
        "resource || jsonb_build_object('message', $2::text)",
        &[id.into(), message.into()],
    )
}
