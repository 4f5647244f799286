//! Semi-synchronous replication (`sandbox up --semi-sync`): a master cut off the network under
//! load loses no acknowledged write and the failover says semi-sync guaranteed it, the new
//! master keeps semi-sync; check_repl and the manager report a fallback to asynchronous; a
//! switchover keeps semi-sync; without semi-sync the report gives no guarantee and nothing is
//! turned on.

use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon, Network};

const T: Duration = Duration::from_secs(30);

fn status(name: &str) -> String {
    format!(
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '{name}'"
    )
}

async fn status_n(c: &Cluster, node: &str, name: &str) -> u64 {
    c.value(node, &status(name))
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A write on `node` is acknowledged by a replica: Rpl_semi_sync_master_yes_tx grows.
async fn assert_write_acknowledged(c: &Cluster, node: &str) {
    let before = status_n(c, node, "Rpl_semi_sync_master_yes_tx").await;
    c.exec(
        node,
        "CREATE TABLE IF NOT EXISTS mha_it.semi (id INT PRIMARY KEY)",
    )
    .await;
    c.exec(node, "INSERT INTO mha_it.semi VALUES (1)").await;
    let after = status_n(c, node, "Rpl_semi_sync_master_yes_tx").await;
    assert!(
        after > before,
        "{node}: Rpl_semi_sync_master_yes_tx {before} -> {after}: the write was not acknowledged by a replica"
    );
}

/// The failover's JSON record in the manager's workdir (the only one there).
fn failover_record(c: &Cluster) -> serde_json::Value {
    let dir = c.dir.path().join("manager");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("app1.failover.1"))
        })
        .expect("a failover record");
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_semi_sync_master_loses_no_acknowledged_write() {
    assert!(bed::can_use_netns(), "network namespace tests need root");
    let started = Instant::now();
    let net = Network::new(3);
    let c = Cluster::start_semi_sync(2, Mode::Gtid, net.hosts.clone()).await;
    let conf = c.state.app_config();
    c.create_acked_table().await;
    let w = c.writer("server1");
    let mut m = Daemon::manager(
        &conf,
        &["--last_failover_minute=0"],
        c.dir.path().join("manager.log"),
        Duration::from_secs(20),
    );
    w.wait_acked(50, T).await;
    // The master's host drops off the network: nothing can be saved from it.
    net.unplug(0);
    m.expect_failovers(1, Duration::from_secs(60)).await;
    let acked = w.stop().await;
    let out = m.output();
    for line in out
        .lines()
        .filter(|l| l.contains("emi-sync") || l.contains("Phase 5"))
    {
        eprintln!("{line}");
    }
    assert!(out.contains("SSH is NOT reachable"), "{out}");
    assert!(
        out.contains("Semi-sync: guaranteed: every commit 198.18.0.11(198.18.0.11:")
            && out.contains("acknowledged was on a surviving replica when it died"),
        "{out}"
    );
    // Every acknowledged write survives, on the new master and on the other replica.
    c.wait_replicating_from("server3", "server2", T).await;
    c.assert_has_all("server2", &acked).await;
    c.assert_has_all("server3", &acked).await;
    // The new master keeps semi-sync: master side on, a replica acknowledging, writes
    // acknowledged semi-synchronously.
    assert_eq!(
        c.value("server2", "SELECT @@global.rpl_semi_sync_master_enabled")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        c.value("server2", "SELECT @@global.rpl_semi_sync_master_wait_point")
            .await
            .as_deref(),
        Some("AFTER_SYNC")
    );
    c.wait_value("server2", &status("Rpl_semi_sync_master_clients"), "1", T)
        .await;
    assert_write_acknowledged(&c, "server2").await;
    let rec = failover_record(&c);
    let semi = &rec["semi_sync"];
    assert_eq!(semi["guarantee"]["verdict"], "held", "{semi:#}");
    assert_eq!(semi["settled"]["ok"], true, "{semi:#}");
    eprintln!(
        "{} acknowledged writes, all on server2 and server3; {}",
        acked.len(),
        semi["line"]
    );
    m.child.kill().unwrap();
    let _ = m.child.wait();
    net.plug(0);
    drop(c);
    drop(net);
    eprintln!("took {:?}", started.elapsed());
}

