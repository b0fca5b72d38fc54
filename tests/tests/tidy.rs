//! The workspace's architecture rules, checked on the source text (rust-analyzer's "tidy" style). Each rule names
//! what it protects; ARCHITECTURE.md points here. A word is forbidden wherever it appears in a file the rule covers,
//! comments included — a rule that needs an exception names the file and the reason in `EXCEPTIONS`.

use std::path::{Path, PathBuf};

/// The largest source file, in lines: split a module before it grows past this.
const SOURCE_LINES_MAX: usize = 1_000;

/// The only folder that may name bollard: the Docker executor and the overlay data plane's Docker networks.
const DOCKER_FOLDER: &str = "runtime/src/worker/docker/";
/// The Docker executor's module file, which the folder rule names.
const DOCKER_EXECUTOR: &str = "runtime/src/worker/docker/mod.rs";
/// The real overlay data plane (netlink and Docker), compiled out of the simulator like the Docker executor.
const OVERLAY_LINUX: &str = "runtime/src/worker/overlay/linux.rs";
/// The only file that may name tokio's watch channel: our deterministic replacement explains why.
const WATCH: &str = "runtime/src/watch.rs";

struct Rule {
    name: &'static str,
    /// Files (paths relative to the workspace root, `/`-separated) the rule covers.
    covers: fn(&str) -> bool,
    forbidden: &'static [&'static str],
}

/// Code the simulator runs: everything `--cfg madsim` compiles of core, runtime and sim. The daemon, the control
/// socket, the Docker executor and the Linux overlay data plane are compiled out of the simulator
/// (`#[cfg(not(madsim))]` in runtime's lib.rs and worker/overlay/mod.rs).
fn simulated(path: &str) -> bool {
    let runtime_only_in_production =
        path.starts_with("runtime/src/daemon/") || path.starts_with(DOCKER_FOLDER) || path == OVERLAY_LINUX;
    (path.starts_with("core/src/") || path.starts_with("runtime/src/") || path.starts_with("sim/src/"))
        && !runtime_only_in_production
}

const RULES: &[Rule] = &[
    Rule {
        name: "core is pure: no clock, ambient randomness, async runtime, filesystem or hash-ordered collections",
        covers: |path| path.starts_with("core/src/"),
        forbidden: &["Instant::now", "SystemTime", "thread_rng", "tokio", "std::fs", "HashMap", "HashSet"],
    },
    Rule {
        name: "only the Docker folder (executor, overlay networks) knows bollard",
        covers: |path| !path.starts_with(DOCKER_FOLDER) && !path.starts_with("tests/tests/tidy.rs"),
        forbidden: &["bollard"],
    },
    Rule {
        name: "code the simulator runs uses runtime::watch, never tokio's (its wake order is not seeded)",
        covers: |path| simulated(path) && path != WATCH,
        forbidden: &["sync::watch"],
    },
    Rule {
        name: "code the simulator runs never reaches real threads or the real tokio runtime",
        covers: simulated,
        forbidden: &["thread::spawn", "spawn_blocking", "TokioExecutor", "TokioTimer", "real_tokio", "block_in_place"],
    },
    Rule {
        name: "only the CLI prints (core and runtime log through tracing)",
        covers: |path| path.starts_with("core/src/") || path.starts_with("runtime/src/"),
        forbidden: &["println!", "eprintln!", "print!(", "eprint!(", "dbg!("],
    },
];

/// (file, forbidden word, why it is allowed there).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "sim/src/lib.rs",
        "thread::spawn",
        "its determinism test runs fresh madsim runtimes, each on its own thread as madsim's test runner does",
    ),
    ("sim/src/lib.rs", "sync::watch", "its determinism test explains why tokio's watch channel fails it"),
    (
        "runtime/src/blocking.rs",
        "spawn_blocking",
        "the one door to blocking threads: compiled out under --cfg madsim, where the work runs inline",
    ),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// Every `.rs` file of the workspace's packages (build outputs excluded), as root-relative `/` paths.
fn source_files() -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    walk(root, &path, out);
                }
            } else if name.ends_with(".rs") {
                let relative = path.strip_prefix(root).expect("under the root");
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = workspace_root();
    let mut files = Vec::new();
    for package in ["core", "runtime", "sim", "cli", "tests", "fuzz", "images"] {
        walk(&root, &root.join(package), &mut files);
    }
    files.sort();
    files
}

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_rules_cover_the_files_they_name() {
    let files = source_files();
    assert!(files.len() > 50, "expected the workspace's sources, found {}", files.len());
    for named in [DOCKER_EXECUTOR, OVERLAY_LINUX, WATCH] {
        assert!(files.iter().any(|f| f == named), "{named} is named by a rule but does not exist");
    }
    for (file, _, _) in EXCEPTIONS {
        assert!(files.iter().any(|f| f == file), "{file} has an exception but does not exist");
    }
}

#[test]
fn architecture_rules_hold() {
    let mut found = Vec::new();
    for path in source_files() {
        let text = read(&path);
        for rule in RULES.iter().filter(|rule| (rule.covers)(&path)) {
            for (number, line) in text.lines().enumerate() {
                for word in rule.forbidden {
                    let excepted = EXCEPTIONS.iter().any(|(file, allowed, _)| *file == path && allowed == word);
                    if line.contains(word) && !excepted {
                        found.push(format!("{path}:{}: `{word}` ({}): {}", number + 1, rule.name, line.trim()));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "architecture rules broken:\n{}", found.join("\n"));
}

/// tokio's `select!` polls its branches from a random start drawn from tokio's own thread-local RNG, outside
/// madsim's seed: a seed then plays out differently depending on what ran in the process before it (the Raft
/// campaign's seed 346 failed in a batch and passed alone). Simulated code must say `biased;` first.
#[test]
fn every_select_in_simulated_code_polls_in_a_fixed_order() {
    let mut unbiased = Vec::new();
    for path in source_files().into_iter().filter(|path| simulated(path) || path.starts_with("sim/tests/")) {
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        for (number, line) in lines.iter().enumerate() {
            if !line.contains("select!") || line.trim_start().starts_with("//") {
                continue;
            }
            let first_statement =
                lines[number + 1..].iter().map(|l| l.trim()).find(|l| !l.is_empty() && !l.starts_with("//"));
            if first_statement != Some("biased;") {
                unbiased.push(format!("{path}:{}", number + 1));
            }
        }
    }
    assert!(unbiased.is_empty(), "these select!s must start with `biased;`:\n{}", unbiased.join("\n"));
}

#[test]
fn every_source_file_opens_with_a_doc_paragraph() {
    let missing: Vec<String> = source_files().into_iter().filter(|path| !read(path).starts_with("//!")).collect();
    assert!(
        missing.is_empty(),
        "these files must open with a //! paragraph (what it owns, its invariant):\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_source_file_is_over_the_line_limit() {
    let long: Vec<String> = source_files()
        .into_iter()
        .filter_map(|path| {
            let lines = read(&path).lines().count();
            (lines > SOURCE_LINES_MAX).then(|| format!("{path}: {lines} lines"))
        })
        .collect();
    assert!(long.is_empty(), "split these before they pass {SOURCE_LINES_MAX} lines:\n{}", long.join("\n"));
}
