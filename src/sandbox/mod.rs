//! A real local cluster in one command: `mariadbd` (or `mysqld`) processes on 127.0.0.1 with
//! their own datadirs, master→replica replication, and a real `sshd` per node on its own
//! loopback port with generated keys, so every SQL and SSH code path can run locally (each node
//! looks like a host with its own SSH daemon). The integration tests use
//! this same code. Everything started is recorded by pid in `DIR/sandbox.json`; `down` stops
//! exactly those processes.

mod process;
mod server;
mod sshd;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use process::{is_alive, is_frozen, port_in_use};
pub use server::Flavour;

use crate::secret::Secret;
use crate::sql::{self, Target};

pub const STATE_FILE: &str = "sandbox.json";
pub const APP_FILE: &str = "app1.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Gtid,
    FilePos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// kill -9 the server.
    Crash,
    /// Clean shutdown (SIGTERM).
    Stop,
    /// SIGSTOP: the process hangs, its port stays open.
    Freeze,
    /// SIGCONT after freeze.
    Resume,
    /// Start a stopped or crashed node again with its own data.
    Start,
    /// Stop the node's sshd (the host no longer answers SSH).
    SshStop,
    /// Start the node's sshd again.
    SshStart,
}

#[derive(Debug, Clone)]
pub struct UpOptions {
    pub dir: PathBuf,
    pub replicas: u8,
    pub mode: Mode,
    pub base_port: u16,
    /// A server installation (an unpacked MariaDB/MySQL tarball, or `/usr`) to take the server
    /// binaries from, instead of searching PATH.
    pub basedir: Option<PathBuf>,
    /// Where each node lives; empty = every node on 127.0.0.1 in this network namespace.
    pub hosts: Vec<NodeHost>,
    /// MASTER_HEARTBEAT_PERIOD of every replica, in seconds; None = the server's default, as
    /// a production replica usually has it: half of slave_net_timeout (the sandbox's my.cnf
    /// sets 10, so 5 s; 30 s on a server with no setting).
    pub heartbeat: Option<f64>,
    /// `log_slave_updates` of every server: ON (what MHA asks for), or OFF, where a replica's
    /// binlog holds none of what it replicates (position-based recovery's case).
    pub log_slave_updates: bool,
    /// MariaDB's built-in semi-synchronous replication in every my.cnf: the master side on
    /// the master (AFTER_SYNC, [`SEMI_SYNC_TIMEOUT_MS`]), the replica side on the replicas.
    pub semi_sync: bool,
}

/// The sandbox master's `rpl_semi_sync_master_timeout` with `--semi-sync`: a minute, far
/// longer than any wait of a test (a failover or a switchover takes seconds), so that the
/// master never falls back to asynchronous unless a test makes it (`SET GLOBAL` a short one).
pub const SEMI_SYNC_TIMEOUT_MS: u64 = 60_000;

/// A node placed in a network namespace with its own address, so a test can cut its
/// network for real. The namespace must exist and reach the others (the caller builds it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeHost {
    pub netns: String,
    pub ip: String,
}

