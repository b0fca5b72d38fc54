//! `apply` is a pure function of (store, proposal): the same proposals give byte-identical snapshots on every
//! replica, and a replica restored from a snapshot mid-log ends where a replica that never restarted ends.

mod common;

use common::*;
use swarm_core::*;

#[test]
fn same_log_same_bytes() {
    for seed in 1..=20u64 {
        let commands = random_commands(&mut XorShift(seed), 400);
        let mut first = Store::new();
        let mut second = Store::new();
        let applied = apply_all(&mut first, &commands, seed);
        apply_all(&mut second, &commands, seed);
        assert!(applied > commands.len() / 5, "seed {seed}: workload too weak, only {applied} applied");
        assert!(applied < commands.len(), "seed {seed}: workload never rejected anything");
        assert_eq!(first.encode_snapshot(), second.encode_snapshot(), "seed {seed}");
        assert_eq!(first, second, "seed {seed}");
    }
}

#[test]
fn restoring_from_a_snapshot_mid_log_changes_nothing() {
    for seed in 1..=20u64 {
        let commands = random_commands(&mut XorShift(seed), 300);
        let (head, tail) = commands.split_at(150);

        let mut straight = Store::new();
        let mut clock = XorShift(seed);
        let mut proposals = Vec::new();
        let mut now = T0;
        for command in head.iter().chain(tail) {
            now += clock.below(100);
            proposals.push(at(now, command.clone()));
        }
        for proposal in &proposals {
            let _ = straight.apply(proposal);
        }

        let mut restored = Store::new();
        for proposal in &proposals[..150] {
            let _ = restored.apply(proposal);
        }
        let mut restored = Store::decode_snapshot(&restored.encode_snapshot()).expect("own snapshot decodes");
        for proposal in &proposals[150..] {
            let _ = restored.apply(proposal);
        }
        assert_eq!(restored.encode_snapshot(), straight.encode_snapshot(), "seed {seed}");
    }
}

#[test]
fn proposals_survive_encoding() {
    let commands = random_commands(&mut XorShift(7), 500);
    for (i, command) in commands.into_iter().enumerate() {
        let proposal = at(T0 + i as u64, command);
        let bytes = proposal.encode();
        assert_eq!(bytes[0], PROPOSAL_FORMAT_VERSION);
        assert_eq!(Proposal::decode(&bytes), Ok(proposal));
    }
}
