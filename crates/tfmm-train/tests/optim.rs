//! The optimisers of `tfmm_train::optim` against the behaviour spec (runners §5.2, §5.5,
//! §5.6): schedules, the Optax-style Adam / AdamW chain, plain SGD, the two plateau rules,
//! L-BFGS and CMA-ES. Reference numbers were derived by hand from the update rules (and
//! evaluated in plain Python floats where a literal is given).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tfmm_train::optim::{
    Ascent, AscentSettings, CmaEs, CmaEsConstants, CmaEsSettings, LrSchedule, OptimError,
    Optimiser, StopReason, cma_es_minimise, default_population_size, global_norm, lbfgs_maximise,
};

// ---------------------------------------------------------------------------------------
// Allocation counting (per thread, so parallel tests do not disturb each other).

struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> usize {
    ALLOCATIONS.with(|c| c.get())
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-300)
}

fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
    assert!(close(got, want, rel), "{what}: got {got:e}, want {want:e}");
}

fn adam(optimiser: Optimiser) -> AscentSettings {
    AscentSettings {
        optimiser,
        base_lr: 0.1,
        weight_decay: 0.01,
        use_gradient_clipping: false,
        lr_schedule_type: LrSchedule::Constant,
        ..AscentSettings::default()
    }
}

fn schedule_settings(kind: LrSchedule, n: usize, warmup: usize) -> AscentSettings {
    AscentSettings {
        base_lr: 0.1,
        lr_decay_ratio: 1000.0,
        lr_schedule_type: kind,
        n_iterations: n,
        warmup_steps: warmup,
        ..AscentSettings::default()
    }
}

fn neg_rosenbrock(x: &[f64]) -> (f64, Vec<f64>) {
    let n = x.len();
    let mut f = 0.0;
    let mut g = vec![0.0; n];
    for i in 0..n - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = 1.0 - x[i];
        f += 100.0 * a * a + b * b;
        g[i] += -400.0 * x[i] * a - 2.0 * b;
        g[i + 1] += 200.0 * a;
    }
    (-f, g.iter().map(|v| -v).collect())
}

fn rosenbrock(x: &[f64]) -> f64 {
    -neg_rosenbrock(x).0
}

fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

// ---------------------------------------------------------------------------------------
// Schedules (§5.2 table): η = 0.1, η_min = 1e-4.

#[test]
fn constant_schedule_is_base_lr_everywhere() {
    let s = schedule_settings(LrSchedule::Constant, 100, 10);
    for t in [0, 1, 50, 100, 10_000] {
        assert_eq!(LrSchedule::Constant.lr(&s, t), 0.1);
    }
}

#[test]
fn cosine_schedule_matches_formula_and_floors_after_n() {
    let s = schedule_settings(LrSchedule::Cosine, 100, 10);
    // η·[(1−α)·½(1+cos(π·min(t,N)/N)) + α], α = 1e-3.
    let want = [
        (0, 0.1),
        (1, 0.0999753526902683),
        (25, 0.08536998372026805),
        (50, 0.05005),
        (99, 0.0001246473097317066),
        (100, 1e-4),
        (150, 1e-4),
        (100_000, 1e-4),
    ];
    for (t, w) in want {
        assert_close(
            LrSchedule::Cosine.lr(&s, t),
            w,
            1e-12,
            &format!("cosine t={t}"),
        );
    }
    for t in [3usize, 17, 64, 88] {
        let alpha = 1e-3;
        let f = 0.1
            * ((1.0 - alpha) * 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / 100.0).cos())
                + alpha);
        assert_close(LrSchedule::Cosine.lr(&s, t), f, 1e-13, "cosine formula");
    }
}

#[test]
fn exponential_schedule_keeps_decaying_past_n() {
    let s = schedule_settings(LrSchedule::Exponential, 100, 10);
    // η·ρ^t, ρ = (1e-3)^(1/100).
    let want = [
        (0, 0.1),
        (1, 0.09332543007969911),
        (50, 0.0031622776601683738),
        (100, 1e-4),
        (200, 1e-7),
    ];
    for (t, w) in want {
        assert_close(
            LrSchedule::Exponential.lr(&s, t),
            w,
            1e-12,
            &format!("exponential t={t}"),
        );
    }
}

#[test]
fn warmup_cosine_schedule_edges() {
    // W = 10, N = 110: linear 1e-4 → 0.1 over 10 steps, cosine over the next 100.
    let s = schedule_settings(LrSchedule::WarmupCosine, 110, 10);
    let want = [
        (0, 1e-4),
        (1, 0.01009),
        (5, 0.05005),
        (9, 0.09001),
        (10, 0.1),
        (11, 0.0999753526902683),
        (60, 0.05005),
        (110, 1e-4),
        (200, 1e-4),
    ];
    for (t, w) in want {
        assert_close(
            LrSchedule::WarmupCosine.lr(&s, t),
            w,
            1e-12,
            &format!("warmup_cosine t={t}"),
        );
    }
    // No warm-up: plain cosine from η.
    let s0 = schedule_settings(LrSchedule::WarmupCosine, 100, 0);
    let c = schedule_settings(LrSchedule::Cosine, 100, 0);
    for t in [0, 1, 25, 50, 100, 130] {
        assert_close(
            LrSchedule::WarmupCosine.lr(&s0, t),
            LrSchedule::Cosine.lr(&c, t),
            1e-15,
            "W = 0",
        );
    }
}

