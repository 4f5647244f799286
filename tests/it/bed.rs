//! Test bed: unique port blocks across test processes, a real cluster that is stopped on drop
//! (with server logs printed when the test failed), SQL helpers, and a runner for the binary.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use mha::sandbox::{self, Mode, NodeState, State, UpOptions};
use mha::sql;

/// A block of free loopback ports, reserved with a lock file so that parallel test processes
/// never pick the same one.
pub struct PortBlock {
    _lock: nix::fcntl::Flock<File>,
    pub base: u16,
}

pub const BLOCK_SIZE: u16 = 32;

pub fn port_block() -> PortBlock {
    use nix::fcntl::{Flock, FlockArg};
    let dir = std::env::temp_dir().join("mha-it-ports");
    std::fs::create_dir_all(&dir).unwrap();
    for k in 0..400u16 {
        let base = 20_000 + k * BLOCK_SIZE;
        let file = File::create(dir.join(format!("block-{base}.lock"))).unwrap();
        let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        if (base..base + BLOCK_SIZE).all(|p| !sandbox::port_in_use(p)) {
            return PortBlock { _lock: lock, base };
        }
    }
    panic!("no free block of {BLOCK_SIZE} ports between 20000 and 32800");
}

/// A running sandbox for one test; stopped (by pid) when dropped.
pub struct Cluster {
    pub state: State,
    pub dir: tempfile::TempDir,
    pub ports: PortBlock,
}

impl Cluster {
    pub async fn start(replicas: u8, mode: Mode) -> Cluster {
        Cluster::start_on(replicas, mode, vec![]).await
    }

    /// A cluster whose nodes live in the given network namespaces.
    pub async fn start_on(replicas: u8, mode: Mode, hosts: Vec<mha::sandbox::NodeHost>) -> Cluster {
        Cluster::start_with(replicas, mode, hosts, true, false).await
    }

    /// A cluster in which every server has log_slave_updates=OFF.
    pub async fn start_without_log_slave_updates(replicas: u8, mode: Mode) -> Cluster {
        Cluster::start_with(replicas, mode, vec![], false, false).await
    }

    /// `sandbox up --semi-sync`: the master side on server1, the replica side on the others.
    pub async fn start_semi_sync(
        replicas: u8,
        mode: Mode,
        hosts: Vec<mha::sandbox::NodeHost>,
    ) -> Cluster {
        Cluster::start_with(replicas, mode, hosts, true, true).await
    }

    async fn start_with(
        replicas: u8,
        mode: Mode,
        hosts: Vec<mha::sandbox::NodeHost>,
        log_slave_updates: bool,
        semi_sync: bool,
    ) -> Cluster {
        let ports = port_block();
        let dir = tempfile::Builder::new()
            .prefix("mha-it-")
            .tempdir()
            .unwrap();
        let opts = UpOptions {
            dir: dir.path().to_path_buf(),
            replicas,
            mode,
            base_port: ports.base,
            basedir: None,
            hosts,
            heartbeat: None,
            log_slave_updates,
            semi_sync,
        };
        let state = match sandbox::up(&opts).await {
            Ok(s) => s,
            Err(e) => {
                dump_logs(dir.path());
                panic!("sandbox up failed: {e}");
            }
        };
        Cluster { state, dir, ports }
    }

    /// A writer of acknowledged rows on `name`, as its admin user.
    pub fn writer(&self, name: &str) -> Writer {
        Writer::start(self.state.admin_target(self.node(name)).unwrap())
    }

    pub fn node(&self, name: &str) -> &NodeState {
        self.state.node(name).unwrap()
    }

    /// Re-read the state file (pids change after faults).
    pub fn reload(&mut self) {
        self.state = State::load(self.dir.path()).unwrap();
    }

    pub async fn session(&self, name: &str) -> sql::Session {
        let target = self.state.admin_target(self.node(name)).unwrap();
        sql::connect(&target, Duration::from_secs(5)).await.unwrap()
    }

    pub async fn exec(&self, name: &str, stmt: &str) {
        let mut s = self.session(name).await;
        s.exec("test statement", stmt).await.unwrap();
        s.disconnect().await;
    }

