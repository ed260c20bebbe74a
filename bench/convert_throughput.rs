//! Conversion throughput on one thread, in MB/s of NDJSON input.
//!
//! usage: cargo run --release --example convert_throughput [seconds]
//!
//! Measures, over the Synthea fixture's 7,160 resources repeated for a few seconds:
//! - parse only, with serde_json (a reference point: the loader used it before);
//! - parse only, into the loader's own tree (`json::parse`);
//! - parse and convert (FHIR -> Aidbox);
//! - the whole per-line work of a parsing thread: parse, check, strip, convert,
//!   encode the jsonb datum (`encode_line`);
//! - the same plus pglz compression of rows over the TOAST threshold.

use aidbox_bulk::fhir::Converter;
use aidbox_bulk::json::{self, Json};
use aidbox_bulk::load::row::{compress_like_toast, encode_line};
use std::time::{Duration, Instant};

/// Runs `pass` over all lines until `budget` has passed; returns MB/s and lines/s.
fn measure(
    lines: &[(String, String)],
    budget: Duration,
    mut pass: impl FnMut(&str, &str),
) -> (f64, f64) {
    let bytes: usize = lines.iter().map(|(_, l)| l.len() + 1).sum();
    let start = Instant::now();
    let mut rounds = 0usize;
    while start.elapsed() < budget {
        for (rt, line) in lines {
            pass(rt, line);
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    (
        (bytes * rounds) as f64 / secs / 1e6,
        (lines.len() * rounds) as f64 / secs,
    )
}

/// One measured step: (resource type, line) -> ().
type Step<'a> = Box<dyn Fn(&str, &str) + 'a>;

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let budget = Duration::from_secs(seconds);
    let lines = aidbox_bulk::fixture::resource_lines();
    let mb: f64 = lines.iter().map(|(_, l)| l.len() + 1).sum::<usize>() as f64 / 1e6;
    println!("input: {} resources, {mb:.1} MB of NDJSON (Synthea fixture), {seconds} s per measure, one thread", lines.len());
    let converter = Converter::default();
    let arena = std::cell::RefCell::new(json::Bump::new());

    let steps: [(&str, Step); 5] = [
        (
            "parse only (serde_json tree, for reference)",
            Box::new(|_, line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                std::hint::black_box(v);
            }),
        ),
        (
            "parse only (json::parse)",
            Box::new(|_, line| {
                let mut arena = arena.borrow_mut();
                arena.reset();
                let tree = json::parse(line, &arena).unwrap();
                std::hint::black_box(&tree);
                // Freed by the reset, as in the loader.
                std::mem::forget(tree);
            }),
        ),
        (
            "parse + convert (FHIR -> Aidbox)",
            Box::new(|rt, line| {
                let mut arena = arena.borrow_mut();
                arena.reset();
                let Json::Object(mut obj) = json::parse(line, &arena).unwrap() else {
                    panic!("not an object")
                };
                converter.to_aidbox(rt, &mut obj);
                std::hint::black_box(&obj);
                std::mem::forget(obj);
            }),
        ),
        (
            "whole line: parse, check, strip, convert, encode the jsonb datum",
            Box::new(|rt, line| {
                let row = encode_line(line.as_bytes(), 1, rt, Some(&converter)).unwrap();
                std::hint::black_box(row);
            }),
        ),
        (
            "whole line + pglz for rows over the TOAST threshold",
            Box::new(|rt, line| {
                let mut row = encode_line(line.as_bytes(), 1, rt, Some(&converter)).unwrap();
                compress_like_toast(&mut row, rt);
                std::hint::black_box(row);
            }),
        ),
    ];
    println!("| step | MB/s | resources/s |");
    println!("|---|---:|---:|");
    for (name, step) in &steps {
        let (mbs, lps) = measure(&lines, budget, |rt, line| step(rt, line));
        println!("| {name} | {mbs:.0} | {lps:.0} |");
    }
}
