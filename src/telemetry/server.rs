//! The manager's read-only HTTP server (hyper, HTTP/1.1 only): `/metrics`, `/status`,
//! `/health/live`, `/health/ready`. Every answer is built from the [`Telemetry`] in memory:
//! a scrape never touches a database server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use super::Telemetry;

/// Prometheus' text exposition format.
pub const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// Connections served at once; more wait. A scraper or two, a load balancer's health checks.
const MAX_CONNECTIONS: usize = 64;
/// A client that does not send its request headers within this is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on http_listen {addr}: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Listen on `addr` (in a tokio runtime).
pub fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    let err = |source| BindError { addr, source };
    let std = std::net::TcpListener::bind(addr).map_err(err)?;
    std.set_nonblocking(true).map_err(err)?;
    TcpListener::from_std(std).map_err(err)
}

/// Serve until the task is aborted.
pub async fn serve(listener: TcpListener, telemetry: Arc<Telemetry>) {
    if let Ok(addr) = listener.local_addr() {
        info!("serving /metrics, /status and /health on http://{addr}");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: do not spin.
                warn!("http_listen: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let telemetry = telemetry.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let answer = respond(&telemetry, req.method(), req.uri().path());
                async move { Ok::<_, Infallible>(answer) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                debug!("http_listen: connection ended: {e}");
            }
            drop(slot);
        });
    }
}

/// The answer to `method path`.
pub fn respond(t: &Telemetry, method: &Method, path: &str) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        return answer(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "read-only: GET only\n".into(),
        );
    }
    match path {
        "/metrics" => answer(StatusCode::OK, METRICS_TYPE, t.metrics.render()),
        "/status" => {
            let doc = t.status_doc(SystemTime::now());
            let body = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
            answer(StatusCode::OK, JSON, body)
        }
        "/health/live" => answer(StatusCode::OK, TEXT, "live\n".into()),
        "/health/ready" => match t.ready() {
            Ok(()) => answer(StatusCode::OK, TEXT, "ready\n".into()),
            Err(why) => answer(
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                format!("not ready: {why}\n"),
            ),
        },
        _ => answer(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found: /metrics, /status, /health/live, /health/ready\n".into(),
        ),
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Status;
    use std::path::PathBuf;

    fn telemetry() -> Arc<Telemetry> {
        Telemetry::new(
            "app1",
            PathBuf::from("/nonexistent"),
            None,
            Duration::from_secs(1),
        )
    }

    #[test]
    fn routes_answer_with_their_types_and_codes() {
        let t = telemetry();
        let cases = [
            (Method::GET, "/metrics", 200, METRICS_TYPE),
            (Method::GET, "/status", 200, JSON),
            (Method::GET, "/health/live", 200, TEXT),
            (Method::GET, "/health/ready", 503, TEXT),
            (Method::HEAD, "/metrics", 200, METRICS_TYPE),
            (Method::GET, "/nope", 404, TEXT),
            (Method::POST, "/metrics", 405, TEXT),
            (Method::DELETE, "/status", 405, TEXT),
        ];
        for (method, path, code, ty) in cases {
            let r = respond(&t, &method, path);
            assert_eq!(r.status().as_u16(), code, "{method} {path}");
            assert_eq!(r.headers()[CONTENT_TYPE], ty, "{method} {path}");
        }
    }

    #[test]
    fn status_is_json_with_the_schema_fields() {
        let t = telemetry();
        t.monitoring(Some("server1 db1(127.0.0.1:3306)".into()));
        t.status(Status::PingOk);
        let doc = serde_json::to_value(t.status_doc(SystemTime::now())).unwrap();
        for key in [
            "schema",
            "app",
            "version",
            "check_status",
            "detection",
            "readiness",
            "checked_unix",
            "topology",
        ] {
            assert!(doc.get(key).is_some(), "{key} missing in {doc}");
        }
        assert_eq!(doc["detection"]["state"], "alive");
        assert_eq!(doc["check_status"]["status"], "NOT_RUNNING");
    }
}
