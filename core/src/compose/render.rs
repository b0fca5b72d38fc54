//! `stack config` output: the merged model printed as YAML with Docker's field order, Docker's omission of
//! empty fields, and Docker's value forms (durations as `1m30s`, memory as a quoted byte count, the long form of
//! ports and mounts), so it reads as `docker stack config` does. Strings that YAML would read as something else
//! (`"1"`, `"yes"`, `"null"`, `": x"`) are double-quoted. Output is deterministic: maps are ordered.

use std::fmt::Write;

use super::model::*;
use super::scalar::{go_format_float, go_format_float32};

/// A YAML value in output order.
#[derive(Clone, Debug, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A float32 field (`max_failure_ratio`), printed with float32's shortest digits.
    Float32(f32),
    Str(String),
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

/// Builds a mapping, leaving out empty fields as Docker's `omitempty` does.
#[derive(Default)]
struct Fields(Vec<(String, Yaml)>);

impl Fields {
    fn put(&mut self, key: &str, value: Yaml) {
        self.0.push((key.to_owned(), value));
    }
    fn string(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.put(key, Yaml::Str(value.to_owned()));
        }
    }
    fn strings(&mut self, key: &str, values: &[String]) {
        if !values.is_empty() {
            self.put(key, Yaml::Seq(values.iter().map(|v| Yaml::Str(v.clone())).collect()));
        }
    }
    fn string_map(&mut self, key: &str, map: &std::collections::BTreeMap<String, String>) {
        if !map.is_empty() {
            self.put(key, Yaml::Map(map.iter().map(|(k, v)| (k.clone(), Yaml::Str(v.clone()))).collect()));
        }
    }
    fn optional_map(&mut self, key: &str, map: &std::collections::BTreeMap<String, Option<String>>) {
        if !map.is_empty() {
            let entries =
                map.iter().map(|(k, v)| (k.clone(), v.as_ref().map_or(Yaml::Null, |v| Yaml::Str(v.clone())))).collect();
            self.put(key, Yaml::Map(entries));
        }
    }
    fn boolean(&mut self, key: &str, value: bool) {
        if value {
            self.put(key, Yaml::Bool(true));
        }
    }
    fn int(&mut self, key: &str, value: i64) {
        if value != 0 {
            self.put(key, Yaml::Int(value));
        }
    }
    fn duration(&mut self, key: &str, value: Option<super::duration::Duration>) {
        if let Some(value) = value {
            self.put(key, Yaml::Str(value.to_string()));
        }
    }
    fn nonzero_duration(&mut self, key: &str, value: super::duration::Duration) {
        if !value.is_zero() {
            self.put(key, Yaml::Str(value.to_string()));
        }
    }
    fn nested(&mut self, key: &str, value: Fields, keep_empty: bool) {
        if keep_empty || !value.0.is_empty() {
            self.put(key, Yaml::Map(value.0));
        }
    }
    fn extensions(&mut self, extensions: &Extensions) {
        for (key, value) in extensions {
            self.put(key, extension(value));
        }
    }
    fn done(self) -> Yaml {
        Yaml::Map(self.0)
    }
}

fn extension(value: &ExtensionValue) -> Yaml {
    match value {
        ExtensionValue::Null => Yaml::Null,
        ExtensionValue::Bool(b) => Yaml::Bool(*b),
        ExtensionValue::Int(i) => Yaml::Int(*i),
        ExtensionValue::Float(f) => Yaml::Float(*f),
        ExtensionValue::String(s) => Yaml::Str(s.clone()),
        ExtensionValue::Seq(items) => Yaml::Seq(items.iter().map(extension).collect()),
        ExtensionValue::Map(map) => Yaml::Map(map.iter().map(|(k, v)| (k.clone(), extension(v))).collect()),
    }
}

/// The whole stack as Docker's `stack config` lays it out.
pub fn config_yaml(config: &ComposeConfig) -> Yaml {
    let mut top = Fields::default();
    top.put("version", Yaml::Str(config.version.clone()));
    top.put("services", Yaml::Map(config.services.iter().map(|(name, s)| (name.clone(), service(s))).collect()));
    if !config.networks.is_empty() {
        top.put("networks", Yaml::Map(config.networks.iter().map(|(n, v)| (n.clone(), network(v))).collect()));
    }
    if !config.volumes.is_empty() {
        top.put("volumes", Yaml::Map(config.volumes.iter().map(|(n, v)| (n.clone(), volume(v))).collect()));
    }
    if !config.secrets.is_empty() {
        top.put("secrets", Yaml::Map(config.secrets.iter().map(|(n, v)| (n.clone(), file_object(v))).collect()));
    }
    if !config.configs.is_empty() {
        top.put("configs", Yaml::Map(config.configs.iter().map(|(n, v)| (n.clone(), file_object(v))).collect()));
    }
    top.extensions(&config.extensions);
    top.done()
}

