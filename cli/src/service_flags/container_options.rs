//! The container-option flags of `service create` and `service update`, applied as Docker's CLI applies them:
//! `--read-only`, `--init`, `--stop-signal`, `--log-driver`/`--log-opt` and `--cap-add`/`--cap-drop` on both
//! commands; `--dns`, `--dns-option`, `--dns-search`, `--host`, `--sysctl`, `--ulimit` on create; and their
//! `-add`/`-rm` pairs on update, combined in Docker's order (`updateDNSConfig`, `updateHosts`, `updateSysCtls`,
//! `updateUlimits`, `updateCapabilities`). Values are read by `crate::parse`; a refused one names its flag.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use swarm_core::spec::{
    effective_capabilities, normalize_capability, LogDriver, ServiceSpec, Ulimit, CAPABILITY_ALL, CAPABILITY_RESET,
};

use super::flags::{CreateFlags, SharedFlags, UpdateFlags};
use super::shared::{given, EnvLookup};
use crate::parse::{
    parse_bool, parse_dns_search, parse_extra_host, parse_ip_address, parse_key_value, parse_log_opt, parse_ulimit,
    FlagError, ValueError,
};

/// `service create`'s container options: the shared ones, then the create-only lists. `--init` is always sent
/// (`false` unless given), as `docker service create` does; capabilities are normalised, deduplicated and sorted,
/// adding winning over dropping (`effective_capabilities`).
pub(super) fn apply_create(spec: &mut ServiceSpec, flags: &CreateFlags, env: EnvLookup) -> Result<(), FlagError> {
    apply_shared_options(spec, &flags.shared, env)?;
    let container = &mut spec.task_template.container_spec;
    container.init.get_or_insert(false);
    (container.capability_add, container.capability_drop) =
        effective_capabilities(&flags.shared.cap_add, &flags.shared.cap_drop);
    let dns = &mut container.dns_config;
    dns.nameservers = parse_all("--dns", &flags.dns, parse_ip_address)?;
    dns.search = parse_all("--dns-search", &flags.dns_search, parse_dns_search)?;
    dns.options = flags.dns_option.clone();
    container.hosts = parse_all("--host", &flags.host, parse_extra_host)?;
    container.sysctls = flags.sysctl.iter().map(|text| parse_key_value(text)).collect();
    let mut ulimits = BTreeMap::new();
    for ulimit in parse_all("--ulimit", &flags.ulimit, parse_ulimit)? {
        ulimits.insert(ulimit.name.clone(), ulimit);
    }
    container.ulimits = ulimits.into_values().collect();
    Ok(())
}

/// `service update`'s container options: the shared ones given, capabilities by Docker's tri-state rules, then
/// the `-add`/`-rm` pairs.
pub(super) fn apply_update(spec: &mut ServiceSpec, flags: &UpdateFlags, env: EnvLookup) -> Result<(), FlagError> {
    let shared = &flags.shared;
    apply_shared_options(spec, shared, env)?;
    let container = &mut spec.task_template.container_spec;
    if !shared.cap_add.is_empty() || !shared.cap_drop.is_empty() {
        update_capabilities(&mut container.capability_add, &mut container.capability_drop, shared);
    }
    let dns_flags = [
        &flags.dns_add,
        &flags.dns_rm,
        &flags.dns_search_add,
        &flags.dns_search_rm,
        &flags.dns_option_add,
        &flags.dns_option_rm,
    ];
    if dns_flags.iter().any(|list| !list.is_empty()) {
        update_dns(&mut container.dns_config, flags)?;
    }
    if !flags.host_add.is_empty() || !flags.host_rm.is_empty() {
        let added = parse_all("--host-add", &flags.host_add, parse_extra_host)?;
        container.hosts = update_hosts(&container.hosts, &flags.host_rm, added);
    }
    for text in &flags.sysctl_rm {
        container.sysctls.remove(&parse_key_value(text).0);
    }
    container.sysctls.extend(flags.sysctl_add.iter().map(|text| parse_key_value(text)));
    // Docker rebuilds the list on every update: one per name, sorted by name.
    let mut ulimits: BTreeMap<String, Ulimit> =
        container.ulimits.drain(..).map(|ulimit| (ulimit.name.clone(), ulimit)).collect();
    for text in &flags.ulimit_rm {
        ulimits.remove(&parse_key_value(text).0);
    }
    for ulimit in parse_all("--ulimit-add", &flags.ulimit_add, parse_ulimit)? {
        ulimits.insert(ulimit.name.clone(), ulimit);
    }
    container.ulimits = ulimits.into_values().collect();
    Ok(())
}

