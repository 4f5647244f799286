//! Step-order tests: the failover against a scripted fake of the SQL and SSH seams. The fake
//! answers every question with a fixed script and records each call, in order, next to the
//! lines the (real) hook scripts wrote; the tests check the ORDER of the steps only. Whether
//! replication really recovers is for the integration tests on real servers.

use super::*;
use crate::executor::fake::{Fake, Lease, Server, at, first};
use crate::topology::testing;

/// Three servers: db1 (the dead master), db2 and db3 (its replicas; db3 received more).
const CONF: &str = "\
[server default]
user=mha
password=secret
repl_user=repl
repl_password=replsecret
ssh_user=root
master_binlog_dir=/var/lib/mysql
master_ip_failover_script=HOOK

[server1]
hostname=db1

[server2]
hostname=db2

[server3]
hostname=db3
";

/// db1 is down; db2 and db3 replicate from it. `moved`: a replica that, read again after
/// phase 1, replicates from db2 (the plan is stale).
fn world(dir: &Path, moved: Option<&'static str>) -> Fake {
    let replica = |host: &str, read_pos: u64, gtid: &str| {
        let mut server = Server::replica(gtid, testing::status_row("db1", read_pos, gtid, 0));
        if moved == Some(host)
            && let Some(row) = server.status_row.as_mut()
        {
            row.insert("Master_Host".into(), Some("db2".into()));
        }
        server
    };
    Fake::new(dir)
        .server("db2", replica("db2", 1000, "0-1-10"))
        .server("db3", replica("db3", 1200, "0-1-12"))
}

/// A failover of db1 onto `new_master` with the hook exiting `stop_exit` on --command=stop;
/// the record and the ordered log.
async fn run(new_master: &str, stop_exit: i32) -> (FailoverRecord, Vec<String>) {
    run_with(new_master, stop_exit, None).await
}

async fn run_with(
    new_master: &str,
    stop_exit: i32,
    moved: Option<&'static str>,
) -> (FailoverRecord, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let fake = world(dir.path(), moved);
    let hook = fake.hook((stop_exit != 0).then_some("stop"));
    fail_over_onto(fake, dir.path(), &hook, new_master).await
}

/// The failover of CONF (its hook `hook`) onto `new_master` in `fake`: the record and the
/// ordered log of what was asked.
async fn fail_over_onto(
    fake: Fake,
    dir: &Path,
    hook: &Path,
    new_master: &str,
) -> (FailoverRecord, Vec<String>) {
    let config = crate::config::from_text(&CONF.replace("HOOK", &hook.display().to_string()));
    let opts = FailoverOptions {
        new_master: Some((new_master.to_string(), None)),
        workdir: dir.join("work"),
        ..Default::default()
    };
    let rec = failover_in(fake.clone(), &config, &opts).await;
    (rec, fake.log())
}

#[tokio::test]
async fn the_stop_hook_runs_before_anything_is_promoted() {
    let (rec, log) = run("db2", 0).await;
    assert_eq!(rec.new_master.as_deref(), Some("db2(db2:3306)"), "{log:#?}");
    let stop = at(&log, "hook: --command=stop");
    for promoting in [
        "db2: point_at LatestReplica db3",
        "db2: reset_replica_all",
        "db2: read_only=0",
        "db3: point_at NewMaster db2",
    ] {
        assert!(stop < at(&log, promoting), "{promoting}: {log:#?}");
    }
    // ... and the IO threads were stopped before it (nothing more arrives from db1).
    assert!(at(&log, "db2: stop_io_thread") < stop, "{log:#?}");
    assert!(at(&log, "db3: stop_io_thread") < stop, "{log:#?}");
}

#[tokio::test]
async fn read_only_is_cleared_on_the_new_master_only_after_it_has_everything() {
    let (_, log) = run("db2", 0).await;
    let writable = at(&log, "db2: read_only=0");
    // It copied what db3 had received, then stopped replicating and forgot its master.
    for before in [
        "db2: point_at LatestReplica db3",
        "db2: wait_gtid 0-1-12",
        "db2: reset_replica_all",
        "db2: slave_pos_covers_binlog",
    ] {
        assert!(at(&log, before) < writable, "{before}: {log:#?}");
    }
    // The VIP moves to it only once it takes writes.
    assert!(writable < at(&log, "hook: --command=start"), "{log:#?}");
}

#[tokio::test]
async fn a_failing_stop_hook_leaves_every_server_untouched() {
    let (rec, log) = run("db2", 1).await;
    assert_eq!(rec.outcome, Outcome::Failed, "{log:#?}");
    let stop = at(&log, "hook: --command=stop");
    // Only the IO threads were stopped, before the hook; nothing after it.
    let touched: Vec<&String> = log[stop + 1..]
        .iter()
        .filter(|l| *l != "end" && !l.starts_with("hook: "))
        .collect();
    assert!(touched.is_empty(), "{touched:#?}");
    assert_eq!(first(&log, "hook: --command=start"), None, "{log:#?}");
}

