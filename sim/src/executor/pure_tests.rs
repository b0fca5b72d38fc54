//! Tests of the simulated engine's pure parts (behaviour draws, scripted exits, records) that need no
//! simulated runtime.

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use swarm_core::TaskSpec;

type Env = &'static [&'static str];

fn task_with(image: &str, env: &[&str]) -> Task {
    let mut spec = TaskSpec::image(image);
    spec.container_spec.env = env.iter().map(|e| e.to_string()).collect();
    Task::new("t1", "s1", Some(1), spec)
}

#[test]
fn missing_images_match_with_docker_implicit_latest() {
    let behaviour = SimBehaviour::calm().with_missing_image("nosuchimage");
    assert!(behaviour.image_missing("nosuchimage:latest"));
    assert!(behaviour.image_missing("nosuchimage"));
    assert!(!behaviour.image_missing("nosuchimage:1"));
}

#[test]
fn scripted_exits_come_from_env_and_fail_images() {
    let mut rng = StdRng::seed_from_u64(7);
    // (image, env, expected (after_ms, code))
    type Case = (&'static str, Env, Option<(u64, i64)>);
    let cases: [Case; 5] = [
        ("busybox:1", &[], None),
        ("busybox:1", &["SIM_EXIT_AFTER_MS=250"], Some((250, 0))),
        ("busybox:1", &["SIM_EXIT_AFTER_MS=250", "SIM_EXIT_CODE=3"], Some((250, 3))),
        // Docker keeps the last of duplicate env entries.
        ("busybox:1", &["SIM_EXIT_AFTER_MS=9", "SIM_EXIT_AFTER_MS=20"], Some((20, 0))),
        ("fail:2", &["SIM_EXIT_AFTER_MS=10", "SIM_EXIT_CODE=4"], Some((10, 4))),
    ];
    for (image, env, expected) in cases {
        let scripted = scripted_exit(&task_with(image, env), &mut rng).unwrap();
        assert_eq!(scripted.map(|s| (s.after_ms, s.code)), expected, "{image} {env:?}");
    }
    for _ in 0..50 {
        let failing = scripted_exit(&task_with("fail:v2", &[]), &mut rng).unwrap().unwrap();
        assert_eq!(failing.code, 1);
        assert!((FAILING_IMAGE_EXIT_MS.0..=FAILING_IMAGE_EXIT_MS.1).contains(&failing.after_ms));
    }
    let error = scripted_exit(&task_with("busybox:1", &["SIM_EXIT_AFTER_MS=soon"]), &mut rng).unwrap_err();
    assert!(matches!(error, ExecError::Rejected(ref m) if m.contains("SIM_EXIT_AFTER_MS=soon")), "{error:?}");
}

#[test]
fn crash_draws_follow_the_probability_per_second() {
    let mut rng = StdRng::seed_from_u64(11);
    assert_eq!(draw_crash_after_ms(&mut rng, 0.0), None);
    assert_eq!(draw_crash_after_ms(&mut rng, f64::NAN), None);
    // p = 0.5 per second: about half the containers crash within their first second.
    let draws: Vec<u64> = (0..4000).map(|_| draw_crash_after_ms(&mut rng, 0.5).unwrap()).collect();
    let within_a_second = draws.iter().filter(|&&ms| ms < 1000).count();
    assert!((1800..2200).contains(&within_a_second), "{within_a_second} of 4000 crashed within 1s");
    // p = 1 is clamped: crashes come almost at once, but never in the past.
    assert!(draw_crash_after_ms(&mut rng, 1.0).unwrap() < 1000);
}

#[test]
fn records_answer_running_at() {
    let record = ContainerRecord {
        container_id: "abc".into(),
        node_id: "n1".into(),
        task_id: "t1".into(),
        service_id: "s1".into(),
        slot: None,
        image: "busybox:1".into(),
        created_ms: 5,
        started_ms: Some(10),
        stopped_ms: Some(20),
        exit_code: Some(0),
        removed_ms: None,
        stopped_by_host_crash: false,
    };
    assert_eq!(record.slot_key(), SlotKey::Node("n1".into()));
    let running: Vec<bool> = [9, 10, 19, 20].iter().map(|&ms| record.running_at(ms)).collect();
    assert_eq!(running, [false, true, true, false]);
    assert!(!ContainerRecord { started_ms: None, stopped_ms: None, ..record.clone() }.running_at(15));
    assert!(ContainerRecord { stopped_ms: None, ..record }.running_at(1_000_000));
}
