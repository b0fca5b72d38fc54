//! Every named limit, tested at its bound: a command of exactly the maximum size is applied, one past it is
//! rejected with `Rejection::LimitExceeded` naming the limit, and the store is left unchanged.

mod common;

use std::collections::BTreeMap;

use common::*;
use swarm_core::*;

struct LimitCase {
    what: &'static str,
    limit: Limit,
    max: usize,
    setup: fn() -> Vec<Command>,
    build: fn(usize) -> Command,
}

fn spec_with(mutate: impl FnOnce(&mut ServiceSpec)) -> Command {
    let mut spec = ServiceSpec::replicated("api", "bb:1", 1);
    mutate(&mut spec);
    Command::CreateService { service_id: "s2".into(), spec }
}

fn labels(count: usize, key_len: usize, value_len: usize) -> BTreeMap<String, String> {
    (0..count).map(|i| (format!("{i:0>key_len$}"), "v".repeat(value_len))).collect()
}

fn task_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("x{i}")).collect()
}

fn with_many_tasks() -> Vec<Command> {
    let mut setup = base();
    setup.push(Command::CreateTasks { tasks: task_ids(TASKS_PER_BATCH_MAX).iter().map(|id| task(id, "s1")).collect() });
    setup
}

fn cases() -> Vec<LimitCase> {
    vec![
        LimitCase {
            what: "service id",
            limit: Limit::IdLength,
            max: ID_LEN_MAX,
            setup: base,
            build: |n| create_service(&"a".repeat(n), "api"),
        },
        LimitCase {
            what: "task id",
            limit: Limit::IdLength,
            max: ID_LEN_MAX,
            setup: base,
            build: |n| create_tasks(&[&"a".repeat(n)], "s1"),
        },
        LimitCase {
            what: "service name",
            limit: Limit::NameLength,
            max: NAME_LEN_MAX,
            setup: base,
            build: |n| create_service("s2", &"a".repeat(n)),
        },
        LimitCase {
            what: "network name",
            limit: Limit::NameLength,
            max: NAME_LEN_MAX,
            setup: base,
            build: |n| create_network("net2", &"a".repeat(n)),
        },
        LimitCase {
            what: "node name",
            limit: Limit::NameLength,
            max: NAME_LEN_MAX,
            setup: base,
            build: |n| Command::UpdateNode {
                id: "n1".into(),
                version: Version(1),
                spec: NodeSpec { name: Some("a".repeat(n)), ..NodeSpec::default() },
            },
        },
        LimitCase {
            what: "service labels",
            limit: Limit::Labels,
            max: LABELS_MAX,
            setup: base,
            build: |n| spec_with(|s| s.labels = labels(n, 3, 1)),
        },
        LimitCase {
            what: "network options",
            limit: Limit::Labels,
            max: LABELS_MAX,
            setup: base,
            build: |n| Command::CreateNetwork {
                network_id: "net2".into(),
                spec: NetworkSpec { options: labels(n, 3, 1), ..NetworkSpec::overlay("back") },
            },
        },
        LimitCase {
            what: "label key",
            limit: Limit::LabelKeyLength,
            max: LABEL_KEY_LEN_MAX,
            setup: base,
            build: |n| spec_with(|s| s.labels = labels(1, n, 1)),
        },
        LimitCase {
            what: "label value",
            limit: Limit::LabelValueLength,
            max: LABEL_VALUE_LEN_MAX,
            setup: base,
            build: |n| spec_with(|s| s.task_template.container_spec.labels = labels(1, 3, n)),
        },
        LimitCase {
            what: "image",
            limit: Limit::TextLength,
            max: TEXT_LEN_MAX,
            setup: base,
            build: |n| spec_with(|s| s.task_template.container_spec.image = "i".repeat(n)),
        },
        LimitCase {
            what: "task status message",
            limit: Limit::TextLength,
            max: TEXT_LEN_MAX,
            setup: base,
            build: |n| Command::UpdateTaskStatus {
                id: "t1".into(),
                status: TaskStatus { message: "m".repeat(n), ..status(TaskState::Pending) },
            },
        },
        LimitCase {
            what: "env entries",
            limit: Limit::ListLength,
            max: LIST_LEN_MAX,
            setup: base,
            build: |n| spec_with(|s| s.task_template.container_spec.env = vec!["A=1".into(); n]),
        },
        LimitCase {
            what: "args",
            limit: Limit::ListLength,
            max: LIST_LEN_MAX,
            setup: base,
            build: |n| spec_with(|s| s.task_template.container_spec.args = vec!["x".into(); n]),
        },
        LimitCase {
            what: "sysctls",
            limit: Limit::Options,
            max: OPTIONS_MAX,
            setup: base,
            build: |n| spec_with(|s| s.task_template.container_spec.sysctls = labels(n, 4, 1)),
        },
        LimitCase {
            what: "log driver options",
            limit: Limit::Options,
            max: OPTIONS_MAX,
            setup: base,
            build: |n| {
                spec_with(|s| {
                    s.task_template.log_driver = Some(LogDriver { name: "json-file".into(), options: labels(n, 4, 1) })
                })
            },
        },
        LimitCase {
            what: "added capabilities",
            limit: Limit::ListLength,
            max: LIST_LEN_MAX,
            setup: base,
            build: |n| spec_with(|s| s.task_template.container_spec.capability_add = vec!["CAP_CHOWN".into(); n]),
        },
        LimitCase {
            what: "hosts",
            limit: Limit::ListLength,
            max: LIST_LEN_MAX,
            setup: base,
            build: |n| spec_with(|s| s.task_template.container_spec.hosts = vec!["10.0.0.5 db".into(); n]),
        },
        LimitCase {
            what: "DNS nameservers",
            limit: Limit::ListLength,
            max: LIST_LEN_MAX,
            setup: base,
            build: |n| {
                spec_with(|s| s.task_template.container_spec.dns_config.nameservers = vec!["10.0.0.2".into(); n])
            },
        },
        LimitCase {
            what: "DNS options",
            limit: Limit::ListLength,
            max: LIST_LEN_MAX,
            setup: base,
            build: |n| spec_with(|s| s.task_template.container_spec.dns_config.options = vec!["ndots:1".into(); n]),
        },
        LimitCase {
            what: "stop signal",
            limit: Limit::TextLength,
            max: TEXT_LEN_MAX,
            setup: base,
            build: |n| spec_with(|s| s.task_template.container_spec.stop_signal = format!("{:0>n$}", 9)),
        },
        LimitCase {
            what: "replicas",
            limit: Limit::Replicas,
            max: REPLICAS_MAX as usize,
            setup: base,
            build: |n| spec_with(|s| s.mode = ServiceMode::Replicated { replicas: n as u64 }),
        },
        LimitCase {
            what: "job completions",
            limit: Limit::Replicas,
            max: REPLICAS_MAX as usize,
            setup: base,
            build: |n| spec_with(|s| *s = ServiceSpec::replicated_job("api", "bb:1", 1, n as u64)),
        },
        LimitCase {
            what: "created tasks",
            limit: Limit::TasksPerBatch,
            max: TASKS_PER_BATCH_MAX,
            setup: base,
            build: |n| Command::CreateTasks { tasks: task_ids(n).iter().map(|id| task(id, "s1")).collect() },
        },
        LimitCase {
            what: "removed tasks",
            limit: Limit::TasksPerBatch,
            max: TASKS_PER_BATCH_MAX,
            setup: with_many_tasks,
            build: |n| Command::RemoveTasks { ids: task_ids(n) },
        },
        LimitCase {
            what: "batch commands",
            limit: Limit::BatchCommands,
            max: BATCH_COMMANDS_MAX,
            setup: base,
            build: |n| {
                Command::Batch(vec![
                    Command::SetTaskDesiredState { id: "t1".into(), desired_state: TaskState::Running };
                    n
                ])
            },
        },
    ]
}

