//! `mha purge_relay_logs`, MHA's node cron tool: the relay logs of a replica that keeps them
//! (`relay_log_purge=0`, what position-based recovery needs) are removed without stalling the
//! SQL thread or the disk.
//!
//! Deleting a big file can block I/O for seconds on some filesystems, and the server deletes
//! relay logs itself only from its SQL thread. So, under the failover lock (a failover never
//! runs in the middle): every relay log is hard-linked into `--workdir`, `relay_log_purge` is
//! switched on, `FLUSH RELAY LOGS` makes the SQL thread move to a new file and purge the old
//! ones (the server only drops a link: nothing is freed yet), and `relay_log_purge` goes back
//! to 0. Then, with the lock given back, the links in the workdir are shrunk step by step and
//! removed: the disk space comes back a little at a time.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{info, warn};

use super::check_repl::{relay_dir, relay_files};
use super::failover::FAILOVER_LOCK;
use crate::sql::{self, DbError, Session, Target};
use crate::topology::ReplicaStatus;

/// How long the SQL thread gets to move past the flushed relay logs (MHA: "a few seconds").
/// The failover lock is held for this long at most, plus a few statements; a failover waits
/// longer than that for it (`failover::FAILOVER_LOCK_WAIT`).
pub const SQL_THREAD_WAIT: Duration = Duration::from_secs(5);

/// How much of a relay log is given back to the filesystem at a time, and the pause between.
pub const SHRINK_STEP: u64 = 16 * 1024 * 1024;
const SHRINK_PAUSE: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct PurgeOptions {
    pub target: Target,
    pub workdir: PathBuf,
    /// MHA's --disable_relay_log_purge: purge even when relay_log_purge=1 (and leave it 0).
    pub disable_relay_log_purge: bool,
    /// How long to wait for the failover lock (MHA: 200 s).
    pub lock_wait: Duration,
    /// Connect and statement timeout.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Old relay logs handed to the server to purge, and the links removed.
    Purged,
    /// relay_log_purge=1 and no --disable_relay_log_purge: the server purges by itself.
    PurgeEnabled,
}

#[derive(Debug, Clone, Serialize)]
pub struct PurgeReport {
    pub server: String,
    pub outcome: Outcome,
    pub relay_dir: String,
    /// The relay log the SQL thread was in before the flush.
    pub current: String,
    /// The relay logs hard-linked into the workdir.
    pub linked: Vec<String>,
    /// Of those, the ones the server purged.
    pub purged: Vec<String>,
    /// Bytes given back to the filesystem by removing the links.
    pub freed_bytes: u64,
    /// Hard links left by an earlier run that was interrupted, removed first.
    pub stale_links: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(
        "--host {host} is not an address of this host: purge_relay_logs works on the relay logs of the server running here (use 127.0.0.1, localhost or --socket)"
    )]
    NotLocal { host: String },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(
        "{server} is not a replica (SHOW SLAVE STATUS is empty): it has no relay logs to purge"
    )]
    NotReplica { server: String },
    #[error(
        "{server}: the failover lock ({lock}) stayed held for {secs} s: a failover is running; nothing was purged"
    )]
    LockBusy {
        server: String,
        lock: &'static str,
        secs: u64,
    },
    /// Bad --workdir: nothing was changed.
    #[error("--workdir {dir}: {why}")]
    Workdir { dir: String, why: String },
    #[error("{what} {path}: {error}")]
    Io {
        what: &'static str,
        path: String,
        error: std::io::Error,
    },
}

impl PurgeReport {
    /// Relay logs older than the one the SQL thread was in that the server did not purge
    /// (the SQL thread lags): they stay until a later run.
    pub fn older_kept(&self) -> usize {
        let current = self.current.rsplit('/').next().unwrap_or_default();
        self.linked
            .iter()
            .filter(|n| *n != current && !self.purged.contains(n))
            .count()
    }
}

