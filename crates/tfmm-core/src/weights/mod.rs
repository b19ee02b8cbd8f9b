//! The weight engine: a rule's chunk outputs turned into a per-minute weight path, through
//! guardrails and interpolation, one minute at a time.
//!
//! Timing (one rule for every rule): chunk observations are taken every `chunk_period`
//! minutes on a grid anchored at the first minute fed in. The bout starts at minute
//! `start`; block `b` covers bout minutes `[b·cp, (b+1)·cp)` and is built, at its first
//! minute, from the latest rule row available at that minute. The first row of a block is
//! the position reached so far, so a price first shows in the weights one minute after it
//! was observed. Delta rules hold the initial weights for block 0; target rules start from
//! their guarded target. (The reference applies target rows one chunk early: a look-ahead
//! this engine does not reproduce; see docs/deviations.md.)

mod guardrails;
mod interpolation;

pub use guardrails::{AssetBounds, GuardStep, Guardrails, Move};
pub use interpolation::Interpolation;

use crate::copy_row;
use crate::error::{Error, Result};
use crate::params::{ParamReader, Params, softmax};
use crate::rules::{Ensemble, Observation, Rule, RuleKind, RuleSettings, build_rule};
use crate::scalar::{Scalar, cst, sigmoid};

/// More members than this is a config error, not something to allocate.
const MAX_ENSEMBLE_MEMBERS: usize = 4096;

/// Settings of the weight path (quantammsim run-fingerprint names).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightSettings {
    pub rule: RuleSettings,
    /// Minutes over which a coarse change is spread; at most `chunk_period`.
    pub weight_interpolation_period: usize,
    pub interpolation: Interpolation,
    /// Largest change of any weight per minute.
    pub maximum_change: f64,
    /// Floor on every weight; `None` means `0.1 / n_assets`.
    pub minimum_weight: Option<f64>,
    pub ste_max_change: bool,
    pub ste_min_max_weight: bool,
    /// Parameter sets averaged by the `ensemble__` hook.
    pub n_ensemble_members: usize,
}

impl Default for WeightSettings {
    fn default() -> Self {
        Self {
            rule: RuleSettings::default(),
            weight_interpolation_period: 1440,
            interpolation: Interpolation::Linear,
            maximum_change: 3e-4,
            minimum_weight: None,
            ste_max_change: false,
            ste_min_max_weight: false,
            n_ensemble_members: 1,
        }
    }
}

impl WeightSettings {
    pub fn minimum_weight(&self, n_assets: usize) -> f64 {
        self.minimum_weight.unwrap_or(0.1 / n_assets as f64)
    }

    pub fn validate(&self, n_assets: usize) -> Result<()> {
        let cp = self.rule.chunk_period;
        if n_assets < 2 {
            return Err(Error::invalid(
                "tokens",
                n_assets,
                "a pool needs at least 2 assets",
            ));
        }
        if cp == 0 {
            return Err(Error::invalid(
                "chunk_period",
                0,
                "must be a positive number of minutes",
            ));
        }
        let wip = self.weight_interpolation_period;
        if wip == 0 || wip > cp {
            return Err(Error::invalid(
                "weight_interpolation_period",
                wip,
                format!("must lie in [1, chunk_period] = [1, {cp}]"),
            ));
        }
        let mc = self.maximum_change;
        if !(mc.is_finite() && mc >= 0.0) {
            return Err(Error::invalid(
                "maximum_change",
                mc,
                "must be a finite number >= 0",
            ));
        }
        let floor = self.minimum_weight(n_assets);
        if !(floor.is_finite() && (0.0..=1.0 / n_assets as f64).contains(&floor)) {
            return Err(Error::invalid(
                "minimum_weight",
                floor,
                format!(
                    "must lie in [0, 1/n] = [0, {}] for {n_assets} assets",
                    1.0 / n_assets as f64
                ),
            ));
        }
        let mmd = self.rule.max_memory_days;
        if !(mmd.is_finite() && mmd > 0.0) {
            return Err(Error::invalid(
                "max_memory_days",
                mmd,
                "must be a positive number of days",
            ));
        }
        if !(1..=MAX_ENSEMBLE_MEMBERS).contains(&self.n_ensemble_members) {
            return Err(Error::invalid(
                "n_ensemble_members",
                self.n_ensemble_members,
                format!("must lie in [1, {MAX_ENSEMBLE_MEMBERS}]"),
            ));
        }
        if let Some(cap) = self.rule.cap_weights
            && !cap.is_finite()
        {
            return Err(Error::invalid(
                "cap_weights",
                cap,
                "must be a finite number",
            ));
        }
        Ok(())
    }
}

