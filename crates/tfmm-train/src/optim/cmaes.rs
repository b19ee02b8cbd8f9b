//! CMA-ES as quantammsim's `cma_es` method runs it (spec runners §5.6), minimising.
//!
//! Full covariance, weighted recombination of the best half, cumulative step-size
//! adaptation, rank-one and rank-μ covariance updates, a fresh symmetric eigendecomposition
//! every generation, and an elitist record of the best point evaluated. Sampling draws from a
//! ChaCha stream seeded by [`CmaEsSettings::seed`], so a seed fixes every bit of a run.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StandardNormal};

use super::OptimError;

/// Settings of one CMA-ES run (the per-restart part of quantammsim's `cma_es_settings`).
#[derive(Clone, Debug, PartialEq)]
pub struct CmaEsSettings {
    /// λ; `None` ⇒ Hansen's default `4 + ⌊3 ln n⌋` ([`default_population_size`]). A memory
    /// budget, when the caller has one, is applied by passing
    /// `Some(max(default, budget / n_evaluation_points))`.
    pub population_size: Option<usize>,
    /// Initial step size σ0 (0.5).
    pub sigma0: f64,
    /// Stop when `σ·√(max eigenvalue of C) < tol` (1e-8).
    pub tol: f64,
    /// Most generations (300).
    pub n_generations: usize,
    /// Seed of the sampling stream (quantammsim: `initial_random_key + restart index`).
    pub seed: u64,
}

impl Default for CmaEsSettings {
    fn default() -> Self {
        CmaEsSettings {
            population_size: None,
            sigma0: 0.5,
            tol: 1e-8,
            n_generations: 300,
            seed: 0,
        }
    }
}

/// Hansen's default population size `4 + ⌊3 ln n⌋` (n ≥ 1).
pub fn default_population_size(n: usize) -> usize {
    4 + (3.0 * (n.max(1) as f64).ln()).floor() as usize
}

/// The strategy constants of §5.6 for dimension `n` and population `λ`.
#[derive(Clone, Debug, PartialEq)]
pub struct CmaEsConstants {
    pub n: usize,
    pub lambda: usize,
    /// μ = ⌊λ/2⌋ parents.
    pub mu: usize,
    /// Recombination weights `w_i ∝ ln(μ+½) − ln i`, summing to 1.
    pub weights: Vec<f64>,
    pub mu_eff: f64,
    pub c_sigma: f64,
    pub d_sigma: f64,
    pub c_c: f64,
    pub c_1: f64,
    pub c_mu: f64,
    /// E‖N(0, I)‖ ≈ √n (1 − 1/(4n) + 1/(21n²)).
    pub chi_n: f64,
}

impl CmaEsConstants {
    /// Constants for `n ≥ 1` dimensions and `λ ≥ 2`.
    pub fn new(n: usize, lambda: usize) -> CmaEsConstants {
        let mu = lambda / 2;
        let raw: Vec<f64> = (1..=mu)
            .map(|i| (mu as f64 + 0.5).ln() - (i as f64).ln())
            .collect();
        let total: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / total).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let nf = n as f64;
        let c_sigma = (mu_eff + 2.0) / (nf + mu_eff + 5.0);
        let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
        let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
        let c_1 = 2.0 / ((nf + 1.3).powi(2) + mu_eff);
        let c_mu =
            (1.0 - c_1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((nf + 2.0).powi(2) + mu_eff));
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        CmaEsConstants {
            n,
            lambda,
            mu,
            weights,
            mu_eff,
            c_sigma,
            d_sigma,
            c_c,
            c_1,
            c_mu,
            chi_n,
        }
    }
}

/// Why a run stopped (§5.6 stop rules, in the order they are checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `σ·√max(eig C) < tol`.
    Tolerance,
    /// `max(eig)/max(min(eig), 1e-30) > 1e14`.
    ConditionNumber,
    /// `generation ≥ n_generations`.
    MaxGenerations,
    /// σ or the covariance became non-finite (not in the reference, which would run on
    /// with NaN until `n_generations`).
    NonFinite,
}

