//! Everything the loader does through SPI: DDL, LoaderFile bookkeeping, job locks,
//! and the row sink.

pub mod indexes;
pub mod job_lock;
pub mod loader_files;
pub mod row_sink;
pub mod schema;

use crate::error::{unpack_sqlstate, LoadError};
use pgrx::pg_sys::panic::CaughtError;
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
