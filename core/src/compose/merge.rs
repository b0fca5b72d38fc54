//! Merging several `-c` files in order, as Docker merges them: a later file's non-empty scalars replace earlier
//! ones, lists are appended, maps merged key by key, `command`/`entrypoint` replaced when given, ports keyed by
//! published port, mounts by target, secrets and configs by source (each sorted by that key), logging options
//! merged under the same driver, a network's aliases replaced. Whole top-level networks, volumes, secrets and
//! configs are replaced by a later definition; top-level `x-` keys come from the first file, as in Docker. Two
//! deliberate differences, each fixing a Docker bug: `healthcheck.test` is replaced rather than concatenated, and
//! `depends_on` entries are not duplicated. Unpublished ports (published 0) are never merged away.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{
    BuildConfig, ComposeConfig, DeployConfig, FileReference, HealthCheck, Logging, PortConfig, ResourceLimit,
    ResourceReservation, RestartPolicy, ServiceConfig, ServiceNetwork, ServiceVolume, UpdateConfig,
};

/// Merges `over` into `base`.
pub fn merge_configs(base: &mut ComposeConfig, over: ComposeConfig) {
    for (name, service) in over.services {
        match base.services.get_mut(&name) {
            Some(existing) => merge_service(existing, service),
            None => {
                base.services.insert(name, service);
            }
        }
    }
    base.networks.extend(over.networks);
    base.volumes.extend(over.volumes);
    base.secrets.extend(over.secrets);
    base.configs.extend(over.configs);
}

fn string(base: &mut String, over: String) {
    if !over.is_empty() {
        *base = over;
    }
}

fn append<T>(base: &mut Vec<T>, over: Vec<T>) {
    base.extend(over);
}

fn map<V>(base: &mut BTreeMap<String, V>, over: BTreeMap<String, V>) {
    base.extend(over);
}

fn option<T>(base: &mut Option<T>, over: Option<T>) {
    if over.is_some() {
        *base = over;
    }
}

/// Pointer fields Docker deep-merges: take `over` when there is no base, else merge into it.
fn nested<T>(base: &mut Option<T>, over: Option<T>, merge: impl FnOnce(&mut T, T)) {
    match (base.as_mut(), over) {
        (_, None) => {}
        (None, Some(over)) => *base = Some(over),
        (Some(existing), Some(over)) => merge(existing, over),
    }
}

/// Docker's keyed list merge: later items replace earlier ones with the same key; the result sorted by key.
fn keyed<T, K: Ord + Clone>(base: &mut Vec<T>, over: Vec<T>, key: impl Fn(&T) -> Option<K>) {
    if base.is_empty() {
        *base = over;
        return;
    }
    let replaced: BTreeSet<K> = over.iter().filter_map(&key).collect();
    base.retain(|item| key(item).is_none_or(|k| !replaced.contains(&k)));
    base.extend(over);
    base.sort_by_key(|item| key(item));
}

fn merge_service(base: &mut ServiceConfig, over: ServiceConfig) {
    nested(&mut base.build, over.build, merge_build);
    append(&mut base.cap_add, over.cap_add);
    append(&mut base.cap_drop, over.cap_drop);
    string(&mut base.cgroupns_mode, over.cgroupns_mode);
    string(&mut base.cgroup_parent, over.cgroup_parent);
    if !over.command.is_empty() {
        base.command = over.command;
    }
    keyed(&mut base.configs, over.configs, |r: &FileReference| Some(r.source.clone()));
    string(&mut base.container_name, over.container_name);
    string(&mut base.credential_spec.config, over.credential_spec.config);
    string(&mut base.credential_spec.file, over.credential_spec.file);
    string(&mut base.credential_spec.registry, over.credential_spec.registry);
    for dependency in over.depends_on {
        match base.depends_on.iter_mut().find(|d| d.service == dependency.service) {
            Some(existing) => *existing = dependency,
            None => base.depends_on.push(dependency),
        }
    }
    merge_deploy(&mut base.deploy, over.deploy);
    append(&mut base.devices, over.devices);
    append(&mut base.dns, over.dns);
    append(&mut base.dns_search, over.dns_search);
    string(&mut base.domainname, over.domainname);
    if !over.entrypoint.is_empty() {
        base.entrypoint = over.entrypoint;
    }
    for (key, value) in over.environment {
        if value.is_some() || !base.environment.contains_key(&key) {
            base.environment.insert(key, value);
        }
    }
    append(&mut base.env_file, over.env_file);
    append(&mut base.expose, over.expose);
    append(&mut base.external_links, over.external_links);
    append(&mut base.extra_hosts, over.extra_hosts);
    string(&mut base.hostname, over.hostname);
    nested(&mut base.healthcheck, over.healthcheck, merge_healthcheck);
    string(&mut base.image, over.image);
    nested(&mut base.init, over.init, |b, o| *b = *b || o);
    string(&mut base.ipc, over.ipc);
    string(&mut base.isolation, over.isolation);
    map(&mut base.labels, over.labels);
    append(&mut base.links, over.links);
    nested(&mut base.logging, over.logging, merge_logging);
    string(&mut base.mac_address, over.mac_address);
    string(&mut base.network_mode, over.network_mode);
    for (name, settings) in over.networks {
        match (base.networks.get_mut(&name), settings) {
            (None, settings) => {
                base.networks.insert(name, settings);
            }
            (Some(_), None) => {}
            (Some(existing @ None), Some(settings)) => *existing = Some(settings),
            (Some(Some(existing)), Some(settings)) => merge_service_network(existing, settings),
        }
    }
    string(&mut base.pid, over.pid);
    keyed(&mut base.ports, over.ports, |p: &PortConfig| (p.published != 0).then_some(p.published));
    base.privileged |= over.privileged;
    base.read_only |= over.read_only;
    string(&mut base.restart, over.restart);
    keyed(&mut base.secrets, over.secrets, |r: &FileReference| Some(r.source.clone()));
    append(&mut base.security_opt, over.security_opt);
    string(&mut base.shm_size, over.shm_size);
    base.stdin_open |= over.stdin_open;
    nested(&mut base.stop_grace_period, over.stop_grace_period, |b, o| {
        if !o.is_zero() {
            *b = o
        }
    });
    string(&mut base.stop_signal, over.stop_signal);
    map(&mut base.sysctls, over.sysctls);
    append(&mut base.tmpfs, over.tmpfs);
    base.tty |= over.tty;
    map(&mut base.ulimits, over.ulimits);
    string(&mut base.user, over.user);
    if over.oom_score_adj != 0 {
        base.oom_score_adj = over.oom_score_adj;
    }
    string(&mut base.userns_mode, over.userns_mode);
    keyed(&mut base.volumes, over.volumes, |v: &ServiceVolume| Some(v.target.clone()));
    string(&mut base.working_dir, over.working_dir);
    map(&mut base.extensions, over.extensions);
}

