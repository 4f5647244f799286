//! The failover plan: which server is the dead master, which replicas take part, who is
//! promoted and what each replica needs, where the dead master's binlog is read from, and
//! what may be lost. A value: `--dry-run` renders it, the real run executes it, and both make
//! it with the same functions. "Will not fail over" is a [`Refusal`] with its reason.

use serde::Serialize;

use super::checks::{self, MasterView};
use super::elect::{self, Ranking};
use super::guard::GuardRefusal;
use crate::config::Config;
use crate::topology::{BinlogPos, GtidState, MysqlGtidSet, ReplicaStatus, Topology};

/// How the replicas replicate: every one by GTID, or at least one by file and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Gtid,
    FilePos,
}

/// How the failover gives every server what the most advanced one has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// By MariaDB GTIDs: the new master replicates from the latest replica until it has all
    /// of it, the others from the new master. Needs the transactions in those servers'
    /// binlogs (log_slave_updates=ON).
    Gtid,
    /// By master coordinates, as MHA's apply_diff_relay_logs: what each server lacks is cut
    /// out of the latest replica's relay logs (master coordinates after its executed position)
    /// and applied to it, then every replica takes the new master's binlog coordinates. Needs
    /// the relay logs (relay_log_purge=0), not log_slave_updates.
    Positions,
}

/// Why that recovery, in a DBA's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum RecoveryWhy {
    /// `use_gtid_auto_pos = 0` on these servers.
    UseGtidAutoPosOff { servers: Vec<String> },
    /// MySQL servers whose transactions carry no GTID (gtid_mode other than ON).
    MySqlGtidModeOff { servers: Vec<String> },
    /// Every replica replicates by GTID.
    AllGtid,
    /// File/position replication, and no replica is behind the latest one(s).
    NoneBehind,
    /// File/position replication, and a latest replica writes what it replicates to its
    /// binlog: the others can fetch what they lack by GTID.
    LatestLogsReplicated { latest: String },
    /// File/position replication, replicas behind the latest one(s), and no latest replica
    /// writes what it replicates to its binlog (log_slave_updates=OFF): by GTID they could
    /// never get it.
    LatestWithoutLogSlaveUpdates {
        latest: Vec<String>,
        behind: Vec<String>,
    },
    /// check_repl's outlook: file/position replication with replicas that do not write what
    /// they replicate to their binlog: when one of them is the latest and another is behind
    /// at the moment of the failover, recovery goes by positions.
    IfBehindOneOf { servers: Vec<String> },
}

/// The recovery a failover uses, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryChoice {
    pub recovery: Recovery,
    #[serde(flatten)]
    pub why: RecoveryWhy,
}

impl std::fmt::Display for RecoveryChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use RecoveryWhy::*;
        f.write_str(match self.recovery {
            Recovery::Gtid => "by GTID",
            Recovery::Positions => "position-based (relay-log diffs)",
        })?;
        match &self.why {
            UseGtidAutoPosOff { servers } => {
                write!(f, ": use_gtid_auto_pos=0 on {}", servers.join(", "))
            }
            MySqlGtidModeOff { servers } => {
                write!(f, ": MySQL with gtid_mode=OFF on {}", servers.join(", "))
            }
            AllGtid => f.write_str(": every replica replicates by GTID"),
            NoneBehind => f.write_str(": no replica is behind the latest"),
            LatestLogsReplicated { latest } => write!(
                f,
                ": the latest replica {latest} writes what it replicates to its binlog (log_slave_updates=ON)"
            ),
            LatestWithoutLogSlaveUpdates { latest, behind } => write!(
                f,
                ": log_slave_updates=OFF on the latest replica {}, so {} behind it could not catch up by GTID",
                latest.join(", "),
                behind.join(", ")
            ),
            IfBehindOneOf { servers } => write!(
                f,
                " as long as no replica is behind one of {} (log_slave_updates=OFF); position-based (relay-log diffs) if one is when the master dies",
                servers.join(", ")
            ),
        }
    }
}

/// What the recovery rule needs to know about one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryInput {
    pub name: String,
    pub uses_gtid: bool,
    pub use_gtid_auto_pos: bool,
    /// MySQL with gtid_mode other than ON: no GTIDs to recover by.
    pub no_gtids: bool,
    pub read_pos: Option<BinlogPos>,
    pub delayed: bool,
    /// log_bin and log_slave_updates: what it replicates is in its binlog.
    pub logs_replicated: bool,
}

/// The rule that picks the recovery (docs/failover.md, "Position-based recovery"):
///
/// 1. `use_gtid_auto_pos = 0` on any replica taking part: by positions (MHA's meaning: no
///    GTID auto-positioning).
/// 2. A MySQL replica without GTIDs (gtid_mode=OFF): by positions.
/// 3. Every replica replicates by GTID: by GTID.
/// 4. File/position replication: by GTID (MariaDB keeps GTIDs in both modes, MySQL with
///    gtid_mode=ON too) unless some
///    replica is behind the latest one(s) and no latest one writes what it replicates to its
///    binlog: then the GTID route cannot reach the replicas behind, and it goes by positions.
///
/// Delayed replicas neither count as latest nor as behind: they keep their delay.
/// `assume_lag`: check_repl's outlook, for a healthy cluster whose replicas are all at the
/// same position now but may not be when the master dies.
pub fn choose_recovery(replicas: &[RecoveryInput], assume_lag: bool) -> RecoveryChoice {
    let choice = |recovery, why| RecoveryChoice { recovery, why };
    let off: Vec<String> = replicas
        .iter()
        .filter(|r| !r.use_gtid_auto_pos)
        .map(|r| r.name.clone())
        .collect();
    if !off.is_empty() {
        return choice(
            Recovery::Positions,
            RecoveryWhy::UseGtidAutoPosOff { servers: off },
        );
    }
    let no_gtids: Vec<String> = replicas
        .iter()
        .filter(|r| r.no_gtids)
        .map(|r| r.name.clone())
        .collect();
    if !no_gtids.is_empty() {
        return choice(
            Recovery::Positions,
            RecoveryWhy::MySqlGtidModeOff { servers: no_gtids },
        );
    }
    if replicas.iter().all(|r| r.uses_gtid) {
        return choice(Recovery::Gtid, RecoveryWhy::AllGtid);
    }
    let live: Vec<&RecoveryInput> = replicas.iter().filter(|r| !r.delayed).collect();
    if assume_lag {
        let unlogged: Vec<String> = live
            .iter()
            .filter(|r| !r.logs_replicated)
            .map(|r| r.name.clone())
            .collect();
        return if unlogged.is_empty() || live.len() < 2 {
            choice(Recovery::Gtid, RecoveryWhy::NoneBehind)
        } else {
            choice(
                Recovery::Gtid,
                RecoveryWhy::IfBehindOneOf { servers: unlogged },
            )
        };
    }
    let top = live.iter().filter_map(|r| r.read_pos.clone()).max();
    let (latest, behind): (Vec<&&RecoveryInput>, Vec<&&RecoveryInput>) =
        live.iter().partition(|r| r.read_pos == top);
    if behind.is_empty() {
        return choice(Recovery::Gtid, RecoveryWhy::NoneBehind);
    }
    if let Some(l) = latest.iter().find(|r| r.logs_replicated) {
        return choice(
            Recovery::Gtid,
            RecoveryWhy::LatestLogsReplicated {
                latest: l.name.clone(),
            },
        );
    }
    let names = |v: &[&&RecoveryInput]| v.iter().map(|r| r.name.clone()).collect();
    choice(
        Recovery::Positions,
        RecoveryWhy::LatestWithoutLogSlaveUpdates {
            latest: names(&latest),
            behind: names(&behind),
        },
    )
}

