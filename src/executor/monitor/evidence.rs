//! Confirming a death: what the replicas, their hosts, the master's host over SSH and the
//! secondary_check_script say about a master the manager can no longer ping.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::{JoinHandle, JoinSet};

use crate::config::{Config, ServerConfig};
use crate::engine::detect::{
    Evidence, ReplicaAnswer, ReplicaView, SecondaryCheck, SshCheck, VantageAnswer, VantageView,
};
use crate::hooks::{self, HookCall};
use crate::sql::dialect::Dialect;
use crate::sql::{self, DbError};
use crate::topology::ReplicaStatus;

use crate::executor::observe::{VersionError, server_version, target};

use super::scale;

/// One replica sample for death confirmation.
#[derive(Debug, Clone)]
struct ReplicaSample {
    status: ReplicaStatus,
    heartbeats: Option<u64>,
    heartbeat_period: Option<f64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Sample {
    at: Instant,
    /// (name, replicates from the master, sample) per replica; None = could not ask.
    replicas: Vec<(String, Option<ReplicaSample>)>,
}

async fn read_replica(
    s: &ServerConfig,
    timeout: Duration,
) -> Result<Option<ReplicaSample>, DbError> {
    let mut db = sql::connect(&target(s), timeout).await?;
    let dialect = match server_version(&mut db).await {
        Ok(v) => Dialect::of(&v),
        Err(VersionError::Unparsable { .. }) => Dialect::MariaDb,
        Err(VersionError::Db(e)) => return Err(e),
    };
    let row = db
        .row_map("read replica status", dialect.show_replica_status())
        .await?;
    let Some(row) = row else {
        db.disconnect().await;
        return Ok(None);
    };
    let value =
        |r: Option<crate::topology::Row>, k: &str| r.and_then(|r| r.get(k).cloned().flatten());
    let heartbeats = match dialect.received_heartbeats() {
        Some(q) => value(db.row_map("read heartbeats", q).await.ok().flatten(), "n")
            .and_then(|v| v.parse().ok()),
        None => None,
    };
    let heartbeat_period = value(
        db.row_map("read heartbeat period", dialect.heartbeat_period())
            .await
            .ok()
            .flatten(),
        "period",
    )
    .and_then(|v| v.parse().ok());
    db.disconnect().await;
    Ok(Some(ReplicaSample {
        status: ReplicaStatus::from_row(&row),
        heartbeats,
        heartbeat_period,
    }))
}

pub(crate) async fn sample_replicas(
    config: Arc<Config>,
    master: usize,
    timeout: Duration,
) -> Sample {
    let mut set = JoinSet::new();
    for (i, s) in config.servers.iter().enumerate() {
        if i == master {
            continue;
        }
        let s = s.clone();
        set.spawn(async move {
            (
                i,
                s.display_name(),
                read_replica(&s, timeout).await.ok().flatten(),
            )
        });
    }
    let mut replicas = Vec::new();
    while let Some(Ok(r)) = set.join_next().await {
        replicas.push(r);
    }
    replicas.sort_by_key(|r| r.0);
    Sample {
        at: Instant::now(),
        replicas: replicas.into_iter().map(|(_, n, s)| (n, s)).collect(),
    }
}

fn points_at(st: &ReplicaStatus, m: &ServerConfig) -> bool {
    st.master_port == m.port && (st.master_host == m.ip || st.master_host == m.hostname)
}

/// Turn two samples into what each replica says about the master.
pub(crate) fn answers(
    first: Option<&Sample>,
    second: &Sample,
    master: &ServerConfig,
) -> Vec<ReplicaView> {
    second
        .replicas
        .iter()
        .map(|(name, s)| {
            let answer = s.as_ref().map(|s| {
                let before = first
                    .and_then(|f| f.replicas.iter().find(|(n, _)| n == name))
                    .and_then(|(_, s)| s.as_ref());
                let gap = first
                    .map(|f| second.at.duration_since(f.at).as_secs_f64())
                    .unwrap_or(0.0);
                let period = s.heartbeat_period.unwrap_or(0.0);
                // Anything that arrived since the first sample (taken after the failures
                // began) proves the master alive; silence proves its death only over a
                // window long enough to have seen a heartbeat.
                let progressed = match before {
                    Some(b) => {
                        let hb = match (b.heartbeats, s.heartbeats) {
                            (Some(x), Some(y)) => Some(y > x),
                            _ => None,
                        };
                        let events = b.status.read_pos != s.status.read_pos;
                        let long_enough = period > 0.0 && gap >= period * 1.5;
                        match hb {
                            _ if events => Some(true),
                            Some(true) => Some(true),
                            Some(false) if long_enough => Some(false),
                            _ => None,
                        }
                    }
                    None => None,
                };
                ReplicaAnswer {
                    replicates_from_master: points_at(&s.status, master),
                    io_running: s.status.io_running.clone(),
                    io_state: s.status.io_state.clone(),
                    last_io_errno: s.status.last_io_errno,
                    last_io_error: s.status.last_io_error.clone(),
                    progressed,
                    sample_gap_secs: gap,
                }
            });
            ReplicaView {
                name: name.clone(),
                answer,
            }
        })
        .collect()
}

/// How long after the first sample the second must be taken to judge progress: one and a
/// half heartbeat periods of the replicas whose IO thread still says it is connected, at most
/// `limit` (heartbeat_wait_timeout).
fn needed_gap(first: &Sample, master: &ServerConfig, limit: Duration) -> Duration {
    let secs = first
        .replicas
        .iter()
        .filter_map(|(_, s)| s.as_ref())
        .filter(|s| {
            points_at(&s.status, master) && s.status.io_running() && s.status.last_io_errno == 0
        })
        .filter_map(|s| s.heartbeat_period.filter(|p| *p > 0.0))
        .fold(0.0_f64, f64::max);
    Duration::from_secs_f64((secs * 1.5 + 0.1).min(limit.as_secs_f64()))
}

async fn secondary_check(config: &Config, master: &ServerConfig) -> SecondaryCheck {
    let Some(cmd) = &config.app.secondary_check_script else {
        return SecondaryCheck::NotConfigured;
    };
    let mut args = vec![
        ("user".to_string(), master.ssh.user.clone()),
        ("master_host".into(), master.hostname.clone()),
        ("master_ip".into(), master.ip.clone()),
        ("master_port".into(), master.port.to_string()),
        ("master_user".into(), master.user.clone()),
        ("ping_type".into(), config.app.ping_type.name().to_string()),
    ];
    if let Some(o) = crate::executor::check_repl::mha_ssh_options(master) {
        args.push(("options".into(), o));
    }
    let call = HookCall {
        secret_args: if config.app.hook_password_args {
            vec![("master_password".into(), master.password.clone())]
        } else {
            vec![]
        },
        hook: "secondary_check_script",
        command: hooks::resolve_own_tool(cmd, std::env::var_os("PATH").as_deref()),
        stdin_json: serde_json::json!({"master_host": master.hostname, "master_ip": master.ip, "master_port": master.port}),
        args,
        env: vec![],
        // MHA put the password on the command line; here it is only in the environment.
        secret_env: vec![("MHA_MASTER_PASSWORD".into(), master.password.clone())],
        timeout: config.app.hook_timeout,
    };
    // MHA's line (HealthCheck.pm); passwords masked.
    tracing::info!(
        "Executing secondary network check script: {}",
        call.command_line()
    );
    match hooks::run(&call).await {
        Ok(o) if o.exit_code == Some(0) => SecondaryCheck::MasterDown,
        Ok(o) if o.exit_code == Some(3) => SecondaryCheck::MasterReachable {
            detail: o.describe(),
        },
        Ok(o) => SecondaryCheck::Failed {
            detail: o.describe(),
        },
        Err(e) => SecondaryCheck::Failed {
            detail: e.to_string(),
        },
    }
}

/// Can the manager run a command on the master's host over SSH? (MHA's check; it also tells
/// the failover whether the dead master's binlogs can be read.) Over the held session.
async fn ssh_check(master: &ServerConfig) -> SshCheck {
    match crate::ssh::pool::pool()
        .check(&master.ssh, master.ssh.connection_timeout)
        .await
    {
        Ok(()) => SshCheck::Reachable,
        Err(e) => SshCheck::Unreachable {
            detail: e.to_string(),
        },
    }
}

/// How long a replica's host waits for the master's handshake: long enough for a loaded
/// server on a slow link, short enough to decide within a second of the ping window.
fn vantage_timeout(config: &Config) -> Duration {
    config
        .app
        .ping_interval
        .mul_f64(0.9)
        .clamp(scale::VANTAGE_MIN, scale::VANTAGE_MAX)
}

/// The probes started at the first failed ping, so that the confirmation finds them
/// (nearly) done when the ping window closes.
#[derive(Default)]
pub(super) struct EarlyProbes {
    /// The replicas, sampled once after the failures began.
    first_sample: Option<JoinHandle<Sample>>,
    /// The master's host over SSH, and when it was asked.
    ssh: Option<(Instant, JoinHandle<SshCheck>)>,
    /// The latest round from the replicas' hosts, and when it started.
    vantage: Option<(Instant, JoinHandle<Vec<VantageView>>)>,
}

/// What the confirmation waits for: the early probes, or new ones.
pub(super) struct Probes {
    first_sample: Option<JoinHandle<Sample>>,
    ssh: (Instant, JoinHandle<SshCheck>),
    vantage: JoinHandle<Vec<VantageView>>,
}

impl EarlyProbes {
    /// A ping failed: start what is not running yet.
    pub(super) fn start(&mut self, config: &Arc<Config>, master_idx: usize, master: &ServerConfig) {
        if self.first_sample.is_none() {
            self.first_sample = Some(tokio::spawn(sample_replicas(
                config.clone(),
                master_idx,
                config.app.ping_interval.max(scale::PROBE_FLOOR),
            )));
        }
        if self.ssh.is_none() {
            self.ssh = Some(spawn_ssh_check(master));
        }
        // Ask the replicas' hosts in parallel with the next pings, so the last
        // round is (nearly) done when the ping window closes.
        if self.vantage.as_ref().is_none_or(|(_, h)| h.is_finished()) {
            self.vantage = Some((Instant::now(), spawn_vantage_round(config, master_idx)));
        }
    }

