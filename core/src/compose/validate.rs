//! Checks on the merged stack that Docker only makes when it deploys (or, for dependencies, never): every
//! network, named volume, secret and config a service uses is defined at the top level (the network `default`
//! excepted: the stack creates it), every `depends_on` names a service of the stack, and dependencies form no
//! cycle. Errors point at the reference in its file, and a cycle is named in full (`a -> b -> a`).

use std::collections::BTreeMap;

use super::decode::{Reference, ReferenceKind};
use super::error::ComposeError;
use super::model::ComposeConfig;

/// Checks every recorded reference against the merged config.
pub fn check_references(config: &ComposeConfig, references: &[Reference]) -> Result<(), ComposeError> {
    for reference in references {
        let (defined, what) = match reference.kind {
            ReferenceKind::Network => {
                (reference.name == "default" || config.networks.contains_key(&reference.name), "network")
            }
            ReferenceKind::Volume => (config.volumes.contains_key(&reference.name), "volume"),
            ReferenceKind::Secret => (config.secrets.contains_key(&reference.name), "secret"),
            ReferenceKind::Config => (config.configs.contains_key(&reference.name), "config"),
            ReferenceKind::Service => (config.services.contains_key(&reference.name) || !reference.required, "service"),
        };
        if !defined {
            let section = match reference.kind {
                ReferenceKind::Network => "networks",
                ReferenceKind::Volume => "volumes",
                ReferenceKind::Secret => "secrets",
                ReferenceKind::Config => "configs",
                ReferenceKind::Service => "services",
            };
            let hint = super::keys::did_you_mean(&reference.name, defined_names(config, reference.kind))
                .map(|close| format!(" (did you mean {close:?}?)"))
                .unwrap_or_default();
            let message = if reference.kind == ReferenceKind::Service {
                format!("service {:?} depends on undefined service {:?}{hint}", reference.service, reference.name)
            } else {
                format!("undefined {what} {:?}: define it under the top-level {section}:{hint}", reference.name)
            };
            return Err(ComposeError::new(&reference.file, reference.position, &reference.path, message));
        }
    }
    Ok(())
}

fn defined_names(config: &ComposeConfig, kind: ReferenceKind) -> Vec<&str> {
    match kind {
        ReferenceKind::Network => config.networks.keys().map(String::as_str).collect(),
        ReferenceKind::Volume => config.volumes.keys().map(String::as_str).collect(),
        ReferenceKind::Secret => config.secrets.keys().map(String::as_str).collect(),
        ReferenceKind::Config => config.configs.keys().map(String::as_str).collect(),
        ReferenceKind::Service => config.services.keys().map(String::as_str).collect(),
    }
}

/// Refuses a dependency cycle, naming it. Services are visited in name order, so the cycle reported is
/// deterministic.
pub fn check_dependency_cycles(config: &ComposeConfig, references: &[Reference]) -> Result<(), ComposeError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = config.services.keys().map(|name| (name.as_str(), Mark::Unvisited)).collect();
    for start in config.services.keys() {
        if marks[start.as_str()] != Mark::Unvisited {
            continue;
        }
        // Iterative depth-first search: (service, index of the next dependency to look at).
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        marks.insert(start.as_str(), Mark::OnPath);
        while let Some((service, next)) = stack.last().copied() {
            let dependencies = &config.services[service].depends_on;
            if next >= dependencies.len() {
                marks.insert(service, Mark::Done);
                stack.pop();
                continue;
            }
            stack.last_mut().expect("stack is not empty").1 += 1;
            let dependency = dependencies[next].service.as_str();
            match marks.get(dependency).copied() {
                None | Some(Mark::Done) => {}
                Some(Mark::Unvisited) => {
                    marks.insert(dependency, Mark::OnPath);
                    stack.push((dependency, 0));
                }
                Some(Mark::OnPath) => {
                    let from = stack.iter().position(|(name, _)| *name == dependency).expect("on the path");
                    let mut cycle: Vec<&str> = stack[from..].iter().map(|(name, _)| *name).collect();
                    cycle.push(dependency);
                    let reference = references
                        .iter()
                        .rev()
                        .find(|r| r.kind == ReferenceKind::Service && r.service == service && r.name == dependency);
                    let (file, position, path) = match reference {
                        Some(r) => (r.file.as_str(), r.position, r.path.clone()),
                        None => ("", super::error::Position::default(), format!("services.{service}.depends_on")),
                    };
                    return Err(ComposeError::new(
                        file,
                        position,
                        &path,
                        format!("dependency cycle: {}", cycle.join(" -> ")),
                    ));
                }
            }
        }
    }
    Ok(())
}
