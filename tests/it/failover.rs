//! The failover engine on real servers under a write load that records every acknowledged
//! commit: no acknowledged commit is lost, every replica ends on the new master.

use std::time::Duration;

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon, Writer, switch_dead_json};

const T: Duration = Duration::from_secs(30);

fn conf_with(c: &Cluster, server_extra: &[(&str, &str)], app_extra: &str) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(c.state.app_config()).unwrap();
    text = text.replacen(
        "ping_interval = 1\n",
        &format!("ping_interval = 1\n{app_extra}"),
        1,
    );
    for (block, line) in server_extra {
        text = text.replacen(&format!("[{block}]\n"), &format!("[{block}]\n{line}\n"), 1);
    }
    let p = c.dir.path().join("app1.toml");
    std::fs::write(&p, text).unwrap();
    p
}

async fn write_then_crash(c: &Cluster, node: &str) -> Vec<u64> {
    let w = Writer::start(c.state.admin_target(c.node(node)).unwrap());
    w.wait_acked(50, T).await;
    sandbox::fault(c.dir.path(), node, Fault::Crash)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // wait_acked made sure the load was not trivially light.
    w.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_fails_over_gtid_under_load_then_blocks_a_second_failover() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    let conf = c.state.app_config();
    let mut m = Daemon::manager(&conf, &[], c.dir.path().join("manager.log"), T);

    let acked = write_then_crash(&c, "server1").await;
    assert!(m.wait_for("completed successfully", T), "{}", m.output());
    let out = m.output();
    for phase in [
        "Phase 1: Configuration Check",
        "Phase 2: Dead Master Shutdown",
        "Phase 3.2: Saving Dead Master's Binlog",
        "Phase 4: Slaves Recovery",
        "Phase 5: New master cleanup",
    ] {
        assert!(out.contains(phase), "{phase} missing:\n{out}");
    }
    // server2 is candidate_master=1: it is the new master, writable, server3 replicates from it.
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    let st = c.wait_replicating_from("server3", "server2", T).await;
    assert_eq!(st["Using_Gtid"].as_deref(), Some("Slave_Pos"));
    c.exec("server2", "INSERT INTO mha_it.acked (id) VALUES (1000000)")
        .await;
    c.wait_value(
        "server3",
        "SELECT COUNT(*) FROM mha_it.acked WHERE id = 1000000",
        "1",
        T,
    )
    .await;
    for node in ["server2", "server3"] {
        c.assert_has_all(node, &acked).await;
    }
    // The record and the marker are in the workdir; the manager monitors the new master.
    let workdir = c.dir.path().join("manager");
    assert!(workdir.join("app1.failover.complete").exists());
    let record = std::fs::read_dir(&workdir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("app1.failover.1"))
        .expect("failover record");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    assert_eq!(rec["outcome"], "success");
    assert!(rec["phases"].as_array().unwrap().len() >= 6);
    let s = bed::wait_manager_status(&conf, 0, T, &m);
    assert!(s.ends_with("master:127.0.0.1"), "{s}");
    assert!(m.wait_for(
        &format!(
            "monitoring the new master 127.0.0.1(127.0.0.1:{})",
            c.node("server2").port
        ),
        T
    ));

    // A second death inside the block period: refused until acknowledged.
    let acked2 = write_then_crash(&c, "server2").await;
    assert!(
        m.wait_for("Automatic failover refused: Last failover was done at", T),
        "{}",
        m.output()
    );
    let (code, text) = bed::check_status(&conf, &[]);
    assert_eq!(code, 51, "{text}");
    assert_eq!(
        c.slave_status("server3").await["Master_Port"].as_deref(),
        Some(c.node("server2").port.to_string().as_str()),
        "nothing changed while refused"
    );
    std::fs::remove_file(workdir.join("app1.failover.complete")).unwrap();
    assert!(
        m.wait_for(
            &format!(
                "Master failover to 127.0.0.1(127.0.0.1:{}) completed successfully",
                c.node("server3").port
            ),
            T
        ),
        "{}",
        m.output()
    );
    assert_eq!(
        c.value("server3", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    c.assert_has_all("server3", &acked).await;
    c.assert_has_all("server3", &acked2).await;
    assert_eq!(
        m.wait_exit(Duration::from_millis(10)),
        None,
        "the manager keeps running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_switch_dead_file_pos_repairs_a_lagging_replica() {
    let c = Cluster::start(2, Mode::FilePos).await;
    c.create_acked_table().await;
    let conf = c.state.app_config();
    let conf_s = conf.to_str().unwrap();
    // server3 stops receiving for a while: it will be far behind when the master dies.
    c.wait_acked_table("server3", T).await;
    c.exec("server3", "STOP SLAVE IO_THREAD").await;
    let acked = write_then_crash(&c, "server1").await;
    c.exec("server3", "START SLAVE IO_THREAD").await; // the master is gone: nothing arrives

    // --dry-run first: a plan, and nothing changes.
    let port1 = c.node("server1").port.to_string();
    let out = bed::run_mha(
        &bed::mha_bin(),
        &[
            "master_switch",
            "--master_state=dead",
            "--conf",
            conf_s,
            "--dead_master_host=127.0.0.1",
            &format!("--dead_master_port={port1}"),
            "--interactive=0",
            "--dry-run",
        ],
    );
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    assert!(text.contains("Dry run: nothing was changed."), "{text}");
    assert!(text.contains("Phase 3.3: promote server2"), "{text}");
    assert_eq!(
        c.slave_status("server2").await["Slave_IO_Running"].as_deref(),
        Some("Connecting"),
        "dry run touched replication"
    );

    // Forced: the lagging server3 (not the candidate) becomes the new master. It first
    // catches up with the latest replica (server2), then server2 follows it.
    let port3 = c.node("server3").port.to_string();
    let (code, rec, text) = switch_dead_json(
        &conf,
        &c,
        &[
            "--new_master_host=127.0.0.1",
            &format!("--new_master_port={port3}"),
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert_eq!(rec["mode"], "file-pos");
    assert!(
        rec["new_master"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{port3})")),
        "{text}"
    );
    // What server3 lacked came from the latest replica, and the report says so.
    let from_latest = rec["recovered"].as_array().unwrap().iter().any(|r| {
        r["from"].as_str().unwrap().starts_with("latest replica")
            && r["gtids"].as_str().unwrap().starts_with("0-1-")
    });
    assert!(from_latest, "{text}");
    for node in ["server2", "server3"] {
        c.assert_has_all(node, &acked).await;
    }
    let st = c.wait_replicating_from("server2", "server3", T).await;
    assert_eq!(
        st["Using_Gtid"].as_deref(),
        Some("No"),
        "file/position mode stays file/position"
    );
    assert_eq!(
        c.value("server3", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    c.exec("server3", "INSERT INTO mha_it.acked (id) VALUES (1000000)")
        .await;
    c.wait_value(
        "server2",
        "SELECT COUNT(*) FROM mha_it.acked WHERE id = 1000000",
        "1",
        T,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_candidates_and_forced_choice() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    let hook = c.dir.path().join("ip_failover.sh");
    let calls = c.dir.path().join("hook-calls.log");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$@ pw=${{MHA_NEW_MASTER_PASSWORD:+set}}\" >> {}\ncase \"$*\" in *--command=stop*) [ -f {}/allow-stop ] || exit 1;; esac\nexit 0\n",
            calls.display(),
            c.dir.path().display()
        ),
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&hook).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // server2 (candidate_master=1) is also no_master=1: never promoted.
    let conf = conf_with(
        &c,
        &[("server2", "no_master = 1")],
        &format!("master_ip_failover_script = \"{}\"\n", hook.display()),
    );
    let conf_s = conf.to_str().unwrap();
    let acked = write_then_crash(&c, "server1").await;
    let port1 = c.node("server1").port.to_string();
    let args = |extra: &[&str]| {
        let mut v = vec![
            "master_switch",
            "--master_state=dead",
            "--conf",
            conf_s,
            "--dead_master_host=127.0.0.1",
            "--interactive=0",
        ];
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        bed::run_mha(&bed::mha_bin(), &a)
    };
    let dm = format!("--dead_master_port={port1}");

    // 1. A failing stop hook aborts the failover.
    let out = run(args(&[&dm]));
    let (text, _) = bed::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "master_ip_failover_script --command=stopssh failed (exit code 1); failover aborted"
        ),
        "{text}"
    );
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1"),
        "nobody was promoted"
    );
    // ... and leaves the error flag: the next attempt is refused until acknowledged.
    let out = run(args(&[&dm]));
    assert!(
        bed::text(&out)
            .0
            .contains("This means the last failover failed"),
        "{}",
        bed::text(&out).0
    );

    // 2. --new_master_host naming a no_master server is refused with the reason.
    std::fs::write(c.dir.path().join("allow-stop"), "").unwrap();
    let port2 = c.node("server2").port.to_string();
    let out = run(args(&[
        &dm,
        "--ignore_last_failover",
        "--new_master_host=127.0.0.1",
        &format!("--new_master_port={port2}"),
    ]));
    let (text, _) = bed::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("server2 is bad as a new master!") && text.contains("no_master=1"),
        "{text}"
    );

    // 3. Without a forced choice: server3 (server2 is no_master), hooks called with MHA's args.
    let out = run(args(&[&dm, "--ignore_last_failover"]));
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    assert!(
        text.contains(&format!(
            "Master failover to 127.0.0.1(127.0.0.1:{}) completed successfully",
            c.node("server3").port
        )),
        "{text}"
    );
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert!(
        calls.contains("--command=stopssh --ssh_user=")
            && calls.contains(&format!("--orig_master_port={port1}")),
        "{calls}"
    );
    assert!(
        calls.contains("--command=start")
            && calls.contains("--new_master_user=mha")
            && calls.contains("pw=set"),
        "{calls}"
    );
    assert!(
        !calls.contains(
            &std::fs::read_to_string(c.dir.path().join("secrets/mha.password"))
                .unwrap()
                .trim()
                .to_string()
        ),
        "password on a hook command line"
    );
    for node in ["server2", "server3"] {
        c.assert_has_all(node, &acked).await;
    }
    c.wait_replicating_from("server2", "server3", T).await;
}

use crate::bed::script;

/// The statuses a manager holds only for a moment, made long by slow hooks:
/// INITIALIZING_MONITOR, PARTIALLY_RUNNING (the manager killed while a hook runs), PING_FAILED,
/// FAILOVER_RUNNING. A SIGTERM during the failover is honoured once the failover has finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_statuses_and_a_stop_during_failover() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let dir = c.dir.path();
    let slow = dir.join("slow-status");
    let stopping = dir.join("stop-hook-running");
    let wait_file = |f: &std::path::Path| {
        let start = std::time::Instant::now();
        while !f.exists() {
            assert!(start.elapsed() < T, "{} never appeared", f.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let hook = dir.join("ip_failover.sh");
    script(
        &hook,
        &format!(
            "case \"$*\" in\n*--command=status*) [ -f {0} ] && touch {0}.running && exec sleep 60;;\n*--command=stop*) touch {1}; sleep 4;;\nesac\nexit 0\n",
            slow.display(),
            stopping.display()
        ),
    );
    let secondary = dir.join("secondary.sh");
    script(&secondary, "sleep 3\nexit 0\n");
    let conf = conf_with(
        &c,
        &[],
        &format!(
            // MHA's ping counting (the crash fast path would skip PING_FAILED).
            "master_ip_failover_script = \"{}\"\nsecondary_check_script = \"{}\"\nfast_crash_detection = 0\n",
            hook.display(),
            secondary.display()
        ),
    );
    let conf_s = conf.to_str().unwrap();

    // INITIALIZING_MONITOR while the start-up checks wait for the status hook.
    std::fs::write(&slow, "").unwrap();
    let mut m = Daemon::start(&["manager", "--conf", conf_s], dir.join("manager-1.log"));
    assert_eq!(
        bed::wait_manager_status(&conf, 10, T, &m),
        "app1 monitoring program is now on initialization phase(10:INITIALIZING_MONITOR). Wait for a while and try checking again."
    );
    // PARTIALLY_RUNNING: the manager is killed, its hook goes on.
    wait_file(&dir.join("slow-status.running"));
    let manager_pid = m.pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(manager_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    m.wait_exit(T);
    let out = bed::run_mha(
        &bed::mha_bin(),
        &["check_status", "--conf", conf_s, "--output", "json"],
    );
    let (text, _) = bed::text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["status"], "PARTIALLY_RUNNING", "{text}");
    let children: Vec<u32> = doc["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u32)
        .collect();
    assert!(!children.is_empty(), "{text}");
    for pid in &children {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(
            cmdline.contains("sleep") || cmdline.contains("ip_failover.sh"),
            "{pid} is not the hook: {cmdline:?}"
        );
    }
    // `stop` names them and kills them only with --abort.
    let out = bed::run_mha(&bed::mha_bin(), &["stop", "--conf", conf_s]);
    let (text, _) = bed::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(
            "Main process is not running, but child process is running on app1 (child pid: "
        ),
        "{text}"
    );
    let out = bed::run_mha(&bed::mha_bin(), &["stop", "--conf", conf_s, "--abort"]);
    let (text, _) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Killed what the dead manager of app1 left running"),
        "{text}"
    );
    let start = std::time::Instant::now();
    while children.iter().any(|&p| mha::status::pid_alive(p)) {
        assert!(start.elapsed() < T, "the hook survived stop --abort");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, text) = bed::check_status(&conf, &[]);
    assert_eq!(
        (code, text.as_str()),
        (2, "app1 is stopped(2:NOT_RUNNING).")
    );

    // PING_FAILED while the secondary check runs, FAILOVER_RUNNING while the stop hook runs.
    std::fs::remove_file(&slow).unwrap();
    let mut m = Daemon::manager(&conf, &[], dir.join("manager-2.log"), T);
    sandbox::fault(dir, "server1", Fault::Crash).await.unwrap();
    assert_eq!(
        bed::wait_manager_status(&conf, 21, T, &m),
        "app1 master maybe down(21:PING_FAILED). master:127.0.0.1"
    );
    assert_eq!(
        bed::wait_manager_status(&conf, 50, T, &m),
        "app1 master is down and failover is running(50:FAILOVER_RUNNING). master:127.0.0.1"
    );
    // With the manager's log known (manager_log, here --manager_log), MHA points at it.
    assert_eq!(
        bed::check_status(&conf, &["--manager_log=/var/log/masterha/app1.log"]),
        (
            50,
            "app1 master is down and failover is running(50:FAILOVER_RUNNING). master:127.0.0.1\nCheck /var/log/masterha/app1.log for details.".to_string()
        )
    );
    let out = bed::run_mha(&bed::mha_bin(), &["stop", "--conf", conf_s]);
    assert_eq!(
        (out.status.code(), bed::text(&out).0.trim()),
        (
            Some(1),
            "Currently Failover is running on app1. Should not stop."
        )
    );
    // A second failover by hand is refused while this one runs, even with
    // --ignore_last_failover.
    wait_file(&stopping);
    let port1 = c.node("server1").port.to_string();
    let dead = |port: &str| {
        vec![
            "master_switch".to_string(),
            "--master_state=dead".into(),
            "--conf".into(),
            conf_s.into(),
            "--dead_master_host=127.0.0.1".into(),
            format!("--dead_master_port={port}"),
            "--interactive=0".into(),
        ]
    };
    let mut args = dead(&port1);
    args.push("--ignore_last_failover".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bed::run_mha(&bed::mha_bin(), &args);
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{err}");
    assert!(
        text.contains(&format!(
            "A failover of this application is running (pid {}",
            m.pid()
        )),
        "{text}\n{err}"
    );
    // systemd's stop: SIGTERM. The failover still completes, then the manager exits.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(m.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(m.wait_exit(T), Some(0), "{}", m.output());
    let out = m.output();
    assert!(
        out.contains(
            "Got terminate signal during the failover: the manager stops once it has finished."
        ) && out.contains("completed successfully")
            && out.contains("Stopping now, as requested during the failover."),
        "{out}"
    );
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0"),
        "{out}"
    );
    c.wait_replicating_from("server3", "server2", T).await;
    let (code, text) = bed::check_status(&conf, &[]);
    assert_eq!(
        (code, text.as_str()),
        (2, "app1 is stopped(2:NOT_RUNNING).")
    );

    // A failover killed half way (here during phase 2's stop hook) leaves its flag: the next
    // one is refused until an operator has looked. (The dead server1 leaves the configuration
    // first, as a DBA would do.)
    let out = bed::run_mha(
        &bed::mha_bin(),
        &[
            "conf_host",
            "--command=delete",
            "--conf",
            conf_s,
            "--block=server1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", bed::text(&out));
    std::fs::remove_file(&stopping).unwrap();
    sandbox::fault(dir, "server2", Fault::Crash).await.unwrap();
    let port2 = c.node("server2").port.to_string();
    let mut args = dead(&port2);
    args.push("--ignore_last_failover".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut killed = Daemon::start(&args, dir.join("killed-switch.log"));
    let start = std::time::Instant::now();
    while !stopping.exists() {
        assert!(
            start.elapsed() < T && killed.running(),
            "the stop hook never ran:\n{}",
            killed.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed_pid = killed.pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(killed_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    killed.wait_exit(T);
    let args = dead(&port2);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bed::run_mha(&bed::mha_bin(), &args);
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{err}");
    assert!(
        text.contains(&format!(
            "the failover run by pid {killed_pid} was interrupted (that process is gone)"
        )),
        "{text}\n{err}"
    );
    assert_eq!(
        c.value("server3", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1"),
        "nothing promoted"
    );
}

/// A `mariadb-binlog --read-from-remote-server --raw --stop-never` process: a binlog server
/// for `[binlog1]`, stopped by pid on drop.
struct BinlogServer(std::process::Child);

impl Drop for BinlogServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every replica stopped receiving before the master died (their IO threads were stopped) and
/// the master's host is gone from SSH: what the master acknowledged after that exists only on
/// a binlog server, and the failover takes it from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binlog_server_supplies_what_no_replica_received() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    for r in ["server2", "server3"] {
        c.wait_acked_table(r, T).await;
    }
    let dir = c.dir.path();
    let store = dir.join("binlogsrv");
    std::fs::create_dir(&store).unwrap();
    let admin = c.state.admin_target(c.node("server1")).unwrap();
    let cnf = dir.join("binlogsrv.cnf");
    std::fs::write(
        &cnf,
        format!(
            "[client]\nuser={}\npassword={}\n",
            admin.user,
            admin.password.expose()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cnf, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let first = c.rows("server1", "SHOW BINARY LOGS").await[0]["Log_name"]
        .clone()
        .unwrap();
    let log = std::fs::File::create(dir.join("binlogsrv.log")).unwrap();
    let _binlog_server = BinlogServer(
        std::process::Command::new("mariadb-binlog")
            .arg(format!("--defaults-extra-file={}", cnf.display()))
            .args([
                "--read-from-remote-server",
                "--raw",
                "--stop-never",
                "--stop-never-slave-server-id=99",
                "--host=127.0.0.1",
            ])
            .arg(format!("--port={}", c.node("server1").port))
            .arg(format!("--result-file={}/", store.display()))
            .arg(&first)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );

    let start = std::time::Instant::now();
    while !store.join(&first).exists() {
        assert!(start.elapsed() < T, "the binlog server wrote nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // check_repl: binlog1 follows the master; binlog2 answers SSH but holds no copy.
    let app_conf = c.state.app_config();
    let orig = std::fs::read_to_string(&app_conf).unwrap();
    let with_binlog_servers = |second_ssh_port: u16, second_dir: &std::path::Path| {
        let mut text = orig.clone();
        text.push_str(&format!(
            "\n[binlog1]\nhostname = \"127.0.0.1\"\nssh_port = {}\nmaster_binlog_dir = \"{}\"\n\n[binlog2]\nhostname = \"127.0.0.1\"\nssh_port = {second_ssh_port}\nmaster_binlog_dir = \"{}\"\n",
            c.node("server2").sshd.port,
            store.display(),
            second_dir.display()
        ));
        std::fs::write(&app_conf, text).unwrap();
        app_conf.clone()
    };
    let conf = with_binlog_servers(c.node("server3").sshd.port, &dir.join("empty"));
    let out = bed::run_mha(
        &bed::mha_bin(),
        &[
            "check_repl",
            "--conf",
            conf.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let about_binlog_servers: Vec<(&str, &str)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["server"]
                .as_str()
                .unwrap_or("")
                .starts_with("binlog server")
        })
        .map(|f| {
            (
                f["server"].as_str().unwrap(),
                f["problem"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        about_binlog_servers,
        [("binlog server binlog2(127.0.0.1)", "binlog_server_behind")],
        "{text}"
    );

    // The replicas stop receiving; the master goes on acknowledging writes.
    for r in ["server2", "server3"] {
        c.exec(r, "STOP SLAVE IO_THREAD").await;
    }
    let w = c.writer("server1");
    w.wait_acked(30, T).await;
    let acked = w.stop().await;
    // Wait until the binlog server has everything the master wrote.
    let st = c.rows("server1", "SHOW MASTER STATUS").await;
    let (file, pos): (String, u64) = (
        st[0]["File"].clone().unwrap(),
        st[0]["Position"].clone().unwrap().parse().unwrap(),
    );
    let start = std::time::Instant::now();
    loop {
        let len = std::fs::metadata(store.join(&file))
            .map(|m| m.len())
            .unwrap_or(0);
        if len >= pos {
            break;
        }
        assert!(
            start.elapsed() < T,
            "the binlog server has {len} of {pos} bytes of {file}:\n{}",
            std::fs::read_to_string(dir.join("binlogsrv.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The master's host is gone: no SSH, no server.
    sandbox::fault(dir, "server1", Fault::SshStop)
        .await
        .unwrap();
    sandbox::fault(dir, "server1", Fault::Crash).await.unwrap();
    for r in ["server2", "server3"] {
        c.exec(r, "START SLAVE IO_THREAD").await;
    }

    // binlog2 is now on the dead host (its sshd is down too).
    // As MHA: when no binlog server answers SSH, the failover is refused before any change.
    let only_binlog2 = format!(
        "{orig}\n[binlog2]\nhostname = \"127.0.0.1\"\nssh_port = {}\nmaster_binlog_dir = \"{}\"\n",
        c.node("server1").sshd.port,
        store.display()
    );
    std::fs::write(&app_conf, only_binlog2).unwrap();
    let (code, rec, text) = switch_dead_json(&app_conf, &c, &["--ignore_binlog_server_error"]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(rec["outcome"], "refused", "{text}");
    assert!(
        rec["error"].as_str().unwrap().starts_with(
            "no binlog server is reachable over SSH: binlog server binlog2(127.0.0.1)"
        ),
        "{text}"
    );
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1"),
        "nothing changed"
    );
    // One answers SSH but holds nothing readable, the other is down: MHA's "All binlog servers
    // failed!" stops the failover before promotion...
    let conf = with_binlog_servers(c.node("server1").sshd.port, &store);
    let text = std::fs::read_to_string(&conf).unwrap().replacen(
        &format!("master_binlog_dir = \"{}\"", store.display()),
        &format!("master_binlog_dir = \"{}\"", dir.join("empty").display()),
        1,
    );
    std::fs::write(&conf, text).unwrap();
    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(12), "{text}");
    assert_eq!(rec["outcome"], "stopped_before_promotion", "{text}");
    assert!(
        rec["error"]
            .as_str()
            .unwrap()
            .starts_with("All binlog servers failed!"),
        "{text}"
    );
    // ... and with both configured as they are, binlog2 (down) is left out: no flag needed.
    // What server1 wrote after binlog1's last event cannot be known: listed under NOT
    // recovered, so the exit code and the outcome say so.
    let conf = with_binlog_servers(c.node("server1").sshd.port, &store);
    let (code, rec, text) = switch_dead_json(&conf, &c, &["--ignore_last_failover"]);
    assert_eq!(code, Some(11), "{text}");
    assert_eq!(rec["outcome"], "data_not_recovered", "{text}");
    let from_server = rec["recovered"].as_array().unwrap().iter().any(|r| {
        r["from"]
            .as_str()
            .unwrap()
            .starts_with("binlog server binlog1(127.0.0.1)")
            && !r["gtids"].as_str().unwrap().is_empty()
    });
    assert!(from_server, "{text}");
    assert!(
        rec["not_recovered"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("cannot be known")),
        "{text}"
    );
    for node in ["server2", "server3"] {
        c.assert_has_all(node, &acked).await;
    }
    c.wait_replicating_from("server3", "server2", T).await;
}

/// A new master with log_slave_updates=OFF cannot serve a replica that is behind it: the
/// failover still promotes the server that has every acknowledged commit, and says that the
/// lagging replica needs rebuilding instead of reporting it recovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_slave_updates_off_is_a_last_resort_and_never_hidden() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let cnf = &c.node("server2").cnf;
    let text = std::fs::read_to_string(cnf).unwrap();
    std::fs::write(
        cnf,
        text.replace("log-slave-updates = ON", "log-slave-updates = OFF"),
    )
    .unwrap();
    let dir = c.dir.path();
    sandbox::fault(dir, "server2", Fault::Stop).await.unwrap();
    sandbox::fault(dir, "server2", Fault::Start).await.unwrap();
    c.wait_replicating_from("server2", "server1", T).await;
    c.create_acked_table().await;
    for r in ["server2", "server3"] {
        c.wait_acked_table(r, T).await;
    }
    // server2 receives the writes below, server3 does not.
    c.exec("server3", "STOP SLAVE IO_THREAD").await;
    let acked = write_then_crash(&c, "server1").await;
    c.exec("server3", "START SLAVE IO_THREAD").await;

    let (code, rec, text) = switch_dead_json(&c.state.app_config(), &c, &[]);
    assert_eq!(code, Some(10), "{text}");
    assert_eq!(rec["outcome"], "partial", "{text}");
    assert!(
        rec["new_master"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{})", c.node("server2").port)),
        "{text}"
    );
    let ranking = rec["ranking"]["servers"].as_array().unwrap();
    let reasons = |block: &str| {
        ranking
            .iter()
            .find(|s| s["block"] == block)
            .unwrap()
            .to_string()
    };
    assert!(
        reasons("server2").contains("no_log_slave_updates"),
        "{text}"
    );
    assert!(reasons("server3").contains("cannot_catch_up"), "{text}");
    let r3 = rec["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["server"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{})", c.node("server3").port))
        })
        .unwrap();
    assert_eq!(r3["ok"], false, "{text}");
    assert!(
        r3["detail"]
            .as_str()
            .unwrap()
            .contains("cannot catch up from it"),
        "{text}"
    );
    c.assert_has_all("server2", &acked).await;
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
}

/// A copy of the sandbox configuration in which server1's `master_binlog_dir` is an empty
/// directory: (the file, the directory).
fn wrong_master_binlog_dir(c: &Cluster) -> (std::path::PathBuf, std::path::PathBuf) {
    let wrong = c.dir.path().join("not-the-binlog-dir");
    std::fs::create_dir_all(&wrong).unwrap();
    let text = std::fs::read_to_string(c.state.app_config()).unwrap();
    let right = format!(
        "master_binlog_dir = \"{}\"\n",
        c.node("server1").datadir.display()
    );
    assert!(text.contains(&right), "{text}");
    let conf = c.dir.path().join("app1.toml");
    std::fs::write(
        &conf,
        text.replacen(
            &right,
            &format!("master_binlog_dir = \"{}\"\n", wrong.display()),
            1,
        ),
    )
    .unwrap();
    (conf, wrong)
}

/// Issue 10, hole 2: master_binlog_dir is wrong on the master, whose host and sshd stay up
/// when mariadbd crashes. check_repl and the manager's start-up check say so; the failover
/// stops before promotion rather than lose what no replica received (exit 12, nothing
/// promoted), unless told to go on (--ignore_binlog_save_error: exit 11, the loss recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_binlog_on_a_reachable_host_stops_before_promotion() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    for r in ["server2", "server3"] {
        c.wait_acked_table(r, T).await;
    }
    let (conf, wrong) = wrong_master_binlog_dir(&c);
    let conf_s = conf.to_str().unwrap();
    let file = c.rows("server1", "SHOW MASTER STATUS").await[0]["File"]
        .clone()
        .unwrap();
    let server1 = format!("127.0.0.1(127.0.0.1:{})", c.node("server1").port);

    // check_repl: not OK, naming the master, its file and the directory.
    let out = bed::run_mha(
        &bed::mha_bin(),
        &["check_repl", "--conf", conf_s, "--output", "json"],
    );
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{err}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let finding = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["problem"] == "binlog_not_in_master_binlog_dir")
        .unwrap_or_else(|| panic!("no master_binlog_dir finding:\n{text}"));
    assert_eq!(finding["severity"], "error", "{text}");
    assert_eq!(finding["server"], server1.as_str(), "{text}");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains(&file) && message.contains(wrong.to_str().unwrap()),
        "{message}"
    );
    // ... and so do the manager's start-up checks.
    let out = bed::run_mha(
        &bed::mha_bin(),
        &["manager", "--conf", conf_s, "--check_only"],
    );
    let (text, err) = bed::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{err}");
    assert!(err.contains("is not in master_binlog_dir"), "{text}\n{err}");

    // The replicas stop receiving, the master acknowledges one more row, then crashes; its
    // host and sshd stay up.
    for r in ["server2", "server3"] {
        c.exec(r, "STOP SLAVE IO_THREAD").await;
    }
    c.exec("server1", "INSERT INTO mha_it.acked (id) VALUES (4242)")
        .await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();

    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    assert_eq!(code, Some(12), "{text}");
    assert_eq!(rec["outcome"], "stopped_before_promotion", "{text}");
    assert!(rec["new_master"].is_null(), "{text}");
    let error = rec["error"].as_str().unwrap();
    for part in [
        "stopped before promotion",
        "127.0.0.1",
        wrong.to_str().unwrap(),
        file.as_str(),
        "IO threads are stopped",
        "--ignore_binlog_save_error",
    ] {
        assert!(error.contains(part), "{part:?} missing: {error}");
    }
    assert!(
        !rec["phases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["phase"] == "3.3" || p["phase"] == "3.4"),
        "{text}"
    );
    // Nothing promoted, nothing restarted: every replica read-only, still on server1, IO
    // thread stopped.
    for r in ["server2", "server3"] {
        assert_eq!(
            c.value(r, "SELECT @@global.read_only").await.as_deref(),
            Some("1"),
            "{r}"
        );
        let st = c.slave_status(r).await;
        assert_eq!(
            st["Master_Port"].as_deref(),
            Some(c.node("server1").port.to_string().as_str()),
            "{r}"
        );
        assert_eq!(st["Slave_IO_Running"].as_deref(), Some("No"), "{r}");
    }
    // The record in the workdir says the same; the error marker blocks the next failover.
    let workdir = c.dir.path().join("manager");
    let record = std::fs::read_dir(&workdir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("app1.failover.1"))
        .expect("failover record");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    assert_eq!(saved["outcome"], "stopped_before_promotion");
    assert!(workdir.join("app1.failover.error").exists());

    // The explicit override goes on and records the loss.
    let (code, rec, text) = switch_dead_json(
        &conf,
        &c,
        &["--ignore_last_failover", "--ignore_binlog_save_error"],
    );
    assert_eq!(code, Some(11), "{text}");
    assert_eq!(rec["outcome"], "data_not_recovered", "{text}");
    let lost = rec["not_recovered"].as_array().unwrap();
    assert!(
        lost.iter().any(|n| {
            let n = n.as_str().unwrap();
            n.contains(&server1) && n.contains(&file) && n.contains("--ignore_binlog_save_error")
        }),
        "{text}"
    );
    assert!(text.contains("NOT recovered"), "{text}");
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    c.wait_replicating_from("server3", "server2", T).await;
    assert_eq!(
        c.value(
            "server2",
            "SELECT COUNT(*) FROM mha_it.acked WHERE id = 4242"
        )
        .await
        .as_deref(),
        Some("0"),
        "the row is lost, as recorded"
    );
}

/// The manager's side of a failover stopped before promotion (started with --skip_ssh_check,
/// so that its start-up checks let the wrong master_binlog_dir pass): FAILOVER_ERROR, and
/// check_status names the stop and the record; nothing was promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_status_says_the_failover_stopped_before_promotion() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let (conf, _) = wrong_master_binlog_dir(&c);
    let m = Daemon::manager(
        &conf,
        &["--skip_ssh_check", "--wait_on_failover_error=60"],
        c.dir.path().join("manager.log"),
        T,
    );
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let text = bed::wait_manager_status(&conf, 51, T, &m);
    let (first, second) = text.split_once('\n').unwrap_or((&text, ""));
    assert!(
        first.ends_with("(51:FAILOVER_ERROR). master:127.0.0.1"),
        "{text}"
    );
    assert!(
        second.starts_with("Last failover: stopped before promotion: nothing was promoted"),
        "{text}"
    );
    assert!(second.contains("app1.failover.1"), "{text}");
    let status =
        std::fs::read_to_string(c.dir.path().join("manager/app1.master_status.health")).unwrap();
    assert!(
        status.contains("\t51:FAILOVER_ERROR\t")
            && status.contains("\tlast_failover:stopped_before_promotion@"),
        "{status}"
    );
    assert!(
        m.output().contains("Failover stopped before promotion"),
        "{}",
        m.output()
    );
    for r in ["server2", "server3"] {
        assert_eq!(
            c.value(r, "SELECT @@global.read_only").await.as_deref(),
            Some("1"),
            "{r}"
        );
    }
}

/// `master_switch --master_state=dead` for `dead` with a JSON report, killed after `limit`:
/// (exit code, record, output). A run that outlives `limit` fails the test.
fn switch_dead_within(
    conf: &std::path::Path,
    c: &Cluster,
    dead: &str,
    extra: &[&str],
    limit: Duration,
) -> (Option<i32>, serde_json::Value, String) {
    let out_path = c.dir.path().join(format!("switch-{dead}.out"));
    let err_path = c.dir.path().join(format!("switch-{dead}.err"));
    let mut child = bed::switch_dead_command(conf, c, dead)
        .args(["--output", "json"])
        .args(extra)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "master_switch did not finish within {limit:?}:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&out_path).unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    let rec = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}\n{err}"));
    (status.code(), rec, format!("{text}\n{err}"))
}

/// The port in a record's server name, `host(ip:port)`.
fn port_of(name: &serde_json::Value) -> String {
    name.as_str()
        .unwrap_or_default()
        .rsplit_once(':')
        .map(|(_, p)| p.trim_end_matches(')').to_string())
        .unwrap_or_default()
}

/// Issue 10, hole 8: a delayed replica (MASTER_DELAY) holds up no failover. It is not waited
/// for, not promoted, and ends replicating from the new master with its delay kept; forced
/// with --new_master_host, it is promoted after catching up without its delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_replica_is_not_waited_for_nor_promoted() {
    let c = Cluster::start(3, Mode::Gtid).await;
    c.create_acked_table().await;
    for r in ["server2", "server3", "server4"] {
        c.wait_acked_table(r, T).await;
    }
    c.exec("server4", "STOP SLAVE").await;
    c.exec("server4", "CHANGE MASTER TO MASTER_DELAY = 3600")
        .await;
    c.exec("server4", "START SLAVE").await;
    let acked = write_then_crash(&c, "server1").await;

    let conf = c.state.app_config();
    let t = std::time::Instant::now();
    let (code, rec, text) = switch_dead_within(
        &conf,
        &c,
        "server1",
        &["--remove_dead_master_conf"],
        Duration::from_secs(60),
    );
    let took = t.elapsed();
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    assert!(took < Duration::from_secs(20), "took {took:?}: {text}");
    let new_port = port_of(&rec["new_master"]);
    assert_ne!(new_port, c.node("server4").port.to_string(), "{text}");
    let new = ["server2", "server3"]
        .into_iter()
        .find(|n| c.node(n).port.to_string() == new_port)
        .unwrap_or_else(|| panic!("new master {new_port}: {text}"));
    let ranked4 = rec["ranking"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["block"] == "server4")
        .unwrap()
        .to_string();
    assert!(ranked4.contains("delayed"), "{ranked4}");
    for node in ["server2", "server3"] {
        c.assert_has_all(node, &acked).await;
    }
    let st = c.wait_replicating_from("server4", new, T).await;
    assert_eq!(
        st.get("SQL_Delay").cloned().flatten().as_deref(),
        Some("3600"),
        "{st:?}"
    );
    let other = if new == "server2" {
        "server3"
    } else {
        "server2"
    };
    c.wait_replicating_from(other, new, T).await;

    // Forced: the delayed replica becomes the new master, with everything acknowledged.
    let w = Writer::start(c.state.admin_target(c.node(new)).unwrap());
    w.wait_acked(20, T).await;
    let more = w.stop().await;
    let count = c
        .value(new, "SELECT COUNT(*) FROM mha_it.acked")
        .await
        .unwrap();
    c.wait_value(other, "SELECT COUNT(*) FROM mha_it.acked", &count, T)
        .await;
    sandbox::fault(c.dir.path(), new, Fault::Crash)
        .await
        .unwrap();
    let p4 = format!("--new_master_port={}", c.node("server4").port);
    let (code, rec, text) = switch_dead_within(
        &conf,
        &c,
        new,
        &["--new_master_host=127.0.0.1", &p4, "--ignore_last_failover"],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        port_of(&rec["new_master"]),
        c.node("server4").port.to_string(),
        "{text}"
    );
    c.assert_has_all("server4", &acked).await;
    c.assert_has_all("server4", &more).await;
    c.wait_replicating_from(other, "server4", T).await;
}

/// The replicas' IO threads are stopped, then `ids` are inserted on server1, one
/// transaction each: only the master's binlog has them. Returns server1's gtid_binlog_pos after
/// each.
async fn written_past_the_replicas<const N: usize>(c: &Cluster, ids: [u64; N]) -> Vec<String> {
    for r in ["server2", "server3"] {
        c.exec(r, "STOP SLAVE IO_THREAD").await;
    }
    let mut gtids = Vec::new();
    for id in ids {
        c.exec(
            "server1",
            &format!("INSERT INTO mha_it.acked (id) VALUES ({id})"),
        )
        .await;
        gtids.push(
            c.value("server1", "SELECT @@global.gtid_binlog_pos")
                .await
                .unwrap(),
        );
    }
    gtids
}

/// Issue 10, hole 9: the dead master's binlog ends in the middle of a transaction (a crash
/// while it was written: its row events are there, its XID is not). Applying the tail rolls
/// that transaction back; the record's `recovered` lists what committed, never the torn one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_transaction_in_the_saved_tail_is_not_listed_as_recovered() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    for r in ["server2", "server3"] {
        c.wait_acked_table(r, T).await;
    }
    // Only the dead master's binlog has the last three transactions.
    let gtids = written_past_the_replicas(&c, [901, 902, 903]).await;
    let file = c.rows("server1", "SHOW MASTER STATUS").await[0]["File"]
        .clone()
        .unwrap();
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    // Tear the last transaction: cut the file just before its XID event.
    let path = c.node("server1").datadir.join(&file);
    let bytes = std::fs::read(&path).unwrap();
    let fde_end = mha::binlog::format_description_end(&bytes).unwrap();
    let (xid_at, _) = mha::binlog::events(&bytes[fde_end..])
        .into_iter()
        .rev()
        .find(|(_, h)| h.type_code == mha::binlog::XID_EVENT)
        .unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len((fde_end + xid_at) as u64)
        .unwrap();

    let (code, rec, text) = switch_dead_json(&c.state.app_config(), &c, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(rec["outcome"], "success", "{text}");
    let recovered: Vec<String> = rec["recovered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["gtids"].as_str().unwrap().to_string())
        .collect();
    let listed: Vec<&str> = recovered.iter().flat_map(|g| g.split(',')).collect();
    assert!(
        listed.contains(&gtids[0].as_str()) && listed.contains(&gtids[1].as_str()),
        "{recovered:?}: {text}"
    );
    assert!(
        !listed.contains(&gtids[2].as_str()),
        "the torn {} is listed as recovered: {recovered:?}\n{text}",
        gtids[2]
    );
    let new = if port_of(&rec["new_master"]) == c.node("server2").port.to_string() {
        "server2"
    } else {
        "server3"
    };
    c.assert_has_all(new, &[901, 902]).await;
    assert_eq!(
        c.value(new, "SELECT COUNT(*) FROM mha_it.acked WHERE id = 903")
            .await
            .as_deref(),
        Some("0")
    );
}

/// Issue 10, hole 3: two binlog servers, the first in the configuration lagging (its copy of
/// the master's binlog stops two transactions short), the master's host gone from SSH. Both
/// are read; the most complete one supplies the tail, so nothing only it received is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_most_complete_binlog_server_wins_not_the_first() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    for r in ["server2", "server3"] {
        c.wait_acked_table(r, T).await;
    }
    // Only the master (and its binlog servers) get the last three transactions.
    let gtids = written_past_the_replicas(&c, [901, 902, 903]).await;
    let files: Vec<String> = c
        .rows("server1", "SHOW BINARY LOGS")
        .await
        .into_iter()
        .map(|r| r["Log_name"].clone().unwrap())
        .collect();
    let dir = c.dir.path();
    sandbox::fault(dir, "server1", Fault::SshStop)
        .await
        .unwrap();
    sandbox::fault(dir, "server1", Fault::Crash).await.unwrap();
    // Two binlog servers' copies: binlog2 has everything, binlog1 stops before 902.
    let (lagging, complete) = (dir.join("binlogsrv1"), dir.join("binlogsrv2"));
    for d in [&lagging, &complete] {
        std::fs::create_dir(d).unwrap();
        for f in &files {
            std::fs::copy(c.node("server1").datadir.join(f), d.join(f)).unwrap();
        }
    }
    let last = lagging.join(files.last().unwrap());
    let bytes = std::fs::read(&last).unwrap();
    let fde_end = mha::binlog::format_description_end(&bytes).unwrap();
    let gtid_events: Vec<usize> = mha::binlog::events(&bytes[fde_end..])
        .into_iter()
        .filter(|(_, h)| h.type_code == mha::binlog::MARIADB_GTID_EVENT)
        .map(|(at, _)| at)
        .collect();
    let cut = gtid_events[gtid_events.len() - 2];
    std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len((fde_end + cut) as u64)
        .unwrap();
    let mut text = std::fs::read_to_string(c.state.app_config()).unwrap();
    for (block, node, store) in [
        ("binlog1", "server2", &lagging),
        ("binlog2", "server3", &complete),
    ] {
        text.push_str(&format!(
            "\n[{block}]\nhostname = \"127.0.0.1\"\nssh_port = {}\nmaster_binlog_dir = \"{}\"\n",
            c.node(node).sshd.port,
            store.display()
        ));
    }
    let conf = dir.join("app1.toml");
    std::fs::write(&conf, text).unwrap();

    let (code, rec, text) = switch_dead_json(&conf, &c, &[]);
    // What server1 wrote after binlog2's last event cannot be known: exit 11.
    assert_eq!(code, Some(11), "{text}");
    assert_eq!(rec["outcome"], "data_not_recovered", "{text}");
    let from_binlog2 = rec["recovered"].as_array().unwrap().iter().find(|r| {
        r["from"]
            .as_str()
            .unwrap()
            .starts_with("binlog server binlog2(127.0.0.1)")
    });
    let listed =
        from_binlog2.unwrap_or_else(|| panic!("nothing recovered from binlog2: {text}"))["gtids"]
            .as_str()
            .unwrap();
    for g in &gtids {
        assert!(listed.split(',').any(|x| x == g), "{g} not in {listed}");
    }
    let new = if port_of(&rec["new_master"]) == c.node("server2").port.to_string() {
        "server2"
    } else {
        "server3"
    };
    c.assert_has_all(new, &[901, 902, 903]).await;
    let other = if new == "server2" {
        "server3"
    } else {
        "server2"
    };
    c.wait_replicating_from(other, new, T).await;
    c.wait_value(
        other,
        "SELECT COUNT(*) FROM mha_it.acked WHERE id IN (901, 902, 903)",
        "3",
        T,
    )
    .await;
}

/// The dry run and the real run decide through the same code: a --new_master_host that names
/// no configured server is refused by both (the dry run used to rank as if none was given).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_new_master_is_refused_by_the_dry_run_as_by_the_real_run() {
    let c = Cluster::start(1, Mode::Gtid).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let conf = c.state.app_config();
    for extra in [&["--dry-run"][..], &[][..]] {
        let mut args = vec!["--new_master_host=198.18.0.99"];
        args.extend_from_slice(extra);
        let (code, rec, text) = switch_dead_json(&conf, &c, &args);
        assert_eq!(code, Some(1), "{extra:?}: {text}");
        assert!(
            rec["error"]
                .as_str()
                .is_some_and(|e| e.contains("198.18.0.99 is not a configured server")),
            "{extra:?}: {text}"
        );
    }
    // Nothing was promoted.
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1")
    );
}
