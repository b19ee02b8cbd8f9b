//! For every rule: feeding prices one minute at a time gives the whole-history result, and
//! changing prices after minute t changes nothing at or before t.

use tfmm_core::params::ParamReader;
use tfmm_core::params::{ParamArray, Params};
use tfmm_core::pools::{G3mZeroFee, MarketStep, Pool};
use tfmm_core::rules::{
    Ensemble, Observation, Rule, RuleKind, RuleSettings, Seeds, WEIGHT_RULES, build_rule,
    internal_params,
};
use tfmm_core::simulate::{self, Market, Trajectory};
use tfmm_core::weights::{
    AssetBounds, GuardStep, Guardrails, Interpolation, Move, WeightEngine, WeightSettings,
};

const N: usize = 3;

/// A seeded geometric random walk (xorshift; no RNG crate needed for a test path).
fn prices(minutes: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut p = [30000.0, 2000.0, 1.0];
    let vol = [2e-3, 3e-3, 1.5e-3];
    let mut out = Vec::with_capacity(minutes * N);
    for _ in 0..minutes {
        for a in 0..N {
            // Sum of uniforms: a cheap, bounded, roughly normal shock.
            let z = (0..4).map(|_| uniform()).sum::<f64>() - 2.0;
            p[a] *= (vol[a] * z).exp();
        }
        out.extend_from_slice(&p);
    }
    out
}

fn supply(minutes: usize) -> Vec<f64> {
    (0..minutes)
        .flat_map(|t| [19e6 + t as f64, 120e6, 30e9 - 1000.0 * t as f64])
        .collect()
}

struct Case {
    rule: &'static str,
    params: Params<f64>,
    settings: WeightSettings,
    start: usize,
}

fn settings(chunk_period: usize, wip: usize, interpolation: Interpolation) -> WeightSettings {
    WeightSettings {
        rule: RuleSettings {
            chunk_period,
            max_memory_days: 30.0,
            ..RuleSettings::default()
        },
        weight_interpolation_period: wip,
        interpolation,
        maximum_change: 1e-3,
        ..WeightSettings::default()
    }
}

