//! TEMPORARY (determinism debugging): the orchestration scenario with a tracing subscriber on stderr.
#![cfg(madsim)]

#[madsim::test]
async fn orchestration_with_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
    let seed = madsim::runtime::Handle::current().seed();
    eprintln!("=== RUN START seed {seed}");
    sim::orchestration_scenario::run(seed).await;
}

/// Wake order of 16 receivers of one tokio watch channel.
#[madsim::test]
async fn watch_wake_order() {
    use std::sync::{Arc, Mutex};
    let (tx, rx) = tokio::sync::watch::channel(0u32);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut joins = Vec::new();
    for i in 0..16 {
        let mut rx = rx.clone();
        let order = order.clone();
        joins.push(tokio::spawn(async move {
            rx.changed().await.unwrap();
            order.lock().unwrap().push(i);
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    tx.send(1).unwrap();
    for j in joins {
        j.await.unwrap();
    }
    eprintln!("=== wake order: {:?}", order.lock().unwrap());
}

/// Wake order of 16 receivers of one tokio watch channel.
#[madsim::test]
async fn swarm_watch_wake_order() {
    use std::sync::{Arc, Mutex};
    let (tx, rx) = swarm_runtime::watch::channel(0u32);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut joins = Vec::new();
    for i in 0..16 {
        let mut rx = rx.clone();
        let order = order.clone();
        joins.push(tokio::spawn(async move {
            rx.changed().await.unwrap();
            order.lock().unwrap().push(i);
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    tx.send_replace(1);
    for j in joins {
        j.await.unwrap();
    }
    eprintln!("=== swarm watch wake order: {:?}", order.lock().unwrap());
}
