//! Docker-compatible parsers of flag values: numbers, durations, memory sizes and CPUs as Go and pflag read them,
//! shell words, CSV fields, labels, environment entries and env files, published ports, mounts, network
//! attachments, secret and config references, keyword settings, placement preferences and the container options
//! (ulimits, DNS servers and search domains, extra hosts, sysctls, log options, pflag booleans). Each parser takes
//! the text clap saw and returns the exact value or a typed refusal whose message is Docker's (`time: unknown unit
//! "x" in duration "5x"`); a caller names the flag with `FlagError`, pflag's wording. Nothing here reads the
//! process's environment or files: callers pass what they read.

mod container_options;
mod duration;
mod env;
mod files;
mod flag;
mod mounts;
mod networks;
mod numbers;
mod ports;
mod spec_values;
mod words;

#[cfg(test)]
pub(crate) mod testing;

pub use container_options::{
    parse_bool, parse_dns_search, parse_extra_host, parse_ip_address, parse_key_value, parse_log_opt, parse_ulimit,
};
pub use duration::parse_duration;
pub use env::{env_key, merge_env, parse_env, parse_env_file};
pub use files::{parse_config, parse_secret};
pub use flag::{FlagError, ValueError};
pub use mounts::parse_mount;
pub use networks::parse_network;
pub use numbers::{parse_float32, parse_int, parse_memory_bytes, parse_nano_cpus, parse_uint};
pub use ports::parse_port_spec;
pub use spec_values::{parse_keyword, parse_placement_pref};
pub use words::{parse_label, split_shell_words};
