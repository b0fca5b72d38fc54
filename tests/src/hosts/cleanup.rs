//! Removing a run: what [`super::TestHosts`]'s drop does after stopping its engines (before which it kills what
//! tests started in the hosts, [`kill_test_processes`]), and what the sweeper does for runs whose process died
//! without dropping them. In order: kill every process of the run (in one of its
//! namespaces, or naming its directory on its command line — dockerd, containerd, shims — and everything they
//! started, containers included), unmount everything under its directory (overlay mounts, the data root's bind
//! mount, container namespaces' bind mounts), remove the empty cgroups of its containers, its directory, its
//! root-namespace link and its namespaces.
//!
//! Invariant: only resources whose names parse as a run's ([`RunNames`]) are touched, and the sweeper touches a
//! run only if its pid is not alive, never its own process's runs.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::engine::signal;
use super::names::{netns_path, runs_dir, RunNames, NETNS_DIR};
use super::underlay::try_ip;

/// How long killed processes may take to disappear.
const KILL_DEADLINE: Duration = Duration::from_secs(10);

/// What identifies one run's resources on this machine, kept to check after the run is gone that none remains.
#[derive(Clone, Debug)]
pub struct RunFootprint {
    names: RunNames,
    netns_inodes: BTreeSet<u64>,
}

impl RunFootprint {
    pub(super) fn of(names: &RunNames) -> RunFootprint {
        RunFootprint { names: names.clone(), netns_inodes: netns_of_run(names).into_values().collect() }
    }

    /// Everything of the run still present: namespace files, the root-namespace link, the directory, mounts under
    /// it, processes in its namespaces or naming its directory. Empty once the run is removed.
    pub fn remains(&self) -> Vec<String> {
        let mut remains: Vec<String> =
            netns_of_run(&self.names).into_keys().map(|name| format!("namespace {name}")).collect();
        let link = self.names.root_link();
        if link_exists(&link) {
            remains.push(format!("link {link}"));
        }
        let dir = self.names.dir();
        if dir.exists() {
            remains.push(format!("directory {}", dir.display()));
        }
        remains.extend(mounts_under(&dir).into_iter().map(|m| format!("mount {}", m.display())));
        for process in processes() {
            let in_namespace = process.net_ns.is_some_and(|ns| self.netns_inodes.contains(&ns));
            if process.state != 'Z' && (in_namespace || process.names_dir(&dir)) {
                remains.push(format!("process {} ({})", process.pid, process.cmdline));
            }
        }
        remains
    }
}

/// Removes everything of run `names` (see the module doc); returns what could not be removed. Never panics.
pub fn remove_run(names: &RunNames) -> Vec<String> {
    let mut problems = Vec::new();
    let dir = names.dir();
    let namespaces = netns_of_run(names);
    kill_processes(&dir, &namespaces.values().copied().collect(), &mut problems);
    unmount_under(&dir);
    remove_container_cgroups(&dir);
    problems.extend(remove_dir_tree(&dir));
    let link = names.root_link();
    if link_exists(&link) {
        if let Err(error) = try_ip(&["link", "del", &link]) {
            problems.push(error);
        }
    }
    for name in namespaces.keys() {
        if let Err(error) = try_ip(&["netns", "del", name]) {
            problems.push(error);
        }
    }
    problems
}

/// Removes what runs of this harness whose process is gone left behind (namespaces, root-namespace links,
/// directories, their processes and mounts); returns what it removed. Runs of live processes are left alone.
pub fn sweep_leftovers() -> Vec<String> {
    let mut dead_runs = BTreeSet::new();
    let own_pid = std::process::id();
    let mut consider = |run: Option<RunNames>| {
        if let Some(run) = run {
            if run.pid != own_pid && !Path::new(&format!("/proc/{}", run.pid)).exists() {
                dead_runs.insert(run);
            }
        }
    };
    for name in dir_entries(Path::new(NETNS_DIR)) {
        consider(RunNames::of_netns(&name));
    }
    for name in dir_entries(Path::new("/sys/class/net")) {
        consider(RunNames::of_root_link(&name));
    }
    for name in dir_entries(&runs_dir()) {
        consider(RunNames::of_dir(&name));
    }
    let mut removed = Vec::new();
    for run in dead_runs {
        let problems = remove_run(&run);
        removed.push(format!("run {}", run.id()));
        for problem in problems {
            eprintln!("test hosts: sweeping {}: {problem}", run.id());
        }
    }
    removed
}

