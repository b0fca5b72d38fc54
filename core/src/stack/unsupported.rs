//! The one table of compose keys that Docker's `stack deploy` maps onto the cluster's objects but our specs cannot
//! hold yet: `UNSUPPORTED`. Its invariant: nothing a stack file says is dropped silently. A key in this table with
//! a value set is refused (`StackError::Unsupported`, `stack.yml:12:5: services.web.secrets: not supported yet`);
//! an empty value (`cap_add: []`, `init: false`, `logging: {}`) is not an error, since it asks for nothing. When the
//! spec gains a field, its row leaves this table and the conversion maps it.
//!
//! Two other kinds of keys are not here: keys Docker itself warns about and ignores (`build`, `privileged`, ...,
//! the loader's `keys::UNSUPPORTED`, printed by `stack deploy` as Docker prints them), and the keys in `IGNORED`,
//! which Docker's conversion drops without a word and so do we.

use crate::compose::{
    ComposeConfig, Dependency, FileObjectConfig, NetworkConfig, ServiceConfig, ServiceNetwork, ServiceVolume,
    VolumeConfig, VolumeType,
};

/// What a row checks, and so where its key path starts.
#[derive(Clone, Copy)]
pub enum Check {
    /// `services.<name>.<key>`.
    Service(fn(&ServiceConfig) -> bool),
    /// `services.<name>.networks.<network>.<key>`.
    Attachment(fn(&ServiceNetwork) -> bool),
    /// `services.<name>.volumes[<index>].<key>`.
    Mount(fn(&ServiceVolume) -> bool),
    /// `services.<name>.depends_on.<service>.<key>`.
    Dependency(fn(&Dependency) -> bool),
    /// `networks.<key>.<key>`, for a network the stack creates.
    Network(fn(&NetworkConfig) -> bool),
    /// `volumes.<key>.<key>`, for a volume a service mounts that the stack does not take as external.
    Volume(fn(&VolumeConfig) -> bool),
    /// `secrets.<name>` / `configs.<name>` (the key is empty: the whole object), for one the stack would create.
    Secret(fn(&FileObjectConfig) -> bool),
    Config(fn(&FileObjectConfig) -> bool),
}

/// One key that is refused when set.
#[derive(Clone, Copy)]
pub struct Unsupported {
    /// The key below the object `check` names (`deploy.resources.limits.pids`); empty for the whole object.
    pub key: &'static str,
    /// Whether the object sets the key to anything but its empty value.
    pub check: Check,
}

const fn service(key: &'static str, is_set: fn(&ServiceConfig) -> bool) -> Unsupported {
    Unsupported { key, check: Check::Service(is_set) }
}

/// Every key Docker maps that we cannot yet, in the order they are checked (a service's keys alphabetically, then
/// its attachments, mounts and dependencies, then the stack's own objects).
pub const UNSUPPORTED: &[Unsupported] = &[
    service("configs", |s| !s.configs.is_empty()),
    service("credential_spec", |s| {
        !(s.credential_spec.config.is_empty()
            && s.credential_spec.file.is_empty()
            && s.credential_spec.registry.is_empty())
    }),
    service("deploy.resources.limits.pids", |s| s.deploy.resources.limits.as_ref().is_some_and(|l| l.pids != 0)),
    service("deploy.resources.reservations.generic_resources", |s| {
        s.deploy.resources.reservations.as_ref().is_some_and(|r| !r.generic_resources.is_empty())
    }),
    service("healthcheck.start_interval", |s| {
        s.healthcheck.as_ref().and_then(|h| h.start_interval).is_some_and(|d| !d.is_zero())
    }),
    service("isolation", |s| !s.isolation.is_empty() && s.isolation != "default"),
    service("oom_score_adj", |s| s.oom_score_adj != 0),
    service("secrets", |s| !s.secrets.is_empty()),
    service("stdin_open", |s| s.stdin_open),
    service("tty", |s| s.tty),
    Unsupported { key: "driver_opts", check: Check::Attachment(|n| !n.driver_opts.is_empty()) },
    Unsupported { key: "type", check: Check::Mount(|m| matches!(m.kind, VolumeType::Npipe | VolumeType::Cluster)) },
    Unsupported {
        key: "bind.propagation",
        check: Check::Mount(|m| m.bind_propagation.as_ref().is_some_and(|p| !p.is_empty())),
    },
    Unsupported { key: "volume.nocopy", check: Check::Mount(|m| m.volume_nocopy == Some(true)) },
    // `restart: true`: restart the dependent when the dependency is updated (beyond Swarm, like `depends_on`).
    Unsupported { key: "restart", check: Check::Dependency(|d| d.restart) },
    Unsupported {
        key: "ipam.driver",
        check: Check::Network(|n| !n.ipam.driver.is_empty() && n.ipam.driver != "default"),
    },
    // A volume's driver and labels would go in the mount's volume options, which the spec does not have.
    Unsupported { key: "driver", check: Check::Volume(|v| !v.driver.is_empty() && v.driver != "local") },
    Unsupported { key: "driver_opts", check: Check::Volume(|v| !v.driver_opts.is_empty()) },
    Unsupported { key: "labels", check: Check::Volume(|v| !v.labels.is_empty()) },
    Unsupported { key: "", check: Check::Secret(|s| !s.external.0) },
    Unsupported { key: "", check: Check::Config(|c| !c.external.0) },
];

