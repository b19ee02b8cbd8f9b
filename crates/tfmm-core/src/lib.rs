//! tfmm-core: the numerics of dynamic-weight AMM pools (QuantAMM's TFMM and friends).
//!
//! No I/O, threads or printing. Every kernel is generic over [`Scalar`], so one code path
//! gives values (`f64`) and exact forward-mode gradients (num-dual types).
//!
//! - [`params`]: memory-length conversions and named parameter arrays.
//! - [`estimators`]: EWMA, price-slope and return-variance estimators as step functions.
//! - [`rules`]: strategy rules, the [`rules::Rule`] trait and the rule registry.
//! - [`weights`]: guardrails, interpolation and the streaming [`weights::WeightEngine`].
//! - [`pools`]: reserves of every pool type as step functions.
//! - [`simulate`]: drives prices through a weight engine and a pool.
//! - [`metrics`]: objectives and report metrics over a value path.

pub mod error;
pub mod estimators;
pub mod metrics;
pub mod params;
pub mod pools;
pub mod rules;
pub mod scalar;
pub mod simulate;
pub mod weights;

pub use error::{Error, Result};
pub use scalar::Scalar;

/// Copies a row of a handful of values: for the usual two to four tokens a call to `memcpy`
/// would cost more than the copy, once per simulated minute.
#[inline(always)]
pub(crate) fn copy_row<T: Copy>(dst: &mut [T], src: &[T]) {
    match (dst, src) {
        ([d0, d1], [s0, s1]) => (*d0, *d1) = (*s0, *s1),
        ([d0, d1, d2], [s0, s1, s2]) => (*d0, *d1, *d2) = (*s0, *s1, *s2),
        ([d0, d1, d2, d3], [s0, s1, s2, s3]) => (*d0, *d1, *d2, *d3) = (*s0, *s1, *s2, *s3),
        (dst, src) => dst.copy_from_slice(src),
    }
}
