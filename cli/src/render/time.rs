//! Times as the Docker CLI prints them. `human_duration` is go-units' `HumanDuration` ("Less than a second",
//! "About a minute", "3 days", ...); the CURRENT STATE column is `"{State} {duration, lowercased} ago"`
//! ("Running 6 seconds ago", "Rejected less than a second ago"); inspect's "56 seconds ago" keeps the capital.
//! `go_duration` is Go's `time.Duration.String()` ("5s", "1m30s", "500ms") and `go_time_utc` Go's
//! `time.Time.String()` of a UTC time. Elapsed time is always measured from the view's `now`, never from a clock,
//! and a timestamp in the future counts as no time at all.

use swarm_core::{TaskState, Timestamp};

use super::text::pretty_print;

const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;

/// The time from `then` to `now` in milliseconds (0 if `then` is later).
pub fn elapsed_ms(now: Timestamp, then: Timestamp) -> u64 {
    now.as_millis().saturating_sub(then.as_millis())
}

/// go-units' `HumanDuration` of `millis`.
pub fn human_duration(millis: u64) -> String {
    let seconds = millis / SECOND_MS;
    let minutes = millis / MINUTE_MS;
    // Hours are rounded to the nearest hour (`int(d.Hours() + 0.5)`); years are not.
    let hours = (millis + HOUR_MS / 2) / HOUR_MS;
    if seconds < 1 {
        "Less than a second".to_string()
    } else if seconds == 1 {
        "1 second".to_string()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".to_string()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", millis / HOUR_MS / 24 / 365)
    }
}

/// `"{HumanDuration} ago"`, as inspect prints update times ("56 seconds ago", "About a minute ago").
pub fn ago(now: Timestamp, then: Timestamp) -> String {
    format!("{} ago", human_duration(elapsed_ms(now, then)))
}

/// The CURRENT STATE column: `"Running 6 seconds ago"`, `"Pending less than a second ago"`.
pub fn current_state(state: TaskState, now: Timestamp, since: Timestamp) -> String {
    format!("{} {} ago", pretty_print(state.as_str()), human_duration(elapsed_ms(now, since)).to_lowercase())
}

/// Go's `time.Duration.String()` of `nanos`: "0s", "500ms", "1.5µs", "5s", "1m30s", "1h0m0s".
pub fn go_duration(nanos: u64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        // Below one second Go picks the largest unit that keeps the integer part non-zero.
        let (unit_nanos, unit) = if nanos < 1_000 {
            (1, "ns")
        } else if nanos < 1_000_000 {
            (1_000, "µs")
        } else {
            (1_000_000, "ms")
        };
        return format!("{}{unit}", decimal(nanos, unit_nanos));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = nanos / 60_000_000_000 % 60;
    let seconds = decimal(nanos % 60_000_000_000, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `value / unit` as a decimal without trailing zeros ("1.5", "2").
fn decimal(value: u64, unit: u64) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = unit.ilog10() as usize;
    let fraction = format!("{fraction:0digits$}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// Go's `time.Time.String()` of `timestamp` in UTC: `2026-11-23 09:12:03.25 +0000 UTC` (fractional seconds without
/// trailing zeros, none at all on a whole second).
pub fn go_time_utc(timestamp: Timestamp) -> String {
    let millis = timestamp.as_millis();
    let seconds_total = millis / 1_000;
    let days = i64::try_from(seconds_total / 86_400).unwrap_or(i64::MAX);
    let seconds_of_day = seconds_total % 86_400;
    let (year, month, day) = civil_from_days(days);
    let fraction = match millis % 1_000 {
        0 => String::new(),
        ms => format!(".{}", format!("{ms:03}").trim_end_matches('0')),
    };
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}{fraction} +0000 UTC",
        seconds_of_day / 3_600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

/// RFC 3339 in UTC with Docker's nanosecond precision trimmed as Go trims it: `2026-11-23T09:12:03.25Z`.
pub fn rfc3339_utc(timestamp: Timestamp) -> String {
    let go = go_time_utc(timestamp);
    let (date, rest) = go.split_once(' ').expect("go_time_utc has a space after the date");
    let time = rest.trim_end_matches(" +0000 UTC");
    format!("{date}T{time}Z")
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}
