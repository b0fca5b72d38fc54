//! Stacks end to end on two test hosts (a manager and a worker, each a network namespace with its own dockerd), through
//! the `swarm` CLI as a user types it: `stack deploy` of a compose file creates the stack's network and services in
//! `depends_on` order; `web` finds `db` by its short name on the stack network; `stack ls/services/ps` list them; a
//! published port (through the routing mesh) answers; redeploying the unchanged file changes nothing (same
//! versions, same tasks); a changed file updates only the changed service, and `--prune` removes the service no longer
//! in it; a missing external network and a bad file are refused before anything changes; `stack rm` leaves no service,
//! network or container on any host.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use swarm_tests::hosts::{form_cluster, HostDaemon, TestHosts};
use swarm_tests::{http_get_ok, wait_for};

const DEADLINE: Duration = Duration::from_secs(90);

const STACK_V1: &str = r#"
version: "3.8"
services:
  db:
    image: swarm-hello:1
    environment:
      ROLE: db
  web:
    image: swarm-tools:1
    command: ["sleep", "3600"]
    depends_on: [db]
    environment:
      ROLE: web
    deploy:
      replicas: 2
      placement:
        max_replicas_per_node: 1
  extra:
    image: swarm-hello:1
    ports:
      - "8080:80"
"#;

/// `web` changed (its environment), `extra` gone.
const STACK_V2: &str = r#"
version: "3.8"
services:
  db:
    image: swarm-hello:1
    environment:
      ROLE: db
  web:
    image: swarm-tools:1
    command: ["sleep", "3600"]
    depends_on: [db]
    environment:
      ROLE: web-v2
    deploy:
      replicas: 2
      placement:
        max_replicas_per_node: 1
"#;

const EXTERNAL: &str = r#"
services:
  app:
    image: swarm-hello:1
    networks: [shared]
networks:
  shared:
    external: true
"#;

const BAD: &str = "services:\n  app:\n    image: swarm-hello:1\n    deploy:\n      replicas: three\n";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a compose file");
    path.display().to_string()
}

fn inspect(daemon: &HostDaemon<'_>, args: &[&str]) -> Value {
    serde_json::from_str(&daemon.cli_ok(args)).expect("inspect prints JSON")
}

fn version_of(daemon: &HostDaemon<'_>, service: &str) -> u64 {
    let format = ["service", "inspect", "--format", "{{.Version.Index}}", service];
    daemon.cli_ok(&format).trim().parse().expect("a version")
}

/// The ids of `service`'s tasks that should run.
fn running_task_ids(daemon: &HostDaemon<'_>, service: &str) -> BTreeSet<String> {
    let ids = daemon.cli_ok(&["service", "ps", "-q", "--no-trunc", "--filter", "desired-state=running", service]);
    ids.lines().map(str::to_string).collect()
}

