//! The container options of the task template (stop signal, read-only root, init, capabilities, sysctls, ulimits,
//! hosts, DNS config, tmpfs options, log driver) through the public API: what `ServiceSpec::validate` refuses, as
//! a table of (mutation → Docker's message) also checked through `Store::apply`; the edge values it accepts; the
//! conversions every producer of a spec shares (capability normalisation, `host:ip` → hosts entry, ulimits, stop
//! signals); and a snapshot of the previous format, which had none of them, loading with every option unset.

mod common;

use std::collections::BTreeMap;

use common::*;
use swarm_core::spec::{effective_capabilities, hosts_entry, normalize_capability, validate_stop_signal};
use swarm_core::*;

fn spec() -> ServiceSpec {
    ServiceSpec::replicated("api", "nginx:1.27", 1)
}

fn container(spec: &mut ServiceSpec) -> &mut ContainerSpec {
    &mut spec.task_template.container_spec
}

/// Every option set, valid.
fn with_every_option() -> ServiceSpec {
    let mut spec = spec();
    let c = container(&mut spec);
    c.stop_signal = "SIGQUIT".into();
    c.read_only = true;
    c.init = Some(false);
    c.capability_add = vec!["ALL".into()];
    c.capability_drop = vec!["CAP_SYS_ADMIN".into()];
    c.sysctls = BTreeMap::from([("net.ipv4.ip_forward".into(), "1".into())]);
    c.ulimits = vec![Ulimit::new("memlock", -1, -1), Ulimit::new("nofile", 1024, 2048)];
    c.hosts = vec!["10.0.0.5 db".into(), "host-gateway gw".into()];
    c.dns_config =
        DnsConfig { nameservers: vec!["8.8.8.8".into()], search: vec![".".into()], options: vec!["timeout:3".into()] };
    c.mounts = vec![Mount {
        kind: MountType::Tmpfs,
        target: "/run".into(),
        tmpfs_options: Some(TmpfsOptions { size_bytes: 1 << 20, mode: 0o700 }),
        ..Mount::default()
    }];
    spec.task_template.log_driver = Some(LogDriver { name: String::new(), options: BTreeMap::new() });
    spec
}

#[test]
fn invalid_options_are_refused_with_dockers_message_here_and_in_the_store() {
    type Mutation = fn(&mut ServiceSpec);
    let cases: Vec<(&str, Mutation, &str)> = vec![
        ("unknown signal", |s| container(s).stop_signal = "SIGFOO".into(), "invalid signal: SIGFOO"),
        ("signal zero", |s| container(s).stop_signal = "0".into(), "invalid signal: 0"),
        ("bare SIG", |s| container(s).stop_signal = "SIG".into(), "invalid signal: SIG"),
        ("realtime past the table", |s| container(s).stop_signal = "RTMIN+16".into(), "invalid signal: RTMIN+16"),
        ("RTMAX-15", |s| container(s).stop_signal = "SIGRTMAX-15".into(), "invalid signal: SIGRTMAX-15"),
        (
            "empty capability",
            |s| container(s).capability_add = vec![String::new()],
            "ContainerSpec: invalid capability \"\"",
        ),
        (
            "capability with a space",
            |s| container(s).capability_drop = vec!["CAP_NET ADMIN".into()],
            "ContainerSpec: invalid capability \"CAP_NET ADMIN\"",
        ),
        (
            "empty sysctl name",
            |s| container(s).sysctls = BTreeMap::from([(String::new(), "1".into())]),
            "ContainerSpec: invalid sysctl name \"\"",
        ),
        ("unknown ulimit", |s| container(s).ulimits = vec![Ulimit::new("as", 1, 1)], "invalid ulimit type: as"),
        (
            "soft above hard",
            |s| container(s).ulimits = vec![Ulimit::new("nofile", 2048, 1024)],
            "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024",
        ),
        (
            "unlimited soft under a hard limit",
            |s| container(s).ulimits = vec![Ulimit::new("nofile", -1, 1024)],
            "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 1024",
        ),
        (
            "one ulimit twice",
            |s| container(s).ulimits = vec![Ulimit::new("nofile", 1, 1), Ulimit::new("nofile", 2, 2)],
            "ContainerSpec: duplicate ulimit: nofile",
        ),
        (
            "hosts entry in host:ip form",
            |s| container(s).hosts = vec!["db:10.0.0.5".into()],
            "ContainerSpec: invalid hosts entry \"db:10.0.0.5\": expected \"IP-address hostname [aliases...]\"",
        ),
        (
            "hosts entry without a name",
            |s| container(s).hosts = vec!["10.0.0.5".into()],
            "ContainerSpec: invalid hosts entry \"10.0.0.5\": expected \"IP-address hostname [aliases...]\"",
        ),
        (
            "nameserver that is a name",
            |s| container(s).dns_config.nameservers = vec!["dns.example.com".into()],
            "IP address is not correctly formatted: dns.example.com",
        ),
        (
            "nameserver in brackets",
            |s| container(s).dns_config.nameservers = vec!["[::1]".into()],
            "IP address is not correctly formatted: [::1]",
        ),
        (
            "search domain with a newline",
            |s| container(s).dns_config.search = vec!["a.com\nnameserver 1.2.3.4".into()],
            "ContainerSpec: invalid DNS search domain \"a.com\\nnameserver 1.2.3.4\"",
        ),
        (
            "empty DNS option",
            |s| container(s).dns_config.options = vec![String::new()],
            "ContainerSpec: invalid DNS option \"\"",
        ),
        (
            "tmpfs options on a volume",
            |s| {
                container(s).mounts = vec![Mount {
                    target: "/data".into(),
                    tmpfs_options: Some(TmpfsOptions::default()),
                    ..Mount::default()
                }]
            },
            "invalid mount config for type \"volume\": field TmpfsOptions must not be specified",
        ),
    ];
    for (what, mutate, message) in cases {
        let mut spec = spec();
        mutate(&mut spec);
        let error = spec.validate().expect_err(what);
        assert_eq!(error.to_string(), message, "{what}");
        let mut store = store_with(&base());
        let before = store.encode_snapshot();
        let rejection = store.apply(&at(T0 + 100, Command::CreateService { service_id: "s2".into(), spec }));
        assert_eq!(rejection, Err(Rejection::InvalidServiceSpec(error)), "{what}");
        assert_eq!(store.encode_snapshot(), before, "{what}: store changed");
    }
}

