//! `--format` as the Docker CLI takes it: `table`, `json`, or a Go template such as `{{.Name}}: {{.Replicas}}` or
//! `table {{.ID}}\t{{.Image}}`, evaluated for each row of a listing (the same rows `--format json` prints, with
//! Docker's keys). The subset is what operators script with: field chains (`.Name`, `.`), string and number
//! literals, pipes (`{{.Name | upper}}`), whitespace trimming (`{{-`, `-}}`), and Docker's template functions
//! `json`, `join`, `split`, `lower`, `upper`, `title`, `pad`, `truncate` and `println`. `\t` and `\n` written
//! literally in the format become a tab and a newline, as in Docker; a `table` template prints a header row (each
//! field's name split into upper-case words: `.CurrentState` → `CURRENT STATE`, Docker's headers) and aligns the
//! tab-separated cells with Docker's tabwriter settings. Control actions (`if`, `range`, …) are refused by name.
//! Invariant: no format string can panic; every problem is an error naming the template and what is wrong.

use serde::Serialize;
use serde_json::{Map, Value};

use super::json::JsonError;

/// A `--format` template Docker's Go templates would refuse, in Go's `text/template` wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template does not parse: `template: "{{.Name": unclosed action`.
    #[error("template: {template:?}: {problem}")]
    Parse { template: String, problem: SyntaxProblem },
    /// The template parses but fails on a row: `template: executing "{{.Nme}}": can't evaluate field Nme ...`.
    #[error("template: executing {template:?}: {problem}")]
    Execute { template: String, problem: ExecutionProblem },
    /// A row that does not encode as JSON (the template reads rows as JSON objects).
    #[error("cannot encode a row for the template: {0}")]
    EncodeRow(String),
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxProblem {
    #[error("unclosed action")]
    UnclosedAction,
    #[error("unexpected \"}}}}\" outside an action")]
    CloseOutsideAction,
    #[error("missing command in pipeline")]
    MissingCommand,
    #[error("{{{{{name}}}}} actions are not supported")]
    UnsupportedAction { name: String },
    #[error("function {name:?} not defined")]
    UndefinedFunction { name: String },
    #[error("unterminated quoted string")]
    UnterminatedString,
    #[error("bad field reference {word:?}")]
    BadFieldReference { word: String },
    #[error("unexpected {word:?} in operand")]
    UnexpectedOperand { word: String },
    #[error("unexpected \"|\"")]
    UnexpectedPipe,
}

/// Why a template fails on a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionProblem {
    #[error("a value cannot take arguments")]
    ValueTakesNoArguments,
    #[error("empty action")]
    EmptyAction,
    #[error("can't evaluate field {name} (fields: {known})")]
    NoSuchField { name: String, known: String },
    #[error("can't evaluate field {name} in a {kind}")]
    FieldOfNonObject { name: String, kind: &'static str },
    #[error("wrong arguments for {function} (expected {expected})")]
    WrongArguments { function: &'static str, expected: &'static str },
    #[error("{0}")]
    Json(String),
}

/// Why a listing could not be printed in the asked `--format`.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// How a listing is printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// The command's own table (`--format table`, the default).
    #[default]
    Table,
    /// One JSON object per row (`--format json`).
    Json,
    /// A Go template per row, optionally as an aligned table with a header.
    Template(Template),
}

impl OutputFormat {
    /// Parses a `--format` value.
    pub fn parse(format: &str) -> Result<OutputFormat, TemplateError> {
        match format.trim() {
            "" | "table" => Ok(OutputFormat::Table),
            "json" => Ok(OutputFormat::Json),
            _ => Template::parse(format).map(OutputFormat::Template),
        }
    }

    /// Prints `rows` as JSON lines or through the template; `Table` asks `table`, the command's own renderer.
    pub fn print<R: Serialize + Default>(
        &self,
        rows: Vec<R>,
        table: impl FnOnce(Vec<R>) -> String,
    ) -> Result<String, PrintError> {
        match self {
            OutputFormat::Table => Ok(table(rows)),
            OutputFormat::Json => Ok(super::json::lines(&rows)?),
            OutputFormat::Template(template) => Ok(template.render(&rows)?),
        }
    }
}