/// Outcome of [`cma_es_minimise`].
#[derive(Clone, Debug, PartialEq)]
pub struct CmaEsResult {
    /// The best point evaluated (the start point with `+∞` if no evaluation was finite).
    pub best_x: Vec<f64>,
    pub best_f: f64,
    /// Generations run.
    pub generations: usize,
    /// Function evaluations made.
    pub evaluations: usize,
    pub stop_reason: StopReason,
    /// Final distribution mean and step size.
    pub mean: Vec<f64>,
    pub sigma: f64,
}

/// CMA-ES state with an ask/tell interface: [`CmaEs::ask`] samples a population,
/// the caller evaluates it (in parallel if it likes), [`CmaEs::tell`] updates the
/// distribution from the fitness values (smaller is better; NaN ranks worst).
#[derive(Clone, Debug)]
pub struct CmaEs {
    consts: CmaEsConstants,
    settings: CmaEsSettings,
    rng: ChaCha20Rng,
    mean: Vec<f64>,
    sigma: f64,
    /// Covariance, row-major n×n.
    cov: Vec<f64>,
    /// Eigenvectors of `cov` as columns (row-major n×n) and their eigenvalues (clamped).
    basis: Vec<f64>,
    eigenvalues: Vec<f64>,
    /// `C^{-1/2}`, row-major n×n.
    inv_sqrt: Vec<f64>,
    p_sigma: Vec<f64>,
    p_c: Vec<f64>,
    generation: usize,
    best_x: Vec<f64>,
    best_f: f64,
    /// The population handed out by the last `ask`, awaiting its `tell`.
    pending: Option<Vec<Vec<f64>>>,
    evaluations: usize,
}

impl CmaEs {
    /// A run starting at `mean` with σ = `sigma0` and C = I.
    pub fn new(mean: Vec<f64>, settings: &CmaEsSettings) -> Result<CmaEs, OptimError> {
        let n = mean.len();
        if n == 0 {
            return Err(OptimError::setting(
                "mean",
                "[]",
                "the start point needs at least one dimension",
            ));
        }
        if let Some(i) = mean.iter().position(|x| !x.is_finite()) {
            return Err(OptimError::setting(
                "mean",
                format!("{} at index {i}", mean[i]),
                "every coordinate of the start point must be finite",
            ));
        }
        if !(settings.sigma0.is_finite() && settings.sigma0 > 0.0) {
            return Err(OptimError::setting(
                "sigma0",
                settings.sigma0,
                "must be a finite number > 0",
            ));
        }
        if !(settings.tol >= 0.0) {
            return Err(OptimError::setting(
                "tol",
                settings.tol,
                "must be a number >= 0",
            ));
        }
        let lambda = match settings.population_size {
            Some(l) if l < 2 => {
                return Err(OptimError::setting(
                    "population_size",
                    l,
                    "must be >= 2 (μ = ⌊λ/2⌋ parents must be at least one)",
                ));
            }
            Some(l) => l,
            None => default_population_size(n),
        };
        let consts = CmaEsConstants::new(n, lambda);
        let mut identity = vec![0.0; n * n];
        for i in 0..n {
            identity[i * n + i] = 1.0;
        }
        Ok(CmaEs {
            consts,
            settings: settings.clone(),
            rng: ChaCha20Rng::seed_from_u64(settings.seed),
            best_x: mean.clone(),
            mean,
            sigma: settings.sigma0,
            cov: identity.clone(),
            basis: identity.clone(),
            eigenvalues: vec![1.0; n],
            inv_sqrt: identity,
            p_sigma: vec![0.0; n],
            p_c: vec![0.0; n],
            generation: 0,
            best_f: f64::INFINITY,
            pending: None,
            evaluations: 0,
        })
    }

    /// The strategy constants in use.
    pub fn constants(&self) -> &CmaEsConstants {
        &self.consts
    }

