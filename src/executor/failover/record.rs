//! What a failover did, as a value: rendered as the report, written as JSON to the workdir,
//! given to report_script.

#[allow(unused_imports)]
use super::*;

use crate::config::ServerId;
pub use crate::engine::plan::{HookPlan, Mode};

/// How a failover ended. Its exit code (`FailoverRecord::exit_code`) is documented in
/// docs/exit-codes.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Complete: the new master takes writes, every replica follows it, nothing is listed
    /// under NOT recovered.
    Success,
    /// The new master runs, but some replica could not be repointed (MHA's exit 10).
    Partial,
    /// The new master runs, but the report lists transactions under NOT recovered (lost, or
    /// possibly lost). Takes precedence over `Partial`: the failed replicas are in the report.
    DataNotRecovered,
    /// Stopped in phase 3.2 before promotion: the dead master's host answers SSH but its
    /// binlog could not be read. Nothing was promoted; phase 2 ran (IO threads stopped).
    StoppedBeforePromotion,
    Failed,
    /// Refused before anything was changed.
    Refused,
    DryRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseRecord {
    pub phase: &'static str,
    pub name: &'static str,
    pub ms: u64,
    pub ok: bool,
    pub notes: Vec<String>,
}

impl PhaseRecord {
    /// A phase that ended after `took`, and its journal line (`done` or `failed`) in the
    /// workdir: `journal` is (workdir, application, which journal).
    pub fn ended(
        journal: (&Path, &str, crate::status::journal::Operation),
        phase: &'static str,
        name: &'static str,
        took: Duration,
        ok: bool,
        notes: Vec<String>,
    ) -> PhaseRecord {
        let (workdir, app, op) = journal;
        let state = if ok { "done" } else { "failed" };
        crate::status::journal::append(workdir, app, op, phase, name, state);
        PhaseRecord {
            phase,
            name,
            ms: took.as_millis() as u64,
            ok,
            notes,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Recovered {
    pub from: String,
    pub gtids: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplicaResult {
    pub id: ServerId,
    pub server: String,
    pub ok: bool,
    pub detail: String,
}

/// Everything about one failover attempt: rendered as the report, written as JSON to the
/// workdir, given to report_script.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverRecord {
    pub app: String,
    pub started_unix: u64,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub dead_master: Option<String>,
    pub new_master: Option<String>,
    /// The dead and the new master's blocks (`dead_master`, `new_master` are display names).
    pub dead_master_id: Option<ServerId>,
    pub new_master_id: Option<ServerId>,
    pub mode: Option<Mode>,
    pub latest_replica: Option<String>,
    /// How far the new master has the dead master's binlog (in its coordinates): the end of
    /// the saved tail, else what the latest replica had received. What the dead master has
    /// after it, it has alone (`mha rejoin` checks that).
    pub dead_master_reached: Option<BinlogPos>,
    pub ranking: Option<Ranking>,
    pub phases: Vec<PhaseRecord>,
    pub recovered: Vec<Recovered>,
    pub not_recovered: Vec<String>,
    pub replicas: Vec<ReplicaResult>,
    /// Replicas of replicas left alone (multi_tier_slave=1), as `server <- parent`.
    pub left_alone: Vec<String>,
    pub hooks: Vec<HookPlan>,
    /// Dry run: the steps that would be taken.
    pub plan: Vec<String>,
    /// The plan: as predicted (dry run, a refusal) or as executed (from phase 3.3 on).
    pub planned: Option<Plan>,
    /// Semi-sync: whether it guaranteed no acknowledged commit was lost, what was kept.
    pub semi_sync: Option<SemiSyncRecord>,
    pub total_ms: u64,
}

impl FailoverRecord {
    /// A record of a failover that has just started: failed until it says otherwise.
    pub fn new(app: &str, started_unix: u64) -> FailoverRecord {
        FailoverRecord {
            app: app.to_string(),
            started_unix,
            outcome: Outcome::Failed,
            error: None,
            dead_master: None,
            new_master: None,
            dead_master_id: None,
            new_master_id: None,
            mode: None,
            latest_replica: None,
            dead_master_reached: None,
            ranking: None,
            phases: vec![],
            recovered: vec![],
            not_recovered: vec![],
            replicas: vec![],
            left_alone: vec![],
            hooks: vec![],
            plan: vec![],
            planned: None,
            semi_sync: None,
            total_ms: 0,
        }
    }

    /// What the manager's status file keeps about this failover (none for a dry run or a
    /// refusal: nothing was changed).
    pub fn last_failover(&self) -> Option<crate::status::LastFailover> {
        use crate::status::FailoverResult as R;
        let result = match self.outcome {
            Outcome::Success => R::Complete,
            Outcome::Partial => R::Partial,
            Outcome::DataNotRecovered => R::DataNotRecovered,
            Outcome::StoppedBeforePromotion => R::StoppedBeforePromotion,
            Outcome::Failed => R::Failed,
            Outcome::Refused | Outcome::DryRun => return None,
        };
        Some(crate::status::LastFailover {
            result,
            started_unix: self.started_unix,
        })
    }

    /// MHA's subject line.
    pub fn subject(&self) -> String {
        let dead = self.dead_master.clone().unwrap_or_default();
        match (&self.outcome, &self.new_master) {
            (Outcome::Success, Some(n)) => format!(
                "{}: MySQL Master failover {dead} to {n} succeeded",
                self.app
            ),
            (Outcome::DryRun, Some(n)) => {
                format!(
                    "{}: MySQL Master failover {dead} to {n} (dry run)",
                    self.app
                )
            }
            (Outcome::DryRun, None) => {
                format!(
                    "{}: MySQL Master failover {dead}: no new master (dry run)",
                    self.app
                )
            }
            (Outcome::Partial, Some(n)) => {
                format!(
                    "{}: MySQL Master failover {dead} to {n} done, but recovery on slave partially failed",
                    self.app
                )
            }
            (Outcome::DataNotRecovered, Some(n)) => {
                format!(
                    "{}: MySQL Master failover {dead} to {n} done, but data was NOT recovered",
                    self.app
                )
            }
            (Outcome::StoppedBeforePromotion, _) => {
                format!(
                    "{}: MySQL Master failover {dead} stopped before promotion: nothing was promoted",
                    self.app
                )
            }
            _ => format!("{}: MySQL Master failover {dead} failed", self.app),
        }
    }
}
