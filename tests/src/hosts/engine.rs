//! One host's Docker Engine: a `dockerd` started inside the host's namespace with `nsenter --net=…` (`ip netns
//! exec` remounts /sys and dockerd then finds no devices cgroup), with a config file of its own (the machine's
//! /etc/docker/daemon.json sets `data-root`), so that it shares nothing with the machine's engine or the other
//! hosts': own data root, exec root, socket, pid file, `bip` and key file (`deprecated-key-path`: with the shared
//! /etc/docker/key.json every engine reports one ID). Storage is overlay2, vfs if overlay2 fails to start.
//! Stopping removes every container with SIGKILL first (a container ignoring SIGTERM would hold dockerd's shutdown
//! for its stop timeout), then stops dockerd with SIGTERM, SIGKILL after a deadline.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::TestHost;

/// Set once overlay2 failed to start on this machine: later engines go straight to vfs.
static OVERLAY2_FAILED: AtomicBool = AtomicBool::new(false);

/// How long `docker` client calls made while cleaning up may take before they are given up.
const CLEANUP_CALL_DEADLINE: Duration = Duration::from_secs(30);
/// How long dockerd may take to shut down after SIGTERM before it is killed.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

pub fn socket_path(host_dir: &Path) -> PathBuf {
    host_dir.join("docker.sock")
}

pub fn log_path(host_dir: &Path) -> PathBuf {
    host_dir.join("dockerd.log")
}

/// The config file of a host's engine.
fn config(host_dir: &Path, index: usize, storage_driver: &str) -> serde_json::Value {
    serde_json::json!({
        "data-root": host_dir.join("data"),
        "storage-driver": storage_driver,
        // 172.31.<n>.1/24: distinct per host, so addresses seen in a test name their host.
        "bip": format!("172.31.{index}.1/24"),
        "deprecated-key-path": host_dir.join("key.json"),
        "log-driver": "json-file",
    })
}

/// Starts host `index`'s engine and waits (up to `deadline`) until it answers; falls back to vfs if dockerd exits
/// failing to set up overlay2. Panics with the engine's log if it does not come up.
pub fn start(host: &mut TestHost, index: usize, deadline: Duration) {
    if !OVERLAY2_FAILED.load(Ordering::Relaxed) {
        spawn(host, index, "overlay2");
        match wait_ready(host, deadline) {
            Ok(()) => return,
            Err(NotReady::Exited(log)) if log.contains("graphdriver") => {
                OVERLAY2_FAILED.store(true, Ordering::Relaxed);
                eprintln!("test host {}: overlay2 failed, using vfs", host.name);
                super::cleanup::unmount_under(&host.dir.join("data"));
                let _ = std::fs::remove_dir_all(host.dir.join("data"));
            }
            Err(not_ready) => panic!("the engine of test host {} did not start: {not_ready}", host.name),
        }
    }
    spawn(host, index, "vfs");
    if let Err(not_ready) = wait_ready(host, deadline) {
        panic!("the engine of test host {} did not start: {not_ready}", host.name);
    }
}

/// Why an engine did not come up, with its log.
enum NotReady {
    Exited(String),
    Silent(Duration, String),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Exited(log) => write!(f, "dockerd exited:\n{log}"),
            NotReady::Silent(deadline, log) => write!(f, "no answer after {deadline:?}:\n{log}"),
        }
    }
}

fn spawn(host: &mut TestHost, index: usize, storage_driver: &str) {
    let config_path = host.dir.join("daemon.json");
    let text = serde_json::to_string_pretty(&config(&host.dir, index, storage_driver)).expect("config JSON");
    std::fs::write(&config_path, text).expect("write the engine config");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log_path(&host.dir)).expect("engine log");
    let child = Command::new("nsenter")
        .arg(format!("--net={}", host.netns_path().display()))
        .arg("--")
        .arg("dockerd")
        .arg("--config-file")
        .arg(&config_path)
        .arg("-H")
        .arg(host.docker_host())
        .arg("--pidfile")
        .arg(host.dir.join("docker.pid"))
        .arg("--exec-root")
        .arg(host.dir.join("exec"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("spawn nsenter dockerd");
    host.dockerd = Some(child);
}

/// Polls the engine's `/_ping` until it answers 200, dockerd exits or `deadline` passes.
fn wait_ready(host: &mut TestHost, deadline: Duration) -> Result<(), NotReady> {
    let started = Instant::now();
    let socket = socket_path(&host.dir);
    loop {
        if ping(&socket) {
            return Ok(());
        }
        let child = host.dockerd.as_mut().expect("dockerd was spawned");
        if let Ok(Some(status)) = child.try_wait() {
            host.dockerd = None;
            return Err(NotReady::Exited(format!("{status}\n{}", host.dockerd_log())));
        }
        if started.elapsed() > deadline {
            return Err(NotReady::Silent(deadline, host.dockerd_log()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the engine on `socket` answers `GET /_ping` with 200.
fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200")
}

/// Saves `images` from the machine's engine into `<run_dir>/images.tar`, for every host to load.
pub fn save_images(run_dir: &Path, images: &[&str]) -> PathBuf {
    let tar = run_dir.join("images.tar");
    let output = Command::new("docker").arg("save").arg("-o").arg(&tar).args(images).output().expect("run docker");
    assert!(output.status.success(), "docker save {images:?}: {}", String::from_utf8_lossy(&output.stderr));
    tar
}

/// Loads the saved images into the host's engine.
pub fn load_images(host: &TestHost, tar: &Path) {
    let output = host.docker_command().arg("load").arg("-q").arg("-i").arg(tar).output().expect("run docker");
    assert!(
        output.status.success(),
        "docker load on test host {}: {}",
        host.name,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Removes every container of the host's engine, then stops dockerd (SIGTERM, SIGKILL after a deadline) and
/// reaps it. Never panics (it runs in `Drop`).
pub fn stop(host: &mut TestHost) {
    let Some(mut child) = host.dockerd.take() else { return };
    if let Ok(None) = child.try_wait() {
        remove_all_containers(host);
        signal(child.id(), libc::SIGTERM);
        let started = Instant::now();
        while matches!(child.try_wait(), Ok(None)) && started.elapsed() < SHUTDOWN_DEADLINE {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(child.try_wait(), Ok(None)) {
            eprintln!("test host {}: dockerd did not stop in {SHUTDOWN_DEADLINE:?}; killing it", host.name);
            let _ = child.kill();
        }
    }
    let _ = child.wait();
}

fn remove_all_containers(host: &TestHost) {
    let mut list = host.docker_command();
    list.args(["ps", "-aq"]);
    let Some(output) = output_within(list, CLEANUP_CALL_DEADLINE) else { return };
    let ids = String::from_utf8_lossy(&output.stdout).into_owned();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return;
    }
    let mut remove = host.docker_command();
    remove.args(["rm", "-f"]).args(&ids);
    let _ = output_within(remove, CLEANUP_CALL_DEADLINE);
}

/// Runs `command` and returns its output, or kills it and returns None if it takes longer than `deadline`.
pub fn output_within(mut command: Command, deadline: Duration) -> Option<Output> {
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().ok()?;
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(deadline) {
        Ok(result) => result.ok(),
        Err(_) => {
            signal(pid, libc::SIGKILL);
            None
        }
    }
}

pub fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}
