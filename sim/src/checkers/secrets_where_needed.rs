//! Secrets reach only the tasks that need them: every `prepare` that gave a container secrets ran on the node the
//! task is assigned to, gave exactly the secrets the task's spec references (none missing, none extra), and each
//! value is the one that was sealed into the store (`expected`, by secret id) — so sealing, the leader's opening,
//! the assignment answer and the agent's cache carry it unchanged, through every fault.

use std::collections::{BTreeMap, BTreeSet};

use crate::executor::SecretDelivery;

pub fn check(deliveries: &[SecretDelivery], expected: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut violations = Vec::new();
    for delivery in deliveries {
        let task = &delivery.task_id;
        if delivery.task_node_id.as_deref() != Some(delivery.node_id.as_str()) {
            violations.push(format!(
                "secrets: node {} got secrets for task {task}, which is assigned to {:?}",
                delivery.node_id, delivery.task_node_id
            ));
        }
        let given: BTreeSet<&str> = delivery.secrets.iter().map(|(id, _)| id.as_str()).collect();
        let referenced: BTreeSet<&str> = delivery.referenced.iter().map(String::as_str).collect();
        if given != referenced {
            violations.push(format!(
                "secrets: task {task} on node {} got {given:?} but references {referenced:?}",
                delivery.node_id
            ));
        }
        for (id, value) in &delivery.secrets {
            if expected.get(id) != Some(value) {
                violations.push(format!("secrets: task {task} got a value of secret {id} that was never sealed"));
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(node: &str, assigned: &str, referenced: &[&str], given: &[(&str, &[u8])]) -> SecretDelivery {
        SecretDelivery {
            node_id: node.into(),
            task_node_id: Some(assigned.into()),
            task_id: "t1".into(),
            referenced: referenced.iter().map(|id| id.to_string()).collect(),
            secrets: given.iter().map(|(id, value)| (id.to_string(), value.to_vec())).collect(),
        }
    }

    #[test]
    fn only_needed_secrets_with_their_sealed_values_pass() {
        let expected = BTreeMap::from([("s1".to_string(), b"v1".to_vec()), ("s2".to_string(), b"v2".to_vec())]);
        let cases: &[(SecretDelivery, usize)] = &[
            (delivery("n1", "n1", &["s1"], &[("s1", b"v1")]), 0),
            (delivery("n1", "n2", &["s1"], &[("s1", b"v1")]), 1),
            (delivery("n1", "n1", &["s1"], &[("s1", b"v1"), ("s2", b"v2")]), 1),
            (delivery("n1", "n1", &["s1", "s2"], &[("s1", b"v1")]), 1),
            (delivery("n1", "n1", &["s1"], &[("s1", b"other")]), 1),
        ];
        for (delivery, violations) in cases {
            assert_eq!(check(std::slice::from_ref(delivery), &expected).len(), *violations, "{delivery:?}");
        }
    }
}
