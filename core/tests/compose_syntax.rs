//! The small grammars the compose loader shares with Docker's Go code, each as a table of inputs and Docker's
//! results: interpolation, Go durations, shell word splitting, Go float printing, memory sizes, CPU counts, port
//! and mount short syntaxes, env files; and the two places where our merge deliberately differs from Docker's.

use std::collections::{BTreeMap, BTreeSet};

use swarm_core::compose::duration::Duration;
use swarm_core::compose::interpolate::{substitute, TemplateError};
use swarm_core::compose::model::{PortMode, PortProtocol, VolumeType};
use swarm_core::compose::scalar::{go_format_float, parse_nano_cpus, parse_ram_in_bytes};
use swarm_core::compose::syntax::{parse_port_spec, parse_volume_spec};
use swarm_core::compose::{config_text, env_file, load, load_str, InMemoryFiles, LoadInput, SourceFile};

#[test]
fn interpolation_follows_docker() {
    let environment: BTreeMap<&str, &str> = [("SET", "value"), ("EMPTY", ""), ("N", "3")].into_iter().collect();
    let lookup = |name: &str| environment.get(name).map(|v| v.to_string());
    let cases: &[(&str, Result<&str, ()>)] = &[
        ("plain", Ok("plain")),
        ("$SET", Ok("value")),
        ("${SET}", Ok("value")),
        ("a${SET}b", Ok("avalueb")),
        ("$SET.txt", Ok("value.txt")),
        ("${UNSET}", Ok("")),
        ("${UNSET:-default}", Ok("default")),
        ("${EMPTY:-default}", Ok("default")),
        ("${EMPTY-default}", Ok("")),
        ("${UNSET-default}", Ok("default")),
        ("${SET:-default}", Ok("value")),
        ("${SET:?message}", Ok("value")),
        ("${EMPTY?message}", Ok("")),
        ("$$", Ok("$")),
        ("$${SET}", Ok("${SET}")),
        ("cost $$5", Ok("cost $5")),
        ("${UNSET:-a b c}", Ok("a b c")),
        // Docker's unbraced form takes the operator to the end: `$VAR-x` is `VAR` with default `x`.
        ("$UNSET-suffix", Ok("suffix")),
        ("$SET-suffix", Ok("value")),
        ("${N}${N}", Ok("33")),
        ("${", Err(())),
        ("${}", Err(())),
        ("${1A}", Err(())),
        ("$1", Err(())),
        ("5$", Err(())),
        ("${SET", Err(())),
        ("${SET:x}", Err(())),
        ("${UNSET:?must be set}", Err(())),
        ("${EMPTY:?must not be empty}", Err(())),
        ("${UNSET?must be set}", Err(())),
    ];
    for (template, expected) in cases {
        let mut unset = BTreeSet::new();
        let got = substitute(template, &lookup, &mut unset);
        match (expected, &got) {
            (Ok(want), Ok(have)) => assert_eq!(have, want, "{template}"),
            (Err(()), Err(_)) => {}
            _ => panic!("{template}: expected {expected:?}, got {got:?}"),
        }
    }
    let mut unset = BTreeSet::new();
    assert_eq!(
        substitute("${UNSET:?set UNSET}", &lookup, &mut unset),
        Err(TemplateError::Required { name: "UNSET".into(), message: "set UNSET".into() })
    );
    substitute("$A ${B} ${C:-x}", &lookup, &mut unset).unwrap();
    assert_eq!(unset.into_iter().collect::<Vec<_>>(), ["A", "B"]);
}

