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

/// User-facing parameter names (quantammsim's web/API form) accepted in a parameter set.
pub const USER_FACING: &[&str] = &[
    "memory_days",
    "memory_days_delta",
    "k_per_day",
    "weights",
    "exponent",
    "width",
    "amplitude",
    "pre_exp_scaling",
];

/// Replaces user-facing parameters (`memory_days`, `k_per_day`, `weights`, `exponent`,
/// `width`, `amplitude` in absolute terms, `pre_exp_scaling`) by the rule's internal ones, as
/// quantammsim's web path does; internal names pass through. Giving a quantity both ways is
/// an error.
pub fn internalize(
    rule: &str,
    params: &Params<f64>,
    n_assets: usize,
    chunk_period: usize,
) -> Result<Params<f64>> {
    if !params.iter().any(|(name, _)| USER_FACING.contains(&name)) {
        return Ok(params.clone());
    }
    let base = rule.rsplit("__").next().unwrap_or(rule);
    let n = n_assets;
    let cp = chunk_period as f64;
    let per_asset = |name: &str| -> Result<Option<Vec<f64>>> {
        let Some(arr) = params.get(name) else {
            return Ok(None);
        };
        match arr.shape.as_slice() {
            [] => Ok(Some(vec![arr.data[0]; n])),
            [m] if *m == n => Ok(Some(arr.data.clone())),
            _ => Err(Error::ParamShape {
                rule: rule.to_string(),
                name: name.to_string(),
                got: format!("{:?}", arr.shape),
                expected: format!("one value per asset ({n})"),
            }),
        }
    };
    let mut out = Params::new();
    for (name, arr) in params
        .iter()
        .filter(|(name, _)| !USER_FACING.contains(name))
    {
        out.insert(name, arr.clone());
    }
    let conflict = |name: &str, from: &str| -> Result<()> {
        match params.contains(name) {
            true => Err(Error::ConflictingParams {
                rule: rule.to_string(),
                first: from.to_string(),
                second: name.to_string(),
            }),
            false => Ok(()),
        }
    };
    let mut converted: Vec<(&str, ParamArray<f64>)> = vec![];
    let mut set = |name: &'static str, values: Vec<f64>, from: &str| -> Result<()> {
        conflict(name, from)?;
        converted.push((name, ParamArray::vector(values)));
        Ok(())
    };
    let memory = per_asset("memory_days")?;
    let delta = per_asset("memory_days_delta")?.unwrap_or(vec![0.0; n]);
    if let Some(md) = &memory {
        for (&m, &d) in md.iter().zip(&delta) {
            if !(m.is_finite() && m > 0.0) {
                return Err(Error::invalid(
                    "params.memory_days",
                    m,
                    "must be a positive number of days",
                ));
            }
            if !(d.is_finite() && m + d > 0.0) {
                return Err(Error::invalid(
                    "params.memory_days_delta",
                    d,
                    "memory_days + memory_days_delta must be > 0",
                ));
            }
        }
    } else if params.contains("memory_days_delta") {
        return Err(Error::MissingParam {
            rule: rule.to_string(),
            name: "memory_days".into(),
            alternatives: "`memory_days` (memory_days_delta is relative to it)".into(),
        });
    }
    let logit_of = |md: f64| logit(memory_days_to_lamb_setting(md, cp));
    if let Some(md) = &memory {
        let longer: Vec<f64> = md.iter().zip(&delta).map(|(m, d)| m + d).collect();
        match base {
            "min_variance" | "difference_momentum" => {
                set("memory_days_1", md.clone(), "memory_days")?;
                set("memory_days_2", longer, "memory_days")?;
            }
            _ => {
                let lamb: Vec<f64> = md.iter().map(|&m| logit_of(m)).collect();
                let delta_lamb = longer
                    .iter()
                    .zip(&lamb)
                    .map(|(&m, &l)| logit_of(m) - l)
                    .collect();
                if base == "triple_threat_mean_reversion_channel" {
                    conflict("logit_lamb", "memory_days")?;
                    out.insert(
                        "logit_lamb",
                        ParamArray::stack(&[lamb.clone(), lamb.clone(), lamb.clone()]),
                    );
                    set("logit_lamb_for_ewma", lamb, "memory_days")?;
                } else {
                    set("logit_lamb", lamb, "memory_days")?;
                    if params.contains("memory_days_delta") || !params.contains("logit_delta_lamb")
                    {
                        set("logit_delta_lamb", delta_lamb, "memory_days_delta")?;
                    }
                }
            }
        }
    }
    if let Some(k) = per_asset("k_per_day")? {
        // `k` is per memory day: the rules multiply it by the memory at run time.
        set("k", k, "k_per_day")?;
    }
    if let Some(w) = per_asset("weights")? {
        let total: f64 = w.iter().sum();
        if w.iter().any(|x| !(*x > 0.0)) || (total - 1.0).abs() > 1e-9 {
            return Err(Error::invalid(
                "params.weights",
                format!("{w:?}"),
                "weights must be positive and sum to 1",
            ));
        }
        set(
            "initial_weights_logits",
            Seeds::weights_to_logits(&w),
            "weights",
        )?;
    }
    let triple = base == "triple_threat_mean_reversion_channel";
    let positive = |name: &str, v: &[f64]| -> Result<()> {
        match v.iter().find(|x| !(**x > 0.0)) {
            Some(x) => Err(Error::invalid(format!("params.{name}"), x, "must be > 0")),
            None => Ok(()),
        }
    };
    if let Some(e) = per_asset("exponent")? {
        positive("exponent", &e)?;
        let internal = e.iter().map(|&x| inverse_squareplus(x)).collect();
        set(
            if triple {
                "raw_exponents"
            } else {
                "sp_exponents"
            },
            internal,
            "exponent",
        )?;
    }
    if let Some(w) = per_asset("width")? {
        positive("width", &w)?;
        if triple {
            set("raw_width", w.iter().map(|x| x.log2()).collect(), "width")?;
        } else {
            set(
                "sp_width",
                w.iter().map(|&x| inverse_squareplus(x)).collect(),
                "width",
            )?;
        }
    }
    if let Some(scaling) = per_asset("pre_exp_scaling")? {
        positive("pre_exp_scaling", &scaling)?;
        if triple {
            set(
                "raw_pre_exp_scaling",
                scaling.iter().map(|x| x.log2()).collect(),
                "pre_exp_scaling",
            )?;
        } else {
            set(
                "sp_pre_exp_scaling",
                scaling.iter().map(|&x| inverse_squareplus(x)).collect(),
                "pre_exp_scaling",
            )?;
        }
    }
    if let Some(a) = per_asset("amplitude")? {
        positive("amplitude", &a)?;
        // Amplitudes are stored per memory day.
        let md = memory.clone().ok_or_else(|| Error::MissingParam {
            rule: rule.to_string(),
            name: "memory_days".into(),
            alternatives: "`memory_days` (an absolute amplitude is stored per memory day)".into(),
        })?;
        let per_day: Vec<f64> = a.iter().zip(&md).map(|(a, m)| a / m).collect();
        if triple {
            set(
                "log_amplitude",
                per_day.iter().map(|x| x.log2()).collect(),
                "amplitude",
            )?;
        } else {
            set(
                "sp_amplitude",
                per_day.iter().map(|&x| inverse_squareplus(x)).collect(),
                "amplitude",
            )?;
        }
    }
    for (name, value) in converted {
        out.insert(name, value);
    }
    Ok(out)
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
    fn user_facing_names_become_internal_parameters() {
        // The reference case momentum_3a_f30_vec_1m written in user-facing terms.
        let user = Params::new()
            .with("memory_days", ParamArray::vector(vec![5.0, 15.0, 30.0]))
            .with("k_per_day", ParamArray::vector(vec![0.5, 2.0, 4.0]))
            .with("weights", ParamArray::vector(vec![0.5, 0.3, 0.2]));
        let p = internalize("momentum", &user, 3, 60).unwrap();
        assert_eq!(
            p.get("logit_lamb").unwrap().data,
            vec![3.476799274431361, 4.588962294981777, 5.28548300359054]
        );
        assert_eq!(p.get("k").unwrap().data, vec![0.5, 2.0, 4.0]);
        assert_eq!(p.get("logit_delta_lamb").unwrap().data, vec![0.0; 3]);
        let w = crate::params::softmax(&p.get("initial_weights_logits").unwrap().data);
        assert!((w[1] - 0.3).abs() < 1e-15);

        // Channel shape in absolute terms; amplitude is stored per memory day.
        let user = Params::new()
            .with("memory_days", ParamArray::scalar(10.0))
            .with("k_per_day", ParamArray::scalar(1.0))
            .with("width", ParamArray::scalar(0.125))
            .with("amplitude", ParamArray::scalar(10.0))
            .with("exponent", ParamArray::scalar(2.0));
        let p = internalize("mean_reversion_channel", &user, 3, 60).unwrap();
        assert_eq!(p.get("sp_width").unwrap().data[0], -7.875);
        assert_eq!(p.get("sp_amplitude").unwrap().data[0], 0.0);
        assert_eq!(p.get("sp_exponents").unwrap().data[0], 1.5);

        let p = internalize("triple_threat_mean_reversion_channel", &user, 3, 60).unwrap();
        assert_eq!(p.get("logit_lamb").unwrap().shape, vec![3, 3]);
        assert_eq!(p.get("raw_width").unwrap().data[0], -3.0);
        let p = internalize(
            "min_variance",
            &Params::new().with("memory_days", ParamArray::scalar(7.0)),
            2,
            60,
        )
        .unwrap();
        assert_eq!(p.get("memory_days_2").unwrap().data, vec![7.0, 7.0]);

        let both = Params::new()
            .with("memory_days", ParamArray::scalar(10.0))
            .with("logit_lamb", ParamArray::scalar(4.0));
        let err = internalize("momentum", &both, 3, 60)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("params.memory_days and params.logit_lamb"),
            "{err}"
        );
        let err = internalize(
            "momentum",
            &Params::new().with("memory_days", ParamArray::scalar(-1.0)),
            3,
            60,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("params.memory_days = -1"), "{err}");
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
