//! A client of the cluster API used by the CLI, benchmarks and the simulator's workload: sends a proposal to one
//! of the known managers and moves on to the next when that one is unreachable or has no leader. Invariant: an
//! `Ok` means the proposal committed and was applied on the leader; an `Err` leaves it unknown whether it will.

use std::time::Duration;

use super::api::{ProposeRequest, PATH_PROPOSE};
use crate::http::HttpClient;
use crate::propose::{Committed, ProposeError};
use crate::raft::types::Proposal;
use crate::tls::ClientTls;

pub struct ClusterClient {
    managers: Vec<HttpClient>,
    next: usize,
    timeout: Duration,
}

impl ClusterClient {
    /// `addrs`: `host:port` of one or more managers. `timeout`: per attempt. `tls`: a manager's identity (the
    /// cluster API takes only managers); `None` for managers that serve plain HTTP (benchmarks only).
    pub fn new(addrs: &[String], timeout: Duration, tls: Option<ClientTls>) -> Self {
        assert!(!addrs.is_empty(), "a cluster client needs at least one manager address");
        let managers = addrs.iter().map(|addr| HttpClient::with(addr, tls.clone())).collect();
        Self { managers, next: 0, timeout }
    }

    /// Starts with the manager at `index` (modulo the count) on the next call.
    pub fn prefer(&mut self, index: usize) {
        self.next = index % self.managers.len();
    }

    /// Tries the managers in turn, starting where the last success was, but moves on only when the proposal
    /// certainly was not taken: the manager could not be reached, or it answered that there is no leader.
    /// Anything else (a timeout, a broken connection, a failed forward) may have committed it, so it is returned
    /// rather than retried elsewhere — a retry could apply it twice.
    pub async fn propose(&mut self, proposal: Proposal) -> Result<Committed, ProposeError> {
        let body = postcard::to_stdvec(&ProposeRequest { proposal, forwarded: false })
            .map_err(|e| ProposeError::Malformed(e.to_string()))?;
        let mut last_error = ProposeError::NoLeader;
        for attempt in 0..self.managers.len() {
            let index = (self.next + attempt) % self.managers.len();
            let manager = &mut self.managers[index];
            match manager.post(PATH_PROPOSE, body.clone(), self.timeout).await {
                Ok(bytes) => match postcard::from_bytes::<Result<Committed, ProposeError>>(&bytes) {
                    Ok(Ok(committed)) => {
                        self.next = index;
                        return Ok(committed);
                    }
                    Ok(Err(ProposeError::NoLeader)) => last_error = ProposeError::NoLeader,
                    Ok(Err(error)) => return Err(error),
                    Err(e) => {
                        return Err(ProposeError::Forward {
                            addr: manager.addr().to_string(),
                            reason: format!("malformed reply: {e}"),
                        })
                    }
                },
                Err(error) if error.is_unreachable() => {
                    last_error = ProposeError::Forward { addr: manager.addr().to_string(), reason: error.to_string() };
                }
                Err(error) => {
                    return Err(ProposeError::Forward { addr: manager.addr().to_string(), reason: error.to_string() })
                }
            }
        }
        Err(last_error)
    }
}
