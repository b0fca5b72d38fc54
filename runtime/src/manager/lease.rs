//! The leader lease: when a manager that believes it leads may act on that belief. openraft 0.9 keeps a leader
//! that lost its quorum believing it leads until it hears of a newer term, and restarts a crashed leader as
//! leader of its old term with a store applied only as far as its last snapshot. Invariants: a leader serves
//! control-API requests and agents' assignments only while a quorum acknowledged it within half the shortest
//! election timeout (`has_quorum_contact`), and its manager loop and dispatcher decide only from a store holding
//! everything committed before its term (`leading_term_with_own_entry_applied`).

use std::time::Duration;

use openraft::ServerState;

use super::Manager;
use crate::propose::ProposeError;
use crate::raft::types::NodeId;

impl Manager {
    /// The current term, if this manager leads it and its store holds everything committed before: it has applied
    /// its whole log as it stood when this process started leading the term (a leader's log holds every committed
    /// entry), and an entry of the term. Applying an entry of the term alone is not enough: openraft restarts a
    /// crashed leader as leader of the same term, with entries of that term in its log but applied only as far
    /// as its last snapshot — the simulator caught a restarted leader deciding from such a store and creating a
    /// second task for a slot.
    pub(crate) fn leading_term_with_own_entry_applied(&self) -> Option<u64> {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.state != ServerState::Leader {
            return None;
        }
        let term = metrics.current_term;
        let must_apply = {
            let mut start = self.leadership_start.lock().expect("leadership start mutex");
            match *start {
                Some((started_term, index)) if started_term == term => index,
                _ => {
                    let index = metrics.last_log_index;
                    *start = Some((term, index));
                    index
                }
            }
        };
        let applied = self.state.last_applied();
        let applied_term = applied.map(|log_id| log_id.leader_id.term);
        let caught_up = must_apply.is_none_or(|index| applied.is_some_and(|log_id| log_id.index >= index));
        (applied_term == Some(term) && caught_up).then_some(term)
    }

    /// Whether this manager leads with a quorum that accepted it recently: itself plus enough voters that answered
    /// one of its append-entries calls (heartbeats come every 50 ms) sent within half the shortest election
    /// timeout. Until then none of those followers can help elect another leader, so a leader that passes this is
    /// the only one (a lease), and one cut off from the others stops passing it within that time — openraft 0.9
    /// itself keeps such a leader believing it leads until it hears of a newer term.
    pub fn has_quorum_contact(&self) -> bool {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.state != ServerState::Leader {
            return false;
        }
        let voters: Vec<NodeId> = metrics.membership_config.membership().voter_ids().collect();
        let lease = Duration::from_millis(self.config.raft.election_timeout_min_ms / 2);
        let since = tokio::time::Instant::now().checked_sub(lease).unwrap_or_else(tokio::time::Instant::now);
        self.peer_acks.quorum_acked_since(self.config.node_id, &voters, metrics.current_term, since)
    }

    /// A leader without quorum contact (`has_quorum_contact`) refuses with Docker's no-leader message, so reads
    /// never come from a deposed leader's frozen store and writes do not wait out the proposal timeout. Followers
    /// answer Ok: their requests go to the leader, which is checked there.
    pub async fn confirm_leadership(&self) -> Result<(), ProposeError> {
        if self.is_leader() && !self.has_quorum_contact() {
            return Err(ProposeError::NoLeader);
        }
        Ok(())
    }
}
