//! Plain data about servers: versions, binlog coordinates, GTID sets of both flavours, replica
//! status, and the snapshot of a whole cluster. No I/O here.

mod gtid;
mod semi_sync;
#[cfg(test)]
pub mod testing;
mod version;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use gtid::{GtidError, GtidPos, MariaGtidPos, MysqlGtidSet};
pub use semi_sync::{MasterSettings, SemiSync, WaitPoint, millis};
pub use version::{Flavour, Version};

/// A position in a binary log, ordered by file number (not file name: MHA compared names
/// lexically, which breaks when the suffix width changes) and then by offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinlogPos {
    pub file: String,
    pub pos: u64,
}

impl BinlogPos {
    pub fn new(file: impl Into<String>, pos: u64) -> Self {
        BinlogPos {
            file: file.into(),
            pos,
        }
    }

    /// `mysql-bin.000123` → ("mysql-bin", 123).
    fn split(&self) -> (&str, u64) {
        match self.file.rsplit_once('.') {
            Some((prefix, n)) => (prefix, n.parse().unwrap_or(0)),
            None => (&self.file, 0),
        }
    }
}

impl PartialOrd for BinlogPos {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BinlogPos {
    fn cmp(&self, other: &Self) -> Ordering {
        let (pa, na) = self.split();
        let (pb, nb) = other.split();
        (pa, na, self.pos).cmp(&(pb, nb, other.pos))
    }
}

impl std::fmt::Display for BinlogPos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

/// One event of a binary log, as `SHOW BINLOG EVENTS` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BinlogEvent {
    pub file: String,
    /// Where it starts and where it ends (the next event's position).
    pub pos: u64,
    /// `Event_type`: `Gtid`, `Query`, `Write_rows_v1`, `Xid`, ...
    pub kind: String,
    pub end: u64,
    pub info: String,
}

/// A replication thread as `Slave_IO_Running` / `Slave_SQL_Running` report it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ThreadState {
    Yes,
    #[default]
    No,
    /// The IO thread is (re)connecting to its master.
    Connecting,
    /// Anything else the server says (`Preparing`, a newer word), kept as written.
    Other(String),
}

impl ThreadState {
    pub fn parse(text: &str) -> ThreadState {
        match text {
            "Yes" => ThreadState::Yes,
            "No" | "" => ThreadState::No,
            "Connecting" => ThreadState::Connecting,
            other => ThreadState::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ThreadState::Yes => "Yes",
            ThreadState::No => "No",
            ThreadState::Connecting => "Connecting",
            ThreadState::Other(s) => s,
        }
    }
}

impl std::fmt::Display for ThreadState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as the server wrote it.
impl Serialize for ThreadState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What SHOW SLAVE STATUS (SHOW REPLICA STATUS) says, with column names of either dialect.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ReplicaStatus {
    pub master_host: String,
    pub master_port: u16,
    pub master_user: String,
    /// The master's server_id as the replica last saw it (`Master_Server_Id`): tells the
    /// master's own transactions from errant ones when the master cannot be asked.
    pub master_server_id: Option<u32>,
    pub io_running: ThreadState,
    /// What the IO thread is doing ("Waiting for master to send event", "Reconnecting ...").
    pub io_state: String,
    pub sql_running: ThreadState,
    pub seconds_behind_master: Option<u64>,
    pub sql_delay: u64,
    /// Master coordinates the IO thread has read up to.
    pub read_pos: Option<BinlogPos>,
    /// Master coordinates the SQL thread has executed up to.
    pub exec_pos: Option<BinlogPos>,
    pub relay_log_file: String,
    pub relay_log_pos: u64,
    /// MariaDB: `Slave_Pos`, `Current_Pos` or `No`; MySQL: `1` when auto-positioning.
    pub using_gtid: String,
    /// MySQL: the master's server_uuid (`Master_UUID`, `Source_UUID`); empty on MariaDB.
    pub master_uuid: String,
    /// MySQL: the GTIDs the IO thread received (`Retrieved_Gtid_Set`), as written.
    pub retrieved_gtid_set: String,
    /// MySQL: `@@gtid_executed` as the status shows it (`Executed_Gtid_Set`).
    pub executed_gtid_set: String,
    pub last_io_errno: u32,
    pub last_io_error: String,
    pub last_sql_errno: u32,
    pub last_sql_error: String,
    pub filters: ReplicationFilters,
}

/// Shown as the non-empty filters, `replicate_do_table=test.t1; ...`, or `none`.
impl std::fmt::Display for ReplicationFilters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all = [
            ("replicate_do_db", &self.do_db),
            ("replicate_ignore_db", &self.ignore_db),
            ("replicate_do_table", &self.do_table),
            ("replicate_ignore_table", &self.ignore_table),
            ("replicate_wild_do_table", &self.wild_do_table),
            ("replicate_wild_ignore_table", &self.wild_ignore_table),
        ];
        let set: Vec<String> = all
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if set.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&set.join("; "))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ReplicationFilters {
    pub do_db: String,
    pub ignore_db: String,
    pub do_table: String,
    pub ignore_table: String,
    pub wild_do_table: String,
    pub wild_ignore_table: String,
}

