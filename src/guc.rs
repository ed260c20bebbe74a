//! Settings (GUCs) of the extension.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// `aidbox_bulk.direct_insert`: write plain loads with heap_multi_insert (as COPY
/// does) where the table qualifies; off = always through SQL INSERT.
pub static DIRECT_INSERT: GucSetting<bool> = GucSetting::<bool>::new(true);

pub fn register() {
    GucRegistry::define_bool_guc(
        c"aidbox_bulk.direct_insert",
        c"Load rows with heap_multi_insert instead of SQL INSERT where the table allows it.",
        c"Used for plain (non-upsert) loads into heap tables with exactly the Aidbox columns and no triggers, rules, CHECK constraints or row security.",
        &DIRECT_INSERT,
        GucContext::Suset,
        GucFlags::default(),
    );
}
