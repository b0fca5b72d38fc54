//! Secrets, configs and the unlock key in the store, through `Store::apply` and the spec's public seams: names
//! unique and Docker-shaped, values within 500 KiB, removal refused while a service references the object (naming
//! the services), service specs accepted only with references to held objects (by id and name), names resolved
//! to ids before proposing, a rollback to a spec whose secret is gone refused; and the `--secret`/`--config` flag
//! syntax with Docker's defaults and errors.

mod common;

use common::*;
use swarm_core::*;

fn secret(id: &str, name: &str, len: usize) -> Command {
    let spec = SecretSpec { name: name.into(), labels: Default::default() };
    Command::CreateSecret {
        secret_id: id.into(),
        spec,
        sealed: SealedData { key_id: "k1".into(), bytes: vec![7; len] },
    }
}

fn config(id: &str, name: &str, data: &[u8]) -> Command {
    Command::CreateConfig {
        config_id: id.into(),
        spec: ConfigSpec { name: name.into(), labels: Default::default(), data: data.to_vec() },
    }
}

fn with_secret(name: &str, secret_id: &str, secret_name: &str) -> ServiceSpec {
    let mut spec = ServiceSpec::replicated(name, "bb:1", 1);
    spec.task_template.container_spec.secrets = vec![SecretReference {
        secret_id: secret_id.into(),
        secret_name: secret_name.into(),
        file: FileTarget::default_for(secret_name),
    }];
    spec
}

fn rejection(store: &mut Store, command: Command) -> String {
    match store.apply(&at(T0 + 1_000, command)) {
        Err(rejection) => rejection.to_string(),
        Ok(outcome) => panic!("expected a rejection, got {outcome:?}"),
    }
}

#[test]
fn secrets_and_configs_are_created_within_docker_s_rules() {
    let max = FILE_DATA_MAX;
    let too_big = format!("data size in bytes {} exceeds the maximum of {max}", max + 1);
    // (command, the rejection's words, or "" when it is accepted), each on a store holding secret "a" and config "c".
    let cases: Vec<(Command, &str)> = vec![
        (secret("x1", "db_pass", 10), ""),
        (secret("x1", "db.pass-2", max + 28), ""),
        (secret("x1", "a", 10), "secret name \"a\" is already in use by secret s-a"),
        (secret("s-a", "other", 10), "secret s-a already exists"),
        (secret("x1", "", 10), "invalid secret \"\": name must not be empty"),
        (secret("x1", "-bad", 10), "invalid secret \"-bad\""),
        (secret("x1", &"n".repeat(65), 10), "name must be 64 characters or fewer"),
        (secret("x1", "empty", 0), "secret data must be larger than 0"),
        (secret("x1", "huge", max + 1_000), "data size in bytes"),
        (config("x2", "app_conf", b"listen 80"), ""),
        (config("x2", "c", b"x"), "config name \"c\" is already in use by config c-c"),
        (config("x2", "big", &vec![1; max + 1]), &too_big),
        (config("x2", "none", b""), "config data must be larger than 0"),
        // A secret and a config may share a name, as in Docker.
        (config("x2", "a", b"x"), ""),
    ];
    for (command, expected) in cases {
        let mut store = store_with(&[init(), secret("s-a", "a", 10), config("c-c", "c", b"x")]);
        let name = format!("{command:?}").chars().take(80).collect::<String>();
        match store.apply(&at(T0 + 10, command)) {
            Ok(_) => assert_eq!(expected, "", "{name}: accepted"),
            Err(rejection) => {
                assert!(!expected.is_empty(), "{name}: rejected: {rejection}");
                assert!(rejection.to_string().contains(expected), "{name}: {rejection}");
            }
        }
        store.check_invariants();
    }
}

#[test]
fn a_secret_in_use_stays_and_services_reference_only_held_objects() {
    let mut store = store_with(&[init(), secret("s1", "db_pass", 10), secret("s2", "api_key", 10)]);
    // Unknown secret, or a name that does not match the id: refused.
    let unknown = Command::CreateService { service_id: "v1".into(), spec: with_secret("vault", "nope", "nope") };
    assert_eq!(rejection(&mut store, unknown), "secret not found: nope");
    let mismatch = Command::CreateService { service_id: "v1".into(), spec: with_secret("vault", "s1", "api_key") };
    assert_eq!(rejection(&mut store, mismatch), "secret not found: api_key");

    // Names resolve to ids before proposing.
    let mut spec = with_secret("vault", "", "db_pass");
    store.resolve_file_references(&mut spec).unwrap();
    assert_eq!(spec.task_template.container_spec.secrets[0].secret_id, "s1");
    let mut by_id = with_secret("vault", "s2", "whatever");
    store.resolve_file_references(&mut by_id).unwrap();
    assert_eq!(by_id.task_template.container_spec.secrets[0].secret_name, "api_key");
    let mut missing = with_secret("vault", "", "gone");
    assert_eq!(store.resolve_file_references(&mut missing).unwrap_err().to_string(), "secret not found: gone");

    store.apply(&at(T0 + 10, Command::CreateService { service_id: "v1".into(), spec: spec.clone() })).unwrap();
    let mut other = with_secret("other", "s1", "db_pass");
    other.task_template.container_spec.secrets[0].file.name = "elsewhere".into();
    store.apply(&at(T0 + 11, Command::CreateService { service_id: "v2".into(), spec: other })).unwrap();
    assert_eq!(
        rejection(&mut store, Command::RemoveSecret { id: "s1".into() }),
        "secret 'db_pass' is in use by the following services: vault, other"
    );
    // Switch vault to the other secret, drop "other": s1 is free, and a rollback to it is refused once it is gone.
    let version = store.service("v1").unwrap().version;
    let moved = with_secret("vault", "s2", "api_key");
    store.apply(&at(T0 + 12, Command::UpdateService { id: "v1".into(), version, spec: moved })).unwrap();
    store.apply(&at(T0 + 13, Command::RemoveService { id: "v2".into() })).unwrap();
    store.apply(&at(T0 + 14, Command::RemoveSecret { id: "s1".into() })).unwrap();
    let version = store.service("v1").unwrap().version;
    assert_eq!(
        rejection(&mut store, Command::RollbackService { id: "v1".into(), version }),
        "secret not found: db_pass"
    );
    assert_eq!(rejection(&mut store, Command::RemoveSecret { id: "s1".into() }), "no such secret: s1");
    store.check_invariants();
}

