//! The create request of a task's container (`create_body`): the task's `ContainerSpec` as Docker's container
//! config — image, command, env, labels, mounts (tmpfs options included), resources, healthcheck, host-mode ports,
//! and the container options (stop signal, read-only root, init, capabilities, sysctls, ulimits, extra hosts, DNS,
//! log driver) — with the placeholders of Docker's service templates expanded. Pure: nothing here calls the
//! engine. The invariant it keeps: our labels are set after the spec's, so a spec cannot forge them.
//!
//! DNS: on a task without networks the spec's nameservers, search domains and options go to the container as
//! they are. On an overlay network `attach_first_network` makes this node's resolver (its gateway there) the
//! container's only server, so that service discovery keeps working; the spec's nameservers become that
//! resolver's upstreams for this task (`worker::dns`), the closest we get to Docker, whose embedded resolver
//! (127.0.0.11) stays in front and forwards to the `--dns` servers. Search domains and options still go to the
//! container's resolv.conf.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HealthConfig, HostConfig, HostConfigLogConfig, Mount as DockerMount, MountTmpfsOptions,
    MountType as DockerMountType, PortBinding, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};
use swarm_core::spec::{MountType, PublishMode, Ulimit, SECOND_NS};
use swarm_core::Task;

use super::{
    expand_template, service_name, TemplateContext, LABEL_CLUSTER_ID, LABEL_NODE_ID, LABEL_SERVICE_ID,
    LABEL_SERVICE_NAME, LABEL_TASK_ID, LABEL_TASK_SLOT,
};

/// Nanoseconds as Docker's JSON carries them; 0 (unset) becomes `None`.
fn nanos(value: u64) -> Option<i64> {
    (value != 0).then(|| i64::try_from(value).unwrap_or(i64::MAX))
}

/// The labels of `task`'s container: the spec's, then ours (which win).
fn container_labels(task: &Task, node_id: &str, cluster_id: &str) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> =
        task.spec.container_spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.insert(LABEL_CLUSTER_ID.to_string(), cluster_id.to_string());
    labels.insert(LABEL_NODE_ID.to_string(), node_id.to_string());
    labels.insert(LABEL_TASK_ID.to_string(), task.id.clone());
    labels.insert(LABEL_SERVICE_ID.to_string(), task.service_id.clone());
    labels.insert(LABEL_SERVICE_NAME.to_string(), service_name(task).to_string());
    match task.slot {
        Some(slot) => labels.insert(LABEL_TASK_SLOT.to_string(), slot.to_string()),
        None => labels.remove(LABEL_TASK_SLOT),
    };
    labels
}

/// Adds a read-only bind mount per secret or config file to a create request.
pub(super) fn add_file_mounts(body: &mut ContainerCreateBody, files: &[super::task_files::FileMount]) {
    if files.is_empty() {
        return;
    }
    let host_config = body.host_config.get_or_insert_with(HostConfig::default);
    let mounts = host_config.mounts.get_or_insert_with(Vec::new);
    mounts.extend(files.iter().map(|file| DockerMount {
        typ: Some(DockerMountType::BIND),
        source: Some(file.host_path.to_string_lossy().into_owned()),
        target: Some(file.container_path.clone()),
        read_only: Some(true),
        ..DockerMount::default()
    }));
}