/// The recovery rule's inputs for the replicas of `topo` at `indexes`.
pub fn recovery_inputs(topo: &Topology, config: &Config, indexes: &[usize]) -> Vec<RecoveryInput> {
    indexes
        .iter()
        .filter_map(|&i| {
            let o = &topo.servers[i];
            let s = o.alive()?;
            let r = s.replica.as_ref()?;
            Some(RecoveryInput {
                name: o.name(),
                uses_gtid: r.uses_gtid(),
                use_gtid_auto_pos: config.servers[o.order].use_gtid_auto_pos,
                no_gtids: matches!(s.gtid, GtidState::MySql { mode_on: false, .. }),
                read_pos: r.read_pos.clone(),
                delayed: r.sql_delay > 0,
                logs_replicated: s.log_bin && s.log_slave_updates,
            })
        })
        .collect()
}

/// The recovery a failover with `facts` uses.
pub fn recovery(facts: &Facts, config: &Config) -> RecoveryChoice {
    choose_recovery(
        &recovery_inputs(&facts.topo, config, &facts.replicas),
        false,
    )
}

/// Position-based recovery: what one server behind the latest replica gets from the latest
/// replica's relay logs, in master binlog coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffPlan {
    pub server: String,
    /// The relay logs read.
    pub source: String,
    /// The master's events after this coordinate (what the server will have executed)...
    pub after: BinlogPos,
    /// ...up to this one (what the latest replica received).
    pub up_to: BinlogPos,
}

impl std::fmt::Display for DiffPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the master's events after {} up to {} from {}'s relay logs",
            self.after, self.up_to, self.source
        )
    }
}

/// Why `mha` will not fail over (or, `Stale`, will not go on), in a DBA's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// Anti-flapping, a failover already running, or one interrupted.
    #[error("{0}")]
    Guard(GuardRefusal),
    #[error("The master {master} is reachable via MySQL! Stop failover.")]
    MasterAlive { master: String },
    #[error("cannot tell which server is the dead master: {view}")]
    NoDeadMaster { view: String },
    #[error("Detected dead master {detected} does not match with specified dead master {given}!")]
    WrongDeadMaster { detected: String, given: String },
    #[error(
        "{server} does not replicate from the dead master {master}; fix it or set ignore_fail=1"
    )]
    NotReplicating { server: String, master: String },
    #[error(
        "{server} replicates from {parent}, a replica: set multi_tier_slave=1 to leave replicas of replicas alone (as MHA), or ignore_fail=1 on it"
    )]
    SubReplica { server: String, parent: String },
    #[error("{server} is not reachable ({why}); set ignore_fail=1 on it to fail over without it")]
    Unreachable { server: String, why: String },
    #[error("no replica of the dead master is reachable")]
    NoReplica,
    #[error(
        "no binlog server is reachable over SSH: {}. Fix one, or remove the [binlogN] blocks to fail over without them.",
        .failed.join("; ")
    )]
    BinlogServers { failed: Vec<String> },
    #[error("{host} is not a configured server")]
    UnknownNewMaster { host: String },
    #[error("{server} is bad as a new master!")]
    BadNewMaster { server: String },
    #[error(
        "None of existing slaves matches as a new master. Maybe preferred node is misconfigured or all slaves are too far behind."
    )]
    NoCandidate,
    #[error("every replica is delayed (MASTER_DELAY): none has applied what it received")]
    AllDelayed,
    /// MHA's failover lock on a replica stayed held by another session (a relay-log purge
    /// that does not end, or another failover) for as long as the failover waits for it.
    #[error(
        "Getting the failover lock ({lock}) on {server} failed within {secs} s: purge_relay_logs or another failover holds it; nothing was changed"
    )]
    FailoverLockHeld {
        server: String,
        lock: &'static str,
        secs: u64,
    },
    /// The facts changed between the plan and its first irreversible step.
    #[error("the failover plan has gone stale: {what}; nothing was changed")]
    Stale { what: String },
}

/// Phase 1's facts: the cluster as read, the dead master, and the replicas that take part.
#[derive(Debug, Clone)]
pub struct Facts {
    pub topo: Topology,
    /// Index of the dead master in `topo.servers`.
    pub dead: usize,
    /// Indexes of its working replicas.
    pub replicas: Vec<usize>,
    pub mode: Mode,
    /// Servers left out with `ignore_fail=1`, and why.
    pub ignored: Vec<String>,
    /// Replicas of replicas left alone with `multi_tier_slave=1`: (server, its parent).
    pub unmanaged: Vec<(String, String)>,
}

/// What the operator asked for.
#[derive(Debug, Clone, Default)]
pub struct Asked<'a> {
    /// --dead_master_host / --dead_master_port.
    pub dead_master: Option<&'a (String, u16)>,
    /// --new_master_host / --new_master_port.
    pub new_master: Option<&'a (String, Option<u16>)>,
    /// ping_type=INSERT: a dead master may still accept connections.
    pub master_may_answer: bool,
    pub skip_save_master_binlog: bool,
}

