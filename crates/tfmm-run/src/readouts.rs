//! The estimator state of a strategy rule at each chunk of the bout (`readouts.csv`): what the
//! rule saw when it set each weight target, for debugging a strategy and comparing with
//! quantammsim's readouts.

use tfmm_core::rules::Observation;
use tfmm_core::weights::{WeightEngine, WeightPath};

/// One row per rule evaluation inside the bout.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Readouts {
    /// `<state>_<token>` (`ewma_BTC`, `running_a_ETH`, ...), or `<state>_<j>` when a state
    /// is not one value per asset.
    pub columns: Vec<String>,
    /// The minute whose price the rule had just consumed.
    pub unix_ms: Vec<i64>,
    /// Row-major, `unix_ms.len() × columns.len()`.
    pub values: Vec<f64>,
}

impl Readouts {
    pub fn row(&self, i: usize) -> &[f64] {
        let w = self.columns.len();
        &self.values[i * w..(i + 1) * w]
    }
}

/// A weight engine that records its rule's readout after every rule step from the bout's
/// first minute on. `first_ms` is the unix ms of the engine's minute 0.
pub(crate) struct Recorder<'a> {
    pub engine: WeightEngine<f64>,
    pub tokens: &'a [String],
    pub first_ms: i64,
    pub readouts: Readouts,
    row: Vec<f64>,
}

impl<'a> Recorder<'a> {
    pub fn new(engine: WeightEngine<f64>, tokens: &'a [String], first_ms: i64) -> Self {
        Self {
            engine,
            tokens,
            first_ms,
            readouts: Readouts::default(),
            row: Vec::new(),
        }
    }

    fn record(&mut self, minute: usize) {
        let Self {
            engine,
            tokens,
            readouts,
            row,
            ..
        } = self;
        let name_columns = readouts.unix_ms.is_empty();
        row.clear();
        engine.rule().readout(&mut |name, values| {
            if name_columns {
                for j in 0..values.len() {
                    let label = match tokens.get(j) {
                        Some(t) if values.len() == tokens.len() => t.clone(),
                        _ => j.to_string(),
                    };
                    readouts.columns.push(format!("{name}_{label}"));
                }
            }
            row.extend_from_slice(values);
        });
        if row.len() != readouts.columns.len() {
            // A rule whose state changes shape mid-run: keep the table rectangular.
            row.resize(readouts.columns.len(), f64::NAN);
        }
        readouts.values.extend_from_slice(row);
        readouts
            .unix_ms
            .push(self.first_ms + minute as i64 * tfmm_data::MS_PER_MINUTE);
    }
}

impl WeightPath<f64> for Recorder<'_> {
    fn start(&self) -> usize {
        WeightPath::start(&self.engine)
    }

    fn step(&mut self, obs: &Observation<'_>) -> Option<&[f64]> {
        let minute = self.engine.minutes_seen();
        let in_bout = self.engine.step(obs).is_some();
        if in_bout && minute.is_multiple_of(self.engine.schedule().chunk_period) {
            self.record(minute);
        }
        in_bout.then(|| self.engine.weights())
    }

    fn needs_supply(&self) -> bool {
        WeightPath::needs_supply(&self.engine)
    }
}
