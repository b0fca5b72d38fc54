//! Which keys each compose object accepts, from which file version on (Docker's JSON schemas 3.0 to 3.13), and
//! what becomes of the others: Docker's forbidden keys are errors with Docker's explanation, keys Swarm ignores
//! are kept with Docker's warning, Compose Specification keys that v3 files cannot hold get a clear error, and
//! anything else is an unknown key with a "did you mean" when a known key is close. The tables are the single
//! source of truth for key validation. One deliberate difference: the long syntax of ports and mounts, and `name`
//! on an external object, are read in every version, because `stack config` prints them for any file (as Docker's
//! does) and its output must load back.

/// A known key and the first `3.x` minor version whose schema has it.
pub type KeySpec = (&'static str, u8);

/// The keys of one kind of mapping.
pub struct ObjectSpec {
    pub keys: &'static [KeySpec],
    /// Since which minor version `x-` keys are allowed here; `None` where never.
    pub extensions_since: Option<u8>,
    /// Whether unknown keys are accepted (and ignored) as Docker's schema does for a few objects.
    pub open: bool,
    /// Whether an unknown key that is a Compose Specification key gets that explanation.
    pub compose_spec_hint: bool,
}

impl ObjectSpec {
    pub fn since(&self, key: &str) -> Option<u8> {
        self.keys.iter().find(|(name, _)| *name == key).map(|(_, since)| *since)
    }
}

const fn spec(keys: &'static [KeySpec], extensions_since: Option<u8>) -> ObjectSpec {
    ObjectSpec { keys, extensions_since, open: false, compose_spec_hint: false }
}

const fn open(keys: &'static [KeySpec]) -> ObjectSpec {
    ObjectSpec { keys, extensions_since: None, open: true, compose_spec_hint: false }
}

pub const TOP_LEVEL: ObjectSpec = ObjectSpec {
    keys: &[("version", 0), ("services", 0), ("networks", 0), ("volumes", 0), ("secrets", 1), ("configs", 3)],
    extensions_since: Some(4),
    open: false,
    compose_spec_hint: true,
};

pub const SERVICE: ObjectSpec = ObjectSpec {
    keys: &[
        ("build", 0),
        ("cap_add", 0),
        ("cap_drop", 0),
        ("cgroupns_mode", 9),
        ("cgroup_parent", 0),
        ("command", 0),
        ("configs", 3),
        ("container_name", 0),
        ("credential_spec", 3),
        ("depends_on", 0),
        ("deploy", 0),
        ("devices", 0),
        ("dns", 0),
        ("dns_search", 0),
        ("domainname", 0),
        ("entrypoint", 0),
        ("env_file", 0),
        ("environment", 0),
        ("expose", 0),
        ("external_links", 0),
        ("extra_hosts", 0),
        ("healthcheck", 0),
        ("hostname", 0),
        ("image", 0),
        ("init", 7),
        ("ipc", 0),
        ("isolation", 5),
        ("labels", 0),
        ("links", 0),
        ("logging", 0),
        ("mac_address", 0),
        ("network_mode", 0),
        ("networks", 0),
        ("oom_score_adj", 13),
        ("pid", 0),
        ("ports", 0),
        ("privileged", 0),
        ("read_only", 0),
        ("restart", 0),
        ("secrets", 1),
        ("security_opt", 0),
        ("shm_size", 0),
        ("stdin_open", 0),
        ("stop_grace_period", 0),
        ("stop_signal", 0),
        ("sysctls", 0),
        ("tmpfs", 0),
        ("tty", 0),
        ("ulimits", 0),
        ("user", 0),
        ("userns_mode", 0),
        ("volumes", 0),
        ("working_dir", 0),
    ],
    extensions_since: Some(7),
    open: false,
    compose_spec_hint: true,
};

/// `build:` allows any key (Docker's schema says so); the known ones are typed.
pub const BUILD: ObjectSpec = open(&[
    ("context", 0),
    ("dockerfile", 0),
    ("args", 0),
    ("labels", 3),
    ("cache_from", 2),
    ("network", 4),
    ("target", 4),
    ("shm_size", 5),
    ("extra_hosts", 9),
]);

pub const CREDENTIAL_SPEC: ObjectSpec = spec(&[("config", 8), ("file", 3), ("registry", 3)], None);

pub const DEPLOY: ObjectSpec = spec(
    &[
        ("mode", 0),
        ("endpoint_mode", 2),
        ("replicas", 0),
        ("labels", 0),
        ("rollback_config", 7),
        ("update_config", 0),
        ("resources", 0),
        ("restart_policy", 0),
        ("placement", 0),
    ],
    None,
);

pub const UPDATE_CONFIG: ObjectSpec = spec(
    &[("parallelism", 0), ("delay", 0), ("failure_action", 0), ("monitor", 0), ("max_failure_ratio", 0), ("order", 4)],
    None,
);

pub const RESOURCES: ObjectSpec = spec(&[("limits", 0), ("reservations", 0)], None);
pub const LIMITS: ObjectSpec = spec(&[("cpus", 0), ("memory", 0), ("pids", 9)], None);
pub const RESERVATIONS: ObjectSpec = spec(&[("cpus", 0), ("memory", 0), ("generic_resources", 5)], None);
pub const GENERIC_RESOURCE: ObjectSpec = spec(&[("discrete_resource_spec", 5)], None);
pub const DISCRETE_RESOURCE_SPEC: ObjectSpec = spec(&[("kind", 5), ("value", 5)], None);
pub const RESTART_POLICY: ObjectSpec =
    spec(&[("condition", 0), ("delay", 0), ("max_attempts", 0), ("window", 0)], None);
pub const PLACEMENT: ObjectSpec = spec(&[("constraints", 0), ("preferences", 3), ("max_replicas_per_node", 8)], None);
pub const PREFERENCE: ObjectSpec = spec(&[("spread", 3)], None);

pub const HEALTHCHECK: ObjectSpec = spec(
    &[
        ("disable", 0),
        ("interval", 0),
        ("retries", 0),
        ("test", 0),
        ("timeout", 0),
        ("start_period", 4),
        ("start_interval", 12),
    ],
    None,
);

pub const LOGGING: ObjectSpec = spec(&[("driver", 0), ("options", 0)], None);

pub const SERVICE_NETWORK: ObjectSpec =
    spec(&[("aliases", 0), ("driver_opts", 13), ("ipv4_address", 0), ("ipv6_address", 0)], None);

pub const PORT: ObjectSpec = spec(&[("mode", 0), ("target", 0), ("published", 0), ("protocol", 0)], None);

pub const SERVICE_VOLUME: ObjectSpec = spec(
    &[
        ("type", 0),
        ("source", 0),
        ("target", 0),
        ("read_only", 0),
        ("consistency", 0),
        ("bind", 0),
        ("volume", 0),
        ("tmpfs", 6),
    ],
    None,
);
pub const VOLUME_BIND: ObjectSpec = open(&[("propagation", 0)]);
pub const VOLUME_VOLUME: ObjectSpec = open(&[("nocopy", 0)]);
pub const VOLUME_TMPFS: ObjectSpec = open(&[("size", 6)]);

/// A service's `secrets:` or `configs:` entry (Docker's schema accepts other keys there).
pub const FILE_REFERENCE: ObjectSpec = open(&[("source", 0), ("target", 0), ("uid", 0), ("gid", 0), ("mode", 0)]);

/// Long-form `depends_on` entries (beyond Docker's v3 files, which only have the list form).
pub const DEPENDENCY: ObjectSpec = spec(&[("condition", 0), ("required", 0), ("restart", 0)], None);

pub const NETWORK: ObjectSpec = spec(
    &[
        ("name", 5),
        ("driver", 0),
        ("driver_opts", 0),
        ("ipam", 0),
        ("external", 0),
        ("internal", 0),
        ("attachable", 2),
        ("labels", 0),
    ],
    Some(7),
);
pub const IPAM: ObjectSpec = spec(&[("driver", 0), ("config", 0)], None);
pub const IPAM_POOL: ObjectSpec = spec(&[("subnet", 0)], None);
pub const EXTERNAL: ObjectSpec = spec(&[("name", 0)], None);
/// `external:` of secrets and configs accepts other keys.
pub const EXTERNAL_OPEN: ObjectSpec = open(&[("name", 0)]);

pub const VOLUME: ObjectSpec =
    spec(&[("name", 4), ("driver", 0), ("driver_opts", 0), ("external", 0), ("labels", 0)], Some(7));

pub const SECRET: ObjectSpec = spec(
    &[
        ("name", 5),
        ("file", 1),
        ("external", 1),
        ("labels", 1),
        ("driver", 8),
        ("driver_opts", 8),
        ("template_driver", 8),
    ],
    Some(7),
);

pub const CONFIG: ObjectSpec =
    spec(&[("name", 5), ("file", 3), ("external", 3), ("labels", 3), ("template_driver", 8)], Some(7));

/// Service keys Docker refuses outright, with its explanation.
pub const FORBIDDEN: &[(&str, &str)] = &[
    ("extends", "Support for `extends` is not implemented yet."),
    (
        "volume_driver",
        "Instead of setting the volume driver on the service, define a volume using the top-level `volumes` option \
         and specify the driver there.",
    ),
    (
        "volumes_from",
        "To share a volume between services, define it using the top-level `volumes` option and reference it from \
         each service that shares it using the service-level `volumes` option.",
    ),
    ("cpu_quota", "Set resource limits using deploy.resources"),
    ("cpu_shares", "Set resource limits using deploy.resources"),
    ("cpuset", "Set resource limits using deploy.resources"),
    ("mem_limit", "Set resource limits using deploy.resources"),
    ("memswap_limit", "Set resource limits using deploy.resources"),
];

/// Service keys Swarm does not honour: loaded, printed by `stack config`, warned about by `stack deploy`.
pub const UNSUPPORTED: &[&str] = &[
    "build",
    "cgroupns_mode",
    "cgroup_parent",
    "devices",
    "domainname",
    "external_links",
    "ipc",
    "links",
    "mac_address",
    "network_mode",
    "pid",
    "privileged",
    "restart",
    "security_opt",
    "shm_size",
    "userns_mode",
];

/// Service keys removed from the v3 format, with Docker's explanation.
pub const DEPRECATED: &[(&str, &str)] = &[
    ("container_name", "Setting the container name is not supported."),
    (
        "expose",
        "Exposing ports is unnecessary - services on the same network can access each other's containers on any \
         port.",
    ),
];

/// Keys of the Compose Specification (docker compose) that version 3 files cannot hold.
const COMPOSE_SPEC_ONLY: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpus",
    "develop",
    "device_cgroup_rules",
    "gpus",
    "group_add",
    "include",
    "label_file",
    "mem_reservation",
    "mem_swappiness",
    "models",
    "name",
    "platform",
    "post_start",
    "pre_stop",
    "profiles",
    "provider",
    "pull_policy",
    "runtime",
    "scale",
    "storage_opt",
    "use_api_socket",
    "uts",
];

pub fn is_compose_spec_only(key: &str) -> bool {
    COMPOSE_SPEC_ONLY.contains(&key)
}

/// Edit distance between two keys (insertions, deletions, substitutions, adjacent transpositions).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The known key closest to `key`, when close enough to be a likely typo.
pub fn did_you_mean<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if key.chars().count() > 64 {
        return None;
    }
    let lower = key.to_ascii_lowercase().replace('-', "_");
    let threshold = (key.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|candidate| (distance(&lower, candidate), candidate))
        .filter(|(d, _)| *d <= threshold)
        .min_by_key(|(d, candidate)| (*d, *candidate))
        .map(|(_, candidate)| candidate)
}