/// When in the stream the bout starts and how blocks are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub chunk_period: usize,
    /// The shape of each ramp; its length is the guardrails' `interpol_num - 1` minutes.
    pub interpolation: Interpolation,
    /// Index (among minutes fed in) of the first bout minute; earlier minutes are burn-in.
    pub start: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// The initial weights, held.
    Hold,
    /// A ramp from `step.start` by `step.scaled_diff` per minute to `position`.
    Ramp,
}

/// Streams weights: feed one minute at a time with [`WeightEngine::step`].
pub struct WeightEngine<S: Scalar> {
    rule: Box<dyn Rule<S>>,
    guard: Guardrails<S>,
    schedule: Schedule,
    initial: Vec<S>,
    minute: usize,
    /// `minute mod chunk_period`.
    chunk_offset: usize,
    /// Minute within the current bout block, and blocks begun so far.
    block_offset: usize,
    blocks_begun: usize,
    rule_row: Vec<S>,
    position: Vec<S>,
    step: GuardStep<S>,
    block: Block,
    row: Vec<S>,
}

impl<S: Scalar> WeightEngine<S> {
    /// An engine around any rule: the way to run a strategy of your own. Fails if the
    /// pieces do not fit together (asset counts, a ramp longer than a chunk).
    pub fn new(
        rule: Box<dyn Rule<S>>,
        guard: Guardrails<S>,
        schedule: Schedule,
        initial_weights: Vec<S>,
    ) -> Result<Self> {
        let n = rule.n_assets();
        let cp = schedule.chunk_period;
        if cp == 0 {
            return Err(Error::invalid(
                "chunk_period",
                0,
                "must be a positive number of minutes",
            ));
        }
        if !(2..=cp + 1).contains(&guard.interpol_num) {
            return Err(Error::invalid(
                "interpol_num",
                guard.interpol_num,
                format!("must lie in [2, chunk_period + 1] = [2, {}]", cp + 1),
            ));
        }
        if initial_weights.len() != n {
            return Err(Error::invalid(
                "initial_weights",
                format!("{} values", initial_weights.len()),
                format!("the rule trades {n} assets"),
            ));
        }
        Ok(Self {
            rule,
            guard,
            schedule,
            position: initial_weights.clone(),
            row: initial_weights.clone(),
            initial: initial_weights,
            minute: 0,
            chunk_offset: 0,
            block_offset: 0,
            blocks_begun: 0,
            rule_row: vec![cst(0.0); n],
            step: GuardStep::new(n),
            block: Block::Hold,
        })
    }

    /// The engine for a quantammsim rule name (with optional `bounded__` / `ensemble__`
    /// prefixes) and its internal parameters. Every parameter must be used: leftovers are
    /// an error.
    pub fn build(
        rule: &str,
        params: &Params<S>,
        n_assets: usize,
        settings: &WeightSettings,
        start: usize,
    ) -> Result<Self> {
        Self::build_reporting_use(rule, params, n_assets, settings, start).map(|(engine, _)| engine)
    }

