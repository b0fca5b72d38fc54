//! Who may call what on a manager's cluster port: the caller as its TLS connection names it, weighed against the
//! store (removed nodes, the role the store wants a node in). Pure rules, decided per request, so a certificate
//! revoked by `node rm` or a role taken by `node demote` stops working on connections already open, not only on
//! new ones. Invariants: a connection without a certificate may only join; a removed node may call nothing; only
//! a manager's certificate of a node the store does not want as a worker reaches Raft, proposals, reads of the
//! store, membership and other nodes' containers; a worker acts in the dispatcher only as itself.

use hyper::StatusCode;
use swarm_core::NodeRole;

use super::api::{PATH_CA_RENEW, PATH_JOIN, PATH_NODE_ROLE, PATH_PROMOTE};
use crate::dispatcher::api::PATH_PREFIX as PATH_DISPATCHER_PREFIX;
use crate::http::Caller;

/// What a path is, for access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `swarm join` with a token (the token is what admits).
    Join,
    /// A node asking for a new certificate for itself.
    Renew,
    /// An agent's call to the dispatcher, as itself.
    Dispatcher,
    /// A node asking which role the store wants it in, or to be added as a manager: about itself only.
    OwnNode,
    /// Everything else: Raft, proposals, reads, membership, forwarded calls, other nodes' containers.
    ManagerOnly,
}

impl Endpoint {
    pub fn of(path: &str) -> Endpoint {
        match path {
            PATH_JOIN => Endpoint::Join,
            PATH_CA_RENEW => Endpoint::Renew,
            PATH_NODE_ROLE | PATH_PROMOTE => Endpoint::OwnNode,
            path if path.starts_with(PATH_DISPATCHER_PREFIX) => Endpoint::Dispatcher,
            _ => Endpoint::ManagerOnly,
        }
    }
}

/// What the store (and Raft) say of the calling node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// `node rm` removed it: its certificate is revoked.
    pub removed: bool,
    /// The role the store wants it in, if the store knows the node yet.
    pub wanted_role: Option<NodeRole>,
    /// It is a Raft voter now (a demoted manager stays one until the leader removed it).
    pub voter: bool,
}

/// Who the caller acts as, once admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// A node without a certificate, joining with a token (the token alone admits it, to `join` alone).
    Joining,
    /// A trusted caller: the node's own operator, or a plain server's caller (benchmarks).
    Anyone,
    /// A node that may act only as itself (`node_id`).
    AsNode { node_id: String, role: NodeRole },
}

/// A refusal: the status and the message the caller reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub status: StatusCode,
    pub message: String,
}

