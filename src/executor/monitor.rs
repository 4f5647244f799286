//! The manager daemon: start-up checks, then ping the master every ping_interval; after
//! ping_failures consecutive failures ask the other routes (replicas, secondary_check_script,
//! SSH) and let the engine decide whether the master is dead.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::config::{self, Config, GlobalConf, PingType, ServerConfig};
use crate::engine::checks::{self, CheckOptions};
use crate::engine::detect::{
    Decision, Detector, Evidence, PingOutcome, ReplicaAnswer, ReplicaView, SecondaryCheck,
    SshCheck, Step, VantageAnswer, VantageView, confirm_dead, crash_proven,
};
use crate::hooks::{self, HookCall};
use crate::sql::dialect::Dialect;
use crate::sql::{self, DbError, Session};
use crate::status::{ManagerLock, Status, StatusFile};
use crate::topology::ReplicaStatus;

use super::observe::{observe, target};

pub const MONITOR_LOCK: &str = "MHA_Master_High_Availability_Monitor";

/// SIGTERM/SIGINT, listened to for the manager's whole life. A signal is remembered: one that
/// arrives while a failover runs is honoured once the failover has finished, and one that
/// arrives during start-up checks or confirmation is not lost.
struct StopSignal(tokio::sync::watch::Receiver<bool>);

impl StopSignal {
    fn install() -> StopSignal {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            let _ = tx.send(true);
        });
        StopSignal(rx)
    }

    fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop was requested (at once if it already was).
    async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

#[derive(Debug, Clone)]
pub struct ManagerOptions {
    pub conf: PathBuf,
    pub global: GlobalConf,
    pub workdir: Option<PathBuf>,
    pub monitor_only: bool,
    pub check_only: bool,
    pub wait_on_monitor_error: Duration,
    pub skip_ssh_check: bool,
    pub ignore_fail_on_start: bool,
    /// What to do after a confirmed death: None = only report it (--monitor_only).
    pub failover: Option<super::failover::FailoverOptions>,
    pub wait_on_failover_error: Duration,
}

/// How the manager ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// SIGTERM/SIGINT.
    Stopped,
    /// --check_only passed.
    Checked,
    /// Start-up checks failed.
    ConfigError(String),
    /// Another manager holds the lock (workdir or master advisory lock).
    AlreadyRunning(String),
    /// The master was confirmed dead; `evidence` says why.
    MasterDead {
        master: String,
        evidence: Vec<String>,
        facts: super::failover::Detected,
    },
    /// A failover after a confirmed death failed (or was refused and the manager stopped).
    FailoverFailed(String),
    /// A planned switchover finished: monitor the new topology.
    FollowSwitch(String),
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn notify(states: &[sd_notify::NotifyState]) {
    let _ = sd_notify::notify(states);
}

/// Feed systemd's watchdog every second until the returned task is aborted: for the long
/// steps (confirmation hooks, a failover) that run outside the ping loop.
fn watchdog_ticker() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        loop {
            notify(&[sd_notify::NotifyState::Watchdog]);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

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
    let dialect = super::observe::server_version(&mut db)
        .await?
        .map(|v| Dialect::of(&v))
        .unwrap_or(Dialect::MariaDb);
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
/// half heartbeat periods of the replicas whose IO thread still says it is connected.
fn needed_gap(first: &Sample, master: &ServerConfig) -> Duration {
    let secs = first
        .replicas
        .iter()
        .filter_map(|(_, s)| s.as_ref())
        .filter(|s| {
            points_at(&s.status, master) && s.status.io_running() && s.status.last_io_errno == 0
        })
        .filter_map(|s| s.heartbeat_period.filter(|p| *p > 0.0))
        .fold(0.0_f64, f64::max);
    Duration::from_secs_f64((secs * 1.5 + 0.1).min(30.0))
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
    if let Some(o) = super::check_repl::mha_ssh_options(master) {
        args.push(("options".into(), o));
    }
    let call = HookCall {
        secret_args: if config.app.hook_password_args {
            vec![("master_password".into(), master.password.clone())]
        } else {
            vec![]
        },
        hook: "secondary_check_script",
        command: cmd.clone(),
        stdin_json: serde_json::json!({"master_host": master.hostname, "master_ip": master.ip, "master_port": master.port}),
        args,
        env: vec![],
        // MHA put the password on the command line; here it is only in the environment.
        secret_env: vec![("MHA_MASTER_PASSWORD".into(), master.password.clone())],
        timeout: config.app.hook_timeout,
    };
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
        Err(detail) => SshCheck::Unreachable { detail },
    }
}

