//! A whole swarm on this host, driven only through the `swarm` CLI like an operator would: three managers and two
//! workers on 127.0.51.x form with `init` / `join-token` / `join`; a replicated service of the locally built
//! `swarm-hello` image reaches N/N with its containers really running in Docker; a worker daemon killed with its
//! containers has its tasks run elsewhere; the leader daemon killed leaves a cluster that still takes commands and
//! refuses a `leave` that would cost its quorum; drain empties a node; a start-first rolling image update and a
//! rollback go through.

use std::time::Duration;

use swarm_tests::{containers_of_nodes, ensure_test_images, scratch_dir, wait_for, Daemon, Role};

const FORM: Duration = Duration::from_secs(60);
const CONVERGE: Duration = Duration::from_secs(90);

/// Parses `service ls`'s REPLICAS column for `name` ("3/4" → (3, 4)).
fn replicas(daemon: &Daemon, name: &str) -> Option<(u64, u64)> {
    let output = daemon.cli(&["service", "ls"]);
    if !output.status.success() {
        return None;
    }
    let text = output.stdout_text();
    let line = text.lines().find(|l| l.split_whitespace().nth(1) == Some(name))?;
    let (running, wanted) = line.split_whitespace().nth(3)?.split_once('/')?;
    Some((running.parse().ok()?, wanted.parse().ok()?))
}

fn wait_converged(daemon: &Daemon, name: &str, want: u64) {
    wait_or_explain(daemon, &format!("{name} to run {want}/{want}"), || {
        (replicas(daemon, name) == Some((want, want))).then_some(())
    });
}

/// `wait_for` with `CONVERGE`, printing what the cluster shows about `web` if it times out.
fn wait_or_explain<T>(daemon: &Daemon, what: &str, probe: impl FnMut() -> Option<T>) -> T {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_for(what, CONVERGE, probe)));
    match result {
        Ok(value) => value,
        Err(panic) => {
            for args in [
                &["service", "ps", "--no-trunc", "web"][..],
                &["service", "inspect", "--pretty", "web"],
                &["node", "ls"],
            ] {
                let output = daemon.cli(args);
                eprintln!("$ swarm {}\n{}{}", args.join(" "), output.stdout_text(), output.stderr_text());
            }
            std::panic::resume_unwind(panic)
        }
    }
}

/// `service ps` rows of running tasks as (task name, image, node hostname).
fn running_tasks(daemon: &Daemon, name: &str) -> Vec<(String, String, String)> {
    let text = daemon.cli_ok(&["service", "ps", "-f", "desired-state=running", name]);
    text.lines()
        .skip(1)
        .filter(|l| l.contains("Running") && !l.contains("\\_"))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() >= 5 && cols[5] == "Running").then(|| (cols[1].into(), cols[2].into(), cols[3].into()))
        })
        .collect()
}

