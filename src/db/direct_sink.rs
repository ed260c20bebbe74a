//! The fast row sink for plain (non-upsert) loads: rows go into the heap with
//! `heap_multi_insert` and into the indexes with `ExecInsertIndexTuples`, as COPY
//! does, from jsonb datums built on the parsing thread — no SQL, no JSON parsing,
//! one WAL record per page instead of one per row.
//!
//! It is used only where it is exactly equivalent to the SQL INSERT: a plain heap
//! table with the seven Aidbox columns and their types, no triggers, rules, CHECK
//! constraints or row security, and INSERT privilege for the loading role.
//! Anything else falls back to `RowSink`'s SQL path.

use super::spi_error;
use crate::bucket::naming::table_name;
use crate::error::Result;
use crate::load::row::Row;
use pgrx::prelude::*;
use pgrx::{PgBox, PgMemoryContexts};

/// 0-based positions of the Aidbox columns in the table's tuple descriptor.
#[derive(Debug, Clone, Copy)]
struct Columns {
    natts: usize,
    id: usize,
    txid: usize,
    ts: usize,
    cts: usize,
    resource_type: usize,
    status: usize,
    resource: usize,
}

pub struct DirectSink {
    rel: pg_sys::Relation,
    estate: *mut pg_sys::EState,
    result_rel: *mut pg_sys::ResultRelInfo,
    bulk_state: pg_sys::BulkInsertState,
    slots: Vec<*mut pg_sys::TupleTableSlot>,
    columns: Columns,
    sequence: pg_sys::Oid,
    created: pg_sys::Datum,
    resource_type: pg_sys::Datum,
    command_id: pg_sys::CommandId,
    /// The `resource` column compresses with pglz (its own setting, or the default's).
    pub compresses_with_pglz: bool,
}

/// What `qualify` found: the table, its sequence, the `created` label, the layout.
struct Qualified {
    relid: pg_sys::Oid,
    sequence: pg_sys::Oid,
    created: pg_sys::Oid,
    columns: Columns,
    pglz: bool,
}

/// What the catalog says about a candidate table; None when it does not qualify.
fn qualify(schema: &str, table: &str) -> Result<Option<Qualified>> {
    let found = Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT c.oid,
                        to_regclass(quote_ident($1) || '.transaction_id_seq')::oid,
                        (SELECT e.oid FROM pg_attribute a JOIN pg_enum e ON e.enumtypid = a.atttypid
                          WHERE a.attrelid = c.oid AND a.attname = 'status' AND e.enumlabel = 'created'),
                        (SELECT a.attstorage IN ('x', 'm')
                                AND coalesce(nullif(a.attcompression::text, ''),
                                             left(current_setting('default_toast_compression'), 1)) = 'p'
                           FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'resource')
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'
                    AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'heap')
                    AND NOT c.relhastriggers AND NOT c.relhasrules AND c.relchecks = 0
                    AND NOT c.relrowsecurity AND has_table_privilege(c.oid, 'INSERT')",
                None,
                &[schema.into(), table.into()],
            )
            .map_err(spi_error)?;
        let mut found = (None, None, None, None);
        for row in rows {
            found = (
                row.get::<pg_sys::Oid>(1).map_err(spi_error)?,
                row.get::<pg_sys::Oid>(2).map_err(spi_error)?,
                row.get::<pg_sys::Oid>(3).map_err(spi_error)?,
                row.get::<bool>(4).map_err(spi_error)?,
            );
        }
        Ok::<_, crate::error::LoadError>(found)
    })?;
    let (Some(relid), Some(sequence), Some(created), pglz) = found else {
        return Ok(None);
    };
    let layout = Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT attnum::int, attname::text, atttypid, attisdropped
                   FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 ORDER BY attnum",
                None,
                &[relid.into()],
            )
            .map_err(spi_error)?;
        let mut natts = 0usize;
        let mut cols: [Option<usize>; 7] = [None; 7];
        let names = [
            "id",
            "txid",
            "ts",
            "cts",
            "resource_type",
            "status",
            "resource",
        ];
        let types = [
            pg_sys::TEXTOID,
            pg_sys::INT8OID,
            pg_sys::TIMESTAMPTZOID,
            pg_sys::TIMESTAMPTZOID,
            pg_sys::TEXTOID,
            pg_sys::InvalidOid,
            pg_sys::JSONBOID,
        ];
        for row in rows {
            let num = row.get::<i32>(1).map_err(spi_error)?.unwrap_or(0) as usize;
            let name = row.get::<String>(2).map_err(spi_error)?.unwrap_or_default();
            let ty = row
                .get::<pg_sys::Oid>(3)
                .map_err(spi_error)?
                .unwrap_or(pg_sys::InvalidOid);
            let dropped = row.get::<bool>(4).map_err(spi_error)?.unwrap_or(false);
            natts = natts.max(num);
            if dropped {
                continue;
            }
            match names.iter().position(|n| *n == name) {
                // status is an enum (its `created` label was found above).
                Some(i) if types[i] == ty || (i == 5) => cols[i] = Some(num - 1),
                _ => return Ok(None),
            }
        }
        Ok(match cols {
            [Some(id), Some(txid), Some(ts), Some(cts), Some(resource_type), Some(status), Some(resource)] => {
                Some(Columns {
                    natts,
                    id,
                    txid,
                    ts,
                    cts,
                    resource_type,
                    status,
                    resource,
                })
            }
            _ => None,
        })
    })?;
    Ok(layout.map(|columns| Qualified {
        relid,
        sequence,
        created,
        columns,
        pglz: pglz.unwrap_or(false),
    }))
}