/// What phase 1 makes of server `i`: a replica of the dead master, left out, or a refusal.
enum Part {
    Replica,
    /// `ignore_fail=1`.
    Ignored(String),
    /// A replica of a replica with `multi_tier_slave=1`: (server, parent).
    Unmanaged(String, String),
}

fn part(topo: &Topology, config: &Config, dead: usize, i: usize) -> Result<Part, Refusal> {
    let o = &topo.servers[i];
    let of_dead = |r: &ReplicaStatus| topo.servers[dead].is_at(&r.master_host, r.master_port);
    let cfg = &config.servers[o.order];
    let parent = topo
        .sub_replica_parent(o, dead)
        .map(|p| topo.servers[p].name());
    match (o.alive(), parent) {
        (Some(s), _) if s.replica.as_ref().is_some_and(of_dead) => Ok(Part::Replica),
        (Some(_), Some(p)) if cfg.multi_tier_slave => Ok(Part::Unmanaged(o.name(), p)),
        _ if cfg.ignore_fail => Ok(Part::Ignored(o.name())),
        (Some(_), Some(parent)) => Err(Refusal::SubReplica {
            server: o.name(),
            parent,
        }),
        (Some(_), None) => Err(Refusal::NotReplicating {
            server: o.name(),
            master: topo.servers[dead].name(),
        }),
        (None, _) => Err(Refusal::Unreachable {
            server: o.name(),
            why: o.state.clone().err().unwrap_or_default(),
        }),
    }
}

/// Phase 1: the dead master is what the replicas replicate from; every other server must be a
/// working replica of it (MariaDB or MySQL), or be left out with `ignore_fail`.
pub fn facts(topo: Topology, config: &Config, asked: &Asked) -> Result<Facts, Refusal> {
    let dead = match checks::find_master(&topo) {
        MasterView::Unreachable { index } => index,
        MasterView::Alive { index } if asked.master_may_answer => index,
        MasterView::Alive { index } => {
            return Err(Refusal::MasterAlive {
                master: topo.servers[index].name(),
            });
        }
        other => {
            return Err(Refusal::NoDeadMaster {
                view: format!("{other:?}"),
            });
        }
    };
    if let Some((host, port)) = asked.dead_master
        && !topo.servers[dead].is_at(host, *port)
    {
        return Err(Refusal::WrongDeadMaster {
            detected: topo.servers[dead].name(),
            given: format!("{host}:{port}"),
        });
    }
    let mut replicas = Vec::new();
    let mut ignored = Vec::new();
    let mut unmanaged = Vec::new();
    for i in (0..topo.servers.len()).filter(|&i| i != dead) {
        match part(&topo, config, dead, i)? {
            Part::Replica => replicas.push(i),
            Part::Ignored(name) => ignored.push(name),
            Part::Unmanaged(name, parent) => unmanaged.push((name, parent)),
        }
    }
    if replicas.is_empty() {
        return Err(Refusal::NoReplica);
    }
    let all_gtid = replicas.iter().all(|&i| {
        topo.servers[i]
            .alive()
            .and_then(|s| s.replica.as_ref())
            .is_some_and(ReplicaStatus::uses_gtid)
    });
    Ok(Facts {
        topo,
        dead,
        replicas,
        mode: if all_gtid { Mode::Gtid } else { Mode::FilePos },
        ignored,
        unmanaged,
    })
}

