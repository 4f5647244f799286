//! Position-based recovery (MHA's relay-log diffs) on MariaDB file/position sandboxes, under
//! a write load that records every acknowledged commit: replicas that lag by different
//! amounts get what they lack from the latest replica's relay logs, every survivor ends with
//! the same table and replicates from the new master's binlog coordinates.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, switch_dead_json};

const T: Duration = Duration::from_secs(30);

/// The sandbox's configuration with `use_gtid_auto_pos = 0` (MHA's switch to position-based
/// recovery), unless `auto_pos`.
fn conf(c: &Cluster, auto_pos: bool) -> std::path::PathBuf {
    let text = std::fs::read_to_string(c.state.app_config()).unwrap();
    let text = if auto_pos {
        text
    } else {
        text.replacen(
            "ping_interval = 1\n",
            "ping_interval = 1\nuse_gtid_auto_pos = 0\n",
            1,
        )
    };
    let p = c.dir.path().join(if auto_pos {
        "app1-auto.toml"
    } else {
        "app1-positions.toml"
    });
    std::fs::write(&p, text).unwrap();
    p
}

/// Writes to server1 while server4 stops receiving, then (after the master rotated its
/// binlog and server2 its relay log, unless `!rotate`) server3 too; then server1 is killed
/// (-9) in the middle of the load. server2 is the latest replica, server3 lags, server4 lags
/// more. With `master_alone`, server2 stops receiving too before the last writes: only the
/// master has them. Returns the acknowledged ids.
async fn lagging_then_crash(c: &Cluster, rotate: bool, master_alone: bool) -> Vec<u64> {
    c.create_acked_table().await;
    for r in ["server2", "server3", "server4"] {
        c.wait_acked_table(r, T).await;
    }
    let w = c.writer("server1");
    w.wait_acked(30, T).await;
    c.exec("server4", "STOP SLAVE IO_THREAD").await;
    w.wait_acked(60, T).await;
    if rotate {
        c.exec("server1", "FLUSH BINARY LOGS").await;
        c.exec("server2", "FLUSH RELAY LOGS").await;
    }
    w.wait_acked(90, T).await;
    c.exec("server3", "STOP SLAVE IO_THREAD").await;
    w.wait_acked(120, T).await;
    if master_alone {
        c.exec("server2", "STOP SLAVE IO_THREAD").await;
        w.wait_acked(150, T).await;
    }
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let acked = w.stop().await;
    // The master is gone: nothing arrives, the IO threads just try.
    for r in ["server2", "server3", "server4"] {
        c.exec(r, "START SLAVE IO_THREAD").await;
    }
    acked
}

async fn ids(c: &Cluster, node: &str) -> BTreeSet<u64> {
    c.rows(node, "SELECT id FROM mha_it.acked")
        .await
        .iter()
        .filter_map(|r| r.get("id").cloned().flatten()?.parse().ok())
        .collect()
}

async fn checksum(c: &Cluster, node: &str) -> String {
    c.rows(node, "CHECKSUM TABLE mha_it.acked").await[0]["Checksum"]
        .clone()
        .unwrap_or_default()
}

/// Every acknowledged write that reached any survivor is on every survivor, the table's
/// checksum is the same everywhere, and so is gtid_slave_pos (client-applied diffs counted).
/// Returns the acknowledged writes no survivor has (lost with the master).
async fn same_everywhere(c: &Cluster, survivors: &[&str], acked: &[u64]) -> Vec<u64> {
    let mut union = BTreeSet::new();
    for s in survivors {
        union.extend(ids(c, s).await);
    }
    let reached: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|id| union.contains(id))
        .collect();
    for s in survivors {
        c.assert_has_all(s, &reached).await;
    }
    let sums: Vec<String> = futures_join(c, survivors, checksum).await;
    assert!(
        sums.windows(2).all(|w| w[0] == w[1]),
        "CHECKSUM TABLE differs: {survivors:?} {sums:?}"
    );
    let pos: Vec<String> = futures_join(c, survivors, |c, s| async move {
        c.value(s, "SELECT @@global.gtid_slave_pos")
            .await
            .unwrap_or_default()
    })
    .await;
    assert!(
        pos.windows(2).all(|w| w[0] == w[1]),
        "gtid_slave_pos differs: {survivors:?} {pos:?}"
    );
    acked
        .iter()
        .copied()
        .filter(|id| !union.contains(id))
        .collect()
}

async fn futures_join<'a, F, Fut>(c: &'a Cluster, nodes: &[&'a str], f: F) -> Vec<String>
where
    F: Fn(&'a Cluster, &'a str) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let mut out = Vec::new();
    for n in nodes {
        out.push(f(c, n).await);
    }
    out
}

