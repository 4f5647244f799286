//! The scripted fake of the seams for step-order tests (failover and switchover): it answers
//! every question from a fixed script and records each call, in order, next to the lines the
//! (real) hook scripts wrote. The tests check the ORDER of the steps only; the fake never
//! imitates replication (what a server answers never changes with what it was told). Whether
//! replication really recovers is for the integration tests on real servers.
//!
//! The log: `server: operation` for every call that changes something or waits
//! (`db2: stop_replica`, `db2: point_at NewMaster db3`, `db1: read_only=1`, `db2: master_gtid_wait
//! 0-1-12`), plus `db2: read read_only` (the read back that settles an unclear answer); other
//! reads are not logged. `hook: <line>` for each line a hook script wrote since the previous
//! call, `db9: connect refused` for a server the script does not know, `db2: <fault>` right after
//! a call the script makes fail, and `end` when the log is taken.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{Config, ServerConfig, SshConfig};
use crate::executor::seams::{Db, World};
use crate::secret::Secret;
use crate::sql::DbError;
use crate::sql::dialect::StartAt;
use crate::sql::ops::{Process, Toward, WaitError};
use crate::sql::seam::Connect;
use crate::ssh::seam::Remote;
use crate::ssh::{ExecOutput, SshError};
use crate::topology::{
    BinlogPos, GtidPos, GtidState, MasterSettings, Row, SemiSync, ServerState, Topology, testing,
};

/// What one server answers, whatever it is asked.
#[derive(Clone)]
pub(crate) struct Server {
    /// What reading the whole topology finds (its GTID positions and binlog coordinates are
    /// also what the typed reads answer).
    pub state: ServerState,
    /// What SHOW SLAVE STATUS answers when asked on its own (after the topology was read).
    pub status_row: Option<Row>,
    /// What reading `@@global.read_only` answers.
    pub read_only: Option<bool>,
}

impl Server {
    /// A MariaDB master at GTID position `gtid`.
    pub fn master(gtid: &str) -> Server {
        Server::with(testing::state(gtid, None), None)
    }

    /// A MariaDB replica at GTID position `gtid` that shows `row` as its replica status.
    pub fn replica(gtid: &str, row: Row) -> Server {
        Server::with(testing::state(gtid, Some(row.clone())), Some(row))
    }

    /// A MySQL 8.0 master with `gtid_executed` = `executed`.
    pub fn mysql_master(executed: &str) -> Server {
        Server::with(testing::mysql_state(executed, None), None)
    }

    /// A MySQL 8.0 replica with `gtid_executed` = `executed` that shows `row`.
    pub fn mysql_replica(executed: &str, row: Row) -> Server {
        Server::with(testing::mysql_state(executed, Some(row.clone())), Some(row))
    }

    fn with(state: ServerState, status_row: Option<Row>) -> Server {
        let read_only = Some(state.read_only);
        Server {
            state,
            status_row,
            read_only,
        }
    }

    /// What its GTID reads answer (MySQL: `gtid_executed` for every name).
    fn gtid(&self, var: &str) -> GtidPos {
        match &self.state.gtid {
            GtidState::MariaDb {
                binlog_pos,
                current_pos,
                slave_pos,
                ..
            } => GtidPos::MariaDb(match var {
                "gtid_binlog_pos" => binlog_pos.clone(),
                "gtid_current_pos" => current_pos.clone(),
                _ => slave_pos.clone(),
            }),
            GtidState::MySql { executed, .. } => GtidPos::MySql(executed.clone()),
        }
    }
}

/// How a scripted call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The server answered with an error: the statement did nothing.
    Error,
    /// The connection broke before the answer: whether the statement took effect is unknown.
    Lost,
}

impl Fault {
    fn error(self, server: &str) -> DbError {
        match self {
            Fault::Error => DbError::Failed {
                server: server.to_string(),
                what: "scripted",
                message: "scripted error".into(),
                code: Some(1105),
            },
            Fault::Lost => DbError::Lost {
                server: server.to_string(),
                what: "scripted",
                message: "scripted connection loss".into(),
            },
        }
    }

    fn entry(self) -> &'static str {
        match self {
            Fault::Error => "error",
            Fault::Lost => "connection lost",
        }
    }
}

/// The connection id every fake session reports (what KILL is sent for).
pub(crate) const CONNECTION_ID: u32 = 7;

/// The scripted world. SSH reaches no host.
#[derive(Clone)]
pub(crate) struct Fake {
    log: Arc<Mutex<Vec<String>>>,
    dir: PathBuf,
    /// By hostname; a server not here refuses connections.
    servers: Arc<BTreeMap<String, Server>>,
    /// The calls (log entries) that fail, each once, in the order given.
    faults: Arc<Mutex<Vec<(String, Fault)>>>,
}

