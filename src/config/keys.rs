//! Every configuration key `mha` understands: MHA's keys with MHA's defaults, plus a few
//! `mha` extensions (marked). This table drives both readers, validation, typo suggestions,
//! `check_config` output and the configuration reference in docs/configuration.md (a unit test
//! keeps the two in step).

/// Where a key may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only inside a `[serverN]` block (it identifies one server).
    ServerOnly,
    /// In `[server default]` (inherited by every server) or in a server block (overrides).
    Server,
    /// Read per server only, as MHA does: in `[server default]` it is accepted (an unchanged
    /// MHA file loads) but not inherited, with a warning. Promotion rules must be said of
    /// each server: inheriting `candidate_master` would silently change who is promoted.
    PerServer,
    /// Application-wide: `[server default]` of the app file or of the global file only.
    App,
}

/// The value a key takes; the reader turns raw text/TOML values into these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A TCP port, 1..=65535.
    Port,
    /// MHA's 0/1 switches; TOML `true`/`false` are accepted too.
    Flag,
    /// Whole seconds, > 0.
    Seconds,
    /// Seconds, > 0, fractions allowed (`0.5`).
    FractionalSeconds,
    /// A bound on a wait: seconds, > 0 and at most [`MAX_TIMEOUT_SECS`], fractions allowed.
    Timeout,
    /// Positive whole number.
    Count,
    /// One of the listed words (case-insensitive).
    Choice(&'static [&'static str]),
    /// Comma-separated list (TOML: a string or an array of strings).
    List,
    /// A secret value; never printed.
    Secret,
    /// An IP address and a port to listen on (`127.0.0.1:9104`, `[::1]:9104`): no host
    /// name, so nothing is looked up in DNS.
    ListenAddr,
}

