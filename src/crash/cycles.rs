//! `ringex crash-cycles`: SIGKILL `ringex serve` under load, replay, restart, and check that
//! nothing acknowledged was lost or applied twice and every unit of every asset is accounted for;
//! N times on one data directory, the journal growing across cycles (issue 20 item 3).
//!
//! One cycle: (the server of the previous cycle, or a fresh one) → two administrator transfers
//! and the load at `--rate`, every acknowledgement kept ([`drive`]) → SIGKILL a random
//! `--kill-after-ms` into the load → `ringex replay` → `ringex serve` again, timed from spawn to
//! its first answer, which is the administrator's state query whose hash must equal the
//! replay's → [`check`] → the restarted server carries the next cycle. After the last, SIGTERM:
//! exit 0, and the hash it prints is the last restart's.
//!
//! **The restart cutoff.** A restarted server refuses a signed POST/DELETE stamped up to a
//! second past the moment its recovery began (ARCHITECTURE, "What a restart does not restore"):
//! each cycle's requests are stamped from 1.1 s after the server's `listening on` line (its
//! recovery began before it), and verify accepts stamps up to a second ahead, so the cycle can
//! start as soon as the check is done and the signing, in practice, covers the rest.

use super::check::{self, Expect};
use super::drive::Load;
use super::server::{self, Served, Spawn};
use super::summary::{CrashSummary, CycleRecord};
use super::{Error, config_file, snapshot};
use crate::config::Config;
use crate::loadgen::options::Mix;
use crate::loadgen::setup::{self, wall_ms};
use crate::loadgen::sign::{self, Account, Value};
use crate::loadgen::stats::Percentiles;
use crate::loadgen::workload::Market;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Milliseconds after the server's `listening on` line from which its cutoff lets signed
/// POST/DELETE requests through (the cutoff is recovery's start + 1,001 ms).
const CUTOFF_AFTER_LISTENING_MS: u64 = 1_100;

/// The schedule runs this long past the kill, so the kill always lands under load.
const SCHEDULE_PAST_KILL: Duration = Duration::from_millis(300);

/// Each cycle the administrator deposits this and withdraws that, in whole quote units, to one
/// account in turn: the conservation check then covers both kinds of transfer.
const TRANSFERS: (u64, u64) = (7, 3);

/// `ringex crash-cycles`' flags.
#[derive(clap::Args, Clone, Debug)]
pub struct CycleFlags {
    /// Kill-and-restart cycles.
    #[arg(long, default_value_t = 10)]
    pub cycles: u32,
    /// Offered load, signed requests/s (default: half the ~20,000/s peak of the 2-core machine).
    #[arg(long, default_value_t = 10_000.0)]
    pub rate: f64,
    /// Keep-alive connections of the load.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Accounts trading (each checked after every restart).
    #[arg(long, default_value_t = 8)]
    pub accounts: usize,
    /// Seed of the kill delays and the requests.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `serve --durability`: sync (acknowledge after fdatasync) or async.
    #[arg(long, default_value = "sync")]
    pub durability: String,
    /// The kill delay's range, ms into each cycle's load, `MIN-MAX`.
    #[arg(long, default_value = "50-2000")]
    pub kill_after_ms: String,
    /// Weights of the request kinds (as `ringex loadgen --mix`).
    #[arg(long, default_value = "limit=70,cancel=20,market=5,cancel-all=5")]
    pub mix: String,
    /// Markets to trade, comma-separated.
    #[arg(long, default_value = "SOL_USDC")]
    pub markets: String,
    /// Passed to the server's configuration as `[snapshot] every_records` (only when given).
    #[arg(long)]
    pub snapshot_every_records: Option<u64>,
    /// Work directory: the journal in `data/`, the configuration `ringex.toml`. Default: a new
    /// one under the system's temporary directory, removed after a run that found nothing wrong.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Write the run as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seconds a start-up may take (a snapshot and the journal after it) before the run fails.
    #[arg(long, default_value_t = 600)]
    pub startup_timeout_s: u64,
}

/// The checked flags.
struct Plan {
    flags: CycleFlags,
    mix: Mix,
    markets: Vec<String>,
    kill_after_ms: (u64, u64),
    dir: PathBuf,
    temporary: bool,
}

fn usage(line: String) -> Error {
    Error::Usage(line)
}

