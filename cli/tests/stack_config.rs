//! `swarm stack config` against Docker's own `docker stack config` (which runs client-side, no daemon needed):
//! for every compose file under `tests/compose/` both outputs are parsed and compared as data, and where Docker
//! refuses a file we must refuse it too, with an error naming file, line and column. The table says what is
//! expected of each file; every `.yml`/`.yaml` file there must be in it. Files using the long form of
//! `depends_on` (beyond Docker's v3 files: we keep conditions for deploy ordering) are compared with Docker's
//! output of the same file with the short form. Without a `docker` CLI this test fails: CI has one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Both accept; outputs equal as data.
    Same,
    /// Both refuse.
    BothRefuse,
    /// We accept the long form of `depends_on`; Docker accepts the file once it is rewritten to the short form.
    LongFormDependsOn,
    /// `docker stack config` accepts it but `docker stack deploy` would refuse it (an undefined secret, network,
    /// volume...): we refuse it already, with the place of the reference.
    RefusedLikeDeploy,
}

use Expect::*;

/// Each case: files (several for a merge, in `-c` order) and what is expected.
const CASES: &[(&[&str], Expect)] = &[
    (&["awesome-compose/angular.yaml"], Same),
    (&["awesome-compose/apache-php.yaml"], Same),
    (&["awesome-compose/aspnet-mssql.yaml"], Same),
    (&["awesome-compose/django.yaml"], Same),
    (&["awesome-compose/elasticsearch-logstash-kibana.yaml"], Same),
    (&["awesome-compose/fastapi.yaml"], Same),
    (&["awesome-compose/flask-redis.yaml"], Same),
    (&["awesome-compose/flask.yaml"], Same),
    (&["awesome-compose/gitea-postgres.yaml"], Same),
    (&["awesome-compose/minecraft.yaml"], Same),
    (&["awesome-compose/nextcloud-postgres.yaml"], Same),
    (&["awesome-compose/nextcloud-redis-mariadb.yaml"], Same),
    (&["awesome-compose/nginx-aspnet-mysql.yaml"], LongFormDependsOn),
    (&["awesome-compose/nginx-flask-mongo.yaml"], Same),
    (&["awesome-compose/nginx-flask-mysql.yaml"], LongFormDependsOn),
    (&["awesome-compose/nginx-golang-mysql.yaml"], LongFormDependsOn),
    (&["awesome-compose/nginx-golang-postgres.yaml"], LongFormDependsOn),
    (&["awesome-compose/nginx-golang.yaml"], Same),
    (&["awesome-compose/nginx-nodejs-redis.yaml"], Same),
    (&["awesome-compose/nginx-wsgi-flask.yaml"], Same),
    (&["awesome-compose/pihole-cloudflared-DoH.yaml"], Same),
    // `${PLEX_MEDIA_PATH}:/media/` with the variable unset: an empty mount source.
    (&["awesome-compose/plex.yaml"], BothRefuse),
    (&["awesome-compose/portainer.yaml"], Same),
    (&["awesome-compose/postgresql-pgadmin.yaml"], Same),
    (&["awesome-compose/prometheus-grafana.yaml"], Same),
    (&["awesome-compose/react-express-mongodb.yaml"], Same),
    (&["awesome-compose/react-express-mysql.yaml"], Same),
    (&["awesome-compose/react-java-mysql.yaml"], LongFormDependsOn),
    (&["awesome-compose/react-nginx.yaml"], Same),
    // A top-level `name:` (Compose Specification only).
    (&["awesome-compose/react-rust-postgres.yaml"], BothRefuse),
    (&["awesome-compose/sparkjava-mysql.yaml"], Same),
    (&["awesome-compose/sparkjava.yaml"], Same),
    (&["awesome-compose/spring-postgres.yaml"], Same),
    (&["awesome-compose/traefik-golang.yaml"], Same),
    (&["awesome-compose/vuejs.yaml"], Same),
    // `platform:` (Compose Specification only).
    (&["awesome-compose/wasmedge-kafka-mysql.yaml"], BothRefuse),
    (&["awesome-compose/wasmedge-mysql-nginx.yaml"], BothRefuse),
    (&["awesome-compose/wireguard.yaml"], Same),
    (&["awesome-compose/wordpress-mysql.yaml"], Same),
    (&["own/anchors.yml"], Same),
    (&["own/interpolation.yml"], Same),
    (&["own/jobs-and-modes.yml"], Same),
    (&["own/kitchen-sink.yml"], Same),
    (&["own/merge-base.yml"], Same),
    // Alone, the override file uses a secret it does not define.
    (&["own/merge-override.yml"], RefusedLikeDeploy),
    (&["own/merge-base.yml", "own/merge-override.yml"], Same),
    (&["own/objects.yml"], Same),
    (&["own/ports-and-mounts.yml"], Same),
    (&["own/version-3-0.yml"], Same),
    (&["own/refused-bad-duration.yml"], BothRefuse),
    (&["own/refused-bad-interpolation.yml"], BothRefuse),
    (&["own/refused-bad-memory-suffix.yml"], BothRefuse),
    (&["own/refused-bad-port.yml"], BothRefuse),
    (&["own/refused-boolean-env.yml"], BothRefuse),
    (&["own/refused-configs-in-3-0.yml"], BothRefuse),
    (&["own/refused-forbidden-key.yml"], BothRefuse),
    (&["own/refused-numeric-version.yml"], BothRefuse),
    (&["own/refused-replicas-three.yml"], BothRefuse),
    (&["own/refused-required-variable.yml"], BothRefuse),
    (&["own/refused-unknown-key.yml"], BothRefuse),
    (&["own/refused-unknown-version.yml"], BothRefuse),
];

