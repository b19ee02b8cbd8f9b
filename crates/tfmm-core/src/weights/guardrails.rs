//! Guardrails: one coarse step from the current position and a rule row to the next target,
//! in the reference's exact order (spec weights.md §5.2).

use crate::scalar::{Scalar, abs, clip, clip_s, cst, straight_through};

/// Per-asset weight bounds (the `bounded__` hook), applied before the uniform floor.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetBounds<S> {
    pub min: Vec<S>,
    pub max: Vec<S>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Guardrails<S> {
    /// Floor on every weight; the ceiling is `1 - (n - 1) * minimum_weight`.
    pub minimum_weight: f64,
    /// Largest weight change per asset per minute.
    pub maximum_change: f64,
    /// `weight_interpolation_period + 1`: the ramp to a new target spans
    /// `interpol_num - 1` minutes.
    pub interpol_num: usize,
    pub bounds: Option<AssetBounds<S>>,
    /// Training only: pass derivatives straight through the min/max clips.
    pub ste_min_max_weight: bool,
    /// Training only: pass derivatives straight through the speed limit.
    pub ste_max_change: bool,
}

/// How a rule row moves the position.
#[derive(Clone, Copy, Debug)]
pub enum Move<'a, S> {
    /// Add the row to the position.
    Delta,
    /// Blend: `blend * position + (1 - blend) * row`.
    Toward { blend: &'a [S] },
}

/// Scratch and results of one guardrail step; allocated once per engine.
#[derive(Clone, Debug)]
pub struct GuardStep<S> {
    /// Where the ramp starts (the position before this step).
    pub start: Vec<S>,
    /// Per-minute change of the ramp, after the speed limit.
    pub scaled_diff: Vec<S>,
    /// Where the rule (after floors and bounds) wanted to go.
    pub target: Vec<S>,
    low: Vec<bool>,
}

impl<S: Scalar> GuardStep<S> {
    pub fn new(n: usize) -> Self {
        Self {
            start: vec![cst(0.0); n],
            scaled_diff: vec![cst(0.0); n],
            target: vec![cst(0.0); n],
            low: vec![false; n],
        }
    }
}

impl<S: Scalar> Guardrails<S> {
    /// One coarse step: sets `step.{start, scaled_diff, target}` and moves `position` to where
    /// the ramp ends.
    pub fn apply(&self, position: &mut [S], row: &[S], how: Move<'_, S>, step: &mut GuardStep<S>) {
        self.target(position, row, how, step);
        self.ramp(position, step, self.interpol_num);
    }

