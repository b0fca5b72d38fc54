//! `docker service update [flags] SERVICE` applied to the service's current spec: only the flags given change
//! anything; removals (`--*-rm`) and additions (`--*-add`) combine in Docker's order (the container options' in
//! `container_options`, secrets' and configs' in `files`); the result is checked with
//! core's `ServiceSpec::validate`. `--rollback` and `--force` are not spec edits: see `rollback_requested` and
//! `wants_force`.

use std::collections::{BTreeMap, BTreeSet};

use swarm_core::spec::{Mount, PortConfig, ServiceMode, ServiceSpec, SpecError};

use super::container_options;
use super::error::SpecFlagsError;
use super::files;
use super::flags::{SharedFlags, UpdateFlags};
use super::shared::{apply_shared, given, parse_labels, process_env, EnvLookup};
use crate::parse::{
    env_key, parse_env, parse_mount, parse_network, parse_placement_pref, parse_port_spec, parse_uint,
    split_shell_words, FlagError,
};

/// The spec `docker service update [flags]` sends for a service whose spec is `current`: only flags given change
/// anything; removals (`--*-rm`) and additions (`--*-add`) combine in Docker's order (env, labels, placement
/// preferences: remove then add; constraints, mounts: add then remove; ports: remove, then add what the service did
/// not already have, sorted as Docker sorts them). Validated. `--rollback` is not a spec change: check
/// `rollback_requested` first; `--force` has no spec field: see `wants_force`.
pub fn apply_update(current: &ServiceSpec, flags: &UpdateFlags) -> Result<ServiceSpec, SpecFlagsError> {
    update_with_env(current, flags, &process_env)
}

/// `--rollback`: `Ok(true)` when given alone (`-d` and `-q` aside) — the manager then rolls the service back to its
/// previous spec, which `apply_update` cannot compute — and Docker's error when combined with other flags.
pub fn rollback_requested(flags: &UpdateFlags) -> Result<bool, SpecFlagsError> {
    if !flags.rollback {
        return Ok(false);
    }
    let mut others = flags.clone();
    others.rollback = false;
    others.detach = false;
    others.quiet = false;
    if others != UpdateFlags::default() {
        return Err(SpecFlagsError::RollbackWithOtherFlags);
    }
    Ok(true)
}

/// `--force`: Docker increments `TaskTemplate.ForceUpdate` so every task is replaced even when nothing else
/// changed. `swarm_core`'s `TaskSpec` has no such counter yet, so the caller must carry this bit to the manager.
pub fn wants_force(flags: &UpdateFlags) -> bool {
    flags.force
}

