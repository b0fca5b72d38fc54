//! Docker's `Placement`: constraints (`node.labels.zone==east`), spread preferences and platforms, as they parse
//! and validate with SwarmKit's syntax and Docker's CLI errors. Which nodes a placement admits is in
//! `model::node_matching`, beside the node it reads, so the spec needs no node. `Platform` is also what a node
//! reports it runs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{ConstraintProblem, PreferenceProblem, SpecError};

/// An OS and architecture: one a service's image runs on, or the one a node reports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Platform {
    /// e.g. "linux"
    pub os: String,
    /// e.g. "x86_64"
    pub architecture: String,
}

/// Docker's `Placement`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// e.g. `node.role==manager`, `node.labels.zone!=east`; all must match. See `Constraint`.
    pub constraints: Vec<String>,
    /// Spread tasks evenly over the values of a label; later preferences nest inside earlier ones.
    pub preferences: Vec<PlacementPreference>,
    /// Most tasks of this service on one node; 0 means unlimited (Docker's `MaxReplicas`).
    pub max_replicas: u64,
    /// Platforms the image runs on; empty means any.
    pub platforms: Vec<Platform>,
}

impl Placement {
    /// Every constraint parses and every preference spreads over a label.
    pub fn validate(&self) -> Result<(), SpecError> {
        Constraint::parse_all(&self.constraints)?;
        for preference in &self.preferences {
            preference.spread_key()?;
        }
        Ok(())
    }
}

/// Docker's `PlacementPreference`: `--placement-pref spread=node.labels.zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlacementPreference {
    /// Spread over the values of `node.labels.<name>` or `engine.labels.<name>`.
    Spread { spread_descriptor: String },
}

impl PlacementPreference {
    /// Parses the CLI form `spread=node.labels.zone`, with Docker's CLI errors.
    pub fn parse(text: &str) -> Result<PlacementPreference, SpecError> {
        let invalid = |problem| SpecError::InvalidPlacementPreference { preference: text.to_string(), problem };
        let (strategy, argument) = text.split_once('=').ok_or_else(|| invalid(PreferenceProblem::MissingStrategy))?;
        if !strategy.eq_ignore_ascii_case("spread") {
            return Err(invalid(PreferenceProblem::UnsupportedStrategy { strategy: strategy.to_string() }));
        }
        let preference = PlacementPreference::Spread { spread_descriptor: argument.to_string() };
        preference.spread_key()?;
        Ok(preference)
    }

    /// The label this preference spreads over (`ConstraintKey::NodeLabel` or `ConstraintKey::EngineLabel`).
    pub fn spread_key(&self) -> Result<ConstraintKey, SpecError> {
        let PlacementPreference::Spread { spread_descriptor } = self;
        match ConstraintKey::parse(spread_descriptor.trim()) {
            Some(key @ (ConstraintKey::NodeLabel(_) | ConstraintKey::EngineLabel(_))) => Ok(key),
            _ => Err(SpecError::InvalidPlacementPreference {
                preference: self.to_string(),
                problem: PreferenceProblem::InvalidSpreadDescriptor { descriptor: spread_descriptor.clone() },
            }),
        }
    }
}

impl fmt::Display for PlacementPreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PlacementPreference::Spread { spread_descriptor } = self;
        write!(f, "spread={spread_descriptor}")
    }
}

/// What a constraint compares (SwarmKit's constraint keys).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConstraintKey {
    NodeId,
    NodeHostname,
    /// `manager` or `worker` (the node's spec role).
    NodeRole,
    NodePlatformOs,
    NodePlatformArch,
    /// `node.labels.<name>`: a label set with `node update --label-add`. The name is case-sensitive.
    NodeLabel(String),
    /// `engine.labels.<name>`: a label of the node's Docker Engine. The name is case-sensitive.
    EngineLabel(String),
}

impl ConstraintKey {
    const NODE_LABEL_PREFIX: &'static str = "node.labels.";
    const ENGINE_LABEL_PREFIX: &'static str = "engine.labels.";

