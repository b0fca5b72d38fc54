//! The wall clock as the core takes it: `Timestamp`s in milliseconds since the UNIX epoch, read here at the edge
//! and passed into the pure core with each decision and proposal. Invariant: it reads `SystemTime`, which madsim
//! virtualises, so under the simulator every reading is deterministic.

use std::time::{SystemTime, UNIX_EPOCH};

use swarm_core::Timestamp;

/// The wall clock in milliseconds since the UNIX epoch (simulated under madsim).
pub fn wall_clock_now() -> Timestamp {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    Timestamp(u64::try_from(millis).unwrap_or(u64::MAX))
}
