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
use super::{call_json, identity_from, key_and_request, node_file, Daemon, Membership};
use crate::clock::wall_clock_now;
use crate::manager::api::{
    IssuedCertificate, NodeRoleReply, NodeRoleRequest, PromoteRequest, RenewRequest, WantedTrustPem, PATH_CA_RENEW,
    PATH_NODE_ROLE, PATH_PROMOTE,
};
use crate::tls::held_roots::WantedTrust;
use crate::tls::identity::pem_block;
use crate::tls::{ClientTls, NodeIdentity, RootCa, TlsHandle};

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
                self.keep_finished_root(manager, tls)?;
                if manager.is_leader() {
                    // The leader answers renewals, its own too: it holds the root CA.
                    let identity = tls.identity();
                    let issuing = manager.issuing_root()?;
                    if wall_clock_now() >= identity.renew_at() || identity.root_der() != issuing.cert_der() {
                        self.renew_with_own_ca(tls, manager)?;
                    } else {
                        self.adopt_trust(tls, manager.wanted_trust()?, manager.ca().as_deref())?;
                    }
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
        let request = NodeRoleRequest { node_id: node_id.clone(), tls: Some(tls.identity().tls_report()) };
        let as_node = ClientTls::to_managers(&tls);
        let mut reply = None;
        for addr in &managers {
            let answer = match call_json::<_, NodeRoleReply>(addr, PATH_NODE_ROLE, &request, &as_node).await {
                // A manager of the build before root rotation (a rolling upgrade) knows no TLS report: ask again
                // without it, so renewals and role changes go on meanwhile.
                Err(refusal) if refusal.status == 400 && refusal.message.contains("unknown field") => {
                    let without_report = NodeRoleRequest { node_id: node_id.clone(), tls: None };
                    call_json::<_, NodeRoleReply>(addr, PATH_NODE_ROLE, &without_report, &as_node).await
                }
                answer => answer,
            };
            if let Ok(answer) = answer {
                reply = Some(answer);
                break;
            }
        }
        let Some(reply) = reply else { return Ok(()) };
        // The certificate follows the role the store wants: before a promotion (Raft needs a manager's
        // certificate), and after a demotion once this node left the voters (until then the other managers still
        // need it to answer as a manager).
        // It also follows the calendar: a certificate is renewed between 50 % and 80 % of its life.
        // And root rotations: a certificate of the root the managers issue from, and trust in the roots they name.
        let identity = tls.identity();
        let trust = reply.trust.as_ref().map(wanted_trust_from_pem).transpose()?;
        let role_changes = identity.role() != reply.wanted && (reply.wanted == NodeRole::Manager || !reply.voter);
        let expiring = identity.role() == reply.wanted && wall_clock_now() >= identity.renew_at();
        let root_moves = trust.as_ref().is_some_and(|trust| trust.issuing != identity.root_der());
        if role_changes || expiring || root_moves {
            let expected_root = trust.as_ref().map(|trust| trust.issuing.clone());
            self.renew_certificate(&tls, &node_id, &managers, expected_root).await?;
        } else if let Some(trust) = trust {
            let ca = self.cert_files()?.load()?.1;
            self.adopt_trust(&tls, trust, ca.as_deref())?;
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
                    let (identity, ca) = identity_from(&issued, key, None)?;
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
        let cert_files = self.cert_files()?;
        tls.replace(identity, |identity| cert_files.save(identity, ca).map_err(DaemonError::from))?;
        drop(membership);
        tracing::info!(?role, "this node has a new certificate");
        Ok(())
    }

    /// The leader's own renewal, from the root it issues from, with the trust every node should hold.
    fn renew_with_own_ca(&self, tls: &TlsHandle, manager: &crate::manager::Manager) -> Result<(), DaemonError> {
        let issuing = manager.issuing_root()?;
        let trust = manager.wanted_trust()?;
        let current = tls.identity();
        let key = crate::tls::keys::fresh_key_pkcs8()?;
        let (node_id, role, cluster_id) = (current.node_id(), current.role(), current.cluster_id());
        let validity = manager.node_cert_validity();
        let renewed = issuing
            .issue_identity(key, node_id, role, cluster_id, wall_clock_now(), validity)?
            .with_trust(trust.intermediates, trust.other_roots)?;
        let (cert_files, ca) = (self.cert_files()?, manager.ca());
        tls.replace(renewed, |renewed| cert_files.save(renewed, ca.as_deref()).map_err(DaemonError::from))?;
        tracing::info!("this node has a new certificate (from its own root CA)");
        Ok(())
    }

    /// Presents and trusts what `trust` says when this node's certificate already is of its issuing root and only
    /// the rest differs (a rotation began or finished): kept on disk, with `ca` on a manager, then used.
    fn adopt_trust(&self, tls: &TlsHandle, trust: WantedTrust, ca: Option<&RootCa>) -> Result<(), DaemonError> {
        let identity = tls.identity();
        if identity.root_der() != trust.issuing {
            return Ok(());
        }
        let same_roots = identity.other_roots() == trust.other_roots.as_slice();
        if identity.intermediates() == trust.intermediates.as_slice() && same_roots {
            return Ok(());
        }
        let adopted = identity.with_trust(trust.intermediates, trust.other_roots)?;
        let cert_files = self.cert_files()?;
        tls.replace(adopted, |adopted| cert_files.save(adopted, ca).map_err(DaemonError::from))?;
        tracing::info!("this node follows the swarm's root CA rotation: its trusted roots changed");
        Ok(())
    }

    /// On a manager, once a rotation finished: the new root (and its key) replaces the old one on disk.
    fn keep_finished_root(&self, manager: &crate::manager::Manager, tls: &TlsHandle) -> Result<(), DaemonError> {
        let Some(roots) = manager.held_roots() else { return Ok(()) };
        let ca = manager.cluster_ca();
        if ca.rotation.is_some() || ca.root_cert.is_empty() || roots.disk().cert_der() == ca.root_cert.as_slice() {
            return Ok(());
        }
        let current = roots.current(&ca)?;
        self.cert_files()?.save(&tls.identity(), Some(&current))?;
        roots.set_disk(current);
        tracing::info!("this manager keeps the swarm's new root CA");
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

/// What a manager's role answer says a node should hold, from its PEM text.
fn wanted_trust_from_pem(pem: &WantedTrustPem) -> Result<WantedTrust, crate::tls::TlsError> {
    let cert = |text: &String| pem_block(text, "CERTIFICATE", "trusted root CA certificate");
    Ok(WantedTrust {
        issuing: cert(&pem.issuing_root_pem)?,
        intermediates: pem.intermediates_pem.iter().map(cert).collect::<Result<_, _>>()?,
        other_roots: pem.other_roots_pem.iter().map(cert).collect::<Result<_, _>>()?,
    })
}