impl Plan {
    fn of(flags: &CycleFlags) -> Result<Plan, Error> {
        if !(1..=1_000_000).contains(&flags.cycles) {
            return Err(usage("--cycles: 1..=1000000".into()));
        }
        if !(flags.rate >= 1.0 && flags.rate <= 1_000_000.0) {
            return Err(usage("--rate: 1..=1000000 requests/s".into()));
        }
        if !(1..=64).contains(&flags.connections) || !(1..=1000).contains(&flags.accounts) {
            return Err(usage("--connections: 1..=64, --accounts: 1..=1000".into()));
        }
        if !["sync", "async"].contains(&flags.durability.as_str()) {
            return Err(usage("--durability: sync or async (none keeps no journal)".into()));
        }
        let range = flags.kill_after_ms.split_once('-').and_then(|(low, high)| {
            Some((low.trim().parse::<u64>().ok()?, high.trim().parse::<u64>().ok()?))
        });
        let kill_after_ms = range
            .filter(|(low, high)| 1 <= *low && low <= high && *high <= 60_000)
            .ok_or_else(|| usage("--kill-after-ms: MIN-MAX, 1 <= MIN <= MAX <= 60000".into()))?;
        let mix = Mix::parse(&flags.mix).map_err(|error| usage(format!("--mix: {error}")))?;
        let markets: Vec<String> = flags.markets.split(',').map(|m| m.trim().to_string()).collect();
        let temporary = flags.dir.is_none();
        let dir = flags.dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("ringex-crash-{}", std::process::id()))
        });
        Ok(Plan { flags: flags.clone(), mix, markets, kill_after_ms, dir, temporary })
    }
}

/// What a cycle's load left: its acknowledgements and the killed server's stderr.
struct Killed {
    kill_after: Duration,
    acks: super::drive::Acks,
    stderr: Vec<String>,
}

/// The run's state between cycles.
struct Run {
    plan: Plan,
    spawn: Spawn,
    config: Config,
    admin: Account,
    accounts: Vec<Account>,
    markets: Vec<Market>,
    /// Per asset: deposited − withdrawn by this run, units.
    net_deposits: BTreeMap<String, u128>,
    client_id_base: u32,
    rng: u64,
    /// How long the last cycle's signing took.
    signing: Duration,
    /// The last snapshot the servers reported written (record number).
    last_snapshot_record: Option<u64>,
}

/// Runs the cycles; prints a line per cycle and the totals; writes `--out`.
pub fn run(flags: &CycleFlags) -> Result<CrashSummary, Error> {
    let started = Instant::now();
    let plan = Plan::of(flags)?;
    let data_dir = plan.dir.join("data");
    if std::fs::read_dir(&data_dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(usage(format!(
            "--dir: {} is not empty: the checks need a journal of this run's own",
            data_dir.display()
        )));
    }
    std::fs::create_dir_all(&data_dir)
        .map_err(|error| Error::Failed(format!("{}: {error}", data_dir.display())))?;
    let (config_path, config) =
        config_file::write(&plan.dir, flags.accounts, flags.snapshot_every_records)?;
    let binary = std::env::current_exe()
        .map_err(|error| Error::Failed(format!("cannot find this binary: {error}")))?;
    let spawn = Spawn {
        binary,
        data_dir,
        config: Some(config_path),
        durability: flags.durability.clone(),
        startup_timeout: Duration::from_secs(flags.startup_timeout_s),
    };
    let mut served = spawn.start()?;
    let mut run = Run::set_up(plan, spawn, config, &served)?;
    let mut summary = run.summary_header();
    for cycle in 1..=run.plan.flags.cycles {
        let (record, next) = run.cycle(cycle, served)?;
        println!("{}", record.line(run.plan.flags.cycles));
        summary.per_cycle.push(record);
        served = next;
    }
    let (code, lines) = served.terminate();
    let last_hash = summary.per_cycle.last().map(|cycle| cycle.restarted_hash.clone());
    let stopped_hash = lines
        .iter()
        .find_map(|line| line.strip_prefix("ringex: stopped cleanly; state hash "))
        .map(str::to_string);
    summary.final_exit_code = code;
    summary.final_hash_agrees = stopped_hash.is_some() && stopped_hash == last_hash;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.total();
    if let Some(out) = &run.plan.flags.out {
        let text = serde_json::to_string_pretty(&summary).expect("a summary serializes");
        std::fs::write(out, text + "\n")
            .map_err(|error| Error::Failed(format!("--out {}: {error}", out.display())))?;
    }
    if run.plan.temporary && summary.passed() {
        let _ = std::fs::remove_dir_all(&run.plan.dir);
    }
    Ok(summary)
}