#[test]
fn edge_values_are_accepted() {
    type Mutation = fn(&mut ServiceSpec);
    let cases: Vec<(&str, Mutation)> = vec![
        ("every option", |s| *s = with_every_option()),
        ("signal by number", |s| container(s).stop_signal = "9".into()),
        ("signal with a sign, as Go's Atoi takes it", |s| container(s).stop_signal = "+15".into()),
        ("signal without SIG, lower case", |s| container(s).stop_signal = "term".into()),
        ("realtime signal", |s| container(s).stop_signal = "sigrtmin+15".into()),
        ("last realtime below RTMAX", |s| container(s).stop_signal = "RTMAX-14".into()),
        ("capabilities not normalised (the Engine normalises)", |s| {
            container(s).capability_add = vec!["net_admin".into()]
        }),
        ("sysctl with an empty value", |s| {
            container(s).sysctls = BTreeMap::from([("kernel.shmmax".into(), String::new())])
        }),
        ("hosts entry with aliases and IPv6", |s| container(s).hosts = vec!["2001:db8::5  db db.local".into()]),
        ("unlimited hard, limited soft", |s| container(s).ulimits = vec![Ulimit::new("nofile", 1024, -1)]),
        ("soft equal to hard", |s| container(s).ulimits = vec![Ulimit::new("core", 0, 0)]),
        ("log driver without a name keeps the Engine's default", |s| {
            s.task_template.log_driver =
                Some(LogDriver { name: String::new(), options: BTreeMap::from([("max-size".into(), "10m".into())]) })
        }),
        ("tmpfs options left at zero", |s| {
            container(s).mounts = vec![Mount {
                kind: MountType::Tmpfs,
                target: "/tmp".into(),
                tmpfs_options: Some(TmpfsOptions::default()),
                ..Mount::default()
            }]
        }),
    ];
    for (what, mutate) in cases {
        let mut spec = spec();
        mutate(&mut spec);
        assert_eq!(spec.validate(), Ok(()), "{what}");
    }
}

