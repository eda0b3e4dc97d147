//! `ringex loadgen`'s flags, and their checking into [`Options`]. Flags arrive as text and are
//! checked here rather than by clap's typed parsers, so every bad value is refused the same way:
//! one line naming the flag (exit 2).

use super::scenario;
use super::schedule::Phase;
use super::stats::Kind;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::path::PathBuf;

/// Connections one run may open.
pub const CONNECTIONS_MAX: usize = 512;

/// Accounts one run may create.
pub const ACCOUNTS_MAX: usize = 4096;

/// The flags of `ringex loadgen`.
#[derive(clap::Args, Clone, Debug)]
pub struct Flags {
    /// The server: a base URL (`http://host:port`) or `host:port`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub target: String,
    /// Offered rate, requests per second (with --find-peak: the first step's).
    #[arg(long, default_value = "1000", allow_hyphen_values = true)]
    pub rate: String,
    /// Seconds to run (with --find-peak: each step's length).
    #[arg(long, default_value = "10", allow_hyphen_values = true)]
    pub duration: String,
    /// Keep-alive connections, each with its own writer and reader.
    #[arg(long, default_value = "4", allow_hyphen_values = true)]
    pub connections: String,
    /// Weights of the request kinds: limit, cancel, market, cancel-all.
    #[arg(long, default_value = "limit=70,cancel=20,market=5,cancel-all=5")]
    pub mix: String,
    /// Markets to trade, comma-separated.
    #[arg(long, default_value = "SOL_USDC")]
    pub markets: String,
    /// Seed of the accounts and of the request mix (same seed, same requests).
    #[arg(long, default_value = "1", allow_hyphen_values = true)]
    pub seed: String,
    /// A name for the run, in the summary and the output files.
    #[arg(long, default_value = "loadgen")]
    pub label: String,
    /// The administrator's secret seed (base64) that funds the accounts; default: the
    /// development key.
    #[arg(long)]
    pub admin_secret: Option<String>,
    /// Accounts to create and fund (default: one per connection).
    #[arg(long, allow_hyphen_values = true)]
    pub accounts: Option<String>,
    /// A TOML file of phases (replaces --rate and --duration).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Step the offered rate up (x1.5 a step) until the answered rate falls below 95% of it,
    /// p99 passes --p99-bound-us, or over 1% are refused as late or limited; report the peak.
    #[arg(long)]
    pub find_peak: bool,
    /// The p99 acknowledgement latency (µs) --find-peak accepts.
    #[arg(long, default_value = "10000", allow_hyphen_values = true)]
    pub p99_bound_us: String,
    /// Subscribe to account.orderUpdate (event latency) and depth.<market> (sequence check).
    #[arg(long)]
    pub subscribe: bool,
    /// Directory for the `.hgrm` percentile files.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// X-Window of the signed requests, ms: how late a request may be and still run. The
    /// server's replay cache holds about rate × window entries.
    #[arg(long, default_value = "10000", allow_hyphen_values = true)]
    pub window_ms: String,
    /// Microseconds before each send time a writer stops sleeping and yields in a loop: sends
    /// closer to schedule, at the cost of CPU the server may need (0..=1000).
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    pub spin_us: String,
}

/// The weights of the request kinds, by [`Kind::position`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mix(pub [u32; Kind::ALL.len()]);

impl Mix {
    /// Parses `limit=70,cancel=20,…`; kinds not named weigh 0.
    pub fn parse(text: &str) -> Result<Mix, String> {
        let mut weights = [0u32; Kind::ALL.len()];
        for piece in text.split(',').filter(|piece| !piece.trim().is_empty()) {
            let (name, weight) = piece
                .split_once('=')
                .ok_or_else(|| format!("expected kind=weight, got `{piece}`"))?;
            let kind =
                Kind::ALL.into_iter().find(|kind| kind.name() == name.trim()).ok_or_else(|| {
                    format!("unknown kind `{name}` (limit, cancel, market, cancel-all, ping)")
                })?;
            weights[kind.position()] = weight
                .trim()
                .parse()
                .ok()
                .filter(|weight| *weight <= 1_000_000)
                .ok_or_else(|| format!("`{weight}` is not a weight 0..=1000000"))?;
        }
        if weights.iter().all(|weight| *weight == 0) {
            return Err("every weight is 0".into());
        }
        Ok(Mix(weights))
    }

