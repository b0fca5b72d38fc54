//! Docker's `SecretReference` and `ConfigReference`: which secret or config a task's container gets, and as which
//! file (`FileTarget`: its name or path in the container, owner and mode), with Docker's defaults and the parsing
//! of `--secret`/`--config` values (`src[,target=…,uid=…,gid=…,mode=…]`). The invariant `validate` keeps: a
//! reference names its object, its target is a file path that cannot climb out of where it is mounted, and no two
//! references of a container share a target. Which object a name means (and its id) is the store's to decide.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::SpecError;

/// Docker's default mode of a secret or config file: readable by all (`0444`).
pub const DEFAULT_FILE_MODE: u32 = 0o444;
/// Where a secret's relative target is mounted in the container (Docker's `/run/secrets`).
pub const SECRETS_DIR: &str = "/run/secrets";

/// The file a secret or config becomes in the container (Docker's `SecretReferenceFileTarget`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTarget {
    /// For a secret: a name under `/run/secrets` (or an absolute path); for a config: a path in the container
    /// (relative ones are taken from `/`).
    pub name: String,
    /// The file's owner, a numeric user id as text ("0" by default, as Docker's).
    pub uid: String,
    /// The file's group, a numeric group id as text.
    pub gid: String,
    /// Permission bits (`0444` by default).
    pub mode: u32,
}

/// Docker's `SecretReference`: a secret of the store given to the task's container as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretReference {
    /// Filled in by the manager from the name when the CLI sent none.
    pub secret_id: String,
    pub secret_name: String,
    pub file: FileTarget,
}

/// Docker's `ConfigReference`: a config of the store given to the task's container as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigReference {
    /// Filled in by the manager from the name when the CLI sent none.
    pub config_id: String,
    pub config_name: String,
    pub file: FileTarget,
}

/// Secrets or configs: the words messages use for either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Secret,
    Config,
}

impl FileKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            FileKind::Secret => "secret",
            FileKind::Config => "config",
        }
    }
}

impl FileTarget {
    /// Docker's defaults for an object called `source`: the same name, root-owned, mode `0444`.
    pub fn default_for(source: &str) -> FileTarget {
        FileTarget { name: source.to_string(), uid: "0".to_string(), gid: "0".to_string(), mode: DEFAULT_FILE_MODE }
    }

    /// The absolute path of this file in the container: a secret's relative name is under `/run/secrets`, a
    /// config's under `/`.
    pub fn container_path(&self, kind: FileKind) -> String {
        if self.name.starts_with('/') {
            return self.name.clone();
        }
        match kind {
            FileKind::Secret => format!("{SECRETS_DIR}/{}", self.name),
            FileKind::Config => format!("/{}", self.name),
        }
    }

    fn validate(&self, kind: FileKind, source: &str) -> Result<(), SpecError> {
        let invalid = |reason: &str| SpecError::InvalidFileReference {
            kind: kind.as_str().to_string(),
            object: source.to_string(),
            reason: reason.to_string(),
        };
        if self.name.is_empty() {
            return Err(invalid("the target must not be empty"));
        }
        if self.name.ends_with('/') || self.name.split('/').any(|part| part == ".." || part == ".") {
            return Err(invalid("the target must be a file path without \".\" or \"..\" components"));
        }
        if self.name.bytes().any(|byte| byte == 0 || byte == b',') {
            return Err(invalid("the target must not contain NUL or ','"));
        }
        for (field, value) in [("uid", &self.uid), ("gid", &self.gid)] {
            if value.is_empty() || value.parse::<u32>().is_err() {
                return Err(invalid(&format!("{field} must be a number, not \"{value}\"")));
            }
        }
        if self.mode > 0o777 {
            return Err(invalid(&format!("mode {:o} is not a file permission (at most 0777)", self.mode)));
        }
        Ok(())
    }
}

impl SecretReference {
    /// The reference `--secret VALUE` describes (`src[,target=…,uid=…,gid=…,mode=…]`), by name.
    pub fn from_flag(value: &str) -> Result<SecretReference, SpecError> {
        let (secret_name, file) = parse_flag(FileKind::Secret, value)?;
        Ok(SecretReference { secret_id: String::new(), secret_name, file })
    }
}

