//! One container per task, one running container per slot (SwarmKit's task model, `design/task_model.md`: a task
//! is one attempt at a slot and runs at most once — the agent never runs a task twice, its observed state only
//! moves forward; a slot is filled by one task at a time, the orchestrator replacing a task only after it has
//! stopped, except that a `start-first` update (`UpdateConfig.Order`, docs: "service update --update-order")
//! starts the replacement before stopping the old task, for at most `parallelism` slots at once).
//! Judged on the simulated engines' ground truth (`executor::ContainerRecord`s of every host), not on what the
//! managers believe:
//! - no task id ever had two containers, started or not (a host crash stops containers but keeps them, as Docker
//!   Engine does, so the rebooted host's agent finds the task's container instead of creating another);
//! - at no instant did a slot (replicated services and jobs: the slot number; global ones: the node) have more
//!   than one running container — or two, for services allowed to overlap — and at no instant did a service have
//!   more overlapping containers in all than it is allowed.
//!
//! The allowed overlap per service id is a parameter: 0 for stop-first services, the update parallelism for
//! start-first ones (`u64::MAX` for parallelism 0, "all at once"). Swarm itself cannot hold this property while a
//! worker is cut off from the managers (it keeps running its containers while the managers replace them
//! elsewhere), so scenarios that partition workers should judge only the containers of hosts that stayed
//! connected, or the phases without such faults.
use std::collections::{BTreeMap, BTreeSet};

use crate::executor::{ContainerRecord, SlotKey};

/// Containers named per violation at most.
const NAMED_MAX: usize = 6;

pub fn check(records: &[ContainerRecord], allowed_overlap: impl Fn(&str) -> u64) -> Vec<String> {
    let mut violations = one_container_per_task(records);
    violations.extend(one_running_per_slot(records, allowed_overlap));
    violations
}

/// No task id with two containers that count (see the module doc).
pub fn one_container_per_task(records: &[ContainerRecord]) -> Vec<String> {
    let mut by_task: BTreeMap<&str, Vec<&ContainerRecord>> = BTreeMap::new();
    for record in records {
        by_task.entry(record.task_id.as_str()).or_default().push(record);
    }
    by_task
        .into_iter()
        .filter(|(_, containers)| containers.len() > 1)
        .map(|(task_id, containers)| {
            let described: Vec<String> = containers.iter().take(NAMED_MAX).map(|c| c.describe()).collect();
            format!(
                "one container per task (SwarmKit task model): task {task_id} of service {} had {} containers: {}",
                containers[0].service_id,
                containers.len(),
                described.join("; ")
            )
        })
        .collect()
}

