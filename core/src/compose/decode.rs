//! The typed reading of a located YAML tree: one `Decoder` per compose file walks the tree with the key path in
//! hand, so every type error names file, line, column and path (`expected an integer, found "three"`). It owns
//! the checks Docker's JSON schema makes (types, unique list items, keys per version) and the shapes Docker's
//! loader accepts for each field (string or list, list or mapping, ...). Object-specific reading lives in
//! `service`, `deploy` and `objects`.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use super::error::{ComposeError, Position, Warning};
use super::keys::{self, ObjectSpec};
use super::model::{ExtensionValue, Extensions};
use super::scalar::go_format_float;
use super::yaml::go_sprint;
use super::yaml::{Entry, Node, Value};
use super::FileSource;

/// What a file refers to by name, checked against the merged stack once every file is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub kind: ReferenceKind,
    pub name: String,
    /// The service that refers (for dependencies, the dependent).
    pub service: String,
    pub file: String,
    pub position: Position,
    pub path: String,
    /// For dependencies: `required: false` tolerates a missing service.
    pub required: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReferenceKind {
    Network,
    Volume,
    Secret,
    Config,
    Service,
}

/// The most ports one file's `ports` lists may give once ranges are expanded, all services together: the whole
/// port range twice over, so any real file fits, while a hostile one cannot turn a few bytes per item into millions
/// of ports.
pub const EXPANDED_PORTS_MAX: usize = 2 * 65_536;

/// Reads one file's tree.
pub struct Decoder<'a> {
    pub file: &'a str,
    /// The `3.x` minor version of the file (13 when `version:` is absent).
    pub minor: u8,
    pub version: String,
    pub working_dir: &'a str,
    pub environment: &'a BTreeMap<String, String>,
    pub files: &'a dyn FileSource,
    pub warnings: Vec<Warning>,
    pub references: Vec<Reference>,
    /// Where each service, network, volume, secret and config, each known key, and each item of a service's
    /// `ports`, `volumes` and `networks`, is defined.
    pub positions: BTreeMap<String, (String, Position)>,
    /// Ports given so far by the file's `ports` lists, ranges expanded; at most [`EXPANDED_PORTS_MAX`].
    pub expanded_ports: usize,
}

/// `parent.key`, or `key` at the top.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Position-blind equality, for "unique items" checks.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(&p.value, &q.value))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|e| y.iter().any(|f| f.key == e.key && same_value(&e.value.value, &f.value.value)))
        }
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => *i as f64 == *f,
        _ => a == b,
    }
}

/// A hash that agrees with [`same_value`]: values it calls the same hash alike (an integer and the float equal to
/// it, mappings in any key order), so duplicates are looked up by bucket instead of against every earlier item.
/// `None` for a value holding a NaN anywhere: it equals nothing, so it needs no bucket (all NaNs in one bucket would
/// bring the quadratic scan back).
fn value_fingerprint(value: &Value) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    match value {
        Value::Null => 0u8.hash(&mut hasher),
        Value::Bool(b) => (1u8, b).hash(&mut hasher),
        Value::Int(i) => (2u8, (*i as f64).to_bits()).hash(&mut hasher),
        Value::Float(f) if f.is_nan() => return None,
        Value::Float(f) => (2u8, if *f == 0.0 { 0 } else { f.to_bits() }).hash(&mut hasher),
        Value::String(text) => (3u8, text).hash(&mut hasher),
        Value::Seq(items) => {
            4u8.hash(&mut hasher);
            for node in items {
                value_fingerprint(&node.value)?.hash(&mut hasher);
            }
        }
        Value::Map(entries) => {
            let mut sum = 0u64;
            for entry in entries {
                let mut one = DefaultHasher::new();
                (&entry.key, value_fingerprint(&entry.value.value)?).hash(&mut one);
                sum = sum.wrapping_add(one.finish());
            }
            (5u8, entries.len(), sum).hash(&mut hasher);
        }
    }
    Some(hasher.finish())
}

