//! Command-line definitions. Option names are MHA's (`--conf`, `--master_state`, ...); every
//! subcommand also answers to its kebab-case name, and long options to their kebab spelling.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::exit::{CHECK_STATUS_HELP, EXIT_CODES_HELP, SECONDARY_CHECK_HELP};

#[derive(Debug, Parser)]
#[command(
    name = "mha",
    version,
    about = "MySQL/MariaDB master high availability: monitoring, loss-minimising failover, online switchover",
    after_help = EXIT_CODES_HELP,
    disable_help_subcommand = true,
    propagate_version = true
)]
pub struct Cli {
    /// Log format on standard error or in manager_log: human (the default), json, or mha
    /// (MHA's `Mon Nov 25 10:00:00 2026 - [info] ...` lines). Without it, the `log_format`
    /// key of the configuration decides.
    #[arg(long = "log-format", alias = "log_format", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
    /// MHA's own line format, for existing log parsers and alerting rules.
    Mha,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Monitor the master and fail over when it dies (masterha_manager).
    #[command(name = "manager", after_help = EXIT_CODES_HELP)]
    Manager(ManagerArgs),
    /// Check SSH from the manager to every server and between all servers (masterha_check_ssh).
    #[command(name = "check_ssh", alias = "check-ssh", after_help = EXIT_CODES_HELP)]
    CheckSsh(CheckSshArgs),
    /// Check replication health and failover readiness (masterha_check_repl).
    #[command(name = "check_repl", alias = "check-repl", after_help = EXIT_CODES_HELP)]
    CheckRepl(CheckReplArgs),
    /// Show whether the manager of an application runs and what it sees (masterha_check_status).
    #[command(name = "check_status", alias = "check-status", after_help = CHECK_STATUS_HELP)]
    CheckStatus(StatusArgs),
    /// Fail over from a dead master or switch an alive one by hand (masterha_master_switch).
    #[command(name = "master_switch", alias = "master-switch", after_help = EXIT_CODES_HELP)]
    MasterSwitch(MasterSwitchArgs),
    /// Add or delete a server block in the configuration file (masterha_conf_host).
    #[command(name = "conf_host", alias = "conf-host", after_help = EXIT_CODES_HELP)]
    ConfHost(ConfHostArgs),
    /// Bring a deposed master back as a replica of the current master, if everything it has
    /// is in the master's history.
    #[command(name = "rejoin", after_help = super::exit::REJOIN_EXIT_CODES_HELP)]
    Rejoin(RejoinArgs),
    /// Stop the running manager of an application (masterha_stop).
    #[command(name = "stop", after_help = EXIT_CODES_HELP)]
    Stop(StatusArgs),
    /// Ask other hosts, over SSH, whether they reach the master (masterha_secondary_check):
    /// the command MHA's `secondary_check_script` names.
    #[command(name = "secondary_check", alias = "secondary-check", after_help = SECONDARY_CHECK_HELP)]
    SecondaryCheck(SecondaryCheckArgs),
    /// Purge a replica's relay logs without stalling its SQL thread, under the failover lock
    /// (MHA's purge_relay_logs, the cron tool of each replica host).
    #[command(name = "purge_relay_logs", alias = "purge-relay-logs", after_help = super::exit::PURGE_RELAY_LOGS_HELP)]
    PurgeRelayLogs(super::purge_relay_logs::PurgeRelayLogsArgs),
    /// Validate a configuration and print the effective values, secrets masked.
    #[command(name = "check_config", alias = "check-config", after_help = EXIT_CODES_HELP)]
    CheckConfig(CheckConfigArgs),
    /// Run a real local cluster (mariadbd + sshd on 127.0.0.1) to try mha on.
    #[command(name = "sandbox", after_help = EXIT_CODES_HELP)]
    Sandbox(SandboxArgs),
    /// Print a shell completion script on standard output: bash, zsh, fish, elvish or
    /// powershell (e.g. `mha completions bash > /etc/bash_completion.d/mha`).
    #[command(name = "completions", after_help = EXIT_CODES_HELP)]
    Completions {
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write the man pages of mha and of every subcommand into DIR (mha.1, mha-check_repl.1,
    /// ...), e.g. ~/.cargo/share/man/man1 after `cargo install`; the Debian package has them.
    #[command(name = "man", after_help = EXIT_CODES_HELP)]
    Man {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ConfArgs {
    /// Application configuration file (TOML `app1.toml` or MHA's INI `app1.cnf`).
    #[arg(long, value_name = "FILE")]
    pub conf: PathBuf,
    /// Global defaults file; only its [server default] block is read.
    #[arg(long = "global_conf", alias = "global-conf", value_name = "FILE", default_value = crate::config::DEFAULT_GLOBAL_CONF)]
    pub global_conf: PathBuf,
}

/// Options shared by the automatic failover (manager) and `master_switch --master_state=dead`.
#[derive(Debug, Clone, Args)]
pub struct FailoverArgs {
    /// Fail over even if the last failover was recent or failed (removes the marker files).
    #[arg(long = "ignore_last_failover", alias = "ignore-last-failover")]
    pub ignore_last_failover: bool,
    /// Minutes during which a new failover after the last one is refused.
    #[arg(
        long = "last_failover_minute",
        alias = "last-failover-minute",
        default_value_t = 480,
        value_name = "MINUTES"
    )]
    pub last_failover_minute: u64,
    /// Seconds to wait before exiting after a failover error (daemontools pacing).
    #[arg(
        long = "wait_on_failover_error",
        alias = "wait-on-failover-error",
        default_value_t = 0,
        value_name = "SECONDS"
    )]
    pub wait_on_failover_error: u64,
    /// After a failover that recovered every replica (not a partial one), delete the dead
    /// master's block from the config file; with --master_state=alive (as
    /// --remove_orig_master_conf), the old master's after a complete switch.
    #[arg(long = "remove_dead_master_conf", aliases = ["remove-dead-master-conf", "remove_orig_master_conf"])]
    pub remove_dead_master_conf: bool,
    /// Fail over even when a configured binlog server ([binlogN]) does not answer SSH
    /// (without it the failover is refused before anything changes).
    #[arg(
        long = "ignore_binlog_server_error",
        alias = "ignore-binlog-server-error"
    )]
    pub ignore_binlog_server_error: bool,
    /// Fail over even when the dead master's host answers SSH but its binlog cannot be read
    /// (file not in master_binlog_dir, unreadable, ...): what no replica received is lost and
    /// listed as NOT recovered (exit 11). Without it the failover stops before promotion
    /// (exit 12).
    #[arg(long = "ignore_binlog_save_error", alias = "ignore-binlog-save-error")]
    pub ignore_binlog_save_error: bool,
    /// Do not save the dead master's binlog tail over SSH.
    #[arg(long = "skip_save_master_binlog", alias = "skip-save-master-binlog")]
    pub skip_save_master_binlog: bool,
    /// Do not repoint the other replicas at the new master.
    #[arg(long = "skip_change_master", alias = "skip-change-master")]
    pub skip_change_master: bool,
    /// Leave read_only on at the new master.
    #[arg(long = "skip_disable_read_only", alias = "skip-disable-read-only")]
    pub skip_disable_read_only: bool,
    /// 1 = wait until every replica has applied all GTIDs of the new master.
    #[arg(long = "wait_until_gtid_in_sync", alias = "wait-until-gtid-in-sync", default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub wait_until_gtid_in_sync: u8,
    /// Promote this server (must be one of the configured replicas).
    #[arg(
        long = "new_master_host",
        alias = "new-master-host",
        value_name = "HOST"
    )]
    pub new_master_host: Option<String>,
    /// Port of --new_master_host.
    #[arg(
        long = "new_master_port",
        alias = "new-master-port",
        value_name = "PORT"
    )]
    pub new_master_port: Option<u16>,
    /// Print the plan (ranking, steps, hooks, predicted loss) and change nothing.
    #[arg(long = "dry-run", alias = "dry_run")]
    pub dry_run: bool,
    /// MHA's internal hand-over from its monitor (0 = not reachable, 1 = reachable, 2 =
    /// check): only 2 is accepted, mha checks the dead master's SSH itself.
    #[arg(long = "ssh_reachable", alias = "ssh-reachable", value_name = "0|1|2", value_parser = clap::value_parser!(u8).range(0..=2), hide = true)]
    pub ssh_reachable: Option<u8>,
}

