//! The rustls settings built from a node's identity: the server side (a chain of the node's certificate and the
//! root; client certificates checked against the root when presented — a connection without one may only join), the
//! client side (the node's certificate; the server must hold a certificate of the root naming the expected role or
//! node), and a joining node's client side, which trusts a manager only if the root it presents has the join
//! token's digest. Invariants: TLS 1.3 only; the settings a `TlsHandle` hands out always belong to one identity,
//! replaced whole.

use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use super::identity::NodeIdentity;
use super::{ca_digest, crypto_provider, TlsError, MANAGER_ROLE_NAME};

/// The settings of one identity, both sides.
pub struct TlsConfigs {
    pub identity: NodeIdentity,
    pub client: Arc<ClientConfig>,
    pub server: Arc<ServerConfig>,
}

/// This node's TLS settings, shared by its servers and clients; replaced whole when the node gets a new certificate
/// (promotion, demotion). Connections already open keep the settings they started with.
#[derive(Clone)]
pub struct TlsHandle {
    current: Arc<RwLock<Arc<TlsConfigs>>>,
    /// Held across a whole replacement (build, keep, swap), so two writers (a renewal and a role change) never
    /// interleave: what is kept on disk and what is in use are the same identity.
    replacing: Arc<std::sync::Mutex<()>>,
}

impl std::fmt::Debug for TlsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsHandle").field("identity", &self.current().identity).finish()
    }
}

impl TlsHandle {
    pub fn new(identity: NodeIdentity) -> Result<TlsHandle, TlsError> {
        Ok(TlsHandle { current: Arc::new(RwLock::new(Arc::new(build(identity)?))), replacing: Arc::default() })
    }

    pub fn current(&self) -> Arc<TlsConfigs> {
        self.current.read().expect("TLS settings lock").clone()
    }

    pub fn identity(&self) -> NodeIdentity {
        self.current().identity.clone()
    }

    /// Whether `other` is this very handle (a clone of it), not merely one with the same identity.
    pub fn same_as(&self, other: &TlsHandle) -> bool {
        Arc::ptr_eq(&self.current, &other.current)
    }

    /// Uses `identity` for every connection made or accepted from now on, once its settings built and `keep` (which
    /// saves it) succeeded: an identity whose settings cannot be built is never kept, so it cannot stop the node's
    /// next start.
    pub fn replace<E: From<TlsError>>(
        &self,
        identity: NodeIdentity,
        keep: impl FnOnce(&NodeIdentity) -> Result<(), E>,
    ) -> Result<(), E> {
        let _replacing = self.replacing.lock().expect("TLS replacement lock");
        self.replace_locked(identity, keep)
    }

    /// As `replace`, only if the certificate in use is still `expected_cert` (the one a background follower decided
    /// from): a change made meanwhile (a role change's new certificate) wins. Answers whether it replaced.
    pub fn replace_if_current<E: From<TlsError>>(
        &self,
        expected_cert: &[u8],
        identity: NodeIdentity,
        keep: impl FnOnce(&NodeIdentity) -> Result<(), E>,
    ) -> Result<bool, E> {
        let _replacing = self.replacing.lock().expect("TLS replacement lock");
        if self.current().identity.cert_der() != expected_cert {
            return Ok(false);
        }
        self.replace_locked(identity, keep).map(|()| true)
    }

    fn replace_locked<E: From<TlsError>>(
        &self,
        identity: NodeIdentity,
        keep: impl FnOnce(&NodeIdentity) -> Result<(), E>,
    ) -> Result<(), E> {
        let configs = Arc::new(build(identity)?);
        keep(&configs.identity)?;
        *self.current.write().expect("TLS settings lock") = configs;
        Ok(())
    }
}

fn roots_of<'a>(roots_der: impl IntoIterator<Item = &'a [u8]>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for root_der in roots_der {
        roots
            .add(CertificateDer::from(root_der.to_vec()))
            .map_err(|e| TlsError::Invalid { what: "root CA certificate", reason: e.to_string() })?;
    }
    Ok(Arc::new(roots))
}

