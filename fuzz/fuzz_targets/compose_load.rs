//! Any bytes as a compose file: the loader returns a stack or a located error, never panics, and stays within
//! its budgets. A loaded stack printed by `stack config` loads back to the same model.
#![no_main]
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use swarm_core::compose::{config_text, load, load_str, InMemoryFiles, LoadInput, SourceFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let environment: BTreeMap<String, String> =
        [("TAG".to_owned(), "1.0".to_owned()), ("EMPTY".to_owned(), String::new())].into_iter().collect();
    let Ok(loaded) = load_str("fuzz.yml", text, &environment) else { return };
    let printed = config_text(&loaded.config);
    let files = [SourceFile { name: "printed.yml", text: &printed }];
    let reloaded = load(&LoadInput {
        files: &files,
        working_dir: "/stack",
        environment: &environment,
        files_reader: &InMemoryFiles::default(),
        skip_interpolation: true,
    });
    match reloaded {
        Ok(again) => assert_eq!(again.config, loaded.config, "printed:\n{printed}"),
        Err(error) => panic!("printed stack does not load back: {error}\n{printed}"),
    }
});
