//! `secret ls|inspect` and `config ls|inspect` as Docker prints them: the tables (`ID NAME DRIVER CREATED UPDATED`
//! for secrets, `ID NAME CREATED UPDATED` for configs, full ids, sorted by name in Docker's natural order, times
//! "About a minute ago" from the view's `now`), their `-f` filters with SwarmKit's semantics (`name` and `id` are
//! prefixes, `names` exact, `label` `KEY` or `KEY=VALUE`; values of one key are alternatives, keys all apply), the
//! inspect objects in the Engine API's shape (`ID`, `Version.Index`, `CreatedAt`, `UpdatedAt`, `Spec.Name`,
//! `Spec.Labels`, and for a config `Spec.Data` in base64), and docker/cli's `--pretty` templates. Invariant: nothing
//! here ever sees a secret's value — the view carries none, and only configs are rendered with data. Pure functions.

use std::collections::BTreeMap;

use serde::Serialize;
use swarm_runtime::control::api::ConfigInspectReply;
use swarm_runtime::control::view::FileObjectInfo;

use super::table::Table;
use super::text::natural_cmp;
use super::time::{ago, go_time_utc, rfc3339_utc};
use swarm_core::Timestamp;

/// A `-f` filter of `secret ls`/`config ls` the daemon would refuse, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileFilterError {
    #[error("invalid argument \"{arg}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)")]
    BadFormat { arg: String },
    #[error("Error response from daemon: invalid filter '{key}'")]
    UnknownKey { key: String },
}

/// The `-f` filters of an `ls`, as SwarmKit applies them: each kind given must match (any of its values), and
/// every label must be present (with the value, when one is given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFilters {
    /// `name=`: name prefixes.
    pub name_prefixes: Vec<String>,
    /// `names=`: exact names.
    pub names: Vec<String>,
    /// `id=`: id prefixes.
    pub id_prefixes: Vec<String>,
    /// `label=KEY` or `label=KEY=VALUE` (a later value for the same key wins, as in Docker's map).
    pub labels: BTreeMap<String, String>,
}

impl FileFilters {
    pub fn matches(&self, object: &FileObjectInfo) -> bool {
        let any = |values: &[String], test: &dyn Fn(&str) -> bool| values.is_empty() || values.iter().any(|v| test(v));
        any(&self.names, &|name| object.name == name)
            && any(&self.name_prefixes, &|prefix| object.name.starts_with(prefix))
            && any(&self.id_prefixes, &|prefix| object.id.starts_with(prefix))
            && self.labels.iter().all(|(key, wanted)| match object.labels.get(key) {
                Some(actual) => wanted.is_empty() || actual == wanted,
                None => false,
            })
    }
}

/// Docker's `filters.ParseFlag` and the daemon's accepted keys (`name`, `names`, `id`, `label`).
pub fn parse_filters<S: AsRef<str>>(args: &[S]) -> Result<FileFilters, FileFilterError> {
    let mut filters = FileFilters::default();
    for arg in args {
        let arg = arg.as_ref();
        let Some((key, value)) = arg.split_once('=') else {
            return Err(FileFilterError::BadFormat { arg: arg.to_string() });
        };
        let (key, value) = (key.trim().to_lowercase(), value.trim().to_string());
        match key.as_str() {
            "name" => filters.name_prefixes.push(value),
            "names" => filters.names.push(value),
            "id" => filters.id_prefixes.push(value),
            "label" => {
                let (label, wanted) = value.split_once('=').unwrap_or((value.as_str(), ""));
                filters.labels.insert(label.to_string(), wanted.to_string());
            }
            _ => return Err(FileFilterError::UnknownKey { key }),
        }
    }
    Ok(filters)
}

/// `objects` that pass `filters`, sorted by name in Docker's natural order (then by id).
pub fn listed<'a>(objects: &'a [FileObjectInfo], filters: &FileFilters) -> Vec<&'a FileObjectInfo> {
    let mut listed: Vec<&FileObjectInfo> = objects.iter().filter(|object| filters.matches(object)).collect();
    listed.sort_by(|a, b| natural_cmp(&a.name, &b.name).then_with(|| a.id.cmp(&b.id)));
    listed
}

/// One row of `secret ls`, with the keys of `docker secret ls --format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretRow {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    /// Always empty: no secret here comes from a driver.
    pub driver: String,
    pub created_at: String,
    pub updated_at: String,
    pub labels: String,
}

/// One row of `config ls`, with the keys of `docker config ls --format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigRow {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub labels: String,
}

fn joined_labels(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(",")
}

