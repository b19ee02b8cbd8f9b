//! HODL: the deposit, held. The benchmark every pool is measured against.

use super::{MarketStep, Pool, deposit};
use crate::scalar::{Scalar, cst};

#[derive(Clone, Debug)]
pub struct Hodl<S> {
    initial_value: f64,
    reserves: Vec<S>,
}

impl<S: Scalar> Hodl<S> {
    pub fn new(n_assets: usize, initial_value: f64) -> Self {
        Self {
            initial_value,
            reserves: vec![cst(0.0); n_assets],
        }
    }
}

impl<S: Scalar> Pool<S> for Hodl<S> {
    fn n_assets(&self) -> usize {
        self.reserves.len()
    }

    fn init(&mut self, weights: &[S], market: &MarketStep<'_>) {
        deposit(
            weights,
            market.prices,
            self.initial_value,
            &mut self.reserves,
        );
    }

    fn step(&mut self, _: &[S], _: &MarketStep<'_>) {}

    fn reserves(&self) -> &[S] {
        &self.reserves
    }

    fn follows_weights(&self) -> bool {
        false
    }
}
