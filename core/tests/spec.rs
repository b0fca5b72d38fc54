//! The service spec through the public API: Docker's defaults, `ServiceSpec::validate` as a table of (spec
//! mutation → expected message) also checked through `Store::apply`, placement constraints as a table of
//! (constraint → parse result → match per node), placement preferences, mode flags, and the store's check of a
//! task's template. Published ports across services are in `ports.rs`.

mod common;

use std::collections::BTreeMap;

use common::*;
use swarm_core::*;

const SECOND: u64 = 1_000_000_000;

fn spec() -> ServiceSpec {
    ServiceSpec::replicated("api", "nginx:1.27", 3)
}

/// A spec using every field, valid.
fn full_spec() -> ServiceSpec {
    let mut spec = spec();
    spec.labels.insert("com.docker.stack.namespace".into(), "shop".into());
    let container = &mut spec.task_template.container_spec;
    container.image = "registry.example.com:5000/shop/web:v1.2@sha256:0123456789abcdef0123456789abcdef".into();
    container.command = vec!["/bin/web".into()];
    container.args = vec!["--port".into(), "80".into()];
    container.env = vec!["MODE=prod".into()];
    container.labels.insert("tier".into(), "front".into());
    container.hostname = "web-{{.Task.Slot}}".into();
    container.user = "nobody".into();
    container.dir = "/srv".into();
    container.mounts = vec![
        Mount {
            kind: MountType::Volume,
            source: "data".into(),
            target: "/data".into(),
            read_only: true,
            ..Mount::default()
        },
        Mount {
            kind: MountType::Bind,
            source: "/etc/web".into(),
            target: "/etc/web".into(),
            read_only: true,
            ..Mount::default()
        },
        Mount {
            kind: MountType::Tmpfs,
            source: String::new(),
            target: "/tmp".into(),
            read_only: false,
            tmpfs_options: Some(TmpfsOptions { size_bytes: 64 << 20, mode: 0o1770 }),
        },
    ];
    container.stop_signal = "SIGQUIT".into();
    container.read_only = true;
    container.init = Some(true);
    container.capability_add = vec!["CAP_NET_ADMIN".into()];
    container.capability_drop = vec!["CAP_MKNOD".into()];
    container.sysctls.insert("net.core.somaxconn".into(), "1024".into());
    container.ulimits = vec![Ulimit::new("nofile", 1024, 2048), Ulimit::new("nproc", -1, -1)];
    container.hosts = vec!["10.0.0.5 db db.local".into(), "::1 local6".into()];
    container.dns_config = DnsConfig {
        nameservers: vec!["10.0.0.2".into(), "2001:db8::53".into()],
        search: vec!["example.com".into()],
        options: vec!["ndots:2".into()],
    };
    container.stop_grace_period_ns = 30 * SECOND;
    container.healthcheck = Some(HealthConfig {
        test: vec!["CMD-SHELL".into(), "wget -q -O- localhost".into()],
        interval_ns: 10 * SECOND,
        timeout_ns: 2 * SECOND,
        retries: 3,
        start_period_ns: 1_000_000,
    });
    let task = &mut spec.task_template;
    task.resources.limits = Resources { nano_cpus: 2 * SECOND, memory_bytes: 512 << 20 };
    task.resources.reservations = Resources { nano_cpus: SECOND / 2, memory_bytes: 128 << 20 };
    task.restart_policy = RestartPolicy {
        condition: RestartCondition::OnFailure,
        delay_ns: SECOND,
        max_attempts: 3,
        window_ns: 60 * SECOND,
    };
    task.placement = Placement {
        constraints: vec!["node.role==worker".into(), "node.labels.zone != west".into()],
        preferences: vec![
            PlacementPreference::Spread { spread_descriptor: "node.labels.zone".into() },
            PlacementPreference::Spread { spread_descriptor: "engine.labels.rack".into() },
        ],
        max_replicas: 2,
        platforms: vec![Platform { os: "linux".into(), architecture: "amd64".into() }],
    };
    task.networks = vec![NetworkAttachmentConfig { target: "backend".into(), aliases: vec!["www".into()] }];
    task.log_driver =
        Some(LogDriver { name: "json-file".into(), options: BTreeMap::from([("max-size".into(), "10m".into())]) });
    spec.update_config = Some(UpdateConfig {
        parallelism: 2,
        delay_ns: 10 * SECOND,
        failure_action: FailureAction::Rollback,
        monitor_ns: 30 * SECOND,
        max_failure_ratio: FailureRatio(0.25),
        order: UpdateOrder::StartFirst,
    });
    spec.rollback_config = Some(UpdateConfig { failure_action: FailureAction::Continue, ..UpdateConfig::default() });
    spec.endpoint_spec = EndpointSpec {
        mode: ResolutionMode::Vip,
        ports: vec![
            PortConfig::tcp(8080, 80),
            PortConfig { protocol: PortProtocol::Udp, ..PortConfig::tcp(8080, 80) },
            PortConfig { published_port: 0, ..PortConfig::tcp(0, 443) },
            PortConfig { published_port: 0, ..PortConfig::tcp(0, 443) },
            PortConfig { name: "metrics".into(), publish_mode: PublishMode::Host, ..PortConfig::tcp(9100, 9100) },
        ],
    };
    spec
}