impl Decoder<'_> {
    pub fn error(&self, position: Position, path: &str, message: impl Into<String>) -> ComposeError {
        ComposeError::new(self.file, position, path, message)
    }

    fn expected(&self, node: &Node, path: &str, what: &str) -> ComposeError {
        self.error(node.position, path, format!("expected {what}, found {}", node.value.describe()))
    }

    /// The entries of a mapping.
    pub fn mapping<'n>(&self, node: &'n Node, path: &str) -> Result<&'n [Entry], ComposeError> {
        match &node.value {
            Value::Map(entries) => Ok(entries),
            _ => Err(self.expected(node, path, "a mapping")),
        }
    }

    /// The entries of a mapping, or none for null (`networks: {front: }`).
    pub fn mapping_or_null<'n>(&self, node: &'n Node, path: &str) -> Result<&'n [Entry], ComposeError> {
        match &node.value {
            Value::Null => Ok(&[]),
            _ => self.mapping(node, path),
        }
    }

    pub fn sequence<'n>(&self, node: &'n Node, path: &str) -> Result<&'n [Node], ComposeError> {
        match &node.value {
            Value::Seq(items) => Ok(items),
            _ => Err(self.expected(node, path, "a list")),
        }
    }

    pub fn string(&self, node: &Node, path: &str) -> Result<String, ComposeError> {
        match &node.value {
            Value::String(s) => Ok(s.clone()),
            _ => Err(self.expected(node, path, "a string")),
        }
    }

    pub fn boolean(&self, node: &Node, path: &str) -> Result<bool, ComposeError> {
        match &node.value {
            Value::Bool(b) => Ok(*b),
            _ => Err(self.expected(node, path, "a boolean")),
        }
    }

    /// A JSON-schema integer (a whole float such as `3.0` counts).
    pub fn integer(&self, node: &Node, path: &str) -> Result<i64, ComposeError> {
        match &node.value {
            Value::Int(i) => Ok(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
            _ => Err(self.expected(node, path, "an integer")),
        }
    }

    /// A non-negative integer (Docker's unsigned fields).
    pub fn unsigned(&self, node: &Node, path: &str) -> Result<u64, ComposeError> {
        let value = self.integer(node, path)?;
        u64::try_from(value).map_err(|_| self.expected(node, path, "a non-negative integer"))
    }

    /// A JSON-schema number that Docker stores in an unsigned integer (`healthcheck.retries`, `mode`).
    pub fn unsigned_number(&self, node: &Node, path: &str) -> Result<u64, ComposeError> {
        match &node.value {
            Value::Int(_) | Value::Float(_) => self.unsigned(node, path),
            _ => Err(self.expected(node, path, "a number")),
        }
    }

    pub fn number(&self, node: &Node, path: &str) -> Result<f64, ComposeError> {
        match &node.value {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            _ => Err(self.expected(node, path, "a number")),
        }
    }

    pub fn duration(&self, node: &Node, path: &str) -> Result<super::duration::Duration, ComposeError> {
        let text = self.string(node, path)?;
        super::duration::Duration::parse(&text)
            .map_err(|why| self.error(node.position, path, format!("invalid duration {text:?}: {why}")))
    }

    /// A string that must be one of an enum's spellings.
    pub fn enumeration<T: Copy>(&self, node: &Node, path: &str, all: &[(&'static str, T)]) -> Result<T, ComposeError> {
        let text = self.string(node, path)?;
        super::model::parse_enum(all, &text).ok_or_else(|| {
            let names: Vec<String> = all.iter().map(|(name, _)| format!("{name:?}")).collect();
            let hint = keys::did_you_mean(&text, all.iter().map(|(name, _)| *name))
                .map(|close| format!(" (did you mean {close:?}?)"))
                .unwrap_or_default();
            self.error(node.position, path, format!("expected one of {}, found {text:?}{hint}", names.join(", ")))
        })
    }

    /// Refuses repeated items, as the schema's `uniqueItems` does.
    pub fn unique(&self, items: &[Node], path: &str) -> Result<(), ComposeError> {
        let mut earlier_by_fingerprint: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (index, node) in items.iter().enumerate() {
            let Some(fingerprint) = value_fingerprint(&node.value) else { continue };
            let bucket = earlier_by_fingerprint.entry(fingerprint).or_default();
            let first = bucket.iter().copied().find(|earlier| same_value(&items[*earlier].value, &node.value));
            bucket.push(index);
            if let Some(first) = first {
                return Err(self.error(
                    node.position,
                    &item(path, index),
                    format!("duplicate item {} (already at {})", node.value.describe(), item(path, first)),
                ));
            }
        }
        Ok(())
    }

    /// A list of distinct strings.
    pub fn string_list(&self, node: &Node, path: &str) -> Result<Vec<String>, ComposeError> {
        let items = self.sequence(node, path)?;
        let strings = items
            .iter()
            .enumerate()
            .map(|(index, item_node)| self.string(item_node, &item(path, index)))
            .collect::<Result<Vec<_>, _>>()?;
        self.unique(items, path)?;
        Ok(strings)
    }

    /// One string or a list of distinct strings (`dns: 8.8.8.8`).
    pub fn string_or_list(&self, node: &Node, path: &str) -> Result<Vec<String>, ComposeError> {
        match &node.value {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Seq(_) => self.string_list(node, path),
            _ => Err(self.expected(node, path, "a string or a list of strings")),
        }
    }

    /// A list of distinct strings or numbers, kept as text (`expose`).
    pub fn string_or_number_list(&self, node: &Node, path: &str) -> Result<Vec<String>, ComposeError> {
        let items = self.sequence(node, path)?;
        let mut out = Vec::with_capacity(items.len());
        for (index, item_node) in items.iter().enumerate() {
            match &item_node.value {
                Value::String(_) | Value::Int(_) | Value::Float(_) => {
                    out.push(go_sprint(&item_node.value).unwrap_or_default())
                }
                _ => return Err(self.expected(item_node, &item(path, index), "a string or a number")),
            }
        }
        self.unique(items, path)?;
        // `"8001"` and `8001` are distinct items but one text: printed back (`stack config`), they would repeat.
        let mut first_index: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, text) in out.iter().enumerate() {
            if let Some(first) = first_index.insert(text, index) {
                return Err(self.error(
                    items[index].position,
                    &item(path, index),
                    format!("duplicate item {text:?} once written as text (already at {})", item(path, first)),
                ));
            }
        }
        Ok(out)
    }

    /// Docker's `list_or_dict`: a mapping of string/number/null values, or a list of distinct `KEY[=value]`
    /// strings. A key without a value is `None`.
    pub fn list_or_dict(&self, node: &Node, path: &str) -> Result<Vec<(String, Option<String>)>, ComposeError> {
        match &node.value {
            Value::Map(entries) => entries
                .iter()
                .map(|entry| {
                    let value_path = join(path, &entry.key);
                    match &entry.value.value {
                        Value::Null => Ok((entry.key.clone(), None)),
                        Value::String(_) | Value::Int(_) | Value::Float(_) => {
                            Ok((entry.key.clone(), go_sprint(&entry.value.value)))
                        }
                        _ => Err(self.expected(&entry.value, &value_path, "a string, number or null")),
                    }
                })
                .collect(),
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item_node) in items.iter().enumerate() {
                    let text = self.string(item_node, &item(path, index))?;
                    match text.split_once('=') {
                        Some((key, value)) => out.push((key.to_owned(), Some(value.to_owned()))),
                        None => out.push((text, None)),
                    }
                }
                self.unique(items, path)?;
                Ok(out)
            }
            _ => Err(self.expected(node, path, "a mapping or a list of KEY=value strings")),
        }
    }

    /// `list_or_dict` where a missing value is the empty string (labels, sysctls); later keys win.
    pub fn string_mapping(&self, node: &Node, path: &str) -> Result<BTreeMap<String, String>, ComposeError> {
        Ok(self.list_or_dict(node, path)?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
    }

    /// A mapping whose values are strings or numbers (`driver_opts`); with `allow_null`, null is "".
    pub fn scalar_mapping(
        &self,
        node: &Node,
        path: &str,
        allow_null: bool,
    ) -> Result<BTreeMap<String, String>, ComposeError> {
        let entries = self.mapping(node, path)?;
        let mut out = BTreeMap::new();
        for entry in entries {
            let value = match &entry.value.value {
                Value::String(_) | Value::Int(_) | Value::Float(_) => go_sprint(&entry.value.value).unwrap_or_default(),
                Value::Null if allow_null => String::new(),
                _ => {
                    let what = if allow_null { "a string, number or null" } else { "a string or a number" };
                    return Err(self.expected(&entry.value, &join(path, &entry.key), what));
                }
            };
            out.insert(entry.key.clone(), value);
        }
        Ok(out)
    }

    /// Checks a key against an object's table for this file's version. `Ok(true)` for a known key to read (its
    /// position recorded), `Ok(false)` for a key to skip (an `x-` extension, or an unknown key of an open object).
    pub fn check_key(&mut self, entry: &Entry, path: &str, spec: &ObjectSpec) -> Result<bool, ComposeError> {
        let key = entry.key.as_str();
        let key_path = join(path, key);
        if let Some(since) = spec.since(key) {
            if since > self.minor {
                return Err(self.error(
                    entry.key_position,
                    &key_path,
                    format!(
                        "{key:?} needs compose file version 3.{since} or later (this file is version {})",
                        self.version
                    ),
                ));
            }
            self.record(&key_path, entry.key_position);
            return Ok(true);
        }
        if key.starts_with("x-") {
            return match spec.extensions_since {
                Some(since) if since <= self.minor => Ok(false),
                Some(since) => Err(self.error(
                    entry.key_position,
                    &key_path,
                    format!(
                        "extension keys (x-...) need compose file version 3.{since} or later here (this file is \
                         version {})",
                        self.version
                    ),
                )),
                None => Err(self.error(entry.key_position, &key_path, "extension keys (x-...) are not allowed here")),
            };
        }
        if spec.open {
            self.warnings.push(Warning::IgnoredKey {
                file: self.file.to_owned(),
                position: entry.key_position,
                path: key_path,
            });
            return Ok(false);
        }
        let known = spec.keys.iter().filter(|(_, since)| *since <= self.minor).map(|(name, _)| *name);
        let message = match keys::did_you_mean(key, known) {
            Some(close) => format!("unknown key {key:?} (did you mean {close:?}?)"),
            None => {
                if spec.compose_spec_hint && keys::is_compose_spec_only(key) {
                    format!(
                        "{key:?} is a Compose Specification key that version 3 stack files cannot hold (Docker's \
                         stack deploy refuses it too)"
                    )
                } else {
                    format!("unknown key {key:?}")
                }
            }
        };
        Err(self.error(entry.key_position, &key_path, message))
    }

    /// The `x-` entries of a mapping, as extension values.
    pub fn extensions(&self, entries: &[Entry]) -> Extensions {
        entries
            .iter()
            .filter(|entry| entry.key.starts_with("x-"))
            .map(|entry| (entry.key.clone(), extension_value(&entry.value)))
            .collect()
    }

    /// Makes a relative path absolute against the first file's directory, as Go's `filepath.Join` does.
    pub fn absolute(&self, path: &str) -> String {
        if path.starts_with('/') {
            return path.to_owned();
        }
        clean_path(&format!("{}/{}", self.working_dir, path))
    }

    pub fn record(&mut self, path: &str, position: Position) {
        self.positions.insert(path.to_owned(), (self.file.to_owned(), position));
    }
}

