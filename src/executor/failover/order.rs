//! Step-order tests: the failover against a scripted fake of the SQL and SSH seams. The fake
//! answers every question with a fixed script and records each call, in order, next to the
//! lines the (real) hook scripts wrote; the tests check the ORDER of the steps only. Whether
//! replication really recovers is for the integration tests on real servers.

use std::sync::{Arc, Mutex};

use super::*;
use crate::executor::seams::{Db, World};
use crate::sql::DbError;
use crate::sql::ops::WaitError;
use crate::sql::seam::Connect;
use crate::ssh::seam::Remote;
use crate::ssh::{ExecOutput, SshError};
use crate::topology::testing;

/// Three servers: db1 (the dead master), db2 and db3 (its replicas; db3 received more).
const CONF: &str = "\
[server default]
user=mha
password=secret
repl_user=repl
repl_password=replsecret
ssh_user=root
master_binlog_dir=/var/lib/mysql
master_ip_failover_script=HOOK

[server1]
hostname=db1

[server2]
hostname=db2

[server3]
hostname=db3
";

/// What one replica answers, whatever it is asked.
#[derive(Clone)]
struct Answers {
    read_pos: u64,
    slave_pos: &'static str,
}

fn answers(server: &str) -> Option<Answers> {
    match server {
        "db2" => Some(Answers {
            read_pos: 1000,
            slave_pos: "0-1-10",
        }),
        "db3" => Some(Answers {
            read_pos: 1200,
            slave_pos: "0-1-12",
        }),
        _ => None,
    }
}

fn status_row(a: &Answers) -> Row {
    testing::status_row("db1", a.read_pos, a.slave_pos, 0)
}

/// The scripted world: every call is logged as `server: operation`; before each, whatever the
/// hook scripts wrote since is logged as `hook: <line>`.
#[derive(Clone)]
struct Fake {
    log: Arc<Mutex<Vec<String>>>,
    hook_lines: PathBuf,
    /// A replica that, read again after phase 1, replicates from db2: the plan is stale.
    moved: Option<&'static str>,
}

impl Fake {
    fn record(&self, entry: String) {
        let mut log = self.log.lock().unwrap();
        let hooks = std::fs::read_to_string(&self.hook_lines).unwrap_or_default();
        let seen = log.iter().filter(|l| l.starts_with("hook: ")).count();
        for line in hooks.lines().skip(seen) {
            log.push(format!("hook: {line}"));
        }
        log.push(entry);
    }

    fn log(&self) -> Vec<String> {
        self.record("end".into());
        self.log.lock().unwrap().clone()
    }
}

struct FakeDb {
    fake: Fake,
    server: String,
    answers: Answers,
}

impl FakeDb {
    fn did(&self, op: &str) {
        self.fake.record(format!("{}: {op}", self.server));
    }
}

