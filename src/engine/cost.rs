//! What detection will cost: for each kind of fault, how long after it the manager can log
//! "Master is down!", from the monitoring settings and each replica's replication settings;
//! and what to change on a replica to make the slow route faster.
//!
//! The model (seconds from the fault):
//! - crash (mysqld killed, host up): with `fast_crash_detection` the reset watch connection,
//!   refused connects, the host answering SSH and the replicas' lost IO connections prove it at
//!   once (about 0.5 s); without it MHA's counting: `ping_failures` pings `ping_interval`
//!   apart, and one more interval for the confirmation.
//! - hang (mysqld frozen) and lost host (network cut): nothing is refused, so the pings must
//!   fail `ping_failures` times; then the master's port is probed from every replica host the
//!   manager reaches over SSH (one probe round, at most a second). With no such host the
//!   replicas' received-heartbeat counters must stay silent for 1.5 heartbeat periods after
//!   the first failed ping, so the slowest heartbeat decides; a replica without a heartbeat
//!   cannot tell a dead master from an idle one, and the master is never declared dead.

use std::fmt;

use serde::Serialize;

/// The settings that decide detection time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionSettings {
    pub ping_interval: f64,
    pub ping_failures: u32,
    pub fast_crash_detection: bool,
    /// secondary_check_script is set: it runs during the confirmation and adds its own time.
    pub secondary_check_script: bool,
}

/// Can the manager log in to a host over SSH?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ssh {
    Reachable,
    Unreachable,
    /// --skip_check_ssh / skip_init_ssh_check: not tried.
    NotChecked,
}

/// One replica of the master, as detection sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaTiming {
    pub block: String,
    pub name: String,
    /// Replication heartbeat period in seconds (0 = off); None = could not be read.
    pub heartbeat_period: Option<f64>,
    pub slave_net_timeout: Option<u32>,
    /// The manager reaches its host over SSH: a place to probe the master's port from.
    pub ssh: Ssh,
}

/// Everything the estimate is computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostInputs {
    pub settings: DetectionSettings,
    pub master_ssh: Ssh,
    /// The replicas replicating from the master.
    pub replicas: Vec<ReplicaTiming>,
}

/// Why a crash is not detected at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlowCrash {
    /// fast_crash_detection = 0.
    TurnedOff,
    /// The master host does not answer SSH, so "mysqld is gone but the host is up" cannot be
    /// proven.
    MasterSshUnreachable,
}

/// Why no replica host can probe the master.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoVantage {
    /// SSH to the replica hosts was not checked (--skip_check_ssh, skip_init_ssh_check).
    NotChecked,
    /// No replica host answered SSH.
    NoneAnswered,
}

/// Why the heartbeat fallback never concludes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Never {
    HeartbeatOff { replica: String },
    HeartbeatUnknown { replica: String },
}

/// How the replicas' heartbeats would decide without a replica host to probe from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "route", rename_all = "snake_case")]
pub enum Fallback {
    /// 1.5 × the slowest replica's heartbeat period after the first failed ping.
    Heartbeat {
        replica: String,
        period: f64,
    },
    Never(Never),
    NoReplica,
}

/// How one kind of fault is detected.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "route", rename_all = "snake_case")]
pub enum Route {
    FastCrash,
    PingCounting {
        why: SlowCrash,
    },
    /// Failed pings, then the master's port probed from these replica hosts over SSH.
    SshProbe {
        from: Vec<String>,
    },
    /// The heartbeat fallback decides (see `heartbeat_fallback`).
    HeartbeatFallback {
        why: NoVantage,
    },
    /// No replica replicates from the master: nothing can confirm its death.
    NoReplica,
}

/// Why a change is advised.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum AdviceReason {
    HeartbeatSlow { period: f64 },
    HeartbeatOff,
    HeartbeatUnknown,
    NetTimeoutLong { secs: u32 },
}

