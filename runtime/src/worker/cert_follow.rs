//! A worker's certificate follows the swarm: every few seconds the agent tells a manager what it holds (the root of
//! its certificate, the roots it trusts) and hears what it should hold. It asks the leader for a new certificate
//! when its own is due for renewal (50–80 % of its life) or a root rotation moved the root the managers issue from,
//! and otherwise takes up the trust they name (both roots during a rotation, the new one alone after it). A new
//! identity is kept (the daemon's identity file) before it is used. Managers follow themselves
//! (`manager::own_certificate`), and a role change is the daemon's to follow. Invariants: a renewal is accepted only
//! for this node, as a worker, from a root it trusts or the one the managers named; nothing here drops a root
//! before the managers stopped naming it.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_core::NodeRole;

use crate::clock::wall_clock_now;
use crate::http::{CallError, HttpClient};
use crate::manager::api::{
    IssuedCertificate, NodeRoleReply, NodeRoleRequest, RenewRequest, WantedTrustPem, PATH_CA_RENEW, PATH_NODE_ROLE,
};
use crate::manager::certificates::key_and_request;
use crate::tls::held_roots::WantedTrust;
use crate::tls::identity::pem_block;
use crate::tls::{ClientTls, NodeIdentity, TlsError, TlsHandle};

/// How a new identity is kept: `Err` says why it could not be.
type KeepFn = dyn Fn(&NodeIdentity) -> Result<(), String> + Send + Sync;

/// Keeps a new identity of this node where it survives a restart.
#[derive(Clone)]
pub struct KeepIdentity(pub Arc<KeepFn>);

impl std::fmt::Debug for KeepIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeepIdentity")
    }
}

/// How often the worker asks.
pub const CHECK_PERIOD: Duration = Duration::from_secs(2);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why one look could not follow.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("no manager answered: {0}")]
    NoManager(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the manager at {addr} issued a certificate for another node, role or root")]
    Foreign { addr: String },
    #[error("cannot keep the new identity: {0}")]
    Keep(String),
}

/// Follows for as long as the agent runs.
pub(super) async fn run(tls: TlsHandle, node_id: String, managers: Vec<String>, keep: Option<KeepIdentity>) {
    loop {
        tokio::time::sleep(CHECK_PERIOD).await;
        match follow_once(&tls, &node_id, &managers, keep.as_ref()).await {
            // Managers out of reach: the next look tries again (the certificate is valid for long after).
            Err(error @ FollowError::NoManager(_)) => {
                tracing::debug!(%error, "this node's certificate could not follow the swarm yet")
            }
            Err(error) => tracing::warn!(%error, "this node's certificate could not follow the swarm"),
            Ok(()) => {}
        }
    }
}

/// One look (see the module's paragraph).
pub async fn follow_once(
    tls: &TlsHandle,
    node_id: &str,
    managers: &[String],
    keep: Option<&KeepIdentity>,
) -> Result<(), FollowError> {
    let identity = tls.identity();
    if identity.role() != NodeRole::Worker {
        return Ok(());
    }
    let as_node = ClientTls::to_managers(tls);
    let request = NodeRoleRequest { node_id: node_id.to_string(), tls: Some(identity.tls_report()) };
    let mut last_error = String::from("no manager known");
    let mut answer = None;
    for addr in managers {
        let reply = match post_json::<_, NodeRoleReply>(addr, PATH_NODE_ROLE, &request, &as_node).await {
            // A manager of the build before root rotation (a rolling upgrade) knows no TLS report: ask without it.
            Err(CallError::Status { status: 400, message, .. }) if message.contains("unknown field") => {
                let without_report = NodeRoleRequest { node_id: node_id.to_string(), tls: None };
                post_json::<_, NodeRoleReply>(addr, PATH_NODE_ROLE, &without_report, &as_node).await
            }
            reply => reply,
        };
        match reply {
            Ok(reply) => {
                answer = Some(reply);
                break;
            }
            Err(error) => last_error = error.to_string(),
        }
    }
    let reply = answer.ok_or(FollowError::NoManager(last_error))?;
    if reply.wanted != NodeRole::Worker {
        return Ok(());
    }
    let trust = reply.trust.as_ref().map(wanted_trust_from_pem).transpose()?;
    let root_moves = trust.as_ref().is_some_and(|trust| trust.issuing != identity.root_der());
    if root_moves || wall_clock_now() >= identity.renew_at() {
        let expected_root = trust.map(|trust| trust.issuing);
        return renew(tls, &identity, managers, expected_root, keep).await;
    }
    let Some(trust) = trust else { return Ok(()) };
    let same = identity.intermediates() == trust.intermediates.as_slice()
        && identity.other_roots() == trust.other_roots.as_slice();
    if same || identity.root_der() != trust.issuing {
        return Ok(());
    }
    let adopted = identity.clone().with_trust(trust.intermediates, trust.other_roots)?;
    if tls.replace_if_current(identity.cert_der(), adopted, |adopted| keep_identity(keep, adopted))? {
        tracing::info!("this node follows the swarm's root CA rotation: its trusted roots changed");
    }
    Ok(())
}