impl Run {
    /// Learns the markets, derives and funds the accounts.
    fn set_up(plan: Plan, spawn: Spawn, config: Config, served: &Served) -> Result<Run, Error> {
        let target = served.address.as_str();
        let (markets, _) = setup::markets(target, &plan.markets)?;
        let accounts = setup::accounts(plan.flags.seed, plan.flags.accounts);
        let admin = Account::from_seed(crate::verify::DEV_ADMIN_SEED);
        setup::fund(target, &admin, &accounts, &markets)?;
        let mut net_deposits = BTreeMap::new();
        for (asset, whole) in setup::deposits(&markets) {
            let units = whole_units(&config, asset, whole)?;
            *net_deposits.entry(asset.to_string()).or_insert(0) += units * accounts.len() as u128;
        }
        let rng = plan.flags.seed ^ 0x5EED_C4A5_11CE_0000;
        Ok(Run {
            plan,
            spawn,
            config,
            admin,
            accounts,
            markets,
            net_deposits,
            client_id_base: 0,
            rng,
            signing: Duration::ZERO,
            last_snapshot_record: None,
        })
    }

    fn summary_header(&self) -> CrashSummary {
        let flags = &self.plan.flags;
        CrashSummary {
            command: crate::loadgen::command_line(),
            cycles: flags.cycles,
            rate_per_s: flags.rate,
            durability: flags.durability.clone(),
            connections: flags.connections,
            accounts: flags.accounts,
            mix: self.plan.mix.describe(),
            markets: self.plan.markets.clone(),
            seed: flags.seed,
            kill_after_ms: [self.plan.kill_after_ms.0, self.plan.kill_after_ms.1],
            snapshot_every_records: flags.snapshot_every_records,
            ..CrashSummary::default()
        }
    }

    /// The next kill delay, uniform in the range (splitmix64).
    fn kill_after(&mut self) -> Duration {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let (low, high) = self.plan.kill_after_ms;
        Duration::from_millis(low + (z ^ (z >> 31)) % (high - low + 1))
    }

    /// One cycle on `served`; returns its record and the restarted server.
    fn cycle(&mut self, cycle: u32, served: Served) -> Result<(CycleRecord, Served), Error> {
        let killed = self.load_until_killed(cycle, served)?;
        let replayed = server::replay(&self.spawn)?;
        let restarted = self.spawn.start()?;
        let record = self.judge(cycle, killed, replayed, &restarted)?;
        Ok((record, restarted))
    }

    /// The transfers and the load on `served`, killed a random delay into it.
    fn load_until_killed(&mut self, cycle: u32, served: Served) -> Result<Killed, Error> {
        let kill_after = self.kill_after();
        let flags = &self.plan.flags;
        let target = served.address.clone();
        let load = Load {
            target: &target,
            accounts: &self.accounts,
            markets: &self.markets,
            mix: self.plan.mix,
            connections: flags.connections,
            rate_per_s: flags.rate,
            duration: kill_after + SCHEDULE_PAST_KILL,
            seed: flags.seed.wrapping_mul(1_000_003).wrapping_add(u64::from(cycle)),
            client_id_base: self.client_id_base,
        };
        self.client_id_base = u32::try_from(u64::from(self.client_id_base) + load.count())
            .map_err(|_| Error::Failed("the run has used every clientId (2^32)".into()))?;
        // Stamped after the cutoff, and after the signing (estimated from the last cycle's).
        let earliest_ms = served.listening_wall_ms + CUTOFF_AFTER_LISTENING_MS;
        let lead = self.signing.mul_f64(1.5) + Duration::from_millis(50);
        let wall_start_ms = earliest_ms.max(wall_ms() + lead.as_millis() as u64);
        let signing = Instant::now();
        let signed = load.sign(wall_start_ms);
        self.signing = signing.elapsed();
        let now_ms = wall_ms();
        if wall_start_ms > now_ms {
            // Not a synchronisation: the server refuses requests stamped before its cutoff.
            std::thread::sleep(Duration::from_millis(wall_start_ms - now_ms));
        }
        self.transfers(&target, cycle)?;
        let mut server = Some(served);
        let mut stderr = Vec::new();
        let acks = signed.run(kill_after, || {
            stderr = server.take().expect("killed once").kill();
        })?;
        Ok(Killed { kill_after, acks, stderr })
    }

