//! `tfmm`: simulate dynamic-weight AMM pools from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
