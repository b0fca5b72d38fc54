//! Ids for new objects (clusters, nodes, services, tasks, sessions), drawn at the edge and passed into the pure
//! core. Invariant: they come from the runtime's RNG (`SwarmRuntime::thread_rng`, madsim's seeded RNG in the
//! simulator), never from an OS random source, so a seed replays the same ids.

use rand::Rng;
use swarm_core::IdSource;

use crate::raft::rt::SwarmRuntime;

/// The length of an id.
pub const ID_CHARS: usize = 25;

/// Docker-style ids: 25 characters of lowercase base 36, from the runtime's RNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

pub fn random_id() -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = <SwarmRuntime as openraft::AsyncRuntime>::thread_rng();
    (0..ID_CHARS).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

impl IdSource for RandomIds {
    fn next_id(&mut self) -> String {
        random_id()
    }
}
