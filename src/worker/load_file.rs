//! Loads one claimed file in one transaction: rows and the final LoaderFile state
//! commit together, or nothing does.

use super::main::stop_requested;
use super::transaction::run_in_transaction;
use crate::db::loader_files;
use crate::db::loader_files::ClaimedFile;
use crate::db::row_sink::RowSink;
use crate::error::{LoadError, Result};
use crate::load::pipeline::{self, FileJob, Message};
use crate::params::Params;
use pgrx::bgworkers::BackgroundWorker;
use pgrx::prelude::*;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// How often the main thread looks at interrupts while it waits for rows.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, PartialEq, Eq)]
pub enum FileOutcome {
    Done,
    Failed,
    /// A stop was requested: the file stays `in-progress` and is loaded again on resume.
    Interrupted,
}

pub fn load_claimed_file(params: &Params, file: &ClaimedFile) -> FileOutcome {
    let job = FileJob {
        bucket_name: params.bucket_name.clone(),
        key: file.key.clone(),
        resource_type: file.resource_type.clone(),
        converter: params.converter(),
        parse_threads: pipeline::parse_threads(params.thread_num),
        settings: params.client_settings(),
        compress: false,
    };
    match in_file_transaction(params, file, job) {
        Ok(()) => FileOutcome::Done,
        Err(LoadError::Interrupted) => FileOutcome::Interrupted,
        Err(err) => {
            BackgroundWorker::transaction(|| {
                loader_files::mark_failed(&params.schema, &file.id, &err)
            })
            .unwrap_or_else(|e| error!("aidbox_bulk worker: cannot record a failure: {e}"));
            FileOutcome::Failed
        }
    }
}

/// Runs the file's transaction; on any error it is rolled back whole. The sink is
/// chosen first: it tells the reading threads whether to compress for it.
fn in_file_transaction(params: &Params, file: &ClaimedFile, mut job: FileJob) -> Result<()> {
    run_in_transaction(|| {
        // A lost commit only means the file is loaded again: its LoaderFile commits with it.
        Spi::run("SET LOCAL synchronous_commit = off").map_err(crate::db::spi_error)?;
        let sink = RowSink::open(&params.schema, &file.resource_type, params.upsert)?;
        job.compress = sink.takes_compressed();
        let rows = pipeline::start(job.clone())?;
        let loaded = insert_all(sink, &rows)?;
        loader_files::mark_done(&params.schema, &file.id, loaded as i64)
    })
}

fn insert_all(mut sink: RowSink, rows: &Receiver<Message>) -> Result<u64> {
    loop {
        if stop_requested() {
            return Err(LoadError::Interrupted);
        }
        pg_sys::check_for_interrupts!();
        match rows.recv_timeout(POLL) {
            Ok(Message::Rows(batch)) => sink.insert(batch)?,
            Ok(Message::End { rows, .. }) => {
                sink.finish()?;
                return Ok(rows);
            }
            Ok(Message::Failed(e)) => return Err(e),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(LoadError::Decode(
                    "the reader thread stopped unexpectedly".into(),
                ))
            }
        }
    }
}
