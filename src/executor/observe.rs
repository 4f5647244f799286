//! Build a [`Topology`] by connecting to every configured server in parallel.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::config::{Config, ServerConfig};
use crate::sql::dialect::Dialect;
use crate::sql::{self, DbError, Session, Target, quote};
use crate::topology::{
    BinlogPos, GtidState, MariaGtidPos, MysqlGtidSet, Observed, ReplicaStatus, Row, ServerState,
    Topology, Version,
};

pub fn target(s: &ServerConfig) -> Target {
    Target {
        host: s.ip.clone(),
        port: s.port,
        user: s.user.clone(),
        password: s.password.clone(),
        socket: None,
    }
}

/// Observe every server concurrently; unreachable ones carry the reason.
pub async fn observe(config: &Config, timeout: Duration) -> Topology {
    observe_except(config, timeout, None).await
}

/// `observe`, but the server of block `known_down` is not contacted: the manager has just
/// proven it unreachable.
pub async fn observe_except(
    config: &Config,
    timeout: Duration,
    known_down: Option<&str>,
) -> Topology {
    let mut set = JoinSet::new();
    for (order, s) in config.servers.iter().enumerate() {
        let s = s.clone();
        let skip = known_down == Some(s.block.as_str());
        set.spawn(async move {
            let state = if skip {
                Err("not reachable (found dead by the manager moments ago)".to_string())
            } else {
                read_server(&s, timeout).await.map_err(|e| e.to_string())
            };
            Observed {
                block: s.block.clone(),
                hostname: s.hostname.clone(),
                ip: s.ip.clone(),
                port: s.port,
                order,
                state,
            }
        });
    }
    let mut servers = Vec::with_capacity(config.servers.len());
    while let Some(done) = set.join_next().await {
        if let Ok(o) = done {
            servers.push(o);
        }
    }
    servers.sort_by_key(|o| o.order);
    Topology { servers }
}

fn get<'a>(row: &'a Row, k: &str) -> &'a str {
    row.get(k).and_then(|v| v.as_deref()).unwrap_or("")
}

fn on(v: &str) -> bool {
    matches!(v, "1" | "ON" | "on" | "Yes")
}

pub async fn read_server(s: &ServerConfig, timeout: Duration) -> Result<ServerState, DbError> {
    let mut db = sql::connect(&target(s), timeout).await?;
    let result = read_state(&mut db, s).await;
    db.disconnect().await;
    result
}

/// Why the server's version is not known.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// The server answered something that is not a MySQL or MariaDB version.
    #[error("cannot parse version {text:?}")]
    Unparsable { text: String },
}

/// The server's version.
pub async fn server_version(db: &mut Session) -> Result<Version, VersionError> {
    let text = db.version_text().await?;
    Version::parse(&text).ok_or(VersionError::Unparsable { text })
}

async fn read_state(db: &mut Session, s: &ServerConfig) -> Result<ServerState, DbError> {
    let version = server_version(db).await.map_err(|e| match e {
        VersionError::Db(e) => e,
        unparsable @ VersionError::Unparsable { .. } => DbError::Failed {
            server: db.server().to_string(),
            what: "read the version",
            message: unparsable.to_string(),
            code: None,
        },
    })?;
    let dialect = Dialect::of(&version);
    let vars = db
        .row_map("read server variables", dialect.variables())
        .await?
        .unwrap_or_default();
    let log_bin = on(get(&vars, "log_bin"));
    let master = if log_bin {
        db.row_map("read binlog status", dialect.show_binlog_status())
            .await?
    } else {
        None
    };
    let replica_row = db
        .row_map("read replica status", dialect.show_replica_status())
        .await?;
    let replica = replica_row.as_ref().map(ReplicaStatus::from_row);
    let (mut heartbeat_period, mut last_heartbeat_age, mut received_heartbeats) =
        (None, None, None);
    if replica.is_some() {
        let period = dialect.heartbeat_period();
        heartbeat_period = number(db, "read the heartbeat period", period, "period").await;
        if let Some(sql) = dialect.last_heartbeat_age() {
            last_heartbeat_age = number(db, "read the last heartbeat", sql, "age").await;
        }
        if let Some(sql) = dialect.received_heartbeats() {
            received_heartbeats = number(db, "count the heartbeats", sql, "n")
                .await
                .map(|n| n as u64);
        }
    }
    let repl_user = s
        .repl_user
        .clone()
        .or_else(|| replica.as_ref().map(|r| r.master_user.clone()));
    let repl_user_ok = repl_user_exists(db, dialect, repl_user).await;
    db.set_dialect(dialect);
    // Not readable (MySQL without the plugins, a missing privilege): unknown, not an error.
    let semi_sync = db.semi_sync().await.ok().flatten();
    let mut state = state_of(version, &vars, master.as_ref(), replica);
    state.heartbeat_period = heartbeat_period;
    state.last_heartbeat_age = last_heartbeat_age;
    state.received_heartbeats = received_heartbeats;
    state.repl_user_ok = repl_user_ok;
    state.semi_sync = semi_sync;
    Ok(state)
}