#[derive(Debug, Clone, Args)]
pub struct ManagerArgs {
    /// Application configuration file; repeat it to watch several applications in one manager.
    #[arg(long, value_name = "FILE", required_unless_present = "conf_dir")]
    pub conf: Vec<PathBuf>,
    /// Watch every application configured in DIR (its *.toml and *.cnf files), one task each;
    /// SIGHUP reads the directory again, adding and removing applications.
    #[arg(long = "conf-dir", alias = "conf_dir", value_name = "DIR")]
    pub conf_dir: Option<PathBuf>,
    /// Global defaults file; only its [server default] block is read.
    #[arg(long = "global_conf", alias = "global-conf", value_name = "FILE", default_value = crate::config::DEFAULT_GLOBAL_CONF)]
    pub global_conf: PathBuf,
    /// Override manager_workdir.
    #[arg(long = "manager_workdir", aliases = ["workdir", "manager-workdir"], value_name = "DIR")]
    pub manager_workdir: Option<PathBuf>,
    /// Override manager_log.
    #[arg(long = "manager_log", aliases = ["log_output", "manager-log"], value_name = "FILE")]
    pub manager_log: Option<PathBuf>,
    /// Seconds to wait before exiting after a monitoring error (daemontools pacing).
    #[arg(
        long = "wait_on_monitor_error",
        alias = "wait-on-monitor-error",
        default_value_t = 0,
        value_name = "SECONDS"
    )]
    pub wait_on_monitor_error: u64,
    /// Skip the start-up SSH checks.
    #[arg(long = "skip_ssh_check", aliases = ["skip_check_ssh", "skip-ssh-check"])]
    pub skip_ssh_check: bool,
    /// Start even if replicas with ignore_fail=1 are down.
    #[arg(long = "ignore_fail_on_start", alias = "ignore-fail-on-start")]
    pub ignore_fail_on_start: bool,
    /// Run the start-up checks and exit.
    #[arg(long = "check_only", alias = "check-only")]
    pub check_only: bool,
    /// Monitor only: exit with code 20 when the master is dead, without failing over.
    /// (masterha_master_monitor is `manager --monitor_only`; saying it again is fine.)
    #[arg(
        long = "monitor_only",
        alias = "monitor-only",
        overrides_with = "monitor_only"
    )]
    pub monitor_only: bool,
    /// With --check_only: also check replication health as check_repl does (MHA's
    /// masterha_check_repl is `--check_only --check_repl_health`).
    #[arg(long = "check_repl_health", alias = "check-repl-health")]
    pub check_repl_health: bool,
    /// With --check_only --check_repl_health: a replica further behind than this is NOT OK.
    #[arg(
        long = "seconds_behind_master",
        alias = "seconds-behind-master",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub seconds_behind_master: u64,
    /// 0 only: the manager never asks (MHA's masterha_manager passes --interactive=0 itself).
    #[arg(long, value_name = "0", value_parser = clap::value_parser!(u8).range(0..=1))]
    pub interactive: Option<u8>,
    /// Serve /metrics, /status and /health on this IP:PORT (overrides http_listen).
    #[arg(long, value_name = "IP:PORT")]
    pub http: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub failover: FailoverArgs,
}

