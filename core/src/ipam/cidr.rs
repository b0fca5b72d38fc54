//! `Ipv4Cidr`: an IPv4 subnet as users write it (`10.0.1.0/24`), with the arithmetic the address management needs
//! (contains, overlaps, host range, carving a pool into subnets). Invariant: a parsed or constructed `Ipv4Cidr` is
//! canonical — no host bits set below its prefix — so two equal subnets compare equal whatever text they came from.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 subnet: the network address (host bits zero) and the prefix length (0–32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix_len: u8,
}

/// Why a subnet text was refused (the message names the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CidrError {
    #[error("invalid CIDR address: {text}")]
    Malformed { text: String },
    #[error("invalid CIDR address: {text}: host bits are set (did you mean {canonical}?)")]
    HostBitsSet { text: String, canonical: String },
}

impl Ipv4Cidr {
    /// `10.0.0.0/8`, Docker's default address pool.
    pub const TEN_SLASH_EIGHT: Ipv4Cidr = Ipv4Cidr { network: Ipv4Addr::new(10, 0, 0, 0), prefix_len: 8 };

    /// The subnet of `prefix_len` bits holding `addr`; `None` if `prefix_len > 32`.
    pub fn containing(addr: Ipv4Addr, prefix_len: u8) -> Option<Ipv4Cidr> {
        (prefix_len <= 32).then(|| Ipv4Cidr { network: Ipv4Addr::from(u32::from(addr) & mask(prefix_len)), prefix_len })
    }

    /// Parses `a.b.c.d/n`, refusing host bits below the prefix as Docker does ("invalid CIDR address").
    pub fn parse(text: &str) -> Result<Ipv4Cidr, CidrError> {
        let malformed = || CidrError::Malformed { text: text.to_string() };
        let (addr, len) = text.split_once('/').ok_or_else(malformed)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| malformed())?;
        if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let prefix_len: u8 = len.parse().map_err(|_| malformed())?;
        let cidr = Ipv4Cidr::containing(addr, prefix_len).ok_or_else(malformed)?;
        if cidr.network != addr {
            return Err(CidrError::HostBitsSet { text: text.to_string(), canonical: cidr.to_string() });
        }
        Ok(cidr)
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The number of addresses in the subnet (2^(32 − prefix)).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix_len))
    }

    pub fn first(&self) -> u32 {
        u32::from(self.network)
    }

    pub fn last(&self) -> u32 {
        u32::from(self.network) | !mask(self.prefix_len)
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.prefix_len) == u32::from(self.network)
    }

    /// Whether `other` lies wholly inside this subnet.
    pub fn covers(&self, other: &Ipv4Cidr) -> bool {
        other.prefix_len >= self.prefix_len && self.contains(other.network)
    }

    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// The usable host addresses as offsets from the network address: all but the network and broadcast
    /// addresses (a /31 or /32 has none in a Docker network).
    pub fn host_offsets(&self) -> std::ops::RangeInclusive<u32> {
        let size = self.size();
        if size < 4 {
            #[allow(clippy::reversed_empty_ranges)]
            return 1..=0;
        }
        1..=(size - 2) as u32
    }

    /// The address at `offset` from the network address.
    pub fn at(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network).wrapping_add(offset))
    }

    /// `addr`'s offset from the network address, if the subnet contains it.
    pub fn offset_of(&self, addr: Ipv4Addr) -> Option<u32> {
        self.contains(addr).then(|| u32::from(addr) - u32::from(self.network))
    }

    /// The `index`-th subnet of `prefix_len` bits inside this one (`None` past the end or for a shorter prefix).
    pub fn subnet(&self, prefix_len: u8, index: u64) -> Option<Ipv4Cidr> {
        if prefix_len < self.prefix_len || prefix_len > 32 {
            return None;
        }
        let count = 1u64 << (prefix_len - self.prefix_len);
        if index >= count {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix_len));
        let network = u64::from(u32::from(self.network)) + index * step;
        Some(Ipv4Cidr { network: Ipv4Addr::from(network as u32), prefix_len })
    }
}

