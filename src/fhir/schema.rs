//! The conversion schema: which elements of each resource, data type and backbone
//! element are choice types, References, resources or complex types to descend into.
//! Loaded once from the table that tools/gen_fhir_tables.py generated.

use serde_json::Value;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// Maps keyed by element names, looked up for every key of every object loaded:
/// FNV-1a instead of std's SipHash (no untrusted keys are inserted; lookups only
/// read), which was the costliest part of those lookups.
pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fnv1a>>;

#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type NodeId = usize;

/// What to do with an element's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Descend with this node (a data type or a backbone element).
    Complex(NodeId),
    /// A Reference: descend with node Reference, and convert its `reference`.
    Reference,
    /// A nested resource: descend by its own `resourceType`.
    Resource,
}

#[derive(Debug)]
pub struct Choice {
    /// Element base name (`value` for `value[x]`).
    pub base: String,
    /// Allowed type name (`Quantity`, `dateTime`) → what to do with a value of it.
    pub types: HashMap<String, Option<Visit>>,
}

#[derive(Debug)]
pub enum Element {
    Visit(Visit),
    Choice(usize),
}

#[derive(Debug, Default)]
pub struct Node {
    /// By FHIR element name; choices under their base name.
    pub elements: HashMap<String, Element>,
    /// FHIR key of a choice (`valueQuantity`) → (choice, type name).
    pub choice_keys: HashMap<String, (usize, String)>,
    /// Nothing to convert below it when extensions are left as they are.
    pub inert: bool,
}

#[derive(Debug)]
pub struct Schema {
    pub nodes: Vec<Node>,
    pub choices: Vec<Choice>,
    by_name: HashMap<String, NodeId>,
    pub reference: NodeId,
    pub extension: NodeId,
}

static R4_TABLE: &str = include_str!("r4_schema.json");

impl Schema {
    pub fn r4() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::parse(R4_TABLE))
    }

    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// The table is generated and committed: a malformed one is a build defect.
    fn parse(text: &str) -> Schema {
        let table: Value = serde_json::from_str(text).expect("r4_schema.json is valid JSON");
        let nodes_json = table["nodes"]
            .as_object()
            .expect("r4_schema.json has nodes");
        let by_name: HashMap<String, NodeId> = nodes_json
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        let visit = |code: &str| -> Option<Visit> {
            match code {
                "" => None,
                "r" => Some(Visit::Reference),
                "R" => Some(Visit::Resource),
                c => Some(Visit::Complex(
                    by_name[c.strip_prefix("c:").expect("visit codes start with c:")],
                )),
            }
        };
        let mut nodes = Vec::with_capacity(nodes_json.len());
        let mut choices = Vec::new();
        for elements in nodes_json.values() {
            let mut node = Node::default();
            for (name, spec) in elements.as_object().expect("a node is an object") {
                match spec {
                    Value::String(code) => {
                        if let Some(v) = visit(code) {
                            node.elements.insert(name.clone(), Element::Visit(v));
                        }
                    }
                    Value::Object(types) => {
                        let index = choices.len();
                        let mut choice = Choice {
                            base: name.clone(),
                            types: HashMap::default(),
                        };
                        for (ty, code) in types {
                            let key = format!("{name}{}", upper_first(ty));
                            node.choice_keys.insert(key, (index, ty.clone()));
                            choice
                                .types
                                .insert(ty.clone(), visit(code.as_str().unwrap_or("")));
                        }
                        choices.push(choice);
                        node.elements.insert(name.clone(), Element::Choice(index));
                    }
                    _ => panic!("r4_schema.json: bad element spec"),
                }
            }
            nodes.push(node);
        }
        for name in table["inert"].as_array().expect("r4_schema.json has inert") {
            nodes[by_name[name.as_str().unwrap_or_default()]].inert = true;
        }
        Schema {
            reference: by_name["Reference"],
            extension: by_name["Extension"],
            nodes,
            choices,
            by_name,
        }
    }
}

/// `dateTime` → `DateTime`: the FHIR key suffix of a choice type.
pub fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_choices_references_and_backbones() {
        let s = Schema::r4();
        let obs = &s.nodes[s.node("Observation").unwrap()];
        let (choice, ty) = &obs.choice_keys["valueQuantity"];
        assert_eq!(
            (s.choices[*choice].base.as_str(), ty.as_str()),
            ("value", "Quantity")
        );
        assert!(obs.choice_keys.contains_key("effectiveDateTime"));
        assert!(matches!(
            obs.elements["subject"],
            Element::Visit(Visit::Reference)
        ));
        assert!(matches!(
            obs.elements["contained"],
            Element::Visit(Visit::Resource)
        ));
        let component = s.node("Observation.component").unwrap();
        assert!(
            matches!(obs.elements["component"], Element::Visit(Visit::Complex(n)) if n == component)
        );
        assert!(s.nodes[component]
            .choice_keys
            .contains_key("valueCodeableConcept"));
        // valueSet is a canonical, not a choice: nothing to do with it.
        let vs = &s.nodes[s.node("Questionnaire.item").unwrap()];
        assert!(!vs.elements.contains_key("answerValueSet"));
        assert!(!vs.choice_keys.contains_key("answerValueSet"));
        let when = &s.nodes[s.node("Questionnaire.item.enableWhen").unwrap()];
        assert!(when.choice_keys.contains_key("answerCoding"));
        // ExplanationOfBenefit.related.reference is an Identifier, not a Reference.
        let related = &s.nodes[s.node("ExplanationOfBenefit.related").unwrap()];
        let identifier = s.node("Identifier").unwrap();
        assert!(
            matches!(related.elements["reference"], Element::Visit(Visit::Complex(n)) if n == identifier)
        );
        assert!(s.nodes[s.node("Coding").unwrap()].inert);
        assert!(
            !s.nodes[identifier].inert,
            "Identifier.assigner is a Reference"
        );
    }
}
