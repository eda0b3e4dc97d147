//! The `ringex` command line: `serve`, `replay`, `keygen`.

use clap::{Parser, Subcommand};
use ringex::config::Config;
use ringex::matcher::Matcher;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "ringex", version, about = "Low-latency exchange engine, Backpack-compatible")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the exchange.
    Serve {
        /// TOML configuration replacing the embedded default.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    match path {
        None => Ok(Config::embedded_default()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            Config::from_toml(&text).map_err(|error| format!("{}: {error}", path.display()))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let config = match load_config(config.as_ref()) {
                Ok(config) => Arc::new(config),
                Err(error) => {
                    eprintln!("ringex: bad configuration: {error}");
                    return ExitCode::from(2);
                }
            };
            let matcher = Matcher::new(config.clone());
            println!(
                "engine ready: {} markets, {} assets, state hash {:032x}",
                config.markets.len(),
                config.assets.len(),
                matcher.state_hash()
            );
            println!("the network API is not served yet (see the open issues); exiting");
            ExitCode::SUCCESS
        }
    }
}