// ---------------------------------------------------------------------------------------------------------------
// Defaults

#[test]
fn defaults_are_dockers() {
    assert_eq!(
        RestartPolicy::default(),
        RestartPolicy { condition: RestartCondition::Any, delay_ns: 5 * SECOND, max_attempts: 0, window_ns: 0 }
    );
    let update = UpdateConfig {
        parallelism: 1,
        delay_ns: 0,
        failure_action: FailureAction::Pause,
        monitor_ns: 5 * SECOND,
        max_failure_ratio: FailureRatio(0.0),
        order: UpdateOrder::StopFirst,
    };
    assert_eq!(UpdateConfig::default(), update);
    assert_eq!(ContainerSpec::default().stop_grace_period_ns, 10 * SECOND);
    assert_eq!(ContainerSpec::default().healthcheck, None);
    assert_eq!(EndpointSpec::default(), EndpointSpec { mode: ResolutionMode::Vip, ports: vec![] });
    assert_eq!(PortConfig::default().protocol, PortProtocol::Tcp);
    assert_eq!(PortConfig::default().publish_mode, PublishMode::Ingress);
    assert_eq!(Placement::default().max_replicas, 0);
    assert_eq!(MountType::default(), MountType::Volume);

    let replicated = spec();
    assert_eq!(replicated.update_config.as_ref(), Some(&update));
    assert_eq!(replicated.rollback_config.as_ref(), Some(&update));
    assert_eq!(replicated.task_template.restart_policy, RestartPolicy::default());
    assert_eq!(replicated.endpoint_spec.mode, ResolutionMode::Vip);
    assert_eq!(replicated.task_template.container_spec.image, "nginx:1.27");

    let job = ServiceSpec::replicated_job("migrate", "bb:1", 2, 10);
    assert_eq!(job.update_config, None, "SwarmKit rejects update configs on jobs");
    assert_eq!(job.effective_update_config(), update);
    assert_eq!(job.effective_rollback_config(), update);
    for spec in [replicated, job, ServiceSpec::global("agent", "bb:1"), ServiceSpec::global_job("prune", "bb:1")] {
        assert_eq!(spec.validate(), Ok(()), "{spec:?}");
    }
}

#[test]
fn keywords_parse_and_print_as_docker_spells_them() {
    let cases: Vec<(String, String)> = [
        RestartCondition::ALL.iter().map(|v| (v.to_string(), format!("{v:?}"))).collect::<Vec<_>>(),
        FailureAction::ALL.iter().map(|v| (v.to_string(), format!("{v:?}"))).collect(),
        UpdateOrder::ALL.iter().map(|v| (v.to_string(), format!("{v:?}"))).collect(),
        ResolutionMode::ALL.iter().map(|v| (v.to_string(), format!("{v:?}"))).collect(),
        PortProtocol::ALL.iter().map(|v| (v.to_string(), format!("{v:?}"))).collect(),
        PublishMode::ALL.iter().map(|v| (v.to_string(), format!("{v:?}"))).collect(),
        MountType::ALL.iter().map(|v| (v.to_string(), format!("{v:?}"))).collect(),
    ]
    .concat();
    let texts: Vec<&str> = cases.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "none",
            "on-failure",
            "any",
            "pause",
            "continue",
            "rollback",
            "stop-first",
            "start-first",
            "vip",
            "dnsrr",
            "tcp",
            "udp",
            "sctp",
            "ingress",
            "host",
            "volume",
            "bind",
            "tmpfs"
        ]
    );
    assert_eq!("on-failure".parse::<RestartCondition>(), Ok(RestartCondition::OnFailure));
    assert_eq!("start-first".parse::<UpdateOrder>(), Ok(UpdateOrder::StartFirst));
    assert_eq!(
        "sometimes".parse::<RestartCondition>().unwrap_err().to_string(),
        "invalid restart condition \"sometimes\": expected one of none, on-failure, any"
    );
    assert_eq!(
        "http".parse::<PortProtocol>().unwrap_err().to_string(),
        "invalid protocol \"http\": expected one of tcp, udp, sctp"
    );
}

