//! The outside world as the failover and switchover see it: SQL ([`Db`], [`Connect`]), SSH
//! ([`Remote`]) and the reading of the whole topology. [`Live`] is the real one; the
//! step-order tests use a scripted fake that records the order of the calls.

use std::future::Future;
use std::time::Duration;

use crate::config::{Config, ServerConfig, SshConfig, Timeouts};
use crate::sql::seam::Connect;
use crate::sql::{DbError, Session};
use crate::ssh::seam::Remote;
use crate::ssh::{ExecOutput, SshError};
use crate::topology::Topology;

pub use crate::sql::seam::Db;

/// Everything the failover and switchover reach outside the process, hooks and local
/// processes aside (those stay real, in tests too).
pub trait World: Connect + Remote {
    /// How long each wait may take (the configuration's timeouts).
    fn timeouts(&self) -> &Timeouts;
    /// Every configured server's state (see `observe::observe_except`).
    fn observe(
        &self,
        config: &Config,
        timeout: Duration,
        known_down: Option<&str>,
    ) -> impl Future<Output = Topology> + Send;
}

/// The real servers and hosts, waited for as configured.
#[derive(Debug, Clone)]
pub struct Live {
    pub timeouts: Timeouts,
}

impl Live {
    pub fn new(timeouts: &Timeouts) -> Live {
        Live {
            timeouts: timeouts.clone(),
        }
    }
}

impl Connect for Live {
    type Db = Session;
    fn sql_timeout(&self) -> Duration {
        self.timeouts.sql
    }
    async fn connect(&self, s: &ServerConfig, timeout: Duration) -> Result<Session, DbError> {
        crate::sql::connect(&super::observe::target(s), timeout).await
    }
}

impl Remote for Live {
    async fn ssh_check(&self, ssh: &SshConfig, timeout: Duration) -> Result<(), SshError> {
        crate::ssh::pool::pool().check(ssh, timeout).await
    }
    async fn ssh_exec(
        &self,
        ssh: &SshConfig,
        command: &str,
        timeout: Duration,
    ) -> Result<ExecOutput, SshError> {
        crate::ssh::pool::pool().exec(ssh, command, timeout).await
    }
}

impl World for Live {
    fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }
    async fn observe(
        &self,
        config: &Config,
        timeout: Duration,
        known_down: Option<&str>,
    ) -> Topology {
        super::observe::observe_except(config, timeout, known_down).await
    }
}
