//! What stops a switchover, as values. A [`Refusal`] is phase 1 saying no, with its reason in
//! the DBA's words: nothing was changed. A [`SwitchError`] is anything that went wrong; which
//! outcome it leads to (refused, rolled back, failed) depends on how far the switch had got
//! ([`super::SwitchState`]), not on the error.
//!
//! The texts are the ones DBAs and tests read: keep them.

use crate::hooks::HookError;
use crate::sql::DbError;
use crate::sql::ops::WaitError;
use crate::topology::BinlogPos;

/// Why phase 1 (Configuration Check) will not switch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "Switching master should not be started if one or more servers is down: {}",
        .0.join(", ")
    )]
    ServersDown(Vec<String>),
    #[error("the current master could not be identified")]
    NoMaster,
    #[error(
        "{replica} replicates from {master_host}:{master_port}, not from the master (a replica of a replica needs multi_tier_slave=1)"
    )]
    ReplicatesElsewhere {
        replica: String,
        master_host: String,
        master_port: u16,
    },
    /// multi_tier_slave=1 leaves `replica` alone under `parent`, but `parent` takes writes.
    #[error(
        "{replica} replicates from {parent}, which is writable (read_only=0): set read_only=1 on {parent} first (multi_tier_slave=1 needs the intermediate servers read-only, as MHA)"
    )]
    WritableIntermediate { replica: String, parent: String },
    #[error("{0}: Slave IO thread is not running: not switching")]
    IoThreadStopped(String),
    #[error("{0}: Slave SQL thread is not running: not switching")]
    SqlThreadStopped(String),
    /// `lag` is None when the server reports NULL (unknown): that counts as too much.
    #[error(
        "{replica} is behind the master by {} (limit {limit} s, --seconds_behind_master): not switching",
        lag.map(|l| format!("{l} s")).unwrap_or_else(|| "an unknown time (NULL)".into())
    )]
    Lagging {
        replica: String,
        lag: Option<u64>,
        limit: u64,
    },
    /// Up to ten of them: id, user, seconds and the start of the statement.
    #[error(
        "updates have been running on the master for {limit} s or more (--running_updates_limit): {}",
        updates.join("; ")
    )]
    LongUpdates { limit: u64, updates: Vec<String> },
    #[error("{0} is not a configured server")]
    UnknownNewMaster(String),
    /// `--orig_master_is_new_slave`: as a replica, the old master would apply its own
    /// replication filters, not the replicas' (MHA refused this too).
    #[error(
        "{orig} has replication filters ({own}) that differ from the replicas' ({replicas}): as a replica of the new master it would silently miss writes; make them equal, or switch without --orig_master_is_new_slave"
    )]
    OrigMasterFilters {
        orig: String,
        own: String,
        replicas: String,
    },
    /// Each entry: a server and why it cannot be promoted.
    #[error(
        "no replica can become the new master{}",
        reasons.iter().map(|r| format!(": {r}")).collect::<String>()
    )]
    NoNewMaster { reasons: Vec<String> },
    #[error(
        "a query has been running on the new master for {limit} s or more (--running_seconds_limit): {}",
        query.as_deref().unwrap_or("(no statement text)")
    )]
    LongQueryOnNewMaster { limit: u64, query: Option<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Db(#[from] DbError),
    /// A replica did not reach a GTID position (a replication error, or too slow).
    #[error(transparent)]
    Wait(#[from] WaitError),
    /// `master_ip_online_change_script` ran and failed (an exit code other than 0 and 10, or
    /// killed after hook_timeout).
    #[error("{hook} --command={command} failed: {detail}")]
    Hook {
        hook: &'static str,
        command: &'static str,
        detail: String,
    },
    /// The hook could not be started at all.
    #[error(transparent)]
    HookNotRun(#[from] HookError),
    /// MASTER_POS_WAIT / MASTER_GTID_WAIT gave up (`answer` is what it returned).
    #[error("{server}: did not reach the old master's position within {secs} s ({answer:?})")]
    NotCaughtUp {
        server: String,
        secs: u64,
        answer: Option<String>,
    },
    /// The fence refused the next phase: the application's leadership (etcd) was lost.
    #[error("leadership lost before phase {phase} ({why}): the switch stopped there")]
    LeadershipLost { phase: &'static str, why: String },
    #[error("{what} did not answer in time")]
    Timeout { what: String },
    /// `--skip_lock_all_tables`: someone still writes on the old master.
    #[error("Binlog is not stopped! ({first} then {second})")]
    BinlogNotStopped { first: BinlogPos, second: BinlogPos },
    #[error("could not block writes on {server}: {cause}")]
    WritesNotBlocked {
        server: String,
        cause: Box<SwitchError>,
    },
    /// A replica could not be moved to the new master.
    #[error("{server}: {cause}")]
    Replica {
        server: String,
        cause: Box<SwitchError>,
    },
    #[error("{server}: no answer to {what}")]
    NoAnswer { server: String, what: &'static str },
    /// `read_only = 0` on the new master failed and its state cannot be read back: neither
    /// server may be made writable by us.
    #[error(
        "{cause}; the state of {new_master} cannot be read back ({read_back}), so {orig_master} stays read-only too: check which server should take writes, then set read_only=0 on it by hand"
    )]
    Undecided {
        cause: Box<SwitchError>,
        read_back: Box<SwitchError>,
        new_master: String,
        orig_master: String,
    },
}

impl SwitchError {
    pub(super) fn on_replica(self, server: String) -> SwitchError {
        SwitchError::Replica {
            server,
            cause: Box::new(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts DBAs, docs/switchover.md and the integration tests know.
    #[test]
    fn refusals_read_as_before() {
        let cases: Vec<(Refusal, &str)> = vec![
            (
                Refusal::ServersDown(vec!["h1(1.2.3.4:3306)".into(), "h2(1.2.3.5:3306)".into()]),
                "Switching master should not be started if one or more servers is down: h1(1.2.3.4:3306), h2(1.2.3.5:3306)",
            ),
            (
                Refusal::IoThreadStopped("h3(1.2.3.6:3306)".into()),
                "h3(1.2.3.6:3306): Slave IO thread is not running: not switching",
            ),
            (
                Refusal::SqlThreadStopped("h3".into()),
                "h3: Slave SQL thread is not running: not switching",
            ),
            (
                Refusal::Lagging {
                    replica: "h3".into(),
                    lag: Some(45),
                    limit: 30,
                },
                "h3 is behind the master by 45 s (limit 30 s, --seconds_behind_master): not switching",
            ),
            (
                Refusal::Lagging {
                    replica: "h3".into(),
                    lag: None,
                    limit: 30,
                },
                "h3 is behind the master by an unknown time (NULL) (limit 30 s, --seconds_behind_master): not switching",
            ),
            (
                Refusal::LongUpdates {
                    limit: 1,
                    updates: vec!["id 7 user app running 3 s: UPDATE t".into()],
                },
                "updates have been running on the master for 1 s or more (--running_updates_limit): id 7 user app running 3 s: UPDATE t",
            ),
            (
                Refusal::NoNewMaster {
                    reasons: vec!["server2 h2(1.2.3.5:3306): no_master=1".into()],
                },
                "no replica can become the new master: server2 h2(1.2.3.5:3306): no_master=1",
            ),
            (
                Refusal::UnknownNewMaster("db9".into()),
                "db9 is not a configured server",
            ),
        ];
        for (refusal, text) in cases {
            assert_eq!(refusal.to_string(), text);
            assert_eq!(SwitchError::from(refusal).to_string(), text);
        }
    }

    #[test]
    fn wrapped_errors_name_the_server_first() {
        let e = SwitchError::BinlogNotStopped {
            first: BinlogPos::new("bin.000001", 100),
            second: BinlogPos::new("bin.000001", 200),
        };
        let blocked = SwitchError::WritesNotBlocked {
            server: "h1(1.2.3.4:3306)".into(),
            cause: Box::new(e),
        };
        assert!(
            blocked.to_string().starts_with(
                "could not block writes on h1(1.2.3.4:3306): Binlog is not stopped! ("
            )
        );
        let r = SwitchError::Timeout {
            what: "h2(1.2.3.5:3306)".into(),
        }
        .on_replica("h3(1.2.3.6:3306)".into());
        assert_eq!(
            r.to_string(),
            "h3(1.2.3.6:3306): h2(1.2.3.5:3306) did not answer in time"
        );
    }
}
