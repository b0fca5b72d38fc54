//! `swarm secret create|ls|inspect|rm` and `swarm config create|ls|inspect|rm`: Docker's commands for the files a
//! service's containers get. `create` reads the value from a file or standard input and refuses, before any call,
//! one that is empty or larger than `FILE_DATA_MAX`; the other commands name objects as the daemon resolves them
//! (exact id, exact name, unique id prefix) and fail in the daemon's words. Invariant: a secret's value only ever
//! travels from the user to the daemon — nothing here asks for it, prints it or puts it in an error message; a
//! config's value is read back only by `config inspect`, from `PATH_CONFIG_INSPECT`.

use std::io::Read;

use clap::{Args, Subcommand};
use swarm_core::spec::FileKind;
use swarm_core::FILE_DATA_MAX;
use swarm_runtime::control::api::{
    ConfigInspectReply, FileObjectCreateReply, FileObjectCreateRequest, ObjectRequest, PATH_CONFIG_CREATE,
    PATH_CONFIG_INSPECT, PATH_CONFIG_REMOVE, PATH_SECRET_CREATE, PATH_SECRET_REMOVE,
};
use swarm_runtime::control::view::FileObjectInfo;

use crate::client::Control;
use crate::error::{CliError, FileObjectError};
use crate::parse::{parse_label, FlagError};
use crate::render::file_objects;
use crate::render::ids::{resolve, Kind, ResolveError};

#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Create a secret from a file or STDIN as content.
    Create(SecretCreateArgs),
    /// List secrets.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more secrets.
    Inspect(InspectArgs),
    /// Remove one or more secrets.
    #[command(alias = "remove")]
    Rm(RmArgs),
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Create a config from a file or STDIN.
    Create(ConfigCreateArgs),
    /// List configs.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more configs.
    Inspect(InspectArgs),
    /// Remove one or more configs.
    #[command(alias = "remove")]
    Rm(RmArgs),
}

#[derive(Args, Debug)]
pub struct SecretCreateArgs {
    /// Secret labels.
    #[arg(short, long, value_name = "list", allow_hyphen_values = true)]
    label: Vec<String>,
    #[arg(value_name = "SECRET")]
    name: String,
    /// The file holding the value, or - to read it from standard input.
    #[arg(value_name = "file|-")]
    file: Option<String>,
}

#[derive(Args, Debug)]
pub struct ConfigCreateArgs {
    /// Config labels.
    #[arg(short, long, value_name = "list", allow_hyphen_values = true)]
    label: Vec<String>,
    #[arg(value_name = "CONFIG")]
    name: String,
    /// The file holding the value, or - to read it from standard input.
    #[arg(value_name = "file|-")]
    file: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[command(flatten)]
    list: crate::args::ListArgs,
    /// Filter output based on conditions provided ("name=…", "names=…", "id=…", "label=k" or "label=k=v").
    #[arg(short, long = "filter")]
    filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    output: crate::args::InspectFormatArgs,
    #[arg(required = true, value_name = "NAME|ID")]
    objects: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true, value_name = "NAME|ID")]
    objects: Vec<String>,
}

pub fn run_secret(control: &mut Control, command: SecretCommand) -> Result<(), CliError> {
    let kind = FileKind::Secret;
    match command {
        SecretCommand::Create(args) => {
            let labels = parse_labels(&args.label)?;
            let data = read_data(kind, args.file.as_deref(), &mut std::io::stdin().lock())?;
            let request = FileObjectCreateRequest { name: args.name, labels, data };
            let reply: FileObjectCreateReply = control.post(PATH_SECRET_CREATE, &request)?;
            println!("{}", reply.id);
            Ok(())
        }
        SecretCommand::Ls(args) => {
            let format = crate::args::list_format(&args.list)?;
            let filters = file_objects::parse_filters(&args.filter)?;
            let view = control.view()?;
            let rows = file_objects::secret_rows(&file_objects::listed(&view.secrets, &filters), view.now);
            let quiet = args.list.quiet;
            print!("{}", format.print(rows, |rows| file_objects::render_secret_ls(&rows, quiet))?);
            Ok(())
        }
        SecretCommand::Inspect(args) => {
            let format = args.output.format()?;
            let view = control.view()?;
            let (found, failures) = partition(args.objects.iter().map(|r| find(&view.secrets, kind, r)));
            if args.output.pretty {
                if let Some(failure) = failures.into_iter().next() {
                    return Err(failure.into());
                }
                print!("{}", file_objects::pretty_secrets(&found));
                return Ok(());
            }
            let inspected = found.iter().map(|secret| file_objects::inspect_secret(secret)).collect();
            print!("{}", crate::args::print_inspected(format, inspected)?);
            several(failures.into_iter().map(CliError::from).collect())
        }
        SecretCommand::Rm(args) => remove(control, kind, &args.objects),
    }
}

