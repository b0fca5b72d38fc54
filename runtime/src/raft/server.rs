//! The server side of Raft's RPCs (`/raft/append`, `/raft/vote`, `/raft/snapshot`, `/raft/pre-vote`, postcard
//! bodies): decodes a
//! peer's request, hands it to openraft and tells the election timer what the traffic showed (an accepted
//! leader, a granted vote, a voter with a longer log). Invariant: nothing a peer sends can panic the node or put
//! a hole in its log — a body that does not decode, or append entries that do not follow on from
//! `prev_log_id`, is a 400 naming the endpoint.

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
};
use openraft::RaftLogId;

use super::election_timer::ElectionTimer;
use super::network::{PATH_APPEND, PATH_SNAPSHOT, PATH_VOTE};
use super::pre_vote::{PreVoteRequest, PATH_PRE_VOTE};
use super::types::{NodeId, Raft, TypeConfig};
use crate::http::Reply;

/// Whether `path` is one of the Raft RPCs `serve` answers.
pub fn is_raft_rpc(path: &str) -> bool {
    matches!(path, PATH_APPEND | PATH_VOTE | PATH_SNAPSHOT | PATH_PRE_VOTE)
}

/// Answers one Raft RPC (a POST to one of the `is_raft_rpc` paths) for `raft`.
pub async fn serve(raft: &Raft, timer: &ElectionTimer, path: &str, body: &[u8]) -> Reply {
    match path {
        PATH_APPEND => match postcard::from_bytes::<AppendEntriesRequest<TypeConfig>>(body) {
            Ok(request) => match entries_follow_on(&request) {
                Ok(()) => {
                    let response = raft.append_entries(request).await;
                    if accepted_leader(&response) {
                        timer.heard_from_leader();
                    }
                    Reply::postcard(&response)
                }
                Err(problem) => Reply::malformed(path, problem),
            },
            Err(e) => Reply::malformed(path, e),
        },
        PATH_VOTE => match postcard::from_bytes::<VoteRequest<NodeId>>(body) {
            Ok(request) => {
                let candidate_log = request.last_log_id;
                let response = raft.vote(request).await;
                if let Ok(answer) = &response {
                    timer.behind_peer().compare(answer.last_log_id.as_ref(), candidate_log.as_ref());
                }
                if matches!(&response, Ok(r) if r.vote_granted) {
                    timer.heard_from_leader();
                }
                Reply::postcard(&response)
            }
            Err(e) => Reply::malformed(path, e),
        },
        PATH_SNAPSHOT => match postcard::from_bytes::<InstallSnapshotRequest<TypeConfig>>(body) {
            Ok(request) => {
                if let Some(newer) = timer.newer_snapshot_sender(&request.vote) {
                    // Told of the newer leader, the deposed one's stream ends (`HigherVote`).
                    let told: Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> =
                        Ok(InstallSnapshotResponse { vote: newer });
                    return Reply::postcard(&told);
                }
                let response = raft.install_snapshot(request).await;
                if response.is_ok() {
                    timer.heard_from_leader();
                }
                Reply::postcard(&response)
            }
            Err(e) => Reply::malformed(path, e),
        },
        PATH_PRE_VOTE => match postcard::from_bytes::<PreVoteRequest>(body) {
            Ok(request) => Reply::postcard(&timer.answer_pre_vote(&request)),
            Err(e) => Reply::malformed(path, e),
        },
        _ => Reply::error(hyper::StatusCode::NOT_FOUND, format!("no such endpoint: {path}")),
    }
}

/// Whether an append-entries answer shows the sender is a leader this node accepts (not a stale one).
fn accepted_leader(response: &Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>) -> bool {
    matches!(response, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_)))
}

/// Append entries whose indexes do not run on from `prev_log_id`.
#[derive(Debug, thiserror::Error)]
#[error("entry index {index} where {expected} was expected")]
struct EntriesDoNotFollowOn {
    index: u64,
    expected: u64,
}

/// openraft trusts the leader to send consecutive entries right after `prev_log_id`; a peer sending garbage must
/// not be able to put a hole in the log (the WAL asserts against holes).
fn entries_follow_on(request: &AppendEntriesRequest<TypeConfig>) -> Result<(), EntriesDoNotFollowOn> {
    let first = request.prev_log_id.map(|l| l.index + 1).unwrap_or(0);
    for (expected, entry) in (first..).zip(&request.entries) {
        let index = entry.get_log_id().index;
        if index != expected {
            return Err(EntriesDoNotFollowOn { index, expected });
        }
    }
    Ok(())
}
