//! `mha check_repl` on a real cluster: OK when healthy, NOT OK naming the cause for each
//! broken state, and the failover readiness ranking.

use std::time::Duration;

use mha::sandbox::Mode;

use crate::bed::{self, Cluster};

/// Run check_repl; returns (exit code, text output, JSON report).
fn check(c: &Cluster) -> (i32, String, serde_json::Value) {
    let conf = c.state.app_config();
    let conf = conf.to_str().unwrap();
    let out = bed::run_mha(&bed::mha_bin(), &["check_repl", "--conf", conf]);
    let (text, stderr) = bed::text(&out);
    let json = bed::run_mha(
        &bed::mha_bin(),
        &["check_repl", "--conf", conf, "--output", "json"],
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&json.stdout).unwrap_or_else(|_| panic!("{stderr}"));
    (out.status.code().unwrap(), text, doc)
}

fn findings(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["problem"].as_str().unwrap().to_string(),
                f["server"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Break one thing, check that check_repl names it, then repair and check it is OK again.
async fn expect_not_ok(c: &Cluster, what: &str, problem: &str, server: &str, text_has: &str) {
    let (code, text, doc) = check(c);
    assert_eq!(code, 1, "{what}: exit code\n{text}");
    assert!(
        text.trim_end()
            .ends_with("MySQL Replication Health is NOT OK!"),
        "{what}:\n{text}"
    );
    assert!(
        text.contains(text_has),
        "{what}: text lacks {text_has:?}:\n{text}"
    );
    let f = findings(&doc);
    assert!(
        f.iter()
            .any(|(sev, p, s)| sev == "error" && p == problem && s.contains(server)),
        "{what}: no error {problem} on {server}: {f:?}"
    );
    assert_eq!(doc["healthy"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_cluster_then_each_cause_of_not_ok() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let s2 = format!("127.0.0.1:{}", c.node("server2").port);
    let s3 = format!("127.0.0.1:{}", c.node("server3").port);

    let (code, text, doc) = check(&c);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.trim_end().ends_with("MySQL Replication Health is OK."),
        "{text}"
    );
    assert!(text.contains(&format!(
        "127.0.0.1(127.0.0.1:{}) (current master)",
        c.node("server1").port
    )));
    assert!(text.contains(&format!(" +--127.0.0.1({s2})")), "{text}");
    // server2 is candidate_master=1 in the sandbox config: it ranks first, with its reasons.
    assert_eq!(doc["ranking"]["servers"][0]["block"], "server2");
    assert_eq!(doc["ranking"]["servers"][0]["rank"], 1);
    assert!(
        text.contains("server2 127.0.0.1(") && text.contains("would be promoted"),
        "{text}"
    );
    assert!(
        text.contains("candidate_master=1; has the latest events"),
        "{text}"
    );

    // 1. IO thread stopped.
    c.exec("server3", "STOP SLAVE IO_THREAD").await;
    expect_not_ok(
        &c,
        "IO stopped",
        "io_thread_stopped",
        &s3,
        "Slave IO thread is not running",
    )
    .await;
    c.exec("server3", "START SLAVE IO_THREAD").await;

    // 2. SQL thread stopped.
    c.exec("server2", "STOP SLAVE SQL_THREAD").await;
    expect_not_ok(
        &c,
        "SQL stopped",
        "sql_thread_stopped",
        &s2,
        "Slave SQL thread is not running",
    )
    .await;
    c.exec("server2", "START SLAVE SQL_THREAD").await;

    // 3. A writable replica.
    c.exec("server3", "SET GLOBAL read_only = 0").await;
    expect_not_ok(
        &c,
        "writable",
        "writable_replica",
        &s3,
        "replica is writable (read_only=OFF)",
    )
    .await;
    c.exec("server3", "SET GLOBAL read_only = 1").await;

    // 4. Duplicate server_id.
    c.exec("server3", "SET GLOBAL server_id = 2").await;
    expect_not_ok(
        &c,
        "duplicate id",
        "duplicate_server_id",
        &s3,
        "server_id 2 is also used by",
    )
    .await;
    c.exec("server3", "SET GLOBAL server_id = 3").await;

    // 5. A replica pointing elsewhere (at server2 instead of the master): a replica of a
    // replica, without multi_tier_slave=1.
    c.exec("server3", "STOP SLAVE").await;
    c.exec(
        "server3",
        &format!("CHANGE MASTER TO MASTER_PORT = {}", c.node("server2").port),
    )
    .await;
    c.exec("server3", "START SLAVE").await;
    expect_not_ok(
        &c,
        "elsewhere",
        "sub_replica_refused",
        &s3,
        &format!("replicates from 127.0.0.1({s2}), but the real master is"),
    )
    .await;
    c.exec("server3", "STOP SLAVE").await;
    c.exec(
        "server3",
        &format!("CHANGE MASTER TO MASTER_PORT = {}", c.node("server1").port),
    )
    .await;
    c.exec("server3", "START SLAVE").await;

    // Repaired: OK again (replication threads take a moment to reconnect).
    let start = std::time::Instant::now();
    loop {
        let (code, text, _) = check(&c);
        if code == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "still NOT OK after repair:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Beyond MHA: an errant transaction on a replica is named and excludes it from promotion.
    c.exec("server2", "SET GLOBAL read_only = 0").await;
    c.exec("server2", "CREATE DATABASE errant_db").await;
    c.exec("server2", "SET GLOBAL read_only = 1").await;
    let (code, text, doc) = check(&c);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("has errant transactions the master does not have: 0-2-1"),
        "{text}"
    );
    assert_eq!(doc["ranking"]["servers"][0]["block"], "server3", "{text}");
    assert!(
        text.contains("not eligible: has errant GTIDs 0-2-1"),
        "{text}"
    );

    // The master unreachable: NOT OK, named.
    mha::sandbox::fault(c.dir.path(), "server1", mha::sandbox::Fault::Crash)
        .await
        .unwrap();
    let (code, text, doc) = check(&c);
    assert_eq!(code, 1);
    assert!(text.contains("(current master, not reachable)"), "{text}");
    assert!(
        findings(&doc)
            .iter()
            .any(|(_, p, _)| p == "master_unreachable")
    );
}

/// check_repl says what detection will cost: each replica's heartbeat period and
/// slave_net_timeout, the seconds per fault, and the statements that shorten the fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detection_cost_follows_the_replicas_heartbeat() {
    // The sandbox keeps the server's defaults: slave_net_timeout 60 s, heartbeat half of it.
    let c = Cluster::start(2, Mode::Gtid).await;
    let conf = c.state.app_config();
    let conf = conf.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["check_repl", "--conf", conf];
        args.extend_from_slice(extra);
        let out = bed::run_mha(&bed::mha_bin(), &args);
        let (text, stderr) = bed::text(&out);
        assert_eq!(out.status.code(), Some(0), "{text}\n{stderr}");
        text
    };
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["--output", "json"];
        args.extend_from_slice(extra);
        let text = run(&args);
        serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
            ["detection"]
            .clone()
    };

    let d = json(&[]);
    let replicas = d["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 2, "{d:#}");
    for r in replicas {
        assert_eq!(r["heartbeat_period"], 30.0, "{d:#}");
        assert_eq!(r["slave_net_timeout"], 60, "{d:#}");
        assert_eq!(r["ssh"], "reachable", "{d:#}");
    }
    // The sandbox monitors with ping_interval = 1 and ping_failures = 4.
    assert_eq!(d["crash_secs"], 0.5, "{d:#}");
    assert_eq!(d["crash"]["route"], "fast_crash");
    assert_eq!(d["hang_secs"], 5.0, "{d:#}");
    assert_eq!(d["lost_host_secs"], 5.0, "{d:#}");
    assert_eq!(d["hang"]["route"], "ssh_probe");
    // Without SSH to a replica host: 1 s to the first failed ping + 1.5 × 30 s.
    assert_eq!(d["heartbeat_fallback_secs"], 46.0, "{d:#}");
    let both = "SET GLOBAL slave_net_timeout = 10; STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 1; START SLAVE;";
    let advice = d["advice"].as_array().unwrap();
    assert_eq!(advice.len(), 2, "{d:#}");
    assert!(advice.iter().all(|a| a["statement"] == both), "{d:#}");
    let text = run(&[]);
    for want in [
        "Detection time to expect (ping_interval 1 s, ping_failures 4, fast_crash_detection 1):",
        "  mysqld crash (host up)  under 1 s:",
        "  mysqld hang             about 5 s:",
        "heartbeat 30 s, slave_net_timeout 60 s, SSH reachable",
        &format!("  server2: {both}"),
    ] {
        assert!(text.contains(want), "missing {want:?}:\n{text}");
    }

    // Without the SSH checks nothing can probe the master: the heartbeat decides.
    let d = json(&["--skip_check_ssh"]);
    assert_eq!(d["hang_secs"], 46.0, "{d:#}");
    assert_eq!(d["hang"]["route"], "heartbeat_fallback");
    assert_eq!(d["heartbeat_fallback"]["replica"], "server2", "{d:#}");

    // Both on a 1 s heartbeat: the ping window decides, and nothing is left to advise but
    // slave_net_timeout.
    for name in ["server2", "server3"] {
        for stmt in [
            "STOP SLAVE",
            "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 1",
            "START SLAVE",
        ] {
            c.exec(name, stmt).await;
        }
    }
    let d = json(&["--skip_check_ssh"]);
    assert_eq!(d["heartbeat_fallback_secs"], 4.0, "{d:#}");
    assert_eq!(d["hang_secs"], 4.0, "{d:#}");
    let advice = d["advice"].as_array().unwrap();
    assert_eq!(advice.len(), 2, "{d:#}");
    assert!(
        advice.iter().all(
            |a| a["statement"] == "SET GLOBAL slave_net_timeout = 10; STOP SLAVE; START SLAVE;"
        ),
        "{d:#}"
    );
}

/// What a failover runs on the manager's host is checked before one can start (MHA's node
/// tools checked it on each host): the binlog decoder and the client, and a writable
/// manager_workdir. check_repl says so, and the manager refuses to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_hosts_tools_and_workdir_are_checked_before_any_failover() {
    let c = Cluster::start(1, Mode::Gtid).await;
    let conf = c.state.app_config();
    let conf_s = conf.to_str().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let run = |args: &[&str], path: &std::path::Path| {
        std::process::Command::new(bed::mha_bin())
            .args(args)
            .env("PATH", path)
            .output()
            .unwrap()
    };
    // No mariadb-binlog nor mariadb in PATH.
    let out = run(
        &["check_repl", "--conf", conf_s, "--output", "json"],
        empty.path(),
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing: Vec<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["problem"] == "tool_missing" && f["severity"] == "error")
        .map(|f| f["tools"][0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(missing, ["mariadb-binlog", "mariadb"], "{doc:#}");
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["manager", "--conf", conf_s], empty.path());
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{err}");
    assert!(
        format!("{text}{err}").contains("none of mariadb-binlog, mysqlbinlog is installed"),
        "{text}{err}"
    );
    // client_bindir names where they are: healthy again.
    let bin = c.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["mariadb-binlog", "mariadb"] {
        std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), bin.join(tool)).unwrap();
    }
    let text = std::fs::read_to_string(&conf).unwrap();
    let with_bindir = text.replacen(
        "ping_interval = 1\n",
        &format!("ping_interval = 1\nclient_bindir = \"{}\"\n", bin.display()),
        1,
    );
    std::fs::write(&conf, &with_bindir).unwrap();
    let out = run(&["check_repl", "--conf", conf_s], empty.path());
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{err}");
    // A manager_workdir under a file cannot be written.
    let blocked = c.dir.path().join("a-file");
    std::fs::write(&blocked, "").unwrap();
    let workdir_line = with_bindir
        .lines()
        .find(|l| l.starts_with("manager_workdir"))
        .unwrap()
        .to_string();
    std::fs::write(
        &conf,
        with_bindir.replacen(
            &workdir_line,
            &format!("manager_workdir = \"{}/w\"", blocked.display()),
            1,
        ),
    )
    .unwrap();
    let (code, text, doc) = check(&c);
    assert_eq!(code, 1, "{text}");
    assert!(
        findings(&doc)
            .iter()
            .any(|(sev, p, _)| sev == "error" && p == "workdir_not_writable"),
        "{text}"
    );
}
