//! The manager's slow look at the whole cluster, beside the pings: every
//! `replica_check_interval` it reads every server as check_repl does, exports the replicas'
//! figures, asks the failover's own planning whether a failover now would succeed
//! (`engine::readiness`), and logs each change of that answer in one line. Without it a
//! replica that went away would be found only when the master died and the failover was
//! refused. It also has the switchovers `master_switch` recorded in the workdir counted.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tracing::{info, warn};

use crate::config::Config;
use crate::engine::readiness::{self, Readiness};
use crate::executor::observe::{observe, target};
use crate::sql;
use crate::telemetry::{ReplicaFigures, Telemetry};
use crate::topology::{BinlogPos, Topology};

/// The looking task; stopped when dropped (the master it looks at is no longer monitored).
pub(super) struct ReplicaCheck(tokio::task::JoinHandle<()>);

impl Drop for ReplicaCheck {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ReplicaCheck {
    /// Start looking at the cluster of master `master_idx`, at once and then every
    /// replica_check_interval.
    pub(super) fn spawn(
        config: Arc<Config>,
        master_idx: usize,
        telemetry: Arc<Telemetry>,
        workdir: PathBuf,
    ) -> ReplicaCheck {
        ReplicaCheck(tokio::spawn(look_loop(
            config, master_idx, telemetry, workdir,
        )))
    }
}

async fn look_loop(
    config: Arc<Config>,
    master_idx: usize,
    telemetry: Arc<Telemetry>,
    workdir: PathBuf,
) {
    let mut tick = tokio::time::interval(config.app.replica_check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut moved = Moves::default();
    loop {
        tick.tick().await;
        telemetry.count_switchovers();
        // A planned switchover changes the topology under our feet: its verdicts mean nothing.
        if crate::executor::switchover::read_marker(&workdir, &config.app_name).is_some() {
            continue;
        }
        let topo = observe(&config, config.app.timeouts.sql).await;
        let Some(m) = topo.servers.iter().position(|o| o.order == master_idx) else {
            continue;
        };
        let logs = master_logs(&config, &topo, m).await;
        let figures = figures(&topo, m, &logs, &mut moved, Instant::now());
        let now = readiness::if_master_died(&topo, &config, m);
        let before = telemetry.replicas(&figures, topo, now.clone(), SystemTime::now());
        log_change(before.as_ref(), &now);
    }
}

/// Log the answer when it changed: when readiness came or went, or the refusal's reason
/// changed. The first answer is logged only when it is a refusal (the start-up checks
/// already said who would be promoted).
fn log_change(before: Option<&Readiness>, now: &Readiness) {
    let changed = match before {
        None => !now.ready,
        Some(b) => b.ready != now.ready || b.refusal != now.refusal,
    };
    if !changed {
        return;
    }
    if now.ready {
        info!("failover readiness: {}", now.line());
    } else {
        warn!("failover readiness: {}", now.line());
    }
}

/// The master's binlog files with their sizes, when some replica executes in an older file
/// than the master writes (the bytes between need them).
async fn master_logs(config: &Config, topo: &Topology, m: usize) -> Vec<(String, u64)> {
    let Some(master_file) = topo.servers[m]
        .alive()
        .and_then(|s| s.binlog.as_ref())
        .map(|b| b.file.clone())
    else {
        return vec![];
    };
    let behind = topo.servers.iter().any(|o| {
        o.alive()
            .and_then(|s| s.replica.as_ref())
            .and_then(|r| r.exec_pos.as_ref())
            .is_some_and(|p| p.file != master_file)
    });
    if !behind {
        return vec![];
    }
    let server = &config.servers[topo.servers[m].order];
    let Ok(mut db) = sql::connect(&target(server), config.app.timeouts.sql).await else {
        return vec![];
    };
    let logs = db.binary_logs().await.unwrap_or_default();
    db.disconnect().await;
    logs
}

/// A replica's signs of life from its master: where its IO thread has read to, and how many
/// heartbeats it has received (MariaDB counts them; heartbeats come only when no event does).
type Signs = (Option<BinlogPos>, Option<u64>);

/// When each replica's signs of life last changed, as these looks saw them.
#[derive(Default)]
struct Moves(HashMap<String, (Signs, Option<Instant>)>);

impl Moves {
    /// Seconds since `replica`'s signs were last seen to change (None: not seen yet).
    fn update(&mut self, replica: &str, signs: Signs, now: Instant) -> Option<f64> {
        match self.0.get_mut(replica) {
            None => {
                self.0.insert(replica.to_string(), (signs, None));
            }
            Some(entry) if entry.0 != signs => *entry = (signs, Some(now)),
            Some(_) => {}
        }
        let changed = self.0.get(replica).and_then(|e| e.1)?;
        Some(now.duration_since(changed).as_secs_f64())
    }
}

/// Every server but the master, as the metrics show it.
fn figures(
    topo: &Topology,
    m: usize,
    logs: &[(String, u64)],
    moved: &mut Moves,
    now: Instant,
) -> Vec<ReplicaFigures> {
    let master_pos = topo.servers[m].alive().and_then(|s| s.binlog.clone());
    topo.servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != m)
        .map(|(_, o)| {
            let s = o.alive();
            let r = s.and_then(|s| s.replica.as_ref());
            let signs = (
                r.and_then(|r| r.read_pos.clone()),
                s.and_then(|s| s.received_heartbeats),
            );
            let moved_ago = moved.update(&o.name(), signs, now);
            ReplicaFigures {
                replica: o.name(),
                io_running: r.is_some_and(|r| r.io_running()),
                sql_running: r.is_some_and(|r| r.sql_running()),
                lag_seconds: r.and_then(|r| r.seconds_behind_master).map(|s| s as f64),
                lag_bytes: match (r.and_then(|r| r.exec_pos.as_ref()), &master_pos) {
                    (Some(e), Some(mp)) => readiness::lag_bytes(logs, mp, e),
                    _ => None,
                },
                heartbeat_age: r.and_then(|_| {
                    readiness::heard_age(s.and_then(|s| s.last_heartbeat_age), moved_ago)
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_moves_once_its_position_or_heartbeats_change() {
        let mut m = Moves::default();
        let t0 = Instant::now();
        let at = |s| t0 + std::time::Duration::from_secs(s);
        let p = |n| Some(BinlogPos::new("bin.000001", n));
        assert_eq!(m.update("r", (p(10), Some(1)), t0), None);
        assert_eq!(m.update("r", (p(10), Some(1)), at(5)), None);
        assert_eq!(m.update("r", (p(20), Some(1)), at(10)), Some(0.0));
        assert_eq!(m.update("r", (p(20), Some(1)), at(13)), Some(3.0));
        assert_eq!(m.update("r", (p(20), Some(2)), at(20)), Some(0.0));
        assert_eq!(m.update("r", (p(20), Some(2)), at(21)), Some(1.0));
        assert_eq!(m.update("other", (p(20), Some(2)), at(21)), None);
    }
}
