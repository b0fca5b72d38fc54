//! Any bytes given to `Store::decode_snapshot` yield a store or a typed error — never a panic — and a decoded
//! store re-encodes to bytes that decode to the same store.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(store) = swarm_core::Store::decode_snapshot(data) {
        let again = swarm_core::Store::decode_snapshot(&store.encode_snapshot()).expect("re-encoded snapshot decodes");
        assert_eq!(store, again);
    }
});
