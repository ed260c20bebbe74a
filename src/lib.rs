//! aidbox_bulk: Aidbox's `aidbox.bulk/load-from-bucket`, as a PostgreSQL extension.
//!
//! The pure core (params, bucket, load, fhir, records, job) has no pgrx import; the
//! PostgreSQL side (api, db, worker) is a thin layer over it.

pub mod bucket;
pub mod error;
pub mod fhir;
#[doc(hidden)]
pub mod fixture;
pub mod indexes;
pub mod job;
pub mod json;
pub mod jsonb;
pub mod load;
pub mod params;
pub mod records;
pub mod threads;

mod api;
mod db;
mod guc;
mod pg_tests;
mod worker;

::pgrx::pg_module_magic!();

/// Rust's own allocations (parsing threads build and free many small values, and
/// rows built on one thread are freed on another): mimalloc's per-thread heaps make
/// that cheap where glibc's arenas contend. PostgreSQL's palloc is untouched.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_arena_eager_commit` and `mi_option_purge_delay` (v3's
/// `mimalloc.h` enum order).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // A worker's threads come and go with each file: commit arena memory as it is
    // used, and give freed pages back after 10 ms (v3's default is 1 s). The
    // footprint stays near what the batches need (about 55 MB instead of about
    // 100 MB when loading); giving pages back at once instead costs ~7 % of a
    // load's time in page faults, as batches reuse the same sizes all the time.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10);
    }
    guc::register();
}

/// Settings for `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["max_worker_processes = 16"]
    }
}
