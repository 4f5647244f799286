//! The failover engine: MHA's phases, one async function each, timed and recorded.
//!
//! Recovery is done with the server's own GTIDs (MariaDB keeps GTIDs in every binlog and
//! tracks `gtid_slave_pos` in both replication modes): the new master first catches up with
//! the most advanced replica by replicating from it, then the dead master's binlog tail saved
//! over SSH is applied with `mariadb-binlog | mariadb`, then every other replica fetches what
//! it lacks from the new master. In file/position mode the replicas are switched back to the
//! new master's binlog coordinates once they are identical to it. Where that GTID route cannot
//! reach a replica (or `use_gtid_auto_pos = 0`), recovery goes by positions instead, as MHA's
//! relay-log diffs (`relay_diff.rs`). See docs/failover.md.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;
use tracing::{Instrument, error, info, warn};

use crate::binlog;
use crate::config::{Config, ServerConfig, ServerId, Timeouts};
use crate::engine::elect::Ranking;
use crate::engine::guard::{self, Markers};
use crate::executor::seams::{Db, Live, World};
use crate::hooks::{self, HookCall};
use crate::secret::Secret;
use crate::sql::dialect::{Dialect, StartAt};
use crate::sql::ops::Toward;
use crate::topology::{BinlogPos, Flavour, GtidPos, MariaGtidPos, ReplicaStatus, Row, Topology};

mod binlog_tail;
mod error;
#[cfg(test)]
mod order;
mod phases;
mod record;
mod relay_diff;
mod semi_sync;

use binlog_tail::*;
pub use error::{FailoverError, HookFailed, ReplicaProblem};
use phases::*;
pub use record::*;
use relay_diff::*;
pub use semi_sync::SemiSyncRecord;

use crate::engine::plan::{self, Facts, Plan, Recovery, Refusal};

#[derive(Debug, Clone, Default)]
pub struct FailoverOptions {
    /// --dead_master_host / --dead_master_port (manual failover).
    pub dead_master: Option<(String, u16)>,
    /// --new_master_host / --new_master_port.
    pub new_master: Option<(String, Option<u16>)>,
    pub ignore_last_failover: bool,
    pub last_failover_minute: u64,
    pub remove_dead_master_conf: bool,
    /// Fail over even when a configured binlog server does not answer SSH.
    pub ignore_binlog_server_error: bool,
    pub skip_save_master_binlog: bool,
    pub skip_change_master: bool,
    pub skip_disable_read_only: bool,
    pub wait_until_gtid_in_sync: bool,
    pub dry_run: bool,
    pub workdir: PathBuf,
    /// ping_type=INSERT: a dead master may still accept connections.
    pub master_may_answer: bool,
    /// Go on when the dead master's host answers SSH but its binlog cannot be read (phase
    /// 3.2), accepting the loss of what no replica received; without it the failover stops
    /// before promotion.
    pub ignore_binlog_save_error: bool,
    /// What the manager's detection found moments ago: phases 1 and 2 use it instead of
    /// probing an unreachable master again with full timeouts.
    pub detected: Option<Detected>,
    /// The dead master's block name, when the manager detected it.
    pub dead_master_block: Option<String>,
    /// Leadership through etcd, proven before each phase; None: a manager alone.
    pub fence: Option<std::sync::Arc<dyn crate::executor::fence::Fence>>,
}

/// How the master failed to answer SQL when detection declared it dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterSql {
    /// Connections refused: nothing listens on the port.
    Refused,
    /// No answer within the timeouts (hung, or the host is gone).
    Silent,
}

/// The facts behind the manager's `Master is down!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub at: Instant,
    /// The master's host answered SSH (Some(true)), did not (Some(false)), was not asked.
    pub master_ssh: Option<bool>,
    pub master_sql: MasterSql,
    /// mysqld's pid file on the master's host, as the server reported it.
    pub pid_file: Option<String>,
    /// The manager's last look at the master's semi-sync state before the death.
    pub semi_sync: Option<Box<crate::engine::semi_sync::LastSeen>>,
}

impl FailoverOptions {
    /// What the operator asked for, as the planner takes it.
    fn asked(&self) -> plan::Asked<'_> {
        plan::Asked {
            dead_master: self.dead_master.as_ref(),
            new_master: self.new_master.as_ref(),
            master_may_answer: self.master_may_answer,
            skip_save_master_binlog: self.skip_save_master_binlog,
        }
    }
}

