//! A training problem: a pool config over loaded prices, an objective, and the parameters
//! being tuned. Its value and exact gradient come from the same generic simulation as a plain
//! run, instantiated with `f64` or with forward-mode dual numbers.

use num_dual::DualSVec64;
use rayon::prelude::*;
use tfmm_core::metrics::{HodlEnds, Objective, Path};
use tfmm_core::params::Params;
use tfmm_core::pools::{G3mPool, G3mZeroFee, Pool};
use tfmm_core::scalar::Scalar;
use tfmm_core::simulate;
use tfmm_core::weights::WeightEngine;
use tfmm_data::{MS_PER_MINUTE, PriceTable, Window};
use tfmm_run::market::ResolvedMarket;
use tfmm_run::{PoolKind, Result, RunConfig, RunError};

/// Derivative directions carried by one simulation: gradients of more parameters take several
/// passes (run in parallel). Each pass costs about `1 + DIRECTIONS` plain runs.
pub const DIRECTIONS: usize = 8;

/// The reference stops the gradient on the initial weights; learning them is an option
/// ([`Problem::layout`]).
const INITIAL_WEIGHTS: &[&str] = &["initial_weights_logits", "initial_weights"];

/// One tuned number: element `index` of parameter `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub index: usize,
}

/// Which parameter elements are tuned, in a fixed order: the flat vector `theta` the
/// optimisers move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub entries: Vec<Entry>,
}

impl Layout {
    /// Every element of the parameters in `used`, the initial weights only if
    /// `learn_initial_weights`.
    pub fn new(params: &Params<f64>, used: &[String], learn_initial_weights: bool) -> Layout {
        let entries = params
            .iter()
            .filter(|(name, _)| {
                used.iter().any(|u| u == name)
                    && (learn_initial_weights || !INITIAL_WEIGHTS.contains(name))
            })
            .flat_map(|(name, array)| {
                (0..array.data.len()).map(move |index| Entry {
                    name: name.to_string(),
                    index,
                })
            })
            .collect();
        Layout { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The tuned elements of `params`, in layout order.
    pub fn get(&self, params: &Params<f64>) -> Vec<f64> {
        self.entries
            .iter()
            .map(|e| params.get(&e.name).expect("layout of these params").data[e.index])
            .collect()
    }

    /// Writes `theta` into the tuned elements of `params`.
    pub fn set(&self, params: &mut Params<f64>, theta: &[f64]) {
        for (e, &x) in self.entries.iter().zip(theta) {
            let mut array = params.get(&e.name).expect("layout of these params").clone();
            array.data[e.index] = x;
            params.insert(e.name.clone(), array);
        }
    }

    /// A gradient in layout order spread over every parameter of `params`, in their order:
    /// `(name, [d/d element, ...])` with zeros for elements not tuned, the shape of
    /// quantammsim's gradients.
    pub fn scatter(&self, params: &Params<f64>, gradient: &[f64]) -> Vec<(String, Vec<f64>)> {
        params
            .iter()
            .map(|(name, array)| {
                let mut g = vec![0.0; array.data.len()];
                for (e, &d) in self.entries.iter().zip(gradient) {
                    if e.name == name {
                        g[e.index] = d;
                    }
                }
                (name.to_string(), g)
            })
            .collect()
    }

    /// [`Layout::scatter`] as `{name: [d/d element, ...]}`.
    pub fn to_json(&self, params: &Params<f64>, gradient: &[f64]) -> serde_json::Value {
        let map = self
            .scatter(params, gradient)
            .into_iter()
            .map(|(name, g)| (name, serde_json::json!(g)))
            .collect();
        serde_json::Value::Object(map)
    }
}

/// Simulated minutes: the rule is fed from the problem's first data row, the pool trades
/// from row `start` for `n_rows` minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub n_rows: usize,
}

/// A TFMM pool config over loaded prices and one objective.
#[derive(Clone, Debug)]
pub struct Problem {
    pub config: RunConfig,
    /// Prices from the first row the rule sees (row-major, pool order).
    prices: Vec<f64>,
    /// Unix ms of `prices` row 0.
    first_ms: i64,
    pub objective: Objective,
    /// The config's own window (`start` .. `end`) in this problem's rows.
    pub window: Span,
    /// Parameters the weights depend on (read by the rule, not merely accepted).
    used: Vec<String>,
}

impl Problem {
    /// The config's pool and window over `table`, with the objective `objective`
    /// (a quantammsim `return_val` name). Only strategy-rule (TFMM) pools are trained.
    pub fn new(config: &RunConfig, table: &PriceTable, objective: &str) -> Result<Problem> {
        if config.pool_kind() != PoolKind::Tfmm || config.baseline().is_some() {
            return Err(RunError::config(
                "rule",
                &config.rule,
                "training tunes strategy-rule (TFMM) pools; a fixed-weight pool or a benchmark \
                 has no parameters to differentiate",
            ));
        }
        let objective = Objective::parse(objective).map_err(RunError::from)?;
        let start_ms = tfmm_data::parse_utc(&config.start)?;
        let end_ms = tfmm_data::parse_utc(&config.end)?;
        let window: Window =
            tfmm_data::select_window(table, start_ms, end_ms, config.weights.rule.max_memory_days)?;
        // Keep every row from the burn-in start to the end of the data: training windows and
        // test periods may lie after the config's window.
        let rows = window.lo..table.n_rows();
        let prices = table.slice(rows.start, rows.end).prices;
        let problem = Problem {
            config: config.clone(),
            prices,
            first_ms: table.unix_ms(window.lo),
            objective,
            window: Span {
                start: window.start,
                n_rows: window.n_rows,
            },
            used: vec![],
        };
        // Building the engine checks the parameters once, with their names.
        let (_, used) = WeightEngine::<f64>::build_reporting_use(
            config.pool_rule(),
            &config.params,
            config.n_assets(),
            &config.weights,
            window.start,
        )?;
        Ok(Problem { used, ..problem })
    }