impl PurgeError {
    /// A bad option value (exit 64), not a failure on the way.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            PurgeError::NotLocal { .. } | PurgeError::Workdir { .. }
        )
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PurgeError {
    let path = path.display().to_string();
    move |error| PurgeError::Io { what, path, error }
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0)?;
    (rc == 0).then(|| String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// MHA's rule: the relay logs are the local server's, so --host must be this host.
pub fn check_local(host: &str) -> Result<(), PurgeError> {
    let not_local = || PurgeError::NotLocal {
        host: host.to_string(),
    };
    if host == "localhost" || host.ends_with(".localhost") {
        return Ok(());
    }
    let ip: std::net::IpAddr = match host.trim_matches(['[', ']']).parse() {
        Ok(ip) => ip,
        Err(_) => {
            return match hostname() {
                Some(me) if me.eq_ignore_ascii_case(host) => Ok(()),
                _ => Err(not_local()),
            };
        }
    };
    // Only an address of one of this host's interfaces can be bound.
    std::net::UdpSocket::bind((ip, 0))
        .map(drop)
        .map_err(|_| not_local())
}

/// The relay logs (of `listing`, names in `dir`) up to and including `current`, in order.
pub fn up_to_current(listing: &[String], prefix: &str, current: &str) -> Vec<String> {
    let number = |name: &str| {
        name.rsplit_once('.')
            .and_then(|(_, n)| n.parse::<u64>().ok())
    };
    let Some(limit) = number(current) else {
        return vec![];
    };
    relay_files(&listing.join("\n"), prefix)
        .into_iter()
        .filter(|f| number(f).is_some_and(|n| n <= limit))
        .collect()
}

fn listing(dir: &Path) -> Result<Vec<String>, PurgeError> {
    let entries = std::fs::read_dir(dir).map_err(io("cannot list", dir))?;
    Ok(entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect())
}

/// The workdir must exist, be a directory other than the relay log directory (the links
/// carry the relay logs' names) and be on the same filesystem (hard links).
fn check_workdir(workdir: &Path, relay_dir: &Path) -> Result<(), PurgeError> {
    let bad = |why: String| PurgeError::Workdir {
        dir: workdir.display().to_string(),
        why,
    };
    let w = std::fs::metadata(workdir).map_err(|e| bad(e.to_string()))?;
    if !w.is_dir() {
        return Err(bad("not a directory".into()));
    }
    let r = std::fs::metadata(relay_dir).map_err(io("cannot read", relay_dir))?;
    if w.ino() == r.ino() && w.dev() == r.dev() {
        return Err(bad("is the relay log directory itself".into()));
    }
    if w.dev() != r.dev() {
        return Err(bad(format!(
            "not on the filesystem of the relay logs ({}): hard links cannot reach them",
            relay_dir.display()
        )));
    }
    Ok(())
}

/// Give a hard link's space back slowly, then remove it. Only the last link is shrunk: one
/// the server still has is the server's relay log, and only the link goes. Returns the bytes
/// given back.
pub async fn remove_slowly(path: &Path) -> Result<u64, PurgeError> {
    let meta = std::fs::metadata(path).map_err(io("cannot read", path))?;
    let mut freed = 0;
    if meta.nlink() == 1 {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io("cannot open", path))?;
        let mut size = meta.len();
        while size > 0 {
            size = size.saturating_sub(SHRINK_STEP);
            file.set_len(size).map_err(io("cannot shrink", path))?;
            if size > 0 {
                tokio::time::sleep(SHRINK_PAUSE).await;
            }
        }
        freed = meta.len();
    }
    std::fs::remove_file(path).map_err(io("cannot remove", path))?;
    Ok(freed)
}

/// Links an earlier, interrupted run left in the workdir: removed (slowly) before anything.
async fn remove_stale(workdir: &Path, prefix: &str) -> Result<(usize, u64), PurgeError> {
    let stale = relay_files(&listing(workdir)?.join("\n"), prefix);
    let mut freed = 0;
    for name in &stale {
        freed += remove_slowly(&workdir.join(name)).await?;
    }
    Ok((stale.len(), freed))
}

async fn status(db: &mut Session) -> Result<ReplicaStatus, PurgeError> {
    match db.replica_status().await? {
        Some(s) => Ok(s),
        None => Err(PurgeError::NotReplica {
            server: db.server().to_string(),
        }),
    }
}

pub async fn purge(opts: &PurgeOptions) -> Result<PurgeReport, PurgeError> {
    if opts.target.socket.is_none() {
        check_local(&opts.target.host)?;
    }
    let mut db = sql::connect(&opts.target, opts.timeout).await?;
    let server = db.server().to_string();
    let first = status(&mut db).await?;
    let was_on = db.relay_log_purge().await?;
    let (basename, datadir) = db.relay_log_location().await?;
    let (dir, prefix) = relay_dir(&basename, &datadir, &first.relay_log_file);
    let mut report = PurgeReport {
        server: server.clone(),
        outcome: Outcome::PurgeEnabled,
        relay_dir: dir.clone(),
        current: first.relay_log_file.clone(),
        linked: vec![],
        purged: vec![],
        freed_bytes: 0,
        stale_links: 0,
    };
    if was_on && !opts.disable_relay_log_purge {
        info!("{server}: relay_log_purge is enabled: the server purges its relay logs itself");
        db.disconnect().await;
        return Ok(report);
    }
    check_workdir(&opts.workdir, Path::new(&dir))?;
    let (stale, freed) = remove_stale(&opts.workdir, &prefix).await?;
    report.stale_links = stale;
    report.freed_bytes += freed;
    let lock = db
        .advisory_lock_within("take the failover lock", FAILOVER_LOCK, opts.lock_wait)
        .await?;
    if !lock {
        return Err(PurgeError::LockBusy {
            server,
            lock: FAILOVER_LOCK,
            secs: opts.lock_wait.as_secs(),
        });
    }
    let under_lock = purge_locked(&mut db, opts, &dir, &prefix, &mut report).await;
    let released = db.release_advisory_lock(FAILOVER_LOCK).await;
    db.disconnect().await;
    under_lock?;
    released?;
    for name in &report.linked {
        report.freed_bytes += remove_slowly(&opts.workdir.join(name)).await?;
    }
    report.outcome = Outcome::Purged;
    Ok(report)
}

