//! Secrets and configs end to end on real daemons (a manager and a worker on this host's engine): `secret create`
//! from a file and from stdin, `ls`/`inspect` without the value, an oversized secret refused with its size; a
//! service pinned to the worker gets the secret at `/run/secrets/<target>` with the mode asked for and the config
//! at its path; the value is in no file under any data directory, in no log, and on the manager's node (which runs
//! none of the service's tasks) in no task-files tmpfs; `secret rm` of a secret in use is refused naming the
//! service; once the service is gone the secret goes too.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use swarm_tests::{docker, ensure_test_images, node_id_of, scratch_dir, swarm_bin, wait_for, Daemon, Role};

const FORM: Duration = Duration::from_secs(60);

/// Every file under `dir` (not following symlinks) whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            if bytes.windows(needle.len()).any(|window| window == needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// The one container of `service` on this engine, once it runs.
fn running_container(service: &str) -> String {
    wait_for(&format!("a running container of {service}"), FORM, || {
        let filter = format!("label=swarm.service.name={service}");
        let names = docker(&["ps", "--filter", &filter, "--format", "{{.ID}}"]);
        names.lines().next().map(str::to_string)
    })
}

#[test]
fn secrets_and_configs_reach_only_their_tasks_and_never_a_disk() {
    ensure_test_images();
    let dir = scratch_dir("secrets");
    let manager_addr = "127.0.39.1:2339";
    let m1 = Daemon::start(manager_addr, &dir.join("m1"), Role::Init);
    wait_for("an initialised cluster", FORM, || m1.leads_initialized_cluster().then_some(()));
    let token = m1.join_token("worker");
    let w1 = Daemon::start("127.0.39.2:2339", &dir.join("w1"), Role::Join { addr: manager_addr, token: &token });
    let worker_id = node_id_of(&w1.data_dir).expect("the worker's node id");
    let manager_id = node_id_of(&m1.data_dir).expect("the manager's node id");
    wait_for("the worker to be ready", FORM, || {
        let nodes = m1.cli_ok(&["node", "ls"]);
        nodes.lines().any(|line| line.starts_with(&worker_id) && line.contains("Ready")).then_some(())
    });

    let value = format!("hunter2-{}-Zq7", std::process::id());
    let value_file = dir.join("db_pass.txt");
    std::fs::write(&value_file, &value).unwrap();
    let secret_id = m1.cli_ok(&["secret", "create", "--label", "team=db", "db_pass", value_file.to_str().unwrap()]);
    assert_eq!(secret_id.trim().len(), 25, "secret create prints the id: {secret_id}");
    // From stdin too.
    let mut stdin_create = Command::new(swarm_bin())
        .args(["secret", "create", "-H", &format!("unix://{}", m1.socket.display()), "from_stdin", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    stdin_create.stdin.take().unwrap().write_all(b"from-stdin-value").unwrap();
    let output = stdin_create.wait_with_output().unwrap();
    assert!(output.status.success(), "secret create -: {}", String::from_utf8_lossy(&output.stderr));

    let listed = m1.cli_ok(&["secret", "ls"]);
    assert!(listed.lines().next().unwrap().starts_with("ID"), "{listed}");
    assert!(listed.contains("db_pass") && listed.contains("from_stdin"), "{listed}");
    let inspected = m1.cli_ok(&["secret", "inspect", "db_pass"]);
    assert!(inspected.contains("\"team\": \"db\"") && !inspected.contains(&value), "{inspected}");

    // Oversized: refused, naming the size; nothing is created.
    let big = dir.join("big.bin");
    std::fs::write(&big, vec![b'x'; 600 * 1024]).unwrap();
    let refused = m1.cli(&["secret", "create", "big", big.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(refused.stderr_text().contains("614400"), "{}", refused.stderr_text());
    assert!(!m1.cli_ok(&["secret", "ls"]).contains("big"));

    let config_file = dir.join("app.conf");
    std::fs::write(&config_file, "listen 8080\n").unwrap();
    m1.cli_ok(&["config", "create", "app_conf", config_file.to_str().unwrap()]);

    m1.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "vault",
        "--constraint",
        &format!("node.id=={worker_id}"),
        "--secret",
        "source=db_pass,target=pw,mode=0400",
        "--config",
        "source=app_conf,target=/etc/app.conf",
        "swarm-tools:1",
        "sleep",
        "3600",
    ]);
    let container = running_container("vault");
    assert_eq!(docker(&["exec", &container, "cat", "/run/secrets/pw"]), value);
    assert_eq!(docker(&["exec", &container, "stat", "-c", "%a %u", "/run/secrets/pw"]).trim(), "400 0");
    assert_eq!(docker(&["exec", &container, "cat", "/etc/app.conf"]), "listen 8080\n");
    // The container's secret is a read-only mount of the worker's tmpfs.
    let mounts = docker(&["exec", &container, "cat", "/proc/mounts"]);
    assert!(mounts.lines().any(|line| line.contains(" /run/secrets/pw tmpfs ro")), "{mounts}");

    // In use: refused, naming the service; still listed.
    let in_use = m1.cli(&["secret", "rm", "db_pass"]);
    assert!(!in_use.status.success());
    assert!(in_use.stderr_text().contains("in use by the following service: vault"), "{}", in_use.stderr_text());

    // Never on a disk, never in a log, never on the node without the task.
    let needle = value.as_bytes();
    for data_dir in [&m1.data_dir, &w1.data_dir] {
        assert_eq!(files_containing(data_dir, needle), Vec::<String>::new(), "the secret's value on disk");
    }
    for log in [&m1.log_path, &w1.log_path] {
        assert!(!std::fs::read_to_string(log).unwrap_or_default().contains(&value), "the value in {}", log.display());
    }
    let manager_files = swarm_runtime::daemon::task_files_dir(&manager_id);
    assert_eq!(files_containing(&manager_files, needle), Vec::<String>::new(), "on the node without the task");
    let worker_files = swarm_runtime::daemon::task_files_dir(&worker_id);
    assert_eq!(files_containing(&worker_files, needle).len(), 1, "once, in the worker's tmpfs");

    m1.cli_ok(&["service", "rm", "vault"]);
    wait_for("the service's files to go", FORM, || files_containing(&worker_files, needle).is_empty().then_some(()));
    wait_for("the secret to be removable", FORM, || {
        m1.cli(&["secret", "rm", "db_pass"]).status.success().then_some(())
    });
    assert!(!m1.cli_ok(&["secret", "ls"]).contains("db_pass"));
    m1.cli_ok(&["config", "rm", "app_conf"]);
}
