//! Estimators over chunk prices: state plus a one-step update.
//!
//! All follow the reference's arithmetic: `G = 1/(1 - lambda)` is formed first and the EWMA
//! update divides by `G` (rather than multiplying by `1 - lambda`), which matters at 1e-15.

use crate::scalar::{Scalar, abs, cst};

fn memory_factor<S: Scalar>(lamb: S) -> S {
    (cst::<S>(1.0) - lamb).recip()
}

/// Exponentially weighted moving average per asset.
#[derive(Clone, Debug)]
pub struct Ewma<S> {
    g: Vec<S>,
    value: Vec<S>,
}

impl<S: Scalar> Ewma<S> {
    pub fn new(lamb: &[S]) -> Self {
        Self {
            g: lamb.iter().map(|&l| memory_factor(l)).collect(),
            value: vec![cst(0.0); lamb.len()],
        }
    }

    /// Starts the average at the first observation.
    pub fn init(&mut self, price: &[f64]) {
        for (v, &p) in self.value.iter_mut().zip(price) {
            *v = cst(p);
        }
    }

    pub fn update(&mut self, price: &[f64]) {
        for ((v, &g), &p) in self.value.iter_mut().zip(&self.g).zip(price) {
            *v += (cst::<S>(p) - *v) / g;
        }
    }

    pub fn value(&self) -> &[S] {
        &self.value
    }
}

/// The momentum family's trend estimator: a running, EWMA-weighted price slope `a`, reported
/// relative to the price level ("proportional gradient").
#[derive(Clone, Debug)]
pub struct GradientEstimator<S> {
    lamb: Vec<S>,
    g: Vec<S>,
    saturation: Vec<S>,
    ewma: Ewma<S>,
    /// A second, usually longer, EWMA for the denominator (`use_alt_lamb`).
    alt: Option<Ewma<S>>,
    running_a: Vec<S>,
    gradient: Vec<S>,
}

/// Below this the slope accumulator is reset to zero. An absolute threshold, as in the
/// reference, so a token priced near 1e-9 would never show a trend.
const RUNNING_A_FLOOR: f64 = 1e-10;

impl<S: Scalar> GradientEstimator<S> {
    /// `lamb`: decay per asset (already capped); `alt_lamb`: decay of the denominator EWMA.
    pub fn new(lamb: &[S], alt_lamb: Option<&[S]>) -> Self {
        let n = lamb.len();
        Self {
            lamb: lamb.to_vec(),
            g: lamb.iter().map(|&l| memory_factor(l)).collect(),
            saturation: lamb
                .iter()
                .map(|&l| {
                    let m = cst::<S>(1.0) - l;
                    l / (m * m * m)
                })
                .collect(),
            ewma: Ewma::new(lamb),
            alt: alt_lamb.map(Ewma::new),
            running_a: vec![cst(0.0); n],
            gradient: vec![cst(0.0); n],
        }
    }

    pub fn init(&mut self, price: &[f64]) {
        self.ewma.init(price);
        if let Some(alt) = &mut self.alt {
            alt.init(price);
        }
        self.running_a.iter_mut().for_each(|a| *a = cst(0.0));
        self.gradient.iter_mut().for_each(|g| *g = cst(0.0));
    }

    /// Consumes the next chunk price and returns the proportional gradient.
    pub fn update(&mut self, price: &[f64]) -> &[S] {
        self.ewma.update(price);
        if let Some(alt) = &mut self.alt {
            alt.update(price);
        }
        let ewma = self.ewma.value();
        let denominator = self.alt.as_ref().map_or(ewma, Ewma::value);
        for i in 0..self.lamb.len() {
            // The slope uses the freshly updated EWMA.
            let mut a =
                self.lamb[i] * self.running_a[i] + self.g[i] * (cst::<S>(price[i]) - ewma[i]);
            if abs(a).value() < RUNNING_A_FLOOR {
                a = cst(0.0);
            }
            self.running_a[i] = a;
            self.gradient[i] = a / (self.saturation[i] * denominator[i]);
        }
        &self.gradient
    }

    pub fn ewma(&self) -> &[S] {
        self.ewma.value()
    }

    pub fn running_a(&self) -> &[S] {
        &self.running_a
    }

    pub fn gradient(&self) -> &[S] {
        &self.gradient
    }
}