/// Under the failover lock: the hard links, then the server's purge of the old relay logs.
async fn purge_locked(
    db: &mut Session,
    opts: &PurgeOptions,
    dir: &str,
    prefix: &str,
    report: &mut PurgeReport,
) -> Result<(), PurgeError> {
    // What the SQL thread reads now: a failover may have run while we waited.
    report.current = status(db).await?.relay_log_file;
    let current = report.current.rsplit('/').next().unwrap_or_default();
    let dir = Path::new(dir);
    for name in up_to_current(&listing(dir)?, prefix, current) {
        let (from, to) = (dir.join(&name), opts.workdir.join(&name));
        std::fs::hard_link(&from, &to).map_err(io("cannot hard-link", &from))?;
        report.linked.push(name);
    }
    info!(
        "{}: {} relay logs up to {current} hard-linked into {}",
        report.server,
        report.linked.len(),
        opts.workdir.display()
    );
    db.set_relay_log_purge(true).await?;
    let purged = flush_and_wait(db, dir, &report.linked, current).await;
    // Back to 0 whatever happened: position-based recovery needs the relay logs.
    let off = db.set_relay_log_purge(false).await;
    report.purged = purged?;
    off?;
    let lagging = report.older_kept();
    if lagging > 0 {
        warn!(
            "{}: the SQL thread did not move past {lagging} of the old relay logs within {:?} (it lags?): they stay until the next run",
            report.server, SQL_THREAD_WAIT
        );
    }
    Ok(())
}

/// `FLUSH RELAY LOGS`, then wait (up to `SQL_THREAD_WAIT`) until the server has purged every
/// linked relay log older than `current`: the SQL thread purges a relay log once it has
/// left it for the next, so the one it was in stays until it leaves the new one too (the next
/// run gets it). Returns the linked relay logs the server purged.
async fn flush_and_wait(
    db: &mut Session,
    dir: &Path,
    linked: &[String],
    current: &str,
) -> Result<Vec<String>, PurgeError> {
    db.flush_relay_logs().await?;
    let gone = || -> Vec<String> {
        linked
            .iter()
            .filter(|n| !dir.join(n).exists())
            .cloned()
            .collect()
    };
    let older = linked.iter().filter(|n| *n != current).count();
    let start = Instant::now();
    loop {
        let purged = gone();
        let older_gone = purged.iter().filter(|n| *n != current).count();
        if older_gone == older || start.elapsed() >= SQL_THREAD_WAIT {
            return Ok(purged);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn relay_logs_up_to_the_current_one_in_number_order() {
        let listing = names(&[
            "relay-bin.000010",
            "relay-bin.index",
            "relay-bin.000009",
            "relay-bin.000011",
            "relay-bin.000012",
            "relay-log.info",
            "mysql-bin.000001",
            "other-relay-bin.000001",
        ]);
        let cases: &[(&str, &[&str])] = &[
            (
                "relay-bin.000011",
                &["relay-bin.000009", "relay-bin.000010", "relay-bin.000011"],
            ),
            ("relay-bin.000009", &["relay-bin.000009"]),
            ("relay-bin.000001", &[]),
            ("", &[]),
            ("relay-bin", &[]),
        ];
        for (current, want) in cases {
            assert_eq!(
                up_to_current(&listing, "relay-bin", current),
                names(want),
                "{current}"
            );
        }
    }

    #[test]
    fn only_this_hosts_addresses_are_local() {
        for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
            assert!(check_local(host).is_ok(), "{host}");
        }
        // TEST-NET-1 is never configured here; a name that is not this host's.
        for host in ["192.0.2.1", "db-elsewhere.invalid"] {
            let e = check_local(host).unwrap_err();
            assert!(e.is_usage() && e.to_string().contains(host), "{e}");
        }
    }

    #[tokio::test]
    async fn only_the_last_link_is_shrunk() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, vec![7u8; (SHRINK_STEP + 5) as usize]).unwrap();
        std::fs::hard_link(&a, &b).unwrap();
        // Another link remains: the data must stay whole.
        assert_eq!(remove_slowly(&b).await.unwrap(), 0);
        assert_eq!(std::fs::metadata(&a).unwrap().len(), SHRINK_STEP + 5);
        assert!(!b.exists());
        assert_eq!(remove_slowly(&a).await.unwrap(), SHRINK_STEP + 5);
        assert!(!a.exists());
    }

    #[test]
    fn the_workdir_must_be_another_directory_on_the_same_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let relay = dir.path().join("data");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&relay).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        assert!(check_workdir(&work, &relay).is_ok());
        let cases = [
            (relay.clone(), "relay log directory itself"),
            (dir.path().join("missing"), "No such file"),
        ];
        for (w, want) in cases {
            let e = check_workdir(&w, &relay).unwrap_err();
            assert!(e.is_usage() && e.to_string().contains(want), "{e}");
        }
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let e = check_workdir(&file, &relay).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
    }
}