    /// The key for `text` (prefixes case-insensitive, label names kept as written); `None` if unknown.
    pub fn parse(text: &str) -> Option<ConstraintKey> {
        let label = |prefix: &str| {
            let head = text.get(..prefix.len())?;
            (text.len() > prefix.len() && head.eq_ignore_ascii_case(prefix)).then(|| text[prefix.len()..].to_string())
        };
        let key = match text.to_ascii_lowercase().as_str() {
            "node.id" => ConstraintKey::NodeId,
            "node.hostname" => ConstraintKey::NodeHostname,
            "node.role" => ConstraintKey::NodeRole,
            "node.platform.os" => ConstraintKey::NodePlatformOs,
            "node.platform.arch" => ConstraintKey::NodePlatformArch,
            _ => {
                if let Some(name) = label(Self::NODE_LABEL_PREFIX) {
                    ConstraintKey::NodeLabel(name)
                } else {
                    ConstraintKey::EngineLabel(label(Self::ENGINE_LABEL_PREFIX)?)
                }
            }
        };
        Some(key)
    }
}

impl fmt::Display for ConstraintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstraintKey::NodeId => f.write_str("node.id"),
            ConstraintKey::NodeHostname => f.write_str("node.hostname"),
            ConstraintKey::NodeRole => f.write_str("node.role"),
            ConstraintKey::NodePlatformOs => f.write_str("node.platform.os"),
            ConstraintKey::NodePlatformArch => f.write_str("node.platform.arch"),
            ConstraintKey::NodeLabel(name) => write!(f, "{}{name}", Self::NODE_LABEL_PREFIX),
            ConstraintKey::EngineLabel(name) => write!(f, "{}{name}", Self::ENGINE_LABEL_PREFIX),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConstraintOperator {
    /// `==`
    Eq,
    /// `!=`
    NotEq,
}

impl ConstraintOperator {
    pub const fn as_str(self) -> &'static str {
        match self {
            ConstraintOperator::Eq => "==",
            ConstraintOperator::NotEq => "!=",
        }
    }
}

/// A parsed placement constraint, `key op value`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Constraint {
    pub key: ConstraintKey,
    pub operator: ConstraintOperator,
    pub value: String,
}

impl Constraint {
    /// Parses `node.labels.zone==east` as SwarmKit does: the first `==` (else the first `!=`) splits key from
    /// value, both trimmed; keys are checked against SwarmKit's syntax and must be known; values against
    /// SwarmKit's character set; `node.role` must compare with `manager` or `worker` (any case).
    pub fn parse(text: &str) -> Result<Constraint, SpecError> {
        let invalid = |problem| SpecError::InvalidConstraint { constraint: text.to_string(), problem };
        let (key, operator, value) = if let Some((key, value)) = text.split_once("==") {
            (key, ConstraintOperator::Eq, value)
        } else if let Some((key, value)) = text.split_once("!=") {
            (key, ConstraintOperator::NotEq, value)
        } else {
            return Err(invalid(ConstraintProblem::MissingOperator));
        };
        let (key_text, value) = (key.trim(), value.trim());
        if !key_syntax_is_valid(key_text) {
            return Err(invalid(ConstraintProblem::InvalidKey { key: key_text.to_string() }));
        }
        if !value_syntax_is_valid(value) {
            return Err(invalid(ConstraintProblem::InvalidValue { value: value.to_string() }));
        }
        let key = ConstraintKey::parse(key_text)
            .ok_or_else(|| invalid(ConstraintProblem::UnknownKey { key: key_text.to_string() }))?;
        if key == ConstraintKey::NodeRole
            && !value.eq_ignore_ascii_case("manager")
            && !value.eq_ignore_ascii_case("worker")
        {
            return Err(invalid(ConstraintProblem::InvalidRole { value: value.to_string() }));
        }
        Ok(Constraint { key, operator, value: value.to_string() })
    }

    /// Parses every constraint; the first error wins.
    pub fn parse_all(texts: &[String]) -> Result<Vec<Constraint>, SpecError> {
        texts.iter().map(|text| Constraint::parse(text)).collect()
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.key, self.operator.as_str(), self.value)
    }
}

impl FromStr for Constraint {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        Constraint::parse(text)
    }
}

/// SwarmKit's key pattern `^(?i)[a-z_][a-z0-9\-_.]+$`.
fn key_syntax_is_valid(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() >= 2
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes[1..].iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// SwarmKit's value pattern `^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$`.
fn value_syntax_is_valid(value: &str) -> bool {
    !value.is_empty()
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || c.is_ascii_whitespace()
                || matches!(
                    c,
                    ':' | '-' | '_' | '.' | '*' | '(' | ')' | '?' | '+' | '[' | ']' | '\\' | '^' | '$' | '|' | '/'
                )
        })
}