impl Db for FakeDb {
    fn server(&self) -> &str {
        &self.server
    }
    async fn stop_io_thread(&mut self) -> Result<(), DbError> {
        self.did("stop_io_thread");
        Ok(())
    }
    async fn stop_replica(&mut self) -> Result<(), DbError> {
        self.did("stop_replica");
        Ok(())
    }
    async fn start_replica(&mut self) -> Result<(), DbError> {
        self.did("start_replica");
        Ok(())
    }
    async fn reset_replica_all(&mut self) -> Result<(), DbError> {
        self.did("reset_replica_all");
        Ok(())
    }
    async fn lift_replica_delay(&mut self) -> Result<(), DbError> {
        self.did("lift_replica_delay");
        Ok(())
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
        self.did(&format!("point_at {toward:?} {}", to.hostname));
        Ok(())
    }
    async fn replica_status_row(&mut self) -> Result<Option<Row>, DbError> {
        let mut row = status_row(&self.answers);
        if self.fake.moved == Some(self.server.as_str()) {
            row.insert("Master_Host".into(), Some("db2".into()));
        }
        Ok(Some(row))
    }
    async fn heartbeat_period(&mut self) -> Option<f64> {
        None
    }
    async fn log_slave_updates(&mut self) -> Result<Option<bool>, DbError> {
        Ok(Some(true))
    }
    async fn set_read_only_as(&mut self, _what: &'static str, on: bool) -> Result<(), DbError> {
        self.did(&format!("read_only={}", u8::from(on)));
        Ok(())
    }
    async fn read_only(&mut self) -> Result<Option<bool>, DbError> {
        Ok(Some(true))
    }
    async fn kill_client_sessions(&mut self) -> usize {
        self.did("kill_client_sessions");
        0
    }
    async fn gtid_pos(&mut self, _var: &'static str) -> Result<MariaGtidPos, DbError> {
        Ok(MariaGtidPos::parse(self.answers.slave_pos).unwrap())
    }
    async fn slave_pos_covers_binlog(&mut self) -> Result<MariaGtidPos, DbError> {
        self.did("slave_pos_covers_binlog");
        Ok(MariaGtidPos::parse(self.answers.slave_pos).unwrap())
    }
    async fn binlog_coords(&mut self) -> Result<BinlogPos, DbError> {
        Ok(BinlogPos::new("bin.000002", 4))
    }
    async fn wait_gtid(&mut self, pos: &MariaGtidPos, _secs: u64) -> Result<(), WaitError> {
        self.did(&format!("wait_gtid {pos}"));
        Ok(())
    }
    async fn disconnect(self) {}
}