#[test]
fn ascent_uses_schedule_from_step_zero() {
    let mut s = schedule_settings(LrSchedule::WarmupCosine, 20, 4);
    s.optimiser = Optimiser::Adam;
    s.use_gradient_clipping = false;
    let mut a = Ascent::new(&s, 2);
    let mut theta = [0.0, 0.0];
    for t in 0..25 {
        let lr = a.step(&mut theta, &[1.0, -1.0], 0.0);
        assert_eq!(lr, LrSchedule::WarmupCosine.lr(&s, t), "t={t}");
    }
    assert_eq!(a.steps(), 25);
}

// ---------------------------------------------------------------------------------------
// Adam / AdamW (β1 = 0.9, β2 = 0.999, ε = 1e-8), the chain fed −∇J.

const THETA0: [f64; 3] = [1.0, -2.0, 0.5];
const GRADS: [[f64; 3]; 3] = [[2.0, -0.5, 0.0], [1.0, 0.25, -3.0], [-4.0, 1.0, 0.5]];

#[test]
fn adam_first_steps_match_hand_derivation() {
    let s = adam(Optimiser::Adam);
    let mut a = Ascent::new(&s, 3);
    let mut theta = THETA0;

    // Step 1: m̂ = g', v̂ = g'², update = g'/(|g'|+ε) ⇒ θ += lr·g/(|g|+ε).
    let lr = a.step(&mut theta, &GRADS[0], 1.0);
    assert_eq!(lr, 0.1);
    let want1 = [
        1.0 + 0.1 * 2.0 / (2.0 + 1e-8),
        -2.0 - 0.1 * 0.5 / (0.5 + 1e-8),
        0.5,
    ];
    for i in 0..3 {
        assert_close(theta[i], want1[i], 1e-15, "adam step 1");
    }
    assert_eq!(want1[0], 1.0999999995);

    // Step 2 written out: m = 0.9·0.1·g1 + 0.1·g2, v = 0.999·0.001·g1² + 0.001·g2²
    // (signs of g' cancel in v and flip back in θ += −lr·m̂/(√v̂+ε) with m̂ of −g).
    let (g1, g2) = (GRADS[0], GRADS[1]);
    let mut want2 = [0.0; 3];
    for i in 0..3 {
        let m = 0.9 * 0.1 * g1[i] + 0.1 * g2[i];
        let v = 0.999 * 0.001 * g1[i] * g1[i] + 0.001 * g2[i] * g2[i];
        let mh = m / (1.0 - 0.9f64.powi(2));
        let vh = v / (1.0 - 0.999f64.powi(2));
        want2[i] = want1[i] + 0.1 * mh / (vh.sqrt() + 1e-8);
    }
    a.step(&mut theta, &g2, 1.0);
    for i in 0..3 {
        assert_close(theta[i], want2[i], 1e-14, "adam step 2");
    }
    a.step(&mut theta, &GRADS[2], 1.0);
    let want3 = [1.1725822601496205, -2.080900522982645, 0.37935488593684924];
    for i in 0..3 {
        assert_close(theta[i], want3[i], 1e-14, "adam step 3");
    }
}

#[test]
fn adamw_decay_enters_before_the_learning_rate() {
    // AdamW at unit rate: u = m̂/(√v̂+ε) + wd·θ, then ·(−lr): θ ← θ + lr·(adam dir) − lr·wd·θ.
    let s = adam(Optimiser::AdamW);
    let mut a = Ascent::new(&s, 3);
    let mut theta = THETA0;
    a.step(&mut theta, &GRADS[0], 0.0);
    let want1 = [
        1.0 + 0.1 * (2.0 / (2.0 + 1e-8) - 0.01 * 1.0),
        -2.0 + 0.1 * (-0.5 / (0.5 + 1e-8) + 0.01 * 2.0),
        0.5 - 0.1 * 0.01 * 0.5,
    ];
    for i in 0..3 {
        assert_close(theta[i], want1[i], 1e-15, "adamw step 1");
    }
    a.step(&mut theta, &GRADS[1], 0.0);
    a.step(&mut theta, &GRADS[2], 0.0);
    let want3 = [1.1692921411873285, -2.074679987283351, 0.37793079911885524];
    for i in 0..3 {
        assert_close(theta[i], want3[i], 1e-14, "adamw step 3");
    }

    // The decay follows the schedule: at a scheduled lr the shrink is lr(t)·wd·θ.
    let mut s = adam(Optimiser::AdamW);
    s.lr_schedule_type = LrSchedule::Exponential;
    s.n_iterations = 10;
    let mut a = Ascent::new(&s, 1);
    let mut theta = [3.0];
    a.step(&mut theta, &[0.0], 0.0);
    let lr1 = a.step(&mut theta, &[0.0], 0.0);
    let lr0 = LrSchedule::Exponential.lr(&s, 0);
    assert_close(lr1, LrSchedule::Exponential.lr(&s, 1), 1e-15, "lr(1)");
    let want = 3.0 * (1.0 - lr0 * 0.01) * (1.0 - lr1 * 0.01);
    assert_close(theta[0], want, 1e-15, "decay with schedule");
}

