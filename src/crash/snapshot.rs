//! Whether a kill landed during a snapshot, from what the killed server said on stderr.
//!
//! The server reports each snapshot it writes with a line `ringex: snapshot at record N written
//! …`; a line `ringex: snapshot at record N …` without `written` (started, failed) counts as one
//! begun. A kill landed during a snapshot when the server had begun one and not reported it
//! written, or — with `[snapshot] every_records = E` — when the journal at the kill reached the
//! last written snapshot's record + E (one was due) and no line says it was written. A server
//! that reports no snapshot at all tells nothing (`None`).

/// The snapshot lines of one server's stderr.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seen {
    /// Records of the snapshots reported written, in order.
    pub written: Vec<u64>,
    /// A snapshot was begun and never reported written.
    pub unfinished: bool,
}

const PREFIX: &str = "ringex: snapshot at record ";

impl Seen {
    /// Reads `lines`.
    pub fn of(lines: &[String]) -> Seen {
        let mut seen = Seen::default();
        let mut begun: Vec<u64> = Vec::new();
        for line in lines {
            let Some(rest) = line.strip_prefix(PREFIX) else { continue };
            let Some(record) = rest.split_whitespace().next().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if rest.split_whitespace().any(|word| word == "written") {
                seen.written.push(record);
                begun.retain(|other| *other != record);
            } else {
                begun.push(record);
            }
        }
        seen.unfinished = !begun.is_empty();
        seen
    }

    /// Whether the kill landed during a snapshot, given the configured interval, the last
    /// snapshot any earlier server wrote (updated here) and the journal's records at the kill.
    pub fn during(
        &self,
        every_records: Option<u64>,
        last_written: &mut Option<u64>,
        records_at_kill: u64,
    ) -> Option<bool> {
        if let Some(&last) = self.written.iter().max() {
            *last_written = Some(last_written.map_or(last, |earlier| earlier.max(last)));
        }
        if self.unfinished {
            return Some(true);
        }
        match (every_records, *last_written) {
            (Some(every), Some(last)) => Some(records_at_kill >= last + every),
            (None, Some(_)) => Some(false),
            (_, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|line| line.to_string()).collect()
    }

    #[test]
    fn snapshots_written_begun_and_due_are_told_apart() {
        let quiet = Seen::of(&lines(&["ringex: replayed 10 journal records"]));
        let mut last = None;
        assert_eq!(quiet.during(Some(1000), &mut last, 5000), None, "no snapshot, no verdict");
        let written = Seen::of(&lines(&[
            "ringex: snapshot at record 1000 written in 3 ms",
            "ringex: snapshot at record 2000 written in 3 ms",
        ]));
        assert_eq!(written.written, [1000, 2000]);
        assert_eq!(written.during(Some(1000), &mut last, 2500), Some(false));
        assert_eq!(last, Some(2000));
        // The next server wrote none, but one was due before its kill.
        assert_eq!(Seen::default().during(Some(1000), &mut last, 3100), Some(true));
        let begun = Seen::of(&lines(&["ringex: snapshot at record 4000 started"]));
        assert!(begun.unfinished);
        assert_eq!(begun.during(None, &mut last, 4001), Some(true));
    }
}