/// The pinger: a held connection for SELECT/INSERT, a fresh one for CONNECT.
struct Pinger {
    conn: Option<Session>,
    /// The last ping opened a new connection (so a failure means a new connection failed).
    last_fresh: bool,
}

impl Pinger {
    async fn ping(&mut self, config: &Config, master: &ServerConfig) -> PingOutcome {
        let timeout = config.app.ping_interval;
        let fail = |e: DbError| PingOutcome::Failed {
            code: e.server_code(),
            reason: e.to_string(),
        };
        let fresh = config.app.ping_type == PingType::Connect || self.conn.is_none();
        self.last_fresh = fresh;
        if fresh {
            if let Some(c) = self.conn.take() {
                drop(c);
            }
            match sql::connect(&target(master), timeout).await {
                Ok(c) => self.conn = Some(c),
                Err(e) => return fail(e),
            }
        }
        let db = self.conn.as_mut().expect("connected above");
        let result = match config.app.ping_type {
            PingType::Insert => db.ping_insert().await,
            _ => db.ping_select().await,
        };
        match result {
            Ok(()) => {
                if config.app.ping_type == PingType::Connect
                    && let Some(c) = self.conn.take()
                {
                    c.disconnect().await;
                }
                PingOutcome::Ok
            }
            Err(e) => {
                self.conn = None;
                fail(e)
            }
        }
    }
}

/// Start-up checks: the topology must be healthy enough to fail over. Returns the master.
async fn startup_checks(config: &Config, opts: &ManagerOptions) -> Result<usize, String> {
    let topo = observe(config, Duration::from_secs(5)).await;
    let checks_opts = CheckOptions {
        seconds_behind_master: u64::MAX / 2,
        detection_window: config.app.ping_interval.as_secs_f64()
            * f64::from(config.app.ping_failures),
        ignore_fail_on_start: opts.ignore_fail_on_start,
    };
    let mut a = checks::assess(&topo, config, &checks_opts);
    if !opts.skip_ssh_check {
        a.findings
            .extend(super::check_repl::ssh_logins(config).await);
    }
    a.findings.extend(
        super::check_repl::binlog_file_checks(config, &topo, &a, !opts.skip_ssh_check).await,
    );
    for f in &a.findings {
        match f.severity {
            crate::engine::reason::Severity::Error => error!("{f}"),
            crate::engine::reason::Severity::Warning => warn!("{f}"),
            crate::engine::reason::Severity::Info => info!("{f}"),
        }
    }
    let Some(m) = a
        .master_index()
        .filter(|_| matches!(a.master, checks::MasterView::Alive { .. }))
    else {
        return Err("the current master could not be identified or is not reachable".into());
    };
    let master_cfg = &config.servers[topo.servers[m].order];
    a.findings
        .extend(super::check_repl::status_hooks(config, master_cfg).await);
    if !a.healthy() {
        let errors: Vec<String> = a
            .findings
            .iter()
            .filter(|f| f.severity == crate::engine::reason::Severity::Error)
            .map(ToString::to_string)
            .collect();
        return Err(errors.join("; "));
    }
    if let Some(w) = a.ranking.winner() {
        info!(new_master = %w.block, "if the master died now, {} {} would be promoted", w.block, w.name);
    }
    if let Some(d) = super::check_repl::detection_cost(config, &topo, &a, !opts.skip_ssh_check) {
        d.to_string().lines().for_each(|line| info!("{line}"));
    }
    Ok(topo.servers[m].order)
}

