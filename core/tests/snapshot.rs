//! Snapshots round-trip exactly, and decoding never panics: every prefix of a real snapshot, thousands of
//! pseudo-random byte strings, unknown versions, trailing bytes and inconsistent contents all give typed errors.
//! The previous formats still decode: snapshot formats 9 and 8 and proposal format 6, checked against bytes the
//! builds before wrote.

mod common;

use common::*;
use swarm_core::*;

fn rich_store() -> Store {
    // The first workload from seed 42 on whose store has every kind of object, removed nodes included.
    (42..)
        .map(|seed| {
            let mut store = Store::new();
            apply_all(&mut store, &random_commands(&mut XorShift(seed), 400), seed);
            store
        })
        .find(|store| {
            store.task_count() > 0
                && store.service_count() > 0
                && store.node_count() > 0
                && !store.removed_nodes().is_empty()
        })
        .expect("some seed gives a rich store")
}

fn secret_reference() -> SecretReference {
    SecretReference { secret_id: "sec1".into(), secret_name: "db-password".into(), file: FileTarget::default_for("db") }
}

fn config_reference() -> ConfigReference {
    ConfigReference {
        config_id: "cfg1".into(),
        config_name: "nginx-conf".into(),
        file: FileTarget::default_for("/etc/nginx/nginx.conf"),
    }
}

/// A service spec whose container gets secret "db-password" and config "nginx-conf" (ids "sec1" and "cfg1").
fn spec_with_files() -> ServiceSpec {
    let mut spec = ServiceSpec::replicated("api", "bb:1", 1);
    spec.task_template.container_spec.secrets = vec![secret_reference()];
    spec.task_template.container_spec.configs = vec![config_reference()];
    spec
}

/// A store using everything snapshot format 9 added: a secret, a config, a service whose spec references both, a
/// task of it, and a node certificate expiry other than the default.
fn store_with_files() -> Store {
    let spec = spec_with_files();
    let mut task = Task::new("t9", "s9", Some(1), spec.task_template.clone());
    task.service_name = "api".into();
    let settings = ClusterSettings { node_cert_expiry_ms: 7 * 24 * 3_600_000, ..ClusterSettings::default() };
    let store = store_with(&[
        init(),
        Command::CreateSecret {
            secret_id: "sec1".into(),
            spec: SecretSpec { name: "db-password".into(), labels: [("tier".into(), "db".into())].into() },
            sealed: SealedData { key_id: "k1".into(), bytes: vec![0xA5; 40] },
        },
        Command::CreateConfig {
            config_id: "cfg1".into(),
            spec: ConfigSpec { name: "nginx-conf".into(), labels: Default::default(), data: b"events {}\n".to_vec() },
        },
        Command::CreateService { service_id: "s9".into(), spec },
        Command::CreateTasks { tasks: vec![task] },
        Command::UpdateClusterSettings { version: Version::INITIAL, settings },
    ]);
    assert!(uses_format_9_features(&store));
    store
}

/// A store in the middle of a root CA rotation, with a node's TLS report.
fn store_rotating() -> Store {
    let rotation = CaRotation {
        new_root_cert: vec![0x30; 64],
        new_root_digest: "digest-b".into(),
        new_root_key: SealedData { key_id: "old-key".into(), bytes: vec![0x5A; 48] },
        cross_signed_cert: vec![0x31; 64],
        new_key_id: "new-key".into(),
        started_at: Timestamp(0),
    };
    let tls =
        NodeTls { cert_root_digest: "digest-b".into(), trusted_root_digests: vec!["a".into(), "digest-b".into()] };
    store_with(&[
        init(),
        create_node("n1"),
        Command::StartCaRotation { rotation },
        Command::SetNodeTls { node_id: "n1".into(), tls },
    ])
}

/// Whether `store` holds anything snapshot format 8 cannot: secrets, configs, references to them, or a node
/// certificate expiry other than the default.
fn uses_format_9_features(store: &Store) -> bool {
    let references =
        |spec: &TaskSpec| !spec.container_spec.secrets.is_empty() || !spec.container_spec.configs.is_empty();
    store.secrets().count() > 0
        || store.configs().count() > 0
        || store
            .cluster()
            .is_some_and(|c| c.settings.node_cert_expiry_ms != ClusterSettings::default().node_cert_expiry_ms)
        || store.services().any(|s| {
            references(&s.spec.task_template)
                || s.previous_spec.iter().chain(&s.spec_history).any(|old| references(&old.task_template))
        })
        || store.tasks().any(|t| references(&t.spec))
}