fn service(s: &ServiceConfig) -> Yaml {
    let mut f = Fields::default();
    if let Some(build) = &s.build {
        let mut b = Fields::default();
        b.string("context", &build.context);
        b.string("dockerfile", &build.dockerfile);
        b.optional_map("args", &build.args);
        b.string_map("labels", &build.labels);
        b.strings("cache_from", &build.cache_from);
        b.strings("extra_hosts", &build.extra_hosts);
        b.string("network", &build.network);
        b.string("target", &build.target);
        f.nested("build", b, false);
    }
    f.strings("cap_add", &s.cap_add);
    f.strings("cap_drop", &s.cap_drop);
    f.string("cgroupns_mode", &s.cgroupns_mode);
    f.string("cgroup_parent", &s.cgroup_parent);
    f.strings("command", &s.command);
    if !s.configs.is_empty() {
        f.put("configs", Yaml::Seq(s.configs.iter().map(file_reference).collect()));
    }
    f.string("container_name", &s.container_name);
    let mut credential = Fields::default();
    credential.string("config", &s.credential_spec.config);
    credential.string("file", &s.credential_spec.file);
    credential.string("registry", &s.credential_spec.registry);
    f.nested("credential_spec", credential, false);
    if !s.depends_on.is_empty() {
        let value = if s.depends_on.iter().all(Dependency::is_short_form) {
            Yaml::Seq(s.depends_on.iter().map(|d| Yaml::Str(d.service.clone())).collect())
        } else {
            Yaml::Map(
                s.depends_on
                    .iter()
                    .map(|d| {
                        let mut e = Fields::default();
                        e.put("condition", Yaml::Str(d.condition.as_str().to_owned()));
                        if !d.required {
                            e.put("required", Yaml::Bool(false));
                        }
                        e.boolean("restart", d.restart);
                        (d.service.clone(), e.done())
                    })
                    .collect(),
            )
        };
        f.put("depends_on", value);
    }
    f.nested("deploy", deploy(&s.deploy), false);
    f.strings("devices", &s.devices);
    f.strings("dns", &s.dns);
    f.strings("dns_search", &s.dns_search);
    f.string("domainname", &s.domainname);
    f.strings("entrypoint", &s.entrypoint);
    f.optional_map("environment", &s.environment);
    f.strings("env_file", &s.env_file);
    f.strings("expose", &s.expose);
    f.strings("external_links", &s.external_links);
    f.strings("extra_hosts", &s.extra_hosts);
    f.string("hostname", &s.hostname);
    if let Some(check) = &s.healthcheck {
        let mut h = Fields::default();
        h.strings("test", &check.test);
        h.duration("timeout", check.timeout);
        h.duration("interval", check.interval);
        if let Some(retries) = check.retries {
            h.put("retries", Yaml::Int(retries as i64));
        }
        h.duration("start_period", check.start_period);
        h.duration("start_interval", check.start_interval);
        h.boolean("disable", check.disable);
        f.nested("healthcheck", h, true);
    }
    f.string("image", &s.image);
    if let Some(init) = s.init {
        f.put("init", Yaml::Bool(init));
    }
    f.string("ipc", &s.ipc);
    f.string("isolation", &s.isolation);
    f.string_map("labels", &s.labels);
    f.strings("links", &s.links);
    if let Some(logging) = &s.logging {
        let mut l = Fields::default();
        l.string("driver", &logging.driver);
        l.string_map("options", &logging.options);
        f.nested("logging", l, true);
    }
    f.string("mac_address", &s.mac_address);
    f.string("network_mode", &s.network_mode);
    if !s.networks.is_empty() {
        let entries = s
            .networks
            .iter()
            .map(|(name, settings)| {
                let value = match settings {
                    None => Yaml::Null,
                    Some(n) => {
                        let mut e = Fields::default();
                        e.strings("aliases", &n.aliases);
                        e.string_map("driver_opts", &n.driver_opts);
                        e.string("ipv4_address", &n.ipv4_address);
                        e.string("ipv6_address", &n.ipv6_address);
                        e.done()
                    }
                };
                (name.clone(), value)
            })
            .collect();
        f.put("networks", Yaml::Map(entries));
    }
    f.string("pid", &s.pid);
    if !s.ports.is_empty() {
        f.put("ports", Yaml::Seq(s.ports.iter().map(port).collect()));
    }
    f.boolean("privileged", s.privileged);
    f.boolean("read_only", s.read_only);
    f.string("restart", &s.restart);
    if !s.secrets.is_empty() {
        f.put("secrets", Yaml::Seq(s.secrets.iter().map(file_reference).collect()));
    }
    f.strings("security_opt", &s.security_opt);
    f.string("shm_size", &s.shm_size);
    f.boolean("stdin_open", s.stdin_open);
    f.duration("stop_grace_period", s.stop_grace_period);
    f.string("stop_signal", &s.stop_signal);
    f.string_map("sysctls", &s.sysctls);
    f.strings("tmpfs", &s.tmpfs);
    f.boolean("tty", s.tty);
    if !s.ulimits.is_empty() {
        let entries = s
            .ulimits
            .iter()
            .map(|(name, limit)| {
                let value = match *limit {
                    // Docker prints a zero single limit as `{}`, which no loader reads back; we print the 0.
                    Ulimit::Single(value) => Yaml::Int(value),
                    Ulimit::SoftHard { soft, hard } => {
                        let mut e = Fields::default();
                        e.int("soft", soft);
                        e.int("hard", hard);
                        e.done()
                    }
                };
                (name.clone(), value)
            })
            .collect();
        f.put("ulimits", Yaml::Map(entries));
    }
    f.string("user", &s.user);
    f.int("oom_score_adj", s.oom_score_adj);
    f.string("userns_mode", &s.userns_mode);
    if !s.volumes.is_empty() {
        f.put("volumes", Yaml::Seq(s.volumes.iter().map(service_volume).collect()));
    }
    f.string("working_dir", &s.working_dir);
    f.extensions(&s.extensions);
    f.done()
}