/// A parsed Go template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    table: bool,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// Commands joined by `|`: each command's result is the last argument of the next.
    Pipeline(Vec<Command>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Command {
    /// `None`: the command is a single operand (a field chain or a literal).
    function: Option<Function>,
    args: Vec<Operand>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operand {
    /// `.` (empty) or `.A.B`.
    Field(Vec<String>),
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Json,
    Join,
    Split,
    Lower,
    Upper,
    Title,
    Pad,
    Truncate,
    Println,
}

impl Function {
    const ALL: [Function; 9] = [
        Function::Json,
        Function::Join,
        Function::Split,
        Function::Lower,
        Function::Upper,
        Function::Title,
        Function::Pad,
        Function::Truncate,
        Function::Println,
    ];

    fn name(self) -> &'static str {
        match self {
            Function::Json => "json",
            Function::Join => "join",
            Function::Split => "split",
            Function::Lower => "lower",
            Function::Upper => "upper",
            Function::Title => "title",
            Function::Pad => "pad",
            Function::Truncate => "truncate",
            Function::Println => "println",
        }
    }

    fn named(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|function| function.name() == name)
    }
}

const CONTROL_ACTIONS: [&str; 10] =
    ["if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"];

impl Template {
    /// Parses `format` (with Docker's `table ` prefix and `\t` / `\n` escapes).
    pub fn parse(format: &str) -> Result<Template, TemplateError> {
        let source = format.to_string();
        let syntax = |problem| TemplateError::Parse { template: format.to_string(), problem };
        let trimmed = format.trim_start();
        let (table, body) = match trimmed.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => (true, rest.trim_start()),
            _ => (false, format),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut parts = Vec::new();
        let mut rest = body.as_str();
        while let Some(open) = rest.find("{{") {
            let mut text = rest[..open].to_string();
            let after_open = &rest[open + 2..];
            let close = after_open.find("}}").ok_or_else(|| syntax(SyntaxProblem::UnclosedAction))?;
            let mut action = &after_open[..close];
            if let Some(stripped) = action.strip_prefix("- ") {
                text.truncate(text.trim_end().len());
                action = stripped;
            }
            let mut trim_after = false;
            if let Some(stripped) = action.strip_suffix(" -") {
                trim_after = true;
                action = stripped;
            }
            if !text.is_empty() {
                parts.push(Part::Text(text));
            }
            parts.push(Part::Pipeline(parse_pipeline(action).map_err(syntax)?));
            rest = &after_open[close + 2..];
            if trim_after {
                rest = rest.trim_start();
            }
        }
        if rest.contains("}}") {
            return Err(syntax(SyntaxProblem::CloseOutsideAction));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { source, table, parts })
    }

    /// Prints `rows`: one line per row, or for a `table` template a header and aligned columns.
    /// `R::default()` names the fields for the header when there are no rows.
    pub fn render<R: Serialize + Default>(&self, rows: &[R]) -> Result<String, TemplateError> {
        let values: Vec<Value> = rows.iter().map(to_value).collect::<Result<_, _>>()?;
        let mut lines = Vec::new();
        if self.table {
            lines.push(self.execute(&header_value(&to_value(&R::default())?))?);
        }
        for value in &values {
            lines.push(self.execute(value)?);
        }
        if self.table {
            let cells: Vec<Vec<String>> =
                lines.iter().map(|line| line.split('\t').map(str::to_string).collect()).collect();
            return Ok(super::table::align(&cells));
        }
        Ok(lines.into_iter().map(|line| line + "\n").collect())
    }

