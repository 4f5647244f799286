//! After a failover, watch the deposed master until an operator says otherwise. A crashed
//! master that systemd restarts, a hung one that thaws, a host back on the network: each comes
//! back with the `read_only` of its own my.cnf (OFF on a former master) and would take writes
//! next to the new master. Every ping_interval the watch tries to connect (a short timeout);
//! the moment it answers, it is made read-only and its client sessions are killed, and what it
//! has that the current master lacks (the errant set) is logged and written to its marker file,
//! `<app>.deposed.<host>_<port>.json` in the manager's workdir, where `mha rejoin` starts from.
//!
//! The watch ends when an operator removes the marker, or when the server is back in the
//! configuration as a replica of the current master. It runs as long as the manager does.
//! The decisions are `engine::deposed::decide`; see docs/failover.md, "Fencing".

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::observe::{VersionError, server_version, target};
use super::rejoin;
use crate::config::{self, Config, Fencing, GlobalConf, ServerConfig};
use crate::engine::deposed::{self, Action, Answer, Look, Return, Seen, StopReason};
use crate::sql::dialect::Dialect;
use crate::sql::{self, DbError, Session};
use crate::topology::{Flavour, ReplicaStatus};

/// Where the watch of a deposed master stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerState {
    /// Watched: fenced whenever it answers again.
    Watching,
    /// It replicates from the current master again (`mha rejoin`, `auto_rejoin`).
    Rejoined,
}

/// The marker file: what the watch of one deposed master knows. Written at failover time
/// (`state = watching`, nothing seen yet) and at each return. The latest return's facts are
/// at the top level; `returns` counts them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeposedMarker {
    pub app: String,
    /// `host(ip:port)`.
    pub server: String,
    pub hostname: String,
    pub ip: String,
    pub port: u16,
    pub state: MarkerState,
    /// When the failover that deposed it started.
    pub deposed_unix: u64,
    /// The master promoted in its place.
    pub new_master: String,
    pub fencing: String,
    /// How many times it came back.
    pub returns: u32,
    pub came_back_unix: Option<u64>,
    /// Why the latest look counted as a return.
    pub why: Option<String>,
    pub read_only_set: Option<bool>,
    pub sessions_killed: Option<usize>,
    /// Its GTIDs after the fence (MariaDB `gtid_binlog_pos`, MySQL `gtid_executed`).
    pub gtid_position: Option<String>,
    /// The master it was compared with, and that master's GTIDs.
    pub compared_with: Option<String>,
    pub master_gtid_position: Option<String>,
    /// Transactions only the deposed master has: `none`, a GTID set (MariaDB: the last GTID
    /// per domain-server beyond the master), or null when it could not be computed (`errors`).
    pub errant: Option<String>,
    /// What went wrong at the latest return.
    pub errors: Vec<String>,
}

pub fn marker_path(workdir: &Path, app: &str, s: &ServerConfig) -> PathBuf {
    marker_file(workdir, app, &s.hostname, s.port)
}

pub fn marker_file(workdir: &Path, app: &str, hostname: &str, port: u16) -> PathBuf {
    workdir.join(format!("{app}.deposed.{hostname}_{port}.json"))
}

pub fn read_marker(path: &Path) -> Option<DeposedMarker> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Write through a temporary file, so that a reader never sees half a marker.
pub(crate) fn write_marker(path: &Path, m: &DeposedMarker) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(m).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

