//! `<data-dir>/node.json`: what this node is in which swarm (its store id, role, addresses, the managers it
//! knows), and `<data-dir>/node-id`: its Raft id. Invariant: `node.json` is replaced atomically (write a temporary
//! file, fsync, rename), so a crash leaves the old or the new record, never half of one; a damaged record stops
//! the daemon with a message naming the file rather than being silently replaced.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use swarm_core::{NodeAvailability, NodeRole};

const FILE_NAME: &str = "node.json";

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
    pub fn load(data_dir: &Path) -> Result<Option<NodeFile>, String> {
        let path = data_dir.join(FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: not a node record ({e}); refusing to start", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn save(&self, data_dir: &Path) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(self).expect("JSON encoding of the node record");
        write_atomically(&data_dir.join(FILE_NAME), &bytes)
    }

    pub fn remove(data_dir: &Path) -> Result<(), String> {
        let path = data_dir.join(FILE_NAME);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }
}

/// The Raft id kept in `<data-dir>/node-id`, chosen at random the first time.
pub fn raft_id(data_dir: &Path) -> Result<u64, String> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u64>().map_err(|e| format!("{}: not a node id ({e})", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = loop {
                let candidate: u64 = rand::random::<u64>() >> 1;
                if candidate != 0 {
                    break candidate;
                }
            };
            write_atomically(&path, format!("{id}\n").as_bytes())?;
            Ok(id)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Forgets the Raft log, snapshots and Raft id (a node starting or leaving a swarm begins afresh).
pub fn clear_raft_data(data_dir: &Path) -> Result<(), String> {
    let raft = data_dir.join("raft");
    match std::fs::remove_dir_all(&raft) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", raft.display())),
    }
    match std::fs::remove_file(data_dir.join("node-id")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", data_dir.join("node-id").display())),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(dir) = path.parent() {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}
