//! Failover timing on a real sandbox under a write load: from `kill -9` of the master to
//! "the new master is writable", split into detection and the failover phases, over several
//! runs, for ping_interval=1 s with MHA's ping_failures=4 and with ping_failures=2.
//!
//! Run: `cargo bench --bench failover` (needs mariadb-server, mariadb-client and
//! openssh-server; about two minutes). MHA_BENCH_RUNS sets the runs per setting (default 5).

#[allow(dead_code)]
#[path = "common.rs"]
mod common;
use common::{stats, wait_for};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

struct RunResult {
    detect: f64,
    writable: f64,
    phases: BTreeMap<String, f64>,
    lost: usize,
}

async fn one_run(failures: u32, base_port: u16) -> RunResult {
    let (dir, state) = common::sandbox_up("mha-bench-fo-", Mode::Gtid, base_port).await;
    let conf = state.app_config();
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replace(
            "ping_interval = 1\n",
            &format!("ping_interval = 1\nping_failures = {failures}\n"),
        ),
    )
    .unwrap();
    let admin = |n: usize| state.admin_target(&state.nodes[n]).unwrap();
    let mut s = mha::sql::connect(&admin(0), Duration::from_secs(5))
        .await
        .unwrap();
    s.exec("bench", "CREATE DATABASE b").await.unwrap();
    s.exec("bench", "CREATE TABLE b.t (id BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    s.disconnect().await;

    let log: PathBuf = dir.path().join("manager.log");
    let mut manager = Command::new(env!("CARGO_BIN_EXE_mha"))
        .args(["manager", "--conf", conf.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for(
        &log,
        "waiting until MySQL doesn't respond",
        Duration::from_secs(30),
    )
    .expect("manager started");

    // A write load on the master, counting acknowledged commits.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let target = admin(0);
    let writer = tokio::spawn(async move {
        let mut acked = Vec::new();
        let mut n = 0u64;
        let Ok(mut s) = mha::sql::connect(&target, Duration::from_secs(2)).await else {
            return acked;
        };
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            n += 1;
            if s.exec("w", &format!("INSERT INTO b.t VALUES ({n})"))
                .await
                .is_err()
            {
                break;
            }
            acked.push(n);
        }
        acked
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let t0 = Instant::now();
    sandbox::fault(dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = writer.await.unwrap();

    // Poll the candidate (server2) until it takes writes.
    let detect_at = std::sync::Arc::new(std::sync::Mutex::new(None));
    let writable_at = loop {
        if detect_at.lock().unwrap().is_none()
            && std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("Master is down!")
        {
            *detect_at.lock().unwrap() = Some(Instant::now());
        }
        if let Ok(mut s) = mha::sql::connect(&admin(1), Duration::from_millis(200)).await
            && let Ok(Some(r)) = s.row_map("ro", "SELECT @@global.read_only AS ro").await
            && r.get("ro").cloned().flatten().as_deref() == Some("0")
        {
            break Instant::now();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no failover:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    wait_for(&log, "completed successfully", Duration::from_secs(30)).expect("failover completed");
    let detect = detect_at
        .lock()
        .unwrap()
        .unwrap_or(writable_at)
        .duration_since(t0)
        .as_secs_f64();
    let writable = writable_at.duration_since(t0).as_secs_f64();
    let record = std::fs::read_dir(dir.path().join("manager"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains(".failover.1"))
        .expect("record");
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
    let mut s = mha::sql::connect(&admin(1), Duration::from_secs(5))
        .await
        .unwrap();
    let rows = s.rows("count", "SELECT id FROM b.t").await.unwrap();
    let have: std::collections::HashSet<u64> = rows
        .into_iter()
        .filter_map(|r| mha::sql::row_to_map(r).get("id").cloned().flatten())
        .filter_map(|v| v.parse().ok())
        .collect();
    let lost = acked.iter().filter(|id| !have.contains(id)).count();
    let _ = manager.kill();
    let _ = manager.wait();
    sandbox::down(dir.path()).unwrap();
    RunResult {
        detect,
        writable,
        phases,
        lost,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("MHA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    println!(
        "mha failover benchmark: kill -9 of the master under a write load, 1 master + 2 replicas (GTID), ping_interval=1 s, {runs} runs each"
    );
    for failures in [4u32, 2] {
        let mut results = Vec::new();
        for run in 0..runs {
            results.push(one_run(failures, 29700 + (run as u16 % 2) * 40).await);
        }
        let (dmin, dmed, dmax) = stats(&results.iter().map(|r| r.detect).collect::<Vec<_>>());
        let (wmin, wmed, wmax) = stats(&results.iter().map(|r| r.writable).collect::<Vec<_>>());
        let (fmin, fmed, fmax) = stats(
            &results
                .iter()
                .map(|r| r.writable - r.detect)
                .collect::<Vec<_>>(),
        );
        println!("\nping_failures={failures}:            min s  median s   max s");
        println!("  crash → Master is down!     {dmin:>6.2}  {dmed:>8.2}  {dmax:>6.2}");
        println!("  Master is down! → writable  {fmin:>6.2}  {fmed:>8.2}  {fmax:>6.2}");
        println!("  crash → new master writable {wmin:>6.2}  {wmed:>8.2}  {wmax:>6.2}");
        let names: Vec<String> = results[0].phases.keys().cloned().collect();
        for name in names {
            let xs: Vec<f64> = results
                .iter()
                .filter_map(|r| r.phases.get(&name).copied())
                .collect();
            let (a, b, c) = stats(&xs);
            println!("    phase {name:<32} {a:>6.3}  {b:>8.3}  {c:>6.3}");
        }
        println!(
            "  acknowledged commits lost: {}",
            results.iter().map(|r| r.lost).sum::<usize>()
        );
    }
}