#[test]
fn clipping_by_global_norm() {
    assert_eq!(global_norm(&[3.0, 4.0]), 5.0);
    assert_eq!(global_norm(&[]), 0.0);
    let run = |clip: bool| {
        let mut s = adam(Optimiser::Adam);
        s.use_gradient_clipping = clip;
        s.clip_norm = 10.0;
        let mut a = Ascent::new(&s, 2);
        let mut theta = [0.0, 0.0];
        let mut path = vec![];
        for g in [[30.0, 40.0], [3.0, 0.0]] {
            a.step(&mut theta, &g, 0.0);
            path.push(theta);
        }
        path
    };
    // Clipped: step 1 sees (6, 8), step 2 sees (3, 0) unchanged (norm 3 < 10).
    let clipped = run(true);
    let want = [
        [0.1 * 6.0 / (6.0 + 1e-8), 0.1 * 8.0 / (8.0 + 1e-8)],
        [0.19321796351792336, 0.16700582517017354],
    ];
    for k in 0..2 {
        for i in 0..2 {
            assert_close(clipped[k][i], want[k][i], 1e-14, "clipped");
        }
    }
    let unclipped = run(false);
    assert_close(unclipped[1][0], 0.17408106421366432, 1e-14, "unclipped");
    assert!((clipped[1][0] - unclipped[1][0]).abs() > 0.01);
}

#[test]
fn zero_gradient_with_clipping_gives_no_nan() {
    for optimiser in [Optimiser::Adam, Optimiser::AdamW] {
        let s = AscentSettings {
            optimiser,
            ..AscentSettings::default()
        };
        assert!(s.use_gradient_clipping);
        let mut a = Ascent::new(&s, 3);
        let mut theta = [1.0, -2.0, 0.0];
        for _ in 0..5 {
            let lr = a.step(&mut theta, &[0.0; 3], 0.5);
            assert_eq!(lr, 0.1);
        }
        assert!(theta.iter().all(|v| v.is_finite()));
        if optimiser == Optimiser::Adam {
            assert_eq!(theta, [1.0, -2.0, 0.0]);
        } else {
            // Zero-gradient leaves still shrink under AdamW (§9 item 9): ×(1 − lr·wd) per step.
            let f = (1.0f64 - 0.1 * 0.01).powi(5);
            assert_close(theta[0], f, 1e-14, "adamw shrink");
            assert_close(theta[1], -2.0 * f, 1e-14, "adamw shrink");
            assert_eq!(theta[2], 0.0);
        }
    }
}

#[test]
fn ascent_step_does_not_allocate() {
    for optimiser in [Optimiser::Sgd, Optimiser::Adam, Optimiser::AdamW] {
        let s = AscentSettings {
            optimiser,
            use_plateau_decay: true,
            lr_schedule_type: LrSchedule::WarmupCosine,
            ..AscentSettings::default()
        };
        let mut a = Ascent::new(&s, 64);
        let mut theta = vec![0.5; 64];
        let g = vec![20.0; 64];
        let before = allocations();
        for k in 0..50 {
            a.step(&mut theta, &g, k as f64);
            a.report_improvement(k % 3 == 0);
        }
        assert_eq!(allocations(), before, "{optimiser}");
    }
}

// ---------------------------------------------------------------------------------------
// Plain SGD and the plateau rules.

#[test]
fn sgd_is_plain_ascent_without_clipping_schedule_or_decay() {
    let s = AscentSettings {
        optimiser: Optimiser::Sgd,
        base_lr: 0.1,
        weight_decay: 0.5,
        use_gradient_clipping: true,
        clip_norm: 1.0,
        lr_schedule_type: LrSchedule::Cosine,
        n_iterations: 10,
        ..AscentSettings::default()
    };
    s.validate().unwrap();
    let mut a = Ascent::new(&s, 2);
    let mut theta = [1.0, 2.0];
    for _ in 0..3 {
        let lr = a.step(&mut theta, &[30.0, -40.0], 0.0);
        assert_eq!(lr, 0.1);
    }
    assert_close(theta[0], 1.0 + 3.0 * 3.0, 1e-15, "sgd");
    assert_close(theta[1], 2.0 - 3.0 * 4.0, 1e-15, "sgd");
}

#[test]
fn sgd_plateau_rule_decays_after_more_than_patience_and_floors() {
    let s = AscentSettings {
        optimiser: Optimiser::Sgd,
        base_lr: 0.1,
        decay_lr_plateau: 2,
        decay_lr_ratio: 0.5,
        min_lr: 0.03,
        ..AscentSettings::default()
    };
    let mut a = Ascent::new(&s, 1);
    let mut theta = [0.0];
    // counter 1, 2: no decay; 3 > 2: decay to 0.05, counter 0.
    let mut lrs = vec![];
    for improved in [
        false, false, false, true, false, false, true, false, false, false,
    ] {
        lrs.push(a.step(&mut theta, &[1.0], 0.0));
        a.report_improvement(improved);
    }
    lrs.push(a.step(&mut theta, &[1.0], 0.0));
    assert_eq!(
        lrs,
        [
            0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.03
        ]
    );
    assert_eq!(a.plateau_counter(), 0);
    assert_close(theta[0], lrs.iter().sum::<f64>(), 1e-15, "sgd path");
    assert_eq!(a.carried_lr(), 0.03);

    // For Adam the carried rate is logged but does not move the parameters.
    let s = AscentSettings {
        optimiser: Optimiser::Adam,
        decay_lr_plateau: 0,
        decay_lr_ratio: 0.5,
        ..AscentSettings::default()
    };
    let mut a = Ascent::new(&s, 1);
    a.report_improvement(false);
    assert_eq!(a.carried_lr(), 0.05);
    assert_eq!(a.step(&mut [0.0], &[1.0], 0.0), 0.1);
}

