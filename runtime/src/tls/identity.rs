//! What a certificate says: `PeerIdentity` (node id, role, cluster id), read from the certificate a peer presented
//! once rustls checked its chain, and `NodeIdentity`, this node's own certificate with its private key and the
//! root it chains to. Invariant: a `NodeIdentity` always holds a certificate signed by its root, whose public key
//! is its private key's, and that names a node, a role and a cluster; anything else is refused when it is made.

use rcgen::{CertificateParams, DistinguishedName, DnType};
use swarm_core::{NodeRole, Timestamp};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::keys::rcgen_key;
use super::{role_from_name, TlsError};

/// How far back a certificate's validity starts, for clocks a little behind the issuer's (the CA backdates what it
/// issues; renewal counts a certificate's life from issuance).
pub(crate) const BACKDATE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Who is at the other end of a connection, as its certificate names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub node_id: String,
    pub role: NodeRole,
    pub cluster_id: String,
}

/// The parts of a certificate this code reads.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCertificate {
    pub common_name: Option<String>,
    pub unit: Option<String>,
    pub organization: Option<String>,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// The raw public key (for Ed25519, its 32 bytes).
    pub public_key: Vec<u8>,
}

/// Reads a DER certificate; `what` names it in errors.
pub(crate) fn parse_certificate(der: &[u8], what: &'static str) -> Result<ParsedCertificate, TlsError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| TlsError::Invalid { what, reason: e.to_string() })?;
    if !rest.is_empty() {
        return Err(TlsError::Invalid { what, reason: format!("{} trailing bytes", rest.len()) });
    }
    let subject = cert.subject();
    fn text(attr: Option<&x509_parser::x509::AttributeTypeAndValue<'_>>) -> Option<String> {
        attr.and_then(|a| a.as_str().ok()).map(str::to_string)
    }
    let common_name = text(subject.iter_common_name().next());
    let unit = text(subject.iter_organizational_unit().next());
    let organization = text(subject.iter_organization().next());
    let not_before_secs = cert.validity().not_before.timestamp().max(0) as u64;
    let not_after_secs = cert.validity().not_after.timestamp().max(0) as u64;
    let public_key = cert.public_key().subject_public_key.data.to_vec();
    Ok(ParsedCertificate {
        common_name,
        unit,
        organization,
        not_before: Timestamp(not_before_secs.saturating_mul(1000)),
        not_after: Timestamp(not_after_secs.saturating_mul(1000)),
        public_key,
    })
}

impl PeerIdentity {
    /// The identity a node certificate (DER) names; an error says what is missing.
    pub fn from_cert_der(der: &[u8]) -> Result<PeerIdentity, TlsError> {
        let parsed = parse_certificate(der, "node certificate")?;
        identity_of(&parsed)
    }
}

fn identity_of(parsed: &ParsedCertificate) -> Result<PeerIdentity, TlsError> {
    let invalid = TlsError::invalid("node certificate");
    let node_id =
        parsed.common_name.clone().filter(|n| !n.is_empty()).ok_or_else(|| invalid("no node id (CN)".into()))?;
    let unit = parsed.unit.clone().unwrap_or_default();
    let role = role_from_name(&unit)
        .ok_or_else(|| TlsError::Invalid { what: "node certificate", reason: format!("unknown role (OU) {unit:?}") })?;
    let cluster_id = parsed
        .organization
        .clone()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| TlsError::Invalid { what: "node certificate", reason: "no cluster id (O)".into() })?;
    Ok(PeerIdentity { node_id, role, cluster_id })
}

/// This node's certificate, its private key and the root CA certificate it chains to; during a root rotation also
/// the cross-signed certificate it presents with it and the other root it still trusts.
#[derive(Clone)]
pub struct NodeIdentity {
    cert_der: Vec<u8>,
    key_pkcs8: Vec<u8>,
    root_der: Vec<u8>,
    /// Presented between the certificate and the root: the root's certificate signed by the previous root, so a
    /// peer that trusts only that one accepts this node (empty outside a rotation).
    intermediates: Vec<Vec<u8>>,
    /// Roots trusted beside `root_der` (the previous root, during a rotation).
    other_roots: Vec<Vec<u8>>,
    identity: PeerIdentity,
    not_before: Timestamp,
    not_after: Timestamp,
}

impl std::fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity").field("identity", &self.identity).field("not_after", &self.not_after).finish()
    }
}