    /// The elements of `params` to tune: every parameter the weights depend on, the initial
    /// weights only if `learn_initial_weights`.
    pub fn layout(&self, params: &Params<f64>, learn_initial_weights: bool) -> Layout {
        Layout::new(params, &self.used, learn_initial_weights)
    }

    pub fn n_assets(&self) -> usize {
        self.config.n_assets()
    }

    /// Rows of prices held, from the first row the rule sees.
    pub fn n_data_rows(&self) -> usize {
        self.prices.len() / self.n_assets()
    }

    /// Unix ms of the problem's data row `row`.
    pub fn unix_ms(&self, row: usize) -> i64 {
        self.first_ms + row as i64 * MS_PER_MINUTE
    }

    /// The objective of `params` over `span`.
    pub fn value(&self, params: &Params<f64>, span: Span) -> Result<f64> {
        self.evaluate(params, span)
    }

    /// The objective and its gradient with respect to the `layout` elements of `params`.
    pub fn value_and_gradient(
        &self,
        params: &Params<f64>,
        layout: &Layout,
        span: Span,
    ) -> Result<(f64, Vec<f64>)> {
        if layout.is_empty() {
            return Ok((self.value(params, span)?, vec![]));
        }
        let passes: Vec<Result<(f64, [f64; DIRECTIONS])>> = (0..layout.len().div_ceil(DIRECTIONS))
            .into_par_iter()
            .map(|pass| {
                let seeded =
                    &layout.entries[pass * DIRECTIONS..layout.len().min((pass + 1) * DIRECTIONS)];
                let mut dual = params.map(DualSVec64::<DIRECTIONS>::from_re);
                for (direction, e) in seeded.iter().enumerate() {
                    let mut array = dual.get(&e.name).expect("layout of these params").clone();
                    array.data[e.index] = array.data[e.index].derivative(direction);
                    dual.insert(e.name.clone(), array);
                }
                let v = self.evaluate(&dual, span)?;
                let mut partials = [0.0; DIRECTIONS];
                if let Some(eps) = v.eps.0.as_ref() {
                    for (j, p) in partials.iter_mut().enumerate() {
                        *p = eps[j];
                    }
                }
                Ok((v.re, partials))
            })
            .collect();
        let mut value = f64::NAN;
        let mut gradient = Vec::with_capacity(layout.len());
        for (pass, result) in passes.into_iter().enumerate() {
            let (v, partials) = result?;
            if pass == 0 {
                value = v;
            }
            let seeded = (layout.len() - pass * DIRECTIONS).min(DIRECTIONS);
            gradient.extend_from_slice(&partials[..seeded]);
        }
        Ok((value, gradient))
    }