    /// [`WeightEngine::build`], also naming the parameters the weights depend on (those read,
    /// not merely accepted like `logit_delta_lamb` without `use_alt_lamb`): the ones a gradient
    /// can flow from.
    pub fn build_reporting_use(
        rule: &str,
        params: &Params<S>,
        n_assets: usize,
        settings: &WeightSettings,
        start: usize,
    ) -> Result<(Self, Vec<String>)> {
        settings.validate(n_assets)?;
        let (hooks, base) = split_hooks(rule)?;
        let mut reader = ParamReader::new(params, rule, n_assets);
        let initial = initial_weights(&mut reader)?;
        let bounds = if hooks.contains(&"bounded") {
            Some(asset_bounds(&mut reader)?)
        } else {
            None
        };
        let members = settings.n_ensemble_members;
        let rule_box: Box<dyn Rule<S>> = if hooks.contains(&"ensemble") && members > 1 {
            Box::new(ensemble(
                base,
                params,
                &mut reader,
                members,
                &settings.rule,
            )?)
        } else {
            build_rule(base, &mut reader, &settings.rule)?
        };
        let used = reader.used();
        reader.finish()?;
        let guard = Guardrails {
            minimum_weight: settings.minimum_weight(n_assets),
            maximum_change: settings.maximum_change,
            interpol_num: settings.weight_interpolation_period + 1,
            bounds,
            ste_min_max_weight: settings.ste_min_max_weight,
            ste_max_change: settings.ste_max_change,
        };
        let schedule = Schedule {
            chunk_period: settings.rule.chunk_period,
            interpolation: settings.interpolation,
            start,
        };
        Ok((Self::new(rule_box, guard, schedule, initial)?, used))
    }

    pub fn n_assets(&self) -> usize {
        self.initial.len()
    }