    /// The kind a uniform draw `roll` in `0..total` falls on.
    pub fn kind(&self, roll: u64) -> Kind {
        let mut left = roll % self.total();
        for kind in Kind::ALL {
            let weight = u64::from(self.0[kind.position()]);
            if left < weight {
                return kind;
            }
            left -= weight;
        }
        unreachable!("roll below the total")
    }

    /// Sum of the weights.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|weight| u64::from(*weight)).sum()
    }

    /// As `--mix` spells it (`ping` only when weighed: it is not in the default mix).
    pub fn describe(&self) -> String {
        Kind::ALL
            .iter()
            .filter(|kind| **kind != Kind::Ping || self.0[kind.position()] > 0)
            .map(|kind| format!("{}={}", kind.name(), self.0[kind.position()]))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// How `--find-peak` searches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeakSearch {
    /// The p99 acknowledgement latency a step may have and still pass, µs.
    pub p99_bound_us: f64,
    /// Each step offers this times the last one's rate.
    pub factor: f64,
    /// Steps at most.
    pub steps_max: usize,
}

/// A checked run description.
#[derive(Clone, Debug)]
pub struct Options {
    /// `host:port`.
    pub target: String,
    /// The run's phases (with --find-peak: the first step).
    pub phases: Vec<Phase>,
    /// Keep-alive connections.
    pub connections: usize,
    /// Request kinds' weights.
    pub mix: Mix,
    /// Market symbols.
    pub markets: Vec<String>,
    /// Seed of accounts and requests.
    pub seed: u64,
    /// The run's name.
    pub label: String,
    /// The administrator's secret seed.
    pub admin_seed: [u8; 32],
    /// Accounts to create.
    pub accounts: usize,
    /// `Some` with --find-peak.
    pub find_peak: Option<PeakSearch>,
    /// Whether to subscribe to streams.
    pub subscribe: bool,
    /// Where `.hgrm` files go.
    pub out: Option<PathBuf>,
    /// X-Window of signed requests, ms.
    pub window_ms: u64,
    /// Whether to draw a progress bar (a terminal is attached).
    pub progress: bool,
    /// µs before each send time that a writer yields instead of sleeping.
    pub spin_us: u64,
}

impl Options {
    /// Whether some phase is not recorded (a warm-up): the server counts what the client does not.
    pub fn has_warm_up(&self) -> bool {
        self.phases.iter().any(|phase| !phase.recorded)
    }
}

/// `--flag: reason`.
fn flag_error(flag: &str, reason: impl std::fmt::Display) -> String {
    format!("--{flag}: {reason}")
}

/// A number flag in `min..=max`.
fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    flag: &str,
    text: &str,
    min: T,
    max: T,
) -> Result<T, String> {
    match text.trim().parse::<T>() {
        Ok(value) if value >= min && value <= max => Ok(value),
        _ => Err(flag_error(flag, format!("expected a number in {min}..={max}, got `{text}`"))),
    }
}

/// `host:port` of a base URL or of `host:port`.
pub fn parse_target(text: &str) -> Result<String, String> {
    let rest = text.strip_prefix("http://").unwrap_or(text);
    if text.starts_with("https://") || text.starts_with("ws") {
        return Err(flag_error("target", "only http:// (plain HTTP/1.1) is spoken"));
    }
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| flag_error("target", format!("expected host:port, got `{text}`")))?;
    if host.is_empty() || host.contains('/') || port.parse::<u16>().map_or(true, |port| port == 0) {
        return Err(flag_error("target", format!("expected host:port, got `{text}`")));
    }
    Ok(rest.to_string())
}