#[test]
fn each_limit_admits_its_maximum_and_rejects_one_more() {
    for case in cases() {
        assert_eq!(case.limit.max(), case.max as u64, "{}: Limit::max disagrees with the constant", case.what);
        let setup = (case.setup)();

        let mut store = store_with(&setup);
        let result = store.apply(&at(T0 + 1_000, (case.build)(case.max)));
        assert!(result.is_ok(), "{}: at the maximum {} got {result:?}", case.what, case.max);

        let mut store = store_with(&setup);
        let before = store.encode_snapshot();
        let rejection = store.apply(&at(T0 + 1_000, (case.build)(case.max + 1))).expect_err(case.what);
        assert_eq!(
            rejection.root(),
            &Rejection::LimitExceeded { limit: case.limit, max: case.max as u64, actual: case.max as u64 + 1 },
            "{}",
            case.what
        );
        assert_eq!(store.encode_snapshot(), before, "{}: rejected but the store changed", case.what);
    }
}

/// The orchestrators split their output by encoded size as well as by count: a 10,000-replica service whose tasks
/// carry a large spec comes out as several batches, each well within a proposal, that together create every task.
#[test]
fn orchestrator_batches_stay_within_the_byte_budget() {
    let mut store = Store::new();
    for command in [init(), create_node("n1")] {
        store.apply(&at(T0, command)).expect("setup applies");
    }
    let mut spec = ServiceSpec::replicated("big", "bb:1", REPLICAS_MAX);
    spec.task_template.container_spec.env = (0..50).map(|i| format!("VARIABLE_{i}={}", "x".repeat(40))).collect();
    store.apply(&at(T0, Command::CreateService { service_id: "s1".into(), spec })).expect("service applies");
    let commands = orchestrator::reconcile(&store, Timestamp(T0), &mut SequentialIds::new("t"));
    assert!(commands.len() > 1, "10,000 tasks of a 2 KiB spec cannot fit one batch");
    let mut created = 0;
    for command in commands {
        let encoded = Proposal::new(Timestamp(T0), command.clone()).encode().len();
        assert!(encoded <= BATCH_BYTES_BUDGET + 4096, "a batch of {encoded} bytes exceeds the budget");
        if let Command::Batch(inner) = &command {
            created += inner
                .iter()
                .map(|c| if let Command::CreateTasks { tasks } = c { tasks.len() } else { 0 })
                .sum::<usize>();
        }
        store.apply(&at(T0, command)).expect("each batch applies");
    }
    assert_eq!(created, REPLICAS_MAX as usize);
}
