//! `tfmm._tfmm`: the native half of the `tfmm` Python package. The only crate that knows
//! Python. Each entry point takes a config dict (native or quantammsim-case form) and
//! optionally prices already in memory, does what the matching CLI subcommand does, and hands
//! back numpy arrays and plain dicts; the pure-Python layer (`python/tfmm`) wraps them in
//! typed, picklable results.
//!
//! Python objects are read and built only while the GIL is held; parsing, loading and
//! simulating run with it released (`Python::detach`), so runs on several Python threads
//! proceed in parallel.

mod convert;

use std::path::{Path, PathBuf};

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Value, json};
use tfmm_data::{PriceTable, QUOTE_TOKENS};
use tfmm_run::{Report, RunConfig, RunError};
use tfmm_train::TrainingConfig;

use convert::{error, to_json, to_py};

/// Prices handed over from Python, copied out of the caller's array while the GIL is held
/// (another thread may write to a numpy array at any time).
struct Memory {
    /// Column names (a DataFrame's), `None`: columns in the config's token order.
    columns: Option<Vec<String>>,
    rows: usize,
    cols: usize,
    /// Row-major `rows x cols`.
    values: Vec<f64>,
    start_ms: i64,
}

impl Memory {
    fn read(
        prices: Option<PyReadonlyArray2<'_, f64>>,
        columns: Option<Vec<String>>,
        start_ms: Option<i64>,
    ) -> PyResult<Option<Memory>> {
        let Some(prices) = prices else {
            return Ok(None);
        };
        let [rows, cols] = [prices.shape()[0], prices.shape()[1]];
        let Some(start_ms) = start_ms else {
            return Err(PyValueError::new_err(
                "start: prices given as an array need the time of their first row (start=, a \
                 UTC \"YYYY-MM-DD HH:MM:SS\", unix ms or a datetime)",
            ));
        };
        if let Some(names) = &columns
            && names.len() != cols
        {
            return Err(PyValueError::new_err(format!(
                "prices: {} column names for an array of shape ({rows}, {cols})",
                names.len()
            )));
        }
        // A strided or Fortran-ordered array is copied row by row.
        let values = match prices.as_slice() {
            Ok(s) => s.to_vec(),
            Err(_) => prices.as_array().iter().copied().collect(),
        };
        Ok(Some(Memory {
            columns,
            rows,
            cols,
            values,
            start_ms,
        }))
    }

    /// The prices of `tokens`, in that order: columns picked by name when the caller named
    /// them, quote tokens without a column priced 1 (as when loading files).
    fn table(&self, tokens: &[String]) -> PyResult<PriceTable> {
        let n = tokens.len();
        let source: Vec<Option<usize>> = match &self.columns {
            None if self.cols != n => {
                return Err(PyValueError::new_err(format!(
                    "prices: shape ({}, {}) has {} columns but the pool holds {n} tokens ({}); \
                     give one column per token in that order, or a DataFrame with token-named \
                     columns",
                    self.rows,
                    self.cols,
                    self.cols,
                    tokens.join(", ")
                )));
            }
            None => (0..n).map(Some).collect(),
            Some(names) => tokens
                .iter()
                .map(|t| match names.iter().position(|c| c == t) {
                    Some(i) => Ok(Some(i)),
                    None if QUOTE_TOKENS.contains(&t.as_str()) => Ok(None),
                    None => Err(PyValueError::new_err(format!(
                        "prices: no column for token {t} (columns: {})",
                        names.join(", ")
                    ))),
                })
                .collect::<PyResult<_>>()?,
        };
        let mut values = Vec::with_capacity(self.rows * n);
        for row in self.values.chunks_exact(self.cols.max(1)) {
            values.extend(source.iter().map(|c| c.map_or(1.0, |i| row[i])));
        }
        PriceTable::from_rows(tokens.to_vec(), self.start_ms, values)
            .map_err(|e| PyValueError::new_err(format!("prices: {e}")))
    }
}

/// The config argument as JSON; anything but a dict is a `TypeError`.
fn config_json(config: &Bound<'_, PyAny>) -> PyResult<Value> {
    if !config.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!(
            "config: must be a dict (a native config or a quantammsim case), not {}",
            config.get_type().name()?
        )));
    }
    to_json(config, "")
}

fn base(base_dir: &Option<PathBuf>) -> &Path {
    base_dir.as_deref().unwrap_or(Path::new("."))
}

/// A run config, with `data_dir` (as `--data-dir`) in place of its own data folder.
fn run_config(
    value: &Value,
    base_dir: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
) -> PyResult<RunConfig> {
    let mut config = tfmm_run::config::parse_in(value, base(base_dir)).map_err(error)?;
    if data_dir.is_some() {
        config.data.dir = data_dir;
    }
    Ok(config)
}