pub fn run_config(control: &mut Control, command: ConfigCommand) -> Result<(), CliError> {
    let kind = FileKind::Config;
    match command {
        ConfigCommand::Create(args) => {
            let labels = parse_labels(&args.label)?;
            let data = read_data(kind, Some(&args.file), &mut std::io::stdin().lock())?;
            let request = FileObjectCreateRequest { name: args.name, labels, data };
            let reply: FileObjectCreateReply = control.post(PATH_CONFIG_CREATE, &request)?;
            println!("{}", reply.id);
            Ok(())
        }
        ConfigCommand::Ls(args) => {
            let format = crate::args::list_format(&args.list)?;
            let filters = file_objects::parse_filters(&args.filter)?;
            let view = control.view()?;
            let rows = file_objects::config_rows(&file_objects::listed(&view.configs, &filters), view.now);
            let quiet = args.list.quiet;
            print!("{}", format.print(rows, |rows| file_objects::render_config_ls(&rows, quiet))?);
            Ok(())
        }
        ConfigCommand::Inspect(args) => {
            let format = args.output.format()?;
            let view = control.view()?;
            // The view holds no values: each config named is read back with its value.
            let mut found = Vec::new();
            let mut failures: Vec<CliError> = Vec::new();
            for reference in &args.objects {
                let fetched = find(&view.configs, kind, reference).map_err(CliError::from).and_then(|config| {
                    let request = ObjectRequest { id: config.id.clone() };
                    Ok(control.post::<_, ConfigInspectReply>(PATH_CONFIG_INSPECT, &request)?)
                });
                match fetched {
                    Ok(config) => found.push(config),
                    Err(error) if args.output.pretty => return Err(error),
                    Err(error) => failures.push(error),
                }
            }
            if args.output.pretty {
                print!("{}", file_objects::pretty_configs(&found));
                return Ok(());
            }
            let inspected = found.iter().map(file_objects::inspect_config).collect();
            print!("{}", crate::args::print_inspected(format, inspected)?);
            several(failures)
        }
        ConfigCommand::Rm(args) => remove(control, kind, &args.objects),
    }
}

/// The object `reference` names among `objects` (exact id, exact name, then unique id prefix), or the daemon's
/// words for none or several.
pub fn find<'a>(
    objects: &'a [FileObjectInfo],
    kind: FileKind,
    reference: &str,
) -> Result<&'a FileObjectInfo, FileObjectError> {
    let resolve_kind = match kind {
        FileKind::Secret => Kind::Secret,
        FileKind::Config => Kind::Config,
    };
    resolve(objects, reference, |o: &FileObjectInfo| o.id.as_str(), |o| o.name.as_str(), resolve_kind).map_err(
        |error| match error {
            ResolveError::NotFound { .. } => {
                FileObjectError::NotFound { kind: kind.as_str(), reference: reference.to_string() }
            }
            ResolveError::Ambiguous { matches, .. } => {
                FileObjectError::Ambiguous { kind: kind.as_str(), reference: reference.to_string(), matches }
            }
        },
    )
}

/// `rm`: each reference in turn, printed as given once removed; every failure reported at the end (the daemon's
/// refusal of an object in use passes through as it comes).
fn remove(control: &mut Control, kind: FileKind, references: &[String]) -> Result<(), CliError> {
    let view = control.view()?;
    let (objects, path) = match kind {
        FileKind::Secret => (&view.secrets, PATH_SECRET_REMOVE),
        FileKind::Config => (&view.configs, PATH_CONFIG_REMOVE),
    };
    crate::args::for_each_reference(references, |reference| {
        let object = find(objects, kind, reference)?;
        control.post::<_, serde_json::Value>(path, &ObjectRequest { id: object.id.clone() })?;
        Ok(())
    })
}

