//! `mha sandbox`: a real cluster in both replication modes, faults, and a clean `down`.

use std::time::Duration;

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster};

const T: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtid_sandbox_replicates_and_survives_every_fault() {
    let mut c = Cluster::start(2, Mode::Gtid).await;
    let dir = c.dir.path().to_path_buf();

    // Replication: a write on the master is read on both replicas, which are read-only and
    // replicate with MariaDB GTID.
    c.exec("server1", "CREATE DATABASE t").await;
    c.exec("server1", "CREATE TABLE t.k (id INT PRIMARY KEY)")
        .await;
    c.exec("server1", "INSERT INTO t.k VALUES (1), (2)").await;
    for r in ["server2", "server3"] {
        c.wait_value(r, "SELECT COUNT(*) FROM t.k", "2", T).await;
        assert_eq!(
            c.value(r, "SELECT @@global.read_only").await.as_deref(),
            Some("1")
        );
        let st = c.slave_status(r).await;
        assert_eq!(st["Using_Gtid"].as_deref(), Some("Slave_Pos"), "{r}");
        assert_eq!(
            st["Master_Port"].as_deref(),
            Some(c.node("server1").port.to_string().as_str())
        );
    }
    assert_eq!(
        c.value("server1", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        c.value("server1", "SELECT @@global.binlog_format")
            .await
            .as_deref(),
        Some("ROW")
    );

    // A second `up` on a running sandbox is refused and changes nothing.
    let again = sandbox::up(&sandbox::UpOptions {
        dir: dir.clone(),
        replicas: 2,
        mode: Mode::Gtid,
        base_port: c.ports.base,
        basedir: None,
        hosts: vec![],
        heartbeat: None,
        log_slave_updates: true,
        semi_sync: false,
    })
    .await;
    assert!(
        matches!(again, Err(sandbox::SandboxError::AlreadyRunning { .. })),
        "{again:?}"
    );

    // freeze: the process stays, its port stays open, but SQL does not answer.
    let frozen_pid = c.node("server2").pid.unwrap();
    sandbox::fault(&dir, "server2", Fault::Freeze)
        .await
        .unwrap();
    assert!(sandbox::is_frozen(frozen_pid));
    let target = c.state.admin_target(c.node("server2")).unwrap();
    let frozen = mha::sql::connect(&target, Duration::from_secs(1)).await;
    assert!(
        matches!(frozen, Err(mha::sql::DbError::Timeout { .. })),
        "frozen server answered"
    );
    c.exec("server1", "INSERT INTO t.k VALUES (3)").await;
    sandbox::fault(&dir, "server2", Fault::Resume)
        .await
        .unwrap();
    c.wait_value("server2", "SELECT COUNT(*) FROM t.k", "3", T)
        .await;

    // crash: kill -9; the pid is gone and the port is closed.
    let crashed_pid = c.node("server3").pid.unwrap();
    sandbox::fault(&dir, "server3", Fault::Crash).await.unwrap();
    assert!(!sandbox::is_alive(crashed_pid));
    assert!(!sandbox::port_in_use(c.node("server3").port));
    c.exec("server1", "INSERT INTO t.k VALUES (4)").await;

    // start: the crashed replica comes back with its data and catches up.
    sandbox::fault(&dir, "server3", Fault::Start).await.unwrap();
    c.reload();
    assert_ne!(c.node("server3").pid, Some(crashed_pid));
    c.wait_value("server3", "SELECT COUNT(*) FROM t.k", "4", T)
        .await;

    // stop: a clean shutdown of the master; replicas notice.
    let master_pid = c.node("server1").pid.unwrap();
    sandbox::fault(&dir, "server1", Fault::Stop).await.unwrap();
    assert!(!sandbox::is_alive(master_pid));
    let err = sandbox::fault(&dir, "server1", Fault::Crash)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "server1: is not running");
    let err = sandbox::fault(&dir, "server9", Fault::Crash)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no node \"server9\" in this sandbox; nodes are: server1, server2, server3"
    );

    // ssh-stop / ssh-start: the node's host stops and resumes answering SSH.
    let ssh_port = c.node("server2").sshd.port;
    sandbox::fault(&dir, "server2", Fault::SshStop)
        .await
        .unwrap();
    assert!(!sandbox::port_in_use(ssh_port));
    sandbox::fault(&dir, "server2", Fault::SshStart)
        .await
        .unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", ssh_port)).is_ok());

    // down: every process the sandbox started is gone, every port is free.
    c.reload();
    let pids: Vec<u32> = c.state.live_pids();
    let ports = c.state.ports();
    assert_eq!(pids.len(), 5, "two replicas and three sshd still run");
    let stopped = sandbox::down(&dir).unwrap();
    assert_eq!(stopped.len(), 5);
    assert!(bed::nothing_left(&pids, &ports));
    assert!(
        sandbox::down(&dir).unwrap().is_empty(),
        "a second down stops nothing"
    );
}

