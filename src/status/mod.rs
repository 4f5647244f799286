//! Files in manager_workdir: MHA's status file `<app>.master_status.health` (read by
//! check_status and by Nagios-style checks), the single-manager lock, the failover markers and
//! the journal of phases ([`journal`]).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

pub mod journal;
pub mod rejoin;

/// MHA's status codes and strings, kept exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    PingOk,
    NotRunning,
    PartiallyRunning,
    InitializingMonitor,
    PingFailing,
    PingFailed,
    RetryingMonitor,
    ConfigError,
    TimestampOld,
    FailoverRunning,
    FailoverError,
    /// Beyond MHA: another manager leads this application through etcd; this one watches.
    Standby,
}

impl Status {
    pub const ALL: [Status; 12] = [
        Status::PingOk,
        Status::NotRunning,
        Status::PartiallyRunning,
        Status::InitializingMonitor,
        Status::PingFailing,
        Status::PingFailed,
        Status::RetryingMonitor,
        Status::ConfigError,
        Status::TimestampOld,
        Status::FailoverRunning,
        Status::FailoverError,
        Status::Standby,
    ];

    pub fn code(self) -> u8 {
        match self {
            Status::PingOk => 0,
            Status::NotRunning => 2,
            Status::PartiallyRunning => 3,
            Status::InitializingMonitor => 10,
            Status::PingFailing => 20,
            Status::PingFailed => 21,
            Status::RetryingMonitor => 30,
            Status::ConfigError => 31,
            Status::TimestampOld => 32,
            Status::FailoverRunning => 50,
            Status::FailoverError => 51,
            Status::Standby => 40,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::PingOk => "PING_OK",
            Status::NotRunning => "NOT_RUNNING",
            Status::PartiallyRunning => "PARTIALLY_RUNNING",
            Status::InitializingMonitor => "INITIALIZING_MONITOR",
            Status::PingFailing => "PING_FAILING",
            Status::PingFailed => "PING_FAILED",
            Status::RetryingMonitor => "RETRYING_MONITOR",
            Status::ConfigError => "CONFIG_ERROR",
            Status::TimestampOld => "TIMESTAMP_OLD",
            Status::FailoverRunning => "FAILOVER_RUNNING",
            Status::FailoverError => "FAILOVER_ERROR",
            Status::Standby => "STANDBY",
        }
    }

    fn from_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How the manager's last failover ended, as its record says (`outcome` in
/// `<app>.failover.<time>.json`, in other words). Beyond MHA: MHA's status strings cannot tell
/// a complete failover from one that lost data, or from one stopped before promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverResult {
    Complete,
    /// Some replica could not be repointed.
    Partial,
    /// The new master runs, but the report lists transactions under NOT recovered.
    DataNotRecovered,
    /// Nothing was promoted: the dead master's binlog was readable in principle but not read.
    StoppedBeforePromotion,
    Failed,
}

impl FailoverResult {
    pub const ALL: [FailoverResult; 5] = [
        FailoverResult::Complete,
        FailoverResult::Partial,
        FailoverResult::DataNotRecovered,
        FailoverResult::StoppedBeforePromotion,
        FailoverResult::Failed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FailoverResult::Complete => "complete",
            FailoverResult::Partial => "partial",
            FailoverResult::DataNotRecovered => "data_not_recovered",
            FailoverResult::StoppedBeforePromotion => "stopped_before_promotion",
            FailoverResult::Failed => "failed",
        }
    }

    /// In a DBA's words, for check_status.
    pub fn describe(self) -> &'static str {
        match self {
            FailoverResult::Complete => "complete",
            FailoverResult::Partial => "done, but some replica could not be repointed",
            FailoverResult::DataNotRecovered => {
                "done, but data was NOT recovered (the record lists it)"
            }
            FailoverResult::StoppedBeforePromotion => {
                "stopped before promotion: nothing was promoted, the replicas' IO threads are stopped"
            }
            FailoverResult::Failed => "failed",
        }
    }

    fn from_name(name: &str) -> Option<FailoverResult> {
        FailoverResult::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// The manager's last failover: its result and its record's time stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LastFailover {
    pub result: FailoverResult,
    pub started_unix: u64,
}