    /// The template applied to one value.
    fn execute(&self, dot: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Pipeline(commands) => out.push_str(&print(&self.run(commands, dot)?)),
            }
        }
        Ok(out)
    }

    fn run(&self, commands: &[Command], dot: &Value) -> Result<Value, TemplateError> {
        let mut piped: Option<Value> = None;
        for command in commands {
            let mut args =
                command.args.iter().map(|operand| self.operand(operand, dot)).collect::<Result<Vec<_>, _>>()?;
            args.extend(piped.take());
            piped = Some(match command.function {
                None => match <[Value; 1]>::try_from(args) {
                    Ok([value]) => value,
                    Err(_) => return Err(self.error(ExecutionProblem::ValueTakesNoArguments)),
                },
                Some(function) => self.call(function, args)?,
            });
        }
        piped.ok_or_else(|| self.error(ExecutionProblem::EmptyAction))
    }

    fn operand(&self, operand: &Operand, dot: &Value) -> Result<Value, TemplateError> {
        match operand {
            Operand::Literal(value) => Ok(value.clone()),
            Operand::Field(path) => {
                let mut value = dot;
                for name in path {
                    value = match value.as_object().and_then(|object| object.get(name)) {
                        Some(field) => field,
                        None => {
                            let known = value.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "));
                            return Err(self.error(match known {
                                Some(known) => ExecutionProblem::NoSuchField { name: name.clone(), known },
                                None => ExecutionProblem::FieldOfNonObject { name: name.clone(), kind: kind(value) },
                            }));
                        }
                    };
                }
                Ok(value.clone())
            }
        }
    }

    fn call(&self, function: Function, args: Vec<Value>) -> Result<Value, TemplateError> {
        let wrong = |expected: &'static str| {
            self.error(ExecutionProblem::WrongArguments { function: function.name(), expected })
        };
        let text = |value: &Value| print(value);
        let count = |value: &Value| value.as_u64().and_then(|n| usize::try_from(n).ok());
        Ok(match (function, args.as_slice()) {
            (Function::Json, [value]) => Value::String(
                serde_json::to_string(value).map_err(|e| self.error(ExecutionProblem::Json(e.to_string())))?,
            ),
            (Function::Join, [Value::Array(items), separator]) => {
                Value::String(items.iter().map(text).collect::<Vec<_>>().join(&text(separator)))
            }
            (Function::Join, _) => return Err(wrong("a list and a separator")),
            (Function::Split, [value, separator]) => {
                let separator = text(separator);
                Value::Array(text(value).split(separator.as_str()).map(|s| Value::String(s.to_string())).collect())
            }
            (Function::Lower, [value]) => Value::String(text(value).to_lowercase()),
            (Function::Upper, [value]) => Value::String(text(value).to_uppercase()),
            (Function::Title, [value]) => Value::String(title_case(&text(value))),
            (Function::Pad, [value, before, after]) => match (count(before), count(after)) {
                (Some(before), Some(after)) => {
                    Value::String(format!("{}{}{}", " ".repeat(before), text(value), " ".repeat(after)))
                }
                _ => return Err(wrong("a value and two counts")),
            },
            (Function::Truncate, [value, length]) => match count(length) {
                Some(length) => Value::String(text(value).chars().take(length).collect()),
                None => return Err(wrong("a value and a length")),
            },
            (Function::Println, values) => Value::String(values.iter().map(text).collect::<Vec<_>>().join(" ") + "\n"),
            _ => return Err(wrong("another number of arguments")),
        })
    }

    fn error(&self, problem: ExecutionProblem) -> TemplateError {
        TemplateError::Execute { template: self.source.clone(), problem }
    }
}

fn parse_pipeline(action: &str) -> Result<Vec<Command>, SyntaxProblem> {
    let words = tokenize(action)?;
    let mut commands = Vec::new();
    for command in words.split(|word| matches!(word, Token::Pipe)) {
        let (first, rest) = command.split_first().ok_or(SyntaxProblem::MissingCommand)?;
        let function = match first {
            Token::Word(name) if !name.starts_with('.') && !is_number(name) => {
                if CONTROL_ACTIONS.contains(&name.as_str()) {
                    return Err(SyntaxProblem::UnsupportedAction { name: name.clone() });
                }
                Some(Function::named(name).ok_or_else(|| SyntaxProblem::UndefinedFunction { name: name.clone() })?)
            }
            _ => None,
        };
        let operands = if function.is_some() { rest } else { command };
        let args = operands.iter().map(operand).collect::<Result<Vec<_>, _>>()?;
        commands.push(Command { function, args });
    }
    Ok(commands)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Pipe,
}

fn tokenize(action: &str) -> Result<Vec<Token>, SyntaxProblem> {
    let mut tokens = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '|' {
            chars.next();
            tokens.push(Token::Pipe);
        } else if c == '"' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    None => return Err(SyntaxProblem::UnterminatedString),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => text.push('\n'),
                        Some('t') => text.push('\t'),
                        Some(other) => text.push(other),
                        None => return Err(SyntaxProblem::UnterminatedString),
                    },
                    Some(other) => text.push(other),
                }
            }
            tokens.push(Token::Str(text));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '|' || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

