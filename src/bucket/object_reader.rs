//! A blocking `Read` over an S3 object's body, for the parsing thread. Each wait
//! for the next chunk is bounded by `read-timeout`.

use super::client::{with_read_timeout, ClientSettings};
use super::errors::classify;
use crate::error::{LoadError, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use std::io::Read;
use tokio::runtime::Runtime;

pub struct ObjectReader {
    runtime: Runtime,
    body: ByteStream,
    chunk: Bytes,
    read_timeout_ms: u64,
}

impl ObjectReader {
    /// Sends the GET on `runtime` (a current-thread runtime owned by this reader).
    pub fn open(
        runtime: Runtime,
        client: &Client,
        settings: &ClientSettings,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectReader> {
        let request = client.get_object().bucket(bucket).key(key).send();
        let response = runtime
            .block_on(with_read_timeout(settings.read_timeout_ms, request))?
            .map_err(|e| classify(e, settings))?;
        Ok(ObjectReader {
            runtime,
            body: response.body,
            chunk: Bytes::new(),
            read_timeout_ms: settings.read_timeout_ms,
        })
    }
}

fn to_io(e: LoadError) -> std::io::Error {
    std::io::Error::other(e)
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            let next = self
                .runtime
                .block_on(with_read_timeout(
                    self.read_timeout_ms,
                    self.body.try_next(),
                ))
                .map_err(to_io)?;
            match next {
                Ok(Some(chunk)) => self.chunk = chunk,
                Ok(None) => return Ok(0),
                Err(e) => {
                    return Err(to_io(LoadError::Aws {
                        code: "ReadError".into(),
                        message: format!("reading the object failed: {e}"),
                    }))
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
