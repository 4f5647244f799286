//! Online switchover (`master_switch --master_state=alive`), MHA's phases with a real
//! rollback: until the new master takes writes, any failure puts everything back (the old
//! master writable, every replica on it) and says what happened. The time writes were blocked
//! is measured.
//!
//! A running manager learns about the switch from `<app>.switch` in manager_workdir: it pauses
//! its health checks while the switch runs and then follows the new master.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::observe::{observe, target};
use crate::config::{Config, ServerConfig};
use crate::engine::checks::{self, MasterView};
use crate::engine::elect;
use crate::hooks::{self, HookCall};
use crate::sql::dialect::StartAt;
use crate::sql::ops::Toward;
use crate::sql::{self, Session};
use crate::topology::{BinlogPos, MariaGtidPos, ReplicaStatus};

#[derive(Debug, Clone, Default)]
pub struct SwitchOptions {
    pub new_master: Option<(String, Option<u16>)>,
    pub orig_master_is_new_slave: bool,
    pub running_updates_limit: u64,
    pub running_seconds_limit: u64,
    pub seconds_behind_master: u64,
    pub skip_lock_all_tables: bool,
    pub dry_run: bool,
    pub workdir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchOutcome {
    Success,
    /// The new master takes writes but some replica could not be repointed (MHA's 10).
    Partial,
    /// Refused by the checks: nothing changed.
    Refused,
    /// Failed before the new master took writes; everything was put back.
    RolledBack,
    /// Failed and could not be fully put back: the error says what to fix.
    Failed,
    DryRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct SwitchRecord {
    pub app: String,
    pub outcome: SwitchOutcome,
    pub orig_master: Option<String>,
    pub new_master: Option<String>,
    pub error: Option<String>,
    pub steps: Vec<String>,
    pub replicas: Vec<(String, bool, String)>,
    /// How long writes were blocked on the old master, in milliseconds.
    pub write_block_ms: Option<u64>,
    pub total_ms: u64,
}

impl SwitchRecord {
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            SwitchOutcome::Success | SwitchOutcome::DryRun => 0,
            SwitchOutcome::Partial => 10,
            _ => 1,
        }
    }
}

