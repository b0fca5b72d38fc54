//! The flags several commands share and what they mean: the `ls` flags and their `--format`, the task-table flags
//! of `service ps` and `node ps` (checked before any call), and how the `rm` commands act on each reference in turn
//! and report every failure at the end, as Docker's do.

use crate::error::CliError;
use crate::render::service_ps::{parse_filters, PsOptions};
use crate::render::template::{OutputFormat, TemplateError};

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
pub fn list_format(args: &ListArgs) -> Result<OutputFormat, TemplateError> {
    let format = OutputFormat::parse(&args.format)?;
    Ok(if args.quiet { OutputFormat::Table } else { format })
}

/// The output flags every `inspect` takes.
#[derive(clap::Args, Debug)]
pub struct InspectFormatArgs {
    /// Format output using a custom template: "json" or a Go template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Print the information in a human friendly format.
    #[arg(long)]
    pub pretty: bool,
}

impl InspectFormatArgs {
    /// The `--format`, checked before any call (`inspect_format`).
    pub fn format(&self) -> Result<Option<OutputFormat>, CliError> {
        inspect_format(self.format.as_deref(), self.pretty)
    }
}

/// The `--format` of an `inspect`, checked before any call; Docker refuses it beside `--pretty`.
pub fn inspect_format(format: Option<&str>, pretty: bool) -> Result<Option<OutputFormat>, CliError> {
    match format {
        Some(_) if pretty => Err(CliError::FormatWithPretty),
        Some(format) => Ok(Some(OutputFormat::parse(format)?)),
        None => Ok(None),
    }
}

/// What an `inspect` prints: an indented JSON array without `--format` (or with `table`), else one line per object
/// from the template (`json` being `{{json .}}`).
pub fn print_inspected<T: serde::Serialize + Default>(
    format: Option<OutputFormat>,
    inspected: Vec<T>,
) -> Result<String, CliError> {
    Ok(match format {
        None | Some(OutputFormat::Table) => crate::render::json::inspect(&inspected)?,
        Some(format) => format.print(inspected, |_| String::new())?,
    })
}

/// Acts on each of `references` in turn, as Docker's `rm` commands do: each success prints its reference, and
/// the failures are reported together at the end (exit status 1) after every reference was tried.
pub fn for_each_reference<T>(
    references: &[String],
    mut act: impl FnMut(&str) -> Result<T, CliError>,
) -> Result<(), CliError> {
    let mut failures = Vec::new();
    for reference in references {
        match act(reference) {
            Ok(_) => println!("{reference}"),
            Err(error) => failures.push(error),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Several(failures))
    }
}

/// The options of a task table from its flags; a bad filter or template is an error before any call.
pub fn ps_options(args: &TaskTableArgs) -> Result<PsOptions, CliError> {
    Ok(PsOptions {
        no_trunc: args.no_trunc,
        quiet: args.quiet,
        filters: parse_filters(&args.filter)?,
        format: OutputFormat::parse(&args.format)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inspect_format_is_checked_before_any_call() {
        assert!(matches!(inspect_format(Some("{{.ID}}"), true), Err(CliError::FormatWithPretty)));
        assert_eq!(
            inspect_format(Some("{{.ID}}"), true).unwrap_err().to_string(),
            "--format is incompatible with human friendly format"
        );
        assert!(matches!(inspect_format(Some("{{.Spec.Name"), false), Err(CliError::Template(_))));
        assert!(matches!(inspect_format(Some("{{range .}}x{{end}}"), false), Err(CliError::Template(_))));
        assert!(matches!(inspect_format(None, true), Ok(None)));
        assert!(matches!(inspect_format(Some("json"), false), Ok(Some(OutputFormat::Json))));
    }
}
