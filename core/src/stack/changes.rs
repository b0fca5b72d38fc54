//! What a stack owns in the cluster, and what `stack deploy` must change to make the cluster match a converted
//! stack: pure functions over the services and networks of the leader's view. The CLI performs the changes; this
//! file only decides them, so every rule is tested without a daemon.
//!
//! Invariants: only objects labelled with the stack's namespace (`com.docker.stack.namespace=<stack>`) are ever
//! updated, pruned or removed — a same-named object of another stack or of no stack is a conflict, never taken
//! over; a service whose spec is unchanged is never sent again, so redeploying an unchanged file changes nothing
//! (no new version, no task restarted).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Network, NetworkSpec, Service, ServiceSpec, Version};

use super::NAMESPACE_LABEL;

/// Whether an object with `labels` belongs to the stack `namespace`.
pub fn owned_by(labels: &BTreeMap<String, String>, namespace: &str) -> bool {
    labels.get(NAMESPACE_LABEL).is_some_and(|value| value == namespace)
}

/// Everything one stack owns, each list sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackInventory<'a> {
    pub services: Vec<&'a Service>,
    pub networks: Vec<&'a Network>,
}

impl StackInventory<'_> {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.networks.is_empty()
    }
}

/// The services and networks labelled with `namespace`.
pub fn inventory<'a>(namespace: &str, services: &'a [Service], networks: &'a [Network]) -> StackInventory<'a> {
    let mut owned_services: Vec<&Service> =
        services.iter().filter(|service| owned_by(&service.spec.labels, namespace)).collect();
    owned_services.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    let mut owned_networks: Vec<&Network> =
        networks.iter().filter(|network| owned_by(&network.spec.labels, namespace)).collect();
    owned_networks.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    StackInventory { services: owned_services, networks: owned_networks }
}

