//! Phase 1, Configuration Check: everything that can refuse the switch, changing nothing. What
//! it found is the [`Plan`] the later phases carry out (and `--dry-run` prints); each check
//! passed leaves a line in DBA words.

use super::error::{Refusal, SwitchError};
use super::{Done, session};
use crate::config::{Config, ServerConfig};
use crate::engine::checks::{self, MasterView};
use crate::engine::elect::{self, Ranking, Verdict};
use crate::engine::semi_sync::{self, Keep};
use crate::executor::seams::{Db, World};
use crate::sql::ops::Process;
use crate::topology::{ReplicaStatus, SemiSync, Topology};

use super::SwitchOptions;

/// What phase 1 decided: who is who, and the facts the switch relies on.
pub(super) struct Plan {
    pub orig: ServerConfig,
    pub new: ServerConfig,
    /// Every replica but the new master, with its replication status at the check.
    pub others: Vec<(ServerConfig, ReplicaStatus)>,
    /// The new master's replication status at the check (its replication user, its mode).
    pub new_status: ReplicaStatus,
    /// GTID replication (MASTER_USE_GTID=slave_pos), else file/position.
    pub gtid: bool,
    pub ranking: Ranking,
    /// The checks passed, one line each.
    pub checks: Vec<String>,
    /// What semi-sync the new topology gets (`semi_sync`, what the cluster had).
    pub semi_sync: Keep,
    /// The new master's semi-sync master side was already on (then a rollback leaves it).
    pub new_had_master_side: bool,
}

/// Connect to every server, find the master, check its replicas, choose the new master.
pub(super) async fn check(
    w: &impl World,
    config: &Config,
    opts: &SwitchOptions,
) -> Result<Done<Plan>, SwitchError> {
    let topo = w.observe(config, config.app.timeouts.sql, None).await;
    let m = find_orig_master(&topo)?;
    let mut flavours: Vec<&str> = topo
        .servers
        .iter()
        .filter_map(|o| o.alive())
        .map(|s| match s.version.flavour {
            crate::topology::Flavour::MariaDb => "MariaDB",
            crate::topology::Flavour::MySql => "MySQL",
        })
        .collect();
    flavours.sort_unstable();
    flavours.dedup();
    let mut checks = vec![
        format!(
            "all {} configured servers answer SQL and run {}",
            topo.servers.len(),
            flavours.join(" and ")
        ),
        format!("current master: {}", topo.servers[m].name()),
    ];
    let mut others = check_replicas(&topo, m, config, opts.seconds_behind_master, &mut checks)?;
    let orig = config.servers[topo.servers[m].order].clone();
    check_running_updates(w, &orig, opts.running_updates_limit).await?;
    checks.push(format!(
        "no update has been running on the master for {} s or more (--running_updates_limit)",
        opts.running_updates_limit
    ));
    let (new_i, ranking) = choose_new_master(&topo, config, m, opts.new_master.as_ref())?;
    let new = config.servers[topo.servers[new_i].order].clone();
    let new_status = others
        .iter()
        .find(|(s, _)| s.block == new.block)
        .map(|(_, r)| r.clone())
        .ok_or_else(|| Refusal::NoNewMaster {
            reasons: vec![format!(
                "{} does not replicate from the master",
                new.display_name()
            )],
        })?;
    others.retain(|(s, _)| s.block != new.block);
    checks.push(format!(
        "new master: {} ({})",
        new.display_name(),
        winner_reasons(&ranking).join("; ")
    ));
    check_long_queries(w, &new, opts.running_seconds_limit).await?;
    checks.push(format!(
        "no query has been running on the new master for {} s or more (--running_seconds_limit)",
        opts.running_seconds_limit
    ));
    if opts.orig_master_is_new_slave {
        orig_master_filters(&topo, m, &orig, &new_status)?;
    }
    let gtid = new_status.uses_gtid();
    checks.push(format!(
        "replication mode: {}",
        if gtid { "GTID" } else { "file/position" }
    ));
    let replicas_left = others.len() + usize::from(opts.orig_master_is_new_slave);
    let semi_sync = keep_semi_sync(config, &topo, m, replicas_left);
    checks.push(format!("semi-sync: {semi_sync}"));
    let new_had_master_side = topo
        .servers
        .iter()
        .find(|o| o.block == new.block)
        .and_then(|o| o.alive()?.semi_sync.as_ref())
        .is_some_and(|s| s.master_enabled);
    Ok(Done::ok(
        Plan {
            orig,
            new,
            others,
            new_status,
            gtid,
            ranking,
            checks: checks.clone(),
            semi_sync,
            new_had_master_side,
        },
        checks,
    ))
}