fn cases() -> Vec<Case> {
    let seeds = Seeds {
        memory_days: vec![0.5, 1.0, 2.0],
        memory_days_delta: vec![1.0],
        k_per_day: vec![200.0],
        weights_logits: vec![0.1, 0.0, -0.2],
        raw_width: vec![-6.0],
        raw_exponents: vec![1.0],
        ..Seeds::default()
    };
    let mut out = vec![];
    let layouts = [
        (60, 30, Interpolation::Linear, 2 * 1440),
        (7, 5, Interpolation::ApproxOptimal, 1001),
    ];
    for (cp, wip, interp, start) in layouts {
        // The hodling index has the index's weights; only its reserves differ.
        for &rule in WEIGHT_RULES
            .iter()
            .filter(|r| **r != "hodling_index_market_cap")
        {
            let mut params = internal_params(rule, &seeds, N, cp).unwrap();
            if rule == "index_market_cap" {
                params.insert("logit_delta_lamb", ParamArray::vector(vec![-1.0; N]));
            }
            out.push(Case {
                rule,
                params,
                settings: settings(cp, wip, interp),
                start,
            });
        }
        let mut bounded = internal_params("momentum", &seeds, N, cp).unwrap();
        bounded.insert(
            "min_weights_per_asset",
            ParamArray::vector(vec![0.1, 0.2, 0.05]),
        );
        bounded.insert(
            "max_weights_per_asset",
            ParamArray::vector(vec![0.6, 0.7, 0.5]),
        );
        out.push(Case {
            rule: "bounded__momentum",
            params: bounded,
            settings: settings(cp, wip, interp),
            start,
        });
        let single = internal_params("power_channel", &seeds, N, cp).unwrap();
        let mut ensemble = Params::new();
        for (name, arr) in single.iter() {
            let value = if name == "initial_weights_logits" {
                arr.clone()
            } else {
                let other: Vec<f64> = arr.data.iter().map(|x| x * 0.9 + 0.1).collect();
                ParamArray::stack(&[arr.data.clone(), other])
            };
            ensemble.insert(name, value);
        }
        let mut ensemble_settings = settings(cp, wip, interp);
        ensemble_settings.n_ensemble_members = 2;
        out.push(Case {
            rule: "ensemble__power_channel",
            params: ensemble,
            settings: ensemble_settings,
            start,
        });
        // Settings and parameter forms the seeds above do not reach.
        let mut capped = settings(cp, wip, interp);
        capped.rule.cap_weights = Some(0.5);
        let mut index = internal_params("index_market_cap", &seeds, N, cp).unwrap();
        index.insert("logit_delta_lamb", ParamArray::vector(vec![-1.0; N]));
        out.push(Case {
            rule: "index_market_cap",
            params: index,
            settings: capped,
            start,
        });
        let mut alt = settings(cp, wip, interp);
        alt.rule.use_alt_lamb = true;
        alt.rule.max_memory_days = 1.0; // caps the 2-day memory
        out.push(Case {
            rule: "momentum",
            params: internal_params("momentum", &seeds, N, cp).unwrap(),
            settings: alt,
            start,
        });
        let mut logit_forms = internal_params("power_channel", &seeds, N, cp).unwrap();
        logit_forms.remove("sp_pre_exp_scaling");
        logit_forms.remove("sp_exponents");
        logit_forms.insert(
            "logit_pre_exp_scaling",
            ParamArray::vector(vec![0.3, -0.2, 0.0]),
        );
        logit_forms.insert("raw_exponents", ParamArray::scalar(1.2));
        out.push(Case {
            rule: "power_channel",
            params: logit_forms,
            settings: settings(cp, wip, interp),
            start,
        });
    }
    out
}

/// The weights of a run computed the way the reference's vectorised path lays them out
/// (spec weights.md §1.2–1.7), independently of the streaming engine: all chunk rows of the
/// rule first, then the guardrail scan over the bout's blocks, then interpolation and the
/// final slice. Block `b` uses the rule row after chunk `floor(start / cp) + b`.
fn batch_weights(case: &Case, prices: &[f64], supply: &[f64], n_rows: usize) -> Vec<Vec<f64>> {
    let s = &case.settings;
    let (cp, ip) = (s.rule.chunk_period, s.weight_interpolation_period + 1);
    let total = case.start + n_rows;
    // Stage A/B: rule rows after each chunk observation (row j after P_j).
    let mut rule = rebuild_rule(case);
    let mut rows = vec![];
    let mut out = vec![0.0; N];
    for (j, t) in (0..total).step_by(cp).enumerate() {
        let obs = Observation {
            prices: &prices[t * N..(t + 1) * N],
            supply: Some(&supply[t * N..(t + 1) * N]),
        };
        if j == 0 {
            rule.init(&obs, &mut out);
        } else {
            rule.step(&obs, &mut out);
        }
        rows.push(out.clone());
    }
    // Stage C: slice to the bout: the blocks that cover its `n_rows` minutes (the reference
    // computes ceil(bout_length / cp), which may need data past the end).
    let s_c = case.start / cp;
    let n_blocks = (n_rows - 1) / cp + 1;
    let sliced = &rows[s_c..s_c + n_blocks];
    // Stage D: the guardrail scan.
    let guard = Guardrails {
        minimum_weight: s.minimum_weight(N),
        maximum_change: s.maximum_change,
        interpol_num: ip,
        bounds: bounds_of(case),
        ste_min_max_weight: false,
        ste_max_change: false,
    };
    let initial = engine(case).initial_weights().to_vec();
    let kind_blend: Option<Vec<f64>> = match rule.kind() {
        RuleKind::Delta => None,
        RuleKind::Target { blend } => Some(blend.to_vec()),
    };
    let mut position = initial.clone();
    let mut step = GuardStep::new(N);
    let mut blocks: Vec<Vec<f64>> = vec![];
    if kind_blend.is_none() {
        blocks.extend((0..cp).map(|_| initial.clone()));
    } else {
        let how = Move::Toward {
            blend: kind_blend.as_deref().unwrap(),
        };
        guard.target(&sliced[0], &sliced[0], how, &mut step);
        position = step.target.clone();
    }
    // Delta rules apply the row of chunk s_c + b from block b = 1 on.
    let skip = usize::from(kind_blend.is_none());
    for row in &sliced[skip..] {
        let how = match &kind_blend {
            None => Move::Delta,
            Some(b) => Move::Toward { blend: b },
        };
        guard.apply(&mut position, row, how, &mut step);
        // Stage E: one block of `cp` rows.
        for o in 0..cp {
            let mut w = vec![0.0; N];
            if o < ip - 1 {
                s.interpolation
                    .ramp_row(&step.start, &step.scaled_diff, &position, o, ip, &mut w);
            } else {
                w.copy_from_slice(&position);
            }
            blocks.push(w);
        }
    }
    // Stage F: the bout's rows.
    blocks.truncate(n_rows);
    blocks
}

