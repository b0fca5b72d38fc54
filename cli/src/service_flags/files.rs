//! The secret and config flags of `service create` (`--secret`, `--config`) and `service update` (`--secret-add`,
//! `--secret-rm`, `--config-add`, `--config-rm`), applied as docker/cli applies them: values are references by name
//! (`src[,target=…,uid=…,gid=…,mode=…]`, read by `crate::parse`), the daemon fills in the ids; on update the
//! references whose source name is in `-rm` go, then the added ones are appended (`updateSecrets`,
//! `updateConfigs`). Invariant: the references one flag adds never share a target (docker/cli's "duplicate secret
//! target for x not allowed"); a clash with a reference the service keeps is core's `ServiceSpec` check to refuse,
//! as SwarmKit's is in Docker. A flag that is not given leaves the references as they are.

use swarm_core::spec::{ConfigReference, FileKind, FileTarget, SecretReference, ServiceSpec};

use super::error::SpecFlagsError;
use super::flags::{CreateFlags, UpdateFlags};
use crate::parse::{parse_config, parse_secret, FlagError};

/// `service create`: the references of every `--secret` and `--config`, in the order given.
pub(super) fn apply_create(spec: &mut ServiceSpec, flags: &CreateFlags) -> Result<(), SpecFlagsError> {
    let container = &mut spec.task_template.container_spec;
    container.secrets = parse_secrets("--secret", &flags.secret)?;
    container.configs = parse_configs("--config", &flags.config)?;
    Ok(())
}

/// `service update`: for each kind whose flags are given, the references whose source is in `-rm` are dropped and
/// the `-add` ones appended.
pub(super) fn apply_update(spec: &mut ServiceSpec, flags: &UpdateFlags) -> Result<(), SpecFlagsError> {
    let container = &mut spec.task_template.container_spec;
    if !flags.secret_add.is_empty() || !flags.secret_rm.is_empty() {
        let added = parse_secrets("--secret-add", &flags.secret_add)?;
        container.secrets.retain(|secret| !flags.secret_rm.contains(&secret.secret_name));
        container.secrets.extend(added);
    }
    if !flags.config_add.is_empty() || !flags.config_rm.is_empty() {
        let added = parse_configs("--config-add", &flags.config_add)?;
        container.configs.retain(|config| !flags.config_rm.contains(&config.config_name));
        container.configs.extend(added);
    }
    Ok(())
}

fn parse_secrets(flag: &str, texts: &[String]) -> Result<Vec<SecretReference>, SpecFlagsError> {
    let secrets = texts
        .iter()
        .map(|text| parse_secret(text).map_err(|e| FlagError::new(flag, text, e)))
        .collect::<Result<Vec<_>, _>>()?;
    check_targets(FileKind::Secret, secrets.iter().map(|s| (&s.secret_name, &s.file)))?;
    Ok(secrets)
}

fn parse_configs(flag: &str, texts: &[String]) -> Result<Vec<ConfigReference>, SpecFlagsError> {
    let configs = texts
        .iter()
        .map(|text| parse_config(text).map_err(|e| FlagError::new(flag, text, e)))
        .collect::<Result<Vec<_>, _>>()?;
    check_targets(FileKind::Config, configs.iter().map(|c| (&c.config_name, &c.file)))?;
    Ok(configs)
}

