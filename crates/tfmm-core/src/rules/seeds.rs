//! User-facing starting values (quantammsim's `initial_*` seeds) turned into each rule's
//! internal parameters, as the reference's `init_base_parameters` does.

use super::{WEIGHT_RULES, unknown_rule};
use crate::error::{Error, Result};
use crate::params::{ParamArray, Params, memory_days_to_lamb_setting};
use crate::scalar::{inverse_squareplus, logit};

/// Starting values in user-facing units; each is a per-asset vector (or one value for all).
#[derive(Clone, Debug, PartialEq)]
pub struct Seeds {
    /// EWMA memory in days (`initial_memory_length`).
    pub memory_days: Vec<f64>,
    /// Extra memory of the second EWMA in days (`initial_memory_length_delta`).
    pub memory_days_delta: Vec<f64>,
    /// Weight change per unit signal per memory day (`initial_k_per_day`).
    pub k_per_day: Vec<f64>,
    /// Initial weight logits (`initial_weights_logits`); equal logits give equal weights.
    pub weights_logits: Vec<f64>,
    /// Channel amplitude per memory day, log2 (`initial_log_amplitude`).
    pub log_amplitude: Vec<f64>,
    /// Channel width, log2 (`initial_raw_width`).
    pub raw_width: Vec<f64>,
    /// Exponent before squareplus (`initial_raw_exponents`).
    pub raw_exponents: Vec<f64>,
    /// Pre-exponential scaling in (0, 1) (`initial_pre_exp_scaling`).
    pub pre_exp_scaling: Vec<f64>,
}

impl Default for Seeds {
    /// The reference's defaults.
    fn default() -> Self {
        Self {
            memory_days: vec![10.0],
            memory_days_delta: vec![0.0],
            k_per_day: vec![20.0],
            weights_logits: vec![1.0],
            log_amplitude: vec![0.0],
            raw_width: vec![0.0],
            raw_exponents: vec![0.0],
            pre_exp_scaling: vec![0.5],
        }
    }
}

impl Seeds {
    /// Initial logits from weights (`ln w`), which softmax maps back to `w`.
    pub fn weights_to_logits(weights: &[f64]) -> Vec<f64> {
        weights.iter().map(|w| w.ln()).collect()
    }
}

