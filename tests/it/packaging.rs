//! What ships beside the binary: the Debian package links every MHA program name mha answers
//! to; the Grafana dashboard in samples/ uses only the manager's metric names, and covers what
//! the issue asks it to show.

use serde_json::Value;

/// The metrics the manager's `/metrics` serves (every one labelled with `app`).
const METRICS: &[&str] = &[
    "mha_master_up",
    "mha_ping_duration_seconds",
    "mha_detection_state",
    "mha_ping_failures_consecutive",
    "mha_replica_io_running",
    "mha_replica_sql_running",
    "mha_replica_lag_seconds",
    "mha_replica_lag_bytes",
    "mha_replica_heartbeat_age_seconds",
    "mha_failover_ready",
    "mha_failover_candidates",
    "mha_failovers_total",
    "mha_switchovers_total",
    "mha_failover_phase_duration_seconds",
    "mha_switchover_phase_duration_seconds",
    "mha_last_failover_timestamp_seconds",
    "mha_build_info",
];

const HISTOGRAMS: &[&str] = &[
    "mha_ping_duration_seconds",
    "mha_failover_phase_duration_seconds",
    "mha_switchover_phase_duration_seconds",
];

/// The list above is what the manager serves: every name has a `# TYPE` line in a scrape of a
/// manager that saw a ping, a replica, a readiness answer, a failover and a switchover.
#[test]
fn the_metric_list_is_what_the_manager_serves() {
    use mha::telemetry::metrics::{Metrics, ReplicaFigures};
    let m = Metrics::new("app1");
    m.ping(std::time::Duration::from_millis(2), 0);
    m.replicas(&[ReplicaFigures {
        replica: "server2".into(),
        io_running: true,
        sql_running: true,
        lag_seconds: Some(0.0),
        lag_bytes: Some(0),
        heartbeat_age: Some(1.0),
    }]);
    m.readiness(true, 1);
    m.detection_state("alive");
    m.failover("success", &[("1", 10)], Some(1_700_000_000));
    m.switchover("success", &[("1", 10)]);
    let mut served: Vec<&str> = Vec::new();
    let text = m.render();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            served.push(rest.split_whitespace().next().unwrap());
        }
    }
    served.sort();
    let mut listed = METRICS.to_vec();
    listed.sort();
    assert_eq!(served, listed, "{text}");
}

/// Every `mha_...` word in `text`.
fn metric_words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("mha_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let before = rest[..i].chars().next_back();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            words.push(&tail[..end]);
        }
        rest = &tail[end..];
    }
    words
}

/// The metric a series name belongs to: a histogram's `_bucket`, `_sum` and `_count` are its.
fn metric_of(series: &str) -> Option<&'static str> {
    if let Some(m) = METRICS.iter().find(|m| **m == series) {
        return Some(m);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = series.strip_suffix(suffix)?;
        HISTOGRAMS.iter().find(|h| **h == base).copied()
    })
}

/// Every string of the document (descriptions, queries, legends ...).
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn grafana_dashboard_uses_only_the_managers_metrics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/grafana-mha.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut all = Vec::new();
    strings(&dash, &mut all);
    let mut used: Vec<&str> = Vec::new();
    for s in &all {
        for word in metric_words(s) {
            let metric = metric_of(word)
                .unwrap_or_else(|| panic!("{word} (in {s:?}) is not a metric of the manager"));
            used.push(metric);
        }
    }
    // Each panel with data asks for at least one of them, with the app selector.
    let panels = dash["panels"].as_array().unwrap();
    for p in panels.iter().filter(|p| p["type"] != "row") {
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            assert!(!metric_words(expr).is_empty(), "{}: {expr}", p["title"]);
            assert!(expr.contains("app=~\"$app\""), "{}: {expr}", p["title"]);
        }
    }
    // What the dashboard is for: master up, failover readiness, replica lag, phase timings.
    for m in [
        "mha_master_up",
        "mha_failover_ready",
        "mha_replica_lag_seconds",
        "mha_failover_phase_duration_seconds",
    ] {
        assert!(used.contains(&m), "the dashboard does not show {m}");
    }
    promtool_accepts(&dash);
    assert_eq!(
        metric_words("x mha_a_b{y} (mha_c) amha_d"),
        ["mha_a_b", "mha_c"]
    );
    assert_eq!(metric_of("mha_master_up_sum"), None);
}

/// Every query of the dashboard, with Grafana's variables given values, is valid PromQL:
/// `promtool check rules` (Debian's prometheus package) on one recording rule per query.
fn promtool_accepts(dash: &Value) {
    let mut exprs: Vec<&str> = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            exprs.extend(t["expr"].as_str());
        }
    }
    for a in dash["annotations"]["list"].as_array().unwrap() {
        exprs.extend(a["expr"].as_str());
    }
    let mut rules = String::from("groups:\n  - name: grafana-mha\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "1m")
            .replace("$__range", "6h")
            .replace("$app", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query{i}\n        expr: {}\n",
            serde_json::to_string(&e).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool (apt-get install prometheus) checks the dashboard's queries");
    assert!(
        out.status.success(),
        "{rules}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(exprs.len() >= 15, "{exprs:?}");
}

/// .ci/deb's list of symlinks (`masterha_*`, `purge_relay_logs`) is exactly the names mha takes as argv[0], each with
/// its subcommand.
#[test]
fn the_package_links_every_mha_program_name() {
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/deb")).unwrap();
    let list = script
        .split_once("aliases=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .expect("aliases=\"...\" in .ci/deb")
        .0;
    let mut packaged: Vec<(String, String)> = list
        .split_whitespace()
        .map(|pair| {
            let (name, sub) = pair.split_once(':').unwrap();
            (name.to_string(), sub.to_string())
        })
        .collect();
    let mut accepted: Vec<(String, String)> = mha::cli::MHA_PROGRAMS
        .iter()
        .map(|(name, args)| (name.to_string(), args[0].to_string()))
        .collect();
    packaged.sort();
    accepted.sort();
    assert_eq!(packaged, accepted);
}
