//! The number type every kernel is generic over.
//!
//! Plain runs use `f64`; gradients (forward mode) use num-dual's dual numbers, which carry
//! derivatives alongside the value. Branches (clips, thresholds, argmax) decide on the real
//! part, so a dual run takes exactly the path the `f64` run takes.

use num_dual::DualNum;

/// A real number with optional derivative parts. `f64` and num-dual's `Dual64`, `DualVec`
/// (any `Copy` dual over `f64`) satisfy it.
pub trait Scalar: DualNum<Primitive = f64> + Copy + Send + Sync {
    /// The value without derivatives.
    #[inline]
    fn value(&self) -> f64 {
        self.re()
    }
}

impl<T> Scalar for T where T: DualNum<Primitive = f64> + Copy + Send + Sync {}

/// A constant: a value whose derivatives are zero.
#[inline]
pub fn cst<S: Scalar>(x: f64) -> S {
    S::from(x)
}

/// `exp(x) / (1 + exp(x))`, the reference's literal form (it overflows to NaN for x > ~709,
/// exactly like the reference).
#[inline]
pub fn logistic<S: Scalar>(x: S) -> S {
    let e = x.exp();
    e / (e + 1.0)
}

/// `1 / (1 + exp(-x))`, the form used by the learnable-bounds parametrisation.
#[inline]
pub fn sigmoid<S: Scalar>(x: S) -> S {
    ((-x).exp() + 1.0).recip()
}

/// `0.5 * (x + sqrt(x*x + 4))`: a smooth, positive map used for several rule parameters.
#[inline]
pub fn squareplus<S: Scalar>(x: S) -> S {
    (x + (x * x + 4.0).sqrt()) * 0.5
}

/// Inverse of [`squareplus`] on `y > 0`.
#[inline]
pub fn inverse_squareplus(y: f64) -> f64 {
    (y * y - 1.0) / y
}

/// `ln(x / (1 - x))`.
#[inline]
pub fn logit(x: f64) -> f64 {
    (x / (1.0 - x)).ln()
}

