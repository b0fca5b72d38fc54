//! The election timer, ours rather than openraft's. Raft (§5.2) draws a fresh random election timeout for every
//! election; openraft 0.9 draws one per process and checks it on a tick of 1.5 heartbeats, so two followers
//! whose timeouts fall into the same tick start every election together and split the vote forever — the
//! simulator found exactly that (3 managers, the leader killed, the other two in lockstep for 80,000 terms).
//! openraft's own elections are switched off (`enable_elect: false`) and this task triggers them: a follower or
//! candidate that has not heard from a leader (nor granted a vote) for a timeout drawn anew each time, at
//! millisecond resolution, starts an election; a candidate whose election settled nothing retries in a window
//! ordered by its rank among the voters (`own_election_retry_ms`). A single voter starts one at once.
//!
//! Its inputs come from Raft traffic: the RPC server reports an accepted leader's append or snapshot and every
//! granted vote (`ElectionTimer::heard_from_leader`), and both sides of vote traffic report a voter whose log is
//! ahead of this node's (`BehindPeer`). Before it starts an election it canvasses the other voters (`pre_vote`)
//! and starts one only with a majority of yeses, so a follower that stalled and came back does not depose a
//! healthy leader; it answers the other voters' canvasses from the same contact time (`answer_pre_vote`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use openraft::{LogId, ServerState};

use super::log_store::LogStore;
use super::pre_vote::{self, PreVoteRequest, PreVoteResponse, VoterView};
use super::types::{NodeId, Raft};
use crate::tls::ClientTls;

/// What reset the election timer last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contact {
    /// An accepted leader's append or snapshot, or a granted vote (or start-up).
    Leader,
    /// This node started an election.
    OwnElection,
}

/// One manager's election timer: what it needs of Raft, and when this manager last heard from a leader it
/// accepts. The manager owns it; `run` holds it only weakly and ends once the manager drops it.
pub struct ElectionTimer {
    /// How pre-vote requests reach the other managers.
    tls: Option<ClientTls>,
    raft: Raft,
    /// This manager's log: its last entry is what a pre-vote compares.
    log: LogStore,
    node_id: NodeId,
    election_timeout_min_ms: u64,
    election_timeout_max_ms: u64,
    behind_peer: Arc<BehindPeer>,
    /// When this manager last heard from a leader it accepts, or granted a vote, or started an election.
    last_leader_contact: Mutex<(tokio::time::Instant, Contact)>,
    /// Until when it holds its own election back because it said yes to another's pre-vote (`PRE_VOTE_HOLD`).
    hold_after_pre_vote: Mutex<Option<tokio::time::Instant>>,
    /// The newest leader's vote any snapshot chunk arrived with (see `newer_snapshot_sender`).
    newest_snapshot_vote: Mutex<Option<openraft::Vote<NodeId>>>,
}

/// How long a manager that granted a pre-vote holds its own election back: the asker's election (a vote round
/// trip) lands inside it, so the two do not split the vote. Without it, pre-vote's extra round trip widened the
/// window in which two followers whose timers fire close together both campaign, and leader-loss recovery p99
/// in the simulator went from 0.90 s to 1.07 s (split votes cost a retry round). A quarter of the shortest
/// election timeout; if the asker dies meanwhile, this manager campaigns that much later.
fn pre_vote_hold(election_timeout_min: Duration) -> Duration {
    election_timeout_min / 4
}

impl ElectionTimer {
    /// A timer that counts from now, as if a leader had just been heard from.
    pub fn new(
        raft: Raft,
        log: LogStore,
        node_id: NodeId,
        election_timeout_min_ms: u64,
        election_timeout_max_ms: u64,
        behind_peer: Arc<BehindPeer>,
        tls: Option<ClientTls>,
    ) -> ElectionTimer {
        ElectionTimer {
            tls,
            raft,
            log,
            node_id,
            election_timeout_min_ms,
            election_timeout_max_ms,
            behind_peer,
            last_leader_contact: Mutex::new((tokio::time::Instant::now(), Contact::Leader)),
            hold_after_pre_vote: Mutex::new(None),
            newest_snapshot_vote: Mutex::new(None),
        }
    }