/// EWMA variance of chunk-to-chunk returns (the min-variance rule's risk estimate; diagonal
/// only, as in the reference).
#[derive(Clone, Debug)]
pub struct ReturnVariance<S> {
    lamb: Vec<S>,
    g: Vec<S>,
    last_price: Vec<f64>,
    mean: Vec<S>,
    acc: Vec<S>,
    variance: Vec<S>,
    /// Returns seen so far (the first one only seeds the mean).
    returns_seen: usize,
}

impl<S: Scalar> ReturnVariance<S> {
    pub fn new(lamb: &[S]) -> Self {
        let n = lamb.len();
        Self {
            lamb: lamb.to_vec(),
            g: lamb.iter().map(|&l| memory_factor(l)).collect(),
            last_price: vec![0.0; n],
            mean: vec![cst(0.0); n],
            acc: vec![cst(0.0); n],
            variance: vec![cst(1.0); n],
            returns_seen: 0,
        }
    }

    pub fn init(&mut self, price: &[f64]) {
        self.last_price.copy_from_slice(price);
        self.returns_seen = 0;
        self.variance.iter_mut().for_each(|v| *v = cst(1.0));
    }

    /// Consumes the next chunk price. Until a second return has been seen the variance is
    /// the reference's placeholder 1 (equal risk).
    pub fn update(&mut self, price: &[f64]) -> &[S] {
        for i in 0..price.len() {
            let r = cst::<S>((price[i] - self.last_price[i]) / self.last_price[i]);
            self.last_price[i] = price[i];
            if self.returns_seen == 0 {
                self.mean[i] = r;
                self.acc[i] = cst(0.0);
                continue;
            }
            let d_old = r - self.mean[i];
            self.mean[i] += d_old / self.g[i];
            let d_new = d_old * (cst::<S>(1.0) - self.g[i].recip());
            self.acc[i] = self.lamb[i] * self.acc[i] + d_old * d_new;
            self.variance[i] = self.acc[i] * (cst::<S>(1.0) - self.lamb[i]);
        }
        self.returns_seen += 1;
        &self.variance
    }

    pub fn variance(&self) -> &[S] {
        &self.variance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // spec weights.md appendix A.2: lambda 0.7, chunk prices per asset.
    #[test]
    fn gradient_matches_reference_rows() {
        let col0 = [1.0, 1.1, 1.05, 1.2, 1.3, 1.25];
        let col1 = [2.0, 1.9, 1.95, 2.0, 1.8, 1.85];
        let want = [
            [0.00873786407766991, -0.00456852791878173],
            [0.00781853281853283, -0.00412423625254583],
            [0.01882602285293035, -0.00123050435487138],
            [0.02925524512021156, -0.00906854075199233],
            [0.02761225278618825, -0.00984688412186975],
        ];
        let mut est = GradientEstimator::<f64>::new(&[0.7, 0.7], None);
        est.init(&[col0[0], col1[0]]);
        for t in 1..6 {
            let g = est.update(&[col0[t], col1[t]]);
            for a in 0..2 {
                assert!(
                    (g[a] - want[t - 1][a]).abs() < 1e-15,
                    "row {t} asset {a}: {}",
                    g[a]
                );
            }
        }
    }

    #[test]
    fn constant_prices_give_zero_gradient_and_zero_variance() {
        let mut est = GradientEstimator::new(&[0.9], Some(&[0.95][..]));
        est.init(&[5.0]);
        let mut var = ReturnVariance::new(&[0.9]);
        var.init(&[5.0]);
        for _ in 0..50 {
            assert_eq!(est.update(&[5.0])[0], 0.0);
            var.update(&[5.0]);
        }
        assert_eq!(var.variance()[0], 0.0);
    }

    #[test]
    fn variance_tracks_alternating_returns() {
        // Returns alternate +r, -r: the EWMA variance approaches r^2 for long memory.
        let lamb = 0.999;
        let mut var = ReturnVariance::new(&[lamb]);
        let mut p = 100.0;
        var.init(&[p]);
        let r: f64 = 0.01;
        for t in 0..20000 {
            p *= if t % 2 == 0 { 1.0 + r } else { 1.0 / (1.0 + r) };
            var.update(&[p]);
        }
        let v = var.variance()[0];
        assert!((v / (r * r) - 1.0).abs() < 0.02, "variance {v}");
    }
}
