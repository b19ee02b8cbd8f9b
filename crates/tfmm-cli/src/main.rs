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
    /// Price data: what a folder (or the embedded data) holds.
    Data {
        #[command(subcommand)]
        command: DataCommand,
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
        Command::Data {
            command: DataCommand::Info { dir },
        } => data_info(dir.as_deref()),
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
    for workload in tfmm_run::bench::standard() {
        let prices = workload.prices();
        let mut times = Vec::with_capacity(runs);
        let mut peak = 0;
        for _ in 0..runs {
            alloc_meter::reset_peak();
            let base = alloc_meter::current();
            let started = std::time::Instant::now();
            workload.run(&prices);
            times.push(started.elapsed().as_secs_f64());
            peak = peak.max(alloc_meter::peak() - base);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{:<40} {:>8} {:>6} {:>6} {:>11.2} {:>10.1} {:>10.2}",
            workload.name,
            workload.minutes,
            workload.n_assets,
            workload.fees,
            median * 1e3,
            median * 1e9 / workload.minutes as f64,
            peak as f64 / 1e3,
        );
    }
    println!("(median of {runs} runs; peak KB: heap used while running, beyond the price data)");
    Ok(())
}
