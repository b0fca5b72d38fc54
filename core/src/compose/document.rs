//! Reading one whole compose file: its `version:` (3.0 to 3.13, `3` and absent meaning 3.13, as Docker), its
//! top-level sections and `x-` keys, and the names of everything it defines (letters, digits, `.`, `_`, `-`).
//! It also gathers, per file, the service keys Swarm ignores and the deprecated ones, for Docker's warnings.

use std::collections::BTreeSet;

use super::decode::{join, Decoder};
use super::error::{ComposeError, Position};
use super::keys;
use super::model::ComposeConfig;
use super::yaml::{Entry, Node, Value};

/// The newest v3 schema, which Docker assumes when `version:` is absent or just `3`.
pub const DEFAULT_MINOR: u8 = 13;

/// The file's version as printed and its minor number, or why it cannot be read.
pub fn version_of(file: &str, root: &Node) -> Result<(String, u8), ComposeError> {
    let Value::Map(entries) = &root.value else {
        return Err(ComposeError::new(file, Position::START, "", "top-level object must be a mapping"));
    };
    let Some(entry) = entries.iter().find(|entry| entry.key == "version") else {
        return Ok((format!("3.{DEFAULT_MINOR}"), DEFAULT_MINOR));
    };
    let Value::String(version) = &entry.value.value else {
        return Err(ComposeError::new(
            file,
            entry.value.position,
            "version",
            format!("expected a string (quote it: version: \"3.8\"), found {}", entry.value.value.describe()),
        ));
    };
    if version.is_empty() || version == "3" {
        return Ok((format!("3.{DEFAULT_MINOR}"), DEFAULT_MINOR));
    }
    let minor = version
        .strip_prefix("3.")
        .filter(|minor| {
            !minor.is_empty()
                && minor.bytes().all(|b| b.is_ascii_digit())
                && (minor.len() == 1 || !minor.starts_with('0'))
        })
        .and_then(|minor| minor.parse::<u8>().ok())
        .filter(|minor| *minor <= DEFAULT_MINOR);
    match minor {
        Some(minor) => Ok((version.clone(), minor)),
        None => Err(ComposeError::new(
            file,
            entry.value.position,
            "version",
            format!("unsupported Compose file version: {version} (stacks read versions 3.0 to 3.{DEFAULT_MINOR})"),
        )),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Service keys of one file that Swarm ignores, and the deprecated ones.
pub fn ignored_service_keys(root: &Node) -> (BTreeSet<&'static str>, BTreeSet<&'static str>) {
    let mut unsupported = BTreeSet::new();
    let mut deprecated = BTreeSet::new();
    let Value::Map(entries) = &root.value else { return (unsupported, deprecated) };
    let Some(services) = entries.iter().find(|entry| entry.key == "services") else {
        return (unsupported, deprecated);
    };
    let Value::Map(services) = &services.value.value else { return (unsupported, deprecated) };
    for service in services {
        if let Value::Map(keys) = &service.value.value {
            for entry in keys {
                if let Some(key) = keys::UNSUPPORTED.iter().find(|key| **key == entry.key) {
                    unsupported.insert(*key);
                }
                if let Some((key, _)) = keys::DEPRECATED.iter().find(|(key, _)| *key == entry.key) {
                    deprecated.insert(*key);
                }
            }
        }
    }
    (unsupported, deprecated)
}

impl Decoder<'_> {
    fn named_entries<'n>(&self, entry: &'n Entry, what: &str) -> Result<&'n [Entry], ComposeError> {
        let entries = self.mapping(&entry.value, &entry.key)?;
        for named in entries {
            if !valid_name(&named.key) {
                return Err(self.error(
                    named.key_position,
                    &join(&entry.key, &named.key),
                    format!("invalid {what} name {:?}: use letters, digits, '.', '_' and '-'", named.key),
                ));
            }
        }
        Ok(entries)
    }

    /// The whole file, its `version:` already read into the decoder.
    pub fn document(&mut self, root: &Node) -> Result<ComposeConfig, ComposeError> {
        let entries = self.mapping(root, "")?;
        let mut config = ComposeConfig { version: self.version.clone(), ..ComposeConfig::default() };
        for entry in entries {
            if !self.check_key(entry, "", &keys::TOP_LEVEL)? {
                continue;
            }
            match entry.key.as_str() {
                "version" => {}
                "services" => {
                    for named in self.named_entries(entry, "service")? {
                        let path = join("services", &named.key);
                        self.record(&path, named.key_position);
                        let service = self.service(&named.key, &named.value, &path)?;
                        config.services.insert(named.key.clone(), service);
                    }
                }
                "networks" => {
                    for named in self.named_entries(entry, "network")? {
                        let path = join("networks", &named.key);
                        self.record(&path, named.key_position);
                        let network = self.network(&named.key, &named.value, &path)?;
                        config.networks.insert(named.key.clone(), network);
                    }
                }
                "volumes" => {
                    for named in self.named_entries(entry, "volume")? {
                        let path = join("volumes", &named.key);
                        self.record(&path, named.key_position);
                        let volume = self.volume(&named.key, &named.value, &path)?;
                        config.volumes.insert(named.key.clone(), volume);
                    }
                }
                "secrets" => {
                    for named in self.named_entries(entry, "secret")? {
                        let path = join("secrets", &named.key);
                        self.record(&path, named.key_position);
                        let secret = self.file_object("secret", &named.key, &named.value, &path)?;
                        config.secrets.insert(named.key.clone(), secret);
                    }
                }
                "configs" => {
                    for named in self.named_entries(entry, "config")? {
                        let path = join("configs", &named.key);
                        self.record(&path, named.key_position);
                        let object = self.file_object("config", &named.key, &named.value, &path)?;
                        config.configs.insert(named.key.clone(), object);
                    }
                }
                other => unreachable!("top-level key {other}"),
            }
        }
        config.extensions = self.extensions(entries);
        Ok(config)
    }
}