    /// A snapshot chunk arrived with `vote`: the newer vote a chunk came with before, if there is one (the chunk is
    /// then a deposed leader's). openraft 0.9 checks a chunk against this node's own vote only, which a snapshot
    /// under way has not moved yet; a deposed leader's stream, still running, and the new leader's then restart each
    /// other's transfer forever, and the follower, hearing chunks, never stands for election either (simulator,
    /// Raft campaign seed 154).
    /// Terms alone are compared: two leaders' votes of one term cannot both be committed, and comparing such a pair
    /// with `Vote`'s own order would panic inside openraft, so a peer sending one must not reach it.
    pub fn newer_snapshot_sender(&self, vote: &openraft::Vote<NodeId>) -> Option<openraft::Vote<NodeId>> {
        let mut newest = self.newest_snapshot_vote.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let term = vote.leader_id().get_term();
        match &*newest {
            Some(seen) if seen.leader_id().get_term() > term => Some(*seen),
            Some(seen) if seen.leader_id().get_term() == term => None,
            _ => {
                *newest = Some(*vote);
                None
            }
        }
    }

    /// An accepted leader's append or snapshot arrived, or this node granted a vote: the timeout starts over.
    pub fn heard_from_leader(&self) {
        *self.last_leader_contact.lock().expect("contact mutex") = (tokio::time::Instant::now(), Contact::Leader);
    }

    /// This manager's answer to another voter's pre-vote canvass.
    pub fn answer_pre_vote(&self, request: &PreVoteRequest) -> PreVoteResponse {
        let (last_contact, kind) = *self.last_leader_contact.lock().expect("contact mutex");
        let view = VoterView {
            is_leader: self.raft.metrics().borrow().state == ServerState::Leader,
            since_leader_contact: (kind == Contact::Leader).then(|| last_contact.elapsed()),
            leader_silence_needed: pre_vote::leader_silence_needed(Duration::from_millis(self.election_timeout_min_ms)),
            last_log_id: self.log.last_log_id(),
        };
        self.behind_peer.compare(view.last_log_id.as_ref(), request.last_log_id.as_ref());
        let granted = pre_vote::would_vote(&view, request);
        if granted {
            let hold = tokio::time::Instant::now() + pre_vote_hold(Duration::from_millis(self.election_timeout_min_ms));
            *self.hold_after_pre_vote.lock().expect("hold mutex") = Some(hold);
        }
        PreVoteResponse { granted, last_log_id: view.last_log_id }
    }

    /// Whether a majority of the voters would vote for this manager now: it asks the others (`pre_vote`).
    async fn majority_would_vote(&self, voters: &BTreeSet<NodeId>) -> bool {
        let peer_addrs: Vec<String> = {
            let metrics = self.raft.metrics().borrow().clone();
            let membership = metrics.membership_config.membership();
            voters
                .iter()
                .filter(|id| **id != self.node_id)
                .filter_map(|id| membership.get_node(id))
                .map(|n| n.addr.clone())
                .collect()
        };
        let own_last_log_id = self.log.last_log_id();
        let request = PreVoteRequest { candidate: self.node_id, last_log_id: own_last_log_id };
        // A canvass may take as long as a vote round; slower answers count as noes.
        let timeout = Duration::from_millis(self.election_timeout_min_ms);
        pre_vote::canvass(&request, peer_addrs, voters.len(), timeout, self.tls.as_ref(), |peer_last_log_id| {
            self.behind_peer.compare(own_last_log_id.as_ref(), peer_last_log_id.as_ref())
        })
        .await
    }

    /// Where vote traffic reports a voter whose log is ahead of this node's.
    pub fn behind_peer(&self) -> &BehindPeer {
        &self.behind_peer
    }
}

