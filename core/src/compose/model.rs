//! The loaded compose model: what a stack file says once interpolated, normalised and merged. It mirrors Docker's
//! compose types (so `stack config` prints what Docker prints and the later conversion to services, networks,
//! secrets and configs is a field-by-field mapping) with Rust types where Swarm acts on a value: enums for modes
//! and conditions, durations, byte counts. Short syntaxes are already expanded (ports and volumes to their long
//! form, `command` strings split into words, lists of `KEY=value` into maps). Keys Swarm ignores are kept, because
//! `stack config` prints them. Invariant: every map is a `BTreeMap`, so iteration order, and therefore output, is
//! deterministic. An empty string or list means "not set", as Docker's `omitempty` treats it.

use std::collections::BTreeMap;

use super::duration::Duration;

/// A whole stack: the merge of every `-c` file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComposeConfig {
    /// The file's `version:` (`3.13`, the newest, when absent).
    pub version: String,
    pub services: BTreeMap<String, ServiceConfig>,
    pub networks: BTreeMap<String, NetworkConfig>,
    pub volumes: BTreeMap<String, VolumeConfig>,
    pub secrets: BTreeMap<String, FileObjectConfig>,
    pub configs: BTreeMap<String, FileObjectConfig>,
    /// Top-level `x-` keys.
    pub extensions: Extensions,
}

/// `x-` keys and their values, kept as written (after interpolation).
pub type Extensions = BTreeMap<String, ExtensionValue>;

/// A free-form YAML value under an `x-` key. Equality is by value: an integral float equals the integer (`stack
/// config` prints `0.0` as `0`, as Docker's does, and it loads back as an integer).
#[derive(Clone, Debug)]
pub enum ExtensionValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<ExtensionValue>),
    Map(BTreeMap<String, ExtensionValue>),
}

impl PartialEq for ExtensionValue {
    fn eq(&self, other: &Self) -> bool {
        use ExtensionValue::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => a == b,
            (Int(i), Float(f)) | (Float(f), Int(i)) => f.fract() == 0.0 && *f == *i as f64,
            (String(a), String(b)) => a == b,
            (Seq(a), Seq(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            _ => false,
        }
    }
}

/// One service, in Docker's field order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceConfig {
    /// Ignored by Swarm (warned about), printed by `stack config`.
    pub build: Option<BuildConfig>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub cgroupns_mode: String,
    pub cgroup_parent: String,
    pub command: Vec<String>,
    pub configs: Vec<FileReference>,
    pub container_name: String,
    pub credential_spec: CredentialSpec,
    /// Services to start first (beyond Swarm: `stack deploy` honours them).
    pub depends_on: Vec<Dependency>,
    pub deploy: DeployConfig,
    pub devices: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub domainname: String,
    pub entrypoint: Vec<String>,
    /// `None` for a variable named without a value and not in the environment (`- DEBUG`).
    pub environment: BTreeMap<String, Option<String>>,
    pub env_file: Vec<String>,
    pub expose: Vec<String>,
    pub external_links: Vec<String>,
    /// `host:ip` entries.
    pub extra_hosts: Vec<String>,
    pub hostname: String,
    pub healthcheck: Option<HealthCheck>,
    pub image: String,
    pub init: Option<bool>,
    pub ipc: String,
    pub isolation: String,
    pub labels: BTreeMap<String, String>,
    pub links: Vec<String>,
    pub logging: Option<Logging>,
    pub mac_address: String,
    pub network_mode: String,
    /// Network name → its per-service settings (`None` when listed without any).
    pub networks: BTreeMap<String, Option<ServiceNetwork>>,
    pub pid: String,
    pub ports: Vec<PortConfig>,
    pub privileged: bool,
    pub read_only: bool,
    pub restart: String,
    pub secrets: Vec<FileReference>,
    pub security_opt: Vec<String>,
    pub shm_size: String,
    pub stdin_open: bool,
    pub stop_grace_period: Option<Duration>,
    pub stop_signal: String,
    pub sysctls: BTreeMap<String, String>,
    pub tmpfs: Vec<String>,
    pub tty: bool,
    pub ulimits: BTreeMap<String, Ulimit>,
    pub user: String,
    pub oom_score_adj: i64,
    pub userns_mode: String,
    pub volumes: Vec<ServiceVolume>,
    pub working_dir: String,
    pub extensions: Extensions,
}

/// `build:` (ignored by Swarm).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildConfig {
    pub context: String,
    pub dockerfile: String,
    pub args: BTreeMap<String, Option<String>>,
    pub labels: BTreeMap<String, String>,
    pub cache_from: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub network: String,
    pub target: String,
}

