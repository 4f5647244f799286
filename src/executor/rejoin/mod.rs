//! `mha rejoin` and the manager's `auto_rejoin`: a deposed master comes back as a replica of
//! the current master, if everything it has is in the master's history
//! (`engine::rejoin::decide`). Observe (facts.rs), decide, act (act.rs): fence it, re-read and
//! decide again, point it at the master with MASTER_USE_GTID=slave_pos, wait until it has
//! caught up, write its block back into the configuration file, tell the manager. A refusal
//! changes nothing; `--flashback` undoes the transactions only it has (flashback.rs) first.
//! See docs/rejoin.md.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tracing::{error, info, warn};

use crate::config::{Config, ServerConfig};
use crate::engine::rejoin::{Facts, OnlyHere, Refusal, Verdict, decide, flashback_blockers};
use crate::sql::Session;
use crate::status::rejoin::save_rejoined;
use crate::topology::{Flavour, MariaGtidPos};

mod act;
mod error;
mod facts;
mod flashback;
mod locate;

pub use act::ManagerLink;
pub use error::{NoMaster, RejoinError};
pub use flashback::Undo;
pub use locate::{BlockToWrite, Returning, keep_removed_block, locate};

/// What `--flashback` may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flashback {
    Off,
    /// Show the rows it would undo (with `--dry-run`).
    Preview,
    /// Undo them (`--yes`), then rejoin.
    Apply,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub dry_run: bool,
    pub flashback: Flashback,
    /// How long it may take to catch up with the master.
    pub catch_up: Duration,
    pub workdir: PathBuf,
    pub manager: ManagerLink,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It replicates from the master, caught up, and is in the configuration.
    Rejoined,
    /// It already replicated from the master (the configuration is made to list it).
    AlreadyReplica,
    /// `--dry-run`: what would be done is in `plan`; nothing was changed.
    DryRun,
    /// Refused: nothing was changed (see `verdict`).
    Refused,
    /// It replicates from the master, but its block could not be written back.
    Partial,
    Failed,
}

