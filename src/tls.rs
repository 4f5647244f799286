//! TLS clients (etcd's `https://` endpoints): rustls with the ring provider, the certificates
//! of `etcd_cacert` as the only trust anchors, the server name checked against the endpoint's
//! host (an IP address against the certificate's IP SANs), and the client certificate of
//! `etcd_cert`/`etcd_key` for etcd's `--client-cert-auth`.
//!
//! A leaf module (config checks the files with it when it loads them, the etcd client
//! connects with it), so that neither imports the other; no message here quotes a key file.

use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use crate::secret::Secret;

/// What is wrong with a PEM text, without quoting it.
fn pem_error(e: pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => "no PEM section of that kind".into(),
        pem::Error::MissingSectionEnd { .. } => "a PEM section has no -----END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".into(),
        pem::Error::Base64Decode(_) => "a PEM section is not valid base64".into(),
        _ => "not a readable PEM text".into(),
    }
}

/// The certificates of a PEM text (`-----BEGIN CERTIFICATE-----`); at least one.
pub fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM: {}", pem_error(e)))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// The private key of a PEM text: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
pub fn private_key(pem: &Secret) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem.expose().as_bytes()).map_err(|e| match e {
        pem::Error::NoItemsFound => "holds no PEM private key (-----BEGIN PRIVATE KEY-----, \
                                     RSA PRIVATE KEY or EC PRIVATE KEY)"
            .to_string(),
        e => format!("not PEM: {}", pem_error(e)),
    })
}

fn roots(pem: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem)? {
        roots
            .add(cert)
            .map_err(|e| format!("not a usable CA certificate: {e}"))?;
    }
    Ok(roots)
}

/// The client configuration trusting the CA certificates of `ca_pem`, showing `client` (a
/// certificate chain and its key, PEM) when asked; Err: (the key at fault, why).
pub fn client_config(
    ca_pem: &str,
    client: Option<&(String, Secret)>,
) -> Result<Arc<ClientConfig>, (&'static str, String)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ("etcd_cacert", e.to_string()))?
        .with_root_certificates(roots(ca_pem).map_err(|e| ("etcd_cacert", e))?);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates(cert).map_err(|e| ("etcd_cert", e))?;
            let key = private_key(key).map_err(|e| ("etcd_key", e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| match e {
                    rustls::Error::InvalidCertificate(_) => ("etcd_cert", e.to_string()),
                    rustls::Error::InconsistentKeys(_) => (
                        "etcd_key",
                        "is not the key of the certificate in etcd_cert".into(),
                    ),
                    e => ("etcd_key", e.to_string()),
                })?
        }
    };
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: the host of `host:port` (an IP address
/// is matched against the certificate's IP SANs).
pub fn server_name(hostport: &str) -> Result<ServerName<'static>, String> {
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("the host `{host}` is neither an IP address nor a DNS name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_are_the_endpoint_hosts() {
        let ip = |s: &str| ServerName::IpAddress(s.parse::<std::net::IpAddr>().unwrap().into());
        assert_eq!(server_name("127.0.0.1:2379"), Ok(ip("127.0.0.1")));
        assert_eq!(server_name("[::1]:2379"), Ok(ip("::1")));
        assert_eq!(
            server_name("etcd1.example:2379"),
            Ok(ServerName::try_from("etcd1.example").unwrap())
        );
        assert!(server_name("bad_host!:2379").is_err());
    }

    #[test]
    fn pem_errors_never_quote_the_text() {
        let key =
            Secret::new("-----BEGIN PRIVATE KEY-----\nc2VjcmV0!!\n-----END PRIVATE KEY-----\n");
        let e = private_key(&key).unwrap_err();
        assert_eq!(e, "not PEM: a PEM section is not valid base64");
        let e = private_key(&Secret::new("hunter2")).unwrap_err();
        assert!(e.starts_with("holds no PEM private key"), "{e}");
        assert!(!e.contains("hunter2"));
        let e = certificates("-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap_err();
        assert_eq!(e, "not PEM: a PEM section has no -----END line");
    }
}