fn loopback() -> String {
    "127.0.0.1".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeState {
    /// Block name in app1.toml (`server1` is the initial master).
    pub name: String,
    pub port: u16,
    pub server_id: u32,
    pub pid: Option<u32>,
    pub cnf: PathBuf,
    pub datadir: PathBuf,
    pub socket: PathBuf,
    pub error_log: PathBuf,
    /// This node's own sshd.
    pub sshd: SshdState,
    /// The address the server and its sshd listen on.
    #[serde(default = "loopback")]
    pub host: String,
    /// The network namespace the node's processes run in, if not this one.
    #[serde(default)]
    pub netns: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SshdState {
    pub port: u16,
    pub pid: Option<u32>,
    pub config: PathBuf,
    pub log: PathBuf,
}

/// Keys shared by every node's sshd: one host key, one client key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SshKeys {
    pub host_key: PathBuf,
    pub client_key: PathBuf,
    pub authorized_keys: PathBuf,
    pub known_hosts: PathBuf,
}

/// What the sandbox started; saved after every start so `down` works even after a failed `up`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub dir: PathBuf,
    pub flavour: Flavour,
    pub server_binary: PathBuf,
    pub server_version: String,
    pub mode: Mode,
    pub admin_user: String,
    pub repl_user: String,
    pub nodes: Vec<NodeState>,
    pub ssh_keys: SshKeys,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "{program} is not installed (looked in PATH and /usr/sbin); install it with: apt-get install {package}"
    )]
    Unavailable {
        program: String,
        package: &'static str,
    },
    #[error(
        "{program} not found under --basedir {basedir} (looked in its bin, sbin and scripts directories)"
    )]
    NotInBasedir { program: String, basedir: String },
    #[error("port {port} on 127.0.0.1 is already in use; choose another --base-port")]
    PortInUse { port: u16 },
    #[error("a sandbox is already running in {dir}; stop it first: mha sandbox down --dir {dir}")]
    AlreadyRunning { dir: String },
    #[error(
        "no sandbox in {dir} ({dir}/{STATE_FILE} not found); start one with: mha sandbox up --dir {dir}"
    )]
    NotFound { dir: String },
    #[error("no node {node:?} in this sandbox; nodes are: {known}")]
    UnknownNode { node: String, known: String },
    #[error("{node}: {message}")]
    Node { node: String, message: String },
    #[error(transparent)]
    Db(#[from] crate::sql::DbError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

pub(crate) fn io_err(
    what: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.display().to_string();
    move |source| SandboxError::Io { what, path, source }
}

type Result<T> = std::result::Result<T, SandboxError>;

impl State {
    pub fn load(dir: &Path) -> Result<State> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|_| SandboxError::NotFound {
            dir: dir.display().to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| SandboxError::Io {
            what: "cannot parse",
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })
    }

    fn save(&self) -> Result<()> {
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).expect("state serialises");
        std::fs::write(&tmp, text).map_err(io_err("cannot write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err("cannot write", &path))
    }

    pub fn node(&self, name_or_port: &str) -> Result<&NodeState> {
        self.nodes
            .iter()
            .find(|n| n.name == name_or_port || n.port.to_string() == name_or_port)
            .ok_or_else(|| SandboxError::UnknownNode {
                node: name_or_port.to_string(),
                known: self
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    pub fn app_config(&self) -> PathBuf {
        self.dir.join(APP_FILE)
    }

    fn secret(&self, file: &str) -> Result<Secret> {
        let path = self.dir.join("secrets").join(file);
        let text = std::fs::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        Ok(Secret::new(text.trim_end()))
    }

    /// Connection as the sandbox's administrative user over TCP, as mha itself connects.
    pub fn admin_target(&self, node: &NodeState) -> Result<Target> {
        Ok(Target {
            host: node.host.clone(),
            port: node.port,
            user: self.admin_user.clone(),
            password: self.secret("mha.password")?,
            socket: None,
        })
    }

    /// Every pid the sandbox recorded and still owns.
    pub fn live_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for n in &self.nodes {
            pids.extend(n.pid.filter(|&p| owned(p, &n.cnf)));
            pids.extend(n.sshd.pid.filter(|&p| owned(p, &n.sshd.config)));
        }
        pids
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .flat_map(|n| [n.port, n.sshd.port])
            .collect()
    }
}

/// A command that runs `program` in `netns` (through `ip netns exec`, which execs it, so the
/// pid we record is the program's own), or directly.
fn in_netns(netns: Option<&str>, program: &Path) -> std::process::Command {
    match netns {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns]).arg(program);
            c
        }
        None => std::process::Command::new(program),
    }
}

/// The pid still runs the program we started (its command line names our config file).
fn owned(pid: u32, config: &Path) -> bool {
    is_alive(pid) && process::is_ours(pid, config)
}

/// SQL port of node `idx` (0 = server1); its sshd listens 10 ports above the SQL ports.
pub fn node_ports(base_port: u16, idx: usize) -> (u16, u16) {
    let sql = base_port.saturating_add(1 + idx as u16);
    (sql, sql.saturating_add(10))
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
    std::fs::canonicalize(dir).map_err(io_err("cannot resolve", dir))
}