#[derive(Debug, Args)]
pub struct CheckSshArgs {
    #[command(flatten)]
    pub conf: ConfArgs,
    /// Output format: text (the default) or json (one schema per command: docs/output-json.md).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct CheckReplArgs {
    #[command(flatten)]
    pub conf: ConfArgs,
    /// A replica further behind than this is reported NOT OK.
    #[arg(
        long = "seconds_behind_master",
        alias = "seconds-behind-master",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub seconds_behind_master: u64,
    /// Skip the SSH checks.
    #[arg(long = "skip_check_ssh", aliases = ["skip_ssh_check", "skip-check-ssh"])]
    pub skip_check_ssh: bool,
    /// A replica that is down but has ignore_fail=1 is not an error (as MHA).
    #[arg(long = "ignore_fail_on_start", alias = "ignore-fail-on-start")]
    pub ignore_fail_on_start: bool,
    #[command(flatten)]
    pub mha_monitor: MonitorNoOps,
    /// Output format: text (the default) or json (one schema per command: docs/output-json.md).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// Options MHA's masterha_check_repl accepts because it runs MHA's monitor with
/// `--check_only --check_repl_health`, and that have no effect there (MHA logs a check to
/// the screen, keeps no files and never waits): accepted so that MHA command lines keep
/// working, and hidden from --help.
#[derive(Debug, Args)]
pub struct MonitorNoOps {
    #[arg(long = "manager_workdir", aliases = ["workdir", "manager-workdir"], value_name = "DIR", hide = true)]
    pub manager_workdir: Option<PathBuf>,
    #[arg(long = "manager_log", aliases = ["log_output", "manager-log"], value_name = "FILE", hide = true)]
    pub manager_log: Option<PathBuf>,
    #[arg(
        long = "wait_on_monitor_error",
        alias = "wait-on-monitor-error",
        value_name = "SECONDS",
        hide = true
    )]
    pub wait_on_monitor_error: Option<u64>,
    #[arg(long, value_name = "0|1", value_parser = clap::value_parser!(u8).range(0..=1), hide = true)]
    pub interactive: Option<u8>,
    #[arg(long = "check_only", alias = "check-only", hide = true)]
    pub check_only: bool,
    #[arg(long = "check_repl_health", alias = "check-repl-health", hide = true)]
    pub check_repl_health: bool,
    #[arg(long = "monitor_only", alias = "monitor-only", hide = true)]
    pub monitor_only: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Application configuration file; or --app (with --manager_workdir, or alone: then
    /// /usr/local/masterha/conf/APP.cnf, as MHA), or --all.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["app", "all"])]
    pub conf: Option<PathBuf>,
    /// Global defaults file.
    #[arg(long = "global_conf", alias = "global-conf", value_name = "FILE", default_value = crate::config::DEFAULT_GLOBAL_CONF)]
    pub global_conf: PathBuf,
    /// Application name (the config file name without extension).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Every application daemontools runs: each /service/masterha_APP, with
    /// /usr/local/masterha/conf/APP.cnf (or --basedir/APP as its workdir). Exit 1 if any
    /// is not fine.
    #[arg(long, conflicts_with_all = ["conf", "app"])]
    pub all: bool,
    /// With --all: the workdir of APP is DIR/APP (instead of reading its conf file).
    #[arg(long, value_name = "DIR", requires = "all")]
    pub basedir: Option<PathBuf>,
    /// With --all --basedir: the log of APP is DIR/APP/APP.log.
    #[arg(long, value_name = "DIR", requires = "basedir")]
    pub baselog: Option<PathBuf>,
    /// Directory holding the application's status file.
    #[arg(long = "manager_workdir", aliases = ["status_dir", "workdir", "manager-workdir"], value_name = "DIR")]
    pub manager_workdir: Option<PathBuf>,
    /// The manager's log, named in `Check LOG for details.` (with --conf, manager_log of
    /// the file wins, as in MHA).
    #[arg(long = "manager_log", aliases = ["log_output", "manager-log"], value_name = "FILE")]
    pub manager_log: Option<PathBuf>,
    /// Seconds after which a not refreshed status file means the manager hangs.
    #[arg(
        long = "ping_limit",
        alias = "ping-limit",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    pub ping_limit: u64,
    /// (stop) Kill the manager if it does not stop within --abort_timeout, even during a
    /// failover; when the manager is gone but its hooks still run (PARTIALLY_RUNNING), kill
    /// those.
    #[arg(long)]
    pub abort: bool,
    /// (stop) Seconds to wait for a graceful stop.
    #[arg(
        long = "abort_timeout",
        alias = "abort-timeout",
        default_value_t = 5,
        value_name = "SECONDS"
    )]
    pub abort_timeout: u64,
    /// Where --all looks for daemontools services (MHA: /service).
    #[arg(
        long = "service_dir",
        value_name = "DIR",
        default_value = "/service",
        hide = true
    )]
    pub service_dir: PathBuf,
    /// Where --app and --all find APP.cnf (MHA: /usr/local/masterha/conf).
    #[arg(
        long = "default_confdir",
        value_name = "DIR",
        default_value = "/usr/local/masterha/conf",
        hide = true
    )]
    pub default_confdir: PathBuf,
    /// Output format: text (the default) or json (one schema per command: docs/output-json.md).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MasterState {
    Dead,
    Alive,
}

