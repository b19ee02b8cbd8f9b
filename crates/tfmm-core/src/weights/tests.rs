//! The reference's end-to-end example (spec weights.md appendix A.4): 40 minutes, chunk 4,
//! bout of 14 starting at minute 8.

use super::*;
use crate::params::ParamArray;

fn prices() -> Vec<[f64; 3]> {
    (0..40)
        .map(|t| {
            let t = t as f64;
            [
                100.0 * (1.0 + 0.03 * (0.5 * t).sin() + 0.002 * t),
                50.0 * (1.0 + 0.02 * (0.3 * t).cos() - 0.001 * t),
                10.0 * (1.0 + 0.01 * (0.9 * t + 1.0).sin()),
            ]
        })
        .collect()
}

fn settings(interpolation: Interpolation) -> WeightSettings {
    WeightSettings {
        rule: RuleSettings {
            chunk_period: 4,
            max_memory_days: 365.0,
            ..RuleSettings::default()
        },
        weight_interpolation_period: 2,
        interpolation,
        maximum_change: 0.02,
        minimum_weight: Some(0.1),
        ..WeightSettings::default()
    }
}

fn momentum_params() -> Params<f64> {
    Params::new()
        .with(
            "initial_weights_logits",
            ParamArray::vector(vec![0.2, 0.0, -0.1]),
        )
        .with("logit_lamb", ParamArray::scalar(4f64.ln()))
        .with("logit_delta_lamb", ParamArray::scalar(0.0))
        .with("log_k", ParamArray::vector(vec![8.0, 8.5, 9.0]))
}

fn run(engine: &mut WeightEngine<f64>) -> Vec<Vec<f64>> {
    let p = prices();
    let mut rows = Vec::new();
    for price in p.iter().take(8 + 13) {
        if let Some(w) = engine.step(&Observation::prices(price)) {
            rows.push(w.to_vec());
        }
    }
    rows
}

fn assert_rows(got: &[Vec<f64>], want: &[(usize, [f64; 3])], tol: f64) {
    for (row, w) in want {
        for a in 0..3 {
            let d = (got[*row][a] - w[a]).abs();
            assert!(
                d <= tol,
                "row {row} asset {a}: {} vs {} ({d:e})",
                got[*row][a],
                w[a]
            );
        }
    }
}

/// Rule rows over the chunk prices: row i after observing chunk price i + 1.
fn rule_rows(rule: &mut dyn Rule<f64>) -> Vec<Vec<f64>> {
    let p = prices();
    let chunks: Vec<&[f64; 3]> = p.iter().step_by(4).collect();
    let mut out = vec![0.0; 3];
    rule.init(&Observation::prices(chunks[0]), &mut out);
    let mut rows = vec![];
    for c in &chunks[1..] {
        rule.step(&Observation::prices(*c), &mut out);
        rows.push(out.clone());
    }
    rows
}

#[test]
fn momentum_rule_rows_match_reference() {
    let want = [
        [
            0.01950489092214849,
            -0.0073690740932256,
            -0.01213581682892289,
        ],
        [
            0.01555625547011156,
            -0.02328896615811406,
            0.0077327106880025,
        ],
        [
            0.02533789695771579,
            -0.0344640955815792,
            0.00912619862386341,
        ],
        [
            0.04270843295064206,
            -0.04298080079088525,
            0.00027236784024318,
        ],
        [
            0.03652218155216894,
            -0.0342158634514872,
            -0.00230631810068173,
        ],
        [
            0.03734931709665443,
            -0.03140001473731695,
            -0.00594930235933747,
        ],
        [
            0.05647513903926563,
            -0.05321760549563109,
            -0.00325753354363455,
        ],
        [
            0.0618319738481122,
            -0.06127552758530768,
            -0.00055644626280453,
        ],
        [
            0.05469776993950168,
            -0.06347574020774621,
            0.00877797026824452,
        ],
    ];
    let params = momentum_params();
    let s = settings(Interpolation::Linear);
    let mut reader = ParamReader::new(&params, "momentum", 3);
    let mut rule = build_rule("momentum", &mut reader, &s.rule).unwrap();
    let rows = rule_rows(rule.as_mut());
    assert_eq!(rows.len(), 9);
    for (i, w) in want.iter().enumerate() {
        for a in 0..3 {
            assert!(
                (rows[i][a] - w[a]).abs() < 1e-15,
                "R[{i}][{a}] = {}",
                rows[i][a]
            );
        }
        assert!(rows[i].iter().sum::<f64>().abs() < 1e-15);
    }
    // Anti-momentum rows are exactly the negated momentum rows.
    let mut reader = ParamReader::new(&params, "anti_momentum", 3);
    let mut anti = build_rule("anti_momentum", &mut reader, &s.rule).unwrap();
    for (a, m) in rule_rows(anti.as_mut()).iter().zip(&rows) {
        assert!(a.iter().zip(m).all(|(x, y)| *x == -*y));
    }
}

