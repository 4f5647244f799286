//! Why a rejoin could not be done. A refusal (its history is not contained, no master) is not
//! an error: it is the engine's `Verdict`, in the report.

use std::path::PathBuf;

use crate::config::ConfigErrors;
use crate::config::write::WriteError;
use crate::executor::observe::VersionError;
use crate::sql::DbError;
use crate::sql::ops::WaitError;

#[derive(Debug, thiserror::Error)]
pub enum RejoinError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Version(#[from] VersionError),
    /// It did not catch up with the master, or its replication stopped with an error.
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Neither the configuration nor the workdir knows the server.
    #[error(
        "{host}{}: no server block in {} and nothing kept of it in {} (no removed block, no deposed-master marker); add it with `mha conf_host --command=add` first",
        port.map(|p| format!(":{p}")).unwrap_or_default(), conf.display(), workdir.display()
    )]
    NotFound {
        host: String,
        port: Option<u16>,
        conf: PathBuf,
        workdir: PathBuf,
    },
    #[error("several servers match {host}: {}; give --port", candidates.join(", "))]
    Ambiguous {
        host: String,
        candidates: Vec<String>,
    },
    /// CHANGE MASTER needs a replication user; a former master has none of its own.
    #[error(
        "no repl_user is configured for {server} or the master: set repl_user (and repl_password) in [server default]"
    )]
    NoReplUser { server: String },
    /// What the check read changed once the server was made read-only: writes were still
    /// coming in. It stays read-only; nothing else was done.
    #[error(
        "{server} changed between the check and the fence ({why}); it was made read-only and nothing else was done: run mha rejoin again"
    )]
    Stale { server: String, why: String },
    /// Its binlog is longer than a rejoin reads.
    #[error("{server}: more than {limit} binlog events to read from {from}; check it by hand")]
    BinlogTooLong {
        server: String,
        from: String,
        limit: usize,
    },
    /// A local program or file (mariadb-binlog, the mariadb client, the workdir).
    #[error("{what}: {error}")]
    Local { what: String, error: String },
}

pub(super) fn local(what: impl Into<String>, error: impl std::fmt::Display) -> RejoinError {
    RejoinError::Local {
        what: what.into(),
        error: error.to_string(),
    }
}

/// Why there is no current master to rejoin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NoMaster {
    #[error("the configuration lists no other server")]
    NoOtherServer,
    /// Other servers replicate from it: it is the master, not a deposed one.
    #[error("other servers replicate from {0}: it is the current master")]
    ItIsTheMaster(String),
    #[error("the master {0} does not answer")]
    Unreachable(String),
    #[error("no configured server is a master")]
    None,
    #[error("several servers could be the master: {}", .0.join(", "))]
    Several(Vec<String>),
}
