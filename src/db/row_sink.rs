//! Writes a batch of rows into a resource table, in the current transaction.

use super::spi_error;
use crate::bucket::naming::table_name;
use crate::error::Result;
use crate::load::row::Row;
use pgrx::prelude::*;
use pgrx::spi::quote_identifier;

pub struct RowSink {
    sql: String,
}

impl RowSink {
    /// Rows of `resource_type` into `schema.lower(type)`: one txid per row, `ts` and
    /// `cts` the transaction time, status `created`.
    pub fn new(schema: &str, resource_type: &str) -> RowSink {
        let s = quote_identifier(schema);
        let sql = format!(
            "INSERT INTO {s}.{t} (id, txid, ts, cts, resource_type, status, resource)
             SELECT r.id, nextval('{seq}'), now(), now(), {rt}, 'created', r.resource::jsonb
               FROM unnest($1::text[], $2::text[]) AS r(id, resource)",
            t = quote_identifier(table_name(resource_type)),
            seq = format!("{s}.transaction_id_seq").replace('\'', "''"),
            rt = pgrx::spi::quote_literal(resource_type),
        );
        RowSink { sql }
    }

    pub fn insert(&self, rows: Vec<Row>) -> Result<()> {
        let (ids, resources): (Vec<String>, Vec<String>) =
            rows.into_iter().map(|r| (r.id, r.resource)).unzip();
        Spi::run_with_args(&self.sql, &[ids.into(), resources.into()]).map_err(spi_error)
    }
}
