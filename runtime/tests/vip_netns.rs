//! The VIP rules in a real network namespace of this machine (needs root, `ip`, `nsenter` and `nft`): a namespace
//! of the test's own stands in for a task container — a veth with the backends' addresses, TCP and UDP servers on
//! them, and a `sleep` whose pid is "the container's" — and the test applies rulesets through `vip::apply` and
//! connects to the VIP from inside. What it holds the rules to: connections to a VIP reach every backend, then only
//! the backends left after an update; a VIP without backends refuses at once; `remove` leaves no table of ours and
//! Docker's `ip nat` table is never touched. The namespace and the sleeper are removed by a Drop guard, also when
//! the test fails; the server threads end with the test process.

#![cfg(not(madsim))]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use swarm_runtime::worker::vip::{self, VipError, VipRuleset};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 2);
const OTHER_VIP: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 3);
const BACKEND_A: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 11);
const BACKEND_B: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 12);
const TCP_PORT: u16 = 80;
const UDP_PORT: u16 = 5353;
/// A rule Docker's embedded DNS would have in the container's `ip nat` table, which ours must leave alone.
const DOCKER_NAT_RULE: &str = "ip daddr 127.0.0.11";

/// A network namespace of the test's own, with a process in it standing in for a container's main process.
struct TestNetns {
    name: String,
    sleeper: Option<Child>,
}

impl TestNetns {
    fn create() -> TestNetns {
        let name = format!("swvip-{}-{:04x}", std::process::id(), rand::random::<u16>());
        run("ip", &["netns", "add", &name]);
        let mut netns = TestNetns { name, sleeper: None };
        netns.run(&["ip", "link", "set", "lo", "up"]);
        netns.run(&["ip", "link", "add", "swv0", "type", "veth", "peer", "name", "swv1"]);
        netns.run(&["ip", "link", "set", "swv0", "up"]);
        netns.run(&["ip", "link", "set", "swv1", "up"]);
        for addr in ["10.213.0.1/24", "10.213.0.11/24", "10.213.0.12/24"] {
            netns.run(&["ip", "addr", "add", addr, "dev", "swv0"]);
        }
        let sleeper = Command::new("nsenter")
            .arg(format!("--net={}", netns.path().display()))
            .args(["sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start a sleeper in the namespace");
        netns.sleeper = Some(sleeper);
        netns
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.name)
    }

    /// The pid of a process in the namespace, as a container's would be.
    fn pid(&self) -> u32 {
        self.sleeper.as_ref().expect("the sleeper runs").id()
    }

    /// Runs a command inside the namespace, which must succeed; its stdout.
    fn run(&self, args: &[&str]) -> String {
        let net = format!("--net={}", self.path().display());
        let mut all = vec![net.as_str()];
        all.extend_from_slice(args);
        run("nsenter", &all)
    }

