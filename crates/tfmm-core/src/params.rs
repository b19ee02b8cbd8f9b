//! Parameters: the memory-length and aggressiveness conversions, and the named parameter
//! arrays a rule is built from.
//!
//! Internal names (`logit_lamb`, `log_k`, `sp_k`, ...) are what rules read; the user-facing
//! quantities (`memory_days`, `k_per_day`, weights) convert to them with the functions here.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::scalar::{Scalar, clip, cst, logistic};

const MINUTES_PER_DAY: f64 = 1440.0;

/// EWMA decay `lambda` whose memory is `memory_days` at one update per `chunk_period` minutes:
/// the root of `lambda / (1 - lambda)^3 = s`, in the reference's literal closed form.
///
/// The closed form cancels catastrophically (relative error of `1 - lambda` up to ~4.5·s·eps);
/// it is reproduced operation for operation because reference parameters were produced by it.
/// Integer powers are products, as the reference's array code evaluates them.
pub fn memory_days_to_lamb<S: Scalar>(memory_days: S, chunk_period: f64) -> S {
    if memory_days.value() == 0.0 {
        return cst(0.0);
    }
    let x = (memory_days * MINUTES_PER_DAY) / (2.0 * chunk_period);
    let s = x * (x * x) / 6.0;
    let s2 = s * s;
    let s3 = s * (s * s);
    let s4 = (s * s) * (s * s);
    cubic_root_lamb(s, s2, s3, s4)
}

/// [`memory_days_to_lamb`] for a plain number given as a setting (`max_memory_days`): the
/// reference evaluates those powers with `pow`, not products.
pub fn memory_days_to_lamb_setting(memory_days: f64, chunk_period: f64) -> f64 {
    if memory_days == 0.0 {
        return 0.0;
    }
    let x = (MINUTES_PER_DAY * memory_days) / (2.0 * chunk_period);
    // `powf`, not `powi`: libm's pow is what the reference calls for these powers.
    let s = x.powf(3.0) / 6.0;
    cubic_root_lamb(s, s.powf(2.0), s.powf(3.0), s.powf(4.0))
}

fn cubic_root_lamb<S: Scalar>(s: S, s2: S, s3: S, s4: S) -> S {
    let n1 = ((s4 * 27.0 + s3 * 4.0) * 3.0).sqrt() - s2 * 9.0;
    let n1 = n1.cbrt();
    let d1 = s * (2f64.cbrt() * 3f64.powf(2.0 / 3.0));
    let n2 = (2.0f64 / 3.0).cbrt();
    n1 / d1 - cst::<S>(n2) / n1 + 1.0
}

/// Memory in days of an EWMA with decay `lamb` updated every `chunk_period` minutes.
pub fn lamb_to_memory_days<S: Scalar>(lamb: S, chunk_period: f64) -> S {
    let one_minus = cst::<S>(1.0) - lamb;
    let ratio = lamb * 6.0 / (one_minus * one_minus * one_minus);
    ratio.cbrt() * 2.0 * chunk_period / MINUTES_PER_DAY
}

/// Memory in days clipped to `[0, max_memory_days]`.
pub fn lamb_to_memory_days_clipped<S: Scalar>(
    lamb: S,
    chunk_period: f64,
    max_memory_days: f64,
) -> S {
    clip(
        lamb_to_memory_days(lamb, chunk_period),
        0.0,
        max_memory_days,
    )
}

/// The largest decay any estimator may use: the one of `max_memory_days`.
pub fn max_lamb(chunk_period: f64, max_memory_days: f64) -> f64 {
    memory_days_to_lamb_setting(max_memory_days, chunk_period)
}

/// Decay from its logit, capped at [`max_lamb`].
pub fn capped_lamb<S: Scalar>(logit_lamb: S, cap: f64) -> S {
    clip(logistic(logit_lamb), 0.0, cap)
}

/// `softmax(logits)`, shifted by the maximum for range safety.
pub fn softmax<S: Scalar>(logits: &[S]) -> Vec<S> {
    let top = logits
        .iter()
        .copied()
        .reduce(crate::scalar::max)
        .unwrap_or(cst(0.0));
    let e: Vec<S> = logits.iter().map(|&x| (x - top).exp()).collect();
    let total = e.iter().copied().fold(cst::<S>(0.0), |a, b| a + b);
    e.into_iter().map(|x| x / total).collect()
}

/// One named parameter: a scalar, a per-asset vector or a stack of them (ensemble members,
/// the three estimators of the triple-threat rule).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamArray<S> {
    pub shape: Vec<usize>,
    pub data: Vec<S>,
}

impl<S: Copy> ParamArray<S> {
    pub fn scalar(v: S) -> Self {
        Self {
            shape: vec![],
            data: vec![v],
        }
    }

    pub fn vector(v: Vec<S>) -> Self {
        Self {
            shape: vec![v.len()],
            data: v,
        }
    }

    /// Rows of equal length stacked along a leading axis.
    pub fn stack(rows: &[Vec<S>]) -> Self {
        let cols = rows.first().map_or(0, Vec::len);
        Self {
            shape: vec![rows.len(), cols],
            data: rows.concat(),
        }
    }

