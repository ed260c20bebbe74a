//! Starts a job's dynamic background workers from the calling backend.

use super::handoff;
use pgrx::bgworkers::{BackgroundWorkerBuilder, BgWorkerStartTime};
use pgrx::pg_sys;

pub const WORKER_TYPE: &str = "aidbox_bulk worker";

/// Starts up to `count` workers for the job described by `params_json`; returns how
/// many started (fewer when `max_worker_processes` has no free slot left).
pub fn launch_workers(params_json: &str, bucket: &str, count: u32) -> u32 {
    let handle = handoff::publish(params_json.as_bytes(), count);
    let (db, role, pid) = unsafe { (pg_sys::MyDatabaseId, pg_sys::GetUserId(), pg_sys::MyProcPid) };
    let extra = format!("{} {}", db.to_u32(), role.to_u32());
    let mut started = 0;
    for i in 0..count {
        let registered =
            BackgroundWorkerBuilder::new(&format!("aidbox_bulk worker {} for {bucket}", i + 1))
                .set_type(WORKER_TYPE)
                .set_library("aidbox_bulk")
                .set_function("aidbox_bulk_worker_main")
                .set_argument(Some(pg_sys::Datum::from(handle)))
                .set_extra(&extra)
                .enable_spi_access()
                .set_start_time(BgWorkerStartTime::RecoveryFinished)
                .set_restart_time(None)
                .set_notify_pid(pid)
                .load_dynamic();
        match registered {
            Ok(worker) => {
                // A worker that stopped before we saw it start may still have read
                // the handoff, so only never-registered workers forfeit their share.
                if worker.wait_for_startup().is_ok() {
                    started += 1;
                }
            }
            Err(_) => handoff::forfeit(handle),
        }
    }
    started
}
