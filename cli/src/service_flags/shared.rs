//! What `service create` and `service update` share when they build a spec: applying the flags both take (resources,
//! restart policy, container settings, healthcheck, endpoint mode, update and rollback configs), reading env files,
//! and pflag's wording for a value a flag rejects: `invalid argument "5x" for "--restart-delay" flag: <problem>`.

use std::collections::BTreeMap;

use swarm_core::spec::{FailureRatio, HealthConfig, ServiceSpec, UpdateConfig};

use super::error::SpecFlagsError;
use super::flags::SharedFlags;
use crate::parse::{
    parse_duration, parse_env_file, parse_float32, parse_int, parse_keyword, parse_label, parse_memory_bytes,
    parse_nano_cpus, parse_uint, split_shell_words, FlagError, ValueError,
};

/// Looks a variable up in the CLI's environment (injectable so tests do not depend on the process's).
pub(super) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(super) fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Applies the flags both commands take onto `spec` (the mode flags aside): only those given change anything.
pub(super) fn apply_shared(spec: &mut ServiceSpec, s: &SharedFlags) -> Result<(), SpecFlagsError> {
    let task = &mut spec.task_template;
    if let Some(value) = given("--replicas-max-per-node", &s.replicas_max_per_node, parse_uint)? {
        task.placement.max_replicas = value;
    }
    let resources = &mut task.resources;
    set(&mut resources.reservations.nano_cpus, given("--reserve-cpu", &s.reserve_cpu, parse_nano_cpus)?);
    set(&mut resources.reservations.memory_bytes, given("--reserve-memory", &s.reserve_memory, parse_memory_bytes)?);
    set(&mut resources.limits.nano_cpus, given("--limit-cpu", &s.limit_cpu, parse_nano_cpus)?);
    set(&mut resources.limits.memory_bytes, given("--limit-memory", &s.limit_memory, parse_memory_bytes)?);

    let restart = &mut task.restart_policy;
    set(&mut restart.condition, given("--restart-condition", &s.restart_condition, parse_keyword)?);
    set(&mut restart.delay_ns, given("--restart-delay", &s.restart_delay, parse_duration)?);
    set(&mut restart.max_attempts, given("--restart-max-attempts", &s.restart_max_attempts, parse_uint)?);
    set(&mut restart.window_ns, given("--restart-window", &s.restart_window, parse_duration)?);

    let container = &mut task.container_spec;
    set(&mut container.stop_grace_period_ns, given("--stop-grace-period", &s.stop_grace_period, parse_duration)?);
    set(&mut container.hostname, s.hostname.clone());
    set(&mut container.user, s.user.clone());
    set(&mut container.dir, s.workdir.clone());
    set(&mut container.command, given("--entrypoint", &s.entrypoint, split_shell_words)?);
    container.healthcheck = apply_health(container.healthcheck.take(), s)?;

    let endpoint_mode = given("--endpoint-mode", &s.endpoint_mode, |text| parse_keyword(&text.to_lowercase()))?;
    set(&mut spec.endpoint_spec.mode, endpoint_mode);

    let update = UpdateConfigFlags {
        prefix: "update",
        parallelism: &s.update_parallelism,
        delay: &s.update_delay,
        failure_action: &s.update_failure_action,
        monitor: &s.update_monitor,
        max_failure_ratio: &s.update_max_failure_ratio,
        order: &s.update_order,
    };
    update.apply(&mut spec.update_config)?;
    let rollback = UpdateConfigFlags {
        prefix: "rollback",
        parallelism: &s.rollback_parallelism,
        delay: &s.rollback_delay,
        failure_action: &s.rollback_failure_action,
        monitor: &s.rollback_monitor,
        max_failure_ratio: &s.rollback_max_failure_ratio,
        order: &s.rollback_order,
    };
    rollback.apply(&mut spec.rollback_config)?;
    Ok(())
}

pub(super) fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// The six `--update-*` (or `--rollback-*`) flags.
struct UpdateConfigFlags<'a> {
    prefix: &'static str,
    parallelism: &'a Option<String>,
    delay: &'a Option<String>,
    failure_action: &'a Option<String>,
    monitor: &'a Option<String>,
    max_failure_ratio: &'a Option<String>,
    order: &'a Option<String>,
}

impl UpdateConfigFlags<'_> {
    /// If any flag is given, starts from the spec's config (or SwarmKit's defaults) and sets those given.
    fn apply(&self, config: &mut Option<UpdateConfig>) -> Result<(), FlagError> {
        let fields =
            [self.parallelism, self.delay, self.failure_action, self.monitor, self.max_failure_ratio, self.order];
        if fields.iter().all(|field| field.is_none()) {
            return Ok(());
        }
        let flag = |name: &str| format!("--{}-{name}", self.prefix);
        let config = config.get_or_insert_with(UpdateConfig::default);
        set(&mut config.parallelism, given(&flag("parallelism"), self.parallelism, parse_uint)?);
        set(&mut config.delay_ns, given(&flag("delay"), self.delay, parse_duration)?);
        set(&mut config.failure_action, given(&flag("failure-action"), self.failure_action, parse_keyword)?);
        set(&mut config.monitor_ns, given(&flag("monitor"), self.monitor, parse_duration)?);
        set(
            &mut config.max_failure_ratio,
            given(&flag("max-failure-ratio"), self.max_failure_ratio, parse_float32)?.map(FailureRatio),
        );
        set(&mut config.order, given(&flag("order"), self.order, parse_keyword)?);
        Ok(())
    }
}

