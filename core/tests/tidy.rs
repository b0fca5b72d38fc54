//! Architecture check: `core/src` stays pure. No clock, no ambient randomness, no async runtime, no filesystem,
//! no hash-ordered collections. Any occurrence of a forbidden word fails, comments included, so keep them out.

use std::path::{Path, PathBuf};

const FORBIDDEN: [&str; 7] = ["Instant::now", "SystemTime", "thread_rng", "tokio", "std::fs", "HashMap", "HashSet"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read core/src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn core_src_is_pure() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() >= 5, "expected the core modules under {}", src.display());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        for (number, line) in text.lines().enumerate() {
            for word in FORBIDDEN {
                if line.contains(word) {
                    found.push(format!("{}:{}: `{word}`: {}", file.display(), number + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "forbidden in core/src:\n{}", found.join("\n"));
}

#[test]
fn every_module_opens_with_a_doc_paragraph() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        assert!(text.starts_with("//!"), "{} must open with a //! paragraph", file.display());
    }
}
