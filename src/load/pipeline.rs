//! The off-main-thread half of loading one file: S3 GET → gunzip → lines → rows,
//! handed to the main thread in bounded batches, so memory stays bounded whatever
//! the object's size.

use super::lines::Lines;
use super::row::{compress_like_toast, encode_line, Row};
use crate::bucket::client::{build_client, runtime, ClientSettings};
use crate::bucket::object_reader::ObjectReader;
use crate::error::{LoadError, Result};
use crate::fhir::Converter;
use crate::threads::spawn_quiet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

/// Batches are cut at whichever limit comes first.
pub const BATCH_ROWS: usize = 1000;
pub const BATCH_BYTES: usize = 2 * 1024 * 1024;
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
    /// Threads parsing this file's batches.
    pub parse_threads: usize,
    /// Compress large resources with pglz here (the sink takes compressed datums).
    pub compress: bool,
}

#[derive(Debug)]
pub enum Message {
    Rows(Vec<Row>),
    /// Every line has been read: only the batches being parsed are still to come.
    /// The consumer can start on its next file now, while it inserts them.
    Read,
    /// The whole object was read; `rows` were sent in all.
    End {
        rows: u64,
        bytes: u64,
    },
    Failed(LoadError),
}

/// A file's stream as its consumer sees it.
pub struct Stream {
    pub rows: Receiver<Message>,
    /// Batches the consumer is done with go back, to be freed by the reading
    /// thread instead of the consumer (the backend's main thread). Bounded: when
    /// it is full the consumer frees the batch itself.
    pub spent: SyncSender<Vec<Row>>,
}

/// Starts the reading thread for `job`. Dropping the stream stops it.
pub fn start(job: FileJob) -> Result<Stream> {
    let (tx, rx) = sync_channel(CHANNEL_BATCHES);
    let (spent_tx, spent_rx) = sync_channel(CHANNEL_BATCHES);
    spawn_quiet("aidbox_bulk-file", move || {
        if let Err(e) = stream_file(&job, &tx, &spent_rx) {
            let _ = tx.send(Message::Failed(e));
        }
    })
    .map_err(|e| LoadError::Aws {
        code: "ThreadError".into(),
        message: format!("cannot start the reader thread: {e}"),
    })?;
    Ok(Stream {
        rows: rx,
        spent: spent_tx,
    })
}

/// Parsing threads per file: JSON parsing, conversion and jsonb encoding are the
/// costly part, so a file's batches are spread over the cores the job's other
/// workers leave free (one worker on 2 cores: 2 parsers; 2 workers: 1 each).
pub fn parse_threads(workers: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / workers.max(1) as usize).clamp(1, 4)
}

/// Lines of the object, as read, before parsing: one buffer and where each line is.
struct RawBatch {
    data: Vec<u8>,
    /// (line number, start, end) in `data`.
    lines: Vec<(u64, usize, usize)>,
}

/// Fills `batch` (emptied first, its buffers kept) with the next lines; false at
/// the end of the object.
fn next_raw_batch(lines: &mut Lines, batch: &mut RawBatch) -> Result<bool> {
    batch.data.clear();
    batch.lines.clear();
    while batch.lines.len() < BATCH_ROWS && batch.data.len() < BATCH_BYTES {
        let start = batch.data.len();
        match lines.next_line(&mut batch.data)? {
            Some(line_no) => batch.lines.push((line_no, start, batch.data.len())),
            None => break,
        }
    }
    Ok(!batch.lines.is_empty())
}

fn encode_batch(job: &FileJob, raw: &RawBatch) -> Result<Vec<Row>> {
    raw.lines
        .iter()
        .map(|(line_no, start, end)| {
            let mut row = encode_line(
                &raw.data[*start..*end],
                *line_no,
                &job.resource_type,
                job.converter.as_ref(),
            )?;
            if job.compress {
                compress_like_toast(&mut row, &job.resource_type);
            }
            Ok(row)
        })
        .collect()
}

fn stream_file(job: &FileJob, tx: &SyncSender<Message>, spent: &Receiver<Vec<Row>>) -> Result<()> {
    let runtime = runtime()?;
    let client = runtime.block_on(build_client(&job.settings));
    let reader = ObjectReader::open(runtime, &client, &job.settings, &job.bucket_name, &job.key)?;
    let mut lines = Lines::new(reader)?;
    if let Some(rows) = encode_all(job, &mut lines, job.parse_threads, tx, spent)? {
        let _ = tx.send(Message::End {
            rows,
            bytes: lines.bytes,
        });
    }
    Ok(())
}

