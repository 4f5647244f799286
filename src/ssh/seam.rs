//! The SSH seam: the few remote commands failover and switchover run, as a trait. The
//! session pool ([`super::pool::SshPool`]) is the real implementation; step-order tests put a
//! scripted fake behind it.

use std::future::Future;
use std::time::Duration;

use super::{ExecOutput, SshError};
use crate::config::SshConfig;

pub trait Remote: Send + Sync + Clone + 'static {
    /// Can a command run on the host? `Err` says why.
    fn ssh_check(
        &self,
        ssh: &SshConfig,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SshError>> + Send;
    /// Run a shell command on the host.
    fn ssh_exec(
        &self,
        ssh: &SshConfig,
        command: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<ExecOutput, SshError>> + Send;
}