fn mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix_len.min(32)))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Ipv4Cidr, CidrError> {
        Ipv4Cidr::parse(text)
    }
}

/// Text (`"10.0.0.0/24"`) in JSON, five bytes in postcard; decoding re-checks canonical form, so no input yields
/// a subnet with host bits set.
impl Serialize for Ipv4Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            (u32::from(self.network), self.prefix_len).serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Ipv4Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ipv4Cidr, D::Error> {
        use serde::de::Error;
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Ipv4Cidr::parse(&text).map_err(D::Error::custom)
        } else {
            let (network, prefix_len) = <(u32, u8)>::deserialize(deserializer)?;
            let cidr = Ipv4Cidr::containing(Ipv4Addr::from(network), prefix_len)
                .ok_or_else(|| D::Error::custom(format!("prefix length {prefix_len} is over 32")))?;
            if u32::from(cidr.network) != network {
                return Err(D::Error::custom("subnet with host bits set"));
            }
            Ok(cidr)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_like_docker() {
        let cidr = Ipv4Cidr::parse("10.1.2.0/24").unwrap();
        assert_eq!(cidr.to_string(), "10.1.2.0/24");
        assert_eq!(cidr.host_offsets(), 1..=254);
        assert!(cidr.contains("10.1.2.200".parse().unwrap()));
        assert!(!cidr.contains("10.1.3.1".parse().unwrap()));
        for bad in ["10.1.2.0", "10.1.2.0/33", "10.1.2/24", "x/24", "10.1.2.0/", "10.1.2.0/+4", "10.1.2.0/024"] {
            assert!(matches!(Ipv4Cidr::parse(bad), Err(CidrError::Malformed { .. })), "{bad}");
        }
        assert_eq!(
            Ipv4Cidr::parse("10.1.2.3/24").unwrap_err().to_string(),
            "invalid CIDR address: 10.1.2.3/24: host bits are set (did you mean 10.1.2.0/24?)"
        );
    }

    #[test]
    fn overlap_and_carving() {
        let pool = Ipv4Cidr::parse("10.0.0.0/8").unwrap();
        assert_eq!(pool.subnet(24, 0).unwrap().to_string(), "10.0.0.0/24");
        assert_eq!(pool.subnet(24, 257).unwrap().to_string(), "10.1.1.0/24");
        assert_eq!(pool.subnet(24, 1 << 16), None);
        let a = Ipv4Cidr::parse("10.0.0.0/16").unwrap();
        let b = Ipv4Cidr::parse("10.0.5.0/24").unwrap();
        let c = Ipv4Cidr::parse("10.1.0.0/16").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a) && !a.overlaps(&c));
        assert_eq!(Ipv4Cidr::parse("0.0.0.0/0").unwrap().size(), 1 << 32);
    }

    #[test]
    fn serde_round_trips_both_ways_and_refuses_host_bits() {
        let cidr = Ipv4Cidr::parse("192.168.8.0/22").unwrap();
        let json = serde_json::to_string(&cidr).unwrap();
        assert_eq!(json, "\"192.168.8.0/22\"");
        assert_eq!(serde_json::from_str::<Ipv4Cidr>(&json).unwrap(), cidr);
        let bytes = postcard::to_stdvec(&cidr).unwrap();
        assert_eq!(postcard::from_bytes::<Ipv4Cidr>(&bytes).unwrap(), cidr);
        let bad = postcard::to_stdvec(&(u32::from(Ipv4Addr::new(192, 168, 8, 1)), 22u8)).unwrap();
        assert!(postcard::from_bytes::<Ipv4Cidr>(&bad).is_err());
        assert!(serde_json::from_str::<Ipv4Cidr>("\"192.168.8.1/22\"").is_err());
    }
}
