//! Optimisers over flat parameter vectors.
//!
//! They know nothing of pools: a training loop flattens one parameter set into a `&mut [f64]`
//! and hands over values and gradients. Three families, as quantammsim offers them:
//!
//! * [`Ascent`]: gradient ascent, either plain SGD or the Optax-style chain
//!   (global-norm clipping, Adam / AdamW, a learning-rate schedule, an optional
//!   reduce-on-plateau stage), configured by [`AscentSettings`] (spec runners §5.2).
//! * [`CmaEs`]: CMA-ES with ask/tell and the driver [`cma_es_minimise`] (§5.6), minimising.
//! * [`lbfgs_maximise`]: L-BFGS (argmin, More-Thuente line search) in place of the
//!   reference's BFGS (§5.5), maximising.
//!
//! Everything is deterministic: no global random state, CMA-ES draws from a ChaCha stream
//! seeded by its settings.

mod cmaes;
mod gradient;
mod lbfgs;

pub use cmaes::{
    CmaEs, CmaEsConstants, CmaEsResult, CmaEsSettings, StopReason, cma_es_minimise,
    default_population_size,
};
pub use gradient::{Ascent, AscentSettings, LrSchedule, Optimiser, global_norm};
pub use lbfgs::{LbfgsResult, LbfgsSettings, lbfgs_maximise, lbfgs_maximise_with};

/// A setting that breaks a rule, or an optimiser that cannot go on.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// A numeric or structural setting outside its allowed range.
    #[error("`{field}` = {value}: {rule}")]
    Setting {
        field: &'static str,
        value: String,
        rule: String,
    },
    /// A name that is not one of the allowed choices.
    #[error("`{field}` = {value:?} is not recognised; expected one of {allowed}")]
    UnknownName {
        field: &'static str,
        value: String,
        allowed: &'static str,
    },
    /// The optimiser was used out of order or given inputs of the wrong shape.
    #[error("{0}")]
    Usage(String),
    /// L-BFGS could not run (e.g. a non-finite objective at the start).
    #[error("L-BFGS: {0}")]
    Lbfgs(String),
}

impl OptimError {
    pub(crate) fn setting(
        field: &'static str,
        value: impl std::fmt::Display,
        rule: impl Into<String>,
    ) -> OptimError {
        OptimError::Setting {
            field,
            value: value.to_string(),
            rule: rule.into(),
        }
    }
}