/// The variables both tools see (the interpolation fixture uses them).
const ENVIRONMENT: &[(&str, &str)] = &[
    ("REGISTRY", ""),
    ("IMAGE_NAME", "app"),
    ("SET_VAR", "hello"),
    ("EMPTY_VAR", ""),
    ("REPLICAS", "3"),
    ("READ_ONLY", "yes"),
    ("TARGET_PORT", "80"),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swarm-stack-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn stack_config(program: &str, files: &[PathBuf], home: &Path) -> Output {
    let mut command = Command::new(program);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", home);
    command.env("DOCKER_CONFIG", home.join(".docker"));
    for (key, value) in ENVIRONMENT {
        command.env(key, value);
    }
    command.args(["stack", "config"]);
    for file in files {
        command.arg("-c").arg(file);
    }
    command.output().unwrap_or_else(|error| {
        panic!("cannot run `{program} stack config`: {error} (this test needs the docker CLI; CI has it)")
    })
}

fn parse_yaml(text: &str, what: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|error| panic!("{what} printed YAML we cannot parse: {error}\n{text}"))
}

/// `depends_on` as a sorted list of names, whichever form it has.
fn normalise_depends_on(config: &mut Value) {
    let Some(services) = config.get_mut("services").and_then(Value::as_object_mut) else { return };
    for service in services.values_mut() {
        if let Some(depends_on) = service.get_mut("depends_on") {
            let mut names: Vec<String> = match depends_on {
                Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                Value::Object(map) => map.keys().cloned().collect(),
                _ => continue,
            };
            names.sort();
            *depends_on = Value::Array(names.into_iter().map(Value::String).collect());
        }
    }
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).lines().last().unwrap_or_default().to_owned()
}