/// A new certificate for this worker from the leader, kept and then used — unless the node's certificate changed
/// meanwhile from `current` (a role change's).
async fn renew(
    tls: &TlsHandle,
    current: &NodeIdentity,
    managers: &[String],
    expected_root: Option<Vec<u8>>,
    keep: Option<&KeepIdentity>,
) -> Result<(), FollowError> {
    let node_id = current.node_id();
    let (key, csr_pem) = key_and_request()?;
    let request = RenewRequest { node_id: node_id.to_string(), csr_pem };
    let as_node = ClientTls::to_managers(tls);
    let mut last_error = String::from("no manager known");
    for addr in managers {
        match post_json::<_, IssuedCertificate>(addr, PATH_CA_RENEW, &request, &as_node).await {
            Ok(issued) => {
                let (renewed, _) = issued.identity(key, None)?;
                let known_root =
                    renewed.root_der() == current.root_der() || expected_root.as_deref() == Some(renewed.root_der());
                if renewed.node_id() != node_id || renewed.role() != NodeRole::Worker || !known_root {
                    return Err(FollowError::Foreign { addr: addr.clone() });
                }
                if tls.replace_if_current(current.cert_der(), renewed, |renewed| keep_identity(keep, renewed))? {
                    tracing::info!("this node has a new certificate");
                }
                return Ok(());
            }
            Err(error) => last_error = error.to_string(),
        }
    }
    Err(FollowError::NoManager(last_error))
}

fn keep_identity(keep: Option<&KeepIdentity>, identity: &NodeIdentity) -> Result<(), FollowError> {
    match keep {
        Some(keep) => (keep.0)(identity).map_err(FollowError::Keep),
        None => Ok(()),
    }
}

/// What a manager's role answer says a node should hold, from its PEM text.
pub fn wanted_trust_from_pem(pem: &WantedTrustPem) -> Result<WantedTrust, TlsError> {
    let cert = |text: &String| pem_block(text, "CERTIFICATE", "trusted root CA certificate");
    Ok(WantedTrust {
        issuing: cert(&pem.issuing_root_pem)?,
        intermediates: pem.intermediates_pem.iter().map(cert).collect::<Result<_, _>>()?,
        other_roots: pem.other_roots_pem.iter().map(cert).collect::<Result<_, _>>()?,
    })
}

/// A JSON call to the cluster API of the manager at `addr`.
async fn post_json<B: Serialize, T: DeserializeOwned>(
    addr: &str,
    path: &str,
    body: &B,
    tls: &ClientTls,
) -> Result<T, CallError> {
    let body = serde_json::to_vec(body).expect("JSON encoding of a cluster request");
    let bytes = HttpClient::tls(addr, tls.clone()).post(path, body, CALL_TIMEOUT).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CallError::Body { addr: addr.to_string(), reason: format!("malformed answer for {path}: {e}") })
}