fn merge_build(base: &mut BuildConfig, over: BuildConfig) {
    string(&mut base.context, over.context);
    string(&mut base.dockerfile, over.dockerfile);
    map(&mut base.args, over.args);
    map(&mut base.labels, over.labels);
    append(&mut base.cache_from, over.cache_from);
    append(&mut base.extra_hosts, over.extra_hosts);
    string(&mut base.network, over.network);
    string(&mut base.target, over.target);
}

fn merge_deploy(base: &mut DeployConfig, over: DeployConfig) {
    option(&mut base.mode, over.mode);
    option(&mut base.replicas, over.replicas);
    map(&mut base.labels, over.labels);
    nested(&mut base.update_config, over.update_config, merge_update_config);
    nested(&mut base.rollback_config, over.rollback_config, merge_update_config);
    nested(&mut base.resources.limits, over.resources.limits, |b: &mut ResourceLimit, o| {
        string(&mut b.cpus, o.cpus);
        if o.memory_bytes != 0 {
            b.memory_bytes = o.memory_bytes;
        }
        if o.pids != 0 {
            b.pids = o.pids;
        }
    });
    nested(&mut base.resources.reservations, over.resources.reservations, |b: &mut ResourceReservation, o| {
        string(&mut b.cpus, o.cpus);
        if o.memory_bytes != 0 {
            b.memory_bytes = o.memory_bytes;
        }
        append(&mut b.generic_resources, o.generic_resources);
    });
    nested(&mut base.restart_policy, over.restart_policy, |b: &mut RestartPolicy, o| {
        option(&mut b.condition, o.condition);
        nested(&mut b.delay, o.delay, |b, o| {
            if !o.is_zero() {
                *b = o
            }
        });
        option(&mut b.max_attempts, o.max_attempts);
        nested(&mut b.window, o.window, |b, o| {
            if !o.is_zero() {
                *b = o
            }
        });
    });
    append(&mut base.placement.constraints, over.placement.constraints);
    append(&mut base.placement.preferences, over.placement.preferences);
    if over.placement.max_replicas_per_node != 0 {
        base.placement.max_replicas_per_node = over.placement.max_replicas_per_node;
    }
    option(&mut base.endpoint_mode, over.endpoint_mode);
}

fn merge_update_config(base: &mut UpdateConfig, over: UpdateConfig) {
    option(&mut base.parallelism, over.parallelism);
    if !over.delay.is_zero() {
        base.delay = over.delay;
    }
    option(&mut base.failure_action, over.failure_action);
    if !over.monitor.is_zero() {
        base.monitor = over.monitor;
    }
    if over.max_failure_ratio != 0.0 {
        base.max_failure_ratio = over.max_failure_ratio;
    }
    option(&mut base.order, over.order);
}

fn merge_healthcheck(base: &mut HealthCheck, over: HealthCheck) {
    if !over.test.is_empty() {
        base.test = over.test;
    }
    for (b, o) in [
        (&mut base.timeout, over.timeout),
        (&mut base.interval, over.interval),
        (&mut base.start_period, over.start_period),
        (&mut base.start_interval, over.start_interval),
    ] {
        nested(b, o, |b, o| {
            if !o.is_zero() {
                *b = o
            }
        });
    }
    option(&mut base.retries, over.retries);
    base.disable |= over.disable;
}

fn merge_logging(base: &mut Logging, over: Logging) {
    if base.driver == over.driver || base.driver.is_empty() || over.driver.is_empty() {
        string(&mut base.driver, over.driver);
        map(&mut base.options, over.options);
    } else {
        *base = over;
    }
}

fn merge_service_network(base: &mut ServiceNetwork, over: ServiceNetwork) {
    base.aliases = over.aliases;
    string(&mut base.ipv4_address, over.ipv4_address);
    string(&mut base.ipv6_address, over.ipv6_address);
}
