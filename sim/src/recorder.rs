//! Everything the checkers need to see, recorded while a scenario runs: applied-entry digests per manager,
//! leaders per term, snapshot digests, acknowledged proposals, and a trace of injected faults. Recording never
//! panics inside a simulated node and judges nothing: the checkers read the record afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use swarm_runtime::raft::state_machine::RaftObserver;

/// 64-bit FNV-1a: a stable digest for comparing entries and snapshots across managers.
pub fn digest(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[derive(Default)]
pub struct Record {
    /// index → digest of the applied entry → managers that applied exactly that entry there.
    pub applied: BTreeMap<u64, BTreeMap<u64, BTreeSet<u64>>>,
    /// Per manager: the highest index it applied (for progress reports).
    pub applied_per_node: BTreeMap<u64, u64>,
    /// term → managers seen as leader in that term.
    pub leaders: BTreeMap<u64, BTreeSet<u64>>,
    /// index → digest of a locally built snapshot's data → managers that built exactly that.
    pub snapshots: BTreeMap<u64, BTreeMap<u64, BTreeSet<u64>>>,
    pub snapshots_built: u64,
    pub snapshots_installed: u64,
    /// Network ids whose creation a client saw acknowledged.
    pub acknowledged: BTreeSet<String>,
    pub proposals_attempted: u64,
    /// Faults and phase changes, with simulated milliseconds since the start.
    pub trace: Vec<String>,
    pub violations: Vec<String>,
}

#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Record>>,
}

impl Recorder {
    pub fn with<R>(&self, f: impl FnOnce(&mut Record) -> R) -> R {
        f(&mut self.inner.lock().expect("recorder mutex"))
    }

    pub fn trace(&self, line: String) {
        self.with(|r| r.trace.push(line));
    }

    pub fn violation(&self, line: String) {
        self.with(|r| r.violations.push(line));
    }

    pub fn leader(&self, term: u64, node: u64) {
        self.with(|r| {
            r.leaders.entry(term).or_default().insert(node);
        });
    }

    pub fn acknowledged(&self, id: String) {
        self.with(|r| {
            r.acknowledged.insert(id);
        });
    }
}

impl RaftObserver for Recorder {
    fn applied(&self, node: u64, index: u64, entry: &[u8]) {
        let d = digest(entry);
        self.with(|r| {
            r.applied_per_node.insert(node, index);
            r.applied.entry(index).or_default().entry(d).or_default().insert(node);
        });
    }

    fn snapshot_built(&self, node: u64, index: u64, data: &[u8]) {
        let d = digest(data);
        self.with(|r| {
            r.snapshots_built += 1;
            r.snapshots.entry(index).or_default().entry(d).or_default().insert(node);
        });
    }

    fn snapshot_installed(&self, _node: u64, _index: u64) {
        self.with(|r| r.snapshots_installed += 1);
    }
}