#[test]
fn optax_plateau_stage_scales_updates() {
    let s = AscentSettings {
        optimiser: Optimiser::Adam,
        base_lr: 0.1,
        use_gradient_clipping: false,
        use_plateau_decay: true,
        decay_lr_plateau: 2,
        decay_lr_ratio: 0.5,
        ..AscentSettings::default()
    };
    s.validate().unwrap();
    let mut a = Ascent::new(&s, 1);
    let mut theta = [0.0];
    // Loss = −objective must drop by more than 1e-4 to count as an improvement; the count
    // reaching the patience (2) halves the scale and resets. NaN never improves.
    let objectives = [
        1.0,
        1.0,
        1.00005,
        2.0,
        2.0,
        2.0,
        2.0,
        2.0,
        f64::NAN,
        f64::NAN,
        3.0,
    ];
    let want = [
        0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125, 0.00625, 0.00625,
    ];
    for (k, (&obj, &w)) in objectives.iter().zip(&want).enumerate() {
        let before = theta[0];
        let lr = a.step(&mut theta, &[1.0], obj);
        assert_close(lr, w, 1e-15, &format!("plateau lr step {k}"));
        // A constant gradient gives Adam a unit direction: the move is the rate used.
        assert_close(theta[0] - before, w, 1e-7, "move equals rate");
    }
    assert_eq!(a.plateau_scale(), 0.0625);
}

// ---------------------------------------------------------------------------------------
// Convergence.

/// J(θ) = −Σ a_i (θ_i − c_i)², maximum at c.
fn quadratic(theta: &[f64], g: &mut [f64]) -> f64 {
    let a = [1.0, 0.5, 2.0, 0.1];
    let c = [1.0, -2.0, 3.0, 0.5];
    let mut f = 0.0;
    for i in 0..4 {
        let d = theta[i] - c[i];
        f -= a[i] * d * d;
        g[i] = -2.0 * a[i] * d;
    }
    f
}

#[test]
fn ascent_maximises_a_concave_quadratic() {
    let c = [1.0, -2.0, 3.0, 0.5];
    // SGD: contraction 1 − 0.2·a_i per step.
    let s = AscentSettings {
        optimiser: Optimiser::Sgd,
        ..AscentSettings::default()
    };
    let mut a = Ascent::new(&s, 4);
    let mut theta = [0.0; 4];
    let mut g = [0.0; 4];
    for _ in 0..2000 {
        let f = quadratic(&theta, &mut g);
        a.step(&mut theta, &g, f);
    }
    for i in 0..4 {
        assert!((theta[i] - c[i]).abs() < 1e-9, "sgd {i}: {}", theta[i]);
    }

    // Adam with clipping and an exponential schedule down to 1e-6.
    let s = AscentSettings {
        optimiser: Optimiser::Adam,
        lr_schedule_type: LrSchedule::Exponential,
        lr_decay_ratio: 1e5,
        n_iterations: 3000,
        ..AscentSettings::default()
    };
    s.validate().unwrap();
    let mut a = Ascent::new(&s, 4);
    let mut theta = [0.0; 4];
    let mut last = f64::NEG_INFINITY;
    for _ in 0..=3000 {
        last = quadratic(&theta, &mut g);
        a.step(&mut theta, &g, last);
    }
    for i in 0..4 {
        assert!((theta[i] - c[i]).abs() < 1e-4, "adam {i}: {}", theta[i]);
    }
    assert!(last > -1e-8, "objective {last}");
}

#[test]
fn lbfgs_maximises_negated_rosenbrock_2d_and_5d() {
    let r = lbfgs_maximise(neg_rosenbrock, vec![-1.2, 1.0], 1000, 1e-10).unwrap();
    assert!(r.converged, "{}", r.termination);
    for v in &r.x {
        assert!((v - 1.0).abs() < 1e-6, "2d: {:?}", r.x);
    }
    assert!(r.objective > -1e-12 && r.objective <= 0.0);
    assert!(r.evaluations > 10);

    let r = lbfgs_maximise(neg_rosenbrock, vec![0.0; 5], 1000, 1e-10).unwrap();
    assert!(r.converged, "{}", r.termination);
    for v in &r.x {
        assert!((v - 1.0).abs() < 1e-6, "5d: {:?}", r.x);
    }

    // Iteration cap: not converged, still the best point so far.
    let r = lbfgs_maximise(neg_rosenbrock, vec![-1.2, 1.0], 3, 1e-10).unwrap();
    assert!(!r.converged);
    assert_eq!(r.iterations, 3);
    assert!(r.objective > neg_rosenbrock(&[-1.2, 1.0]).0);
}

