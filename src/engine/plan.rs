//! The failover plan: which server is the dead master, which replicas take part, who is
//! promoted and what each replica needs, where the dead master's binlog is read from, and
//! what may be lost. A value: `--dry-run` renders it, the real run executes it, and both make
//! it with the same functions. "Will not fail over" is a [`Refusal`] with its reason.

use serde::Serialize;

use super::checks::{self, MasterView};
use super::elect::{self, Ranking};
use super::guard::GuardRefusal;
use crate::config::Config;
use crate::topology::{Flavour, ReplicaStatus, Topology};

/// How the replicas replicate: every one by GTID, or at least one by file and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Gtid,
    FilePos,
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
    #[error("{server}: is not MariaDB: failover supports MariaDB only")]
    NotMariaDb { server: String },
    #[error(
        "{server} does not replicate from the dead master {master}; fix it or set ignore_fail=1"
    )]
    NotReplicating { server: String, master: String },
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

/// Phase 1: the dead master is what the replicas replicate from; every other server must be a
/// working replica of it (MariaDB), or be left out with `ignore_fail`.
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
    for (i, o) in topo.servers.iter().enumerate() {
        if i == dead {
            continue;
        }
        let of_dead = |r: &ReplicaStatus| topo.servers[dead].is_at(&r.master_host, r.master_port);
        match o.alive() {
            Some(s) if s.replica.as_ref().is_some_and(of_dead) => {
                if s.version.flavour != Flavour::MariaDb {
                    return Err(Refusal::NotMariaDb { server: o.name() });
                }
                replicas.push(i);
            }
            _ if config.servers[o.order].ignore_fail => ignored.push(o.name()),
            Some(_) => {
                return Err(Refusal::NotReplicating {
                    server: o.name(),
                    master: topo.servers[dead].name(),
                });
            }
            None => {
                return Err(Refusal::Unreachable {
                    server: o.name(),
                    why: o.state.clone().err().unwrap_or_default(),
                });
            }
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
/// received, so nobody can copy that from its binlog); configuration order breaks ties.
pub fn latest(topo: &Topology, replicas: &[usize]) -> Option<usize> {
    let status = |i: usize| topo.servers[i].alive().and_then(|s| s.replica.as_ref());
    replicas
        .iter()
        .copied()
        .filter(|&i| status(i).is_some_and(|r| r.sql_delay == 0))
        .max_by(|&a, &b| {
            let read = |i| status(i).and_then(|r| r.read_pos.clone());
            read(a)
                .cmp(&read(b))
                .then(topo.servers[b].order.cmp(&topo.servers[a].order))
        })
}

/// The new master ranking for `facts`: the replicas that take part, their relay logs taken
/// as applied (phase 3.1 makes it so), so that the ranking made from phase 1's read predicts
/// the one phase 3.3 makes from what phase 3.1 read.
pub fn rank(facts: &Facts, config: &Config, asked: &Asked) -> Result<Ranking, Refusal> {
    let topo = &facts.topo;
    let forced = forced_block(topo, asked.new_master)?;
    let mut candidates = checks::replica_facts(topo, config, Some(facts.dead));
    for c in &mut candidates {
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
        replicas,
        binlog_sources,
        predicted_loss,
        hooks: vec![],
        ranking,
    })
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
        match &r.needs {
            Needs::Promote {
                catch_up_from,
                lift_delay,
            } => {
                let mut s = format!("Phase 3.4: {}:", r.server);
                if *lift_delay {
                    s.push_str(" lift its MASTER_DELAY,");
                }
                if let Some(from) = catch_up_from {
                    s.push_str(&format!(" catch up from the latest replica {from},"));
                }
                s.push_str(" apply the saved binlog, RESET SLAVE ALL");
                steps.push(s);
            }
            Needs::Follow { delay } => steps.push(format!(
                "Phase 4: {}: replicate from the new master ({}){}",
                r.server,
                match plan.mode {
                    Mode::Gtid => "GTID",
                    Mode::FilePos => "GTID catch-up, then the new master's binlog coordinates",
                },
                match delay {
                    Some(d) => format!(", keeping SQL_Delay={d}, not waited for"),
                    None => String::new(),
                }
            )),
        }
    }
    steps.push("Phase 5 (beside phase 4): SET GLOBAL read_only=0 on the new master, then master_ip_failover_script --command=start".into());
    steps
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
}
