//! The background workers that load a bucket's files.

pub mod handoff;
pub mod launch;
mod load_file;
mod main;
mod restore;
mod transaction;
