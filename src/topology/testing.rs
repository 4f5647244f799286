//! Test builders: plain cluster snapshots for the table tests of decisions and for the
//! scripted fake of the seams.

use super::*;

/// A SHOW SLAVE STATUS row of a MariaDB replica of `master` (port 3306) that received and
/// applied up to `read_pos` of bin.000001, with GTID position `gtid`.
pub fn status_row(master: &str, read_pos: u64, gtid: &str, delay: u64) -> Row {
    let mut r = Row::new();
    let mut set = |k: &str, v: &str| {
        r.insert(k.to_string(), Some(v.to_string()));
    };
    set("Master_Host", master);
    set("Master_Port", "3306");
    set("Master_User", "repl");
    set("Slave_IO_Running", "Yes");
    set("Slave_SQL_Running", "Yes");
    set("Slave_SQL_Running_State", "Slave has read all relay log");
    set("Master_Log_File", "bin.000001");
    set("Read_Master_Log_Pos", &read_pos.to_string());
    set("Relay_Master_Log_File", "bin.000001");
    set("Exec_Master_Log_Pos", &read_pos.to_string());
    set("Using_Gtid", "Slave_Pos");
    set("Gtid_IO_Pos", gtid);
    set("SQL_Delay", &delay.to_string());
    r
}

/// A reachable MariaDB 10.11 server; a replica when `replica` is given.
pub fn state(gtid: &str, replica: Option<Row>) -> ServerState {
    let pos = MariaGtidPos::parse(gtid).unwrap();
    ServerState {
        server_id: 2,
        version: Version::parse("10.11.6-MariaDB-log").unwrap(),
        read_only: replica.is_some(),
        super_read_only: None,
        log_bin: true,
        log_slave_updates: true,
        binlog_format: "ROW".into(),
        relay_log_purge: true,
        binlog: Some(BinlogPos::new("bin.000001", 500)),
        binlog_do_db: String::new(),
        binlog_ignore_db: String::new(),
        gtid: GtidState::MariaDb {
            binlog_pos: pos.clone(),
            current_pos: pos.clone(),
            slave_pos: pos,
            strict_mode: false,
        },
        replica: replica.map(|r| ReplicaStatus::from_row(&r)),
        heartbeat_period: None,
        last_heartbeat_age: None,
        received_heartbeats: None,
        slave_net_timeout: None,
        own_filters: None,
        repl_user_ok: Some(true),
        semi_sync: Some(SemiSync::default()),
    }
}

/// Server `host` (block `server<N>` by position, port 3306) as observed.
pub fn observed(order: usize, host: &str, state: Result<ServerState, String>) -> Observed {
    Observed {
        block: format!("server{}", order + 1),
        hostname: host.to_string(),
        ip: host.to_string(),
        port: 3306,
        order,
        state,
    }
}

/// A SHOW REPLICA STATUS row of a MySQL 8.0.22+ replica of `master` (port 3306), its column
/// names those of that version: received and applied up to `read_pos` of bin.000001, GTID set
/// `executed` received and executed, auto-positioning when `auto_position`.
pub fn mysql_status_row(master: &str, read_pos: u64, executed: &str, auto_position: bool) -> Row {
    let mut r = Row::new();
    let mut set = |k: &str, v: &str| {
        r.insert(k.to_string(), Some(v.to_string()));
    };
    set("Source_Host", master);
    set("Source_Port", "3306");
    set("Source_User", "repl");
    set("Replica_IO_Running", "Yes");
    set("Replica_SQL_Running", "Yes");
    set(
        "Replica_SQL_Running_State",
        "Replica has read all relay log; waiting for more updates",
    );
    set("Source_Log_File", "bin.000001");
    set("Read_Source_Log_Pos", &read_pos.to_string());
    set("Relay_Source_Log_File", "bin.000001");
    set("Exec_Source_Log_Pos", &read_pos.to_string());
    set("Auto_Position", if auto_position { "1" } else { "0" });
    set("Retrieved_Gtid_Set", executed);
    set("Executed_Gtid_Set", executed);
    set("SQL_Delay", "0");
    set("Seconds_Behind_Source", "0");
    r
}

/// A reachable MySQL 8.0.36 server with `gtid_executed` = `executed` (gtid_mode ON unless
/// `executed` is empty); a replica when `replica` is given.
pub fn mysql_state(executed: &str, replica: Option<Row>) -> ServerState {
    let mut s = state("", replica);
    s.version = Version::parse("8.0.36").unwrap();
    s.super_read_only = Some(s.read_only);
    s.gtid = GtidState::MySql {
        mode_on: !executed.is_empty(),
        executed: MysqlGtidSet::parse(executed).unwrap(),
    };
    s
}
