//! The endpoints, grouped as the reference groups them.

pub mod data;
pub mod simulation;
pub mod training;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/runSimulation", post(simulation::run_simulation))
        .route(
            "/api/runFinancialAnalysis",
            post(simulation::run_financial_analysis),
        )
        .route(
            "/api/loadHistoricDailyPrices",
            post(data::load_historic_daily_prices),
        )
        .route(
            "/api/loadCoinComparisonData",
            post(data::load_coin_comparison_data),
        )
        .route("/api/products", get(data::products))
        .route("/api/filters", get(data::filters))
        .route("/api/runAuditLog", post(data::run_audit_log))
        .route("/api/test", get(data::test))
        .route("/health", get(data::health))
        .route("/api/runTraining", post(training::run_training))
        .route(
            "/api/retrieveTraining/{id}",
            get(training::retrieve_training).delete(training::cancel_training),
        )
        .route("/api/resumeTraining/{id}", post(training::resume_training))
        .route("/openapi.json", get(crate::openapi::openapi_json))
}
