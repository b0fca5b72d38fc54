//! `SubnetAddresses`: which addresses of one network's subnet are in use, as a bitmap over the host offsets.
//! Invariant: only host addresses inside the subnet are ever marked (never the network or broadcast address), and
//! `used_count` equals the number of marked bits. Allocation takes the lowest free address of the allocatable range
//! (the user's `--ip-range`, else the whole subnet), so the choice is a pure function of what is marked.

use std::net::Ipv4Addr;

use super::cidr::Ipv4Cidr;

/// The addresses in use in one subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetAddresses {
    subnet: Ipv4Cidr,
    /// Offsets dynamic allocation may hand out (`--ip-range`, else every host offset).
    allocatable: (u32, u32),
    /// Bit `o` set ⇔ the address at offset `o` is in use. Grows on demand: a huge subnet costs only what it uses.
    words: Vec<u64>,
    used_count: u32,
    /// How many of the used addresses lie in the allocatable range.
    used_allocatable_count: u32,
    /// Every word below this index is full (a hint; never past a word with a free allocatable bit).
    first_maybe_free_word: usize,
}

impl SubnetAddresses {
    /// An empty map of `subnet`, allocating only inside `ip_range` (which must lie inside `subnet`) if given.
    pub fn new(subnet: Ipv4Cidr, ip_range: Option<Ipv4Cidr>) -> SubnetAddresses {
        let hosts = subnet.host_offsets();
        let (mut low, mut high) = (*hosts.start(), *hosts.end());
        if let Some(range) = ip_range {
            let start = range.first().saturating_sub(subnet.first());
            let end = range.last().saturating_sub(subnet.first());
            low = low.max(start);
            high = high.min(end);
        }
        SubnetAddresses {
            subnet,
            allocatable: (low, high),
            words: Vec::new(),
            used_count: 0,
            used_allocatable_count: 0,
            first_maybe_free_word: 0,
        }
    }

    pub fn subnet(&self) -> Ipv4Cidr {
        self.subnet
    }

    pub fn used_count(&self) -> u32 {
        self.used_count
    }

    /// How many allocatable addresses are free.
    pub fn free_count(&self) -> u64 {
        let (low, high) = self.allocatable;
        let total = if low > high { 0 } else { u64::from(high - low) + 1 };
        total - u64::from(self.used_allocatable_count)
    }

    /// Whether `addr` is a host address of the subnet (not the network or broadcast address).
    pub fn is_host(&self, addr: Ipv4Addr) -> bool {
        self.subnet.offset_of(addr).is_some_and(|offset| self.subnet.host_offsets().contains(&offset))
    }

    pub fn is_used(&self, addr: Ipv4Addr) -> bool {
        self.subnet.offset_of(addr).is_some_and(|offset| self.bit(offset))
    }

    /// Marks `addr` used. Returns false (and changes nothing) if it is not a host address or already used.
    pub fn claim(&mut self, addr: Ipv4Addr) -> bool {
        if !self.is_host(addr) || self.is_used(addr) {
            return false;
        }
        let offset = self.subnet.offset_of(addr).expect("is_host checked containment");
        let (word, bit) = (offset as usize / 64, offset % 64);
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << bit;
        self.used_count += 1;
        if self.is_allocatable(offset) {
            self.used_allocatable_count += 1;
        }
        true
    }

    /// Marks `addr` free. Returns false if it was not used.
    pub fn release(&mut self, addr: Ipv4Addr) -> bool {
        if !self.is_used(addr) {
            return false;
        }
        let offset = self.subnet.offset_of(addr).expect("is_used checked containment");
        let word = offset as usize / 64;
        self.words[word] &= !(1 << (offset % 64));
        self.used_count -= 1;
        if self.is_allocatable(offset) {
            self.used_allocatable_count -= 1;
        }
        self.first_maybe_free_word = self.first_maybe_free_word.min(word);
        while self.words.last() == Some(&0) {
            self.words.pop();
        }
        true
    }

    /// The lowest free allocatable address, without claiming it.
    pub fn lowest_free(&self) -> Option<Ipv4Addr> {
        self.lowest_free_in(self.allocatable.0, self.allocatable.1)
    }

    /// The first free allocatable address at or after `start_offset`, wrapping around to the start of the range;
    /// without claiming it.
    pub fn next_free(&self, start_offset: u32) -> Option<Ipv4Addr> {
        let (low, high) = self.allocatable;
        if start_offset > low && start_offset <= high {
            if let Some(addr) = self.lowest_free_in(start_offset, high) {
                return Some(addr);
            }
        }
        self.lowest_free()
    }

    /// Claims and returns the first free allocatable address at or after `start_offset` (wrapping around).
    pub fn allocate_from(&mut self, start_offset: u32) -> Option<Ipv4Addr> {
        let addr = self.next_free(start_offset)?;
        let claimed = self.claim(addr);
        debug_assert!(claimed, "next_free returned a used address");
        while self.words.get(self.first_maybe_free_word) == Some(&u64::MAX) {
            self.first_maybe_free_word += 1;
        }
        Some(addr)
    }

