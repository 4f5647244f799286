//! Step-order tests: the switchover against the scripted fake of the seams
//! (`executor::fake`). They check the ORDER of the steps only: writes are blocked after the stop
//! hook, the new master takes writes only once it caught up and stopped replicating, a rollback
//! undoes exactly what was done (in reverse), and an unclear answer to read_only=0 is read back
//! before anything else is decided. Whether replication really follows is for the integration
//! tests on real servers.

use super::*;
use crate::executor::fake::{Fake, Fault, Lease, Server, at, first};
use crate::topology::testing;

/// db1 (the master), db2 and db3 (its replicas, caught up).
const CONF: &str = "\
[server default]
user=mha
password=secret
repl_user=repl
repl_password=replsecret
ssh_user=root
master_ip_online_change_script=HOOK

[server1]
hostname=db1

[server2]
hostname=db2

[server3]
hostname=db3
";

const GTID: &str = "0-1-12";

/// A replica of db1 that has everything and is not behind.
fn replica() -> Server {
    let mut row = testing::status_row("db1", 1200, GTID, 0);
    row.insert("Seconds_Behind_Master".into(), Some("0".into()));
    Server::replica(GTID, row)
}

fn world(dir: &Path) -> Fake {
    Fake::new(dir)
        .server("db1", Server::master(GTID))
        .server("db2", replica())
        .server("db3", replica())
}

/// A switch from db1 to db2 in `fake`'s world (the hook failing on `hook_fails`); the record
/// and the ordered log.
async fn switch(fake: Fake, hook_fails: Option<&str>) -> (SwitchRecord, Vec<String>) {
    run_switch(fake, hook_fails, "", |_| {}).await
}

/// A switch from db1 to db2 on `fake`, its hook failing on `hook_fails`: `app_extra` goes into
/// `[server default]`, and `adjust` changes the options from these.
async fn run_switch(
    fake: Fake,
    hook_fails: Option<&str>,
    app_extra: &str,
    adjust: impl FnOnce(&mut SwitchOptions),
) -> (SwitchRecord, Vec<String>) {
    let hook = fake.hook(hook_fails);
    let text = CONF.replace("HOOK", &hook.display().to_string());
    let text = text.replace(
        "[server default]\n",
        &format!("[server default]\n{app_extra}"),
    );
    let config = crate::config::from_text(&text);
    let work = tempfile::tempdir().unwrap();
    let mut opts = SwitchOptions {
        new_master: Some(("db2".into(), None)),
        running_updates_limit: 1,
        running_seconds_limit: 1,
        seconds_behind_master: 1,
        workdir: work.path().to_path_buf(),
        ..Default::default()
    };
    adjust(&mut opts);
    let rec = switchover_in(fake.clone(), &config, &opts).await;
    (rec, fake.log())
}

/// A switch with MHA's --flush_tables=1, the flush failing with `fault` if given.
async fn switch_flushing(fault: Option<Fault>) -> (SwitchRecord, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut fake = world(dir.path());
    if let Some(f) = fault {
        fake = fake.fail("db1: flush_tables", f);
    }
    run_switch(fake, None, "", |o| o.flush_tables = true).await
}

/// A switch from db1 to db2 where nothing fails.
async fn clean_switch() -> (SwitchRecord, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    switch(world(dir.path()), None).await
}

/// A switch from db1 to db2 where the call logged as `entry` fails with `fault`.
async fn switch_failing(entry: &str, fault: Fault) -> (SwitchRecord, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    switch(world(dir.path()).fail(entry, fault), None).await
}

/// A switch whose call `entry` fails with an error: it is rolled back, and the rollback is
/// exactly the inverse of what was done before the fault. Returns the rollback's calls.
async fn rolled_back_at(entry: &str) -> Vec<String> {
    let (rec, log) = switch_failing(entry, Fault::Error).await;
    assert_eq!(rec.outcome, SwitchOutcome::RolledBack, "{log:#?}");
    let (done, after) = at_fault(&log);
    assert_eq!(after, inverse(&done), "{log:#?}");
    after
}

