//! Several applications in one manager (`manager --conf-dir DIR`, or `--conf` repeated): one
//! task per application, each with its own workdir, lock, status file and log, so that one
//! application's failover never delays another's pings. SIGHUP reads the directory again:
//! applications whose file appeared start, those whose file went stop, the others go on
//! untouched (each one re-reads its own file on the same SIGHUP, as a single manager does).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument, error, info, warn};

use super::{ManagerOptions, Outcome, run_app};
use crate::config::Config;
use crate::status::{shared_manager_path, stop_request_path};

/// One application, ready to run.
pub struct App {
    pub name: String,
    pub workdir: PathBuf,
    pub opts: ManagerOptions,
    pub config: Arc<Config>,
    /// The span its task runs in: its log lines carry the application's name (and go to its
    /// own manager_log).
    pub span: tracing::Span,
}

/// Reads one configuration file into an `App` (the cli's loading and options); the error
/// names the file and what is wrong with it.
pub type Prepare = dyn Fn(&Path) -> Result<App, String> + Send + Sync;

struct Running {
    name: String,
    workdir: PathBuf,
    stop: watch::Sender<bool>,
    task: JoinHandle<Outcome>,
}

/// The applications of one manager process.
pub struct AppSet {
    dir: Option<PathBuf>,
    files: Vec<PathBuf>,
    prepare: Box<Prepare>,
    running: BTreeMap<PathBuf, Running>,
    ended: Vec<(String, Outcome)>,
}

/// How often stop requests and ended applications are looked at.
const TICK: Duration = Duration::from_millis(300);

impl AppSet {
    pub fn new(dir: Option<PathBuf>, files: Vec<PathBuf>, prepare: Box<Prepare>) -> AppSet {
        AppSet {
            dir,
            files,
            prepare,
            running: BTreeMap::new(),
            ended: Vec::new(),
        }
    }

    /// Run until every application has ended (after SIGTERM/SIGINT, or each on its own when
    /// there is no directory to wait on); how each one ended.
    pub async fn run(mut self) -> Vec<(String, Outcome)> {
        let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        let mut stopping = false;
        self.sync().await;
        loop {
            self.reap().await;
            if self.running.is_empty() && (stopping || self.dir.is_none()) {
                return self.ended;
            }
            tokio::select! {
                _ = hup.recv() => {
                    info!("SIGHUP: reading the applications' configuration again");
                    self.sync().await;
                }
                _ = term.recv() => stopping = true,
                _ = int.recv() => stopping = true,
                _ = tokio::time::sleep(TICK) => self.stop_requested(),
            }
        }
    }

    /// The configuration files wanted now: the --conf files, then the directory's *.toml and
    /// *.cnf files in name order.
    fn wanted(&self) -> Vec<PathBuf> {
        let mut files = self.files.clone();
        if let Some(dir) = &self.dir {
            files.extend(conf_files(dir));
        }
        files
    }

    /// Stop the applications whose file is gone; start those not running.
    async fn sync(&mut self) {
        let wanted = self.wanted();
        let gone: Vec<PathBuf> = self
            .running
            .keys()
            .filter(|f| !wanted.contains(f))
            .cloned()
            .collect();
        for file in &gone {
            if let Some(r) = self.running.get(file) {
                info!(
                    "{} is no longer configured: stopping application {}",
                    file.display(),
                    r.name
                );
                let _ = r.stop.send(true);
            }
        }
        // Their tasks end at once, or after a failover under way (the others run on
        // meanwhile: they are tasks of their own).
        for file in gone {
            if let Some(r) = self.running.remove(&file) {
                self.ended(r).await;
            }
        }
        self.reap().await;
        for file in wanted {
            if !self.running.contains_key(&file) {
                self.start(file);
            }
        }
    }

    fn start(&mut self, file: PathBuf) {
        let app = match (self.prepare)(&file) {
            Ok(a) => a,
            Err(e) => {
                error!("application of {} not started: {e}", file.display());
                return;
            }
        };
        if let Some(other) = self.running.values().find(|r| r.name == app.name) {
            error!(
                "application of {} not started: another file already configures application {}",
                file.display(),
                other.name
            );
            return;
        }
        if let Err(e) = std::fs::create_dir_all(&app.workdir).and_then(|()| {
            std::fs::write(
                shared_manager_path(&app.workdir, &app.name),
                std::process::id().to_string(),
            )
        }) {
            warn!(
                "application {}: cannot write in {}: {e}",
                app.name,
                app.workdir.display()
            );
        }
        info!(
            "application {} ({}): starting its monitor",
            app.name,
            file.display()
        );
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run_app(app.opts, app.config, Some(rx)).instrument(app.span));
        let running = Running {
            name: app.name,
            workdir: app.workdir,
            stop,
            task,
        };
        self.running.insert(file, running);
    }

    /// `stop --conf APP`: a request file in the application's workdir.
    fn stop_requested(&mut self) {
        for r in self.running.values() {
            let request = stop_request_path(&r.workdir, &r.name);
            if std::fs::remove_file(&request).is_ok() {
                info!("application {}: stop requested", r.name);
                let _ = r.stop.send(true);
            }
        }
    }

    /// Collect the applications that ended.
    async fn reap(&mut self) {
        let done: Vec<PathBuf> = self
            .running
            .iter()
            .filter(|(_, r)| r.task.is_finished())
            .map(|(f, _)| f.clone())
            .collect();
        for file in done {
            if let Some(r) = self.running.remove(&file) {
                self.ended(r).await;
            }
        }
    }

    async fn ended(&mut self, r: Running) {
        let outcome = r
            .task
            .await
            .unwrap_or_else(|e| Outcome::FailoverFailed(format!("task failed: {e}")));
        if !matches!(outcome, Outcome::AlreadyRunning(_)) {
            let _ = std::fs::remove_file(shared_manager_path(&r.workdir, &r.name));
        }
        match &outcome {
            Outcome::Stopped => info!("application {} stopped", r.name),
            o => warn!("application {} ended: {o:?}", r.name),
        }
        self.ended.push((r.name, outcome));
    }
}

/// The application files of a directory: *.toml and *.cnf, in name order.
pub fn conf_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        error!("cannot read the configuration directory {}", dir.display());
        return vec![];
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("toml") | Some("cnf")
                )
        })
        .collect();
    files.sort();
    files
}