pub(super) fn update_with_env(
    current: &ServiceSpec,
    flags: &UpdateFlags,
    env: EnvLookup,
) -> Result<ServiceSpec, SpecFlagsError> {
    if flags.rollback {
        return Err(SpecFlagsError::RollbackIsNotAnEdit);
    }
    let mut spec = current.clone();
    let shared = &flags.shared;
    update_mode(&mut spec.mode, shared)?;

    update_labels(&mut spec.labels, "--label-add", &flags.label_add, &flags.label_rm)?;

    let container = &mut spec.task_template.container_spec;
    if let Some(image) = &flags.image {
        container.image = image.clone();
    }
    if let Some(args) = &flags.args {
        container.args = split_shell_words(args).map_err(|e| FlagError::new("--args", args, e))?;
    }
    update_labels(
        &mut container.labels,
        "--container-label-add",
        &flags.container_label_add,
        &flags.container_label_rm,
    )?;
    if !flags.env_add.is_empty() || !flags.env_rm.is_empty() {
        container.env.retain(|entry| !flags.env_rm.iter().any(|key| key == env_key(entry)));
        for text in &flags.env_add {
            let entry = parse_env(text, env).map_err(|e| FlagError::new("--env-add", text, e))?;
            match container.env.iter_mut().find(|current| env_key(current) == env_key(&entry)) {
                Some(slot) => *slot = entry,
                None => container.env.push(entry),
            }
        }
    }
    if !flags.mount_add.is_empty() || !flags.mount_rm.is_empty() {
        update_mounts(&mut container.mounts, &flags.mount_add, &flags.mount_rm)?;
    }

    let placement = &mut spec.task_template.placement;
    if !flags.constraint_add.is_empty() || !flags.constraint_rm.is_empty() {
        placement.constraints.extend(flags.constraint_add.iter().cloned());
        placement.constraints.retain(|constraint| !flags.constraint_rm.contains(constraint));
    }
    if !flags.placement_pref_rm.is_empty() {
        let removals = flags
            .placement_pref_rm
            .iter()
            .map(|text| parse_placement_pref(text).map_err(|e| FlagError::new("--placement-pref-rm", text, e)))
            .collect::<Result<Vec<_>, _>>()?;
        placement.preferences.retain(|preference| !removals.contains(preference));
    }
    for text in &flags.placement_pref_add {
        placement
            .preferences
            .push(parse_placement_pref(text).map_err(|e| FlagError::new("--placement-pref-add", text, e))?);
    }

    if !flags.network_add.is_empty() || !flags.network_rm.is_empty() {
        let networks = &mut spec.task_template.networks;
        networks.retain(|network| !flags.network_rm.contains(&network.target));
        for text in &flags.network_add {
            let network = parse_network(text).map_err(|e| FlagError::new("--network-add", text, e))?;
            if networks.iter().any(|existing| existing.target == network.target) {
                return Err(SpecFlagsError::AlreadyAttached { target: network.target });
            }
            networks.push(network);
        }
        networks.sort_by(|a, b| a.target.cmp(&b.target));
    }

    if !flags.publish_add.is_empty() || !flags.publish_rm.is_empty() {
        update_ports(&mut spec.endpoint_spec.ports, &flags.publish_add, &flags.publish_rm)?;
    }

    container_options::apply_update(&mut spec, flags, env)?;
    files::apply_update(&mut spec, flags)?;
    apply_shared(&mut spec, shared)?;
    spec.validate()?;
    Ok(spec)
}

/// `--replicas` sets a replicated service's replicas or a replicated job's total completions; `--max-concurrent`
/// only applies to a replicated job.
fn update_mode(mode: &mut ServiceMode, shared: &SharedFlags) -> Result<(), SpecFlagsError> {
    let replicas = given("--replicas", &shared.replicas, parse_uint)?;
    let max_concurrent = given("--max-concurrent", &shared.max_concurrent, parse_uint)?;
    match mode {
        ServiceMode::ReplicatedJob { max_concurrent: current_max, total_completions } => {
            if let Some(value) = max_concurrent {
                *current_max = value;
            }
            if let Some(value) = replicas {
                *total_completions = value;
            }
        }
        ServiceMode::Replicated { replicas: current } => {
            if max_concurrent.is_some() {
                return Err(SpecError::MaxConcurrentNotAllowed.into());
            }
            if let Some(value) = replicas {
                *current = value;
            }
        }
        ServiceMode::Global | ServiceMode::GlobalJob => {
            if replicas.is_some() {
                return Err(SpecError::ReplicasNotAllowed.into());
            }
            if max_concurrent.is_some() {
                return Err(SpecError::MaxConcurrentNotAllowed.into());
            }
        }
    }
    Ok(())
}

/// Removes the `remove` keys, then sets the `add` labels.
fn update_labels(
    labels: &mut BTreeMap<String, String>,
    add_flag: &str,
    add: &[String],
    remove: &[String],
) -> Result<(), FlagError> {
    for key in remove {
        labels.remove(key);
    }
    labels.extend(parse_labels(add_flag, add)?);
    Ok(())
}