impl Detected {
    /// Seconds-old evidence is still evidence; older is re-probed.
    fn fresh(&self, max_age: Duration) -> bool {
        self.at.elapsed() < max_age
    }
}

type PResult<T> = Result<T, FailoverError>;

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn complete_marker(workdir: &Path, app: &str) -> PathBuf {
    workdir.join(format!("{app}.failover.complete"))
}

pub fn error_marker(workdir: &Path, app: &str) -> PathBuf {
    workdir.join(format!("{app}.failover.error"))
}

pub fn markers(workdir: &Path, app: &str) -> Markers {
    let complete = complete_marker(workdir, app);
    let error = error_marker(workdir, app);
    Markers {
        complete_mtime_unix: std::fs::metadata(&complete)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs()),
        complete_path: complete.display().to_string(),
        error_exists: error.exists(),
        error_path: error.display().to_string(),
        error_owner: std::fs::read_to_string(&error)
            .ok()
            .and_then(|t| t.trim().strip_prefix(RUNNING_PREFIX)?.parse::<u32>().ok())
            .map(|pid| (pid, crate::status::pid_alive(pid))),
    }
}

/// While a failover changes the cluster its error flag file says `running pid=N`: a second
/// failover is refused while N runs, and one that finds N gone knows the last failover was
/// interrupted. A failed failover replaces the text by the time; a successful one removes it.
const RUNNING_PREFIX: &str = "running pid=";

/// MHA's failover lock: a failover holds it on every replica it changes, and
/// `purge_relay_logs` (MHA's and mha's) takes it on its replica, so the two never race.
pub const FAILOVER_LOCK: &str = "MHA_Master_High_Availability_Failover";

/// How long a failover waits for the failover lock on a replica. `mha purge_relay_logs`
/// holds it for a few seconds (the flush of the relay log, not the slow removal of the old
/// files: see `executor::purge::SQL_THREAD_WAIT`); a lock held longer than this is held by
/// another failover, and this one is refused.
pub const FAILOVER_LOCK_WAIT: Duration = Duration::from_secs(20);

struct Run<'a, W: World> {
    world: W,
    /// The sessions holding the failover lock on the replicas, until the failover ends.
    locks: Vec<W::Db>,
    config: &'a Config,
    opts: &'a FailoverOptions,
    rec: FailoverRecord,
    started: Instant,
    /// Something was changed (the error flag written, phase 2 begun): an error from now on
    /// is a failure, not a refusal.
    changed: bool,
}

impl<W: World> Run<'_, W> {
    fn server(&self, i: usize) -> &ServerConfig {
        &self.config.servers[i]
    }

    /// What the manager's detection found, while it is fresh (`detection_max_age`).
    fn detected(&self) -> Option<&Detected> {
        let max_age = self.config.app.timeouts.detection_max_age;
        self.opts.detected.as_ref().filter(|d| d.fresh(max_age))
    }

    /// The fence, before phase `phase`: a manager that no longer leads the application
    /// through etcd starts no further step.
    async fn still_leading(&self, phase: &'static str) -> PResult<()> {
        let Some(fence) = &self.opts.fence else {
            return Ok(());
        };
        fence.prove_at(phase).await.map_err(|why| {
            error!(
                "Not starting phase {phase}: this manager no longer leads the application ({why})."
            );
            FailoverError::LeadershipLost { phase, why }
        })
    }

    fn phase_done(
        &mut self,
        phase: &'static str,
        name: &'static str,
        t: Instant,
        ok: bool,
        notes: Vec<String>,
    ) {
        self.phase_done_ms(phase, name, t.elapsed(), ok, notes);
    }

    fn phase_done_ms(
        &mut self,
        phase: &'static str,
        name: &'static str,
        took: Duration,
        ok: bool,
        notes: Vec<String>,
    ) {
        let ms = took.as_millis() as u64;
        if ok {
            info!(phase, ms, "* Phase {phase}: {name} Phase completed.");
        } else {
            error!(phase, ms, "* Phase {phase}: {name} Phase failed.");
        }
        let journal = (
            self.opts.workdir.as_path(),
            self.config.app_name.as_str(),
            crate::status::journal::Operation::Failover,
        );
        let record = PhaseRecord::ended(journal, phase, name, took, ok, notes);
        self.rec.phases.push(record);
    }
}

async fn session<W: World>(w: &W, s: &ServerConfig) -> PResult<W::Db> {
    Ok(w.connect(s, w.sql_timeout()).await?)
}

