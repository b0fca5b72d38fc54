//! The seed's stand-in images (`scripts/images --seed`: `swarm-postgres:1` and `swarm-php:1`) on the plain Docker
//! engine, without the orchestrator: the PostgreSQL image honours the official image's settings, the PHP page reached
//! through a published port shows data from the database on host `psql` and the client address it sees (also in its
//! access log), and both stop cleanly on SIGTERM. Every container and network is named for this process and test and
//! removed at the end, whether the test passed or not; nothing else on the engine is touched.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use swarm_tests::{docker, ensure_seed_images, http_get, scratch_dir, wait_for};

/// Long enough for a first PostgreSQL start (initdb, then the server) on a loaded machine.
const START_DEADLINE: Duration = Duration::from_secs(180);
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// Counts the sessions running the test's long query (this query itself does not match the pattern).
const LONG_QUERIES: &str = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'";

/// The containers and networks a test creates, by unique name; all are removed on drop (after a failure too, with
/// the containers' last log lines printed first).
struct Scratch {
    prefix: String,
    containers: Vec<String>,
    networks: Vec<String>,
}

impl Scratch {
    fn new(test: &str) -> Scratch {
        Scratch { prefix: format!("swarm-seed-{}-{test}", std::process::id()), containers: vec![], networks: vec![] }
    }

    /// A name for a container this test is about to create (recorded first, so a failed creation is cleaned too).
    fn container(&mut self, role: &str) -> String {
        let name = format!("{}-{role}", self.prefix);
        self.containers.push(name.clone());
        name
    }

    fn network(&mut self) -> String {
        let name = format!("{}-net", self.prefix);
        self.networks.push(name.clone());
        docker(&["network", "create", &name]);
        name
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for container in &self.containers {
            if std::thread::panicking() {
                if let Ok(logs) = docker_result(&["logs", "--tail", "30", container]) {
                    eprintln!("--- last log lines of {container}:\n{logs}");
                }
            }
            let _ = docker_result(&["rm", "-f", "-v", container]);
        }
        for network in &self.networks {
            let _ = docker_result(&["network", "rm", network]);
        }
    }
}

/// `docker ARGS`: its stdout and stderr together if it succeeded, else its stderr.
fn docker_result(args: &[&str]) -> Result<String, String> {
    let output = Command::new("docker").args(args).output().expect("run docker");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        Ok(format!("{stdout}{stderr}"))
    } else {
        Err(stderr.into_owned())
    }
}

/// `docker` with the words of `command` (arguments without spaces); its stdout.
fn docker_words(command: &str) -> String {
    docker(&command.split_whitespace().collect::<Vec<_>>())
}

fn inspect(object: &str, format: &str) -> String {
    docker(&["inspect", "--format", format, object]).trim().to_string()
}

/// The value of the page's `name: value` line.
fn field<'a>(page: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}: ");
    page.lines().find_map(|line| line.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no `{name}` in:\n{page}"))
}

fn number(page: &str, name: &str) -> u64 {
    field(page, name).parse().unwrap_or_else(|_| panic!("`{name}` is not a number in:\n{page}"))
}

/// Sends `signal` to `container`, waits for it to stop and returns its exit code.
fn signal_and_wait(container: &str, signal: &str) -> i64 {
    docker(&["kill", "--signal", signal, container]);
    wait_for(&format!("{container} to stop after {signal}"), STOP_DEADLINE, || {
        (inspect(container, "{{.State.Running}}") == "false").then_some(())
    });
    inspect(container, "{{.State.ExitCode}}").parse().expect("exit code")
}

