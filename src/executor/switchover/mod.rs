//! Online switchover (`master_switch --master_state=alive`), MHA's phases with a real
//! rollback: until the new master takes writes, any failure puts everything back (the old
//! master writable, every replica on it) and says what happened. The time writes were blocked
//! is measured.
//!
//! One async function per phase, with MHA's names and numbers (MHA's MasterRotate.pm numbers
//! only 1, 2 and 5; 3 and 4 are its unnumbered "switch master" and "Switching slaves in
//! parallel"), each run in a `phase` tracing span, timed in the record and journaled in
//! `<app>.switch.journal`:
//!
//! 1. Configuration Check ([`check`]): everything that can refuse; nothing is changed.
//! 2. Rejecting updates: the stop hook, writes blocked on the old master, its position.
//! 3. Switching the master: the new master applies everything and stops replicating.
//! 4. Switching slaves: the other replicas catch up and replicate from the new master.
//! 5. New master cleanup: RESET SLAVE ALL and read_only=0 (the point of no return), the start
//!    hook, the old master released (and made a replica with `--orig_master_is_new_slave`).
//!
//! A failure is handled by how far the switch got ([`SwitchState`]): refused, rolled back
//! (the `Rollback` step, journaled too), or left for the DBA when nothing can be known.
//!
//! A running manager learns about the switch from `<app>.switch` in manager_workdir: it pauses
//! its health checks while the switch runs and then follows the new master.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{Instrument, error, info};

use crate::config::{Config, ServerConfig};
use crate::executor::failover::PhaseRecord;
use crate::executor::seams::{Db, Live, World};
use crate::status::journal::Operation;

mod check;
mod error;
#[cfg(test)]
mod order;
mod phases;
mod plan;

pub use error::{Refusal, SwitchError};
pub use plan::{PlannedHook, Role, ServerPlan, SwitchPlan};

use phases::{Cleanup, NewMasterPos, Switch};

#[derive(Debug, Clone, Default)]
pub struct SwitchOptions {
    pub new_master: Option<(String, Option<u16>)>,
    pub orig_master_is_new_slave: bool,
    pub running_updates_limit: u64,
    pub running_seconds_limit: u64,
    pub seconds_behind_master: u64,
    pub skip_lock_all_tables: bool,
    /// MHA's --flush_tables: FLUSH NO_WRITE_TO_BINLOG TABLES on the old master before phase 2.
    pub flush_tables: bool,
    pub dry_run: bool,
    pub workdir: PathBuf,
    /// Leadership of the application through etcd, proven before each phase that changes
    /// the servers; None: no etcd coordination.
    pub fence: Option<std::sync::Arc<dyn crate::executor::fence::Fence>>,
}

/// How a switch ended. Its exit code is `cli::master_switch`'s `switch_exit` (through
/// `cli::exit::Exit`), documented in docs/switchover.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchOutcome {
    Success,
    /// The new master takes writes and every replica follows it, but the start hook failed or
    /// the old master could not be made a replica (MHA's 10).
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
    /// Each phase run (and the rollback, if any): its duration, outcome and notes.
    pub phases: Vec<PhaseRecord>,
    /// `--dry-run`: what the switch would do.
    pub plan: Option<SwitchPlan>,
    /// Semi-sync: what the new topology got (`semi_sync`), and what was done.
    pub semi_sync: Option<SwitchSemiSync>,
    pub total_ms: u64,
}

/// The switch and semi-sync: what was decided in phase 1 and what phase 5 found.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchSemiSync {
    pub keep: crate::engine::semi_sync::Keep,
    pub settled: Option<crate::executor::semi_sync::Settled>,
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

/// The one way the switchover opens a connection: every statement it sends goes through a
/// session from here.
async fn session<W: World>(w: &W, s: &ServerConfig) -> Result<W::Db, SwitchError> {
    Ok(w.connect(s, w.sql_timeout()).await?)
}

/// How far a switch got: what a failure at that point leaves to undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SwitchState {
    /// Phase 1: nothing has been touched.
    Checking,
    /// Phase 2: the stop hook ran, writes are being blocked (phase 2 undoes its own lock).
    Rejecting,
    /// Writes are blocked on the old master, replicas are moving to the new one.
    WritesBlocked,
    /// `read_only = 0` was sent to the new master; until its effect is known, a rollback
    /// makes it read-only again first.
    PromoteSent,
    /// The new master's read_only cannot be read back: no server may be made writable.
    Undecided,
    /// The new master takes writes: past the point of no return.
    Promoted,
}

/// What a failure in a given state leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aftermath {
    /// Nothing is left to undo on the servers: the outcome is settled.
    Settled(SwitchOutcome),
    /// Put everything back (and first make the new master read-only again if asked).
    RollBack { fence_new_master: bool },
    /// Release the old master's read lock, but leave both masters read-only.
    LeaveReadOnly,
}