async fn take_monitor_lock(master: &ServerConfig) -> Result<Session, String> {
    let mut db = sql::connect(&target(master), Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    let got = db
        .try_advisory_lock("take the monitor lock", MONITOR_LOCK)
        .await
        .map_err(|e| e.to_string())?;
    if !got {
        return Err("Target master's advisory lock is already held by someone. Please check whether you monitor the same master from multiple monitoring processes.".into());
    }
    Ok(db)
}

pub async fn run(opts: ManagerOptions, mut config: Arc<Config>) -> Outcome {
    let workdir = opts
        .workdir
        .clone()
        .unwrap_or_else(|| config.app.manager_workdir.clone());
    if let Err(e) = std::fs::create_dir_all(&workdir) {
        return Outcome::ConfigError(format!(
            "cannot create manager_workdir {}: {e}",
            workdir.display()
        ));
    }
    let _lock = match ManagerLock::acquire(&workdir, &config.app_name) {
        Ok(l) => l,
        Err(e) => return Outcome::AlreadyRunning(e.to_string()),
    };
    let mut status = StatusFile::new(&workdir, &config.app_name);
    if status.path().exists() {
        warn!(
            "{} already exists. You might have killed manager with SIGKILL(-9), may run two or more monitoring process for the same application, or use the same working directory. Check for details, and consider setting --workdir separately.",
            status.path().display()
        );
    }
    let _ = status.set(Status::InitializingMonitor, None);
    let mut stop = StopSignal::install();
    // One SSH session per host, held open: detection asks the replicas' hosts over them, and
    // a failover saves the dead master's binlog without a new key exchange.
    let hosts: Vec<crate::config::SshConfig> = config
        .servers
        .iter()
        .map(|s| s.ssh.clone())
        .chain(config.binlog_servers.iter().map(|b| b.ssh.clone()))
        .collect();
    let _warm = AbortOnDrop(crate::ssh::pool::pool().keep_warm(hosts, Duration::from_secs(2)));
    let mut failover_opts = opts.failover.clone();
    // Deposed masters, watched after their failover for as long as the manager runs.
    let mut deposed = super::deposed::DeposedWatches::new(&workdir, &opts.conf, &opts.global);
    let outcome = loop {
        let outcome = monitor(&opts, &mut config, &mut status, &workdir, &mut stop).await;
        if let Outcome::FollowSwitch(new) = &outcome {
            info!("Planned switchover to {new} done: following the new master.");
            deposed.follow(
                config
                    .servers
                    .iter()
                    .find(|s| &s.display_name() == new)
                    .cloned(),
            );
            let _ =
                std::fs::remove_file(super::switchover::switch_marker(&workdir, &config.app_name));
            let _ = status.set(Status::InitializingMonitor, None);
            continue;
        }
        let (Outcome::MasterDead { master, facts, .. }, Some(fo)) =
            (&outcome, failover_opts.as_mut())
        else {
            break outcome;
        };
        fo.workdir = workdir.clone();
        fo.master_may_answer = config.app.ping_type == PingType::Insert;
        fo.detected = Some(facts.clone());
        fo.dead_master_block = config
            .servers
            .iter()
            .find(|s| &s.display_name() == master)
            .map(|s| s.block.clone());
        let dead_host = config
            .servers
            .iter()
            .find(|s| &s.display_name() == master)
            .map(|s| s.hostname.clone());
        if stop.requested() {
            warn!("Stop requested before the failover started: not starting it.");
            break Outcome::Stopped;
        }
        let _ = status.set(Status::FailoverRunning, dead_host.as_deref());
        if !wait_for_acknowledgement(&config, fo, &mut status, dead_host.as_deref(), &mut stop)
            .await
        {
            break Outcome::Stopped;
        }
        let _ = status.set(Status::FailoverRunning, dead_host.as_deref());
        // A failover can take a while (relay logs to apply): keep systemd's watchdog fed.
        let ticker = watchdog_ticker();
        // A stop request never interrupts a failover half way: it is honoured afterwards.
        let rec = {
            let run = super::failover::failover(&config, fo);
            tokio::pin!(run);
            let mut told = false;
            loop {
                tokio::select! {
                    rec = &mut run => break rec,
                    _ = stop.wait(), if !told => {
                        warn!("Got terminate signal during the failover: the manager stops once it has finished.");
                        told = true;
                    }
                }
            }
        };
        ticker.abort();
        // An operator's --ignore_last_failover covers the first failover only: the next one
        // within last_failover_minute waits for an acknowledgement.
        fo.ignore_last_failover = false;
        status.set_last_failover(rec.last_failover());
        match rec.outcome {
            super::failover::Outcome::Success
            | super::failover::Outcome::Partial
            | super::failover::Outcome::DataNotRecovered => {
                // Data lost (or possibly lost) is no reason to leave the new master
                // unwatched, but it must not pass unnoticed.
                for n in &rec.not_recovered {
                    error!("NOT recovered by the failover: {n}");
                }
                info!(
                    "{}; monitoring the new master {} from now on",
                    rec.subject(),
                    rec.new_master.clone().unwrap_or_default()
                );
                // Kept from before the reload, which drops the dead master.
                let dead = config
                    .servers
                    .iter()
                    .find(|s| &s.display_name() == master)
                    .cloned();
                let before = config.clone();
                match config::load(&opts.conf, &opts.global) {
                    Ok(l) => {
                        let mut c = l.config;
                        // Without --remove_dead_master_conf the dead master is still listed.
                        c.servers.retain(|s| &s.display_name() != master);
                        config = Arc::new(c);
                    }
                    Err(e) => {
                        let mut c = (*config).clone();
                        c.servers.retain(|s| &s.display_name() != master);
                        warn!(
                            "configuration not reloaded after the failover ({e}); going on without the dead master"
                        );
                        config = Arc::new(c);
                    }
                }
                let new_master = rec.new_master.clone().unwrap_or_default();
                deposed.follow(
                    config
                        .servers
                        .iter()
                        .find(|s| s.display_name() == new_master)
                        .cloned(),
                );
                if let Some(dead) = dead {
                    deposed.watch(&before, dead, &new_master, rec.started_unix);
                }
                if stop.requested() {
                    info!("Stopping now, as requested during the failover.");
                    break Outcome::Stopped;
                }
                let _ = status.set(Status::InitializingMonitor, None);
            }
            super::failover::Outcome::DryRun => {
                info!("{}", rec.subject());
                for step in &rec.plan {
                    info!("dry run: {step}");
                }
                for n in &rec.not_recovered {
                    warn!("dry run: would not be recovered: {n}");
                }
                info!("--dry-run: nothing was changed; the manager stops here.");
                break outcome;
            }
            _ => {
                let _ = status.set(Status::FailoverError, dead_host.as_deref());
                tokio::select! {
                    _ = tokio::time::sleep(opts.wait_on_failover_error) => {}
                    _ = stop.wait() => {}
                }
                break Outcome::FailoverFailed(
                    rec.error.unwrap_or_else(|| "failover failed".into()),
                );
            }
        }
    };
    match &outcome {
        Outcome::ConfigError(_) => {
            let _ = status.set(Status::ConfigError, None);
            tokio::time::sleep(opts.wait_on_monitor_error).await;
            status.remove();
        }
        _ => status.remove(),
    }
    notify(&[sd_notify::NotifyState::Stopping]);
    outcome
}

/// The block period: a failover within last_failover_minute of the previous one (or after a
/// failed one) waits until an operator acknowledges it by removing the marker file. False if
/// the manager was told to stop meanwhile.
async fn wait_for_acknowledgement(
    config: &Config,
    fo: &super::failover::FailoverOptions,
    status: &mut StatusFile,
    dead_host: Option<&str>,
    stop: &mut StopSignal,
) -> bool {
    use crate::engine::guard;
    let mut told = false;
    loop {
        let m = super::failover::markers(&fo.workdir, &config.app_name);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        match guard::check(&m, now, fo.last_failover_minute, fo.ignore_last_failover) {
            Ok(()) => {
                if told {
                    info!("Acknowledged: failing over now.");
                }
                return true;
            }
            Err(r) => {
                if !told {
                    error!("Automatic failover refused: {r}");
                    error!(
                        "Waiting until an operator acknowledges (removes the marker file), or stop the manager."
                    );
                    notify(&[sd_notify::NotifyState::Status(
                        "master dead, failover refused: waiting for an acknowledgement",
                    )]);
                    let _ = status.set(Status::FailoverError, dead_host);
                    told = true;
                }
            }
        }
        notify(&[sd_notify::NotifyState::Watchdog]);
        tokio::select! {
            _ = stop.wait() => return false,
            _ = tokio::time::sleep(config.app.ping_interval.max(Duration::from_millis(500))) => {}
        }
    }
}

async fn monitor(
    opts: &ManagerOptions,
    config: &mut Arc<Config>,
    status: &mut StatusFile,
    workdir: &std::path::Path,
    stop: &mut StopSignal,
) -> Outcome {
    let checked = tokio::select! {
        r = startup_checks(config, opts) => r,
        _ = stop.wait() => {
            info!("Got terminate signal. Exit.");
            return Outcome::Stopped;
        }
    };
    let mut master_idx = match checked {
        Ok(m) => m,
        Err(e) => return Outcome::ConfigError(e),
    };
    let mut master = config.servers[master_idx].clone();
    if opts.check_only {
        return Outcome::Checked;
    }
    let mut lock_conn = match take_monitor_lock(&master).await {
        Ok(c) => Some(c),
        Err(e) => return Outcome::AlreadyRunning(e),
    };
    let mut sighup = signal(SignalKind::hangup()).expect("SIGHUP handler");

    let mut detector = Detector::new(config.app.ping_failures);
    let mut pinger = Pinger {
        conn: None,
        last_fresh: false,
    };
    let mut first_sample: Option<tokio::task::JoinHandle<Sample>> = None;
    let mut ssh_probe: Option<(Instant, tokio::task::JoinHandle<SshCheck>)> = None;
    let mut vantage: Option<(Instant, tokio::task::JoinHandle<Vec<VantageView>>)> = None;
    let mut watch = super::watch::spawn_watch(master.clone());
    // Pings start every ping_interval; the wait for the next one is where a watch
    // connection's loss or a signal is noticed at once.
    let mut next_ping = tokio::time::Instant::now();
    let master_name = |m: &ServerConfig| m.hostname.clone();
    let _ = status.set(Status::PingOk, Some(&master_name(&master)));
    info!(
        master = %master.display_name(),
        "Ping({}) succeeded, waiting until MySQL doesn't respond..",
        config.app.ping_type.name()
    );
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("monitoring master {}", master.display_name())),
    ]);

    let mut paused = false;
    loop {
        // A planned switchover: its write block is not a failure; afterwards follow it.
        match super::switchover::read_marker(workdir, &config.app_name) {
            Some(m) if m.state == "done" => return Outcome::FollowSwitch(m.new_master),
            Some(m) => {
                if !paused {
                    info!(
                        "Planned switchover to {} in progress (pid {}): health checks paused.",
                        m.new_master, m.pid
                    );
                    paused = true;
                    detector.reset();
                    first_sample = None;
                    ssh_probe = None;
                    vantage = None;
                }
                notify(&[sd_notify::NotifyState::Watchdog]);
                let _ = status.set(Status::PingOk, Some(&master_name(&master)));
                tokio::select! {
                    _ = tokio::time::sleep(config.app.ping_interval) => {}
                    _ = stop.wait() => return Outcome::Stopped,
                    // The switch restarts the master's connections: not a crash.
                    _ = watch.events.recv() => {}
                }
                continue;
            }
            None if paused => {
                info!("The planned switchover ended without a new master: monitoring goes on.");
                paused = false;
            }
            None => {}
        }
        let outcome = tokio::select! {
            _ = stop.wait() => { info!("Got terminate signal. Exit."); return Outcome::Stopped; }
            _ = sighup.recv() => {
                match config::load(&opts.conf, &opts.global) {
                    Ok(l) => match l.config.servers.iter().position(|s| s.ip == master.ip && s.port == master.port) {
                        Some(i) => {
                            *config = Arc::new(l.config);
                            master_idx = i;
                            master = config.servers[i].clone();
                            detector = Detector::new(config.app.ping_failures);
                            info!("configuration reloaded from {}", opts.conf.display());
                        }
                        None => error!("configuration not reloaded: the current master {} is not in it", master.display_name()),
                    },
                    Err(e) => error!("configuration not reloaded: {e}"),
                }
                continue;
            }
            ev = watch.events.recv(), if config.app.fast_crash_detection => {
                match ev {
                    Some(super::watch::WatchEvent::Lost(detail)) => {
                        warn!("The watch connection to the master was closed ({detail}): checking for a crash");
                        let pid_file = watch.pid_file.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        let within = config.app.ping_interval.clamp(Duration::from_millis(500), Duration::from_secs(2));
                        let evidence = tokio::select! {
                            e = super::watch::crash_evidence(config, master_idx, detail, pid_file, within) => e,
                            _ = stop.wait() => { info!("Got terminate signal. Exit."); return Outcome::Stopped; }
                        };
                        match crash_proven(&evidence) {
                            Decision::Dead { evidence: lines } => {
                                drop(lock_conn.take());
                                return master_down(&master, "crashed!", lines, super::failover::Detected {
                                        at: Instant::now(),
                                        master_ssh: Some(true),
                                        master_sql: super::failover::MasterSql::Refused,
                                        pid_file: watch.pid_file.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                                    });
                            }
                            Decision::NotDead { reason } => {
                                info!("Not a proven crash ({reason}): the pings decide.");
                                next_ping = tokio::time::Instant::now();
                            }
                        }
                    }
                    Some(super::watch::WatchEvent::Notice(detail)) => {
                        info!("The master announced the end of the watch connection ({detail}): a clean shutdown or a kill, not a crash; the pings decide.");
                        next_ping = tokio::time::Instant::now();
                    }
                    None => {}
                }
                continue;
            }
            (started, o) = async {
                tokio::time::sleep_until(next_ping).await;
                (tokio::time::Instant::now(), pinger.ping(config, &master).await)
            } => {
                next_ping = started + config.app.ping_interval;
                o
            }
        };
        notify(&[sd_notify::NotifyState::Watchdog]);
        match detector.on_probe(&outcome) {
            Step::Healthy => {
                if first_sample.take().is_some() {
                    info!("Ping succeeded again; the master is alive.");
                }
                ssh_probe = None;
                vantage = None;
                let _ = status.set(Status::PingOk, Some(&master_name(&master)));
            }
            Step::Busy { code, reason } => {
                warn!(
                    "Got MySQL error {code}, but this is not a MySQL crash. Continue health check.. ({reason})"
                );
                let _ = status.set(Status::PingOk, Some(&master_name(&master)));
            }
            Step::Failing { count, reason } => {
                warn!("Got error on MySQL ping: {reason}");
                warn!("Connection failed {count} time(s)..");
                let _ = status.set(Status::PingFailing, Some(&master_name(&master)));
                if first_sample.is_none() {
                    first_sample = Some(tokio::spawn(sample_replicas(
                        config.clone(),
                        master_idx,
                        config.app.ping_interval.max(Duration::from_secs(1)),
                    )));
                }
                if ssh_probe.is_none() {
                    let m = master.clone();
                    ssh_probe = Some((
                        Instant::now(),
                        tokio::spawn(async move { ssh_check(&m).await }),
                    ));
                }
                // Ask the replicas' hosts in parallel with the next pings, so the last
                // round is (nearly) done when the ping window closes.
                if vantage.as_ref().is_none_or(|(_, h)| h.is_finished()) {
                    vantage = Some((
                        Instant::now(),
                        tokio::spawn(super::watch::vantage_round(
                            config.clone(),
                            master_idx,
                            vantage_timeout(config),
                        )),
                    ));
                }
            }
            Step::Suspect { count, reason } => {
                warn!("Got error on MySQL ping: {reason}");
                warn!("Connection failed {count} time(s)..");
                let _ = status.set(Status::PingFailed, Some(&master_name(&master)));
                warn!("Master is not reachable from health checker!");
                notify(&[sd_notify::NotifyState::Status(&format!(
                    "master {} not reachable from the manager; confirming",
                    master.display_name()
                ))]);
                let ssh = ssh_probe.take().unwrap_or_else(|| {
                    let m = master.clone();
                    (
                        Instant::now(),
                        tokio::spawn(async move { ssh_check(&m).await }),
                    )
                });
                // The latest vantage round, if it is recent; else a new one.
                let fresh = config.app.ping_interval * 2;
                let round = match vantage.take() {
                    Some((at, h)) if at.elapsed() <= fresh || !h.is_finished() => h,
                    other => {
                        if let Some((_, h)) = other {
                            h.abort();
                        }
                        tokio::spawn(super::watch::vantage_round(
                            config.clone(),
                            master_idx,
                            vantage_timeout(config),
                        ))
                    }
                };
                let first = first_sample.take();
                // Confirmation may run hooks for a while: keep systemd's watchdog fed meanwhile.
                let ticker = watchdog_ticker();
                // MHA's double check (a new connection to the master) is redundant when the
                // failed ping was itself a new connection; it would only cost another timeout.
                let double_check = !pinger.last_fresh && config.app.ping_type != PingType::Insert;
                let evidence = tokio::select! {
                    e = gather_evidence(config, master_idx, first, round, ssh, double_check, reason) => e,
                    _ = stop.wait() => {
                        ticker.abort();
                        info!("Got terminate signal while confirming. Exit.");
                        return Outcome::Stopped;
                    }
                };
                ticker.abort();
                match confirm_dead(&evidence) {
                    Decision::Dead { evidence: lines } => {
                        drop(lock_conn.take());
                        return master_down(
                            &master,
                            "is not reachable!",
                            lines,
                            super::failover::Detected {
                                at: Instant::now(),
                                master_ssh: match &evidence.ssh {
                                    SshCheck::Reachable => Some(true),
                                    SshCheck::Unreachable { .. } => Some(false),
                                    SshCheck::NoAnswerYet { .. } => Some(false),
                                    SshCheck::NotChecked => None,
                                },
                                master_sql: super::failover::MasterSql::Silent,
                                pid_file: watch
                                    .pid_file
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .clone(),
                            },
                        );
                    }
                    Decision::NotDead { reason } => {
                        warn!(
                            "Master {} is not declared dead: {reason}",
                            master.display_name()
                        );
                        let _ = status.set(Status::RetryingMonitor, Some(&master_name(&master)));
                        detector.reset();
                    }
                }
            }
        }
    }
}

