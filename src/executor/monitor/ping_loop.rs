//! The ping loop: MHA's health check of one master, after its start-up checks passed. Each
//! round either pauses for a planned switchover or waits for the first of: a stop, a reload
//! (SIGHUP), the watch connection's end, the next ping. A failed ping feeds the detector; when
//! it says the master is suspect, the other routes confirm (or not) that it is dead.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing::{error, info, warn};

use crate::config::{self, Config, PingType, ServerConfig};
use crate::engine::detect::{
    Decision, Detector, PingOutcome, SshCheck, Step, confirm_dead, crash_proven,
};
use crate::executor::failover::{Detected, MasterSql};
use crate::executor::observe::target;
use crate::executor::switchover::SwitchMarker;
use crate::executor::watch::{Watch, WatchEvent, crash_evidence, spawn_watch};
use crate::sql::{self, DbError, Session};
use crate::status::{Status, StatusFile};

use super::evidence::{EarlyProbes, gather_evidence};
use super::replicas::ReplicaCheck;
use super::semi_sync::SemiSyncWatch;
use super::{ManagerOptions, Outcome, StopSignal, notify, scale, watchdog_ticker};
use crate::telemetry::Telemetry;

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

/// Where a planned switchover stands, as its marker file says.
enum PlannedSwitch {
    None,
    Running(SwitchMarker),
    Done { new_master: String },
}

/// What woke the ping loop up.
enum Wake {
    Stop,
    Reload,
    Watch(Option<WatchEvent>),
    Ping(PingOutcome, std::time::Duration),
}

/// Continue: the next round. Break: this master is no longer monitored, and why.
type Round = ControlFlow<Outcome>;

/// Monitoring one master: everything that lives from its start-up checks until it dies, a
/// planned switchover replaces it, or the manager stops.
pub(super) struct PingLoop<'a> {
    opts: &'a ManagerOptions,
    config: &'a mut Arc<Config>,
    status: &'a mut StatusFile,
    workdir: &'a Path,
    stop: &'a mut StopSignal,
    master_idx: usize,
    master: ServerConfig,
    /// The session holding MONITOR_LOCK on the master; let go when it is declared dead.
    lock: Option<Session>,
    sighup: Signal,
    /// An auto_rejoin wrote a server back into the configuration file.
    reload: Arc<tokio::sync::Notify>,
    detector: Detector,
    pinger: Pinger,
    probes: EarlyProbes,
    watch: Watch,
    /// Pings start every ping_interval; the wait for the next one is where a watch
    /// connection's loss or a signal is noticed at once.
    next_ping: tokio::time::Instant,
    /// Health checks are paused while a planned switchover runs.
    paused: bool,
    /// The look at semi-sync beside the pings.
    semi_sync: SemiSyncWatch,
    telemetry: Arc<Telemetry>,
    /// The slow look at every replica (readiness, replica metrics).
    replicas: ReplicaCheck,
}