#[test]
fn the_unlock_key_is_set_cleared_and_never_in_settings() {
    let mut store = store_with(&[init()]);
    assert!(!store.cluster().unwrap().autolock());
    let set = |key: &str, expected: &str| Command::SetUnlockKey { key: key.into(), expected: expected.into() };
    store.apply(&at(T0 + 1, set("SWMKEY-1-abc", ""))).unwrap();
    assert!(store.cluster().unwrap().autolock());
    assert_eq!(store.apply(&at(T0 + 2, set("SWMKEY-1-abc", "SWMKEY-1-abc"))), Ok(Outcome::Unchanged));
    // Based on a key replaced meanwhile: refused, the key in force stays.
    assert_eq!(
        rejection(&mut store, set("SWMKEY-1-new", "")),
        "the unlock key changed meanwhile; run the command again"
    );
    assert_eq!(store.cluster().unwrap().unlock_key, "SWMKEY-1-abc");
    store.apply(&at(T0 + 3, set("", "SWMKEY-1-abc"))).unwrap();
    assert!(!store.cluster().unwrap().autolock());
    let oversized = "k".repeat(TEXT_LEN_MAX + 1);
    assert!(rejection(&mut store, set(&oversized, "")).contains("exceeds the maximum"));
    let decoded = Store::decode_snapshot(&store.encode_snapshot()).unwrap();
    assert_eq!(decoded, store);
}

#[test]
fn secret_and_config_flags_parse_as_docker_s() {
    let file = |name: &str, uid: &str, gid: &str, mode: u32| FileTarget {
        name: name.into(),
        uid: uid.into(),
        gid: gid.into(),
        mode,
    };
    let ok: Vec<(&str, &str, FileTarget)> = vec![
        ("db_pass", "db_pass", file("db_pass", "0", "0", 0o444)),
        ("source=db_pass,target=pw", "db_pass", file("pw", "0", "0", 0o444)),
        ("src=db_pass,target=pw,uid=1000,gid=50,mode=0400", "db_pass", file("pw", "1000", "50", 0o400)),
        ("src=db_pass,mode=0600", "db_pass", file("db_pass", "0", "0", 0o600)),
        ("src=db_pass,mode=0o440", "db_pass", file("db_pass", "0", "0", 0o440)),
        // Docker reads a mode without a leading 0 as decimal: 292 is 0o444.
        ("src=db_pass,mode=292", "db_pass", file("db_pass", "0", "0", 0o444)),
    ];
    for (value, source, target) in ok {
        let secret = SecretReference::from_flag(value).unwrap();
        assert_eq!((secret.secret_name.as_str(), &secret.file), (source, &target), "{value}");
        let config = ConfigReference::from_flag(value).unwrap();
        assert_eq!((config.config_name.as_str(), &config.file), (source, &target), "{value}");
    }
    let bad: Vec<(&str, &str)> = vec![
        ("", "source is required"),
        ("target=pw", "source is required"),
        ("src=a,colour=red", "invalid field key colour"),
        ("src=a,target", "invalid field 'target' must be a key=value pair"),
        ("src=a,mode=rw", "invalid mode \"rw\""),
        ("src=a,mode=08", "invalid mode \"08\""),
    ];
    for (value, expected) in bad {
        let error = SecretReference::from_flag(value).unwrap_err().to_string();
        assert!(error.contains(expected) && error.contains("--secret"), "{value}: {error}");
    }
    // Targets: no climbing out, no duplicates, numeric owners.
    let spec_with = |secrets: Vec<&str>, configs: Vec<&str>| {
        let mut spec = ServiceSpec::replicated("s", "bb:1", 1);
        let container = &mut spec.task_template.container_spec;
        container.secrets = secrets.into_iter().map(|v| SecretReference::from_flag(v).unwrap()).collect();
        container.configs = configs.into_iter().map(|v| ConfigReference::from_flag(v).unwrap()).collect();
        spec.validate().map_err(|e| e.to_string())
    };
    assert_eq!(spec_with(vec!["a", "b"], vec!["c"]), Ok(()));
    assert!(spec_with(vec!["src=a,target=../x"], vec![]).unwrap_err().contains("\"..\""));
    assert!(spec_with(vec!["src=a,target=pw", "src=b,target=pw"], vec![]).unwrap_err().contains("duplicate"));
    assert!(spec_with(vec!["src=a,target=/etc/x"], vec!["src=c,target=/etc/x"]).unwrap_err().contains("duplicate"));
    assert!(spec_with(vec!["src=a,uid=root"], vec![]).unwrap_err().contains("uid must be a number"));
    assert!(spec_with(vec!["src=a,mode=1777"], vec![]).unwrap_err().contains("at most 0777"));
    let path = |kind, name: &str| FileTarget::default_for(name).container_path(kind);
    assert_eq!(path(FileKind::Secret, "pw"), "/run/secrets/pw");
    assert_eq!(path(FileKind::Config, "app.conf"), "/app.conf");
    assert_eq!(path(FileKind::Secret, "/etc/pw"), "/etc/pw");
}
