//! Pre-vote (Raft thesis §9.6), which openraft 0.9 lacks: before a manager whose election timer ran out starts an
//! election (and so raises the term), it asks the other voters whether they would vote for it. A voter says yes
//! only when it has not heard from a leader it accepts for the shortest election timeout, is not the leader
//! itself, and the asker's log is at least as up to date as its own. A follower that was frozen (SIGSTOP) or cut
//! off and comes back thus finds its peers still following a healthy leader and leaves it in office, where it
//! used to raise the term and force a new election. Invariant: a pre-vote changes no Raft state (no term, no vote,
//! no timer), so it can only hold an election back, never help anyone win one; the real vote still decides.

use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};

use super::types::{LogId, NodeId};
use crate::http::HttpClient;
use crate::tls::ClientTls;

pub const PATH_PRE_VOTE: &str = "/raft/pre-vote";

/// "Would you vote for me if I started an election now?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreVoteRequest {
    pub candidate: NodeId,
    pub last_log_id: Option<LogId>,
}

/// The answer, with the voter's own last log id (the asker learns whether a voter's log is ahead of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreVoteResponse {
    pub granted: bool,
    pub last_log_id: Option<LogId>,
}

/// What a voter knows when it answers a pre-vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterView {
    pub is_leader: bool,
    /// How long ago it last heard from a leader it accepts (or granted a vote); `None` when it started an
    /// election of its own since.
    pub since_leader_contact: Option<Duration>,
    /// How long it must not have heard from a leader to say yes (`leader_silence_needed`).
    pub leader_silence_needed: Duration,
    pub last_log_id: Option<LogId>,
}

/// The leader silence a voter needs before it says yes: four fifths of the shortest election timeout. The asker's
/// timer counts from the last heartbeat *it* got, and the voter's may have arrived a few milliseconds later;
/// refusing for those milliseconds cost the asker a retry round after every leader loss where it happened
/// (leader-loss recovery p99 in the simulator went from 0.90 s to 1.07 s with the whole timeout). A follower that
/// stalled and comes back still finds its peers hearing the leader every heartbeat (50 ms), far inside this.
pub fn leader_silence_needed(election_timeout_min: Duration) -> Duration {
    election_timeout_min * 4 / 5
}

/// Whether a voter in `view` would vote for the asker of `request` (thesis §9.6).
pub fn would_vote(view: &VoterView, request: &PreVoteRequest) -> bool {
    let hears_a_leader =
        view.is_leader || view.since_leader_contact.is_some_and(|ago| ago < view.leader_silence_needed);
    !hears_a_leader && request.last_log_id >= view.last_log_id
}

/// Whether `granted` yeses (the asker's own included) are a majority of `voters`.
pub fn is_majority(granted: usize, voters: usize) -> bool {
    granted * 2 > voters
}

/// One peer's answer to a canvass, as the asker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Granted,
    Refused {
        peer_last_log_id: Option<LogId>,
    },
    /// Unreachable, too slow, or not understood: counts as a no.
    NoAnswer,
}

/// Asks every one of `peer_addrs` for a pre-vote at once and reports whether they and the asker make a
/// majority of `voters`, stopping as soon as the outcome is certain. `on_refusal` sees each refusing peer's last
/// log id. Each call waits at most `timeout`.
pub async fn canvass(
    request: &PreVoteRequest,
    peer_addrs: Vec<String>,
    voters: usize,
    timeout: Duration,
    tls: Option<&ClientTls>,
    mut on_refusal: impl FnMut(Option<LogId>),
) -> bool {
    let body = match postcard::to_stdvec(request) {
        Ok(body) => body,
        Err(_) => return false,
    };
    let mut pending: FuturesUnordered<_> = peer_addrs
        .into_iter()
        .map(|addr| {
            let body = body.clone();
            let tls = tls.cloned();
            async move { ask(addr, body, timeout, tls).await }
        })
        .collect();
    let (mut granted, mut outstanding) = (1usize, pending.len());
    while let Some(answer) = pending.next().await {
        outstanding -= 1;
        match answer {
            Answer::Granted => granted += 1,
            Answer::Refused { peer_last_log_id } => on_refusal(peer_last_log_id),
            Answer::NoAnswer => {}
        }
        if is_majority(granted, voters) {
            return true;
        }
        if !is_majority(granted + outstanding, voters) {
            return false;
        }
    }
    is_majority(granted, voters)
}

async fn ask(addr: String, body: Vec<u8>, timeout: Duration, tls: Option<ClientTls>) -> Answer {
    let mut client = HttpClient::with(addr, tls);
    match client.post(PATH_PRE_VOTE, body, timeout).await {
        Ok(reply) => match postcard::from_bytes::<PreVoteResponse>(&reply) {
            Ok(PreVoteResponse { granted: true, .. }) => Answer::Granted,
            Ok(PreVoteResponse { granted: false, last_log_id }) => Answer::Refused { peer_last_log_id: last_log_id },
            Err(_) => Answer::NoAnswer,
        },
        Err(_) => Answer::NoAnswer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    fn log(term: u64, index: u64) -> Option<LogId> {
        Some(LogId::new(CommittedLeaderId::new(term, 1), index))
    }

    #[test]
    fn a_voter_grants_only_without_a_current_leader_and_to_a_log_at_least_as_good() {
        let min = Duration::from_millis(500);
        let view = |is_leader, since_ms: Option<u64>, last| VoterView {
            is_leader,
            since_leader_contact: since_ms.map(Duration::from_millis),
            leader_silence_needed: min,
            last_log_id: last,
        };
        let asks = |last| PreVoteRequest { candidate: 2, last_log_id: last };
        // (voter's view, asker's last log, granted)
        let cases = [
            (view(false, Some(100), log(3, 10)), log(3, 10), false), // heard a leader 100 ms ago
            (view(false, Some(499), log(3, 10)), log(3, 12), false),
            (view(true, None, log(3, 10)), log(4, 20), false), // the leader itself
            (view(false, Some(500), log(3, 10)), log(3, 10), true),
            (view(false, None, log(3, 10)), log(3, 11), true), // a candidate itself
            (view(false, None, log(3, 10)), log(3, 9), false), // asker's log behind
            (view(false, None, log(3, 10)), log(2, 40), false), // older term wins over a longer log
            (view(false, Some(900), None), None, true),
        ];
        for (index, (voter, last, expected)) in cases.into_iter().enumerate() {
            assert_eq!(would_vote(&voter, &asks(last)), expected, "case {index}: {voter:?}");
        }
    }

    #[test]
    fn the_silence_needed_leaves_room_for_a_late_heartbeat_but_not_for_a_live_leader() {
        let needed = leader_silence_needed(Duration::from_millis(500));
        assert_eq!(needed, Duration::from_millis(400));
        assert!(needed > Duration::from_millis(50) * 4, "several heartbeats of 50 ms fit in it");
    }

    #[test]
    fn a_majority_counts_the_asker() {
        assert!(is_majority(1, 1));
        assert!(!is_majority(1, 2));
        assert!(is_majority(2, 3));
        assert!(!is_majority(2, 4));
        assert!(is_majority(3, 5));
    }
}