/// A training config (run config plus training settings), with `data_dir` as above.
fn training_config(
    value: Value,
    base_dir: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
) -> PyResult<TrainingConfig> {
    let mut training = TrainingConfig::from_value(value, base(base_dir)).map_err(error)?;
    if data_dir.is_some() {
        training.config.data.dir = data_dir;
    }
    Ok(training)
}

/// The prices a config runs on: those given in memory, else its data folder or the
/// embedded data.
fn prices_for(config: &RunConfig, memory: &Option<Memory>) -> PyResult<PriceTable> {
    match memory {
        Some(m) => m.table(&config.tokens),
        None => tfmm_data::load(tfmm_run::config_source(config), &config.tokens)
            .map_err(|e| error(e.into())),
    }
}

/// What a run hands back, built without the GIL.
struct RunArrays {
    n_rows: usize,
    n_assets: usize,
    unix_ms: Vec<i64>,
    value: Vec<f64>,
    weights: Vec<f64>,
    reserves: Vec<f64>,
    prices: Vec<f64>,
    fee_revenue: Vec<f64>,
    protocol_fee_revenue: Vec<f64>,
    hodl: Vec<f64>,
    uniform_hodl: Vec<f64>,
    /// With a `lvr__` / `rvr__` benchmark: the pool's own value and LP fees.
    pool: Option<(Vec<f64>, Vec<f64>)>,
    readouts: Option<tfmm_run::readouts::Readouts>,
    summary: Value,
}

/// Simulates a pool over historic prices, as `tfmm run`: returns a dict of numpy arrays
/// (`unix_ms`, `value`, `weights`, `reserves`, `prices`, `fee_revenue`,
/// `protocol_fee_revenue`, `hodl`, `uniform_hodl`, and `pool_value` / `pool_fee_revenue`
/// with a benchmark), `summary` (summary.json as a dict) and `readouts` when asked for.
/// With `out_dir`, also writes the files `tfmm run` writes there.
#[pyfunction]
#[pyo3(signature = (config, prices=None, columns=None, start_ms=None, data_dir=None, base_dir=None, readouts=false, out_dir=None))]
#[allow(clippy::too_many_arguments)]
fn run<'py>(
    py: Python<'py>,
    config: &Bound<'py, PyAny>,
    prices: Option<PyReadonlyArray2<'py, f64>>,
    columns: Option<Vec<String>>,
    start_ms: Option<i64>,
    data_dir: Option<PathBuf>,
    base_dir: Option<PathBuf>,
    readouts: bool,
    out_dir: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let value = config_json(config)?;
    let memory = Memory::read(prices, columns, start_ms)?;
    let arrays = py.detach(|| -> PyResult<RunArrays> {
        let mut config = run_config(&value, &base_dir, data_dir)?;
        config.output.readouts |= readouts;
        let table = prices_for(&config, &memory)?;
        let out = tfmm_run::run_on_table(&config, &table, config.data.dir.as_deref(), None)
            .map_err(error)?;
        let report = Report::new(&out);
        if let Some(dir) = &out_dir {
            tfmm_run::output::write_all(&out, &report, dir).map_err(error)?;
        }
        let summary = tfmm_run::output::summary(&out, &report);
        let (n_rows, n_assets) = (out.n_rows(), out.config.n_assets());
        let unix_ms = (0..n_rows).map(|r| out.unix_ms(r)).collect();
        // The run's own rows move into the arrays: a year of minutes is tens of MB.
        let traj = out.trajectory;
        Ok(RunArrays {
            n_rows,
            n_assets,
            unix_ms,
            value: traj.values,
            weights: traj.weights,
            reserves: traj.reserves,
            prices: out.prices,
            fee_revenue: traj.lp_fees,
            protocol_fee_revenue: traj.protocol_fees,
            hodl: report.hodl,
            uniform_hodl: report.uniform_hodl,
            pool: out.pool.map(|p| (p.values, p.lp_fees)),
            readouts: out.readouts.filter(|r| !r.columns.is_empty()),
            summary,
        })
    })?;
    let d = PyDict::new(py);
    let (rows, n) = (arrays.n_rows, arrays.n_assets);
    let matrix = |v: Vec<f64>, cols: usize| PyArray1::from_vec(py, v).reshape([rows, cols]);
    d.set_item("unix_ms", PyArray1::from_vec(py, arrays.unix_ms))?;
    d.set_item("value", PyArray1::from_vec(py, arrays.value))?;
    d.set_item("weights", matrix(arrays.weights, n)?)?;
    d.set_item("reserves", matrix(arrays.reserves, n)?)?;
    d.set_item("prices", matrix(arrays.prices, n)?)?;
    d.set_item("fee_revenue", PyArray1::from_vec(py, arrays.fee_revenue))?;
    d.set_item(
        "protocol_fee_revenue",
        PyArray1::from_vec(py, arrays.protocol_fee_revenue),
    )?;
    d.set_item("hodl", PyArray1::from_vec(py, arrays.hodl))?;
    d.set_item("uniform_hodl", PyArray1::from_vec(py, arrays.uniform_hodl))?;
    if let Some((values, fees)) = arrays.pool {
        d.set_item("pool_value", PyArray1::from_vec(py, values))?;
        d.set_item("pool_fee_revenue", PyArray1::from_vec(py, fees))?;
    }
    if let Some(r) = arrays.readouts {
        let r_dict = PyDict::new(py);
        let width = r.columns.len();
        let n_readouts = r.unix_ms.len();
        r_dict.set_item("columns", r.columns)?;
        r_dict.set_item("unix_ms", PyArray1::from_vec(py, r.unix_ms))?;
        r_dict.set_item(
            "values",
            PyArray1::from_vec(py, r.values).reshape([n_readouts, width])?,
        )?;
        d.set_item("readouts", r_dict)?;
    }
    d.set_item("summary", to_py(py, &arrays.summary)?)?;
    Ok(d)
}

