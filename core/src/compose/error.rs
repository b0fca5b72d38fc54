//! Errors and warnings of the compose loader. It owns the rule the issue sets: every error names the file, the
//! line and column, and the key path (`stack.yml:12:19: services.web.deploy.replicas: expected an integer, found
//! "three"`), so a user can go straight to the spot. Warnings are what Docker prints and carries on with.

use std::fmt;

/// A line and column in one compose file, both counted from 1 (0 when a value has no place in a file, e.g. one
/// produced by merging).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl Position {
    pub const fn new(line: u32, column: u32) -> Self {
        Position { line, column }
    }

    /// The start of a file, for problems with the whole file (too large, empty, not a mapping).
    pub const START: Position = Position { line: 1, column: 1 };
}

/// A refused compose file: where, which key, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ComposeError {
    /// The file name as the user gave it (`-c stack.yml`), or the env file's path for env-file problems.
    pub file: String,
    pub position: Position,
    /// Dotted key path from the top of the file, list items as `[i]` (`services.web.ports[0]`); empty for the
    /// whole file.
    pub path: String,
    pub message: String,
}

impl ComposeError {
    pub fn new(file: &str, position: Position, path: &str, message: impl Into<String>) -> Self {
        ComposeError { file: file.to_owned(), position, path: path.to_owned(), message: message.into() }
    }
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.position.line, self.position.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Something Docker accepts with a warning; `stack deploy` prints these and goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// Service keys Swarm does not honour (`build`, `privileged`, ...), sorted: Docker's
    /// `Ignoring unsupported options: build, privileged`.
    UnsupportedOptions(Vec<String>),
    /// Keys removed from the v3 format (`container_name`, `expose`) with Docker's explanation of each.
    DeprecatedOptions(Vec<(String, &'static str)>),
    /// `external: {name: x}` in a file of a version that has `name:` (`network ext: network.external.name is
    /// deprecated in favor of network.name`).
    ExternalNameDeprecated { kind: &'static str, name: String },
    /// A host IP in a short port syntax: Swarm listens on every address.
    PortHostIpIgnored { spec: String },
    /// `~` in a bind source without `HOME` in the environment: the path is kept as written.
    HomeUnset { source: String },
    /// A key Docker's schema lets through without meaning (under `build:`, a mount's options, a secret
    /// reference): kept out of the model.
    IgnoredKey { file: String, position: Position, path: String },
    /// Variables used without a default and not set; they expand to the empty string.
    VariablesNotSet(Vec<String>),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnsupportedOptions(keys) => write!(f, "Ignoring unsupported options: {}", keys.join(", ")),
            Warning::DeprecatedOptions(keys) => {
                f.write_str("Ignoring deprecated options:\n")?;
                for (key, why) in keys {
                    write!(f, "\n{key}: {why}")?;
                }
                Ok(())
            }
            Warning::ExternalNameDeprecated { kind, name } => {
                write!(f, "{kind} {name}: {kind}.external.name is deprecated in favor of {kind}.name")
            }
            Warning::PortHostIpIgnored { spec } => {
                write!(f, "ignoring IP-address ({spec}) service will listen on '0.0.0.0'")
            }
            Warning::HomeUnset { source } => {
                write!(f, "cannot expand '~' in {source:?}, because the environment lacks HOME")
            }
            Warning::IgnoredKey { file, position, path } => {
                write!(f, "{file}:{}:{}: {path}: unknown key ignored", position.line, position.column)
            }
            Warning::VariablesNotSet(names) => {
                let list: Vec<String> = names.iter().map(|name| format!("{name:?}")).collect();
                let (noun, verb) = if names.len() == 1 { ("variable", "is") } else { ("variables", "are") };
                write!(f, "The {} {noun} {verb} not set. Defaulting to a blank string.", list.join(", "))
            }
        }
    }
}
