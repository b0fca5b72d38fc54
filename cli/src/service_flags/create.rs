//! `docker service create [flags] IMAGE [ARGS...]` as a spec: the mode from `--mode`/`--replicas`/
//! `--max-concurrent`, COMMAND and ARGS, labels, env files then `-e`, mounts, placement, networks and published
//! ports, the container options (`container_options`), secrets and configs (`files`), then the flags both commands
//! share; checked with core's `ServiceSpec::validate_before_naming` (the daemon names a service created without
//! `--name`).

use swarm_core::spec::{HealthConfig, ServiceMode, ServiceSpec};

use super::container_options;
use super::error::SpecFlagsError;
use super::files;
use super::flags::CreateFlags;
use super::shared::{apply_shared, given, parse_labels, process_env, read_env_file, EnvLookup};
use crate::parse::{
    merge_env, parse_env, parse_mount, parse_network, parse_placement_pref, parse_port_spec, parse_uint, FlagError,
};

/// The spec `docker service create [flags] IMAGE [ARGS...]` sends: mode from `--mode`/`--replicas`/
/// `--max-concurrent` (1 replica by default), COMMAND and ARGS in the container's `args` (Docker's `Args`), the
/// shell-word-split `--entrypoint` in `command`, env files read before `-e` (a later KEY wins), networks sorted by
/// target; validated. Callers pass `flags.image()` and `flags.command()`. A bare `KEY` in `-e` or an env file takes
/// its value from this process's environment.
pub fn spec_from_create(flags: &CreateFlags, image: &str, args: &[String]) -> Result<ServiceSpec, SpecFlagsError> {
    create_with_env(flags, image, args, &process_env)
}