/// Start a sandbox: a master and `replicas` replicas, plus sshd. A directory holding a stopped
/// sandbox is started again as it was left (data, replication settings and all).
pub async fn up(opts: &UpOptions) -> Result<State> {
    let dir = absolute(&opts.dir)?;
    if dir.join(STATE_FILE).exists() {
        let state = State::load(&dir)?;
        if !state.live_pids().is_empty() {
            return Err(SandboxError::AlreadyRunning {
                dir: dir.display().to_string(),
            });
        }
        return restart(state).await;
    }
    let n_nodes = 1 + opts.replicas as usize;
    let ports: Vec<(u16, u16)> = (0..n_nodes)
        .map(|i| node_ports(opts.base_port, i))
        .collect();
    // Ports of nodes in other network namespaces cannot collide with ours.
    if let Some(port) = ports
        .iter()
        .enumerate()
        .filter(|(i, _)| opts.hosts.get(*i).is_none())
        .flat_map(|(_, &(a, b))| [a, b])
        .find(|&p| p == u16::MAX || port_in_use(p))
    {
        return Err(SandboxError::PortInUse { port });
    }
    let bin = server::Binaries::find(opts.basedir.as_deref())?;
    let sshd_bin = sshd::Binaries::find()?;
    let mut state = State {
        dir: dir.clone(),
        flavour: bin.flavour,
        server_binary: bin.server.clone(),
        server_version: bin.version.clone(),
        mode: opts.mode,
        admin_user: "mha".into(),
        repl_user: "repl".into(),
        nodes: vec![],
        ssh_keys: sshd::keys(&sshd_bin, &dir)?,
    };
    match build(&mut state, &bin, &sshd_bin, &ports, opts).await {
        Ok(()) => Ok(state),
        Err(e) => {
            // Leave nothing running behind a failed start.
            let _ = down(&dir);
            Err(e)
        }
    }
}

async fn build(
    state: &mut State,
    bin: &server::Binaries,
    sshd_bin: &sshd::Binaries,
    ports: &[(u16, u16)],
    opts: &UpOptions,
) -> Result<()> {
    let hosts = &opts.hosts;
    let dir = state.dir.clone();
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).map_err(io_err("cannot create", &secrets))?;
    let admin_pw = random_password()?;
    let repl_pw = random_password()?;
    write_private(
        &secrets.join("mha.password"),
        &format!("{}\n", admin_pw.expose()),
    )?;
    write_private(
        &secrets.join("repl.password"),
        &format!("{}\n", repl_pw.expose()),
    )?;

    let template = dir.join("template");
    server::install_datadir(bin, &template)?;
    for (i, &(port, ssh_port)) in ports.iter().enumerate() {
        let id = i as u32 + 1;
        let name = format!("server{id}");
        let host = hosts.get(i).map(|h| h.ip.clone()).unwrap_or_else(loopback);
        let sshd = sshd::configure(
            &state.ssh_keys,
            &dir.join(&name).join("ssh"),
            &host,
            ssh_port,
        )?;
        let mut node = server::prepare_node(
            bin,
            &dir,
            &template,
            &name,
            &host,
            id,
            port,
            state.mode,
            i > 0,
            opts.log_slave_updates,
            opts.semi_sync,
            sshd,
        )?;
        node.netns = hosts.get(i).map(|h| h.netns.clone());
        state.nodes.push(node);
    }
    let _ = std::fs::remove_dir_all(&template);
    for i in 0..state.nodes.len() {
        state.nodes[i].sshd.pid = Some(sshd::spawn(sshd_bin, &state.nodes[i])?);
        state.save()?;
        let pid = server::start(bin.server.as_path(), &state.nodes[i])?;
        state.nodes[i].pid = Some(pid);
        state.save()?;
    }
    for node in &state.nodes {
        server::wait_ready(node, Duration::from_secs(60)).await?;
        server::bootstrap_users(
            node,
            &state.admin_user,
            &admin_pw,
            &state.repl_user,
            &repl_pw,
        )
        .await?;
    }
    server::start_replication(state, &repl_pw, opts.heartbeat).await?;
    write_app_config(state)?;
    state.save()
}

async fn restart(mut state: State) -> Result<State> {
    if let Some(&port) = state.ports().iter().find(|&&p| port_in_use(p)) {
        return Err(SandboxError::PortInUse { port });
    }
    let sshd_bin = sshd::Binaries::find()?;
    for i in 0..state.nodes.len() {
        state.nodes[i].sshd.pid = Some(sshd::spawn(&sshd_bin, &state.nodes[i])?);
        state.save()?;
        let pid = server::start(&state.server_binary, &state.nodes[i])?;
        state.nodes[i].pid = Some(pid);
        state.save()?;
    }
    for node in &state.nodes {
        server::wait_ready(node, Duration::from_secs(60)).await?;
    }
    Ok(state)
}