fn deploy(d: &DeployConfig) -> Fields {
    let mut f = Fields::default();
    if let Some(mode) = d.mode {
        f.put("mode", Yaml::Str(enum_name(&DeployMode::ALL, mode).to_owned()));
    }
    if let Some(replicas) = d.replicas {
        f.put("replicas", Yaml::Int(replicas as i64));
    }
    f.string_map("labels", &d.labels);
    for (key, config) in [("update_config", &d.update_config), ("rollback_config", &d.rollback_config)] {
        if let Some(c) = config {
            let mut u = Fields::default();
            if let Some(parallelism) = c.parallelism {
                u.put("parallelism", Yaml::Int(parallelism as i64));
            }
            u.nonzero_duration("delay", c.delay);
            if let Some(action) = c.failure_action {
                u.put("failure_action", Yaml::Str(enum_name(&FailureAction::ALL, action).to_owned()));
            }
            u.nonzero_duration("monitor", c.monitor);
            if c.max_failure_ratio != 0.0 {
                u.put("max_failure_ratio", Yaml::Float32(c.max_failure_ratio));
            }
            if let Some(order) = c.order {
                u.put("order", Yaml::Str(enum_name(&UpdateOrder::ALL, order).to_owned()));
            }
            f.nested(key, u, true);
        }
    }
    let mut resources = Fields::default();
    if let Some(limits) = &d.resources.limits {
        let mut l = Fields::default();
        l.string("cpus", &limits.cpus);
        if limits.memory_bytes != 0 {
            l.put("memory", Yaml::Str(limits.memory_bytes.to_string()));
        }
        l.int("pids", limits.pids);
        resources.nested("limits", l, true);
    }
    if let Some(reservations) = &d.resources.reservations {
        let mut r = Fields::default();
        r.string("cpus", &reservations.cpus);
        if reservations.memory_bytes != 0 {
            r.put("memory", Yaml::Str(reservations.memory_bytes.to_string()));
        }
        if !reservations.generic_resources.is_empty() {
            let items = reservations
                .generic_resources
                .iter()
                .map(|g| {
                    let spec = Yaml::Map(vec![
                        ("kind".to_owned(), Yaml::Str(g.kind.clone())),
                        ("value".to_owned(), Yaml::Int(g.value)),
                    ]);
                    Yaml::Map(vec![("discrete_resource_spec".to_owned(), spec)])
                })
                .collect();
            r.put("generic_resources", Yaml::Seq(items));
        }
        resources.nested("reservations", r, true);
    }
    f.nested("resources", resources, false);
    if let Some(policy) = &d.restart_policy {
        let mut r = Fields::default();
        if let Some(condition) = policy.condition {
            r.put("condition", Yaml::Str(enum_name(&RestartCondition::ALL, condition).to_owned()));
        }
        r.duration("delay", policy.delay);
        if let Some(attempts) = policy.max_attempts {
            r.put("max_attempts", Yaml::Int(attempts as i64));
        }
        r.duration("window", policy.window);
        f.nested("restart_policy", r, true);
    }
    let mut placement = Fields::default();
    placement.strings("constraints", &d.placement.constraints);
    if !d.placement.preferences.is_empty() {
        let items = d
            .placement
            .preferences
            .iter()
            .map(|spread| Yaml::Map(vec![("spread".to_owned(), Yaml::Str(spread.clone()))]))
            .collect();
        placement.put("preferences", Yaml::Seq(items));
    }
    placement.int("max_replicas_per_node", d.placement.max_replicas_per_node as i64);
    f.nested("placement", placement, false);
    if let Some(mode) = d.endpoint_mode {
        f.put("endpoint_mode", Yaml::Str(enum_name(&EndpointMode::ALL, mode).to_owned()));
    }
    f
}