/// Docker's `updateMounts`: added mounts replace existing ones with the same target, then `remove` targets go; the
/// result is sorted by source, then target.
fn update_mounts(mounts: &mut Vec<Mount>, add: &[String], remove: &[String]) -> Result<(), SpecFlagsError> {
    let mut by_target: BTreeMap<String, Mount> = BTreeMap::new();
    for text in add {
        let mount = parse_mount(text).map_err(|e| FlagError::new("--mount-add", text, e))?;
        if by_target.contains_key(&mount.target) {
            return Err(SpecFlagsError::DuplicateMountTarget);
        }
        by_target.insert(mount.target.clone(), mount);
    }
    for mount in mounts.iter() {
        by_target.entry(mount.target.clone()).or_insert_with(|| mount.clone());
    }
    let mut updated: Vec<Mount> = by_target.into_values().filter(|mount| !remove.contains(&mount.target)).collect();
    updated.sort_by(|a, b| (&a.source, &a.target).cmp(&(&b.source, &b.target)));
    *mounts = updated;
    Ok(())
}

/// Docker's `updatePorts`: drop ports matching a `--publish-rm` (same target port and protocol), add each
/// `--publish-add` port the service did not already have (before removals, as Docker checks), then sort by
/// `published:target/protocol/mode`. Unlike Docker, a removal matches whatever the publish mode, so a host-mode
/// port is removable by the short form `--publish-rm 80` (which parses as ingress).
fn update_ports(ports: &mut Vec<PortConfig>, add: &[String], remove: &[String]) -> Result<(), FlagError> {
    let mut removals = Vec::new();
    for text in remove {
        removals.extend(parse_port_spec(text).map_err(|e| FlagError::new("--publish-rm", text, e))?);
    }
    let mut existing = BTreeSet::new();
    let mut updated = Vec::new();
    for port in ports.iter() {
        if existing.insert(port_key(port)) {
            updated.push(port.clone());
        }
    }
    updated.retain(|port: &PortConfig| {
        !removals.iter().any(|removal| removal.target_port == port.target_port && removal.protocol == port.protocol)
    });
    for text in add {
        for port in parse_port_spec(text).map_err(|e| FlagError::new("--publish-add", text, e))? {
            if !existing.contains(&port_key(&port)) {
                updated.push(port);
            }
        }
    }
    updated.sort_by_key(port_key);
    *ports = updated;
    Ok(())
}