#[test]
fn momentum_linear_weights_match_reference() {
    let mut engine = WeightEngine::build(
        "momentum",
        &momentum_params(),
        3,
        &settings(Interpolation::Linear),
        8,
    )
    .unwrap();
    let rows = run(&mut engine);
    assert_eq!(rows.len(), 13);
    let w0 = [0.3906938332698157, 0.31987305633591967, 0.28943311039426456];
    let w6 = [0.4160317302275315, 0.28540896075434047, 0.298559309018128];
    let w10 = [0.45577825143331274, 0.2454089609404701, 0.2988127876262172];
    let mut want: Vec<(usize, [f64; 3])> = (0..5).map(|r| (r, w0)).collect();
    want.push((
        5,
        [0.40336278174867357, 0.3026410085451301, 0.2939962097061963],
    ));
    want.extend((6..9).map(|r| (r, w6)));
    want.push((
        9,
        [0.4359049908304221, 0.2654089608474053, 0.2986860483221726],
    ));
    want.extend((10..13).map(|r| (r, w10)));
    assert_rows(&rows, &want, 1e-15);
}

#[test]
fn momentum_approx_optimal_weights_match_reference() {
    let mut engine = WeightEngine::build(
        "momentum",
        &momentum_params(),
        3,
        &settings(Interpolation::ApproxOptimal),
        8,
    )
    .unwrap();
    let rows = run(&mut engine);
    let w6 = [0.4160317302275315, 0.28540896075434047, 0.298559309018128];
    let w10 = [0.45577825143331274, 0.2454089609404701, 0.2988127876262172];
    let want = vec![
        (
            4,
            [0.3906938332698158, 0.3198730563359197, 0.2894331103942646],
        ),
        (
            5,
            [0.4012929521278913, 0.30539219298720766, 0.29331485488490117],
        ),
        (6, w6),
        (8, w6),
        (
            9,
            [0.43262539016810764, 0.268548730623224, 0.2988258792086684],
        ),
        (10, w10),
        (12, w10),
    ];
    assert_rows(&rows, &want, 1e-15);
    // Delta rules hold the initial weights exactly for the first chunk.
    let w0 = softmax(&[0.2, 0.0, -0.1]);
    assert!(rows[..4].iter().all(|r| *r == w0));
}

fn min_variance_params() -> Params<f64> {
    Params::new()
        .with("initial_weights_logits", ParamArray::scalar(0.0))
        .with("memory_days_1", ParamArray::scalar(0.01))
        .with("memory_days_2", ParamArray::scalar(0.005))
}

#[test]
fn min_variance_rule_rows_match_reference() {
    let params = min_variance_params();
    let s = settings(Interpolation::Linear);
    let mut reader = ParamReader::new(&params, "min_variance", 3);
    let mut rule = build_rule("min_variance", &mut reader, &s.rule).unwrap();
    reader.accept("initial_weights_logits");
    reader.finish().unwrap();
    let rows = rule_rows(rule.as_mut());
    assert!(rows[0].iter().all(|&w| (w - 1.0 / 3.0).abs() < 1e-16));
    let want = [0.06014631917067775, 0.7422048836535876, 0.19764879717573464];
    for a in 0..3 {
        assert!((rows[2][a] - want[a]).abs() < 1e-14, "{:?}", rows[2]);
    }
}

/// Replays a rule's rows one chunk early: the reference's timing for target rules, kept here
/// only to check guardrails and interpolation against its numbers.
pub(crate) struct LookAhead<S: Scalar> {
    rows: Vec<Vec<S>>,
    blend: Vec<S>,
    next: usize,
}