/// The spec `golden_store()` and `golden_proposals()` use: container options of format 7, so the golden bytes
/// exercise the whole container spec of format 8.
fn golden_spec() -> ServiceSpec {
    let mut spec = ServiceSpec::replicated("web", "bb:1", 2);
    spec.task_template.container_spec.read_only = true;
    spec.task_template.container_spec.stop_signal = "SIGINT".into();
    spec
}

fn golden_task() -> Task {
    let mut task = Task::new("t1", "s1", Some(1), golden_spec().task_template);
    task.service_name = "web".into();
    task
}

/// The store whose format-8 snapshot `GOLDEN_SNAPSHOT_V8` holds: a cluster, a node with a tunnel record, a
/// service and a task.
fn golden_store() -> Store {
    let store = store_with(&[
        init(),
        create_node("n1"),
        Command::CreateService { service_id: "s1".into(), spec: golden_spec() },
        Command::CreateTasks { tasks: vec![golden_task()] },
        Command::SetNodeTunnel { node_id: "n1".into(), public_key: TunnelKey([7; 32]), port: 51820 },
    ]);
    assert_eq!(store.tunnels().count(), 1);
    store
}

/// The proposals whose format-6 encoding `GOLDEN_PROPOSALS_V6` holds: every variant whose payload changed shape
/// in format 7 (cluster settings, service specs, tasks), a batch, and `SetNodeTunnel` (the last variant of
/// format 6).
fn golden_proposals() -> Vec<Proposal> {
    let settings = ClusterSettings { task_history_retention_limit: 3, ..ClusterSettings::default() };
    let batch =
        vec![Command::RemoveNetwork { id: "n".into() }, Command::AssignTask { id: "t1".into(), node_id: "n1".into() }];
    vec![
        at(T0, init()),
        at(T0 + 1, Command::UpdateClusterSettings { version: Version::INITIAL, settings }),
        at(T0 + 2, Command::CreateService { service_id: "s1".into(), spec: golden_spec() }),
        at(T0 + 3, Command::UpdateService { id: "s1".into(), version: Version::INITIAL, spec: golden_spec() }),
        at(T0 + 4, Command::CreateTasks { tasks: vec![golden_task()] }),
        at(T0 + 5, Command::Batch(batch)),
        at(T0 + 6, Command::SetNodeTunnel { node_id: "n1".into(), public_key: TunnelKey([7; 32]), port: 51820 }),
    ]
}

/// Snapshot format 8 of `golden_store()`, as the build before secrets and configs wrote it (generated by that
/// build, commit ef500ad, from the same commands).
const GOLDEN_SNAPSHOT_V8: &str = concat!(
    "08010263310180d095ffbc3180d095ffbc3105e807904ef40301808080500818b5251653574d544b4e2d312d646967657374",
    "2d776f726b65721753574d544b4e2d312d6469676573742d6d616e6167657201026e31026e310181d095ffbc3181d095ffbc",
    "310001000000000007686f73742d6e3100000000000000010273310273310182d095ffbc3182d095ffbc3103776562000462",
    "623a31000000000000000080c8afa0250006534947494e5401000000000000000000000000000280e497d012000000000000",
    "00000000020101000080e497d01200000000000101000080e497d0120000000000000000000000010274310274310183d095",
    "ffbc3183d095ffbc310273310101000700000000000462623a31000000000000000080c8afa0250006534947494e54010000",
    "00000000000000000000000280e497d0120000000000000000000377656200000000000001026e3107070707070707070707",
    "07070707070707070707070707070707070707070707ec9403a9fe4001",
);

/// `golden_proposals()` as that build wrote a Raft entry's batch in proposal format 6 (postcard of
/// `Vec<Proposal>`, without the format byte, which the entry's record carries).
const GOLDEN_PROPOSALS_V6: &str = concat!(
    "0780d095ffbc310002633105e807904ef40301808080500818b5251653574d544b4e2d312d6469676573742d776f726b6572",
    "1753574d544b4e2d312d6469676573742d6d616e6167657281d095ffbc31020103e807904ef40301808080500818b52582d0",
    "95ffbc310902733103776562000462623a31000000000000000080c8afa0250006534947494e540100000000000000000000",
    "0000000280e497d01200000000000000000000020101000080e497d01200000000000101000080e497d01200000000000000",
    "83d095ffbc310a0273310103776562000462623a31000000000000000080c8afa0250006534947494e540100000000000000",
    "0000000000000280e497d01200000000000000000000020101000080e497d01200000000000101000080e497d01200000000",
    "00000084d095ffbc310e010274310100000273310101000700000000000462623a31000000000000000080c8afa025000653",
    "4947494e5401000000000000000000000000000280e497d012000000000000000000037765620000000085d095ffbc311802",
    "14016e10027431026e3186d095ffbc3119026e31070707070707070707070707070707070707070707070707070707070707",
    "0707ec9403",
);