/// `--orig_master_is_new_slave`: the old master's own replication filters (what it would apply
/// as a replica) must be the replicas' (the new master's, read from its replica status).
fn orig_master_filters(
    topo: &Topology,
    m: usize,
    orig: &ServerConfig,
    new_status: &ReplicaStatus,
) -> Result<(), Refusal> {
    let Some(own) = topo.servers[m].alive().and_then(|s| s.own_filters.as_ref()) else {
        return Ok(());
    };
    if *own == new_status.filters {
        return Ok(());
    }
    Err(Refusal::OrigMasterFilters {
        orig: orig.display_name(),
        own: own.to_string(),
        replicas: new_status.filters.to_string(),
    })
}

/// What semi-sync the new topology gets: the old master answers, so its own settings say
/// whether the cluster used it, with its replicas' replica side.
fn keep_semi_sync(config: &Config, topo: &Topology, m: usize, replicas_left: usize) -> Keep {
    let master = topo.servers[m].alive().and_then(|s| s.semi_sync.as_ref());
    let replicas: Vec<(String, Option<&SemiSync>)> = topo
        .servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != m)
        .map(|(_, o)| (o.name(), o.alive().and_then(|s| s.semi_sync.as_ref())))
        .collect();
    let used = semi_sync::used(master, &replicas);
    let settings = master
        .filter(|s| s.master_enabled)
        .map(SemiSync::master_settings);
    semi_sync::keep(config.app.semi_sync, used, settings, replicas_left)
}

/// Every server answers and runs MariaDB, and one of them is the master.
fn find_orig_master(topo: &Topology) -> Result<usize, Refusal> {
    let down: Vec<String> = topo
        .servers
        .iter()
        .filter(|o| o.alive().is_none())
        .map(|o| o.name())
        .collect();
    if !down.is_empty() {
        return Err(Refusal::ServersDown(down));
    }
    match checks::find_master(topo) {
        MasterView::Alive { index } => Ok(index),
        _ => Err(Refusal::NoMaster),
    }
}

/// Every replica replicates from the master, both threads running, lag within the limit.
/// A server that replicates from nobody (an old master left detached) is not touched.
fn check_replicas(
    topo: &Topology,
    m: usize,
    config: &Config,
    lag_limit: u64,
    checks: &mut Vec<String>,
) -> Result<Vec<(ServerConfig, ReplicaStatus)>, Refusal> {
    let mut replicas = Vec::new();
    for (i, o) in topo.servers.iter().enumerate() {
        let Some(r) = o.alive().and_then(|s| s.replica.as_ref()) else {
            continue;
        };
        if i == m {
            continue;
        }
        if let Some(p) = topo.sub_replica_parent(o, m)
            && config.servers[o.order].multi_tier_slave
        {
            if topo.servers[p].writable() {
                return Err(Refusal::WritableIntermediate {
                    replica: o.name(),
                    parent: topo.servers[p].name(),
                });
            }
            let line = format!(
                "{} replicates from {}: left alone (multi_tier_slave=1)",
                o.name(),
                topo.servers[p].name()
            );
            tracing::info!("{line}");
            checks.push(line);
            continue;
        }
        if !topo.servers[m].is_at(&r.master_host, r.master_port) {
            return Err(Refusal::ReplicatesElsewhere {
                replica: o.name(),
                master_host: r.master_host.clone(),
                master_port: r.master_port,
            });
        }
        if !r.io_running() {
            return Err(Refusal::IoThreadStopped(o.name()));
        }
        if !r.sql_running() {
            return Err(Refusal::SqlThreadStopped(o.name()));
        }
        match r.seconds_behind_master {
            Some(lag) if lag <= lag_limit => checks.push(format!(
                "{}: replicates from the master, IO and SQL threads running, {lag} s behind (limit {lag_limit} s)",
                o.name()
            )),
            lag => {
                return Err(Refusal::Lagging {
                    replica: o.name(),
                    lag,
                    limit: lag_limit,
                });
            }
        }
        replicas.push((config.servers[o.order].clone(), r.clone()));
    }
    Ok(replicas)
}

/// MHA: updates running on the master for `limit` seconds or more hold up the write lock.
async fn check_running_updates(
    w: &impl World,
    orig: &ServerConfig,
    limit: u64,
) -> Result<(), SwitchError> {
    let mut db = session(w, orig).await?;
    let processes = db.processlist().await?;
    db.disconnect().await;
    let updates = long_updates(processes, limit);
    if updates.is_empty() {
        Ok(())
    } else {
        Err(Refusal::LongUpdates { limit, updates }.into())
    }
}

/// Up to ten client sessions that have been running a statement that may write for `limit`
/// seconds or more, described for the refusal.
fn long_updates(processes: Vec<Process>, limit: u64) -> Vec<String> {
    const NOT_CLIENTS: [&str; 7] = [
        "Sleep",
        "Binlog Dump",
        "Binlog Dump GTID",
        "Daemon",
        "Connect",
        "Slave_IO",
        "Slave_SQL",
    ];
    processes
        .into_iter()
        .filter(|p| {
            !NOT_CLIENTS.contains(&p.command.as_str())
                && p.user != "system user"
                && p.may_write()
                && p.seconds() >= limit
        })
        .take(10)
        .map(|p| {
            let statement: String = p.info.unwrap_or_default().chars().take(80).collect();
            format!(
                "id {} user {} running {} s: {statement}",
                p.id, p.user, p.time
            )
        })
        .collect()
}

