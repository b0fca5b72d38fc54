//! Docker-compatible rendering of listings and inspections. Every renderer is a pure function from a
//! `ClusterView` (plus the command's options) to the text Docker Swarm would print, byte for byte: the same
//! column alignment (`table`), the same words and capitalisation, the same relative times measured from the
//! view's `now` (`time`), the same id truncation and lookup rules (`ids`), the same sort orders. Nothing here does
//! I/O or reads a clock, so the output of a view is reproducible and can be checked against golden files.

// The command wiring in `main.rs` calls these renderers; until every one of them is wired, some are unused.
#![allow(dead_code)]

pub mod file_objects;
pub mod ids;
pub mod inspect;
pub mod json;
pub mod network;
pub mod node_inspect_pretty;
pub mod node_ls;
pub mod service_inspect_pretty;
pub mod service_ls;
pub mod service_ps;
pub mod table;
pub mod template;
pub mod text;
pub mod time;

#[cfg(test)]
mod tests;
