//! The deterministic simulator: madsim worlds of managers running the real runtime code on simulated disks and
//! networks, seeded fault scenarios, and invariant checkers (one file per property).
pub mod checkers;
pub mod executor;
#[cfg(madsim)]
pub mod orchestration_scenario;
#[cfg(madsim)]
pub mod raft_scenario;
pub mod recorder;
#[cfg(madsim)]
pub mod world;

/// Things the simulation relies on to replay a seed exactly, even when one process runs it more than once
/// (madsim's determinism check; a seed replayed alone after failing in a batch).
#[cfg(all(test, madsim))]
mod determinism {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// The order in which 16 tasks waiting on one `swarm_runtime::watch` channel run after a send, in a fresh
    /// simulation of `seed` on a fresh thread (as madsim runs each seed).
    fn wake_order(seed: u64) -> Vec<usize> {
        std::thread::spawn(move || {
            let runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
            runtime.block_on(async {
                let (sender, receiver) = swarm_runtime::watch::channel(0u32);
                let order = Arc::new(Mutex::new(Vec::new()));
                let waiters: Vec<_> = (0..16)
                    .map(|index| {
                        let mut receiver = receiver.clone();
                        let order = order.clone();
                        tokio::spawn(async move {
                            receiver.changed().await.expect("sender alive");
                            order.lock().expect("order").push(index);
                        })
                    })
                    .collect();
                tokio::time::sleep(Duration::from_millis(10)).await;
                sender.send_replace(1);
                for waiter in waiters {
                    waiter.await.expect("waiter");
                }
                let order = order.lock().expect("order").clone();
                order
            })
        })
        .join()
        .expect("simulation thread")
    }

    /// `tokio::sync::watch` fails this: its receivers wait on one of eight `Notify`s drawn from tokio's
    /// thread-local RNG, which each thread seeds from a process-global counter, outside madsim's seed.
    #[test]
    fn watch_waiters_wake_in_the_same_order_in_every_run_of_a_seed() {
        let first = wake_order(7);
        for _ in 0..3 {
            assert_eq!(wake_order(7), first);
        }
    }
}
