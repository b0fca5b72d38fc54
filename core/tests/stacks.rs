//! Stacks through the public seam: compose text in, `swarm_core::stack::convert` and `deploy_layers` out. Each
//! service case is a small file and the whole `ServiceSpec` expected for its `web` service, written as what the
//! equivalent `service create` gives plus the differences the file asks for, so a default that drifts fails here.
//! Then the stack's networks, the refused keys with their exact places, the values that cannot be converted, the
//! deploy order, and every compose file of the CLI's corpus.

use std::collections::BTreeMap;

use swarm_core::compose::{load_str, DependencyCondition, FileSource, LoadInput, Loaded, SourceFile};
use swarm_core::spec::{
    FailureAction, FailureRatio, HealthConfig, Mount, MountType, NetworkAttachmentConfig, PlacementPreference,
    PortConfig, PortProtocol, PublishMode, ResolutionMode, RestartCondition, ServiceMode, ServiceSpec, UpdateConfig,
    UpdateOrder, SECOND_NS,
};
use swarm_core::stack::{
    convert, deploy_layers, validate_stack_name, StackDependency, StackError, StackPlan, IMAGE_LABEL, NAMESPACE_LABEL,
};
use swarm_core::NetworkSpec;

const STACK: &str = "shop";

fn load(yaml: &str) -> Loaded {
    let environment = BTreeMap::from([("HOME".to_owned(), "/root".to_owned())]);
    load_str("stack.yml", yaml, &environment).unwrap_or_else(|error| panic!("{error}\n{yaml}"))
}

fn plan(yaml: &str) -> StackPlan {
    convert(STACK, &load(yaml)).unwrap_or_else(|error| panic!("{error}\n{yaml}"))
}

fn refusal(yaml: &str) -> String {
    match convert(STACK, &load(yaml)) {
        Ok(plan) => panic!("converted, expected an error:\n{yaml}\n{plan:#?}"),
        Err(error) => error.to_string(),
    }
}

fn spec<'a>(plan: &'a StackPlan, name: &str) -> &'a ServiceSpec {
    let full = format!("{STACK}_{name}");
    &plan.services.iter().find(|service| service.spec.name == full).unwrap_or_else(|| panic!("no {full}")).spec
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
}

fn attachment(target: &str, aliases: &[&str]) -> NetworkAttachmentConfig {
    NetworkAttachmentConfig { target: target.to_owned(), aliases: strings(aliases) }
}

fn host_port(published_port: u32, target_port: u32, protocol: PortProtocol) -> PortConfig {
    PortConfig { name: String::new(), protocol, target_port, published_port, publish_mode: PublishMode::Host }
}

fn ingress_port(published_port: u32, target_port: u32, protocol: PortProtocol) -> PortConfig {
    PortConfig { publish_mode: PublishMode::Ingress, ..host_port(published_port, target_port, protocol) }
}

fn mount(kind: MountType, source: &str, target: &str, read_only: bool) -> Mount {
    Mount { kind, source: source.to_owned(), target: target.to_owned(), read_only, tmpfs_options: None }
}

/// What `docker service create --name shop_web nginx` gives, plus what `stack deploy` always adds: the namespace
/// and image labels, the container's namespace label, and the `default` network with the short name as alias.
fn created(name: &str, image: &str) -> ServiceSpec {
    let mut spec = ServiceSpec::replicated(format!("{STACK}_{name}"), image, 1);
    spec.labels = labels(&[(NAMESPACE_LABEL, STACK), (IMAGE_LABEL, image)]);
    spec.task_template.container_spec.labels = labels(&[(NAMESPACE_LABEL, STACK)]);
    spec.task_template.networks = vec![attachment("shop_default", &[name])];
    spec
}

struct Case {
    name: &'static str,
    yaml: &'static str,
    /// Turns `created("web", "nginx")` into the expected spec of `web`.
    expect: fn(&mut ServiceSpec),
}