/// Sign with `sign(0) = 0` (num-traits' `signum` gives 1 for +0).
#[inline]
pub fn sign<S: Scalar>(x: S) -> f64 {
    let v = x.re();
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Absolute value deciding on the real part.
#[inline]
pub fn abs<S: Scalar>(x: S) -> S {
    if x.re() < 0.0 { -x } else { x }
}

/// The larger of two numbers by real part (the first on ties).
#[inline]
pub fn max<S: Scalar>(a: S, b: S) -> S {
    if b.re() > a.re() { b } else { a }
}

/// `min(max(x, lo), hi)` deciding on real parts; a clipped value is a constant.
#[inline]
pub fn clip<S: Scalar>(x: S, lo: f64, hi: f64) -> S {
    let v = x.re();
    if v < lo {
        cst(lo)
    } else if v > hi {
        cst(hi)
    } else {
        x
    }
}

/// [`clip`] with bounds that may themselves carry derivatives (learnable per-asset bounds).
#[inline]
pub fn clip_s<S: Scalar>(x: S, lo: S, hi: S) -> S {
    if x.re() < lo.re() {
        lo
    } else if x.re() > hi.re() {
        hi
    } else {
        x
    }
}

/// Straight-through estimator: the forward value is `x + (y - x)` (the reference's literal
/// form, equal to `y` up to one rounding) while derivatives are those of `x`.
#[inline]
pub fn straight_through<S: Scalar>(x: S, y: S) -> S {
    x + (y.re() - x.re())
}

/// `x^q` for `x >= 0` with `0^q = 0` (and zero derivatives there, where `ln` would give NaN).
#[inline]
pub fn pow_nonneg<S: Scalar>(x: S, q: S) -> S {
    if x.re() == 0.0 { cst(0.0) } else { x.powd(q) }
}

/// [`ln_ratio`] uses its series while `|z| <= 2^-7` (`a / b` within about 1.6% of 1), and
/// [`ln_1p_near_zeros`] while `|x| <= 2^-6`: the truncated terms are then below 2e-18
/// relative.
const NEAR_ONE: f64 = 1.0 / 64.0;

/// [`exp_near_zero`] uses its series while `|s| <= 2^-7`.
const NEAR_ZERO: f64 = 1.0 / 128.0;

/// `2 atanh(z) = 2 (z + z^3/3 + z^5/5 + z^7/7)` by Estrin's scheme (two short chains instead
/// of one long one: this sits on the critical path of every simulated minute).
#[inline]
fn atanh_series<S: Scalar>(z: S) -> S {
    let z2 = z * z;
    let z4 = z2 * z2;
    let series = (z2 * (1.0 / 3.0) + 1.0) + z4 * (z2 * (1.0 / 7.0) + 1.0 / 5.0);
    z * series * 2.0
}

/// `exp(s)` by its Taylor series to `s^7/5040`, Estrin's scheme as in [`atanh_series`].
#[inline]
fn exp_series<S: Scalar>(s: S) -> S {
    let s2 = s * s;
    let s4 = s2 * s2;
    let low = (s + 1.0) + s2 * (s * (1.0 / 6.0) + 0.5);
    let high = (s * (1.0 / 120.0) + 1.0 / 24.0) + s2 * (s * (1.0 / 5040.0) + 1.0 / 720.0);
    low + s4 * high
}

/// `ln(a / b)` for `a` close to `b` (per-minute price and weight ratios), with one division:
/// the series `2 atanh(z)`, `z = (a - b) / (a + b)`, accurate to a few ulp and several times
/// cheaper than a libm call; farther apart it is `ln`.
#[inline(always)]
pub fn ln_ratio<S: Scalar>(a: S, b: S) -> S {
    let z = (a - b) / (a + b);
    if z.value().abs() > NEAR_ONE / 2.0 {
        return (a / b).ln();
    }
    atanh_series(z)
}

/// `exp(s)` for small `s` (per-minute log growth) by its Taylor series to `s^7/5040`
/// (truncation below 1e-20 for `|s| <= 2^-7`); `exp` otherwise.
#[inline(always)]
pub fn exp_near_zero<S: Scalar>(s: S) -> S {
    if s.value().abs() > NEAR_ZERO {
        return s.exp();
    }
    exp_series(s)
}

/// `ln(1 + x)` for `|x| <= 2^-6` by its Taylor series to `x^10/10` (truncation below 1e-19
/// relative), Estrin's scheme; no division, so slices of it vectorise.
#[inline]
fn ln_1p_series<S: Scalar>(x: S) -> S {
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let a0 = x * (-1.0 / 2.0) + 1.0;
    let a1 = x * (-1.0 / 4.0) + 1.0 / 3.0;
    let a2 = x * (-1.0 / 6.0) + 1.0 / 5.0;
    let a3 = x * (-1.0 / 8.0) + 1.0 / 7.0;
    let a4 = x * (-1.0 / 10.0) + 1.0 / 9.0;
    x * ((a0 + x2 * a1) + x4 * (a2 + x2 * a3) + x8 * a4)
}

/// [`ln_ratio`] over whole slices, `out[k] = ln(a[k] / b[k])`, bit for bit, except that equal
/// values give an exact zero (also for zeros). The series runs on every element without a
/// branch, so the loop vectorises; pairs too far apart for it are redone afterwards.
#[inline(always)]
pub fn ln_ratios<S: Scalar>(a: &[S], b: &[S], out: &mut [S]) {
    let mut far = false;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let z = (x - y) / (x + y);
        far |= z.value().abs() > NEAR_ONE / 2.0;
        *o = if x.value() == y.value() {
            cst(0.0)
        } else {
            atanh_series(z)
        };
    }
    if far {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            if x.value() != y.value() {
                *o = ln_ratio(x, y);
            }
        }
    }
}

/// `ln(1 + x)` in place over a slice of small `x` (per-minute relative moves): the series on
/// every element without a branch, so the loop vectorises; `ln_1p` for any element too far
/// from zero for it.
#[inline(always)]
pub fn ln_1p_near_zeros<S: Scalar>(xs: &mut [S]) {
    let mut far = false;
    for x in xs.iter() {
        far |= x.value().abs() > NEAR_ONE;
    }
    if far {
        xs.iter_mut().for_each(|x| {
            *x = if x.value().abs() > NEAR_ONE {
                x.ln_1p()
            } else {
                ln_1p_series(*x)
            }
        });
    } else {
        xs.iter_mut().for_each(|x| *x = ln_1p_series(*x));
    }
}