impl LastFailover {
    pub fn record_path(&self, workdir: &Path, app: &str) -> PathBuf {
        workdir.join(format!("{app}.failover.{}.json", self.started_unix))
    }
}

pub fn status_path(workdir: &Path, app: &str) -> PathBuf {
    workdir.join(format!("{app}.master_status.health"))
}

pub fn lock_path(workdir: &Path, app: &str) -> PathBuf {
    workdir.join(format!("{app}.manager.lock"))
}

/// Written by a manager that runs several applications, for as long as it runs this one: `stop`
/// then asks for this application alone to stop (`stop_request_path`) instead of sending
/// SIGTERM to the process, which would stop them all.
pub fn shared_manager_path(workdir: &Path, app: &str) -> PathBuf {
    workdir.join(format!("{app}.manager.shared"))
}

/// `stop --conf APP` to a manager that runs several applications: stop this one.
pub fn stop_request_path(workdir: &Path, app: &str) -> PathBuf {
    workdir.join(format!("{app}.manager.stop_request"))
}

/// One line: `PID<TAB>CODE:STRING[<TAB>master:HOST]`, as MHA writes it, then (beyond MHA,
/// once the manager has failed over) `<TAB>last_failover:RESULT@UNIXTIME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub pid: u32,
    pub status: Status,
    pub master: Option<String>,
    pub last_failover: Option<LastFailover>,
}

impl StatusLine {
    pub fn render(&self) -> String {
        let mut s = format!(
            "{}\t{}:{}",
            self.pid,
            self.status.code(),
            self.status.name()
        );
        if let Some(m) = &self.master {
            s.push_str(&format!("\tmaster:{m}"));
        }
        if let Some(l) = &self.last_failover {
            s.push_str(&format!(
                "\tlast_failover:{}@{}",
                l.result.name(),
                l.started_unix
            ));
        }
        s.push('\n');
        s
    }

    pub fn parse(text: &str) -> Option<StatusLine> {
        let mut fields = text.trim_end().split('\t');
        let pid = fields.next()?.trim().parse().ok()?;
        let (_, name) = fields.next()?.split_once(':')?;
        let status = Status::from_name(name)?;
        let (mut master, mut last_failover) = (None, None);
        for f in fields {
            if let Some(m) = f.strip_prefix("master:") {
                master = Some(m.to_string());
            } else if let Some((r, t)) = f
                .strip_prefix("last_failover:")
                .and_then(|l| l.split_once('@'))
            {
                last_failover = FailoverResult::from_name(r).zip(t.parse().ok()).map(
                    |(result, started_unix)| LastFailover {
                        result,
                        started_unix,
                    },
                );
            }
        }
        Some(StatusLine {
            pid,
            status,
            master,
            last_failover,
        })
    }
}

/// The status file of a running manager.
pub struct StatusFile {
    path: PathBuf,
    last: Option<StatusLine>,
    last_failover: Option<LastFailover>,
    /// Told every state written (the manager's telemetry).
    observer: Option<Box<dyn Fn(Status) + Send + Sync>>,
}

impl StatusFile {
    pub fn new(workdir: &Path, app: &str) -> StatusFile {
        StatusFile {
            path: status_path(workdir, app),
            last: None,
            last_failover: None,
            observer: None,
        }
    }

