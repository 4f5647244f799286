//! Anti-flapping: MHA refuses a failover within last_failover_minute of the previous one, and
//! after a failed one, until an operator acknowledges it (removes the marker file or passes
//! --ignore_last_failover).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum GuardRefusal {
    RecentFailover {
        at_unix: u64,
        minutes: u64,
        marker: String,
    },
    LastFailoverFailed {
        marker: String,
    },
    /// Another process is failing over this application right now.
    FailoverRunning {
        pid: u32,
        marker: String,
    },
    /// The process that was failing over died half way (killed, crashed, power loss).
    FailoverInterrupted {
        pid: u32,
        marker: String,
    },
}

/// `YYYY/MM/DD HH:MM:SS` UTC, without a date library.
pub fn format_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl std::fmt::Display for GuardRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuardRefusal::RecentFailover {
                at_unix,
                minutes,
                marker,
            } => write!(
                f,
                "Last failover was done at {}. Current time is too early to do failover again (last_failover_minute={minutes}). If you want to do failover, manually remove {marker} or use --ignore_last_failover.",
                format_unix(*at_unix)
            ),
            GuardRefusal::LastFailoverFailed { marker } => write!(
                f,
                "Failover error flag file {marker} exists. This means the last failover failed. Check the logs for details, remove it, then run again (or use --ignore_last_failover)."
            ),
            GuardRefusal::FailoverRunning { pid, marker } => write!(
                f,
                "A failover of this application is running (pid {pid}, flag file {marker}). Wait until it has ended."
            ),
            GuardRefusal::FailoverInterrupted { pid, marker } => write!(
                f,
                "Failover error flag file {marker} exists: the failover run by pid {pid} was interrupted (that process is gone) and may have left the cluster half failed over. Check every server and the failover journal next to the flag file, repair, remove the file, then run again (or use --ignore_last_failover)."
            ),
        }
    }
}

/// Facts about the markers in the workdir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markers {
    pub complete_mtime_unix: Option<u64>,
    pub complete_path: String,
    pub error_exists: bool,
    pub error_path: String,
    /// A failover in progress names its process in the error flag file: its pid and whether
    /// that process still runs.
    pub error_owner: Option<(u32, bool)>,
}

/// How the application's last failover stands in the coordination service (etcd), which every
/// manager of it reads: the block period and a failover left half done hold across managers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedFailover {
    pub at_unix: u64,
    pub state: SharedState,
    /// The manager that ran it (`host:pid`).
    pub by: String,
    /// The master it replaced (its display name): a manager that leads after it monitors
    /// the cluster without it.
    #[serde(default)]
    pub dead_master: Option<String>,
    /// While running: the last phase the manager proved its leadership for and started.
    /// One before 3.4 changed no surviving server, so another manager may run it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

impl SharedFailover {
    /// A failover left running that another manager may run again from the start: it had
    /// not started phase 3.4, the first to change a surviving server (phases 1 to 3.3
    /// stop the replicas' IO threads, fence the dead master, save its binlog: all done again).
    pub fn resumable(&self) -> bool {
        self.state == SharedState::Running && self.phase.as_deref().is_none_or(before_3_4)
    }
}

