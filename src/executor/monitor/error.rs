//! Why the manager could not monitor: the two categories `cli/exit.rs` turns into exit codes
//! (both MHA's 1), with MHA's texts where it had them.

use std::path::PathBuf;

use crate::engine::reason::Finding;
use crate::sql::DbError;

/// The start-up checks failed (MHA: "Error happened on checking configurations"): the status
/// file says CONFIG_ERROR for --wait_on_monitor_error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create manager_workdir {}: {source}", path.display())]
    Workdir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the current master could not be identified or is not reachable")]
    MasterNotFound,
    /// The replicas point at this configured server (its index), which does not answer.
    #[error("the current master {name} is not reachable")]
    MasterUnreachable { index: usize, name: String },
    /// The topology is not healthy enough to fail over: the error findings.
    #[error("{}", joined(errors))]
    Unhealthy { errors: Vec<Finding> },
    /// `http_listen` / `--http`: the address cannot be listened on.
    #[error(transparent)]
    Http(#[from] crate::telemetry::server::BindError),
}

fn joined(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Another manager monitors this application (the workdir lock) or this master (its advisory
/// lock), or the master could not be asked for its lock.
#[derive(Debug, thiserror::Error)]
pub enum MonitorLockError {
    #[error(transparent)]
    Workdir(#[from] crate::status::LockError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(
        "Target master's advisory lock is already held by someone. Please check whether you monitor the same master from multiple monitoring processes."
    )]
    MasterLockHeld,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::reason::{Problem, Severity};

    #[test]
    fn messages_keep_the_texts_operators_read() {
        let f = |detail: &str| {
            Finding::new(
                Severity::Error,
                Some("s1".into()),
                Problem::SshFailed {
                    detail: detail.into(),
                },
            )
        };
        let (a, b) = (f("a"), f("b"));
        let unhealthy = StartupError::Unhealthy {
            errors: vec![a.clone(), b.clone()],
        };
        assert_eq!(unhealthy.to_string(), format!("{a}; {b}"));
        assert_eq!(
            StartupError::MasterNotFound.to_string(),
            "the current master could not be identified or is not reachable"
        );
        let workdir = StartupError::Workdir {
            path: "/w".into(),
            source: std::io::Error::other("denied"),
        };
        assert_eq!(
            workdir.to_string(),
            "cannot create manager_workdir /w: denied"
        );
        assert!(
            MonitorLockError::MasterLockHeld
                .to_string()
                .starts_with("Target master's advisory lock is already held by someone.")
        );
    }
}
