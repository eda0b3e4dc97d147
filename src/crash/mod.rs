//! The fault suite's tools (issue 20 items 2, 3 and 7): `ringex crash-cycles`, `ringex
//! restart-time`, `ringex journal-synth` and `ringex reliability-report`.
//!
//! A tool beside the engine, like [`crate::loadgen`], whose pieces it borrows (signer,
//! workload, open-loop writer, setup) rather than copies: `crash-cycles` and `restart-time`
//! reach the server only through its socket and as child processes (`ringex serve` and `ringex
//! replay` of the same binary), so what they test is the binary an operator runs.
//! `journal-synth` is the exception that says so: it runs the matcher and the journal writer
//! in-process, to write in seconds the ten-million-command journal the network would take hours
//! to fill.
//!
//! # Layout
//!
//! 1. [`server`]: a `ringex serve` child on a free loopback port (ready at its `listening on`
//!    line), SIGKILL and SIGTERM, `ringex replay`'s record count and hash.
//! 2. [`config_file`]: the configuration the cycles run (history quotas raised, `[snapshot]`).
//! 3. [`drive`]: one cycle's load, every acknowledgement kept.
//! 4. [`check`]: after a restart, each acknowledged command found once, balances conserved.
//! 5. [`cycles`]: the cycles, one line each; [`summary`]: the run as JSON; [`snapshot`]: whether
//!    a kill landed during a snapshot, from the server's stderr.
//! 6. [`synth`] and [`restart`]: restart time against journal length.
//! 7. [`report`] and [`report_sections`]: `latency-reports/reliability.md`.

pub mod check;
pub mod config_file;
pub mod cycles;
pub mod drive;
pub mod report;
pub mod report_sections;
pub mod restart;
pub mod server;
pub mod snapshot;
pub mod summary;
pub mod synth;

pub use crate::loadgen::LoadgenError as Error;
use std::process::ExitCode;

/// The tools' subcommands, flattened into `ringex`'s.
#[derive(clap::Subcommand)]
pub enum Commands {
    /// SIGKILL `ringex serve` under load and restart it, N times on one journal; check that
    /// nothing acknowledged was lost or duplicated (exit 1 if anything was).
    CrashCycles(cycles::CycleFlags),
    /// Time `ringex serve` on a data directory from spawn to its first answer.
    RestartTime(restart::RestartFlags),
    /// (Development) Write a journal of N applied commands without the network.
    #[command(hide = true)]
    JournalSynth(synth::SynthFlags),
    /// Write latency-reports/reliability.md from a directory of fault-suite results.
    ReliabilityReport(report::ReportFlags),
}

/// Runs one subcommand: prints its result, or one line naming what went wrong (exit 2 for a
/// bad flag, 1 otherwise, and 1 for crash cycles that found anything).
pub fn run(command: Commands) -> ExitCode {
    let (name, result) = match command {
        Commands::CrashCycles(flags) => (
            "crash-cycles",
            cycles::run(&flags).map(|summary| {
                print!("{}", summary.render());
                summary.passed()
            }),
        ),
        Commands::RestartTime(flags) => (
            "restart-time",
            restart::run(&flags).map(|figures| {
                print!("{}", figures.render());
                true
            }),
        ),
        Commands::JournalSynth(flags) => (
            "journal-synth",
            synth::run(&flags).map(|written| {
                print!("{}", written.render());
                true
            }),
        ),
        Commands::ReliabilityReport(flags) => (
            "reliability-report",
            report::run(&flags).map(|printed| {
                print!("{printed}");
                true
            }),
        ),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("ringex {name}: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
