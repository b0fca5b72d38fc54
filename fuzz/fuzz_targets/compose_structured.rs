//! Structure-aware compose fuzzing: `arbitrary` builds a stack from known keys and value shapes (right and wrong
//! types, short and long syntaxes, anchors, variables), it is written out as YAML and loaded. The loader must
//! return a stack or a located error (never panic), and a loaded stack printed by `stack config` must load back
//! to the same model.
#![no_main]
use std::collections::BTreeMap;
use std::fmt::Write;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use swarm_core::compose::{config_text, load, InMemoryFiles, LoadInput, SourceFile};

#[derive(Arbitrary, Debug)]
enum Version {
    Absent,
    Three,
    Minor(u8),
    Number,
}

#[derive(Arbitrary, Debug)]
enum Scalar {
    Word(u8),
    Number(i32),
    Float(u16),
    Bool(bool),
    Null,
    Variable(u8),
    Duration(u16, u8),
    Size(u16, u8),
    Port(u16, u16, bool),
    Mount(u8, u8, bool),
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Scalar(Scalar),
    List(Vec<Scalar>),
    Map(Vec<(u8, Scalar)>),
    Nested(Vec<(u8, Vec<(u8, Scalar)>)>),
}

#[derive(Arbitrary, Debug)]
struct Service {
    name: u8,
    keys: Vec<(u8, Value)>,
    uses_defaults: bool,
}

#[derive(Arbitrary, Debug)]
struct Stack {
    version: Version,
    services: Vec<Service>,
    networks: Vec<(u8, Vec<(u8, Scalar)>)>,
    volumes: Vec<(u8, Vec<(u8, Scalar)>)>,
    defaults: Vec<(u8, Value)>,
}

const SERVICE_KEYS: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "labels",
    "ports",
    "networks",
    "volumes",
    "secrets",
    "configs",
    "healthcheck",
    "hostname",
    "user",
    "working_dir",
    "stop_grace_period",
    "stop_signal",
    "cap_add",
    "cap_drop",
    "sysctls",
    "ulimits",
    "tmpfs",
    "read_only",
    "init",
    "depends_on",
    "extra_hosts",
    "dns",
    "logging",
    "deploy",
    "build",
    "privileged",
    "restart",
    "expose",
    "container_name",
    "x-extra",
    "imag",
    "platform",
];
const INNER_KEYS: &[&str] = &[
    "mode",
    "replicas",
    "labels",
    "update_config",
    "rollback_config",
    "resources",
    "restart_policy",
    "placement",
    "endpoint_mode",
    "parallelism",
    "delay",
    "order",
    "failure_action",
    "monitor",
    "max_failure_ratio",
    "limits",
    "reservations",
    "cpus",
    "memory",
    "pids",
    "condition",
    "max_attempts",
    "window",
    "constraints",
    "preferences",
    "spread",
    "max_replicas_per_node",
    "test",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "disable",
    "driver",
    "options",
    "aliases",
    "target",
    "published",
    "protocol",
    "type",
    "source",
    "read_only",
    "bind",
    "propagation",
    "soft",
    "hard",
    "external",
    "name",
    "internal",
    "attachable",
    "driver_opts",
    "ipam",
    "subnet",
];
const WORDS: &[&str] = &[
    "nginx",
    "web",
    "db",
    "front",
    "back",
    "data",
    "global",
    "replicated",
    "replicated-job",
    "vip",
    "dnsrr",
    "host",
    "ingress",
    "tcp",
    "udp",
    "on-failure",
    "any",
    "start-first",
    "pause",
    "bind",
    "volume",
    "tmpfs",
    "yes",
    "on",
    "0.5",
    "1.5",
    "rshared",
    "service_healthy",
    "node.role == manager",
    "CMD-SHELL",
    "json-file",
    "",
];

fn pick<'a>(table: &[&'a str], index: u8) -> &'a str {
    table[index as usize % table.len()]
}

fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn scalar(s: &Scalar) -> String {
    match s {
        Scalar::Word(i) => quote(pick(WORDS, *i)),
        Scalar::Number(n) => n.to_string(),
        Scalar::Float(f) => format!("{}.{}", f / 100, f % 100),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Null => "null".to_owned(),
        Scalar::Variable(i) => {
            quote(&format!("${{{}:-{}}}", ["TAG", "EMPTY", "UNSET"][*i as usize % 3], pick(WORDS, *i)))
        }
        Scalar::Duration(n, unit) => quote(&format!("{n}{}", ["ms", "s", "m", "h", "us", "x"][*unit as usize % 6])),
        Scalar::Size(n, unit) => quote(&format!("{n}{}", ["", "k", "M", "g", "Mi", "b"][*unit as usize % 6])),
        Scalar::Port(published, target, udp) => {
            quote(&format!("{published}:{target}{}", if *udp { "/udp" } else { "" }))
        }
        Scalar::Mount(source, target, read_only) => quote(&format!(
            "{}:/t{target}{}",
            ["data", "./rel", "/abs", "~/home", ""][*source as usize % 5],
            if *read_only { ":ro" } else { "" }
        )),
        Scalar::Text(text) => quote(text),
    }
}

