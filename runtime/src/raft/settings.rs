//! Raft timing and log-compaction settings, and how they become openraft's `Config`. Invariant: openraft's own
//! election timer stays off (ours, `election_timer`, starts elections) and the lease during which a follower
//! refuses to vote for another candidate ends before our shortest election timeout.

use openraft::{Config, SnapshotPolicy};
use serde::{Deserialize, Serialize};

/// Entries per append-entries RPC (openraft's `max_payload_entries`).
pub const REPLICATION_ENTRIES_MAX: u64 = 16;

/// Raft timing and log-compaction settings. openraft runs with `single-term-leader`: classic Raft, at most one
/// leader per term (its default allows several per term, ordered by node id). Defaults: heartbeat 50 ms and an
/// election after 500–800 ms of leader silence (drawn per term; `election_timer`), longer than the gap between
/// heartbeats under the simulator's worst latency spikes (400 ms) yet short enough that a lost leader is replaced
/// within a second (`leader_loss_recover_p99_s` in `cargo sim-bench`; a split vote is retried 125 ms later, by
/// rank, not after another random timeout); SwarmKit's compaction defaults (a
/// snapshot every 10,000 entries, 500 entries kept for slow followers).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RaftSettings {
    pub heartbeat_interval_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    pub snapshot_interval_entries: u64,
    pub log_entries_for_slow_followers: u64,
    /// Purge the log only once this many entries are purgeable (openraft's default, 256).
    pub purge_batch_entries: u64,
    pub snapshot_chunk_bytes: u64,
    pub propose_timeout_ms: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 50,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 800,
            snapshot_interval_entries: 10_000,
            log_entries_for_slow_followers: 500,
            purge_batch_entries: 256,
            snapshot_chunk_bytes: 3 * 1024 * 1024,
            propose_timeout_ms: 5_000,
        }
    }
}

impl RaftSettings {
    /// openraft's configuration for these settings (to be validated).
    pub fn openraft_config(&self) -> Config {
        Config {
            cluster_name: "swarm".to_string(),
            heartbeat_interval: self.heartbeat_interval_ms,
            // openraft's own election timer is off (`enable_elect`); its timeouts only set the leader lease
            // (= its election_timeout_max), during which a follower refuses to vote for another candidate. It must
            // end before our shortest election timeout, or the first candidate after a leader's death is refused.
            election_timeout_min: self.election_timeout_min_ms / 2,
            election_timeout_max: self.election_timeout_min_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_interval_entries),
            max_in_snapshot_log_to_keep: self.log_entries_for_slow_followers,
            purge_batch_size: self.purge_batch_entries.max(1),
            snapshot_max_chunk_size: self.snapshot_chunk_bytes,
            max_payload_entries: REPLICATION_ENTRIES_MAX,
            install_snapshot_timeout: 2_000,
            // Elections are triggered by `election_timer`, which re-randomises the timeout every time.
            enable_elect: false,
            ..Default::default()
        }
    }
}
