//! Network attachments as Docker's `--network` takes them: a name or id, or the long form
//! `name=backend,alias=db`; driver options and addresses, which the spec does not model, are refused by name.

use swarm_core::spec::NetworkAttachmentConfig;

use super::words::{csv_fields, has_key_value_pair, CsvError};

/// A `--network` value Docker refuses, in its wording (or an option the spec does not model).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("invalid field {field}")]
    InvalidField { field: String },
    #[error("network option '{key}' is not supported yet")]
    Unsupported { key: String },
    #[error("invalid field key {key}")]
    InvalidFieldKey { key: String },
    #[error("network name/id is not specified")]
    NameRequired,
}

/// Docker's `--network`/`--network-add`: a network name or id, or the long form `name=backend,alias=db` (fields
/// lowercased and trimmed as Docker does; `alias` repeatable). `driver-opt` and addresses are refused: the spec's
/// attachment does not model them. Names are not resolved to ids here.
pub fn parse_network(text: &str) -> Result<NetworkAttachmentConfig, NetworkError> {
    if !has_key_value_pair(text) {
        return Ok(NetworkAttachmentConfig::new(text));
    }
    let mut network = NetworkAttachmentConfig::default();
    for field in csv_fields(text)? {
        let lower = field.to_lowercase();
        let Some((key, value)) = lower.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            return Err(NetworkError::InvalidField { field: field.clone() });
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "name" => network.target = value.to_string(),
            "alias" => network.aliases.push(value.to_string()),
            "driver-opt" | "ip" | "ip6" | "link-local-ip" => {
                return Err(NetworkError::Unsupported { key: key.to_string() })
            }
            _ => return Err(NetworkError::InvalidFieldKey { key: key.to_string() }),
        }
    }
    if network.target.is_empty() {
        return Err(NetworkError::NameRequired);
    }
    Ok(network)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::testing::strings;

    #[test]
    fn networks_parse_names_and_the_long_form() {
        assert_eq!(parse_network("backend"), Ok(NetworkAttachmentConfig::new("backend")));
        assert_eq!(parse_network("my-net"), Ok(NetworkAttachmentConfig::new("my-net")));
        assert_eq!(
            parse_network("name=backend,alias=db,alias=primary"),
            Ok(NetworkAttachmentConfig { target: "backend".into(), aliases: strings(&["db", "primary"]) })
        );
        assert_eq!(
            parse_network("alias=db").map_err(|e| e.to_string()),
            Err("network name/id is not specified".to_string())
        );
        assert_eq!(
            parse_network("name=a,color=red").map_err(|e| e.to_string()),
            Err("invalid field key color".to_string())
        );
        assert_eq!(
            parse_network("name=a,driver-opt=x=y").map_err(|e| e.to_string()),
            Err("network option 'driver-opt' is not supported yet".into())
        );
    }
}
