//! Property: a compose model printed by `stack config` and loaded again is the same model (model → YAML →
//! model), for generated stacks mixing every value form the printer has to get right: strings YAML would misread
//! (`"yes"`, `"1.5"`, `": x"`, unicode, newlines), maps, durations, byte counts, ports, mounts, deploy settings,
//! dependencies and extension values. Printing a loaded model again gives the same text.

use std::collections::BTreeMap;

use proptest::prelude::*;
use swarm_core::compose::*;

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9._/-]{0,12}",
        Just("yes".to_owned()),
        Just("null".to_owned()),
        Just("1.5".to_owned()),
        Just("0x1F".to_owned()),
        Just("8080:80".to_owned()),
        Just("- dash".to_owned()),
        Just("key: value".to_owned()),
        Just("trailing ".to_owned()),
        Just("# not a comment".to_owned()),
        Just("line\nbreak".to_owned()),
        Just("quote \" and \\ back".to_owned()),
        Just("ünïcødé ✓".to_owned()),
        Just("<<".to_owned()),
        "[ -~]{1,16}".prop_filter("no interpolation", |s| !s.contains('$')),
    ]
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,8}"
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0i64..10_000).prop_map(|ms| Duration::from_nanos(ms * 1_000_000)),
        (0i64..100_000).prop_map(Duration::from_secs),
        (1i64..1_000_000_000).prop_map(Duration::from_nanos),
    ]
}

fn string_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(tricky_string(), tricky_string(), 0..4)
}

fn extension() -> impl Strategy<Value = ExtensionValue> {
    let leaf = prop_oneof![
        Just(ExtensionValue::Null),
        any::<bool>().prop_map(ExtensionValue::Bool),
        any::<i64>().prop_map(ExtensionValue::Int),
        (-1e6f64..1e6).prop_map(ExtensionValue::Float),
        tricky_string().prop_map(ExtensionValue::String),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(ExtensionValue::Seq),
            prop::collection::btree_map(name(), inner, 0..4).prop_map(ExtensionValue::Map),
        ]
    })
}

fn extensions() -> impl Strategy<Value = Extensions> {
    prop::collection::btree_map(name().prop_map(|n| format!("x-{n}")), extension(), 0..2)
}