#[derive(Debug, Args)]
pub struct MasterSwitchArgs {
    #[command(flatten)]
    pub conf: ConfArgs,
    /// dead = fail over from a dead master; alive = planned online switch.
    #[arg(long = "master_state", alias = "master-state", value_enum)]
    pub master_state: MasterState,
    /// The dead master's hostname (--master_state=dead).
    #[arg(
        long = "dead_master_host",
        alias = "dead-master-host",
        value_name = "HOST",
        required_if_eq("master_state", "dead")
    )]
    pub dead_master_host: Option<String>,
    /// The dead master's IP address.
    #[arg(long = "dead_master_ip", alias = "dead-master-ip", value_name = "IP")]
    pub dead_master_ip: Option<String>,
    /// The dead master's port (default: the configured port of --dead_master_host).
    #[arg(
        long = "dead_master_port",
        alias = "dead-master-port",
        value_name = "PORT"
    )]
    pub dead_master_port: Option<u16>,
    /// 0 = do not ask for confirmation.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub interactive: u8,
    /// (alive) Make the old master a replica of the new one.
    #[arg(long = "orig_master_is_new_slave", alias = "orig-master-is-new-slave")]
    pub orig_master_is_new_slave: bool,
    /// (alive) Refuse when a replica lags more than N seconds or an update runs longer.
    #[arg(
        long = "running_updates_limit",
        alias = "running-updates-limit",
        default_value_t = 1,
        value_name = "SECONDS"
    )]
    pub running_updates_limit: u64,
    /// (alive) Refuse when a query on the new master runs longer than N seconds.
    #[arg(
        long = "running_seconds_limit",
        alias = "running-seconds-limit",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    pub running_seconds_limit: u64,
    /// (alive) A replica further behind than this refuses the switch.
    #[arg(
        long = "seconds_behind_master",
        alias = "seconds-behind-master",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub seconds_behind_master: u64,
    /// (alive) Do not take FLUSH TABLES WITH READ LOCK on the old master.
    #[arg(long = "skip_lock_all_tables", alias = "skip-lock-all-tables")]
    pub skip_lock_all_tables: bool,
    /// (alive) FLUSH NO_WRITE_TO_BINLOG TABLES on the old master before its writes are
    /// blocked: 1 = yes, 0 = no, 2 (MHA's default) = ask with --interactive=1, else yes.
    #[arg(long = "flush_tables", alias = "flush-tables", value_name = "0|1|2", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub flush_tables: u8,
    /// Run the checks only (phase 1), change nothing; exit 0 when they pass.
    #[arg(long = "check_only", alias = "check-only")]
    pub check_only: bool,
    /// Override manager_workdir (status file, markers, saved binlogs, records).
    #[arg(long = "manager_workdir", aliases = ["workdir", "manager-workdir"], value_name = "DIR")]
    pub manager_workdir: Option<PathBuf>,
    /// Log to FILE (dead: also manager_log of the configuration with --interactive=0, as MHA;
    /// with --interactive=1 the log stays on the screen, as MHA).
    #[arg(long = "manager_log", aliases = ["log_output", "manager-log"], value_name = "FILE")]
    pub manager_log: Option<PathBuf>,
    #[command(flatten)]
    pub failover: FailoverArgs,
    /// Output format: text (the default) or json (one schema per command: docs/output-json.md).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct RejoinArgs {
    #[command(flatten)]
    pub conf: ConfArgs,
    /// The returning server: its hostname or IP address, as its server block names it.
    #[arg(long, value_name = "HOST")]
    pub host: String,
    /// Its port (needed when several servers share the host).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Override manager_workdir (where the failover records and markers are).
    #[arg(long = "manager_workdir", aliases = ["workdir", "manager-workdir"], value_name = "DIR")]
    pub manager_workdir: Option<PathBuf>,
    /// Check and print what would be done; change nothing.
    #[arg(long = "dry-run", alias = "dry_run")]
    pub dry_run: bool,
    /// Undo the transactions only it has with mariadb-binlog --flashback: with --dry-run,
    /// show the rows it would undo; with --yes, undo them and rejoin.
    #[arg(long)]
    pub flashback: bool,
    /// With --flashback: really undo them.
    #[arg(long, requires = "flashback", conflicts_with = "dry_run")]
    pub yes: bool,
    /// Seconds it may take to catch up with the master once it replicates (default: the
    /// configuration's failover_catch_up_timeout).
    #[arg(
        long = "catch_up_timeout",
        alias = "catch-up-timeout",
        value_name = "SECONDS"
    )]
    pub catch_up_timeout: Option<u64>,
    /// Output format: text (the default) or json (one schema per command: docs/output-json.md).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// MHA's masterha_secondary_check options (`-s` repeats).
