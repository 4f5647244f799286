//! Failover timing on a real sandbox under a write load, with the replicas at the server's
//! default heartbeat (30 s) and slave_net_timeout (60 s), ping_interval=1 s, ping_failures=4
//! and a master_ip_failover_script that returns at once. Three faults of the master:
//! `kill -9` (crash), SIGSTOP (freeze) and its host's link pulled in a network namespace (cut).
//! For each: fault → `Master is down!`, fault → the new master takes writes, the failover's
//! phase timings, and the acknowledged writes that did not survive.
//!
//! Run: `cargo bench --bench failover` (as root for the cut: network namespaces; needs
//! mariadb-server, mariadb-client, openssh-server and iproute2; about five minutes).
//! MHA_BENCH_RUNS sets the runs per fault (default 5); MHA_BENCH_FAULTS a comma-separated
//! subset of crash,freeze,cut.

#[allow(dead_code)]
#[path = "../it/bed.rs"]
mod bed;
#[allow(dead_code)]
#[path = "common.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mha::sandbox::{self, Fault, Mode};

use bed::{Cluster, Daemon, Network, Writer};
use common::stats;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Crash,
    Freeze,
    Cut,
}

struct RunResult {
    decision: f64,
    writable: f64,
    phases: BTreeMap<String, f64>,
    acked: usize,
    lost: usize,
}

/// Seconds since midnight UTC of a log line's leading RFC 3339 timestamp.
fn log_secs(line: &str) -> Option<f64> {
    let t = line.get(11..)?.split('Z').next()?;
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

fn now_secs_of_day() -> f64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (d.as_secs() % 86_400) as f64 + f64::from(d.subsec_micros()) / 1e6
}