fn enum_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [(&'static str, T)]) -> impl Strategy<Value = T> {
    prop::sample::select(all.iter().map(|(_, v)| *v).collect::<Vec<_>>())
}

fn port() -> impl Strategy<Value = PortConfig> {
    (prop::option::of(enum_of(&PortMode::ALL)), 1u32..65536, 0u32..65536, prop::option::of(enum_of(&PortProtocol::ALL)))
        .prop_map(|(mode, target, published, protocol)| PortConfig { mode, target, published, protocol })
}

fn update_config() -> impl Strategy<Value = UpdateConfig> {
    (
        prop::option::of(0u64..10),
        duration(),
        prop::option::of(enum_of(&FailureAction::ALL[..2])),
        duration(),
        0u32..=100,
        prop::option::of(enum_of(&UpdateOrder::ALL)),
    )
        .prop_map(|(parallelism, delay, failure_action, monitor, percent, order)| UpdateConfig {
            parallelism,
            delay,
            failure_action,
            monitor,
            max_failure_ratio: percent as f32 / 100.0,
            order,
        })
}

fn deploy() -> impl Strategy<Value = DeployConfig> {
    (
        prop::option::of(enum_of(&DeployMode::ALL)),
        0u64..100,
        string_map(),
        prop::option::of(update_config()),
        prop::option::of(update_config()),
        prop::option::of((prop::sample::select(vec!["0.5", "1", "2.25", "0.001"]), 0i64..1 << 40, 0i64..1000)),
        prop::option::of((
            prop::option::of(enum_of(&RestartCondition::ALL)),
            prop::option::of(duration()),
            prop::option::of(0u64..10),
        )),
        (prop::collection::vec(tricky_string(), 0..3), prop::collection::vec(name(), 0..2), 0u64..5),
        prop::option::of(enum_of(&EndpointMode::ALL)),
    )
        .prop_map(|(mode, replicas, labels, update, rollback, limits, restart, placement, endpoint_mode)| {
            let replicated = !matches!(mode, Some(DeployMode::Global | DeployMode::GlobalJob));
            DeployConfig {
                mode,
                replicas: replicated.then_some(replicas),
                labels,
                update_config: update,
                rollback_config: rollback,
                resources: Resources {
                    limits: limits.map(|(cpus, memory_bytes, pids)| ResourceLimit {
                        cpus: cpus.to_owned(),
                        memory_bytes,
                        pids,
                    }),
                    reservations: None,
                },
                restart_policy: restart.map(|(condition, delay, max_attempts)| RestartPolicy {
                    condition,
                    delay,
                    max_attempts,
                    window: None,
                }),
                placement: Placement {
                    constraints: placement.0,
                    preferences: placement.1,
                    max_replicas_per_node: placement.2,
                },
                endpoint_mode,
            }
        })
}

fn mount(volume_names: Vec<String>) -> impl Strategy<Value = ServiceVolume> {
    let target = "/[a-z]{1,8}";
    prop_oneof![
        (prop::sample::select(volume_names), target, any::<bool>(), prop::option::of(any::<bool>())).prop_map(
            |(source, target, read_only, volume_nocopy)| ServiceVolume {
                kind: VolumeType::Volume,
                source,
                target,
                read_only,
                consistency: String::new(),
                bind_propagation: None,
                volume_nocopy,
                tmpfs_size: None,
            }
        ),
        ("/[a-z]{1,8}/[a-z]{1,8}", target, prop::option::of(prop::sample::select(vec!["rshared", "private"])))
            .prop_map(|(source, target, propagation)| ServiceVolume {
                kind: VolumeType::Bind,
                source,
                target,
                read_only: false,
                consistency: String::new(),
                bind_propagation: propagation.map(str::to_owned),
                volume_nocopy: None,
                tmpfs_size: None,
            }),
        (target, prop::option::of(0i64..1 << 30)).prop_map(|(target, tmpfs_size)| ServiceVolume {
            kind: VolumeType::Tmpfs,
            source: String::new(),
            target,
            read_only: false,
            consistency: String::new(),
            bind_propagation: None,
            volume_nocopy: None,
            tmpfs_size,
        }),
    ]
}

fn service(networks: Vec<String>, volumes: Vec<String>, earlier: Vec<String>) -> impl Strategy<Value = ServiceConfig> {
    let dependencies = if earlier.is_empty() {
        Just(Vec::new()).boxed()
    } else {
        prop::sample::subsequence(earlier.clone(), 0..=earlier.len())
            .prop_flat_map(|names| {
                let n = names.len();
                (
                    Just(names),
                    prop::collection::vec((enum_of(&DependencyCondition::ALL), any::<bool>(), any::<bool>()), n),
                )
            })
            .prop_map(|(names, settings)| {
                names
                    .into_iter()
                    .zip(settings)
                    .map(|(service, (condition, required, restart))| Dependency {
                        service,
                        condition,
                        required,
                        restart,
                    })
                    .collect()
            })
            .boxed()
    };
    let network_count = networks.len();
    (
        (
            tricky_string(),
            prop::collection::vec(tricky_string(), 0..4),
            prop::collection::btree_map(name(), prop::option::of(tricky_string()), 0..4),
            string_map(),
        ),
        prop::collection::vec(port(), 0..3),
        deploy(),
        prop::option::of((
            prop::collection::vec(tricky_string(), 1..3),
            prop::option::of(duration()),
            prop::option::of(0u64..5),
        )),
        prop::sample::subsequence(networks, 0..=network_count),
        prop::collection::vec(mount(volumes), 0..3),
        dependencies,
        (prop::option::of(duration()), prop::option::of(any::<bool>()), extensions(), any::<bool>()),
    )
        .prop_map(|(basics, ports, deploy, health, networks, mounts, depends_on, rest)| {
            let (image, command, environment, labels) = basics;
            let (stop_grace_period, init, extensions, read_only) = rest;
            let mut volumes: Vec<ServiceVolume> = Vec::new();
            for mount in mounts {
                if !volumes.iter().any(|v| v.target == mount.target) {
                    volumes.push(mount);
                }
            }
            let mut unique_ports: Vec<PortConfig> = Vec::new();
            for port in ports {
                if !unique_ports.contains(&port) {
                    unique_ports.push(port);
                }
            }
            ServiceConfig {
                image,
                command,
                environment,
                labels,
                ports: unique_ports,
                deploy,
                healthcheck: health.map(|(test, interval, retries)| HealthCheck {
                    test,
                    interval,
                    retries,
                    ..HealthCheck::default()
                }),
                networks: networks.into_iter().map(|n| (n, None)).collect(),
                volumes,
                depends_on,
                stop_grace_period,
                init,
                extensions,
                read_only,
                ..ServiceConfig::default()
            }
        })
}

fn stack() -> impl Strategy<Value = ComposeConfig> {
    (
        prop::collection::btree_map(
            name(),
            (prop::option::of(name()), string_map(), any::<bool>(), any::<bool>()),
            0..3,
        ),
        prop::collection::btree_set(name(), 1..3),
        prop::collection::btree_set(name(), 1..4),
        extensions(),
    )
        .prop_flat_map(|(networks, volume_names, service_names, top_extensions)| {
            let network_names: Vec<String> = networks.keys().cloned().collect();
            let volume_names: Vec<String> = volume_names.into_iter().collect();
            let services: Vec<_> = service_names
                .iter()
                .enumerate()
                .map(|(index, name)| {
                    let earlier: Vec<String> = service_names.iter().take(index).cloned().collect();
                    (Just(name.clone()), service(network_names.clone(), volume_names.clone(), earlier))
                })
                .collect();
            (Just(networks), Just(volume_names), services, Just(top_extensions))
        })
        .prop_map(|(networks, volume_names, services, extensions)| ComposeConfig {
            version: "3.13".to_owned(),
            services: services.into_iter().collect(),
            networks: networks
                .into_iter()
                .map(|(key, (driver, labels, external, attachable))| {
                    let network = if external {
                        NetworkConfig { name: key.clone(), external: External(true), ..NetworkConfig::default() }
                    } else {
                        NetworkConfig {
                            driver: driver.unwrap_or_default(),
                            labels,
                            attachable,
                            ..NetworkConfig::default()
                        }
                    };
                    (key, network)
                })
                .collect(),
            volumes: volume_names.into_iter().map(|name| (name, VolumeConfig::default())).collect(),
            secrets: BTreeMap::new(),
            configs: BTreeMap::new(),
            extensions,
        })
}

fn reload(text: &str) -> Result<ComposeConfig, ComposeError> {
    let files = [SourceFile { name: "printed.yml", text }];
    load(&LoadInput {
        files: &files,
        working_dir: "/stack",
        environment: &BTreeMap::new(),
        files_reader: &InMemoryFiles::default(),
        skip_interpolation: true,
    })
    .map(|loaded| loaded.config)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn printed_stacks_load_back_to_the_same_model(config in stack()) {
        let text = config_text(&config);
        let loaded = reload(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&loaded, &config, "{}", text);
        prop_assert_eq!(config_text(&loaded), text);
    }
}

/// `stack config` prints an integral float as Docker does (`0.0` as `0`); it loads back as an integer, which is the
/// same extension value (found by the compose_structured fuzz target).
#[test]
fn an_integral_float_extension_prints_and_loads_back_as_the_same_value() {
    let source = "services:\n  web:\n    image: nginx\n    x-extra: {spread: 0.0, ratio: 2.5}\nx-top: 3.0\n";
    let loaded = reload(source).expect("loads");
    let printed = config_text(&loaded);
    assert_eq!(reload(&printed).expect("printed loads back"), loaded, "printed:\n{printed}");
    assert_ne!(ExtensionValue::Float(0.5), ExtensionValue::Int(0));
}