#[test]
fn lbfgs_rejects_bad_input() {
    let e = lbfgs_maximise(neg_rosenbrock, vec![0.0, 0.0], 10, -1.0).unwrap_err();
    assert!(e.to_string().contains("`tol`"), "{e}");
    let e = lbfgs_maximise(|_| (f64::NAN, vec![0.0]), vec![0.0], 10, 1e-6).unwrap_err();
    assert!(matches!(e, OptimError::Lbfgs(_)), "{e}");
    // NaN away from the start ends the run at the best finite point.
    let f = |x: &[f64]| {
        if x[0] > 0.5 {
            (f64::NAN, vec![f64::NAN])
        } else {
            (-(x[0] - 2.0).powi(2), vec![-2.0 * (x[0] - 2.0)])
        }
    };
    let r = lbfgs_maximise(f, vec![0.0], 50, 1e-10).unwrap();
    assert!(!r.converged);
    assert!(r.x[0] <= 0.5 && r.objective.is_finite());
}

// ---------------------------------------------------------------------------------------
// CMA-ES.

#[test]
fn cma_es_constants_follow_the_spec() {
    assert_eq!(default_population_size(1), 4);
    assert_eq!(default_population_size(5), 8);
    assert_eq!(default_population_size(10), 10);
    assert_eq!(default_population_size(100), 17);

    // (n, λ, μ_eff, c_σ, d_σ, c_c, c_1, c_μ, χ_n), evaluated from the §5.6 formulas.
    let cases = [
        (
            10,
            10,
            3.1672992814107017,
            0.28442858794636744,
            1.2844285879463675,
            0.29499038303562225,
            0.015283824524751714,
            0.02015428276120837,
            3.0847265651690123,
        ),
        (
            5,
            8,
            2.60017882611318,
            0.36508837609348543,
            1.3650883760934853,
            0.4501995579928079,
            0.047292304159400896,
            0.03816916070385784,
            2.1285237557247996,
        ),
        // λ large against n: d_σ's max(0, √((μ_eff−1)/(n+1)) − 1) term is active.
        (
            2,
            20,
            5.938804235601241,
            0.6135655266935368,
            2.1797051008661863,
            0.5837604822280295,
            0.11884385675893783,
            0.3744222571803341,
            1.254272742818995,
        ),
    ];
    for (n, lambda, mu_eff, cs, ds, cc, c1, cmu, chi) in cases {
        let c = CmaEsConstants::new(n, lambda);
        assert_eq!(c.mu, lambda / 2);
        assert_close(c.weights.iter().sum::<f64>(), 1.0, 1e-15, "Σw");
        assert!(c.weights.windows(2).all(|w| w[0] > w[1]));
        assert_close(c.mu_eff, mu_eff, 1e-13, "mu_eff");
        assert_close(c.c_sigma, cs, 1e-13, "c_sigma");
        assert_close(c.d_sigma, ds, 1e-13, "d_sigma");
        assert_close(c.c_c, cc, 1e-13, "c_c");
        assert_close(c.c_1, c1, 1e-13, "c_1");
        assert_close(c.c_mu, cmu, 1e-13, "c_mu");
        assert_close(c.chi_n, chi, 1e-13, "chi_n");
    }
    let c = CmaEsConstants::new(5, 8);
    let w = [
        0.5299301844787792,
        0.2857142857142857,
        0.14285714285714282,
        0.041498386949792215,
    ];
    for i in 0..4 {
        assert_close(c.weights[i], w[i], 1e-13, "weights");
    }
    // The state picks the default λ.
    let es = CmaEs::new(vec![0.0; 5], &CmaEsSettings::default()).unwrap();
    assert_eq!(es.population_size(), 8);
    assert_eq!(es.constants(), &c);
}

