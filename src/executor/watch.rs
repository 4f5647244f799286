//! Faster and surer death detection than MHA's ping counting alone:
//!
//! - a **watch connection** to the master that always has a statement outstanding
//!   (`SELECT SLEEP(..)`), so a crash (the kernel closes the server's sockets) is known within
//!   milliseconds, not at the next ping; the manager then gathers the crash evidence
//!   ([`crash_evidence`]) and the engine decides whether it is conclusive;
//! - **vantage points**: from every replica's host, over the SSH session the manager holds,
//!   open the master's MySQL port and wait for its handshake ([`vantage_round`]). A hung
//!   master or a lost host is then known after the ping window, whatever the replicas'
//!   heartbeat period, and a manager that alone lost its path never fails over.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::{Config, ServerConfig, Timeouts};
use crate::engine::detect::{CrashEvidence, HostView, VantageAnswer, VantageView};
use crate::sql::{self, DbError};
use crate::ssh::TcpProbe;
use crate::ssh::pool::pool;
use crate::topology::ThreadState;

use super::observe::target;

/// How the watch connection ended.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// Closed or reset while a statement was outstanding, with no error from the server.
    Lost(String),
    /// The server said it is shutting down, or killed the connection: a clean stop.
    Notice(String),
}

/// Server errors that announce a deliberate end: shutdown in progress (1053), connection
/// killed (1927, MariaDB), and their MySQL 8 forms (3169 session killed, 4031 disconnected).
const NOTICE_CODES: [u16; 4] = [1053, 1927, 3169, 4031];

pub struct Watch {
    pub events: mpsc::Receiver<WatchEvent>,
    /// `@@pid_file` of the master, read when the watch connected (absolute path).
    pub pid_file: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The statement the watch connection keeps outstanding: `SELECT SLEEP(60)`, again and again.
const WATCH_SLEEP_SECS: u64 = 60;
/// The pause before the watch connects again (the pings decide meanwhile): a retry pace, not
/// a bound on a wait.
const WATCH_RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Keep a watch connection to `master` until the returned value is dropped: connected
/// within `watch_connect_timeout`, each SLEEP given `sql_timeout` beyond its own length.
/// After a loss it reconnects after a second (the pings decide meanwhile).
pub fn spawn_watch(master: ServerConfig, timeouts: &Timeouts) -> Watch {
    let (tx, rx) = mpsc::channel(4);
    let pid_file = Arc::new(Mutex::new(master_pid_file(&master)));
    let pf = pid_file.clone();
    let connect_timeout = timeouts.watch_connect;
    let sleep_timeout = Duration::from_secs(WATCH_SLEEP_SECS) + timeouts.sql;
    let task = tokio::spawn(async move {
        loop {
            let Ok(mut db) = sql::connect(&target(&master), connect_timeout).await else {
                tokio::time::sleep(WATCH_RECONNECT_PAUSE).await;
                continue;
            };
            if master.master_pid_file.is_none()
                && let Ok(Some((p, d))) = db.pid_file().await
            {
                let path = if p.starts_with('/') || p.is_empty() {
                    p
                } else {
                    format!("{}/{p}", d.trim_end_matches('/'))
                };
                *pf.lock().unwrap_or_else(|e| e.into_inner()) = (!path.is_empty()).then_some(path);
            }
            let event = loop {
                match db.sleep_on_server(WATCH_SLEEP_SECS, sleep_timeout).await {
                    Ok(_) => continue,
                    Err(DbError::Lost { message, .. }) => break Some(WatchEvent::Lost(message)),
                    Err(e) if e.server_code().is_some_and(|c| NOTICE_CODES.contains(&c)) => {
                        break Some(WatchEvent::Notice(e.to_string()));
                    }
                    // A timeout (a hang) or anything else: the pings judge those.
                    Err(_) => break None,
                }
            };
            if let Some(ev) = event
                && tx.send(ev).await.is_err()
            {
                return;
            }
            tokio::time::sleep(WATCH_RECONNECT_PAUSE).await;
        }
    });
    Watch {
        events: rx,
        pid_file,
        task,
    }
}

/// Shell function `alive PID`: the process exists and is not being reaped. A zombie (or dead)
/// process holds no socket and no file any more, so it counts as gone. /proc/PID can be read
/// for any user's process: no permission is needed to look. Used by the crash check here and
/// by the failover's fencing kill.
pub(crate) const ALIVE_SH: &str =
    "alive() { [ -d /proc/$1 ] && ! grep -qs '^State:[[:space:]]*[ZX]' /proc/$1/status; }; ";

/// How long the host check's shell loop gives an exiting mysqld (20 × 0.05 s): its SSH
/// command is allowed that long on top of the crash check's window.
const HOST_CHECK_LOOP: Duration = Duration::from_secs(1);

fn master_pid_file(m: &ServerConfig) -> Option<String> {
    m.master_pid_file.as_ref().map(|p| p.display().to_string())
}

/// Over the held SSH session: does the process named in the pid file still exist?
pub async fn host_view(
    master: &ServerConfig,
    pid_file: Option<&str>,
    timeout: Duration,
) -> HostView {
    let Some(pid_file) = pid_file else {
        return HostView::Unknown {
            detail: "the master's pid file is not known".into(),
        };
    };
    let f = crate::hooks::shell_quote(pid_file);
    // The loop gives an exiting process up to 1 s; then the pid file tells: a clean shutdown removes
    // it before the process ends, a crash leaves it, a restart rewrites it.
    let cmd = format!(
        "{ALIVE_SH}if [ -f {f} ]; then p=$(head -c 20 {f} | tr -dc 0-9); i=0; \
         while [ -n \"$p\" ] && alive $p && [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done; \
         if [ -n \"$p\" ] && alive $p; then echo alive $p; \
         elif [ ! -f {f} ]; then echo nofile; \
         else q=$(head -c 20 {f} | tr -dc 0-9); \
         if [ \"$q\" != \"$p\" ] && [ -n \"$q\" ] && alive $q; then echo alive $q; else echo gone $p; fi; fi; \
         else echo nofile; fi"
    );
    match pool().exec(&master.ssh, &cmd, timeout).await {
        Ok(o) if o.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let mut w = text.split_whitespace();
            let pid = |w: Option<&str>| w.and_then(|p| p.parse::<u32>().ok());
            match w.next() {
                Some("alive") => match pid(w.next()) {
                    Some(pid) => HostView::ProcessAlive { pid },
                    None => HostView::Unknown {
                        detail: "unreadable pid file".into(),
                    },
                },
                Some("gone") => match pid(w.next()) {
                    Some(pid) => HostView::ProcessGone { pid },
                    None => HostView::Unknown {
                        detail: "empty pid file".into(),
                    },
                },
                Some("nofile") => HostView::NoPidFile,
                _ => HostView::Unknown {
                    detail: format!("unexpected answer {:?}", text.trim()),
                },
            }
        }
        Ok(o) => HostView::Unknown {
            detail: format!("the check exited {:?}", o.exit_status),
        },
        Err(e) => HostView::Unknown {
            detail: e.to_string(),
        },
    }
}