    /// λ.
    pub fn population_size(&self) -> usize {
        self.consts.lambda
    }

    /// Generations completed (`tell` calls).
    pub fn generation(&self) -> usize {
        self.generation
    }

    /// Fitness values received so far.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The conjugate evolution path p_σ.
    pub fn p_sigma(&self) -> &[f64] {
        &self.p_sigma
    }

    /// The evolution path p_c of the rank-one update.
    pub fn p_c(&self) -> &[f64] {
        &self.p_c
    }

    /// The covariance matrix, row-major n×n.
    pub fn covariance(&self) -> &[f64] {
        &self.cov
    }

    /// The elitist best: the best point evaluated so far and its fitness (the start point
    /// and `+∞` before any finite evaluation).
    pub fn best(&self) -> (&[f64], f64) {
        (&self.best_x, self.best_f)
    }

    /// Samples λ points `x = m + σ·B·diag(√eig)·z`, `z ~ N(0, I)`. Asking again before
    /// telling discards the earlier population and draws a new one.
    pub fn ask(&mut self) -> Vec<Vec<f64>> {
        let n = self.consts.n;
        let lambda = self.consts.lambda;
        let scales: Vec<f64> = self.eigenvalues.iter().map(|e| e.sqrt()).collect();
        let mut z = vec![0.0; n];
        let mut population = Vec::with_capacity(lambda);
        for _ in 0..lambda {
            for zk in z.iter_mut() {
                *zk = StandardNormal.sample(&mut self.rng);
            }
            let x: Vec<f64> = (0..n)
                .map(|i| {
                    let row = &self.basis[i * n..(i + 1) * n];
                    let y: f64 = (0..n).map(|k| row[k] * (scales[k] * z[k])).sum();
                    self.mean[i] + self.sigma * y
                })
                .collect();
            population.push(x);
        }
        self.pending = Some(population.clone());
        population
    }