/// `credential_spec:` (Windows).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CredentialSpec {
    pub config: String,
    pub file: String,
    pub registry: String,
}

/// What a service waits for in a dependency before it starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum DependencyCondition {
    /// The short form: the dependency's tasks are running.
    #[default]
    ServiceStarted,
    /// The dependency's tasks are running and healthy.
    ServiceHealthy,
    /// The dependency (a job) completed successfully.
    ServiceCompletedSuccessfully,
}

impl DependencyCondition {
    pub const ALL: [(&'static str, DependencyCondition); 3] = [
        ("service_started", DependencyCondition::ServiceStarted),
        ("service_healthy", DependencyCondition::ServiceHealthy),
        ("service_completed_successfully", DependencyCondition::ServiceCompletedSuccessfully),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, c)| *c == self).map(|(name, _)| *name).expect("every condition is named")
    }
}

/// One `depends_on` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub service: String,
    pub condition: DependencyCondition,
    /// `required: false` makes a missing dependency a warning instead of an error.
    pub required: bool,
    /// `restart: true` restarts this service when the dependency is updated.
    pub restart: bool,
}

impl Dependency {
    /// The short form's entry.
    pub fn started(service: &str) -> Self {
        Dependency {
            service: service.to_owned(),
            condition: DependencyCondition::ServiceStarted,
            required: true,
            restart: false,
        }
    }

    /// Whether the short form says all of it.
    pub fn is_short_form(&self) -> bool {
        self.condition == DependencyCondition::ServiceStarted && self.required && !self.restart
    }
}

/// `deploy.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployMode {
    Replicated,
    Global,
    ReplicatedJob,
    GlobalJob,
}

impl DeployMode {
    pub const ALL: [(&'static str, DeployMode); 4] = [
        ("replicated", DeployMode::Replicated),
        ("global", DeployMode::Global),
        ("replicated-job", DeployMode::ReplicatedJob),
        ("global-job", DeployMode::GlobalJob),
    ];
}

/// `deploy.endpoint_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointMode {
    Vip,
    Dnsrr,
}

impl EndpointMode {
    pub const ALL: [(&'static str, EndpointMode); 2] = [("vip", EndpointMode::Vip), ("dnsrr", EndpointMode::Dnsrr)];
}

/// `deploy:`; all-default means the key was absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeployConfig {
    pub mode: Option<DeployMode>,
    pub replicas: Option<u64>,
    pub labels: BTreeMap<String, String>,
    pub update_config: Option<UpdateConfig>,
    pub rollback_config: Option<UpdateConfig>,
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
    pub placement: Placement,
    pub endpoint_mode: Option<EndpointMode>,
}

/// `failure_action` of an update or rollback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureAction {
    Continue,
    Pause,
    Rollback,
}

impl FailureAction {
    pub const ALL: [(&'static str, FailureAction); 3] =
        [("continue", FailureAction::Continue), ("pause", FailureAction::Pause), ("rollback", FailureAction::Rollback)];
}

/// `order` of an update or rollback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateOrder {
    StopFirst,
    StartFirst,
}

impl UpdateOrder {
    pub const ALL: [(&'static str, UpdateOrder); 2] =
        [("stop-first", UpdateOrder::StopFirst), ("start-first", UpdateOrder::StartFirst)];
}

/// `update_config:` and `rollback_config:`; zero durations and ratio mean unset, as in Docker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdateConfig {
    pub parallelism: Option<u64>,
    pub delay: Duration,
    pub failure_action: Option<FailureAction>,
    pub monitor: Duration,
    pub max_failure_ratio: f32,
    pub order: Option<UpdateOrder>,
}

/// `deploy.resources`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    pub limits: Option<ResourceLimit>,
    pub reservations: Option<ResourceReservation>,
}

/// `resources.limits`; `cpus` as written (validated: see `scalar::parse_nano_cpus`), memory in bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceLimit {
    pub cpus: String,
    pub memory_bytes: i64,
    pub pids: i64,
}

/// `resources.reservations`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceReservation {
    pub cpus: String,
    pub memory_bytes: i64,
    pub generic_resources: Vec<GenericResource>,
}

/// A user-defined discrete resource (`{discrete_resource_spec: {kind: gpu, value: 2}}`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenericResource {
    pub kind: String,
    pub value: i64,
}

/// `restart_policy.condition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartCondition {
    None,
    OnFailure,
    Any,
}