impl NodeIdentity {
    /// Checks that the parts belong together (see the invariant) and keeps them.
    pub fn new(cert_der: Vec<u8>, key_pkcs8: Vec<u8>, root_der: Vec<u8>) -> Result<NodeIdentity, TlsError> {
        let parsed = parse_certificate(&cert_der, "node certificate")?;
        let identity = identity_of(&parsed)?;
        let key = rcgen_key(&key_pkcs8)?;
        if parsed.public_key != rcgen::PublicKeyData::der_bytes(&key) {
            return Err(TlsError::Invalid {
                what: "node certificate",
                reason: "the private key does not belong to the certificate".into(),
            });
        }
        let (_, cert) = X509Certificate::from_der(&cert_der)
            .map_err(|e| TlsError::Invalid { what: "node certificate", reason: e.to_string() })?;
        let (_, root) = X509Certificate::from_der(&root_der)
            .map_err(|e| TlsError::Invalid { what: "root CA certificate", reason: e.to_string() })?;
        cert.verify_signature(Some(root.public_key())).map_err(|_| TlsError::Invalid {
            what: "node certificate",
            reason: "it is not signed by the cluster's root CA".into(),
        })?;
        Ok(NodeIdentity {
            cert_der,
            key_pkcs8,
            root_der,
            intermediates: Vec::new(),
            other_roots: Vec::new(),
            identity,
            not_before: parsed.not_before,
            not_after: parsed.not_after,
        })
    }

    pub fn node_id(&self) -> &str {
        &self.identity.node_id
    }

    pub fn role(&self) -> NodeRole {
        self.identity.role
    }

    pub fn cluster_id(&self) -> &str {
        &self.identity.cluster_id
    }

    pub fn identity(&self) -> &PeerIdentity {
        &self.identity
    }

    /// When the certificate stops being valid.
    pub fn not_after(&self) -> Timestamp {
        self.not_after
    }

    /// When the node asks for a new certificate: a point between 50 % and 80 % of this one's life, as Swarm renews,
    /// drawn from the certificate's own bytes, so the nodes certified together do not all renew at once and a
    /// restart does not move the point.
    /// The life counts from issuance, not from the backdated start: with the backdate counted, a certificate of an
    /// hour would be due for renewal the moment it was issued.
    pub fn renew_at(&self) -> Timestamp {
        let hash = ring::digest::digest(&ring::digest::SHA256, &self.cert_der);
        let draw = u64::from(u16::from_be_bytes([hash.as_ref()[0], hash.as_ref()[1]]));
        let issued = (self.not_before.0 + BACKDATE.as_millis() as u64).min(self.not_after.0);
        let life = self.not_after.0 - issued;
        let permille = 500 + draw * 300 / u64::from(u16::MAX);
        Timestamp(issued + life / 1000 * permille)
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn key_pkcs8(&self) -> &[u8] {
        &self.key_pkcs8
    }

    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// This identity presenting `intermediates` after its certificate and trusting `other_roots` beside its own
    /// root (a root rotation's transition); each must be a certificate.
    pub fn with_trust(
        mut self,
        intermediates: Vec<Vec<u8>>,
        other_roots: Vec<Vec<u8>>,
    ) -> Result<NodeIdentity, TlsError> {
        for der in &intermediates {
            parse_certificate(der, "cross-signed certificate")?;
        }
        for der in &other_roots {
            parse_certificate(der, "trusted root CA certificate")?;
        }
        let mut other_roots: Vec<Vec<u8>> = other_roots.into_iter().filter(|r| *r != self.root_der).collect();
        other_roots.dedup();
        self.intermediates = intermediates;
        self.other_roots = other_roots;
        Ok(self)
    }

    pub fn intermediates(&self) -> &[Vec<u8>] {
        &self.intermediates
    }

    pub fn other_roots(&self) -> &[Vec<u8>] {
        &self.other_roots
    }

    /// Every root this node trusts: its own first.
    pub fn trusted_roots(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(self.root_der.as_slice()).chain(self.other_roots.iter().map(Vec::as_slice))
    }

    /// What this node reports of its TLS: the digest of the root of its certificate and those of the roots it
    /// trusts, sorted.
    pub fn tls_report(&self) -> swarm_core::NodeTls {
        let mut trusted: Vec<String> = self.trusted_roots().map(super::ca_digest).collect();
        trusted.sort();
        trusted.dedup();
        swarm_core::NodeTls { cert_root_digest: super::ca_digest(&self.root_der), trusted_root_digests: trusted }
    }
}

/// A certificate signing request for the key `key_pkcs8`. Its subject is a placeholder: the issuer decides what
/// the certificate names.
pub fn signing_request(key_pkcs8: &[u8]) -> Result<Vec<u8>, TlsError> {
    let key = rcgen_key(key_pkcs8)?;
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(TlsError::generate("a certificate signing request"))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "swarm-node");
    params.distinguished_name = name;
    let request = params.serialize_request(&key).map_err(TlsError::generate("a certificate signing request"))?;
    Ok(request.der().to_vec())
}

/// `der` as PEM text with the `CERTIFICATE` tag.
pub fn certificate_pem(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()))
}

