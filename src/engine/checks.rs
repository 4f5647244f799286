//! check_repl's verdict: which server is the master, what is wrong, and who would be promoted.

use serde::Serialize;

use super::elect::{self, Ranking, ReplicaFacts};
use super::plan::{Recovery, RecoveryChoice, RecoveryWhy, choose_recovery, recovery_inputs};
use super::reason::{Finding, Problem, Severity};
use crate::config::Config;
use crate::topology::{GtidState, Observed, ServerState, Topology};

#[derive(Debug, Clone, PartialEq)]
pub struct CheckOptions {
    /// --seconds_behind_master.
    pub seconds_behind_master: u64,
    /// ping_interval × ping_failures: how fast a dead master should be confirmed.
    pub detection_window: f64,
    /// MHA's --ignore_fail_on_start: a down replica with ignore_fail=1 is only a warning.
    pub ignore_fail_on_start: bool,
}

/// Which server is the master.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MasterView {
    /// Reachable, not replicating, writable or the only non-replica.
    Alive {
        index: usize,
    },
    /// The replicas point at this configured server, which does not answer.
    Unreachable {
        index: usize,
    },
    None,
    Several {
        indexes: Vec<usize>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub master: MasterView,
    pub findings: Vec<Finding>,
    pub ranking: Ranking,
    /// The recovery a failover of the master would use (None without a master and replicas).
    pub recovery: Option<RecoveryChoice>,
}

impl Assessment {
    /// MHA's "MySQL Replication Health is OK." iff no error-level finding.
    pub fn healthy(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    pub fn master_index(&self) -> Option<usize> {
        match self.master {
            MasterView::Alive { index } | MasterView::Unreachable { index } => Some(index),
            _ => None,
        }
    }
}

/// Identify the master: the one reachable server that is not a replica; or, when every
/// server is a replica (master-master), the writable one the others replicate from; or the
/// configured server the replicas point at when it does not answer.
pub fn find_master(topo: &Topology) -> MasterView {
    let non_replicas: Vec<usize> = topo
        .servers
        .iter()
        .enumerate()
        .filter(|(_, o)| o.alive().is_some_and(|s| s.replica.is_none()))
        .map(|(i, _)| i)
        .collect();
    match non_replicas.len() {
        1 => {
            return MasterView::Alive {
                index: non_replicas[0],
            };
        }
        n if n > 1 => {
            // A read-only server that replicates from nobody (an old master left out of a
            // switchover) does not compete with the one writable master.
            let writable: Vec<usize> = non_replicas
                .iter()
                .copied()
                .filter(|&i| topo.servers[i].writable())
                .collect();
            return match writable.as_slice() {
                [one] => MasterView::Alive { index: *one },
                _ => MasterView::Several {
                    indexes: non_replicas,
                },
            };
        }
        _ => {}
    }
    // The configured server most replicas point at, through read-only intermediate replicas
    // (a replica of a replica counts for its parent's master: multi_tier_slave).
    let mut votes = vec![0usize; topo.servers.len()];
    for o in &topo.servers {
        if let Some(i) = topo.source_of(o) {
            votes[top_of_chain(topo, i)] += 1;
        }
    }
    // A tie (a pair alone, each the other's replica) goes to the writable one.
    let writable = |i: usize| topo.servers[i].writable();
    match votes
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0)
        .max_by_key(|(i, v)| (**v, writable(*i)))
    {
        Some((i, _)) => match topo.servers[i].alive() {
            None => MasterView::Unreachable { index: i },
            Some(s) if !s.read_only => match writable_peer(topo, i) {
                // MHA: in a master-master pair only one may take writes.
                Some(peer) => MasterView::Several {
                    indexes: vec![i, peer],
                },
                None => MasterView::Alive { index: i },
            },
            Some(_) => MasterView::None,
        },
        None => MasterView::None,
    }
}

/// The server master `i` itself replicates from (its master-master peer), when that one is
/// writable too.
fn writable_peer(topo: &Topology, i: usize) -> Option<usize> {
    let peer = topo.source_of(&topo.servers[i])?;
    (peer != i && topo.servers[peer].writable()).then_some(peer)
}

