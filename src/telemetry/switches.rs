//! The switchovers a running manager counts: `master_switch --master_state=alive` runs in a
//! process of its own and writes its record `<app>.switch.<unix time>.json` in the workdir;
//! the manager counts each record written since it started, once, across the masters it
//! follows.

use std::collections::HashSet;
use std::path::Path;

use super::Metrics;

pub(super) struct SwitchRecords {
    since: u64,
    seen: HashSet<String>,
}

impl SwitchRecords {
    pub(super) fn since(since: u64) -> SwitchRecords {
        SwitchRecords {
            since,
            seen: HashSet::new(),
        }
    }

    /// Count the records in `workdir` not counted yet.
    pub(super) fn count(&mut self, workdir: &Path, app: &str, metrics: &Metrics) {
        let prefix = format!("{app}.switch.");
        let Ok(dir) = std::fs::read_dir(workdir) else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stamp) = name
                .strip_prefix(&prefix)
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if stamp < self.since || !self.seen.insert(name) {
                continue;
            }
            let Some((outcome, phases)) = read_record(&entry.path()) else {
                continue;
            };
            let phases: Vec<(&str, u64)> = phases.iter().map(|(p, ms)| (p.as_str(), *ms)).collect();
            metrics.switchover(&outcome, &phases);
        }
    }
}

/// A switchover record's outcome and (phase, milliseconds).
fn read_record(path: &Path) -> Option<(String, Vec<(String, u64)>)> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let outcome = v["outcome"].as_str()?.to_string();
    let phases = v["phases"]
        .as_array()?
        .iter()
        .filter_map(|p| Some((p["phase"].as_str()?.to_string(), p["ms"].as_u64()?)))
        .collect();
    Some((outcome, phases))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::tests::sample;

    #[test]
    fn switch_records_are_counted_once_and_only_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metrics::new("app1");
        let rec = r#"{"outcome":"success","phases":[{"phase":"1","ms":3},{"phase":"2","ms":40}]}"#;
        std::fs::write(dir.path().join("app1.switch.100.json"), rec).unwrap();
        std::fs::write(dir.path().join("app1.switch.200.json"), rec).unwrap();
        std::fs::write(dir.path().join("app1.switch.journal"), "{}").unwrap();
        std::fs::write(dir.path().join("app2.switch.300.json"), rec).unwrap();
        std::fs::write(dir.path().join("app1.switch.400.json"), "{not json").unwrap();
        let mut r = SwitchRecords::since(150);
        r.count(dir.path(), "app1", &m);
        r.count(dir.path(), "app1", &m);
        let text = m.render();
        assert_eq!(
            sample(
                &text,
                r#"mha_switchovers_total{app="app1",result="success"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"mha_switchover_phase_duration_seconds_count{app="app1",phase="2"}"#
            ),
            Some(1.0)
        );
    }
}
