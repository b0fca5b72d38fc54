//! The units the spec counts in. Durations are `u64` nanoseconds (fields ending `_ns`), as Docker's JSON carries
//! them.

/// One second, in nanoseconds.
pub const SECOND_NS: u64 = 1_000_000_000;
