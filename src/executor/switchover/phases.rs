//! Phases 2 to 5 and the rollback, one async function each. They return what they did as
//! values (notes, positions); the driver in `mod.rs` times and records them, and decides what a
//! failure leaves to undo from [`SwitchState`].

use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::check::Plan;
use super::error::SwitchError;
use super::plan::{
    ONLINE_CHANGE, catch_up_secs, lock_wait_secs, online_change_call, orig_catch_up_secs,
};
use super::{Done, SwitchOptions, SwitchState, session};
use crate::config::{Config, ServerConfig, Timeouts};
use crate::executor::seams::{Db, World};
use crate::executor::semi_sync::Settled;
use crate::hooks;
use crate::sql::dialect::StartAt;
use crate::sql::ops::Toward;
use crate::topology::{BinlogPos, GtidPos};

/// Writes are blocked on the old master, on this session (the global read lock belongs to
/// it), since `since`, at this position.
pub(super) struct Blocked<D: Db> {
    pub lock: D,
    pub gtid: GtidPos,
    pub coords: BinlogPos,
    pub since: Instant,
}

/// Where the new master stands once it stopped replicating (phase 3).
pub(super) struct NewMasterPos {
    pub coords: BinlogPos,
    pub heartbeat: Option<f64>,
}

/// A switch past phase 2: what a failure has to put back.
pub(super) struct Switch<'p, D: Db> {
    pub plan: &'p Plan,
    pub blocked: Blocked<D>,
    /// Replicas whose replication phase 4 changed: from STOP SLAVE on, whether or not they
    /// then reached the new master (the rollback points them all back).
    pub touched: Vec<ServerConfig>,
    /// Phase 3 saw the new master apply everything the old one wrote (and then stopped its
    /// replication): only then may the rollback point it back at the old master's end
    /// coordinates. Before that it still replicates from the old master, untouched; pointing
    /// it at the end would skip what it had not applied (file/position replication).
    pub new_master_caught_up: bool,
    pub state: SwitchState,
}

/// What phase 5 leaves to report.
pub(super) struct Cleanup {
    pub write_block_ms: u64,
    /// The old master as a replica of the new one (`--orig_master_is_new_slave`): server,
    /// done, detail.
    pub orig_master: Option<(String, bool, String)>,
    /// The start hook failed, or the old master could not be made a replica.
    pub partial: bool,
    /// Semi-sync on the new topology, when it is kept.
    pub semi_sync: Option<Settled>,
}

/// `master_ip_online_change_script --command=<command>`, when one is configured. Exit 0 and
/// 10 go on, as in MHA.
async fn online_change(
    config: &Config,
    opts: &SwitchOptions,
    plan: &Plan,
    command: &'static str,
) -> Result<(), SwitchError> {
    let Some(call) = online_change_call(config, command, &plan.orig, &plan.new, opts) else {
        return Ok(());
    };
    info!("Executing {}", call.command_line());
    let o = hooks::run(&call).await?;
    if matches!(o.exit_code, Some(0) | Some(10)) {
        Ok(())
    } else {
        Err(SwitchError::Hook {
            hook: ONLINE_CHANGE,
            command,
            detail: o.describe(),
        })
    }
}

/// Phase 2, Rejecting updates: the stop hook, then writes blocked on the old master and its
/// position recorded. A failure here puts the old master back as it was.
pub(super) async fn reject_updates<W: World>(
    w: &W,
    config: &Config,
    opts: &SwitchOptions,
    plan: &Plan,
) -> Result<Done<Blocked<W::Db>>, SwitchError> {
    if opts.flush_tables {
        flush_tables(w, opts, plan).await;
    }
    online_change(config, opts, plan, "stop").await?;
    // From here writes are blocked on the old master; the clock runs.
    let since = Instant::now();
    let mut lock = session(w, &plan.orig).await?;
    match block_writes(&mut lock, opts, w.timeouts()).await {
        Ok((gtid, coords)) => {
            let note = format!(
                "writes blocked on {} at {coords} ({gtid})",
                plan.orig.display_name()
            );
            Ok(Done::ok(
                Blocked {
                    lock,
                    gtid,
                    coords,
                    since,
                },
                vec![note],
            ))
        }
        Err(e) => {
            let _ = lock.unlock_tables().await;
            let _ = lock.set_read_only_as("read_only off", false).await;
            Err(SwitchError::WritesNotBlocked {
                server: plan.orig.display_name(),
                cause: Box::new(e),
            })
        }
    }
}

