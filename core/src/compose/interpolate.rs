//! Variable interpolation in compose values, with Docker's syntax and quirks: `$VAR`, `${VAR}`, `${VAR:-default}`
//! (unset or empty), `${VAR-default}` (unset), `${VAR:?message}` (error if unset or empty), `${VAR?message}` (error
//! if unset), `$$` for a literal `$`; anything else after a `$` is an error. Only string values are interpolated
//! (never keys), and a value that changed is cast back to a number or boolean where Docker's loader does so
//! (`deploy.replicas: ${N}`). It owns the invariant that a variable is looked up only in the environment given.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use super::error::ComposeError;
use super::scalar::{cast_bool, cast_float, cast_int};
use super::yaml::{Node, Value};

/// Why a template could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateError {
    /// A `$` not followed by a name, `{name...}` or `$`.
    InvalidFormat,
    /// `${VAR:?message}` or `${VAR?message}` with the variable missing.
    Required { name: String, message: String },
}

/// One variable reference: the name and the operator text after it (`:-default`, `?message`, ...).
fn substitute_one(
    substitution: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut BTreeSet<String>,
) -> Result<String, TemplateError> {
    // Docker tries these in order, each if its separator occurs anywhere in the text.
    if let Some((name, default)) = substitution.split_once(":-") {
        return Ok(match lookup(name) {
            Some(value) if !value.is_empty() => value,
            _ => default.to_owned(),
        });
    }
    if let Some((name, default)) = substitution.split_once('-') {
        return Ok(lookup(name).unwrap_or_else(|| default.to_owned()));
    }
    if let Some((name, message)) = substitution.split_once(":?") {
        return match lookup(name) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(TemplateError::Required { name: name.to_owned(), message: message.to_owned() }),
        };
    }
    if let Some((name, message)) = substitution.split_once('?') {
        return lookup(name)
            .ok_or_else(|| TemplateError::Required { name: name.to_owned(), message: message.to_owned() });
    }
    Ok(lookup(substitution).unwrap_or_else(|| {
        unset.insert(substitution.to_owned());
        String::new()
    }))
}

fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_name_char(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Length of the `(?::?[-?][^}]*)?` operator after a name starting at `at`, 0 when there is none.
fn operator_len(bytes: &[u8], at: usize) -> usize {
    let mut i = at;
    if bytes.get(i) == Some(&b':') {
        i += 1;
    }
    if !matches!(bytes.get(i), Some(b'-') | Some(b'?')) {
        return 0;
    }
    i += 1;
    while i < bytes.len() && bytes[i] != b'}' {
        i += 1;
    }
    i - at
}

/// Expands every reference in `template`. Variables that are referenced without a default and are unset are
/// added to `unset` (they expand to the empty string, as in Docker).
pub fn substitute(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut BTreeSet<String>,
) -> Result<String, TemplateError> {
    let bytes = template.as_bytes();
    let mut out = String::with_capacity(template.len());
    let mut i = 0;
    let mut literal_start = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&template[literal_start..i]);
        let next = bytes.get(i + 1).copied();
        match next {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b) if is_name_start(b) => {
                let name_end = (i + 2..bytes.len()).find(|&j| !is_name_char(bytes[j])).unwrap_or(bytes.len());
                let end = name_end + operator_len(bytes, name_end);
                out.push_str(&substitute_one(&template[i + 1..end], lookup, unset)?);
                i = end;
            }
            Some(b'{') if bytes.get(i + 2).is_some_and(|&b| is_name_start(b)) => {
                let name_end = (i + 3..bytes.len()).find(|&j| !is_name_char(bytes[j])).unwrap_or(bytes.len());
                let end = name_end + operator_len(bytes, name_end);
                if bytes.get(end) != Some(&b'}') {
                    return Err(TemplateError::InvalidFormat);
                }
                out.push_str(&substitute_one(&template[i + 2..end], lookup, unset)?);
                i = end + 1;
            }
            _ => return Err(TemplateError::InvalidFormat),
        }
        literal_start = i;
    }
    out.push_str(&template[literal_start..]);
    Ok(out)
}

#[derive(Clone, Copy)]
enum Cast {
    Int,
    Float,
    Bool,
}

