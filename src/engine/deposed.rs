//! What to do about a deposed master, looked at every ping_interval after the failover that
//! replaced it: a master that comes back (a thaw, a restart by systemd, its host back on the
//! network) starts with the `read_only` of its own my.cnf and would take writes next to the
//! new master. The executor (executor/deposed.rs) looks; this decides.

use std::fmt;

use crate::topology::{Flavour, GtidError, MariaGtidPos, MysqlGtidSet};

/// One look at the deposed master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    /// Its marker file (`<app>.deposed.<host>_<port>.json`) is still there: removing it is how
    /// an operator ends the watch.
    pub marker_present: bool,
    /// `fencing` is not `none`: the watch may make it read-only and kill its sessions.
    pub may_fence: bool,
    pub answer: Answer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// No connection within the short timeout: down, frozen or cut off.
    Silent,
    Answered {
        read_only: bool,
        /// MySQL's super_read_only; None on MariaDB, which has none (SUPER writes anyway).
        super_read_only: Option<bool>,
        /// Status `Uptime`: a smaller value than at the previous look means a restart
        /// between two looks, even if its my.cnf made it read-only.
        uptime_secs: Option<u64>,
        /// Listed in the configuration again and replicating (both threads) from the current
        /// master: an operator has brought it back as a replica.
        rejoined: bool,
    },
}

/// What the previous look saw (None: it did not answer, or nothing was looked at yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub uptime_secs: Option<u64>,
}

impl Answer {
    /// Writes from ordinary users are accepted. On MySQL, `read_only` alone still lets SUPER
    /// users write; the fence there is `super_read_only`.
    pub fn writable(&self) -> bool {
        match self {
            Answer::Silent => false,
            Answer::Answered {
                read_only,
                super_read_only,
                ..
            } => !read_only || *super_read_only == Some(false),
        }
    }

    /// What the next look compares with.
    pub fn seen(&self) -> Option<Seen> {
        match self {
            Answer::Silent => None,
            Answer::Answered { uptime_secs, .. } => Some(Seen {
                uptime_secs: *uptime_secs,
            }),
        }
    }
}

/// Why it counts as back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// It answers for the first time since the failover, or since it last went silent.
    Back,
    /// It answered at the previous look too, but was restarted in between (uptime went down).
    Restarted,
    /// It answered at the previous look too, but accepts writes again (read_only turned off by
    /// hand, or a restart the uptime did not show).
    WritableAgain,
}

impl fmt::Display for Return {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Return::Back => "it answers again",
            Return::Restarted => "it was restarted since the last look",
            Return::WritableAgain => "it accepts writes again",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    MarkerRemoved,
    Rejoined,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::MarkerRemoved => "its marker file was removed by an operator",
            StopReason::Rejoined => {
                "it is in the configuration again and replicates from the current master"
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The watch of this server ends.
    Stop(StopReason),
    /// Nothing to do: silent, or still answering and still read-only.
    Wait,
    /// It is back: make it read-only and kill its client sessions when `fence`, and record its
    /// GTID position and the transactions only it has.
    Act { why: Return, fence: bool },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Stop(r) => write!(f, "stop watching: {r}"),
            Action::Wait => f.write_str("keep watching"),
            Action::Act { why, fence: true } => {
                write!(f, "{why}: set read-only, kill client sessions, record")
            }
            Action::Act { why, fence: false } => {
                write!(f, "{why}: record only (fencing = none)")
            }
        }
    }
}

pub fn decide(last: Option<Seen>, look: &Look) -> Action {
    if !look.marker_present {
        return Action::Stop(StopReason::MarkerRemoved);
    }
    let Answer::Answered {
        uptime_secs,
        rejoined,
        ..
    } = &look.answer
    else {
        return Action::Wait;
    };
    if *rejoined {
        return Action::Stop(StopReason::Rejoined);
    }
    let fence = look.may_fence;
    let why = match last {
        None => Return::Back,
        Some(Seen {
            uptime_secs: Some(before),
        }) if uptime_secs.is_some_and(|now| now < before) => Return::Restarted,
        // Without fencing nothing turns it read-only, so "writable" is no news each look.
        Some(_) if fence && look.answer.writable() => Return::WritableAgain,
        Some(_) => return Action::Wait,
    };
    Action::Act { why, fence }
}

