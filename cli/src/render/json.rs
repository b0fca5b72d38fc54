//! JSON output. `inspect` prints what `docker inspect` prints: one JSON array of every object, indented with four
//! spaces, then a newline (`[]` when there is nothing). `lines` prints what `ls --format json` prints: one compact
//! JSON object per line. Objects are serialized with serde, so field names are this project's (the `*Row` types of
//! the `ls`/`ps` renderers use Docker's keys). Unlike Go, `<`, `>` and `&` are not escaped.

use serde::Serialize;

/// A value serde could not encode as JSON.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode JSON: {0}")]
pub struct JsonError(#[from] serde_json::Error);

/// `inspect`: a pretty JSON array of `items`, four-space indented, ending in a newline.
pub fn inspect<T: Serialize>(items: &[T]) -> Result<String, JsonError> {
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    items.serialize(&mut serializer)?;
    let mut text = String::from_utf8(bytes).expect("serde_json writes UTF-8");
    text.push('\n');
    Ok(text)
}

/// `--format json`: one compact JSON object per item, one per line.
pub fn lines<T: Serialize>(items: &[T]) -> Result<String, JsonError> {
    let mut text = String::new();
    for item in items {
        text.push_str(&serde_json::to_string(item)?);
        text.push('\n');
    }
    Ok(text)
}