/// [`exp_near_zero`] in place over a slice, bit for bit, vectorising as
/// [`ln_1p_near_zeros`] does.
#[inline(always)]
pub fn exp_near_zeros<S: Scalar>(xs: &mut [S]) {
    let mut far = false;
    for x in xs.iter() {
        far |= x.value().abs() > NEAR_ZERO;
    }
    if far {
        xs.iter_mut().for_each(|x| *x = exp_near_zero(*x));
    } else {
        xs.iter_mut().for_each(|x| *x = exp_series(*x));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::Dual64;

    #[test]
    fn squareplus_round_trips() {
        for y in [0.1, 0.5, 1.0, 3.0, 1000.0] {
            let x = inverse_squareplus(y);
            assert!((squareplus(x) - y).abs() < 1e-12 * y.max(1.0));
        }
        assert_eq!(squareplus(0.0), 1.0);
    }

    #[test]
    fn logistic_matches_sigmoid_and_logit() {
        for x in [-30.0f64, -2.0, 0.0, 0.7, 12.0] {
            assert!((logistic(x) - sigmoid(x)).abs() < 1e-15);
            if x.abs() < 20.0 {
                assert!((logit(logistic(x)) - x).abs() < 1e-9);
            }
        }
        // The literal form overflows where the reference overflows.
        assert!(logistic(800.0f64).is_nan());
    }

    #[test]
    fn series_slices_match_libm() {
        let mut xs: Vec<f64> = (-200..=200).map(|i| i as f64 * 1e-4).collect();
        xs.extend([0.03, -0.2, 1.5]);
        let mut ln = xs.clone();
        ln_1p_near_zeros(&mut ln);
        let mut ex = xs.clone();
        exp_near_zeros(&mut ex);
        for ((x, l), e) in xs.iter().zip(&ln).zip(&ex) {
            assert!(
                (l - x.ln_1p()).abs() <= 4e-16 * x.ln_1p().abs(),
                "ln_1p {x}: {l}"
            );
            assert!((e - x.exp()).abs() <= 4e-16 * x.exp(), "exp {x}: {e}");
            assert_eq!(*e, exp_near_zero(*x));
        }
    }

    #[test]
    fn sign_of_zero_is_zero() {
        assert_eq!(sign(0.0), 0.0);
        assert_eq!(sign(-0.0), 0.0);
        assert_eq!(sign(-2.0), -1.0);
        assert_eq!(sign(3.0), 1.0);
    }

    #[test]
    fn straight_through_keeps_value_of_y_and_slope_of_x() {
        let x = Dual64::new(2.0, 1.0);
        let y = clip(x, 0.0, 1.0);
        let z = straight_through(x, y);
        assert_eq!(z.re, 1.0);
        assert_eq!(z.eps, 1.0);
        // Without the straight-through estimator a clipped value has no slope.
        assert_eq!(y.eps, 0.0);
    }

    #[test]
    fn near_one_series_are_accurate() {
        let mut worst_ln = 0.0f64;
        let mut worst_exp = 0.0f64;
        for i in -2000..=2000 {
            let x = 1.0 + i as f64 * 1e-5;
            worst_ln = worst_ln.max(((ln_ratio(x, 1.0) - x.ln()) / x.ln().abs().max(1e-300)).abs());
            let s = i as f64 * 4e-6;
            worst_exp = worst_exp.max((exp_near_zero(s) / s.exp() - 1.0).abs());
        }
        assert!(worst_ln < 1e-15, "ln {worst_ln:e}");
        assert!(worst_exp < 4e-16, "exp {worst_exp:e}");
        // Far from 1 they are the library functions.
        assert_eq!(ln_ratio(3.0, 1.0), 3f64.ln());
        assert_eq!(exp_near_zero(0.5), 0.5f64.exp());
        assert!((ln_ratio(1.001, 1.0) - 1.001f64.ln()).abs() < 1e-18);
        // Derivatives follow: d/dx ln x = 1/x.
        let d = ln_ratio(Dual64::new(1.001, 1.0), Dual64::from(1.0));
        assert!((d.eps - 1.0 / 1.001).abs() < 1e-15);
    }

    #[test]
    fn pow_of_zero_has_no_nan_slope() {
        let q = Dual64::new(1.5, 1.0);
        let z = pow_nonneg(Dual64::from(0.0), q);
        assert_eq!(z.re, 0.0);
        assert_eq!(z.eps, 0.0);
        assert!((pow_nonneg(4.0f64, 0.5) - 2.0).abs() < 1e-15);
    }
}
