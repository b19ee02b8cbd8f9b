//! Training on disk: reading a config with its training settings, and writing the results
//! file, the best parameters as a config `tfmm run` accepts, and the training curve.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tfmm_core::params::Params;
pub use tfmm_run::config::params_json;
use tfmm_run::config::{PARAM_KEYS, parse_in, read_value};
use tfmm_run::{Result, RunConfig, RunError};

use crate::settings::TrainSettings;
use crate::train::{Outcome, SliceMetrics};

/// A config file read for training: the run config, the training settings, and the file as
/// JSON (to write the best parameters back in the same form).
#[derive(Clone, Debug)]
pub struct TrainingConfig {
    pub config: RunConfig,
    pub settings: TrainSettings,
    pub original: Value,
    pub base_dir: PathBuf,
}

impl TrainingConfig {
    /// A native config with a `[train]` table, or a quantammsim case (its `return_val`,
    /// `bout_offset`, `endTestDateString` and `optimisation_settings`).
    pub fn load(path: &Path) -> Result<TrainingConfig> {
        let value = read_value(path)?;
        let base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::from_value(value, &base_dir)
    }

    pub fn from_value(value: Value, base_dir: &Path) -> Result<TrainingConfig> {
        let Value::Object(map) = &value else {
            return Err(RunError::config(
                "config",
                "not an object",
                "must be a JSON/TOML table",
            ));
        };
        let (config, settings) = if map.contains_key("run_fingerprint") {
            (parse_in(&value, base_dir)?, TrainSettings::from_case(map)?)
        } else {
            let mut run = map.clone();
            let settings = match run.remove("train") {
                None => TrainSettings::default(),
                Some(Value::Object(t)) => TrainSettings::from_native(&t)?,
                Some(v) => return Err(RunError::config("train", v, "must be a table")),
            };
            (parse_in(&Value::Object(run), base_dir)?, settings)
        };
        Ok(TrainingConfig {
            config,
            settings,
            original: value,
            base_dir: base_dir.to_path_buf(),
        })
    }

    /// The original config with `params` in place of its rule parameters, ready for `tfmm
    /// run` from any folder: a case gets a new `params`; a native config loses its `[train]`
    /// table and its pool parameter keys, gains `[params]`, and its data folder is made
    /// absolute.
    pub fn with_params(&self, params: &Params<f64>) -> Value {
        let mut out = self.original.clone();
        let params = params_json(params);
        let Value::Object(map) = &mut out else {
            return out;
        };
        if map.contains_key("run_fingerprint") {
            map.insert("params".into(), params);
            return out;
        }
        map.remove("train");
        if let Some(Value::Object(pool)) = map.get_mut("pool") {
            pool.retain(|k, _| !PARAM_KEYS.contains(&k.as_str()));
        }
        map.insert("params".into(), params);
        if let Some(dir) = &self.config.data.dir {
            let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            let data = map.entry("data").or_insert_with(|| json!({}));
            if let Value::Object(d) = data {
                d.insert("dir".into(), json!(absolute.display().to_string()));
            }
        }
        out
    }
}