/// Every other survivor replicates from `new` by file/position, and a write on `new` arrives
/// on each of them.
async fn all_follow(c: &Cluster, new: &str, others: &[&str]) {
    for r in others {
        let st = c.wait_replicating_from(r, new, T).await;
        assert_eq!(st["Using_Gtid"].as_deref(), Some("No"), "{r}: {st:?}");
    }
    assert_eq!(
        c.value(new, "SELECT @@global.read_only").await.as_deref(),
        Some("0")
    );
    c.exec(new, "INSERT INTO mha_it.acked (id) VALUES (10000000)")
        .await;
    for r in others {
        c.wait_value(
            r,
            "SELECT COUNT(*) FROM mha_it.acked WHERE id = 10000000",
            "1",
            T,
        )
        .await;
    }
}

fn recovered_from<'a>(rec: &'a serde_json::Value, prefix: &str) -> Vec<&'a str> {
    rec["recovered"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["from"].as_str().unwrap().starts_with(prefix))
        .map(|r| r["gtids"].as_str().unwrap())
        .collect()
}

fn replica_detail<'a>(rec: &'a serde_json::Value, c: &Cluster, node: &str) -> &'a str {
    let port = format!(":{})", c.node(node).port);
    rec["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["server"].as_str().unwrap().ends_with(&port))
        .map(|r| r["detail"].as_str().unwrap())
        .unwrap_or_else(|| panic!("no result for {node}: {rec}"))
}

/// kill -9 of the master with server3 and server4 lagging by different amounts (a master
/// binlog rotation and a relay log rotation inside what they lack), use_gtid_auto_pos=0: the
/// latest replica server2 is promoted, applies the dead master's saved tail, and the others
/// get their relay-log diffs from server2's relay logs, then the tail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_recover_two_replicas_lagging_by_different_amounts() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let acked = lagging_then_crash(&c, true, false).await;
    let conf = conf(&c, false);
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert_eq!(
        rec["planned"]["recovery"]["recovery"], "positions",
        "{text}"
    );
    assert_eq!(rec["planned"]["recovery"]["why"], "use_gtid_auto_pos_off");
    assert!(
        rec["new_master"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{})", c.node("server2").port)),
        "{text}"
    );
    // The range spans two master binlogs and a relay log rotation: the relay logs are read
    // whole, not from the SQL thread's relay log offset.
    assert!(!text.contains(" from offset "), "{text}");
    for node in ["server3", "server4"] {
        let d = replica_detail(&rec, &c, node);
        assert!(
            d.contains("from relay logs of the latest replica")
                && d.contains("master coordinates after"),
            "{node}: {d}"
        );
    }
    let lost = same_everywhere(&c, &["server2", "server3", "server4"], &acked).await;
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}\n{text}");
    all_follow(&c, "server2", &["server3", "server4"]).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// The same with log_slave_updates=OFF on every server, the new master forced onto the
/// replica that lags (server3): it gets its own diff first. Without use_gtid_auto_pos=0 the
/// plan already goes by positions (no latest replica logs what it replicates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_recover_with_log_slave_updates_off_everywhere() {
    let started = Instant::now();
    let c = Cluster::start_without_log_slave_updates(3, Mode::FilePos).await;
    assert_eq!(
        c.value("server2", "SELECT @@global.log_slave_updates")
            .await
            .as_deref(),
        Some("0")
    );
    let acked = lagging_then_crash(&c, true, false).await;
    let port3 = c.node("server3").port.to_string();
    let forced = [
        "--new_master_host=127.0.0.1".to_string(),
        format!("--new_master_port={port3}"),
    ];
    let forced: Vec<&str> = forced.iter().map(String::as_str).collect();
    // The automatic rule, in a dry run: file/position and nobody logs what it replicates.
    let mut dry = forced.clone();
    dry.push("--dry-run");
    let (code, rec, text) = switch_dead_json(&conf(&c, true), &c, &dry);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        rec["planned"]["recovery"]["recovery"], "positions",
        "{text}"
    );
    assert_eq!(
        rec["planned"]["recovery"]["why"], "latest_without_log_slave_updates",
        "{text}"
    );

    let (code, rec, text) = switch_dead_json(&conf(&c, false), &c, &forced);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert!(
        rec["new_master"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{port3})")),
        "{text}"
    );
    // What server3 lacked came from server2's relay logs, and the report names them.
    let from_relay = recovered_from(&rec, "relay logs of the latest replica");
    assert_eq!(from_relay.len(), 1, "{text}");
    assert!(from_relay[0].starts_with("0-1-"), "{text}");
    let lost = same_everywhere(&c, &["server2", "server3", "server4"], &acked).await;
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}\n{text}");
    all_follow(&c, "server3", &["server2", "server4"]).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// The same with the master's host unreachable over SSH: no saved tail, and the last writes