fn rebuild_rule(case: &Case) -> Box<dyn Rule<f64>> {
    let base = case.rule.rsplit("__").next().unwrap();
    let members = case.settings.n_ensemble_members;
    if case.rule.starts_with("ensemble__") && members > 1 {
        let rules = (0..members)
            .map(|i| {
                let mut member = Params::new();
                for (name, arr) in case.params.iter() {
                    if name != "initial_weights_logits" {
                        member.insert(name, arr.index(i));
                    }
                }
                let mut reader = ParamReader::new(&member, base, N);
                build_rule(base, &mut reader, &case.settings.rule).unwrap()
            })
            .collect();
        return Box::new(Ensemble::new(rules));
    }
    let mut reader = ParamReader::new(&case.params, base, N);
    build_rule(base, &mut reader, &case.settings.rule).unwrap()
}

fn bounds_of(case: &Case) -> Option<AssetBounds<f64>> {
    let get = |name: &str| case.params.get(name).map(|a| a.data.clone());
    Some(AssetBounds {
        min: get("min_weights_per_asset")?,
        max: get("max_weights_per_asset")?,
    })
}

#[test]
fn weights_equal_an_independent_whole_history_computation() {
    let (p, s) = (prices(MINUTES, 5), supply(MINUTES));
    for case in cases() {
        let n_rows = MINUTES - case.start;
        let streamed = whole_history(&case, &p, &s, n_rows);
        let batch = batch_weights(&case, &p, &s, n_rows);
        assert_eq!(batch.len(), n_rows);
        for (r, want) in batch.iter().enumerate() {
            assert_eq!(
                streamed.weights_at(r),
                want.as_slice(),
                "{} row {r}",
                case.rule
            );
        }
    }
}

fn engine(case: &Case) -> WeightEngine<f64> {
    WeightEngine::build(case.rule, &case.params, N, &case.settings, case.start)
        .unwrap_or_else(|e| panic!("{}: {e}", case.rule))
}

fn whole_history(case: &Case, prices: &[f64], supply: &[f64], n_rows: usize) -> Trajectory<f64> {
    let market = Market {
        supply: Some(supply),
        ..Market::new(N, prices)
    };
    let mut pool = G3mZeroFee::new(N, 1e6);
    simulate::run(&mut engine(case), &mut pool, &market, n_rows)
        .unwrap_or_else(|e| panic!("{}: {e}", case.rule))
}

const MINUTES: usize = 6 * 1440;

