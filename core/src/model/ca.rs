//! The cluster's root CA as the store knows it (`ClusterCa`): which root nodes trust and managers issue from, a
//! root rotation in progress (`swarm ca --rotate`), and what each node last said about its own TLS (which root
//! issued its certificate, which roots it trusts). Core holds certificates as opaque DER and keys only sealed:
//! digests and sealing are the runtime's. The invariant it helps keep: a rotation finishes only once every node
//! of the store holds a certificate of the new root and trusts it (`ClusterCa::nodes_still_to_move`), so dropping
//! the old root never locks out a node, even one that was down for a while.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::Timestamp;
use super::node::Node;
use super::secret::SealedData;

/// The store's view of the cluster's root CA.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterCa {
    /// The root CA certificate (DER) of the last finished rotation; empty while the cluster still uses the root
    /// `swarm init` made, which every manager keeps on disk.
    pub root_cert: Vec<u8>,
    /// That root's digest (as join tokens carry it); empty with `root_cert`.
    pub root_digest: String,
    /// That root's private key, sealed with the sealing key of the root before it, so a manager that slept
    /// through the rotation can still take it up; `None` with `root_cert`.
    pub root_key: Option<SealedData>,
    /// The id of the key secrets' values are sealed with since the last finished rotation (its root's sealing
    /// key); empty until the first. A value sealed with another key is refused then: it came from a manager that
    /// had not seen the rotation, and the retired key will be gone.
    pub sealing_key_id: String,
    /// A rotation in progress.
    pub rotation: Option<CaRotation>,
    /// What each node last reported of its TLS (`SetNodeTls`); dropped with the node.
    pub node_tls: BTreeMap<String, NodeTls>,
}

/// A root rotation in progress: managers issue from the new root; nodes renew into it and trust both roots until
/// it finishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaRotation {
    /// The new root certificate (DER, self-signed).
    pub new_root_cert: Vec<u8>,
    /// Its digest, as join tokens will carry it.
    pub new_root_digest: String,
    /// Its private key, sealed with the current root's sealing key.
    pub new_root_key: SealedData,
    /// The new root's certificate signed by the current root: the intermediate with which nodes that trust only
    /// the current root accept certificates of the new one.
    pub cross_signed_cert: Vec<u8>,
    /// The id of the sealing key derived from the new root (`SealedData::key_id` of values sealed with it).
    pub new_key_id: String,
    pub started_at: Timestamp,
}

/// What a node reported of its own TLS: the digests of the root that issued its certificate and of the roots it
/// trusts, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeTls {
    pub cert_root_digest: String,
    pub trusted_root_digests: Vec<String>,
}

impl NodeTls {
    /// Whether this node holds a certificate of root `digest` and trusts it.
    pub fn moved_to(&self, digest: &str) -> bool {
        self.cert_root_digest == digest && self.trusted_root_digests.iter().any(|d| d == digest)
    }

    /// Whether root `digest` is the only root this node trusts, and issued its certificate.
    pub fn only_trusts(&self, digest: &str) -> bool {
        self.cert_root_digest == digest && self.trusted_root_digests == [digest]
    }
}

impl ClusterCa {
    /// Whether a secret's value sealed with key `key_id` may enter the store now: any key before the first
    /// rotation; the current key or a rotation's new key after it (during a rotation the leader reseals the rest).
    pub fn accepts_sealing_key(&self, key_id: &str) -> bool {
        self.sealing_key_id.is_empty()
            || self.sealing_key_id == key_id
            || self.rotation.as_ref().is_some_and(|rotation| rotation.new_key_id == key_id)
    }

    /// The nodes among `nodes` that do not yet hold a certificate of the new root and trust it: the rotation waits
    /// for every one of them, down or not — after the end a node on the old root would be refused by every manager
    /// and could only join again. A node that will not come back leaves the wait with `node rm`.
    pub fn nodes_still_to_move<'a>(&self, rotation: &CaRotation, nodes: impl Iterator<Item = &'a Node>) -> Vec<String> {
        nodes
            .filter(|node| !self.node_tls.get(&node.id).is_some_and(|tls| tls.moved_to(&rotation.new_root_digest)))
            .map(|node| node.id.clone())
            .collect()
    }
}

/// How far the nodes are on the way to root `desired` (`swarm ca --rotate`'s two progress bars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaProgress {
    /// Nodes of the swarm.
    pub nodes: u64,
    /// Of them, those holding a certificate of `desired` ("rotated TLS certificates").
    pub certificates: u64,
    /// Of them, those trusting `desired` alone ("rotated CA certificates").
    pub trust: u64,
}

impl ClusterCa {
    /// The progress of `nodes` towards root `desired`.
    pub fn progress<'a>(&self, desired: &str, nodes: impl Iterator<Item = &'a Node>) -> CaProgress {
        let mut progress = CaProgress::default();
        for node in nodes {
            progress.nodes += 1;
            let tls = self.node_tls.get(&node.id);
            progress.certificates += u64::from(tls.is_some_and(|tls| tls.cert_root_digest == desired));
            progress.trust += u64::from(tls.is_some_and(|tls| tls.only_trusts(desired)));
        }
        progress
    }
}
