//! Is the master dead? A counter of consecutive failed pings (MHA semantics: errors that mean
//! "alive but busy" never count), then `confirm_dead`: dead only when the replicas lost the
//! master too and the secondary check (if any) agrees. A manager that alone lost its path to
//! the master must not fail over.

use serde::Serialize;

use crate::topology::ThreadState;

/// Connection errors that mean the server is alive but refusing (MHA's list): never a crash.
pub const ALIVE_ERROR_CODES: [u16; 11] = [
    1040, 1042, 1043, 1044, 1045, 1129, 1130, 1203, 1226, 1251, 1275,
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PingOutcome {
    Ok,
    Failed { reason: String, code: Option<u16> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Healthy,
    /// The master refused us with an "alive" error: not counted.
    Busy {
        code: u16,
        reason: String,
    },
    Failing {
        count: u32,
        reason: String,
    },
    /// Threshold reached: confirm from other routes now.
    Suspect {
        count: u32,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct Detector {
    threshold: u32,
    failures: u32,
}

impl Detector {
    pub fn new(threshold: u32) -> Detector {
        Detector {
            threshold: threshold.max(1),
            failures: 0,
        }
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn on_probe(&mut self, outcome: &PingOutcome) -> Step {
        match outcome {
            PingOutcome::Ok => {
                self.failures = 0;
                Step::Healthy
            }
            PingOutcome::Failed {
                code: Some(code),
                reason,
            } if ALIVE_ERROR_CODES.contains(code) => Step::Busy {
                code: *code,
                reason: reason.clone(),
            },
            PingOutcome::Failed { reason, .. } => {
                self.failures += 1;
                let (count, reason) = (self.failures, reason.clone());
                if count >= self.threshold {
                    Step::Suspect { count, reason }
                } else {
                    Step::Failing { count, reason }
                }
            }
        }
    }
}

/// What one replica says about the master.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaView {
    pub name: String,
    /// None when the replica itself could not be asked.
    pub answer: Option<ReplicaAnswer>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaAnswer {
    pub replicates_from_master: bool,
    pub io_running: ThreadState,
    pub io_state: String,
    pub last_io_errno: u32,
    pub last_io_error: String,
    /// Heartbeats or events arrived between two samples; None when unknown (one sample, or
    /// a server without a heartbeat counter).
    pub progressed: Option<bool>,
    pub sample_gap_secs: f64,
}

impl ReplicaAnswer {
    /// Still connected to the master and hearing from it.
    pub fn receives(&self) -> bool {
        self.replicates_from_master
            && self.io_running == ThreadState::Yes
            && self.last_io_errno == 0
            && self.progressed != Some(false)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum SecondaryCheck {
    NotConfigured,
    /// Exit 0: every route agrees the master is unreachable.
    MasterDown,
    /// Exit 3: the master is reachable from another route.
    MasterReachable {
        detail: String,
    },
    /// Exit 2 or any other failure: the check itself could not conclude.
    Failed {
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum SshCheck {
    NotChecked,
    Reachable,
    Unreachable {
        detail: String,
    },
    /// Still trying when the decision was due (SSH is evidence, not a veto: it does not
    /// delay the decision).
    NoAnswerYet {
        after_secs: f64,
    },
}

/// What a replica's host found when it opened the master's MySQL port (over SSH), asked
/// after the manager's pings began to fail.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum VantageAnswer {
    /// The server sent its handshake (or an error packet): alive, seen from there.
    Answered { detail: String },
    /// Refused, unreachable or silent until the timeout.
    NoAnswer { detail: String },
    /// This host could not be asked (SSH down, forwarding off): it says nothing.
    Unavailable { detail: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VantageView {
    pub name: String,
    pub answer: VantageAnswer,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The last ping error.
    pub ping: String,
    /// A fresh connection made at confirmation time succeeded.
    pub master_answers_now: bool,
    pub replicas: Vec<ReplicaView>,
    /// The master's port opened from every replica's host.
    pub vantage: Vec<VantageView>,
    pub secondary: SecondaryCheck,
    pub ssh: SshCheck,
}

fn vantage_line(v: &VantageView) -> String {
    match &v.answer {
        VantageAnswer::Answered { detail } => {
            format!("from {}'s host the master answers: {detail}", v.name)
        }
        VantageAnswer::NoAnswer { detail } => {
            format!(
                "from {}'s host the master does not answer: {detail}",
                v.name
            )
        }
        VantageAnswer::Unavailable { detail } => {
            format!("{}'s host could not be asked: {detail}", v.name)
        }
    }
}

/// Every vantage point that could be asked found no server on the master's port, and at least
/// one could be asked.
fn vantage_says_down(v: &[VantageView]) -> bool {
    v.iter()
        .any(|v| matches!(v.answer, VantageAnswer::NoAnswer { .. }))
        && !v
            .iter()
            .any(|v| matches!(v.answer, VantageAnswer::Answered { .. }))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Dead { evidence: Vec<String> },
    NotDead { reason: String },
}

fn view_line(v: &ReplicaView) -> String {
    match &v.answer {
        None => format!("{}: could not be asked", v.name),
        Some(a) if !a.replicates_from_master => {
            format!("{}: does not replicate from this master", v.name)
        }
        Some(a) => {
            let mut s = format!("{}: IO thread {} ({})", v.name, a.io_running, a.io_state);
            if a.last_io_errno != 0 {
                s.push_str(&format!(", error {} {}", a.last_io_errno, a.last_io_error));
            }
            match a.progressed {
                Some(true) => s.push_str(&format!(
                    ", events or heartbeats arrived in the last {:.1} s",
                    a.sample_gap_secs
                )),
                Some(false) => {
                    s.push_str(&format!(", nothing arrived in {:.1} s", a.sample_gap_secs))
                }
                None => {}
            }
            s
        }
    }
}

pub fn confirm_dead(e: &Evidence) -> Decision {
    if e.master_answers_now {
        return Decision::NotDead {
            reason: "the master answers a new connection: it is actually alive".into(),
        };
    }
    if let Some(v) = e
        .vantage
        .iter()
        .find(|v| matches!(v.answer, VantageAnswer::Answered { .. }))
    {
        return Decision::NotDead {
            reason: format!(
                "the master is reachable from another host: {}",
                vantage_line(v)
            ),
        };
    }
    let asked: Vec<&ReplicaView> = e
        .replicas
        .iter()
        .filter(|v| v.answer.as_ref().is_some_and(|a| a.replicates_from_master))
        .collect();
    let vantage_down = vantage_says_down(&e.vantage);
    if asked.is_empty() && !vantage_down {
        return Decision::NotDead {
            reason: "no replica of this master could be asked, so its death cannot be confirmed from a second route".into(),
        };
    }
    // A replica's running IO thread proves the master alive only if something arrived after
    // the failures began. When the replicas' hosts themselves cannot open the master's port,
    // a thread that merely says Yes (its heartbeat may be 30 s away) proves nothing; without
    // that second route, in doubt, it still vetoes.
    let still_hears = |a: &ReplicaAnswer| {
        if vantage_down {
            a.receives() && a.progressed == Some(true)
        } else {
            a.receives()
        }
    };
    if let Some(v) = asked
        .iter()
        .find(|v| v.answer.as_ref().is_some_and(still_hears))
    {
        return Decision::NotDead {
            reason: format!(
                "replica {} still receives from the master ({})",
                v.name,
                view_line(v)
            ),
        };
    }
    match &e.secondary {
        SecondaryCheck::MasterReachable { detail } => {
            return Decision::NotDead {
                reason: format!("the secondary check reaches the master: {detail}"),
            };
        }
        SecondaryCheck::Failed { detail } => {
            return Decision::NotDead {
                reason: format!(
                    "Secondary network check script returned errors. Failover should not start: {detail}"
                ),
            };
        }
        SecondaryCheck::MasterDown | SecondaryCheck::NotConfigured => {}
    }
    let mut evidence = vec![format!("manager: {}", e.ping)];
    evidence.extend(e.replicas.iter().map(view_line));
    evidence.extend(e.vantage.iter().map(vantage_line));
    evidence.push(match &e.secondary {
        SecondaryCheck::MasterDown => {
            "secondary_check_script: the master is unreachable from every route".into()
        }
        _ => "secondary_check_script: not configured".into(),
    });
    evidence.push(match &e.ssh {
        SshCheck::Reachable => "SSH is reachable.".into(),
        SshCheck::Unreachable { detail } => format!("SSH is NOT reachable: {detail}"),
        SshCheck::NotChecked => "SSH: not checked".into(),
        SshCheck::NoAnswerYet { after_secs } => format!("SSH: no answer after {after_secs:.1} s"),
    });
    Decision::Dead { evidence }
}

/// How the master's process looks from its own host (over SSH) after the watch connection
/// dropped.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostView {
    /// The pid file still names a process that no longer exists: mysqld ended without its
    /// shutdown (a clean shutdown removes the pid file last).
    ProcessGone { pid: u32 },
    /// The process in the pid file still runs (hung, or shutting down).
    ProcessAlive { pid: u32 },
    /// No pid file: the server shut down cleanly (or never wrote one).
    NoPidFile,
    /// The host could not be asked.
    Unknown { detail: String },
}

/// The fast path's facts, gathered within a second of the watch connection's loss.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrashEvidence {
    /// How the watch connection ended.
    pub watch: String,
    /// A new connection was refused: nothing listens on the port.
    pub connect_refused: bool,
    /// What the new connection got instead, when not refused.
    pub connect_detail: String,
    pub host: HostView,
    pub replicas: Vec<ReplicaView>,
}

/// A crash is proven, without waiting for ping_failures more pings, only when all of these
/// hold: the watch connection dropped without a shutdown notice, connects are refused, the
/// master's host answers and says mysqld died without a clean shutdown, and every replica of
/// this master that could be asked has lost its connection too. Anything less is left to
/// MHA's ping counting.
pub fn crash_proven(e: &CrashEvidence) -> Decision {
    if !e.connect_refused {
        return Decision::NotDead {
            reason: format!("a new connection was not refused ({})", e.connect_detail),
        };
    }
    match &e.host {
        HostView::ProcessGone { .. } => {}
        HostView::ProcessAlive { pid } => {
            return Decision::NotDead {
                reason: format!(
                    "mysqld (pid {pid}) still runs on the master's host: shutting down or restarting"
                ),
            };
        }
        HostView::NoPidFile => {
            return Decision::NotDead {
                reason: "mysqld removed its pid file: a clean shutdown, not a crash".into(),
            };
        }
        HostView::Unknown { detail } => {
            return Decision::NotDead {
                reason: format!("the master's host could not be asked: {detail}"),
            };
        }
    }
    let asked: Vec<&ReplicaView> = e
        .replicas
        .iter()
        .filter(|v| v.answer.as_ref().is_some_and(|a| a.replicates_from_master))
        .collect();
    if asked.is_empty() {
        return Decision::NotDead {
            reason: "no replica of this master could be asked".into(),
        };
    }
    if let Some(v) = asked.iter().find(|v| {
        v.answer
            .as_ref()
            .is_some_and(|a| a.io_running == ThreadState::Yes && a.last_io_errno == 0)
    }) {
        return Decision::NotDead {
            reason: format!("replica {} is still connected ({})", v.name, view_line(v)),
        };
    }
    let mut evidence = vec![
        format!("watch connection: {}", e.watch),
        "manager: connection refused".to_string(),
        match &e.host {
            HostView::ProcessGone { pid } => format!(
                "master's host (SSH): mysqld pid {pid} is gone and its pid file is still there: it did not shut down cleanly"
            ),
            _ => String::new(),
        },
    ];
    evidence.extend(e.replicas.iter().map(view_line));
    Decision::Dead { evidence }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(code: Option<u16>) -> PingOutcome {
        PingOutcome::Failed {
            reason: "x".into(),
            code,
        }
    }

    #[test]
    fn consecutive_failures_and_alive_but_busy_errors() {
        let mut d = Detector::new(3);
        let steps: Vec<Step> = [
            fail(None),
            fail(Some(1040)),
            fail(None),
            PingOutcome::Ok,
            fail(None),
            fail(None),
            fail(None),
        ]
        .iter()
        .map(|p| d.on_probe(p))
        .collect();
        assert!(matches!(steps[0], Step::Failing { count: 1, .. }));
        assert!(
            matches!(steps[1], Step::Busy { code: 1040, .. }),
            "too many connections is not a crash"
        );
        assert!(matches!(steps[2], Step::Failing { count: 2, .. }));
        assert_eq!(steps[3], Step::Healthy);
        assert!(matches!(steps[6], Step::Suspect { count: 3, .. }));
        for code in ALIVE_ERROR_CODES {
            assert!(matches!(
                Detector::new(1).on_probe(&fail(Some(code))),
                Step::Busy { .. }
            ));
        }
        assert!(matches!(
            Detector::new(1).on_probe(&fail(Some(2003))),
            Step::Suspect { .. }
        ));
    }

    fn answer(io: &str, errno: u32, progressed: Option<bool>) -> Option<ReplicaAnswer> {
        Some(ReplicaAnswer {
            replicates_from_master: true,
            io_running: ThreadState::parse(io),
            io_state: "".into(),
            last_io_errno: errno,
            last_io_error: "".into(),
            progressed,
            sample_gap_secs: 2.0,
        })
    }

    fn evidence(replicas: Vec<Option<ReplicaAnswer>>, secondary: SecondaryCheck) -> Evidence {
        Evidence {
            ping: "connect timed out".into(),
            master_answers_now: false,
            replicas: replicas
                .into_iter()
                .enumerate()
                .map(|(i, a)| ReplicaView {
                    name: format!("r{i}"),
                    answer: a,
                })
                .collect(),
            vantage: vec![],
            secondary,
            ssh: SshCheck::NotChecked,
        }
    }

    #[test]
    fn confirmation_table() {
        use SecondaryCheck::*;
        let dead = |e: &Evidence| matches!(confirm_dead(e), Decision::Dead { .. });
        // Crash: every replica's IO thread lost the master.
        assert!(dead(&evidence(
            vec![answer("Connecting", 2003, None), answer("No", 2013, None)],
            NotConfigured
        )));
        // Freeze: IO threads still say Yes, but nothing arrives.
        assert!(dead(&evidence(
            vec![answer("Yes", 0, Some(false)), answer("Yes", 0, Some(false))],
            MasterDown
        )));
        // Manager partitioned from the master: a replica still hears from it.
        let e = evidence(
            vec![
                answer("Connecting", 2003, None),
                answer("Yes", 0, Some(true)),
            ],
            NotConfigured,
        );
        assert_eq!(
            confirm_dead(&e),
            Decision::NotDead { reason: "replica r1 still receives from the master (r1: IO thread Yes (), events or heartbeats arrived in the last 2.0 s)".into() }
        );
        // Progress unknown and IO running: assume it receives (no failover on doubt).
        assert!(!dead(&evidence(
            vec![answer("Yes", 0, None)],
            NotConfigured
        )));
        // No replica could be asked: cannot confirm.
        assert!(!dead(&evidence(vec![None, None], NotConfigured)));
        // The secondary check vetoes.
        assert!(!dead(&evidence(
            vec![answer("No", 2003, None)],
            MasterReachable {
                detail: "via h2".into()
            }
        )));
        assert!(!dead(&evidence(
            vec![answer("No", 2003, None)],
            Failed {
                detail: "exit 2".into()
            }
        )));
        // The master answering again vetoes everything.
        let mut e = evidence(vec![answer("No", 2003, None)], MasterDown);
        e.master_answers_now = true;
        assert!(!dead(&e));
    }
    #[test]
    fn vantage_points_decide_over_silent_io_threads() {
        let view = |answer| VantageView {
            name: "r0".into(),
            answer,
        };
        let no = VantageAnswer::NoAnswer {
            detail: "no handshake".into(),
        };
        let yes = VantageAnswer::Answered {
            detail: "handshake".into(),
        };
        let off = VantageAnswer::Unavailable {
            detail: "ssh down".into(),
        };
        let dead = |e: &Evidence| matches!(confirm_dead(e), Decision::Dead { .. });
        // Default heartbeat: IO thread Yes, nothing known about progress, but no host reaches
        // the master's port: dead.
        let mut e = evidence(vec![answer("Yes", 0, None)], SecondaryCheck::NotConfigured);
        e.vantage = vec![view(no.clone())];
        assert!(dead(&e));
        // ... unless something did arrive after the failures began.
        let mut e2 = evidence(
            vec![answer("Yes", 0, Some(true))],
            SecondaryCheck::NotConfigured,
        );
        e2.vantage = vec![view(no.clone())];
        assert!(!dead(&e2));
        // One host reaches it: the manager alone is cut off.
        e.vantage = vec![view(no.clone()), view(yes)];
        assert!(!dead(&e));
        // No host could be asked: back to the replicas' word, and in doubt no failover.
        e.vantage = vec![view(off.clone())];
        assert!(!dead(&e));
        // Replicas unreachable by SQL, but their hosts see no master: dead.
        let mut e3 = evidence(vec![None], SecondaryCheck::NotConfigured);
        e3.vantage = vec![view(no), view(off)];
        assert!(dead(&e3));
    }

    #[test]
    fn crash_fast_path_needs_every_fact() {
        let crashed = || CrashEvidence {
            watch: "connection closed".into(),
            connect_refused: true,
            connect_detail: String::new(),
            host: HostView::ProcessGone { pid: 42 },
            replicas: vec![ReplicaView {
                name: "r".into(),
                answer: answer("Connecting", 2013, None),
            }],
        };
        assert!(matches!(crash_proven(&crashed()), Decision::Dead { .. }));
        let mut e = crashed();
        e.connect_refused = false;
        assert!(matches!(crash_proven(&e), Decision::NotDead { .. }));
        for host in [
            HostView::ProcessAlive { pid: 42 },
            HostView::NoPidFile,
            HostView::Unknown {
                detail: "timeout".into(),
            },
        ] {
            let mut e = crashed();
            e.host = host;
            assert!(matches!(crash_proven(&e), Decision::NotDead { .. }));
        }
        let mut e = crashed();
        e.replicas[0].answer = answer("Yes", 0, None);
        assert!(matches!(crash_proven(&e), Decision::NotDead { .. }));
        e.replicas[0].answer = None;
        assert!(matches!(crash_proven(&e), Decision::NotDead { .. }));
    }
}
