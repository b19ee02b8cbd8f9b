//! Interpolation: the minute-by-minute path from one coarse position to the next.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::scalar::{Scalar, cst};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interpolation {
    /// Equal steps, then hold.
    #[default]
    Linear,
    /// The average of the linear and the geometric path, renormalised (Willetts & Harrington
    /// 2024): a cheap approximation of the arbitrage-cost-optimal path.
    ApproxOptimal,
}

impl FromStr for Interpolation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "linear" => Ok(Self::Linear),
            "approx_optimal" => Ok(Self::ApproxOptimal),
            _ => Err(Error::invalid(
                "weight_interpolation_method",
                format!("\"{s}\""),
                "must be \"linear\" or \"approx_optimal\"",
            )),
        }
    }
}

impl fmt::Display for Interpolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Linear => "linear",
            Self::ApproxOptimal => "approx_optimal",
        })
    }
}

impl Interpolation {
    /// Row `o` (`o < interpol_num - 1`) of the ramp from `start` moving `diff` per minute
    /// toward `end = start + diff * (interpol_num - 1)`. From `o = interpol_num - 1` on, the
    /// row is `end` itself (the caller holds it).
    #[inline]
    pub fn ramp_row<S: Scalar>(
        self,
        start: &[S],
        diff: &[S],
        end: &[S],
        o: usize,
        interpol_num: usize,
        out: &mut [S],
    ) {
        let j = o as f64;
        match self {
            Self::Linear => {
                for ((w, &a), &d) in out.iter_mut().zip(start).zip(diff) {
                    *w = d * j + a;
                }
            }
            Self::ApproxOptimal => approx_optimal_row(start, diff, end, j, interpol_num, out),
        }
    }
}

/// A row of the approximately optimal ramp: the linear and geometric legs, normalised. Kept
/// out of line so the linear ramp, a few multiply-adds per minute, inlines.
#[inline(never)]
fn approx_optimal_row<S: Scalar>(
    start: &[S],
    diff: &[S],
    end: &[S],
    j: f64,
    interpol_num: usize,
    out: &mut [S],
) {
    // The geometric leg uses j / interpol_num (not interpol_num - 1), so it does not quite
    // reach `end`: kept as in the reference.
    let exponent = j / interpol_num as f64;
    let mut total = cst::<S>(0.0);
    for (i, w) in out.iter_mut().enumerate() {
        let linear = diff[i] * j + start[i];
        let geometric = start[i] * (end[i] / start[i]).powf(exponent);
        *w = linear + geometric;
        total += *w;
    }
    out.iter_mut().for_each(|w| *w /= total);
}
