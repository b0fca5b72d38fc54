//! The cluster's root certificate authority: a self-signed Ed25519 root made by `swarm init` and kept by the
//! managers (on their disks, handed to a manager with its certificate), and the one door through which node
//! certificates are issued. Invariant: a certificate is issued only from a signing request whose signature checks
//! out, and carries what the issuer decides (node id, role, cluster id, validity), never what the request asks
//! for; the request contributes its public key alone.

use std::time::Duration;

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::{CertificateDer, CertificateSigningRequestDer};
use swarm_core::{NodeRole, Timestamp};

use super::identity::BACKDATE;
use super::keys::rcgen_key;
use super::{ca_digest, role_name, TlsError};
use crate::raft::rt::SwarmRuntime;

/// How long the root CA is valid (SwarmKit: 20 years).
pub const ROOT_VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);
/// How long a node certificate is valid by default (Docker's `--cert-expiry` default: 90 days).
pub const NODE_CERT_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);
/// The common name of the root.
const ROOT_COMMON_NAME: &str = "swarm-ca";

/// The root CA: its certificate and private key, ready to sign.
pub struct RootCa {
    cert_der: Vec<u8>,
    key_pkcs8: Vec<u8>,
    issuer: rcgen::Certificate,
    issuer_key: rcgen::KeyPair,
}

impl std::fmt::Debug for RootCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCa").field("digest", &self.digest()).finish_non_exhaustive()
    }
}

impl RootCa {
    /// A new self-signed root for `cluster_id`, valid from `now` for `ROOT_VALIDITY`, with the key `key_pkcs8`.
    pub fn create(cluster_id: &str, now: Timestamp, key_pkcs8: Vec<u8>) -> Result<RootCa, TlsError> {
        let key = rcgen_key(&key_pkcs8)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(TlsError::generate("the root CA"))?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, ROOT_COMMON_NAME);
        name.push(DnType::OrganizationName, cluster_id);
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        set_validity(&mut params, now, ROOT_VALIDITY)?;
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key).map_err(TlsError::generate("the root CA"))?;
        RootCa::from_parts(cert.der().to_vec(), key_pkcs8)
    }

    /// The root from its certificate and key (as kept on disk); refused if they do not belong together.
    pub fn from_parts(cert_der: Vec<u8>, key_pkcs8: Vec<u8>) -> Result<RootCa, TlsError> {
        let issuer_key = rcgen_key(&key_pkcs8)?;
        let params = CertificateParams::from_ca_cert_der(&CertificateDer::from(cert_der.as_slice()))
            .map_err(|e| TlsError::Invalid { what: "root CA certificate", reason: e.to_string() })?;
        let parsed = super::identity::parse_certificate(&cert_der, "root CA certificate")?;
        if parsed.public_key != rcgen::PublicKeyData::der_bytes(&issuer_key) {
            return Err(TlsError::Invalid {
                what: "root CA",
                reason: "the private key does not belong to the certificate".to_string(),
            });
        }
        let issuer = params.self_signed(&issuer_key).map_err(TlsError::generate("the root CA's issuer"))?;
        Ok(RootCa { cert_der, key_pkcs8, issuer, issuer_key })
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn key_pkcs8(&self) -> &[u8] {
        &self.key_pkcs8
    }

    /// The digest a join token carries (`ca_digest` of the certificate).
    pub fn digest(&self) -> String {
        ca_digest(&self.cert_der)
    }

    /// Issues a certificate for the key of `csr_der` (whose signature must verify), naming `node_id`, `role` and
    /// `cluster_id`, valid from `now` for `validity`.
    pub fn issue(
        &self,
        csr_der: &[u8],
        node_id: &str,
        role: NodeRole,
        cluster_id: &str,
        now: Timestamp,
        validity: Duration,
    ) -> Result<Vec<u8>, TlsError> {
        let csr = CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
            .map_err(|e| TlsError::InvalidCsr { reason: csr_reason(e) })?;
        let names = vec![role_name(role).to_string(), node_id.to_string()];
        let mut params = CertificateParams::new(names).map_err(TlsError::generate("a node certificate"))?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, node_id);
        name.push(DnType::OrganizationalUnitName, role_name(role));
        name.push(DnType::OrganizationName, cluster_id);
        params.distinguished_name = name;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, now, validity)?;
        params.serial_number = Some(random_serial());
        let cert = params
            .signed_by(&csr.public_key, &self.issuer, &self.issuer_key)
            .map_err(TlsError::generate("a node certificate"))?;
        Ok(cert.der().to_vec())
    }
}

impl RootCa {
    /// `next`'s certificate signed by this root: the intermediate through which nodes that trust only this root
    /// accept certificates `next` issues, while a rotation moves the cluster from this root to `next`.
    pub fn cross_sign(&self, next: &RootCa) -> Result<Vec<u8>, TlsError> {
        let params = CertificateParams::from_ca_cert_der(&CertificateDer::from(next.cert_der()))
            .map_err(|e| TlsError::Invalid { what: "new root CA certificate", reason: e.to_string() })?;
        let cert = params
            .signed_by(&next.issuer_key, &self.issuer, &self.issuer_key)
            .map_err(TlsError::generate("a cross-signed root CA certificate"))?;
        Ok(cert.der().to_vec())
    }

    /// A whole identity for a node of this root: a certificate for `key_pkcs8` (made by the caller, on the node)
    /// naming `node_id`, `role` and `cluster_id`, valid from `now` for `validity`.
    pub fn issue_identity(
        &self,
        key_pkcs8: Vec<u8>,
        node_id: &str,
        role: NodeRole,
        cluster_id: &str,
        now: Timestamp,
        validity: Duration,
    ) -> Result<super::NodeIdentity, TlsError> {
        let csr = super::identity::signing_request(&key_pkcs8)?;
        let cert = self.issue(&csr, node_id, role, cluster_id, now, validity)?;
        super::NodeIdentity::new(cert, key_pkcs8, self.cert_der.clone())
    }
}

fn csr_reason(error: rcgen::Error) -> String {
    match error {
        rcgen::Error::RingUnspecified => "its signature does not verify".to_string(),
        other => other.to_string(),
    }
}

fn set_validity(params: &mut CertificateParams, now: Timestamp, validity: Duration) -> Result<(), TlsError> {
    let at = |millis: u64| {
        time::OffsetDateTime::from_unix_timestamp((millis / 1000) as i64)
            .map_err(|e| TlsError::Generate { what: "a certificate's validity", reason: e.to_string() })
    };
    params.not_before = at(now.0.saturating_sub(BACKDATE.as_millis() as u64))?;
    params.not_after = at(now.0.saturating_add(validity.as_millis() as u64))?;
    Ok(())
}

/// 16 random bytes, the top bit clear (serial numbers are positive integers).
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    <SwarmRuntime as openraft::AsyncRuntime>::thread_rng().fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&bytes)
}