/// Docker's healthcheck flags on top of `current`: `--no-healthcheck` alone disables it (`["NONE"]`) and conflicts
/// with any `--health-*`; otherwise a given setting replaces its field, clearing a `NONE` test, and
/// `--health-cmd CMD` becomes `["CMD-SHELL", CMD]` (an empty one inherits the image's test).
pub(super) fn apply_health(
    current: Option<HealthConfig>,
    s: &SharedFlags,
) -> Result<Option<HealthConfig>, SpecFlagsError> {
    let settings = [&s.health_cmd, &s.health_interval, &s.health_timeout, &s.health_retries, &s.health_start_period];
    let any_setting = settings.iter().any(|setting| setting.is_some());
    if s.no_healthcheck {
        if any_setting {
            return Err(SpecFlagsError::NoHealthcheckWithHealthFlags);
        }
        return Ok(Some(HealthConfig { test: vec!["NONE".to_string()], ..HealthConfig::default() }));
    }
    if !any_setting {
        return Ok(current);
    }
    let mut health = current.unwrap_or_default();
    if health.test.first().map(String::as_str) == Some("NONE") {
        health.test.clear();
    }
    set(&mut health.interval_ns, given("--health-interval", &s.health_interval, parse_duration)?);
    set(&mut health.timeout_ns, given("--health-timeout", &s.health_timeout, parse_duration)?);
    set(&mut health.start_period_ns, given("--health-start-period", &s.health_start_period, parse_duration)?);
    let retries = given("--health-retries", &s.health_retries, |text| {
        let retries = parse_int(text)?;
        u64::try_from(retries).map_err(|_| ValueError::NegativeRetries)
    })?;
    set(&mut health.retries, retries);
    if let Some(cmd) = &s.health_cmd {
        health.test = if cmd.is_empty() { Vec::new() } else { vec!["CMD-SHELL".to_string(), cmd.clone()] };
    }
    Ok(Some(health))
}

/// Parses an optional flag value; a refusal names the flag and the value (`FlagError`, pflag's wording).
pub(super) fn given<T, E: Into<ValueError>>(
    flag: &str,
    value: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, FlagError> {
    value.as_deref().map(|text| parse(text).map_err(|problem| FlagError::new(flag, text, problem))).transpose()
}

/// Every label of a repeated flag (`flag` as pflag prints it); a later key wins.
pub(super) fn parse_labels(flag: &str, texts: &[String]) -> Result<BTreeMap<String, String>, FlagError> {
    texts.iter().map(|text| parse_label(text).map_err(|e| FlagError::new(flag, text, e))).collect()
}

/// Reads one `--env-file` (see `parse_env_file`); errors name the flag, the file and the line.
pub(super) fn read_env_file(path: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, FlagError> {
    let contents = std::fs::read(path)
        .map_err(|error| FlagError::new("--env-file", path, ValueError::Open { path: path.to_string(), error }))?;
    parse_env_file(&contents, env).map_err(|e| FlagError::new("--env-file", path, e))
}

/// `parse_duration` for the value of `flag`, failing with pflag's wording:
/// `invalid argument "5x" for "--restart-delay" flag: time: unknown unit "x" in duration "5x"`.
pub fn parse_duration_ns(text: &str, flag: &str) -> Result<u64, FlagError> {
    parse_duration(text).map_err(|problem| FlagError::new(flag, text, problem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::testing::{strings, test_env};

    #[test]
    fn env_file_errors_name_flag_file_and_line() {
        let path = std::env::temp_dir().join(format!("swarm-service-flags-{}.env", std::process::id()));
        std::fs::write(&path, "A=1\nB C=2\n").unwrap();
        let path_text = path.to_str().unwrap().to_string();
        let error = read_env_file(&path_text, &test_env).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "invalid argument {path_text:?} for \"--env-file\" flag: line 2: variable 'B C' contains whitespaces"
            )
        );
        std::fs::write(&path, "A=1\nHOME\n").unwrap();
        assert_eq!(
            read_env_file(&path_text, &test_env).map_err(|e| e.to_string()),
            Ok(strings(&["A=1", "HOME=/root"]))
        );
        std::fs::remove_file(&path).unwrap();
        let error = read_env_file(&path_text, &test_env).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("invalid argument {path_text:?} for \"--env-file\" flag: open ")),
            "{error}"
        );
    }

    #[test]
    fn duration_flags_use_pflag_wording() {
        assert_eq!(parse_duration_ns("1.5s", "--dispatcher-heartbeat").map_err(|e| e.to_string()), Ok(1_500_000_000));
        assert_eq!(
            parse_duration_ns("5x", "--restart-delay").map_err(|e| e.to_string()),
            Err(r#"invalid argument "5x" for "--restart-delay" flag: time: unknown unit "x" in duration "5x""#
                .to_string())
        );
    }
}
