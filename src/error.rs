//! The one error type of the loader. Every failure maps to Aidbox's LoaderFile
//! `error.source` / `error.code`, to a LoaderFile `message`, and to a SQLSTATE for
//! errors raised at call time.

/// Where an error came from, in Aidbox's LoaderFile vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    Aws,
    Postgres,
    Aidbox,
}

impl ErrorSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorSource::Aws => "aws",
            ErrorSource::Postgres => "postgres",
            ErrorSource::Aidbox => "aidbox",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The call's parameters are wrong; nothing is queued.
    #[error("{0}")]
    InvalidParams(String),
    /// A load is already running for this bucket.
    #[error("a load from bucket <{0}> is already running; wait for it or check aidbox_bulk.load_from_bucket_status")]
    JobRunning(String),
    /// The status call names a bucket that never had a load.
    #[error("No imports for bucket <{0}>")]
    NoImports(String),
    /// S3 rejected the credentials (bad key id, bad secret, expired token).
    #[error("the access key id or secret access key is not valid ({0})")]
    InvalidAccount(String),
    /// The bucket or the object does not exist.
    #[error("the bucket or object key does not exist ({0})")]
    NoSuchKey(String),
    #[error("could not connect to S3 within {0} ms")]
    ConnectTimeout(u64),
    #[error("no data from S3 for {0} ms")]
    ReadTimeout(u64),
    /// Any other S3 or network failure, with the service's own code.
    #[error("{message}")]
    Aws { code: String, message: String },
    #[error("line {line}: invalid JSON: {detail}")]
    InvalidJson { line: u64, detail: String },
    #[error("line {line}: the resource has no string \"id\"")]
    MissingId { line: u64 },
    #[error("line {line}: resourceType \"{found}\" does not match the file's type \"{expected}\"")]
    WrongResourceType {
        line: u64,
        found: String,
        expected: String,
    },
    /// A value PostgreSQL's jsonb cannot hold (`\u0000`, a number out of numeric's range).
    #[error("line {line}: {detail}")]
    InvalidValue { line: u64, detail: String },
    /// The object's bytes could not be decoded (broken gzip, truncated stream).
    #[error("cannot read the object: {0}")]
    Decode(String),
    /// PostgreSQL raised an error while loading the file.
    #[error("{sqlstate}: ERROR: {message}")]
    Postgres { sqlstate: String, message: String },
    /// The worker was asked to stop (SIGTERM, pg_terminate_backend, shutdown).
    #[error("the load was interrupted")]
    Interrupted,
}

impl LoadError {
    pub fn source(&self) -> ErrorSource {
        use LoadError::*;
        match self {
            InvalidAccount(_) | NoSuchKey(_) | ConnectTimeout(_) | ReadTimeout(_) | Aws { .. } => {
                ErrorSource::Aws
            }
            Postgres { .. } => ErrorSource::Postgres,
            InvalidParams(_)
            | JobRunning(_)
            | NoImports(_)
            | InvalidJson { .. }
            | MissingId { .. }
            | WrongResourceType { .. }
            | InvalidValue { .. }
            | Decode(_)
            | Interrupted => ErrorSource::Aidbox,
        }
    }

    /// `error.code` of the LoaderFile.
    pub fn code(&self) -> String {
        use LoadError::*;
        match self {
            InvalidParams(_) => "invalid-params".into(),
            JobRunning(_) => "job-running".into(),
            NoImports(_) => "no-imports".into(),
            InvalidAccount(_) => "InvalidAccount".into(),
            NoSuchKey(_) => "NoSuchKey".into(),
            ConnectTimeout(_) => "ConnectTimeout".into(),
            ReadTimeout(_) => "ReadTimeout".into(),
            Aws { code, .. } => code.clone(),
            InvalidJson { .. } => "invalid-json".into(),
            MissingId { .. } => "missing-id".into(),
            WrongResourceType { .. } => "wrong-resource-type".into(),
            InvalidValue { .. } => "invalid-value".into(),
            Decode(_) => "decode-error".into(),
            Postgres { sqlstate, .. } => sqlstate.clone(),
            Interrupted => "interrupted".into(),
        }
    }

