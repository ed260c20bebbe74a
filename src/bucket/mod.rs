//! The S3 side: naming rules, the client, listing and object streams.

pub mod client;
pub mod errors;
pub mod listing;
pub mod naming;
pub mod object_reader;