    /// Updates the distribution from the fitness of the last asked population, in the same
    /// order. NaN fitness ranks after every number; ties keep the sampling order.
    pub fn tell(&mut self, fitness: &[f64]) -> Result<(), OptimError> {
        let Some(population) = self.pending.take() else {
            return Err(OptimError::Usage(
                "CMA-ES: tell() called without a population from ask()".to_string(),
            ));
        };
        if fitness.len() != population.len() {
            let got = fitness.len();
            self.pending = Some(population);
            return Err(OptimError::Usage(format!(
                "CMA-ES: tell() got {got} fitness values for a population of {}",
                self.consts.lambda
            )));
        }
        self.evaluations += fitness.len();
        let n = self.consts.n;
        let c = &self.consts;

        let mut order: Vec<usize> = (0..fitness.len()).collect();
        order.sort_by(|&a, &b| rank_key(fitness[a]).total_cmp(&rank_key(fitness[b])));

        let first = order[0];
        if fitness[first] < self.best_f {
            self.best_f = fitness[first];
            self.best_x.clone_from(&population[first]);
        }

        // Recombination: new mean and the parents' steps y_i = (x_{i:λ} − m)/σ.
        let old_mean = self.mean.clone();
        let sigma = self.sigma;
        let steps: Vec<Vec<f64>> = order[..c.mu]
            .iter()
            .map(|&k| {
                population[k]
                    .iter()
                    .zip(&old_mean)
                    .map(|(x, m)| (x - m) / sigma)
                    .collect()
            })
            .collect();
        let mut new_mean = vec![0.0; n];
        for (w, &k) in c.weights.iter().zip(&order[..c.mu]) {
            for (m, x) in new_mean.iter_mut().zip(&population[k]) {
                *m += w * x;
            }
        }
        let shift: Vec<f64> = new_mean
            .iter()
            .zip(&old_mean)
            .map(|(a, b)| (a - b) / sigma)
            .collect();

        // Evolution paths.
        let ps_coeff = (c.c_sigma * (2.0 - c.c_sigma) * c.mu_eff).sqrt();
        for i in 0..n {
            let row = &self.inv_sqrt[i * n..(i + 1) * n];
            let whitened: f64 = row.iter().zip(&shift).map(|(a, s)| a * s).sum();
            self.p_sigma[i] = (1.0 - c.c_sigma) * self.p_sigma[i] + ps_coeff * whitened;
        }
        let ps_norm = self.p_sigma.iter().map(|v| v * v).sum::<f64>().sqrt();
        let horizon = 1.0 - (1.0 - c.c_sigma).powf(2.0 * (self.generation as f64 + 1.0));
        let h_sigma = ps_norm < (1.4 + 2.0 / (n as f64 + 1.0)) * c.chi_n * horizon.sqrt();
        let h = if h_sigma { 1.0 } else { 0.0 };
        let pc_coeff = (c.c_c * (2.0 - c.c_c) * c.mu_eff).sqrt();
        for i in 0..n {
            self.p_c[i] = (1.0 - c.c_c) * self.p_c[i] + h * pc_coeff * shift[i];
        }

        // Covariance: decay, rank-one (with the stall correction when h_σ = 0), rank-μ.
        let keep = 1.0 - c.c_1 - c.c_mu + c.c_1 * (1.0 - h) * c.c_c * (2.0 - c.c_c);
        for i in 0..n {
            for j in 0..n {
                let rank_mu: f64 = c
                    .weights
                    .iter()
                    .zip(&steps)
                    .map(|(w, y)| w * y[i] * y[j])
                    .sum();
                let idx = i * n + j;
                self.cov[idx] =
                    keep * self.cov[idx] + c.c_1 * self.p_c[i] * self.p_c[j] + c.c_mu * rank_mu;
            }
        }

        // Step size.
        self.sigma *= ((c.c_sigma / c.d_sigma) * (ps_norm / c.chi_n - 1.0)).exp();
        self.mean = new_mean;

        // Symmetrise, decompose, clamp, and rebuild C^{-1/2}.
        for i in 0..n {
            for j in (i + 1)..n {
                let avg = 0.5 * (self.cov[i * n + j] + self.cov[j * n + i]);
                self.cov[i * n + j] = avg;
                self.cov[j * n + i] = avg;
            }
        }
        let mut work = self.cov.clone();
        symmetric_eigen(&mut work, n, &mut self.eigenvalues, &mut self.basis);
        for e in self.eigenvalues.iter_mut() {
            // `max` would turn a NaN into the floor; keep it visible to the stop rule.
            if *e < 1e-20 {
                *e = 1e-20;
            }
        }
        // C^{-1/2} = B diag(1/√λ) Bᵀ.
        let inv_root: Vec<f64> = self.eigenvalues.iter().map(|e| 1.0 / e.sqrt()).collect();
        for i in 0..n {
            let bi = &self.basis[i * n..(i + 1) * n];
            for j in 0..n {
                let bj = &self.basis[j * n..(j + 1) * n];
                self.inv_sqrt[i * n + j] = (0..n).map(|k| bi[k] * inv_root[k] * bj[k]).sum();
            }
        }
        self.generation += 1;
        Ok(())
    }

    /// The first stop rule met, if any: tolerance, conditioning, generation count.
    pub fn stop(&self) -> Option<StopReason> {
        let max_eig = self
            .eigenvalues
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let min_eig = self
            .eigenvalues
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let finite = self.sigma.is_finite()
            && self.eigenvalues.iter().all(|e| e.is_finite())
            && self.mean.iter().all(|m| m.is_finite());
        if !finite {
            return Some(StopReason::NonFinite);
        }
        if self.sigma * max_eig.sqrt() < self.settings.tol {
            return Some(StopReason::Tolerance);
        }
        if max_eig / min_eig.max(1e-30) > 1e14 {
            return Some(StopReason::ConditionNumber);
        }
        if self.generation >= self.settings.n_generations {
            return Some(StopReason::MaxGenerations);
        }
        None
    }
}