    pub fn rule(&self) -> &dyn Rule<S> {
        self.rule.as_ref()
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub fn initial_weights(&self) -> &[S] {
        &self.initial
    }

    /// The latest raw rule row.
    pub fn rule_row(&self) -> &[S] {
        &self.rule_row
    }

    /// The latest minute's weights (the initial weights until the bout starts).
    pub fn weights(&self) -> &[S] {
        &self.row
    }

    /// Minutes consumed so far.
    pub fn minutes_seen(&self) -> usize {
        self.minute
    }

    /// Consumes the next minute. Returns that minute's weights once the bout has started
    /// (burn-in minutes only feed the rule).
    pub fn step(&mut self, obs: &Observation<'_>) -> Option<&[S]> {
        // Minute-within-chunk counters, kept incrementally: a division per minute would cost
        // as much as the rest of the step.
        let t = self.minute;
        self.minute += 1;
        let cp = self.schedule.chunk_period;
        if self.chunk_offset == 0 {
            if t == 0 {
                self.rule.init(obs, &mut self.rule_row);
            } else {
                self.rule.step(obs, &mut self.rule_row);
            }
        }
        self.chunk_offset += 1;
        if self.chunk_offset == cp {
            self.chunk_offset = 0;
        }
        if t < self.schedule.start {
            return None;
        }
        let o = self.block_offset;
        if o == 0 {
            self.begin_block(self.blocks_begun);
            self.blocks_begun += 1;
        }
        self.block_offset += 1;
        if self.block_offset == cp {
            self.block_offset = 0;
        }
        if self.block == Block::Ramp {
            let ramp_minutes = self.guard.interpol_num - 1;
            if o < ramp_minutes {
                self.schedule.interpolation.ramp_row(
                    &self.step.start,
                    &self.step.scaled_diff,
                    &self.position,
                    o,
                    ramp_minutes + 1,
                    &mut self.row,
                );
            } else if o == ramp_minutes {
                self.row.copy_from_slice(&self.position);
            }
        }
        Some(&self.row)
    }

    /// [`WeightEngine::step`] over consecutive bout minutes, writing their weights row by row
    /// into `out` (observations row-major in `prices` and `supply`): the same rows, without
    /// the per-minute bookkeeping between chunk boundaries. False if a minute has no weights
    /// (it is still in the burn-in).
    pub fn step_rows(&mut self, prices: &[f64], supply: Option<&[f64]>, out: &mut [S]) -> bool {
        let n = self.n_assets();
        let cp = self.schedule.chunk_period;
        let rows = out.len() / n;
        let mut i = 0;
        while i < rows {
            let quiet = self.chunk_offset != 0 && self.block_offset != 0;
            if !quiet || self.minute < self.schedule.start {
                let at = i * n..(i + 1) * n;
                let obs = Observation {
                    prices: &prices[at.clone()],
                    supply: supply.map(|s| &s[at.clone()]),
                };
                let Some(w) = self.step(&obs) else {
                    return false;
                };
                copy_row(&mut out[at], w);
                i += 1;
                continue;
            }
            // Until the next chunk or block boundary nothing but the ramp moves.
            let run = (cp - self.chunk_offset)
                .min(cp - self.block_offset)
                .min(rows - i);
            let rows_out = &mut out[i * n..(i + run) * n];
            // The row length a constant for the usual two to four tokens (after inlining).
            match n {
                2 => self.quiet_rows(2, rows_out),
                3 => self.quiet_rows(3, rows_out),
                4 => self.quiet_rows(4, rows_out),
                _ => self.quiet_rows(n, rows_out),
            }
            let last = (i + run - 1) * n..(i + run) * n;
            self.row.copy_from_slice(&out[last]);
            self.minute += run;
            self.chunk_offset = (self.chunk_offset + run) % cp;
            self.block_offset = (self.block_offset + run) % cp;
            i += run;
        }
        true
    }

    /// Rows of minutes with no chunk or block boundary: the ramp's, then its end held.
    #[inline(always)]
    fn quiet_rows(&mut self, n: usize, out: &mut [S]) {
        let ramp_minutes = self.guard.interpol_num - 1;
        let o0 = self.block_offset;
        let ramping = if self.block == Block::Ramp {
            ramp_minutes.saturating_sub(o0).min(out.len() / n)
        } else {
            0
        };
        let (ramp, held) = out.split_at_mut(ramping * n);
        // Slices of the known length, so the per-row loops unroll.
        let (start, diff, end) = (
            &self.step.start[..n],
            &self.step.scaled_diff[..n],
            &self.position[..n],
        );
        for (k, row) in ramp.chunks_exact_mut(n).enumerate() {
            self.schedule
                .interpolation
                .ramp_row(start, diff, end, o0 + k, ramp_minutes + 1, row);
        }
        if self.block == Block::Ramp && o0 + ramping == ramp_minutes && !held.is_empty() {
            self.row.copy_from_slice(&self.position);
        }
        for row in held.chunks_exact_mut(n) {
            copy_row(row, &self.row);
        }
    }

    fn begin_block(&mut self, b: usize) {
        let Self {
            rule,
            guard,
            rule_row,
            position,
            step,
            ..
        } = self;
        match rule.kind() {
            RuleKind::Delta if b == 0 => {
                self.block = Block::Hold;
                self.row.copy_from_slice(&self.initial);
                return;
            }
            RuleKind::Delta => guard.apply(position, rule_row, Move::Delta, step),
            RuleKind::Target { blend } => {
                let how = Move::Toward { blend };
                if b == 0 {
                    // Start from the guarded target itself, with no speed limit.
                    guard.target(rule_row, rule_row, how, step);
                    position.copy_from_slice(&step.target);
                }
                guard.apply(position, rule_row, how, step);
            }
        }
        self.block = Block::Ramp;
    }
}

/// A source of per-minute weights for a simulation.
pub trait WeightPath<S: Scalar> {
    /// Minutes of burn-in before the bout starts.
    fn start(&self) -> usize;

    /// Consumes the next minute; the weights in force once the bout has started.
    fn step(&mut self, obs: &Observation<'_>) -> Option<&[S]>;

    /// Whether observations must carry a supply series.
    fn needs_supply(&self) -> bool {
        false
    }

    /// [`WeightPath::step`] over consecutive minutes (observations of `n` assets row-major in
    /// `prices` and `supply`), their weights row by row into `out`; false if a minute has none.
    fn step_rows(
        &mut self,
        n: usize,
        prices: &[f64],
        supply: Option<&[f64]>,
        out: &mut [S],
    ) -> bool {
        for (i, row) in out.chunks_exact_mut(n).enumerate() {
            let at = i * n..(i + 1) * n;
            let obs = Observation {
                prices: &prices[at.clone()],
                supply: supply.map(|s| &s[at]),
            };
            let Some(w) = self.step(&obs) else {
                return false;
            };
            copy_row(row, w);
        }
        true
    }
}

impl<S: Scalar> WeightPath<S> for WeightEngine<S> {
    fn start(&self) -> usize {
        self.schedule.start
    }

