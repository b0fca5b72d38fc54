//! The one IPv4 address a device of the data plane holds (a gateway device, the tunnel): made so through netlink,
//! every other IPv4 address on the device removed. Compiled out of the simulator.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::Handle;

/// Makes device `index` hold exactly one IPv4 address, `addr/prefix_len`: any other goes (an earlier subnet's,
/// say); the devices it is used on are ours alone.
pub async fn keep_only_address(
    netlink: &Handle,
    index: u32,
    addr: Ipv4Addr,
    prefix_len: u8,
) -> Result<(), rtnetlink::Error> {
    let addresses: Vec<AddressMessage> = netlink
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_filter(|message| {
            futures::future::ready(message.header.index == index && message.header.family == AddressFamily::Inet)
        })
        .try_collect()
        .await?;
    let mut has_it = false;
    for address in addresses {
        let holds_it = address.header.prefix_len == prefix_len
            && address.attributes.iter().any(|nla| matches!(nla, AddressAttribute::Local(IpAddr::V4(a)) if *a == addr));
        if holds_it {
            has_it = true;
        } else {
            netlink.address().del(address).execute().await?;
        }
    }
    if !has_it {
        netlink.address().add(index, IpAddr::V4(addr), prefix_len).replace().execute().await?;
    }
    Ok(())
}