#[test]
fn cma_es_first_generation_follows_the_update_equations() {
    let n = 3;
    let settings = CmaEsSettings {
        population_size: Some(6),
        sigma0: 0.7,
        seed: 11,
        ..CmaEsSettings::default()
    };
    let m0 = vec![0.5, -1.0, 2.0];
    let mut es = CmaEs::new(m0.clone(), &settings).unwrap();
    let pop = es.ask();
    assert_eq!(pop.len(), 6);
    let fit: Vec<f64> = pop
        .iter()
        .map(|x| (x[0] - 1.0).powi(2) + 3.0 * x[1].powi(2) + (x[2] + 0.5).abs())
        .collect();
    es.tell(&fit).unwrap();

    let c = CmaEsConstants::new(n, 6);
    let mut order: Vec<usize> = (0..6).collect();
    order.sort_by(|&a, &b| fit[a].partial_cmp(&fit[b]).unwrap());
    let sigma = 0.7;
    let mut m1 = vec![0.0; n];
    for (w, &k) in c.weights.iter().zip(&order) {
        for i in 0..n {
            m1[i] += w * pop[k][i];
        }
    }
    // C = I at generation 0, so C^{-1/2} = I and both paths start from zero.
    let shift: Vec<f64> = (0..n).map(|i| (m1[i] - m0[i]) / sigma).collect();
    let p_sigma: Vec<f64> = shift
        .iter()
        .map(|s| (c.c_sigma * (2.0 - c.c_sigma) * c.mu_eff).sqrt() * s)
        .collect();
    let ps_norm = p_sigma.iter().map(|v| v * v).sum::<f64>().sqrt();
    let h = ps_norm
        < (1.4 + 2.0 / (n as f64 + 1.0)) * c.chi_n * (1.0 - (1.0 - c.c_sigma).powi(2)).sqrt();
    let h = if h { 1.0 } else { 0.0 };
    let p_c: Vec<f64> = shift
        .iter()
        .map(|s| h * (c.c_c * (2.0 - c.c_c) * c.mu_eff).sqrt() * s)
        .collect();
    for i in 0..n {
        assert_close(es.mean()[i], m1[i], 1e-14, "mean");
        for j in 0..n {
            let id = if i == j { 1.0 } else { 0.0 };
            let mut rank_mu = 0.0;
            for (w, &k) in c.weights.iter().zip(&order) {
                rank_mu += w * (pop[k][i] - m0[i]) / sigma * (pop[k][j] - m0[j]) / sigma;
            }
            let want = (1.0 - c.c_1 - c.c_mu) * id
                + c.c_1 * p_c[i] * p_c[j]
                + c.c_1 * (1.0 - h) * c.c_c * (2.0 - c.c_c) * id
                + c.c_mu * rank_mu;
            let got = es.covariance()[i * n + j];
            assert!((got - want).abs() < 1e-14, "C[{i}][{j}] {got} vs {want}");
        }
    }
    let sigma1 = sigma * ((c.c_sigma / c.d_sigma) * (ps_norm / c.chi_n - 1.0)).exp();
    assert_close(es.sigma(), sigma1, 1e-14, "sigma");
    assert_eq!(es.generation(), 1);
    let best = order[0];
    assert_eq!(es.best().0, pop[best].as_slice());
    assert_eq!(es.best().1, fit[best]);
}

#[test]
fn cma_es_paths_step_size_and_covariance_follow_the_equations_every_generation() {
    // A linear function with a large population drives ‖p_σ‖ past the h_σ threshold at
    // first; the horizon factor √(1 − (1 − c_σ)^(2(g+1))) matters in the first generations.
    // Over several seeds both branches of h_σ occur, and so do generations where the
    // exponent 2(g+1) (rather than, say, 2(g+2) or 2g) decides the branch.
    let n = 2;
    let mut seen = [false, false];
    let mut exponent_decides = 0;
    for seed in 0..40 {
        let settings = CmaEsSettings {
            population_size: Some(20),
            sigma0: 0.3,
            seed,
            ..CmaEsSettings::default()
        };
        let mut es = CmaEs::new(vec![1.0, -1.0], &settings).unwrap();
        let c = es.constants().clone();
        for g in 0..12 {
            let (m0, s0) = (es.mean().to_vec(), es.sigma());
            let (pc0, cov0) = (es.p_c().to_vec(), es.covariance().to_vec());
            let pop = es.ask();
            let fit: Vec<f64> = pop.iter().map(|x| x[0] + 0.1 * x[1]).collect();
            es.tell(&fit).unwrap();
            let mut order: Vec<usize> = (0..pop.len()).collect();
            order.sort_by(|&a, &b| fit[a].partial_cmp(&fit[b]).unwrap());

            let ps_norm = es.p_sigma().iter().map(|v| v * v).sum::<f64>().sqrt();
            let limit = |e: i32| {
                (1.4 + 2.0 / (n as f64 + 1.0)) * c.chi_n * (1.0 - (1.0 - c.c_sigma).powi(e)).sqrt()
            };
            let h = ps_norm < limit(2 * (g + 1));
            if h != (ps_norm < limit(2 * (g + 2))) || h != (ps_norm < limit(2 * g)) {
                exponent_decides += 1;
            }
            seen[h as usize] = true;
            let h = if h { 1.0 } else { 0.0 };
            for i in 0..n {
                let shift = (es.mean()[i] - m0[i]) / s0;
                let want =
                    (1.0 - c.c_c) * pc0[i] + h * (c.c_c * (2.0 - c.c_c) * c.mu_eff).sqrt() * shift;
                assert!((es.p_c()[i] - want).abs() < 1e-12, "g={g} p_c[{i}]");
                for j in 0..n {
                    let mut rank_mu = 0.0;
                    for (w, &k) in c.weights.iter().zip(&order) {
                        rank_mu += w * (pop[k][i] - m0[i]) / s0 * (pop[k][j] - m0[j]) / s0;
                    }
                    let want = (1.0 - c.c_1 - c.c_mu) * cov0[i * n + j]
                        + c.c_1 * es.p_c()[i] * es.p_c()[j]
                        + c.c_1 * (1.0 - h) * c.c_c * (2.0 - c.c_c) * cov0[i * n + j]
                        + c.c_mu * rank_mu;
                    let got = es.covariance()[i * n + j];
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "g={g} C[{i}][{j}]"
                    );
                }
            }
            let sigma = s0 * ((c.c_sigma / c.d_sigma) * (ps_norm / c.chi_n - 1.0)).exp();
            assert_close(es.sigma(), sigma, 1e-13, "sigma");
        }
    }
    assert_eq!(seen, [true, true], "both h_σ branches");
    assert!(
        exponent_decides > 0,
        "no generation tested the horizon exponent"
    );
}

