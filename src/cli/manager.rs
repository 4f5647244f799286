//! `mha manager`: the monitoring daemon.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::args::ManagerArgs;
use super::exit::Exit;
use crate::executor::monitor::{self, ManagerOptions, Outcome};

pub fn run(a: &ManagerArgs) -> anyhow::Result<Exit> {
    let loaded = super::load(&a.conf)?;
    let config = loaded.config;
    if let Some(log) = a.manager_log.as_ref().or(config.app.manager_log.as_ref()) {
        super::logging::log_to_file(log)
            .with_context(|| format!("cannot open manager_log {}", log.display()))?;
    }
    let opts = ManagerOptions {
        conf: a.conf.conf.clone(),
        global: super::global_conf(&a.conf.global_conf),
        workdir: a.manager_workdir.clone(),
        monitor_only: a.monitor_only,
        check_only: a.check_only,
        wait_on_monitor_error: Duration::from_secs(a.wait_on_monitor_error),
        skip_ssh_check: a.skip_ssh_check,
        ignore_fail_on_start: a.ignore_fail_on_start,
        failover: (!a.monitor_only).then(|| {
            super::master_switch::failover_options(&config, &a.failover, a.manager_workdir.clone())
        }),
        wait_on_failover_error: Duration::from_secs(a.failover.wait_on_failover_error),
    };
    let outcome = super::runtime()?.block_on(monitor::run(opts, Arc::new(config)));
    report(&outcome);
    Ok(Exit::of_manager(&outcome))
}

/// What the operator reads at the end (the log has the details).
fn report(outcome: &Outcome) {
    match outcome {
        Outcome::Checked => println!("MySQL Replication Health is OK."),
        Outcome::ConfigError(e) => {
            tracing::error!("Error happened on checking configurations. {e}");
            eprintln!("error: start-up checks failed: {e}");
        }
        Outcome::AlreadyRunning(e) => eprintln!("error: {e}"),
        Outcome::FailoverFailed(e) => eprintln!("error: failover failed: {e}"),
        Outcome::Stopped | Outcome::FollowSwitch(_) | Outcome::MasterDead { .. } => {}
    }
}