/// reached the master alone (every IO thread stopped before them). What the replicas
/// received is recovered everywhere; what only the master had is named as lost. No rotation
/// this time: the diffs come from the end of server2's current relay log alone (MHA's fast
/// path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_recover_without_the_masters_host() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    sandbox::fault(c.dir.path(), "server1", Fault::SshStop)
        .await
        .unwrap();
    let acked = lagging_then_crash(&c, false, true).await;
    let (code, rec, text) = switch_dead_json(&conf(&c, false), &c, &[]);
    assert_eq!(code, Some(11), "{text}");
    assert_eq!(rec["outcome"], "data_not_recovered", "{text}");
    let not = rec["not_recovered"].to_string();
    assert!(not.contains("not reachable over SSH"), "{text}");
    assert!(
        text.contains("Read 1 relay log(s)") && text.contains(" from offset "),
        "{text}"
    );
    let lost = same_everywhere(&c, &["server2", "server3", "server4"], &acked).await;
    assert!(!lost.is_empty(), "the last writes reached only the master");
    assert!(
        not.contains("events the dead master") && not.contains("are lost"),
        "{not}"
    );
    for node in ["server3", "server4"] {
        assert!(
            replica_detail(&rec, &c, node).contains("from relay logs of the latest replica"),
            "{text}"
        );
    }
    all_follow(&c, "server2", &["server3", "server4"]).await;
    eprintln!("test took {:?}", started.elapsed());
}

fn check_repl(conf: &std::path::Path) -> (Option<i32>, String, serde_json::Value) {
    let run = |json: bool| {
        let mut args = vec!["check_repl", "--conf", conf.to_str().unwrap()];
        if json {
            args.extend(["--output", "json"]);
        }
        bed::run_mha(&bed::mha_bin(), &args)
    };
    let (text, _) = bed::text(&run(false));
    let out = run(true);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    (out.status.code(), text, doc)
}

fn findings_of<'a>(doc: &'a serde_json::Value, problem: &str) -> Vec<&'a serde_json::Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["problem"] == problem)
        .collect()
}

/// check_repl says which recovery a failover would use and checks what it needs:
/// relay_log_purge=OFF, the relay logs readable over SSH. Then a dry run shows the diff plan:
/// who gets which master-coordinate range from whose relay logs; nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_check_repl_and_dry_run_show_the_diff_plan() {
    let c = Cluster::start(3, Mode::FilePos).await;
    let conf = conf(&c, false);
    let (code, text, doc) = check_repl(&conf);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("Recovery: position-based (relay-log diffs): use_gtid_auto_pos=0 on"),
        "{text}"
    );
    assert_eq!(doc["recovery"]["recovery"], "positions", "{doc}");
    assert!(findings_of(&doc, "relay_log_purge_on").is_empty(), "{text}");
    // relay_log_purge=ON and a host whose relay logs cannot be read over SSH: named.
    c.exec("server3", "SET GLOBAL relay_log_purge = ON").await;
    sandbox::fault(c.dir.path(), "server4", Fault::SshStop)
        .await
        .unwrap();
    let (code, text, doc) = check_repl(&conf);
    assert_eq!(code, Some(1), "{text}");
    let purge = findings_of(&doc, "relay_log_purge_on");
    assert_eq!(purge.len(), 1, "{text}");
    assert_eq!(purge[0]["severity"], "warning", "{text}");
    let unreadable = findings_of(&doc, "relay_log_unreadable");
    assert_eq!(unreadable.len(), 1, "{text}");
    assert_eq!(unreadable[0]["severity"], "error", "{text}");
    assert!(
        unreadable[0]["server"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{})", c.node("server4").port)),
        "{text}"
    );
    // By default (GTID recovery possible) relay_log_purge=ON stays a note.
    let (_, text, doc) = check_repl(&self::conf(&c, true));
    assert!(text.contains("Recovery: by GTID"), "{text}");
    assert_eq!(
        findings_of(&doc, "relay_log_purge_on")[0]["severity"],
        "info"
    );
    c.exec("server3", "SET GLOBAL relay_log_purge = OFF").await;
    sandbox::fault(c.dir.path(), "server4", Fault::SshStart)
        .await
        .unwrap();

    let _acked = lagging_then_crash(&c, true, false).await;
    let out = bed::switch_dead_command(&conf, &c, "server1")
        .arg("--dry-run")
        .output()
        .unwrap();
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    let name = |n: &str| format!("127.0.0.1(127.0.0.1:{})", c.node(n).port);
    for want in [
        "Recovery: position-based (relay-log diffs): use_gtid_auto_pos=0".to_string(),
        format!("Phase 3.3: promote server2 {}", name("server2")),
        format!(
            "Phase 4: {}: apply the master's events after mysql-bin.000001:",
            name("server4")
        ),
        format!(
            "from {}'s relay logs and the saved binlog, then replicate from the new master's binlog coordinates",
            name("server2")
        ),
        format!(
            "Phase 4: {}: apply the master's events after mysql-bin.000002:",
            name("server3")
        ),
    ] {
        assert!(text.contains(&want), "{want}\n{text}");
    }
    assert!(text.contains("Dry run: nothing was changed."), "{text}");
    assert_eq!(
        c.slave_status("server3").await["Master_Port"].as_deref(),
        Some(c.node("server1").port.to_string().as_str()),
        "dry run touched replication"
    );
}
