//! Configuration: MHA's parameters as a typed model, read from TOML (`app1.toml`) or from
//! MHA's own INI (`app1.cnf`), layered over the global defaults file.
//!
//! `keys` lists every parameter; `toml` and `mha_cnf` read files into the raw model of `raw`;
//! `resolve` layers and types them into [`Config`]; `error` names file, line, block and key.

pub mod address;
pub mod error;
pub mod keys;
pub mod mha_cnf;
pub mod raw;
pub mod resolve;
pub mod toml;
pub mod write;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ConfigError, ConfigErrors};
pub use resolve::Origin;

use crate::secret::Secret;

/// MHA's default global file; read only when it exists.
pub const DEFAULT_GLOBAL_CONF: &str = "/etc/masterha_default.cnf";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PingType {
    Select,
    Connect,
    Insert,
}

impl PingType {
    pub fn name(self) -> &'static str {
        match self {
            PingType::Select => "SELECT",
            PingType::Connect => "CONNECT",
            PingType::Insert => "INSERT",
        }
    }
}

/// What the failover does to a dead master whose host still answers SSH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fencing {
    Kill,
    ReadOnly,
    None,
}

/// What a failover or switchover does about semi-synchronous replication (`semi_sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SemiSyncSetting {
    /// Keep what the cluster had: enable it on the new topology if the cluster used it.
    #[default]
    Auto,
    /// Enable it on the new topology whatever the cluster had.
    On,
    /// Never change a semi-sync setting.
    Off,
}

/// Application-wide settings (MHA's "App" scope).
#[derive(Debug, Clone, PartialEq)]
pub struct AppSettings {
    pub ping_interval: Duration,
    pub ping_type: PingType,
    pub ping_failures: u32,
    pub fast_crash_detection: bool,
    /// How often the manager reads every replica while it monitors (readiness, metrics).
    pub replica_check_interval: Duration,
    /// Where the manager serves /metrics, /status and /health (None: nowhere).
    pub http_listen: Option<std::net::SocketAddr>,
    pub fencing: Fencing,
    /// A deposed master that comes back with nothing of its own rejoins as a replica.
    pub auto_rejoin: bool,
    pub semi_sync: SemiSyncSetting,
    pub hook_password_args: bool,
    pub secondary_check_script: Option<String>,
    pub master_ip_failover_script: Option<String>,
    pub master_ip_online_change_script: Option<String>,
    pub shutdown_script: Option<String>,
    pub report_script: Option<String>,
    pub hook_timeout: Duration,
    pub init_conf_load_script: Option<String>,
    pub manager_workdir: PathBuf,
    pub manager_log: Option<PathBuf>,
    pub log_level: String,
    /// `log_format`: `human` or `mha` (lower case).
    pub log_format: String,
    pub timeouts: Timeouts,
    /// Coordination with other managers through etcd; None: this manager alone (as MHA).
    pub etcd: Option<EtcdSettings>,
}

/// `etcd_*` keys: several managers elect one leader per application through etcd
/// (docs/several-managers.md).
#[derive(Debug, Clone, PartialEq)]
pub struct EtcdSettings {
    /// Client URLs, all `http://host:port` or all `https://host:port`.
    pub endpoints: Vec<String>,
    /// Key prefix; the application's keys are `PREFIX/APP/...`.
    pub prefix: String,
    pub lease_ttl: Duration,
    pub user: Option<String>,
    pub password: Option<crate::secret::Secret>,
    /// TLS (`https://` endpoints); None: plain HTTP.
    pub tls: Option<EtcdTls>,
}

/// `etcd_cacert`, `etcd_cert` and `etcd_key`, read (and checked) when the file is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct EtcdTls {
    /// PEM of the CA certificate(s) trusted to sign the etcd members' certificates.
    pub ca_pem: String,
    /// The client certificate chain and its private key, both PEM, if etcd asks for one.
    pub client: Option<(String, crate::secret::Secret)>,
}

