//! `<data-dir>/node.json`: what this node is in which swarm (its store id, role, addresses, the managers it
//! knows), `<data-dir>/node-id`: its Raft id, and `<data-dir>/raft/`: its Raft storage. Invariant: both files are
//! replaced through `Disk::write_atomic`, so a crash leaves the old or the new record, never half of one; a
//! damaged record stops the daemon with a message naming the file rather than being silently replaced.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use swarm_core::{NodeAvailability, NodeRole};

use crate::storage::disk::Disk;
use crate::storage::fs_disk::FsDisk;

const FILE_NAME: &str = "node.json";
const RAFT_ID_FILE_NAME: &str = "node-id";
/// The directory of the Raft log and snapshots, inside the data directory.
pub const RAFT_DIR: &str = "raft";

/// Why a node file could not be read or written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum NodeFileError {
    #[error("{}: not a node record ({source}); refusing to start", path.display())]
    NotARecord { path: PathBuf, source: serde_json::Error },
    #[error("{}: not a node id ({source})", path.display())]
    NotAnId { path: PathBuf, source: std::num::ParseIntError },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// An I/O failure on the file `name` of `data`.
fn io_error(data: &FsDisk, name: &str) -> impl FnOnce(std::io::Error) -> NodeFileError {
    let path = data.dir().join(name);
    move |source| NodeFileError::Io { path, source }
}

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
    pub fn load(data: &FsDisk) -> Result<Option<NodeFile>, NodeFileError> {
        match data.read(FILE_NAME).map_err(io_error(data, FILE_NAME))? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| NodeFileError::NotARecord { path: data.dir().join(FILE_NAME), source }),
            None => Ok(None),
        }
    }

    pub fn save(&self, data: &FsDisk) -> Result<(), NodeFileError> {
        let bytes = serde_json::to_vec_pretty(self).expect("JSON encoding of the node record");
        data.write_atomic(FILE_NAME, &bytes).map_err(io_error(data, FILE_NAME))
    }

    pub fn remove(data: &FsDisk) -> Result<(), NodeFileError> {
        data.remove(FILE_NAME).map_err(io_error(data, FILE_NAME))
    }
}

/// The Raft id kept in `<data-dir>/node-id`, chosen at random the first time.
pub fn raft_id(data: &FsDisk) -> Result<u64, NodeFileError> {
    match data.read(RAFT_ID_FILE_NAME).map_err(io_error(data, RAFT_ID_FILE_NAME))? {
        Some(bytes) => String::from_utf8_lossy(&bytes)
            .trim()
            .parse::<u64>()
            .map_err(|source| NodeFileError::NotAnId { path: data.dir().join(RAFT_ID_FILE_NAME), source }),
        None => {
            let id = loop {
                let candidate: u64 = rand::random::<u64>() >> 1;
                if candidate != 0 {
                    break candidate;
                }
            };
            data.write_atomic(RAFT_ID_FILE_NAME, format!("{id}\n").as_bytes())
                .map_err(io_error(data, RAFT_ID_FILE_NAME))?;
            Ok(id)
        }
    }
}

/// Forgets the Raft log, snapshots and Raft id (a node starting or leaving a swarm begins afresh).
pub fn clear_raft_data(data: &FsDisk) -> Result<(), NodeFileError> {
    match std::fs::remove_dir_all(data.dir().join(RAFT_DIR)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(data, RAFT_DIR)(e)),
    }
    data.remove(RAFT_ID_FILE_NAME).map_err(io_error(data, RAFT_ID_FILE_NAME))
}
