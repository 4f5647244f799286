//! The one place where outcomes become exit codes. MHA's codes are kept (0, 1, 10, 20 and
//! check_status's status codes); the rest follow sysexits(3).

use std::process::ExitCode;

use crate::executor::{failover, monitor, rejoin, switchover};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok,
    /// Failure (MHA's generic error code).
    Failure,
    /// Done, but some replica could not be recovered (MHA's code 10).
    Partial,
    /// A failover done, but the report lists data under NOT recovered.
    DataNotRecovered,
    /// A failover stopped before promotion (the dead master's binlog could not be read).
    StoppedBeforePromotion,
    /// `mha rejoin` refused: the server has transactions the current master does not have.
    RejoinRefused,
    /// The master is dead (`manager --monitor_only`, MHA's masterha_master_monitor).
    MasterDead,
    /// Invalid command-line options.
    Usage,
    /// A required program is not installed.
    Unavailable,
    /// The configuration is invalid.
    Config,
    /// A check_status code, passed through as MHA does.
    Status(u8),
    /// secondary_check: a secondary host could not be reached over SSH (MHA's 2).
    RouteUnreachable,
    /// secondary_check: the master answers from a secondary host (MHA's 3).
    MasterReachable,
    /// Try again later: purge_relay_logs found the failover lock held (a failover runs).
    TempFail,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Partial => 10,
            Exit::DataNotRecovered => 11,
            Exit::StoppedBeforePromotion => 12,
            Exit::RejoinRefused => 13,
            Exit::MasterDead => 20,
            Exit::Usage => 64,
            Exit::Unavailable => 69,
            Exit::Config => 78,
            Exit::Status(c) => c,
            Exit::RouteUnreachable => 2,
            Exit::MasterReachable => 3,
            Exit::TempFail => 75,
        }
    }

    /// How `mha manager` ended: MHA's masterha_manager exits 0 when stopped, 1 when it could
    /// not monitor or its failover failed; --monitor_only (masterha_master_monitor) exits 20
    /// on a dead master.
    /// How a failover ended (`master_switch --master_state=dead`, the manager's report).
    pub fn of_failover(outcome: failover::Outcome) -> Exit {
        use failover::Outcome;
        match outcome {
            Outcome::Success | Outcome::DryRun => Exit::Ok,
            Outcome::Partial => Exit::Partial,
            Outcome::DataNotRecovered => Exit::DataNotRecovered,
            Outcome::StoppedBeforePromotion => Exit::StoppedBeforePromotion,
            Outcome::Failed | Outcome::Refused => Exit::Failure,
        }
    }

    /// How an online switch ended (`master_switch --master_state=alive`).
    pub fn of_switch(outcome: switchover::SwitchOutcome) -> Exit {
        use switchover::SwitchOutcome as O;
        match outcome {
            O::Success | O::DryRun => Exit::Ok,
            O::Partial => Exit::Partial,
            O::Refused | O::RolledBack | O::Failed => Exit::Failure,
        }
    }

    /// How a rejoin ended (`mha rejoin`).
    pub fn of_rejoin(report: &rejoin::RejoinReport) -> Exit {
        use rejoin::Outcome as O;
        match report.outcome {
            O::Rejoined | O::AlreadyReplica | O::DryRun => Exit::Ok,
            O::Refused if !report.only_here().is_empty() => Exit::RejoinRefused,
            O::Refused | O::Failed => Exit::Failure,
            O::Partial => Exit::Partial,
        }
    }

    pub fn of_manager(outcome: &monitor::Outcome) -> Exit {
        use monitor::Outcome;
        match outcome {
            Outcome::Stopped | Outcome::Checked | Outcome::FollowSwitch(_) => Exit::Ok,
            Outcome::ConfigError(_) | Outcome::AlreadyRunning(_) | Outcome::FailoverFailed(_) => {
                Exit::Failure
            }
            Outcome::MasterDead { .. } => Exit::MasterDead,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// The table printed at the end of every `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success
  1   failure (MHA's generic error)
  10  done, but some replica failed (MHA's partial failure)
  11  failover done, but data was NOT recovered (listed in the report)
  12  failover stopped before promotion: nothing was promoted
  13  rejoin refused: the server has transactions the master does not have
  20  the master is dead (manager --monitor_only)
  64  invalid command-line options
  69  a required program is not installed
  78  configuration error (the message names file, line, block and key)";

/// `mha rejoin --help`.
pub const REJOIN_EXIT_CODES_HELP: &str = "\
Exit codes:
  0   rejoined (or already a replica of the master); with --dry-run: it would be rejoined
  1   failure, or refused for another reason (no master answers, not MariaDB)
  10  it replicates from the master, but its block could not be written back to the file
  13  refused: it has transactions the master does not have (listed); nothing was changed
  64  invalid command-line options (--flashback without --dry-run or --yes)
  78  configuration error";

pub const SECONDARY_CHECK_HELP: &str = "\
Exit codes (MHA's masterha_secondary_check):
  0   the master is unreachable from every secondary host (it is down)
  1   unexpected error
  2   a secondary host could not be reached over SSH
  3   the master is reachable from a secondary host
  64  invalid command-line options";

pub const PURGE_RELAY_LOGS_HELP: &str = "\
Exit codes:
  0   relay logs purged, or relay_log_purge=1 and no --disable_relay_log_purge (nothing done)
  1   failure (cannot connect, not a replica, a file operation failed, ...)
  64  invalid command-line options: also --host not an address of this host, a bad
      --workdir (missing, the relay log directory, another filesystem), --use_hardlink=0
  75  the failover lock stayed held for --lock_wait seconds (a failover runs): nothing done
  78  the --defaults_file cannot be read";

pub const CHECK_STATUS_HELP: &str = "\
Exit codes (MHA's status codes):
  0   PING_OK               manager running, master answering
  2   NOT_RUNNING           no manager running for this application
  3   PARTIALLY_RUNNING     main process gone, children still running
  10  INITIALIZING_MONITOR  start-up checks in progress
  20  PING_FAILING          master pings failing, not yet declared dead
  21  PING_FAILED           master considered unreachable, confirming
  30  RETRYING_MONITOR      waiting to monitor the master again
  31  CONFIG_ERROR          start-up checks failed
  32  TIMESTAMP_OLD         status file not refreshed within --ping_limit
  50  FAILOVER_RUNNING      failover in progress
  51  FAILOVER_ERROR        the last failover failed
  64  invalid command-line options
  78  configuration error";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rejoin::{FoundBy, OnlyHere, Refusal, Verdict};
    use crate::executor::rejoin::{Outcome, RejoinReport};

    fn report(outcome: Outcome, verdict: Option<Verdict>) -> RejoinReport {
        RejoinReport {
            app: "app1".into(),
            server: "db1(10.0.0.1:3306)".into(),
            master: None,
            outcome,
            verdict,
            facts: None,
            flashback: None,
            write_back: None,
            steps: vec![],
            error: None,
        }
    }

    #[test]
    fn rejoin_outcomes_to_exit_codes() {
        let only = Verdict::Refused(Refusal::OnlyHere {
            txns: vec![OnlyHere {
                gtid: "0-1-5".into(),
                txn: None,
                found_by: FoundBy::Gtid,
            }],
        });
        let no_master = Verdict::Refused(Refusal::NoMaster { why: "x".into() });
        let cases = [
            (report(Outcome::Rejoined, None), 0),
            (report(Outcome::AlreadyReplica, None), 0),
            (report(Outcome::DryRun, None), 0),
            (report(Outcome::Refused, Some(only)), 13),
            (report(Outcome::Refused, Some(no_master)), 1),
            (report(Outcome::Partial, None), 10),
            (report(Outcome::Failed, None), 1),
        ];
        for (r, code) in cases {
            assert_eq!(Exit::of_rejoin(&r).code(), code, "{:?}", r.outcome);
        }
    }
}