/// When vote traffic last showed another voter's log ahead of this node's: a candidate asking this node with a
/// longer log, or a peer refusing this node's own vote request with one. Such a node cannot win against that
/// voter, and openraft 0.9 does not move the voter to the term of a candidate it refuses for its log, so a node
/// that kept asking would keep burning the terms the better voter needs; `election_timer` holds it back instead.
#[derive(Debug, Default)]
pub struct BehindPeer {
    seen_at: Mutex<Option<tokio::time::Instant>>,
}

impl BehindPeer {
    /// Records the comparison of this node's last log id with a peer's, from one vote exchange.
    pub fn compare(&self, own: Option<&LogId<NodeId>>, peer: Option<&LogId<NodeId>>) {
        if peer > own {
            *self.seen_at.lock().expect("behind-peer mutex") = Some(tokio::time::Instant::now());
        }
    }

    /// Whether a peer's log was seen ahead of this node's at or after `since`.
    pub fn seen_since(&self, since: tokio::time::Instant) -> bool {
        self.seen_at.lock().expect("behind-peer mutex").is_some_and(|at| at >= since)
    }
}

/// Runs the election timer of `timer` until its owner drops it.
pub async fn run(timer: Weak<ElectionTimer>) {
    use rand::Rng;
    // A follower waits min_ms..=max_ms of leader silence, drawn once per term: a fixed timeout per leader makes a
    // spurious election need one long silence, not just an unlucky draw on some heartbeat. After an election of
    // its own that did not settle things, a node retries as `own_election_retry_ms` says, plus twice the longest
    // election timeout when vote traffic showed a voter whose log is ahead of its own (`BehindPeer`): ranked
    // retries would otherwise let a low-ranked node with a short log outpace, term after term, the voter that can
    // win (the simulator found two managers doing that for 30 s).
    let mut timeout = Duration::ZERO;
    // What the timeout was drawn for: the term a leader contact came in, or the instant of our own election.
    let mut drawn_for: Option<(Contact, u64, Option<tokio::time::Instant>)> = None;
    // Elections of our own in a row, with no leader heard from nor vote granted in between.
    let mut own_rounds: u32 = 0;
    loop {
        let Some(timer) = timer.upgrade() else { return };
        let (min_ms, max_ms) = (timer.election_timeout_min_ms, timer.election_timeout_max_ms);
        let (last_contact, kind) = *timer.last_leader_contact.lock().expect("contact mutex");
        let (state, term, voters) = {
            let metrics = timer.raft.metrics().borrow().clone();
            let voters = metrics.membership_config.membership().voter_ids().collect::<BTreeSet<_>>();
            (metrics.state, metrics.current_term, voters)
        };
        let key = match kind {
            Contact::Leader => (kind, term, None),
            Contact::OwnElection => (kind, 0, Some(last_contact)),
        };
        if drawn_for != Some(key) {
            drawn_for = Some(key);
            let mut rng = <super::rt::SwarmRuntime as openraft::AsyncRuntime>::thread_rng();
            let ms = match kind {
                Contact::Leader => {
                    own_rounds = 0;
                    rng.gen_range(min_ms..=max_ms)
                }
                Contact::OwnElection => {
                    own_rounds = own_rounds.saturating_add(1);
                    let rank = voters.iter().position(|id| *id == timer.node_id).unwrap_or(voters.len());
                    own_election_retry_ms(min_ms, rank, own_rounds, rng.gen_range(0.0..1.0))
                }
            };
            timeout = Duration::from_millis(ms);
        }
        let is_voter = voters.contains(&timer.node_id);
        let single_voter = is_voter && voters.len() == 1;
        let now = tokio::time::Instant::now();
        let mut due = last_contact + timeout;
        let recently = last_contact.checked_sub(Duration::from_millis(max_ms)).unwrap_or(last_contact);
        if kind == Contact::OwnElection && timer.behind_peer.seen_since(recently) {
            // A voter with a longer log is around: let it climb past our term and win first.
            due += Duration::from_millis(2 * max_ms);
        }
        if let Some(hold) = *timer.hold_after_pre_vote.lock().expect("hold mutex") {
            due = due.max(hold);
        }
        if state != ServerState::Leader && is_voter && (single_voter || now >= due) {
            // Without a majority of pre-votes the round still counts as an election of our own (its retry
            // timing applies), but the term stays as it is.
            if single_voter || timer.majority_would_vote(&voters).await {
                let _ = timer.raft.trigger().elect().await;
            }
            *timer.last_leader_contact.lock().expect("contact mutex") =
                (tokio::time::Instant::now(), Contact::OwnElection);
            drop(timer);
            // A single voter wins at once; give its election a moment before checking again.
            tokio::time::sleep(Duration::from_millis(min_ms.min(50))).await;
            continue;
        }
        drop(timer);
        let wake = if state == ServerState::Leader || !is_voter { now + timeout } else { due.max(now) };
        tokio::time::sleep_until(wake).await;
    }
}

