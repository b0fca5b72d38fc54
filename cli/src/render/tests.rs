//! Golden tests of every renderer over one fixed `ClusterView` (three nodes: the leader, a reachable manager, a
//! down worker; three services: a replicated service with a published port and a failed-task history, a global
//! service with a host-mode port, a replicated job with completions), plus unit tests of the Docker conventions
//! against outputs Docker printed. Goldens live in `cli/tests/golden/`; `UPDATE_GOLDEN=1 cargo test -p swarm
//! render` rewrites them from the current output (review the diff before keeping it).

use std::collections::BTreeMap;

use swarm_core::spec::{
    FailureRatio, HealthConfig, Mount, MountType, NetworkAttachmentConfig, PortConfig, PortProtocol, PublishMode,
    UpdateOrder,
};
use swarm_core::{
    EngineDescription, ManagerStatus, Network, NetworkAllocation, NetworkSpec, Node, NodeAvailability, NodeDescription,
    NodeRole, NodeSpec, NodeState, Platform, Reachability, Resources, Service, ServiceSpec, Task, TaskState, Timestamp,
    UpdateState, UpdateStatus, Version,
};
use swarm_runtime::control::view::ClusterView;

use super::ids::{self, Kind};
use super::service_ps::{self, PsOptions};
use super::template::{OutputFormat, Template};
use super::{
    inspect, json, node_inspect_pretty, node_ls, service_inspect_pretty, service_ls, table, text, time as render_time,
};

// ---------------------------------------------------------------------------------------------------------------
// Golden files

/// Compares `actual` with `cli/tests/golden/<name>`, or rewrites the file when `UPDATE_GOLDEN` is set.
fn check_golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e} (UPDATE_GOLDEN=1 creates it)"));
    if expected != actual {
        panic!(
            "output differs from {path} (- golden, + actual; UPDATE_GOLDEN=1 rewrites it):\n{}",
            diff(&expected, actual)
        );
    }
}

