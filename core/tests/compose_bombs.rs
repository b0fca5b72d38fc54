//! Hostile YAML: each bomb is refused with an error naming the limit it hit, never by exhausting memory or time.
//! (How fast they are refused is a benchmark figure: `compose-bench` prints it.) A file that uses anchors in the
//! ordinary way stays well inside the budgets.

use std::collections::BTreeMap;

use swarm_core::compose::{load_str, yaml};

fn refusal(text: &str) -> String {
    match load_str("bomb.yml", text, &BTreeMap::new()) {
        Ok(_) => panic!("a bomb was accepted"),
        Err(error) => error.to_string(),
    }
}

/// Nine levels of nine aliases each: 9^9 (387 million) strings once expanded.
pub fn billion_laughs() -> String {
    let mut text = String::from("x-lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        let previous = format!("*lol{}", level - 1);
        let items = vec![previous; 9].join(", ");
        text.push_str(&format!("x-lol{level}: &lol{level} [{items}]\n"));
    }
    text.push_str("services:\n  web: {image: nginx, x-boom: *lol9}\n");
    text
}

#[test]
fn billion_laughs_is_refused_for_its_alias_expansion() {
    let message = refusal(&billion_laughs());
    assert!(message.contains("an alias bomb?"), "{message}");
    assert!(message.starts_with("bomb.yml:"), "{message}");
}

#[test]
fn ten_thousand_deep_block_nesting_is_refused() {
    let text = format!("x-deep:\n  {}x\nservices: {{}}\n", "- ".repeat(10_000));
    let message = refusal(&text);
    assert!(message.contains("nesting deeper than 64 levels (NESTING_DEPTH_MAX)"), "{message}");
}

#[test]
fn ten_thousand_deep_flow_nesting_is_refused() {
    let text = format!("x-deep: {}{}\nservices: {{}}\n", "[".repeat(10_000), "]".repeat(10_000));
    let message = refusal(&text);
    assert!(message.contains("nesting deeper than 64 levels (NESTING_DEPTH_MAX)"), "{message}");
    let text = format!("x-deep: {}1{}\nservices: {{}}\n", "{a: ".repeat(10_000), "}".repeat(10_000));
    let message = refusal(&text);
    assert!(message.contains("nesting deeper than 64 levels (NESTING_DEPTH_MAX)"), "{message}");
}

#[test]
fn a_fifty_megabyte_scalar_is_refused_for_the_file_size() {
    let text = format!("services:\n  web:\n    image: \"{}\"\n", "x".repeat(50_000_000));
    let message = refusal(&text);
    assert!(message.contains("more than the 16777216 a compose file may hold (COMPOSE_FILE_BYTES_MAX)"), "{message}");
}

#[test]
fn a_scalar_over_the_scalar_limit_in_a_small_file_is_refused() {
    let text = format!(
        "services:\n  web:\n    image: nginx\n    labels: {{big: \"{}\"}}\n",
        "y".repeat(yaml::SCALAR_BYTES_MAX + 1)
    );
    let message = refusal(&text);
    assert!(message.contains("bytes allowed"), "{message}");
}

#[test]
fn many_anchors_used_the_ordinary_way_stay_within_the_budgets() {
    let mut text = String::from(
        "x-defaults: &defaults\n  image: example/app\n  deploy: {replicas: 2, restart_policy: {condition: any}}\n  \
         logging: {driver: json-file, options: {max-size: 1m}}\nservices:\n",
    );
    for index in 0..500 {
        text.push_str(&format!("  svc{index}:\n    <<: *defaults\n    environment: {{INDEX: \"{index}\"}}\n"));
    }
    let loaded = load_str("stack.yml", &text, &BTreeMap::new()).expect("an ordinary file loads");
    assert_eq!(loaded.config.services.len(), 500);
    assert_eq!(loaded.config.services["svc499"].deploy.replicas, Some(2));
}

/// The fuzzer's timeout (CI, compose_load): one item naming the whole port range was checked against every
/// earlier port, 65,535² comparisons. The whole range of both protocols loads; a third range is over the budget.
#[test]
fn whole_port_ranges_load_and_more_is_refused_for_the_expanded_ports_budget() {
    let text = concat!(
        "services:\n  web:\n    image: nginx\n    ports:\n",
        "      - \"1-65535:1-65535\"\n      - \"1-65535:1-65535/udp\"\n"
    );
    let loaded = load_str("ports.yml", text, &BTreeMap::new()).expect("the whole range of both protocols loads");
    assert_eq!(loaded.config.services["web"].ports.len(), 2 * 65_535);
    let over = format!("{text}      - \"1-65535\"\n");
    let message = refusal(&over);
    assert!(message.contains("expand to more than 131072 ports (EXPANDED_PORTS_MAX)"), "{message}");
    assert!(message.contains("services.web.ports[2]"), "{message}");
}

/// Distinct items are told apart by bucket, not against every earlier item; a repeat is still found, also when
/// written differently (`1` and `1.0`, mappings in another key order).
#[test]
fn long_lists_of_distinct_items_load_and_repeats_are_still_found() {
    let items: String = (0..50_000).map(|i| format!("      - CAP_{i}\n")).collect();
    let text = format!("services:\n  web:\n    image: nginx\n    cap_add:\n{items}");
    let loaded = load_str("caps.yml", &text, &BTreeMap::new()).expect("50,000 distinct capabilities load");
    assert_eq!(loaded.config.services["web"].cap_add.len(), 50_000);
    let message = refusal(&format!("{text}      - CAP_49999\n"));
    assert!(message.contains("services.web.cap_add[50000]: duplicate item"), "{message}");
    assert!(message.contains("already at services.web.cap_add[49999]"), "{message}");
    let message = refusal("services:\n  web:\n    image: nginx\n    expose: [8001, 8001.0]\n");
    assert!(message.contains("services.web.expose[1]: duplicate item"), "{message}");
    let message = refusal(
        "services:\n  web:\n    image: nginx\n    \
         ports: [{target: 80, published: 8080}, {published: 8080, target: 80}]\n",
    );
    assert!(message.contains("services.web.ports[1]: duplicate item"), "{message}");
}

/// NaN equals nothing, so a list of them holds no repeat; they are not compared with each other either (one bucket
/// of 50,000 NaNs was the quadratic scan again). The list is then refused for its item type, as before.
#[test]
fn a_long_list_of_nans_is_refused_for_its_type_not_after_a_quadratic_scan() {
    let items: String = (0..50_000).map(|_| "      - .nan\n").collect();
    let message = refusal(&format!("services:\n  web:\n    image: nginx\n    ports:\n{items}"));
    assert!(message.contains("services.web.ports[0]"), "{message}");
    assert!(!message.contains("duplicate"), "{message}");
}
