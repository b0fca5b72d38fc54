//! Who the managers are: adding a manager (as a learner until it caught up, then as a voter), removing one, the
//! leader's answers to a node presenting a join token, asking which role the store wants it in, or asking to be
//! promoted. Invariant: only the leader changes the Raft membership, and only for a node the store admits — a
//! valid manager token, or a node the store wants as a manager; a follower relays these requests to the leader.

use std::collections::BTreeSet;

use bytes::Bytes;
use hyper::StatusCode;
use openraft::{BasicNode, ChangeMembers};

use super::access::Admitted;
use super::api::{
    ClusterJoinReply, ClusterJoinRequest, NodeRoleReply, NodeRoleRequest, PromoteRequest, RemoveManagerRequest,
    WantedTrustPem, INVALID_JOIN_TOKEN, PATH_JOIN, PATH_NODE_ROLE, PATH_PROMOTE, PATH_REMOVE_MANAGER,
};
use super::Manager;
use crate::http::{CallError, Reply};
use crate::propose::NO_LEADER_MESSAGE;
use crate::raft::types::NodeId;
use crate::tls::identity::certificate_pem;

/// The refusal of a Raft id presented without a manager's certificate or with a worker token.
const JOIN_AS_MANAGER_NEEDS_CERTIFICATE: &str =
    "Permission denied: joining the managers needs a manager token and the manager certificate it got";

/// openraft's refusal of a membership change.
type ChangeError = openraft::error::RaftError<NodeId, openraft::error::ClientWriteError<NodeId, BasicNode>>;

/// Why adding or removing a manager failed.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// No leader is known to forward a removal to.
    #[error("{NO_LEADER_MESSAGE}")]
    NoLeader,
    #[error("{NO_LEADER_MESSAGE} (this manager stopped leading while adding manager {node_id})")]
    NotLeader { node_id: NodeId },
    #[error("adding manager {node_id} as learner: {source}")]
    AddLearner { node_id: NodeId, source: Box<ChangeError> },
    #[error("promoting manager {node_id} to voter: {source}")]
    AddVoter { node_id: NodeId, source: Box<ChangeError> },
    #[error("removing manager {node_id}: {source}")]
    RemoveVoter { node_id: NodeId, source: Box<ChangeError> },
    /// The leader refused the forwarded request, or could not be reached.
    #[error(transparent)]
    OnLeader(#[from] CallError),
}

