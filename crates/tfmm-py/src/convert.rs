//! Python objects to JSON and back, and tfmm errors to Python exceptions.
//!
//! Configs cross as `serde_json::Value`, the form every tfmm config parser reads, so a dict
//! from Python is checked by exactly the code that checks a config file and fails with the
//! same message.

use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::{IntoPyObjectExt, PyErr};
use serde_json::{Map, Number, Value};
use tfmm_data::DataError;
use tfmm_run::RunError;

/// A tfmm error as the Python exception a caller expects: files that cannot be found or read
/// are `OSError`s, everything else (values outside their domain, unknown keys, bad data) is a
/// `ValueError`; the message is the CLI's, word for word.
pub fn error(e: RunError) -> PyErr {
    let message = e.to_string();
    match e {
        RunError::Io { source, .. } | RunError::Data(DataError::Io { source, .. }) => {
            // With its errno Python picks the subclass (`FileNotFoundError`,
            // `PermissionError`, ...).
            match source.raw_os_error() {
                Some(errno) => PyOSError::new_err((errno, message)),
                None => PyOSError::new_err(message),
            }
        }
        RunError::Data(DataError::NotFound { .. }) => PyFileNotFoundError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// `path` for a key under `parent` (`pool.tokens`, `pool.tokens[1]`).
fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// How deeply a config may nest: far beyond any real config, and short of the stack's end
/// (a dict that contains itself would otherwise recurse until the process dies).
const MAX_DEPTH: usize = 128;

/// A config (or any value inside one) as JSON. `path` names where it sits, for the error.
/// numpy arrays and scalars become lists and numbers (through `tolist`), `os.PathLike`
/// objects strings; a float that is not finite is refused here because JSON cannot carry it.
pub fn to_json(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    value_at(obj, path, 0)
}

/// [`to_json`] of a value `depth` containers deep.
fn value_at(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<Value> {
    let at = || if path.is_empty() { "config" } else { path };
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "{}: nested more than {MAX_DEPTH} levels deep (does it contain itself?)",
            at()
        )));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // `bool` is a subclass of `int`: test it first.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(PyValueError::new_err(format!(
            "{} = {obj}: is too large for a 64-bit integer",
            at()
        )));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let x = f.value();
        return Number::from_f64(x).map(Value::Number).ok_or_else(|| {
            PyValueError::new_err(format!("{} = {x}: must be a finite number", at()))
        });
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in d.iter() {
            let Ok(key) = k.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!(
                    "{}: key {} is a {}, not a string",
                    at(),
                    k.repr()?,
                    k.get_type().name()?
                )));
            };
            let key = key.to_cow()?.into_owned();
            let value = value_at(&v, &child(path, &key), depth + 1)?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return obj
            .try_iter()?
            .enumerate()
            .map(|(i, item)| value_at(&item?, &format!("{}[{i}]", at()), depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if obj.hasattr("tolist")? {
        return value_at(&obj.call_method0("tolist")?, path, depth + 1);
    }
    if obj.hasattr("__fspath__")? {
        return value_at(&obj.call_method0("__fspath__")?, path, depth + 1);
    }
    Err(PyTypeError::new_err(format!(
        "{} = {}: a {} cannot appear in a config (give dicts, lists, strings, numbers, booleans \
         or None)",
        at(),
        obj.repr()?,
        obj.get_type().name()?
    )))
}

/// JSON as plain Python objects: dicts, lists, str, int, float, bool and None.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    match value {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_bound_py_any(py),
            (_, Some(u)) => u.into_bound_py_any(py),
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py),
        },
        Value::String(s) => s.into_bound_py_any(py),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            Ok(list.into_any())
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            Ok(dict.into_any())
        }
    }
}