fn is_number(word: &str) -> bool {
    word.parse::<i64>().is_ok()
}

fn operand(token: &Token) -> Result<Operand, SyntaxProblem> {
    match token {
        Token::Str(text) => Ok(Operand::Literal(Value::String(text.clone()))),
        Token::Word(word) if word == "." => Ok(Operand::Field(Vec::new())),
        Token::Word(word) if word.starts_with('.') => {
            let path: Vec<String> = word[1..].split('.').map(str::to_string).collect();
            if path.iter().any(String::is_empty) {
                return Err(SyntaxProblem::BadFieldReference { word: word.clone() });
            }
            Ok(Operand::Field(path))
        }
        Token::Word(word) => match word.parse::<i64>() {
            Ok(number) => Ok(Operand::Literal(Value::from(number))),
            Err(_) => Err(SyntaxProblem::UnexpectedOperand { word: word.clone() }),
        },
        Token::Pipe => Err(SyntaxProblem::UnexpectedPipe),
    }
}

fn to_value<R: Serialize>(row: &R) -> Result<Value, TemplateError> {
    serde_json::to_value(row).map_err(|e| TemplateError::EncodeRow(e.to_string()))
}

/// The value a `table` template's header is printed from: every field holds its header (Docker's way).
fn header_value(row: &Value) -> Value {
    let fields = row.as_object().map(|object| object.keys().map(|key| (key.clone(), Value::String(header(key)))));
    Value::Object(fields.into_iter().flatten().collect::<Map<String, Value>>())
}

/// `CurrentState` → `CURRENT STATE`, `ID` → `ID`: a field name split into its words, in upper case.
pub fn header(field: &str) -> String {
    let chars: Vec<char> = field.chars().collect();
    let mut out = String::new();
    for (index, &c) in chars.iter().enumerate() {
        let starts_word = index > 0
            && c.is_uppercase()
            && (chars[index - 1].is_lowercase() || chars.get(index + 1).is_some_and(|next| next.is_lowercase()));
        if starts_word {
            out.push(' ');
        }
        out.extend(c.to_uppercase());
    }
    out
}

fn title_case(text: &str) -> String {
    let mut out = String::new();
    let mut at_word_start = true;
    for c in text.chars() {
        if at_word_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !c.is_alphanumeric();
    }
    out
}

