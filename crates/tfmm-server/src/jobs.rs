//! Training jobs: a FIFO worker thread, progress and results on disk so that a restarted
//! server still knows every job. Layout per job: `<jobs-dir>/<id>/request.json` (the config
//! as submitted), `status.json` (progress), `checkpoint.json` (best parameters so far, to
//! resume from) and `result.json` once done.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tfmm_train::{Best, Method, Observer, Problem, StepRecord, TrainingConfig};

use crate::lock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
    /// Was queued or running when its server stopped; `POST /api/resumeTraining/{id}`.
    Interrupted,
}

impl Status {
    fn finished(self) -> bool {
        !matches!(self, Status::Queued | Status::Running)
    }
}

/// What `status.json` holds and `GET /api/retrieveTraining/{id}` reports (plus the result).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    pub id: String,
    pub status: Status,
    /// Steps taken (gradient descent), or evaluation rounds.
    pub latest_step: usize,
    pub total_steps: usize,
    /// Mean training objective over the parameter sets at the latest step.
    pub latest_objective: Option<f64>,
    /// The selection score of the best set so far.
    pub best_score: Option<f64>,
    pub error: Option<String>,
    /// Times the job was resumed after an interruption or cancellation.
    pub resumed: u32,
    pub created_ms: i64,
    pub updated_ms: i64,
}

struct Job {
    status: Mutex<JobStatus>,
    cancel: AtomicBool,
}

pub struct Jobs {
    dir: PathBuf,
    data_dir: Option<PathBuf>,
    /// Queued jobs past which submissions are refused.
    max_queued: usize,
    jobs: Arc<Mutex<HashMap<String, Arc<Job>>>>,
    queue: Mutex<Option<Sender<String>>>,
    counter: AtomicU64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Writes through a temporary file, so a killed server never leaves half a status file.
fn write_json(path: &Path, value: &Value) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(value)? + "\n")?;
    std::fs::rename(&tmp, path)
}