/// A failover stopped before it started `phase` had changed no surviving server.
pub fn before_3_4(phase: &str) -> bool {
    phase.parse::<f64>().is_ok_and(|p| p < 3.4)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SharedState {
    /// Started and not ended: the manager running it lost its leadership or died.
    Running,
    Complete,
    Failed,
}

/// The workdir's markers with the shared one (`key` names it for the operator) added: a
/// complete failover is the most recent of both, a failed or unfinished one is a failed one.
pub fn with_shared(mut m: Markers, shared: Option<&SharedFailover>, key: &str) -> Markers {
    let Some(f) = shared else {
        return m;
    };
    let marker = |what: &str| {
        format!(
            "etcd key {key} ({what} by {} at {}; delete the key to acknowledge)",
            f.by,
            format_unix(f.at_unix)
        )
    };
    match f.state {
        SharedState::Complete if m.complete_mtime_unix.is_none_or(|t| t < f.at_unix) => {
            m.complete_mtime_unix = Some(f.at_unix);
            m.complete_path = marker("failover done");
        }
        SharedState::Failed | SharedState::Running if !m.error_exists => {
            m.error_exists = true;
            m.error_owner = None;
            m.error_path = marker(if f.state == SharedState::Failed {
                "failover failed"
            } else {
                "failover started and never finished"
            });
        }
        _ => {}
    }
    m
}

pub fn check(
    m: &Markers,
    now_unix: u64,
    last_failover_minute: u64,
    ignore: bool,
) -> Result<(), GuardRefusal> {
    // Two failovers at once are never allowed, not even with --ignore_last_failover.
    if m.error_exists
        && let Some((pid, true)) = m.error_owner
    {
        return Err(GuardRefusal::FailoverRunning {
            pid,
            marker: m.error_path.clone(),
        });
    }
    if ignore {
        return Ok(());
    }
    if m.error_exists {
        return Err(match m.error_owner {
            Some((pid, _)) => GuardRefusal::FailoverInterrupted {
                pid,
                marker: m.error_path.clone(),
            },
            None => GuardRefusal::LastFailoverFailed {
                marker: m.error_path.clone(),
            },
        });
    }
    if let Some(at) = m.complete_mtime_unix
        && now_unix < at + last_failover_minute * 60
    {
        return Err(GuardRefusal::RecentFailover {
            at_unix: at,
            minutes: last_failover_minute,
            marker: m.complete_path.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markers(complete: Option<u64>, error: bool) -> Markers {
        Markers {
            error_owner: None,
            complete_mtime_unix: complete,
            complete_path: "/w/app1.failover.complete".into(),
            error_exists: error,
            error_path: "/w/app1.failover.error".into(),
        }
    }

    #[test]
    fn block_period_and_error_flag() {
        let now = 1_800_000_000;
        assert_eq!(check(&markers(None, false), now, 480, false), Ok(()));
        assert_eq!(
            check(&markers(Some(now - 479 * 60), false), now, 480, false).unwrap_err(),
            GuardRefusal::RecentFailover {
                at_unix: now - 479 * 60,
                minutes: 480,
                marker: "/w/app1.failover.complete".into()
            }
        );
        assert_eq!(
            check(&markers(Some(now - 481 * 60), false), now, 480, false),
            Ok(())
        );
        assert!(matches!(
            check(&markers(None, true), now, 480, false),
            Err(GuardRefusal::LastFailoverFailed { .. })
        ));
        assert_eq!(check(&markers(Some(now), true), now, 480, true), Ok(()));
        // A failover in progress (its process alive) and one that was interrupted.
        let owned = |alive| Markers {
            error_owner: Some((4242, alive)),
            ..markers(None, true)
        };
        for ignore in [false, true] {
            assert_eq!(
                check(&owned(true), now, 480, ignore),
                Err(GuardRefusal::FailoverRunning {
                    pid: 4242,
                    marker: "/w/app1.failover.error".into()
                })
            );
        }
        assert_eq!(
            check(&owned(false), now, 480, false),
            Err(GuardRefusal::FailoverInterrupted {
                pid: 4242,
                marker: "/w/app1.failover.error".into()
            })
        );
        assert_eq!(check(&owned(false), now, 480, true), Ok(()));
        assert_eq!(format_unix(0), "1970/01/01 00:00:00 UTC");
        assert_eq!(format_unix(1_795_000_000), "2026/11/18 11:06:40 UTC");
    }

    #[test]
    fn a_failover_left_running_before_phase_3_4_may_be_run_again() {
        let at = |state, phase: Option<&str>| SharedFailover {
            phase: phase.map(str::to_string),
            ..shared(1, state)
        };
        for (state, phase, resumable) in [
            (SharedState::Running, None, true),
            (SharedState::Running, Some("1"), true),
            (SharedState::Running, Some("2"), true),
            (SharedState::Running, Some("3.3"), true),
            (SharedState::Running, Some("3.4"), false),
            (SharedState::Running, Some("4"), false),
            (SharedState::Running, Some("5.1"), false),
            (SharedState::Running, Some("garbled"), false),
            (SharedState::Failed, Some("1"), false),
            (SharedState::Complete, None, false),
        ] {
            assert_eq!(
                at(state, phase).resumable(),
                resumable,
                "{state:?} {phase:?}"
            );
        }
        // A record written before the phase was kept reads as one without.
        let old: SharedFailover =
            serde_json::from_str(r#"{"at_unix":1,"state":"running","by":"m:1"}"#).unwrap();
        assert!(old.resumable());
    }

    fn shared(at_unix: u64, state: SharedState) -> SharedFailover {
        SharedFailover {
            phase: None,
            at_unix,
            state,
            by: "hostb:42".into(),
            dead_master: None,
        }
    }

    /// The block period and a failed or unfinished failover hold across managers.
    #[test]
    fn the_shared_marker_joins_the_local_ones() {
        use SharedState::*;
        let hour = 3600;
        // (local complete, local error, shared, now, minutes, allowed)
        type Case = (Option<u64>, bool, Option<SharedFailover>, u64, u64, bool);
        let cases: &[Case] = &[
            (None, false, None, hour, 60, true),
            (
                None,
                false,
                Some(shared(hour, Complete)),
                hour + 60,
                60,
                false,
            ),
            (
                None,
                false,
                Some(shared(hour, Complete)),
                2 * hour + 1,
                60,
                true,
            ),
            (
                Some(0),
                false,
                Some(shared(hour, Complete)),
                hour + 60,
                60,
                false,
            ),
            (
                Some(hour),
                false,
                Some(shared(0, Complete)),
                hour + 60,
                60,
                false,
            ),
            (None, false, Some(shared(0, Failed)), hour, 60, false),
            (None, false, Some(shared(0, Running)), hour, 60, false),
            (None, true, Some(shared(0, Complete)), 5 * hour, 60, false),
        ];
        for (i, (complete, error, sh, now, minutes, allowed)) in cases.iter().enumerate() {
            let m = with_shared(
                markers(*complete, *error),
                sh.as_ref(),
                "/mha/app1/last_failover",
            );
            let r = check(&m, *now, *minutes, false);
            assert_eq!(r.is_ok(), *allowed, "case {i}: {r:?}");
            if let (Err(e), Some(s)) = (&r, sh)
                && s.at_unix >= complete.unwrap_or(0)
                && !error
            {
                assert!(
                    e.to_string().contains("etcd key /mha/app1/last_failover"),
                    "{e}"
                );
            }
        }
    }
}
