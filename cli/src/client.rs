//! The CLI's side of the control API: which daemon to talk to (`-H`/`SWARM_HOST`, like `DOCKER_HOST`), and calls
//! that turn every failure into the message the user sees — `Error response from daemon: …` for the daemon's
//! refusals, Docker's "Cannot connect" sentence when nothing answers. Invariant: no call waits forever; each has a
//! deadline long enough for the slowest legitimate operation it makes.

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

/// The flags every `ls` takes.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only display IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output: "table", "json", or a Go template (`{{.Name}}`, `table {{.ID}}\t{{.Image}}`).
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// The flags every task table (`node ps`, `service ps`) takes.
#[derive(clap::Args, Debug)]
pub struct TaskTableArgs {
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only display task IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided.
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Format output: "table", "json", or a Go template (`{{.Name}}\t{{.CurrentState}}`).
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// How an `ls` prints: its `--format`, checked before any call, except that `-q` wins (as in Docker) and prints
/// the ids through the command's own renderer.
pub fn list_format(args: &ListArgs) -> Result<crate::render::template::OutputFormat, String> {
    let format = crate::render::template::OutputFormat::parse(&args.format)?;
    Ok(if args.quiet { crate::render::template::OutputFormat::Table } else { format })
}

/// Acts on each of `references` in turn, as Docker's `rm` commands do: each success prints its reference, and
/// the failures are reported together at the end (exit status 1) after every reference was tried.
pub fn for_each_reference<T>(
    references: &[String],
    mut act: impl FnMut(&str) -> Result<T, String>,
) -> Result<(), String> {
    let mut failures = Vec::new();
    for reference in references {
        match act(reference) {
            Ok(_) => println!("{reference}"),
            Err(message) => failures.push(message),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// The options of a task table from its flags; a bad filter or template is an error before any call.
pub fn ps_options(args: &TaskTableArgs) -> Result<crate::render::service_ps::PsOptions, String> {
    Ok(crate::render::service_ps::PsOptions {
        no_trunc: args.no_trunc,
        quiet: args.quiet,
        filters: crate::render::service_ps::parse_filters(&args.filter)?,
        format: crate::render::template::OutputFormat::parse(&args.format)?,
    })
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
    pub fn new(host: &str) -> Result<Control, String> {
        let address = if host.starts_with(UNIX_SCHEME) {
            host.to_string()
        } else if host.starts_with('/') {
            format!("{UNIX_SCHEME}{host}")
        } else {
            return Err(format!("invalid -H {host:?}: the control API is a unix socket (unix:///path)"));
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        Ok(Control { host: address.clone(), client: HttpClient::new(address), runtime })
    }

    pub fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, String> {
        let bytes = self.runtime.block_on(self.client.get(path, CALL_TIMEOUT)).map_err(|e| self.explain(e))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("malformed answer from the daemon for {path}: {e}"))
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(&mut self, path: &str, body: &B) -> Result<T, String> {
        self.post_with_timeout(path, body, CALL_TIMEOUT)
    }

    /// For init, join and leave, which wait for Raft membership changes.
    pub fn post_slow<B: Serialize, T: DeserializeOwned>(&mut self, path: &str, body: &B) -> Result<T, String> {
        self.post_with_timeout(path, body, MEMBERSHIP_TIMEOUT)
    }

    fn post_with_timeout<B: Serialize, T: DeserializeOwned>(
        &mut self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<T, String> {
        let body = serde_json::to_vec(body).expect("JSON encoding of a request");
        let bytes = self.runtime.block_on(self.client.post(path, body, timeout)).map_err(|e| self.explain(e))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("malformed answer from the daemon for {path}: {e}"))
    }

    pub fn view(&mut self) -> Result<ClusterView, String> {
        self.get(PATH_VIEW)
    }

    /// Sleeps without holding the connection's runtime busy (used between progress polls).
    pub fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn explain(&self, error: CallError) -> String {
        match error {
            CallError::Status { message, .. } => format!("Error response from daemon: {message}"),
            CallError::Connect { .. } => {
                format!("Cannot connect to the swarm daemon at {}. Is the swarm daemon running?", self.host)
            }
            other => format!("Error talking to the swarm daemon at {}: {other}", self.host),
        }
    }
}