#[test]
fn durations_parse_and_print_as_go() {
    let cases: &[(&str, &str)] = &[
        ("0", "0s"),
        ("0s", "0s"),
        ("90s", "1m30s"),
        ("1m30s", "1m30s"),
        ("1500ms", "1.5s"),
        ("1.5h", "1h30m0s"),
        ("2h", "2h0m0s"),
        ("100us", "100µs"),
        ("100µs", "100µs"),
        ("1ns", "1ns"),
        ("1.001ms", "1.001ms"),
        ("-5s", "-5s"),
        ("+5s", "5s"),
        ("1h2m3.5s", "1h2m3.5s"),
        (".5s", "500ms"),
        ("2562047h47m16.854775807s", "2562047h47m16.854775807s"),
    ];
    for (text, printed) in cases {
        let duration = Duration::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(duration.to_string(), *printed, "{text}");
    }
    for bad in ["", "5", "s", "5 s", "5x", "1.s.", "-", "9223372036854775808ns", "3000000h"] {
        assert!(Duration::parse(bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn commands_split_as_shlex_does() {
    let split = swarm_core::compose::shell_words::split;
    let cases: &[(&str, &[&str])] = &[
        ("echo hi", &["echo", "hi"]),
        ("  spaced   out  ", &["spaced", "out"]),
        ("sh -c 'echo \"hi there\"'", &["sh", "-c", "echo \"hi there\""]),
        ("a\"b c\"d", &["ab cd"]),
        ("say \"a \\\"quoted\\\" word\"", &["say", "a \"quoted\" word"]),
        ("one\\ word", &["one word"]),
        ("a '' b", &["a", "", "b"]),
        ("run # a comment", &["run"]),
        ("x#y", &["x#y"]),
        ("", &[]),
    ];
    for (text, words) in cases {
        assert_eq!(split(text).unwrap(), *words, "{text:?}");
    }
    assert!(split("'unclosed").is_err());
    assert!(split("\"unclosed").is_err());
    assert!(split("trailing\\").is_err());
}

#[test]
fn floats_print_as_go_sprint() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (100000.0, "100000"),
        (1000000.0, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (1.10, "1.1"),
    ];
    for (value, text) in cases {
        assert_eq!(go_format_float(*value), *text);
    }
}

#[test]
fn sizes_and_cpus_parse_as_docker() {
    let sizes: &[(&str, Option<i64>)] = &[
        ("512", Some(512)),
        ("512b", Some(512)),
        ("1k", Some(1024)),
        ("1KB", Some(1024)),
        ("1KiB", Some(1024)),
        ("512M", Some(536_870_912)),
        ("1g", Some(1_073_741_824)),
        ("1.5G", Some(1_610_612_736)),
        ("2 mb", Some(2_097_152)),
        ("1Mi", None),
        ("1x", None),
        ("", None),
        ("m", None),
        ("-1m", None),
        ("1mbb", None),
    ];
    for (text, bytes) in sizes {
        assert_eq!(parse_ram_in_bytes(text).ok(), *bytes, "{text:?}");
    }
    let cpus: &[(&str, Option<i64>)] = &[
        ("1", Some(1_000_000_000)),
        ("0.5", Some(500_000_000)),
        (".25", Some(250_000_000)),
        ("2.000000001", Some(2_000_000_001)),
        ("0.0000000001", None),
        ("abc", None),
        ("-1", None),
        ("", None),
    ];
    for (text, nanos) in cpus {
        assert_eq!(parse_nano_cpus(text).ok(), *nanos, "{text:?}");
    }
}

#[test]
fn port_short_syntax_expands_as_docker() {
    let render = |spec: &str| -> Vec<String> {
        let (ports, _) = parse_port_spec(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        ports
            .iter()
            .map(|p| {
                assert_eq!(p.mode, Some(PortMode::Ingress));
                let protocol = match p.protocol {
                    Some(PortProtocol::Tcp) => "tcp",
                    Some(PortProtocol::Udp) => "udp",
                    Some(PortProtocol::Sctp) => "sctp",
                    None => "?",
                };
                format!("{}:{}/{protocol}", p.published, p.target)
            })
            .collect()
    };
    assert_eq!(render("80"), ["0:80/tcp"]);
    assert_eq!(render("8080:80"), ["8080:80/tcp"]);
    assert_eq!(render("53:53/udp"), ["53:53/udp"]);
    assert_eq!(render("9000-9001:9000-9001/UDP"), ["9000:9000/udp", "9001:9001/udp"]);
    assert_eq!(render("6000-6002:6000"), ["6000:6000/tcp", "6001:6000/tcp", "6002:6000/tcp"]);
    // Docker orders a range by the text of "port/proto".
    assert_eq!(render("9-10"), ["0:10/tcp", "0:9/tcp"]);
    assert_eq!(parse_port_spec("127.0.0.1:5000:5000").unwrap().1.as_deref(), Some("127.0.0.1:5000:5000"));
    assert_eq!(parse_port_spec("0.0.0.0:5000:5000").unwrap().1, None);
    assert_eq!(render("[::1]:5001:5001"), ["5001:5001/tcp"]);
    for bad in ["", "x", "80/tcpx", "70000", "80-79", "1.2.3:80:80", "8000-8002:80-81"] {
        assert!(parse_port_spec(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn mount_short_syntax_parses_as_docker() {
    let cases: &[(&str, VolumeType, &str, &str, bool)] = &[
        ("/data", VolumeType::Volume, "", "/data", false),
        ("named:/data", VolumeType::Volume, "named", "/data", false),
        ("./dir:/data:ro", VolumeType::Bind, "./dir", "/data", true),
        ("/host:/data:rw", VolumeType::Bind, "/host", "/data", false),
        ("~/x:/x", VolumeType::Bind, "~/x", "/x", false),
        ("C:\\data:/data", VolumeType::Bind, "C:\\data", "/data", false),
        ("ab", VolumeType::Volume, "", "ab", false),
    ];
    for (spec, kind, source, target, read_only) in cases {
        let volume = parse_volume_spec(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(
            (volume.kind, volume.source.as_str(), volume.target.as_str(), volume.read_only),
            (*kind, *source, *target, *read_only),
            "{spec}"
        );
    }
    let with_options = parse_volume_spec("/h:/c:ro,rshared,nocopy").unwrap();
    assert_eq!(with_options.bind_propagation.as_deref(), Some("rshared"));
    assert_eq!(with_options.volume_nocopy, Some(true));
    assert_eq!(parse_volume_spec(":/c").unwrap_err(), "invalid spec: :/c: empty section between colons");
    assert_eq!(parse_volume_spec("/a:/b:ro:x").unwrap_err(), "invalid spec: /a:/b:ro:x: too many colons");
    assert!(parse_volume_spec("").is_err());
}

#[test]
fn env_files_follow_docker_and_dotenv_follows_compose() {
    let environment: BTreeMap<&str, &str> = [("FROM_ENV", "env")].into_iter().collect();
    let lookup = |name: &str| environment.get(name).map(|v| v.to_string());
    let parsed =
        env_file::parse_env_file("\u{feff}A=1\n# comment\n\n  B=two words \nFROM_ENV\nMISSING\nC=\n", &lookup).unwrap();
    let expected: Vec<(String, String)> = [("A", "1"), ("B", "two words "), ("FROM_ENV", "env"), ("C", "")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(parsed, expected);
    let error = env_file::parse_env_file("OK=1\nexport X=1\n", &lookup).unwrap_err();
    assert_eq!((error.line, error.message.as_str()), (2, "variable 'export X' contains whitespaces"));
    let dotenv =
        env_file::parse_dotenv("export TAG=1.25\nQUOTED=\"a # b\"\nSINGLE='x y'\nCOMMENTED=v # note\n# x\n").unwrap();
    assert_eq!(dotenv["TAG"], "1.25");
    assert_eq!(dotenv["QUOTED"], "a # b");
    assert_eq!(dotenv["SINGLE"], "x y");
    assert_eq!(dotenv["COMMENTED"], "v");
    let process: BTreeMap<String, String> = [("TAG".to_string(), "2".to_string())].into_iter().collect();
    assert_eq!(env_file::environment_with_dotenv(&process, &dotenv)["TAG"], "2");
}

#[test]
fn env_file_entries_are_read_through_the_file_source_relative_to_the_first_file() {
    let files = InMemoryFiles(
        [("/stack/conf/app.env".to_string(), "A=from-file\nB=file\nEMPTY=\n".to_string())].into_iter().collect(),
    );
    let environment: BTreeMap<String, String> = [("EMPTY".to_string(), "from-env".to_string())].into_iter().collect();
    let text = "services:\n  app:\n    image: x\n    env_file: conf/app.env\n    environment: {B: override, C: null}\n";
    let sources = [SourceFile { name: "stack.yml", text }];
    let loaded = load(&LoadInput {
        files: &sources,
        working_dir: "/stack",
        environment: &environment,
        files_reader: &files,
        skip_interpolation: false,
    })
    .unwrap();
    let env = &loaded.config.services["app"].environment;
    assert_eq!(env["A"].as_deref(), Some("from-file"));
    assert_eq!(env["B"].as_deref(), Some("override"));
    assert_eq!(env["C"], None);
    assert_eq!(env["EMPTY"].as_deref(), Some("from-env"), "an empty value takes the environment's, as in Docker");
    let missing =
        load_str("stack.yml", "services:\n  app: {image: x, env_file: nope.env}\n", &BTreeMap::new()).unwrap_err();
    assert!(
        missing.to_string().starts_with("stack.yml:2:29: services.app.env_file: cannot read env file /stack/nope.env"),
        "{missing}"
    );
}

fn load_two(base: &str, over: &str) -> swarm_core::compose::ComposeConfig {
    let sources = [SourceFile { name: "a.yml", text: base }, SourceFile { name: "b.yml", text: over }];
    load(&LoadInput {
        files: &sources,
        working_dir: "/stack",
        environment: &BTreeMap::new(),
        files_reader: &InMemoryFiles::default(),
        skip_interpolation: false,
    })
    .unwrap()
    .config
}

#[test]
fn merging_replaces_healthcheck_tests_and_does_not_repeat_dependencies() {
    // Docker concatenates the two tests (["CMD","a","CMD","b"]) and lists `db` twice; we do not.
    let config = load_two(
        "services:\n  db: {image: pg}\n  web: {image: a, depends_on: [db], healthcheck: {test: [CMD, a], retries: 3}}\n",
        "services:\n  web:\n    depends_on: {db: {condition: service_healthy}}\n    healthcheck: {test: [CMD, b]}\n",
    );
    let web = &config.services["web"];
    assert_eq!(web.healthcheck.as_ref().unwrap().test, ["CMD", "b"]);
    assert_eq!(web.healthcheck.as_ref().unwrap().retries, Some(3));
    assert_eq!(web.depends_on.len(), 1);
    assert_eq!(web.depends_on[0].condition, swarm_core::compose::DependencyCondition::ServiceHealthy);
    assert!(config_text(&config).contains("depends_on:\n      db:\n        condition: service_healthy\n"));
}

#[test]
fn files_of_different_versions_do_not_merge() {
    let sources = [
        SourceFile { name: "a.yml", text: "version: \"3.8\"\nservices: {}\n" },
        SourceFile { name: "b.yml", text: "version: \"3.9\"\nservices: {}\n" },
    ];
    let error = load(&LoadInput {
        files: &sources,
        working_dir: "/stack",
        environment: &BTreeMap::new(),
        files_reader: &InMemoryFiles::default(),
        skip_interpolation: false,
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "b.yml:1:1: version: version mismatched between two composefiles: 3.8 (a.yml) and 3.9"
    );
}

#[test]
fn warnings_name_ignored_and_deprecated_options_and_unset_variables() {
    let loaded = load_str(
        "stack.yml",
        "services:\n  web: {image: \"nginx:${TAG}\", build: ., privileged: true, container_name: w, restart: always}\n",
        &BTreeMap::new(),
    )
    .unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "The \"TAG\" variable is not set. Defaulting to a blank string.",
            "Ignoring unsupported options: build, privileged, restart",
            "Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported.",
        ]
    );
    assert_eq!(loaded.locate("services.web.image"), "stack.yml:2:9: services.web.image");
}

/// Inputs the fuzzers found whose `stack config` output did not load back, each now printed loadably or refused.
#[test]
fn printed_output_of_fuzzer_findings_loads_back() {
    let environment = BTreeMap::new();
    let accepted = [
        // Version 3.0 has no long port or mount syntax, yet the output prints them (as Docker's does).
        "version: \"3.0\"\nservices:\n  web: {image: nginx, ports: [\"80:80\"], volumes: [\"/h:/c:rshared\"]}\n",
        // `name:` of an external network predates its version (3.5) in the printed output.
        "version: \"3.4\"\nservices:\n  web: {image: nginx, networks: [ext]}\nnetworks:\n  ext: {external: true}\n",
        // A build block of unknown keys is no build at all.
        "services:\n  s: {build: {unknown: 1}}\n",
        // A zero single ulimit prints as 0, not Docker's `{}`.
        "services:\n  s: {image: x, ulimits: {nproc: 0}}\n",
    ];
    for text in accepted {
        let loaded = load_str("stack.yml", text, &environment).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let printed = config_text(&loaded.config);
        let again = load_str("printed.yml", &printed, &environment).unwrap_or_else(|e| panic!("{e}\n{printed}"));
        assert_eq!(again.config, loaded.config, "{printed}");
    }
    let refused = [
        "services:\n  s: {image: x, extra_hosts: {propagation: \"./rel\", published: \"node.role == manager\"}}\n",
        "services:\n  s: {image: x, ports: [\"0\"]}\n",
    ];
    for text in refused {
        assert!(load_str("stack.yml", text, &environment).is_err(), "{text}");
    }
}
