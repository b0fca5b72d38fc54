//! Words and fields as Docker's CLI splits them: shell words (`--entrypoint`, `--args`, Go's `shlex`), CSV records
//! (the long forms of `--mount`, `--publish` and `--network`, Go's `encoding/csv`), `key=value` detection, Go
//! booleans and labels (`ValidateLabel`), each refusal in the wording of the Go code Docker runs.

/// Text shell-word splitting cannot finish (Go's `shlex` wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellWordsError {
    #[error("EOF found after escape character")]
    EscapeAtEnd,
    #[error("EOF found when expecting closing quote")]
    UnclosedQuote,
}

/// A CSV record Go's `encoding/csv` refuses, in its wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("EOF")]
    Empty,
    #[error("extraneous or missing \" in quoted-field")]
    ExtraneousQuote,
    #[error("bare \" in non-quoted-field")]
    BareQuote,
}

/// A label Docker's `ValidateLabel` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("invalid label '{text}': empty name")]
    EmptyName { text: String },
    #[error("label '{key}' contains whitespaces")]
    Whitespace { key: String },
}

/// Shell-word splitting as Docker's `--entrypoint` and `--args` do it (Go's `shlex.Split`): whitespace separates
/// words; `'...'` is literal; `"..."` is literal except that `\` escapes the next character; `\` outside quotes
/// escapes the next character; `#` at the start of a word comments out the rest of the line.
pub fn split_shell_words(text: &str) -> Result<Vec<String>, ShellWordsError> {
    #[derive(PartialEq)]
    enum State {
        Start,
        Word,
        Escape,
        Single,
        Double,
        DoubleEscape,
        Comment,
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = State::Start;
    for c in text.chars() {
        let space = matches!(c, ' ' | '\t' | '\r' | '\n');
        state = match state {
            State::Start => match c {
                _ if space => State::Start,
                '\'' => State::Single,
                '"' => State::Double,
                '\\' => State::Escape,
                '#' => State::Comment,
                _ => {
                    word.push(c);
                    State::Word
                }
            },
            State::Word => match c {
                _ if space => {
                    words.push(std::mem::take(&mut word));
                    State::Start
                }
                '\'' => State::Single,
                '"' => State::Double,
                '\\' => State::Escape,
                _ => {
                    word.push(c);
                    State::Word
                }
            },
            State::Escape => {
                word.push(c);
                State::Word
            }
            State::Single => {
                if c == '\'' {
                    State::Word
                } else {
                    word.push(c);
                    State::Single
                }
            }
            State::Double => match c {
                '"' => State::Word,
                '\\' => State::DoubleEscape,
                _ => {
                    word.push(c);
                    State::Double
                }
            },
            State::DoubleEscape => {
                word.push(c);
                State::Double
            }
            State::Comment => {
                if c == '\n' {
                    State::Start
                } else {
                    State::Comment
                }
            }
        };
    }
    match state {
        State::Start | State::Comment => {}
        State::Word => words.push(word),
        State::Escape | State::DoubleEscape => return Err(ShellWordsError::EscapeAtEnd),
        State::Single | State::Double => return Err(ShellWordsError::UnclosedQuote),
    }
    Ok(words)
}

/// The fields of one CSV record (Go's `encoding/csv`), as Docker reads `--mount`, `--publish` and `--network`
/// long forms: `,` separates fields; a field starting with `"` is quoted, `""` inside it being a literal quote.
pub(super) fn csv_fields(text: &str) -> Result<Vec<String>, CsvError> {
    if text.is_empty() {
        return Err(CsvError::Empty);
    }
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(CsvError::ExtraneousQuote),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
            match chars.next() {
                None => return Ok(fields),
                Some(',') => continue,
                Some(_) => return Err(CsvError::ExtraneousQuote),
            }
        }
        loop {
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => break,
                Some('"') => return Err(CsvError::BareQuote),
                Some(c) => field.push(c),
            }
        }
        fields.push(field);
    }
}

/// Docker's test for a long-form `--publish`/`--network` value: it contains `word=word` somewhere.
pub(super) fn has_key_value_pair(text: &str) -> bool {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (1..bytes.len().saturating_sub(1)).any(|i| bytes[i] == b'=' && word(bytes[i - 1]) && word(bytes[i + 1]))
}

/// Go's `strconv.ParseBool`.
pub(super) fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A label, `key=value` or a bare `key` (empty value), as Docker's `ValidateLabel` checks it: a non-empty key
/// (leading whitespace dropped) without whitespace; the value is kept as is.
pub fn parse_label(text: &str) -> Result<(String, String), LabelError> {
    let (key, value) = text.split_once('=').unwrap_or((text, ""));
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(LabelError::EmptyName { text: text.to_string() });
    }
    if key.contains([' ', '\t']) {
        return Err(LabelError::Whitespace { key: key.to_string() });
    }
    Ok((key.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::testing::strings;

    #[test]
    fn shell_words_split_like_shlex() {
        let good: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   ", &[]),
            ("sh -c 'echo hi'", &["sh", "-c", "echo hi"]),
            (r#"a "b c" d"#, &["a", "b c", "d"]),
            (r#"a\ b"#, &["a b"]),
            (r#""a \"q\" \$x""#, &[r#"a "q" $x"#]),
            (r#"'a\b'"#, &[r#"a\b"#]),
            ("''", &[""]),
            ("x'y'\"z\"", &["xyz"]),
            ("a\tb\nc", &["a", "b", "c"]),
            ("a # comment\nb", &["a", "b"]),
            ("a#b", &["a#b"]),
        ];
        for (text, expected) in good {
            assert_eq!(split_shell_words(text), Ok(strings(expected)), "{text:?}");
        }
        assert_eq!(
            split_shell_words("'open").map_err(|e| e.to_string()),
            Err("EOF found when expecting closing quote".to_string())
        );
        assert_eq!(
            split_shell_words("\"open").map_err(|e| e.to_string()),
            Err("EOF found when expecting closing quote".to_string())
        );
        assert_eq!(
            split_shell_words("end\\").map_err(|e| e.to_string()),
            Err("EOF found after escape character".to_string())
        );
    }

    #[test]
    fn labels_parse_key_and_optional_value() {
        let good: &[(&str, (&str, &str))] = &[
            ("a=b", ("a", "b")),
            ("a", ("a", "")),
            ("a=", ("a", "")),
            ("a=b=c", ("a", "b=c")),
            ("  a=b c", ("a", "b c")),
            ("com.example.x=1", ("com.example.x", "1")),
        ];
        for (text, (key, value)) in good {
            assert_eq!(parse_label(text), Ok((key.to_string(), value.to_string())), "{text}");
        }
        assert_eq!(parse_label("=b").map_err(|e| e.to_string()), Err("invalid label '=b': empty name".to_string()));
        assert_eq!(parse_label("").map_err(|e| e.to_string()), Err("invalid label '': empty name".to_string()));
        assert_eq!(
            parse_label("a b=c").map_err(|e| e.to_string()),
            Err("label 'a b' contains whitespaces".to_string())
        );
    }
}