/// NaN sorts after +∞.
fn rank_key(f: f64) -> f64 {
    if f.is_nan() { f64::INFINITY } else { f }
}

/// Minimises `f` from `x0` by CMA-ES until a stop rule holds; evaluations run in sampling
/// order on this thread (use [`CmaEs`] directly to evaluate a population in parallel).
pub fn cma_es_minimise(
    mut f: impl FnMut(&[f64]) -> f64,
    x0: Vec<f64>,
    settings: &CmaEsSettings,
) -> Result<CmaEsResult, OptimError> {
    let mut es = CmaEs::new(x0, settings)?;
    let stop_reason = loop {
        if let Some(reason) = es.stop() {
            break reason;
        }
        let population = es.ask();
        let fitness: Vec<f64> = population.iter().map(|x| f(x)).collect();
        es.tell(&fitness)?;
    };
    let (best_x, best_f) = es.best();
    Ok(CmaEsResult {
        best_x: best_x.to_vec(),
        best_f,
        generations: es.generation(),
        evaluations: es.evaluations(),
        stop_reason,
        mean: es.mean().to_vec(),
        sigma: es.sigma(),
    })
}

/// Eigen-decomposition of the symmetric n×n matrix `a` (row-major, destroyed) by cyclic
/// Jacobi rotations: `values[k]` with eigenvector column `k` of `vectors` (row-major n×n).
/// Deterministic; stops when a sweep finds every off-diagonal entry negligible against its
/// diagonal pair, or after 100 sweeps (non-finite input ends there too).
fn symmetric_eigen(a: &mut [f64], n: usize, values: &mut [f64], vectors: &mut [f64]) {
    vectors.fill(0.0);
    for i in 0..n {
        vectors[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let mut rotated = false;
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = a[p * n + q];
                let app = a[p * n + p];
                let aqq = a[q * n + q];
                if apq == 0.0 || apq.abs() <= f64::EPSILON * 0.5 * (app.abs() * aqq.abs()).sqrt() {
                    a[p * n + q] = 0.0;
                    a[q * n + p] = 0.0;
                    continue;
                }
                rotated = true;
                // Rotation angle that zeroes a[p][q]: t = tan φ, the root of
                // t² + 2θt − 1 = 0 of smaller magnitude.
                let theta = (aqq - app) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                    sign / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let cos = 1.0 / (t * t + 1.0).sqrt();
                let sin = t * cos;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = cos * akp - sin * akq;
                    a[k * n + q] = sin * akp + cos * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = cos * apk - sin * aqk;
                    a[q * n + k] = sin * apk + cos * aqk;
                }
                a[p * n + q] = 0.0;
                a[q * n + p] = 0.0;
                for k in 0..n {
                    let vkp = vectors[k * n + p];
                    let vkq = vectors[k * n + q];
                    vectors[k * n + p] = cos * vkp - sin * vkq;
                    vectors[k * n + q] = sin * vkp + cos * vkq;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    for i in 0..n {
        values[i] = a[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_reconstructs_a_symmetric_matrix() {
        let n = 4;
        let m = [
            4.0, 1.0, -2.0, 0.5, //
            1.0, 3.0, 0.0, 1e-3, //
            -2.0, 0.0, 5.0, 2.0, //
            0.5, 1e-3, 2.0, 1e-6,
        ];
        let mut a = m.to_vec();
        let mut vals = vec![0.0; n];
        let mut vecs = vec![0.0; n * n];
        symmetric_eigen(&mut a, n, &mut vals, &mut vecs);
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n)
                    .map(|k| vecs[i * n + k] * vals[k] * vecs[j * n + k])
                    .sum();
                assert!((r - m[i * n + j]).abs() < 1e-12, "({i},{j}) {r}");
                let o: f64 = (0..n).map(|k| vecs[k * n + i] * vecs[k * n + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((o - want).abs() < 1e-12);
            }
        }
    }
}
