//! The SQL seam: connections with timeouts and errors that name the server and what was being
//! done, never the statement text (it can hold a password).

pub mod dialect;
pub mod handshake;
pub mod ops;
#[cfg(test)]
mod recorded;
pub mod seam;

use std::path::PathBuf;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row};

use crate::secret::Secret;
use dialect::Dialect;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    /// Connect through this Unix socket instead of TCP (local bootstrap only).
    pub socket: Option<PathBuf>,
}

impl Target {
    pub fn name(&self) -> String {
        match &self.socket {
            Some(s) => format!("{}:{} (socket {})", self.host, self.port, s.display()),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{server}: {what} timed out after {after:?}")]
    Timeout {
        server: String,
        what: &'static str,
        after: Duration,
    },
    #[error("{server}: {what} failed: {message}")]
    Failed {
        server: String,
        what: &'static str,
        message: String,
        code: Option<u16>,
    },
    /// Nothing listens on the port (the host answered with a TCP reset): no server runs there.
    #[error("{server}: {what} failed: connection refused")]
    Refused { server: String, what: &'static str },
    /// An established connection ended without an error from the server (EOF or reset).
    #[error("{server}: {what} failed: the connection was closed: {message}")]
    Lost {
        server: String,
        what: &'static str,
        message: String,
    },
}

impl DbError {
    /// The server's error number, when the server answered with one.
    pub fn server_code(&self) -> Option<u16> {
        match self {
            DbError::Failed { code, .. } => *code,
            DbError::Timeout { .. } | DbError::Refused { .. } | DbError::Lost { .. } => None,
        }
    }
}

fn failed(server: &str, what: &'static str, e: mysql_async::Error) -> DbError {
    use std::io::ErrorKind;
    let code = match &e {
        mysql_async::Error::Server(s) => Some(s.code),
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => {
            let server = server.to_string();
            return match io.kind() {
                ErrorKind::ConnectionRefused => DbError::Refused { server, what },
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::UnexpectedEof
                | ErrorKind::BrokenPipe => DbError::Lost {
                    server,
                    what,
                    message: io.to_string(),
                },
                _ => DbError::Failed {
                    server,
                    what,
                    message: e.to_string(),
                    code: None,
                },
            };
        }
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
            return DbError::Lost {
                server: server.to_string(),
                what,
                message: e.to_string(),
            };
        }
        _ => None,
    };
    // The driver's message never carries our password; the statement is not included.
    DbError::Failed {
        server: server.to_string(),
        what,
        message: e.to_string(),
        code,
    }
}

/// A connection that remembers which server it talks to, for error messages.
pub struct Session {
    conn: Conn,
    server: String,
    timeout: Duration,
    /// Which spelling the typed operations (`ops.rs`) use.
    dialect: Dialect,
}

pub async fn connect(target: &Target, timeout: Duration) -> Result<Session, DbError> {
    let server = target.name();
    let mut opts = OptsBuilder::default()
        .ip_or_hostname(target.host.clone())
        .tcp_port(target.port)
        .user(Some(target.user.clone()))
        .pass((!target.password.is_empty()).then(|| target.password.expose().to_string()))
        .prefer_socket(false)
        .wait_timeout(None);
    if let Some(sock) = &target.socket {
        opts = opts.socket(Some(sock.to_string_lossy().into_owned()));
    }
    let conn = tokio::time::timeout(timeout, Conn::new(opts))
        .await
        .map_err(|_| DbError::Timeout {
            server: server.clone(),
            what: "connect",
            after: timeout,
        })?
        .map_err(|e| failed(&server, "connect", e))?;
    let dialect = Dialect::of_handshake(conn.server_version());
    Ok(Session {
        conn,
        server,
        timeout,
        dialect,
    })
}

impl Session {
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The server's id for this connection (`CONNECTION_ID()`): what `KILL` takes.
    pub fn connection_id(&self) -> u32 {
        self.conn.id()
    }

    /// Change the statement timeout (a connection opened with a short connect timeout that
    /// must then wait longer, e.g. for `SET GLOBAL read_only`).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Run a statement; `what` names it in errors ("CHANGE MASTER", "create users", ...).
    pub async fn exec(&mut self, what: &'static str, sql: &str) -> Result<(), DbError> {
        let fut = self.conn.query_drop(sql);
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| DbError::Timeout {
                server: self.server.clone(),
                what,
                after: self.timeout,
            })?
            .map_err(|e| failed(&self.server, what, e))
    }

    pub async fn rows(&mut self, what: &'static str, sql: &str) -> Result<Vec<Row>, DbError> {
        let fut = self.conn.query::<Row, _>(sql);
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| DbError::Timeout {
                server: self.server.clone(),
                what,
                after: self.timeout,
            })?
            .map_err(|e| failed(&self.server, what, e))
    }

    /// The first row as column name → text value (NULL → None).
    pub async fn row_map(
        &mut self,
        what: &'static str,
        sql: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, Option<String>>>, DbError> {
        let rows = self.rows(what, sql).await?;
        Ok(rows.into_iter().next().map(row_to_map))
    }

    /// `row_map` for a statement that itself waits up to `wait` (`MASTER_GTID_WAIT(pos, N)`,
    /// ...): the client allows it that long on top of the usual timeout.
    pub async fn row_map_waiting(
        &mut self,
        what: &'static str,
        sql: &str,
        wait: Duration,
    ) -> Result<Option<std::collections::BTreeMap<String, Option<String>>>, DbError> {
        let usual = self.timeout;
        self.timeout = usual + wait;
        let r = self.row_map(what, sql).await;
        self.timeout = usual;
        r
    }

    /// `exec` for a statement that itself may wait up to `wait` on the server (FLUSH TABLES
    /// WITH READ LOCK under `lock_wait_timeout`, ...): the client allows it that long on top of
    /// the usual timeout, so the server, not the client, ends the wait.
    pub async fn exec_waiting(
        &mut self,
        what: &'static str,
        sql: &str,
        wait: Duration,
    ) -> Result<(), DbError> {
        let usual = self.timeout;
        self.timeout = usual + wait;
        let r = self.exec(what, sql).await;
        self.timeout = usual;
        r
    }

    pub async fn disconnect(self) {
        let _ = self.conn.disconnect().await;
    }
}

pub fn row_to_map(row: Row) -> std::collections::BTreeMap<String, Option<String>> {
    let columns = row.columns();
    let values = row.unwrap();
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| {
            let text = match v {
                mysql_async::Value::NULL => None,
                mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                other => Some(other.as_sql(true).trim_matches('\'').to_string()),
            };
            (c.name_str().into_owned(), text)
        })
        .collect()
}

/// Quote a string literal for SQL (passwords in CREATE USER / CHANGE MASTER).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
