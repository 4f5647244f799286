//! The journal of phases in manager_workdir: one JSON line appended when a phase of a failover
//! or of a switchover ends (`{"at_unix":...,"phase":"3.4","name":"New Master Recovery",
//! "state":"done"}`), so that whoever comes after a killed process can see how far it got.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Which operation a journal belongs to: each has its own file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `<app>.failover.journal`
    Failover,
    /// `<app>.switch.journal`
    Switchover,
}

pub fn path(workdir: &Path, app: &str, op: Operation) -> PathBuf {
    let kind = match op {
        Operation::Failover => "failover",
        Operation::Switchover => "switch",
    };
    workdir.join(format!("{app}.{kind}.journal"))
}

/// Appends one line. Best effort: a journal that cannot be written never stops a phase.
pub fn append(workdir: &Path, app: &str, op: Operation, phase: &str, name: &str, state: &str) {
    let at_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let line =
        serde_json::json!({"at_unix": at_unix, "phase": phase, "name": name, "state": state});
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path(workdir, app, op))
    {
        let _ = writeln!(f, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_appends_json_lines_to_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        append(
            dir.path(),
            "app1",
            Operation::Failover,
            "1",
            "Configuration Check",
            "done",
        );
        append(
            dir.path(),
            "app1",
            Operation::Switchover,
            "2",
            "Rejecting updates",
            "done",
        );
        append(
            dir.path(),
            "app1",
            Operation::Switchover,
            "3",
            "Switching the master",
            "failed",
        );
        let read = |op| std::fs::read_to_string(path(dir.path(), "app1", op)).unwrap();
        assert!(path(dir.path(), "app1", Operation::Failover).ends_with("app1.failover.journal"));
        assert!(path(dir.path(), "app1", Operation::Switchover).ends_with("app1.switch.journal"));
        assert_eq!(read(Operation::Failover).lines().count(), 1);
        let lines: Vec<serde_json::Value> = read(Operation::Switchover)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["phase"], "3");
        assert_eq!(lines[1]["name"], "Switching the master");
        assert_eq!(lines[1]["state"], "failed");
        assert!(lines[1]["at_unix"].as_u64().unwrap() > 0);
    }
}
