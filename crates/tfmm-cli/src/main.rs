//! `tfmm`: simulate dynamic-weight AMM pools from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod alloc_meter;

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
    /// Run a pool over historic prices and write timeseries.csv and summary.json.
    Run {
        /// Config: a quantammsim case (JSON with `run_fingerprint` and `params`).
        config: PathBuf,
        /// Directory with one price file per token: <T>.csv, <T>.csv.gz, <T>.ticks or
        /// <T>_USD.parquet.
        #[arg(long)]
        data_dir: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Time the standard workloads (a year of minutes each) and print a table to compare
    /// machines.
    Bench {
        /// Timed runs per workload (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
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
        Command::Run {
            config,
            data_dir,
            out,
        } => {
            let config = tfmm_run::config::load(&config)?;
            let result = tfmm_run::run(&config, &data_dir)?;
            tfmm_run::output::write_all(&result, &out)?;
            println!(
                "{} {} minutes from {}: final value {:.2} (start {:.2}); wrote {}",
                config.rule,
                result.n_rows(),
                config.start,
                result.final_value(),
                result.trajectory.values[0],
                out.display()
            );
            Ok(())
        }
    }
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
