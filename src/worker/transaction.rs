//! A worker transaction whose PostgreSQL errors come back as values: committed when
//! the body succeeds, rolled back whole when it fails.

use crate::db::caught_to_load_error;
use crate::error::Result;
use pgrx::prelude::*;

pub fn run_in_transaction<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    // The body's captures are dropped on the error path; nothing observes them after.
    let result = PgTryBuilder::new(std::panic::AssertUnwindSafe(body))
        .catch_others(|caught| Err(caught_to_load_error(caught)))
        .execute();
    unsafe {
        if result.is_ok() {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
        } else {
            pg_sys::AbortCurrentTransaction();
        }
    }
    result
}