#[test]
fn one_minute_at_a_time_equals_the_whole_history() {
    let (p, s) = (prices(MINUTES, 7), supply(MINUTES));
    for case in cases() {
        let n_rows = MINUTES - case.start;
        let batch = whole_history(&case, &p, &s, n_rows);
        // A keeper's loop: one observation per minute, nothing precomputed.
        let mut engine = engine(&case);
        let mut pool = G3mZeroFee::new(N, 1e6);
        let mut row = 0;
        for t in 0..MINUTES {
            let obs = Observation {
                prices: &p[t * N..(t + 1) * N],
                supply: Some(&s[t * N..(t + 1) * N]),
            };
            let Some(w) = engine.step(&obs) else { continue };
            let step = MarketStep::frictionless(row, obs.prices);
            if row == 0 {
                pool.init(w, &step);
            } else {
                pool.step(w, &step);
            }
            assert_eq!(w, batch.weights_at(row), "{} row {row}", case.rule);
            assert_eq!(
                pool.reserves(),
                batch.reserves_at(row),
                "{} row {row}",
                case.rule
            );
            row += 1;
        }
        assert_eq!(row, n_rows);
        // The test has teeth only if weights actually move.
        let first = batch.weights_at(0);
        let moved = (0..n_rows).any(|r| {
            batch
                .weights_at(r)
                .iter()
                .zip(first)
                .any(|(a, b)| (a - b).abs() > 1e-4)
        });
        assert!(moved, "{}: weights never moved", case.rule);
    }
}

#[test]
fn later_prices_never_change_earlier_weights() {
    let (p, s) = (prices(MINUTES, 11), supply(MINUTES));
    for case in cases() {
        let n_rows = MINUTES - case.start;
        let base = whole_history(&case, &p, &s, n_rows);
        let cp = case.settings.rule.chunk_period;
        // Cut points on and off the chunk grid, early and late in the bout.
        let cuts = [
            case.start,
            case.start + 1,
            3 * 1440,
            3 * 1440 + cp / 2,
            MINUTES - 2 * cp,
        ];
        let mut later_changed = false;
        for &cut in &cuts {
            let mut q = p.clone();
            let other = prices(MINUTES, 99);
            for t in cut + 1..MINUTES {
                for a in 0..N {
                    q[t * N + a] *= other[t * N + a] / other[cut * N + a];
                }
            }
            let moved = whole_history(&case, &q, &s, n_rows);
            for t in case.start..=cut {
                let r = t - case.start;
                assert_eq!(
                    moved.weights_at(r),
                    base.weights_at(r),
                    "{}: cut {cut}, minute {t}",
                    case.rule
                );
                assert_eq!(
                    moved.values[r], base.values[r],
                    "{}: cut {cut}, minute {t}",
                    case.rule
                );
            }
            later_changed |=
                (cut + 1 - case.start..n_rows).any(|r| moved.weights_at(r) != base.weights_at(r));
        }
        if case.rule != "index_market_cap" {
            // Market caps do change with prices, but only once they are past the cut.
            assert!(
                later_changed,
                "{}: perturbing prices changed nothing",
                case.rule
            );
        }
    }
}

#[test]
fn weights_respect_the_guardrails() {
    let (p, s) = (prices(MINUTES, 3), supply(MINUTES));
    for case in cases() {
        let n_rows = MINUTES - case.start;
        let t = whole_history(&case, &p, &s, n_rows);
        let floor = case.settings.minimum_weight(N);
        for r in 0..n_rows {
            let w = t.weights_at(r);
            assert!(
                (w.iter().sum::<f64>() - 1.0).abs() < 1e-12,
                "{} row {r}: {w:?}",
                case.rule
            );
            assert!(
                w.iter().all(|&x| x >= floor - 1e-9),
                "{} row {r}: {w:?}",
                case.rule
            );
            if r > 0 && case.settings.interpolation == Interpolation::Linear {
                let step = w
                    .iter()
                    .zip(t.weights_at(r - 1))
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(
                    step <= case.settings.maximum_change + 1e-12,
                    "{} row {r}: step {step}",
                    case.rule
                );
            }
        }
    }
}
