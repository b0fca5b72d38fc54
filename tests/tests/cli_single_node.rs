//! One node, driven through the `swarm` CLI like an operator would, checking what the user sees: the published
//! port answers, progress ends with `verify: Service … converged`, a service whose image does not exist makes
//! `service create` exit non-zero with Docker's error while `service ps` shows it, logs come back prefixed with the
//! task, unknown names get Docker's messages, join-token rotation replaces only that role's token, and `leave`
//! refuses to drop the last manager unless forced — and then takes the node's containers with it.

use std::time::Duration;

use swarm_tests::{containers_of_nodes, ensure_test_images, scratch_dir, wait_for, Daemon, Role};

const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn one_node_swarm_through_the_cli() {
    ensure_test_images();
    let dir = scratch_dir("single-node");
    let addr = "127.0.52.1:2352";
    let node = Daemon::start(addr, &dir.join("n1"), Role::Restart);
    wait_for("the control socket", DEADLINE, || node.socket.exists().then_some(()));

    // Not in a swarm yet: cluster commands say so.
    let outside = node.cli(&["service", "ls"]);
    assert!(!outside.status.success());
    assert!(outside.stderr_text().contains("This node is not a swarm manager"), "{}", outside.stderr_text());
    // A pool and data-path port of its own: a user's cluster on this engine and namespace keeps the defaults.
    node.cli_ok(&["init", "--advertise-addr", addr, "--default-addr-pool", "10.76.0.0/16", "--data-path-port", "4791"]);
    let again = node.cli(&["init"]);
    assert!(again.stderr_text().contains("This node is already part of a swarm"), "{}", again.stderr_text());

    // A published port answers, and progress ends with Docker's verify line.
    let port = 18452;
    let publish = format!("{port}:80");
    let created = node.cli_ok(&["service", "create", "--name", "hello", "-p", &publish, "swarm-hello:1"]);
    assert!(created.contains("overall progress: 1 out of 1 tasks"), "{created}");
    assert!(created.trim_end().ends_with("verify: Service hello converged"), "{created}");
    let answer = wait_for("hello to answer on its published port", DEADLINE, || {
        let output = std::process::Command::new("curl").args(["-sf", &format!("http://127.0.0.1:{port}/")]).output();
        output.ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    });
    assert!(answer.starts_with("hello from "), "{answer}");
    let inspect = node.cli_ok(&["service", "inspect", "--pretty", "hello"]);
    assert!(inspect.contains("PublishMode = ingress"), "{inspect}");

    // Logs carry the task's name and node.
    let logs = wait_for("hello's request in its logs", DEADLINE, || {
        let text = node.cli_ok(&["service", "logs", "hello"]);
        text.contains("GET / from").then_some(text)
    });
    assert!(logs.lines().all(|l| l.starts_with("hello.1.") && l.contains("@n1    | ")), "{logs}");

    // An image that does not exist: create exits non-zero; ps shows Docker's error.
    let bad = node.cli(&["service", "create", "--name", "bad", "nosuchimage:1"]);
    assert!(!bad.status.success(), "creating a service of a missing image must not converge");
    assert!(bad.stderr_text().contains("No such image: nosuchimage:1"), "{}", bad.stderr_text());
    let ps = node.cli_ok(&["service", "ps", "bad"]);
    assert!(ps.contains("\"No such image: nosuchimage:1\""), "{ps}");
    assert!(ps.contains("Rejected"), "{ps}");

    // Unknown names, in Docker's words.
    let missing = node.cli(&["service", "ps", "nosuch"]);
    assert_eq!(missing.stderr_text().trim(), "no such service: nosuch");
    let missing = node.cli(&["service", "rm", "nosuch"]);
    assert_eq!(missing.stderr_text().trim(), "Error response from daemon: service nosuch not found");
    let conflict = node.cli(&["service", "create", "-d", "--name", "hello", "swarm-hello:1"]);
    assert!(!conflict.status.success());
    let bad_flag = node.cli(&["service", "create", "--restart-delay", "5x", "swarm-hello:1"]);
    assert!(bad_flag.stderr_text().contains("--restart-delay"), "{}", bad_flag.stderr_text());

    // Go templates, as operators script Docker's listings.
    assert_eq!(
        node.cli_ok(&["service", "ls", "--format", "{{.Name}} {{.Mode}}"]),
        "bad replicated\nhello replicated\n"
    );
    let ps = node.cli_ok(&["service", "ps", "--format", "table {{.Name}}\\t{{.DesiredState}}", "hello"]);
    assert!(ps.starts_with("NAME      DESIRED STATE\nhello.1   Running"), "{ps}");
    let bad_template = node.cli(&["node", "ls", "--format", "{{.Nope}}"]);
    assert!(!bad_template.status.success());
    assert!(bad_template.stderr_text().contains("can't evaluate field Nope"), "{}", bad_template.stderr_text());

    // Without --name, a service gets a generated adjective_surname name, as in Docker.
    let id = node.cli_ok(&["service", "create", "-d", "swarm-hello:1"]);
    let names = node.cli_ok(&["service", "ls", "--format", "{{.ID}} {{.Name}}"]);
    let generated = names.lines().find_map(|line| line.strip_prefix(&format!("{} ", &id.trim()[..12])));
    let generated = generated.unwrap_or_else(|| panic!("service {id} not listed:\n{names}")).to_string();
    assert!(generated.split_once('_').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()), "{generated}");
    node.cli_ok(&["service", "rm", &generated]);

    // Rotating the worker token leaves the manager token alone.
    let worker = node.join_token("worker");
    let manager = node.join_token("manager");
    let rotated = node.cli_ok(&["join-token", "--rotate", "-q", "worker"]);
    assert_ne!(rotated.trim(), worker);
    assert_eq!(node.join_token("worker"), rotated.trim());
    assert_eq!(node.join_token("manager"), manager);

    // The last manager does not leave unless forced; forced, it takes its containers with it.
    let leave = node.cli(&["leave"]);
    assert!(!leave.status.success());
    assert!(
        leave.stderr_text().contains("Removing the last manager erases all current state"),
        "{}",
        leave.stderr_text()
    );
    assert!(!containers_of_nodes(&[&node.data_dir], "swarm.service.name=hello").is_empty());
    let node_id = swarm_tests::node_id_of(&node.data_dir).expect("a node id");
    node.cli_ok(&["leave", "--force"]);
    wait_for("hello's containers gone", DEADLINE, || {
        containers_of_nodes(&[&node.data_dir], "swarm.service.name=hello").is_empty().then_some(())
    });
    // Leaving took the node's routing mesh with it (its table; the port no longer answers).
    let mesh_table = swarm_runtime::worker::overlay::mesh::table_name(&node_id);
    wait_for("the node's mesh table gone", DEADLINE, || {
        let tables = std::process::Command::new("nft").args(["list", "tables"]).output().expect("nft runs");
        (!String::from_utf8_lossy(&tables.stdout).contains(&mesh_table)).then_some(())
    });
    let url = format!("http://127.0.0.1:{port}/");
    let closed = std::process::Command::new("curl").args(["-sf", "--max-time", "2", &url]).output().expect("curl runs");
    assert!(!closed.status.success(), "port {port} still answers after leaving");
    let after = node.cli(&["node", "ls"]);
    assert!(after.stderr_text().contains("This node is not a swarm manager"), "{}", after.stderr_text());
}