async fn replica_status(db: &mut impl Db) -> PResult<Option<(ReplicaStatus, Row)>> {
    let row = db.replica_status_row().await?;
    Ok(row.map(|r| (ReplicaStatus::from_row(&r), r)))
}

async fn gtid_var(db: &mut impl Db, var: &'static str) -> PResult<GtidPos> {
    Ok(db.gtid_pos(var).await?)
}

// ------------------------------------------------------------------------------------------
// Phase 1: Configuration Check

pub async fn failover(config: &Config, opts: &FailoverOptions) -> FailoverRecord {
    failover_in(Live::new(&config.app.timeouts), config, opts).await
}

/// `failover` against `world` (the real one, or a step-order test's fake).
pub async fn failover_in<W: World>(
    world: W,
    config: &Config,
    opts: &FailoverOptions,
) -> FailoverRecord {
    let mut run = Run {
        world,
        locks: Vec::new(),
        config,
        opts,
        rec: FailoverRecord::new(&config.app_name, now_unix()),
        started: Instant::now(),
        changed: false,
    };
    let _ = std::fs::create_dir_all(&opts.workdir);
    let result = steps(&mut run).await;
    run.rec.total_ms = run.started.elapsed().as_millis() as u64;
    if let Err(e) = result {
        ended_by(&mut run, e);
    }
    finish(&mut run).await;
    for db in std::mem::take(&mut run.locks) {
        db.disconnect().await;
    }
    run.rec
}

/// The outcome of a failover that `e` ended: refused while nothing was changed, stopped
/// before promotion, or failed (then the error flag stays, as in MHA).
fn ended_by<W: World>(run: &mut Run<'_, W>, e: FailoverError) {
    error!("{e}");
    run.rec.error = Some(e.to_string());
    // Stopped by the fence before phase 3.4: the manager that leads now runs it again (its
    // record in etcd says how far this one got); no flag file here to block that.
    let handed_over = matches!(&e, FailoverError::LeadershipLost { phase, .. }
        if crate::engine::guard::before_3_4(phase));
    run.rec.outcome = match e {
        _ if !run.changed => Outcome::Refused,
        FailoverError::BinlogNotSaved(_) => Outcome::StoppedBeforePromotion,
        _ if handed_over => Outcome::StoppedBeforePromotion,
        _ => Outcome::Failed,
    };
    if handed_over {
        let _ = std::fs::remove_file(error_marker(&run.opts.workdir, &run.config.app_name));
    } else if run.changed {
        let _ = std::fs::write(
            error_marker(&run.opts.workdir, &run.config.app_name),
            format!("{}\n", now_unix()),
        );
    }
}

/// What a phase body hands back: its value, whether it fully succeeded, and its notes.
struct Done<T> {
    value: T,
    ok: bool,
    notes: Vec<String>,
}

fn done<T>(value: T, notes: Vec<String>) -> Done<T> {
    Done {
        value,
        ok: true,
        notes,
    }
}

/// Runs one phase body inside its own tracing span (`phase{phase="3.4" name="New Master
/// Recovery"}`), then records its duration, outcome and notes. An error marks the phase failed
/// and ends the failover with it.
macro_rules! phase {
    ($run:ident, $id:literal, $name:literal, $body:expr) => {{
        $run.still_leading($id).await?;
        info!(concat!("* Phase ", $id, ": ", $name, " Phase.."));
        let t = Instant::now();
        let span = tracing::info_span!("phase", phase = $id, name = $name);
        let r: PResult<Done<_>> = async { $body }.instrument(span).await;
        match r {
            Ok(d) => {
                $run.phase_done($id, $name, t, d.ok, d.notes);
                d.value
            }
            Err(e) => {
                $run.phase_done($id, $name, t, false, vec![e.to_string()]);
                return Err(e);
            }
        }
    }};
}

