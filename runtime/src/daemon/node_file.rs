//! `<data-dir>/node.json`: what this node is in which swarm (its store id, role, addresses, the managers it
//! knows), `<data-dir>/node-id`: its Raft id, and `<data-dir>/raft/`: its Raft storage. Invariant: both files are
//! replaced through `Disk::write_atomic`, so a crash leaves the old or the new record, never half of one; a
//! damaged record stops the daemon with a message naming the file rather than being silently replaced.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use swarm_core::{NodeAvailability, NodeRole};

use crate::storage::disk::Disk;
use crate::storage::fs_disk::FsDisk;

const FILE_NAME: &str = "node.json";
const RAFT_ID_FILE_NAME: &str = "node-id";
/// The directory of the Raft log and snapshots, inside the data directory.
pub const RAFT_DIR: &str = "raft";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFile {
    pub node_id: String,
    pub role: NodeRole,
    pub cluster_id: String,
    pub listen_addr: SocketAddr,
    pub advertise_addr: String,
    /// Managers to contact (a worker's agent tries them in turn).
    pub managers: Vec<String>,
    /// The availability the node registers with the first time.
    pub availability: NodeAvailability,
}

impl NodeFile {
    pub fn load(data: &FsDisk) -> Result<Option<NodeFile>, String> {
        let path = data.dir().join(FILE_NAME);
        match data.read(FILE_NAME) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: not a node record ({e}); refusing to start", path.display())),
            Ok(None) => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn save(&self, data: &FsDisk) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(self).expect("JSON encoding of the node record");
        data.write_atomic(FILE_NAME, &bytes).map_err(|e| format!("{}: {e}", data.dir().join(FILE_NAME).display()))
    }

    pub fn remove(data: &FsDisk) -> Result<(), String> {
        data.remove(FILE_NAME).map_err(|e| format!("{}: {e}", data.dir().join(FILE_NAME).display()))
    }
}

/// The Raft id kept in `<data-dir>/node-id`, chosen at random the first time.
pub fn raft_id(data: &FsDisk) -> Result<u64, String> {
    let path = data.dir().join(RAFT_ID_FILE_NAME);
    match data.read(RAFT_ID_FILE_NAME) {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes)
            .trim()
            .parse::<u64>()
            .map_err(|e| format!("{}: not a node id ({e})", path.display())),
        Ok(None) => {
            let id = loop {
                let candidate: u64 = rand::random::<u64>() >> 1;
                if candidate != 0 {
                    break candidate;
                }
            };
            data.write_atomic(RAFT_ID_FILE_NAME, format!("{id}\n").as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(id)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Forgets the Raft log, snapshots and Raft id (a node starting or leaving a swarm begins afresh).
pub fn clear_raft_data(data: &FsDisk) -> Result<(), String> {
    let raft = data.dir().join(RAFT_DIR);
    match std::fs::remove_dir_all(&raft) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", raft.display())),
    }
    data.remove(RAFT_ID_FILE_NAME).map_err(|e| format!("{}: {e}", data.dir().join(RAFT_ID_FILE_NAME).display()))
}
