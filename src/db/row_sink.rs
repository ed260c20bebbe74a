//! Writes a file's rows into its resource table, in the file's transaction.
//!
//! Plain mode inserts each batch straight away (a duplicate id fails the file with
//! 23505). With `upsert?` the batches are staged in a temporary table and merged
//! once at the end with ON CONFLICT DO UPDATE, so a duplicate id *inside* the file
//! fails it too (21000), as Aidbox documents.

use super::direct_sink::DirectSink;
use super::spi_error;
use crate::bucket::naming::table_name;
use crate::error::Result;
use crate::load::row::Row;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{quote_identifier, quote_literal};
use pgrx::PgMemoryContexts;

const STAGE: &str = "pg_temp.aidbox_bulk_stage";

/// Where a file's rows go: the direct heap path when the table allows it, SQL otherwise.
pub enum RowSink {
    Direct(DirectSink),
    Sql(SqlSink),
}

impl RowSink {
    /// Chooses the path for one file; runs in the file's transaction.
    pub fn open(schema: &str, resource_type: &str, upsert: bool) -> Result<RowSink> {
        if !upsert && crate::guc::DIRECT_INSERT.get() {
            if let Some(direct) = DirectSink::open(schema, resource_type)? {
                return Ok(RowSink::Direct(direct));
            }
        }
        Ok(RowSink::Sql(SqlSink::new(schema, resource_type, upsert)))
    }

    /// What `open(...).takes_compressed()` would say, for a file not yet opened.
    pub fn would_take_compressed(schema: &str, resource_type: &str, upsert: bool) -> Result<bool> {
        if upsert || !crate::guc::DIRECT_INSERT.get() {
            return Ok(false);
        }
        DirectSink::compresses_with_pglz(schema, resource_type)
    }

    /// Whether rows may carry pglz-compressed resources (only the heap path: SQL
    /// arrays must hold plain values).
    pub fn takes_compressed(&self) -> bool {
        matches!(self, RowSink::Direct(d) if d.compresses_with_pglz)
    }

    /// Inserts a batch; gives it back when it was only read (to be freed elsewhere).
    pub fn insert(&mut self, rows: Vec<Row>) -> Result<Option<Vec<Row>>> {
        match self {
            RowSink::Direct(d) => d.insert(&rows).map(|()| Some(rows)),
            RowSink::Sql(s) => s.insert(rows).map(|()| None),
        }
    }

    pub fn finish(self) -> Result<()> {
        match self {
            RowSink::Direct(d) => {
                d.finish();
                Ok(())
            }
            RowSink::Sql(s) => s.finish(),
        }
    }
}

/// The SQL path: `INSERT … SELECT FROM unnest($1::text[], $2::jsonb[])` per batch.
pub struct SqlSink {
    /// Statement run per batch, with $1 = ids, $2 = resources.
    batch_sql: String,
    /// Statement run once at the end (the upsert merge).
    finish_sql: Option<String>,
    staged: bool,
}

impl SqlSink {
    /// Rows of `resource_type` into `schema.lower(type)`: one txid per row, `ts` and
    /// `cts` the transaction time, status `created` (`updated` on an upsert overwrite,
    /// which keeps `cts`).
    pub fn new(schema: &str, resource_type: &str, upsert: bool) -> SqlSink {
        let s = quote_identifier(schema);
        let columns = format!(
            "nextval({seq}), now(), now(), {rt}, 'created'",
            seq = quote_literal(format!("{s}.transaction_id_seq")),
            rt = quote_literal(resource_type),
        );
        let target = format!(
            "{s}.{t} (id, txid, ts, cts, resource_type, status, resource)",
            t = quote_identifier(table_name(resource_type))
        );
        if upsert {
            SqlSink {
                batch_sql: format!(
                    "INSERT INTO {STAGE} SELECT * FROM unnest($1::text[], $2::jsonb[])"
                ),
                finish_sql: Some(format!(
                    "INSERT INTO {target}
                     SELECT r.id, {columns}, r.resource FROM {STAGE} r
                     ON CONFLICT (id) DO UPDATE SET txid = excluded.txid, ts = excluded.ts,
                        resource_type = excluded.resource_type, status = 'updated',
                        resource = excluded.resource"
                )),
                staged: false,
            }
        } else {
            SqlSink {
                batch_sql: format!(
                    "INSERT INTO {target}
                     SELECT r.id, {columns}, r.resource
                       FROM unnest($1::text[], $2::jsonb[]) AS r(id, resource)"
                ),
                finish_sql: None,
                staged: false,
            }
        }
    }

    pub fn insert(&mut self, rows: Vec<Row>) -> Result<()> {
        if self.finish_sql.is_some() && !self.staged {
            Spi::run("CREATE TEMP TABLE IF NOT EXISTS aidbox_bulk_stage (id text, resource jsonb) ON COMMIT DROP")
                .map_err(spi_error)?;
            self.staged = true;
        }
        // Everything this batch allocates lives in its own context, freed right after,
        // so memory stays flat however long the file is.
        let mut batch_context = PgMemoryContexts::new("aidbox_bulk batch");
        unsafe {
            batch_context.switch_to(|_| {
                let (ids, datums): (Vec<String>, Vec<Vec<u8>>) =
                    rows.into_iter().map(|r| (r.id, r.jsonb)).unzip();
                let resources = jsonb_array(&datums);
                Spi::run_with_args(&self.batch_sql, &[ids.into(), resources]).map_err(spi_error)
            })
        }
    }

    /// Ends the file: merges the staged rows (upsert mode).
    pub fn finish(self) -> Result<()> {
        match (&self.finish_sql, self.staged) {
            (Some(sql), true) => Spi::run(sql).map_err(spi_error),
            _ => Ok(()),
        }
    }
}

/// A `jsonb[]` of finished jsonb datums (built by the parsing thread), without any
/// JSON parsing here. Allocated in the current memory context.
fn jsonb_array(datums: &[Vec<u8>]) -> DatumWithOid<'static> {
    unsafe {
        let mut elements: Vec<pg_sys::Datum> = datums
            .iter()
            .map(|bytes| {
                let p = pg_sys::palloc(bytes.len()) as *mut u8;
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
                pg_sys::Datum::from(p)
            })
            .collect();
        let array = pg_sys::construct_array(
            elements.as_mut_ptr(),
            elements.len() as i32,
            pg_sys::JSONBOID,
            -1,
            false,
            pg_sys::TYPALIGN_INT as std::ffi::c_char,
        );
        DatumWithOid::new(pg_sys::Datum::from(array), pg_sys::JSONBARRAYOID)
    }
}