/// The DER bytes of the first PEM block tagged `tag` in `text`; `what` names the text in errors.
pub fn pem_block(text: &str, tag: &str, what: &'static str) -> Result<Vec<u8>, TlsError> {
    let blocks = pem::parse_many(text).map_err(|e| TlsError::Invalid { what, reason: e.to_string() })?;
    blocks
        .into_iter()
        .find(|block| block.tag() == tag)
        .map(|block| block.into_contents())
        .ok_or_else(|| TlsError::Invalid { what, reason: format!("no {tag} block") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::ca::{RootCa, NODE_CERT_VALIDITY};
    use crate::tls::keys::key_pkcs8_from_seed;

    fn root() -> RootCa {
        RootCa::create("cluster1", Timestamp(1_800_000_000_000), key_pkcs8_from_seed(&[1; 32]).unwrap()).unwrap()
    }

    #[test]
    fn issued_certificates_name_what_the_issuer_decides() {
        let root = root();
        let key = key_pkcs8_from_seed(&[2; 32]).unwrap();
        let csr = signing_request(&key).unwrap();
        let now = Timestamp(1_800_000_000_000);
        let cert = root.issue(&csr, "node1", NodeRole::Worker, "cluster1", now, NODE_CERT_VALIDITY).unwrap();
        let identity = NodeIdentity::new(cert.clone(), key.clone(), root.cert_der().to_vec()).unwrap();
        assert_eq!(
            identity.identity(),
            &PeerIdentity { node_id: "node1".into(), role: NodeRole::Worker, cluster_id: "cluster1".into() }
        );
        assert_eq!(identity.not_after(), Timestamp(now.0 + NODE_CERT_VALIDITY.as_millis() as u64));
        // Between 50 % and 80 % of the life since issuance (the start is backdated an hour for skewed clocks).
        assert_eq!(identity.not_before.0, now.0 - 3_600_000);
        let (start, life) = (now.0, identity.not_after().0 - now.0);
        let renew_at = identity.renew_at().0;
        assert!(renew_at >= start + life / 2 && renew_at <= start + life / 10 * 8, "{renew_at} in {start}+{life}");
        // Also for the shortest expiry SwarmKit allows, an hour: not due at once.
        // (Five certificates, five draws: counting the backdate, most draws would fall within the first 30 min.)
        let hour = std::time::Duration::from_secs(3600);
        for seed in 5..10 {
            let short_key = key_pkcs8_from_seed(&[seed; 32]).unwrap();
            let short = root.issue_identity(short_key, "node1", NodeRole::Worker, "cluster1", now, hour).unwrap();
            assert!(short.renew_at().0 >= now.0 + 1_800_000, "an hour's certificate renews after half an hour");
        }
        // Another key, or another root, does not make an identity with this certificate.
        let other_key = key_pkcs8_from_seed(&[3; 32]).unwrap();
        assert!(NodeIdentity::new(cert.clone(), other_key, root.cert_der().to_vec()).is_err());
        let other_root =
            RootCa::create("cluster1", now, key_pkcs8_from_seed(&[4; 32]).unwrap()).unwrap().cert_der().to_vec();
        let error = NodeIdentity::new(cert, key, other_root).unwrap_err().to_string();
        assert!(error.contains("not signed by the cluster's root CA"), "{error}");
    }

    #[test]
    fn malformed_requests_and_certificates_are_refused_with_reasons() {
        let root = root();
        let now = Timestamp(1_800_000_000_000);
        let garbage = root.issue(b"not a CSR", "n", NodeRole::Worker, "c", now, NODE_CERT_VALIDITY).unwrap_err();
        assert!(garbage.to_string().starts_with("invalid certificate signing request"), "{garbage}");
        let mut csr = signing_request(&key_pkcs8_from_seed(&[2; 32]).unwrap()).unwrap();
        let last = csr.len() - 1;
        csr[last] ^= 1; // the signature's last byte
        let forged = root.issue(&csr, "n", NodeRole::Worker, "c", now, NODE_CERT_VALIDITY).unwrap_err();
        assert!(forged.to_string().contains("signature does not verify"), "{forged}");
        assert!(PeerIdentity::from_cert_der(b"junk").is_err());
        // The root itself names no role: it is no node certificate.
        let error = PeerIdentity::from_cert_der(root.cert_der()).unwrap_err().to_string();
        assert!(error.contains("role"), "{error}");
    }

    #[test]
    fn a_root_reopens_from_its_parts_and_refuses_a_foreign_key() {
        let root = root();
        let reopened = RootCa::from_parts(root.cert_der().to_vec(), root.key_pkcs8().to_vec()).unwrap();
        assert_eq!(reopened.digest(), root.digest());
        assert!(RootCa::from_parts(root.cert_der().to_vec(), key_pkcs8_from_seed(&[9; 32]).unwrap()).is_err());
        let pem = certificate_pem(root.cert_der());
        assert_eq!(pem_block(&pem, "CERTIFICATE", "root").unwrap(), root.cert_der());
        assert!(pem_block("nothing", "CERTIFICATE", "root").is_err());
    }
}
