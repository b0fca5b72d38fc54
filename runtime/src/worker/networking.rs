//! The node's network realisation loop: it takes the overlay plan each assignment answer carries (the cluster's view,
//! `swarm_core::overlay`), realises it through the `OverlayDataPlane` (VXLAN and gateway devices, forwarding entries,
//! then the resolver's records and the task containers' VIP tables), and publishes which networks are realised, so a
//! driver creates a container on a network only once its Docker network exists. Invariants: plans are realised in the
//! order they arrive and only the newest is worked on (an older one is never applied after a newer); a failed reconcile
//! is retried (`RETRY_MS`) until it succeeds or a newer plan replaces it, and one that left something undone
//! (`OverlayDataPlane::needs_retry`) is repeated after `UNFINISHED_RETRY_MS`; a network counts as realised only after a
//! reconcile that included it succeeded, and stops counting as soon as a plan without it arrives. A driver whose
//! container just started asks for a pass at once (`container_started`), so what lives inside the container is
//! programmed before the task is reported running. It also rotates the data plane's tunnel key on schedule and
//! tracks which tunnel key the cluster holds for the node (`TunnelState`), for the agent to report the wanted one.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use swarm_core::overlay::NodeOverlayPlan as ClusterPlan;
use swarm_core::Task;

use super::overlay::{Discovery, LocalTask, NodeOverlayPlan, OverlayDataPlane, TunnelIdentity};
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
    /// How many times a driver asked for a pass because its container started, and up to which ask a pass has
    /// finished (`container_started`).
    starts: Arc<watch::Sender<u64>>,
    discovered: Arc<watch::Sender<u64>>,
    /// What the data plane wants the cluster to hold of this node's tunnel, and what the newest plan says it holds.
    tunnel: Arc<watch::Sender<TunnelState>>,
}

/// This node's tunnel identity: wanted by the data plane, and held by the cluster (as of the newest plan).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunnelState {
    pub wanted: Option<TunnelIdentity>,
    pub held: Option<TunnelIdentity>,
}

impl TunnelState {
    /// What the agent must report: the wanted identity, while the cluster holds another (or none).
    pub fn to_report(&self) -> Option<TunnelIdentity> {
        self.wanted.filter(|wanted| self.held != Some(*wanted))
    }
}

impl Networking {
    /// Starts the loop over `data_plane`, rotating its tunnel key every `key_rotation`; returns the handle and the
    /// loops' tasks.
    pub fn start<D: OverlayDataPlane>(
        data_plane: Arc<D>,
        key_rotation: Duration,
    ) -> (Networking, Vec<tokio::task::JoinHandle<()>>) {
        let networking = Networking {
            plans: Arc::new(watch::channel(None).0),
            realised: Arc::new(watch::channel(BTreeSet::new()).0),
            starts: Arc::new(watch::channel(0).0),
            discovered: Arc::new(watch::channel(0).0),
            tunnel: Arc::new(watch::channel(TunnelState { wanted: data_plane.tunnel_identity(), held: None }).0),
        };
        let rotation = tokio::spawn(rotation_loop(data_plane.clone(), networking.tunnel.clone(), key_rotation));
        let task = tokio::spawn(realise_loop(data_plane, networking.clone()));
        (networking, vec![task, rotation])
    }

    /// The tunnel identity to report and what the cluster holds, to watch for a report to make.
    pub fn tunnel_state(&self) -> watch::Receiver<TunnelState> {
        self.tunnel.subscribe()
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
        let held = plan.tunnel.local.map(|local| TunnelIdentity { public_key: local.public_key, port: local.port });
        self.tunnel.send_if_modified(|state| std::mem::replace(&mut state.held, held) != held);
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

    /// After `task`'s container started: has the loop make a pass now, so the container's VIP table and the
    /// mesh's return path are in place before the task is reported running (and other nodes' meshes send it
    /// clients), rather than when the managers' next plan arrives; waits for that pass, at most `within`.
    pub async fn container_started(&self, task: &Task, within: Duration) {
        if task.networks.is_empty() {
            return;
        }
        let mut asked = 0;
        self.starts.send_modify(|starts| {
            *starts += 1;
            asked = *starts;
        });
        let mut discovered = self.discovered.subscribe();
        let passed = async {
            while *discovered.borrow_and_update() < asked {
                if discovered.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let _ = tokio::time::timeout(within, passed).await;
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
    let mut starts = networking.starts.subscribe();
    loop {
        let asked = *starts.borrow_and_update();
        let Some(discovery) = plans.borrow_and_update().clone() else {
            networking.discovered.send_replace(asked);
            if !wait(&mut plans, &mut starts, None).await {
                return;
            }
            continue;
        };
        let plan = NodeOverlayPlan::from_cluster(&discovery.cluster, UNDERLAY_MTU_BYTES);
        let pause_ms = match data_plane.reconcile(&plan).await {
            Ok(()) => {
                data_plane.discover(&discovery).await;
                let held_back = data_plane.held_back();
                let ids: BTreeSet<String> =
                    plan.networks.iter().map(|n| n.network_id.clone()).filter(|id| !held_back.contains(id)).collect();
                // Only if no newer plan arrived meanwhile (it would have dropped networks this one has).
                if !plans.has_changed() {
                    networking.realised.send_replace(ids);
                }
                data_plane.needs_retry().then_some(UNFINISHED_RETRY_MS)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot realise the overlay networks; retrying");
                // What does not depend on the failed network still follows the plan: a published port must
                // not keep sending connections to a stopped task while another network cannot be realised.
                data_plane.discover(&discovery).await;
                Some(RETRY_MS)
            }
        };
        networking.discovered.send_replace(asked);
        if !wait(&mut plans, &mut starts, pause_ms).await {
            return;
        }
    }
}

/// Rotates the data plane's tunnel key every `every` (Swarm rotates its data-path keys every 12 hours), and
/// publishes the new identity for the agent to report.
async fn rotation_loop<D: OverlayDataPlane>(
    data_plane: Arc<D>,
    tunnel: Arc<watch::Sender<TunnelState>>,
    every: Duration,
) {
    if data_plane.tunnel_identity().is_none() {
        return;
    }
    loop {
        tokio::time::sleep(every).await;
        data_plane.rotate_tunnel_key();
        tracing::info!("rotating the tunnel key of encrypted networks");
        let wanted = data_plane.tunnel_identity();
        tunnel.send_modify(|state| state.wanted = wanted);
    }
}

/// Waits for a new plan, a container started, or `pause_ms` when given; false once the agent is gone.
async fn wait(
    plans: &mut watch::Receiver<Option<Discovery>>,
    starts: &mut watch::Receiver<u64>,
    pause_ms: Option<u64>,
) -> bool {
    let pause = async {
        match pause_ms {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        changed = plans.changed() => changed.is_ok(),
        changed = starts.changed() => changed.is_ok(),
        () = pause => true,
    }
}