/// Keys Docker's conversion drops without a word, and so do we (documented here so that the drop is a decision):
/// a service's fixed addresses on a network (Swarm's IPAM assigns task addresses), and a mount's `consistency`
/// (Docker Desktop's file sharing; the Engine on Linux ignores it).
pub const IGNORED: &[&str] =
    &["services.*.networks.*.ipv4_address", "services.*.networks.*.ipv6_address", "services.*.volumes[*].consistency"];

/// `parent.key`, or `parent` for the whole object.
fn below(parent: String, key: &str) -> String {
    if key.is_empty() {
        parent
    } else {
        format!("{parent}.{key}")
    }
}

/// The key path of the first row `service` (named `name` in the file) sets, if any.
pub fn first_in_service(name: &str, service: &ServiceConfig, networks: &[(&str, &ServiceNetwork)]) -> Option<String> {
    let base = format!("services.{name}");
    for row in UNSUPPORTED {
        if let Check::Service(is_set) = row.check {
            if is_set(service) {
                return Some(below(base, row.key));
            }
        }
    }
    for (network, settings) in networks {
        for row in UNSUPPORTED {
            if let Check::Attachment(is_set) = row.check {
                if is_set(settings) {
                    return Some(below(format!("{base}.networks.{network}"), row.key));
                }
            }
        }
    }
    for (index, mount) in service.volumes.iter().enumerate() {
        for row in UNSUPPORTED {
            if let Check::Mount(is_set) = row.check {
                if is_set(mount) {
                    return Some(below(format!("{base}.volumes[{index}]"), row.key));
                }
            }
        }
    }
    for dependency in &service.depends_on {
        for row in UNSUPPORTED {
            if let Check::Dependency(is_set) = row.check {
                if is_set(dependency) {
                    return Some(below(format!("{base}.depends_on.{}", dependency.service), row.key));
                }
            }
        }
    }
    None
}

/// The key path of the first row a stack-level object sets: networks the stack creates (by key), volumes its
/// services mount (by key), then every secret and config.
pub fn first_in_objects(config: &ComposeConfig, networks: &[&str], volumes: &[&str]) -> Option<String> {
    for row in UNSUPPORTED {
        let found = match row.check {
            Check::Network(is_set) => networks
                .iter()
                .find(|key| config.networks.get(**key).is_some_and(is_set))
                .map(|key| below(format!("networks.{key}"), row.key)),
            Check::Volume(is_set) => volumes
                .iter()
                .find(|key| config.volumes.get(**key).is_some_and(is_set))
                .map(|key| below(format!("volumes.{key}"), row.key)),
            Check::Secret(is_set) => config
                .secrets
                .iter()
                .find(|(_, secret)| is_set(secret))
                .map(|(key, _)| below(format!("secrets.{key}"), row.key)),
            Check::Config(is_set) => config
                .configs
                .iter()
                .find(|(_, object)| is_set(object))
                .map(|(key, _)| below(format!("configs.{key}"), row.key)),
            Check::Service(_) | Check::Attachment(_) | Check::Mount(_) | Check::Dependency(_) => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}