    /// `message` of the LoaderFile. PostgreSQL errors keep Aidbox's
    /// `"<SQLSTATE>: ERROR: <message>"` form; the others lead with their code.
    pub fn message(&self) -> String {
        match self {
            LoadError::Postgres { .. } => self.to_string(),
            _ => format!("{}: {}", self.code(), self),
        }
    }

    /// The SQLSTATE raised when this error aborts a call.
    pub fn sqlstate(&self) -> &'static str {
        use LoadError::*;
        match self {
            InvalidParams(_) => "22023",  // invalid_parameter_value
            JobRunning(_) => "55006",     // object_in_use
            NoImports(_) => "P0002",      // no_data_found
            InvalidAccount(_) => "28000", // invalid_authorization_specification
            NoSuchKey(_) => "58P01",      // undefined_file
            ConnectTimeout(_) | ReadTimeout(_) | Aws { .. } => "08006", // connection_failure
            InvalidJson { .. }
            | MissingId { .. }
            | WrongResourceType { .. }
            | InvalidValue { .. }
            | Decode(_) => "22P02",
            Postgres { .. } => "XX000",
            Interrupted => "57014", // query_canceled
        }
    }
}

pub type Result<T, E = LoadError> = std::result::Result<T, E>;

/// PostgreSQL's packed form of a 5-character SQLSTATE (`MAKE_SQLSTATE`).
pub fn pack_sqlstate(code: &str) -> i32 {
    code.bytes().take(5).enumerate().fold(0, |acc, (i, ch)| {
        acc | (((ch.wrapping_sub(b'0')) as i32 & 0x3f) << (6 * i))
    })
}

/// The 5-character SQLSTATE of a packed code (`unpack_sql_state`).
pub fn unpack_sqlstate(packed: i32) -> String {
    (0..5)
        .map(|i| (((packed >> (6 * i)) & 0x3f) as u8 + b'0') as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_errors_keep_aidbox_message_format() {
        let e = LoadError::Postgres {
            sqlstate: "23505".into(),
            message: "duplicate key value violates unique constraint \"patient_pkey\"".into(),
        };
        assert_eq!(e.source(), ErrorSource::Postgres);
        assert_eq!(e.code(), "23505");
        assert_eq!(
            e.message(),
            "23505: ERROR: duplicate key value violates unique constraint \"patient_pkey\""
        );
    }

    #[test]
    fn line_errors_name_the_line() {
        let e = LoadError::InvalidJson {
            line: 7,
            detail: "expected value at column 1".into(),
        };
        assert_eq!(e.source().as_str(), "aidbox");
        assert_eq!(e.code(), "invalid-json");
        assert_eq!(
            e.message(),
            "invalid-json: line 7: invalid JSON: expected value at column 1"
        );
    }

    #[test]
    fn sqlstates_pack_like_postgres() {
        // ERRCODE_UNIQUE_VIOLATION = MAKE_SQLSTATE('2','3','5','0','5')
        assert_eq!(pack_sqlstate("23505"), 2 | (3 << 6) | (5 << 12) | (5 << 24));
        for code in ["23505", "21000", "22P02", "XX000", "57014", "P0002"] {
            assert_eq!(unpack_sqlstate(pack_sqlstate(code)), code);
        }
    }

    #[test]
    fn aws_errors_use_aidbox_codes() {
        let e = LoadError::InvalidAccount("SignatureDoesNotMatch".into());
        assert_eq!(
            (e.source().as_str(), e.code().as_str()),
            ("aws", "InvalidAccount")
        );
        assert!(e.message().starts_with("InvalidAccount: "));
        assert_eq!(LoadError::ReadTimeout(50).code(), "ReadTimeout");
    }
}
