//! Values the core spec parses itself (keyword settings, placement preferences), with the Docker CLI's wording for
//! a bad one instead of the daemon's.

use std::str::FromStr;

use swarm_core::spec::{PlacementPreference, PreferenceProblem, SpecError, UnknownKeyword};

/// A keyword setting none of whose values was given, in the CLI's wording: "expected one of any, none, ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of {}", .0.expected)]
pub struct NotAKeyword(pub UnknownKeyword);

/// A placement preference the CLI refuses: the problem alone, as Docker's CLI words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementPrefError {
    #[error(transparent)]
    Problem(PreferenceProblem),
    #[error(transparent)]
    Spec(SpecError),
}

/// One of a keyword enum's values (`any`, `start-first`, ...), or "expected one of ...".
pub fn parse_keyword<T: FromStr<Err = UnknownKeyword>>(text: &str) -> Result<T, NotAKeyword> {
    text.parse::<T>().map_err(NotAKeyword)
}

/// `--placement-pref spread=node.labels.zone`, with Docker's CLI wording for a bad one.
pub fn parse_placement_pref(text: &str) -> Result<PlacementPreference, PlacementPrefError> {
    PlacementPreference::parse(text).map_err(|error| match error {
        SpecError::InvalidPlacementPreference { problem, .. } => PlacementPrefError::Problem(problem),
        other => PlacementPrefError::Spec(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_prefs_use_docker_wording() {
        assert_eq!(
            parse_placement_pref("spread=node.labels.zone"),
            Ok(PlacementPreference::Spread { spread_descriptor: "node.labels.zone".into() })
        );
        assert_eq!(
            parse_placement_pref("node.labels.zone").map_err(|e| e.to_string()),
            Err(r#"placement preference must be of the format "<strategy>=<arg>""#.to_string())
        );
        assert_eq!(
            parse_placement_pref("pack=node.labels.zone").map_err(|e| e.to_string()),
            Err("unsupported placement preference pack (only spread is supported)".to_string())
        );
    }
}