fn partition<T, E>(results: impl Iterator<Item = Result<T, E>>) -> (Vec<T>, Vec<E>) {
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for result in results {
        match result {
            Ok(value) => found.push(value),
            Err(error) => failures.push(error),
        }
    }
    (found, failures)
}

/// Docker's inspect: after printing what it found, every failure, one per line.
fn several(failures: Vec<CliError>) -> Result<(), CliError> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Several(failures))
    }
}

fn parse_labels(texts: &[String]) -> Result<std::collections::BTreeMap<String, String>, FlagError> {
    texts.iter().map(|text| parse_label(text).map_err(|e| FlagError::new("-l, --label", text, e))).collect()
}

/// The value of `create`: the file's bytes, or standard input's (`-`), or nothing when no file is named (which the
/// size check refuses, as the daemon would). Errors use Docker's words for each command; a value that is empty or
/// larger than `FILE_DATA_MAX` is refused naming its size, and never read past that bound.
pub fn read_data(kind: FileKind, file: Option<&str>, stdin: &mut dyn Read) -> Result<Vec<u8>, FileObjectError> {
    let size_error = |detail: String| FileObjectError::Size { kind: kind.as_str(), detail };
    let Some(file) = file else {
        return Err(size_error("no file was given (name one, or - to read standard input)".to_string()));
    };
    let bound = FILE_DATA_MAX as u64 + 1;
    let read_error = |path: &str, error: std::io::Error| FileObjectError::Read {
        file: file.to_string(),
        problem: go_error("read", path, &error),
    };
    let mut data = Vec::new();
    if file == "-" {
        stdin.take(bound).read_to_end(&mut data).map_err(|e| read_error("/dev/stdin", e))?;
        if data.len() > FILE_DATA_MAX {
            return Err(size_error(format!("standard input has more than {FILE_DATA_MAX} bytes")));
        }
    } else {
        let handle = std::fs::File::open(file).map_err(|error| {
            let problem = go_error("open", file, &error);
            match kind {
                FileKind::Secret => FileObjectError::Read { file: file.to_string(), problem },
                FileKind::Config => FileObjectError::Open { problem },
            }
        })?;
        if let Some(size) = handle.metadata().ok().filter(|m| m.is_file()).map(|m| m.len()) {
            if size > FILE_DATA_MAX as u64 {
                return Err(size_error(format!("{file:?} has {size} bytes")));
            }
        }
        handle.take(bound).read_to_end(&mut data).map_err(|e| read_error(file, e))?;
        if data.len() > FILE_DATA_MAX {
            return Err(size_error(format!("{file:?} has more than {FILE_DATA_MAX} bytes")));
        }
    }
    if data.is_empty() {
        let source = if file == "-" { "standard input".to_string() } else { format!("{file:?}") };
        return Err(size_error(format!("{source} has 0 bytes")));
    }
    Ok(data)
}

