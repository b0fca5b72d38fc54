//! Whether this process stalled: a SIGSTOP, a paused VM, a starved scheduler. A ticker task notes the time every
//! `TICK`; a gap between ticks (or since the last one) longer than `STALL_MIN` means nothing of this process ran
//! for that long. The leader asks before it judges heartbeats: while it was stalled no node could reach it, so
//! the silence it finds on waking is its own, not the nodes', and must not mark them down (a fault drill saw a
//! frozen leader wake, mark every node down and start each slot's task again elsewhere while the first still ran).
//! Agents count stalls instead (`stall_count`): a driver must not start a container on the strength of assignments
//! it read before a stall (the task may have been replaced while this node was frozen). Invariant: a stall is
//! reported (and counted) at least once, however the ticker and the asker interleave after it.

use std::sync::{Mutex, Weak};
use std::time::Duration;

/// How often the ticker notes the time.
pub const TICK: Duration = Duration::from_millis(100);
/// A gap this long is a stall: ten ticks missed. Below the heartbeat grace (3 s with the default 1 s period),
/// far above a busy scheduler's hiccup.
pub const STALL_MIN: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Ticks {
    last: tokio::time::Instant,
    /// A gap the ticker saw that nobody has asked about yet.
    unreported: bool,
    /// Stalls seen so far.
    count: u64,
}

/// Shared by the ticker (`run`) and the code that asks (`take_stall`).
#[derive(Debug)]
pub struct StallDetector {
    ticks: Mutex<Ticks>,
    /// `Ticks::count`, for those who wait for the next stall.
    counted: crate::watch::Sender<u64>,
}

impl Default for StallDetector {
    fn default() -> Self {
        StallDetector {
            ticks: Mutex::new(Ticks { last: tokio::time::Instant::now(), unreported: false, count: 0 }),
            counted: crate::watch::channel(0).0,
        }
    }
}

impl StallDetector {
    fn tick_at(&self, now: tokio::time::Instant) {
        let mut ticks = self.ticks.lock().expect("stall mutex");
        if now.saturating_duration_since(ticks.last) >= STALL_MIN {
            ticks.unreported = true;
            ticks.count += 1;
            self.counted.send_replace(ticks.count);
        }
        ticks.last = now;
    }

    /// Returns once the stall count exceeds `seen` (noticed by the ticker, or by any asker).
    pub async fn stalled_since(&self, seen: u64) {
        let mut counted = self.counted.subscribe();
        if counted.wait_for(|count| *count > seen).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// How many stalls this process has had, this one included if it is waking from one now (the ticker has not
    /// run for a stall's length): a changed count means something may have happened while it was away.
    pub fn stall_count(&self) -> u64 {
        self.stall_count_at(tokio::time::Instant::now())
    }

    fn stall_count_at(&self, now: tokio::time::Instant) -> u64 {
        let mut ticks = self.ticks.lock().expect("stall mutex");
        if now.saturating_duration_since(ticks.last) >= STALL_MIN {
            // The ticker's own gap is this same stall: counted once.
            ticks.last = now;
            ticks.unreported = true;
            ticks.count += 1;
            self.counted.send_replace(ticks.count);
        }
        ticks.count
    }

    /// Whether the process stalled since the last call: the ticker saw a gap, or it has not ticked for a stall's
    /// length (the asker woke first).
    pub fn take_stall(&self) -> bool {
        self.take_stall_at(tokio::time::Instant::now())
    }

    fn take_stall_at(&self, now: tokio::time::Instant) -> bool {
        let mut ticks = self.ticks.lock().expect("stall mutex");
        let overdue = now.saturating_duration_since(ticks.last) >= STALL_MIN;
        let stalled = ticks.unreported || overdue;
        ticks.unreported = false;
        if overdue {
            // The ticker's own gap is this same stall: already reported.
            ticks.last = now;
            ticks.count += 1;
            self.counted.send_replace(ticks.count);
        }
        stalled
    }
}

/// Ticks for `detector` until its owner drops it.
pub async fn run(detector: Weak<StallDetector>) {
    loop {
        tokio::time::sleep(TICK).await;
        match detector.upgrade() {
            Some(detector) => detector.tick_at(tokio::time::Instant::now()),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_is_reported_once_whoever_wakes_first() {
        let detector = StallDetector::default();
        let start = detector.ticks.lock().expect("ticks").last;
        let at = |ms: u64| start + Duration::from_millis(ms);
        for ms in (100..=3_000).step_by(100) {
            detector.tick_at(at(ms));
        }
        assert!(!detector.take_stall_at(at(3_050)), "ticking normally is no stall");
        // The asker wakes first after a stall (nothing ticked for 2 s), then the ticker.
        assert!(detector.take_stall_at(at(5_000)));
        detector.tick_at(at(5_010));
        assert!(!detector.take_stall_at(at(5_020)), "reported once");
        // The ticker wakes first: it notes the gap; the next question reports it, once.
        detector.tick_at(at(7_500));
        assert!(detector.take_stall_at(at(7_510)));
        assert!(!detector.take_stall_at(at(7_520)), "reported once");
        // Just under the threshold is no stall.
        detector.tick_at(at(7_500 + STALL_MIN.as_millis() as u64 - 1));
        assert!(!detector.take_stall_at(at(7_500 + STALL_MIN.as_millis() as u64)));
    }

    #[test]
    fn a_stall_is_counted_once_whoever_wakes_first() {
        let detector = StallDetector::default();
        let start = detector.ticks.lock().expect("ticks").last;
        let at = |ms: u64| start + Duration::from_millis(ms);
        for ms in (100..=2_000).step_by(100) {
            detector.tick_at(at(ms));
        }
        assert_eq!(detector.stall_count_at(at(2_050)), 0);
        // The asker wakes first after a 3 s stall, then the ticker: one stall.
        assert_eq!(detector.stall_count_at(at(5_000)), 1);
        detector.tick_at(at(5_010));
        assert_eq!(detector.stall_count_at(at(5_020)), 1);
        // The ticker wakes first.
        detector.tick_at(at(7_000));
        assert_eq!(detector.stall_count_at(at(7_010)), 2);
        assert_eq!(detector.stall_count_at(at(7_020)), 2);
    }
}
