//! tfmm-core: the numerics of dynamic-weight AMM pools (QuantAMM's TFMM and friends).
//!
//! No I/O, threads or printing. Every kernel is generic over [`Scalar`], so one code path
//! gives values (`f64`) and exact forward-mode gradients (num-dual types).
//!
//! - [`params`]: memory-length conversions and named parameter arrays.
//! - [`estimators`]: EWMA, price-slope and return-variance estimators as step functions.
//! - [`rules`]: strategy rules, the [`rules::Rule`] trait and the rule registry.
//! - [`weights`]: guardrails, interpolation and the streaming [`weights::WeightEngine`].
//! - [`pools`]: reserves (zero-fee G3M so far) as step functions.
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
