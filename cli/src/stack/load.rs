//! Loading compose files client-side, as `docker stack config` and `docker stack deploy` do: the CLI's side of the
//! pure loader in `swarm_core::compose`. It reads the `-c` files (or stdin for `-`), the `.env` file beside the
//! first one and the `env_file:` entries from disk, takes the process environment, and hands them to the loader.
//! No daemon is involved.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use swarm_core::compose::{self, env_file, ComposeError, FileSource, LoadInput, Loaded, SourceFile};

/// Why the compose files could not be read, or did not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
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

/// `-c` as `stack config` and `stack deploy` take it.
#[derive(clap::Args, Debug)]
pub struct ComposeFilesArg {
    /// Path to a Compose file, or "-" to read from stdin.
    #[arg(short = 'c', long = "compose-file", value_delimiter = ',')]
    pub compose_files: Vec<String>,
}

/// Reads and loads the compose files the user named.
pub fn load(files: &ComposeFilesArg, skip_interpolation: bool) -> Result<Loaded, LoadError> {
    if files.compose_files.is_empty() {
        return Err(LoadError::NoComposeFile);
    }
    let mut texts = Vec::with_capacity(files.compose_files.len());
    for name in &files.compose_files {
        let text = if name == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(LoadError::Stdin)?;
            text
        } else {
            std::fs::read_to_string(name).map_err(|error| LoadError::Open { name: name.clone(), error })?
        };
        texts.push(text);
    }
    let first = &files.compose_files[0];
    let working_dir: PathBuf = if first == "-" && files.compose_files.len() == 1 {
        std::env::current_dir().map_err(|error| LoadError::WorkingDir { path: ".".into(), error })?
    } else {
        let absolute = std::path::absolute(Path::new(first))
            .map_err(|error| LoadError::WorkingDir { path: first.clone(), error })?;
        absolute.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"))
    };
    let working_dir = working_dir.to_string_lossy().into_owned();
    let process: BTreeMap<String, String> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    let dotenv_path = Path::new(&working_dir).join(".env");
    let dotenv = match std::fs::read_to_string(&dotenv_path) {
        Ok(text) => env_file::parse_dotenv(&text).map_err(|problem| LoadError::DotEnv {
            path: dotenv_path.display().to_string(),
            line: problem.line,
            message: problem.message,
        })?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(error) => return Err(LoadError::WorkingDir { path: dotenv_path.display().to_string(), error }),
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
    .map_err(LoadError::Load)
}
