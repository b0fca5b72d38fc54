//! Docker's `UpdateConfig` (also its `RollbackConfig`): how the rolling updater replaces tasks, with SwarmKit's
//! defaults, and `FailureRatio`, a float compared bitwise so specs stay `Eq` and encode deterministically.

use serde::{Deserialize, Serialize};

use super::keywords::{FailureAction, UpdateOrder};
use super::units::SECOND_NS;

/// Docker's default `UpdateConfig.Monitor` (and `RollbackConfig.Monitor`): 5s.
pub const DEFAULT_UPDATE_MONITOR_NS: u64 = 5 * SECOND_NS;

/// Docker's `UpdateConfig` (also used as `RollbackConfig`). Defaults as SwarmKit's: parallelism 1, no delay,
/// failure action pause, monitor 5s, max failure ratio 0, order stop-first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateConfig {
    /// Tasks updated at once; 0 means all at once.
    pub parallelism: u64,
    /// Delay between batches.
    pub delay_ns: u64,
    pub failure_action: FailureAction,
    /// How long to watch each updated task for failure.
    pub monitor_ns: u64,
    /// Fraction of tasks that may fail before the failure action triggers, in [0, 1].
    pub max_failure_ratio: FailureRatio,
    pub order: UpdateOrder,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            parallelism: 1,
            delay_ns: 0,
            failure_action: FailureAction::Pause,
            monitor_ns: DEFAULT_UPDATE_MONITOR_NS,
            max_failure_ratio: FailureRatio(0.0),
            order: UpdateOrder::StopFirst,
        }
    }
}

/// Docker's `MaxFailureRatio` (a float32). Equality is bitwise, so specs stay `Eq` and encode deterministically.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FailureRatio(pub f32);

impl FailureRatio {
    /// In [0, 1] (NaN is not).
    pub fn is_valid(self) -> bool {
        (0.0..=1.0).contains(&self.0)
    }
}

impl PartialEq for FailureRatio {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for FailureRatio {}