/// Job ids are what the server made: anything else is refused before touching the disk.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl Jobs {
    /// Opens (or creates) the jobs folder; jobs that were queued or running are marked
    /// interrupted. Starts the worker thread.
    pub fn open(dir: &Path, data_dir: Option<PathBuf>, max_queued: usize) -> std::io::Result<Jobs> {
        std::fs::create_dir_all(dir)?;
        let mut jobs = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path().join("status.json");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(mut status) = serde_json::from_str::<JobStatus>(&text) else {
                tracing::warn!(file = %path.display(), "unreadable job status, skipped");
                continue;
            };
            if !status.status.finished() {
                status.status = Status::Interrupted;
                status.updated_ms = now_ms();
                write_json(&path, &json!(status))?;
            }
            jobs.insert(
                status.id.clone(),
                Arc::new(Job {
                    status: Mutex::new(status),
                    cancel: AtomicBool::new(false),
                }),
            );
        }
        let jobs = Jobs {
            dir: dir.to_path_buf(),
            data_dir,
            max_queued,
            jobs: Arc::new(Mutex::new(jobs)),
            queue: Mutex::new(None),
            counter: AtomicU64::new(0),
        };
        let (tx, rx) = channel::<String>();
        *lock(&jobs.queue) = Some(tx);
        let worker = Worker {
            dir: jobs.dir.clone(),
            data_dir: jobs.data_dir.clone(),
            jobs: jobs.jobs.clone(),
        };
        std::thread::Builder::new()
            .name("tfmm-training".into())
            .spawn(move || {
                // Ends when the server drops its sender.
                for id in rx {
                    worker.run(&id);
                }
            })?;
        Ok(jobs)
    }

    /// Stops taking new jobs; the worker ends after the one it is running.
    pub fn shut_down(&self) {
        lock(&self.queue).take();
    }

    fn job_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Checks the config can train (settings, tokens, window) and queues it.
    pub fn submit(&self, request: Value) -> Result<JobStatus, crate::error::ApiError> {
        let training = self.parse(&request)?;
        self.check_room()?;
        let id = format!(
            "{:x}-{:x}",
            now_ms(),
            self.counter.fetch_add(1, Ordering::Relaxed) + std::process::id() as u64 * 1000
        );
        let dir = self.job_dir(&id);
        let io = |e: std::io::Error| crate::error::ApiError::internal(format!("jobs folder: {e}"));
        std::fs::create_dir_all(&dir).map_err(io)?;
        write_json(&dir.join("request.json"), &request).map_err(io)?;
        let status = JobStatus {
            id: id.clone(),
            status: Status::Queued,
            latest_step: 0,
            total_steps: total_steps(&training),
            latest_objective: None,
            best_score: None,
            error: None,
            resumed: 0,
            created_ms: now_ms(),
            updated_ms: now_ms(),
        };
        write_json(&dir.join("status.json"), &json!(status)).map_err(io)?;
        lock(&self.jobs).insert(
            id.clone(),
            Arc::new(Job {
                status: Mutex::new(status.clone()),
                cancel: AtomicBool::new(false),
            }),
        );
        self.enqueue(&id)?;
        Ok(status)
    }

    /// Refuses a new or resumed job while `max_queued` wait already.
    fn check_room(&self) -> Result<(), crate::error::ApiError> {
        let queued = lock(&self.jobs)
            .values()
            .filter(|j| lock(&j.status).status == Status::Queued)
            .count();
        if queued >= self.max_queued {
            return Err(crate::error::ApiError::busy(
                format!(
                    "{queued} training jobs are queued (max_training_queue {}); retry later",
                    self.max_queued
                ),
                60,
            ));
        }
        Ok(())
    }

    fn enqueue(&self, id: &str) -> Result<(), crate::error::ApiError> {
        lock(&self.queue)
            .as_ref()
            .and_then(|q| q.send(id.to_string()).ok())
            .ok_or_else(|| crate::error::ApiError::busy("the server is shutting down", 5))
    }

    fn parse(&self, request: &Value) -> Result<TrainingConfig, crate::error::ApiError> {
        training_of(request, self.data_dir.as_deref())
    }

    /// The job's status, and its result when done.
    pub fn get(&self, id: &str) -> Option<(JobStatus, Option<Value>)> {
        let job = lock(&self.jobs).get(id)?.clone();
        let status = lock(&job.status).clone();
        let result = (status.status == Status::Done)
            .then(|| std::fs::read_to_string(self.job_dir(id).join("result.json")).ok())
            .flatten()
            .and_then(|t| serde_json::from_str(&t).ok());
        Some((status, result))
    }

    /// Cancels a queued or running job (kept, as cancelled); removes a finished one.
    pub fn cancel(&self, id: &str) -> Option<Value> {
        let job = lock(&self.jobs).get(id)?.clone();
        let mut status = lock(&job.status);
        if status.status.finished() {
            drop(status);
            lock(&self.jobs).remove(id);
            let _ = std::fs::remove_dir_all(self.job_dir(id));
            return Some(json!({"id": id, "deleted": true}));
        }
        job.cancel.store(true, Ordering::Release);
        // A running job notices at its next step; a queued one is skipped by the worker.
        if status.status == Status::Queued {
            status.status = Status::Cancelled;
            status.updated_ms = now_ms();
            let _ = write_json(&self.job_dir(id).join("status.json"), &json!(*status));
        }
        Some(json!({"id": id, "status": "cancelling", "cancelled": true}))
    }

    /// Queues an interrupted, cancelled or failed job again, from its best parameters so far.
    pub fn resume(&self, id: &str) -> Result<Option<JobStatus>, crate::error::ApiError> {
        let Some(job) = lock(&self.jobs).get(id).cloned() else {
            return Ok(None);
        };
        self.check_room()?;
        let snapshot = {
            let mut status = lock(&job.status);
            if !matches!(
                status.status,
                Status::Interrupted | Status::Cancelled | Status::Failed
            ) {
                return Err(crate::error::ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    format!(
                        "job {id} is {:?}: only interrupted, cancelled or failed jobs resume",
                        status.status
                    ),
                ));
            }
            status.status = Status::Queued;
            status.resumed += 1;
            status.error = None;
            status.updated_ms = now_ms();
            job.cancel.store(false, Ordering::Release);
            let _ = write_json(&self.job_dir(id).join("status.json"), &json!(*status));
            status.clone()
        };
        self.enqueue(id)?;
        Ok(Some(snapshot))
    }
}

/// A training request as the server runs it, when submitted and again when its worker
/// starts it: the server's price data, no file the request names, settings checked.
fn training_of(
    request: &Value,
    data_dir: Option<&Path>,
) -> Result<TrainingConfig, crate::error::ApiError> {
    let mut training = TrainingConfig::from_value(request.clone(), Path::new("."))?;
    if training.config.data.dir.is_some() {
        return Err(crate::error::ApiError::field(
            "data.dir",
            format!("{:?}", training.config.data.dir),
            "the server chooses the price data (tfmm serve --data-dir); remove it",
        ));
    }
    if let Some((role, path)) = training.config.market.first_file() {
        return Err(crate::error::ApiError::field(
            role,
            format!("{path:?}"),
            "the server reads no files a request names; give the series or trades inline",
        ));
    }
    training.config.data.dir = data_dir.map(Path::to_path_buf);
    training.settings.validate()?;
    Ok(training)
}