impl Fake {
    /// A fake whose hook scripts (see [`Fake::hook`]) live in `dir`.
    pub fn new(dir: &Path) -> Fake {
        Fake {
            log: Arc::default(),
            dir: dir.to_path_buf(),
            servers: Arc::default(),
            faults: Arc::default(),
        }
    }

    pub fn server(mut self, host: &str, server: Server) -> Fake {
        Arc::make_mut(&mut self.servers).insert(host.to_string(), server);
        self
    }

    /// The first call logged as `entry` (`db2: master_gtid_wait 0-1-12`) fails with `fault`.
    pub fn fail(self, entry: &str, fault: Fault) -> Fake {
        self.faults.lock().unwrap().push((entry.to_string(), fault));
        self
    }

    /// A hook script that logs its `--command=...` argument (`hook: --command=stop`) and exits
    /// 1 on a command starting with `fail_on`, 0 otherwise.
    pub fn hook(&self, fail_on: Option<&str>) -> PathBuf {
        let path = self.dir.join("hook.sh");
        let fail = fail_on
            .map(|c| format!("    --command={c}*) exit 1;;\n"))
            .unwrap_or_default();
        let script = format!(
            "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --command=*) echo \"$a\" >> {log};; esac; done\nfor a in \"$@\"; do case \"$a\" in\n{fail}    esac; done\nexit 0\n",
            log = self.hook_lines().display()
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path
    }

    fn hook_lines(&self) -> PathBuf {
        self.dir.join("hooks.log")
    }

    /// Log `entry`, after whatever the hook scripts wrote since the last entry.
    pub fn record(&self, entry: String) {
        let mut log = self.log.lock().unwrap();
        let hooks = std::fs::read_to_string(self.hook_lines()).unwrap_or_default();
        let seen = log.iter().filter(|l| l.starts_with("hook: ")).count();
        for line in hooks.lines().skip(seen) {
            log.push(format!("hook: {line}"));
        }
        log.push(entry);
    }

    /// The log so far, closed by `end`.
    pub fn log(&self) -> Vec<String> {
        self.record("end".into());
        self.log.lock().unwrap().clone()
    }

    /// Log `entry`; the scripted fault for it, if any (logged too).
    fn call(&self, entry: String) -> Result<(), Fault> {
        let fault = {
            let mut faults = self.faults.lock().unwrap();
            let i = faults.iter().position(|(e, _)| *e == entry);
            i.map(|i| faults.remove(i).1)
        };
        let server = entry.split(':').next().unwrap_or_default().to_string();
        self.record(entry);
        match fault {
            Some(f) => {
                self.record(format!("{server}: {}", f.entry()));
                Err(f)
            }
            None => Ok(()),
        }
    }
}

pub(crate) struct FakeDb {
    fake: Fake,
    server: String,
    answers: Server,
}

impl FakeDb {
    /// Log `op` on this server; its scripted failure, if any.
    fn did(&self, op: &str) -> Result<(), DbError> {
        self.fake
            .call(format!("{}: {op}", self.server))
            .map_err(|f| f.error(&self.server))
    }
}

fn on(v: bool) -> u8 {
    u8::from(v)
}

impl Db for FakeDb {
    fn server(&self) -> &str {
        &self.server
    }
    fn connection_id(&self) -> u32 {
        CONNECTION_ID
    }
    async fn stop_io_thread(&mut self) -> Result<(), DbError> {
        self.did("stop_io_thread")
    }
    async fn stop_replica(&mut self) -> Result<(), DbError> {
        self.did("stop_replica")
    }
    async fn start_replica(&mut self) -> Result<(), DbError> {
        self.did("start_replica")
    }
    async fn start_io_thread(&mut self) -> Result<(), DbError> {
        self.did("start_io_thread")
    }
    async fn start_sql_thread(&mut self) -> Result<(), DbError> {
        self.did("start_sql_thread")
    }
    async fn semi_sync(&mut self) -> Result<Option<SemiSync>, DbError> {
        Ok(self.answers.state.semi_sync.clone())
    }
    async fn semi_sync_master_on(&mut self, _keep: &MasterSettings) -> Result<(), DbError> {
        self.did("semi_sync_master=1")
    }
    async fn semi_sync_master_off(&mut self) -> Result<(), DbError> {
        self.did("semi_sync_master=0")
    }
    async fn semi_sync_slave_on(&mut self) -> Result<(), DbError> {
        self.did("semi_sync_slave=1")
    }
    async fn reset_replica_all(&mut self) -> Result<(), DbError> {
        self.did("reset_replica_all")
    }
    async fn lift_replica_delay(&mut self) -> Result<(), DbError> {
        self.did("lift_replica_delay")
    }
    async fn point_at(
        &mut self,
        toward: Toward,
        to: &ServerConfig,
        _user: Option<&str>,
        _password: Option<&Secret>,
        _start: &StartAt,
        _heartbeat: Option<f64>,
    ) -> Result<(), DbError> {
        self.did(&format!("point_at {toward:?} {}", to.hostname))
    }
    async fn replica_status_row(&mut self) -> Result<Option<Row>, DbError> {
        Ok(self.answers.status_row.clone())
    }
    async fn heartbeat_period(&mut self) -> Option<f64> {
        None
    }
    async fn log_slave_updates(&mut self) -> Result<Option<bool>, DbError> {
        Ok(Some(self.answers.state.log_slave_updates))
    }
    async fn set_read_only_as(&mut self, _what: &'static str, v: bool) -> Result<(), DbError> {
        self.did(&format!("read_only={}", on(v)))
    }
    async fn read_only(&mut self) -> Result<Option<bool>, DbError> {
        self.did("read read_only")?;
        Ok(self.answers.read_only)
    }
    async fn kill_client_sessions(&mut self) -> usize {
        let _ = self.did("kill_client_sessions");
        0
    }
    async fn gtid_pos(&mut self, var: &'static str) -> Result<GtidPos, DbError> {
        Ok(self.answers.gtid(var))
    }
    async fn slave_pos_covers_binlog(&mut self) -> Result<GtidPos, DbError> {
        self.did("slave_pos_covers_binlog")?;
        Ok(self.answers.gtid("gtid_slave_pos"))
    }
    async fn binlog_coords(&mut self) -> Result<BinlogPos, DbError> {
        Ok(self
            .answers
            .state
            .binlog
            .clone()
            .unwrap_or_else(|| BinlogPos::new("", 0)))
    }
    async fn wait_gtid(&mut self, pos: &GtidPos, _secs: u64) -> Result<(), WaitError> {
        Ok(self.did(&format!("wait_gtid {pos}"))?)
    }
    async fn master_gtid_wait(
        &mut self,
        _what: &'static str,
        pos: &GtidPos,
        _secs: u64,
    ) -> Result<Option<String>, DbError> {
        self.did(&format!("master_gtid_wait {pos}"))?;
        Ok(Some("0".into()))
    }
    async fn master_pos_wait(
        &mut self,
        _what: &'static str,
        coords: &BinlogPos,
        _secs: u64,
    ) -> Result<Option<String>, DbError> {
        self.did(&format!("master_pos_wait {coords}"))?;
        Ok(Some("0".into()))
    }
    async fn set_read_only_waiting(&mut self, v: bool, _wait: Duration) -> Result<(), DbError> {
        self.did(&format!("read_only={}", on(v)))
    }
    async fn lock_wait_timeout(&mut self, _secs: u64) -> Result<(), DbError> {
        self.did("lock_wait_timeout")
    }
    async fn flush_tables_with_read_lock(&mut self, _wait: Duration) -> Result<(), DbError> {
        self.did("flush_tables_with_read_lock")
    }
    async fn unlock_tables(&mut self) -> Result<(), DbError> {
        self.did("unlock_tables")
    }
    async fn flush_tables(&mut self, _wait: Duration) -> Result<(), DbError> {
        self.did("flush_tables")
    }
    async fn processlist(&mut self) -> Result<Vec<Process>, DbError> {
        Ok(vec![])
    }
    async fn kill_connection(&mut self, _what: &'static str, id: u64) -> Result<(), DbError> {
        self.did(&format!("kill_connection {id}"))
    }
    async fn disconnect(self) {}
}

impl Connect for Fake {
    type Db = FakeDb;
    fn sql_timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
    async fn connect(&self, s: &ServerConfig, _timeout: Duration) -> Result<FakeDb, DbError> {
        match self.servers.get(&s.hostname) {
            Some(answers) => Ok(FakeDb {
                fake: self.clone(),
                server: s.hostname.clone(),
                answers: answers.clone(),
            }),
            None => {
                self.record(format!("{}: connect refused", s.hostname));
                Err(DbError::Refused {
                    server: s.hostname.clone(),
                    what: "connect",
                })
            }
        }
    }
}

impl Remote for Fake {
    async fn ssh_check(&self, ssh: &SshConfig, _t: Duration) -> Result<(), SshError> {
        self.record(format!("{}: ssh unreachable", ssh.host));
        Err(SshError::Connect {
            target: ssh.host.clone(),
            message: "unreachable".into(),
        })
    }
    async fn ssh_exec(
        &self,
        ssh: &SshConfig,
        command: &str,
        _t: Duration,
    ) -> Result<ExecOutput, SshError> {
        self.record(format!("{}: ssh {command}", ssh.host));
        Err(SshError::Connect {
            target: ssh.host.clone(),
            message: "unreachable".into(),
        })
    }
}

impl World for Fake {
    fn timeouts(&self) -> &crate::config::Timeouts {
        static DEFAULTS: std::sync::OnceLock<crate::config::Timeouts> = std::sync::OnceLock::new();
        DEFAULTS.get_or_init(crate::config::Timeouts::default)
    }
    async fn observe(&self, config: &Config, _t: Duration, _down: Option<&str>) -> Topology {
        let servers = config
            .servers
            .iter()
            .enumerate()
            .map(|(order, s)| {
                let state = self
                    .servers
                    .get(&s.hostname)
                    .map(|a| a.state.clone())
                    .ok_or_else(|| "connection refused".to_string());
                testing::observed(order, &s.hostname, state)
            })
            .collect();
        Topology { servers }
    }
}

/// Where `entry` first appears in `log`.
pub(crate) fn at(log: &[String], entry: &str) -> usize {
    log.iter()
        .position(|l| l == entry)
        .unwrap_or_else(|| panic!("{entry:?} not in {log:#?}"))
}

/// The first entry of `log` that starts with `prefix`.
pub(crate) fn first(log: &[String], prefix: &str) -> Option<usize> {
    log.iter().position(|l| l.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_keeps_hook_lines_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(dir.path());
        fake.record("a".into());
        std::fs::write(dir.path().join("hooks.log"), "one\n").unwrap();
        fake.record("b".into());
        let log = fake.log();
        assert_eq!(log, ["a", "hook: one", "b", "end"]);
    }

    #[test]
    fn a_scripted_fault_fires_once_and_is_logged_after_its_call() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(dir.path())
            .fail("db2: stop_replica", Fault::Lost)
            .fail("db2: stop_replica", Fault::Error);
        assert_eq!(fake.call("db2: stop_replica".into()), Err(Fault::Lost));
        assert_eq!(fake.call("db2: stop_replica".into()), Err(Fault::Error));
        assert_eq!(fake.call("db2: stop_replica".into()), Ok(()));
        assert_eq!(
            fake.log(),
            [
                "db2: stop_replica",
                "db2: connection lost",
                "db2: stop_replica",
                "db2: error",
                "db2: stop_replica",
                "end"
            ]
        );
    }