/// The crash evidence, gathered in parallel within about a second: a new connection, the
/// master's host over SSH, and the replicas (polled until each has lost the master, or
/// `within` passed).
pub async fn crash_evidence(
    config: &Arc<Config>,
    master_idx: usize,
    watch: String,
    pid_file: Option<String>,
    within: Duration,
) -> CrashEvidence {
    let master = config.servers[master_idx].clone();
    let connect = async {
        let started = std::time::Instant::now();
        loop {
            match sql::connect(&target(&master), within).await {
                Ok(c) => {
                    c.disconnect().await;
                    return (false, "it was accepted".to_string());
                }
                Err(DbError::Refused { .. }) => return (true, String::new()),
                // Accepted by the listening socket of a process being torn down, then reset:
                // ask again until the port is closed.
                Err(DbError::Lost { .. }) if started.elapsed() < within => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return (false, e.to_string()),
            }
        }
    };
    let host = host_view(&master, pid_file.as_deref(), within + HOST_CHECK_LOOP);
    let replicas = async {
        let started = std::time::Instant::now();
        loop {
            let sample = super::monitor::sample_replicas(config.clone(), master_idx, within).await;
            let views = super::monitor::answers(None, &sample, &master);
            let connected = views.iter().any(|v| {
                v.answer.as_ref().is_some_and(|a| {
                    a.replicates_from_master
                        && a.io_running == ThreadState::Yes
                        && a.last_io_errno == 0
                })
            });
            if !connected || started.elapsed() >= within {
                return views;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let ((connect_refused, connect_detail), host, replicas) = tokio::join!(connect, host, replicas);
    CrashEvidence {
        watch,
        connect_refused,
        connect_detail,
        host,
        replicas,
    }
}

/// From every other server's host, open the master's port and wait up to `timeout` for the
/// handshake.
pub async fn vantage_round(
    config: Arc<Config>,
    master_idx: usize,
    timeout: Duration,
) -> Vec<VantageView> {
    let master = config.servers[master_idx].clone();
    let mut set = JoinSet::new();
    for (i, s) in config.servers.iter().enumerate() {
        if i == master_idx {
            continue;
        }
        let (s, ip, port) = (s.clone(), master.ip.clone(), master.port);
        let (user, password) = (master.user.clone(), master.password.clone());
        set.spawn(async move {
            let p = pool()
                .probe_tcp(&s.ssh, &ip, port, timeout, Some((&user, &password)))
                .await;
            let answer = match p {
                TcpProbe::Answered(detail) => VantageAnswer::Answered { detail },
                TcpProbe::NoAnswer(detail) => VantageAnswer::NoAnswer { detail },
                TcpProbe::Unavailable(detail) => VantageAnswer::Unavailable { detail },
            };
            (
                i,
                VantageView {
                    name: s.display_name(),
                    answer,
                },
            )
        });
    }
    let mut out = Vec::new();
    while let Some(Ok(v)) = set.join_next().await {
        out.push(v);
    }
    out.sort_by_key(|v| v.0);
    out.into_iter().map(|(_, v)| v).collect()
}
