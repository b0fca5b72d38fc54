//! The flags of `swarm service create` and `swarm service update` as clap declares them, named and documented as
//! `docker service create/update` has them. Values are kept as the raw strings clap saw, and every field is
//! `None`/`false`/empty unless given, so the spec builders parse them with Docker's wording and change only what the
//! user asked for.

use clap::Args;

/// Flags `service create` and `service update` share, with the same meaning (`-d`, `-q` and
/// `--with-registry-auth` aside, which each command declares itself). Every field is `None`/`false` unless
/// given on the command line, so applying them changes only what the user asked for.
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct SharedFlags {
    /// Number of tasks
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub replicas: Option<String>,
    /// Number of job tasks to run concurrently (default equal to --replicas)
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub max_concurrent: Option<String>,
    /// Maximum number of tasks per node (default 0 = unlimited)
    #[arg(long = "replicas-max-per-node", value_name = "uint", allow_hyphen_values = true)]
    pub replicas_max_per_node: Option<String>,

    /// Reserve CPUs
    #[arg(long, value_name = "decimal", allow_hyphen_values = true)]
    pub reserve_cpu: Option<String>,
    /// Reserve Memory
    #[arg(long, value_name = "bytes", allow_hyphen_values = true)]
    pub reserve_memory: Option<String>,
    /// Limit CPUs
    #[arg(long, value_name = "decimal", allow_hyphen_values = true)]
    pub limit_cpu: Option<String>,
    /// Limit Memory
    #[arg(long, value_name = "bytes", allow_hyphen_values = true)]
    pub limit_memory: Option<String>,

    /// Restart when condition is met ("none", "on-failure", "any") (default "any")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub restart_condition: Option<String>,
    /// Delay between restart attempts (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub restart_delay: Option<String>,
    /// Maximum number of restarts before giving up
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub restart_max_attempts: Option<String>,
    /// Window used to evaluate the restart policy (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub restart_window: Option<String>,

    /// Maximum number of tasks updated simultaneously (0 to update all at once) (default 1)
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub update_parallelism: Option<String>,
    /// Delay between updates (ns|us|ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub update_delay: Option<String>,
    /// Action on update failure ("pause", "continue", "rollback") (default "pause")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub update_failure_action: Option<String>,
    /// Duration after each task update to monitor for failure (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub update_monitor: Option<String>,
    /// Failure rate to tolerate during an update (default 0)
    #[arg(long, value_name = "float", allow_hyphen_values = true)]
    pub update_max_failure_ratio: Option<String>,
    /// Update order ("start-first", "stop-first") (default "stop-first")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub update_order: Option<String>,

    /// Maximum number of tasks rolled back simultaneously (0 to roll back all at once) (default 1)
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub rollback_parallelism: Option<String>,
    /// Delay between task rollbacks (ns|us|ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub rollback_delay: Option<String>,
    /// Action on rollback failure ("pause", "continue") (default "pause")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub rollback_failure_action: Option<String>,
    /// Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub rollback_monitor: Option<String>,
    /// Failure rate to tolerate during a rollback (default 0)
    #[arg(long, value_name = "float", allow_hyphen_values = true)]
    pub rollback_max_failure_ratio: Option<String>,
    /// Rollback order ("start-first", "stop-first") (default "stop-first")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub rollback_order: Option<String>,

    /// Time to wait before force killing a container (ns|us|ms|s|m|h) (default 10s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub stop_grace_period: Option<String>,
    /// Container hostname
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub hostname: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long, value_name = "string", allow_hyphen_values = true)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string", allow_hyphen_values = true)]
    pub workdir: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "command", allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Endpoint mode (vip or dnsrr) (default "vip")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub endpoint_mode: Option<String>,

    /// Command to run to check health
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub health_retries: Option<String>,
    /// Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,

    /// Mount the container's root filesystem as read only
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub read_only: Option<String>,
    /// Use an init inside each service container to forward signals and reap processes
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub init: Option<String>,
    /// Signal to stop the container
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub stop_signal: Option<String>,
    /// Add Linux capabilities
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub cap_drop: Vec<String>,
    /// Logging driver for service
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub log_driver: Option<String>,
    /// Logging driver options
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub log_opt: Vec<String>,
}

