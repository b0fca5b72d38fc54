//! Following `node promote` and `node demote`: every node asks the leader which role the store wants it in, gets a
//! certificate for that role first when it differs from its own, and then changes itself — a worker the store wants
//! as a manager starts Raft and asks to be added; a manager taken out of the voters stops Raft and runs on as a
//! worker. Invariants: Raft starts only with a manager's certificate; a demoted manager keeps its certificate until
//! it has left the voters (the other managers still need it to answer as a manager until then); the new
//! certificate is on disk before the node uses it.

use std::sync::Arc;
use std::time::Duration;

use swarm_core::NodeRole;

use super::errors::DaemonError;
use super::{call_json, key_and_request, node_file, Daemon, Membership};
use crate::manager::api::{
    IssuedCertificate, NodeRoleReply, NodeRoleRequest, PromoteRequest, RenewRequest, PATH_CA_RENEW, PATH_NODE_ROLE,
    PATH_PROMOTE,
};
use crate::tls::{ClientTls, NodeIdentity, RootCa, TlsHandle};
use crate::worker::cert_follow::wanted_trust_from_pem;

/// How often a node asks the leader which role the store wants it in (`node promote` / `node demote`).
const ROLE_CHECK_PERIOD: Duration = Duration::from_secs(2);

/// Follows `node promote` and `node demote` for this node: the store says which role it should have, and the node
/// changes itself — a worker the store wants as a manager starts Raft and asks the leader to add it; a manager
/// taken out of the voters by a demotion stops Raft and carries on as a worker. Each tick also seals the node's
/// keys with the swarm's unlock key if it changed (`autolock`). Ends with the daemon.
pub(super) async fn role_watcher(daemon: std::sync::Weak<Daemon>) {
    loop {
        tokio::time::sleep(ROLE_CHECK_PERIOD).await;
        let Some(daemon) = daemon.upgrade() else { return };
        if let Err(error) = daemon.follow_wanted_role().await {
            tracing::warn!(%error, "cannot follow the role the swarm wants for this node");
        }
        if let Err(error) = daemon.follow_unlock_key().await {
            tracing::warn!(%error, "cannot seal this node's keys with the swarm's unlock key");
        }
    }
}

impl Daemon {
    async fn follow_wanted_role(self: &Arc<Self>) -> Result<(), DaemonError> {
        let (node_id, role, managers, own_addr, tls) = match &*self.membership.lock().await {
            Membership::Outside | Membership::Locked { .. } => return Ok(()),
            Membership::Manager { manager, file, tls, .. } => {
                // A manager renews its own certificate itself (`manager::own_certificate`); the leader is not
                // demoted while it leads.
                if manager.is_leader() {
                    return Ok(());
                }
                // The leader first; a demoted leader's own view may be stale, so every manager it knew after it.
                let mut known: Vec<String> = manager.leader_addr().into_iter().collect();
                known.extend(manager.status().voters.into_values());
                known.extend(file.managers.iter().cloned());
                known.dedup();
                (file.node_id.clone(), NodeRole::Manager, known, file.advertise_addr.clone(), tls.clone())
            }
            Membership::Worker { file, tls, .. } => (
                file.node_id.clone(),
                NodeRole::Worker,
                file.managers.clone(),
                file.advertise_addr.clone(),
                tls.clone(),
            ),
        };
        let managers: Vec<String> = managers.into_iter().filter(|a| *a != own_addr).collect();
        // The TLS report is the agent's (`worker::cert_follow`); without it the request reads as every build's.
        let request = NodeRoleRequest { node_id: node_id.clone(), tls: None };
        let as_node = ClientTls::to_managers(&tls);
        let mut reply = None;
        for addr in &managers {
            if let Ok(answer) = call_json::<_, NodeRoleReply>(addr, PATH_NODE_ROLE, &request, &as_node).await {
                reply = Some(answer);
                break;
            }
        }
        let Some(reply) = reply else { return Ok(()) };
        // The certificate follows the role the store wants: before a promotion (Raft needs a manager's
        // certificate), and after a demotion once this node left the voters (until then the other managers still
        // need it to answer as a manager). Renewals by the calendar and root rotations are followed by the agent
        // (workers) and by the manager itself.
        let identity = tls.identity();
        let role_changes = identity.role() != reply.wanted && (reply.wanted == NodeRole::Manager || !reply.voter);
        if role_changes {
            let trust = reply.trust.as_ref().map(wanted_trust_from_pem).transpose()?;
            let expected_root = trust.map(|trust| trust.issuing);
            self.renew_certificate(&tls, &node_id, &managers, expected_root).await?;
        }
        match (role, reply.wanted) {
            (NodeRole::Manager, NodeRole::Worker) if !reply.voter => self.become_worker(&tls, reply.managers).await,
            (NodeRole::Worker, NodeRole::Manager) => self.become_manager(&tls).await,
            _ => Ok(()),
        }
    }