#[test]
fn file_pos_sandbox_through_the_cli() {
    let ports = bed::port_block();
    let dir = tempfile::Builder::new()
        .prefix("mha-it-")
        .tempdir()
        .unwrap();
    let d = dir.path().to_str().unwrap();
    let mha = bed::mha_bin();
    let base = ports.base.to_string();

    // A --basedir without a server: exit 69, the directory named, nothing started.
    let empty = dir.path().join("no-server-here");
    std::fs::create_dir(&empty).unwrap();
    let empty_s = empty.to_str().unwrap();
    let out = bed::run_mha(
        &mha,
        &[
            "sandbox",
            "up",
            "--dir",
            d,
            "--basedir",
            empty_s,
            "--base-port",
            &base,
        ],
    );
    let (_, stderr) = bed::text(&out);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "mariadbd (or mysqld) not found under --basedir {empty_s}"
        )),
        "{stderr}"
    );
    assert!(
        !dir.path().join("server1").exists() && !sandbox::port_in_use(ports.base + 1),
        "nothing may be started"
    );

    // Debian's installation as an explicit --basedir (a tarball works the same way).
    let out = bed::run_mha(
        &mha,
        &[
            "sandbox",
            "up",
            "--dir",
            d,
            "--replicas",
            "2",
            "--file-pos",
            "--base-port",
            &base,
            "--basedir",
            "/usr",
        ],
    );
    let (stdout, stderr) = bed::text(&out);
    if !out.status.success() {
        bed::dump_logs(dir.path());
    }
    // Stop everything even if an assertion below fails.
    struct Down<'a>(&'a std::path::Path);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = sandbox::down(self.0);
        }
    }
    let _down = Down(dir.path());
    assert!(
        out.status.success(),
        "sandbox up failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("file/position replication"), "{stdout}");
    let cnf = std::fs::read_to_string(dir.path().join("server1/my.cnf")).unwrap();
    assert!(cnf.contains("basedir = /usr\n"), "{cnf}");

    // The written app1.toml is valid for every subcommand.
    let conf = dir.path().join("app1.toml");
    let out = bed::run_mha(
        &mha,
        &[
            "check_config",
            "--conf",
            conf.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    let (stdout, stderr) = bed::text(&out);
    assert!(out.status.success(), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        doc["servers"],
        serde_json::json!(["server1", "server2", "server3"])
    );
    let password = std::fs::read_to_string(dir.path().join("secrets/mha.password")).unwrap();
    assert!(!stdout.contains(password.trim()) && !stderr.contains(password.trim()));

    // Status as JSON: one master, two replicas on file/position coordinates.
    let out = bed::run_mha(&mha, &["sandbox", "status", "--dir", d, "--output", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let roles: Vec<&str> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["master", "replica", "replica"]);
    assert_eq!(status["mode"], "file-pos");
    let sshd: Vec<&str> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["sshd"].as_str().unwrap())
        .collect();
    assert_eq!(sshd, ["running", "running", "running"]);

    // Replication by write and read, through the same code the tests bed uses.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let state = sandbox::State::load(dir.path()).unwrap();
        let exec = |node: &str, stmt: &'static str| {
            let target = state.admin_target(state.node(node).unwrap()).unwrap();
            async move {
                let mut s = mha::sql::connect(&target, Duration::from_secs(5))
                    .await
                    .unwrap();
                let rows = s.rows("test", stmt).await.unwrap();
                rows.into_iter().next().map(mha::sql::row_to_map)
            }
        };
        exec("server1", "CREATE DATABASE fp").await;
        exec("server1", "CREATE TABLE fp.k (id INT PRIMARY KEY)").await;
        exec("server1", "INSERT INTO fp.k VALUES (7)").await;
        for r in ["server2", "server3"] {
            let st = exec(r, "SHOW SLAVE STATUS").await.unwrap();
            assert_eq!(st["Using_Gtid"].as_deref(), Some("No"));
            let start = std::time::Instant::now();
            loop {
                let row = exec(r, "SELECT COUNT(*) AS n FROM fp.k").await;
                if row.as_ref().and_then(|m| m["n"].clone()).as_deref() == Some("1") {
                    break;
                }
                assert!(start.elapsed() < T, "{r} did not receive the row");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        exec("server2", "SET GLOBAL relay_log_purge = ON").await;
    });

    // relay_log_purge=ON on a MariaDB file/position replica: a note, not a warning (mha reads
    // no relay logs), and replication stays healthy.
    let out = bed::run_mha(
        &mha,
        &[
            "check_repl",
            "--conf",
            conf.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    let (stdout, stderr) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let purge: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["problem"] == "relay_log_purge_on")
        .collect();
    assert_eq!(purge.len(), 1, "{stdout}");
    assert_eq!(purge[0]["severity"], "info", "{stdout}");
    assert!(
        purge[0]["server"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{})", ports.base + 2)),
        "{stdout}"
    );

    // The generated sshd accepts the generated key, with the host key verified.
    let sshd_port = status["nodes"][1]["ssh_port"].as_u64().unwrap().to_string();
    let ssh = std::process::Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
        ])
        .arg(format!("UserKnownHostsFile={}/ssh/known_hosts", d))
        .args(["-i", &format!("{d}/ssh/id_ed25519"), "-p", &sshd_port])
        .arg(format!(
            "{}@127.0.0.1",
            nix::unistd::User::from_uid(nix::unistd::geteuid())
                .unwrap()
                .unwrap()
                .name
        ))
        .arg("echo sandbox-ssh-ok")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ssh.stdout).trim(),
        "sandbox-ssh-ok",
        "{}",
        String::from_utf8_lossy(&ssh.stderr)
    );

    // down leaves no process and no port behind.
    let state = sandbox::State::load(dir.path()).unwrap();
    let pids = state.live_pids();
    assert_eq!(pids.len(), 6, "three servers, three sshd");
    let out = bed::run_mha(&mha, &["sandbox", "down", "--dir", d]);
    assert!(out.status.success());
    assert_eq!(
        bed::text(&out).0.trim(),
        format!("Stopped 6 processes of the sandbox in {d} (files kept).")
    );
    assert!(bed::nothing_left(&pids, &state.ports()));
}