/// What a rejoin found and did: rendered as text or JSON by `mha rejoin`, logged by the
/// manager.
#[derive(Debug, Clone, Serialize)]
pub struct RejoinReport {
    pub app: String,
    pub server: String,
    pub master: Option<String>,
    pub outcome: Outcome,
    pub verdict: Option<Verdict>,
    /// What the decision was made from.
    pub facts: Option<Facts>,
    /// `--flashback`: why it cannot undo them (empty: it can), what it undoes, and what was
    /// undone.
    pub flashback: Option<FlashbackReport>,
    /// The block written back (or to be written back) into the configuration file.
    pub write_back: Option<BlockToWrite>,
    /// The steps done (or, with --dry-run, to be done), in order.
    pub steps: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FlashbackReport {
    pub blockers: Vec<String>,
    pub undo: Vec<Undo>,
    pub undone: Vec<String>,
    /// The transactions as they were, kept before they were undone.
    pub kept_in: Option<String>,
}

impl RejoinReport {
    /// The transactions only it has, when that is why it was refused.
    pub fn only_here(&self) -> &[OnlyHere] {
        match &self.verdict {
            Some(Verdict::Refused(Refusal::OnlyHere { txns })) => txns,
            _ => &[],
        }
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Rejoin `returning` to the current master of `config` (the configuration as its file says
/// now).
pub async fn rejoin(config: &Config, returning: &Returning, opts: &Options) -> RejoinReport {
    let mut rep = RejoinReport {
        app: config.app_name.clone(),
        server: returning.server.display_name(),
        master: None,
        outcome: Outcome::Failed,
        verdict: None,
        facts: None,
        flashback: None,
        write_back: returning.write_back.clone(),
        steps: vec![],
        error: None,
    };
    match rejoin_in(config, returning, opts, &mut rep).await {
        Ok(outcome) => rep.outcome = outcome,
        Err(e) => {
            rep.outcome = Outcome::Failed;
            rep.error = Some(e.to_string());
        }
    }
    rep
}

async fn rejoin_in(
    config: &Config,
    returning: &Returning,
    opts: &Options,
    rep: &mut RejoinReport,
) -> Result<Outcome, RejoinError> {
    let s = &returning.server;
    let master = facts::current_master(config, s).await;
    rep.master = master.as_ref().ok().map(ServerConfig::display_name);
    let (mut db, flavour) = facts::open(s, config.app.timeouts.sql).await?;
    let facts = facts::gather(&mut db, flavour, returning, &master, config, &opts.workdir).await?;
    let verdict = decide(&facts, &[]);
    rep.facts = Some(facts.clone());
    rep.verdict = Some(verdict.clone());
    let r = match (verdict, master) {
        (Verdict::Refused(Refusal::OnlyHere { txns }), Ok(m))
            if opts.flashback != Flashback::Off =>
        {
            let run = Run {
                config,
                returning,
                opts,
                master: &m,
            };
            run.undo_then_rejoin(&mut db, &facts, &txns, rep).await
        }
        (Verdict::Refused(_), _) => Ok(Outcome::Refused),
        (v, Ok(m)) => {
            let run = Run {
                config,
                returning,
                opts,
                master: &m,
            };
            run.rejoin_contained(&mut db, &facts, &v, rep).await
        }
        // `decide` refuses without a master: not reached.
        (_, Err(_)) => Ok(Outcome::Refused),
    };
    db.disconnect().await;
    r
}

/// One rejoin, once the master is known.
struct Run<'a> {
    config: &'a Config,
    returning: &'a Returning,
    opts: &'a Options,
    master: &'a ServerConfig,
}

impl Run<'_> {
    fn server(&self) -> &ServerConfig {
        &self.returning.server
    }

    /// Its history is contained: fence, check again, replicate, finish.
    async fn rejoin_contained(
        &self,
        db: &mut Session,
        facts: &Facts,
        verdict: &Verdict,
        rep: &mut RejoinReport,
    ) -> Result<Outcome, RejoinError> {
        if self.opts.dry_run {
            rep.steps = self.plan(db, verdict);
            return Ok(Outcome::DryRun);
        }
        if *verdict == Verdict::AlreadyReplica {
            // A working replica: its readers are left alone.
            db.fence_read_only("read_only on a replica").await?;
            rep.steps.push(format!(
                "already replicates from {}; read_only = 1",
                self.master.display_name()
            ));
            return Ok(self.finish(rep, true));
        }
        let again = self.fence_and_recheck(db, facts.flavour, rep).await?;
        match &again {
            Verdict::Contained { start } if again == *verdict => {
                self.attach(db, start, rep).await?;
                Ok(self.finish(rep, false))
            }
            _ => Err(RejoinError::Stale {
                server: facts.server.clone(),
                why: format!("first {verdict}, then {again}"),
            }),
        }
    }

    /// Read-only and its sessions killed, then the facts read again: what was decided on
    /// must still hold now that nothing more can be written.
    async fn fence_and_recheck(
        &self,
        db: &mut Session,
        flavour: Flavour,
        rep: &mut RejoinReport,
    ) -> Result<Verdict, RejoinError> {
        let killed = act::fence(db).await?;
        rep.steps.push(format!(
            "read_only = 1, {killed} client session(s) killed; its GTIDs and binlog read again"
        ));
        let master = Ok(self.master.clone());
        let f = facts::gather(
            db,
            flavour,
            self.returning,
            &master,
            self.config,
            &self.opts.workdir,
        )
        .await?;
        Ok(decide(&f, &[]))
    }

    async fn attach(
        &self,
        db: &mut Session,
        start: &MariaGtidPos,
        rep: &mut RejoinReport,
    ) -> Result<(), RejoinError> {
        let s = self.server();
        act::attach(
            db,
            s,
            self.master,
            start,
            (self.config.app.timeouts.sql, self.opts.catch_up),
            &mut rep.steps,
        )
        .await
    }

    /// The configuration file, the marker, the manager. Partial when the file could not be
    /// written: it replicates, but a restarted manager would not know it.
    fn finish(&self, rep: &mut RejoinReport, already: bool) -> Outcome {
        let s = self.server();
        let outcome = match act::write_back(self.config, self.returning) {
            Ok(done) => {
                rep.steps.push(done);
                if already {
                    Outcome::AlreadyReplica
                } else {
                    Outcome::Rejoined
                }
            }
            Err(e) => {
                error!(
                    "{}: its block could not be written back: {e}",
                    s.display_name()
                );
                rep.error = Some(format!("its block could not be written back: {e}"));
                Outcome::Partial
            }
        };
        act::mark_rejoined(&self.opts.workdir, &self.config.app_name, s);
        if let Some(told) = act::tell_manager(
            &self.opts.manager,
            &self.opts.workdir,
            &self.config.app_name,
        ) {
            rep.steps.push(told);
        }
        rep.outcome = outcome;
        let app = &self.config.app_name;
        if let Err(e) = save_rejoined(
            &self.opts.workdir,
            app,
            &s.hostname,
            s.port,
            now_unix(),
            rep,
        ) {
            warn!(
                "could not write the rejoin record in {}: {e}",
                self.opts.workdir.display()
            );
        }
        info!(
            "{} rejoined as a replica of {}",
            s.display_name(),
            self.master.display_name()
        );
        outcome
    }

    /// What a real run would do, for --dry-run.
    fn plan(&self, db: &Session, verdict: &Verdict) -> Vec<String> {
        let s = self.server();
        let mut steps = vec![format!(
            "read_only = 1 on {}, its client sessions killed; its GTIDs and binlog read again",
            s.display_name()
        )];
        if let Verdict::Contained { start } = verdict {
            let user = s
                .repl_user
                .as_deref()
                .or(self.master.repl_user.as_deref())
                .unwrap_or("(repl_user)");
            steps.push(format!("replication stopped; gtid_slave_pos = {start}"));
            steps.push(format!(
                "pointed at the master: {}",
                act::statement(db, self.master, user)
            ));
            steps.push(format!(
                "replication started; it must execute the master's gtid_binlog_pos within {:?}",
                self.opts.catch_up
            ));
        }
        match &self.returning.write_back {
            Some(b) => steps.push(format!(
                "[{}] written back to {}: {}",
                b.block,
                self.config.path.display(),
                b.from
            )),
            None => steps.push(format!(
                "[{}] stays in {}",
                s.block,
                self.config.path.display()
            )),
        }
        steps.push("the running manager, if any, reads the configuration again".into());
        steps
    }

    /// `--flashback`: show (dry run) or undo its own transactions, then rejoin.
    async fn undo_then_rejoin(
        &self,
        db: &mut Session,
        facts: &Facts,
        txns: &[OnlyHere],
        rep: &mut RejoinReport,
    ) -> Result<Outcome, RejoinError> {
        let located: Vec<_> = txns.iter().filter_map(|o| o.txn.clone()).collect();
        let mut fb = FlashbackReport {
            blockers: flashback_blockers(txns, facts.full_row_image),
            ..FlashbackReport::default()
        };
        if fb.blockers.is_empty() {
            fb.undo = flashback::preview(self.server(), &located, &self.opts.workdir).await?;
        }
        let blocked = !fb.blockers.is_empty();
        rep.flashback = Some(fb);
        if blocked {
            return Ok(Outcome::Refused);
        }
        let gtids: Vec<String> = txns.iter().map(|o| o.gtid.clone()).collect();
        let after = decide(facts, &gtids);
        if self.opts.dry_run || self.opts.flashback == Flashback::Preview {
            let mut steps = self.plan(db, &after);
            steps.insert(1, format!(
                "undo {} transaction(s) with mariadb-binlog --flashback, newest first, sql_log_bin = 0; keep them as they were in the workdir; RESET MASTER",
                gtids.len()
            ));
            rep.steps = steps;
            return Ok(Outcome::DryRun);
        }
        self.undo(db, txns, &located, rep).await?;
        let Verdict::Contained { start } = after else {
            return Ok(Outcome::Refused);
        };
        rep.verdict = Some(Verdict::Contained {
            start: start.clone(),
        });
        self.attach(db, &start, rep).await?;
        Ok(self.finish(rep, false))
    }

    /// Fence, make sure nothing changed, keep the transactions, undo them, RESET MASTER.
    async fn undo(
        &self,
        db: &mut Session,
        txns: &[OnlyHere],
        located: &[crate::engine::rejoin::Txn],
        rep: &mut RejoinReport,
    ) -> Result<(), RejoinError> {
        let s = self.server();
        let again = self.fence_and_recheck(db, Flavour::MariaDb, rep).await?;
        let same = match &again {
            Verdict::Refused(Refusal::OnlyHere { txns: now }) => now == txns,
            _ => false,
        };
        if !same {
            return Err(RejoinError::Stale {
                server: s.display_name(),
                why: "its transactions beyond the master are not the ones checked".into(),
            });
        }
        let kept = self.opts.workdir.join(format!(
            "{}.flashback.{}_{}.{}.sql",
            self.config.app_name,
            s.hostname,
            s.port,
            now_unix()
        ));
        flashback::keep(s, located, &self.opts.workdir, &kept).await?;
        let (undone, r) = flashback::apply(s, located, &self.opts.workdir).await;
        let fb = rep.flashback.get_or_insert_with(FlashbackReport::default);
        fb.kept_in = Some(kept.display().to_string());
        fb.undone = undone.clone();
        rep.steps.push(format!(
            "undone with mariadb-binlog --flashback: {} (kept as they were in {})",
            undone.join(", "),
            kept.display()
        ));
        r?;
        warn!(
            "{}: undid {} (kept in {}); RESET MASTER",
            s.display_name(),
            undone.join(", "),
            kept.display()
        );
        db.reset_master().await?;
        rep.steps.push(
            "its binlog reset (RESET MASTER): it no longer holds the undone transactions".into(),
        );
        Ok(())
    }
}
