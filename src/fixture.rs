//! The Synthea fixture's resource lines, for tests and benchmarks.

use std::io::BufRead;
use std::path::PathBuf;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/synthea-10")
}

/// (resource type from the file name, line) for every resource of every file
/// but the export log, in file order.
pub fn resource_lines() -> Vec<(String, String)> {
    let mut paths: Vec<_> = std::fs::read_dir(dir())
        .expect("fixtures/synthea-10 exists")
        .map(|e| e.expect("readable fixture folder").path())
        .collect();
    paths.sort();
    let mut lines = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if name.starts_with("log.") {
            continue;
        }
        let resource_type = name.split('.').next().unwrap_or_default().to_string();
        let file = std::fs::File::open(&path).expect("readable fixture file");
        for line in std::io::BufReader::new(flate2::read::GzDecoder::new(file)).lines() {
            let line = line.expect("gzip fixture");
            if !line.trim().is_empty() {
                lines.push((resource_type.clone(), line));
            }
        }
    }
    lines
}