/// Removes `dir` and everything in it, one thread per entry (a host's data root holds thousands of files).
fn remove_dir_tree(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    let remove = |path: &Path| {
        let result = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
        result.err().map(|error| format!("remove {}: {error}", path.display()))
    };
    let mut problems: Vec<String> = std::thread::scope(|scope| {
        let removals: Vec<_> = dir_entries(dir)
            .into_iter()
            .map(|entry| {
                let path = dir.join(entry);
                scope.spawn(move || remove(&path))
            })
            .collect();
        removals.into_iter().filter_map(|removal| removal.join().ok().flatten()).collect()
    });
    problems.extend(remove(dir));
    problems
}

/// Unmounts (lazily, deepest first) every mount at or under `dir`.
pub fn unmount_under(dir: &Path) {
    // Several mounts may be stacked on one point; a few passes take them all.
    for _ in 0..8 {
        let mut mounts = mounts_under(dir);
        if mounts.is_empty() {
            return;
        }
        mounts.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
        for mount in mounts {
            let Ok(path) = std::ffi::CString::new(mount.as_os_str().as_bytes()) else { continue };
            // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
            unsafe {
                libc::umount2(path.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

/// The run's namespace files (`/var/run/netns/swt-<pid>-<seq>-…`) and their namespaces' inodes.
fn netns_of_run(names: &RunNames) -> BTreeMap<String, u64> {
    dir_entries(Path::new(NETNS_DIR))
        .into_iter()
        .filter(|name| RunNames::of_netns(name).as_ref() == Some(names))
        .filter_map(|name| std::fs::metadata(netns_path(&name)).ok().map(|m| (name, m.ino())))
        .collect()
}

/// Kills (SIGKILL) every process in one of `namespaces` or naming `dir`, and all their descendants; waits until
/// they are gone (zombies count as gone: their parents reap them).
fn kill_processes(dir: &Path, namespaces: &BTreeSet<u64>, problems: &mut Vec<String>) {
    let all = processes();
    let roots =
        all.iter().filter(|p| p.net_ns.is_some_and(|ns| namespaces.contains(&ns)) || p.names_dir(dir)).map(|p| p.pid);
    kill_and_wait(&with_descendants(&all, roots.collect()), problems);
}

/// Kills (SIGKILL) what tests started in the run's namespaces — every process there outside the engines' own
/// process trees (a dockerd `engine_pids` and what it started; containerd shims, which name an exec root of the
/// run, and their containers) — so that nothing asks an engine for containers while it is being stopped.
pub fn kill_test_processes(names: &RunNames, engine_pids: &[u32]) -> Vec<String> {
    let all = processes();
    let namespaces: BTreeSet<u64> = netns_of_run(names).into_values().collect();
    let exec_roots: Vec<PathBuf> =
        dir_entries(&names.dir()).into_iter().map(|h| names.dir().join(h).join("exec")).collect();
    let engine_roots = all
        .iter()
        .filter(|p| engine_pids.contains(&p.pid) || exec_roots.iter().any(|root| p.names_dir(root)))
        .map(|p| p.pid)
        .collect();
    let engines = with_descendants(&all, engine_roots);
    let strangers = all
        .iter()
        .filter(|p| p.net_ns.is_some_and(|ns| namespaces.contains(&ns)) && !engines.contains(&p.pid))
        .map(|p| p.pid)
        .collect();
    let mut problems = Vec::new();
    kill_and_wait(&with_descendants(&all, strangers), &mut problems);
    problems
}

/// `roots` and all their descendants among `all`.
fn with_descendants(all: &[Process], roots: BTreeSet<u32>) -> BTreeSet<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for process in all {
        children.entry(process.ppid).or_default().push(process.pid);
    }
    let mut tree = roots;
    let mut frontier: Vec<u32> = tree.iter().copied().collect();
    while let Some(pid) = frontier.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            if tree.insert(child) {
                frontier.push(child);
            }
        }
    }
    tree
}

/// SIGKILLs `pids` (never this process or init) and waits until they are gone.
fn kill_and_wait(pids: &BTreeSet<u32>, problems: &mut Vec<String>) {
    let own_pid = std::process::id();
    let doomed: Vec<u32> = pids.iter().copied().filter(|&pid| pid != own_pid && pid > 1).collect();
    for &pid in &doomed {
        signal(pid, libc::SIGKILL);
    }
    let started = Instant::now();
    loop {
        let alive: Vec<u32> = doomed.iter().copied().filter(|&pid| is_running(pid)).collect();
        if alive.is_empty() {
            return;
        }
        if started.elapsed() > KILL_DEADLINE {
            problems.push(format!("processes still running after SIGKILL: {alive:?}"));
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes the (empty, after their processes died) cgroups of the containers of every engine under `dir`, which a
/// killed dockerd leaves behind: `/sys/fs/cgroup[/<controller>]/docker/<container id>`.
fn remove_container_cgroups(dir: &Path) {
    let mut ids = Vec::new();
    for host in dir_entries(dir) {
        ids.extend(
            dir_entries(&dir.join(host).join("data/containers"))
                .into_iter()
                .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        );
    }
    if ids.is_empty() {
        return;
    }
    let cgroup_root = Path::new("/sys/fs/cgroup");
    let mut parents = vec![cgroup_root.join("docker")];
    parents.extend(dir_entries(cgroup_root).into_iter().map(|controller| cgroup_root.join(controller).join("docker")));
    for parent in parents {
        for id in &ids {
            let _ = std::fs::remove_dir(parent.join(id));
        }
    }
}

/// Mount points at or under `dir`, from /proc/self/mountinfo.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else { return Vec::new() };
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|mount| mount.starts_with(dir))
        .collect()
}

/// Mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A process as /proc shows it.
struct Process {
    pid: u32,
    ppid: u32,
    state: char,
    net_ns: Option<u64>,
    cmdline: String,
}

impl Process {
    /// Whether its command line names `dir` or something under it.
    fn names_dir(&self, dir: &Path) -> bool {
        let dir = dir.to_string_lossy();
        self.cmdline.split(' ').any(|arg| {
            let path = arg.strip_prefix("unix://").unwrap_or(arg);
            let path = path.rsplit_once('=').map_or(path, |(_, value)| value);
            path == dir || path.strip_prefix(dir.as_ref()).is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

fn processes() -> Vec<Process> {
    dir_entries(Path::new("/proc")).into_iter().filter_map(|name| read_process(name.parse().ok()?)).collect()
}

fn read_process(pid: u32) -> Option<Process> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (2nd field) may hold spaces and parentheses: the fields we want follow the last ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let net_ns = std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .ok()
        .and_then(|link| link.to_str()?.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok());
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_string();
    Some(Process { pid, ppid, state, net_ns, cmdline })
}

/// Whether `pid` exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    read_process(pid).is_some_and(|p| p.state != 'Z')
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Names of the entries of `dir` (none if it cannot be read).
fn dir_entries(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b\134c"), r"/tmp/a b\c");
        assert_eq!(unescape_mountinfo(r"/tmp/plain"), "/tmp/plain");
        assert_eq!(unescape_mountinfo(r"/tmp/trailing\"), r"/tmp/trailing\");
    }

    #[test]
    fn a_command_line_names_a_directory_only_by_a_path_at_or_under_it() {
        let process = |cmdline: &str| Process { pid: 2, ppid: 1, state: 'S', net_ns: None, cmdline: cmdline.into() };
        let dir = Path::new("/tmp/swt-12-0");
        let cases = [
            ("dockerd --config-file /tmp/swt-12-0/h1/daemon.json", true),
            ("dockerd -H unix:///tmp/swt-12-0/h1/docker.sock", true),
            ("nsenter --net=/tmp/swt-12-0 sh", true),
            ("containerd --config /tmp/swt-12-01/exec/containerd.toml", false),
            ("sleep 100", false),
            ("cat /tmp/swt-12-0x", false),
        ];
        for (cmdline, want) in cases {
            assert_eq!(process(cmdline).names_dir(dir), want, "{cmdline}");
        }
    }
}
