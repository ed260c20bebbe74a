//! FHIR JSON ⇄ Aidbox JSON, walking each resource by its schema (never guessing from
//! key names): `valueQuantity: {…}` ⇄ `value: {"Quantity": {…}}` at every depth, and
//! References per `reference.rs`. Nested resources (`contained`, `Bundle.entry.resource`)
//! are walked by their own `resourceType`. Extensions are converted only with Aidbox's
//! `correct-aidbox-format` setting; by default (Aidbox's) they are kept as they are.
//! Sibling primitive extensions (`_valueString`) are kept beside the converted value.

use super::reference;
use super::schema::{Element, NodeId, Schema, Visit};
use crate::json::{Json, Object};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Converter {
    /// Aidbox's `fhir.validation.correct-aidbox-format`: convert inside extensions too.
    pub correct_aidbox_format: bool,
}

impl Converter {
    /// Converts a resource body in place (with or without its `id`/`resourceType`).
    /// Unknown types are left untouched.
    pub fn to_aidbox(&self, resource_type: &str, resource: &mut Object) {
        let schema = Schema::r4();
        if let Some(node) = schema.node(resource_type) {
            self.forward_node(schema, node, resource);
        }
    }

    /// The inverse of `to_aidbox`.
    pub fn to_fhir(&self, resource_type: &str, resource: &mut Map<String, Value>) {
        let schema = Schema::r4();
        if let Some(node) = schema.node(resource_type) {
            self.backward_node(schema, node, resource);
        }
    }

    fn skips(&self, schema: &Schema, node: NodeId) -> bool {
        !self.correct_aidbox_format && (node == schema.extension || schema.nodes[node].inert)
    }

    fn forward_node(&self, schema: &'static Schema, node_id: NodeId, obj: &mut Object) {
        let node = &schema.nodes[node_id];
        let needs_rebuild = obj.keys().any(|k| node.choice_keys.contains_key(k));
        if !needs_rebuild {
            for (key, value) in obj.iter_mut() {
                if let Some(Element::Visit(visit)) = node.elements.get(key) {
                    self.forward_value(schema, *visit, value);
                }
            }
            return;
        }
        for (key, mut value) in obj.take() {
            if let Some((choice, ty)) = node.choice_keys.get(key) {
                let choice = &schema.choices[*choice];
                // Two values for one choice is invalid FHIR: the first in jsonb key
                // order (shorter name first) is converted, the other kept as it is.
                if !obj.contains_key(&choice.base) {
                    if let Some(Some(visit)) = choice.types.get(ty) {
                        self.forward_value(schema, *visit, &mut value);
                    }
                    let mut wrapped = obj.new_sibling();
                    wrapped.insert(ty, value);
                    obj.insert(&choice.base, Json::Object(wrapped));
                    continue;
                }
            } else if let Some(Element::Visit(visit)) = node.elements.get(key) {
                self.forward_value(schema, *visit, &mut value);
            }
            obj.insert(key, value);
        }
    }

    fn forward_value(&self, schema: &'static Schema, visit: Visit, value: &mut Json) {
        match value {
            Json::Array(items) => {
                for item in items {
                    self.forward_value(schema, visit, item);
                }
            }
            Json::Object(obj) => match visit {
                Visit::Complex(node) => {
                    if !self.skips(schema, node) {
                        self.forward_node(schema, node, obj);
                    }
                }
                Visit::Reference => {
                    self.forward_node(schema, schema.reference, obj);
                    reference::to_aidbox(obj);
                }
                Visit::Resource => {
                    if let Some(node) = obj
                        .get("resourceType")
                        .and_then(Json::as_str)
                        .and_then(|t| schema.node(t))
                    {
                        self.forward_node(schema, node, obj);
                    }
                }
            },
            _ => {}
        }
    }

    fn backward_node(&self, schema: &Schema, node_id: NodeId, obj: &mut Map<String, Value>) {
        let node = &schema.nodes[node_id];
        for (key, mut value) in std::mem::take(obj) {
            match node.elements.get(&key) {
                Some(Element::Choice(choice)) => {
                    let choice = &schema.choices[*choice];
                    let typed = match &value {
                        Value::Object(m) if m.len() == 1 => m
                            .keys()
                            .next()
                            .filter(|ty| choice.types.contains_key(*ty))
                            .cloned(),
                        _ => None,
                    };
                    if let (Some(ty), Value::Object(m)) = (typed, &mut value) {
                        let mut inner = m.remove(&ty).unwrap_or(Value::Null);
                        if let Some(Some(visit)) = choice.types.get(&ty) {
                            self.backward_value(schema, *visit, &mut inner);
                        }
                        obj.insert(format!("{key}{}", super::schema::upper_first(&ty)), inner);
                        continue;
                    }
                }
                Some(Element::Visit(visit)) => self.backward_value(schema, *visit, &mut value),
                None => {}
            }
            obj.insert(key, value);
        }
    }

