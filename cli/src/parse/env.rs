//! Environment variables as Docker's CLI takes them: one `-e` value (`ValidateEnv`: a bare `KEY` takes its value
//! from the CLI's environment), env files (`--env-file`), and Docker's dedupe, in which a later entry for a key
//! replaces an earlier one. The environment is passed in, so tests do not depend on the process's.

/// An `-e` value Docker's `ValidateEnv` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid environment variable: {text}")]
pub struct EnvError {
    pub text: String,
}

/// A line of an env file Docker refuses; the message names the line (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    #[error("line {line}: invalid UTF-8")]
    InvalidUtf8 { line: usize },
    #[error("line {line}: variable '{key}' contains whitespaces")]
    Whitespace { line: usize, key: String },
    #[error("line {line}: no variable name on line '{text}'")]
    NoName { line: usize, text: String },
}

/// One `-e`/`--env-add` value as Docker's `ValidateEnv` takes it: `KEY=value` as is; a bare `KEY` takes its
/// value from `env` when set there, and stays a bare `KEY` otherwise.
pub fn parse_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    let (key, has_value) = match text.split_once('=') {
        Some((key, _)) => (key, true),
        None => (text, false),
    };
    if key.is_empty() {
        return Err(EnvError { text: text.to_string() });
    }
    if has_value {
        return Ok(text.to_string());
    }
    Ok(match env(key) {
        Some(value) => format!("{key}={value}"),
        None => text.to_string(),
    })
}

/// An env file's `KEY=VALUE` entries (Docker's `--env-file`): blank lines and lines starting with `#` skipped,
/// leading whitespace dropped, values kept verbatim; a bare `KEY` takes its value from `env`, and is skipped if
/// unset there. Errors name the line: `line 3: variable 'A B' contains whitespaces`.
pub fn parse_env_file(contents: &[u8], env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, EnvFileError> {
    let mut entries = Vec::new();
    let contents = contents.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(contents);
    let contents = contents.strip_suffix(b"\n").unwrap_or(contents);
    if contents.is_empty() {
        return Ok(entries);
    }
    for (index, raw) in contents.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|_| EnvFileError::InvalidUtf8 { line: number })?.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (line, None),
        };
        if key.contains([' ', '\t']) {
            return Err(EnvFileError::Whitespace { line: number, key: key.to_string() });
        }
        if key.is_empty() {
            return Err(EnvFileError::NoName { line: number, text: line.to_string() });
        }
        match value {
            Some(value) => entries.push(format!("{key}={value}")),
            None => {
                if let Some(value) = env(key) {
                    entries.push(format!("{key}={value}"));
                }
            }
        }
    }
    Ok(entries)
}

/// Docker's env dedupe: entries in order, a later entry for a KEY replacing (and moving past) an earlier one.
pub fn merge_env(entries: Vec<String>) -> Vec<String> {
    let mut merged: Vec<String> = Vec::with_capacity(entries.len());
    for entry in entries {
        merged.retain(|current| env_key(current) != env_key(&entry));
        merged.push(entry);
    }
    merged
}

/// The KEY of a `KEY=value` (or bare `KEY`) entry.
pub fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(key, _)| key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::testing::{strings, test_env};

    #[test]
    fn env_values_take_bare_keys_from_the_environment() {
        assert_eq!(parse_env("A=1", &test_env), Ok("A=1".to_string()));
        assert_eq!(parse_env("A=", &test_env), Ok("A=".to_string()));
        assert_eq!(parse_env("HOME", &test_env), Ok("HOME=/root".to_string()));
        assert_eq!(parse_env("UNSET", &test_env), Ok("UNSET".to_string()));
        assert_eq!(
            parse_env("=1", &test_env).map_err(|e| e.to_string()),
            Err("invalid environment variable: =1".to_string())
        );
    }

    #[test]
    fn env_files_parse_like_docker() {
        let contents = b"\xEF\xBB\xBF# a comment\n\nA=1\n   B= two  \r\nHOME\nUNSET\n\t# indented comment\nC=x=y\nD=";
        assert_eq!(parse_env_file(contents, &test_env), Ok(strings(&["A=1", "B= two  ", "HOME=/root", "C=x=y", "D="])));
        assert_eq!(parse_env_file(b"", &test_env), Ok(Vec::new()));
        let bad: &[(&[u8], &str)] = &[
            (b"A=1\nB C=2\n", "line 2: variable 'B C' contains whitespaces"),
            (b"A=1\n\nTRAILING \n", "line 3: variable 'TRAILING ' contains whitespaces"),
            (b"=x", "line 1: no variable name on line '=x'"),
            (b"A=1\nB=\xff\n", "line 2: invalid UTF-8"),
        ];
        for (contents, expected) in bad {
            assert_eq!(parse_env_file(contents, &test_env).map_err(|e| e.to_string()), Err(expected.to_string()));
        }
    }
}
