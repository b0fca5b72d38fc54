//! Values the core spec parses itself (keyword settings, placement preferences), with the Docker CLI's wording for
//! a bad one instead of the daemon's.

use std::str::FromStr;

use swarm_core::spec::{PlacementPreference, SpecError, UnknownKeyword};

/// One of a keyword enum's values (`any`, `start-first`, ...), or "expected one of ...".
pub fn parse_keyword<T: FromStr<Err = UnknownKeyword>>(text: &str) -> Result<T, String> {
    text.parse::<T>().map_err(|UnknownKeyword { expected, .. }| format!("expected one of {expected}"))
}

/// `--placement-pref spread=node.labels.zone`, with Docker's CLI wording for a bad one.
pub fn parse_placement_pref(text: &str) -> Result<PlacementPreference, String> {
    PlacementPreference::parse(text).map_err(|error| match error {
        SpecError::InvalidPlacementPreference { problem, .. } => problem.to_string(),
        other => other.to_string(),
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
            parse_placement_pref("node.labels.zone"),
            Err(r#"placement preference must be of the format "<strategy>=<arg>""#.to_string())
        );
        assert_eq!(
            parse_placement_pref("pack=node.labels.zone"),
            Err("unsupported placement preference pack (only spread is supported)".to_string())
        );
    }
}
