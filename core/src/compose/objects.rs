//! Reading the top-level networks, volumes, secrets and configs, with Docker's resolution of `external:`: an
//! external object is known by `name:` (or, deprecated, `external: {name: x}`, with Docker's warning), else by its
//! key; an external volume cannot also set a driver, options or labels; a secret or config from a `file:` gets an
//! absolute path against the first file's directory.

use super::decode::{item, join, Decoder};
use super::error::{ComposeError, Warning};
use super::keys::{self, ObjectSpec};
use super::model::{External, FileObjectConfig, Ipam, NetworkConfig, VolumeConfig};
use super::yaml::{Node, Value};

/// Whether an object says `external:` (other than `false`): then `name:` is read whatever the version, since
/// `stack config` prints external objects with their name.
fn is_external(entries: &[super::yaml::Entry]) -> bool {
    entries.iter().any(|entry| entry.key == "external" && !matches!(entry.value.value, Value::Bool(false)))
}

/// `external: true` or `external: {name: x}`: the flag and the deprecated name.
struct ExternalSpec {
    external: bool,
    name: String,
}

impl Decoder<'_> {
    fn external(&mut self, node: &Node, path: &str, spec: &ObjectSpec) -> Result<ExternalSpec, ComposeError> {
        match &node.value {
            Value::Bool(external) => Ok(ExternalSpec { external: *external, name: String::new() }),
            Value::Map(entries) => {
                let mut name = String::new();
                for entry in entries {
                    if self.check_key(entry, path, spec)? {
                        name = self.string(&entry.value, &join(path, &entry.key))?;
                    }
                }
                Ok(ExternalSpec { external: true, name })
            }
            _ => Err(self.error(
                node.position,
                path,
                format!("expected a boolean or a mapping, found {}", node.value.describe()),
            )),
        }
    }

    /// Applies Docker's external-name rules; `kind` is "network", "volume", "secret" or "config". The
    /// deprecated `external.name` is warned about from version 3.`deprecated_since` on.
    fn resolve_external_name(
        &mut self,
        (kind, key, deprecated_since): (&'static str, &str, u8),
        external: &ExternalSpec,
        name: &mut String,
        node: &Node,
        path: &str,
    ) -> Result<(), ComposeError> {
        let position = node.position;
        if !external.name.is_empty() {
            if !name.is_empty() {
                return Err(self.error(
                    position,
                    path,
                    format!("{kind} {key}: {kind}.external.name and {kind}.name conflict; only use {kind}.name"),
                ));
            }
            if self.minor >= deprecated_since {
                self.warnings.push(Warning::ExternalNameDeprecated { kind, name: key.to_owned() });
            }
            *name = external.name.clone();
        } else if name.is_empty() {
            *name = key.to_owned();
        }
        Ok(())
    }

    pub fn network(&mut self, key: &str, node: &Node, path: &str) -> Result<NetworkConfig, ComposeError> {
        let mut network = NetworkConfig::default();
        let mut external = ExternalSpec { external: false, name: String::new() };
        let entries = self.mapping_or_null(node, path)?;
        let external_name = is_external(entries);
        for entry in entries {
            let read = (external_name && entry.key == "name") || self.check_key(entry, path, &keys::NETWORK)?;
            if !read {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "name" => network.name = self.string(value, &p)?,
                "driver" => network.driver = self.string(value, &p)?,
                "driver_opts" => network.driver_opts = self.scalar_mapping(value, &p, false)?,
                "ipam" => network.ipam = self.ipam(value, &p)?,
                "external" => external = self.external(value, &p, &keys::EXTERNAL)?,
                "internal" => network.internal = self.boolean(value, &p)?,
                "attachable" => network.attachable = self.boolean(value, &p)?,
                "labels" => network.labels = self.string_mapping(value, &p)?,
                other => unreachable!("network key {other}"),
            }
        }
        if external.external {
            network.external = External(true);
            self.resolve_external_name(("network", key, 5), &external, &mut network.name, node, path)?;
            // Docker keeps a network's `x-` keys only when it is external.
            network.extensions = self.extensions(entries);
        }
        Ok(network)
    }

    fn ipam(&mut self, node: &Node, path: &str) -> Result<Ipam, ComposeError> {
        let mut ipam = Ipam::default();
        for entry in self.mapping(node, path)? {
            if !self.check_key(entry, path, &keys::IPAM)? {
                continue;
            }
            let p = join(path, &entry.key);
            match entry.key.as_str() {
                "driver" => ipam.driver = self.string(&entry.value, &p)?,
                "config" => {
                    for (index, pool) in self.sequence(&entry.value, &p)?.iter().enumerate() {
                        let q = item(&p, index);
                        let mut subnet = String::new();
                        for field in self.mapping(pool, &q)? {
                            if self.check_key(field, &q, &keys::IPAM_POOL)? {
                                subnet = self.string(&field.value, &join(&q, &field.key))?;
                            }
                        }
                        ipam.subnets.push(subnet);
                    }
                }
                other => unreachable!("ipam key {other}"),
            }
        }
        Ok(ipam)
    }

    pub fn volume(&mut self, key: &str, node: &Node, path: &str) -> Result<VolumeConfig, ComposeError> {
        let mut volume = VolumeConfig::default();
        let mut external = ExternalSpec { external: false, name: String::new() };
        let entries = self.mapping_or_null(node, path)?;
        let external_name = is_external(entries);
        for entry in entries {
            // `x-cluster-spec` (3.10+) is a cluster-volume setting Swarm's CSI support reads; kept as an extension.
            let read = (external_name && entry.key == "name") || self.check_key(entry, path, &keys::VOLUME)?;
            if !read {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "name" => volume.name = self.string(value, &p)?,
                "driver" => volume.driver = self.string(value, &p)?,
                "driver_opts" => volume.driver_opts = self.scalar_mapping(value, &p, false)?,
                "external" => external = self.external(value, &p, &keys::EXTERNAL)?,
                "labels" => volume.labels = self.string_mapping(value, &p)?,
                other => unreachable!("volume key {other}"),
            }
        }
        if external.external {
            volume.external = External(true);
            let conflict = if !volume.driver.is_empty() {
                Some("driver")
            } else if !volume.driver_opts.is_empty() {
                Some("driver_opts")
            } else if !volume.labels.is_empty() {
                Some("labels")
            } else {
                None
            };
            if let Some(conflict) = conflict {
                return Err(self.error(
                    node.position,
                    path,
                    format!("conflicting parameters \"external\" and {conflict:?} specified for volume {key:?}"),
                ));
            }
            self.resolve_external_name(("volume", key, 4), &external, &mut volume.name, node, path)?;
            // Docker keeps a volume's `x-` keys only when it is external.
            volume.extensions = self.extensions(entries);
        }
        Ok(volume)
    }

    /// A top-level secret (`kind` "secret") or config (`kind` "config").
    pub fn file_object(
        &mut self,
        kind: &'static str,
        key: &str,
        node: &Node,
        path: &str,
    ) -> Result<FileObjectConfig, ComposeError> {
        let spec = if kind == "secret" { &keys::SECRET } else { &keys::CONFIG };
        let mut object = FileObjectConfig::default();
        let mut external = ExternalSpec { external: false, name: String::new() };
        let entries = self.mapping(node, path)?;
        let external_name = is_external(entries);
        for entry in entries {
            let read = (external_name && entry.key == "name") || self.check_key(entry, path, spec)?;
            if !read {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "name" => object.name = self.string(value, &p)?,
                "file" => object.file = self.string(value, &p)?,
                "external" => external = self.external(value, &p, &keys::EXTERNAL_OPEN)?,
                "labels" => object.labels = self.string_mapping(value, &p)?,
                "driver" => object.driver = self.string(value, &p)?,
                "driver_opts" => object.driver_opts = self.scalar_mapping(value, &p, false)?,
                "template_driver" => object.template_driver = self.string(value, &p)?,
                other => unreachable!("{kind} key {other}"),
            }
        }
        if external.external {
            object.external = External(true);
            self.resolve_external_name((kind, key, 5), &external, &mut object.name, node, path)?;
        } else if !object.driver.is_empty() {
            if !object.file.is_empty() {
                return Err(self.error(
                    node.position,
                    path,
                    format!("{kind} {key}: {kind}.driver and {kind}.file conflict; only use {kind}.driver"),
                ));
            }
        } else {
            object.file = if object.file.starts_with('/') { object.file.clone() } else { self.absolute(&object.file) };
        }
        object.extensions = self.extensions(entries);
        Ok(object)
    }
}
