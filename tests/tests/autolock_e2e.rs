//! Encryption at rest and autolock on a real daemon: `swarm init --autolock` prints an unlock key; the manager's
//! private keys and data key are sealed in its identity file and its Raft log and snapshots hold no plaintext; a
//! restarted manager stays locked (every command answers Docker's "Swarm is encrypted and needs to be unlocked")
//! until `swarm unlock` reads the right key from stdin, and refuses a wrong one ("invalid key"); `unlock-key -q`
//! shows the key, `--rotate` replaces it (the old one then fails); `swarm update --autolock=false` lets the
//! manager restart unlocked; `--cert-expiry` below an hour is refused, an hour and up is stored.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use swarm_tests::{scratch_dir, swarm_bin, wait_for, Daemon, Role};

const FORM: Duration = Duration::from_secs(60);

/// `swarm unlock` with `key` on stdin: (success, stderr).
fn unlock(daemon: &Daemon, key: &str) -> (bool, String) {
    let mut child = Command::new(swarm_bin())
        .args(["unlock"])
        .env("SWARM_HOST", format!("unix://{}", daemon.socket.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run swarm unlock");
    child.stdin.take().unwrap().write_all(format!("{key}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).unwrap_or_default().windows(needle.len()).any(|w| w == needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

fn locked_refusal(daemon: &Daemon) -> String {
    let output = daemon.cli(&["node", "ls"]);
    assert!(!output.status.success(), "a locked manager answered node ls");
    output.stderr_text()
}

fn wait_unlocked(daemon: &Daemon) {
    wait_for("the manager to lead again", FORM, || daemon.leads_initialized_cluster().then_some(()));
}

#[test]
fn an_autolocked_manager_keeps_its_data_sealed_and_waits_for_its_key() {
    let dir = scratch_dir("autolock");
    let addr = "127.0.40.1:2340";
    let mut m1 = Daemon::start(addr, &dir.join("m1"), Role::Restart);
    wait_for("the control socket", FORM, || m1.socket.exists().then_some(()));
    let init = m1.cli_ok(&["init", "--autolock", "--advertise-addr", addr]);
    assert!(init.contains("To unlock a swarm manager after it restarts"), "{init}");
    let key = init.split_whitespace().find(|word| word.starts_with("SWMKEY-1-")).expect("an unlock key").to_string();
    wait_unlocked(&m1);
    assert_eq!(m1.cli_ok(&["unlock-key", "-q"]).trim(), key);

    // Sealed at rest: no private key in the clear, no plaintext of the store in the Raft data.
    let probe = format!("probe-net-{}", std::process::id());
    m1.cli_ok(&["network", "create", "-d", "overlay", &probe]);
    let identity = std::fs::read_to_string(m1.data_dir.join("certificates/swarm-node.pem")).unwrap();
    assert!(identity.contains("SWARM SEALED KEY") && !identity.contains("PRIVATE KEY"), "{identity}");
    assert_eq!(files_containing(&m1.data_dir, probe.as_bytes()), Vec::<String>::new());
    assert_eq!(files_containing(&m1.data_dir, key.as_bytes()), Vec::<String>::new(), "the unlock key on disk");

    // Restarted: locked until the right key.
    m1.restart();
    wait_for("the control socket", FORM, || m1.socket.exists().then_some(()));
    let refusal = wait_for("the locked refusal", FORM, || {
        let text = locked_refusal(&m1);
        text.contains("Swarm is encrypted and needs to be unlocked").then_some(text)
    });
    assert!(refusal.contains("swarm unlock"), "{refusal}");
    let wrong = key.replace("SWMKEY-1-", "SWMKEY-1-x").chars().take(key.len()).collect::<String>();
    assert_eq!(
        unlock(&m1, &wrong),
        (false, "Error response from daemon: swarm could not be unlocked: invalid key provided\n".to_string())
    );
    assert!(!unlock(&m1, "not a key").0);
    let (unlocked, stderr) = unlock(&m1, &key);
    assert!(unlocked, "unlock with the right key: {stderr}");
    wait_unlocked(&m1);
    assert!(m1.cli_ok(&["network", "ls"]).contains(&probe), "the store survived the lock");
    let again = m1.cli(&["unlock"]);
    assert!(again.stderr_text().contains("swarm is not locked"), "{}", again.stderr_text());

    // Rotation: the old key no longer opens.
    let rotated = m1.cli_ok(&["unlock-key", "--rotate"]);
    assert!(rotated.contains("Successfully rotated manager unlock key."), "{rotated}");
    let new_key = m1.cli_ok(&["unlock-key", "-q"]).trim().to_string();
    assert_ne!(new_key, key);
    wait_for("the keys to be sealed with the new key", FORM, || {
        let files = swarm_runtime::daemon::cert_files::CertFiles::open(&m1.data_dir).ok()?;
        let with_new = files.locked_with(swarm_runtime::tls::UnlockKey::parse(&new_key).as_ref());
        with_new.load().is_ok().then_some(())
    });
    m1.restart();
    wait_for("the control socket", FORM, || m1.socket.exists().then_some(()));
    wait_for("the locked refusal", FORM, || locked_refusal(&m1).contains("needs to be unlocked").then_some(()));
    assert!(!unlock(&m1, &key).0, "the rotated-out key");
    assert!(unlock(&m1, &new_key).0, "the new key");
    wait_unlocked(&m1);

    // Settings: cert expiry bounds, then autolock off: a restart needs no key.
    let short = m1.cli(&["update", "--cert-expiry", "30m"]);
    assert!(short.stderr_text().contains("minimum certificate expiry time is: 1h0m0s"), "{}", short.stderr_text());
    let long = m1.cli(&["update", "--cert-expiry", "100000h"]);
    assert!(long.stderr_text().contains("maximum certificate expiry time"), "{}", long.stderr_text());
    m1.cli_ok(&["update", "--cert-expiry", "48h"]);
    let store = m1.store_json().expect("the store");
    assert_eq!(store["cluster"]["settings"]["node_cert_expiry_ms"], 48 * 3_600_000);
    let off = m1.cli_ok(&["update", "--autolock=false"]);
    assert!(off.contains("Swarm updated."), "{off}");
    let none = m1.cli(&["unlock-key"]);
    assert!(none.stderr_text().contains("no unlock key is set"), "{}", none.stderr_text());
    wait_for("the keys to be unsealed", FORM, || {
        let identity = std::fs::read_to_string(m1.data_dir.join("certificates/swarm-node.pem")).ok()?;
        identity.contains("PRIVATE KEY").then_some(())
    });
    m1.restart();
    wait_unlocked(&m1);
    assert!(m1.cli_ok(&["network", "ls"]).contains(&probe));
}
