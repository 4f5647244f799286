//! Write-block time of `master_switch --master_state=alive` on a real sandbox under a write
//! load: the master is switched back and forth (--orig_master_is_new_slave) several times, in
//! GTID and in file/position mode; figures from the tool's own measurement ("write_block_ms")
//! and from the client's side (longest gap between two acknowledged writes).
//!
//! Run: `cargo bench --bench switchover`. MHA_BENCH_RUNS sets the switches per mode (default 8).

#[allow(dead_code)]
#[path = "common.rs"]
mod common;
use common::stats;

use std::process::Command;
use std::time::{Duration, Instant};

use mha::sandbox::{self, Mode};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("MHA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    println!(
        "mha switchover benchmark: 1 master + 2 replicas, write load, {runs} switches per mode"
    );
    for mode in [Mode::Gtid, Mode::FilePos] {
        let (dir, state) = common::sandbox_up("mha-bench-sw-", mode, 29800).await;
        let admin = state.admin_target(&state.nodes[0]).unwrap();
        let mut s = mha::sql::connect(&admin, Duration::from_secs(5))
            .await
            .unwrap();
        s.exec("b", "CREATE DATABASE b").await.unwrap();
        s.exec(
            "b",
            "CREATE TABLE b.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DOUBLE)",
        )
        .await
        .unwrap();
        s.exec("b", "CREATE USER 'app'@'%' IDENTIFIED BY 'apppw'")
            .await
            .unwrap();
        s.exec("b", "GRANT INSERT ON b.* TO 'app'@'%'")
            .await
            .unwrap();
        s.disconnect().await;
        let mut tool_ms = Vec::new();
        let mut client_ms = Vec::new();
        for run in 0..runs {
            // Switch from the current master (server1 on even runs) to the other one.
            let (from, to) = if run % 2 == 0 { (0, 1) } else { (1, 0) };
            let app = mha::sql::Target {
                host: "127.0.0.1".into(),
                port: state.nodes[from].port,
                user: "app".into(),
                password: mha::secret::Secret::new("apppw"),
                socket: None,
            };
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = stop.clone();
            // The client writes to whichever server is writable: the old master, then the new.
            let targets = [
                app.clone(),
                mha::sql::Target {
                    port: state.nodes[to].port,
                    ..app
                },
            ];
            let writer = tokio::spawn(async move {
                let mut last_ok = Instant::now();
                let mut max_gap = Duration::ZERO;
                let mut i = 0usize;
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = &targets[i % 2];
                    if let Ok(mut s) = mha::sql::connect(t, Duration::from_millis(500)).await {
                        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                            if s.exec("w", "INSERT INTO b.t (at) VALUES (UNIX_TIMESTAMP(NOW(6)))")
                                .await
                                .is_err()
                            {
                                break;
                            }
                            max_gap = max_gap.max(last_ok.elapsed());
                            last_ok = Instant::now();
                        }
                    }
                    i += 1;
                }
                max_gap
            });
            tokio::time::sleep(Duration::from_millis(700)).await;
            let out = Command::new(env!("CARGO_BIN_EXE_mha"))
                .args([
                    "master_switch",
                    "--master_state=alive",
                    "--conf",
                    state.app_config().to_str().unwrap(),
                    "--new_master_host=127.0.0.1",
                    &format!("--new_master_port={}", state.nodes[to].port),
                    "--orig_master_is_new_slave",
                    "--interactive=0",
                    "--output",
                    "json",
                ])
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            tokio::time::sleep(Duration::from_millis(700)).await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let gap = writer.await.unwrap();
            let rec: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
            assert_eq!(rec["outcome"], "success", "{rec}");
            tool_ms.push(rec["write_block_ms"].as_f64().unwrap() / 1000.0);
            client_ms.push(gap.as_secs_f64());
        }
        let (a, b, c) = stats(&tool_ms);
        let (d, e, f) = stats(&client_ms);
        println!("\n{mode:?}:                                  min s  median s   max s");
        println!("  writes blocked (measured by mha)       {a:>6.3}  {b:>8.3}  {c:>6.3}");
        println!(
            "  longest gap between acknowledged writes {d:>5.3}  {e:>8.3}  {f:>6.3}  (includes the client reconnecting to the new master)"
        );
        sandbox::down(dir.path()).unwrap();
    }
}
