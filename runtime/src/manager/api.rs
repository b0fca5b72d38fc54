//! The cluster API's vocabulary: the paths a manager serves on its cluster address next to Raft's RPCs, and their
//! request and reply bodies, shared by the managers, the daemons that join and follow them, and every client of
//! a cluster (`client::ClusterClient`, the CLI's status, the tests). Proposals travel in postcard
//! (`ProposeRequest` → `Result<Committed, ProposeError>`, both in `crate::propose`); everything else is JSON.
//! Every failure is an HTTP status with a plain-text message, in Docker's words where Docker has them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::raft::types::{NodeId, Proposal};

/// A proposal (postcard `ProposeRequest`), answered with a postcard `Result<Committed, ProposeError>`.
pub const PATH_PROPOSE: &str = "/cluster/propose";
/// Takes a manager out of the voters (JSON `RemoveManagerRequest`); served by the leader.
pub const PATH_REMOVE_MANAGER: &str = "/cluster/managers/remove";
/// This manager's `ManagerStatus` (JSON).
pub const PATH_STATUS: &str = "/cluster/status";
/// This manager's applied store (JSON), for tests and debugging.
pub const PATH_STORE: &str = "/cluster/store";
/// A node presenting a join token (JSON `ClusterJoinRequest`); served by the leader.
pub const PATH_JOIN: &str = "/cluster/join";
/// A node's request for a new certificate (`RenewRequest` → `IssuedCertificate`), served by the leader.
pub const PATH_CA_RENEW: &str = "/cluster/ca/renew";
/// Where the leader tells a node what role the store wants it in (JSON `NodeRoleRequest` → `NodeRoleReply`).
pub const PATH_NODE_ROLE: &str = "/cluster/node-role";
/// A worker the store wants as a manager asks to be added to the voters (JSON `PromoteRequest`).
pub const PATH_PROMOTE: &str = "/cluster/promote";
/// The leader's `ClusterView` (JSON), for followers serving a control-API read.
pub const PATH_VIEW: &str = "/cluster/view";
/// Prefix of the node-local API (container logs), served by `ManagerConfig::node_api`.
pub const PATH_NODE_PREFIX: &str = "/node/";
/// Prefix of a dispatcher call a follower forwarded: served by the leader, never forwarded again.
pub const PATH_DISPATCHER_ON_LEADER: &str = "/leader";

/// Docker's words for a token that admits nobody.
pub const INVALID_JOIN_TOKEN: &str = "A valid join token is necessary to join this cluster";

/// A proposal as sent to any manager.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProposeRequest {
    pub proposal: Proposal,
    /// Set by a follower forwarding to the leader; a forwarded proposal is never forwarded again.
    pub forwarded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveManagerRequest {
    pub node_id: NodeId,
}

/// A node asking to join (`swarm join`): its token, and either its certificate signing request (the first call,
/// without a certificate) or, for a manager, its Raft id (the second call, with the certificate it got).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterJoinRequest {
    pub token: String,
    /// Set once the joining node's Raft server runs: with a manager token, it is then added to the voters.
    pub raft_id: Option<NodeId>,
    pub addr: String,
    /// The PEM of the joining node's certificate signing request (first call).
    #[serde(default)]
    pub csr_pem: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterJoinReply {
    pub role: swarm_core::NodeRole,
    pub cluster_id: String,
    /// Every manager's address (workers talk to any of them).
    pub managers: Vec<String>,
    /// The node's certificate (answering a signing request).
    #[serde(default)]
    pub certificate: Option<IssuedCertificate>,
}

/// A certificate the root CA issued, with what the node needs beside it. Its `Debug` leaves the CA's key out.
#[derive(Clone, Serialize, Deserialize)]
pub struct IssuedCertificate {
    /// The node id the certificate names (chosen by the issuer).
    pub node_id: String,
    pub role: swarm_core::NodeRole,
    pub cert_pem: String,
    pub root_pem: String,
    /// The root CA's private key (PKCS#8 PEM), for a manager only: managers sign certificates.
    pub ca_key_pem: Option<String>,
    /// The certificate of that key when it is not `root_pem` (during a root rotation a manager keeps the current
    /// root's key while its certificate comes from the new root).
    #[serde(default)]
    pub ca_cert_pem: Option<String>,
    /// During a root rotation: the cross-signed certificate to present after `cert_pem`.
    #[serde(default)]
    pub intermediates_pem: Vec<String>,
    /// Roots to trust beside `root_pem` (the current root, during a rotation).
    #[serde(default)]
    pub other_roots_pem: Vec<String>,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("node_id", &self.node_id)
            .field("role", &self.role)
            .field("ca_key_pem", &self.ca_key_pem.as_ref().map(|_| "(redacted)"))
            .finish_non_exhaustive()
    }
}

/// A node asking for a new certificate for its own node id, with the role the store wants it in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    pub node_id: String,
    pub csr_pem: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRoleRequest {
    pub node_id: String,
    /// What the node holds: the root of its certificate and the roots it trusts (recorded for `swarm ca`). Left
    /// out when `None`: managers of the build before root rotation refuse unknown fields here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<swarm_core::NodeTls>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRoleReply {
    /// The role `node update --role` / `node promote|demote` set.
    pub wanted: swarm_core::NodeRole,
    /// Whether the node's Raft id is among the voters.
    pub voter: bool,
    /// Every manager's address.
    pub managers: Vec<String>,
    /// What the node should hold: a certificate of `issuing_root_pem`, presented with `intermediates_pem`, and
    /// trust in that root and `other_roots_pem` (a root rotation moves them).
    #[serde(default)]
    pub trust: Option<WantedTrustPem>,
}

/// `tls::held_roots::WantedTrust` as PEM text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedTrustPem {
    pub issuing_root_pem: String,
    pub intermediates_pem: Vec<String>,
    pub other_roots_pem: Vec<String>,
}

/// Answered with every manager's address (JSON list of strings) once the node is a voter.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub node_id: String,
    pub raft_id: NodeId,
    pub addr: String,
}

/// What `status` reports about this manager's view of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagerStatus {
    pub node_id: NodeId,
    pub addr: String,
    pub state: String,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub last_log_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub voters: BTreeMap<NodeId, String>,
    pub learners: BTreeMap<NodeId, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `NodeRoleRequest` as the build before root rotation read it.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct NodeRoleRequestBeforeRotation {
        node_id: String,
    }

    #[test]
    fn a_role_request_without_a_report_reads_as_the_previous_build_s() {
        let report = swarm_core::NodeTls { cert_root_digest: "a".into(), trusted_root_digests: vec!["a".into()] };
        let with = serde_json::to_vec(&NodeRoleRequest { node_id: "n1".into(), tls: Some(report) }).unwrap();
        let error = serde_json::from_slice::<NodeRoleRequestBeforeRotation>(&with).unwrap_err().to_string();
        assert!(error.contains("unknown field"), "what the node's retry looks for: {error}");
        let without = serde_json::to_vec(&NodeRoleRequest { node_id: "n1".into(), tls: None }).unwrap();
        assert!(serde_json::from_slice::<NodeRoleRequestBeforeRotation>(&without).is_ok());
    }
}
