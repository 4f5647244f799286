//! `mha manager`, `check_status` and `stop` on a real cluster: detection of a crashed and a
//! frozen master, no false death when the master is busy or only the manager's ping fails,
//! one manager per application, every status the manager writes.

use std::time::Duration;

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon};

/// The sandbox's app1.toml plus `extra` application settings (from the original each time).
fn conf_with(c: &Cluster, extra: &str) -> std::path::PathBuf {
    let orig = c.dir.path().join("app1.toml.orig");
    if !orig.exists() {
        std::fs::copy(c.state.app_config(), &orig).unwrap();
    }
    let text = std::fs::read_to_string(&orig).unwrap();
    let text = text.replacen(
        "ping_interval = 1\n",
        &format!("ping_interval = 1\n{extra}"),
        1,
    );
    let p = c.dir.path().join("app1.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn manager(c: &Cluster, conf: &std::path::Path, extra: &[&str]) -> Daemon {
    let log = c
        .dir
        .path()
        .join(format!("manager-{}.log", std::process::id()));
    Daemon::manager(conf, extra, log, Duration::from_secs(20))
}

/// Replicas at the server's default heartbeat (30 s) and slave_net_timeout (60 s), a write
/// load, ping_interval=1: a crash is proven at once by the watch connection; a frozen master
/// is found after the ping window by the replicas' hosts, which cannot open its port either,
/// and is fenced (killed over SSH) before the promotion. No acknowledged write is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_then_freeze_fail_over_under_load_at_default_heartbeat() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let conf = c.state.app_config();
    let dir = c.dir.path();
    c.create_acked_table().await;
    c.wait_acked_table("server3", Duration::from_secs(10)).await;
    let m = manager(&c, &conf, &["--last_failover_minute=0"]);

    // kill -9 under load.
    let w = c.writer("server1");
    w.wait_acked(30, Duration::from_secs(30)).await;
    sandbox::fault(dir, "server1", Fault::Crash).await.unwrap();
    let fault_at = std::time::Instant::now();
    assert!(
        m.wait_for("Master is down!", Duration::from_secs(10)),
        "{}",
        m.output()
    );
    eprintln!("crash: decision after {:?}", fault_at.elapsed());
    assert!(
        m.wait_for("completed successfully", Duration::from_secs(20)),
        "{}",
        m.output()
    );
    eprintln!("crash: failover done after {:?}", fault_at.elapsed());
    let acked = w.stop().await;
    let out = m.output();
    assert!(out.contains("crashed!"), "the fast path proved it:\n{out}");
    assert!(
        !out.contains("Connection failed 4 time(s).."),
        "no waiting for the ping window after a proven crash:\n{out}"
    );
    assert!(out.contains("IO thread Connecting"), "{out}");
    c.wait_replicating_from("server3", "server2", Duration::from_secs(30))
        .await;
    c.assert_has_all("server2", &acked).await;
    c.assert_has_all("server3", &acked).await;

    // SIGSTOP of the new master under load: its port stays open, the replica's IO thread
    // still says Yes and no heartbeat is due for 30 s.
    assert!(
        m.wait_for_nth(
            "waiting until MySQL doesn't respond",
            2,
            Duration::from_secs(15)
        )
        .await,
        "not monitoring the new master:\n{}",
        m.output()
    );
    let w = c.writer("server2");
    w.wait_acked(30, Duration::from_secs(30)).await;
    let before = m.output().matches("completed successfully").count();
    sandbox::fault(dir, "server2", Fault::Freeze).await.unwrap();
    let fault_at = std::time::Instant::now();
    assert!(
        m.wait_for_nth(
            "completed successfully",
            before + 1,
            Duration::from_secs(30)
        )
        .await,
        "no failover of a frozen master:\n{}",
        m.output()
    );
    eprintln!("freeze: failover done after {:?}", fault_at.elapsed());
    let acked2 = w.stop().await;
    let out = m.output();
    assert!(out.contains("'s host the master does not answer"), "{out}");
    assert!(out.contains("Fenced 127.0.0.1(127.0.0.1:"), "{out}");
    // The frozen server was killed, not left to thaw: it can acknowledge nothing more.
    let port = c.node("server2").port;
    let t = mha::sql::Target {
        port,
        ..c.state.admin_target(c.node("server2")).unwrap()
    };
    assert!(
        matches!(
            mha::sql::connect(&t, Duration::from_secs(2)).await,
            Err(mha::sql::DbError::Refused { .. })
        ),
        "the fenced master still listens"
    );
    assert_eq!(
        c.value("server3", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    c.assert_has_all("server3", &acked).await;
    c.assert_has_all("server3", &acked2).await;
}

/// A clean restart within the ping window is no crash; SIGTERM while the death is being
/// confirmed ends the manager within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_restart_is_no_failover_and_sigterm_while_confirming() {
    let c = Cluster::start(1, Mode::Gtid).await;
    let dir = c.dir.path();
    // ping_failures = 8: the sandbox's restart (shutdown, then start) fits in the window.
    let conf = conf_with(&c, "ping_failures = 8\n");
    let m = manager(&c, &conf, &[]);
    sandbox::fault(dir, "server1", Fault::Stop).await.unwrap();
    sandbox::fault(dir, "server1", Fault::Start).await.unwrap();
    let s = bed::wait_status(&conf, 0, Duration::from_secs(15));
    assert!(s.contains("(0:PING_OK)"), "{s}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let out = m.output();
    assert!(!out.contains("Master is down!"), "{out}");
    // How the restart shows depends on timing: the shutdown notice on the watch connection,
    // or (notice missed under load) a closed watch while mysqld still runs. Either way the
    // pings decide, and they recover.
    assert!(
        out.contains("a clean shutdown, not a crash")
            || out.contains("announced the end of the watch connection")
            || out.contains("Not a proven crash (mysqld (pid"),
        "{out}"
    );
    drop(m);

    // Confirmation that takes long (a secondary check that hangs): SIGTERM still ends it.
    let conf = conf_with(&c, "secondary_check_script = \"sleep 60\"\n");
    let mut m = manager(&c, &conf, &[]);
    c.wait_replicating_from("server2", "server1", Duration::from_secs(20))
        .await;
    sandbox::fault(dir, "server1", Fault::Freeze).await.unwrap();
    assert!(
        m.wait_for(
            "Master is not reachable from health checker!",
            Duration::from_secs(15)
        ),
        "{}",
        m.output()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(m.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let asked = std::time::Instant::now();
    let code = m.wait_exit(Duration::from_secs(5));
    let took = asked.elapsed();
    sandbox::fault(dir, "server1", Fault::Resume).await.unwrap();
    assert_eq!(code, Some(0), "{}", m.output());
    assert!(took < Duration::from_secs(1), "SIGTERM took {took:?}");
    assert!(!m.output().contains("Master is down!"), "{}", m.output());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_false_death_busy_master_or_manager_only_failure() {
    let c = Cluster::start(2, Mode::Gtid).await;
    // ping_type=INSERT: a master whose writes block (a global read lock held by a session)
    // fails the manager's pings, but the replicas still receive from it, so it must not be
    // declared dead.
    let conf = conf_with(&c, "ping_type = \"INSERT\"\n");
    let m = manager(&c, &conf, &[]);
    let mut lock = c.session("server1").await;
    lock.exec("take a global read lock", "FLUSH TABLES WITH READ LOCK")
        .await
        .unwrap();
    assert!(
        m.wait_for("Connection failed 4 time(s)..", Duration::from_secs(15)),
        "{}",
        m.output()
    );
    assert!(
        m.wait_for(
            "is not declared dead: the master is reachable from another host: from 127.0.0.1(127.0.0.1:",
            Duration::from_secs(10)
        ),
        "{}",
        m.output()
    );
    // The replicas' hosts logged in (a bare TCP probe would count against max_connect_errors).
    assert!(
        m.output()
            .contains("the server sent its handshake and the manager's user logged in"),
        "{}",
        m.output()
    );
    let s = bed::wait_status(&conf, 30, Duration::from_secs(5));
    assert_eq!(
        s,
        "app1 monitoring waits for retrying to monitor master again(30:RETRYING_MONITOR). Wait for a while and try checking again."
    );
    lock.exec("release the global read lock", "UNLOCK TABLES")
        .await
        .unwrap();
    bed::wait_status(&conf, 0, Duration::from_secs(10));

    // SIGHUP reloads the configuration and monitoring goes on.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(m.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    assert!(
        m.wait_for("configuration reloaded from", Duration::from_secs(5)),
        "{}",
        m.output()
    );
    assert_eq!(bed::check_status(&conf, &[]).0, 0);

    // stop: graceful, status file removed.
    let out = bed::run_mha(&bed::mha_bin(), &["stop", "--conf", conf.to_str().unwrap()]);
    assert_eq!(bed::text(&out).0.trim(), "Stopped app1 successfully.");
    assert_eq!(bed::check_status(&conf, &[]).0, 2);
    drop(m);
    let out = bed::run_mha(&bed::mha_bin(), &["stop", "--conf", conf.to_str().unwrap()]);
    assert_eq!(
        (out.status.code(), bed::text(&out).0.trim()),
        (
            Some(0),
            "MHA Manager is not running on app1(2:NOT_RUNNING)."
        )
    );

    // "Too many connections" is an alive master: never counted (ping_type=CONNECT so each
    // ping needs a new connection).
    let conf = conf_with(&c, "ping_type = \"CONNECT\"\n");
    let m = manager(&c, &conf, &[]);
    c.exec("server1", "CREATE USER 'filler'@'%' IDENTIFIED BY 'x'")
        .await;
    // MariaDB's minimum is 10, plus one extra slot for SUPER users like mha: fill them all.
    c.exec("server1", "SET GLOBAL max_connections = 10").await;
    let mut held = Vec::new();
    let port = c.node("server1").port;
    let admin = c.state.admin_target(c.node("server1")).unwrap().password;
    let mha_target = mha::sql::Target {
        host: "127.0.0.1".into(),
        port,
        user: "mha".into(),
        password: admin.clone(),
        socket: None,
    };
    for (user, password) in [("filler", mha::secret::Secret::new("x")), ("mha", admin)] {
        let t = mha::sql::Target {
            host: "127.0.0.1".into(),
            port,
            user: user.into(),
            password,
            socket: None,
        };
        for _ in 0..20 {
            match mha::sql::connect(&t, Duration::from_secs(2)).await {
                Ok(s) => held.push(s),
                Err(e) => {
                    assert_eq!(e.server_code(), Some(1040), "{e}");
                    break;
                }
            }
        }
    }
    // A ping in flight while the slots were taken frees its slot afterwards: take it too.
    let start = std::time::Instant::now();
    while !m
        .output()
        .contains("Got MySQL error 1040, but this is not a MySQL crash")
    {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", m.output());
        if let Ok(s) = mha::sql::connect(&mha_target, Duration::from_secs(2)).await {
            held.push(s);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!m.output().contains("Connection failed"), "{}", m.output());
    assert_eq!(bed::check_status(&conf, &[]).0, 0);
    // Restore the limit on a session we already hold: freed slots are not reusable until the
    // server has processed the disconnects, so a new connection could still get 1040.
    held.last_mut()
        .expect("at least one held session")
        .exec(
            "restore max_connections",
            "SET GLOBAL max_connections = 100",
        )
        .await
        .unwrap();
    for s in held {
        s.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_manager_per_app_and_every_reachable_status() {
    let c = Cluster::start(1, Mode::FilePos).await;
    let conf = c.state.app_config();
    let conf_s = conf.to_str().unwrap();

    // CONFIG_ERROR (31) while --wait_on_monitor_error holds it: a broken replica.
    c.exec("server2", "STOP SLAVE IO_THREAD").await;
    let mut bad = Daemon::start(
        &["manager", "--conf", conf_s, "--wait_on_monitor_error=4"],
        c.dir.path().join("bad.log"),
    );
    let s = bed::wait_status(&conf, 31, Duration::from_secs(10));
    assert_eq!(
        s,
        "app1 servers are not correctly configured(31:CONFIG_ERROR)."
    );
    assert_eq!(bad.wait_exit(Duration::from_secs(15)), Some(1));
    assert!(
        bad.output().contains("Slave IO thread is not running"),
        "{}",
        bad.output()
    );
    c.exec("server2", "START SLAVE IO_THREAD").await;

    // PING_OK (0), and a second manager is refused. Logs as JSON lines on request.
    let m = manager(&c, &conf, &["--log-format", "json"]);
    for line in m.output().lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
    }
    let (code, out) = bed::check_status(&conf, &[]);
    assert_eq!(
        (code, out),
        (
            0,
            format!(
                "app1 (pid:{}) is running(0:PING_OK), master:127.0.0.1",
                m.pid()
            )
        )
    );
    let second = bed::run_mha(&bed::mha_bin(), &["manager", "--conf", conf_s]);
    assert_eq!(second.status.code(), Some(1));
    assert!(bed::text(&second).1.contains(&format!(
        "another manager (pid {}) already runs for this application",
        m.pid()
    )));
    // --app with --manager_workdir reads the same status; JSON too.
    let workdir = c.dir.path().join("manager");
    let out = bed::run_mha(
        &bed::mha_bin(),
        &[
            "check_status",
            "--app",
            "app1",
            "--manager_workdir",
            workdir.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["status"].as_str(), doc["code"].as_u64()),
        (Some("PING_OK"), Some(0))
    );

    // TIMESTAMP_OLD (32): a hung manager stops refreshing its status file.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(m.pid() as i32),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (code, out) = bed::check_status(&conf, &["--ping_limit=1"]);
    assert_eq!(code, 32, "{out}");
    // MHA's `behinds` line, then its status line.
    let (behinds, line) = out.split_once('\n').unwrap();
    assert!(
        behinds.contains("app1.master_status.health behinds ") && behinds.ends_with(" seconds!"),
        "{out}"
    );
    assert_eq!(
        line,
        "app1 is running, but master_ping.health is too old(32:TIMESTAMP_OLD). Maybe process hangs? master:127.0.0.1"
    );
    // kill -9: the status file stays behind; check_status sees the pid is gone.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(m.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    drop(m);
    let out = bed::run_mha(&bed::mha_bin(), &["check_status", "--conf", conf_s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        bed::text(&out)
            .1
            .contains("no longer running (killed with -9?)"),
        "{}",
        bed::text(&out).1
    );
    // A new manager starts over the stale file, with MHA's warning.
    let m = manager(&c, &conf, &[]);
    assert!(
        m.output()
            .contains("You might have killed manager with SIGKILL(-9)"),
        "{}",
        m.output()
    );
}

/// The marker of the deposed master `node` in the manager's workdir, once it exists.
fn deposed_marker(c: &Cluster, node: &str) -> Option<serde_json::Value> {
    let n = c.node(node);
    let path = c
        .dir
        .path()
        .join("manager")
        .join(format!("app1.deposed.{}_{}.json", n.host, n.port));
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Wait until `node` says read_only=1; a look that fails (the watch kills client sessions,
/// ours included) is only a look. How long it took.
async fn wait_read_only(c: &Cluster, node: &str, within: Duration) -> Duration {
    let t = c.state.admin_target(c.node(node)).unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Ok(mut s) = mha::sql::connect(&t, Duration::from_secs(1)).await {
            let v = s
                .row_map("read_only", "SELECT @@global.read_only AS ro")
                .await;
            s.disconnect().await;
            if let Ok(Some(r)) = v
                && r.get("ro").cloned().flatten().as_deref() == Some("1")
            {
                return start.elapsed();
            }
        }
        assert!(
            start.elapsed() < within,
            "{node} still writable after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No two writable masters after a restart by a supervisor: a crashed master that comes back
/// (with the read_only=OFF of its own my.cnf) is made read-only within a ping or two, its
/// client sessions are killed, and what it has that the new master lacks is recorded. Each
/// return is handled (a second restart after a SUPER user wrote on it records an errant
/// GTID); removing the marker ends the watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_two_writable_masters_after_a_restart_by_a_supervisor() {
    const T: Duration = Duration::from_secs(30);
    let c = Cluster::start(2, Mode::Gtid).await;
    let conf = c.state.app_config();
    let dir = c.dir.path();
    c.create_acked_table().await;
    // An application user without SUPER (the admin user's SUPER bypasses read_only on
    // MariaDB), made on the master so that every server has it.
    c.exec("server1", "CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'")
        .await;
    c.exec("server1", "GRANT SELECT, INSERT ON mha_it.* TO 'app'@'%'")
        .await;
    c.wait_value(
        "server3",
        "SELECT COUNT(*) FROM mysql.user WHERE User = 'app'",
        "1",
        T,
    )
    .await;
    c.wait_acked_table("server3", T).await;
    let app = |node: &str| mha::sql::Target {
        user: "app".into(),
        password: mha::secret::Secret::new("app-pw"),
        ..c.state.admin_target(c.node(node)).unwrap()
    };
    let insert_as_app = |node: &'static str, id: u64| {
        let t = app(node);
        async move {
            let mut s = mha::sql::connect(&t, Duration::from_secs(5)).await?;
            let r = s
                .exec(
                    "insert as app",
                    &format!("INSERT INTO mha_it.acked (id) VALUES ({id})"),
                )
                .await;
            s.disconnect().await;
            r
        }
    };
    insert_as_app("server1", 1_000_000).await.unwrap();
    let m = manager(&c, &conf, &[]);

    let w = c.writer("server1");
    w.wait_acked(30, T).await;
    sandbox::fault(dir, "server1", Fault::Crash).await.unwrap();
    assert!(m.wait_for("monitoring the new master", T), "{}", m.output());
    // Stop the writer before the restart: it writes as the admin user, whom read_only
    // would not stop.
    let acked = w.stop().await;
    c.assert_has_all("server2", &acked).await;
    let marker = deposed_marker(&c, "server1").expect("marker written at failover time");
    assert_eq!(marker["state"], "watching", "{marker}");
    assert_eq!(marker["returns"], 0, "{marker}");

    // A supervisor restarts it: it comes back writable (no read-only line in its my.cnf).
    // ping_interval = 1 s: a look within 1 s, a fence within 2 × ping_interval + a margin.
    sandbox::fault(dir, "server1", Fault::Start).await.unwrap();
    let took = wait_read_only(&c, "server1", Duration::from_secs(3)).await;
    eprintln!("read_only=1 on the restarted master {took:?} after it was ready");
    let err = insert_as_app("server1", 1_000_001)
        .await
        .expect_err("the deposed master accepts writes");
    assert_eq!(err.server_code(), Some(1290), "{err}");
    insert_as_app("server2", 1_000_002).await.unwrap();
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    let start = std::time::Instant::now();
    let marker = loop {
        let m = deposed_marker(&c, "server1");
        if let Some(m) = m.filter(|m| m["returns"] == 1) {
            break m;
        }
        assert!(start.elapsed() < T, "no return recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(marker["errant"], "none", "{marker}");
    assert_eq!(marker["read_only_set"], true, "{marker}");
    assert_eq!(marker["state"], "watching", "{marker}");
    let out = m.output();
    assert!(
        out.contains("is back (it answers again): made read-only"),
        "{out}"
    );

    // A SUPER user writes on it anyway; it is restarted again: the second return is fenced
    // too, and the transaction only it has is recorded.
    c.exec("server1", "INSERT INTO mha_it.acked (id) VALUES (2000000)")
        .await;
    sandbox::fault(dir, "server1", Fault::Stop).await.unwrap();
    sandbox::fault(dir, "server1", Fault::Start).await.unwrap();
    wait_read_only(&c, "server1", Duration::from_secs(3)).await;
    let start = std::time::Instant::now();
    let marker = loop {
        if let Some(m) = deposed_marker(&c, "server1").filter(|m| m["returns"] == 2) {
            break m;
        }
        assert!(start.elapsed() < T, "no second return recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let errant = marker["errant"].as_str().unwrap_or_default().to_string();
    assert!(errant.starts_with("0-1-"), "{marker}");
    assert!(m.output().contains("(errant): 0-1-"), "{}", m.output());
    assert_eq!(
        c.value(
            "server2",
            "SELECT COUNT(*) FROM mha_it.acked WHERE id = 2000000"
        )
        .await
        .as_deref(),
        Some("0")
    );

    // The operator takes over: removing the marker ends the watch.
    let n = c.node("server1");
    std::fs::remove_file(
        dir.join("manager")
            .join(format!("app1.deposed.{}_{}.json", n.host, n.port)),
    )
    .unwrap();
    assert!(
        m.wait_for(
            "its marker file was removed by an operator",
            Duration::from_secs(5)
        ),
        "{}",
        m.output()
    );
}
