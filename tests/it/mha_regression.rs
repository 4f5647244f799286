//! MHA 0.58's own regression scenarios (`tests/t/t_*.sh` of mha4mysql-manager), ported to
//! real mariadbd + sshd. MHA's names: M = server1, S1 = server2 (candidate_master=1, as in
//! MHA's mha_test.cnf), S2 = server3, S3 = server4 (three replicas instead of MHA's four, to
//! keep the suite short; no scenario here needs the fourth). Each scenario keeps MHA's data
//! (`test.t1` with the row (1, 100, 'abc'), the probe row written on the expected new master)
//! and MHA's check: the same row count on every listed server, plus CHECKSUM TABLE equal on
//! all of them (MHA's mk-table-checksum). The table in docs/coming-from-mha.md maps every
//! `t_*.sh` to the test that covers it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon, switch_dead_json, wait_record};

const T: Duration = Duration::from_secs(30);

/// The sandbox's app1.toml written as `name` (the application name is the file name), with
/// `app_extra` in [server_default], a line added to each named server block, and the blocks
/// in `drop` removed (MHA's mha_test_err1 / err2).
fn conf(
    c: &Cluster,
    name: &str,
    app_extra: &str,
    server_extra: &[(&str, &str)],
    drop: &[&str],
) -> PathBuf {
    let mut text = std::fs::read_to_string(c.state.app_config()).unwrap();
    text = text.replacen(
        "ping_interval = 1\n",
        &format!("ping_interval = 1\n{app_extra}"),
        1,
    );
    for (block, line) in server_extra {
        text = text.replacen(&format!("[{block}]\n"), &format!("[{block}]\n{line}\n"), 1);
    }
    for block in drop {
        let start = text.find(&format!("\n[{block}]\n")).unwrap();
        let end = text[start + 1..]
            .find("\n[")
            .map_or(text.len(), |e| start + 1 + e);
        text.replace_range(start..end, "");
    }
    let p = c.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// MHA's grant.sql account (t_*_pass): user name and password made of shell, SQL, option
/// file and TOML metacharacters.
const META_USER: &str = "mha'\"\\$`!&;|";
const META_PASSWORD: &str = "p'\"\\$(id)`#;&|<>*? x";

/// Create `user` with every privilege on the master (replicated everywhere).
async fn create_account(c: &Cluster, user: &str, password: &str, replicas: &[&str]) {
    let q = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    c.exec(
        "server1",
        &format!(
            "CREATE USER '{}'@'%' IDENTIFIED BY '{}'",
            q(user),
            q(password)
        ),
    )
    .await;
    c.exec(
        "server1",
        &format!(
            "GRANT ALL PRIVILEGES ON *.* TO '{}'@'%' WITH GRANT OPTION",
            q(user)
        ),
    )
    .await;
    for r in replicas {
        let stmt = format!("SELECT COUNT(*) FROM mysql.user WHERE User = '{}'", q(user));
        c.wait_value(r, &stmt, "1", T).await;
    }
}

/// The configuration at `path` with mha's own account replaced by `user`/`password`
/// (MHA's mha_test_pass, mha_test_nopass): written in the file, TOML-escaped.
fn with_account(path: &Path, user: &str, password: &str) {
    let toml = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut text = std::fs::read_to_string(path).unwrap();
    for (key, value) in [("user", user), ("password_file", password)] {
        let start = text.find(&format!("\n{key} = ")).unwrap() + 1;
        let end = start + text[start..].find('\n').unwrap();
        let name = if key == "user" { "user" } else { "password" };
        text.replace_range(start..end, &format!("{name} = \"{}\"", toml(value)));
    }
    assert!(
        !text.contains("\npassword_file = ")
            && text.contains(&format!("\nuser = \"{}\"\n", toml(user))),
        "{text}"
    );
    std::fs::write(path, text).unwrap();
}

/// A count that may not be readable yet (the table not replicated yet): None then.
async fn try_value(c: &Cluster, node: &str, stmt: &str) -> Option<String> {
    let target = c.state.admin_target(c.node(node)).unwrap();
    let mut s = mha::sql::connect(&target, Duration::from_secs(5))
        .await
        .ok()?;
    let rows = s.rows("test query", stmt).await.ok();
    s.disconnect().await;
    rows?
        .into_iter()
        .next()
        .map(mha::sql::row_to_map)
        .and_then(|r| r.into_values().next().flatten())
}

async fn wait_count(c: &Cluster, node: &str, n: usize) {
    let start = Instant::now();
    loop {
        let got = try_value(c, node, "SELECT COUNT(*) FROM test.t1").await;
        if got.as_deref() == Some(n.to_string().as_str()) {
            return;
        }
        assert!(
            start.elapsed() < T,
            "{node}: test.t1 has {got:?} rows, wanted {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// MHA's init.sh: `test.t1` with one row, on every replica; and `test.binfile` (t_binary).
async fn seed(c: &Cluster, replicas: &[&str]) {
    c.exec("server1", "CREATE DATABASE IF NOT EXISTS test")
        .await;
    c.exec(
        "server1",
        "CREATE TABLE test.t1 (id INT PRIMARY KEY, value INT, value2 TEXT) ENGINE=InnoDB",
    )
    .await;
    c.exec(
        "server1",
        "CREATE TABLE test.binfile (id INT PRIMARY KEY, bin_data BLOB) CHARSET latin1",
    )
    .await;
    c.exec("server1", "INSERT INTO test.t1 VALUES (1, 100, 'abc')")
        .await;
    for r in replicas {
        wait_count(c, r, 1).await;
    }
}

/// MHA's `ins a..b`: one autocommit INSERT per id.
async fn ins(c: &Cluster, from: u32, to: u32) {
    let mut s = c.session("server1").await;
    for i in from..=to {
        s.exec(
            "insert",
            &format!("INSERT INTO test.t1 VALUES ({i}, {i}, 'aaaaaaa')"),
        )
        .await
        .unwrap();
    }
    s.disconnect().await;
}

/// Rows whose data holds what a diff must carry byte for byte: the word ROLLBACK, a newline
/// before it (t_needsync_flush2), and a BLOB with CR LF in it (t_binary; the statement holds
/// the raw bytes, not a hex literal).
async fn tricky_rows(c: &Cluster, first: u32) {
    for (i, v) in [
        (first, "ROLLBACK"),
        (first + 1, "Test\nROLLBACK"),
        (first + 2, "bbbbb"),
    ] {
        c.exec(
            "server1",
            &format!("INSERT INTO test.t1 VALUES ({i}, {i}, '{v}')"),
        )
        .await;
    }
    c.exec(
        "server1",
        &format!("INSERT INTO test.binfile VALUES ({first}, 'ABCDE\r\nDE')"),
    )
    .await;
}

const BLOB_HEX: &str = "41424344450D0A4445";

/// MHA's probe: a row written on the expected new master; the check that follows fails on
/// any server that does not replicate from it.
async fn probe(c: &Cluster, node: &str) {
    c.exec(
        node,
        "INSERT INTO test.t1 VALUES (10000003, 300, 'bbbaaaaaaa')",
    )
    .await;
}

/// MHA's `check N on nodes`: N rows in test.t1 everywhere (waited for, as MHA slept 2 s)
/// and CHECKSUM TABLE the same on every node.
async fn check(c: &Cluster, nodes: &[&str], n: usize) {
    let mut sums = Vec::new();
    for node in nodes {
        wait_count(c, node, n).await;
        let sum = c.rows(node, "CHECKSUM TABLE test.t1").await[0]["Checksum"].clone();
        sums.push((node, sum));
    }
    assert!(
        sums.windows(2).all(|w| w[0].1 == w[1].1),
        "CHECKSUM TABLE test.t1 differs: {sums:?}"
    );
}

/// t_binary's check: the BLOB with CR LF arrived intact everywhere.
async fn check_blob(c: &Cluster, nodes: &[&str]) {
    for node in nodes {
        assert_eq!(
            c.value(node, "SELECT HEX(bin_data) FROM test.binfile")
                .await
                .as_deref(),
            Some(BLOB_HEX),
            "{node}"
        );
    }
}

fn master_port(st: &std::collections::BTreeMap<String, Option<String>>) -> Option<String> {
    st.get("Master_Port").cloned().flatten()
}

async fn assert_master(c: &Cluster, node: &str, master: &str) {
    assert_eq!(
        master_port(&c.slave_status(node).await),
        Some(c.node(master).port.to_string()),
        "master({node}) should be {master}"
    );
}

fn mha(args: &[&str]) -> (Option<i32>, String) {
    let out = bed::run_mha(&bed::mha_bin(), args);
    let (o, e) = bed::text(&out);
    (out.status.code(), format!("{o}\n{e}"))
}

fn check_repl(conf: &Path) -> (Option<i32>, String) {
    mha(&["check_repl", "--conf", conf.to_str().unwrap()])
}

/// `masterha_manager` that must stop in its start-up checks: its exit code and output.
fn manager_refuses(c: &Cluster, conf: &Path, extra: &[&str]) -> String {
    let mut args = vec!["manager", "--conf", conf.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut d = Daemon::start(&args, c.dir.path().join("refused-manager.log"));
    let code = d.wait_exit(T);
    let out = d.output();
    assert!(
        matches!(code, Some(c) if c != 0),
        "manager should have refused to start (exit {code:?}):\n{out}"
    );
    out
}

/// check_repl NOT OK and the manager refusing to start: MHA's `fail_if_zero` on crepl and
/// mgr, for `scenario`.
fn both_refuse(c: &Cluster, conf: &Path, scenario: &str) -> String {
    let (code, text) = check_repl(conf);
    assert!(
        matches!(code, Some(c) if c != 0) && text.contains("MySQL Replication Health is NOT OK!"),
        "{scenario}: check_repl should say NOT OK:\n{text}"
    );
    let m = manager_refuses(c, conf, &[]);
    format!("{text}\n{m}")
}

async fn reattach(c: &Cluster, node: &str, master: &str) {
    c.exec(node, "SET GLOBAL read_only = 1").await;
    point(c, node, master, "slave_pos").await;
}

/// `node` replicates from `master` by GTID (`pos`: slave_pos, or current_pos for a server
/// that was a master), with the sandbox's replication account; read_only unchanged.
async fn point(c: &Cluster, node: &str, master: &str, pos: &str) {
    let pw = std::fs::read_to_string(c.dir.path().join("secrets/repl.password")).unwrap();
    c.exec(node, "STOP SLAVE").await;
    c.exec(
        node,
        &format!(
            "CHANGE MASTER TO MASTER_HOST = '{}', MASTER_PORT = {}, MASTER_USER = '{}', \
             MASTER_PASSWORD = '{}', MASTER_USE_GTID = {pos}",
            c.node(master).host,
            c.node(master).port,
            c.state.repl_user,
            pw.trim()
        ),
    )
    .await;
    c.exec(node, "START SLAVE").await;
    c.wait_replicating_from(node, master, T).await;
}

fn ends_with_port(v: &serde_json::Value, c: &Cluster, node: &str) -> bool {
    v.as_str()
        .is_some_and(|s| s.ends_with(&format!(":{})", c.node(node).port)))
}

/// Config and topology errors (t_conf, t_dual_master_error, t_filter_incorrect,
/// t_slave_incorrect, t_slave_stop, t_ignore_nostart): check_repl says NOT OK and the
/// manager refuses to start, each time. Then t_ignore_start / t_ignore_recovery1 on the same
/// cluster: a manager started with --ignore_fail_on_start while server4 (ignore_fail=1) is
/// down fails over when the master is killed, leaves server4 alone, and the survivors agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_start_up_refusals_then_ignore_fail_failover() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::Gtid).await;
    seed(&c, &["server2", "server3", "server4"]).await;
    let default = conf(&c, "default.toml", "", &[], &[]);
    let (code, text) = check_repl(&default);
    assert_eq!(code, Some(0), "healthy to begin with:\n{text}");

    // t_conf: no entry for the master (err1); the master alone (err2).
    let err1 = conf(&c, "err1.toml", "", &[], &["server1"]);
    let err2 = conf(&c, "err2.toml", "", &[], &["server2", "server3", "server4"]);
    both_refuse(&c, &err1, "t_conf err1");
    both_refuse(&c, &err2, "t_conf err2");

    // t_dual_master_error: server2 becomes a writable standalone.
    c.exec("server2", "STOP SLAVE").await;
    c.exec("server2", "RESET SLAVE ALL").await;
    c.exec("server2", "SET GLOBAL read_only = 0").await;
    both_refuse(&c, &default, "t_dual_master_error");
    let mm = conf(&c, "mm.toml", "", &[], &["server3", "server4"]);
    both_refuse(&c, &mm, "t_dual_master_error mm");
    reattach(&c, "server2", "server1").await;

    // t_slave_incorrect, MHA's file branch: server4's replication reset (RESET SLAVE keeps
    // the connection settings on MariaDB, the threads stay stopped).
    c.exec("server4", "STOP SLAVE").await;
    c.exec("server4", "RESET SLAVE").await;
    both_refuse(&c, &default, "t_slave_incorrect (RESET SLAVE)");
    // Its GTID branch (RESET SLAVE ALL, still read-only) differs on purpose: a read-only
    // server replicating from nobody is what an old master looks like after a switchover,
    // so it is a warning and the server is never promoted, not a refusal.
    c.exec("server4", "RESET SLAVE ALL").await;
    let (code, text) = check_repl(&default);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("read-only and replicating from nobody")
            && text.contains("not eligible: not replicating from the master"),
        "{text}"
    );
    reattach(&c, "server4", "server1").await;

    // t_filter_incorrect: replication filters that differ between replicas.
    for filter in [
        "replicate_ignore_db = 'aaa'",
        "replicate_do_table = 'aaa.t'",
    ] {
        c.exec("server3", "STOP SLAVE").await;
        c.exec("server3", &format!("SET GLOBAL {filter}")).await;
        c.exec("server3", "START SLAVE").await;
        both_refuse(&c, &default, filter);
        c.exec("server3", "STOP SLAVE").await;
        let reset = filter.split(" = ").next().unwrap();
        c.exec("server3", &format!("SET GLOBAL {reset} = ''")).await;
        c.exec("server3", "START SLAVE").await;
    }
    let (code, text) = check_repl(&default);
    assert_eq!(code, Some(0), "repaired:\n{text}");

    // t_slave_stop, t_ignore_nostart: a replica that is down blocks the start, even with
    // ignore_fail=1, unless --ignore_fail_on_start.
    c.exec("server1", "INSERT INTO test.t1 VALUES (100, 100, '100')")
        .await;
    wait_count(&c, "server4", 2).await;
    sandbox::fault(c.dir.path(), "server4", Fault::Stop)
        .await
        .unwrap();
    manager_refuses(&c, &default, &[]);
    let ignore = conf(
        &c,
        "ignore.toml",
        "",
        &[
            ("server3", "ignore_fail = 1"),
            ("server4", "ignore_fail = 1"),
        ],
        &[],
    );
    manager_refuses(&c, &ignore, &[]);

    // t_ignore_start, t_ignore_recovery1: started with --ignore_fail_on_start, then M dies.
    let m = Daemon::manager(
        &ignore,
        &["--ignore_fail_on_start"],
        c.dir.path().join("ignore-manager.log"),
        T,
    );
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let rec = wait_record(&c, "ignore", &m);
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{rec}");
    // MHA exited 10 here (S4 not recovered); mha leaves a down ignore_fail=1 replica out of
    // the failover (failover.md, phase 1): it is not among the replicas, the outcome is
    // success.
    assert_eq!(rec["outcome"], "success", "{rec}\n{}", m.output());
    let replicas = rec["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 1, "{rec}");
    assert!(
        ends_with_port(&replicas[0]["server"], &c, "server3"),
        "{rec}"
    );
    c.wait_replicating_from("server3", "server2", T).await;
    probe(&c, "server2").await;
    check(&c, &["server2", "server3"], 3).await;
    // server4 comes back: left alone, still pointing at the dead master, without the probe.
    sandbox::fault(c.dir.path(), "server4", Fault::Start)
        .await
        .unwrap();
    assert_master(&c, "server4", "server1").await;
    wait_count(&c, "server4", 2).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// kill -9 of the master with replicas lagging by different amounts, recovered by relay-log
/// diffs (use_gtid_auto_pos=0, file/position) with latest_priority=0: t_needsync_1,
/// t_needsync_2 (1000 rows before the lag, 500 after), t_apply_many_logs2 (8 KB relay
/// logs), t_recover_slave_ok (server4 lags too), t_latest_recovery1 (the lagging candidate still wins with latest_priority=0),
/// t_needsync_flush2's ROLLBACK strings and t_binary's CR LF BLOB in what the diffs carry;
/// mha's account is MHA's metacharacter one (t_needsync_1_pass, t_needsync_2_pass).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_lagging_replicas_get_relay_log_diffs() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let survivors = ["server2", "server3", "server4"];
    seed(&c, &survivors).await;
    let conf = conf(
        &c,
        "app1.toml",
        "use_gtid_auto_pos = 0\nlatest_priority = 0\n",
        &[],
        &[],
    );
    // t_needsync_1_pass, t_needsync_2_pass: mha's account is MHA's metacharacter one.
    create_account(&c, META_USER, META_PASSWORD, &survivors).await;
    with_account(&conf, META_USER, META_PASSWORD);
    // t_apply_many_logs2: relay logs of 8 KB, all kept (the sandbox has relay_log_purge=OFF).
    for r in survivors {
        c.exec(r, "SET GLOBAL max_relay_log_size = 8192").await;
    }
    ins(&c, 2, 1000).await;
    wait_count(&c, "server2", 1000).await;
    c.exec("server2", "STOP SLAVE IO_THREAD").await; // lag S1 (the candidate)
    ins(&c, 1001, 1300).await;
    wait_count(&c, "server4", 1300).await;
    c.exec("server4", "STOP SLAVE IO_THREAD").await; // lag S3 less
    ins(&c, 1301, 1500).await;
    tricky_rows(&c, 1501).await;
    wait_count(&c, "server3", 1503).await;
    let relay = c.slave_status("server3").await["Relay_Log_File"]
        .clone()
        .unwrap_or_default();
    let n: u32 = relay.rsplit('.').next().unwrap().parse().unwrap();
    assert!(
        n > 10,
        "8 KB relay logs should have rotated many times: {relay}"
    );
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    // The master is gone: nothing arrives, the IO threads only retry (as positions.rs).
    for r in ["server2", "server4"] {
        c.exec(r, "START SLAVE IO_THREAD").await;
    }
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert_eq!(
        rec["planned"]["recovery"]["recovery"], "positions",
        "{text}"
    );
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    for r in ["server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    check(&c, &survivors, 1504).await;
    check_blob(&c, &survivors).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// kill -9 of the master (GTID) with small relay logs purged as they are applied
/// (max_relay_log_size=8192, relay_log_purge=ON): server2 (the candidate) stops receiving
/// after 300 rows, the others after 600, and the last rows exist only in the dead master's
/// binlog. server2 gets rows 301..600 from the latest replica by GTID, no relay log needed
/// (t_no_relay_log_gtid, t_needsync_1 in GTID mode); the master-only rows are saved over SSH
/// and applied on the new master (t_save_master_log, t_normal_crash), with t_binary's BLOB
/// and the ROLLBACK strings through mariadb-binlog | mariadb --binary-mode. A minute-long
/// SELECT runs on server2 meanwhile and does not hold the failover up (t_new_master_heavy).
/// mha's account is MHA's metacharacter one (t_save_master_log_pass).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_crash_gtid_purged_relay_logs_and_rows_only_in_the_masters_binlog() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::Gtid).await;
    let survivors = ["server2", "server3", "server4"];
    seed(&c, &survivors).await;
    for r in survivors {
        c.exec(r, "SET GLOBAL max_relay_log_size = 8192").await;
        c.exec(r, "SET GLOBAL relay_log_purge = ON").await;
    }
    let conf = conf(&c, "app1.toml", "", &[], &[]);
    // t_save_master_log_pass: the saved binlog applied with MHA's metacharacter account.
    create_account(&c, META_USER, META_PASSWORD, &survivors).await;
    with_account(&conf, META_USER, META_PASSWORD);
    ins(&c, 2, 300).await;
    wait_count(&c, "server2", 300).await;
    c.exec("server2", "STOP SLAVE IO_THREAD").await;
    ins(&c, 301, 600).await;
    for r in ["server3", "server4"] {
        wait_count(&c, r, 600).await;
        c.exec(r, "STOP SLAVE IO_THREAD").await;
    }
    ins(&c, 601, 606).await;
    tricky_rows(&c, 607).await;
    // t_new_master_heavy: a long SELECT runs on the new master during the failover.
    let mut heavy = c.session("server2").await;
    let long = tokio::spawn(async move {
        heavy
            .rows(
                "long select",
                "SELECT id, SLEEP(60) FROM test.t1 WHERE id = 1",
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    for r in survivors {
        c.exec(r, "START SLAVE IO_THREAD").await;
    }
    let switch_started = Instant::now();
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    assert!(
        !long.is_finished() && switch_started.elapsed() < T,
        "the long SELECT on the new master must neither end nor block the failover"
    );
    long.abort();
    for r in ["server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    check(&c, &survivors, 610).await;
    check_blob(&c, &survivors).await;
    eprintln!("test took {:?}", started.elapsed());
}

fn switch_alive(conf: &Path, c: &Cluster, extra: &[&str]) -> (Option<i32>, String) {
    let out = bed::switch_alive_command(conf, c.node("server2").port)
        .args(extra)
        .output()
        .unwrap();
    let (o, e) = bed::text(&out);
    (out.status.code(), format!("{o}\n{e}"))
}

/// Online switchover (file/position, MHA's default run): t_online_normal (err1 and err2
/// refused, then ok), t_online_slave_sql_stop (refused while a replica's SQL thread is
/// stopped, ok once it runs), t_online_slave (--orig_master_is_new_slave: the old master
/// replicates from the new one and gets the probe), all with MHA's metacharacter account
/// (t_online_slave_pass).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_online_switch_refusals_then_old_master_as_replica() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    seed(&c, &["server2", "server3", "server4"]).await;
    ins(&c, 2, 2).await;
    let default = conf(&c, "app1.toml", "", &[], &[]);
    // t_online_slave_pass: MHA's metacharacter account.
    create_account(
        &c,
        META_USER,
        META_PASSWORD,
        &["server2", "server3", "server4"],
    )
    .await;
    with_account(&default, META_USER, META_PASSWORD);
    let err1 = conf(&c, "err1.toml", "", &[], &["server1"]);
    let err2 = conf(&c, "err2.toml", "", &[], &["server2", "server3", "server4"]);
    for f in [&err1, &err2] {
        let (code, text) = switch_alive(f, &c, &[]);
        assert!(matches!(code, Some(c) if c != 0), "{}: {text}", f.display());
    }
    c.exec("server3", "STOP SLAVE SQL_THREAD").await;
    let (code, text) = switch_alive(&default, &c, &["--orig_master_is_new_slave"]);
    assert!(matches!(code, Some(c) if c != 0), "{text}");
    for r in ["server2", "server3", "server4"] {
        assert_master(&c, r, "server1").await;
    }
    c.exec("server3", "START SLAVE SQL_THREAD").await;
    c.wait_replicating_from("server3", "server1", T).await;
    let (code, text) = switch_alive(&default, &c, &["--orig_master_is_new_slave"]);
    assert_eq!(code, Some(0), "{text}");
    for r in ["server1", "server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    check(&c, &["server1", "server2", "server3", "server4"], 3).await;

    // t_manual on the switched cluster (server2 the master): master_switch
    // --master_state=dead refuses a master that answers, then a dead master with a replica
    // down (server3, no ignore_fail), and fails over once that replica is back.
    let dead = |c: &Cluster| {
        let out = bed::switch_dead_command(&default, c, "server2")
            .output()
            .unwrap();
        let (o, e) = bed::text(&out);
        (out.status.code(), format!("{o}\n{e}"))
    };
    let (code, text) = dead(&c);
    assert!(matches!(code, Some(c) if c != 0), "{text}");
    assert!(
        text.contains("is reachable via MySQL! Stop failover."),
        "{text}"
    );
    sandbox::fault(c.dir.path(), "server2", Fault::Crash)
        .await
        .unwrap();
    sandbox::fault(c.dir.path(), "server3", Fault::Stop)
        .await
        .unwrap();
    let (code, text) = dead(&c);
    assert!(matches!(code, Some(c) if c != 0), "{text}");
    assert_master(&c, "server4", "server2").await;
    sandbox::fault(c.dir.path(), "server3", Fault::Start)
        .await
        .unwrap();
    let (code, text) = dead(&c);
    assert_eq!(code, Some(0), "{text}");
    // server2 (the candidate) is dead: server1 is first in configuration order.
    for r in ["server3", "server4"] {
        c.wait_replicating_from(r, "server1", T).await;
    }
    c.exec(
        "server1",
        "INSERT INTO test.t1 VALUES (10000004, 400, 'manual')",
    )
    .await;
    check(&c, &["server1", "server3", "server4"], 4).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// The candidate (server2) stops receiving, then the master starts a new binlog file, so
/// server2's SQL thread stays in an older master file than the latest replica's IO thread:
/// not eligible, as in MHA (t_needsync_flush, t_keep_relay_log_purge's election). server3
/// stops receiving later; server4 alone has the last row. With latest_priority=0 the first
/// eligible replica in configuration order wins although it lacks that row, and gets it
/// (t_latest_recovery2, t_latest_recovery3); by default the latest replica wins
/// (t_needsync_flush3), shown by a dry run first. The real run uses an account with an empty
/// password (t_needsync_1_nopass).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_older_binlog_file_excludes_the_candidate() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let survivors = ["server2", "server3", "server4"];
    seed(&c, &survivors).await;
    create_account(&c, "admin", "", &survivors).await;
    ins(&c, 2, 2).await;
    wait_count(&c, "server2", 2).await;
    c.exec("server2", "STOP SLAVE IO_THREAD").await;
    c.exec("server1", "FLUSH BINARY LOGS").await;
    ins(&c, 3, 4).await;
    tricky_rows(&c, 5).await;
    wait_count(&c, "server3", 7).await;
    c.exec("server3", "STOP SLAVE IO_THREAD").await;
    ins(&c, 8, 8).await;
    wait_count(&c, "server4", 8).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    for r in ["server2", "server3"] {
        c.exec(r, "START SLAVE IO_THREAD").await;
    }
    let default = conf(&c, "app1.toml", "", &[], &[]);
    let (code, rec, text) = switch_dead_json(&default, &c, &["--dry-run"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server4"), "{text}");
    let server2 = rec["ranking"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["block"] == "server2")
        .unwrap();
    assert_eq!(server2["verdict"], "ineligible", "{text}");
    assert_eq!(server2["reasons"][0]["reason"], "sql_far_behind", "{text}");
    let latest = conf(&c, "latest.toml", "latest_priority = 0\n", &[], &[]);
    // t_needsync_1_nopass: an account with an empty password.
    with_account(&latest, "admin", "");
    let (code, rec, text) = switch_dead_json(&latest, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server3"), "{text}");
    for r in ["server2", "server4"] {
        c.wait_replicating_from(r, "server3", T).await;
    }
    probe(&c, "server3").await;
    check(&c, &survivors, 9).await;
    check_blob(&c, &survivors).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// Apply errors (file/position, MHA's default run). server3's SQL thread is stopped before
/// a row (t_slave_sql_start); server4 stops receiving, then gets a local row with an id the
/// master writes later (t_recover_slave_fail). As MHA, the failover starts server3's SQL
/// thread (stopped without an error) and goes on: server2 is promoted, server3 recovered,
/// server4 cannot be (duplicate key) and the outcome is partial (exit 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_stopped_sql_thread_and_a_diverged_replica() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    seed(&c, &["server2", "server3", "server4"]).await;
    let conf = conf(&c, "app1.toml", "", &[], &[]);
    c.exec("server3", "STOP SLAVE SQL_THREAD").await;
    c.exec("server4", "STOP SLAVE IO_THREAD").await;
    ins(&c, 2, 6).await;
    c.exec("server4", "SET GLOBAL read_only = 0").await;
    c.exec("server4", "INSERT INTO test.t1 VALUES (4, 4, 'local')")
        .await;
    c.exec("server4", "SET GLOBAL read_only = 1").await;
    wait_count(&c, "server2", 6).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    c.exec("server4", "START SLAVE IO_THREAD").await;
    // server3's SQL thread is started again (it stopped without an error), as MHA did.
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert!(
        text.contains(&format!(
            "127.0.0.1(127.0.0.1:{}): its SQL thread was stopped (no error): starting it",
            c.node("server3").port
        )),
        "{text}"
    );
    assert_eq!(code, Some(10), "{text}");
    assert_eq!(rec["outcome"], "partial", "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    c.wait_replicating_from("server3", "server2", T).await;
    probe(&c, "server2").await;
    check(&c, &["server2", "server3"], 7).await;
    let st = c.slave_status("server4").await;
    assert_ne!(st["Slave_SQL_Running"].as_deref(), Some("Yes"), "{st:?}");
    assert_eq!(
        c.value("server4", "SELECT value2 FROM test.t1 WHERE id = 4")
            .await
            .as_deref(),
        Some("local")
    );
    eprintln!("test took {:?}", started.elapsed());
}

/// t_needsync_1_nocm, t_normal_crash_nocm (file/position): the candidate lags by one row;
/// master_switch --skip_change_master --skip_disable_read_only gives it that row and leaves
/// it read-only, and re-points nobody; every survivor has the same 2 rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_skip_change_master_applies_the_diff_and_repoints_nobody() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let survivors = ["server2", "server3", "server4"];
    seed(&c, &survivors).await;
    let conf = conf(&c, "app1.toml", "", &[], &[]);
    c.exec("server2", "STOP SLAVE IO_THREAD").await;
    ins(&c, 2, 2).await;
    for r in ["server3", "server4"] {
        wait_count(&c, r, 2).await;
    }
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    c.exec("server2", "START SLAVE IO_THREAD").await;
    let (code, rec, text) = switch_dead_json(
        &conf,
        &c,
        &["--skip_change_master", "--skip_disable_read_only"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1"),
        "--skip_disable_read_only"
    );
    for r in ["server3", "server4"] {
        assert_master(&c, r, "server1").await;
    }
    // MHA left the new master's own replication settings too (master(S1)=M); mha resets
    // them as it always does unless skip_reset_slave=1.
    assert!(c.slave_status("server2").await.is_empty());
    check(&c, &survivors, 2).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// t_apply_many_logs, t_apply_many_logs3 (position-based recovery, MHA's file branch): 8 KB
/// relay logs everywhere, but only server4 keeps them (relay_log_purge=0); the others purge
/// theirs as they apply them. The candidate server2 stops receiving after 1000 rows; the
/// 1000 rows it lacks are only in server4's relay logs, although server3 is as advanced and
/// first in the configuration: the diff comes from server4's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_only_one_replica_kept_its_relay_logs() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let survivors = ["server2", "server3", "server4"];
    seed(&c, &survivors).await;
    let conf = conf(&c, "app1.toml", "use_gtid_auto_pos = 0\n", &[], &[]);
    for r in survivors {
        c.exec(r, "SET GLOBAL max_relay_log_size = 8192").await;
    }
    for r in ["server2", "server3"] {
        c.exec(r, "SET GLOBAL relay_log_purge = 1").await;
    }
    ins(&c, 2, 1000).await;
    wait_count(&c, "server2", 1000).await;
    c.exec("server2", "STOP SLAVE IO_THREAD").await; // lag S1
    ins(&c, 1001, 2000).await;
    for r in ["server3", "server4"] {
        wait_count(&c, r, 2000).await;
    }
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    c.exec("server2", "START SLAVE IO_THREAD").await;
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert_eq!(
        rec["planned"]["recovery"]["recovery"], "positions",
        "{text}"
    );
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    for r in ["server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    check(&c, &survivors, 2001).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// The large-data scenarios at a scale the suite affords (position-based recovery): the
/// candidate server2 stops receiving after 1000 rows, then the master writes, in row
/// format, one 39,000-row transaction (t_large_data, t_large_data_slow), 30 transactions of
/// 1000 rows (t_large_data_tran), 10-row multi-VALUES inserts committed every 1000 rows and
/// four range UPDATEs (t_large_data_bulk, t_large_data_bulk_slow). server3, the latest
/// replica and the diff's source, has 64 KB relay logs (relay64k: the big transaction spans
/// many of them, MHA's "fast position search should fail"); server4's were flushed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_large_transactions_in_the_relay_log_diff() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let survivors = ["server2", "server3", "server4"];
    seed(&c, &survivors).await;
    let conf = conf(&c, "app1.toml", "use_gtid_auto_pos = 0\n", &[], &[]);
    c.exec("server3", "SET GLOBAL max_relay_log_size = 65536")
        .await;
    for _ in 0..2 {
        c.exec("server4", "FLUSH RELAY LOGS").await;
    }
    ins(&c, 2, 1000).await;
    wait_count(&c, "server2", 1000).await;
    c.exec("server2", "STOP SLAVE IO_THREAD").await; // lag S1
    let mut m = c.session("server1").await;
    let mut run = async |sql: String| m.exec("load", &sql).await.unwrap();
    run("USE test".into()).await;
    run("SET SESSION binlog_format = 'ROW'".into()).await;
    run("INSERT INTO test.t1 SELECT seq, seq, 'aaaaaaa' FROM seq_1001_to_40000".into()).await;
    for k in 0..30u32 {
        let (a, b) = (40_001 + k * 1000, 41_000 + k * 1000);
        run("BEGIN".into()).await;
        run(format!(
            "INSERT INTO test.t1 SELECT seq, seq, CONCAT('aaaaaa', seq) FROM seq_{a}_to_{b}"
        ))
        .await;
        run("COMMIT".into()).await;
    }
    for k in 0..10u32 {
        run("BEGIN".into()).await;
        for j in 0..100u32 {
            let first = 70_001 + k * 1000 + j * 10;
            let values: Vec<String> = (first..first + 10)
                .map(|i| format!("({i}, {i}, 'bulk')"))
                .collect();
            run(format!("INSERT INTO test.t1 VALUES {}", values.join(", "))).await;
        }
        run("COMMIT".into()).await;
    }
    for (k, add) in [100, 200, 300, 400].into_iter().enumerate() {
        let (a, b) = (1 + k * 10_000, (k + 1) * 10_000);
        run(format!(
            "UPDATE test.t1 SET value = value + {add} WHERE id BETWEEN {a} AND {b}"
        ))
        .await;
    }
    m.disconnect().await;
    for r in ["server3", "server4"] {
        wait_count(&c, r, 80_000).await;
    }
    let relay = c.slave_status("server3").await["Relay_Log_File"]
        .clone()
        .unwrap_or_default();
    let n: u32 = relay.rsplit('.').next().unwrap().parse().unwrap();
    assert!(
        n > 20,
        "64 KB relay logs should have rotated often: {relay}"
    );
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    c.exec("server2", "START SLAVE IO_THREAD").await;
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        rec["planned"]["recovery"]["recovery"], "positions",
        "{text}"
    );
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    let from_relay_logs = rec["recovered"].as_array().unwrap().iter().any(|r| {
        r["from"]
            .as_str()
            .is_some_and(|f| f.starts_with("relay logs of the latest replica"))
    });
    assert!(from_relay_logs, "{text}");
    for r in ["server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    check(&c, &survivors, 80_001).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// MHA's `mm`: server1 (M) also replicates from server2 (S1), from S1's current binlog
/// position.
async fn master_master(c: &Cluster) {
    let pw = std::fs::read_to_string(c.dir.path().join("secrets/repl.password")).unwrap();
    let at = c.rows("server2", "SHOW MASTER STATUS").await[0].clone();
    let s1 = c.node("server2");
    c.exec(
        "server1",
        &format!(
            "CHANGE MASTER TO MASTER_HOST = '{}', MASTER_PORT = {}, MASTER_USER = '{}', \
             MASTER_PASSWORD = '{}', MASTER_LOG_FILE = '{}', MASTER_LOG_POS = {}",
            s1.host,
            s1.port,
            c.state.repl_user,
            pw.trim(),
            at["File"].clone().unwrap(),
            at["Position"].clone().unwrap()
        ),
    )
    .await;
    c.exec("server1", "START SLAVE").await;
    c.wait_replicating_from("server1", "server2", T).await;
}

async fn read_only(c: &Cluster, m: bool, s1: bool) {
    for (node, on) in [("server1", m), ("server2", s1)] {
        c.exec(node, &format!("SET GLOBAL read_only = {}", u8::from(on)))
            .await;
    }
}

/// Master-master pairs (t_mm, t_mm_ro_fail, t_mm_normal), file/position: with M and S1
/// replicating from each other, check_repl and the manager refuse while both are writable,
/// while both are read-only, and while only S1 is writable; with M writable and S1
/// read-only, check_repl is OK and M is the master. Then rows on M, kill -9 of M: the
/// failover promotes S1 and the survivors agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_master_master_pair() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let survivors = ["server2", "server3", "server4"];
    seed(&c, &survivors).await;
    let conf = conf(&c, "app1.toml", "", &[], &[]);
    master_master(&c).await;
    for (m, s1, scenario) in [
        (false, false, "both writable"),
        (true, true, "both read-only"),
        (true, false, "only S1 writable"),
    ] {
        read_only(&c, m, s1).await;
        both_refuse(&c, &conf, scenario);
    }
    read_only(&c, false, true).await;
    let (code, text) = check_repl(&conf);
    assert_eq!(code, Some(0), "M writable, S1 read-only:\n{text}");
    ins(&c, 2, 6).await;
    for r in survivors {
        wait_count(&c, r, 6).await;
    }
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    for r in ["server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    check(&c, &survivors, 7).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// t_online_mm: an online switch in a master-master pair (file/position) is refused while
/// both are writable and while both are read-only, and done with M writable and S1
/// read-only; S1 then takes the probe and every replica has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_online_switch_in_a_master_master_pair() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let replicas = ["server2", "server3", "server4"];
    seed(&c, &replicas).await;
    let conf = conf(&c, "app1.toml", "", &[], &[]);
    master_master(&c).await;
    for (m, s1, scenario) in [
        (false, false, "both writable"),
        (true, true, "both read-only"),
    ] {
        read_only(&c, m, s1).await;
        let (code, text) = switch_alive(&conf, &c, &[]);
        assert!(
            matches!(code, Some(c) if c != 0),
            "{scenario}: the switch should be refused:\n{text}"
        );
        assert_master(&c, "server3", "server1").await;
    }
    read_only(&c, false, true).await;
    let (code, text) = switch_alive(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    for r in ["server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    check(&c, &replicas, 2).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// t_mm_noslaves: only the pair M and S1 in the configuration (the other replicas of M are
/// not managed): the checks refuse both writable and both read-only and accept M writable;
/// after kill -9 of M the failover promotes S1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_master_master_pair_alone_in_the_configuration() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    seed(&c, &["server2", "server3", "server4"]).await;
    let conf = conf(&c, "mm.toml", "", &[], &["server3", "server4"]);
    master_master(&c).await;
    for (m, s1, scenario) in [
        (false, false, "both writable"),
        (true, true, "both read-only"),
    ] {
        read_only(&c, m, s1).await;
        both_refuse(&c, &conf, scenario);
    }
    read_only(&c, false, true).await;
    let (code, text) = check_repl(&conf);
    assert_eq!(code, Some(0), "M writable, S1 read-only:\n{text}");
    ins(&c, 2, 6).await;
    wait_count(&c, "server2", 6).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    probe(&c, "server2").await;
    check(&c, &["server2"], 7).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// t_mm_normal_skip_reset (file/position, `skip_reset_slave = 1`): a master-master pair
/// fails over to S1, which keeps its replication settings (stopped, not reset). M comes back
/// with its data and replicates from S1 again (the probe reaches it); S1 is started by hand
/// and gets M's new row: the pair is whole again and every server has both rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_master_master_pair_kept_by_skip_reset_slave() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let all = ["server1", "server2", "server3", "server4"];
    seed(&c, &all[1..]).await;
    let conf = conf(&c, "reset.toml", "skip_reset_slave = 1\n", &[], &[]);
    master_master(&c).await;
    ins(&c, 2, 2).await;
    read_only(&c, false, true).await;
    ins(&c, 3, 3).await;
    for r in &all[1..] {
        wait_count(&c, r, 3).await;
    }
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    probe(&c, "server2").await;
    sandbox::fault(c.dir.path(), "server1", Fault::Start)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let st = c.slave_status("server2").await;
    assert_eq!(st["Slave_SQL_Running"].as_deref(), Some("No"), "{st:?}");
    assert_eq!(master_port(&st), Some(c.node("server1").port.to_string()));
    c.exec("server2", "START SLAVE").await;
    c.wait_replicating_from("server2", "server1", T).await;
    c.exec("server1", "SET GLOBAL read_only = 0").await;
    c.exec(
        "server1",
        "INSERT INTO test.t1 VALUES (10000004, 400, 'cccaaaaaaa')",
    )
    .await;
    check(&c, &all, 5).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// t_online_mm_skip_reset (file/position, `skip_reset_slave = 1`): an online switch in a
/// master-master pair with --orig_master_is_new_slave; S1 keeps its replication settings
/// (stopped), M replicates from S1; S1 started by hand gets M's new row; every server has
/// both rows. (MHA's configuration had no repl credentials; the sandbox's has.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_online_switch_keeps_the_pair_with_skip_reset_slave() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let all = ["server1", "server2", "server3", "server4"];
    seed(&c, &all[1..]).await;
    let conf = conf(&c, "reset.toml", "skip_reset_slave = 1\n", &[], &[]);
    master_master(&c).await;
    read_only(&c, false, true).await;
    let (code, text) = switch_alive(&conf, &c, &["--orig_master_is_new_slave"]);
    assert_eq!(code, Some(0), "{text}");
    probe(&c, "server2").await;
    let st = c.slave_status("server2").await;
    assert_eq!(st["Slave_SQL_Running"].as_deref(), Some("No"), "{st:?}");
    assert_eq!(master_port(&st), Some(c.node("server1").port.to_string()));
    c.wait_replicating_from("server1", "server2", T).await;
    c.exec("server2", "START SLAVE").await;
    c.wait_replicating_from("server2", "server1", T).await;
    c.exec("server1", "SET GLOBAL read_only = 0").await;
    c.exec(
        "server1",
        "INSERT INTO test.t1 VALUES (10000004, 400, 'cccaaaaaaa')",
    )
    .await;
    check(&c, &all, 3).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// t_online_busy (part b) then t_online_slave_fail, file/position. A query running on the new
/// master longer than --running_seconds_limit refuses the switch (MHA's 15 `SELECT
/// SLEEP(100)` and its 10 s limit, at 1 s here); nothing changes. Then, with no repl_user
/// and repl_password in the configuration (MHA's default test configuration), the switch
/// with --orig_master_is_new_slave moves the replicas (they keep their account) but the old
/// master cannot be attached: non-zero exit; the replicas have the probe, M has not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_online_switch_busy_new_master_then_no_repl_credentials() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::FilePos).await;
    let replicas = ["server2", "server3", "server4"];
    seed(&c, &replicas).await;
    let path = conf(&c, "app1.toml", "", &[], &[]);
    let mut busy = c.session("server2").await;
    let long = tokio::spawn(async move { busy.rows("busy", "SELECT SLEEP(100)").await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (code, text) = switch_alive(
        &path,
        &c,
        &["--orig_master_is_new_slave", "--running_seconds_limit=1"],
    );
    assert!(matches!(code, Some(c) if c != 0), "{text}");
    assert!(text.contains("--running_seconds_limit"), "{text}");
    long.abort();
    for r in ["server2", "server3", "server4"] {
        assert_master(&c, r, "server1").await;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("repl_user") && !l.starts_with("repl_password"))
        .collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    let (code, text) = switch_alive(&path, &c, &["--orig_master_is_new_slave"]);
    assert_eq!(
        code,
        Some(10),
        "partial: the old master is not attached\n{text}"
    );
    for r in ["server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    check(&c, &replicas, 2).await;
    wait_count(&c, "server1", 1).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// MHA's 3-tier set-up (GTID): row 2, then S2 (server3) replicates from S1 (server2):
/// M -> S1 -> S2, M -> S3. With `mm`, M also replicates from S1 and S1 is read-only first
/// (t_online_mm_3tier*). Returns the default and the multi_tier_slave=1 configurations.
/// Rows 1-2 everywhere; with `mm`, M also replicates from S1 (S1 read-only, M writable).
/// The default configuration and the one with multi_tier_slave=1.
async fn rows_and_confs(c: &Cluster, mm: bool) -> (PathBuf, PathBuf) {
    seed(c, &["server2", "server3", "server4"]).await;
    ins(c, 2, 2).await;
    if mm {
        point(c, "server1", "server2", "current_pos").await;
        read_only(c, false, true).await;
    }
    let default = conf(c, "app1.toml", "", &[], &[]);
    let multi = conf(c, "multi.toml", "multi_tier_slave = 1\n", &[], &[]);
    (default, multi)
}

/// `rows_and_confs`, and S2 moved under S1.
async fn three_tiers(c: &Cluster, mm: bool) -> (PathBuf, PathBuf) {
    let confs = rows_and_confs(c, mm).await;
    point(c, "server3", "server2", "slave_pos").await;
    assert_master(c, "server3", "server2").await;
    confs
}

/// S1, the pair's read-only standby, stopped: check_repl and the manager refuse with either
/// configuration. Then M is made read-only as well.
async fn stop_the_standby_then_make_m_read_only(c: &Cluster, confs: [&Path; 2]) {
    sandbox::fault(c.dir.path(), "server2", Fault::Stop)
        .await
        .unwrap();
    for f in confs {
        both_refuse(c, f, "S1 dead");
    }
    c.exec("server1", "SET GLOBAL read_only = 1").await;
}

const TIER: &str = "a replica of a replica needs multi_tier_slave=1";

/// The switch refused (non-zero exit), its output containing `why`.
/// What check_repl and the switch say when multi_tier_slave=1 meets a writable intermediate.
const WRITABLE: &str = "writable (read_only=0)";

fn refused(res: (Option<i32>, String), what: &str, why: &str) {
    let (code, text) = res;
    assert!(
        matches!(code, Some(c) if c != 0) && text.contains(why),
        "{what}: the switch should be refused ({why}):\n{text}"
    );
}

/// t_online_3tier (without `oms`) and t_online_3tier_slave (`oms`: the last switch with
/// --orig_master_is_new_slave): the switch to S1 is refused by the default configuration
/// (S2 is a replica of a replica) while S1 is writable and once it is read-only; then
/// multi_tier_slave=1 refuses while S1 is writable and switches once it is read-only.
/// S2 stays on S1, S3 moves
/// to S1, the old master gets the probe only with --orig_master_is_new_slave.
async fn online_3tier(oms: bool) {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::Gtid).await;
    let (default, multi) = three_tiers(&c, false).await;
    c.exec("server2", "SET GLOBAL read_only = 0").await;
    refused(switch_alive(&default, &c, &[]), "default", TIER);
    // MHA: multi_tier_slave=1 refuses while the intermediate S1 takes writes.
    refused(switch_alive(&multi, &c, &[]), "multi, S1 rw", WRITABLE);
    c.exec("server2", "SET GLOBAL read_only = 1").await;
    refused(switch_alive(&default, &c, &[]), "default, S1 ro", TIER);
    for r in ["server2", "server4"] {
        assert_master(&c, r, "server1").await;
    }
    let extra: &[&str] = if oms {
        &["--orig_master_is_new_slave"]
    } else {
        &[]
    };
    let (code, text) = switch_alive(&multi, &c, extra);
    assert_eq!(code, Some(0), "{text}");
    for r in ["server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    if oms {
        c.wait_replicating_from("server1", "server2", T).await;
        check(&c, &["server1", "server2", "server3", "server4"], 3).await;
    } else {
        check(&c, &["server2", "server3", "server4"], 3).await;
        wait_count(&c, "server1", 2).await;
    }
    eprintln!("test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_online_switch_three_tiers() {
    online_3tier(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_online_switch_three_tiers_old_master_as_replica() {
    online_3tier(true).await;
}

/// t_online_mm_3tier (without `oms`) and t_online_mm_3tier_slave (`oms`: both switches with
/// --orig_master_is_new_slave): M and S1 replicate from each other, S1 read-only, S2 under
/// S1. The default configuration refuses the switch to S1 (S2 is a replica of a replica);
/// multi_tier_slave=1 switches; S2 stays on S1, S3 moves to S1 and M, already S1's replica,
/// gets the probe either way.
async fn online_mm_3tier(oms: bool) {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::Gtid).await;
    let (default, multi) = three_tiers(&c, true).await;
    let extra: &[&str] = if oms {
        &["--orig_master_is_new_slave"]
    } else {
        &[]
    };
    refused(switch_alive(&default, &c, extra), "default", TIER);
    assert_master(&c, "server4", "server1").await;
    let (code, text) = switch_alive(&multi, &c, extra);
    assert_eq!(code, Some(0), "{text}");
    for r in ["server1", "server3", "server4"] {
        c.wait_replicating_from(r, "server2", T).await;
    }
    probe(&c, "server2").await;
    check(&c, &["server1", "server2", "server3", "server4"], 3).await;
    eprintln!("test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_online_switch_master_master_three_tiers() {
    online_mm_3tier(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_online_switch_master_master_three_tiers_old_master_as_replica() {
    online_mm_3tier(true).await;
}

/// t_online_3tier_slave_keep: only the master-master pair M and S1 in the configuration;
/// S2 replicates from S1 and S3 from M, both unmanaged. After row 3 the switch to S1 with
/// --orig_master_is_new_slave: M replicates from S1, S2 stays on S1 and S3 on M, and the
/// probe reaches all four servers (through M's log_slave_updates for S3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_online_switch_pair_keeps_unmanaged_tiers() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::Gtid).await;
    three_tiers(&c, true).await;
    let pair = conf(&c, "mm_online.toml", "", &[], &["server3", "server4"]);
    ins(&c, 3, 3).await;
    let (code, text) = switch_alive(&pair, &c, &["--orig_master_is_new_slave"]);
    assert_eq!(code, Some(0), "{text}");
    c.wait_replicating_from("server1", "server2", T).await;
    c.wait_replicating_from("server3", "server2", T).await;
    c.wait_replicating_from("server4", "server1", T).await;
    probe(&c, "server2").await;
    check(&c, &["server1", "server2", "server3", "server4"], 4).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// t_4tier (GTID): M -> S1 -> S2 -> S3 and M -> S4. The default configuration refuses in
/// check_repl and at the manager's start; with multi_tier_slave=1 and S1, S2 read-only
/// check_repl is OK. After kill -9 of M the failover promotes S1, keeps S2 under S1 and S3
/// under S2, and moves S4 to S1; the probe reaches every survivor. check_repl with
/// multi_tier_slave=1 refuses while S1 or S2 is writable, as MHA's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_four_tiers_fail_over_to_the_first_tier() {
    let started = Instant::now();
    let c = Cluster::start(4, Mode::Gtid).await;
    let all = ["server1", "server2", "server3", "server4", "server5"];
    let (default, multi) = four_tiers(&c).await;
    both_refuse(&c, &default, "default, 4 tiers");
    // MHA: check_repl with multi_tier_slave=1 refuses while S1 or S2 takes writes.
    for r in ["server2", "server3"] {
        c.exec(r, "SET GLOBAL read_only = 0").await;
    }
    for r in ["server2", "server3"] {
        let (code, text) = check_repl(&multi);
        assert!(code != Some(0) && text.contains(WRITABLE), "{r} rw: {text}");
        c.exec(r, "SET GLOBAL read_only = 1").await;
    }
    let (code, text) = check_repl(&multi);
    assert_eq!(code, Some(0), "{text}");
    ins(&c, 3, 3).await;
    check(&c, &all, 3).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let (code, rec, text) = switch_dead_json(&multi, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    c.wait_replicating_from("server3", "server2", T).await;
    c.wait_replicating_from("server4", "server3", T).await;
    c.wait_replicating_from("server5", "server2", T).await;
    probe(&c, "server2").await;
    check(&c, &all[1..], 4).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// t_mm_3tier (GTID): M and S1 replicate from each other, S1 read-only, S2 under S1. The
/// default configuration refuses (check_repl and the manager's start); after kill -9 of M,
/// check_repl refuses with either configuration (the master is dead), the failover with the
/// default one refuses and with multi_tier_slave=1 promotes S1, S2 staying under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_master_master_three_tiers_fail_over() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::Gtid).await;
    let (default, multi) = three_tiers(&c, true).await;
    both_refuse(&c, &default, "default, alive");
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    for f in [&default, &multi] {
        let (code, text) = check_repl(f);
        assert!(matches!(code, Some(c) if c != 0), "{text}");
    }
    let (code, _, text) = switch_dead_json(&default, &c, &[]);
    assert!(matches!(code, Some(c) if c != 0), "{text}");
    assert!(text.contains("multi_tier_slave=1"), "{text}");
    assert_master(&c, "server4", "server1").await;
    let (code, rec, text) = switch_dead_json(&multi, &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(ends_with_port(&rec["new_master"], &c, "server2"), "{text}");
    c.wait_replicating_from("server4", "server2", T).await;
    assert_master(&c, "server3", "server2").await;
    probe(&c, "server2").await;
    check(&c, &["server2", "server3", "server4"], 3).await;
    eprintln!("test took {:?}", started.elapsed());
}

/// MHA's 4-tier set-up (GTID): row 2, then M -> S1 -> S2 -> S3 and M -> S4 (server2 ..
/// server5). Returns the default and the multi_tier_slave=1 configurations.
async fn four_tiers(c: &Cluster) -> (PathBuf, PathBuf) {
    seed(c, &["server2", "server3", "server4", "server5"]).await;
    ins(c, 2, 2).await;
    point(c, "server3", "server2", "slave_pos").await;
    point(c, "server4", "server3", "slave_pos").await;
    let default = conf(c, "app1.toml", "", &[], &[]);
    let multi = conf(c, "multi.toml", "multi_tier_slave = 1\n", &[], &[]);
    (default, multi)
}

/// t_4tier_subm_dead (GTID): the 4 tiers, row 3, S1 read-only, then S2 (an intermediate
/// with the replica S3) stopped: check_repl refuses with either configuration; after kill
/// -9 of M the failover refuses with either configuration and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_four_tiers_with_a_dead_intermediate_refuse() {
    let started = Instant::now();
    let c = Cluster::start(4, Mode::Gtid).await;
    let (default, multi) = four_tiers(&c).await;
    ins(&c, 3, 3).await;
    check(
        &c,
        &["server1", "server2", "server3", "server4", "server5"],
        3,
    )
    .await;
    c.exec("server2", "SET GLOBAL read_only = 1").await;
    sandbox::fault(c.dir.path(), "server3", Fault::Stop)
        .await
        .unwrap();
    for f in [&default, &multi] {
        both_refuse(&c, f, "S2 dead");
    }
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    for f in [&default, &multi] {
        let (code, _, text) = switch_dead_json(f, &c, &[]);
        assert!(matches!(code, Some(c) if c != 0), "{text}");
    }
    for r in ["server2", "server5"] {
        assert_master(&c, r, "server1").await;
    }
    eprintln!("test took {:?}", started.elapsed());
}

/// t_mm_3tier_subm_dead (GTID): M and S1 replicate from each other, S2 under S1; S1 (the
/// standby master with the replica S2) stopped. check_repl and the manager refuse with
/// either configuration, again once M is read-only; after kill -9 of M, check_repl and the
/// failover refuse with either configuration and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_master_master_three_tiers_dead_standby_refuses() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::Gtid).await;
    let (default, multi) = three_tiers(&c, true).await;
    stop_the_standby_then_make_m_read_only(&c, [&default, &multi]).await;
    both_refuse(&c, &default, "S1 dead, M read-only");
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    for f in [&default, &multi] {
        let (code, text) = check_repl(f);
        assert!(matches!(code, Some(c) if c != 0), "{text}");
        let (code, _, text) = switch_dead_json(f, &c, &[]);
        assert!(matches!(code, Some(c) if c != 0), "{text}");
    }
    assert_master(&c, "server4", "server1").await;
    assert_master(&c, "server3", "server2").await;
    eprintln!("test took {:?}", started.elapsed());
}

/// t_mm_subm_dead (GTID): M and S1 replicate from each other, S2 and S3 under M; S1 (the
/// read-only standby master) stopped. check_repl and the manager refuse with either
/// configuration, and again once M is read-only as well. There MHA's manager with
/// multi_tier_slave=1 took the dead S1 for the master and promoted M; mha's manager does not
/// fail over a master dead at its start (docs/coming-from-mha.md), and the operator's
/// `master_switch --master_state=dead` naming S1 does what MHA's manager did: M is promoted,
/// S2 and S3 keep replicating from it with every row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regr_master_master_dead_standby() {
    let started = Instant::now();
    let c = Cluster::start(3, Mode::Gtid).await;
    let (default, multi) = rows_and_confs(&c, true).await;
    stop_the_standby_then_make_m_read_only(&c, [&default, &multi]).await;
    for f in [&default, &multi] {
        let text = both_refuse(&c, f, "S1 dead, M read-only");
        assert!(text.contains("the master is not reachable"), "{text}");
    }
    let out = bed::switch_dead_command(&multi, &c, "server2")
        .args(["--output", "json"])
        .output()
        .unwrap();
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    let rec: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(ends_with_port(&rec["new_master"], &c, "server1"), "{text}");
    assert_eq!(
        c.value("server1", "SELECT @@read_only").await.as_deref(),
        Some("0")
    );
    probe(&c, "server1").await;
    check(&c, &["server1", "server3", "server4"], 3).await;
    eprintln!("test took {:?}", started.elapsed());
}