/// A text row as returned by the server: column name → value (NULL = None).
pub type Row = BTreeMap<String, Option<String>>;

/// Read a column under its MySQL 8.0.22+ or its older/MariaDB name.
fn col<'a>(row: &'a Row, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| row.get(*n).and_then(|v| v.as_deref()))
}

impl ReplicaStatus {
    /// Parse a SHOW SLAVE STATUS / SHOW REPLICA STATUS row of any supported server.
    pub fn from_row(row: &Row) -> ReplicaStatus {
        let text = |names: &[&str]| col(row, names).unwrap_or("").to_string();
        let num = |names: &[&str]| col(row, names).and_then(|v| v.parse::<u64>().ok());
        let pos = |file: &[&str], pos: &[&str]| match (col(row, file), num(pos)) {
            (Some(f), Some(p)) if !f.is_empty() => Some(BinlogPos::new(f, p)),
            _ => None,
        };
        ReplicaStatus {
            master_host: text(&["Master_Host", "Source_Host"]),
            master_port: num(&["Master_Port", "Source_Port"]).unwrap_or(0) as u16,
            master_user: text(&["Master_User", "Source_User"]),
            master_server_id: num(&["Master_Server_Id", "Source_Server_Id"])
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n != 0),
            io_running: ThreadState::parse(&text(&["Slave_IO_Running", "Replica_IO_Running"])),
            io_state: text(&["Slave_IO_State", "Replica_IO_State"]),
            sql_running: ThreadState::parse(&text(&["Slave_SQL_Running", "Replica_SQL_Running"])),
            seconds_behind_master: num(&["Seconds_Behind_Master", "Seconds_Behind_Source"]),
            sql_delay: num(&["SQL_Delay"]).unwrap_or(0),
            read_pos: pos(
                &["Master_Log_File", "Source_Log_File"],
                &["Read_Master_Log_Pos", "Read_Source_Log_Pos"],
            ),
            exec_pos: pos(
                &["Relay_Master_Log_File", "Relay_Source_Log_File"],
                &["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"],
            ),
            relay_log_file: text(&["Relay_Log_File"]),
            relay_log_pos: num(&["Relay_Log_Pos"]).unwrap_or(0),
            using_gtid: col(row, &["Using_Gtid"])
                .or_else(|| col(row, &["Auto_Position"]))
                .unwrap_or("")
                .to_string(),
            master_uuid: text(&["Master_UUID", "Source_UUID"]),
            retrieved_gtid_set: text(&["Retrieved_Gtid_Set"]),
            executed_gtid_set: text(&["Executed_Gtid_Set"]),
            last_io_errno: num(&["Last_IO_Errno"]).unwrap_or(0) as u32,
            last_io_error: text(&["Last_IO_Error"]),
            last_sql_errno: num(&["Last_SQL_Errno"]).unwrap_or(0) as u32,
            last_sql_error: text(&["Last_SQL_Error"]),
            filters: ReplicationFilters {
                do_db: text(&["Replicate_Do_DB"]),
                ignore_db: text(&["Replicate_Ignore_DB"]),
                do_table: text(&["Replicate_Do_Table"]),
                ignore_table: text(&["Replicate_Ignore_Table"]),
                wild_do_table: text(&["Replicate_Wild_Do_Table"]),
                wild_ignore_table: text(&["Replicate_Wild_Ignore_Table"]),
            },
        }
    }

    pub fn io_running(&self) -> bool {
        self.io_running == ThreadState::Yes
    }

    pub fn sql_running(&self) -> bool {
        self.sql_running == ThreadState::Yes
    }

    /// Replicating with GTID positioning (MariaDB Slave_Pos/Current_Pos, MySQL auto-position).
    pub fn uses_gtid(&self) -> bool {
        matches!(self.using_gtid.as_str(), "Slave_Pos" | "Current_Pos" | "1")
    }
}

/// GTID state of one server, per flavour.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "flavour", rename_all = "lowercase")]
pub enum GtidState {
    MariaDb {
        binlog_pos: MariaGtidPos,
        current_pos: MariaGtidPos,
        slave_pos: MariaGtidPos,
        strict_mode: bool,
    },
    MySql {
        mode_on: bool,
        executed: MysqlGtidSet,
    },
}

