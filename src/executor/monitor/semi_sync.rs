//! The manager's look at semi-sync, beside the pings: every `ping_interval` it reads the
//! master's semi-sync state (and, while its master side is on, whether each configured replica
//! is connected as a semi-sync replica). A fallback to asynchronous replication is logged once
//! when it happens and once when it ends; the last look before a death goes to the failover,
//! which states from it whether semi-sync guaranteed that no acknowledged commit was lost
//! (`engine::semi_sync::guarantee`). The look has its own connections: it never delays a ping
//! nor counts as one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::config::{Config, ServerConfig};
use crate::engine::semi_sync::{Change, LastSeen, change};
use crate::executor::observe::target;
use crate::sql::{self, Session};
use crate::topology::SemiSync;

/// One look: when, the master's state, and each other configured server's (block, name,
/// connected as a semi-sync replica).
#[derive(Debug, Clone)]
struct Look {
    at: Instant,
    master: SemiSync,
    replicas: Vec<(String, String, bool)>,
}

/// The looking task; stopped when dropped (the master it looks at is no longer monitored).
pub(super) struct SemiSyncWatch {
    master: String,
    last: Arc<Mutex<Option<Look>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SemiSyncWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SemiSyncWatch {
    /// Start looking at the master `master_idx` of `config`, every `every`.
    pub(super) fn spawn(config: &Config, master_idx: usize, every: Duration) -> SemiSyncWatch {
        let last = Arc::new(Mutex::new(None));
        let master = config.servers[master_idx].clone();
        let others: Vec<ServerConfig> = config
            .servers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != master_idx)
            .map(|(_, s)| s.clone())
            .collect();
        let timeout = config
            .app
            .timeouts
            .sql
            .min(every.max(Duration::from_secs(1)));
        let task = tokio::spawn(look_loop(master, others, every, timeout, last.clone()));
        SemiSyncWatch {
            master: config.servers[master_idx].display_name(),
            last,
            task,
        }
    }

    /// The last look, as of a death declared at `death`.
    pub(super) fn last_seen(&self, death: Instant) -> Option<LastSeen> {
        let look = self
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        Some(LastSeen {
            master: self.master.clone(),
            semi_sync: look.master,
            replicas: look.replicas,
            before_death: death.saturating_duration_since(look.at),
        })
    }
}

/// Held sessions by block; a failed read drops the server's session, the next round connects
/// again.
#[derive(Default)]
struct Sessions(BTreeMap<String, Session>);

impl Sessions {
    async fn semi_sync(&mut self, s: &ServerConfig, timeout: Duration) -> Option<SemiSync> {
        let mut db = match self.0.remove(&s.block) {
            Some(db) => db,
            None => sql::connect(&target(s), timeout).await.ok()?,
        };
        let read = tokio::time::timeout(timeout, db.semi_sync()).await;
        match read {
            Ok(Ok(state)) => {
                self.0.insert(s.block.clone(), db);
                state
            }
            _ => None,
        }
    }
}

async fn look_loop(
    master: ServerConfig,
    others: Vec<ServerConfig>,
    every: Duration,
    timeout: Duration,
    last: Arc<Mutex<Option<Look>>>,
) {
    let mut sessions = Sessions::default();
    let mut before: Option<SemiSync> = None;
    loop {
        let started = tokio::time::Instant::now();
        let at = Instant::now();
        if let Some(m) = sessions.semi_sync(&master, timeout).await {
            if let Some(b) = &before {
                log_change(&master, change(b, &m));
            }
            let mut replicas = Vec::new();
            if m.master_enabled {
                for s in &others {
                    let active = sessions
                        .semi_sync(s, timeout)
                        .await
                        .is_some_and(|r| r.slave_active);
                    replicas.push((s.block.clone(), s.display_name(), active));
                }
            }
            before = Some(m.clone());
            *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Look {
                at,
                master: m,
                replicas,
            });
        }
        tokio::time::sleep_until(started + every).await;
    }
}

fn log_change(master: &ServerConfig, c: Option<Change>) {
    let name = master.display_name();
    match c {
        Some(c @ Change::FellBack { .. }) => warn!(master = %name, "{name}: {c}"),
        Some(c @ Change::Recovered { .. }) => info!(master = %name, "{name}: {c}"),
        None => {}
    }
}
