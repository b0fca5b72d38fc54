//! A node's end of the encrypted data path: the WireGuard public key it generated (the private half never leaves
//! the node), the UDP port it listens on, and its address inside the tunnel subnet, which the store gives it the
//! first time it reports a key and keeps across key rotations. VXLAN frames of encrypted networks travel between
//! these tunnel addresses, so they only ever cross the underlay inside WireGuard. Invariant (checked by
//! `check_invariants`): every record belongs to a stored node and no two nodes share a tunnel address.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The tunnel subnet: a quarter of the link-local range, so it clashes with no address pool of overlay networks
/// and no routed underlay, and leaves 169.254.169.0/24 (clouds' instance metadata, DNS and NTP) and 169.254.0.0/18
/// (what hosts pick for themselves first) alone: every node routes the whole subnet into its tunnel.
pub const TUNNEL_SUBNET_BASE: Ipv4Addr = Ipv4Addr::new(169, 254, 64, 0);
/// The prefix length of the tunnel subnet (16,382 node addresses).
pub const TUNNEL_PREFIX_LEN: u8 = 18;
/// WireGuard's customary UDP port, each node's default.
pub const DEFAULT_TUNNEL_PORT: u16 = 51_820;

/// A Curve25519 public key, 32 bytes; shown as lowercase hex (as WireGuard's configuration interface takes it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TunnelKey(pub [u8; 32]);

impl TunnelKey {
    /// The key from 64 hex digits, or `None`.
    pub fn from_hex(text: &str) -> Option<TunnelKey> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * index..2 * index + 2], 16).ok()?;
        }
        Some(TunnelKey(bytes))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Display for TunnelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for TunnelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A public key: nothing to hide, but the first bytes are enough to tell keys apart in logs.
        write!(f, "TunnelKey({}…)", &self.to_hex()[..8])
    }
}

/// What the cluster knows of one node's tunnel end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeTunnel {
    pub public_key: TunnelKey,
    /// The UDP port its WireGuard device listens on (at the node's underlay address).
    pub port: u16,
    /// Its address in the tunnel subnet.
    pub addr: Ipv4Addr,
}

/// The `index`-th address of the tunnel subnet (1-based; the subnet's first and last addresses are never given).
pub fn tunnel_addr(index: u32) -> Option<Ipv4Addr> {
    let host_count = (1u32 << (32 - u32::from(TUNNEL_PREFIX_LEN))) - 2;
    (1..=host_count).contains(&index).then(|| Ipv4Addr::from(u32::from(TUNNEL_SUBNET_BASE) + index))
}

/// Whether `addr` is a node address of the tunnel subnet.
pub fn in_tunnel_subnet(addr: Ipv4Addr) -> bool {
    let offset = u32::from(addr).wrapping_sub(u32::from(TUNNEL_SUBNET_BASE));
    tunnel_addr(offset) == Some(addr)
}