/// Milliseconds between two ranks' retry windows (each rank draws in the first half of its slot), at least one
/// network delay between managers so the next rank hears the earlier one's vote request before its own window.
const RETRY_SLOT_MS: u64 = 25;
/// The retry delay doubles after the first election of its own in a row, up to this factor. It stays below the
/// shortest election timeout: followers that keep granting each other votes time out that often, and a candidate
/// with the best log but a stale term must retry faster than they raise the term, or it never catches up
/// (openraft 0.9 lets a voter refuse a candidate's log without taking its term).
const RETRY_BACKOFF_MAX: u64 = 2;

/// How long a node waits, after the `round`-th election of its own in a row that settled nothing (a split vote,
/// or refusals from peers with longer logs), before it starts another. Two candidates that split a vote retry
/// in separate windows ordered by `rank` (the node's place among the voters): the first asks for votes before
/// the second's window opens, so a split is not repeated, where equal random ranges split again about one time
/// in ten. A lower rank that cannot win (its log is behind) only delays the next by a slot. The base is a quarter
/// of the shortest election timeout, doubled from the second round on (`RETRY_BACKOFF_MAX`): under latency spikes
/// an election round trip can outlast the short first retry. `jitter` is in [0, 1).
fn own_election_retry_ms(election_timeout_min_ms: u64, rank: usize, round: u32, jitter: f64) -> u64 {
    let base = election_timeout_min_ms / 4;
    let slot = RETRY_SLOT_MS * rank as u64 + (jitter.clamp(0.0, 1.0) * (RETRY_SLOT_MS / 2) as f64) as u64;
    let backoff = 1u64 << round.saturating_sub(1).min(RETRY_BACKOFF_MAX.trailing_zeros());
    (base + slot) * backoff
}

#[cfg(test)]
mod tests {
    use super::own_election_retry_ms;

    #[test]
    fn retry_windows_are_ordered_by_rank_and_back_off_per_round() {
        // (rank, round, jitter) → milliseconds, with the default shortest election timeout of 500 ms.
        let cases = [
            (0, 1, 0.0, 125),
            (0, 1, 0.999, 136),
            (1, 1, 0.0, 150),
            (1, 1, 0.999, 161),
            (2, 1, 0.0, 175),
            (0, 2, 0.0, 250),
            (1, 3, 0.0, 300),
            (0, 4, 0.0, 250),
            (0, 40, 0.0, 250),
        ];
        for (rank, round, jitter, expected) in cases {
            assert_eq!(own_election_retry_ms(500, rank, round, jitter), expected, "rank {rank} round {round}");
        }
    }

    #[test]
    fn a_lower_rank_always_fires_a_network_delay_before_the_next() {
        for round in 1..6 {
            for rank in 0..6 {
                let latest = own_election_retry_ms(500, rank, round, 0.999_999);
                let earliest_next = own_election_retry_ms(500, rank + 1, round, 0.0);
                assert!(
                    earliest_next >= latest + 12,
                    "round {round}: rank {rank} until {latest}, next from {earliest_next}"
                );
            }
        }
    }
}