/// Update an existing marker; never recreate one an operator has removed.
fn update_marker(path: &Path, m: &DeposedMarker) {
    if !path.exists() {
        return;
    }
    if let Err(e) = write_marker(path, m) {
        error!("cannot write {}: {e}", path.display());
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn fencing_name(f: Fencing) -> &'static str {
    match f {
        Fencing::Kill => "kill",
        Fencing::ReadOnly => "read_only",
        Fencing::None => "none",
    }
}

/// The watches of one manager: one task per deposed master, all ended when it is dropped.
pub(crate) struct DeposedWatches {
    workdir: PathBuf,
    conf: PathBuf,
    global: GlobalConf,
    /// The master the manager follows now: what a deposed master is compared with, and what
    /// it must replicate from to count as rejoined.
    master: watch::Sender<Option<ServerConfig>>,
    tasks: HashMap<PathBuf, JoinHandle<()>>,
    /// Notified when an auto_rejoin wrote a server back into the configuration file: the
    /// ping loop reads it again.
    reload: Arc<Notify>,
}

impl DeposedWatches {
    pub(crate) fn new(workdir: &Path, conf: &Path, global: &GlobalConf) -> DeposedWatches {
        DeposedWatches {
            workdir: workdir.to_path_buf(),
            conf: conf.to_path_buf(),
            global: global.clone(),
            master: watch::channel(None).0,
            tasks: HashMap::new(),
            reload: Arc::new(Notify::new()),
        }
    }

    /// What the manager listens to for "read the configuration again" (see `reload`).
    pub(crate) fn reload_requests(&self) -> Arc<Notify> {
        self.reload.clone()
    }

    /// The manager follows a new master (after a failover or a planned switchover).
    pub(crate) fn follow(&self, master: Option<ServerConfig>) {
        self.master.send_replace(master);
    }

    /// Start watching `dead`, deposed by the failover that started at `deposed_unix` and
    /// promoted `new_master`. `config` is the one the failover ran with (it still lists the
    /// dead master, and gives ping_interval and fencing).
    pub(crate) fn watch(
        &mut self,
        config: &Config,
        dead: ServerConfig,
        new_master: &str,
        deposed_unix: u64,
    ) {
        let path = marker_path(&self.workdir, &config.app_name, &dead);
        let marker = DeposedMarker {
            app: config.app_name.clone(),
            server: dead.display_name(),
            hostname: dead.hostname.clone(),
            ip: dead.ip.clone(),
            port: dead.port,
            state: MarkerState::Watching,
            deposed_unix,
            new_master: new_master.to_string(),
            fencing: fencing_name(config.app.fencing).into(),
            returns: 0,
            came_back_unix: None,
            why: None,
            read_only_set: None,
            sessions_killed: None,
            gtid_position: None,
            compared_with: None,
            master_gtid_position: None,
            errant: None,
            errors: vec![],
        };
        // Without its marker the watch would end at its first look: a watch that cannot
        // record is still worth running, so it goes on, but it is said loudly.
        if let Err(e) = write_marker(&path, &marker) {
            error!(
                "cannot write {}: {e}; the deposed master {} is NOT watched",
                path.display(),
                dead.display_name()
            );
            return;
        }
        info!(
            "Watching the deposed master {} every {:?}: if it comes back it is made read-only; remove {} to stop watching it",
            dead.display_name(),
            config.app.ping_interval,
            path.display()
        );
        let w = Watch {
            dead,
            path: path.clone(),
            marker,
            ping_interval: config.app.ping_interval,
            connect_timeout: config.app.timeouts.dead_master_connect,
            sql_timeout: config.app.timeouts.sql,
            may_fence: config.app.fencing != Fencing::None,
            conf: self.conf.clone(),
            global: self.global.clone(),
            auto_rejoin: config.app.auto_rejoin,
            workdir: self.workdir.clone(),
            reload: self.reload.clone(),
        };
        let task = tokio::spawn(w.run(self.master.subscribe()));
        if let Some(old) = self.tasks.insert(path, task) {
            old.abort();
        }
    }
}

impl Drop for DeposedWatches {
    fn drop(&mut self) {
        for t in self.tasks.values() {
            t.abort();
        }
    }
}

struct Watch {
    dead: ServerConfig,
    path: PathBuf,
    marker: DeposedMarker,
    ping_interval: Duration,
    /// dead_master_connect_timeout: a look connects within the lower of it and ping_interval.
    connect_timeout: Duration,
    /// sql_timeout.
    sql_timeout: Duration,
    may_fence: bool,
    conf: PathBuf,
    global: GlobalConf,
    /// Rejoin it as a replica when it comes back with nothing of its own.
    auto_rejoin: bool,
    workdir: PathBuf,
    reload: Arc<Notify>,
}

/// A deposed master that answered: the session stays open for the fence.
struct Reply {
    db: Session,
    dialect: Dialect,
    flavour: Flavour,
}

fn flag(row: &crate::topology::Row, k: &str) -> Option<bool> {
    row.get(k)
        .cloned()
        .flatten()
        .map(|v| matches!(v.as_str(), "1" | "ON" | "on"))
}

impl Watch {
    async fn run(mut self, master: watch::Receiver<Option<ServerConfig>>) {
        let timeout = self.ping_interval.min(self.connect_timeout);
        let mut last: Option<Seen> = None;
        let mut next = tokio::time::Instant::now();
        let name = self.dead.display_name();
        loop {
            tokio::time::sleep_until(next).await;
            next = tokio::time::Instant::now() + self.ping_interval;
            let current = master.borrow().clone();
            let marker_present = self.path.exists();
            let (answer, reply) = if marker_present {
                self.look(current.as_ref(), timeout).await
            } else {
                (Answer::Silent, None)
            };
            let action = deposed::decide(
                last,
                &Look {
                    marker_present,
                    may_fence: self.may_fence,
                    answer: answer.clone(),
                },
            );
            last = answer.seen();
            match action {
                Action::Wait => {
                    if let Some(r) = reply {
                        r.db.disconnect().await;
                    }
                }
                Action::Stop(reason) => {
                    info!("No longer watching the deposed master {name}: {reason}");
                    if reason == StopReason::Rejoined {
                        self.marker.state = MarkerState::Rejoined;
                        update_marker(&self.path, &self.marker);
                    }
                    if let Some(r) = reply {
                        r.db.disconnect().await;
                    }
                    return;
                }
                Action::Act { why, fence } => {
                    if let Some(r) = reply {
                        self.act(r, current.as_ref(), why, fence, timeout).await;
                        if self.auto_rejoin {
                            self.rejoin().await;
                        }
                    }
                }
            }
        }
    }

    /// One look: does it answer, is it writable, has it rejoined?
    async fn look(
        &self,
        current: Option<&ServerConfig>,
        timeout: Duration,
    ) -> (Answer, Option<Reply>) {
        let Ok(mut db) = sql::connect(&target(&self.dead), timeout).await else {
            return (Answer::Silent, None);
        };
        let version = match server_version(&mut db).await {
            Ok(v) => Some(v),
            Err(VersionError::Unparsable { .. }) => None,
            Err(VersionError::Db(_)) => return (Answer::Silent, None),
        };
        let dialect = version
            .as_ref()
            .map(Dialect::of)
            .unwrap_or(Dialect::MariaDb);
        let flavour = version.map(|v| v.flavour).unwrap_or(Flavour::MariaDb);
        // It answered: if it cannot say whether it is read-only, treat it as writable.
        let row = db
            .row_map("look at the deposed master", dialect.deposed_look())
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let rejoined = match current {
            Some(m) => self.rejoined(&mut db, dialect, m).await,
            None => false,
        };
        let answer = Answer::Answered {
            read_only: flag(&row, "read_only").unwrap_or(false),
            super_read_only: match flavour {
                Flavour::MariaDb => None,
                Flavour::MySql => Some(flag(&row, "super_read_only").unwrap_or(false)),
            },
            uptime_secs: row
                .get("uptime")
                .cloned()
                .flatten()
                .and_then(|v| v.parse().ok()),
            rejoined,
        };
        (
            answer,
            Some(Reply {
                db,
                dialect,
                flavour,
            }),
        )
    }

    /// Listed in the configuration file again and replicating, both threads running, from
    /// the current master.
    async fn rejoined(&self, db: &mut Session, dialect: Dialect, master: &ServerConfig) -> bool {
        let Ok(Some(row)) = db
            .row_map("read replica status", dialect.show_replica_status())
            .await
        else {
            return false;
        };
        let st = ReplicaStatus::from_row(&row);
        let from_master = st.master_port == master.port
            && (st.master_host == master.ip || st.master_host == master.hostname);
        if !(from_master && st.io_running() && st.sql_running()) {
            return false;
        }
        match config::load(&self.conf, &self.global) {
            Ok(l) => l.config.servers.iter().any(|s| {
                s.port == self.dead.port
                    && (s.ip == self.dead.ip || s.hostname == self.dead.hostname)
            }),
            Err(_) => false,
        }
    }

    /// It is back: fence it (unless fencing = none), then record what it has that the current
    /// master lacks.
    async fn act(
        &mut self,
        reply: Reply,
        current: Option<&ServerConfig>,
        why: Return,
        fence: bool,
        timeout: Duration,
    ) {
        let name = self.dead.display_name();
        let Reply {
            mut db,
            dialect,
            flavour,
        } = reply;
        let mut errors = Vec::new();
        let mut read_only_set = false;
        let mut killed = 0;
        if fence {
            // SET GLOBAL read_only waits for running writes: longer than a look may take.
            let fence_timeout = self.sql_timeout.max(self.ping_interval * 2);
            db.set_timeout(fence_timeout);
            match db
                .exec("fence the deposed master", dialect.fence_read_only())
                .await
            {
                Ok(()) => read_only_set = true,
                Err(e) => errors.push(e.to_string()),
            }
            if read_only_set {
                killed = db.kill_client_sessions().await;
            } else {
                // Its sessions may be what holds the fence up: kill them from a new
                // connection (the first may be stuck), then try once more.
                db.disconnect().await;
                match sql::connect(&target(&self.dead), timeout).await {
                    Ok(mut again) => {
                        again.set_timeout(fence_timeout);
                        killed = again.kill_client_sessions().await;
                        match again
                            .exec("fence the deposed master", dialect.fence_read_only())
                            .await
                        {
                            Ok(()) => read_only_set = true,
                            Err(e) => errors.push(e.to_string()),
                        }
                        db = again;
                    }
                    Err(e) => {
                        errors.push(e.to_string());
                        self.record(why, false, killed, None, current, errors, flavour)
                            .await;
                        return;
                    }
                }
            }
        }
        // Read after the fence, so that nothing more can be added to it.
        let gtid = match db.row_map("read its GTIDs", dialect.deposed_look()).await {
            Ok(row) => row.and_then(|r| r.get("gtid").cloned().flatten()),
            Err(e) => {
                errors.push(e.to_string());
                None
            }
        };
        db.disconnect().await;
        match (fence, read_only_set) {
            (true, true) => warn!(
                "The deposed master {name} is back ({why}): made read-only, {killed} client session(s) killed"
            ),
            (true, false) => error!(
                "The deposed master {name} is back ({why}) and could NOT be made read-only: {}; trying again in {:?}",
                errors.join("; "),
                self.ping_interval
            ),
            (false, _) => warn!(
                "The deposed master {name} is back ({why}); fencing = none: it was left writable"
            ),
        }
        self.record(why, read_only_set, killed, gtid, current, errors, flavour)
            .await;
    }

    /// Compare with the current master, log the errant set and write the marker.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &mut self,
        why: Return,
        read_only_set: bool,
        killed: usize,
        gtid: Option<String>,
        current: Option<&ServerConfig>,
        mut errors: Vec<String>,
        flavour: Flavour,
    ) {
        let name = self.dead.display_name();
        // ping_interval, but at least a second (a fast ping is no reason to give the current
        // master less) and at most sql_timeout.
        let timeout = self
            .ping_interval
            .max(Duration::from_secs(1))
            .min(self.sql_timeout);
        let master_gtid = match current {
            Some(m) => match master_gtids(m, timeout).await {
                Ok(g) => Some(g),
                Err(e) => {
                    errors.push(e.to_string());
                    None
                }
            },
            None => {
                errors.push("no current master to compare with".into());
                None
            }
        };
        let errant = match (&gtid, &master_gtid) {
            (Some(d), Some(m)) => match deposed::errant(flavour, d, m) {
                Ok(e) => Some(e.unwrap_or_else(|| "none".into())),
                Err(e) => {
                    errors.push(e.to_string());
                    None
                }
            },
            _ => None,
        };
        let master_name = current.map(ServerConfig::display_name);
        match errant.as_deref() {
            Some("none") => info!(
                "The deposed master {name} has no transaction that the master {} lacks",
                master_name.as_deref().unwrap_or("?")
            ),
            Some(set) => error!(
                "The deposed master {name} has transactions that the master {} does not have (errant): {set}; its GTIDs: {}. They are recorded in {}",
                master_name.as_deref().unwrap_or("?"),
                gtid.as_deref().unwrap_or(""),
                self.path.display()
            ),
            None => error!(
                "The errant transactions of the deposed master {name} could not be computed: {}",
                errors.join("; ")
            ),
        }
        let m = &mut self.marker;
        m.returns += 1;
        m.came_back_unix = Some(now_unix());
        m.why = Some(why.to_string());
        m.read_only_set = Some(read_only_set);
        m.sessions_killed = Some(killed);
        m.gtid_position = gtid;
        m.compared_with = master_name;
        m.master_gtid_position = master_gtid;
        m.errant = errant;
        m.errors = errors;
        update_marker(&self.path, &self.marker);
    }
}

