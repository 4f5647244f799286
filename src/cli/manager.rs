//! `mha manager`: the monitoring daemon.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use std::path::Path;

use super::args::{ConfArgs, ManagerArgs};
use super::exit::Exit;
use crate::config::Config;
use crate::executor::monitor::{self, App, AppSet, ManagerOptions, Outcome};

pub fn run(a: &ManagerArgs) -> anyhow::Result<Exit> {
    refuse_unsupported(a)?;
    match (a.conf.as_slice(), &a.conf_dir) {
        ([conf], None) => run_one(a, &conf_args(a, conf)),
        _ => run_many(a),
    }
}

fn conf_args(a: &ManagerArgs, conf: &Path) -> ConfArgs {
    ConfArgs {
        conf: conf.to_path_buf(),
        global_conf: a.global_conf.clone(),
    }
}

/// One application, as MHA's masterha_manager.
fn run_one(a: &ManagerArgs, conf: &ConfArgs) -> anyhow::Result<Exit> {
    if a.check_only && a.check_repl_health {
        // MHA's masterha_check_repl is this very command line.
        return super::check_repl::run(
            conf,
            a.seconds_behind_master,
            !a.skip_ssh_check,
            a.ignore_fail_on_start,
            super::args::Output::Text,
        );
    }
    let loaded = super::load(conf)?;
    let config = loaded.config;
    if let Some(log) = a.manager_log.as_ref().or(config.app.manager_log.as_ref()) {
        super::logging::log_to_file(log)
            .with_context(|| format!("cannot open manager_log {}", log.display()))?;
    }
    let opts = options(a, &conf.conf, &config);
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

fn options(a: &ManagerArgs, conf: &Path, config: &Config) -> ManagerOptions {
    ManagerOptions {
        conf: conf.to_path_buf(),
        global: super::global_conf(&a.global_conf),
        workdir: a.manager_workdir.clone(),
        monitor_only: a.monitor_only,
        check_only: a.check_only,
        wait_on_monitor_error: Duration::from_secs(a.wait_on_monitor_error),
        skip_ssh_check: a.skip_ssh_check,
        ignore_fail_on_start: a.ignore_fail_on_start,
        failover: (!a.monitor_only).then(|| {
            super::master_switch::failover_options(config, &a.failover, a.manager_workdir.clone())
        }),
        wait_on_failover_error: Duration::from_secs(a.failover.wait_on_failover_error),
        http_listen: a.http.or(config.app.http_listen),
    }
}

/// Several applications in one process (`--conf-dir`, or `--conf` repeated): each in its own
/// task, with its own workdir, status file, lock and manager_log (lines of an application
/// without one go to --manager_log or standard error, tagged with its name).
fn run_many(a: &ManagerArgs) -> anyhow::Result<Exit> {
    if a.manager_workdir.is_some() {
        return Err(super::UsageError(
            "--manager_workdir with several applications: each application keeps its own \
             manager_workdir; set it in each configuration file"
                .into(),
        )
        .into());
    }
    if a.http.is_some() {
        return Err(super::UsageError(
            "--http with several applications: each application serves on its own address; \
             set http_listen in each configuration file"
                .into(),
        )
        .into());
    }
    if a.check_repl_health {
        return Err(super::UsageError(
            "--check_repl_health checks one application: give a single --conf".into(),
        )
        .into());
    }
    if let Some(dir) = &a.conf_dir
        && !dir.is_dir()
    {
        return Err(
            super::UsageError(format!("--conf-dir {}: not a directory", dir.display())).into(),
        );
    }
    if let Some(log) = &a.manager_log {
        super::logging::log_to_file(log)
            .with_context(|| format!("cannot open manager_log {}", log.display()))?;
    }
    let prepare = {
        let a = a.clone();
        move |file: &Path| prepare_app(&a, file)
    };
    let apps = AppSet::new(a.conf_dir.clone(), a.conf.clone(), Box::new(prepare));
    let ended = super::runtime()?.block_on(apps.run());
    let worst = ended
        .iter()
        .map(|(_, o)| Exit::of_manager(o))
        .find(|e| *e != Exit::Ok)
        .unwrap_or(Exit::Ok);
    Ok(worst)
}
/// One application of a manager that runs several: its configuration, options and log span.
fn prepare_app(a: &ManagerArgs, file: &Path) -> Result<App, String> {
    let loaded = super::load(&conf_args(a, file)).map_err(|e| format!("{e:#}"))?;
    let config = loaded.config;
    let span = super::logging::app_span(&config.app_name, config.app.manager_log.as_deref())
        .map_err(|e| format!("cannot open its manager_log: {e}"))?;
    Ok(App {
        name: config.app_name.clone(),
        workdir: config.app.manager_workdir.clone(),
        opts: options(a, file, &config),
        config: Arc::new(config),
        span,
    })
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