fn aftermath(state: SwitchState) -> Aftermath {
    match state {
        SwitchState::Checking => Aftermath::Settled(SwitchOutcome::Refused),
        // Reported as rolled back: the servers are as they were, but a stop hook may have
        // moved the service address.
        SwitchState::Rejecting => Aftermath::Settled(SwitchOutcome::RolledBack),
        SwitchState::WritesBlocked => Aftermath::RollBack {
            fence_new_master: false,
        },
        SwitchState::PromoteSent => Aftermath::RollBack {
            fence_new_master: true,
        },
        SwitchState::Undecided => Aftermath::LeaveReadOnly,
        // Nothing after the point of no return fails the switch (it is partial); if it ever
        // did, it is a failure, not something to roll back.
        SwitchState::Promoted => Aftermath::Settled(SwitchOutcome::Failed),
    }
}

/// A switch that did not succeed: the error and the outcome it led to.
struct Failure {
    error: SwitchError,
    outcome: SwitchOutcome,
}

/// What a phase body hands back: its value, whether it fully succeeded, and its notes.
struct Done<T> {
    value: T,
    ok: bool,
    notes: Vec<String>,
}

impl<T> Done<T> {
    fn ok(value: T, notes: Vec<String>) -> Done<T> {
        Done {
            value,
            ok: true,
            notes,
        }
    }
}

/// The rollback is recorded and journaled like a phase, under this id.
const ROLLBACK: &str = "rollback";

struct Run<'a, W: World> {
    world: W,
    config: &'a Config,
    opts: &'a SwitchOptions,
    rec: SwitchRecord,
}

impl<W: World> Run<'_, W> {
    /// The fence, before phase `phase`: a switch that no longer holds the application's
    /// leadership starts no further phase.
    async fn still_leading(&self, phase: &'static str) -> Result<(), SwitchError> {
        let Some(fence) = &self.opts.fence else {
            return Ok(());
        };
        fence.prove().await.map_err(|why| {
            error!("Not starting phase {phase}: the application's leadership was lost ({why}).");
            SwitchError::LeadershipLost { phase, why }
        })
    }

    /// One phase: MHA's `* Phase N: Name Phase..` line, then [`Run::timed`].
    async fn phase<T>(
        &mut self,
        phase: &'static str,
        name: &'static str,
        body: impl Future<Output = Result<Done<T>, SwitchError>>,
    ) -> Result<T, SwitchError> {
        info!("* Phase {phase}: {name} Phase..");
        self.timed(phase, name, body).await
    }

    /// Runs `body` in its own span (`phase{phase="2" name="Rejecting updates"}`), then records
    /// its duration, outcome and notes, and journals it. The notes of phases that change
    /// something are also the record's steps.
    async fn timed<T>(
        &mut self,
        phase: &'static str,
        name: &'static str,
        body: impl Future<Output = Result<Done<T>, SwitchError>>,
    ) -> Result<T, SwitchError> {
        let t = Instant::now();
        let span = tracing::info_span!("phase", phase, name);
        match body.instrument(span).await {
            Ok(d) => {
                if phase != "1" {
                    self.rec.steps.extend(d.notes.iter().cloned());
                }
                self.phase_done(phase, name, t.elapsed(), d.ok, d.notes);
                Ok(d.value)
            }
            Err(e) => {
                self.phase_done(phase, name, t.elapsed(), false, vec![e.to_string()]);
                Err(e)
            }
        }
    }

    fn phase_done(
        &mut self,
        phase: &'static str,
        name: &'static str,
        took: Duration,
        ok: bool,
        notes: Vec<String>,
    ) {
        let ms = took.as_millis() as u64;
        match (phase, ok) {
            (ROLLBACK, true) => info!(phase, ms, "Rollback completed."),
            (ROLLBACK, false) => error!(phase, ms, "Rollback incomplete."),
            (_, true) => info!(phase, ms, "* Phase {phase}: {name} Phase completed."),
            (_, false) => error!(phase, ms, "* Phase {phase}: {name} Phase failed."),
        }
        let journal = (
            self.opts.workdir.as_path(),
            self.config.app_name.as_str(),
            Operation::Switchover,
        );
        let record = PhaseRecord::ended(journal, phase, name, took, ok, notes);
        self.rec.phases.push(record);
    }
}