    /// Entry `i` of the leading axis.
    pub fn index(&self, i: usize) -> Self {
        let inner: usize = self.shape[1..].iter().product();
        Self {
            shape: self.shape[1..].to_vec(),
            data: self.data[i * inner..(i + 1) * inner].to_vec(),
        }
    }

    pub fn map<T: Copy>(&self, f: impl Fn(S) -> T) -> ParamArray<T> {
        ParamArray {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    fn shape_text(&self) -> String {
        format!("{:?}", self.shape)
    }
}

/// A parameter set: internal parameter name to array.
#[derive(Clone, Debug, PartialEq)]
pub struct Params<S> {
    entries: BTreeMap<String, ParamArray<S>>,
}

impl<S> Default for Params<S> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }
}

impl<S: Copy> Params<S> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, value: ParamArray<S>) -> &mut Self {
        self.entries.insert(name.into(), value);
        self
    }

    pub fn with(mut self, name: impl Into<String>, value: ParamArray<S>) -> Self {
        self.insert(name, value);
        self
    }

    pub fn get(&self, name: &str) -> Option<&ParamArray<S>> {
        self.entries.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    pub fn remove(&mut self, name: &str) -> Option<ParamArray<S>> {
        self.entries.remove(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamArray<S>)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn map<T: Copy>(&self, f: impl Fn(S) -> T + Copy) -> Params<T> {
        Params {
            entries: self
                .entries
                .iter()
                .map(|(k, v)| (k.clone(), v.map(f)))
                .collect(),
        }
    }
}

/// Reads a parameter set on behalf of one rule, checking shapes and remembering what was
/// read so that anything left over can be reported instead of silently ignored.
pub struct ParamReader<'a, S> {
    params: &'a Params<S>,
    rule: String,
    n_assets: usize,
    read: BTreeSet<String>,
    /// Present and allowed, but not read by this configuration.
    accepted: BTreeSet<String>,
}

