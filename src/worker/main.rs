//! The worker's entry point: read the job, connect, hold the bucket's job lock,
//! then claim and load files until the queue is empty or a stop is requested.

use super::handoff;
use super::load_file::{load_claimed_file, FileOutcome, NextFile};
use crate::db::{job_lock, loader_files};
use crate::params::Params;
use pgrx::bgworkers::BackgroundWorker;
use pgrx::prelude::*;

/// Set by SIGTERM (pg_terminate_backend, shutdown); never reset.
pub fn stop_requested() -> bool {
    unsafe { pg_sys::ShutdownRequestPending != 0 }
}

/// SIGTERM: only flags the stop, and wakes the latch when it runs on the main
/// thread. (A foreign thread in the process may be the one the kernel picks; it
/// must not call into PostgreSQL, and the loading loop polls the flag anyway.)
unsafe extern "C-unwind" fn on_sigterm(_signal: std::ffi::c_int) {
    unsafe {
        let saved_errno = *libc::__errno_location();
        (&raw mut pg_sys::ShutdownRequestPending).write_volatile(1);
        if crate::threads::on_main_thread() {
            pg_sys::SetLatch(pg_sys::MyLatch);
        }
        *libc::__errno_location() = saved_errno;
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn aidbox_bulk_worker_main(arg: pg_sys::Datum) {
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(on_sigterm));
        pg_sys::BackgroundWorkerUnblockSignals();
    }
    let handle = arg.value() as u32;
    let Some(payload) = handoff::take(handle) else {
        log!("aidbox_bulk worker: the job's parameters are gone; exiting");
        return;
    };
    let mut ids = BackgroundWorker::get_extra()
        .split(' ')
        .map(|s| s.parse::<u32>().unwrap_or(0));
    let (db, role) = (ids.next().unwrap_or(0), ids.next().unwrap_or(0));
    BackgroundWorker::connect_worker_to_spi_by_oid(
        Some(pg_sys::Oid::from_u32(db)),
        Some(pg_sys::Oid::from_u32(role)),
    );
    let params = serde_json::from_slice(&payload)
        .ok()
        .and_then(|v| Params::parse(&v).ok());
    drop(payload);
    let Some(params) = params else {
        log!("aidbox_bulk worker: cannot read the job's parameters; exiting");
        return;
    };
    BackgroundWorker::transaction(|| job_lock::hold_for_worker(&params.bucket))
        .unwrap_or_else(|e| error!("aidbox_bulk worker: {e}"));
    let mut next: Option<NextFile> = None;
    while !stop_requested() {
        let (file, started) = match next.take() {
            Some(n) => (n.file.clone(), Some(n)),
            None => {
                let claimed = BackgroundWorker::transaction(|| {
                    loader_files::claim_next(&params.schema, &params.bucket, params.scheduler, None)
                });
                match claimed {
                    Ok(Some(file)) => (file, None),
                    Ok(None) => break,
                    Err(e) => error!("aidbox_bulk worker: cannot claim a file: {e}"),
                }
            }
        };
        let (outcome, after) = load_claimed_file(&params, &file, started);
        if outcome == FileOutcome::Interrupted {
            return;
        }
        next = after;
    }
    if !stop_requested() {
        if let Err(e) = super::restore::finish_job(&params) {
            log!(
                "aidbox_bulk worker: cannot finish the job of {}: {e}",
                params.bucket
            );
        }
    }
}