fn port(p: &PortConfig) -> Yaml {
    let mut f = Fields::default();
    if let Some(mode) = p.mode {
        f.put("mode", Yaml::Str(enum_name(&PortMode::ALL, mode).to_owned()));
    }
    f.int("target", i64::from(p.target));
    f.int("published", i64::from(p.published));
    if let Some(protocol) = p.protocol {
        f.put("protocol", Yaml::Str(enum_name(&PortProtocol::ALL, protocol).to_owned()));
    }
    f.done()
}

fn service_volume(v: &ServiceVolume) -> Yaml {
    let mut f = Fields::default();
    f.put("type", Yaml::Str(enum_name(&VolumeType::ALL, v.kind).to_owned()));
    f.string("source", &v.source);
    f.string("target", &v.target);
    f.boolean("read_only", v.read_only);
    f.string("consistency", &v.consistency);
    if let Some(propagation) = &v.bind_propagation {
        let mut b = Fields::default();
        b.string("propagation", propagation);
        f.nested("bind", b, true);
    }
    if let Some(nocopy) = v.volume_nocopy {
        let mut b = Fields::default();
        b.boolean("nocopy", nocopy);
        f.nested("volume", b, true);
    }
    if let Some(size) = v.tmpfs_size {
        let mut b = Fields::default();
        b.int("size", size);
        f.nested("tmpfs", b, true);
    }
    f.done()
}

fn file_reference(r: &FileReference) -> Yaml {
    let mut f = Fields::default();
    f.string("source", &r.source);
    f.string("target", &r.target);
    f.string("uid", &r.uid);
    f.string("gid", &r.gid);
    if let Some(mode) = r.mode {
        f.put("mode", Yaml::Int(i64::from(mode)));
    }
    f.done()
}

fn network(n: &NetworkConfig) -> Yaml {
    let mut f = Fields::default();
    f.string("name", &n.name);
    f.string("driver", &n.driver);
    f.string_map("driver_opts", &n.driver_opts);
    let mut ipam = Fields::default();
    ipam.string("driver", &n.ipam.driver);
    if !n.ipam.subnets.is_empty() {
        let pools = n
            .ipam
            .subnets
            .iter()
            .map(|subnet| {
                let mut p = Fields::default();
                p.string("subnet", subnet);
                p.done()
            })
            .collect();
        ipam.put("config", Yaml::Seq(pools));
    }
    f.nested("ipam", ipam, false);
    f.boolean("external", n.external.0);
    f.boolean("internal", n.internal);
    f.boolean("attachable", n.attachable);
    f.string_map("labels", &n.labels);
    f.extensions(&n.extensions);
    f.done()
}

fn volume(v: &VolumeConfig) -> Yaml {
    let mut f = Fields::default();
    f.string("name", &v.name);
    f.string("driver", &v.driver);
    f.string_map("driver_opts", &v.driver_opts);
    f.boolean("external", v.external.0);
    f.string_map("labels", &v.labels);
    f.extensions(&v.extensions);
    f.done()
}

