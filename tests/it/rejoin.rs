//! `mha rejoin` and `auto_rejoin` on live sandboxes (issue 16, item 2): the drill (stop the
//! master under writes, fail over with --remove_dead_master_conf, start it, rejoin it), a
//! refusal for a transaction only the old master has (committed while it was cut off in a
//! network namespace) with --flashback, and the manager's auto_rejoin both ways.

use std::path::Path;
use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon, Network};

const T: Duration = Duration::from_secs(30);

fn mha(args: &[&str]) -> (Option<i32>, String) {
    let out = bed::run_mha(&bed::mha_bin(), args);
    let (o, e) = bed::text(&out);
    (out.status.code(), format!("{o}\n{e}"))
}

/// `mha rejoin --conf CONF --host HOST --port PORT EXTRA...`.
fn rejoin(conf: &Path, host: &str, port: u16, extra: &[&str]) -> (Option<i32>, String) {
    let port = port.to_string();
    let mut args = vec![
        "rejoin",
        "--conf",
        conf.to_str().unwrap(),
        "--host",
        host,
        "--port",
        &port,
    ];
    args.extend_from_slice(extra);
    mha(&args)
}

fn comment_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn block_of(conf: &Path, block: &str) -> Option<mha::config::ServerConfig> {
    let global = conf.with_file_name("no-global.cnf");
    std::fs::write(&global, "").unwrap();
    mha::config::load(conf, &mha::config::GlobalConf::Explicit(global))
        .unwrap()
        .config
        .servers
        .into_iter()
        .find(|s| s.block == block)
}

async fn checksum(c: &Cluster, node: &str) -> String {
    c.rows(node, "CHECKSUM TABLE mha_it.acked").await[0]["Checksum"]
        .clone()
        .unwrap_or_default()
}

/// Every server has the same rows as `master`: waited for, then CHECKSUM TABLE compared.
async fn same_everywhere(c: &Cluster, master: &str, others: &[&str]) {
    let count = "SELECT COUNT(*) FROM mha_it.acked";
    let want = c.value(master, count).await.unwrap();
    for n in others {
        c.wait_value(n, count, &want, T).await;
    }
    let sum = checksum(c, master).await;
    for n in others {
        assert_eq!(checksum(c, n).await, sum, "{n} differs from {master}");
    }
}

