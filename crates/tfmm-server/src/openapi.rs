//! `GET /openapi.json`: the API described from the handlers' own annotations.

use axum::Json;
use utoipa::OpenApi;

use crate::api::{data, simulation, training};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tfmm HTTP API",
        description = "quantammsim-compatible simulation endpoints and asynchronous training jobs (docs/api.md)"
    ),
    paths(
        simulation::run_simulation,
        simulation::run_financial_analysis,
        data::load_historic_daily_prices,
        data::load_coin_comparison_data,
        data::products,
        data::filters,
        data::run_audit_log,
        data::test,
        data::health,
        training::run_training,
        training::retrieve_training,
        training::cancel_training,
        training::resume_training,
    ),
    components(schemas(crate::error::ErrorBody, crate::jobs::JobStatus, crate::jobs::Status))
)]
pub struct ApiDoc;

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