/// Decides one request of `caller` on `endpoint`; `standing` is what the store says of the caller's node.
pub fn decide(caller: &Caller, endpoint: Endpoint, standing: Standing) -> Result<Admitted, Denied> {
    let identity = match caller {
        Caller::Local | Caller::Plaintext => return Ok(Admitted::Anyone),
        Caller::Anonymous if endpoint == Endpoint::Join => return Ok(Admitted::Joining),
        Caller::Anonymous => {
            return Err(Denied {
                status: StatusCode::UNAUTHORIZED,
                message: "this endpoint needs a client certificate of this swarm".to_string(),
            })
        }
        Caller::Node(identity) => identity,
    };
    if standing.removed {
        return Err(Denied {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "Permission denied: node {} was removed from swarm; its certificate is revoked",
                identity.node_id
            ),
        });
    }
    // A demoted manager keeps its manager certificate until it gets a new one; the store's word counts first, once
    // the node has left the voters (until then the other managers need it to answer and to send as a manager).
    let role = match (identity.role, standing.wanted_role, standing.voter) {
        (NodeRole::Manager, Some(NodeRole::Worker), false) => NodeRole::Worker,
        (role, _, _) => role,
    };
    match (endpoint, role) {
        (Endpoint::ManagerOnly, NodeRole::Manager) => Ok(Admitted::Anyone),
        (Endpoint::ManagerOnly, NodeRole::Worker) => Err(Denied {
            status: StatusCode::FORBIDDEN,
            message: format!("Permission denied: node {} is not a manager of this swarm", identity.node_id),
        }),
        _ => Ok(Admitted::AsNode { node_id: identity.node_id.clone(), role }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::PeerIdentity;

    fn node(role: NodeRole) -> Caller {
        Caller::Node(PeerIdentity { node_id: "n1".into(), role, cluster_id: "c".into() })
    }

    const KNOWN_WORKER: Standing = Standing { removed: false, wanted_role: Some(NodeRole::Worker), voter: false };
    const KNOWN_MANAGER: Standing = Standing { removed: false, wanted_role: Some(NodeRole::Manager), voter: true };
    const DEMOTED_VOTER: Standing = Standing { removed: false, wanted_role: Some(NodeRole::Worker), voter: true };
    const UNKNOWN: Standing = Standing { removed: false, wanted_role: None, voter: false };
    const REMOVED: Standing = Standing { removed: true, wanted_role: None, voter: false };

    #[test]
    fn paths_are_classified() {
        let cases = [
            ("/cluster/join", Endpoint::Join),
            ("/cluster/ca/renew", Endpoint::Renew),
            ("/cluster/node-role", Endpoint::OwnNode),
            ("/cluster/promote", Endpoint::OwnNode),
            ("/dispatcher/session", Endpoint::Dispatcher),
            ("/leader/n1/dispatcher/session", Endpoint::ManagerOnly),
            ("/raft/append", Endpoint::ManagerOnly),
            ("/cluster/store", Endpoint::ManagerOnly),
            ("/cluster/propose", Endpoint::ManagerOnly),
            ("/node/logs", Endpoint::ManagerOnly),
            ("/no/such/path", Endpoint::ManagerOnly),
        ];
        for (path, want) in cases {
            assert_eq!(Endpoint::of(path), want, "{path}");
        }
    }

    #[test]
    fn decisions_follow_the_certificate_and_the_store() {
        use Endpoint::*;
        let as_node = |role| Ok(Admitted::AsNode { node_id: "n1".into(), role });
        let cases: Vec<(Caller, Endpoint, Standing, Result<Admitted, StatusCode>)> = vec![
            (Caller::Anonymous, Join, UNKNOWN, Ok(Admitted::Joining)),
            (Caller::Anonymous, Dispatcher, UNKNOWN, Err(StatusCode::UNAUTHORIZED)),
            (Caller::Anonymous, ManagerOnly, UNKNOWN, Err(StatusCode::UNAUTHORIZED)),
            (Caller::Anonymous, Renew, UNKNOWN, Err(StatusCode::UNAUTHORIZED)),
            (node(NodeRole::Worker), ManagerOnly, KNOWN_WORKER, Err(StatusCode::FORBIDDEN)),
            (node(NodeRole::Worker), ManagerOnly, KNOWN_MANAGER, Err(StatusCode::FORBIDDEN)),
            (node(NodeRole::Worker), Dispatcher, KNOWN_WORKER, as_node(NodeRole::Worker)),
            (node(NodeRole::Worker), Renew, KNOWN_MANAGER, as_node(NodeRole::Worker)),
            (node(NodeRole::Worker), OwnNode, UNKNOWN, as_node(NodeRole::Worker)),
            (node(NodeRole::Manager), ManagerOnly, KNOWN_MANAGER, Ok(Admitted::Anyone)),
            (node(NodeRole::Manager), ManagerOnly, UNKNOWN, Ok(Admitted::Anyone)),
            // Demoted: the store wants a worker, so the manager certificate no longer opens manager endpoints.
            (node(NodeRole::Manager), ManagerOnly, KNOWN_WORKER, Err(StatusCode::FORBIDDEN)),
            (node(NodeRole::Manager), Dispatcher, KNOWN_WORKER, as_node(NodeRole::Worker)),
            // Demoted but still a voter: a manager until the leader took it out of Raft.
            (node(NodeRole::Manager), ManagerOnly, DEMOTED_VOTER, Ok(Admitted::Anyone)),
            // Removed: nothing at all, whatever the role.
            (node(NodeRole::Manager), ManagerOnly, REMOVED, Err(StatusCode::FORBIDDEN)),
            (node(NodeRole::Worker), Dispatcher, REMOVED, Err(StatusCode::FORBIDDEN)),
            (node(NodeRole::Worker), Renew, REMOVED, Err(StatusCode::FORBIDDEN)),
            (Caller::Plaintext, ManagerOnly, UNKNOWN, Ok(Admitted::Anyone)),
        ];
        for (caller, endpoint, standing, want) in cases {
            let got = decide(&caller, endpoint, standing).map_err(|d| d.status);
            assert_eq!(got, want, "{caller:?} on {endpoint:?} with {standing:?}");
        }
        let removed = decide(&node(NodeRole::Worker), Dispatcher, REMOVED).unwrap_err().message;
        assert!(removed.contains("node n1 was removed from swarm"), "{removed}");
    }
}