impl<'a> PingLoop<'a> {
    // The manager's parts this loop borrows, one argument each.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        opts: &'a ManagerOptions,
        config: &'a mut Arc<Config>,
        status: &'a mut StatusFile,
        workdir: &'a Path,
        stop: &'a mut StopSignal,
        master_idx: usize,
        lock: Option<Session>,
        reload: Arc<tokio::sync::Notify>,
        telemetry: Arc<Telemetry>,
    ) -> PingLoop<'a> {
        let master = config.servers[master_idx].clone();
        let sighup = signal(SignalKind::hangup()).expect("SIGHUP handler");
        let detector = Detector::new(config.app.ping_failures);
        let watch = spawn_watch(master.clone(), &config.app.timeouts);
        let semi_sync = SemiSyncWatch::spawn(config, master_idx, config.app.ping_interval);
        let replicas = ReplicaCheck::spawn(
            config.clone(),
            master_idx,
            telemetry.clone(),
            workdir.to_path_buf(),
        );
        PingLoop {
            opts,
            config,
            status,
            workdir,
            stop,
            master_idx,
            master,
            lock,
            sighup,
            reload,
            detector,
            pinger: Pinger {
                conn: None,
                last_fresh: false,
            },
            probes: EarlyProbes::default(),
            watch,
            next_ping: tokio::time::Instant::now(),
            paused: false,
            semi_sync,
            telemetry,
            replicas,
        }
    }

    /// The loop, until this master is no longer the one monitored.
    pub(super) async fn run(mut self) -> Outcome {
        self.announce();
        let outcome = loop {
            let round = match self.planned_switch() {
                PlannedSwitch::Done { new_master } => break Outcome::FollowSwitch(new_master),
                PlannedSwitch::Running(marker) => self.pause_for_switch(&marker).await,
                PlannedSwitch::None => self.health_check().await,
            };
            if let ControlFlow::Break(outcome) = round {
                break outcome;
            }
        };
        self.telemetry.monitoring(None);
        outcome
    }

    fn set_status(&mut self, status: Status) {
        let _ = self.status.set(status, Some(&self.master.hostname));
    }

    /// The start-up checks passed: MHA's "Ping succeeded", and systemd's READY.
    fn announce(&mut self) {
        self.telemetry.monitoring(Some(self.master.display_name()));
        if self.lock.is_none() {
            // Taken over with the master silent: no "succeeded", straight to the checks.
            self.set_status(Status::PingFailing);
            notify(&[sd_notify::NotifyState::Ready]);
            return;
        }
        self.set_status(Status::PingOk);
        info!(
            master = %self.master.display_name(),
            "Ping({}) succeeded, waiting until MySQL doesn't respond..",
            self.config.app.ping_type.name()
        );
        notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&format!(
                "monitoring master {}",
                self.master.display_name()
            )),
        ]);
    }

    /// A planned switchover: its write block is not a failure; afterwards follow it.
    fn planned_switch(&mut self) -> PlannedSwitch {
        let app = &self.config.app_name;
        match crate::executor::switchover::read_marker(self.workdir, app) {
            // A switch that ended before this manager found its master (the one it switched
            // to): there is nothing to follow.
            Some(m) if m.state == "done" && m.new_master == self.master.display_name() => {
                let marker = crate::executor::switchover::switch_marker(self.workdir, app);
                let _ = std::fs::remove_file(marker);
                PlannedSwitch::None
            }
            Some(m) if m.state == "done" => PlannedSwitch::Done {
                new_master: m.new_master,
            },
            Some(m) => PlannedSwitch::Running(m),
            None => {
                if self.paused {
                    info!("The planned switchover ended without a new master: monitoring goes on.");
                    self.paused = false;
                    self.telemetry.paused(false);
                }
                PlannedSwitch::None
            }
        }
    }

    /// One round while a planned switchover runs: no pings, no verdicts.
    async fn pause_for_switch(&mut self, m: &SwitchMarker) -> Round {
        if !self.paused {
            info!(
                "Planned switchover to {} in progress (pid {}): health checks paused.",
                m.new_master, m.pid
            );
            self.paused = true;
            self.telemetry.paused(true);
            self.detector.reset();
            self.probes.clear();
        }
        notify(&[sd_notify::NotifyState::Watchdog]);
        self.set_status(Status::PingOk);
        tokio::select! {
            _ = tokio::time::sleep(self.config.app.ping_interval) => {}
            _ = self.stop.wait() => return ControlFlow::Break(Outcome::Stopped),
            // The switch restarts the master's connections: not a crash.
            _ = self.watch.events.recv() => {}
        }
        ControlFlow::Continue(())
    }

    /// One round of MHA's health check.
    async fn health_check(&mut self) -> Round {
        match self.wait_for_wake().await {
            Wake::Stop => {
                info!("Got terminate signal. Exit.");
                ControlFlow::Break(Outcome::Stopped)
            }
            Wake::Reload => {
                self.reload();
                ControlFlow::Continue(())
            }
            Wake::Watch(event) => self.on_watch_event(event).await,
            Wake::Ping(outcome, took) => self.on_ping(outcome, took).await,
        }
    }

    async fn wait_for_wake(&mut self) -> Wake {
        let config: &Config = self.config;
        let (pinger, master, next_ping) = (&mut self.pinger, &self.master, self.next_ping);
        let ping = async move {
            tokio::time::sleep_until(next_ping).await;
            let started = tokio::time::Instant::now();
            let outcome = pinger.ping(config, master).await;
            (started, started.elapsed(), outcome)
        };
        tokio::select! {
            _ = self.stop.wait() => Wake::Stop,
            _ = self.sighup.recv() => Wake::Reload,
            _ = self.reload.notified() => Wake::Reload,
            ev = self.watch.events.recv(), if config.app.fast_crash_detection => Wake::Watch(ev),
            (started, took, o) = ping => {
                self.next_ping = started + config.app.ping_interval;
                Wake::Ping(o, took)
            }
        }
    }

    /// SIGHUP: read the configuration again, as long as it still lists the master.
    fn reload(&mut self) {
        let (conf, global) = (&self.opts.conf, &self.opts.global);
        match config::load(conf, global) {
            Ok(l) => match l
                .config
                .servers
                .iter()
                .position(|s| s.ip == self.master.ip && s.port == self.master.port)
            {
                Some(i) => {
                    crate::log_level::apply(&l.config.app.log_level);
                    *self.config = Arc::new(l.config);
                    self.master_idx = i;
                    self.master = self.config.servers[i].clone();
                    self.detector = Detector::new(self.config.app.ping_failures);
                    self.replicas = ReplicaCheck::spawn(
                        self.config.clone(),
                        i,
                        self.telemetry.clone(),
                        self.workdir.to_path_buf(),
                    );
                    info!("configuration reloaded from {}", conf.display());
                }
                None => error!(
                    "configuration not reloaded: the current master {} is not in it",
                    self.master.display_name()
                ),
            },
            Err(e) => error!("configuration not reloaded: {e}"),
        }
    }

    async fn on_watch_event(&mut self, event: Option<WatchEvent>) -> Round {
        match event {
            Some(WatchEvent::Lost(detail)) => return self.check_crash(detail).await,
            Some(WatchEvent::Notice(detail)) => {
                info!(
                    "The master announced the end of the watch connection ({detail}): a clean shutdown or a kill, not a crash; the pings decide."
                );
                self.next_ping = tokio::time::Instant::now();
            }
            None => {}
        }
        ControlFlow::Continue(())
    }

    fn master_pid_file(&self) -> Option<String> {
        self.watch
            .pid_file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The watch connection was lost: a crash, if the evidence proves it.
    async fn check_crash(&mut self, detail: String) -> Round {
        warn!("The watch connection to the master was closed ({detail}): checking for a crash");
        let pid_file = self.master_pid_file();
        let within = self
            .config
            .app
            .ping_interval
            .clamp(scale::CRASH_WINDOW_MIN, scale::CRASH_WINDOW_MAX);
        let evidence = tokio::select! {
            e = crash_evidence(self.config, self.master_idx, detail, pid_file, within) => e,
            _ = self.stop.wait() => {
                info!("Got terminate signal. Exit.");
                return ControlFlow::Break(Outcome::Stopped);
            }
        };
        match crash_proven(&evidence) {
            Decision::Dead { evidence: lines } => {
                let facts = Detected {
                    at: Instant::now(),
                    master_ssh: Some(true),
                    master_sql: MasterSql::Refused,
                    pid_file: self.master_pid_file(),
                    semi_sync: None,
                };
                ControlFlow::Break(self.master_down("crashed!", lines, facts))
            }
            Decision::NotDead { reason } => {
                info!("Not a proven crash ({reason}): the pings decide.");
                self.next_ping = tokio::time::Instant::now();
                ControlFlow::Continue(())
            }
        }
    }

    /// A ping's outcome, as the detector judges it.
    async fn on_ping(&mut self, outcome: PingOutcome, took: std::time::Duration) -> Round {
        notify(&[sd_notify::NotifyState::Watchdog]);
        let step = self.detector.on_probe(&outcome);
        self.telemetry.ping(took, self.detector.failures());
        match step {
            Step::Healthy => {
                if self.probes.clear() {
                    info!("Ping succeeded again; the master is alive.");
                }
                self.set_status(Status::PingOk);
            }
            Step::Busy { code, reason } => {
                warn!(
                    "Got MySQL error {code}, but this is not a MySQL crash. Continue health check.. ({reason})"
                );
                self.set_status(Status::PingOk);
            }
            Step::Failing { count, reason } => {
                warn!("Got error on MySQL ping: {reason}");
                warn!("Connection failed {count} time(s)..");
                self.set_status(Status::PingFailing);
                self.probes
                    .start(self.config, self.master_idx, &self.master);
            }
            Step::Suspect { count, reason } => return self.confirm(count, reason).await,
        }
        ControlFlow::Continue(())
    }

    /// MHA's "Master is not reachable from health checker!": ask the other routes, and let
    /// the engine decide whether the master is dead.
    async fn confirm(&mut self, count: u32, reason: String) -> Round {
        warn!("Got error on MySQL ping: {reason}");
        warn!("Connection failed {count} time(s)..");
        self.set_status(Status::PingFailed);
        warn!("Master is not reachable from health checker!");
        notify(&[sd_notify::NotifyState::Status(&format!(
            "master {} not reachable from the manager; confirming",
            self.master.display_name()
        ))]);
        let probes = self.probes.take(self.config, self.master_idx, &self.master);
        // Confirmation may run hooks for a while: keep systemd's watchdog fed meanwhile.
        let ticker = watchdog_ticker();
        // MHA's double check (a new connection to the master) is redundant when the
        // failed ping was itself a new connection; it would only cost another timeout.
        let double_check = !self.pinger.last_fresh && self.config.app.ping_type != PingType::Insert;
        let evidence = tokio::select! {
            e = gather_evidence(self.config, self.master_idx, probes, double_check, reason) => e,
            _ = self.stop.wait() => {
                ticker.abort();
                info!("Got terminate signal while confirming. Exit.");
                return ControlFlow::Break(Outcome::Stopped);
            }
        };
        ticker.abort();
        match confirm_dead(&evidence) {
            Decision::Dead { evidence: lines } => {
                let facts = Detected {
                    at: Instant::now(),
                    master_ssh: match &evidence.ssh {
                        SshCheck::Reachable => Some(true),
                        SshCheck::Unreachable { .. } => Some(false),
                        SshCheck::NoAnswerYet { .. } => Some(false),
                        SshCheck::NotChecked => None,
                    },
                    master_sql: MasterSql::Silent,
                    pid_file: self.master_pid_file(),
                    semi_sync: None,
                };
                ControlFlow::Break(self.master_down("is not reachable!", lines, facts))
            }
            Decision::NotDead { reason } => {
                warn!(
                    "Master {} is not declared dead: {reason}",
                    self.master.display_name()
                );
                self.set_status(Status::RetryingMonitor);
                self.detector.reset();
                ControlFlow::Continue(())
            }
        }
    }

    /// Let go of the monitor lock, log the verdict and its evidence, MHA's `Master is down!`,
    /// and hand over to the failover.
    fn master_down(&mut self, how: &str, evidence: Vec<String>, mut facts: Detected) -> Outcome {
        drop(self.lock.take());
        facts.semi_sync = self.semi_sync.last_seen(facts.at).map(Box::new);
        let master = &self.master;
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
}
