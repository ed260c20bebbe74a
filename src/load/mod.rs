//! Turning an object's bytes into rows: decompression, line splitting, parsing,
//! conversion, row encoding, batching. None of it touches PostgreSQL.

pub mod lines;
pub mod pipeline;
pub mod row;
