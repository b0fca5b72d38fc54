//! Why a stack cannot be deployed as written: `StackError`. It keeps the loader's promise after loading: every
//! problem that comes from the file names where (`stack.yml:12:5: services.web.secrets: not supported yet`), found
//! through the loader's recorded positions (`Place::of`: the key's own, else its nearest recorded ancestor's, so a
//! key the loader did not record still points at the right block).

use std::fmt;

use crate::compose::{Loaded, Position};
use crate::spec::SpecError;

/// A key path in the stack files and, when the loader recorded it (or an ancestor), the file and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Dotted key path from the top of the files, list items as `[i]` (`services.web.volumes[0].bind`).
    pub key_path: String,
    /// The file that defined the key (the last one that did), with the position; `None` when nothing on the key's
    /// path was recorded (a hand-built `Loaded`).
    pub at: Option<(String, Position)>,
}

impl Place {
    /// Where `key_path` is: its own recorded position, else that of its nearest recorded ancestor.
    pub fn of(loaded: &Loaded, key_path: &str) -> Place {
        let mut candidate = key_path;
        let at = loop {
            if let Some(found) = loaded.positions.get(candidate) {
                break Some(found.clone());
            }
            match candidate.rfind(['.', '[']) {
                Some(cut) if cut > 0 => candidate = &candidate[..cut],
                _ => break None,
            }
        };
        Place { key_path: key_path.to_owned(), at }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((file, position)) = &self.at {
            write!(f, "{file}:{}:{}: ", position.line, position.column)?;
        }
        f.write_str(&self.key_path)
    }
}

/// Why a stack cannot be deployed as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// Docker's check of a stack name (empty once quotes and white space are trimmed), in Docker's words.
    #[error("invalid stack name: {}", go_quote(.name))]
    InvalidStackName { name: String },
    /// A key Docker maps onto the cluster's objects whose target the spec does not have yet (`secrets`,
    /// `cap_add`, ...): refused rather than silently dropped. The keys are listed in `unsupported::UNSUPPORTED`;
    /// `key_path` is `place.key_path`, kept beside it for matching.
    #[error("{place}: not supported yet")]
    Unsupported { key_path: String, place: Place },
    /// A value the conversion cannot turn into the cluster's objects (a port without a published port, a negative
    /// duration, an unknown restart policy, an IPv6 subnet, ...).
    #[error("{place}: {message}")]
    Invalid { place: Place, message: String },
    /// A converted service spec that `ServiceSpec::validate` refuses, placed at the key the problem comes from.
    #[error("{place}: {source}")]
    Spec { service: String, place: Place, source: Box<SpecError> },
    /// Two networks of the stack would have the same name on the cluster.
    #[error("{place}: network name {name:?} is also used by {other}")]
    DuplicateNetworkName { name: String, place: Place, other: String },
    /// A dependency on a service the stack does not have (the loader refuses these in files; a plan built by hand
    /// can still hold one).
    #[error("service {service:?} depends on undefined service {dependency:?}")]
    UnknownDependency { service: String, dependency: String },
    /// Services that depend on each other in a circle, named in order (`web -> api -> web`).
    #[error("dependency cycle: {}", .cycle.join(" -> "))]
    DependencyCycle { cycle: Vec<String> },
}

impl StackError {
    pub(crate) fn unsupported(loaded: &Loaded, key_path: String) -> StackError {
        let place = Place::of(loaded, &key_path);
        StackError::Unsupported { key_path, place }
    }

    pub(crate) fn invalid(loaded: &Loaded, key_path: &str, message: impl Into<String>) -> StackError {
        StackError::Invalid { place: Place::of(loaded, key_path), message: message.into() }
    }

    /// The key path the problem is at, when it comes from the files.
    pub fn key_path(&self) -> Option<&str> {
        match self {
            StackError::Unsupported { place, .. }
            | StackError::Invalid { place, .. }
            | StackError::Spec { place, .. }
            | StackError::DuplicateNetworkName { place, .. } => Some(&place.key_path),
            StackError::InvalidStackName { .. }
            | StackError::UnknownDependency { .. }
            | StackError::DependencyCycle { .. } => None,
        }
    }
}

/// Go's `%q` for the characters a stack name can hold: Go's escapes for quotes, backslashes and control characters,
/// `\uXXXX` for other white space (Go does not print it), everything else as is.
fn go_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_matches_go() {
        let cases = [
            ("'   '", r#""'   '""#),
            ("", r#""""#),
            ("\t\n\u{b}", r#""\t\n\v""#),
            ("a\"b\\", r#""a\"b\\""#),
            ("\u{0}\u{7f}", r#""\x00\x7f""#),
            ("\u{a0}\u{85}\u{3000}", r#""\u00a0\u0085\u3000""#),
            ("é", "\"é\""),
        ];
        for (text, expected) in cases {
            assert_eq!(go_quote(text), expected, "{text:?}");
        }
    }
}
