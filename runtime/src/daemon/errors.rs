//! How the daemon fails. `Refusal` is what a control request answers when it cannot be done: an HTTP status and
//! a message for the user, in Docker's words where Docker has them; the typed errors of the daemon's own work
//! (`DaemonError`, `node_file::NodeFileError`) keep their wording in `Display`, which is what a refusal carries.
//! Invariant: every status is chosen here, from the error's kind — a missing leader is a 503, an unknown object a
//! 404, a conflict a 409, bad input a 400, the daemon's own failure a 500.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use swarm_core::Rejection;

use super::node_file::NodeFileError;
use crate::manager::lifecycle::StartError;
use crate::propose::{ProposeError, NO_LEADER_MESSAGE};

/// Why a control request failed: an HTTP status and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

impl Refusal {
    // Each takes anything printable: a message, or one of the typed errors below (its `Display` is the message).
    pub fn bad_request(message: impl fmt::Display) -> Refusal {
        Refusal { status: 400, message: message.to_string() }
    }
    pub fn not_found(message: impl fmt::Display) -> Refusal {
        Refusal { status: 404, message: message.to_string() }
    }
    pub fn conflict(message: impl fmt::Display) -> Refusal {
        Refusal { status: 409, message: message.to_string() }
    }
    pub fn unavailable(message: impl fmt::Display) -> Refusal {
        Refusal { status: 503, message: message.to_string() }
    }
    pub fn internal(message: impl fmt::Display) -> Refusal {
        Refusal { status: 500, message: message.to_string() }
    }

    /// A proposal's failure: no leader is 503 (Docker's words), an unknown outcome 503 saying so, anything else
    /// 500.
    pub fn from_propose(error: ProposeError) -> Refusal {
        match error {
            ProposeError::NoLeader => Refusal::unavailable(error.to_string()),
            ProposeError::Forward { .. } => {
                Refusal::unavailable(format!("{} (the leader could not be reached: {error})", NO_LEADER_MESSAGE))
            }
            ProposeError::OutcomeUnknown { .. } => Refusal::unavailable(error.to_string()),
            other => Refusal::internal(other.to_string()),
        }
    }

    /// A rejection by the store: unknown objects are 404, conflicts 409, everything else 400.
    pub fn from_rejection(rejection: Rejection) -> Refusal {
        // A batch's rejection is told as the rejection of the command that failed.
        let rejection = rejection.root().clone();
        let message = rejection.to_string();
        match rejection {
            Rejection::NoSuchNode { .. }
            | Rejection::NoSuchService { .. }
            | Rejection::NoSuchTask { .. }
            | Rejection::NoSuchNetwork { .. } => Refusal::not_found(message),
            Rejection::NameConflict { .. }
            | Rejection::IdConflict { .. }
            | Rejection::OutOfSequence { .. }
            | Rejection::NetworkInUse { .. } => Refusal::conflict(message),
            _ => Refusal::bad_request(message),
        }
    }
}

/// Why the daemon could not start, serve, or change what this node is.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    NodeFile(#[from] NodeFileError),
    #[error("{}: another daemon is already serving this control socket", .0.display())]
    ControlSocketInUse(PathBuf),
    #[error("cannot listen on {}: {source}", path.display())]
    ControlSocket { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Manager(#[from] Box<StartError>),
    #[error("cannot start Raft for the promotion; staying a worker")]
    PromotionWithoutRaft,
    #[error("the leader did not add this node to the managers; staying a worker")]
    PromotionRefused,
    #[error(transparent)]
    CertFiles(#[from] super::cert_files::CertFileError),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot get a certificate for this node's new role: {0}")]
    Renewal(String),
}

impl DaemonError {
    /// An I/O failure on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DaemonError {
        let path = path.into();
        move |source| DaemonError::Io { path, source }
    }
}
