//! Reading one service: every key of Docker's v3 schema, with its accepted shapes, into `ServiceConfig`. Here
//! the environment is resolved as Docker resolves it (env files first, then `environment:`, a bare or empty
//! variable taken from the environment), bind sources become absolute, and what the service names (networks,
//! volumes, secrets, configs, dependencies) is recorded for checking against the whole stack.

use std::collections::BTreeMap;

use super::decode::{is_windows_absolute, item, join, Decoder, Reference, ReferenceKind, EXPANDED_PORTS_MAX};
use super::env_file::parse_env_file;
use super::error::{ComposeError, Warning};
use super::keys;
use super::model::{
    BuildConfig, CredentialSpec, Dependency, DependencyCondition, FileReference, HealthCheck, Logging, PortConfig,
    PortMode, PortProtocol, ServiceConfig, ServiceNetwork, ServiceVolume, Ulimit, VolumeType,
};
use super::shell_words;
use super::syntax::{parse_port_spec, parse_volume_spec, PROPAGATIONS};
use super::yaml::{Entry, Node, Value};

impl Decoder<'_> {
    pub fn service(&mut self, name: &str, node: &Node, path: &str) -> Result<ServiceConfig, ComposeError> {
        let entries = self.mapping(node, path)?;
        let mut service = ServiceConfig::default();
        for entry in entries {
            if let Some((_, why)) = keys::FORBIDDEN.iter().find(|(key, _)| *key == entry.key) {
                return Err(self.error(entry.key_position, &join(path, &entry.key), format!("forbidden: {why}")));
            }
        }
        for entry in entries {
            if !self.check_key(entry, path, &keys::SERVICE)? {
                continue;
            }
            let key_path = join(path, &entry.key);
            let value = &entry.value;
            let p = key_path.as_str();
            match entry.key.as_str() {
                "build" => {
                    // Docker's build block is a plain struct: an empty one is no build at all.
                    let build = self.build(value, p)?;
                    service.build = (build != BuildConfig::default()).then_some(build);
                }
                "cap_add" => service.cap_add = self.string_list(value, p)?,
                "cap_drop" => service.cap_drop = self.string_list(value, p)?,
                "cgroupns_mode" => service.cgroupns_mode = self.string(value, p)?,
                "cgroup_parent" => service.cgroup_parent = self.string(value, p)?,
                "command" => service.command = self.shell_command(value, p)?,
                "configs" => service.configs = self.file_references(name, value, p, ReferenceKind::Config)?,
                "container_name" => service.container_name = self.string(value, p)?,
                "credential_spec" => service.credential_spec = self.credential_spec(value, p)?,
                "depends_on" => service.depends_on = self.depends_on(name, value, p)?,
                "deploy" => service.deploy = self.deploy(value, p)?,
                "devices" => service.devices = self.string_list(value, p)?,
                "dns" => service.dns = self.string_or_list(value, p)?,
                "dns_search" => service.dns_search = self.string_or_list(value, p)?,
                "domainname" => service.domainname = self.string(value, p)?,
                "entrypoint" => service.entrypoint = self.shell_command(value, p)?,
                "env_file" => service.env_file = self.string_or_list(value, p)?,
                "environment" => {}
                "expose" => service.expose = self.string_or_number_list(value, p)?,
                "external_links" => service.external_links = self.string_list(value, p)?,
                "extra_hosts" => service.extra_hosts = self.hosts_list(value, p)?,
                "healthcheck" => service.healthcheck = Some(self.healthcheck(value, p)?),
                "hostname" => service.hostname = self.string(value, p)?,
                "image" => service.image = self.string(value, p)?,
                "init" => service.init = Some(self.boolean(value, p)?),
                "ipc" => service.ipc = self.string(value, p)?,
                "isolation" => service.isolation = self.string(value, p)?,
                "labels" => service.labels = self.string_mapping(value, p)?,
                "links" => service.links = self.string_list(value, p)?,
                "logging" => service.logging = Some(self.logging(value, p)?),
                "mac_address" => service.mac_address = self.string(value, p)?,
                "network_mode" => service.network_mode = self.string(value, p)?,
                "networks" => service.networks = self.service_networks(name, value, p)?,
                "oom_score_adj" => service.oom_score_adj = self.integer(value, p)?,
                "pid" => {
                    service.pid = match value.value {
                        Value::Null => String::new(),
                        _ => self.string(value, p)?,
                    }
                }
                "ports" => service.ports = self.ports(value, p)?,
                "privileged" => service.privileged = self.boolean(value, p)?,
                "read_only" => service.read_only = self.boolean(value, p)?,
                "restart" => service.restart = self.string(value, p)?,
                "secrets" => service.secrets = self.file_references(name, value, p, ReferenceKind::Secret)?,
                "security_opt" => service.security_opt = self.string_list(value, p)?,
                "shm_size" => {
                    service.shm_size = match &value.value {
                        Value::String(s) => s.clone(),
                        Value::Int(_) | Value::Float(_) => super::yaml::go_sprint(&value.value).unwrap_or_default(),
                        _ => {
                            return Err(self.error(
                                value.position,
                                p,
                                format!("expected a string or a number, found {}", value.value.describe()),
                            ))
                        }
                    }
                }
                "stdin_open" => service.stdin_open = self.boolean(value, p)?,
                "stop_grace_period" => service.stop_grace_period = Some(self.duration(value, p)?),
                "stop_signal" => service.stop_signal = self.string(value, p)?,
                "sysctls" => service.sysctls = self.string_mapping(value, p)?,
                "tmpfs" => service.tmpfs = self.string_or_list(value, p)?,
                "tty" => service.tty = self.boolean(value, p)?,
                "ulimits" => service.ulimits = self.ulimits(value, p)?,
                "user" => service.user = self.string(value, p)?,
                "userns_mode" => service.userns_mode = self.string(value, p)?,
                "volumes" => service.volumes = self.service_volumes(name, value, p)?,
                "working_dir" => service.working_dir = self.string(value, p)?,
                other => unreachable!("key {other} is in the service table but not read"),
            }
        }
        service.environment = self.environment(entries, &service.env_file, path)?;
        service.extensions = self.extensions(entries);
        Ok(service)
    }

    fn build(&mut self, node: &Node, path: &str) -> Result<BuildConfig, ComposeError> {
        if let Value::String(context) = &node.value {
            return Ok(BuildConfig { context: context.clone(), ..BuildConfig::default() });
        }
        let entries = self.mapping(node, path)?;
        let mut build = BuildConfig::default();
        for entry in entries {
            let p = join(path, &entry.key);
            let value = &entry.value;
            // Docker's schema lets any key through here, whatever the version: no version check.
            match entry.key.as_str() {
                "context" => build.context = self.string(value, &p)?,
                "dockerfile" => build.dockerfile = self.string(value, &p)?,
                "args" => build.args = self.list_or_dict(value, &p)?.into_iter().collect(),
                "labels" => build.labels = self.string_mapping(value, &p)?,
                "cache_from" => build.cache_from = self.string_list(value, &p)?,
                "network" => build.network = self.string(value, &p)?,
                "target" => build.target = self.string(value, &p)?,
                "extra_hosts" => build.extra_hosts = self.hosts_list(value, &p)?,
                "shm_size" => match value.value {
                    Value::String(_) | Value::Int(_) => {}
                    _ => {
                        return Err(self.error(
                            value.position,
                            &p,
                            format!("expected an integer or a string, found {}", value.value.describe()),
                        ))
                    }
                },
                _ => {
                    self.check_key(entry, path, &keys::BUILD)?;
                }
            }
        }
        Ok(build)
    }

    fn shell_command(&self, node: &Node, path: &str) -> Result<Vec<String>, ComposeError> {
        match &node.value {
            Value::String(text) => shell_words::split(text)
                .map_err(|why| self.error(node.position, path, format!("cannot split {text:?} into words: {why}"))),
            Value::Seq(items) => {
                items.iter().enumerate().map(|(index, item_node)| self.string(item_node, &item(path, index))).collect()
            }
            _ => Err(self.error(
                node.position,
                path,
                format!("expected a string or a list of strings, found {}", node.value.describe()),
            )),
        }
    }

    fn file_references(
        &mut self,
        service: &str,
        node: &Node,
        path: &str,
        kind: ReferenceKind,
    ) -> Result<Vec<FileReference>, ComposeError> {
        let items = self.sequence(node, path)?;
        let mut out = Vec::with_capacity(items.len());
        for (index, item_node) in items.iter().enumerate() {
            let p = item(path, index);
            let reference = match &item_node.value {
                Value::String(source) => FileReference { source: source.clone(), ..FileReference::default() },
                Value::Map(entries) => {
                    let mut reference = FileReference::default();
                    for entry in entries {
                        if !self.check_key(entry, &p, &keys::FILE_REFERENCE)? {
                            continue;
                        }
                        let q = join(&p, &entry.key);
                        let value = &entry.value;
                        match entry.key.as_str() {
                            "source" => reference.source = self.string(value, &q)?,
                            "target" => reference.target = self.string(value, &q)?,
                            "uid" => reference.uid = self.string(value, &q)?,
                            "gid" => reference.gid = self.string(value, &q)?,
                            "mode" => {
                                let mode = self.unsigned_number(value, &q)?;
                                reference.mode = Some(u32::try_from(mode).map_err(|_| {
                                    self.error(value.position, &q, format!("file mode {mode} is out of range"))
                                })?);
                            }
                            other => unreachable!("file reference key {other}"),
                        }
                    }
                    reference
                }
                _ => {
                    return Err(self.error(
                        item_node.position,
                        &p,
                        format!("expected a string or a mapping, found {}", item_node.value.describe()),
                    ))
                }
            };
            if reference.source.is_empty() {
                return Err(self.error(item_node.position, &p, "a source is required"));
            }
            self.references.push(Reference {
                kind,
                name: reference.source.clone(),
                service: service.to_owned(),
                file: self.file.to_owned(),
                position: item_node.position,
                path: p,
                required: true,
            });
            out.push(reference);
        }
        Ok(out)
    }

    fn credential_spec(&mut self, node: &Node, path: &str) -> Result<CredentialSpec, ComposeError> {
        let mut spec = CredentialSpec::default();
        for entry in self.mapping(node, path)? {
            if !self.check_key(entry, path, &keys::CREDENTIAL_SPEC)? {
                continue;
            }
            let p = join(path, &entry.key);
            let text = self.string(&entry.value, &p)?;
            match entry.key.as_str() {
                "config" => spec.config = text,
                "file" => spec.file = text,
                "registry" => spec.registry = text,
                other => unreachable!("credential_spec key {other}"),
            }
        }
        Ok(spec)
    }

    /// `depends_on`: Docker's list of service names, or (beyond Docker's v3 files) the long form with a
    /// `condition` per dependency.
    fn depends_on(&mut self, service: &str, node: &Node, path: &str) -> Result<Vec<Dependency>, ComposeError> {
        let mut out = Vec::new();
        let mut push = |decoder: &mut Self, dependency: Dependency, position, p: String| {
            decoder.references.push(Reference {
                kind: ReferenceKind::Service,
                name: dependency.service.clone(),
                service: service.to_owned(),
                file: decoder.file.to_owned(),
                position,
                path: p,
                required: dependency.required,
            });
            out.push(dependency);
        };
        match &node.value {
            Value::Seq(items) => {
                let names = self.string_list(node, path)?;
                for (index, (name, item_node)) in names.iter().zip(items).enumerate() {
                    push(self, Dependency::started(name), item_node.position, item(path, index));
                }
            }
            Value::Map(entries) => {
                for entry in entries {
                    let p = join(path, &entry.key);
                    let mut dependency = Dependency::started(&entry.key);
                    for field in self.mapping_or_null(&entry.value, &p)? {
                        if !self.check_key(field, &p, &keys::DEPENDENCY)? {
                            continue;
                        }
                        let q = join(&p, &field.key);
                        match field.key.as_str() {
                            "condition" => {
                                dependency.condition = self.enumeration(&field.value, &q, &DependencyCondition::ALL)?
                            }
                            "required" => dependency.required = self.boolean(&field.value, &q)?,
                            "restart" => dependency.restart = self.boolean(&field.value, &q)?,
                            other => unreachable!("dependency key {other}"),
                        }
                    }
                    push(self, dependency, entry.key_position, p);
                }
            }
            _ => {
                return Err(self.error(
                    node.position,
                    path,
                    format!("expected a list of services or a mapping of services, found {}", node.value.describe()),
                ))
            }
        }
        Ok(out)
    }

    /// `extra_hosts` as Docker's `host:ip` list (`=` accepted in the list form, brackets around IPv6 dropped).
    fn hosts_list(&self, node: &Node, path: &str) -> Result<Vec<String>, ComposeError> {
        let pairs: Vec<(String, String)> = match &node.value {
            Value::Map(_) => {
                let mut pairs: Vec<(String, String)> = self
                    .list_or_dict(node, path)?
                    .into_iter()
                    .filter_map(|(host, ip)| ip.map(|ip| (host, ip)))
                    .collect();
                pairs.sort_by(|a, b| format!("{}:{}", a.0, a.1).cmp(&format!("{}:{}", b.0, b.1)));
                pairs
            }
            _ => {
                let items = self.sequence(node, path)?;
                let mut pairs = Vec::new();
                for (index, item_node) in items.iter().enumerate() {
                    let text = self.string(item_node, &item(path, index))?;
                    match text.split_once('=').or_else(|| text.split_once(':')) {
                        Some((host, ip)) => pairs.push((host.to_owned(), ip.to_owned())),
                        None => {
                            let message = format!("invalid extra host {text:?}: expected host:ip");
                            return Err(self.error(item_node.position, &item(path, index), message));
                        }
                    }
                }
                self.unique(items, path)?;
                pairs
            }
        };
        let mut out = Vec::with_capacity(pairs.len());
        for (host, ip) in pairs {
            // Docker lets anything through; a host with `=`, `:` or blanks, an address with `=` or blanks, or a
            // missing address, is a typo that would not even read back from `stack config`'s `host:ip` output
            // (the list form splits at the first `=`).
            if host.is_empty() || ip.is_empty() || host.contains(['=', ':', ' ', '\t']) || ip.contains(['=', ' ', '\t'])
            {
                let message = format!("invalid extra host {host:?} with address {ip:?}: expected host:ip");
                return Err(self.error(node.position, path, message));
            }
            let ip = if ip.len() > 2 && ip.starts_with('[') && ip.ends_with(']') { &ip[1..ip.len() - 1] } else { &ip };
            out.push(format!("{host}:{ip}"));
        }
        Ok(out)
    }

    fn healthcheck(&mut self, node: &Node, path: &str) -> Result<HealthCheck, ComposeError> {
        let mut check = HealthCheck::default();
        for entry in self.mapping(node, path)? {
            if !self.check_key(entry, path, &keys::HEALTHCHECK)? {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "disable" => check.disable = self.boolean(value, &p)?,
                "interval" => check.interval = Some(self.duration(value, &p)?),
                "retries" => check.retries = Some(self.unsigned_number(value, &p)?),
                "test" => {
                    check.test = match &value.value {
                        Value::String(command) => vec!["CMD-SHELL".to_owned(), command.clone()],
                        Value::Seq(items) => items
                            .iter()
                            .enumerate()
                            .map(|(index, item_node)| self.string(item_node, &item(&p, index)))
                            .collect::<Result<_, _>>()?,
                        _ => {
                            return Err(self.error(
                                value.position,
                                &p,
                                format!("expected a string or a list of strings, found {}", value.value.describe()),
                            ))
                        }
                    }
                }
                "timeout" => check.timeout = Some(self.duration(value, &p)?),
                "start_period" => check.start_period = Some(self.duration(value, &p)?),
                "start_interval" => check.start_interval = Some(self.duration(value, &p)?),
                other => unreachable!("healthcheck key {other}"),
            }
        }
        if check.disable && !check.test.is_empty() && check.test != ["NONE"] {
            return Err(self.error(node.position, path, "test and disable can't be set at the same time"));
        }
        Ok(check)
    }

    fn logging(&mut self, node: &Node, path: &str) -> Result<Logging, ComposeError> {
        let mut logging = Logging::default();
        for entry in self.mapping(node, path)? {
            if !self.check_key(entry, path, &keys::LOGGING)? {
                continue;
            }
            let p = join(path, &entry.key);
            match entry.key.as_str() {
                "driver" => logging.driver = self.string(&entry.value, &p)?,
                "options" => logging.options = self.scalar_mapping(&entry.value, &p, true)?,
                other => unreachable!("logging key {other}"),
            }
        }
        Ok(logging)
    }

    fn service_networks(
        &mut self,
        service: &str,
        node: &Node,
        path: &str,
    ) -> Result<BTreeMap<String, Option<ServiceNetwork>>, ComposeError> {
        let mut out = BTreeMap::new();
        let refer = |decoder: &mut Self, name: &str, position, p: String| {
            decoder.references.push(Reference {
                kind: ReferenceKind::Network,
                name: name.to_owned(),
                service: service.to_owned(),
                file: decoder.file.to_owned(),
                position,
                path: p,
                required: true,
            });
        };
        match &node.value {
            Value::Seq(items) => {
                let names = self.string_list(node, path)?;
                for (index, (name, item_node)) in names.into_iter().zip(items).enumerate() {
                    self.record(&item(path, index), item_node.position);
                    self.record(&join(path, &name), item_node.position);
                    refer(self, &name, item_node.position, item(path, index));
                    out.insert(name, None);
                }
            }
            Value::Map(entries) => {
                for entry in entries {
                    let p = join(path, &entry.key);
                    self.record(&p, entry.key_position);
                    refer(self, &entry.key, entry.key_position, p.clone());
                    let settings = match entry.value.value {
                        Value::Null => None,
                        _ => Some(self.service_network(&entry.value, &p)?),
                    };
                    out.insert(entry.key.clone(), settings);
                }
            }
            _ => {
                return Err(self.error(
                    node.position,
                    path,
                    format!("expected a list or a mapping of networks, found {}", node.value.describe()),
                ))
            }
        }
        Ok(out)
    }

    fn service_network(&mut self, node: &Node, path: &str) -> Result<ServiceNetwork, ComposeError> {
        let mut network = ServiceNetwork::default();
        for entry in self.mapping(node, path)? {
            if !self.check_key(entry, path, &keys::SERVICE_NETWORK)? {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "aliases" => network.aliases = self.string_list(value, &p)?,
                "driver_opts" => network.driver_opts = self.scalar_mapping(value, &p, false)?,
                "ipv4_address" => network.ipv4_address = self.string(value, &p)?,
                "ipv6_address" => network.ipv6_address = self.string(value, &p)?,
                other => unreachable!("service network key {other}"),
            }
        }
        Ok(network)
    }

    /// Adds `port`, from item `index`, unless an earlier item already gave the very same port: items that differ
    /// as written can repeat one once ranges are expanded ("3000-3001" and "3001"), and a stack must print as
    /// something that loads back (`stack config`), where the repeat would be a duplicate item. `first_item` maps
    /// each port so far to the item that gave it, so a whole-range item costs n log n, not n², and the file's ports
    /// once ranges are expanded stay within [`EXPANDED_PORTS_MAX`].
    fn push_distinct_port(
        &mut self,
        out: &mut Vec<PortConfig>,
        first_item: &mut BTreeMap<PortConfig, usize>,
        port: PortConfig,
        items: &[Node],
        path: &str,
        index: usize,
    ) -> Result<(), ComposeError> {
        if let Some(first) = first_item.get(&port) {
            let protocol = PortProtocol::ALL
                .iter()
                .find(|(_, candidate)| Some(*candidate) == port.protocol)
                .map(|(name, _)| *name)
                .unwrap_or("tcp");
            let published = if port.published == 0 { String::new() } else { format!("{}:", port.published) };
            return Err(self.error(
                items[index].position,
                &item(path, index),
                format!(
                    "port {published}{}/{protocol} is listed twice once ranges are expanded (also by {})",
                    port.target,
                    item(path, *first)
                ),
            ));
        }
        self.expanded_ports += 1;
        if self.expanded_ports > EXPANDED_PORTS_MAX {
            return Err(self.error(
                items[index].position,
                &item(path, index),
                format!("the file's port ranges expand to more than {EXPANDED_PORTS_MAX} ports (EXPANDED_PORTS_MAX)"),
            ));
        }
        first_item.insert(port.clone(), index);
        out.push(port);
        Ok(())
    }

    fn ports(&mut self, node: &Node, path: &str) -> Result<Vec<PortConfig>, ComposeError> {
        let items = self.sequence(node, path)?;
        self.unique(items, path)?;
        let mut out: Vec<PortConfig> = Vec::new();
        let mut first_item: BTreeMap<PortConfig, usize> = BTreeMap::new();
        for (index, item_node) in items.iter().enumerate() {
            let p = item(path, index);
            self.record(&p, item_node.position);
            match &item_node.value {
                Value::String(_) | Value::Int(_) => {
                    let spec = super::yaml::go_sprint(&item_node.value).unwrap_or_default();
                    let (ports, ignored_ip) = parse_port_spec(&spec)
                        .map_err(|why| self.error(item_node.position, &p, format!("invalid port {spec:?}: {why}")))?;
                    if let Some(spec) = ignored_ip {
                        self.warnings.push(Warning::PortHostIpIgnored { spec });
                    }
                    for port in ports {
                        self.push_distinct_port(&mut out, &mut first_item, port, items, path, index)?;
                    }
                }
                Value::Map(entries) => {
                    let mut port = PortConfig::default();
                    for entry in entries {
                        if !self.check_key(entry, &p, &keys::PORT)? {
                            continue;
                        }
                        let q = join(&p, &entry.key);
                        let value = &entry.value;
                        match entry.key.as_str() {
                            "mode" => port.mode = Some(self.enumeration(value, &q, &PortMode::ALL)?),
                            "target" => port.target = self.port_number(value, &q)?,
                            "published" => port.published = self.port_number(value, &q)?,
                            "protocol" => port.protocol = Some(self.enumeration(value, &q, &PortProtocol::ALL)?),
                            other => unreachable!("port key {other}"),
                        }
                    }
                    if port.target == 0 {
                        return Err(self.error(item_node.position, &p, "a target port is required"));
                    }
                    self.push_distinct_port(&mut out, &mut first_item, port, items, path, index)?;
                }
                _ => {
                    let what = if self.minor >= 2 {
                        "a port number, a port string or a mapping"
                    } else {
                        "a port number or a port string"
                    };
                    return Err(self.error(
                        item_node.position,
                        &p,
                        format!("expected {what}, found {}", item_node.value.describe()),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn port_number(&self, node: &Node, path: &str) -> Result<u32, ComposeError> {
        let port = self.integer(node, path)?;
        if !(0..=65535).contains(&port) {
            return Err(self.error(node.position, path, format!("port {port} is out of range 0-65535")));
        }
        Ok(port as u32)
    }

    fn ulimits(&mut self, node: &Node, path: &str) -> Result<BTreeMap<String, Ulimit>, ComposeError> {
        let mut out = BTreeMap::new();
        for entry in self.mapping(node, path)? {
            let p = join(path, &entry.key);
            let value = &entry.value;
            let limit = match &value.value {
                Value::Map(fields) => {
                    let (mut soft, mut hard) = (None, None);
                    for field in fields {
                        let q = join(&p, &field.key);
                        match field.key.as_str() {
                            "soft" => soft = Some(self.integer(&field.value, &q)?),
                            "hard" => hard = Some(self.integer(&field.value, &q)?),
                            other => {
                                let hint = keys::did_you_mean(other, ["soft", "hard"])
                                    .map(|close| format!(" (did you mean {close:?}?)"))
                                    .unwrap_or_default();
                                return Err(self.error(field.key_position, &q, format!("unknown key {other:?}{hint}")));
                            }
                        }
                    }
                    match (soft, hard) {
                        (Some(soft), Some(hard)) => Ulimit::SoftHard { soft, hard },
                        _ => return Err(self.error(value.position, &p, "both soft and hard are required")),
                    }
                }
                _ => Ulimit::Single(self.integer(value, &p)?),
            };
            out.insert(entry.key.clone(), limit);
        }
        Ok(out)
    }

    fn service_volumes(&mut self, service: &str, node: &Node, path: &str) -> Result<Vec<ServiceVolume>, ComposeError> {
        let items = self.sequence(node, path)?;
        self.unique(items, path)?;
        let mut out = Vec::with_capacity(items.len());
        for (index, item_node) in items.iter().enumerate() {
            let p = item(path, index);
            self.record(&p, item_node.position);
            let mut volume = match &item_node.value {
                Value::String(spec) => {
                    parse_volume_spec(spec).map_err(|why| self.error(item_node.position, &p, why))?
                }
                Value::Map(entries) => self.long_volume(entries, item_node, &p)?,
                _ => {
                    let what = "a string or a mapping";
                    return Err(self.error(
                        item_node.position,
                        &p,
                        format!("expected {what}, found {}", item_node.value.describe()),
                    ));
                }
            };
            if volume.kind == VolumeType::Bind {
                if volume.source.is_empty() {
                    return Err(self.error(
                        item_node.position,
                        &p,
                        "invalid mount config for type \"bind\": field Source must not be empty",
                    ));
                }
                volume.source = self.bind_source(&volume.source);
            }
            if volume.kind == VolumeType::Volume && !volume.source.is_empty() {
                self.references.push(Reference {
                    kind: ReferenceKind::Volume,
                    name: volume.source.clone(),
                    service: service.to_owned(),
                    file: self.file.to_owned(),
                    position: item_node.position,
                    path: p.clone(),
                    required: true,
                });
            }
            if volume.target.is_empty() {
                return Err(self.error(item_node.position, &p, "a target is required"));
            }
            out.push(volume);
        }
        Ok(out)
    }

    fn long_volume(&mut self, entries: &[Entry], node: &Node, path: &str) -> Result<ServiceVolume, ComposeError> {
        let Some(kind_entry) = entries.iter().find(|entry| entry.key == "type") else {
            return Err(self.error(node.position, path, "a type is required (volume, bind, tmpfs, npipe or cluster)"));
        };
        let kind = self.enumeration(&kind_entry.value, &join(path, "type"), &VolumeType::ALL)?;
        let mut volume = ServiceVolume {
            kind,
            source: String::new(),
            target: String::new(),
            read_only: false,
            consistency: String::new(),
            bind_propagation: None,
            volume_nocopy: None,
            tmpfs_size: None,
        };
        for entry in entries {
            if !self.check_key(entry, path, &keys::SERVICE_VOLUME)? {
                continue;
            }
            let p = join(path, &entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "type" => {}
                "source" => volume.source = self.string(value, &p)?,
                "target" => volume.target = self.string(value, &p)?,
                "read_only" => volume.read_only = self.boolean(value, &p)?,
                "consistency" => volume.consistency = self.string(value, &p)?,
                "bind" => {
                    for field in self.mapping(value, &p)? {
                        if self.check_key(field, &p, &keys::VOLUME_BIND)? {
                            let q = join(&p, &field.key);
                            let propagation =
                                self.enumeration(&field.value, &q, &PROPAGATIONS.map(|name| (name, name)))?;
                            volume.bind_propagation = Some(propagation.to_owned());
                        }
                    }
                    volume.bind_propagation.get_or_insert_with(String::new);
                }
                "volume" => {
                    let mut nocopy = false;
                    for field in self.mapping(value, &p)? {
                        if self.check_key(field, &p, &keys::VOLUME_VOLUME)? {
                            nocopy = self.boolean(&field.value, &join(&p, &field.key))?;
                        }
                    }
                    volume.volume_nocopy = Some(nocopy);
                }
                "tmpfs" => {
                    let mut size = 0;
                    for field in self.mapping(value, &p)? {
                        if self.check_key(field, &p, &keys::VOLUME_TMPFS)? {
                            let q = join(&p, &field.key);
                            size = self.integer(&field.value, &q)?;
                            if size < 0 {
                                return Err(self.error(field.value.position, &q, "expected a size of 0 or more bytes"));
                            }
                        }
                    }
                    volume.tmpfs_size = Some(size);
                }
                other => unreachable!("volume key {other}"),
            }
        }
        Ok(volume)
    }

    /// A bind source as Docker resolves it: `~` from `HOME`, relative paths against the first file's directory.
    fn bind_source(&mut self, source: &str) -> String {
        let mut path = source.to_owned();
        if path.starts_with('~') {
            match self.environment.get("HOME") {
                Some(home) => path = path.replacen('~', home, 1),
                None => self.warnings.push(Warning::HomeUnset { source: source.to_owned() }),
            }
        }
        if path.starts_with('/') || is_windows_absolute(&path) {
            path
        } else {
            self.absolute(&path)
        }
    }

    /// The service's environment: its env files' variables, then `environment:` over them; a variable without a
    /// value (or with an empty one) takes the environment's value when there is one.
    fn environment(
        &mut self,
        entries: &[Entry],
        env_files: &[String],
        path: &str,
    ) -> Result<BTreeMap<String, Option<String>>, ComposeError> {
        let mut out = BTreeMap::new();
        let environment = self.environment;
        let lookup = |key: &str| environment.get(key).cloned();
        let mut update = |vars: Vec<(String, Option<String>)>| {
            for (key, value) in vars {
                let empty = value.as_deref().is_none_or(str::is_empty);
                let resolved = match lookup(&key) {
                    Some(from_environment) if empty => Some(from_environment),
                    _ => value,
                };
                out.insert(key, resolved);
            }
        };
        if let Some(entry) = entries.iter().find(|entry| entry.key == "env_file") {
            let mut vars = Vec::new();
            for name in env_files {
                let file_path = if name.starts_with('/') { name.clone() } else { self.absolute(name) };
                let text = self.files.read(&file_path).map_err(|why| {
                    self.error(
                        entry.value.position,
                        &join(path, "env_file"),
                        format!("cannot read env file {file_path}: {why}"),
                    )
                })?;
                let parsed = parse_env_file(&text, &lookup).map_err(|problem| {
                    ComposeError::new(&file_path, super::error::Position::new(problem.line, 1), "", problem.message)
                })?;
                vars.extend(parsed.into_iter().map(|(k, v)| (k, Some(v))));
            }
            update(vars);
        }
        if let Some(entry) = entries.iter().find(|entry| entry.key == "environment") {
            update(self.list_or_dict(&entry.value, &join(path, "environment"))?);
        }
        Ok(out)
    }
}