#[derive(Debug, Args)]
pub struct SecondaryCheckArgs {
    /// A host to check the master from, over SSH; repeat for each route.
    #[arg(
        short = 's',
        long = "secondary_host",
        alias = "secondary-host",
        value_name = "HOST",
        required = true
    )]
    pub secondary_host: Vec<String>,
    /// SSH user on the secondary hosts.
    #[arg(long, value_name = "USER", default_value = "root")]
    pub user: String,
    /// SSH port of the secondary hosts.
    #[arg(long, value_name = "PORT", default_value_t = 22)]
    pub port: u16,
    /// ssh options (MHA passes its own plus ssh_options): -i, -p, -o StrictHostKeyChecking,
    /// -o UserKnownHostsFile and -o ConnectTimeout are honoured.
    #[arg(long, value_name = "SSH_OPTIONS", allow_hyphen_values = true)]
    pub options: Option<String>,
    /// The master, as the secondary hosts resolve it.
    #[arg(long = "master_host", alias = "master-host", value_name = "HOST")]
    pub master_host: String,
    /// The master's address (MHA passes it; the probe uses --master_host, as MHA's).
    #[arg(long = "master_ip", alias = "master-ip", value_name = "IP")]
    pub master_ip: Option<String>,
    #[arg(
        long = "master_port",
        alias = "master-port",
        value_name = "PORT",
        default_value_t = 3306
    )]
    pub master_port: u16,
    /// With --ping_type=INSERT: the user that writes on the master.
    #[arg(long = "master_user", alias = "master-user", value_name = "USER")]
    pub master_user: Option<String>,
    /// With --ping_type=INSERT: its password. Prefer the environment variable
    /// MHA_MASTER_PASSWORD (what mha's manager sets): a command line is visible to every
    /// local user.
    #[arg(
        long = "master_password",
        alias = "master-password",
        value_name = "PASSWORD",
        hide_default_value = true
    )]
    pub master_password: Option<String>,
    /// SELECT or CONNECT: a master port that answers means reachable. INSERT: the master must
    /// also take a write from that host, else it counts as down.
    #[arg(long = "ping_type", alias = "ping-type", value_name = "TYPE", default_value = "SELECT", value_parser = ["SELECT", "CONNECT", "INSERT", "select", "connect", "insert"])]
    pub ping_type: String,
    /// Seconds for each SSH login and each probe.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfHostCommand {
    Add,
    Delete,
    Remove,
}

