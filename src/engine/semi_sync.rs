//! Semi-synchronous replication: what check_repl says about it, when the manager logs a
//! fallback, whether it guaranteed a failover lost no acknowledged commit, and what a failover
//! or switchover turns on afterwards.
//!
//! Where the failover knows things from:
//! - **Did the cluster use semi-sync?** From the replicas' own setting
//!   (`rpl_semi_sync_slave_enabled`), read by the failover itself in phase 1: it survives the
//!   master, needs no manager and cannot be stale. The manager's last look at the master
//!   (master side enabled) counts too, and gives the wait point and timeout to keep.
//! - **Was it in force when the master died?** Only from the manager's last look at the master
//!   before its death ([`LastSeen`]): whether its master side was active (not fallen back), its
//!   wait point, how many replicas acknowledged, and how long before the death was declared.
//!   The replicas cannot tell whether their master had fallen back to asynchronous; a failover
//!   without a manager (`master_switch --master_state=dead`) states no guarantee.

use std::time::Duration;

use serde::Serialize;

use super::reason::{Finding, Problem, Severity};
use crate::config::SemiSyncSetting;
use crate::topology::{MasterSettings, Observed, SemiSync, Topology, WaitPoint, millis};

// ------------------------------------------------------------------------------------------
// check_repl

/// What is wrong with semi-sync in this topology (`master`: the master's index;
/// `detection_window`: ping_interval × ping_failures, in seconds).
pub fn findings(topo: &Topology, master: Option<usize>, detection_window: f64) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |sev, o: &Observed, p| out.push(Finding::new(sev, Some(o.name()), p));
    let m = master.map(|i| &topo.servers[i]);
    let m_semi = m
        .and_then(Observed::alive)
        .and_then(|s| s.semi_sync.as_ref());
    let replicas: Vec<(&Observed, &SemiSync, bool)> = topo
        .servers
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != master)
        .filter_map(|(_, o)| {
            let s = o.alive()?;
            let r = s.replica.as_ref()?;
            let of_master = m.is_some_and(|m| m.is_at(&r.master_host, r.master_port));
            Some((o, s.semi_sync.as_ref()?, of_master && r.io_running()))
        })
        .collect();
    for (o, semi, _) in &replicas {
        if semi.master_enabled {
            add(Severity::Warning, o, Problem::SemiSyncMasterSideOnReplica);
        }
    }
    let (Some(m), Some(ms)) = (m, m_semi) else {
        return out;
    };
    let acking: Vec<String> = replicas
        .iter()
        .filter(|(_, s, _)| s.slave_enabled)
        .map(|(o, _, _)| o.name())
        .collect();
    if !ms.master_enabled {
        if !acking.is_empty() {
            add(
                Severity::Warning,
                m,
                Problem::SemiSyncMasterSideOff { replicas: acking },
            );
        }
        return out;
    }
    if ms.fell_back() {
        add(
            Severity::Warning,
            m,
            Problem::SemiSyncFellBack {
                clients: ms.clients,
                timeout_ms: ms.timeout_ms,
            },
        );
    } else if ms.clients == 0 {
        add(Severity::Warning, m, Problem::SemiSyncNoAcknowledger);
    }
    if ms.wait_point == Some(WaitPoint::AfterCommit) {
        add(Severity::Info, m, Problem::SemiSyncAfterCommit);
    }
    if let Some(t) = ms.timeout_ms
        && (t as f64) / 1000.0 <= detection_window
    {
        add(
            Severity::Info,
            m,
            Problem::SemiSyncTimeoutShort {
                timeout_ms: t,
                window: detection_window,
            },
        );
    }
    for (o, semi, io_running) in &replicas {
        if semi.slave_enabled && !semi.slave_active && *io_running {
            add(Severity::Warning, o, Problem::SemiSyncReplicaNotRegistered);
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// The manager's log

/// A change of the master side worth one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Enabled, and no longer active: commits are acknowledged without a replica.
    FellBack {
        clients: u32,
        timeout_ms: Option<u64>,
    },
    /// Active again after a fallback.
    Recovered { clients: u32 },
}

/// Whether the master side fell back or recovered between two looks.
pub fn change(before: &SemiSync, now: &SemiSync) -> Option<Change> {
    match (before.fell_back(), now.fell_back()) {
        (false, true) => Some(Change::FellBack {
            clients: now.clients,
            timeout_ms: now.timeout_ms,
        }),
        (true, false) if now.master_enabled && now.master_active => Some(Change::Recovered {
            clients: now.clients,
        }),
        _ => None,
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::FellBack {
                clients,
                timeout_ms,
            } => write!(
                f,
                "semi-sync fell back to asynchronous replication (Rpl_semi_sync_master_status=OFF, {clients} acknowledging replica(s){}): commits are acknowledged without a replica having them, and a failover now may lose them",
                timeout_ms
                    .map(|t| format!(", rpl_semi_sync_master_timeout {}", millis(t)))
                    .unwrap_or_default()
            ),
            Change::Recovered { clients } => write!(
                f,
                "semi-sync is active again (Rpl_semi_sync_master_status=ON, {clients} acknowledging replica(s)): commits wait for a replica again"
            ),
        }
    }
}