impl SwitchRecord {
    /// A switch that has just started: refused until it says otherwise.
    pub fn new(app: &str) -> SwitchRecord {
        SwitchRecord {
            app: app.to_string(),
            outcome: SwitchOutcome::Refused,
            orig_master: None,
            new_master: None,
            error: None,
            steps: vec![],
            replicas: vec![],
            write_block_ms: None,
            phases: vec![],
            plan: None,
            semi_sync: None,
            total_ms: 0,
        }
    }
}

pub async fn switchover(config: &Config, opts: &SwitchOptions) -> SwitchRecord {
    switchover_in(Live::new(&config.app.timeouts), config, opts).await
}

/// `switchover` against `world` (the real one, or a step-order test's fake).
pub async fn switchover_in<W: World>(
    world: W,
    config: &Config,
    opts: &SwitchOptions,
) -> SwitchRecord {
    let started = Instant::now();
    let started_unix = crate::telemetry::unix(std::time::SystemTime::now());
    let mut run = Run {
        world,
        config,
        opts,
        rec: SwitchRecord::new(&config.app_name),
    };
    let outcome = match steps(&mut run).await {
        Ok(outcome) => outcome,
        Err(f) => {
            error!("{}", f.error);
            run.rec.error = Some(error_text(&f.error, &run.rec.steps));
            f.outcome
        }
    };
    run.rec.outcome = outcome;
    let new_master = run.rec.new_master.clone().unwrap_or_default();
    match outcome {
        SwitchOutcome::Success | SwitchOutcome::Partial => {
            write_marker(&opts.workdir, &config.app_name, "done", &new_master)
        }
        SwitchOutcome::RolledBack | SwitchOutcome::Failed => {
            let _ = std::fs::remove_file(switch_marker(&opts.workdir, &config.app_name));
        }
        SwitchOutcome::Refused | SwitchOutcome::DryRun => {}
    }
    run.rec.total_ms = started.elapsed().as_millis() as u64;
    if outcome != SwitchOutcome::DryRun {
        write_record(&opts.workdir, &config.app_name, started_unix, &run.rec);
    }
    run.rec
}

/// `<app>.switch.<unix>.json` in the workdir: what a running manager counts in its metrics
/// (`mha_switchovers_total`, the phase durations), and what is left to read afterwards.
fn write_record(workdir: &Path, app: &str, started_unix: u64, rec: &SwitchRecord) {
    let path = workdir.join(format!("{app}.switch.{started_unix}.json"));
    let tmp = path.with_extension("json.tmp");
    if std::fs::write(&tmp, serde_json::to_string_pretty(rec).unwrap_or_default()).is_ok() {
        let _ = std::fs::rename(tmp, path);
    }
}

/// What the rollback could not do is part of the error, never only a log line.
fn error_text(e: &SwitchError, steps: &[String]) -> String {
    let left: Vec<&str> = steps
        .iter()
        .filter(|t| t.starts_with("rollback:") && t.contains("could not"))
        .map(String::as_str)
        .collect();
    if left.is_empty() {
        e.to_string()
    } else {
        format!("{e}; {}", left.join("; "))
    }
}

fn settled(error: SwitchError, state: SwitchState) -> Failure {
    let outcome = match aftermath(state) {
        Aftermath::Settled(o) => o,
        Aftermath::RollBack { .. } | Aftermath::LeaveReadOnly => SwitchOutcome::Failed,
    };
    Failure { error, outcome }
}

/// Phases 1 and 2, then the rest on the blocked old master.
async fn steps<W: World>(run: &mut Run<'_, W>) -> Result<SwitchOutcome, Failure> {
    let (config, opts, w) = (run.config, run.opts, run.world.clone());
    let plan = run
        .phase("1", "Configuration Check", check::check(&w, config, opts))
        .await
        .map_err(|e| settled(e, SwitchState::Checking))?;
    run.rec.orig_master = Some(plan.orig.display_name());
    run.rec.new_master = Some(plan.new.display_name());
    run.rec.semi_sync = Some(SwitchSemiSync {
        keep: plan.semi_sync.clone(),
        settled: None,
    });
    if opts.dry_run {
        let p = SwitchPlan::new(config, opts, &plan);
        run.rec.steps = p.steps.clone();
        run.rec.plan = Some(p);
        return Ok(SwitchOutcome::DryRun);
    }
    run.still_leading("2")
        .await
        .map_err(|e| settled(e, SwitchState::Checking))?;
    write_marker(
        &opts.workdir,
        &config.app_name,
        "running",
        &plan.new.display_name(),
    );
    let blocked = run
        .phase(
            "2",
            "Rejecting updates",
            phases::reject_updates(&w, config, opts, &plan),
        )
        .await
        .map_err(|e| settled(e, SwitchState::Rejecting))?;
    let mut sw = Switch {
        plan: &plan,
        blocked,
        touched: vec![],
        new_master_caught_up: false,
        state: SwitchState::WritesBlocked,
    };
    let result = match to_new_master(run, &mut sw).await {
        Ok(cleanup) => Ok(finish(run, &sw, cleanup)),
        Err(e) => Err(recover(run, &mut sw, e).await),
    };
    sw.blocked.lock.disconnect().await;
    result
}