/// `stack ls`: every stack that has a service, with its number of services, by name. As in Docker, a stack is
/// known by its services (a stack whose services are all gone is not listed, even if a network of it is left).
pub fn stacks(services: &[Service]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for service in services {
        if let Some(namespace) = service.spec.labels.get(NAMESPACE_LABEL) {
            *counts.entry(namespace.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// What to do with one service of the stack file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceChange {
    Create(ServiceSpec),
    /// The service exists in the stack and its spec differs: replace it, based on `version`.
    Update {
        id: String,
        version: Version,
        spec: ServiceSpec,
    },
    /// The service exists with exactly this spec: nothing is sent.
    Unchanged {
        id: String,
    },
}

/// Everything `stack deploy` must do, decided from one view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployChanges {
    /// External networks the cluster does not have (the deploy stops before changing anything).
    pub missing_external_networks: Vec<String>,
    /// Networks of the stack's names that exist but do not belong to the stack (the deploy stops).
    pub foreign_networks: Vec<String>,
    /// Services of the file whose name an object outside the stack already uses (the deploy stops).
    pub foreign_services: Vec<String>,
    /// Services of the stack no longer in the file, `(id, name)` (only with `--prune`).
    pub services_to_prune: Vec<(String, String)>,
    /// The stack's networks that do not exist yet, in the plan's order.
    pub networks_to_create: Vec<NetworkSpec>,
    /// Per service of the file, by full name.
    pub services: BTreeMap<String, ServiceChange>,
}

impl DeployChanges {
    /// Whether the deploy must stop before changing anything.
    pub fn is_blocked(&self) -> bool {
        !self.missing_external_networks.is_empty()
            || !self.foreign_networks.is_empty()
            || !self.foreign_services.is_empty()
    }
}

/// What the cluster needs for the stack `namespace` to match the file: its `networks` (to create), the
/// `external_networks` it expects, its `services`. `existing_*` come from the leader's view. External networks are
/// found by name or id, as Docker looks them up. An update keeps the service's `--force` counter, as Docker's
/// deploy does, so it does not restart tasks by itself.
pub fn deploy_changes(
    namespace: &str,
    networks: &[NetworkSpec],
    external_networks: &[String],
    services: &[ServiceSpec],
    existing_services: &[Service],
    existing_networks: &[Network],
    prune: bool,
) -> DeployChanges {
    let mut changes = DeployChanges::default();
    for name in external_networks {
        let found = existing_networks.iter().any(|network| network.spec.name == *name || network.id == *name);
        if !found && !changes.missing_external_networks.contains(name) {
            changes.missing_external_networks.push(name.clone());
        }
    }
    for spec in networks {
        match existing_networks.iter().find(|network| network.spec.name == spec.name) {
            None => changes.networks_to_create.push(spec.clone()),
            Some(network) if owned_by(&network.spec.labels, namespace) => {}
            Some(_) => changes.foreign_networks.push(spec.name.clone()),
        }
    }
    for spec in services {
        let change = match existing_services.iter().find(|service| service.spec.name == spec.name) {
            None => ServiceChange::Create(spec.clone()),
            Some(service) if owned_by(&service.spec.labels, namespace) => {
                let mut wanted = spec.clone();
                wanted.task_template.force_update = service.spec.task_template.force_update;
                wanted.endpoint_spec.keep_assigned_ports(&service.spec.endpoint_spec);
                if wanted == service.spec {
                    ServiceChange::Unchanged { id: service.id.clone() }
                } else {
                    ServiceChange::Update { id: service.id.clone(), version: service.version, spec: wanted }
                }
            }
            Some(_) => {
                changes.foreign_services.push(spec.name.clone());
                continue;
            }
        };
        changes.services.insert(spec.name.clone(), change);
    }
    if prune {
        let wanted: BTreeSet<&str> = services.iter().map(|spec| spec.name.as_str()).collect();
        changes.services_to_prune = inventory(namespace, existing_services, existing_networks)
            .services
            .into_iter()
            .filter(|service| !wanted.contains(service.spec.name.as_str()))
            .map(|service| (service.id.clone(), service.spec.name.clone()))
            .collect();
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    fn labelled(mut spec: ServiceSpec, namespace: &str) -> ServiceSpec {
        spec.labels.insert(NAMESPACE_LABEL.into(), namespace.into());
        spec
    }

    fn service(id: &str, spec: ServiceSpec) -> Service {
        Service {
            id: id.into(),
            version: Version(7),
            created_at: Timestamp::default(),
            updated_at: Timestamp::default(),
            spec,
            previous_spec: None,
            spec_history: Vec::new(),
            update_status: None,
            virtual_ips: Vec::new(),
        }
    }

    fn network_spec(name: &str, namespace: Option<&str>) -> NetworkSpec {
        let mut spec = NetworkSpec::overlay(name);
        if let Some(namespace) = namespace {
            spec.labels.insert(NAMESPACE_LABEL.into(), namespace.into());
        }
        spec
    }

    fn network(id: &str, spec: NetworkSpec) -> Network {
        Network {
            id: id.into(),
            version: Version(1),
            created_at: Timestamp::default(),
            updated_at: Timestamp::default(),
            spec,
            allocation: crate::model::NetworkAllocation {
                subnet: crate::ipam::Ipv4Cidr::parse("10.0.1.0/24").expect("a valid subnet"),
                gateway: std::net::Ipv4Addr::new(10, 0, 1, 1),
                ip_range: None,
                vxlan_id: 4096,
                node_gateways: BTreeMap::new(),
                next_offset: 0,
            },
        }
    }

    #[test]
    fn a_new_stack_creates_everything() {
        let web = labelled(ServiceSpec::replicated("s_web", "nginx", 2), "s");
        let changes = deploy_changes(
            "s",
            &[network_spec("s_default", Some("s"))],
            &[],
            std::slice::from_ref(&web),
            &[],
            &[],
            false,
        );
        assert!(!changes.is_blocked());
        assert_eq!(changes.networks_to_create, [network_spec("s_default", Some("s"))]);
        assert_eq!(changes.services["s_web"], ServiceChange::Create(web));
    }

    #[test]
    fn an_unchanged_service_is_not_sent_and_a_changed_one_keeps_its_force_counter() {
        let web = labelled(ServiceSpec::replicated("s_web", "nginx", 2), "s");
        let mut forced = web.clone();
        forced.task_template.force_update = 3;
        let existing = [service("w1", forced.clone())];
        let same = deploy_changes("s", &[], &[], std::slice::from_ref(&web), &existing, &[], false);
        assert_eq!(same.services["s_web"], ServiceChange::Unchanged { id: "w1".into() });

        let mut scaled = web.clone();
        scaled.mode = crate::ServiceMode::Replicated { replicas: 5 };
        let changed = deploy_changes("s", &[], &[], &[scaled.clone()], &existing, &[], false);
        let mut expected = scaled;
        expected.task_template.force_update = 3;
        assert_eq!(
            changed.services["s_web"],
            ServiceChange::Update { id: "w1".into(), version: Version(7), spec: expected }
        );
    }

    #[test]
    fn a_port_the_cluster_numbered_is_not_a_change() {
        let mut web = labelled(ServiceSpec::replicated("s_web", "nginx", 2), "s");
        web.endpoint_spec.ports = vec![crate::spec::PortConfig::tcp(0, 80)];
        let mut numbered = web.clone();
        numbered.endpoint_spec.ports[0].published_port = 30007;
        let existing = [service("w1", numbered)];
        let same = deploy_changes("s", &[], &[], std::slice::from_ref(&web), &existing, &[], false);
        assert_eq!(same.services["s_web"], ServiceChange::Unchanged { id: "w1".into() });
    }

    #[test]
    fn objects_outside_the_stack_are_conflicts_never_taken_over() {
        let web = labelled(ServiceSpec::replicated("s_web", "nginx", 1), "s");
        let existing_services = [service("x", ServiceSpec::replicated("s_web", "nginx", 1))];
        let existing_networks = [network("n", network_spec("s_default", Some("other")))];
        let changes = deploy_changes(
            "s",
            &[network_spec("s_default", Some("s"))],
            &[],
            &[web],
            &existing_services,
            &existing_networks,
            true,
        );
        assert!(changes.is_blocked());
        assert_eq!(changes.foreign_networks, ["s_default"]);
        assert_eq!(changes.foreign_services, ["s_web"]);
        assert!(changes.services_to_prune.is_empty());
    }

    #[test]
    fn external_networks_are_found_by_name_or_id() {
        let existing = [network("abc123", network_spec("shared", None))];
        let names = ["shared".to_string(), "abc123".to_string(), "missing".to_string()];
        let changes = deploy_changes("s", &[], &names, &[], &[], &existing, false);
        assert_eq!(changes.missing_external_networks, ["missing"]);
    }

    #[test]
    fn prune_removes_only_the_stacks_services_missing_from_the_file() {
        let web = labelled(ServiceSpec::replicated("s_web", "nginx", 1), "s");
        let existing = [
            service("1", web.clone()),
            service("2", labelled(ServiceSpec::replicated("s_old", "nginx", 1), "s")),
            service("3", labelled(ServiceSpec::replicated("t_old", "nginx", 1), "t")),
            service("4", ServiceSpec::replicated("lonely", "nginx", 1)),
        ];
        let without_prune = deploy_changes("s", &[], &[], std::slice::from_ref(&web), &existing, &[], false);
        assert!(without_prune.services_to_prune.is_empty());
        let pruned = deploy_changes("s", &[], &[], &[web], &existing, &[], true);
        assert_eq!(pruned.services_to_prune, [("2".to_string(), "s_old".to_string())]);
    }

    #[test]
    fn stacks_are_counted_by_their_services() {
        let services = [
            service("1", labelled(ServiceSpec::replicated("a_web", "nginx", 1), "a")),
            service("2", labelled(ServiceSpec::replicated("a_db", "nginx", 1), "a")),
            service("3", labelled(ServiceSpec::replicated("b_web", "nginx", 1), "b")),
            service("4", ServiceSpec::replicated("plain", "nginx", 1)),
        ];
        let counts: Vec<(String, usize)> = stacks(&services).into_iter().collect();
        assert_eq!(counts, [("a".to_string(), 2), ("b".to_string(), 1)]);
        let owned = inventory("a", &services, &[]);
        let names: Vec<&str> = owned.services.iter().map(|s| s.spec.name.as_str()).collect();
        assert_eq!(names, ["a_db", "a_web"]);
    }
}
