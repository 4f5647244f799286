//! Semi-synchronous replication as one server reports it: its settings (both sides) and its
//! status counters. Plain data, parsed from `(name, value)` pairs of either flavour.

use serde::Serialize;

/// When the master waits for a replica's acknowledgement (`rpl_semi_sync_master_wait_point`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitPoint {
    /// After the binlog is written and synced, before the storage engine commits: no other
    /// client sees the transaction before a replica has it (lossless).
    AfterSync,
    /// After the storage engine commit: other clients may read a transaction no replica has.
    AfterCommit,
    /// Anything else the server says, kept as written.
    Other(String),
}

impl WaitPoint {
    pub fn parse(text: &str) -> WaitPoint {
        match text.to_ascii_uppercase().as_str() {
            "AFTER_SYNC" => WaitPoint::AfterSync,
            "AFTER_COMMIT" => WaitPoint::AfterCommit,
            _ => WaitPoint::Other(text.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            WaitPoint::AfterSync => "AFTER_SYNC",
            WaitPoint::AfterCommit => "AFTER_COMMIT",
            WaitPoint::Other(s) => s,
        }
    }
}

impl std::fmt::Display for WaitPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WaitPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One server's semi-sync settings and status. MariaDB has it built in; on MySQL it exists
/// only with the plugins loaded (8.0.26+ may name it `source`/`replica`, read here as
/// `master`/`slave`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SemiSync {
    /// `rpl_semi_sync_master_enabled`: commits wait for a replica's acknowledgement.
    pub master_enabled: bool,
    /// `Rpl_semi_sync_master_status`: the master side is active; OFF while enabled means it
    /// has fallen back to asynchronous replication (a wait timed out, or no replica).
    pub master_active: bool,
    /// `rpl_semi_sync_master_wait_point`.
    pub wait_point: Option<WaitPoint>,
    /// `rpl_semi_sync_master_timeout`, milliseconds: how long a commit waits before the
    /// master falls back to asynchronous.
    pub timeout_ms: Option<u64>,
    /// `rpl_semi_sync_master_wait_no_slave`: wait (up to the timeout) even with no replica
    /// connected.
    pub wait_no_slave: Option<bool>,
    /// `Rpl_semi_sync_master_clients`: replicas connected as semi-sync replicas, able to
    /// acknowledge.
    pub clients: u32,
    /// `Rpl_semi_sync_master_yes_tx`: commits acknowledged by a replica.
    pub yes_tx: u64,
    /// `Rpl_semi_sync_master_no_tx`: commits not acknowledged (asynchronous).
    pub no_tx: u64,
    /// `rpl_semi_sync_slave_enabled`: this server acknowledges as a replica.
    pub slave_enabled: bool,
    /// `Rpl_semi_sync_slave_status`: its IO thread is connected as a semi-sync replica.
    pub slave_active: bool,
}

/// What the master side is set to besides being on: copied from the old master to the new
/// one, so that a failover or a switchover keeps what the cluster had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MasterSettings {
    pub wait_point: Option<WaitPoint>,
    pub timeout_ms: Option<u64>,
}

impl SemiSync {
    pub fn master_settings(&self) -> MasterSettings {
        MasterSettings {
            wait_point: self.wait_point.clone(),
            timeout_ms: self.timeout_ms,
        }
    }
}

fn on(v: &str) -> bool {
    matches!(v.to_ascii_uppercase().as_str(), "ON" | "1" | "YES" | "TRUE")
}

