//! `aidbox_bulk.load_from_bucket(params jsonb)`: validate, list, queue, start the
//! workers, return at once.

use super::raise;
use crate::bucket::client::{build_client, runtime};
use crate::bucket::listing::{list_objects, ObjectInfo};
use crate::bucket::naming::{table_name, TypeSet};
use crate::db::{indexes, job_lock, loader_files, schema};
use crate::error::{LoadError, Result};
use crate::fhir::FHIR_R4_RESOURCE_TYPES;
use crate::params::Params;
use crate::threads::spawn_quiet;
use crate::worker::launch::launch_workers;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::{Duration, Instant};

#[pg_extern(volatile, parallel_unsafe)]
fn load_from_bucket(params: JsonB) -> JsonB {
    match start_job(&params.0) {
        Ok(v) => JsonB(v),
        Err(e) => raise(e, "load_from_bucket"),
    }
}

fn start_job(raw: &Value) -> Result<Value> {
    let params = Params::parse(raw)?;
    if !job_lock::try_lock_for_call(&params.bucket)? {
        return Err(LoadError::JobRunning(params.bucket.clone()));
    }
    schema::ensure_base(&params.schema)?;
    let objects = list_bucket(&params)?;
    let types = TypeSet::new(
        FHIR_R4_RESOURCE_TYPES,
        schema::aidbox_layout_tables(&params.schema)?,
    );
    let known = loader_files::known_keys(&params.schema, &params.bucket)?;
    let new_files: Vec<(&ObjectInfo, String)> = objects
        .iter()
        .filter(|o| !known.contains(&o.key))
        .filter_map(|o| types.resource_type_of(&o.key).map(|t| (o, t)))
        .collect();
    let new_types: BTreeSet<&str> = new_files.iter().map(|(_, t)| t.as_str()).collect();
    schema::ensure_resource_tables(&params.schema, new_types)?;
    loader_files::insert_pending(&params.schema, &params.bucket, &new_files)?;
    loader_files::requeue_in_progress(&params.schema, &params.bucket)?;
    let counts = loader_files::counts(&params.schema, &params.bucket)?;
    let queued = counts.pending as u32;
    let target_tables: Vec<String> = loader_files::pending_types(&params.schema, &params.bucket)?
        .iter()
        .map(|t| table_name(t))
        .collect();
    let disabled_now = indexes::disable(
        &params.schema,
        &target_tables,
        &params.bucket,
        params.disable_idx,
        params.drop_primary_key,
    )?;
    // A crashed job's disabled indexes are restored when this job ends, even with no files.
    let restores_waiting = !indexes::still_disabled(&params.schema, &params.bucket)?.is_empty();
    let mut result = json!({
        "message": format!(
            "Upload from bucket <{}> started. {} new files added.",
            params.bucket,
            new_files.len()
        ),
        "progress": {"total": counts.total()},
        "new-files-count": new_files.len(),
    });
    if disabled_now > 0 {
        result["disabled-indexes"] = json!(disabled_now);
    }
    if queued > 0 || restores_waiting {
        let wanted = params.thread_num.min(queued).max(1);
        let started = launch_workers(&raw.to_string(), &params.bucket, wanted);
        if started == 0 {
            return Err(LoadError::InvalidParams(
                "no background worker could be started: max_worker_processes has no free slot"
                    .into(),
            ));
        }
        if started < wanted {
            pgrx::notice!(
                "aidbox_bulk: {started} of {wanted} workers started; max_worker_processes has no more free slots"
            );
        }
        result["workers"] = json!(started);
        result["thread-num"] = json!(params.thread_num);
        wait_until_workers_queue(&params.bucket);
    }
    Ok(result)
}

/// Lists the bucket on a helper thread (with its own runtime), keeping the backend
/// responsive to cancel requests meanwhile.
fn list_bucket(params: &Params) -> Result<Vec<ObjectInfo>> {
    let settings = params.client_settings();
    let (bucket, prefixes) = (params.bucket_name.clone(), params.prefixes.clone());
    let (tx, rx) = channel();
    spawn_quiet("aidbox_bulk-list", move || {
        let listed = runtime().and_then(|rt| {
            rt.block_on(async {
                let client = build_client(&settings).await;
                list_objects(&client, &settings, &bucket, &prefixes).await
            })
        });
        let _ = tx.send(listed);
    })
    .map_err(|e| LoadError::Aws {
        code: "ThreadError".into(),
        message: e.to_string(),
    })?;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(listed) => return listed,
            Err(RecvTimeoutError::Timeout) => {
                pg_sys::check_for_interrupts!();
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(LoadError::Aws {
                    code: "ListError".into(),
                    message: "the listing thread stopped unexpectedly".into(),
                })
            }
        }
    }
}

/// Waits (briefly) until a worker queues on the job lock, so that the status call
/// says `in-progress` from the moment this call commits.
fn wait_until_workers_queue(bucket: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        // Our own transaction holds one lock; a worker adds another.
        if job_lock::holders(bucket).unwrap_or(0) > 1 {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
        pg_sys::check_for_interrupts!();
    }
}
