//! The `ringex` command line: `serve`, `replay`, `keygen`, `loadgen`, `floor`,
//! `latency-report`.
//!
//! Exit codes: 0 clean, 2 bad arguments or configuration (one line naming the problem), 1
//! anything else (a refused journal, an I/O failure).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Parser, Subcommand};
use ringex::alloc::RingexAllocator;
use ringex::config::Config;
use ringex::durability::Durability;
use ringex::net::stage::NetInOptions;
use ringex::netout::view::ViewLimits;
use ringex::pipeline::{LayoutMode, Server, ServerOptions, recover_with};
use ringex::ring::{WaitMode, parse_cores};
use ringex::sequencer::SequencerLimits;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[global_allocator]
static ALLOCATOR: RingexAllocator = RingexAllocator;

#[derive(Parser)]
#[command(name = "ringex", version, about = "Low-latency exchange engine, Backpack-compatible")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `ringex serve`'s flags.
#[derive(Args)]
struct ServeFlags {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Journal directory.
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// TOML configuration replacing the embedded default.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Verify threads (default: the cores the layout leaves, at least 1).
    #[arg(long)]
    verify_threads: Option<usize>,
    /// Which stages share a thread: auto, split (a thread per stage), fused (verify to
    /// net-out on one thread) or single (net-in too).
    #[arg(long, default_value = "auto")]
    layout: String,
    /// How stages wait: auto, busy-spin, yield or park.
    #[arg(long, default_value = "auto")]
    wait: String,
    /// Cores to pin stage threads to, in pipeline order (e.g. `0,1` or `0-5`).
    #[arg(long)]
    pin: Option<String>,
    /// sync (answer after fdatasync), async (answer at once) or none (no journal).
    #[arg(long, default_value = "sync")]
    durability: String,
    /// The administrator's public key (base64); default: the development key.
    #[arg(long)]
    admin_key: Option<String>,
    /// Turn every `[rate_limits]` limit off: for a load generator on this host, never for an
    /// open port.
    #[arg(long)]
    no_rate_limits: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the exchange.
    Serve(ServeFlags),
    /// Rebuild the state offline as a restart would (newest usable snapshot, then the journal)
    /// and print the records replayed, the sequence and the state hash.
    Replay {
        /// Journal directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// The configuration the journal was written with.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Ignore snapshots: replay the journal from record 1.
        #[arg(long)]
        from_scratch: bool,
    },
    /// Write a snapshot offline: the state after the journal's last record (or `--at-record`),
    /// from the newest usable snapshot at or before it and the journal.
    Snapshot {
        /// Journal directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// The configuration the journal was written with.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The journal record the snapshot covers (default: the last).
        #[arg(long)]
        at_record: Option<u64>,
    },
    /// Print a new ED25519 keypair (base64 seed and public key).
    Keygen,
    /// Drive a running server open loop with signed orders and measure it.
    Loadgen(ringex::loadgen::Flags),
    /// Measure this machine's floor: loopback round trip, one ED25519 verification, fdatasync.
    Floor(ringex::loadgen::floor::FloorFlags),
    /// Write a latency report from a directory of runs (`scripts/latency-report.sh` calls it).
    LatencyReport(ringex::loadgen::latency_report::ReportFlags),
    /// The fault suite's tools: crash-cycles, restart-time, journal-synth, reliability-report.
    #[command(flatten)]
    Crash(ringex::crash::Commands),
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

fn bad(message: String) -> ExitCode {
    eprintln!("ringex: {message}");
    ExitCode::from(2)
}

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store; net-in looks at the flag at least every 100 ms.
    ringex::net::stage::SIGNALLED.store(true, Ordering::Release);
}

fn options_from(config: Arc<Config>, data_dir: PathBuf) -> ServerOptions {
    let server = config.server;
    let rates = config.rate_limits;
    ServerOptions {
        listen: "127.0.0.1:8080".parse().unwrap(),
        data_dir,
        verify_threads: None,
        layout: LayoutMode::Auto,
        wait: WaitMode::Auto,
        pin: Vec::new(),
        durability: Durability::Sync,
        admin_key: ringex::verify::dev_admin_key(),
        net_in: NetInOptions {
            connections_max: server.connections_max as usize,
            connections_per_ip_max: server.connections_per_ip_max,
            ip_rate_per_s: rates.per_ip_per_second,
            ip_burst: rates.per_ip_burst,
            idle_timeout_ms: u64::from(server.idle_timeout_s) * 1000,
            ..NetInOptions::default()
        },
        sequencer: SequencerLimits {
            replay_entries_max: server.replay_entries_max as usize,
            key_rate_per_s: rates.per_key_per_second,
            key_burst: rates.per_key_burst,
            keys_max: 1 << 16,
            // Set from `[limits] accounts_max` when the pipeline starts.
            ..SequencerLimits::default()
        },
        view: ViewLimits {
            fills_max: server.fills_history_max,
            orders_max: server.orders_history_max,
            deposits_max: server.deposits_history_max,
            withdrawals_max: server.withdrawals_history_max,
            trades_per_market_max: server.trades_per_market_max,
        },
        segment_bytes_max: 64 << 20,
        clocks: ringex::clock::StageClocks::REAL,
        connection: ringex::connections::ConnectionOptions {
            ws_output_max_bytes: server.ws_output_max_kib as usize * 1024,
            ws_close_grace_ms: u64::from(server.ws_close_grace_s) * 1000,
            http_output_max_bytes: server.http_output_max_kib as usize * 1024,
            requests_in_flight_max: server.requests_in_flight_max,
            ..ringex::connections::ConnectionOptions::default()
        },
        config,
    }
}

