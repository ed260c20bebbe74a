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

#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
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