/// Waits until every task of the stack that should run is running.
fn wait_stack_running(daemons: &[HostDaemon<'_>], stack: &str, tasks: usize) {
    let manager = &daemons[0];
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let states = manager.cli_ok(&[
            "stack",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.CurrentState}}",
            stack,
        ]);
        if states.lines().count() == tasks && states.lines().all(|state| state.starts_with("Running")) {
            return;
        }
        if std::time::Instant::now() > deadline {
            let ps = manager.cli_ok(&["stack", "ps", "--no-trunc", stack]);
            let logs: Vec<String> =
                daemons.iter().map(|d| format!("--- {} ---\n{}", d.host.name(), d.log_tail())).collect();
            panic!("stack {stack} is not running:\n{ps}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn stacks_deploy_update_prune_and_remove() {
    let hosts = TestHosts::start("st", 2);
    let daemons: Vec<HostDaemon<'_>> = hosts.hosts().iter().map(HostDaemon::start).collect();
    let manager = &daemons[0];
    form_cluster(&daemons, DEADLINE);
    let files = hosts.hosts()[0].dir();
    let v1 = write(files, "stack-v1.yml", STACK_V1);
    let v2 = write(files, "stack-v2.yml", STACK_V2);

    // Bad input is refused before anything changes.
    let bad = manager.cli(&["stack", "deploy", "-c", &write(files, "bad.yml", BAD), "st"]);
    let bad_error = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(bad_error.contains("bad.yml:5:") && bad_error.contains("services.app.deploy.replicas"), "{bad_error}");
    let external = manager.cli(&["stack", "deploy", "-c", &write(files, "external.yml", EXTERNAL), "st"]);
    assert_eq!(
        String::from_utf8_lossy(&external.stderr).trim(),
        "network \"shared\" is declared as external, but could not be found. You need to create a swarm-scoped \
         network before the stack is deployed"
    );
    assert!(manager.cli_ok(&["service", "ls", "-q"]).trim().is_empty());
    assert!(manager.cli_ok(&["network", "ls", "--filter", "name=st_", "-q"]).trim().is_empty());

    // Deploy: the network first, db before web (web depends on it).
    let deployed = manager.cli_ok(&["stack", "deploy", "-c", &v1, "st"]);
    let position = |line: &str| deployed.find(line).unwrap_or_else(|| panic!("no {line:?} in:\n{deployed}"));
    assert!(position("Creating network st_default") < position("Creating service st_db"), "{deployed}");
    assert!(position("Creating service st_db") < position("Creating service st_web"), "{deployed}");
    position("Creating service st_extra");
    wait_stack_running(&daemons, "st", 4);
    assert_eq!(manager.cli_ok(&["stack", "ls", "--format", "{{.Name}} {{.Services}}"]).trim(), "st 3");
    let services = manager.cli_ok(&["stack", "services", "st", "--format", "{{.Name}} {{.Replicas}}"]);
    assert_eq!(services.trim(), "st_db 1/1\nst_extra 1/1\nst_web 2/2 (max 1 per node)", "{services}");
    let web_service = inspect(manager, &["service", "inspect", "st_web"]);
    assert_eq!(web_service[0]["Spec"]["Labels"]["com.docker.stack.namespace"], "st");

    // web reaches db by its short name on the stack network.
    let web_host = hosts
        .hosts()
        .iter()
        .find(|host| host.docker(&["ps", "--format", "{{.Names}}"]).lines().any(|n| n.starts_with("st_web.")))
        .expect("a host runs a web task");
    let web_container = web_host.docker(&["ps", "--format", "{{.Names}}"]);
    let web_container = web_container.lines().find(|n| n.starts_with("st_web.")).expect("a web container").to_string();
    let answer = wait_for("web to reach db by name", Duration::from_secs(30), || {
        let output = web_host.try_docker(&["exec", &web_container, "timeout", "5", "wget", "-qO-", "http://db/"]);
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    });
    assert!(answer.starts_with("hello from "), "{answer}");

    // extra's published port answers through the routing mesh (here on the host that runs it).
    let extra_host = hosts
        .hosts()
        .iter()
        .find(|host| host.docker(&["ps", "--format", "{{.Names}}"]).lines().any(|n| n.starts_with("st_extra.")))
        .expect("a host runs extra");
    let published = wait_for("extra's published port to answer", Duration::from_secs(30), || {
        http_get_ok(SocketAddr::from((extra_host.addr(), 8080)))
    });
    assert!(published.starts_with("hello from "), "{published}");

    // The same file again changes nothing.
    let versions: Vec<u64> = ["st_db", "st_web", "st_extra"].iter().map(|s| version_of(manager, s)).collect();
    let web_tasks = running_task_ids(manager, "st_web");
    let db_tasks = running_task_ids(manager, "st_db");
    let again = manager.cli_ok(&["stack", "deploy", "-c", &v1, "st"]);
    assert!(again.contains("Updating service st_web (id: "), "{again}");
    assert!(!again.contains("Creating"), "{again}");
    let versions_again: Vec<u64> = ["st_db", "st_web", "st_extra"].iter().map(|s| version_of(manager, s)).collect();
    assert_eq!(versions, versions_again, "an unchanged stack file changed a service");
    assert_eq!(running_task_ids(manager, "st_web"), web_tasks);

    // A changed web and --prune: web's tasks are replaced, db's are not, extra is removed.
    let updated = manager.cli_ok(&["stack", "deploy", "--prune", "-c", &v2, "st"]);
    assert!(updated.contains("Removing service st_extra"), "{updated}");
    wait_stack_running(&daemons, "st", 3);
    let new_web_tasks = running_task_ids(manager, "st_web");
    assert!(new_web_tasks.is_disjoint(&web_tasks), "web's tasks were not replaced: {new_web_tasks:?}");
    assert_eq!(running_task_ids(manager, "st_db"), db_tasks, "db changed nothing and must keep its tasks");
    assert_eq!(version_of(manager, "st_db"), versions[0]);
    assert_eq!(manager.cli_ok(&["stack", "ls", "--format", "{{.Name}} {{.Services}}"]).trim(), "st 2");

    // stack rm leaves nothing behind.
    let removed = manager.cli_ok(&["stack", "rm", "st"]);
    assert!(removed.contains("Removing service st_db") && removed.contains("Removing network st_default"), "{removed}");
    assert_eq!(manager.cli_ok(&["stack", "ls", "--format", "{{.Name}}"]).trim(), "");
    assert!(manager.cli_ok(&["service", "ls", "-q"]).trim().is_empty());
    assert!(manager.cli_ok(&["network", "ls", "--filter", "name=st_", "-q"]).trim().is_empty());
    for host in hosts.hosts() {
        wait_for(&format!("{} to have no container or network of the stack", host.name()), DEADLINE, || {
            let containers = host.docker(&["ps", "-aq"]);
            let networks = host.docker(&["network", "ls", "--filter", "label=swarm.overlay.network-id", "-q"]);
            (containers.trim().is_empty() && networks.trim().is_empty()).then_some(())
        });
    }
    let nothing = manager.cli_ok(&["stack", "rm", "st"]);
    assert_eq!(nothing.trim(), "Nothing found in stack: st");
}