/// The create request for `task`'s container running `image`.
pub(super) fn create_body(task: &Task, node_id: &str, cluster_id: &str, image: &str) -> ContainerCreateBody {
    let spec = &task.spec.container_spec;
    let context = TemplateContext::for_task(task, node_id);
    let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_string());
    let non_empty_list = |list: &[String]| (!list.is_empty()).then(|| list.to_vec());

    let mounts = spec
        .mounts
        .iter()
        .map(|mount| DockerMount {
            typ: Some(match mount.kind {
                MountType::Volume => DockerMountType::VOLUME,
                MountType::Bind => DockerMountType::BIND,
                MountType::Tmpfs => DockerMountType::TMPFS,
            }),
            source: non_empty(&expand_template(&mount.source, &context)),
            target: Some(expand_template(&mount.target, &context)),
            read_only: Some(mount.read_only),
            tmpfs_options: mount.tmpfs_options.as_ref().map(|options| MountTmpfsOptions {
                size_bytes: nanos(options.size_bytes),
                mode: (options.mode != 0).then_some(i64::from(options.mode)),
                options: None,
            }),
            ..DockerMount::default()
        })
        .collect::<Vec<_>>();

    let healthcheck = spec.healthcheck.as_ref().map(|health| HealthConfig {
        test: non_empty_list(&health.test),
        interval: nanos(health.interval_ns),
        timeout: nanos(health.timeout_ns),
        retries: (health.retries != 0).then(|| i64::try_from(health.retries).unwrap_or(i64::MAX)),
        start_period: nanos(health.start_period_ns),
        start_interval: None,
    });

    let (exposed_ports, port_bindings) = host_port_bindings(task);

    let resources = &task.spec.resources;
    let host_config = HostConfig {
        mounts: (!mounts.is_empty()).then_some(mounts),
        nano_cpus: nanos(resources.limits.nano_cpus),
        memory: nanos(resources.limits.memory_bytes),
        memory_reservation: nanos(resources.reservations.memory_bytes),
        // The orchestrator restarts tasks, never the engine.
        restart_policy: Some(RestartPolicy { name: Some(RestartPolicyNameEnum::NO), maximum_retry_count: None }),
        port_bindings,
        readonly_rootfs: Some(spec.read_only),
        init: spec.init,
        cap_add: non_empty_list(&spec.capability_add),
        cap_drop: non_empty_list(&spec.capability_drop),
        sysctls: (!spec.sysctls.is_empty()).then(|| spec.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        ulimits: (!spec.ulimits.is_empty()).then(|| {
            let ulimit =
                |u: &Ulimit| ResourcesUlimits { name: Some(u.name.clone()), soft: Some(u.soft), hard: Some(u.hard) };
            spec.ulimits.iter().map(ulimit).collect()
        }),
        extra_hosts: non_empty_list(&extra_hosts(&spec.hosts)),
        // On an overlay network `attach_first_network` replaces these with this node's resolver, which forwards
        // what is not a service name to these servers (`worker::dns`).
        dns: non_empty_list(&spec.dns_config.nameservers),
        dns_search: non_empty_list(&spec.dns_config.search),
        dns_options: non_empty_list(&spec.dns_config.options),
        log_config: task.spec.log_driver.as_ref().map(|driver| HostConfigLogConfig {
            typ: non_empty(&driver.name),
            config: (!driver.options.is_empty())
                .then(|| driver.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        }),
        ..HostConfig::default()
    };

    let stop_timeout = spec.stop_grace_period_ns.div_ceil(SECOND_NS);
    ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: non_empty_list(&spec.command),
        cmd: non_empty_list(&spec.args),
        env: non_empty_list(&spec.env.iter().map(|entry| expand_template(entry, &context)).collect::<Vec<_>>()),
        hostname: non_empty(&expand_template(&spec.hostname, &context)),
        working_dir: non_empty(&spec.dir),
        user: non_empty(&spec.user),
        labels: Some(container_labels(task, node_id, cluster_id)),
        healthcheck,
        stop_signal: non_empty(&spec.stop_signal),
        stop_timeout: Some(i64::try_from(stop_timeout).unwrap_or(i64::MAX)),
        exposed_ports,
        host_config: Some(host_config),
        ..ContainerCreateBody::default()
    }
}

