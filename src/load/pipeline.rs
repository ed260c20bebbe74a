//! The off-main-thread half of loading one file: S3 GET → gunzip → lines → rows,
//! handed to the main thread in bounded batches, so memory stays bounded whatever
//! the object's size.

use super::lines::Lines;
use super::row::{encode_line, Row};
use crate::bucket::client::{build_client, runtime, ClientSettings};
use crate::bucket::object_reader::ObjectReader;
use crate::error::{LoadError, Result};
use crate::fhir::Converter;
use crate::threads::spawn_quiet;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Batches are cut at whichever limit comes first.
pub const BATCH_ROWS: usize = 1000;
pub const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Batches in flight between the parser and the main thread.
pub const CHANNEL_BATCHES: usize = 2;

#[derive(Debug, Clone)]
pub struct FileJob {
    pub bucket_name: String,
    pub key: String,
    pub resource_type: String,
    /// None stores lines as they are (`format: aidbox`).
    pub converter: Option<Converter>,
    pub settings: ClientSettings,
}

#[derive(Debug)]
pub enum Message {
    Rows(Vec<Row>),
    /// The whole object was read; `rows` were sent in all.
    End {
        rows: u64,
        bytes: u64,
    },
    Failed(LoadError),
}

/// Starts the parser thread for `job`. Dropping the receiver stops it.
pub fn start(job: FileJob) -> Result<Receiver<Message>> {
    let (tx, rx) = sync_channel(CHANNEL_BATCHES);
    spawn_quiet("aidbox_bulk-file", move || {
        if let Err(e) = stream_file(&job, &tx) {
            let _ = tx.send(Message::Failed(e));
        }
    })
    .map_err(|e| LoadError::Aws {
        code: "ThreadError".into(),
        message: format!("cannot start the reader thread: {e}"),
    })?;
    Ok(rx)
}

/// Signals that the receiver is gone: stop quietly.
#[derive(Debug)]
struct Hangup;

fn stream_file(job: &FileJob, tx: &SyncSender<Message>) -> Result<()> {
    let runtime = runtime()?;
    let client = runtime.block_on(build_client(&job.settings));
    let reader = ObjectReader::open(runtime, &client, &job.settings, &job.bucket_name, &job.key)?;
    let mut lines = Lines::new(reader)?;
    let sent = encode_all(job, &mut lines, |batch| {
        tx.send(Message::Rows(batch)).map_err(|_| Hangup)
    })?;
    if let Ok(rows) = sent {
        let _ = tx.send(Message::End {
            rows,
            bytes: lines.bytes,
        });
    }
    Ok(())
}

/// Encodes every line, calling `emit` per batch. Ok(Err(Hangup)) when the consumer left.
fn encode_all(
    job: &FileJob,
    lines: &mut Lines,
    mut emit: impl FnMut(Vec<Row>) -> std::result::Result<(), Hangup>,
) -> Result<std::result::Result<u64, Hangup>> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut batch_bytes = 0usize;
    let mut total = 0u64;
    while let Some(line_no) = lines.next_line(&mut buf)? {
        let row = encode_line(&buf, line_no, &job.resource_type, job.converter.as_ref())?;
        batch_bytes += row.jsonb.len() + row.id.len();
        batch.push(row);
        total += 1;
        if batch.len() >= BATCH_ROWS || batch_bytes >= BATCH_BYTES {
            if let Err(h) = emit(std::mem::replace(
                &mut batch,
                Vec::with_capacity(BATCH_ROWS),
            )) {
                return Ok(Err(h));
            }
            batch_bytes = 0;
        }
    }
    if !batch.is_empty() {
        if let Err(h) = emit(batch) {
            return Ok(Err(h));
        }
    }
    Ok(Ok(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn job() -> FileJob {
        FileJob {
            bucket_name: "b".into(),
            key: "Patient.ndjson".into(),
            resource_type: "Patient".into(),
            converter: Some(Converter::default()),
            settings: ClientSettings::default(),
        }
    }

    #[test]
    fn rows_come_in_bounded_batches() {
        let text: String = (0..2500)
            .map(|i| format!("{{\"id\":\"p{i}\"}}\n"))
            .collect();
        let mut lines = Lines::new(Cursor::new(text.into_bytes())).unwrap();
        let mut sizes = Vec::new();
        let total = encode_all(&job(), &mut lines, |b| {
            sizes.push(b.len());
            Ok(())
        })
        .unwrap()
        .ok()
        .unwrap();
        assert_eq!(total, 2500);
        assert_eq!(sizes, vec![1000, 1000, 500]);
    }

    #[test]
    fn a_bad_line_fails_the_file_with_its_number() {
        let text = "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\n{oops\n";
        let mut lines = Lines::new(Cursor::new(text.as_bytes().to_vec())).unwrap();
        let err = encode_all(&job(), &mut lines, |_| Ok(())).unwrap_err();
        assert!(
            matches!(err, LoadError::InvalidJson { line: 4, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_gone_consumer_stops_the_reader() {
        let text: String = (0..5000)
            .map(|i| format!("{{\"id\":\"p{i}\"}}\n"))
            .collect();
        let mut lines = Lines::new(Cursor::new(text.into_bytes())).unwrap();
        let mut calls = 0;
        let result = encode_all(&job(), &mut lines, |_| {
            calls += 1;
            Err(Hangup)
        })
        .unwrap();
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }
}
