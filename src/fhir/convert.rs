//! Where FHIR JSON becomes Aidbox JSON. Runs on the loader's parsing thread.
//!
//! The schema-driven converter (references, choice types) plugs in here; until it
//! lands, a `fhir` resource is stored with its FHIR shape.

use crate::params::Format;
use serde_json::{Map, Value};

/// Converts one resource body (already without `id` and `resourceType`) in place.
pub fn to_aidbox(format: Format, _resource_type: &str, _resource: &mut Map<String, Value>) {
    match format {
        Format::Aidbox => {}
        Format::Fhir => {}
    }
}