#[tokio::test]
async fn a_plan_gone_stale_before_phase_2_is_refused_and_nothing_is_touched() {
    let (rec, log) = run_with("db2", 0, Some("db3")).await;
    assert_eq!(rec.outcome, Outcome::Refused, "{log:#?}");
    assert!(
        rec.error
            .as_deref()
            .is_some_and(|e| e.contains("gone stale: db3(db3:3306) now replicates from db2:3306")),
        "{:?}",
        rec.error
    );
    let touched: Vec<&String> = log
        .iter()
        .filter(|l| *l != "end" && !l.ends_with("connect refused"))
        .collect();
    assert!(touched.is_empty(), "{touched:#?}");
}

#[tokio::test]
async fn a_forced_new_master_that_cannot_be_promoted_is_refused_before_phase_2() {
    let (rec, log) = run("db9", 0).await;
    assert_eq!(rec.outcome, Outcome::Refused, "{log:#?}");
    assert_eq!(rec.error.as_deref(), Some("db9 is not a configured server"));
    assert_eq!(log, ["end"], "nothing was asked of any server");
}

const UUID: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

/// A failover of a MySQL 8.0 cluster (db1 down; db2 and db3 its replicas with
/// auto-positioning, db3 received more) onto `new_master`: the record and the ordered log.
async fn run_mysql(new_master: &str) -> (FailoverRecord, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let replica = |read_pos: u64, upto: u64| {
        let set = format!("{UUID}:1-{upto}");
        Server::mysql_replica(&set, testing::mysql_status_row("db1", read_pos, &set, true))
    };
    let fake = Fake::new(dir.path())
        .server("db2", replica(1000, 10))
        .server("db3", replica(1200, 12));
    let hook = fake.hook(None);
    fail_over_onto(fake, dir.path(), &hook, new_master).await
}

/// MySQL with GTIDs: no refusal; the new master catches up from the latest replica by
/// auto-positioning and waits for its executed GTID set (WAIT_FOR_EXECUTED_GTID_SET), then
/// takes writes; the other replica follows it.
#[tokio::test]
async fn a_mysql_gtid_cluster_fails_over_by_auto_position() {
    let (rec, log) = run_mysql("db2").await;
    // Promoted; the dead master's host answers no SSH here, so its binlog tail is lost.
    assert_eq!(
        rec.outcome,
        Outcome::DataNotRecovered,
        "{:?} {log:#?}",
        rec.error
    );
    assert_eq!(rec.new_master.as_deref(), Some("db2(db2:3306)"));
    let wait = format!("db2: wait_gtid {UUID}:1-12");
    let order = [
        "db2: stop_io_thread",
        "hook: --command=stop",
        "db2: point_at LatestReplica db3",
        wait.as_str(),
        "db2: reset_replica_all",
        "db2: read_only=0",
        "hook: --command=start",
    ];
    for pair in order.windows(2) {
        assert!(at(&log, pair[0]) < at(&log, pair[1]), "{pair:?}: {log:#?}");
    }
    assert!(at(&log, "db3: point_at NewMaster db2") > at(&log, "db2: reset_replica_all"));
    assert!(
        log.iter().all(|l| !l.contains("0-1-")),
        "no MariaDB GTID: {log:#?}"
    );
}

/// Leadership lost after any number of phases: the failover starts no further phase, and
/// the new master is never made writable (nor the VIP moved) unless the proof before phase 4
/// passed.
#[tokio::test]
async fn a_manager_that_lost_its_lease_starts_no_further_phase() {
    let mut finished = false;
    for proofs in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let fake = world(dir.path(), None);
        let hook = fake.hook(None);
        let config = crate::config::from_text(&CONF.replace("HOOK", &hook.display().to_string()));
        let opts = FailoverOptions {
            new_master: Some(("db2".to_string(), None)),
            workdir: dir.path().join("work"),
            fence: Some(std::sync::Arc::new(Lease::new(proofs))),
            ..Default::default()
        };
        let rec = failover_in(fake.clone(), &config, &opts).await;
        let log = fake.log();
        if rec.error.is_none() {
            // Enough proofs for every phase: it went to its end (as the fake world allows).
            assert_ne!(rec.outcome, Outcome::Refused, "{log:#?}");
            assert!(
                proofs >= rec.phases.len(),
                "{proofs} proofs: {:?}",
                rec.phases
            );
            assert!(first(&log, "db2: read_only=0").is_some(), "{log:#?}");
            finished = true;
            break;
        }
        let error = rec.error.clone().unwrap_or_default();
        let phase = error
            .strip_prefix("leadership lost before phase ")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("{proofs} proofs: {error}"));
        // A proof before each phase: never more phases than proofs.
        assert!(rec.phases.len() <= proofs, "{proofs}: {:?}", rec.phases);
        if phase <= "4" {
            assert_eq!(first(&log, "db2: read_only=0"), None, "{proofs}: {log:#?}");
            assert_eq!(first(&log, "hook: --command=start"), None, "{log:#?}");
        }
        if proofs == 0 {
            assert_eq!(rec.outcome, Outcome::Refused, "{log:#?}");
            assert!(log.iter().all(|l| l == "end"), "{log:#?}");
        }
    }
    assert!(finished, "a failover whose lease holds goes to its end");
}