/// What both commands apply when given: `--read-only`, `--init`, `--stop-signal`, and `--log-driver` with every
/// `--log-opt` (the options alone change nothing, and an empty driver name keeps the current driver, as Docker
/// does; the options are checked all the same).
fn apply_shared_options(spec: &mut ServiceSpec, s: &SharedFlags, env: EnvLookup) -> Result<(), FlagError> {
    let container = &mut spec.task_template.container_spec;
    if let Some(read_only) = given("--read-only", &s.read_only, parse_bool)? {
        container.read_only = read_only;
    }
    if let Some(init) = given("--init", &s.init, parse_bool)? {
        container.init = Some(init);
    }
    if let Some(signal) = &s.stop_signal {
        container.stop_signal = signal.clone();
    }
    let options = parse_all("--log-opt", &s.log_opt, |text| parse_log_opt(text, env))?;
    if let Some(name) = s.log_driver.as_deref().filter(|name| !name.is_empty()) {
        spec.task_template.log_driver =
            Some(LogDriver { name: name.to_string(), options: options.into_iter().collect() });
    }
    Ok(())
}

/// Docker's `updateCapabilities`: `RESET` empties a list first; dropping a capability the service adds takes it
/// out of the added ones (and does not drop it); adding one the service drops takes it out of the dropped ones
/// (and does not add it); a capability both added and dropped in one update is added. Sorted; `ALL` stands alone.
fn update_capabilities(add: &mut Vec<String>, drop: &mut Vec<String>, s: &SharedFlags) {
    let normalised = |list: &[String]| list.iter().map(|c| normalize_capability(c)).collect::<BTreeSet<String>>();
    let (mut current_add, mut current_drop) = (normalised(add), normalised(drop));
    let mut to_add = normalised(&s.cap_add);
    let mut to_drop = normalised(&s.cap_drop);
    if to_add.remove(CAPABILITY_RESET) {
        current_add.clear();
    }
    if to_drop.remove(CAPABILITY_RESET) {
        current_drop.clear();
    }
    for capability in to_drop.iter().filter(|c| !to_add.contains(*c)) {
        if !current_add.remove(capability) {
            current_drop.insert(capability.clone());
        }
    }
    for capability in to_add {
        if !current_drop.remove(&capability) {
            current_add.insert(capability);
        }
    }
    *add = capabilities_list(current_add);
    *drop = capabilities_list(current_drop);
}

/// Docker's `capsList`: `ALL` alone if present, else sorted.
fn capabilities_list(capabilities: BTreeSet<String>) -> Vec<String> {
    if capabilities.contains(CAPABILITY_ALL) {
        return vec![CAPABILITY_ALL.to_string()];
    }
    capabilities.into_iter().collect()
}

/// Docker's `updateDNSConfig`, run when any DNS flag is given: nameservers added (deduplicated), removed (by their
/// normal form) and sorted by address; search domains and options added, consecutive duplicates merged, removed and
/// sorted.
fn update_dns(dns: &mut swarm_core::spec::DnsConfig, flags: &UpdateFlags) -> Result<(), FlagError> {
    let mut nameservers: Vec<IpAddr> = Vec::new();
    let current = dns.nameservers.iter().filter_map(|text| text.parse::<IpAddr>().ok());
    let added = parse_all("--dns-add", &flags.dns_add, parse_ip_address)?;
    // Removals by their normal form (`2001:DB8::53` removes `2001:db8::53`); text that is no address removes what
    // is stored under that very text.
    let removed: Vec<String> = flags
        .dns_rm
        .iter()
        .map(|text| text.parse::<IpAddr>().map(|addr| addr.to_string()).unwrap_or_else(|_| text.clone()))
        .collect();
    for addr in current.chain(added.iter().filter_map(|text| text.parse().ok())) {
        if !nameservers.contains(&addr) && !removed.contains(&addr.to_string()) {
            nameservers.push(addr);
        }
    }
    nameservers.sort();
    dns.nameservers = nameservers.iter().map(ToString::to_string).collect();
    let added = parse_all("--dns-search-add", &flags.dns_search_add, parse_dns_search)?;
    dns.search = updated_words(&dns.search, added, &flags.dns_search_rm);
    dns.options = updated_words(&dns.options, flags.dns_option_add.clone(), &flags.dns_option_rm);
    Ok(())
}

