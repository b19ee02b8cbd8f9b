//! L-BFGS (argmin, More-Thuente line search) in place of quantammsim's BFGS (spec runners
//! §5.5). The reference minimises `−F` with BFGS; here argmin minimises `−F` with limited
//! memory, and the result is reported for the maximised `F`.

use std::cell::{Cell, RefCell};

use argmin::core::{CostFunction, Error, Executor, Gradient, State, TerminationReason};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use super::OptimError;

/// L-BFGS settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsSettings {
    /// Most iterations (quantammsim's `bfgs_settings.maxiter`, 100).
    pub max_iters: u64,
    /// Converged once the gradient's Euclidean norm is below this (`bfgs_settings.tol`,
    /// 1e-6; scipy's BFGS measures the largest absolute component instead).
    pub tol: f64,
    /// Correction pairs kept (10).
    pub memory: usize,
}

impl Default for LbfgsSettings {
    fn default() -> Self {
        LbfgsSettings {
            max_iters: 100,
            tol: 1e-6,
            memory: 10,
        }
    }
}

/// Outcome of an L-BFGS run.
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsResult {
    /// The best point found and its objective (maximised).
    pub x: Vec<f64>,
    pub objective: f64,
    /// Iterations run.
    pub iterations: u64,
    /// Whether the gradient tolerance was met (quantammsim's `status_per_set` = 0).
    pub converged: bool,
    /// Why the run ended, in words (e.g. the iteration limit, or a line search that could
    /// make no progress).
    pub termination: String,
    /// Calls of the objective closure.
    pub evaluations: usize,
}

/// Maximises `f` (value and gradient from one call) from `x0` with memory 10.
pub fn lbfgs_maximise(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    x0: Vec<f64>,
    max_iters: u64,
    tol: f64,
) -> Result<LbfgsResult, OptimError> {
    lbfgs_maximise_with(
        f,
        x0,
        &LbfgsSettings {
            max_iters,
            tol,
            ..LbfgsSettings::default()
        },
    )
}

/// Maximises `f` from `x0` with explicit settings.
///
/// A non-finite objective or gradient at `x0` is an error. Later non-finite values count as
/// a failed line-search trial: the run ends there and reports the best point seen.
pub fn lbfgs_maximise_with(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    x0: Vec<f64>,
    settings: &LbfgsSettings,
) -> Result<LbfgsResult, OptimError> {
    if x0.is_empty() {
        return Err(OptimError::setting(
            "x0",
            "[]",
            "the start point needs at least one dimension",
        ));
    }
    if !(settings.tol.is_finite() && settings.tol >= 0.0) {
        return Err(OptimError::setting(
            "tol",
            settings.tol,
            "must be a finite number >= 0",
        ));
    }
    if settings.memory == 0 {
        return Err(OptimError::setting("memory", 0, "must be >= 1"));
    }
    // Counted outside the problem: argmin drops the problem when a line search fails.
    let evaluations = Cell::new(0);
    let problem = Negated {
        f: &f,
        n: x0.len(),
        cache: RefCell::new(None),
        evaluations: &evaluations,
    };
    let (value, gradient) = problem
        .evaluate(&x0)
        .map_err(|e| OptimError::Lbfgs(format!("at the start point: {e}")))?;

    // No cost tolerance (argmin's default stops once the cost moves by less than machine
    // epsilon): like scipy's BFGS, only the gradient test, the iteration cap or a line search
    // that cannot progress end the run.
    let linesearch = MoreThuenteLineSearch::new();
    let solver = LBFGS::new(linesearch, settings.memory)
        .with_tolerance_grad(settings.tol)
        .and_then(|s| s.with_tolerance_cost(0.0))
        .map_err(|e| OptimError::Lbfgs(e.to_string()))?;
    let result = Executor::new(problem, solver)
        .configure(|state| {
            state
                .param(x0)
                .cost(value)
                .gradient(gradient)
                .max_iters(settings.max_iters)
        })
        .ctrlc(false)
        .timer(false)
        .run()
        .map_err(|e| OptimError::Lbfgs(e.to_string()))?;

    let state = result.state();
    let x = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| OptimError::Lbfgs("no best point recorded".to_string()))?;
    let reason = state.get_termination_reason();
    let converged = matches!(reason, Some(TerminationReason::SolverConverged));
    let termination = match reason {
        Some(TerminationReason::SolverExit(why)) => why.clone(),
        Some(r) => r.text().to_string(),
        None => "not terminated".to_string(),
    };
    Ok(LbfgsResult {
        x,
        objective: -state.get_best_cost(),
        iterations: state.get_iter(),
        converged,
        termination,
        evaluations: evaluations.get(),
    })
}

/// The last point evaluated, with `−f` and `−∇f` there.
struct Evaluated {
    x: Vec<f64>,
    cost: f64,
    gradient: Vec<f64>,
}

/// `−f` for argmin, evaluating the closure once per point (cost and gradient share it).
struct Negated<'a, F> {
    f: &'a F,
    n: usize,
    cache: RefCell<Option<Evaluated>>,
    evaluations: &'a Cell<usize>,
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Negated<'_, F> {
    /// `(−f(x), −∇f(x))`, an error when either is not finite or the gradient has the wrong
    /// length.
    fn evaluate(&self, x: &[f64]) -> Result<(f64, Vec<f64>), Error> {
        if let Some(hit) = self.cache.borrow().as_ref()
            && hit.x.as_slice() == x
        {
            return Ok((hit.cost, hit.gradient.clone()));
        }
        let (value, gradient) = (self.f)(x);
        self.evaluations.set(self.evaluations.get() + 1);
        if gradient.len() != self.n {
            return Err(Error::msg(format!(
                "the objective returned a gradient of length {} for {} parameters",
                gradient.len(),
                self.n
            )));
        }
        if !value.is_finite() {
            return Err(Error::msg(format!("the objective is {value}")));
        }
        if let Some(i) = gradient.iter().position(|g| !g.is_finite()) {
            return Err(Error::msg(format!(
                "the gradient is {} at index {i}",
                gradient[i]
            )));
        }
        let cost = -value;
        let gradient: Vec<f64> = gradient.iter().map(|g| -g).collect();
        *self.cache.borrow_mut() = Some(Evaluated {
            x: x.to_vec(),
            cost,
            gradient: gradient.clone(),
        });
        Ok((cost, gradient))
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Negated<'_, F> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, param: &Vec<f64>) -> Result<f64, Error> {
        self.evaluate(param).map(|(c, _)| c)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Negated<'_, F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, param: &Vec<f64>) -> Result<Vec<f64>, Error> {
        self.evaluate(param).map(|(_, g)| g)
    }
}