/// MHA's FLUSH NO_WRITE_TO_BINLOG TABLES on the old master while it still takes writes
/// (--flush_tables), on a session of its own (the stop hook may end sessions). It only makes
/// the global read lock quicker to get, so a failure is a warning.
async fn flush_tables<W: World>(w: &W, opts: &SwitchOptions, plan: &Plan) {
    let wait = lock_wait_secs(opts, w.timeouts());
    let name = plan.orig.display_name();
    let mut db = match session(w, &plan.orig).await {
        Ok(db) => db,
        Err(e) => {
            warn!("Flushing tables (--flush_tables) skipped on {name}: {e}");
            return;
        }
    };
    let r = match db.lock_wait_timeout(wait).await {
        Ok(()) => db.flush_tables(Duration::from_secs(wait)).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => info!("Executed FLUSH NO_WRITE_TO_BINLOG TABLES on {name}."),
        Err(e) => warn!("Flushing tables (--flush_tables) failed on {name}, going on: {e}"),
    }
    db.disconnect().await;
}

/// read_only=1, every client session ended, the global read lock (or a binlog that does not
/// move), then the position every replica must reach.
async fn block_writes(
    lock: &mut impl Db,
    opts: &SwitchOptions,
    t: &Timeouts,
) -> Result<(GtidPos, BinlogPos), SwitchError> {
    // Bounded server-side waits: a long transaction makes these fail, not hang. The client
    // waits longer than the server, so the server's answer is never lost.
    let wait = lock_wait_secs(opts, t);
    let server_wait = Duration::from_secs(wait);
    lock.lock_wait_timeout(wait).await?;
    lock.set_read_only_waiting(true, server_wait).await?;
    // read_only does not stop sessions with SUPER (READ ONLY ADMIN), nor a transaction
    // already past its writes: end every client session but ours and replication's.
    lock.kill_client_sessions().await;
    if !opts.skip_lock_all_tables {
        lock.flush_tables_with_read_lock(server_wait).await?;
    } else {
        let first = lock.binlog_coords().await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second = lock.binlog_coords().await?;
        if first != second {
            return Err(SwitchError::BinlogNotStopped { first, second });
        }
    }
    let gtid = lock.gtid_pos("gtid_binlog_pos").await?;
    let coords = lock.binlog_coords().await?;
    Ok((gtid, coords))
}

/// Wait until a replica has applied the old master up to `gtid` / `coords`.
async fn wait_caught_up(
    db: &mut impl Db,
    use_gtid: bool,
    gtid: &GtidPos,
    coords: &BinlogPos,
    secs: u64,
) -> Result<(), SwitchError> {
    let what = "wait for the old master's position";
    let answer = if use_gtid {
        db.master_gtid_wait(what, gtid, secs).await?
    } else {
        db.master_pos_wait(what, coords, secs).await?
    };
    match answer {
        Some(v) if v.parse::<i64>().is_ok_and(|n| n >= 0) => Ok(()),
        answer => Err(SwitchError::NotCaughtUp {
            server: db.server().to_string(),
            secs,
            answer,
        }),
    }
}