    #[tokio::test]
    async fn unknown_servers_refuse_and_reads_are_not_logged() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(dir.path()).server("db1", Server::master("0-1-5"));
        let config = crate::config::from_text("[server1]\nhostname=db1\n[server2]\nhostname=db9\n");
        let topo = fake.observe(&config, Duration::ZERO, None).await;
        assert!(topo.servers[0].alive().is_some_and(|s| s.replica.is_none()));
        assert!(topo.servers[1].alive().is_none());
        let mut db = fake
            .connect(&config.servers[0], Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            db.gtid_pos("gtid_binlog_pos").await.unwrap().to_string(),
            "0-1-5"
        );
        assert_eq!(db.read_only().await.unwrap(), Some(false));
        assert!(
            fake.connect(&config.servers[1], Duration::ZERO)
                .await
                .is_err()
        );
        assert_eq!(
            fake.log(),
            ["db1: read read_only", "db9: connect refused", "end"]
        );
    }

    #[tokio::test]
    async fn the_hook_logs_its_command_and_fails_as_scripted() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(dir.path());
        let hook = fake.hook(Some("stop"));
        let run = |args: &'static [&'static str]| {
            std::process::Command::new(&hook)
                .args(args)
                .status()
                .unwrap()
                .code()
        };
        assert_eq!(run(&["--command=stopssh", "--host=db1"]), Some(1));
        assert_eq!(run(&["--host=db1", "--command=start"]), Some(0));
        fake.record("x".into());
        assert_eq!(
            fake.log(),
            [
                "hook: --command=stopssh",
                "hook: --command=start",
                "x",
                "end"
            ]
        );
    }
}

/// A leadership fence good for `left` more proofs, then lost: where the failover and the
/// switchover stop when a manager (or master_switch) loses the application's lease.
#[derive(Debug)]
pub struct Lease {
    left: std::sync::atomic::AtomicUsize,
}

impl Lease {
    pub fn new(proofs: usize) -> Lease {
        Lease {
            left: proofs.into(),
        }
    }
}

impl crate::executor::fence::Fence for Lease {
    fn last_failover(&self) -> crate::executor::fence::Shared<'_> {
        Box::pin(async { Ok(None) })
    }
    fn record_failover(
        &self,
        _: Option<crate::executor::fence::SharedFailover>,
    ) -> crate::executor::fence::Proof<'_> {
        Box::pin(async { Ok(()) })
    }
    fn last_failover_key(&self) -> String {
        "/mha/app1/last_failover".into()
    }
    fn prove(&self) -> crate::executor::fence::Proof<'_> {
        use std::sync::atomic::Ordering::SeqCst;
        Box::pin(async move {
            match self.left.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)) {
                Ok(_) => Ok(()),
                Err(_) => Err("lease lost".into()),
            }
        })
    }
}
