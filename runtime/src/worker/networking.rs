//! The node's network realisation loop: it takes the overlay plan each assignment answer carries (the cluster's view,
//! `swarm_core::overlay`), realises it through the `OverlayDataPlane` (VXLAN and gateway devices, forwarding entries,
//! then the resolver's records and the task containers' VIP tables), and publishes which networks are realised, so a
//! driver creates a container on a network only once its Docker network exists. Invariants: plans are realised in the
//! order they arrive and only the newest is worked on (an older one is never applied after a newer); a failed reconcile
//! is retried (`RETRY_MS`) until it succeeds or a newer plan replaces it, and one that left something undone
//! (`OverlayDataPlane::needs_retry`) is repeated after `UNFINISHED_RETRY_MS`; a network counts as realised only after a
//! reconcile that included it succeeded, and stops counting as soon as a plan without it arrives.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use swarm_core::overlay::NodeOverlayPlan as ClusterPlan;
use swarm_core::Task;

use super::overlay::{Discovery, LocalTask, NodeOverlayPlan, OverlayDataPlane};
use crate::watch;

/// The underlay's MTU assumed for the overlay's MTU (overlay = underlay − 50).
pub const UNDERLAY_MTU_BYTES: u32 = 1500;
/// Pause before reconciling again after a failure.
const RETRY_MS: u64 = 1_000;
/// How soon the realised state is reconciled again without a new plan when the data plane left something undone
/// (a stale network whose last container is still stopping, a VIP table or resolver listener that failed).
const UNFINISHED_RETRY_MS: u64 = 2_000;

/// The agent's side of the loop: where new plans go and where realised networks are read.
#[derive(Clone)]
pub struct Networking {
    plans: Arc<watch::Sender<Option<Discovery>>>,
    realised: Arc<watch::Sender<BTreeSet<String>>>,
}

impl Networking {
    /// Starts the loop over `data_plane`; returns the handle and the loop's task.
    pub fn start<D: OverlayDataPlane>(data_plane: Arc<D>) -> (Networking, tokio::task::JoinHandle<()>) {
        let networking = Networking {
            plans: Arc::new(watch::channel(None).0),
            realised: Arc::new(watch::channel(BTreeSet::new()).0),
        };
        let task = tokio::spawn(realise_loop(data_plane, networking.clone()));
        (networking, task)
    }

    /// Hands the loop the newest plan with the node's tasks (the same again changes nothing).
    pub fn offer(&self, plan: &ClusterPlan, tasks: &[Task]) {
        let mut local_tasks: Vec<LocalTask> = tasks
            .iter()
            .filter(|task| !task.networks.is_empty() && !task.status.state.is_terminal())
            .map(|task| LocalTask {
                container_name: swarm_core::overlay::task_container_name(task, task.node_id.as_deref().unwrap_or("")),
                networks: task.networks.clone(),
                // The spec's check made every one an address.
                nameservers: task
                    .spec
                    .container_spec
                    .dns_config
                    .nameservers
                    .iter()
                    .filter_map(|nameserver| nameserver.parse().ok())
                    .collect(),
            })
            .collect();
        local_tasks.sort_by(|a, b| a.container_name.cmp(&b.container_name));
        let discovery = Discovery { cluster: plan.clone(), local_tasks };
        if self.plans.borrow().as_ref() != Some(&discovery) {
            let networks: BTreeSet<&str> = plan.networks.iter().map(|n| n.network_id.as_str()).collect();
            // Networks the plan dropped stop counting as realised at once.
            self.realised.send_if_modified(|realised| {
                let before = realised.len();
                realised.retain(|id| networks.contains(id.as_str()));
                realised.len() != before
            });
            self.plans.send_replace(Some(discovery));
        }
    }

    /// Waits until every network `task` is attached to is realised on this node (at once without networks).
    pub async fn wait_realised(&self, task: &Task) {
        let mut realised = self.realised.subscribe();
        loop {
            if task.networks.iter().all(|attachment| realised.borrow_and_update().contains(&attachment.network_id)) {
                return;
            }
            if realised.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

async fn realise_loop<D: OverlayDataPlane>(data_plane: Arc<D>, networking: Networking) {
    let mut plans = networking.plans.subscribe();
    loop {
        let Some(discovery) = plans.borrow_and_update().clone() else {
            if plans.changed().await.is_err() {
                return;
            }
            continue;
        };
        let plan = NodeOverlayPlan::from_cluster(&discovery.cluster, UNDERLAY_MTU_BYTES);
        match data_plane.reconcile(&plan).await {
            Ok(()) => {
                data_plane.discover(&discovery).await;
                let held_back = data_plane.held_back();
                let ids: BTreeSet<String> =
                    plan.networks.iter().map(|n| n.network_id.clone()).filter(|id| !held_back.contains(id)).collect();
                // Only if no newer plan arrived meanwhile (it would have dropped networks this one has).
                if !plans.has_changed() {
                    networking.realised.send_replace(ids);
                }
                if data_plane.needs_retry() {
                    tokio::select! {
                        biased;
                        changed = plans.changed() => if changed.is_err() { return },
                        () = tokio::time::sleep(Duration::from_millis(UNFINISHED_RETRY_MS)) => {}
                    }
                } else if plans.changed().await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot realise the overlay networks; retrying");
                // What does not depend on the failed network still follows the plan: a published port must
                // not keep sending connections to a stopped task while another network cannot be realised.
                data_plane.discover(&discovery).await;
                tokio::select! {
                    biased;
                    changed = plans.changed() => if changed.is_err() { return },
                    () = tokio::time::sleep(Duration::from_millis(RETRY_MS)) => {}
                }
            }
        }
    }
}