impl Flags {
    /// Checks every flag; the error is one line naming the first bad one.
    pub fn options(&self) -> Result<Options, String> {
        let target = parse_target(&self.target)?;
        let duration_s = number("duration", &self.duration, 0.001, scenario::DURATION_S_MAX)?;
        let rate = number("rate", &self.rate, 0.001, scenario::RATE_PER_S_MAX)?;
        let connections = number("connections", &self.connections, 1, CONNECTIONS_MAX)?;
        let mix = Mix::parse(&self.mix).map_err(|error| flag_error("mix", error))?;
        let markets = self.markets()?;
        let seed = number("seed", &self.seed, 0, u64::MAX)?;
        if self.label.is_empty()
            || self.label.len() > 64
            || !self.label.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(flag_error("label", "expected 1..=64 of A-Z a-z 0-9 - _ ."));
        }
        let admin_seed = match &self.admin_secret {
            None => crate::verify::DEV_ADMIN_SEED,
            Some(text) => STANDARD
                .decode(text.trim())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| flag_error("admin-secret", "not a base64 32-byte seed"))?,
        };
        let accounts = match &self.accounts {
            None => connections.min(ACCOUNTS_MAX),
            Some(text) => number("accounts", text, 1, ACCOUNTS_MAX)?,
        };
        let p99_bound_us = number("p99-bound-us", &self.p99_bound_us, 1.0, 3.6e9)?;
        let window_ms = number("window-ms", &self.window_ms, 1000, 60_000)?;
        let spin_us = number("spin-us", &self.spin_us, 0, 1000)?;
        let phases = match &self.scenario {
            None => vec![Phase::steady(
                if self.find_peak { "step" } else { "steady" },
                rate,
                duration_s,
            )],
            Some(_) if self.find_peak => {
                return Err(flag_error("scenario", "cannot be combined with --find-peak"));
            }
            Some(path) => read_scenario(path)?,
        };
        let requests: u64 = phases.iter().map(Phase::count).sum();
        if requests >= u64::from(u32::MAX) {
            let flag = if self.scenario.is_some() { "scenario" } else { "duration" };
            return Err(flag_error(
                flag,
                format!("{requests} requests: more than clientIds (2^32)"),
            ));
        }
        let find_peak =
            self.find_peak.then_some(PeakSearch { p99_bound_us, factor: 1.5, steps_max: 24 });
        let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
        Ok(Options {
            target,
            phases,
            connections,
            mix,
            markets,
            seed,
            label: self.label.clone(),
            admin_seed,
            accounts,
            find_peak,
            subscribe: self.subscribe,
            out: self.out.clone(),
            window_ms,
            progress,
            spin_us,
        })
    }

    fn markets(&self) -> Result<Vec<String>, String> {
        let mut markets: Vec<String> = Vec::new();
        for symbol in self.markets.split(',').map(str::trim) {
            let valid = symbol.split_once('_').is_some_and(|(base, quote)| {
                !base.is_empty()
                    && !quote.is_empty()
                    && symbol.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if !valid || symbol.len() > 32 {
                return Err(flag_error(
                    "markets",
                    format!("`{symbol}` is not a BASE_QUOTE symbol"),
                ));
            }
            if !markets.iter().any(|known| known == symbol) {
                markets.push(symbol.to_string());
            }
        }
        Ok(markets)
    }
}

/// The phases of a scenario file; the error names the flag, the file and the key.
fn read_scenario(path: &std::path::Path) -> Result<Vec<Phase>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| flag_error("scenario", format!("{}: {error}", path.display())))?;
    scenario::parse(&text)
        .map_err(|error| flag_error("scenario", format!("{}: {error}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        flags: Flags,
    }

    fn options(arguments: &[&str]) -> Result<Options, String> {
        let command =
            Command::try_parse_from(std::iter::once("loadgen").chain(arguments.iter().copied()))
                .map_err(|error| error.to_string())?;
        command.flags.options()
    }

    #[test]
    fn the_defaults_make_a_steady_ten_second_run() {
        let options = options(&[]).unwrap();
        assert_eq!(options.target, "127.0.0.1:8080");
        assert_eq!(options.phases, [Phase::steady("steady", 1000.0, 10.0)]);
        assert_eq!((options.connections, options.accounts), (4, 4));
        assert_eq!(options.mix, Mix([70, 20, 5, 5, 0]));
        assert_eq!(options.markets, ["SOL_USDC"]);
        assert_eq!(options.admin_seed, crate::verify::DEV_ADMIN_SEED);
        assert_eq!(options.window_ms, 10_000);
        assert!(options.find_peak.is_none());
    }

    #[test]
    fn flags_are_taken_as_given() {
        let options = options(&[
            "--target",
            "http://localhost:9000/",
            "--rate",
            "250.5",
            "--duration",
            "2",
            "--connections",
            "3",
            "--mix",
            "limit=1, market=1",
            "--markets",
            "SOL_USDC,BTC_USDC",
            "--seed",
            "99",
            "--accounts",
            "7",
            "--find-peak",
            "--p99-bound-us",
            "500",
            "--admin-secret",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ])
        .unwrap();
        assert_eq!(options.target, "localhost:9000");
        assert_eq!(options.phases, [Phase::steady("step", 250.5, 2.0)]);
        assert_eq!(options.mix, Mix([1, 0, 1, 0, 0]));
        assert_eq!(options.markets, ["SOL_USDC", "BTC_USDC"]);
        assert_eq!((options.seed, options.accounts, options.connections), (99, 7, 3));
        assert_eq!(options.find_peak.unwrap().p99_bound_us, 500.0);
        assert_eq!(options.admin_seed[31], 31);
    }

    #[test]
    fn a_bad_flag_is_one_line_naming_it() {
        let dir = std::env::temp_dir().join(format!("ringex-loadgen-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let scenario = dir.join("bad.toml");
        std::fs::write(&scenario, "[[phases]]\nname = \"a\"\nrate = 0\nduration_s = 1\n").unwrap();
        let scenario = scenario.to_str().unwrap();
        let cases: &[(&[&str], &str)] = &[
            (&["--rate", "0"], "--rate: expected a number"),
            (&["--rate", "fast"], "--rate: expected a number"),
            (&["--duration", "-1"], "--duration: expected a number"),
            (&["--connections", "0"], "--connections: expected a number in 1..=512"),
            (&["--accounts", "5000"], "--accounts: expected a number in 1..=4096"),
            (&["--mix", "limit=70,swap=30"], "--mix: unknown kind `swap`"),
            (&["--mix", "limit"], "--mix: expected kind=weight"),
            (&["--mix", "limit=0"], "--mix: every weight is 0"),
            (&["--markets", "SOLUSDC"], "--markets: `SOLUSDC` is not"),
            (&["--target", "https://x:1"], "--target: only http://"),
            (&["--target", "localhost"], "--target: expected host:port"),
            (&["--target", "localhost:0"], "--target: expected host:port"),
            (&["--admin-secret", "abc"], "--admin-secret: not a base64 32-byte seed"),
            (&["--seed", "-3"], "--seed: expected a number"),
            (&["--label", "a b"], "--label: expected"),
            (&["--window-ms", "60001"], "--window-ms: expected a number in 1000..=60000"),
            (&["--spin-us", "2000"], "--spin-us: expected a number in 0..=1000"),
            (&["--rate", "1000000", "--duration", "86400"], "--duration: 86400000000 requests"),
            (&["--p99-bound-us", "0"], "--p99-bound-us: expected a number"),
            (&["--scenario", "/nonexistent/x.toml"], "--scenario: /nonexistent/x.toml: "),
            (&["--scenario", scenario], "--scenario: "),
            (&["--scenario", scenario, "--find-peak"], "--scenario: cannot be combined"),
        ];
        for (arguments, expected) in cases {
            let error = options(arguments).expect_err(&format!("{arguments:?}"));
            assert!(error.starts_with(expected), "{arguments:?}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        let error = options(&["--scenario", scenario]).unwrap_err();
        assert!(error.ends_with("bad.toml: phases[0].rate: must be positive"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_mix_deals_kinds_by_weight() {
        let mix = Mix::parse("limit=2,cancel=1,cancel-all=1").unwrap();
        let kinds: Vec<Kind> = (0..4).map(|roll| mix.kind(roll)).collect();
        assert_eq!(kinds, [Kind::Limit, Kind::Limit, Kind::Cancel, Kind::CancelAll]);
        assert_eq!(mix.describe(), "limit=2,cancel=1,market=0,cancel-all=1");
        let pings = Mix::parse("ping=1,limit=1").unwrap();
        assert_eq!((pings.kind(0), pings.kind(1)), (Kind::Limit, Kind::Ping));
        assert_eq!(pings.describe(), "limit=1,cancel=0,market=0,cancel-all=0,ping=1");
    }
}