#[test]
fn capabilities_are_normalised_as_dockers_cli_does() {
    for (given, normalised) in [
        ("net_admin", "CAP_NET_ADMIN"),
        (" cap_chown ", "CAP_CHOWN"),
        ("CAP_SYS_ADMIN", "CAP_SYS_ADMIN"),
        ("all", "ALL"),
        ("Reset", "RESET"),
    ] {
        assert_eq!(normalize_capability(given), normalised, "{given}");
    }
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    type Lists<'a> = (&'a [&'a str], &'a [&'a str]);
    let cases: &[(Lists, Lists)] = &[
        ((&["net_admin", "chown", "NET_ADMIN"], &[]), (&["CAP_CHOWN", "CAP_NET_ADMIN"], &[])),
        // Adding wins over dropping.
        ((&["chown"], &["CAP_CHOWN", "mknod"]), (&["CAP_CHOWN"], &["CAP_MKNOD"])),
        // ALL stands alone in its list.
        ((&["all", "chown"], &["mknod"]), (&["ALL"], &["CAP_MKNOD"])),
        ((&["chown"], &["ALL", "mknod"]), (&["CAP_CHOWN"], &["ALL"])),
        ((&["all"], &["all"]), (&["ALL"], &[])),
        // RESET means nothing on create.
        ((&["RESET", "chown"], &["reset"]), (&["CAP_CHOWN"], &[])),
        ((&[], &[]), (&[], &[])),
    ];
    for ((add, drop), (want_add, want_drop)) in cases {
        let (got_add, got_drop) = effective_capabilities(&strings(add), &strings(drop));
        assert_eq!((got_add, got_drop), (strings(want_add), strings(want_drop)), "add {add:?} drop {drop:?}");
    }
}

#[test]
fn extra_hosts_become_hosts_entries() {
    let good = [
        ("db:10.0.0.5", "10.0.0.5 db"),
        ("db=10.0.0.5", "10.0.0.5 db"),
        ("db:::1", "::1 db"),
        ("db=::1", "::1 db"),
        ("db:[2001:db8::5]", "2001:db8::5 db"),
        ("db=[10.0.0.5]", "10.0.0.5 db"),
        ("gw:host-gateway", "host-gateway gw"),
        ("db.local:0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1 db.local"),
    ];
    for (given, entry) in good {
        assert_eq!(hosts_entry(given), Ok(entry.to_string()), "{given}");
    }
    let bad = [
        ("db", r#"bad format for add-host: "db""#),
        (":10.0.0.5", r#"bad format for add-host: ":10.0.0.5""#),
        ("=10.0.0.5", r#"bad format for add-host: "=10.0.0.5""#),
        ("a:b=10.0.0.5", r#"bad format for add-host: "a:b=10.0.0.5""#),
        ("db:10.0.0", r#"invalid IP address in add-host: "10.0.0""#),
        ("db:", r#"invalid IP address in add-host: """#),
        ("db:[]", r#"invalid IP address in add-host: "[]""#),
        ("db:example.com", r#"invalid IP address in add-host: "example.com""#),
    ];
    for (given, message) in bad {
        assert_eq!(hosts_entry(given).map_err(|e| e.to_string()), Err(message.to_string()), "{given}");
    }
    // Every entry `hosts_entry` makes is one the spec accepts.
    let mut spec = spec();
    container(&mut spec).hosts = good.iter().map(|(given, _)| hosts_entry(given).unwrap()).collect();
    assert_eq!(spec.validate(), Ok(()));
}

#[test]
fn stop_signals_follow_the_engines_table() {
    for signal in
        ["SIGTERM", "TERM", "term", "SIGKILL", "KILL", "SIGCLD", "SIGSTKFLT", "SIGRTMIN", "SIGRTMAX", "1", "64"]
    {
        assert_eq!(validate_stop_signal(signal), Ok(()), "{signal}");
    }
    for signal in ["", "SIGTERM ", "SIGEMT", "SIGINFO", "RTMIN+0", "RTMIN+01", "RTMAX-0", "RTMAX+1", "0", "-0", "1.5"] {
        assert_eq!(
            validate_stop_signal(signal).map_err(|e| e.to_string()),
            Err(format!("invalid signal: {signal}")),
            "{signal:?}"
        );
    }
}

#[test]
fn ulimits_are_bounded_by_the_list_limit() {
    let mut spec = spec();
    container(&mut spec).ulimits = vec![Ulimit::new("nofile", 1, 1); LIST_LEN_MAX + 1];
    let mut store = store_with(&base());
    let rejection = store.apply(&at(T0 + 100, Command::CreateService { service_id: "s2".into(), spec })).unwrap_err();
    assert_eq!(
        rejection.root(),
        &Rejection::LimitExceeded {
            limit: Limit::ListLength,
            max: LIST_LEN_MAX as u64,
            actual: LIST_LEN_MAX as u64 + 1
        }
    );
}

#[test]
fn options_survive_the_store_and_a_previous_format_snapshot_loads_without_them() {
    let spec = with_every_option();
    let mut store = store_with(&base());
    store.apply(&at(T0 + 100, Command::CreateService { service_id: "s2".into(), spec: spec.clone() })).unwrap();
    let mut task = Task::new("t9", "s2", Some(1), spec.task_template.clone());
    task.service_name = "api".into();
    store.apply(&at(T0 + 101, Command::CreateTasks { tasks: vec![task] })).unwrap();

    let restored = Store::decode_snapshot(&store.encode_snapshot()).unwrap();
    assert_eq!(restored, store);
    assert_eq!(restored.service("s2").unwrap().spec, spec);

    // The previous format (9) holds every option: they load as they were.
    let upgraded = Store::decode_snapshot(&store.encode_snapshot_previous_format()).unwrap();
    assert_eq!(upgraded.service("s2").unwrap().spec, spec);
    assert_eq!(upgraded.task("t9").unwrap().spec, spec.task_template);
    assert_eq!(upgraded.service("s1"), store.service("s1"));
}
