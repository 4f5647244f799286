//! Issue 10's correctness holes, each reproduced on a live sandbox: what a failover leaves
//! behind (a saved tail, an errant candidate, a hung master that thaws).

use std::time::Duration;

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon};

const T: Duration = Duration::from_secs(30);

fn mha(args: &[&str]) -> (Option<i32>, String) {
    let out = bed::run_mha(&bed::mha_bin(), args);
    let (o, e) = bed::text(&out);
    (out.status.code(), format!("{o}\n{e}"))
}

/// Issue 10, hole 4: the tail is applied in a client session, so its GTIDs reached
/// gtid_binlog_pos but not gtid_slave_pos; when the new master later became a replica with
/// MASTER_USE_GTID=slave_pos, the tail was replayed (error 1950 under gtid_strict_mode).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_tail_is_not_replayed_when_the_new_master_becomes_a_replica() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    for n in ["server2", "server3"] {
        c.wait_acked_table(n, T).await;
    }
    let count = "SELECT COUNT(*) FROM mha_it.acked";
    for id in 1..=5 {
        c.exec(
            "server1",
            &format!("INSERT INTO mha_it.acked VALUES ({id})"),
        )
        .await;
    }
    for n in ["server2", "server3"] {
        c.wait_value(n, count, "5", T).await;
        c.exec(n, "STOP SLAVE IO_THREAD").await;
    }
    // Only the master has these: the failover must save them from its binlog.
    for id in 6..=8 {
        c.exec(
            "server1",
            &format!("INSERT INTO mha_it.acked VALUES ({id})"),
        )
        .await;
    }
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let conf = c.state.app_config();
    let conf_s = conf.to_str().unwrap();
    let (code, out) = bed::switch_dead(&conf, &c, &["--remove_dead_master_conf"]);
    assert_eq!(code, Some(0), "{out}");
    // MHA's line for repointing a server by hand, in both forms, the password masked.
    let p2 = c.node("server2").port;
    for form in [
        format!(
            "All other slaves should start replication from here. Statement should be: CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {p2}, MASTER_USER = 'repl', MASTER_PASSWORD = 'xxx', MASTER_LOG_FILE = "
        ),
        format!(
            "With GTIDs (MASTER_USE_GTID): CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {p2}, MASTER_USER = 'repl', MASTER_PASSWORD = 'xxx', MASTER_USE_GTID = slave_pos;"
        ),
    ] {
        assert!(out.contains(&form), "missing {form:?}:\n{out}");
    }
    let repl_pw = std::fs::read_to_string(c.dir.path().join("secrets/repl.password")).unwrap();
    assert!(!out.contains(repl_pw.trim()), "{out}");
    assert_eq!(c.value("server2", count).await.as_deref(), Some("8"));
    c.wait_replicating_from("server3", "server2", T).await;
    c.wait_value("server3", count, "8", T).await;

    // Roles change again: server3 becomes the master, server2 its replica.
    let nm = format!("--new_master_port={}", c.node("server3").port);
    let (code, out) = mha(&[
        "master_switch",
        "--master_state=alive",
        "--conf",
        conf_s,
        "--new_master_host=127.0.0.1",
        &nm,
        "--orig_master_is_new_slave",
        "--interactive=0",
    ]);
    assert_eq!(code, Some(0), "{out}");
    c.wait_replicating_from("server2", "server3", T).await;
    c.exec("server3", "INSERT INTO mha_it.acked VALUES (9)")
        .await;
    c.wait_value("server2", count, "9", T).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let st = c.slave_status("server2").await;
    assert_eq!(
        (
            st["Slave_SQL_Running"].as_deref(),
            st["Last_SQL_Errno"].as_deref()
        ),
        (Some("Yes"), Some("0")),
        "{st:?}"
    );
}