/// The transactions only the deposed master has, compared with the current master's GTIDs
/// (`None`: none). MariaDB positions keep only the last GTID per domain and server: the answer
/// is, per domain-server, the last GTID it has beyond the master; its transactions are those
/// after the master's GTID of the same domain-server. MySQL sets give the exact set.
pub fn errant(flavour: Flavour, deposed: &str, master: &str) -> Result<Option<String>, GtidError> {
    let text = match flavour {
        Flavour::MariaDb => MariaGtidPos::parse(deposed)?
            .not_in(&MariaGtidPos::parse(master)?)
            .to_string(),
        Flavour::MySql => MysqlGtidSet::parse(deposed)?
            .minus(&MysqlGtidSet::parse(master)?)
            .to_string(),
    };
    Ok((!text.is_empty()).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errant_sets() {
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        #[rustfmt::skip]
        let cases: Vec<(Flavour, String, String, Option<String>)> = vec![
            // A crashed master restarted with nothing new: the new master has all it has.
            (Flavour::MariaDb, "0-1-99".into(), "0-1-99,0-2-140".into(), None),
            (Flavour::MariaDb, "".into(), "0-2-5".into(), None),
            // One commit lost in the crash (never replicated), or written after a restart.
            (Flavour::MariaDb, "0-1-100".into(), "0-1-99,0-2-140".into(), Some("0-1-100".into())),
            // A domain the new master never saw.
            (Flavour::MariaDb, "0-1-99,7-1-3".into(), "0-1-99".into(), Some("7-1-3".into())),
            (Flavour::MySql, format!("{u}:1-10"), format!("{u}:1-10")  , None),
            (Flavour::MySql, format!("{u}:1-12"), format!("{u}:1-10")  , Some(format!("{u}:11-12"))),
        ];
        for (flavour, deposed, master, want) in cases {
            assert_eq!(
                errant(flavour, &deposed, &master).unwrap(),
                want,
                "{deposed} vs {master}"
            );
        }
        assert!(errant(Flavour::MariaDb, "garbage", "0-1-1").is_err());
    }

    fn answered(read_only: bool, sro: Option<bool>, uptime: u64, rejoined: bool) -> Answer {
        Answer::Answered {
            read_only,
            super_read_only: sro,
            uptime_secs: Some(uptime),
            rejoined,
        }
    }

    fn seen(uptime: u64) -> Option<Seen> {
        Some(Seen {
            uptime_secs: Some(uptime),
        })
    }

    /// (case, last look, marker present, may fence, answer, expected)
    type Case = (&'static str, Option<Seen>, bool, bool, Answer, Action);

    #[test]
    fn decisions() {
        use Action::*;
        let act = |why, fence| Act { why, fence };
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("marker removed, silent", None, false, true, Answer::Silent, Stop(StopReason::MarkerRemoved)),
            ("marker removed, writable", seen(5), false, true, answered(false, None, 9, false), Stop(StopReason::MarkerRemoved)),
            ("still down", None, true, true, Answer::Silent, Wait),
            ("went silent again", seen(5), true, true, Answer::Silent, Wait),
            ("comes back writable", None, true, true, answered(false, None, 2, false), act(Return::Back, true)),
            ("comes back read-only (its my.cnf)", None, true, true, answered(true, None, 2, false), act(Return::Back, true)),
            ("stays read-only", seen(2), true, true, answered(true, None, 3, false), Wait),
            ("writable again without restart", seen(2), true, true, answered(false, None, 3, false), act(Return::WritableAgain, true)),
            ("restarted between looks, read-only", seen(50), true, true, answered(true, None, 1, false), act(Return::Restarted, true)),
            ("restarted between looks, writable", seen(50), true, true, answered(false, None, 1, false), act(Return::Restarted, true)),
            ("rejoined as a replica, writable", None, true, true, answered(false, None, 9, true), Stop(StopReason::Rejoined)),
            ("rejoined after a fence", seen(2), true, true, answered(true, None, 9, true), Stop(StopReason::Rejoined)),
            ("mysql: read_only but not super_read_only", seen(2), true, true, answered(true, Some(false), 3, false), act(Return::WritableAgain, true)),
            ("mysql: super_read_only", seen(2), true, true, answered(true, Some(true), 3, false), Wait),
            ("fencing none: back is recorded", None, true, false, answered(false, None, 2, false), act(Return::Back, false)),
            ("fencing none: writable is no news", seen(2), true, false, answered(false, None, 3, false), Wait),
            ("fencing none: a restart is recorded", seen(9), true, false, answered(false, None, 1, false), act(Return::Restarted, false)),
        ];
        for (name, last, marker, may_fence, answer, want) in cases {
            let look = Look {
                marker_present: marker,
                may_fence,
                answer,
            };
            assert_eq!(decide(last, &look), want, "{name}");
        }
    }

    #[test]
    fn unknown_uptime_is_no_restart() {
        let look = Look {
            marker_present: true,
            may_fence: true,
            answer: Answer::Answered {
                read_only: true,
                super_read_only: None,
                uptime_secs: None,
                rejoined: false,
            },
        };
        let last = Some(Seen {
            uptime_secs: Some(10),
        });
        assert_eq!(decide(last, &look), Action::Wait);
        assert_eq!(look.answer.seen(), Some(Seen { uptime_secs: None }));
        assert_eq!(Answer::Silent.seen(), None);
    }

    #[test]
    fn reasons_read_as_dba_words() {
        let a = Action::Act {
            why: Return::Back,
            fence: true,
        };
        assert_eq!(
            a.to_string(),
            "it answers again: set read-only, kill client sessions, record"
        );
        assert!(
            Action::Stop(StopReason::MarkerRemoved)
                .to_string()
                .contains("removed by an operator")
        );
    }
}