/// Every bound on a wait that is not derived from `ping_interval` (those that are, the
/// pings and the confirmation's probes, scale with it as in MHA). One field per wait, each
/// set by the key named in its doc (`[server default]`); the defaults are the values mha
/// hard-coded before they became settings. `hook_timeout` and the per-server
/// `ssh_connection_timeout` keep their places in [`AppSettings`] and [`SshConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct Timeouts {
    /// `sql_timeout` (5 s): a connect or one statement on the manager's SQL sessions.
    pub sql: Duration,
    /// `observe_timeout` (3 s): each server's answer when a failover starts (phase 1) or
    /// conf_host checks which server is the master.
    pub observe: Duration,
    /// `watch_connect_timeout` (2 s): the connect of the watch connection to the master.
    pub watch_connect: Duration,
    /// `heartbeat_wait_timeout` (30 s): the longest wait for the replicas' heartbeats to stay
    /// silent while a death is confirmed.
    pub heartbeat_wait: Duration,
    /// `detection_max_age` (30 s): how long the manager's finding of a death spares the
    /// failover from asking the dead master again.
    pub detection_max_age: Duration,
    /// `dead_master_connect_timeout` (1 s): a connect to the dead or a deposed master.
    pub dead_master_connect: Duration,
    /// `dead_master_recheck_timeout` (0.3 s): a connect to a master found dead moments ago.
    pub dead_master_recheck: Duration,
    /// `dead_master_ssh_timeout` (3 s): the failover's SSH check of the dead master's host
    /// (capped by its ssh_connection_timeout).
    pub dead_master_ssh: Duration,
    /// `fence_kill_timeout` (10 s): kill -9 of the dead master's mysqld over SSH.
    pub fence_kill: Duration,
    /// `binlog_save_timeout` (120 s): each SSH command saving the dead master's binlog.
    pub binlog_save: Duration,
    /// `relay_log_apply_timeout` (600 s): a replica applying the relay log it has.
    pub relay_log_apply: Duration,
    /// `replication_start_timeout` (15 s): START SLAVE until both threads run.
    pub replication_start: Duration,
    /// `failover_catch_up_timeout` (120 s): MASTER_GTID_WAIT in a failover.
    pub failover_catch_up: Duration,
    /// `switch_catch_up_timeout` (30 s): the switchover's waits for the old master's last
    /// position, writes blocked.
    pub switch_catch_up: Duration,
    /// `switch_orig_master_catch_up_timeout` (10 s): the old master reaching the new one's
    /// position (--orig_master_is_new_slave).
    pub switch_orig_master_catch_up: Duration,
    /// `switch_lock_wait_timeout` (unset: 3 × --running_updates_limit): the old master's
    /// lock_wait_timeout for read_only=1 and FLUSH TABLES WITH READ LOCK. Use
    /// [`Timeouts::switch_lock_wait`].
    pub switch_lock_wait: Option<Duration>,
    /// `check_ssh_timeout` (10 s): each check_ssh login, beyond ssh_connection_timeout.
    pub check_ssh: Duration,
}

impl Default for Timeouts {
    /// The documented defaults (a unit test keeps them equal to keys.rs).
    fn default() -> Timeouts {
        let s = Duration::from_secs;
        Timeouts {
            sql: s(5),
            observe: s(3),
            watch_connect: s(2),
            heartbeat_wait: s(30),
            detection_max_age: s(30),
            dead_master_connect: s(1),
            dead_master_recheck: Duration::from_millis(300),
            dead_master_ssh: s(3),
            fence_kill: s(10),
            binlog_save: s(120),
            relay_log_apply: s(600),
            replication_start: s(15),
            failover_catch_up: s(120),
            switch_catch_up: s(30),
            switch_orig_master_catch_up: s(10),
            switch_lock_wait: None,
            check_ssh: s(10),
        }
    }
}