/// What one replica needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "needs", rename_all = "snake_case")]
pub enum Needs {
    /// Becomes the new master: first copies what it lacks from the latest replica (when it
    /// is not the latest itself); a delayed one has its delay lifted.
    Promote {
        catch_up_from: Option<String>,
        lift_delay: bool,
    },
    /// Follows the new master (a delayed one keeps its delay and is not waited for).
    Follow { delay: Option<u64> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaStep {
    pub server: String,
    #[serde(flatten)]
    pub needs: Needs,
}

/// A hook the failover runs, with its arguments (secrets are never part of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookPlan {
    pub hook: &'static str,
    pub args: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub dead_master: String,
    /// `block name`, as the ranking shows it.
    pub new_master: String,
    pub new_master_block: String,
    /// The replica that received the most of the dead master's binlog.
    pub latest: String,
    pub mode: Mode,
    /// How every server gets what the most advanced one has, and why.
    pub recovery: RecoveryChoice,
    /// Position-based recovery only: what each server behind the latest replica gets from its
    /// relay logs.
    pub diffs: Vec<DiffPlan>,
    /// Every replica taking part, in configuration order.
    pub replicas: Vec<ReplicaStep>,
    /// Where the dead master's binlog after the latest replica is read from, in order.
    pub binlog_sources: Vec<String>,
    /// What may be lost; None when nothing should be.
    pub predicted_loss: Option<String>,
    pub hooks: Vec<HookPlan>,
    pub ranking: Ranking,
}

/// The server `--new_master_host`/`--new_master_port` names: its block, None when not given.
pub fn forced_block(
    topo: &Topology,
    new_master: Option<&(String, Option<u16>)>,
) -> Result<Option<String>, Refusal> {
    let Some((host, port)) = new_master else {
        return Ok(None);
    };
    topo.servers
        .iter()
        .find(|o| (o.hostname == *host || o.ip == *host) && port.is_none_or(|p| p == o.port))
        .map(|o| Some(o.block.clone()))
        .ok_or_else(|| Refusal::UnknownNewMaster { host: host.clone() })
}

/// The replica that received the most (a delayed one never: it has not applied what it
/// received, so nobody can copy that from its binlog); configuration order breaks ties. On
/// MySQL with GTIDs, among the replicas whose received and executed GTIDs hold every other's
/// (see [`latest_by_gtid`]); by master coordinates when none does.
pub fn latest(topo: &Topology, replicas: &[usize]) -> Option<usize> {
    let status = |i: usize| topo.servers[i].alive().and_then(|s| s.replica.as_ref());
    let undelayed: Vec<usize> = replicas
        .iter()
        .copied()
        .filter(|&i| status(i).is_some_and(|r| r.sql_delay == 0))
        .collect();
    let sets: Option<Vec<(usize, MysqlGtidSet)>> = undelayed
        .iter()
        .map(|&i| Some((i, received_gtids(topo.servers[i].alive()?)?)))
        .collect();
    let pool = sets
        .map(|s| latest_by_gtid(&s))
        .filter(|l| !l.is_empty())
        .unwrap_or(undelayed);
    pool.into_iter().max_by(|&a, &b| {
        let read = |i| status(i).and_then(|r| r.read_pos.clone());
        read(a)
            .cmp(&read(b))
            .then(topo.servers[b].order.cmp(&topo.servers[a].order))
    })
}

/// A MySQL replica's `Retrieved_Gtid_Set` ∪ `Executed_Gtid_Set` (what it has, applied or
/// not); None unless it is a MySQL server with GTIDs that says.
fn received_gtids(s: &crate::topology::ServerState) -> Option<MysqlGtidSet> {
    let GtidState::MySql { mode_on: true, .. } = s.gtid else {
        return None;
    };
    let r = s.replica.as_ref()?;
    let retrieved = MysqlGtidSet::parse(&r.retrieved_gtid_set).ok()?;
    let executed = MysqlGtidSet::parse(&r.executed_gtid_set).ok()?;
    let all = retrieved.union(&executed);
    (!all.is_empty()).then_some(all)
}

/// The replicas (by index) whose GTID set holds every other's: the latest by GTID. Empty
/// when none does (the sets diverged: by GTID nobody is the latest).
pub fn latest_by_gtid(sets: &[(usize, MysqlGtidSet)]) -> Vec<usize> {
    sets.iter()
        .filter(|(_, mine)| sets.iter().all(|(_, other)| mine.contains(other)))
        .map(|(i, _)| *i)
        .collect()
}

/// The new master ranking for `facts`: the replicas that take part, their relay logs taken
/// as applied (phase 3.1 makes it so), so that the ranking made from phase 1's read predicts
/// the one phase 3.3 makes from what phase 3.1 read.
pub fn rank(facts: &Facts, config: &Config, asked: &Asked) -> Result<Ranking, Refusal> {
    let topo = &facts.topo;
    let forced = forced_block(topo, asked.new_master)?;
    let mut candidates = checks::replica_facts(topo, config, Some(facts.dead));
    // Relay-log diffs reach every replica whatever it writes to its binlog: the ranking's
    // log_slave_updates rules (who could catch up from whom by GTID) do not apply.
    let by_positions = recovery(facts, config).recovery == Recovery::Positions;
    for c in &mut candidates {
        if by_positions {
            c.log_slave_updates = true;
        }
        let takes_part = facts
            .replicas
            .iter()
            .any(|&i| topo.servers[i].block == c.block);
        c.alive = c.alive && takes_part;
        if c.sql_delay == 0 && c.read_pos.is_some() {
            c.exec_pos = c.read_pos.clone();
        }
    }
    Ok(elect::rank(&candidates, forced.as_deref()))
}

/// The plan for `facts` and its `ranking` (see [`rank`]). `dead_ssh`: whether the dead
/// master's host answers SSH (None: not known yet).
pub fn plan(
    facts: &Facts,
    config: &Config,
    asked: &Asked,
    ranking: Ranking,
    dead_ssh: Option<bool>,
) -> Result<Plan, Refusal> {
    let topo = &facts.topo;
    let latest = latest(topo, &facts.replicas).ok_or(Refusal::AllDelayed)?;
    let Some(winner) = ranking.winner().cloned() else {
        return Err(match forced_block(topo, asked.new_master)? {
            Some(server) => Refusal::BadNewMaster { server },
            None => Refusal::NoCandidate,
        });
    };
    let read_pos = |i: usize| {
        topo.servers[i]
            .alive()
            .and_then(|s| s.replica.as_ref())
            .and_then(|r| r.read_pos.clone())
    };
    let mut replicas = Vec::new();
    for &i in &facts.replicas {
        let o = &topo.servers[i];
        let delay = o
            .alive()
            .and_then(|s| s.replica.as_ref())
            .map(|r| r.sql_delay)
            .filter(|d| *d > 0);
        let needs = if o.block == winner.block {
            Needs::Promote {
                catch_up_from: (i != latest && read_pos(i) < read_pos(latest))
                    .then(|| topo.servers[latest].name()),
                lift_delay: delay.is_some(),
            }
        } else {
            Needs::Follow { delay }
        };
        replicas.push(ReplicaStep {
            server: o.name(),
            needs,
        });
    }
    let recovery = recovery(facts, config);
    let diffs = match recovery.recovery {
        Recovery::Gtid => vec![],
        Recovery::Positions => diff_plans(facts, latest),
    };
    let dead_name = topo.servers[facts.dead].name();
    let after = read_pos(latest)
        .map(|p| p.to_string())
        .unwrap_or_else(|| "the latest replica's position".into());
    let mut binlog_sources = Vec::new();
    if !asked.skip_save_master_binlog {
        if dead_ssh != Some(false) {
            binlog_sources.push(format!("dead master {dead_name} over SSH"));
        }
        binlog_sources.extend(config.binlog_servers.iter().map(|b| b.label()));
    }
    let predicted_loss = if asked.skip_save_master_binlog {
        Some(format!(
            "events after {after} on the dead master (saving skipped)"
        ))
    } else if dead_ssh != Some(false) {
        None
    } else if !config.binlog_servers.is_empty() {
        Some(format!(
            "what the dead master {dead_name} wrote after the most complete binlog server's last event"
        ))
    } else {
        Some(format!(
            "events on the dead master after {after} would be lost"
        ))
    };
    Ok(Plan {
        dead_master: dead_name,
        new_master: format!("{} {}", winner.block, winner.name),
        new_master_block: winner.block.clone(),
        latest: topo.servers[latest].name(),
        mode: facts.mode,
        recovery,
        diffs,
        replicas,
        binlog_sources,
        predicted_loss,
        hooks: vec![],
        ranking,
    })
}

/// Position-based recovery: every replica (not delayed) that received less than the latest
/// gets the master's events from there on out of the latest replica's relay logs. Phase 3.1
/// applies every relay log first, so a replica will have executed what it received.
fn diff_plans(facts: &Facts, latest: usize) -> Vec<DiffPlan> {
    let topo = &facts.topo;
    let status = |i: usize| topo.servers[i].alive().and_then(|s| s.replica.as_ref());
    let Some(up_to) = status(latest).and_then(|r| r.read_pos.clone()) else {
        return vec![];
    };
    facts
        .replicas
        .iter()
        .filter_map(|&i| {
            let r = status(i).filter(|r| r.sql_delay == 0)?;
            let after = r.read_pos.clone().filter(|p| *p < up_to)?;
            Some(DiffPlan {
                server: topo.servers[i].name(),
                source: topo.servers[latest].name(),
                after,
                up_to: up_to.clone(),
            })
        })
        .collect()
}

/// The plan in steps, MHA's phase numbers first (what `--dry-run` prints).
pub fn render(plan: &Plan, dead_ssh: Option<bool>) -> Vec<String> {
    let mut steps = vec![
        format!(
            "Phase 2: STOP SLAVE IO_THREAD on {} replica(s)",
            plan.replicas.len()
        ),
        format!(
            "Phase 2: SSH to the dead master {}: {}",
            plan.dead_master,
            match dead_ssh {
                Some(true) => "reachable",
                Some(false) => "NOT reachable",
                None => "not asked yet",
            }
        ),
        format!(
            "Phase 3.1: wait until every replica has applied its relay log; the latest is {}",
            plan.latest
        ),
        format!("Recovery: {}", plan.recovery),
    ];
    steps.push(if plan.binlog_sources.is_empty() {
        "Phase 3.2: the dead master's binlog cannot be saved".into()
    } else {
        format!(
            "Phase 3.2: save the dead master's binlog after the latest replica's position from {}",
            plan.binlog_sources.join(", then ")
        )
    });
    if let Some(loss) = &plan.predicted_loss {
        steps.push(format!("  may be lost: {loss}"));
    }
    steps.push(format!("Phase 3.3: promote {}", plan.new_master));
    for r in &plan.replicas {
        steps.push(match &r.needs {
            Needs::Promote {
                catch_up_from,
                lift_delay,
            } => render_promote(plan, r, catch_up_from.as_deref(), *lift_delay),
            Needs::Follow { delay } => render_follow(plan, r, *delay),
        });
    }
    steps.push("Phase 5 (beside phase 4): SET GLOBAL read_only=0 on the new master, then master_ip_failover_script --command=start".into());
    steps
}

/// The diff a server gets, in the plan's words, when position-based recovery gives it one.
fn diff_of<'a>(plan: &'a Plan, server: &str) -> Option<&'a DiffPlan> {
    plan.diffs.iter().find(|d| d.server == server)
}