/// Phases 3 to 5, on writes blocked by phase 2.
async fn to_new_master<W: World>(
    run: &mut Run<'_, W>,
    sw: &mut Switch<'_, W::Db>,
) -> Result<Cleanup, SwitchError> {
    let (config, opts, w) = (run.config, run.opts, run.world.clone());
    run.still_leading("3").await?;
    let new_pos: NewMasterPos = run
        .phase(
            "3",
            "Switching the master",
            phases::switch_master(&w, sw.plan, &sw.blocked, &mut sw.new_master_caught_up),
        )
        .await?;
    run.still_leading("4").await?;
    let touched = &mut sw.touched;
    run.phase(
        "4",
        "Switching slaves",
        phases::switch_slaves(&w, sw.plan, &sw.blocked, &new_pos, touched),
    )
    .await?;
    run.still_leading("5").await?;
    run.phase(
        "5",
        "New master cleanup",
        phases::new_master_cleanup(&w, config, opts, sw, &new_pos),
    )
    .await
}

/// The switch is done: report the replicas and the write block.
fn finish<W: World>(
    run: &mut Run<'_, W>,
    sw: &Switch<'_, W::Db>,
    cleanup: Cleanup,
) -> SwitchOutcome {
    let new = sw.plan.new.display_name();
    run.rec.write_block_ms = Some(cleanup.write_block_ms);
    // Phase 4 succeeded: every replica it touched replicates from the new master.
    for s in &sw.touched {
        run.rec
            .replicas
            .push((s.display_name(), true, format!("replicating from {new}")));
    }
    run.rec.replicas.extend(cleanup.orig_master);
    if let Some(s) = run.rec.semi_sync.as_mut() {
        s.settled = cleanup.semi_sync;
    }
    if cleanup.partial {
        error!("Switching master to {new} done, but switching slaves partially failed.");
        SwitchOutcome::Partial
    } else {
        info!("Switching master to {new} completed successfully.");
        SwitchOutcome::Success
    }
}

/// A failure after writes were blocked: undo what the state says can be undone.
async fn recover<W: World>(
    run: &mut Run<'_, W>,
    sw: &mut Switch<'_, W::Db>,
    error: SwitchError,
) -> Failure {
    let w = run.world.clone();
    let outcome = match aftermath(sw.state) {
        Aftermath::Settled(outcome) => outcome,
        Aftermath::LeaveReadOnly => {
            let _ = sw.blocked.lock.unlock_tables().await;
            SwitchOutcome::Failed
        }
        Aftermath::RollBack { fence_new_master } => {
            let undone = run
                .timed(
                    ROLLBACK,
                    "Rollback",
                    phases::rollback(&w, sw, fence_new_master),
                )
                .await;
            if undone.unwrap_or(false) {
                SwitchOutcome::RolledBack
            } else {
                SwitchOutcome::Failed
            }
        }
    };
    Failure { error, outcome }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a failure leads to, by how far the switch got.
    #[test]
    fn a_failure_is_undone_according_to_how_far_the_switch_got() {
        use Aftermath::*;
        use SwitchState::*;
        for (state, expected) in [
            (Checking, Settled(SwitchOutcome::Refused)),
            (Rejecting, Settled(SwitchOutcome::RolledBack)),
            (
                WritesBlocked,
                RollBack {
                    fence_new_master: false,
                },
            ),
            (
                PromoteSent,
                RollBack {
                    fence_new_master: true,
                },
            ),
            (Undecided, LeaveReadOnly),
            (Promoted, Settled(SwitchOutcome::Failed)),
        ] {
            assert_eq!(aftermath(state), expected, "{state:?}");
        }
    }

    #[test]
    fn what_the_rollback_could_not_do_is_in_the_error() {
        let e = SwitchError::Timeout {
            what: "h2(1.2.3.5:3306)".into(),
        };
        let steps = vec![
            "writes blocked on h1 at bin.000001:100 (0-1-5)".to_string(),
            "rollback: h2(1.2.3.5:3306) could not be pointed back: refused".to_string(),
            "rollback: h1(1.2.3.4:3306) is writable again".to_string(),
        ];
        assert_eq!(
            error_text(&e, &steps),
            "h2(1.2.3.5:3306) did not answer in time; rollback: h2(1.2.3.5:3306) could not be pointed back: refused"
        );
        assert_eq!(error_text(&e, &steps[..1]), e.to_string());
    }
}