impl Timeouts {
    /// The old master's lock wait in a switchover: `switch_lock_wait_timeout`, or, unset,
    /// 3 × `--running_updates_limit` (a write allowed to run that long gets three times as
    /// long to finish).
    pub fn switch_lock_wait(&self, running_updates_limit: u64) -> Duration {
        self.switch_lock_wait
            .unwrap_or_else(|| Duration::from_secs(running_updates_limit.max(1) * 3))
    }

    /// A wait as the server takes it (MASTER_GTID_WAIT, MASTER_POS_WAIT, lock_wait_timeout):
    /// whole seconds, rounded up, at least 1.
    pub fn whole_secs(d: Duration) -> u64 {
        d.as_secs_f64().ceil().max(1.0) as u64
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SshConfig {
    pub user: String,
    pub host: String,
    pub ip: String,
    pub port: u16,
    pub connection_timeout: Duration,
    pub options: Option<String>,
    /// Private key material from ssh_key / ssh_key_file / ssh_key_env; `None` = the user's
    /// default key files.
    pub key: Option<Secret>,
    pub known_hosts_file: PathBuf,
}

/// One `[serverN]` block with every inherited value filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub block: String,
    pub hostname: String,
    pub ip: String,
    pub port: u16,
    pub node_label: Option<String>,
    pub user: String,
    pub password: Secret,
    pub repl_user: Option<String>,
    pub repl_password: Option<Secret>,
    pub ssh: SshConfig,
    pub candidate_master: bool,
    pub no_master: bool,
    pub ignore_fail: bool,
    pub skip_init_ssh_check: bool,
    pub skip_reset_slave: bool,
    pub check_repl_delay: bool,
    pub check_repl_filter: bool,
    pub latest_priority: bool,
    pub multi_tier_slave: bool,
    pub remote_workdir: PathBuf,
    pub master_binlog_dir: Vec<PathBuf>,
    pub master_pid_file: Option<PathBuf>,
    pub handle_raw_binlog: bool,
    pub disable_log_bin: bool,
    pub client_bindir: Option<PathBuf>,
    pub client_libdir: Option<PathBuf>,
    pub use_gtid_auto_pos: bool,
}

/// Which configured server: its block name, unique in a configuration. Code finds servers by
/// it; display names (`hostname(ip:port)`) are for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ServerId(pub String);

impl std::fmt::Display for ServerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ServerConfig {
    pub fn id(&self) -> ServerId {
        ServerId(self.block.clone())
    }

    /// `hostname(ip:port)`, as MHA names servers in its logs.
    pub fn display_name(&self) -> String {
        format!("{}({}:{})", self.hostname, self.ip, self.port)
    }
}

/// A `[binlogN]` block: a host receiving the master's binlog stream.
#[derive(Debug, Clone, PartialEq)]
pub struct BinlogServerConfig {
    pub block: String,
    pub hostname: String,
    pub ip: String,
    pub ssh: SshConfig,
    pub master_binlog_dir: Vec<PathBuf>,
    pub remote_workdir: PathBuf,
    pub client_bindir: Option<PathBuf>,
    pub client_libdir: Option<PathBuf>,
}

impl BinlogServerConfig {
    /// `binlog server binlog1(host)`, as logs and reports name it.
    pub fn label(&self) -> String {
        format!("binlog server {}({})", self.block, self.hostname)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EffectiveEntry {
    pub key: String,
    pub value: serde_json::Value,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EffectiveBlock {
    pub name: String,
    pub entries: Vec<EffectiveEntry>,
}

impl Config {
    /// The configured server `id` names.
    pub fn server(&self, id: &ServerId) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| s.block == id.0)
    }
}

/// The whole, resolved configuration of one application.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config file name without extension (`app1.cnf` → `app1`); names status files.
    pub app_name: String,
    pub path: PathBuf,
    pub global_path: Option<PathBuf>,
    pub app: AppSettings,
    /// Servers in tie-break order: file order for TOML, MHA's block order for INI.
    pub servers: Vec<ServerConfig>,
    pub binlog_servers: Vec<BinlogServerConfig>,
    /// Every effective value and where it came from, secrets masked (for `check_config`).
    pub effective: Vec<EffectiveBlock>,
}

/// Which global defaults file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalConf {
    /// MHA's default path, read only if it exists.
    Default,
    /// Given with --global_conf: must exist.
    Explicit(PathBuf),
}