/// From server `i` up through read-only replicas of configured servers to the server at the
/// top (a writable replica is one side of a master-master pair and stays a top).
fn top_of_chain(topo: &Topology, mut i: usize) -> usize {
    for _ in 0..topo.servers.len() {
        let o = &topo.servers[i];
        match topo.source_of(o) {
            Some(up) if o.alive().is_some_and(|s| s.read_only) => i = up,
            _ => break,
        }
    }
    i
}

fn errant(replica: &ServerState, master: &ServerState) -> Option<String> {
    match (&replica.gtid, &master.gtid) {
        (GtidState::MariaDb { binlog_pos: r, .. }, GtidState::MariaDb { binlog_pos: m, .. }) => {
            // The master's own stream on a replica can only be replication progress (the two
            // servers are read at slightly different moments); errant writes carry another
            // server_id.
            let mut e = r.ahead_of(m);
            e.0.retain(|(_, server_id), _| *server_id != master.server_id);
            (!e.is_empty()).then(|| e.to_string())
        }
        (GtidState::MySql { executed: r, .. }, GtidState::MySql { executed: m, .. }) => {
            let e = r.minus(m);
            (!e.is_empty()).then(|| e.to_string())
        }
        _ => None,
    }
}

/// Errant GTIDs of a replica when the master cannot be asked (it is dead): what the replica
/// has binlogged that no other replica has, apart from the master's own stream (which the
/// most advanced replica may alone have received).
fn errant_among_replicas(
    replica: &ServerState,
    others: &[&ServerState],
    master_server_id: Option<u32>,
) -> Option<String> {
    if let GtidState::MySql { executed, .. } = &replica.gtid {
        return mysql_errant_among_replicas(replica, executed, others);
    }
    let GtidState::MariaDb { binlog_pos: r, .. } = &replica.gtid else {
        return None;
    };
    let master_server_id = master_server_id?;
    if others.is_empty() {
        // Nothing to compare with: a previous master's stream would look errant.
        return None;
    }
    let union = others
        .iter()
        .filter_map(|o| match &o.gtid {
            GtidState::MariaDb { binlog_pos, .. } => Some(binlog_pos.clone()),
            _ => None,
        })
        .fold(crate::topology::MariaGtidPos::default(), |acc, p| {
            acc.union(&p)
        });
    let mut e = r.ahead_of(&union);
    e.0.retain(|(_, server_id), _| *server_id != master_server_id);
    (!e.is_empty()).then(|| e.to_string())
}

/// [`errant_among_replicas`] on MySQL: what the replica executed that no other replica has,
/// apart from the master's own transactions (its `Master_UUID`, which the most advanced
/// replica may alone have received), as orchestrator reads errant GTIDs.
fn mysql_errant_among_replicas(
    replica: &ServerState,
    executed: &crate::topology::MysqlGtidSet,
    others: &[&ServerState],
) -> Option<String> {
    let master_uuid = replica.replica.as_ref()?.master_uuid.to_ascii_lowercase();
    if master_uuid.is_empty() || others.is_empty() {
        return None;
    }
    let union = others
        .iter()
        .filter_map(|o| match &o.gtid {
            GtidState::MySql { executed, .. } => Some(executed.clone()),
            _ => None,
        })
        .fold(crate::topology::MysqlGtidSet::default(), |acc, s| {
            acc.union(&s)
        });
    let mut e = executed.minus(&union);
    e.0.retain(|(uuid, _), _| *uuid != master_uuid);
    (!e.is_empty()).then(|| e.to_string())
}