/// Issue 10, hole 6: errant GTIDs were computed only against a live master, so during a
/// failover a candidate with transactions of its own (written on the replica directly) could
/// be promoted and spread them. They are now found against the other replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_errant_gtids_is_not_promoted_after_the_master_died() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    for n in ["server2", "server3"] {
        c.wait_acked_table(n, T).await;
    }
    // server3 is the preferred candidate, and someone wrote on it directly.
    let conf = c.state.app_config();
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("candidate_master = 1\n", "")
        .replacen("[server3]\n", "[server3]\ncandidate_master = 1\n", 1);
    std::fs::write(&conf, text).unwrap();
    // In a domain of its own, so that replication from the master goes on under
    // gtid_strict_mode (an errant write in the master's domain breaks it at once).
    let mut s3 = c.session("server3").await;
    s3.exec("domain", "SET SESSION gtid_domain_id = 9")
        .await
        .unwrap();
    s3.exec("errant write", "INSERT INTO mha_it.acked VALUES (777)")
        .await
        .unwrap();
    s3.disconnect().await;
    c.exec("server1", "INSERT INTO mha_it.acked VALUES (1)")
        .await;
    c.wait_value("server3", "SELECT COUNT(*) FROM mha_it.acked", "2", T)
        .await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let (code, rec, out) = bed::switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{out}");
    let port2 = c.node("server2").port;
    assert!(
        rec["new_master"]
            .as_str()
            .is_some_and(|n| n.contains(&format!(":{port2})"))),
        "{out}"
    );
    assert!(out.contains("\"gtids\": \"9-3-1\""), "{out}");
}

/// Issue 10, hole 1: a client holds `BEGIN; INSERT (99)` on the master, the master hangs
/// (SIGSTOP), the client sends COMMIT, the manager fails over. Before, the thawed master
/// acknowledged the commit (a row no other server has) and took writes next to the new
/// master. Now the hung master is killed over SSH before the promotion: the commit is never
/// acknowledged, and a restart by a supervisor finds it made read-only by the manager.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_master_never_acknowledges_after_the_failover_nor_takes_writes() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    for n in ["server2", "server3"] {
        c.wait_acked_table(n, T).await;
    }
    c.exec("server1", "CREATE USER 'app'@'%' IDENTIFIED BY 'apppw'")
        .await;
    c.exec("server1", "GRANT INSERT, SELECT ON mha_it.* TO 'app'@'%'")
        .await;
    let conf = c.state.app_config();
    let m = Daemon::manager(&conf, &[], c.dir.path().join("manager.log"), T);
    let app = |node: &str| mha::sql::Target {
        host: "127.0.0.1".into(),
        port: c.node(node).port,
        user: "app".into(),
        password: mha::secret::Secret::new("apppw"),
        socket: None,
    };
    let mut client = mha::sql::connect(&app("server1"), Duration::from_secs(5))
        .await
        .unwrap();
    client.exec("begin", "BEGIN").await.unwrap();
    client
        .exec("insert", "INSERT INTO mha_it.acked VALUES (99)")
        .await
        .unwrap();
    sandbox::fault(c.dir.path(), "server1", Fault::Freeze)
        .await
        .unwrap();
    // The COMMIT is sent to the hung server; its answer decides everything.
    let commit = tokio::spawn(async move {
        client
            .exec_waiting("commit", "COMMIT", Duration::from_secs(60))
            .await
    });
    assert!(
        m.wait_for("monitoring the new master", Duration::from_secs(30)),
        "{}",
        m.output()
    );
    // The thaw (the process may already be gone: then there is nothing to resume).
    let _ = sandbox::fault(c.dir.path(), "server1", Fault::Resume).await;
    let acknowledged = tokio::time::timeout(Duration::from_secs(30), commit)
        .await
        .expect("the COMMIT got an answer")
        .unwrap();
    assert!(
        acknowledged.is_err(),
        "the old master acknowledged the commit after the failover"
    );
    let q99 = "SELECT COUNT(*) FROM mha_it.acked WHERE id = 99";
    assert_eq!(c.value("server2", q99).await.as_deref(), Some("0"));
    // Only the new master takes writes.
    assert!(
        mha::sql::connect(&app("server1"), Duration::from_secs(2))
            .await
            .is_err(),
        "the old master still accepts connections"
    );
    let mut s2 = mha::sql::connect(&app("server2"), Duration::from_secs(5))
        .await
        .unwrap();
    s2.exec("write", "INSERT INTO mha_it.acked VALUES (100)")
        .await
        .unwrap();
    // A supervisor restarts it: the manager makes it read-only at once.
    sandbox::fault(c.dir.path(), "server1", Fault::Start)
        .await
        .unwrap();
    c.wait_value(
        "server1",
        "SELECT @@global.read_only",
        "1",
        Duration::from_secs(5),
    )
    .await;
    // The fence also kills every client session it finds: wait until it has, so that the
    // sessions below are not caught by it (they would fail for the wrong reason).
    assert!(
        m.wait_for("client session(s) killed", Duration::from_secs(10)),
        "{}",
        m.output()
    );
    let mut s1 = mha::sql::connect(&app("server1"), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        s1.exec("write", "INSERT INTO mha_it.acked VALUES (101)")
            .await
            .is_err(),
        "the restarted old master takes writes"
    );
    assert_eq!(c.value("server1", q99).await.as_deref(), Some("0"));
}