    fn step(&mut self, obs: &Observation<'_>) -> Option<&[S]> {
        WeightEngine::step(self, obs)
    }

    fn step_rows(
        &mut self,
        _n: usize,
        prices: &[f64],
        supply: Option<&[f64]>,
        out: &mut [S],
    ) -> bool {
        WeightEngine::step_rows(self, prices, supply, out)
    }

    fn needs_supply(&self) -> bool {
        self.rule.needs_supply()
    }
}

/// The same weights every minute (Balancer, CowAMM, HODL's deposit).
#[derive(Clone, Debug)]
pub struct ConstantWeights<S> {
    weights: Vec<S>,
    start: usize,
    minute: usize,
}

impl<S: Scalar> ConstantWeights<S> {
    pub fn new(weights: Vec<S>, start: usize) -> Self {
        Self {
            weights,
            start,
            minute: 0,
        }
    }

    /// Weights from `initial_weights_logits` (softmax) or `initial_weights`, equal if
    /// neither is given; every other parameter is an error.
    pub fn from_params(
        pool: &str,
        params: &Params<S>,
        n_assets: usize,
        start: usize,
    ) -> Result<Self> {
        let mut reader = ParamReader::new(params, pool, n_assets);
        let weights = initial_weights(&mut reader)?;
        reader.finish()?;
        Ok(Self::new(weights, start))
    }
}

impl<S: Scalar> WeightPath<S> for ConstantWeights<S> {
    fn start(&self) -> usize {
        self.start
    }

