//! Which objects of a bucket are loadable, and as which resource type.
//!
//! The basename must start, case-insensitively, with a known resource type and end
//! with `.ndjson` or `.ndjson.gz`; the longest matching type wins, so
//! `MedicationRequest.000.ndjson.gz` is a MedicationRequest, not a Medication.

/// The resource types a bucket's files may hold, longest name first.
#[derive(Debug, Clone)]
pub struct TypeSet {
    /// (lower-case name, canonical spelling); custom types from tables have none.
    entries: Vec<(String, Option<String>)>,
}

impl TypeSet {
    /// `fhir` are canonical type names; `custom_tables` are table names of custom
    /// resources (any case), whose canonical spelling is taken from the file name.
    pub fn new<'a>(
        fhir: impl IntoIterator<Item = &'a str>,
        custom_tables: impl IntoIterator<Item = String>,
    ) -> TypeSet {
        let mut entries: Vec<(String, Option<String>)> = fhir
            .into_iter()
            .map(|t| (t.to_ascii_lowercase(), Some(t.to_string())))
            .collect();
        for table in custom_tables {
            let lower = table.to_ascii_lowercase();
            if !entries.iter().any(|(l, _)| *l == lower) {
                entries.push((lower, None));
            }
        }
        entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        TypeSet { entries }
    }

    /// The canonical resource type of an object key, or None when the object is ignored.
    pub fn resource_type_of(&self, key: &str) -> Option<String> {
        if key.ends_with('/') {
            return None;
        }
        let base = key.rsplit('/').next().unwrap_or(key);
        let lower = base.to_ascii_lowercase();
        if !(lower.ends_with(".ndjson") || lower.ends_with(".ndjson.gz")) {
            return None;
        }
        self.entries
            .iter()
            .find(|(name, _)| lower.starts_with(name.as_str()))
            .map(|(name, canonical)| match canonical {
                Some(c) => c.clone(),
                None => base[..name.len()].to_string(),
            })
    }
}

/// The table of a resource type: its name in lower case.
pub fn table_name(resource_type: &str) -> String {
    resource_type.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::FHIR_R4_RESOURCE_TYPES;

    fn fhir() -> TypeSet {
        TypeSet::new(FHIR_R4_RESOURCE_TYPES, Vec::new())
    }

    #[test]
    fn aidbox_documented_examples() {
        let t = fhir();
        assert_eq!(
            t.resource_type_of("fhir/1/Patient.ndjson.gz").as_deref(),
            Some("Patient")
        );
        assert_eq!(
            t.resource_type_of("fhir/1/patient-01.ndjson.gz").as_deref(),
            Some("Patient")
        );
        assert_eq!(
            t.resource_type_of("Observation.ndjson.gz").as_deref(),
            Some("Observation")
        );
        assert_eq!(t.resource_type_of("import.ndjson"), None);
        assert_eq!(t.resource_type_of("01-patient.ndjson.gz"), None);
        assert_eq!(t.resource_type_of("fhir/Patient"), None);
    }

    #[test]
    fn longest_type_wins() {
        let t = fhir();
        assert_eq!(
            t.resource_type_of("MedicationRequest.000.ndjson.gz")
                .as_deref(),
            Some("MedicationRequest")
        );
        assert_eq!(
            t.resource_type_of("Medication.000.ndjson").as_deref(),
            Some("Medication")
        );
        assert_eq!(
            t.resource_type_of("a/b/c/d/PRACTITIONERROLE.x.NDJSON.GZ")
                .as_deref(),
            Some("PractitionerRole")
        );
    }

    #[test]
    fn only_ndjson_names_and_no_directory_markers() {
        let t = fhir();
        assert_eq!(t.resource_type_of("log.ndjson.gz"), None);
        assert_eq!(t.resource_type_of("Patient.json"), None);
        assert_eq!(t.resource_type_of("Patient.ndjson.gz.tmp"), None);
        assert_eq!(t.resource_type_of("Patient.ndjson/"), None);
        assert_eq!(t.resource_type_of("Patient/data.ndjson"), None);
        assert_eq!(
            t.resource_type_of("Organization.1721218811633.ndjson")
                .as_deref(),
            Some("Organization")
        );
    }

    #[test]
    fn custom_resources_come_from_tables() {
        let t = TypeSet::new(
            FHIR_R4_RESOURCE_TYPES,
            vec!["mything".to_string(), "patient".to_string()],
        );
        assert_eq!(
            t.resource_type_of("MyThing.1.ndjson").as_deref(),
            Some("MyThing")
        );
        assert_eq!(
            t.resource_type_of("patient.1.ndjson").as_deref(),
            Some("Patient")
        );
        assert_eq!(table_name("MedicationRequest"), "medicationrequest");
    }
}
