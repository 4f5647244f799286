//! Typed replication operations on a [`Session`]: what failover, switchover and the monitor
//! do to a server, in DBA words. The statement texts come from the session's [`Dialect`].
//!
//! Errors keep naming the server and the step (`what`), never the statement. Where callers
//! name the same statement differently in their messages ("read_only off", "SET read_only =
//! 0"), the operation takes that name.

use std::time::{Duration, Instant};

use super::dialect::{Dialect, StartAt};
use super::{DbError, Session, row_to_map};
use crate::config::ServerConfig;
use crate::secret::Secret;
use crate::topology::{
    BinlogEvent, BinlogPos, GtidPos, MariaGtidPos, MasterSettings, MysqlGtidSet, ReplicaStatus,
    Row, SemiSync,
};

fn column(row: Option<Row>, k: &str) -> Option<String> {
    row.and_then(|r| r.get(k).cloned().flatten())
}

/// Whom a CHANGE MASTER points a replica at, as its errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    NewMaster,
    /// The new master, from its binlog coordinates.
    NewMasterCoordinates,
    LatestReplica,
    /// Back to the old master (a switchover rolled back).
    OldMaster,
    /// A deposed master rejoining, to the current master.
    CurrentMaster,
}

impl Toward {
    fn what(self) -> &'static str {
        match self {
            Toward::NewMaster => "CHANGE MASTER to the new master",
            Toward::NewMasterCoordinates => "CHANGE MASTER to the new master's coordinates",
            Toward::LatestReplica => "CHANGE MASTER to the latest replica",
            Toward::OldMaster => "CHANGE MASTER back",
            Toward::CurrentMaster => "CHANGE MASTER to the current master",
        }
    }
}

fn read_only_what(on: bool) -> &'static str {
    if on {
        "SET read_only = 1"
    } else {
        "SET read_only = 0"
    }
}

/// One session of `SHOW FULL PROCESSLIST`, as the server wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    pub id: String,
    pub user: String,
    pub command: String,
    /// Seconds in the current state, as text.
    pub time: String,
    /// The statement it runs (NULL when idle).
    pub info: Option<String>,
}

impl Process {
    fn from_row(r: &Row) -> Process {
        let get = |k: &str| r.get(k).cloned().flatten().unwrap_or_default();
        Process {
            id: get("Id"),
            user: get("User"),
            command: get("Command"),
            time: get("Time"),
            info: r.get("Info").cloned().flatten(),
        }
    }

    pub fn seconds(&self) -> u64 {
        self.time.parse().unwrap_or(0)
    }

    /// Runs a statement that may write: anything but SELECT and SHOW (MHA's test for
    /// "running updates").
    pub fn may_write(&self) -> bool {
        let info = self
            .info
            .as_deref()
            .unwrap_or_default()
            .trim_start()
            .to_ascii_uppercase();
        !info.is_empty() && !info.starts_with("SELECT") && !info.starts_with("SHOW")
    }
}

/// A returning server's GTIDs and binlog settings, as a rejoin reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejoinLook {
    pub server_id: u32,
    pub read_only: bool,
    pub binlog_format: String,
    pub binlog_row_image: String,
    /// MariaDB `gtid_binlog_state`: the last GTID per domain and server id.
    pub gtids: MariaGtidPos,
    pub slave_pos: MariaGtidPos,
}

/// Why a replica did not reach a GTID position.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("{0}")]
    Db(#[from] DbError),
    /// A replication thread stopped with an error: waiting longer cannot help.
    #[error("{server}: replication stopped before reaching {pos}: {thread} error {errno}: {text}")]
    Broken {
        server: String,
        pos: GtidPos,
        thread: &'static str,
        errno: u32,
        text: String,
    },
    #[error("{server}: did not reach GTID position {pos} within {secs} s")]
    TimedOut {
        server: String,
        pos: GtidPos,
        secs: u64,
    },
}

