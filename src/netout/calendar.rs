//! UTC calendar arithmetic for the read side: civil dates from Unix time and back, and the bucket
//! boundaries klines align to (the epoch, Mondays, the 1st of the month).
//!
//! Howard Hinnant's `days_from_civil` / `civil_from_days` algorithms: exact for the proleptic
//! Gregorian calendar, integer only, no tables, no allocation. Times before 1970 never occur
//! (engine time is Unix time now), so everything here is unsigned. Times come from clients too
//! (a klines `startTime` up to `u64::MAX` seconds): years are `u64` (a `u32` year wrapped at
//! about 1.4e17 s, and `1month` then answered another month's data), and a boundary past the
//! last representable second saturates at `u64::MAX` instead of overflowing.

/// Seconds in a day.
pub const DAY_S: u64 = 86_400;
/// Seconds in a week.
pub const WEEK_S: u64 = 7 * DAY_S;

/// A UTC civil date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilTime {
    /// Year, e.g. 2025.
    pub year: u64,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
}

/// `(year, month, day)` of the day `days` after 1970-01-01.
pub fn civil_from_days(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// Days from 1970-01-01 to `year-month-day` (on or after 1970-01-01; any year up to those
/// of `u64::MAX` seconds).
pub fn days_from_civil(year: u64, month: u32, day: u32) -> u64 {
    debug_assert!((1..=12).contains(&month) && (1..=31).contains(&day) && year >= 1970);
    let year = year - u64::from(month <= 2);
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_index = u64::from(if month > 2 { month - 3 } else { month + 9 });
    let day_of_year = (153 * month_index + 2) / 5 + u64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil time of Unix second `unix_s`.
pub fn civil_time(unix_s: u64) -> CivilTime {
    let (year, month, day) = civil_from_days(unix_s / DAY_S);
    let second_of_day = (unix_s % DAY_S) as u32;
    CivilTime {
        year,
        month,
        day,
        hour: second_of_day / 3_600,
        minute: second_of_day / 60 % 60,
        second: second_of_day % 60,
    }
}

/// Start of the UTC month holding `unix_s`.
pub fn month_start_s(unix_s: u64) -> u64 {
    let (year, month, _) = civil_from_days(unix_s / DAY_S);
    days_from_civil(year, month, 1) * DAY_S
}

/// Start of the UTC month after the one holding `unix_s` (`u64::MAX` if past it).
pub fn next_month_start_s(unix_s: u64) -> u64 {
    let (year, month, _) = civil_from_days(unix_s / DAY_S);
    let (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    days_from_civil(year, month, 1).saturating_mul(DAY_S)
}

/// Start of the week (Monday 00:00 UTC) holding `unix_s`. 1970-01-01 was a Thursday.
pub fn week_start_s(unix_s: u64) -> u64 {
    // Reduced first: a client's `u64::MAX` would overflow the sum.
    let since_monday = (unix_s % WEEK_S + 3 * DAY_S) % WEEK_S;
    unix_s.saturating_sub(since_monday)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // (Unix s, [year, month, day, hour, minute, second])
        let cases: &[(u64, [u32; 6])] = &[
            (0, [1970, 1, 1, 0, 0, 0]),
            (1_700_000_000, [2023, 11, 14, 22, 13, 20]),
            (951_782_400, [2000, 2, 29, 0, 0, 0]),
            (1_752_930_540, [2025, 7, 19, 13, 9, 0]),
            (4_102_444_799, [2099, 12, 31, 23, 59, 59]),
        ];
        for &(unix_s, [year, month, day, hour, minute, second]) in cases {
            let year = u64::from(year);
            let expected = CivilTime { year, month, day, hour, minute, second };
            assert_eq!(civil_time(unix_s), expected, "{unix_s}");
            assert_eq!(days_from_civil(year, month, day), unix_s / DAY_S);
        }
    }

    #[test]
    fn round_trip_every_day_for_three_centuries() {
        for days in 0..110_000 {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn bucket_boundaries() {
        // 2023-11-14 (a Tuesday) 22:13:20.
        let t = 1_700_000_000;
        assert_eq!(civil_time(week_start_s(t)), civil(2023, 11, 13));
        assert_eq!(civil_time(month_start_s(t)), civil(2023, 11, 1));
        assert_eq!(civil_time(next_month_start_s(t)), civil(2023, 12, 1));
        let december = days_from_civil(2023, 12, 31) * DAY_S + 5;
        assert_eq!(civil_time(next_month_start_s(december)), civil(2024, 1, 1));
        // 1970-01-05 was the first Monday.
        assert_eq!(week_start_s(4 * DAY_S + 1), 4 * DAY_S);
        assert_eq!(week_start_s(3 * DAY_S), 0);
    }

    #[test]
    fn client_times_up_to_u64_max_neither_wrap_nor_overflow() {
        // Around 1.4e17 s a u32 year wrapped (to a year near now); it is ~4.4e9 now.
        let far_s = 140_000_000_000_000_000;
        let year = civil_time(far_s).year;
        assert!(year > u64::from(u32::MAX), "{year}");
        assert!(month_start_s(far_s) <= far_s && far_s < next_month_start_s(far_s));
        for unix_s in [u64::MAX, u64::MAX - DAY_S * 40, far_s] {
            let start_s = month_start_s(unix_s);
            assert!(start_s <= unix_s && unix_s - start_s < 31 * DAY_S, "{unix_s}");
            assert!(next_month_start_s(unix_s) > start_s);
            assert!(week_start_s(unix_s) <= unix_s);
        }
        assert_eq!(next_month_start_s(u64::MAX), u64::MAX);
    }

    fn civil(year: u64, month: u32, day: u32) -> CivilTime {
        CivilTime { year, month, day, hour: 0, minute: 0, second: 0 }
    }
}
