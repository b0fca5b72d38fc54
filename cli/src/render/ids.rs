//! Ids as Docker shows and accepts them. Tables show the first 12 characters of a service or task id
//! (`truncate_id`, Docker's `stringid.TruncateID`) unless `--no-trunc` (or `-q`, which prints full ids) is given;
//! `node ls` always shows the full 25-character node id. `resolve` finds the one object a user named the way
//! Docker's `service ps` does: an exact id first, then an exact name, then a unique id prefix. A prefix shared by
//! several objects, or a name several nodes share, is ambiguous; nothing matching is "no such service: x".

use std::fmt;

/// How many characters of an id tables show.
pub const SHORT_ID_LEN: usize = 12;

/// Docker's `TruncateID`: the part after an `algorithm:` prefix, cut to 12 characters.
pub fn truncate_id(id: &str) -> &str {
    let id = id.split_once(':').map_or(id, |(_, rest)| rest);
    match id.char_indices().nth(SHORT_ID_LEN) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// `id` as a table shows it: truncated unless `no_trunc`.
pub fn display_id(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        id
    } else {
        truncate_id(id)
    }
}

/// The kind of object `resolve` looks for; it words the errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Service,
    Node,
    Task,
    Network,
    Secret,
    Config,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Node => "node",
            Kind::Task => "task",
            Kind::Network => "network",
            Kind::Secret => "secret",
            Kind::Config => "config",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a reference names no one object, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// "no such service: x" (the CLI's words in `service ps`; used for every kind).
    #[error("no such {kind}: {reference}")]
    NotFound { kind: Kind, reference: String },
    /// The CLI's "multiple services found with provided prefix: x" for services, the daemon's "node x is ambiguous
    /// (2 matches found)" for nodes and tasks.
    #[error("{}", ambiguous(*kind, reference, *matches))]
    Ambiguous { kind: Kind, reference: String, matches: usize },
}

fn ambiguous(kind: Kind, reference: &str, matches: usize) -> String {
    match kind {
        Kind::Service => format!("multiple services found with provided prefix: {reference}"),
        Kind::Node | Kind::Task | Kind::Network | Kind::Secret | Kind::Config => {
            format!("{kind} {reference} is ambiguous ({matches} matches found)")
        }
    }
}

/// The object `reference` names among `candidates`: the one whose id is `reference`; else the one whose name is
/// `reference` (several with that name are ambiguous); else the one whose id starts with `reference` (several are
/// ambiguous). An empty reference names nothing.
pub fn resolve<'a, T, I, F, G>(
    candidates: I,
    reference: &str,
    id_of: F,
    name_of: G,
    kind: Kind,
) -> Result<&'a T, ResolveError>
where
    I: IntoIterator<Item = &'a T>,
    T: 'a + ?Sized,
    F: Fn(&T) -> &str,
    G: Fn(&T) -> &str,
{
    let candidates: Vec<&'a T> = candidates.into_iter().collect();
    if reference.is_empty() {
        return Err(ResolveError::NotFound { kind, reference: reference.to_string() });
    }
    if let Some(exact) = candidates.iter().copied().find(|c| id_of(c) == reference) {
        return Ok(exact);
    }
    let named: Vec<&'a T> = candidates.iter().copied().filter(|c| name_of(c) == reference).collect();
    match named.len() {
        0 => {}
        1 => return Ok(named[0]),
        n => return Err(ResolveError::Ambiguous { kind, reference: reference.to_string(), matches: n }),
    }
    let prefixed: Vec<&'a T> = candidates.iter().copied().filter(|c| id_of(c).starts_with(reference)).collect();
    match prefixed.len() {
        0 => Err(ResolveError::NotFound { kind, reference: reference.to_string() }),
        1 => Ok(prefixed[0]),
        n => Err(ResolveError::Ambiguous { kind, reference: reference.to_string(), matches: n }),
    }
}
