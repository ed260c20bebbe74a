//! FHIR knowledge: the resource types, the schema tables generated from the R4
//! StructureDefinitions, and the FHIR ⇄ Aidbox format conversion.

mod convert;
mod reference;
mod resource_types;
pub mod row_fields;
mod schema;

pub use convert::Converter;
pub use resource_types::FHIR_R4_RESOURCE_TYPES;