impl SemiSync {
    /// From `(name, value)` pairs of the server's variables and status (any letter case, old
    /// or new spellings). None when the server knows no semi-sync variable at all.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<SemiSync> {
        let mut s = SemiSync::default();
        let mut any = false;
        for (name, value) in pairs {
            let name = name
                .to_ascii_lowercase()
                .replace("_source_", "_master_")
                .replace("_replica_", "_slave_");
            let Some(key) = name.strip_prefix("rpl_semi_sync_") else {
                continue;
            };
            any = true;
            let num = || value.trim().parse::<u64>().ok();
            match key {
                "master_enabled" => s.master_enabled = on(value),
                "master_status" => s.master_active = on(value),
                "master_wait_point" => s.wait_point = Some(WaitPoint::parse(value.trim())),
                "master_timeout" => s.timeout_ms = num(),
                "master_wait_no_slave" => s.wait_no_slave = Some(on(value)),
                "master_clients" => s.clients = num().unwrap_or(0) as u32,
                "master_yes_tx" => s.yes_tx = num().unwrap_or(0),
                "master_no_tx" => s.no_tx = num().unwrap_or(0),
                "slave_enabled" => s.slave_enabled = on(value),
                "slave_status" => s.slave_active = on(value),
                _ => {}
            }
        }
        any.then_some(s)
    }

    /// The master side is enabled but no longer active: commits are acknowledged without a
    /// replica having them.
    pub fn fell_back(&self) -> bool {
        self.master_enabled && !self.master_active
    }

    /// The master side as a DBA reads it: `master side ON (AFTER_SYNC, timeout 10 s), active,
    /// 2 acknowledging replicas`.
    pub fn master_side(&self) -> String {
        if !self.master_enabled {
            return "master side OFF".into();
        }
        let mut out = "master side ON (".to_string();
        if let Some(w) = &self.wait_point {
            out.push_str(w.as_str());
        }
        if let Some(ms) = self.timeout_ms {
            out.push_str(&format!(", timeout {}", millis(ms)));
        }
        out.push(')');
        if self.master_active {
            out.push_str(", active");
        } else {
            out.push_str(", FELL BACK to asynchronous");
        }
        out.push_str(&format!(
            ", {} acknowledging replica{}",
            self.clients,
            if self.clients == 1 { "" } else { "s" }
        ));
        out
    }

    /// The replica side: `slave side ON, active` / `slave side OFF`.
    pub fn slave_side(&self) -> String {
        match (self.slave_enabled, self.slave_active) {
            (false, _) => "slave side OFF".into(),
            (true, true) => "slave side ON, active".into(),
            (true, false) => "slave side ON, not active".into(),
        }
    }
}

/// `1500` → `1.5 s`, `60000` → `60 s`.
pub fn millis(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mariadb_and_mysql_spellings() {
        // Recorded from MariaDB 10.11 (variables and status, both LIKE 'rpl_semi_sync%').
        let maria = [
            ("RPL_SEMI_SYNC_MASTER_ENABLED", "ON"),
            ("RPL_SEMI_SYNC_MASTER_TIMEOUT", "60000"),
            ("RPL_SEMI_SYNC_MASTER_WAIT_NO_SLAVE", "ON"),
            ("RPL_SEMI_SYNC_MASTER_WAIT_POINT", "AFTER_SYNC"),
            ("RPL_SEMI_SYNC_SLAVE_ENABLED", "OFF"),
            ("RPL_SEMI_SYNC_MASTER_CLIENTS", "2"),
            ("RPL_SEMI_SYNC_MASTER_STATUS", "ON"),
            ("RPL_SEMI_SYNC_MASTER_YES_TX", "17"),
            ("RPL_SEMI_SYNC_MASTER_NO_TX", "0"),
            ("RPL_SEMI_SYNC_SLAVE_STATUS", "OFF"),
        ];
        let s = SemiSync::from_pairs(maria).unwrap();
        assert!(s.master_enabled && s.master_active && !s.fell_back());
        assert_eq!(s.wait_point, Some(WaitPoint::AfterSync));
        assert_eq!((s.timeout_ms, s.clients, s.yes_tx), (Some(60000), 2, 17));
        assert_eq!(
            s.master_side(),
            "master side ON (AFTER_SYNC, timeout 60 s), active, 2 acknowledging replicas"
        );
        // MySQL 8.0.26+ with the new plugins.
        let mysql = [
            ("rpl_semi_sync_source_enabled", "ON"),
            ("rpl_semi_sync_source_wait_point", "AFTER_COMMIT"),
            ("rpl_semi_sync_source_timeout", "1500"),
            ("Rpl_semi_sync_source_status", "OFF"),
            ("Rpl_semi_sync_source_clients", "0"),
            ("rpl_semi_sync_replica_enabled", "ON"),
        ];
        let m = SemiSync::from_pairs(mysql).unwrap();
        assert!(m.fell_back() && m.slave_enabled);
        assert_eq!(m.wait_point, Some(WaitPoint::AfterCommit));
        assert_eq!(
            m.master_side(),
            "master side ON (AFTER_COMMIT, timeout 1.5 s), FELL BACK to asynchronous, 0 acknowledging replicas"
        );
        // MySQL without the plugins: nothing to read.
        assert_eq!(SemiSync::from_pairs([("read_only", "ON")]), None);
    }
}