async fn steps<W: World>(run: &mut Run<'_, W>) -> PResult<()> {
    let facts = phase!(run, "1", "Configuration Check", {
        let facts = phase1(&mut *run).await?;
        if !run.opts.dry_run {
            run.locks = failover_locks(&*run, &facts).await?;
        }
        Ok(done(facts, vec![]))
    });
    let dead_cfg = run.server(facts.topo.servers[facts.dead].order).clone();
    run.rec.semi_sync = Some(semi_sync::assess(
        run.config,
        &facts,
        run.opts.detected.as_ref(),
    ));
    // The plan, before anything is changed: a refusal now leaves every server untouched.
    // The dry run asks SSH now; the real run knows it from detection, or in phase 2.
    let dead_ssh = if run.opts.dry_run {
        Some(ssh_reachable(&run.world, &dead_cfg).await)
    } else {
        run.detected().and_then(|d| d.master_ssh)
    };
    make_plan(run, &facts, &dead_cfg, dead_ssh)?;
    if run.opts.dry_run {
        return dry_run(run, dead_ssh);
    }
    let ssh_ok = phase!(run, "2", "Dead Master Shutdown", {
        let (ssh_ok, fenced) = phase2(&mut *run, &facts).await?;
        let reach = if ssh_ok { "reachable" } else { "NOT reachable" };
        Ok(done(
            ssh_ok,
            vec![format!("SSH to the dead master: {reach}"), fenced],
        ))
    });
    info!("* Phase 3: Master Recovery Phase..");
    let latest = phase!(run, "3.1", "Getting Latest Slaves", {
        phase3_1(&mut *run, &facts).await
    });
    let saved = phase!(run, "3.2", "Saving Dead Master's Binlog", {
        phase3_2(&mut *run, &dead_cfg, ssh_ok, &latest).await
    });
    let new_master = phase!(run, "3.3", "Determining New Master", {
        phase3_3(&mut *run, &latest, ssh_ok).await
    });
    let promotion = phase!(run, "3.4", "New Master Recovery", {
        phase3_4(&mut *run, &latest, &new_master, &saved).await
    });
    run.still_leading("4").await?;
    let partial = phases_4_and_5(run, &facts, &latest, &new_master, &promotion, &dead_cfg).await?;
    if run.rec.semi_sync.as_ref().is_some_and(|s| s.keep.enables()) {
        phase!(run, "5.1", "Semi-sync", {
            semi_sync::settle(&mut *run, &new_master.cfg).await
        });
    }
    conclude(run, &new_master.cfg, partial);
    Ok(())
}

/// The plan from phase 1's facts (the same functions phase 3.3 uses), into the record.
fn make_plan<W: World>(
    run: &mut Run<'_, W>,
    facts: &Facts,
    dead: &ServerConfig,
    dead_ssh: Option<bool>,
) -> PResult<()> {
    let asked = run.opts.asked();
    let ranking = plan::rank(facts, run.config, &asked)?;
    run.rec.ranking = Some(ranking.clone());
    let mut planned = plan::plan(facts, run.config, &asked, ranking, dead_ssh)?;
    let new = facts
        .topo
        .servers
        .iter()
        .find(|o| o.block == planned.new_master_block)
        .map(|o| run.server(o.order).clone())
        .expect("the planned new master is configured");
    planned.hooks = hook_plans(run.config, dead, &new, dead_ssh.unwrap_or(false));
    run.rec.planned = Some(planned);
    Ok(())
}

/// Phase 5 runs beside phase 4: the new master takes writes, and the VIP moves, as soon as it
/// is recovered; the other replicas are repointed meanwhile (they follow it by GTID or from
/// the coordinates read in phase 3.4, whatever it takes in the meantime). True when some
/// replica or the start hook failed.
async fn phases_4_and_5<W: World>(
    run: &mut Run<'_, W>,
    facts: &Facts,
    latest: &Latest,
    new_master: &NewMaster,
    promotion: &Promotion,
    dead_cfg: &ServerConfig,
) -> PResult<bool> {
    let t5 = Instant::now();
    let world = run.world.clone();
    let config = run.config;
    let semi_sync_master = run
        .rec
        .semi_sync
        .as_ref()
        .and_then(|s| s.keep.master_side.clone());
    let p5 = phase5(
        &world,
        config,
        dead_cfg,
        &new_master.cfg,
        run.opts.skip_disable_read_only,
        semi_sync_master.as_ref(),
    )
    .instrument(tracing::info_span!(
        "phase",
        phase = "5",
        name = "New master cleanup"
    ));
    let mut p5_out: Option<(PResult<Done<bool>>, Instant)> = None;
    let replicas_failed = phase!(run, "4", "Slaves Recovery", {
        phase4(
            &mut *run,
            facts,
            latest,
            new_master,
            promotion,
            p5,
            &mut p5_out,
        )
        .await
    });
    let (p5r, p5_end) = p5_out.expect("phase 5 ran beside phase 4");
    let took = p5_end.duration_since(t5);
    match p5r {
        Ok(d) => {
            run.phase_done_ms("5", "New master cleanup", took, d.ok, d.notes);
            Ok(replicas_failed || d.value)
        }
        Err(e) => {
            run.phase_done_ms("5", "New master cleanup", took, false, vec![e.to_string()]);
            Err(e)
        }
    }
}

