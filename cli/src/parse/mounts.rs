//! Mounts as Docker's `--mount` takes them (the long form): type, source, target and read-only; the options the
//! spec does not model are refused by name, never dropped.

use swarm_core::spec::{Mount, MountType};

use super::spec_values::{parse_keyword, NotAKeyword};
use super::words::{csv_fields, parse_go_bool, CsvError};

/// A `--mount` value Docker refuses, in its wording (or an option the spec does not model).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("invalid value for {key}: {value}")]
    InvalidBool { key: String, value: String },
    #[error("mount option '{key}' is not supported yet")]
    Unsupported { key: String },
    #[error("invalid field '{field}' must be a key=value pair")]
    NotKeyValue { field: String },
    #[error(transparent)]
    Type(#[from] NotAKeyword),
    #[error("unexpected key '{key}' in '{field}'")]
    UnexpectedKey { key: String, field: String },
    #[error("type is required")]
    TypeRequired,
    #[error("target is required")]
    TargetRequired,
}

/// Docker's `--mount` (long form only): `type=volume|bind|tmpfs` (default volume), `source`/`src`,
/// `target`/`destination`/`dst` (required), `readonly`/`ro` (bare, or with a Go boolean). Docker's other options
/// (`volume-nocopy`, `tmpfs-size`, `bind-propagation`, ...) are refused: the spec's `Mount` does not model them.
pub fn parse_mount(text: &str) -> Result<Mount, MountError> {
    const UNSUPPORTED: &[&str] = &[
        "consistency",
        "bind-propagation",
        "bind-nonrecursive",
        "bind-recursive",
        "volume-nocopy",
        "volume-label",
        "volume-driver",
        "volume-opt",
        "volume-subpath",
        "tmpfs-size",
        "tmpfs-mode",
        "image-subpath",
    ];
    let mut mount = Mount::default();
    let mut kind = Some(MountType::Volume);
    for field in csv_fields(text)? {
        let (key, value) = match field.split_once('=') {
            Some((key, value)) => (key.to_ascii_lowercase(), Some(value)),
            None => (field.to_ascii_lowercase(), None),
        };
        match (key.as_str(), value) {
            ("readonly" | "ro", None) => mount.read_only = true,
            ("readonly" | "ro", Some(value)) => {
                mount.read_only = parse_go_bool(value)
                    .ok_or_else(|| MountError::InvalidBool { key: key.clone(), value: value.to_string() })?
            }
            (key, _) if UNSUPPORTED.contains(&key) => return Err(MountError::Unsupported { key: key.to_string() }),
            (_, None) => return Err(MountError::NotKeyValue { field: field.clone() }),
            ("type", Some("")) => kind = None,
            ("type", Some(value)) => kind = Some(parse_keyword(&value.to_ascii_lowercase())?),
            ("source" | "src", Some(value)) => mount.source = value.to_string(),
            ("target" | "dst" | "destination", Some(value)) => mount.target = value.to_string(),
            (key, Some(_)) => return Err(MountError::UnexpectedKey { key: key.to_string(), field: field.clone() }),
        }
    }
    mount.kind = kind.ok_or(MountError::TypeRequired)?;
    if mount.target.is_empty() {
        return Err(MountError::TargetRequired);
    }
    Ok(mount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::testing::mount;

    #[test]
    fn mounts_parse_the_long_form() {
        use MountType::{Bind, Tmpfs, Volume};
        let good: &[(&str, Mount)] = &[
            ("type=volume,source=data,target=/data", mount(Volume, "data", "/data", false)),
            ("source=data,target=/data", mount(Volume, "data", "/data", false)),
            ("type=bind,src=/host,dst=/ctr,readonly", mount(Bind, "/host", "/ctr", true)),
            ("type=bind,src=/host,destination=/ctr,ro=true", mount(Bind, "/host", "/ctr", true)),
            ("type=bind,src=/host,target=/ctr,readonly=0", mount(Bind, "/host", "/ctr", false)),
            ("Type=TMPFS,Target=/tmp", mount(Tmpfs, "", "/tmp", false)),
            ("type=volume,target=/cache", mount(Volume, "", "/cache", false)),
            (r#""source=a,b",target=/x"#, mount(Volume, "a,b", "/x", false)),
        ];
        for (text, expected) in good {
            assert_eq!(parse_mount(text).as_ref(), Ok(expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("type=volume,source=data", "target is required"),
            ("type=,target=/x", "type is required"),
            ("type=npipe,target=/x", "expected one of volume, bind, tmpfs"),
            ("target=/x,readonly=maybe", "invalid value for readonly: maybe"),
            ("target=/x,volume-nocopy", "mount option 'volume-nocopy' is not supported yet"),
            ("target=/x,tmpfs-size=1m", "mount option 'tmpfs-size' is not supported yet"),
            ("target=/x,bind-propagation=rprivate", "mount option 'bind-propagation' is not supported yet"),
            ("target=/x,color=red", "unexpected key 'color' in 'color=red'"),
            ("target=/x,shiny", "invalid field 'shiny' must be a key=value pair"),
            ("/host:/ctr", "invalid field '/host:/ctr' must be a key=value pair"),
            ("", "EOF"),
            ("target=/x\"y", "bare \" in non-quoted-field"),
            ("\"target=/x", "extraneous or missing \" in quoted-field"),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_mount(text).map_err(|e| e.to_string()), Err(expected.to_string()), "{text}");
        }
    }
}