/// Everything `mha` reads from one reachable server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerState {
    pub server_id: u32,
    pub version: Version,
    pub read_only: bool,
    /// MySQL's super_read_only; None where the server has no such variable (MariaDB).
    pub super_read_only: Option<bool>,
    pub log_bin: bool,
    pub log_slave_updates: bool,
    pub binlog_format: String,
    pub relay_log_purge: bool,
    /// SHOW MASTER STATUS, when binary logging is on.
    pub binlog: Option<BinlogPos>,
    pub binlog_do_db: String,
    pub binlog_ignore_db: String,
    pub gtid: GtidState,
    /// None when the server is not a replica.
    pub replica: Option<ReplicaStatus>,
    /// Replication heartbeat period in seconds, when replicating and known.
    pub heartbeat_period: Option<f64>,
    /// Seconds since the replica last received a heartbeat from its master (MySQL), when
    /// known.
    pub last_heartbeat_age: Option<f64>,
    /// Heartbeats the replica received from its master (MariaDB's counter), when known.
    pub received_heartbeats: Option<u64>,
    /// slave_net_timeout (replica_net_timeout): seconds a replica waits for data before it
    /// drops its connection to the master and reconnects.
    pub slave_net_timeout: Option<u32>,
    /// The replication filters it is configured with (MariaDB's `replicate_*` variables),
    /// also when it replicates from nobody: what it would apply as a replica. None where the
    /// server has no such variables (MySQL: per channel).
    pub own_filters: Option<ReplicationFilters>,
    /// The configured repl_user exists here with the replication privilege.
    pub repl_user_ok: Option<bool>,
    /// Semi-synchronous replication, both sides; None where the server has none (MySQL
    /// without the plugins) or would not say.
    pub semi_sync: Option<SemiSync>,
}

/// One configured server as observed: reachable with its state, or not with the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    /// Block name (`server1`).
    pub block: String,
    pub hostname: String,
    pub ip: String,
    pub port: u16,
    /// Index in the configuration's server order (tie-break order).
    pub order: usize,
    pub state: Result<ServerState, String>,
}

impl Observed {
    pub fn name(&self) -> String {
        format!("{}({}:{})", self.hostname, self.ip, self.port)
    }

    pub fn alive(&self) -> Option<&ServerState> {
        self.state.as_ref().ok()
    }

    /// It answered and takes writes (read_only=0).
    pub fn writable(&self) -> bool {
        self.alive().is_some_and(|s| !s.read_only)
    }

    /// Does `host:port` (as a replica names its master) point at this server?
    pub fn is_at(&self, host: &str, port: u16) -> bool {
        port == self.port && (host == self.hostname || host == self.ip)
    }
}

/// A snapshot of the whole configured cluster, in configuration order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
    pub servers: Vec<Observed>,
}

impl Topology {
    /// The configured server `o` replicates from, if it answers and names one.
    pub fn source_of(&self, o: &Observed) -> Option<usize> {
        let r = o.alive()?.replica.as_ref()?;
        self.servers
            .iter()
            .position(|x| x.is_at(&r.master_host, r.master_port))
    }

    /// A replica of a replica (MHA's multi-tier slave): `o` replicates from a configured
    /// server other than the master `master`. Its parent's index.
    pub fn sub_replica_parent(&self, o: &Observed, master: usize) -> Option<usize> {
        self.source_of(o).filter(|&p| p != master)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binlog_positions_order_by_file_number_then_offset() {
        let a = BinlogPos::new("mysql-bin.000009", 500);
        let b = BinlogPos::new("mysql-bin.000010", 4);
        let c = BinlogPos::new("mysql-bin.1000000", 4); // wider suffix, still later
        assert!(a < b && b < c);
        assert!(BinlogPos::new("mysql-bin.000010", 5) > b);
    }

    fn row(pairs: &[(&str, &str)]) -> Row {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect()
    }

    #[test]
    fn replica_status_reads_both_column_dialects() {
        // Recorded from MariaDB 10.11 (SHOW SLAVE STATUS) and MySQL 8.4 (SHOW REPLICA STATUS).
        let maria = row(&[
            ("Master_Host", "127.0.0.1"),
            ("Master_Port", "17001"),
            ("Slave_IO_Running", "Yes"),
            ("Slave_SQL_Running", "Yes"),
            ("Master_Log_File", "mysql-bin.000002"),
            ("Read_Master_Log_Pos", "1234"),
            ("Relay_Master_Log_File", "mysql-bin.000002"),
            ("Exec_Master_Log_Pos", "1200"),
            ("Using_Gtid", "Slave_Pos"),
            ("SQL_Delay", "0"),
            ("Seconds_Behind_Master", "0"),
        ]);
        let mysql = row(&[
            ("Source_Host", "127.0.0.1"),
            ("Source_Port", "17001"),
            ("Replica_IO_Running", "Yes"),
            ("Replica_SQL_Running", "Yes"),
            ("Source_Log_File", "binlog.000002"),
            ("Read_Source_Log_Pos", "1234"),
            ("Relay_Source_Log_File", "binlog.000002"),
            ("Exec_Source_Log_Pos", "1200"),
            ("Auto_Position", "1"),
            ("SQL_Delay", "3600"),
            ("Seconds_Behind_Source", "7"),
        ]);
        let a = ReplicaStatus::from_row(&maria);
        let b = ReplicaStatus::from_row(&mysql);
        for s in [&a, &b] {
            assert_eq!(
                (s.master_host.as_str(), s.master_port),
                ("127.0.0.1", 17001)
            );
            assert!(s.io_running() && s.sql_running() && s.uses_gtid());
            assert_eq!(s.read_pos.as_ref().unwrap().pos, 1234);
            assert_eq!(s.exec_pos.as_ref().unwrap().pos, 1200);
        }
        assert_eq!((b.sql_delay, b.seconds_behind_master), (3600, Some(7)));
    }
}