impl Session {
    /// The statement spelling this session uses: the server's, from the version it announced
    /// at connect (see [`Dialect::of_handshake`]); observe sets it again from `VERSION()`.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn set_dialect(&mut self, dialect: Dialect) {
        self.dialect = dialect;
    }

    fn failed_parse(&self, what: &'static str, message: String) -> DbError {
        DbError::Failed {
            server: self.server.clone(),
            what,
            message,
            code: None,
        }
    }

    /// The server's version string (`SELECT VERSION()`).
    pub async fn version_text(&mut self) -> Result<String, DbError> {
        let row = self
            .row_map("read the version", self.dialect.version())
            .await?;
        Ok(column(row, "v").unwrap_or_default())
    }

    /// Nothing more arrives from the master; what was received is still applied.
    pub async fn stop_io_thread(&mut self) -> Result<(), DbError> {
        let sql = self.dialect.stop_io_thread();
        self.exec("STOP SLAVE IO_THREAD", &sql).await
    }

    pub async fn stop_replica(&mut self) -> Result<(), DbError> {
        let sql = self.dialect.stop_replica();
        self.exec("STOP SLAVE", &sql).await
    }

    pub async fn start_replica(&mut self) -> Result<(), DbError> {
        let sql = self.dialect.start_replica();
        self.exec("START SLAVE", &sql).await
    }

    /// The IO thread connects again (after STOP SLAVE IO_THREAD): how a replica whose
    /// semi-sync side was just enabled registers with its master as a semi-sync replica.
    pub async fn start_io_thread(&mut self) -> Result<(), DbError> {
        let sql = self.dialect.start_io_thread();
        self.exec("START SLAVE IO_THREAD", &sql).await
    }

    /// Only the SQL thread starts (the IO thread stays stopped): a replica whose SQL thread
    /// was stopped without an error applies what it received.
    pub async fn start_sql_thread(&mut self) -> Result<(), DbError> {
        let sql = self.dialect.start_sql_thread();
        self.exec("START SLAVE SQL_THREAD", &sql).await
    }

    /// Both sides of semi-sync replication, settings and status; None where the server has
    /// no semi-sync variable.
    pub async fn semi_sync(&mut self) -> Result<Option<SemiSync>, DbError> {
        let rows = self
            .rows("read semi-sync state", self.dialect.semi_sync_state())
            .await?;
        let pairs: Vec<(String, String)> = rows
            .into_iter()
            .map(row_to_map)
            .map(|r| {
                let get = |k: &str| r.get(k).cloned().flatten().unwrap_or_default();
                (get("name"), get("value"))
            })
            .collect();
        Ok(SemiSync::from_pairs(
            pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        ))
    }

    /// The master side on: commits wait for a replica's acknowledgement. The wait point and
    /// the timeout are set first when given, so that no commit waits under other settings.
    pub async fn semi_sync_master_on(&mut self, keep: &MasterSettings) -> Result<(), DbError> {
        if let Some(w) = &keep.wait_point {
            let sql = self.dialect.set_semi_sync_wait_point(w);
            self.exec("set rpl_semi_sync_master_wait_point", &sql)
                .await?;
        }
        if let Some(ms) = keep.timeout_ms {
            let sql = self.dialect.set_semi_sync_timeout(ms);
            self.exec("set rpl_semi_sync_master_timeout", &sql).await?;
        }
        let sql = self.dialect.set_semi_sync_master(true);
        self.exec("enable semi-sync (master side)", &sql).await
    }

    /// The master side off: on a server that becomes a replica, a master side left on makes
    /// its SQL thread wait `rpl_semi_sync_master_timeout` for an acknowledgement that never
    /// comes (MariaDB waits on replicated commits too).
    pub async fn semi_sync_master_off(&mut self) -> Result<(), DbError> {
        let sql = self.dialect.set_semi_sync_master(false);
        self.exec("disable semi-sync (master side)", &sql).await
    }

    /// The replica side on; a running IO thread takes it only when it connects again.
    pub async fn semi_sync_slave_on(&mut self) -> Result<(), DbError> {
        let sql = self.dialect.set_semi_sync_slave(true);
        self.exec("enable semi-sync (slave side)", &sql).await
    }

    pub async fn reset_replica_all(&mut self) -> Result<(), DbError> {
        let sql = self.dialect.reset_replica_all();
        self.exec("RESET SLAVE ALL", &sql).await
    }

    /// A delayed replica applies what it holds back at once (replication stopped).
    pub async fn lift_replica_delay(&mut self) -> Result<(), DbError> {
        self.exec("lift MASTER_DELAY", self.dialect.lift_replica_delay())
            .await
    }

    /// CHANGE MASTER to `to` (see [`Dialect::change_master`]); `toward` names it in errors.
    pub async fn point_at(
        &mut self,
        toward: Toward,
        to: &ServerConfig,
        user: Option<&str>,
        password: Option<&Secret>,
        start: &StartAt,
        heartbeat: Option<f64>,
    ) -> Result<(), DbError> {
        let sql = self
            .dialect
            .change_master(to, user, password, start, heartbeat);
        self.exec(toward.what(), &sql).await
    }

    /// The replica status row (`SHOW SLAVE STATUS`), None when the server is no replica.
    pub async fn replica_status_row(&mut self) -> Result<Option<Row>, DbError> {
        self.row_map("SHOW SLAVE STATUS", self.dialect.show_replica_status())
            .await
    }

    pub async fn replica_status(&mut self) -> Result<Option<ReplicaStatus>, DbError> {
        Ok(self
            .replica_status_row()
            .await?
            .map(|r| ReplicaStatus::from_row(&r)))
    }

    /// The replica's current heartbeat period (to keep it across CHANGE MASTER); None when
    /// unknown, off, or unreadable.
    pub async fn heartbeat_period(&mut self) -> Option<f64> {
        let row = self
            .row_map("read the heartbeat period", self.dialect.heartbeat_period())
            .await
            .ok()?;
        column(row, "period")?
            .parse()
            .ok()
            .filter(|p: &f64| *p > 0.0)
    }

    /// `@@global.log_slave_updates` (None: no answer).
    pub async fn log_slave_updates(&mut self) -> Result<Option<bool>, DbError> {
        let row = self
            .row_map("read log_slave_updates", self.dialect.log_slave_updates())
            .await?;
        Ok(column(row, "v").map(|v| v != "0"))
    }

    /// `SET GLOBAL read_only`.
    pub async fn set_read_only(&mut self, on: bool) -> Result<(), DbError> {
        self.set_read_only_as(read_only_what(on), on).await
    }

    /// `set_read_only`, named `what` in errors ("read_only off", "fence: read_only", ...).
    pub async fn set_read_only_as(&mut self, what: &'static str, on: bool) -> Result<(), DbError> {
        self.exec(what, self.dialect.set_read_only(on)).await
    }

    /// `set_read_only` that may wait up to `wait` on the server (for a global read lock
    /// under `lock_wait_timeout`).
    pub async fn set_read_only_waiting(&mut self, on: bool, wait: Duration) -> Result<(), DbError> {
        self.exec_waiting(read_only_what(on), self.dialect.set_read_only(on), wait)
            .await
    }

    /// `@@global.read_only`; None when the server gave no answer.
    pub async fn read_only(&mut self) -> Result<Option<bool>, DbError> {
        let row = self
            .row_map("read read_only", self.dialect.read_only())
            .await?;
        Ok(column(row, "ro").map(|v| v != "0"))
    }

    /// Fence a server: no more writes (see [`Dialect::fence_read_only`]).
    pub async fn fence_read_only(&mut self, what: &'static str) -> Result<(), DbError> {
        self.exec(what, self.dialect.fence_read_only()).await
    }

    /// End connection `id` (its running statement with it).
    pub async fn kill_connection(&mut self, what: &'static str, id: u64) -> Result<(), DbError> {
        let sql = self.dialect.kill(id);
        self.exec(what, &sql).await
    }

    /// Kill every client session (not replication or system threads, not this one), best
    /// effort. Returns how many were killed.
    pub async fn kill_client_sessions(&mut self) -> usize {
        let mut killed = 0;
        let Ok(rows) = self
            .rows("list sessions", self.dialect.other_sessions())
            .await
        else {
            return 0;
        };
        for r in rows.into_iter().map(row_to_map) {
            let cmd = r.get("COMMAND").cloned().flatten().unwrap_or_default();
            let user = r.get("USER").cloned().flatten().unwrap_or_default();
            if cmd.starts_with("Binlog Dump") || user == "system user" || cmd == "Daemon" {
                continue;
            }
            if let Some(id) = r
                .get("ID")
                .cloned()
                .flatten()
                .and_then(|id| id.parse().ok())
                && self
                    .kill_connection("fence: kill session", id)
                    .await
                    .is_ok()
            {
                killed += 1;
            }
        }
        killed
    }

    /// Every session with its full statement (`SHOW FULL PROCESSLIST`).
    pub async fn processlist(&mut self) -> Result<Vec<Process>, DbError> {
        let rows = self
            .rows("SHOW PROCESSLIST", self.dialect.processlist())
            .await?;
        Ok(rows
            .into_iter()
            .map(row_to_map)
            .map(|r| Process::from_row(&r))
            .collect())
    }

    /// A MariaDB GTID position variable (`gtid_binlog_pos`, `gtid_slave_pos`, ...). On MySQL,
    /// what stands for it: `gtid_binlog_pos` (what replicas can fetch from the server) is
    /// `gtid_executed` minus `gtid_purged`; the others (what it has executed, replicated or
    /// not) are `gtid_executed`.
    pub async fn gtid_pos(&mut self, var: &'static str) -> Result<GtidPos, DbError> {
        if self.dialect != Dialect::MariaDb {
            let (executed, purged) = self.mysql_gtids().await?;
            return Ok(GtidPos::MySql(match var {
                "gtid_binlog_pos" => executed.minus(&purged),
                _ => executed,
            }));
        }
        let sql = self.dialect.gtid_pos(var);
        let row = self.row_map("read GTID position", &sql).await?;
        let text = column(row, "g").unwrap_or_default();
        MariaGtidPos::parse(&text)
            .map(GtidPos::MariaDb)
            .map_err(|e| self.failed_parse("read GTID position", e.to_string()))
    }

    /// MySQL's `gtid_executed` and `gtid_purged`.
    pub async fn mysql_gtids(&mut self) -> Result<(MysqlGtidSet, MysqlGtidSet), DbError> {
        let what = "read gtid_executed";
        let row = self.row_map(what, self.dialect.mysql_gtids()).await?;
        let set = |k: &str| {
            MysqlGtidSet::parse(&column(row.clone(), k).unwrap_or_default())
                .map_err(|e| self.failed_parse(what, e.to_string()))
        };
        Ok((set("executed")?, set("purged")?))
    }

    /// Make `gtid_slave_pos` cover everything the server has binlogged, per domain the later
    /// of the two: what it wrote itself or got from a client session (a saved binlog tail) is
    /// in gtid_binlog_pos only, and a later `MASTER_USE_GTID=slave_pos` would ask for it again
    /// and replay it. (`gtid_current_pos` does not do this: it takes the binlog's GTID only
    /// where this server's own server_id wrote it.) Replication threads must be stopped.
    /// MySQL has nothing to do: `gtid_executed` holds both.
    pub async fn slave_pos_covers_binlog(&mut self) -> Result<GtidPos, DbError> {
        if self.dialect != Dialect::MariaDb {
            return self.gtid_pos("gtid_executed").await;
        }
        let binlog = self.gtid_pos("gtid_binlog_pos").await?;
        let slave = self.gtid_pos("gtid_slave_pos").await?;
        let pos = binlog.union(&slave).last_per_domain();
        let sql = self.dialect.set_gtid_slave_pos(&pos.maria());
        self.exec("set gtid_slave_pos", &sql).await?;
        Ok(pos)
    }

    /// What a rejoin looks at on a returning server (see [`Dialect::rejoin_look`]).
    pub async fn rejoin_look(&mut self) -> Result<RejoinLook, DbError> {
        let what = "read its GTIDs and binlog settings";
        let row = self.row_map(what, self.dialect.rejoin_look()).await?;
        let get = |k: &str| column(row.clone(), k).unwrap_or_default();
        let pos = |k: &str| {
            MariaGtidPos::parse(&get(k)).map_err(|e| self.failed_parse(what, e.to_string()))
        };
        Ok(RejoinLook {
            server_id: get("server_id").parse().unwrap_or(0),
            read_only: get("read_only") != "0",
            binlog_format: get("binlog_format"),
            binlog_row_image: get("binlog_row_image"),
            gtids: pos("gtids")?,
            slave_pos: pos("slave_pos")?,
        })
    }

    /// Every GTID the master has, per domain and server id (see
    /// [`Dialect::master_gtid_state`]).
    pub async fn master_gtid_state(&mut self) -> Result<MariaGtidPos, DbError> {
        let what = "read the master's GTIDs";
        let row = self.row_map(what, self.dialect.master_gtid_state()).await?;
        MariaGtidPos::parse(&column(row, "gtid").unwrap_or_default())
            .map_err(|e| self.failed_parse(what, e.to_string()))
    }

    /// Set `gtid_slave_pos` (replication threads stopped): the position a server reached by
    /// transactions a client session applied (relay-log diffs, a saved binlog tail), which
    /// otherwise stays where replication left it.
    /// MySQL has no such position (`gtid_executed` already has what a client session
    /// applied): nothing to do.
    pub async fn set_slave_pos(&mut self, pos: &GtidPos) -> Result<(), DbError> {
        let GtidPos::MariaDb(pos) = pos else {
            return Ok(());
        };
        let sql = self.dialect.set_gtid_slave_pos(pos);
        self.exec("set gtid_slave_pos", &sql).await
    }

    /// Where the server keeps its relay logs: `@@relay_log_basename` (directory and file name
    /// prefix; empty when unset) and `@@datadir`.
    pub async fn relay_log_location(&mut self) -> Result<(String, String), DbError> {
        let row = self
            .row_map(
                "read the relay log location",
                self.dialect.relay_log_location(),
            )
            .await?;
        let get = |k: &str| column(row.clone(), k).unwrap_or_default();
        Ok((get("b"), get("d")))
    }

    /// `RESET MASTER`: every binlog file deleted, the binlog's GTID state emptied.
    pub async fn reset_master(&mut self) -> Result<(), DbError> {
        self.exec("RESET MASTER", self.dialect.reset_master()).await
    }

    /// The binlog files, oldest first, with their sizes.
    pub async fn binary_logs(&mut self) -> Result<Vec<(String, u64)>, DbError> {
        let rows = self
            .rows("SHOW BINARY LOGS", self.dialect.binary_logs())
            .await?;
        Ok(rows
            .into_iter()
            .map(row_to_map)
            .map(|r| {
                let get = |k: &str| r.get(k).cloned().flatten().unwrap_or_default();
                (get("Log_name"), get("File_size").parse().unwrap_or(0))
            })
            .collect())
    }

    /// Up to `limit` events of binlog `file` from position `from` (0: its start).
    pub async fn binlog_events(
        &mut self,
        file: &str,
        from: u64,
        limit: u64,
    ) -> Result<Vec<BinlogEvent>, DbError> {
        let sql = self.dialect.binlog_events(file, from, limit);
        let rows = self.rows("SHOW BINLOG EVENTS", &sql).await?;
        Ok(rows
            .into_iter()
            .map(row_to_map)
            .map(|r| {
                let get = |k: &str| r.get(k).cloned().flatten().unwrap_or_default();
                BinlogEvent {
                    file: get("Log_name"),
                    pos: get("Pos").parse().unwrap_or(0),
                    kind: get("Event_type"),
                    end: get("End_log_pos").parse().unwrap_or(0),
                    info: get("Info"),
                }
            })
            .collect())
    }

    /// `SHOW MASTER STATUS` as a position.
    pub async fn binlog_coords(&mut self) -> Result<BinlogPos, DbError> {
        let row = self
            .row_map("SHOW MASTER STATUS", self.dialect.show_binlog_status())
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

    /// `MASTER_GTID_WAIT(pos, secs)`: the server's answer as text (`0` reached, `-1` timed
    /// out), the client allowing `secs` on top of its usual timeout. On MySQL
    /// `WAIT_FOR_EXECUTED_GTID_SET` (its `1`, timed out, answered as `-1`).
    pub async fn master_gtid_wait(
        &mut self,
        what: &'static str,
        pos: &GtidPos,
        secs: u64,
    ) -> Result<Option<String>, DbError> {
        let sql = match pos {
            GtidPos::MariaDb(p) => self.dialect.master_gtid_wait(p, secs),
            GtidPos::MySql(set) => self.dialect.wait_for_executed_gtid_set(set, secs),
        };
        let row = self
            .row_map_waiting(what, &sql, Duration::from_secs(secs))
            .await?;
        let answer = column(row, "r");
        Ok(match pos {
            GtidPos::MySql(_) if answer.as_deref() == Some("1") => Some("-1".into()),
            _ => answer,
        })
    }

    /// `MASTER_POS_WAIT(file, pos, secs)`: the server's answer as text (events waited for,
    /// `-1` timed out, NULL not replicating).
    pub async fn master_pos_wait(
        &mut self,
        what: &'static str,
        coords: &BinlogPos,
        secs: u64,
    ) -> Result<Option<String>, DbError> {
        let sql = self.dialect.master_pos_wait(coords, secs);
        let row = self
            .row_map_waiting(what, &sql, Duration::from_secs(secs))
            .await?;
        Ok(column(row, "r"))
    }

    /// Wait until a replica has executed `pos`, in one-second steps, so that a replication
    /// error ends the wait at once instead of after `secs`.
    pub async fn wait_gtid(&mut self, pos: &GtidPos, secs: u64) -> Result<(), WaitError> {
        if pos.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let r = self.master_gtid_wait("MASTER_GTID_WAIT", pos, 1).await?;
            if r.as_deref() == Some("0") {
                return Ok(());
            }
            if let Some(st) = self.replica_status().await? {
                let broken = |errno: u32, text: &str, thread: &'static str| {
                    (errno != 0).then(|| WaitError::Broken {
                        server: self.server.clone(),
                        pos: pos.clone(),
                        thread,
                        errno,
                        text: text.to_string(),
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
                return Err(WaitError::TimedOut {
                    server: self.server.clone(),
                    pos: pos.clone(),
                    secs,
                });
            }
        }
    }

    /// `SET SESSION lock_wait_timeout`: how long this session's lock requests wait.
    pub async fn lock_wait_timeout(&mut self, secs: u64) -> Result<(), DbError> {
        let sql = self.dialect.lock_wait_timeout(secs);
        self.exec("set lock_wait_timeout", &sql).await
    }

    /// The global read lock, waited for up to `wait` on the server.
    pub async fn flush_tables_with_read_lock(&mut self, wait: Duration) -> Result<(), DbError> {
        self.exec_waiting(
            "FLUSH TABLES WITH READ LOCK",
            self.dialect.flush_tables_with_read_lock(),
            wait,
        )
        .await
    }

    /// FLUSH NO_WRITE_TO_BINLOG TABLES, waited for up to `wait` on the server.
    pub async fn flush_tables(&mut self, wait: Duration) -> Result<(), DbError> {
        self.exec_waiting("FLUSH TABLES", self.dialect.flush_tables(), wait)
            .await
    }

    /// Release the global read lock this session holds.
    pub async fn unlock_tables(&mut self) -> Result<(), DbError> {
        self.exec("UNLOCK TABLES", self.dialect.unlock_tables())
            .await
    }

    /// Take the advisory lock `name` if free (not waited for); true when taken.
    pub async fn try_advisory_lock(
        &mut self,
        what: &'static str,
        name: &str,
    ) -> Result<bool, DbError> {
        let sql = self.dialect.get_lock(name);
        let row = self.row_map(what, &sql).await?;
        Ok(column(row, "got").as_deref() == Some("1"))
    }

    /// Take the advisory lock `name`, waiting up to `wait` while another session holds it;
    /// true when taken (held until released or this session ends).
    pub async fn advisory_lock_within(
        &mut self,
        what: &'static str,
        name: &str,
        wait: Duration,
    ) -> Result<bool, DbError> {
        let sql = self.dialect.get_lock_within(name, wait.as_secs());
        let row = self.row_map_waiting(what, &sql, wait).await?;
        Ok(column(row, "got").as_deref() == Some("1"))
    }

    /// Give the advisory lock `name` back.
    pub async fn release_advisory_lock(&mut self, name: &str) -> Result<(), DbError> {
        let sql = self.dialect.release_lock(name);
        self.rows("release the advisory lock", &sql)
            .await
            .map(|_| ())
    }

    /// `@@global.relay_log_purge`.
    pub async fn relay_log_purge(&mut self) -> Result<bool, DbError> {
        let row = self
            .row_map("read relay_log_purge", self.dialect.relay_log_purge())
            .await?;
        Ok(column(row, "p").as_deref() == Some("1"))
    }

    pub async fn set_relay_log_purge(&mut self, on: bool) -> Result<(), DbError> {
        let what = if on {
            "SET relay_log_purge = 1"
        } else {
            "SET relay_log_purge = 0"
        };
        self.exec(what, self.dialect.set_relay_log_purge(on)).await
    }

    /// Start a new relay log (`FLUSH RELAY LOGS`).
    pub async fn flush_relay_logs(&mut self) -> Result<(), DbError> {
        self.exec("FLUSH RELAY LOGS", self.dialect.flush_relay_logs())
            .await
    }

    /// The server's pid file setting and datadir.
    pub async fn pid_file(&mut self) -> Result<Option<(String, String)>, DbError> {
        let row = self
            .row_map("read the pid file", self.dialect.pid_file())
            .await?;
        Ok(row.map(|r| {
            let get = |k: &str| r.get(k).cloned().flatten().unwrap_or_default();
            (get("p"), get("d"))
        }))
    }

    /// Hold the connection with `SLEEP(secs)` on the server, the client allowing `wait` on
    /// top of its usual timeout: a server going down ends it early.
    pub async fn sleep_on_server(&mut self, secs: u64, wait: Duration) -> Result<(), DbError> {
        let sql = self.dialect.sleep(secs);
        self.row_map_waiting("watch", &sql, wait).await.map(|_| ())
    }

    /// MHA's `ping_type=select`.
    pub async fn ping_select(&mut self) -> Result<(), DbError> {
        self.rows("SELECT ping", self.dialect.ping_select())
            .await
            .map(|_| ())
    }

    /// MHA's `ping_type=insert`: a write to `infra.chk_masterha`, created when missing.
    pub async fn ping_insert(&mut self) -> Result<(), DbError> {
        let whats = [
            "create infra database",
            "create the ping table",
            "INSERT ping",
        ];
        for (what, sql) in whats.into_iter().zip(self.dialect.ping_insert()) {
            self.exec(what, sql).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_what_is_not_select_or_show() {
        let p = |info: Option<&str>| Process {
            info: info.map(str::to_string),
            ..Process::default()
        };
        assert!(p(Some("UPDATE t SET a = 1")).may_write());
        assert!(p(Some("  insert into t values (1)")).may_write());
        assert!(!p(Some("select sleep(100)")).may_write());
        assert!(!p(Some("  SHOW FULL PROCESSLIST")).may_write());
        assert!(!p(Some("")).may_write());
        assert!(!p(None).may_write());
    }

    #[test]
    fn wait_errors_read_as_before() {
        let pos = GtidPos::from(MariaGtidPos::parse("0-1-5").unwrap());
        let broken = WaitError::Broken {
            server: "10.0.0.2:3306".into(),
            pos: pos.clone(),
            thread: "SQL",
            errno: 1062,
            text: "Duplicate entry".into(),
        };
        assert_eq!(
            broken.to_string(),
            "10.0.0.2:3306: replication stopped before reaching 0-1-5: SQL error 1062: Duplicate entry"
        );
        let late = WaitError::TimedOut {
            server: "10.0.0.2:3306".into(),
            pos,
            secs: 120,
        };
        assert_eq!(
            late.to_string(),
            "10.0.0.2:3306: did not reach GTID position 0-1-5 within 120 s"
        );
    }
}