/// Internal parameters of `rule` (hook prefixes allowed) for `n_assets` assets.
pub fn internal_params(
    rule: &str,
    seeds: &Seeds,
    n_assets: usize,
    chunk_period: usize,
) -> Result<Params<f64>> {
    let base = rule.rsplit("__").next().unwrap_or(rule);
    if !WEIGHT_RULES.contains(&base) {
        return Err(unknown_rule(base));
    }
    let n = n_assets;
    let cp = chunk_period as f64;
    let per_asset = |name: &str, v: &[f64]| -> Result<Vec<f64>> {
        match v.len() {
            1 => Ok(vec![v[0]; n]),
            m if m == n => Ok(v.to_vec()),
            m => Err(Error::invalid(
                name,
                format!("{m} values"),
                format!("give one value or one per asset ({n})"),
            )),
        }
    };
    let memory = per_asset("memory_days", &seeds.memory_days)?;
    let delta = per_asset("memory_days_delta", &seeds.memory_days_delta)?;
    let k_per_day = per_asset("k_per_day", &seeds.k_per_day)?;
    let logits = per_asset("weights_logits", &seeds.weights_logits)?;
    for (&m, &d) in memory.iter().zip(&delta) {
        if !(m.is_finite() && m > 0.0) {
            return Err(Error::invalid(
                "memory_days",
                m,
                "must be a positive number of days",
            ));
        }
        if !(d.is_finite() && m + d > 0.0) {
            return Err(Error::invalid(
                "memory_days_delta",
                d,
                "memory_days + memory_days_delta must be > 0",
            ));
        }
    }
    let logit_lamb = |md: f64| logit(memory_days_to_lamb_setting(md, cp));
    let lamb: Vec<f64> = memory.iter().map(|&m| logit_lamb(m)).collect();
    let delta_lamb: Vec<f64> = memory
        .iter()
        .zip(&delta)
        .zip(&lamb)
        .map(|((&m, &d), &l)| logit_lamb(m + d) - l)
        .collect();
    let longer: Vec<f64> = memory.iter().zip(&delta).map(|(m, d)| m + d).collect();
    let vector = |v: Vec<f64>| ParamArray::vector(v);
    let map = |name: &str, v: &[f64], f: fn(f64) -> f64| -> Result<ParamArray<f64>> {
        Ok(vector(per_asset(name, v)?.into_iter().map(f).collect()))
    };

    let mut p = Params::new().with("initial_weights_logits", vector(logits));
    match base {
        "momentum" | "anti_momentum" => {
            p.insert(
                "log_k",
                vector(k_per_day.iter().map(|k| k.log2()).collect()),
            );
            p.insert("logit_lamb", vector(lamb));
            p.insert("logit_delta_lamb", vector(delta_lamb));
        }
        "power_channel" | "mean_reversion_channel" => {
            p.insert(
                "sp_k",
                vector(k_per_day.iter().map(|&k| inverse_squareplus(k)).collect()),
            );
            p.insert("logit_lamb", vector(lamb));
            p.insert("logit_delta_lamb", vector(delta_lamb));
            p.insert(
                "sp_pre_exp_scaling",
                map(
                    "pre_exp_scaling",
                    &seeds.pre_exp_scaling,
                    inverse_squareplus,
                )?,
            );
            p.insert(
                "sp_exponents",
                vector(per_asset("raw_exponents", &seeds.raw_exponents)?),
            );
            if base == "mean_reversion_channel" {
                let from_log2 = |x: f64| inverse_squareplus(x.exp2());
                p.insert(
                    "sp_amplitude",
                    map("log_amplitude", &seeds.log_amplitude, from_log2)?,
                );
                p.insert("sp_width", map("raw_width", &seeds.raw_width, from_log2)?);
            }
        }
        "triple_threat_mean_reversion_channel" => {
            p.insert(
                "log_k",
                vector(k_per_day.iter().map(|k| k.log2()).collect()),
            );
            p.insert(
                "logit_lamb",
                ParamArray::stack(&[lamb.clone(), lamb.clone(), lamb.clone()]),
            );
            p.insert("logit_lamb_for_ewma", vector(lamb));
            p.insert(
                "raw_pre_exp_scaling",
                map("pre_exp_scaling", &seeds.pre_exp_scaling, f64::log2)?,
            );
            p.insert(
                "log_amplitude",
                vector(per_asset("log_amplitude", &seeds.log_amplitude)?),
            );
            p.insert(
                "raw_width",
                vector(per_asset("raw_width", &seeds.raw_width)?),
            );
            p.insert(
                "raw_exponents",
                vector(per_asset("raw_exponents", &seeds.raw_exponents)?),
            );
        }
        "difference_momentum" => {
            p.insert("k", vector(k_per_day));
            p.insert("memory_days_1", vector(memory));
            p.insert("memory_days_2", vector(longer));
        }
        "min_variance" => {
            p.insert("memory_days_1", vector(memory));
            p.insert("memory_days_2", vector(longer));
        }
        _ => {
            // The market-cap rules: only the blend memory.
            p.insert("logit_lamb", vector(lamb));
            p.insert("logit_delta_lamb", vector(vec![0.0; n]));
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_seeds_give_the_reference_parameters() {
        // Reference case momentum_3a_f30_vec_1m: memory_days [5, 15, 30], k_per_day
        // [0.5, 2, 4], weights [0.5, 0.3, 0.2] at chunk_period 60.
        let seeds = Seeds {
            memory_days: vec![5.0, 15.0, 30.0],
            k_per_day: vec![0.5, 2.0, 4.0],
            weights_logits: Seeds::weights_to_logits(&[0.5, 0.3, 0.2]),
            ..Seeds::default()
        };
        let p = internal_params("momentum", &seeds, 3, 60).unwrap();
        assert_eq!(
            p.get("logit_lamb").unwrap().data,
            vec![3.476799274431361, 4.588962294981777, 5.28548300359054]
        );
        assert_eq!(p.get("log_k").unwrap().data, vec![-1.0, 1.0, 2.0]);
        assert_eq!(p.get("logit_delta_lamb").unwrap().data, vec![0.0; 3]);
        assert_eq!(
            p.get("initial_weights_logits").unwrap().data,
            vec![
                -std::f64::consts::LN_2,
                -1.2039728043259361,
                -1.6094379124341003
            ]
        );
    }

    #[test]
    fn channel_seeds_give_the_reference_parameters() {
        // Reference case mean_reversion_channel_3a_f30_arb1_cp60_lin_1m.
        let seeds = Seeds {
            k_per_day: vec![1.0],
            weights_logits: vec![0.0],
            raw_width: vec![-3.0],
            raw_exponents: vec![1.5],
            ..Seeds::default()
        };
        let p = internal_params("mean_reversion_channel", &seeds, 3, 60).unwrap();
        let one = |name: &str| p.get(name).unwrap().data[0];
        assert_eq!(one("sp_k"), 0.0);
        assert_eq!(one("logit_lamb"), 4.180117994737377);
        assert_eq!(one("sp_amplitude"), 0.0);
        assert_eq!(one("sp_width"), -7.875);
        assert_eq!(one("sp_exponents"), 1.5);
        assert_eq!(one("sp_pre_exp_scaling"), -1.5);
    }

    #[test]
    fn every_rule_gets_buildable_parameters() {
        use crate::params::ParamReader;
        use crate::rules::{RuleSettings, build_rule};
        for rule in WEIGHT_RULES {
            let p = internal_params(rule, &Seeds::default(), 3, 60).unwrap();
            let mut reader = ParamReader::new(&p, *rule, 3);
            build_rule(rule, &mut reader, &RuleSettings::default()).unwrap();
            reader.accept("initial_weights_logits");
            reader.finish().unwrap();
        }
        let err = internal_params(
            "momentum",
            &Seeds {
                memory_days: vec![0.0],
                ..Seeds::default()
            },
            3,
            60,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("memory_days = 0"), "{err}");
    }
}
