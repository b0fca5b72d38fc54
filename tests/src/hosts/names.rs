//! The names a run gives what it creates, all derived from its run id `swt-<pid>-<seq>`, and their parsing back
//! to `(pid, seq)`: the sweeper removes only what parses, and only when that pid is no longer alive.
//! Root-namespace link names must fit Linux's 15 bytes: `swt` + a pid (at most 7 digits, pid_max is 2^22) + `-` +
//! a sequence number below [`SEQ_LIMIT`].

use std::path::PathBuf;

/// Sequence numbers of runs within one process stay below this (4 digits).
pub const SEQ_LIMIT: u32 = 10_000;
/// Where `ip netns` keeps its namespace files.
pub const NETNS_DIR: &str = "/var/run/netns";

/// Names of one run's resources.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunNames {
    pub pid: u32,
    pub seq: u32,
}

impl RunNames {
    pub fn new(pid: u32, seq: u32) -> RunNames {
        assert!(seq < SEQ_LIMIT, "more than {SEQ_LIMIT} test-host runs in one process");
        RunNames { pid, seq }
    }

    /// `swt-<pid>-<seq>`.
    pub fn id(&self) -> String {
        format!("swt-{}-{}", self.pid, self.seq)
    }

    /// The run's directory: `<tmp>/swt-<pid>-<seq>`.
    pub fn dir(&self) -> PathBuf {
        runs_dir().join(self.id())
    }

    /// The namespace of the underlay bridge.
    pub fn underlay_netns(&self) -> String {
        format!("{}-ul", self.id())
    }

    /// The namespace of host `name` (which ends in a digit, so never `ul`).
    pub fn host_netns(&self, name: &str) -> String {
        format!("{}-{name}", self.id())
    }

    /// The root-namespace end of the veth into the underlay: `swt<pid>-<seq>` (at most 15 bytes).
    pub fn root_link(&self) -> String {
        let name = format!("swt{}-{}", self.pid, self.seq);
        assert!(name.len() <= 15, "interface name {name} is longer than 15 bytes");
        name
    }

    /// The run a namespace name `swt-<pid>-<seq>-<rest>` belongs to.
    pub fn of_netns(name: &str) -> Option<RunNames> {
        let (pid, rest) = name.strip_prefix("swt-")?.split_once('-')?;
        let (seq, rest) = rest.split_once('-')?;
        (!rest.is_empty()).then_some(())?;
        RunNames::parse(pid, seq)
    }

    /// The run a directory name `swt-<pid>-<seq>` belongs to.
    pub fn of_dir(name: &str) -> Option<RunNames> {
        let (pid, seq) = name.strip_prefix("swt-")?.split_once('-')?;
        RunNames::parse(pid, seq)
    }

    /// The run a root-namespace link name `swt<pid>-<seq>` belongs to.
    pub fn of_root_link(name: &str) -> Option<RunNames> {
        let (pid, seq) = name.strip_prefix("swt")?.split_once('-')?;
        RunNames::parse(pid, seq)
    }

    fn parse(pid: &str, seq: &str) -> Option<RunNames> {
        let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(pid) || !digits(seq) {
            return None;
        }
        let names = RunNames { pid: pid.parse().ok()?, seq: seq.parse().ok()? };
        (names.seq < SEQ_LIMIT).then_some(names)
    }
}

/// Where run directories live.
pub fn runs_dir() -> PathBuf {
    std::env::temp_dir()
}

/// `/var/run/netns/<name>`.
pub fn netns_path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_to_their_run_and_nothing_else_does() {
        let run = RunNames::new(4_194_304, 9_999);
        assert_eq!(run.root_link(), "swt4194304-9999");
        assert_eq!(RunNames::of_netns(&run.host_netns("web1")), Some(run.clone()));
        assert_eq!(RunNames::of_netns(&run.underlay_netns()), Some(run.clone()));
        assert_eq!(RunNames::of_dir(&run.id()), Some(run.clone()));
        assert_eq!(RunNames::of_root_link(&run.root_link()), Some(run.clone()));
        for stranger in ["swt-12-3", "swt-12--x", "swt-a-1-h1", "swt-1-10000-h1", "swt--1-h1", "docker0", "swtx-1"] {
            assert_eq!(RunNames::of_netns(stranger), None, "{stranger}");
        }
        for stranger in ["swt-12-3-h1", "swt-12-", "swt-1-2x", "swt1-2", "swarm-e2e-1-x"] {
            assert_eq!(RunNames::of_dir(stranger), None, "{stranger}");
        }
        for stranger in ["swt-1-2", "swt1-", "swt1-2-3", "swtx-1", "eth0", "veth12ab"] {
            assert_eq!(RunNames::of_root_link(stranger), None, "{stranger}");
        }
    }
}
