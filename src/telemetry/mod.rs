//! What a running manager tells about itself over HTTP (`http_listen`, `--http`): the
//! Prometheus metrics, the `/status` document and the health checks. The manager feeds a
//! [`Telemetry`] as it goes (status changes, pings, the slow read of the replicas, failovers
//! and switchovers); the server only reads it. Nothing here holds a password: the topology
//! and the ranking are check_repl's values, which carry none.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::engine::readiness::Readiness;
use crate::status::{self, Status};
use crate::topology::Topology;

pub mod metrics;
pub mod server;
mod switches;

pub use metrics::{Metrics, ReplicaFigures};

/// The `schema` field of `/status`: raised on an incompatible change of the document.
pub const STATUS_SCHEMA: u32 = 1;

/// The detection state a status file state stands for (`mha_detection_state`).
pub fn detection_state(status: Status) -> &'static str {
    match status {
        Status::PingOk => "alive",
        Status::PingFailing => "suspect",
        Status::PingFailed | Status::RetryingMonitor => "unreachable",
        Status::FailoverRunning => "failing_over",
        Status::FailoverError => "dead",
        Status::Standby => "standby",
        Status::InitializingMonitor
        | Status::ConfigError
        | Status::NotRunning
        | Status::PartiallyRunning
        | Status::TimestampOld => "starting",
    }
}

#[derive(Debug, Default)]
struct Shared {
    status: Option<Status>,
    /// A planned switchover paused the health checks.
    paused: bool,
    /// The master was confirmed dead (until the failover starts).
    dead: bool,
    /// The ping loop runs: the master is monitored.
    monitoring: bool,
    master: Option<String>,
    consecutive_failures: u32,
    readiness: Option<Readiness>,
    /// When the replicas were last read (unix seconds).
    checked_unix: Option<u64>,
    topology: Option<Topology>,
}

impl Shared {
    fn state(&self) -> &'static str {
        match (self.paused, self.dead, self.status) {
            (true, _, _) => "paused",
            (_, true, _) => "dead",
            (_, _, Some(s)) => detection_state(s),
            _ => "starting",
        }
    }
}

/// The manager's telemetry, shared by the manager (writer) and the HTTP server (reader).
pub struct Telemetry {
    app: String,
    workdir: PathBuf,
    log: Option<PathBuf>,
    /// check_status's --ping_limit for the report in `/status`.
    ping_limit: Duration,
    pub metrics: Metrics,
    shared: Mutex<Shared>,
    switches: Mutex<switches::SwitchRecords>,
}

/// `/status`: check_status's report, the detection, the readiness, and check_repl's topology
/// and ranking as last read. Documented in docs/monitoring.md.
#[derive(Debug, Serialize)]
pub struct StatusDoc {
    pub schema: u32,
    pub app: String,
    pub version: &'static str,
    pub check_status: status::Report,
    pub detection: DetectionDoc,
    pub readiness: Option<Readiness>,
    /// Unix time of the last read of the replicas.
    pub checked_unix: Option<u64>,
    pub topology: Option<Topology>,
}

#[derive(Debug, Serialize)]
pub struct DetectionDoc {
    pub state: &'static str,
    pub monitoring: bool,
    pub master: Option<String>,
    pub consecutive_failures: u32,
}

