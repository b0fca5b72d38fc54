//! Which nodes a service's placement admits, as SwarmKit's scheduler filters them: a node's value for each
//! constraint key, constraints matched case-insensitively (a missing label never equals and always differs),
//! platforms with `x86_64`/`aarch64` read as `amd64`/`arm64`, and the values spread preferences group nodes by.
//! These are methods of the spec's placement types, written here beside the `Node` they read, so that the spec
//! itself depends on no stored object.

use super::node::{Node, NodeRole};
use crate::spec::{Constraint, ConstraintKey, ConstraintOperator, Placement, PlacementPreference};

impl ConstraintKey {
    /// The node's value for this key; "" when the node lacks it (an unset label).
    pub fn value_of<'a>(&self, node: &'a Node) -> &'a str {
        match self {
            ConstraintKey::NodeId => &node.id,
            ConstraintKey::NodeHostname => &node.description.hostname,
            ConstraintKey::NodeRole => match node.spec.role {
                NodeRole::Manager => "manager",
                NodeRole::Worker => "worker",
            },
            ConstraintKey::NodePlatformOs => &node.description.platform.os,
            ConstraintKey::NodePlatformArch => &node.description.platform.architecture,
            ConstraintKey::NodeLabel(name) => node.spec.labels.get(name).map_or("", String::as_str),
            ConstraintKey::EngineLabel(name) => node.description.engine.labels.get(name).map_or("", String::as_str),
        }
    }
}

impl Constraint {
    /// SwarmKit's `Constraint.Match`: the node's value (or "" if it has none) equals `value` ignoring case for
    /// `==`, and differs for `!=`. So a missing label never matches `==` and always matches `!=`.
    pub fn matches(&self, node: &Node) -> bool {
        let actual = self.key.value_of(node);
        let equal = actual.chars().flat_map(char::to_lowercase).eq(self.value.chars().flat_map(char::to_lowercase));
        match self.operator {
            ConstraintOperator::Eq => equal,
            ConstraintOperator::NotEq => !equal,
        }
    }

    /// Whether `node` satisfies every constraint (SwarmKit's `NodeMatches`).
    pub fn all_match(constraints: &[Constraint], node: &Node) -> bool {
        constraints.iter().all(|constraint| constraint.matches(node))
    }
}

impl Placement {
    /// Whether `node` satisfies every constraint and one of the platforms (if any). A constraint that does not
    /// parse matches no node.
    pub fn node_matches(&self, node: &Node) -> bool {
        let constraints_match = match Constraint::parse_all(&self.constraints) {
            Ok(constraints) => Constraint::all_match(&constraints, node),
            Err(_) => false,
        };
        constraints_match && self.platform_matches(node)
    }

    /// SwarmKit's platform filter: empty `platforms` match every node; otherwise one must match, an empty field
    /// matching anything, with `x86_64` read as `amd64` and `aarch64` as `arm64`.
    pub fn platform_matches(&self, node: &Node) -> bool {
        fn arch(architecture: &str) -> &str {
            match architecture {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                other => other,
            }
        }
        let actual = &node.description.platform;
        self.platforms.is_empty()
            || self.platforms.iter().any(|wanted| {
                (wanted.architecture.is_empty() || arch(&wanted.architecture) == arch(&actual.architecture))
                    && (wanted.os.is_empty() || wanted.os == actual.os)
            })
    }
}

impl PlacementPreference {
    /// The value `node` has for the spread label ("" when unset or the descriptor is invalid), as SwarmKit's
    /// scheduler groups nodes.
    pub fn spread_value<'a>(&self, node: &'a Node) -> &'a str {
        self.spread_key().map_or("", |key| key.value_of(node))
    }
}