/// What to change on one replica, with the statement to run there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    pub block: String,
    pub name: String,
    /// New heartbeat period, when it should change.
    pub heartbeat_period: Option<f64>,
    /// New slave_net_timeout, when it should change.
    pub slave_net_timeout: Option<u32>,
    pub reasons: Vec<AdviceReason>,
    pub statement: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionCost {
    pub settings: DetectionSettings,
    pub replicas: Vec<ReplicaTiming>,
    /// Seconds from the fault to "Master is down!"; None = never.
    pub crash_secs: Option<f64>,
    pub crash: Route,
    pub hang_secs: Option<f64>,
    pub hang: Route,
    pub lost_host_secs: Option<f64>,
    pub lost_host: Route,
    /// What hang and lost host cost when no replica host can be reached over SSH.
    pub heartbeat_fallback_secs: Option<f64>,
    pub heartbeat_fallback: Fallback,
    pub advice: Vec<Advice>,
}

/// The heartbeat period advised: an idle master still sends something every second.
pub const ADVISED_HEARTBEAT: f64 = 1.0;
/// The shortest slave_net_timeout advised (and at least twice the heartbeat period).
pub const ADVISED_NET_TIMEOUT: u32 = 10;
/// A crash proven at once: the watch connection's reset plus one round of connects and SSH.
pub const FAST_CRASH_SECS: f64 = 0.5;

fn heartbeat_fallback(
    s: &DetectionSettings,
    replicas: &[ReplicaTiming],
) -> (Option<f64>, Fallback) {
    let mut slowest: Option<(&ReplicaTiming, f64)> = None;
    for r in replicas {
        let p = match r.heartbeat_period {
            None => {
                return (
                    None,
                    Fallback::Never(Never::HeartbeatUnknown {
                        replica: r.block.clone(),
                    }),
                );
            }
            Some(p) if p <= 0.0 => {
                return (
                    None,
                    Fallback::Never(Never::HeartbeatOff {
                        replica: r.block.clone(),
                    }),
                );
            }
            Some(p) => p,
        };
        if slowest.is_none_or(|(_, q)| p > q) {
            slowest = Some((r, p));
        }
    }
    match slowest {
        Some((r, p)) => {
            let window = s.ping_interval * f64::from(s.ping_failures);
            (
                Some(window.max(s.ping_interval + 1.5 * p)),
                Fallback::Heartbeat {
                    replica: r.block.clone(),
                    period: p,
                },
            )
        }
        None => (None, Fallback::NoReplica),
    }
}

fn advice_for(r: &ReplicaTiming) -> (Option<f64>, Option<u32>, Vec<AdviceReason>) {
    let mut reasons = Vec::new();
    let heartbeat = match r.heartbeat_period {
        None => {
            reasons.push(AdviceReason::HeartbeatUnknown);
            Some(ADVISED_HEARTBEAT)
        }
        Some(p) if p <= 0.0 => {
            reasons.push(AdviceReason::HeartbeatOff);
            Some(ADVISED_HEARTBEAT)
        }
        Some(p) if p > ADVISED_HEARTBEAT => {
            reasons.push(AdviceReason::HeartbeatSlow { period: p });
            Some(ADVISED_HEARTBEAT)
        }
        Some(_) => None,
    };
    let period = heartbeat
        .or(r.heartbeat_period)
        .unwrap_or(ADVISED_HEARTBEAT);
    // MariaDB warns when the heartbeat period exceeds slave_net_timeout; keep twice it.
    let floor = ADVISED_NET_TIMEOUT.max((2.0 * period).ceil() as u32);
    let net = match r.slave_net_timeout {
        Some(n) if n > floor => {
            reasons.push(AdviceReason::NetTimeoutLong { secs: n });
            Some(floor)
        }
        _ => None,
    };
    (heartbeat, net, reasons)
}

