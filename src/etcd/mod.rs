//! A small etcd v3 client over etcd's JSON gateway (`POST /v3/kv/range`, `/v3/kv/txn`,
//! `/v3/lease/grant`, `/v3/lease/keepalive`, `/v3/lease/revoke`, `/v3/auth/authenticate`):
//! HTTP/1.1 through hyper, over TLS for `https://` endpoints ([`crate::tls`]), keys and
//! values base64 in JSON, 64-bit numbers as JSON strings. Why not the gRPC client:
//! docs/several-managers.md.
//!
//! Only what leadership and fencing need: a lease, a key created under it if absent, and a
//! transaction that proves the key is still ours.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::EtcdSettings;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No endpoint answered (each one's error, in order).
    #[error("etcd unreachable: {0}")]
    Unreachable(String),
    /// etcd answered with an error.
    #[error("etcd {endpoint}: {status}: {message}")]
    Refused {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("etcd {endpoint}: unexpected answer: {why}")]
    Answer { endpoint: String, why: String },
}

/// The key as etcd holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub value: String,
    pub create_revision: i64,
    pub lease: i64,
}

/// The result of a campaign for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Campaign {
    /// The key was absent and is now ours, created at this revision.
    Won { create_revision: i64 },
    /// Someone holds it (the value says who); None if it vanished meanwhile.
    Held(Option<KeyValue>),
}

/// A client for one etcd cluster: each request goes to the first endpoint that answers.
#[derive(Debug)]
pub struct Etcd {
    /// `host:port` of each endpoint.
    endpoints: Vec<String>,
    timeout: Duration,
    credentials: Option<(String, Secret)>,
    token: tokio::sync::Mutex<Option<String>>,
    /// The endpoint that answered last, asked first: a member that is down costs one
    /// timeout, not one per request.
    preferred: std::sync::atomic::AtomicUsize,
    /// Plain HTTP, TLS, or why TLS cannot be set up (each request then fails with it).
    tls: Result<Option<Arc<rustls::ClientConfig>>, String>,
    /// The last failure logged: a failure is logged when it differs from the last one.
    last_error: std::sync::Mutex<Option<String>>,
}

fn b64(s: &str) -> String {
    B64.encode(s)
}

