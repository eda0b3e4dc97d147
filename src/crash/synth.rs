//! `ringex journal-synth`: a journal of N applied commands in seconds, without the network, for
//! timing restarts against journal length (`scripts/restart-time.sh`, issue 20 item 2).
//!
//! The stream is the load generator's ([`Workload`]: limit orders within 1% of a fixed mid, four
//! in five resting and one in five crossing, cancels of recent placements by clientId, market
//! orders, cancel-alls), after one deposit per account and asset, converted to commands exactly
//! as verify parses their decimal fields. A [`Matcher`] applies each command and the journal
//! keeps only those it applied — an event other than a rejection, the rule of the live journal
//! stage (`journal/stage.rs`, `matcher/stage.rs`) — encoded by the same [`payload::encode`] and
//! appended by the same [`JournalWriter`], so `ringex serve` and `ringex replay` recover it like
//! any journal (`pipeline::recover`). Sequence numbers count every command, applied or not, as
//! the sequencer does; times run 50 µs apart and end in the past, so the restarted sequencer's
//! cutoff and replay cache see an old journal. Signatures are zeros (recovery does not check
//! them) and replay digests are distinct.
//!
//! The one piece of the crash tools that runs engine code in-process: it stands in for the
//! network that would take hours to journal ten million commands.

use super::Error;
use crate::command::{Action, Command, OrderRef, PlaceOrder};
use crate::config::Config;
use crate::event::{Event, EventKind, EventSink};
use crate::journal::payload::{self, JOURNAL_RECORD_MAX};
use crate::journal::{JournalWriter, WriterOptions};
use crate::loadgen::options::Mix;
use crate::loadgen::setup;
use crate::loadgen::sign::Value;
use crate::loadgen::stats::Kind;
use crate::loadgen::workload::{Draft, Market, Unit, Workload};
use crate::matcher::Matcher;
use crate::records::{Auth, Extras};
use crate::types::{
    AccountKey, ClientId, OrderType, PriceTicks, QuantitySteps, SelfTradePrevention,
    SequenceNumber, Side, TimeInForce,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Engine time between two commands, µs (20,000 commands/s).
const COMMAND_SPACING_US: u64 = 50;

/// Records appended between two writes of the batch.
const RECORDS_PER_WRITE: u64 = 4096;

/// `ringex journal-synth`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct SynthFlags {
    /// Journal records to write: commands the matcher applied.
    #[arg(long)]
    pub commands: u64,
    /// The journal directory (new, or without a journal).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The configuration the server will run (default: the embedded one).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Accounts trading.
    #[arg(long, default_value_t = 64)]
    pub accounts: usize,
    /// Seed of the stream.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Weights of the request kinds (as `ringex loadgen --mix`).
    #[arg(long, default_value = "limit=70,cancel=20,market=5,cancel-all=5")]
    pub mix: String,
}

/// What was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Synthesized {
    /// Journal records.
    pub records: u64,
    /// Commands tried (applied or rejected).
    pub commands: u64,
    /// The last sequence number.
    pub sequence: u64,
    /// The engine's state hash after the last record.
    pub state_hash: u128,
    /// Wall time, s.
    pub seconds: f64,
}

impl Synthesized {
    /// What `ringex journal-synth` prints (`records`, `sequence` and `state hash` as `ringex
    /// replay` prints them, so the two can be compared line by line).
    pub fn render(&self) -> String {
        format!(
            "records {}\nsequence {}\nstate hash {:032x}\ncommands {} ({} rejected, not \
             journaled)\nseconds {:.2} ({:.0} records/s)\n",
            self.records,
            self.sequence,
            self.state_hash,
            self.commands,
            self.commands - self.records,
            self.seconds,
            self.records as f64 / self.seconds.max(1e-9),
        )
    }
}

/// Notes whether a command applied: it emitted an event, and not a rejection.
#[derive(Default)]
struct Applied {
    emitted: bool,
    rejected: bool,
}