pub fn secret_rows(objects: &[&FileObjectInfo], now: Timestamp) -> Vec<SecretRow> {
    objects
        .iter()
        .map(|object| SecretRow {
            id: object.id.clone(),
            name: object.name.clone(),
            driver: String::new(),
            created_at: ago(now, object.created_at),
            updated_at: ago(now, object.updated_at),
            labels: joined_labels(&object.labels),
        })
        .collect()
}

pub fn config_rows(objects: &[&FileObjectInfo], now: Timestamp) -> Vec<ConfigRow> {
    objects
        .iter()
        .map(|object| ConfigRow {
            id: object.id.clone(),
            name: object.name.clone(),
            created_at: ago(now, object.created_at),
            updated_at: ago(now, object.updated_at),
            labels: joined_labels(&object.labels),
        })
        .collect()
}

/// `secret ls`: the table, or with `-q` the ids alone.
pub fn render_secret_ls(rows: &[SecretRow], quiet: bool) -> String {
    if quiet {
        return rows.iter().map(|row| format!("{}\n", row.id)).collect();
    }
    let mut table = Table::new(["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]);
    for row in rows {
        table.row([row.id.as_str(), &row.name, &row.driver, &row.created_at, &row.updated_at]);
    }
    table.render()
}

/// `config ls`: the table, or with `-q` the ids alone.
pub fn render_config_ls(rows: &[ConfigRow], quiet: bool) -> String {
    if quiet {
        return rows.iter().map(|row| format!("{}\n", row.id)).collect();
    }
    let mut table = Table::new(["ID", "NAME", "CREATED", "UPDATED"]);
    for row in rows {
        table.row([row.id.as_str(), &row.name, &row.created_at, &row.updated_at]);
    }
    table.render()
}

/// `docker secret inspect`'s and `docker config inspect`'s object, in the Engine API's field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileObjectInspect {
    #[serde(rename = "ID")]
    pub id: String,
    pub version: VersionIndex,
    pub created_at: String,
    pub updated_at: String,
    pub spec: FileObjectSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionIndex {
    pub index: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileObjectSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// A config's value in base64; a secret has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// `docker secret inspect` of `secret`: never a value.
pub fn inspect_secret(secret: &FileObjectInfo) -> FileObjectInspect {
    FileObjectInspect {
        id: secret.id.clone(),
        version: VersionIndex { index: secret.version.0 },
        created_at: rfc3339_utc(secret.created_at),
        updated_at: rfc3339_utc(secret.updated_at),
        spec: FileObjectSpec { name: secret.name.clone(), labels: secret.labels.clone(), data: None },
    }
}

/// `docker config inspect` of `config`, with `Spec.Data` in base64.
pub fn inspect_config(config: &ConfigInspectReply) -> FileObjectInspect {
    FileObjectInspect {
        id: config.id.clone(),
        version: VersionIndex { index: config.version.0 },
        created_at: rfc3339_utc(config.created_at),
        updated_at: rfc3339_utc(config.updated_at),
        spec: FileObjectSpec {
            name: config.name.clone(),
            labels: config.labels.clone(),
            data: Some(base64_data(config)),
        },
    }
}

/// The config's value as the control API carries it in JSON (base64, Docker's encoding of `Data`).
fn base64_data(config: &ConfigInspectReply) -> String {
    let encoded = serde_json::to_value(config).expect("a config reply encodes as JSON");
    encoded.get("data").and_then(|data| data.as_str()).unwrap_or_default().to_string()
}

/// ` - key=value` lines of a pretty template (` - key` for an empty value), sorted by key as Go's `range` does.
fn pretty_labels(out: &mut String, labels: &BTreeMap<String, String>) {
    if labels.is_empty() {
        return;
    }
    out.push_str("\nLabels:");
    for (key, value) in labels {
        out.push_str(&format!("\n - {key}"));
        if !value.is_empty() {
            out.push_str(&format!("={value}"));
        }
    }
}

/// `docker secret inspect --pretty`: docker/cli's template (its spacing, an empty `Driver:`), each secret followed by
/// a newline; times as Go prints a `time.Time`.
pub fn pretty_secrets(secrets: &[&FileObjectInfo]) -> String {
    let mut out = String::new();
    for secret in secrets {
        out.push_str(&format!("ID:              {}\nName:              {}", secret.id, secret.name));
        pretty_labels(&mut out, &secret.labels);
        out.push_str(&format!(
            "\nDriver:            \nCreated at:        {}\nUpdated at:        {}\n",
            go_time_utc(secret.created_at),
            go_time_utc(secret.updated_at)
        ));
    }
    out
}

/// `docker config inspect --pretty`: docker/cli's template (with its tabs), the value as text after `Data:`.
pub fn pretty_configs(configs: &[ConfigInspectReply]) -> String {
    let mut out = String::new();
    for config in configs {
        out.push_str(&format!("ID:\t\t\t{}\nName:\t\t\t{}", config.id, config.name));
        pretty_labels(&mut out, &config.labels);
        out.push_str(&format!(
            "\nCreated at:            \t{}\nUpdated at:            \t{}\nData:\n{}\n",
            go_time_utc(config.created_at),
            go_time_utc(config.updated_at),
            String::from_utf8_lossy(&config.data)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::json;
    use swarm_core::Version;

    const NOW: u64 = 1_795_687_200_000; // 2026-11-26 10:00:00 UTC

    fn object(id: &str, name: &str, age_ms: u64, labels: &[(&str, &str)]) -> FileObjectInfo {
        FileObjectInfo {
            id: id.to_string(),
            version: Version(11),
            created_at: Timestamp(NOW - age_ms),
            updated_at: Timestamp(NOW - age_ms / 2),
            name: name.to_string(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn fixture() -> Vec<FileObjectInfo> {
        vec![
            object("eo7jnzguqgtpdah3cm5srfb97", "db_password", 90_000, &[("env", "prod")]),
            object("l3x7gwrbwpdcw8c0no2ntqdyn", "site.key", 3 * 3_600_000, &[("env", "dev"), ("team", "")]),
            object("ek3lhcekkvtgtaozwpj3a9xsr", "site10", 5_000, &[]),
            object("vmdbd9brv6c4d0kaw5qbd8fss", "site9", 400, &[]),
        ]
    }

    fn names(objects: &[&FileObjectInfo]) -> Vec<String> {
        objects.iter().map(|object| object.name.clone()).collect()
    }

    #[test]
    fn ls_tables_match_docker() {
        let objects = fixture();
        let listed = listed(&objects, &FileFilters::default());
        assert_eq!(names(&listed), ["db_password", "site9", "site10", "site.key"], "natural order: digits first");
        let rows = secret_rows(&[listed[0], listed[3]], Timestamp(NOW));
        assert_eq!(
            render_secret_ls(&rows, false),
            concat!(
                "ID                          NAME          DRIVER    CREATED              UPDATED\n",
                "eo7jnzguqgtpdah3cm5srfb97   db_password             About a minute ago   45 seconds ago\n",
                "l3x7gwrbwpdcw8c0no2ntqdyn   site.key                3 hours ago          2 hours ago\n",
            )
        );
        let rows = config_rows(&listed[1..3], Timestamp(NOW));
        assert_eq!(
            render_config_ls(&rows, false),
            concat!(
                "ID                          NAME      CREATED                  UPDATED\n",
                "vmdbd9brv6c4d0kaw5qbd8fss   site9     Less than a second ago   Less than a second ago\n",
                "ek3lhcekkvtgtaozwpj3a9xsr   site10    5 seconds ago            2 seconds ago\n",
            )
        );
        assert_eq!(
            render_secret_ls(&secret_rows(&listed, Timestamp(NOW)), true),
            "eo7jnzguqgtpdah3cm5srfb97\nvmdbd9brv6c4d0kaw5qbd8fss\nek3lhcekkvtgtaozwpj3a9xsr\nl3x7gwrbwpdcw8c0no2ntqdyn\n"
        );
        assert_eq!(render_secret_ls(&[], false), "ID        NAME      DRIVER    CREATED   UPDATED\n");
        assert_eq!(render_config_ls(&[], false), "ID        NAME      CREATED   UPDATED\n");
        assert_eq!(render_config_ls(&[], true), "");
    }

    #[test]
    fn ls_rows_have_dockers_json_keys() {
        let objects = fixture();
        let rows = secret_rows(&[&objects[1]], Timestamp(NOW));
        assert_eq!(
            json::lines(&rows).unwrap(),
            "{\"ID\":\"l3x7gwrbwpdcw8c0no2ntqdyn\",\"Name\":\"site.key\",\"Driver\":\"\",\"CreatedAt\":\"3 hours ago\",\
             \"UpdatedAt\":\"2 hours ago\",\"Labels\":\"env=dev,team=\"}\n"
        );
        let rows = config_rows(&[&objects[0]], Timestamp(NOW));
        assert_eq!(
            json::lines(&rows).unwrap(),
            "{\"ID\":\"eo7jnzguqgtpdah3cm5srfb97\",\"Name\":\"db_password\",\"CreatedAt\":\"About a minute ago\",\
             \"UpdatedAt\":\"45 seconds ago\",\"Labels\":\"env=prod\"}\n"
        );
    }

    #[test]
    fn filters_follow_swarmkit() {
        let objects = fixture();
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &["db_password", "site9", "site10", "site.key"]),
            (&["name=site"], &["site9", "site10", "site.key"]),
            (&["name=ite"], &[]),
            (&["name=site9", "name=db"], &["db_password", "site9"]),
            (&["names=site"], &[]),
            (&["names=site9"], &["site9"]),
            (&["id=e"], &["db_password", "site10"]),
            (&["id=e", "name=site"], &["site10"]),
            (&["label=env"], &["db_password", "site.key"]),
            (&["label=env=dev"], &["site.key"]),
            (&["label=env", "label=team"], &["site.key"]),
            (&["label=team="], &["site.key"]),
            (&[" NAME = db "], &["db_password"]),
        ];
        for (args, expected) in cases {
            let filters = parse_filters(args).unwrap();
            assert_eq!(names(&listed(&objects, &filters)), *expected, "{args:?}");
        }
        assert_eq!(
            parse_filters(&["name"]).unwrap_err().to_string(),
            r#"invalid argument "name" for "-f, --filter" flag: bad format of filter (expected name=value)"#
        );
        assert_eq!(
            parse_filters(&["driver=x"]).unwrap_err().to_string(),
            "Error response from daemon: invalid filter 'driver'"
        );
    }

    fn config(data: &[u8], labels: &[(&str, &str)]) -> ConfigInspectReply {
        let info = object("ixp7bb1dn8rzmgpb3sg8w62kk", "nginx.conf", 60_000, labels);
        ConfigInspectReply {
            id: info.id,
            version: info.version,
            created_at: Timestamp(NOW - 60_250),
            updated_at: info.updated_at,
            name: info.name,
            labels: info.labels,
            data: data.to_vec(),
        }
    }

    #[test]
    fn inspect_has_dockers_shape() {
        let objects = fixture();
        assert_eq!(
            json::inspect(&[inspect_secret(&objects[0])]).unwrap(),
            r#"[
    {
        "ID": "eo7jnzguqgtpdah3cm5srfb97",
        "Version": {
            "Index": 11
        },
        "CreatedAt": "2026-11-26T09:58:30Z",
        "UpdatedAt": "2026-11-26T09:59:15Z",
        "Spec": {
            "Name": "db_password",
            "Labels": {
                "env": "prod"
            }
        }
    }
]
"#
        );
        assert_eq!(
            json::inspect(&[inspect_config(&config(b"hello\n", &[]))]).unwrap(),
            r#"[
    {
        "ID": "ixp7bb1dn8rzmgpb3sg8w62kk",
        "Version": {
            "Index": 11
        },
        "CreatedAt": "2026-11-26T09:58:59.75Z",
        "UpdatedAt": "2026-11-26T09:59:30Z",
        "Spec": {
            "Name": "nginx.conf",
            "Labels": {},
            "Data": "aGVsbG8K"
        }
    }
]
"#
        );
    }

    #[test]
    fn pretty_follows_docker_templates() {
        let objects = fixture();
        assert_eq!(
            pretty_secrets(&[&objects[1], &objects[2]]),
            "ID:              l3x7gwrbwpdcw8c0no2ntqdyn\n\
             Name:              site.key\n\
             Labels:\n - env=dev\n - team\n\
             Driver:            \n\
             Created at:        2026-11-26 07:00:00 +0000 UTC\n\
             Updated at:        2026-11-26 08:30:00 +0000 UTC\n\
             ID:              ek3lhcekkvtgtaozwpj3a9xsr\n\
             Name:              site10\n\
             Driver:            \n\
             Created at:        2026-11-26 09:59:55 +0000 UTC\n\
             Updated at:        2026-11-26 09:59:57.5 +0000 UTC\n"
        );
        assert_eq!(
            pretty_configs(&[config(b"server {}\n", &[("a", "1")])]),
            "ID:\t\t\tixp7bb1dn8rzmgpb3sg8w62kk\n\
             Name:\t\t\tnginx.conf\n\
             Labels:\n - a=1\n\
             Created at:            \t2026-11-26 09:58:59.75 +0000 UTC\n\
             Updated at:            \t2026-11-26 09:59:30 +0000 UTC\n\
             Data:\nserver {}\n\n"
        );
    }
}