    /// Call `f` with every state written from now on.
    pub fn on_change(&mut self, f: impl Fn(Status) + Send + Sync + 'static) {
        self.observer = Some(Box::new(f));
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remember how the last failover ended: every later line carries it, for the manager's
    /// life (written with the next `set`).
    pub fn set_last_failover(&mut self, last: Option<LastFailover>) {
        if last.is_some() {
            self.last_failover = last;
        }
    }

    /// Write a state (atomically: temp file + rename); an unchanged state only refreshes the
    /// file's modification time, which check_status compares with --ping_limit.
    pub fn set(&mut self, status: Status, master: Option<&str>) -> std::io::Result<()> {
        if let Some(f) = &self.observer {
            f(status);
        }
        let line = StatusLine {
            pid: std::process::id(),
            status,
            master: master.map(str::to_string),
            last_failover: self.last_failover,
        };
        if self.last.as_ref() == Some(&line) && self.path.exists() {
            return File::options()
                .write(true)
                .open(&self.path)?
                .set_modified(SystemTime::now());
        }
        let tmp = self.path.with_extension("health.tmp");
        std::fs::write(&tmp, line.render())?;
        std::fs::rename(&tmp, &self.path)?;
        self.last = Some(line);
        Ok(())
    }

    pub fn remove(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        self.last = None;
    }
}

/// An exclusive lock on `<app>.manager.lock`, held for the manager's life: one manager per
/// application and workdir. The file holds the owner's pid for the error message.
pub struct ManagerLock {
    _lock: nix::fcntl::Flock<File>,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another manager (pid {pid}) already runs for this application: it holds {path}")]
    Held { pid: String, path: String },
    #[error("cannot open {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl ManagerLock {
    pub fn acquire(workdir: &Path, app: &str) -> Result<ManagerLock, LockError> {
        use nix::fcntl::{Flock, FlockArg};
        let path = lock_path(workdir, app);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err(_) => {
                let pid = std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                return Err(LockError::Held {
                    pid,
                    path: path.display().to_string(),
                });
            }
        };
        lock.set_len(0).map_err(io)?;
        writeln!(lock, "{}", std::process::id()).map_err(io)?;
        Ok(ManagerLock { _lock: lock, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What check_status concludes about an application's manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub app: String,
    pub status: Status,
    pub code: u8,
    pub pid: Option<u32>,
    pub master: Option<String>,
    /// Children of a dead manager still running (PARTIALLY_RUNNING).
    pub children: Vec<u32>,
    /// A status file left by a manager that is gone (killed with -9).
    pub stale: bool,
    /// How this manager's last failover ended (none yet: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failover: Option<LastFailover>,
    pub message: String,
}

/// The process state letter from /proc (R, S, T, Z, ...), if the process exists.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses and may contain spaces.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The process exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    matches!(process_state(pid), Some(c) if c != 'Z' && c != 'X')
}

/// The environment variable every hook gets: the pid of the `mha` process that started it.
pub const HOOK_OWNER_ENV: &str = "MHA_PID";

/// Processes whose parent or process group is `pid`, or that a hook started by `pid` left
/// behind (hooks run in their own process group and are re-parented when the manager dies,
/// so they are found by the `MHA_PID` variable they inherited).
fn children_of(pid: u32) -> Vec<u32> {
    let marker = format!("{HOOK_OWNER_ENV}={pid}");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // fields after ")": state ppid pgrp ...
        if f.len() < 3 || f[0] == "Z" || p == pid {
            continue;
        }
        let related = f[1] == pid.to_string()
            || f[2] == pid.to_string()
            || std::fs::read(entry.path().join("environ"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .any(|var| var == marker.as_bytes());
        if related {
            out.push(p);
        }
    }
    out
}

/// MHA's exact check_status lines (ManagerAdmin.pm). `log` is the manager's log: MHA adds
/// `Check LOG for details.` under the states that need a look at it, when it knows the log.
pub fn message(
    app: &str,
    s: Status,
    pid: Option<u32>,
    master: Option<&str>,
    children: &[u32],
    log: Option<&Path>,
) -> String {
    let m = master.unwrap_or("");
    let pid = pid.unwrap_or(0);
    let check_log = log
        .map(|l| format!("\nCheck {} for details.", l.display()))
        .unwrap_or_default();
    match s {
        Status::PingOk => format!("{app} (pid:{pid}) is running(0:PING_OK), master:{m}"),
        Status::NotRunning => format!("{app} is stopped(2:NOT_RUNNING)."),
        Status::PartiallyRunning => format!(
            "Main process is not running, but child process is running on {app} (child pid: {}) (3:PARTIALLY_RUNNING). Check ps output for details and kill it.",
            children
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Status::InitializingMonitor => format!(
            "{app} monitoring program is now on initialization phase(10:INITIALIZING_MONITOR). Wait for a while and try checking again."
        ),
        Status::PingFailing => {
            format!("{app} master maybe down(20:PING_FAILING). master:{m}{check_log}")
        }
        Status::PingFailed => {
            format!("{app} master maybe down(21:PING_FAILED). master:{m}{check_log}")
        }
        Status::RetryingMonitor => format!(
            "{app} monitoring waits for retrying to monitor master again(30:RETRYING_MONITOR). Wait for a while and try checking again."
        ),
        Status::ConfigError => {
            format!("{app} servers are not correctly configured(31:CONFIG_ERROR).{check_log}")
        }
        Status::TimestampOld => format!(
            "{app} is running, but master_ping.health is too old(32:TIMESTAMP_OLD). Maybe process hangs?{}",
            master.map(|m| format!(" master:{m}")).unwrap_or_default()
        ),
        Status::FailoverRunning => format!(
            "{app} master is down and failover is running(50:FAILOVER_RUNNING). master:{m}{check_log}"
        ),
        Status::FailoverError => format!(
            "{app} master is down and failover was not successful(51:FAILOVER_ERROR). master:{m}{check_log}"
        ),
        Status::Standby => format!(
            "{app} (pid:{pid}) is standing by(40:STANDBY): another manager leads it through etcd. leader:{m}"
        ),
    }
}

/// Read the status file and decide, as masterha_check_status does. `log` is the manager's
/// log for `Check LOG for details.` (manager_log, or --manager_log).
pub fn check(
    workdir: &Path,
    app: &str,
    log: Option<&Path>,
    ping_limit: Duration,
    now: SystemTime,
) -> Report {
    let path = status_path(workdir, app);
    let line = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| StatusLine::parse(&t));
    let last_failover = line.as_ref().and_then(|l| l.last_failover);
    let report = |status: Status, pid, master: Option<String>, children: Vec<u32>, stale| {
        let mut message = message(app, status, pid, master.as_deref(), &children, log);
        // MHA's line stays first and unchanged; a failover that was not complete adds one.
        if let Some(l) = last_failover.filter(|l| l.result != FailoverResult::Complete) {
            message.push_str(&format!(
                "\nLast failover: {} (record: {})",
                l.result.describe(),
                l.record_path(workdir, app).display()
            ));
        }
        Report {
            app: app.to_string(),
            message,
            code: status.code(),
            status,
            pid,
            master,
            children,
            stale,
            last_failover,
        }
    };
    let Some(line) = line else {
        return report(Status::NotRunning, None, None, vec![], false);
    };
    if !pid_alive(line.pid) {
        let children = children_of(line.pid);
        if !children.is_empty() {
            return report(
                Status::PartiallyRunning,
                Some(line.pid),
                line.master,
                children,
                true,
            );
        }
        return report(
            Status::NotRunning,
            Some(line.pid),
            line.master,
            vec![],
            true,
        );
    }
    let age = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .unwrap_or_default();
    if line.status == Status::PingOk && age > ping_limit {
        // MHA prints how far behind the file is before the status line.
        let mut r = report(
            Status::TimestampOld,
            Some(line.pid),
            line.master,
            vec![],
            false,
        );
        r.message = format!(
            "{} behinds {} seconds!\n{}",
            path.display(),
            age.as_secs(),
            r.message
        );
        return r;
    }
    report(line.status, Some(line.pid), line.master, vec![], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_round_trip_in_mha_format() {
        let l = StatusLine {
            pid: 1234,
            status: Status::PingOk,
            master: Some("db1".into()),
            last_failover: None,
        };
        assert_eq!(l.render(), "1234\t0:PING_OK\tmaster:db1\n");
        assert_eq!(StatusLine::parse(&l.render()), Some(l));
        let l = StatusLine {
            pid: 7,
            status: Status::InitializingMonitor,
            master: None,
            last_failover: None,
        };
        assert_eq!(StatusLine::parse("7\t10:INITIALIZING_MONITOR\n"), Some(l));
        assert_eq!(StatusLine::parse("garbage"), None);
    }

    #[test]
    fn every_state_and_its_message() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        for s in Status::ALL {
            if matches!(
                s,
                Status::NotRunning | Status::PartiallyRunning | Status::TimestampOld
            ) {
                continue;
            }
            std::fs::write(
                status_path(dir.path(), "app1"),
                StatusLine {
                    pid: me,
                    status: s,
                    master: Some("h1".into()),
                    last_failover: None,
                }
                .render(),
            )
            .unwrap();
            let r = check(
                dir.path(),
                "app1",
                None,
                Duration::from_secs(10),
                SystemTime::now(),
            );
            assert_eq!((r.status, r.code), (s, s.code()));
            assert!(
                r.message.contains(&format!("({}:{})", s.code(), s.name())),
                "{}",
                r.message
            );
        }
        // PING_OK with an old file: TIMESTAMP_OLD.
        std::fs::write(
            status_path(dir.path(), "app1"),
            StatusLine {
                pid: me,
                status: Status::PingOk,
                master: Some("h1".into()),
                last_failover: None,
            }
            .render(),
        )
        .unwrap();
        let later = SystemTime::now() + Duration::from_secs(60);
        let r = check(dir.path(), "app1", None, Duration::from_secs(10), later);
        let (behinds, line) = r.message.split_once('\n').unwrap();
        assert_eq!(
            line,
            "app1 is running, but master_ping.health is too old(32:TIMESTAMP_OLD). Maybe process hangs? master:h1"
        );
        let path = status_path(dir.path(), "app1");
        let secs: u64 = behinds
            .strip_prefix(&format!("{} behinds ", path.display()))
            .and_then(|r| r.strip_suffix(" seconds!"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{behinds}"));
        assert!((59..=61).contains(&secs), "{behinds}");
        let r = check(
            dir.path(),
            "app1",
            None,
            Duration::from_secs(10),
            SystemTime::now(),
        );
        assert_eq!(
            r.message,
            format!("app1 (pid:{me}) is running(0:PING_OK), master:h1")
        );
        // A status file whose pid is gone: stale, NOT_RUNNING.
        std::fs::write(
            status_path(dir.path(), "app1"),
            "999999999\t0:PING_OK\tmaster:h1\n",
        )
        .unwrap();
        let r = check(
            dir.path(),
            "app1",
            None,
            Duration::from_secs(10),
            SystemTime::now(),
        );
        assert_eq!(
            (r.status, r.stale, r.message.as_str()),
            (Status::NotRunning, true, "app1 is stopped(2:NOT_RUNNING).")
        );
        std::fs::remove_file(status_path(dir.path(), "app1")).unwrap();
        assert_eq!(
            check(
                dir.path(),
                "app1",
                None,
                Duration::from_secs(10),
                SystemTime::now()
            )
            .status,
            Status::NotRunning
        );
    }

    /// MHA's ManagerAdmin.pm texts, word for word, with and without a known manager log.
    #[test]
    fn check_status_texts_are_mhas() {
        let log = Path::new("/var/log/masterha/app1/manager.log");
        let check = "\nCheck /var/log/masterha/app1/manager.log for details.";
        for (status, text, logged) in [
            (
                Status::PingOk,
                "app1 (pid:7) is running(0:PING_OK), master:h1",
                false,
            ),
            (Status::NotRunning, "app1 is stopped(2:NOT_RUNNING).", false),
            (
                Status::InitializingMonitor,
                "app1 monitoring program is now on initialization phase(10:INITIALIZING_MONITOR). Wait for a while and try checking again.",
                false,
            ),
            (
                Status::PingFailing,
                "app1 master maybe down(20:PING_FAILING). master:h1",
                true,
            ),
            (
                Status::PingFailed,
                "app1 master maybe down(21:PING_FAILED). master:h1",
                true,
            ),
            (
                Status::RetryingMonitor,
                "app1 monitoring waits for retrying to monitor master again(30:RETRYING_MONITOR). Wait for a while and try checking again.",
                false,
            ),
            (
                Status::ConfigError,
                "app1 servers are not correctly configured(31:CONFIG_ERROR).",
                true,
            ),
            (
                Status::TimestampOld,
                "app1 is running, but master_ping.health is too old(32:TIMESTAMP_OLD). Maybe process hangs? master:h1",
                false,
            ),
            (
                Status::FailoverRunning,
                "app1 master is down and failover is running(50:FAILOVER_RUNNING). master:h1",
                true,
            ),
            (
                Status::FailoverError,
                "app1 master is down and failover was not successful(51:FAILOVER_ERROR). master:h1",
                true,
            ),
        ] {
            assert_eq!(
                message("app1", status, Some(7), Some("h1"), &[], None),
                text
            );
            let with_log = message("app1", status, Some(7), Some("h1"), &[], Some(log));
            let want = if logged {
                format!("{text}{check}")
            } else {
                text.to_string()
            };
            assert_eq!(with_log, want, "{status:?}");
        }
        // TIMESTAMP_OLD without a master says nothing after "hangs?".
        assert_eq!(
            message("app1", Status::TimestampOld, Some(7), None, &[], None),
            "app1 is running, but master_ping.health is too old(32:TIMESTAMP_OLD). Maybe process hangs?"
        );
    }

    #[test]
    fn the_last_failover_rides_along_and_check_status_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let mut f = StatusFile::new(dir.path(), "app1");
        f.set(Status::PingOk, Some("h1")).unwrap();
        let plain = std::fs::read_to_string(f.path()).unwrap();
        assert_eq!(plain, format!("{me}\t0:PING_OK\tmaster:h1\n"));
        for (result, status, name, words) in [
            (
                FailoverResult::DataNotRecovered,
                Status::PingOk,
                "data_not_recovered",
                "data was NOT recovered",
            ),
            (
                FailoverResult::StoppedBeforePromotion,
                Status::FailoverError,
                "stopped_before_promotion",
                "stopped before promotion",
            ),
        ] {
            f.set_last_failover(Some(LastFailover {
                result,
                started_unix: 1700000000,
            }));
            // None never erases what is known.
            f.set_last_failover(None);
            f.set(status, Some("h2")).unwrap();
            let text = std::fs::read_to_string(f.path()).unwrap();
            assert_eq!(
                text,
                format!(
                    "{me}\t{}:{}\tmaster:h2\tlast_failover:{name}@1700000000\n",
                    status.code(),
                    status.name()
                )
            );
            let line = StatusLine::parse(&text).unwrap();
            assert_eq!(line.last_failover.map(|l| l.result), Some(result));
            assert_eq!(line.master.as_deref(), Some("h2"));
            let r = check(
                dir.path(),
                "app1",
                None,
                Duration::from_secs(10),
                SystemTime::now(),
            );
            assert_eq!((r.status, r.code), (status, status.code()));
            let (first, second) = r.message.split_once('\n').unwrap();
            assert_eq!(
                first,
                message("app1", status, Some(me), Some("h2"), &[], None)
            );
            assert!(second.contains(words), "{second}");
            assert!(second.contains("app1.failover.1700000000.json"), "{second}");
        }
        // A complete failover adds nothing to MHA's text.
        f.set_last_failover(Some(LastFailover {
            result: FailoverResult::Complete,
            started_unix: 1700000001,
        }));
        f.set(Status::PingOk, Some("h2")).unwrap();
        let r = check(
            dir.path(),
            "app1",
            None,
            Duration::from_secs(10),
            SystemTime::now(),
        );
        assert_eq!(
            r.message,
            format!("app1 (pid:{me}) is running(0:PING_OK), master:h2")
        );
        assert_eq!(
            r.last_failover.map(|l| l.result),
            Some(FailoverResult::Complete)
        );
    }

    #[test]
    fn one_lock_per_application() {
        let dir = tempfile::tempdir().unwrap();
        let first = ManagerLock::acquire(dir.path(), "app1").unwrap();
        let err = ManagerLock::acquire(dir.path(), "app1").err().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "another manager (pid {}) already runs for this application: it holds {}",
                std::process::id(),
                first.path().display()
            )
        );
        assert!(ManagerLock::acquire(dir.path(), "app2").is_ok());
        drop(first);
        assert!(ManagerLock::acquire(dir.path(), "app1").is_ok());
    }
}