impl Connect for Fake {
    type Db = FakeDb;
    async fn connect(&self, s: &ServerConfig, _timeout: Duration) -> Result<FakeDb, DbError> {
        match answers(&s.hostname) {
            Some(answers) => Ok(FakeDb {
                fake: self.clone(),
                server: s.hostname.clone(),
                answers,
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
    async fn ssh_check(
        &self,
        ssh: &crate::config::SshConfig,
        _t: Duration,
    ) -> Result<(), SshError> {
        self.record(format!("{}: ssh unreachable", ssh.host));
        Err(SshError::Connect {
            target: ssh.host.clone(),
            message: "unreachable".into(),
        })
    }
    async fn ssh_exec(
        &self,
        ssh: &crate::config::SshConfig,
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
    async fn observe(&self, config: &Config, _t: Duration, _down: Option<&str>) -> Topology {
        let servers = config
            .servers
            .iter()
            .enumerate()
            .map(|(order, s)| {
                let state = answers(&s.hostname)
                    .map(|a| testing::state(a.slave_pos, Some(status_row(&a))))
                    .ok_or_else(|| "connection refused".to_string());
                testing::observed(order, &s.hostname, state)
            })
            .collect();
        Topology { servers }
    }
}

/// A failover of db1 onto `new_master` with the hook exiting `stop_exit` on --command=stop;
/// the record and the ordered log.
async fn run(new_master: &str, stop_exit: i32) -> (FailoverRecord, Vec<String>) {
    run_with(new_master, stop_exit, None).await
}

async fn run_with(
    new_master: &str,
    stop_exit: i32,
    moved: Option<&'static str>,
) -> (FailoverRecord, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let hook_lines = dir.path().join("hooks.log");
    let hook = dir.path().join("ip_failover.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$1\" >> {}\ncase \"$1\" in --command=stop*) exit {stop_exit};; esac\nexit 0\n",
            hook_lines.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = crate::config::from_text(&CONF.replace("HOOK", &hook.display().to_string()));
    let fake = Fake {
        log: Arc::default(),
        hook_lines,
        moved,
    };
    let opts = FailoverOptions {
        new_master: Some((new_master.to_string(), None)),
        workdir: dir.path().join("work"),
        ..Default::default()
    };
    let rec = failover_in(fake.clone(), &config, &opts).await;
    (rec, fake.log())
}

/// Where `entry` first appears in `log`.
fn at(log: &[String], entry: &str) -> usize {
    log.iter()
        .position(|l| l == entry)
        .unwrap_or_else(|| panic!("{entry:?} not in {log:#?}"))
}

/// The first entry of `log` that starts with `prefix`.
fn first(log: &[String], prefix: &str) -> Option<usize> {
    log.iter().position(|l| l.starts_with(prefix))
}

#[tokio::test]
async fn the_stop_hook_runs_before_anything_is_promoted() {
    let (rec, log) = run("db2", 0).await;
    assert_eq!(rec.new_master.as_deref(), Some("db2(db2:3306)"), "{log:#?}");
    let stop = at(&log, "hook: --command=stop");
    for promoting in [
        "db2: point_at LatestReplica db3",
        "db2: reset_replica_all",
        "db2: read_only=0",
        "db3: point_at NewMaster db2",
    ] {
        assert!(stop < at(&log, promoting), "{promoting}: {log:#?}");
    }
    // ... and the IO threads were stopped before it (nothing more arrives from db1).
    assert!(at(&log, "db2: stop_io_thread") < stop, "{log:#?}");
    assert!(at(&log, "db3: stop_io_thread") < stop, "{log:#?}");
}

#[tokio::test]
async fn read_only_is_cleared_on_the_new_master_only_after_it_has_everything() {
    let (_, log) = run("db2", 0).await;
    let writable = at(&log, "db2: read_only=0");
    // It copied what db3 had received, then stopped replicating and forgot its master.
    for before in [
        "db2: point_at LatestReplica db3",
        "db2: wait_gtid 0-1-12",
        "db2: reset_replica_all",
        "db2: slave_pos_covers_binlog",
    ] {
        assert!(at(&log, before) < writable, "{before}: {log:#?}");
    }
    // The VIP moves to it only once it takes writes.
    assert!(writable < at(&log, "hook: --command=start"), "{log:#?}");
}

#[tokio::test]
async fn a_failing_stop_hook_leaves_every_server_untouched() {
    let (rec, log) = run("db2", 1).await;
    assert_eq!(rec.outcome, Outcome::Failed, "{log:#?}");
    let stop = at(&log, "hook: --command=stop");
    // Only the IO threads were stopped, before the hook; nothing after it.
    let touched: Vec<&String> = log[stop + 1..]
        .iter()
        .filter(|l| *l != "end" && !l.starts_with("hook: "))
        .collect();
    assert!(touched.is_empty(), "{touched:#?}");
    assert_eq!(first(&log, "hook: --command=start"), None, "{log:#?}");
}

#[test]
fn the_fake_keeps_hook_lines_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake {
        log: Arc::default(),
        hook_lines: dir.path().join("h"),
        moved: None,
    };
    fake.record("a".into());
    std::fs::write(dir.path().join("h"), "one\n").unwrap();
    fake.record("b".into());
    let log = fake.log();
    assert_eq!(log, ["a", "hook: one", "b", "end"]);
}

#[tokio::test]
async fn a_plan_gone_stale_before_phase_2_is_refused_and_nothing_is_touched() {
    let (rec, log) = run_with("db2", 0, Some("db3")).await;
    assert_eq!(rec.outcome, Outcome::Refused, "{log:#?}");
    assert!(
        rec.error
            .as_deref()
            .is_some_and(|e| e.contains("gone stale: db3(db3:3306) now replicates from db2:3306")),
        "{:?}",
        rec.error
    );
    let touched: Vec<&String> = log
        .iter()
        .filter(|l| *l != "end" && !l.ends_with("connect refused"))
        .collect();
    assert!(touched.is_empty(), "{touched:#?}");
}

#[tokio::test]
async fn a_forced_new_master_that_cannot_be_promoted_is_refused_before_phase_2() {
    let (rec, log) = run("db9", 0).await;
    assert_eq!(rec.outcome, Outcome::Refused, "{log:#?}");
    assert_eq!(rec.error.as_deref(), Some("db9 is not a configured server"));
    assert_eq!(log, ["end"], "nothing was asked of any server");
}