fn file_object(o: &FileObjectConfig) -> Yaml {
    let mut f = Fields::default();
    f.string("name", &o.name);
    f.string("file", &o.file);
    f.boolean("external", o.external.0);
    f.string_map("labels", &o.labels);
    f.extensions(&o.extensions);
    f.string("driver", &o.driver);
    f.string_map("driver_opts", &o.driver_opts);
    f.string("template_driver", &o.template_driver);
    f.done()
}

/// Whether a string must be quoted to read back as the same string.
fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return true };
    if !(first.is_alphanumeric() || matches!(first, '/' | '.' | '_' | '$' | '(' | '<' | '=' | '^' | '+' | ';' | '~')) {
        return true;
    }
    if (first == '~' && s.len() == 1) || s.starts_with("<<") || s == "=" {
        return true;
    }
    if s.ends_with([' ', ':', '\t']) || s.starts_with(' ') {
        return true;
    }
    if s.chars().any(|c| c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}')
        || s.contains(": ")
        || s.contains(" #")
    {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(lower.as_str(), "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~")
        || matches!(lower.as_str(), ".inf" | "-.inf" | "+.inf" | ".nan")
    {
        return true;
    }
    // Anything that starts like a number (ints, floats, hex, octal, dates, times, sexagesimals) is quoted.
    let numeric_start = first.is_ascii_digit() || matches!(first, '+' | '.');
    numeric_start
        && s.chars().all(|c| {
            c.is_ascii_hexdigit()
                || matches!(c, '.' | '_' | ':' | '+' | '-' | 'x' | 'X' | 'o' | 'O' | 'T' | 't' | 'Z' | 'z' | ' ')
        })
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn scalar_text(value: &Yaml) -> Option<String> {
    Some(match value {
        Yaml::Null => "null".to_owned(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Int(i) => i.to_string(),
        Yaml::Float(f) if f.is_nan() => ".nan".to_owned(),
        Yaml::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.to_owned(),
        Yaml::Float(f) => go_format_float(*f),
        Yaml::Float32(f) => go_format_float32(*f),
        Yaml::Str(s) => {
            if needs_quotes(s) {
                quoted(s)
            } else {
                s.clone()
            }
        }
        Yaml::Seq(items) if items.is_empty() => "[]".to_owned(),
        Yaml::Map(entries) if entries.is_empty() => "{}".to_owned(),
        Yaml::Seq(_) | Yaml::Map(_) => return None,
    })
}

fn key_text(key: &str) -> String {
    if needs_quotes(key) {
        quoted(key)
    } else {
        key.to_owned()
    }
}

fn emit_map(entries: &[(String, Yaml)], indent: usize, first_line_done: bool, out: &mut String) {
    for (index, (key, value)) in entries.iter().enumerate() {
        if index > 0 || !first_line_done {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&key_text(key));
        out.push(':');
        match scalar_text(value) {
            Some(text) => {
                out.push(' ');
                out.push_str(&text);
                out.push('\n');
            }
            None => {
                out.push('\n');
                emit_block(value, indent + 2, out);
            }
        }
    }
}

fn emit_block(value: &Yaml, indent: usize, out: &mut String) {
    match value {
        Yaml::Map(entries) => emit_map(entries, indent, false, out),
        Yaml::Seq(items) => {
            for item in items {
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                match scalar_text(item) {
                    Some(text) => {
                        out.push_str(&text);
                        out.push('\n');
                    }
                    None => match item {
                        Yaml::Map(entries) => emit_map(entries, indent + 2, true, out),
                        nested => {
                            out.push('\n');
                            emit_block(nested, indent + 2, out);
                        }
                    },
                }
            }
        }
        scalar => {
            out.push_str(&" ".repeat(indent));
            out.push_str(&scalar_text(scalar).unwrap_or_default());
            out.push('\n');
        }
    }
}

/// YAML text of a value, with two-space indentation as Docker prints it.
pub fn to_yaml_text(value: &Yaml) -> String {
    let mut out = String::new();
    match value {
        Yaml::Map(entries) if !entries.is_empty() => emit_map(entries, 0, false, &mut out),
        other => {
            out.push_str(&scalar_text(other).unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

/// `stack config`'s output for a loaded stack.
pub fn config_text(config: &ComposeConfig) -> String {
    to_yaml_text(&config_yaml(config))
}
