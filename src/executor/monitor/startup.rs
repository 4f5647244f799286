//! MHA's start-up: the topology must be healthy enough to fail over, and no other manager
//! may monitor the same master.

use std::time::Duration;

use tracing::{error, info, warn};

use crate::config::{Config, ServerConfig};
use crate::engine::checks::{self, CheckOptions};
use crate::engine::reason::Severity;
use crate::executor::check_repl;
use crate::executor::observe::{observe, target};
use crate::sql::{self, Session};

use super::ManagerOptions;
use super::error::{MonitorLockError, StartupError};

/// The advisory lock a manager holds on the master it monitors, under MHA's name.
pub const MONITOR_LOCK: &str = "MHA_Master_High_Availability_Monitor";

/// Start-up checks: the topology must be healthy enough to fail over. Returns the master.
pub(super) async fn startup_checks(
    config: &Config,
    opts: &ManagerOptions,
) -> Result<usize, StartupError> {
    let topo = observe(config, config.app.timeouts.sql).await;
    let checks_opts = CheckOptions {
        seconds_behind_master: u64::MAX / 2,
        detection_window: config.app.ping_interval.as_secs_f64()
            * f64::from(config.app.ping_failures),
        ignore_fail_on_start: opts.ignore_fail_on_start,
    };
    let mut a = checks::assess(&topo, config, &checks_opts);
    a.findings
        .extend(check_repl::manager_host_checks(config, &topo));
    if !opts.skip_ssh_check {
        a.findings.extend(check_repl::ssh_logins(config).await);
    }
    a.findings
        .extend(check_repl::binlog_file_checks(config, &topo, &a, !opts.skip_ssh_check).await);
    for f in &a.findings {
        match f.severity {
            Severity::Error => error!("{f}"),
            Severity::Warning => warn!("{f}"),
            Severity::Info => info!("{f}"),
        }
    }
    let m = match a.master {
        checks::MasterView::Alive { index } => index,
        checks::MasterView::Unreachable { index } => {
            let order = topo.servers[index].order;
            return Err(StartupError::MasterUnreachable {
                index: order,
                name: config.servers[order].display_name(),
            });
        }
        _ => return Err(StartupError::MasterNotFound),
    };
    let master_cfg = &config.servers[topo.servers[m].order];
    a.findings
        .extend(check_repl::status_hooks(config, master_cfg).await);
    if !a.healthy() {
        let errors = a
            .findings
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        return Err(StartupError::Unhealthy { errors });
    }
    if let Some(w) = a.ranking.winner() {
        info!(new_master = %w.block, "if the master died now, {} {} would be promoted", w.block, w.name);
    }
    if let Some(d) = check_repl::detection_cost(config, &topo, &a, !opts.skip_ssh_check) {
        d.to_string().lines().for_each(|line| info!("{line}"));
    }
    Ok(topo.servers[m].order)
}

/// MHA's monitor lock: the master's advisory lock, held by the returned session for as long
/// as the master is monitored. `timeout`: sql_timeout.
pub(super) async fn take_monitor_lock(
    master: &ServerConfig,
    timeout: Duration,
) -> Result<Session, MonitorLockError> {
    let mut db = sql::connect(&target(master), timeout).await?;
    if !db
        .try_advisory_lock("take the monitor lock", MONITOR_LOCK)
        .await?
    {
        return Err(MonitorLockError::MasterLockHeld);
    }
    Ok(db)
}
