//! The Raft fault campaign: each seed is one scenario (see `sim::raft_scenario`). Runs only under
//! `--cfg madsim` (`cargo sim`); honours MADSIM_TEST_SEED / MADSIM_TEST_NUM / MADSIM_TEST_JOBS and
//! MADSIM_TEST_CHECK_DETERMINISM; `SIM_LOG=<tracing filter>` (e.g. `info,openraft=off`) prints the nodes' logs.
#![cfg(madsim)]

#[madsim::test]
async fn raft_cluster_survives_faults() {
    if let Ok(filter) = std::env::var("SIM_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).without_time().try_init();
    }
    let seed = madsim::runtime::Handle::current().seed();
    sim::raft_scenario::run(seed).await;
}
