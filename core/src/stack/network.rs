//! A stack's networks, as Docker's `stack deploy` converts them: the networks its services use (a service without
//! `networks:` uses `default`), each created as `<stack>_<key>` (or its `name:`) with the namespace label and the
//! overlay driver unless another is given, or looked up by name when external; and a service's attachments, one
//! per network it uses, with the file's aliases plus the service's own short name, sorted by target. Invariant:
//! every network a converted service attaches to is either in the plan's networks or in its external ones.

use std::collections::{BTreeMap, BTreeSet};

use super::error::{Place, StackError};
use super::NAMESPACE_LABEL;
use crate::compose::{Loaded, NetworkConfig, ServiceConfig, ServiceNetwork};
use crate::ipam::Ipv4Cidr;
use crate::model::{IpamConfig, NetworkSpec};
use crate::spec::NetworkAttachmentConfig;

/// The network a service without `networks:` joins.
pub const DEFAULT_NETWORK: &str = "default";

/// The networks a service uses, by key, with its settings on each: `default` alone when it names none.
pub fn service_networks(service: &ServiceConfig) -> Vec<(&str, Option<&ServiceNetwork>)> {
    if service.networks.is_empty() {
        return vec![(DEFAULT_NETWORK, None)];
    }
    service.networks.iter().map(|(key, settings)| (key.as_str(), settings.as_ref())).collect()
}

/// The top-level settings of network `key` (Docker's zero value for an undeclared `default`).
fn network_config<'a>(loaded: &'a Loaded, key: &str) -> std::borrow::Cow<'a, NetworkConfig> {
    match loaded.config.networks.get(key) {
        Some(config) => std::borrow::Cow::Borrowed(config),
        None => std::borrow::Cow::Owned(NetworkConfig::default()),
    }
}

/// The name network `key` has on the cluster: its `name:` (an external network's is always set), else
/// `<stack>_<key>`.
pub fn cluster_name(stack: &str, loaded: &Loaded, key: &str) -> String {
    let config = network_config(loaded, key);
    if config.name.is_empty() {
        format!("{stack}_{key}")
    } else {
        config.name.clone()
    }
}

/// Whether Docker adds a service's short name as an alias on this target: only on user-defined networks, not on
/// the Engine's own (`default`, `bridge`, `host`, `none`, `container:<id>`), which take no aliases.
fn takes_aliases(target: &str) -> bool {
    !matches!(target, "default" | "bridge" | "host" | "none") && !target.starts_with("container:")
}

/// Service `short_name`'s attachments, sorted by target as Docker sorts them.
pub fn attachments(
    stack: &str,
    loaded: &Loaded,
    short_name: &str,
    service: &ServiceConfig,
) -> Vec<NetworkAttachmentConfig> {
    let mut out: Vec<NetworkAttachmentConfig> = service_networks(service)
        .into_iter()
        .map(|(key, settings)| {
            let target = cluster_name(stack, loaded, key);
            let mut aliases = settings.map(|s| s.aliases.clone()).unwrap_or_default();
            if takes_aliases(&target) {
                aliases.push(short_name.to_owned());
            }
            NetworkAttachmentConfig { target, aliases }
        })
        .collect();
    out.sort_by(|a, b| a.target.cmp(&b.target));
    out
}

/// The networks the stack's services use, by key, in key order.
pub fn used_network_keys(loaded: &Loaded) -> BTreeSet<&str> {
    loaded
        .config
        .services
        .values()
        .flat_map(|service| service_networks(service).into_iter().map(|(key, _)| key))
        .collect()
}

/// The networks the stack creates (sorted by name) and the names of the external ones it needs (sorted, each
/// once), for the networks its services use.
pub fn stack_networks(stack: &str, loaded: &Loaded) -> Result<(Vec<NetworkSpec>, Vec<String>), StackError> {
    let mut created: BTreeMap<String, (NetworkSpec, String)> = BTreeMap::new();
    let mut external = BTreeSet::new();
    for key in used_network_keys(loaded) {
        let config = network_config(loaded, key);
        let name = cluster_name(stack, loaded, key);
        if config.external.0 {
            external.insert(name);
            continue;
        }
        let spec = network_spec(loaded, key, name.clone(), &config, stack)?;
        let path = format!("networks.{key}");
        if let Some((_, other)) = created.get(&name) {
            return Err(StackError::DuplicateNetworkName {
                name,
                place: Place::of(loaded, &path),
                other: other.clone(),
            });
        }
        created.insert(name, (spec, path));
    }
    Ok((created.into_values().map(|(spec, _)| spec).collect(), external.into_iter().collect()))
}

fn network_spec(
    loaded: &Loaded,
    key: &str,
    name: String,
    config: &NetworkConfig,
    stack: &str,
) -> Result<NetworkSpec, StackError> {
    let mut labels = config.labels.clone();
    labels.insert(NAMESPACE_LABEL.to_owned(), stack.to_owned());
    let driver = if config.driver.is_empty() { NetworkSpec::DEFAULT_DRIVER.to_owned() } else { config.driver.clone() };
    let mut ipam = Vec::new();
    for (index, subnet) in config.ipam.subnets.iter().enumerate() {
        // A pool without a subnet asks for nothing.
        if subnet.is_empty() {
            continue;
        }
        let subnet = Ipv4Cidr::parse(subnet).map_err(|why| {
            StackError::invalid(loaded, &format!("networks.{key}.ipam.config[{index}].subnet"), why.to_string())
        })?;
        ipam.push(IpamConfig { subnet, gateway: None, ip_range: None });
    }
    Ok(NetworkSpec {
        name,
        driver,
        labels,
        options: config.driver_opts.clone(),
        attachable: config.attachable,
        internal: config.internal,
        ingress: false,
        ipam,
    })
}
