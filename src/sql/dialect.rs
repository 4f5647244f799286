//! Every SQL statement text lives here, per flavour and version where the spelling differs.
//! The typed operations that run them are in `ops.rs`.

use crate::config::ServerConfig;
use crate::secret::Secret;
use crate::sql::quote;
use crate::topology::{BinlogPos, Flavour, MariaGtidPos, MysqlGtidSet, Version, WaitPoint};

/// Where a repointed replica starts reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    /// By GTID: MASTER_USE_GTID=slave_pos (MariaDB), MASTER_AUTO_POSITION=1 (MySQL).
    Gtid,
    /// Binlog coordinates, GTID positioning off.
    Coords(BinlogPos),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    MariaDb,
    /// MySQL before 8.0.22: SHOW SLAVE STATUS, CHANGE MASTER.
    MySqlLegacy,
    /// MySQL 8.0.22 .. 8.3: SHOW REPLICA STATUS, CHANGE REPLICATION SOURCE.
    MySql8,
    /// MySQL 8.4+: SHOW MASTER STATUS is gone (SHOW BINARY LOG STATUS).
    MySql84,
}

impl Dialect {
    pub fn of(v: &Version) -> Dialect {
        match v.flavour {
            Flavour::MariaDb => Dialect::MariaDb,
            Flavour::MySql if v.at_least(8, 4, 0) => Dialect::MySql84,
            Flavour::MySql if v.at_least(8, 0, 22) => Dialect::MySql8,
            Flavour::MySql => Dialect::MySqlLegacy,
        }
    }

    /// From the version the server announced when the connection opened: MariaDB is 10 and
    /// later (the client library reads past the `5.5.5-` prefix MariaDB 10 puts before its
    /// version), MySQL before 10. An unknown version (0) keeps MariaDB, the default.
    pub fn of_handshake((major, minor, patch): (u16, u16, u16)) -> Dialect {
        if major >= 10 || major == 0 {
            return Dialect::MariaDb;
        }
        let text = format!("{major}.{minor}.{patch}");
        Version::parse(&text).map_or(Dialect::MariaDb, |v| Dialect::of(&v))
    }