/// The outcome of a failover that went through, and MHA's last line about it.
fn conclude<W: World>(run: &mut Run<'_, W>, new_cfg: &ServerConfig, partial: bool) {
    run.rec.outcome = if !run.rec.not_recovered.is_empty() {
        Outcome::DataNotRecovered
    } else if partial {
        Outcome::Partial
    } else {
        Outcome::Success
    };
    let name = new_cfg.display_name();
    if partial {
        warn!("Master failover to {name} done, but recovery on slave partially failed.");
    }
    if run.rec.outcome == Outcome::DataNotRecovered {
        error!(
            "Master failover to {name} done, but data was NOT recovered: {}",
            run.rec.not_recovered.join("; ")
        );
    } else if !partial {
        info!("Master failover to {name} completed successfully.");
    }
}

/// The dry run: the plan, rendered; nothing is changed.
fn dry_run<W: World>(run: &mut Run<'_, W>, dead_ssh: Option<bool>) -> PResult<()> {
    let planned = run.rec.planned.clone().expect("planned before the dry run");
    run.rec.new_master = Some(planned.new_master.clone());
    run.rec.plan = plan::render(&planned, dead_ssh);
    run.rec.hooks = planned.hooks.clone();
    if let Some(loss) = &planned.predicted_loss {
        run.rec.not_recovered.push(loss.clone());
    }
    run.rec.outcome = Outcome::DryRun;
    Ok(())
}

async fn finish<W: World>(run: &mut Run<'_, W>) {
    let config = run.config;
    let workdir = &run.opts.workdir;
    if run.rec.outcome == Outcome::DryRun {
        return;
    }
    // Report in MHA's shape.
    info!("----- Failover Report -----");
    info!("{}", run.rec.subject());
    for p in &run.rec.phases {
        info!(
            "Phase {} {}: {} ms{}",
            p.phase,
            p.name,
            p.ms,
            if p.ok { "" } else { " FAILED" }
        );
    }
    for r in &run.rec.recovered {
        info!("Recovered from {}: {}", r.from, r.gtids);
    }
    for n in &run.rec.not_recovered {
        warn!("NOT recovered: {n}");
    }
    if let Some(s) = &run.rec.semi_sync {
        info!("{}", s.line);
    }
    let record = workdir.join(format!(
        "{}.failover.{}.json",
        config.app_name, run.rec.started_unix
    ));
    let _ = std::fs::write(
        &record,
        serde_json::to_string_pretty(&run.rec).unwrap_or_default(),
    );
    if matches!(
        run.rec.outcome,
        Outcome::Success | Outcome::Partial | Outcome::DataNotRecovered
    ) {
        let _ = std::fs::write(
            complete_marker(workdir, &config.app_name),
            format!("{}\n", now_unix()),
        );
        let _ = std::fs::remove_file(error_marker(workdir, &config.app_name));
        // As MHA: only after a failover that recovered every replica (not a partial one).
        if run.opts.remove_dead_master_conf
            && run.rec.outcome != Outcome::Partial
            && let Some(dead) = &run.rec.dead_master_id
            && let Some(s) = config.server(dead)
        {
            crate::executor::rejoin::keep_removed_block(config, workdir, s, now_unix());
            match crate::config::write::delete_server_block(&config.path, &s.block) {
                Ok(true) => info!(
                    "Deleted [{}] entry from {} .",
                    s.block,
                    config.path.display()
                ),
                Ok(false) => warn!(
                    "Entry [{}] not found in {} .",
                    s.block,
                    config.path.display()
                ),
                Err(e) => error!("could not remove the dead master from the configuration: {e}"),
            }
        }
    }
    if run.rec.outcome == Outcome::Refused {
        return;
    }
    if let Some(cmd) = &config.app.report_script {
        let args = report_args(config, &run.rec);
        if let Err(e) = run_hook(config, "report_script", cmd, args, vec![], vec![]).await {
            warn!("report_script failed: {e}");
        }
    }
}