impl Kind {
    /// What the key expects, in words used by error messages and docs.
    pub fn expected(&self) -> String {
        match self {
            Kind::Text => "a string".into(),
            Kind::Port => "a port number 1-65535".into(),
            Kind::Flag => "0 or 1".into(),
            Kind::Seconds => "a whole number of seconds greater than 0".into(),
            Kind::FractionalSeconds => {
                "a number of seconds greater than 0 (fractions allowed)".into()
            }
            Kind::Timeout => format!(
                "a number of seconds greater than 0 and at most {MAX_TIMEOUT_SECS} (fractions allowed)"
            ),
            Kind::Count => "a whole number greater than 0".into(),
            Kind::Choice(words) => format!("one of {}", words.join(", ")),
            Kind::List => "a comma-separated list".into(),
            Kind::Secret => "a string".into(),
            Kind::ListenAddr => "an IP address and port such as 127.0.0.1:9104".into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub name: &'static str,
    pub scope: Scope,
    pub kind: Kind,
    /// Default as a DBA would write it; empty = unset.
    pub default: &'static str,
    /// `false` for keys MHA does not have.
    pub mha: bool,
    pub help: &'static str,
    /// Allowed in `[binlogN]` blocks too.
    pub binlog: bool,
    /// A bound on a wait: `check_config` shows it under `[timeouts]`.
    pub timeout: bool,
    /// For a key without a default value whose absence still means a wait: what it means
    /// then, as `check_config` shows it (`3 × --running_updates_limit`).
    pub unset: &'static str,
}

/// The longest wait a `Timeout` key accepts: one day. Longer is a typo, and a far-off
/// deadline would overflow the clock.
pub const MAX_TIMEOUT_SECS: u32 = 86_400;

const fn k(
    name: &'static str,
    scope: Scope,
    kind: Kind,
    default: &'static str,
    help: &'static str,
) -> KeyDef {
    KeyDef {
        name,
        scope,
        kind,
        default,
        mha: true,
        help,
        binlog: false,
        timeout: false,
        unset: "",
    }
}

/// An application-wide timeout (an mha extension: MHA hard-codes its waits).
const fn tmo(name: &'static str, default: &'static str, help: &'static str) -> KeyDef {
    let mut d = ext(k(name, App, Timeout, default, help));
    d.timeout = true;
    d
}

const fn ext(mut d: KeyDef) -> KeyDef {
    d.mha = false;
    d
}

const fn bin(mut d: KeyDef) -> KeyDef {
    d.binlog = true;
    d
}

pub const PING_TYPES: &[&str] = &["SELECT", "CONNECT", "INSERT"];
pub const FENCING: &[&str] = &["kill", "read_only", "none"];
pub const SEMI_SYNC: &[&str] = &["auto", "on", "off"];
pub const LOG_LEVELS: &[&str] = &["debug", "info", "warning", "error"];
pub const LOG_FORMATS: &[&str] = &["human", "mha"];

use Kind::*;
use Scope::*;

pub static KEYS: &[KeyDef] = &[
    // Identity of one server.
    bin(k(
        "hostname",
        ServerOnly,
        Text,
        "",
        "Server host name or address; required. Also the name shown in logs.",
    )),
    bin(k(
        "ip",
        ServerOnly,
        Text,
        "",
        "Address for SQL connections; defaults to `hostname`.",
    )),
    k("port", Server, Port, "3306", "MySQL/MariaDB port."),
    k(
        "node_label",
        ServerOnly,
        Text,
        "",
        "Free-form label, shown on the server's line of check_repl.",
    ),
    // SQL credentials.
    k(
        "user",
        Server,
        Text,
        "root",
        "Administrative SQL user the manager connects as.",
    ),
    k(
        "password",
        Server,
        Secret,
        "",
        "Password of `user` (prefer `password_file` or `password_env`).",
    ),
    ext(k(
        "password_file",
        Server,
        Text,
        "",
        "File whose first line is the password of `user`.",
    )),
    ext(k(
        "password_env",
        Server,
        Text,
        "",
        "Environment variable holding the password of `user`.",
    )),
    k(
        "repl_user",
        Server,
        Text,
        "",
        "Replication user for CHANGE MASTER; default: Master_User from a replica's SHOW SLAVE STATUS.",
    ),
    k(
        "repl_password",
        Server,
        Secret,
        "",
        "Password of `repl_user` (prefer `repl_password_file` or `repl_password_env`).",
    ),
    ext(k(
        "repl_password_file",
        Server,
        Text,
        "",
        "File whose first line is the password of `repl_user`.",
    )),
    ext(k(
        "repl_password_env",
        Server,
        Text,
        "",
        "Environment variable holding the password of `repl_user`.",
    )),
    // SSH.
    bin(k(
        "ssh_user",
        Server,
        Text,
        "",
        "SSH login user; default: the OS user running mha.",
    )),
    bin(k(
        "ssh_host",
        ServerOnly,
        Text,
        "",
        "SSH target if different from `hostname`.",
    )),
    bin(k(
        "ssh_ip",
        ServerOnly,
        Text,
        "",
        "SSH address if different from `ssh_host`.",
    )),
    bin(k("ssh_port", Server, Port, "22", "SSH port.")),
    bin(k(
        "ssh_connection_timeout",
        Server,
        Seconds,
        "5",
        "SSH connect timeout in seconds.",
    )),
    bin(k(
        "ssh_options",
        Server,
        Text,
        "",
        "MHA passed these to the ssh command; mha honours `-i FILE`, `-p PORT`, `-o StrictHostKeyChecking=no`, `-o UserKnownHostsFile=FILE` and `-o ConnectTimeout=N` and warns about the rest.",
    )),
    bin(ext(k(
        "ssh_key",
        Server,
        Secret,
        "",
        "Private SSH key itself (prefer `ssh_key_file`).",
    ))),
    bin(ext(k(
        "ssh_key_file",
        Server,
        Text,
        "",
        "Private SSH key file; default: ~/.ssh/id_ed25519, id_ecdsa or id_rsa.",
    ))),
    bin(ext(k(
        "ssh_key_env",
        Server,
        Text,
        "",
        "Environment variable holding the private SSH key.",
    ))),
    bin(ext(k(
        "ssh_known_hosts_file",
        Server,
        Text,
        "~/.ssh/known_hosts",
        "known_hosts file used to verify SSH host keys.",
    ))),
    // Promotion rules.
    k(
        "candidate_master",
        PerServer,
        Flag,
        "0",
        "1 = prefer this server as the new master.",
    ),
    k(
        "no_master",
        PerServer,
        Flag,
        "0",
        "1 = never promote this server (DR or backup host).",
    ),
    k(
        "ignore_fail",
        PerServer,
        Flag,
        "0",
        "1 = failover goes on even if this replica is down or broken.",
    ),
    k(
        "skip_init_ssh_check",
        PerServer,
        Flag,
        "0",
        "1 = skip this host in the start-up SSH checks.",
    ),
    k(
        "skip_reset_slave",
        Server,
        Flag,
        "0",
        "1 = do not RESET SLAVE ALL on the new master after failover.",
    ),
    k(
        "check_repl_delay",
        Server,
        Flag,
        "1",
        "1 = a replica whose SQL thread is far behind is not promoted.",
    ),
    k(
        "check_repl_filter",
        Server,
        Flag,
        "1",
        "1 = replication and binlog filter rules must match across servers.",
    ),
    k(
        "latest_priority",
        Server,
        Flag,
        "1",
        "1 = prefer replicas that received the latest events.",
    ),
    k(
        "multi_tier_slave",
        Server,
        Flag,
        "0",
        "1 = replicas of replicas are left alone by checks, failover and switchover.",
    ),
    // Files on the database hosts.
    bin(k(
        "remote_workdir",
        Server,
        Text,
        "/var/tmp",
        "Work directory on each database host.",
    )),
    bin(k(
        "master_binlog_dir",
        Server,
        List,
        "/var/lib/mysql,/var/log/mysql",
        "Where the master's binary logs are (comma list).",
    )),
    k(
        "master_pid_file",
        Server,
        Text,
        "",
        "mysqld pid file, passed to shutdown_script.",
    ),
    k(
        "handle_raw_binlog",
        Server,
        Flag,
        "1",
        "1 = copy binlog bytes raw (0 is refused: mha always decodes on the manager).",
    ),
    k(
        "disable_log_bin",
        Server,
        Flag,
        "0",
        "0 = recovered events are binlogged (1 is refused: replicas fetch them from the new master's binlog).",
    ),
    bin(k(
        "client_bindir",
        Server,
        Text,
        "",
        "Directory of the client tools (mariadb-binlog/mysqlbinlog, mariadb/mysql) that a failover runs on the manager's host; looked in first, then PATH.",
    )),
    bin(k(
        "client_libdir",
        Server,
        Text,
        "",
        "Library directory for those clients (first in their LD_LIBRARY_PATH).",
    )),
    k(
        "use_gtid_auto_pos",
        Server,
        Flag,
        "1",
        "1 = a failover recovers by GTID where that reaches every replica; 0 = by relay-log positions (MHA's relay-log diffs), see docs/failover.md.",
    ),
    // Application-wide.
    k(
        "ping_interval",
        App,
        FractionalSeconds,
        "3",
        "Seconds between master health checks (MHA: whole seconds; mha allows fractions).",
    ),
    k(
        "ping_type",
        App,
        Choice(PING_TYPES),
        "SELECT",
        "How the master is pinged: SELECT on a held connection, CONNECT a new connection each time, INSERT a write.",
    ),
    ext(k(
        "ping_failures",
        App,
        Count,
        "4",
        "Consecutive failed pings before the master is suspected dead (MHA: fixed 4).",
    )),
    ext(k(
        "fast_crash_detection",
        App,
        Flag,
        "1",
        "1 = a crash proven at once (watch connection reset, connects refused, mysqld gone on its host, every replica disconnected) ends detection without waiting for ping_failures pings; 0 = MHA's ping counting only.",
    )),
    ext(k(
        "replica_check_interval",
        App,
        FractionalSeconds,
        "10",
        "Seconds between the manager's reads of every replica while it monitors: the replica metrics, and whether a failover now would succeed (a change is logged).",
    )),
    ext(k(
        "http_listen",
        App,
        ListenAddr,
        "",
        "IP:PORT where the manager serves /metrics (Prometheus), /status (JSON), /health/live and /health/ready, read-only; unset = no HTTP server. `--http` overrides it.",
    )),
    ext(k(
        "fencing",
        App,
        Choice(FENCING),
        "kill",
        "What the failover does to a dead master whose host still answers SSH, before promotion: kill = kill -9 its mysqld and verify it is gone; read_only = only SET GLOBAL read_only=1 if it answers SQL; none = nothing (shutdown_script still runs).",
    )),
    ext(k(
        "auto_rejoin",
        App,
        Flag,
        "0",
        "1 = when a deposed master answers again after a failover and everything it has is in the current master's history, the manager makes it a replica of the current master and puts it back in the configuration (as `mha rejoin` does); when not, it stays fenced and the refusal is logged with its transactions. 0 = it stays fenced until an operator runs `mha rejoin`.",
    )),
    ext(k(
        "semi_sync",
        App,
        Choice(SEMI_SYNC),
        "auto",
        "Semi-synchronous replication after a failover or switchover: auto = keep what the cluster had (if it used semi-sync, the new master gets the master side with the old master's wait point and timeout, its replicas the replica side); on = the same even if it did not; off = never change a semi-sync setting.",
    )),
    k(
        "secondary_check_script",
        App,
        Text,
        "",
        "Command run to confirm the master's death from other network routes.",
    ),
    k(
        "master_ip_failover_script",
        App,
        Text,
        "",
        "Hook that moves the VIP/DNS/proxy on failover.",
    ),
    k(
        "master_ip_online_change_script",
        App,
        Text,
        "",
        "Hook that moves the VIP/DNS/proxy on an online switch.",
    ),
    k(
        "shutdown_script",
        App,
        Text,
        "",
        "Hook that powers off or fences the dead master.",
    ),
    k(
        "report_script",
        App,
        Text,
        "",
        "Hook called with a report after every failover.",
    ),
    ext(k(
        "hook_password_args",
        App,
        Flag,
        "0",
        "1 = also pass the passwords on hook command lines as MHA did (--new_master_password, --orig_master_password, --master_password), for unchanged MHA hooks that read them; visible to every local user in the process list. 0 = environment and standard input only.",
    )),
    {
        let mut d = ext(k(
            "hook_timeout",
            App,
            Seconds,
            "60",
            "Seconds a hook script may run before it is killed and counted as failed.",
        ));
        d.timeout = true;
        d
    },
    k(
        "init_conf_load_script",
        App,
        Text,
        "",
        "Command whose `name=value` output lines are merged into [server default] at load.",
    ),
    k(
        "manager_workdir",
        App,
        Text,
        "/var/tmp",
        "Manager work directory: status file, markers, saved binlogs.",
    ),
    k(
        "manager_log",
        App,
        Text,
        "",
        "Manager log file; default: standard error.",
    ),
    k(
        "log_level",
        App,
        Choice(LOG_LEVELS),
        "info",
        "The least severe level logged (MHA_LOG wins).",
    ),
    ext(k(
        "log_format",
        App,
        Choice(LOG_FORMATS),
        "human",
        "Format of the log lines: human (mha's default), or mha for MHA's own `Mon Nov 25 10:00:00 2026 - [info] ...` lines, so log parsers and alerting rules written for MHA keep matching. `--log-format` wins over it; JSON lines are chosen with `--log-format json`.",
    )),
    ext(k(
        "etcd_endpoints",
        App,
        List,
        "",
        "Coordination of several managers through etcd (off when empty): the etcd members' client URLs, `http://host:port` or (with `etcd_cacert`) `https://host:port`, comma-separated. See [several-managers.md](several-managers.md).",
    )),
    ext(k(
        "etcd_prefix",
        App,
        Text,
        "/mha",
        "Prefix of every etcd key of mha; the application's keys are under PREFIX/APP/.",
    )),
    ext(k(
        "etcd_lease_ttl",
        App,
        Seconds,
        "5",
        "Seconds of the leader's etcd lease: a leader that cannot renew it stops acting within this time, and a standby takes over after it.",
    )),
    ext(k(
        "etcd_user",
        App,
        Text,
        "",
        "etcd user (etcd's authentication); empty: none.",
    )),
    ext(k(
        "etcd_password",
        App,
        Secret,
        "",
        "Password of `etcd_user` (prefer `etcd_password_file` or `etcd_password_env`).",
    )),
    ext(k(
        "etcd_password_file",
        App,
        Text,
        "",
        "File whose first line is the password of `etcd_user`.",
    )),
    ext(k(
        "etcd_password_env",
        App,
        Text,
        "",
        "Environment variable holding the password of `etcd_user`.",
    )),
    ext(k(
        "etcd_cacert",
        App,
        Text,
        "",
        "PEM file of the CA certificate(s) that signed the etcd members' server certificates (etcdctl's `--cacert`); required with `https://` endpoints, the only certificates trusted there. The server name checked is the endpoint's host (an IP address against the certificate's IP SANs).",
    )),
    ext(k(
        "etcd_cert",
        App,
        Text,
        "",
        "PEM file of the client certificate mha shows etcd (etcdctl's `--cert`), for etcd's `--client-cert-auth`; with `etcd_key`.",
    )),
    ext(k(
        "etcd_key",
        App,
        Text,
        "",
        "PEM file of the private key of `etcd_cert` (etcdctl's `--key`); a secret: never logged, readable by the manager's user only.",
    )),
    // Timeouts: every wait of the manager that is not derived from ping_interval. Defaults
    // are the values mha hard-coded before they became settings.
    tmo(
        "sql_timeout",
        "5",
        "Seconds a connect or a statement may take on the manager's SQL sessions: start-up checks and the monitor lock, check_repl, the switchover's sessions, the failover's sessions to the replicas and the new master. Waits with their own timeout below get it on top.",
    ),
    tmo(
        "observe_timeout",
        "3",
        "Seconds each server has to answer when a failover starts (phase 1 reads every server's state) and when conf_host --command=delete checks which server is the master; a server that does not answer in time counts as down.",
    ),
    tmo(
        "watch_connect_timeout",
        "2",
        "Seconds the connect of the manager's watch connection to the master may take (fast_crash_detection); after a failed connect it tries again a second later, while the pings go on.",
    ),
    tmo(
        "heartbeat_wait_timeout",
        "30",
        "Longest wait, while a death is being confirmed and no replica's host could probe the master's port, for the replicas' heartbeats to stay silent for 1.5 heartbeat periods.",
    ),
    tmo(
        "detection_max_age",
        "30",
        "Seconds the failover trusts the manager's finding that the master died: within it, phase 1 does not connect to the dead master again and fencing tries it only for dead_master_recheck_timeout.",
    ),
    tmo(
        "dead_master_connect_timeout",
        "1",
        "Seconds a connect to the dead master may take: fencing's SET GLOBAL read_only=1 (when the death was not found moments ago), and each look at a deposed master (at most ping_interval).",
    ),
    tmo(
        "dead_master_recheck_timeout",
        "0.3",
        "Seconds a connect to a master found dead moments ago (within detection_max_age) may take: fencing's read_only attempt, and the check before the first irreversible step that it still does not answer.",
    ),
    tmo(
        "dead_master_ssh_timeout",
        "3",
        "Longest SSH login to the dead master's host during a failover (the lower of this and ssh_connection_timeout): decides whether its binlog can be saved and its mysqld killed.",
    ),
    tmo(
        "fence_kill_timeout",
        "10",
        "Seconds fencing = kill may take: kill -9 of the dead master's mysqld over SSH and waiting until the process is gone.",
    ),
    tmo(
        "binlog_save_timeout",
        "120",
        "Seconds each SSH command saving the dead master's binlog tail may take (listing its binlog directory, reading one binlog file).",
    ),
    tmo(
        "relay_log_apply_timeout",
        "600",
        "Seconds each replica's SQL thread may take, in a failover (phase 3.1), to apply the relay log it already has; a replica still behind then fails.",
    ),
    tmo(
        "replication_start_timeout",
        "15",
        "Seconds, in a failover (phase 4), from START SLAVE on a replica until both its replication threads run.",
    ),
    tmo(
        "failover_catch_up_timeout",
        "120",
        "Seconds a server may take, in a failover, to reach a GTID position (MASTER_GTID_WAIT): the new master the latest replica's (phase 3.4), each other replica the new master's (phase 4). Whole seconds on the server (rounded up).",
    ),
    tmo(
        "switch_catch_up_timeout",
        "30",
        "Seconds the new master and each replica may take, in an online switch, to apply the old master's last position while writes are blocked (MASTER_POS_WAIT / MASTER_GTID_WAIT). Whole seconds on the server (rounded up).",
    ),
    tmo(
        "switch_orig_master_catch_up_timeout",
        "10",
        "Seconds the old master may take, in an online switch with --orig_master_is_new_slave, to reach the new master's position once it replicates from it.",
    ),
    {
        let mut d = tmo(
            "switch_lock_wait_timeout",
            "",
            "Seconds the old master waits, in an online switch, for running writes before read_only=1 and FLUSH TABLES WITH READ LOCK give up (the session's lock_wait_timeout). Unset: 3 × --running_updates_limit (3 s by default). Whole seconds on the server (rounded up).",
        );
        d.unset = "3 × --running_updates_limit";
        d
    },
    tmo(
        "check_ssh_timeout",
        "10",
        "Seconds each check_ssh login (manager to host, host to host) may take beyond the target's ssh_connection_timeout.",
    ),
];

pub fn find(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|d| d.name == name)
}

/// The nearest known key to a misspelt one, if it is close enough to be a typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    KEYS.iter()
        .map(|d| (strsim::damerau_levenshtein(&lower, d.name), d.name))
        .filter(|(dist, cand)| *dist <= 2.max(cand.len() / 4))
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, n)| n)
}