#[test]
fn the_page_shows_data_from_the_database_and_both_stop_cleanly_on_sigterm() {
    ensure_seed_images();
    let mut scratch = Scratch::new("page");
    let network = scratch.network();
    let database = scratch.container("psql");
    docker_words(&format!(
        "run -d --name {database} --network {network} --network-alias psql -e POSTGRES_PASSWORD=mypass swarm-postgres:1"
    ));
    let web = scratch.container("web");
    docker(&["run", "-d", "--name", &web, "--network", &network, "-p", "127.0.0.1::80", "swarm-php:1"]);
    let published: SocketAddr = docker(&["port", &web, "80/tcp"])
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .expect("the published address of port 80");

    let first = wait_for("the page on the published port to show data from the database", START_DEADLINE, || {
        http_get(published).filter(|(status, _)| *status == 200).map(|(_, page)| page)
    });
    let hostname = inspect(&web, "{{.Config.Hostname}}");
    assert_eq!(field(&first, "served by"), hostname, "{first}");
    assert!(field(&first, "database").starts_with("postgres@psql:5432/postgres (PostgreSQL 15"), "{first}");

    // Straight to the container's address on the network, the client address Apache sees is the host's address
    // on that network (the network's gateway), in the page, in the table and in the access log.
    let gateway = inspect(&network, "{{(index .IPAM.Config 0).Gateway}}");
    let address = inspect(&web, &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"));
    let direct: SocketAddr = format!("{address}:80").parse().expect("the container's address");
    let (status, second) = http_get(direct).expect("an answer from the container's address");
    assert_eq!(status, 200, "{second}");
    assert_eq!(field(&second, "client"), gateway, "{second}");
    assert!(number(&second, "visit") > number(&first, "visit"), "{first}\n{second}");
    assert!(number(&second, "visits") >= 2, "{second}");
    assert_eq!(number(&second, "containers"), 1, "{second}");
    assert!(second.contains(&format!(" from {gateway} served by {hostname}\n")), "{second}");
    let access_log = docker(&["logs", &web]);
    assert!(
        access_log.lines().any(|line| line.starts_with(&format!("{gateway} ")) && line.contains("\"GET / HTTP/1.0\"")),
        "no access log line from {gateway}:\n{access_log}"
    );

    // SIGTERM while a session runs a long query: a fast shutdown ends the session and the server exits 0.
    docker(&["exec", "-d", &database, "psql", "-U", "postgres", "-c", "SELECT pg_sleep(600)"]);
    wait_for("the long query to run", START_DEADLINE, || {
        let count = docker(&["exec", &database, "psql", "-U", "postgres", "-tAc", LONG_QUERIES]);
        (count.trim() == "1").then_some(())
    });
    assert_eq!(signal_and_wait(&database, "TERM"), 0, "PostgreSQL's exit code after SIGTERM");
    let server_log = docker_result(&["logs", &database]).expect("the database's logs");
    assert!(server_log.contains("terminating connection due to administrator command"), "{server_log}");
    assert!(server_log.trim_end().ends_with("database system is shut down"), "{server_log}");

    // Without its database the page says so with a 503 rather than an empty 200.
    let (status, page) = http_get(published).expect("an answer without the database");
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("error: cannot connect to postgres@psql:5432/postgres"), "{page}");

    assert_eq!(signal_and_wait(&web, "TERM"), 0, "Apache's exit code after SIGTERM");
}

#[test]
fn the_postgres_image_honours_the_official_images_settings() {
    ensure_seed_images();
    let mut scratch = Scratch::new("settings");

    let unset = scratch.container("no-password");
    let refused = docker_result(&["run", "--name", &unset, "swarm-postgres:1"]).expect_err("a start without password");
    assert!(refused.contains("Set POSTGRES_PASSWORD"), "{refused}");
    assert_eq!(inspect(&unset, "{{.State.ExitCode}}"), "1");

    // A user, a database and init scripts (SQL, and a shell script that is sourced since it is not executable).
    let database = scratch.container("shop");
    docker_words(&format!(
        "create --name {database} -e POSTGRES_USER=shop_owner -e POSTGRES_DB=shop -e POSTGRES_PASSWORD=s3cret \
         swarm-postgres:1"
    ));
    let init = scratch_dir("seed-images-initdb").join("docker-entrypoint-initdb.d");
    std::fs::create_dir_all(&init).expect("create the init directory");
    std::fs::write(init.join("10-schema.sql"), "CREATE TABLE items (name text);\nINSERT INTO items VALUES ('seed');\n")
        .expect("write the SQL script");
    std::fs::write(
        init.join("20-more.sh"),
        "psql -v ON_ERROR_STOP=1 -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -c \"INSERT INTO items VALUES ('sh')\"\n",
    )
    .expect("write the shell script");
    docker(&["cp", init.to_str().expect("utf-8 path"), &format!("{database}:/docker-entrypoint-initdb.d")]);
    let _ = std::fs::remove_dir_all(init.parent().expect("the scratch directory"));

    // Over TCP with the password: the server listens only after its setup, so this also waits for the end of it.
    let items = |password: &str| {
        docker_result(&[
            "exec",
            "-e",
            &format!("PGPASSWORD={password}"),
            &database,
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "shop_owner",
            "-d",
            "shop",
            "-tAc",
            "SELECT string_agg(name, ',' ORDER BY name) FROM items",
        ])
    };
    docker(&["start", &database]);
    let listed = wait_for("the initialised database to answer over TCP", START_DEADLINE, || items("s3cret").ok());
    assert_eq!(listed.trim(), "seed,sh");
    let wrong = items("wrong").expect_err("a login with a wrong password");
    assert!(wrong.contains("password authentication failed for user \"shop_owner\""), "{wrong}");

    // A restart keeps the data and does not initialise again.
    assert_eq!(signal_and_wait(&database, "TERM"), 0, "PostgreSQL's exit code after SIGTERM");
    docker(&["start", &database]);
    let listed = wait_for("the restarted database to answer", START_DEADLINE, || items("s3cret").ok());
    assert_eq!(listed.trim(), "seed,sh");
    let logs = docker_result(&["logs", &database]).expect("the database's logs");
    assert_eq!(logs.matches("swarm-postgres: initialising").count(), 1, "{logs}");
}
