//! Aidbox's tables, created when missing: resource tables (main and `_history`),
//! `transaction_id_seq`, and the LoaderFile / DisabledIndex tables.

use super::spi_error;
use crate::bucket::naming::table_name;
use crate::error::Result;
use pgrx::prelude::*;
use pgrx::spi::quote_identifier;

/// The tables that hold the loader's own records, never loaded from a bucket.
pub const BOOKKEEPING_TABLES: [&str; 2] = ["loaderfile", "disabledindex"];

/// Serialises the loader's DDL across concurrent calls.
const DDL_LOCK: i64 = 0x0041_424B_0000_0001;

fn q(ident: &str) -> String {
    quote_identifier(ident)
}

/// Creates the schema, `resource_status`, `transaction_id_seq` and the bookkeeping
/// tables when missing. Runs in the caller's transaction.
pub fn ensure_base(schema: &str) -> Result<()> {
    let s = q(schema);
    Spi::run(&format!("SELECT pg_advisory_xact_lock({DDL_LOCK})")).map_err(spi_error)?;
    let has_schema = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
        &[schema.into()],
    )
    .map_err(spi_error)?
    .unwrap_or(false);
    if !has_schema {
        Spi::run(&format!("CREATE SCHEMA {s}")).map_err(spi_error)?;
    }
    let has_status_type = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE n.nspname = $1 AND t.typname = 'resource_status')",
        &[schema.into()],
    )
    .map_err(spi_error)?
    .unwrap_or(false);
    if !has_status_type {
        Spi::run(&format!(
            "CREATE TYPE {s}.resource_status AS ENUM ('created', 'updated', 'deleted', 'recreated')"
        ))
        .map_err(spi_error)?;
    }
    if !relation_exists(schema, "transaction_id_seq")? {
        if relation_exists(schema, "transaction")? {
            Spi::run(&format!("CREATE SEQUENCE {s}.transaction_id_seq")).map_err(spi_error)?;
        } else {
            // fhirbase's table, with a bigint id as Aidbox has used since 2209.
            Spi::run(&format!(
                "CREATE TABLE {s}.transaction (id bigserial PRIMARY KEY,
                   ts timestamptz DEFAULT current_timestamp, resource jsonb)"
            ))
            .map_err(spi_error)?;
        }
    }
    for (table, resource_type) in [
        ("loaderfile", "LoaderFile"),
        ("disabledindex", "DisabledIndex"),
    ] {
        ensure_resource_table(schema, table, resource_type)?;
    }
    Spi::run(&format!(
        "CREATE INDEX IF NOT EXISTS loaderfile_bucket_file_idx ON {s}.loaderfile
           ((resource->>'bucket'), (resource->>'file'))"
    ))
    .map_err(spi_error)?;
    Ok(())
}

/// Creates the main and `_history` tables of a resource type when missing, with
/// Aidbox's DDL.
pub fn ensure_resource_table(schema: &str, table: &str, resource_type: &str) -> Result<()> {
    let s = q(schema);
    let default_type = resource_type.replace('\'', "''");
    for (name, pk) in [
        (table.to_string(), "id"),
        (format!("{table}_history"), "id, txid"),
    ] {
        Spi::run(&format!(
            "CREATE TABLE IF NOT EXISTS {s}.{t} (
               id text NOT NULL,
               txid bigint NOT NULL,
               ts timestamptz DEFAULT now(),
               cts timestamptz DEFAULT now(),
               resource_type text DEFAULT '{default_type}',
               status {s}.resource_status NOT NULL,
               resource jsonb NOT NULL,
               PRIMARY KEY ({pk}))",
            t = q(&name)
        ))
        .map_err(spi_error)?;
    }
    Ok(())
}

/// Creates the tables of every FHIR type among `resource_types` that has none.
pub fn ensure_resource_tables<'a>(
    schema: &str,
    resource_types: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    for t in resource_types {
        let table = table_name(t);
        if !relation_exists(schema, &table)? {
            ensure_resource_table(schema, &table, t)?;
        }
    }
    Ok(())
}

pub fn relation_exists(schema: &str, name: &str) -> Result<bool> {
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2)",
        &[schema.into(), name.into()],
    )
    .map_err(spi_error)
    .map(|b| b.unwrap_or(false))
}

/// Tables of `schema` with the Aidbox column layout: the custom resource types.
/// History tables and the loader's own tables are left out.
pub fn aidbox_layout_tables(schema: &str) -> Result<Vec<String>> {
    let tables = super::select_strings(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
            AND c.relname NOT LIKE '%\\_history'
            AND (SELECT count(*) FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND NOT a.attisdropped
                    AND a.attname IN ('id', 'txid', 'ts', 'cts', 'resource_type', 'status', 'resource')) = 7",
        &[schema.into()],
    )?;
    Ok(tables
        .into_iter()
        .filter(|t| !BOOKKEEPING_TABLES.contains(&t.as_str()))
        .collect())
}
