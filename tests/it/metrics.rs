//! The manager's HTTP telemetry on a real cluster: `/metrics` validated by Prometheus' own
//! `promtool check metrics`, `/status` against its documented schema, `/health/ready`; a
//! crash of the master under a write load moves the failover counter and the phase
//! histograms; a replica that goes away makes the manager not ready, and says why; a planned
//! switchover beside it is counted.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, BLOCK_SIZE, Cluster, Daemon, Writer};

const T: Duration = Duration::from_secs(30);

/// A port of the cluster's reserved block that the sandbox does not use (it takes the SQL
/// ports base+1.. and the sshd ports 10 above them).
fn http_port(c: &Cluster) -> u16 {
    c.ports.base + BLOCK_SIZE - 2
}

/// `GET path` on 127.0.0.1:`port`: (status code, content type, body).
fn get(port: u16, path: &str) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let ty = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    Ok((code, ty, body.to_string()))
}

/// Poll `path` until it answers `code` (a 503 turning 200, ...); the last body.
async fn wait_code(port: u16, path: &str, code: u16, m: &Daemon) -> String {
    let start = Instant::now();
    loop {
        let got = get(port, path);
        if let Ok((c, _, body)) = &got
            && *c == code
        {
            return body.clone();
        }
        assert!(
            start.elapsed() < T,
            "{path} did not answer {code}: {got:?}\n{}",
            m.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Scrape `/metrics`, check it with `promtool check metrics`, and return it.
fn scrape(port: u16, dir: &Path) -> String {
    let (code, ty, body) = get(port, "/metrics").unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(ty, "text/plain; version=0.0.4; charset=utf-8");
    let file = dir.join("scrape.prom");
    std::fs::write(&file, &body).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool (Debian package prometheus; .ci/run installs it)");
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{body}"
    );
    body
}

/// The value of `series` (`name{k="v",...}`, labels in any order) in a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    let key = |s: &str| {
        let (name, labels) = s.split_once('{').unwrap_or((s, "}"));
        let mut labels: Vec<&str> = labels
            .trim_end_matches('}')
            .split(',')
            .filter(|l| !l.is_empty())
            .collect();
        labels.sort();
        (name.to_string(), labels.join(","))
    };
    let want = key(series);
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (s, v) = l.rsplit_once(' ')?;
        (key(s) == want).then(|| v.parse().ok())?
    })
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

