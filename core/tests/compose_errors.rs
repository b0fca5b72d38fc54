//! Malformed stack files, one per row: each must be refused with the expected message at the expected line and
//! column and key path (the promise: `stack.yml:12:19: services.web.deploy.replicas: expected an integer,
//! found "three"`). Rows are data; the file text, the environment and the expected error sit side by side.

use std::collections::BTreeMap;

use swarm_core::compose::load_str;

struct Case {
    name: &'static str,
    yaml: &'static str,
    /// `line:column`.
    at: &'static str,
    path: &'static str,
    /// The message must contain this.
    message: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "an item given as a string and as a number (fuzzer, compose_load seed 2)",
        yaml: "services:\n  web:\n    image: nginx\n    expose: [\"8001\", 8001]\n",
        at: "4:22",
        path: "services.web.expose[1]",
        message: "duplicate item \"8001\" once written as text (already at services.web.expose[0])",
    },
    Case {
        name: "an extra host address with '=' (fuzzer, compose_load seed 3)",
        yaml: "services:\n  web:\n    image: nginx\n    extra_hosts: {api.local: =10.0.0.6}\n",
        at: "4:18",
        path: "services.web.extra_hosts",
        message: "invalid extra host \"api.local\" with address \"=10.0.0.6\": expected host:ip",
    },
    Case {
        name: "an extra host without an address",
        yaml: "services:\n  web:\n    image: nginx\n    extra_hosts:\n      - nocolon\n",
        at: "5:9",
        path: "services.web.extra_hosts[0]",
        message: "invalid extra host \"nocolon\": expected host:ip",
    },
    Case {
        name: "replicas not an integer",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      replicas: three\n",
        at: "5:17",
        path: "services.web.deploy.replicas",
        message: "expected an integer, found \"three\"",
    },
    Case {
        name: "unknown service key with a close match",
        yaml: "services:\n  web:\n    imag: nginx\n",
        at: "3:5",
        path: "services.web.imag",
        message: "unknown key \"imag\" (did you mean \"image\"?)",
    },
    Case {
        name: "unknown deploy key with a close match",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      replica: 2\n",
        at: "5:7",
        path: "services.web.deploy.replica",
        message: "did you mean \"replicas\"?",
    },
    Case {
        name: "unknown top-level key",
        yaml: "services: {}\nvolumez: {}\n",
        at: "2:1",
        path: "volumez",
        message: "did you mean \"volumes\"?",
    },
    Case {
        name: "unknown key without a close match",
        yaml: "services:\n  web: {image: nginx, colour: blue}\n",
        at: "2:23",
        path: "services.web.colour",
        message: "unknown key \"colour\"",
    },
    Case {
        name: "compose specification key",
        yaml: "services:\n  web:\n    image: nginx\n    profiles: [debug]\n",
        at: "4:5",
        path: "services.web.profiles",
        message: "Compose Specification key",
    },
    Case {
        name: "forbidden key",
        yaml: "services:\n  web:\n    image: nginx\n    extends: base\n",
        at: "4:5",
        path: "services.web.extends",
        message: "forbidden: Support for `extends` is not implemented yet.",
    },
    Case {
        name: "key newer than the file's version",
        yaml: "version: \"3.6\"\nservices:\n  web:\n    image: nginx\n    init: true\n",
        at: "5:5",
        path: "services.web.init",
        message: "needs compose file version 3.7 or later (this file is version 3.6)",
    },
    Case {
        name: "extension key before 3.4",
        yaml: "version: \"3.3\"\nx-common: {}\nservices: {}\n",
        at: "2:1",
        path: "x-common",
        message: "need compose file version 3.4 or later",
    },
    Case {
        name: "extension key inside deploy",
        yaml: "services:\n  web:\n    image: nginx\n    deploy: {x-note: hi}\n",
        at: "4:14",
        path: "services.web.deploy.x-note",
        message: "extension keys (x-...) are not allowed here",
    },
    Case {
        name: "numeric version",
        yaml: "version: 3.8\nservices: {}\n",
        at: "1:10",
        path: "version",
        message: "expected a string",
    },
    Case {
        name: "unsupported version",
        yaml: "version: \"2.4\"\nservices: {}\n",
        at: "1:10",
        path: "version",
        message: "unsupported Compose file version: 2.4",
    },
    Case {
        name: "image not a string",
        yaml: "services:\n  web:\n    image: [nginx]\n",
        at: "3:12",
        path: "services.web.image",
        message: "expected a string, found a list",
    },
    Case {
        name: "boolean environment value",
        yaml: "services:\n  web:\n    image: nginx\n    environment:\n      DEBUG: yes\n      VERBOSE: true\n",
        at: "6:16",
        path: "services.web.environment.VERBOSE",
        message: "expected a string, number or null, found a boolean (true)",
    },
    Case {
        name: "duplicate list item",
        yaml: "services:\n  web:\n    image: nginx\n    cap_add: [NET_ADMIN, SYS_TIME, NET_ADMIN]\n",
        at: "4:36",
        path: "services.web.cap_add[2]",
        message: "duplicate item \"NET_ADMIN\" (already at services.web.cap_add[0])",
    },
    Case {
        name: "a port repeated once ranges are expanded",
        yaml: "services:\n  web:\n    image: nginx\n    ports: [\"8000-8001:80-81\", \"8001:81\"]\n",
        at: "4:32",
        path: "services.web.ports[1]",
        message: "port 8001:81/tcp is listed twice once ranges are expanded (also by services.web.ports[0])",
    },
    Case {
        name: "bad duration",
        yaml: "services:\n  web:\n    image: nginx\n    healthcheck:\n      interval: 10 sec\n",
        at: "5:17",
        path: "services.web.healthcheck.interval",
        message: "invalid duration \"10 sec\"",
    },
    Case {
        name: "unknown deploy mode with a close match",
        yaml: "services:\n  web:\n    image: nginx\n    deploy: {mode: globl}\n",
        at: "4:20",
        path: "services.web.deploy.mode",
        message: "found \"globl\" (did you mean \"global\"?)",
    },
    Case {
        name: "replicas with global mode",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      mode: global\n      replicas: 2\n",
        at: "6:7",
        path: "services.web.deploy.replicas",
        message: "replicas can only be used with replicated or replicated-job mode",
    },
    Case {
        name: "restart condition",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      restart_policy: {condition: always}\n",
        at: "5:35",
        path: "services.web.deploy.restart_policy.condition",
        message: "expected one of \"none\", \"on-failure\", \"any\", found \"always\"",
    },
    Case {
        name: "cpus too precise",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        limits: {cpus: \"0.0000000001\"}\n",
        at: "6:24",
        path: "services.web.deploy.resources.limits.cpus",
        message: "value is too precise",
    },
    Case {
        name: "memory suffix",
        yaml: "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        limits: {memory: 1Gi}\n",
        at: "6:26",
        path: "services.web.deploy.resources.limits.memory",
        message: "invalid suffix: 'gi'",
    },
    Case {
        name: "port out of range",
        yaml: "services:\n  web:\n    image: nginx\n    ports:\n      - \"70000:80\"\n",
        at: "5:9",
        path: "services.web.ports[0]",
        message: "invalid hostPort: 70000",
    },
    Case {
        name: "port ranges of different sizes",
        yaml: "services:\n  web:\n    image: nginx\n    ports: [\"8000-8002:80-81\"]\n",
        at: "4:13",
        path: "services.web.ports[0]",
        message: "invalid ranges specified for container and host Ports: 80-81 and 8000-8002",
    },
    Case {
        name: "long port without target",
        yaml: "services:\n  web:\n    image: nginx\n    ports:\n      - published: 80\n",
        at: "5:9",
        path: "services.web.ports[0]",
        message: "a target port is required",
    },
    Case {
        name: "empty volume section",
        yaml: "services:\n  web:\n    image: nginx\n    volumes: [\"${DATA}:/data\"]\n",
        at: "4:15",
        path: "services.web.volumes[0]",
        message: "invalid spec: :/data: empty section between colons",
    },
    Case {
        name: "long volume without type",
        yaml: "services:\n  web:\n    image: nginx\n    volumes:\n      - {source: data, target: /data}\nvolumes: {data: {}}\n",
        at: "5:9",
        path: "services.web.volumes[0]",
        message: "a type is required",
    },
    Case {
        name: "invalid interpolation",
        yaml: "services:\n  web:\n    image: nginx\n    command: \"echo cost: 5$\"\n",
        at: "4:14",
        path: "services.web.command",
        message: "invalid interpolation format in \"echo cost: 5$\"",
    },
    Case {
        name: "required variable",
        yaml: "services:\n  web:\n    image: \"registry/${APP:?APP is required}\"\n",
        at: "3:12",
        path: "services.web.image",
        message: "required variable APP is missing a value: APP is required",
    },
    Case {
        name: "interpolated replicas not a number",
        yaml: "services:\n  web:\n    image: nginx\n    deploy: {replicas: \"${SCALE:-many}\"}\n",
        at: "4:24",
        path: "services.web.deploy.replicas",
        message: "expected an integer after interpolation, found \"many\"",
    },
    Case {
        name: "undefined network",
        yaml: "services:\n  web:\n    image: nginx\n    networks: [front, back]\nnetworks:\n  front: {}\n",
        at: "4:23",
        path: "services.web.networks[1]",
        message: "undefined network \"back\"",
    },
    Case {
        name: "undefined volume with a close match",
        yaml: "services:\n  web:\n    image: nginx\n    volumes: [\"dta:/data\"]\nvolumes:\n  data: {}\n",
        at: "4:15",
        path: "services.web.volumes[0]",
        message: "undefined volume \"dta\": define it under the top-level volumes: (did you mean \"data\"?)",
    },
    Case {
        name: "undefined secret",
        yaml: "services:\n  web:\n    image: nginx\n    secrets: [token]\n",
        at: "4:15",
        path: "services.web.secrets[0]",
        message: "undefined secret \"token\"",
    },
    Case {
        name: "depends on an undefined service",
        yaml: "services:\n  web:\n    image: nginx\n    depends_on: [db]\n",
        at: "4:18",
        path: "services.web.depends_on[0]",
        message: "service \"web\" depends on undefined service \"db\"",
    },
    Case {
        name: "dependency cycle",
        yaml: "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n  c:\n    image: x\n    depends_on:\n      a: {condition: service_healthy}\n",
        at: "7:7",
        path: "services.c.depends_on.a",
        message: "dependency cycle: a -> b -> c -> a",
    },
    Case {
        name: "unknown dependency condition",
        yaml: "services:\n  a: {image: x}\n  b:\n    image: x\n    depends_on:\n      a: {condition: service_ready}\n",
        at: "6:22",
        path: "services.b.depends_on.a.condition",
        message: "found \"service_ready\"",
    },
    Case {
        name: "external volume with a driver",
        yaml: "services: {}\nvolumes:\n  data: {external: true, driver: local}\n",
        at: "3:9",
        path: "volumes.data",
        message: "conflicting parameters \"external\" and \"driver\" specified for volume \"data\"",
    },
    Case {
        name: "invalid service name",
        yaml: "services:\n  \"my web\": {image: nginx}\n",
        at: "2:3",
        path: "services.my web",
        message: "invalid service name \"my web\"",
    },
    Case {
        name: "duplicate key",
        yaml: "services:\n  web:\n    image: nginx\n    image: httpd\n",
        at: "4:5",
        path: "",
        message: "duplicate",
    },
    Case {
        name: "YAML syntax error",
        yaml: "services:\n  web:\n    image: nginx\n   ports: [80\n",
        at: "4:4",
        path: "",
        message: "",
    },
    Case {
        name: "not a mapping",
        yaml: "- just\n- a list\n",
        at: "1:1",
        path: "",
        message: "top-level object must be a mapping",
    },
    Case {
        name: "command with an unclosed quote",
        yaml: "services:\n  web:\n    image: nginx\n    command: sh -c 'echo hi\n",
        at: "4:14",
        path: "services.web.command",
        message: "EOF found when expecting closing quote",
    },
    Case {
        name: "healthcheck test and disable",
        yaml: "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [CMD, \"true\"]\n      disable: true\n",
        at: "5:7",
        path: "services.web.healthcheck",
        message: "test and disable can't be set at the same time",
    },
];

#[test]
fn malformed_files_are_refused_with_message_line_column_and_path() {
    let environment = BTreeMap::new();
    let mut failures = Vec::new();
    for case in CASES {
        match load_str("stack.yml", case.yaml, &environment) {
            Ok(_) => failures.push(format!("{}: accepted", case.name)),
            Err(error) => {
                let at = format!("{}:{}", error.position.line, error.position.column);
                let text = error.to_string();
                let expected_prefix = if case.path.is_empty() {
                    format!("stack.yml:{}: ", case.at)
                } else {
                    format!("stack.yml:{}: {}: ", case.at, case.path)
                };
                if error.file != "stack.yml"
                    || at != case.at
                    || error.path != case.path
                    || !error.message.contains(case.message)
                    || !text.starts_with(&expected_prefix)
                {
                    failures.push(format!(
                        "{}:\n  expected {expected_prefix}...{}...\n  got      {text}",
                        case.name, case.message
                    ));
                }
            }
        }
    }
    assert!(CASES.len() >= 30, "the table should hold about 30 cases");
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}