fn metrics_json(m: &SliceMetrics) -> Value {
    let table = |t: &[(&'static str, f64)]| -> Map<String, Value> {
        t.iter().map(|&(k, v)| (k.to_string(), json!(v))).collect()
    };
    json!({
        "train": table(&m.train),
        "validation": table(&m.validation),
        "test": table(&m.test),
    })
}

/// The results file: settings, what was tuned, the starting and best parameters and their
/// metrics, and every step.
pub fn results_json(training: &TrainingConfig, outcome: &Outcome, best: &Params<f64>) -> Value {
    let s = &training.settings;
    let g = &outcome.geometry;
    json!({
        "tfmm_version": env!("CARGO_PKG_VERSION"),
        "method": format!("{:?}", s.method),
        "objective": s.objective,
        "selection_metric": s.early_stopping_metric,
        "selection": if s.val_fraction > 0.0 { "best_val" } else { "best_train" },
        "n_parameter_sets": s.n_parameter_sets,
        "seed": s.seed,
        "geometry": {
            "window_minutes": g.window.n_rows,
            "train_minutes": g.train_rows,
            "validation_minutes": g.window.n_rows - g.train_rows,
            "test_minutes": g.test_rows,
            "sample_window_minutes": g.sample_rows,
            "bout_offset_minutes": g.bout_offset,
        },
        "tuned": outcome.layout.entries.iter().map(|e| format!("{}[{}]", e.name, e.index)).collect::<Vec<_>>(),
        "initial": outcome.initial,
        "initial_metrics": outcome.initial_metrics.iter().map(metrics_json).collect::<Vec<_>>(),
        "best": {
            "step": outcome.best.step,
            "set": outcome.best.set,
            "score": outcome.best.score,
            "theta": outcome.best.theta,
            "params": params_json(best),
            "metrics": metrics_json(&outcome.best.metrics),
        },
        "steps_taken": outcome.steps_taken,
        "stopped_early": outcome.stopped_early,
        "history": outcome.history.iter().map(|r| json!({
            "step": r.step,
            "objective": r.objective,
            "selection": r.selection,
            "learning_rate": r.learning_rate,
        })).collect::<Vec<_>>(),
    })
}

/// Writes `results.json`, `best_config.json` and the training curve (`training_curve.svg`,
/// `.png`) into `dir`; returns the files written.
pub fn write_outputs(
    training: &TrainingConfig,
    outcome: &Outcome,
    best: &Params<f64>,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| RunError::io(dir, e))?;
    let mut written = vec![];
    let mut write = |name: &str, bytes: Vec<u8>| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| RunError::io(&path, e))?;
        written.push(path);
        Ok(())
    };
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("plain JSON") + "\n";
    write(
        "results.json",
        pretty(&results_json(training, outcome, best)).into_bytes(),
    )?;
    write(
        "best_config.json",
        pretty(&training.with_params(best)).into_bytes(),
    )?;
    if outcome.history.len() >= 2 {
        let chart = curve(training, outcome);
        let plot =
            |e: tfmm_plot::PlotError| RunError::config("plots", "training_curve", e.to_string());
        write(
            "training_curve.svg",
            tfmm_plot::render_svg(&chart, 1000, 560)
                .map_err(plot)?
                .into_bytes(),
        )?;
        write(
            "training_curve.png",
            tfmm_plot::render_png(&chart, 1000, 560).map_err(plot)?,
        )?;
    }
    Ok(written)
}

fn curve(training: &TrainingConfig, outcome: &Outcome) -> tfmm_plot::Chart {
    let mean = |x: &[f64]| {
        let finite: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
        finite.iter().sum::<f64>() / finite.len().max(1) as f64
    };
    let s = &training.settings;
    let slice = if s.val_fraction > 0.0 {
        "validation"
    } else {
        "train"
    };
    tfmm_plot::Chart {
        title: format!(
            "Training: {} on {}",
            training.config.rule,
            training.config.tokens.join("/")
        ),
        x: tfmm_plot::XAxis::Plain {
            values: outcome.history.iter().map(|r| r.step as f64).collect(),
            label: "step".into(),
        },
        y_label: "mean over parameter sets".into(),
        series: vec![
            tfmm_plot::Series::new(
                format!("{} (training windows)", s.objective),
                outcome.history.iter().map(|r| mean(&r.objective)).collect(),
            ),
            tfmm_plot::Series::new(
                format!("{} ({slice})", s.early_stopping_metric),
                outcome.history.iter().map(|r| mean(&r.selection)).collect(),
            ),
        ],
        ..Default::default()
    }
}

/// Starting sets from an earlier `results.json` in the output folder, if there is one: its
/// best parameters as set 0, and sets 1.. spread around them by `noise_scale` (the reference
/// resumes the same way). `None` when there is nothing to resume.
pub fn resume_sets(
    results: &Path,
    settings: &TrainSettings,
    layout: &crate::problem::Layout,
) -> Result<Option<Vec<Vec<f64>>>> {
    if !results.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(results).map_err(|e| RunError::io(results, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        RunError::config(
            results.display().to_string(),
            "not JSON",
            format!("cannot resume from it ({e}); use --fresh"),
        )
    })?;
    let tuned: Vec<String> = layout
        .entries
        .iter()
        .map(|e| format!("{}[{}]", e.name, e.index))
        .collect();
    if value["tuned"] != json!(tuned) {
        return Err(RunError::config(
            results.display().to_string(),
            &value["tuned"],
            format!(
                "tuned other parameters than this config ({}); use --fresh or another --out",
                tuned.join(", ")
            ),
        ));
    }
    let theta: Vec<f64> = value["best"]["theta"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    if theta.len() != layout.len() || theta.iter().any(|x| !x.is_finite()) {
        return Err(RunError::config(
            results.display().to_string(),
            "best.theta",
            "is not a finite vector of the tuned parameters; use --fresh",
        ));
    }
    Ok(Some(crate::train::spread(
        &theta,
        settings.n_parameter_sets,
        settings.noise_scale,
        settings.seed.wrapping_add(1),
    )))
}