// ------------------------------------------------------------------------------------------
// The failover's guarantee

/// The manager's last look at the master (and its replicas) before the master's death.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastSeen {
    /// The master's display name.
    pub master: String,
    pub semi_sync: SemiSync,
    /// Each configured replica of the master seen in the same look: block, display name, and
    /// whether its IO thread was connected as a semi-sync replica.
    pub replicas: Vec<(String, String, bool)>,
    /// From that look to the moment the death was declared.
    #[serde(serialize_with = "secs")]
    pub before_death: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Why semi-sync gave no guarantee.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NoGuarantee {
    /// No manager looked at the master before it died (a failover by hand).
    NotObserved,
    MasterSideOff,
    FellBack,
    WaitPoint {
        wait_point: String,
    },
    NoAcknowledger,
    TimeoutUnknown,
    /// The last look is as old as the timeout: the master may have fallen back since.
    TooOld {
        before_death: f64,
        timeout_ms: u64,
    },
    /// More replicas acknowledged than the configured ones seen as semi-sync replicas: a
    /// server outside the configuration may have been the only one with a commit.
    UnknownAcknowledger {
        clients: u32,
        known: Vec<String>,
    },
    /// A replica that acknowledged does not take part in the failover.
    AcknowledgerLost {
        replicas: Vec<String>,
    },
}

impl std::fmt::Display for NoGuarantee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoGuarantee::NotObserved => f.write_str(
                "the dead master's semi-sync state was not seen before it died (only a running manager looks at it)",
            ),
            NoGuarantee::MasterSideOff => f.write_str(
                "the master did not use semi-sync (rpl_semi_sync_master_enabled=OFF): replication was asynchronous",
            ),
            NoGuarantee::FellBack => f.write_str(
                "the master had fallen back to asynchronous replication (Rpl_semi_sync_master_status=OFF)",
            ),
            NoGuarantee::WaitPoint { wait_point } => write!(
                f,
                "the wait point was {wait_point}, not AFTER_SYNC: other clients could read a commit no replica had"
            ),
            NoGuarantee::NoAcknowledger => f.write_str(
                "no replica acknowledged (Rpl_semi_sync_master_clients=0): a commit waited, then was acknowledged alone",
            ),
            NoGuarantee::TimeoutUnknown => {
                f.write_str("rpl_semi_sync_master_timeout was not known")
            }
            NoGuarantee::TooOld {
                before_death,
                timeout_ms,
            } => write!(
                f,
                "the master was last seen {before_death:.1} s before its death was declared, not within rpl_semi_sync_master_timeout ({}): it may have fallen back meanwhile",
                millis(*timeout_ms)
            ),
            NoGuarantee::UnknownAcknowledger { clients, known } => write!(
                f,
                "{clients} replica(s) acknowledged but only {} configured one(s) were semi-sync replicas ({}): a server outside the configuration may alone have had a commit",
                known.len(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
            NoGuarantee::AcknowledgerLost { replicas } => write!(
                f,
                "{} acknowledged but do(es) not take part in the failover",
                replicas.join(", ")
            ),
        }
    }
}

