//! Byte encodings of the store (snapshots) and of proposals (Raft entry payloads). Both are one format-version
//! byte followed by the postcard encoding of the value. It owns two guarantees: encoding is deterministic (ordered
//! maps only, derived indexes left out), so equal stores encode to identical bytes; and decoding never panics on
//! any input: empty, truncated, unknown-version, malformed, trailing-byte or internally inconsistent input is a
//! typed `DecodeError`. A snapshot of the previous format version still decodes (a manager restarted on a newer build
//! loads what the older one wrote; and the one before, format 8), and so does a batch of proposals of the previous format (the entries in a
//! Raft log that the older build wrote): `v8` holds the shapes of snapshot format 8 and `proposal_v6` those of
//! proposal format 6, each with its conversions to and from today's types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::Proposal;
use crate::model::{Cluster, Config, Network, Node, NodeTunnel, RemovedNode, Secret, Service, Task};
use crate::store::Store;

mod proposal_v6;
mod v8;
mod v9;
pub use proposal_v6::{deserialize_proposals_v6, serialize_proposals_v6};
use v8::SnapshotV8;
use v9::SnapshotV9;

/// The first byte of every snapshot this code writes. Version 2: the full service spec (`spec/`). Version 3:
/// `Service::spec_history` and `Service::update_status`, `Task::running_since`. Version 5: `Store::removed_nodes`.
/// Version 6: overlay networks' allocations, services' virtual IPs, tasks' addresses, the address pools in the
/// cluster settings. Version 7: the container options of the task template (stop signal, capabilities, sysctls,
/// ulimits, hosts, DNS config, read-only root, init, tmpfs options, log driver). Version 8: the nodes' tunnel
/// records (`Store::tunnels`). Version 9: secrets and configs, the spec's secret and config references, the
/// cluster's node certificate expiry. Version 10: the cluster's root CA state (`ClusterCa`: rotation, node TLS
/// reports). Versions 9 (`v9`) and 8 (`v8`) still decode; older ones do not.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 10;
/// The previous snapshot format, which `Store::decode_snapshot` still reads (`v9`).
pub const SNAPSHOT_FORMAT_VERSION_PREVIOUS: u8 = 9;
/// The format before that, still read too (`v8`).
pub const SNAPSHOT_FORMAT_VERSION_8: u8 = 8;
/// The first byte of every encoded proposal this code writes. Version 2: the full service spec (`spec/`).
/// Version 3: `Task::running_since` (in `CreateTasks`), `RollbackService` and `SetServiceUpdateStatus`.
/// Version 5: network allocation (`AllocateTask`, `SetServiceVirtualIps`, `AttachNode`, the new spec fields).
/// Version 6: the container options of the task template (as snapshot version 7); `SetNodeTunnel` was appended to
/// it later, which leaves every entry written before decoding as it did. Version 7: secrets and configs
/// (`CreateSecret`, `RemoveSecret`, `CreateConfig`, `RemoveConfig`), the spec's secret and config references, the
/// cluster's node certificate expiry (as snapshot version 9). The root CA rotation commands (`StartCaRotation`,
/// `SetNodeTls`, `ResealSecrets`, `FinishCaRotation`) were appended to format 7 later, as `SetNodeTunnel` was to 6:
/// entries written before them decode unchanged, and a build before them refuses them as unknown.
pub const PROPOSAL_FORMAT_VERSION: u8 = 7;
/// The previous proposal format, which Raft log entries written by the previous build still carry
/// (`deserialize_proposals_v6`).
pub const PROPOSAL_FORMAT_VERSION_PREVIOUS: u8 = 6;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum DecodeError {
    #[error("empty input: expected a format version byte")]
    Empty,
    #[error("unknown format version {found} (this build reads version {supported})")]
    UnknownFormatVersion { found: u8, supported: u8 },
    #[error("malformed body at byte offset {offset}: {reason}")]
    Malformed { offset: u64, reason: String },
    #[error("{count} trailing bytes after the body at byte offset {offset}")]
    TrailingBytes { offset: u64, count: u64 },
    #[error("inconsistent snapshot: {reason}")]
    Inconsistent { reason: String },
}

/// Snapshot decoding errors.
pub type SnapshotError = DecodeError;