/// Go's `*PathError` text: `open /x: no such file or directory` (the OS's reason, lower case, without Rust's
/// "(os error 2)").
fn go_error(operation: &str, path: &str, error: &std::io::Error) -> String {
    let text = error.to_string();
    let reason = match text.rfind(" (os error ") {
        Some(end) if error.raw_os_error().is_some() => &text[..end],
        _ => text.as_str(),
    };
    let mut chars = reason.chars();
    let reason: String = chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default();
    format!("{operation} {path}: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_core::{Timestamp, Version};

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("swarm-file-object-{}-{name}", std::process::id()))
    }

    fn read(kind: FileKind, file: Option<&str>, stdin: &[u8]) -> Result<Vec<u8>, String> {
        read_data(kind, file, &mut std::io::Cursor::new(stdin.to_vec())).map_err(|e| e.to_string())
    }

    #[test]
    fn create_reads_a_file_or_standard_input() {
        let path = temp_path("value");
        std::fs::write(&path, b"s3cr3t\n").unwrap();
        let text = path.to_str().unwrap();
        assert_eq!(read(FileKind::Secret, Some(text), b"ignored"), Ok(b"s3cr3t\n".to_vec()));
        assert_eq!(read(FileKind::Config, Some("-"), b"from stdin"), Ok(b"from stdin".to_vec()));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn create_errors_use_dockers_words() {
        let missing = temp_path("missing");
        let missing = missing.to_str().unwrap();
        assert_eq!(
            read(FileKind::Secret, Some(missing), b""),
            Err(format!("Error reading content from {missing:?}: open {missing}: no such file or directory"))
        );
        assert_eq!(
            read(FileKind::Config, Some(missing), b""),
            Err(format!("open {missing}: no such file or directory"))
        );
        let directory = std::env::temp_dir();
        let directory = directory.to_str().unwrap();
        assert_eq!(
            read(FileKind::Config, Some(directory), b""),
            Err(format!("Error reading content from {directory:?}: read {directory}: is a directory"))
        );
        let limit = "data must be larger than 0 and at most 512000 bytes (500 KiB)";
        assert_eq!(
            read(FileKind::Secret, None, b"x"),
            Err(format!("secret {limit}: no file was given (name one, or - to read standard input)"))
        );
        assert_eq!(read(FileKind::Config, Some("-"), b""), Err(format!("config {limit}: standard input has 0 bytes")));
        assert_eq!(
            read(FileKind::Secret, Some("-"), &vec![b'x'; FILE_DATA_MAX + 10]),
            Err(format!("secret {limit}: standard input has more than 512000 bytes"))
        );
        assert_eq!(read(FileKind::Secret, Some("-"), &vec![b'x'; FILE_DATA_MAX]).map(|d| d.len()), Ok(FILE_DATA_MAX));
        let big = temp_path("big");
        std::fs::write(&big, vec![b'x'; 600_000]).unwrap();
        let big_text = big.to_str().unwrap();
        assert_eq!(
            read(FileKind::Secret, Some(big_text), b""),
            Err(format!("secret {limit}: {big_text:?} has 600000 bytes"))
        );
        std::fs::write(&big, b"").unwrap();
        assert_eq!(
            read(FileKind::Config, Some(big_text), b""),
            Err(format!("config {limit}: {big_text:?} has 0 bytes"))
        );
        std::fs::remove_file(&big).unwrap();
    }

    fn info(id: &str, name: &str) -> FileObjectInfo {
        FileObjectInfo {
            id: id.to_string(),
            version: Version(1),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            name: name.to_string(),
            labels: Default::default(),
        }
    }

    #[test]
    fn references_resolve_as_the_daemon_does() {
        let objects = vec![info("abc123", "db"), info("abd456", "abc123x"), info("zzz", "abc")];
        let pick = |reference: &str| {
            find(&objects, FileKind::Secret, reference).map(|o| o.id.as_str()).map_err(|e| e.to_string())
        };
        assert_eq!(pick("abc123"), Ok("abc123"), "an exact id first");
        assert_eq!(pick("abc"), Ok("zzz"), "then an exact name");
        assert_eq!(pick("abd"), Ok("abd456"), "then a unique id prefix");
        assert_eq!(pick("ab"), Err("Error response from daemon: secret ab is ambiguous (2 matches found)".to_string()));
        assert_eq!(pick("nope"), Err("Error response from daemon: secret nope not found".to_string()));
        assert_eq!(
            find(&objects, FileKind::Config, "").map_err(|e| e.to_string()).err(),
            Some("Error response from daemon: config  not found".to_string())
        );
    }

    #[test]
    fn labels_name_the_flag() {
        assert_eq!(
            parse_labels(&["a=1".to_string(), "b".to_string()]).map_err(|e| e.to_string()),
            Ok([("a".to_string(), "1".to_string()), ("b".to_string(), String::new())].into())
        );
        assert_eq!(
            parse_labels(&[" ".to_string()]).map_err(|e| e.to_string()),
            Err(r#"invalid argument " " for "-l, --label" flag: invalid label ' ': empty name"#.to_string())
        );
    }
}
