//! The database servers of a sandbox: finding the installed server, creating datadirs, writing
//! each node's option file, starting, and wiring replication.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Mode, NodeState, Result, SandboxError, State, io_err, process};
use crate::secret::Secret;
use crate::sql::{self, Target, quote};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    MariaDb = 0,
    MySql = 1,
}

/// read_only and the executed GTID set, per flavour (indexed by `Flavour as usize`).
pub const STATUS_VARIABLES_SQL: [&str; 2] = [
    "SELECT @@global.read_only AS ro, @@global.gtid_current_pos AS gtid",
    "SELECT @@global.read_only AS ro, @@global.gtid_executed AS gtid",
];

pub struct Binaries {
    pub flavour: Flavour,
    pub server: PathBuf,
    pub install_db: Option<PathBuf>,
    pub version: String,
    /// `--basedir`, passed on to the datadir initialisation.
    pub basedir: Option<PathBuf>,
}

impl Binaries {
    /// The installed server (PATH, then the usual sbin directories), or the one under
    /// `basedir` only.
    pub fn find(basedir: Option<&Path>) -> Result<Binaries> {
        let unavailable = |program: &str| match basedir {
            None => SandboxError::Unavailable {
                program: program.to_string(),
                package: "mariadb-server mariadb-client",
            },
            Some(b) => SandboxError::NotInBasedir {
                program: program.to_string(),
                basedir: b.display().to_string(),
            },
        };
        let find = |names: &[&str]| match basedir {
            None => process::find_program(names),
            Some(b) => process::find_program_in(
                names,
                &[
                    b.join("bin"),
                    b.join("sbin"),
                    b.join("scripts"),
                    b.to_path_buf(),
                ],
            ),
        };
        let server =
            find(&["mariadbd", "mysqld"]).ok_or_else(|| unavailable("mariadbd (or mysqld)"))?;
        let out = Command::new(&server)
            .arg("--version")
            .output()
            .map_err(io_err("cannot run", &server))?;
        let version_line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)"
        let version = version_line
            .split_whitespace()
            .skip_while(|w| *w != "Ver")
            .nth(1)
            .unwrap_or("unknown")
            .to_string();
        let flavour = if version_line.contains("MariaDB") {
            Flavour::MariaDb
        } else {
            Flavour::MySql
        };
        let install_db = match flavour {
            Flavour::MariaDb => Some(
                find(&["mariadb-install-db", "mysql_install_db"])
                    .ok_or_else(|| unavailable("mariadb-install-db"))?,
            ),
            Flavour::MySql => None, // mysqld --initialize-insecure
        };
        Ok(Binaries {
            flavour,
            server,
            install_db,
            version,
            basedir: basedir.map(Path::to_path_buf),
        })
    }
}

fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Create one initialised datadir; nodes get copies of it (much faster than initialising each).
/// Create one initialised datadir; nodes get copies of it (much faster than initialising each).
/// Retried once: under heavy load (many sandboxes starting at once) the bootstrap server has
/// been seen to fail transiently.
pub fn install_datadir(bin: &Binaries, template: &Path) -> Result<()> {
    match install_once(bin, template) {
        Err(first) => {
            let _ = std::fs::remove_dir_all(template);
            install_once(bin, template).map_err(|second| SandboxError::Node {
                node: "template".into(),
                message: format!("{second}\n(first attempt: {first})"),
            })
        }
        ok => ok,
    }
}