impl ConfigReference {
    /// The reference `--config VALUE` describes (`src[,target=…,uid=…,gid=…,mode=…]`), by name.
    pub fn from_flag(value: &str) -> Result<ConfigReference, SpecError> {
        let (config_name, file) = parse_flag(FileKind::Config, value)?;
        Ok(ConfigReference { config_id: String::new(), config_name, file })
    }
}

/// Docker's `--secret`/`--config` syntax: one bare field is the source; otherwise comma-separated `key=value`
/// fields `source`/`src`, `target`, `uid`, `gid`, `mode` (octal, as `0400`).
fn parse_flag(kind: FileKind, value: &str) -> Result<(String, FileTarget), SpecError> {
    let invalid = |reason: String| SpecError::InvalidFileFlag {
        kind: kind.as_str().to_string(),
        value: value.to_string(),
        reason,
    };
    let fields: Vec<&str> = value.split(',').collect();
    if let [only] = fields.as_slice() {
        if !only.contains('=') {
            if only.is_empty() {
                return Err(invalid("source is required".to_string()));
            }
            return Ok((only.to_string(), FileTarget::default_for(only)));
        }
    }
    let (mut source, mut target, mut uid, mut gid, mut mode) = (None, None, None, None, None);
    for field in fields {
        let Some((key, field_value)) = field.split_once('=') else {
            return Err(invalid(format!("invalid field '{field}' must be a key=value pair")));
        };
        match key.to_ascii_lowercase().as_str() {
            "source" | "src" => source = Some(field_value.to_string()),
            "target" => target = Some(field_value.to_string()),
            "uid" => uid = Some(field_value.to_string()),
            "gid" => gid = Some(field_value.to_string()),
            "mode" => {
                let parsed = parse_mode(field_value)
                    .ok_or_else(|| invalid(format!("invalid mode \"{field_value}\": a number such as 0400")))?;
                mode = Some(parsed);
            }
            _ => return Err(invalid(format!("invalid field key {key}"))),
        }
    }
    let source = source.filter(|source| !source.is_empty()).ok_or_else(|| invalid("source is required".to_string()))?;
    let defaults = FileTarget::default_for(&source);
    let file = FileTarget {
        name: target.unwrap_or(defaults.name),
        uid: uid.unwrap_or(defaults.uid),
        gid: gid.unwrap_or(defaults.gid),
        mode: mode.unwrap_or(defaults.mode),
    };
    Ok((source, file))
}

/// A mode as Docker reads it (Go's `ParseUint(value, 0, 32)`): `0o400` and `0400` octal, `0x1a4` hex, `0b…`
/// binary, anything else decimal (so `292` is 0o444, as in Docker).
fn parse_mode(text: &str) -> Option<u32> {
    let prefixed = |prefixes: [&str; 2]| prefixes.iter().find_map(|prefix| text.strip_prefix(prefix));
    let (digits, radix) = if let Some(rest) = prefixed(["0o", "0O"]) {
        (rest, 8)
    } else if let Some(rest) = prefixed(["0x", "0X"]) {
        (rest, 16)
    } else if let Some(rest) = prefixed(["0b", "0B"]) {
        (rest, 2)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// A container's secret and config references: each names its object and a valid file, and no two share a path
/// in the container (nor a secret and a config).
pub fn validate_file_references(secrets: &[SecretReference], configs: &[ConfigReference]) -> Result<(), SpecError> {
    let mut paths = BTreeSet::new();
    let references = secrets
        .iter()
        .map(|secret| (FileKind::Secret, &secret.secret_name, &secret.file))
        .chain(configs.iter().map(|config| (FileKind::Config, &config.config_name, &config.file)));
    for (kind, source, file) in references {
        if source.is_empty() {
            return Err(SpecError::InvalidFileReference {
                kind: kind.as_str().to_string(),
                object: String::new(),
                reason: format!("a {} reference must name the {}", kind.as_str(), kind.as_str()),
            });
        }
        file.validate(kind, source)?;
        let path = file.container_path(kind);
        if !paths.insert(path.clone()) {
            return Err(SpecError::DuplicateFileTarget { target: path });
        }
    }
    Ok(())
}
