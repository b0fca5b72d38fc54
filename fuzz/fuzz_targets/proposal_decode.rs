//! Any bytes given to `Proposal::decode` (what a peer or client could send) yield a proposal or a typed error,
//! and a decoded proposal applied to a fresh store gives an outcome or a rejection — never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(proposal) = swarm_core::Proposal::decode(data) {
        let mut store = swarm_core::Store::default();
        let _ = store.apply(&proposal);
    }
});
