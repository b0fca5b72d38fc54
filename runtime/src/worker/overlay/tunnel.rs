//! The node's WireGuard tunnel, which carries the VXLAN frames of encrypted overlay networks between nodes (this
//! kernel has no IPsec AEAD and no WireGuard module, so it is boringtun's userspace WireGuard on a TUN device).
//! While the plan has a tunnel there is one device `swc-…` (named after the node id, so nodes sharing a machine
//! keep theirs apart: the configuration sockets live in one directory, `/var/run/wireguard`), holding the node's
//! tunnel address and the tunnel's MTU, up; per peer node one WireGuard peer: its public key, its endpoint (its
//! underlay address and tunnel port) and its tunnel address as the only address it may send from or be sent to.
//! The VXLAN devices of encrypted networks use the tunnel addresses (`linux.rs`), so their frames reach the
//! underlay only encrypted.
//!
//! Invariants: the private key never leaves the node (it is made from the OS's randomness, held in memory and
//! handed to the device process over its socket; a restart makes a new one, as a rotation does); the key in use follows `tunnel_keys`; a
//! peer that is unchanged keeps its session (boringtun cannot change a peer in place, so a changed one is removed
//! and added again, and a peer the plan drops — a node removed from the swarm — is removed at once); the device
//! goes when the plan has no tunnel, and with the daemon: boringtun runs in a process of its own
//! (`DeviceProcess`, `swarm tunnel-device`), which dies with the daemon, and a TUN device is not persistent.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::Duration;

use boringtun::device::{DeviceConfig, DeviceHandle};
use boringtun::x25519::{PublicKey, StaticSecret};
use futures::TryStreamExt;
use rtnetlink::packet_route::link::LinkFlags;
use rtnetlink::{Handle, LinkUnspec};
use swarm_core::overlay::TunnelPeer;
use swarm_core::TunnelKey;

use super::plan::TunnelPlan;
use super::tunnel_keys::{KeyPair, TunnelKeys};
use super::{OverlayError, OverlayStep, TunnelIdentity};

/// The prefix of the tunnel device.
pub const TUNNEL_NAME_PREFIX: &str = "swc-";
/// Where boringtun puts each device's configuration socket (`wg show` reads it there too).
pub const UAPI_DIR: &str = "/var/run/wireguard";
/// How many leading characters of the node id name the device.
const NAME_ID_CHARS: usize = 11;
/// How long one configuration exchange may take.
const UAPI_TIMEOUT: Duration = Duration::from_secs(2);
/// boringtun's worker threads, each with its own queue of the TUN device: one per core, at most this many (a
/// stream stays on one queue; several streams spread over them).
const DEVICE_THREADS_MAX: usize = 4;
/// What an error names.
const TUNNEL: &str = "(tunnel)";

/// The tunnel device of node `node_id`: `swc-` + its first eleven characters.
pub fn tunnel_name(node_id: &str) -> String {
    let end = node_id.char_indices().nth(NAME_ID_CHARS).map_or(node_id.len(), |(index, _)| index);
    format!("{TUNNEL_NAME_PREFIX}{}", &node_id[..end])
}

/// The node's tunnel: its keys, and the device while the plan has one.
pub struct WireGuardTunnel {
    name: String,
    port: u16,
    keys: Mutex<TunnelKeys<StaticSecret>>,
    device: tokio::sync::Mutex<Option<Device>>,
}

/// The running device and what was configured on it.
struct Device {
    /// The device's own process (`run_device_process`); it goes with this value, and the TUN device with it.
    _process: DeviceProcess,
    key: Option<TunnelKey>,
    port: Option<u16>,
    peers: BTreeMap<TunnelKey, TunnelPeer>,
}