/// Snapshot format 9 of `store_with_files()`, as the build before root CA rotation wrote it (generated by that
/// build, commit d5f425b, from the same commands).
const GOLDEN_SNAPSHOT_V9: &str = concat!(
    "09010263310280d095ffbc3185d095ffbc3105e807904ef40301808080500818b5258088b2a0021653574d544b4e2d312d64",
    "69676573742d776f726b65721753574d544b4e2d312d6469676573742d6d616e616765720000010273390273390183d095ff",
    "bc3183d095ffbc3103617069000462623a31000000000000000080c8afa0250000000000000000000000000104736563310b",
    "64622d70617373776f726402646201300130a4020104636667310a6e67696e782d636f6e66152f6574632f6e67696e782f6e",
    "67696e782e636f6e6601300130a402000000000280e497d01200000000000000000000010101000080e497d0120000000000",
    "0101000080e497d0120000000000000000000000010274390274390184d095ffbc3184d095ffbc3102733901010007000000",
    "00000462623a31000000000000000080c8afa0250000000000000000000000000104736563310b64622d70617373776f7264",
    "02646201300130a4020104636667310a6e67696e782d636f6e66152f6574632f6e67696e782f6e67696e782e636f6e660130",
    "0130a402000000000280e497d012000000000000000000036170690000000000000001047365633104736563310181d095ff",
    "bc3181d095ffbc310b64622d70617373776f7264010474696572026462026b3128a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5",
    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a501046366673104636667310182d095ffbc3182d095ffbc310a6e67",
    "696e782d636f6e66000a6576656e7473207b7d0a",
);

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits")).collect()
}

/// A Raft entry's batch in proposal format 6, through the decoder and encoder the runtime uses for it.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct BatchV6(
    #[serde(serialize_with = "serialize_proposals_v6", deserialize_with = "deserialize_proposals_v6")] Vec<Proposal>,
);

fn encode_v6(proposals: &[Proposal]) -> Vec<u8> {
    postcard::to_stdvec(&BatchV6(proposals.to_vec())).expect("encodes")
}

fn decode_v6(bytes: &[u8]) -> Result<Vec<Proposal>, postcard::Error> {
    postcard::from_bytes::<BatchV6>(bytes).map(|batch| batch.0)
}

#[test]
fn round_trip() {
    for store in [Store::new(), store_with(&base()), rich_store(), store_with_files(), store_rotating()] {
        let bytes = store.encode_snapshot();
        assert_eq!(bytes[0], SNAPSHOT_FORMAT_VERSION);
        let decoded = Store::decode_snapshot(&bytes).expect("decodes");
        assert_eq!(decoded, store);
        assert_eq!(decoded.encode_snapshot(), bytes);
        decoded.check_invariants();
    }
}

#[test]
fn secrets_configs_and_their_references_survive_a_snapshot() {
    let store = store_with_files();
    let decoded = Store::decode_snapshot(&store.encode_snapshot()).expect("decodes");
    assert_eq!(decoded.secret("sec1").map(|s| &s.sealed.bytes), Some(&vec![0xA5; 40]));
    assert_eq!(decoded.config("cfg1").map(|c| c.spec.data.as_slice()), Some(&b"events {}\n"[..]));
    let container = &decoded.service("s9").expect("service").spec.task_template.container_spec;
    assert_eq!(container.secrets, [secret_reference()]);
    assert_eq!(container.configs, [config_reference()]);
    assert_eq!(decoded.task("t9").expect("task").spec.container_spec.secrets, [secret_reference()]);
    assert_eq!(decoded.cluster().expect("cluster").settings.node_cert_expiry_ms, 7 * 24 * 3_600_000);
}

