//! What every stored object carries: its `Version` (Docker's `Version.Index`, bumped by one on every change; an
//! update based on another version is "out of sequence"), the caller's `Timestamp`s, and the `ObjectKind` that
//! outcomes and rejections name it by. Every stored object keeps `version >= Version::INITIAL` and
//! `created_at <= updated_at`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Milliseconds since the UNIX epoch. Always supplied by the caller (the leader's clock at proposal time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const fn from_millis(millis: u64) -> Self {
        Timestamp(millis)
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// An object's version (Docker's `Version.Index`): 1 at creation, bumped by one on every change. Updates carry the
/// version they were based on; a mismatch is rejected as "update out of sequence".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version(pub u64);

impl Version {
    pub const INITIAL: Version = Version(1);

    /// The version after one more change.
    pub const fn next(self) -> Version {
        Version(self.0.saturating_add(1))
    }
}

impl Default for Version {
    fn default() -> Self {
        Version::INITIAL
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The kinds of objects the store holds; used in outcomes and rejection messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    Cluster,
    Node,
    Service,
    Task,
    Network,
    Secret,
    Config,
}

impl ObjectKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Cluster => "cluster",
            ObjectKind::Node => "node",
            ObjectKind::Service => "service",
            ObjectKind::Task => "task",
            ObjectKind::Network => "network",
            ObjectKind::Secret => "secret",
            ObjectKind::Config => "config",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
