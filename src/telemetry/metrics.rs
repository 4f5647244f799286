//! The manager's Prometheus metrics: fixed names (docs/monitoring.md lists them; dashboards
//! use them), each labelled with `app`, rendered in the Prometheus text format 0.0.4 that
//! `promtool check metrics` validates.

use std::collections::HashMap;
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every value `mha_detection_state{state}` takes; exactly one is 1 at any time.
pub const DETECTION_STATES: [&str; 8] = [
    "starting",
    "alive",
    "suspect",
    "unreachable",
    "dead",
    "failing_over",
    "paused",
    "standby",
];

/// The results `mha_failovers_total` counts (a failover record's outcome), all exported from
/// the start at 0 so that `increase()` sees the first one.
pub const FAILOVER_RESULTS: [&str; 7] = [
    "success",
    "partial",
    "data_not_recovered",
    "stopped_before_promotion",
    "failed",
    "refused",
    "dry_run",
];

/// The results `mha_switchovers_total` counts (a switchover record's outcome; a dry run writes
/// none).
pub const SWITCHOVER_RESULTS: [&str; 5] =
    ["success", "partial", "refused", "rolled_back", "failed"];

/// Ping latencies: milliseconds on a LAN up to the ping timeout (ping_interval, 3 s by default).
const PING_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0,
];
/// Phase durations: from a few milliseconds (the sandbox's phases) to relay-log applies of
/// minutes.
const PHASE_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// One replica's figures; None where the server did not say (then no sample is exported).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaFigures {
    pub replica: String,
    pub io_running: bool,
    pub sql_running: bool,
    pub lag_seconds: Option<f64>,
    pub lag_bytes: Option<u64>,
    pub heartbeat_age: Option<f64>,
}

pub struct Metrics {
    registry: Registry,
    master_up: IntGauge,
    ping: Histogram,
    detection: IntGaugeVec,
    failures: IntGauge,
    ready: IntGauge,
    candidates: IntGauge,
    replica: ReplicaGauges,
    ops: Operations,
}

/// Per replica (label `replica`).
struct ReplicaGauges {
    io: IntGaugeVec,
    sql: IntGaugeVec,
    lag_seconds: GaugeVec,
    lag_bytes: GaugeVec,
    heartbeat_age: GaugeVec,
}

/// Failovers and switchovers.
struct Operations {
    failovers: IntCounterVec,
    switchovers: IntCounterVec,
    failover_phase: HistogramVec,
    switchover_phase: HistogramVec,
    last_failover: Gauge,
}

/// Registers metrics with fixed, valid names: a refusal is a programming error.
struct Reg(Registry);

impl Reg {
    fn add<M: prometheus::core::Collector + Clone + 'static>(&self, m: prometheus::Result<M>) -> M {
        let m = m.expect("a valid metric");
        self.0
            .register(Box::new(m.clone()))
            .expect("metric names are fixed and unique");
        m
    }

    fn int(&self, name: &str, help: &str) -> IntGauge {
        self.add(IntGauge::with_opts(Opts::new(name, help)))
    }

    fn ints(&self, name: &str, help: &str, label: &str) -> IntGaugeVec {
        self.add(IntGaugeVec::new(Opts::new(name, help), &[label]))
    }

    fn floats(&self, name: &str, help: &str) -> GaugeVec {
        self.add(GaugeVec::new(Opts::new(name, help), &["replica"]))
    }

    fn counters(&self, name: &str, help: &str) -> IntCounterVec {
        self.add(IntCounterVec::new(Opts::new(name, help), &["result"]))
    }

    fn phases(&self, name: &str, help: &str) -> HistogramVec {
        let o = HistogramOpts::new(name, help).buckets(PHASE_BUCKETS.to_vec());
        self.add(HistogramVec::new(o, &["phase"]))
    }
}

impl ReplicaGauges {
    fn new(r: &Reg) -> ReplicaGauges {
        ReplicaGauges {
            io: r.ints(
                "mha_replica_io_running",
                "1 if the replica's IO thread runs.",
                "replica",
            ),
            sql: r.ints(
                "mha_replica_sql_running",
                "1 if the replica's SQL thread runs.",
                "replica",
            ),
            lag_seconds: r.floats(
                "mha_replica_lag_seconds",
                "Seconds_Behind_Master of the replica.",
            ),
            lag_bytes: r.floats(
                "mha_replica_lag_bytes",
                "Bytes of the master's binlog the replica has not executed yet.",
            ),
            heartbeat_age: r.floats(
                "mha_replica_heartbeat_age_seconds",
                "Seconds since the replica was last seen hearing from its master.",
            ),
        }
    }
}

