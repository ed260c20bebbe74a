//! Conversion throughput on one thread, in MB/s of NDJSON input.
//!
//! usage: cargo run --release --example convert_throughput [seconds]
//!
//! Measures, over the Synthea fixture's 7,160 resources repeated for a few seconds:
//! - parse only (serde_json, the lower bound of any line's cost);
//! - convert only (FHIR -> Aidbox on an already parsed value);
//! - the whole per-line work of the parsing thread: parse, check, strip, convert,
//!   serialize (`encode_line`).

use aidbox_bulk::fhir::Converter;
use aidbox_bulk::load::row::encode_line;
use serde_json::Value;
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

    let (parse_mbs, parse_lps) = measure(&lines, budget, |_, line| {
        let v: Value = serde_json::from_str(line).unwrap();
        std::hint::black_box(v);
    });
    let parsed: Vec<(String, serde_json::Map<String, Value>)> = lines
        .iter()
        .map(|(rt, l)| (rt.clone(), serde_json::from_str(l).unwrap()))
        .collect();
    let start = Instant::now();
    let mut rounds = 0usize;
    while start.elapsed() < budget {
        for (rt, obj) in &parsed {
            let mut copy = obj.clone();
            converter.to_aidbox(rt, &mut copy);
            std::hint::black_box(copy);
        }
        rounds += 1;
    }
    let clone_and_convert = start.elapsed().as_secs_f64();
    let clone_start = Instant::now();
    for _ in 0..rounds {
        for (_, obj) in &parsed {
            std::hint::black_box(obj.clone());
        }
    }
    let convert_secs = (clone_and_convert - clone_start.elapsed().as_secs_f64()).max(1e-9);
    let convert_mbs = mb * rounds as f64 / convert_secs;
    let (encode_mbs, encode_lps) = measure(&lines, budget, |rt, line| {
        let row = encode_line(line.as_bytes(), 1, rt, Some(&converter)).unwrap();
        std::hint::black_box(row);
    });
    println!("| step | MB/s | resources/s |");
    println!("|---|---:|---:|");
    println!("| parse only (serde_json) | {parse_mbs:.0} | {parse_lps:.0} |");
    println!(
        "| convert only (FHIR -> Aidbox, parsed value, clone cost removed) | {convert_mbs:.0} | {:.0} |",
        lines.len() as f64 * rounds as f64 / convert_secs
    );
    println!("| whole line: parse + check + strip + convert + serialize | {encode_mbs:.0} | {encode_lps:.0} |");
}
