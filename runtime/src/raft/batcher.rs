//! Coalesces concurrent proposals into few Raft entries. Every proposal made on a manager (its own or forwarded by
//! a follower) goes through here; while `BATCHES_IN_FLIGHT_MAX` entries are waiting to commit, new proposals
//! queue and the next entry takes all of them (up to `BATCH_PROPOSALS_MAX` and `BATCH_BYTES_MAX`). One entry costs
//! one WAL fsync per manager, so under load the fsyncs are shared instead of paid per proposal. Invariant: each
//! proposal gets exactly one answer — its own outcome from the committed entry, or the error of its write.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::BasicNode;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::types::{Answer, NodeId, Proposal, ProposalBatch, Raft};

pub const BATCHES_IN_FLIGHT_MAX: usize = 2;
pub const BATCH_PROPOSALS_MAX: usize = 1024;
/// With `settings::REPLICATION_ENTRIES_MAX` entries per append RPC, this keeps every RPC body far below
/// `http::BODY_BYTES_MAX` (2 MiB × 16 = 32 MiB < 64 MiB).
pub const BATCH_BYTES_MAX: usize = 2 * 1024 * 1024;
const QUEUE_CAPACITY: usize = 4096;

/// Why a proposal's entry was not written.
#[derive(Debug, Clone)]
pub enum WriteError {
    /// This manager is not the leader; here is who is, if known.
    ForwardToLeader { leader_id: Option<NodeId>, leader_node: Option<BasicNode> },
    /// Raft refused or stopped.
    Raft(String),
    /// The entry did not commit in time; it may still commit later.
    Timeout,
}

pub type WriteResult = Result<(u64, Answer), WriteError>;

struct Pending {
    proposal: Proposal,
    bytes: usize,
    reply: oneshot::Sender<WriteResult>,
}

#[derive(Clone)]
pub struct Batcher {
    queue: mpsc::Sender<Pending>,
}

impl Batcher {
    /// Starts the batching task for `raft`; it ends when every `Batcher` clone is dropped.
    /// `commit_timeout`: how long one entry may take to commit before its proposals are answered with
    /// `WriteError::Timeout` (so a stuck write never holds an in-flight slot forever).
    pub fn start(raft: Raft, commit_timeout: Duration) -> (Batcher, tokio::task::JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(run(raft, receiver, commit_timeout));
        (Batcher { queue }, task)
    }

    /// Queues `proposal` and waits for its entry to commit (or fail).
    pub async fn write(&self, proposal: Proposal) -> WriteResult {
        let bytes = postcard::experimental::serialized_size(&proposal).unwrap_or(0);
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { proposal, bytes, reply })
            .await
            .map_err(|_| WriteError::Raft("the manager is shutting down".to_string()))?;
        answer.await.map_err(|_| WriteError::Raft("the manager is shutting down".to_string()))?
    }
}

async fn run(raft: Raft, mut receiver: mpsc::Receiver<Pending>, commit_timeout: Duration) {
    let in_flight = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT_MAX));
    let mut carried: Option<Pending> = None;
    loop {
        let first = match carried.take() {
            Some(pending) => pending,
            None => match receiver.recv().await {
                Some(pending) => pending,
                None => return,
            },
        };
        // Waiting here is what lets proposals pile up into the next batch.
        let permit = in_flight.clone().acquire_owned().await.expect("the semaphore is never closed");
        let mut bytes = first.bytes;
        let mut batch = vec![first];
        while batch.len() < BATCH_PROPOSALS_MAX {
            match receiver.try_recv() {
                Ok(next) if bytes + next.bytes > BATCH_BYTES_MAX => {
                    carried = Some(next);
                    break;
                }
                Ok(next) => {
                    bytes += next.bytes;
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let (proposals, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.proposal, p.reply)).unzip();
            let count = proposals.len();
            let result = tokio::time::timeout(commit_timeout, raft.client_write(ProposalBatch(proposals))).await;
            drop(permit);
            match result {
                Err(_elapsed) => {
                    for reply in replies {
                        let _ = reply.send(Err(WriteError::Timeout));
                    }
                }
                Ok(Ok(written)) => {
                    assert_eq!(written.data.len(), count, "one answer per proposal in an applied entry");
                    for (reply, answer) in replies.into_iter().zip(written.data) {
                        let _ = reply.send(Ok((written.log_id.index, answer)));
                    }
                }
                Ok(Err(error)) => {
                    let error = match error {
                        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                            WriteError::ForwardToLeader {
                                leader_id: forward.leader_id,
                                leader_node: forward.leader_node,
                            }
                        }
                        other => WriteError::Raft(other.to_string()),
                    };
                    for reply in replies {
                        let _ = reply.send(Err(error.clone()));
                    }
                }
            }
        });
    }
}