/// Log the verdict and its evidence, MHA's `Master is down!`, and hand over to the failover.
fn master_down(
    master: &ServerConfig,
    how: &str,
    evidence: Vec<String>,
    facts: super::failover::Detected,
) -> Outcome {
    error!("Master {} {how}", master.display_name());
    for line in &evidence {
        error!("  evidence: {line}");
    }
    error!("Master is down!");
    Outcome::MasterDead {
        master: master.display_name(),
        evidence,
        facts,
    }
}

/// How long a replica's host waits for the master's handshake: long enough for a loaded
/// server on a slow link, short enough to decide within a second of the ping window.
fn vantage_timeout(config: &Config) -> Duration {
    config
        .app
        .ping_interval
        .mul_f64(0.9)
        .clamp(Duration::from_millis(300), Duration::from_secs(1))
}

async fn gather_evidence(
    config: &Arc<Config>,
    master_idx: usize,
    first: Option<tokio::task::JoinHandle<Sample>>,
    vantage: tokio::task::JoinHandle<Vec<VantageView>>,
    ssh: (Instant, tokio::task::JoinHandle<SshCheck>),
    double_check: bool,
    ping: String,
) -> Evidence {
    let master = config.servers[master_idx].clone();
    let timeout = config.app.ping_interval.max(Duration::from_secs(1));
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
            let wait = needed_gap(&first, &master).saturating_sub(first.at.elapsed());
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
