//! The command-line edge: parse, resolve settings, run, render text or JSON, map the outcome
//! to an exit code (exit.rs).

pub mod args;
mod check_config;
mod check_repl;
mod check_ssh;
mod conf_host;
pub mod exit;
pub mod generated;
mod logging;
mod manager;
mod master_switch;
pub mod purge_relay_logs;
mod rejoin;
mod sandbox;
mod secondary_check;
mod status;
mod switch_lead;

use std::ffi::OsString;

use anyhow::Context;
use clap::Parser;

use crate::config::{self, ConfigErrors, GlobalConf, Loaded};
use args::{Cli, Command, ConfArgs};
use exit::Exit;

/// MHA's program names, so `masterha_check_status` (or `purge_relay_logs`) as a symlink behaves like MHA's tool: each
/// with the arguments it stands for. The Debian package (.ci/deb) links each name to `mha`.
pub const MHA_PROGRAMS: &[(&str, &[&str])] = &[
    ("masterha_manager", &["manager"]),
    ("masterha_master_monitor", &["manager", "--monitor_only"]),
    ("masterha_check_ssh", &["check_ssh"]),
    ("masterha_check_repl", &["check_repl"]),
    ("masterha_check_status", &["check_status"]),
    ("masterha_master_switch", &["master_switch"]),
    ("masterha_conf_host", &["conf_host"]),
    ("masterha_stop", &["stop"]),
    ("masterha_secondary_check", &["secondary_check"]),
    // MHA's node tool, run by cron on each replica host.
    ("purge_relay_logs", &["purge_relay_logs"]),
];

fn mha_alias(program: &str) -> Option<&'static [&'static str]> {
    MHA_PROGRAMS
        .iter()
        .find(|(name, _)| *name == program)
        .map(|(_, args)| *args)
}

/// argv as clap should see it: a `masterha_*` program name becomes `mha <subcommand>`.
pub fn normalise_args(args: Vec<OsString>) -> Vec<OsString> {
    let program = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match mha_alias(&program) {
        Some(sub) => {
            let mut out: Vec<OsString> = vec!["mha".into()];
            out.extend(sub.iter().map(OsString::from));
            out.extend(args.into_iter().skip(1));
            out
        }
        None => args,
    }
}

pub fn run(args: Vec<OsString>) -> Exit {
    let cli = match Cli::try_parse_from(normalise_args(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Ok
                }
                _ => Exit::Usage,
            };
        }
    };
    logging::init(cli.log_format);
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            let code = exit_for(&e);
            eprintln!("error: {e:#}");
            code
        }
    }
}

/// A command line that parses but asks for something mha refuses (an MHA option whose
/// value mha does not support): exit 64, nothing changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Error categories → exit codes.
fn exit_for(e: &anyhow::Error) -> Exit {
    if e.downcast_ref::<UsageError>().is_some() {
        Exit::Usage
    } else if e.downcast_ref::<ConfigErrors>().is_some()
        || e.downcast_ref::<crate::config::write::WriteError>()
            .is_some()
        || matches!(
            e.downcast_ref::<crate::executor::rejoin::RejoinError>(),
            Some(
                crate::executor::rejoin::RejoinError::Config(_)
                    | crate::executor::rejoin::RejoinError::Write(_)
            )
        )
    {
        Exit::Config
    } else if matches!(
        e.downcast_ref::<crate::sandbox::SandboxError>(),
        Some(
            crate::sandbox::SandboxError::Unavailable { .. }
                | crate::sandbox::SandboxError::NotInBasedir { .. }
        )
    ) {
        Exit::Unavailable
    } else {
        Exit::Failure
    }
}

pub(crate) fn global_conf(args: &std::path::Path) -> GlobalConf {
    if args == std::path::Path::new(config::DEFAULT_GLOBAL_CONF) {
        GlobalConf::Default
    } else {
        GlobalConf::Explicit(args.to_path_buf())
    }
}

/// Load the configuration as every subcommand does, logging its warnings.
fn load(conf: &ConfArgs) -> anyhow::Result<Loaded> {
    let loaded = config::load(&conf.conf, &global_conf(&conf.global_conf))?;
    logging::apply_config(&loaded.config.app);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    Ok(loaded)
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn dispatch(command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::CheckConfig(a) => {
            let loaded = load(&a.conf)?;
            print!("{}", check_config::render(&loaded, a.output));
            Ok(Exit::Ok)
        }
        Command::Sandbox(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            rt.block_on(sandbox::run(a.action))
        }
        Command::Manager(a) => manager::run(&a),
        Command::CheckSsh(a) => {
            let loaded = load(&a.conf)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            rt.block_on(check_ssh::run(&loaded.config, a.output))
        }
        Command::CheckRepl(a) => {
            if a.mha_monitor.interactive == Some(1) {
                return Err(UsageError(
                    "--interactive=1: check_repl never asks; leave the option out".into(),
                )
                .into());
            }
            check_repl::run(
                &a.conf,
                a.seconds_behind_master,
                !a.skip_check_ssh,
                a.ignore_fail_on_start,
                a.output,
            )
        }
        Command::CheckStatus(a) => status::check_status(&a),
        Command::Stop(a) => status::stop(&a),
        Command::MasterSwitch(a) => master_switch::run(&a),
        Command::ConfHost(a) => conf_host::run(&a),
        Command::Rejoin(a) => rejoin::run(&a),
        Command::SecondaryCheck(a) => secondary_check::run(&a),
        Command::Completions { shell } => {
            generated::completions(shell, &mut std::io::stdout().lock())?;
            Ok(Exit::Ok)
        }
        Command::Man { dir } => {
            generated::man_pages(&dir)?;
            Ok(Exit::Ok)
        }
        Command::PurgeRelayLogs(a) => purge_relay_logs::run(&a),
    }
}