    pub fn show_replica_status(self) -> &'static str {
        match self {
            Dialect::MariaDb | Dialect::MySqlLegacy => "SHOW SLAVE STATUS",
            Dialect::MySql8 | Dialect::MySql84 => "SHOW REPLICA STATUS",
        }
    }

    pub fn show_binlog_status(self) -> &'static str {
        match self {
            Dialect::MySql84 => "SHOW BINARY LOG STATUS",
            _ => "SHOW MASTER STATUS",
        }
    }

    /// Server variables in one row; column names are the same for every dialect.
    pub fn variables(self) -> &'static str {
        match self {
            Dialect::MariaDb => {
                "SELECT @@global.server_id AS server_id, @@global.read_only AS read_only, \
                 NULL AS super_read_only, @@global.log_bin AS log_bin, \
                 @@global.log_slave_updates AS log_slave_updates, @@global.binlog_format AS binlog_format, \
                 @@global.relay_log_purge AS relay_log_purge, @@global.gtid_binlog_pos AS gtid_binlog_pos, \
                 @@global.gtid_current_pos AS gtid_current_pos, @@global.gtid_slave_pos AS gtid_slave_pos, \
                 @@global.gtid_strict_mode AS gtid_strict_mode, @@global.slave_net_timeout AS slave_net_timeout, \
                 @@global.replicate_do_db AS replicate_do_db, @@global.replicate_ignore_db AS replicate_ignore_db, \
                 @@global.replicate_do_table AS replicate_do_table, @@global.replicate_ignore_table AS replicate_ignore_table, \
                 @@global.replicate_wild_do_table AS replicate_wild_do_table, \
                 @@global.replicate_wild_ignore_table AS replicate_wild_ignore_table"
            }
            Dialect::MySqlLegacy => {
                "SELECT @@global.server_id AS server_id, @@global.read_only AS read_only, \
                 @@global.super_read_only AS super_read_only, @@global.log_bin AS log_bin, \
                 @@global.log_slave_updates AS log_slave_updates, @@global.binlog_format AS binlog_format, \
                 @@global.relay_log_purge AS relay_log_purge, @@global.gtid_mode AS gtid_mode, \
                 @@global.gtid_executed AS gtid_executed, @@global.slave_net_timeout AS slave_net_timeout"
            }
            Dialect::MySql8 => {
                "SELECT @@global.server_id AS server_id, @@global.read_only AS read_only, \
                 @@global.super_read_only AS super_read_only, @@global.log_bin AS log_bin, \
                 @@global.log_replica_updates AS log_slave_updates, @@global.binlog_format AS binlog_format, \
                 @@global.relay_log_purge AS relay_log_purge, @@global.gtid_mode AS gtid_mode, \
                 @@global.gtid_executed AS gtid_executed, @@global.slave_net_timeout AS slave_net_timeout"
            }
            // replica_net_timeout exists from 8.0.26; the old name is a deprecated alias.
            Dialect::MySql84 => {
                "SELECT @@global.server_id AS server_id, @@global.read_only AS read_only, \
                 @@global.super_read_only AS super_read_only, @@global.log_bin AS log_bin, \
                 @@global.log_replica_updates AS log_slave_updates, @@global.binlog_format AS binlog_format, \
                 @@global.relay_log_purge AS relay_log_purge, @@global.gtid_mode AS gtid_mode, \
                 @@global.gtid_executed AS gtid_executed, @@global.replica_net_timeout AS slave_net_timeout"
            }
        }
    }

    /// One row with a `period` column (seconds), when the server replicates.
    pub fn heartbeat_period(self) -> &'static str {
        match self {
            Dialect::MariaDb => {
                "SELECT VARIABLE_VALUE AS period FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_HEARTBEAT_PERIOD'"
            }
            _ => {
                "SELECT HEARTBEAT_INTERVAL AS period FROM performance_schema.replication_connection_configuration LIMIT 1"
            }
        }
    }

    /// One row with an `age` column: seconds since the replica's last heartbeat from its
    /// master (MySQL; no row before the first one). MariaDB has no such time, only a counter
    /// (`received_heartbeats`).
    pub fn last_heartbeat_age(self) -> Option<&'static str> {
        match self {
            Dialect::MariaDb => None,
            _ => Some(
                "SELECT TIMESTAMPDIFF(MICROSECOND, LAST_HEARTBEAT_TIMESTAMP, NOW(6)) / 1000000 AS age FROM performance_schema.replication_connection_status WHERE LAST_HEARTBEAT_TIMESTAMP > '1970-01-02' LIMIT 1",
            ),
        }
    }

    /// MariaDB counts heartbeats received by the default replication connection; with the
    /// replica's position it tells whether the replica still hears from its master.
    pub fn received_heartbeats(self) -> Option<&'static str> {
        match self {
            Dialect::MariaDb => Some(
                "SELECT VARIABLE_VALUE AS n FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RECEIVED_HEARTBEATS'",
            ),
            _ => None,
        }
    }

    /// What shortens a replica's detection: a new heartbeat period and/or a new net timeout,
    /// with replication restarted so that both take effect (the net timeout is read when the
    /// IO thread connects). The statements a DBA pastes, per flavour and version.
    pub fn shorten_detection(
        v: &Version,
        heartbeat: Option<f64>,
        net_timeout: Option<u32>,
    ) -> String {
        let mysql = v.flavour == Flavour::MySql;
        let replica = if mysql && v.at_least(8, 0, 22) {
            "REPLICA"
        } else {
            "SLAVE"
        };
        let mut out = Vec::new();
        if let Some(n) = net_timeout {
            let var = if mysql && v.at_least(8, 0, 26) {
                "replica_net_timeout"
            } else {
                "slave_net_timeout"
            };
            out.push(format!("SET GLOBAL {var} = {n};"));
        }
        out.push(format!("STOP {replica};"));
        if let Some(p) = heartbeat {
            out.push(if mysql && v.at_least(8, 0, 23) {
                format!("CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = {p};")
            } else {
                format!("CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = {p};")
            });
        }
        out.push(format!("START {replica};"));
        out.join(" ")
    }

    /// Every semi-sync variable and status counter of the server, one row each: columns
    /// `name` and `value` (no rows where the server has no semi-sync: MySQL without the
    /// plugins).
    pub fn semi_sync_state(self) -> &'static str {
        match self {
            Dialect::MariaDb => {
                "SELECT VARIABLE_NAME AS name, VARIABLE_VALUE AS value FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME LIKE 'rpl_semi_sync%' \
                 UNION ALL SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME LIKE 'rpl_semi_sync%'"
            }
            _ => {
                "SELECT VARIABLE_NAME AS name, VARIABLE_VALUE AS value FROM performance_schema.global_variables WHERE LOWER(VARIABLE_NAME) LIKE 'rpl_semi_sync%' \
                 UNION ALL SELECT VARIABLE_NAME, VARIABLE_VALUE FROM performance_schema.global_status WHERE LOWER(VARIABLE_NAME) LIKE 'rpl_semi_sync%'"
            }
        }
    }

    /// The semi-sync variables' stem per side: MariaDB and MySQL before 8.0.26 say
    /// master/slave; MySQL 8.0.26+ with its current plugins (semisync_source,
    /// semisync_replica) says source/replica.
    fn semi_sync_stems(self) -> (&'static str, &'static str) {
        match self {
            Dialect::MariaDb | Dialect::MySqlLegacy => {
                ("rpl_semi_sync_master", "rpl_semi_sync_slave")
            }
            Dialect::MySql8 | Dialect::MySql84 => ("rpl_semi_sync_source", "rpl_semi_sync_replica"),
        }
    }

    /// Turn the master side on or off (`rpl_semi_sync_master_enabled`).
    pub fn set_semi_sync_master(self, on: bool) -> String {
        let on = if on { "ON" } else { "OFF" };
        format!("SET GLOBAL {}_enabled = {on}", self.semi_sync_stems().0)
    }

    /// Turn the replica side on or off (`rpl_semi_sync_slave_enabled`); a running IO thread
    /// takes it only when it reconnects.
    pub fn set_semi_sync_slave(self, on: bool) -> String {
        let on = if on { "ON" } else { "OFF" };
        format!("SET GLOBAL {}_enabled = {on}", self.semi_sync_stems().1)
    }

    /// `rpl_semi_sync_master_wait_point`.
    pub fn set_semi_sync_wait_point(self, wait_point: &WaitPoint) -> String {
        format!(
            "SET GLOBAL {}_wait_point = {}",
            self.semi_sync_stems().0,
            quote(wait_point.as_str())
        )
    }

    /// `rpl_semi_sync_master_timeout`, in milliseconds.
    pub fn set_semi_sync_timeout(self, ms: u64) -> String {
        format!("SET GLOBAL {}_timeout = {ms}", self.semi_sync_stems().0)
    }

    /// A deposed master, looked at after the failover: one row with `read_only`,
    /// `super_read_only` (NULL on MariaDB), `uptime` (seconds) and `gtid`, every transaction
    /// it has written or applied (MariaDB: `gtid_binlog_pos`; MySQL: `gtid_executed`).
    pub fn deposed_look(self) -> &'static str {
        match self {
            Dialect::MariaDb => {
                "SELECT @@global.read_only AS read_only, NULL AS super_read_only, \
                 (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME') AS uptime, \
                 @@global.gtid_binlog_pos AS gtid"
            }
            _ => {
                "SELECT @@global.read_only AS read_only, @@global.super_read_only AS super_read_only, \
                 (SELECT VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME = 'Uptime') AS uptime, \
                 @@global.gtid_executed AS gtid"
            }
        }
    }

    /// What the new master has, to compare a deposed master with: one row, column `gtid`.
    /// On MariaDB both the binlog and the replica positions: without log_slave_updates, what
    /// the new master applied as a replica is in `gtid_slave_pos` only.
    pub fn master_gtids(self) -> &'static str {
        match self {
            Dialect::MariaDb => {
                "SELECT CONCAT_WS(',', NULLIF(@@global.gtid_binlog_pos, ''), NULLIF(@@global.gtid_slave_pos, '')) AS gtid"
            }
            _ => "SELECT @@global.gtid_executed AS gtid",
        }
    }

    /// A deposed master about to rejoin: one row with `server_id`, `read_only`, `binlog_format`,
    /// `binlog_row_image`, `gtids` (MariaDB: `gtid_binlog_state`, the last GTID per domain
    /// and server id; MySQL: `gtid_executed`) and `slave_pos` (MariaDB `gtid_slave_pos`).
    pub fn rejoin_look(self) -> &'static str {
        match self {
            Dialect::MariaDb => {
                "SELECT @@global.server_id AS server_id, @@global.read_only AS read_only, @@global.binlog_format AS binlog_format, \
                 @@global.binlog_row_image AS binlog_row_image, @@global.gtid_binlog_state AS gtids, \
                 @@global.gtid_slave_pos AS slave_pos"
            }
            _ => {
                "SELECT @@global.server_id AS server_id, @@global.read_only AS read_only, @@global.binlog_format AS binlog_format, \
                 @@global.binlog_row_image AS binlog_row_image, @@global.gtid_executed AS gtids, \
                 '' AS slave_pos"
            }
        }
    }

    /// Every GTID the master has, per domain and server id (MariaDB: `gtid_binlog_state` and
    /// `gtid_slave_pos`; MySQL `gtid_executed`): one row, column `gtid`.
    pub fn master_gtid_state(self) -> &'static str {
        match self {
            Dialect::MariaDb => {
                "SELECT CONCAT_WS(',', NULLIF(@@global.gtid_binlog_state, ''), NULLIF(@@global.gtid_slave_pos, '')) AS gtid"
            }
            _ => "SELECT @@global.gtid_executed AS gtid",
        }
    }

    /// The binlog files: columns `Log_name`, `File_size`.
    pub fn binary_logs(self) -> &'static str {
        "SHOW BINARY LOGS"
    }

    /// Up to `limit` events of binlog `file` from the event at `from` (the file's start when
    /// `from` is before its first event): columns `Log_name`, `Pos`, `Event_type`,
    /// `Server_id`, `End_log_pos`, `Info`.
    pub fn binlog_events(self, file: &str, from: u64, limit: u64) -> String {
        let from = if from >= 4 {
            format!(" FROM {from}")
        } else {
            String::new()
        };
        format!("SHOW BINLOG EVENTS IN {}{from} LIMIT {limit}", quote(file))
    }

    /// Delete every binlog file and start a new one; the binlog's GTID state is emptied.
    pub fn reset_master(self) -> &'static str {
        match self {
            Dialect::MySql84 => "RESET BINARY LOGS AND GTIDS",
            _ => "RESET MASTER",
        }
    }

    /// Fence a server: no more writes from ordinary users (MariaDB), from anyone (MySQL, where
    /// `read_only` alone lets SUPER users write; super_read_only implies read_only).
    pub fn fence_read_only(self) -> &'static str {
        match self {
            Dialect::MariaDb => "SET GLOBAL read_only = 1",
            _ => "SET GLOBAL super_read_only = 1",
        }
    }

    /// "SLAVE" or "REPLICA" in STOP/START/RESET statements.
    fn replica_word(self) -> &'static str {
        match self {
            Dialect::MariaDb | Dialect::MySqlLegacy => "SLAVE",
            Dialect::MySql8 | Dialect::MySql84 => "REPLICA",
        }
    }

    pub fn stop_io_thread(self) -> String {
        format!("STOP {} IO_THREAD", self.replica_word())
    }

    pub fn stop_replica(self) -> String {
        format!("STOP {}", self.replica_word())
    }

    pub fn start_replica(self) -> String {
        format!("START {}", self.replica_word())
    }

    pub fn start_io_thread(self) -> String {
        format!("START {} IO_THREAD", self.replica_word())
    }

    pub fn start_sql_thread(self) -> String {
        format!("START {} SQL_THREAD", self.replica_word())
    }

    /// Forget the master and the replication settings (MHA: unless skip_reset_slave).
    pub fn reset_replica_all(self) -> String {
        format!("RESET {} ALL", self.replica_word())
    }

    /// Apply at once what a delayed replica holds back (replication threads stopped).
    pub fn lift_replica_delay(self) -> &'static str {
        match self {
            Dialect::MySql84 => "CHANGE REPLICATION SOURCE TO SOURCE_DELAY = 0",
            _ => "CHANGE MASTER TO MASTER_DELAY = 0",
        }
    }

    /// Point a replica at `to`. User and password are kept from the current settings when
    /// None; the heartbeat period (which a new master host resets) is set again when known.
    /// CHANGE MASTER works up to MySQL 8.3; 8.4 only knows CHANGE REPLICATION SOURCE.
    pub fn change_master(
        self,
        to: &ServerConfig,
        user: Option<&str>,
        password: Option<&Secret>,
        start: &StartAt,
        heartbeat: Option<f64>,
    ) -> String {
        let (change, w) = match self {
            Dialect::MySql84 => ("CHANGE REPLICATION SOURCE TO", "SOURCE"),
            _ => ("CHANGE MASTER TO", "MASTER"),
        };
        let mut sql = format!(
            "{change} {w}_HOST = {}, {w}_PORT = {}",
            quote(&to.ip),
            to.port
        );
        if let Some(u) = user {
            sql.push_str(&format!(", {w}_USER = {}", quote(u)));
        }
        if let Some(p) = password {
            sql.push_str(&format!(", {w}_PASSWORD = {}", quote(p.expose())));
        }
        if let Some(p) = heartbeat {
            sql.push_str(&format!(", {w}_HEARTBEAT_PERIOD = {p}"));
        }
        let file_pos = |c: &BinlogPos| {
            format!(
                ", {w}_LOG_FILE = {}, {w}_LOG_POS = {}",
                quote(&c.file),
                c.pos
            )
        };
        match (self, start) {
            (Dialect::MariaDb, StartAt::Gtid) => sql.push_str(", MASTER_USE_GTID = slave_pos"),
            (Dialect::MariaDb, StartAt::Coords(c)) => {
                sql.push_str(&file_pos(c));
                sql.push_str(", MASTER_USE_GTID = no");
            }
            (_, StartAt::Gtid) => sql.push_str(&format!(", {w}_AUTO_POSITION = 1")),
            (_, StartAt::Coords(c)) => {
                sql.push_str(&file_pos(c));
                sql.push_str(&format!(", {w}_AUTO_POSITION = 0"));
            }
        }
        sql
    }

    /// Read-only on: MySQL takes super_read_only (which implies read_only), so that SUPER
    /// users (and the server's own tools) cannot write to a replica either. Off: read_only = 0,
    /// which on MySQL clears super_read_only too.
    pub fn set_read_only(self, on: bool) -> &'static str {
        match (self, on) {
            (Dialect::MariaDb, true) => "SET GLOBAL read_only = 1",
            (_, true) => "SET GLOBAL super_read_only = 1",
            (_, false) => "SET GLOBAL read_only = 0",
        }
    }

    /// MySQL's GTID sets: one row, columns `executed` (`@@gtid_executed`: every transaction
    /// the server has, binlogged or not) and `purged` (`@@gtid_purged`: those no longer in its
    /// binlog, which no replica can fetch from it).
    pub fn mysql_gtids(self) -> &'static str {
        "SELECT @@global.gtid_executed AS executed, @@global.gtid_purged AS purged"
    }

    /// Wait up to `secs` for a MySQL server to have executed `set`: one row, column `r`
    /// (0 reached, 1 timed out).
    pub fn wait_for_executed_gtid_set(self, set: &MysqlGtidSet, secs: u64) -> String {
        format!(
            "SELECT WAIT_FOR_EXECUTED_GTID_SET({}, {secs}) AS r",
            quote(&set.to_string())
        )
    }

    /// One row, column `ro`.
    pub fn read_only(self) -> &'static str {
        "SELECT @@global.read_only AS ro"
    }

    /// One row, column `v`.
    pub fn log_slave_updates(self) -> &'static str {
        match self {
            Dialect::MySql8 | Dialect::MySql84 => "SELECT @@global.log_replica_updates AS v",
            _ => "SELECT @@global.log_slave_updates AS v",
        }
    }

    /// One row, column `v`.
    pub fn version(self) -> &'static str {
        "SELECT VERSION() AS v"
    }

    /// One row, columns `p` (pid file, maybe relative) and `d` (datadir).
    /// Where the relay logs are: one row, columns `b` (`@@relay_log_basename`: directory and
    /// file name prefix) and `d` (`@@datadir`).
    pub fn relay_log_location(self) -> &'static str {
        "SELECT @@global.relay_log_basename AS b, @@global.datadir AS d"
    }

    pub fn pid_file(self) -> &'static str {
        "SELECT @@global.pid_file AS p, @@global.datadir AS d"
    }

    /// Every other session: columns ID, USER, COMMAND.
    pub fn other_sessions(self) -> &'static str {
        "SELECT ID, USER, COMMAND FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"
    }

    /// Every session with its full statement: columns Id, User, Command, Time, Info.
    pub fn processlist(self) -> &'static str {
        "SHOW FULL PROCESSLIST"
    }

    pub fn kill(self, connection_id: u64) -> String {
        format!("KILL {connection_id}")
    }

    /// A GTID position variable of MariaDB (`gtid_binlog_pos`, ...): one row, column `g`.
    pub fn gtid_pos(self, var: &str) -> String {
        format!("SELECT @@global.{var} AS g")
    }

    pub fn set_gtid_slave_pos(self, pos: &MariaGtidPos) -> String {
        format!("SET GLOBAL gtid_slave_pos = {}", quote(&pos.to_string()))
    }

    /// Wait up to `secs` for a MariaDB replica to execute `pos`: one row, column `r`
    /// (0 reached, -1 timed out).
    pub fn master_gtid_wait(self, pos: &MariaGtidPos, secs: u64) -> String {
        format!(
            "SELECT MASTER_GTID_WAIT({}, {secs}) AS r",
            quote(&pos.to_string())
        )
    }

    /// Wait up to `secs` for a replica to apply its master up to `coords`: one row, column `r`
    /// (events waited for, -1 timed out, NULL not replicating).
    /// MySQL 8.4 knows only SOURCE_POS_WAIT (there since 8.0.26).
    pub fn master_pos_wait(self, coords: &BinlogPos, secs: u64) -> String {
        let f = match self {
            Dialect::MySql84 => "SOURCE_POS_WAIT",
            _ => "MASTER_POS_WAIT",
        };
        format!(
            "SELECT {f}({}, {}, {secs}) AS r",
            quote(&coords.file),
            coords.pos
        )
    }

    pub fn lock_wait_timeout(self, secs: u64) -> String {
        format!("SET SESSION lock_wait_timeout = {secs}")
    }

    pub fn flush_tables_with_read_lock(self) -> &'static str {
        "FLUSH TABLES WITH READ LOCK"
    }

    /// MHA's --flush_tables before an online switch: close the tables while writes still run,
    /// so the global read lock comes quickly.
    pub fn flush_tables(self) -> &'static str {
        "FLUSH NO_WRITE_TO_BINLOG TABLES"
    }

    pub fn unlock_tables(self) -> &'static str {
        "UNLOCK TABLES"
    }

    /// A named advisory lock, not waited for: one row, column `got` (1 taken).
    pub fn get_lock(self, name: &str) -> String {
        self.get_lock_within(name, 0)
    }

    /// A named advisory lock, waited for up to `secs`: one row, column `got` (1 taken, 0
    /// still held by another session when the time ran out).
    pub fn get_lock_within(self, name: &str, secs: u64) -> String {
        format!("SELECT GET_LOCK({}, {secs}) AS got", quote(name))
    }

    /// Give a named advisory lock back: one row, column `released`.
    pub fn release_lock(self, name: &str) -> String {
        format!("SELECT RELEASE_LOCK({}) AS released", quote(name))
    }

    /// One row, column `p`: `@@global.relay_log_purge` (1 or 0).
    pub fn relay_log_purge(self) -> &'static str {
        "SELECT @@global.relay_log_purge AS p"
    }

    pub fn set_relay_log_purge(self, on: bool) -> &'static str {
        if on {
            "SET GLOBAL relay_log_purge = 1"
        } else {
            "SET GLOBAL relay_log_purge = 0"
        }
    }

    /// A new relay log, nothing written to the binlog (MariaDB; MySQL since 5.5.3).
    pub fn flush_relay_logs(self) -> &'static str {
        "FLUSH NO_WRITE_TO_BINLOG RELAY LOGS"
    }

    /// A statement that holds the connection for `secs` (a server shutting down ends it with
    /// an error, a lost connection with EOF): one row, column `watch`.
    pub fn sleep(self, secs: u64) -> String {
        format!("SELECT SLEEP({secs}) AS watch")
    }

    /// MHA's `ping_type=select`.
    pub fn ping_select(self) -> &'static str {
        "SELECT 1 AS Value"
    }

    /// MHA's `ping_type=insert`: the schema, the table, then the write that proves the master
    /// takes writes.
    pub fn ping_insert(self) -> [&'static str; 3] {
        [
            "CREATE DATABASE IF NOT EXISTS infra",
            "CREATE TABLE IF NOT EXISTS infra.chk_masterha (`key` TINYINT NOT NULL PRIMARY KEY, val INT UNSIGNED NOT NULL)",
            "INSERT INTO infra.chk_masterha VALUES (1, UNIX_TIMESTAMP()) ON DUPLICATE KEY UPDATE val = UNIX_TIMESTAMP()",
        ]
    }

    /// Does `user` exist with the replication privilege? One row, column `n`.
    pub fn repl_user_check(self, quoted_user: &str) -> String {
        format!(
            "SELECT COUNT(*) AS n FROM mysql.user WHERE User = {quoted_user} AND Repl_slave_priv = 'Y'"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: &str) -> Dialect {
        Dialect::of(&Version::parse(v).unwrap())
    }

    #[test]
    fn dialect_from_the_handshake_version() {
        let cases = [
            ((10, 11, 19), Dialect::MariaDb),
            ((11, 4, 2), Dialect::MariaDb),
            ((0, 0, 0), Dialect::MariaDb),
            ((5, 7, 44), Dialect::MySqlLegacy),
            ((8, 0, 21), Dialect::MySqlLegacy),
            ((8, 0, 22), Dialect::MySql8),
            ((8, 4, 3), Dialect::MySql84),
            ((9, 1, 0), Dialect::MySql84),
        ];
        for (v, want) in cases {
            assert_eq!(Dialect::of_handshake(v), want, "{v:?}");
        }
    }

    #[test]
    fn statements_per_version() {
        assert_eq!(
            d("10.11.19-MariaDB-0+deb12u1-log").show_replica_status(),
            "SHOW SLAVE STATUS"
        );
        assert_eq!(d("5.7.44-log").show_replica_status(), "SHOW SLAVE STATUS");
        assert_eq!(d("8.0.21").show_replica_status(), "SHOW SLAVE STATUS");
        assert_eq!(d("8.0.22").show_replica_status(), "SHOW REPLICA STATUS");
        assert_eq!(d("8.0.36").show_binlog_status(), "SHOW MASTER STATUS");
        assert_eq!(d("8.4.3").show_binlog_status(), "SHOW BINARY LOG STATUS");
        assert!(d("8.4.3").variables().contains("log_replica_updates"));
        assert!(
            !d("10.11.2-MariaDB")
                .variables()
                .contains("super_read_only AS")
        );
    }

    #[test]
    fn deposed_master_statements() {
        let maria = d("10.11.19-MariaDB-log");
        assert_eq!(maria.fence_read_only(), "SET GLOBAL read_only = 1");
        assert!(maria.deposed_look().contains("gtid_binlog_pos AS gtid"));
        assert!(maria.deposed_look().contains("NULL AS super_read_only"));
        assert!(maria.master_gtids().contains("gtid_slave_pos"));
        for v in ["5.7.44-log", "8.0.36", "8.4.3"] {
            assert_eq!(d(v).fence_read_only(), "SET GLOBAL super_read_only = 1");
            assert!(d(v).deposed_look().contains("gtid_executed AS gtid"));
            assert!(
                d(v).deposed_look()
                    .contains("performance_schema.global_status")
            );
            assert_eq!(d(v).master_gtids(), "SELECT @@global.gtid_executed AS gtid");
        }
    }

    #[test]
    fn rejoin_statements() {
        let maria = d("10.11.19-MariaDB-log");
        assert!(
            maria
                .rejoin_look()
                .contains("@@global.gtid_binlog_state AS gtids")
        );
        assert!(
            maria
                .rejoin_look()
                .contains("@@global.binlog_row_image AS binlog_row_image")
        );
        assert_eq!(
            maria.master_gtid_state(),
            "SELECT CONCAT_WS(',', NULLIF(@@global.gtid_binlog_state, ''), NULLIF(@@global.gtid_slave_pos, '')) AS gtid"
        );
        assert_eq!(
            maria.binlog_events("mysql-bin.000002", 900, 5000),
            "SHOW BINLOG EVENTS IN 'mysql-bin.000002' FROM 900 LIMIT 5000"
        );
        assert_eq!(
            maria.binlog_events("it's.000001", 0, 3),
            "SHOW BINLOG EVENTS IN 'it\\'s.000001' LIMIT 3"
        );
        assert_eq!(maria.binary_logs(), "SHOW BINARY LOGS");
        assert_eq!(maria.reset_master(), "RESET MASTER");
        assert_eq!(d("8.4.3").reset_master(), "RESET BINARY LOGS AND GTIDS");
        assert!(d("8.0.36").rejoin_look().contains("gtid_executed AS gtids"));
    }

    #[test]
    fn statements_that_shorten_detection() {
        let v = |t: &str| Version::parse(t).unwrap();
        let cases = [
            (
                "10.11.19-MariaDB-log",
                Some(1.0),
                None,
                "STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 1; START SLAVE;",
            ),
            (
                "10.11.19-MariaDB-log",
                Some(0.5),
                Some(10),
                "SET GLOBAL slave_net_timeout = 10; STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 0.5; START SLAVE;",
            ),
            (
                "5.7.44-log",
                None,
                Some(10),
                "SET GLOBAL slave_net_timeout = 10; STOP SLAVE; START SLAVE;",
            ),
            (
                "8.0.22",
                Some(1.0),
                None,
                "STOP REPLICA; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 1; START REPLICA;",
            ),
            (
                "8.0.23",
                Some(1.0),
                Some(10),
                "SET GLOBAL slave_net_timeout = 10; STOP REPLICA; CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = 1; START REPLICA;",
            ),
            (
                "8.4.3",
                Some(1.0),
                Some(10),
                "SET GLOBAL replica_net_timeout = 10; STOP REPLICA; CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = 1; START REPLICA;",
            ),
        ];
        for (version, hb, net, want) in cases {
            assert_eq!(
                Dialect::shorten_detection(&v(version), hb, net),
                want,
                "{version}"
            );
        }
        for version in ["10.11.2-MariaDB", "5.7.44", "8.0.36", "8.4.3"] {
            assert!(
                d(version)
                    .variables()
                    .contains("_net_timeout AS slave_net_timeout")
            );
        }
    }

    fn server(ip: &str, port: u16) -> ServerConfig {
        let d = std::env::temp_dir().join(format!("mha-dialect-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("a.cnf");
        std::fs::write(
            &p,
            format!("[server1]\nhostname=db2\nip={ip}\nport={port}\n"),
        )
        .unwrap();
        crate::config::load(&p, &crate::config::GlobalConf::Explicit("/dev/null".into()))
            .unwrap()
            .config
            .servers
            .remove(0)
    }

    #[test]
    fn change_master_statements() {
        let to = server("10.0.0.2", 3307);
        let coords = StartAt::Coords(BinlogPos::new("mysql-bin.000002", 342));
        let pw = Secret::new("p'w");
        let cases = [
            (
                "10.11.19-MariaDB-log",
                Some("repl"),
                Some(&pw),
                StartAt::Gtid,
                Some(1.0),
                "CHANGE MASTER TO MASTER_HOST = '10.0.0.2', MASTER_PORT = 3307, MASTER_USER = 'repl', MASTER_PASSWORD = 'p\\'w', MASTER_HEARTBEAT_PERIOD = 1, MASTER_USE_GTID = slave_pos",
            ),
            (
                "10.11.19-MariaDB-log",
                None,
                None,
                coords.clone(),
                None,
                "CHANGE MASTER TO MASTER_HOST = '10.0.0.2', MASTER_PORT = 3307, MASTER_LOG_FILE = 'mysql-bin.000002', MASTER_LOG_POS = 342, MASTER_USE_GTID = no",
            ),
            (
                "5.7.44-log",
                Some("repl"),
                None,
                StartAt::Gtid,
                None,
                "CHANGE MASTER TO MASTER_HOST = '10.0.0.2', MASTER_PORT = 3307, MASTER_USER = 'repl', MASTER_AUTO_POSITION = 1",
            ),
            (
                "8.0.36",
                None,
                None,
                coords.clone(),
                Some(0.5),
                "CHANGE MASTER TO MASTER_HOST = '10.0.0.2', MASTER_PORT = 3307, MASTER_HEARTBEAT_PERIOD = 0.5, MASTER_LOG_FILE = 'mysql-bin.000002', MASTER_LOG_POS = 342, MASTER_AUTO_POSITION = 0",
            ),
            (
                "8.4.3",
                Some("repl"),
                Some(&pw),
                StartAt::Gtid,
                Some(1.0),
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '10.0.0.2', SOURCE_PORT = 3307, SOURCE_USER = 'repl', SOURCE_PASSWORD = 'p\\'w', SOURCE_HEARTBEAT_PERIOD = 1, SOURCE_AUTO_POSITION = 1",
            ),
            (
                "8.4.3",
                None,
                None,
                coords,
                None,
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '10.0.0.2', SOURCE_PORT = 3307, SOURCE_LOG_FILE = 'mysql-bin.000002', SOURCE_LOG_POS = 342, SOURCE_AUTO_POSITION = 0",
            ),
        ];
        for (version, user, password, start, heartbeat, want) in cases {
            assert_eq!(
                d(version).change_master(&to, user, password, &start, heartbeat),
                want,
                "{version}"
            );
        }
    }

    #[test]
    fn replication_thread_statements_per_version() {
        // (version, stop IO thread, stop, start, reset all, lift delay, log_slave_updates)
        let cases = [
            (
                "10.11.19-MariaDB-log",
                "STOP SLAVE IO_THREAD",
                "STOP SLAVE",
                "START SLAVE",
                "RESET SLAVE ALL",
                "CHANGE MASTER TO MASTER_DELAY = 0",
                "SELECT @@global.log_slave_updates AS v",
            ),
            (
                "5.7.44-log",
                "STOP SLAVE IO_THREAD",
                "STOP SLAVE",
                "START SLAVE",
                "RESET SLAVE ALL",
                "CHANGE MASTER TO MASTER_DELAY = 0",
                "SELECT @@global.log_slave_updates AS v",
            ),
            (
                "8.0.36",
                "STOP REPLICA IO_THREAD",
                "STOP REPLICA",
                "START REPLICA",
                "RESET REPLICA ALL",
                "CHANGE MASTER TO MASTER_DELAY = 0",
                "SELECT @@global.log_replica_updates AS v",
            ),
            (
                "8.4.3",
                "STOP REPLICA IO_THREAD",
                "STOP REPLICA",
                "START REPLICA",
                "RESET REPLICA ALL",
                "CHANGE REPLICATION SOURCE TO SOURCE_DELAY = 0",
                "SELECT @@global.log_replica_updates AS v",
            ),
        ];
        for (version, stop_io, stop, start, reset, lift, lsu) in cases {
            let d = d(version);
            assert_eq!(d.stop_io_thread(), stop_io, "{version}");
            assert_eq!(d.stop_replica(), stop, "{version}");
            assert_eq!(d.start_replica(), start, "{version}");
            assert_eq!(d.reset_replica_all(), reset, "{version}");
            assert_eq!(d.lift_replica_delay(), lift, "{version}");
            assert_eq!(d.log_slave_updates(), lsu, "{version}");
        }
    }

    #[test]
    fn semi_sync_statements_per_version() {
        let m = d("10.11.19-MariaDB-log");
        assert!(
            m.semi_sync_state()
                .contains("information_schema.GLOBAL_STATUS")
        );
        let cases = [
            (
                "10.11.19-MariaDB-log",
                "SET GLOBAL rpl_semi_sync_master_enabled = ON",
                "SET GLOBAL rpl_semi_sync_slave_enabled = ON",
                "SET GLOBAL rpl_semi_sync_master_wait_point = 'AFTER_SYNC'",
                "SET GLOBAL rpl_semi_sync_master_timeout = 60000",
                "START SLAVE IO_THREAD",
            ),
            (
                "5.7.44-log",
                "SET GLOBAL rpl_semi_sync_master_enabled = ON",
                "SET GLOBAL rpl_semi_sync_slave_enabled = ON",
                "SET GLOBAL rpl_semi_sync_master_wait_point = 'AFTER_SYNC'",
                "SET GLOBAL rpl_semi_sync_master_timeout = 60000",
                "START SLAVE IO_THREAD",
            ),
            (
                "8.4.3",
                "SET GLOBAL rpl_semi_sync_source_enabled = ON",
                "SET GLOBAL rpl_semi_sync_replica_enabled = ON",
                "SET GLOBAL rpl_semi_sync_source_wait_point = 'AFTER_SYNC'",
                "SET GLOBAL rpl_semi_sync_source_timeout = 60000",
                "START REPLICA IO_THREAD",
            ),
        ];
        for (version, master, slave, wait_point, timeout, start_io) in cases {
            let d = d(version);
            assert_eq!(d.set_semi_sync_master(true), master, "{version}");
            assert_eq!(d.set_semi_sync_slave(true), slave, "{version}");
            assert_eq!(
                d.set_semi_sync_wait_point(&WaitPoint::AfterSync),
                wait_point,
                "{version}"
            );
            assert_eq!(d.set_semi_sync_timeout(60000), timeout, "{version}");
            assert_eq!(d.start_io_thread(), start_io, "{version}");
            assert_eq!(
                d.start_sql_thread(),
                start_io.replace("IO_THREAD", "SQL_THREAD"),
                "{version}"
            );
        }
        assert_eq!(
            m.set_semi_sync_master(false),
            "SET GLOBAL rpl_semi_sync_master_enabled = OFF"
        );
        assert!(
            d("8.0.36")
                .semi_sync_state()
                .contains("performance_schema.global_status")
        );
    }

    #[test]
    fn mariadb_statements_as_the_executor_sent_them() {
        let m = Dialect::MariaDb;
        let pos = MariaGtidPos::parse("0-1-5,1-2-7").unwrap();
        let coords = BinlogPos::new("mysql-bin.000003", 1234);
        let cases: [(String, &str); 28] = [
            (m.set_read_only(true).into(), "SET GLOBAL read_only = 1"),
            (m.set_read_only(false).into(), "SET GLOBAL read_only = 0"),
            (m.read_only().into(), "SELECT @@global.read_only AS ro"),
            (m.version().into(), "SELECT VERSION() AS v"),
            (
                m.pid_file().into(),
                "SELECT @@global.pid_file AS p, @@global.datadir AS d",
            ),
            (
                m.relay_log_location().into(),
                "SELECT @@global.relay_log_basename AS b, @@global.datadir AS d",
            ),
            (
                m.other_sessions().into(),
                "SELECT ID, USER, COMMAND FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()",
            ),
            (m.processlist().into(), "SHOW FULL PROCESSLIST"),
            (m.kill(42), "KILL 42"),
            (
                m.gtid_pos("gtid_slave_pos"),
                "SELECT @@global.gtid_slave_pos AS g",
            ),
            (
                m.set_gtid_slave_pos(&pos),
                "SET GLOBAL gtid_slave_pos = '0-1-5,1-2-7'",
            ),
            (
                m.master_gtid_wait(&pos, 1),
                "SELECT MASTER_GTID_WAIT('0-1-5,1-2-7', 1) AS r",
            ),
            (
                m.master_pos_wait(&coords, 30),
                "SELECT MASTER_POS_WAIT('mysql-bin.000003', 1234, 30) AS r",
            ),
            (m.lock_wait_timeout(9), "SET SESSION lock_wait_timeout = 9"),
            (
                m.flush_tables_with_read_lock().into(),
                "FLUSH TABLES WITH READ LOCK",
            ),
            (m.unlock_tables().into(), "UNLOCK TABLES"),
            (m.flush_tables().into(), "FLUSH NO_WRITE_TO_BINLOG TABLES"),
            (
                m.get_lock("MHA_Master_High_Availability_Monitor"),
                "SELECT GET_LOCK('MHA_Master_High_Availability_Monitor', 0) AS got",
            ),
            (
                m.get_lock_within("MHA_Master_High_Availability_Failover", 200),
                "SELECT GET_LOCK('MHA_Master_High_Availability_Failover', 200) AS got",
            ),
            (
                m.release_lock("MHA_Master_High_Availability_Failover"),
                "SELECT RELEASE_LOCK('MHA_Master_High_Availability_Failover') AS released",
            ),
            (
                m.relay_log_purge().into(),
                "SELECT @@global.relay_log_purge AS p",
            ),
            (
                m.set_relay_log_purge(true).into(),
                "SET GLOBAL relay_log_purge = 1",
            ),
            (
                m.set_relay_log_purge(false).into(),
                "SET GLOBAL relay_log_purge = 0",
            ),
            (
                m.flush_relay_logs().into(),
                "FLUSH NO_WRITE_TO_BINLOG RELAY LOGS",
            ),
            (m.sleep(60), "SELECT SLEEP(60) AS watch"),
            (m.ping_select().into(), "SELECT 1 AS Value"),
            (m.show_binlog_status().into(), "SHOW MASTER STATUS"),
            (m.show_replica_status().into(), "SHOW SLAVE STATUS"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
        assert_eq!(
            m.ping_insert(),
            [
                "CREATE DATABASE IF NOT EXISTS infra",
                "CREATE TABLE IF NOT EXISTS infra.chk_masterha (`key` TINYINT NOT NULL PRIMARY KEY, val INT UNSIGNED NOT NULL)",
                "INSERT INTO infra.chk_masterha VALUES (1, UNIX_TIMESTAMP()) ON DUPLICATE KEY UPDATE val = UNIX_TIMESTAMP()",
            ]
        );
    }
}