/// `swarm service create [OPTIONS] IMAGE [COMMAND] [ARG...]`, as `docker service create`.
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct CreateFlags {
    /// Service name
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub name: Option<String>,
    /// Service mode ("replicated", "global", "replicated-job", "global-job") (default "replicated")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub mode: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long, value_name = "list", allow_hyphen_values = true)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub env_file: Vec<String>,
    /// Service labels
    #[arg(short = 'l', long, value_name = "list", allow_hyphen_values = true)]
    pub label: Vec<String>,
    /// Container labels
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub container_label: Vec<String>,
    /// Placement constraints
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub constraint: Vec<String>,
    /// Add a placement preference
    #[arg(long, value_name = "pref", allow_hyphen_values = true)]
    pub placement_pref: Vec<String>,
    /// Publish a port as a node port
    #[arg(short = 'p', long, value_name = "port", allow_hyphen_values = true)]
    pub publish: Vec<String>,
    /// Attach a filesystem mount to the service
    #[arg(long, value_name = "mount", allow_hyphen_values = true)]
    pub mount: Vec<String>,
    /// Network attachments
    #[arg(long, value_name = "network", allow_hyphen_values = true)]
    pub network: Vec<String>,
    /// Set custom DNS servers
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub dns_search: Vec<String>,
    /// Set one or more custom host-to-IP mappings (host:ip)
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub host: Vec<String>,
    /// Sysctl options
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub sysctl: Vec<String>,
    /// Ulimit options
    #[arg(long, value_name = "ulimit", allow_hyphen_values = true)]
    pub ulimit: Vec<String>,
    /// Specify secrets to expose to the service
    #[arg(long, value_name = "secret", allow_hyphen_values = true)]
    pub secret: Vec<String>,
    /// Specify configurations to expose to the service
    #[arg(long, value_name = "config", allow_hyphen_values = true)]
    pub config: Vec<String>,
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Suppress progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Send registry authentication details to swarm agents (accepted; has no effect)
    #[arg(long)]
    pub with_registry_auth: bool,
    #[command(flatten)]
    pub shared: SharedFlags,
    /// The image, then the command and its arguments
    // Flags end at IMAGE, as with Docker (`create --name x img sh -c 'echo hi'`): one trailing positional holds
    // both so that clap stops parsing flags there too. Read them with `image()` and `command()`.
    #[arg(
        value_name = "IMAGE",
        value_names = ["IMAGE", "COMMAND"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

impl CreateFlags {
    /// The IMAGE positional.
    pub fn image(&self) -> &str {
        self.image_and_command.first().map_or("", String::as_str)
    }

    /// COMMAND and ARGS: everything after IMAGE.
    pub fn command(&self) -> &[String] {
        self.image_and_command.get(1..).unwrap_or(&[])
    }

    /// `(IMAGE, COMMAND and ARGS)`, the last two arguments of `spec_from_create`.
    pub fn image_and_args(&self) -> (&str, &[String]) {
        (self.image(), self.command())
    }
}

/// The flags of `swarm service update [OPTIONS] SERVICE`, as `docker service update` (the SERVICE positional is the
/// caller's).
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct UpdateFlags {
    /// Service image tag
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub image: Option<String>,
    /// Service command args
    #[arg(long, value_name = "command", allow_hyphen_values = true)]
    pub args: Option<String>,
    /// Force update even if no changes require it
    #[arg(long)]
    pub force: bool,
    /// Rollback to previous specification
    #[arg(long)]
    pub rollback: bool,
    /// Add or update an environment variable
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub env_add: Vec<String>,
    /// Remove an environment variable
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub env_rm: Vec<String>,
    /// Add or update a service label
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub label_add: Vec<String>,
    /// Remove a label by its key
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub label_rm: Vec<String>,
    /// Add or update a container label
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub container_label_add: Vec<String>,
    /// Remove a container label by its key
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub container_label_rm: Vec<String>,
    /// Add or update a placement constraint
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub constraint_add: Vec<String>,
    /// Remove a constraint
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub constraint_rm: Vec<String>,
    /// Add a placement preference
    #[arg(long, value_name = "pref", allow_hyphen_values = true)]
    pub placement_pref_add: Vec<String>,
    /// Remove a placement preference
    #[arg(long, value_name = "pref", allow_hyphen_values = true)]
    pub placement_pref_rm: Vec<String>,
    /// Add or update a published port
    #[arg(long, value_name = "port", allow_hyphen_values = true)]
    pub publish_add: Vec<String>,
    /// Remove a published port by its target port
    #[arg(long, value_name = "port", allow_hyphen_values = true)]
    pub publish_rm: Vec<String>,
    /// Add or update a mount on a service
    #[arg(long, value_name = "mount", allow_hyphen_values = true)]
    pub mount_add: Vec<String>,
    /// Remove a mount by its target path
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub mount_rm: Vec<String>,
    /// Add a network
    #[arg(long, value_name = "network", allow_hyphen_values = true)]
    pub network_add: Vec<String>,
    /// Remove a network
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub network_rm: Vec<String>,
    /// Add or update a custom DNS server
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub dns_add: Vec<String>,
    /// Remove a custom DNS server
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub dns_rm: Vec<String>,
    /// Add or update a DNS option
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub dns_option_add: Vec<String>,
    /// Remove a DNS option
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub dns_option_rm: Vec<String>,
    /// Add or update a custom DNS search domain
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub dns_search_add: Vec<String>,
    /// Remove a DNS search domain
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub dns_search_rm: Vec<String>,
    /// Add a custom host-to-IP mapping ("host:ip")
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub host_add: Vec<String>,
    /// Remove a custom host-to-IP mapping ("host:ip")
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub host_rm: Vec<String>,
    /// Add or update a Sysctl option
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub sysctl_add: Vec<String>,
    /// Remove a Sysctl option
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub sysctl_rm: Vec<String>,
    /// Add or update a ulimit option
    #[arg(long, value_name = "ulimit", allow_hyphen_values = true)]
    pub ulimit_add: Vec<String>,
    /// Remove a ulimit option
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub ulimit_rm: Vec<String>,
    /// Add or update a secret on a service
    #[arg(long, value_name = "secret", allow_hyphen_values = true)]
    pub secret_add: Vec<String>,
    /// Remove a secret
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub secret_rm: Vec<String>,
    /// Add or update a config file on a service
    #[arg(long, value_name = "config", allow_hyphen_values = true)]
    pub config_add: Vec<String>,
    /// Remove a configuration file
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub config_rm: Vec<String>,
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Suppress progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Send registry authentication details to swarm agents (accepted; has no effect)
    #[arg(long)]
    pub with_registry_auth: bool,
    #[command(flatten)]
    pub shared: SharedFlags,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::parse::testing::strings;
    use crate::service_flags::testing::{create_flags, CreateCli, UpdateCli};

    #[test]
    fn clap_definitions_are_consistent() {
        CreateCli::command().debug_assert();
        UpdateCli::command().debug_assert();
        // Unknown flags before IMAGE are still errors; IMAGE is required.
        assert!(CreateCli::try_parse_from(["create", "--nmae", "x", "img"]).is_err());
        assert!(CreateCli::try_parse_from(["create", "--name", "x"]).is_err());
        // `service update` takes flags after SERVICE, as Docker does.
        let cli = UpdateCli::try_parse_from(["update", "web", "--replicas", "3", "-d"]).unwrap();
        assert_eq!(
            (cli.service.as_str(), cli.flags.shared.replicas.as_deref(), cli.flags.detach),
            ("web", Some("3"), true)
        );
        // Values may start with a hyphen, as pflag allows.
        let flags = create_flags(&["--name", "x", "--update-delay", "-1s", "-e", "-X=1", "img"]);
        assert_eq!(flags.shared.update_delay.as_deref(), Some("-1s"));
        assert_eq!(flags.env, strings(&["-X=1"]));
        assert_eq!(flags.image(), "img");
        let flags = create_flags(&["-d", "-q", "--with-registry-auth", "img", "a", "b"]);
        assert!(flags.detach && flags.quiet && flags.with_registry_auth);
        assert_eq!(flags.image_and_args(), ("img", &strings(&["a", "b"])[..]));
    }
}
