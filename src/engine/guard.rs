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
}