    fn backward_value(&self, schema: &Schema, visit: Visit, value: &mut Value) {
        match value {
            Value::Array(items) => {
                for item in items {
                    self.backward_value(schema, visit, item);
                }
            }
            Value::Object(obj) => match visit {
                Visit::Complex(node) => {
                    if !self.skips(schema, node) {
                        self.backward_node(schema, node, obj);
                    }
                }
                Visit::Reference => {
                    reference::to_fhir(obj);
                    self.backward_node(schema, schema.reference, obj);
                }
                Visit::Resource => {
                    if let Some(node) = nested_type(schema, obj) {
                        self.backward_node(schema, node, obj);
                    }
                }
            },
            _ => {}
        }
    }
}

fn nested_type(schema: &Schema, obj: &Map<String, Value>) -> Option<NodeId> {
    obj.get("resourceType")
        .and_then(Value::as_str)
        .and_then(|t| schema.node(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// FHIR → Aidbox through the loading path's tree, back as a serde_json value.
    fn forward(rt: &str, fhir: Value, correct: bool) -> Value {
        let text = fhir.to_string();
        let arena = crate::json::Bump::new();
        let Json::Object(mut obj) = crate::json::parse(&text, &arena).unwrap() else {
            panic!("not an object")
        };
        Converter {
            correct_aidbox_format: correct,
        }
        .to_aidbox(rt, &mut obj);
        let converted = Json::Object(obj).to_serde();
        converted
    }

    /// Checks the conversion and that the inverse gives the FHIR input back.
    fn golden(rt: &str, fhir: Value, aidbox: Value, correct: bool) {
        let converted = forward(rt, fhir.clone(), correct);
        assert_eq!(converted, aidbox);
        let mut back = converted.as_object().unwrap().clone();
        Converter {
            correct_aidbox_format: correct,
        }
        .to_fhir(rt, &mut back);
        assert_eq!(Value::Object(back), fhir);
    }

    #[test]
    fn choice_types_at_every_depth() {
        golden(
            "Observation",
            json!({
                "status": "final",
                "valueQuantity": {"value": 1.5, "unit": "mg"},
                "_valueQuantity": {"id": "x"},
                "effectiveDateTime": "2020-01-01",
                "component": [
                    {"code": {"text": "a"}, "valueCodeableConcept": {"text": "b"}},
                    {"valueString": "s", "_valueString": {"extension": [{"url": "u", "valueBoolean": true}]}}
                ],
                "subject": {"reference": "Patient/p1"}
            }),
            json!({
                "status": "final",
                "value": {"Quantity": {"value": 1.5, "unit": "mg"}},
                "_valueQuantity": {"id": "x"},
                "effective": {"dateTime": "2020-01-01"},
                "component": [
                    {"code": {"text": "a"}, "value": {"CodeableConcept": {"text": "b"}}},
                    {"value": {"string": "s"}, "_valueString": {"extension": [{"url": "u", "valueBoolean": true}]}}
                ],
                "subject": {"resourceType": "Patient", "id": "p1"}
            }),
            false,
        );
    }

    #[test]
    fn not_every_value_key_is_a_choice() {
        // ValueSet.compose.include.valueSet is a canonical; Questionnaire.item.answerValueSet too.
        let vs = json!({"compose": {"include": [{"valueSet": ["http://x"], "system": "s"}]}});
        golden("ValueSet", vs.clone(), vs, false);
        let q = json!({"item": [{"linkId": "1", "answerValueSet": "http://vs",
            "enableWhen": [{"question": "0", "operator": "=", "answerBoolean": true}],
            "item": [{"linkId": "1.1", "initial": [{"valueInteger": 3}]}]}]});
        golden(
            "Questionnaire",
            q,
            json!({"item": [{"linkId": "1", "answerValueSet": "http://vs",
                "enableWhen": [{"question": "0", "operator": "=", "answer": {"boolean": true}}],
                "item": [{"linkId": "1.1", "initial": [{"value": {"integer": 3}}]}]}]}),
            false,
        );
        // ExplanationOfBenefit.related.reference is an Identifier, not a Reference.
        let eob = json!({"related": [{"reference": {"value": "Patient/1"}}]});
        golden("ExplanationOfBenefit", eob.clone(), eob, false);
    }

    #[test]
    fn extensions_follow_the_correct_aidbox_format_setting() {
        let fhir = json!({"extension": [{"url": "u", "valueReference": {"reference": "Patient/1"},
            "extension": [{"url": "v", "valueCoding": {"code": "c"}}]}],
            "birthDate": "2000-01-01"});
        golden("Patient", fhir.clone(), fhir.clone(), false);
        golden(
            "Patient",
            fhir,
            json!({"extension": [{"url": "u", "value": {"Reference": {"resourceType": "Patient", "id": "1"}},
                "extension": [{"url": "v", "value": {"Coding": {"code": "c"}}}]}],
                "birthDate": "2000-01-01"}),
            true,
        );
    }

    #[test]
    fn contained_resources_bundles_and_reference_kinds() {
        golden(
            "MedicationRequest",
            json!({
                "contained": [{"resourceType": "Medication", "id": "m1",
                    "ingredient": [{"itemReference": {"reference": "Substance/s1"}}]}],
                "medicationReference": {"reference": "#m1"},
                "requester": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|99"},
                "encounter": {"reference": "urn:uuid:0b5a9a55-1111-2222-3333-444455556666", "display": "E"},
                "basedOn": [{"reference": "CarePlan/1/_history/2"}, {"reference": "http://ex.org/fhir/CarePlan/9"}]
            }),
            json!({
                "contained": [{"resourceType": "Medication", "id": "m1",
                    "ingredient": [{"item": {"Reference": {"resourceType": "Substance", "id": "s1"}}}]}],
                "medication": {"Reference": {"localRef": "m1"}},
                "requester": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|99"},
                "encounter": {"uri": "urn:uuid:0b5a9a55-1111-2222-3333-444455556666", "display": "E"},
                "basedOn": [{"reference": "CarePlan/1/_history/2"}, {"uri": "http://ex.org/fhir/CarePlan/9"}]
            }),
            false,
        );
        golden(
            "Bundle",
            json!({"type": "collection", "entry": [{"fullUrl": "urn:uuid:1",
                "resource": {"resourceType": "Observation", "id": "o", "valueBoolean": false,
                             "subject": {"reference": "Patient/p"}}}]}),
            json!({"type": "collection", "entry": [{"fullUrl": "urn:uuid:1",
                "resource": {"resourceType": "Observation", "id": "o", "value": {"boolean": false},
                             "subject": {"resourceType": "Patient", "id": "p"}}}]}),
            false,
        );
    }

    #[test]
    fn identifier_assigner_and_arrays_of_references() {
        golden(
            "Patient",
            json!({"identifier": [{"value": "1", "assigner": {"reference": "Organization/o1"}}],
                   "generalPractitioner": [{"reference": "Practitioner/a"}, {"reference": "Organization/b"}]}),
            json!({"identifier": [{"value": "1", "assigner": {"resourceType": "Organization", "id": "o1"}}],
                   "generalPractitioner": [{"resourceType": "Practitioner", "id": "a"},
                                           {"resourceType": "Organization", "id": "b"}]}),
            false,
        );
    }

    /// The first fixture resource of a type, converted.
    fn converted_fixture(rt: &str) -> (Value, Value) {
        let (_, line) = crate::fixture::resource_lines()
            .into_iter()
            .find(|(t, _)| t == rt)
            .unwrap();
        let original: Value = serde_json::from_str(&line).unwrap();
        let converted = forward(rt, original.clone(), false);
        (original, converted)
    }

    #[test]
    fn golden_real_fixture_resources() {
        let (fhir, aidbox) = converted_fixture("MedicationRequest");
        assert_eq!(
            aidbox["medication"],
            json!({"CodeableConcept": fhir["medicationCodeableConcept"]})
        );
        assert!(aidbox.get("medicationCodeableConcept").is_none());
        assert_eq!(
            aidbox["subject"],
            json!({"resourceType": "Patient", "id": "79a66c97-6131-3213-f3c9-4606946ab056"})
        );
        assert_eq!(
            aidbox["encounter"],
            json!({"resourceType": "Encounter", "id": "86d672c8-3119-04be-9d14-73c7cfb4a6e6"})
        );
        // Synthea's conditional reference is kept, with its display.
        assert_eq!(aidbox["requester"], fhir["requester"]);

        let (fhir, aidbox) = converted_fixture("Immunization");
        assert_eq!(
            aidbox["occurrence"],
            json!({"dateTime": "2014-08-19T01:16:46-04:00"})
        );
        assert_eq!(aidbox["patient"]["resourceType"], "Patient");
        // Synthea points at locations by identifier: a conditional reference, kept whole.
        assert_eq!(aidbox["location"], fhir["location"]);
        assert!(fhir["location"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Location?identifier="));

        let (fhir, aidbox) = converted_fixture("Encounter");
        assert_eq!(aidbox["subject"]["display"], fhir["subject"]["display"]);
        // participant.individual: a Reference inside a backbone element array (conditional,
        // so kept); the backbone's period and type are untouched.
        assert_eq!(aidbox["participant"], fhir["participant"]);
        assert_eq!(aidbox["serviceProvider"], fhir["serviceProvider"]);

        let (fhir, aidbox) = converted_fixture("Patient");
        // Extensions stay as they are by default (Aidbox's correct-aidbox-format = false).
        assert_eq!(aidbox["extension"], fhir["extension"]);
    }

    #[test]
    fn every_fixture_resource_round_trips() {
        let lines = crate::fixture::resource_lines();
        assert_eq!(lines.len(), 7160);
        let mut changed = 0;
        for (_, line) in &lines {
            let original: Value = serde_json::from_str(line).unwrap();
            let rt = original["resourceType"].as_str().unwrap();
            for correct in [false, true] {
                let converter = Converter {
                    correct_aidbox_format: correct,
                };
                let converted = forward(rt, original.clone(), correct);
                if converted != original {
                    changed += 1;
                }
                let mut m = converted.as_object().unwrap().clone();
                converter.to_fhir(rt, &mut m);
                assert_eq!(Value::Object(m), original, "{line}");
            }
        }
        assert!(changed > 7000, "the conversion did something: {changed}");
    }
}