fn install_once(bin: &Binaries, template: &Path) -> Result<()> {
    let parent = template.parent().expect("template has a parent");
    let log = parent.join("install-db.log");
    let log_file = std::fs::File::create(&log).map_err(io_err("cannot write", &log))?;
    let user = super::sshd::current_user();
    let mut cmd = match &bin.install_db {
        Some(install_db) => {
            let mut c = Command::new(install_db);
            c.arg("--no-defaults")
                .arg(format!("--datadir={}", template.display()))
                .arg(format!("--user={user}"))
                .arg("--auth-root-authentication-method=normal")
                .arg("--skip-test-db")
                .arg("--innodb-use-native-aio=0")
                // Its own temporary directory: parallel installs in a shared /tmp collided
                // on `#sql-temptable-*` files.
                .arg(format!("--tmpdir={}", parent.display()));
            if let Some(b) = &bin.basedir {
                c.arg(format!("--basedir={}", b.display()));
            }
            c
        }
        None => {
            let mut c = Command::new(&bin.server);
            c.arg("--no-defaults")
                .arg("--initialize-insecure")
                .arg(format!("--datadir={}", template.display()))
                .arg(format!("--user={user}"));
            if let Some(b) = &bin.basedir {
                c.arg(format!("--basedir={}", b.display()));
            }
            c
        }
    };
    let status = cmd
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(io_err("cannot write", &log))?)
        .stderr(log_file)
        .status()
        .map_err(io_err(
            "cannot run the server's datadir initialisation for",
            template,
        ))?;
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("[ERROR]"))
            .collect();
        return Err(SandboxError::Node {
            node: "template".into(),
            message: format!(
                "initialising a datadir failed ({status}); errors:\n{}\nend of {}:\n{}",
                errors.join("\n"),
                log.display(),
                process::tail(&log, 8)
            ),
        });
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(io_err("cannot create", to))?;
    for entry in std::fs::read_dir(from).map_err(io_err("cannot read", from))? {
        let entry = entry.map_err(io_err("cannot read", from))?;
        let target = to.join(entry.file_name());
        if entry
            .file_type()
            .map_err(io_err("cannot read", &entry.path()))?
            .is_dir()
        {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(io_err("cannot copy", &entry.path()))?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub fn prepare_node(
    bin: &Binaries,
    dir: &Path,
    template: &Path,
    name: &str,
    host: &str,
    server_id: u32,
    port: u16,
    mode: Mode,
    replica: bool,
    log_slave_updates: bool,
    semi_sync: bool,
    sshd: super::SshdState,
) -> Result<NodeState> {
    if semi_sync && bin.flavour != Flavour::MariaDb {
        return Err(SandboxError::Node {
            node: name.to_string(),
            message: "--semi-sync needs MariaDB (built-in semi-sync); MySQL would need its plugins"
                .into(),
        });
    }
    let node_dir = dir.join(name);
    let datadir = node_dir.join("data");
    copy_dir(template, &datadir)?;
    let node = NodeState {
        name: name.to_string(),
        port,
        server_id,
        pid: None,
        cnf: node_dir.join("my.cnf"),
        datadir,
        socket: node_dir.join("mysqld.sock"),
        error_log: node_dir.join("error.log"),
        sshd,
        host: host.to_string(),
        netns: None,
    };
    let mut cnf = format!(
        "# Written by `mha sandbox up` for {name}.\n[mysqld]\n\
         datadir = {}\nsocket = {}\nport = {port}\nbind-address = {host}\n\
         pid-file = {}\nlog-error = {}\nserver-id = {server_id}\n\
         report-host = {host}\nreport-port = {port}\n\
         # Binary logging as MHA needs it: on every server, replicas log what they apply.\n\
         log-bin = mysql-bin\nlog-bin-index = mysql-bin.index\nrelay-log = relay-bin\n\
         log-slave-updates = {}\nbinlog-format = ROW\n\
         # Durable: an acknowledged commit is on disk.\n\
         sync-binlog = 1\ninnodb-flush-log-at-trx-commit = 1\n\
         # MHA's setting: relay logs kept for position-based recovery (relay-log diffs).\n\
         relay-log-purge = OFF\n\
         skip-name-resolve\nmax-connections = 100\n\
         # Small footprint.\n\
         innodb-buffer-pool-size = 32M\ninnodb-log-file-size = 16M\nperformance-schema = OFF\n\
         # Many sandboxes run at once in the tests: few IO threads, no kernel AIO contexts.\n\
         innodb-read-io-threads = 1\ninnodb-write-io-threads = 1\ninnodb-use-native-aio = OFF\n",
        node.datadir.display(),
        node.socket.display(),
        node_dir.join("mysqld.pid").display(),
        node.error_log.display(),
        if log_slave_updates { "ON" } else { "OFF" },
    );
    if replica {
        cnf.push_str("read-only = ON\n");
    }
    if semi_sync && replica {
        cnf.push_str(
            "# Semi-sync (--semi-sync): this replica acknowledges what it received.\n\
             rpl-semi-sync-slave-enabled = ON\n",
        );
    } else if semi_sync {
        cnf.push_str(&format!(
            "# Semi-sync (--semi-sync): a commit returns once a replica has it (AFTER_SYNC: before\n\
             # anyone sees it); a minute without an acknowledgement falls back to asynchronous.\n\
             rpl-semi-sync-master-enabled = ON\nrpl-semi-sync-master-wait-point = AFTER_SYNC\n\
             rpl-semi-sync-master-timeout = {}\n",
            super::SEMI_SYNC_TIMEOUT_MS
        ));
    }
    match (bin.flavour, mode) {
        (Flavour::MariaDb, Mode::Gtid) => cnf.push_str("gtid-strict-mode = ON\n"),
        (Flavour::MySql, Mode::Gtid) => {
            cnf.push_str("gtid-mode = ON\nenforce-gtid-consistency = ON\n")
        }
        _ => {}
    }
    if let Some(b) = &bin.basedir {
        cnf.push_str(&format!("basedir = {}\n", b.display()));
    }
    if running_as_root() {
        cnf.push_str("user = root\n");
    }
    std::fs::write(&node.cnf, cnf).map_err(io_err("cannot write", &node.cnf))?;
    Ok(node)
}

/// Start the server detached in its own process group, so it outlives `mha sandbox up`.
pub fn start(server: &Path, node: &NodeState) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    let out_log = node.cnf.with_file_name("stdout.log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out_log)
        .map_err(io_err("cannot write", &out_log))?;
    let child = super::in_netns(node.netns.as_deref(), server)
        .arg(format!("--defaults-file={}", node.cnf.display()))
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(io_err("cannot write", &out_log))?)
        .stderr(out)
        .process_group(0)
        .spawn()
        .map_err(io_err("cannot start", server))?;
    Ok(child.id())
}

fn root_target(node: &NodeState) -> Target {
    Target {
        host: "localhost".into(),
        port: node.port,
        user: "root".into(),
        password: Secret::default(),
        socket: Some(node.socket.clone()),
    }
}

/// Wait until the server accepts connections; fail early if it exited.
pub async fn wait_ready(node: &NodeState, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let pid = node.pid.unwrap_or(0);
    loop {
        if !process::is_alive(pid) {
            return Err(SandboxError::Node {
                node: node.name.clone(),
                message: format!(
                    "the server exited during start-up; end of {}:\n{}",
                    node.error_log.display(),
                    process::tail(&node.error_log, 20)
                ),
            });
        }
        if node.socket.exists()
            && let Ok(s) = sql::connect(&root_target(node), Duration::from_secs(2)).await
        {
            s.disconnect().await;
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(SandboxError::Node {
                node: node.name.clone(),
                message: format!(
                    "not accepting connections after {timeout:?}; see {}",
                    node.error_log.display()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The administrative and replication users, created on every node without writing the
/// binlog (each node gets its own copy; replication starts from an empty binlog).
pub async fn bootstrap_users(
    node: &NodeState,
    admin: &str,
    admin_pw: &Secret,
    repl: &str,
    repl_pw: &Secret,
) -> Result<()> {
    let mut s = sql::connect(&root_target(node), Duration::from_secs(10)).await?;
    s.exec("disable binlog for set-up", "SET SESSION sql_log_bin = 0")
        .await?;
    s.exec(
        "create the mha user",
        &format!(
            "CREATE USER '{admin}'@'%' IDENTIFIED BY {}",
            quote(admin_pw.expose())
        ),
    )
    .await?;
    s.exec(
        "grant the mha user",
        &format!("GRANT ALL PRIVILEGES ON *.* TO '{admin}'@'%' WITH GRANT OPTION"),
    )
    .await?;
    s.exec(
        "create the replication user",
        &format!(
            "CREATE USER '{repl}'@'%' IDENTIFIED BY {}",
            quote(repl_pw.expose())
        ),
    )
    .await?;
    s.exec(
        "grant the replication user",
        &format!("GRANT REPLICATION SLAVE ON *.* TO '{repl}'@'%'"),
    )
    .await?;
    s.exec("RESET MASTER", "RESET MASTER").await?;
    s.disconnect().await;
    Ok(())
}

/// Point every replica at server1 and wait until both replication threads run.
pub async fn start_replication(
    state: &State,
    repl_pw: &Secret,
    heartbeat: Option<f64>,
) -> Result<()> {
    let master = &state.nodes[0];
    let mut m = sql::connect(&state.admin_target(master)?, Duration::from_secs(10)).await?;
    let coords = m
        .row_map("SHOW MASTER STATUS", "SHOW MASTER STATUS")
        .await?
        .ok_or_else(|| SandboxError::Node {
            node: master.name.clone(),
            message: "SHOW MASTER STATUS is empty: binary logging is off".into(),
        })?;
    m.disconnect().await;
    let file = coords.get("File").cloned().flatten().unwrap_or_default();
    let pos = coords
        .get("Position")
        .cloned()
        .flatten()
        .unwrap_or_default();
    for node in &state.nodes[1..] {
        let mut s = sql::connect(&state.admin_target(node)?, Duration::from_secs(10)).await?;
        let position = match (state.flavour, state.mode) {
            (Flavour::MariaDb, Mode::Gtid) => {
                s.exec("reset gtid_slave_pos", "SET GLOBAL gtid_slave_pos = ''")
                    .await?;
                "MASTER_USE_GTID = slave_pos".to_string()
            }
            (Flavour::MySql, Mode::Gtid) => "MASTER_AUTO_POSITION = 1".to_string(),
            (_, Mode::FilePos) => {
                format!("MASTER_LOG_FILE = {}, MASTER_LOG_POS = {pos}", quote(&file))
            }
        };
        // Without --heartbeat the replica keeps the server's default period, so check_repl
        // shows what detection costs on a replica set up the usual way.
        let heartbeat = heartbeat
            .map(|p| format!("MASTER_HEARTBEAT_PERIOD = {p}, "))
            .unwrap_or_default();
        s.exec(
            "CHANGE MASTER",
            &format!(
                "CHANGE MASTER TO MASTER_HOST = {}, MASTER_PORT = {}, MASTER_USER = {}, \
                 MASTER_PASSWORD = {}, MASTER_CONNECT_RETRY = 1, {heartbeat}{position}",
                quote(&master.host),
                master.port,
                quote(&state.repl_user),
                quote(repl_pw.expose()),
            ),
        )
        .await?;
        s.exec("START SLAVE", "START SLAVE").await?;
        wait_replicating(&mut s, &node.name, Duration::from_secs(30)).await?;
        s.disconnect().await;
    }
    Ok(())
}

async fn wait_replicating(s: &mut sql::Session, name: &str, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let row = s
            .row_map("SHOW SLAVE STATUS", "SHOW SLAVE STATUS")
            .await?
            .unwrap_or_default();
        let get = |k: &str| row.get(k).cloned().flatten().unwrap_or_default();
        if get("Slave_IO_Running") == "Yes" && get("Slave_SQL_Running") == "Yes" {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(SandboxError::Node {
                node: name.to_string(),
                message: format!(
                    "replication did not start: IO thread {}, SQL thread {}; last IO error: {}; last SQL error: {}",
                    get("Slave_IO_Running"),
                    get("Slave_SQL_Running"),
                    get("Last_IO_Error"),
                    get("Last_SQL_Error")
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