/// report_script's arguments, as MHA passes them (bare host names).
fn report_args(config: &Config, rec: &FailoverRecord) -> Vec<(String, String)> {
    let mut body = vec![format!(
        "Master {} is down!",
        rec.dead_master.clone().unwrap_or_default()
    )];
    body.extend(rec.phases.iter().flat_map(|p| p.notes.clone()));
    body.extend(
        rec.replicas
            .iter()
            .map(|r| format!("{}: {}", r.server, r.detail)),
    );
    body.extend(rec.semi_sync.as_ref().map(|s| s.line.clone()));
    // MHA passes bare host names.
    let host_of = |id: &Option<ServerId>| {
        id.as_ref()
            .and_then(|id| config.server(id))
            .map(|s| s.hostname.clone())
            .unwrap_or_default()
    };
    let mut args = vec![("orig_master_host".to_string(), host_of(&rec.dead_master_id))];
    if rec.new_master.is_some() {
        args.push(("new_master_host".into(), host_of(&rec.new_master_id)));
        let slaves: Vec<String> = rec
            .replicas
            .iter()
            .filter(|r| r.ok)
            .map(|r| host_of(&Some(r.id.clone())))
            .collect();
        args.push(("new_slave_hosts".into(), slaves.join(",")));
    }
    args.push(("conf".into(), config.path.display().to_string()));
    args.push(("subject".into(), rec.subject()));
    args.push(("body".into(), body.join("\n")));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(file: &str, end: u64, gtids: &[&str]) -> SavedTail {
        SavedTail {
            files: vec![],
            gtids: gtids.iter().map(|g| g.to_string()).collect(),
            end: BinlogPos::new(file, end),
        }
    }

    #[test]
    fn the_binlog_server_reaching_furthest_wins() {
        let t = |l: &str, t: SavedTail| (l.to_string(), t);
        // (tails in configuration order, winner, disagreements)
        type Case = (Vec<(String, SavedTail)>, usize, usize);
        let cases: Vec<Case> = vec![
            // The first lags: the second wins.
            (
                vec![
                    t("b1", tail("bin.000003", 500, &["0-1-3"])),
                    t("b2", tail("bin.000003", 900, &["0-1-3", "0-1-4"])),
                ],
                1,
                0,
            ),
            // A later file beats a larger offset.
            (
                vec![
                    t("b1", tail("bin.000003", 9000, &["0-1-3"])),
                    t("b2", tail("bin.000004", 300, &["0-1-3"])),
                ],
                1,
                0,
            ),
            // Equal: configuration order.
            (
                vec![
                    t("b1", tail("bin.000003", 900, &["0-1-3"])),
                    t("b2", tail("bin.000003", 900, &["0-1-3"])),
                ],
                0,
                0,
            ),
            // Different content: the furthest wins, and the disagreement is said.
            (
                vec![
                    t("b1", tail("bin.000003", 700, &["0-1-3", "0-2-9"])),
                    t("b2", tail("bin.000003", 900, &["0-1-3", "0-1-4"])),
                ],
                1,
                1,
            ),
        ];
        for (tails, winner, disagreements) in cases {
            let (w, d) = most_complete(&tails).unwrap();
            assert_eq!((w, d.len()), (winner, disagreements), "{tails:?}: {d:?}");
        }
        assert!(most_complete(&[]).is_none());
    }

    #[test]
    fn landed_lists_what_the_position_gained() {
        let pos = |t: &str| GtidPos::parse(Flavour::MariaDb, t).unwrap();
        let saved: Vec<String> = ["0-1-3", "0-1-4", "0-1-5", "1-1-9"]
            .map(String::from)
            .to_vec();
        // 0-1-5 was rolled back, 1-1-9 was there before.
        assert_eq!(
            landed(&saved, &pos("0-1-2,1-1-9"), &pos("0-1-4,1-1-9")),
            ["0-1-3", "0-1-4"]
        );
        assert!(landed(&saved, &pos("0-1-5,1-1-9"), &pos("0-1-5,1-1-9")).is_empty());
        // MySQL: the saved GTIDs the executed set gained.
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let set = |t: &str| GtidPos::parse(Flavour::MySql, &t.replace('U', u)).unwrap();
        let saved: Vec<String> = [3, 4, 5].map(|n| format!("{u}:{n}")).to_vec();
        assert_eq!(
            landed(&saved, &set("U:1-2"), &set("U:1-4")),
            [format!("{u}:3"), format!("{u}:4")]
        );
    }
}