    /// Runs `f` on a thread that has entered the namespace: sockets it makes live there.
    fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = self.path();
        std::thread::spawn(move || {
            let file = File::open(&path).expect("open the namespace");
            // SAFETY: setns(2) on a descriptor we own; it changes only this thread's network namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {}: {}", path.display(), io::Error::last_os_error());
            f()
        })
        .join()
        .expect("the thread in the namespace")
    }

    /// TCP and UDP servers on each backend address that answer with the address they were reached on.
    fn start_servers(&self) {
        let sockets = self.enter(|| {
            [BACKEND_A, BACKEND_B].map(|addr| {
                let tcp = TcpListener::bind((addr, TCP_PORT)).expect("bind a TCP backend");
                let udp = UdpSocket::bind((addr, UDP_PORT)).expect("bind a UDP backend");
                (tcp, udp)
            })
        });
        for (tcp, udp) in sockets {
            std::thread::spawn(move || {
                for mut stream in tcp.incoming().flatten() {
                    let local = stream.local_addr().map(|a| a.ip().to_string()).unwrap_or_default();
                    let _ = stream.write_all(local.as_bytes());
                }
            });
            std::thread::spawn(move || {
                let local = udp.local_addr().map(|a| a.ip().to_string()).unwrap_or_default();
                let mut buffer = [0u8; 64];
                while let Ok((_, peer)) = udp.recv_from(&mut buffer) {
                    let _ = udp.send_to(local.as_bytes(), peer);
                }
            });
        }
    }

    /// `count` TCP connections to `vip` from inside the namespace: how many each answer (or error) got, and the
    /// slowest attempt.
    fn connect_tcp(&self, vip: Ipv4Addr, count: usize) -> (BTreeMap<String, usize>, Duration) {
        self.enter(move || {
            let mut seen = BTreeMap::new();
            let mut slowest = Duration::ZERO;
            for _ in 0..count {
                let started = Instant::now();
                let answer =
                    match TcpStream::connect_timeout(&SocketAddr::from((vip, TCP_PORT)), Duration::from_secs(3)) {
                        Ok(mut stream) => {
                            let mut text = String::new();
                            match stream.read_to_string(&mut text) {
                                Ok(_) => text,
                                Err(error) => format!("read error: {:?}", error.kind()),
                            }
                        }
                        Err(error) => format!("connect error: {:?}", error.kind()),
                    };
                slowest = slowest.max(started.elapsed());
                *seen.entry(answer).or_insert(0) += 1;
            }
            (seen, slowest)
        })
    }

    /// `count` UDP exchanges with the VIP, each from a fresh socket (a new flow for conntrack).
    fn exchange_udp(&self, count: usize) -> BTreeMap<String, usize> {
        self.enter(move || {
            let mut seen = BTreeMap::new();
            for _ in 0..count {
                let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("a client socket");
                socket.set_read_timeout(Some(Duration::from_secs(2))).expect("a read timeout");
                let answer = match socket.send_to(b"who", (VIP, UDP_PORT)) {
                    Ok(_) => {
                        let mut buffer = [0u8; 64];
                        match socket.recv_from(&mut buffer) {
                            Ok((len, _)) => String::from_utf8_lossy(&buffer[..len]).into_owned(),
                            Err(error) => format!("recv error: {:?}", error.kind()),
                        }
                    }
                    Err(error) => format!("send error: {:?}", error.kind()),
                };
                *seen.entry(answer).or_insert(0) += 1;
            }
            seen
        })
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        if let Some(mut sleeper) = self.sleeper.take() {
            let _ = sleeper.kill();
            let _ = sleeper.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Runs a host command that must succeed; its stdout.
fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The answers seen, without their counts.
fn answers(seen: &BTreeMap<String, usize>) -> Vec<String> {
    seen.keys().cloned().collect()
}

#[tokio::test(flavor = "current_thread")]
async fn vip_rules_balance_update_reject_and_go_away_in_a_namespace() {
    vip::check_tools().await.expect("nft and nsenter on this host");
    let netns = TestNetns::create();
    netns.start_servers();
    let pid = netns.pid();
    // Docker's own rules live in the `ip nat` table of a container's namespace.
    netns.run(&["nft", "add", "table", "ip", "nat"]);
    netns.run(&["nft", "add chain ip nat OUTPUT { type nat hook output priority -100; }"]);
    netns.run(&["nft", "add rule ip nat OUTPUT ip daddr 127.0.0.11 counter accept"]);

    // Two backends: both are reached, over TCP and UDP, and the kernel holds exactly the rendered table.
    let both = VipRuleset::new([(VIP, vec![BACKEND_B, BACKEND_A])]);
    vip::apply(pid, &both).await.expect("apply two backends");
    vip::apply(pid, &both).await.expect("applying again is idempotent");
    assert_eq!(netns.run(&["nft", "list", "table", "ip", "swarm_vip"]), both.to_string());
    let (seen, _) = netns.connect_tcp(VIP, 60);
    assert_eq!(answers(&seen), [BACKEND_A.to_string(), BACKEND_B.to_string()], "{seen:?}");
    let seen = netns.exchange_udp(40);
    assert_eq!(answers(&seen), [BACKEND_A.to_string(), BACKEND_B.to_string()], "{seen:?}");

    // One backend left: only it is reached.
    let one = VipRuleset::new([(VIP, vec![BACKEND_B])]);
    vip::apply(pid, &one).await.expect("apply one backend");
    assert_eq!(netns.run(&["nft", "list", "table", "ip", "swarm_vip"]), one.to_string());
    let (seen, _) = netns.connect_tcp(VIP, 20);
    assert_eq!(seen, BTreeMap::from([(BACKEND_B.to_string(), 20)]));
    assert_eq!(netns.exchange_udp(10), BTreeMap::from([(BACKEND_B.to_string(), 10)]));

    // No backend: refused at once rather than a timeout — also when no DNAT rule keeps conntrack on in the
    // namespace (a reject in the nat chain would then never run), and next to another VIP that has backends.
    let refused = BTreeMap::from([("connect error: ConnectionRefused".to_owned(), 5)]);
    let none = VipRuleset::new([(VIP, vec![])]);
    vip::apply(pid, &none).await.expect("apply no backend");
    assert_eq!(netns.run(&["nft", "list", "table", "ip", "swarm_vip"]), none.to_string());
    let (seen, slowest) = netns.connect_tcp(VIP, 5);
    assert_eq!(seen, refused);
    assert!(slowest < Duration::from_millis(500), "a refused connect took {slowest:?}");
    let mixed = VipRuleset::new([(VIP, vec![]), (OTHER_VIP, vec![BACKEND_A])]);
    vip::apply(pid, &mixed).await.expect("apply a refused and a balanced VIP");
    assert_eq!(netns.run(&["nft", "list", "table", "ip", "swarm_vip"]), mixed.to_string());
    let (seen, slowest) = netns.connect_tcp(VIP, 5);
    assert_eq!(seen, refused);
    assert!(slowest < Duration::from_millis(500), "a refused connect took {slowest:?}");
    assert_eq!(netns.connect_tcp(OTHER_VIP, 5).0, BTreeMap::from([(BACKEND_A.to_string(), 5)]));

    // Removed: no table of ours; Docker's nat table untouched; removing again is fine.
    vip::remove(pid).await.expect("remove");
    let tables = netns.run(&["nft", "list", "tables"]);
    assert!(!tables.contains("swarm_vip"), "{tables}");
    assert!(netns.run(&["nft", "list", "table", "ip", "nat"]).contains(DOCKER_NAT_RULE));
    vip::remove(pid).await.expect("removing again is idempotent");
    vip::apply(pid, &VipRuleset::default()).await.expect("an empty ruleset removes too");
    assert!(!netns.run(&["nft", "list", "tables"]).contains("swarm_vip"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_process_is_a_typed_error() {
    // Above the kernel's largest pid (2^22), so never a process.
    let pid = u32::MAX;
    let error = vip::apply(pid, &VipRuleset::new([(VIP, vec![BACKEND_A])])).await.expect_err("no such process");
    assert!(matches!(error, VipError::NoProcess { pid: p } if p == pid), "{error:?}");
    assert!(error.to_string().contains(&pid.to_string()), "{error}");
    assert!(matches!(vip::remove(0).await, Err(VipError::NoProcess { pid: 0 })));
}