    fn engine<S: Scalar>(&self, params: &Params<S>, span: Span) -> Result<WeightEngine<S>> {
        let c = &self.config;
        Ok(WeightEngine::build(
            c.pool_rule(),
            params,
            c.n_assets(),
            &c.weights,
            span.start,
        )?)
    }

    fn market_inputs(&self, span: Span) -> Result<ResolvedMarket> {
        self.config
            .market
            .resolve(&self.config.tokens, self.unix_ms(span.start), span.n_rows)
    }

    /// The objective over `span`, for any scalar: the one simulation behind value and
    /// gradient.
    fn evaluate<S: Scalar>(&self, params: &Params<S>, span: Span) -> Result<S> {
        let wants_fees = self.objective == Objective::FeeRevenueOverValue;
        let run = self.simulate(params, span, wants_fees, false)?;
        let mut path = Path::new(
            &run.values,
            self.hodl_ends(&run.initial_reserves, span, 0, span.n_rows),
        );
        if wants_fees {
            path = path.with_fee_revenue(&run.fees);
        }
        Ok(self.objective.evaluate(&path))
    }

    /// HODL ends of rows `from..to` of a run over `span` that held `reserves` at `from`.
    pub fn hodl_ends(&self, reserves: &[f64], span: Span, from: usize, to: usize) -> HodlEnds {
        let n = self.n_assets();
        let row = |r: usize| &self.prices[(span.start + r) * n..(span.start + r + 1) * n];
        tfmm_core::metrics::hodl_ends(reserves, row(from), row(to - 1))
    }

    /// A plain run over `span`: values, reserves and LP fees per minute.
    pub fn run(&self, params: &Params<f64>, span: Span) -> Result<PlainRun> {
        let run = self.simulate(params, span, true, true)?;
        Ok(PlainRun {
            values: run.values,
            reserves: run.reserves,
            fees: run.fees,
        })
    }

    fn simulate<S: Scalar>(
        &self,
        params: &Params<S>,
        span: Span,
        keep_fees: bool,
        keep_reserves: bool,
    ) -> Result<RunPath<S>> {
        let n = self.n_assets();
        let rows = span.start + span.n_rows;
        if span.n_rows < 2 || rows > self.n_data_rows() {
            return Err(RunError::config(
                "window",
                format!("minutes {}..{}", span.start, rows),
                format!(
                    "must hold at least 2 minutes within the {} rows of data",
                    self.n_data_rows()
                ),
            ));
        }
        let p = &self.config.pool;
        let inputs = self.market_inputs(span)?;
        let market = inputs.market(p, n, &self.prices[..rows * n]);
        let mut engine = self.engine(params, span)?;
        let mut pool: Box<dyn Pool<S>> = if market.has_frictions() {
            Box::new(G3mPool::new(n, p.g3m(None)))
        } else {
            Box::new(G3mZeroFee::new(n, p.initial_pool_value))
        };
        let mut out = RunPath {
            values: Vec::with_capacity(span.n_rows),
            fees: Vec::with_capacity(if keep_fees { span.n_rows } else { 0 }),
            initial_reserves: vec![0.0; n],
            reserves: Vec::with_capacity(if keep_reserves { span.n_rows * n } else { 0 }),
        };
        simulate::simulate(&mut engine, pool.as_mut(), &market, span.n_rows, |row| {
            if row.minute == 0 {
                for (r, x) in out.initial_reserves.iter_mut().zip(row.reserves) {
                    *r = x.value();
                }
            }
            out.values.push(row.value);
            if keep_fees {
                out.fees.push(row.fees.lp);
            }
            if keep_reserves {
                out.reserves.extend(row.reserves.iter().map(|r| r.value()));
            }
        })?;
        Ok(out)
    }
}

/// What one simulation keeps: values (and fees) in the scalar type, reserves as numbers.
struct RunPath<S> {
    values: Vec<S>,
    fees: Vec<S>,
    initial_reserves: Vec<f64>,
    reserves: Vec<f64>,
}

/// A plain run's path, for evaluation.
#[derive(Clone, Debug)]
pub struct PlainRun {
    pub values: Vec<f64>,
    /// Row-major, `values.len() × n_assets`.
    pub reserves: Vec<f64>,
    pub fees: Vec<f64>,
}
