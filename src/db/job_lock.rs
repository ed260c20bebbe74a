//! The bucket job's advisory lock: taken by the caller for its transaction, held
//! shared by every worker, looked up by the status call.

use super::spi_error;
use crate::error::Result;
use crate::job::lock_key;
use pgrx::prelude::*;

/// Runs `SELECT <function>($1, $2)` on the bucket's lock key; a void function gives false.
fn lock_call(function: &str, bucket: &str) -> Result<bool> {
    let (a, b) = lock_key(bucket);
    Spi::get_one_with_args::<bool>(
        &format!("SELECT {function}($1, $2)::text = 'true'"),
        &[a.into(), b.into()],
    )
    .map_err(spi_error)
    .map(|v| v.unwrap_or(false))
}

/// False when a job for the bucket is running (a worker holds the lock shared).
pub fn try_lock_for_call(bucket: &str) -> Result<bool> {
    lock_call("pg_try_advisory_xact_lock", bucket)
}

/// Session-level shared lock of a worker; waits for the caller's transaction.
pub fn hold_for_worker(bucket: &str) -> Result<()> {
    lock_call("pg_advisory_lock_shared", bucket).map(|_| ())
}

/// A worker gives up its share of the job lock.
pub fn release_worker(bucket: &str) -> Result<()> {
    lock_call("pg_advisory_unlock_shared", bucket).map(|_| ())
}

/// True for the one worker that may end the job: nobody else holds the lock.
/// It keeps the lock exclusively while it restores indexes (status: in-progress).
pub fn try_take_for_finish(bucket: &str) -> Result<bool> {
    lock_call("pg_try_advisory_lock", bucket)
}

/// Backends holding or waiting for the bucket's lock (the caller and its workers).
pub fn holders(bucket: &str) -> Result<i64> {
    let (a, b) = lock_key(bucket);
    Spi::get_one_with_args::<i64>(
        "SELECT count(*) FROM pg_locks
          WHERE locktype = 'advisory' AND objsubid = 2
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND classid = $1::bigint::oid AND objid = $2::bigint::oid",
        &[(a as i64).into(), (b as i64).into()],
    )
    .map_err(spi_error)
    .map(|v| v.unwrap_or(0))
}