    pub async fn rows(&self, name: &str, stmt: &str) -> Vec<BTreeMap<String, Option<String>>> {
        let mut s = self.session(name).await;
        let rows = s.rows("test query", stmt).await.unwrap();
        s.disconnect().await;
        rows.into_iter().map(sql::row_to_map).collect()
    }

    pub async fn value(&self, name: &str, stmt: &str) -> Option<String> {
        self.rows(name, stmt)
            .await
            .into_iter()
            .next()
            .and_then(|r| r.into_values().next().flatten())
    }

    /// Wait until `stmt` returns `want` on `name`.
    pub async fn wait_value(&self, name: &str, stmt: &str, want: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            let got = self.value(name, stmt).await;
            if got.as_deref() == Some(want) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{name}: `{stmt}` gave {got:?}, wanted {want:?} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn slave_status(&self, name: &str) -> BTreeMap<String, Option<String>> {
        self.rows(name, "SHOW SLAVE STATUS")
            .await
            .into_iter()
            .next()
            .unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            dump_logs(self.dir.path());
        }
        let _ = sandbox::down(self.dir.path());
    }
}

/// Print the end of every server and sshd log of a sandbox (for failed tests).
pub fn dump_logs(dir: &Path) {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|e| {
            [
                e.path().join("error.log"),
                e.path().join("sshd.log"),
                e.path().join("install-db.log"),
            ]
        })
        .filter(|p| p.exists())
        .collect();
    logs.push(dir.join("install-db.log"));
    for log in logs.iter().filter(|p| p.exists()) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        eprintln!("---- {} (last 30 lines) ----", log.display());
        for l in tail.into_iter().rev() {
            eprintln!("{l}");
        }
    }
}

/// Run the built `mha` binary (or a symlink to it) and capture its output.
pub fn run_mha(program: &Path, args: &[&str]) -> Output {
    std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap()
}

pub fn mha_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mha"))
}

pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// True once no process of `pids` runs and no port of `ports` is open.
pub fn nothing_left(pids: &[u32], ports: &[u16]) -> bool {
    pids.iter().all(|&p| !sandbox::is_alive(p)) && ports.iter().all(|&p| !sandbox::port_in_use(p))
}

/// A running `mha manager` (or any long-running mha command), killed on drop.
pub struct Daemon {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(args: &[&str], log: PathBuf) -> Daemon {
        Daemon::spawn(std::process::Command::new(mha_bin()), args, log)
    }

    /// The same, on another host: in network namespace `netns` (`ip netns exec` execs the
    /// binary, so the pid is mha's).
    pub fn start_in(netns: &str, args: &[&str], log: PathBuf) -> Daemon {
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", netns]).arg(mha_bin());
        Daemon::spawn(cmd, args, log)
    }

