//! The training workloads of `tfmm bench`: an objective with its full gradient, and one
//! objective for many parameter sets, over a year of minutes of a 3-asset momentum pool at
//! 30 bp on the seeded synthetic prices of `tfmm_run::bench`.

use std::hint::black_box;

use rayon::prelude::*;
use serde_json::json;
use tfmm_data::PriceTable;
use tfmm_run::bench::{YEAR, synthetic_prices};

use crate::problem::Problem;

/// 2024-01-01 00:00 UTC.
const START_MS: i64 = 1_704_067_200_000;

#[derive(Clone, Debug)]
pub struct TrainWorkload {
    pub name: &'static str,
    /// Parameter sets evaluated (each a full year).
    pub sets: usize,
    /// Objective and gradient (`false`: objective only).
    pub gradient: bool,
}

pub fn standard() -> Vec<TrainWorkload> {
    vec![
        TrainWorkload {
            name: "objective + gradient, 3 assets, 30 bp",
            sets: 1,
            gradient: true,
        },
        TrainWorkload {
            name: "objective, 64 parameter sets, 30 bp",
            sets: 64,
            gradient: false,
        },
    ]
}

/// The benchmark problem: one day of burn-in, then a year.
pub fn problem() -> Problem {
    let tokens: Vec<String> = ["AAA", "BBB", "CCC"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    let prices = synthetic_prices(3, YEAR + 1441);
    let table = PriceTable::from_rows(tokens.clone(), START_MS, prices).expect("valid prices");
    let config = tfmm_run::config::parse(&json!({
        "pool": { "tokens": tokens, "rule": "momentum", "memory_days": [8, 10, 12],
                  "k_per_day": [1, 2, 3], "chunk_period": 60 },
        "market": { "fees": 0.003 },
        "window": { "start": "2024-01-02", "end": "2024-12-31 00:00:00", "burn_in_days": 1 },
    }))
    .expect("a valid workload config");
    Problem::new(&config, &table, "daily_log_sharpe").expect("a valid workload")
}

impl TrainWorkload {
    /// Minutes simulated per run (per set).
    pub fn minutes(problem: &Problem) -> usize {
        problem.window.n_rows
    }

    pub fn run(&self, problem: &Problem) -> f64 {
        let params = &problem.config.params;
        if self.gradient {
            let layout = problem.layout(params, false);
            let (v, g) = problem
                .value_and_gradient(params, &layout, problem.window)
                .expect("a valid workload");
            return black_box(v + g.iter().sum::<f64>());
        }
        let layout = problem.layout(params, false);
        let theta = layout.get(params);
        let total: f64 = (0..self.sets)
            .into_par_iter()
            .map(|j| {
                let mut p = params.clone();
                let shifted: Vec<f64> = theta.iter().map(|x| x + 0.01 * j as f64).collect();
                layout.set(&mut p, &shifted);
                problem.value(&p, problem.window).unwrap_or(f64::NAN)
            })
            .sum();
        black_box(total)
    }
}