/// Phase 3, Switching the master: the new master applies everything the old one wrote, stops
/// replicating, and its own binlog position is read.
pub(super) async fn switch_master<W: World>(
    w: &W,
    plan: &Plan,
    blocked: &Blocked<W::Db>,
    caught_up_flag: &mut bool,
) -> Result<Done<NewMasterPos>, SwitchError> {
    let new = &plan.new;
    let caught_up = async {
        let mut db = session(w, new).await?;
        wait_caught_up(
            &mut db,
            plan.gtid,
            &blocked.gtid,
            &blocked.coords,
            catch_up_secs(w.timeouts()),
        )
        .await?;
        *caught_up_flag = true;
        let heartbeat = db.heartbeat_period().await;
        db.stop_replica().await?;
        let coords = db.binlog_coords().await?;
        db.disconnect().await;
        Ok::<_, SwitchError>(NewMasterPos { coords, heartbeat })
    };
    // The client's bound: the server's wait plus a connect and a statement on each side.
    let bound = w.timeouts().switch_catch_up + 2 * w.sql_timeout();
    let pos =
        tokio::time::timeout(bound, caught_up)
            .await
            .map_err(|_| SwitchError::Timeout {
                what: new.display_name(),
            })??;
    let note = format!(
        "{} applied everything up to {}; its binlog is at {}",
        new.display_name(),
        blocked.coords,
        pos.coords
    );
    Ok(Done::ok(pos, vec![note]))
}

