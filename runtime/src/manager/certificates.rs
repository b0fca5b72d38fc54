//! The managers' certificate authority at work: certificates for nodes joining with a token and for nodes whose
//! role the store changed (`node promote` / `node demote`), issued on the leader from the cluster's root CA.
//! Invariants: a certificate names the node id the issuer chose (a joining node) or the caller's own (a renewal —
//! a worker may renew only itself), and the role the token or the store gives, never one the request asks for; the
//! root's private key goes only to a node whose new certificate is a manager's.

use bytes::Bytes;
use hyper::StatusCode;
use swarm_core::NodeRole;

use super::access::Admitted;
use super::api::{IssuedCertificate, RenewRequest, PATH_CA_RENEW};
use super::Manager;
use crate::clock::wall_clock_now;
use crate::http::Reply;
use std::sync::Arc;

use crate::tls::identity::{certificate_pem, pem_block, signing_request};
use crate::tls::keys::fresh_key_pkcs8;
use crate::tls::{ca_digest, NodeIdentity, RootCa, TlsError};

/// The PEM tag of a PKCS#8 private key.
pub const PRIVATE_KEY_PEM_TAG: &str = "PRIVATE KEY";
/// The PEM tag of a certificate signing request.
pub const CSR_PEM_TAG: &str = "CERTIFICATE REQUEST";

impl Manager {
    /// A certificate for the key of `csr_pem`, naming `node_id` in `role` in this cluster; a refusal names what is
    /// wrong with the request.
    pub(super) fn issue_certificate(
        &self,
        csr_pem: &str,
        node_id: &str,
        role: NodeRole,
    ) -> Result<IssuedCertificate, Reply> {
        let Some(roots) = self.held_roots() else {
            return Err(Reply::error(StatusCode::SERVICE_UNAVAILABLE, "this manager holds no certificate authority"));
        };
        let validity = self.node_cert_validity();
        let Some((cluster_id, cluster_ca)) =
            self.state.read(|store| store.cluster().map(|c| (c.id.clone(), c.ca.clone())))
        else {
            return Err(Reply::error(StatusCode::SERVICE_UNAVAILABLE, crate::propose::NO_LEADER_MESSAGE));
        };
        let unavailable =
            |error: crate::tls::TlsError| Reply::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string());
        let issuing = roots.issuing(&cluster_ca).map_err(unavailable)?;
        let trust = roots.wanted_trust(&cluster_ca).map_err(unavailable)?;
        let csr = pem_block(csr_pem, CSR_PEM_TAG, "certificate signing request")
            .map_err(|error| Reply::error(StatusCode::BAD_REQUEST, error.to_string()))?;
        let cert = issuing
            .issue(&csr, node_id, role, &cluster_id, wall_clock_now(), validity)
            .map_err(|error| Reply::error(StatusCode::BAD_REQUEST, error.to_string()))?;
        // A manager gets the key of the cluster's current root (the disk root of every manager until a rotation
        // finishes); it takes up a rotation's new root from the store itself.
        let signing =
            (role == NodeRole::Manager).then(|| roots.current(&cluster_ca)).transpose().map_err(unavailable)?;
        let ca_key_pem =
            signing.as_ref().map(|ca| pem::encode(&pem::Pem::new(PRIVATE_KEY_PEM_TAG, ca.key_pkcs8().to_vec())));
        let ca_cert_pem =
            signing.as_ref().filter(|ca| ca.cert_der() != issuing.cert_der()).map(|ca| certificate_pem(ca.cert_der()));
        tracing::info!(node = %node_id, ?role, "issued a node certificate");
        Ok(IssuedCertificate {
            node_id: node_id.to_string(),
            role,
            cert_pem: certificate_pem(&cert),
            root_pem: certificate_pem(issuing.cert_der()),
            ca_key_pem,
            ca_cert_pem,
            intermediates_pem: trust.intermediates.iter().map(|der| certificate_pem(der)).collect(),
            other_roots_pem: trust.other_roots.iter().map(|der| certificate_pem(der)).collect(),
        })
    }

    /// A new certificate for the caller's own node, in the role the store wants it in (served by the leader).
    pub(super) async fn renew(&self, admitted: &Admitted, request: RenewRequest, body: Bytes) -> Reply {
        if !admitted.may_act_for(&request.node_id) {
            return admitted.refuse_acting_for(&request.node_id);
        }
        if !self.is_leader() {
            return self.relay_to_leader(PATH_CA_RENEW, body).await;
        }
        let Some(role) = self.state.read(|store| store.node(&request.node_id).map(|node| node.spec.role)) else {
            return Reply::error(StatusCode::NOT_FOUND, format!("node {} not found", request.node_id));
        };
        match self.issue_certificate(&request.csr_pem, &request.node_id, role) {
            Ok(issued) => Reply::json(StatusCode::OK, &issued),
            Err(refusal) => refusal,
        }
    }
}

/// A fresh key for a node and its certificate signing request in PEM: (key, request).
pub fn key_and_request() -> Result<(Vec<u8>, String), TlsError> {
    let key = fresh_key_pkcs8()?;
    let csr = signing_request(&key)?;
    Ok((key, pem::encode(&pem::Pem::new(CSR_PEM_TAG, csr))))
}

impl IssuedCertificate {
    /// The identity (and, for a manager, the root CA) this answer certifies for the key `key`; `digest`, when given,
    /// is the join token's CA digest, which the root (or, during a rotation, the other root trusted) must have.
    pub fn identity(
        &self,
        key: Vec<u8>,
        digest: Option<&str>,
    ) -> Result<(NodeIdentity, Option<Arc<RootCa>>), TlsError> {
        let cert = pem_block(&self.cert_pem, "CERTIFICATE", "issued certificate")?;
        let root = pem_block(&self.root_pem, "CERTIFICATE", "root CA certificate")?;
        let certs = |texts: &[String], what: &'static str| -> Result<Vec<Vec<u8>>, TlsError> {
            texts.iter().map(|text| pem_block(text, "CERTIFICATE", what)).collect()
        };
        let intermediates = certs(&self.intermediates_pem, "cross-signed certificate")?;
        let other_roots = certs(&self.other_roots_pem, "trusted root CA certificate")?;
        if let Some(digest) = digest {
            let matches = std::iter::once(&root).chain(&other_roots).any(|r| ca_digest(r) == digest);
            if !matches {
                return Err(TlsError::Invalid {
                    what: "root CA certificate",
                    reason: format!("its digest {} is not the join token's {digest}", ca_digest(&root)),
                });
            }
        }
        let identity = NodeIdentity::new(cert, key, root.clone())?.with_trust(intermediates, other_roots)?;
        let ca = match &self.ca_key_pem {
            Some(pem_text) => {
                let ca_key = pem_block(pem_text, PRIVATE_KEY_PEM_TAG, "root CA key")?;
                let ca_cert = match &self.ca_cert_pem {
                    Some(text) => pem_block(text, "CERTIFICATE", "root CA certificate")?,
                    None => root,
                };
                Some(Arc::new(RootCa::from_parts(ca_cert, ca_key)?))
            }
            None => None,
        };
        Ok((identity, ca))
    }
}
