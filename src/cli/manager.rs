//! `mha manager`: the monitoring daemon.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::args::ManagerArgs;
use super::exit::Exit;
use crate::executor::monitor::{self, ManagerOptions, Outcome};

pub fn run(a: &ManagerArgs) -> anyhow::Result<Exit> {
    refuse_unsupported(a)?;
    if a.check_only && a.check_repl_health {
        // MHA's masterha_check_repl is this very command line.
        return super::check_repl::run(
            &a.conf,
            a.seconds_behind_master,
            !a.skip_ssh_check,
            a.ignore_fail_on_start,
            super::args::Output::Text,
        );
    }
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
        http_listen: a.http.or(config.app.http_listen),
    };
    let config = Arc::new(config);
    let outcome = super::runtime()?.block_on(monitor::run(opts, config.clone()));
    report(&outcome);
    if let Outcome::MasterDead { master, .. } = &outcome
        && let Some(s) = config.servers.iter().find(|s| &s.display_name() == master)
    {
        // masterha_master_monitor's lines (MHA never reached its `SSH:` line).
        print!("{}", master_monitor_lines(&s.hostname, &s.ip, s.port));
    }
    Ok(Exit::of_manager(&outcome))
}

/// What masterha_master_monitor printed on a dead master.
pub fn master_monitor_lines(hostname: &str, ip: &str, port: u16) -> String {
    format!("Master {hostname} is dead!\nIP Address: {ip} Port: {port}\n")
}

/// MHA options whose values mha does not support: refused with what to do instead.
fn refuse_unsupported(a: &ManagerArgs) -> Result<(), super::UsageError> {
    if a.interactive == Some(1) {
        return Err(super::UsageError(
            "--interactive=1: the manager never asks (MHA's masterha_manager ran its monitor \
             non-interactively too); for a failover that asks, run master_switch \
             --master_state=dead --interactive=1"
                .into(),
        ));
    }
    super::master_switch::refuse_ssh_reachable(&a.failover)
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
