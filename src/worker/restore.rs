//! The end of a job: the last worker restores the bucket's disabled indexes, each in
//! its own transaction, with `maintenance_work_mem` raised for the builds.

use super::transaction::run_in_transaction;
use crate::db::{indexes, job_lock, loader_files};
use crate::error::Result;
use crate::indexes::restore_statements;
use crate::params::Params;
use pgrx::prelude::*;
use std::time::Instant;

/// Memory for index builds in the restoring worker's session.
const RESTORE_MAINTENANCE_WORK_MEM: &str = "1GB";

/// Called by each worker when the queue is empty. Only the last one (nobody else
/// holds the job lock) restores, and only if no file is left unfinished: a stopped
/// job keeps its indexes disabled until it is resumed and ends.
pub fn finish_job(params: &Params) -> Result<()> {
    let last = run_in_transaction(|| {
        job_lock::release_worker(&params.bucket)?;
        job_lock::try_take_for_finish(&params.bucket)
    })?;
    if !last {
        return Ok(());
    }
    let (counts, disabled) = run_in_transaction(|| {
        Ok((
            loader_files::counts(&params.schema, &params.bucket)?,
            indexes::still_disabled(&params.schema, &params.bucket)?,
        ))
    })?;
    if counts.pending + counts.in_progress > 0 || disabled.is_empty() {
        return Ok(());
    }
    for (id, record) in disabled {
        let Some(statements) = restore_statements(&record) else {
            continue;
        };
        let started = Instant::now();
        let restored = run_in_transaction(|| {
            Spi::run(&format!(
                "SET LOCAL maintenance_work_mem = '{RESTORE_MAINTENANCE_WORK_MEM}'"
            ))
            .map_err(crate::db::spi_error)?;
            for sql in &statements {
                Spi::run(sql).map_err(crate::db::spi_error)?;
            }
            indexes::mark_restored(&params.schema, &id, started.elapsed().as_millis() as i64)
        });
        if let Err(e) = restored {
            run_in_transaction(|| indexes::mark_restore_failed(&params.schema, &id, &e.message()))?;
        }
    }
    Ok(())
}