/// The objective of a config's window and its exact gradient, as `tfmm grad`: a dict
/// `{"objective", "value", "gradient": {name: array shaped as the parameter}}`.
#[pyfunction]
#[pyo3(signature = (config, objective="daily_log_sharpe", prices=None, columns=None, start_ms=None, data_dir=None, base_dir=None, learn_initial_weights=false))]
#[allow(clippy::too_many_arguments)]
fn grad<'py>(
    py: Python<'py>,
    config: &Bound<'py, PyAny>,
    objective: &str,
    prices: Option<PyReadonlyArray2<'py, f64>>,
    columns: Option<Vec<String>>,
    start_ms: Option<i64>,
    data_dir: Option<PathBuf>,
    base_dir: Option<PathBuf>,
    learn_initial_weights: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let value = config_json(config)?;
    let memory = Memory::read(prices, columns, start_ms)?;
    let objective = objective.to_string();
    type Gradient = Vec<(String, Vec<usize>, Vec<f64>)>;
    let (value, gradient) = py.detach(|| -> PyResult<(f64, Gradient)> {
        let config = run_config(&value, &base_dir, data_dir)?;
        let table = prices_for(&config, &memory)?;
        let problem = tfmm_train::Problem::new(&config, &table, &objective).map_err(error)?;
        let params = &problem.config.params;
        let layout = problem.layout(params, learn_initial_weights);
        let (value, flat) = problem
            .value_and_gradient(params, &layout, problem.window)
            .map_err(error)?;
        let gradient = layout
            .scatter(params, &flat)
            .into_iter()
            .zip(params.iter())
            .map(|((name, g), (_, array))| (name, array.shape.clone(), g))
            .collect();
        Ok((value, gradient))
    })?;
    let out = PyDict::new(py);
    out.set_item("objective", &objective)?;
    out.set_item("value", value)?;
    let g = PyDict::new(py);
    for (name, shape, data) in gradient {
        g.set_item(name, PyArray1::from_vec(py, data).reshape(shape)?)?;
    }
    out.set_item("gradient", g)?;
    Ok(out)
}

