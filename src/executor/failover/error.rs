//! Why a failover stopped, by category: a refusal (nothing changed), or a failure of one
//! step after changes began. `cli/exit.rs` turns the outcome into an exit code.

use crate::engine::plan::Refusal;
use crate::sql::DbError;
use crate::sql::ops::WaitError;
use crate::ssh::SshError;

#[derive(Debug, thiserror::Error)]
pub enum FailoverError {
    /// Will not fail over; nothing was changed.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Db(#[from] DbError),
    /// A replica did not reach a GTID position.
    #[error(transparent)]
    Wait(#[from] WaitError),
    /// An SSH command to a binlog source or to the dead master's host failed.
    #[error("{host}: {error}")]
    Ssh { host: String, error: SshError },
    /// A hook script failed (`what`: the hook and its --command).
    #[error("{what} failed ({why}); failover aborted")]
    Hook { what: String, why: String },
    /// The dead master could not be fenced; nothing was promoted.
    #[error("fencing {server} failed: {why}")]
    Fence { server: String, why: String },
    /// A replica is in a state the failover cannot go on from.
    #[error("{server}: {problem}")]
    Replica {
        server: String,
        problem: ReplicaProblem,
    },
    /// What a binlog source holds could not be read.
    #[error("{source_label}: {why}")]
    Binlog { source_label: String, why: String },
    /// Phase 3.2 stopped before promotion: the dead master's host answers SSH but its binlog
    /// could not be read (see `--ignore_binlog_save_error`).
    #[error("{0}")]
    BinlogNotSaved(String),
    /// Applying the saved binlog on the new master failed.
    #[error("{why}. NOTICE: manual recovery is needed on {server}")]
    Apply { server: String, why: String },
    /// A local program or file (mariadb-binlog, the workdir, ...).
    #[error("{what}: {error}")]
    Local { what: String, error: String },
    /// The fence refused the next phase: another manager may lead the application now.
    #[error(
        "leadership lost before phase {phase} ({why}): this manager stopped the failover there"
    )]
    LeadershipLost { phase: &'static str, why: String },
    #[error("a failover task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A replica's state that stops the failover, in DBA words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplicaProblem {
    #[error("no longer a replica")]
    NoLongerReplica,
    #[error("SQL thread stopped: {error}")]
    SqlThreadStopped { error: String },
    #[error("relay log not applied after {secs} s (relay_log_apply_timeout)")]
    RelayLogNotApplied { secs: f64 },
    #[error("replication did not start (IO {io}, SQL {sql}): {io_error} {sql_error}")]
    NotStarted {
        io: String,
        sql: String,
        io_error: String,
        sql_error: String,
    },
    #[error(
        "lacks transactions ({missing}) that the new master {new_master} replicated but did not write to its binlog (log_slave_updates=OFF): it cannot catch up from it; rebuild it from the new master"
    )]
    LacksUnlogged { missing: String, new_master: String },
    #[error("has log_slave_updates=OFF: the new master cannot copy what it lacks from it")]
    LatestWithoutLogSlaveUpdates,
    #[error(
        "cannot be given what it lacks from the {relay_logs}: {why}; rebuild it from the new master"
    )]
    NoRelayDiff { relay_logs: String, why: String },
}

impl FailoverError {
    pub fn replica(server: impl Into<String>, problem: ReplicaProblem) -> Self {
        FailoverError::Replica {
            server: server.into(),
            problem,
        }
    }

    /// Stopped before anything was changed?
    pub fn is_refusal(&self) -> bool {
        matches!(self, FailoverError::Refused(_))
    }
}

/// A hook that gave no exit code.
#[derive(Debug, thiserror::Error)]
pub enum HookFailed {
    #[error(transparent)]
    NotRun(#[from] crate::hooks::HookError),
    /// Timed out and killed, or killed by a signal (the text says which).
    #[error("{0}")]
    NoExitCode(String),
}