/// Go's `%v` of a JSON value: strings bare, lists as `[a b]`, maps as `map[k:v]` with sorted keys.
fn print(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".to_string(),
        Value::String(text) => text.clone(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(print).collect::<Vec<_>>().join(" ")),
        Value::Object(object) => {
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> =
                entries.into_iter().map(|(key, value)| format!("{key}:{}", print(value))).collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::{header, OutputFormat, Template};

    #[derive(Debug, Default, Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Row {
        #[serde(rename = "ID")]
        id: String,
        name: String,
        current_state: String,
        labels: Vec<String>,
        replicas: u64,
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                id: "a1".into(),
                name: "web".into(),
                current_state: "Running 2 seconds ago".into(),
                labels: vec!["x".into(), "y".into()],
                replicas: 3,
            },
            Row { id: "b2".into(), name: "db".into(), current_state: "Pending".into(), labels: vec![], replicas: 1 },
        ]
    }

    #[test]
    fn templates_print_what_docker_prints() {
        let cases = [
            ("{{.Name}}", "web\ndb\n"),
            ("{{.ID}}: {{.Replicas}}", "a1: 3\nb2: 1\n"),
            ("{{.Name}}\\t{{.ID}}", "web\ta1\ndb\tb2\n"),
            ("{{.Name | upper}}", "WEB\nDB\n"),
            ("{{upper .Name}}-{{lower \"AB\"}}", "WEB-ab\nDB-ab\n"),
            ("{{json .Name}}", "\"web\"\n\"db\"\n"),
            ("{{join .Labels \",\"}}|", "x,y|\n|\n"),
            ("{{.Labels}}", "[x y]\n[]\n"),
            ("{{truncate .CurrentState 7}}", "Running\nPending\n"),
            ("{{pad .Name 1 2}}|", " web  |\n db  |\n"),
            ("{{title \"hello world\"}}", "Hello World\nHello World\n"),
            ("{{split .CurrentState \" \"}}", "[Running 2 seconds ago]\n[Pending]\n"),
            ("a  {{- .Name -}}  b", "awebb\nadbb\n"),
            ("plain", "plain\nplain\n"),
        ];
        for (format, expected) in cases {
            let template = Template::parse(format).unwrap_or_else(|e| panic!("{format}: {e}"));
            assert_eq!(template.render(&rows()).unwrap(), expected, "{format}");
        }
    }

    #[test]
    fn json_of_dot_is_the_whole_row() {
        let template = Template::parse("{{json .}}").unwrap();
        let first = template.render(&rows()).unwrap().lines().next().unwrap().to_string();
        assert_eq!(
            first,
            // Keys sorted, as Go's json of Docker's formatter contexts prints them.
            r#"{"CurrentState":"Running 2 seconds ago","ID":"a1","Labels":["x","y"],"Name":"web","Replicas":3}"#
        );
    }

    #[test]
    fn table_templates_print_a_header_and_align_like_tabwriter() {
        let template = Template::parse("table {{.ID}}\\t{{.CurrentState}}\\t{{.Name}}").unwrap();
        assert_eq!(
            template.render(&rows()).unwrap(),
            "ID        CURRENT STATE           NAME\n\
             a1        Running 2 seconds ago   web\n\
             b2        Pending                 db\n"
        );
        // No rows: the header alone, from the row type's fields.
        assert_eq!(template.render::<Row>(&[]).unwrap(), "ID        CURRENT STATE   NAME\n");
    }

    #[test]
    fn headers_split_field_names_into_upper_case_words() {
        for (field, expected) in [
            ("ID", "ID"),
            ("Name", "NAME"),
            ("CurrentState", "CURRENT STATE"),
            ("ManagerStatus", "MANAGER STATUS"),
            ("TLSStatus", "TLS STATUS"),
        ] {
            assert_eq!(header(field), expected);
        }
    }

    #[test]
    fn bad_templates_are_errors_that_say_what_is_wrong() {
        let parse_errors = [
            ("{{.Name", "unclosed action"),
            ("{{frobnicate .Name}}", "function \"frobnicate\" not defined"),
            ("{{range .Labels}}x{{end}}", "{{range}} actions are not supported"),
            ("{{.Name \"x}}", "unterminated quoted string"),
            ("{{.Name..ID}}", "bad field reference"),
            ("{{}}", "missing command in pipeline"),
            ("{{.Name}} }}", "outside an action"),
        ];
        for (format, expected) in parse_errors {
            let error = Template::parse(format).expect_err(format).to_string();
            assert!(error.contains(expected), "{format}: {error}");
            assert!(error.starts_with("template: "), "{format}: {error}");
        }
        let run_errors = [
            ("{{.Nope}}", "can't evaluate field Nope (fields: CurrentState, ID, Labels, Name, Replicas)"),
            ("{{.Name.First}}", "can't evaluate field First in a string"),
            ("{{join .Name \",\"}}", "wrong arguments for join"),
            ("{{truncate .Name \"x\"}}", "wrong arguments for truncate"),
            ("{{.Name .ID}}", "a value cannot take arguments"),
        ];
        for (format, expected) in run_errors {
            let error = Template::parse(format).unwrap().render(&rows()).expect_err(format).to_string();
            assert!(error.contains(expected), "{format}: {error}");
        }
    }

    #[test]
    fn table_and_json_keep_their_meaning() {
        assert_eq!(OutputFormat::parse("table").unwrap(), OutputFormat::Table);
        assert_eq!(OutputFormat::parse("").unwrap(), OutputFormat::Table);
        assert_eq!(OutputFormat::parse("json").unwrap(), OutputFormat::Json);
        assert!(matches!(OutputFormat::parse("table {{.ID}}").unwrap(), OutputFormat::Template(_)));
        assert!(matches!(OutputFormat::parse("{{.ID}}").unwrap(), OutputFormat::Template(_)));
        // A word that only starts like `table` is plain text.
        let tablet = Template::parse("tablet").unwrap();
        assert_eq!(tablet.render(&rows()).unwrap(), "tablet\ntablet\n");
    }
}
