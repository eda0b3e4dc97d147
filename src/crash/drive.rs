//! One cycle's load: the load generator's request mix, signed ahead and sent open loop by its
//! writer ([`connection::write_loop`]), with a reader of our own that keeps what each
//! acknowledgement says (order id, account, clientId; the orders a cancel or cancel-all
//! acknowledged) — the loadgen's reader only times answers. The server is killed while it runs:
//! an answer read whole before the kill is an acknowledgement, anything after is in flight
//! and its fate is the journal's to say.

use super::Error;
use crate::loadgen::connection::{self, Lane, RunClock};
use crate::loadgen::http::{self, AnswerReader};
use crate::loadgen::options::Mix;
use crate::loadgen::schedule::{Phase, Schedule};
use crate::loadgen::sign::Account;
use crate::loadgen::stats::{Kind, Stats};
use crate::loadgen::workload::{self, Market, PlanContext, Planned, Workload};
use crossbeam::channel::Receiver;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// X-Window of the load's requests, ms: the sequencer's replay cache holds rate × window.
const WINDOW_MS: u64 = 10_000;

/// How long a reader blocks in `read` before it looks at its flags again.
const READ_POLL: Duration = Duration::from_millis(20);

/// An acknowledged placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderAck {
    /// Index in the run's accounts.
    pub account: usize,
    /// The id the answer gave it.
    pub order_id: u64,
    /// Its clientId.
    pub client_id: Option<u32>,
}

/// An order an acknowledged cancel or cancel-all answered as cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelAck {
    /// Index in the run's accounts.
    pub account: usize,
    /// The cancelled order.
    pub order_id: u64,
}

/// What the load got acknowledged, and how the rest went.
#[derive(Default)]
pub struct Acks {
    /// Acknowledged placements.
    pub orders: Vec<OrderAck>,
    /// Orders acknowledged as cancelled.
    pub cancels: Vec<CancelAck>,
    /// Sent, acknowledged (200), rejected and unanswered (in flight at the kill) counts,
    /// rejections by reason, acknowledgement latency.
    pub stats: Stats,
    /// Answers the reader could not read as what their request asked for (should be none).
    pub malformed: Vec<String>,
}

/// The load of one cycle.
pub struct Load<'a> {
    /// `host:port`.
    pub target: &'a str,
    /// The run's accounts.
    pub accounts: &'a [Account],
    /// The markets traded.
    pub markets: &'a [Market],
    /// The request mix.
    pub mix: Mix,
    /// Keep-alive connections.
    pub connections: usize,
    /// Offered rate, requests/s.
    pub rate_per_s: f64,
    /// How long the schedule runs (past the kill, so the kill lands under load).
    pub duration: Duration,
    /// Seed of this cycle's requests.
    pub seed: u64,
    /// clientIds of this cycle start after it (unique across the run).
    pub client_id_base: u32,
}

/// A load signed ahead, ready to send.
pub struct Signed {
    schedule: Schedule,
    target: String,
    /// Per connection, its requests in send order.
    planned: Vec<Vec<Planned>>,
}

impl Load<'_> {
    /// Requests in the schedule.
    pub fn count(&self) -> u64 {
        Schedule::new(&[self.phase()]).count()
    }

    fn phase(&self) -> Phase {
        Phase::steady("cycle", self.rate_per_s, self.duration.as_secs_f64())
    }

    /// Drafts and signs every request, a thread per connection, stamped as if the schedule
    /// started at `wall_start_ms`.
    pub fn sign(&self, wall_start_ms: u64) -> Signed {
        let schedule = Schedule::new(&[self.phase()]);
        let context = PlanContext {
            accounts: self.accounts.to_vec(),
            host: self.target.to_string(),
            schedule: schedule.clone(),
            wall_start_ms,
            window_ms: WINDOW_MS,
        };
        let connections = self.connections;
        let planned = std::thread::scope(|scope| {
            let signers: Vec<_> = (0..connections)
                .map(|connection| {
                    let accounts =
                        workload::accounts_of(connection, connections, self.accounts.len());
                    let mut workload = Workload::new(
                        self.seed,
                        connection,
                        accounts,
                        self.markets.to_vec(),
                        self.mix,
                        self.client_id_base,
                    );
                    if self.accounts.len() < connections {
                        workload.share_accounts(connection, connections);
                    }
                    let (context, schedule) = (&context, &schedule);
                    scope.spawn(move || {
                        workload.plan(schedule.indices_of(connection, connections), context)
                    })
                })
                .collect();
            signers.into_iter().map(|signer| signer.join().expect("a signer")).collect()
        });
        Signed { schedule, target: self.target.to_string(), planned }
    }
}