impl<S: Scalar> LookAhead<S> {
    /// `rows[i]` is the rule's output after chunk `i` (row 0 after the first observation).
    pub(crate) fn new(rows: Vec<Vec<S>>, blend: Vec<S>) -> Self {
        Self {
            rows,
            blend,
            next: 0,
        }
    }
}

impl<S: Scalar> Rule<S> for LookAhead<S> {
    fn n_assets(&self) -> usize {
        self.blend.len()
    }
    fn kind(&self) -> RuleKind<'_, S> {
        RuleKind::Target { blend: &self.blend }
    }
    fn init(&mut self, _: &Observation<'_>, out: &mut [S]) {
        self.next = 1;
        out.copy_from_slice(&self.rows[1]);
    }
    fn step(&mut self, _: &Observation<'_>, out: &mut [S]) {
        self.next += 1;
        let i = self.next.min(self.rows.len() - 1);
        out.copy_from_slice(&self.rows[i]);
    }
}

#[test]
fn min_variance_weights_match_reference_with_its_look_ahead() {
    let params = min_variance_params();
    let s = settings(Interpolation::Linear);
    let mut reader = ParamReader::new(&params, "min_variance", 3);
    let mut rule = build_rule("min_variance", &mut reader, &s.rule).unwrap();
    let RuleKind::Target { blend } = rule.kind() else {
        panic!("min variance outputs targets")
    };
    let blend = blend.to_vec();
    let mut rows = vec![vec![1.0 / 3.0; 3]];
    rows.extend(rule_rows(rule.as_mut()));
    let engine = WeightEngine::build("min_variance", &params, 3, &s, 8).unwrap();
    let guard = engine.guard.clone();
    let mut replay = WeightEngine::new(
        Box::new(LookAhead::new(rows, blend)),
        guard,
        *engine.schedule(),
        vec![1.0 / 3.0; 3],
    )
    .unwrap();
    let got = run(&mut replay);
    let w0 = [0.1, 0.7107323287799466, 0.1892676712200534];
    let w6 = [0.10504507505379118, 0.6707323288055879, 0.22422259614062104];
    let w10 = [0.10428112870013206, 0.6314962751895319, 0.2642225961103362];
    let mut want: Vec<(usize, [f64; 3])> = (0..5).map(|r| (r, w0)).collect();
    want.push((
        5,
        [0.1025225375268956, 0.6907323287927672, 0.20674513368033723],
    ));
    want.extend((6..9).map(|r| (r, w6)));
    want.push((
        9,
        [0.10466310187696162, 0.6511143019975598, 0.2442225961254786],
    ));
    want.extend((10..13).map(|r| (r, w10)));
    assert_rows(&got, &want, 1e-15);

    // The causal engine starts from the target known at the start and lags one chunk.
    let mut causal = WeightEngine::build("min_variance", &params, 3, &s, 8).unwrap();
    let got = run(&mut causal);
    assert!(
        (got[4][1] - 0.7107323287799466).abs() > 1e-3,
        "{:?}",
        got[4]
    );
}

#[test]
fn settings_are_validated() {
    let p = momentum_params();
    let mut s = settings(Interpolation::Linear);
    s.rule.chunk_period = 0;
    let err = WeightEngine::build("momentum", &p, 3, &s, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.starts_with("chunk_period = 0"), "{err}");
    let mut s = settings(Interpolation::Linear);
    s.weight_interpolation_period = 5;
    let err = WeightEngine::build("momentum", &p, 3, &s, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("weight_interpolation_period = 5"), "{err}");
    let mut s = settings(Interpolation::Linear);
    s.minimum_weight = Some(0.5);
    let err = WeightEngine::build("momentum", &p, 3, &s, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("minimum_weight = 0.5"), "{err}");
    let err = WeightEngine::build("momentum", &p, 2, &settings(Interpolation::Linear), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("params.initial_weights_logits has shape [3]"),
        "{err}"
    );
    let err = WeightEngine::build("momentun", &p, 3, &settings(Interpolation::Linear), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("did you mean \"momentum\""), "{err}");
    let err = WeightEngine::build("lvr__momentum", &p, 3, &settings(Interpolation::Linear), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("hook `lvr`"), "{err}");
}

fn run_with(rule: &str, params: &Params<f64>, s: &WeightSettings) -> Vec<Vec<f64>> {
    run(&mut WeightEngine::build(rule, params, 3, s, 8).unwrap())
}