/// The election's view of every server except the master.
pub fn replica_facts(topo: &Topology, config: &Config, master: Option<usize>) -> Vec<ReplicaFacts> {
    let master_obs = master.map(|i| &topo.servers[i]);
    let master_state = master_obs.and_then(Observed::alive);
    // A dead master: its server_id as its replicas saw it, and the replicas to compare with.
    let replicas_of_master: Vec<&ServerState> = topo
        .servers
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != master)
        .filter_map(|(_, o)| o.alive())
        .filter(|s| {
            s.replica
                .as_ref()
                .is_some_and(|r| master_obs.is_some_and(|m| m.is_at(&r.master_host, r.master_port)))
        })
        .collect();
    let dead_master_id = replicas_of_master
        .iter()
        .find_map(|s| s.replica.as_ref().and_then(|r| r.master_server_id));
    topo.servers
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != master)
        .map(|(_, o)| {
            let cfg = &config.servers[o.order];
            let s = o.alive();
            let r = s.and_then(|s| s.replica.as_ref());
            ReplicaFacts {
                block: o.block.clone(),
                name: o.name(),
                order: o.order,
                alive: s.is_some(),
                replicates_from_master: match (r, master_obs) {
                    (Some(r), Some(m)) => m.is_at(&r.master_host, r.master_port),
                    _ => false,
                },
                candidate_master: cfg.candidate_master,
                no_master: cfg.no_master,
                check_repl_delay: cfg.check_repl_delay,
                latest_priority: cfg.latest_priority,
                log_bin: s.is_some_and(|s| s.log_bin),
                log_slave_updates: s.is_some_and(|s| s.log_slave_updates),
                series: s.map(|s| s.version.series()).unwrap_or_default(),
                version: s.map(|s| s.version.text.clone()).unwrap_or_default(),
                read_pos: r.and_then(|r| r.read_pos.clone()),
                exec_pos: r.and_then(|r| r.exec_pos.clone()),
                sql_delay: r.map(|r| r.sql_delay).unwrap_or(0),
                errant: match (s, master_state) {
                    (Some(s), Some(m)) => errant(s, m),
                    (Some(s), None) if master.is_some() => {
                        let others: Vec<&ServerState> = replicas_of_master
                            .iter()
                            .copied()
                            .filter(|o| !std::ptr::eq(*o, s))
                            .collect();
                        errant_among_replicas(s, &others, dead_master_id)
                    }
                    _ => None,
                },
            }
        })
        .collect()
}

/// What is wrong with replica `o` replicating from somewhere other than the master `m`:
/// a replica of a configured replica is only information with `multi_tier_slave=1` (as MHA),
/// unless that intermediate replica is writable (MHA refuses then too).
fn off_master(
    topo: &Topology,
    o: &Observed,
    m: &Observed,
    multi_tier: bool,
) -> (Severity, Problem) {
    match topo.source_of(o).map(|p| &topo.servers[p]) {
        Some(p) if !std::ptr::eq(p, m) && multi_tier && p.writable() => (
            Severity::Error,
            Problem::WritableIntermediate { parent: p.name() },
        ),
        Some(p) if !std::ptr::eq(p, m) && multi_tier => {
            (Severity::Info, Problem::SubReplica { parent: p.name() })
        }
        Some(p) if !std::ptr::eq(p, m) => (
            Severity::Error,
            Problem::SubReplicaRefused {
                parent: p.name(),
                master: m.name(),
            },
        ),
        _ => {
            let r = o.alive().and_then(|s| s.replica.as_ref());
            let from = r
                .map(|r| format!("{}:{}", r.master_host, r.master_port))
                .unwrap_or_default();
            (
                Severity::Error,
                Problem::ReplicatesFromElsewhere {
                    from,
                    master: m.name(),
                },
            )
        }
    }
}