/// Docker's `interpolateTypeCastMapping`: where an interpolated string becomes a number or boolean. `*` matches
/// any key, `[]` any list item.
const CASTS: &[(&[&str], Cast)] = &[
    (&["services", "*", "configs", "[]", "mode"], Cast::Int),
    (&["services", "*", "secrets", "[]", "mode"], Cast::Int),
    (&["services", "*", "healthcheck", "retries"], Cast::Int),
    (&["services", "*", "healthcheck", "disable"], Cast::Bool),
    (&["services", "*", "deploy", "replicas"], Cast::Int),
    (&["services", "*", "deploy", "update_config", "parallelism"], Cast::Int),
    (&["services", "*", "deploy", "update_config", "max_failure_ratio"], Cast::Float),
    (&["services", "*", "deploy", "rollback_config", "parallelism"], Cast::Int),
    (&["services", "*", "deploy", "rollback_config", "max_failure_ratio"], Cast::Float),
    (&["services", "*", "deploy", "restart_policy", "max_attempts"], Cast::Int),
    (&["services", "*", "deploy", "placement", "max_replicas_per_node"], Cast::Int),
    (&["services", "*", "ports", "[]", "target"], Cast::Int),
    (&["services", "*", "ports", "[]", "published"], Cast::Int),
    (&["services", "*", "ulimits", "*"], Cast::Int),
    (&["services", "*", "ulimits", "*", "hard"], Cast::Int),
    (&["services", "*", "ulimits", "*", "soft"], Cast::Int),
    (&["services", "*", "privileged"], Cast::Bool),
    (&["services", "*", "oom_score_adj"], Cast::Int),
    (&["services", "*", "read_only"], Cast::Bool),
    (&["services", "*", "stdin_open"], Cast::Bool),
    (&["services", "*", "tty"], Cast::Bool),
    (&["services", "*", "volumes", "[]", "read_only"], Cast::Bool),
    (&["services", "*", "volumes", "[]", "volume", "nocopy"], Cast::Bool),
    (&["networks", "*", "external"], Cast::Bool),
    (&["networks", "*", "internal"], Cast::Bool),
    (&["networks", "*", "attachable"], Cast::Bool),
    (&["volumes", "*", "external"], Cast::Bool),
    (&["secrets", "*", "external"], Cast::Bool),
    (&["configs", "*", "external"], Cast::Bool),
];

fn cast_for(path: &[String]) -> Option<Cast> {
    CASTS.iter().find_map(|(pattern, cast)| {
        let matches =
            pattern.len() == path.len() && pattern.iter().zip(path).all(|(want, have)| *want == "*" || want == have);
        matches.then_some(*cast)
    })
}

/// Interpolation of a whole file's tree.
pub struct Interpolation<'a> {
    pub file: &'a str,
    pub environment: &'a BTreeMap<String, String>,
    /// Variables used without a default and not set, for a warning.
    pub unset: BTreeSet<String>,
}

impl Interpolation<'_> {
    /// Interpolates every string value under `node` in place.
    pub fn run(&mut self, node: &mut Node) -> Result<(), ComposeError> {
        let mut segments = Vec::new();
        self.walk(node, &mut segments, &mut String::new())
    }

    fn walk(
        &mut self,
        node: &mut Node,
        segments: &mut Vec<String>,
        display_path: &mut String,
    ) -> Result<(), ComposeError> {
        match &mut node.value {
            Value::String(text) => {
                if !text.contains('$') {
                    return Ok(());
                }
                let environment = self.environment;
                let lookup = |name: &str| environment.get(name).cloned();
                let expanded = substitute(text, &lookup, &mut self.unset).map_err(|error| {
                    let message = match error {
                        TemplateError::InvalidFormat => format!(
                            "invalid interpolation format in {text:?}: you may need to escape any $ with another $"
                        ),
                        TemplateError::Required { name, message } => {
                            format!("required variable {name} is missing a value: {message}")
                        }
                    };
                    ComposeError::new(self.file, node.position, display_path, message)
                })?;
                if expanded == *text {
                    return Ok(());
                }
                node.value = match cast_for(segments) {
                    None => Value::String(expanded),
                    Some(cast) => {
                        let cast_value = match cast {
                            Cast::Int => cast_int(&expanded).map(Value::Int),
                            Cast::Float => cast_float(&expanded).map(Value::Float),
                            Cast::Bool => cast_bool(&expanded).map(Value::Bool),
                        };
                        let kind = match cast {
                            Cast::Int => "an integer",
                            Cast::Float => "a number",
                            Cast::Bool => "a boolean",
                        };
                        cast_value.ok_or_else(|| {
                            ComposeError::new(
                                self.file,
                                node.position,
                                display_path,
                                format!("expected {kind} after interpolation, found {expanded:?}"),
                            )
                        })?
                    }
                };
                Ok(())
            }
            Value::Seq(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    let saved = display_path.len();
                    display_path.push_str(&format!("[{index}]"));
                    segments.push("[]".to_owned());
                    self.walk(item, segments, display_path)?;
                    segments.pop();
                    display_path.truncate(saved);
                }
                Ok(())
            }
            Value::Map(entries) => {
                for entry in entries.iter_mut() {
                    let saved = display_path.len();
                    if !display_path.is_empty() {
                        display_path.push('.');
                    }
                    display_path.push_str(&entry.key);
                    segments.push(entry.key.clone());
                    self.walk(&mut entry.value, segments, display_path)?;
                    segments.pop();
                    display_path.truncate(saved);
                }
                Ok(())
            }
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => Ok(()),
        }
    }
}
