//! Typed reads from a JSON object, with errors that name the full key path and the value.

use serde_json::{Map, Value};

use crate::error::{Result, RunError};

/// Short JSON text of a value for error messages.
pub fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

/// An object being read under a key path such as `run_fingerprint`.
pub struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn new(path: impl Into<String>, map: &'a Map<String, Value>) -> Self {
        Self {
            path: path.into(),
            map,
        }
    }

    pub fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// The value under `key`; JSON `null` counts as absent (quantammsim fills nulls with
    /// defaults).
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn error(&self, key: &str, v: &Value, rule: impl Into<String>) -> RunError {
        RunError::config(self.field(key), show(v), rule)
    }

    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        Ok(self.opt_f64(key)?.unwrap_or(default))
    }

    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.error(key, v, "must be a number")),
        }
    }

    /// A non-negative whole number; `60.0` is accepted as 60 (Python writes floats).
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 1e15 => Ok(x as usize),
                _ => Err(self.error(key, v, "must be a whole number >= 0")),
            },
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.error(key, v, "must be true or false")),
        }
    }

    pub fn str_or(&self, key: &str, default: &'a str) -> Result<&'a str> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_str()
                .ok_or_else(|| self.error(key, v, "must be a string")),
        }
    }

    /// A number or a list of numbers.
    pub fn numbers(&self, key: &str) -> Result<Option<Vec<f64>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let list = match v {
            Value::Array(items) => items
                .iter()
                .map(Value::as_f64)
                .collect::<Option<Vec<f64>>>(),
            other => other.as_f64().map(|x| vec![x]),
        };
        list.map(Some)
            .ok_or_else(|| self.error(key, v, "must be a number or a list of numbers"))
    }

    /// A nested object, read under `path.key`.
    pub fn object(&self, key: &str) -> Result<Option<Fields<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields::new(self.field(key), map))),
            Some(v) => Err(self.error(key, v, "must be an object")),
        }
    }
}
