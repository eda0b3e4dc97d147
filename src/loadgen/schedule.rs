//! The open-loop schedule: when each request of a run is due, fixed before the run starts.
//!
//! A run is a list of [`Phase`]s, each at a constant rate or ramping linearly from one rate to
//! another. Request `index` (global over the run, 0-based) has one send time, a pure function of
//! the phases: the writer sends it no earlier, and its latency is counted from that time
//! whether the writer managed to send it then or not. That is what keeps a stalled server from
//! hiding behind a stalled client (coordinated omission): the schedule never waits for answers.
//!
//! Requests are dealt to connections round-robin (`index % connections`), so each connection
//! carries an even share of every phase.

/// One phase of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// Shown in progress and the summary.
    pub name: String,
    /// Offered rate at the phase's start, requests per second (> 0 unless it ramps up from 0).
    pub rate_from_per_s: f64,
    /// Offered rate at the phase's end (equal to `rate_from_per_s` for a steady phase).
    pub rate_to_per_s: f64,
    /// Length in seconds (> 0).
    pub duration_s: f64,
    /// Whether its answers enter the results (false for a warm-up).
    pub recorded: bool,
}

impl Phase {
    /// A steady phase at `rate_per_s` for `duration_s`.
    pub fn steady(name: &str, rate_per_s: f64, duration_s: f64) -> Phase {
        Phase {
            name: name.to_string(),
            rate_from_per_s: rate_per_s,
            rate_to_per_s: rate_per_s,
            duration_s,
            recorded: true,
        }
    }

    /// Requests the phase offers: the integral of its rate over its length.
    pub fn count(&self) -> u64 {
        ((self.rate_from_per_s + self.rate_to_per_s) / 2.0 * self.duration_s).floor() as u64
    }

    /// Seconds from the phase's start to its request `k` (0-based): the `t` at which
    /// `from·t + (to − from)/(2·duration)·t² = k`, written so that a steady phase (`to = from`)
    /// and a ramp from 0 need no special case.
    pub fn offset_s(&self, k: u64) -> f64 {
        if k == 0 {
            return 0.0;
        }
        let from = self.rate_from_per_s;
        let slope = (self.rate_to_per_s - from) / self.duration_s;
        let k = k as f64;
        2.0 * k / (from + (from * from + 2.0 * slope * k).sqrt())
    }
}

/// A phase placed in the run.
#[derive(Clone, Debug)]
struct Placed {
    phase: Phase,
    /// Nanoseconds from the run's start to the phase's start.
    start_ns: u64,
    /// Global index of the phase's first request.
    first_index: u64,
    /// Requests in the phase.
    count: u64,
}

/// The send time of every request of a run.
#[derive(Clone, Debug)]
pub struct Schedule {
    placed: Vec<Placed>,
    /// Requests in the whole run.
    count: u64,
    /// Nanoseconds from the start to the end of the last phase.
    duration_ns: u64,
}

impl Schedule {
    /// The schedule of `phases`, run one after another.
    pub fn new(phases: &[Phase]) -> Schedule {
        assert!(!phases.is_empty(), "a run has at least one phase");
        let mut placed = Vec::with_capacity(phases.len());
        let mut start_ns = 0u64;
        let mut first_index = 0u64;
        for phase in phases {
            assert!(phase.duration_s > 0.0, "phase {}: duration must be positive", phase.name);
            assert!(phase.rate_from_per_s >= 0.0 && phase.rate_to_per_s >= 0.0);
            let count = phase.count();
            placed.push(Placed { phase: phase.clone(), start_ns, first_index, count });
            start_ns += (phase.duration_s * 1e9) as u64;
            first_index += count;
        }
        Schedule { placed, count: first_index, duration_ns: start_ns }
    }

    /// Requests in the run.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Nanoseconds from the start to the end of the last phase.
    pub fn duration_ns(&self) -> u64 {
        self.duration_ns
    }

    /// The phases, in order.
    pub fn phases(&self) -> impl Iterator<Item = &Phase> {
        self.placed.iter().map(|placed| &placed.phase)
    }

    /// The position in [`Schedule::phases`] of the phase request `index` belongs to.
    pub fn phase_of(&self, index: u64) -> usize {
        assert!(index < self.count, "request {index} is past the run ({})", self.count);
        self.placed.partition_point(|placed| placed.first_index + placed.count <= index)
    }

    /// Whether request `index`'s answer enters the results.
    pub fn is_recorded(&self, index: u64) -> bool {
        self.placed[self.phase_of(index)].phase.recorded
    }