async fn one_run(kind: Kind) -> RunResult {
    let net = (kind == Kind::Cut).then(|| Network::new(3));
    let c = match &net {
        Some(n) => Cluster::start_on(2, Mode::Gtid, n.hosts.clone()).await,
        None => Cluster::start(2, Mode::Gtid).await,
    };
    let conf = c.state.app_config();
    let hook = c.dir.path().join("ip_failover.sh");
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replacen(
            "ping_interval = 1\n",
            &format!(
                "ping_interval = 1\nmaster_ip_failover_script = \"{}\"\n",
                hook.display()
            ),
            1,
        ),
    )
    .unwrap();
    c.create_acked_table().await;
    c.wait_acked_table("server2", Duration::from_secs(10)).await;
    c.wait_acked_table("server3", Duration::from_secs(10)).await;
    let log = c.dir.path().join("manager.log");
    let mut manager = Daemon::manager(&conf, &[], log.clone(), Duration::from_secs(30));

    let w = Writer::start(c.state.admin_target(c.node("server1")).unwrap());
    w.wait_acked(50, Duration::from_secs(30)).await;
    // The fault at a random moment of the ping cycle (the time to the first failed ping
    // varies between 0 and ping_interval).
    let jitter = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        % 1_000_000_000;
    tokio::time::sleep(Duration::from_nanos(u64::from(jitter))).await;
    let t0 = Instant::now();
    let fault_secs = now_secs_of_day();
    match kind {
        Kind::Crash => sandbox::fault(c.dir.path(), "server1", Fault::Crash)
            .await
            .unwrap(),
        Kind::Freeze => sandbox::fault(c.dir.path(), "server1", Fault::Freeze)
            .await
            .unwrap(),
        Kind::Cut => net.as_ref().unwrap().unplug(0),
    }
    let new_master = c.state.admin_target(c.node("server2")).unwrap();
    let writable_at = loop {
        if let Ok(mut s) = mha::sql::connect(&new_master, Duration::from_millis(200)).await
            && let Ok(Some(r)) = s.row_map("ro", "SELECT @@global.read_only AS ro").await
            && r.get("ro").cloned().flatten().as_deref() == Some("0")
        {
            break t0.elapsed().as_secs_f64();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{kind:?}: no failover:\n{}",
            manager.output()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let acked = w.stop().await;
    assert!(
        // "completed successfully", or (a cut host) "done, but data was NOT recovered".
        manager.wait_for("monitoring the new master", Duration::from_secs(30)),
        "{kind:?}: {}",
        manager.output()
    );
    let out = manager.output();
    let decision = out
        .lines()
        .find(|l| l.contains("Master is down!"))
        .and_then(log_secs)
        .map(|s| s - fault_secs)
        .unwrap_or(f64::NAN);
    let record = std::fs::read_dir(c.dir.path().join("manager"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.to_string_lossy();
            n.contains(".failover.1") && n.ends_with(".json")
        })
        .expect("failover record");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    let phases = rec["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                format!(
                    "{} {}",
                    p["phase"].as_str().unwrap(),
                    p["name"].as_str().unwrap()
                ),
                p["ms"].as_f64().unwrap() / 1000.0,
            )
        })
        .collect();
    let rows = c.rows("server2", "SELECT id FROM mha_it.acked").await;
    let have: std::collections::HashSet<u64> = rows
        .iter()
        .filter_map(|r| r.get("id").cloned().flatten())
        .filter_map(|v| v.parse().ok())
        .collect();
    let lost = acked.iter().filter(|id| !have.contains(id)).count();
    let _ = manager.child.kill();
    let _ = manager.child.wait();
    if let Some(n) = &net {
        n.plug(0);
    }
    drop(c);
    drop(net);
    RunResult {
        decision,
        writable: writable_at,
        phases,
        acked: acked.len(),
        lost,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("MHA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let wanted = std::env::var("MHA_BENCH_FAULTS").unwrap_or_else(|_| "crash,freeze,cut".into());
    println!(
        "mha failover benchmark: 1 master + 2 replicas (GTID) under a write load, replicas at the server's default heartbeat and slave_net_timeout, ping_interval=1 s, ping_failures=4, an ip-failover hook that returns at once; {runs} runs per fault"
    );
    for (kind, name) in [
        (Kind::Crash, "crash (kill -9)"),
        (Kind::Freeze, "freeze (SIGSTOP)"),
        (Kind::Cut, "cut (host link down)"),
    ] {
        if !wanted
            .split(',')
            .any(|w| name.starts_with(w.trim()) && !w.trim().is_empty())
        {
            continue;
        }
        if kind == Kind::Cut && !bed::can_use_netns() {
            println!("\n{name}: skipped (network namespaces need root)");
            continue;
        }
        let mut results = Vec::new();
        for _ in 0..runs {
            results.push(one_run(kind).await);
        }
        let col = |f: &dyn Fn(&RunResult) -> f64| stats(&results.iter().map(f).collect::<Vec<_>>());
        let (a, b, c) = col(&|r| r.decision);
        println!("\n{name:<32}   min s  median s   max s");
        println!("  fault → Master is down!       {a:>6.3}  {b:>8.3}  {c:>6.3}");
        let (a, b, c) = col(&|r| r.writable);
        println!("  fault → new master writable   {a:>6.3}  {b:>8.3}  {c:>6.3}");
        let (a, b, c) = col(&|r| r.phases.values().sum::<f64>());
        println!("  failover phases in total      {a:>6.3}  {b:>8.3}  {c:>6.3}");
        let names: Vec<String> = results[0].phases.keys().cloned().collect();
        for n in names {
            let xs: Vec<f64> = results
                .iter()
                .filter_map(|r| r.phases.get(&n).copied())
                .collect();
            let (a, b, c) = stats(&xs);
            println!("    phase {n:<32} {a:>6.3}  {b:>8.3}  {c:>6.3}");
        }
        println!(
            "  acknowledged writes: {} in all, {} lost",
            results.iter().map(|r| r.acked).sum::<usize>(),
            results.iter().map(|r| r.lost).sum::<usize>()
        );
    }
}
