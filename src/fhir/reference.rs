//! Aidbox's Reference format: `{"reference": "Patient/1"}` ⇄ `{"resourceType": "Patient",
//! "id": "1"}`, absolute URLs and URNs ⇄ `uri`, `#id` ⇄ `localRef`. Anything else
//! (conditional `Practitioner?identifier=…`, versioned `Patient/1/_history/2`) is kept
//! as it is, so nothing is lost.

use crate::json::{Json, Object};
use serde_json::{Map, Value};

/// Keys whose presence makes a conversion ambiguous: then the Reference is kept.
const AIDBOX_KEYS: [&str; 4] = ["resourceType", "id", "uri", "localRef"];

pub fn to_aidbox(reference: &mut Object) {
    if AIDBOX_KEYS.iter().any(|k| reference.contains_key(k)) {
        return;
    }
    let Some(Json::String(text)) = reference.get("reference") else {
        return;
    };
    let form = if let Some(local) = text.strip_prefix('#') {
        if local.is_empty() {
            return; // "#" alone points at the containing resource
        }
        Form::Local
    } else if is_absolute(text) {
        Form::Uri
    } else if let Some((ty, _)) = relative(text) {
        Form::Relative { type_len: ty.len() }
    } else {
        return;
    };
    let Some(Json::String(text)) = reference.remove("reference") else {
        return;
    };
    // The new values are slices of the reference, not copies.
    match form {
        Form::Local => reference.insert("localRef", Json::String(&text[1..])),
        Form::Uri => reference.insert("uri", Json::String(text)),
        Form::Relative { type_len } => {
            reference.insert("resourceType", Json::String(&text[..type_len]));
            reference.insert("id", Json::String(&text[type_len + 1..]));
        }
    }
}

/// Which Aidbox form a FHIR `reference` string takes.
enum Form {
    Local,
    Uri,
    Relative { type_len: usize },
}

pub fn to_fhir(reference: &mut Map<String, Value>) {
    if reference.contains_key("reference") {
        return;
    }
    let text = match (
        reference.get("uri"),
        reference.get("localRef"),
        reference.get("resourceType"),
        reference.get("id"),
    ) {
        (Some(Value::String(uri)), None, None, None) => uri.clone(),
        (None, Some(Value::String(local)), None, None) => format!("#{local}"),
        (None, None, Some(Value::String(t)), Some(Value::String(id))) => format!("{t}/{id}"),
        _ => return,
    };
    for k in AIDBOX_KEYS {
        reference.remove(k);
    }
    reference.insert("reference".into(), Value::String(text));
}

/// `scheme://…` (a URL scheme, not a conditional reference's query) or a URN.
fn is_absolute(text: &str) -> bool {
    if text.starts_with("urn:") {
        return true;
    }
    // `scheme://`: the scheme is the longest run of scheme characters (':' is not
    // one), so no substring search is needed.
    let scheme_len = text
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
        .unwrap_or(text.len());
    text.starts_with(|c: char| c.is_ascii_alphabetic()) && text[scheme_len..].starts_with("://")
}

/// `Type/id` with a FHIR type name and a FHIR id; nothing else.
fn relative(text: &str) -> Option<(&str, &str)> {
    let (ty, id) = text.split_once('/')?;
    let type_ok = ty.starts_with(|c: char| c.is_ascii_uppercase())
        && ty.chars().all(|c| c.is_ascii_alphanumeric());
    let id_ok = (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (type_ok && id_ok).then_some((ty, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn there_and_back(fhir: Value, aidbox: Value) {
        let text = fhir.to_string();
        let arena = crate::json::Bump::new();
        let Json::Object(mut obj) = crate::json::parse(&text, &arena).unwrap() else {
            panic!()
        };
        to_aidbox(&mut obj);
        let converted = Json::Object(obj).to_serde();
        assert_eq!(converted, aidbox);
        let mut m = converted.as_object().unwrap().clone();
        to_fhir(&mut m);
        assert_eq!(Value::Object(m), fhir);
    }

    #[test]
    fn documented_rules() {
        there_and_back(
            json!({"reference": "Patient/pt-1", "display": "Pat"}),
            json!({"resourceType": "Patient", "id": "pt-1", "display": "Pat"}),
        );
        there_and_back(
            json!({"reference": "http://external/fhir/Patient/pt-1"}),
            json!({"uri": "http://external/fhir/Patient/pt-1"}),
        );
        there_and_back(
            json!({"reference": "urn:uuid:5d0a9c2e-1111-2222-3333-444455556666"}),
            json!({"uri": "urn:uuid:5d0a9c2e-1111-2222-3333-444455556666"}),
        );
        there_and_back(json!({"reference": "#med1"}), json!({"localRef": "med1"}));
    }

    #[test]
    fn absolute_means_urn_or_a_scheme_before_the_first_colon_slash_slash() {
        for yes in ["urn:x", "http://a", "a+b-c.9://x", "s3://b/k", "x://"] {
            assert!(is_absolute(yes), "{yes}");
        }
        for no in [
            "://a",
            "1http://a",
            "ht tp://a",
            "http:/a",
            "http",
            "Patient/1?u=http://a",
            "",
        ] {
            assert!(!is_absolute(no), "{no}");
        }
    }

    #[test]
    fn escaped_references_convert_like_plain_ones() {
        for (text, expected) in [
            (
                r#"{"reference":"Patient\/p\u002d1"}"#,
                json!({"resourceType": "Patient", "id": "p-1"}),
            ),
            (r##"{"reference":"\u0023m1"}"##, json!({"localRef": "m1"})),
            (r#"{"reference":"urn:\u0078"}"#, json!({"uri": "urn:x"})),
        ] {
            let arena = crate::json::Bump::new();
            let Json::Object(mut obj) = crate::json::parse(text, &arena).unwrap() else {
                panic!()
            };
            to_aidbox(&mut obj);
            assert_eq!(Json::Object(obj).to_serde(), expected, "{text}");
        }
    }

    #[test]
    fn everything_else_is_kept() {
        for kept in [
            json!({"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999"}),
            json!({"reference": "Patient/1/_history/2"}),
            json!({"reference": "#"}),
            json!({"reference": "patient/1"}),
            json!({"reference": "Patient/1", "id": "element-id"}),
            json!({"display": "no reference"}),
            json!({"identifier": {"value": "x"}}),
        ] {
            there_and_back(kept.clone(), kept);
        }
    }
}