fn config_error(error: impl std::fmt::Display) -> TlsError {
    TlsError::Config { reason: error.to_string() }
}

/// What a node presents: its certificate, then what lets a peer of either root of a rotation accept it — the
/// cross-signed root, and every root this node trusts (a joining node looks for its token's among them).
fn presented_chain(identity: &NodeIdentity) -> Vec<CertificateDer<'static>> {
    std::iter::once(identity.cert_der())
        .chain(identity.intermediates().iter().map(Vec::as_slice))
        .chain(identity.trusted_roots())
        .map(|der| CertificateDer::from(der.to_vec()))
        .collect()
}

fn build(identity: NodeIdentity) -> Result<TlsConfigs, TlsError> {
    let provider = crypto_provider();
    let roots = roots_of(identity.trusted_roots())?;
    let chain = presented_chain(&identity);
    let key = || PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_pkcs8().to_vec()));
    let client_verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(config_error)?;
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_error)?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain.clone(), key())
        .map_err(config_error)?;
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_error)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key())
        .map_err(config_error)?;
    Ok(TlsConfigs { identity, client: Arc::new(client), server: Arc::new(server) })
}

/// How a client connection is secured.
#[derive(Clone)]
pub enum ClientTls {
    /// As this node, to a server whose certificate carries `server_name` (a role's name or a node id).
    Node { handle: TlsHandle, server_name: ServerName<'static> },
    /// A node joining with a token: no client certificate; any manager whose root has the token's digest.
    Join(Arc<ClientConfig>),
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientTls::Node { server_name, .. } => write!(f, "ClientTls::Node({server_name:?})"),
            ClientTls::Join(_) => write!(f, "ClientTls::Join"),
        }
    }
}

impl ClientTls {
    /// As this node, to any manager.
    pub fn to_managers(handle: &TlsHandle) -> ClientTls {
        let server_name = ServerName::try_from(MANAGER_ROLE_NAME).expect("a valid DNS name");
        ClientTls::Node { handle: handle.clone(), server_name }
    }

    /// As this node, to the node `node_id` (whatever its role).
    pub fn to_node(handle: &TlsHandle, node_id: &str) -> Result<ClientTls, TlsError> {
        let server_name = ServerName::try_from(node_id.to_string())
            .map_err(|e| TlsError::Invalid { what: "node id", reason: e.to_string() })?;
        Ok(ClientTls::Node { handle: handle.clone(), server_name })
    }

    /// As a node joining with a token whose CA digest is `digest`.
    pub fn joining(digest: &str) -> Result<ClientTls, TlsError> {
        let provider = crypto_provider();
        let verifier = Arc::new(JoinVerifier { digest: digest.to_string(), provider: provider.clone() });
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(config_error)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(ClientTls::Join(Arc::new(config)))
    }

    /// The settings and the expected server name for a new connection.
    pub fn for_connection(&self) -> (Arc<ClientConfig>, ServerName<'static>) {
        match self {
            ClientTls::Node { handle, server_name } => (handle.current().client.clone(), server_name.clone()),
            ClientTls::Join(config) => {
                (config.clone(), ServerName::try_from(MANAGER_ROLE_NAME).expect("a valid DNS name"))
            }
        }
    }
}

