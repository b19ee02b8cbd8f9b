//! `tfmm`: simulate dynamic-weight AMM pools from the command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

mod alloc_meter;
mod progress;

#[global_allocator]
static ALLOCATOR: alloc_meter::Meter = alloc_meter::Meter;

#[derive(Parser)]
#[command(
    name = "tfmm",
    version,
    about = "Simulate, back-test and train dynamic-weight AMM pools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pool over historic prices: a summary table, timeseries.csv / .parquet,
    /// summary.json and plots. With no CONFIG, the default run (configs/default.toml:
    /// momentum on BTC/ETH/SOL, 2024-01-01 to 2024-06-20, on the embedded data).
    Run {
        /// A native config (TOML or JSON, docs/config.md) or a quantammsim case (JSON with
        /// `run_fingerprint` and `params`).
        config: Option<PathBuf>,
        /// Directory with one price file per token: <T>.csv, <T>.csv.gz, <T>.ticks or
        /// <T>_USD.parquet. Default: the config's data.dir, else the embedded data.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Output directory. Default: the config's output.dir, else `out`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the rule's estimator state per chunk to readouts.csv.
        #[arg(long)]
        readouts: bool,
        /// Skip the plots.
        #[arg(long)]
        no_plots: bool,
        /// Print nothing but errors: no progress bar, no summary table.
        #[arg(long, short)]
        quiet: bool,
    },
    /// The objective of a config's window and its exact gradient with respect to every
    /// parameter (internal names), as JSON: {"objective", "value", "gradient": {name: [...]}}.
    Grad {
        /// A native config or a quantammsim case (see `run`).
        config: PathBuf,
        /// Price files; default: the config's data.dir, else the embedded data.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// A quantammsim `return_val` name (docs/metrics.md).
        #[arg(long, default_value = "daily_log_sharpe")]
        objective: String,
        /// Also differentiate the initial weights (the reference stops their gradient).
        #[arg(long)]
        learn_initial_weights: bool,
    },
    /// Train a strategy's parameters (gradient ascent, CMA-ES or L-BFGS; the config's
    /// `[train]` table or a quantammsim case's optimisation_settings): writes results.json,
    /// best_config.json (runnable by `tfmm run`) and the training curve.
    Train {
        config: PathBuf,
        /// Price files; default: the config's data.dir, else the embedded data.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Output directory.
        #[arg(long, default_value = "out/train")]
        out: PathBuf,
        /// Start from the config's parameters even if OUT holds an earlier result to resume.
        #[arg(long)]
        fresh: bool,
        /// No progress bar and no summary table.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Walk-forward evaluation: train on one segment of window.start .. train.test_end, test
    /// on the next, n_cycles times; prints in- and out-of-sample metrics per cycle, walk-forward
    /// efficiency and a verdict, and writes walk.json.
    Walk {
        config: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value = "out/walk")]
        out: PathBuf,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Tune training settings (learning rate, iterations, window slack, validation share,
    /// maximum change) by CMA-ES, each trial scored by a walk-forward evaluation; writes
    /// tune.json.
    Tune {
        config: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value = "out/tune")]
        out: PathBuf,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Price data: what a folder (or the embedded data) holds.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// The HTTP API (docs/api.md): quantammsim's REST endpoints, asynchronous training
    /// jobs, GET /openapi.json. Stops on Ctrl-C.
    Serve {
        #[arg(long, default_value = "127.0.0.1:5001")]
        addr: std::net::SocketAddr,
        /// Price files (and DTB3.csv, stubs/); default: the embedded data.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Training jobs and their progress, kept across restarts.
        #[arg(long, default_value = "jobs")]
        jobs_dir: PathBuf,
        /// Audit-log rows of POST /api/runAuditLog.
        #[arg(long, default_value = "audit_logs")]
        audit_dir: PathBuf,
        /// Allowed CORS origin (repeatable); default: any origin.
        #[arg(long = "cors-origin")]
        cors_origins: Vec<String>,
        /// Largest request body, bytes.
        #[arg(long, default_value_t = 2 << 20)]
        max_body_bytes: usize,
        /// Longest simulation window, days.
        #[arg(long, default_value_t = 1095.0)]
        max_days: f64,
        /// Simulations computed at once; default: one per core.
        #[arg(long)]
        max_concurrent: Option<usize>,
        /// Simulations waiting for a slot before 503 + Retry-After.
        #[arg(long, default_value_t = 64)]
        max_queue: usize,
        /// Per-request time limit, seconds.
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
        /// Training jobs waiting to run before 503 + Retry-After.
        #[arg(long, default_value_t = 16)]
        max_training_queue: usize,
        /// Log one JSON object per line instead of text.
        #[arg(long)]
        log_json: bool,
    },
    /// Time the standard workloads (a year of minutes each) and print a table to compare
    /// machines.
    Bench {
        /// Timed runs per workload (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Tokens, date ranges, rows, missing minutes and content hashes of the price files in
    /// DIR, or of the embedded data without DIR.
    Info { dir: Option<PathBuf> },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the field, the value and the rule it broke.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Bench { runs } => bench(runs.max(1)),
        Command::Serve {
            addr,
            data_dir,
            jobs_dir,
            audit_dir,
            cors_origins,
            max_body_bytes,
            max_days,
            max_concurrent,
            max_queue,
            timeout_secs,
            max_training_queue,
            log_json,
        } => {
            tfmm_server::init_logging(log_json);
            let defaults = tfmm_server::Limits::default();
            let settings = tfmm_server::Settings {
                addr,
                data_dir,
                jobs_dir,
                audit_dir,
                cors_origins,
                limits: tfmm_server::Limits {
                    max_body_bytes,
                    max_simulation_days: max_days,
                    max_concurrent: max_concurrent.unwrap_or(defaults.max_concurrent),
                    max_queue,
                    timeout: std::time::Duration::from_secs(timeout_secs),
                    max_training_queue,
                },
            };
            Ok(tfmm_server::serve_blocking(settings)?)
        }
        Command::Data {
            command: DataCommand::Info { dir },
        } => data_info(dir.as_deref()),
        Command::Train {
            config,
            data_dir,
            out,
            fresh,
            quiet,
        } => train(&config, data_dir, &out, fresh, quiet),
        Command::Walk {
            config,
            data_dir,
            out,
            quiet,
        } => walk_forward(&config, data_dir, &out, quiet),
        Command::Tune {
            config,
            data_dir,
            out,
            quiet,
        } => tune(&config, data_dir, &out, quiet),
        Command::Grad {
            config,
            data_dir,
            objective,
            learn_initial_weights,
        } => {
            let mut config = tfmm_run::config::load(&config)?;
            if let Some(dir) = data_dir {
                config.data.dir = Some(dir);
            }
            let table = tfmm_data::load(tfmm_run::config_source(&config), &config.tokens)?;
            let problem = tfmm_train::Problem::new(&config, &table, &objective)?;
            let params = &problem.config.params;
            let layout = problem.layout(params, learn_initial_weights);
            let (value, gradient) = problem.value_and_gradient(params, &layout, problem.window)?;
            let out = serde_json::json!({
                "objective": objective,
                "value": value,
                "gradient": layout.to_json(params, &gradient),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        Command::Run {
            config,
            data_dir,
            out,
            readouts,
            no_plots,
            quiet,
        } => {
            let started = Instant::now();
            let mut config = match &config {
                Some(path) => tfmm_run::config::load(path)?,
                None => tfmm_run::config::default_config(),
            };
            if let Some(dir) = data_dir {
                config.data.dir = Some(dir);
            }
            config.output.readouts |= readouts;
            config.output.plots &= !no_plots;
            let out_dir = out
                .or_else(|| config.output.dir.clone())
                .unwrap_or_else(|| PathBuf::from("out"));

            let show = !quiet && std::io::stderr().is_terminal();
            let bar = progress::Bar::new(show, Duration::from_secs(1));
            let result = tfmm_run::run_with(
                &config,
                tfmm_run::config_source(&config),
                Some(&|done, total| bar.update(done, total)),
            )?;
            bar.finish();
            let simulated = started.elapsed();
            let report = tfmm_run::Report::new(&result);
            let written = tfmm_run::output::write_all(&result, &report, &out_dir)?;
            let has_readouts = result
                .readouts
                .as_ref()
                .is_some_and(|r| !r.columns.is_empty());
            if config.output.readouts && !has_readouts {
                eprintln!(
                    "note: {} reports no estimator state; readouts.csv not written",
                    config.rule
                );
            }
            if !quiet {
                print!("{}", report.table(&result));
                println!(
                    "  {:<w$}  {} files in {} ({:.2} s: {:.2} s simulating)",
                    "wrote",
                    written.len(),
                    out_dir.display(),
                    started.elapsed().as_secs_f64(),
                    simulated.as_secs_f64(),
                    w = "fee revenue (LP / protocol)".len()
                );
            }
            Ok(())
        }
    }
}

/// A progress bar over training steps: the objective, the selection metric, the rate.
struct TrainProgress {
    bar: Option<indicatif::ProgressBar>,
}

impl tfmm_train::Observer for TrainProgress {
    fn step(&mut self, record: &tfmm_train::StepRecord, best: &tfmm_train::Best, total: usize) {
        let Some(bar) = &self.bar else { return };
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len().max(1) as f64;
        bar.set_length(total as u64);
        bar.set_position(record.step as u64);
        bar.set_message(format!(
            "objective {:.4}  selection {:.4} (best {:.4} at {})  lr {:.2e}",
            mean(&record.objective),
            mean(&record.selection),
            best.score,
            best.step,
            record.learning_rate
        ));
    }
}

fn train(
    path: &Path,
    data_dir: Option<PathBuf>,
    out: &Path,
    fresh: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (training, table) = load_training(path, data_dir)?;
    let config = &training.config;
    let problem = tfmm_train::Problem::new(config, &table, &training.settings.objective)?;
    let start = if fresh {
        None
    } else {
        let layout = problem.layout(&config.params, training.settings.learn_initial_weights);
        tfmm_train::resume_sets(&out.join("results.json"), &training.settings, &layout)?
    };
    let resumed = start.is_some();
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(1);
        bar.set_style(
            indicatif::ProgressStyle::with_template("step {pos}/{len} [{bar:24}] {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let mut progress = TrainProgress { bar };
    let outcome = tfmm_train::train(&problem, &training.settings, start, &mut progress)?;
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let best = outcome.best_params(&problem);
    let written = tfmm_train::write_outputs(&training, &outcome, &best, out)?;
    if !quiet {
        let s = &training.settings;
        let metric = &s.early_stopping_metric;
        let first = &outcome.initial_metrics[0];
        let b = &outcome.best.metrics;
        println!(
            "  {} on {}: {} numbers tuned by {:?}{}, {} steps{}",
            config.rule,
            config.tokens.join("/"),
            outcome.layout.len(),
            s.method,
            if resumed { " (resumed)" } else { "" },
            outcome.steps_taken,
            if outcome.stopped_early {
                " (stopped early)"
            } else {
                ""
            }
        );
        println!(
            "  best: set {} at step {}",
            outcome.best.set, outcome.best.step
        );
        println!("  {:<28} {:>12} {:>12}", "", "start", "best");
        for (label, name) in [
            ("return", "return"),
            ("sharpe", "sharpe"),
            (metric.as_str(), metric.as_str()),
        ] {
            for (slice, get) in [
                (
                    "train",
                    tfmm_train::SliceMetrics::train as fn(&tfmm_train::SliceMetrics, &str) -> f64,
                ),
                ("validation", tfmm_train::SliceMetrics::validation),
                ("test", tfmm_train::SliceMetrics::test),
            ] {
                let (a, z) = (get(first, name), get(b, name));
                if a.is_nan() && z.is_nan() {
                    continue;
                }
                println!("  {:<28} {a:>12.5} {z:>12.5}", format!("{label} ({slice})"));
            }
        }
        println!(
            "  wrote {} files in {} ({:.1} s)",
            written.len(),
            out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Progress lines on stderr for walk-forward cycles and tuning trials.
struct Lines {
    quiet: bool,
}

impl tfmm_train::Observer for Lines {}

impl tfmm_train::walk::WalkObserver for Lines {
    fn cycle(&mut self, number: usize, of: usize) {
        if !self.quiet {
            eprintln!("cycle {number}/{of}: training");
        }
    }
}

impl tfmm_train::tune::TuneObserver for Lines {
    fn trial(
        &mut self,
        trial: &tfmm_train::tune::Trial,
        best: &tfmm_train::tune::Trial,
        of: usize,
    ) {
        if self.quiet {
            return;
        }
        let settings: Vec<String> = trial
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={}", short(*v)))
            .collect();
        eprintln!(
            "trial {}/{of}: {:.4} ({}){}; best {:.4} (trial {})",
            trial.number,
            trial.value,
            settings.join(", "),
            trial
                .error
                .as_ref()
                .map(|e| format!(" failed: {e}"))
                .unwrap_or_default(),
            best.value,
            best.number
        );
    }
}

/// A number in four significant figures.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-2 || v.abs() >= 1e5) {
        format!("{v:.3e}")
    } else {
        format!("{}", (v * 1e4).round() / 1e4)
    }
}

fn load_training(
    path: &Path,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<(tfmm_train::TrainingConfig, tfmm_data::PriceTable)> {
    let mut training = tfmm_train::TrainingConfig::load(path)?;
    if let Some(dir) = data_dir {
        training.config.data.dir = Some(dir);
    }
    let config = &training.config;
    let table = tfmm_data::load(tfmm_run::config_source(config), &config.tokens)?;
    Ok((training, table))
}

fn write_json(dir: &Path, name: &str, value: &serde_json::Value) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value)? + "\n")?;
    Ok(path)
}

fn walk_forward(
    path: &Path,
    data_dir: Option<PathBuf>,
    out: &Path,
    quiet: bool,
) -> anyhow::Result<()> {
    let (training, table) = load_training(path, data_dir)?;
    let s = &training.settings;
    let result =
        tfmm_train::walk::walk(&training.config, &table, s, &s.walk, &mut Lines { quiet })?;
    let written = write_json(out, "walk.json", &result.to_json())?;
    if !quiet {
        let m = &s.walk.wfe_metric;
        println!(
            "  {:<6} {:<21} {:<21} {:>10} {:>10} {:>12} {:>8}",
            "cycle",
            "train from",
            "test to",
            format!("IS {m}"),
            format!("OOS {m}"),
            "fresh OOS",
            "WFE"
        );
        for c in &result.cycles {
            println!(
                "  {:<6} {:<21} {:<21} {:>10.4} {:>10.4} {:>12.4} {:>8.3}",
                c.number,
                c.train_start,
                c.test_end,
                c.is(m),
                c.oos(m),
                c.fresh_oos(m),
                c.walk_forward_efficiency
            );
        }
        println!(
            "  mean OOS sharpe {:.4} (std {:.4}, worst {:.4}; fresh deposit {:.4}), mean WFE {:.3}, mean IS-OOS gap {:.4}",
            result.mean_oos_sharpe,
            result.std_oos_sharpe,
            result.worst_oos_sharpe,
            result.mean_fresh_oos_sharpe,
            result.mean_wfe,
            result.mean_is_oos_gap
        );
        println!(
            "  verdict: {} ({})",
            if result.is_effective {
                "effective"
            } else {
                "not effective"
            },
            result.reasons.join("; ")
        );
        println!("  wrote {}", written.display());
    }
    Ok(())
}

fn tune(path: &Path, data_dir: Option<PathBuf>, out: &Path, quiet: bool) -> anyhow::Result<()> {
    let (training, table) = load_training(path, data_dir)?;
    let s = &training.settings;
    let start = tfmm_data::parse_utc(&training.config.start)?;
    let end = tfmm_data::parse_utc(s.test_end.as_deref().unwrap_or(&training.config.end))?;
    let cycle_days =
        (end - start) as f64 / tfmm_data::MS_PER_DAY as f64 / (s.walk.n_cycles + 1) as f64;
    let space = tfmm_train::tune::default_space(s, cycle_days, s.tune_max_iterations);
    let result = tfmm_train::tune::tune(
        &training.config,
        &table,
        s,
        &space,
        &s.tune_objective,
        s.tune_trials,
        &mut Lines { quiet },
    )?;
    let written = write_json(out, "tune.json", &result.to_json())?;
    if !quiet {
        let best = &result.trials[result.best];
        println!(
            "  best {} = {:.4} (trial {} of {})",
            s.tune_objective,
            best.value,
            best.number,
            result.trials.len()
        );
        for (k, v) in &best.settings {
            println!("  {k:<20} {v}");
        }
        println!("  wrote {}", written.display());
    }
    Ok(())
}

fn data_info(dir: Option<&Path>) -> anyhow::Result<()> {
    let source = dir.map_or(tfmm_data::Source::Embedded, tfmm_data::Source::Dir);
    let listed = tfmm_data::inventory(source)?;
    if listed.is_empty() {
        anyhow::bail!(
            "{} holds no price files (<T>.ticks, <T>.csv.gz, <T>.csv or <T>_USD.parquet)",
            source.describe()
        );
    }
    println!(
        "{:<8} {:<19} {:<19} {:>9} {:>8} {:>5} {:<30} {:>12} {:>12}  {:<16} file",
        "token",
        "first (UTC)",
        "last (UTC)",
        "rows",
        "missing",
        "gaps",
        "longest gap",
        "min close",
        "max close",
        "sha256"
    );
    let mut files = vec![];
    for (token, found) in &listed {
        let f = match found {
            Ok(f) => f,
            Err(e) => {
                println!("{token:<8} unreadable: {e}");
                continue;
            }
        };
        files.push(f);
        let longest = f.longest_gap.map_or("-".to_string(), |(start, len)| {
            format!("{len} min from {}", tfmm_data::format_utc(start))
        });
        println!(
            "{:<8} {:<19} {:<19} {:>9} {:>8} {:>5} {:<30} {:>12} {:>12}  {:<16} {}",
            f.token,
            tfmm_data::format_utc(f.first_ms),
            tfmm_data::format_utc(f.last_ms),
            f.rows,
            f.missing_minutes,
            f.gaps,
            longest,
            f.min_close,
            f.max_close,
            &f.sha256[..16],
            f.path.display()
        );
    }
    let first = files.iter().map(|f| f.first_ms).max().unwrap_or(0);
    let last = files.iter().map(|f| f.last_ms).min().unwrap_or(0);
    if files.is_empty() {
        anyhow::bail!(
            "none of the price files in {} can be read",
            source.describe()
        );
    }
    if first <= last {
        println!(
            "all tokens: {} .. {} ({:.1} days); missing minutes are forward-filled in runs",
            tfmm_data::format_utc(first),
            tfmm_data::format_utc(last),
            (last - first) as f64 / tfmm_data::MS_PER_DAY as f64
        );
    } else {
        println!("the tokens' ranges do not overlap: no run can use them all");
    }
    Ok(())
}

/// Median wall time, time per simulated minute and peak heap of each standard workload.
fn bench(runs: usize) -> anyhow::Result<()> {
    println!(
        "{:<40} {:>8} {:>6} {:>6} {:>11} {:>10} {:>10}",
        "workload", "minutes", "assets", "fees", "median ms", "ns/minute", "peak KB"
    );
    let row = |name: &str, minutes: usize, assets: usize, fees: f64, job: &mut dyn FnMut()| {
        let (median, peak) = measure(runs, job);
        println!(
            "{:<40} {:>8} {:>6} {:>6} {:>11.2} {:>10.1} {:>10.2}",
            name,
            minutes,
            assets,
            fees,
            median * 1e3,
            median * 1e9 / minutes as f64,
            peak as f64 / 1e3,
        );
    };
    for workload in tfmm_run::bench::standard() {
        let prices = workload.prices();
        row(
            workload.name,
            workload.minutes,
            workload.n_assets,
            workload.fees,
            &mut || {
                std::hint::black_box(workload.run(&prices));
            },
        );
    }
    let problem = tfmm_train::bench::problem();
    let minutes = tfmm_train::bench::TrainWorkload::minutes(&problem);
    for workload in tfmm_train::bench::standard() {
        row(
            workload.name,
            minutes * workload.sets,
            3,
            0.003,
            &mut || {
                std::hint::black_box(workload.run(&problem));
            },
        );
    }
    println!("(median of {runs} runs; peak KB: heap used while running, beyond the price data)");
    Ok(())
}

/// Median seconds over `runs` calls of `job`, and the largest heap growth any call reached.
fn measure(runs: usize, job: &mut dyn FnMut()) -> (f64, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut peak = 0;
    for _ in 0..runs {
        alloc_meter::reset_peak();
        let base = alloc_meter::current();
        let started = std::time::Instant::now();
        job();
        times.push(started.elapsed().as_secs_f64());
        peak = peak.max(alloc_meter::peak() - base);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], peak)
}
