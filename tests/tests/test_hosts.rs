//! The multi-host harness (`swarm_tests::hosts`) itself: three hosts come up with engines of distinct IDs holding
//! the test images; the test process reaches every host's underlay address, and a container on one host reaches
//! another host by ping and HTTP; VXLAN links carry traffic between hosts and nftables works inside a host's
//! namespace without touching the root namespace's ruleset; after drop nothing of the run is left, also when the
//! test panicked. The sweeper removes what a crashed run left and nothing of a live one.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use swarm_tests::hosts::{self, TestHost, TestHosts, HOST_IMAGES, HOST_UNDERLAY_LINK};
use swarm_tests::{http_get_ok, wait_for};

const HTTP_PORT: u16 = 8080;
const ANSWER: Duration = Duration::from_secs(30);

#[test]
fn three_hosts_reach_each_other_and_leave_nothing_behind() {
    let hosts = TestHosts::start("th", 3);
    let footprint = hosts.footprint();
    println!(
        "test hosts {}: 3 hosts on {} (test process {} on {}) up in {:.2?}",
        hosts.run_id(),
        hosts.subnet(),
        hosts.root_addr(),
        hosts.root_link(),
        hosts.bring_up_time()
    );

    let mut ids: Vec<String> = hosts.hosts().iter().map(TestHost::engine_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "engine IDs are not distinct: {ids:?}");
    for host in hosts.hosts() {
        for image in HOST_IMAGES {
            host.docker(&["image", "inspect", "--format", "{{.Id}}", image]);
        }
    }

    // Every host serves its own name over HTTP on its underlay address (a host-network container).
    for host in hosts.hosts() {
        let script = format!(
            "mkdir -p /www && echo {name} > /www/index.html && exec httpd -f -p {addr}:{HTTP_PORT} -h /www",
            name = host.name(),
            addr = host.addr()
        );
        host.docker(&["run", "-d", "--network", "host", "swarm-tools:1", "sh", "-c", &script]);
    }
    for host in hosts.hosts() {
        let body = wait_for(&format!("{} to answer HTTP", host.name()), ANSWER, || {
            http_get_ok(SocketAddr::from((host.addr(), HTTP_PORT)))
        });
        assert_eq!(body.trim(), host.name(), "{} answered for another host", host.addr());
    }

    // A container on the default bridge of host 1 reaches host 2's underlay address (through host 1's NAT).
    let (a, b) = (&hosts[0], &hosts[1]);
    let url = format!("http://{}:{HTTP_PORT}/", b.addr());
    // (busybox 1.35's `wget -T` crashes with SIGSEGV: bound it with `timeout` instead.)
    let fetched = a.docker(&["run", "--rm", "swarm-tools:1", "timeout", "10", "wget", "-q", "-O", "-", &url]);
    assert_eq!(fetched.trim(), b.name());
    a.docker(&["run", "--rm", "swarm-tools:1", "ping", "-c", "1", "-W", "5", &b.addr().to_string()]);

    vxlan_between(a, b);
    nftables_in(a);

    drop(hosts);
    // Namespaces, the root link, the directory, mounts, and processes (dockerds, containerds, shims, containers).
    assert_eq!(footprint.remains(), Vec::<String>::new(), "left behind after drop");
}

/// A test that panics while its hosts are up, with a container running and a process of its own in a host's
/// namespace, leaves nothing behind either: the hosts are dropped while the panic unwinds.
#[test]
fn a_panicking_test_leaves_nothing_behind() {
    let mut footprint = None;
    let mut sleeper = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let hosts = TestHosts::start("pn", 1);
        footprint = Some(hosts.footprint());
        println!("test hosts {}: 1 host on {} up in {:.2?}", hosts.run_id(), hosts.subnet(), hosts.bring_up_time());
        hosts[0].docker(&["run", "-d", "swarm-tools:1", "sleep", "600"]);
        sleeper = Some(hosts[0].command("sleep").arg("600").spawn().expect("spawn sleep in the host"));
        panic!("a deliberate failure with test hosts up");
    }));
    assert!(outcome.is_err());
    let status = sleeper.expect("spawned").wait().expect("reap the sleeper");
    assert!(!status.success(), "the process started in the host was not killed");
    let footprint = footprint.expect("the hosts came up before the panic");
    assert_eq!(footprint.remains(), Vec::<String>::new(), "left behind after a panic");
}

/// A unicast VXLAN pair between hosts `a` and `b` over the underlay (device `vxswt`, VNI 4242, port 4789) with
/// 192.168.242.1/.2 on it: a ping crosses it. Also the data plane's variant (`nolearning proxy`) can be created.
fn vxlan_between(a: &TestHost, b: &TestHost) {
    for (host, peer, inner) in [(a, b, "192.168.242.1/24"), (b, a, "192.168.242.2/24")] {
        let (local, remote) = (host.addr().to_string(), peer.addr().to_string());
        host.run_ok(
            "ip",
            &[
                "link",
                "add",
                "vxswt",
                "type",
                "vxlan",
                "id",
                "4242",
                "dstport",
                "4789",
                "local",
                &local,
                "remote",
                &remote,
                "dev",
                HOST_UNDERLAY_LINK,
            ],
        );
        host.run_ok("ip", &["addr", "add", inner, "dev", "vxswt"]);
        host.run_ok("ip", &["link", "set", "vxswt", "up"]);
    }
    a.docker(&["run", "--rm", "--network", "host", "swarm-tools:1", "ping", "-c", "1", "-W", "5", "192.168.242.2"]);
    let details = a.run_ok("ip", &["-d", "link", "show", "vxswt"]);
    assert!(details.contains("vxlan id 4242"), "{details}");

    let local = a.addr().to_string();
    a.run_ok(
        "ip",
        &[
            "link",
            "add",
            "vxproxy",
            "type",
            "vxlan",
            "id",
            "4243",
            "dstport",
            "4789",
            "local",
            &local,
            "dev",
            HOST_UNDERLAY_LINK,
            "nolearning",
            "proxy",
        ],
    );
    let remote = b.addr().to_string();
    a.run_ok("bridge", &["fdb", "append", "00:00:00:00:00:00", "dev", "vxproxy", "dst", &remote]);
    let fdb = a.run_ok("bridge", &["fdb", "show", "dev", "vxproxy"]);
    assert!(fdb.contains(&format!("dst {remote}")), "{fdb}");
    for (host, link) in [(a, "vxswt"), (b, "vxswt"), (a, "vxproxy")] {
        host.run_ok("ip", &["link", "del", link]);
    }
}