/// The estimate. `statement(i, heartbeat, net_timeout)` renders, in replica i's SQL dialect,
/// the statement that applies the advised values (SQL text lives with the SQL seam).
pub fn detection_cost(
    inputs: &CostInputs,
    statement: impl Fn(usize, Option<f64>, Option<u32>) -> String,
) -> DetectionCost {
    let s = &inputs.settings;
    let window = s.ping_interval * f64::from(s.ping_failures);
    let replicas = &inputs.replicas;
    let (fallback_secs, fallback) = heartbeat_fallback(s, replicas);

    let (crash_secs, crash) = if replicas.is_empty() {
        (None, Route::NoReplica)
    } else if !s.fast_crash_detection {
        (
            Some(window + s.ping_interval),
            Route::PingCounting {
                why: SlowCrash::TurnedOff,
            },
        )
    } else if inputs.master_ssh == Ssh::Unreachable {
        (
            Some(window + s.ping_interval),
            Route::PingCounting {
                why: SlowCrash::MasterSshUnreachable,
            },
        )
    } else {
        (Some(FAST_CRASH_SECS), Route::FastCrash)
    };

    let from: Vec<String> = replicas
        .iter()
        .filter(|r| r.ssh == Ssh::Reachable)
        .map(|r| r.block.clone())
        .collect();
    let (hang_secs, hang) = if replicas.is_empty() {
        (None, Route::NoReplica)
    } else if !from.is_empty() {
        (
            Some(window + s.ping_interval.min(1.0)),
            Route::SshProbe { from },
        )
    } else {
        let why = if replicas.iter().any(|r| r.ssh == Ssh::Unreachable) {
            NoVantage::NoneAnswered
        } else {
            NoVantage::NotChecked
        };
        (fallback_secs, Route::HeartbeatFallback { why })
    };

    let advice = replicas
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let (heartbeat_period, slave_net_timeout, reasons) = advice_for(r);
            (!reasons.is_empty()).then(|| Advice {
                block: r.block.clone(),
                name: r.name.clone(),
                heartbeat_period,
                slave_net_timeout,
                reasons,
                statement: statement(i, heartbeat_period, slave_net_timeout),
            })
        })
        .collect();

    DetectionCost {
        settings: s.clone(),
        replicas: replicas.clone(),
        crash_secs,
        crash,
        hang_secs,
        lost_host_secs: hang_secs,
        lost_host: hang.clone(),
        hang,
        heartbeat_fallback_secs: fallback_secs,
        heartbeat_fallback: fallback,
        advice,
    }
}

/// "under 1 s", "about 13 s", "about 4.5 s", "never".
pub fn secs_words(secs: Option<f64>) -> String {
    match secs {
        None => "never".into(),
        Some(x) if x < 1.0 => "under 1 s".into(),
        Some(x) => format!("about {} s", number(x)),
    }
}

/// 30 -> "30", 4.5 -> "4.5".
fn number(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

impl fmt::Display for Never {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Never::HeartbeatOff { replica } => write!(
                f,
                "the replication heartbeat of {replica} is off, so its silence cannot be told from an idle master: no failover without a second route"
            ),
            Never::HeartbeatUnknown { replica } => write!(
                f,
                "the heartbeat period of {replica} could not be read: no failover without a second route"
            ),
        }
    }
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fallback::Heartbeat { replica, period } => write!(
                f,
                "the replicas' heartbeats must stay silent for 1.5 × {} s ({replica}'s period) after the first failed ping",
                number(*period)
            ),
            Fallback::Never(n) => n.fmt(f),
            Fallback::NoReplica => write!(f, "no replica replicates from the master"),
        }
    }
}

impl Route {
    fn describe(&self, s: &DetectionSettings, fallback: &Fallback) -> String {
        let pings = format!(
            "{} failed pings {} s apart",
            s.ping_failures,
            number(s.ping_interval)
        );
        match self {
            Route::FastCrash => "the watch connection is reset, connects are refused, the master host answers SSH and every replica has lost its connection".into(),
            Route::PingCounting { why: SlowCrash::TurnedOff } => {
                format!("{pings}, then the confirmation (fast_crash_detection=0)")
            }
            Route::PingCounting { why: SlowCrash::MasterSshUnreachable } => format!(
                "{pings}, then the confirmation (the master host does not answer SSH, so a crash cannot be proven at once)"
            ),
            Route::SshProbe { from } => format!(
                "{pings}, then one probe of the master's port from the host of {} over SSH",
                from.join(", ")
            ),
            Route::HeartbeatFallback { why } => {
                let no = match why {
                    NoVantage::NotChecked => "SSH to the replica hosts was not checked",
                    NoVantage::NoneAnswered => "no replica host answers SSH",
                };
                format!("{no}; {fallback}")
            }
            Route::NoReplica => {
                "no replica replicates from the master, so nothing can confirm its death".into()
            }
        }
    }
}

