//! Autolock and the manager's data key. A manager keeps its Raft log and snapshots encrypted at rest with a data
//! key of its own (made the first time it runs as a manager, kept in its identity file). With autolock on (`swarm
//! init --autolock`, `swarm update --autolock=true`) the swarm holds an unlock key (`SWMKEY-1-…`) and every manager
//! keeps its private keys and data key sealed with it: a restarted manager stays locked — answering every command
//! with Docker's "Swarm is encrypted and needs to be unlocked" — until `swarm unlock` gives the key. The invariants:
//! the key a manager's files are sealed with is the one the store holds (each manager follows it on every tick of
//! the role watcher: sealing, re-sealing after `unlock-key --rotate`, unsealing when autolock goes off), the
//! unlock key lives only in the store (encrypted at rest on every manager) and in the memory of unlocked managers,
//! and a wrong key is refused ("invalid key") without touching anything.

use std::sync::Arc;

use super::cert_files::{CertFileError, CertFiles};
use super::errors::{DaemonError, Refusal};
use super::{propose, Daemon, Membership};
use crate::aead::AeadKey;
use crate::control::api::{UnlockKeyReply, UnlockKeyRequest, UnlockRequest};
use crate::tls::{NodeIdentity, RootCa, UnlockKey};
use swarm_core::{Command, NodeRole};

/// Docker's words for any command sent to a locked manager.
pub const LOCKED_MESSAGE: &str = "Swarm is encrypted and needs to be unlocked before it can be used. Please use \
                                  \"swarm unlock\" to unlock it.";
/// Docker's words for `swarm leave` on a locked manager without `--force`.
pub const LOCKED_LEAVE_MESSAGE: &str =
    "Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.";
/// Docker's words for a wrong unlock key.
pub const INVALID_KEY_MESSAGE: &str = "swarm could not be unlocked: invalid key provided";

impl Daemon {
    /// The identity file as the unlock key in use seals it.
    /// Keeps `identity` (and `ca`) in the identity file, sealed with the unlock key in force, under the
    /// `identity_file` lock.
    pub(super) fn save_identity(&self, identity: &NodeIdentity, ca: Option<&RootCa>) -> Result<(), CertFileError> {
        let _writing = self.identity_file.lock().expect("identity file lock");
        self.cert_files()?.save(identity, ca)
    }

    pub(super) fn cert_files(&self) -> Result<CertFiles, CertFileError> {
        let unlock_key = self.unlock_key.lock().expect("unlock key mutex").clone();
        Ok(CertFiles::open(&self.config.data_dir)?.locked_with(unlock_key.as_ref()))
    }

    /// This manager's data key for its Raft data at rest: the one its identity file holds, or a new one kept there
    /// first (a new manager, or one whose data predates encryption at rest: its old records stay readable).
    pub(super) fn data_key(&self) -> Result<Arc<AeadKey>, DaemonError> {
        let files = self.cert_files()?;
        let bytes = match files.load_data_key()? {
            Some(bytes) => bytes,
            None => {
                let bytes = AeadKey::fresh_bytes();
                let (identity, ca) = files.load()?;
                files.save_all(&identity, ca.as_deref(), Some(&bytes))?;
                tracing::info!("this manager encrypts its raft data at rest with a new data key");
                bytes
            }
        };
        Ok(Arc::new(AeadKey::from_bytes(&bytes)))
    }

    /// `swarm unlock`: a locked manager opens its keys with `request.key` and resumes.
    pub async fn unlock(self: &Arc<Self>, request: UnlockRequest) -> Result<(), Refusal> {
        let mut membership = self.membership.lock().await;
        let Membership::Locked { file } = &*membership else {
            return Err(Refusal::bad_request("swarm is not locked"));
        };
        let key = UnlockKey::parse(&request.key).ok_or_else(|| Refusal::bad_request(INVALID_KEY_MESSAGE))?;
        let files = CertFiles::open(&self.config.data_dir).map_err(Refusal::internal)?.locked_with(Some(&key));
        match files.load() {
            Ok(_) => {}
            Err(CertFileError::WrongUnlockKey) => return Err(Refusal::bad_request(INVALID_KEY_MESSAGE)),
            Err(error) => return Err(Refusal::internal(error)),
        }
        let file = file.clone();
        *self.unlock_key.lock().expect("unlock key mutex") = Some(key);
        let resumed = self.resume(file).await.map_err(Refusal::internal)?;
        *membership = resumed;
        tracing::info!("unlocked: the manager resumes");
        Ok(())
    }

