//! Compose file text → a located YAML tree, within named budgets. It owns the defence against hostile input: a
//! file larger than [`COMPOSE_FILE_BYTES_MAX`], nesting deeper than [`NESTING_DEPTH_MAX`], more than
//! [`NODES_MAX`] nodes, or anchors and aliases that would replay more than [`ALIAS_REPLAYED_EVENTS_MAX`] events
//! (the billion laughs) is refused with an error naming the limit, before any work proportional to the expansion
//! is done. Scalars follow what Docker's YAML library (go-yaml v3) makes of them: YAML 1.2 booleans only
//! (`yes`/`on` stay strings), `0`-prefixed integers octal, timestamps kept as strings; merge keys (`<<`) expand.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, DuplicateKeyPolicy, MergeKeyPolicy, NonFiniteFloatPolicy, Options, Spanned};

use super::error::{ComposeError, Position};

/// Largest compose file, in bytes (real ones are kilobytes; this leaves room for generated stacks).
pub const COMPOSE_FILE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Longest single scalar, in bytes.
pub const SCALAR_BYTES_MAX: usize = 1024 * 1024;
/// Deepest nesting of mappings and sequences (a service's deepest key is about 7 levels down).
pub const NESTING_DEPTH_MAX: usize = 64;
/// Most nodes (scalars, mappings, sequences) in one file, counting those replayed from aliases.
pub const NODES_MAX: usize = 1_000_000;
/// Most parser events in one file.
pub const EVENTS_MAX: usize = 2_000_000;
/// Most events replayed from aliases in one file (the billion-laughs bound).
pub const ALIAS_REPLAYED_EVENTS_MAX: usize = 50_000;
/// Most events recorded for anchors in one file (anchors nested in anchors record their expansions).
pub const ANCHOR_RECORDED_EVENTS_MAX: usize = 50_000;

/// One YAML node and where its text starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub position: Position,
    pub value: Value,
}

/// A YAML value with the scalar types go-yaml v3 resolves.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One mapping entry; keys are strings (YAML scalars of other types are turned into their text).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_position: Position,
    pub value: Node,
}

impl Value {
    /// How a value is named in "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => format!("a boolean ({b})"),
            Value::Int(i) => format!("an integer ({i})"),
            Value::Float(f) => format!("a number ({})", super::scalar::go_format_float(*f)),
            Value::String(s) => {
                let shown: String = s.chars().take(60).collect();
                if shown.len() < s.len() {
                    format!("{shown:?}...")
                } else {
                    format!("{shown:?}")
                }
            }
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}

fn position_of(spanned_defined: serde_saphyr::Location, referenced: serde_saphyr::Location) -> Position {
    let location = if spanned_defined.line() == 0 { referenced } else { spanned_defined };
    Position::new(location.line().min(u32::MAX as u64) as u32, location.column().min(u32::MAX as u64) as u32)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node { position: position_of(spanned.defined, spanned.referenced), value: spanned.value })
    }
}