    fn spawn(mut cmd: std::process::Command, args: &[&str], log: PathBuf) -> Daemon {
        let out = File::create(&log).unwrap();
        let child = cmd
            .args(args)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait for the process to exit; its exit code, or None on timeout.
    /// `mha manager --conf CONF EXTRA...` logging to `log`, returned once it monitors the
    /// master (its "waiting until MySQL doesn't respond" line) within `timeout`.
    pub fn manager(conf: &Path, extra: &[&str], log: PathBuf, timeout: Duration) -> Daemon {
        let mut args = vec!["manager", "--conf", conf.to_str().unwrap()];
        args.extend_from_slice(extra);
        let d = Daemon::start(&args, log);
        assert!(
            d.wait_for("waiting until MySQL doesn't respond", timeout),
            "manager did not start:\n{}",
            d.output()
        );
        d
    }

    /// The process has not exited yet.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Wait until `text` stands at least `n` times in the output (the n-th failover, ...),
    /// without blocking the runtime the test's writers run on.
    pub async fn wait_for_nth(&self, text: &str, n: usize, timeout: Duration) -> bool {
        let start = Instant::now();
        while self.output().matches(text).count() < n {
            if start.elapsed() >= timeout {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Wait until the manager has failed over `n` times in all ("monitoring the new master"),
    /// and fail the test with its output if not within `timeout`.
    pub async fn expect_failovers(&self, n: usize, timeout: Duration) {
        self.expect_nth("monitoring the new master", n, timeout)
            .await;
    }

    /// Wait until the output holds `text` `n` times, and fail the test with the output if not
    /// within `timeout`.
    pub async fn expect_nth(&self, text: &str, n: usize, timeout: Duration) {
        assert!(
            self.wait_for_nth(text, n, timeout).await,
            "{}",
            self.output()
        );
    }

    /// Wait until the output contains `text`.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.output().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.child.id() as i32),
                nix::sys::signal::Signal::SIGCONT,
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- {} ----\n{}", self.log.display(), self.output());
        }
    }
}

/// Run `check_status` and return (exit code, stdout).
pub fn check_status(conf: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["check_status", "--conf", conf.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run_mha(&mha_bin(), &args);
    (out.status.code().unwrap(), text(&out).0.trim().to_string())
}

/// Poll check_status until it exits with `code`.
pub fn wait_status(conf: &Path, code: i32, timeout: Duration) -> String {
    poll_status(conf, code, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// The same, with the manager's log in the failure message.
pub fn wait_manager_status(conf: &Path, code: i32, timeout: Duration, m: &Daemon) -> String {
    poll_status(conf, code, timeout).unwrap_or_else(|e| panic!("{e}\n{}", m.output()))
}

fn poll_status(conf: &Path, code: i32, timeout: Duration) -> Result<String, String> {
    let start = Instant::now();
    loop {
        let (c, out) = check_status(conf, &[]);
        if c == code {
            return Ok(out);
        }
        if start.elapsed() > timeout {
            return Err(format!(
                "check_status never reached {code}; last: {c} {out}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Hosts in network namespaces on one bridge, addresses in 198.18.0.0/24: 198.18.0.1 is this
/// (the manager's) namespace, node i gets 198.18.0.(10 + i). Built by the test, removed on
/// drop. One such network at a time (a lock file), since names and addresses are fixed.
pub struct Network {
    _lock: nix::fcntl::Flock<File>,
    pub hosts: Vec<mha::sandbox::NodeHost>,
    bridge: String,
    names: Vec<String>,
}

pub const BRIDGE: &str = "mhait-br0";

fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

pub fn ip_ok(args: &[&str]) {
    ip(args).unwrap();
}

impl Network {
    pub fn new(nodes: usize) -> Network {
        use nix::fcntl::{Flock, FlockArg};
        let lock = File::create(std::env::temp_dir().join("mha-it-netns.lock")).unwrap();
        let lock = Flock::lock(lock, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .unwrap();
        let names: Vec<String> = (1..=nodes).map(|i| format!("mhait-n{i}")).collect();
        // Leftovers of a test process that was killed: same names, ours to remove.
        for (i, n) in names.iter().enumerate() {
            let _ = ip(&["link", "del", &format!("mhait-v{}", i + 1)]);
            let _ = ip(&["netns", "del", n]);
        }
        let _ = ip(&["link", "del", BRIDGE]);
        let _ = ip(&["route", "del", "blackhole", "198.18.0.11/32"]);
        ip_ok(&["link", "add", BRIDGE, "type", "bridge"]);
        ip_ok(&["addr", "add", "198.18.0.1/24", "dev", BRIDGE]);
        ip_ok(&["link", "set", BRIDGE, "up"]);
        let mut hosts = Vec::new();
        for (i, ns) in names.iter().enumerate() {
            let addr = format!("198.18.0.{}", 11 + i);
            let outside = format!("mhait-v{}", i + 1);
            ip_ok(&["netns", "add", ns]);
            ip_ok(&[
                "link", "add", &outside, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ]);
            ip_ok(&["link", "set", &outside, "master", BRIDGE]);
            ip_ok(&["link", "set", &outside, "up"]);
            ip_ok(&[
                "netns",
                "exec",
                ns,
                "ip",
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ]);
            ip_ok(&["netns", "exec", ns, "ip", "link", "set", "eth0", "up"]);
            ip_ok(&["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
            hosts.push(mha::sandbox::NodeHost {
                netns: ns.clone(),
                ip: addr,
            });
        }
        Network {
            _lock: lock,
            hosts,
            bridge: BRIDGE.into(),
            names,
        }
    }

    /// Cut node `i` (0-based) off the network: its cable is pulled.
    pub fn unplug(&self, i: usize) {
        ip_ok(&["link", "set", &format!("mhait-v{}", i + 1), "down"]);
    }

    pub fn plug(&self, i: usize) {
        ip_ok(&["link", "set", &format!("mhait-v{}", i + 1), "up"]);
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = ip(&["route", "del", "blackhole", "198.18.0.11/32"]);
        for (i, n) in self.names.iter().enumerate() {
            let _ = ip(&["link", "del", &format!("mhait-v{}", i + 1)]);
            let _ = ip(&["netns", "del", n]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

/// Root (and `ip`) are needed for network namespaces; CI runs as root.
pub fn can_use_netns() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A client writing rows to one server as fast as it can, recording every acknowledged
/// commit: after a failover, every acknowledged row must be on every surviving server.
pub struct Writer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    acked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<Vec<u64>>,
}

impl Writer {
    /// Writes `INSERT INTO mha_it.acked (id)` with ids counting up, to `target`.
    pub fn start(target: mha::sql::Target) -> Writer {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let acked_count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = acked_count.clone();
        let task = tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut next = 1u64;
            let mut session: Option<mha::sql::Session> = None;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                if session.is_none() {
                    session = mha::sql::connect(&target, Duration::from_millis(500))
                        .await
                        .ok();
                    if session.is_none() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
                let s = session.as_mut().unwrap();
                match s
                    .exec(
                        "insert",
                        &format!("INSERT INTO mha_it.acked (id) VALUES ({next})"),
                    )
                    .await
                {
                    Ok(()) => {
                        acked.push(next);
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        next += 1;
                    }
                    Err(_) => {
                        // Not acknowledged: it may or may not exist; never count it.
                        next += 1;
                        session = None;
                    }
                }
            }
            acked
        });
        Writer {
            stop,
            acked: acked_count,
            task,
        }
    }

    /// Wait until `n` writes were acknowledged (a load test must not pass with no load).
    pub async fn wait_acked(&self, n: usize, timeout: Duration) {
        let start = Instant::now();
        while self.acked.load(std::sync::atomic::Ordering::Relaxed) < n {
            assert!(
                start.elapsed() < timeout,
                "fewer than {n} writes acknowledged within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many writes were acknowledged so far.
    pub fn acked(&self) -> usize {
        self.acked.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn stop(self) -> Vec<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

impl Cluster {
    pub async fn create_acked_table(&self) {
        self.exec("server1", "CREATE DATABASE IF NOT EXISTS mha_it")
            .await;
        self.exec(
            "server1",
            "CREATE TABLE mha_it.acked (id BIGINT PRIMARY KEY) ENGINE=InnoDB",
        )
        .await;
    }

    /// Point `node`'s entry in the generated app config at another SQL port (a proxy in front
    /// of it): mha then reaches it, and repoints replicas at it, only through that port.
    pub fn set_config_port(&self, node: &str, port: u16) {
        let conf = self.state.app_config();
        let text = std::fs::read_to_string(&conf).unwrap();
        let header = format!("\n[{node}]\n");
        // From the newline that ends the section header: its own `port = ` line comes first.
        let at = text.find(&header).expect("the node's section") + header.len() - 1;
        let old = format!("\nport = {}\n", self.node(node).port);
        assert!(text[at..].contains(&old), "no {old:?} in [{node}]");
        let edited = format!(
            "{}{}",
            &text[..at],
            text[at..].replacen(&old, &format!("\nport = {port}\n"), 1)
        );
        std::fs::write(&conf, edited).unwrap();
    }

    /// Wait until `node` has received the table `create_acked_table` made.
    pub async fn wait_acked_table(&self, node: &str, timeout: Duration) {
        self.wait_value(
            node,
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'acked'",
            "1",
            timeout,
        )
        .await;
    }

    /// Every id in `acked` is on `node`.
    pub async fn assert_has_all(&self, node: &str, acked: &[u64]) {
        let rows = self.rows(node, "SELECT id FROM mha_it.acked").await;
        let have: std::collections::HashSet<u64> = rows
            .iter()
            .filter_map(|r| r.get("id").cloned().flatten())
            .filter_map(|v| v.parse().ok())
            .collect();
        let missing: Vec<&u64> = acked.iter().filter(|id| !have.contains(id)).collect();
        assert!(
            missing.is_empty(),
            "{node} lacks {} acknowledged rows, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
    }

    /// Wait until `node` replicates from `master` with both threads running.
    pub async fn wait_replicating_from(
        &self,
        node: &str,
        master: &str,
        timeout: Duration,
    ) -> BTreeMap<String, Option<String>> {
        self.wait_replicating_from_port(node, self.node(master).port, timeout)
            .await
    }

    /// The same, from whatever listens on loopback port `port` (a proxy in front of a server).
    pub async fn wait_replicating_from_port(
        &self,
        node: &str,
        port: u16,
        timeout: Duration,
    ) -> BTreeMap<String, Option<String>> {
        let master = format!("port {port}");
        let port = port.to_string();
        let start = Instant::now();
        loop {
            let st = self.slave_status(node).await;
            if st.get("Master_Port").cloned().flatten().as_deref() == Some(port.as_str())
                && st.get("Slave_IO_Running").cloned().flatten().as_deref() == Some("Yes")
                && st.get("Slave_SQL_Running").cloned().flatten().as_deref() == Some("Yes")
            {
                return st;
            }
            assert!(
                start.elapsed() < timeout,
                "{node} does not replicate from {master}: {st:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `mha master_switch --master_state=dead --interactive=0` for `c`'s node `dead`, ready for
/// more arguments.
pub fn switch_dead_command(conf: &Path, c: &Cluster, dead: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(mha_bin());
    cmd.args([
        "master_switch",
        "--master_state=dead",
        "--conf",
        conf.to_str().unwrap(),
        "--dead_master_host=127.0.0.1",
        &format!("--dead_master_port={}", c.node(dead).port),
        "--interactive=0",
    ]);
    cmd
}

/// `mha master_switch --master_state=alive --interactive=0` onto 127.0.0.1:`new_port`, ready
/// for more arguments.
pub fn switch_alive_command(conf: &Path, new_port: u16) -> std::process::Command {
    let mut cmd = std::process::Command::new(mha_bin());
    cmd.args([
        "master_switch",
        "--master_state=alive",
        "--conf",
        conf.to_str().unwrap(),
        "--interactive=0",
        "--new_master_host=127.0.0.1",
        &format!("--new_master_port={new_port}"),
    ]);
    cmd
}

/// The same for server1, plus `extra`, run to its end.
fn run_switch_dead(conf: &Path, c: &Cluster, extra: &[&str]) -> Output {
    switch_dead_command(conf, c, "server1")
        .args(extra)
        .output()
        .unwrap()
}

/// The same with a JSON report: the exit code, the record, and the whole output for assertion
/// messages.
pub fn switch_dead_json(
    conf: &Path,
    c: &Cluster,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let mut args = vec!["--output", "json"];
    args.extend_from_slice(extra);
    let out = run_switch_dead(conf, c, &args);
    let (text, err) = text(&out);
    let rec = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}\n{err}"));
    (out.status.code(), rec, format!("{text}\n{err}"))
}

/// The same as text: exit code and output.
pub fn switch_dead(conf: &Path, c: &Cluster, extra: &[&str]) -> (Option<i32>, String) {
    let out = run_switch_dead(conf, c, extra);
    let (o, e) = text(&out);
    (out.status.code(), format!("{o}\n{e}"))
}

/// A shell script at `path`, executable.
pub fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

impl Cluster {
    /// Application settings added to the sandbox's app1.toml (after `ping_interval`), in place.
    pub fn add_app_settings(&self, extra: &str) {
        let conf = self.state.app_config();
        let text = std::fs::read_to_string(&conf).unwrap();
        let text = text.replacen(
            "ping_interval = 1\n",
            &format!("ping_interval = 1\n{extra}"),
            1,
        );
        std::fs::write(&conf, text).unwrap();
    }
}

/// Wait for the failover record the manager writes in its workdir for application `app`.
pub fn wait_record(c: &Cluster, app: &str, m: &Daemon) -> serde_json::Value {
    let workdir = c.dir.path().join("manager");
    let start = Instant::now();
    loop {
        let rec = std::fs::read_dir(&workdir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                n.starts_with(&format!("{app}.failover.1")) && n.ends_with(".json")
            })
            .find_map(|p| {
                serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).ok()?).ok()
            });
        if let Some(rec) = rec {
            return rec;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no failover record:\n{}",
            m.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