/// Did semi-sync guarantee that every commit the dead master acknowledged was on a surviving
/// replica when it died?
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Guarantee {
    Held {
        master: String,
        acknowledgers: Vec<String>,
        before_death: f64,
        timeout_ms: u64,
    },
    NotHeld {
        reason: NoGuarantee,
    },
}

impl Guarantee {
    pub fn held(&self) -> bool {
        matches!(self, Guarantee::Held { .. })
    }
}

impl std::fmt::Display for Guarantee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Guarantee::Held {
                master,
                acknowledgers,
                before_death,
                timeout_ms,
            } => write!(
                f,
                "guaranteed: every commit {master} acknowledged was on a surviving replica when it died, so nothing listed as NOT recovered was acknowledged to a client (AFTER_SYNC, active, acknowledged by {} as seen {before_death:.1} s before the death was declared, within rpl_semi_sync_master_timeout {})",
                acknowledgers.join(", "),
                millis(*timeout_ms)
            ),
            Guarantee::NotHeld { reason } => write!(
                f,
                "no guarantee: {reason}; a commit acknowledged by the dead master may have been on it alone"
            ),
        }
    }
}

/// The guarantee from the manager's last look (None: no look) and the blocks of the replicas
/// that take part in the failover.
pub fn guarantee(last: Option<&LastSeen>, surviving: &[String]) -> Guarantee {
    match why_not(last, surviving) {
        Err(reason) => Guarantee::NotHeld { reason },
        Ok(g) => g,
    }
}

fn why_not(last: Option<&LastSeen>, surviving: &[String]) -> Result<Guarantee, NoGuarantee> {
    let seen = last.ok_or(NoGuarantee::NotObserved)?;
    let s = &seen.semi_sync;
    if !s.master_enabled {
        return Err(NoGuarantee::MasterSideOff);
    }
    if !s.master_active {
        return Err(NoGuarantee::FellBack);
    }
    match &s.wait_point {
        Some(WaitPoint::AfterSync) => {}
        other => {
            return Err(NoGuarantee::WaitPoint {
                wait_point: other
                    .as_ref()
                    .map(|w| w.to_string())
                    .unwrap_or_else(|| "unknown".into()),
            });
        }
    }
    if s.clients == 0 {
        return Err(NoGuarantee::NoAcknowledger);
    }
    let timeout_ms = s.timeout_ms.ok_or(NoGuarantee::TimeoutUnknown)?;
    // A fallback needs a commit that waited the whole timeout: within it of the last look
    // (where the master was active, its acknowledgements arriving), none can have happened.
    if seen.before_death >= Duration::from_millis(timeout_ms) {
        return Err(NoGuarantee::TooOld {
            before_death: seen.before_death.as_secs_f64(),
            timeout_ms,
        });
    }
    let known: Vec<&(String, String, bool)> = seen.replicas.iter().filter(|r| r.2).collect();
    if s.clients as usize > known.len() {
        return Err(NoGuarantee::UnknownAcknowledger {
            clients: s.clients,
            known: known.iter().map(|r| r.1.clone()).collect(),
        });
    }
    let lost: Vec<String> = known
        .iter()
        .filter(|r| !surviving.contains(&r.0))
        .map(|r| r.1.clone())
        .collect();
    if !lost.is_empty() {
        return Err(NoGuarantee::AcknowledgerLost { replicas: lost });
    }
    Ok(Guarantee::Held {
        master: seen.master.clone(),
        acknowledgers: known.iter().map(|r| r.1.clone()).collect(),
        before_death: seen.before_death.as_secs_f64(),
        timeout_ms,
    })
}

// ------------------------------------------------------------------------------------------
// After a failover or a switchover

/// Why the cluster counts as using semi-sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Used {
    /// No replica has the replica side, and the master was not seen with the master side.
    No,
    /// These replicas have the replica side on.
    Replicas { replicas: Vec<String> },
    /// The master had the master side on (no replica had the replica side).
    Master,
}

/// Did the cluster use semi-sync? `master`: the master's semi-sync when known (alive, or seen
/// by the manager before its death); `replicas`: each replica's name and semi-sync.
pub fn used(master: Option<&SemiSync>, replicas: &[(String, Option<&SemiSync>)]) -> Used {
    let with: Vec<String> = replicas
        .iter()
        .filter(|(_, s)| s.is_some_and(|s| s.slave_enabled))
        .map(|(n, _)| n.clone())
        .collect();
    if !with.is_empty() {
        Used::Replicas { replicas: with }
    } else if master.is_some_and(|m| m.master_enabled) {
        Used::Master
    } else {
        Used::No
    }
}