/// The new master: forced with `--new_master_host`, or MHA's choice with every replica
/// counted as latest and the delay rule off (MHA's online rule).
fn choose_new_master(
    topo: &Topology,
    config: &Config,
    m: usize,
    forced: Option<&(String, Option<u16>)>,
) -> Result<(usize, Ranking), Refusal> {
    let mut facts = checks::replica_facts(topo, config, Some(m));
    let latest = facts.iter().filter_map(|f| f.read_pos.clone()).max();
    for f in &mut facts {
        f.check_repl_delay = false;
        f.read_pos = latest.clone();
    }
    let forced = match forced {
        Some((h, p)) => Some(
            topo.servers
                .iter()
                .find(|o| (o.hostname == *h || o.ip == *h) && p.is_none_or(|p| p == o.port))
                .map(|o| o.block.clone())
                .ok_or_else(|| Refusal::UnknownNewMaster(h.clone()))?,
        ),
        None => None,
    };
    let ranking = elect::rank(&facts, forced.as_deref());
    let Some(w) = ranking.winner() else {
        return Err(Refusal::NoNewMaster {
            reasons: not_eligible(&ranking, forced.as_deref()),
        });
    };
    let i = topo
        .servers
        .iter()
        .position(|o| o.block == w.block)
        .ok_or_else(|| Refusal::NoNewMaster {
            reasons: vec![format!("{} is not configured", w.block)],
        })?;
    Ok((i, ranking))
}

/// Why no server could be chosen: the forced one's reasons, or every server's.
fn not_eligible(ranking: &Ranking, forced: Option<&str>) -> Vec<String> {
    ranking
        .servers
        .iter()
        .filter(|s| forced.is_none_or(|f| f == s.block))
        .filter_map(|s| match &s.verdict {
            Verdict::Ineligible { reasons } => Some(format!(
                "{} {}: {}",
                s.block,
                s.name,
                reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            Verdict::Eligible { .. } => None,
        })
        .collect()
}

/// Why the winner of a ranking was chosen.
pub(super) fn winner_reasons(ranking: &Ranking) -> Vec<String> {
    match ranking.winner().map(|w| &w.verdict) {
        Some(Verdict::Eligible { reasons, .. }) => {
            reasons.iter().map(ToString::to_string).collect()
        }
        _ => vec![],
    }
}

/// MHA: a query running on the new master for `limit` seconds or more refuses the switch.
async fn check_long_queries(
    w: &impl World,
    new: &ServerConfig,
    limit: u64,
) -> Result<(), SwitchError> {
    let mut db = session(w, new).await?;
    let processes = db.processlist().await?;
    db.disconnect().await;
    match processes
        .into_iter()
        .find(|p| p.command == "Query" && p.user != "system user" && p.seconds() >= limit)
    {
        Some(p) => Err(Refusal::LongQueryOnNewMaster {
            limit,
            query: p.info,
        }
        .into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(command: &str, user: &str, time: u64, info: Option<&str>) -> Process {
        Process {
            id: "7".into(),
            user: user.into(),
            command: command.into(),
            time: time.to_string(),
            info: info.map(String::from),
        }
    }

    #[test]
    fn only_client_updates_at_or_over_the_limit_hold_up_the_switch() {
        let long_insert = "INSERT INTO t SELECT SLEEP(4)";
        let cases: Vec<(Process, bool)> = vec![
            (process("Query", "app", 2, Some(long_insert)), true),
            (process("Query", "app", 1, Some(long_insert)), false),
            (process("Query", "app", 9, Some("select sleep(9)")), false),
            (
                process("Query", "app", 9, Some("  show processlist")),
                false,
            ),
            (process("Query", "system user", 9, Some(long_insert)), false),
            (
                process("Binlog Dump GTID", "repl", 900, Some(long_insert)),
                false,
            ),
            (process("Sleep", "app", 900, None), false),
            (process("Query", "app", 9, None), false),
        ];
        for (p, held) in cases {
            let found = long_updates(vec![p.clone()], 2);
            assert_eq!(!found.is_empty(), held, "{p:?}");
        }
        let found = long_updates(vec![process("Query", "app", 3, Some(long_insert))], 2);
        assert_eq!(found, [format!("id 7 user app running 3 s: {long_insert}")]);
        let many = vec![process("Query", "app", 5, Some("UPDATE t SET a = 1")); 12];
        assert_eq!(long_updates(many, 1).len(), 10, "at most ten are listed");
    }
}