/// A loaded configuration plus warnings worth showing (world-readable secrets, ...).
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Parse one file by its extension: `.toml` is TOML, anything else MHA's INI.
pub fn parse_file(path: &Path) -> Result<raw::RawFile, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, format!("cannot read configuration file: {e}")))?;
    parse_text(path, &text)
}

pub fn parse_text(path: &Path, text: &str) -> Result<raw::RawFile, ConfigErrors> {
    if path.extension().is_some_and(|e| e == "toml") {
        toml::parse(path, text)
    } else {
        mha_cnf::parse(path, text)
    }
}

/// Load an application's configuration the way every subcommand does.
pub fn load(conf: &Path, global: &GlobalConf) -> Result<Loaded, ConfigErrors> {
    let text = std::fs::read_to_string(conf)
        .map_err(|e| ConfigError::new(conf, format!("cannot read configuration file: {e}")))?;
    load_text(conf, &text, global)
}

/// `load` of `text` as if it were the content of `conf` (a planned edit of the file).
pub fn load_text(conf: &Path, text: &str, global: &GlobalConf) -> Result<Loaded, ConfigErrors> {
    let global_raw = match global {
        GlobalConf::Default => {
            let p = Path::new(DEFAULT_GLOBAL_CONF);
            if p.exists() {
                Some(parse_file(p)?)
            } else {
                None
            }
        }
        GlobalConf::Explicit(p) => {
            if !p.exists() {
                return Err(ConfigError::new(
                    p,
                    "global configuration file (--global_conf) not found",
                )
                .into());
            }
            Some(parse_file(p)?)
        }
    };
    let app_raw = parse_text(conf, text)?;
    let script = resolve::init_conf_load_script(&app_raw, global_raw.as_ref());
    let script_output = match &script {
        Some(cmd) => Some(run_init_conf_load_script(conf, cmd)?),
        None => None,
    };
    let (mut config, warnings) = resolve::resolve(resolve::Inputs {
        app: &app_raw,
        global: global_raw.as_ref(),
        init_script_output: script_output.as_deref(),
    })?;
    address::resolve_addresses(&mut config, address::default_resolver().as_ref())?;
    Ok(Loaded { config, warnings })
}

/// MHA runs this once at load; its `name=value` lines join [server default]. Its output is
/// not logged: it usually carries passwords.
fn run_init_conf_load_script(conf: &Path, cmd: &str) -> Result<String, ConfigErrors> {
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| {
            ConfigError::new(conf, format!("cannot run init_conf_load_script: {e}"))
                .key("init_conf_load_script")
        })?;
    if !out.status.success() {
        return Err(ConfigError::new(
            conf,
            format!("init_conf_load_script failed ({})", out.status),
        )
        .key("init_conf_load_script")
        .into());
    }
    String::from_utf8(out.stdout).map_err(|_| {
        ConfigError::new(conf, "init_conf_load_script printed non-UTF-8 output")
            .key("init_conf_load_script")
            .into()
    })
}

#[cfg(test)]
mod tests;

/// A configuration from INI text (no global file), for tests.
#[cfg(test)]
pub fn from_text(text: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("app.cnf");
    std::fs::write(&conf, text).unwrap();
    let empty = dir.path().join("global.cnf");
    std::fs::write(&empty, "").unwrap();
    load(&conf, &GlobalConf::Explicit(empty)).unwrap().config
}
