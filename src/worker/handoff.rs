//! Hands a job's parameters (credentials included) from the calling backend to its
//! workers through a pinned dynamic shared memory segment, never through a table
//! or the worker registration (which `pg_stat_activity` and logs can show).
//! The last worker to read it wipes and unpins it.

use pgrx::pg_sys;
use std::sync::atomic::{AtomicU32, Ordering};

/// Segment layout: readers left (u32), payload length (u32), payload bytes.
const HEADER: usize = 8;

/// Publishes `payload` for `readers` workers; returns the segment handle.
pub fn publish(payload: &[u8], readers: u32) -> u32 {
    unsafe {
        let seg = pg_sys::dsm_create(HEADER + payload.len(), 0);
        let base = pg_sys::dsm_segment_address(seg) as *mut u8;
        (*(base as *const AtomicU32)).store(readers, Ordering::SeqCst);
        (base.add(4) as *mut u32).write(payload.len() as u32);
        std::ptr::copy_nonoverlapping(payload.as_ptr(), base.add(HEADER), payload.len());
        pg_sys::dsm_pin_segment(seg);
        let handle = pg_sys::dsm_segment_handle(seg);
        pg_sys::dsm_detach(seg);
        handle
    }
}

/// Reads the payload once, as one of the expected readers. None if the segment is gone.
pub fn take(handle: u32) -> Option<Vec<u8>> {
    read_and_release(handle, true)
}

/// Gives up one reader's share without reading (a worker that never started).
pub fn forfeit(handle: u32) {
    read_and_release(handle, false);
}

fn read_and_release(handle: u32, read: bool) -> Option<Vec<u8>> {
    unsafe {
        let seg = pg_sys::dsm_attach(handle);
        if seg.is_null() {
            return None;
        }
        let base = pg_sys::dsm_segment_address(seg) as *mut u8;
        let len = (base.add(4) as *const u32).read() as usize;
        let payload = read.then(|| std::slice::from_raw_parts(base.add(HEADER), len).to_vec());
        let left = (*(base as *const AtomicU32)).fetch_sub(1, Ordering::SeqCst) - 1;
        if left == 0 {
            std::ptr::write_bytes(base.add(HEADER), 0, len);
            pg_sys::dsm_unpin_segment(handle);
        }
        pg_sys::dsm_detach(seg);
        payload
    }
}