/// Running intervals swept in time order: per slot at most 1 running container (2 if the service may overlap),
/// per service at most `allowed_overlap(service)` containers beyond one per slot. Each slot and each service is
/// reported once, at the first instant it broke the rule.
pub fn one_running_per_slot(records: &[ContainerRecord], allowed_overlap: impl Fn(&str) -> u64) -> Vec<String> {
    // (time, is_start, record index); at equal times stops come first, so back-to-back containers do not overlap.
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let Some(started) = record.started_ms else { continue };
        match record.stopped_ms {
            Some(stopped) if stopped <= started => continue, // never ran for a measurable instant
            Some(stopped) => events.extend([(started, true, index), (stopped, false, index)]),
            None => events.push((started, true, index)),
        }
    }
    events.sort_unstable();

    let mut allowed: BTreeMap<&str, u64> = BTreeMap::new();
    let mut running: BTreeMap<(&str, SlotKey), BTreeSet<usize>> = BTreeMap::new();
    let mut overlap: BTreeMap<&str, u64> = BTreeMap::new();
    let mut reported_slots: BTreeSet<(&str, SlotKey)> = BTreeSet::new();
    let mut reported_services: BTreeSet<&str> = BTreeSet::new();
    let mut violations = Vec::new();
    let describe = |set: &BTreeSet<usize>| -> String {
        set.iter().take(NAMED_MAX).map(|&i| records[i].describe()).collect::<Vec<_>>().join("; ")
    };

    for (time, is_start, index) in events {
        let record = &records[index];
        let service = record.service_id.as_str();
        let key = (service, record.slot_key());
        let set = running.entry(key.clone()).or_default();
        if !is_start {
            set.remove(&index);
            if !set.is_empty() {
                *overlap.entry(service).or_default() -= 1;
            }
            continue;
        }
        set.insert(index);
        if set.len() == 1 {
            continue;
        }
        let service_allowed = *allowed.entry(service).or_insert_with(|| allowed_overlap(service));
        let service_overlap = overlap.entry(service).or_default();
        *service_overlap += 1;
        let slot_max = if service_allowed == 0 { 1 } else { 2 };
        if set.len() > slot_max && reported_slots.insert(key.clone()) {
            violations.push(format!(
                "one running container per slot (SwarmKit task model): service {service} {} had {} running \
                 containers at {time}ms (at most {slot_max} allowed): {}",
                key.1,
                set.len(),
                describe(set)
            ));
        }
        if *service_overlap > service_allowed && reported_services.insert(service) {
            let overlapping: Vec<String> = running
                .iter()
                .filter(|((s, _), set)| *s == service && set.len() > 1)
                .map(|((_, slot), set)| format!("{slot}: {}", describe(set)))
                .collect();
            violations.push(format!(
                "one running container per slot (SwarmKit task model): service {service} had {} containers \
                 overlapping their slot's other container at {time}ms (update parallelism allows {service_allowed}): \
                 {}",
                overlap[service],
                overlapping.join(" | ")
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of a container of `service`/`task` in `slot` (0 = global, keyed by node) that ran `start..stop`.
    fn ran(service: &str, task: &str, slot: u64, node: &str, start: u64, stop: Option<u64>) -> ContainerRecord {
        ContainerRecord {
            container_id: format!("{task:0>12}-{start}"),
            node_id: node.into(),
            task_id: task.into(),
            service_id: service.into(),
            slot: (slot > 0).then_some(slot),
            image: "busybox:1".into(),
            created_ms: start.saturating_sub(5),
            started_ms: Some(start),
            stopped_ms: stop,
            exit_code: stop.map(|_| 0),
            removed_ms: None,
            stopped_by_host_crash: false,
        }
    }

    fn stop_first(_: &str) -> u64 {
        0
    }

    #[test]
    fn sequential_containers_per_slot_pass() {
        let records = [
            ran("s1", "a", 1, "n1", 0, Some(100)),
            ran("s1", "b", 1, "n2", 100, Some(200)), // back to back: no overlap
            ran("s1", "c", 1, "n1", 250, None),
            ran("s1", "d", 2, "n1", 0, None),
            ran("g1", "g1", 0, "n1", 0, Some(50)),
            ran("g1", "g2", 0, "n1", 60, None),
            ran("g1", "g3", 0, "n2", 0, None), // another node: another slot
        ];
        assert_eq!(check(&records, stop_first), Vec::<String>::new());
    }

    #[test]
    fn two_running_in_one_slot_is_reported_once_with_both_containers() {
        let records = [
            ran("s1", "a", 1, "n1", 0, Some(100)),
            ran("s1", "b", 1, "n2", 99, Some(300)),
            ran("s1", "c", 1, "n2", 150, Some(160)), // reported once per slot
            ran("g1", "g1", 0, "n1", 0, None),
            ran("g1", "g2", 0, "n1", 10, None),
        ];
        let violations = check(&records, stop_first);
        assert_eq!(violations.len(), 4, "{violations:#?}");
        // Time order: the global overlap at 10ms, then slot 1's at 99ms; each also breaks its service's budget.
        assert!(violations[0].contains("service g1 node n1 had 2 running containers at 10ms (at most 1 allowed)"));
        assert!(violations[1].contains("service g1 had 1 containers overlapping"), "{violations:#?}");
        assert!(violations[2].contains("service s1 slot 1 had 2 running containers at 99ms"), "{violations:#?}");
        assert!(violations[2].contains("task a on node n1, ran 0..100ms"), "{violations:#?}");
        assert!(violations[2].contains("task b on node n2, ran 99..300ms"), "{violations:#?}");
    }

    #[test]
    fn start_first_overlap_is_bounded_by_parallelism() {
        // Parallelism 2: slots 1 and 2 overlap together (fine), then slot 3 too while both still overlap (not).
        let records = [
            ran("s1", "old1", 1, "n1", 0, Some(500)),
            ran("s1", "new1", 1, "n2", 400, None),
            ran("s1", "old2", 2, "n1", 0, Some(600)),
            ran("s1", "new2", 2, "n2", 450, None),
            ran("s1", "old3", 3, "n1", 0, Some(1000)),
            ran("s1", "new3", 3, "n2", 700, None), // old1, old2 stopped by then: fine
            ran("s1", "old4", 4, "n1", 0, Some(1000)),
            ran("s1", "new4", 4, "n2", 800, None), // with slot 3 still overlapping: 2, fine
        ];
        let parallelism_2 = |service: &str| if service == "s1" { 2 } else { 0 };
        assert_eq!(check(&records, parallelism_2), Vec::<String>::new());
        // The same history under stop-first is four slot violations and one service violation.
        let violations = check(&records, stop_first);
        assert_eq!(violations.len(), 5, "{violations:#?}");
        // Parallelism 1: the second overlapping slot (2, at 450ms) breaks it.
        let violations = check(&records, |_| 1);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(violations[0].contains("service s1 had 2 containers overlapping"), "{violations:#?}");
        assert!(violations[0].contains("at 450ms (update parallelism allows 1)"), "{violations:#?}");
        // Even start-first never allows three in one slot.
        let mut three = records.to_vec();
        three.push(ran("s1", "newer1", 1, "n3", 410, None));
        let violations = check(&three, parallelism_2);
        assert!(violations.iter().any(|v| v.contains("slot 1 had 3 running containers at 410ms (at most 2")));
    }

    #[test]
    fn a_task_with_two_containers_is_reported() {
        let mut created_before_crash = ran("s1", "a", 1, "n1", 0, None);
        created_before_crash.started_ms = None;
        created_before_crash.stopped_by_host_crash = true;
        let mut stopped_by_crash = ran("s1", "b", 2, "n1", 0, Some(40));
        stopped_by_crash.stopped_by_host_crash = true;
        let records = [
            created_before_crash,
            ran("s1", "a", 1, "n1", 50, None), // created again after the crash although the first was still there
            stopped_by_crash,
            ran("s1", "b", 2, "n1", 60, None), // re-run after the crash: the task ran twice
            ran("s1", "c", 3, "n2", 0, Some(10)),
            ran("s1", "c", 3, "n3", 20, Some(30)), // on another node: ran twice
            ran("s1", "d", 4, "n2", 0, None),
        ];
        let violations = check(&records, stop_first);
        assert_eq!(violations.len(), 3, "{violations:#?}");
        assert!(violations[0].contains("task a of service s1 had 2 containers"), "{violations:#?}");
        assert!(violations[0].contains("never started, host crashed"), "{violations:#?}");
        assert!(violations[1].contains("task b of service s1 had 2 containers"), "{violations:#?}");
        assert!(violations[1].contains("ran 0..40ms, host crashed"), "{violations:#?}");
        assert!(violations[2].contains("task c of service s1 had 2 containers"), "{violations:#?}");
    }

    #[test]
    fn containers_that_never_ran_are_ignored() {
        let mut created = ran("s1", "a", 1, "n1", 0, None);
        created.started_ms = None;
        let records = [created, ran("s1", "b", 1, "n1", 5, Some(5)), ran("s1", "c", 1, "n1", 5, None)];
        assert_eq!(check(&records, stop_first), Vec::<String>::new());
    }
}