fn check_case(files: &[&str], expect: Expect, home: &Path) -> Result<(), String> {
    let swarm = env!("CARGO_BIN_EXE_swarm");
    let paths: Vec<PathBuf> = files.iter().map(|f| fixtures().join(f)).collect();
    let (ours_files, docker_files) = match expect {
        LongFormDependsOn => {
            // Both read copies in one scratch directory (relative paths resolve alike); Docker's copy has the
            // short form.
            let dir = scratch_dir(&files[0].replace('/', "-"));
            let original = std::fs::read_to_string(&paths[0]).expect("read fixture");
            let ours = dir.join("compose.yaml");
            std::fs::write(&ours, &original).expect("write copy");
            let mut value = parse_yaml(&original, "the fixture");
            normalise_depends_on(&mut value);
            let docker = dir.join("compose-short-form.json");
            std::fs::write(&docker, serde_json::to_string_pretty(&value).expect("json")).expect("write copy");
            (vec![ours], vec![docker])
        }
        _ => (paths.clone(), paths.clone()),
    };
    let ours = stack_config(swarm, &ours_files, home);
    let docker = stack_config("docker", &docker_files, home);
    match expect {
        BothRefuse | RefusedLikeDeploy => {
            if docker.status.success() != (expect == RefusedLikeDeploy) {
                return Err(format!("docker's stack config exit status {} is not what the table says", docker.status));
            }
            if ours.status.success() {
                return Err(format!("we accept it, docker refuses: {}", first_line(&docker.stderr)));
            }
            let message = first_line(&ours.stderr);
            let located = message.split(':').take(3).collect::<Vec<_>>();
            if located.len() < 3 || located[1].parse::<u32>().is_err() || located[2].parse::<u32>().is_err() {
                return Err(format!("our error does not start with file:line:column: {message}"));
            }
            Ok(())
        }
        Same | LongFormDependsOn => {
            if !docker.status.success() {
                return Err(format!("docker refuses it: {}", first_line(&docker.stderr)));
            }
            if !ours.status.success() {
                return Err(format!("we refuse it: {}", first_line(&ours.stderr)));
            }
            let mut theirs = parse_yaml(&String::from_utf8_lossy(&docker.stdout), "docker");
            let mut mine = parse_yaml(&String::from_utf8_lossy(&ours.stdout), "swarm");
            if expect == LongFormDependsOn {
                normalise_depends_on(&mut theirs);
                normalise_depends_on(&mut mine);
            }
            if theirs != mine {
                return Err(format!(
                    "outputs differ\n--- docker\n{}\n--- swarm\n{}",
                    serde_json::to_string_pretty(&theirs).unwrap_or_default(),
                    serde_json::to_string_pretty(&mine).unwrap_or_default()
                ));
            }
            Ok(())
        }
    }
}

#[test]
fn stack_config_matches_docker_on_every_fixture() {
    let docker_version = Command::new("docker").arg("--version").output();
    assert!(
        docker_version.as_ref().is_ok_and(|o| o.status.success()),
        "the docker CLI is required for this test (CI has it): {docker_version:?}"
    );
    // Every compose file in the fixture directories is in the table.
    for dir in ["awesome-compose", "own"] {
        for entry in std::fs::read_dir(fixtures().join(dir)).expect("fixture dir") {
            let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
            if name.ends_with(".yml") || name.ends_with(".yaml") {
                let relative = format!("{dir}/{name}");
                assert!(
                    CASES.iter().any(|(files, _)| files.contains(&relative.as_str())),
                    "{relative} is not in the table"
                );
            }
        }
    }
    let home = scratch_dir("home");
    let mut failures = Vec::new();
    let mut counts = [0usize; 4];
    for (files, expect) in CASES {
        counts[*expect as usize] += 1;
        if let Err(why) = check_case(files, *expect, &home) {
            failures.push(format!("{}: {why}", files.join(" + ")));
        }
    }
    eprintln!(
        "stack config vs docker: {} equal, {} refused by both, {} equal after rewriting long-form depends_on, {} \
         refused as docker's deploy would",
        counts[0], counts[1], counts[2], counts[3]
    );
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n\n"));
}

#[test]
fn dot_env_beside_the_compose_file_supplies_variables_and_the_process_environment_wins() {
    let dir = scratch_dir("dotenv");
    std::fs::write(
        dir.join("stack.yml"),
        "services:\n  web:\n    image: \"nginx:${TAG}\"\n    environment: {FROM_FILE: \"${ONLY_IN_FILE}\"}\n",
    )
    .expect("write stack");
    std::fs::write(dir.join(".env"), "# settings\nTAG=1.25\nexport ONLY_IN_FILE=\"from .env\"\n").expect("write .env");
    let run = |tag: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_swarm"));
        command.env_remove("TAG").env_remove("ONLY_IN_FILE");
        if let Some(tag) = tag {
            command.env("TAG", tag);
        }
        let output = command.args(["stack", "config", "-c"]).arg(dir.join("stack.yml")).output().expect("run swarm");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        parse_yaml(&String::from_utf8_lossy(&output.stdout), "swarm")
    };
    let from_file = run(None);
    assert_eq!(from_file["services"]["web"]["image"], "nginx:1.25");
    assert_eq!(from_file["services"]["web"]["environment"]["FROM_FILE"], "from .env");
    let overridden = run(Some("1.27"));
    assert_eq!(overridden["services"]["web"]["image"], "nginx:1.27");
}
