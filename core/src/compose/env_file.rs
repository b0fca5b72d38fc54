//! Environment files. `env_file:` entries follow Docker's rules (kvfile): one `KEY=value` per line, leading blanks
//! stripped, trailing blanks kept, `#` lines and blank lines skipped, a bare `KEY` taken from the environment (and
//! dropped when unset), a key with blanks refused. The `.env` file beside the compose file (read by `swarm stack`,
//! not by Docker's — moby/moby#29133) supplies interpolation variables, with Compose's friendlier rules on top: an
//! `export ` prefix, values in single or double quotes, and ` #` comments after an unquoted value. Contents come
//! in as text: reading files is the caller's business.

use std::collections::BTreeMap;

/// A problem in an env file, with the 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvFileError {
    pub line: u32,
    pub message: String,
}

fn lines(text: &str) -> impl Iterator<Item = (u32, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().enumerate().map(|(index, line)| (index as u32 + 1, line))
}

/// An `env_file:` file's variables in order, as `(key, value)`; a bare `KEY` gets its value from `lookup` or is
/// dropped, as in Docker.
pub fn parse_env_file(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut out = Vec::new();
    for (number, raw) in lines(text) {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (line, None),
        };
        if key.is_empty() {
            return Err(EnvFileError { line: number, message: format!("no variable name on line '{line}'") });
        }
        if key.contains([' ', '\t']) {
            return Err(EnvFileError { line: number, message: format!("variable '{key}' contains whitespaces") });
        }
        match value {
            Some(value) => out.push((key.to_owned(), value.to_owned())),
            None => {
                if let Some(value) = lookup(key) {
                    out.push((key.to_owned(), value));
                }
            }
        }
    }
    Ok(out)
}

/// The variables of a `.env` file, later lines winning.
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, EnvFileError> {
    let mut out = BTreeMap::new();
    for (number, raw) in lines(text) {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(EnvFileError { line: number, message: format!("expected KEY=value, found '{line}'") });
        };
        let key = key.trim_end();
        if key.is_empty() {
            return Err(EnvFileError { line: number, message: format!("no variable name on line '{line}'") });
        }
        if key.contains([' ', '\t']) {
            return Err(EnvFileError { line: number, message: format!("variable '{key}' contains whitespaces") });
        }
        let value = value.trim_start();
        let value = match value.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let inner = &value[1..];
                let Some(end) = inner.find(quote) else {
                    return Err(EnvFileError { line: number, message: format!("unterminated {quote} quote") });
                };
                let quoted = &inner[..end];
                if quote == '"' {
                    quoted.replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\")
                } else {
                    quoted.to_owned()
                }
            }
            _ => match value.find(" #") {
                Some(comment) => value[..comment].trim_end().to_owned(),
                None => value.to_owned(),
            },
        };
        out.insert(key.to_owned(), value);
    }
    Ok(out)
}

/// The environment interpolation sees: the `.env` file's variables, overridden by the process environment.
pub fn environment_with_dotenv(
    process: &BTreeMap<String, String>,
    dotenv: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut merged = dotenv.clone();
    merged.extend(process.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}