    /// Nanoseconds from the run's start to request `index`'s send time.
    pub fn send_time_ns(&self, index: u64) -> u64 {
        let placed = &self.placed[self.phase_of(index)];
        let offset_s = placed.phase.offset_s(index - placed.first_index);
        placed.start_ns + (offset_s * 1e9) as u64
    }

    /// Recorded requests and the seconds the recorded phases last: the offered load.
    pub fn recorded_load(&self) -> (u64, f64) {
        self.placed
            .iter()
            .filter(|placed| placed.phase.recorded)
            .fold((0, 0.0), |(count, seconds), placed| {
                (count + placed.count, seconds + placed.phase.duration_s)
            })
    }

    /// The global indices of connection `connection`'s requests, in send order.
    pub fn indices_of(
        &self,
        connection: usize,
        connections: usize,
    ) -> impl Iterator<Item = u64> + use<> {
        assert!(connection < connections);
        (connection as u64..self.count).step_by(connections)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_phase_sends_at_even_intervals() {
        let schedule = Schedule::new(&[Phase::steady("steady", 1000.0, 2.0)]);
        assert_eq!(schedule.count(), 2000);
        assert_eq!(schedule.duration_ns(), 2_000_000_000);
        for (index, expected_ns) in
            [(0, 0), (1, 1_000_000), (999, 999_000_000), (1999, 1_999_000_000)]
        {
            let got = schedule.send_time_ns(index);
            assert!(got.abs_diff(expected_ns) <= 1, "request {index}: {got} ns, not {expected_ns}");
        }
    }

    #[test]
    fn connections_share_the_schedule_round_robin() {
        let schedule = Schedule::new(&[Phase::steady("steady", 100.0, 1.0)]);
        let first: Vec<u64> = schedule.indices_of(1, 4).take(3).collect();
        assert_eq!(first, [1, 5, 9]);
        let all: u64 =
            (0..4).map(|connection| schedule.indices_of(connection, 4).count() as u64).sum();
        assert_eq!(all, schedule.count());
        // Each connection's own sends are evenly spaced at rate / connections.
        let times: Vec<u64> = schedule.indices_of(2, 4).map(|i| schedule.send_time_ns(i)).collect();
        for pair in times.windows(2) {
            assert!((pair[1] - pair[0]).abs_diff(40_000_000) <= 1);
        }
    }

    #[test]
    fn a_ramp_offers_the_integral_of_its_rate_and_speeds_up() {
        let ramp = Phase {
            name: "ramp".into(),
            rate_from_per_s: 0.0,
            rate_to_per_s: 2000.0,
            duration_s: 1.0,
            recorded: true,
        };
        let schedule = Schedule::new(&[ramp]);
        assert_eq!(schedule.count(), 1000);
        // Rate 2000·t: N(t) = 1000·t², so request k is due at sqrt(k / 1000) s.
        for k in [1u64, 250, 999] {
            let expected_ns = ((k as f64 / 1000.0).sqrt() * 1e9) as u64;
            assert!(schedule.send_time_ns(k).abs_diff(expected_ns) < 1000, "request {k}");
        }
        let gaps: Vec<u64> =
            (1..1000).map(|k| schedule.send_time_ns(k) - schedule.send_time_ns(k - 1)).collect();
        assert!(gaps.windows(2).all(|pair| pair[1] <= pair[0] + 1), "intervals shrink");
        assert!(schedule.send_time_ns(999) < 1_000_000_000);
    }

    #[test]
    fn phases_follow_each_other_and_only_recorded_ones_count_as_offered_load() {
        let mut warm_up = Phase::steady("warm-up", 100.0, 1.0);
        warm_up.recorded = false;
        let ramp = Phase {
            name: "ramp".into(),
            rate_from_per_s: 100.0,
            rate_to_per_s: 300.0,
            duration_s: 2.0,
            recorded: true,
        };
        let schedule = Schedule::new(&[warm_up, ramp, Phase::steady("steady", 50.0, 1.0)]);
        assert_eq!(schedule.count(), 100 + 400 + 50);
        assert_eq!(schedule.phase_of(99), 0);
        assert_eq!(schedule.phase_of(100), 1);
        assert_eq!(schedule.phase_of(500), 2);
        assert!(!schedule.is_recorded(0));
        assert!(schedule.is_recorded(100));
        assert_eq!(schedule.send_time_ns(100), 1_000_000_000);
        assert_eq!(schedule.send_time_ns(500), 3_000_000_000);
        assert_eq!(schedule.recorded_load(), (450, 3.0));
        let times: Vec<u64> = (0..schedule.count()).map(|i| schedule.send_time_ns(i)).collect();
        assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "send times never go back");
    }
}
