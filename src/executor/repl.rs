//! Replication statements and positions shared by failover and switchover (MariaDB).

use crate::config::ServerConfig;
use crate::secret::Secret;
use crate::sql::{DbError, Session, quote};
use crate::topology::{BinlogPos, MariaGtidPos};

/// Where a repointed replica starts reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    /// MASTER_USE_GTID=slave_pos.
    Gtid,
    /// Binlog coordinates, MASTER_USE_GTID=no.
    Coords(BinlogPos),
}

/// CHANGE MASTER to `to`. User and password are kept from the current settings when None;
/// the heartbeat period (which a new MASTER_HOST resets) is set again when known.
pub fn change_master(
    to: &ServerConfig,
    user: Option<&str>,
    password: Option<&Secret>,
    start: &StartAt,
    heartbeat: Option<f64>,
) -> String {
    let mut sql = format!(
        "CHANGE MASTER TO MASTER_HOST = {}, MASTER_PORT = {}",
        quote(&to.ip),
        to.port
    );
    if let Some(u) = user {
        sql.push_str(&format!(", MASTER_USER = {}", quote(u)));
    }
    if let Some(p) = password {
        sql.push_str(&format!(", MASTER_PASSWORD = {}", quote(p.expose())));
    }
    if let Some(p) = heartbeat {
        sql.push_str(&format!(", MASTER_HEARTBEAT_PERIOD = {p}"));
    }
    match start {
        StartAt::Gtid => sql.push_str(", MASTER_USE_GTID = slave_pos"),
        StartAt::Coords(c) => sql.push_str(&format!(
            ", MASTER_LOG_FILE = {}, MASTER_LOG_POS = {}, MASTER_USE_GTID = no",
            quote(&c.file),
            c.pos
        )),
    }
    sql
}

/// Wait until a replica has executed `pos`, in one-second steps, so that a replication error
/// ends the wait at once instead of after `secs`.
pub async fn wait_gtid(db: &mut Session, pos: &MariaGtidPos, secs: u64) -> Result<(), String> {
    use std::time::{Duration, Instant};
    if pos.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let row = db
            .row_map_waiting(
                "MASTER_GTID_WAIT",
                &format!(
                    "SELECT MASTER_GTID_WAIT({}, 1) AS r",
                    quote(&pos.to_string())
                ),
                Duration::from_secs(1),
            )
            .await
            .map_err(|e| e.to_string())?;
        if row.and_then(|r| r.get("r").cloned().flatten()).as_deref() == Some("0") {
            return Ok(());
        }
        let st = db
            .row_map("SHOW SLAVE STATUS", "SHOW SLAVE STATUS")
            .await
            .map_err(|e| e.to_string())?
            .map(|r| crate::topology::ReplicaStatus::from_row(&r));
        if let Some(st) = st {
            let broken = |errno: u32, text: &str, what: &str| {
                (errno != 0).then(|| {
                    format!(
                        "{}: replication stopped before reaching {pos}: {what} error {errno}: {text}",
                        db.server()
                    )
                })
            };
            if !st.io_running()
                && let Some(e) = broken(st.last_io_errno, &st.last_io_error, "IO")
            {
                return Err(e);
            }
            if !st.sql_running()
                && let Some(e) = broken(st.last_sql_errno, &st.last_sql_error, "SQL")
            {
                return Err(e);
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{}: did not reach GTID position {pos} within {secs} s",
                db.server()
            ));
        }
    }
}

/// Make `gtid_slave_pos` cover everything the server has binlogged, per domain the later of
/// the two: what it wrote itself or got from a client session (a saved binlog tail) is in
/// gtid_binlog_pos only, and a later `MASTER_USE_GTID=slave_pos` would ask for it again and
/// replay it. (`gtid_current_pos` does not do this: it takes the binlog's GTID only where
/// this server's own server_id wrote it.) Replication threads must be stopped.
pub async fn slave_pos_covers_binlog(db: &mut Session) -> Result<MariaGtidPos, DbError> {
    let binlog = gtid_pos(db, "gtid_binlog_pos").await?;
    let slave = gtid_pos(db, "gtid_slave_pos").await?;
    let pos = binlog.union(&slave).last_per_domain();
    db.exec(
        "set gtid_slave_pos",
        &format!("SET GLOBAL gtid_slave_pos = {}", quote(&pos.to_string())),
    )
    .await?;
    Ok(pos)
}

/// A GTID position variable (`gtid_binlog_pos`, `gtid_slave_pos`, ...).
pub async fn gtid_pos(db: &mut Session, var: &'static str) -> Result<MariaGtidPos, DbError> {
    let row = db
        .row_map("read GTID position", &format!("SELECT @@global.{var} AS g"))
        .await?;
    let text = row
        .and_then(|r| r.get("g").cloned().flatten())
        .unwrap_or_default();
    MariaGtidPos::parse(&text).map_err(|e| DbError::Failed {
        server: db.server().to_string(),
        what: "read GTID position",
        message: e.to_string(),
        code: None,
    })
}

/// SHOW MASTER STATUS as a position.
pub async fn binlog_coords(db: &mut Session) -> Result<BinlogPos, DbError> {
    let row = db
        .row_map("SHOW MASTER STATUS", "SHOW MASTER STATUS")
        .await?
        .unwrap_or_default();
    Ok(BinlogPos::new(
        row.get("File").cloned().flatten().unwrap_or_default(),
        row.get("Position")
            .cloned()
            .flatten()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
    ))
}

/// The replica's current heartbeat period, to keep it across CHANGE MASTER.
pub async fn heartbeat(db: &mut Session) -> Option<f64> {
    let row = db
        .row_map(
            "read the heartbeat period",
            crate::sql::dialect::Dialect::MariaDb.heartbeat_period(),
        )
        .await
        .ok()??;
    row.get("period")
        .cloned()
        .flatten()?
        .parse()
        .ok()
        .filter(|p: &f64| *p > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_master_statements() {
        let cfg = crate::config::load(
            &{
                let d = std::env::temp_dir().join(format!("mha-repl-{}", std::process::id()));
                std::fs::create_dir_all(&d).unwrap();
                let p = d.join("a.cnf");
                std::fs::write(&p, "[server1]\nhostname=db2\nip=10.0.0.2\nport=3307\n").unwrap();
                p
            },
            &crate::config::GlobalConf::Explicit("/dev/null".into()),
        )
        .unwrap()
        .config;
        let to = &cfg.servers[0];
        assert_eq!(
            change_master(
                to,
                Some("repl"),
                Some(&Secret::new("p'w")),
                &StartAt::Gtid,
                Some(1.0)
            ),
            "CHANGE MASTER TO MASTER_HOST = '10.0.0.2', MASTER_PORT = 3307, MASTER_USER = 'repl', MASTER_PASSWORD = 'p\\'w', MASTER_HEARTBEAT_PERIOD = 1, MASTER_USE_GTID = slave_pos"
        );
        assert_eq!(
            change_master(
                to,
                None,
                None,
                &StartAt::Coords(BinlogPos::new("mysql-bin.000002", 342)),
                None
            ),
            "CHANGE MASTER TO MASTER_HOST = '10.0.0.2', MASTER_PORT = 3307, MASTER_LOG_FILE = 'mysql-bin.000002', MASTER_LOG_POS = 342, MASTER_USE_GTID = no"
        );
    }
}