/// What the switchover changes on a server, and what puts it back. Waits, reads, the lock
/// session's own lock_wait_timeout and the client sessions it ends (nothing brings those
/// back) are not changes.
fn undo_of(entry: &str) -> Option<Vec<String>> {
    let (server, op) = entry.split_once(": ")?;
    let on = |ops: &[&str]| Some(ops.iter().map(|op| format!("{server}: {op}")).collect());
    match op {
        "read_only=1" => on(&["read_only=0"]),
        "read_only=0" => on(&["read_only=1"]),
        "flush_tables_with_read_lock" => on(&["unlock_tables"]),
        "semi_sync_master=1" => on(&["semi_sync_master=0"]),
        // Any change to a server's replication is undone by pointing it back at db1.
        "stop_replica" | "start_replica" | "reset_replica_all" => {
            on(&["stop_replica", "point_at OldMaster db1", "start_replica"])
        }
        _ if op.starts_with("point_at ") => {
            on(&["stop_replica", "point_at OldMaster db1", "start_replica"])
        }
        _ => None,
    }
}

/// The inverse of the changes in `done`, in reverse order; a server's replication is put back
/// once, where the undo of its first change goes. A change that failed counts: its answer may
/// have been lost, and the rollback undoes what was sent.
fn inverse(done: &[String]) -> Vec<String> {
    let mut units: Vec<Vec<String>> = done.iter().rev().filter_map(|e| undo_of(e)).collect();
    let mut i = 0;
    while i < units.len() {
        if units[i + 1..].contains(&units[i]) {
            units.remove(i);
        } else {
            i += 1;
        }
    }
    units.concat()
}

/// `log` cut at the scripted fault: what was sent up to and with the failing call, and what
/// was sent after the failure (`end` left out).
fn at_fault(log: &[String]) -> (Vec<String>, Vec<String>) {
    let fault = log
        .iter()
        .position(|l| l.ends_with(": error") || l.ends_with(": connection lost"))
        .unwrap_or_else(|| panic!("no fault in {log:#?}"));
    let after = log[fault + 1..].iter().filter(|l| *l != "end").cloned();
    (log[..fault].to_vec(), after.collect())
}

#[tokio::test]
async fn writes_are_blocked_on_the_old_master_only_after_the_stop_hook() {
    let (rec, log) = clean_switch().await;
    assert_eq!(rec.outcome, SwitchOutcome::Success, "{log:#?}");
    // The stop hook is the first thing done: nothing was sent to any server before it.
    assert_eq!(at(&log, "hook: --command=stop"), 0, "{log:#?}");
    // Then read_only=1 (new writes fail), the client sessions ended, the global read lock.
    let order = [
        "hook: --command=stop",
        "db1: read_only=1",
        "db1: kill_client_sessions",
        "db1: flush_tables_with_read_lock",
        "db2: master_gtid_wait 0-1-12",
    ];
    for pair in order.windows(2) {
        assert!(at(&log, pair[0]) < at(&log, pair[1]), "{pair:?}: {log:#?}");
    }
}

#[tokio::test]
async fn the_new_master_takes_writes_only_after_it_caught_up_and_stopped_replicating() {
    let (rec, log) = clean_switch().await;
    assert_eq!(rec.outcome, SwitchOutcome::Success, "{log:#?}");
    let writable = at(&log, "db2: read_only=0");
    for before in [
        "db1: flush_tables_with_read_lock",
        "db2: master_gtid_wait 0-1-12",
        "db2: stop_replica",
        "db2: reset_replica_all",
    ] {
        assert!(at(&log, before) < writable, "{before}: {log:#?}");
    }
    // Only then the start hook (the service address moves to it), and the old master's lock
    // is released; the old master is never made writable again.
    assert!(writable < at(&log, "hook: --command=start"), "{log:#?}");
    assert!(writable < at(&log, "db1: unlock_tables"), "{log:#?}");
    assert_eq!(first(&log, "db1: read_only=0"), None, "{log:#?}");
}

