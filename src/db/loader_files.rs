//! LoaderFile records in the `loaderfile` table (Aidbox resource layout). Every
//! change gets a new txid, as an Aidbox update would.

use super::{select_strings, spi_error, update_resource, NOW_ISO};
use crate::bucket::listing::ObjectInfo;
use crate::error::{LoadError, Result};
use crate::job::claim_order_sql;
use crate::params::Scheduler;
use crate::records::loader_file::{self, FileStatus};
use pgrx::prelude::*;
use pgrx::spi::quote_identifier;
use std::collections::HashSet;

fn table(schema: &str) -> String {
    format!("{}.loaderfile", quote_identifier(schema))
}

fn seq(schema: &str) -> String {
    format!("{}.transaction_id_seq", quote_identifier(schema))
}

/// Keys of the bucket that already have a LoaderFile (whatever its status).
pub fn known_keys(schema: &str, bucket: &str) -> Result<HashSet<String>> {
    let sql = format!(
        "SELECT resource->>'file' FROM {} WHERE resource->>'bucket' = $1",
        table(schema)
    );
    Ok(select_strings(&sql, &[bucket.into()])?
        .into_iter()
        .collect())
}

/// The resource types of the bucket's pending files.
pub fn pending_types(schema: &str, bucket: &str) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT resource->>'type' FROM {} WHERE resource->>'bucket' = $1
            AND resource->>'status' = 'pending' ORDER BY 1",
        table(schema)
    );
    select_strings(&sql, &[bucket.into()])
}

/// Queues new files as `pending` LoaderFiles.
pub fn insert_pending(schema: &str, bucket: &str, files: &[(&ObjectInfo, String)]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = files
        .iter()
        .map(|(o, _)| loader_file::loader_file_id(bucket, &o.key))
        .collect();
    let resources: Vec<String> = files
        .iter()
        .map(|(o, t)| loader_file::pending(bucket, o, t).to_string())
        .collect();
    Spi::run_with_args(
        &format!(
            "INSERT INTO {t} (id, txid, ts, cts, resource_type, status, resource)
             SELECT f.id, nextval('{seq}'), now(), now(), 'LoaderFile', 'created', f.resource::jsonb
               FROM unnest($1::text[], $2::text[]) AS f(id, resource)",
            t = table(schema),
            seq = seq(schema)
        ),
        &[ids.into(), resources.into()],
    )
    .map_err(spi_error)
}

/// Files left `in-progress` by a stopped job hold no committed rows (one
/// transaction per file): queue them again.
pub fn requeue_in_progress(schema: &str, bucket: &str) -> Result<()> {
    Spi::run_with_args(
        &format!(
            "UPDATE {t} SET resource = (resource || '{{\"status\":\"pending\"}}') - 'start',
                    txid = nextval('{seq}'), ts = now(), status = 'updated'
              WHERE resource->>'bucket' = $1 AND resource->>'status' = 'in-progress'",
            t = table(schema),
            seq = seq(schema)
        ),
        &[bucket.into()],
    )
    .map_err(spi_error)
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatusCounts {
    pub pending: i64,
    pub in_progress: i64,
    pub done: i64,
    pub error: i64,
    pub skiped: i64,
    pub loaded: i64,
}

impl StatusCounts {
    pub fn total(&self) -> i64 {
        self.pending + self.in_progress + self.done + self.error + self.skiped
    }
}

pub fn counts(schema: &str, bucket: &str) -> Result<StatusCounts> {
    Spi::connect(|client| {
        let rows = client
            .select(
                &format!(
                    "SELECT resource->>'status', count(*), coalesce(sum((resource->>'loaded')::bigint), 0)::bigint
                       FROM {} WHERE resource->>'bucket' = $1 GROUP BY 1",
                    table(schema)
                ),
                None,
                &[bucket.into()],
            )
            .map_err(spi_error)?;
        let mut c = StatusCounts::default();
        for row in rows {
            let status = row.get::<String>(1).map_err(spi_error)?.unwrap_or_default();
            let n = row.get::<i64>(2).map_err(spi_error)?.unwrap_or(0);
            c.loaded += row.get::<i64>(3).map_err(spi_error)?.unwrap_or(0);
            match status.as_str() {
                "pending" => c.pending += n,
                "in-progress" => c.in_progress += n,
                "done" => c.done += n,
                "error" => c.error += n,
                _ => c.skiped += n,
            }
        }
        Ok(c)
    })
}

/// A file a worker has claimed.
#[derive(Debug, Clone)]
pub struct ClaimedFile {
    pub id: String,
    pub key: String,
    pub resource_type: String,
}

/// Marks the next pending file `in-progress` and returns it; None when the queue
/// is empty. Concurrent workers skip each other's rows. `current` is the file the
/// claiming worker is loading now, if any (it does not count as another worker's).
pub fn claim_next(
    schema: &str,
    bucket: &str,
    scheduler: Scheduler,
    current: Option<&str>,
) -> Result<Option<ClaimedFile>> {
    let t = table(schema);
    let sql = format!(
        "UPDATE {t} SET resource = resource || jsonb_build_object('status', 'in-progress', 'start', {NOW_ISO}),
                txid = nextval('{seq}'), ts = now(), status = 'updated'
          WHERE id = (SELECT id FROM {t}
                       WHERE resource->>'bucket' = $1 AND resource->>'status' = 'pending'
                       ORDER BY {order} LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING id, resource->>'file', resource->>'type'",
        seq = seq(schema),
        order = claim_order_sql(scheduler, &t)
    );
    Spi::connect_mut(|client| {
        let mut rows = client
            .update(&sql, None, &[bucket.into(), current.into()])
            .map_err(spi_error)?;
        if let Some(row) = rows.next() {
            let get = |i| {
                row.get::<String>(i)
                    .map_err(spi_error)
                    .map(Option::unwrap_or_default)
            };
            return Ok(Some(ClaimedFile {
                id: get(1)?,
                key: get(2)?,
                resource_type: get(3)?,
            }));
        }
        Ok(None)
    })
}

/// The file's final `done` state; runs in the file's own loading transaction.
pub fn mark_done(schema: &str, id: &str, loaded: i64) -> Result<()> {
    update_resource(
        schema,
        "loaderfile",
        &format!(
            "resource || jsonb_build_object('status', $2::text, 'loaded', $3::bigint, 'end', {NOW_ISO})"
        ),
        &[id.into(), FileStatus::Done.as_str().into(), loaded.into()],
    )
}

/// The file's `error` state, after its loading transaction rolled back.
pub fn mark_failed(schema: &str, id: &str, err: &LoadError) -> Result<()> {
    let patch = loader_file::failure_patch(err).to_string();
    update_resource(
        schema,
        "loaderfile",
        &format!("(resource || $2::jsonb || jsonb_build_object('end', {NOW_ISO})) - 'loaded'"),
        &[id.into(), patch.into()],
    )
}
