//! The CLI's side of the control API: which daemon to talk to (`-H`/`SWARM_HOST`, like `DOCKER_HOST`), and calls
//! whose every failure is a `ControlError` saying what the user sees — `Error response from daemon: …` for the
//! daemon's refusals (with the HTTP status beside it), Docker's "Cannot connect" sentence when nothing answers.
//! Invariant: no call waits forever; each has a deadline long enough for the slowest legitimate operation it makes.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_runtime::control::api::{DEFAULT_HOST, PATH_VIEW};
use swarm_runtime::control::view::ClusterView;
use swarm_runtime::http::{CallError, HttpClient, UNIX_SCHEME};

/// `-H` as every client command takes it.
#[derive(clap::Args, Debug, Clone)]
pub struct HostArg {
    /// Daemon socket to connect to (unix:///path, or a path).
    #[arg(short = 'H', long = "host", env = "SWARM_HOST", default_value = DEFAULT_HOST, global = true)]
    pub host: String,
}

/// `-H` as `swarm service` takes it: the short form only, since `service create --host host:ip` is Docker's extra
/// host flag and a global `--host` would take its place.
#[derive(clap::Args, Debug, Clone)]
pub struct ServiceHostArg {
    /// Daemon socket to connect to (unix:///path, or a path).
    #[arg(
        id = "daemon_host",
        short = 'H',
        value_name = "HOST",
        env = "SWARM_HOST",
        default_value = DEFAULT_HOST,
        global = true
    )]
    pub host: String,
}

impl From<ServiceHostArg> for HostArg {
    fn from(arg: ServiceHostArg) -> HostArg {
        HostArg { host: arg.host }
    }
}

/// Why a call to the daemon failed, in the words the user sees.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("invalid -H {host:?}: the control API is a unix socket (unix:///path)")]
    InvalidHost { host: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The daemon answered with an error status; `message` is its reason, in Docker's words.
    #[error("Error response from daemon: {message}")]
    Refused { status: u16, message: String },
    #[error("Cannot connect to the swarm daemon at {host}. Is the swarm daemon running?")]
    CannotConnect { host: String },
    #[error("Error talking to the swarm daemon at {host}: {error}")]
    Transport { host: String, error: CallError },
    #[error("malformed answer from the daemon for {path}: {error}")]
    MalformedAnswer { path: String, error: serde_json::Error },
}

/// A connection to one daemon's control API.
pub struct Control {
    host: String,
    client: HttpClient,
    runtime: tokio::runtime::Runtime,
}

/// The timeout of ordinary calls; joins and inits may take longer (a new manager catches up first).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(120);

impl Control {
    pub fn new(host: &str) -> Result<Control, ControlError> {
        let address = if host.starts_with(UNIX_SCHEME) {
            host.to_string()
        } else if host.starts_with('/') {
            format!("{UNIX_SCHEME}{host}")
        } else {
            return Err(ControlError::InvalidHost { host: host.to_string() });
        };
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ControlError::Runtime)?;
        Ok(Control { host: address.clone(), client: HttpClient::new(address), runtime })
    }

    pub fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, ControlError> {
        let bytes = self.runtime.block_on(self.client.get(path, CALL_TIMEOUT)).map_err(|e| self.explain(e))?;
        serde_json::from_slice(&bytes).map_err(|error| ControlError::MalformedAnswer { path: path.to_string(), error })
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(&mut self, path: &str, body: &B) -> Result<T, ControlError> {
        self.post_with_timeout(path, body, CALL_TIMEOUT)
    }

    /// For init, join and leave, which wait for Raft membership changes.
    pub fn post_slow<B: Serialize, T: DeserializeOwned>(&mut self, path: &str, body: &B) -> Result<T, ControlError> {
        self.post_with_timeout(path, body, MEMBERSHIP_TIMEOUT)
    }

    fn post_with_timeout<B: Serialize, T: DeserializeOwned>(
        &mut self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<T, ControlError> {
        let body = serde_json::to_vec(body).expect("JSON encoding of a request");
        let bytes = self.runtime.block_on(self.client.post(path, body, timeout)).map_err(|e| self.explain(e))?;
        serde_json::from_slice(&bytes).map_err(|error| ControlError::MalformedAnswer { path: path.to_string(), error })
    }

    pub fn view(&mut self) -> Result<ClusterView, ControlError> {
        self.get(PATH_VIEW)
    }

    /// Sleeps without holding the connection's runtime busy (used between progress polls).
    pub fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn explain(&self, error: CallError) -> ControlError {
        match error {
            CallError::Status { status, message, .. } => ControlError::Refused { status, message },
            CallError::Connect { .. } => ControlError::CannotConnect { host: self.host.clone() },
            error => ControlError::Transport { host: self.host.clone(), error },
        }
    }
}