#[test]
fn cma_es_minimises_sphere() {
    let settings = CmaEsSettings {
        tol: 1e-10,
        n_generations: 3000,
        seed: 3,
        ..CmaEsSettings::default()
    };
    let r = cma_es_minimise(sphere, vec![1.0, 2.0, 3.0, -1.0, -2.0], &settings).unwrap();
    assert_eq!(r.stop_reason, StopReason::Tolerance);
    assert!(r.best_f < 1e-18, "{}", r.best_f);
    assert!(r.best_x.iter().all(|v| v.abs() < 1e-9));
    assert_eq!(r.evaluations, 8 * r.generations);
}

#[test]
fn cma_es_stop_rules() {
    // An ill-conditioned ellipsoid: C learns the 1e16 axis ratio, and the conditioning rule
    // (max/min eigenvalue > 1e14) ends the run before the (zero) tolerance could.
    let settings = CmaEsSettings {
        tol: 0.0,
        n_generations: 100_000,
        ..CmaEsSettings::default()
    };
    let r = cma_es_minimise(
        |x| x[0] * x[0] + 1e16 * x[1] * x[1],
        vec![1.0, 1.0],
        &settings,
    )
    .unwrap();
    assert_eq!(r.stop_reason, StopReason::ConditionNumber);
    assert!(r.generations < 100_000);

    // No generations allowed: the start point with +∞, nothing evaluated.
    let settings = CmaEsSettings {
        n_generations: 0,
        ..CmaEsSettings::default()
    };
    let r = cma_es_minimise(sphere, vec![1.0, 2.0], &settings).unwrap();
    assert_eq!(r.stop_reason, StopReason::MaxGenerations);
    assert_eq!((r.generations, r.evaluations), (0, 0));
    assert_eq!((r.best_x, r.best_f), (vec![1.0, 2.0], f64::INFINITY));

    // A huge tolerance stops before the first generation.
    let settings = CmaEsSettings {
        tol: 1.0,
        ..CmaEsSettings::default()
    };
    let r = cma_es_minimise(sphere, vec![1.0, 2.0], &settings).unwrap();
    assert_eq!(r.stop_reason, StopReason::Tolerance);
    assert_eq!(r.generations, 0);
}

#[test]
fn cma_es_minimises_rosenbrock_5d() {
    let settings = CmaEsSettings {
        tol: 1e-12,
        n_generations: 20_000,
        seed: 0,
        ..CmaEsSettings::default()
    };
    let r = cma_es_minimise(rosenbrock, vec![0.0; 5], &settings).unwrap();
    assert!(r.best_f < 1e-14, "{} after {:?}", r.best_f, r.stop_reason);
    for v in &r.best_x {
        assert!((v - 1.0).abs() < 1e-6, "{:?}", r.best_x);
    }
}

#[test]
fn cma_es_is_bit_for_bit_deterministic() {
    let settings = CmaEsSettings {
        n_generations: 200,
        seed: 7,
        ..CmaEsSettings::default()
    };
    let a = cma_es_minimise(rosenbrock, vec![-1.0; 6], &settings).unwrap();
    let b = cma_es_minimise(rosenbrock, vec![-1.0; 6], &settings).unwrap();
    assert_eq!(a.generations, b.generations);
    assert_eq!(a.best_f.to_bits(), b.best_f.to_bits());
    assert_eq!(a.sigma.to_bits(), b.sigma.to_bits());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.best_x), bits(&b.best_x));
    assert_eq!(bits(&a.mean), bits(&b.mean));

    let other = CmaEsSettings {
        seed: 8,
        ..settings
    };
    let c = cma_es_minimise(rosenbrock, vec![-1.0; 6], &other).unwrap();
    assert_ne!(bits(&a.mean), bits(&c.mean));
}

#[test]
fn cma_es_ranks_nan_worst() {
    // NaN on half the space: the search still finds the minimum at (1, 1, 1).
    // A NaN with the sign bit set (as x86 produces for 0/0) must rank last too, although
    // `total_cmp` alone would put it first.
    let f = |x: &[f64]| {
        if x[0] < 0.0 {
            -f64::NAN
        } else {
            x.iter().map(|v| (v - 1.0).powi(2)).sum()
        }
    };
    let settings = CmaEsSettings {
        sigma0: 1.0,
        n_generations: 1000,
        seed: 1,
        ..CmaEsSettings::default()
    };
    let r = cma_es_minimise(f, vec![0.5, -3.0, 4.0], &settings).unwrap();
    assert!(r.best_f < 1e-12, "{}", r.best_f);

    // Only NaN: the run goes on to its generation limit and keeps the start point.
    let settings = CmaEsSettings {
        n_generations: 20,
        ..CmaEsSettings::default()
    };
    let r = cma_es_minimise(|_| f64::NAN, vec![0.25, 0.5], &settings).unwrap();
    assert_eq!(r.best_x, vec![0.25, 0.5]);
    assert_eq!(r.best_f, f64::INFINITY);
    assert_eq!(r.generations, 20);
    assert_eq!(r.stop_reason, StopReason::MaxGenerations);
}

