//! Online switchover on real servers under a write load: no acknowledged commit lost, every
//! replica on the new master; refusals; rollback; a running manager follows the switch; a lost
//! answer to read_only=0 on the new master (through a cutting proxy).

use std::time::Duration;

use mha::sandbox::Mode;

use crate::bed::{self, Cluster, Daemon, Writer};
use crate::proxy::Proxy;

const T: Duration = Duration::from_secs(30);

/// An application user without READ ONLY ADMIN: read_only blocks it, as it blocks apps.
pub(crate) async fn app_writer(c: &Cluster, node: &str) -> Writer {
    c.exec(
        "server1",
        "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'apppw'",
    )
    .await;
    c.exec("server1", "GRANT INSERT, SELECT ON mha_it.* TO 'app'@'%'")
        .await;
    let t = mha::sql::Target {
        host: "127.0.0.1".into(),
        port: c.node(node).port,
        user: "app".into(),
        password: mha::secret::Secret::new("apppw"),
        socket: None,
    };
    Writer::start(t)
}

fn switch(c: &Cluster, extra: &[&str]) -> (i32, String) {
    let conf = c.state.app_config();
    let mut args = vec![
        "master_switch",
        "--master_state=alive",
        "--conf",
        conf.to_str().unwrap(),
        "--interactive=0",
    ];
    args.extend_from_slice(extra);
    let out = bed::run_mha(&bed::mha_bin(), &args);
    let (o, e) = bed::text(&out);
    (out.status.code().unwrap(), format!("{o}\n{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtid_switch_under_load_with_the_old_master_as_replica_and_a_manager_running() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    let conf = c.state.app_config();
    let m = Daemon::manager(&conf, &[], c.dir.path().join("manager.log"), T);
    let w = app_writer(&c, "server1").await;
    w.wait_acked(20, T).await;
    let port2 = format!("--new_master_port={}", c.node("server2").port);
    let (code, out) = switch(
        &c,
        &[
            "--new_master_host=127.0.0.1",
            &port2,
            "--orig_master_is_new_slave",
        ],
    );
    let acked = w.stop().await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Writes were blocked for")
            && out.contains("Switching master to 127.0.0.1(127.0.0.1:"),
        "{out}"
    );
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    for r in ["server1", "server3"] {
        let st = c.wait_replicating_from(r, "server2", T).await;
        assert_eq!(st["Using_Gtid"].as_deref(), Some("Slave_Pos"));
    }
    assert_eq!(
        c.value("server1", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1")
    );
    c.exec("server2", "INSERT INTO mha_it.acked (id) VALUES (1000000)")
        .await;
    for r in ["server1", "server3"] {
        c.wait_value(
            r,
            "SELECT COUNT(*) FROM mha_it.acked WHERE id = 1000000",
            "1",
            T,
        )
        .await;
    }
    for n in ["server1", "server2", "server3"] {
        c.assert_has_all(n, &acked).await;
    }
    // The manager paused during the planned write block and now follows the new master.
    let port = c.node("server2").port;
    assert!(
        m.wait_for(&format!("master=127.0.0.1(127.0.0.1:{port})"), T),
        "{}",
        m.output()
    );
    let log = m.output();
    // (A fast switch may be over before the manager's next round sees it "running".)
    assert!(log.contains("following the new master"), "{log}");
    assert!(
        !log.contains("Connection failed") && !log.contains("Master is down"),
        "{log}"
    );
    assert_eq!(bed::check_status(&conf, &[]).0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_pos_switch_refusals_and_rollback() {
    let c = Cluster::start(2, Mode::FilePos).await;
    c.create_acked_table().await;
    let port2 = format!("--new_master_port={}", c.node("server2").port);
    let new2 = ["--new_master_host=127.0.0.1", port2.as_str()];

    // Refused: a replica whose IO thread is stopped (it lags), naming it; nothing changes.
    c.exec("server3", "STOP SLAVE IO_THREAD").await;
    let (code, out) = switch(&c, &new2);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "127.0.0.1(127.0.0.1:{}): Slave IO thread is not running",
            c.node("server3").port
        )),
        "{out}"
    );
    assert!(
        out.contains("Switch refused: nothing was changed."),
        "{out}"
    );
    c.exec("server3", "START SLAVE IO_THREAD").await;

    // Refused: a long update on the master.
    let mut long = c.session("server1").await;
    let running = tokio::spawn(async move {
        let _ = long
            .exec(
                "long update",
                "INSERT INTO mha_it.acked (id) SELECT 900000 + SLEEP(4)",
            )
            .await;
        long
    });
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let (code, out) = switch(&c, &new2);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("updates have been running on the master") && out.contains("SLEEP(4)"),
        "{out}"
    );
    running.await.unwrap().disconnect().await;
    assert_eq!(
        c.value("server1", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );

    // Rollback: the new master stops answering mid-way (frozen by the stop hook).
    let hook = c.dir.path().join("online_change.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncase \"$*\" in *--command=stop*) [ -f {d}/freeze ] && {mha} sandbox fault --dir {d} server2 freeze >/dev/null;; esac\nexit 0\n",
            d = c.dir.path().display(),
            mha = bed::mha_bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    c.add_app_settings(&format!(
        "master_ip_online_change_script = \"{}\"\n",
        hook.display()
    ));
    std::fs::write(c.dir.path().join("freeze"), "").unwrap();
    let (code, out) = switch(&c, &new2);
    mha::sandbox::fault(c.dir.path(), "server2", mha::sandbox::Fault::Resume)
        .await
        .unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Switch failed and was rolled back"), "{out}");
    // The frozen new master never caught up, so its replication was never stopped: the
    // rollback leaves it alone (pointing it at the old master's end coordinates would skip
    // what it had not applied) and it goes on replicating from the old master once thawed.
    let port2 = c.node("server2").port;
    assert!(out.contains("Error: "), "{out}");
    assert!(
        !out.contains(&format!(
            "rollback: 127.0.0.1(127.0.0.1:{port2}) could not be pointed back"
        )),
        "{out}"
    );
    assert_eq!(
        c.value("server1", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0"),
        "old master writable again"
    );
    c.wait_replicating_from("server3", "server1", T).await;
    c.wait_replicating_from("server2", "server1", T).await;

    // And a real switch in file/position mode under load, old master left read-only.
    std::fs::remove_file(c.dir.path().join("freeze")).unwrap();
    let w = app_writer(&c, "server1").await;
    w.wait_acked(20, T).await;
    let (code, out) = switch(&c, &new2);
    let acked = w.stop().await;
    assert_eq!(code, 0, "{out}");
    let st = c.wait_replicating_from("server3", "server2", T).await;
    assert_eq!(
        st["Using_Gtid"].as_deref(),
        Some("No"),
        "file/position stays file/position"
    );
    assert_eq!(
        c.value("server1", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1")
    );
    for n in ["server1", "server2", "server3"] {
        c.assert_has_all(n, &acked).await;
    }
    // The old master, read-only and replicating from nobody, does not make the cluster look
    // like it has two masters: check_repl is OK and says what to do with it.
    let conf = c.state.app_config();
    let out = bed::run_mha(
        &bed::mha_bin(),
        &["check_repl", "--conf", conf.to_str().unwrap()],
    );
    let (text, _) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("read-only and replicating from nobody"),
        "{text}"
    );
    let current = format!(
        "127.0.0.1(127.0.0.1:{}) (current master)",
        c.node("server2").port
    );
    assert!(text.contains(&current), "{text}");
}

/// A session with READ ONLY ADMIN (the admin user: read_only does not stop it) holds an open
/// transaction on the old master while the switch runs without the global read lock. The
/// switch ends that session, so its COMMIT cannot land on the old master after the switch
/// (where no other server would ever have it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_ends_sessions_that_read_only_does_not_stop() {
    let c = Cluster::start(1, Mode::Gtid).await;
    c.create_acked_table().await;
    c.wait_acked_table("server2", T).await;
    let mut open = c.session("server1").await;
    open.exec("begin", "BEGIN").await.unwrap();
    open.exec("insert", "INSERT INTO mha_it.acked (id) VALUES (99)")
        .await
        .unwrap();
    let port2 = format!("--new_master_port={}", c.node("server2").port);
    let (code, out) = switch(
        &c,
        &[
            "--new_master_host=127.0.0.1",
            &port2,
            "--orig_master_is_new_slave",
            "--skip_lock_all_tables",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let committed = open.exec("commit", "COMMIT").await;
    assert!(
        committed.is_err(),
        "the old master acknowledged a commit after the switch"
    );
    let q = "SELECT COUNT(*) FROM mha_it.acked WHERE id = 99";
    assert_eq!(c.value("server1", q).await.as_deref(), Some("0"));
    assert_eq!(c.value("server2", q).await.as_deref(), Some("0"));
    c.wait_replicating_from("server1", "server2", T).await;
}

/// An update still running on the old master when the switch blocks writes (younger than
/// --running_updates_limit, so the checks let it pass): `SET GLOBAL read_only = 1` waits for
/// it, up to lock_wait_timeout (3 × the limit = 9 s). The client used to give up after its own
/// 5 s and roll back, while the server's statement went on and made the "rolled back" old
/// master read-only behind the report's back. Now the client waits as long as the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_update_on_the_old_master_does_not_outlast_the_client() {
    let c = Cluster::start(1, Mode::Gtid).await;
    c.create_acked_table().await;
    c.exec("server1", "INSERT INTO mha_it.acked VALUES (1)")
        .await;
    c.wait_value("server2", "SELECT COUNT(*) FROM mha_it.acked", "1", T)
        .await;
    let mut writer = c.session("server1").await;
    let update = tokio::spawn(async move {
        writer
            .exec_waiting(
                "slow update",
                "UPDATE mha_it.acked SET id = 2 + SLEEP(7) WHERE id = 1",
                Duration::from_secs(30),
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let port2 = format!("--new_master_port={}", c.node("server2").port);
    let (code, out) = switch(
        &c,
        &[
            "--new_master_host=127.0.0.1",
            &port2,
            "--orig_master_is_new_slave",
            "--running_updates_limit=3",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(update.await.unwrap().is_ok(), "the update finished first");
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        c.value("server2", "SELECT COUNT(*) FROM mha_it.acked WHERE id = 2")
            .await
            .as_deref(),
        Some("1"),
        "the update reached the new master"
    );
}

/// The answer to `SET GLOBAL read_only = 0` on the new master is lost: mha reaches server2
/// only through a proxy, which passes that statement on and, once the server has answered,
/// closes the connection instead of passing the answer back. The switch must not guess: it
/// reads read_only back on a new connection, finds that the statement took effect, and
/// completes. Exactly one server takes writes (server2), the VIP (the online change hook) is
/// on it, every replica and the old master replicate from it, no acknowledged row is lost.
/// Before the read-back, any error here meant "roll back", without read_only=1 on the new
/// master: a "rolled back" report with server1 AND server2 writable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_read_only_0_on_the_new_master_is_read_back_and_the_switch_completes() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    let proxy = Proxy::start(c.node("server2").port, "read_only=0", 1);
    c.set_config_port("server2", proxy.port);
    let (port1, via_proxy) = (c.node("server1").port, proxy.port);

    // The VIP, as a file holding the port of the server that has it: the stop hook takes it
    // off the old master (and fails if it is not there), the start hook puts it on the new one.
    let d = c.dir.path();
    std::fs::write(d.join("vip"), format!("{port1}\n")).unwrap();
    let hook = d.join("online_change.sh");
    std::fs::write(
        &hook,
        format!(
            r#"#!/bin/sh
for a in "$@"; do
  case "$a" in
    --command=*) cmd=${{a#*=}};;
    --orig_master_port=*) orig=${{a#*=}};;
    --new_master_port=*) new=${{a#*=}};;
  esac
done
echo "$cmd $orig $new" >> {d}/hook.log
case "$cmd" in
  stop) [ "$(cat {d}/vip)" = "$orig" ] && rm {d}/vip;;
  start) echo "$new" > {d}/vip;;
esac
"#,
            d = d.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    c.add_app_settings(&format!(
        "master_ip_online_change_script = \"{}\"\n",
        hook.display()
    ));
    let conf = c.state.app_config();

    let w = app_writer(&c, "server1").await;
    w.wait_acked(20, T).await;
    let out = bed::switch_alive_command(&conf, via_proxy)
        .args(["--orig_master_is_new_slave", "--output", "json"])
        .output()
        .unwrap();
    let acked = w.stop().await;
    let (json, log) = bed::text(&out);
    let all = format!("{json}\n{log}");
    let rec: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}:\n{all}"));

    // The fault happened: the server answered read_only=0 and mha never heard the answer.
    assert_eq!(proxy.cuts(), 1, "the proxy cut no answer:\n{all}");
    // One writable server, asked on the real ports, not through the proxy.
    let mut writable = Vec::new();
    for n in ["server1", "server2", "server3"] {
        let ro = c.value(n, "SELECT @@global.read_only").await;
        if ro.as_deref() == Some("0") {
            writable.push(n);
        }
    }
    assert_eq!(
        writable,
        ["server2"],
        "servers with read_only=0 after a switch reported as {} (exit {:?}, error {}):\n{all}",
        rec["outcome"],
        out.status.code(),
        rec["error"]
    );
    // The report tells the truth: completed, and why it went on after an error.
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert_eq!(rec["outcome"], "success", "{all}");
    assert!(rec["error"].is_null(), "{all}");
    let steps = rec["steps"].to_string();
    assert!(
        steps.contains("read_only=0 took effect although its answer was lost"),
        "{all}"
    );
    // The VIP went from the old master to the new one, once.
    let hooks = std::fs::read_to_string(d.join("hook.log")).unwrap();
    assert_eq!(
        hooks,
        format!("stop {port1} {via_proxy}\nstart {port1} {via_proxy}\n"),
        "{all}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("vip")).unwrap().trim(),
        via_proxy.to_string()
    );
    // Everything else replicates from the new master (through the proxy, as configured).
    for r in ["server1", "server3"] {
        c.wait_replicating_from_port(r, via_proxy, T).await;
    }
    c.exec("server2", "INSERT INTO mha_it.acked (id) VALUES (1000000)")
        .await;
    for r in ["server1", "server3"] {
        c.wait_value(
            r,
            "SELECT COUNT(*) FROM mha_it.acked WHERE id = 1000000",
            "1",
            T,
        )
        .await;
    }
    for n in ["server1", "server2", "server3"] {
        c.assert_has_all(n, &acked).await;
    }
}

/// MHA's t_online_filter: with --orig_master_is_new_slave, an old master configured with
/// replication filters the replicas do not have would, as a replica, silently skip writes.
/// Refused before anything changes (MHA refused too); without the option the switch goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_master_with_other_replication_filters_is_not_made_a_replica() {
    let c = Cluster::start(1, Mode::Gtid).await;
    c.create_acked_table().await;
    c.wait_acked_table("server2", T).await;
    c.exec("server1", "SET GLOBAL replicate_do_table = 'mha_it.acked'")
        .await;
    let port2 = format!("--new_master_port={}", c.node("server2").port);
    let (code, out) = switch(
        &c,
        &[
            "--new_master_host=127.0.0.1",
            &port2,
            "--orig_master_is_new_slave",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("has replication filters (replicate_do_table=mha_it.acked) that differ from the replicas' (none)"),
        "{out}"
    );
    // Nothing changed: server1 still takes writes, server2 still replicates from it.
    assert_eq!(
        c.value("server1", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    c.wait_replicating_from("server2", "server1", T).await;
    let (code, out) = switch(&c, &["--new_master_host=127.0.0.1", &port2]);
    assert_eq!(code, 0, "{out}");
}