impl Signed {
    /// Connects, sends every request at its time from now on, and calls `kill` `kill_after`
    /// into the schedule; returns once every connection has ended.
    pub fn run(self, kill_after: Duration, kill: impl FnOnce()) -> Result<Acks, Error> {
        let streams = (0..self.planned.len())
            .map(|_| http::connect(&self.target))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| Error::Failed(format!("{}: {error}", self.target)))?;
        let stats = Mutex::new(Stats::new());
        let clock = RunClock { start: Instant::now() };
        let lane = Lane {
            schedule: &self.schedule,
            clock,
            stats: &stats,
            drain_deadline: clock.instant(self.schedule.duration_ns()),
            spin: Duration::ZERO,
        };
        let connections = self.planned.len();
        let mut acks = Acks::default();
        let per_connection = std::thread::scope(|scope| {
            let readers: Vec<_> = streams
                .into_iter()
                .zip(self.planned)
                .enumerate()
                .map(|(connection, (stream, planned))| {
                    let lane = &lane;
                    scope.spawn(move || {
                        run_connection(stream, planned, lane, connection, connections)
                    })
                })
                .collect();
            let now = Instant::now();
            if let Some(wait) =
                clock.instant(kill_after.as_nanos() as u64).checked_duration_since(now)
            {
                // The randomized kill delay: the point of the cycle, not a synchronisation.
                std::thread::sleep(wait);
            }
            kill();
            readers.into_iter().map(|reader| reader.join().expect("a reader")).collect::<Vec<_>>()
        });
        for mut part in per_connection {
            acks.orders.append(&mut part.orders);
            acks.cancels.append(&mut part.cancels);
            acks.malformed.append(&mut part.malformed);
            acks.stats.merge_from(&mut part.stats);
        }
        acks.stats.merge_from(&mut stats.into_inner().expect("stats lock"));
        Ok(acks)
    }
}

/// One connection: the loadgen's open-loop writer on a thread, our reader on this one. Ends when
/// the server has closed the connection (it was killed) or every request is answered.
fn run_connection(
    stream: TcpStream,
    planned: Vec<Planned>,
    lane: &Lane,
    connection: usize,
    connections: usize,
) -> Acks {
    let accounts: Vec<usize> = planned.iter().map(|request| request.account).collect();
    let (chunks_in, chunks) = crossbeam::channel::bounded(1);
    chunks_in.send(planned).expect("an open channel");
    drop(chunks_in);
    let (sent, handed) = crossbeam::channel::unbounded();
    let writer_stream = stream.try_clone().expect("a socket handle can be cloned");
    let writer_done = AtomicBool::new(false);
    let mut acks = Acks::default();
    std::thread::scope(|scope| {
        let writer_done = &writer_done;
        scope.spawn(move || {
            connection::write_loop(writer_stream, chunks, sent, lane, (connection, connections));
            writer_done.store(true, Ordering::Release);
        });
        let reader = Reader { lane, accounts: &accounts, connections, acks: &mut acks };
        reader.read(stream, &handed, writer_done);
        // The scope joins the writer: it ends at its next write on the shut connection.
    });
    // Handed to the writer and never answered: in flight at the kill.
    acks.stats.unanswered += handed.try_iter().count() as u64;
    acks
}

/// Reads one connection's answers in order and keeps what the acknowledgements say.
struct Reader<'a> {
    lane: &'a Lane<'a>,
    /// The account of each of the connection's requests, in send order.
    accounts: &'a [usize],
    connections: usize,
    acks: &'a mut Acks,
}

impl Reader<'_> {
    fn read(mut self, mut stream: TcpStream, handed: &Receiver<(u64, Kind)>, done: &AtomicBool) {
        let _ = stream.set_read_timeout(Some(READ_POLL));
        let mut reader = AnswerReader::new();
        loop {
            match reader.fill(&mut stream) {
                Ok(0) => break,
                Ok(_) => {
                    if let Err(error) = self.take(&mut reader, handed) {
                        self.acks.malformed.push(error.to_string());
                        break;
                    }
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                // Reset by the kill.
                Err(_) => break,
            }
            if done.load(Ordering::Acquire) && handed.is_empty() {
                break;
            }
        }
        let _ = stream.shutdown(Shutdown::Both);
    }

    /// Takes every whole answer in the buffer.
    fn take(
        &mut self,
        reader: &mut AnswerReader,
        handed: &Receiver<(u64, Kind)>,
    ) -> io::Result<()> {
        let read_ns = self.lane.clock.ns_at(Instant::now());
        while let Some(answer) = reader.next_answer()? {
            let (index, kind) = handed.try_recv().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "an answer to a request never sent")
            })?;
            let account = self.accounts[(index / self.connections as u64) as usize];
            let scheduled_ns = self.lane.schedule.send_time_ns(index);
            let reason = (answer.status != 200).then(|| answer.reason());
            self.acks.stats.record_answer(kind, scheduled_ns, read_ns, reason);
            if answer.status == 200 {
                let json = answer.json().unwrap_or(serde_json::Value::Null);
                if let Err(what) = self.keep(kind, account, &json) {
                    self.acks.malformed.push(format!("{kind:?} answered {what}: {json}"));
                }
            }
        }
        Ok(())
    }

    /// Keeps what an acknowledgement of `kind` says.
    fn keep(
        &mut self,
        kind: Kind,
        account: usize,
        json: &serde_json::Value,
    ) -> Result<(), &'static str> {
        match kind {
            Kind::Limit | Kind::Market => {
                let order_id = order_id(json).ok_or("no order id")?;
                let client_id = json["clientId"].as_u64().and_then(|id| u32::try_from(id).ok());
                self.acks.orders.push(OrderAck { account, order_id, client_id });
            }
            Kind::Cancel => {
                let order_id = order_id(json).ok_or("no order id")?;
                self.acks.cancels.push(CancelAck { account, order_id });
            }
            Kind::CancelAll => {
                for order in json.as_array().ok_or("not an array")? {
                    let order_id = self::order_id(order).ok_or("an order without id")?;
                    self.acks.cancels.push(CancelAck { account, order_id });
                }
            }
            Kind::Ping => {}
        }
        Ok(())
    }
}

/// An Order object's `id` (a string of digits).
pub fn order_id(order: &serde_json::Value) -> Option<u64> {
    order["id"].as_str()?.parse().ok()
}