    /// The offset of `addr` in the subnet (0 outside it).
    pub fn offset_of(&self, addr: Ipv4Addr) -> u32 {
        self.subnet.offset_of(addr).unwrap_or(0)
    }

    /// The lowest free address with an offset in `low..=high` (every word below the hint is full, so the scan
    /// starts there at the earliest).
    fn lowest_free_in(&self, low: u32, high: u32) -> Option<Ipv4Addr> {
        if low > high {
            return None;
        }
        let mut word = (low as usize / 64).max(self.first_maybe_free_word);
        while word * 64 <= high as usize {
            let bits = self.words.get(word).copied().unwrap_or(0);
            let mut free = !bits;
            while free != 0 {
                let offset = (word * 64) as u32 + free.trailing_zeros();
                if offset > high {
                    return None;
                }
                if offset >= low {
                    return Some(self.subnet.at(offset));
                }
                free &= free - 1;
            }
            word += 1;
        }
        None
    }

    /// Claims and returns the lowest free allocatable address (`None` when the range is exhausted).
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let addr = self.lowest_free()?;
        let claimed = self.claim(addr);
        debug_assert!(claimed, "lowest_free returned a used address");
        while self.words.get(self.first_maybe_free_word) == Some(&u64::MAX) {
            self.first_maybe_free_word += 1;
        }
        Some(addr)
    }

    /// Heap bytes this map holds (for the benchmark's bytes per endpoint).
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * std::mem::size_of::<u64>()
    }

    fn is_allocatable(&self, offset: u32) -> bool {
        (self.allocatable.0..=self.allocatable.1).contains(&offset)
    }

    fn bit(&self, offset: u32) -> bool {
        self.words.get(offset as usize / 64).is_some_and(|word| word & (1 << (offset % 64)) != 0)
    }

    /// The used addresses in ascending order (for invariant checks and tests).
    pub fn used(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.words.iter().enumerate().flat_map(move |(index, &word)| {
            (0..64u32).filter(move |bit| word & (1 << bit) != 0).map(move |bit| self.subnet.at(index as u32 * 64 + bit))
        })
    }
}

impl SubnetAddresses {
    /// Equality of what is in use (the allocation hint may differ between equal maps built in another order).
    pub fn same_usage(&self, other: &SubnetAddresses) -> bool {
        self.subnet == other.subnet && self.allocatable == other.allocatable && self.words == other.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    #[test]
    fn allocates_lowest_free_and_never_twice() {
        let mut map = SubnetAddresses::new(Ipv4Cidr::parse("10.0.0.0/24").unwrap(), None);
        assert!(map.claim(addr("10.0.0.1")));
        assert!(!map.claim(addr("10.0.0.1")));
        assert!(!map.claim(addr("10.0.0.0")), "network address");
        assert!(!map.claim(addr("10.0.0.255")), "broadcast address");
        assert!(!map.claim(addr("10.0.1.1")), "outside");
        assert_eq!(map.allocate(), Some(addr("10.0.0.2")));
        assert_eq!(map.allocate(), Some(addr("10.0.0.3")));
        assert!(map.release(addr("10.0.0.2")));
        assert!(!map.release(addr("10.0.0.2")));
        assert_eq!(map.allocate(), Some(addr("10.0.0.2")));
        let mut count = map.used_count();
        while map.allocate().is_some() {
            count += 1;
        }
        assert_eq!(count, 254);
        assert_eq!(map.used().count(), 254);
    }

    #[test]
    fn honours_ip_range() {
        let subnet = Ipv4Cidr::parse("10.9.0.0/16").unwrap();
        let mut map = SubnetAddresses::new(subnet, Some(Ipv4Cidr::parse("10.9.200.0/30").unwrap()));
        assert_eq!(map.allocate(), Some(addr("10.9.200.0")));
        assert_eq!(map.allocate(), Some(addr("10.9.200.1")));
        assert_eq!(map.allocate(), Some(addr("10.9.200.2")));
        assert_eq!(map.allocate(), Some(addr("10.9.200.3")));
        assert_eq!(map.allocate(), None);
        assert!(map.claim(addr("10.9.0.1")), "static claims may sit outside the range");
    }

    #[test]
    fn tiny_subnets_have_no_hosts() {
        let mut map = SubnetAddresses::new(Ipv4Cidr::parse("10.0.0.0/31").unwrap(), None);
        assert_eq!(map.allocate(), None);
        let mut map = SubnetAddresses::new(Ipv4Cidr::parse("10.0.0.0/30").unwrap(), None);
        assert_eq!(map.allocate(), Some(addr("10.0.0.1")));
        assert_eq!(map.allocate(), Some(addr("10.0.0.2")));
        assert_eq!(map.allocate(), None);
    }
}