    fn step(&mut self, _: &Observation<'_>) -> Option<&[S]> {
        let t = self.minute;
        self.minute += 1;
        (t >= self.start).then_some(&self.weights)
    }
}

/// Splits `ensemble__bounded__momentum` into its hooks and base rule.
fn split_hooks(rule: &str) -> Result<(Vec<&str>, &str)> {
    let mut parts: Vec<&str> = rule.split("__").collect();
    let base = parts.pop().unwrap_or_default();
    for hook in &parts {
        if !matches!(*hook, "bounded" | "ensemble") {
            return Err(Error::invalid(
                "rule",
                format!("\"{rule}\""),
                format!("hook `{hook}` is not supported for weights (known: bounded, ensemble)"),
            ));
        }
    }
    Ok((parts, base))
}

/// `softmax(initial_weights_logits)`, or `initial_weights` as given, or equal weights.
pub(crate) fn initial_weights<S: Scalar>(reader: &mut ParamReader<'_, S>) -> Result<Vec<S>> {
    let n = reader.n_assets();
    match reader.choose(&["initial_weights_logits", "initial_weights"])? {
        Some("initial_weights_logits") => Ok(softmax(&reader.require("initial_weights_logits")?)),
        Some(name) => {
            let w = reader.require(name)?;
            let total: f64 = w.iter().map(|x| x.value()).sum();
            if w.iter().any(|x| x.value().is_nan() || x.value() <= 0.0)
                || (total - 1.0).abs() > 1e-9
            {
                return Err(Error::invalid(
                    "params.initial_weights",
                    format!("{:?}", w.iter().map(|x| x.value()).collect::<Vec<_>>()),
                    "weights must be positive and sum to 1",
                ));
            }
            Ok(w)
        }
        None => Ok(vec![cst(1.0 / n as f64); n]),
    }
}

/// Per-asset bounds of the `bounded__` hook: learnable (`raw_min_budget`, `raw_min_logits`,
/// `raw_gap_logits`) or fixed (`min_weights_per_asset`, `max_weights_per_asset`).
fn asset_bounds<S: Scalar>(reader: &mut ParamReader<'_, S>) -> Result<AssetBounds<S>> {
    if reader.has("raw_min_budget") {
        let budget = sigmoid(reader.number("raw_min_budget")?.unwrap_or(cst(0.0)));
        let shares = softmax(&reader.require("raw_min_logits")?);
        let gaps = reader.require("raw_gap_logits")?;
        let min: Vec<S> = shares.iter().map(|&s| budget * s).collect();
        let initial_max: Vec<S> = min
            .iter()
            .zip(&gaps)
            .map(|(&lo, &g)| lo + (cst::<S>(1.0) - lo) * sigmoid(g))
            .collect();
        let total = initial_max.iter().fold(cst::<S>(0.0), |a, &b| a + b);
        let scale = crate::scalar::max((total + 1e-6).recip(), cst(1.0));
        let max = initial_max.into_iter().map(|m| m * scale).collect();
        return Ok(AssetBounds { min, max });
    }
    let rule = reader.rule().to_string();
    let missing = || Error::MissingParam {
        rule,
        name: "min_weights_per_asset".into(),
        alternatives: "`min_weights_per_asset` and `max_weights_per_asset`, or `raw_min_budget`, \
                       `raw_min_logits` and `raw_gap_logits`"
            .into(),
    };
    let (Some(min), Some(max)) = (
        reader.vector("min_weights_per_asset")?,
        reader.vector("max_weights_per_asset")?,
    ) else {
        return Err(missing());
    };
    let lo: Vec<f64> = min.iter().map(|x| x.value()).collect();
    let hi: Vec<f64> = max.iter().map(|x| x.value()).collect();
    let bad = |rule: &str| {
        Err(Error::invalid(
            "params.min/max_weights_per_asset",
            format!("{lo:?} / {hi:?}"),
            rule,
        ))
    };
    if lo.iter().any(|&x| x.is_nan() || x < 0.0) {
        return bad("minimums must be >= 0");
    }
    if hi.iter().any(|&x| x.is_nan() || x > 1.0) {
        return bad("maximums must be <= 1");
    }
    if lo.iter().zip(&hi).any(|(a, b)| a >= b) {
        return bad("each minimum must be below its maximum");
    }
    if lo.iter().sum::<f64>() > 1.0 {
        return bad("minimums must sum to at most 1");
    }
    if hi.iter().sum::<f64>() < 1.0 {
        return bad("maximums must sum to at least 1");
    }
    Ok(AssetBounds { min, max })
}

/// Parameters shared by all members rather than stacked per member.
const SHARED_PARAMS: &[&str] = &[
    "initial_weights_logits",
    "initial_weights",
    "min_weights_per_asset",
    "max_weights_per_asset",
    "raw_min_budget",
    "raw_min_logits",
    "raw_gap_logits",
];

fn ensemble<S: Scalar>(
    base: &str,
    params: &Params<S>,
    reader: &mut ParamReader<'_, S>,
    members: usize,
    settings: &RuleSettings,
) -> Result<Ensemble<S>> {
    let n = reader.n_assets();
    let mut rules = Vec::with_capacity(members);
    for i in 0..members {
        let mut member = Params::new();
        for (name, arr) in params
            .iter()
            .filter(|(name, _)| !SHARED_PARAMS.contains(name))
        {
            if arr.shape.first() != Some(&members) {
                return Err(Error::ParamShape {
                    rule: reader.rule().to_string(),
                    name: name.to_string(),
                    got: format!("{:?}", arr.shape),
                    expected: format!("a leading axis of n_ensemble_members = {members}"),
                });
            }
            member.insert(name, arr.index(i));
        }
        let mut member_reader = ParamReader::new(&member, base, n);
        let rule = build_rule(base, &mut member_reader, settings)?;
        member_reader.finish()?;
        if !matches!(rule.kind(), RuleKind::Delta) {
            return Err(Error::invalid(
                "rule",
                format!("\"ensemble__{base}\""),
                "ensembles average weight changes; this rule outputs target weights",
            ));
        }
        rules.push(rule);
    }
    for (name, _) in params.iter() {
        if !SHARED_PARAMS.contains(&name) {
            reader.accept(name);
        }
    }
    Ok(Ensemble::new(rules))
}

#[cfg(test)]
mod tests;