#[tokio::test]
async fn flush_tables_comes_first_and_a_failing_flush_only_warns() {
    let (rec, log) = switch_flushing(None).await;
    assert_eq!(rec.outcome, SwitchOutcome::Success, "{log:#?}");
    assert!(
        at(&log, "db1: flush_tables") < at(&log, "hook: --command=stop"),
        "{log:#?}"
    );
    let (rec, log) = switch_flushing(Some(Fault::Error)).await;
    assert_eq!(rec.outcome, SwitchOutcome::Success, "{log:#?}");
    // Without --flush_tables (the options' default), no flush.
    let (_, log) = clean_switch().await;
    assert!(!log.iter().any(|l| l == "db1: flush_tables"), "{log:#?}");
}

#[tokio::test]
async fn a_failing_stop_hook_touches_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, log) = switch(world(dir.path()), Some("stop")).await;
    assert_eq!(rec.outcome, SwitchOutcome::RolledBack, "{log:#?}");
    assert_eq!(log, ["hook: --command=stop", "end"]);
}

#[tokio::test]
async fn a_failure_to_block_writes_undoes_exactly_what_was_done() {
    let after = rolled_back_at("db1: flush_tables_with_read_lock").await;
    assert_eq!(after, ["db1: unlock_tables", "db1: read_only=0"]);
}

#[tokio::test]
async fn a_replica_that_does_not_catch_up_rolls_back_exactly_what_was_done() {
    let after = rolled_back_at("db3: master_gtid_wait 0-1-12").await;
    assert_eq!(
        after,
        [
            "db2: stop_replica",
            "db2: point_at OldMaster db1",
            "db2: start_replica",
            "db1: unlock_tables",
            "db1: read_only=0",
        ]
    );
}

/// The leadership (etcd) lost before any phase that changes the servers: the switch starts
/// no further phase. Before phase 2 nothing was touched (refused); after it, exactly what
/// was done is undone and the new master never takes writes.
#[tokio::test]
async fn a_switch_that_lost_its_lease_starts_no_further_phase() {
    let (_, clean) = clean_switch().await;
    let mut finished = false;
    for proofs in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        let fence = std::sync::Arc::new(Lease::new(proofs));
        let (rec, log) = run_switch(world(dir.path()), None, "", |o| o.fence = Some(fence)).await;
        let Some(error) = rec.error.clone() else {
            assert_eq!(rec.outcome, SwitchOutcome::Success, "{log:#?}");
            assert_eq!(proofs, 4, "a proof before phases 2, 3, 4 and 5");
            finished = true;
            break;
        };
        let phase = (proofs + 2).to_string();
        let lost = format!("leadership lost before phase {phase} (lease lost)");
        assert!(error.starts_with(&lost), "{proofs} proofs: {error}");
        assert!(!rec.phases.iter().any(|p| p.phase == phase), "{rec:?}");
        if proofs == 0 {
            assert_eq!(rec.outcome, SwitchOutcome::Refused, "{log:#?}");
            assert_eq!(log, ["end"]);
            continue;
        }
        assert_eq!(rec.outcome, SwitchOutcome::RolledBack, "{log:#?}");
        assert_eq!(first(&log, "db2: read_only=0"), None, "{log:#?}");
        assert_eq!(first(&log, "hook: --command=start"), None, "{log:#?}");
        // What ran is the clean switch's beginning; the rest is its exact undoing.
        let done = log.iter().zip(&clean).take_while(|(a, b)| a == b).count();
        let after: Vec<String> = log[done..]
            .iter()
            .filter(|l| *l != "end")
            .cloned()
            .collect();
        assert_eq!(after, inverse(&log[..done]), "{proofs} proofs: {log:#?}");
    }
    assert!(finished, "a switch whose lease holds goes to its end");
}

#[tokio::test]
async fn a_new_master_that_does_not_catch_up_is_left_replicating_untouched() {
    // Its replication was never stopped: pointing it at the old master's end coordinates
    // would skip what it had not applied (file/position replication).
    let after = rolled_back_at("db2: master_gtid_wait 0-1-12").await;
    assert_eq!(after, ["db1: unlock_tables", "db1: read_only=0"]);
}

