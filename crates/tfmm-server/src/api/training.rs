//! Asynchronous training: submit, poll, cancel, resume.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult, Body, ErrorBody, parse_body};
use crate::jobs::valid_id;

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(format!("id = {id:?}: no such training job"))
}

fn checked(id: &str) -> ApiResult<()> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(unknown(id))
    }
}

/// Queues a training job and returns its id at once. The body is a training config as `tfmm
/// train` reads it (JSON): a native config with a `train` table, or a quantammsim case with
/// `optimisation_settings`.
#[utoipa::path(
    post,
    path = "/api/runTraining",
    request_body(content = Object, description = "A native config with `train`, or a quantammsim case"),
    responses(
        (status = 202, description = "Queued: {id, status, ...}", body = crate::jobs::JobStatus),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 422, description = "A config that cannot train", body = ErrorBody),
    )
)]
pub async fn run_training(
    State(state): State<Arc<AppState>>,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request: Value = parse_body(&body)?;
    if !request.is_object() {
        return Err(ApiError::field(
            "body",
            "not an object",
            "must be a training config object",
        ));
    }
    // Parsing a config reads no prices, but validating it can take a moment: off the runtime.
    let st = state.clone();
    let status = tokio::task::spawn_blocking(move || st.jobs.submit(request))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok((StatusCode::ACCEPTED, Json(json!(status))))
}

/// A job's progress; with its best parameters and metrics once done.
#[utoipa::path(
    get,
    path = "/api/retrieveTraining/{id}",
    params(("id" = String, Path, description = "The id runTraining returned")),
    responses(
        (status = 200, description = "{id, status, latestStep, totalSteps, latestObjective, ..., result?}", body = crate::jobs::JobStatus),
        (status = 404, description = "Unknown job id", body = ErrorBody),
    )
)]
pub async fn retrieve_training(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    checked(&id)?;
    let (status, result) = state.jobs.get(&id).ok_or_else(|| unknown(&id))?;
    let mut out = json!(status);
    if let Some(r) = result {
        out["result"] = r;
    }
    Ok(Json(out))
}

/// Cancels a queued or running job (it stops after its current step); deletes a finished one.
#[utoipa::path(
    delete,
    path = "/api/retrieveTraining/{id}",
    params(("id" = String, Path, description = "The id runTraining returned")),
    responses(
        (status = 200, description = "{id, cancelled} or {id, deleted}", body = Object),
        (status = 404, description = "Unknown job id", body = ErrorBody),
    )
)]
pub async fn cancel_training(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    checked(&id)?;
    state.jobs.cancel(&id).map(Json).ok_or_else(|| unknown(&id))
}

/// Queues an interrupted, cancelled or failed job again, starting from its best parameters.
#[utoipa::path(
    post,
    path = "/api/resumeTraining/{id}",
    params(("id" = String, Path, description = "The id runTraining returned")),
    responses(
        (status = 202, description = "Queued again", body = crate::jobs::JobStatus),
        (status = 404, description = "Unknown job id", body = ErrorBody),
        (status = 409, description = "The job is queued, running or done", body = ErrorBody),
    )
)]
pub async fn resume_training(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    checked(&id)?;
    let status = state.jobs.resume(&id)?.ok_or_else(|| unknown(&id))?;
    Ok((StatusCode::ACCEPTED, Json(json!(status))))
}