/// docker/cli's check of one flag's references: no two with the same target name.
fn check_targets<'a>(
    kind: FileKind,
    references: impl Iterator<Item = (&'a String, &'a FileTarget)>,
) -> Result<(), SpecFlagsError> {
    let mut targets = std::collections::BTreeSet::new();
    for (source, file) in references {
        if !targets.insert(file.name.as_str()) {
            return Err(SpecFlagsError::DuplicateFileTarget { kind: kind.as_str(), source_name: source.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use swarm_core::spec::{ConfigReference, FileTarget, SecretReference, ServiceSpec};

    use crate::service_flags::testing::{create, update};

    fn file(name: &str, uid: &str, gid: &str, mode: u32) -> FileTarget {
        FileTarget { name: name.to_string(), uid: uid.to_string(), gid: gid.to_string(), mode }
    }

    fn secret(source: &str, target: FileTarget) -> SecretReference {
        SecretReference { secret_id: String::new(), secret_name: source.to_string(), file: target }
    }

    fn config(source: &str, target: FileTarget) -> ConfigReference {
        ConfigReference { config_id: String::new(), config_name: source.to_string(), file: target }
    }

    fn created_secrets(values: &[&str]) -> Result<Vec<SecretReference>, String> {
        let mut argv = vec!["--name", "web"];
        for value in values {
            argv.extend(["--secret", value]);
        }
        argv.push("nginx");
        create(&argv).map(|spec| spec.task_template.container_spec.secrets)
    }

    #[test]
    fn secret_flag_forms() {
        let cases: &[(&str, SecretReference)] = &[
            ("db_password", secret("db_password", file("db_password", "0", "0", 0o444))),
            ("source=db,target=password", secret("db", file("password", "0", "0", 0o444))),
            (
                "src=db,target=/etc/db.pass,uid=1000,gid=50,mode=0400",
                secret("db", file("/etc/db.pass", "1000", "50", 0o400)),
            ),
            ("SOURCE=db,Mode=0600", secret("db", file("db", "0", "0", 0o600))),
            ("src=db,uid=33", secret("db", file("db", "33", "0", 0o444))),
        ];
        for (value, expected) in cases {
            assert_eq!(created_secrets(&[value]), Ok(vec![expected.clone()]), "{value}");
        }
        assert_eq!(created_secrets(&[]), Ok(vec![]));
        assert_eq!(
            created_secrets(&["b", "src=a,target=/x"]),
            Ok(vec![secret("b", file("b", "0", "0", 0o444)), secret("a", file("/x", "0", "0", 0o444))]),
            "in the order given"
        );
    }

    #[test]
    fn config_flag_forms() {
        let spec = create(&[
            "--name",
            "web",
            "--config",
            "nginx.conf",
            "--config",
            "src=site,target=/etc/site.conf,mode=0440",
            "nginx",
        ])
        .unwrap();
        assert_eq!(
            spec.task_template.container_spec.configs,
            vec![
                config("nginx.conf", file("nginx.conf", "0", "0", 0o444)),
                config("site", file("/etc/site.conf", "0", "0", 0o440))
            ]
        );
        assert!(spec.task_template.container_spec.secrets.is_empty());
    }

    #[test]
    fn bad_values_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--secret", "target=x"], r#"invalid argument "target=x" for "--secret" flag: source is required"#),
            (&["--secret", "src="], r#"invalid argument "src=" for "--secret" flag: source is required"#),
            (
                &["--secret", "src=a,foo"],
                r#"invalid argument "src=a,foo" for "--secret" flag: invalid field 'foo' must be a key=value pair"#,
            ),
            (
                &["--secret", "src=a,colour=red"],
                r#"invalid argument "src=a,colour=red" for "--secret" flag: invalid field key colour"#,
            ),
            (
                &["--config", "src=a,mode=rw"],
                r#"invalid argument "src=a,mode=rw" for "--config" flag: invalid mode "rw": a number such as 0400"#,
            ),
            (&["--secret", "a", "--secret", "src=b,target=a"], "duplicate secret target for b not allowed"),
            (
                &["--config", "src=a,target=/x", "--config", "src=b,target=/x"],
                "duplicate config target for b not allowed",
            ),
        ];
        for (flags, expected) in cases {
            let mut argv = vec!["--name", "web"];
            argv.extend_from_slice(flags);
            argv.push("nginx");
            assert_eq!(create(&argv), Err(expected.to_string()), "{flags:?}");
        }
        // What the flags parse but core's check refuses (a target that climbs out, a shared path) is core's to word.
        let error = create(&["--name", "web", "--secret", "src=a,target=../x", "nginx"]).unwrap_err();
        assert!(error.starts_with("ContainerSpec: secret \"a\""), "{error}");
        let error = create(&["--name", "web", "--secret", "src=a,target=/x", "--config", "src=b,target=/x", "nginx"])
            .unwrap_err();
        assert_eq!(error, "ContainerSpec: duplicate secret or config target /x not allowed");
    }

    /// A service with secrets `a` (as `a`) and `b` (as `/etc/b`) and config `c` (as `/c`), ids filled in as the
    /// daemon stores them.
    fn current() -> ServiceSpec {
        let mut spec = ServiceSpec::replicated("web", "nginx", 1);
        let container = &mut spec.task_template.container_spec;
        let with_id = |mut reference: SecretReference, id: &str| {
            reference.secret_id = id.to_string();
            reference
        };
        container.secrets = vec![
            with_id(secret("a", file("a", "0", "0", 0o444)), "id-a"),
            with_id(secret("b", file("/etc/b", "0", "0", 0o444)), "id-b"),
        ];
        let mut c = config("c", file("/c", "0", "0", 0o444));
        c.config_id = "id-c".to_string();
        container.configs = vec![c];
        spec
    }

    fn secret_names(spec: &ServiceSpec) -> Vec<(String, String, String)> {
        let secrets = &spec.task_template.container_spec.secrets;
        secrets.iter().map(|s| (s.secret_name.clone(), s.secret_id.clone(), s.file.name.clone())).collect()
    }

    fn triples(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        items.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
    }

    type Triples<'a> = &'a [(&'a str, &'a str, &'a str)];

    #[test]
    fn update_removes_by_source_then_appends() {
        // (flags, then each secret as (source, id, target))
        let cases: &[(&[&str], Triples)] = &[
            (&[], &[("a", "id-a", "a"), ("b", "id-b", "/etc/b")]),
            (&["--secret-rm", "a"], &[("b", "id-b", "/etc/b")]),
            // `-rm` matches the source name, not the target.
            (&["--secret-rm", "/etc/b"], &[("a", "id-a", "a"), ("b", "id-b", "/etc/b")]),
            (&["--secret-rm", "nope"], &[("a", "id-a", "a"), ("b", "id-b", "/etc/b")]),
            (&["--secret-add", "d"], &[("a", "id-a", "a"), ("b", "id-b", "/etc/b"), ("d", "", "d")]),
            // Replacing a reference: remove it by name and add it again with its new target.
            (
                &["--secret-rm", "a", "--secret-add", "src=a,target=/run/a.txt"],
                &[("b", "id-b", "/etc/b"), ("a", "", "/run/a.txt")],
            ),
            (&["--secret-add", "src=a,target=a", "--secret-rm", "a"], &[("b", "id-b", "/etc/b"), ("a", "", "a")]),
            (&["--secret-rm", "a", "--secret-rm", "b"], &[]),
        ];
        for (argv, expected) in cases {
            let spec = update(&current(), argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert_eq!(secret_names(&spec), triples(expected), "{argv:?}");
            assert_eq!(spec.task_template.container_spec.configs, current().task_template.container_spec.configs);
        }
    }

    #[test]
    fn update_configs_like_secrets() {
        let spec =
            update(&current(), &["--config-rm", "c", "--config-add", "src=c,target=/etc/c.conf", "--config-add", "e"])
                .unwrap();
        let configs: Vec<(&str, &str, &str)> = spec
            .task_template
            .container_spec
            .configs
            .iter()
            .map(|c| (c.config_name.as_str(), c.config_id.as_str(), c.file.name.as_str()))
            .collect();
        assert_eq!(configs, [("c", "", "/etc/c.conf"), ("e", "", "e")]);
        assert_eq!(spec.task_template.container_spec.secrets, current().task_template.container_spec.secrets);
    }

    #[test]
    fn update_conflicts_are_refused() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--secret-add", "src=x,target=t", "--secret-add", "src=y,target=t"],
                "duplicate secret target for y not allowed",
            ),
            // Adding what the service already has, under the same target, is a conflict: docker/cli appends.
            (&["--secret-add", "a"], "ContainerSpec: duplicate secret or config target /run/secrets/a not allowed"),
            (&["--secret-add", "src=z,target=/c"], "ContainerSpec: duplicate secret or config target /c not allowed"),
            (
                &["--config-add", "src=a,mode=0999"],
                r#"invalid argument "src=a,mode=0999" for "--config-add" flag: invalid mode "0999": a number such as 0400"#,
            ),
            (&["--secret-add", ""], r#"invalid argument "" for "--secret-add" flag: source is required"#),
        ];
        for (argv, expected) in cases {
            assert_eq!(update(&current(), argv), Err(expected.to_string()), "{argv:?}");
        }
    }
}
