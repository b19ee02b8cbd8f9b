//! tfmm-train: tuning a pool's parameters. Objectives and their exact gradients by forward-mode
//! dual numbers through the same simulation as a plain run, the optimisers quantammsim offers
//! (gradient descent with SGD / Adam / AdamW, CMA-ES, L-BFGS), window sampling, walk-forward
//! evaluation and hyper-parameter tuning.

pub mod bench;
pub mod files;
pub mod optim;
pub mod problem;
pub mod settings;
pub mod train;
pub mod tune;
pub mod walk;

pub use files::{TrainingConfig, params_json, resume_sets, write_outputs};
pub use problem::{Entry, Layout, Problem, Span};
pub use settings::{InitMethod, Method, SampleMethod, TrainSettings};
pub use train::{Best, Geometry, Observer, Outcome, SliceMetrics, StepRecord, evaluate, train};