#[derive(Serialize)]
struct SnapshotRef<'a> {
    cluster: &'a Option<Cluster>,
    nodes: &'a BTreeMap<String, Node>,
    services: &'a BTreeMap<String, Service>,
    tasks: &'a BTreeMap<String, Task>,
    networks: &'a BTreeMap<String, Network>,
    removed_nodes: &'a Vec<RemovedNode>,
    tunnels: &'a BTreeMap<String, NodeTunnel>,
    secrets: &'a BTreeMap<String, Secret>,
    configs: &'a BTreeMap<String, Config>,
}

/// Today's snapshot body, decoded.
use crate::store::StoreParts as SnapshotOwned;

fn encode<T: Serialize>(format_version: u8, value: &T) -> Vec<u8> {
    let mut bytes = vec![format_version];
    // Serializing plain data structs into a Vec cannot fail.
    bytes.extend(postcard::to_stdvec(value).expect("postcard encoding into a Vec is infallible"));
    bytes
}

fn decode<T: for<'de> Deserialize<'de>>(format_version: u8, bytes: &[u8]) -> Result<T, DecodeError> {
    let (&found, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if found != format_version {
        return Err(DecodeError::UnknownFormatVersion { found, supported: format_version });
    }
    let mut deserializer = postcard::Deserializer::from_bytes(body);
    let result = T::deserialize(&mut deserializer);
    let remaining = deserializer.finalize().map(|rest| rest.len()).unwrap_or(0);
    let offset = (1 + body.len() - remaining) as u64;
    match result {
        Err(error) => Err(DecodeError::Malformed { offset, reason: error.to_string() }),
        Ok(_) if remaining > 0 => Err(DecodeError::TrailingBytes { offset, count: remaining as u64 }),
        Ok(value) => Ok(value),
    }
}

impl Store {
    /// `SNAPSHOT_FORMAT_VERSION` followed by the postcard encoding of every object. Deterministic.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let snapshot = SnapshotRef {
            cluster: &self.cluster,
            nodes: &self.nodes,
            services: &self.services,
            tasks: &self.tasks,
            networks: &self.networks,
            removed_nodes: &self.removed_nodes,
            tunnels: &self.tunnels,
            secrets: &self.secrets,
            configs: &self.configs,
        };
        encode(SNAPSHOT_FORMAT_VERSION, &snapshot)
    }

    /// This store in the previous snapshot format (what the previous build wrote), for tests of the upgrade path.
    #[doc(hidden)]
    pub fn encode_snapshot_previous_format(&self) -> Vec<u8> {
        encode(SNAPSHOT_FORMAT_VERSION_PREVIOUS, &SnapshotV9::downgrade(self))
    }

    /// This store in snapshot format 8 (two builds back), for tests of the upgrade path.
    #[doc(hidden)]
    pub fn encode_snapshot_format_8(&self) -> Vec<u8> {
        encode(SNAPSHOT_FORMAT_VERSION_8, &SnapshotV8::downgrade(self))
    }

    /// The inverse of `encode_snapshot`. Rebuilds the derived indexes and rejects a store that breaks an
    /// invariant (`DecodeError::Inconsistent`) instead of panicking later.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Store, SnapshotError> {
        let parts: SnapshotOwned = match bytes.first() {
            Some(&SNAPSHOT_FORMAT_VERSION_PREVIOUS) => {
                let v9: SnapshotV9 = decode(SNAPSHOT_FORMAT_VERSION_PREVIOUS, bytes)?;
                v9.upgrade()
            }
            Some(&SNAPSHOT_FORMAT_VERSION_8) => {
                let v8: SnapshotV8 = decode(SNAPSHOT_FORMAT_VERSION_8, bytes)?;
                v8.upgrade()
            }
            _ => decode(SNAPSHOT_FORMAT_VERSION, bytes)?,
        };
        let store = Store::from_parts(parts);
        match store.invariant_violation() {
            Some(reason) => Err(DecodeError::Inconsistent { reason }),
            None => Ok(store),
        }
    }
}

impl Proposal {
    /// `PROPOSAL_FORMAT_VERSION` followed by the postcard encoding of the proposal. Deterministic.
    pub fn encode(&self) -> Vec<u8> {
        encode(PROPOSAL_FORMAT_VERSION, self)
    }

    /// The inverse of `encode`.
    pub fn decode(bytes: &[u8]) -> Result<Proposal, DecodeError> {
        decode(PROPOSAL_FORMAT_VERSION, bytes)
    }
}
