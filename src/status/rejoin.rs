//! What `mha rejoin` starts from, besides the deposed master's marker: the server block that
//! `--remove_dead_master_conf` deleted (`<app>.removed.<host>_<port>.json`, so that it can be
//! written back as it was), and the failover records (`<app>.failover.<time>.json`: how far
//! the new master got the dead master's binlog).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::topology::BinlogPos;

/// A server block deleted from the configuration by a failover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedBlock {
    pub app: String,
    pub block: String,
    pub hostname: String,
    /// The server's port as resolved (the block's, else `[server default]`'s, else 3306).
    pub port: u16,
    pub removed_unix: u64,
    /// Its entries but `hostname`, as `conf_host --params` takes them. May hold a password
    /// when the block had one: the file is written with mode 0600, as the configuration.
    pub params: Vec<(String, String)>,
}

pub fn removed_path(workdir: &Path, app: &str, hostname: &str, port: u16) -> PathBuf {
    workdir.join(format!("{app}.removed.{hostname}_{port}.json"))
}

/// Write it through a temporary file (mode 0600), so that no reader sees half of it.
pub fn save_removed(workdir: &Path, b: &RemovedBlock) -> std::io::Result<PathBuf> {
    let path = removed_path(workdir, &b.app, &b.hostname, b.port);
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(b).map_err(std::io::Error::other)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The removed blocks of `hostname` (and `port`, when given) kept in `workdir`.
pub fn find_removed(
    workdir: &Path,
    app: &str,
    hostname: &str,
    port: Option<u16>,
) -> Vec<RemovedBlock> {
    let prefix = format!("{app}.removed.{hostname}_");
    let mut out: Vec<RemovedBlock> = std::fs::read_dir(workdir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix) && n.ends_with(".json")
        })
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<RemovedBlock>(&t).ok())
        .filter(|b| b.app == app && b.hostname == hostname && port.is_none_or(|p| p == b.port))
        .collect();
    out.sort_by_key(|b| b.port);
    out
}

/// `<app>.rejoined.<host>_<port>.json`: the last rejoin that brought the server back, its
/// report under `report`. A failover record older than it no longer says where the server's
/// own transactions begin.
pub fn rejoined_path(workdir: &Path, app: &str, hostname: &str, port: u16) -> PathBuf {
    workdir.join(format!("{app}.rejoined.{hostname}_{port}.json"))
}

pub fn save_rejoined(
    workdir: &Path,
    app: &str,
    hostname: &str,
    port: u16,
    finished_unix: u64,
    report: &impl Serialize,
) -> std::io::Result<()> {
    let path = rejoined_path(workdir, app, hostname, port);
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "finished_unix": finished_unix,
        "report": report,
    }))
    .map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

/// When the server last rejoined (None: never, as far as `workdir` knows).
pub fn last_rejoined_unix(workdir: &Path, app: &str, hostname: &str, port: u16) -> Option<u64> {
    let text = std::fs::read_to_string(rejoined_path(workdir, app, hostname, port)).ok()?;
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()?
        .get("finished_unix")?
        .as_u64()
}

/// What a rejoin needs of a failover record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FailoverSummary {
    pub started_unix: u64,
    pub outcome: String,
    pub dead_master: Option<String>,
    pub new_master: Option<String>,
    #[serde(default)]
    pub dead_master_reached: Option<BinlogPos>,
}

impl FailoverSummary {
    /// A new master was promoted: the dead master was deposed by it.
    pub fn promoted(&self) -> bool {
        matches!(
            self.outcome.as_str(),
            "success" | "partial" | "data_not_recovered"
        )
    }
}

/// The latest failover in `workdir` that promoted a new master in place of `server`
/// (`host(ip:port)`).
pub fn latest_failover_of(workdir: &Path, app: &str, server: &str) -> Option<FailoverSummary> {
    let prefix = format!("{app}.failover.");
    std::fs::read_dir(workdir)
        .ok()?
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix) && n.ends_with(".json")
        })
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<FailoverSummary>(&t).ok())
        .filter(|f| f.promoted() && f.dead_master.as_deref() == Some(server))
        .max_by_key(|f| f.started_unix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn removed_blocks_round_trip_privately() {
        let dir = tempfile::tempdir().unwrap();
        let b = RemovedBlock {
            app: "app1".into(),
            block: "server1".into(),
            hostname: "db1".into(),
            port: 3306,
            removed_unix: 1_700_000_000,
            params: vec![("candidate_master".into(), "1".into())],
        };
        let p = save_removed(dir.path(), &b).unwrap();
        assert_eq!(p, dir.path().join("app1.removed.db1_3306.json"));
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            find_removed(dir.path(), "app1", "db1", None),
            vec![b.clone()]
        );
        assert_eq!(find_removed(dir.path(), "app1", "db1", Some(3306)), vec![b]);
        assert!(find_removed(dir.path(), "app1", "db1", Some(3307)).is_empty());
        assert!(find_removed(dir.path(), "app2", "db1", None).is_empty());
    }

    #[test]
    fn the_latest_failover_that_deposed_a_server() {
        let dir = tempfile::tempdir().unwrap();
        let write = |t: u64, outcome: &str, dead: &str| {
            let rec = serde_json::json!({
                "app": "app1", "started_unix": t, "outcome": outcome,
                "dead_master": dead, "new_master": "db2(10.0.0.2:3306)",
                "dead_master_reached": {"file": "mysql-bin.000003", "pos": t},
                "phases": [],
            });
            std::fs::write(
                dir.path().join(format!("app1.failover.{t}.json")),
                rec.to_string(),
            )
            .unwrap();
        };
        write(100, "success", "db1(10.0.0.1:3306)");
        write(200, "data_not_recovered", "db1(10.0.0.1:3306)");
        write(300, "failed", "db1(10.0.0.1:3306)");
        write(400, "success", "db3(10.0.0.3:3306)");
        let f = latest_failover_of(dir.path(), "app1", "db1(10.0.0.1:3306)").unwrap();
        assert_eq!(f.started_unix, 200);
        assert_eq!(
            f.dead_master_reached,
            Some(BinlogPos::new("mysql-bin.000003", 200))
        );
        assert!(latest_failover_of(dir.path(), "app1", "db9(10.0.0.9:3306)").is_none());
        assert_eq!(last_rejoined_unix(dir.path(), "app1", "db1", 3306), None);
        save_rejoined(dir.path(), "app1", "db1", 3306, 250, &"report").unwrap();
        assert_eq!(
            last_rejoined_unix(dir.path(), "app1", "db1", 3306),
            Some(250)
        );
    }
}
