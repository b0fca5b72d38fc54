//! Networks: the overlay networks services attach to (`network create`), names unique among networks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::{Timestamp, Version};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub spec: NetworkSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Unique among networks.
    pub name: String,
    /// Docker's `DriverConfiguration.Name`; "overlay" by default.
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    /// Driver options, e.g. `encrypted` (`docker network create --opt encrypted`).
    pub options: BTreeMap<String, String>,
}

impl NetworkSpec {
    pub const DEFAULT_DRIVER: &'static str = "overlay";

    /// An overlay network with no labels or options.
    pub fn overlay(name: impl Into<String>) -> NetworkSpec {
        NetworkSpec { name: name.into(), ..NetworkSpec::default() }
    }
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            name: String::new(),
            driver: NetworkSpec::DEFAULT_DRIVER.to_string(),
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
        }
    }
}