impl Operations {
    fn new(r: &Reg) -> Operations {
        let ops = Operations {
            failovers: r.counters("mha_failovers_total", "Failovers by result."),
            switchovers: r.counters("mha_switchovers_total", "Planned switchovers by result."),
            failover_phase: r.phases(
                "mha_failover_phase_duration_seconds",
                "Duration of each failover phase (MHA's phase numbers).",
            ),
            switchover_phase: r.phases(
                "mha_switchover_phase_duration_seconds",
                "Duration of each switchover phase (MHA's phase numbers).",
            ),
            last_failover: r.add(Gauge::with_opts(Opts::new(
                "mha_last_failover_timestamp_seconds",
                "Unix time the last failover started; 0 if none.",
            ))),
        };
        for result in FAILOVER_RESULTS {
            ops.failovers.with_label_values(&[result]);
        }
        for result in SWITCHOVER_RESULTS {
            ops.switchovers.with_label_values(&[result]);
        }
        ops
    }
}

impl Metrics {
    pub fn new(app: &str) -> Metrics {
        let labels = HashMap::from([("app".to_string(), app.to_string())]);
        let r = Reg(Registry::new_custom(None, Some(labels)).expect("a valid label"));
        let ping = HistogramOpts::new("mha_ping_duration_seconds", "Master ping latency.")
            .buckets(PING_BUCKETS.to_vec());
        let m = Metrics {
            master_up: r.int(
                "mha_master_up",
                "1 if the last ping of the master was answered.",
            ),
            ping: r.add(Histogram::with_opts(ping)),
            detection: r.ints(
                "mha_detection_state",
                "1 for the manager's current detection state, 0 for the others.",
                "state",
            ),
            failures: r.int(
                "mha_ping_failures_consecutive",
                "Consecutive failed pings of the master.",
            ),
            ready: r.int(
                "mha_failover_ready",
                "1 if a failover now would find an eligible candidate and not be refused.",
            ),
            candidates: r.int(
                "mha_failover_candidates",
                "Replicas a failover now would find eligible.",
            ),
            replica: ReplicaGauges::new(&r),
            ops: Operations::new(&r),
            registry: r.0.clone(),
        };
        r.ints("mha_build_info", "The manager's version.", "version")
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m.detection_state("starting");
        m
    }

    /// The text format (`text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into memory fails only on a metric the registry would have refused.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn detection_state(&self, state: &str) {
        for s in DETECTION_STATES {
            self.detection
                .with_label_values(&[s])
                .set(i64::from(s == state));
        }
        self.master_up
            .set(i64::from(matches!(state, "alive" | "paused")));
    }

    pub fn ping(&self, took: Duration, consecutive_failures: u32) {
        self.ping.observe(took.as_secs_f64());
        self.failures.set(i64::from(consecutive_failures));
    }

    /// The replicas as last read: replaces every replica's samples.
    pub fn replicas(&self, figures: &[ReplicaFigures]) {
        let g = &self.replica;
        for v in [&g.io, &g.sql] {
            v.reset();
        }
        for v in [&g.lag_seconds, &g.lag_bytes, &g.heartbeat_age] {
            v.reset();
        }
        for f in figures {
            let l = [f.replica.as_str()];
            g.io.with_label_values(&l).set(i64::from(f.io_running));
            g.sql.with_label_values(&l).set(i64::from(f.sql_running));
            let set = |v: &GaugeVec, x: Option<f64>| {
                if let Some(x) = x {
                    v.with_label_values(&l).set(x);
                }
            };
            set(&g.lag_seconds, f.lag_seconds);
            set(&g.lag_bytes, f.lag_bytes.map(|b| b as f64));
            set(&g.heartbeat_age, f.heartbeat_age);
        }
    }

    pub fn readiness(&self, ready: bool, candidates: usize) {
        self.ready.set(i64::from(ready));
        self.candidates
            .set(i64::try_from(candidates).unwrap_or(i64::MAX));
    }

    /// A failover ended with `result`; `phases` are (phase, milliseconds); `started_unix` is
    /// set when it changed something.
    pub fn failover(&self, result: &str, phases: &[(&str, u64)], started_unix: Option<u64>) {
        self.ops.failovers.with_label_values(&[result]).inc();
        observe_phases(&self.ops.failover_phase, phases);
        if let Some(t) = started_unix {
            self.ops.last_failover.set(t as f64);
        }
    }

    pub fn switchover(&self, result: &str, phases: &[(&str, u64)]) {
        self.ops.switchovers.with_label_values(&[result]).inc();
        observe_phases(&self.ops.switchover_phase, phases);
    }
}