impl EventSink for Applied {
    fn push(&mut self, event: Event) {
        self.rejected |= matches!(event.kind, EventKind::Rejected { .. });
        self.emitted = true;
    }
}

/// The journal being written, and the engine that decides what goes in.
struct Synth {
    config: Arc<Config>,
    matcher: Matcher,
    writer: JournalWriter,
    keys: Vec<AccountKey>,
    sequence: u64,
    records: u64,
    commands: u64,
    first_time_us: u64,
    record: Box<[u8; JOURNAL_RECORD_MAX]>,
}

/// Writes the journal.
pub fn run(flags: &SynthFlags) -> Result<Synthesized, Error> {
    let started = Instant::now();
    if flags.commands == 0 || !(1..=100_000).contains(&flags.accounts) {
        return Err(Error::Usage("--commands: at least 1; --accounts: 1..=100000".into()));
    }
    let mix = Mix::parse(&flags.mix).map_err(|error| Error::Usage(format!("--mix: {error}")))?;
    let config = match &flags.config {
        None => Config::embedded_default(),
        Some(path) => std::fs::read_to_string(path)
            .map_err(|error| error.to_string())
            .and_then(|text| Config::from_toml(&text))
            .map_err(|error| Error::Usage(format!("--config {}: {error}", path.display())))?,
    };
    let journaled = std::fs::read_dir(&flags.data_dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| entry.path().extension().is_some_and(|e| e == "journal"))
    });
    if journaled {
        return Err(Error::Usage(format!(
            "--data-dir: {} already holds a journal",
            flags.data_dir.display()
        )));
    }
    let writer = JournalWriter::open(&flags.data_dir, WriterOptions::default())
        .map_err(|error| Error::Failed(error.to_string()))?;
    let config = Arc::new(config);
    let markets = markets_of(&config);
    let mut synth = Synth {
        matcher: Matcher::new(Arc::clone(&config)),
        config,
        writer,
        keys: (0..flags.accounts).map(|index| key(flags.seed, index)).collect(),
        sequence: 0,
        records: 0,
        commands: 0,
        // Ends about now at the pace of two commands per record (the mix applies more).
        first_time_us: crate::clock::wall_us()
            .saturating_sub(flags.commands * 2 * COMMAND_SPACING_US),
        record: Box::new([0u8; JOURNAL_RECORD_MAX]),
    };
    synth.fund(&markets, flags.commands)?;
    let accounts: Vec<usize> = (0..flags.accounts).collect();
    let mut workload = Workload::new(flags.seed, 0, accounts, markets, mix, 0);
    let mut index = 0u64;
    while synth.records < flags.commands {
        let draft = workload.draft(index);
        index += 1;
        let action = action_of(&synth.config, &draft)?;
        synth.apply(draft.account, action)?;
    }
    synth.writer.commit(true).map_err(|error| Error::Failed(format!("journal: {error}")))?;
    Ok(Synthesized {
        records: synth.records,
        commands: synth.commands,
        sequence: synth.sequence,
        state_hash: synth.matcher.state_hash(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

impl Synth {
    /// One deposit per account and asset the markets trade, as `ringex loadgen` funds its
    /// accounts (up to `records_max` records).
    fn fund(&mut self, markets: &[Market], records_max: u64) -> Result<(), Error> {
        for account in 0..self.keys.len() {
            for (asset, whole) in setup::deposits(markets) {
                if self.records == records_max {
                    return Ok(());
                }
                let id = self.config.asset_by_symbol(asset.as_bytes()).expect("a config asset");
                let amount = whole * 10u64.pow(self.config.asset(id).decimals);
                self.apply(account, Action::Deposit { asset: id, amount })?;
            }
        }
        Ok(())
    }

    /// Numbers, stamps and applies one command; journals it if it applied.
    fn apply(&mut self, account: usize, action: Action) -> Result<(), Error> {
        self.sequence += 1;
        self.commands += 1;
        let time_us =
            (self.first_time_us + self.sequence * COMMAND_SPACING_US).min(crate::clock::wall_us());
        let command = Command {
            sequence: SequenceNumber(self.sequence),
            time_us,
            account: self.keys[account],
            action,
        };
        let mut applied = Applied::default();
        self.matcher.apply(&command, &mut applied);
        if !applied.emitted || applied.rejected {
            return Ok(());
        }
        let mut replay_digest = [0u8; 32];
        replay_digest[..8].copy_from_slice(&self.sequence.to_le_bytes());
        replay_digest[8..16].copy_from_slice(b"synth\0\0\0");
        let auth = Auth {
            signature: [0; 64],
            replay_digest,
            timestamp_ms: time_us / 1000,
            window_ms: 5000,
        };
        let length = payload::encode(&command, &auth, &Extras::default(), &mut self.record);
        self.records += 1;
        let failed = |error: std::io::Error| Error::Failed(format!("journal: {error}"));
        self.writer.append(SequenceNumber(self.records), &self.record[..length]).map_err(failed)?;
        if self.records.is_multiple_of(RECORDS_PER_WRITE) {
            self.writer.commit(false).map_err(failed)?;
        }
        Ok(())
    }
}

/// Account `index`'s key: any 32 bytes will do (nobody signs with them), distinct and never the
/// fee account's zeros.
fn key(seed: u64, index: usize) -> AccountKey {
    let mut bytes = [0xA5u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    AccountKey(bytes)
}

/// The configuration's markets as the load generator describes them.
fn markets_of(config: &Config) -> Vec<Market> {
    let unit = |step: crate::money::DecimalStep| Unit { mantissa: step.units, scale: step.scale };
    config
        .markets
        .iter()
        .map(|spec| Market {
            symbol: spec.symbol.clone(),
            base: config.asset(spec.base).symbol.clone(),
            quote: config.asset(spec.quote).symbol.clone(),
            tick: unit(spec.tick),
            step: unit(spec.step),
            min_steps: spec.min_quantity_steps.0,
        })
        .collect()
}

/// A draft's command, its decimal fields parsed as verify parses them.
fn action_of(config: &Config, draft: &Draft) -> Result<Action, Error> {
    let bad = || Error::Failed(format!("a draft that does not parse: {draft:?}"));
    let text = |name: &str| {
        draft.fields.iter().find_map(|(key, value)| match value {
            Value::Text(text) if *key == name => Some(text.as_str()),
            _ => None,
        })
    };
    let client_id = draft.fields.iter().find_map(|(key, value)| match value {
        Value::Integer(id) if *key == "clientId" => u32::try_from(*id).ok().map(ClientId),
        _ => None,
    });
    let market = text("symbol").and_then(|symbol| config.market_by_symbol(symbol.as_bytes()));
    let market = market.ok_or_else(bad)?;
    let spec = config.market(market);
    Ok(match draft.kind {
        Kind::Limit | Kind::Market => {
            let limit = draft.kind == Kind::Limit;
            let price = match limit {
                true => text("price").and_then(|p| spec.parse_price(p.as_bytes()).ok()),
                false => Some(PriceTicks(0)),
            };
            let quantity = text("quantity").and_then(|q| spec.parse_quantity(q.as_bytes()).ok());
            let (Some(price), Some(quantity)) = (price, quantity) else { return Err(bad()) };
            Action::Place(PlaceOrder {
                market,
                side: if text("side") == Some("Bid") { Side::Bid } else { Side::Ask },
                order_type: if limit { OrderType::Limit } else { OrderType::Market },
                time_in_force: TimeInForce::Gtc,
                self_trade_prevention: SelfTradePrevention::RejectTaker,
                post_only: false,
                client_id,
                price,
                quantity: QuantitySteps(quantity.0),
                quote_quantity: 0,
            })
        }
        Kind::Cancel => {
            Action::Cancel { market, target: OrderRef::Client(client_id.ok_or_else(bad)?) }
        }
        Kind::CancelAll => Action::CancelAll { market },
        Kind::Ping => return Err(bad()),
    })
}