/// The drill: (1) the master is stopped under a load that logs every acknowledged commit,
/// the manager fails over with --remove_dead_master_conf; (2) it is started again (the
/// manager fences it) and `mha rejoin` brings it back; (3) it replicates from the new master,
/// holds every acknowledged row (CHECKSUM TABLE equal everywhere), its block is back in the
/// file with every comment kept, and the manager reads the file again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_stop_fail_over_start_rejoin_under_load() {
    let started = Instant::now();
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    for n in ["server2", "server3"] {
        c.wait_acked_table(n, T).await;
    }
    let conf = c.state.app_config();
    // Comments of the DBA's, above and between blocks: none may be lost.
    let text = std::fs::read_to_string(&conf).unwrap().replace(
        "\n[server2]\n",
        "\n# drill: server2 is the candidate\n[server2]\n",
    ) + "\n# drill: the end of the file\n";
    std::fs::write(&conf, &text).unwrap();
    let comments_before = comment_lines(&text);
    let server1_before = block_of(&conf, "server1").unwrap();
    let p1 = c.node("server1").port;
    // Not for the master itself; a replica of the master needs nothing.
    let (code, out) = rejoin(&conf, "127.0.0.1", p1, &["--dry-run"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("it is the current master"), "{out}");
    let (code, out) = rejoin(&conf, "127.0.0.1", c.node("server3").port, &["--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("it already replicates from the master"),
        "{out}"
    );

    let m = Daemon::manager(
        &conf,
        &["--remove_dead_master_conf"],
        c.dir.path().join("manager.log"),
        T,
    );
    let w = c.writer("server1");
    w.wait_acked(100, T).await;
    // (1)
    sandbox::fault(c.dir.path(), "server1", Fault::Stop)
        .await
        .unwrap();
    m.expect_failovers(1, Duration::from_secs(60)).await;
    let mut acked = w.stop().await;
    assert!(
        block_of(&conf, "server1").is_none(),
        "the block was removed"
    );
    c.wait_value(
        "server2",
        "SELECT @@global.read_only",
        "0",
        Duration::from_secs(10),
    )
    .await;
    let w2 = c.writer("server2");
    w2.wait_acked(50, T).await;

    // (2) Started again: the manager makes it read-only; then the rejoin, under writes.
    sandbox::fault(c.dir.path(), "server1", Fault::Start)
        .await
        .unwrap();
    assert!(
        m.wait_for_nth("The deposed master", 2, T).await,
        "{}",
        m.output()
    );
    c.wait_value("server1", "SELECT @@global.read_only", "1", T)
        .await;
    let t0 = Instant::now();
    let (code, out) = rejoin(&conf, "127.0.0.1", p1, &[]);
    eprintln!("mha rejoin took {:?}", t0.elapsed());
    assert_eq!(code, Some(0), "{out}\n{}", m.output());
    assert!(out.contains("Rejoined: 127.0.0.1(127.0.0.1:"), "{out}");
    assert!(out.contains("contained: everything it has"), "{out}");
    assert!(out.contains("MASTER_USE_GTID = slave_pos"), "{out}");
    assert!(out.contains("MASTER_PASSWORD = 'xxx'"), "{out}");
    let repl_pw = std::fs::read_to_string(c.dir.path().join("secrets/repl.password")).unwrap();
    assert!(!out.contains(repl_pw.trim()), "{out}");
    assert!(out.contains("told the manager (pid"), "{out}");
    // Writes go on while it catches up.
    w2.wait_acked(100, T).await;
    acked.extend(w2.stop().await);

    // (3)
    c.wait_replicating_from("server1", "server2", T).await;
    assert_eq!(
        c.value("server1", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1")
    );
    same_everywhere(&c, "server2", &["server1", "server3"]).await;
    c.assert_has_all("server1", &acked).await;
    let text_after = std::fs::read_to_string(&conf).unwrap();
    for line in &comments_before {
        assert!(text_after.contains(line), "lost {line:?}:\n{text_after}");
    }
    let server1_after = block_of(&conf, "server1").expect("the block is back");
    assert_eq!(server1_after, server1_before, "{text_after}");
    // The manager read the file again, and its watch of the deposed master ended.
    assert!(
        m.wait_for("configuration reloaded from", T),
        "{}",
        m.output()
    );
    assert!(
        m.wait_for(
            "it is in the configuration again and replicates from the current master",
            T
        ),
        "{}",
        m.output()
    );
    let marker = std::fs::read_to_string(
        c.dir
            .path()
            .join(format!("manager/app1.deposed.127.0.0.1_{p1}.json")),
    )
    .unwrap();
    assert!(marker.contains("\"state\": \"rejoined\""), "{marker}");
    eprintln!(
        "drill: {} acknowledged rows, all on the rejoined server; {:?}",
        acked.len(),
        started.elapsed()
    );
}

/// A transaction only the old master has: committed while its host was cut off the network
/// (a client on the host itself, through the Unix socket). The failover cannot save it; the
/// rejoin is refused with it listed (GTID, binlog range, first event) and nothing changed;
/// `--flashback --dry-run` shows the row it would delete; `--flashback --yes` deletes it and
/// rejoins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoin_is_refused_for_a_transaction_only_the_old_master_has() {
    assert!(bed::can_use_netns(), "network namespace tests need root");
    let net = Network::new(3);
    let c = Cluster::start_on(2, Mode::Gtid, net.hosts.clone()).await;
    let conf = c.state.app_config();
    let conf_s = conf.to_str().unwrap();
    c.create_acked_table().await;
    for id in 1..=5 {
        c.exec(
            "server1",
            &format!("INSERT INTO mha_it.acked VALUES ({id})"),
        )
        .await;
    }
    for n in ["server2", "server3"] {
        c.wait_value(n, "SELECT COUNT(*) FROM mha_it.acked", "5", T)
            .await;
    }
    net.unplug(0);
    // A client on the cut-off host itself.
    let mut local = c.state.admin_target(c.node("server1")).unwrap();
    local.socket = Some(c.node("server1").socket.clone());
    let mut s1 = mha::sql::connect(&local, Duration::from_secs(5))
        .await
        .unwrap();
    s1.exec("errant write", "INSERT INTO mha_it.acked VALUES (1000)")
        .await
        .unwrap();
    s1.disconnect().await;

    let p1 = c.node("server1").port;
    let out = std::process::Command::new(bed::mha_bin())
        .args([
            "master_switch",
            "--master_state=dead",
            "--conf",
            conf_s,
            "--dead_master_host=198.18.0.11",
            &format!("--dead_master_port={p1}"),
            "--interactive=0",
            "--remove_dead_master_conf",
        ])
        .output()
        .unwrap();
    let (o, e) = bed::text(&out);
    assert_eq!(out.status.code(), Some(11), "{o}\n{e}");
    net.plug(0);

    // Refused: listed, nothing changed.
    let (code, out) = rejoin(&conf, "198.18.0.11", p1, &[]);
    assert_eq!(code, Some(13), "{out}");
    assert!(
        out.contains("NOT contained: 1 transaction(s) only it has"),
        "{out}"
    );
    assert!(
        out.contains("first event Annotate_rows: INSERT INTO mha_it.acked VALUES (1000)"),
        "{out}"
    );
    assert!(out.contains(" at mysql-bin.00000"), "{out}");
    assert!(out.contains("Nothing was changed."), "{out}");
    assert_eq!(
        c.value("server1", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0"),
        "a refusal changes nothing"
    );
    assert!(c.slave_status("server1").await.is_empty());
    assert!(block_of(&conf, "server1").is_none());
    let (code, json) = rejoin(&conf, "198.18.0.11", p1, &["--output", "json"]);
    assert_eq!(code, Some(13), "{json}");
    let rep: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let only = &rep["verdict"]["txns"];
    assert_eq!(only.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(only[0]["found_by"], "both", "{json}");
    let gtid = only[0]["gtid"].as_str().unwrap().to_string();
    assert!(gtid.starts_with("0-1-"), "{json}");

    // What --flashback would undo, then undone.
    let (code, out) = rejoin(&conf, "198.18.0.11", p1, &["--flashback", "--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "--flashback undoes {gtid}: DELETE FROM `mha_it`.`acked` WHERE @1=1000"
        )),
        "{out}"
    );
    let q1000 = "SELECT COUNT(*) FROM mha_it.acked WHERE id = 1000";
    assert_eq!(c.value("server1", q1000).await.as_deref(), Some("1"));
    let (code, out) = rejoin(&conf, "198.18.0.11", p1, &["--flashback"]);
    assert_eq!(code, Some(64), "--flashback alone is refused: {out}");
    let (code, out) = rejoin(&conf, "198.18.0.11", p1, &["--flashback", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("undone with mariadb-binlog --flashback: {gtid}")),
        "{out}"
    );
    assert_eq!(c.value("server1", q1000).await.as_deref(), Some("0"));
    c.wait_replicating_from("server1", "server2", T).await;
    c.exec("server2", "INSERT INTO mha_it.acked VALUES (6)")
        .await;
    same_everywhere(&c, "server2", &["server1", "server3"]).await;
    assert!(block_of(&conf, "server1").is_some());
    let kept: Vec<String> = std::fs::read_dir(c.dir.path().join("manager"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("app1.flashback."))
        .collect();
    assert_eq!(kept.len(), 1, "the undone transaction is kept: {kept:?}");
    drop(c);
    drop(net);
}

/// auto_rejoin = 1: the manager fences the returning master, finds its history contained,
/// makes it a replica of the new master and writes its block back; the manager then counts
/// it: when the new master dies too, it takes part in the next failover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_rejoin_brings_a_deposed_master_back_as_a_replica() {
    let (c, conf) = auto_rejoin_cluster().await;
    let m = Daemon::manager(
        &conf,
        &["--remove_dead_master_conf", "--last_failover_minute=0"],
        c.dir.path().join("manager.log"),
        T,
    );
    let w = c.writer("server1");
    w.wait_acked(50, T).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    m.expect_failovers(1, Duration::from_secs(60)).await;
    let acked = w.stop().await;
    assert!(block_of(&conf, "server1").is_none());
    c.exec("server2", "INSERT INTO mha_it.acked VALUES (1000000)")
        .await;
    sandbox::fault(c.dir.path(), "server1", Fault::Start)
        .await
        .unwrap();
    m.expect_nth(
        "auto_rejoin: the deposed master",
        1,
        Duration::from_secs(60),
    )
    .await;
    assert!(
        m.output()
            .contains("rejoined as a replica of 127.0.0.1(127.0.0.1:"),
        "{}",
        m.output()
    );
    c.wait_replicating_from("server1", "server2", T).await;
    same_everywhere(&c, "server2", &["server1", "server3"]).await;
    c.assert_has_all("server1", &acked).await;
    assert!(block_of(&conf, "server1").is_some(), "written back");
    assert!(
        m.wait_for("configuration reloaded from", T),
        "{}",
        m.output()
    );

    // The manager counts it: the new master dies, server1 takes part in the failover.
    sandbox::fault(c.dir.path(), "server2", Fault::Crash)
        .await
        .unwrap();
    m.expect_failovers(2, Duration::from_secs(60)).await;
    // The second failover's record names server1: promoted, or repointed as a replica.
    let p1 = c.node("server1").port;
    let mut records: Vec<serde_json::Value> = std::fs::read_dir(c.dir.path().join("manager"))
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("app1.failover.") && n.ends_with(".json")
        })
        .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
        .collect();
    records.sort_by_key(|r| r["started_unix"].as_u64());
    assert_eq!(records.len(), 2, "{}", m.output());
    let second = &records[1];
    let s1 = format!("127.0.0.1(127.0.0.1:{p1})");
    let promoted = second["new_master"].as_str() == Some(s1.as_str());
    let repointed = second["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["server"].as_str() == Some(s1.as_str()) && r["ok"] == true);
    assert!(
        promoted || repointed,
        "server1 is not part of the second failover: {second:#}"
    );
    let new_master = if promoted { "server1" } else { "server3" };
    let other = if promoted { "server3" } else { "server1" };
    c.wait_replicating_from(other, new_master, T).await;
    same_everywhere(&c, new_master, &[other]).await;
}

/// auto_rejoin = 1, but the old master has a commit nobody else has (its replicas' IO threads
/// stopped, the failover told not to save its binlog): it stays fenced, not a replica, and
/// the manager logs the refusal with the transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_rejoin_leaves_a_master_with_its_own_transactions_fenced() {
    let (c, conf) = auto_rejoin_cluster().await;
    let m = Daemon::manager(
        &conf,
        &["--remove_dead_master_conf", "--skip_save_master_binlog"],
        c.dir.path().join("manager.log"),
        T,
    );
    for n in ["server2", "server3"] {
        c.exec(n, "STOP SLAVE IO_THREAD").await;
    }
    c.exec("server1", "INSERT INTO mha_it.acked VALUES (77)")
        .await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    m.expect_failovers(1, Duration::from_secs(60)).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Start)
        .await
        .unwrap();
    m.expect_nth(
        "auto_rejoin: the deposed master",
        1,
        Duration::from_secs(60),
    )
    .await;
    assert!(
        m.wait_for("auto_rejoin: only on 127.0.0.1(127.0.0.1:", T),
        "{}",
        m.output()
    );
    let log = m.output();
    assert!(log.contains("is NOT rejoined and stays fenced: it has 1 transaction(s) that the master does not have"), "{log}");
    assert!(
        log.contains("first event Annotate_rows: INSERT INTO mha_it.acked VALUES (77)"),
        "{log}"
    );
    assert_eq!(
        c.value("server1", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1")
    );
    assert!(c.slave_status("server1").await.is_empty(), "not a replica");
    assert!(block_of(&conf, "server1").is_none(), "not written back");
}

/// A master and two replicas with the acknowledged-writes table, and `auto_rejoin = 1`.
async fn auto_rejoin_cluster() -> (Cluster, std::path::PathBuf) {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    for n in ["server2", "server3"] {
        c.wait_acked_table(n, T).await;
    }
    let conf = c.state.app_config();
    let text = std::fs::read_to_string(&conf).unwrap().replace(
        "ping_interval = 1\n",
        "ping_interval = 1\nauto_rejoin = 1\n",
    );
    std::fs::write(&conf, text).unwrap();
    (c, conf)
}