/// `current` then `added`, consecutive duplicates merged (Go's `slices.Compact`), `removed` taken out, sorted.
fn updated_words(current: &[String], added: Vec<String>, removed: &[String]) -> Vec<String> {
    let mut words: Vec<String> = current.iter().cloned().chain(added).collect();
    words.dedup();
    words.retain(|word| !removed.contains(word));
    words.sort();
    words
}

/// Docker's `updateHosts`: each `--host-rm` (`host` or `host:ip`) takes the name out of every entry (of that
/// address only, when given); an entry left without names goes; the `--host-add` entries follow; duplicates go.
fn update_hosts(current: &[String], removals: &[String], added: Vec<String>) -> Vec<String> {
    let removals: Vec<(&str, &str)> =
        removals.iter().map(|text| text.split_once(':').unwrap_or((text.as_str(), ""))).collect();
    let mut hosts = Vec::new();
    for entry in current {
        let mut fields = entry.split_whitespace();
        let Some(addr) = fields.next() else { continue };
        let names: Vec<&str> = fields
            .filter(|name| !removals.iter().any(|(host, ip)| host == name && (ip.is_empty() || *ip == addr)))
            .collect();
        if !names.is_empty() {
            hosts.push(format!("{addr} {}", names.join(" ")));
        }
    }
    hosts.extend(added);
    let mut seen = BTreeSet::new();
    hosts.retain(|entry| seen.insert(entry.clone()));
    hosts
}