/// Trains a strategy's parameters, as `tfmm train`: the config's `train` table (or a
/// case's optimisation settings) says how. Returns `{"results": results.json as a dict,
/// "best_config": a config `run` accepts, "written": [paths]}`; with `out_dir`, writes the
/// CLI's files there and, with `resume`, starts from an earlier result found there.
#[pyfunction]
#[pyo3(signature = (config, prices=None, columns=None, start_ms=None, data_dir=None, base_dir=None, out_dir=None, resume=false))]
#[allow(clippy::too_many_arguments)]
fn train<'py>(
    py: Python<'py>,
    config: &Bound<'py, PyAny>,
    prices: Option<PyReadonlyArray2<'py, f64>>,
    columns: Option<Vec<String>>,
    start_ms: Option<i64>,
    data_dir: Option<PathBuf>,
    base_dir: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    resume: bool,
) -> PyResult<Bound<'py, PyDict>> {
    if resume && out_dir.is_none() {
        return Err(PyValueError::new_err(
            "resume = True: needs out_dir, the folder holding the earlier training's results.json",
        ));
    }
    let value = config_json(config)?;
    let memory = Memory::read(prices, columns, start_ms)?;
    let (results, best_config, written) = py.detach(|| -> PyResult<(Value, Value, Value)> {
        let training = training_config(value, &base_dir, data_dir)?;
        let table = prices_for(&training.config, &memory)?;
        let s = &training.settings;
        let problem =
            tfmm_train::Problem::new(&training.config, &table, &s.objective).map_err(error)?;
        let start = match &out_dir {
            Some(dir) if resume => {
                let layout = problem.layout(&training.config.params, s.learn_initial_weights);
                tfmm_train::resume_sets(&dir.join("results.json"), s, &layout).map_err(error)?
            }
            _ => None,
        };
        let outcome = tfmm_train::train(&problem, s, start, &mut ()).map_err(error)?;
        let best = outcome.best_params(&problem);
        let written = match &out_dir {
            Some(dir) => tfmm_train::write_outputs(&training, &outcome, &best, dir)
                .map_err(error)?
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            None => vec![],
        };
        Ok((
            tfmm_train::files::results_json(&training, &outcome, &best),
            training.with_params(&best),
            json!(written),
        ))
    })?;
    let out = PyDict::new(py);
    out.set_item("results", to_py(py, &results)?)?;
    out.set_item("best_config", to_py(py, &best_config)?)?;
    out.set_item("written", to_py(py, &written)?)?;
    Ok(out)
}

/// Walk-forward evaluation, as `tfmm walk`: walk.json as a dict.
#[pyfunction]
#[pyo3(signature = (config, prices=None, columns=None, start_ms=None, data_dir=None, base_dir=None))]
fn walk_forward<'py>(
    py: Python<'py>,
    config: &Bound<'py, PyAny>,
    prices: Option<PyReadonlyArray2<'py, f64>>,
    columns: Option<Vec<String>>,
    start_ms: Option<i64>,
    data_dir: Option<PathBuf>,
    base_dir: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let value = config_json(config)?;
    let memory = Memory::read(prices, columns, start_ms)?;
    let result = py.detach(|| -> PyResult<Value> {
        let training = training_config(value, &base_dir, data_dir)?;
        let table = prices_for(&training.config, &memory)?;
        let s = &training.settings;
        let result =
            tfmm_train::walk::walk(&training.config, &table, s, &s.walk, &mut ()).map_err(error)?;
        Ok(result.to_json())
    })?;
    to_py(py, &result)
}

/// Prices of `tokens` from `data_dir` (or the embedded data) on their common minutes, as
/// a run loads them: `(unix ms of row 0, array of shape (minutes, tokens), provenance)`.
#[pyfunction]
#[pyo3(signature = (tokens, data_dir=None))]
fn load_prices<'py>(
    py: Python<'py>,
    tokens: Vec<String>,
    data_dir: Option<PathBuf>,
) -> PyResult<(i64, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let table = py.detach(|| {
        let source = data_dir
            .as_deref()
            .map_or(tfmm_data::Source::Embedded, tfmm_data::Source::Dir);
        tfmm_data::load(source, &tokens).map_err(|e| error(RunError::from(e)))
    })?;
    let provenance: Vec<Value> = table
        .provenance
        .iter()
        .map(tfmm_run::output::provenance_json)
        .collect();
    let (rows, n) = (table.n_rows(), table.n_assets());
    let array = PyArray1::from_vec(py, table.prices).reshape([rows, n])?;
    Ok((
        table.start_ms,
        array.into_any(),
        to_py(py, &Value::Array(provenance))?,
    ))
}

/// A config file (TOML or JSON) as the dict it stands for, keys unchecked.
#[pyfunction]
fn read_config<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
    let value = py.detach(|| tfmm_run::config::read_value(&path).map_err(error))?;
    to_py(py, &value)
}

/// The config as tfmm resolves it (every default filled in, parameters by internal name):
/// the `config` object of summary.json. Checks a config without running it.
#[pyfunction]
#[pyo3(signature = (config, base_dir=None))]
fn resolve_config<'py>(
    py: Python<'py>,
    config: &Bound<'py, PyAny>,
    base_dir: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let value = config_json(config)?;
    let resolved = py.detach(|| run_config(&value, &base_dir, None).map(|c| c.to_json()))?;
    to_py(py, &resolved)
}

#[pymodule]
fn _tfmm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(grad, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(walk_forward, m)?)?;
    m.add_function(wrap_pyfunction!(load_prices, m)?)?;
    m.add_function(wrap_pyfunction!(read_config, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_config, m)?)?;
    Ok(())
}