/// An int64 field, which the gateway writes as a string (and leaves out when zero).
fn int(v: &Value, field: &str) -> i64 {
    match &v[field] {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn key_value(kv: &Value) -> KeyValue {
    let value = kv["value"]
        .as_str()
        .and_then(|v| B64.decode(v).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    KeyValue {
        value,
        create_revision: int(kv, "create_revision"),
        lease: int(kv, "lease"),
    }
}

impl Etcd {
    /// `timeout` bounds each request to one endpoint.
    pub fn new(s: &EtcdSettings, timeout: Duration) -> Etcd {
        Etcd {
            endpoints: s
                .endpoints
                .iter()
                .map(|e| {
                    let e = e.trim_start_matches("http://");
                    e.trim_start_matches("https://").to_string()
                })
                .collect(),
            timeout,
            credentials: s
                .user
                .clone()
                .map(|u| (u, s.password.clone().unwrap_or_else(|| Secret::new("")))),
            token: tokio::sync::Mutex::new(None),
            preferred: std::sync::atomic::AtomicUsize::new(0),
            tls: s
                .tls
                .as_ref()
                .map(|t| {
                    crate::tls::client_config(&t.ca_pem, t.client.as_ref())
                        .map_err(|(key, why)| format!("{key}: {why}"))
                })
                .transpose(),
            last_error: std::sync::Mutex::new(None),
        }
    }

    /// A grant of a lease of `ttl`: its id.
    pub async fn grant(&self, ttl: Duration) -> Result<i64, EtcdError> {
        let r = self
            .call("/v3/lease/grant", json!({"TTL": ttl.as_secs().to_string()}))
            .await?;
        Ok(int(&r, "ID"))
    }

    /// Renew the lease: the TTL etcd granted again, 0 when the lease has expired.
    pub async fn keep_alive(&self, lease: i64) -> Result<i64, EtcdError> {
        let r = self
            .call("/v3/lease/keepalive", json!({"ID": lease.to_string()}))
            .await?;
        Ok(int(&r["result"], "TTL"))
    }

    pub async fn revoke(&self, lease: i64) -> Result<(), EtcdError> {
        self.call("/v3/lease/revoke", json!({"ID": lease.to_string()}))
            .await
            .map(|_| ())
    }

    /// Create `key` = `value` under `lease` if nobody holds it; else who does.
    pub async fn campaign(
        &self,
        key: &str,
        value: &str,
        lease: i64,
    ) -> Result<Campaign, EtcdError> {
        let body = json!({
            "compare": [{"key": b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": "0"}],
            "success": [{"request_put": {"key": b64(key), "value": b64(value), "lease": lease.to_string()}}],
            "failure": [{"request_range": {"key": b64(key)}}],
        });
        let r = self.call("/v3/kv/txn", body).await?;
        if r["succeeded"].as_bool().unwrap_or(false) {
            return Ok(Campaign::Won {
                create_revision: int(&r["header"], "revision"),
            });
        }
        let held = r["responses"][0]["response_range"]["kvs"]
            .get(0)
            .map(key_value);
        Ok(Campaign::Held(held))
    }

    /// True while `key` is the one created at `create_revision` under `lease`: the proof a
    /// leader gives before each irreversible step.
    pub async fn holds(
        &self,
        key: &str,
        lease: i64,
        create_revision: i64,
    ) -> Result<bool, EtcdError> {
        let body = json!({
            "compare": [
                {"key": b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": create_revision.to_string()},
                {"key": b64(key), "result": "EQUAL", "target": "LEASE", "lease": lease.to_string()},
            ],
        });
        let r = self.call("/v3/kv/txn", body).await?;
        Ok(r["succeeded"].as_bool().unwrap_or(false))
    }

    /// Put `value` at `key` (None: delete it) only while `leader` = (key, lease, create
    /// revision) holds: false if it no longer does.
    pub async fn put_if_holds(
        &self,
        key: &str,
        value: Option<&str>,
        leader: (&str, i64, i64),
    ) -> Result<bool, EtcdError> {
        let (leader_key, lease, create_revision) = leader;
        let op = match value {
            Some(v) => json!({"request_put": {"key": b64(key), "value": b64(v)}}),
            None => json!({"request_delete_range": {"key": b64(key)}}),
        };
        let body = json!({
            "compare": [
                {"key": b64(leader_key), "result": "EQUAL", "target": "CREATE", "create_revision": create_revision.to_string()},
                {"key": b64(leader_key), "result": "EQUAL", "target": "LEASE", "lease": lease.to_string()},
            ],
            "success": [op],
        });
        let r = self.call("/v3/kv/txn", body).await?;
        Ok(r["succeeded"].as_bool().unwrap_or(false))
    }

    pub async fn get(&self, key: &str) -> Result<Option<KeyValue>, EtcdError> {
        let r = self.call("/v3/kv/range", json!({"key": b64(key)})).await?;
        Ok(r["kvs"].get(0).map(key_value))
    }

    pub async fn put(&self, key: &str, value: &str) -> Result<(), EtcdError> {
        self.call("/v3/kv/put", json!({"key": b64(key), "value": b64(value)}))
            .await
            .map(|_| ())
    }

    pub async fn delete(&self, key: &str) -> Result<(), EtcdError> {
        self.call("/v3/kv/deleterange", json!({"key": b64(key)}))
            .await
            .map(|_| ())
    }

    /// POST `body` to `path` on the first endpoint that answers, the last one that did first;
    /// with credentials, a token is fetched first and fetched again once if etcd no longer takes it.
    async fn call(&self, path: &str, body: Value) -> Result<Value, EtcdError> {
        let r = self.call_any(path, body).await;
        self.log_change(r.as_ref().err());
        r
    }

    async fn call_any(&self, path: &str, body: Value) -> Result<Value, EtcdError> {
        use std::sync::atomic::Ordering;
        let mut tried = Vec::new();
        let n = self.endpoints.len();
        let first = self.preferred.load(Ordering::Relaxed);
        for i in (first..first + n).map(|i| i % n) {
            let endpoint = &self.endpoints[i];
            match self.call_on(endpoint, path, &body).await {
                Ok(v) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(v);
                }
                Err(EtcdError::Unreachable(why)) => tried.push(format!("{endpoint}: {why}")),
                // A member cut off from its quorum answers "unavailable" or "timed out"
                // (5xx): another member may have one.
                Err(EtcdError::Refused {
                    status, message, ..
                }) if status >= 500 => tried.push(format!("{endpoint}: {status}: {message}")),
                Err(e) => return Err(e),
            }
        }
        Err(EtcdError::Unreachable(tried.join("; ")))
    }

    /// Log a failure unlike the last one (a certificate refused, etcd down), and the first
    /// success after failures: once each, not at every retry.
    fn log_change(&self, error: Option<&EtcdError>) {
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        let now = error.map(ToString::to_string);
        if *last == now {
            return;
        }
        match &now {
            Some(e) => tracing::warn!("etcd: {e}"),
            None => tracing::info!("etcd: answering again"),
        }
        *last = now;
    }

    async fn call_on(&self, endpoint: &str, path: &str, body: &Value) -> Result<Value, EtcdError> {
        let token = self.token(endpoint).await?;
        match self.post(endpoint, path, body, token.as_deref()).await {
            Err(EtcdError::Refused { message, .. })
                if token.is_some() && message.contains("token") =>
            {
                *self.token.lock().await = None;
                let token = self.token(endpoint).await?;
                self.post(endpoint, path, body, token.as_deref()).await
            }
            r => r,
        }
    }

    async fn token(&self, endpoint: &str) -> Result<Option<String>, EtcdError> {
        let Some((user, password)) = &self.credentials else {
            return Ok(None);
        };
        let mut token = self.token.lock().await;
        if token.is_none() {
            let body = json!({"name": user, "password": password.expose()});
            let r = self
                .post(endpoint, "/v3/auth/authenticate", &body, None)
                .await?;
            *token = r["token"].as_str().map(str::to_string);
        }
        Ok(token.clone())
    }
}

impl Etcd {
    /// One request on a new connection (a handful per lease period: no pool needed), over
    /// TLS when the endpoints are `https://`.
    async fn post(
        &self,
        endpoint: &str,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> Result<Value, EtcdError> {
        let tls = self.tls.clone().map_err(EtcdError::Unreachable)?;
        let mut req = hyper::Request::post(path)
            .header("host", endpoint)
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", t);
        }
        let req = req
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| EtcdError::Unreachable(e.to_string()))?;
        let exchange = async {
            let tcp = tokio::net::TcpStream::connect(endpoint)
                .await
                .map_err(|e| e.to_string())?;
            let Some(config) = tls else {
                return exchange(tcp, req).await;
            };
            let name = crate::tls::server_name(endpoint)?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake: {}", chain(&e)))?;
            exchange(stream, req).await
        };
        let timeout = self.timeout;
        let (status, bytes) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| EtcdError::Unreachable(format!("no answer within {timeout:?}")))?
            .map_err(EtcdError::Unreachable)?;
        answer(endpoint, status, &bytes)
    }
}

/// An error and its sources, `: `-separated (hyper and rustls say the cause in a source).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !s.ends_with(&next) {
            s = format!("{s}: {next}");
        }
        source = e.source();
    }
    s
}

/// Send `req` on `io` and read the whole answer: (status, body).
async fn exchange<I>(io: I, req: hyper::Request<Full<Bytes>>) -> Result<(u16, Bytes), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| chain(&e))?;
    let driver = tokio::spawn(conn);
    let resp = send.send_request(req).await.map_err(|e| chain(&e))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| chain(&e))?
        .to_bytes();
    driver.abort();
    Ok((status, bytes))
}

/// The gateway's JSON answer, or the error it says.
fn answer(endpoint: &str, status: u16, bytes: &[u8]) -> Result<Value, EtcdError> {
    let answer = |why: String| EtcdError::Answer {
        endpoint: endpoint.to_string(),
        why,
    };
    let v: Value = serde_json::from_slice(bytes).map_err(|e| answer(e.to_string()))?;
    if status != 200 || v.get("error").is_some() && v.get("result").is_none() {
        let message = v["message"]
            .as_str()
            .or(v["error"].as_str())
            .or(v["error"]["message"].as_str())
            .unwrap_or("")
            .to_string();
        return Err(EtcdError::Refused {
            endpoint: endpoint.to_string(),
            status,
            message,
        });
    }
    Ok(v)
}