pub(super) fn create_with_env(
    flags: &CreateFlags,
    image: &str,
    args: &[String],
    env: EnvLookup,
) -> Result<ServiceSpec, SpecFlagsError> {
    let shared = &flags.shared;
    let replicas = given("--replicas", &shared.replicas, parse_uint)?;
    let max_concurrent = given("--max-concurrent", &shared.max_concurrent, parse_uint)?;
    let max_per_node = given("--replicas-max-per-node", &shared.replicas_max_per_node, parse_uint)?;
    let mode_name = flags.mode.as_deref().unwrap_or("replicated");
    let mode = ServiceMode::from_flags(mode_name, replicas, max_concurrent, max_per_node.unwrap_or(0))?;

    let mut spec = ServiceSpec::with_mode(flags.name.clone().unwrap_or_default(), image, mode);
    spec.labels = parse_labels("-l, --label", &flags.label)?;

    let mut env_entries = Vec::new();
    for path in &flags.env_file {
        env_entries.extend(read_env_file(path, env)?);
    }
    for text in &flags.env {
        env_entries.push(parse_env(text, env).map_err(|e| FlagError::new("-e, --env", text, e))?);
    }

    let container = &mut spec.task_template.container_spec;
    container.labels = parse_labels("--container-label", &flags.container_label)?;
    container.args = args.to_vec();
    container.env = merge_env(env_entries);
    container.mounts = flags
        .mount
        .iter()
        .map(|text| parse_mount(text).map_err(|e| FlagError::new("--mount", text, e)))
        .collect::<Result<_, _>>()?;

    let placement = &mut spec.task_template.placement;
    placement.constraints = flags.constraint.clone();
    placement.preferences = flags
        .placement_pref
        .iter()
        .map(|text| parse_placement_pref(text).map_err(|e| FlagError::new("--placement-pref", text, e)))
        .collect::<Result<_, _>>()?;

    let mut networks = flags
        .network
        .iter()
        .map(|text| parse_network(text).map_err(|e| FlagError::new("--network", text, e)))
        .collect::<Result<Vec<_>, _>>()?;
    networks.sort_by(|a, b| a.target.cmp(&b.target));
    spec.task_template.networks = networks;

    for text in &flags.publish {
        let ports = parse_port_spec(text).map_err(|e| FlagError::new("-p, --publish", text, e))?;
        spec.endpoint_spec.ports.extend(ports);
    }

    container_options::apply_create(&mut spec, flags, env)?;
    files::apply_create(&mut spec, flags)?;
    apply_shared(&mut spec, shared)?;
    // `docker service create` sends no healthcheck unless a setting is non-empty (`--health-cmd ""` alone).
    if spec.task_template.container_spec.healthcheck == Some(HealthConfig::default()) {
        spec.task_template.container_spec.healthcheck = None;
    }
    // Without --name the daemon generates one; the rest of the spec is checked here all the same.
    spec.validate_before_naming()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use swarm_core::spec::{
        FailureAction, FailureRatio, HealthConfig, MountType, NetworkAttachmentConfig, PortProtocol, PublishMode,
        ResolutionMode, RestartCondition, ServiceMode, SpecError, UpdateOrder, DEFAULT_STOP_GRACE_PERIOD_NS, SECOND_NS,
    };

    use crate::parse::testing::{mount, port, strings};
    use crate::service_flags::testing::{create, create_flags};

    #[test]
    fn create_round_trip() {
        let spec = create(&[
            "--name",
            "web",
            "--replicas",
            "3",
            "-p",
            "8080:80",
            "--env",
            "A=1",
            "--constraint",
            "node.role==manager",
            "--update-order",
            "start-first",
            "nginx:1.25",
        ])
        .unwrap();
        let mut expected = ServiceSpec::replicated("web", "nginx:1.25", 3);
        // `-p` publishes through the routing mesh (ingress mode), as Docker's does.
        expected.endpoint_spec.ports = vec![port(8080, 80, PortProtocol::Tcp, PublishMode::Ingress)];
        expected.task_template.container_spec.env = strings(&["A=1"]);
        expected.task_template.placement.constraints = strings(&["node.role==manager"]);
        expected.update_config.as_mut().unwrap().order = UpdateOrder::StartFirst;
        expected.task_template.container_spec.init = Some(false);
        assert_eq!(spec, expected);
    }

    /// `spec` as `docker service create` sends it: with `Init: false`.
    fn from_cli(mut spec: ServiceSpec) -> ServiceSpec {
        spec.task_template.container_spec.init = Some(false);
        spec
    }

    #[test]
    fn create_defaults_match_docker() {
        let spec = create(&["--name", "web", "nginx"]).unwrap();
        assert_eq!(spec, from_cli(ServiceSpec::replicated("web", "nginx", 1)));
        assert_eq!(spec.task_template.container_spec.stop_grace_period_ns, DEFAULT_STOP_GRACE_PERIOD_NS);
        assert_eq!(spec.task_template.container_spec.healthcheck, None);
        assert_eq!(
            create(&["--name", "g", "--mode", "global", "nginx"]).unwrap(),
            from_cli(ServiceSpec::global("g", "nginx"))
        );
        assert_eq!(
            create(&["--name", "j", "--mode", "replicated-job", "--replicas", "5", "busybox"]).unwrap(),
            from_cli(ServiceSpec::replicated_job("j", "busybox", 5, 5))
        );
        assert_eq!(
            create(&["--name", "j", "--mode", "replicated-job", "--max-concurrent", "2", "--replicas", "6", "busybox"])
                .unwrap(),
            from_cli(ServiceSpec::replicated_job("j", "busybox", 2, 6))
        );
        assert_eq!(
            create(&["--name", "gj", "--mode", "global-job", "busybox"]).unwrap(),
            from_cli(ServiceSpec::global_job("gj", "busybox"))
        );
    }

    #[test]
    fn create_takes_command_and_args_verbatim() {
        let spec = create(&["--name", "x", "img", "sh", "-c", "echo hi"]).unwrap();
        assert_eq!(spec.task_template.container_spec.args, strings(&["sh", "-c", "echo hi"]));
        assert!(spec.task_template.container_spec.command.is_empty());
        // Flags after IMAGE belong to the command, as with Docker.
        let spec = create(&["--name", "x", "img", "app", "--replicas", "3"]).unwrap();
        assert_eq!(spec.task_template.container_spec.args, strings(&["app", "--replicas", "3"]));
        assert_eq!(spec.mode, ServiceMode::Replicated { replicas: 1 });
        let spec = create(&["--name", "x", "img", "-d", "--", "x"]).unwrap();
        assert_eq!(spec.task_template.container_spec.args, strings(&["-d", "--", "x"]));
        let spec = create(&["--name", "x", "--", "img", "--help"]).unwrap();
        assert_eq!(spec.task_template.container_spec.args, strings(&["--help"]));
        let spec = create(&["--name", "x", "--entrypoint", "/bin/sh -c", "img", "echo hi"]).unwrap();
        assert_eq!(spec.task_template.container_spec.command, strings(&["/bin/sh", "-c"]));
        assert_eq!(spec.task_template.container_spec.args, strings(&["echo hi"]));
    }

    #[test]
    fn create_maps_every_modelled_flag() {
        let spec = create(&[
            "--name=api",
            "-l",
            "tier=backend",
            "--label",
            "owner",
            "--container-label",
            "c=1",
            "-e",
            "HOME",
            "-e",
            "UNSET",
            "--placement-pref",
            "spread=node.labels.zone",
            "--replicas-max-per-node",
            "2",
            "--reserve-cpu",
            "0.25",
            "--reserve-memory",
            "64m",
            "--limit-cpu",
            "1.5",
            "--limit-memory",
            "1g",
            "--restart-condition",
            "on-failure",
            "--restart-delay",
            "10s",
            "--restart-max-attempts",
            "3",
            "--restart-window",
            "1m",
            "--update-parallelism",
            "2",
            "--update-delay",
            "5s",
            "--update-failure-action",
            "rollback",
            "--update-monitor",
            "30s",
            "--update-max-failure-ratio",
            "0.25",
            "--rollback-parallelism",
            "0",
            "--rollback-delay",
            "1s",
            "--rollback-failure-action",
            "continue",
            "--rollback-monitor",
            "2s",
            "--rollback-max-failure-ratio",
            "0.5",
            "--rollback-order",
            "start-first",
            "-p",
            "published=53,target=53,protocol=udp,mode=host",
            "--stop-grace-period",
            "30s",
            "--hostname",
            "api-host",
            "--mount",
            "type=volume,source=data,target=/data",
            "--mount",
            "type=tmpfs,target=/tmp",
            "--health-cmd",
            "curl -f http://localhost/",
            "--health-interval",
            "10s",
            "--health-timeout",
            "2s",
            "--health-retries",
            "4",
            "--health-start-period",
            "1m",
            "-u",
            "1000:1000",
            "-w",
            "/srv",
            "--network",
            "zeta",
            "--network",
            "name=alpha,alias=db",
            "--endpoint-mode",
            "DNSRR",
            "-d",
            "-q",
            "--with-registry-auth",
            "registry.example.com:5000/team/api:v2",
        ])
        .unwrap();

        assert_eq!(spec.name, "api");
        assert_eq!(spec.labels, BTreeMap::from([("owner".into(), String::new()), ("tier".into(), "backend".into())]));
        let task = &spec.task_template;
        let container = &task.container_spec;
        assert_eq!(container.image, "registry.example.com:5000/team/api:v2");
        assert_eq!(container.labels, BTreeMap::from([("c".into(), "1".into())]));
        assert_eq!(container.env, strings(&["HOME=/root", "UNSET"]));
        assert_eq!(container.hostname, "api-host");
        assert_eq!(container.user, "1000:1000");
        assert_eq!(container.dir, "/srv");
        assert_eq!(container.stop_grace_period_ns, 30 * SECOND_NS);
        assert_eq!(
            container.mounts,
            vec![mount(MountType::Volume, "data", "/data", false), mount(MountType::Tmpfs, "", "/tmp", false)]
        );
        assert_eq!(
            container.healthcheck,
            Some(HealthConfig {
                test: strings(&["CMD-SHELL", "curl -f http://localhost/"]),
                interval_ns: 10 * SECOND_NS,
                timeout_ns: 2 * SECOND_NS,
                retries: 4,
                start_period_ns: 60 * SECOND_NS,
            })
        );
        assert_eq!(task.resources.reservations.nano_cpus, 250_000_000);
        assert_eq!(task.resources.reservations.memory_bytes, 64 << 20);
        assert_eq!(task.resources.limits.nano_cpus, 1_500_000_000);
        assert_eq!(task.resources.limits.memory_bytes, 1 << 30);
        assert_eq!(task.restart_policy.condition, RestartCondition::OnFailure);
        assert_eq!(task.restart_policy.delay_ns, 10 * SECOND_NS);
        assert_eq!(task.restart_policy.max_attempts, 3);
        assert_eq!(task.restart_policy.window_ns, 60 * SECOND_NS);
        assert_eq!(task.placement.max_replicas, 2);
        assert_eq!(task.placement.preferences, vec![parse_placement_pref("spread=node.labels.zone").unwrap()]);
        assert_eq!(
            task.networks,
            vec![
                NetworkAttachmentConfig { target: "alpha".into(), aliases: strings(&["db"]) },
                NetworkAttachmentConfig::new("zeta")
            ]
        );
        let update = spec.update_config.as_ref().unwrap();
        assert_eq!(
            (update.parallelism, update.delay_ns, update.failure_action, update.monitor_ns, update.order),
            (2, 5 * SECOND_NS, FailureAction::Rollback, 30 * SECOND_NS, UpdateOrder::StopFirst)
        );
        assert_eq!(update.max_failure_ratio, FailureRatio(0.25));
        let rollback = spec.rollback_config.as_ref().unwrap();
        assert_eq!(
            (rollback.parallelism, rollback.delay_ns, rollback.failure_action, rollback.monitor_ns, rollback.order),
            (0, SECOND_NS, FailureAction::Continue, 2 * SECOND_NS, UpdateOrder::StartFirst)
        );
        assert_eq!(rollback.max_failure_ratio, FailureRatio(0.5));
        assert_eq!(spec.endpoint_spec.mode, ResolutionMode::Dnsrr);
        assert_eq!(spec.endpoint_spec.ports, vec![port(53, 53, PortProtocol::Udp, PublishMode::Host)]);
    }

    #[test]
    fn create_env_files_come_before_env_and_later_keys_win() {
        let path = std::env::temp_dir().join(format!("swarm-service-flags-create-{}.env", std::process::id()));
        std::fs::write(&path, "A=file\nB=file\nTOKEN\n").unwrap();
        let path_text = path.to_str().unwrap();
        let spec = create(&["--name", "x", "--env-file", path_text, "-e", "A=flag", "-e", "C=3", "img"]);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            spec.unwrap().task_template.container_spec.env,
            strings(&["B=file", "TOKEN=secret", "A=flag", "C=3"])
        );
    }

    #[test]
    fn create_healthcheck_flags() {
        let health = |argv: &[&str]| {
            let mut full = vec!["--name", "x"];
            full.extend_from_slice(argv);
            full.push("img");
            create(&full).map(|spec| spec.task_template.container_spec.healthcheck)
        };
        assert_eq!(
            health(&["--no-healthcheck"]),
            Ok(Some(HealthConfig { test: strings(&["NONE"]), ..HealthConfig::default() }))
        );
        assert_eq!(
            health(&["--no-healthcheck", "--health-retries", "3"]),
            Err("--no-healthcheck conflicts with --health-* options".to_string())
        );
        assert_eq!(health(&["--health-cmd", ""]), Ok(None));
        assert_eq!(
            health(&["--health-interval", "5s"]),
            Ok(Some(HealthConfig { interval_ns: 5 * SECOND_NS, ..HealthConfig::default() }))
        );
        assert_eq!(
            health(&["--health-retries", "-1"]),
            Err(r#"invalid argument "-1" for "--health-retries" flag: Retries in Healthcheck cannot be negative"#
                .to_string())
        );
        assert_eq!(
            health(&["--health-interval", "-1s"]),
            Err(r#"invalid argument "-1s" for "--health-interval" flag: duration cannot be negative"#.to_string())
        );
    }

    #[test]
    fn create_errors_name_the_flag_and_value() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--restart-delay", "5x"],
                r#"invalid argument "5x" for "--restart-delay" flag: time: unknown unit "x" in duration "5x""#,
            ),
            (
                &["--replicas", "three"],
                r#"invalid argument "three" for "--replicas" flag: strconv.ParseUint: parsing "three": invalid syntax"#,
            ),
            (&["--limit-memory", "1x"], r#"invalid argument "1x" for "--limit-memory" flag: invalid suffix: 'x'"#),
            (
                &["--reserve-cpu", "lots"],
                r#"invalid argument "lots" for "--reserve-cpu" flag: failed to parse lots as a rational number"#,
            ),
            (
                &["--update-max-failure-ratio", "half"],
                r#"invalid argument "half" for "--update-max-failure-ratio" flag: strconv.ParseFloat: parsing "half": invalid syntax"#,
            ),
            (
                &["--restart-condition", "always"],
                r#"invalid argument "always" for "--restart-condition" flag: expected one of none, on-failure, any"#,
            ),
            (
                &["--update-order", "random"],
                r#"invalid argument "random" for "--update-order" flag: expected one of stop-first, start-first"#,
            ),
            (
                &["--rollback-failure-action", "explode"],
                r#"invalid argument "explode" for "--rollback-failure-action" flag: expected one of pause, continue, rollback"#,
            ),
            (
                &["--endpoint-mode", "anycast"],
                r#"invalid argument "anycast" for "--endpoint-mode" flag: expected one of vip, dnsrr"#,
            ),
            (&["-e", "=1"], r#"invalid argument "=1" for "-e, --env" flag: invalid environment variable: =1"#),
            (&["-l", "a b"], r#"invalid argument "a b" for "-l, --label" flag: label 'a b' contains whitespaces"#),
            (&["-p", "8080:80/foo"], r#"invalid argument "8080:80/foo" for "-p, --publish" flag: invalid proto: foo"#),
            (&["--mount", "type=bind"], r#"invalid argument "type=bind" for "--mount" flag: target is required"#),
            (
                &["--entrypoint", "'sh"],
                r#"invalid argument "'sh" for "--entrypoint" flag: EOF found when expecting closing quote"#,
            ),
            (
                &["--placement-pref", "zone"],
                r#"invalid argument "zone" for "--placement-pref" flag: placement preference must be of the format "<strategy>=<arg>""#,
            ),
            // Mode checks, in Docker's (and core's) wording.
            (
                &["--mode", "global", "--replicas", "2"],
                "replicas can only be used with replicated or replicated-job mode",
            ),
            (&["--max-concurrent", "2"], "max-concurrent can only be used with replicated-job mode"),
            (
                &["--mode", "global", "--replicas-max-per-node", "1"],
                "replicas-max-per-node can only be used with replicated or replicated-job mode",
            ),
            (&["--mode", "daemonset"], "Unknown mode: daemonset, only replicated and global supported"),
            (&["--mode", "replicated-job", "--update-delay", "1s"], "Jobs may not have an update config"),
            // Spec validation.
            (&["--constraint", "node.role=manager"], r#"invalid constraint "node.role=manager": expected == or !="#),
            (&["--rollback-failure-action", "rollback"], SpecError::RollbackOnRollbackFailure.to_string().leak()),
            (
                &["--update-max-failure-ratio", "1.5"],
                "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1",
            ),
            (&["--reserve-memory", "1k"], "invalid memory value 1024: Must be at least 4MiB"),
            (&["-p", "8080:80", "-p", "8080:81"], "EndpointSpec: duplicate published ports provided: 8080/tcp"),
            (
                &["--mount", "type=bind,target=/x"],
                r#"invalid mount config for type "bind": field Source must not be empty"#,
            ),
            // Swarm refuses it: a dnsrr service has no VIP, and the mesh needs one address for the service.
            (
                &["--endpoint-mode", "dnsrr", "-p", "80:80"],
                "EndpointSpec: port published with ingress mode can't be used with dnsrr mode",
            ),
        ];
        for (argv, expected) in cases {
            let mut full = vec!["--name", "x"];
            full.extend_from_slice(argv);
            full.push("img");
            assert_eq!(create(&full), Err(expected.to_string()), "{argv:?}");
        }
        // dnsrr with a host-mode port is accepted.
        let spec =
            create(&["--name", "x", "--endpoint-mode", "dnsrr", "-p", "mode=host,published=80,target=80", "img"])
                .unwrap();
        assert_eq!(spec.endpoint_spec.mode, ResolutionMode::Dnsrr);
        assert_eq!(spec.endpoint_spec.ports, vec![port(80, 80, PortProtocol::Tcp, PublishMode::Host)]);
        // Without --name the spec goes unnamed (the daemon generates a name); the rest is still checked.
        assert_eq!(create(&["img"]).map(|spec| spec.name), Ok(String::new()));
        assert_eq!(
            create(&["--reserve-memory", "1k", "img"]),
            Err("invalid memory value 1024: Must be at least 4MiB".into())
        );
        assert_eq!(
            create(&["--name", "x", "Not_An_Image!"]),
            Err(r#"ContainerSpec: "Not_An_Image!" is not a valid repository/tag"#.to_string())
        );
    }

    #[test]
    fn spec_from_create_uses_the_given_image_and_args() {
        let flags = create_flags(&["--name", "x", "ignored-image"]);
        let spec = spec_from_create(&flags, "nginx", &strings(&["a"])).unwrap();
        assert_eq!(spec.task_template.container_spec.image, "nginx");
        assert_eq!(spec.task_template.container_spec.args, strings(&["a"]));
    }
}