#[tokio::test]
async fn a_replica_stopped_but_not_pointed_at_the_new_master_is_put_back_too() {
    // db3 stopped replicating, then CHANGE MASTER to db2 failed: it goes back to db1 as well.
    let after = rolled_back_at("db3: point_at NewMaster db2").await;
    assert_eq!(
        after,
        [
            "db3: stop_replica",
            "db3: point_at OldMaster db1",
            "db3: start_replica",
            "db2: stop_replica",
            "db2: point_at OldMaster db1",
            "db2: start_replica",
            "db1: unlock_tables",
            "db1: read_only=0",
        ]
    );
}

#[tokio::test]
async fn a_refused_read_only_0_on_the_new_master_rolls_back_exactly_what_was_done() {
    // The server answers with an error; read back, db2 is still read-only: roll back.
    let (rec, log) = switch_failing("db2: read_only=0", Fault::Error).await;
    assert_eq!(rec.outcome, SwitchOutcome::RolledBack, "{log:#?}");
    let (done, after) = at_fault(&log);
    let settled = [
        "db2: kill_connection 7".to_string(),
        "db2: read read_only".to_string(),
    ];
    assert_eq!(after[..2], settled, "{log:#?}");
    assert_eq!(after[2..], inverse(&done), "{log:#?}");
    assert_eq!(
        after[2..],
        [
            "db2: read_only=1",
            "db3: stop_replica",
            "db3: point_at OldMaster db1",
            "db3: start_replica",
            "db2: stop_replica",
            "db2: point_at OldMaster db1",
            "db2: start_replica",
            "db1: unlock_tables",
            "db1: read_only=0",
        ]
    );
    assert_eq!(first(&log, "hook: --command=start"), None, "{log:#?}");
}

#[tokio::test]
async fn a_lost_answer_to_read_only_0_that_took_effect_is_read_back_and_the_switch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut took_effect = replica();
    took_effect.read_only = Some(false);
    let fake = world(dir.path())
        .server("db2", took_effect)
        .fail("db2: read_only=0", Fault::Lost);
    let (rec, log) = switch(fake, None).await;
    assert_eq!(rec.outcome, SwitchOutcome::Success, "{log:#?}");
    let sent = at(&log, "db2: read_only=0");
    assert_eq!(
        log[sent..],
        [
            "db2: read_only=0",
            "db2: connection lost",
            "db2: kill_connection 7",
            "db2: read read_only",
            "hook: --command=start",
            "db1: unlock_tables",
            "end",
        ]
    );
}

#[tokio::test]
async fn a_lost_answer_to_read_only_0_that_cannot_be_read_back_leaves_both_masters_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let fake = world(dir.path())
        .fail("db2: read_only=0", Fault::Lost)
        .fail("db2: read read_only", Fault::Lost);
    let (rec, log) = switch(fake, None).await;
    assert_eq!(rec.outcome, SwitchOutcome::Failed, "{log:#?}");
    let sent = at(&log, "db2: read_only=0");
    // Undecided: no server is made writable, no replica is moved back; only the old
    // master's read lock is released.
    assert_eq!(
        log[sent..],
        [
            "db2: read_only=0",
            "db2: connection lost",
            "db2: kill_connection 7",
            "db2: read read_only",
            "db2: connection lost",
            "db1: unlock_tables",
            "end",
        ]
    );
}

/// `world` where the cluster uses semi-sync: db1's master side on, db2's and db3's replica
/// side on and registered.
fn semi_sync_world(dir: &Path) -> Fake {
    use crate::topology::{SemiSync, WaitPoint};
    let mut master = Server::master(GTID);
    master.state.semi_sync = Some(SemiSync {
        master_enabled: true,
        master_active: true,
        wait_point: Some(WaitPoint::AfterSync),
        timeout_ms: Some(60_000),
        clients: 2,
        ..SemiSync::default()
    });
    let semi_replica = || {
        let mut r = replica();
        r.state.semi_sync = Some(SemiSync {
            slave_enabled: true,
            slave_active: true,
            ..SemiSync::default()
        });
        r
    };
    Fake::new(dir)
        .server("db1", master)
        .server("db2", semi_replica())
        .server("db3", semi_replica())
}

