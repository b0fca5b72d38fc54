//! Compose loader benchmark: loads a large generated stack file (1,500 services using every common key group,
//! about 2.5 MB) and prints `RESULT compose_load_mb_per_sec=<n> MB/s` (the median of several rounds, parse to
//! merged and checked model), then times the refusal of each YAML bomb the loader's budgets exist for (billion
//! laughs, 10,000-deep nesting, a 50 MB scalar) and prints `RESULT compose_bomb_<name>_ms=<n> ms`. The goal
//! for bombs is under 100 ms each; this prints the figure, it does not assert it.
//!
//! Run: `cargo run --release -p swarm-core --bin compose-bench [FILTER]` (runs only the metrics whose name
//! contains FILTER). It lives outside `core/src` because it reads the clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use swarm_core::compose::load_str;

const SERVICES: usize = 1_500;
const ROUNDS: usize = 7;

fn generated_stack() -> String {
    let mut text = String::from(
        "version: \"3.9\"\nx-logging: &logging\n  driver: json-file\n  options: {max-size: 10m, max-file: \"3\"}\n\
         networks:\n  front: {driver: overlay, attachable: true}\n  back: {driver: overlay, internal: true}\n\
         volumes:\n  data: {driver: local}\nsecrets:\n  token: {external: true}\nservices:\n",
    );
    for index in 0..SERVICES {
        text.push_str(&format!(
            "  service-{index}:\n    image: registry.example.com/team/app-{index}:${{TAG:-1.{index}}}\n    \
             command: [\"/bin/app\", \"--port\", \"{port}\", \"--name\", \"service-{index}\"]\n    environment:\n      \
             - MODE=production\n      - INDEX={index}\n      - PEER=service-{peer}:{port}\n    labels:\n      \
             com.example.team: team-{team}\n      com.example.index: \"{index}\"\n    ports:\n      - \"{published}:{port}\"\n      \
             - target: {port2}\n        published: {published2}\n        mode: host\n    networks:\n      front: {{aliases: [alias-{index}]}}\n      \
             back:\n    volumes:\n      - data:/data/{index}:ro\n      - /srv/{index}:/srv\n    secrets: [token]\n    \
             logging: *logging\n    healthcheck:\n      test: curl -f http://localhost:{port}/health\n      interval: 30s\n      \
             timeout: 5s\n      retries: 3\n    stop_grace_period: 1m30s\n    deploy:\n      mode: replicated\n      \
             replicas: {replicas}\n      resources:\n        limits: {{cpus: \"0.5\", memory: 512M}}\n        \
             reservations: {{cpus: \"0.25\", memory: 128M}}\n      restart_policy: {{condition: on-failure, delay: 5s, max_attempts: 3}}\n      \
             update_config: {{parallelism: 2, delay: 10s, order: start-first}}\n      placement:\n        \
             constraints: [node.role == worker, node.labels.zone == z{zone}]\n        preferences: [{{spread: node.labels.rack}}]\n",
            port = 8000 + index % 1000,
            port2 = 9000 + index % 1000,
            peer = (index + 1) % SERVICES,
            team = index % 17,
            published = 10_000 + index,
            published2 = 30_000 + index,
            replicas = 1 + index % 5,
            zone = index % 3,
        ));
    }
    text
}

fn billion_laughs() -> String {
    let mut text = String::from("x-lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        let items = vec![format!("*lol{}", level - 1); 9].join(", ");
        text.push_str(&format!("x-lol{level}: &lol{level} [{items}]\n"));
    }
    text.push_str("services:\n  web: {image: nginx, x-boom: *lol9}\n");
    text
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn wanted(metric: &str) -> bool {
    std::env::args().nth(1).is_none_or(|filter| metric.contains(filter.as_str()))
}

fn main() {
    let environment = BTreeMap::new();
    if wanted("compose_load_mb_per_sec") {
        let text = generated_stack();
        let mut times = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let start = Instant::now();
            let loaded = load_str("generated.yml", &text, &environment).expect("the generated stack loads");
            times.push(start.elapsed());
            assert_eq!(loaded.config.services.len(), SERVICES);
        }
        let time = median(times);
        let megabytes = text.len() as f64 / 1e6;
        eprintln!("generated stack: {SERVICES} services, {megabytes:.2} MB, median load {time:.2?}");
        println!("RESULT compose_load_mb_per_sec={:.2} MB/s", megabytes / time.as_secs_f64());
    }
    let bombs: [(&str, String); 4] = [
        ("billion_laughs", billion_laughs()),
        ("deep_block_nesting", format!("x-deep:\n  {}x\nservices: {{}}\n", "- ".repeat(10_000))),
        ("deep_flow_nesting", format!("x-deep: {}{}\nservices: {{}}\n", "[".repeat(10_000), "]".repeat(10_000))),
        ("scalar_50mb", format!("services:\n  web:\n    image: \"{}\"\n", "x".repeat(50_000_000))),
    ];
    for (name, text) in bombs {
        let metric = format!("compose_bomb_{name}_ms");
        if !wanted(&metric) {
            continue;
        }
        let mut times = Vec::with_capacity(ROUNDS);
        let mut message = String::new();
        for _ in 0..ROUNDS {
            let start = Instant::now();
            let result = load_str("bomb.yml", &text, &environment);
            times.push(start.elapsed());
            message = result.expect_err("a bomb is refused").to_string();
        }
        eprintln!("{name}: {message}");
        println!("RESULT {metric}={:.3} ms", median(times).as_secs_f64() * 1e3);
    }
}