#[test]
fn the_previous_format_upgrades_to_the_same_store() {
    for store in [Store::new(), store_with(&base()), rich_store(), golden_store(), store_with_files()] {
        let bytes = store.encode_snapshot_previous_format();
        assert_eq!(bytes[0], SNAPSHOT_FORMAT_VERSION_PREVIOUS);
        assert_ne!(bytes, store.encode_snapshot());
        assert_eq!(Store::decode_snapshot(&bytes), Ok(store));
    }
}

#[test]
fn format_8_upgrades_to_the_same_store() {
    for store in [Store::new(), store_with(&base()), rich_store(), golden_store()] {
        assert!(!uses_format_9_features(&store), "format 8 cannot hold this store");
        let bytes = store.encode_snapshot_format_8();
        assert_eq!(bytes[0], SNAPSHOT_FORMAT_VERSION_8);
        assert_eq!(Store::decode_snapshot(&bytes), Ok(store));
    }
}

#[test]
fn format_8_drops_what_it_cannot_hold() {
    let store = store_with_files();
    let upgraded = Store::decode_snapshot(&store.encode_snapshot_format_8()).expect("decodes");
    upgraded.check_invariants();
    assert!(!uses_format_9_features(&upgraded));
    assert_eq!(upgraded.cluster().unwrap().settings, ClusterSettings::default());
    let mut spec = store.service("s9").unwrap().spec.clone();
    spec.task_template.container_spec.secrets.clear();
    spec.task_template.container_spec.configs.clear();
    assert_eq!(upgraded.service("s9").unwrap().spec, spec);
    assert_eq!(upgraded.task("t9").unwrap().spec, spec.task_template);
}

/// The previous format cannot hold the root CA state: a store in the middle of a rotation loads without it.
#[test]
fn the_previous_format_drops_the_root_ca_state() {
    let store = store_rotating();
    let upgraded = Store::decode_snapshot(&store.encode_snapshot_previous_format()).expect("decodes");
    assert_eq!(upgraded.cluster().unwrap().ca, ClusterCa::default());
    let decoded = Store::decode_snapshot(&store.encode_snapshot()).expect("decodes");
    assert_eq!(decoded, store);
    assert!(decoded.cluster().unwrap().ca.rotation.is_some());
}

/// Bytes the build before secrets and configs wrote (format 8) load as the store today's build makes from the
/// same commands, and today's downgrade writes them byte for byte.
#[test]
fn a_snapshot_two_builds_back_wrote_decodes() {
    let bytes = from_hex(GOLDEN_SNAPSHOT_V8);
    assert_eq!(bytes[0], SNAPSHOT_FORMAT_VERSION_8);
    let store = golden_store();
    let decoded = Store::decode_snapshot(&bytes).expect("format 8 decodes");
    assert_eq!(decoded, store);
    decoded.check_invariants();
    assert_eq!(decoded.tunnels().count(), 1, "format 8's tunnel records are kept");
    assert_eq!(store.encode_snapshot_format_8(), bytes);
}

/// Bytes the build before root CA rotation wrote (format 9) load as the store today's build makes from the same
/// commands, and today's downgrade writes them byte for byte.
#[test]
fn a_snapshot_the_previous_build_wrote_decodes() {
    let bytes = from_hex(GOLDEN_SNAPSHOT_V9);
    assert_eq!(bytes[0], SNAPSHOT_FORMAT_VERSION_PREVIOUS);
    let store = store_with_files();
    let decoded = Store::decode_snapshot(&bytes).expect("format 9 decodes");
    assert_eq!(decoded, store);
    decoded.check_invariants();
    assert_eq!(store.encode_snapshot_previous_format(), bytes);
}

/// Raft entries the build before secrets and configs wrote (proposal format 6) decode to today's proposals, and
/// today's downgrade writes them byte for byte.
#[test]
fn proposals_the_previous_build_wrote_decode_upgraded() {
    let bytes = from_hex(GOLDEN_PROPOSALS_V6);
    assert_eq!(decode_v6(&bytes).expect("format 6 decodes"), golden_proposals());
    assert_eq!(encode_v6(&golden_proposals()), bytes);
    // Today's format reads the same proposals differently (the settings and specs gained fields).
    assert_ne!(postcard::to_stdvec(&golden_proposals()).unwrap(), bytes);
    for len in 0..bytes.len() {
        assert!(decode_v6(&bytes[..len]).is_err(), "a batch cut to {len} bytes decodes");
    }
}

