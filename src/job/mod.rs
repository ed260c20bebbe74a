//! A bucket's job: its lock key and the order its files are claimed in.

use crate::params::Scheduler;

/// First half of every job lock key: "ABK" (aidbox bulk), keeping our advisory
/// locks apart from an application's own.
pub const LOCK_CLASS: i32 = 0x0041_424B;

/// The advisory lock of a bucket's job, as `pg_advisory_lock(int4, int4)` keys.
/// Workers hold it shared while they run; `load_from_bucket` takes it exclusively
/// for its transaction, which both refuses a second job and holds the workers
/// back until the queued LoaderFiles are committed.
pub fn lock_key(bucket: &str) -> (i32, i32) {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in bucket.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (LOCK_CLASS, (h & 0x7fff_ffff) as i32)
}

/// ORDER BY over LoaderFile `resource` for the next file to claim, from `table`
/// (the LoaderFile table), where `$1` is the bucket and `$2` the claiming worker's
/// own current file (or NULL).
pub fn claim_order_sql(scheduler: Scheduler, table: &str) -> String {
    match scheduler {
        // Types other workers are loading right now come last: two workers on one
        // table contend for its extension lock and pages. Then largest first: the
        // longest files start early, so workers finish together.
        Scheduler::Optimal => format!(
            "(resource->>'type') IN (SELECT o.resource->>'type' FROM {table} o
                                      WHERE o.resource->>'bucket' = $1
                                        AND o.resource->>'status' = 'in-progress'
                                        AND o.id IS DISTINCT FROM $2),
             (resource->>'size')::bigint DESC NULLS LAST, resource->>'file'"
        ),
        Scheduler::ByLastModified => "resource->>'last-modified', resource->>'file'".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_positive_and_per_bucket() {
        let (class, a) = lock_key("s3://demo");
        assert_eq!(class, LOCK_CLASS);
        assert!(a >= 0);
        assert_eq!(lock_key("s3://demo").1, a);
        assert_ne!(lock_key("s3://demo2").1, a);
        // FNV-1a 32 of "a" is 0xe40c292c.
        assert_eq!(lock_key("a").1, 0xe40c292cu32 as i32 & 0x7fff_ffff);
    }
}