impl WireGuardTunnel {
    /// The tunnel of node `node_id`, listening on UDP `port` once it exists; makes the first key pair.
    pub fn new(node_id: &str, port: u16) -> WireGuardTunnel {
        WireGuardTunnel {
            name: tunnel_name(node_id),
            port,
            keys: Mutex::new(TunnelKeys::new(new_key_pair())),
            device: tokio::sync::Mutex::new(None),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn identity(&self) -> TunnelIdentity {
        TunnelIdentity { public_key: self.lock_keys().wanted(), port: self.port }
    }

    pub fn rotate(&self) {
        self.lock_keys().rotate(new_key_pair());
    }

    /// Makes the device what `plan` says, or removes it without a plan.
    pub async fn reconcile(&self, plan: Option<&TunnelPlan>, netlink: &Handle) -> Result<(), OverlayError> {
        let mut device = self.device.lock().await;
        let Some(plan) = plan else {
            if device.take().is_some() {
                tracing::info!(device = %self.name, "removing the tunnel of encrypted networks");
            }
            return Ok(());
        };
        let active = {
            let mut keys = self.lock_keys();
            if keys.follow(plan.cluster_public_key) {
                tracing::info!(key = ?plan.cluster_public_key, "the tunnel uses its rotated key");
            }
            keys.active().clone()
        };
        if device.is_none() {
            tracing::info!(device = %self.name, "creating the tunnel of encrypted networks");
            let process = DeviceProcess::start(&self.name).await?;
            *device = Some(Device { _process: process, key: None, port: None, peers: BTreeMap::new() });
        }
        let configured = device.as_mut().expect("created just above");
        if let Err(error) = self.configure(configured, &active, plan).await {
            // What the device holds is unknown now: start afresh next time.
            *device = None;
            return Err(error);
        }
        let linked = self.configure_link(plan, netlink).await;
        if linked.is_err() {
            // The device died (or was deleted): make it anew next time.
            *device = None;
        }
        linked
    }

    /// Brings the device's key, port and peers in line with the plan.
    async fn configure(
        &self,
        device: &mut Device,
        active: &KeyPair<StaticSecret>,
        plan: &TunnelPlan,
    ) -> Result<(), OverlayError> {
        let wanted: BTreeMap<TunnelKey, TunnelPeer> = plan.peers.iter().map(|peer| (peer.public_key, *peer)).collect();
        let mut device_settings = String::new();
        if device.key != Some(active.public) {
            let _ = writeln!(device_settings, "private_key={}", hex(&active.secret.to_bytes()));
        }
        if device.port != Some(self.port) {
            let _ = writeln!(device_settings, "listen_port={}", self.port);
        }
        let mut removals = String::new();
        let mut additions = String::new();
        for (key, peer) in &device.peers {
            if wanted.get(key) != Some(peer) {
                let _ = write!(removals, "public_key={key}\nremove=true\n");
            }
        }
        for (key, peer) in &wanted {
            if device.peers.get(key) != Some(peer) {
                let _ = write!(
                    additions,
                    "public_key={key}\nendpoint={}:{}\nreplace_allowed_ips=true\nallowed_ip={}/32\n",
                    peer.endpoint, peer.port, peer.addr
                );
            }
        }
        // Removals first and on their own: boringtun refuses (by panicking) to add a peer it already has.
        for settings in [device_settings, removals, additions] {
            if settings.is_empty() {
                continue;
            }
            let name = self.name.clone();
            crate::blocking::off_async_threads(move || uapi_set(&name, &settings))
                .await
                .map_err(tunnel_error)?
                .map_err(tunnel_error)?;
        }
        if device.peers != wanted {
            tracing::info!(device = %self.name, peers = wanted.len(), "tunnel peers changed");
        }
        device.key = Some(active.public);
        device.port = Some(self.port);
        device.peers = wanted;
        Ok(())
    }

    /// The device's address, MTU and state.
    async fn configure_link(&self, plan: &TunnelPlan, netlink: &Handle) -> Result<(), OverlayError> {
        let fail = |error: rtnetlink::Error| tunnel_error(error);
        let link = netlink
            .link()
            .get()
            .match_name(self.name.clone())
            .execute()
            .try_next()
            .await
            .map_err(fail)?
            .ok_or_else(|| tunnel_error(format!("the device {} vanished", self.name)))?;
        let index = link.header.index;
        let mtu_ok = link.attributes.iter().any(
            |attribute| matches!(attribute, rtnetlink::packet_route::link::LinkAttribute::Mtu(mtu) if *mtu == plan.mtu),
        );
        if !mtu_ok || !link.header.flags.contains(LinkFlags::Up) {
            let repair = LinkUnspec::new_with_index(index).mtu(plan.mtu).up();
            netlink.link().set(repair.build()).execute().await.map_err(fail)?;
        }
        super::device_address::keep_only_address(netlink, index, plan.addr, plan.prefix_len).await.map_err(fail)
    }

    fn lock_keys(&self) -> std::sync::MutexGuard<'_, TunnelKeys<StaticSecret>> {
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The subcommand of this program that runs a device (`swarm tunnel-device NAME THREADS`).
pub const DEVICE_SUBCOMMAND: &str = "tunnel-device";
/// How long a new device process may take to open its configuration socket.
const DEVICE_START: Duration = Duration::from_secs(5);

/// The tunnel device in a process of its own, started from this program (`current_exe`). boringtun takes SIGINT
/// and SIGTERM through a signalfd, which would race the daemon's own handler for a stop signal; and whatever goes
/// wrong in its threads stays out of the daemon. The process dies with the daemon (`PR_SET_PDEATHSIG`).
struct DeviceProcess {
    /// Always present until `drop` takes it away to be reaped.
    child: Option<std::process::Child>,
    socket: String,
}

impl DeviceProcess {
    async fn start(name: &str) -> Result<DeviceProcess, OverlayError> {
        let socket = format!("{UAPI_DIR}/{name}.sock");
        let _ = std::fs::remove_file(&socket);
        let threads = std::thread::available_parallelism().map_or(1, usize::from).min(DEVICE_THREADS_MAX);
        // This very program, even if its file was replaced meanwhile (an upgrade in place).
        let program = std::path::PathBuf::from("/proc/self/exe");
        let child = std::process::Command::new(&program)
            .args([DEVICE_SUBCOMMAND, name, &threads.to_string(), &std::process::id().to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|error| {
                tunnel_error(format!("cannot start {} {DEVICE_SUBCOMMAND}: {error}", program.display()))
            })?;
        let mut process = DeviceProcess { child: Some(child), socket };
        let started = tokio::time::Instant::now();
        while !std::path::Path::new(&process.socket).exists() {
            if let Some(Ok(Some(status))) = process.child.as_mut().map(std::process::Child::try_wait) {
                return Err(tunnel_error(format!("the device process ended at start ({status})")));
            }
            if started.elapsed() > DEVICE_START {
                return Err(tunnel_error(format!("the device process opened no socket in {DEVICE_START:?}")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(process)
    }
}

impl Drop for DeviceProcess {
    /// Kills the process and reaps it (SIGKILL: the wait is short; the kernel tears the TUN device down after).
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// `swarm tunnel-device NAME THREADS DAEMON_PID`: runs the WireGuard device `NAME` until it is told to stop, its
/// socket is removed, or the daemon `DAEMON_PID` that started it dies. Returns why it could not start.
pub fn run_device_process(name: &str, threads: usize, daemon_pid: u32) -> Result<(), String> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and changes only this process's own settings.
    let armed = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) };
    if armed != 0 {
        return Err(format!("cannot tie the device to the daemon: {}", std::io::Error::last_os_error()));
    }
    // The daemon may have died before the tie was made.
    if std::os::unix::process::parent_id() != daemon_pid {
        return Err(format!("the daemon {daemon_pid} that started this device is gone"));
    }
    let config = DeviceConfig { n_threads: threads.max(1), ..DeviceConfig::default() };
    let mut handle = DeviceHandle::new(name, config).map_err(|error| format!("device {name}: {error}"))?;
    handle.wait();
    Ok(())
}

/// A fresh key pair from the OS's randomness.
fn new_key_pair() -> KeyPair<StaticSecret> {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = StaticSecret::from(bytes);
    let public = TunnelKey(PublicKey::from(&secret).to_bytes());
    KeyPair { secret, public }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn tunnel_error(reason: impl std::fmt::Display) -> OverlayError {
    OverlayError::new(TUNNEL, OverlayStep::Tunnel, reason)
}

/// One `set` exchange of WireGuard's configuration protocol with device `name`: `settings` are `key=value` lines.
fn uapi_set(name: &str, settings: &str) -> Result<(), String> {
    let reply = uapi_exchange(name, &format!("set=1\n{settings}\n"))?;
    match reply.iter().find_map(|line| line.strip_prefix("errno=")) {
        Some("0") => Ok(()),
        Some(errno) => Err(format!("the device refused the settings (errno {errno})")),
        None => Err("the device did not answer".to_string()),
    }
}

/// The device's `get` answer: `key=value` lines (its key, port and peers with their counters).
pub fn uapi_get(name: &str) -> Result<Vec<String>, String> {
    uapi_exchange(name, "get=1\n\n")
}

fn uapi_exchange(name: &str, request: &str) -> Result<Vec<String>, String> {
    let path = format!("{UAPI_DIR}/{name}.sock");
    let mut stream = UnixStream::connect(&path).map_err(|error| format!("{path}: {error}"))?;
    stream.set_read_timeout(Some(UAPI_TIMEOUT)).map_err(|error| error.to_string())?;
    stream.set_write_timeout(Some(UAPI_TIMEOUT)).map_err(|error| error.to_string())?;
    stream.write_all(request.as_bytes()).map_err(|error| format!("{path}: {error}"))?;
    let mut lines = Vec::new();
    for line in BufReader::new(stream).lines() {
        let line = line.map_err(|error| format!("{path}: {error}"))?;
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_fit_linux_and_derive_from_the_node_id() {
        assert_eq!(tunnel_name("7m3xq9k2p1a8b4c6d0e5f2g7h"), "swc-7m3xq9k2p1a");
        assert!(tunnel_name("7m3xq9k2p1a8b4c6d0e5f2g7h").len() <= 15);
        assert_eq!(tunnel_name("n1"), "swc-n1");
    }

    #[test]
    fn key_pairs_are_fresh_and_their_halves_agree() {
        let (a, b) = (new_key_pair(), new_key_pair());
        assert_ne!(a.public, b.public);
        assert_eq!(TunnelKey(PublicKey::from(&a.secret).to_bytes()), a.public);
    }
}