#[test]
fn the_previous_proposal_format_drops_what_it_cannot_hold() {
    let spec = spec_with_files();
    let mut without = spec.clone();
    without.task_template.container_spec.secrets.clear();
    without.task_template.container_spec.configs.clear();
    let settings = ClusterSettings { node_cert_expiry_ms: 2 * 3_600_000, ..ClusterSettings::default() };
    let today = vec![
        at(T0, Command::CreateService { service_id: "s9".into(), spec }),
        at(T0 + 1, Command::UpdateClusterSettings { version: Version::INITIAL, settings }),
        at(
            T0 + 2,
            Command::Batch(vec![
                Command::CreateSecret {
                    secret_id: "sec1".into(),
                    spec: SecretSpec::default(),
                    sealed: SealedData::default(),
                },
                Command::RemoveNetwork { id: "n".into() },
            ]),
        ),
        at(T0 + 3, Command::RemoveSecret { id: "sec1".into() }),
        at(T0 + 4, Command::CreateConfig { config_id: "cfg1".into(), spec: ConfigSpec::default() }),
        at(T0 + 5, Command::RemoveConfig { id: "cfg1".into() }),
    ];
    let expected = vec![
        at(T0, Command::CreateService { service_id: "s9".into(), spec: without }),
        at(T0 + 1, Command::UpdateClusterSettings { version: Version::INITIAL, settings: ClusterSettings::default() }),
        // Inside a batch a secret or config command is left out (an empty batch there would be a nested batch);
        // alone it becomes an empty batch, which changes nothing.
        at(T0 + 2, Command::Batch(vec![Command::RemoveNetwork { id: "n".into() }])),
        at(T0 + 3, Command::Batch(vec![])),
        at(T0 + 4, Command::Batch(vec![])),
        at(T0 + 5, Command::Batch(vec![])),
    ];
    assert_eq!(decode_v6(&encode_v6(&today)).expect("decodes"), expected);
}

/// A batch inside a batch is refused in the previous proposal format too: decoding never recurses past one level.
#[test]
fn a_nested_batch_of_the_previous_proposal_format_is_refused() {
    let inner = Command::Batch(vec![Command::RemoveService { id: "s0".into() }]);
    assert!(decode_v6(&encode_v6(&[at(T0, Command::Batch(vec![inner.clone()]))])).is_err());
    assert_eq!(decode_v6(&encode_v6(&[at(T0, inner.clone())])).unwrap(), [at(T0, inner)]);
}

#[test]
fn equal_content_encodes_identically_whatever_the_history() {
    // Same final content reached in different orders.
    let a = store_with(&[init(), create_service("s1", "web"), create_service("s2", "api"), create_node("n1")]);
    let b = store_with(&[init(), create_node("n1"), create_service("s2", "api"), create_service("s1", "web")]);
    // Timestamps differ with order, so compare after normalising through the same clock: rebuild with one time.
    let mut a2 = Store::new();
    let mut b2 = Store::new();
    for command in [init(), create_service("s1", "web"), create_service("s2", "api"), create_node("n1")] {
        a2.apply(&at(T0, command)).unwrap();
    }
    for command in [init(), create_node("n1"), create_service("s2", "api"), create_service("s1", "web")] {
        b2.apply(&at(T0, command)).unwrap();
    }
    assert_eq!(a2.encode_snapshot(), b2.encode_snapshot());
    assert_ne!(a.encode_snapshot(), b.encode_snapshot(), "different timestamps must show in the bytes");
}

#[test]
fn empty_input() {
    assert_eq!(Store::decode_snapshot(&[]), Err(DecodeError::Empty));
    assert_eq!(Proposal::decode(&[]), Err(DecodeError::Empty));
}

#[test]
fn unknown_format_version() {
    let mut bytes = store_with(&base()).encode_snapshot();
    // Formats 9 and 8 still decode (the two builds before wrote them); 7 and older do not.
    for version in [0u8, 1, 6, SNAPSHOT_FORMAT_VERSION_8 - 1, SNAPSHOT_FORMAT_VERSION + 1, 255] {
        bytes[0] = version;
        assert_eq!(
            Store::decode_snapshot(&bytes),
            Err(DecodeError::UnknownFormatVersion { found: version, supported: SNAPSHOT_FORMAT_VERSION })
        );
    }
    // `Proposal::decode` reads today's format only (the runtime reads the previous one with
    // `deserialize_proposals_v6`).
    let mut bytes = at(T0, Command::Batch(base())).encode();
    assert_eq!(bytes[0], PROPOSAL_FORMAT_VERSION);
    for version in [0u8, PROPOSAL_FORMAT_VERSION_PREVIOUS, PROPOSAL_FORMAT_VERSION + 1, 255] {
        bytes[0] = version;
        assert_eq!(
            Proposal::decode(&bytes),
            Err(DecodeError::UnknownFormatVersion { found: version, supported: PROPOSAL_FORMAT_VERSION })
        );
    }
}