impl Manager {
    /// Adds a manager: as a learner until it caught up, then as a voter. Only the leader does this (`join` forwards
    /// the request there after checking the token).
    pub async fn add_manager(&self, node_id: NodeId, addr: String) -> Result<(), MembershipError> {
        if !self.is_leader() {
            return Err(MembershipError::NotLeader { node_id });
        }
        self.raft
            .add_learner(node_id, BasicNode { addr }, true)
            .await
            .map_err(|e| MembershipError::AddLearner { node_id, source: Box::new(e) })?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([node_id])), false)
            .await
            .map_err(|e| MembershipError::AddVoter { node_id, source: Box::new(e) })?;
        Ok(())
    }

    /// Removes a manager from the voters and the membership. Runs on the leader (forwarded if not).
    pub async fn remove_manager(&self, node_id: NodeId) -> Result<(), MembershipError> {
        if !self.is_leader() {
            let body = serde_json::to_vec(&RemoveManagerRequest { node_id }).expect("JSON encoding");
            return self.admin_on_leader(PATH_REMOVE_MANAGER, body).await;
        }
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([node_id])), false)
            .await
            .map_err(|e| MembershipError::RemoveVoter { node_id, source: Box::new(e) })?;
        Ok(())
    }

    /// Serves a removal forwarded by a follower: `{ "ok": true }`, or a 503 naming the failure.
    pub(super) async fn serve_remove_manager(&self, request: RemoveManagerRequest) -> Reply {
        match self.remove_manager(request.node_id).await {
            Ok(()) => Reply::json(StatusCode::OK, &serde_json::json!({ "ok": true })),
            Err(error) => Reply::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
        }
    }

    /// What role the store wants `node_id` in, and whether it is a voter (served by the leader).
    pub(super) async fn node_role(&self, request: NodeRoleRequest, body: Bytes) -> Reply {
        if !self.is_leader() {
            return self.relay_to_leader(PATH_NODE_ROLE, body).await;
        }
        let status = self.status();
        let found = self.state.read(|store| {
            store.node(&request.node_id).map(|node| (node.spec.role, node.manager_status.as_ref().map(|m| m.raft_id)))
        });
        let Some((wanted, raft_id)) = found else {
            return Reply::error(StatusCode::NOT_FOUND, format!("node {} not found", request.node_id));
        };
        let voter = raft_id.is_some_and(|id| status.voters.contains_key(&id));
        let managers = status.voters.into_values().collect();
        if let Some(tls) = request.tls {
            if let Err(reason) = self.record_node_tls(&request.node_id, tls).await {
                tracing::warn!(node = %request.node_id, %reason, "cannot record a node's TLS report");
            }
        }
        let trust = self.wanted_trust().ok().map(|trust| WantedTrustPem {
            issuing_root_pem: certificate_pem(&trust.issuing),
            intermediates_pem: trust.intermediates.iter().map(|der| certificate_pem(der)).collect(),
            other_roots_pem: trust.other_roots.iter().map(|der| certificate_pem(der)).collect(),
        });
        Reply::json(StatusCode::OK, &NodeRoleReply { wanted, voter, managers, trust })
    }

    /// Adds a node the store wants as a manager (`node promote`) to the voters (served by the leader).
    pub(super) async fn promote(&self, request: PromoteRequest, body: Bytes) -> Reply {
        if !self.is_leader() {
            return self.relay_to_leader(PATH_PROMOTE, body).await;
        }
        let wanted = self.state.read(|store| store.node(&request.node_id).map(|n| n.spec.role));
        if wanted != Some(swarm_core::NodeRole::Manager) {
            return Reply::error(StatusCode::FORBIDDEN, format!("node {} is not to be a manager", request.node_id));
        }
        if let Err(error) = self.add_manager(request.raft_id, request.addr.clone()).await {
            return Reply::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string());
        }
        let managers: Vec<String> = self.status().voters.into_values().collect();
        Reply::json(StatusCode::OK, &managers)
    }

    /// Checks a join token on the leader (forwarding there). A first call, without a certificate, brings a signing
    /// request and gets the node its id and certificate; a manager's second call, with that certificate, brings its
    /// Raft id and is added to the voters.
    pub(super) async fn join(&self, admitted: &Admitted, request: ClusterJoinRequest, body: Bytes) -> Reply {
        // Checked where the request arrives: a relayed one reaches the leader with the relaying manager's certificate.
        if request.raft_id.is_some() && !admitted.is_manager() {
            return Reply::error(StatusCode::FORBIDDEN, JOIN_AS_MANAGER_NEEDS_CERTIFICATE);
        }
        if !self.is_leader() {
            return self.relay_to_leader(PATH_JOIN, body).await;
        }
        let admitted_role = self.state.read(|store| {
            store.cluster().and_then(|c| c.join_tokens.role_of(&request.token).map(|role| (role, c.id.clone())))
        });
        let Some((role, cluster_id)) = admitted_role else {
            return Reply::error(StatusCode::FORBIDDEN, INVALID_JOIN_TOKEN);
        };
        let certificate = match (&request.csr_pem, request.raft_id) {
            (Some(csr_pem), None) => match self.issue_certificate(csr_pem, &crate::ids::random_id(), role) {
                Ok(issued) => Some(issued),
                Err(refusal) => return refusal,
            },
            (None, Some(raft_id)) if role == swarm_core::NodeRole::Manager => {
                if let Err(error) = self.add_manager(raft_id, request.addr.clone()).await {
                    return Reply::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string());
                }
                None
            }
            (None, Some(_)) => return Reply::error(StatusCode::FORBIDDEN, JOIN_AS_MANAGER_NEEDS_CERTIFICATE),
            _ => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    "a join request carries either a certificate signing request or a Raft id",
                )
            }
        };
        let managers = self.status().voters.into_values().collect();
        Reply::json(StatusCode::OK, &ClusterJoinReply { role, cluster_id, managers, certificate })
    }
}