    /// `swarm unlock-key [--rotate]`: the swarm's unlock key (a new one with `rotate`).
    pub async fn unlock_key(&self, request: UnlockKeyRequest) -> Result<UnlockKeyReply, Refusal> {
        let (manager, _) = self.manager().await?;
        let current =
            manager.read(|store| store.cluster().map(|cluster| cluster.unlock_key.clone())).unwrap_or_default();
        if current.is_empty() {
            return Err(Refusal::bad_request(if request.rotate {
                "cannot rotate because autolock is not turned on"
            } else {
                "no unlock key is set"
            }));
        }
        if !request.rotate {
            return Ok(UnlockKeyReply { key: current });
        }
        let key = UnlockKey::fresh();
        propose(&manager, Command::SetUnlockKey { key: key.text(), expected: current }).await?;
        // This manager's keys are resealed before the new key is shown; the others follow within a role-watcher
        // tick (a manager that is down meanwhile opens with the old key once, then follows).
        self.reseal(Some(key.clone())).await.map_err(Refusal::internal)?;
        Ok(UnlockKeyReply { key: key.text() })
    }

    /// The commands that turn autolock on (a new key, unless one is set) or off, and the key to show: the new one,
    /// or the one in force when autolock was on already (as Docker shows it).
    pub(super) fn autolock_commands(current: &str, autolock: bool) -> (Vec<Command>, Option<String>) {
        let expected = current.to_string();
        match (autolock, current.is_empty()) {
            (true, true) => {
                let key = UnlockKey::fresh().text();
                (vec![Command::SetUnlockKey { key: key.clone(), expected }], Some(key))
            }
            (true, false) => (Vec::new(), Some(expected)),
            (false, false) => (vec![Command::SetUnlockKey { key: String::new(), expected }], None),
            (false, true) => (Vec::new(), None),
        }
    }

    /// Seals (or unseals) this manager's keys with the unlock key the store holds, once it differs from the one in
    /// use. Workers keep theirs unsealed, as in Docker.
    pub(super) async fn follow_unlock_key(&self) -> Result<(), DaemonError> {
        let wanted = match &*self.membership.lock().await {
            Membership::Manager { manager, .. } => {
                let text = manager.read(|store| store.cluster().map(|cluster| cluster.unlock_key.clone()));
                match text {
                    None => return Ok(()),
                    Some(text) if text.is_empty() => None,
                    Some(text) => match UnlockKey::parse(&text) {
                        Some(key) => Some(key),
                        None => {
                            tracing::error!(
                                "the swarm's unlock key is not one this build reads; keys stay as they are"
                            );
                            return Ok(());
                        }
                    },
                }
            }
            Membership::Worker { file, .. } if file.role == NodeRole::Worker => None,
            _ => return Ok(()),
        };
        let current = self.unlock_key.lock().expect("unlock key mutex").clone();
        if current == wanted {
            return Ok(());
        }
        self.reseal(wanted).await
    }

    /// Rewrites the identity file with every key sealed with `wanted` (unsealed for `None`), in one atomic write.
    pub(super) async fn reseal(&self, wanted: Option<UnlockKey>) -> Result<(), DaemonError> {
        // Held across the rewrite, so no renewal saves the file in between with the old key.
        let _membership = self.membership.lock().await;
        let _writing = self.identity_file.lock().expect("identity file lock");
        let old = self.cert_files()?;
        let (identity, ca) = old.load()?;
        let data_key = old.load_data_key()?;
        let new = CertFiles::open(&self.config.data_dir)?.locked_with(wanted.as_ref());
        new.save_all(&identity, ca.as_deref(), data_key.as_ref())?;
        let locked = wanted.is_some();
        *self.unlock_key.lock().expect("unlock key mutex") = wanted;
        tracing::info!(locked, "this node's keys follow the swarm's unlock key");
        Ok(())
    }
}
