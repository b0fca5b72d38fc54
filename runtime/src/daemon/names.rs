//! Names for services created without `--name`, as Docker Swarm gives them: an adjective and a surname of a
//! scientist or engineer joined by `_` (`brave_noether`). Our own word lists. Invariant: every name drawn is a
//! valid service name (`swarm_core::spec::validate_name`) and, when a free one can be found, not in use.

use rand::Rng;

use crate::raft::rt::SwarmRuntime;

const ADJECTIVES: [&str; 40] = [
    "bold", "brave", "bright", "calm", "cheerful", "clever", "cool", "daring", "eager", "elegant", "fervent",
    "friendly", "gallant", "gentle", "happy", "hopeful", "humble", "jolly", "keen", "kind", "loyal", "lucid", "merry",
    "modest", "nimble", "patient", "proud", "quick", "quiet", "serene", "sharp", "sleepy", "steady", "swift", "tender",
    "upbeat", "vivid", "wise", "witty", "zealous",
];

const SURNAMES: [&str; 40] = [
    "babbage", "bohr", "curie", "darwin", "dirac", "einstein", "euler", "faraday", "fermi", "franklin", "galileo",
    "gauss", "goodall", "hawking", "hopper", "hubble", "joule", "kepler", "knuth", "lamarr", "liskov", "lovelace",
    "maxwell", "mendel", "nash", "newton", "noether", "ohm", "pascal", "pasteur", "planck", "ritchie", "shannon",
    "tesla", "thompson", "turing", "volta", "wozniak", "yalow", "zuse",
];

/// Attempts at a plain `adjective_surname` before a digit is appended (Docker appends one on retries too).
const PLAIN_ATTEMPTS: u32 = 16;

/// A generated name for which `taken` is false, if one turns up within a few hundred draws.
pub fn unused_service_name(taken: impl Fn(&str) -> bool) -> Option<String> {
    let mut rng = <SwarmRuntime as openraft::AsyncRuntime>::thread_rng();
    (0..PLAIN_ATTEMPTS * 16).find_map(|attempt| {
        let adjective = ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())];
        let surname = SURNAMES[rng.gen_range(0..SURNAMES.len())];
        let name = if attempt < PLAIN_ATTEMPTS {
            format!("{adjective}_{surname}")
        } else {
            format!("{adjective}_{surname}{}", rng.gen_range(0..10))
        };
        (!taken(&name)).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::{unused_service_name, ADJECTIVES, SURNAMES};

    #[test]
    fn every_generated_name_is_a_valid_service_name() {
        for adjective in ADJECTIVES {
            for surname in SURNAMES {
                let name = format!("{adjective}_{surname}9");
                swarm_core::spec::validate_name(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }

    #[test]
    fn a_taken_name_is_never_returned() {
        let taken = |name: &str| name.starts_with('b');
        for _ in 0..100 {
            let name = unused_service_name(taken).expect("a free name");
            assert!(!name.starts_with('b'), "{name}");
        }
        assert_eq!(unused_service_name(|_| true), None);
    }
}