fn serve(flags: ServeFlags) -> ExitCode {
    let ServeFlags {
        listen,
        data_dir,
        config,
        verify_threads,
        layout,
        wait,
        pin,
        durability,
        admin_key,
        no_rate_limits,
    } = flags;
    let config = match load_config(config.as_ref()) {
        Ok(mut config) => {
            if no_rate_limits {
                config.rate_limits = ringex::config::RateLimits::OFF;
            }
            Arc::new(config)
        }
        Err(error) => return bad(format!("bad configuration: {error}")),
    };
    let mut options = options_from(config, data_dir);
    options.listen = listen;
    if let Some(threads) = verify_threads {
        if threads == 0 || threads > 64 {
            return bad("--verify-threads: must be 1..=64".into());
        }
        options.verify_threads = Some(threads);
    }
    options.layout = match layout.parse::<LayoutMode>() {
        Ok(layout) => layout,
        Err(error) => return bad(format!("--layout: {error}")),
    };
    options.wait = match wait.parse::<WaitMode>() {
        Ok(mode) => mode,
        Err(error) => return bad(format!("--wait: {error}")),
    };
    if let Some(pin) = pin {
        options.pin = match parse_cores(&pin) {
            Ok(cores) => cores,
            Err(error) => return bad(format!("--pin: {error}")),
        };
    }
    options.durability = match Durability::parse(&durability) {
        Some(durability) => durability,
        None => return bad("--durability: expected sync, async or none".into()),
    };
    if let Some(key) = admin_key {
        options.admin_key = match ringex::verify::request::decode_key(key.as_bytes()) {
            Some(key) => key,
            None => return bad("--admin-key: not a base64 32-byte public key".into()),
        };
    }
    // A stage that panics would leave the others waiting on its rings while net-in keeps
    // accepting: end the process at once, naming the thread, so a supervisor restarts it and
    // the journal recovers what was acknowledged.
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let stage = thread.name().unwrap_or("unnamed thread");
        eprintln!("ringex: stage {stage} panicked: {info}; exiting");
        std::process::exit(1);
    }));
    if options.admin_key == ringex::verify::dev_admin_key() {
        // Its secret is in the README: anyone who reaches the port could mint, drain or freeze.
        if !listen.ip().to_canonical().is_loopback() {
            return bad(format!(
                "--listen {listen}: the development administrator key's secret is public; \
                 give --admin-key (see `ringex keygen`) to listen beyond loopback"
            ));
        }
        eprintln!(
            "ringex: warning: the administrator is the development key, whose secret is public \
             (README); give --admin-key for anything but a test"
        );
    }
    // Before the journal is replayed (which may take long): a SIGTERM or SIGINT from here on stops
    // the server cleanly — replay finishes, then net-in sees the flag at once and drains — instead
    // of killing the process with the default action.
    // SAFETY: installing an async-signal-safe handler (one atomic store).
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    // Before any connection: the descriptors the connections need (fewer connections if the
    // hard limit cannot give them; `net/descriptors.rs`).
    let wanted = options.net_in.connections_max;
    match ringex::net::descriptors::fit_connections(wanted) {
        Ok(limit) => {
            if let Some(warning) = limit.warning(wanted) {
                eprintln!("ringex: {warning}");
            }
            options.net_in.connections_max = limit.connections_max;
        }
        Err(error) => eprintln!("ringex: warning: cannot raise the descriptor limit: {error}"),
    }
    if options.durability != Durability::None {
        eprintln!("ringex: replaying the journal in {}", options.data_dir.display());
    }
    let server = match Server::start(options) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("ringex: cannot start: {error}");
            return ExitCode::from(1);
        }
    };
    if let Some(cut) = &server.tail_cut {
        eprintln!("ringex: journal: cut a torn tail: {cut}");
    }
    eprintln!("ringex: {}", server.placement.describe());
    eprintln!("ringex: {}", server.verify_budget.describe());
    if ringex::net::stage::SIGNALLED.load(Ordering::Acquire) {
        // Signalled during start-up: net-in sees the flag on its first turn and drains.
        eprintln!("ringex: signalled during start-up: stopping");
    } else {
        println!("listening on http://{}", server.local_addr());
    }
    match server.join() {
        Ok(matcher) => {
            // What `ringex replay` of this data directory must print too.
            let hash = matcher.state_hash();
            eprintln!("ringex: stopped cleanly; state hash {hash:032x}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ringex: {error}");
            ExitCode::from(1)
        }
    }
}

