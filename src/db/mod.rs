//! Everything the loader does through SPI: DDL, LoaderFile bookkeeping, job locks,
//! and the row sink.

pub mod direct_sink;
pub mod indexes;
pub mod job_lock;
pub mod loader_files;
pub mod row_sink;
pub mod schema;

use crate::error::{unpack_sqlstate, LoadError};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;
use pgrx::spi::SpiError;

/// A PostgreSQL error caught in Rust, in Aidbox's LoaderFile terms.
pub fn caught_to_load_error(e: CaughtError) -> LoadError {
    match e {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => LoadError::Postgres {
            sqlstate: unpack_sqlstate(r.sql_error_code() as i32),
            message: r.message().to_string(),
        },
        CaughtError::RustPanic { ereport, .. } => LoadError::Postgres {
            sqlstate: "XX000".into(),
            message: ereport.message().to_string(),
        },
    }
}

/// SPI's own errors (not PostgreSQL ERRORs, which unwind) as a loader error.
pub fn spi_error(e: SpiError) -> LoadError {
    LoadError::Postgres {
        sqlstate: "XX000".into(),
        message: format!("SPI: {e}"),
    }
}

/// The first column of every row of a query, non-null text values only.
pub fn select_strings(sql: &str, args: &[DatumWithOid]) -> crate::error::Result<Vec<String>> {
    Spi::connect(|client| {
        let rows = client.select(sql, None, args).map_err(spi_error)?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(v) = row.get::<String>(1).map_err(spi_error)? {
                out.push(v);
            }
        }
        Ok(out)
    })
}

/// Updates one Aidbox resource row (by id, `$1`) as an Aidbox update does: a new txid
/// and ts, status `updated`. `resource_expr` is the new `resource`; `$2…` are `args[1..]`.
pub fn update_resource(
    schema: &str,
    table: &str,
    resource_expr: &str,
    args: &[DatumWithOid],
) -> crate::error::Result<()> {
    let s = pgrx::spi::quote_identifier(schema);
    Spi::run_with_args(
        &format!(
            "UPDATE {s}.{t} SET resource = {resource_expr},
                    txid = nextval('{s}.transaction_id_seq'), ts = now(), status = 'updated'
              WHERE id = $1",
            t = pgrx::spi::quote_identifier(table),
        ),
        args,
    )
    .map_err(spi_error)
}

/// `clock_timestamp()` as Aidbox writes dateTimes (UTC, milliseconds).
pub const NOW_ISO: &str =
    "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