/// nft works in a host's namespace: Docker's rules (iptables-nft) show there, a table of our own can be added and
/// deleted, and the root namespace never sees it.
fn nftables_in(host: &TestHost) {
    let ruleset = host.run_ok("nft", &["list", "ruleset"]);
    assert!(ruleset.contains("DOCKER"), "Docker's chains are missing from the host's ruleset:\n{ruleset}");
    host.run_ok("nft", &["add", "table", "inet", "swt_probe"]);
    host.run_ok("nft", &["add", "chain", "inet", "swt_probe", "pre", "{ type nat hook prerouting priority -100; }"]);
    let tables = host.run_ok("nft", &["list", "tables"]);
    assert!(tables.contains("table inet swt_probe"), "{tables}");
    let root = Command::new("nft").args(["list", "tables"]).output().expect("run nft");
    assert!(
        !String::from_utf8_lossy(&root.stdout).contains("swt_probe"),
        "the probe table leaked to the root namespace"
    );
    host.run_ok("nft", &["delete", "table", "inet", "swt_probe"]);
}

/// Leftovers of a run whose process died (a namespace with a process in it, a root-namespace veth, a directory
/// with a mount under it) are swept; look-alikes of this live process's runs are not.
#[test]
fn the_sweeper_removes_crashed_runs_only() {
    // The automatic once-per-process sweep must not run while the leftovers are being planted.
    hosts::sweep_once();
    let dead_pid = {
        let mut child = Command::new("true").spawn().expect("spawn true");
        child.wait().expect("reap true");
        child.id()
    };
    let dead = plant_run(dead_pid, 0);
    let live = plant_run(std::process::id(), 9_999);

    let removed = hosts::sweep_leftovers();
    assert!(removed.contains(&format!("run swt-{dead_pid}-0")), "{removed:?}");
    assert!(!removed.iter().any(|r| r.contains(&format!("swt-{}-", std::process::id()))), "{removed:?}");

    let mut dead_sleeper = dead.sleeper;
    let status = dead_sleeper.wait().expect("reap the dead run's process");
    assert!(!status.success(), "the dead run's process was not killed");
    assert!(!Path::new(&format!("/var/run/netns/{}", dead.netns)).exists(), "{} survived", dead.netns);
    assert!(!Path::new(&format!("/sys/class/net/{}", dead.link)).exists(), "{} survived", dead.link);
    assert!(!dead.dir.exists(), "{} survived", dead.dir.display());

    // The live look-alike is intact; remove it by hand.
    let mut live_sleeper = live.sleeper;
    assert!(live_sleeper.try_wait().expect("poll").is_none(), "the live run's process was killed");
    assert!(Path::new(&format!("/var/run/netns/{}", live.netns)).exists());
    assert!(Path::new(&format!("/sys/class/net/{}", live.link)).exists());
    assert!(live.dir.exists());
    let _ = live_sleeper.kill();
    let _ = live_sleeper.wait();
    run_ok("umount", &[&live.dir.join("mnt").display().to_string()]);
    std::fs::remove_dir_all(&live.dir).expect("remove the look-alike directory");
    run_ok("ip", &["link", "del", &live.link]);
    run_ok("ip", &["netns", "del", &live.netns]);
}

struct PlantedRun {
    netns: String,
    link: String,
    dir: std::path::PathBuf,
    sleeper: std::process::Child,
}

/// What a run `swt-<pid>-<seq>` that crashed could leave: a namespace with a process in it, a veth from the root
/// namespace into it, and its directory with a tmpfs mounted inside.
fn plant_run(pid: u32, seq: u32) -> PlantedRun {
    let netns = format!("swt-{pid}-{seq}-x1");
    let link = format!("swt{pid}-{seq}");
    let dir = std::env::temp_dir().join(format!("swt-{pid}-{seq}"));
    run_ok("ip", &["netns", "add", &netns]);
    run_ok("ip", &["link", "add", &link, "type", "veth", "peer", "name", "root", "netns", &netns]);
    std::fs::create_dir_all(dir.join("mnt")).expect("create the planted directory");
    run_ok("mount", &["-t", "tmpfs", "swt-planted", &dir.join("mnt").display().to_string()]);
    let sleeper = Command::new("nsenter")
        .arg(format!("--net=/var/run/netns/{netns}"))
        .args(["--", "sleep", "600"])
        .spawn()
        .expect("spawn a process in the planted namespace");
    // The process counts once it is inside the namespace.
    let namespace = std::fs::read_link("/proc/self/ns/net").expect("own namespace");
    wait_for("the planted process to enter its namespace", ANSWER, || {
        let inside = std::fs::read_link(format!("/proc/{}/ns/net", sleeper.id())).ok()?;
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", sleeper.id())).ok()?;
        (inside != namespace && cmdline.starts_with(b"sleep")).then_some(())
    });
    PlantedRun { netns, link, dir, sleeper }
}

fn run_ok(program: &str, args: &[&str]) {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}