/// A mapping key: any scalar, kept as its text (as go-yaml would print it).
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(super::scalar::go_format_float(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<KeyText, E> {
                Ok(KeyText(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Err(E::custom("a mapping key must not be null"))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                Value::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
                Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
                Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                self.visit_string(v.to_owned())
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
                if v.len() > SCALAR_BYTES_MAX {
                    return Err(E::custom(format!(
                        "a scalar of {} bytes is longer than the {SCALAR_BYTES_MAX} bytes allowed",
                        v.len()
                    )));
                }
                Ok(Value::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Node>()? {
                    items.push(item);
                }
                Ok(Value::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
                    let value = map.next_value::<Node>()?;
                    entries.push(Entry {
                        key: key.value.0,
                        key_position: position_of(key.defined, key.referenced),
                        value,
                    });
                }
                Ok(Value::Map(entries))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_depth = NESTING_DEPTH_MAX;
    budget.flow_nesting_limit = NESTING_DEPTH_MAX;
    budget.max_nodes = NODES_MAX;
    budget.max_events = EVENTS_MAX;
    budget.max_recorded_anchor_events = ANCHOR_RECORDED_EVENTS_MAX;
    budget.max_total_scalar_bytes = COMPOSE_FILE_BYTES_MAX;
    budget.max_documents = 1;
    // One `x-defaults` anchor merged into hundreds of services is ordinary; the replay limits bound the rest.
    budget.enforce_alias_anchor_ratio = false;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = ALIAS_REPLAYED_EVENTS_MAX;
    options.alias_limits.max_replay_stack_depth = NESTING_DEPTH_MAX;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.merge_keys = MergeKeyPolicy::Merge;
    options.strict_booleans = true;
    options.legacy_octal_numbers = true;
    options.non_finite_float_policy = NonFiniteFloatPolicy::PassThrough;
    options.with_snippet = false;
    options
}

/// The user-facing words for a YAML library error, naming our limit where one was hit.
fn describe_yaml_error(error: &serde_saphyr::Error) -> String {
    use serde_saphyr::budget::BudgetBreach;
    use serde_saphyr::{Error, MessageFormatter};
    let mut inner = error;
    while let Error::AliasError { error, .. } | Error::WithSnippet { error, .. } = inner {
        inner = error;
    }
    match inner {
        Error::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => {
                format!("nesting deeper than {NESTING_DEPTH_MAX} levels (NESTING_DEPTH_MAX)")
            }
            BudgetBreach::Nodes { .. } => format!("more than {NODES_MAX} YAML nodes (NODES_MAX)"),
            BudgetBreach::Events { .. } => format!("more than {EVENTS_MAX} YAML events (EVENTS_MAX)"),
            BudgetBreach::RecordedAnchorEvents { .. } | BudgetBreach::RecordedAnchorBytes { .. } => format!(
                "anchors recording more than {ANCHOR_RECORDED_EVENTS_MAX} events (ANCHOR_RECORDED_EVENTS_MAX): \
                 an alias bomb?"
            ),
            BudgetBreach::Aliases { .. } | BudgetBreach::AliasAnchorRatio { .. } => {
                "too many aliases for the anchors defined: an alias bomb?".to_owned()
            }
            BudgetBreach::Documents { .. } => "more than one YAML document".to_owned(),
            BudgetBreach::ScalarBytes { .. } => {
                format!("more than {COMPOSE_FILE_BYTES_MAX} bytes of scalars (COMPOSE_FILE_BYTES_MAX)")
            }
            other => format!("YAML budget exceeded: {other:?}"),
        },
        Error::AliasReplayLimitExceeded { .. } => format!(
            "aliases expanding to more than {ALIAS_REPLAYED_EVENTS_MAX} events (ALIAS_REPLAYED_EVENTS_MAX): \
             an alias bomb?"
        ),
        Error::AliasReplayStackDepthExceeded { .. } => {
            format!("aliases nested deeper than {NESTING_DEPTH_MAX} levels (NESTING_DEPTH_MAX)")
        }
        _ => {
            let message = serde_saphyr::DefaultMessageFormatter.format_message(inner).into_owned();
            if message.contains("recursion limit") || message.contains("nesting limit") {
                format!("nesting deeper than {NESTING_DEPTH_MAX} levels (NESTING_DEPTH_MAX)")
            } else if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
                let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
                format!("duplicate mapping key {key:?}")
            } else {
                message
            }
        }
    }
}

/// Parses one compose file into its located tree. `file` names the file in errors.
pub fn parse(file: &str, text: &str) -> Result<Node, ComposeError> {
    if text.len() > COMPOSE_FILE_BYTES_MAX {
        return Err(ComposeError::new(
            file,
            Position::START,
            "",
            format!(
                "the file is {} bytes, more than the {COMPOSE_FILE_BYTES_MAX} a compose file may hold \
                 (COMPOSE_FILE_BYTES_MAX)",
                text.len()
            ),
        ));
    }
    let not_a_mapping = || ComposeError::new(file, Position::START, "", "top-level object must be a mapping");
    if text.trim().is_empty() {
        return Err(not_a_mapping());
    }
    match serde_saphyr::from_str_with_options::<Node>(text, options()) {
        Ok(node) if matches!(node.value, Value::Map(_)) => Ok(node),
        Ok(_) => Err(not_a_mapping()),
        Err(error) => {
            let position = error
                .location()
                .filter(|l| l.line() > 0)
                .map(|l| Position::new(l.line() as u32, l.column() as u32))
                .unwrap_or(Position::START);
            Err(ComposeError::new(file, position, "", describe_yaml_error(&error)))
        }
    }
}

/// Go's `fmt.Sprint` of a YAML scalar (what Docker stores in a string map); `None` for null and collections.
pub fn go_sprint(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Seq(_) | Value::Map(_) => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(super::scalar::go_format_float(*f)),
        Value::String(s) => Some(s.clone()),
    }
}