/// Issue 10, hole 5: with parallel replication, a replica's SQL thread says "read all relay
/// log" while a worker still applies (here: waits for a row lock a client holds on the
/// replica), and its position stands still. Phase 3.1 took that for "applied", saved the
/// transaction again from the dead master's binlog and applied it a second time. Now it waits
/// until gtid_slave_pos has reached what the IO thread received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_worker_still_applying_is_waited_for() {
    let c = Cluster::start(1, Mode::Gtid).await;
    c.exec("server1", "CREATE DATABASE IF NOT EXISTS mha_it")
        .await;
    c.exec(
        "server1",
        "CREATE TABLE mha_it.counter (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB",
    )
    .await;
    c.exec("server1", "INSERT INTO mha_it.counter VALUES (1, 0)")
        .await;
    c.wait_value("server2", "SELECT COUNT(*) FROM mha_it.counter", "1", T)
        .await;
    for stmt in [
        "STOP SLAVE",
        "SET GLOBAL slave_parallel_threads = 4",
        "START SLAVE",
    ] {
        c.exec("server2", stmt).await;
    }
    c.wait_replicating_from("server2", "server1", T).await;
    // A client on the replica holds the row the next replicated update needs.
    let mut holder = c.session("server2").await;
    holder.exec("begin", "BEGIN").await.unwrap();
    holder
        .rows(
            "lock the row",
            "SELECT n FROM mha_it.counter WHERE id = 1 FOR UPDATE",
        )
        .await
        .unwrap();
    c.exec(
        "server1",
        "UPDATE mha_it.counter SET n = n + 1 WHERE id = 1",
    )
    .await;
    let master_pos = c
        .rows("server1", "SHOW MASTER STATUS")
        .await
        .remove(0)
        .get("Position")
        .cloned()
        .flatten()
        .unwrap();
    let start = std::time::Instant::now();
    while c.slave_status("server2").await["Read_Master_Log_Pos"].as_deref()
        != Some(master_pos.as_str())
    {
        assert!(
            start.elapsed() < T,
            "the replica did not receive the update"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    // The lock goes away after 3 s; the worker then commits.
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        holder.exec("release", "ROLLBACK").await.unwrap();
        holder.disconnect().await;
    });
    let conf = c.state.app_config();
    let (code, out) = bed::switch_dead(&conf, &c, &[]);
    release.await.unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        c.value("server2", "SELECT n FROM mha_it.counter WHERE id = 1")
            .await
            .as_deref(),
        Some("1"),
        "the update was applied once:\n{out}"
    );
}
