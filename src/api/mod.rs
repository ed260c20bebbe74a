//! The SQL functions of schema `aidbox_bulk`.

mod load_from_bucket;
mod status;
mod to_fhir;

use crate::error::{pack_sqlstate, ErrorSource, LoadError};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// Raises a call-time error as a PostgreSQL ERROR with the error's SQLSTATE.
pub(crate) fn raise(err: LoadError, function: &'static str) -> ! {
    let text = match err.source() {
        ErrorSource::Aws => err.message(),
        _ => err.to_string(),
    };
    let code = PgSqlErrorCode::from(pack_sqlstate(err.sqlstate()));
    ErrorReport::new(code, text, function).report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}
