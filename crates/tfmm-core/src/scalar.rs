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
    fn pow_of_zero_has_no_nan_slope() {
        let q = Dual64::new(1.5, 1.0);
        let z = pow_nonneg(Dual64::from(0.0), q);
        assert_eq!(z.re, 0.0);
        assert_eq!(z.eps, 0.0);
        assert!((pow_nonneg(4.0f64, 0.5) - 2.0).abs() < 1e-15);
    }
}
