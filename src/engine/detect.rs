//! Is the master dead? A counter of consecutive failed pings (MHA semantics: errors that mean
//! "alive but busy" never count), then `confirm_dead`: dead only when the replicas lost the
//! master too and the secondary check (if any) agrees. A manager that alone lost its path to
//! the master must not fail over.

use serde::Serialize;

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
    pub io_running: String,
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
            && self.io_running == "Yes"
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The last ping error.
    pub ping: String,
    /// A fresh connection made at confirmation time succeeded.
    pub master_answers_now: bool,
    pub replicas: Vec<ReplicaView>,
    pub secondary: SecondaryCheck,
    pub ssh: SshCheck,
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
    let asked: Vec<&ReplicaView> = e
        .replicas
        .iter()
        .filter(|v| v.answer.as_ref().is_some_and(|a| a.replicates_from_master))
        .collect();
    if asked.is_empty() {
        return Decision::NotDead {
            reason: "no replica of this master could be asked, so its death cannot be confirmed from a second route".into(),
        };
    }
    if let Some(v) = asked
        .iter()
        .find(|v| v.answer.as_ref().is_some_and(ReplicaAnswer::receives))
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
            io_running: io.into(),
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
}
