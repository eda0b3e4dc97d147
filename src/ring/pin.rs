//! Thread pinning: `--pin CORES` parsing and pinning the calling thread with `core_affinity`.
//!
//! Contract: pinning is best effort and happens once per stage thread at start-up, before the
//! stage's loop; it never runs on the hot path.

use std::fmt;

/// Most cores `--pin` may name; a list longer than this is a typo, not a machine.
pub const PIN_CORES_MAX: usize = 1024;

/// Pins the calling thread to `core` (an OS core id) if one is given. Returns true when the
/// thread is now pinned; false when `core` is `None` or the OS refused.
pub fn pin_current_thread(core: Option<usize>) -> bool {
    match core {
        None => false,
        Some(id) => core_affinity::set_for_current(core_affinity::CoreId { id }),
    }
}

/// Why a `--pin` value did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinParseError {
    /// The list, or one of its comma-separated items, is empty.
    Empty,
    /// An item is not a core number or a `first-last` range.
    NotANumber,
    /// A range's last core is below its first.
    RangeReversed,
    /// A core is named twice.
    Duplicate,
    /// More than [`PIN_CORES_MAX`] cores.
    TooMany,
}

impl fmt::Display for PinParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinParseError::Empty => "empty core list or list item",
            PinParseError::NotANumber => "expected core numbers like 0,1 or ranges like 0-3",
            PinParseError::RangeReversed => "core range ends before it starts",
            PinParseError::Duplicate => "core named twice",
            PinParseError::TooMany => "too many cores",
        })
    }
}

impl std::error::Error for PinParseError {}

/// Parses `--pin CORES`: comma-separated core numbers and inclusive ranges, e.g. `0,1`, `0-3`,
/// `0,2-3`, in the order given (stage threads take them in pipeline order).
// tidy: start-up (parses `--pin`)
pub fn parse_cores(text: &str) -> Result<Vec<usize>, PinParseError> {
    let mut cores = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(PinParseError::Empty);
        }
        let (first, last) = match item.split_once('-') {
            Some((first, last)) => (parse_core(first)?, parse_core(last)?),
            None => (parse_core(item)?, parse_core(item)?),
        };
        if last < first {
            return Err(PinParseError::RangeReversed);
        }
        if last - first >= PIN_CORES_MAX {
            return Err(PinParseError::TooMany);
        }
        for core in first..=last {
            if cores.contains(&core) {
                return Err(PinParseError::Duplicate);
            }
            if cores.len() == PIN_CORES_MAX {
                return Err(PinParseError::TooMany);
            }
            cores.push(core);
        }
    }
    Ok(cores)
}

fn parse_core(text: &str) -> Result<usize, PinParseError> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(PinParseError::NotANumber);
    }
    text.parse().map_err(|_| PinParseError::NotANumber)
}

#[cfg(all(test, not(ringex_loom)))]
mod tests {
    use super::*;

    #[test]
    fn parse_cores_table() {
        let cases: [(&str, Result<Vec<usize>, PinParseError>); 12] = [
            ("0", Ok(vec![0])),
            ("0,1", Ok(vec![0, 1])),
            ("0-3", Ok(vec![0, 1, 2, 3])),
            ("3,0-1", Ok(vec![3, 0, 1])),
            (" 1 , 2 ", Ok(vec![1, 2])),
            ("5-5", Ok(vec![5])),
            ("", Err(PinParseError::Empty)),
            ("0,,1", Err(PinParseError::Empty)),
            ("a", Err(PinParseError::NotANumber)),
            ("-1", Err(PinParseError::NotANumber)),
            ("3-1", Err(PinParseError::RangeReversed)),
            ("0-2,1", Err(PinParseError::Duplicate)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_cores(text), expected, "{text:?}");
        }
        assert_eq!(parse_cores("0-100000"), Err(PinParseError::TooMany));
    }

    #[test]
    fn pin_none_does_nothing() {
        assert!(!pin_current_thread(None));
    }

    #[test]
    fn pin_to_an_existing_core() {
        // Pin a scratch thread, so the test runner's threads keep their affinity.
        let core = core_affinity::get_core_ids().unwrap()[0].id;
        let pinned = std::thread::spawn(move || pin_current_thread(Some(core))).join().unwrap();
        assert!(pinned);
    }
}