impl fmt::Display for AdviceReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdviceReason::HeartbeatSlow { period } => write!(
                f,
                "heartbeat every {} s: silence is seen only after {} s",
                number(*period),
                number(1.5 * period)
            ),
            AdviceReason::HeartbeatOff => {
                write!(
                    f,
                    "heartbeat off: an idle master looks the same as a dead one"
                )
            }
            AdviceReason::HeartbeatUnknown => write!(f, "heartbeat period unknown"),
            AdviceReason::NetTimeoutLong { secs } => write!(
                f,
                "slave_net_timeout {secs} s: without a FIN from the master the replica notices a dead connection only after {secs} s"
            ),
        }
    }
}

impl fmt::Display for DetectionCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        writeln!(
            f,
            "Detection time to expect (ping_interval {} s, ping_failures {}, fast_crash_detection {}):",
            number(s.ping_interval),
            s.ping_failures,
            u8::from(s.fast_crash_detection)
        )?;
        for (what, secs, route) in [
            ("mysqld crash (host up)", self.crash_secs, &self.crash),
            ("mysqld hang", self.hang_secs, &self.hang),
            ("master host lost", self.lost_host_secs, &self.lost_host),
        ] {
            writeln!(
                f,
                "  {what:<23} {}: {}",
                secs_words(secs),
                route.describe(s, &self.heartbeat_fallback)
            )?;
        }
        if matches!(self.hang, Route::SshProbe { .. }) {
            writeln!(
                f,
                "  {:<23} {}: {}",
                "hang/lost, no SSH",
                secs_words(self.heartbeat_fallback_secs),
                self.heartbeat_fallback
            )?;
        }
        if s.secondary_check_script {
            writeln!(
                f,
                "  plus the time secondary_check_script takes (at most hook_timeout)"
            )?;
        }
        for r in &self.replicas {
            let hb = match r.heartbeat_period {
                None => "unknown".into(),
                Some(p) if p <= 0.0 => "off".into(),
                Some(p) => format!("{} s", number(p)),
            };
            let net = r
                .slave_net_timeout
                .map(|n| format!("{n} s"))
                .unwrap_or_else(|| "unknown".into());
            let ssh = match r.ssh {
                Ssh::Reachable => "SSH reachable",
                Ssh::Unreachable => "SSH NOT reachable",
                Ssh::NotChecked => "SSH not checked",
            };
            writeln!(
                f,
                "  {} {}: heartbeat {hb}, slave_net_timeout {net}, {ssh}",
                r.block, r.name
            )?;
        }
        if !self.advice.is_empty() {
            writeln!(f, "To shorten the fallback, on each replica:")?;
            for a in &self.advice {
                let why: Vec<String> = a.reasons.iter().map(ToString::to_string).collect();
                writeln!(f, "  {}: {}", a.block, a.statement)?;
                writeln!(f, "    ({})", why.join("; "))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(interval: f64, failures: u32, fast: bool) -> DetectionSettings {
        DetectionSettings {
            ping_interval: interval,
            ping_failures: failures,
            fast_crash_detection: fast,
            secondary_check_script: false,
        }
    }

    fn replica(block: &str, hb: Option<f64>, net: Option<u32>, ssh: Ssh) -> ReplicaTiming {
        ReplicaTiming {
            block: block.into(),
            name: format!("{block}(127.0.0.1:3306)"),
            heartbeat_period: hb,
            slave_net_timeout: net,
            ssh,
        }
    }

    fn cost(
        settings: DetectionSettings,
        master_ssh: Ssh,
        replicas: Vec<ReplicaTiming>,
    ) -> DetectionCost {
        detection_cost(
            &CostInputs {
                settings,
                master_ssh,
                replicas,
            },
            |i, hb, net| format!("#{i} hb={hb:?} net={net:?}"),
        )
    }

    use Ssh::*;

    /// (name, settings, master ssh, replicas (heartbeat, ssh), crash, hang/lost, fallback)
    #[test]
    fn seconds_per_fault() {
        type Case = (
            &'static str,
            DetectionSettings,
            Ssh,
            Vec<(Option<f64>, Ssh)>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
        );
        let cases: Vec<Case> = vec![
            (
                "MHA defaults, heartbeat 30, SSH everywhere",
                settings(3.0, 4, true),
                Reachable,
                vec![(Some(30.0), Reachable), (Some(30.0), Reachable)],
                Some(0.5),
                Some(13.0),
                Some(48.0),
            ),
            (
                "heartbeat 30, no SSH to the replicas",
                settings(3.0, 4, true),
                Reachable,
                vec![(Some(30.0), Unreachable), (Some(30.0), NotChecked)],
                Some(0.5),
                Some(48.0),
                Some(48.0),
            ),
            (
                "heartbeat 1, no SSH: the ping window decides",
                settings(3.0, 4, true),
                Reachable,
                vec![(Some(1.0), NotChecked), (Some(1.0), NotChecked)],
                Some(0.5),
                Some(12.0),
                Some(12.0),
            ),
            (
                "heartbeat 1 on one, 30 on the other: the slowest decides",
                settings(1.0, 4, true),
                Reachable,
                vec![(Some(1.0), NotChecked), (Some(30.0), NotChecked)],
                Some(0.5),
                Some(46.0),
                Some(46.0),
            ),
            (
                "heartbeat off, no SSH: never",
                settings(1.0, 4, true),
                Reachable,
                vec![(Some(1.0), Unreachable), (Some(0.0), Unreachable)],
                Some(0.5),
                None,
                None,
            ),
            (
                "heartbeat off, with SSH: the probe decides",
                settings(1.0, 4, true),
                Reachable,
                vec![(Some(0.0), Reachable), (Some(0.0), Unreachable)],
                Some(0.5),
                Some(5.0),
                None,
            ),
            (
                "heartbeat unknown, no SSH: never",
                settings(1.0, 4, true),
                Reachable,
                vec![(None, NotChecked)],
                Some(0.5),
                None,
                None,
            ),
            (
                "fast path off: MHA's counting plus one interval",
                settings(3.0, 4, false),
                Reachable,
                vec![(Some(1.0), Reachable)],
                Some(15.0),
                Some(13.0),
                Some(12.0),
            ),
            (
                "fast path on, master host without SSH: counting",
                settings(2.0, 3, true),
                Unreachable,
                vec![(Some(1.0), Reachable)],
                Some(8.0),
                Some(7.0),
                Some(6.0),
            ),
            (
                "fast path on, master SSH not checked: assumed",
                settings(2.0, 3, true),
                NotChecked,
                vec![(Some(1.0), Reachable)],
                Some(0.5),
                Some(7.0),
                Some(6.0),
            ),
            (
                "sub-second ping interval: the probe round is the interval",
                settings(0.5, 4, true),
                Reachable,
                vec![(Some(1.0), Reachable)],
                Some(0.5),
                Some(2.5),
                Some(2.0),
            ),
            (
                "no replica: nothing confirms a death",
                settings(3.0, 4, true),
                Reachable,
                vec![],
                None,
                None,
                None,
            ),
        ];
        for (name, s, master_ssh, reps, crash, hang, fallback) in cases {
            let reps = reps
                .into_iter()
                .enumerate()
                .map(|(i, (hb, ssh))| replica(&format!("server{}", i + 2), hb, Some(60), ssh))
                .collect();
            let c = cost(s, master_ssh, reps);
            assert_eq!(c.crash_secs, crash, "{name}: crash");
            assert_eq!(c.hang_secs, hang, "{name}: hang");
            assert_eq!(c.lost_host_secs, hang, "{name}: lost host");
            assert_eq!(c.heartbeat_fallback_secs, fallback, "{name}: fallback");
        }
    }

    #[test]
    fn routes_carry_their_reasons() {
        let c = cost(
            settings(3.0, 4, true),
            Reachable,
            vec![
                replica("server2", Some(30.0), Some(60), Reachable),
                replica("server3", Some(30.0), Some(60), Unreachable),
            ],
        );
        assert_eq!(c.crash, Route::FastCrash);
        assert_eq!(
            c.hang,
            Route::SshProbe {
                from: vec!["server2".into()]
            }
        );
        assert_eq!(
            c.heartbeat_fallback,
            Fallback::Heartbeat {
                replica: "server2".into(),
                period: 30.0
            }
        );

        let c = cost(
            settings(3.0, 4, false),
            Reachable,
            vec![
                replica("server2", Some(1.0), Some(60), Unreachable),
                replica("server3", Some(0.0), Some(60), Unreachable),
            ],
        );
        assert_eq!(
            c.crash,
            Route::PingCounting {
                why: SlowCrash::TurnedOff
            }
        );
        assert_eq!(
            c.hang,
            Route::HeartbeatFallback {
                why: NoVantage::NoneAnswered
            }
        );
        assert_eq!(
            c.heartbeat_fallback,
            Fallback::Never(Never::HeartbeatOff {
                replica: "server3".into()
            })
        );
        let text = c.to_string();
        assert!(
            text.contains("mysqld hang             never: no replica host answers SSH; the replication heartbeat of server3 is off"),
            "{text}"
        );
        assert!(
            text.contains("no failover without a second route"),
            "{text}"
        );
    }

    /// (heartbeat, slave_net_timeout) -> (advised heartbeat, advised net timeout)
    #[test]
    fn advice_per_replica() {
        let cases = [
            (Some(30.0), Some(60), Some(1.0), Some(10)),
            (Some(1.0), Some(60), None, Some(10)),
            (Some(1.0), Some(10), None, None),
            (Some(0.5), Some(5), None, None),
            (Some(0.0), Some(60), Some(1.0), Some(10)),
            (None, None, Some(1.0), None),
            (Some(30.0), Some(10), Some(1.0), None),
            // A replica kept at a 8 s heartbeat (not advised lower: > 1 s is advised anyway).
            (Some(8.0), Some(12), Some(1.0), Some(10)),
        ];
        for (hb, net, want_hb, want_net) in cases {
            let c = cost(
                settings(3.0, 4, true),
                Reachable,
                vec![
                    replica("server2", Some(1.0), Some(10), Reachable),
                    replica("server3", hb, net, Reachable),
                ],
            );
            let a: Vec<&Advice> = c.advice.iter().filter(|a| a.block == "server3").collect();
            if want_hb.is_none() && want_net.is_none() {
                assert!(a.is_empty(), "{hb:?} {net:?}: {a:?}");
                continue;
            }
            assert_eq!(a.len(), 1, "{hb:?} {net:?}");
            assert_eq!(
                (a[0].heartbeat_period, a[0].slave_net_timeout),
                (want_hb, want_net),
                "{hb:?} {net:?}"
            );
            assert_eq!(
                a[0].statement,
                format!("#1 hb={want_hb:?} net={want_net:?}")
            );
        }
    }

    #[test]
    fn json_shape() {
        let c = cost(
            settings(1.0, 4, true),
            Reachable,
            vec![replica("server2", Some(0.0), Some(60), Unreachable)],
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["crash_secs"], 0.5);
        assert_eq!(v["crash"]["route"], "fast_crash");
        assert!(v["hang_secs"].is_null());
        assert_eq!(v["hang"]["route"], "heartbeat_fallback");
        assert_eq!(v["hang"]["why"], "none_answered");
        assert_eq!(v["heartbeat_fallback"]["route"], "never");
        assert_eq!(v["heartbeat_fallback"]["why"], "heartbeat_off");
        assert_eq!(v["advice"][0]["heartbeat_period"], 1.0);
        assert_eq!(v["advice"][0]["reasons"][0]["why"], "heartbeat_off");
        assert_eq!(v["replicas"][0]["ssh"], "unreachable");
    }

    #[test]
    fn text_in_dba_words() {
        let c = cost(
            settings(1.0, 4, true),
            Reachable,
            vec![
                replica("server2", Some(30.0), Some(60), Reachable),
                replica("server3", Some(1.0), Some(10), Reachable),
            ],
        );
        let text = c.to_string();
        for want in [
            "Detection time to expect (ping_interval 1 s, ping_failures 4, fast_crash_detection 1):",
            "  mysqld crash (host up)  under 1 s: the watch connection is reset",
            "  mysqld hang             about 5 s: 4 failed pings 1 s apart, then one probe of the master's port from the host of server2, server3 over SSH",
            "  master host lost        about 5 s:",
            "  hang/lost, no SSH       about 46 s: the replicas' heartbeats must stay silent for 1.5 × 30 s (server2's period) after the first failed ping",
            "  server2 server2(127.0.0.1:3306): heartbeat 30 s, slave_net_timeout 60 s, SSH reachable",
            "To shorten the fallback, on each replica:\n  server2: #0 hb=Some(1.0) net=Some(10)\n    (heartbeat every 30 s: silence is seen only after 45 s; slave_net_timeout 60 s: without a FIN from the master the replica notices a dead connection only after 60 s)",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("server3: #"), "{text}");
        assert_eq!(secs_words(Some(4.5)), "about 4.5 s");
        assert_eq!(secs_words(None), "never");
    }
}
