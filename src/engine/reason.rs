//! Findings about a cluster, each with its reason in DBA words. Rendered the same way in
//! text reports, logs and JSON.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Replication health is NOT OK.
    Error,
    /// Worth fixing; health stays OK.
    Warning,
    Info,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    Unreachable {
        reason: String,
    },
    MasterUnreachable {
        reason: String,
    },
    NoMaster,
    Detached,
    NothingReachable,
    SeveralMasters {
        masters: Vec<String>,
    },
    NoReplica,
    ReplicatesFromElsewhere {
        from: String,
        master: String,
    },
    /// multi_tier_slave=1: a replica of a replica, left alone by checks, failover and
    /// switchover (as MHA).
    SubReplica {
        parent: String,
    },
    /// multi_tier_slave=1, but the replica's parent (an intermediate server with replicas of
    /// its own) is writable: MHA refuses this.
    WritableIntermediate {
        parent: String,
    },
    /// multi_tier_slave=0: a replica of a replica is refused.
    SubReplicaRefused {
        parent: String,
        master: String,
    },
    IoThreadStopped {
        state: String,
        error: String,
    },
    SqlThreadStopped {
        state: String,
        error: String,
    },
    Lagging {
        seconds: u64,
        limit: u64,
    },
    LagUnknown,
    WritableReplica,
    /// MySQL: read_only=ON but super_read_only=OFF: SUPER users can still write.
    SuperReadOnlyOff,
    DuplicateServerId {
        server_id: u32,
        also: String,
    },
    BinlogOff,
    LogSlaveUpdatesOff,
    BinlogFormatDiffers {
        format: String,
        master_format: String,
    },
    ReplicationFiltersDiffer {
        first: String,
    },
    BinlogFiltersDiffer {
        master: String,
    },
    NewerThanReplicas {
        version: String,
        oldest: String,
    },
    RelayLogPurgeOn {
        mariadb: bool,
    },
    GtidModeMixed,
    ReplUserMissing {
        user: String,
    },
    ErrantGtids {
        gtids: String,
    },
    Delayed {
        seconds: u64,
    },
    HeartbeatTooLong {
        period: f64,
        window: f64,
    },
    NoHeartbeat,
    NoCandidate,
    HookFailed {
        hook: String,
        detail: String,
    },
    SshFailed {
        detail: String,
    },
    BinlogServerBehind {
        file: String,
    },
    BinlogNotInMasterBinlogDir {
        file: String,
        dirs: Vec<String>,
    },
    /// Position-based recovery reads the latest replica's relay logs over SSH.
    RelayLogUnreadable {
        path: String,
        detail: String,
    },
    /// A program the failover runs on the manager's host is missing.
    ToolMissing {
        tools: Vec<String>,
        looked_in: String,
    },
    /// A MySQL cluster: `mha`'s MySQL paths never ran against a live MySQL server.
    MySqlNotRunLive {
        versions: Vec<String>,
    },
    /// The manager cannot write its workdir.
    WorkdirNotWritable {
        path: String,
        error: String,
    },
    SemiSyncFellBack {
        clients: u32,
        timeout_ms: Option<u64>,
    },
    SemiSyncNoAcknowledger,
    SemiSyncAfterCommit,
    SemiSyncMasterSideOff {
        replicas: Vec<String>,
    },
    SemiSyncMasterSideOnReplica,
    SemiSyncReplicaNotRegistered,
    SemiSyncTimeoutShort {
        timeout_ms: u64,
        window: f64,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Problem::*;
        match self {
            Unreachable { reason } => write!(f, "server is not reachable: {reason}"),
            MasterUnreachable { reason } => write!(f, "the master is not reachable: {reason}"),
            NoMaster => f.write_str("no master found: every reachable server is a replica"),
            NothingReachable => f.write_str("no server is reachable"),
            Detached => f.write_str(
                "read-only and replicating from nobody (an old master?): it will not be failed over to; make it a replica (CHANGE MASTER) or remove it with conf_host",
            ),
            SeveralMasters { masters } => write!(
                f,
                "There are {} non-slave servers! MHA manages at most one non-slave server: {}",
                masters.len(),
                masters.join(", ")
            ),
            NoReplica => f.write_str("no replica is replicating from the master"),
            ReplicatesFromElsewhere { from, master } => {
                write!(f, "replicates from {from}, but the real master is {master}")
            }
            SubReplica { parent } => write!(
                f,
                "replicates from {parent}, a replica (multi_tier_slave=1): left alone by checks, failover and switchover"
            ),
            WritableIntermediate { parent } => write!(
                f,
                "replicates from {parent}, a replica with replicas of its own that is writable (read_only=0): set read_only=1 on {parent} (multi_tier_slave=1 needs the intermediate servers read-only, as MHA)"
            ),
            SubReplicaRefused { parent, master } => write!(
                f,
                "replicates from {parent}, but the real master is {master}: a replica of a replica needs multi_tier_slave=1 (it is then left alone by checks, failover and switchover)"
            ),
            IoThreadStopped { state, error } => {
                write!(f, "Slave IO thread is not running (Slave_IO_Running={state})")?;
                if !error.is_empty() {
                    write!(f, ": {error}")?;
                }
                Ok(())
            }
            SqlThreadStopped { state, error } => {
                write!(f, "Slave SQL thread is not running (Slave_SQL_Running={state})")?;
                if !error.is_empty() {
                    write!(f, ": {error}")?;
                }
                Ok(())
            }
            Lagging { seconds, limit } => {
                write!(f, "replica is behind the master by {seconds} seconds (limit {limit})")
            }
            LagUnknown => f.write_str("Seconds_Behind_Master is NULL: replication lag unknown"),
            WritableReplica => f.write_str("replica is writable (read_only=OFF); set read_only=ON"),
            SuperReadOnlyOff => f.write_str(
                "super_read_only=OFF: users with SUPER (CONNECTION_ADMIN) can still write to this replica; set super_read_only=ON",
            ),
            DuplicateServerId { server_id, also } => {
                write!(f, "server_id {server_id} is also used by {also}; every server needs its own")
            }
            BinlogOff => f.write_str("binary logging is off (log-bin): this host cannot be a master"),
            LogSlaveUpdatesOff => f.write_str(
                "log_slave_updates is off: replicated transactions are not in this replica's binlog",
            ),
            BinlogFormatDiffers { format, master_format } => {
                write!(f, "binlog_format is {format}, the master's is {master_format}")
            }
            ReplicationFiltersDiffer { first } => {
                write!(f, "replication filter rules differ from those of {first}")
            }
            BinlogFiltersDiffer { master } => {
                write!(f, "Binlog_Do_DB/Binlog_Ignore_DB differ from those of {master}")
            }
            NewerThanReplicas { version, oldest } => write!(
                f,
                "version {version} is newer than the oldest replica's {oldest}; as master it could write events that replica cannot read"
            ),
            RelayLogPurgeOn { mariadb: true } => f.write_str(
                "relay_log_purge=ON: fine for mha, which recovers MariaDB replicas through GTIDs and binlogs, not relay logs (MHA needed it OFF)",
            ),
            RelayLogPurgeOn { mariadb: false } => f.write_str(
                "relay_log_purge=ON: relay logs needed for recovery may be gone; set it OFF and purge relay logs with a cron job",
            ),
            GtidModeMixed => f.write_str("GTID replication is on for some replicas and off for others"),
            ReplUserMissing { user } => {
                write!(f, "replication user {user:?} does not exist here with REPLICATION SLAVE")
            }
            ErrantGtids { gtids } => {
                write!(f, "has errant transactions the master does not have: {gtids}")
            }
            Delayed { seconds } => write!(f, "is a delayed replica (SQL_Delay={seconds})"),
            HeartbeatTooLong { period, window } => write!(
                f,
                "replication heartbeat period {period} s is longer than the detection window {window} s: this replica's own word on a hung or cut-off master comes late, so detection relies on its host opening the master's port over SSH (CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1 shortens the fallback)"
            ),
            NoHeartbeat => f.write_str(
                "replication heartbeat is off: this replica cannot tell a hung or cut-off master on its own, so detection relies on its host opening the master's port over SSH",
            ),
            NoCandidate => f.write_str(
                "None of slaves can be master. Check failover configuration file or log-bin settings in my.cnf",
            ),
            HookFailed { hook, detail } => write!(f, "{hook} --command=status failed: {detail}"),
            SshFailed { detail } => write!(f, "SSH from the manager failed: {detail}"),
            BinlogServerBehind { file } => write!(
                f,
                "has no copy of the master's current binlog file {file} in master_binlog_dir: is it still receiving the master's binlog?"
            ),
            RelayLogUnreadable { path, detail } => write!(
                f,
                "its relay log {path} cannot be read over SSH ({detail}): position-based recovery could not cut what the other replicas lack from it"
            ),
            ToolMissing { tools, looked_in } => write!(
                f,
                "none of {} is installed on the manager's host (looked in {looked_in}): a failover could not apply the dead master's binlog; apt-get install mariadb-client (MySQL: MySQL's own client programs), or set client_bindir",
                tools.join(", ")
            ),
            MySqlNotRunLive { versions } => write!(
                f,
                "MySQL {}: mha's MySQL statements, GTID sets, binlog parsing and failover/switchover steps were tested on recorded server outputs and built binlog events, not against a live MySQL server (see docs/mysql.md); try a switchover and a failover on a staging cluster first",
                versions.join(", ")
            ),
            WorkdirNotWritable { path, error } => write!(
                f,
                "manager_workdir {path} is not writable ({error}): a failover could not save the dead master's binlog nor write its record"
            ),
            BinlogNotInMasterBinlogDir { file, dirs } => write!(
                f,
                "its current binlog file {file} is not in master_binlog_dir ({}): a failover could not save the transactions no replica received; set master_binlog_dir to the directory of @@log_bin_basename",
                dirs.join(", ")
            ),
            SemiSyncFellBack { clients, timeout_ms } => write!(
                f,
                "semi-sync master side is ON but has fallen back to asynchronous replication (Rpl_semi_sync_master_status=OFF, {clients} acknowledging replica(s){}): commits are acknowledged without any replica having them, so a failover now may lose acknowledged commits; it switches back once a semi-sync replica has caught up",
                timeout_ms
                    .map(|t| format!(", after a wait of rpl_semi_sync_master_timeout {}", crate::topology::millis(t)))
                    .unwrap_or_default()
            ),
            SemiSyncNoAcknowledger => f.write_str(
                "semi-sync master side is ON but no replica acknowledges (Rpl_semi_sync_master_clients=0): the next commit waits rpl_semi_sync_master_timeout, then the master falls back to asynchronous",
            ),
            SemiSyncAfterCommit => f.write_str(
                "semi-sync wait point is AFTER_COMMIT: other clients can read a commit before a replica has it, and a failover can lose what they read; AFTER_SYNC does not (SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC)",
            ),
            SemiSyncMasterSideOff { replicas } => write!(
                f,
                "semi-sync master side is OFF although {} have the replica side ON: replication is asynchronous (SET GLOBAL rpl_semi_sync_master_enabled = ON)",
                replicas.join(", ")
            ),
            SemiSyncMasterSideOnReplica => f.write_str(
                "semi-sync master side is ON on a replica: MariaDB makes its SQL thread wait rpl_semi_sync_master_timeout for an acknowledgement of a replicated commit, then falls back; set rpl_semi_sync_master_enabled = OFF on replicas (mha turns it on when it promotes one)",
            ),
            SemiSyncTimeoutShort { timeout_ms, window } => write!(
                f,
                "rpl_semi_sync_master_timeout ({}) is not longer than the manager's detection window ({window} s, ping_interval × ping_failures): a master cut off the network may fall back to asynchronous before it is declared dead, so a failover cannot state that semi-sync kept every acknowledged commit; a longer timeout keeps that guarantee",
                crate::topology::millis(*timeout_ms)
            ),
            SemiSyncReplicaNotRegistered => f.write_str(
                "semi-sync replica side is ON but its IO thread connected before that (Rpl_semi_sync_slave_status=OFF): it does not acknowledge until the IO thread reconnects (STOP SLAVE IO_THREAD; START SLAVE IO_THREAD)",
            ),
        }
    }
}

/// One finding about one server (or the cluster when `server` is None).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub server: Option<String>,
    #[serde(flatten)]
    pub problem: Problem,
    pub message: String,
}

impl Finding {
    pub fn new(severity: Severity, server: Option<String>, problem: Problem) -> Finding {
        let message = problem.to_string();
        Finding {
            severity,
            server,
            problem,
            message,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "[error]",
            Severity::Warning => "[warning]",
            Severity::Info => "[info]",
        };
        match &self.server {
            Some(s) => write!(f, "{sev} {s}: {}", self.message),
            None => write!(f, "{sev} {}", self.message),
        }
    }
}
