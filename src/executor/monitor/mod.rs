//! The manager daemon: start-up checks, then ping the master every ping_interval; after
//! ping_failures consecutive failures ask the other routes (replicas, secondary_check_script,
//! SSH) and let the engine decide whether the master is dead.
//!
//! The manager's life, as MHA's masterha_manager: `run` takes the workdir lock, then
//! `Manager::supervise` monitors the master (start-up checks in `startup`, then the ping
//! loop in `ping_loop`, whose confirmation gathers its `evidence`), follows a planned
//! switchover, and hands a confirmed death over to the failover before monitoring the new
//! master.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::config::{self, Config, GlobalConf, PingType, ServerConfig};
use crate::status::{ManagerLock, Status, StatusFile};
use crate::telemetry::{Telemetry, server};

use super::deposed::DeposedWatches;
use super::failover::{self, Detected, FailoverOptions, FailoverRecord};

mod apps;
mod coordinated;
mod error;
mod evidence;
mod ping_loop;
mod replicas;
mod semi_sync;
pub(crate) mod shared;
mod startup;

pub use apps::{App, AppSet, Prepare, conf_files};
pub use error::{MonitorLockError, StartupError};
pub(crate) use evidence::{answers, sample_replicas};
pub use startup::MONITOR_LOCK;

use ping_loop::PingLoop;
use startup::{startup_checks, take_monitor_lock};

/// Detection's waits scale with ping_interval, as MHA's do (its ping connects within
/// ping_interval), and check_repl's estimate of detection time (`engine::cost`) counts on it:
/// they are not settings of their own. These bounds only keep a very short or very long
/// ping_interval sensible; the waits that do not scale with it are in `config::Timeouts`.
mod scale {
    use std::time::Duration;

    /// Asking a replica (or the master, for MHA's double check) during a confirmation:
    /// ping_interval, but at least this.
    pub(super) const PROBE_FLOOR: Duration = Duration::from_secs(1);
    /// A replica's host opening the master's port: 0.9 × ping_interval within these.
    pub(super) const VANTAGE_MIN: Duration = Duration::from_millis(300);
    pub(super) const VANTAGE_MAX: Duration = Duration::from_secs(1);
    /// Gathering a crash's evidence after the watch connection broke: ping_interval within
    /// these.
    pub(super) const CRASH_WINDOW_MIN: Duration = Duration::from_millis(500);
    pub(super) const CRASH_WINDOW_MAX: Duration = Duration::from_secs(2);
}

/// SIGTERM/SIGINT, listened to for the manager's whole life. A signal is remembered: one that
/// arrives while a failover runs is honoured once the failover has finished, and one that
/// arrives during start-up checks or confirmation is not lost.
struct StopSignal(tokio::sync::watch::Receiver<bool>);