    /// Gets a certificate for this node's role in the store from a manager, and uses it from now on (kept on disk,
    /// with the root CA's key when the new role is a manager's).
    /// `expected_root`: the root the managers said they issue from (a rotation's new root), if any.
    async fn renew_certificate(
        &self,
        tls: &TlsHandle,
        node_id: &str,
        managers: &[String],
        expected_root: Option<Vec<u8>>,
    ) -> Result<(), DaemonError> {
        let (key, csr_pem) = key_and_request().map_err(|refusal| DaemonError::Renewal(refusal.message))?;
        let request = RenewRequest { node_id: node_id.to_string(), csr_pem };
        let as_node = ClientTls::to_managers(tls);
        let mut last_error = String::from("no manager known");
        for addr in managers {
            match call_json::<_, IssuedCertificate>(addr, PATH_CA_RENEW, &request, &as_node).await {
                Ok(issued) => {
                    let (identity, ca) = issued.identity(key, None)?;
                    let known_root = identity.root_der() == tls.identity().root_der()
                        || expected_root.as_deref() == Some(identity.root_der());
                    if identity.node_id() != node_id || !known_root {
                        return Err(DaemonError::Renewal(format!(
                            "the manager at {addr} issued a certificate for another node or root"
                        )));
                    }
                    return self.use_certificate(tls, identity, ca.as_deref()).await;
                }
                Err(refusal) => last_error = format!("{addr}: {}", refusal.message),
            }
        }
        Err(DaemonError::Renewal(last_error))
    }

    /// Keeps `identity` (and `ca`) on disk and uses it from now on, if the node still is the member `tls` belongs to
    /// (a `leave` or another `join` meanwhile wins).
    async fn use_certificate(
        &self,
        tls: &TlsHandle,
        identity: NodeIdentity,
        ca: Option<&RootCa>,
    ) -> Result<(), DaemonError> {
        let membership = self.membership.lock().await;
        if !membership.tls().is_some_and(|current| current.same_as(tls)) {
            return Err(DaemonError::Renewal("this node left or rejoined the swarm meanwhile".to_string()));
        }
        let role = identity.role();
        tls.replace(identity, |identity| self.save_identity(identity, ca).map_err(DaemonError::from))?;
        drop(membership);
        tracing::info!(?role, "this node has a new certificate");
        Ok(())
    }

    /// A demoted manager: stops Raft and its agent, forgets its Raft data, and runs on as a worker.
    /// `asked_as`: the identity the role was asked with; another membership meanwhile (a `leave`, a `join`) is left
    /// alone.
    async fn become_worker(self: &Arc<Self>, asked_as: &TlsHandle, managers: Vec<String>) -> Result<(), DaemonError> {
        let mut membership = self.membership.lock().await;
        let Membership::Manager { manager, agent, file, tls } = &mut *membership else { return Ok(()) };
        if !tls.same_as(asked_as) {
            return Ok(());
        }
        if let Some(agent) = agent.take() {
            agent.shutdown();
        }
        manager.shutdown().await;
        let mut file = file.clone();
        let tls = tls.clone();
        file.role = NodeRole::Worker;
        file.managers = managers;
        *membership = Membership::Outside;
        node_file::clear_raft_data(&self.data)?;
        file.save(&self.data)?;
        *membership = self.start_worker_node(file, tls).await?;
        tracing::info!("demoted: this node is a worker now");
        Ok(())
    }

    /// A promoted worker: starts Raft on its cluster address and asks the leader to add it to the voters. It needs
    /// its manager certificate first (`renew_certificate`).
    async fn become_manager(self: &Arc<Self>, asked_as: &TlsHandle) -> Result<(), DaemonError> {
        let mut membership = self.membership.lock().await;
        let Membership::Worker { agent, server, file, tls } = &mut *membership else { return Ok(()) };
        if !tls.same_as(asked_as) {
            return Ok(());
        }
        let (identity, ca) = self.cert_files()?.load()?;
        // What Raft will use is the identity in memory; the file must hold the same, with the CA's key.
        if identity.role() != NodeRole::Manager || ca.is_none() || identity.cert_der() != tls.identity().cert_der() {
            return Err(DaemonError::Renewal("no manager certificate yet; staying a worker".to_string()));
        }
        let mut file = file.clone();
        let tls = tls.clone();
        if let Some(agent) = agent.take() {
            agent.shutdown();
        }
        server.abort();
        *membership = Membership::Outside;
        // The worker's listener must be gone before Raft binds the same address.
        let mut manager = None;
        for _ in 0..20 {
            node_file::clear_raft_data(&self.data)?;
            match self.open_manager(&file, &tls, ca.clone()).await {
                Ok(opened) => {
                    manager = Some(opened);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let Some(manager) = manager else {
            *membership = self.start_worker_node(file, tls).await?;
            return Err(DaemonError::PromotionWithoutRaft);
        };
        let request =
            PromoteRequest { node_id: file.node_id.clone(), raft_id: manager.id(), addr: file.advertise_addr.clone() };
        let as_manager = ClientTls::to_managers(&tls);
        let mut added = None;
        for addr in &file.managers {
            if let Ok(managers) = call_json::<_, Vec<String>>(addr, PATH_PROMOTE, &request, &as_manager).await {
                added = Some(managers);
                break;
            }
        }
        let Some(managers) = added else {
            manager.shutdown().await;
            *membership = self.start_worker_node(file, tls).await?;
            return Err(DaemonError::PromotionRefused);
        };
        file.role = NodeRole::Manager;
        file.managers = managers;
        file.save(&self.data)?;
        *membership = self.start_manager_node(file, tls, ca, Some(manager)).await?;
        tracing::info!("promoted: this node is a manager now");
        Ok(())
    }
}
