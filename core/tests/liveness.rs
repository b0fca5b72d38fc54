//! Node liveness through its public seam: deadlines from heartbeats, the doubled grace after a leader change,
//! and the commands that mark silent nodes down.

mod common;

use common::*;
use swarm_core::liveness::{Liveness, GRACE_PERIODS, HEARTBEAT_FAILURE_MESSAGE, LEADER_CHANGE_GRACE_PERIODS};
use swarm_core::*;

const PERIOD_MS: u64 = 1_000;

fn ready(id: &str) -> Command {
    Command::SetNodeStatus {
        id: id.into(),
        status: NodeStatus { state: NodeState::Ready, message: String::new(), addr: "10.0.1.1".into() },
    }
}

fn cluster_of(nodes: &[&str]) -> Store {
    let mut commands = vec![init()];
    for id in nodes {
        commands.push(create_node(id));
        commands.push(ready(id));
    }
    store_with(&commands)
}

fn marked_down(commands: &[Command]) -> Vec<String> {
    let mut ids = Vec::new();
    for command in commands {
        let Command::Batch(inner) = command else { panic!("expire returns batches, got {}", command.name()) };
        for command in inner {
            match command {
                Command::SetNodeStatus { id, status } => {
                    assert_eq!(status.state, NodeState::Down);
                    assert_eq!(status.message, HEARTBEAT_FAILURE_MESSAGE);
                    assert_eq!(status.addr, "10.0.1.1", "the last known address is kept");
                    ids.push(id.clone());
                }
                other => panic!("unexpected {}", other.name()),
            }
        }
    }
    ids
}

#[test]
fn a_silent_node_is_marked_down_after_the_grace_and_not_before() {
    let store = cluster_of(&["n1", "n2"]);
    let mut liveness = Liveness::default();
    liveness.heartbeat("n1", Timestamp(T0), PERIOD_MS);
    liveness.heartbeat("n2", Timestamp(T0), PERIOD_MS);
    let grace = PERIOD_MS * GRACE_PERIODS;
    // n2 keeps heartbeating; n1 falls silent.
    for step in 1..=grace / PERIOD_MS {
        liveness.heartbeat("n2", Timestamp(T0 + step * PERIOD_MS), PERIOD_MS);
    }
    assert!(marked_down(&liveness.expire(&store, Timestamp(T0 + grace))).is_empty(), "at the deadline it is alive");
    assert_eq!(liveness.next_deadline(), Some(Timestamp(T0 + grace)));
    assert_eq!(marked_down(&liveness.expire(&store, Timestamp(T0 + grace + 1))), vec!["n1".to_string()]);
    assert!(liveness.is_alive("n2", Timestamp(T0 + grace + 1)));
    assert!(!liveness.is_alive("n1", Timestamp(T0 + grace + 1)), "an expired node is forgotten");
    assert!(liveness.expire(&store, Timestamp(T0 + 10 * grace)).len() == 1, "n2 is silent now");
}

#[test]
fn a_new_leader_gives_every_ready_node_the_doubled_grace() {
    let store = cluster_of(&["n1", "n2"]);
    let mut liveness = Liveness::after_leader_change(&store, Timestamp(T0), PERIOD_MS);
    let doubled = PERIOD_MS * LEADER_CHANGE_GRACE_PERIODS;
    assert_eq!(LEADER_CHANGE_GRACE_PERIODS, 2 * GRACE_PERIODS);
    // A heartbeat early in the doubled grace does not shorten it.
    liveness.heartbeat("n1", Timestamp(T0 + 10), PERIOD_MS);
    assert!(liveness.expire(&store, Timestamp(T0 + doubled)).is_empty());
    let mut down = marked_down(&liveness.expire(&store, Timestamp(T0 + doubled + 11)));
    down.sort();
    assert_eq!(down, vec!["n1".to_string(), "n2".to_string()]);
}

#[test]
fn nodes_already_down_unknown_or_forgotten_produce_no_command() {
    let mut store = cluster_of(&["n1", "n2"]);
    let down = NodeStatus { state: NodeState::Down, message: "x".into(), addr: String::new() };
    store.apply(&at(T0 + 100, Command::SetNodeStatus { id: "n2".into(), status: down })).expect("apply");
    let mut liveness = Liveness::default();
    for id in ["n1", "n2", "ghost"] {
        liveness.heartbeat(id, Timestamp(T0), PERIOD_MS);
    }
    liveness.forget("n1");
    assert!(liveness.expire(&store, Timestamp(T0 + 100 * PERIOD_MS)).is_empty());
    assert_eq!(liveness.next_deadline(), None, "every deadline was consumed");
}

#[test]
fn the_expiry_commands_apply_to_the_store() {
    let mut store = cluster_of(&["n1", "n2", "n3"]);
    let mut liveness = Liveness::after_leader_change(&store, Timestamp(T0), PERIOD_MS);
    let commands = liveness.expire(&store, Timestamp(T0 + PERIOD_MS * LEADER_CHANGE_GRACE_PERIODS + 1));
    for command in commands {
        store.apply(&at(T0 + 1_000_000, command)).expect("expiry commands apply");
    }
    assert!(store.nodes().all(|node| node.status.state == NodeState::Down));
}

#[test]
fn after_the_leaders_own_stall_every_node_it_waits_on_gets_the_doubled_grace_from_its_waking() {
    let store = cluster_of(&["n1", "n2"]);
    let mut liveness = Liveness::default();
    liveness.heartbeat("n1", Timestamp(T0), PERIOD_MS);
    // A node with a session that the store does not show ready yet keeps its deadline, extended.
    liveness.heartbeat("joining", Timestamp(T0), PERIOD_MS);
    // The leader was frozen for 20 periods: everyone's grace ran out while nobody could reach it.
    let woke = T0 + 20 * PERIOD_MS;
    liveness.after_stall(&store, Timestamp(woke), PERIOD_MS);
    let doubled = PERIOD_MS * LEADER_CHANGE_GRACE_PERIODS;
    assert!(liveness.expire(&store, Timestamp(woke + doubled)).is_empty(), "nobody is down for the leader's silence");
    for id in ["n1", "n2", "joining"] {
        assert!(liveness.is_alive(id, Timestamp(woke + doubled)), "{id} waits for the grace from the waking");
    }
    let mut down = marked_down(&liveness.expire(&store, Timestamp(woke + doubled + 1)));
    down.sort();
    assert_eq!(
        down,
        vec!["n1".to_string(), "n2".to_string()],
        "silent after the grace: down ('joining' is not in the store)"
    );
}

#[test]
fn a_stall_never_shortens_a_deadline() {
    let store = cluster_of(&["n1"]);
    let mut liveness = Liveness::default();
    let far = T0 + 1_000 * PERIOD_MS;
    liveness.heartbeat("n1", Timestamp(far), PERIOD_MS);
    liveness.after_stall(&store, Timestamp(T0), PERIOD_MS);
    assert!(liveness.is_alive("n1", Timestamp(far + PERIOD_MS * GRACE_PERIODS)));
}