#[tokio::test]
async fn semi_sync_is_on_before_the_new_master_takes_writes_and_the_old_master_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let fake = semi_sync_world(dir.path());
    let (rec, log) = run_switch(fake, None, "", |o| o.orig_master_is_new_slave = true).await;
    assert_eq!(rec.outcome, SwitchOutcome::Success, "{log:#?}");
    // The master side before the first write on the new master.
    assert!(
        at(&log, "db2: semi_sync_master=1") < at(&log, "db2: read_only=0"),
        "{log:#?}"
    );
    // The old master: its master side off and its replica side on before it replicates.
    let order = [
        "db1: semi_sync_master=0",
        "db1: semi_sync_slave=1",
        "db1: point_at NewMaster db2",
        "db1: start_replica",
    ];
    for pair in order.windows(2) {
        assert!(at(&log, pair[0]) < at(&log, pair[1]), "{pair:?}: {log:#?}");
    }
    // db3 already acknowledges: nothing to change there.
    assert_eq!(first(&log, "db3: semi_sync"), None, "{log:#?}");
    let semi = rec.semi_sync.unwrap();
    assert!(semi.keep.replica_side && semi.settled.is_some());
}

#[tokio::test]
async fn a_rollback_turns_the_new_masters_semi_sync_off_again() {
    let dir = tempfile::tempdir().unwrap();
    let fake = semi_sync_world(dir.path()).fail("db2: read_only=0", Fault::Error);
    let (rec, log) = switch(fake, None).await;
    assert_eq!(rec.outcome, SwitchOutcome::RolledBack, "{log:#?}");
    let (done, after) = at_fault(&log);
    assert_eq!(after[2..], inverse(&done), "{log:#?}");
    assert_eq!(after[2..4], ["db2: read_only=1", "db2: semi_sync_master=0"]);
}

#[tokio::test]
async fn semi_sync_off_changes_no_semi_sync_setting() {
    let dir = tempfile::tempdir().unwrap();
    let fake = semi_sync_world(dir.path());
    let (rec, log) = run_switch(fake, None, "semi_sync=off\n", |o| {
        o.orig_master_is_new_slave = true
    })
    .await;
    assert_eq!(rec.outcome, SwitchOutcome::Success, "{log:#?}");
    assert!(!log.iter().any(|l| l.contains("semi_sync")), "{log:#?}");
}

/// A MySQL 8.0 cluster with auto-positioning: db1 the master, db2 and db3 caught up.
fn mysql_world(dir: &Path) -> Fake {
    let set = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-12";
    let replica = || Server::mysql_replica(set, testing::mysql_status_row("db1", 1200, set, true));
    Fake::new(dir)
        .server("db1", Server::mysql_master(set))
        .server("db2", replica())
        .server("db3", replica())
}

/// MySQL: no refusal, and the same order as on MariaDB; the replicas wait for the old
/// master's GTID set (WAIT_FOR_EXECUTED_GTID_SET) before the new master takes writes.
#[tokio::test]
async fn a_mysql_cluster_switches_in_the_same_order() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, log) = switch(mysql_world(dir.path()), None).await;
    assert_eq!(rec.outcome, SwitchOutcome::Success, "{log:#?}");
    let wait = "db2: master_gtid_wait 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-12";
    let order = [
        "hook: --command=stop",
        "db1: read_only=1",
        "db1: flush_tables_with_read_lock",
        wait,
        "db2: reset_replica_all",
        "db2: read_only=0",
        "hook: --command=start",
    ];
    for pair in order.windows(2) {
        assert!(at(&log, pair[0]) < at(&log, pair[1]), "{pair:?}: {log:#?}");
    }
    assert!(
        at(&log, "db3: point_at NewMaster db2") > at(&log, wait),
        "{log:#?}"
    );
}