pub fn assess(topo: &Topology, config: &Config, opts: &CheckOptions) -> Assessment {
    let mut f: Vec<Finding> = Vec::new();
    let mut add =
        |sev, o: Option<&Observed>, p| f.push(Finding::new(sev, o.map(Observed::name), p));
    let mut versions: Vec<String> = topo
        .servers
        .iter()
        .filter_map(Observed::alive)
        .filter(|s| s.version.flavour == crate::topology::Flavour::MySql)
        .map(|s| s.version.text.clone())
        .collect();
    versions.sort();
    versions.dedup();
    if !versions.is_empty() {
        add(Severity::Info, None, Problem::MySqlNotRunLive { versions });
    }
    let master = find_master(topo);
    let m_idx = match &master {
        MasterView::Alive { index } => Some(*index),
        MasterView::Unreachable { index } => {
            let reason = topo.servers[*index].state.clone().err().unwrap_or_default();
            add(
                Severity::Error,
                Some(&topo.servers[*index]),
                Problem::MasterUnreachable { reason },
            );
            Some(*index)
        }
        MasterView::None if topo.servers.iter().all(|o| o.alive().is_none()) => {
            add(Severity::Error, None, Problem::NothingReachable);
            None
        }
        MasterView::None => {
            add(Severity::Error, None, Problem::NoMaster);
            None
        }
        MasterView::Several { indexes } => {
            let masters = indexes.iter().map(|&i| topo.servers[i].name()).collect();
            add(Severity::Error, None, Problem::SeveralMasters { masters });
            None
        }
    };
    let m_obs = m_idx.map(|i| &topo.servers[i]);
    let m_state = m_obs.and_then(Observed::alive);

    // Server ids must be unique across every reachable server.
    for (i, a) in topo.servers.iter().enumerate() {
        if let Some(sa) = a.alive()
            && let Some(b) = topo.servers[..i]
                .iter()
                .find(|b| b.alive().is_some_and(|sb| sb.server_id == sa.server_id))
        {
            add(
                Severity::Error,
                Some(a),
                Problem::DuplicateServerId {
                    server_id: sa.server_id,
                    also: b.name(),
                },
            );
        }
    }

    let recovery = recovery_outlook(topo, config, m_obs);
    // Relay-log diffs need the relay logs a failover finds on the replicas.
    let needs_relay_logs = recovery.as_ref().is_some_and(|c| {
        c.recovery == Recovery::Positions || matches!(c.why, RecoveryWhy::IfBehindOneOf { .. })
    });
    let mut replicating = 0;
    let mut first_filters: Option<(&Observed, &crate::topology::ReplicationFilters)> = None;
    let mut gtid_users = (0, 0);
    for (i, o) in topo.servers.iter().enumerate() {
        if Some(i) == m_idx {
            continue;
        }
        let cfg = &config.servers[o.order];
        let Some(s) = o.alive() else {
            let reason = o.state.clone().err().unwrap_or_default();
            let sev = if cfg.ignore_fail && opts.ignore_fail_on_start {
                Severity::Warning
            } else {
                Severity::Error
            };
            add(sev, Some(o), Problem::Unreachable { reason });
            continue;
        };
        let Some(r) = &s.replica else {
            if matches!(master, MasterView::Alive { .. }) {
                add(Severity::Warning, Some(o), Problem::Detached);
            }
            continue; // otherwise reported as one of several masters
        };
        if let Some(m) = m_obs
            && !m.is_at(&r.master_host, r.master_port)
        {
            let (sev, problem) = off_master(topo, o, m, cfg.multi_tier_slave);
            add(sev, Some(o), problem);
            continue;
        }
        replicating += 1;
        if !r.io_running() && m_state.is_some() {
            add(
                Severity::Error,
                Some(o),
                Problem::IoThreadStopped {
                    state: r.io_running.to_string(),
                    error: r.last_io_error.clone(),
                },
            );
        }
        if !r.sql_running() {
            add(
                Severity::Error,
                Some(o),
                Problem::SqlThreadStopped {
                    state: r.sql_running.to_string(),
                    error: r.last_sql_error.clone(),
                },
            );
        }
        match r.seconds_behind_master {
            Some(sec) if sec > opts.seconds_behind_master + r.sql_delay => add(
                Severity::Error,
                Some(o),
                Problem::Lagging {
                    seconds: sec,
                    limit: opts.seconds_behind_master,
                },
            ),
            None if r.io_running() && r.sql_running() => {
                add(Severity::Warning, Some(o), Problem::LagUnknown)
            }
            _ => {}
        }
        if !s.read_only {
            add(Severity::Error, Some(o), Problem::WritableReplica);
        } else if s.super_read_only == Some(false) {
            add(Severity::Warning, Some(o), Problem::SuperReadOnlyOff);
        }
        if !s.log_bin && !cfg.no_master {
            add(Severity::Warning, Some(o), Problem::BinlogOff);
        } else if s.log_bin && !s.log_slave_updates && !cfg.no_master {
            add(Severity::Warning, Some(o), Problem::LogSlaveUpdatesOff);
        }
        if let Some(m) = m_state {
            if !s.binlog_format.is_empty()
                && !m.binlog_format.is_empty()
                && s.binlog_format != m.binlog_format
            {
                add(
                    Severity::Warning,
                    Some(o),
                    Problem::BinlogFormatDiffers {
                        format: s.binlog_format.clone(),
                        master_format: m.binlog_format.clone(),
                    },
                );
            }
            if cfg.check_repl_filter
                && s.log_bin
                && (s.binlog_do_db != m.binlog_do_db || s.binlog_ignore_db != m.binlog_ignore_db)
            {
                add(
                    Severity::Error,
                    Some(o),
                    Problem::BinlogFiltersDiffer {
                        master: m_obs.map(Observed::name).unwrap_or_default(),
                    },
                );
            }
            if let Some(g) = errant(s, m) {
                add(Severity::Error, Some(o), Problem::ErrantGtids { gtids: g });
            }
        }
        if cfg.check_repl_filter {
            match first_filters {
                None => first_filters = Some((o, &r.filters)),
                Some((first, filters)) if *filters != r.filters => add(
                    Severity::Error,
                    Some(o),
                    Problem::ReplicationFiltersDiffer {
                        first: first.name(),
                    },
                ),
                _ => {}
            }
        }
        if r.uses_gtid() {
            gtid_users.0 += 1;
        } else {
            gtid_users.1 += 1;
        }
        if s.relay_log_purge && needs_relay_logs {
            add(
                Severity::Warning,
                Some(o),
                Problem::RelayLogPurgeOn { mariadb: false },
            );
        } else if !r.uses_gtid() && s.relay_log_purge {
            // MHA's relay-log diff needed the relay logs; mha's MariaDB recovery goes
            // through GTIDs and binlogs unless it goes by positions (above), so there it is
            // only a note.
            let mariadb = s.version.flavour == crate::topology::Flavour::MariaDb;
            let severity = if mariadb {
                Severity::Info
            } else {
                Severity::Warning
            };
            add(severity, Some(o), Problem::RelayLogPurgeOn { mariadb });
        }
        if r.sql_delay > 0 {
            add(
                Severity::Warning,
                Some(o),
                Problem::Delayed {
                    seconds: r.sql_delay,
                },
            );
        }
        // A note, not a warning: the replicas' hosts answer for the master over SSH, so the
        // heartbeat only matters where they cannot be asked (the detection cost says when).
        match s.heartbeat_period {
            Some(0.0) => add(Severity::Info, Some(o), Problem::NoHeartbeat),
            Some(p) if p > opts.detection_window => add(
                Severity::Info,
                Some(o),
                Problem::HeartbeatTooLong {
                    period: p,
                    window: opts.detection_window,
                },
            ),
            _ => {}
        }
        if s.repl_user_ok == Some(false) && !cfg.no_master {
            let user = config.servers[o.order]
                .repl_user
                .clone()
                .unwrap_or_else(|| r.master_user.clone());
            add(Severity::Error, Some(o), Problem::ReplUserMissing { user });
        }
    }
    if gtid_users.0 > 0 && gtid_users.1 > 0 {
        add(Severity::Warning, None, Problem::GtidModeMixed);
    }
    if m_idx.is_some() && replicating == 0 {
        add(Severity::Error, None, Problem::NoReplica);
    }
    if let (Some(m), Some(o)) = (m_state, m_obs) {
        if m.repl_user_ok == Some(false) {
            let user = config.servers[o.order]
                .repl_user
                .clone()
                .unwrap_or_default();
            add(Severity::Error, Some(o), Problem::ReplUserMissing { user });
        }
        let oldest = topo
            .servers
            .iter()
            .filter(|x| x.order != o.order)
            .filter_map(|x| x.alive())
            .min_by_key(|s| s.version.series());
        if let Some(old) = oldest
            && m.version.series() > old.version.series()
        {
            add(
                Severity::Warning,
                Some(o),
                Problem::NewerThanReplicas {
                    version: m.version.text.clone(),
                    oldest: old.version.text.clone(),
                },
            );
        }
    }

    f.extend(super::semi_sync::findings(
        topo,
        m_idx,
        opts.detection_window,
    ));
    let ranking = elect::rank(&replica_facts(topo, config, m_idx), None);
    if m_idx.is_some() && replicating > 0 && ranking.winner().is_none() {
        f.push(Finding::new(Severity::Error, None, Problem::NoCandidate));
    }
    Assessment {
        master,
        findings: f,
        ranking,
        recovery,
    }
}

