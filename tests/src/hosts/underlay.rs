//! The underlay of a run: a bridge `br0` in a namespace of its own (in the root namespace, the machine's dockerd
//! FORWARD DROP policy and br_netfilter would drop bridged traffic), a veth `h<n>` ↔ `eth0` per host namespace, and
//! a veth `root` ↔ `swt<pid>-<seq>` from the root namespace carrying the test process's address `.254` and the
//! route to the subnet, and nothing else of the root namespace's routing.
//!
//! The subnet is a /24 of [`SUBNET_POOL`] that overlaps no route of the root namespace. Runs racing for one are
//! kept apart by the kernel: adding the subnet's route to the root namespace fails for all but one of them.

use std::net::Ipv4Addr;
use std::process::Command;

use super::names::RunNames;

/// Underlay subnets are `198.18.<n>.0/24`, from the range set aside for benchmarking networks (RFC 2544): outside
/// Docker's default address pools (172.17–31.0.0/16, 192.168.0.0/16), which Docker hands out round-robin — so a
/// network made on the machine between runs (a node's egress network, say) can hold any of them, a whole /16 of
/// 172.30 included, as a rehearsal found — and outside swarm's default overlay pool (10.0.0.0/8); each one is
/// checked against the root namespace's routes before use.
pub const SUBNET_POOL: [u8; 2] = [198, 18];
/// The test process's host part on the underlay.
pub const ROOT_HOST_INDEX: usize = 254;
/// The bridge inside the underlay namespace.
const BRIDGE: &str = "br0";

/// Creates the run's underlay namespace, bridge and root-namespace veth, claims a free subnet and returns its base
/// address (`198.18.<n>.0`). Panics if no /24 of the pool is free.
pub fn create(run: &RunNames) -> Ipv4Addr {
    let underlay = run.underlay_netns();
    let root_link = run.root_link();
    ip(&["netns", "add", &underlay]);
    ip(&["-n", &underlay, "link", "set", "lo", "up"]);
    ip(&["-n", &underlay, "link", "add", BRIDGE, "type", "bridge"]);
    ip(&["-n", &underlay, "link", "set", BRIDGE, "up"]);
    ip(&["link", "add", &root_link, "type", "veth", "peer", "name", "root", "netns", &underlay]);
    ip(&["-n", &underlay, "link", "set", "root", "master", BRIDGE, "up"]);
    ip(&["link", "set", &root_link, "up"]);
    claim_subnet(&root_link)
}

/// Creates host `index`'s namespace `netns`, wired into the underlay bridge with address `addr`.
pub fn add_host(run: &RunNames, index: usize, netns: &str, addr: Ipv4Addr) {
    let underlay = run.underlay_netns();
    let port = format!("h{index}");
    ip(&["netns", "add", netns]);
    ip(&["-n", netns, "link", "set", "lo", "up"]);
    ip(&[
        "-n",
        &underlay,
        "link",
        "add",
        &port,
        "type",
        "veth",
        "peer",
        "name",
        super::HOST_UNDERLAY_LINK,
        "netns",
        netns,
    ]);
    ip(&["-n", &underlay, "link", "set", &port, "master", BRIDGE, "up"]);
    ip(&["-n", netns, "addr", "add", &format!("{addr}/24"), "dev", super::HOST_UNDERLAY_LINK]);
    ip(&["-n", netns, "link", "set", super::HOST_UNDERLAY_LINK, "up"]);
}

/// Finds a /24 of the pool that overlaps no root-namespace route, gives `root_link` its `.254` (without the
/// kernel's prefix route) and adds the route; the first whose route the kernel accepts is this run's.
fn claim_subnet(root_link: &str) -> Ipv4Addr {
    let taken = root_routes();
    for third in 0..=255u8 {
        let base = Ipv4Addr::new(SUBNET_POOL[0], SUBNET_POOL[1], third, 0);
        if taken.iter().any(|&(net, len)| overlaps((base, 24), (net, len))) {
            continue;
        }
        let root_addr = Ipv4Addr::new(SUBNET_POOL[0], SUBNET_POOL[1], third, ROOT_HOST_INDEX as u8);
        let addr = format!("{root_addr}/24");
        ip(&["addr", "add", &addr, "dev", root_link, "noprefixroute"]);
        let route = format!("{base}/24");
        if try_ip(&["route", "add", &route, "dev", root_link, "src", &root_addr.to_string()]).is_ok() {
            return base;
        }
        // Another run took it between our look at the routes and now.
        ip(&["addr", "del", &addr, "dev", root_link]);
    }
    panic!("no free /24 in {}.{}.0.0/16 on this machine", SUBNET_POOL[0], SUBNET_POOL[1]);
}

/// Every IPv4 route of every table of the root namespace except default routes, as (network, prefix length).
fn root_routes() -> Vec<(Ipv4Addr, u8)> {
    let output = ip(&["-j", "-4", "route", "show", "table", "all"]);
    let routes: serde_json::Value = serde_json::from_str(&output).expect("ip -j route prints JSON");
    let mut taken = Vec::new();
    for route in routes.as_array().into_iter().flatten() {
        let Some(dst) = route["dst"].as_str() else { continue };
        if dst == "default" {
            continue;
        }
        let (net, len) = dst.split_once('/').unwrap_or((dst, "32"));
        if let (Ok(net), Ok(len)) = (net.parse::<Ipv4Addr>(), len.parse::<u8>()) {
            taken.push((net, len.min(32)));
        }
    }
    taken
}

/// Whether two IPv4 prefixes share an address.
fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    u32::from(a.0) & mask == u32::from(b.0) & mask
}

/// Runs `ip ARGS`; returns stdout or stderr.
pub fn try_ip(args: &[&str]) -> Result<String, String> {
    let output = Command::new("ip").args(args).output().map_err(|e| format!("run ip: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// Runs `ip ARGS`; panics with its error if it fails.
pub fn ip(args: &[&str]) -> String {
    try_ip(args).unwrap_or_else(|error| panic!("{error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_the_shorter_one_covers_the_other() {
        let p = |s: &str, len: u8| (s.parse::<Ipv4Addr>().unwrap(), len);
        let cases = [
            (p("172.30.0.0", 24), p("172.30.0.0", 16), true),
            (p("172.30.1.0", 24), p("172.30.0.0", 24), false),
            (p("172.30.1.0", 24), p("172.30.1.254", 32), true),
            (p("172.30.1.0", 24), p("172.17.0.0", 16), false),
            (p("172.30.1.0", 24), p("0.0.0.0", 0), true),
            (p("172.30.1.0", 24), p("172.16.0.0", 12), true),
        ];
        for (a, b, want) in cases {
            assert_eq!(overlaps(a, b), want, "{a:?} {b:?}");
            assert_eq!(overlaps(b, a), want, "{b:?} {a:?}");
        }
    }
}
