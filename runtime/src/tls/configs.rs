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
}

impl std::fmt::Debug for TlsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsHandle").field("identity", &self.current().identity).finish()
    }
}

impl TlsHandle {
    pub fn new(identity: NodeIdentity) -> Result<TlsHandle, TlsError> {
        Ok(TlsHandle { current: Arc::new(RwLock::new(Arc::new(build(identity)?))) })
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

    /// Uses `identity` for every connection made or accepted from now on.
    pub fn replace(&self, identity: NodeIdentity) -> Result<(), TlsError> {
        let configs = Arc::new(build(identity)?);
        *self.current.write().expect("TLS settings lock") = configs;
        Ok(())
    }
}

fn roots_of(root_der: &[u8]) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(root_der.to_vec()))
        .map_err(|e| TlsError::Invalid { what: "root CA certificate", reason: e.to_string() })?;
    Ok(Arc::new(roots))
}

fn config_error(error: impl std::fmt::Display) -> TlsError {
    TlsError::Config { reason: error.to_string() }
}

fn build(identity: NodeIdentity) -> Result<TlsConfigs, TlsError> {
    let provider = crypto_provider();
    let roots = roots_of(identity.root_der())?;
    let chain =
        vec![CertificateDer::from(identity.cert_der().to_vec()), CertificateDer::from(identity.root_der().to_vec())];
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

/// A joining node's check of a manager: the last certificate of the chain it presents is a root whose digest is
/// the join token's, and its own certificate is a manager's under that root. Nothing is sent before it passed.
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
        let Some(root) = intermediates.last() else {
            return Err(rustls::Error::General("the manager presented no root CA certificate".into()));
        };
        let presented = ca_digest(root);
        if presented != self.digest {
            return Err(rustls::Error::General(format!(
                "the manager's root CA (digest {presented}) does not match the join token's digest {}",
                self.digest
            )));
        }
        let roots = roots_of(root).map_err(|e| rustls::Error::General(e.to_string()))?;
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        verifier.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
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