/// Phase 4, Switching slaves: in parallel, every other replica catches up with the old master
/// and then replicates from the new one. Each one whose replication was changed (STOP SLAVE
/// sent) is added to `touched`, done or not: the rollback puts those back.
pub(super) async fn switch_slaves<W: World>(
    w: &W,
    plan: &Plan,
    blocked: &Blocked<W::Db>,
    new_pos: &NewMasterPos,
    touched: &mut Vec<ServerConfig>,
) -> Result<Done<()>, SwitchError> {
    let mut set = JoinSet::new();
    for (s, r) in &plan.others {
        let (s, user) = (s.clone(), r.master_user.clone());
        let (new, gtid, og, oc, nc) = (
            plan.new.clone(),
            plan.gtid,
            blocked.gtid.clone(),
            blocked.coords.clone(),
            new_pos.coords.clone(),
        );
        let w = w.clone();
        set.spawn(async move {
            let mut changed = false;
            let res = async {
                let mut db = session(&w, &s).await?;
                wait_caught_up(&mut db, gtid, &og, &oc, catch_up_secs(w.timeouts())).await?;
                let hb = db.heartbeat_period().await;
                // From here a failure leaves the replica stopped or pointed elsewhere.
                changed = true;
                db.stop_replica().await?;
                let user = s.repl_user.clone().unwrap_or(user);
                let to = start_at(gtid, &nc);
                let password = s.repl_password.as_ref();
                db.point_at(Toward::NewMaster, &new, Some(&user), password, &to, hb)
                    .await?;
                db.start_replica().await?;
                db.disconnect().await;
                Ok::<_, SwitchError>(())
            }
            .await;
            (s, changed, res)
        });
    }
    let mut failure = None;
    while let Some(Ok((s, changed, res))) = set.join_next().await {
        if let Err(e) = res {
            failure = Some(e.on_replica(s.display_name()));
        }
        if changed {
            touched.push(s);
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(Done::ok((), vec![])),
    }
}

/// Phase 5, New master cleanup: the new master takes writes (the point of no return), the
/// start hook, then the old master is released (and replicates from the new one if asked).
/// Failures after the point of no return make the switch partial, never undo it.
pub(super) async fn new_master_cleanup<W: World>(
    w: &W,
    config: &Config,
    opts: &SwitchOptions,
    sw: &mut Switch<'_, W::Db>,
    new_pos: &NewMasterPos,
) -> Result<Done<Cleanup>, SwitchError> {
    let mut notes = vec![];
    promote(w, sw, &mut notes).await?;
    let mut ok = true;
    if let Err(e) = online_change(config, opts, sw.plan, "start").await {
        // The new master already takes writes: nothing is rolled back.
        error!("{e}");
        notes.push(format!(
            "{e} (the new master already takes writes: nothing is undone)"
        ));
        ok = false;
    }
    let write_block_ms = sw.blocked.since.elapsed().as_millis() as u64;
    info!("Writes were blocked for {write_block_ms} ms.");
    // The old master: unlocked, read-only, a replica of the new one if asked.
    let _ = sw.blocked.lock.unlock_tables().await;
    let orig = &sw.plan.orig;
    let orig_master = if opts.orig_master_is_new_slave {
        let (new, name) = (sw.plan.new.display_name(), orig.display_name());
        Some(match orig_as_new_slave(w, sw.plan, new_pos).await {
            Ok(()) => (name, true, format!("the old master replicates from {new}")),
            Err(e) => (name, false, e.to_string()),
        })
    } else {
        notes.push(format!(
            "{} stays read-only (not a replica: no --orig_master_is_new_slave)",
            orig.display_name()
        ));
        None
    };
    ok = ok && orig_master.as_ref().is_none_or(|(_, done, _)| *done);
    let semi_sync = settle_semi_sync(w, sw.plan, &orig_master).await;
    if let Some(settled) = &semi_sync {
        notes.extend(settled.notes.iter().cloned());
    }
    Ok(Done {
        value: Cleanup {
            write_block_ms,
            orig_master,
            partial: !ok,
            semi_sync,
        },
        ok,
        notes,
    })
}

/// Semi-sync on the new topology, when it is kept: the replica side on the new master's
/// replicas (the old master too, if it became one), and the new master counting them.
async fn settle_semi_sync<W: World>(
    w: &W,
    plan: &Plan,
    orig_master: &Option<(String, bool, String)>,
) -> Option<Settled> {
    if !plan.semi_sync.enables() {
        return None;
    }
    let orig_replicates = orig_master.as_ref().is_some_and(|(_, done, _)| *done);
    let replicas: Vec<ServerConfig> = plan
        .others
        .iter()
        .map(|(s, _)| s.clone())
        .chain(orig_replicates.then(|| plan.orig.clone()))
        .collect();
    let wait = w.timeouts().replication_start;
    let replica_side = plan.semi_sync.replica_side;
    Some(crate::executor::semi_sync::settle(w, &plan.new, &replicas, replica_side, wait).await)
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

fn after_promote_error(read_back: &Result<bool, SwitchError>) -> PromoteVerdict {
    match read_back {
        Ok(false) => PromoteVerdict::Promoted,
        Ok(true) => PromoteVerdict::RollBack,
        Err(_) => PromoteVerdict::Stop,
    }
}

/// RESET SLAVE ALL and read_only=0 on the new master. read_only=0 comes before the start
/// hook, so that a hook failing afterwards never undoes a master that took writes, and an
/// unclear answer is settled by reading the state back. Leaves `sw.state` saying how it
/// ended.
async fn promote<W: World>(
    w: &W,
    sw: &mut Switch<'_, W::Db>,
    notes: &mut Vec<String>,
) -> Result<(), SwitchError> {
    let new = &sw.plan.new;
    sw.state = SwitchState::PromoteSent;
    // Before the first write: no commit on the new master is acknowledged alone.
    if let Some(keep) = &sw.plan.semi_sync.master_side {
        notes.push(crate::executor::semi_sync::master_on(w, new, keep).await);
    }
    let mut conn_id: Option<u32> = None;
    let sent = async {
        let mut db = session(w, new).await?;
        conn_id = Some(db.connection_id());
        if !new.skip_reset_slave {
            db.reset_replica_all().await?;
        }
        db.set_read_only_as("read_only off", false).await?;
        db.disconnect().await;
        Ok::<_, SwitchError>(())
    }
    .await;
    let Err(e) = sent else {
        sw.state = SwitchState::Promoted;
        return Ok(());
    };
    // A statement whose answer was lost may still be running on the server (waiting for a
    // lock): end it first, so that what is read back stays true.
    if let Some(id) = conn_id {
        kill_connection(w, new, id).await;
    }
    let read_back = read_only_of(w, new).await;
    match after_promote_error(&read_back) {
        PromoteVerdict::Promoted => {
            warn!(
                "{}: the answer to read_only=0 was lost ({e}), but it took effect: going on",
                new.display_name()
            );
            notes.push(format!(
                "{}: read_only=0 took effect although its answer was lost ({e})",
                new.display_name()
            ));
            sw.state = SwitchState::Promoted;
            Ok(())
        }
        PromoteVerdict::RollBack => Err(e),
        PromoteVerdict::Stop => {
            // Making the old master writable now could leave two writable masters.
            sw.state = SwitchState::Undecided;
            Err(SwitchError::Undecided {
                cause: Box::new(e),
                read_back: Box::new(read_back.err().unwrap_or(SwitchError::NoAnswer {
                    server: new.display_name(),
                    what: "read_only",
                })),
                new_master: new.display_name(),
                orig_master: sw.plan.orig.display_name(),
            })
        }
    }
}

/// End connection `id` on a server (best effort: it may be gone already).
async fn kill_connection(w: &impl World, s: &ServerConfig, id: u32) {
    if let Ok(mut db) = session(w, s).await {
        let _ = db
            .kill_connection("kill the unanswered statement", u64::from(id))
            .await;
        db.disconnect().await;
    }
}

/// `@@global.read_only` of a server, on a new connection.
async fn read_only_of(w: &impl World, s: &ServerConfig) -> Result<bool, SwitchError> {
    let mut db = session(w, s).await?;
    let v = db.read_only().await?;
    db.disconnect().await;
    v.ok_or_else(|| SwitchError::NoAnswer {
        server: s.display_name(),
        what: "read_only",
    })
}

/// `--orig_master_is_new_slave`: the old master replicates from the new one, and must reach
/// where the new master stands now, or say why not.
async fn orig_as_new_slave(
    w: &impl World,
    plan: &Plan,
    new_pos: &NewMasterPos,
) -> Result<(), SwitchError> {
    let (orig, new) = (&plan.orig, &plan.new);
    let mut db = session(w, new).await?;
    let target = db.gtid_pos("gtid_binlog_pos").await?;
    db.disconnect().await;
    let mut db = session(w, orig).await?;
    // Already a replica (of its master-master peer, MHA's mm): setting gtid_slave_pos and
    // CHANGE MASTER need it stopped.
    if db.replica_status_row().await?.is_some() {
        db.stop_replica().await?;
    }
    if plan.gtid {
        // What it wrote as master is in its binlog, not in gtid_slave_pos: without this,
        // MASTER_USE_GTID=slave_pos would ask for (and replay) all of it.
        db.slave_pos_covers_binlog().await?;
    }
    let user = orig
        .repl_user
        .clone()
        .unwrap_or_else(|| plan.new_status.master_user.clone());
    if plan.semi_sync.replica_side {
        crate::executor::semi_sync::become_replica(&mut db).await?;
    }
    let to = start_at(plan.gtid, &new_pos.coords);
    let password = orig.repl_password.as_ref();
    db.point_at(
        Toward::NewMaster,
        new,
        Some(&user),
        password,
        &to,
        new_pos.heartbeat,
    )
    .await?;
    db.start_replica().await?;
    // START SLAVE answers before anything was applied: check that it does.
    db.wait_gtid(&target, orig_catch_up_secs(w.timeouts()))
        .await?;
    db.disconnect().await;
    Ok(())
}

/// Put everything back: replicas phase 4 touched go back to the old master, the new master
/// replicates from it again if phase 3 had stopped its replication (made read-only first if
/// it was sent read_only=0), the old master takes writes again. Its value (and `ok`) says whether all of that was done; each thing not
/// done is a `rollback: ... could not ...` note.
pub(super) async fn rollback<W: World>(
    w: &W,
    sw: &mut Switch<'_, W::Db>,
    fence_new_master: bool,
) -> Result<Done<bool>, SwitchError> {
    let plan = sw.plan;
    warn!(
        "Rolling back: the old master {} takes writes again",
        plan.orig.display_name()
    );
    let mut notes = vec![];
    let mut ok = true;
    // A new master that was sent read_only=0 must not take writes, whatever the answer was
    // (one that never was is still read-only: it was a replica).
    if fence_new_master && let Err(e) = make_read_only(w, &plan.new).await {
        let note = format!(
            "rollback: {} could not be made read-only: {e}",
            plan.new.display_name()
        );
        error!("{note}");
        notes.push(note);
        ok = false;
    }
    // Sent just before read_only=0 (see `promote`).
    if fence_new_master && plan.semi_sync.master_side.is_some() && !plan.new_had_master_side {
        // As a replica again, a master side left on would hold its SQL thread.
        if let Err(e) = semi_sync_off(w, &plan.new).await {
            notes.push(format!(
                "rollback: {}: semi-sync master side could not be turned off again: {e}",
                plan.new.display_name()
            ));
        }
    }
    let new_master = sw.new_master_caught_up.then_some(&plan.new);
    for s in sw.touched.iter().chain(new_master) {
        if let Err(e) = point_back(w, plan, s, &sw.blocked.coords).await {
            // Go on with the rest. A new master that cannot be pointed back is still
            // read-only (it was a replica, or read back as read-only): the old master may
            // take writes again, and the report names what is left to repair.
            error!("rollback of {}: {e}", s.display_name());
            notes.push(format!(
                "rollback: {} could not be pointed back: {e}",
                s.display_name()
            ));
            ok = ok && s.block == plan.new.block;
        }
    }
    // The global read lock belongs to the session that took it: release it there.
    let lock = &mut sw.blocked.lock;
    let reopened = async {
        lock.unlock_tables().await?;
        lock.set_read_only_as("read_only off", false).await
    };
    match reopened.await {
        Ok(()) => notes.push(format!(
            "rollback: {} is writable again",
            plan.orig.display_name()
        )),
        Err(e) => {
            error!("rollback: the old master could not be made writable again: {e}");
            notes.push(format!(
                "rollback: {} could not be made writable again: {e}",
                plan.orig.display_name()
            ));
            ok = false;
        }
    }
    Ok(Done {
        value: ok,
        ok,
        notes,
    })
}

async fn semi_sync_off(w: &impl World, s: &ServerConfig) -> Result<(), SwitchError> {
    let mut db = session(w, s).await?;
    db.semi_sync_master_off().await?;
    db.disconnect().await;
    Ok(())
}

async fn make_read_only(w: &impl World, s: &ServerConfig) -> Result<(), SwitchError> {
    let mut db = session(w, s).await?;
    db.set_read_only_as("read_only on", true).await?;
    db.disconnect().await;
    Ok(())
}

/// A replica (or the new master) replicates from the old master again, from where the old
/// master's writes stopped.
async fn point_back(
    w: &impl World,
    plan: &Plan,
    s: &ServerConfig,
    orig_coords: &BinlogPos,
) -> Result<(), SwitchError> {
    let mut db = session(w, s).await?;
    db.stop_replica().await?;
    let hb = db.heartbeat_period().await;
    // After RESET SLAVE ALL the old credentials are gone: give them again.
    let user = s
        .repl_user
        .clone()
        .unwrap_or_else(|| plan.new_status.master_user.clone());
    let to = start_at(plan.gtid, orig_coords);
    let password = s.repl_password.as_ref();
    db.point_at(
        Toward::OldMaster,
        &plan.orig,
        Some(&user),
        password,
        &to,
        hb,
    )
    .await?;
    db.start_replica().await?;
    db.disconnect().await;
    Ok(())
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
        let timed_out = SwitchError::Timeout {
            what: "h2(1.2.3.5:3306)".into(),
        };
        assert_eq!(after_promote_error(&Err(timed_out)), PromoteVerdict::Stop);
    }
}