/// The lines that differ, escaped so tabs and trailing spaces show.
fn diff(expected: &str, actual: &str) -> String {
    let (expected, actual): (Vec<&str>, Vec<&str>) =
        (expected.split_inclusive('\n').collect(), actual.split_inclusive('\n').collect());
    let mut out = String::new();
    for line in 0..expected.len().max(actual.len()) {
        match (expected.get(line), actual.get(line)) {
            (Some(e), Some(a)) if e == a => out.push_str(&format!("  {e:?}\n")),
            (e, a) => {
                if let Some(e) = e {
                    out.push_str(&format!("- {e:?}\n"));
                }
                if let Some(a) = a {
                    out.push_str(&format!("+ {a:?}\n"));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Fixture

const NOW: u64 = 1_795_687_200_000; // 2026-11-26 10:00:00 UTC
const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

const LEADER: &str = "nzhw43nnw3tz0gn2lkgxdn2xh";
const MANAGER: &str = "k3r5vq2m8x1p0d7w4s6t9y2bc";
const WORKER: &str = "q8w2e4r6t8y0u1i3o5p7a9s0d";
const WEB: &str = "57nbypg6er58p5pqooqg3qrpd";
const AGENT: &str = "2z3l5hte8hcmgz42y17igj3b3";
const MIGRATE: &str = "v5btsprwi5o8kq5908rpl8as8";
const FRONT: &str = "rslnl5147sstpukpnx76fme78";
const WEB_IMAGE: &str = "nginx:1.25@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31";

fn ago(millis: u64) -> Timestamp {
    Timestamp(NOW - millis)
}

#[allow(clippy::too_many_arguments)]
fn node(
    id: &str,
    hostname: &str,
    role: NodeRole,
    state: NodeState,
    availability: NodeAvailability,
    addr: &str,
    architecture: &str,
    resources: Resources,
    engine: &str,
    created_at: Timestamp,
) -> Node {
    let spec = NodeSpec { role, availability, ..NodeSpec::default() };
    let description = NodeDescription {
        hostname: hostname.to_string(),
        platform: Platform { os: "linux".to_string(), architecture: architecture.to_string() },
        resources,
        engine: EngineDescription { engine_version: engine.to_string(), labels: BTreeMap::new() },
    };
    let mut node = Node::new(id, spec, description);
    node.status.state = state;
    node.status.addr = addr.to_string();
    node.created_at = created_at;
    node.updated_at = Timestamp(NOW);
    node
}

fn manager(raft_id: u64, addr: &str, leader: bool) -> Option<ManagerStatus> {
    Some(ManagerStatus { raft_id, addr: addr.to_string(), leader, reachability: Reachability::Reachable })
}

fn service(id: &str, spec: ServiceSpec, created_at: Timestamp) -> Service {
    Service {
        id: id.to_string(),
        version: Version::INITIAL,
        created_at,
        updated_at: created_at,
        spec,
        previous_spec: None,
        spec_history: Vec::new(),
        update_status: None,
        virtual_ips: Vec::new(),
    }
}

struct TaskAt<'a> {
    id: &'a str,
    service: &'a Service,
    slot: Option<u64>,
    node: Option<&'a str>,
    desired: TaskState,
    state: TaskState,
    since: Timestamp,
    created: Timestamp,
    err: Option<&'a str>,
}

fn task(t: TaskAt<'_>) -> Task {
    let mut task = Task::new(t.id, &t.service.id, t.slot, t.service.spec.task_template.clone());
    task.node_id = t.node.map(str::to_string);
    task.desired_state = t.desired;
    task.status.state = t.state;
    task.status.timestamp = t.since;
    task.status.err = t.err.map(str::to_string);
    task.created_at = t.created;
    task.updated_at = t.since.max(t.created);
    task.service_name = t.service.spec.name.clone();
    task.endpoint = t.service.spec.endpoint_spec.clone();
    task
}

fn fixture() -> ClusterView {
    let gib = 1024 * 1024 * 1024;
    let mut leader = node(
        LEADER,
        "manager-1",
        NodeRole::Manager,
        NodeState::Ready,
        NodeAvailability::Active,
        "10.0.0.1",
        "x86_64",
        Resources { nano_cpus: 2_000_000_000, memory_bytes: 8_345_088_000 },
        "20.10.24+dfsg1",
        Timestamp(1_795_425_123_250), // 2026-11-23 09:12:03.25 UTC
    );
    leader.manager_status = manager(1, "10.0.0.1:2377", true);
    leader.spec.labels.insert("zone".to_string(), "east".to_string());
    let mut reachable = node(
        MANAGER,
        "manager-2",
        NodeRole::Manager,
        NodeState::Ready,
        NodeAvailability::Active,
        "10.0.0.2",
        "aarch64",
        Resources { nano_cpus: 4_000_000_000, memory_bytes: 4 * gib },
        "24.0.7",
        ago(2 * DAY),
    );
    reachable.manager_status = manager(2, "10.0.0.2:2377", false);
    reachable.description.engine.labels.insert("storage".to_string(), "ssd".to_string());
    reachable.description.engine.labels.insert("gpu".to_string(), String::new());
    let mut worker = node(
        WORKER,
        "worker-1",
        NodeRole::Worker,
        NodeState::Down,
        NodeAvailability::Pause,
        "10.0.0.3",
        "x86_64",
        Resources { nano_cpus: 1_500_000_000, memory_bytes: 3_000_000_000 },
        "20.10.24+dfsg1",
        Timestamp(1_795_595_400_007), // 2026-11-25 08:30:00.007 UTC
    );
    worker.spec.name = Some("edge".to_string());
    worker.status.message = "heartbeat failure".to_string();

    let mut web_spec = ServiceSpec::replicated("web", WEB_IMAGE, 3);
    web_spec.labels.insert("tier".to_string(), "frontend".to_string());
    web_spec.endpoint_spec.ports.push(PortConfig::tcp(8080, 80));
    let template = &mut web_spec.task_template;
    template.placement.constraints.push("node.role==manager".to_string());
    template.placement.max_replicas = 2;
    template.container_spec.args = vec!["nginx".into(), "-g".into(), "daemon off;".into()];
    template.container_spec.env = vec!["MODE=prod".into()];
    template.container_spec.mounts.push(Mount {
        kind: MountType::Volume,
        source: "web-data".into(),
        target: "/data".into(),
        read_only: false,
        tmpfs_options: None,
    });
    template.resources.reservations = Resources { nano_cpus: 500_000_000, memory_bytes: 100 * 1024 * 1024 };
    template.resources.limits = Resources { nano_cpus: 1_000_000_000, memory_bytes: 0 };
    template.networks.push(NetworkAttachmentConfig::new(FRONT));
    if let Some(update) = web_spec.update_config.as_mut() {
        update.parallelism = 2;
        update.delay_ns = 10_000_000_000;
        update.max_failure_ratio = FailureRatio(0.1);
        update.order = UpdateOrder::StartFirst;
    }
    let mut web = service(WEB, web_spec, ago(10 * MINUTE));
    web.update_status = Some(UpdateStatus {
        state: UpdateState::Completed,
        started_at: Some(ago(56 * SECOND)),
        completed_at: Some(ago(9 * SECOND)),
        message: "update completed".to_string(),
    });

    let mut agent_spec = ServiceSpec::global("agent", "prom/node-exporter:v1.7.0");
    agent_spec.endpoint_spec.ports.push(PortConfig { publish_mode: PublishMode::Host, ..PortConfig::tcp(9100, 9100) });
    agent_spec.task_template.container_spec.healthcheck = Some(HealthConfig {
        test: vec!["CMD".into(), "wget".into(), "-q".into(), "localhost:9100".into()],
        interval_ns: 30_000_000_000,
        timeout_ns: 5_000_000_000,
        retries: 3,
        start_period_ns: 0,
    });
    let agent = service(AGENT, agent_spec, ago(3 * DAY + HOUR));

    let mut migrate_spec = ServiceSpec::replicated_job("migrate", "migrate/migrate", 1, 5);
    migrate_spec.task_template.container_spec.args = vec!["up".into()];
    let migrate = service(MIGRATE, migrate_spec, ago(20 * MINUTE));

    use TaskState::{Complete, Failed, Pending, Rejected, Running, Shutdown};
    let at = |id, service, slot, node, desired, state, since, created, err| {
        task(TaskAt { id, service, slot, node, desired, state, since, created, err })
    };
    let mut old_web_1 = at(
        "pe8vew51u3on780lnpkjfphdd",
        &web,
        Some(1),
        Some(LEADER),
        Shutdown,
        Failed,
        ago(45 * SECOND),
        ago(5 * MINUTE),
        Some("task: non-zero exit (137)"),
    );
    old_web_1.spec.container_spec.image = "nginx:1.24".to_string();
    let tasks = vec![
        // Listed out of order on purpose: the renderer sorts.
        at(
            "i7x9zx5wxgr8abcdefghijk78",
            &web,
            Some(3),
            Some(WORKER),
            Shutdown,
            Rejected,
            ago(3 * SECOND),
            ago(30 * SECOND),
            Some("No such image: nginx:1.25"),
        ),
        at(
            "xayo3ujz3e4c6apjed5dkgj25",
            &web,
            Some(1),
            Some(LEADER),
            Running,
            Running,
            ago(6 * SECOND),
            ago(40 * SECOND),
            None,
        ),
        old_web_1,
        at(
            "psut8jmt3d1qabcdefghijk34",
            &web,
            Some(2),
            Some(WORKER),
            Shutdown,
            Shutdown,
            ago(HOUR),
            ago(2 * HOUR),
            None,
        ),
        at(
            "nyym66sl2950abcdefghijk12",
            &web,
            Some(2),
            Some(MANAGER),
            Running,
            Running,
            ago(3 * MINUTE),
            ago(200 * SECOND),
            None,
        ),
        at(
            "qu6ny8h86m10abcdefghijk56",
            &web,
            Some(3),
            None,
            Running,
            Pending,
            ago(2 * SECOND),
            ago(2 * SECOND),
            Some("no suitable node (insufficient resources on 3 nodes)"),
        ),
        at(
            "a1b2c3d4e5f6g7h8i9j0k1l2m",
            &agent,
            None,
            Some(LEADER),
            Running,
            Running,
            ago(2 * HOUR),
            ago(2 * HOUR + 5 * SECOND),
            None,
        ),
        at(
            "b2c3d4e5f6g7h8i9j0k1l2m3n",
            &agent,
            None,
            Some(MANAGER),
            Running,
            Running,
            ago(3 * DAY),
            ago(3 * DAY + 5 * SECOND),
            None,
        ),
        // Reported running before its node went down: listed as running, not counted as a running replica.
        at(
            "c3d4e5f6g7h8i9j0k1l2m3n4o",
            &agent,
            None,
            Some(WORKER),
            Running,
            Running,
            ago(90 * SECOND),
            ago(3 * DAY),
            None,
        ),
        at(
            "m1aaaaaaaaaaaaaaaaaaaaaaa",
            &migrate,
            Some(1),
            Some(LEADER),
            Complete,
            Complete,
            ago(15 * MINUTE),
            ago(20 * MINUTE),
            None,
        ),
        at(
            "m2bbbbbbbbbbbbbbbbbbbbbbb",
            &migrate,
            Some(2),
            Some(MANAGER),
            Complete,
            Complete,
            ago(10 * MINUTE),
            ago(15 * MINUTE),
            None,
        ),
        at(
            "m3ccccccccccccccccccccccc",
            &migrate,
            Some(3),
            Some(LEADER),
            Complete,
            Complete,
            ago(5 * MINUTE),
            ago(10 * MINUTE),
            None,
        ),
        at(
            "m4ddddddddddddddddddddddd",
            &migrate,
            Some(4),
            Some(MANAGER),
            Complete,
            Running,
            ago(30 * SECOND),
            ago(5 * MINUTE),
            None,
        ),
    ];
    let front = Network {
        id: FRONT.to_string(),
        version: Version::INITIAL,
        created_at: ago(DAY),
        updated_at: ago(DAY),
        spec: NetworkSpec::overlay("front"),
        allocation: NetworkAllocation {
            subnet: "10.0.1.0/24".parse().unwrap(),
            gateway: "10.0.1.1".parse().unwrap(),
            ip_range: None,
            vxlan_id: 4097,
            node_gateways: Default::default(),
            next_offset: 0,
        },
    };
    ClusterView {
        cluster: None,
        nodes: vec![worker, reachable, leader],
        services: vec![web, agent, migrate],
        tasks,
        networks: vec![front],
        secrets: Vec::new(),
        configs: Vec::new(),
        this_node_id: LEADER.to_string(),
        now: Timestamp(NOW),
    }
}

fn service_named<'a>(view: &'a ClusterView, name: &str) -> &'a Service {
    view.services.iter().find(|service| service.spec.name == name).expect("fixture service")
}

fn ps(view: &ClusterView, services: &[&str], options: &PsOptions) -> String {
    let output = service_ps::render(view, services, options).expect("service ps");
    match output.error {
        None => output.stdout,
        Some(error) => format!("{}--- error ---\n{error}\n", output.stdout),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Golden tests

#[test]
fn node_ls_golden() {
    let view = fixture();
    check_golden("node_ls.txt", &node_ls::render(&view, &node_ls::NodeLsOptions::default()));
    check_golden("node_ls_quiet.txt", &node_ls::render(&view, &node_ls::NodeLsOptions { quiet: true }));
}

#[test]
fn node_inspect_pretty_golden() {
    let view = fixture();
    let nodes: Vec<&Node> = [LEADER, MANAGER, WORKER]
        .iter()
        .map(|id| view.nodes.iter().find(|node| node.id == *id).expect("fixture node"))
        .collect();
    check_golden("node_inspect_pretty.txt", &node_inspect_pretty::render(&nodes));
}

#[test]
fn service_ls_golden() {
    let view = fixture();
    check_golden("service_ls.txt", &service_ls::render(&view, &service_ls::ServiceLsOptions::default()));
}

#[test]
fn service_ps_golden() {
    let view = fixture();
    check_golden("service_ps_web.txt", &ps(&view, &["web"], &PsOptions::default()));
    check_golden(
        "service_ps_web_no_trunc.txt",
        &ps(&view, &[WEB], &PsOptions { no_trunc: true, ..PsOptions::default() }),
    );
    check_golden("service_ps_web_quiet.txt", &ps(&view, &["57nb"], &PsOptions { quiet: true, ..PsOptions::default() }));
    check_golden("service_ps_agent_migrate.txt", &ps(&view, &["agent", "migrate", "agent"], &PsOptions::default()));
    let filters = service_ps::parse_filters(&["desired-state=running", "node=manager-1"]).expect("filters");
    check_golden(
        "service_ps_filtered.txt",
        &ps(&view, &["web", "agent"], &PsOptions { filters, ..PsOptions::default() }),
    );
    check_golden("service_ps_partial.txt", &ps(&view, &["v5bts", "nosuch"], &PsOptions::default()));
}

#[test]
fn service_inspect_pretty_golden() {
    let view = fixture();
    let web = service_named(&view, "web");
    check_golden("service_inspect_pretty_web.txt", &service_inspect_pretty::render(&view, &[web]));
    let both = [service_named(&view, "agent"), service_named(&view, "migrate")];
    check_golden("service_inspect_pretty_agent_migrate.txt", &service_inspect_pretty::render(&view, &both));
}

/// A service with every container option: `--pretty` shows Init, Capabilities, SysCtls, Ulimits, Configs, Secrets
/// and the Log Driver where Docker does (and not the rest); the JSON shows them all.
#[test]
fn service_inspect_shows_the_container_options() {
    let view = fixture();
    let mut service = service_named(&view, "migrate").clone();
    let task = &mut service.spec.task_template;
    let container = &mut task.container_spec;
    container.init = Some(false);
    container.stop_signal = "SIGQUIT".into();
    container.read_only = true;
    container.capability_add = vec!["CAP_NET_ADMIN".into(), "CAP_SYS_TIME".into()];
    container.capability_drop = vec!["CAP_MKNOD".into()];
    container.sysctls =
        BTreeMap::from([("net.core.somaxconn".into(), "1024".into()), ("kernel.shmmax".into(), String::new())]);
    container.ulimits = vec![swarm_core::Ulimit::new("nofile", 1024, 2048), swarm_core::Ulimit::new("memlock", -1, -1)];
    container.hosts = vec!["10.0.0.5 db".into()];
    container.dns_config.nameservers = vec!["10.0.0.2".into()];
    container.dns_config.search = vec!["example.com".into()];
    container.dns_config.options = vec!["ndots:2".into()];
    container.mounts = vec![Mount {
        kind: MountType::Tmpfs,
        source: String::new(),
        target: "/run".into(),
        read_only: false,
        tmpfs_options: Some(swarm_core::TmpfsOptions { size_bytes: 64 << 20, mode: 0o1770 }),
    }];
    container.secrets = vec![
        swarm_core::spec::SecretReference::from_flag("src=db_password,target=/etc/db.pass,uid=70,mode=0400").unwrap(),
        swarm_core::spec::SecretReference::from_flag("api_key").unwrap(),
    ];
    container.secrets[1].secret_id = "eo7jnzguqgtpdah3cm5srfb97".into();
    container.configs =
        vec![swarm_core::spec::ConfigReference::from_flag("src=migrate.toml,target=/etc/m.toml").unwrap()];
    task.log_driver = Some(swarm_core::LogDriver {
        name: "json-file".into(),
        options: BTreeMap::from([("max-size".into(), "10m".into()), ("compress".into(), String::new())]),
    });
    check_golden("service_inspect_pretty_options.txt", &service_inspect_pretty::render(&view, &[&service]));
    let docker_shaped = vec![inspect::service(&view, &service)];
    check_golden("json_service_inspect_options.txt", &json::inspect(&docker_shaped).expect("json"));
}

/// `service inspect` and `node inspect` in the Engine API's shape: the paths operators' `--format` templates use.
#[test]
fn inspect_has_dockers_shape() {
    let view = fixture();
    let services: Vec<serde_json::Value> = view.services.iter().map(|s| inspect::service(&view, s)).collect();
    check_golden("json_service_inspect_all.txt", &json::inspect(&services).expect("json"));
    let nodes: Vec<serde_json::Value> = view.nodes.iter().map(inspect::node).collect();
    check_golden("json_node_inspect_all.txt", &json::inspect(&nodes).expect("json"));
    let web = inspect::service(&view, service_named(&view, "web"));
    let cases = [
        ("{{.Spec.Name}}", "web"),
        (
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            web["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].as_str().unwrap(),
        ),
        ("{{.Version.Index}}", &*web["Version"]["Index"].to_string()),
        ("{{.Spec.EndpointSpec.Mode}}", "vip"),
    ];
    for (format, expected) in cases {
        let rendered = Template::parse(format).expect("template").render(std::slice::from_ref(&web)).expect("render");
        assert_eq!(rendered.trim_end(), expected, "{format}");
    }
    let replicas = Template::parse("{{.Spec.Mode.Replicated.Replicas}}").expect("template");
    assert!(replicas.render(std::slice::from_ref(&web)).expect("render").trim().parse::<u64>().is_ok());
    let first = inspect::node(&view.nodes[0]);
    let addr = Template::parse("{{.Status.Addr}} {{.Spec.Role}}").expect("template").render(&[first]).expect("render");
    let role = serde_json::to_value(view.nodes[0].spec.role).expect("a role");
    assert_eq!(addr.trim_end(), format!("{} {}", view.nodes[0].status.addr, role.as_str().expect("a keyword")));
}

#[test]
fn json_golden() {
    let view = fixture();
    check_golden("json_service_ls_lines.txt", &json::lines(&service_ls::rows(&view)).expect("json"));
    check_golden("json_node_ls_inspect.txt", &json::inspect(&node_ls::rows(&view)).expect("json"));
}

#[test]
fn template_golden() {
    let view = fixture();
    let template = |format: &str| Template::parse(format).expect("template");
    let service_ls =
        template("table {{.Name}}\\t{{.Mode}}\\t{{.Replicas}}\\t{{.Ports}}").render(&service_ls::rows(&view));
    let node_ls = template("{{.Hostname}}: {{.Status}} {{.ManagerStatus | lower}}").render(&node_ls::rows(&view));
    // Filters apply before the template, as they do before the table.
    let filters = service_ps::parse_filters(&["desired-state=running"]).expect("filters");
    let format = OutputFormat::Template(template("table {{.Name}}\\t{{.Node}}\\t{{.CurrentState}}"));
    let service_ps = ps(&view, &["web"], &PsOptions { filters, format, ..PsOptions::default() });
    let text = format!("{}{}{service_ps}", service_ls.expect("service ls"), node_ls.expect("node ls"));
    check_golden("template_ls_ps.txt", &text);
}

// ---------------------------------------------------------------------------------------------------------------
// Docker's own outputs (docker-swarm-outputs.txt) reproduced cell by cell

#[test]
fn table_matches_docker_node_ls() {
    let mut table =
        table::Table::new(["ID  ", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"]);
    table.row(["nzhw43nnw3tz0gn2lkgxdn2xh *", "vm", "Ready", "Active", "Leader", "20.10.24+dfsg1"]);
    assert_eq!(
        table.render(),
        "ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n\
         nzhw43nnw3tz0gn2lkgxdn2xh *   vm         Ready     Active         Leader           20.10.24+dfsg1\n"
    );
}

#[test]
fn table_matches_docker_service_ls_and_ps() {
    let mut table = table::Table::new(["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]);
    table.row(["57nbypg6er58", "web", "replicated", "3/3", "bb:1", "*:8080->80/tcp"]);
    table.row(["2z3l5hte8hcm", "web2", "replicated", "3/3", "bb:1", ""]);
    assert_eq!(
        table.render(),
        "ID             NAME      MODE         REPLICAS   IMAGE     PORTS\n\
         57nbypg6er58   web       replicated   3/3        bb:1      *:8080->80/tcp\n\
         2z3l5hte8hcm   web2      replicated   3/3        bb:1      \n"
    );
    let header = ["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"];
    let mut table = table::Table::new(header);
    let error = service_ps::error_column("no suitable node (insufficient resources on 1 node)", false);
    table.row(["qu6ny8h86m10", "big.1", "bb:1", "", "Running", "Pending 2 seconds ago", error.as_str(), ""]);
    assert_eq!(
        table.render(),
        "ID             NAME      IMAGE     NODE      DESIRED STATE   CURRENT STATE           ERROR                              PORTS\n\
         qu6ny8h86m10   big.1     bb:1                Running         Pending 2 seconds ago   \"no suitable node (insufficien…\"   \n"
    );
}

#[test]
fn table_blocks_follow_tabwriter() {
    // A row with fewer cells ends the column block: the rows after it are aligned on their own.
    let rows: Vec<Vec<String>> = [vec!["a", "b"], vec!["a much longer cell", "c"], vec!["single"], vec!["x", "y"]]
        .into_iter()
        .map(|row| row.into_iter().map(String::from).collect())
        .collect();
    assert_eq!(table::align(&rows), "a                    b\na much longer cell   c\nsingle\nx         y\n");
}

#[test]
fn current_state_matches_docker() {
    let now = Timestamp(NOW);
    assert_eq!(render_time::current_state(TaskState::Rejected, now, now), "Rejected less than a second ago");
    assert_eq!(render_time::current_state(TaskState::Running, now, ago(19 * SECOND)), "Running 19 seconds ago");
    assert_eq!(render_time::current_state(TaskState::Running, now, ago(90 * SECOND)), "Running about a minute ago");
    assert_eq!(
        render_time::current_state(TaskState::Pending, now, Timestamp(NOW + 5 * SECOND)),
        "Pending less than a second ago"
    );
    assert_eq!(render_time::ago(now, ago(56 * SECOND)), "56 seconds ago");
}

// ---------------------------------------------------------------------------------------------------------------
// Unit tests of the conventions

#[test]
fn human_duration_follows_go_units() {
    let cases = [
        (0, "Less than a second"),
        (999, "Less than a second"),
        (SECOND, "1 second"),
        (6 * SECOND, "6 seconds"),
        (59 * SECOND + 999, "59 seconds"),
        (MINUTE, "About a minute"),
        (2 * MINUTE - 1, "About a minute"),
        (3 * MINUTE, "3 minutes"),
        (59 * MINUTE, "59 minutes"),
        (HOUR, "About an hour"),
        (90 * MINUTE - 1, "About an hour"),
        (90 * MINUTE, "2 hours"),
        (47 * HOUR, "47 hours"),
        (48 * HOUR, "2 days"),
        (3 * DAY, "3 days"),
        (14 * DAY, "2 weeks"),
        (59 * DAY, "8 weeks"),
        (60 * DAY, "2 months"),
        (3 * 30 * DAY, "3 months"),
        (2 * 365 * DAY, "2 years"),
    ];
    for (millis, expected) in cases {
        assert_eq!(render_time::human_duration(millis), expected, "{millis} ms");
    }
}

#[test]
fn go_formats() {
    let ns = |s: u64| s * 1_000_000_000;
    assert_eq!(render_time::go_duration(0), "0s");
    assert_eq!(render_time::go_duration(4), "4ns");
    assert_eq!(render_time::go_duration(1_500), "1.5µs");
    assert_eq!(render_time::go_duration(500_000_000), "500ms");
    assert_eq!(render_time::go_duration(ns(5)), "5s");
    assert_eq!(render_time::go_duration(ns(90) + 500_000_000), "1m30.5s");
    assert_eq!(render_time::go_duration(ns(3600)), "1h0m0s");
    assert_eq!(render_time::go_time_utc(Timestamp(0)), "1970-01-01 00:00:00 +0000 UTC");
    assert_eq!(render_time::go_time_utc(Timestamp(951_782_400_120)), "2000-02-29 00:00:00.12 +0000 UTC");
    assert_eq!(text::bytes_size(0), "0B");
    assert_eq!(text::bytes_size(512), "512B");
    assert_eq!(text::bytes_size(10 * 1024 * 1024), "10MiB");
    assert_eq!(text::bytes_size(100 * 1024 * 1024 * 1024), "100GiB");
    assert_eq!(text::bytes_size(8_345_088_000), "7.772GiB");
    assert_eq!(text::bytes_size(1023 * 1024 + 1000), "1024KiB");
    assert_eq!(text::go_float32(0.1), "0.1");
    assert_eq!(text::go_float32(0.0), "0");
    assert_eq!(text::go_float32(0.00001), "1e-05");
    assert_eq!(text::go_float64(0.5), "0.5");
    assert_eq!(text::go_float64(2.0), "2");
    assert_eq!(text::go_g(123_456.0, 4), "1.235e+05");
}

#[test]
fn pretty_print_and_ellipsis() {
    assert_eq!(text::pretty_print("running"), "Running");
    assert_eq!(text::pretty_print("heartbeat FAILURE"), "Heartbeat failure");
    assert_eq!(text::pretty_print("x"), "x");
    assert_eq!(text::pretty_print(""), "");
    assert_eq!(text::ellipsis("No such image: nosuchimage:1", 30), "No such image: nosuchimage:1");
    assert_eq!(text::ellipsis("no suitable node (insufficient resources)", 30), "no suitable node (insufficien…");
}

#[test]
fn natural_order() {
    let mut names = vec!["web.10", "web.2", "web.1", "web", "web.02", "Web", "web2", "web.1a"];
    names.sort_by(|a, b| text::natural_cmp(a, b));
    // A digit sorts before any other character, so "web2" comes before "web.1".
    assert_eq!(names, ["Web", "web", "web2", "web.1", "web.1a", "web.2", "web.02", "web.10"]);
}

#[test]
fn images_lose_digests_behind_tags() {
    assert_eq!(text::display_image(WEB_IMAGE), "nginx:1.25");
    assert_eq!(text::display_image("docker.io/library/redis:7"), "redis:7");
    assert_eq!(text::display_image("index.docker.io/me/app:1"), "me/app:1");
    assert_eq!(
        text::display_image("localhost:5000/app:2@sha256:0d17b565c37bcbd895e9d92315a05c1c"),
        "localhost:5000/app:2"
    );
    assert_eq!(text::display_image("busybox"), "busybox");
    let untagged = "busybox@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31";
    assert_eq!(text::display_image(untagged), untagged);
    assert_eq!(text::display_image("Not A Reference:1"), "Not A Reference:1");
}

#[test]
fn ids_truncate_and_resolve() {
    assert_eq!(ids::truncate_id(WEB), "57nbypg6er58");
    assert_eq!(ids::truncate_id("sha256:abcdef0123456789"), "abcdef012345");
    assert_eq!(ids::truncate_id("short"), "short");
    assert_eq!(ids::display_id(WEB, true), WEB);

    let view = fixture();
    fn by_id(service: &Service) -> &str {
        &service.id
    }
    fn by_name(service: &Service) -> &str {
        &service.spec.name
    }
    let find = |reference: &str| ids::resolve(&view.services, reference, by_id, by_name, Kind::Service);
    assert_eq!(find(WEB).map(|s| &s.spec.name), Ok(&"web".to_string()));
    assert_eq!(find("agent").map(|s| s.id.as_str()), Ok(AGENT));
    assert_eq!(find("v5b").map(|s| s.id.as_str()), Ok(MIGRATE));
    assert_eq!(find("nosuch").err().map(|e| e.to_string()).as_deref(), Some("no such service: nosuch"));
    assert_eq!(find("").err().map(|e| e.to_string()).as_deref(), Some("no such service: "));

    // A name that is also another object's id prefix: the name wins, as in Docker.
    let names = [("abc1", "abc"), ("abc2", "other"), ("zzz", "abc1")];
    let pick = |reference: &str| ids::resolve(&names, reference, |n| n.0, |n| n.1, Kind::Node).map(|n| n.0);
    assert_eq!(pick("abc1"), Ok("abc1")); // exact id before exact name
    assert_eq!(pick("abc"), Ok("abc1")); // exact name before prefix
    assert_eq!(pick("ab").err().map(|e| e.to_string()).as_deref(), Some("node ab is ambiguous (2 matches found)"));
    assert_eq!(pick("z"), Ok("zzz"));
    let services = [("abc1", "x"), ("abc2", "y")];
    let pick = |reference: &str| ids::resolve(&services, reference, |n| n.0, |n| n.1, Kind::Service).map(|n| n.0);
    assert_eq!(
        pick("ab").err().map(|e| e.to_string()).as_deref(),
        Some("multiple services found with provided prefix: ab")
    );
    let tasks = [("t1", ""), ("t2", "")];
    let pick = |reference: &str| ids::resolve(&tasks, reference, |n| n.0, |n| n.1, Kind::Task).map(|n| n.0);
    assert_eq!(pick("t3").err().map(|e| e.to_string()).as_deref(), Some("no such task: t3"));
}

#[test]
fn ps_filters_parse_with_dockers_errors() {
    let filters =
        service_ps::parse_filters(&[" Desired-State = Shutdown", "desired-state=ACCEPTED", "name=web.1", "id=xa"])
            .expect("valid filters");
    assert_eq!(filters.desired_states, [TaskState::Shutdown, TaskState::Accepted]);
    assert_eq!(filters.names, ["web.1"]);
    assert_eq!(filters.ids, ["xa"]);
    assert_eq!(
        service_ps::parse_filters(&["running"]).map_err(|e| e.to_string()),
        Err("invalid argument \"running\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
            .to_string())
    );
    assert_eq!(
        service_ps::parse_filters(&["color=red"]).map_err(|e| e.to_string()),
        Err("Error response from daemon: Invalid filter 'color'".to_string())
    );
    assert_eq!(
        service_ps::parse_filters(&["desired-state=sleeping"]).map_err(|e| e.to_string()),
        Err("Error response from daemon: Invalid desired-state filter: 'sleeping'".to_string())
    );
}

#[test]
fn ps_filters_select_tasks() {
    let view = fixture();
    let ids_of = |filters: &[&str], services: &[&str]| {
        let filters = service_ps::parse_filters(filters).expect("filters");
        let options = PsOptions { quiet: true, filters, ..PsOptions::default() };
        service_ps::render(&view, services, &options).expect("ps").stdout
    };
    assert_eq!(ids_of(&["name=web.3"], &["web"]), "qu6ny8h86m10abcdefghijk56\ni7x9zx5wxgr8abcdefghijk78\n");
    assert_eq!(ids_of(&["id=xayo", "id=nyym"], &["web"]), "xayo3ujz3e4c6apjed5dkgj25\nnyym66sl2950abcdefghijk12\n");
    assert_eq!(
        ids_of(&["node=edge", "desired-state=shutdown"], &["web"]),
        "psut8jmt3d1qabcdefghijk34\ni7x9zx5wxgr8abcdefghijk78\n"
    );
    assert_eq!(
        ids_of(&["node=self", "desired-state=complete"], &["migrate"]),
        "m1aaaaaaaaaaaaaaaaaaaaaaa\nm3ccccccccccccccccccccccc\n"
    );
    assert_eq!(ids_of(&["node=k3r5"], &["agent"]), "b2c3d4e5f6g7h8i9j0k1l2m3n\n");
    let missing = service_ps::parse_filters(&["node=nosuch"]).expect("filters");
    assert_eq!(
        service_ps::render(&view, &["web"], &PsOptions { filters: missing, ..PsOptions::default() })
            .map_err(|e| e.to_string()),
        Err("Error response from daemon: node nosuch not found".to_string())
    );
    // An empty selection still prints the header.
    let none = service_ps::parse_filters(&["desired-state=remove"]).expect("filters");
    let output = service_ps::render(&view, &["web"], &PsOptions { filters: none, ..PsOptions::default() }).expect("ps");
    assert_eq!(output.stdout.lines().count(), 1);
}

#[test]
fn ps_errors_when_no_service_matches() {
    let view = fixture();
    assert_eq!(
        service_ps::render(&view, &["nosuch", "other"], &PsOptions::default()).map_err(|e| e.to_string()),
        Err("no such service: nosuch\nno such service: other".to_string())
    );
    assert!(service_ps::render::<&str>(&view, &[], &PsOptions::default()).is_err());
    assert_eq!(
        service_ps::render(&view, &["57nb", "a", "b", "2z3l"], &PsOptions::default())
            .map(|o| o.error.map(|e| e.to_string()))
            .map_err(|e| e.to_string()),
        Ok(Some("no such service: a\nno such service: b".to_string()))
    );
}

#[test]
fn service_ports_group_like_docker() {
    let tcp = PortConfig::tcp;
    let udp = |published, target| PortConfig { protocol: PortProtocol::Udp, ..PortConfig::tcp(published, target) };
    let host = PortConfig { publish_mode: PublishMode::Host, ..PortConfig::tcp(9000, 9000) };
    assert_eq!(service_ls::ports(&[tcp(8080, 80)]), "*:8080->80/tcp");
    assert_eq!(service_ls::ports(&[tcp(81, 81), tcp(80, 80)]), "*:80-81->80-81/tcp");
    assert_eq!(service_ls::ports(&[tcp(80, 80), tcp(81, 80)]), "*:80-81->80/tcp");
    assert_eq!(service_ls::ports(&[tcp(80, 80), tcp(81, 81), tcp(82, 80)]), "*:80-81->80-81/tcp, *:82->80/tcp");
    assert_eq!(service_ls::ports(&[udp(53, 53), tcp(53, 53), host]), "*:53->53/tcp, *:53->53/udp");
    assert_eq!(service_ls::ports(&[]), "");
}