fn flow_map(entries: &[(u8, Scalar)]) -> String {
    let mut seen = Vec::new();
    let mut parts = Vec::new();
    for (key, value) in entries {
        let key = pick(INNER_KEYS, *key);
        if !seen.contains(&key) {
            seen.push(key);
            parts.push(format!("{key}: {}", scalar(value)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

fn value(v: &Value) -> String {
    match v {
        Value::Scalar(s) => scalar(s),
        Value::List(items) => format!("[{}]", items.iter().map(scalar).collect::<Vec<_>>().join(", ")),
        Value::Map(entries) => flow_map(entries),
        Value::Nested(entries) => {
            let mut seen = Vec::new();
            let mut parts = Vec::new();
            for (key, inner) in entries {
                let key = pick(INNER_KEYS, *key);
                if !seen.contains(&key) {
                    seen.push(key);
                    parts.push(format!("{key}: {}", flow_map(inner)));
                }
            }
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn render(stack: &Stack) -> String {
    let mut out = String::new();
    match &stack.version {
        Version::Absent => {}
        Version::Three => out.push_str("version: \"3\"\n"),
        Version::Minor(minor) => {
            let _ = writeln!(out, "version: \"3.{}\"", minor % 15);
        }
        Version::Number => out.push_str("version: 3.8\n"),
    }
    let mut seen_defaults = Vec::new();
    out.push_str("x-defaults: &defaults\n");
    out.push_str("  image: nginx\n");
    for (key, v) in &stack.defaults {
        let key = pick(SERVICE_KEYS, *key);
        if key != "image" && !seen_defaults.contains(&key) {
            seen_defaults.push(key);
            let _ = writeln!(out, "  {key}: {}", value(v));
        }
    }
    out.push_str("services:\n");
    let mut names = Vec::new();
    for service in &stack.services {
        let name = format!("s{}", service.name % 8);
        if names.contains(&name) {
            continue;
        }
        let _ = writeln!(out, "  {name}:");
        names.push(name);
        if service.uses_defaults {
            out.push_str("    <<: *defaults\n");
        }
        let mut seen = Vec::new();
        for (key, v) in &service.keys {
            let key = pick(SERVICE_KEYS, *key);
            if !seen.contains(&key) {
                seen.push(key);
                let _ = writeln!(out, "    {key}: {}", value(v));
            }
        }
        if seen.is_empty() && !service.uses_defaults {
            out.push_str("    image: nginx\n");
        }
    }
    for (section, entries) in [("networks", &stack.networks), ("volumes", &stack.volumes)] {
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{section}:");
        let mut seen = Vec::new();
        for (name, fields) in entries {
            let name = pick(WORDS, *name);
            if !name.is_empty() && !seen.contains(&name) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                seen.push(name);
                let _ = writeln!(out, "  {name}: {}", flow_map(fields));
            }
        }
    }
    out
}

fuzz_target!(|stack: Stack| {
    let text = render(&stack);
    let environment: BTreeMap<String, String> = [
        ("TAG".to_owned(), "1.0".to_owned()),
        ("EMPTY".to_owned(), String::new()),
        ("HOME".to_owned(), "/home/u".to_owned()),
    ]
    .into_iter()
    .collect();
    let files = [SourceFile { name: "fuzz.yml", text: &text }];
    let input = LoadInput {
        files: &files,
        working_dir: "/stack",
        environment: &environment,
        files_reader: &InMemoryFiles::default(),
        skip_interpolation: false,
    };
    let Ok(loaded) = load(&input) else { return };
    let printed = config_text(&loaded.config);
    let printed_files = [SourceFile { name: "printed.yml", text: &printed }];
    let reloaded = load(&LoadInput { files: &printed_files, skip_interpolation: true, ..input });
    match reloaded {
        Ok(again) => assert_eq!(again.config, loaded.config, "source:\n{text}\nprinted:\n{printed}"),
        Err(error) => panic!("printed stack does not load back: {error}\nsource:\n{text}\nprinted:\n{printed}"),
    }
});
