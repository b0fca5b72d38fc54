//! `stack ls` (NAME SERVICES), `stack services NAME` (the `service ls` table of the stack's services) and
//! `stack ps NAME` (the `service ps` table of their tasks, with its filters): the leader's view narrowed to one
//! stack, then the renderers `service ls` and `service ps` use, so the columns and formats are theirs.

use clap::Args;
use serde::Serialize;
use swarm_core::stack::changes::{owned_by, stacks};
use swarm_runtime::control::view::ClusterView;

use super::StackError;
use crate::args::{ListArgs, TaskTableArgs};
use crate::client::Control;
use crate::error::CliError;
use crate::render;
use crate::render::table::Table;

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Format output: "table", "json", or a Go template (`{{.Name}}`, `table {{.Name}}\t{{.Services}}`).
    #[arg(long, default_value = "table")]
    format: String,
}

#[derive(Args, Debug)]
pub struct ServicesArgs {
    #[command(flatten)]
    list: ListArgs,
    stack: String,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    #[command(flatten)]
    table: TaskTableArgs,
    stack: String,
}

/// One row, with the field names of `docker stack ls --format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StackRow {
    name: String,
    services: String,
}

pub fn ls(control: &mut Control, args: &LsArgs) -> Result<(), CliError> {
    let format = render::template::OutputFormat::parse(&args.format)?;
    let view = control.view()?;
    let rows: Vec<StackRow> = stacks(&view.services)
        .into_iter()
        .map(|(name, count)| StackRow { name, services: count.to_string() })
        .collect();
    let output = format.print(rows, |rows| {
        let mut table = Table::new(["NAME", "SERVICES"]);
        for row in rows {
            table.row([row.name, row.services]);
        }
        table.render()
    })?;
    print!("{output}");
    Ok(())
}

pub fn services(control: &mut Control, args: &ServicesArgs) -> Result<(), CliError> {
    let format = crate::args::list_format(&args.list)?;
    let view = stack_view(control.view()?, &args.stack)?;
    let options = render::service_ls::ServiceLsOptions { quiet: args.list.quiet };
    let rows = render::service_ls::rows(&view);
    print!("{}", format.print(rows, |_| render::service_ls::render(&view, &options))?);
    Ok(())
}

pub fn ps(control: &mut Control, args: &PsArgs) -> Result<(), CliError> {
    let options = crate::args::ps_options(&args.table)?;
    let view = stack_view(control.view()?, &args.stack)?;
    if view.tasks.is_empty() {
        return Err(StackError::NothingFound { stack: args.stack.clone() }.into());
    }
    let ids: Vec<String> = view.services.iter().map(|service| service.id.clone()).collect();
    let output = render::service_ps::render(&view, &ids, &options)?;
    print!("{}", output.stdout);
    Ok(())
}

/// The view with only the services of `stack` and their tasks; "Nothing found in stack" when it has none.
fn stack_view(mut view: ClusterView, stack: &str) -> Result<ClusterView, StackError> {
    view.services.retain(|service| owned_by(&service.spec.labels, stack));
    if view.services.is_empty() {
        return Err(StackError::NothingFound { stack: stack.to_string() });
    }
    let services = &view.services;
    view.tasks.retain(|task| services.iter().any(|service| service.id == task.service_id));
    Ok(view)
}
