//! FHIR knowledge: the resource types and the FHIR → Aidbox format conversion.

pub mod convert;
mod resource_types;

pub use resource_types::FHIR_R4_RESOURCE_TYPES;
