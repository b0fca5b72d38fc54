//! Splitting a `command:` or `entrypoint:` string into words the way Docker does (google/shlex): blanks separate
//! words, single quotes keep everything literally, double quotes keep everything but a backslash escapes the next
//! character, an unquoted backslash escapes the next character, and a `#` that starts a word comments out the rest
//! of the line. No variable expansion, no globbing.

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    InWord,
    Escaping,
    EscapingQuoted,
    QuotingEscaping,
    Quoting,
    Comment,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The words of `text`, or shlex's error for an unclosed quote or a trailing backslash.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = State::Start;
    for c in text.chars() {
        state = match state {
            State::Start => match c {
                c if is_space(c) => State::Start,
                '"' => State::QuotingEscaping,
                '\'' => State::Quoting,
                '\\' => State::Escaping,
                '#' => State::Comment,
                c => {
                    word.push(c);
                    State::InWord
                }
            },
            State::InWord => match c {
                c if is_space(c) => {
                    words.push(std::mem::take(&mut word));
                    State::Start
                }
                '"' => State::QuotingEscaping,
                '\'' => State::Quoting,
                '\\' => State::Escaping,
                c => {
                    word.push(c);
                    State::InWord
                }
            },
            State::Escaping => {
                word.push(c);
                State::InWord
            }
            State::EscapingQuoted => {
                word.push(c);
                State::QuotingEscaping
            }
            State::QuotingEscaping => match c {
                '"' => State::InWord,
                '\\' => State::EscapingQuoted,
                c => {
                    word.push(c);
                    State::QuotingEscaping
                }
            },
            State::Quoting => match c {
                '\'' => State::InWord,
                c => {
                    word.push(c);
                    State::Quoting
                }
            },
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
        State::Start | State::Comment => Ok(words),
        State::InWord => {
            words.push(word);
            Ok(words)
        }
        State::Escaping | State::EscapingQuoted => Err("EOF found after escape character".to_owned()),
        State::QuotingEscaping | State::Quoting => Err("EOF found when expecting closing quote".to_owned()),
    }
}