#[derive(Debug, Args)]
pub struct ConfHostArgs {
    /// add, or delete (remove) a server block.
    #[arg(long, value_enum)]
    pub command: ConfHostCommand,
    #[arg(long, value_name = "FILE")]
    pub conf: PathBuf,
    /// The server's hostname (also names the block `server_<HOST>` when --block is not given).
    #[arg(long, value_name = "HOST", required_unless_present = "block")]
    pub hostname: Option<String>,
    /// Block name (prefixed with `server` if it does not start with it).
    #[arg(long, value_name = "NAME")]
    pub block: Option<String>,
    /// Extra parameters for add: "port=3306;candidate_master=1".
    #[arg(long, value_name = "K=V;K=V")]
    pub params: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    pub conf: ConfArgs,
    /// Output format: text (the default) or json (one schema per command: docs/output-json.md).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub action: SandboxAction,
}

#[derive(Debug, Args)]
pub struct SandboxDir {
    /// Sandbox directory (data, logs, keys, app1.toml).
    #[arg(long, value_name = "DIR", default_value = "mha-sandbox")]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum SandboxAction {
    /// Start a master, N replicas and an sshd per server on 127.0.0.1, replication running.
    Up(SandboxUpArgs),
    /// Show each sandbox process, its port and its replication role.
    Status {
        #[command(flatten)]
        dir: SandboxDir,
        /// Output format: text (the default) or json (one schema per command: docs/output-json.md).
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Stop exactly the processes the sandbox started (by pid); files are kept.
    Down {
        #[command(flatten)]
        dir: SandboxDir,
    },
    /// Inject a fault into one node: crash (kill -9), stop (clean shutdown), freeze (SIGSTOP),
    /// resume (SIGCONT), start (start a stopped or crashed node again), ssh-stop / ssh-start
    /// (stop or start that node's sshd).
    Fault {
        #[command(flatten)]
        dir: SandboxDir,
        /// Node: its block name (server1) or its port.
        node: String,
        #[arg(value_enum)]
        action: crate::sandbox::Fault,
    },
}

#[derive(Debug, Args)]
pub struct SandboxUpArgs {
    #[command(flatten)]
    pub dir: SandboxDir,
    /// Number of replicas under the master.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub replicas: u8,
    /// Replicate with GTID auto-positioning (default).
    #[arg(long, conflicts_with = "file_pos")]
    pub gtid: bool,
    /// Replicate with binlog file/position coordinates.
    #[arg(long = "file-pos", alias = "file_pos")]
    pub file_pos: bool,
    /// Server N listens on PORT + N, its sshd on PORT + 10 + N.
    #[arg(
        long = "base-port",
        alias = "base_port",
        default_value_t = 17000,
        value_name = "PORT"
    )]
    pub base_port: u16,
    /// Take the server binaries from this installation (an unpacked MariaDB or MySQL tarball,
    /// or /usr) instead of searching PATH and /usr/sbin; looks in DIR/bin, DIR/sbin,
    /// DIR/scripts and DIR. Not found there: exit 69.
    #[arg(long, value_name = "DIR")]
    pub basedir: Option<std::path::PathBuf>,
    /// Replication heartbeat period of every replica (MASTER_HEARTBEAT_PERIOD); default: the
    /// server's own, half of slave_net_timeout (the sandbox sets 10 s, so 5 s).
    #[arg(long, value_name = "SECONDS", value_parser = heartbeat_secs)]
    pub heartbeat: Option<f64>,
    /// Every server with log_slave_updates=OFF: a replica's binlog then holds none of what
    /// it replicates, and a failover with replicas behind the latest one recovers by relay-log
    /// positions (see docs/failover.md).
    #[arg(long = "no-log-slave-updates", alias = "no_log_slave_updates")]
    pub no_log_slave_updates: bool,
    /// Semi-synchronous replication (MariaDB's built-in): the master side on the master
    /// (wait point AFTER_SYNC, rpl_semi_sync_master_timeout 60 s), the replica side on every
    /// replica.
    #[arg(long = "semi-sync", alias = "semi_sync")]
    pub semi_sync: bool,
}