    /// Checks the restarted server against the replay and the acknowledgements.
    fn judge(
        &mut self,
        cycle: u32,
        killed: Killed,
        replayed: server::Replayed,
        restarted: &Served,
    ) -> Result<CycleRecord, Error> {
        let (state, answered) = restarted.admin_state(&self.admin)?;
        let Killed { kill_after, acks, stderr } = killed;
        let expect = Expect {
            accounts: &self.accounts,
            orders: &acks.orders,
            cancels: &acks.cancels,
            net_deposits: &self.net_deposits,
            config: &self.config,
        };
        let findings = check::check(&restarted.address, &state, &expect)?;
        let latency = Percentiles::of(&acks.stats.ack_ns);
        let restarted_hash = state["stateHash"].as_str().unwrap_or("").to_string();
        let snapshots = snapshot::Seen::of(&stderr);
        Ok(CycleRecord {
            cycle,
            kill_after_ms: kill_after.as_millis() as u64,
            sent: acks.stats.sent,
            // The two transfers were acknowledged before the load.
            acknowledged: acks.stats.acknowledged + 2,
            orders_acknowledged: acks.orders.len() as u64,
            cancels_acknowledged: acks.cancels.len() as u64,
            rejected: acks.stats.rejected,
            rejections: acks.stats.rejections.clone(),
            unanswered: acks.stats.unanswered,
            ack_p50_us: latency.p50_us,
            ack_p99_us: latency.p99_us,
            lost: findings.lost,
            duplicated: findings.duplicated,
            unreadable: acks.malformed.len() as u64,
            findings: findings
                .examples
                .iter()
                .chain(acks.malformed.iter().take(5))
                .cloned()
                .collect(),
            balances_conserved: findings.balances_conserved(),
            hashes_agree: restarted_hash == replayed.state_hash
                && state["sequence"].as_u64() == Some(replayed.sequence),
            replay_records: replayed.records,
            replay_sequence: replayed.sequence,
            replay_hash: replayed.state_hash,
            replay_s: replayed.seconds,
            tail_cut: replayed.tail_cut,
            restarted_hash,
            restart_ms: (answered - restarted.spawned).as_secs_f64() * 1000.0,
            replayed_at_start: replayed_at_start(&restarted.stderr_lines()),
            snapshots_written: snapshots.written.len() as u64,
            during_snapshot: snapshots.during(
                self.plan.flags.snapshot_every_records,
                &mut self.last_snapshot_record,
                replayed.records,
            ),
            open_orders: findings.open_orders,
            history_read: findings.history_read,
        })
    }

    /// The cycle's administrator deposit and withdrawal, to account `cycle mod accounts`.
    fn transfers(&mut self, target: &str, cycle: u32) -> Result<(), Error> {
        let account = &self.accounts[cycle as usize % self.accounts.len()];
        let asset = self.markets[0].quote.clone();
        let timestamp_ms = wall_ms();
        let mut requests = Vec::with_capacity(2);
        for (path, instruction, whole) in [
            ("/api/v1/admin/deposit", "adminDeposit", TRANSFERS.0),
            ("/api/v1/admin/withdraw", "adminWithdraw", TRANSFERS.1),
        ] {
            let fields = [
                ("account", Value::Text(account.key_base64.clone())),
                ("symbol", Value::Text(asset.clone())),
                ("quantity", Value::Text(whole.to_string())),
            ];
            let request = sign::Request {
                method: "POST",
                path,
                instruction,
                fields: &fields,
                timestamp_ms,
                window_ms: 10_000,
            };
            requests.push(sign::request_bytes(&self.admin, target, &request));
        }
        let answers = crate::loadgen::http::exchange(target, &requests)
            .map_err(|error| Error::Failed(format!("{target}: transfers: {error}")))?;
        if let Some(refused) = answers.iter().find(|answer| answer.status != 200) {
            return Err(Error::Failed(format!("cycle {cycle}: a transfer: {}", refused.reason())));
        }
        let deposit = whole_units(&self.config, &asset, TRANSFERS.0)?;
        let withdrawal = whole_units(&self.config, &asset, TRANSFERS.1)?;
        let net = self.net_deposits.entry(asset).or_insert(0);
        *net = *net + deposit - withdrawal;
        Ok(())
    }
}

/// `whole` units of `asset` in its smallest unit.
fn whole_units(config: &Config, asset: &str, whole: u64) -> Result<u128, Error> {
    let id = config
        .asset_by_symbol(asset.as_bytes())
        .ok_or_else(|| Error::Failed(format!("the server traded {asset}, not in its config")))?;
    Ok(u128::from(whole) * 10u128.pow(config.asset(id).decimals))
}

/// The `replayed N journal records` line of a server's stderr.
fn replayed_at_start(lines: &[String]) -> Option<u64> {
    lines.iter().find_map(|line| {
        let rest = line.strip_prefix("ringex: replayed ")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}