/// A joining node's check of a manager: one certificate of the chain it presents is a root whose digest is the join
/// token's, and its own certificate is a manager's under that root (through the others presented, during a root
/// rotation). Nothing is sent before it passed.
#[derive(Debug)]
struct JoinVerifier {
    digest: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for JoinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(last) = intermediates.last() else {
            return Err(rustls::Error::General("the manager presented no root CA certificate".into()));
        };
        let Some(root) = intermediates.iter().find(|cert| ca_digest(cert) == self.digest) else {
            return Err(rustls::Error::General(format!(
                "the manager's root CA (digest {}) does not match the join token's digest {}",
                ca_digest(last),
                self.digest
            )));
        };
        let roots = roots_of([root.as_ref()]).map_err(|e| rustls::Error::General(e.to_string()))?;
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let others: Vec<CertificateDer<'_>> = intermediates.iter().filter(|c| *c != root).cloned().collect();
        verifier.verify_server_cert(end_entity, &others, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use swarm_core::{NodeRole, Timestamp};

    use super::*;
    use crate::tls::ca::{RootCa, NODE_CERT_VALIDITY};
    use crate::tls::keys::key_pkcs8_from_seed;

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    fn root(seed: u8) -> RootCa {
        RootCa::create("cluster1", NOW, key_pkcs8_from_seed(&[seed; 32]).unwrap()).unwrap()
    }

    fn manager_of(ca: &RootCa, seed: u8) -> NodeIdentity {
        let key = key_pkcs8_from_seed(&[seed; 32]).unwrap();
        ca.issue_identity(key, "m1", NodeRole::Manager, "cluster1", NOW, NODE_CERT_VALIDITY).unwrap()
    }

    /// Whether a client trusting only `roots` accepts the chain `identity` presents as a manager's.
    fn accepted_by(roots: &[&RootCa], identity: &NodeIdentity) -> bool {
        let roots = roots_of(roots.iter().map(|r| r.cert_der())).unwrap();
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, crypto_provider()).build().unwrap();
        build(identity.clone()).expect("the settings build with the whole chain");
        let chain = presented_chain(identity)[1..].to_vec();
        let name = ServerName::try_from(MANAGER_ROLE_NAME).unwrap();
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_millis(NOW.0 + 60_000));
        verifier
            .verify_server_cert(&CertificateDer::from(identity.cert_der().to_vec()), &chain, &name, &[], now)
            .is_ok()
    }

    #[test]
    fn during_a_rotation_either_root_accepts_a_certificate_of_the_new_one() {
        let (old, new) = (root(1), root(2));
        let cross_signed = old.cross_sign(&new).unwrap();
        let moved = manager_of(&new, 3).with_trust(vec![cross_signed], vec![old.cert_der().to_vec()]).unwrap();
        assert!(accepted_by(&[&old], &moved), "a peer still on the old root");
        assert!(accepted_by(&[&new], &moved), "a peer already on the new root");
        assert!(accepted_by(&[&old, &new], &moved));
        let report = moved.tls_report();
        assert_eq!(report.cert_root_digest, new.digest());
        assert_eq!(report.trusted_root_digests.len(), 2);

        // Without the cross-signed certificate, a peer of the old root refuses it; a certificate of the old root is
        // refused by a peer that dropped it.
        let bare = manager_of(&new, 3);
        assert!(!accepted_by(&[&old], &bare));
        assert!(!accepted_by(&[&new], &manager_of(&old, 4)));
        // Another root's certificate is no cross-signature.
        let stranger = root(5).cross_sign(&new).unwrap();
        let forged = manager_of(&new, 3).with_trust(vec![stranger], vec![]).unwrap();
        assert!(!accepted_by(&[&old], &forged));
    }

    #[test]
    fn a_joining_node_finds_its_token_s_root_in_a_rotating_manager_s_chain() {
        let (old, new) = (root(1), root(2));
        let cross_signed = old.cross_sign(&new).unwrap();
        let moved = manager_of(&new, 3).with_trust(vec![cross_signed], vec![old.cert_der().to_vec()]).unwrap();
        let chain = presented_chain(&moved);
        let (leaf, presented) = (chain[0].clone(), chain[1..].to_vec());
        let name = ServerName::try_from(MANAGER_ROLE_NAME).unwrap();
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_millis(NOW.0 + 60_000));
        for digest in [old.digest(), new.digest()] {
            let verifier = JoinVerifier { digest, provider: crypto_provider() };
            assert!(verifier.verify_server_cert(&leaf, &presented, &name, &[], now).is_ok());
        }
        let verifier = JoinVerifier { digest: root(9).digest(), provider: crypto_provider() };
        let error = verifier.verify_server_cert(&leaf, &presented, &name, &[], now).unwrap_err().to_string();
        assert!(error.contains("does not match the join token's digest"), "{error}");
    }
}
