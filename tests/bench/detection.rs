//! Detection latency of `mha manager` on a real sandbox: time from a fault on the master
//! (kill -9, SIGSTOP) to the manager's "Master is down!" decision, for ping_interval 1 s and
//! 0.3 s (ping_failures 4), several runs each; plus the manager's memory (RSS).
//!
//! Run: `cargo bench --bench detection` (needs mariadb-server and openssh-server; takes a
//! few minutes). Override the number of runs with MHA_BENCH_RUNS.

#[allow(dead_code)]
#[path = "common.rs"]
mod common;
use common::{stats, wait_for};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

fn mha() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mha"))
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn start_manager(conf: &Path, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(mha())
        // Detection only: with failover on, the manager would promote a replica and go on
        // monitoring instead of exiting at the decision.
        .args([
            "manager",
            "--conf",
            conf.to_str().unwrap(),
            "--monitor_only",
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap()
}

async fn replicas_connected(state: &sandbox::State) {
    for n in &state.nodes[1..] {
        let target = state.admin_target(n).unwrap();
        let start = Instant::now();
        loop {
            if let Ok(mut s) = mha::sql::connect(&target, Duration::from_secs(2)).await
                && let Ok(Some(r)) = s.row_map("bench", "SHOW SLAVE STATUS").await
                && r.get("Slave_IO_Running").cloned().flatten().as_deref() == Some("Yes")
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "replica did not reconnect"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("MHA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (dir, state) = common::sandbox_up("mha-bench-", Mode::Gtid, 29500).await;
    let base_conf = std::fs::read_to_string(state.app_config()).unwrap();
    println!(
        "mha detection benchmark: MariaDB {}, 1 master + 2 replicas on loopback, ping_failures=4, {runs} runs each",
        state.server_version
    );
    println!(
        "{:<10} {:<8} {:>9} {:>9} {:>9}",
        "interval", "fault", "min s", "median s", "max s"
    );
    let mut rss = Vec::new();
    for interval in ["1", "0.3"] {
        let conf = dir.path().join("app1.toml");
        std::fs::write(
            &conf,
            base_conf.replace(
                "ping_interval = 1\n",
                &format!("ping_interval = {interval}\n"),
            ),
        )
        .unwrap();
        for fault in [Fault::Crash, Fault::Freeze] {
            let mut times = Vec::new();
            for run in 0..runs {
                let log = dir
                    .path()
                    .join(format!("bench-{interval}-{fault:?}-{run}.log"));
                let mut child = start_manager(&conf, &log);
                wait_for(
                    &log,
                    "waiting until MySQL doesn't respond",
                    Duration::from_secs(30),
                )
                .expect("manager started");
                // Let it settle into its loop, read its memory, and vary where in a ping round
                // the fault lands from run to run.
                let interval: f64 = interval.parse().unwrap();
                let phase = interval * run as f64 / runs as f64;
                tokio::time::sleep(Duration::from_secs_f64(1.5 + phase)).await;
                rss.push((rss_kib(child.id(), "VmRSS:"), rss_kib(child.id(), "VmHWM:")));
                let t0 = Instant::now();
                sandbox::fault(dir.path(), "server1", fault).await.unwrap();
                let t1 = wait_for(&log, "Master is down!", Duration::from_secs(60))
                    .expect("death detected");
                times.push(t1.duration_since(t0).as_secs_f64());
                let _ = child.wait();
                if fault == Fault::Freeze {
                    sandbox::fault(dir.path(), "server1", Fault::Resume)
                        .await
                        .unwrap();
                    sandbox::fault(dir.path(), "server1", Fault::Stop)
                        .await
                        .unwrap();
                }
                sandbox::fault(dir.path(), "server1", Fault::Start)
                    .await
                    .unwrap();
                let state = sandbox::State::load(dir.path()).unwrap();
                replicas_connected(&state).await;
            }
            let (min, med, max) = stats(&times);
            println!(
                "{:<10} {:<8} {min:>9.2} {med:>9.2} {max:>9.2}",
                format!("{interval} s"),
                format!("{fault:?}").to_lowercase()
            );
        }
    }
    let max_rss = rss.iter().map(|r| r.0).max().unwrap_or(0);
    let max_hwm = rss.iter().map(|r| r.1).max().unwrap_or(0);
    println!(
        "manager memory while monitoring: RSS up to {max_rss} KiB, peak (VmHWM) up to {max_hwm} KiB"
    );
    sandbox::down(dir.path()).unwrap();
}