/// Stop every process the sandbox started, by pid; returns the pids stopped. Files stay.
pub fn down(dir: &Path) -> Result<Vec<u32>> {
    let mut state = State::load(dir)?;
    let mut stopped = Vec::new();
    for node in &mut state.nodes {
        if let Some(pid) = node.pid.take()
            && process::stop(pid, &node.cnf, Duration::from_secs(60))
        {
            stopped.push(pid);
        }
        if let Some(pid) = node.sshd.pid.take()
            && process::stop(pid, &node.sshd.config, Duration::from_secs(10))
        {
            stopped.push(pid);
        }
    }
    state.save()?;
    for port in state.ports() {
        wait_until(|| !port_in_use(port));
    }
    Ok(stopped)
}

/// Inject a fault into one node.
pub async fn fault(dir: &Path, node: &str, fault: Fault) -> Result<()> {
    let mut state = State::load(dir)?;
    let idx = {
        let n = state.node(node)?;
        state
            .nodes
            .iter()
            .position(|m| m.name == n.name)
            .expect("found above")
    };
    let n = state.nodes[idx].clone();
    let live = n.pid.filter(|&p| owned(p, &n.cnf));
    let ssh_live = n.sshd.pid.filter(|&p| owned(p, &n.sshd.config));
    let not_running = || SandboxError::Node {
        node: n.name.clone(),
        message: "is not running".into(),
    };
    use nix::sys::signal::Signal;
    match fault {
        Fault::Crash => {
            let pid = live.ok_or_else(not_running)?;
            process::signal(pid, Signal::SIGKILL).map_err(io_err("cannot kill", &n.cnf))?;
            process::wait_gone(pid, Duration::from_secs(10));
        }
        Fault::Stop => {
            let pid = live.ok_or_else(not_running)?;
            process::stop(pid, &n.cnf, Duration::from_secs(60));
        }
        Fault::Freeze => {
            let pid = live.ok_or_else(not_running)?;
            process::signal(pid, Signal::SIGSTOP).map_err(io_err("cannot freeze", &n.cnf))?;
            // Signals are delivered asynchronously; return once the process is stopped.
            wait_until(|| is_frozen(pid));
        }
        Fault::Resume => {
            let pid = live.ok_or_else(not_running)?;
            process::signal(pid, Signal::SIGCONT).map_err(io_err("cannot resume", &n.cnf))?;
            wait_until(|| !is_frozen(pid));
        }
        Fault::Start => {
            if live.is_some() {
                return Err(SandboxError::Node {
                    node: n.name.clone(),
                    message: "is already running".into(),
                });
            }
            if port_in_use(n.port) {
                return Err(SandboxError::PortInUse { port: n.port });
            }
            let pid = server::start(&state.server_binary, &n)?;
            state.nodes[idx].pid = Some(pid);
            state.save()?;
            server::wait_ready(&state.nodes[idx], Duration::from_secs(60)).await?;
        }
        Fault::SshStop => {
            let pid = ssh_live.ok_or_else(|| SandboxError::Node {
                node: n.name.clone(),
                message: "its sshd is not running".into(),
            })?;
            process::stop(pid, &n.sshd.config, Duration::from_secs(10));
            wait_until(|| !port_in_use(n.sshd.port));
            state.nodes[idx].sshd.pid = None;
            state.save()?;
        }
        Fault::SshStart => {
            if ssh_live.is_some() {
                return Err(SandboxError::Node {
                    node: n.name.clone(),
                    message: "its sshd is already running".into(),
                });
            }
            let sshd_bin = sshd::Binaries::find()?;
            state.nodes[idx].sshd.pid = Some(sshd::spawn(&sshd_bin, &n)?);
            state.save()?;
        }
    }
    if matches!(fault, Fault::Crash | Fault::Stop) {
        // The leader thread turns zombie before the other threads have closed the sockets.
        wait_until(|| !port_in_use(n.port));
        state.nodes[idx].pid = None;
        state.save()?;
    }
    Ok(())
}

fn wait_until(done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What `sandbox status` shows for one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub port: u16,
    pub pid: Option<u32>,
    /// running, frozen, stopped.
    pub process: &'static str,
    /// master, replica, or unknown when SQL does not answer.
    pub role: String,
    pub replicates_from: Option<String>,
    pub io_thread: Option<String>,
    pub sql_thread: Option<String>,
    pub read_only: Option<bool>,
    pub gtid_current_pos: Option<String>,
    pub ssh_port: u16,
    /// running or stopped.
    pub sshd: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub dir: PathBuf,
    pub mode: Mode,
    pub server_version: String,
    pub config: PathBuf,
    pub nodes: Vec<NodeStatus>,
}