fn replay(data_dir: PathBuf, config: Option<PathBuf>, from_scratch: bool) -> ExitCode {
    let config = match load_config(config.as_ref()) {
        Ok(config) => Arc::new(config),
        Err(error) => return bad(format!("bad configuration: {error}")),
    };
    if !data_dir.is_dir() {
        return bad(format!("--data-dir: {} is not a directory", data_dir.display()));
    }
    let options = options_from(config, data_dir);
    match recover_with(&options, from_scratch) {
        Ok(state) => {
            if let Some(cut) = &state.tail_cut {
                eprintln!("ringex: journal: cut a torn tail: {cut}");
            }
            // stdout is the result, the same with or without a snapshot; how it was reached
            // (which snapshot, how many records replayed after it) went to stderr.
            println!("records {}", state.last_record);
            println!("sequence {}", state.matcher.last_sequence().0);
            println!("state hash {:032x}", state.matcher.state_hash());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ringex: {error}");
            ExitCode::from(1)
        }
    }
}

fn snapshot(data_dir: PathBuf, config: Option<PathBuf>, at_record: Option<u64>) -> ExitCode {
    use ringex::snapshot::{RebuildOptions, file};
    let config = match load_config(config.as_ref()) {
        Ok(config) => Arc::new(config),
        Err(error) => return bad(format!("bad configuration: {error}")),
    };
    if !data_dir.is_dir() {
        return bad(format!("--data-dir: {} is not a directory", data_dir.display()));
    }
    let options = options_from(config.clone(), data_dir.clone());
    let accounts_max = config.limits.accounts_max as usize;
    let rebuilt = ringex::snapshot::rebuild(&RebuildOptions {
        dir: &data_dir,
        config: &config,
        view: options.view,
        sequencer: SequencerLimits { accounts_max, ..options.sequencer },
        now_ms: ringex::clock::wall_ms(),
        from_scratch: false,
        through: at_record.map(ringex::types::SequenceNumber),
    });
    // The journal stays locked (by `rebuilt.recovered`) until the snapshot is written.
    let rebuilt = match rebuilt {
        Ok(rebuilt) => rebuilt,
        Err(error) => {
            eprintln!("ringex: {error}");
            return ExitCode::from(1);
        }
    };
    let engine = &rebuilt.engine;
    if engine.base.record.0 == 0 {
        return bad("the journal holds no record to snapshot".into());
    }
    match file::write(&data_dir, engine, config.state_fingerprint(), file::Fault::None) {
        Ok(written) => {
            println!("snapshot {}", written.path.display());
            println!("record {}", engine.base.record.0);
            println!("state hash {:032x}", engine.matcher.state_hash());
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!(
                "ringex: snapshot write failed: {}: {}",
                failure.path.display(),
                failure.error
            );
            ExitCode::from(1)
        }
    }
}

fn keygen() -> ExitCode {
    let mut seed = [0u8; 32];
    if let Err(error) = std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut seed))
    {
        eprintln!("ringex: /dev/urandom: {error}");
        return ExitCode::from(1);
    }
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    println!("secret {}", STANDARD.encode(seed));
    println!("public {}", STANDARD.encode(signing.verifying_key().as_bytes()));
    ExitCode::SUCCESS
}

fn loadgen(flags: &ringex::loadgen::Flags) -> ExitCode {
    let options = match flags.options() {
        Ok(options) => options,
        Err(line) => return bad(line),
    };
    match ringex::loadgen::run(&options) {
        Ok(report) => {
            print!("{}", report.render());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ringex loadgen: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn floor(flags: &ringex::loadgen::floor::FloorFlags) -> ExitCode {
    use ringex::loadgen::floor;
    finish("floor", floor::run(flags).map(|measured| print!("{}", floor::render(&measured))))
}

/// Exit 0, or the error's line and code.
fn finish(command: &str, result: Result<(), ringex::loadgen::LoadgenError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringex {command}: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help, --version: clap's text as it is.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // A bad argument: one line naming it, like every other refusal (exit 2).
            let text = error.render().to_string();
            let line = text.lines().next().unwrap_or("bad arguments");
            return bad(line.trim_start_matches("error: ").to_string());
        }
    };
    match cli.command {
        Command::Serve(flags) => serve(flags),
        Command::Replay { data_dir, config, from_scratch } => {
            replay(data_dir, config, from_scratch)
        }
        Command::Snapshot { data_dir, config, at_record } => snapshot(data_dir, config, at_record),
        Command::Keygen => keygen(),
        Command::Loadgen(flags) => loadgen(&flags),
        Command::Floor(flags) => floor(&flags),
        Command::LatencyReport(flags) => finish(
            "latency-report",
            ringex::loadgen::latency_report::run(&flags).map(|text| {
                print!("{text}");
            }),
        ),
        Command::Crash(command) => ringex::crash::run(command),
    }
}
