//! Helpers for the tests of the service flags: the flags parsed as the commands wire them, and the spec builders
//! run against the fixed test environment.

use clap::Parser;
use swarm_core::spec::ServiceSpec;

use super::create::create_with_env;
use super::flags::{CreateFlags, UpdateFlags};
use super::update::update_with_env;
use crate::parse::testing::test_env;

#[derive(Parser, Debug)]
pub(crate) struct CreateCli {
    #[command(flatten)]
    pub(crate) flags: CreateFlags,
}

/// Wired as the service command wires it: the SERVICE positional beside the flattened flags.
#[derive(Parser, Debug)]
pub(crate) struct UpdateCli {
    #[command(flatten)]
    pub(crate) flags: UpdateFlags,
    pub(crate) service: String,
}

pub(crate) fn create_flags(argv: &[&str]) -> CreateFlags {
    let argv = std::iter::once("create").chain(argv.iter().copied());
    CreateCli::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}")).flags
}

pub(crate) fn create(argv: &[&str]) -> Result<ServiceSpec, String> {
    let flags = create_flags(argv);
    create_with_env(&flags, flags.image(), flags.command(), &test_env).map_err(|e| e.to_string())
}

pub(crate) fn update(current: &ServiceSpec, argv: &[&str]) -> Result<ServiceSpec, String> {
    let argv = std::iter::once("update").chain(argv.iter().copied()).chain(["web"]);
    let flags = UpdateCli::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}")).flags;
    update_with_env(current, &flags, &test_env).map_err(|e| e.to_string())
}