fn total_steps(training: &TrainingConfig) -> usize {
    match training.settings.method {
        Method::GradientDescent => training.settings.ascent.n_iterations + 1,
        _ => 1,
    }
}

struct Worker {
    dir: PathBuf,
    data_dir: Option<PathBuf>,
    jobs: Arc<Mutex<HashMap<String, Arc<Job>>>>,
}

/// Reports each step to the job's status (memory and disk) and asks whether to stop.
struct Progress<'a> {
    job: &'a Job,
    dir: &'a Path,
    tuned: Vec<String>,
}

impl Observer for Progress<'_> {
    fn step(&mut self, record: &StepRecord, best: &Best, total: usize) {
        let finite: Vec<f64> = record
            .objective
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        let mean = (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64);
        let snapshot = {
            let mut s = lock(&self.job.status);
            s.latest_step = record.step;
            s.total_steps = total;
            s.latest_objective = mean;
            s.best_score = best.score.is_finite().then_some(best.score);
            s.updated_ms = now_ms();
            s.clone()
        };
        // The form `tfmm_train::resume_sets` reads back.
        let checkpoint =
            json!({"tuned": self.tuned, "best": {"theta": best.theta, "step": best.step}});
        let _ = write_json(&self.dir.join("checkpoint.json"), &checkpoint);
        let _ = write_json(&self.dir.join("status.json"), &json!(snapshot));
    }

    fn should_stop(&self) -> bool {
        self.job.cancel.load(Ordering::Acquire)
    }
}

impl Worker {
    fn run(&self, id: &str) {
        let Some(job) = lock(&self.jobs).get(id).cloned() else {
            return;
        };
        let dir = self.dir.join(id);
        {
            let mut s = lock(&job.status);
            if s.status != Status::Queued || job.cancel.load(Ordering::Acquire) {
                return;
            }
            s.status = Status::Running;
            s.updated_ms = now_ms();
            let _ = write_json(&dir.join("status.json"), &json!(*s));
        }
        let outcome = self.train(&job, &dir);
        let mut s = lock(&job.status);
        match outcome {
            Ok(result) => {
                let cancelled = job.cancel.load(Ordering::Acquire);
                if !cancelled && let Err(e) = write_json(&dir.join("result.json"), &result) {
                    s.status = Status::Failed;
                    s.error = Some(format!("writing the result: {e}"));
                } else {
                    s.status = if cancelled {
                        Status::Cancelled
                    } else {
                        Status::Done
                    };
                }
            }
            Err(e) => {
                s.status = Status::Failed;
                s.error = Some(e);
            }
        }
        s.updated_ms = now_ms();
        let _ = write_json(&dir.join("status.json"), &json!(*s));
        tracing::info!(job = id, status = ?s.status, "training job ended");
    }

    fn train(&self, job: &Job, dir: &Path) -> Result<Value, String> {
        let text = std::fs::read_to_string(dir.join("request.json")).map_err(|e| e.to_string())?;
        let request: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let training = training_of(&request, self.data_dir.as_deref()).map_err(|e| e.message)?;
        let config = &training.config;
        let source = tfmm_run::config_source(config);
        let table = tfmm_data::load(source, &config.tokens).map_err(|e| e.to_string())?;
        let settings = &training.settings;
        let problem =
            Problem::new(config, &table, &settings.objective).map_err(|e| e.to_string())?;
        let layout = problem.layout(&config.params, settings.learn_initial_weights);
        let start = tfmm_train::resume_sets(&dir.join("checkpoint.json"), settings, &layout)
            .map_err(|e| e.to_string())?;
        let mut progress = Progress {
            job,
            dir,
            tuned: layout
                .entries
                .iter()
                .map(|e| format!("{}[{}]", e.name, e.index))
                .collect(),
        };
        let outcome = tfmm_train::train(&problem, settings, start, &mut progress)
            .map_err(|e| e.to_string())?;
        let best = outcome.best_params(&problem);
        let results = tfmm_train::files::results_json(&training, &outcome, &best);
        Ok(json!({
            "bestParams": tfmm_train::params_json(&best),
            "metrics": results["best"]["metrics"],
            "bestConfig": training.with_params(&best),
            "results": results,
        }))
    }
}
