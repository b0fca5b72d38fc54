//! The order `stack deploy` creates a stack's services in, honouring `depends_on` (beyond Swarm, which ignores
//! it): `deploy_layers` groups services into layers so that every dependency of a service lies in an earlier
//! layer. Invariant: each service appears in exactly one layer, layers are sorted by name, and a cycle or a
//! dependency on a service outside the plan is an error, never a partial order.

use std::collections::{BTreeMap, BTreeSet};

use super::error::StackError;
use super::StackPlan;

/// The plan's services (full names) in layers: the first holds the services that depend on nothing, each next
/// one the services whose dependencies are all in earlier layers. A dependency on a service the plan does not
/// have, or a cycle (named with the services' names in the file: `web -> api -> web`), is an error.
pub fn deploy_layers(plan: &StackPlan) -> Result<Vec<Vec<String>>, StackError> {
    let mut dependencies: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for service in &plan.services {
        dependencies.insert(service.spec.name.as_str(), BTreeSet::new());
    }
    for service in &plan.services {
        for dependency in &service.depends_on {
            if !dependencies.contains_key(dependency.service.as_str()) {
                return Err(StackError::UnknownDependency {
                    service: short_name(plan, &service.spec.name).to_owned(),
                    dependency: short_name(plan, &dependency.service).to_owned(),
                });
            }
        }
        let entry = dependencies.get_mut(service.spec.name.as_str()).expect("every service was inserted above");
        entry.extend(service.depends_on.iter().map(|dependency| dependency.service.as_str()));
    }

    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut layers = Vec::new();
    while placed.len() < dependencies.len() {
        let layer: Vec<&str> = dependencies
            .iter()
            .filter(|(name, needs)| !placed.contains(*name) && needs.iter().all(|need| placed.contains(need)))
            .map(|(name, _)| *name)
            .collect();
        if layer.is_empty() {
            let cycle = find_cycle(&dependencies, &placed);
            return Err(StackError::DependencyCycle {
                cycle: cycle.into_iter().map(|name| short_name(plan, name).to_owned()).collect(),
            });
        }
        placed.extend(layer.iter().copied());
        layers.push(layer.into_iter().map(str::to_owned).collect());
    }
    Ok(layers)
}

/// A service's name in the file: its full name without the `<stack>_` prefix.
fn short_name<'a>(plan: &StackPlan, full: &'a str) -> &'a str {
    full.strip_prefix(&plan.name).and_then(|rest| rest.strip_prefix('_')).unwrap_or(full)
}

/// A cycle among the services not yet placed, when none of them can be: starting from the first by name, follow
/// each one's first unplaced dependency until a service repeats. Every unplaced service has one (else it could be
/// placed), so the walk ends within as many steps as there are services.
fn find_cycle<'a>(dependencies: &BTreeMap<&'a str, BTreeSet<&'a str>>, placed: &BTreeSet<&str>) -> Vec<&'a str> {
    let Some(start) = dependencies.keys().copied().find(|name| !placed.contains(name)) else {
        return Vec::new();
    };
    let mut path: Vec<&'a str> = vec![start];
    loop {
        let current = *path.last().expect("the path starts with one service");
        let next = dependencies[current].iter().copied().find(|need| !placed.contains(need));
        let Some(next) = next else {
            // Unreachable while `current` could not be placed; stop rather than loop.
            return path;
        };
        if let Some(from) = path.iter().position(|name| *name == next) {
            let mut cycle = path.split_off(from);
            cycle.push(next);
            return cycle;
        }
        path.push(next);
    }
}
