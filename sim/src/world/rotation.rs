//! The world's side of a root CA rotation (`swarm ca --rotate` in the simulator): the managers become store nodes
//! (drained, with their Raft ids), as a daemon's managers are, so a rotation waits for them; a rotation starts from
//! the world's root with the runtime's own `HeldRoots::prepare_rotation` (keys from the seeded RNG) and is proposed
//! like any command; a worker joining gets what a manager's CA would issue it; and what every node holds at the end is read from its TLS handle, for
//! `rotation_locks_out_nobody`.

use swarm_core::{Command, ManagerStatus, Node, NodeAvailability, NodeDescription, NodeRole, NodeSpec, Reachability};
use swarm_runtime::clock::wall_clock_now;
use swarm_runtime::tls::keys::fresh_key_pkcs8;
use swarm_runtime::tls::{HeldRoots, TlsHandle};

use super::{manager_addr, World};
use crate::checkers::rotation_locks_out_nobody::HeldTls;
use crate::executor::SIM_CLUSTER_ID;

/// The store node id of manager `id` (the node id its certificate names).
pub fn manager_node_id(id: u64) -> String {
    format!("manager-{id}")
}

impl World {
    /// Records every manager as a store node: drained (no task goes there; simulated managers run no agent) and
    /// with its Raft id as its manager status.
    pub async fn register_managers_as_nodes(&self) -> Result<(), String> {
        let mut commands = Vec::new();
        for id in self.managers.keys() {
            let spec =
                NodeSpec { role: NodeRole::Manager, availability: NodeAvailability::Drain, ..NodeSpec::default() };
            let description = NodeDescription { hostname: manager_node_id(*id), ..NodeDescription::default() };
            commands.push(Command::CreateNode { node: Node::new(manager_node_id(*id), spec, description) });
            let status = ManagerStatus {
                raft_id: *id,
                addr: manager_addr(*id),
                leader: false,
                reachability: Reachability::Reachable,
            };
            commands.push(Command::SetManagerStatus { id: manager_node_id(*id), manager_status: Some(status) });
        }
        self.propose(Command::Batch(commands), std::time::Duration::from_secs(10)).await
    }

    /// Starts a rotation from the world's root; answers the new root's digest. The world's clients take
    /// certificates of the new root from then on.
    pub async fn start_ca_rotation(&self) -> Result<String, String> {
        // An earlier attempt whose answer was lost may have committed.
        self.note_committed_rotation();
        if let Some((new, _)) = self.next_ca.lock().expect("next root").as_ref() {
            return Ok(new.digest());
        }
        let (rotation, new) =
            HeldRoots::prepare_rotation(&self.ca, SIM_CLUSTER_ID, wall_clock_now()).map_err(|e| e.to_string())?;
        let (digest, cross_signed) = (rotation.new_root_digest.clone(), rotation.cross_signed_cert.clone());
        // Its commit may be unknown when the proposal's answer is lost: the world takes it up once a store shows it.
        self.proposed_ca.lock().expect("proposed root").push((new, cross_signed));
        let proposed = self.propose(Command::StartCaRotation { rotation }, std::time::Duration::from_secs(10)).await;
        self.note_committed_rotation();
        // The rotation that committed: this one, or an earlier attempt whose answer was lost.
        let committed = self.next_ca.lock().expect("next root").as_ref().map(|(new, _)| new.digest());
        match (proposed, committed) {
            (Ok(()), _) => Ok(digest),
            (Err(error), Some(committed)) => {
                tracing::debug!(%error, %committed, "an attempt committed though its answer was lost");
                Ok(committed)
            }
            (Err(error), None) => Err(error),
        }
    }

    /// Takes up the proposed rotation's root once some manager's store shows the rotation (or its end).
    pub(super) fn note_committed_rotation(&self) {
        let mut proposed = self.proposed_ca.lock().expect("proposed root");
        if proposed.is_empty() {
            return;
        }
        let managers: Vec<_> = self.registry.lock().expect("registry").values().cloned().collect();
        let committed = |digest: &str| {
            managers.iter().any(|manager| {
                manager.read(|store| {
                    store.cluster().is_some_and(|c| {
                        c.ca.root_digest == digest
                            || c.ca.rotation.as_ref().is_some_and(|r| r.new_root_digest == digest)
                    })
                })
            })
        };
        if let Some(index) = proposed.iter().position(|(new, _)| committed(&new.digest())) {
            *self.next_ca.lock().expect("next root") = Some(proposed.swap_remove(index));
            proposed.clear();
        }
    }

    /// The identity a worker joining now gets: what a manager's CA issues a join (a certificate of the root it
    /// issues from, with the trust it names — a rotation's new root, once one started), or one of the world's root
    /// before the cluster runs.
    pub(super) fn joining_identity(&self, node_id: &str) -> TlsHandle {
        // The leader issues joins; any manager when none leads.
        let mut managers: Vec<_> = self.leader().and_then(|id| self.manager(id)).into_iter().collect();
        managers.extend(self.registry.lock().expect("registry").values().cloned());
        let issued = managers.iter().find_map(|manager| {
            let issuing = manager.issuing_root().ok()?;
            let trust = manager.wanted_trust().ok()?;
            let key = fresh_key_pkcs8().ok()?;
            let validity = swarm_runtime::tls::ca::NODE_CERT_VALIDITY;
            let identity = issuing
                .issue_identity(key, node_id, NodeRole::Worker, SIM_CLUSTER_ID, wall_clock_now(), validity)
                .ok()?;
            TlsHandle::new(identity.with_trust(trust.intermediates, trust.other_roots).ok()?).ok()
        });
        issued.unwrap_or_else(|| super::sim_identity(&self.ca, node_id, NodeRole::Worker))
    }

    /// What every node of the world holds now (retired workers left out: they were removed from the swarm).
    pub fn held_tls(&self) -> Vec<HeldTls> {
        let managers = self.managers.iter().map(|(id, slot)| HeldTls {
            node_id: manager_node_id(*id),
            up: slot.up,
            has_agent: false,
            tls: slot.tls.identity().tls_report(),
            kept: slot.file.load().0.cert_der() == slot.tls.identity().cert_der(),
        });
        let workers = self.workers.values().map(|slot| HeldTls {
            node_id: slot.node_id.clone(),
            up: slot.up,
            has_agent: true,
            tls: slot.tls.identity().tls_report(),
            kept: slot.file.load().0.cert_der() == slot.tls.identity().cert_der(),
        });
        managers.chain(workers).collect()
    }
}