impl StopSignal {
    /// `app`: the stop of this one application in a manager that runs several (see `apps`).
    fn install(app: Option<tokio::sync::watch::Receiver<bool>>) -> StopSignal {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::spawn(async move {
            let app_stop = async {
                match app {
                    Some(mut r) => {
                        let _ = r.wait_for(|stop| *stop).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = app_stop => {}
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
    /// Where to serve /metrics, /status and /health (`--http`, else `http_listen`).
    pub http_listen: Option<std::net::SocketAddr>,
}

/// How the manager ended. `cli::exit::Exit::of_manager` is the one place that turns it into
/// an exit code.
#[derive(Debug)]
pub enum Outcome {
    /// SIGTERM/SIGINT.
    Stopped,
    /// --check_only passed.
    Checked,
    /// Start-up checks failed.
    ConfigError(StartupError),
    /// Another manager holds the lock (workdir or master advisory lock).
    AlreadyRunning(MonitorLockError),
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

/// The manager's life across masters: a failover or a planned switchover changes the master
/// it monitors; the workdir, the status file, the signals and the deposed masters' watches
/// stay.
struct Manager {
    opts: ManagerOptions,
    config: Arc<Config>,
    workdir: PathBuf,
    status: StatusFile,
    stop: StopSignal,
    /// What to do after a confirmed death: None = only report it (--monitor_only).
    failover: Option<FailoverOptions>,
    /// Deposed masters, watched after their failover for as long as the manager runs.
    deposed: DeposedWatches,
    /// What the HTTP server (if any) tells: fed as the manager goes.
    telemetry: Arc<Telemetry>,
}

/// What the manager does once a confirmed death has been handed over.
enum AfterFailover {
    /// A new master was promoted: monitor it.
    MonitorNewMaster,
    /// End with the death as the outcome: --monitor_only, or a --dry-run failover.
    ReportDeath,
    /// End with this outcome.
    Stop(Outcome),
}

pub async fn run(opts: ManagerOptions, config: Arc<Config>) -> Outcome {
    run_app(opts, config, None).await
}

/// One application's manager; `app_stop` ends it alone (a manager running several). With
/// `etcd_endpoints` it acts only while it leads the application (`coordinated`).
pub async fn run_app(
    opts: ManagerOptions,
    config: Arc<Config>,
    app_stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> Outcome {
    if config.app.etcd.is_some() && !opts.check_only {
        return coordinated::run(opts, config, app_stop).await;
    }
    run_alone(opts, config, app_stop).await
}

/// The manager as MHA's: it monitors and acts with no one to ask.
async fn run_alone(
    opts: ManagerOptions,
    config: Arc<Config>,
    app_stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> Outcome {
    let workdir = opts
        .workdir
        .clone()
        .unwrap_or_else(|| config.app.manager_workdir.clone());
    if let Err(source) = std::fs::create_dir_all(&workdir) {
        return Outcome::ConfigError(StartupError::Workdir {
            path: workdir,
            source,
        });
    }
    let _lock = match ManagerLock::acquire(&workdir, &config.app_name) {
        Ok(l) => l,
        Err(e) => return Outcome::AlreadyRunning(e.into()),
    };
    let telemetry = Telemetry::new(
        &config.app_name,
        workdir.clone(),
        config.app.manager_log.clone(),
        config.app.ping_interval,
    );
    // Before the status file: a manager that cannot serve what it was told to leaves none.
    let _http = match opts.http_listen.map(server::bind).transpose() {
        Ok(listener) => {
            listener.map(|l| AbortOnDrop(tokio::spawn(server::serve(l, telemetry.clone()))))
        }
        Err(e) => return Outcome::ConfigError(StartupError::Http(e)),
    };
    let mut status = open_status_file(&workdir, &config.app_name);
    let observer = telemetry.clone();
    status.on_change(move |s| observer.status(s));
    let stop = StopSignal::install(app_stop);
    let _warm = keep_ssh_sessions(&config);
    let mut manager = Manager {
        failover: opts.failover.clone(),
        deposed: DeposedWatches::new(&workdir, &opts.conf, &opts.global),
        opts,
        config,
        workdir,
        status,
        stop,
        telemetry,
    };
    let outcome = manager.supervise().await;
    manager.shut_down(&outcome).await;
    outcome
}

/// MHA's status file. One left behind means a killed manager, or two sharing a workdir.
fn open_status_file(workdir: &Path, app: &str) -> StatusFile {
    let mut status = StatusFile::new(workdir, app);
    if status.path().exists() {
        warn!(
            "{} already exists. You might have killed manager with SIGKILL(-9), may run two or more monitoring process for the same application, or use the same working directory. Check for details, and consider setting --workdir separately.",
            status.path().display()
        );
    }
    let _ = status.set(Status::InitializingMonitor, None);
    status
}

/// One SSH session per host, held open: detection asks the replicas' hosts over them, and
/// a failover saves the dead master's binlog without a new key exchange.
fn keep_ssh_sessions(config: &Config) -> AbortOnDrop {
    let hosts: Vec<crate::config::SshConfig> = config
        .servers
        .iter()
        .map(|s| s.ssh.clone())
        .chain(config.binlog_servers.iter().map(|b| b.ssh.clone()))
        .collect();
    AbortOnDrop(crate::ssh::pool::pool().keep_warm(hosts, Duration::from_secs(2)))
}

impl Manager {
    /// Monitor the master; follow a planned switchover; hand a confirmed death over to the
    /// failover and monitor the new master.
    async fn supervise(&mut self) -> Outcome {
        loop {
            let outcome = self.monitor().await;
            if let Outcome::FollowSwitch(new_master) = &outcome {
                self.follow_switch(new_master);
                continue;
            }
            let Outcome::MasterDead { master, facts, .. } = &outcome else {
                return outcome;
            };
            self.telemetry.dead();
            match self.fail_over(master, facts).await {
                AfterFailover::MonitorNewMaster => {}
                AfterFailover::ReportDeath => return outcome,
                AfterFailover::Stop(stopped) => return stopped,
            }
        }
    }

    /// Monitor the current master until it dies, a planned switchover replaces it, or the
    /// manager stops: MHA's start-up checks, its lock on the master, then the ping loop.
    async fn monitor(&mut self) -> Outcome {
        let checked = tokio::select! {
            r = startup_checks(&self.config, &self.opts) => r,
            _ = self.stop.wait() => {
                info!("Got terminate signal. Exit.");
                return Outcome::Stopped;
            }
        };
        let (master_idx, lock) = match checked {
            Ok(_) if self.opts.check_only => return Outcome::Checked,
            Ok(m) => {
                let master = &self.config.servers[m];
                match take_monitor_lock(master, self.config.app.timeouts.sql).await {
                    Ok(c) => (m, Some(c)),
                    Err(e) => return Outcome::AlreadyRunning(e),
                }
            }
            Err(StartupError::MasterUnreachable { index, name }) if self.took_over() => {
                warn!(
                    "The master {name} does not answer now that this manager leads: checking whether it is dead, as if it had stopped answering while monitored."
                );
                (index, None)
            }
            Err(e) => return Outcome::ConfigError(e),
        };
        PingLoop::new(
            &self.opts,
            &mut self.config,
            &mut self.status,
            &self.workdir,
            &mut self.stop,
            master_idx,
            lock,
            self.deposed.reload_requests(),
            self.telemetry.clone(),
        )
        .run()
        .await
    }

    /// This manager leads the application among several (etcd): a master that died while
    /// the leadership changed hands is its to fail over, where a manager alone (MHA's) stops
    /// at start-up and leaves it to an operator.
    fn took_over(&self) -> bool {
        self.failover.as_ref().is_some_and(|f| f.fence.is_some())
    }

    fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.config
            .servers
            .iter()
            .find(|s| s.display_name() == name)
    }

    fn follow_switch(&mut self, new_master: &str) {
        info!("Planned switchover to {new_master} done: following the new master.");
        self.deposed.follow(self.server(new_master).cloned());
        let _ = std::fs::remove_file(super::switchover::switch_marker(
            &self.workdir,
            &self.config.app_name,
        ));
        let _ = self.status.set(Status::InitializingMonitor, None);
    }

    /// Hand the confirmed death of `dead` over to the failover (unless --monitor_only),
    /// once the block period allows it.
    async fn fail_over(&mut self, dead: &str, facts: &Detected) -> AfterFailover {
        // Kept from before the reload that follows a failover, which drops the dead master.
        let dead_server = self.server(dead).cloned();
        let dead_host = dead_server.as_ref().map(|s| s.hostname.clone());
        let dead_host = dead_host.as_deref();
        let Some(fo) = self.failover.as_mut() else {
            return AfterFailover::ReportDeath;
        };
        fo.workdir = self.workdir.clone();
        fo.master_may_answer = self.config.app.ping_type == PingType::Insert;
        fo.detected = Some(facts.clone());
        fo.dead_master_block = dead_server.as_ref().map(|s| s.block.clone());
        if self.stop.requested() {
            warn!("Stop requested before the failover started: not starting it.");
            return AfterFailover::Stop(Outcome::Stopped);
        }
        let _ = self.status.set(Status::FailoverRunning, dead_host);
        let (config, status, stop) = (&self.config, &mut self.status, &mut self.stop);
        if !wait_for_acknowledgement(config, fo, status, dead_host, stop).await {
            return AfterFailover::Stop(Outcome::Stopped);
        }
        let _ = self.status.set(Status::FailoverRunning, dead_host);
        let before = shared::begin(fo, dead).await;
        let rec = run_failover(&self.config, fo, &mut self.stop).await;
        shared::end(fo, dead, before, rec.outcome).await;
        count_failover(&self.telemetry, &rec);
        // An operator's --ignore_last_failover covers the first failover only: the next one
        // within last_failover_minute waits for an acknowledgement.
        fo.ignore_last_failover = false;
        self.status.set_last_failover(rec.last_failover());
        match rec.outcome {
            failover::Outcome::Success
            | failover::Outcome::Partial
            | failover::Outcome::DataNotRecovered => {
                self.monitor_new_master(dead, dead_server, &rec)
            }
            failover::Outcome::DryRun => {
                log_dry_run(&rec);
                AfterFailover::ReportDeath
            }
            _ => self.failover_failed(rec, dead_host).await,
        }
    }

    /// A new master was promoted: monitor it from now on, and watch the deposed one.
    fn monitor_new_master(
        &mut self,
        dead: &str,
        dead_server: Option<ServerConfig>,
        rec: &FailoverRecord,
    ) -> AfterFailover {
        // Data lost (or possibly lost) is no reason to leave the new master
        // unwatched, but it must not pass unnoticed.
        for n in &rec.not_recovered {
            error!("NOT recovered by the failover: {n}");
        }
        let new_master = rec.new_master.clone().unwrap_or_default();
        info!(
            "{}; monitoring the new master {new_master} from now on",
            rec.subject()
        );
        let before = self.config.clone();
        self.config = config_without(&self.opts, &before, dead);
        let new_server = rec
            .new_master_id
            .as_ref()
            .and_then(|id| self.config.server(id));
        self.deposed.follow(new_server.cloned());
        if let Some(dead_server) = dead_server {
            self.deposed
                .watch(&before, dead_server, &new_master, rec.started_unix);
        }
        if self.stop.requested() {
            info!("Stopping now, as requested during the failover.");
            return AfterFailover::Stop(Outcome::Stopped);
        }
        let _ = self.status.set(Status::InitializingMonitor, None);
        AfterFailover::MonitorNewMaster
    }

    /// The failover failed: MHA's FAILOVER_ERROR, held for --wait_on_failover_error.
    async fn failover_failed(
        &mut self,
        rec: FailoverRecord,
        dead_host: Option<&str>,
    ) -> AfterFailover {
        let _ = self.status.set(Status::FailoverError, dead_host);
        tokio::select! {
            _ = tokio::time::sleep(self.opts.wait_on_failover_error) => {}
            _ = self.stop.wait() => {}
        }
        AfterFailover::Stop(Outcome::FailoverFailed(
            rec.error.unwrap_or_else(|| "failover failed".into()),
        ))
    }

    /// MHA's exit: after failed start-up checks, CONFIG_ERROR shows for
    /// --wait_on_monitor_error before the status file goes.
    async fn shut_down(&mut self, outcome: &Outcome) {
        if let Outcome::ConfigError(_) = outcome {
            let _ = self.status.set(Status::ConfigError, None);
            tokio::time::sleep(self.opts.wait_on_monitor_error).await;
        }
        self.status.remove();
        notify(&[sd_notify::NotifyState::Stopping]);
    }
}

/// The configuration after a failover, without the dead master (still listed without
/// --remove_dead_master_conf); if the file cannot be read, the one in use, less the dead master.
fn config_without(opts: &ManagerOptions, current: &Config, dead: &str) -> Arc<Config> {
    let mut c = match config::load(&opts.conf, &opts.global) {
        Ok(l) => l.config,
        Err(e) => {
            warn!(
                "configuration not reloaded after the failover ({e}); going on without the dead master"
            );
            current.clone()
        }
    };
    c.servers.retain(|s| s.display_name() != dead);
    Arc::new(c)
}

/// Run the failover to its end. A stop request never interrupts a failover half way: it is
/// honoured afterwards.
async fn run_failover(
    config: &Config,
    fo: &FailoverOptions,
    stop: &mut StopSignal,
) -> FailoverRecord {
    // A failover can take a while (relay logs to apply): keep systemd's watchdog fed.
    let ticker = watchdog_ticker();
    let run = failover::failover(config, fo);
    tokio::pin!(run);
    let mut told = false;
    let rec = loop {
        tokio::select! {
            rec = &mut run => break rec,
            _ = stop.wait(), if !told => {
                warn!("Got terminate signal during the failover: the manager stops once it has finished.");
                told = true;
            }
        }
    };
    ticker.abort();
    rec
}

/// The failover's result and phase durations, in the metrics.
fn count_failover(telemetry: &Telemetry, rec: &FailoverRecord) {
    let result = serde_json::to_value(rec.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let phases: Vec<(&str, u64)> = rec.phases.iter().map(|p| (p.phase, p.ms)).collect();
    let started = rec.last_failover().map(|l| l.started_unix);
    telemetry.metrics.failover(&result, &phases, started);
}

fn log_dry_run(rec: &FailoverRecord) {
    info!("{}", rec.subject());
    for step in &rec.plan {
        info!("dry run: {step}");
    }
    for n in &rec.not_recovered {
        warn!("dry run: would not be recovered: {n}");
    }
    info!("--dry-run: nothing was changed; the manager stops here.");
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
        let m = shared::markers(m, fo).await;
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