#[test]
fn trailing_bytes() {
    for mut bytes in [store_with(&base()).encode_snapshot(), store_with(&base()).encode_snapshot_previous_format()] {
        let len = bytes.len() as u64;
        bytes.extend([0, 0, 7]);
        assert_eq!(Store::decode_snapshot(&bytes), Err(DecodeError::TrailingBytes { offset: len, count: 3 }));
    }
}

fn assert_every_truncation_is_an_error<T: std::fmt::Debug>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) {
    for len in 0..bytes.len() {
        match decode(&bytes[..len]) {
            Ok(_) => panic!("prefix of {len} of {} bytes decoded", bytes.len()),
            Err(DecodeError::Malformed { offset, .. }) => {
                assert!(offset <= len as u64, "offset {offset} > {len}")
            }
            Err(DecodeError::Empty) => assert_eq!(len, 0),
            Err(other) => panic!("prefix {len}: unexpected {other:?}"),
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    assert_every_truncation_is_an_error(&rich_store().encode_snapshot(), Store::decode_snapshot);
    assert_every_truncation_is_an_error(&store_with_files().encode_snapshot(), Store::decode_snapshot);
    assert_every_truncation_is_an_error(&from_hex(GOLDEN_SNAPSHOT_V8), Store::decode_snapshot);
    assert_every_truncation_is_an_error(&rich_store().encode_snapshot_previous_format(), Store::decode_snapshot);
    assert_every_truncation_is_an_error(&from_hex(GOLDEN_SNAPSHOT_V9), Store::decode_snapshot);
    assert_every_truncation_is_an_error(&store_rotating().encode_snapshot(), Store::decode_snapshot);
    for proposal in golden_proposals()
        .into_iter()
        .chain([at(T0, Command::CreateService { service_id: "s9".into(), spec: spec_with_files() })])
    {
        assert_every_truncation_is_an_error(&proposal.encode(), Proposal::decode);
    }
}

#[test]
fn garbage_never_panics() {
    let real = rich_store().encode_snapshot();
    let previous = rich_store().encode_snapshot_previous_format();
    let format_8 = rich_store().encode_snapshot_format_8();
    let rotating = store_rotating().encode_snapshot();
    let files = store_with_files().encode_snapshot();
    let proposal = at(T0, Command::Batch(base())).encode();
    let proposals_v6 = from_hex(GOLDEN_PROPOSALS_V6);
    let mut rng = XorShift(0x5eed);
    for round in 0..4000 {
        let len = rng.below(200) as usize;
        let mut bytes = rng.bytes(len);
        if !bytes.is_empty() {
            // Get past the version check, in every format that decodes.
            match round % 5 {
                0 => bytes[0] = SNAPSHOT_FORMAT_VERSION,
                1 => bytes[0] = SNAPSHOT_FORMAT_VERSION_PREVIOUS,
                2 => bytes[0] = PROPOSAL_FORMAT_VERSION,
                3 => bytes[0] = SNAPSHOT_FORMAT_VERSION_8,
                _ => {}
            }
        }
        let _ = Store::decode_snapshot(&bytes);
        let _ = Proposal::decode(&bytes);
        let _ = decode_v6(&bytes);

        // Bit flips in real encodings reach deeper into the decoder.
        for real in [&real, &previous, &format_8, &files, &rotating] {
            let mut flipped = real.clone();
            let at_byte = rng.below(flipped.len() as u64) as usize;
            flipped[at_byte] ^= 1 << rng.below(8);
            if let Ok(store) = Store::decode_snapshot(&flipped) {
                store.check_invariants();
            }
        }
        let mut flipped = proposal.clone();
        let at_byte = rng.below(flipped.len() as u64) as usize;
        flipped[at_byte] ^= 1 << rng.below(8);
        let _ = Proposal::decode(&flipped);
        let mut flipped = proposals_v6.clone();
        let at_byte = rng.below(flipped.len() as u64) as usize;
        flipped[at_byte] ^= 1 << rng.below(8);
        let _ = decode_v6(&flipped);
    }
}

#[test]
fn inconsistent_contents_are_rejected_not_trusted() {
    // Renaming the map key of service "s1" to "s2" leaves valid postcard whose key no longer matches the id, in
    // today's format and in the previous one.
    let store = store_with(&[init(), create_service("s1", "web")]);
    for bytes in [store.encode_snapshot(), store.encode_snapshot_previous_format(), store.encode_snapshot_format_8()] {
        let key = bytes.windows(3).position(|w| w == [2, b's', b'1']).expect("key bytes present");
        let mut tampered = bytes.clone();
        tampered[key + 2] = b'2';
        match Store::decode_snapshot(&tampered) {
            Err(DecodeError::Inconsistent { reason }) => assert!(reason.contains("s2"), "{reason}"),
            other => panic!("want Inconsistent, got {other:?}"),
        }
    }
}

#[test]
fn error_messages() {
    assert_eq!(
        DecodeError::UnknownFormatVersion { found: 9, supported: 1 }.to_string(),
        "unknown format version 9 (this build reads version 1)"
    );
    assert_eq!(
        DecodeError::TrailingBytes { offset: 10, count: 2 }.to_string(),
        "2 trailing bytes after the body at byte offset 10"
    );
}

/// A proposal nesting batches a million levels deep (what a hostile client or peer could send) is refused by the
/// decoder instead of overflowing the stack.
#[test]
fn deeply_nested_batches_are_refused_without_recursing() {
    let empty_batch = Proposal::new(Timestamp(1), Command::Batch(vec![])).encode();
    let plain = Proposal::new(Timestamp(1), Command::RemoveNetwork { id: String::new() }).encode();
    // The encodings share the prefix (format byte, timestamp); the batch variant tag and its length follow.
    let prefix_len = empty_batch.iter().zip(&plain).take_while(|(a, b)| a == b).count();
    let batch_tag = &empty_batch[prefix_len..empty_batch.len() - 1];
    let mut bytes = empty_batch[..prefix_len].to_vec();
    for _ in 0..1_000_000 {
        bytes.extend_from_slice(batch_tag);
        bytes.push(1); // one element, which is again a batch
    }
    bytes.extend_from_slice(batch_tag);
    bytes.push(0);
    let error = Proposal::decode(&bytes).expect_err("nested batches must not decode");
    // postcard reports custom errors generically; what matters is a typed error instead of a crash.
    assert!(error.to_string().contains("malformed"), "{error}");
    // One level still decodes.
    let one_level = Proposal::new(Timestamp(1), Command::Batch(vec![Command::RemoveNetwork { id: "x".into() }]));
    assert_eq!(Proposal::decode(&one_level.encode()).expect("flat batch"), one_level);
    // The same deep nesting in the previous format (a batch of one proposal, without the format byte).
    let mut old = vec![1];
    old.extend_from_slice(&bytes[1..]);
    assert!(decode_v6(&old).is_err(), "nested batches of the previous format must not decode");
}

#[test]
fn proposals_the_previous_build_wrote_decode_unchanged() {
    // Bytes of format 6 as the build before `SetNodeTunnel` wrote them: `now` 5, `Batch` (variant 24) of one
    // `RemoveNetwork { id: "n" }` (variant 20), and a bare `AttachNode` (variant 23); a Raft entry's batch of one
    // proposal each (the leading 1). Today's format 7 numbers these variants the same.
    let batch = [1u8, 5, 24, 1, 20, 1, b'n'];
    let expected =
        Proposal { now: Timestamp(5), command: Command::Batch(vec![Command::RemoveNetwork { id: "n".into() }]) };
    assert_eq!(decode_v6(&batch), Ok(vec![expected.clone()]));
    assert_eq!(encode_v6(std::slice::from_ref(&expected)), batch, "and are written the same way");
    let today = [&[PROPOSAL_FORMAT_VERSION][..], &batch[1..]].concat();
    assert_eq!(Proposal::decode(&today), Ok(expected.clone()));
    assert_eq!(expected.encode(), today);
    let attach = [1u8, 5, 23, 1, b'n', 1, b'x', 10, 0, 0, 1];
    let decoded = decode_v6(&attach).expect("decodes");
    assert!(
        matches!(decoded[0].command, Command::AttachNode { ref network_id, .. } if network_id == "n"),
        "{decoded:?}"
    );
}
