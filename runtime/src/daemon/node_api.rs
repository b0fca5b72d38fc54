//! The node API: what one node serves about its own containers to the manager gathering `service logs`, under
//! `/node/` on the node's cluster address. Invariant: it reads only containers this node's executor lists as its
//! own, so a request naming another node's (or a foreign) container gets nothing from it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::StreamExt;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::control::api::LogLine;
use crate::http::{CallError, Caller, Handler, Reply};
use crate::tls::{ClientTls, TlsHandle};
use crate::worker::docker::DockerExecutor;
use crate::worker::executor::Executor;

pub const PATH_NODE_LOGS: &str = "/node/logs";

/// Lines of these containers (each named with its task).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeLogsRequest {
    /// `(task id, container id)` pairs.
    pub containers: Vec<(String, String)>,
    pub tail: Option<u64>,
    pub since: Option<String>,
}

/// Yields the node's engine when it has one.
pub type EngineHandle =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Option<Arc<DockerExecutor>>> + Send>> + Send + Sync>;

pub fn handler(engine: EngineHandle) -> Handler {
    Arc::new(move |caller, method, path, body| {
        let engine = engine.clone();
        Box::pin(async move {
            if !is_manager(&caller) {
                return Reply::error(
                    StatusCode::FORBIDDEN,
                    "Permission denied: only a manager of this swarm may read this node's containers",
                );
            }
            match (method, path.as_str()) {
                (Method::POST, PATH_NODE_LOGS) => match serde_json::from_slice::<NodeLogsRequest>(&body) {
                    Ok(request) => match engine().await {
                        Some(engine) => logs(&engine, request).await,
                        None => Reply::error(StatusCode::SERVICE_UNAVAILABLE, "this node has no container engine"),
                    },
                    Err(e) => Reply::error(StatusCode::BAD_REQUEST, format!("malformed request body for {path}: {e}")),
                },
                (_, path) => Reply::error(StatusCode::NOT_FOUND, format!("no such endpoint: {path}")),
            }
        })
    })
}

async fn logs(engine: &DockerExecutor, request: NodeLogsRequest) -> Reply {
    let own: std::collections::BTreeSet<String> = match engine.list().await {
        Ok(found) => found.into_iter().map(|c| c.container_id).collect(),
        Err(error) => return Reply::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
    };
    let mut lines = Vec::new();
    for (task_id, container_id) in request.containers {
        if !own.contains(&container_id) {
            continue;
        }
        let mut stream = Box::pin(engine.logs(&container_id, false, request.tail, true));
        while let Some(item) = stream.next().await {
            match item {
                Ok(line) => {
                    let timestamp = line.timestamp.unwrap_or_default();
                    if request.since.as_deref().is_some_and(|since| timestamp.as_str() <= since) {
                        continue;
                    }
                    lines.push(LogLine {
                        timestamp,
                        task_id: task_id.clone(),
                        stderr: line.stream == crate::worker::docker::LogStream::Stderr,
                        text: line.text,
                    });
                }
                Err(error) => {
                    tracing::warn!(%container_id, %error, "reading container logs");
                    break;
                }
            }
        }
    }
    Reply::json(StatusCode::OK, &lines)
}

/// Why a node's log lines could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Tls(crate::tls::TlsError),
    #[error("malformed logs from {addr}: {source}")]
    Malformed { addr: String, source: serde_json::Error },
}

/// Whether `caller` holds a manager's certificate of this swarm (or is the node itself).
fn is_manager(caller: &Caller) -> bool {
    match caller {
        Caller::Local | Caller::Plaintext => true,
        Caller::Node(identity) => identity.role == swarm_core::NodeRole::Manager,
        Caller::Anonymous => false,
    }
}

/// Asks the node `node_id` at `addr` for the lines of `containers`, as this node (`tls`).
pub async fn fetch(
    addr: &str,
    node_id: &str,
    tls: &TlsHandle,
    request: &NodeLogsRequest,
) -> Result<Vec<LogLine>, FetchError> {
    let body = serde_json::to_vec(request).expect("JSON encoding of a logs request");
    let to_node = ClientTls::to_node(tls, node_id).map_err(FetchError::Tls)?;
    let bytes = crate::http::HttpClient::tls(addr, to_node)
        .post(PATH_NODE_LOGS, body, std::time::Duration::from_secs(30))
        .await?;
    serde_json::from_slice(&bytes).map_err(|source| FetchError::Malformed { addr: addr.to_string(), source })
}