/// check_repl's semi-sync section and its finding; the manager's log lines, once each.
fn check_repl(c: &Cluster) -> (i32, String, serde_json::Value) {
    let conf = c.state.app_config();
    let conf = conf.to_str().unwrap();
    let text = bed::run_mha(&bed::mha_bin(), &["check_repl", "--conf", conf]);
    let json = bed::run_mha(
        &bed::mha_bin(),
        &["check_repl", "--conf", conf, "--output", "json"],
    );
    let v = serde_json::from_str(&bed::text(&json).0).unwrap();
    (text.status.code().unwrap(), bed::text(&text).0, v)
}

fn problems(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["problem"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_to_asynchronous_is_reported_and_logged_once_each_way() {
    let c = Cluster::start_semi_sync(2, Mode::Gtid, vec![]).await;
    c.create_acked_table().await;
    let (code, text, json) = check_repl(&c);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "Semi-synchronous replication:\n  server1  master side ON (AFTER_SYNC, timeout 60 s), active, 2 acknowledging replicas\n  server2  slave side ON, active\n  server3  slave side ON, active\n"
        ),
        "{text}"
    );
    assert!(
        !problems(&json).iter().any(|p| p.starts_with("semi_sync")),
        "{json:#}"
    );
    let conf = c.state.app_config();
    let m = Daemon::manager(&conf, &[], c.dir.path().join("manager.log"), T);
    // No replica acknowledges any more, a short timeout, one write: the master falls back.
    c.exec("server1", "SET GLOBAL rpl_semi_sync_master_timeout = 300")
        .await;
    for r in ["server2", "server3"] {
        c.exec(r, "STOP SLAVE IO_THREAD").await;
    }
    c.exec("server1", "INSERT INTO mha_it.acked VALUES (1)")
        .await;
    let (code, text, json) = check_repl(&c);
    eprintln!("{text}");
    assert_ne!(code, 0, "the IO threads are stopped: {text}");
    assert!(
        text.contains(
            "server1  master side ON (AFTER_SYNC, timeout 0.3 s), FELL BACK to asynchronous, 0 acknowledging replicas"
        ),
        "{text}"
    );
    assert!(
        text.contains("[warning] 127.0.0.1(127.0.0.1:")
            && text.contains(
                "semi-sync master side is ON but has fallen back to asynchronous replication"
            ),
        "{text}"
    );
    assert!(
        problems(&json).contains(&"semi_sync_fell_back".to_string()),
        "{json:#}"
    );
    let fell = "semi-sync fell back to asynchronous replication";
    assert!(m.wait_for(fell, T), "{}", m.output());
    // The replicas come back: the master is semi-synchronous again by itself.
    for r in ["server2", "server3"] {
        c.exec(r, "START SLAVE IO_THREAD").await;
    }
    c.exec("server1", "SET GLOBAL rpl_semi_sync_master_timeout = 60000")
        .await;
    let back = "semi-sync is active again";
    assert!(m.wait_for(back, T), "{}", m.output());
    for line in m.output().lines().filter(|l| l.contains("emi-sync")) {
        eprintln!("{line}");
    }
    // A few more looks: each line stands once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = m.output();
    assert_eq!(out.matches(fell).count(), 1, "{out}");
    assert_eq!(out.matches(back).count(), 1, "{out}");
    let (code, text, json) = check_repl(&c);
    assert_eq!(code, 0, "{text}");
    assert!(
        !problems(&json).iter().any(|p| p.starts_with("semi_sync")),
        "{json:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_keeps_semi_sync() {
    let c = Cluster::start_semi_sync(2, Mode::Gtid, vec![]).await;
    c.create_acked_table().await;
    // An application user: read_only stops it on the old master (the admin user would go on
    // writing there after the switch).
    let w = crate::switchover::app_writer(&c, "server1").await;
    w.wait_acked(20, T).await;
    let conf = c.state.app_config();
    let out = bed::switch_alive_command(&conf, c.node("server2").port)
        .args(["--orig_master_is_new_slave", "--output", "json"])
        .output()
        .unwrap();
    let acked = w.stop().await;
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    let rec: serde_json::Value = serde_json::from_str(&text).unwrap();
    let semi = &rec["semi_sync"];
    assert_eq!(semi["keep"]["replica_side"], true, "{semi:#}");
    assert_eq!(semi["settled"]["ok"], true, "{semi:#}");
    for r in ["server1", "server3"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    let var = |v: &str| format!("SELECT @@global.{v}");
    let on = |v: Option<String>| v.as_deref() == Some("1");
    assert!(on(c
        .value("server2", &var("rpl_semi_sync_master_enabled"))
        .await));
    // The old master: a semi-sync replica now, its master side off.
    assert!(on(c
        .value("server1", &var("rpl_semi_sync_slave_enabled"))
        .await));
    assert!(!on(c
        .value("server1", &var("rpl_semi_sync_master_enabled"))
        .await));
    c.wait_value("server1", &status("Rpl_semi_sync_slave_status"), "ON", T)
        .await;
    c.wait_value("server2", &status("Rpl_semi_sync_master_clients"), "2", T)
        .await;
    assert_write_acknowledged(&c, "server2").await;
    for r in ["server1", "server3"] {
        c.assert_has_all(r, &acked).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_semi_sync_the_report_gives_no_guarantee_and_turns_nothing_on() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    let conf = c.state.app_config();
    let m = Daemon::manager(
        &conf,
        &["--last_failover_minute=0"],
        c.dir.path().join("manager.log"),
        T,
    );
    // The manager looks at semi-sync once a ping interval: let it look once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    m.expect_failovers(1, T).await;
    let out = m.output();
    for line in out.lines().filter(|l| l.contains("emi-sync")) {
        eprintln!("{line}");
    }
    assert!(
        out.contains("Semi-sync: no guarantee: the master did not use semi-sync (rpl_semi_sync_master_enabled=OFF)"),
        "{out}"
    );
    assert!(
        out.contains("Semi-sync: not turned on (the cluster did not use it; semi_sync = auto)"),
        "{out}"
    );
    assert!(!out.contains("Phase 5.1"), "{out}");
    let rec = failover_record(&c);
    assert_eq!(rec["semi_sync"]["guarantee"]["verdict"], "not_held");
    assert_eq!(
        rec["semi_sync"]["guarantee"]["reason"]["why"],
        "master_side_off"
    );
    for (node, var) in [
        ("server2", "rpl_semi_sync_master_enabled"),
        ("server2", "rpl_semi_sync_slave_enabled"),
        ("server3", "rpl_semi_sync_slave_enabled"),
    ] {
        assert_eq!(
            c.value(node, &format!("SELECT @@global.{var}"))
                .await
                .as_deref(),
            Some("0"),
            "{node} {var}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_by_hand_keeps_semi_sync_but_states_no_guarantee() {
    let c = Cluster::start_semi_sync(2, Mode::Gtid, vec![]).await;
    c.create_acked_table().await;
    c.exec("server1", "INSERT INTO mha_it.acked VALUES (1)")
        .await;
    c.wait_value("server3", "SELECT COUNT(*) FROM mha_it.acked", "1", T)
        .await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let conf = c.state.app_config();
    let (code, rec, out) = bed::switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{out}");
    let semi = &rec["semi_sync"];
    // Only a manager looks at the master before it dies.
    assert_eq!(
        semi["guarantee"]["reason"]["why"], "not_observed",
        "{semi:#}"
    );
    assert!(
        semi["line"]
            .as_str()
            .unwrap()
            .starts_with("Semi-sync: no guarantee: the dead master's semi-sync state was not seen"),
        "{semi:#}"
    );
    // The replicas had the replica side: semi-sync is kept (the master's own timeout unknown,
    // the new master keeps its own).
    assert_eq!(semi["keep"]["used"]["by"], "replicas", "{semi:#}");
    assert_eq!(semi["settled"]["ok"], true, "{semi:#}");
    c.wait_value("server2", &status("Rpl_semi_sync_master_clients"), "1", T)
        .await;
    assert_write_acknowledged(&c, "server2").await;
}
