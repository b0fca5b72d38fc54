//! A simulated node's identity file: what its `KeepIdentity` kept last — the certificate and, on a manager, the
//! root CA it holds. A node (re)starts from it, as a daemon loads its file, so an identity that was used but never
//! kept is lost at a restart, and `World::held_tls` tells whether the file and the identity in use agree.

use std::sync::{Arc, Mutex};

use swarm_runtime::manager::own_certificate;
use swarm_runtime::tls::{NodeIdentity, RootCa, TlsError, TlsHandle};
use swarm_runtime::worker::cert_follow;

/// The kept identity and, for a manager, the kept root CA.
type Kept = (NodeIdentity, Option<Arc<RootCa>>);

#[derive(Clone)]
pub struct IdentityFile(Arc<Mutex<Kept>>);

impl IdentityFile {
    /// The file as the node's join left it.
    pub fn new(identity: NodeIdentity, ca: Option<Arc<RootCa>>) -> IdentityFile {
        IdentityFile(Arc::new(Mutex::new((identity, ca))))
    }

    pub fn load(&self) -> Kept {
        self.0.lock().expect("identity file").clone()
    }

    /// Puts what the file holds into `tls`, as a restarted daemon does; answers the kept root CA.
    pub fn restore(&self, tls: &TlsHandle) -> Option<Arc<RootCa>> {
        let (identity, ca) = self.load();
        tls.replace(identity, |_| Ok::<(), TlsError>(())).expect("a kept identity builds its TLS settings");
        ca
    }

    /// How a manager keeps a new identity here.
    pub fn manager_keeper(&self) -> own_certificate::KeepIdentity {
        let file = self.0.clone();
        Arc::new(move |identity: &NodeIdentity, root: &RootCa| {
            *file.lock().expect("identity file") = (identity.clone(), Some(Arc::new(clone_root(root)?)));
            Ok(())
        })
    }

    /// How a worker's agent keeps a new identity here.
    pub fn worker_keeper(&self) -> cert_follow::KeepIdentity {
        let file = self.0.clone();
        cert_follow::KeepIdentity(Arc::new(move |identity: &NodeIdentity| {
            file.lock().expect("identity file").0 = identity.clone();
            Ok(())
        }))
    }
}

/// A root CA from its parts (as the file holds it).
fn clone_root(root: &RootCa) -> Result<RootCa, String> {
    RootCa::from_parts(root.cert_der().to_vec(), root.key_pkcs8().to_vec()).map_err(|e| e.to_string())
}