pub fn switch_marker(workdir: &Path, app: &str) -> PathBuf {
    workdir.join(format!("{app}.switch"))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SwitchMarker {
    /// running, done.
    pub state: String,
    pub new_master: String,
    pub pid: u32,
}

fn write_marker(workdir: &Path, app: &str, state: &str, new_master: &str) {
    let m = SwitchMarker {
        state: state.into(),
        new_master: new_master.into(),
        pid: std::process::id(),
    };
    let path = switch_marker(workdir, app);
    let tmp = path.with_extension("switch.tmp");
    if std::fs::write(&tmp, serde_json::to_string(&m).unwrap_or_default()).is_ok() {
        let _ = std::fs::rename(tmp, path);
    }
}

pub fn read_marker(workdir: &Path, app: &str) -> Option<SwitchMarker> {
    let text = std::fs::read_to_string(switch_marker(workdir, app)).ok()?;
    let m: SwitchMarker = serde_json::from_str(&text).ok()?;
    // A marker left by a switch process that is gone means nothing.
    let alive = std::path::Path::new(&format!("/proc/{}", m.pid)).exists();
    (m.state == "done" || alive).then_some(m)
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct StepError(String);

impl From<sql::DbError> for StepError {
    fn from(e: sql::DbError) -> Self {
        StepError(e.to_string())
    }
}

async fn session(s: &ServerConfig) -> Result<Session, StepError> {
    Ok(sql::connect(&target(s), Duration::from_secs(5)).await?)
}

/// Wait until a replica has applied the old master up to `pos` / `coords`.
async fn wait_caught_up(
    db: &mut Session,
    gtid: bool,
    pos: &MariaGtidPos,
    coords: &BinlogPos,
    secs: u64,
) -> Result<(), StepError> {
    let what = "wait for the old master's position";
    let r = if gtid {
        db.master_gtid_wait(what, pos, secs).await?
    } else {
        db.master_pos_wait(what, coords, secs).await?
    };
    match r.as_deref() {
        Some(v) if v.parse::<i64>().is_ok_and(|n| n >= 0) => Ok(()),
        other => Err(StepError(format!(
            "{}: did not reach the old master's position within {secs} s ({other:?})",
            db.server()
        ))),
    }
}

async fn hook(
    config: &Config,
    command: &str,
    orig: &ServerConfig,
    new: &ServerConfig,
    orig_is_new_slave: bool,
) -> Result<(), StepError> {
    let Some(cmd) = &config.app.master_ip_online_change_script else {
        return Ok(());
    };
    let mut args = vec![
        ("command".to_string(), command.to_string()),
        ("orig_master_host".into(), orig.hostname.clone()),
        ("orig_master_ip".into(), orig.ip.clone()),
        ("orig_master_port".into(), orig.port.to_string()),
        ("orig_master_user".into(), orig.user.clone()),
        ("new_master_host".into(), new.hostname.clone()),
        ("new_master_ip".into(), new.ip.clone()),
        ("new_master_port".into(), new.port.to_string()),
        ("new_master_user".into(), new.user.clone()),
        ("orig_master_ssh_user".into(), orig.ssh.user.clone()),
        ("new_master_ssh_user".into(), new.ssh.user.clone()),
    ];
    // As MHA: each side's ssh host/ip/port when they differ, and --ssh_options once.
    args.extend(super::check_repl::ssh_args("orig_master", orig));
    args.extend(
        super::check_repl::ssh_args("new_master", new)
            .into_iter()
            .filter(|(k, _)| k != "ssh_options"),
    );
    if orig_is_new_slave {
        // A bare switch, as MHA passes it.
        args.push(("orig_master_is_new_slave".into(), String::new()));
    }
    let call = HookCall {
        // MHA's online-change sample connects with the passwords it is given.
        secret_args: if config.app.hook_password_args {
            vec![
                ("orig_master_password".into(), orig.password.clone()),
                ("new_master_password".into(), new.password.clone()),
            ]
        } else {
            vec![]
        },
        hook: "master_ip_online_change_script",
        command: cmd.clone(),
        stdin_json: serde_json::json!({"command": command, "orig_master_password": orig.password.expose(), "new_master_password": new.password.expose()}),
        args,
        env: vec![],
        secret_env: vec![
            ("MHA_ORIG_MASTER_PASSWORD".into(), orig.password.clone()),
            ("MHA_NEW_MASTER_PASSWORD".into(), new.password.clone()),
        ],
        timeout: config.app.hook_timeout,
    };
    info!("Executing {}", call.command_line());
    match hooks::run(&call).await {
        Ok(o) if matches!(o.exit_code, Some(0) | Some(10)) => Ok(()),
        Ok(o) => Err(StepError(format!(
            "master_ip_online_change_script --command={command} failed: {}",
            o.describe()
        ))),
        Err(e) => Err(StepError(e.to_string())),
    }
}

struct Plan {
    orig: ServerConfig,
    new: ServerConfig,
    others: Vec<(ServerConfig, ReplicaStatus)>,
    new_status: ReplicaStatus,
    gtid: bool,
}

/// Phase 1: everything that can refuse, changing nothing.
async fn check(config: &Config, opts: &SwitchOptions) -> Result<Plan, StepError> {
    let topo = observe(config, Duration::from_secs(5)).await;
    let down: Vec<String> = topo
        .servers
        .iter()
        .filter(|o| o.alive().is_none())
        .map(|o| o.name())
        .collect();
    if !down.is_empty() {
        return Err(StepError(format!(
            "Switching master should not be started if one or more servers is down: {}",
            down.join(", ")
        )));
    }
    if let Some(o) = topo.servers.iter().find(|o| {
        o.alive()
            .is_some_and(|s| s.version.flavour != crate::topology::Flavour::MariaDb)
    }) {
        return Err(StepError(format!(
            "{} is not MariaDB: online switchover supports MariaDB only",
            o.name()
        )));
    }
    let MasterView::Alive { index: m } = checks::find_master(&topo) else {
        return Err(StepError(
            "the current master could not be identified".into(),
        ));
    };
    let mut others = Vec::new();
    for (i, o) in topo.servers.iter().enumerate() {
        if i == m {
            continue;
        }
        let s = o.alive().expect("all alive");
        let Some(r) = &s.replica else { continue };
        if !topo.servers[m].is_at(&r.master_host, r.master_port) {
            return Err(StepError(format!(
                "{} replicates from {}:{}, not from the master",
                o.name(),
                r.master_host,
                r.master_port
            )));
        }
        if !r.io_running() {
            return Err(StepError(format!(
                "{}: Slave IO thread is not running: not switching",
                o.name()
            )));
        }
        if !r.sql_running() {
            return Err(StepError(format!(
                "{}: Slave SQL thread is not running: not switching",
                o.name()
            )));
        }
        match r.seconds_behind_master {
            Some(lag) if lag <= opts.seconds_behind_master => {}
            lag => {
                return Err(StepError(format!(
                    "{} is behind the master by {} (limit {} s, --seconds_behind_master): not switching",
                    o.name(),
                    lag.map(|l| format!("{l} s"))
                        .unwrap_or_else(|| "an unknown time (NULL)".into()),
                    opts.seconds_behind_master
                )));
            }
        }
        others.push((config.servers[o.order].clone(), r.clone()));
    }
    let orig = config.servers[topo.servers[m].order].clone();
    // Long-running updates on the master (MHA: Time >= running_updates_limit).
    let mut db = session(&orig).await?;
    let processes = db.processlist().await?;
    db.disconnect().await;
    let long: Vec<String> = processes
        .into_iter()
        .filter(|p| {
            !matches!(
                p.command.as_str(),
                "Sleep"
                    | "Binlog Dump"
                    | "Binlog Dump GTID"
                    | "Daemon"
                    | "Connect"
                    | "Slave_IO"
                    | "Slave_SQL"
            ) && p.user != "system user"
                && p.may_write()
                && p.seconds() >= opts.running_updates_limit
        })
        .take(10)
        .map(|p| {
            format!(
                "id {} user {} running {} s: {}",
                p.id,
                p.user,
                p.time,
                p.info
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect::<String>()
            )
        })
        .collect();
    if !long.is_empty() {
        return Err(StepError(format!(
            "updates have been running on the master for {} s or more (--running_updates_limit): {}",
            opts.running_updates_limit,
            long.join("; ")
        )));
    }
    // The new master: forced, or MHA's choice with every replica counted as latest.
    let mut facts = checks::replica_facts(&topo, config, Some(m));
    // MHA's online rule: every replica counts as latest, the delay rule is off.
    let latest = facts.iter().filter_map(|f| f.read_pos.clone()).max();
    for f in &mut facts {
        f.check_repl_delay = false;
        f.read_pos = latest.clone();
    }
    let forced = match &opts.new_master {
        Some((h, p)) => Some(
            topo.servers
                .iter()
                .find(|o| (o.hostname == *h || o.ip == *h) && p.is_none_or(|p| p == o.port))
                .map(|o| o.block.clone())
                .ok_or_else(|| StepError(format!("{h} is not a configured server")))?,
        ),
        None => None,
    };
    let ranking = elect::rank(&facts, forced.as_deref());
    let Some(w) = ranking.winner() else {
        let reasons: Vec<String> = ranking
            .servers
            .iter()
            .filter(|s| Some(&s.block) == forced.as_ref())
            .map(|s| format!("{:?}", s.verdict))
            .collect();
        return Err(StepError(format!(
            "no replica can become the new master {}",
            reasons.join(" ")
        )));
    };
    let new_i = topo
        .servers
        .iter()
        .position(|o| o.block == w.block)
        .expect("ranked");
    let new = config.servers[topo.servers[new_i].order].clone();
    let new_status = others
        .iter()
        .find(|(s, _)| s.block == new.block)
        .map(|(_, r)| r.clone())
        .expect("new master is a replica");
    others.retain(|(s, _)| s.block != new.block);
    let mut db = session(&new).await?;
    let processes = db.processlist().await?;
    db.disconnect().await;
    if let Some(p) = processes.into_iter().find(|p| {
        p.command == "Query" && p.user != "system user" && p.seconds() >= opts.running_seconds_limit
    }) {
        return Err(StepError(format!(
            "a query has been running on the new master for {} s or more (--running_seconds_limit): {:?}",
            opts.running_seconds_limit, p.info
        )));
    }
    let gtid = new_status.uses_gtid();
    Ok(Plan {
        orig,
        new,
        others,
        new_status,
        gtid,
    })
}

pub async fn switchover(config: &Config, opts: &SwitchOptions) -> SwitchRecord {
    let started = Instant::now();
    let mut rec = SwitchRecord {
        app: config.app_name.clone(),
        outcome: SwitchOutcome::Refused,
        orig_master: None,
        new_master: None,
        error: None,
        steps: vec![],
        replicas: vec![],
        write_block_ms: None,
        total_ms: 0,
    };
    info!("* Phase 1: Configuration Check Phase..");
    let plan = match check(config, opts).await {
        Ok(p) => p,
        Err(e) => {
            error!("{e}");
            rec.error = Some(e.0);
            rec.total_ms = started.elapsed().as_millis() as u64;
            return rec;
        }
    };
    rec.orig_master = Some(plan.orig.display_name());
    rec.new_master = Some(plan.new.display_name());
    if opts.dry_run {
        rec.steps = vec![
            format!(
                "master_ip_online_change_script --command=stop; block writes on {} (read_only=1{})",
                plan.orig.display_name(),
                if opts.skip_lock_all_tables {
                    ""
                } else {
                    ", FLUSH TABLES WITH READ LOCK"
                }
            ),
            format!(
                "wait until {} and {} other replica(s) applied everything",
                plan.new.display_name(),
                plan.others.len()
            ),
            format!(
                "repoint {} replica(s) at {}",
                plan.others.len(),
                plan.new.display_name()
            ),
            format!(
                "{}: RESET SLAVE ALL, read_only=0, master_ip_online_change_script --command=start",
                plan.new.display_name()
            ),
            if opts.orig_master_is_new_slave {
                format!(
                    "{} becomes a replica of {}",
                    plan.orig.display_name(),
                    plan.new.display_name()
                )
            } else {
                format!("{} stays read-only", plan.orig.display_name())
            },
        ];
        rec.outcome = SwitchOutcome::DryRun;
        return rec;
    }
    write_marker(
        &opts.workdir,
        &config.app_name,
        "running",
        &plan.new.display_name(),
    );
    let result = switch(config, opts, &plan, &mut rec).await;
    match result {
        Ok(partial) => {
            rec.outcome = if partial {
                SwitchOutcome::Partial
            } else {
                SwitchOutcome::Success
            };
            write_marker(
                &opts.workdir,
                &config.app_name,
                "done",
                &plan.new.display_name(),
            );
        }
        Err((e, rolled_back)) => {
            error!("{e}");
            // What the rollback could not do is part of the error, never only a log line.
            let left: Vec<String> = rec
                .steps
                .iter()
                .filter(|t| t.starts_with("rollback:") && t.contains("could not"))
                .cloned()
                .collect();
            rec.error = Some(if left.is_empty() {
                e.0
            } else {
                format!("{}; {}", e.0, left.join("; "))
            });
            rec.outcome = if rolled_back {
                SwitchOutcome::RolledBack
            } else {
                SwitchOutcome::Failed
            };
            let _ = std::fs::remove_file(switch_marker(&opts.workdir, &config.app_name));
        }
    }
    rec.total_ms = started.elapsed().as_millis() as u64;
    rec
}

/// Put everything back: replicas already moved go back to the old master, the new master
/// replicates from it again, the old master takes writes again.
async fn rollback(
    plan: &Plan,
    moved: &[ServerConfig],
    orig_coords: &BinlogPos,
    rec: &mut SwitchRecord,
    lock: &mut Session,
    promote_attempted: bool,
) -> bool {
    warn!(
        "Rolling back: the old master {} takes writes again",
        plan.orig.display_name()
    );
    let mut ok = true;
    // A new master that was sent read_only=0 must not take writes, whatever the answer was
    // (one that never was is still read-only: it was a replica).
    let fence_new = async {
        if !promote_attempted {
            return Ok(());
        }
        let mut db = session(&plan.new).await?;
        db.set_read_only_as("read_only on", true).await?;
        db.disconnect().await;
        Ok::<_, StepError>(())
    };
    if let Err(e) = fence_new.await {
        error!(
            "rollback: {} could not be made read-only: {e}",
            plan.new.display_name()
        );
        rec.steps.push(format!(
            "rollback: {} could not be made read-only: {e}",
            plan.new.display_name()
        ));
        ok = false;
    }
    for s in moved.iter().chain(std::iter::once(&plan.new)) {
        let back = async {
            let mut db = session(s).await?;
            db.stop_replica().await?;
            let hb = db.heartbeat_period().await;
            // After RESET SLAVE ALL the old credentials are gone: give them again.
            let user = s
                .repl_user
                .clone()
                .unwrap_or_else(|| plan.new_status.master_user.clone());
            db.point_at(
                Toward::OldMaster,
                &plan.orig,
                Some(&user),
                s.repl_password.as_ref(),
                &start_at(plan.gtid, orig_coords),
                hb,
            )
            .await?;
            db.start_replica().await?;
            db.disconnect().await;
            Ok::<_, StepError>(())
        };
        if let Err(e) = back.await {
            // Go on with the rest. A new master that cannot be pointed back is still
            // read-only (it was a replica, or read back as read-only): the old master may take
            // writes again, and the report names what is left to repair.
            error!("rollback of {}: {e}", s.display_name());
            rec.steps.push(format!(
                "rollback: {} could not be pointed back: {e}",
                s.display_name()
            ));
            ok = ok && s.block == plan.new.block;
        }
    }
    // The global read lock belongs to the session that took it: release it there.
    let undo = async {
        lock.unlock_tables().await?;
        lock.set_read_only_as("read_only off", false).await?;
        Ok::<_, StepError>(())
    };
    match undo.await {
        Ok(()) => rec.steps.push(format!(
            "rollback: {} is writable again",
            plan.orig.display_name()
        )),
        Err(e) => {
            error!("rollback: the old master could not be made writable again: {e}");
            rec.steps.push(format!(
                "rollback: {} could not be made writable again: {e}",
                plan.orig.display_name()
            ));
            ok = false;
        }
    }
    ok
}

/// End connection `id` on a server (best effort: it may be gone already).
async fn kill_connection(s: &ServerConfig, id: u32) {
    if let Ok(mut db) = session(s).await {
        let _ = db
            .kill_connection("kill the unanswered statement", u64::from(id))
            .await;
        db.disconnect().await;
    }
}

/// `@@global.read_only` of a server, on a new connection.
async fn read_only_of(s: &ServerConfig) -> Result<bool, String> {
    let mut db = session(s).await.map_err(|e| e.0)?;
    let v = db.read_only().await.map_err(|e| e.to_string())?;
    db.disconnect().await;
    v.ok_or_else(|| "no answer".into())
}

/// What to do when `SET GLOBAL read_only = 0` on the new master returned an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PromoteVerdict {
    /// It took effect (the answer was lost): the switch goes on.
    Promoted,
    /// It did not: put everything back.
    RollBack,
    /// Unknown: neither server may be made writable by us.
    Stop,
}

fn after_promote_error(read_back: &Result<bool, String>) -> PromoteVerdict {
    match read_back {
        Ok(false) => PromoteVerdict::Promoted,
        Ok(true) => PromoteVerdict::RollBack,
        Err(_) => PromoteVerdict::Stop,
    }
}

async fn switch(
    config: &Config,
    opts: &SwitchOptions,
    plan: &Plan,
    rec: &mut SwitchRecord,
) -> Result<bool, (StepError, bool)> {
    let (orig, new) = (&plan.orig, &plan.new);
    info!("* Phase 2: Rejecting updates Phase..");
    hook(config, "stop", orig, new, opts.orig_master_is_new_slave)
        .await
        .map_err(|e| (e, true))?;
    // From here writes are blocked on the old master; the clock runs.
    let block_start = Instant::now();
    let mut lock = session(orig).await.map_err(|e| (e, true))?;
    let lock_wait = opts.running_updates_limit.max(1) * 3;
    let blocked = async {
        // Bounded server-side waits: a long transaction makes these fail, not hang. The
        // client waits longer than the server, so the server's answer is never lost.
        let server_wait = Duration::from_secs(lock_wait);
        lock.lock_wait_timeout(lock_wait).await?;
        lock.set_read_only_waiting(true, server_wait).await?;
        // read_only does not stop sessions with SUPER (READ ONLY ADMIN), nor a transaction
        // already past its writes: end every client session but ours and replication's.
        lock.kill_client_sessions().await;
        if !opts.skip_lock_all_tables {
            lock.flush_tables_with_read_lock(server_wait).await?;
        } else {
            let a = lock.binlog_coords().await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let b = lock.binlog_coords().await?;
            if a != b {
                return Err(StepError(format!("Binlog is not stopped! ({a} then {b})")));
            }
        }
        let gtid = lock.gtid_pos("gtid_binlog_pos").await?;
        let coords = lock.binlog_coords().await?;
        Ok::<_, StepError>((gtid, coords))
    }
    .await;
    let (orig_gtid, orig_coords) = match blocked {
        Ok(x) => x,
        Err(e) => {
            let _ = lock.unlock_tables().await;
            let _ = lock.set_read_only_as("read_only off", false).await;
            return Err((
                StepError(format!(
                    "could not block writes on {}: {e}",
                    orig.display_name()
                )),
                true,
            ));
        }
    };
    rec.steps.push(format!(
        "writes blocked on {} at {orig_coords} ({orig_gtid})",
        orig.display_name()
    ));

    info!("* Phase 3: Switching the master Phase..");
    // The new master applies everything the old one wrote.
    let caught_up = async {
        let mut db = session(new).await?;
        wait_caught_up(&mut db, plan.gtid, &orig_gtid, &orig_coords, 30).await?;
        let hb = db.heartbeat_period().await;
        db.stop_replica().await?;
        let coords = db.binlog_coords().await?;
        db.disconnect().await;
        Ok::<_, StepError>((coords, hb))
    };
    let (new_coords, new_heartbeat) =
        match tokio::time::timeout(Duration::from_secs(40), caught_up).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err((
                    e,
                    rollback(plan, &[], &orig_coords, rec, &mut lock, false).await,
                ));
            }
            Err(_) => {
                return Err((
                    StepError(format!("{} did not answer in time", new.display_name())),
                    rollback(plan, &[], &orig_coords, rec, &mut lock, false).await,
                ));
            }
        };
    // Every other replica: caught up with the old master, then onto the new one.
    let mut set = JoinSet::new();
    for (s, r) in &plan.others {
        let (s, r) = (s.clone(), r.clone());
        let (new, gtid, og, oc, nc) = (
            new.clone(),
            plan.gtid,
            orig_gtid.clone(),
            orig_coords.clone(),
            new_coords.clone(),
        );
        set.spawn(async move {
            let res = async {
                let mut db = session(&s).await?;
                wait_caught_up(&mut db, gtid, &og, &oc, 30).await?;
                let hb = db.heartbeat_period().await;
                db.stop_replica().await?;
                let user = s.repl_user.clone().unwrap_or_else(|| r.master_user.clone());
                db.point_at(
                    Toward::NewMaster,
                    &new,
                    Some(&user),
                    s.repl_password.as_ref(),
                    &start_at(gtid, &nc),
                    hb,
                )
                .await?;
                db.start_replica().await?;
                db.disconnect().await;
                Ok::<_, StepError>(())
            }
            .await;
            (s, res)
        });
    }
    let mut moved = Vec::new();
    let mut failure = None;
    while let Some(Ok((s, res))) = set.join_next().await {
        match res {
            Ok(()) => moved.push(s),
            Err(e) => failure = Some(StepError(format!("{}: {e}", s.display_name()))),
        }
    }
    if let Some(e) = failure {
        return Err((
            e,
            rollback(plan, &moved, &orig_coords, rec, &mut lock, false).await,
        ));
    }
    // The new master takes writes: the point of no return. read_only=0 comes before the
    // start hook, so that a hook failing afterwards never undoes a master that took writes,
    // and an unclear answer is settled by reading the state back.
    let mut promote_conn: Option<u32> = None;
    let promote = async {
        let mut db = session(new).await?;
        promote_conn = Some(db.connection_id());
        if !new.skip_reset_slave {
            db.reset_replica_all().await?;
        }
        db.set_read_only_as("read_only off", false).await?;
        db.disconnect().await;
        Ok::<_, StepError>(())
    };
    if let Err(e) = promote.await {
        // A statement whose answer was lost may still be running on the server (waiting for
        // a lock): end it first, so that what is read back stays true.
        if let Some(id) = promote_conn {
            kill_connection(new, id).await;
        }
        let read_back = read_only_of(new).await;
        match after_promote_error(&read_back) {
            PromoteVerdict::Promoted => {
                warn!(
                    "{}: the answer to read_only=0 was lost ({e}), but it took effect: going on",
                    new.display_name()
                );
                rec.steps.push(format!(
                    "{}: read_only=0 took effect although its answer was lost ({e})",
                    new.display_name()
                ));
            }
            PromoteVerdict::RollBack => {
                return Err((
                    e,
                    rollback(plan, &moved, &orig_coords, rec, &mut lock, true).await,
                ));
            }
            PromoteVerdict::Stop => {
                // Making the old master writable now could leave two writable masters.
                let _ = lock.unlock_tables().await;
                return Err((
                    StepError(format!(
                        "{e}; the state of {} cannot be read back ({}), so {} stays read-only too: check which server should take writes, then set read_only=0 on it by hand",
                        new.display_name(),
                        read_back.as_ref().err().cloned().unwrap_or_default(),
                        orig.display_name()
                    )),
                    false,
                ));
            }
        }
    }
    let mut partial = false;
    if let Err(e) = hook(config, "start", orig, new, opts.orig_master_is_new_slave).await {
        // The new master already takes writes: nothing is rolled back.
        error!("{e}");
        rec.steps.push(format!(
            "master_ip_online_change_script --command=start FAILED: {e}"
        ));
        partial = true;
    }
    let block_ms = block_start.elapsed().as_millis() as u64;
    rec.write_block_ms = Some(block_ms);
    info!("Writes were blocked for {block_ms} ms.");
    for s in &moved {
        rec.replicas.push((
            s.display_name(),
            true,
            format!("replicating from {}", new.display_name()),
        ));
    }
    // The old master: unlocked, read-only, a replica of the new one if asked.
    let _ = lock.unlock_tables().await;
    lock.disconnect().await;
    if opts.orig_master_is_new_slave {
        // Where the new master stands now: the old one must get there, or say why not.
        let target = async {
            let mut db = session(new).await?;
            let pos = db.gtid_pos("gtid_binlog_pos").await?;
            db.disconnect().await;
            Ok::<_, StepError>(pos)
        }
        .await;
        let res = async {
            let target = target?;
            let mut db = session(orig).await?;
            if plan.gtid {
                // What it wrote as master is in its binlog, not in gtid_slave_pos: without
                // this, MASTER_USE_GTID=slave_pos would ask for (and replay) all of it.
                db.slave_pos_covers_binlog().await?;
            }
            let user = orig
                .repl_user
                .clone()
                .unwrap_or_else(|| plan.new_status.master_user.clone());
            db.point_at(
                Toward::NewMaster,
                new,
                Some(&user),
                orig.repl_password.as_ref(),
                &start_at(plan.gtid, &new_coords),
                new_heartbeat,
            )
            .await?;
            db.start_replica().await?;
            // START SLAVE answers before anything was applied: check that it does.
            db.wait_gtid(&target, 10)
                .await
                .map_err(|e| StepError(e.to_string()))?;
            db.disconnect().await;
            Ok::<_, StepError>(())
        }
        .await;
        match res {
            Ok(()) => rec.replicas.push((
                orig.display_name(),
                true,
                format!("the old master replicates from {}", new.display_name()),
            )),
            Err(e) => {
                partial = true;
                rec.replicas.push((orig.display_name(), false, e.0));
            }
        }
    } else {
        rec.steps.push(format!(
            "{} stays read-only (not a replica: no --orig_master_is_new_slave)",
            orig.display_name()
        ));
    }
    info!(
        "Switching master to {} completed successfully.",
        new.display_name()
    );
    Ok(partial)
}

fn start_at(gtid: bool, coords: &BinlogPos) -> StartAt {
    if gtid {
        StartAt::Gtid
    } else {
        StartAt::Coords(coords.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclear_read_only_answer_is_settled_by_reading_it_back() {
        assert_eq!(after_promote_error(&Ok(false)), PromoteVerdict::Promoted);
        assert_eq!(after_promote_error(&Ok(true)), PromoteVerdict::RollBack);
        assert_eq!(
            after_promote_error(&Err("timed out".into())),
            PromoteVerdict::Stop
        );
    }
}