#[test]
fn a_full_spec_is_valid_applies_and_survives_encoding() {
    let spec = full_spec();
    assert_eq!(spec.validate(), Ok(()));
    let command = Command::CreateService { service_id: "s2".into(), spec: spec.clone() };
    let proposal = at(T0 + 100, command);
    assert_eq!(Proposal::decode(&proposal.encode()), Ok(proposal.clone()));
    let mut store = store_with(&base());
    // The spec attaches to network "backend", which must exist.
    assert_eq!(store.apply(&proposal), Err(Rejection::NoSuchNetwork { id: "backend".into() }));
    store.apply(&at(T0 + 99, create_network("net2", "backend"))).unwrap();
    store.apply(&proposal).unwrap();
    // The two ingress ports without a number were given the first two of the dynamic range.
    let mut stored = spec.clone();
    stored.endpoint_spec.ports[2].published_port = 30000;
    stored.endpoint_spec.ports[3].published_port = 30001;
    assert_eq!(store.service("s2").unwrap().spec, stored);
    let restored = Store::decode_snapshot(&store.encode_snapshot()).unwrap();
    assert_eq!(restored, store);
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

struct Invalid {
    what: &'static str,
    mutate: fn(&mut ServiceSpec),
    message: &'static str,
}

fn invalid_cases() -> Vec<Invalid> {
    fn port(spec: &mut ServiceSpec, ports: Vec<PortConfig>) {
        spec.endpoint_spec.ports = ports;
    }
    vec![
        Invalid { what: "empty name", mutate: |s| s.name.clear(), message: "meta: name must be provided" },
        Invalid {
            what: "name with a space",
            mutate: |s| s.name = "my web".into(),
            message: "invalid name \"my web\": name must be valid as a DNS name component",
        },
        Invalid {
            what: "name ending in a dash",
            mutate: |s| s.name = "web-".into(),
            message: "invalid name \"web-\": name must be valid as a DNS name component",
        },
        Invalid {
            what: "name of 64 characters",
            mutate: |s| s.name = "a".repeat(64),
            message: "invalid name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": \
                      name must be 63 characters \
                      or fewer",
        },
        Invalid {
            what: "no image",
            mutate: |s| s.task_template.container_spec.image.clear(),
            message: "ContainerSpec: image reference must be provided",
        },
        Invalid {
            what: "uppercase repository",
            mutate: |s| s.task_template.container_spec.image = "library/Nginx".into(),
            message: "ContainerSpec: \"library/Nginx\" is not a valid repository/tag",
        },
        Invalid {
            what: "space in image",
            mutate: |s| s.task_template.container_spec.image = "nginx latest".into(),
            message: "ContainerSpec: \"nginx latest\" is not a valid repository/tag",
        },
        Invalid {
            what: "bad tag",
            mutate: |s| s.task_template.container_spec.image = "nginx:-1".into(),
            message: "ContainerSpec: \"nginx:-1\" is not a valid repository/tag",
        },
        Invalid {
            what: "bad digest",
            mutate: |s| s.task_template.container_spec.image = "nginx@sha256".into(),
            message: "ContainerSpec: \"nginx@sha256\" is not a valid repository/tag",
        },
        Invalid {
            what: "duplicate mount point",
            mutate: |s| {
                let mount = Mount { source: "a".into(), target: "/data".into(), ..Mount::default() };
                s.task_template.container_spec.mounts = vec![mount.clone(), Mount { source: "b".into(), ..mount }];
            },
            message: "ContainerSpec: duplicate mount point: /data",
        },
        Invalid {
            what: "relative mount target",
            mutate: |s| {
                s.task_template.container_spec.mounts = vec![Mount { target: "data".into(), ..Mount::default() }]
            },
            message: "invalid mount config for type \"volume\": invalid mount path: 'data' mount path must be absolute",
        },
        Invalid {
            what: "mount without target",
            mutate: |s| s.task_template.container_spec.mounts = vec![Mount::default()],
            message: "invalid mount config for type \"volume\": field Target must not be empty",
        },
        Invalid {
            what: "bind without source",
            mutate: |s| {
                s.task_template.container_spec.mounts =
                    vec![Mount { kind: MountType::Bind, target: "/x".into(), ..Mount::default() }]
            },
            message: "invalid mount config for type \"bind\": field Source must not be empty",
        },
        Invalid {
            what: "tmpfs with source",
            mutate: |s| {
                s.task_template.container_spec.mounts =
                    vec![Mount { kind: MountType::Tmpfs, source: "x".into(), target: "/x".into(), ..Mount::default() }]
            },
            message: "invalid mount config for type \"tmpfs\": field Source must not be specified",
        },
        Invalid {
            what: "read-only anonymous volume",
            mutate: |s| {
                s.task_template.container_spec.mounts =
                    vec![Mount { target: "/x".into(), read_only: true, ..Mount::default() }]
            },
            message: "invalid mount config for type \"volume\": \
                      must not set ReadOnly mode when using anonymous volumes",
        },
        Invalid {
            what: "healthcheck interval under 1ms",
            mutate: |s| {
                s.task_template.container_spec.healthcheck =
                    Some(HealthConfig { interval_ns: 999_999, ..HealthConfig::default() })
            },
            message: "ContainerSpec: Interval in HealthConfig cannot be less than 1ms",
        },
        Invalid {
            what: "healthcheck timeout under 1ms",
            mutate: |s| {
                let healthcheck = HealthConfig { timeout_ns: 1, ..HealthConfig::default() };
                s.task_template.container_spec.healthcheck = Some(healthcheck)
            },
            message: "ContainerSpec: Timeout in HealthConfig cannot be less than 1ms",
        },
        Invalid {
            what: "healthcheck start period under 1ms",
            mutate: |s| {
                s.task_template.container_spec.healthcheck =
                    Some(HealthConfig { start_period_ns: 5, ..HealthConfig::default() })
            },
            message: "ContainerSpec: StartPeriod in HealthConfig cannot be less than 1ms",
        },
        Invalid {
            what: "healthcheck test without its kind",
            mutate: |s| {
                s.task_template.container_spec.healthcheck =
                    Some(HealthConfig { test: vec!["curl".into(), "localhost".into()], ..HealthConfig::default() })
            },
            message: "ContainerSpec: healthcheck test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\", \
                      not \"curl\"",
        },
        Invalid {
            what: "CPU limit under 0.001",
            mutate: |s| s.task_template.resources.limits.nano_cpus = 500_000,
            message: "invalid cpu value 0.0005: Must be at least 0.001",
        },
        Invalid {
            what: "memory reservation under 4MiB",
            mutate: |s| s.task_template.resources.reservations.memory_bytes = 1024,
            message: "invalid memory value 1024: Must be at least 4MiB",
        },
        Invalid {
            what: "CPU reservation above limit",
            mutate: |s| {
                s.task_template.resources.limits.nano_cpus = SECOND / 2;
                s.task_template.resources.reservations.nano_cpus = 2 * SECOND;
            },
            message: "Resources: CPU reservation of 2 exceeds the CPU limit of 0.5",
        },
        Invalid {
            what: "memory reservation above limit",
            mutate: |s| {
                s.task_template.resources.limits.memory_bytes = 8 << 20;
                s.task_template.resources.reservations.memory_bytes = 16 << 20;
            },
            message: "Resources: memory reservation of 16777216 bytes exceeds the memory limit of 8388608 bytes",
        },
        Invalid {
            what: "constraint with one =",
            mutate: |s| s.task_template.placement.constraints = vec!["node.role=manager".into()],
            message: "invalid constraint \"node.role=manager\": expected == or !=",
        },
        Invalid {
            what: "constraint with an unknown key",
            mutate: |s| s.task_template.placement.constraints = vec!["node.role==worker".into(), "node.foo==x".into()],
            message: "invalid constraint \"node.foo==x\": unknown key node.foo",
        },
        Invalid {
            what: "spread over a non-label",
            mutate: |s| {
                s.task_template.placement.preferences =
                    vec![PlacementPreference::Spread { spread_descriptor: "node.hostname".into() }]
            },
            message: "invalid placement preference \"spread=node.hostname\": \
                      can only spread over node.labels.<name> or \
                      engine.labels.<name>, not node.hostname",
        },
        Invalid {
            what: "max replicas per node on a global service",
            mutate: |s| {
                s.mode = ServiceMode::Global;
                s.task_template.placement.max_replicas = 1;
            },
            message: "replicas-max-per-node can only be used with replicated or replicated-job mode",
        },
        Invalid {
            what: "too many replicas",
            mutate: |s| s.mode = ServiceMode::Replicated { replicas: REPLICAS_MAX + 1 },
            message: "number of replicas 10001 exceeds the maximum of 10000",
        },
        Invalid {
            what: "job with an update config",
            mutate: |s| s.mode = ServiceMode::GlobalJob,
            message: "Jobs may not have an update config",
        },
        Invalid {
            what: "failure ratio above 1",
            mutate: |s| s.update_config.as_mut().unwrap().max_failure_ratio = FailureRatio(1.5),
            message: "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1",
        },
        Invalid {
            what: "negative failure ratio",
            mutate: |s| s.update_config.as_mut().unwrap().max_failure_ratio = FailureRatio(-0.1),
            message: "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1",
        },
        Invalid {
            what: "NaN failure ratio",
            mutate: |s| s.update_config.as_mut().unwrap().max_failure_ratio = FailureRatio(f32::NAN),
            message: "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1",
        },
        Invalid {
            what: "rollback failure ratio above 1",
            mutate: |s| s.rollback_config.as_mut().unwrap().max_failure_ratio = FailureRatio(2.0),
            message: "TaskSpec: rollback-maxfailureratio cannot be less than 0 or bigger than 1",
        },
        Invalid {
            what: "rollback that rolls back",
            mutate: |s| s.rollback_config.as_mut().unwrap().failure_action = FailureAction::Rollback,
            message: "invalid rollback failure action \"rollback\": a rollback can only pause or continue on failure",
        },
        Invalid {
            what: "target port 0",
            mutate: |s| port(s, vec![PortConfig::tcp(8080, 0)]),
            message: "EndpointSpec: invalid target port 0: must be between 1 and 65535",
        },
        Invalid {
            what: "target port 65536",
            mutate: |s| port(s, vec![PortConfig::tcp(8080, 65536)]),
            message: "EndpointSpec: invalid target port 65536: must be between 1 and 65535",
        },
        Invalid {
            what: "published port 70000",
            mutate: |s| port(s, vec![PortConfig::tcp(70000, 80)]),
            message: "EndpointSpec: invalid published port 70000: must be between 1 and 65535, or 0 to have one \
                      assigned",
        },
        Invalid {
            what: "duplicate published port",
            mutate: |s| port(s, vec![PortConfig::tcp(8080, 80), PortConfig::tcp(8080, 81)]),
            message: "EndpointSpec: duplicate published ports provided: 8080/tcp",
        },
        Invalid {
            what: "duplicate published port across publish modes",
            mutate: |s| {
                let host = PortConfig { publish_mode: PublishMode::Host, ..PortConfig::tcp(8080, 81) };
                port(s, vec![PortConfig::tcp(8080, 80), host]);
            },
            message: "EndpointSpec: duplicate published ports provided: 8080/tcp",
        },
        Invalid {
            what: "ingress port with dnsrr",
            mutate: |s| {
                s.endpoint_spec.mode = ResolutionMode::Dnsrr;
                port(s, vec![PortConfig::tcp(8080, 80)]);
            },
            message: "EndpointSpec: port published with ingress mode can't be used with dnsrr mode",
        },
        Invalid {
            what: "network without target",
            mutate: |s| s.task_template.networks = vec![NetworkAttachmentConfig::default()],
            message: "TaskSpec: network attachment target must be provided",
        },
        Invalid {
            what: "network attached twice",
            mutate: |s| {
                s.task_template.networks =
                    vec![NetworkAttachmentConfig::new("backend"), NetworkAttachmentConfig::new("backend")]
            },
            message: "TaskSpec: duplicate network attachment: backend",
        },
    ]
}

#[test]
fn invalid_specs_are_rejected_with_dockers_message() {
    let mut failures = Vec::new();
    for case in invalid_cases() {
        let mut spec = spec();
        (case.mutate)(&mut spec);
        let error = match spec.validate() {
            Ok(()) => {
                failures.push(format!("{}: accepted", case.what));
                continue;
            }
            Err(error) => error,
        };
        if error.to_string() != case.message {
            failures.push(format!("{}:\n  got      {error}\n  expected {}", case.what, case.message));
        }
        // The CLI's early check, before the daemon names the service: the same verdict, but an empty name passes.
        let before_naming = spec.validate_before_naming();
        let expected_before_naming = if spec.name.is_empty() { Ok(()) } else { Err(error.clone()) };
        if before_naming != expected_before_naming {
            failures.push(format!("{}: before naming {before_naming:?}", case.what));
        }
        // Through the store: rejected, store unchanged. Names and replica counts are caught first by the store's
        // own bounds (`Rejection::InvalidName` / `LimitExceeded`), everything else is `InvalidServiceSpec`.
        let mut store = store_with(&base());
        let before = store.encode_snapshot();
        let rejection =
            store.apply(&at(T0 + 100, Command::CreateService { service_id: "s2".into(), spec })).unwrap_err();
        let expected = match &rejection {
            Rejection::InvalidName { .. } => {
                matches!(error, SpecError::NameRequired | SpecError::InvalidName { .. } | SpecError::NameTooLong { .. })
            }
            Rejection::LimitExceeded { limit, .. } => {
                (*limit == Limit::NameLength && matches!(error, SpecError::NameTooLong { .. }))
                    || matches!(error, SpecError::LimitExceeded { limit: l, .. } if l == *limit)
            }
            other => *other == Rejection::InvalidServiceSpec(error),
        };
        if !expected {
            failures.push(format!("{}: store rejected with {rejection:?}", case.what));
        }
        assert_eq!(store.encode_snapshot(), before, "{}: store changed", case.what);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        invalid_cases().len(),
        failures.join("\n")
    );
}

#[test]
fn edge_values_that_are_valid() {
    type Mutation = fn(&mut ServiceSpec);
    let cases: Vec<(&str, Mutation)> = vec![
        ("port 65535 both sides", |s| s.endpoint_spec.ports = vec![PortConfig::tcp(65535, 65535)]),
        ("published 0 twice (auto-assigned)", |s| {
            s.endpoint_spec.ports = vec![PortConfig::tcp(0, 80), PortConfig::tcp(0, 81)]
        }),
        ("same port, tcp and udp", |s| {
            s.endpoint_spec.ports =
                vec![PortConfig::tcp(53, 53), PortConfig { protocol: PortProtocol::Udp, ..PortConfig::tcp(53, 53) }]
        }),
        ("dnsrr with a host-mode port", |s| {
            s.endpoint_spec.mode = ResolutionMode::Dnsrr;
            s.endpoint_spec.ports = vec![PortConfig { publish_mode: PublishMode::Host, ..PortConfig::tcp(80, 80) }];
        }),
        ("failure ratio 0 and 1", |s| {
            s.update_config.as_mut().unwrap().max_failure_ratio = FailureRatio(1.0);
            s.rollback_config.as_mut().unwrap().max_failure_ratio = FailureRatio(0.0);
        }),
        ("parallelism 0 (all at once)", |s| s.update_config.as_mut().unwrap().parallelism = 0),
        ("healthcheck durations of exactly 1ms, NONE", |s| {
            s.task_template.container_spec.healthcheck = Some(HealthConfig {
                test: vec!["NONE".into()],
                interval_ns: 1_000_000,
                timeout_ns: 1_000_000,
                retries: 0,
                start_period_ns: 0,
            })
        }),
        ("reservation equal to limit", |s| {
            s.task_template.resources.limits = Resources { nano_cpus: 1_000_000, memory_bytes: 4 << 20 };
            s.task_template.resources.reservations = Resources { nano_cpus: 1_000_000, memory_bytes: 4 << 20 };
        }),
        ("reservation without limit", |s| s.task_template.resources.reservations.nano_cpus = 64 * SECOND),
        ("replicas at the maximum", |s| s.mode = ServiceMode::Replicated { replicas: REPLICAS_MAX }),
        ("zero replicas", |s| s.mode = ServiceMode::Replicated { replicas: 0 }),
        ("max replicas on a replicated job", |s| {
            *s = ServiceSpec::replicated_job("job", "bb:1", 1, 5);
            s.task_template.placement.max_replicas = 1;
        }),
        ("name of 63 characters with dashes and underscores", |s| s.name = format!("a-b_c{}", "d".repeat(58))),
        ("images", |s| {
            for image in [
                "nginx",
                "library/nginx:1.27-alpine",
                "localhost/app",
                "localhost:5000/team/app:v1",
                "Registry.Example.com/a/b__c/d-e.f:Tag_1",
                "ghcr.io/o/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ] {
                s.task_template.container_spec.image = image.into();
                s.validate().unwrap_or_else(|e| panic!("{image}: {e}"));
            }
        }),
    ];
    for (what, mutate) in cases {
        let mut spec = spec();
        mutate(&mut spec);
        assert_eq!(spec.validate(), Ok(()), "{what}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Constraints

/// n1: manager "node-1", linux/x86_64, labels zone=east and Rack=r1, engine label storage=ssd.
/// n2: worker "node-2", linux/aarch64, label zone=west. n3: worker "Node-3", no description, no labels.
fn nodes() -> Vec<Node> {
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let node = |id: &str, role, host: &str, arch: &str, node_labels, engine_labels| {
        let spec = NodeSpec { role, labels: node_labels, ..NodeSpec::default() };
        let description = NodeDescription {
            hostname: host.into(),
            platform: Platform {
                os: if arch.is_empty() { String::new() } else { "linux".into() },
                architecture: arch.into(),
            },
            engine: EngineDescription { engine_version: "27.0".into(), labels: engine_labels },
            ..NodeDescription::default()
        };
        Node::new(id, spec, description)
    };
    vec![
        node(
            "n1",
            NodeRole::Manager,
            "node-1",
            "x86_64",
            labels(&[("zone", "east"), ("Rack", "r1")]),
            labels(&[("storage", "ssd")]),
        ),
        node("n2", NodeRole::Worker, "node-2", "aarch64", labels(&[("zone", "west")]), BTreeMap::new()),
        node("n3", NodeRole::Worker, "Node-3", "", BTreeMap::new(), BTreeMap::new()),
    ]
}

#[test]
fn constraints_parse_and_match_like_swarmkit() {
    use ConstraintKey::*;
    use ConstraintOperator::{Eq, NotEq};
    // (constraint, parsed (key, operator, value), matches on [n1, n2, n3])
    type Parsed<'a> = (ConstraintKey, ConstraintOperator, &'a str);
    let cases: Vec<(&str, Parsed, [bool; 3])> = vec![
        ("node.id==n2", (NodeId, Eq, "n2"), [false, true, false]),
        ("node.id!=n2", (NodeId, NotEq, "n2"), [true, false, true]),
        ("node.hostname==node-1", (NodeHostname, Eq, "node-1"), [true, false, false]),
        ("node.hostname==node-3", (NodeHostname, Eq, "node-3"), [false, false, true]),
        ("node.hostname != NODE-1", (NodeHostname, NotEq, "NODE-1"), [false, true, true]),
        ("node.role==manager", (NodeRole, Eq, "manager"), [true, false, false]),
        ("node.role == Worker", (NodeRole, Eq, "Worker"), [false, true, true]),
        ("node.role!=manager", (NodeRole, NotEq, "manager"), [false, true, true]),
        ("Node.Role==manager", (NodeRole, Eq, "manager"), [true, false, false]),
        ("node.platform.os==linux", (NodePlatformOs, Eq, "linux"), [true, true, false]),
        ("node.platform.arch==aarch64", (NodePlatformArch, Eq, "aarch64"), [false, true, false]),
        ("node.platform.arch!=x86_64", (NodePlatformArch, NotEq, "x86_64"), [false, true, true]),
        ("node.labels.zone==east", (NodeLabel("zone".into()), Eq, "east"), [true, false, false]),
        ("node.labels.zone==EAST", (NodeLabel("zone".into()), Eq, "EAST"), [true, false, false]),
        ("node.labels.zone!=east", (NodeLabel("zone".into()), NotEq, "east"), [false, true, true]),
        ("node.labels.Rack==r1", (NodeLabel("Rack".into()), Eq, "r1"), [true, false, false]),
        ("node.labels.rack==r1", (NodeLabel("rack".into()), Eq, "r1"), [false, false, false]),
        ("NODE.LABELS.Rack==r1", (NodeLabel("Rack".into()), Eq, "r1"), [true, false, false]),
        ("node.labels.missing!=x", (NodeLabel("missing".into()), NotEq, "x"), [true, true, true]),
        ("node.labels.missing==x", (NodeLabel("missing".into()), Eq, "x"), [false, false, false]),
        ("engine.labels.storage==ssd", (EngineLabel("storage".into()), Eq, "ssd"), [true, false, false]),
        ("engine.labels.storage!=ssd", (EngineLabel("storage".into()), NotEq, "ssd"), [false, true, true]),
        ("  node.labels.zone  ==  west  ", (NodeLabel("zone".into()), Eq, "west"), [false, true, false]),
        ("node.labels.path==/srv/data", (NodeLabel("path".into()), Eq, "/srv/data"), [false, false, false]),
    ];
    let nodes = nodes();
    for (text, (key, operator, value), expected) in cases {
        let constraint = Constraint::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(constraint, Constraint { key, operator, value: value.into() }, "{text}");
        assert_eq!(Constraint::parse(&constraint.to_string()), Ok(constraint.clone()), "{text} round trip");
        let matches: Vec<bool> = nodes.iter().map(|node| constraint.matches(node)).collect();
        assert_eq!(matches, expected, "{text} on [n1, n2, n3]");
    }
}

#[test]
fn bad_constraints_say_what_is_wrong() {
    let cases = [
        ("node.role=manager", "invalid constraint \"node.role=manager\": expected == or !="),
        ("node.role", "invalid constraint \"node.role\": expected == or !="),
        ("node.foo==x", "invalid constraint \"node.foo==x\": unknown key node.foo"),
        ("node.ip==10.0.0.1", "invalid constraint \"node.ip==10.0.0.1\": unknown key node.ip"),
        ("node.labels.==x", "invalid constraint \"node.labels.==x\": unknown key node.labels."),
        ("engine.labels==x", "invalid constraint \"engine.labels==x\": unknown key engine.labels"),
        ("==x", "invalid constraint \"==x\": key '' is invalid"),
        ("1node.id==x", "invalid constraint \"1node.id==x\": key '1node.id' is invalid"),
        ("node.id!==x", "invalid constraint \"node.id!==x\": key 'node.id!' is invalid"),
        ("node.id==", "invalid constraint \"node.id==\": value '' is invalid"),
        ("node.id==a==b", "invalid constraint \"node.id==a==b\": value 'a==b' is invalid"),
        ("node.labels.x==a,b", "invalid constraint \"node.labels.x==a,b\": value 'a,b' is invalid"),
        ("node.role==boss", "invalid constraint \"node.role==boss\": node.role must be manager or worker, not boss"),
    ];
    for (text, message) in cases {
        match Constraint::parse(text) {
            Ok(parsed) => panic!("{text}: parsed as {parsed:?}"),
            Err(error) => assert_eq!(error.to_string(), message, "{text}"),
        }
    }
    assert_eq!(
        Constraint::parse_all(&["node.role==manager".into(), "node.role=worker".into()]).unwrap_err().to_string(),
        "invalid constraint \"node.role=worker\": expected == or !="
    );
}

#[test]
fn placement_combines_constraints_and_platforms() {
    let nodes = nodes();
    let placement = |constraints: &[&str], platforms: &[(&str, &str)]| Placement {
        constraints: constraints.iter().map(|c| c.to_string()).collect(),
        platforms: platforms
            .iter()
            .map(|(os, arch)| Platform { os: os.to_string(), architecture: arch.to_string() })
            .collect(),
        ..Placement::default()
    };
    let cases: Vec<(Placement, [bool; 3])> = vec![
        (placement(&[], &[]), [true, true, true]),
        (placement(&["node.role==worker", "node.labels.zone!=west"], &[]), [false, false, true]),
        (placement(&["node.role==worker"], &[("linux", "arm64")]), [false, true, false]),
        (placement(&[], &[("linux", "amd64")]), [true, false, false]),
        (placement(&[], &[("linux", ""), ("windows", "")]), [true, true, false]),
        (placement(&[], &[("", "x86_64"), ("", "aarch64")]), [true, true, false]),
        (placement(&["node.role=worker"], &[]), [false, false, false]),
    ];
    for (placement, expected) in cases {
        let matches: Vec<bool> = nodes.iter().map(|node| placement.node_matches(node)).collect();
        assert_eq!(matches, expected, "{placement:?}");
    }
}

#[test]
fn placement_preferences_parse_and_spread_over_labels() {
    let ok = [
        ("spread=node.labels.zone", "node.labels.zone"),
        ("spread=engine.labels.storage", "engine.labels.storage"),
        ("SPREAD=node.labels.Rack", "node.labels.Rack"),
    ];
    for (text, descriptor) in ok {
        let preference = PlacementPreference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(preference, PlacementPreference::Spread { spread_descriptor: descriptor.into() });
    }
    let bad = [
        (
            "node.labels.zone",
            "invalid placement preference \"node.labels.zone\": placement preference must be of the \
                              format \"<strategy>=<arg>\"",
        ),
        (
            "binpack=node.labels.zone",
            "invalid placement preference \"binpack=node.labels.zone\": unsupported placement \
                                      preference binpack (only spread is supported)",
        ),
        (
            "spread=node.id",
            "invalid placement preference \"spread=node.id\": can only spread over node.labels.<name> or \
                            engine.labels.<name>, not node.id",
        ),
    ];
    for (text, message) in bad {
        assert_eq!(PlacementPreference::parse(text).unwrap_err().to_string(), message, "{text}");
    }
    let nodes = nodes();
    let zone = PlacementPreference::Spread { spread_descriptor: "node.labels.zone".into() };
    let storage = PlacementPreference::Spread { spread_descriptor: "engine.labels.storage".into() };
    let values = |p: &PlacementPreference| nodes.iter().map(|n| p.spread_value(n).to_string()).collect::<Vec<_>>();
    assert_eq!(values(&zone), ["east", "west", ""]);
    assert_eq!(values(&storage), ["ssd", "", ""]);
}

// ---------------------------------------------------------------------------------------------------------------
// Mode flags

#[test]
fn mode_from_cli_flags() {
    use ServiceMode::*;
    // (mode, --replicas, --max-concurrent, --replicas-max-per-node) -> mode or message
    type Flags<'a> = (&'a str, Option<u64>, Option<u64>, u64);
    let cases: Vec<(Flags, Result<ServiceMode, &str>)> = vec![
        (("replicated", None, None, 0), Ok(Replicated { replicas: 1 })),
        (("replicated", Some(5), None, 2), Ok(Replicated { replicas: 5 })),
        (("replicated", Some(5), Some(2), 0), Err("max-concurrent can only be used with replicated-job mode")),
        (("global", None, None, 0), Ok(Global)),
        (("global", Some(3), None, 0), Err("replicas can only be used with replicated or replicated-job mode")),
        (
            ("global", None, None, 1),
            Err("replicas-max-per-node can only be used with replicated or replicated-job mode"),
        ),
        (("global", None, Some(1), 0), Err("max-concurrent can only be used with replicated-job mode")),
        (("replicated-job", None, None, 0), Ok(ReplicatedJob { max_concurrent: 1, total_completions: 1 })),
        (("replicated-job", Some(10), None, 0), Ok(ReplicatedJob { max_concurrent: 10, total_completions: 10 })),
        (("replicated-job", None, Some(3), 0), Ok(ReplicatedJob { max_concurrent: 3, total_completions: 3 })),
        (("replicated-job", Some(10), Some(2), 1), Ok(ReplicatedJob { max_concurrent: 2, total_completions: 10 })),
        (("global-job", None, None, 0), Ok(GlobalJob)),
        (("global-job", Some(1), None, 0), Err("replicas can only be used with replicated or replicated-job mode")),
        (("global-job", None, Some(1), 0), Err("max-concurrent can only be used with replicated-job mode")),
        (("daemon", None, None, 0), Err("Unknown mode: daemon, only replicated and global supported")),
    ];
    for ((mode, replicas, max_concurrent, max_per_node), expected) in cases {
        let got = ServiceMode::from_flags(mode, replicas, max_concurrent, max_per_node).map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(String::from), "{mode} {replicas:?} {max_concurrent:?} {max_per_node}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Store-level checks

#[test]
fn tasks_carry_a_valid_template() {
    let mut store = store_with(&base());
    let mut task = task("t9", "s1");
    task.spec.container_spec.image = String::new();
    let rejection = store.apply(&at(T0 + 10, Command::CreateTasks { tasks: vec![task] })).unwrap_err();
    assert_eq!(rejection, Rejection::InvalidServiceSpec(SpecError::ImageRequired));
}