    /// Forget them (the master answered, or a planned switchover paused the checks). True
    /// when the replicas had been sampled, i.e. the failures had begun.
    pub(super) fn clear(&mut self) -> bool {
        self.ssh = None;
        self.vantage = None;
        self.first_sample.take().is_some()
    }

    /// The master is suspect: hand the probes to the confirmation, starting the missing ones.
    pub(super) fn take(
        &mut self,
        config: &Arc<Config>,
        master_idx: usize,
        master: &ServerConfig,
    ) -> Probes {
        let ssh = self.ssh.take().unwrap_or_else(|| spawn_ssh_check(master));
        // The latest vantage round, if it is recent; else a new one.
        let fresh = config.app.ping_interval * 2;
        let vantage = match self.vantage.take() {
            Some((at, h)) if at.elapsed() <= fresh || !h.is_finished() => h,
            other => {
                if let Some((_, h)) = other {
                    h.abort();
                }
                spawn_vantage_round(config, master_idx)
            }
        };
        Probes {
            first_sample: self.first_sample.take(),
            ssh,
            vantage,
        }
    }
}

fn spawn_ssh_check(master: &ServerConfig) -> (Instant, JoinHandle<SshCheck>) {
    let m = master.clone();
    (
        Instant::now(),
        tokio::spawn(async move { ssh_check(&m).await }),
    )
}

fn spawn_vantage_round(config: &Arc<Config>, master_idx: usize) -> JoinHandle<Vec<VantageView>> {
    tokio::spawn(crate::executor::watch::vantage_round(
        config.clone(),
        master_idx,
        vantage_timeout(config),
    ))
}

/// Wait for the probes and gather the rest of the evidence: a second replica sample, MHA's
/// double check (`double_check`: a new connection to the master), the secondary_check_script.
pub(super) async fn gather_evidence(
    config: &Arc<Config>,
    master_idx: usize,
    probes: Probes,
    double_check: bool,
    ping: String,
) -> Evidence {
    let Probes {
        first_sample: first,
        ssh,
        vantage,
    } = probes;
    let master = config.servers[master_idx].clone();
    let timeout = config.app.ping_interval.max(scale::PROBE_FLOOR);
    let vantage = vantage.await.unwrap_or_default();
    let vantage_up = vantage
        .iter()
        .any(|v| matches!(v.answer, VantageAnswer::Answered { .. }));
    // Either way the vantage points decide, and no heartbeat needs to be waited for.
    let vantage_decides = vantage_up
        || vantage
            .iter()
            .any(|v| matches!(v.answer, VantageAnswer::NoAnswer { .. }));
    let replicas = async {
        let first = match first {
            Some(h) => h.await.ok(),
            None => None,
        };
        let first = match first {
            Some(f) => f,
            None => sample_replicas(config.clone(), master_idx, timeout).await,
        };
        // When the replicas' hosts could open (or try) the master's port, their word decides;
        // without that route, silence must be long enough to have missed a heartbeat.
        if !vantage_decides {
            let limit = config.app.timeouts.heartbeat_wait;
            let wait = needed_gap(&first, &master, limit).saturating_sub(first.at.elapsed());
            tokio::time::sleep(wait).await;
        }
        let second = sample_replicas(config.clone(), master_idx, timeout).await;
        answers(Some(&first), &second, &master)
    };
    // MHA's double check: a master that accepts a new connection is alive, except with
    // ping_type=INSERT, where a master that connects but cannot write counts as failed.
    let answers_now = async {
        if !double_check {
            return false;
        }
        match sql::connect(&target(&master), timeout).await {
            Ok(c) => {
                c.disconnect().await;
                true
            }
            Err(_) => false,
        }
    };
    let (replicas, master_answers_now, secondary) =
        tokio::join!(replicas, answers_now, secondary_check(config, &master));
    let (started, handle) = ssh;
    let ssh = if handle.is_finished() {
        handle.await.unwrap_or(SshCheck::NotChecked)
    } else {
        handle.abort();
        SshCheck::NoAnswerYet {
            after_secs: started.elapsed().as_secs_f64(),
        }
    };
    Evidence {
        ping,
        master_answers_now,
        replicas,
        vantage,
        secondary,
        ssh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A first sample in which one replica of `master` hears from it with this heartbeat.
    fn sample_with_heartbeat(master: &ServerConfig, period: f64) -> Sample {
        let row: crate::topology::Row = [
            ("Master_Host", master.ip.as_str()),
            ("Master_Port", &master.port.to_string()),
            ("Slave_IO_Running", "Yes"),
            ("Last_IO_Errno", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Some(v.to_string())))
        .collect();
        Sample {
            at: Instant::now(),
            replicas: vec![(
                "server2".into(),
                Some(ReplicaSample {
                    status: ReplicaStatus::from_row(&row),
                    heartbeats: Some(1),
                    heartbeat_period: Some(period),
                }),
            )],
        }
    }

    /// 1.5 heartbeat periods, at most heartbeat_wait_timeout (30 s unless configured).
    #[test]
    fn the_wait_for_heartbeat_silence_is_bounded_by_heartbeat_wait_timeout() {
        let config = crate::config::from_text(
            "[server1]\nhostname=10.0.0.1\n[server2]\nhostname=10.0.0.2\n",
        );
        let master = &config.servers[0];
        let limit = config.app.timeouts.heartbeat_wait;
        assert_eq!(limit, Duration::from_secs(30));
        for (period, limit, want_ms) in [
            (2.0, limit, 3_100),
            (30.0, limit, 30_000),
            (30.0, Duration::from_secs(60), 45_100),
            (30.0, Duration::from_secs(5), 5_000),
        ] {
            let gap = needed_gap(&sample_with_heartbeat(master, period), master, limit);
            assert_eq!(gap.as_millis(), want_ms, "period {period}, limit {limit:?}");
        }
    }
}