/// What to turn on once a new master is chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Keep {
    pub setting: SemiSyncSetting,
    pub used: Used,
    /// The master side on the new master, with these settings (None: leave it alone).
    pub master_side: Option<MasterSettings>,
    /// The replica side on every replica of the new master (and on an old master that
    /// becomes one), the master side off on such an old master.
    pub replica_side: bool,
    /// Semi-sync was wanted but the new master has no replica left to acknowledge: its master
    /// side would make the first commit wait the whole timeout, then fall back.
    pub lone: bool,
}

/// What `semi_sync` asks for, given what the cluster had. `old_master`: the old master's
/// settings when known (copied, so that a wait point or a timeout chosen by the DBA stays);
/// `replicas_left`: how many servers will replicate from the new master.
pub fn keep(
    setting: SemiSyncSetting,
    used: Used,
    old_master: Option<MasterSettings>,
    replicas_left: usize,
) -> Keep {
    let on = match setting {
        SemiSyncSetting::Off => false,
        SemiSyncSetting::On => true,
        SemiSyncSetting::Auto => used != Used::No,
    };
    let lone = on && replicas_left == 0;
    Keep {
        setting,
        used,
        master_side: (on && !lone).then(|| old_master.unwrap_or_default()),
        replica_side: on && !lone,
        lone,
    }
}