/// The configuration with `extra` application keys.
fn conf_with(c: &Cluster, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(c.state.app_config()).unwrap();
    let text = text.replacen(
        "ping_interval = 1\n",
        &format!("ping_interval = 1\n{extra}"),
        1,
    );
    let p = c.dir.path().join("app1.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// `/status` against the schema of docs/monitoring.md.
fn check_status_schema(doc: &serde_json::Value, state: &str) {
    assert_eq!(doc["schema"], 1, "{doc:#}");
    assert_eq!(doc["app"], "app1");
    assert!(doc["version"].is_string());
    let cs = &doc["check_status"];
    for key in ["app", "status", "code", "pid", "master", "message"] {
        assert!(cs.get(key).is_some(), "check_status.{key} missing: {doc:#}");
    }
    let d = &doc["detection"];
    assert_eq!(d["state"], state, "{doc:#}");
    assert!(d["monitoring"].is_boolean() && d["consecutive_failures"].is_u64());
    assert!(d["master"].is_string());
    let r = &doc["readiness"];
    assert!(
        r["ready"].is_boolean() && r["candidates"].is_u64(),
        "{doc:#}"
    );
    assert!(r.get("would_promote").is_some() && r.get("refusal").is_some());
    for s in r["ranking"]["servers"].as_array().unwrap() {
        assert!(s["block"].is_string() && s["name"].is_string(), "{s}");
        assert!(
            s["verdict"] == "eligible" || s["verdict"] == "ineligible",
            "{s}"
        );
        assert!(s["reasons"].is_array());
    }
    assert!(doc["checked_unix"].is_u64());
    for o in doc["topology"]["servers"].as_array().unwrap() {
        for key in ["block", "hostname", "ip", "port", "order", "state"] {
            assert!(o.get(key).is_some(), "topology server {key} missing: {o}");
        }
    }
    // No secret in any answer.
    let text = doc.to_string();
    assert!(!text.to_lowercase().contains("password\":\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_status_and_health_follow_a_crash_and_its_failover() {
    let c = Cluster::start(2, Mode::Gtid).await;
    c.create_acked_table().await;
    let conf = conf_with(&c, "");
    let port = http_port(&c);
    let addr = format!("127.0.0.1:{port}");
    let log = c.dir.path().join("manager.log");
    let m = Daemon::manager(&conf, &["--http", &addr], log, T);

    wait_code(port, "/health/ready", 200, &m).await;
    assert_eq!(get(port, "/health/live").unwrap().0, 200);
    let before = scrape(port, c.dir.path());
    let app = |s: &str| s.replace('{', "{app=\"app1\",");
    assert_eq!(value(&before, &app("mha_master_up{}")), 1.0);
    assert_eq!(
        value(&before, &app(r#"mha_detection_state{state="alive"}"#)),
        1.0
    );
    assert_eq!(value(&before, &app("mha_failover_ready{}")), 1.0);
    assert_eq!(value(&before, &app("mha_failover_candidates{}")), 2.0);
    assert_eq!(
        value(&before, &app(r#"mha_failovers_total{result="success"}"#)),
        0.0
    );
    assert_eq!(
        value(&before, &app("mha_last_failover_timestamp_seconds{}")),
        0.0
    );
    assert!(value(&before, &app("mha_ping_duration_seconds_count{}")) >= 1.0);
    for r in ["server2", "server3"] {
        let name = format!("127.0.0.1(127.0.0.1:{})", c.node(r).port);
        let io = format!(r#"mha_replica_io_running{{app="app1",replica="{name}"}}"#);
        assert_eq!(value(&before, &io), 1.0);
        let lag = format!(r#"mha_replica_lag_bytes{{app="app1",replica="{name}"}}"#);
        assert!(value(&before, &lag) >= 0.0);
    }
    let (code, ty, body) = get(port, "/status").unwrap();
    assert_eq!((code, ty.as_str()), (200, "application/json"));
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    check_status_schema(&doc, "alive");
    assert_eq!(doc["readiness"]["ready"], true);
    assert_eq!(doc["check_status"]["status"], "PING_OK");
    print_figures(port, m.pid());

    // kill -9 of the master under a write load: the failover moves the counter and the
    // phase histograms.
    let w = Writer::start(c.state.admin_target(c.node("server1")).unwrap());
    w.wait_acked(50, T).await;
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    m.expect_failovers(1, T).await;
    let acked = w.stop().await;
    let after = scrape(port, c.dir.path());
    assert_eq!(
        value(&after, &app(r#"mha_failovers_total{result="success"}"#)),
        1.0
    );
    for phase in ["1", "2", "3.3", "4", "5"] {
        let count =
            format!(r#"mha_failover_phase_duration_seconds_count{{app="app1",phase="{phase}"}}"#);
        assert_eq!(value(&after, &count), 1.0, "phase {phase}");
    }
    assert!(value(&after, &app("mha_last_failover_timestamp_seconds{}")) > 1.7e9);
    c.assert_has_all("server2", &acked).await;

    // Monitoring the new master with one replica left: ready again, and /status says so.
    wait_code(port, "/health/ready", 200, &m).await;
    let (_, _, body) = get(port, "/status").unwrap();
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    check_status_schema(&doc, "alive");
    assert_eq!(
        doc["check_status"]["last_failover"]["result"], "complete",
        "{doc:#}"
    );
    let master = doc["detection"]["master"].as_str().unwrap();
    assert!(
        master.ends_with(&format!(":{})", c.node("server2").port)),
        "{master}"
    );
}

/// The figures of the closing note: the manager's memory, and what a scrape costs (its
/// latency with a new connection each time, and the manager's CPU time per scrape).
fn print_figures(port: u16, pid: u32) {
    let cpu_ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split(' ').filter_map(|f| f.parse().ok()).collect())
            .unwrap_or_default();
        // utime and stime (fields 14 and 15 of the whole line).
        fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0)
    };
    const N: u32 = 500;
    let (ticks, start) = (cpu_ticks(), Instant::now());
    for _ in 0..N {
        get(port, "/metrics").unwrap();
    }
    let per = start.elapsed() / N;
    // Clock ticks are 10 ms (USER_HZ 100).
    let cpu = Duration::from_millis((cpu_ticks() - ticks) * 10) / N;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!(
        "figures: /metrics scrape {per:?} wall (new connection each, mean of {N}), {cpu:?} of the manager's CPU each; manager {rss}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_going_away_makes_the_manager_not_ready_and_it_says_why() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let port = http_port(&c);
    let conf = conf_with(
        &c,
        &format!("http_listen = \"127.0.0.1:{port}\"\nreplica_check_interval = 1\n"),
    );
    let log = c.dir.path().join("manager.log");
    let m = Daemon::manager(&conf, &[], log, T);
    wait_code(port, "/health/ready", 200, &m).await;

    // Under writes a replica hears from its master all the time: its heartbeat age is known
    // and small (server defaults: heartbeats come only every 30 s when nothing else does).
    c.create_acked_table().await;
    let w = Writer::start(c.state.admin_target(c.node("server1")).unwrap());
    let r2 = format!("127.0.0.1(127.0.0.1:{})", c.node("server2").port);
    let age = format!(r#"mha_replica_heartbeat_age_seconds{{app="app1",replica="{r2}"}}"#);
    let start = Instant::now();
    while sample(&scrape(port, c.dir.path()), &age).is_none_or(|a| a > 2.5) {
        assert!(start.elapsed() < T, "{age} never known:\n{}", m.output());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // kill -9 of a replica, the writes going on.
    sandbox::fault(c.dir.path(), "server3", Fault::Crash)
        .await
        .unwrap();
    let name = format!("127.0.0.1(127.0.0.1:{})", c.node("server3").port);
    let why = wait_code(port, "/health/ready", 503, &m).await;
    assert!(why.contains(&format!("{name} is down")), "{why}");
    let line = "a failover now would be refused because ignore_fail=0 on it";
    assert!(why.contains(line), "{why}");
    m.expect_nth(line, 1, T).await;
    let text = scrape(port, c.dir.path());
    assert_eq!(value(&text, r#"mha_failover_ready{app="app1"}"#), 0.0);
    let io = format!(r#"mha_replica_io_running{{app="app1",replica="{name}"}}"#);
    assert_eq!(value(&text, &io), 0.0);
    // The master itself is fine: up, alive, monitored.
    assert_eq!(value(&text, r#"mha_master_up{app="app1"}"#), 1.0);

    sandbox::fault(c.dir.path(), "server3", Fault::Start)
        .await
        .unwrap();
    wait_code(port, "/health/ready", 200, &m).await;
    m.expect_nth("failover readiness: a failover now would promote", 1, T)
        .await;
    let acked = w.stop().await;
    c.wait_value(
        "server3",
        &format!("SELECT COUNT(*) >= {} FROM mha_it.acked", acked.len()),
        "1",
        T,
    )
    .await;
    // The restarted replica caught up: nothing acknowledged is missing on it.
    c.assert_has_all("server3", &acked).await;
    // Each change once: not repeated at every look.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(m.output().matches(line).count(), 1, "{}", m.output());

    // A planned switchover, run by master_switch beside the manager, is counted with its
    // phases once the manager follows the new master.
    let out = bed::switch_alive_command(&conf, c.node("server2").port)
        .arg("--orig_master_is_new_slave")
        .output()
        .unwrap();
    let (o, e) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let done = r#"mha_switchovers_total{app="app1",result="success"}"#;
    let start = Instant::now();
    let text = loop {
        let text = scrape(port, c.dir.path());
        if sample(&text, done) == Some(1.0) {
            break text;
        }
        assert!(
            start.elapsed() < T,
            "switchover not counted:\n{text}\n{}",
            m.output()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for phase in ["1", "2", "3"] {
        let count =
            format!(r#"mha_switchover_phase_duration_seconds_count{{app="app1",phase="{phase}"}}"#);
        assert_eq!(value(&text, &count), 1.0, "phase {phase}");
    }
    assert_eq!(
        value(&text, r#"mha_failovers_total{app="app1",result="success"}"#),
        0.0
    );
}

#[test]
fn a_bad_http_listen_is_refused_and_a_taken_port_stops_the_manager() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("app1.toml");
    let body = |listen: &str| {
        format!(
            "[server_default]\nhttp_listen = \"{listen}\"\nmanager_workdir = \"{}\"\n\
             [server1]\nhostname = \"127.0.0.1\"\nport = 1\n[server2]\nhostname = \"127.0.0.1\"\nport = 2\n",
            dir.path().display()
        )
    };
    std::fs::write(&conf, body("localhost:9104")).unwrap();
    let c = conf.to_str().unwrap();
    for sub in ["check_config", "manager"] {
        let out = bed::run_mha(&bed::mha_bin(), &[sub, "--conf", c]);
        let (_, stderr) = bed::text(&out);
        assert_eq!(out.status.code(), Some(78), "{sub}: {stderr}");
        let want = format!(
            "{c}:2: [server default] http_listen: expected an IP address and port such as 127.0.0.1:9104, got \"localhost:9104\""
        );
        assert!(stderr.contains(&want), "{sub}: {stderr}");
    }
    // A port already taken: the manager says which and exits 1 before anything else.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    std::fs::write(&conf, body(&addr)).unwrap();
    let out = bed::run_mha(&bed::mha_bin(), &["manager", "--conf", c]);
    let (_, stderr) = bed::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on http_listen {addr}")),
        "{stderr}"
    );
    assert!(!dir.path().join("app1.master_status.health").exists());
}