impl<'a, S: Scalar> ParamReader<'a, S> {
    pub fn new(params: &'a Params<S>, rule: impl Into<String>, n_assets: usize) -> Self {
        Self {
            params,
            rule: rule.into(),
            n_assets,
            read: BTreeSet::new(),
            accepted: BTreeSet::new(),
        }
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    pub fn n_assets(&self) -> usize {
        self.n_assets
    }

    pub fn has(&self, name: &str) -> bool {
        self.params.contains(name)
    }

    /// Marks a parameter as legitimately present though this configuration does not use it
    /// (e.g. `logit_delta_lamb` without `use_alt_lamb`).
    pub fn accept(&mut self, name: &str) {
        if self.params.contains(name) && self.read.insert(name.to_string()) {
            self.accepted.insert(name.to_string());
        }
    }

    /// Parameters actually read so far (not merely accepted): those the result depends on.
    pub fn used(&self) -> Vec<String> {
        self.read.difference(&self.accepted).cloned().collect()
    }

    fn mark_read(&mut self, name: &str) {
        self.read.insert(name.to_string());
        self.accepted.remove(name);
    }

    /// A per-asset vector; a scalar is broadcast to every asset.
    pub fn vector(&mut self, name: &str) -> Result<Option<Vec<S>>> {
        let Some(arr) = self.params.get(name) else {
            return Ok(None);
        };
        self.mark_read(name);
        let n = self.n_assets;
        match arr.shape.as_slice() {
            [] => Ok(Some(vec![arr.data[0]; n])),
            [m] if *m == n => Ok(Some(arr.data.clone())),
            _ => Err(Error::ParamShape {
                rule: self.rule.clone(),
                name: name.to_string(),
                got: arr.shape_text(),
                expected: format!("one value per asset ({n})"),
            }),
        }
    }

    /// A required per-asset vector.
    pub fn require(&mut self, name: &str) -> Result<Vec<S>> {
        self.vector(name)?.ok_or_else(|| Error::MissingParam {
            rule: self.rule.clone(),
            name: name.to_string(),
            alternatives: format!("`{name}`"),
        })
    }

    /// Which of `names` is present, if any; more than one present is an error.
    pub fn choose(&self, names: &[&'static str]) -> Result<Option<&'static str>> {
        let present: Vec<&'static str> = names.iter().copied().filter(|n| self.has(n)).collect();
        match present.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            [first, second, ..] => Err(Error::ConflictingParams {
                rule: self.rule.clone(),
                first: first.to_string(),
                second: second.to_string(),
            }),
        }
    }

    /// A stack of `rows` per-asset vectors (shape `[rows, n]`).
    pub fn rows(&mut self, name: &str, rows: usize) -> Result<Vec<Vec<S>>> {
        let Some(arr) = self.params.get(name) else {
            return Err(Error::MissingParam {
                rule: self.rule.clone(),
                name: name.to_string(),
                alternatives: format!("`{name}`"),
            });
        };
        self.mark_read(name);
        let n = self.n_assets;
        if arr.shape != [rows, n] {
            return Err(Error::ParamShape {
                rule: self.rule.clone(),
                name: name.to_string(),
                got: arr.shape_text(),
                expected: format!("[{rows}, {n}]"),
            });
        }
        Ok(arr.data.chunks(n).map(<[S]>::to_vec).collect())
    }

    /// A single number (shape `[]` or `[1]`).
    pub fn number(&mut self, name: &str) -> Result<Option<S>> {
        let Some(arr) = self.params.get(name) else {
            return Ok(None);
        };
        self.mark_read(name);
        if arr.data.len() != 1 {
            return Err(Error::ParamShape {
                rule: self.rule.clone(),
                name: name.to_string(),
                got: arr.shape_text(),
                expected: "a single number".into(),
            });
        }
        Ok(Some(arr.data[0]))
    }

    /// Errors on the first parameter nobody read.
    pub fn finish(self) -> Result<()> {
        if let Some((name, _)) = self.params.iter().find(|(k, _)| !self.read.contains(*k)) {
            let accepted: Vec<&str> = self.read.iter().map(String::as_str).collect();
            return Err(Error::UnusedParam {
                rule: self.rule,
                name: name.to_string(),
                accepted: if accepted.is_empty() {
                    "nothing".into()
                } else {
                    accepted.join(", ")
                },
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // quantammsim's numpy `memory_days_to_lamb` (spec weights.md, appendix A.1), which
    // evaluates the powers with `pow` like our setting variant. The product form used for
    // parameter arrays agrees to the formula's conditioning (~4.5·s·eps relative in 1 - lambda).
    #[test]
    fn memory_days_to_lamb_matches_reference_values() {
        let cases = [
            (10.0, 1440.0, 0.6803607118851567),
            (10.0, 60.0, 0.9849337612426768),
            (30.0, 60.0, 0.9949609353886062),
            (365.0, 1440.0, 0.990076220832141),
            (365.0, 60.0, 0.9995851913260512),
            (1.0, 1.0, 0.9974783445516535),
        ];
        for (md, cp, want) in cases {
            let setting = memory_days_to_lamb_setting(md, cp);
            assert!(
                (setting - want).abs() <= 2.5e-16,
                "md {md} cp {cp}: {setting} vs {want}"
            );
            let product: f64 = memory_days_to_lamb(md, cp);
            assert!(
                (product - want).abs() <= 1e-14,
                "md {md} cp {cp}: {product} vs {want}"
            );
        }
        assert_eq!(memory_days_to_lamb(0.0, 60.0), 0.0);
    }

    // runners.md §10 conversions.
    #[test]
    fn logit_lamb_of_common_memories() {
        let logit = |md: f64, cp: f64| crate::scalar::logit(memory_days_to_lamb(md, cp));
        assert!((logit(10.0, 1440.0) - 0.755430).abs() < 5e-7);
        assert!((logit(30.0, 1440.0) - 2.028408).abs() < 5e-7);
        assert!((logit(0.5, 1440.0) + 5.955817).abs() < 5e-7);
        assert!((logit(365.0, 1440.0) - 4.602848).abs() < 5e-7);
        assert!((logit(10.0, 60.0) - 4.180118).abs() < 5e-7);
    }

    #[test]
    fn memory_round_trip_is_close() {
        for (md, cp) in [(10.0f64, 60.0), (3.0, 1440.0), (100.0, 240.0)] {
            let back = lamb_to_memory_days(memory_days_to_lamb(md, cp), cp);
            assert!((back - md).abs() / md < 1e-6, "{md} {cp} -> {back}");
        }
    }

    #[test]
    fn softmax_of_equal_logits_is_uniform() {
        let w = softmax(&[1.0, 1.0, 1.0, 1.0]);
        assert!(w.iter().all(|&x| x == 0.25));
        let w = softmax(&[0.2, 0.0, -0.1]);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!((w[0] - 0.3906938332698157).abs() < 1e-15);
    }

    #[test]
    fn reader_checks_shapes_and_leftovers() {
        let p = Params::new()
            .with("log_k", ParamArray::vector(vec![1.0, 2.0]))
            .with("logit_lamb", ParamArray::scalar(3.0))
            .with("typo_k", ParamArray::scalar(3.0));
        let mut r = ParamReader::new(&p, "momentum", 2);
        assert_eq!(r.require("logit_lamb").unwrap(), vec![3.0, 3.0]);
        assert_eq!(r.require("log_k").unwrap(), vec![1.0, 2.0]);
        let err = r.finish().unwrap_err().to_string();
        assert!(err.contains("params.typo_k"), "{err}");

        let mut r = ParamReader::new(&p, "momentum", 3);
        let err = r.require("log_k").unwrap_err().to_string();
        assert!(err.contains("params.log_k has shape [2]"), "{err}");
        assert!(err.contains("one value per asset (3)"), "{err}");
    }

    #[test]
    fn reader_refuses_two_alternatives() {
        let p = Params::new()
            .with("log_k", ParamArray::scalar(1.0))
            .with("k", ParamArray::scalar(2.0));
        let r = ParamReader::new(&p, "momentum", 2);
        let err = r
            .choose(&["log_k", "absolute_k", "k"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("params.log_k and params.k"), "{err}");
    }
}