impl Keep {
    pub fn enables(&self) -> bool {
        self.master_side.is_some() || self.replica_side
    }
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = match &self.used {
            Used::No => "the cluster did not use it".to_string(),
            Used::Replicas { replicas } => format!("{} had the replica side", replicas.join(", ")),
            Used::Master => "the master had the master side".to_string(),
        };
        match (self.setting, self.enables()) {
            (SemiSyncSetting::Off, _) => f.write_str("not changed (semi_sync = off)"),
            _ if self.lone => write!(
                f,
                "not turned on: the new master has no replica left to acknowledge, and its master side would make the first commit wait rpl_semi_sync_master_timeout, then fall back ({why})"
            ),
            (_, false) => write!(f, "not turned on ({why}; semi_sync = auto)"),
            (s, true) => {
                let mut settings = Vec::new();
                if let Some(m) = &self.master_side {
                    if let Some(w) = &m.wait_point {
                        settings.push(w.to_string());
                    }
                    if let Some(t) = m.timeout_ms {
                        settings.push(format!("timeout {}", millis(t)));
                    }
                }
                write!(
                    f,
                    "kept: the master side on the new master{}, the replica side on its replicas (semi_sync = {}; {why})",
                    if settings.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", settings.join(", "))
                    },
                    match s {
                        SemiSyncSetting::On => "on",
                        _ => "auto",
                    }
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::testing;

    fn master(enabled: bool, active: bool, wp: WaitPoint, clients: u32) -> SemiSync {
        SemiSync {
            master_enabled: enabled,
            master_active: active,
            wait_point: Some(wp),
            timeout_ms: Some(10_000),
            clients,
            ..SemiSync::default()
        }
    }

    fn seen(s: SemiSync, acking: &[&str], secs: f64) -> LastSeen {
        LastSeen {
            master: "db1".into(),
            semi_sync: s,
            replicas: ["server2", "server3"]
                .iter()
                .map(|b| (b.to_string(), format!("{b}(x)"), acking.contains(b)))
                .collect(),
            before_death: Duration::from_secs_f64(secs),
        }
    }

    #[test]
    fn the_guarantee_holds_only_for_an_active_after_sync_master_seen_recently() {
        let both = ["server2".to_string(), "server3".to_string()];
        let ok = master(true, true, WaitPoint::AfterSync, 2);
        let held = |g: &Guarantee| g.held();
        // (last seen, surviving, held, reason text)
        let cases: Vec<(Option<LastSeen>, &[String], bool, &str)> = vec![
            (
                Some(seen(ok.clone(), &["server2", "server3"], 1.0)),
                &both,
                true,
                "guaranteed",
            ),
            (None, &both, false, "was not seen"),
            (
                Some(seen(
                    master(false, false, WaitPoint::AfterSync, 0),
                    &[],
                    1.0,
                )),
                &both,
                false,
                "did not use",
            ),
            (
                Some(seen(
                    master(true, false, WaitPoint::AfterSync, 2),
                    &["server2"],
                    1.0,
                )),
                &both,
                false,
                "fallen back",
            ),
            (
                Some(seen(
                    master(true, true, WaitPoint::AfterCommit, 2),
                    &["server2", "server3"],
                    1.0,
                )),
                &both,
                false,
                "AFTER_COMMIT",
            ),
            (
                Some(seen(master(true, true, WaitPoint::AfterSync, 0), &[], 1.0)),
                &both,
                false,
                "no replica acknowledged",
            ),
            (
                Some(seen(ok.clone(), &["server2", "server3"], 10.0)),
                &both,
                false,
                "not within",
            ),
            // Two acknowledge, one configured replica is a semi-sync replica: who is the other?
            (
                Some(seen(ok.clone(), &["server2"], 1.0)),
                &both,
                false,
                "outside the configuration",
            ),
            // server3 acknowledged but does not take part.
            (
                Some(seen(ok.clone(), &["server2", "server3"], 1.0)),
                &both[..1],
                false,
                "server3(x) acknowledged",
            ),
            // One acknowledger among two configured semi-sync replicas: fine.
            (
                Some(seen(
                    master(true, true, WaitPoint::AfterSync, 1),
                    &["server2", "server3"],
                    1.0,
                )),
                &both,
                true,
                "server2(x), server3(x)",
            ),
        ];
        for (last, surviving, want, text) in cases {
            let g = guarantee(last.as_ref(), surviving);
            assert_eq!(held(&g), want, "{g}");
            assert!(g.to_string().contains(text), "{g}");
        }
    }

    #[test]
    fn the_manager_logs_a_fallback_and_a_recovery_once() {
        let active = master(true, true, WaitPoint::AfterSync, 2);
        let fell = master(true, false, WaitPoint::AfterSync, 0);
        let off = master(false, false, WaitPoint::AfterSync, 0);
        assert!(matches!(
            change(&active, &fell),
            Some(Change::FellBack { clients: 0, .. })
        ));
        assert_eq!(change(&fell, &fell), None);
        assert_eq!(
            change(&fell, &active),
            Some(Change::Recovered { clients: 2 })
        );
        assert_eq!(change(&active, &active), None);
        // Turned off by a DBA: neither a fallback nor a recovery.
        assert_eq!(change(&fell, &off), None);
        assert_eq!(change(&active, &off), None);
    }

    #[test]
    fn what_is_kept_after_a_promotion() {
        let slave = SemiSync {
            slave_enabled: true,
            ..SemiSync::default()
        };
        let none = SemiSync::default();
        let m_on = master(true, true, WaitPoint::AfterSync, 1);
        let r = |n: &str, s: &SemiSync| (n.to_string(), Some(s.clone()));
        let reps = [r("db2", &slave), r("db3", &none)];
        let refs: Vec<(String, Option<&SemiSync>)> =
            reps.iter().map(|(n, s)| (n.clone(), s.as_ref())).collect();
        assert_eq!(
            used(None, &refs),
            Used::Replicas {
                replicas: vec!["db2".into()]
            }
        );
        let plain: Vec<(String, Option<&SemiSync>)> = vec![("db2".into(), Some(&none))];
        assert_eq!(used(Some(&m_on), &plain), Used::Master);
        assert_eq!(used(None, &plain), Used::No);
        assert_eq!(used(Some(&none), &[("db2".into(), None)]), Used::No);

        let settings = m_on.master_settings();
        let k = keep(
            SemiSyncSetting::Auto,
            Used::Master,
            Some(settings.clone()),
            2,
        );
        assert_eq!(k.master_side, Some(settings.clone()));
        assert!(k.replica_side);
        assert_eq!(
            k.to_string(),
            "kept: the master side on the new master (AFTER_SYNC, timeout 10 s), the replica side on its replicas (semi_sync = auto; the master had the master side)"
        );
        let k = keep(SemiSyncSetting::Auto, Used::No, None, 2);
        assert!(!k.enables());
        assert_eq!(
            k.to_string(),
            "not turned on (the cluster did not use it; semi_sync = auto)"
        );
        let k = keep(SemiSyncSetting::On, Used::No, None, 1);
        assert_eq!(k.master_side, Some(MasterSettings::default()));
        // Nobody left to acknowledge: nothing is turned on, and the line says why.
        let k = keep(SemiSyncSetting::On, Used::Master, Some(settings.clone()), 0);
        assert!(!k.enables() && k.lone);
        assert!(
            k.to_string()
                .starts_with("not turned on: the new master has no replica left")
        );
        let k = keep(SemiSyncSetting::Off, Used::Master, Some(settings), 2);
        assert!(!k.enables());
        assert_eq!(k.to_string(), "not changed (semi_sync = off)");
    }

    fn with(state: &mut crate::topology::ServerState, s: SemiSync) {
        state.semi_sync = Some(s);
    }

    #[test]
    fn check_repl_findings() {
        let row = |m: &str| testing::status_row(m, 500, "0-1-5", 0);
        let topo = |m: SemiSync, r2: SemiSync, r3: SemiSync| {
            let mut s1 = testing::state("0-1-5", None);
            let mut s2 = testing::state("0-1-5", Some(row("db1")));
            let mut s3 = testing::state("0-1-5", Some(row("db1")));
            with(&mut s1, m);
            with(&mut s2, r2);
            with(&mut s3, r3);
            Topology {
                servers: vec![
                    testing::observed(0, "db1", Ok(s1)),
                    testing::observed(1, "db2", Ok(s2)),
                    testing::observed(2, "db3", Ok(s3)),
                ],
            }
        };
        let acking = SemiSync {
            slave_enabled: true,
            slave_active: true,
            ..SemiSync::default()
        };
        let problems = |t: &Topology| -> Vec<(String, String)> {
            findings(t, Some(0), 4.0)
                .into_iter()
                .map(|f| {
                    let p = serde_json::to_value(&f.problem).unwrap()["problem"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    (f.server.unwrap_or_default(), p)
                })
                .collect()
        };
        let healthy = topo(
            master(true, true, WaitPoint::AfterSync, 2),
            acking.clone(),
            acking.clone(),
        );
        assert!(problems(&healthy).is_empty());
        let mut short = master(true, true, WaitPoint::AfterSync, 2);
        short.timeout_ms = Some(3000);
        assert_eq!(
            problems(&topo(short, acking.clone(), acking.clone())),
            [("db1(db1:3306)".into(), "semi_sync_timeout_short".into())]
        );
        let off = SemiSync::default();
        assert!(problems(&topo(off.clone(), off.clone(), off.clone())).is_empty());
        let fell = topo(
            master(true, false, WaitPoint::AfterSync, 0),
            acking.clone(),
            acking.clone(),
        );
        assert_eq!(
            problems(&fell),
            [("db1(db1:3306)".into(), "semi_sync_fell_back".into())]
        );
        let after_commit = topo(
            master(true, true, WaitPoint::AfterCommit, 1),
            acking.clone(),
            SemiSync {
                slave_enabled: true,
                ..SemiSync::default()
            },
        );
        assert_eq!(
            problems(&after_commit),
            [
                (
                    "db1(db1:3306)".to_string(),
                    "semi_sync_after_commit".to_string()
                ),
                (
                    "db3(db3:3306)".into(),
                    "semi_sync_replica_not_registered".into()
                )
            ]
        );
        let master_off = topo(off.clone(), acking.clone(), off.clone());
        assert_eq!(
            problems(&master_off),
            [("db1(db1:3306)".into(), "semi_sync_master_side_off".into())]
        );
        let both_on_replica = topo(
            master(true, true, WaitPoint::AfterSync, 0),
            master(true, true, WaitPoint::AfterSync, 0),
            off,
        );
        assert_eq!(
            problems(&both_on_replica),
            [
                (
                    "db2(db2:3306)".to_string(),
                    "semi_sync_master_side_on_replica".to_string()
                ),
                ("db1(db1:3306)".into(), "semi_sync_no_acknowledger".into())
            ]
        );
    }
}
