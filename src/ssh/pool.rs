//! Held SSH sessions, one per host: a failover must not pay a key exchange (about 0.2 s) at the
//! moment it needs the dead master's binlog, nor detection when it asks the replicas' hosts
//! whether they still reach the master. The manager keeps every host's session warm in the
//! background ([`SshPool::keep_warm`]); one-shot commands fill the pool on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::{ExecOutput, SshError, SshSession, SshTarget, TcpProbe};
use crate::config::SshConfig;

#[derive(Default)]
pub struct SshPool {
    sessions: Mutex<HashMap<String, Arc<SshSession>>>,
}

/// The process's pool.
pub fn pool() -> &'static SshPool {
    static POOL: OnceLock<SshPool> = OnceLock::new();
    POOL.get_or_init(SshPool::default)
}

fn key(target: &SshTarget) -> String {
    format!("{}#{:?}", target.name(), target.key)
}

impl SshPool {
    fn cached(&self, k: &str) -> Option<Arc<SshSession>> {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(k) {
            Some(s) if !s.is_closed() => Some(s.clone()),
            Some(_) => {
                map.remove(k);
                None
            }
            None => None,
        }
    }

    /// A session already established to this host, if any (no connection attempt).
    pub fn held(&self, config: &SshConfig) -> Option<Arc<SshSession>> {
        self.cached(&key(&SshTarget::from_config(config).0))
    }

    /// The held session, or a new one (kept for next time).
    pub async fn session(&self, config: &SshConfig) -> Result<Arc<SshSession>, SshError> {
        let (target, _) = SshTarget::from_config(config);
        let k = key(&target);
        if let Some(s) = self.cached(&k) {
            return Ok(s);
        }
        let s = Arc::new(super::connect(&target).await?);
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(k, s.clone());
        Ok(s)
    }

    /// Drop the held session (after it failed a command: the next use reconnects).
    pub fn forget(&self, config: &SshConfig) {
        let k = key(&SshTarget::from_config(config).0);
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&k);
    }

    /// Run a command over the held session. A session that breaks under the command is
    /// forgotten; when it was a held one, the command is tried once more on a new session.
    pub async fn exec(
        &self,
        config: &SshConfig,
        command: &str,
        timeout: Duration,
    ) -> Result<ExecOutput, SshError> {
        let was_held = self.held(config).is_some();
        let s = self.session(config).await?;
        match s.exec(command, timeout).await {
            Ok(o) => Ok(o),
            Err(SshError::Exec { .. }) if was_held => {
                self.forget(config);
                self.session(config).await?.exec(command, timeout).await
            }
            Err(e) => {
                self.forget(config);
                Err(e)
            }
        }
    }

    /// Can a command run on the host (`exit 0` over the held session, or a new one)? `Err`
    /// says why. Detection and the failover's phase 2 ask this.
    pub async fn check(&self, config: &SshConfig, timeout: Duration) -> Result<(), SshError> {
        let o = self.exec(config, "exit 0", timeout).await?;
        if o.success() {
            return Ok(());
        }
        Err(SshError::Exec {
            target: SshTarget::from_config(config).0.name(),
            message: format!("`exit 0` ended with {:?}", o.exit_status),
        })
    }

    /// [`SshSession::probe_tcp`] from this host; `Unavailable` when no session can be had.
    pub async fn probe_tcp(
        &self,
        config: &SshConfig,
        host: &str,
        port: u16,
        timeout: Duration,
        login: Option<(&str, &crate::secret::Secret)>,
    ) -> TcpProbe {
        let session = match self.held(config) {
            Some(s) => s,
            None => match tokio::time::timeout(timeout, self.session(config)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return TcpProbe::Unavailable(e.to_string()),
                Err(_) => {
                    return TcpProbe::Unavailable(format!(
                        "{}: no SSH session within {:.1} s",
                        SshTarget::from_config(config).0.name(),
                        timeout.as_secs_f64()
                    ));
                }
            },
        };
        let p = session.probe_tcp(host, port, timeout, login).await;
        if matches!(p, TcpProbe::Unavailable(_)) {
            self.forget(config);
        }
        p
    }

    /// Keep a session to every host open, reconnecting in the background every `every`, until
    /// the returned task is aborted.
    pub fn keep_warm(
        &'static self,
        configs: Vec<SshConfig>,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let mut set = tokio::task::JoinSet::new();
                for c in &configs {
                    if self.held(c).is_none() {
                        let c = c.clone();
                        set.spawn(async move {
                            if let Err(e) = self.session(&c).await {
                                tracing::debug!("SSH session to {} not established: {e}", c.host);
                            }
                        });
                    }
                }
                while set.join_next().await.is_some() {}
                tokio::time::sleep(every).await;
            }
        })
    }
}