#[test]
fn cma_es_ask_tell_misuse_is_an_error() {
    let mut es = CmaEs::new(vec![0.0, 0.0], &CmaEsSettings::default()).unwrap();
    assert!(matches!(es.tell(&[1.0; 6]), Err(OptimError::Usage(_))));
    let pop = es.ask();
    let e = es.tell(&[1.0; 3]).unwrap_err();
    assert!(e.to_string().contains("3 fitness values"), "{e}");
    // The population is still pending after a wrong-length tell.
    es.tell(&vec![1.0; pop.len()]).unwrap();
    assert_eq!(es.generation(), 1);
}

// ---------------------------------------------------------------------------------------
// Bad settings.

fn setting_error(e: OptimError) -> (String, String) {
    match &e {
        OptimError::Setting { field, value, .. } => (field.to_string(), value.clone()),
        other => panic!("not a setting error: {other}"),
    }
}

#[test]
fn bad_ascent_settings_name_the_field() {
    AscentSettings::default().validate().unwrap();
    let check = |s: AscentSettings, field: &str, value: &str| {
        let e = s.validate().unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&format!("`{field}`")), "{text}");
        assert!(text.contains(value), "{text}");
        assert!(text.contains("must"), "{text}");
        assert_eq!(setting_error(e).0, field);
    };
    let d = AscentSettings::default;
    check(
        AscentSettings {
            base_lr: 0.0,
            ..d()
        },
        "base_lr",
        "0",
    );
    check(
        AscentSettings {
            base_lr: f64::NAN,
            ..d()
        },
        "base_lr",
        "NaN",
    );
    check(
        AscentSettings {
            clip_norm: -1.0,
            ..d()
        },
        "clip_norm",
        "-1",
    );
    AscentSettings {
        clip_norm: -1.0,
        use_gradient_clipping: false,
        ..d()
    }
    .validate()
    .unwrap();
    check(
        AscentSettings {
            weight_decay: -0.1,
            ..d()
        },
        "weight_decay",
        "-0.1",
    );
    check(
        AscentSettings {
            lr_schedule_type: LrSchedule::WarmupCosine,
            warmup_steps: 100,
            n_iterations: 100,
            ..d()
        },
        "warmup_steps",
        "100",
    );
    check(
        AscentSettings {
            lr_schedule_type: LrSchedule::Cosine,
            n_iterations: 0,
            ..d()
        },
        "n_iterations",
        "0",
    );
    check(
        AscentSettings {
            lr_schedule_type: LrSchedule::Exponential,
            lr_decay_ratio: 0.0,
            ..d()
        },
        "lr_decay_ratio",
        "0",
    );
    check(
        AscentSettings {
            use_plateau_decay: true,
            decay_lr_ratio: 1.5,
            ..d()
        },
        "decay_lr_ratio",
        "1.5",
    );
    check(
        AscentSettings {
            decay_lr_ratio: 0.0,
            ..d()
        },
        "decay_lr_ratio",
        "0",
    );
    check(
        AscentSettings {
            min_lr: -1e-6,
            ..d()
        },
        "min_lr",
        "-0.000001",
    );
}

#[test]
fn unknown_names_list_the_allowed_ones() {
    assert_eq!(Optimiser::parse("adamw").unwrap(), Optimiser::AdamW);
    assert_eq!("sgd".parse::<Optimiser>().unwrap(), Optimiser::Sgd);
    assert_eq!(Optimiser::parse("adam").unwrap().to_string(), "adam");
    let e = Optimiser::parse("rmsprop").unwrap_err().to_string();
    for part in ["`optimiser`", "rmsprop", "\"sgd\"", "\"adam\"", "\"adamw\""] {
        assert!(e.contains(part), "{e}");
    }
    for (name, kind) in [
        ("constant", LrSchedule::Constant),
        ("cosine", LrSchedule::Cosine),
        ("exponential", LrSchedule::Exponential),
        ("warmup_cosine", LrSchedule::WarmupCosine),
    ] {
        assert_eq!(LrSchedule::parse(name).unwrap(), kind);
        assert_eq!(kind.to_string(), name);
    }
    let e = LrSchedule::parse("linear").unwrap_err().to_string();
    for part in ["`lr_schedule_type`", "linear", "\"warmup_cosine\""] {
        assert!(e.contains(part), "{e}");
    }
}

#[test]
fn bad_cma_es_settings_name_the_field() {
    let d = CmaEsSettings::default;
    let field = |r: Result<CmaEs, OptimError>| setting_error(r.unwrap_err()).0;
    assert_eq!(
        field(CmaEs::new(vec![0.0], &CmaEsSettings { sigma0: 0.0, ..d() })),
        "sigma0"
    );
    assert_eq!(
        field(CmaEs::new(
            vec![0.0],
            &CmaEsSettings {
                population_size: Some(1),
                ..d()
            }
        )),
        "population_size"
    );
    assert_eq!(
        field(CmaEs::new(
            vec![0.0],
            &CmaEsSettings {
                tol: f64::NAN,
                ..d()
            }
        )),
        "tol"
    );
    assert_eq!(field(CmaEs::new(vec![], &d())), "mean");
    assert_eq!(field(CmaEs::new(vec![0.0, f64::INFINITY], &d())), "mean");
}
