//! Command-line definitions. Option names are MHA's (`--conf`, `--master_state`, ...); every
//! subcommand also answers to its kebab-case name, and long options to their kebab spelling.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::exit::{CHECK_STATUS_HELP, EXIT_CODES_HELP};

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
    /// Log format on standard error.
    #[arg(
        long = "log-format",
        alias = "log_format",
        global = true,
        value_enum,
        default_value = "human"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
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
    CheckSsh(ConfArgs),
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
    /// Stop the running manager of an application (masterha_stop).
    #[command(name = "stop", after_help = EXIT_CODES_HELP)]
    Stop(StopArgs),
    /// Validate a configuration and print the effective values, secrets masked.
    #[command(name = "check_config", alias = "check-config", after_help = EXIT_CODES_HELP)]
    CheckConfig(CheckConfigArgs),
    /// Run a real local cluster (mariadbd + sshd on 127.0.0.1) to try mha on.
    #[command(name = "sandbox", after_help = EXIT_CODES_HELP)]
    Sandbox(SandboxArgs),
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
#[derive(Debug, Args)]
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
    /// After a successful failover, delete the dead master's block from the config file.
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
}

#[derive(Debug, Args)]
pub struct ManagerArgs {
    #[command(flatten)]
    pub conf: ConfArgs,
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
    #[arg(long = "monitor_only", alias = "monitor-only")]
    pub monitor_only: bool,
    #[command(flatten)]
    pub failover: FailoverArgs,
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
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Application configuration file; or give --app with --manager_workdir.
    #[arg(long, value_name = "FILE", required_unless_present = "app")]
    pub conf: Option<PathBuf>,
    /// Global defaults file.
    #[arg(long = "global_conf", alias = "global-conf", value_name = "FILE", default_value = crate::config::DEFAULT_GLOBAL_CONF)]
    pub global_conf: PathBuf,
    /// Application name (the config file name without extension).
    #[arg(long, value_name = "NAME", requires = "manager_workdir")]
    pub app: Option<String>,
    /// Directory holding the application's status file.
    #[arg(long = "manager_workdir", aliases = ["status_dir", "workdir", "manager-workdir"], value_name = "DIR")]
    pub manager_workdir: Option<PathBuf>,
    /// Seconds after which a not refreshed status file means the manager hangs.
    #[arg(
        long = "ping_limit",
        alias = "ping-limit",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    pub ping_limit: u64,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub status: StatusArgs,
    /// Kill the manager if it does not stop within --abort_timeout, even during a failover;
    /// when the manager is gone but its hooks still run (PARTIALLY_RUNNING), kill those.
    #[arg(long)]
    pub abort: bool,
    /// Seconds to wait for a graceful stop.
    #[arg(
        long = "abort_timeout",
        alias = "abort-timeout",
        default_value_t = 5,
        value_name = "SECONDS"
    )]
    pub abort_timeout: u64,
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
    /// (alive) 1 = FLUSH NO_WRITE_TO_BINLOG TABLES on the old master first.
    #[arg(long = "flush_tables", alias = "flush-tables", value_parser = clap::value_parser!(u8).range(0..=1))]
    pub flush_tables: Option<u8>,
    /// Run the checks only.
    #[arg(long = "check_only", alias = "check-only")]
    pub check_only: bool,
    #[command(flatten)]
    pub failover: FailoverArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
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
