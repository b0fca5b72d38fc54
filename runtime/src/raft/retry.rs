//! How the leader retries a peer that keeps failing, and how often it says so. openraft 0.9 retries a failed
//! append at once on the next replication event, which a peer answering 503 ("manager is shutting down") turned
//! into some 190,000 errors (39 MB of log) in 5 s; its own backoff for unreachable peers draws from tokio's
//! unseeded per-thread RNG (an unbiased `select!`), which made simulated seeds unreplayable, so our transport
//! never reports "unreachable" to it and backs off here instead. Invariants: after `n` refusals in a row (errors
//! that came back before the deadline: connection refused, an error status, a broken body) no call goes to that
//! peer before `RETRY_FIRST * 2^(n-1)` (at most `RETRY_MAX`) after the last one (calls before then wait and fail
//! unsent, so the first one after it has its whole deadline); a call that ran out of time is logged but not
//! backed off, since it already took its whole deadline and a slow network needs every attempt; a success ends
//! the backoff; at most one log line per peer per `LOG_EVERY` while it keeps failing, plus one when it recovers.

use std::time::Duration;

use tokio::time::Instant;

/// The wait before the second attempt after a failure.
pub const RETRY_FIRST: Duration = Duration::from_millis(20);
/// The longest wait between attempts: well below the shortest election timeout (500 ms), so a follower that
/// comes back hears from the leader before its own election timer runs out.
pub const RETRY_MAX: Duration = Duration::from_millis(250);
/// How often a peer that keeps failing is logged.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// How a call failed, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An answer or refusal that came back before the deadline: retrying at once would only repeat it.
    Refused,
    /// No answer within the call's deadline: the attempt already took its time.
    TimedOut,
}

/// What to log after an outcome, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLine {
    /// The first failure at least `LOG_EVERY` after the last failing line: `failures` since the last line (this
    /// one included).
    Failing { failures: u64 },
    /// The first success after a failing line, with the `failures` since that line.
    Recovered { failures: u64 },
}

/// The retry state of one peer.
#[derive(Debug, Default)]
pub struct RetryState {
    failures_in_a_row: u32,
    last_failure: Option<Instant>,
    /// Failures since the last log line, and when a failing line was last written (kept across successes, so a
    /// peer that fails and answers by turns is still logged at most once per `LOG_EVERY`).
    unlogged_failures: u64,
    last_logged: Option<Instant>,
    /// Whether a failing line was written since the last recovery line.
    failing_logged: bool,
}

impl RetryState {
    /// When the next call may go out (`None`: now).
    pub fn not_before(&self) -> Option<Instant> {
        let last = self.last_failure?;
        Some(last + retry_delay(self.failures_in_a_row))
    }

    /// Records a failed call at `now`; returns the line to log, if one is due.
    pub fn failed(&mut self, now: Instant, failure: Failure) -> Option<LogLine> {
        if failure == Failure::Refused {
            self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
            self.last_failure = Some(now);
        }
        self.unlogged_failures += 1;
        let due = self.last_logged.is_none_or(|at| now >= at + LOG_EVERY);
        if !due {
            return None;
        }
        self.last_logged = Some(now);
        self.failing_logged = true;
        let failures = std::mem::take(&mut self.unlogged_failures);
        Some(LogLine::Failing { failures })
    }

    /// Records a successful call: the backoff ends; returns the recovery line if a failing line was written since
    /// the last one (with the failures not yet logged).
    pub fn succeeded(&mut self) -> Option<LogLine> {
        self.failures_in_a_row = 0;
        self.last_failure = None;
        if !std::mem::take(&mut self.failing_logged) {
            return None;
        }
        let failures = std::mem::take(&mut self.unlogged_failures);
        Some(LogLine::Recovered { failures })
    }
}

/// The wait after `failures_in_a_row` failures.
pub fn retry_delay(failures_in_a_row: u32) -> Duration {
    if failures_in_a_row == 0 {
        return Duration::ZERO;
    }
    let doublings = (failures_in_a_row - 1).min(16);
    RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_from_the_first_and_stops_at_the_max() {
        let cases = [(0, 0), (1, 20), (2, 40), (3, 80), (4, 160), (5, 250), (6, 250), (u32::MAX, 250)];
        for (failures, expected_ms) in cases {
            assert_eq!(retry_delay(failures), Duration::from_millis(expected_ms), "after {failures} failures");
        }
    }

    #[test]
    fn a_peer_that_keeps_failing_is_logged_once_per_period_and_once_on_recovery() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let refused = Failure::Refused;
        let mut state = RetryState::default();
        assert_eq!(state.not_before(), None);
        assert_eq!(state.failed(start, refused), Some(LogLine::Failing { failures: 1 }));
        assert_eq!(state.not_before(), Some(start + RETRY_FIRST));
        // 1,000 more failures within the period: no line, and the backoff has reached its longest.
        for n in 1..=1_000u64 {
            assert_eq!(state.failed(at(n), refused), None);
        }
        assert_eq!(state.not_before(), Some(at(1_000) + RETRY_MAX));
        let later = start + LOG_EVERY + Duration::from_secs(1);
        assert_eq!(state.failed(later, refused), Some(LogLine::Failing { failures: 1_001 }));
        assert_eq!(state.failed(later + Duration::from_millis(1), refused), None);
        assert_eq!(state.succeeded(), Some(LogLine::Recovered { failures: 1 }));
        assert_eq!(state.not_before(), None);
        assert_eq!(state.succeeded(), None);
        // The next run of failures is logged at once if the last line is a period old.
        let much_later = later + LOG_EVERY;
        assert_eq!(state.failed(much_later, refused), Some(LogLine::Failing { failures: 1 }));
    }

    #[test]
    fn a_peer_that_fails_and_answers_by_turns_is_logged_once_per_period() {
        let start = Instant::now();
        let mut state = RetryState::default();
        let mut lines = 0;
        // A failure and a success every 50 ms for 20 s: a failing and a recovery line in each 10 s period.
        for n in 0..400u64 {
            let now = start + Duration::from_millis(50 * n);
            lines += usize::from(state.failed(now, Failure::TimedOut).is_some());
            lines += usize::from(state.succeeded().is_some());
        }
        assert_eq!(lines, 4);
    }

    #[test]
    fn a_call_that_ran_out_of_time_is_logged_but_not_backed_off() {
        let start = Instant::now();
        let mut state = RetryState::default();
        assert_eq!(state.failed(start, Failure::TimedOut), Some(LogLine::Failing { failures: 1 }));
        assert_eq!(state.failed(start + Duration::from_millis(50), Failure::TimedOut), None);
        assert_eq!(state.not_before(), None);
        assert_eq!(state.failed(start + Duration::from_millis(100), Failure::Refused), None);
        assert_eq!(state.not_before(), Some(start + Duration::from_millis(100) + RETRY_FIRST));
        assert_eq!(state.succeeded(), Some(LogLine::Recovered { failures: 2 }));
    }
}