#[test]
fn a_five_node_swarm_runs_services_through_failures_drain_update_and_rollback() {
    ensure_test_images();
    let dir = scratch_dir("five-nodes");
    let addrs: Vec<String> = (1..=5).map(|i| format!("127.0.51.{i}:2351")).collect();
    // This swarm's own nodes: only their containers are counted (a user's cluster may run a `web` beside it).
    let own_nodes = ["m1", "m2", "m3", "w1", "w2"].map(|name| dir.join(name));
    let m1 = Daemon::start(&addrs[0], &dir.join("m1"), Role::Restart);
    wait_for("the control socket", FORM, || m1.socket.exists().then_some(()));
    let init = m1.cli_ok(&["init", "--advertise-addr", &addrs[0]]);
    assert!(init.starts_with("Swarm initialized: current node ("), "{init}");
    assert!(init.contains("swarm join --token SWMTKN-1-"), "{init}");
    let manager_token = m1.join_token("manager");
    let worker_token = m1.join_token("worker");
    assert_ne!(manager_token, worker_token);
    assert!(manager_token.starts_with("SWMTKN-1-"));

    // A wrong token is refused, and the node stays outside.
    let mut intruder = Daemon::start(&addrs[4], &dir.join("intruder"), Role::Restart);
    wait_for("the control socket", FORM, || intruder.socket.exists().then_some(()));
    let refused = intruder.cli(&["join", "--token", "SWMTKN-1-nope-nope", &addrs[0]]);
    assert!(!refused.status.success());
    assert!(refused.stderr_text().contains("A valid join token is necessary"), "{}", refused.stderr_text());
    intruder.kill9();

    let m2 = Daemon::start(&addrs[1], &dir.join("m2"), Role::Join { addr: &addrs[0], token: &manager_token });
    let m3 = Daemon::start(&addrs[2], &dir.join("m3"), Role::Join { addr: &addrs[0], token: &manager_token });
    let mut w1 = Daemon::start(&addrs[3], &dir.join("w1"), Role::Join { addr: &addrs[0], token: &worker_token });
    let w2 = Daemon::start(&addrs[4], &dir.join("w2"), Role::Join { addr: &addrs[0], token: &worker_token });

    // node ls: five ready nodes, one leader, two reachable managers, two workers.
    let nodes = wait_for("five ready nodes", FORM, || {
        let text = m2.cli(&["node", "ls"]).stdout_text();
        (text.matches(" Ready ").count() == 5 && text.contains("Leader") && text.matches("Reachable").count() == 2)
            .then_some(text)
    });
    assert!(nodes.starts_with("ID "), "{nodes}");
    assert!(nodes.lines().any(|l| l.contains(" * ") && l.contains("m2")), "this node is starred:\n{nodes}");
    // A worker cannot manage.
    let from_worker = w1.cli(&["service", "ls"]);
    assert!(!from_worker.status.success());
    assert!(from_worker.stderr_text().contains("Worker nodes can't be used"), "{}", from_worker.stderr_text());

    // A replicated service reaches 6/6 and its containers run in Docker.
    let id = m1.cli_ok(&["service", "create", "-d", "--name", "web", "--replicas", "6", "swarm-hello:1"]);
    assert_eq!(id.trim().len(), 25, "service create -d prints the id: {id}");
    wait_converged(&m1, "web", 6);
    let running = containers_of_nodes(&own_nodes, "swarm.service.name=web");
    assert_eq!(running.len(), 6, "six containers in Docker: {running:?}");

    // kill -9 a worker daemon and its containers: its tasks run elsewhere.
    let w1_tasks = running_tasks(&m1, "web").into_iter().filter(|(_, _, node)| node == "w1").count();
    w1.kill9();
    swarm_tests::remove_containers_of_node(&w1.data_dir);
    wait_or_explain(&m1, "web to run 6 tasks, none on w1", || {
        let tasks = running_tasks(&m1, "web");
        (tasks.len() == 6 && tasks.iter().all(|(_, _, node)| node != "w1")).then_some(())
    });
    eprintln!("w1 had {w1_tasks} tasks; all replaced");
    // node rm: a node that is up is refused, a down one goes (with its task history).
    let refused = m1.cli(&["node", "rm", "w2"]);
    assert!(refused.stderr_text().contains("is not down and can't be removed"), "{}", refused.stderr_text());
    wait_for("w1 down in node ls", FORM, || {
        let text = m1.cli(&["node", "ls"]).stdout_text();
        text.lines().any(|l| l.contains(" w1 ") && l.contains(" Down ")).then_some(())
    });
    m1.cli_ok(&["node", "rm", "w1"]);
    let nodes = m1.cli_ok(&["node", "ls"]);
    assert!(!nodes.contains(" w1 "), "{nodes}");

    // The leader daemon dies: the others elect a new one and still take commands.
    let mut managers = [m1, m2, m3];
    let leader_index = wait_for("a leader in node ls", FORM, || {
        let text = managers[1].cli(&["node", "ls"]).stdout_text();
        let line = text.lines().find(|l| l.contains("Leader"))?.to_string();
        ["m1", "m2", "m3"].iter().position(|h| line.split_whitespace().any(|word| word == *h))
    });
    managers[leader_index].kill9();
    let survivor = &managers[(leader_index + 1) % 3];
    wait_for("the cluster to accept commands again", FORM, || {
        survivor.cli(&["service", "scale", "-d", "web=4"]).status.success().then_some(())
    });
    wait_converged(survivor, "web", 4);
    // With one of three managers gone, another leaving would cost the quorum: refused without --force.
    wait_for("the dead leader shown Unreachable", FORM, || {
        survivor.cli(&["node", "ls"]).stdout_text().contains("Unreachable").then_some(())
    });
    let refused = survivor.cli(&["leave"]);
    assert!(!refused.status.success(), "leaving without a quorum was not refused");
    let reason = refused.stderr_text();
    assert!(
        reason.contains("Removing this node leaves 1 managers out of a total of 2 without a Raft quorum"),
        "{reason}"
    );
    // The old leader comes back on its data: it rejoins, and its agent removes the containers it no longer runs.
    managers[leader_index].restart();
    let survivor = &managers[(leader_index + 1) % 3];
    wait_for("the old leader to rejoin", FORM, || {
        let text = survivor.cli(&["node", "ls"]).stdout_text();
        (text.matches(" Ready ").count() == 4 && text.matches("Reachable").count() == 2).then_some(())
    });

    // Drain w2: its tasks leave.
    survivor.cli_ok(&["node", "update", "--availability", "drain", "w2"]);
    wait_or_explain(survivor, "no web task on w2", || {
        let tasks = running_tasks(survivor, "web");
        (tasks.len() == 4 && tasks.iter().all(|(_, _, node)| node != "w2")).then_some(())
    });

    // Promote the worker w2 to a manager, then demote it again.
    let promoted = survivor.cli_ok(&["node", "promote", "w2"]);
    assert_eq!(promoted.trim(), "Node w2 promoted to a manager in the swarm.");
    wait_or_explain(survivor, "w2 to be a reachable manager", || {
        let text = survivor.cli(&["node", "ls"]).stdout_text();
        text.lines().any(|l| l.contains(" w2 ") && l.contains("Reachable")).then_some(())
    });
    // Its certificate names the new role: a manager's, issued before it joined Raft.
    assert_eq!(certificate_role(&w2), Some(swarm_core::NodeRole::Manager), "w2's certificate after promotion");
    let demoted = survivor.cli_ok(&["node", "demote", "w2"]);
    assert_eq!(demoted.trim(), "Manager w2 demoted in the swarm.");
    wait_or_explain(survivor, "w2 to be a worker again", || {
        let text = survivor.cli(&["node", "ls"]).stdout_text();
        let line = text.lines().find(|l| l.contains(" w2 "))?.to_string();
        (!line.contains("Reachable") && !line.contains("Unreachable") && line.contains(" Ready ")).then_some(())
    });
    let w2_role = wait_for("w2's daemon to run as a worker", FORM, || {
        let text = std::fs::read_to_string(w2.data_dir.join("node.json")).ok()?;
        text.contains("\"worker\"").then_some(text)
    });
    assert!(w2_role.contains("\"worker\""));
    wait_for("w2's certificate to name a worker again", FORM, || {
        (certificate_role(&w2) == Some(swarm_core::NodeRole::Worker)).then_some(())
    });

    // Rolling update, start-first, to the second image; then roll back.
    survivor.cli_ok(&[
        "service",
        "update",
        "-d",
        "--image",
        "swarm-hello:2",
        "--update-order",
        "start-first",
        "--update-parallelism",
        "2",
        "--update-monitor",
        "1s",
        "web",
    ]);
    wait_or_explain(survivor, "all web tasks on swarm-hello:2", || {
        let tasks = running_tasks(survivor, "web");
        (tasks.len() == 4 && tasks.iter().all(|(_, image, _)| image == "swarm-hello:2")).then_some(())
    });
    survivor.cli_ok(&["service", "rollback", "-d", "web"]);
    wait_or_explain(survivor, "all web tasks back on swarm-hello:1", || {
        let tasks = running_tasks(survivor, "web");
        (tasks.len() == 4 && tasks.iter().all(|(_, image, _)| image == "swarm-hello:1")).then_some(())
    });

    survivor.cli_ok(&["service", "rm", "web"]);
    wait_for("web's containers gone", CONVERGE, || {
        containers_of_nodes(&own_nodes, "swarm.service.name=web").is_empty().then_some(())
    });
    // Two of three managers gone: no quorum, and commands say so at once instead of hanging.
    let survivor_index = (leader_index + 1) % 3;
    for (index, manager) in managers.iter_mut().enumerate() {
        if index != survivor_index {
            manager.kill9();
        }
    }
    let survivor = &managers[survivor_index];
    let message = wait_for("the survivor to notice it has no leader", FORM, || {
        let started = std::time::Instant::now();
        let output = survivor.cli(&["service", "ls"]);
        let text = output.stderr_text();
        assert!(started.elapsed() < Duration::from_secs(15), "a command without a leader took {:?}", started.elapsed());
        (!output.status.success() && text.contains("The swarm does not have a leader")).then_some(text)
    });
    assert!(message.starts_with("Error response from daemon: "), "{message}");
    drop(w2);
}

/// The role `daemon`'s certificate names (from its data directory).
fn certificate_role(daemon: &Daemon) -> Option<swarm_core::NodeRole> {
    let files = swarm_runtime::daemon::cert_files::CertFiles::open(&daemon.data_dir).ok()?;
    Some(files.load().ok()?.0.role())
}