/// Every value of a repeated flag through `parse`; the first refusal names the flag and the value.
fn parse_all<T, E: Into<ValueError>>(
    flag: &str,
    texts: &[String],
    mut parse: impl FnMut(&str) -> Result<T, E>,
) -> Result<Vec<T>, FlagError> {
    texts.iter().map(|text| parse(text).map_err(|problem| FlagError::new(flag, text, problem))).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use swarm_core::spec::{ContainerSpec, DnsConfig, LogDriver, ServiceSpec, Ulimit};

    use crate::parse::testing::strings;
    use crate::service_flags::testing::{create, update};

    fn created(argv: &[&str]) -> Result<ServiceSpec, String> {
        let mut full = vec!["--name", "web"];
        full.extend_from_slice(argv);
        full.push("nginx");
        create(&full)
    }

    fn container(argv: &[&str]) -> ContainerSpec {
        created(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}")).task_template.container_spec
    }

    #[test]
    fn create_sets_every_option_as_docker_does() {
        let spec = created(&[
            "--read-only",
            "--init",
            "--stop-signal",
            "SIGQUIT",
            "--cap-add",
            "net_admin",
            "--cap-add",
            "CAP_SYS_TIME",
            "--cap-drop",
            "mknod",
            "--cap-drop",
            "sys_time",
            "--sysctl",
            "net.core.somaxconn=1024",
            "--sysctl",
            "kernel.shmmax",
            "--ulimit",
            "nproc=100",
            "--ulimit",
            "nofile=1024:2048",
            "--ulimit",
            "nproc=200:300",
            "--host",
            "db:10.0.0.5",
            "--host",
            "six=[::1]",
            "--dns",
            "10.0.0.2",
            "--dns",
            " 2001:DB8::53 ",
            "--dns-search",
            "example.com.",
            "--dns-option",
            "ndots:2",
            "--log-driver",
            "json-file",
            "--log-opt",
            "max-size=10m",
            "--log-opt",
            "TOKEN",
        ])
        .unwrap();
        let c = &spec.task_template.container_spec;
        assert_eq!((c.read_only, c.init, c.stop_signal.as_str()), (true, Some(true), "SIGQUIT"));
        // Normalised and sorted; sys_time is both added and dropped, so only added.
        assert_eq!(c.capability_add, strings(&["CAP_NET_ADMIN", "CAP_SYS_TIME"]));
        assert_eq!(c.capability_drop, strings(&["CAP_MKNOD"]));
        assert_eq!(
            c.sysctls,
            BTreeMap::from([("kernel.shmmax".into(), String::new()), ("net.core.somaxconn".into(), "1024".into())])
        );
        // One per name, the last winning, sorted by name.
        assert_eq!(c.ulimits, vec![Ulimit::new("nofile", 1024, 2048), Ulimit::new("nproc", 200, 300)]);
        assert_eq!(c.hosts, strings(&["10.0.0.5 db", "::1 six"]));
        assert_eq!(
            c.dns_config,
            DnsConfig {
                nameservers: strings(&["10.0.0.2", "2001:db8::53"]),
                search: strings(&["example.com"]),
                options: strings(&["ndots:2"]),
            }
        );
        assert_eq!(
            spec.task_template.log_driver,
            Some(LogDriver {
                name: "json-file".into(),
                options: BTreeMap::from([("TOKEN".into(), "secret".into()), ("max-size".into(), "10m".into())]),
            })
        );
    }

    #[test]
    fn create_defaults_and_flag_forms() {
        let c = container(&[]);
        // `docker service create` always sends Init, false unless asked.
        assert_eq!((c.init, c.read_only, c.stop_signal.as_str()), (Some(false), false, ""));
        assert!(c.capability_add.is_empty() && c.capability_drop.is_empty() && c.sysctls.is_empty());
        assert!(c.ulimits.is_empty() && c.hosts.is_empty() && c.dns_config.is_empty());
        assert_eq!(created(&[]).unwrap().task_template.log_driver, None);
        // pflag booleans: bare, or with `=` and any of Go's spellings.
        assert!(!container(&["--read-only=false", "--init=1"]).read_only);
        assert_eq!(container(&["--init=T"]).init, Some(true));
        assert_eq!(container(&["--init=false"]).init, Some(false));
        // `ALL` stands alone; `RESET` means nothing on create.
        let c = container(&["--cap-add", "ALL", "--cap-add", "chown", "--cap-drop", "RESET"]);
        assert_eq!((c.capability_add, c.capability_drop), (strings(&["ALL"]), Vec::new()));
        // Log options without a driver, or with an empty one, send no driver.
        assert_eq!(created(&["--log-opt", "max-size=1m"]).unwrap().task_template.log_driver, None);
        assert_eq!(created(&["--log-driver", "", "--log-opt", "a=b"]).unwrap().task_template.log_driver, None);
        let driver = created(&["--log-driver", "none"]).unwrap().task_template.log_driver.unwrap();
        assert_eq!((driver.name.as_str(), driver.options.len()), ("none", 0));
    }

    #[test]
    fn bad_values_name_the_flag_in_dockers_words() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--read-only=yes"],
                r#"invalid argument "yes" for "--read-only" flag: strconv.ParseBool: parsing "yes": invalid syntax"#,
            ),
            (
                &["--init=2"],
                r#"invalid argument "2" for "--init" flag: strconv.ParseBool: parsing "2": invalid syntax"#,
            ),
            (
                &["--ulimit", "nofile"],
                r#"invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile"#,
            ),
            (&["--ulimit", "files=1"], r#"invalid argument "files=1" for "--ulimit" flag: invalid ulimit type: files"#),
            (
                &["--ulimit", "nofile=2:1"],
                r#"invalid argument "nofile=2:1" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 2 > 1"#,
            ),
            (
                &["--ulimit", "nofile=x"],
                r#"invalid argument "nofile=x" for "--ulimit" flag: strconv.ParseInt: parsing "x": invalid syntax"#,
            ),
            (
                &["--dns", "dns.google"],
                r#"invalid argument "dns.google" for "--dns" flag: IP address is not correctly formatted: dns.google"#,
            ),
            (
                &["--dns-search", "-bad.com"],
                r#"invalid argument "-bad.com" for "--dns-search" flag: -bad.com is not a valid domain"#,
            ),
            (&["--host", "db"], r#"invalid argument "db" for "--host" flag: bad format for add-host: "db""#),
            (
                &["--host", "db:10.0.0"],
                r#"invalid argument "db:10.0.0" for "--host" flag: invalid IP address in add-host: "10.0.0""#,
            ),
            (&["--log-opt", "=x"], r#"invalid argument "=x" for "--log-opt" flag: invalid environment variable: =x"#),
            // What only core's check refuses.
            (&["--stop-signal", "SIGFOO"], "invalid signal: SIGFOO"),
            (&["--sysctl", "=1"], r#"ContainerSpec: invalid sysctl name """#),
            (&["--cap-add", "net admin"], r#"ContainerSpec: invalid capability "CAP_NET ADMIN""#),
            (&["--dns-option", "a b"], r#"ContainerSpec: invalid DNS option "a b""#),
            (
                &["--mount", "type=volume,target=/x,tmpfs-size=1m"],
                r#"invalid argument "type=volume,target=/x,tmpfs-size=1m" for "--mount" flag: cannot mix 'tmpfs-*' options with mount type 'volume'"#,
            ),
        ];
        for (argv, message) in cases {
            assert_eq!(created(argv).map(|_| ()), Err(message.to_string()), "{argv:?}");
        }
    }

    /// A service created with a bit of everything, to update.
    fn current() -> ServiceSpec {
        created(&[
            "--cap-add",
            "chown",
            "--cap-drop",
            "mknod",
            "--sysctl",
            "a=1",
            "--sysctl",
            "b=2",
            "--ulimit",
            "nofile=10",
            "--ulimit",
            "nproc=20",
            "--host",
            "db:10.0.0.5",
            "--host",
            "cache:10.0.0.6",
            "--dns",
            "10.0.0.3",
            "--dns",
            "10.0.0.2",
            "--dns-search",
            "b.com",
            "--dns-option",
            "ndots:2",
            "--log-driver",
            "json-file",
            "--log-opt",
            "max-size=1m",
        ])
        .unwrap()
    }

    fn updated(argv: &[&str]) -> ContainerSpec {
        update(&current(), argv).unwrap_or_else(|e| panic!("{argv:?}: {e}")).task_template.container_spec
    }

    #[test]
    fn update_without_option_flags_changes_no_option() {
        assert_eq!(update(&current(), &[]), Ok(current()));
        assert_eq!(update(&current(), &["--log-opt", "max-size=2m"]), Ok(current()), "options alone do nothing");
    }

    #[test]
    fn update_scalars_only_when_given() {
        let c = updated(&["--read-only", "--init", "--stop-signal", "9"]);
        assert_eq!((c.read_only, c.init, c.stop_signal.as_str()), (true, Some(true), "9"));
        let mut spec = current();
        spec.task_template.container_spec.init = None;
        let spec = update(&spec, &["--read-only=false", "--stop-signal", ""]).unwrap();
        let c = spec.task_template.container_spec;
        assert_eq!((c.read_only, c.init, c.stop_signal.as_str()), (false, None, ""));
        let spec = update(&current(), &["--log-driver", "syslog", "--log-opt", "tag=web"]).unwrap();
        let driver = spec.task_template.log_driver.unwrap();
        assert_eq!((driver.name.as_str(), driver.options), ("syslog", BTreeMap::from([("tag".into(), "web".into())])));
    }

    #[test]
    fn update_capabilities_by_dockers_tri_state() {
        let caps = |argv: &[&str]| {
            let c = updated(argv);
            (c.capability_add, c.capability_drop)
        };
        let s = strings;
        // Dropping an added one only un-adds it; adding a dropped one only un-drops it.
        assert_eq!(caps(&["--cap-drop", "chown"]), (vec![], s(&["CAP_MKNOD"])));
        assert_eq!(caps(&["--cap-add", "mknod"]), (s(&["CAP_CHOWN"]), vec![]));
        assert_eq!(
            caps(&["--cap-add", "net_admin", "--cap-drop", "sys_time"]),
            (s(&["CAP_CHOWN", "CAP_NET_ADMIN"]), s(&["CAP_MKNOD", "CAP_SYS_TIME"]))
        );
        // Both in one update: added.
        assert_eq!(
            caps(&["--cap-add", "kill", "--cap-drop", "kill"]),
            (s(&["CAP_CHOWN", "CAP_KILL"]), s(&["CAP_MKNOD"]))
        );
        // RESET empties a list first.
        assert_eq!(caps(&["--cap-add", "RESET", "--cap-add", "kill"]), (s(&["CAP_KILL"]), s(&["CAP_MKNOD"])));
        assert_eq!(caps(&["--cap-drop", "reset"]), (s(&["CAP_CHOWN"]), vec![]));
        // ALL stands alone.
        assert_eq!(caps(&["--cap-add", "all"]), (s(&["ALL"]), s(&["CAP_MKNOD"])));
    }

    #[test]
    fn update_lists_and_maps_add_and_remove() {
        let c =
            updated(&["--sysctl-rm", "a", "--sysctl-rm", "b=whatever", "--sysctl-add", "c=3", "--sysctl-add", "a=9"]);
        assert_eq!(c.sysctls, BTreeMap::from([("a".into(), "9".into()), ("c".into(), "3".into())]));
        let c = updated(&["--ulimit-rm", "nproc", "--ulimit-add", "core=0", "--ulimit-add", "nofile=5:6"]);
        assert_eq!(c.ulimits, vec![Ulimit::new("core", 0, 0), Ulimit::new("nofile", 5, 6)]);
        // hosts: by name, or by name and address; additions follow in order; duplicates go.
        assert_eq!(updated(&["--host-rm", "db"]).hosts, strings(&["10.0.0.6 cache"]));
        assert_eq!(updated(&["--host-rm", "db:10.0.0.9"]).hosts, strings(&["10.0.0.5 db", "10.0.0.6 cache"]));
        assert_eq!(
            updated(&["--host-rm", "cache:10.0.0.6", "--host-add", "web:10.0.0.7", "--host-add", "db:10.0.0.5"]).hosts,
            strings(&["10.0.0.5 db", "10.0.0.7 web"])
        );
        let mut spec = current();
        spec.task_template.container_spec.hosts = strings(&["10.0.0.2 a b c", "10.0.0.3 b"]);
        let spec = update(&spec, &["--host-rm", "b"]).unwrap();
        assert_eq!(spec.task_template.container_spec.hosts, strings(&["10.0.0.2 a c"]));
    }

    #[test]
    fn update_dns_sorts_and_dedupes_as_docker_does() {
        let c =
            updated(&["--dns-add", "10.0.0.1", "--dns-add", "::1", "--dns-add", "10.0.0.2", "--dns-rm", "10.0.0.3"]);
        assert_eq!(c.dns_config.nameservers, strings(&["10.0.0.1", "10.0.0.2", "::1"]));
        let c = updated(&["--dns-add", "2001:db8::53", "--dns-add", "10.0.0.1", "--dns-rm", "2001:DB8:0::53"]);
        assert_eq!(
            c.dns_config.nameservers,
            strings(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
            "removed by its normal form"
        );
        let c = updated(&["--dns-search-add", "a.com", "--dns-search-rm", "b.com", "--dns-option-add", "timeout:1"]);
        assert_eq!(c.dns_config.search, strings(&["a.com"]));
        assert_eq!(c.dns_config.options, strings(&["ndots:2", "timeout:1"]));
        // Only consecutive duplicates merge before sorting (Go's slices.Compact), as in Docker.
        let c = updated(&["--dns-option-add", "edns0", "--dns-option-add", "ndots:2"]);
        assert_eq!(c.dns_config.options, strings(&["edns0", "ndots:2", "ndots:2"]));
        // Any DNS flag sorts the nameservers.
        assert_eq!(updated(&["--dns-option-rm", "x"]).dns_config.nameservers, strings(&["10.0.0.2", "10.0.0.3"]));
    }

    #[test]
    fn update_errors_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--dns-add", "x"],
                r#"invalid argument "x" for "--dns-add" flag: IP address is not correctly formatted: x"#,
            ),
            (
                &["--dns-search-add", "1.2"],
                r#"invalid argument "1.2" for "--dns-search-add" flag: 1.2 is not a valid domain"#,
            ),
            (&["--host-add", "x"], r#"invalid argument "x" for "--host-add" flag: bad format for add-host: "x""#),
            (
                &["--ulimit-add", "nofile=a"],
                r#"invalid argument "nofile=a" for "--ulimit-add" flag: strconv.ParseInt: parsing "a": invalid syntax"#,
            ),
            (
                &["--init=maybe"],
                r#"invalid argument "maybe" for "--init" flag: strconv.ParseBool: parsing "maybe": invalid syntax"#,
            ),
            (&["--stop-signal", "RTMIN+99"], "invalid signal: RTMIN+99"),
        ];
        for (argv, message) in cases {
            assert_eq!(update(&current(), argv).map(|_| ()), Err(message.to_string()), "{argv:?}");
        }
    }
}