pub async fn status(dir: &Path) -> Result<StatusReport> {
    let state = State::load(dir)?;
    let mut nodes = Vec::new();
    for n in &state.nodes {
        let live = n.pid.filter(|&p| owned(p, &n.cnf));
        let process = match live {
            Some(p) if is_frozen(p) => "frozen",
            Some(_) => "running",
            None => "stopped",
        };
        let mut st = NodeStatus {
            name: n.name.clone(),
            port: n.port,
            pid: live,
            process,
            role: "unknown".into(),
            replicates_from: None,
            io_thread: None,
            sql_thread: None,
            read_only: None,
            gtid_current_pos: None,
            ssh_port: n.sshd.port,
            sshd: if n.sshd.pid.is_some_and(|p| owned(p, &n.sshd.config)) {
                "running"
            } else {
                "stopped"
            },
        };
        if process == "running"
            && let Ok(mut s) = sql::connect(&state.admin_target(n)?, Duration::from_secs(2)).await
        {
            if let Ok(Some(row)) = s.row_map("SHOW SLAVE STATUS", "SHOW SLAVE STATUS").await {
                let get = |k: &str| row.get(k).cloned().flatten();
                st.role = "replica".into();
                st.replicates_from = Some(format!(
                    "{}:{}",
                    get("Master_Host").unwrap_or_default(),
                    get("Master_Port").unwrap_or_default()
                ));
                st.io_thread = get("Slave_IO_Running");
                st.sql_thread = get("Slave_SQL_Running");
            } else {
                st.role = "master".into();
            }
            if let Ok(Some(row)) = s
                .row_map(
                    "read variables",
                    server::STATUS_VARIABLES_SQL[state.flavour as usize],
                )
                .await
            {
                st.read_only = row.get("ro").cloned().flatten().map(|v| v == "1");
                st.gtid_current_pos = row.get("gtid").cloned().flatten();
            }
            s.disconnect().await;
        }
        nodes.push(st);
    }
    Ok(StatusReport {
        dir: state.dir.clone(),
        mode: state.mode,
        server_version: state.server_version.clone(),
        config: state.app_config(),
        nodes,
    })
}

fn random_password() -> Result<Secret> {
    let mut bytes = [0u8; 12];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_err("cannot read", Path::new("/dev/urandom")))?;
    Ok(Secret::new(
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ))
}

fn write_private(path: &Path, content: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err("cannot write", path))?;
    f.write_all(content.as_bytes())
        .map_err(io_err("cannot write", path))
}

fn write_app_config(state: &State) -> Result<()> {
    let d = state.dir.display();
    let keys = &state.ssh_keys;
    let mut out = format!(
        "# Written by `mha sandbox up`: a {} sandbox ({} replication) in {d}.\n\
         # Secrets live in files beside this one; nothing here is secret.\n\
         # Every server has its own SQL port and its own sshd (ssh_port).\n\n\
         [server_default]\n\
         user = \"{}\"\n\
         password_file = \"{d}/secrets/mha.password\"\n\
         repl_user = \"{}\"\n\
         repl_password_file = \"{d}/secrets/repl.password\"\n\
         ssh_user = \"{}\"\n\
         # mha's own SSH connections use this key and verify host keys against this file.\n\
         ssh_key_file = \"{}\"\n\
         ssh_known_hosts_file = \"{}\"\n\
         # ssh run on the database hosts (host-to-host checks) gets these options, as in MHA.\n\
         ssh_options = \"-i {} -o UserKnownHostsFile={}\"\n\
         manager_workdir = \"{d}/manager\"\n\
         remote_workdir = \"{d}/remote\"\n\
         ping_interval = 1\n",
        state.server_version,
        match state.mode {
            Mode::Gtid => "GTID",
            Mode::FilePos => "file/position",
        },
        state.admin_user,
        state.repl_user,
        sshd::current_user(),
        keys.client_key.display(),
        keys.known_hosts.display(),
        keys.client_key.display(),
        keys.known_hosts.display(),
    );
    for n in &state.nodes {
        out.push_str(&format!(
            "\n[{}]\nhostname = \"{}\"\nport = {}\nssh_port = {}\nmaster_binlog_dir = \"{}\"\nmaster_pid_file = \"{}\"\n",
            n.name,
            n.host,
            n.port,
            n.sshd.port,
            n.datadir.display(),
            n.cnf.with_file_name("mysqld.pid").display(),
        ));
        if n.name == "server2" {
            out.push_str("candidate_master = 1\n");
        }
    }
    let path = state.app_config();
    std::fs::write(&path, out).map_err(io_err("cannot write", &path))
}