/// An `x-` value as written.
pub fn extension_value(node: &Node) -> ExtensionValue {
    match &node.value {
        Value::Null => ExtensionValue::Null,
        Value::Bool(b) => ExtensionValue::Bool(*b),
        Value::Int(i) => ExtensionValue::Int(*i),
        Value::Float(f) => ExtensionValue::Float(*f),
        Value::String(s) => ExtensionValue::String(s.clone()),
        Value::Seq(items) => ExtensionValue::Seq(items.iter().map(extension_value).collect()),
        Value::Map(entries) => ExtensionValue::Map(
            entries.iter().map(|entry| (entry.key.clone(), extension_value(&entry.value))).collect(),
        ),
    }
}

/// Go's `filepath.Clean` for slash-separated paths: no `.` segments, `..` resolved lexically, no repeated or
/// trailing slashes.
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Whether a path is absolute for Windows (`C:\x`, `C:/x`, `\\server\share`), which Docker leaves alone too.
pub fn is_windows_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && matches!(bytes[2], b'\\' | b'/') {
        return true;
    }
    path.starts_with("\\\\")
}

/// Text for a float in messages and maps.
pub fn float_text(f: f64) -> String {
    go_format_float(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(value: Value) -> Node {
        Node { position: Position { line: 1, column: 1 }, value }
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(key, value)| Entry {
                    key: key.to_string(),
                    key_position: Position { line: 1, column: 1 },
                    value: node(value.clone()),
                })
                .collect(),
        )
    }

    /// Pairs `same_value` calls equal must share a fingerprint, or `unique` would miss the repeat.
    #[test]
    fn values_that_are_the_same_share_a_fingerprint() {
        let big = (1i64 << 53) + 1;
        let pairs = [
            (Value::Int(0), Value::Float(0.0)),
            (Value::Int(0), Value::Float(-0.0)),
            (Value::Int(3), Value::Float(3.0)),
            (Value::Int(big), Value::Float(big as f64)),
            (
                map(&[("a", Value::Int(1)), ("b", Value::Int(2))]),
                map(&[("b", Value::Float(2.0)), ("a", Value::Int(1))]),
            ),
            (
                Value::Seq(vec![node(Value::Int(1)), node(map(&[]))]),
                Value::Seq(vec![node(Value::Float(1.0)), node(map(&[]))]),
            ),
        ];
        for (a, b) in pairs {
            assert!(same_value(&a, &b), "{a:?} vs {b:?}");
            assert_eq!(value_fingerprint(&a), value_fingerprint(&b), "{a:?} vs {b:?}");
            assert!(value_fingerprint(&a).is_some());
        }
        assert_eq!(value_fingerprint(&Value::Seq(vec![node(Value::Float(f64::NAN))])), None);
        assert_ne!(value_fingerprint(&Value::String("1".into())), value_fingerprint(&Value::Int(1)));
    }
}