fn port_key(port: &PortConfig) -> String {
    format!("{}:{}/{}/{}", port.published_port, port.target_port, port.protocol, port.publish_mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use swarm_core::spec::{
        HealthConfig, MountType, NetworkAttachmentConfig, PortProtocol, PublishMode, RestartCondition, UpdateConfig,
        SECOND_NS,
    };

    use crate::parse::testing::{mount, port, strings};
    use crate::service_flags::testing::{create, update, UpdateCli};

    fn web() -> ServiceSpec {
        let mut spec = ServiceSpec::replicated("web", "nginx:1.25", 2);
        spec.task_template.container_spec.env = strings(&["A=1", "B=2"]);
        spec
    }

    #[test]
    fn update_env_add_and_rm() {
        let spec = update(&web(), &["--env-add", "A=2", "--env-rm", "B"]).unwrap();
        assert_eq!(spec.task_template.container_spec.env, strings(&["A=2"]));
        let mut expected = web();
        expected.task_template.container_spec.env = strings(&["A=2"]);
        assert_eq!(spec, expected, "nothing else changes");

        let spec = update(&web(), &["--env-add", "C=3", "--env-add", "HOME", "--env-rm", "A=1"]).unwrap();
        assert_eq!(spec.task_template.container_spec.env, strings(&["A=1", "B=2", "C=3", "HOME=/root"]));
    }

    #[test]
    fn update_without_flags_changes_nothing() {
        assert_eq!(update(&web(), &[]), Ok(web()));
        assert_eq!(update(&web(), &["-d", "-q", "--with-registry-auth"]), Ok(web()));
    }

    #[test]
    fn update_scalar_flags() {
        let spec = update(
            &web(),
            &[
                "--image",
                "nginx:1.26",
                "--replicas",
                "5",
                "--args",
                "-g 'daemon off;'",
                "--entrypoint",
                "",
                "--limit-memory",
                "256m",
                "--update-parallelism",
                "3",
                "--rollback-monitor",
                "1m",
                "--restart-condition",
                "none",
                "--stop-grace-period",
                "1m30s",
                "--user",
                "nobody",
            ],
        )
        .unwrap();
        let mut expected = web();
        expected.mode = ServiceMode::Replicated { replicas: 5 };
        let container = &mut expected.task_template.container_spec;
        container.image = "nginx:1.26".into();
        container.args = strings(&["-g", "daemon off;"]);
        container.stop_grace_period_ns = 90 * SECOND_NS;
        container.user = "nobody".into();
        expected.task_template.resources.limits.memory_bytes = 256 << 20;
        expected.task_template.restart_policy.condition = RestartCondition::None;
        expected.update_config.as_mut().unwrap().parallelism = 3;
        expected.rollback_config.as_mut().unwrap().monitor_ns = 60 * SECOND_NS;
        assert_eq!(spec, expected);
    }

    #[test]
    fn update_configs_start_from_defaults_when_unset() {
        let mut current = web();
        current.update_config = None;
        current.rollback_config = None;
        let spec = update(&current, &["--update-delay", "10s"]).unwrap();
        assert_eq!(spec.update_config, Some(UpdateConfig { delay_ns: 10 * SECOND_NS, ..UpdateConfig::default() }));
        assert_eq!(spec.rollback_config, None);
    }

    #[test]
    fn update_mode_flags() {
        let job = ServiceSpec::replicated_job("j", "busybox", 1, 4);
        assert_eq!(
            update(&job, &["--replicas", "10", "--max-concurrent", "3"]).unwrap().mode,
            ServiceMode::ReplicatedJob { max_concurrent: 3, total_completions: 10 }
        );
        let global = ServiceSpec::global("g", "nginx");
        assert_eq!(
            update(&global, &["--replicas", "2"]),
            Err("replicas can only be used with replicated or replicated-job mode".to_string())
        );
        assert_eq!(
            update(&web(), &["--max-concurrent", "2"]),
            Err("max-concurrent can only be used with replicated-job mode".to_string())
        );
        assert_eq!(
            update(&global, &["--replicas-max-per-node", "1"]),
            Err("replicas-max-per-node can only be used with replicated or replicated-job mode".to_string())
        );
        assert_eq!(update(&job, &["--update-delay", "1s"]), Err("Jobs may not have an update config".to_string()));
    }

    #[test]
    fn update_labels_rm_then_add() {
        let mut current = web();
        current.labels = BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]);
        current.task_template.container_spec.labels = BTreeMap::from([("c".into(), "3".into())]);
        let spec = update(
            &current,
            &[
                "--label-rm",
                "a",
                "--label-add",
                "b=20",
                "--label-add",
                "d",
                "--container-label-rm",
                "c",
                "--container-label-add",
                "e=5",
            ],
        )
        .unwrap();
        assert_eq!(spec.labels, BTreeMap::from([("b".into(), "20".into()), ("d".into(), String::new())]));
        assert_eq!(spec.task_template.container_spec.labels, BTreeMap::from([("e".into(), "5".into())]));
        // Removing and re-adding the same key keeps the new value.
        let spec = update(&current, &["--label-rm", "a", "--label-add", "a=9"]).unwrap();
        assert_eq!(spec.labels["a"], "9");
    }

    #[test]
    fn update_placement() {
        let mut current = web();
        current.task_template.placement.constraints = strings(&["node.role==worker", "node.labels.zone==a"]);
        current.task_template.placement.preferences = vec![parse_placement_pref("spread=node.labels.zone").unwrap()];
        let spec = update(
            &current,
            &[
                "--constraint-add",
                "node.labels.disk==ssd",
                "--constraint-rm",
                "node.role==worker",
                "--placement-pref-rm",
                "spread=node.labels.zone",
                "--placement-pref-add",
                "spread=node.labels.rack",
            ],
        )
        .unwrap();
        assert_eq!(
            spec.task_template.placement.constraints,
            strings(&["node.labels.zone==a", "node.labels.disk==ssd"])
        );
        assert_eq!(
            spec.task_template.placement.preferences,
            vec![parse_placement_pref("spread=node.labels.rack").unwrap()]
        );
        // Docker applies constraint additions before removals.
        let spec = update(&current, &["--constraint-add", "node.id==x1", "--constraint-rm", "node.id==x1"]).unwrap();
        assert_eq!(spec.task_template.placement.constraints, current.task_template.placement.constraints);
    }

    #[test]
    fn update_ports() {
        use PortProtocol::{Tcp, Udp};
        use PublishMode::{Host, Ingress};
        // Ports added with `-p` are in ingress mode (the routing mesh); `--publish-rm` matches target port and
        // protocol only, whatever the mode.
        let created = create(&["--name", "web", "-p", "8080:80", "-p", "5353:53/udp", "nginx:1.25"]).unwrap();
        assert_eq!(created.endpoint_spec.ports, vec![port(8080, 80, Tcp, Ingress), port(5353, 53, Udp, Ingress)]);
        let sorted = vec![port(5353, 53, Udp, Ingress), port(8080, 80, Tcp, Ingress)];
        for removal in ["80", "8080:80", "80/tcp", "target=80", "target=80,mode=ingress", "target=80,mode=host"] {
            let spec = update(&created, &["--publish-rm", removal]).unwrap();
            assert_eq!(spec.endpoint_spec.ports, vec![port(5353, 53, Udp, Ingress)], "{removal}");
        }
        for removal in ["80/udp", "81", "53"] {
            let spec = update(&created, &["--publish-rm", removal]).unwrap();
            assert_eq!(spec.endpoint_spec.ports, sorted, "{removal}");
        }

        // `--publish-add` keeps the mode asked for; removals apply to the current ports only.
        let spec = update(
            &created,
            &[
                "--publish-rm",
                "80",
                "--publish-add",
                "8443:443",
                "--publish-rm",
                "53/udp",
                "--publish-add",
                "published=7000,target=70,mode=host",
            ],
        )
        .unwrap();
        assert_eq!(spec.endpoint_spec.ports, vec![port(7000, 70, Tcp, Host), port(8443, 443, Tcp, Ingress)]);

        // A host-mode port is removed the same way.
        let mut current = created.clone();
        current.endpoint_spec.ports.push(port(9000, 90, Tcp, Host));
        for removal in ["90", "target=90,mode=ingress"] {
            let spec = update(&current, &["--publish-rm", removal]).unwrap();
            assert_eq!(spec.endpoint_spec.ports, sorted, "{removal}");
        }

        // Adding a port the service already has is a no-op; ports sort as "published:target/protocol/mode".
        let spec = update(&current, &["--publish-add", "8080:80", "--publish-add", "10000:100"]).unwrap();
        let keys: Vec<String> = spec.endpoint_spec.ports.iter().map(port_key).collect();
        assert_eq!(
            keys,
            strings(&["10000:100/tcp/ingress", "5353:53/udp/ingress", "8080:80/tcp/ingress", "9000:90/tcp/host"])
        );
        assert_eq!(
            update(&current, &["--publish-add", "8080:81"]),
            Err("EndpointSpec: duplicate published ports provided: 8080/tcp".to_string())
        );
        // A port without a number is sent as 0: the store assigns one from 30000-32767.
        let spec = update(&current, &["--publish-add", "81"]).unwrap();
        assert!(spec.endpoint_spec.ports.contains(&PortConfig { target_port: 81, ..PortConfig::default() }));
    }

    #[test]
    fn update_mounts() {
        let mut current = web();
        current.task_template.container_spec.mounts =
            vec![mount(MountType::Volume, "data", "/data", false), mount(MountType::Volume, "logs", "/logs", false)];
        let spec = update(
            &current,
            &[
                "--mount-add",
                "type=volume,source=data2,target=/data",
                "--mount-add",
                "type=tmpfs,target=/tmp",
                "--mount-rm",
                "/logs",
            ],
        )
        .unwrap();
        assert_eq!(
            spec.task_template.container_spec.mounts,
            vec![mount(MountType::Tmpfs, "", "/tmp", false), mount(MountType::Volume, "data2", "/data", false)]
        );
        assert_eq!(
            update(&current, &["--mount-add", "target=/x", "--mount-add", "source=y,target=/x"]),
            Err("duplicate mount target".to_string())
        );
    }

    #[test]
    fn update_networks() {
        let mut current = web();
        current.task_template.networks =
            vec![NetworkAttachmentConfig::new("front"), NetworkAttachmentConfig::new("mid")];
        let spec = update(&current, &["--network-rm", "front", "--network-add", "back"]).unwrap();
        assert_eq!(
            spec.task_template.networks,
            vec![NetworkAttachmentConfig::new("back"), NetworkAttachmentConfig::new("mid")]
        );
        assert_eq!(
            update(&current, &["--network-add", "mid"]),
            Err("service is already attached to network mid".to_string())
        );
    }

    #[test]
    fn update_healthcheck() {
        let mut current = web();
        current.task_template.container_spec.healthcheck =
            Some(HealthConfig { test: strings(&["NONE"]), ..HealthConfig::default() });
        let spec = update(&current, &["--health-interval", "3s"]).unwrap();
        assert_eq!(
            spec.task_template.container_spec.healthcheck,
            Some(HealthConfig { interval_ns: 3 * SECOND_NS, ..HealthConfig::default() }),
            "a NONE test is cleared by any health setting"
        );
        let spec = update(&spec, &["--health-cmd", "true"]).unwrap();
        assert_eq!(
            spec.task_template.container_spec.healthcheck,
            Some(HealthConfig {
                test: strings(&["CMD-SHELL", "true"]),
                interval_ns: 3 * SECOND_NS,
                ..HealthConfig::default()
            })
        );
        let spec = update(&spec, &["--no-healthcheck"]).unwrap();
        assert_eq!(spec.task_template.container_spec.healthcheck, current.task_template.container_spec.healthcheck);
    }

    #[test]
    fn update_errors_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--update-delay", "soon"],
                r#"invalid argument "soon" for "--update-delay" flag: time: invalid duration "soon""#,
            ),
            (
                &["--args", "\"open"],
                r#"invalid argument "\"open" for "--args" flag: EOF found when expecting closing quote"#,
            ),
            (&["--env-add", "=x"], r#"invalid argument "=x" for "--env-add" flag: invalid environment variable: =x"#),
            (&["--label-add", " "], r#"invalid argument " " for "--label-add" flag: invalid label ' ': empty name"#),
            (
                &["--mount-add", "type=bind"],
                r#"invalid argument "type=bind" for "--mount-add" flag: target is required"#,
            ),
            (
                &["--publish-rm", "x/tcp"],
                r#"invalid argument "x/tcp" for "--publish-rm" flag: invalid containerPort: x"#,
            ),
            (&["--image", "UPPER"], r#"ContainerSpec: "UPPER" is not a valid repository/tag"#),
        ];
        for (argv, expected) in cases {
            assert_eq!(update(&web(), argv), Err(expected.to_string()), "{argv:?}");
        }
    }

    #[test]
    fn rollback_and_force() {
        let parse = |argv: &[&str]| {
            let argv = std::iter::once("update").chain(argv.iter().copied()).chain(["web"]);
            UpdateCli::try_parse_from(argv).unwrap().flags
        };
        assert_eq!(rollback_requested(&parse(&[])).map_err(|e| e.to_string()), Ok(false));
        assert_eq!(rollback_requested(&parse(&["--rollback", "-d", "-q"])).map_err(|e| e.to_string()), Ok(true));
        assert_eq!(
            rollback_requested(&parse(&["--rollback", "--replicas", "2"])).map_err(|e| e.to_string()),
            Err("other flags may not be combined with --rollback".to_string())
        );
        assert!(apply_update(&web(), &parse(&["--rollback"])).is_err());
        assert!(wants_force(&parse(&["--force"])));
        assert!(!wants_force(&parse(&[])));
        assert_eq!(apply_update(&web(), &parse(&["--force"])).map_err(|e| e.to_string()), Ok(web()));
    }
}