impl Telemetry {
    /// `ping_interval`: the status file is touched at every ping; check_status's default
    /// --ping_limit (10 s) unless pings are further apart.
    pub fn new(
        app: &str,
        workdir: PathBuf,
        log: Option<PathBuf>,
        ping_interval: Duration,
    ) -> Arc<Telemetry> {
        Arc::new(Telemetry {
            app: app.to_string(),
            workdir,
            log,
            ping_limit: (ping_interval * 3).max(Duration::from_secs(10)),
            metrics: Metrics::new(app),
            shared: Mutex::new(Shared::default()),
            switches: Mutex::new(switches::SwitchRecords::since(unix(SystemTime::now()))),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut s);
        self.metrics.detection_state(s.state());
        out
    }

    /// The status file took `status`.
    pub fn status(&self, status: Status) {
        self.with(|s| {
            s.status = Some(status);
            if status == Status::FailoverRunning {
                s.dead = false;
            }
        });
    }

    /// Monitoring of `master` begins (Some) or ends (None).
    pub fn monitoring(&self, master: Option<String>) {
        self.with(|s| {
            s.monitoring = master.is_some();
            s.master = master.or(s.master.take());
            s.paused = false;
        });
    }

    pub fn paused(&self, paused: bool) {
        self.with(|s| s.paused = paused);
    }

    /// The master was confirmed dead.
    pub fn dead(&self) {
        self.with(|s| s.dead = true);
    }

    pub fn ping(&self, took: Duration, consecutive_failures: u32) {
        self.metrics.ping(took, consecutive_failures);
        self.with(|s| s.consecutive_failures = consecutive_failures);
    }

    /// The replicas were read: their figures, the topology and the readiness. Returns the
    /// readiness it replaces.
    pub fn replicas(
        &self,
        figures: &[ReplicaFigures],
        topology: Topology,
        readiness: Readiness,
        now: SystemTime,
    ) -> Option<Readiness> {
        self.metrics.replicas(figures);
        self.metrics
            .readiness(readiness.ready, readiness.candidates);
        self.with(|s| {
            s.topology = Some(topology);
            s.checked_unix = Some(unix(now));
            s.readiness.replace(readiness)
        })
    }

    /// Count the switchovers recorded in the workdir since the manager started.
    pub fn count_switchovers(&self) {
        let mut s = self.switches.lock().unwrap_or_else(|e| e.into_inner());
        s.count(&self.workdir, &self.app, &self.metrics);
    }

    /// Ready: monitoring, and a failover now would promote a candidate.
    pub fn ready(&self) -> Result<(), String> {
        self.with(|s| match (&s.readiness, s.monitoring && !s.paused) {
            (_, false) => Err(format!("not monitoring (state {})", s.state())),
            (None, true) => Err("the replicas have not been read yet".into()),
            (Some(r), true) if r.ready => Ok(()),
            (Some(r), true) => Err(r.line()),
        })
    }

    pub fn status_doc(&self, now: SystemTime) -> StatusDoc {
        let report = status::check(
            &self.workdir,
            &self.app,
            self.log.as_deref(),
            self.ping_limit,
            now,
        );
        self.with(|s| StatusDoc {
            schema: STATUS_SCHEMA,
            app: self.app.clone(),
            version: env!("CARGO_PKG_VERSION"),
            check_status: report,
            detection: DetectionDoc {
                state: s.state(),
                monitoring: s.monitoring,
                master: s.master.clone(),
                consecutive_failures: s.consecutive_failures,
            },
            readiness: s.readiness.clone(),
            checked_unix: s.checked_unix,
            topology: s.topology.clone(),
        })
    }
}

pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detection_state_follows_the_manager() {
        let t = Telemetry::new(
            "a",
            PathBuf::from("/nonexistent"),
            None,
            Duration::from_secs(1),
        );
        let state = || t.status_doc(SystemTime::now()).detection.state;
        assert_eq!(state(), "starting");
        t.monitoring(Some("db1".into()));
        t.status(Status::PingOk);
        assert_eq!(state(), "alive");
        t.paused(true);
        assert_eq!(state(), "paused");
        t.paused(false);
        t.status(Status::PingFailing);
        assert_eq!(state(), "suspect");
        t.status(Status::PingFailed);
        assert_eq!(state(), "unreachable");
        t.dead();
        assert_eq!(state(), "dead");
        t.status(Status::FailoverRunning);
        assert_eq!(state(), "failing_over");
    }

    /// The backticked names in the first column of the table that follows `heading` in
    /// docs/monitoring.md.
    fn documented(heading: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/monitoring.md");
        let docs = std::fs::read_to_string(path).unwrap();
        let section = docs.split(heading).nth(1).expect(heading);
        let table = section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2);
        table
            .flat_map(|row| {
                let first = row.split('|').nth(1).unwrap_or("");
                first
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn the_status_schema_is_documented_field_by_field() {
        let t = Telemetry::new(
            "a",
            PathBuf::from("/nonexistent"),
            None,
            Duration::from_secs(1),
        );
        let doc = serde_json::to_value(t.status_doc(SystemTime::now())).unwrap();
        let fields = documented("### `/status`\n");
        for field in &fields {
            let mut v = &doc;
            for part in field.split('.') {
                v = v
                    .get(part)
                    .unwrap_or_else(|| panic!("documented {field} not in {doc}"));
            }
        }
        let objects = ["", "detection."];
        for prefix in objects {
            let obj = if prefix.is_empty() {
                &doc
            } else {
                &doc["detection"]
            };
            for key in obj.as_object().unwrap().keys() {
                let path = format!("{prefix}{key}");
                let covered = fields
                    .iter()
                    .any(|f| *f == path || f.starts_with(&format!("{path}.")));
                assert!(covered, "{path} is not documented");
            }
        }
        assert_eq!(doc["schema"], STATUS_SCHEMA);
    }

    #[test]
    fn every_metric_is_documented_and_every_documented_metric_exported() {
        let documented = documented("### Metrics\n");
        let text = Metrics::new("a").render();
        let exported: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        // The replica metrics appear once a replica was read, the phases once one ran.
        let replica =
            |n: &str| n.starts_with("mha_replica_") || n.ends_with("_phase_duration_seconds");
        for name in &exported {
            assert!(
                documented.iter().any(|d| d == name),
                "{name} is not documented"
            );
        }
        for name in documented.iter().filter(|n| !replica(n)) {
            assert!(exported.contains(&name.as_str()), "{name} is not exported");
        }
        assert_eq!(documented.iter().filter(|n| replica(n)).count(), 7);
    }

    #[test]
    fn ready_needs_monitoring_and_a_read_of_the_replicas() {
        let t = Telemetry::new(
            "a",
            PathBuf::from("/nonexistent"),
            None,
            Duration::from_secs(1),
        );
        assert!(t.ready().unwrap_err().contains("not monitoring"));
        t.monitoring(Some("db1".into()));
        assert!(t.ready().unwrap_err().contains("not been read"));
    }
}