/// The service's host-mode published ports (ingress-mode ones are the routing mesh's, not the container's):
/// exposed ports and bindings, a published port of 0 letting the engine pick one.
pub(super) fn host_port_bindings(task: &Task) -> (Option<Vec<String>>, Option<bollard::models::PortMap>) {
    let mut exposed = Vec::new();
    let mut bindings: bollard::models::PortMap = HashMap::new();
    for port in task.endpoint.ports.iter().filter(|port| port.publish_mode == PublishMode::Host) {
        let key = format!("{}/{}", port.target_port, port.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let host_port = if port.published_port == 0 { String::new() } else { port.published_port.to_string() };
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding { host_ip: None, host_port: Some(host_port) });
    }
    if exposed.is_empty() {
        (None, None)
    } else {
        (Some(exposed), Some(bindings))
    }
}

/// The spec's hosts entries (SwarmKit's hosts(5) form, `IP-address hostname [aliases...]`) as the Engine's
/// `ExtraHosts` (`hostname:IP`): one per name, so aliases resolve too (Docker Swarm's executor passes the first
/// name only). Entries without a name are skipped (the spec's check refuses them).
fn extra_hosts(hosts: &[String]) -> Vec<String> {
    let mut extra = Vec::new();
    for entry in hosts {
        let mut fields = entry.split_whitespace();
        let Some(addr) = fields.next() else { continue };
        extra.extend(fields.map(|name| format!("{name}:{addr}")));
    }
    extra
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use swarm_core::spec::{DnsConfig, LogDriver, Mount, PortConfig, TaskSpec, TmpfsOptions};

    use super::*;

    fn task(slot: Option<u64>) -> Task {
        let mut task = Task::new("t4sk", "svc1d", slot, TaskSpec::image("swarm-hello:1"));
        task.service_name = "web".into();
        task
    }

    #[test]
    fn spec_labels_cannot_forge_ours() {
        let mut forged = task(None);
        forged.spec.container_spec.labels.insert(LABEL_NODE_ID.into(), "other".into());
        forged.spec.container_spec.labels.insert(LABEL_CLUSTER_ID.into(), "other".into());
        forged.spec.container_spec.labels.insert(LABEL_TASK_SLOT.into(), "9".into());
        forged.spec.container_spec.labels.insert("team".into(), "blue".into());
        let labels = container_labels(&forged, "n0de", "c1uster");
        assert_eq!(labels.get(LABEL_NODE_ID).map(String::as_str), Some("n0de"));
        assert_eq!(labels.get(LABEL_CLUSTER_ID).map(String::as_str), Some("c1uster"));
        assert_eq!(labels.get(LABEL_TASK_SLOT), None);
        assert_eq!(labels.get("team").map(String::as_str), Some("blue"));
    }

    #[test]
    fn only_host_mode_ports_are_bound() {
        let mut task = task(Some(1));
        task.endpoint.ports = vec![
            PortConfig::tcp(8080, 80),
            PortConfig { publish_mode: PublishMode::Host, ..PortConfig::tcp(8081, 80) },
            PortConfig { publish_mode: PublishMode::Host, ..PortConfig::tcp(0, 443) },
        ];
        let (exposed, bindings) = host_port_bindings(&task);
        assert_eq!(exposed, Some(vec!["80/tcp".to_string(), "443/tcp".to_string()]));
        let bindings = bindings.unwrap();
        let host_port = |key: &str| bindings[key].as_ref().unwrap()[0].host_port.clone().unwrap();
        assert_eq!((host_port("80/tcp"), host_port("443/tcp")), ("8081".to_string(), String::new()));
        assert_eq!(host_port_bindings(&super::tests::task(None)), (None, None));
    }

    #[test]
    fn container_options_reach_the_container_config() {
        let mut task = task(Some(1));
        let spec = &mut task.spec.container_spec;
        spec.stop_signal = "SIGQUIT".into();
        spec.read_only = true;
        spec.init = Some(false);
        spec.capability_add = vec!["CAP_NET_ADMIN".into()];
        spec.capability_drop = vec!["ALL".into()];
        spec.sysctls = BTreeMap::from([("net.core.somaxconn".into(), "1024".into())]);
        spec.ulimits = vec![Ulimit::new("memlock", -1, -1), Ulimit::new("nofile", 1024, 2048)];
        spec.hosts = vec!["10.0.0.5 db db.local".into(), "::1 six".into(), "host-gateway gw".into()];
        spec.dns_config = DnsConfig {
            nameservers: vec!["10.0.0.2".into()],
            search: vec!["example.com".into()],
            options: vec!["ndots:2".into()],
        };
        spec.mounts = vec![
            Mount {
                kind: MountType::Tmpfs,
                target: "/run".into(),
                tmpfs_options: Some(TmpfsOptions { size_bytes: 64 << 20, mode: 0o1770 }),
                ..Mount::default()
            },
            Mount { kind: MountType::Tmpfs, target: "/tmp".into(), ..Mount::default() },
        ];
        task.spec.log_driver =
            Some(LogDriver { name: "json-file".into(), options: BTreeMap::from([("max-size".into(), "10m".into())]) });
        let body = create_body(&task, "n0de", "c1uster", "swarm-hello:1");
        assert_eq!(body.stop_signal.as_deref(), Some("SIGQUIT"));
        let host = body.host_config.unwrap();
        assert_eq!((host.readonly_rootfs, host.init), (Some(true), Some(false)));
        assert_eq!(host.cap_add, Some(vec!["CAP_NET_ADMIN".to_string()]));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.sysctls, Some(HashMap::from([("net.core.somaxconn".to_string(), "1024".to_string())])));
        let ulimit =
            |name: &str, soft, hard| ResourcesUlimits { name: Some(name.into()), soft: Some(soft), hard: Some(hard) };
        assert_eq!(host.ulimits, Some(vec![ulimit("memlock", -1, -1), ulimit("nofile", 1024, 2048)]));
        let extra: Vec<&str> = vec!["db:10.0.0.5", "db.local:10.0.0.5", "six:::1", "gw:host-gateway"];
        assert_eq!(host.extra_hosts, Some(extra.into_iter().map(String::from).collect()));
        assert_eq!(host.dns, Some(vec!["10.0.0.2".to_string()]));
        assert_eq!(host.dns_search, Some(vec!["example.com".to_string()]));
        assert_eq!(host.dns_options, Some(vec!["ndots:2".to_string()]));
        let log = host.log_config.unwrap();
        assert_eq!(log.typ.as_deref(), Some("json-file"));
        assert_eq!(log.config, Some(HashMap::from([("max-size".to_string(), "10m".to_string())])));
        let mounts = host.mounts.unwrap();
        let tmpfs = mounts[0].tmpfs_options.clone().unwrap();
        assert_eq!((tmpfs.size_bytes, tmpfs.mode), (Some(64 << 20), Some(0o1770)));
        assert_eq!(mounts[1].tmpfs_options, None);
    }

    #[test]
    fn unset_options_leave_the_engine_defaults() {
        let body = create_body(&task(None), "n0de", "c1uster", "swarm-hello:1");
        assert_eq!(body.stop_signal, None);
        let host = body.host_config.unwrap();
        assert_eq!((host.readonly_rootfs, host.init), (Some(false), None));
        assert_eq!((host.cap_add, host.cap_drop, host.sysctls, host.ulimits), (None, None, None, None));
        assert_eq!((host.extra_hosts, host.dns, host.dns_search, host.dns_options), (None, None, None, None));
        assert!(host.log_config.is_none());
        // A log driver with options but no name keeps the Engine's default driver.
        let mut task = task(None);
        task.spec.log_driver =
            Some(LogDriver { name: String::new(), options: BTreeMap::from([("k".into(), "v".into())]) });
        let log = create_body(&task, "n0de", "c1uster", "img").host_config.unwrap().log_config.unwrap();
        assert_eq!((log.typ, log.config.map(|c| c.len())), (None, Some(1)));
    }
}
