//! The seed's example as a stack file, on a one-node swarm (127.0.58.1) on this machine's engine: PostgreSQL
//! (`swarm-postgres:1`, `POSTGRES_PASSWORD=mypass`) and the PHP page (`swarm-php:1`, which reads the database on
//! host `psql`) deploy with `stack deploy`, the page starting only after the database runs (`depends_on`); the
//! published port answers with data from the database; `stack rm` leaves no service, network or container.
//! The published port goes through the routing mesh on the machine's own namespace, so it is one no other test
//! uses.

use std::net::SocketAddr;
use std::time::Duration;

use swarm_tests::{ensure_seed_images, http_get_ok, scratch_dir, wait_for, Daemon, Role};

/// Long enough for a first PostgreSQL start (initdb, then the server) on a loaded machine.
const START_DEADLINE: Duration = Duration::from_secs(180);
const PORT: u16 = 18580;

const SEED_STACK: &str = r#"
version: "3.8"
services:
  psql:
    image: swarm-postgres:1
    environment:
      POSTGRES_PASSWORD: mypass
  drupal:
    image: swarm-php:1
    depends_on:
      - psql
    ports:
      - "18580:80"
"#;

#[test]
fn the_seed_stack_answers_with_data_from_its_database() {
    ensure_seed_images();
    let dir = scratch_dir("stack-seed");
    let addr = "127.0.58.1:2358";
    let node = Daemon::start(addr, &dir.join("n1"), Role::Restart);
    wait_for("the control socket", Duration::from_secs(60), || node.socket.exists().then_some(()));
    // A pool of its own: overlay networks of other clusters on this engine (a user's `scripts/up`, other tests)
    // must not overlap this one's.
    let pool = ["--default-addr-pool", "10.78.0.0/16", "--data-path-port", "4792"];
    node.cli_ok(&[&["init", "--advertise-addr", addr][..], &pool].concat());
    let file = dir.join("seed.yml");
    std::fs::write(&file, SEED_STACK).expect("write the stack file");

    let deployed = node.cli_ok(&["stack", "deploy", "-c", &file.display().to_string(), "seed"]);
    let psql = deployed.find("Creating service seed_psql").expect(&deployed);
    let drupal = deployed.find("Creating service seed_drupal").expect(&deployed);
    assert!(psql < drupal, "the page's service is created after the database's: {deployed}");
    assert!(deployed.contains("verify: Service seed_drupal converged"), "{deployed}");

    let page = wait_for("the page to show data from the database", START_DEADLINE, || {
        http_get_ok(SocketAddr::from(([127, 0, 0, 1], PORT)))
    });
    assert!(page.contains("postgres@psql:5432/postgres (PostgreSQL"), "{page}");

    let removed = node.cli_ok(&["stack", "rm", "seed"]);
    assert!(removed.contains("Removing network seed_default"), "{removed}");
    assert!(node.cli_ok(&["service", "ls", "-q"]).trim().is_empty());
    wait_for("the stack's containers to go", Duration::from_secs(60), || {
        swarm_tests::containers_of_nodes(&[&node.data_dir], "com.docker.stack.namespace=seed").is_empty().then_some(())
    });
}
