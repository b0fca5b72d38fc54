//! The compose loader: stack files in, a merged, validated model out. Pure, like the rest of `core`: file
//! contents, the environment and a reader for `env_file:` entries come in as arguments, so the same loader runs in
//! the CLI, in tests and under the fuzzer. The pipeline per file is Docker's — YAML within budgets (`yaml`),
//! version, interpolation (`interpolate`), typed reading with a key path in hand (`decode`, `document`,
//! `service`, `deploy`, `objects`) — then files merge in order (`merge`) and the stack is checked as a whole
//! (`validate`). `render` prints the result as `docker stack config` does. Every error names file, line, column
//! and key path.

pub mod decode;
pub mod deploy;
pub mod document;
pub mod duration;
pub mod env_file;
pub mod error;
pub mod interpolate;
pub mod keys;
pub mod merge;
pub mod model;
pub mod objects;
pub mod render;
pub mod scalar;
pub mod service;
pub mod shell_words;
pub mod syntax;
pub mod validate;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};

pub use duration::Duration;
pub use error::{ComposeError, Position, Warning};
pub use model::*;
pub use render::config_text;

/// Reads the files a compose file names (`env_file:`), by absolute path. The CLI reads the disk; tests and the
/// fuzzer answer from memory.
pub trait FileSource {
    fn read(&self, path: &str) -> Result<String, String>;
}

/// A `FileSource` over a map of path → contents (tests, fuzzing, stdin-only use).
#[derive(Clone, Debug, Default)]
pub struct InMemoryFiles(pub BTreeMap<String, String>);

impl FileSource for InMemoryFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        self.0.get(path).cloned().ok_or_else(|| "no such file or directory".to_owned())
    }
}

/// One `-c` file: its name as the user gave it (used in messages) and its text.
#[derive(Clone, Copy, Debug)]
pub struct SourceFile<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// Everything the loader reads.
pub struct LoadInput<'a> {
    /// The files in `-c` order; later ones override earlier ones.
    pub files: &'a [SourceFile<'a>],
    /// The directory of the first file (absolute): relative paths are resolved against it, as Docker does.
    pub working_dir: &'a str,
    /// The variables interpolation and bare `environment:` entries see (the process environment over `.env`).
    pub environment: &'a BTreeMap<String, String>,
    pub files_reader: &'a dyn FileSource,
    /// `stack config --skip-interpolation`.
    pub skip_interpolation: bool,
}

/// A loaded stack.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: ComposeConfig,
    /// What `stack deploy` prints before going on.
    pub warnings: Vec<Warning>,
    /// Where each service, network, volume, secret and config, each known key, and each item of a service's
    /// `ports`, `volumes` and `networks`, was defined (the last file that did), by key path (`services.web`,
    /// `services.web.deploy.replicas`, `services.web.ports[0]`; a network listed as `- front` also as
    /// `services.web.networks.front`): for errors found after loading, such as `stack deploy`'s.
    pub positions: BTreeMap<String, (String, Position)>,
}

impl Loaded {
    /// `file:line:column: path: ` for an error about `path`, or just `path: ` when it has no recorded place.
    pub fn locate(&self, path: &str) -> String {
        match self.positions.get(path) {
            Some((file, position)) => format!("{file}:{}:{}: {path}", position.line, position.column),
            None => path.to_owned(),
        }
    }
}

/// Loads, merges and checks a stack.
pub fn load(input: &LoadInput) -> Result<Loaded, ComposeError> {
    let Some(first) = input.files.first() else {
        return Err(ComposeError::new("", Position::default(), "", "no compose files specified"));
    };
    let mut merged: Option<ComposeConfig> = None;
    let mut warnings = Vec::new();
    let mut references = Vec::new();
    let mut positions = BTreeMap::new();
    let mut unsupported = BTreeSet::new();
    let mut deprecated = BTreeSet::new();
    let mut unset = BTreeSet::new();
    let mut first_version: Option<String> = None;
    for file in input.files {
        let mut root = yaml::parse(file.name, file.text)?;
        let (version, minor) = document::version_of(file.name, &root)?;
        match &first_version {
            None => first_version = Some(version.clone()),
            Some(first_version) if *first_version != version => {
                return Err(ComposeError::new(
                    file.name,
                    Position::START,
                    "version",
                    format!(
                        "version mismatched between two composefiles: {first_version} ({}) and {version}",
                        first.name
                    ),
                ))
            }
            Some(_) => {}
        }
        let (file_unsupported, file_deprecated) = document::ignored_service_keys(&root);
        unsupported.extend(file_unsupported);
        deprecated.extend(file_deprecated);
        if !input.skip_interpolation {
            let mut interpolation =
                interpolate::Interpolation { file: file.name, environment: input.environment, unset: BTreeSet::new() };
            interpolation.run(&mut root)?;
            unset.extend(interpolation.unset);
        }
        let mut decoder = decode::Decoder {
            file: file.name,
            minor,
            version,
            working_dir: input.working_dir,
            environment: input.environment,
            files: input.files_reader,
            warnings: Vec::new(),
            references: Vec::new(),
            positions: BTreeMap::new(),
            expanded_ports: 0,
        };
        let config = decoder.document(&root)?;
        warnings.append(&mut decoder.warnings);
        references.append(&mut decoder.references);
        positions.append(&mut decoder.positions);
        match &mut merged {
            None => merged = Some(config),
            Some(base) => merge::merge_configs(base, config),
        }
    }
    let config = merged.expect("at least one file was loaded");
    validate::check_references(&config, &references)?;
    validate::check_dependency_cycles(&config, &references)?;
    if !unset.is_empty() {
        warnings.insert(0, Warning::VariablesNotSet(unset.into_iter().collect()));
    }
    if !unsupported.is_empty() {
        warnings.push(Warning::UnsupportedOptions(unsupported.into_iter().map(str::to_owned).collect()));
    }
    if !deprecated.is_empty() {
        let described = deprecated
            .into_iter()
            .map(|key| {
                let why = keys::DEPRECATED.iter().find(|(k, _)| *k == key).map(|(_, why)| *why).unwrap_or_default();
                (key.to_owned(), why)
            })
            .collect();
        warnings.push(Warning::DeprecatedOptions(described));
    }
    Ok(Loaded { config, warnings, positions })
}

/// Loads a single in-memory file with no env files (tests, fuzzing).
pub fn load_str(name: &str, text: &str, environment: &BTreeMap<String, String>) -> Result<Loaded, ComposeError> {
    let files = [SourceFile { name, text }];
    load(&LoadInput {
        files: &files,
        working_dir: "/stack",
        environment,
        files_reader: &InMemoryFiles::default(),
        skip_interpolation: false,
    })
}