impl RestartCondition {
    pub const ALL: [(&'static str, RestartCondition); 3] =
        [("none", RestartCondition::None), ("on-failure", RestartCondition::OnFailure), ("any", RestartCondition::Any)];
}

/// `deploy.restart_policy`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RestartPolicy {
    pub condition: Option<RestartCondition>,
    pub delay: Option<Duration>,
    pub max_attempts: Option<u64>,
    pub window: Option<Duration>,
}

/// `deploy.placement`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement {
    pub constraints: Vec<String>,
    /// `spread` descriptors (`node.labels.zone`).
    pub preferences: Vec<String>,
    pub max_replicas_per_node: u64,
}

/// `healthcheck:`; `test` already in exec form (`["CMD-SHELL", "curl ..."]` for a string).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthCheck {
    pub test: Vec<String>,
    pub timeout: Option<Duration>,
    pub interval: Option<Duration>,
    pub retries: Option<u64>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub disable: bool,
}

/// `logging:`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logging {
    pub driver: String,
    pub options: BTreeMap<String, String>,
}

/// A service's settings on one network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub ipv4_address: String,
    pub ipv6_address: String,
}

/// `mode` of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortMode {
    Ingress,
    Host,
}

impl PortMode {
    pub const ALL: [(&'static str, PortMode); 2] = [("ingress", PortMode::Ingress), ("host", PortMode::Host)];
}

/// `protocol` of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortProtocol {
    Tcp,
    Udp,
    Sctp,
}

impl PortProtocol {
    pub const ALL: [(&'static str, PortProtocol); 3] =
        [("tcp", PortProtocol::Tcp), ("udp", PortProtocol::Udp), ("sctp", PortProtocol::Sctp)];
}

/// One port in long form; the short syntax gives `mode: ingress` and a protocol, the long one only what it says.
/// `published: 0` means unpublished (Swarm picks one in ingress mode).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortConfig {
    pub mode: Option<PortMode>,
    pub target: u32,
    pub published: u32,
    pub protocol: Option<PortProtocol>,
}

/// A mount's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeType {
    Volume,
    Bind,
    Tmpfs,
    Npipe,
    Cluster,
}

impl VolumeType {
    pub const ALL: [(&'static str, VolumeType); 5] = [
        ("volume", VolumeType::Volume),
        ("bind", VolumeType::Bind),
        ("tmpfs", VolumeType::Tmpfs),
        ("npipe", VolumeType::Npipe),
        ("cluster", VolumeType::Cluster),
    ];
}

/// One mount in long form; a bind's relative source is already absolute (against the first file's directory).
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceVolume {
    pub kind: VolumeType,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub consistency: String,
    /// `bind.propagation`.
    pub bind_propagation: Option<String>,
    /// `volume.nocopy`, when a `volume:` block was given.
    pub volume_nocopy: Option<bool>,
    /// `tmpfs.size` in bytes, when a `tmpfs:` block was given.
    pub tmpfs_size: Option<i64>,
}

/// A service's use of a secret or config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileReference {
    pub source: String,
    pub target: String,
    pub uid: String,
    pub gid: String,
    pub mode: Option<u32>,
}

/// One `ulimits:` entry: a single value for soft and hard, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ulimit {
    Single(i64),
    SoftHard { soft: i64, hard: i64 },
}

/// `external:` of a network, volume, secret or config. Docker resolves the deprecated `external: {name: x}` into
/// the object's `name`, so after loading only the flag is left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct External(pub bool);

/// A top-level network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkConfig {
    /// The name on the cluster; for an external network, the name it is looked up by.
    pub name: String,
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub ipam: Ipam,
    pub external: External,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub extensions: Extensions,
}

/// `ipam:` of a network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ipam {
    pub driver: String,
    /// Subnets in CIDR form.
    pub subnets: Vec<String>,
}

/// A top-level volume.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VolumeConfig {
    pub name: String,
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub external: External,
    pub labels: BTreeMap<String, String>,
    pub extensions: Extensions,
}

/// A top-level secret or config; `file` already absolute.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileObjectConfig {
    pub name: String,
    pub file: String,
    pub external: External,
    pub labels: BTreeMap<String, String>,
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub template_driver: String,
    pub extensions: Extensions,
}

/// Looks an enum value up by its compose spelling.
pub fn parse_enum<T: Copy>(all: &[(&'static str, T)], text: &str) -> Option<T> {
    all.iter().find(|(name, _)| *name == text).map(|(_, value)| *value)
}

/// The compose spelling of an enum value.
pub fn enum_name<T: Copy + PartialEq>(all: &[(&'static str, T)], value: T) -> &'static str {
    all.iter().find(|(_, v)| *v == value).map(|(name, _)| *name).expect("every enum value is named")
}