/// Reads every line on this thread and encodes the batches on `parsers` threads,
/// sending row batches to `tx`. Returns the rows sent, or None when the consumer
/// left or a parser reported a failure (already sent).
fn encode_all(
    job: &FileJob,
    lines: &mut Lines,
    parsers: usize,
    tx: &SyncSender<Message>,
    spent: &Receiver<Vec<Row>>,
) -> Result<Option<u64>> {
    let total = AtomicU64::new(0);
    let stopped = AtomicBool::new(false);
    let (work_tx, work_rx) = sync_channel::<RawBatch>(parsers);
    let work_rx = Mutex::new(work_rx);
    // Parsed batches come back for reuse: their buffers are already grown.
    let (spare_tx, spare_rx) = sync_channel::<RawBatch>(parsers + 1);
    let read = std::thread::scope(|scope| {
        for _ in 0..parsers {
            // Threads inherit this thread's blocked signal mask. After a stop they
            // keep draining the work channel, so the reader never blocks on it.
            scope.spawn(|| loop {
                let Ok(raw) = work_rx
                    .lock()
                    .map_err(|_| ())
                    .and_then(|rx| rx.recv().map_err(|_| ()))
                else {
                    return;
                };
                if stopped.load(Ordering::Relaxed) {
                    continue;
                }
                let encoded = encode_batch(job, &raw);
                let _ = spare_tx.try_send(raw);
                match encoded {
                    Ok(rows) => {
                        total.fetch_add(rows.len() as u64, Ordering::Relaxed);
                        if tx.send(Message::Rows(rows)).is_err() {
                            stopped.store(true, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        stopped.store(true, Ordering::Relaxed);
                        let _ = tx.send(Message::Failed(e));
                    }
                }
            });
        }
        let read = loop {
            if stopped.load(Ordering::Relaxed) {
                break Ok(());
            }
            spent.try_iter().for_each(drop);
            let mut raw = spare_rx.try_recv().unwrap_or_else(|_| RawBatch {
                data: Vec::with_capacity(1024 * 1024),
                lines: Vec::with_capacity(BATCH_ROWS),
            });
            match next_raw_batch(lines, &mut raw) {
                Ok(true) => {
                    if work_tx.send(raw).is_err() {
                        break Ok(());
                    }
                }
                Ok(false) => {
                    let _ = tx.send(Message::Read);
                    break Ok(());
                }
                Err(e) => break Err(e),
            }
        };
        drop(work_tx);
        read
    });
    read?;
    Ok((!stopped.load(Ordering::Relaxed)).then(|| total.load(Ordering::Relaxed)))
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
            parse_threads: 1,
            compress: false,
        }
    }

    /// Runs encode_all over `text` with `parsers` threads; returns (result, messages).
    fn run(text: String, parsers: usize) -> (Result<Option<u64>>, Vec<Message>) {
        let mut lines = Lines::new(Cursor::new(text.into_bytes())).unwrap();
        let (tx, rx) = sync_channel(1000);
        let (_spent_tx, spent_rx) = sync_channel(1);
        let result = encode_all(&job(), &mut lines, parsers, &tx, &spent_rx);
        drop(tx);
        (result, rx.into_iter().collect())
    }

    #[test]
    fn rows_come_in_bounded_batches_on_any_number_of_threads() {
        let text: String = (0..2500)
            .map(|i| format!("{{\"id\":\"p{i}\"}}\n"))
            .collect();
        for parsers in [1, 3] {
            let (result, messages) = run(text.clone(), parsers);
            assert_eq!(result.unwrap(), Some(2500));
            assert_eq!(
                messages
                    .iter()
                    .filter(|m| matches!(m, Message::Read))
                    .count(),
                1
            );
            let mut sizes: Vec<usize> = messages
                .iter()
                .filter(|m| !matches!(m, Message::Read))
                .map(|m| match m {
                    Message::Rows(r) => r.len(),
                    other => panic!("{other:?}"),
                })
                .collect();
            sizes.sort();
            assert_eq!(sizes, vec![500, 1000, 1000]);
            let mut ids: Vec<String> = messages
                .into_iter()
                .flat_map(|m| match m {
                    Message::Rows(r) => r.into_iter().map(|r| r.id).collect::<Vec<_>>(),
                    _ => vec![],
                })
                .collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 2500);
        }
    }

    #[test]
    fn a_bad_line_fails_the_file_with_its_number() {
        let text = "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\n{oops\n".to_string();
        for parsers in [1, 2] {
            let (result, messages) = run(text.clone(), parsers);
            assert_eq!(result.unwrap(), None);
            assert!(
                matches!(
                    messages.last(),
                    Some(Message::Failed(LoadError::InvalidJson { line: 4, .. }))
                ),
                "{messages:?}"
            );
        }
    }

    #[test]
    fn parsers_share_the_cores_among_workers() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(parse_threads(1), cores.clamp(1, 4));
        assert_eq!(parse_threads(1000), 1);
    }

    #[test]
    fn a_gone_consumer_stops_the_reader() {
        let text: String = (0..50_000)
            .map(|i| format!("{{\"id\":\"p{i}\"}}\n"))
            .collect();
        let mut lines = Lines::new(Cursor::new(text.into_bytes())).unwrap();
        let (tx, rx) = sync_channel(1);
        drop(rx);
        let (_spent_tx, spent_rx) = sync_channel(1);
        assert_eq!(
            encode_all(&job(), &mut lines, 2, &tx, &spent_rx).unwrap(),
            None
        );
        assert!(lines.bytes < 50_000 * 12, "stopped early: {}", lines.bytes);
    }
}