fn render_promote(
    plan: &Plan,
    r: &ReplicaStep,
    catch_up_from: Option<&str>,
    lift_delay: bool,
) -> String {
    let mut s = format!("Phase 3.4: {}:", r.server);
    if lift_delay {
        s.push_str(" lift its MASTER_DELAY,");
    }
    if let Some(d) = diff_of(plan, &r.server) {
        s.push_str(&format!(" apply {d},"));
    } else if let Some(from) = catch_up_from {
        s.push_str(&format!(" catch up from the latest replica {from},"));
    }
    s.push_str(" apply the saved binlog, RESET SLAVE ALL");
    s
}

fn render_follow(plan: &Plan, r: &ReplicaStep, delay: Option<u64>) -> String {
    let kept = match delay {
        Some(d) => format!(", keeping SQL_Delay={d}, not waited for"),
        None => String::new(),
    };
    if plan.recovery.recovery == Recovery::Positions && delay.is_none() {
        let diff = diff_of(plan, &r.server)
            .map(|d| format!("{d} and "))
            .unwrap_or_default();
        return format!(
            "Phase 4: {}: apply {diff}the saved binlog, then replicate from the new master's binlog coordinates",
            r.server
        );
    }
    format!(
        "Phase 4: {}: replicate from the new master ({}){kept}",
        r.server,
        match plan.mode {
            Mode::Gtid => "GTID",
            Mode::FilePos => "GTID catch-up, then the new master's binlog coordinates",
        },
    )
}