    /// Steps 1–10: the floored, bounded, normalised target, into `step.target`.
    pub fn target(&self, position: &[S], row: &[S], how: Move<'_, S>, step: &mut GuardStep<S>) {
        let n = position.len();
        let t = &mut step.target;
        for i in 0..n {
            t[i] = match how {
                Move::Delta => position[i] + row[i],
                Move::Toward { blend } => {
                    blend[i] * position[i] + (cst::<S>(1.0) - blend[i]) * row[i]
                }
            };
        }
        let total = sum(t);
        t.iter_mut().for_each(|x| *x /= total);
        if let Some(bounds) = &self.bounds {
            self.apply_bounds(t, bounds);
        }

        // A single pass: entries below the floor are raised to it and the rest rescaled to
        // fill what remains (an entry just above the floor can end slightly below it, as in
        // the reference).
        let min_w = self.minimum_weight;
        let max_w = 1.0 - (n as f64 - 1.0) * min_w;
        let mut n_low = 0usize;
        for i in 0..n {
            step.low[i] = t[i].value() < min_w;
            n_low += usize::from(step.low[i]);
            let clipped = clip(t[i], min_w, max_w);
            t[i] = if self.ste_min_max_weight {
                straight_through(t[i], clipped)
            } else {
                clipped
            };
        }
        let remaining = 1.0 - n_low as f64 * min_w;
        let mut free = cst::<S>(0.0);
        for i in 0..n {
            if !step.low[i] {
                free += t[i];
            }
        }
        for i in 0..n {
            if !step.low[i] {
                t[i] = t[i] * remaining / free;
            }
        }
        // Put the rounding residue on the largest weight (first on ties); its slope is the
        // slope of that weight alone.
        let (j, _) = t
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |(bj, bv), (i, x)| {
                if x.value() > bv {
                    (i, x.value())
                } else {
                    (bj, bv)
                }
            });
        let total = sum(t).value();
        let tj = t[j].value();
        t[j] += ((tj - total) + 1.0) - tj;
    }

    /// Steps 11–13: the ramp from `position` toward `step.target` over `interpol_num - 1`
    /// minutes, slowed uniformly so no asset moves more than `maximum_change` a minute.
    pub fn ramp(&self, position: &mut [S], step: &mut GuardStep<S>, interpol_num: usize) {
        let minutes = (interpol_num - 1) as f64;
        let per_minute = 1.0 / minutes;
        let mut largest = cst::<S>(0.0);
        for i in 0..position.len() {
            let d = (step.target[i] - position[i]) * per_minute;
            step.scaled_diff[i] = d;
            if abs(d).value() > largest.value() {
                largest = abs(d);
            }
        }
        let mc = self.maximum_change;
        if largest.value() > mc {
            // The 1e-10 keeps the reference's slightly-below-the-limit step.
            let scale = cst::<S>(mc) / (largest + 1e-10);
            for d in step.scaled_diff.iter_mut() {
                let limited = *d * scale;
                *d = if self.ste_max_change {
                    straight_through(*d, limited)
                } else {
                    limited
                };
            }
        }
        step.start.copy_from_slice(position);
        for (p, &d) in position.iter_mut().zip(&step.scaled_diff) {
            *p += d * minutes;
        }
    }

    fn apply_bounds(&self, w: &mut [S], bounds: &AssetBounds<S>) {
        let clip_to = |x: S, i: usize| {
            let c = clip_s(x, bounds.min[i], bounds.max[i]);
            if self.ste_min_max_weight {
                straight_through(x, c)
            } else {
                c
            }
        };
        for (i, x) in w.iter_mut().enumerate() {
            *x = clip_to(*x, i);
        }
        let total = sum(w);
        let (mut room_up, mut room_down) = (cst::<S>(0.0), cst::<S>(0.0));
        for (i, &x) in w.iter().enumerate() {
            room_up += bounds.max[i] - x;
            room_down += x - bounds.min[i];
        }
        let tv = total.value();
        for (i, x) in w.iter_mut().enumerate() {
            let adjust = if tv < 1.0 {
                (cst::<S>(1.0) - total) * (bounds.max[i] - *x) / (room_up + 1e-10)
            } else if tv > 1.0 {
                -(total - 1.0) * (*x - bounds.min[i]) / (room_down + 1e-10)
            } else {
                cst(0.0)
            };
            *x = clip_to(*x + adjust, i);
        }
        let total = sum(w);
        w.iter_mut().for_each(|x| *x /= total);
    }
}

