//! `swarm stack config`: loads compose files client-side, as `docker stack config` does, and prints the merged,
//! interpolated result. This is the CLI's side of the pure loader in `swarm_core::compose`: it reads the `-c`
//! files (or stdin for `-`), the `.env` file beside the first one and the `env_file:` entries from disk, takes the
//! process environment, and prints what the loader returns. No daemon is involved.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use swarm_core::compose::{self, env_file, ComposeError, FileSource, LoadInput, Loaded, SourceFile};

/// Why a stack command failed before reaching any daemon: the files could not be read, or did not load.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("specify a Compose file (with --compose-file)")]
    NoComposeFile,
    #[error("reading stdin: {0}")]
    Stdin(std::io::Error),
    #[error("open {name}: {error}")]
    Open { name: String, error: std::io::Error },
    #[error("{path}: {error}")]
    WorkingDir { path: String, error: std::io::Error },
    #[error("{path}:{line}: {message}")]
    DotEnv { path: String, line: u32, message: String },
    #[error(transparent)]
    Load(#[from] ComposeError),
}

#[derive(Subcommand, Debug)]
pub enum StackCommand {
    /// Outputs the final config file, after doing merges and interpolations.
    Config(ConfigArgs),
}

#[derive(Args, Debug)]
pub struct ComposeFilesArg {
    /// Path to a Compose file, or "-" to read from stdin.
    #[arg(short = 'c', long = "compose-file", value_delimiter = ',')]
    pub compose_files: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub files: ComposeFilesArg,
    /// Skip interpolation and output only merged config.
    #[arg(long)]
    pub skip_interpolation: bool,
}

pub fn run(command: StackCommand) -> Result<(), StackError> {
    match command {
        StackCommand::Config(args) => config(args),
    }
}

fn config(args: ConfigArgs) -> Result<(), StackError> {
    let loaded = load(&args.files, args.skip_interpolation)?;
    print_warnings(&loaded);
    print!("{}", compose::config_text(&loaded.config));
    Ok(())
}

/// Docker's warnings, on stderr.
pub fn print_warnings(loaded: &Loaded) {
    for warning in &loaded.warnings {
        eprintln!("{warning}");
    }
}

/// Env files from the disk.
struct DiskFiles;

impl FileSource for DiskFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|error| error.to_string())
    }
}

/// Reads and loads the compose files the user named.
pub fn load(files: &ComposeFilesArg, skip_interpolation: bool) -> Result<Loaded, StackError> {
    if files.compose_files.is_empty() {
        return Err(StackError::NoComposeFile);
    }
    let mut texts = Vec::with_capacity(files.compose_files.len());
    for name in &files.compose_files {
        let text = if name == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(StackError::Stdin)?;
            text
        } else {
            std::fs::read_to_string(name).map_err(|error| StackError::Open { name: name.clone(), error })?
        };
        texts.push(text);
    }
    let first = &files.compose_files[0];
    let working_dir: PathBuf = if first == "-" && files.compose_files.len() == 1 {
        std::env::current_dir().map_err(|error| StackError::WorkingDir { path: ".".into(), error })?
    } else {
        let absolute = std::path::absolute(Path::new(first))
            .map_err(|error| StackError::WorkingDir { path: first.clone(), error })?;
        absolute.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"))
    };
    let working_dir = working_dir.to_string_lossy().into_owned();
    let process: BTreeMap<String, String> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    let dotenv_path = Path::new(&working_dir).join(".env");
    let dotenv = match std::fs::read_to_string(&dotenv_path) {
        Ok(text) => env_file::parse_dotenv(&text).map_err(|problem| StackError::DotEnv {
            path: dotenv_path.display().to_string(),
            line: problem.line,
            message: problem.message,
        })?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(error) => return Err(StackError::WorkingDir { path: dotenv_path.display().to_string(), error }),
    };
    let environment = env_file::environment_with_dotenv(&process, &dotenv);
    let sources: Vec<SourceFile> =
        files.compose_files.iter().zip(&texts).map(|(name, text)| SourceFile { name, text }).collect();
    compose::load(&LoadInput {
        files: &sources,
        working_dir: &working_dir,
        environment: &environment,
        files_reader: &DiskFiles,
        skip_interpolation,
    })
    .map_err(StackError::Load)
}
