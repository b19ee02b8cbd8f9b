//! Fixtures shared by the integration tests: the reference cases copied into testdata/.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

pub fn reference_prices() -> PathBuf {
    testdata().join("reference/prices")
}

/// Every reference case directory, sorted by name.
pub fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(testdata().join("reference/cases"))
        .expect("testdata/reference/cases")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").exists())
        .collect();
    dirs.sort();
    dirs
}

pub fn case_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap()
}

pub fn fingerprint(case: &Value) -> &Value {
    &case["run_fingerprint"]
}

pub fn base_rule(case: &Value) -> String {
    let rule = fingerprint(case)["rule"].as_str().unwrap();
    rule.rsplit("__").next().unwrap().to_string()
}

pub fn is_zero_fee(case: &Value) -> bool {
    let fp = fingerprint(case);
    ["fees", "gas_cost", "arb_fees"]
        .iter()
        .all(|k| fp[k].as_f64().unwrap_or(0.0) == 0.0)
}

/// A gzip CSV of numbers: header and rows.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    pub fn read(path: &Path) -> Table {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let mut lines = text.lines();
        let header = lines
            .next()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        let rows = lines
            .map(|l| l.split(',').map(|x| x.parse::<f64>().unwrap()).collect())
            .collect();
        Table { header, rows }
    }

    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    /// Columns whose name starts with `prefix`, in file order.
    pub fn cols(&self, prefix: &str) -> Vec<usize> {
        (0..self.header.len())
            .filter(|&i| self.header[i].starts_with(prefix))
            .collect()
    }
}

/// The larger of two differences, NaN winning (`f64::max` would drop it).
pub fn worst(a: f64, b: f64) -> f64 {
    if a.is_nan() || a > b { a } else { b }
}

/// Largest `|a - b|` (NaN if any).
pub fn max_abs(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, worst)
}

/// Largest `|a / b - 1|` (NaN if any).
pub fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x / y - 1.0).abs())
        .fold(0.0, worst)
}
