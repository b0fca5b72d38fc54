//! Any bytes found as a Raft log record (tagged or bare, of any format) make `decode_entry` return an entry or a
//! typed error — never panic — and an entry it returns writes back as a record that reads back equal.
#![no_main]
use libfuzzer_sys::fuzz_target;
use swarm_runtime::raft::entry_format::{decode_entry, encode_entry};

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = decode_entry(data) {
        let again = encode_entry(&entry).expect("an entry encodes");
        assert_eq!(decode_entry(&again).expect("a written entry reads back"), entry);
    }
});
