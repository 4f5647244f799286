//! `mha`: MySQL/MariaDB master high availability, a successor to MHA's masterha_* tools.
//!
//! Module map:
//! - `cli`: argument parsing (MHA's option names), output rendering, exit codes.
//! - `config`: MHA's parameters as a typed model, read from TOML or MHA's INI `app1.cnf`.
//! - `sandbox`: a real local cluster (mariadbd + sshd on 127.0.0.1) for trying mha and for
//!   the integration tests.
//! - `sql`: the SQL seam (connections with timeouts, errors naming the server): every statement
//!   text per flavour in `dialect.rs`, the typed operations the executor uses in `ops.rs`.
//! - `ssh`: the SSH seam (russh: public-key auth, known_hosts checks, exec with timeouts).
//! - `secret`: a value that is never printed.
//! - `telemetry`: the manager's /metrics (Prometheus), /status and /health over HTTP.
//! - `tls`: TLS client configuration (rustls with ring) and PEM checks, for etcd's `https://`.

pub mod binlog;
pub mod cli;
pub mod config;
pub mod engine;
pub mod etcd;
pub mod executor;
pub mod hooks;
pub mod log_level;
pub mod sandbox;
pub mod secret;
pub mod sql;
pub mod ssh;
pub mod status;
pub mod telemetry;
pub mod tls;
pub mod topology;