impl DirectSink {
    /// Whether the table qualifies and its `resource` compresses with pglz.
    pub fn compresses_with_pglz(schema: &str, resource_type: &str) -> Result<bool> {
        Ok(qualify(schema, &table_name(resource_type))?.is_some_and(|q| q.pglz))
    }

    /// Opens the fast path for `schema.lower(resource_type)`, or None to use SQL.
    /// Everything it allocates lives in the file's transaction.
    pub fn open(schema: &str, resource_type: &str) -> Result<Option<DirectSink>> {
        let Some(Qualified {
            relid,
            sequence,
            created,
            columns,
            pglz,
        }) = qualify(schema, &table_name(resource_type))?
        else {
            return Ok(None);
        };
        unsafe {
            let rel = pg_sys::table_open(relid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
            let estate = pg_sys::CreateExecutorState();
            let result_rel =
                PgBox::<pg_sys::ResultRelInfo>::alloc_node(pg_sys::NodeTag::T_ResultRelInfo)
                    .into_pg();
            pg_sys::InitResultRelInfo(result_rel, rel, 1, std::ptr::null_mut(), 0);
            pg_sys::ExecOpenIndices(result_rel, false);
            let text = pg_sys::cstring_to_text_with_len(
                resource_type.as_ptr() as *const std::ffi::c_char,
                resource_type.len() as i32,
            );
            Ok(Some(DirectSink {
                rel,
                estate,
                result_rel,
                bulk_state: pg_sys::GetBulkInsertState(),
                slots: Vec::new(),
                columns,
                sequence,
                created: pg_sys::Datum::from(created),
                resource_type: pg_sys::Datum::from(text),
                command_id: pg_sys::GetCurrentCommandId(true),
                compresses_with_pglz: pglz,
            }))
        }
    }

    pub fn insert(&mut self, rows: &[Row]) -> Result<()> {
        while self.slots.len() < rows.len() {
            self.slots
                .push(unsafe { pg_sys::table_slot_create(self.rel, std::ptr::null_mut()) });
        }
        let c = self.columns;
        let now = pg_sys::Datum::from(unsafe { pg_sys::GetCurrentTransactionStartTimestamp() });
        let mut batch_context = PgMemoryContexts::new("aidbox_bulk direct batch");
        unsafe {
            batch_context.switch_to(|_| {
                for (row, &slot) in rows.iter().zip(&self.slots) {
                    pg_sys::ExecClearTuple(slot);
                    let values = std::slice::from_raw_parts_mut((*slot).tts_values, c.natts);
                    let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, c.natts);
                    nulls.fill(true);
                    let txid = pgrx::fcinfo::direct_function_call_as_datum(
                        pg_sys::nextval_oid,
                        &[Some(pg_sys::Datum::from(self.sequence))],
                    )
                    .unwrap_or(pg_sys::Datum::from(0));
                    let id = pg_sys::cstring_to_text_with_len(
                        row.id.as_ptr() as *const std::ffi::c_char,
                        row.id.len() as i32,
                    );
                    // The datum points into the row's own buffer, not a copy: the
                    // heap slot forms its tuple from it in heap_multi_insert, below,
                    // while `rows` is alive, and nothing reads it after that.
                    let resource = row.jsonb.as_ptr();
                    for (i, v) in [
                        (c.id, pg_sys::Datum::from(id)),
                        (c.txid, txid),
                        (c.ts, now),
                        (c.cts, now),
                        (c.resource_type, self.resource_type),
                        (c.status, self.created),
                        (c.resource, pg_sys::Datum::from(resource)),
                    ] {
                        values[i] = v;
                        nulls[i] = false;
                    }
                    pg_sys::ExecStoreVirtualTuple(slot);
                }
                let n = rows.len();
                pg_sys::heap_multi_insert(
                    self.rel,
                    self.slots.as_mut_ptr(),
                    n as i32,
                    self.command_id,
                    0,
                    self.bulk_state,
                );
                if (*self.result_rel).ri_NumIndices > 0 {
                    for &slot in &self.slots[..n] {
                        pg_sys::ExecInsertIndexTuples(
                            self.result_rel,
                            slot,
                            self.estate,
                            false,
                            false,
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                        );
                        let econtext = (*self.estate).es_per_tuple_exprcontext;
                        if !econtext.is_null() {
                            pg_sys::MemoryContextReset((*econtext).ecxt_per_tuple_memory);
                        }
                    }
                }
                Ok(())
            })
        }
    }

    /// Releases what `open` took; on an error the transaction's abort does it.
    pub fn finish(self) {
        unsafe {
            for slot in self.slots {
                pg_sys::ExecDropSingleTupleTableSlot(slot);
            }
            pg_sys::FreeBulkInsertState(self.bulk_state);
            pg_sys::ExecCloseIndices(self.result_rel);
            pg_sys::FreeExecutorState(self.estate);
            pg_sys::table_close(self.rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        }
    }
}