const CASES: &[Case] = &[
    Case { name: "defaults are service create's", yaml: "services:\n  web:\n    image: nginx\n", expect: |_| {} },
    Case {
        name: "service labels, container labels, namespace label wins",
        yaml: "services:\n  web:\n    image: nginx\n    labels: {tier: front}\n    deploy:\n      labels: \
               {owner: team, com.docker.stack.namespace: other, com.docker.stack.image: other}\n",
        expect: |s| {
            s.labels = labels(&[(NAMESPACE_LABEL, STACK), (IMAGE_LABEL, "nginx"), ("owner", "team")]);
            s.task_template.container_spec.labels = labels(&[(NAMESPACE_LABEL, STACK), ("tier", "front")]);
        },
    },
    Case {
        name: "replicas",
        yaml: "services:\n  web:\n    image: nginx\n    deploy: {replicas: 3}\n",
        expect: |s| s.mode = ServiceMode::Replicated { replicas: 3 },
    },
    Case {
        name: "global",
        yaml: "services:\n  web:\n    image: nginx\n    deploy: {mode: global}\n",
        expect: |s| s.mode = ServiceMode::Global,
    },
    Case {
        name: "replicated job: no update or rollback config, as service create",
        yaml: "services:\n  web:\n    image: nginx\n    deploy: {mode: replicated-job, replicas: 5}\n",
        expect: |s| {
            s.mode = ServiceMode::ReplicatedJob { max_concurrent: 5, total_completions: 5 };
            s.update_config = None;
            s.rollback_config = None;
        },
    },
    Case {
        name: "global job",
        yaml: "services:\n  web:\n    image: nginx\n    deploy: {mode: global-job}\n",
        expect: |s| {
            s.mode = ServiceMode::GlobalJob;
            s.update_config = None;
            s.rollback_config = None;
        },
    },
    Case {
        name: "dnsrr endpoint with a host-mode port",
        yaml: "services:\n  web:\n    image: nginx\n    ports: [{target: 80, published: 80, mode: host}]\n    \
               deploy: {endpoint_mode: dnsrr}\n",
        expect: |s| {
            s.endpoint_spec.mode = ResolutionMode::Dnsrr;
            s.endpoint_spec.ports = vec![host_port(80, 80, PortProtocol::Tcp)];
        },
    },
    Case {
        name: "ports: short, long, ranges, each in its mode (ingress unless host is asked for), sorted",
        yaml: "services:\n  web:\n    image: nginx\n    ports:\n      - \"9000-9001:90-91\"\n      - 8080:80\n      \
               - 53:53/udp\n      - {target: 443, published: 8443, mode: host, protocol: tcp}\n      \
               - {target: 22, published: 2222, mode: ingress}\n",
        expect: |s| {
            s.endpoint_spec.ports = vec![
                ingress_port(53, 53, PortProtocol::Udp),
                ingress_port(2222, 22, PortProtocol::Tcp),
                ingress_port(8080, 80, PortProtocol::Tcp),
                host_port(8443, 443, PortProtocol::Tcp),
                ingress_port(9000, 90, PortProtocol::Tcp),
                ingress_port(9001, 91, PortProtocol::Tcp),
            ]
        },
    },
    Case {
        name: "environment: sorted as strings, a variable without a value is bare, one from the environment filled",
        yaml: "services:\n  web:\n    image: nginx\n    environment:\n      B: \"2\"\n      A0: x\n      A: \"1\"\n      \
               UNSET:\n      HOME:\n",
        expect: |s| s.task_template.container_spec.env = strings(&["A0=x", "A=1", "B=2", "HOME=/root", "UNSET"]),
    },
    Case {
        name: "command is args, entrypoint is command",
        yaml: "services:\n  web:\n    image: nginx\n    command: echo \"hi there\"\n    entrypoint: [/bin/sh, -c]\n",
        expect: |s| {
            s.task_template.container_spec.command = strings(&["/bin/sh", "-c"]);
            s.task_template.container_spec.args = strings(&["echo", "hi there"]);
        },
    },
    Case {
        name: "hostname, user, working_dir, stop_grace_period",
        yaml: "services:\n  web:\n    image: nginx\n    hostname: h1\n    user: \"1000:1000\"\n    working_dir: /srv\n    \
               stop_grace_period: 1m30s\n",
        expect: |s| {
            let container = &mut s.task_template.container_spec;
            container.hostname = "h1".into();
            container.user = "1000:1000".into();
            container.dir = "/srv".into();
            container.stop_grace_period_ns = 90 * SECOND_NS;
        },
    },
    Case {
        name: "healthcheck",
        yaml: "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: curl -f http://localhost/\n      \
               interval: 10s\n      timeout: 2s\n      retries: 4\n      start_period: 1m\n",
        expect: |s| {
            s.task_template.container_spec.healthcheck = Some(HealthConfig {
                test: strings(&["CMD-SHELL", "curl -f http://localhost/"]),
                interval_ns: 10 * SECOND_NS,
                timeout_ns: 2 * SECOND_NS,
                retries: 4,
                start_period_ns: 60 * SECOND_NS,
            })
        },
    },
    Case {
        name: "healthcheck disable",
        yaml: "services:\n  web:\n    image: nginx\n    healthcheck: {disable: true}\n",
        expect: |s| {
            s.task_template.container_spec.healthcheck =
                Some(HealthConfig { test: strings(&["NONE"]), ..HealthConfig::default() })
        },
    },
    Case {
        name: "healthcheck test NONE",
        yaml: "services:\n  web:\n    image: nginx\n    healthcheck: {test: [NONE]}\n",
        expect: |s| {
            s.task_template.container_spec.healthcheck =
                Some(HealthConfig { test: strings(&["NONE"]), ..HealthConfig::default() })
        },
    },
    Case {
        name: "a healthcheck that sets nothing inherits the image's, as service create",
        yaml: "services:\n  web:\n    image: nginx\n    healthcheck: {}\n",
        expect: |_| {},
    },
    Case {
        name: "restart policy over the defaults",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      restart_policy: {condition: on-failure, \
               max_attempts: 3, window: 1m}\n",
        expect: |s| {
            let policy = &mut s.task_template.restart_policy;
            policy.condition = RestartCondition::OnFailure;
            policy.max_attempts = 3;
            policy.window_ns = 60 * SECOND_NS;
        },
    },
    Case {
        name: "legacy restart, honoured as Docker honours it",
        yaml: "services:\n  web:\n    image: nginx\n    restart: on-failure:3\n",
        expect: |s| {
            s.task_template.restart_policy.condition = RestartCondition::OnFailure;
            s.task_template.restart_policy.max_attempts = 3;
        },
    },
    Case {
        name: "legacy restart no: the defaults, as Docker sends none",
        yaml: "services:\n  web:\n    image: nginx\n    restart: \"no\"\n",
        expect: |_| {},
    },
    Case {
        name: "deploy.restart_policy wins over restart",
        yaml: "services:\n  web:\n    image: nginx\n    restart: always\n    deploy:\n      restart_policy: \
               {condition: none, delay: 1s}\n",
        expect: |s| {
            s.task_template.restart_policy.condition = RestartCondition::None;
            s.task_template.restart_policy.delay_ns = SECOND_NS;
        },
    },
    Case {
        name: "update and rollback configs over the defaults",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      update_config: {parallelism: 2, order: \
               start-first, delay: 5s}\n      rollback_config: {parallelism: 0, failure_action: continue, monitor: 2s, \
               max_failure_ratio: 0.5}\n",
        expect: |s| {
            s.update_config = Some(UpdateConfig {
                parallelism: 2,
                order: UpdateOrder::StartFirst,
                delay_ns: 5 * SECOND_NS,
                ..UpdateConfig::default()
            });
            s.rollback_config = Some(UpdateConfig {
                parallelism: 0,
                failure_action: FailureAction::Continue,
                monitor_ns: 2 * SECOND_NS,
                max_failure_ratio: FailureRatio(0.5),
                ..UpdateConfig::default()
            });
        },
    },
    Case {
        name: "resources",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        limits: {cpus: \"1.5\", \
               memory: 1G}\n        reservations: {cpus: \"0.25\", memory: 64M}\n",
        expect: |s| {
            let resources = &mut s.task_template.resources;
            resources.limits.nano_cpus = 1_500_000_000;
            resources.limits.memory_bytes = 1 << 30;
            resources.reservations.nano_cpus = 250_000_000;
            resources.reservations.memory_bytes = 64 << 20;
        },
    },
    Case {
        name: "placement",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      placement:\n        constraints: \
               [node.role==manager]\n        preferences: [{spread: node.labels.zone}]\n        \
               max_replicas_per_node: 2\n",
        expect: |s| {
            let placement = &mut s.task_template.placement;
            placement.constraints = strings(&["node.role==manager"]);
            placement.preferences =
                vec![PlacementPreference::Spread { spread_descriptor: "node.labels.zone".into() }];
            placement.max_replicas = 2;
        },
    },
    Case {
        name: "mounts: named, external, named by name, bind, anonymous, tmpfs",
        yaml: "services:\n  web:\n    image: nginx\n    volumes:\n      - data:/var/lib/data\n      - \
               ./site:/srv/site:ro\n      - /cache\n      - {type: tmpfs, target: /tmp}\n      - ext:/ext\n      - \
               named:/named\nvolumes:\n  data: {driver: local}\n  ext: {external: true, name: shared-data}\n  named: \
               {name: custom}\n",
        expect: |s| {
            s.task_template.container_spec.mounts = vec![
                mount(MountType::Volume, "shop_data", "/var/lib/data", false),
                mount(MountType::Bind, "/stack/site", "/srv/site", true),
                mount(MountType::Volume, "", "/cache", false),
                mount(MountType::Tmpfs, "", "/tmp", false),
                mount(MountType::Volume, "shared-data", "/ext", false),
                mount(MountType::Volume, "custom", "/named", false),
            ]
        },
    },
    Case {
        name: "networks: aliases from the file, then the short name; sorted by target",
        yaml: "services:\n  web:\n    image: nginx\n    networks:\n      front:\n        aliases: [www]\n      \
               back:\nnetworks:\n  front: {}\n  back: {}\n",
        expect: |s| {
            s.task_template.networks = vec![attachment("shop_back", &["web"]), attachment("shop_front", &["www", "web"])]
        },
    },
    Case {
        name: "external network by its name, a named network by its name",
        yaml: "services:\n  web:\n    image: nginx\n    networks: [outside, corp, mine]\nnetworks:\n  outside: \
               {external: true}\n  corp: {external: true, name: corp-net}\n  mine: {name: my-net}\n",
        expect: |s| {
            s.task_template.networks = vec![
                attachment("corp-net", &["web"]),
                attachment("my-net", &["web"]),
                attachment("outside", &["web"]),
            ]
        },
    },
    Case {
        name: "empty values of unsupported keys ask for nothing",
        yaml: "services:\n  web:\n    image: nginx\n    cap_add: []\n    cap_drop: []\n    dns: []\n    \
               dns_search: []\n    extra_hosts: []\n    init: false\n    read_only: false\n    tty: false\n    \
               stdin_open: false\n    sysctls: {}\n    ulimits: {}\n    logging: {}\n    secrets: []\n    \
               configs: []\n    tmpfs: []\n    oom_score_adj: 0\n    volumes: [\"data:/data\"]\nvolumes:\n  \
               data: {driver: local}\nsecrets:\n  outside: {external: true}\n",
        expect: |s| {
            // `init: false` is sent as Docker sends it (an explicit false), as `service create` without `--init` does.
            s.task_template.container_spec.init = Some(false);
            s.task_template.container_spec.mounts = vec![mount(MountType::Volume, "shop_data", "/data", false)];
        },
    },
    Case {
        name: "container options map as Docker maps them",
        yaml: "services:\n  web:\n    image: nginx\n    cap_add: [net_admin, SYS_TIME]\n    cap_drop: [ALL]\n    \
               dns: [10.0.0.53]\n    dns_search: [corp.example]\n    extra_hosts: [\"db:10.0.0.2\"]\n    init: true\n    \
               read_only: true\n    stop_signal: SIGINT\n    sysctls: {net.core.somaxconn: \"1024\"}\n    ulimits:\n      \
               nproc: 65535\n      nofile: {soft: 20000, hard: 40000}\n    logging:\n      driver: syslog\n      \
               options: {tag: web}\n    tmpfs: /run\n    volumes:\n      - {type: tmpfs, target: /cache, tmpfs: {size: 1000}}\n",
        expect: |s| {
            let container = &mut s.task_template.container_spec;
            container.capability_add = vec!["CAP_NET_ADMIN".into(), "CAP_SYS_TIME".into()];
            container.capability_drop = vec!["ALL".into()];
            container.dns_config.nameservers = vec!["10.0.0.53".into()];
            container.dns_config.search = vec!["corp.example".into()];
            container.hosts = vec!["10.0.0.2 db".into()];
            container.init = Some(true);
            container.read_only = true;
            container.stop_signal = "SIGINT".into();
            container.sysctls = labels(&[("net.core.somaxconn", "1024")]);
            container.ulimits =
                vec![swarm_core::Ulimit::new("nofile", 20000, 40000), swarm_core::Ulimit::new("nproc", 65535, 65535)];
            let mut cache = mount(MountType::Tmpfs, "", "/cache", false);
            cache.tmpfs_options = Some(swarm_core::TmpfsOptions { size_bytes: 1000, mode: 0 });
            container.mounts = vec![cache, mount(MountType::Tmpfs, "", "/run", false)];
            s.task_template.log_driver = Some(swarm_core::LogDriver {
                name: "syslog".into(),
                options: labels(&[("tag", "web")]),
            });
        },
    },
];

#[test]
fn services_convert_as_service_create_would() {
    for case in CASES {
        let plan = plan(case.yaml);
        let mut expected = created("web", "nginx");
        (case.expect)(&mut expected);
        assert_eq!(spec(&plan, "web"), &expected, "{}", case.name);
        for service in &plan.services {
            assert_eq!(service.spec.validate(), Ok(()), "{}: {}", case.name, service.spec.name);
        }
    }
}

#[test]
fn networks_are_those_the_services_use() {
    let yaml = "services:\n  web:\n    image: nginx\n    networks: [front, outside]\n  worker:\n    image: busybox\n\
                networks:\n  front:\n    driver_opts: {encrypted: \"\"}\n    labels: {zone: a}\n    attachable: true\n    \
                internal: true\n    ipam: {config: [{subnet: 10.20.0.0/24}]}\n  unused: {}\n  outside: \
                {external: true, name: corp}\n";
    let plan = plan(yaml);
    let front = NetworkSpec {
        name: "shop_front".into(),
        labels: labels(&[(NAMESPACE_LABEL, STACK), ("zone", "a")]),
        options: labels(&[("encrypted", "")]),
        attachable: true,
        internal: true,
        ipam: vec![swarm_core::IpamConfig {
            subnet: swarm_core::ipam::Ipv4Cidr::parse("10.20.0.0/24").unwrap(),
            gateway: None,
            ip_range: None,
        }],
        ..NetworkSpec::overlay("")
    };
    let default = NetworkSpec { labels: labels(&[(NAMESPACE_LABEL, STACK)]), ..NetworkSpec::overlay("shop_default") };
    assert_eq!(plan.networks, vec![default, front]);
    assert_eq!(plan.external_networks, strings(&["corp"]));
    assert_eq!(spec(&plan, "worker").task_template.networks, vec![attachment("shop_default", &["worker"])]);

    // No service without networks: no default network. A `name:` names the network; a `default` declared at the
    // top level is converted like any other.
    let plan = plan_of(
        "services:\n  web:\n    image: nginx\n    networks: [back]\nnetworks:\n  back: {name: backend, driver: \
         overlay}\n  default: {name: never}\n",
    );
    assert_eq!(plan.networks.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["backend"]);
    assert!(plan.external_networks.is_empty());
    let plan = plan_of("services:\n  web:\n    image: nginx\nnetworks:\n  default: {external: true, name: host-net}\n");
    assert!(plan.networks.is_empty());
    assert_eq!(plan.external_networks, strings(&["host-net"]));
    assert_eq!(spec(&plan, "web").task_template.networks, vec![attachment("host-net", &["web"])]);
    // The Engine's own networks take no aliases.
    let plan = plan_of("services:\n  web:\n    image: nginx\nnetworks:\n  default: {external: true, name: host}\n");
    assert_eq!(spec(&plan, "web").task_template.networks, vec![attachment("host", &[])]);
    // A network a service names twice over (by key and by another key's `name:`) is refused.
    assert_eq!(
        refusal(
            "services:\n  web:\n    image: nginx\n    networks: [a]\n  worker:\n    image: nginx\n    networks: \
             [b]\nnetworks:\n  a: {name: shop_b}\n  b: {}\n"
        ),
        "stack.yml:10:3: networks.b: network name \"shop_b\" is also used by networks.a"
    );
}

fn plan_of(yaml: &str) -> StackPlan {
    plan(yaml)
}

#[test]
fn services_are_sorted_and_carry_their_dependencies() {
    let plan = plan(
        "services:\n  web:\n    image: nginx\n    depends_on:\n      db: {condition: service_healthy}\n      \
         cache: {condition: service_started, required: false}\n      api:\n  db:\n    image: postgres\n  api:\n    \
         image: api\n",
    );
    let names: Vec<&str> = plan.services.iter().map(|s| s.spec.name.as_str()).collect();
    assert_eq!(names, ["shop_api", "shop_db", "shop_web"]);
    let web = plan.services.iter().find(|s| s.spec.name == "shop_web").unwrap();
    // The optional dependency on a service the stack does not have is left out.
    let dependency = |service: &str, condition| StackDependency { service: service.into(), condition };
    assert_eq!(
        web.depends_on,
        vec![
            dependency("shop_db", DependencyCondition::ServiceHealthy),
            dependency("shop_api", DependencyCondition::ServiceStarted),
        ]
    );
    assert_eq!(plan.name, STACK);
}

/// (name, yaml, the error exactly).
const REFUSALS: &[(&str, &str, &str)] = &[
    (
        "service secrets",
        "services:\n  web:\n    image: nginx\n    secrets: [pw]\nsecrets:\n  pw: {file: ./pw.txt}\n",
        "stack.yml:4:5: services.web.secrets: not supported yet",
    ),
    (
        "a secret the stack would create",
        "services:\n  web:\n    image: nginx\nsecrets:\n  pw: {file: ./pw.txt}\n",
        "stack.yml:5:3: secrets.pw: not supported yet",
    ),
    (
        "a config the stack would create",
        "services:\n  web:\n    image: nginx\nconfigs:\n  site: {file: ./site.conf}\n",
        "stack.yml:5:3: configs.site: not supported yet",
    ),
    ("tty", "services:\n  web:\n    image: nginx\n    tty: true\n", "stack.yml:4:5: services.web.tty: not supported yet"),
    ("stdin_open", "services:\n  web:\n    image: nginx\n    stdin_open: true\n", "stack.yml:4:5: services.web.stdin_open: not supported yet"),
    ("oom_score_adj", "services:\n  web:\n    image: nginx\n    oom_score_adj: 500\n", "stack.yml:4:5: services.web.oom_score_adj: not supported yet"),
    ("isolation", "services:\n  web:\n    image: nginx\n    isolation: hyperv\n", "stack.yml:4:5: services.web.isolation: not supported yet"),
    (
        "credential_spec",
        "services:\n  web:\n    image: nginx\n    credential_spec: {file: spec.json}\n",
        "stack.yml:4:5: services.web.credential_spec: not supported yet",
    ),
    (
        "pids limit, at its own line and column",
        "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        limits:\n          pids: 100\n",
        "stack.yml:7:11: services.web.deploy.resources.limits.pids: not supported yet",
    ),
    (
        "generic resources",
        "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        reservations:\n          \
         generic_resources:\n            - discrete_resource_spec: {kind: gpu, value: 2}\n",
        "stack.yml:7:11: services.web.deploy.resources.reservations.generic_resources: not supported yet",
    ),
    (
        "healthcheck start_interval",
        "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [CMD, \"true\"]\n      start_interval: 1s\n",
        "stack.yml:6:7: services.web.healthcheck.start_interval: not supported yet",
    ),
    (
        "driver options of an attachment",
        "services:\n  web:\n    image: nginx\n    networks:\n      front:\n        driver_opts: {a: b}\nnetworks:\n  \
         front: {}\n",
        "stack.yml:6:9: services.web.networks.front.driver_opts: not supported yet",
    ),
    (
        "nocopy in the short syntax: placed at the item",
        "services:\n  web:\n    image: nginx\n    volumes:\n      - data:/data:nocopy\nvolumes:\n  data: {}\n",
        "stack.yml:5:9: services.web.volumes[0].volume.nocopy: not supported yet",
    ),
    (
        "bind propagation in the long syntax: placed at its key",
        "services:\n  web:\n    image: nginx\n    volumes:\n      - type: bind\n        source: /a\n        target: \
         /b\n        bind:\n          propagation: rslave\n",
        "stack.yml:9:11: services.web.volumes[0].bind.propagation: not supported yet",
    ),
    (
        "more sysctls than the store takes",
        SYSCTLS_65,
        "stack.yml:2:3: services.web: number of options 65 exceeds the maximum of 64",
    ),
    (
        "a tmpfs entry with options",
        "services:\n  web:\n    image: nginx\n    tmpfs: [\"/run:size=64m\"]\n",
        "stack.yml:4:5: services.web.tmpfs[0]: \"/run:size=64m\": options in a tmpfs: entry are not supported yet; use \
         a volume of type tmpfs (tmpfs.size)",
    ),
    (
        "a relative tmpfs entry",
        "services:\n  web:\n    image: nginx\n    tmpfs: [run]\n",
        "stack.yml:4:5: services.web.tmpfs[0]: \"run\": the path must be absolute",
    ),
    (
        "an unknown stop signal",
        "services:\n  web:\n    image: nginx\n    stop_signal: SIGNOPE\n",
        "stack.yml:4:5: services.web.stop_signal: invalid signal: SIGNOPE",
    ),
    (
        "a soft ulimit above the hard one",
        "services:\n  web:\n    image: nginx\n    ulimits: {nofile: {soft: 20, hard: 10}}\n",
        "stack.yml:4:5: services.web.ulimits: ulimit soft limit must be less than or equal to hard limit: 20 > 10",
    ),
    (
        "npipe",
        "services:\n  web:\n    image: nginx\n    volumes:\n      - {type: npipe, source: '\\\\.\\pipe\\x', target: /p}\n",
        "stack.yml:5:10: services.web.volumes[0].type: not supported yet",
    ),
    (
        "restart on a dependency's update",
        "services:\n  web:\n    image: nginx\n    depends_on:\n      db: {restart: true}\n  db:\n    image: pg\n",
        "stack.yml:5:12: services.web.depends_on.db.restart: not supported yet",
    ),
    (
        "a volume driver",
        "services:\n  web:\n    image: nginx\n    volumes: [\"data:/data\"]\nvolumes:\n  data:\n    driver: rexray\n",
        "stack.yml:7:5: volumes.data.driver: not supported yet",
    ),
    (
        "volume labels",
        "services:\n  web:\n    image: nginx\n    volumes: [\"data:/data\"]\nvolumes:\n  data:\n    labels: {a: b}\n",
        "stack.yml:7:5: volumes.data.labels: not supported yet",
    ),
    (
        "an IPAM driver",
        "services:\n  web:\n    image: nginx\nnetworks:\n  default:\n    ipam:\n      driver: other\n",
        "stack.yml:7:7: networks.default.ipam.driver: not supported yet",
    ),
    (
        "an unknown legacy restart policy",
        "services:\n  web:\n    image: nginx\n    restart: sometimes\n",
        "stack.yml:4:5: services.web.restart: invalid restart policy: unknown policy 'sometimes' (must be one of \
         'no', 'always', 'on-failure', or 'unless-stopped')",
    ),
    (
        "a legacy restart count that is not a number",
        "services:\n  web:\n    image: nginx\n    restart: on-failure:x\n",
        "stack.yml:4:5: services.web.restart: invalid restart policy format: maximum retry count must be an integer",
    ),
    (
        "a negative stop grace period",
        "services:\n  web:\n    image: nginx\n    stop_grace_period: -1s\n",
        "stack.yml:4:5: services.web.stop_grace_period: duration cannot be negative",
    ),
    (
        "an IPv6 subnet",
        "services:\n  web:\n    image: nginx\nnetworks:\n  default:\n    ipam:\n      config:\n        - subnet: \
         fd00::/64\n",
        "stack.yml:8:11: networks.default.ipam.config[0].subnet: invalid CIDR address: fd00::/64",
    ),
    (
        "a bad constraint, placed at the constraints",
        "services:\n  web:\n    image: nginx\n    deploy:\n      placement:\n        constraints: [node.role=manager]\n",
        "stack.yml:6:9: services.web.deploy.placement.constraints: invalid constraint \"node.role=manager\": \
         expected == or !=",
    ),
    (
        "replicas per node for a global service",
        "services:\n  web:\n    image: nginx\n    deploy:\n      mode: global\n      placement: \
         {max_replicas_per_node: 2}\n",
        "stack.yml:6:19: services.web.deploy.placement.max_replicas_per_node: replicas-max-per-node can only be used \
         with replicated or replicated-job mode",
    ),
    (
        "a reservation too small",
        "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        reservations: {memory: 1k}\n",
        "stack.yml:5:7: services.web.deploy.resources: invalid memory value 1024: Must be at least 4MiB",
    ),
    (
        "an update config on a job",
        "services:\n  web:\n    image: nginx\n    deploy:\n      mode: replicated-job\n      update_config: \
         {parallelism: 2}\n",
        "stack.yml:6:7: services.web.deploy.update_config: Jobs may not have an update config",
    ),
    (
        "no image",
        "services:\n  web:\n    hostname: x\n",
        "stack.yml:2:3: services.web.image: ContainerSpec: image reference must be provided",
    ),
    (
        "a read-only anonymous volume",
        "services:\n  web:\n    image: nginx\n    volumes: [{type: volume, target: /data, read_only: true}]\n",
        "stack.yml:4:5: services.web.volumes: invalid mount config for type \"volume\": must not set ReadOnly mode \
         when using anonymous volumes",
    ),
    (
        "an ingress port on a dnsrr service (the mesh balances over a VIP, which dnsrr has none of)",
        "services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n    deploy: {endpoint_mode: dnsrr}\n",
        "stack.yml:4:5: services.web.ports: EndpointSpec: port published with ingress mode can't be used with dnsrr \
         mode",
    ),
];

/// A service with 65 sysctls (the store takes 64 options per map).
const SYSCTLS_65: &str = concat!(
    "services:\n  web:\n    image: nginx\n    sysctls:\n",
    "      k00: v\n      k01: v\n      k02: v\n      k03: v\n      k04: v\n      k05: v\n      k06: v\n      k07: v\n",
    "      k08: v\n      k09: v\n      k10: v\n      k11: v\n      k12: v\n      k13: v\n      k14: v\n      k15: v\n",
    "      k16: v\n      k17: v\n      k18: v\n      k19: v\n      k20: v\n      k21: v\n      k22: v\n      k23: v\n",
    "      k24: v\n      k25: v\n      k26: v\n      k27: v\n      k28: v\n      k29: v\n      k30: v\n      k31: v\n",
    "      k32: v\n      k33: v\n      k34: v\n      k35: v\n      k36: v\n      k37: v\n      k38: v\n      k39: v\n",
    "      k40: v\n      k41: v\n      k42: v\n      k43: v\n      k44: v\n      k45: v\n      k46: v\n      k47: v\n",
    "      k48: v\n      k49: v\n      k50: v\n      k51: v\n      k52: v\n      k53: v\n      k54: v\n      k55: v\n",
    "      k56: v\n      k57: v\n      k58: v\n      k59: v\n      k60: v\n      k61: v\n      k62: v\n      k63: v\n",
    "      k64: v\n",
);

#[test]
fn refusals_name_the_place() {
    let wrong: Vec<String> = REFUSALS
        .iter()
        .filter_map(|(name, yaml, expected)| {
            let got = refusal(yaml);
            (got != *expected).then(|| format!("{name}:\n  got      {got}\n  expected {expected}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn refused_keys_carry_their_key_path() {
    let error = convert(STACK, &load("services:\n  web:\n    image: nginx\n    tty: true\n")).unwrap_err();
    assert!(matches!(&error, StackError::Unsupported { key_path, .. } if key_path == "services.web.tty"));
    assert_eq!(error.key_path(), Some("services.web.tty"));
}

#[test]
fn stack_names_follow_docker() {
    for bad in ["", "   ", "'   '", "\"\"", "\t\n"] {
        assert_eq!(validate_stack_name(bad), Err(StackError::InvalidStackName { name: bad.to_owned() }), "{bad:?}");
    }
    assert_eq!(validate_stack_name("'   '").unwrap_err().to_string(), r#"invalid stack name: "'   '""#);
    assert_eq!(validate_stack_name("shop"), Ok(()));
    let loaded = load("services:\n  web:\n    image: nginx\n");
    assert_eq!(convert("", &loaded).unwrap_err().to_string(), r#"invalid stack name: """#);
    // Docker checks no more; the service names it makes are checked as the daemon checks them.
    assert_eq!(
        convert("my shop", &loaded).unwrap_err().to_string(),
        "stack.yml:2:3: services.web: invalid name \"my shop_web\": name must be valid as a DNS name component"
    );
}

fn layers(yaml: &str) -> Vec<Vec<String>> {
    deploy_layers(&plan(yaml)).unwrap_or_else(|error| panic!("{error}\n{yaml}"))
}

fn layer_names(layers: &[&[&str]]) -> Vec<Vec<String>> {
    layers.iter().map(|layer| layer.iter().map(|name| format!("{STACK}_{name}")).collect()).collect()
}

#[test]
fn deploy_layers_order_dependencies() {
    let chain = "services:\n  web: {image: a, depends_on: [api]}\n  api: {image: a, depends_on: [db]}\n  db: {image: \
                 a}\n";
    assert_eq!(layers(chain), layer_names(&[&["db"], &["api"], &["web"]]));
    let diamond = "services:\n  web: {image: a, depends_on: [auth, api]}\n  api: {image: a, depends_on: [db]}\n  \
                   auth: {image: a, depends_on: [db]}\n  db: {image: a}\n";
    assert_eq!(layers(diamond), layer_names(&[&["db"], &["api", "auth"], &["web"]]));
    let independent = "services:\n  c: {image: a}\n  a: {image: a}\n  b: {image: a}\n";
    assert_eq!(layers(independent), layer_names(&[&["a", "b", "c"]]));
    let uneven = "services:\n  web: {image: a, depends_on: [db, api]}\n  api: {image: a, depends_on: [db]}\n  db: \
                  {image: a}\n  cron: {image: a}\n";
    assert_eq!(layers(uneven), layer_names(&[&["cron", "db"], &["api"], &["web"]]));
    let optional = "services:\n  web:\n    image: a\n    depends_on:\n      gone: {required: false}\n";
    assert_eq!(layers(optional), layer_names(&[&["web"]]));
}

#[test]
fn deploy_layers_refuse_cycles_and_strangers() {
    // The loader refuses a cycle and a dependency on a service the stack does not have, naming them.
    let environment = BTreeMap::new();
    let cycle = "services:\n  web: {image: a, depends_on: [api]}\n  api: {image: a, depends_on: [web]}\n";
    let error = load_str("stack.yml", cycle, &environment).unwrap_err().to_string();
    assert!(error.ends_with("dependency cycle: api -> web -> api"), "{error}");
    let stranger = "services:\n  web: {image: a, depends_on: [nope]}\n";
    let error = load_str("stack.yml", stranger, &environment).unwrap_err().to_string();
    assert!(error.contains("service \"web\" depends on undefined service \"nope\""), "{error}");

    // A plan built by hand can still hold them: refused, never a partial order or a panic.
    let mut plan = plan("services:\n  web: {image: a}\n  api: {image: a}\n  db: {image: a}\n");
    let depend = |plan: &mut StackPlan, from: &str, to: &str| {
        let service = plan.services.iter_mut().find(|s| s.spec.name == format!("{STACK}_{from}")).unwrap();
        service
            .depends_on
            .push(StackDependency { service: format!("{STACK}_{to}"), condition: DependencyCondition::ServiceStarted });
    };
    depend(&mut plan, "web", "api");
    depend(&mut plan, "api", "web");
    depend(&mut plan, "db", "db");
    assert_eq!(deploy_layers(&plan).unwrap_err().to_string(), "dependency cycle: api -> web -> api");
    let mut plan = plan_of("services:\n  web: {image: a}\n  db: {image: a}\n");
    depend(&mut plan, "db", "db");
    assert_eq!(deploy_layers(&plan).unwrap_err().to_string(), "dependency cycle: db -> db");
    depend(&mut plan, "web", "cache");
    assert_eq!(deploy_layers(&plan).unwrap_err().to_string(), "service \"web\" depends on undefined service \"cache\"");
}

/// `env_file:` entries from the disk, for the corpus.
struct DiskFiles;

impl FileSource for DiskFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|error| error.to_string())
    }
}

/// The CLI's corpus of real compose files: every file that loads either converts, with every service valid and an
/// order to deploy them in, or is refused with its place named. The outcomes are pinned in `stacks_corpus.txt`
/// (a row changes when the specs gain a field the table refuses today).
#[test]
fn corpus_converts_or_is_refused_with_a_place() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/compose");
    let mut outcomes = Vec::new();
    for dir in ["awesome-compose", "own"] {
        let mut entries: Vec<_> =
            std::fs::read_dir(root.join(dir)).expect("corpus dir").map(|entry| entry.expect("entry").path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !(name.ends_with(".yml") || name.ends_with(".yaml")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let files = [SourceFile { name: &name, text: &text }];
            let working_dir = root.join(dir).to_string_lossy().into_owned();
            let input = LoadInput {
                files: &files,
                working_dir: &working_dir,
                environment: &BTreeMap::new(),
                files_reader: &DiskFiles,
                skip_interpolation: false,
            };
            // Files the loader refuses are the loader's tests' business.
            let Ok(loaded) = swarm_core::compose::load(&input) else { continue };
            match convert(STACK, &loaded) {
                Ok(plan) => {
                    for service in &plan.services {
                        assert_eq!(service.spec.validate(), Ok(()), "{name}: {}", service.spec.name);
                    }
                    deploy_layers(&plan).unwrap_or_else(|error| panic!("{name}: {error}"));
                    outcomes.push(format!("{dir}/{name}: ok"));
                }
                Err(error) => {
                    let text = error.to_string();
                    assert!(text.starts_with(&format!("{name}:")), "{dir}/{name}: unplaced error: {text}");
                    outcomes.push(format!("{dir}/{name}: {text}"));
                }
            }
        }
    }
    let expected = include_str!("stacks_corpus.txt");
    assert_eq!(outcomes.join("\n") + "\n", expected, "corpus outcomes changed; got:\n{}", outcomes.join("\n"));
}
