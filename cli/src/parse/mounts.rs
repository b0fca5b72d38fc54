//! Mounts as Docker's `--mount` takes them (the long form): type, source, target, read-only and the tmpfs options;
//! the options the spec does not model are refused by name, never dropped.

use swarm_core::spec::{Mount, MountType, TmpfsOptions};

use super::numbers::parse_memory_bytes;
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
    #[error("invalid value for {key}: {value}")]
    InvalidValue { key: String, value: String },
    #[error("cannot mix 'tmpfs-*' options with mount type '{mount_type}'")]
    TmpfsOptionsWithType { mount_type: MountType },
}

/// Docker's `--mount` (long form only): `type=volume|bind|tmpfs` (default volume), `source`/`src`,
/// `target`/`destination`/`dst` (required), `readonly`/`ro` (bare, or with a Go boolean), `tmpfs-size` (a memory
/// size, `RAMInBytes`) and `tmpfs-mode` (octal, `1770`) on tmpfs mounts only. Docker's other options
/// (`volume-nocopy`, `bind-propagation`, ...) are refused: the spec's `Mount` does not model them.
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
            ("tmpfs-size", Some(value)) => {
                let invalid = || MountError::InvalidValue { key: key.clone(), value: value.to_string() };
                let size = parse_memory_bytes(value).map_err(|_| invalid())?;
                mount.tmpfs_options.get_or_insert_with(TmpfsOptions::default).size_bytes = size;
            }
            ("tmpfs-mode", Some(value)) => {
                let invalid = || MountError::InvalidValue { key: key.clone(), value: value.to_string() };
                let octal = !value.is_empty() && value.bytes().all(|b| (b'0'..=b'7').contains(&b));
                let mode = octal.then(|| u32::from_str_radix(value, 8).ok()).flatten().ok_or_else(invalid)?;
                mount.tmpfs_options.get_or_insert_with(TmpfsOptions::default).mode = mode;
            }
            (key, Some(_)) => return Err(MountError::UnexpectedKey { key: key.to_string(), field: field.clone() }),
        }
    }
    mount.kind = kind.ok_or(MountError::TypeRequired)?;
    if mount.kind != MountType::Tmpfs && mount.tmpfs_options.is_some() {
        return Err(MountError::TmpfsOptionsWithType { mount_type: mount.kind });
    }
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
        let tmpfs = |size_bytes, mode| Mount {
            tmpfs_options: Some(TmpfsOptions { size_bytes, mode }),
            ..mount(Tmpfs, "", "/run", false)
        };
        let good_tmpfs: &[(&str, Mount)] = &[
            ("type=tmpfs,target=/run,tmpfs-size=64m", tmpfs(64 << 20, 0)),
            ("type=tmpfs,target=/run,tmpfs-mode=1770", tmpfs(0, 0o1770)),
            ("type=tmpfs,target=/run,tmpfs-size=1.5k,tmpfs-mode=0700", tmpfs(1536, 0o700)),
            ("type=tmpfs,target=/run,tmpfs-size=0", tmpfs(0, 0)),
            ("TMPFS-SIZE=1g,type=tmpfs,target=/run", tmpfs(1 << 30, 0)),
        ];
        for (text, expected) in good_tmpfs {
            assert_eq!(parse_mount(text).as_ref(), Ok(expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("type=volume,source=data", "target is required"),
            ("type=,target=/x", "type is required"),
            ("type=npipe,target=/x", "expected one of volume, bind, tmpfs"),
            ("target=/x,readonly=maybe", "invalid value for readonly: maybe"),
            ("target=/x,volume-nocopy", "mount option 'volume-nocopy' is not supported yet"),
            ("target=/x,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type 'volume'"),
            ("type=bind,src=/a,target=/x,tmpfs-mode=700", "cannot mix 'tmpfs-*' options with mount type 'bind'"),
            ("type=tmpfs,target=/x,tmpfs-size=lots", "invalid value for tmpfs-size: lots"),
            ("type=tmpfs,target=/x,tmpfs-size=-1", "invalid value for tmpfs-size: -1"),
            ("type=tmpfs,target=/x,tmpfs-mode=800", "invalid value for tmpfs-mode: 800"),
            ("type=tmpfs,target=/x,tmpfs-mode=0o700", "invalid value for tmpfs-mode: 0o700"),
            ("type=tmpfs,target=/x,tmpfs-mode=", "invalid value for tmpfs-mode: "),
            ("type=tmpfs,target=/x,tmpfs-mode=77777777777", "invalid value for tmpfs-mode: 77777777777"),
            ("type=tmpfs,target=/x,tmpfs-size", "invalid field 'tmpfs-size' must be a key=value pair"),
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
