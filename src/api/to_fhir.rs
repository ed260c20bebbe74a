//! `aidbox_bulk.to_fhir(resource_type, resource, id, txid, ts)`: a stored Aidbox
//! resource back in FHIR format, to check a load.

use crate::fhir::row_fields::{restore, RowFields};
use crate::fhir::Converter;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

#[pg_extern(immutable, parallel_safe)]
fn to_fhir(
    resource_type: &str,
    resource: JsonB,
    id: default!(Option<&str>, "NULL"),
    txid: default!(Option<i64>, "NULL"),
    ts: default!(Option<TimestampWithTimeZone>, "NULL"),
    correct_aidbox_format: default!(bool, false),
) -> JsonB {
    let Value::Object(mut body) = resource.0 else {
        return resource;
    };
    Converter {
        correct_aidbox_format,
    }
    .to_fhir(resource_type, &mut body);
    restore(
        resource_type,
        &mut body,
        RowFields {
            id,
            version_id: txid.map(|t| t.to_string()),
            last_updated: ts.filter(|t| t.is_finite()).map(iso_utc),
        },
    );
    JsonB(Value::Object(body))
}

/// `2026-11-26T12:00:00.123Z`, as Aidbox writes `meta.lastUpdated`.
fn iso_utc(ts: TimestampWithTimeZone) -> String {
    let utc = ts.to_utc();
    let (h, m, s, micro) = utc.to_hms_micro();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        utc.year(),
        utc.month(),
        utc.day(),
        h,
        m,
        s,
        (micro % 1_000_000) / 1000
    )
}