fn sum<S: Scalar>(x: &[S]) -> S {
    x.iter().fold(cst::<S>(0.0), |a, &b| a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rails(minimum_weight: f64, maximum_change: f64, interpol_num: usize) -> Guardrails<f64> {
        Guardrails {
            minimum_weight,
            maximum_change,
            interpol_num,
            bounds: None,
            ste_min_max_weight: false,
            ste_max_change: false,
        }
    }

    /// `new` is the unguarded target; the rule row is `new - prev`.
    fn step(g: &Guardrails<f64>, prev: &[f64], new: &[f64]) -> (GuardStep<f64>, Vec<f64>) {
        let row: Vec<f64> = new.iter().zip(prev).map(|(a, b)| a - b).collect();
        let mut pos = prev.to_vec();
        let mut s = GuardStep::new(prev.len());
        g.apply(&mut pos, &row, Move::Delta, &mut s);
        (s, pos)
    }

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    // spec weights.md appendix A.3.
    #[test]
    fn reference_guard_steps() {
        let (s, _) = step(&rails(0.1, 1.0, 2), &[0.33, 0.33, 0.34], &[0.05, 0.45, 0.5]);
        assert!(
            close(
                &s.target,
                &[0.1, 0.4263157894736842, 0.4736842105263157],
                1e-15
            ),
            "{:?}",
            s.target
        );

        let (s, _) = step(
            &rails(0.1, 0.5, 2),
            &[0.7, 0.15, 0.1, 0.05],
            &[0.699, 0.2, 0.101, 0.0],
        );
        assert!(
            close(
                &s.target,
                &[0.6291, 0.18000000000000002, 0.09090000000000001, 0.1],
                1e-15
            ),
            "{:?}",
            s.target
        );

        let (s, pos) = step(&rails(0.1, 0.1, 2), &[0.3, 0.3, 0.4], &[0.9, 0.06, 0.04]);
        assert!(
            close(&s.target, &[0.7999999999999999, 0.1, 0.1], 1e-15),
            "{:?}",
            s.target
        );
        assert!(
            close(
                &pos,
                &[0.39999999998, 0.260000000008, 0.340000000012],
                1e-14
            ),
            "{pos:?}"
        );

        let (_, pos) = step(&rails(0.1, 0.1, 2), &[0.5, 0.5], &[0.7, 0.3]);
        assert!(
            close(&pos, &[0.59999999995, 0.40000000005], 1e-14),
            "{pos:?}"
        );

        let (s, pos) = step(&rails(0.1, 0.001, 61), &[0.5, 0.5], &[0.7, 0.3]);
        assert!(
            close(&pos, &[0.5599999982, 0.44000000179999993], 1e-14),
            "{pos:?}"
        );
        assert!(
            close(&s.scaled_diff, &[0.00099999997, -0.00099999997], 1e-16),
            "{:?}",
            s.scaled_diff
        );
    }

    // spec weights.md §7 item 11 (MathGuard ports).
    #[test]
    fn protocol_guard_cases() {
        let g = rails(0.1, 1.0, 2);
        let (s, _) = step(&g, &[1.0 / 3.0; 3], &[-0.1, 0.5, 0.6]);
        assert!(close(
            &s.target,
            &[0.1, 0.409090909090909, 0.490909090909091],
            1e-12
        ));
        let (s, _) = step(&g, &[1.0 / 3.0; 3], &[0.95, 0.025, 0.025]);
        assert!(close(&s.target, &[0.8, 0.1, 0.1], 1e-12));
        let (s, _) = step(&g, &[1.0 / 3.0; 3], &[0.5, 0.5, 0.5]);
        assert!(close(&s.target, &[1.0 / 3.0; 3], 1e-12));
        let (s, pos) = step(&rails(0.1, 0.1, 2), &[0.5, 0.5], &[0.95, 0.05]);
        assert!(close(&s.target, &[0.9, 0.1], 1e-12));
        assert!(close(&pos, &[0.6, 0.4], 1e-9));
        let (_, pos) = step(&rails(0.1, 0.1, 2), &[0.3, 0.3, 0.4], &[0.5, 0.1, 0.4]);
        assert!(close(&pos, &[0.4, 0.2, 0.4], 1e-9));
        let (_, pos) = step(&rails(0.1, 0.0, 2), &[0.3, 0.3, 0.4], &[0.5, 0.1, 0.4]);
        assert_eq!(pos, vec![0.3, 0.3, 0.4]);
    }

    #[test]
    fn speed_limit_keeps_direction() {
        let (s, _) = step(&rails(0.0, 0.15, 2), &[0.3, 0.4, 0.3], &[0.6, 0.3, 0.1]);
        // d = [0.3, -0.1, -0.2] scaled by 0.15 / (0.3 + 1e-10).
        let scale = 0.15 / (0.3 + 1e-10);
        assert!(close(
            &s.scaled_diff,
            &[0.3 * scale, -0.1 * scale, -0.2 * scale],
            1e-15
        ));
    }

    #[test]
    fn per_asset_bounds_hold_and_sum_to_one() {
        let mut g = rails(0.0, 1.0, 2);
        g.bounds = Some(AssetBounds {
            min: vec![0.1, 0.2, 0.05],
            max: vec![0.5, 0.6, 0.3],
        });
        for new in [[0.8, 0.1, 0.1], [0.05, 0.05, 0.9], [0.3, 0.3, 0.4]] {
            let (s, _) = step(&g, &[1.0 / 3.0; 3], &new);
            let total: f64 = s.target.iter().sum();
            assert!((total - 1.0).abs() < 1e-12);
            for i in 0..3 {
                assert!(s.target[i] >= [0.1, 0.2, 0.05][i] - 1e-9, "{:?}", s.target);
                assert!(s.target[i] <= [0.5, 0.6, 0.3][i] + 1e-9, "{:?}", s.target);
            }
        }
    }

    #[test]
    fn blend_moves_toward_target() {
        let g = rails(0.1, 1.0, 2);
        let mut pos = vec![0.5, 0.5];
        let mut s = GuardStep::new(2);
        g.apply(
            &mut pos,
            &[0.8, 0.2],
            Move::Toward {
                blend: &[0.75, 0.75],
            },
            &mut s,
        );
        assert!(close(&s.target, &[0.575, 0.425], 1e-15), "{:?}", s.target);
    }
}
