//! `aidbox_bulk.load_from_bucket_status(params jsonb)`: Aidbox's status RPC.

use super::raise;
use crate::db::loader_files::{self, StatusCounts};
use crate::db::{indexes, job_lock};
use crate::error::{LoadError, Result};
use crate::params::{invalid, parse_bucket_param};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

#[pg_extern(volatile, parallel_unsafe)]
fn load_from_bucket_status(params: JsonB) -> JsonB {
    match status(&params.0) {
        Ok(v) => JsonB(v),
        Err(e) => raise(e, "load_from_bucket_status"),
    }
}

fn status(params: &Value) -> Result<Value> {
    let obj = params
        .as_object()
        .ok_or_else(|| invalid("params must be a JSON object with \"bucket\""))?;
    let bucket = parse_bucket_param(obj)?;
    let schema = obj
        .get("schema")
        .and_then(Value::as_str)
        .unwrap_or("public");
    if !crate::db::schema::relation_exists(schema, "loaderfile")? {
        return Err(LoadError::NoImports(bucket));
    }
    let counts = loader_files::counts(schema, &bucket)?;
    if counts.total() == 0 {
        return Err(LoadError::NoImports(bucket));
    }
    let running = job_lock::holders(&bucket)? > 0;
    let mut out = render(&counts, running);
    let disabled: Vec<Value> = indexes::still_disabled(schema, &bucket)?
        .into_iter()
        .map(|(_, r)| {
            let mut shown = json!({"indexname": r["indexname"], "tablename": r["tablename"]});
            if let Some(m) = r.get("message") {
                shown["message"] = m.clone();
            }
            shown
        })
        .collect();
    out["disabled-indexes"] = Value::Array(disabled);
    Ok(out)
}

/// Aidbox's documented shape, plus additive keys.
fn render(c: &StatusCounts, running: bool) -> Value {
    let unfinished = c.pending + c.in_progress;
    let state = if running {
        "in-progress"
    } else if unfinished > 0 {
        "interrupted"
    } else {
        "completed"
    };
    json!({
        "state": state,
        "progress": {
            "total": c.total(),
            "pending": unfinished,
            "done": c.done + c.error + c.skiped,
        },
        "in-progress": c.in_progress,
        "error": c.error,
        "skiped": c.skiped,
        "loaded": c.loaded,
    })
}
