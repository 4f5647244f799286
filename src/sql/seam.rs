//! The SQL seam: what failover and switchover do to one server, as a trait. [`Session`] is
//! the real implementation (its typed operations in `ops.rs`, the statements in
//! `dialect.rs`); step-order tests put a scripted fake behind it that records the order of
//! the calls and never imitates replication (see `executor::seams`).

use std::future::Future;
use std::time::Duration;

use super::dialect::StartAt;
use super::ops::{Process, Toward, WaitError};
use super::{DbError, Session};
use crate::config::ServerConfig;
use crate::secret::Secret;
use crate::topology::{BinlogPos, GtidPos, MasterSettings, Row, SemiSync};

/// One connection to one server, by typed operation. Every method is the `Session` method of
/// the same name; see there for what it does.
pub trait Db: Send + 'static {
    /// The server's display name, for messages.
    fn server(&self) -> &str;
    fn connection_id(&self) -> u32;
    fn stop_io_thread(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn stop_replica(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn start_replica(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn start_io_thread(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn start_sql_thread(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn semi_sync(&mut self) -> impl Future<Output = Result<Option<SemiSync>, DbError>> + Send;
    fn semi_sync_master_on(
        &mut self,
        keep: &MasterSettings,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn semi_sync_master_off(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn semi_sync_slave_on(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn reset_replica_all(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn lift_replica_delay(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn point_at(
        &mut self,
        toward: Toward,
        to: &ServerConfig,
        user: Option<&str>,
        password: Option<&Secret>,
        start: &StartAt,
        heartbeat: Option<f64>,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn replica_status_row(&mut self) -> impl Future<Output = Result<Option<Row>, DbError>> + Send;
    fn heartbeat_period(&mut self) -> impl Future<Output = Option<f64>> + Send;
    fn log_slave_updates(&mut self) -> impl Future<Output = Result<Option<bool>, DbError>> + Send;
    fn set_read_only_as(
        &mut self,
        what: &'static str,
        on: bool,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn read_only(&mut self) -> impl Future<Output = Result<Option<bool>, DbError>> + Send;
    fn kill_client_sessions(&mut self) -> impl Future<Output = usize> + Send;
    fn gtid_pos(
        &mut self,
        var: &'static str,
    ) -> impl Future<Output = Result<GtidPos, DbError>> + Send;
    fn slave_pos_covers_binlog(&mut self) -> impl Future<Output = Result<GtidPos, DbError>> + Send;
    fn binlog_coords(&mut self) -> impl Future<Output = Result<BinlogPos, DbError>> + Send;
    fn wait_gtid(
        &mut self,
        pos: &GtidPos,
        secs: u64,
    ) -> impl Future<Output = Result<(), WaitError>> + Send;
    fn master_gtid_wait(
        &mut self,
        what: &'static str,
        pos: &GtidPos,
        secs: u64,
    ) -> impl Future<Output = Result<Option<String>, DbError>> + Send;
    fn master_pos_wait(
        &mut self,
        what: &'static str,
        coords: &BinlogPos,
        secs: u64,
    ) -> impl Future<Output = Result<Option<String>, DbError>> + Send;
    fn set_read_only_waiting(
        &mut self,
        on: bool,
        wait: Duration,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn lock_wait_timeout(&mut self, secs: u64) -> impl Future<Output = Result<(), DbError>> + Send;
    fn flush_tables_with_read_lock(
        &mut self,
        wait: Duration,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn unlock_tables(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    fn flush_tables(&mut self, wait: Duration) -> impl Future<Output = Result<(), DbError>> + Send;
    fn processlist(&mut self) -> impl Future<Output = Result<Vec<Process>, DbError>> + Send;
    fn kill_connection(
        &mut self,
        what: &'static str,
        id: u64,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn disconnect(self) -> impl Future<Output = ()> + Send;

    /// Position-based recovery's two operations. Provided (as a server that says nothing) so
    /// that a scripted fake that never goes by positions need not script them.
    fn set_slave_pos(
        &mut self,
        _pos: &GtidPos,
    ) -> impl Future<Output = Result<(), DbError>> + Send {
        async { Ok(()) }
    }
    fn relay_log_location(
        &mut self,
    ) -> impl Future<Output = Result<(String, String), DbError>> + Send {
        async { Ok((String::new(), String::new())) }
    }

    /// The advisory lock `name`, waited for up to `wait`; true when taken. Provided (as a
    /// lock always free) so that a scripted fake need not script it.
    fn advisory_lock_within(
        &mut self,
        _what: &'static str,
        _name: &str,
        _wait: Duration,
    ) -> impl Future<Output = Result<bool, DbError>> + Send {
        async { Ok(true) }
    }

    /// `SET GLOBAL read_only`.
    fn set_read_only(&mut self, on: bool) -> impl Future<Output = Result<(), DbError>> + Send {
        let what = if on {
            "SET read_only = 1"
        } else {
            "SET read_only = 0"
        };
        self.set_read_only_as(what, on)
    }
}

impl Db for Session {
    fn server(&self) -> &str {
        Session::server(self)
    }
    fn connection_id(&self) -> u32 {
        Session::connection_id(self)
    }
    async fn stop_io_thread(&mut self) -> Result<(), DbError> {
        Session::stop_io_thread(self).await
    }
    async fn stop_replica(&mut self) -> Result<(), DbError> {
        Session::stop_replica(self).await
    }
    async fn start_replica(&mut self) -> Result<(), DbError> {
        Session::start_replica(self).await
    }
    async fn start_io_thread(&mut self) -> Result<(), DbError> {
        Session::start_io_thread(self).await
    }
    async fn start_sql_thread(&mut self) -> Result<(), DbError> {
        Session::start_sql_thread(self).await
    }
    async fn semi_sync(&mut self) -> Result<Option<SemiSync>, DbError> {
        Session::semi_sync(self).await
    }
    async fn semi_sync_master_on(&mut self, keep: &MasterSettings) -> Result<(), DbError> {
        Session::semi_sync_master_on(self, keep).await
    }
    async fn semi_sync_master_off(&mut self) -> Result<(), DbError> {
        Session::semi_sync_master_off(self).await
    }
    async fn semi_sync_slave_on(&mut self) -> Result<(), DbError> {
        Session::semi_sync_slave_on(self).await
    }
    async fn reset_replica_all(&mut self) -> Result<(), DbError> {
        Session::reset_replica_all(self).await
    }
    async fn lift_replica_delay(&mut self) -> Result<(), DbError> {
        Session::lift_replica_delay(self).await
    }
    async fn point_at(
        &mut self,
        toward: Toward,
        to: &ServerConfig,
        user: Option<&str>,
        password: Option<&Secret>,
        start: &StartAt,
        heartbeat: Option<f64>,
    ) -> Result<(), DbError> {
        Session::point_at(self, toward, to, user, password, start, heartbeat).await
    }
    async fn replica_status_row(&mut self) -> Result<Option<Row>, DbError> {
        Session::replica_status_row(self).await
    }
    async fn heartbeat_period(&mut self) -> Option<f64> {
        Session::heartbeat_period(self).await
    }
    async fn log_slave_updates(&mut self) -> Result<Option<bool>, DbError> {
        Session::log_slave_updates(self).await
    }
    async fn set_read_only_as(&mut self, what: &'static str, on: bool) -> Result<(), DbError> {
        Session::set_read_only_as(self, what, on).await
    }
    async fn read_only(&mut self) -> Result<Option<bool>, DbError> {
        Session::read_only(self).await
    }
    async fn kill_client_sessions(&mut self) -> usize {
        Session::kill_client_sessions(self).await
    }
    async fn gtid_pos(&mut self, var: &'static str) -> Result<GtidPos, DbError> {
        Session::gtid_pos(self, var).await
    }
    async fn slave_pos_covers_binlog(&mut self) -> Result<GtidPos, DbError> {
        Session::slave_pos_covers_binlog(self).await
    }
    async fn binlog_coords(&mut self) -> Result<BinlogPos, DbError> {
        Session::binlog_coords(self).await
    }
    async fn wait_gtid(&mut self, pos: &GtidPos, secs: u64) -> Result<(), WaitError> {
        Session::wait_gtid(self, pos, secs).await
    }
    async fn master_gtid_wait(
        &mut self,
        what: &'static str,
        pos: &GtidPos,
        secs: u64,
    ) -> Result<Option<String>, DbError> {
        Session::master_gtid_wait(self, what, pos, secs).await
    }
    async fn master_pos_wait(
        &mut self,
        what: &'static str,
        coords: &BinlogPos,
        secs: u64,
    ) -> Result<Option<String>, DbError> {
        Session::master_pos_wait(self, what, coords, secs).await
    }
    async fn set_read_only_waiting(&mut self, on: bool, wait: Duration) -> Result<(), DbError> {
        Session::set_read_only_waiting(self, on, wait).await
    }
    async fn lock_wait_timeout(&mut self, secs: u64) -> Result<(), DbError> {
        Session::lock_wait_timeout(self, secs).await
    }
    async fn flush_tables_with_read_lock(&mut self, wait: Duration) -> Result<(), DbError> {
        Session::flush_tables_with_read_lock(self, wait).await
    }
    async fn unlock_tables(&mut self) -> Result<(), DbError> {
        Session::unlock_tables(self).await
    }
    async fn flush_tables(&mut self, wait: Duration) -> Result<(), DbError> {
        Session::flush_tables(self, wait).await
    }
    async fn processlist(&mut self) -> Result<Vec<Process>, DbError> {
        Session::processlist(self).await
    }
    async fn kill_connection(&mut self, what: &'static str, id: u64) -> Result<(), DbError> {
        Session::kill_connection(self, what, id).await
    }
    async fn disconnect(self) {
        Session::disconnect(self).await
    }
    async fn set_slave_pos(&mut self, pos: &GtidPos) -> Result<(), DbError> {
        Session::set_slave_pos(self, pos).await
    }
    async fn relay_log_location(&mut self) -> Result<(String, String), DbError> {
        Session::relay_log_location(self).await
    }
    async fn advisory_lock_within(
        &mut self,
        what: &'static str,
        name: &str,
        wait: Duration,
    ) -> Result<bool, DbError> {
        Session::advisory_lock_within(self, what, name, wait).await
    }
}

/// Connect to a server within `timeout`.
pub trait Connect: Send + Sync + Clone + 'static {
    type Db: Db;
    /// How long a connect or one statement may take, unless a step says otherwise
    /// (`sql_timeout`).
    fn sql_timeout(&self) -> Duration;
    fn connect(
        &self,
        s: &ServerConfig,
        timeout: Duration,
    ) -> impl Future<Output = Result<Self::Db, DbError>> + Send;
}