fn observe_phases(h: &HistogramVec, phases: &[(&str, u64)]) {
    for (phase, ms) in phases {
        h.with_label_values(&[phase])
            .observe(Duration::from_millis(*ms).as_secs_f64());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The value of the sample `series`, written `name{k="v",...}` with its labels in any
    /// order (the encoder puts the constant `app` label last).
    pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
        let key = |s: &str| {
            let (name, labels) = s.split_once('{').unwrap_or((s, "}"));
            let mut labels: Vec<String> = labels
                .trim_end_matches('}')
                .split(',')
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            labels.sort();
            (name.to_string(), labels)
        };
        let want = key(series);
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (s, v) = l.rsplit_once(' ')?;
            (key(s) == want).then(|| v.parse().ok())?
        })
    }

    #[test]
    fn every_metric_is_exported_with_the_app_label_from_the_start() {
        let text = Metrics::new("app1").render();
        for name in [
            "mha_master_up",
            "mha_ping_duration_seconds",
            "mha_detection_state",
            "mha_ping_failures_consecutive",
            "mha_failover_ready",
            "mha_failover_candidates",
            "mha_failovers_total",
            "mha_switchovers_total",
            "mha_last_failover_timestamp_seconds",
            "mha_build_info",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing:\n{text}"
            );
        }
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("app=\"app1\""), "{line}");
        }
        let version = env!("CARGO_PKG_VERSION");
        let build = format!("mha_build_info{{app=\"app1\",version=\"{version}\"}}");
        assert_eq!(sample(&text, &build), Some(1.0));
        assert_eq!(
            sample(&text, r#"mha_failovers_total{app="app1",result="success"}"#),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, r#"mha_detection_state{app="app1",state="starting"}"#),
            Some(1.0)
        );
    }

    #[test]
    fn one_detection_state_at_a_time_and_master_up_follows_it() {
        let m = Metrics::new("a");
        for state in DETECTION_STATES {
            m.detection_state(state);
            let text = m.render();
            for other in DETECTION_STATES {
                let series = format!("mha_detection_state{{app=\"a\",state=\"{other}\"}}");
                let want = if other == state { 1.0 } else { 0.0 };
                assert_eq!(sample(&text, &series), Some(want), "{state}/{other}");
            }
            let up = matches!(state, "alive" | "paused");
            let want = if up { 1.0 } else { 0.0 };
            assert_eq!(sample(&text, r#"mha_master_up{app="a"}"#), Some(want));
        }
    }

    #[test]
    fn replicas_are_replaced_and_unknown_figures_left_out() {
        let m = Metrics::new("a");
        let r2 = ReplicaFigures {
            replica: "server2".into(),
            io_running: true,
            sql_running: true,
            lag_seconds: Some(3.0),
            lag_bytes: Some(1234),
            heartbeat_age: Some(0.5),
        };
        let r3 = ReplicaFigures {
            replica: "server3".into(),
            ..Default::default()
        };
        m.replicas(&[r2.clone(), r3]);
        let text = m.render();
        let s =
            |name: &str, r: &str| sample(&text, &format!("{name}{{app=\"a\",replica=\"{r}\"}}"));
        assert_eq!(s("mha_replica_io_running", "server2"), Some(1.0));
        assert_eq!(s("mha_replica_sql_running", "server3"), Some(0.0));
        assert_eq!(s("mha_replica_lag_bytes", "server2"), Some(1234.0));
        assert_eq!(s("mha_replica_lag_seconds", "server2"), Some(3.0));
        assert_eq!(s("mha_replica_heartbeat_age_seconds", "server2"), Some(0.5));
        assert_eq!(s("mha_replica_lag_seconds", "server3"), None);
        m.replicas(&[r2]);
        assert!(!m.render().contains("server3"));
    }

    #[test]
    fn failovers_count_by_result_and_time_their_phases() {
        let m = Metrics::new("a");
        m.failover("success", &[("1", 12), ("3.3", 40)], Some(1_700_000_000));
        m.failover("refused", &[("1", 5)], None);
        m.switchover("rolled_back", &[("2", 7)]);
        let text = m.render();
        let s = |series: &str| sample(&text, series);
        assert_eq!(
            s(r#"mha_failovers_total{app="a",result="success"}"#),
            Some(1.0)
        );
        assert_eq!(
            s(r#"mha_failovers_total{app="a",result="refused"}"#),
            Some(1.0)
        );
        assert_eq!(
            s(r#"mha_failover_phase_duration_seconds_count{app="a",phase="1"}"#),
            Some(2.0)
        );
        assert_eq!(
            s(r#"mha_failover_phase_duration_seconds_sum{app="a",phase="3.3"}"#),
            Some(0.04)
        );
        assert_eq!(
            s(r#"mha_switchovers_total{app="a",result="rolled_back"}"#),
            Some(1.0)
        );
        assert_eq!(
            s(r#"mha_switchover_phase_duration_seconds_count{app="a",phase="2"}"#),
            Some(1.0)
        );
        assert_eq!(
            s(r#"mha_last_failover_timestamp_seconds{app="a"}"#),
            Some(1.7e9)
        );
    }

    #[test]
    fn pings_fill_the_histogram_and_the_failure_count() {
        let m = Metrics::new("a");
        m.ping(Duration::from_millis(2), 0);
        m.ping(Duration::from_millis(700), 3);
        let text = m.render();
        let s = |series: &str| sample(&text, series);
        assert_eq!(s(r#"mha_ping_duration_seconds_count{app="a"}"#), Some(2.0));
        assert_eq!(
            s(r#"mha_ping_duration_seconds_bucket{app="a",le="0.0025"}"#),
            Some(1.0)
        );
        assert_eq!(s(r#"mha_ping_failures_consecutive{app="a"}"#), Some(3.0));
    }
}