/// Is the plan still true of the replicas as read again just before its first irreversible
/// step? `now` holds, per replica of the plan, where it replicates from (None: no longer a
/// replica); `master_answers`: the dead master accepted a connection again.
pub fn still_current(
    facts: &Facts,
    now: &[(usize, Option<(String, u16)>)],
    master_answers: bool,
) -> Result<(), Refusal> {
    let dead = &facts.topo.servers[facts.dead];
    if master_answers {
        return Err(Refusal::Stale {
            what: format!("the dead master {} accepts connections again", dead.name()),
        });
    }
    for (i, from) in now {
        let name = facts.topo.servers[*i].name();
        match from {
            Some((host, port)) if dead.is_at(host, *port) => {}
            Some((host, port)) => {
                return Err(Refusal::Stale {
                    what: format!("{name} now replicates from {host}:{port}"),
                });
            }
            None => {
                return Err(Refusal::Stale {
                    what: format!("{name} is no longer a replica"),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::testing::{observed, state, status_row};

    const CONF: &str = "[server default]\nuser=mha\npassword=x\nssh_user=root\n\
        [server1]\nhostname=db1\n[server2]\nhostname=db2\n[server3]\nhostname=db3\n";

    /// db1 dead; db2 and db3 replicas with (received position, GTID, SQL_Delay).
    fn cluster(db2: (u64, &str, u64), db3: (u64, &str, u64)) -> Topology {
        let replica = |(pos, gtid, delay): (u64, &str, u64)| {
            Ok(state(gtid, Some(status_row("db1", pos, gtid, delay))))
        };
        Topology {
            servers: vec![
                observed(0, "db1", Err("connection refused".into())),
                observed(1, "db2", replica(db2)),
                observed(2, "db3", replica(db3)),
            ],
        }
    }

    fn planned(topo: Topology, conf: &str, asked: &Asked) -> Result<Plan, Refusal> {
        let config = crate::config::from_text(conf);
        let facts = facts(topo, &config, asked)?;
        let ranking = rank(&facts, &config, asked)?;
        plan(&facts, &config, asked, ranking, Some(false))
    }

    #[test]
    fn the_latest_replica_is_promoted_and_the_others_follow() {
        let p = planned(
            cluster((1000, "0-1-10", 0), (1200, "0-1-12", 0)),
            CONF,
            &Asked::default(),
        )
        .unwrap();
        assert_eq!(p.dead_master, "db1(db1:3306)");
        assert_eq!(p.new_master, "server3 db3(db3:3306)");
        assert_eq!(p.latest, "db3(db3:3306)");
        assert_eq!(p.mode, Mode::Gtid);
        assert_eq!(
            p.replicas
                .iter()
                .map(|r| r.needs.clone())
                .collect::<Vec<_>>(),
            [
                Needs::Follow { delay: None },
                Needs::Promote {
                    catch_up_from: None,
                    lift_delay: false
                }
            ]
        );
        // The host did not answer SSH and no binlog server is configured.
        assert!(p.binlog_sources.is_empty());
        assert_eq!(
            p.predicted_loss.as_deref(),
            Some("events on the dead master after bin.000001:1200 would be lost")
        );
    }

    #[test]
    fn a_forced_new_master_behind_the_latest_catches_up_from_it() {
        let forced = ("db2".to_string(), None);
        let asked = Asked {
            new_master: Some(&forced),
            ..Asked::default()
        };
        let p = planned(
            cluster((1000, "0-1-10", 0), (1200, "0-1-12", 0)),
            CONF,
            &asked,
        )
        .unwrap();
        assert_eq!(p.new_master, "server2 db2(db2:3306)");
        assert_eq!(
            p.replicas[0].needs,
            Needs::Promote {
                catch_up_from: Some("db3(db3:3306)".into()),
                lift_delay: false
            }
        );
        let steps = render(&p, Some(false)).join("\n");
        assert!(
            steps.contains("Phase 3.3: promote server2 db2(db2:3306)"),
            "{steps}"
        );
        assert!(
            steps.contains("catch up from the latest replica db3(db3:3306)"),
            "{steps}"
        );
    }

    #[test]
    fn refusals_with_their_reasons() {
        let topo = || cluster((1000, "0-1-10", 0), (1200, "0-1-12", 0));
        let unknown = ("db9".to_string(), None);
        let cases: Vec<(Topology, String, Asked, Refusal)> = vec![
            (
                topo(),
                CONF.into(),
                Asked {
                    new_master: Some(&unknown),
                    ..Asked::default()
                },
                Refusal::UnknownNewMaster { host: "db9".into() },
            ),
            (
                topo(),
                CONF.replace("hostname=db2", "hostname=db2\nno_master=1")
                    .replace("hostname=db3", "hostname=db3\nno_master=1"),
                Asked::default(),
                Refusal::NoCandidate,
            ),
            (
                cluster((1000, "0-1-10", 3600), (1200, "0-1-12", 3600)),
                CONF.into(),
                Asked::default(),
                Refusal::AllDelayed,
            ),
            (
                {
                    let mut t = topo();
                    t.servers[2].state = Err("timed out".into());
                    t
                },
                CONF.into(),
                Asked::default(),
                Refusal::Unreachable {
                    server: "db3(db3:3306)".into(),
                    why: "timed out".into(),
                },
            ),
            (
                {
                    let mut t = topo();
                    t.servers[0].state = Ok(state("0-1-12", None));
                    t
                },
                CONF.into(),
                Asked::default(),
                Refusal::MasterAlive {
                    master: "db1(db1:3306)".into(),
                },
            ),
        ];
        for (topo, conf, asked, want) in cases {
            assert_eq!(planned(topo, &conf, &asked), Err(want.clone()), "{want}");
        }
    }

    #[test]
    fn multi_tier_slave_leaves_a_replica_of_a_replica_alone() {
        // db3 replicates from db2, a replica of the dead db1.
        let sub = || {
            let mut topo = cluster((1000, "0-1-10", 0), (1000, "0-1-10", 0));
            topo.servers[2].state = Ok(state("0-1-10", Some(status_row("db2", 900, "0-1-10", 0))));
            topo
        };
        let tier = "hostname=db3\nmulti_tier_slave=1";
        type Want = Result<(Vec<usize>, Vec<(String, String)>), Refusal>;
        let cases: Vec<(&str, String, Want)> = vec![
            (
                "multi_tier_slave=1 on the sub-replica: left alone",
                CONF.replace("hostname=db3", tier),
                Ok((
                    vec![1],
                    vec![("db3(db3:3306)".into(), "db2(db2:3306)".into())],
                )),
            ),
            (
                "in [server default]: the same",
                CONF.replace("ssh_user=root", "ssh_user=root\nmulti_tier_slave=1"),
                Ok((
                    vec![1],
                    vec![("db3(db3:3306)".into(), "db2(db2:3306)".into())],
                )),
            ),
            (
                "multi_tier_slave=0: refused, naming the key",
                CONF.to_string(),
                Err(Refusal::SubReplica {
                    server: "db3(db3:3306)".into(),
                    parent: "db2(db2:3306)".into(),
                }),
            ),
        ];
        for (what, conf, want) in cases {
            let config = crate::config::from_text(&conf);
            let got = facts(sub(), &config, &Asked::default()).map(|f| (f.replicas, f.unmanaged));
            assert_eq!(got, want, "{what}");
        }
        let err = Refusal::SubReplica {
            server: "db3".into(),
            parent: "db2".into(),
        };
        assert!(err.to_string().contains("multi_tier_slave=1"), "{err}");
    }

    #[test]
    fn ignore_fail_leaves_an_unreachable_replica_out() {
        let mut topo = cluster((1000, "0-1-10", 0), (1200, "0-1-12", 0));
        topo.servers[2].state = Err("timed out".into());
        let conf = CONF.replace("hostname=db3", "hostname=db3\nignore_fail=1");
        let config = crate::config::from_text(&conf);
        let f = facts(topo, &config, &Asked::default()).unwrap();
        assert_eq!(
            (f.replicas.clone(), f.ignored.clone()),
            (vec![1], vec!["db3(db3:3306)".to_string()])
        );
    }

    #[test]
    fn a_plan_goes_stale_when_a_replica_moves_or_the_master_answers() {
        let config = crate::config::from_text(CONF);
        let f = facts(
            cluster((1000, "0-1-10", 0), (1200, "0-1-12", 0)),
            &config,
            &Asked::default(),
        )
        .unwrap();
        let at = |h: &str| Some((h.to_string(), 3306));
        assert_eq!(
            still_current(&f, &[(1, at("db1")), (2, at("db1"))], false),
            Ok(())
        );
        let stale =
            |now: &[(usize, Option<(String, u16)>)], answers| match still_current(&f, now, answers)
            {
                Err(Refusal::Stale { what }) => what,
                other => panic!("{other:?}"),
            };
        assert_eq!(
            stale(&[(1, at("db1")), (2, at("db2"))], false),
            "db3(db3:3306) now replicates from db2:3306"
        );
        assert_eq!(
            stale(&[(1, None), (2, at("db1"))], false),
            "db2(db2:3306) is no longer a replica"
        );
        assert_eq!(
            stale(&[(1, at("db1")), (2, at("db1"))], true),
            "the dead master db1(db1:3306) accepts connections again"
        );
    }

    fn input(name: &str, gtid: bool, auto_pos: bool, pos: u64, logs: bool) -> RecoveryInput {
        RecoveryInput {
            name: name.into(),
            uses_gtid: gtid,
            use_gtid_auto_pos: auto_pos,
            no_gtids: false,
            read_pos: Some(BinlogPos::new("bin.000001", pos)),
            delayed: false,
            logs_replicated: logs,
        }
    }

    #[test]
    fn the_rule_that_picks_the_recovery() {
        use Recovery::*;
        // (replicas: (name, GTID, use_gtid_auto_pos, read position, log_slave_updates),
        //  assume_lag, recovery, why as text)
        type Case = (Vec<RecoveryInput>, bool, Recovery, &'static str);
        let cases: Vec<Case> = vec![
            (
                vec![
                    input("a", true, true, 9, true),
                    input("b", true, true, 5, false),
                ],
                false,
                Gtid,
                "by GTID: every replica replicates by GTID",
            ),
            // use_gtid_auto_pos=0 forces positions, GTIDs or not.
            (
                vec![
                    input("a", true, false, 9, true),
                    input("b", true, true, 9, true),
                ],
                false,
                Positions,
                "position-based (relay-log diffs): use_gtid_auto_pos=0 on a",
            ),
            // File/position, nobody behind: GTID (nothing to fetch).
            (
                vec![
                    input("a", false, true, 9, false),
                    input("b", false, true, 9, false),
                ],
                false,
                Gtid,
                "by GTID: no replica is behind the latest",
            ),
            // File/position, the latest logs what it replicates: the GTID route works.
            (
                vec![
                    input("a", false, true, 9, true),
                    input("b", false, true, 5, false),
                ],
                false,
                Gtid,
                "by GTID: the latest replica a writes what it replicates to its binlog (log_slave_updates=ON)",
            ),
            // File/position, the latest does not: only relay-log diffs reach b.
            (
                vec![
                    input("a", false, true, 9, false),
                    input("b", false, true, 5, true),
                ],
                false,
                Positions,
                "position-based (relay-log diffs): log_slave_updates=OFF on the latest replica a, so b behind it could not catch up by GTID",
            ),
            // Mixed GTID and file/position replicas count as file/position.
            (
                vec![
                    input("a", true, true, 9, false),
                    input("b", false, true, 5, false),
                ],
                false,
                Positions,
                "position-based (relay-log diffs): log_slave_updates=OFF on the latest replica a, so b behind it could not catch up by GTID",
            ),
            // check_repl's outlook on a healthy file/position cluster.
            (
                vec![
                    input("a", false, true, 9, true),
                    input("b", false, true, 9, false),
                ],
                true,
                Gtid,
                "by GTID as long as no replica is behind one of b (log_slave_updates=OFF); position-based (relay-log diffs) if one is when the master dies",
            ),
            (
                vec![
                    input("a", false, true, 9, true),
                    input("b", false, true, 9, true),
                ],
                true,
                Gtid,
                "by GTID: no replica is behind the latest",
            ),
        ];
        for (inputs, assume_lag, want, text) in cases {
            let c = choose_recovery(&inputs, assume_lag);
            assert_eq!((c.recovery, c.to_string().as_str()), (want, text));
        }
        // MySQL with gtid_mode=OFF: by positions, whatever else holds.
        let mut off = input("b", false, true, 5, true);
        off.no_gtids = true;
        let c = choose_recovery(&[input("a", false, true, 9, true), off], false);
        assert_eq!(
            (c.recovery, c.to_string().as_str()),
            (
                Recovery::Positions,
                "position-based (relay-log diffs): MySQL with gtid_mode=OFF on b"
            )
        );
        // A delayed replica is neither latest nor behind.
        let mut delayed = input("b", false, true, 5, true);
        delayed.delayed = true;
        let c = choose_recovery(&[input("a", false, true, 9, false), delayed], false);
        assert_eq!(c.why, RecoveryWhy::NoneBehind);
    }

    /// db2 received less than db3; neither writes what it replicates to its binlog;
    /// file/position replication.
    fn file_pos_without_log_slave_updates() -> Topology {
        let mut t = cluster((1000, "0-1-10", 0), (1200, "0-1-12", 0));
        for i in [1, 2] {
            if let Ok(s) = &mut t.servers[i].state {
                s.log_slave_updates = false;
                if let Some(r) = &mut s.replica {
                    r.using_gtid = "No".into();
                }
            }
        }
        t
    }

    #[test]
    fn positions_plan_the_diffs_and_ignore_log_slave_updates_in_the_ranking() {
        let p = planned(
            file_pos_without_log_slave_updates(),
            CONF,
            &Asked::default(),
        )
        .unwrap();
        assert_eq!(p.mode, Mode::FilePos);
        assert_eq!(p.recovery.recovery, Recovery::Positions);
        // Without relay-log diffs db2 could never catch up from db3, and db3 would be
        // promoted only as a last resort; with them both are fine, and db3 (latest) wins.
        assert_eq!(p.new_master, "server3 db3(db3:3306)");
        assert!(
            !serde_json::to_string(&p.ranking)
                .unwrap()
                .contains("log_slave_updates"),
            "{:?}",
            p.ranking
        );
        assert_eq!(
            p.diffs,
            [DiffPlan {
                server: "db2(db2:3306)".into(),
                source: "db3(db3:3306)".into(),
                after: BinlogPos::new("bin.000001", 1000),
                up_to: BinlogPos::new("bin.000001", 1200),
            }]
        );
        let steps = render(&p, Some(false)).join("\n");
        for want in [
            "Recovery: position-based (relay-log diffs): log_slave_updates=OFF on the latest replica db3(db3:3306), so db2(db2:3306) behind it",
            "Phase 3.4: db3(db3:3306): apply the saved binlog, RESET SLAVE ALL",
            "Phase 4: db2(db2:3306): apply the master's events after bin.000001:1000 up to bin.000001:1200 from db3(db3:3306)'s relay logs and the saved binlog, then replicate from the new master's binlog coordinates",
        ] {
            assert!(steps.contains(want), "{want}\n{steps}");
        }
        // Forced onto the lagging db2: it gets the diff itself.
        let forced = ("db2".to_string(), None);
        let asked = Asked {
            new_master: Some(&forced),
            ..Asked::default()
        };
        let p = planned(file_pos_without_log_slave_updates(), CONF, &asked).unwrap();
        let steps = render(&p, Some(false)).join("\n");
        assert!(
            steps.contains("Phase 3.4: db2(db2:3306): apply the master's events after bin.000001:1000 up to bin.000001:1200 from db3(db3:3306)'s relay logs, apply the saved binlog"),
            "{steps}"
        );
        assert!(
            steps.contains("Phase 4: db3(db3:3306): apply the saved binlog, then replicate from the new master's binlog coordinates"),
            "{steps}"
        );
    }

    #[test]
    fn use_gtid_auto_pos_0_goes_by_positions_in_a_gtid_cluster() {
        let conf = CONF.replace("ssh_user=root\n", "ssh_user=root\nuse_gtid_auto_pos=0\n");
        let p = planned(
            cluster((1000, "0-1-10", 0), (1200, "0-1-12", 0)),
            &conf,
            &Asked::default(),
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Gtid);
        assert_eq!(p.recovery.recovery, Recovery::Positions);
        assert_eq!(p.diffs.len(), 1);
        // Without it: GTID, no diffs, the plan as before.
        let p = planned(
            cluster((1000, "0-1-10", 0), (1200, "0-1-12", 0)),
            CONF,
            &Asked::default(),
        )
        .unwrap();
        assert_eq!(p.recovery.recovery, Recovery::Gtid);
        assert!(p.diffs.is_empty());
    }

    /// db1 dead; db2 and db3 MySQL 8.0 replicas of it, db3 received more; `executed` empty
    /// for gtid_mode=OFF.
    fn mysql_cluster(executed: [&str; 2], auto_position: bool) -> Topology {
        use crate::topology::testing::{mysql_state, mysql_status_row};
        let replica = |pos: u64, set: &str| {
            Ok(mysql_state(
                set,
                Some(mysql_status_row("db1", pos, set, auto_position)),
            ))
        };
        Topology {
            servers: vec![
                observed(0, "db1", Err("connection refused".into())),
                observed(1, "db2", replica(1000, executed[0])),
                observed(2, "db3", replica(1200, executed[1])),
            ],
        }
    }

    #[test]
    fn mysql_clusters_fail_over_by_gtid_or_by_positions() {
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let (a, b) = (format!("{u}:1-10"), format!("{u}:1-12"));
        // GTIDs and auto-positioning: by GTID, the latest promoted.
        let p = planned(mysql_cluster([&a, &b], true), CONF, &Asked::default()).unwrap();
        assert_eq!(
            (p.mode, p.recovery.recovery, p.new_master.as_str()),
            (Mode::Gtid, Recovery::Gtid, "server3 db3(db3:3306)")
        );
        // gtid_mode=OFF: relay-log diffs, and the plan says why.
        let p = planned(mysql_cluster(["", ""], false), CONF, &Asked::default()).unwrap();
        assert_eq!(
            (p.mode, p.recovery.recovery),
            (Mode::FilePos, Recovery::Positions)
        );
        assert_eq!(
            p.recovery.to_string(),
            "position-based (relay-log diffs): MySQL with gtid_mode=OFF on db2(db2:3306), db3(db3:3306)"
        );
        assert_eq!(p.diffs.len(), 1);
        // use_gtid_auto_pos=0 forces positions on a GTID cluster too.
        let conf = CONF.replace("ssh_user=root\n", "ssh_user=root\nuse_gtid_auto_pos=0\n");
        let p = planned(mysql_cluster([&a, &b], true), &conf, &Asked::default()).unwrap();
        assert_eq!(p.recovery.recovery, Recovery::Positions);
    }

    #[test]
    fn the_latest_mysql_replica_by_gtid_set() {
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let v = "4e11fa47-71ca-11e1-9e33-c80aa9429562";
        let set = |t: &str| MysqlGtidSet::parse(&t.replace('U', u).replace('V', v)).unwrap();
        // (sets per replica, the latest by GTID)
        let cases: Vec<(Vec<&str>, Vec<usize>)> = vec![
            (vec!["U:1-10", "U:1-12"], vec![1]),
            (vec!["U:1-12", "U:1-12"], vec![0, 1]),
            (vec!["U:1-12,V:1", "U:1-12"], vec![0]),
            // Diverged: each has what the other lacks.
            (vec!["U:1-11,V:1", "U:1-12"], vec![]),
            (vec!["U:1-10", "U:1-12:tag:1", "U:1-12"], vec![1]),
        ];
        for (sets, want) in cases {
            let sets: Vec<(usize, MysqlGtidSet)> =
                sets.iter().enumerate().map(|(i, t)| (i, set(t))).collect();
            assert_eq!(latest_by_gtid(&sets), want, "{sets:?}");
        }
        // In the plan: should master coordinates and GTIDs disagree (they should not, for
        // one master's binlog), the GTIDs decide: auto-positioning goes by them.
        let (a, b) = (format!("{u}:1-12"), format!("{u}:1-10"));
        let mut t = mysql_cluster([&a, &b], true);
        for (i, set) in [(1, &a), (2, &format!("{u}:1-13"))] {
            if let Ok(s) = &mut t.servers[i].state
                && let Some(r) = &mut s.replica
            {
                r.retrieved_gtid_set = set.to_string();
                r.read_pos = Some(BinlogPos::new(
                    "bin.000001",
                    if i == 1 { 1500 } else { 1200 },
                ));
            }
        }
        assert_eq!(latest(&t, &[1, 2]), Some(2));
        // Without GTIDs (gtid_mode=OFF): by master coordinates.
        let t = mysql_cluster(["", ""], false);
        assert_eq!(latest(&t, &[1, 2]), Some(2));
    }
}
