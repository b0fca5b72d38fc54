//! The key pairs of a node's tunnel for encrypted networks and the one rule for which of them is in use: a node
//! starts with a fresh pair (private keys never leave the process, so a restart is a rotation too); a rotation
//! makes a new pair *pending*; the pending pair becomes the active one when a plan shows the cluster holds its
//! public key — the moment the other nodes are told it too — so that neither side talks with a key the other does
//! not expect for longer than a plan takes to arrive. Generic over the secret, so the simulator's fake data plane
//! runs the same rule with stand-in keys. Pure.

use swarm_core::TunnelKey;

/// A secret and its public key.
#[derive(Clone)]
pub struct KeyPair<S> {
    pub secret: S,
    pub public: TunnelKey,
}

/// The active pair and a rotation waiting for the cluster.
pub struct TunnelKeys<S> {
    active: KeyPair<S>,
    pending: Option<KeyPair<S>>,
}

impl<S> std::fmt::Debug for TunnelKeys<S> {
    /// Public keys only: a secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelKeys")
            .field("active", &self.active.public)
            .field("pending", &self.pending.as_ref().map(|pair| pair.public))
            .finish()
    }
}

impl<S> TunnelKeys<S> {
    pub fn new(first: KeyPair<S>) -> TunnelKeys<S> {
        TunnelKeys { active: first, pending: None }
    }

    /// The public key the cluster should hold: the pending one while a rotation waits, else the active one.
    pub fn wanted(&self) -> TunnelKey {
        self.pending.as_ref().unwrap_or(&self.active).public
    }

    /// Starts a rotation to `next` (replacing one still pending).
    pub fn rotate(&mut self, next: KeyPair<S>) {
        self.pending = Some(next);
    }

    /// Given the public key the cluster holds for this node: the pending pair becomes active once it is that key.
    /// True when the active pair changed.
    pub fn follow(&mut self, cluster_key: TunnelKey) -> bool {
        if self.pending.as_ref().is_some_and(|pending| pending.public == cluster_key) {
            self.active = self.pending.take().expect("checked just above");
            return true;
        }
        false
    }

    pub fn active(&self) -> &KeyPair<S> {
        &self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(byte: u8) -> KeyPair<u8> {
        KeyPair { secret: byte, public: TunnelKey([byte; 32]) }
    }

    #[test]
    fn a_rotation_takes_effect_once_the_cluster_holds_the_new_key() {
        let mut keys = TunnelKeys::new(pair(1));
        assert_eq!(keys.wanted(), TunnelKey([1; 32]));
        assert!(!keys.follow(TunnelKey([1; 32])), "nothing pending: nothing changes");
        keys.rotate(pair(2));
        assert_eq!((keys.wanted(), keys.active().secret), (TunnelKey([2; 32]), 1), "reported, not yet used");
        assert!(!keys.follow(TunnelKey([1; 32])), "the cluster still holds the old key");
        assert!(keys.follow(TunnelKey([2; 32])));
        assert_eq!((keys.wanted(), keys.active().secret), (TunnelKey([2; 32]), 2));
        // A rotation that overtakes another one still pending replaces it.
        keys.rotate(pair(3));
        keys.rotate(pair(4));
        assert!(!keys.follow(TunnelKey([3; 32])));
        assert!(keys.follow(TunnelKey([4; 32])));
        assert_eq!(keys.active().secret, 4);
    }
}
