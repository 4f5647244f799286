//! Every SQL statement text that differs between flavours and versions lives here.

use crate::topology::{Flavour, Version};

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
                 @@global.gtid_strict_mode AS gtid_strict_mode, @@global.slave_net_timeout AS slave_net_timeout"
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

    /// Fence a server: no more writes from ordinary users (MariaDB), from anyone (MySQL, where
    /// `read_only` alone lets SUPER users write; super_read_only implies read_only).
    pub fn fence_read_only(self) -> &'static str {
        match self {
            Dialect::MariaDb => "SET GLOBAL read_only = 1",
            _ => "SET GLOBAL super_read_only = 1",
        }
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
}