impl Watch {
    /// auto_rejoin: it came back and was fenced; if everything it has is in the current
    /// master's history, it becomes a replica of it (as `mha rejoin` does), else it stays
    /// fenced and the refusal is logged with what only it has.
    async fn rejoin(&self) {
        let name = self.dead.display_name();
        let config = match config::load(&self.conf, &self.global) {
            Ok(l) => l.config,
            Err(e) => {
                error!("auto_rejoin: {name} stays fenced: the configuration cannot be read: {e}");
                return;
            }
        };
        let (host, port) = (&self.dead.hostname, Some(self.dead.port));
        let returning = match rejoin::locate(&config, &self.global, &self.workdir, host, port) {
            Ok(r) => r,
            Err(e) => {
                error!("auto_rejoin: {name} stays fenced: {e}");
                return;
            }
        };
        let opts = rejoin::Options {
            dry_run: false,
            flashback: rejoin::Flashback::Off,
            catch_up: config.app.timeouts.failover_catch_up,
            workdir: self.workdir.clone(),
            manager: rejoin::ManagerLink::InProcess(self.reload.clone()),
        };
        info!("auto_rejoin: is everything the deposed master {name} has in the master's history?");
        let rep = rejoin::rejoin(&config, &returning, &opts).await;
        let master = rep.master.as_deref().unwrap_or("?");
        match rep.outcome {
            rejoin::Outcome::Rejoined | rejoin::Outcome::AlreadyReplica => info!(
                "auto_rejoin: the deposed master {name} rejoined as a replica of {master}: {}",
                rep.steps.join("; ")
            ),
            rejoin::Outcome::Refused => {
                let why = match &rep.verdict {
                    Some(crate::engine::rejoin::Verdict::Refused(r)) => r.to_string(),
                    _ => "refused".into(),
                };
                error!(
                    "auto_rejoin: the deposed master {name} is NOT rejoined and stays fenced: {why}"
                );
                for t in rep.only_here() {
                    error!("auto_rejoin: only on {name}: {t}");
                }
            }
            _ => error!(
                "auto_rejoin: the rejoin of the deposed master {name} failed ({:?}): {}",
                rep.outcome,
                rep.error.as_deref().unwrap_or("")
            ),
        }
    }
}

/// The current master's GTIDs, to compare a deposed master with.
async fn master_gtids(m: &ServerConfig, timeout: Duration) -> Result<String, DbError> {
    let mut db = sql::connect(&target(m), timeout).await?;
    let dialect = match server_version(&mut db).await {
        Ok(v) => Dialect::of(&v),
        Err(_) => Dialect::MariaDb,
    };
    let row = db
        .row_map("read the master's GTIDs", dialect.master_gtids())
        .await;
    db.disconnect().await;
    Ok(row?
        .and_then(|r| r.get("gtid").cloned().flatten())
        .unwrap_or_default())
}
