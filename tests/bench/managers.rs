//! Several applications per manager and several managers per application: the manager's
//! memory (RSS) watching 1 and 10 sandbox clusters, the other applications' ping freshness
//! while one of the 10 fails over, and the takeover time after `kill -9` of the leader of an
//! application coordinated through a real etcd (min/median/max of 5).
//!
//! Run: `cargo bench --bench managers` (needs mariadb-server, openssh-server and etcd-server;
//! starts 10 clusters of 3 servers; a few minutes). MHA_BENCH_APPS sets the number of clusters
//! (default 10), MHA_BENCH_RUNS the takeovers (default 5).

#[allow(dead_code)]
#[path = "../it/bed.rs"]
mod bed;
#[allow(dead_code)]
#[path = "common.rs"]
mod common;
#[allow(dead_code, unused_imports)]
#[path = "../it/etcd.rs"]
mod etcd;
#[allow(dead_code, unused_imports)]
#[path = "../it/many_apps.rs"]
mod many_apps;

use std::time::{Duration, Instant, SystemTime};

use mha::sandbox::{self, Fault};

use bed::Daemon;
use common::stats;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn age(path: &std::path::Path) -> Duration {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or(Duration::MAX)
}

/// A manager over the first `n` application files of `dir`, once all of them are monitored.
async fn manager_over(
    dir: &std::path::Path,
    clusters: &[bed::Cluster],
    n: usize,
    log: &str,
) -> Daemon {
    let only = tempfile::tempdir().unwrap().keep();
    for i in 1..=n {
        let f = format!("app{i}.toml");
        std::fs::copy(dir.join(&f), only.join(&f)).unwrap();
    }
    // Lines written before this manager (by an earlier one) do not count.
    let seen: Vec<usize> = (0..n)
        .map(|i| {
            let log = many_apps::app_log(&clusters[i], i + 1);
            many_apps::read(&log).matches(many_apps::MONITORING).count()
        })
        .collect();
    let out = clusters[0].dir.path().join(log);
    let started = Instant::now();
    let d = Daemon::start(
        &[
            "manager",
            "--conf-dir",
            only.to_str().unwrap(),
            "--last_failover_minute=0",
        ],
        out,
    );
    for (i, c) in clusters.iter().enumerate().take(n) {
        let log = many_apps::app_log(c, i + 1);
        assert!(
            many_apps::wait_in(
                &log,
                many_apps::MONITORING,
                seen[i] + 1,
                Duration::from_secs(60)
            )
            .await,
            "app{} not monitored:\n{}\n{}",
            i + 1,
            many_apps::read(&log),
            d.output()
        );
    }
    println!(
        "{n} application(s): all monitored {:.1} s after the manager started (start-up checks run at once)",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    d
}

async fn many_apps_figures(n: usize) {
    let (clusters, dir) = many_apps::clusters_and_conf_dir(n).await;
    let one = manager_over(dir.path(), &clusters, 1, "m1.log").await;
    let rss1 = rss_kib(one.pid());
    drop(one);
    let all = manager_over(dir.path(), &clusters, n, "mn.log").await;
    let rss_n = rss_kib(all.pid());
    println!("manager RSS: 1 application {rss1} KiB; {n} applications {rss_n} KiB");

    let c = &clusters[0];
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    let crash = Instant::now();
    let log1 = many_apps::app_log(c, 1);
    let mut worst = Duration::ZERO;
    while !many_apps::read(&log1).contains("monitoring the new master") {
        assert!(crash.elapsed() < Duration::from_secs(60), "no failover");
        for (i, c) in clusters.iter().enumerate().skip(1) {
            let status = c
                .dir
                .path()
                .join("manager")
                .join(format!("app{}.master_status.health", i + 1));
            worst = worst.max(age(&status));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "app1 failed over in {:.3} s; meanwhile the other {} applications' status files were at most {:.3} s old (ping_interval 1 s)",
        crash.elapsed().as_secs_f64(),
        n - 1,
        worst.as_secs_f64()
    );
}

async fn takeover_figures(runs: usize) {
    let server = etcd::EtcdServer::start();
    let c = bed::Cluster::start(2, mha::sandbox::Mode::Gtid).await;
    let conf = etcd::conf(&c, "app1.toml", server.client_port);
    let mut leader = etcd::manager(&c, &conf, "m0");
    leader
        .expect_nth(etcd::MONITORING, 1, Duration::from_secs(30))
        .await;
    let mut took = Vec::new();
    for run in 1..=runs {
        let standby = etcd::manager(&c, &conf, &format!("m{run}"));
        standby
            .expect_nth("Standing by", 1, Duration::from_secs(10))
            .await;
        let _ = leader.child.kill();
        let killed = Instant::now();
        standby
            .expect_nth(etcd::LEADS, 1, Duration::from_secs(etcd::TTL + 10))
            .await;
        took.push(killed.elapsed().as_secs_f64());
        standby
            .expect_nth(etcd::MONITORING, 1, Duration::from_secs(30))
            .await;
        leader = standby;
    }
    let (min, med, max) = stats(&took);
    println!(
        "takeover after kill -9 of the leader (etcd_lease_ttl {} s, {runs} runs): min {min:.3} s, median {med:.3} s, max {max:.3} s",
        etcd::TTL
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    many_apps_figures(env("MHA_BENCH_APPS", 10)).await;
    takeover_figures(env("MHA_BENCH_RUNS", 5)).await;
}