/// MASTER_HEARTBEAT_PERIOD takes 0 (off) to 4294967 seconds, with millisecond resolution.
fn heartbeat_secs(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(p) if (0.0..=4_294_967.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "{v:?} is not a number of seconds from 0 to 4294967"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option MHA 0.58's tools accept (their GetOptions lists: bin/masterha_* and the
    /// MasterMonitor, MasterFailover, MasterRotate and ManagerAdminWrapper modules they call),
    /// given to the tool's `masterha_*` name with a value where MHA's takes one, must parse.
    /// masterha_manager takes MasterMonitor's and MasterFailover's options (it hands its whole
    /// command line to both), except --dead_master_host/ip/port, which it sets itself.
    #[test]
    fn every_masterha_tool_accepts_mhas_full_option_list() {
        const MONITOR: &[&str] = &[
            "--global_conf=/etc/masterha_default.cnf",
            "--check_only",
            "--check_repl_health",
            "--seconds_behind_master=30",
            "--monitor_only",
            "--interactive=0",
            "--wait_on_monitor_error=5",
            "--workdir=/var/tmp",
            "--manager_workdir=/var/tmp",
            "--log_output=/var/log/app1.log",
            "--manager_log=/var/log/app1.log",
            "--skip_ssh_check",
            "--skip_check_ssh",
            "--ignore_fail_on_start",
        ];
        const FAILOVER: &[&str] = &[
            "--global_conf=/etc/masterha_default.cnf",
            "--new_master_host=db2",
            "--new_master_port=3306",
            "--interactive=0",
            "--ssh_reachable=2",
            "--last_failover_minute=480",
            "--wait_on_failover_error=5",
            "--ignore_last_failover",
            "--workdir=/var/tmp",
            "--manager_workdir=/var/tmp",
            "--log_output=/var/log/app1.log",
            "--manager_log=/var/log/app1.log",
            "--skip_save_master_binlog",
            "--remove_dead_master_conf",
            "--remove_orig_master_conf",
            "--skip_change_master",
            "--skip_disable_read_only",
            "--wait_until_gtid_in_sync=1",
            "--ignore_binlog_server_error",
        ];
        const ROTATE: &[&str] = &[
            "--global_conf=/etc/masterha_default.cnf",
            "--check_only",
            "--new_master_host=db2",
            "--new_master_port=3306",
            "--workdir=/var/tmp",
            "--manager_workdir=/var/tmp",
            "--interactive=0",
            "--orig_master_is_new_slave",
            "--running_updates_limit=1",
            "--running_seconds_limit=10",
            "--skip_lock_all_tables",
            "--remove_dead_master_conf",
            "--remove_orig_master_conf",
            "--flush_tables=0",
            "--flush_tables=1",
            "--flush_tables=2",
        ];
        // ManagerAdminWrapper: masterha_check_status and masterha_stop share one list.
        const ADMIN: &[&str] = &[
            "--all",
            "--all --basedir=/var/masterha",
            "--all --basedir=/var/masterha --baselog=/var/log/masterha",
            "--app=app1",
            "--app=app1 --status_dir=/var/tmp",
            "--global_conf=/etc/masterha_default.cnf",
            "--status_dir=/var/tmp",
            "--manager_workdir=/var/tmp",
            "--workdir=/var/tmp",
            "--log_output=/var/log/app1.log",
            "--manager_log=/var/log/app1.log",
            "--ping_limit=10",
            "--abort",
            "--abort_timeout=5",
        ];
        const SECONDARY: &[&str] = &[
            "-s db3",
            "--secondary_host=db3",
            "--user=root",
            "--port=22",
            "--options=-o StrictHostKeyChecking=no -o BatchMode=yes",
            "--master_ip=10.0.0.1",
            "--master_port=3306",
            "--master_user=mha",
            "--master_password=pw",
            "--ping_type=SELECT",
            "--ping_type=INSERT",
            "--timeout=5",
        ];
        let conf = "--conf=/etc/masterha/app1.cnf";
        let table: &[(&str, &[&str], &[&str])] = &[
            ("masterha_manager", &[conf], MONITOR),
            ("masterha_manager", &[conf], FAILOVER),
            ("masterha_master_monitor", &[conf], MONITOR),
            ("masterha_check_repl", &[conf], MONITOR),
            (
                "masterha_check_ssh",
                &[conf],
                &["--global_conf=/etc/masterha_default.cnf"],
            ),
            ("masterha_check_status", &[conf], ADMIN),
            ("masterha_stop", &[conf], ADMIN),
            (
                "masterha_master_switch",
                &["--master_state=dead", conf, "--dead_master_host=db1"],
                &[
                    &["--dead_master_ip=10.0.0.1", "--dead_master_port=3306"],
                    FAILOVER,
                ]
                .concat(),
            ),
            (
                "masterha_master_switch",
                &["--master_state=alive", conf],
                ROTATE,
            ),
            (
                "masterha_conf_host",
                &["--command=add", conf, "--hostname=db4"],
                &["--block=server4", "--params=candidate_master=1;no_master=0"],
            ),
            (
                "masterha_conf_host",
                &["--command=delete", conf],
                &["--block=server4", "--hostname=db4"],
            ),
            (
                "masterha_secondary_check",
                &["-s", "db2", "--master_host=db1"],
                SECONDARY,
            ),
        ];
        for (program, base, options) in table {
            for option in *options {
                let extra: Vec<&str> = if option.starts_with("--options=") {
                    vec![option]
                } else {
                    option.split(' ').collect()
                };
                // --all and --app select the application themselves.
                let selects = extra
                    .iter()
                    .any(|o| o.starts_with("--all") || o.starts_with("--app"));
                let mut argv: Vec<&str> = vec![program];
                argv.extend(
                    base.iter()
                        .filter(|b| !(selects && b.starts_with("--conf"))),
                );
                argv.extend(&extra);
                let args: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
                let parsed = Cli::try_parse_from(crate::cli::normalise_args(args));
                assert!(parsed.is_ok(), "{argv:?}: {}", parsed.err().unwrap());
                // `--opt value` works as well as `--opt=value`.
                if let Some((name, value)) =
                    option.split_once('=').filter(|_| !option.contains(' '))
                {
                    let mut argv: Vec<&str> = vec![program];
                    argv.extend(
                        base.iter()
                            .filter(|b| !(selects && b.starts_with("--conf"))),
                    );
                    argv.extend([name, value]);
                    let args: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
                    let parsed = Cli::try_parse_from(crate::cli::normalise_args(args));
                    assert!(parsed.is_ok(), "{argv:?}: {}", parsed.err().unwrap());
                }
            }
        }
    }

    #[test]
    fn secondary_check_takes_repeated_hosts_and_mhas_defaults() {
        let argv = [
            "masterha_secondary_check",
            "-s",
            "db2",
            "-s",
            "db3",
            "--secondary_host=db4",
            "--master_host=db1",
        ];
        let args: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
        let Command::SecondaryCheck(a) = Cli::try_parse_from(crate::cli::normalise_args(args))
            .unwrap()
            .command
        else {
            panic!("not secondary_check");
        };
        assert_eq!(a.secondary_host, ["db2", "db3", "db4"]);
        assert_eq!((a.user.as_str(), a.port, a.master_port), ("root", 22, 3306));
        assert_eq!((a.ping_type.as_str(), a.timeout), ("SELECT", 5));
    }
}