#[test]
fn alt_lamb_changes_only_the_denominator() {
    let mut s = settings(Interpolation::Linear);
    let base = run_with("momentum", &momentum_params(), &s);
    s.rule.use_alt_lamb = true;
    // A zero delta makes the second EWMA the first one: same weights.
    assert_eq!(run_with("momentum", &momentum_params(), &s), base);
    let longer = momentum_params().with("logit_delta_lamb", ParamArray::scalar(2.0));
    let alt = run_with("momentum", &longer, &s);
    assert!(
        alt.iter()
            .zip(&base)
            .any(|(a, b)| (a[0] - b[0]).abs() > 1e-6)
    );
    // Without the setting, the delta is accepted but unused.
    s.rule.use_alt_lamb = false;
    assert_eq!(run_with("momentum", &longer, &s), base);
}

#[test]
fn memories_beyond_max_memory_days_are_capped() {
    let mut s = settings(Interpolation::Linear);
    s.rule.max_memory_days = 0.01;
    let cap = s.rule.max_lamb();
    let long = momentum_params().with("logit_lamb", ParamArray::scalar(crate::scalar::logit(0.99)));
    let at_cap =
        momentum_params().with("logit_lamb", ParamArray::scalar(crate::scalar::logit(cap)));
    // k scales with the (clipped) memory, which is max_memory_days in both.
    let a = run_with("momentum", &long, &s);
    let b = run_with("momentum", &at_cap, &s);
    for (x, y) in a.iter().zip(&b) {
        assert!(
            x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-9),
            "{x:?} vs {y:?}"
        );
    }
}

#[test]
fn straight_through_flags_keep_forward_values() {
    let mut s = settings(Interpolation::Linear);
    let base = run_with("momentum", &momentum_params(), &s);
    s.ste_max_change = true;
    s.ste_min_max_weight = true;
    let ste = run_with("momentum", &momentum_params(), &s);
    for (x, y) in ste.iter().zip(&base) {
        assert!(x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-15));
    }
}

#[test]
fn learnable_bounds_follow_the_reparametrisation() {
    // quantammsim's worked example: 4 assets, raw_min_budget -1, zero logits.
    let params = Params::new()
        .with("raw_min_budget", ParamArray::scalar(-1.0))
        .with("raw_min_logits", ParamArray::vector(vec![0.0; 4]))
        .with("raw_gap_logits", ParamArray::vector(vec![0.0; 4]));
    let mut reader = ParamReader::new(&params, "bounded__momentum", 4);
    let b = asset_bounds(&mut reader).unwrap();
    let min = crate::scalar::sigmoid(-1.0f64) / 4.0;
    for i in 0..4 {
        assert!((b.min[i] - min).abs() < 1e-15);
        assert!((b.max[i] - (min + (1.0 - min) * 0.5)).abs() < 1e-15);
    }
    // Fixed bounds are validated.
    let bad = Params::new()
        .with(
            "min_weights_per_asset",
            ParamArray::vector(vec![0.5, 0.6, 0.1]),
        )
        .with(
            "max_weights_per_asset",
            ParamArray::vector(vec![0.9, 0.9, 0.9]),
        );
    let err = asset_bounds(&mut ParamReader::new(&bad, "bounded__momentum", 3))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sum to at most 1"), "{err}");
}

#[test]
fn bounded_weights_stay_inside_their_bounds() {
    let params = momentum_params()
        .with(
            "min_weights_per_asset",
            ParamArray::vector(vec![0.2, 0.25, 0.2]),
        )
        .with(
            "max_weights_per_asset",
            ParamArray::vector(vec![0.42, 0.5, 0.5]),
        );
    let rows = run_with(
        "bounded__momentum",
        &params,
        &settings(Interpolation::Linear),
    );
    let last = rows.last().unwrap();
    assert!(
        last[0] <= 0.42 + 1e-10 && last[1] >= 0.25 - 1e-10,
        "{last:?}"
    );
    // Unbounded, the same rule pushes asset 0 above 0.45 (the reference rows above).
    assert!(
        run_with(
            "momentum",
            &momentum_params(),
            &settings(Interpolation::Linear)
        )[12][0]
            > 0.45
    );
}