/// A server's state from what it answered: its version, its variables (`Dialect::variables`),
/// its binlog status row and its replica status. Heartbeats, replication user and semi-sync
/// are read apart and left unknown here.
pub(crate) fn state_of(
    version: Version,
    vars: &Row,
    master: Option<&Row>,
    replica: Option<ReplicaStatus>,
) -> ServerState {
    let gtid = gtid_state(Dialect::of(&version), vars);
    ServerState {
        server_id: get(vars, "server_id").parse().unwrap_or(0),
        read_only: on(get(vars, "read_only")),
        super_read_only: vars
            .get("super_read_only")
            .cloned()
            .flatten()
            .map(|v| on(&v)),
        log_bin: on(get(vars, "log_bin")),
        log_slave_updates: on(get(vars, "log_slave_updates")),
        binlog_format: get(vars, "binlog_format").to_string(),
        relay_log_purge: on(get(vars, "relay_log_purge")),
        binlog: master.and_then(|m| {
            let file = get(m, "File");
            get(m, "Position")
                .parse()
                .ok()
                .filter(|_| !file.is_empty())
                .map(|p| BinlogPos::new(file, p))
        }),
        binlog_do_db: master
            .map(|m| get(m, "Binlog_Do_DB").to_string())
            .unwrap_or_default(),
        binlog_ignore_db: master
            .map(|m| get(m, "Binlog_Ignore_DB").to_string())
            .unwrap_or_default(),
        gtid,
        replica,
        heartbeat_period: None,
        last_heartbeat_age: None,
        received_heartbeats: None,
        slave_net_timeout: get(vars, "slave_net_timeout").parse().ok(),
        own_filters: vars
            .get("replicate_do_db")
            .map(|_| crate::topology::ReplicationFilters {
                do_db: get(vars, "replicate_do_db").into(),
                ignore_db: get(vars, "replicate_ignore_db").into(),
                do_table: get(vars, "replicate_do_table").into(),
                ignore_table: get(vars, "replicate_ignore_table").into(),
                wild_do_table: get(vars, "replicate_wild_do_table").into(),
                wild_ignore_table: get(vars, "replicate_wild_ignore_table").into(),
            }),
        repl_user_ok: None,
        semi_sync: None,
        version,
    }
}

/// The number in column `col` of the one row `sql` returns; None when unreadable.
async fn number(db: &mut Session, what: &'static str, sql: &str, col: &str) -> Option<f64> {
    db.row_map(what, sql)
        .await
        .ok()
        .flatten()
        .and_then(|r| get(&r, col).parse::<f64>().ok())
}

/// The GTID variables of either flavour.
fn gtid_state(dialect: Dialect, vars: &Row) -> GtidState {
    match dialect {
        Dialect::MariaDb => {
            let p = |k: &str| MariaGtidPos::parse(get(vars, k)).unwrap_or_default();
            GtidState::MariaDb {
                binlog_pos: p("gtid_binlog_pos"),
                current_pos: p("gtid_current_pos"),
                slave_pos: p("gtid_slave_pos"),
                strict_mode: on(get(vars, "gtid_strict_mode")),
            }
        }
        _ => GtidState::MySql {
            // ON_PERMISSIVE still lets anonymous transactions through: only ON means every
            // transaction has a GTID.
            mode_on: get(vars, "gtid_mode") == "ON",
            executed: MysqlGtidSet::parse(get(vars, "gtid_executed")).unwrap_or_default(),
        },
    }
}

/// Does the replication user exist on the server? None when there is no user to look for
/// or the server would not say.
async fn repl_user_exists(
    db: &mut Session,
    dialect: Dialect,
    repl_user: Option<String>,
) -> Option<bool> {
    let u = repl_user.filter(|u| !u.is_empty())?;
    db.row_map(
        "check the replication user",
        &dialect.repl_user_check(&quote(&u)),
    )
    .await
    .ok()
    .flatten()
    .map(|r| get(&r, "n") != "0")
}