/// The recovery a failover of the master `m` would use, as far as can be told while the
/// replicas are healthy (see [`choose_recovery`]'s `assume_lag`).
fn recovery_outlook(
    topo: &Topology,
    config: &Config,
    m: Option<&Observed>,
) -> Option<RecoveryChoice> {
    let m = m?;
    let replicas: Vec<usize> = topo
        .servers
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            o.alive()
                .and_then(|s| s.replica.as_ref())
                .is_some_and(|r| m.is_at(&r.master_host, r.master_port))
        })
        .map(|(i, _)| i)
        .collect();
    let inputs = recovery_inputs(topo, config, &replicas);
    (!inputs.is_empty()).then(|| choose_recovery(&inputs, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::testing::{observed, state, status_row};

    const CONF: &str = "[server default]\nuser=mha\npassword=x\nssh_user=root\n\
        [server1]\nhostname=db1\n[server2]\nhostname=db2\n[server3]\nhostname=db3\n";

    /// db1 the master; db2 and db3 file/position replicas with relay_log_purge=ON, db3
    /// with log_slave_updates=OFF when `db3_logs` is false.
    fn file_pos(db3_logs: bool) -> Topology {
        let replica = |logs: bool| {
            let mut row = status_row("db1", 1000, "0-1-10", 0);
            row.insert("Using_Gtid".into(), Some("No".into()));
            let mut s = state("0-1-10", Some(row));
            s.log_slave_updates = logs;
            Ok(s)
        };
        Topology {
            servers: vec![
                observed(0, "db1", Ok(state("0-1-10", None))),
                observed(1, "db2", replica(true)),
                observed(2, "db3", replica(db3_logs)),
            ],
        }
    }

    fn purge_findings(a: &Assessment) -> Vec<(Severity, String)> {
        a.findings
            .iter()
            .filter(|f| matches!(f.problem, Problem::RelayLogPurgeOn { .. }))
            .map(|f| (f.severity, f.server.clone().unwrap_or_default()))
            .collect()
    }

    /// Master-master pairs (MHA's t_mm, t_mm_ro_fail, t_mm_noslaves): the writable one of
    /// the pair is the master, also when the pair is alone; both writable is an error.
    #[test]
    fn the_master_of_a_master_master_pair() {
        use crate::topology::testing::{observed, state, status_row};
        // (m read_only, s1 read_only, other replicas of m, expected)
        let cases = [
            (false, true, 2, "alive 0"),
            (false, true, 0, "alive 0"),
            (true, false, 0, "alive 1"),
            (false, false, 2, "several"),
            (false, false, 0, "several"),
            (true, true, 2, "none"),
            (true, true, 0, "none"),
            // m read-only under s1: the others are replicas of a replica (multi_tier_slave
            // decides whether they are allowed), s1 is the master.
            (true, false, 2, "alive 1"),
        ];
        for (m_ro, s1_ro, others, want) in cases {
            let mut m = state("0-1-5", Some(status_row("s1", 100, "0-1-5", 0)));
            m.read_only = m_ro;
            let mut s1 = state("0-1-5", Some(status_row("m", 100, "0-1-5", 0)));
            s1.read_only = s1_ro;
            let mut servers = vec![observed(0, "m", Ok(m)), observed(1, "s1", Ok(s1))];
            for k in 0..others {
                let r = state("0-1-5", Some(status_row("m", 100, "0-1-5", 0)));
                servers.push(observed(2 + k, &format!("r{k}"), Ok(r)));
            }
            let topo = Topology { servers };
            let got = match find_master(&topo) {
                MasterView::Alive { index } => format!("alive {index}"),
                MasterView::Several { .. } => "several".into(),
                MasterView::None => "none".into(),
                other => format!("{other:?}"),
            };
            assert_eq!(got, want, "m_ro={m_ro} s1_ro={s1_ro} others={others}");
        }
    }

    /// check_repl says which recovery a failover would use, and relay_log_purge=ON becomes a
    /// warning when that recovery may read relay logs.
    #[test]
    fn the_recovery_outlook_and_what_relay_log_diffs_need() {
        let opts = CheckOptions {
            seconds_behind_master: 30,
            detection_window: 4.0,
            ignore_fail_on_start: false,
        };
        let config = crate::config::from_text(CONF);
        let a = assess(&file_pos(true), &config, &opts);
        let c = a.recovery.clone().unwrap();
        assert_eq!(
            (c.recovery, c.why.clone()),
            (Recovery::Gtid, RecoveryWhy::NoneBehind)
        );
        assert!(
            purge_findings(&a)
                .iter()
                .all(|(sev, _)| *sev == Severity::Info)
        );

        let a = assess(&file_pos(false), &config, &opts);
        assert_eq!(
            a.recovery.clone().unwrap().why,
            RecoveryWhy::IfBehindOneOf {
                servers: vec!["db3(db3:3306)".into()]
            }
        );
        assert_eq!(
            purge_findings(&a),
            [
                (Severity::Warning, "db2(db2:3306)".to_string()),
                (Severity::Warning, "db3(db3:3306)".to_string())
            ]
        );

        let config = crate::config::from_text(
            &CONF.replace("ssh_user=root\n", "ssh_user=root\nuse_gtid_auto_pos=0\n"),
        );
        let a = assess(&file_pos(true), &config, &opts);
        assert_eq!(a.recovery.clone().unwrap().recovery, Recovery::Positions);
        assert_eq!(purge_findings(&a).len(), 2);
    }

    /// A replica of a replica: information with multi_tier_slave=1 (an error while its parent
    /// is writable, as MHA), an error naming the key without it; a replica of an unknown server stays an error either way.
    #[test]
    fn a_replica_of_a_replica_and_multi_tier_slave() {
        let opts = CheckOptions {
            seconds_behind_master: 30,
            detection_window: 4.0,
            ignore_fail_on_start: false,
        };
        let topo = |db3_source: &str, db2_read_only: bool| {
            let mut t = file_pos(true);
            if let Ok(s) = &mut t.servers[1].state {
                s.read_only = db2_read_only;
            }
            t.servers[2].state = Ok(state(
                "0-1-10",
                Some(status_row(db3_source, 900, "0-1-10", 0)),
            ));
            for (i, o) in t.servers.iter_mut().enumerate() {
                if let Ok(s) = &mut o.state {
                    s.server_id = 1 + i as u32;
                }
            }
            t
        };
        let tier = CONF.replace("hostname=db3", "hostname=db3\nmulti_tier_slave=1");
        let cases = [
            (
                "db2",
                true,
                tier.as_str(),
                Severity::Info,
                "left alone",
                true,
            ),
            (
                "db2",
                false,
                tier.as_str(),
                Severity::Error,
                "set read_only=1 on db2(db2:3306)",
                false,
            ),
            (
                "db2",
                true,
                CONF,
                Severity::Error,
                "needs multi_tier_slave=1",
                false,
            ),
            (
                "elsewhere",
                true,
                tier.as_str(),
                Severity::Error,
                "the real master is",
                false,
            ),
        ];
        for (source, db2_ro, conf, sev, text, healthy) in cases {
            let a = assess(
                &topo(source, db2_ro),
                &crate::config::from_text(conf),
                &opts,
            );
            let f = a
                .findings
                .iter()
                .find(|f| f.server.as_deref() == Some("db3(db3:3306)"))
                .unwrap_or_else(|| panic!("{source}: no finding on db3: {:?}", a.findings));
            assert_eq!(f.severity, sev, "{source}: {f}");
            assert!(f.to_string().contains(text), "{source}: {f}");
            assert_eq!(a.healthy(), healthy, "{source}: {:?}", a.findings);
        }
    }

    const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const V: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

    /// db1 a MySQL 8.0 master (alive or not) at U:1-10; db2 and db3 its replicas, db3 with
    /// `db3_extra` executed besides.
    fn mysql(master_alive: bool, db3_extra: &str) -> Topology {
        use crate::topology::testing::{mysql_state, mysql_status_row};
        let replica = |set: String| {
            let mut row = mysql_status_row("db1", 1000, &format!("{U}:1-10"), true);
            row.insert("Source_UUID".into(), Some(U.into()));
            Ok(mysql_state(&set, Some(row)))
        };
        let master = if master_alive {
            Ok(mysql_state(&format!("{U}:1-10"), None))
        } else {
            Err("connection refused".into())
        };
        Topology {
            servers: vec![
                observed(0, "db1", master),
                observed(1, "db2", replica(format!("{U}:1-10"))),
                observed(2, "db3", replica(format!("{U}:1-10{db3_extra}"))),
            ],
        }
    }

    fn errant_of(a: &Assessment) -> Vec<(String, String)> {
        a.findings
            .iter()
            .filter_map(|f| match &f.problem {
                Problem::ErrantGtids { gtids } => {
                    Some((f.server.clone().unwrap_or_default(), gtids.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// A MySQL cluster: one notice that its paths never ran against a live MySQL; errant
    /// GTIDs found against the master, or, the master dead, against the other replicas
    /// (the master's own UUID being progress, not errant).
    #[test]
    fn mysql_clusters_get_the_notice_and_their_errant_gtids() {
        let opts = CheckOptions {
            seconds_behind_master: 30,
            detection_window: 4.0,
            ignore_fail_on_start: false,
        };
        let config = crate::config::from_text(CONF);
        let notices = |a: &Assessment| {
            a.findings
                .iter()
                .filter(|f| matches!(f.problem, Problem::MySqlNotRunLive { .. }))
                .map(|f| (f.severity, f.to_string()))
                .collect::<Vec<_>>()
        };
        let a = assess(&mysql(true, &format!(",{V}:1-2")), &config, &opts);
        let n = notices(&a);
        assert_eq!(n.len(), 1, "{n:?}");
        assert_eq!(n[0].0, Severity::Info);
        assert!(
            n[0].1.contains("MySQL 8.0.36: mha's MySQL statements"),
            "{}",
            n[0].1
        );
        assert_eq!(
            errant_of(&a),
            [("db3(db3:3306)".to_string(), format!("{V}:1-2"))]
        );
        assert!(errant_of(&assess(&mysql(true, ""), &config, &opts)).is_empty());
        // super_read_only=OFF on a read-only MySQL replica: a warning.
        let mut t = mysql(true, "");
        if let Ok(s) = &mut t.servers[1].state {
            s.super_read_only = Some(false);
        }
        let warned: Vec<String> = assess(&t, &config, &opts)
            .findings
            .iter()
            .filter(|f| f.problem == Problem::SuperReadOnlyOff)
            .map(|f| format!("{:?} {}", f.severity, f.server.clone().unwrap_or_default()))
            .collect();
        assert_eq!(warned, ["Warning db2(db2:3306)"]);
        assert!(notices(&assess(&file_pos(true), &config, &opts)).is_empty());
        // The master dead: db3 alone received U:11-12 (progress); V:1-2 is errant.
        let facts = |t: &Topology| {
            replica_facts(t, &config, Some(0))
                .into_iter()
                .map(|f| (f.name, f.errant))
                .collect::<Vec<_>>()
        };
        let t = mysql(false, &format!(":11-12,{V}:1-2"));
        assert_eq!(
            facts(&t),
            [
                ("db2(db2:3306)".to_string(), None),
                ("db3(db3:3306)".to_string(), Some(format!("{V}:1-2")))
            ]
        );
        assert_eq!(facts(&mysql(false, ":11-12"))[1].1, None);
    }
}
