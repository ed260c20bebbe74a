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
use std::sync::mpsc::RecvTimeoutError;
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

/// A claimed file whose stream already runs: claimed in the previous file's
/// transaction (and committed with it) when that file's last line was read, so the
/// reading and parsing threads never wait for the backend between files.
pub struct NextFile {
    pub file: ClaimedFile,
    stream: Stream,
}

/// A running file stream and whether it compresses for the direct sink.
struct Stream {
    compressed: bool,
    pipeline: pipeline::Stream,
}

fn start_stream(params: &Params, file: &ClaimedFile, compress: bool) -> Result<Stream> {
    let pipeline = pipeline::start(FileJob {
        bucket_name: params.bucket_name.clone(),
        key: file.key.clone(),
        resource_type: file.resource_type.clone(),
        converter: params.converter(),
        parse_threads: pipeline::parse_threads(params.thread_num),
        settings: params.client_settings(),
        compress,
    })?;
    Ok(Stream {
        compressed: compress,
        pipeline,
    })
}

/// Loads `file` (with its stream if it was started ahead); returns the outcome and
/// the next file, already claimed and streaming, when there is one.
pub fn load_claimed_file(
    params: &Params,
    file: &ClaimedFile,
    started: Option<NextFile>,
) -> (FileOutcome, Option<NextFile>) {
    match in_file_transaction(params, file, started.map(|n| n.stream)) {
        Ok(next) => (FileOutcome::Done, next),
        Err(LoadError::Interrupted) => (FileOutcome::Interrupted, None),
        Err(err) => {
            BackgroundWorker::transaction(|| {
                loader_files::mark_failed(&params.schema, &file.id, &err)
            })
            .unwrap_or_else(|e| error!("aidbox_bulk worker: cannot record a failure: {e}"));
            (FileOutcome::Failed, None)
        }
    }
}

/// Runs the file's transaction; on any error it is rolled back whole, with the claim
/// of the next file (whose stream is then dropped). The sink is chosen first: it
/// tells the reading threads whether to compress for it.
fn in_file_transaction(
    params: &Params,
    file: &ClaimedFile,
    started: Option<Stream>,
) -> Result<Option<NextFile>> {
    run_in_transaction(|| {
        // A lost commit only means the file is loaded again: its LoaderFile commits with it.
        Spi::run("SET LOCAL synchronous_commit = off").map_err(crate::db::spi_error)?;
        let sink = RowSink::open(&params.schema, &file.resource_type, params.upsert)?;
        let stream = match started {
            // Compressed rows only suit the direct sink (the table may have changed since).
            Some(s) if !s.compressed || sink.takes_compressed() => s,
            _ => start_stream(params, file, sink.takes_compressed())?,
        };
        let (loaded, next) = insert_all(params, file, sink, &stream.pipeline)?;
        loader_files::mark_done(&params.schema, &file.id, loaded as i64)?;
        Ok(next)
    })
}

/// Claims the next file in the current transaction and starts its stream.
fn claim_ahead(params: &Params, current: &ClaimedFile) -> Result<Option<NextFile>> {
    if stop_requested() {
        return Ok(None);
    }
    let claimed = loader_files::claim_next(
        &params.schema,
        &params.bucket,
        params.scheduler,
        Some(&current.id),
    )?;
    let Some(file) = claimed else {
        return Ok(None);
    };
    let compress =
        RowSink::would_take_compressed(&params.schema, &file.resource_type, params.upsert)?;
    let stream = start_stream(params, &file, compress)?;
    Ok(Some(NextFile { file, stream }))
}

fn insert_all(
    params: &Params,
    file: &ClaimedFile,
    mut sink: RowSink,
    stream: &pipeline::Stream,
) -> Result<(u64, Option<NextFile>)> {
    let mut next = None;
    loop {
        if stop_requested() {
            return Err(LoadError::Interrupted);
        }
        pg_sys::check_for_interrupts!();
        match stream.rows.recv_timeout(POLL) {
            Ok(Message::Rows(batch)) => {
                if let Some(spent) = sink.insert(batch)? {
                    // Freed here only when the reading thread is behind.
                    let _ = stream.spent.try_send(spent);
                }
            }
            // The next file starts streaming while this one's last batches are
            // parsed, inserted and committed: its first batch is then ready when
            // its transaction starts.
            Ok(Message::Read) => next = claim_ahead(params, file)?,
            Ok(Message::End { rows, .. }) => {
                sink.finish()?;
                return Ok((rows, next));
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
